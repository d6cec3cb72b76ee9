"""numpy.fft: fft, ifft, rfft, irfft as primitives; hfft, ihfft, the 2-D and n-D transforms,
fftshift and ifftshift built from them exactly as NumPy builds them (one 1-D transform per
axis, the same n / s cropping and zero padding, the same norm).

Every transform is linear, so each VJP is the transpose of the map under the pairing
Re(sum(c * dy)) of numpy_ops/__init__.py (no conjugate):
    fft, ifft   the DFT matrix is symmetric: the VJP is the same transform of g (same norm),
                then the zero padding / cropping of the input undone (crop / zero-pad back)
    rfft        Re(DFT^T (g zero-extended to n bins)) = irfft(conj(g) / w, n, norm=dual)
    irfft       conj(rfft(g, norm=dual)) * w
where dual swaps "backward" and "forward" (the scale 1/n moves to the other direction) and
w = 2 on the bins that stand for two conjugate frequencies, 1 on the DC bin and, for even n, on
the Nyquist bin: irfft reads only the real part of those two, which the real cotangent there
expresses. float32 input gives complex64 and back, as NumPy.
"""
import operator
import warnings

import numpy as np

from vjpnet.numpy_ops._base import (Primitive, Sample, cast_cotangent, complex_normal, ndim_of,
                                    normalize_axis, reject_kwargs, shape_of)
from vjpnet.numpy_ops.indexing import getitem_p
from vjpnet.numpy_ops.shape import pad_constant_p
from vjpnet.registry import register_function
from vjpnet.tape import dtype_of

_DUAL_NORM = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


# --- helpers ----------------------------------------------------------------------------------

def _resize(x, axis, length):
    """x cropped, or zero-padded at the end, along `axis` to `length`."""
    current = shape_of(x)[axis]
    if current > length:
        return getitem_p(x, (slice(None),) * axis + (slice(0, length),))
    if current < length:
        widths = [(0, 0)] * ndim_of(x)
        widths[axis] = (0, length - current)
        return pad_constant_p(x, tuple(widths))
    return x


def _half_spectrum_weights(n, axis, ndim, dtype):
    """w of the module docstring, shaped to broadcast along `axis` of an ndim-array."""
    bins = n // 2 + 1
    weights = np.full(bins, 2.0, dtype=dtype)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    return weights.reshape((bins,) + (1,) * (ndim - 1 - axis))


def _real_dtype(dtype):
    return np.finfo(dtype).dtype


def _check_1d_args(function_name, a, n, axis, norm, out, default_n):
    """(n, axis) checked and normalized; NumPy's meaning of n=None is `default_n(length)`."""
    if out is not None:
        reject_kwargs(function_name, {"out": out})
    if norm not in _DUAL_NORM:
        raise ValueError(f"numpy.fft.{function_name}: invalid norm value {norm!r}; should be "
                         '"backward", "ortho" or "forward"')
    axis = normalize_axis(operator.index(axis), ndim_of(a), f"fft.{function_name}")
    n = default_n(shape_of(a)[axis]) if n is None else operator.index(n)
    if n < 1:
        raise ValueError(f"numpy.fft.{function_name}: invalid number of FFT data points ({n}) "
                         f"along axis {axis} (input shape {shape_of(a)})")
    return n, axis


# --- the four 1-D transforms ------------------------------------------------------------------

def _complex_transform(numpy_function, name):
    """fft / ifft: a primitive whose VJP is the same transform, then the input's length."""
    def forward(a, n, axis, norm):
        out = numpy_function(a, n, axis, norm)
        axis %= ndim_of(a)
        return out, (shape_of(a)[axis], axis, norm, dtype_of(a))

    def vjp(g, cache):
        length, axis, norm, dtype = cache
        cotangent = primitive(g, None, axis, norm)
        return (cast_cotangent(_resize(cotangent, axis, length), dtype),)

    forward.__name__ = forward.__qualname__ = name
    primitive = Primitive(forward, vjp, name=name, linear=True,
                          spec=lambda rng: [Sample(complex_normal(rng, (3, 5)), None, -1, None),
                                            Sample(rng.standard_normal((4, 3)), 6, 0, "ortho"),
                                            Sample(complex_normal(rng, (3, 6)), 4, 1, "forward")])
    return primitive


fft_p = _complex_transform(np.fft.fft, "fft")
ifft_p = _complex_transform(np.fft.ifft, "ifft")


