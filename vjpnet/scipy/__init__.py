"""SciPy inside grad: `vjpnet.scipy.special`, `.stats`, `.linalg`, `.integrate`, `.signal`.

SciPy is optional: this package imports it only in its submodules, which load on first use
(`vjpnet.scipy.stats` imports scipy.stats, ...). Importing vjpnet registers two hooks, neither
of which imports SciPy:
- the first scipy.special ufunc without a primitive that reaches a traced value imports
  `vjpnet.scipy.special`, which registers VJPs for the scipy.special ufuncs, so
  `scipy.special.gammaln(x)` works inside grad without importing anything from vjpnet.scipy;
- SciPy's Python-level functions (scipy.stats distributions, logsumexp, scipy.linalg) convert
  their arguments with np.asarray, which a traced value refuses; that error then names the
  function with the same signature in vjpnet.scipy (see _hints.py).
"""
import importlib

from vjpnet.registry import register_caller_hint, register_lazy_ufuncs
from vjpnet.scipy._hints import scipy_replacement_hint

__all__ = ["special", "stats", "linalg", "integrate", "signal"]

register_lazy_ufuncs("scipy.special", "vjpnet.scipy.special")
register_caller_hint(scipy_replacement_hint)


def __getattr__(name):
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")   # imports SciPy
    raise AttributeError(f"module 'vjpnet.scipy' has no attribute {name!r}")
