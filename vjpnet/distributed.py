"""Data-parallel training on MPI: the Solver on N processes, one launch command.

    # train.py — run as: mpiexec -n 4 python train.py
    from vjpnet.distributed import DistributedSolver
    solver = DistributedSolver(model, data, update_rule="adam", batch_size=100, seed=0)
    solver.train()                  # every rank ends with the same model.params
    if solver.rank == 0:
        print(solver.best_val_acc)

Needs mpi4py and an MPI library (`pip install "vjpnet[mpi]"` brings both: mpi4py and the
MPICH wheel); mpi4py is imported when a DistributedSolver is made, not before. The solver takes
the Solver's keyword arguments plus `comm` (an mpi4py intracommunicator, default
MPI.COMM_WORLD) and `threads` (BLAS threads per rank, see below). What it does:

- Every rank starts from rank 0's params (broadcast), checks that its data equal rank 0's
  (shapes, dtypes and a CRC-32 of every array) and uses rank 0's `seed` (drawn at random on
  rank 0 when None), so every rank draws the same global minibatch.
- Each rank computes the loss and gradients of its contiguous shard of the minibatch (sizes
  differ by at most one sample). All gradients, the loss and the batchnorm running statistics
  go into one flat buffer, scaled by shard size / batch size, and one Allreduce (sum) per step
  forms the whole-batch values: a loss that is a mean over samples plus an L2 term gives the
  exact whole-batch gradient, with the L2 term counted once (the weights add up to one). Every
  rank then applies the same update to the same values, so the replicas stay identical; they
  differ from a one-process run by rounding only (the sum is taken in another order).
- Batchnorm: each rank normalizes its shard with the shard's own statistics (as PyTorch's
  BatchNorm does under DistributedDataParallel without SyncBatchNorm), and the running
  statistics are averaged, weighted by shard size, in the same Allreduce. So they are
  identical on every rank; the running mean equals the one a single process would compute from
  the same forward pass, the running variance is the average of the shards' variances (it
  lacks the small spread between the shards' means).
- Accuracy checks are sharded (each rank predicts a share of the samples, the counts are
  summed) and also compare a CRC-32 of every rank's params and batchnorm statistics: replicas
  that differ stop training with an error (`check_replicas()` runs that check on demand).
- Only rank 0 prints, shows a progress bar and writes checkpoints. A checkpoint is the same file
  a Solver writes; `resume_from`/`load_checkpoint` read it on rank 0 and broadcast it, so a run
  resumes on any number of ranks (and a Solver can resume a DistributedSolver's checkpoint).
- An exception on one rank aborts the whole job (MPI_Abort) after printing the rank, the method
  and the traceback, instead of leaving the other ranks waiting in the next collective
  forever; uncaught exceptions elsewhere in the script do the same once a DistributedSolver
  exists (see abort_on_exception). Errors that every rank raises together (a NaN loss, which is
  the reduced loss; a checkpoint that cannot be read; data that differ between ranks) are raised
  normally on every rank.
- `threads='auto'` limits each rank's BLAS threads (and vjpnet_fast's conv helper threads,
  which follow OpenBLAS's count) to its share of the cores: the cores this process may use
  divided by the ranks on this node. With OpenBLAS's default of one thread per core, N ranks
  on N cores oversubscribe the machine and train slower than one process. `threads=k` sets k,
  `threads=None` leaves the settings alone. Uses threadpoolctl when installed, else the
  OpenBLAS hooks of vjpnet_fast.

Dropout masks come from each rank's np.random (the global generator), so they differ from a
one-process run; give the ranks different global seeds if the masks should be independent.
"""
import functools
import os
import sys
import time
import traceback
import warnings
import zlib

import numpy as np

from vjpnet import solver_state
from vjpnet.solver import Solver

__all__ = ["DistributedSolver", "shard_bounds", "thread_share", "limit_threads",
           "abort_on_exception"]

_EVERY_RANK = "_vjpnet_raised_on_every_rank"


def _import_mpi():
    try:
        from mpi4py import MPI
    except ImportError as error:
        raise ImportError(f"vjpnet.distributed needs mpi4py and an MPI library: "
                          f"pip install \"vjpnet[mpi]\" (mpi4py and the MPICH wheel), or "
                          f"mpi4py alone on a cluster with its own MPI ({error})") from error
    return MPI


