"""Reductions that skip NaNs (nansum, nanmean, nanprod, nanmax, nanmin, nanvar, nanstd,
nancumsum, nancumprod), and average, ptp, cov, corrcoef: compositions of registered
operations. NaN entries get a zero gradient; an all-NaN slice gives NaN, as in NumPy."""
import warnings

import numpy as np

from vjpnet.numpy_ops._base import (array_dtype, as_dtype, ndim_of, normalize_axes, real_dtype,
                                    reject_kwargs, shape_of)
from vjpnet.registry import register_function, register_nondifferentiable
from vjpnet.tape import Traced, dtype_of, plain


def _nan_mask(a):
    return np.isnan(np.asarray(plain(a)))


def _filled(a, value):
    """a with its NaNs replaced by a constant (they then get a zero gradient)."""
    missing = _nan_mask(a)
    return (a if not missing.any() else np.where(missing, value, a)), missing


def _check(function_name, out=None, **kwargs):
    reject_kwargs(function_name, dict(kwargs, out=out), out=None,
                  **{key: np._NoValue for key in kwargs})


def nansum(a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue,
           where=np._NoValue):
    _check("nansum", out, where=where)
    return np.sum(_filled(a, 0.0)[0], axis=axis, dtype=dtype, keepdims=keepdims,
                  initial=initial)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue,
            where=np._NoValue):
    _check("nanprod", out, where=where)
    return np.prod(_filled(a, 1.0)[0], axis=axis, dtype=dtype, keepdims=keepdims,
                   initial=initial)


def _count(missing, axis, keepdims):
    return np.sum(~missing, axis=axis, keepdims=keepdims)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=np._NoValue):
    _check("nanmean", out, where=where)
    filled, missing = _filled(a, 0.0)
    total = np.sum(filled, axis=axis, dtype=dtype, keepdims=keepdims)
    count = _count(missing, axis, keepdims)
    with np.errstate(invalid="ignore", divide="ignore"):   # all-NaN slices: NaN
        return total / count.astype(dtype_of(total))


def _nan_extreme(a, axis, keepdims, reducer, fill, initial=np._NoValue):
    """The max/min of the non-NaN entries: NaN for an all-NaN slice, or initial if given."""
    filled, missing = _filled(a, fill)
    if initial is not np._NoValue:
        return reducer(filled, axis=axis, keepdims=keepdims, initial=initial)
    out = reducer(filled, axis=axis, keepdims=keepdims)
    empty = np.all(missing, axis=axis, keepdims=keepdims)
    return np.where(empty, np.nan, out) if np.any(empty) else out


def nanmax(a, axis=None, out=None, keepdims=False, initial=np._NoValue, where=np._NoValue):
    _check("nanmax", out, where=where)
    return _nan_extreme(a, axis, keepdims, np.max, -np.inf, initial)


def nanmin(a, axis=None, out=None, keepdims=False, initial=np._NoValue, where=np._NoValue):
    _check("nanmin", out, where=where)
    return _nan_extreme(a, axis, keepdims, np.min, np.inf, initial)


def nanvar(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=np._NoValue,
           mean=np._NoValue, correction=np._NoValue):
    _check("nanvar", out, where=where, mean=mean)
    if correction is not np._NoValue:
        ddof = correction
    filled, missing = _filled(a, 0.0)
    if dtype is not None:
        filled = filled.astype(dtype)
    count = _count(missing, axis, True).astype(dtype_of(filled))
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = np.sum(filled, axis=axis, keepdims=True) / count
        centred = filled - centre
        if missing.any():
            centred = np.where(missing, 0.0, centred)
        squares = np.real(centred * np.conj(centred)) if dtype_of(centred).kind == "c" \
            else centred * centred   # |x - mean|^2: real, as NumPy's variance of complex x
        total = np.sum(squares, axis=axis, keepdims=keepdims)
        degrees = _count(missing, axis, keepdims).astype(real_dtype(dtype_of(filled))) - ddof
        return total / np.where(degrees > 0, degrees, np.nan)


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=np._NoValue,
           mean=np._NoValue, correction=np._NoValue):
    return np.sqrt(nanvar(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                          correction=correction))


