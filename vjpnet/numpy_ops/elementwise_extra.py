"""More elementwise functions: remainder (%, mod), fmod, deg2rad/radians, rad2deg/degrees,
fabs, copysign, float_power, ldexp (ufuncs), sinc, nan_to_num and real_if_close; floor_divide
(//) and spacing return plain (piecewise constant) results; ufunc.outer, .reduce and .accumulate
of the two-input ufuncs.

Conventions: remainder and fmod have derivative 1 w.r.t. x and -floor(x / y) (-trunc(x / y))
w.r.t. y, the one-sided value at their jumps; sinc is exact to every order, at 0 included.
"""
import functools
import math

import numpy as np

from vjpnet.numpy_ops._base import (IDENTITY, Primitive, Sample, UfuncComposition, away_from,
                                    elementwise, normal, normalize_axis, reject_kwargs, shape_of,
                                    sum_to_shape)
from vjpnet.registry import register_function, register_nondifferentiable, register_ufunc
from vjpnet.tape import (NONDIFFERENTIABLE, UFUNC_METHODS, UFUNC_PRIMITIVES, Traced, dtype_of,
                         plain)


def _modulus_spec(rng):
    """x / y at least 0.1 away from an integer (where remainder and fmod jump)."""
    y = rng.uniform(0.7, 1.5, 4) * np.array([1.0, -1.0, 1.0, -1.0])
    x = rng.uniform(-3.0, 3.0, (3, 4))
    ratio = x / y
    x = np.where(np.abs(ratio - np.round(ratio)) < 0.1, (np.floor(ratio) + 0.5) * y, x)
    return Sample(x, y)


remainder_p = elementwise(np.remainder, IDENTITY,
                          lambda g, out, x, y: -g * np.floor(plain(x) / plain(y)),
                          spec=_modulus_spec)
fmod_p = elementwise(np.fmod, IDENTITY, lambda g, out, x, y: -g * np.trunc(plain(x) / plain(y)),
                     spec=_modulus_spec)

_DEGREE = math.pi / 180.0
deg2rad_p = elementwise(np.deg2rad, lambda g, out, x: g * _DEGREE, spec=normal((3, 4)))
rad2deg_p = elementwise(np.rad2deg, lambda g, out, x: g * (1.0 / _DEGREE), spec=normal((3, 4)))
register_ufunc(np.radians, deg2rad_p)   # the same functions under their other names
register_ufunc(np.degrees, rad2deg_p)


def _sign_of(x):
    """+1 or -1 by x's sign bit, a constant of x's dtype."""
    return np.copysign(1.0, plain(x)).astype(dtype_of(x))


# Convention: d|x|/dx = sign(x), 0 at x = 0, as for np.abs.
fabs_p = elementwise(np.fabs, lambda g, out, x: g * np.sign(plain(x)).astype(dtype_of(x)),
                     spec=lambda rng: Sample(away_from(rng, (3, 4))))
# copysign(x, y) = |x| with y's sign: derivative sign(x) sign(y) w.r.t. x, 0 w.r.t. y.
copysign_p = elementwise(np.copysign, lambda g, out, x, y: g * (_sign_of(x) * _sign_of(y)),
                         lambda g, out, x, y: g * 0.0,
                         spec=lambda rng: Sample(away_from(rng, (3, 4)), away_from(rng, 4)))


# float_power(x, y) is power computed in float64 (complex128 for complex inputs): power's
# derivatives and conventions, on the promoted values.
def _as(x, dtype):
    return x.astype(dtype) if type(x) is Traced else np.asarray(x, dtype)


def float_power(x, y):
    dtype = np.float_power(np.asarray(plain(x)).flat[:1], np.asarray(plain(y)).flat[:1]).dtype
    return np.power(_as(x, dtype), _as(y, dtype))


register_ufunc(np.float_power, UfuncComposition(float_power))


# ldexp(x, n) = x * 2**n for integer n: linear in x, exact (no rounding of 2**n).
def _ldexp_forward(x, n):
    return np.ldexp(x, n), (n, shape_of(x), dtype_of(x))


def _ldexp_vjp(g, cache):
    n, shape, dtype = cache
    return (sum_to_shape(np.ldexp(g, n), shape, dtype),)


