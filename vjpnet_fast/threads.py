"""How many OpenMP threads the Cython loops (im2col, col2im, pooling) use.

Default 1: the GEMMs already run on OpenBLAS's own threads, and on a machine whose cores are
shared with other processes an OpenMP parallel region waits at its closing barrier for a thread
that the OS may not schedule for a whole time slice (measured here: a 2 ms pooling pass took
12 ms with 2 threads while another process kept one core busy). On an otherwise idle machine,
`set_num_threads(2)` (or the environment variable VJPNET_NUM_THREADS=2) makes those
memory-bound loops up to ~1.3x faster. Results are identical for any thread count: every thread
owns whole output planes, nothing is accumulated across threads.
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
