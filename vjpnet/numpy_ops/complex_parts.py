"""The parts of complex numbers: real, imag, conj/conjugate, angle, and sign of complex values
(abs is in elementwise).

None of them is holomorphic, so their VJPs are written out with the convention of
numpy_ops/__init__.py (a cotangent c of w pairs with a change dw as Re(c dw)):
    w = real(z)   cotangent g        (real g, as a complex number)
    w = imag(z)   cotangent -1j g
    w = conj(z)   cotangent conj(g)
    w = angle(z)  cotangent -1j g / z   (0 at z = 0)
On real inputs NumPy's real and conj return the input itself and imag returns zeros (a
constant), which is exactly their derivative; angle of a real input is piecewise constant.
np.sign of a real input is piecewise constant too (a plain result, like the other
non-differentiable functions), but of a complex input it is z / |z|, which is differentiated.
The ordered comparisons (<, <=, >, >=) refuse complex values: complex numbers are not ordered
(NumPy compares them lexicographically, which is rarely what a loss means).
"""
import math

import numpy as np

from vjpnet.numpy_ops._base import (Primitive, Sample, UfuncComposition, cast_cotangent,
                                    complex_normal, elementwise)
from vjpnet.registry import register_function, register_nondifferentiable, register_ufunc
from vjpnet.tape import dtype_of, plain


def _is_complex(x):
    return dtype_of(x).kind == "c"


def _complex_spec(rng):
    return [Sample(complex_normal(rng, (3, 4))), Sample(complex_normal(rng, ()))]


# --- conjugate (a ufunc) --------------------------------------------------------------------
# conj is its own transpose under the Re(c dw) pairing: the cotangent of conj(z) is conj(g).
conjugate_p = elementwise(np.conjugate, lambda g, out, x: np.conjugate(g),
                          spec=lambda rng: [Sample(complex_normal(rng, (3, 4))),
                                            Sample(rng.standard_normal((3, 4)))])


# --- real, imag -------------------------------------------------------------------------------

def _real_forward(z):
    return np.real(z), dtype_of(z)


real_p = Primitive(_real_forward, lambda g, dtype: (cast_cotangent(g, dtype),), name="real",
                   linear=True, spec=_complex_spec)


def _imag_forward(z):
    return np.imag(z), dtype_of(z)


imag_p = Primitive(_imag_forward, lambda g, dtype: (cast_cotangent(g * -1j, dtype),),
                   name="imag",
                   linear=True, spec=_complex_spec)


def real(val):
    """np.real: the real part of a complex value; a real value itself."""
    return real_p(val) if _is_complex(val) else val


def imag(val):
    """np.imag: the imaginary part of a complex value; zeros (a constant) for a real value."""
    return imag_p(val) if _is_complex(val) else np.imag(plain(val))


# --- angle ------------------------------------------------------------------------------------

def _angle_forward(z, deg=False):
    out = np.angle(z, deg)
    return out, (z, out, deg)


def _angle_vjp(g, cache):
    """d angle(z) = Im(dz / z) = Re(-1j dz / z); the derivative is taken as 0 at z = 0."""
    z, out, deg = cache
    nonzero = np.asarray(plain(z)) != 0   # (a Python number too)
    safe = z if nonzero.all() else np.where(nonzero, z, 1.0)
    scale = 180.0 / math.pi if deg else 1.0
    cotangent = (g * (-1j * scale)) / safe
    return (cotangent if nonzero.all() else np.where(nonzero, cotangent, 0.0),)


angle_p = Primitive(_angle_forward, _angle_vjp, name="angle",
                    spec=lambda rng: [Sample(complex_normal(rng, (3, 4))),
                                      Sample(complex_normal(rng, (4,)), deg=True)])


def angle(z, deg=False):
    """np.angle; of a real input a constant (0 or pi: its derivative is 0 away from 0)."""
    if not _is_complex(z):
        return np.angle(plain(z), deg)
    return angle_p(z, deg=bool(deg))


# --- sign -------------------------------------------------------------------------------------

def sign(x):
    """np.sign: a constant for real x; z / |z| (0 at 0) for complex z, as NumPy 2 defines it."""
    if not _is_complex(x):
        return np.sign(plain(x))
    nonzero = np.asarray(plain(x)) != 0   # (a Python number too)
    if nonzero.all():
        return x / np.abs(x)
    return np.where(nonzero, x / np.where(nonzero, np.abs(x), 1.0), 0.0)


register_ufunc(np.sign, UfuncComposition(sign))


# --- ordered comparisons ----------------------------------------------------------------------

def _ordered_comparison(ufunc):
    """ufunc(x, y) on plain values (a constant mask); TypeError for complex operands."""
    def compare(x, y):
        x, y = plain(x), plain(y)
        if np.iscomplexobj(x) or np.iscomplexobj(y):
            raise TypeError(
                f"numpy.{ufunc.__name__} (or its operator) got a complex operand on a traced path: "
                "complex numbers are not ordered (NumPy would compare them lexicographically, "
                "real part first). Compare np.real(z), np.imag(z) or np.abs(z) instead")
        return ufunc(x, y)
    compare.__name__ = ufunc.__name__
    return compare


for _ufunc in (np.less, np.less_equal, np.greater, np.greater_equal):
    register_ufunc(_ufunc, UfuncComposition(_ordered_comparison(_ufunc)))
for _function, _handler in [(np.real, real), (np.imag, imag), (np.angle, angle)]:
    register_function(_function, _handler)
register_nondifferentiable(np.iscomplex)
