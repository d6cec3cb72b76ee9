"""Reductions that skip NaNs (nansum, nanmean, nanprod, nanmax, nanmin, nanvar, nanstd,
nancumsum, nancumprod), and average, ptp, cov, corrcoef: compositions of registered
operations. NaN entries get a zero gradient; an all-NaN slice gives NaN, as in NumPy."""
import numpy as np

from vjpnet.numpy_ops._base import ndim_of, normalize_axis, reject_kwargs, shape_of
from vjpnet.registry import register_function, register_nondifferentiable
from vjpnet.tape import dtype_of, plain


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
    _check("nansum", out, initial=initial, where=where)
    return np.sum(_filled(a, 0.0)[0], axis=axis, dtype=dtype, keepdims=keepdims)


def nanprod(a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue,
            where=np._NoValue):
    _check("nanprod", out, initial=initial, where=where)
    return np.prod(_filled(a, 1.0)[0], axis=axis, dtype=dtype, keepdims=keepdims)


def _count(missing, axis, keepdims):
    return np.sum(~missing, axis=axis, keepdims=keepdims)


def nanmean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=np._NoValue):
    _check("nanmean", out, where=where)
    filled, missing = _filled(a, 0.0)
    total = np.sum(filled, axis=axis, dtype=dtype, keepdims=keepdims)
    count = _count(missing, axis, keepdims)
    with np.errstate(invalid="ignore", divide="ignore"):   # all-NaN slices: NaN
        return total / count.astype(dtype_of(total))


def _nan_extreme(a, axis, keepdims, reducer, fill):
    filled, missing = _filled(a, fill)
    out = reducer(filled, axis=axis, keepdims=keepdims)
    empty = np.all(missing, axis=axis, keepdims=keepdims)
    return np.where(empty, np.nan, out) if np.any(empty) else out


def nanmax(a, axis=None, out=None, keepdims=False, initial=np._NoValue, where=np._NoValue):
    _check("nanmax", out, initial=initial, where=where)
    return _nan_extreme(a, axis, keepdims, np.max, -np.inf)


def nanmin(a, axis=None, out=None, keepdims=False, initial=np._NoValue, where=np._NoValue):
    _check("nanmin", out, initial=initial, where=where)
    return _nan_extreme(a, axis, keepdims, np.min, np.inf)


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
        degrees = _count(missing, axis, keepdims).astype(dtype_of(filled)) - ddof
        return total / np.where(degrees > 0, degrees, np.nan)


def nanstd(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=np._NoValue,
           mean=np._NoValue, correction=np._NoValue):
    return np.sqrt(nanvar(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                          correction=correction))


def nancumsum(a, axis=None, dtype=None, out=None):
    return np.cumsum(_filled(a, 0.0)[0], axis=axis, dtype=dtype, out=out)


def nancumprod(a, axis=None, dtype=None, out=None):
    return np.cumprod(_filled(a, 1.0)[0], axis=axis, dtype=dtype, out=out)


def average(a, axis=None, weights=None, returned=False, *, keepdims=False):
    """The mean, or sum(a * w) / sum(w) with weights (1-D weights go along `axis`)."""
    if weights is None:
        avg = np.mean(a, axis=axis, keepdims=keepdims)
        scale = np.asarray(np.size(plain(a)) / np.size(plain(avg)), dtype=dtype_of(avg))
        return (avg, np.broadcast_to(scale, shape_of(avg)).copy()) if returned else avg
    shape = shape_of(a)
    if shape_of(weights) != shape:
        if axis is None:
            raise TypeError("numpy.average: axis must be specified when shapes of a and "
                            "weights differ")
        if ndim_of(weights) != 1 or ndim_of(axis) != 0:
            raise TypeError("numpy.average: 1D weights expected when shapes of a and weights "
                            "differ")
        axis = normalize_axis(axis, len(shape), "average")
        if shape_of(weights)[0] != shape[axis]:
            raise ValueError("numpy.average: length of weights not compatible with specified "
                             "axis")
        weights = np.reshape(weights, (-1,) + (1,) * (len(shape) - axis - 1))
    total_weight = np.sum(np.broadcast_to(weights, shape) if shape_of(weights) != shape
                          else weights, axis=axis, keepdims=keepdims)
    if np.any(np.asarray(plain(total_weight)) == 0):
        raise ZeroDivisionError("numpy.average: weights sum to zero, can't be normalized")
    avg = np.sum(a * weights, axis=axis, keepdims=keepdims) / total_weight
    if returned:
        return avg, np.broadcast_to(total_weight, shape_of(avg))
    return avg


def ptp(a, axis=None, out=None, keepdims=False):
    reject_kwargs("ptp", {"out": out}, out=None)
    return np.max(a, axis=axis, keepdims=keepdims) - np.min(a, axis=axis, keepdims=keepdims)


def cov(m, y=None, rowvar=True, bias=False, ddof=None, fweights=None, aweights=None, *,
        dtype=None):
    """The covariance of the rows (columns when rowvar=False) of m (and y)."""
    x = np.atleast_2d(m)
    if not rowvar and shape_of(x)[0] != 1:
        x = np.transpose(x)
    if y is not None:
        y = np.atleast_2d(y)
        if not rowvar and shape_of(y)[0] != 1:
            y = np.transpose(y)
        x = np.concatenate([x, y], axis=0)
    if dtype is not None:
        x = x.astype(dtype)
    if ddof is None:
        ddof = 0 if bias else 1
    weights = None
    for given in (fweights, aweights):
        if given is not None:
            weights = given if weights is None else weights * given
    observations = shape_of(x)[1]
    if weights is None:
        centre = np.mean(x, axis=1, keepdims=True)
        factor = observations - ddof
        centred = x - centre
        product = centred @ _conj(np.transpose(centred))
    else:
        total = np.sum(weights)
        centre = np.sum(x * weights, axis=1, keepdims=True) / total
        factor = total - ddof if aweights is None else \
            total - ddof * np.sum(weights * aweights) / total
        centred = x - centre
        product = centred @ _conj(np.transpose(centred * weights))
    if np.any(np.asarray(plain(factor)) <= 0):
        factor = np.maximum(factor, 0)   # NumPy warns and divides by zero: inf/NaN
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.squeeze(product / factor)


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
