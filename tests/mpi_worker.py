"""Runs under mpiexec for tests/test_distributed.py:

    mpiexec -n N python tests/mpi_worker.py SCENARIO OUT_DIR

Each rank writes what it ends with to OUT_DIR/<scenario>_<rank>.npz; the test compares that
with a one-process Solver run built by the same functions (imported from here).
"""
import json
import os
import sys

import numpy as np

from vjpnet.data import load_digits
from vjpnet.models import FullyConnectedNet, ThreeLayerConvNet, TwoLayerNet

SETTINGS = dict(update_rule="adam", optim_config={"learning_rate": 1e-2}, lr_decay=0.9,
                num_train_samples=200, num_val_samples=None, seed=7, verbose=False)


def digits(flatten=True):
    return load_digits(flatten=flatten, dtype=np.float64)


def two_layer_net():
    np.random.seed(0)
    return TwoLayerNet(input_dim=64, hidden_dim=50, num_classes=10, weight_scale=0.1,
                       reg=0.05)


def batchnorm_net():
    np.random.seed(1)
    return FullyConnectedNet([32], input_dim=64, num_classes=10, use_batchnorm=True,
                             weight_scale=0.1, reg=0.01, dtype=np.float64)


def conv_net():
    np.random.seed(2)
    return ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=4, filter_size=3, hidden_dim=20,
                             num_classes=10, weight_scale=0.1, reg=0.01, dtype=np.float64)


# scenario -> (model factory, flatten the digits, Solver keyword arguments)
RUNS = {
    "even": (two_layer_net, True, dict(batch_size=50, num_epochs=3)),
    "uneven": (two_layer_net, True, dict(batch_size=25, num_epochs=2)),
    "conv": (conv_net, False, dict(batch_size=40, num_epochs=1)),
    "bn": (batchnorm_net, True, dict(batch_size=50, num_epochs=1)),
    "checkpoint": (two_layer_net, True, dict(batch_size=50, num_epochs=2)),
    "resume": (two_layer_net, True, dict(batch_size=50, num_epochs=4)),
}


def make_solver(solver_class, scenario, **overrides):
    factory, flatten, kwargs = RUNS[scenario]
    return solver_class(factory(), digits(flatten), **dict(SETTINGS, **dict(kwargs, **overrides)))


def result(solver):
    """What a run ends with, as arrays."""
    arrays = {f"param/{name}": value for name, value in solver.model.params.items()}
    for index, bn in enumerate(getattr(solver.model, "bn_params", [])):
        for key in ("running_mean", "running_var"):
            if key in bn:
                arrays[f"bn/{index}/{key}"] = bn[key]
    arrays["loss_history"] = np.array(solver.loss_history)
    arrays["train_acc_history"] = np.array(solver.train_acc_history)
    arrays["val_acc_history"] = np.array(solver.val_acc_history)
    arrays["val_acc"] = np.array(solver.check_accuracy(solver.X_val, solver.y_val))
    return arrays


class RaisesOnRank1(TwoLayerNet):
    """Raises in its third training loss on rank 1 only."""

    def __init__(self, rank, **kwargs):
        super().__init__(**kwargs)
        self.rank, self.calls = rank, 0

    def loss(self, X, y=None):
        if y is not None:
            self.calls += 1
            if self.rank == 1 and self.calls == 3:
                raise ValueError("boom on rank 1")
        return super().loss(X, y)


def blas_threads():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return -1
    return min(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas")


def main():
    scenario, out = sys.argv[1], sys.argv[2]
    from mpi4py import MPI

    from vjpnet.distributed import DistributedSolver
    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()

    def save(name, arrays):
        np.savez(os.path.join(out, f"{name}_{rank}.npz"), **arrays)

    if scenario == "main":
        info = {"size": comm.Get_size()}
        for name in ("even", "uneven", "conv"):
            solver = make_solver(DistributedSolver, name)
            solver.train()
            info["threads"], info["blas_threads"] = solver.threads, blas_threads()
            info[f"{name}_allreduce_calls"] = solver.allreduce_calls
            save(name, result(solver))
        # batchnorm: the running statistics after one step, then after a whole epoch
        solver = make_solver(DistributedSolver, "bn", num_epochs=0)
        save("bn_initial", result(solver))
        solver._step()
        save("bn_step", result(solver))
        solver = make_solver(DistributedSolver, "bn")
        solver.train()
        info["bn_replicas"] = solver.check_replicas()
        save("bn", result(solver))
        # checkpoints: one written here by rank 0, one written by a one-process Solver resumed
        make_solver(DistributedSolver, "checkpoint",
                    checkpoint_name=os.path.join(out, "by_2_ranks")).train()
        solver = make_solver(DistributedSolver, "resume",
                             resume_from=os.path.join(out, "by_1_process.npz"))
        solver.train()
        save("resumed_from_1_process", result(solver))
        info["files"] = sorted(os.listdir(out))
        if rank == 0:
            with open(os.path.join(out, "info.json"), "w") as stream:
                json.dump(info, stream)
    elif scenario == "resume":
        solver = make_solver(DistributedSolver, "resume",
                             resume_from=os.path.join(out, "by_2_ranks.npz"))
        solver.train()
        save(f"resumed_on_{comm.Get_size()}", result(solver))
    elif scenario == "raise":
        solver = DistributedSolver(RaisesOnRank1(rank, input_dim=64, num_classes=10),
                                   digits(), **SETTINGS, batch_size=50)
        solver.train()
    elif scenario == "uncaught":
        solver = make_solver(DistributedSolver, "even")
        if rank == 1:
            raise RuntimeError("outside the solver on rank 1")
        solver.check_replicas()           # rank 0 waits here for rank 1, which never comes
    elif scenario == "nan":
        solver = make_solver(DistributedSolver, "even",
                             optim_config={"learning_rate": float("inf")})
        solver.train()
    print(f"rank {rank}: {scenario} done", flush=True)


if __name__ == "__main__":
    main()
