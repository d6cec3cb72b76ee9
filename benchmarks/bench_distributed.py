"""Data-parallel training speed: steps per second on 1 rank vs 2 MPI ranks.

For TwoLayerNet (3072-100-10, float64, the model's default) and ThreeLayerConvNet (32 7x7
filters, hidden 100, float32, the model's default) on CIFAR-sized synthetic data (random
3x32x32 images and labels: the speed of a step does not depend on the values), batch 100,
Adam, it measures the training steps per second of

- 1 rank, 1 BLAS thread      a Solver in one process, OPENBLAS_NUM_THREADS=1
- 2 ranks, 1 thread each     DistributedSolver under `mpiexec -n 2` (threads='auto': each rank
                             gets its share of the cores, 1 on a 2-core machine)
- 1 rank, 2 BLAS threads     a Solver in one process, OPENBLAS_NUM_THREADS=2
- 2 ranks, 2 threads each    DistributedSolver with threads=None (OpenBLAS's default, one
                             thread per core in each rank: the oversubscription that
                             threads='auto' avoids)

Every configuration is a separate launch; the launches are interleaved round by round (the
order rotates) and the table gives medians over rounds, so load from other processes on a
shared machine hits all of them alike. For the 2-rank runs it also gives the time spent in
the per-step Allreduce (as the solver measures it: the transfer plus waiting for the slower
rank) and the time of the same Allreduce alone, after a barrier (the transfer). For the
1-rank, 1-thread run it breaks a step down: loss and gradients of the whole batch, of half
the batch (what each of 2 ranks computes), and the Adam update of all params (what every rank
repeats).

    python benchmarks/bench_distributed.py [--rounds 5] [--steps 20] [--conv-steps 8]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFIGS = {   # name -> (ranks, OPENBLAS_NUM_THREADS or None, DistributedSolver threads)
    "1 rank, 1 BLAS thread": (1, "1", None),
    "2 ranks, 1 thread each": (2, None, "auto"),
    "1 rank, 2 BLAS threads": (1, "2", None),
    "2 ranks, 2 threads each": (2, None, "none"),
}
MODELS = ("TwoLayerNet", "ThreeLayerConvNet")


# ----------------------------------------------------------------------------- worker

def worker(args):
    sys.path.insert(0, ROOT)
    import numpy as np

    from vjpnet import optim
    from vjpnet.models import ThreeLayerConvNet, TwoLayerNet
    from vjpnet.solver import Solver

    comm = None
    if args.ranks > 1:
        from mpi4py import MPI

        from vjpnet.distributed import DistributedSolver
        comm = MPI.COMM_WORLD
    rng = np.random.default_rng(0)
    data = {"X_train": rng.standard_normal((1000, 3, 32, 32)).astype(np.float32),
            "y_train": rng.integers(0, 10, 1000),
            "X_val": rng.standard_normal((100, 3, 32, 32)).astype(np.float32),
            "y_val": rng.integers(0, 10, 100)}
    report = {}
    for name in MODELS:
        np.random.seed(0)
        if name == "TwoLayerNet":
            model, steps = TwoLayerNet(weight_scale=1e-3, reg=1e-3), args.steps
        else:
            model, steps = ThreeLayerConvNet(weight_scale=1e-3, reg=1e-3), args.conv_steps
        settings = dict(update_rule="adam", batch_size=100, verbose=False, seed=0)
        if comm is None:
            solver = Solver(model, data, **settings)
        else:
            threads = None if args.solver_threads == "none" else args.solver_threads
            solver = DistributedSolver(model, data, threads=threads, **settings)
        for _ in range(2):
            solver._step()
        if comm is not None:
            comm.Barrier()
            reduced_before = solver.allreduce_seconds
        started = time.perf_counter()
        for _ in range(steps):
            solver._step()
        if comm is not None:
            comm.Barrier()
        seconds = time.perf_counter() - started
        result = {"steps_per_second": steps / seconds}
        if comm is not None:
            result["allreduce_ms"] = 1e3 * (solver.allreduce_seconds - reduced_before) / steps
            size = sum(np.size(value) for value in model.params.values()) + 1
            bucket = np.ones(size, solver._bucket_dtype)
            times = []
            for _ in range(10):
                comm.Barrier()
                begin = time.perf_counter()
                comm.Allreduce(MPI.IN_PLACE, bucket, op=MPI.SUM)
                times.append(time.perf_counter() - begin)
            result["allreduce_alone_ms"] = 1e3 * statistics.median(times)
            result["bucket_mb"] = bucket.nbytes / 2 ** 20
            result["threads"] = solver.threads
        elif args.breakdown:
            X, y = data["X_train"][:100], data["y_train"][:100]
            for label, count in (("loss_grad_100_ms", 100), ("loss_grad_50_ms", 50)):
                times = []
                for _ in range(max(3, steps // 2)):
                    begin = time.perf_counter()
                    model.loss(X[:count], y[:count])
                    times.append(time.perf_counter() - begin)
                result[label] = 1e3 * statistics.median(times)
            _, grads = model.loss(X, y)
            configs = {key: dict(solver.optim_configs[key]) for key in model.params}
            times = []
            for _ in range(max(3, steps // 2)):
                begin = time.perf_counter()
                for key, value in model.params.items():
                    optim.adam(value, grads[key], configs[key])
                times.append(time.perf_counter() - begin)
            result["update_ms"] = 1e3 * statistics.median(times)
        report[name] = result
    if comm is None or comm.Get_rank() == 0:
        print("RESULT " + json.dumps(report), flush=True)


# ----------------------------------------------------------------------------- driver

def mpiexec():
    beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    return beside if os.access(beside, os.X_OK) else shutil.which("mpiexec")


def launch(config, args, breakdown):
    ranks, blas_threads, solver_threads = CONFIGS[config]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        env.pop(variable, None)
        if blas_threads is not None:
            env[variable] = blas_threads
    command = [sys.executable, os.path.abspath(__file__), "--worker", "--ranks", str(ranks),
               "--steps", str(args.steps), "--conv-steps", str(args.conv_steps),
               "--solver-threads", str(solver_threads)] + (["--breakdown"] if breakdown else [])
    if ranks > 1:
        command = [mpiexec(), "-n", str(ranks)] + command
    output = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900,
                            stdin=subprocess.DEVNULL)
    lines = [line for line in output.stdout.splitlines() if line.startswith("RESULT ")]
    if output.returncode != 0 or not lines:
        raise SystemExit(f"{' '.join(command)} failed:\n{output.stdout}\n{output.stderr}")
    return json.loads(lines[-1][len("RESULT "):])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20, help="timed TwoLayerNet steps")
    parser.add_argument("--conv-steps", type=int, default=8, help="timed convnet steps")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ranks", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--solver-threads", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--breakdown", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        if args.solver_threads.isdigit():
            args.solver_threads = int(args.solver_threads)
        return worker(args)
    if mpiexec() is None:
        raise SystemExit("no mpiexec found: pip install \".[mpi]\"")

    names = list(CONFIGS)
    results = {name: [] for name in names}
    loads = [os.getloadavg()[0]]
    started = time.perf_counter()
    for round_index in range(args.rounds):
        order = names[round_index % len(names):] + names[:round_index % len(names)]
        for name in order:
            results[name].append(launch(name, args, breakdown=name == names[0]))
        loads.append(os.getloadavg()[0])
        print(f"round {round_index + 1}/{args.rounds} done ({time.perf_counter() - started:.0f}"
              f" s, load average {loads[-1]:.2f})", file=sys.stderr, flush=True)

    def median(name, model, key):
        values = [run[model][key] for run in results[name] if key in run[model]]
        return statistics.median(values) if values else None

    print(f"\nCIFAR-sized synthetic data (3x32x32), batch 100, Adam; medians of {args.rounds} "
          f"interleaved rounds; {os.cpu_count()} cores; 1-minute load average "
          f"{min(loads):.2f}-{max(loads):.2f} during the run\n")
    for model in MODELS:
        base = median(names[0], model, "steps_per_second")
        print(f"{model}:")
        print(f"  {'':28s} {'steps/s':>8s} {'vs 1 rank, 1 thread':>20s} "
              f"{'Allreduce ms/step':>18s} {'(alone)':>8s}")
        for name in names:
            speed = median(name, model, "steps_per_second")
            reduce_ms, alone_ms = (median(name, model, "allreduce_ms"),
                                   median(name, model, "allreduce_alone_ms"))
            reduce_text = f"{reduce_ms:18.2f} {alone_ms:8.2f}" if reduce_ms is not None else ""
            print(f"  {name:28s} {speed:8.2f} {speed / base:19.2f}x {reduce_text}")
        bucket = median(names[1], model, "bucket_mb")
        breakdown = [median(names[0], model, key)
                     for key in ("loss_grad_100_ms", "loss_grad_50_ms", "update_ms")]
        print(f"  one step on 1 rank, 1 thread: {1e3 / base:.1f} ms; loss+grad of 100 samples "
              f"{breakdown[0]:.1f} ms, of 50 samples {breakdown[1]:.1f} ms; Adam update of all "
              f"params {breakdown[2]:.1f} ms; Allreduce bucket {bucket:.2f} MiB\n")


if __name__ == "__main__":
    main()
