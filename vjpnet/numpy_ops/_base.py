"""Shared helpers of the NumPy primitives: undoing broadcasting, the elementwise-primitive
factory, argument checks and sample-input specs for the registry-driven test."""
import numpy as np

from vjpnet.registry import Primitive, Sample, register_ufunc
from vjpnet.tape import Traced

__all__ = ["unbroadcast", "sum_to_shape", "elementwise", "reject_kwargs", "normalize_axis",
           "normal", "positive", "away_from", "Sample", "Primitive"]


def unbroadcast(cotangent, x):
    """Sum `cotangent` over the axes along which `x` was broadcast; give it x's dtype.

    x: the input (array, NumPy scalar, traced value or Python float); cotangent: shape of the
    broadcast result. Returns an array of x's shape and dtype.
    """
    if type(x) is np.ndarray and type(cotangent) is np.ndarray and \
            cotangent.shape == x.shape and cotangent.dtype == x.dtype:
        return cotangent   # the common case: nothing was broadcast
    if type(x) is float or type(x) is int:
        return sum_to_shape(cotangent, (), None)
    return sum_to_shape(cotangent, x.shape, x.dtype)


def sum_to_shape(cotangent, shape, dtype):
    """Sum a broadcast cotangent back to `shape`, cast to `dtype` (None: keep its float dtype)."""
    if cotangent.shape != shape:
        extra = len(cotangent.shape) - len(shape)
        axes = tuple(range(extra)) + tuple(
            extra + axis for axis, size in enumerate(shape)
            if size == 1 and cotangent.shape[extra + axis] != 1)
        if axes:
            cotangent = np.sum(cotangent, axis=axes)
        if cotangent.shape != shape:
            cotangent = np.reshape(cotangent, shape)
    if dtype is not None and cotangent.dtype != dtype:
        cotangent = cotangent.astype(dtype)
    return cotangent


def elementwise(ufunc, *partials, spec, name=None):
    """Register `ufunc` as a primitive and route `ufunc(traced, ...)` to it.

    partials[i](g, out, *inputs) is the cotangent of input i before broadcasting is undone;
    it must use NumPy operations only (it runs on traced values under nested grad).
    """
    def forward(*inputs):
        out = ufunc(*inputs)
        return out, (inputs, out)

    if len(partials) == 1:   # unary: the hot path of elementwise chains, kept short
        (partial,) = partials

        def vjp(g, cache):
            (x,), out = cache
            cotangent = partial(g, out, x)
            if type(cotangent) is np.ndarray and type(x) is np.ndarray and \
                    cotangent.shape == x.shape and cotangent.dtype == x.dtype:
                return (cotangent,)
            return (unbroadcast(cotangent, x),)
        selective = False
    elif len(partials) == 2:
        partial_x, partial_y = partials

        def vjp(g, cache, needed):
            (x, y), out = cache
            return (unbroadcast(partial_x(g, out, x, y), x) if needed[0] else None,
                    unbroadcast(partial_y(g, out, x, y), y) if needed[1] else None)
        selective = True
    else:
        raise ValueError("elementwise: ufuncs with one or two inputs only")

    forward.__name__ = name or ufunc.__name__
    forward.__qualname__ = forward.__name__
    primitive = Primitive(forward, vjp, selective_vjp=selective, spec=spec)
    register_ufunc(ufunc, primitive)
    return primitive


def reject_kwargs(function_name, kwargs, **supported_defaults):
    """Raise TypeError for keyword arguments whose meaning vjpnet does not differentiate.

    A keyword passed with its default value (e.g. out=None) is accepted.
    """
    for key, value in kwargs.items():
        if key in supported_defaults and value is supported_defaults[key]:
            continue
        raise TypeError(
            f"numpy.{function_name}(..., {key}={_short(value)}) is not supported on traced "
            f"values by vjpnet (its gradient is not implemented); call it without {key}= "
            "(e.g. compute on a new array, or mask with np.where)")


def _short(value):
    text = repr(value) if type(value) is not Traced else "<traced>"
    return text if len(text) < 40 else text[:37] + "..."


def normalize_axis(axis, ndim, function_name):
    """axis (int, may be negative) -> 0 <= axis < ndim, else a ValueError naming the call."""
    if not -ndim <= axis < ndim:
        raise ValueError(f"numpy.{function_name}: axis {axis} is out of bounds for an array "
                         f"of dimension {ndim}")
    return axis % ndim


# --- sample inputs for the registry-driven test ----------------------------------------------

def normal(*shapes):
    """Spec: standard normal arrays of the given shapes."""
    return lambda rng: Sample(*[rng.standard_normal(shape) for shape in shapes])


def positive(*shapes, low=0.5, high=2.0):
    """Spec: uniform arrays in [low, high]."""
    return lambda rng: Sample(*[rng.uniform(low, high, shape) for shape in shapes])


def away_from(rng, shape, points=(0.0,), gap=0.2, scale=1.5):
    """Normal samples with every element at least `gap` away from each of `points`."""
    x = rng.standard_normal(shape) * scale
    for point in points:
        close = np.abs(x - point) < gap
        x = np.where(close, point + np.where(x >= point, gap, -gap) * 1.5, x)
    return x
