"""Arrays built from traced values: linspace, logspace, geomspace with traced endpoints,
full_like with a traced fill value (when the prototype is traced too: NumPy dispatches on it).

(np.full(shape, traced) cannot be routed: NumPy converts the fill value with np.asarray before
any dispatch; np.broadcast_to(x, shape) or x * np.ones(shape) are the differentiable forms.)
"""
import operator

import numpy as np

from vjpnet.numpy_ops._base import as_dtype, ndim_of, normalize_axis, shape_of
from vjpnet.registry import register_function
from vjpnet.tape import Traced, dtype_of, plain


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
             device=None):
    """start + i * (stop - start) / (num - 1) (num when endpoint=False); the last sample is
    stop itself. Differentiable w.r.t. start and stop; the step of retstep=True too."""
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"numpy.linspace: number of samples, {num}, must be non-negative")
    divisions = num - 1 if endpoint else num
    result_dtype = np.result_type(plain(start), plain(stop), float(num))
    delta = stop - start
    extra = ndim_of(delta)
    steps = np.arange(num, dtype=result_dtype).reshape((-1,) + (1,) * extra)
    if divisions > 0:
        step = delta / divisions
        samples = steps * step + start
        if endpoint and num > 1:
            last = (np.arange(num) == num - 1).reshape((-1,) + (1,) * extra)
            samples = np.where(last, stop, samples)
    else:   # num == 1 with endpoint, or num == 0: NumPy's step is NaN
        step = np.nan
        samples = steps * delta + start
    if axis != 0:
        samples = np.moveaxis(samples, 0, normalize_axis(axis, ndim_of(samples), "linspace"))
    if dtype is not None:
        if np.issubdtype(dtype, np.integer):
            samples = np.floor(samples)   # as NumPy (astype alone would round towards 0)
        samples = samples.astype(dtype)
    return (samples, step) if retstep else samples


def logspace(start, stop, num=50, endpoint=True, base=10.0, dtype=None, axis=0):
    if not isinstance(base, (float, int)) and ndim_of(base) > 0:
        # as NumPy: start, stop and base get the same number of dimensions, then base an axis
        ndim = max(ndim_of(start), ndim_of(stop), ndim_of(base))
        start, stop, base = (_at_least_ndim(value, ndim) for value in (start, stop, base))
        base = np.expand_dims(base, axis)
    samples = linspace(start, stop, num=num, endpoint=endpoint, axis=axis)
    out = np.power(base, samples)
    return out if dtype is None else out.astype(dtype)


def _at_least_ndim(value, ndim):
    """value with leading axes of size 1 up to `ndim` axes (np.array(value, ndmin=ndim))."""
    if type(value) is not Traced:
        return np.array(value, copy=None, subok=True, ndmin=ndim)
    shape = shape_of(value)
    return value if len(shape) >= ndim else np.reshape(value, (1,) * (ndim - len(shape)) + shape)


def geomspace(start, stop, num=50, endpoint=True, dtype=None, axis=0):
    """NumPy's construction: with sign = sign(start) (a complex phase for complex values),
    sign * 10 ** linspace(log10(start / sign), log10(stop / sign)), the endpoints exact.
    Computed in result_type(start, stop, dtype or float64) as NumPy does (so float32 endpoints
    give float64 samples unless dtype=np.float32), then cast to dtype."""
    start_values, stop_values = np.asarray(plain(start)), np.asarray(plain(stop))
    if np.any(start_values == 0) or np.any(stop_values == 0):
        raise ValueError("numpy.geomspace: geometric sequence cannot include zero")
    computed = np.result_type(start_values.dtype, stop_values.dtype, float(num),
                              np.zeros((), dtype))
    start, stop = as_dtype(start, computed), as_dtype(stop, computed)
    complex_values = computed.kind == "c"
    sign = np.sign(start) if complex_values else np.sign(start_values).astype(computed)
    start, stop = start / sign, stop / sign
    samples = sign * logspace(np.log10(start), np.log10(stop), num=num, endpoint=endpoint)
    extra = max(ndim_of(start), ndim_of(stop))
    if num > 0:
        first = (np.arange(num) == 0).reshape((-1,) + (1,) * extra)
        samples = np.where(first, sign * start, samples)
        if endpoint and num > 1:
            last = (np.arange(num) == num - 1).reshape((-1,) + (1,) * extra)
            samples = np.where(last, sign * stop, samples)
    if axis != 0:
        samples = np.moveaxis(samples, 0, normalize_axis(axis, ndim_of(samples), "geomspace"))
    return samples if dtype is None else samples.astype(dtype)


def full_like(a, fill_value, dtype=None, order="K", subok=True, shape=None, *, device=None):
    """a's shape (or `shape`) filled with fill_value: differentiable w.r.t. a traced
    fill_value (a float dtype), a constant otherwise (a itself only gives the shape)."""
    shape = shape_of(a) if shape is None else shape
    dtype = np.dtype(dtype_of(a) if dtype is None else dtype)
    if type(fill_value) is not Traced or dtype.kind not in "fc":
        return np.full_like(plain(a), plain(fill_value), dtype=dtype, order=order,
                            shape=shape)
    if dtype_of(fill_value) != dtype:
        fill_value = fill_value.astype(dtype)
    return np.broadcast_to(fill_value, shape)


for _function, _handler in [(np.linspace, linspace), (np.logspace, logspace),
                            (np.geomspace, geomspace), (np.full_like, full_like)]:
    register_function(_function, _handler)
