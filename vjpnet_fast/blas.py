"""Find the GEMMs of the BLAS that NumPy links, for the per-image conv kernels.

NumPy's Linux wheels bundle OpenBLAS built with 64-bit integers (`scipy_openblas64_`), whose
CBLAS entry points are exported as `scipy_cblas_dgemm64_` / `scipy_cblas_sgemm64_`, plus
`openblas_set_num_threads_local`. `install()` looks for that library among the shared objects
already loaded by this process (NumPy loaded it), takes the addresses with ctypes and hands
them to `vjpnet_fast._conv_images.set_blas`. Using NumPy's own copy (not, say, SciPy's) means
one OpenBLAS and one thread pool in the process.

If no such library is found (another BLAS, another platform), `install()` returns False and
vjpnet_fast.conv keeps to its NumPy-matmul path; nothing else changes.
"""
import ctypes
import os

from vjpnet_fast import _conv_images

# (dgemm, sgemm) symbol pairs with the 64-bit integer CBLAS interface, most specific first
GEMM_SYMBOLS = (("scipy_cblas_dgemm64_", "scipy_cblas_sgemm64_"),
                ("cblas_dgemm64_", "cblas_sgemm64_"))
THREADS_LOCAL_SYMBOLS = ("openblas_set_num_threads_local", "scipy_openblas_set_num_threads_local64_")
GET_THREADS_SYMBOLS = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                       "openblas_get_num_threads")

_get_num_threads = None      # ctypes function: OpenBLAS's current thread count, once installed


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
    global _get_num_threads
    dgemm, sgemm, threads_local, get_threads, _ = found
    _conv_images.set_blas(dgemm, sgemm, threads_local)
    _get_num_threads = get_threads if threads_local else None
    return True


def gemm_threads():
    """How many threads the per-image conv kernels use: as many as NumPy's OpenBLAS would use
    for one large GEMM right now (so `threadpoolctl.threadpool_limits` and OPENBLAS_NUM_THREADS
    apply to them too), or 1 when that cannot be asked or the BLAS cannot be told to keep to
    the calling thread."""
    if _get_num_threads is None:
        return 1
    return max(1, int(_get_num_threads()))
