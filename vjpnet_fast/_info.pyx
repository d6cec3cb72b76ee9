# cython: language_level=3
"""Facts about how vjpnet_fast was compiled (printed by the benchmarks next to their tables)."""

IF VJPNET_OPENMP:
    cimport openmp


def build_info():
    """Return a dict describing the compiled extension: OpenMP on/off and its thread count."""
    IF VJPNET_OPENMP:
        return {"openmp": True, "max_threads": openmp.omp_get_max_threads()}
    ELSE:
        return {"openmp": False, "max_threads": 1}