ldexp_p = Primitive(_ldexp_forward, _ldexp_vjp, name="ldexp", linear=True, nondiff_argnums=(1,),
                    spec=lambda rng: [Sample(rng.standard_normal((3, 4)), np.array([0, 3, -2, 1])),
                                      Sample(rng.standard_normal((2, 1)), np.array([[1, -1, 4]]))])
register_ufunc(np.ldexp, UfuncComposition(lambda x, n: ldexp_p(x, n)))


# --- sinc -----------------------------------------------------------------------------------

# sinc'(x) = sum_k c_k x^(2k - 1) with c_k = (-1)^k 2k pi^(2k) / (2k + 1)!, used for |x| < 1/4,
# where 12 terms reach double precision; a polynomial stays exact under further derivatives.
_SINC_SERIES = [(-1.0) ** k * 2 * k * math.pi ** (2 * k) / math.factorial(2 * k + 1)
                for k in range(1, 13)]
_SINC_SMALL = 0.25


def sinc_derivative(x):
    """d/dx sinc(x), elementwise, written with NumPy operations (differentiable again)."""
    small = np.abs(plain(x)) < _SINC_SMALL
    far = x if not small.any() else np.where(small, 1.0, x)
    closed = (np.cos(math.pi * far) - np.sinc(far)) / far
    if not small.any():
        return closed
    near = np.where(small, x, 0.0)
    square = near * near
    series = square * _SINC_SERIES[-1] + _SINC_SERIES[-2]   # Horner in x^2
    for coefficient in reversed(_SINC_SERIES[:-2]):
        series = series * square + coefficient
    return np.where(small, near * series, closed)


def _sinc_forward(x):
    return np.sinc(x), x


sinc_p = Primitive(_sinc_forward, lambda g, x: (g * sinc_derivative(x),), name="sinc",
                   spec=lambda rng: [Sample(rng.standard_normal((3, 4)) * 2.0),
                                     Sample(np.array([0.0, 0.1, -0.2, 0.25, 1.0, -3.0]))])


def sinc(x):
    return sinc_p(x)


# --- nan_to_num ---------------------------------------------------------------------------------

def nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None):
    """Finite values pass through (gradient 1); replaced NaN / inf entries are constants."""
    for name, value in (("nan", nan), ("posinf", posinf), ("neginf", neginf)):
        if type(value) is Traced:
            raise TypeError(f"numpy.nan_to_num: {name}= is traced; vjpnet differentiates "
                            "nan_to_num w.r.t. x only (pass the replacement values as "
                            "constants)")
    values = plain(x)
    finite = np.isfinite(values)
    if finite.all():
        return x
    if dtype_of(x).kind == "c":   # NumPy replaces in the real and imaginary parts apart
        return nan_to_num(np.real(x), nan=nan, posinf=posinf, neginf=neginf) + \
            1j * nan_to_num(np.imag(x), nan=nan, posinf=posinf, neginf=neginf)
    return np.where(finite, x, np.nan_to_num(values, nan=nan, posinf=posinf, neginf=neginf))


def real_if_close(a, tol=100):
    """np.real(a) when every imaginary part of the complex `a` is below tol (in units of
    machine epsilon when tol > 1), else a; a real `a` itself."""
    if dtype_of(a).kind != "c":
        return a
    if tol > 1:
        tol = np.finfo(dtype_of(a)).eps * tol
    return np.real(a) if np.all(np.abs(np.imag(plain(a))) < tol) else a


register_function(np.nan_to_num, nan_to_num)
register_function(np.real_if_close, real_if_close)
register_function(np.sinc, sinc)
# floor(x / y) and the gap to the next float are piecewise constant: plain results.
register_nondifferentiable(np.floor_divide, np.spacing)


# --- ufunc.outer, ufunc.reduce and ufunc.accumulate of the other two-input ufuncs --------------

def _outer(ufunc, a, b, **kwargs):
    """ufunc.outer(a, b): ufunc(a reshaped to a.shape + (1,) * b.ndim, b), shape
    a.shape + b.shape."""
    reject_kwargs(f"{ufunc.__name__}.outer", kwargs)
    if not hasattr(plain(b), "shape"):
        # outer converts its operands to arrays: a Python number is a float64 (or int64,
        # complex128) array there, not a weak scalar (a is made an array by its reshape)
        b = np.reshape(b, ())
    return ufunc(np.reshape(a, np.shape(plain(a)) + (1,) * np.ndim(plain(b))), b)


