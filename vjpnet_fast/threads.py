"""How many OpenMP threads the pooling loops use (the conv sizes its own team, see below).

Default 1. On a machine whose cores are shared with other processes, an OpenMP parallel region
waits at its closing barrier for a thread the OS may not schedule for a whole time slice
(measured on the 2-core development machine while other jobs ran: a 2 ms pooling pass took
12 ms with 2 threads). The conv does not use this setting. Its fallback path (vjpnet_fast.conv
with PER_IMAGE False) keeps im2col/col2im on one thread next to OpenBLAS's threads:
alternating an OpenMP team with OpenBLAS's spinning threads on 2 cores made a 90 ms conv take
1.6 s. Its per-image path shares the images between the calling thread and helper threads
that sleep between calls (vjpnet_fast.team, as many threads as OpenBLAS has) while OpenBLAS
itself is single-threaded (vjpnet_fast.blas.gemm_team), so the two never run at once and no
OpenMP team spins next to the NumPy GEMMs after a conv. On an otherwise idle machine,
`set_num_threads(2)` (or the environment variable VJPNET_NUM_THREADS=2) can speed pooling up
by about 1.5x. Results are identical for any thread count: every thread owns whole output
planes, nothing is accumulated across threads.
"""
import os

_num_threads = 1


def set_num_threads(count):
    """Use `count` (>= 1) OpenMP threads in vjpnet_fast's own loops."""
    global _num_threads
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"set_num_threads: count must be an integer >= 1, got {count!r}")
    _num_threads = count


def get_num_threads():
    """The number of OpenMP threads vjpnet_fast's own loops use (default 1)."""
    return _num_threads


_from_environment = os.environ.get("VJPNET_NUM_THREADS", "").strip()
if _from_environment:
    try:
        set_num_threads(int(_from_environment))
    except ValueError as error:
        raise ValueError(f"VJPNET_NUM_THREADS must be an integer >= 1, got "
                         f"{_from_environment!r}") from error
