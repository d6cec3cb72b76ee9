"""Find the GEMMs of the BLAS that NumPy links, for the per-image conv kernels.

NumPy's Linux wheels bundle OpenBLAS built with 64-bit integers (`scipy_openblas64_`), whose
CBLAS entry points are exported as `scipy_cblas_dgemm64_` / `scipy_cblas_sgemm64_`, plus
`openblas_set_num_threads_local` (which, despite its name, sets OpenBLAS's thread count for
the whole process in this build: measured). `install()` looks for that library among the shared
objects already loaded by this process (NumPy loaded it), takes the addresses with ctypes and hands
them to `vjpnet_fast._conv_images.set_blas`. Using NumPy's own copy (not, say, SciPy's) means
one OpenBLAS and one thread pool in the process.

If no such library is found (another BLAS, another platform), `install()` returns False and
vjpnet_fast.conv keeps to its NumPy-matmul path; nothing else changes.
"""
import contextlib
import ctypes
import os
import threading

from vjpnet_fast import _conv_images

# (dgemm, sgemm) symbol pairs with the 64-bit integer CBLAS interface, most specific first
GEMM_SYMBOLS = (("scipy_cblas_dgemm64_", "scipy_cblas_sgemm64_"),
                ("cblas_dgemm64_", "cblas_sgemm64_"))
THREADS_LOCAL_SYMBOLS = ("openblas_set_num_threads_local",
                         "scipy_openblas_set_num_threads_local64_")
GET_THREADS_SYMBOLS = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                       "openblas_get_num_threads")

_get_num_threads = None      # ctypes functions: OpenBLAS's current thread count, and setting
_set_num_threads = None      # it (returning the previous count), once installed

_team_lock = threading.Lock()
_team_users = 0              # calls inside `gemm_team` right now (all Python threads)
_team_threads = 1            # OpenBLAS's thread count before the first of them entered


def loaded_openblas_paths():
    """Paths of the OpenBLAS shared objects mapped into this process (Linux /proc/self/maps)."""
    import numpy  # noqa: F401  (make sure NumPy, and so its BLAS, is loaded)
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split()
                if len(fields) >= 6 and "openblas" in os.path.basename(fields[-1]).lower():
                    if fields[-1] not in paths:
                        paths.append(fields[-1])
    except OSError:
        return []
    return paths


def find_gemms():
    """(dgemm address, sgemm address, set_num_threads_local address or 0, get_num_threads
    ctypes function or None, library path) of the first loaded OpenBLAS with 64-bit integer
    CBLAS GEMMs, or None."""
    for path in loaded_openblas_paths():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for dgemm_name, sgemm_name in GEMM_SYMBOLS:
            try:
                dgemm, sgemm = getattr(library, dgemm_name), getattr(library, sgemm_name)
            except AttributeError:
                continue
            threads_local = 0
            for name in THREADS_LOCAL_SYMBOLS:
                if hasattr(library, name):
                    threads_local = ctypes.cast(getattr(library, name), ctypes.c_void_p).value
                    break
            get_threads = None
            for name in GET_THREADS_SYMBOLS:
                if hasattr(library, name):
                    get_threads = getattr(library, name)
                    get_threads.restype, get_threads.argtypes = ctypes.c_int, []
                    break
            return (ctypes.cast(dgemm, ctypes.c_void_p).value,
                    ctypes.cast(sgemm, ctypes.c_void_p).value, threads_local, get_threads, path)
    return None


def install():
    """Give the per-image conv kernels NumPy's GEMMs; True if found (see module docstring)."""
    found = find_gemms()
    if found is None:
        return False
    global _get_num_threads, _set_num_threads
    dgemm, sgemm, threads_local, get_threads, _ = found
    _conv_images.set_blas(dgemm, sgemm)
    if threads_local and get_threads is not None:
        _get_num_threads = get_threads
        _set_num_threads = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)(threads_local)
    return True


@contextlib.contextmanager
def gemm_team(tasks=None, enabled=True):
    """Run a team of threads that call the GEMMs concurrently: yields the team size, which is
    OpenBLAS's thread count on entry (so `threadpoolctl.threadpool_limits` and
    OPENBLAS_NUM_THREADS apply), and keeps OpenBLAS single-threaded until the last team in
    any Python thread has left, when the count is restored. Yields 1 and changes nothing when
    not `enabled`, when there are fewer than 2 `tasks` (e.g. images) to share, or when
    OpenBLAS's thread count cannot be read and set: the GEMMs then use OpenBLAS's threads."""
    global _team_users, _team_threads
    if not enabled or _set_num_threads is None or (tasks is not None and tasks < 2):
        yield 1
        return
    with _team_lock:
        if _team_users == 0:
            _team_threads = max(1, int(_get_num_threads()))
            if _team_threads > 1:
                _set_num_threads(1)
        _team_users += 1
        threads = _team_threads if tasks is None else min(_team_threads, tasks)
    try:
        yield threads
    finally:
        with _team_lock:
            _team_users -= 1
            if _team_users == 0 and _team_threads > 1:
                _set_num_threads(_team_threads)
