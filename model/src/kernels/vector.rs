//! Vectorised element-wise math for the CPU kernels: `exp` and `erf` as branch-free polynomial
//! approximations (f32, errors of a few ulp) that the compiler turns into SIMD code, and the
//! loops that run a per-element function over slices — split across threads for large inputs,
//! and compiled three times (baseline x86-64, AVX2+FMA, AVX-512) with the widest the running CPU
//! has chosen at run time. The binary never requires an instruction a user's CPU might lack.
//! The polynomials use plain multiply-adds, never `mul_add`: that is a libm call wherever the
//! code is not compiled for FMA (the row kernels' closures are not).

use rayon::prelude::*;

/// Elements per task when a loop is split across threads (smaller inputs run on one thread).
pub const CHUNK: usize = 1 << 14;

/// `e^x` for f32 (Cephes' polynomial on `x − n·ln 2`, relative error < 2e-7; 0 below −87.3,
/// +∞ above 88.7).
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let underflow = x < -87.3;
    let x = x.clamp(-87.3, 88.7);
    // round(x · log2 e) without a rounding instruction: adding 1.5·2²³ leaves the integer in
    // the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    let n = (x * LOG2E + MAGIC) - MAGIC;
    // Cody–Waite: n · LN2_HI is exact, so the reduction loses nothing.
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e = p * (r * r) + r + 1.0;
    // 2ⁿ from exponent bits, in two halves so that every n in −126..=128 stays representable.
    let n = n as i32;
    let half = n >> 1;
    let scale = |k: i32| f32::from_bits(((k + 127) as u32) << 23);
    if underflow { 0.0 } else { e * scale(half) * scale(n - half) }
}

/// The error function for f32 (a rational approximation on `[−4, 4]`, absolute error < 1e-6;
/// ±1 outside).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let mut p = -2.726_142_3e-10_f32;
    p = p * x2 + 2.770_681_4e-8;
    p = p * x2 + -2.101_024e-6;
    p = p * x2 + -5.692_506_4e-5;
    p = p * x2 + -7.349_906e-4;
    p = p * x2 + -2.954_6e-3;
    p = p * x2 + -1.609_603_3e-2;
    let mut q = -1.456_607_2e-5_f32;
    q = q * x2 + -2.133_740_6e-4;
    q = q * x2 + -1.682_827e-3;
    q = q * x2 + -7.373_329e-3;
    q = q * x2 + -1.426_474e-2;
    x * p / q
}

/// `1 / (1 + e^−x)`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// The body of a function that calls `body(args…)` compiled with the widest vector
/// instructions the CPU has: AVX-512, AVX2+FMA, or the baseline, picked at run time. `body`
/// must be `#[inline(always)]` (so it is compiled into each variant) and not generic.
macro_rules! widest_call {
    ($body:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            unsafe fn avx512($($arg: $ty),*) $(-> $ret)? {
                $body($($arg),*)
            }
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($arg: $ty),*) $(-> $ret)? {
                $body($($arg),*)
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has the features the function was compiled for.
                return unsafe { avx512($($arg),*) };
            }
            if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                // SAFETY: as above.
                return unsafe { avx2($($arg),*) };
            }
        }
        $body($($arg),*)
    }};
}
pub(crate) use widest_call;

/// Runs `body` with the widest vector instructions the CPU has: the same source compiled with
/// AVX-512, with AVX2+FMA, or for the baseline, picked at run time.
macro_rules! widest {
    ($name:ident, ($($arg:ident: $ty:ty),*), $body:block) => {
        #[inline(always)]
        fn $name<F: Fn(f32) -> f32 + Sync>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512<F: Fn(f32) -> f32 + Sync>($($arg: $ty),*) $body
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2<F: Fn(f32) -> f32 + Sync>($($arg: $ty),*) $body
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has the features the function was compiled for.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: as above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body
        }
    };
}

widest!(map_serial, (input: &[f32], output: &mut [f32], f: &F), {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = f(x);
    }
});

widest!(map_in_place_serial, (data: &mut [f32], f: &F), {
    for x in data.iter_mut() {
        *x = f(*x);
    }
});

