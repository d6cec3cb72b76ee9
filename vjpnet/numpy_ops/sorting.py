"""Order statistics, as compositions of a plain argsort/argpartition with indexing (so the
gradient of each output element goes to the input element it came from): sort, partition,
quantile, percentile, median and their nan* forms.

Ties: the gradient goes to the element argsort (stable) or argpartition puts in that place.
quantile/percentile/median take every `method` NumPy has: each output mixes the two order
statistics around NumPy's virtual index with constant weights.
"""
import operator

import numpy as np

from vjpnet.numpy_ops._base import ndim_of, normalize_axis, reject_kwargs, shape_of
from vjpnet.registry import register_function, register_nondifferentiable
from vjpnet.tape import Traced, dtype_of, plain


def sort(a, axis=-1, kind=None, order=None, *, stable=None):
    reject_kwargs("sort", {"order": order}, order=None)
    if axis is None:
        a, axis = np.ravel(a), 0
    axis = normalize_axis(operator.index(axis), ndim_of(a), "sort")
    options = {} if stable is None else {"stable": stable}   # stable: NumPy >= 2.0
    index = np.argsort(plain(a), axis=axis, kind=kind, **options)
    return np.take_along_axis(a, index, axis=axis)


def partition(a, kth, axis=-1, kind="introselect", order=None):
    reject_kwargs("partition", {"order": order}, order=None)
    if axis is None:
        a, axis = np.ravel(a), 0
    axis = normalize_axis(operator.index(axis), ndim_of(a), "partition")
    index = np.argpartition(plain(a), plain(kth), axis=axis, kind=kind)
    return np.take_along_axis(a, index, axis=axis)


# --- quantile, percentile, median -----------------------------------------------------------

def _reduced_axes(axis, ndim, function_name):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if ndim_of(axis) == 0 else tuple(axis)
    axes = tuple(normalize_axis(int(a), ndim, function_name) for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"numpy.{function_name}: repeated axis in {axis!r}")
    return axes


def _virtual_indices(count, q, method):
    """(lower index, upper index, weight of the upper one) of the order statistics NumPy mixes
    for quantiles q of `count` sorted values: NumPy's quantile of 0, 1, ..., count - 1 is
    the virtual index itself, lower + weight."""
    virtual = np.quantile(np.arange(count, dtype=np.float64), q, method=method)
    lower = np.floor(virtual).astype(np.intp)
    return lower, np.minimum(lower + 1, count - 1), virtual - lower