def _along_axis(ufunc, method, a, axis, dtype, out, keepdims=False, **kwargs):
    """(reference, a with the reduced axis first, or None when a has nothing to combine):
    NumPy's own result on zeros (its errors, shape and dtype) and the operand to fold."""
    reject_kwargs(f"{ufunc.__name__}.{method}", dict(kwargs, dtype=dtype, out=out),
                  dtype=None, out=None, **{key: np._NoValue for key in kwargs})
    shape = shape_of(a)
    options = {"keepdims": keepdims} if method == "reduce" else {}
    reference = getattr(ufunc, method)(np.zeros(shape, dtype_of(a)), axis=axis, **options)
    if axis is None:   # (NumPy allows it for reorderable ufuncs only: checked above)
        a, axis = np.reshape(a, (-1,)), 0
    elif isinstance(axis, tuple):
        if len(axis) != 1:   # several axes: NumPy allows them for reorderable ufuncs
            raise TypeError(f"numpy.{ufunc.__name__}.{method}(..., axis={axis!r}) with several "
                            "axes is not supported on traced values by vjpnet; reduce one axis "
                            "at a time")
        (axis,) = axis
    axis = normalize_axis(axis, len(shape_of(a)), f"{ufunc.__name__}.{method}")
    a = np.moveaxis(a, axis, 0)
    return reference, (a if shape_of(a)[0] else None), axis


def _reduce(ufunc, a, axis=0, dtype=None, out=None, keepdims=False, **kwargs):
    """ufunc.reduce(a, axis) for an order-free ufunc: folded left to right along the axis (one
    recorded op per element of the axis)."""
    reference, moved, axis = _along_axis(ufunc, "reduce", a, axis, dtype, out, keepdims,
                                         **kwargs)
    if moved is None:   # an empty axis: the identity, a constant
        return reference
    result = moved[0]
    if ufunc.identity is not None:   # NumPy starts from the identity: hypot.reduce([x]) = |x|
        result = ufunc(np.asarray(ufunc.identity, reference.dtype), result)
    for i in range(1, shape_of(moved)[0]):
        result = ufunc(result, moved[i])
    if keepdims:
        result = np.reshape(result, reference.shape)
    return result if dtype_of(result) == reference.dtype else result.astype(reference.dtype)


def _accumulate(ufunc, a, axis=0, dtype=None, out=None):
    """ufunc.accumulate(a, axis): the running ufunc along the axis, left to right."""
    reference, moved, axis = _along_axis(ufunc, "accumulate", a, axis, dtype, out)
    if moved is None:
        return reference
    running = [moved[0]]
    for i in range(1, shape_of(moved)[0]):
        running.append(ufunc(running[-1], moved[i]))
    result = np.moveaxis(np.stack(running), 0, axis)
    return result if dtype_of(result) == reference.dtype else result.astype(reference.dtype)


# reduce folds left to right; NumPy's own order inside a reduction is its business, so only
# ufuncs whose result does not depend on the order get the generic reduce (NumPy's
# power.reduce along a contiguous axis, e.g., is neither the left nor the right fold).
_ORDER_FREE = {np.logaddexp, np.logaddexp2, np.hypot, np.fmax, np.fmin}


def register_ufunc_methods():
    """Route outer (every differentiable two-input ufunc), accumulate (those with a traced
    result; it is sequential by definition) and reduce (the order-free ones) registered so far:
    np.subtract.outer, np.maximum.accumulate, np.logaddexp.reduce, ... where no dedicated
    handler is (np.add.reduce is sum)."""
    for ufunc in list(UFUNC_PRIMITIVES):
        if ufunc.nin != 2 or ufunc.nout != 1 or ufunc.signature is not None:
            continue
        methods = [("outer", _outer)]
        if ufunc not in NONDIFFERENTIABLE:
            methods.append(("accumulate", _accumulate))
        if ufunc in _ORDER_FREE:
            methods.append(("reduce", _reduce))
        for method, handler in methods:
            if (ufunc, method) not in UFUNC_METHODS:
                UFUNC_METHODS[ufunc, method] = functools.partial(handler, ufunc)
