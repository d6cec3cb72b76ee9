"""Side-by-side timings of vjpnet_fast's conv and max-pool (forward + backward).

    python benchmarks/bench_layers.py [--repeats 30] [--no-naive]

For each case prints the median wall time of one forward+backward call of: vjpnet_fast, the
naive layers (vjpnet.layers), the machine's floor (conv: the three GEMMs a conv needs at that
size, into preallocated outputs; pool: an np.copy of the input) and PyTorch on the CPU when it
is installed; the ratio of each to vjpnet_fast and to the floor; and the minor page faults per
call (resource.getrusage), which show whether a kernel keeps allocating fresh memory.
All implementations of one case are timed in an interleaved loop, so load from other processes
on the machine hits them alike. Needs the built extension (python setup.py build_ext --inplace).
"""
import argparse
import os
import resource
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))

import vjpnet_fast                                     # noqa: E402
from vjpnet import layers                               # noqa: E402

try:
    import torch
except ImportError:                                     # PyTorch is optional
    torch = None


def minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def measure(functions, repeats, slow=(), block=3):
    """Median seconds and minor page faults per call of each function.

    Round robin over the implementations, `block` timed calls each after one untimed call:
    every implementation sees the same background load, and each one's thread pools (OpenBLAS,
    PyTorch's OpenMP) are awake and the others' have gone quiet when its timed calls run.
    Functions named in `slow` get only a few calls."""
    for function in functions.values():
        function()                                      # warm-up: workspaces, BLAS threads
    times = {name: [] for name in functions}
    faults = {name: [] for name in functions}
    rounds = max(1, -(-repeats // block))
    for round_index in range(rounds):
        for name, function in functions.items():
            if name in slow and len(times[name]) >= 3:
                continue
            function()
            for _ in range(1 if name in slow else block):
                faults_before = minor_faults()
                start = time.perf_counter()
                function()
                times[name].append(time.perf_counter() - start)
                faults[name].append(minor_faults() - faults_before)
    return {name: (float(np.median(times[name])), float(np.median(faults[name])))
            for name in functions}


def conv_case(N, C, H, W, F, HH, WW, stride, pad, dtype, naive):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, HH, WW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    conv_param = {"stride": stride, "pad": pad}
    H_out, W_out = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    dout = rng.standard_normal((N, F, H_out, W_out)).astype(dtype)
    K, M = C * HH * WW, N * H_out * W_out

    def fast():
        out, cache = vjpnet_fast.conv_forward_fast(x, w, b, conv_param)
        return vjpnet_fast.conv_backward_fast(dout, cache)

    def naive_layers():
        out, cache = layers.conv_forward_naive(x, w, b, conv_param)
        return layers.conv_backward_naive(dout, cache)

    weights, columns = w.reshape(F, K), rng.standard_normal((K, M)).astype(dtype)
    grads = rng.standard_normal((F, M)).astype(dtype)
    weights_t = np.ascontiguousarray(weights.T)
    out_fwd = np.empty((F, M), dtype)
    out_dw, out_dcol = np.empty((K, F), dtype), np.empty((K, M), dtype)

    def gemm_floor():               # forward, dw and dx GEMMs on the whole batch, best orientation
        np.matmul(weights, columns, out=out_fwd)          # (F, K) @ (K, M)
        np.matmul(columns, grads.T, out=out_dw)           # (K, M) @ (M, F): dw transposed
        np.matmul(weights_t, grads, out=out_dcol)         # (K, F) @ (F, M)

    functions = {"vjpnet_fast": fast, "floor: 3 GEMMs": gemm_floor}
    if naive:
        functions["naive layers"] = naive_layers
    if torch is not None:
        tx, tw, tb = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
        tdout = torch.from_numpy(dout)

        def pytorch():
            out = torch.nn.functional.conv2d(tx, tw, tb, stride=stride, padding=pad)
            return torch.autograd.grad(out, (tx, tw, tb), tdout)
        functions["PyTorch"] = pytorch
    label = (f"conv x{(N, C, H, W)} w{(F, C, HH, WW)} s{stride} p{pad} "
             f"{np.dtype(dtype).name}")
    return label, functions


def pool_case(N, C, H, W, size, stride, dtype, naive):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    pool_param = {"pool_height": size, "pool_width": size, "stride": stride}
    H_out, W_out = (H - size) // stride + 1, (W - size) // stride + 1
    dout = rng.standard_normal((N, C, H_out, W_out)).astype(dtype)

    def fast():
        out, cache = vjpnet_fast.max_pool_forward_fast(x, pool_param)
        return vjpnet_fast.max_pool_backward_fast(dout, cache)

    def naive_layers():
        out, cache = layers.max_pool_forward_naive(x, pool_param)
        return layers.max_pool_backward_naive(dout, cache)

    functions = {"vjpnet_fast": fast, "floor: np.copy(x)": lambda: np.copy(x)}
    if naive:
        functions["naive layers"] = naive_layers
    if torch is not None:
        tx = torch.from_numpy(x).requires_grad_()
        tdout = torch.from_numpy(dout)

        def pytorch():
            out = torch.nn.functional.max_pool2d(tx, size, stride)
            return torch.autograd.grad(out, tx, tdout)
        functions["PyTorch"] = pytorch
    return f"max pool {size}x{size} s{stride} x{(N, C, H, W)} {np.dtype(dtype).name}", functions


def describe_machine():
    lines = [f"numpy {np.__version__}, vjpnet_fast build {vjpnet_fast.build_info()}, "
             f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"]
    try:
        import threadpoolctl
        for pool in threadpoolctl.threadpool_info():
            lines.append(f"  {pool['user_api']}: {pool.get('internal_api')} "
                         f"{pool.get('architecture', '')} threads={pool['num_threads']} "
                         f"({os.path.basename(pool['filepath'])})")
    except ImportError:
        lines.append("  (install threadpoolctl to see the BLAS kernel in use)")
    if torch is not None:
        lines.append(f"  PyTorch {torch.__version__}, {torch.get_num_threads()} threads")
    else:
        lines.append("  PyTorch not installed: no PyTorch column")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--no-naive", action="store_true", help="skip the (slow) naive layers")
    args = parser.parse_args(argv)
    naive = not args.no_naive
    cases = [
        conv_case(100, 3, 31, 31, 25, 3, 3, 2, 1, np.float64, naive),
        conv_case(64, 32, 32, 32, 32, 3, 3, 1, 1, np.float64, naive),
        conv_case(64, 32, 32, 32, 32, 3, 3, 1, 1, np.float32, naive),
        pool_case(100, 3, 32, 32, 2, 2, np.float64, naive),
        pool_case(64, 32, 32, 32, 2, 2, np.float64, naive),
        pool_case(64, 32, 32, 32, 2, 2, np.float32, naive),
    ]
    print(describe_machine())
    print(f"median of {args.repeats} forward+backward calls per implementation, "
          "measured round robin "
          f"in blocks of 3 (naive layers: 3 calls); faults = minor page faults per call\n")
    header = (f"{'case':<52} {'implementation':<18} {'ms':>9} {'/fast':>7} {'/floor':>7} "
              f"{'faults':>7}")
    print(header)
    print("-" * len(header))
    for label, functions in cases:
        results = measure(functions, args.repeats, slow=("naive layers",))
        fast_time = results["vjpnet_fast"][0]
        floor_name = next(name for name in results if name.startswith("floor"))
        floor_time = results[floor_name][0]
        for name, (seconds, faults) in results.items():
            print(f"{label:<52} {name:<18} {seconds * 1e3:9.3f} {seconds / fast_time:7.2f} "
                  f"{seconds / floor_time:7.2f} {faults:7.0f}")
            label = ""
        print()


if __name__ == "__main__":
    main()