def _rfft_forward(a, n, axis, norm):
    out = np.fft.rfft(a, n, axis, norm)
    axis %= ndim_of(a)
    length = shape_of(a)[axis]
    return out, (length, length if n is None else n, axis, norm, dtype_of(a))


def _rfft_vjp(g, cache):
    length, n, axis, norm, dtype = cache
    weights = _half_spectrum_weights(n, axis, ndim_of(g), _real_dtype(dtype_of(g)))
    cotangent = irfft_p(np.conjugate(g) / weights, n, axis, _DUAL_NORM[norm])
    return (cast_cotangent(_resize(cotangent, axis, length), dtype),)


rfft_p = Primitive(_rfft_forward, _rfft_vjp, name="rfft", linear=True,
                   spec=lambda rng: [Sample(rng.standard_normal((3, 6)), 6, -1, None),
                                     Sample(rng.standard_normal((3, 5)), 5, 1, "ortho"),
                                     Sample(rng.standard_normal((4, 3)), 7, 0, "forward"),
                                     Sample(rng.standard_normal((3, 9)), 6, 1, None)])


def _irfft_forward(a, n, axis, norm):
    out = np.fft.irfft(a, n, axis, norm)
    axis %= ndim_of(a)
    return out, (shape_of(a)[axis], shape_of(out)[axis], axis, norm, dtype_of(a))


def _irfft_vjp(g, cache):
    length, n, axis, norm, dtype = cache
    weights = _half_spectrum_weights(n, axis, ndim_of(g), dtype_of(g))
    cotangent = np.conjugate(rfft_p(g, n, axis, _DUAL_NORM[norm])) * weights
    return (cast_cotangent(_resize(cotangent, axis, length), dtype),)


irfft_p = Primitive(_irfft_forward, _irfft_vjp, name="irfft", linear=True,
                    spec=lambda rng: [Sample(complex_normal(rng, (3, 4)), 6, -1, None),
                                      Sample(complex_normal(rng, (3, 4)), 7, 1, "ortho"),
                                      Sample(complex_normal(rng, (5, 2)), 4, 0, "forward"),
                                      Sample(complex_normal(rng, (2, 6)), 5, 1, None),
                                      Sample(rng.standard_normal((2, 4)), 6, 1, None)])


def _full_length(length):
    return length


def _hermitian_length(length):
    return 2 * (length - 1)


def fft(a, n=None, axis=-1, norm=None, out=None):
    n, axis = _check_1d_args("fft", a, n, axis, norm, out, _full_length)
    return fft_p(a, n, axis, norm)


def ifft(a, n=None, axis=-1, norm=None, out=None):
    n, axis = _check_1d_args("ifft", a, n, axis, norm, out, _full_length)
    return ifft_p(a, n, axis, norm)


_COMPLEX_COUNTERPART = {"rfft": "fft", "rfft2": "fft2", "rfftn": "fftn", "ihfft": "ifft"}


def _check_real_input(function_name, a):
    if dtype_of(a).kind == "c":
        raise TypeError(f"numpy.fft.{function_name} takes a real input, got {dtype_of(a)}: use "
                        f"the complex transform np.fft.{_COMPLEX_COUNTERPART[function_name]}, "
                        f"or np.fft.{function_name}(np.real(x))")


def rfft(a, n=None, axis=-1, norm=None, out=None):
    n, axis = _check_1d_args("rfft", a, n, axis, norm, out, _full_length)
    _check_real_input("rfft", a)
    return rfft_p(a, n, axis, norm)


def irfft(a, n=None, axis=-1, norm=None, out=None):
    n, axis = _check_1d_args("irfft", a, n, axis, norm, out, _hermitian_length)
    return irfft_p(a, n, axis, norm)


def hfft(a, n=None, axis=-1, norm=None, out=None):
    """The FFT of a Hermitian-symmetric signal given by its first half: irfft(conj(a)) with the
    dual norm, as NumPy computes it."""
    n, axis = _check_1d_args("hfft", a, n, axis, norm, out, _hermitian_length)
    return irfft_p(np.conjugate(a), n, axis, _DUAL_NORM[norm])


def ihfft(a, n=None, axis=-1, norm=None, out=None):
    """The inverse of hfft: conj(rfft(a)) with the dual norm, as NumPy computes it."""
    n, axis = _check_1d_args("ihfft", a, n, axis, norm, out, _full_length)
    _check_real_input("ihfft", a)
    return np.conjugate(rfft_p(a, n, axis, _DUAL_NORM[norm]))