def nancumsum(a, axis=None, dtype=None, out=None):
    return np.cumsum(_filled(a, 0.0)[0], axis=axis, dtype=dtype, out=out)


def nancumprod(a, axis=None, dtype=None, out=None):
    return np.cumprod(_filled(a, 1.0)[0], axis=axis, dtype=dtype, out=out)


def average(a, axis=None, weights=None, returned=False, *, keepdims=np._NoValue):
    """The mean, or sum(a * w) / sum(w) with weights: of a's shape, or of the shape of the
    axes reduced (NumPy 2), in result_type(a, weights) (at least float64 for an integer a)."""
    if type(a) is not Traced and not isinstance(a, np.ndarray):
        a = np.asarray(a)
    shape = shape_of(a)
    if axis is not None:
        axis = normalize_axes(axis, len(shape), "average")
    keepdims = False if keepdims is np._NoValue else keepdims
    if weights is None:
        avg = np.mean(a, axis=axis, keepdims=keepdims)
        scale = np.asarray(np.size(plain(a)) / np.size(plain(avg)), dtype=dtype_of(avg))
        return (avg, np.broadcast_to(scale, shape_of(avg)).copy()) if returned else avg
    if type(weights) is not Traced:
        weights = np.asarray(weights)
    if shape_of(weights) != shape:
        if axis is None:
            raise TypeError("numpy.average: axis must be specified when shapes of a and "
                            f"weights differ ({shape} and {shape_of(weights)})")
        if shape_of(weights) != tuple(shape[d] for d in axis):
            raise ValueError(f"numpy.average: shape of weights {shape_of(weights)} must be "
                             f"consistent with shape of a {shape} along axis {axis}")
        weights = np.transpose(weights, np.argsort(axis))
        weights = np.reshape(weights, tuple(n if d in axis else 1 for d, n in enumerate(shape)))
    dtype = np.result_type(dtype_of(a), dtype_of(weights),
                           *([np.float64] if dtype_of(a).kind in "iub" else []))
    weights = as_dtype(weights, dtype)
    total_weight = np.sum(weights, axis=axis, keepdims=keepdims)
    if np.any(np.asarray(plain(total_weight)) == 0):
        raise ZeroDivisionError("numpy.average: weights sum to zero, can't be normalized")
    avg = np.sum(as_dtype(a, dtype) * weights, axis=axis, keepdims=keepdims) / total_weight
    if returned:
        if shape_of(total_weight) != shape_of(avg):
            total_weight = np.broadcast_to(total_weight, shape_of(avg))
        return avg, total_weight
    return avg


