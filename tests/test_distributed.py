"""Data-parallel training on MPI (vjpnet.distributed), on 2 and 3 ranks launched with mpiexec.

The MPI runs happen in tests/mpi_worker.py under `mpiexec` with a timeout; their results are
compared here with one-process Solver runs of the same models on the same global minibatches.
"""
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest

from vjpnet.distributed import shard_bounds
from vjpnet.solver import Solver

import mpi_worker

ROOT = pathlib.Path(__file__).resolve().parent.parent
WORKER = pathlib.Path(mpi_worker.__file__)
TIMEOUT = 180


def find_mpiexec():
    """The mpiexec next to this Python (the MPICH wheel of the `mpi` extra puts it there), else
    VJPNET_MPIEXEC, else the one on PATH."""
    candidates = [os.environ.get("VJPNET_MPIEXEC"),
                  str(pathlib.Path(sys.executable).parent / "mpiexec"), shutil.which("mpiexec")]
    return next((path for path in candidates if path and os.access(path, os.X_OK)), None)


def mpi_available():
    try:
        import mpi4py  # noqa: F401  (not mpi4py.MPI: that would start MPI in this process)
    except ImportError:
        return "mpi4py is not installed (pip install \".[mpi]\")"
    if find_mpiexec() is None:
        return "no mpiexec next to this Python or on PATH (pip install mpich, or set " \
               "VJPNET_MPIEXEC)"
    return None


needs_mpi = pytest.mark.skipif(mpi_available() is not None, reason=str(mpi_available()))


def launch(ranks, *args, script=WORKER, timeout=TIMEOUT, cwd=None):
    """Run `python script args` on `ranks` MPI ranks; returns the CompletedProcess. Kills the
    whole job (its process group) if it outlives `timeout` and fails the test."""
    env = dict(os.environ,
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), str(ROOT / "tests"),
                                                        os.environ.get("PYTHONPATH")])),
               # Open MPI refuses root and more ranks than cores unless told (MPICH does not ask)
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1",
               PRTE_MCA_rmaps_default_mapping_policy=":oversubscribe")
    command = [find_mpiexec(), "-n", str(ranks), sys.executable, str(script), *map(str, args)]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        pytest.fail(f"{' '.join(command)} hung for {timeout} s:\n{stdout[-2000:]}\n"
                    f"{stderr[-3000:]}")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def one_process(scenario, **overrides):
    solver = mpi_worker.make_solver(Solver, scenario, **overrides)
    solver.train()
    return mpi_worker.result(solver)


def load(out, name, rank):
    with np.load(out / f"{name}_{rank}.npz") as archive:
        return {key: archive[key] for key in archive.files}


def assert_same_run(distributed, single, atol=1e-12):
    """Params within atol; the same accuracy histories; losses within atol."""
    for key, value in single.items():
        if key.startswith(("param/", "bn/")) or key == "loss_history":
            np.testing.assert_allclose(distributed[key], value, rtol=0, atol=atol, err_msg=key)
        else:
            np.testing.assert_array_equal(distributed[key], value, err_msg=key)


# ----------------------------------------------------------------------------- without MPI