# --- n-D transforms: one 1-D transform per axis, in NumPy's order -----------------------------

def _shape_and_axes(function_name, a, s, axes, out, inverse_real=False):
    """NumPy's (s, axes) for an n-D transform, with its deprecation warnings."""
    if out is not None:
        reject_kwargs(function_name, {"out": out})
    shape = shape_of(a)
    shapeless = s is None
    if shapeless:
        s = list(shape) if axes is None else [shape[operator.index(axis)] for axis in axes]
    s = list(s)
    if axes is None:
        if not shapeless:
            warnings.warn(f"numpy.fft.{function_name}: `axes` should not be `None` if `s` is "
                          "not `None` (deprecated in NumPy 2.0); pass axes explicitly",
                          DeprecationWarning, stacklevel=3)
        axes = list(range(-len(s), 0))
    axes = [normalize_axis(operator.index(axis), len(shape), f"fft.{function_name}")
            for axis in axes]
    if len(s) != len(axes):
        raise ValueError(f"numpy.fft.{function_name}: shape s={s} and axes={axes} have "
                         "different lengths")
    if inverse_real and shapeless:
        s[-1] = (shape[axes[-1]] - 1) * 2
    if None in s:
        warnings.warn(f"numpy.fft.{function_name}: None in `s` is deprecated in NumPy 2.0; "
                      "pass the length (or -1 for the whole input)", DeprecationWarning,
                      stacklevel=3)
    s = [shape[axis] if size == -1 else size for size, axis in zip(s, axes)]
    return s, axes


def fftn(a, s=None, axes=None, norm=None, out=None):
    s, axes = _shape_and_axes("fftn", a, s, axes, out)
    for size, axis in reversed(list(zip(s, axes))):
        a = fft(a, size, axis, norm)
    return a


def ifftn(a, s=None, axes=None, norm=None, out=None):
    s, axes = _shape_and_axes("ifftn", a, s, axes, out)
    for size, axis in reversed(list(zip(s, axes))):
        a = ifft(a, size, axis, norm)
    return a


def rfftn(a, s=None, axes=None, norm=None, out=None):
    _check_real_input("rfftn", a)
    s, axes = _shape_and_axes("rfftn", a, s, axes, out)
    a = rfft(a, s[-1], axes[-1], norm)
    for size, axis in reversed(list(zip(s[:-1], axes[:-1]))):
        a = fft(a, size, axis, norm)
    return a


def irfftn(a, s=None, axes=None, norm=None, out=None):
    s, axes = _shape_and_axes("irfftn", a, s, axes, out, inverse_real=True)
    for size, axis in zip(s[:-1], axes[:-1]):
        a = ifft(a, size, axis, norm)
    return irfft(a, s[-1], axes[-1], norm)


def fft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    return fftn(a, s, axes, norm, out)


def ifft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    return ifftn(a, s, axes, norm, out)


def rfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    _check_real_input("rfft2", a)
    return rfftn(a, s, axes, norm, out)


def irfft2(a, s=None, axes=(-2, -1), norm=None, out=None):
    return irfftn(a, s, axes, norm, out)


# --- fftshift, ifftshift: rolls -----------------------------------------------------------------

def _shifts(x, axes, sign):
    shape = shape_of(x)
    if axes is None:
        axes = tuple(range(len(shape)))
    elif ndim_of(axes) == 0:
        return sign * (shape[axes] // 2), axes
    return tuple(sign * (shape[axis] // 2) for axis in axes), tuple(axes)


def fftshift(x, axes=None):
    shift, axes = _shifts(x, axes, 1)
    return np.roll(x, shift, axes)


def ifftshift(x, axes=None):
    shift, axes = _shifts(x, axes, -1)
    return np.roll(x, shift, axes)


for _function, _handler in [
        (np.fft.fft, fft), (np.fft.ifft, ifft), (np.fft.rfft, rfft), (np.fft.irfft, irfft),
        (np.fft.hfft, hfft), (np.fft.ihfft, ihfft), (np.fft.fftn, fftn), (np.fft.ifftn, ifftn),
        (np.fft.rfftn, rfftn), (np.fft.irfftn, irfftn), (np.fft.fft2, fft2),
        (np.fft.ifft2, ifft2), (np.fft.rfft2, rfft2), (np.fft.irfft2, irfft2),
        (np.fft.fftshift, fftshift), (np.fft.ifftshift, ifftshift)]:
    register_function(_function, _handler)