def shard_bounds(num, rank, size):
    """(start, stop) of rank `rank`'s contiguous share of `num` items split over `size` ranks;
    the first num % size ranks get one item more."""
    base, extra = divmod(num, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


def thread_share(comm):
    """Threads each rank of `comm` should use: the cores this process may run on, divided by
    the ranks of `comm` on this node (at least 1). Collective: call on every rank."""
    MPI = _import_mpi()
    local = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        ranks_here = local.Get_size()
    finally:
        local.Free()
    try:
        allowed = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = os.cpu_count() or 1
    cores = os.cpu_count() or allowed
    return max(1, min(allowed, cores // ranks_here))


def limit_threads(count):
    """Limit this process's BLAS and OpenMP threads, and vjpnet_fast's pooling threads, to
    `count`. Returns how ('threadpoolctl', 'vjpnet_fast' or None when nothing could be set)."""
    try:      # load vjpnet_fast's OpenMP runtime and BLAS hooks first, so the limit reaches them
        import vjpnet_fast.conv  # noqa: F401
        from vjpnet_fast import blas, threads
    except ImportError:
        blas = threads = None
    how = None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        threadpool_limits(limits=count)
        how = "threadpoolctl"
    elif blas is not None and blas._set_num_threads is not None:
        blas._set_num_threads(count)
        how = "vjpnet_fast"
    if threads is not None:
        threads.set_num_threads(min(threads.get_num_threads(), count))
    if how is None:
        warnings.warn("vjpnet.distributed: could not limit the BLAS threads of this rank "
                      "(install threadpoolctl); ranks may oversubscribe the cores",
                      RuntimeWarning, stacklevel=2)
    return how


def _report_and_abort(comm, error, where):
    rank, size = comm.Get_rank(), comm.Get_size()
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    sys.stderr.write(f"vjpnet.distributed: rank {rank} of {size} failed in {where}:\n"
                     f"{''.join(lines)}"
                     f"vjpnet.distributed: rank {rank} raised {type(error).__name__}: {error}; "
                     f"aborting all {size} ranks (MPI_Abort)\n")
    sys.stderr.flush()
    sys.stdout.flush()
    # mpiexec forwards output through a proxy; on a busy machine an immediate Abort can kill
    # the job before the message above has left it
    time.sleep(ABORT_GRACE_SECONDS)
    comm.Abort(1)


ABORT_GRACE_SECONDS = 0.5


def abort_on_exception(comm=None):
    """Make an uncaught exception on any rank abort the whole MPI job (after printing the rank
    and the traceback) instead of leaving the other ranks waiting; no effect on 1 rank.
    A DistributedSolver installs this for its communicator."""
    if comm is None:
        comm = _import_mpi().COMM_WORLD
    if comm.Get_size() == 1 or getattr(sys.excepthook, "_vjpnet_abort", False):
        return
    previous = sys.excepthook

    def hook(kind, value, tb):
        if value is not None and not getattr(value, _EVERY_RANK, False):
            _report_and_abort(comm, value.with_traceback(tb), "the script (uncaught)")
        previous(kind, value, tb)

    hook._vjpnet_abort = True
    sys.excepthook = hook


def _every_rank(error):
    """Mark `error` as raised by every rank at the same point (raise it, do not abort). Only
    for errors decided from values every rank holds alike after a collective."""
    setattr(error, _EVERY_RANK, True)
    return error


def _collective(method):
    """Abort the job when `method` raises on one rank of several (see the module docstring)."""
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except BaseException as error:
            comm = getattr(self, "comm", None)
            if comm is not None and comm.Get_size() > 1 and not getattr(error, _EVERY_RANK,
                                                                         False):
                _report_and_abort(comm, error, f"DistributedSolver.{method.__name__}")
            raise
    return guarded


def _crc32(arrays, value=0):
    for array in arrays:
        value = zlib.crc32(memoryview(np.ascontiguousarray(array)).cast("B"), value)
    return value


class DistributedSolver(Solver):
    """A Solver whose every step is shared by the ranks of an MPI communicator.

    Takes the Solver's arguments (see vjpnet.solver.Solver) plus
    - comm: an mpi4py intracommunicator (default MPI.COMM_WORLD);
    - threads: 'auto' (default: this rank's share of the cores), an int >= 1, or None (leave
      the BLAS and OpenMP thread settings alone).
    Construct it, train() and check_accuracy() / check_replicas() / load_checkpoint() on every
    rank: they are collective. Attributes: rank, size, comm, threads (as set, or None),
    allreduce_seconds (total time spent in the per-step Allreduce), allreduce_calls.
    """

    @_collective
    def __init__(self, model, data, comm=None, threads="auto", **kwargs):
        self.comm = None
        MPI = _import_mpi()
        self._MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        self.threads = self._set_threads(threads)
        self.allreduce_seconds = 0.0
        self.allreduce_calls = 0

        resume_from = kwargs.pop("resume_from", None)
        kwargs["seed"] = self._common_seed(kwargs.get("seed"))
        super().__init__(model, data, **kwargs)
        if self.batch_size < self.size:
            raise ValueError(
                f"DistributedSolver: batch_size {self.batch_size} is smaller than the number "
                f"of ranks {self.size}; every rank needs at least one sample per step")
        if self.rank != 0:
            self.verbose = False            # only rank 0 prints and shows progress
        self._check_same_data()
        self._broadcast_model()
        if self.size > 1:
            abort_on_exception(self.comm)
        if resume_from is not None:
            self.load_checkpoint(resume_from)

    # ------------------------------------------------------------------ setup

    def _set_threads(self, threads):
        if threads is None:
            return None
        if threads == "auto":
            threads = thread_share(self.comm)
        elif isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"DistributedSolver: threads must be 'auto', an int >= 1 or "
                             f"None, got {threads!r}")
        limit_threads(threads)
        return threads

    def _common_seed(self, seed):
        """Rank 0's seed (drawn on rank 0 when it has none); an error if ranks disagree."""
        seeds = self.comm.allgather(seed)
        if any(other != seeds[0] for other in seeds):
            raise _every_rank(ValueError(f"DistributedSolver: the ranks were given different "
                                         f"seeds {seeds}; give every rank the same seed (or "
                                         f"None everywhere)"))
        if seeds[0] is not None:
            return seeds[0]
        return self.comm.bcast(np.random.SeedSequence().entropy if self.rank == 0 else None)

    def _check_same_everywhere(self, what, summary):
        """Raise (on every rank) unless `summary` is the same on every rank."""
        summaries = self.comm.allgather(summary)
        differing = [rank for rank, other in enumerate(summaries) if other != summaries[0]]
        if differing:
            raise _every_rank(ValueError(
                f"DistributedSolver: {what} on rank(s) {differing} differ from rank 0's "
                f"(rank 0: {summaries[0]}; rank {differing[0]}: {summaries[differing[0]]}); "
                f"every rank must load the same data and build the same model"))

    def _check_same_data(self):
        summary = {}
        for split in ("train", "val"):
            for kind in ("X", "y"):
                array = getattr(self, f"{kind}_{split}")
                summary[f"{kind}_{split}"] = (array.shape, array.dtype.str, _crc32([array]))
        self._check_same_everywhere("the data", summary)

    def _broadcast_model(self):
        params = self.model.params
        self._check_same_everywhere("the model's params", [
            (name, np.shape(value), np.asarray(value).dtype.str)
            for name, value in params.items()])
        for name, value in params.items():
            if self.rank == 0:
                buffer = np.ascontiguousarray(value)
            else:
                buffer = np.empty(np.shape(value), np.asarray(value).dtype)
            self.comm.Bcast(buffer, root=0)
            params[name] = buffer
        statistics = self.comm.bcast(solver_state.bn_statistics(self.model), root=0)
        solver_state.restore_bn_statistics(self.model, statistics)
        self._bucket_dtype = np.result_type(*[np.asarray(v).dtype for v in params.values()])

    # ------------------------------------------------------------------ training

    def _loss_and_grads(self, batch_index):
        """Loss and gradients of the whole minibatch from each rank's shard: one Allreduce."""
        num = len(batch_index)
        start, stop = shard_bounds(num, self.rank, self.size)
        shard = batch_index[start:stop]
        loss, grads = self.model.loss(self.X_train[shard], self.y_train[shard])
        self._check_grads(grads)
        names = list(self.model.params)
        statistics = [[(bn, key) for key in ("running_mean", "running_var") if key in bn]
                      for bn in solver_state.bn_params(self.model)]
        pieces = [np.asarray(grads[name]) for name in names]
        pieces += [np.asarray(bn[key]) for layer in statistics for bn, key in layer]
        weight = (stop - start) / num          # this shard's share of the whole batch
        bucket = np.empty(sum(piece.size for piece in pieces) + 1, self._bucket_dtype)
        offset = 0
        for piece in pieces:
            np.multiply(piece.ravel(), weight, out=bucket[offset:offset + piece.size],
                        casting="unsafe")
            offset += piece.size
        bucket[-1] = float(loss) * weight
        started = time.perf_counter()
        self.comm.Allreduce(self._MPI.IN_PLACE, bucket, op=self._MPI.SUM)
        self.allreduce_seconds += time.perf_counter() - started
        self.allreduce_calls += 1
        offset = 0
        reduced = {}
        for name, piece in zip(names, pieces):
            dtype = np.asarray(self.model.params[name]).dtype
            reduced[name] = bucket[offset:offset + piece.size].reshape(piece.shape).astype(
                dtype, copy=False)
            offset += piece.size
        for piece, (bn, key) in zip(pieces[len(names):],
                                    [item for layer in statistics for item in layer]):
            bn[key] = bucket[offset:offset + piece.size].reshape(piece.shape).astype(
                piece.dtype)
            offset += piece.size
        return float(bucket[-1]), reduced

    def _check_loss(self, loss):
        try:
            super()._check_loss(loss)
        except FloatingPointError as error:      # the reduced loss: every rank raises it
            raise _every_rank(error)

    @_collective
    def train(self):
        """Run (or continue) the optimization on every rank (collective)."""
        return super().train()

    def _replica_digest(self):
        arrays = [np.asarray(value) for value in self.model.params.values()]
        for statistics in solver_state.bn_statistics(self.model):
            arrays += list(statistics.values())
        return _crc32(arrays)

    def _count_correct(self, X, y, batch_size):
        start, stop = shard_bounds(X.shape[0], self.rank, self.size)
        correct = super()._count_correct(X[start:stop], y[start:stop], batch_size)
        gathered = self.comm.allgather((correct, self._replica_digest()))
        self._raise_if_replicas_differ([digest for _, digest in gathered])
        return sum(count for count, _ in gathered)

    def _raise_if_replicas_differ(self, digests):
        differing = [rank for rank, digest in enumerate(digests) if digest != digests[0]]
        if differing:
            raise _every_rank(RuntimeError(
                f"DistributedSolver: the params or batchnorm statistics of rank(s) {differing} "
                f"differ from rank 0's at iteration {self.iteration} (CRC-32 "
                f"{[hex(d) for d in digests]}); the replicas diverged"))

    @_collective
    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """Solver.check_accuracy with the samples shared by the ranks (collective); also checks
        that the replicas are identical."""
        return super().check_accuracy(X, y, num_samples=num_samples, batch_size=batch_size)

    @_collective
    def check_replicas(self):
        """Raise RuntimeError (on every rank) unless every rank holds the same params and
        batchnorm statistics (a CRC-32 of them is compared); returns True. Collective."""
        self._raise_if_replicas_differ(self.comm.allgather(self._replica_digest()))
        return True

    # ------------------------------------------------------------------ checkpoints

    @_collective
    def save_checkpoint(self, path):
        """Rank 0 writes the checkpoint (the other ranks hold the same state); returns the
        path on every rank. Not collective."""
        if self.rank == 0:
            return super().save_checkpoint(path)
        return os.fspath(path)

    @_collective
    def load_checkpoint(self, path):
        """Rank 0 reads the checkpoint and broadcasts it; every rank restores it (collective).
        The checkpoint may come from a run on any number of ranks, or from a Solver."""
        path = os.fspath(path)
        payload = None
        if self.rank == 0:
            try:
                with open(path, "rb") as stream:
                    payload = stream.read()
            except FileNotFoundError:
                payload = FileNotFoundError(f"no checkpoint file {path!r}")
            except OSError as error:
                payload = OSError(f"cannot read checkpoint {path!r}: {error}")
        payload = self.comm.bcast(payload, root=0)
        try:
            if isinstance(payload, BaseException):
                raise payload
            arrays, meta = solver_state.read_checkpoint_bytes(payload, path)
            return solver_state.restore(self, arrays, meta, path)
        except (OSError, ValueError, TypeError) as error:   # the same on every rank
            raise _every_rank(error)