@pytest.mark.parametrize("num", [0, 1, 5, 50, 51, 99])
@pytest.mark.parametrize("size", [1, 2, 3, 4])
def test_shards_cover_the_batch_in_order(num, size):
    bounds = [shard_bounds(num, rank, size) for rank in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == num
    assert all(stop == start for (_, stop), (start, _) in zip(bounds, bounds[1:]))
    lengths = [stop - start for start, stop in bounds]
    assert max(lengths) - min(lengths) <= 1 and lengths == sorted(lengths, reverse=True)


def test_importing_vjpnet_does_not_import_mpi4py():
    code = ("import sys, vjpnet, vjpnet.solver, vjpnet.models, vjpnet.distributed; "
            "print('mpi4py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert out.strip() == "False"


def test_clear_error_without_mpi4py(monkeypatch):
    from vjpnet.distributed import DistributedSolver
    monkeypatch.setitem(sys.modules, "mpi4py", None)           # import now fails
    with pytest.raises(ImportError, match=r"needs mpi4py.*pip install \"vjpnet\[mpi\]\""):
        DistributedSolver(mpi_worker.two_layer_net(), {})


# ----------------------------------------------------------------------------- on 2 and 3 ranks

@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """One 2-rank job that runs every scenario of mpi_worker's 'main' (one launch keeps the
    suite fast); the checkpoint it resumes is written here first by a one-process Solver."""
    reason = mpi_available()
    if reason:
        pytest.skip(reason)
    out = tmp_path_factory.mktemp("mpi")
    one_process("checkpoint", checkpoint_name=str(out / "by_1_process"))
    result = launch(2, "main", out)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    info = json.loads((out / "info.json").read_text())
    assert info["size"] == 2, (
        f"mpiexec started {info['size']}-rank jobs instead of one 2-rank job: mpi4py uses "
        f"another MPI library than {find_mpiexec()}")
    return out, info


@needs_mpi
@pytest.mark.parametrize("scenario", ["even", "uneven", "conv"])
def test_two_ranks_equal_one_process(two_ranks, scenario):
    """Same global minibatches: params agree to 1e-12 (the whole-batch gradient is summed in
    another order: two shard sums, each scaled by its share, instead of one sum), the
    accuracies agree exactly, and both ranks hold bit-identical replicas."""
    out, info = two_ranks
    single = one_process(scenario)
    rank0, rank1 = load(out, scenario, 0), load(out, scenario, 1)
    for key in rank0:
        np.testing.assert_array_equal(rank0[key], rank1[key], err_msg=key)
    assert_same_run(rank0, single)
    factory, _, kwargs = mpi_worker.RUNS[scenario]
    steps = kwargs["num_epochs"] * (1257 // kwargs["batch_size"])
    assert info[f"{scenario}_allreduce_calls"] == steps         # one Allreduce per step


@needs_mpi
def test_same_final_accuracy_on_the_digits(two_ranks):
    out, _ = two_ranks
    single = one_process("even")
    assert float(load(out, "even", 0)["val_acc"]) == float(single["val_acc"]) > 0.85


@needs_mpi
def test_each_rank_limits_its_threads_to_its_share(two_ranks):
    _, info = two_ranks
    expected = max(1, min(len(os.sched_getaffinity(0)), (os.cpu_count() or 1) // 2))
    assert info["threads"] == expected
    if info["blas_threads"] != -1:                         # threadpoolctl installed
        assert info["blas_threads"] == expected


@needs_mpi
def test_batchnorm_running_statistics_are_averaged_over_the_shards(two_ranks):
    """After one step from the broadcast params, the running mean is the whole batch's (times
    1 - momentum), the running variance the mean of the two shards' variances; after an epoch
    both ranks hold identical statistics."""
    out, _ = two_ranks
    initial, step = load(out, "bn_initial", 0), load(out, "bn_step", 1)
    data = mpi_worker.digits()
    batch = np.random.default_rng(mpi_worker.SETTINGS["seed"]).choice(
        data["X_train"].shape[0], 50)
    hidden = data["X_train"][batch] @ initial["param/W1"] + initial["param/b1"]
    np.testing.assert_allclose(step["bn/0/running_mean"], 0.1 * hidden.mean(axis=0),
                               rtol=1e-12, atol=1e-14)
    shard_vars = [hidden[start:stop].var(axis=0) for start, stop in
                  (shard_bounds(50, rank, 2) for rank in range(2))]
    np.testing.assert_allclose(step["bn/0/running_var"], 0.1 * np.mean(shard_vars, axis=0),
                               rtol=1e-12, atol=1e-14)
    assert not np.allclose(step["bn/0/running_var"], 0.1 * hidden.var(axis=0), rtol=1e-9)
    final0, final1 = load(out, "bn", 0), load(out, "bn", 1)
    for key in final0:
        np.testing.assert_array_equal(final0[key], final1[key], err_msg=key)
    _, info = two_ranks
    assert info["bn_replicas"] is True


@needs_mpi
def test_only_rank_0_writes_and_a_one_process_checkpoint_resumes_on_two_ranks(two_ranks):
    out, info = two_ranks
    assert "by_2_ranks.npz" in info["files"]
    assert not [name for name in info["files"] if name.endswith(".tmp")]
    uninterrupted = one_process("resume")
    assert_same_run(load(out, "resumed_from_1_process", 0), uninterrupted)


@needs_mpi
@pytest.mark.slow
def test_a_two_rank_checkpoint_resumes_on_three_ranks_and_in_one_process(two_ranks):
    out, _ = two_ranks
    uninterrupted = one_process("resume")
    resumed_in_one_process = one_process("resume", resume_from=str(out / "by_2_ranks.npz"))
    assert_same_run(resumed_in_one_process, uninterrupted)
    result = launch(3, "resume", out)
    assert result.returncode == 0, result.stderr[-4000:]
    resumed = [load(out, "resumed_on_3", rank) for rank in range(3)]
    for other in resumed[1:]:
        for key in resumed[0]:
            np.testing.assert_array_equal(resumed[0][key], other[key], err_msg=key)
    assert_same_run(resumed[0], uninterrupted)


@needs_mpi
@pytest.mark.parametrize("scenario, expected", [
    ("raise", ["rank 1 of 2 failed in DistributedSolver.train",
               "ValueError: boom on rank 1", "aborting all 2 ranks"]),
    ("uncaught", ["rank 1 of 2 failed in the script (uncaught)",
                  "RuntimeError: outside the solver on rank 1", "aborting all 2 ranks"]),
])
def test_an_error_on_one_rank_ends_the_job(tmp_path, scenario, expected):
    result = launch(2, scenario, tmp_path, timeout=120)
    assert result.returncode != 0
    for text in expected:
        assert text in result.stderr, result.stderr[-4000:]
    assert f"rank 0: {scenario} done" not in result.stdout


@needs_mpi
def test_an_error_every_rank_raises_is_raised_normally(tmp_path):
    result = launch(2, "nan", tmp_path, timeout=120)
    assert result.returncode != 0
    assert result.stderr.count("FloatingPointError: Solver: the loss is nan") == 2
    assert "MPI_Abort" not in result.stderr


@needs_mpi
@pytest.mark.slow
def test_distributed_convnet_example_runs_quick(tmp_path):
    pytest.importorskip("matplotlib")
    result = launch(2, "--quick", "--distributed", "--out", tmp_path,
                    script=ROOT / "examples" / "convnet.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert re.search(r"; 2 ranks, \d+ BLAS thread\(s\) each", result.stdout), result.stdout
    assert result.stdout.count("trained 1 epochs") == 1             # rank 0 prints, alone
    accuracy = float(result.stdout.split("val accuracy:")[1].split()[0])
    assert accuracy > 0.4           # one epoch from an unseeded init; chance is 0.1
    for name in ("convnet_filters.png", "convnet_curves.png"):
        assert (tmp_path / name).exists()
