"""Shared helpers of the NumPy primitives: undoing broadcasting, the elementwise-primitive
factory, argument checks and sample-input specs for the registry-driven test."""
import operator

import numpy as np

from vjpnet.registry import Primitive, Sample, register_ufunc
from vjpnet.tape import (_NO_KWARGS, Traced, apply_binary, apply_unary, bind, dtype_of)

__all__ = ["AxisError", "unbroadcast", "sum_to_shape", "cast_cotangent", "elementwise",
           "refuse_complex", "refusing_complex", "reject_kwargs", "normalize_axis",
           "normalize_axes", "array_dtype", "as_dtype", "real_dtype", "normal", "complex_normal",
           "positive", "away_from", "Sample", "Primitive", "IDENTITY", "UfuncComposition",
           "shape_of", "ndim_of", "as_array"]


def unbroadcast(cotangent, x):
    """Sum `cotangent` over the axes along which `x` was broadcast; give it x's dtype.

    x: the input (array, NumPy scalar, traced value or Python float); cotangent: shape of the
    broadcast result. Returns an array of x's shape and dtype (the real part of a complex
    cotangent when x is real).
    """
    if type(x) is np.ndarray and type(cotangent) is np.ndarray and \
            cotangent.shape == x.shape and cotangent.dtype == x.dtype:
        return cotangent   # the common case: nothing was broadcast
    if type(x) is float or type(x) is int:
        return sum_to_shape(cotangent, (), None)
    if type(x) is complex:
        return sum_to_shape(cotangent, (), _COMPLEX128)
    return sum_to_shape(cotangent, x.shape, x.dtype)


def sum_to_shape(cotangent, shape, dtype):
    """Sum a broadcast cotangent back to `shape`, cast to `dtype` (None: a Python float's
    cotangent, which keeps its float dtype). A real dtype takes the real part of a complex
    cotangent: the input moved only along the real axis."""
    got = cotangent.shape
    if got != shape:
        extra = len(got) - len(shape)
        if extra:   # leading axes that broadcasting added
            cotangent = cotangent.sum(axis=tuple(range(extra)))
        stretched = tuple(axis for axis, size in enumerate(shape)
                          if size == 1 and got[extra + axis] != 1)
        if stretched:   # axes of size 1 that broadcasting stretched
            cotangent = cotangent.sum(axis=stretched, keepdims=True)
        if cotangent.shape != shape:
            cotangent = cotangent.reshape(shape)
    if dtype is None:
        return np.real(cotangent) if dtype_of(cotangent).kind == "c" else cotangent
    return cotangent if cotangent.dtype == dtype else cast_cotangent(cotangent, dtype)


def cast_cotangent(cotangent, dtype):
    """`cotangent` as `dtype`: the real part first when dtype is real and the cotangent complex
    (differentiable: np.real and astype dispatch on traced values)."""
    if dtype.kind != "c" and dtype_of(cotangent).kind == "c":
        cotangent = np.real(cotangent)
    return cotangent if dtype_of(cotangent) == dtype else cotangent.astype(dtype)


ndarray = np.ndarray
_COMPLEX128 = np.dtype(np.complex128)
IDENTITY = object()   # a partial that passes the cotangent through unchanged


class UfuncPrimitive(Primitive):
    """A primitive for a NumPy ufunc: its forward is `ufunc(*inputs)` with the cache
    `(*inputs, out)` and it has no nondiff arguments, so the tape's fast paths
    (tape.apply_unary / apply_binary, through its fast_ufunc) record it directly for one level
    of grad, every traced argument on the same tape, exactly as Primitive.bind would; anything
    else goes through bind. apply1(x) / apply2(x, y) are those entry points.

    Its VJPs return cotangents of the right shape and dtype by construction (unbroadcast), so
    the reverse sweep skips re-checking them (check_cotangents = False).
    """

    __slots__ = ()
    apply1 = apply_unary
    apply2 = apply_binary

    def __init__(self, ufunc, forward, vjp, **options):
        super().__init__(forward, vjp, **options)
        self.fast_ufunc = ufunc
        self.check_cotangents = False

    def apply(self, args):
        count = len(args)
        if count == 1:
            return apply_unary(self, args[0])
        if count == 2:
            return apply_binary(self, args[0], args[1])
        return bind(self, args, _NO_KWARGS)[0]


class UfuncComposition:
    """Routes `ufunc(traced, ...)` to `function`, a function of the same arguments built from
    primitives (what register_function does for NumPy functions), through the entry points
    Traced.__array_ufunc__ calls on a ufunc's primitive."""

    __slots__ = ("function",)

    def __init__(self, function):
        self.function = function

    def apply(self, args):
        return self.function(*args)

    def apply1(self, x):
        return self.function(x)

    def apply2(self, x, y):
        return self.function(x, y)

    def bind(self, args, kwargs):   # kwargs: Traced.__array_ufunc__ accepts only None values
        return self.function(*args), None


