"""Operations along one axis of a sequence: differences and integrals (diff, ediff1d, gradient,
trapezoid, cumprod), interpolation (interp), convolution (convolve, correlate) and polynomials
(polyval, vander), plus the vector products cross and kron.

cumprod and the full convolution are primitives (VJPs written with NumPy operations); the
rest are compositions of registered operations, differentiable to any order.
"""
import operator
import warnings

import numpy as np

from vjpnet.numpy_ops._base import (Primitive, Sample, array_dtype, as_dtype, cast_cotangent,
                                    ndim_of, normalize_axis, reject_kwargs, shape_of)
from vjpnet.numpy_ops.shape import astype_p
from vjpnet.registry import register_function
from vjpnet.tape import Traced, dtype_of, plain

_ALL = slice(None)
_FLOAT64, _COMPLEX128 = np.dtype(np.float64), np.dtype(np.complex128)


def _along(axis, index):
    """An index that applies `index` to axis `axis` (counted from the front)."""
    return (_ALL,) * axis + (index,)


def _constant(value, name, function_name):
    if type(value) is Traced:
        raise TypeError(f"numpy.{function_name}: {name} is traced; vjpnet differentiates "
                        f"{function_name} w.r.t. its data only (pass {name} as a constant)")
    return value


# --- differences ----------------------------------------------------------------------------

def diff(a, n=1, axis=-1, prepend=np._NoValue, append=np._NoValue):
    n = operator.index(n)
    if n == 0:
        return a
    if n < 0:
        raise ValueError(f"numpy.diff: order must be non-negative but got {n}")
    ndim = ndim_of(a)
    if ndim == 0:
        raise ValueError("numpy.diff requires input that is at least one dimensional")
    axis = normalize_axis(axis, ndim, "diff")
    parts = []
    for value in (prepend, a, append):
        if value is np._NoValue:
            continue
        if value is not a and ndim_of(value) == 0:   # a scalar: one slice of a's shape
            shape = list(shape_of(a))
            shape[axis] = 1
            if type(value) is not Traced:   # as NumPy: an array (a Python float is float64)
                value = np.asarray(value)
            value = np.broadcast_to(value, tuple(shape))
        parts.append(value)
    if len(parts) > 1:
        a = np.concatenate(parts, axis=axis)
    for _ in range(n):
        a = a[_along(axis, slice(1, None))] - a[_along(axis, slice(None, -1))]
    return a


def ediff1d(ary, to_end=None, to_begin=None):
    """The differences of the flattened ary, in ary's dtype (to_begin and to_end are cast to
    it, as NumPy does, and must be castable under the same_kind rule)."""
    flat = np.ravel(ary if type(ary) is Traced else np.asarray(ary))
    parts = [flat[1:] - flat[:-1]]
    dtype = dtype_of(flat)
    for value, at_end, name in ((to_begin, False, "to_begin"), (to_end, True, "to_end")):
        if value is None:
            continue
        if not np.can_cast(array_dtype(value), dtype, casting="same_kind"):
            raise TypeError(f"numpy.ediff1d: dtype of `{name}` ({array_dtype(value)}) must be "
                            f"compatible with input `ary` ({dtype}) under the `same_kind` rule")
        parts.insert(len(parts) if at_end else 0, np.ravel(as_dtype(value, dtype)))
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _spacings(varargs, axes, shape, function_name):
    """Per axis: a Python float (uniform spacing) or a float64 array of the len - 1 gaps."""
    count = len(varargs)
    if count == 0:
        return [1.0] * len(axes)
    if count == 1 and np.ndim(plain(varargs[0])) == 0:
        return [float(_constant(varargs[0], "the spacing", function_name))] * len(axes)
    if count != len(axes):
        raise TypeError(f"numpy.{function_name}: invalid number of arguments (give one "
                        f"spacing, or one per axis: {len(axes)})")
    spacings = []
    for axis, spacing in zip(axes, varargs):
        spacing = np.asarray(_constant(spacing, "the spacing", function_name))
        if spacing.ndim == 0:
            spacings.append(float(spacing))
            continue
        if spacing.ndim != 1:
            raise ValueError(f"numpy.{function_name}: distances must be either scalars or 1d")
        if len(spacing) != shape[axis]:
            raise ValueError(f"numpy.{function_name}: when 1d, distances must match the length "
                             f"of the corresponding dimension ({len(spacing)} vs "
                             f"{shape[axis]})")
        gaps = np.diff(spacing.astype(np.float64))
        spacings.append(float(gaps[0]) if np.all(gaps == gaps[0]) else gaps)
    return spacings


