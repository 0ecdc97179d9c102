//! One checked entry into the `gemm` crate (the matrix multiply burn-flex itself uses) for
//! strided matrix views inside slices: the convolution kernels multiply shifted windows of
//! padded frames in place, which burn's tensor matmul cannot express without copies.

/// A strided matrix inside a slice: element `(i, j)` is at `offset + i · row_stride + j ·
/// col_stride`.
#[derive(Clone, Copy, Debug)]
pub struct View {
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
    pub row_stride: usize,
    pub col_stride: usize,
}

impl View {
    /// A view of `rows × cols` at `offset` with the given strides.
    pub fn new(offset: usize, [rows, cols]: [usize; 2], [row_stride, col_stride]: [usize; 2]) -> Self {
        View { offset, rows, cols, row_stride, col_stride }
    }

    /// Index of the last element.
    fn last(&self) -> usize {
        self.offset + (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
    }

    /// Whether distinct `(i, j)` are distinct elements (rows that do not overlap one another, or
    /// columns that do not).
    fn distinct(&self) -> bool {
        self.row_stride >= self.col_stride * self.cols || self.col_stride >= self.row_stride * self.rows
    }
}

/// `dst = lhs · rhs`, or `dst += lhs · rhs` when `accumulate`, on `threads` threads (1: the
/// calling thread only; 0: all of rayon's).
///
/// # Shapes
/// - `lhs` `[m, k]`, `rhs` `[k, n]`, `dst` `[m, n]` (views)
///
/// # Panics
/// If the shapes disagree, a view reaches past its slice, or `dst` names one element twice.
#[allow(clippy::too_many_arguments)]
pub fn matmul(dst: &mut [f32], d: View, lhs: &[f32], l: View, rhs: &[f32], r: View, accumulate: bool, threads: usize) {
    assert!(d.rows == l.rows && d.cols == r.cols && l.cols == r.rows, "gemm shapes {d:?} = {l:?} · {r:?}");
    if d.rows == 0 || d.cols == 0 {
        return;
    }
    if l.cols == 0 {
        if !accumulate {
            for i in 0..d.rows {
                for j in 0..d.cols {
                    dst[d.offset + i * d.row_stride + j * d.col_stride] = 0.0;
                }
            }
        }
        return;
    }
    assert!(d.last() < dst.len() && l.last() < lhs.len() && r.last() < rhs.len(), "gemm view out of bounds");
    assert!(d.distinct(), "gemm destination aliases itself: {d:?}");
    let parallelism = if threads == 1 { gemm::Parallelism::None } else { gemm::Parallelism::Rayon(threads) };
    let stride = |s: usize| s as isize;
    // SAFETY: every element the three views address lies inside its slice (checked above), the
    // destination's elements are distinct (checked above) and borrowed mutably, and `gemm`
    // reads and writes nothing else.
    unsafe {
        gemm::gemm(
            d.rows,
            d.cols,
            l.cols,
            dst.as_mut_ptr().add(d.offset),
            stride(d.col_stride),
            stride(d.row_stride),
            accumulate,
            lhs.as_ptr().add(l.offset),
            stride(l.col_stride),
            stride(l.row_stride),
            rhs.as_ptr().add(r.offset),
            stride(r.col_stride),
            stride(r.row_stride),
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}