def elementwise(ufunc, *partials, spec, name=None, real_only=False):
    """Register `ufunc` as a primitive and route `ufunc(traced, ...)` to it.

    partials[i](g, out, *inputs) is the cotangent of input i before broadcasting is undone;
    it must use NumPy operations only (it runs on traced values under nested grad). The
    partial IDENTITY means "g itself" (add, subtract's first input). For complex values a
    partial is g times the holomorphic derivative (no conjugate); see numpy_ops/__init__.py.
    real_only: the ufunc has no derivative for complex values (maximum: complex numbers are not
    ordered), and a complex result raises TypeError instead of being differentiated.
    The forward's cache is (*inputs, out).
    """
    if real_only:
        ufunc = refusing_complex(ufunc)
    if len(partials) == 1:   # unary: the hot path of elementwise chains, kept short
        (partial,) = partials

        def forward(x):
            out = ufunc(x)
            return out, (x, out)

        def vjp(g, cache):
            x, out = cache
            return (partial(g, out, x),)   # same shape and dtype as x: nothing to undo
        selective = False
    elif len(partials) == 2:
        partial_x, partial_y = partials

        def forward(x, y):
            out = ufunc(x, y)
            return out, (x, y, out)

        def vjp(g, cache, needed):
            x, y, out = cache
            dx = dy = None
            if needed[0]:
                dx = g if partial_x is IDENTITY else partial_x(g, out, x, y)
                if not (type(dx) is ndarray and type(x) is ndarray and dx.shape == x.shape
                        and dx.dtype == x.dtype):
                    dx = unbroadcast(dx, x)
            if needed[1]:
                dy = g if partial_y is IDENTITY else partial_y(g, out, x, y)
                if not (type(dy) is ndarray and type(y) is ndarray and dy.shape == y.shape
                        and dy.dtype == y.dtype):
                    dy = unbroadcast(dy, y)
            return dx, dy
        selective = True
    else:
        raise ValueError("elementwise: ufuncs with one or two inputs only")

    forward.__name__ = forward.__qualname__ = name or ufunc.__name__
    primitive = UfuncPrimitive(ufunc, forward, vjp, selective_vjp=selective, spec=spec)
    register_ufunc(getattr(ufunc, "__wrapped__", ufunc), primitive)
    return primitive


def refusing_complex(ufunc, public_name=None):
    """ufunc, raising a clear TypeError (naming public_name, default numpy.<name>) when its
    result is complex: for ufuncs whose VJP holds for real values only."""
    public_name = public_name or f"numpy.{ufunc.__name__}"

    def checked(*args):
        out = ufunc(*args)
        if dtype_of(out).kind == "c":
            refuse_complex(public_name, out)
        return out
    checked.__name__ = ufunc.__name__
    checked.__wrapped__ = ufunc
    return checked


def refuse_complex(function_name, value, why="complex numbers are not ordered"):
    """Raise TypeError: `function_name` has no derivative for the complex `value`."""
    raise TypeError(
        f"{function_name} got a complex value (dtype {dtype_of(value)}) on a traced path; it has "
        f"no derivative for complex numbers ({why}). Apply it to np.real(z), np.imag(z) or "
        "np.abs(z) instead")


def shape_of(x):
    """x.shape for arrays and traced values (without NumPy's dispatch); np.shape otherwise."""
    shape = getattr(x, "shape", None)
    return np.shape(x) if shape is None else shape


def ndim_of(x):
    """len(shape_of(x))."""
    return len(shape_of(x))


def as_array(x):
    """A Python float or complex as a NumPy float64 or complex128 scalar (which has the array
    methods); else x."""
    if type(x) is float:
        return np.float64(x)
    return np.complex128(x) if type(x) is complex else x


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


AxisError = getattr(np, "exceptions", np).AxisError   # a ValueError and an IndexError


def normalize_axis(axis, ndim, function_name):
    """axis (int, may be negative) -> 0 <= axis < ndim, else NumPy's AxisError (a ValueError)
    naming the call."""
    if not -ndim <= axis < ndim:
        raise AxisError(f"numpy.{function_name}: axis {axis} is out of bounds for an array "
                        f"of dimension {ndim}")
    return axis % ndim


def normalize_axes(axis, ndim, function_name):
    """An int or a sequence of ints -> a tuple of axes in [0, ndim), as NumPy's
    normalize_axis_tuple: AxisError when out of bounds, ValueError when repeated."""
    axes = (axis,) if ndim_of(axis) == 0 else tuple(axis)
    axes = tuple(normalize_axis(operator.index(a), ndim, function_name) for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"numpy.{function_name}: repeated axis in {axis!r}")
    return axes


def array_dtype(value):
    """The dtype of `value` as an array: NumPy functions that convert their arguments with
    np.asarray promote with this one (a Python float is float64 there, not a weak scalar)."""
    if hasattr(value, "dtype") or type(value) is float or type(value) is complex:
        return dtype_of(value)
    return np.asarray(value).dtype


def as_dtype(x, dtype):
    """x (traced or not) cast to `dtype`, itself when it has that dtype already; anything else
    (lists, Python numbers) converted with np.asarray."""
    if type(x) is not Traced and not isinstance(x, np.ndarray):
        x = np.asarray(x)
    return x if dtype_of(x) == dtype else x.astype(dtype)


def real_dtype(dtype):
    """float32 for complex64, float64 for complex128; a real dtype itself."""
    dtype = np.dtype(dtype)
    return np.finfo(dtype).dtype if dtype.kind == "c" else dtype


# --- sample inputs for the registry-driven test ----------------------------------------------

def normal(*shapes):
    """Spec: standard normal arrays of the given shapes."""
    return lambda rng: Sample(*[rng.standard_normal(shape) for shape in shapes])


def complex_normal(rng, shape, scale=1.0):
    """A complex128 sample whose real and imaginary parts are standard normal times `scale`."""
    return np.asarray((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) * scale)


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