def ptp(a, axis=None, out=None, keepdims=False):
    reject_kwargs("ptp", {"out": out}, out=None)
    return np.max(a, axis=axis, keepdims=keepdims) - np.min(a, axis=axis, keepdims=keepdims)


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *,
        dtype=None):
    """The covariance of the rows (columns when rowvar=False) of m (and y), as NumPy computes
    it: in result_type(m, y, float64) unless dtype is given (so at least float64), with float64
    weights; differentiable w.r.t. m, y and aweights (fweights are integer counts)."""
    if ddof is not None and ddof != int(ddof):
        raise ValueError(f"numpy.cov: ddof must be integer, got {ddof!r}")
    for name, value in (("m", m), ("y", y)):
        if value is not None and ndim_of(value) > 2:
            raise ValueError(f"numpy.cov: {name} has more than 2 dimensions (shape "
                             f"{shape_of(value)})")
    if dtype is None:
        dtype = np.result_type(*[array_dtype(v) for v in (m, y) if v is not None], np.float64)
    x = as_dtype(np.atleast_2d(m), np.dtype(dtype))
    if not rowvar and ndim_of(m) != 1:
        x = np.transpose(x)
    if shape_of(x)[0] == 0:
        return np.array([]).reshape(0, 0)   # NumPy's result, whatever y is
    if y is not None:
        y = as_dtype(np.atleast_2d(y), np.dtype(dtype))
        if not rowvar and shape_of(y)[0] != 1:
            y = np.transpose(y)
        x = np.concatenate([x, y], axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    observations = shape_of(x)[1]
    weights = None
    if fweights is not None:
        if type(fweights) is Traced:
            raise TypeError("numpy.cov: fweights is traced; frequency weights are integer "
                            "counts, which vjpnet does not differentiate (use aweights)")
        fweights = np.asarray(fweights, dtype=float)
        if not np.all(fweights == np.around(fweights)):
            raise TypeError("numpy.cov: fweights must be integer")
        weights = fweights = _checked_weights(fweights, "fweights", observations)
    if aweights is not None:
        aweights = _checked_weights(as_dtype(aweights, np.dtype(np.float64)), "aweights",
                                    observations)
        weights = aweights if weights is None else weights * aweights
    if weights is None:
        centre = np.mean(x, axis=1, keepdims=True)
        factor = observations - ddof
        centred = x - centre
        product = centred @ _conj(np.transpose(centred))
    else:
        total = np.sum(weights)
        centre = np.sum(x * weights, axis=1, keepdims=True) / total
        if ddof == 0:
            factor = total
        elif aweights is None:
            factor = total - ddof
        else:
            factor = total - ddof * np.sum(weights * aweights) / total
        centred = x - centre
        product = centred @ _conj(np.transpose(centred * weights))
    if np.any(np.asarray(plain(factor)) <= 0):
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=3)
        factor = 0.0   # as NumPy: inf, and NaN where the product is 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.squeeze(product / factor)


def _checked_weights(weights, name, observations):
    """NumPy's checks of cov's fweights / aweights (1-D, one per observation, >= 0)."""
    if ndim_of(weights) > 1:
        raise RuntimeError(f"numpy.cov: cannot handle multidimensional {name} (shape "
                           f"{shape_of(weights)})")
    if ndim_of(weights) == 0:
        raise IndexError(f"numpy.cov: {name} must have one weight per observation, got a "
                         "0-d array")
    if shape_of(weights)[0] != observations:
        raise RuntimeError(f"numpy.cov: incompatible numbers of samples and {name} "
                           f"({observations} and {shape_of(weights)[0]})")
    if np.any(np.asarray(plain(weights)) < 0):
        raise ValueError(f"numpy.cov: {name} cannot be negative")
    return weights


def corrcoef(x, y=None, rowvar=True, *, dtype=None):
    """cov divided by the deviations, clipped to [-1, 1] (real and imaginary parts apart)."""
    c = cov(x, y, rowvar, dtype=dtype)
    if ndim_of(c) == 0:
        return c / c
    complex_values = dtype_of(c).kind == "c"
    deviation = np.sqrt(np.real(np.diagonal(c)) if complex_values else np.diagonal(c))
    c = c / deviation[:, None] / deviation[None, :]
    if complex_values:
        return np.clip(np.real(c), -1.0, 1.0) + 1j * np.clip(np.imag(c), -1.0, 1.0)
    return np.clip(c, -1.0, 1.0)


def _conj(x):
    return np.conj(x) if dtype_of(x).kind == "c" else x


for _function, _handler in [
        (np.nansum, nansum), (np.nanprod, nanprod), (np.nanmean, nanmean),
        (np.nanmax, nanmax), (np.nanmin, nanmin), (np.nanvar, nanvar), (np.nanstd, nanstd),
        (np.nancumsum, nancumsum), (np.nancumprod, nancumprod), (np.average, average),
        (np.ptp, ptp), (np.cov, cov), (np.corrcoef, corrcoef)]:
    register_function(_function, _handler)
register_nondifferentiable(np.nanargmax, np.nanargmin)