def _gradient_along(f, axis, spacing, edge_order):
    """The second-order accurate central differences of `gradient` along one axis."""
    ndim, dtype = ndim_of(f), dtype_of(f)

    def at(index):
        return f[_along(axis, index)]

    def column(coefficients):   # gap-dependent coefficients, broadcast along the axis
        return np.reshape(coefficients.astype(dtype), (-1,) + (1,) * (ndim - axis - 1))

    if type(spacing) is float:
        interior = (at(slice(2, None)) - at(slice(None, -2))) * (0.5 / spacing)
        if edge_order == 1:
            first = (at(slice(1, 2)) - at(slice(0, 1))) * (1.0 / spacing)
            last = (at(slice(-1, None)) - at(slice(-2, -1))) * (1.0 / spacing)
        else:
            first = (at(slice(0, 1)) * -1.5 + at(slice(1, 2)) * 2.0 - at(slice(2, 3)) * 0.5) \
                * (1.0 / spacing)
            last = (at(slice(-3, -2)) * 0.5 - at(slice(-2, -1)) * 2.0 +
                    at(slice(-1, None)) * 1.5) * (1.0 / spacing)
        return np.concatenate([first, interior, last], axis=axis)
    left, right = spacing[:-1], spacing[1:]
    interior = (at(slice(None, -2)) * column(-right / (left * (left + right))) +
                at(slice(1, -1)) * column((right - left) / (left * right)) +
                at(slice(2, None)) * column(left / (right * (left + right))))
    if edge_order == 1:
        first = (at(slice(1, 2)) - at(slice(0, 1))) * (1.0 / float(spacing[0]))
        last = (at(slice(-1, None)) - at(slice(-2, -1))) * (1.0 / float(spacing[-1]))
    else:
        h1, h2 = float(spacing[0]), float(spacing[1])
        first = (at(slice(0, 1)) * (-(2 * h1 + h2) / (h1 * (h1 + h2))) +
                 at(slice(1, 2)) * ((h1 + h2) / (h1 * h2)) +
                 at(slice(2, 3)) * (-h1 / (h2 * (h1 + h2))))
        h1, h2 = float(spacing[-2]), float(spacing[-1])
        last = (at(slice(-3, -2)) * (h2 / (h1 * (h1 + h2))) +
                at(slice(-2, -1)) * (-(h1 + h2) / (h1 * h2)) +
                at(slice(-1, None)) * ((2 * h2 + h1) / (h2 * (h1 + h2))))
    return np.concatenate([first, interior, last], axis=axis)


def gradient(f, *varargs, axis=None, edge_order=1):
    """numpy.gradient of f (traced) w.r.t. constant spacings; a tuple for several axes."""
    shape = shape_of(f)
    ndim = len(shape)
    axes = tuple(range(ndim)) if axis is None else \
        tuple(normalize_axis(a, ndim, "gradient")
              for a in ((axis,) if ndim_of(axis) == 0 else axis))
    if edge_order not in (1, 2):
        raise ValueError("numpy.gradient: 'edge_order' greater than 2 not supported")
    results = []
    for axis_, spacing in zip(axes, _spacings(varargs, axes, shape, "gradient")):
        if shape[axis_] < edge_order + 1:
            raise ValueError("numpy.gradient: shape of array too small to calculate a "
                             "numerical gradient, at least (edge_order + 1) elements are "
                             f"required (axis {axis_} has {shape[axis_]})")
        results.append(_gradient_along(f, axis_, spacing, edge_order))
    return results[0] if len(results) == 1 else _GRADIENT_SEQUENCE(results)


_GRADIENT_SEQUENCE = type(np.gradient(np.zeros((3, 3))))   # tuple on NumPy 2, list before