/// Runs a two-input `body` with the widest vector instructions the CPU has (as [`widest!`]).
#[inline(always)]
fn zip_serial<F: Fn(f32, f32) -> f32 + Sync>(data: &mut [f32], other: &[f32], f: &F) {
    #[inline(always)]
    fn body<F: Fn(f32, f32) -> f32>(data: &mut [f32], other: &[f32], f: &F) {
        for (d, &o) in data.iter_mut().zip(other) {
            *d = f(*d, o);
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx2,fma")]
        unsafe fn avx512<F: Fn(f32, f32) -> f32>(data: &mut [f32], other: &[f32], f: &F) {
            body(data, other, f)
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<F: Fn(f32, f32) -> f32>(data: &mut [f32], other: &[f32], f: &F) {
            body(data, other, f)
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has the features the function was compiled for.
            return unsafe { avx512(data, other, f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { avx2(data, other, f) };
        }
    }
    body(data, other, f)
}

/// `data[i] = f(data[i], other[i])`, on all threads for large inputs.
pub fn zip_in_place(data: &mut [f32], other: &[f32], f: impl Fn(f32, f32) -> f32 + Sync) {
    debug_assert_eq!(data.len(), other.len());
    if data.len() <= CHUNK {
        zip_serial(data, other, &f);
    } else {
        data.par_chunks_mut(CHUNK).zip(other.par_chunks(CHUNK)).for_each(|(d, o)| zip_serial(d, o, &f));
    }
}

/// Lanes of the reductions below: wide enough for AVX-512, written so the compiler keeps each
/// lane in a register.
const LANES: usize = 16;

#[inline(always)]
fn softmax_body(row: &mut [f32]) {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for c in &mut chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l = l.max(v);
        }
    }
    let max = chunks.remainder().iter().chain(&lanes).fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    if max == f32::NEG_INFINITY {
        row.fill(0.0);
        return;
    }
    let mut sums = [0.0f32; LANES];
    let mut chunks = row.chunks_exact_mut(LANES);
    for c in &mut chunks {
        for (s, v) in sums.iter_mut().zip(c) {
            *v = exp(*v - max);
            *s += *v;
        }
    }
    let mut sum: f32 = sums.iter().sum();
    for v in chunks.into_remainder() {
        *v = exp(*v - max);
        sum += *v;
    }
    let inv = 1.0 / sum;
    for v in row.iter_mut() {
        *v *= inv;
    }
}

/// Softmax of one row in place (entries of −∞ get 0; a row of only −∞ becomes all 0).
pub fn softmax_row(row: &mut [f32]) {
    widest_call!(softmax_body(row: &mut [f32]))
}

#[inline(always)]
fn sum_of_squares_body(x: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += v * v;
        }
    }
    chunks.remainder().iter().map(|v| v * v).sum::<f32>() + lanes.iter().sum::<f32>()
}

/// `Σ x²` over a slice (one thread).
pub fn sum_of_squares(x: &[f32]) -> f32 {
    widest_call!(sum_of_squares_body(x: &[f32]) -> f32)
}

/// `output[i] = f(input[i])`, on all threads for large inputs.
pub fn map(input: &[f32], output: &mut [f32], f: impl Fn(f32) -> f32 + Sync) {
    debug_assert_eq!(input.len(), output.len());
    if input.len() <= CHUNK {
        map_serial(input, output, &f);
    } else {
        output.par_chunks_mut(CHUNK).zip(input.par_chunks(CHUNK)).for_each(|(o, i)| map_serial(i, o, &f));
    }
}

/// `data[i] = f(data[i])`, on all threads for large inputs.
pub fn map_in_place(data: &mut [f32], f: impl Fn(f32) -> f32 + Sync) {
    if data.len() <= CHUNK {
        map_in_place_serial(data, &f);
    } else {
        data.par_chunks_mut(CHUNK).for_each(|d| map_in_place_serial(d, &f));
    }
}

/// Runs `body` over `rows` rows of `width` values of `output` (and the matching rows of the
/// inputs it captures), on all threads when there is enough work.
pub fn rows(output: &mut [f32], width: usize, body: impl Fn(usize, &mut [f32]) + Sync) {
    let rows_per_task = (CHUNK / width.max(1)).max(1);
    if output.len() <= CHUNK {
        for (r, row) in output.chunks_mut(width).enumerate() {
            body(r, row);
        }
    } else {
        output.par_chunks_mut(rows_per_task * width).enumerate().for_each(|(t, block)| {
            for (i, row) in block.chunks_mut(width).enumerate() {
                body(t * rows_per_task + i, row);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> impl Iterator<Item = f32> {
        (-20_000..=20_000).map(|i| i as f32 * 1e-3)
    }

    #[test]
    fn exp_matches_std() {
        for x in grid().chain((-870..=886).map(|i| i as f32 * 0.1)) {
            let (got, want) = (exp(x), x.exp());
            assert!(((got - want) / want).abs() < 3e-7, "exp({x}) = {got}, want {want}");
        }
        assert_eq!(exp(-100.0), 0.0);
    }

    #[test]
    fn softmax_row_sums_to_one_and_ignores_blocked() {
        let mut row: Vec<f32> = (0..37).map(|i| (i as f32 * 0.7).sin() * 5.0).collect();
        row[3] = f32::NEG_INFINITY;
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let sum: f64 = row.iter().map(|&v| f64::from(v - max).exp()).sum();
        let want: Vec<f64> = row.iter().map(|&v| f64::from(v - max).exp() / sum).collect();
        softmax_row(&mut row);
        assert_eq!(row[3], 0.0);
        let mut blocked = vec![f32::NEG_INFINITY; 5];
        softmax_row(&mut blocked);
        assert_eq!(blocked, vec![0.0; 5]);
        for (got, want) in row.iter().zip(&want) {
            assert!((f64::from(*got) - want).abs() < 1e-6);
        }
    }

    #[test]
    fn erf_matches_f64() {
        for x in grid() {
            let want = libm::erf(f64::from(x));
            assert!((f64::from(erf(x)) - want).abs() < 1e-6, "erf({x}) = {}, want {want}", erf(x));
        }
    }
}
