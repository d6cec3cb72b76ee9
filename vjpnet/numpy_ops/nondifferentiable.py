"""NumPy ufuncs and functions that take traced values and return plain (constant) results:
comparisons, predicates, rounding, sign, index-valued functions and constructors *_like."""
import numpy as np

from vjpnet.registry import register_nondifferentiable

register_nondifferentiable(
    # ufuncs
    np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
    np.logical_and, np.logical_or, np.logical_xor, np.logical_not,
    np.isnan, np.isfinite, np.isinf, np.signbit, np.sign, np.heaviside, np.floor, np.ceil,
    np.rint, np.trunc,
    # functions
    np.round, np.around, np.fix, np.argmax, np.argmin, np.argsort, np.nonzero, np.flatnonzero,
    np.argwhere, np.count_nonzero, np.searchsorted, np.any, np.all, np.isclose, np.allclose,
    np.array_equal, np.array_equiv, np.isposinf, np.isneginf, np.isreal, np.iscomplexobj,
    np.isrealobj, np.isscalar,
    np.zeros_like, np.ones_like, np.empty_like, np.result_type, np.shape,
    np.ndim, np.size)