def _quantile(a, q, axis, method, keepdims, function_name, ignore_nan):
    """NumPy's quantile of `a` at q (in [0, 1]) over `axis`: shape q.shape + reduced shape."""
    if type(q) is Traced:
        raise TypeError(f"numpy.{function_name}: q is traced; vjpnet differentiates quantiles "
                        "w.r.t. the data only (pass q as a constant)")
    if dtype_of(a).kind == "c":
        raise TypeError(f"numpy.{function_name}: a must be an array of real numbers (got "
                        f"dtype {dtype_of(a)}), as in NumPy")
    q_array = np.asarray(q, dtype=np.float64)
    if np.any((q_array < 0) | (q_array > 1)) or np.any(np.isnan(q_array)):
        raise ValueError(f"numpy.{function_name}: quantiles must be in the range [0, 1] "
                         f"(percentiles in [0, 100]), got {q!r}")
    shape = shape_of(a)
    axes = _reduced_axes(axis, len(shape), function_name)
    kept = [d for d in range(len(shape)) if d not in axes]
    count = int(np.prod([shape[d] for d in axes]))
    if count == 0:
        raise ValueError(f"numpy.{function_name}: cannot take a quantile of an empty slice "
                         f"(shape {shape}, axis {axis!r})")
    # NumPy gives float32 data float32 results unless q is a float64 array.
    dtype = np.result_type(dtype_of(a), q if type(q) in (float, int) else np.asarray(q))
    if dtype_of(a) != dtype:
        a = a.astype(dtype)
    flat = np.reshape(np.transpose(a, kept + list(axes)), [shape[d] for d in kept] + [count])
    values = plain(flat)
    ordered = np.take_along_axis(flat, np.argsort(values, axis=-1), axis=-1)   # NaNs last
    nan_slices = np.isnan(values).any(axis=-1)
    q_flat = q_array.reshape(-1)
    if ignore_nan:
        valid = count - np.isnan(values).sum(axis=-1)   # per slice
        lower = np.zeros(valid.shape + q_flat.shape, np.intp)
        upper, weight = lower.copy(), np.zeros(lower.shape)
        for size in np.unique(valid[valid > 0]):
            at = valid == size
            lower[at], upper[at], weight[at] = _virtual_indices(int(size), q_flat, method)
        undefined = valid == 0   # all-NaN slices give NaN, as in NumPy
    else:
        lower, upper, weight = (np.broadcast_to(x, nan_slices.shape + q_flat.shape)
                                for x in _virtual_indices(count, q_flat, method))
        undefined = nan_slices
    low = np.take_along_axis(ordered, lower, axis=-1)
    high = np.take_along_axis(ordered, upper, axis=-1)
    weight = weight.astype(dtype)
    out = np.where(weight == 0, low, low * (1.0 - weight) + high * weight)
    if undefined.any():
        out = np.where(undefined[..., None], np.nan, out)
    out = np.moveaxis(np.reshape(out, nan_slices.shape + q_array.shape),
                      tuple(range(len(kept), len(kept) + q_array.ndim)),
                      tuple(range(q_array.ndim)))
    if keepdims:
        kept_shape = tuple(1 if d in axes else n for d, n in enumerate(shape))
        out = np.reshape(out, q_array.shape + kept_shape)
    return out


def _quantile_function(function_name, scale, ignore_nan):
    def function(a, q, axis=None, out=None, overwrite_input=False, method="linear",
                 keepdims=False, *, weights=None, interpolation=None):
        reject_kwargs(function_name, {"out": out, "weights": weights}, out=None, weights=None)
        if interpolation is not None:
            method = interpolation
        if np.size(plain(a)) == 0:   # nothing to differentiate: NumPy's result or error
            return getattr(np, function_name)(plain(a), plain(q), axis=axis, method=method,
                                              keepdims=keepdims)
        if scale != 1:   # percentiles
            q = q / scale if type(q) in (float, int) else np.true_divide(q, scale)
        return _quantile(a, q, axis, method, keepdims, function_name, ignore_nan)
    function.__name__ = function_name
    return function


quantile = _quantile_function("quantile", 1, False)
percentile = _quantile_function("percentile", 100, False)
nanquantile = _quantile_function("nanquantile", 1, True)
nanpercentile = _quantile_function("nanpercentile", 100, True)


def median(a, axis=None, out=None, overwrite_input=False, keepdims=False):
    reject_kwargs("median", {"out": out}, out=None)
    if np.size(plain(a)) == 0:   # NaNs (with NumPy's warning): constants
        return np.median(plain(a), axis=axis, keepdims=keepdims)
    return _quantile(a, 0.5, axis, "linear", keepdims, "median", False)


def nanmedian(a, axis=None, out=None, overwrite_input=False, keepdims=np._NoValue):
    reject_kwargs("nanmedian", {"out": out}, out=None)
    keepdims = False if keepdims is np._NoValue else keepdims
    if np.size(plain(a)) == 0:
        return np.nanmedian(plain(a), axis=axis, keepdims=keepdims)
    return _quantile(a, 0.5, axis, "linear", keepdims, "nanmedian", True)


for _function, _handler in [(np.sort, sort), (np.partition, partition),
                            (np.quantile, quantile), (np.percentile, percentile),
                            (np.nanquantile, nanquantile), (np.nanpercentile, nanpercentile),
                            (np.median, median), (np.nanmedian, nanmedian)]:
    register_function(_function, _handler)
register_nondifferentiable(np.argpartition, np.lexsort)
