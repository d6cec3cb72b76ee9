"""Elementwise primitives: the differentiable ufuncs (add ... logaddexp), plus clip and where.

Partials are written with NumPy operations on possibly traced values (nested grad). Constants
are Python floats, never NumPy float64 scalars, so float32 stays float32. On complex values a
partial is g times the holomorphic derivative (principal branches); abs is the one
non-holomorphic ufunc here; maximum, minimum, fmax, fmin and clip refuse complex values.
"""
import math

import numpy as np

from vjpnet.numpy_ops._base import (IDENTITY, Primitive, Sample, away_from, complex_normal,
                                    elementwise, normal, positive, refuse_complex,
                                    reject_kwargs, shape_of, unbroadcast)
from vjpnet.registry import register_function
from vjpnet.tape import dtype_of, plain

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)


def _distinct_pair(rng):
    """(3, 4) and (4,) samples whose elements never tie (for maximum/minimum/fmax/fmin)."""
    x = rng.standard_normal((3, 4))
    y = rng.standard_normal(4)
    x = np.where(np.abs(x - y) < 0.1, x + 0.3, x)
    return Sample(x, y)


def _complex_polar(rng, shape, low=0.5, high=2.0, max_angle=2.6):
    """Complex samples with modulus in [low, high] and |angle| <= max_angle: away from 0 and
    from the branch cut of log and sqrt (the negative real axis)."""
    return rng.uniform(low, high, shape) * np.exp(1j * rng.uniform(-max_angle, max_angle, shape))


def _with_complex(spec, *complex_samples):
    """spec plus samples with complex inputs: complex_samples[i](rng) -> Sample."""
    def samples(rng):
        real = spec(rng)
        return (real if isinstance(real, list) else [real]) + [make(rng) for make in
                                                               complex_samples]
    return samples


def _unary_complex(scale=1.0):
    return lambda rng: Sample(complex_normal(rng, (3, 4), scale))


def _mixed_pairs(denominator=False):
    """Complex/complex, real/complex and complex/real pairs, broadcast (3, 4) with (4,)."""
    second = _complex_polar if denominator else complex_normal   # a denominator avoids 0
    return [lambda rng: Sample(complex_normal(rng, (3, 4)), second(rng, (4,))),
            lambda rng: Sample(rng.standard_normal((3, 4)), second(rng, (4,))),
            lambda rng: Sample(complex_normal(rng, (3, 4)),
                               rng.uniform(0.5, 2.0, 4) if denominator else
                               rng.standard_normal(4))]


_REAL_BINARY = normal((3, 4), (4,))
_BINARY = _with_complex(_REAL_BINARY, *_mixed_pairs())

# --- arithmetic -----------------------------------------------------------------------------
add_p = elementwise(np.add, IDENTITY, IDENTITY, spec=_BINARY)
subtract_p = elementwise(np.subtract, IDENTITY, lambda g, out, x, y: -g,
                         spec=_BINARY)
multiply_p = elementwise(np.multiply, lambda g, out, x, y: g * y, lambda g, out, x, y: g * x,
                         spec=_BINARY)
true_divide_p = elementwise(np.true_divide, lambda g, out, x, y: g / y,
                            lambda g, out, x, y: -g * out / y,
                            spec=_with_complex(lambda rng: Sample(rng.standard_normal((3, 4)),
                                                                  rng.uniform(0.5, 2.0, 4)),
                                               *_mixed_pairs(denominator=True)))
divide_p = true_divide_p   # np.divide is np.true_divide
negative_p = elementwise(np.negative, lambda g, out, x: -g,
                         spec=_with_complex(normal((3,)), _unary_complex()))
positive_p = elementwise(np.positive, lambda g, out, x: g,
                         spec=_with_complex(normal((3,)), _unary_complex()), name="positive")


def _power_partial_base(g, out, x, y):
    if type(y) is int or type(y) is float:   # x ** 2, x ** 0.5: the common case
        return g * (y * x ** (y - 1)) if y != 0 else g * 0.0
    return g * y * x ** np.where(y == 0, 1.0, y - 1)


def _power_partial_exponent(g, out, x, y):
    # d/dy x**y = x**y log x. Real: taken as 0 where the base is <= 0 (log undefined there).
    # Complex result: the principal log of the base, 0 where the base is 0.
    if dtype_of(out).kind == "c":
        nonzero = np.asarray(plain(x)) != 0   # x may be a Python number (10.0 ** z)
        base = x if nonzero.all() else np.where(nonzero, x, 1.0)
        if not np.iscomplexobj(plain(base)):   # a real base (2, -1.5, ...): log as complex
            base = base + 0j
        return g * out * np.log(base)
    return g * out * np.log(np.where(x > 0, x, 1.0))


