"""scipy.signal inside grad: convolve, with SciPy's signature.

convolve(in1, in2, mode) is differentiable in both inputs, real or complex, to any order. One
primitive computes the full convolution (SciPy's, on plain arrays); "valid" and "same" are
centred slices of it, as SciPy defines them. The full convolution y = a * b is bilinear, and its
VJPs are full convolutions again, sliced:
    a_bar = (g * flip(b))[n_b - 1 : n_b - 1 + n_a]   (along every axis)
    b_bar = (g * flip(a))[n_a - 1 : n_a - 1 + n_b]
"""
import numpy as np
import scipy.signal as _signal

from vjpnet.numpy_ops._base import Primitive, Sample, cast_cotangent, complex_normal
from vjpnet.tape import Traced, dtype_of, plain

__all__ = ["convolve"]

_MODES = ("full", "valid", "same")


def _is_traced(*values):
    return any(type(value) is Traced for value in values)


def _slices(starts, lengths):
    return tuple(slice(start, start + length) for start, length in zip(starts, lengths))


def _convolve_full_forward(a, b):
    out = convolve_full_p(a, b) if _is_traced(a, b) else _signal.convolve(a, b, mode="full")
    return out, (a, b)


def _convolve_full_vjp(g, cache, needed):
    a, b = cache
    a_shape, b_shape = np.shape(plain(a)), np.shape(plain(b))
    a_bar = b_bar = None
    if needed[0]:
        full = convolve_full_p(g, np.flip(b))
        a_bar = cast_cotangent(full[_slices([n - 1 for n in b_shape], a_shape)], dtype_of(a))
    if needed[1]:
        full = convolve_full_p(g, np.flip(a))
        b_bar = cast_cotangent(full[_slices([n - 1 for n in a_shape], b_shape)], dtype_of(b))
    return a_bar, b_bar


convolve_full_p = Primitive(
    _convolve_full_forward, _convolve_full_vjp, name="convolve", selective_vjp=True,
    spec=lambda rng: [Sample(rng.standard_normal(5), rng.standard_normal(3)),
                      Sample(rng.standard_normal((4, 3)), rng.standard_normal((2, 5))),
                      Sample(complex_normal(rng, (3, 2)), rng.standard_normal((2, 2))),
                      Sample(complex_normal(rng, (4,)), complex_normal(rng, (2,)))])


def convolve(in1, in2, mode="full", method="auto"):
    """The N-dimensional convolution of in1 and in2 (the same number of axes), as
    scipy.signal.convolve.

    mode "full": shape n1 + n2 - 1 per axis; "valid": n1 - n2 + 1 (one input at least as large
    as the other along every axis); "same": in1's shape, centred. method is SciPy's on plain
    arrays; traced values use SciPy's automatic choice.
    """
    if mode not in _MODES:
        raise ValueError(f"vjpnet.scipy.signal.convolve: mode must be one of {_MODES}, got "
                         f"{mode!r}")
    if not _is_traced(in1, in2):
        return _signal.convolve(in1, in2, mode=mode, method=method)
    in1 = in1 if type(in1) is Traced else np.asarray(in1)
    in2 = in2 if type(in2) is Traced else np.asarray(in2)
    shape1, shape2 = np.shape(plain(in1)), np.shape(plain(in2))
    if len(shape1) != len(shape2):
        raise ValueError(f"vjpnet.scipy.signal.convolve: in1 and in2 should have the same "
                         f"dimensionality, got shapes {shape1} and {shape2}")
    if not shape1:
        return in1 * in2
    if 0 in shape1 or 0 in shape2:
        raise ValueError(f"vjpnet.scipy.signal.convolve: an empty input (shapes {shape1} and "
                         f"{shape2}) has no differentiable convolution")
    full = convolve_full_p(in1, in2)
    if mode == "full":
        return full
    if mode == "same":
        lengths = shape1
    elif all(n1 >= n2 for n1, n2 in zip(shape1, shape2)):
        lengths = tuple(n1 - n2 + 1 for n1, n2 in zip(shape1, shape2))
    elif all(n2 >= n1 for n1, n2 in zip(shape1, shape2)):
        lengths = tuple(n2 - n1 + 1 for n1, n2 in zip(shape1, shape2))
    else:
        raise ValueError(f"vjpnet.scipy.signal.convolve: for 'valid' mode, one input must be at "
                         f"least as large as the other along every axis, got shapes {shape1} "
                         f"and {shape2}")
    full_shape = np.shape(plain(full))
    return full[_slices([(n - k) // 2 for n, k in zip(full_shape, lengths)], lengths)]
