"""Reference causal Conv3d in PyTorch (CPU eager), for timing `worldsim bench vae` against
PyTorch on the same machine, in the same run.

One causal 3D convolution as the VAE uses it: the past is padded by repeating the first frame
(kernel_t - 1 frames), height and width are zero-padded symmetrically. Prints ms per forward (no
grad) and per forward + backward of the mean square of the output. A measuring tool, never a
dependency of the project: `pip install torch numpy` first.

    python3 tools/torch_conv3d_ref.py --channels 64 --kernel 3 --frames 17 --height 64 --width 64
"""
import argparse, json, time
import torch, torch.nn as nn, torch.nn.functional as F


class CausalConv3d(nn.Module):
    def __init__(s, c_in, c_out, k):
        super().__init__()
        s.past = k - 1
        s.conv = nn.Conv3d(c_in, c_out, k, padding=(0, k // 2, k // 2))

    def forward(s, x):  # [b, c, t, h, w]
        past = x[:, :, :1].expand(-1, -1, s.past, -1, -1)
        return s.conv(torch.cat([past, x], 2))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--channels", type=int, default=64); p.add_argument("--kernel", type=int, default=3)
    p.add_argument("--frames", type=int, default=17); p.add_argument("--height", type=int, default=64)
    p.add_argument("--width", type=int, default=64); p.add_argument("--reps", type=int, default=6)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(); torch.manual_seed(0)
    conv = CausalConv3d(a.channels, a.channels, a.kernel)
    x = torch.randn(1, a.channels, a.frames, a.height, a.width)
    with torch.no_grad():
        conv(x)
        t0 = time.perf_counter()
        for _ in range(a.reps): conv(x)
        f = (time.perf_counter() - t0) / a.reps
    xg = x.clone().requires_grad_(True)
    conv(xg).square().mean().backward()
    reps_b = max(2, (a.reps + 1) // 2)
    t0 = time.perf_counter()
    for _ in range(reps_b):
        conv(xg).square().mean().backward()
    b = (time.perf_counter() - t0) / reps_b
    flops = 2 * a.channels * a.channels * a.kernel ** 3 * a.frames * a.height * a.width
    if a.json:
        print(json.dumps({"forward_ms": round(f * 1e3, 2), "backward_ms": round(b * 1e3, 2)})); return
    print(f"torch {torch.__version__} threads={torch.get_num_threads()}")
    print(f"forward {f*1e3:.1f} ms ({flops/f/1e9:.0f} GFLOP/s), forward+backward {b*1e3:.1f} ms")


if __name__ == "__main__":
    main()
