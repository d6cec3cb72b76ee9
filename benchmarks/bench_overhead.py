"""Per-op overhead of vjpnet's tape: grad of a chain of 100 elementwise ops on a (10,) array.

Prints, measured side by side in one run (medians over repeats): vjpnet, the same chain written
by hand as NumPy forward + backward, and HIPS autograd / PyTorch when installed.

    python benchmarks/bench_overhead.py
"""
import argparse
import statistics
import time

import numpy as np

import vjpnet

STEPS = 25   # each step is 4 elementwise ops: tanh, multiply, sin, add -> 100 ops


def chain_numpy(np_module, x):
    for _ in range(STEPS):
        x = np_module.tanh(x)
        x = x * 0.9
        x = np_module.sin(x)
        x = x + 0.1
    return np_module.sum(x)


def hand_written(x):
    """Forward keeping what the backward needs, then the backward by hand."""
    saved = []
    for _ in range(STEPS):
        t = np.tanh(x)
        s_in = t * 0.9
        s = np.sin(s_in)
        saved.append((t, s_in))
        x = s + 0.1
    loss = np.sum(x)
    g = np.ones_like(x)
    for t, s_in in reversed(saved):
        g = g * np.cos(s_in)
        g = g * 0.9
        g = g * (1 - t ** 2)
    return loss, g


def median_time(fn, repeats, number):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--number", type=int, default=50)
    args = parser.parse_args()

    x = np.random.default_rng(0).standard_normal(10)
    ops = 4 * STEPS
    vjp_grad = vjpnet.grad(lambda x: chain_numpy(np, x))
    np.testing.assert_allclose(vjp_grad(x), hand_written(x)[1], rtol=1e-12)

    rows = [("hand-written NumPy fwd+bwd", lambda: hand_written(x)),
            ("vjpnet.grad", lambda: vjp_grad(x))]
    try:
        import autograd
        import autograd.numpy as anp
        autograd_grad = autograd.grad(lambda x: chain_numpy(anp, x))
        np.testing.assert_allclose(autograd_grad(x), hand_written(x)[1], rtol=1e-12)
        rows.append(("HIPS autograd.grad", lambda: autograd_grad(x)))
    except ImportError:
        print("(HIPS autograd not installed: pip install autograd)")
    try:
        import torch
        torch.set_num_threads(1)

        def torch_grad():
            xt = torch.from_numpy(x).requires_grad_()
            chain_numpy(torch, xt).backward()
            return xt.grad
        rows.append((f"PyTorch {torch.__version__} backward()", torch_grad))
    except ImportError:
        print("(PyTorch not installed: pip install torch==2.13.0)")

    results = [(name, median_time(fn, args.repeats, args.number)) for name, fn in rows]
    base = results[0][1]
    print(f"grad of a chain of {ops} elementwise ops on a (10,) float64 array "
          f"(median of {args.repeats} x {args.number} runs)")
    print(f"{'':34s} {'us/op (fwd+bwd)':>16s} {'vs hand-written':>16s}")
    for name, seconds in results:
        print(f"{name:34s} {seconds / ops * 1e6:16.2f} {seconds / base:15.2f}x")


if __name__ == "__main__":
    main()