def trapezoid(y, x=None, dx=1.0, axis=-1):
    axis = normalize_axis(axis, ndim_of(y), "trapezoid")
    if x is None:
        widths = dx
    else:
        widths = diff(x)
        if ndim_of(x) == 1:
            widths = np.reshape(widths, (-1,) + (1,) * (ndim_of(y) - axis - 1))
        else:
            widths = diff(x, axis=axis)
    heights = y[_along(axis, slice(1, None))] + y[_along(axis, slice(None, -1))]
    return np.sum(widths * heights, axis=axis) * 0.5


# --- cumprod --------------------------------------------------------------------------------

def _cumprod_forward(x, axis=0):
    out = np.cumprod(x, axis=axis)
    return out, (x, out, axis)


def _cumprod_vjp(g, cache):
    """Without zeros: the reverse cumulative sum of g * out, divided by x. With zeros: the
    product of the factors before each element times S_j = g_j + x_{j+1} S_{j+1}, a reverse
    recurrence (one step per element along the axis); both are exact at every order."""
    x, out, axis = cache
    if not np.any(np.asarray(plain(x)) == 0):
        reverse = np.flip(np.cumsum(np.flip(g * out, axis), axis=axis), axis)
        return (reverse / x,)
    length = shape_of(x)[axis]
    before = np.concatenate([np.ones_like(plain(out)[_along(axis, slice(0, 1))]),
                             out[_along(axis, slice(None, -1))]], axis=axis)
    suffix = g[_along(axis, length - 1)]
    sums = [suffix]
    for j in range(length - 2, -1, -1):
        suffix = g[_along(axis, j)] + x[_along(axis, j + 1)] * suffix
        sums.append(suffix)
    return (before * np.stack(sums[::-1], axis=axis),)


cumprod_p = Primitive(_cumprod_forward, _cumprod_vjp, name="cumprod",
                      spec=lambda rng: [Sample(rng.uniform(0.5, 1.5, (3, 4)), axis=1),
                                        Sample(rng.uniform(-1.5, 1.5, (4, 2)), axis=0),
                                        Sample(np.array([[1.5, 0.0, 2.0, 0.0, -1.0],
                                                         [0.0, 1.2, 0.8, -0.5, 2.0]]),
                                               axis=1)])


def cumprod(a, axis=None, dtype=None, out=None):
    reject_kwargs("cumprod", {"out": out}, out=None)
    if dtype is not None:
        a = astype_p(a, dtype)
    if axis is None or ndim_of(a) == 0:   # (NumPy: a 0-d array as one element)
        a, axis = np.ravel(a), 0 if axis is None else axis
    return cumprod_p(a, axis=normalize_axis(operator.index(axis), ndim_of(a), "cumprod"))


# --- interp ---------------------------------------------------------------------------------

def interp(x, xp, fp, left=None, right=None, period=None):
    """Piecewise-linear interpolation, differentiable w.r.t. x, xp and fp (at a knot, x has
    the slope of the segment to its right). Computed in float64 (complex128 for a complex fp),
    as NumPy's interp is, whatever the inputs' dtypes."""
    x, xp = as_dtype(x, _FLOAT64), as_dtype(xp, _FLOAT64)
    fp = as_dtype(fp, _COMPLEX128 if array_dtype(fp).kind == "c" else _FLOAT64)
    if ndim_of(xp) != 1 or ndim_of(fp) != 1 or shape_of(xp) != shape_of(fp):
        raise ValueError(f"numpy.interp: xp and fp must be 1-D sequences of the same length, "
                         f"got shapes {shape_of(xp)} and {shape_of(fp)}")
    if shape_of(xp)[0] == 0:
        raise ValueError("numpy.interp: array of sample points is empty")
    if period is not None:
        period = _constant(period, "period", "interp")
        if period == 0:
            raise ValueError("numpy.interp: period must be a non-zero value")
        period = abs(period)
        x, xp = np.mod(x, period), np.mod(xp, period)
        order = np.argsort(plain(xp))
        xp, fp = xp[order], fp[order]
        xp = np.concatenate([xp[-1:] - period, xp, xp[:1] + period])
        fp = np.concatenate([fp[-1:], fp, fp[:1]])
        left = right = None
    count = shape_of(xp)[0]
    x_values, xp_values = np.asarray(plain(x)), np.asarray(plain(xp))
    if count == 1:
        out = fp[np.zeros(x_values.shape, np.intp)]
    else:
        index = np.clip(np.searchsorted(xp_values, x_values, side="right") - 1, 0, count - 2)
        x0, f0 = xp[index], fp[index]
        slope = (fp[index + 1] - f0) / (xp[index + 1] - x0)
        out = f0 + slope * (x - x0)
    below, above = x_values < xp_values[0], x_values > xp_values[-1]
    if below.any():
        out = np.where(below, fp[0] if left is None else left, out)
    if above.any():
        out = np.where(above, fp[-1] if right is None else right, out)
    return out


