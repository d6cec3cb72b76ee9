"""Per-op overhead of vjpnet's tape, the fixed cost of a call, and the loss zoo.

1. grad of a chain of 100 elementwise ops on a (10,) array: vjpnet, the same chain written by
   hand as NumPy forward + backward, and HIPS autograd / PyTorch when installed.
2. The fixed cost of one value_and_grad call for a dict of 4 parameters: f returns one of them
   (a 0-d array), so no op is recorded; the call traces the dict, sweeps, and returns the
   value and a dict of 4 gradients (3 of them zeros). PyTorch: backward() of the same output
   and the 4 .grad fields (None for the unused ones); HIPS autograd: its value_and_grad.
3. grad of every loss in tests/loss_zoo.py (plain NumPy losses: softmax cross-entropy, MLP,
   attention, GP marginal likelihood, ...) with vjpnet and with HIPS autograd.

Everything is measured side by side in one run: the rows of a table are timed in turns
(interleaved), and the numbers are medians over the turns; the minor page faults per call
(getrusage around each turn's calls) are medians too. The targets (chain <= 1.5x hand-written
per op, fixed cost <= 10 us) are printed at the end with the load average.
benchmarks/callgrind_overhead.py counts instructions for 1 and 2 instead (repeatable on a busy
machine).

    python benchmarks/bench_overhead.py [--repeats 15] [--number 50] [--scale 4] [--skip-zoo]
"""
import argparse
import functools
import os
import pathlib
import resource
import statistics
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]   # this checkout's vjpnet, and the loss zoo

import vjpnet  # noqa: E402
import loss_zoo  # noqa: E402
from vjpnet.tape import open_tape  # noqa: E402
from vjpnet.tree import flatten, unflatten  # noqa: E402

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


def interleaved_medians(functions, repeats, number, faults=None):
    """Median seconds per call of each function, timed in turns (one batch of `number` calls
    of each per turn), so that load on the machine hits every row alike. With a list `faults`,
    appends each function's median minor page faults per call to it."""
    times = [[] for _ in functions]
    fault_samples = [[] for _ in functions]
    for fn in functions:
        fn()   # warm up
    for _ in range(repeats):
        for fn, samples, fault_list in zip(functions, times, fault_samples):
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            for _ in range(number):
                fn()
            samples.append((time.perf_counter() - start) / number)
            fault_list.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
                              / number)
    if faults is not None:
        faults.extend(statistics.median(samples) for samples in fault_samples)
    return [statistics.median(samples) for samples in times]


def four_params(rng=None):
    """The dict of 4 parameters of the fixed-cost row (a tiny two-layer net and a 0-d scale)."""
    rng = rng or np.random.default_rng(0)
    return {"W1": rng.standard_normal((3, 4)), "b1": rng.standard_normal(4),
            "W2": rng.standard_normal((4, 2)), "scale": np.array(0.5)}


def fixed_cost_rows():
    """[(name, fn)] for one value_and_grad call of f(params) = params['scale'] per library."""
    params = four_params()
    value_and_grad = vjpnet.value_and_grad(lambda p: p["scale"])
    rows = [("vjpnet.value_and_grad", lambda: value_and_grad(params))]
    try:
        import autograd
        theirs = autograd.value_and_grad(lambda p: p["scale"])
        rows.append(("HIPS autograd.value_and_grad", lambda: theirs(params)))
    except ImportError:
        pass
    try:
        import torch

        def torch_value_and_grad():
            tensors = {k: torch.from_numpy(v).requires_grad_() for k, v in params.items()}
            out = tensors["scale"]
            out.backward()
            return out.item(), {k: t.grad for k, t in tensors.items()}
        rows.append((f"PyTorch {torch.__version__} backward()", torch_value_and_grad))
    except ImportError:
        pass
    return rows


def count_primitive_calls(loss, params, data):
    """How many primitive calls vjpnet records for one evaluation of loss(params, *data)."""
    with open_tape() as tape:
        leaves, treedef = flatten(params)
        loss(unflatten(treedef, [tape.new_input(leaf) for leaf in leaves]), *data)
        return len(tape.entries) - len(leaves)