power_p = elementwise(np.power, _power_partial_base, _power_partial_exponent,
                      spec=lambda rng: [Sample(rng.uniform(0.5, 2.0, (3, 4)),
                                               rng.uniform(-2.0, 2.0, 4)),
                                        Sample(rng.standard_normal((3, 4)), 3),
                                        Sample(_complex_polar(rng, (3, 4)),
                                               complex_normal(rng, (4,), 0.5)),
                                        Sample(rng.uniform(-2.0, 2.0, (3, 4)),
                                               complex_normal(rng, (4,), 0.5)),
                                        Sample(_complex_polar(rng, (3, 4)), 3),
                                        Sample(_complex_polar(rng, (3, 4)),
                                               rng.uniform(-2.0, 2.0, 4))])
square_p = elementwise(np.square, lambda g, out, x: g * (2.0 * x),
                       spec=_with_complex(normal((3, 4)), _unary_complex()))


def _sqrt_partial(g, out, x):
    if dtype_of(out).kind == "c":   # 1 / (2 sqrt(z)), taken as 0 at z = 0
        nonzero = np.asarray(plain(out)) != 0   # (a Python number too)
        if nonzero.all():
            return g * (0.5 / out)
        return np.where(nonzero, g * (0.5 / np.where(nonzero, out, 1.0)), 0.0)
    inside = out > 0   # a plain mask: comparisons are not differentiated
    if inside.all():
        return g * (0.5 / out)
    # Convention: d sqrt(x)/dx = 0 at x = 0 (not +inf), so sqrt(sum(x**2)) has gradient 0 at
    # the origin instead of NaN. The inner where keeps the untaken branch finite (no 0 * inf).
    return np.where(inside, g * (0.5 / np.where(inside, out, 1.0)), 0.0)


def _polar(**kwargs):
    return lambda rng: Sample(_complex_polar(rng, (3, 4), **kwargs))


def _small_complex(rng):
    """Complex samples with modulus < 0.8: away from the singularities and branch cuts of
    arcsin, arccos, arctan, arcsinh, arctanh (which start at modulus 1)."""
    return Sample(_complex_polar(rng, (3, 4), low=0.1, high=0.8, max_angle=math.pi))


sqrt_p = elementwise(np.sqrt, _sqrt_partial, spec=_with_complex(positive((3, 4)), _polar()))
reciprocal_p = elementwise(np.reciprocal, lambda g, out, x: -g * out * out,
                           spec=_with_complex(positive((3, 4)), _polar(max_angle=math.pi)))
cbrt_p = elementwise(np.cbrt, lambda g, out, x: g / (3.0 * out * out), spec=positive((3, 4)))

# --- exponentials and logarithms ------------------------------------------------------------
_NORMAL_OR_COMPLEX = _with_complex(normal((3, 4)), _unary_complex())
_POSITIVE_OR_COMPLEX = _with_complex(positive((3, 4)), _polar())
exp_p = elementwise(np.exp, lambda g, out, x: g * out, spec=_NORMAL_OR_COMPLEX)
exp2_p = elementwise(np.exp2, lambda g, out, x: g * (out * _LN2), spec=_NORMAL_OR_COMPLEX)
expm1_p = elementwise(np.expm1, lambda g, out, x: g * (out + 1.0), spec=_NORMAL_OR_COMPLEX)
log_p = elementwise(np.log, lambda g, out, x: g / x, spec=_POSITIVE_OR_COMPLEX)
log1p_p = elementwise(np.log1p, lambda g, out, x: g / (x + 1.0),
                      spec=_with_complex(positive((3, 4)),
                                         lambda rng: Sample(_complex_polar(rng, (3, 4)) - 1.0)))
log2_p = elementwise(np.log2, lambda g, out, x: g / (x * _LN2), spec=_POSITIVE_OR_COMPLEX)
log10_p = elementwise(np.log10, lambda g, out, x: g / (x * _LN10), spec=_POSITIVE_OR_COMPLEX)
logaddexp_p = elementwise(np.logaddexp, lambda g, out, x, y: g * np.exp(x - out),
                          lambda g, out, x, y: g * np.exp(y - out), spec=_REAL_BINARY)
logaddexp2_p = elementwise(np.logaddexp2, lambda g, out, x, y: g * np.exp2(x - out),
                           lambda g, out, x, y: g * np.exp2(y - out), spec=_REAL_BINARY)