# --- convolve, correlate --------------------------------------------------------------------

def _convolve_forward(a, v):
    return np.convolve(a, v, mode="full"), (a, v)


def _convolve_vjp(g, cache, needed):
    """The full convolution is bilinear: ga = g correlated with v, gv = g correlated with a
    (each a 'valid' convolution with the other input reversed)."""
    a, v = cache
    return (cast_cotangent(np.convolve(g, np.flip(v), mode="valid"), dtype_of(a))
            if needed[0] else None,
            cast_cotangent(np.convolve(g, np.flip(a), mode="valid"), dtype_of(v))
            if needed[1] else None)


convolve_full_p = Primitive(_convolve_forward, _convolve_vjp, name="convolve",
                            selective_vjp=True,
                            spec=lambda rng: [Sample(rng.standard_normal(5),
                                                     rng.standard_normal(3)),
                                              Sample(rng.standard_normal(2),
                                                     rng.standard_normal(4))])

_MODES = {0: "valid", 1: "same", 2: "full"}


def _mode_slice(full, n, m, mode, function_name, centre):
    mode = _MODES.get(mode, mode)
    shorter, longer = min(n, m), max(n, m)
    if mode == "full":
        return full
    if mode == "same":
        return full[centre:centre + longer]
    if mode == "valid":
        return full[shorter - 1:longer]
    raise ValueError(f"numpy.{function_name}: mode must be one of 'valid', 'same' or 'full', "
                     f"got {mode!r}")


def _check_vectors(a, v, function_name):
    if ndim_of(a) != 1 or ndim_of(v) != 1:
        raise ValueError(f"numpy.{function_name}: both inputs must be 1-D, got shapes "
                         f"{shape_of(a)} and {shape_of(v)}")