def bench_loss_zoo(repeats, number, scale):
    """Time grad of each loss of the zoo with vjpnet and HIPS autograd, in one run."""
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        print("(HIPS autograd not installed: the loss zoo is timed with vjpnet only)")
        autograd = anp = None
    print(f"\ngrad of the loss zoo (tests/loss_zoo.py, batch scale {scale}; median of "
          f"{repeats} x {number} runs)")
    print(f"{'loss':24s} {'ops':>5s} {'vjpnet us':>10s} {'us/op':>7s} {'autograd us':>12s} "
          f"{'autograd/vjpnet':>16s}")
    ratios = []
    for loss in loss_zoo.LOSSES:
        params, data = loss_zoo.make_problem(loss.__name__, np.random.default_rng(0),
                                             scale=scale)
        ours = vjpnet.grad(functools.partial(loss, np))
        ops = count_primitive_calls(functools.partial(loss, np), params, data)
        ours_time = median_time(lambda: ours(params, *data), repeats, number)
        line = f"{loss.__name__:24s} {ops:5d} {ours_time * 1e6:10.1f} " \
               f"{ours_time * 1e6 / ops:7.2f}"
        if autograd is not None:
            theirs = autograd.grad(functools.partial(loss, anp))
            theirs_time = median_time(lambda: theirs(params, *data), repeats, number)
            ratios.append(theirs_time / ours_time)
            line += f" {theirs_time * 1e6:12.1f} {theirs_time / ours_time:15.2f}x"
        print(line)
    if ratios:
        print(f"{'geometric mean':24s} {'':5s} {'':10s} {'':7s} {'':12s} "
              f"{statistics.geometric_mean(ratios):15.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--number", type=int, default=50)
    parser.add_argument("--scale", type=int, default=4, help="loss zoo batch size / 16")
    parser.add_argument("--skip-zoo", action="store_true")
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

    load_at_start = os.getloadavg()[0]
    faults = []
    times = interleaved_medians([fn for _, fn in rows], args.repeats, args.number, faults)
    base = times[0]
    print(f"grad of a chain of {ops} elementwise ops on a (10,) float64 array "
          f"(medians of {args.repeats} interleaved turns x {args.number} runs)")
    print(f"{'':34s} {'us/op (fwd+bwd)':>16s} {'vs hand-written':>16s} {'faults/call':>12s}")
    for (name, _), seconds, faults_per_call in zip(rows, times, faults):
        print(f"{name:34s} {seconds / ops * 1e6:16.2f} {seconds / base:15.2f}x "
              f"{faults_per_call:12.1f}")
    chain_ratio = times[1] / base
    chain_rows = [(name, seconds / base) for (name, _), seconds in zip(rows[2:], times[2:])]

    rows = fixed_cost_rows()
    faults = []
    times = interleaved_medians([fn for _, fn in rows], args.repeats, args.number, faults)
    print("\nfixed cost: one value_and_grad call for a dict of 4 params, f(p) = p['scale'] "
          "(no op recorded)")
    print(f"{'':34s} {'us/call':>16s} {'vs vjpnet':>16s} {'faults/call':>12s}")
    for (name, _), seconds, faults_per_call in zip(rows, times, faults):
        print(f"{name:34s} {seconds * 1e6:16.2f} {seconds / times[0]:15.2f}x "
              f"{faults_per_call:12.1f}")
    others = ", ".join(f"{name} {seconds * 1e6:.1f} us" for (name, _), seconds in
                       zip(rows[1:], times[1:]))
    print(f"\nTargets (load average {load_at_start:.2f} at start, "
          f"{os.getloadavg()[0]:.2f} now):")
    print(f"  elementwise chain: vjpnet {chain_ratio:.2f}x hand-written per op (<= 1.5x: "
          f"{'met' if chain_ratio <= 1.5 else 'NOT met'}); "
          + ", ".join(f"{name} {ratio:.2f}x" for name, ratio in chain_rows))
    print(f"  fixed cost of value_and_grad, dict of 4 params: vjpnet {times[0] * 1e6:.1f} us "
          f"(<= 10 us: {'met' if times[0] <= 10e-6 else 'NOT met'}); {others}")
    if not args.skip_zoo:
        bench_loss_zoo(args.repeats, max(1, args.number // 5), args.scale)


if __name__ == "__main__":
    main()