# --- trigonometric and hyperbolic -----------------------------------------------------------
_UNIT = positive((3, 4), low=-0.8, high=0.8)
_UNIT_OR_COMPLEX = _with_complex(_UNIT, _small_complex)
sin_p = elementwise(np.sin, lambda g, out, x: g * np.cos(x), spec=_NORMAL_OR_COMPLEX)
cos_p = elementwise(np.cos, lambda g, out, x: -g * np.sin(x), spec=_NORMAL_OR_COMPLEX)
tan_p = elementwise(np.tan, lambda g, out, x: g * (1.0 + out * out),
                    spec=_with_complex(_UNIT, _unary_complex(0.5)))
arcsin_p = elementwise(np.arcsin, lambda g, out, x: g / np.sqrt(1.0 - x * x),
                       spec=_UNIT_OR_COMPLEX)
arccos_p = elementwise(np.arccos, lambda g, out, x: -g / np.sqrt(1.0 - x * x),
                       spec=_UNIT_OR_COMPLEX)
arctan_p = elementwise(np.arctan, lambda g, out, x: g / (1.0 + x * x), spec=_UNIT_OR_COMPLEX)
arctan2_p = elementwise(np.arctan2, lambda g, out, x, y: g * y / (x * x + y * y),
                        lambda g, out, x, y: -g * x / (x * x + y * y),
                        spec=lambda rng: Sample(rng.standard_normal((3, 4)),
                                                rng.uniform(0.5, 2.0, 4)))
hypot_p = elementwise(np.hypot, lambda g, out, x, y: g * x / out, lambda g, out, x, y: g * y / out,
                      spec=positive((3, 4), (4,)))
# g (1 - out^2), written without a Python-scalar operand (NumPy converts those on every call)
tanh_p = elementwise(np.tanh, lambda g, out, x: g - g * out * out,
                     spec=_with_complex(normal((3, 4)), _unary_complex(0.5)))
sinh_p = elementwise(np.sinh, lambda g, out, x: g * np.cosh(x), spec=_NORMAL_OR_COMPLEX)
cosh_p = elementwise(np.cosh, lambda g, out, x: g * np.sinh(x), spec=_NORMAL_OR_COMPLEX)
arcsinh_p = elementwise(np.arcsinh, lambda g, out, x: g / np.sqrt(x * x + 1.0),
                        spec=_with_complex(normal((3, 4)), _small_complex))


def _arccosh_spec(rng):
    """Real samples in [1.5, 3]; complex ones off the branch cut (the real axis below 1) on
    both sides of 0, where 1/sqrt(z^2 - 1) would have the wrong sign."""
    imag = rng.uniform(0.3, 1.5, (3, 4)) * np.where(rng.standard_normal((3, 4)) > 0, 1, -1)
    return [Sample(rng.uniform(1.5, 3.0, (3, 4))),
            Sample(rng.uniform(-3.0, 3.0, (3, 4)) + 1j * imag)]


# d arccosh(z)/dz = 1 / (sqrt(z - 1) sqrt(z + 1)), which equals 1 / sqrt(z^2 - 1) only for
# Re z > 0 (principal branches).
arccosh_p = elementwise(np.arccosh, lambda g, out, x: g / (np.sqrt(x - 1.0) * np.sqrt(x + 1.0)),
                        spec=_arccosh_spec)
arctanh_p = elementwise(np.arctanh, lambda g, out, x: g / (1.0 - x * x), spec=_UNIT_OR_COMPLEX)

# --- piecewise: abs, maximum/minimum, fmax/fmin ---------------------------------------------

def _absolute_partial(g, out, x):
    """Real: d|x|/dx = sign(x), so 0 at x = 0. Complex: the cotangent of |z| is g conj(z) / |z|
    (d|z| = Re(conj(z) dz) / |z|), taken as 0 at z = 0; written without np.sign, which is not
    differentiated, since conj(z) / |z| has a second derivative."""
    if dtype_of(x).kind != "c":
        return g * np.sign(x)
    nonzero = np.asarray(plain(out)) != 0   # (a Python number too)
    if nonzero.all():
        return g * np.conjugate(x) / out
    return np.where(nonzero, g * np.conjugate(x) / np.where(nonzero, out, 1.0), 0.0)


absolute_p = elementwise(np.absolute, _absolute_partial,
                         spec=lambda rng: [Sample(away_from(rng, (3, 4))),
                                           Sample(_complex_polar(rng, (3, 4),
                                                                 max_angle=math.pi))])


def _tie_share(mine, other, out):
    """1 where `mine` won, 0.5 on ties, 0 where it lost (a plain mask of out's dtype)."""
    share = np.greater(mine, other) + 0.5 * np.equal(mine, other)
    return plain(share).astype(dtype_of(out))