def convolve(a, v, mode="full"):
    a, v = np.atleast_1d(a), np.atleast_1d(v)   # as NumPy: a scalar is one sample
    _check_vectors(a, v, "convolve")
    n, m = shape_of(a)[0], shape_of(v)[0]
    shorter = min(n, m)
    return _mode_slice(convolve_full_p(a, v), n, m, mode, "convolve",
                       shorter - 1 - shorter // 2)


def correlate(a, v, mode="valid"):
    """sum_n a[n + k] conj(v[n]): the convolution with v reversed (and conjugated)."""
    _check_vectors(a, v, "correlate")
    n, m = shape_of(a)[0], shape_of(v)[0]
    shorter = min(n, m)
    centre = shorter - 1 - shorter // 2 if n >= m else shorter // 2
    if dtype_of(v).kind == "c":
        v = np.conj(v)
    return _mode_slice(convolve_full_p(a, np.flip(v)), n, m, mode, "correlate", centre)


# --- polynomials ----------------------------------------------------------------------------

def polyval(p, x):
    """Horner's rule over p's first axis; differentiable w.r.t. the coefficients p and the
    points x."""
    if type(p) is not Traced:
        p = np.asarray(p)
    if ndim_of(p) == 0:
        raise TypeError("numpy.polyval: p must be a sequence of coefficients (iteration over a "
                        "0-d array)")
    count = shape_of(p)[0]   # (a 2-D p: Horner's rule over its rows, as NumPy)
    if type(x) is not Traced:
        x = np.asarray(x)   # as NumPy: a Python float is a float64 array, not a weak scalar
    elif type(plain(x)) in (float, complex):
        x = x.astype(dtype_of(x))   # a NumPy float64 (complex128), as np.asanyarray makes it
    if count == 0:
        return np.zeros_like(plain(x))
    result = p[0] + 0.0 * x
    for i in range(1, count):
        result = result * x + p[i]
    return result


def vander(x, N=None, increasing=False):
    """Columns x ** k, in x's dtype promoted with int (float64 for float32, as NumPy)."""
    if ndim_of(x) != 1:
        raise ValueError("numpy.vander: x must be a one-dimensional array or sequence")
    count = shape_of(x)[0] if N is None else operator.index(N)
    if count < 0:
        raise ValueError(f"numpy.vander: negative dimensions are not allowed (N={count})")
    x = as_dtype(x, np.promote_types(array_dtype(x), np.int_))
    powers = list(range(count)) if increasing else list(range(count - 1, -1, -1))
    if not powers:
        return np.zeros((shape_of(x)[0], 0), dtype=dtype_of(x))
    ones = np.ones_like(plain(x))   # x ** 0 is 1 (also at x = 0), a constant
    return np.stack([ones if k == 0 else x ** k for k in powers], axis=1)


# --- cross, kron ----------------------------------------------------------------------------

def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    if axis is not None:
        axisa = axisb = axisc = axis
    a = np.moveaxis(a, normalize_axis(axisa, ndim_of(a), "cross"), -1)
    b = np.moveaxis(b, normalize_axis(axisb, ndim_of(b), "cross"), -1)
    size_a, size_b = shape_of(a)[-1], shape_of(b)[-1]
    if size_a not in (2, 3) or size_b not in (2, 3):
        raise ValueError(f"numpy.cross: incompatible dimensions for cross product (dimension "
                         f"must be 2 or 3), got {size_a} and {size_b}")
    if size_a == 2 or size_b == 2:   # as NumPy 2 does
        warnings.warn("Arrays of 2-dimensional vectors are deprecated. Use arrays of "
                      "3-dimensional vectors instead. (deprecated in NumPy 2.0)",
                      DeprecationWarning, stacklevel=3)
    a0, a1, b0, b1 = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    z = a0 * b1 - a1 * b0
    if size_a == size_b == 2:
        return z
    if size_a == 3 and size_b == 3:
        a2, b2 = a[..., 2], b[..., 2]
        x, y = a1 * b2 - a2 * b1, a2 * b0 - a0 * b2
    elif size_a == 3:   # b = (b0, b1, 0)
        a2 = a[..., 2]
        x, y = -(a2 * b1), a2 * b0
    else:               # a = (a0, a1, 0)
        b2 = b[..., 2]
        x, y = a1 * b2, -(a0 * b2)
    x, y, z = np.broadcast_arrays(x, y, z)
    out = np.stack([x, y, z], axis=-1)
    return np.moveaxis(out, -1, normalize_axis(axisc, ndim_of(out), "cross"))


def kron(a, b):
    """The Kronecker product: block (i, j, ...) is a[i, j, ...] * b."""
    ndim = max(ndim_of(a), ndim_of(b))
    a_shape = (1,) * (ndim - ndim_of(a)) + tuple(shape_of(a))
    b_shape = (1,) * (ndim - ndim_of(b)) + tuple(shape_of(b))
    spread_a = np.reshape(a, [size for n in a_shape for size in (n, 1)])
    spread_b = np.reshape(b, [size for n in b_shape for size in (1, n)])
    return np.reshape(spread_a * spread_b, [m * n for m, n in zip(a_shape, b_shape)])


for _function, _handler in [
        (np.diff, diff), (np.ediff1d, ediff1d), (np.gradient, gradient), (np.cumprod, cumprod),
        (np.interp, interp), (np.convolve, convolve), (np.correlate, correlate),
        (np.polyval, polyval), (np.vander, vander), (np.cross, cross), (np.kron, kron)]:
    register_function(_function, _handler)
for _name in ("trapezoid", "trapz"):   # trapezoid: NumPy >= 2.0; trapz: before
    if hasattr(np, _name):
        register_function(getattr(np, _name), trapezoid)
