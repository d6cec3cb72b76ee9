"""Instruction counts of the tape's overhead under valgrind's callgrind (repeatable on a busy
machine, unlike timings): the workloads of bench_overhead.py.

Each workload runs in a fresh process under callgrind twice, with `--calls` more calls the
second time; the difference divided by the extra calls is the count of one call (startup,
imports and warm-up cancel out). The garbage collector is off while the calls run.

    python benchmarks/callgrind_overhead.py [--calls 20] [--only chain-vjpnet,...]

Rows: the 100-op elementwise chain (grad with vjpnet, hand-written NumPy forward + backward)
per op and their ratio; one value_and_grad call for a dict of 4 params (f returns one of them).
VJPNET_PURE_PYTHON=1 in the environment measures the pure-Python engine.
"""
import argparse
import functools
import gc
import os
import pathlib
import re
import shutil
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent

WORKLOADS = {   # name -> (ops per call, description)
    "chain-hand": (100, "100-op chain, hand-written NumPy fwd+bwd"),
    "chain-vjpnet": (100, "100-op chain, vjpnet.grad"),
    "chain-forward": (100, "100-op chain, vjpnet forward only (traced, no sweep)"),
    "fixed-cost": (1, "value_and_grad of a dict of 4 params, no op"),
}


def make_call(name):
    """The function one call of workload `name` runs."""
    sys.path[:0] = [str(HERE.parent), str(HERE)]
    import numpy as np

    import bench_overhead
    import vjpnet
    from vjpnet.tape import open_tape
    x = np.random.default_rng(0).standard_normal(10)
    if name == "chain-hand":
        return lambda: bench_overhead.hand_written(x)
    if name == "chain-vjpnet":
        grad = vjpnet.grad(lambda x: bench_overhead.chain_numpy(np, x))
        return lambda: grad(x)
    if name == "chain-forward":
        def forward():
            with open_tape() as tape:
                bench_overhead.chain_numpy(np, tape.new_input(x))
        return forward
    if name == "fixed-cost":
        params = bench_overhead.four_params()
        value_and_grad = vjpnet.value_and_grad(lambda p: p["scale"])
        return lambda: value_and_grad(params)
    raise ValueError(f"unknown workload {name!r}")


def worker(name, calls):
    call = make_call(name)
    for _ in range(3):
        call()
    gc.collect()
    gc.disable()   # a collection of the whole heap in one run but not the other is no signal
    # the calls run inside functools.reduce (a C function) so that --profile can collect only
    # them (valgrind's --toggle-collect=functools_reduce)
    functools.reduce(lambda _, __: call(), range(calls), None)


def instructions(name, calls):
    """Instructions executed by a worker process running `calls` calls of workload `name`."""
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
               sys.executable, __file__, "--worker", name, str(calls)]
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=_ENV)
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count in callgrind's output:\n{result.stderr}")
    return int(match.group(1))


# the same string hashes (dict layouts) in every worker; no BLAS threads (their spinning
# would be counted)
_ENV = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")


def per_call(name, calls):
    # once without valgrind first: bytecode caches written now are not counted in one run only
    subprocess.run([sys.executable, __file__, "--worker", name, "1"], check=True, env=_ENV)
    return (instructions(name, calls) - instructions(name, 0)) / calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--only", default=",".join(WORKLOADS))
    parser.add_argument("--profile", metavar="WORKLOAD",
                        help="write callgrind.out.WORKLOAD, the profile of the calls only (read "
                             "it with callgrind_annotate or kcachegrind)")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]))
        return
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed")
    if args.profile:
        subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=functools_reduce",
                        f"--callgrind-out-file=callgrind.out.{args.profile}", sys.executable,
                        __file__, "--worker", args.profile, str(args.calls)],
                       check=True, env=_ENV, capture_output=True)
        print(f"wrote callgrind.out.{args.profile}")
        return
    engine = "pure Python" if os.environ.get("VJPNET_PURE_PYTHON") == "1" else "default"
    print(f"instructions per op / per call (callgrind, {args.calls} calls; engine: {engine})")
    counts = {}
    for name in args.only.split(","):
        ops, description = WORKLOADS[name]
        counts[name] = per_call(name, args.calls) / ops
        print(f"{description:58s} {counts[name]:12,.0f}", flush=True)
    if "chain-hand" in counts and "chain-vjpnet" in counts:
        print(f"{'chain: vjpnet / hand-written':58s} "
              f"{counts['chain-vjpnet'] / counts['chain-hand']:11.2f}x")


if __name__ == "__main__":
    main()