# Convention: on ties (x == y) maximum and minimum give each input half of the gradient, so
# np.maximum(x, x) has derivative 1 and np.maximum(x, 0) (relu) has derivative 0.5 at x == 0.
maximum_p = elementwise(np.maximum, lambda g, out, x, y: g * _tie_share(x, y, out),
                        lambda g, out, x, y: g * _tie_share(y, x, out), spec=_distinct_pair,
                        real_only=True)
minimum_p = elementwise(np.minimum, lambda g, out, x, y: g * _tie_share(y, x, out),
                        lambda g, out, x, y: g * _tie_share(x, y, out), spec=_distinct_pair,
                        real_only=True)


def _nan_aware_share(winner_share, mine, other):
    """fmax/fmin ignore NaNs: the non-NaN input takes the whole gradient."""
    share = np.where(np.isnan(other), 1.0, np.where(np.isnan(mine), 0.0, winner_share))
    return share.astype(winner_share.dtype)


fmax_p = elementwise(np.fmax,
                     lambda g, out, x, y: g * _nan_aware_share(_tie_share(x, y, out), x, y),
                     lambda g, out, x, y: g * _nan_aware_share(_tie_share(y, x, out), y, x),
                     spec=_distinct_pair, real_only=True)
fmin_p = elementwise(np.fmin,
                     lambda g, out, x, y: g * _nan_aware_share(_tie_share(y, x, out), x, y),
                     lambda g, out, x, y: g * _nan_aware_share(_tie_share(x, y, out), y, x),
                     spec=_distinct_pair, real_only=True)


# --- clip and where (NumPy functions, not ufuncs) -------------------------------------------

def _clip_forward(x, low, high):
    out = np.clip(x, low, high)
    if dtype_of(out).kind == "c":
        refuse_complex("numpy.clip", out)
    return out, (x, low, high, out)


def _clip_vjp(g, cache, needed):
    """clip is minimum(maximum(x, low), high). Convention: inside [low, high] (bounds included)
    the gradient goes to x; below low it goes to low, above high to high (everywhere when
    low > high, as NumPy then returns high)."""
    x, low, high, out = cache
    x_value = plain(x)
    no = np.zeros(shape_of(out), bool)
    raised = x_value if low is None else np.maximum(x_value, plain(low))
    above = no if high is None else np.greater(raised, plain(high))
    below = no if low is None else np.less(x_value, plain(low)) & ~above
    inside = ~(below | above)
    zero = 0.0
    return (unbroadcast(np.where(inside, g, zero), x) if needed[0] else None,
            unbroadcast(np.where(below, g, zero), low) if needed[1] else None,
            unbroadcast(np.where(above, g, zero), high) if needed[2] else None)


def _clip_spec(rng):
    x = away_from(rng, (3, 4), points=(-0.5, 0.5), gap=0.15)
    return [Sample(x, -0.5, 0.5),
            Sample(x, np.full(4, -0.5), np.array([0.5, 1.0, 2.0, 0.5]))]


clip_p = Primitive(_clip_forward, _clip_vjp, name="clip", selective_vjp=True, spec=_clip_spec)


def clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue,
         max=np._NoValue, **kwargs):
    reject_kwargs("clip", kwargs)
    if out is not None:
        reject_kwargs("clip", {"out": out})
    low = a_min if a_min is not np._NoValue else (None if min is np._NoValue else min)
    high = a_max if a_max is not np._NoValue else (None if max is np._NoValue else max)
    return clip_p(a, low, high)


register_function(np.clip, clip)


def _where_forward(condition, x, y):
    out = np.where(condition, x, y)
    return out, (condition, x, y)


def _where_vjp(g, cache, needed):
    condition, x, y = cache
    return (None,
            unbroadcast(np.where(condition, g, 0.0), x) if needed[1] else None,
            unbroadcast(np.where(condition, 0.0, g), y) if needed[2] else None)


where_p = Primitive(_where_forward, _where_vjp, name="where", selective_vjp=True,
                    spec=lambda rng: [Sample(rng.standard_normal((3, 4)) > 0,
                                             rng.standard_normal((3, 4)), rng.standard_normal(4)),
                                      Sample(rng.standard_normal((3, 4)) > 0,
                                             rng.standard_normal((3, 4)),
                                             complex_normal(rng, (4,)))])


def where(condition, x=np._NoValue, y=np._NoValue):
    if x is np._NoValue and y is np._NoValue:
        return np.where(plain(condition))   # indices: not differentiable
    if x is np._NoValue or y is np._NoValue:
        raise ValueError("numpy.where: either both or neither of x and y should be given")
    return where_p(plain(condition), x, y)


register_function(np.where, where)
