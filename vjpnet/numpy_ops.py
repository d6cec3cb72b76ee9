"""NumPy primitives with VJPs, and the routing of NumPy calls on traced values to them.

Every VJP here is written with NumPy operations, so on traced values it is itself recorded and
differentiable: nested `grad` gives exact higher derivatives.

Conventions (subgradients): maximum/minimum and max/min reductions split the gradient equally
among tied elements.
"""
import numpy as np

from vjpnet.registry import Primitive, Sample, register_function, register_nondifferentiable, \
    register_ufunc
from vjpnet.tape import FUNCTION_HANDLERS, dtype_of


def unbroadcast(cotangent, x):
    """Sum `cotangent` over the axes along which `x` was broadcast; give it x's dtype.

    x: the input (array, NumPy scalar or Python float); cotangent: shape of the broadcast result.
    """
    if type(x) is np.ndarray and type(cotangent) is np.ndarray and \
            cotangent.shape == x.shape and cotangent.dtype == x.dtype:
        return cotangent   # the common case: nothing was broadcast
    shape = () if type(x) is float else x.shape
    if cotangent.shape != shape:
        extra = len(cotangent.shape) - len(shape)
        axes = tuple(range(extra)) + tuple(
            extra + axis for axis, size in enumerate(shape)
            if size == 1 and cotangent.shape[extra + axis] != 1)
        if axes:
            cotangent = np.sum(cotangent, axis=axes)
        if cotangent.shape != shape:
            cotangent = np.reshape(cotangent, shape)
    if type(x) is not float and cotangent.dtype != x.dtype:
        cotangent = cotangent.astype(x.dtype)
    return cotangent


def _normal(*shapes):
    return lambda rng: Sample(*[rng.standard_normal(shape) for shape in shapes])


def _positive(*shapes):
    return lambda rng: Sample(*[rng.uniform(0.5, 2.0, shape) for shape in shapes])


# --- elementwise (ufuncs) -------------------------------------------------------------------

def elementwise(ufunc, *partials, spec, name=None):
    """Register `ufunc` as a primitive.

    partials[i](g, out, *inputs) is the cotangent of input i before broadcasting is undone.
    """
    def forward(*inputs, **kwargs):
        out = ufunc(*inputs, **kwargs)
        return out, (inputs, out)

    if len(partials) == 1:   # unary: the hot path of elementwise chains, kept short
        (partial,) = partials

        def vjp(g, cache, needed):
            (x,), out = cache
            return (unbroadcast(partial(g, out, x), x),)
    elif len(partials) == 2:
        partial_x, partial_y = partials

        def vjp(g, cache, needed):
            (x, y), out = cache
            return (unbroadcast(partial_x(g, out, x, y), x) if needed[0] else None,
                    unbroadcast(partial_y(g, out, x, y), y) if needed[1] else None)
    else:
        def vjp(g, cache, needed):
            inputs, out = cache
            return tuple(unbroadcast(partial(g, out, *inputs), x) if need else None
                         for partial, x, need in zip(partials, inputs, needed))

    forward.__name__ = name or ufunc.__name__
    primitive = Primitive(forward, vjp, selective_vjp=True, spec=spec)
    register_ufunc(ufunc, primitive)
    return primitive


BINARY = _normal((3, 4), (4,))

add = elementwise(np.add, lambda g, out, x, y: g, lambda g, out, x, y: g, spec=BINARY)
subtract = elementwise(np.subtract, lambda g, out, x, y: g, lambda g, out, x, y: -g,
                       spec=BINARY)
multiply = elementwise(np.multiply, lambda g, out, x, y: g * y, lambda g, out, x, y: g * x,
                       spec=BINARY)
true_divide = elementwise(np.true_divide, lambda g, out, x, y: g / y,
                          lambda g, out, x, y: -g * out / y,
                          spec=lambda rng: Sample(rng.standard_normal((3, 4)),
                                                  rng.uniform(0.5, 2.0, 4)))
register_ufunc(np.divide, true_divide)   # np.divide is np.true_divide; kept explicit
negative = elementwise(np.negative, lambda g, out, x: -g, spec=_normal((3,)))
power = elementwise(
    np.power,
    lambda g, out, x, y: g * y * x ** np.where(y == 0, 1.0, y - 1),
    lambda g, out, x, y: g * out * np.log(np.where(x > 0, x, 1.0)),
    spec=lambda rng: Sample(rng.uniform(0.5, 2.0, (3, 4)), rng.uniform(-2.0, 2.0, 4)))
square = elementwise(np.square, lambda g, out, x: 2 * g * x, spec=_normal((3, 4)))
exp = elementwise(np.exp, lambda g, out, x: g * out, spec=_normal((3, 4)))
log = elementwise(np.log, lambda g, out, x: g / x, spec=_positive((3, 4)))
tanh = elementwise(np.tanh, lambda g, out, x: g * (1 - out ** 2), spec=_normal((3, 4)))
sin = elementwise(np.sin, lambda g, out, x: g * np.cos(x), spec=_normal((3, 4)))
cos = elementwise(np.cos, lambda g, out, x: -g * np.sin(x), spec=_normal((3, 4)))


def _max_partial(first):
    def partial(g, out, x, y):
        mine, other = (x, y) if first else (y, x)
        win = np.greater(mine, other) + 0.5 * np.equal(mine, other)
        return g * win.astype(dtype_of(out))
    return partial


_DISTINCT = lambda rng: Sample(rng.standard_normal((3, 4)), rng.standard_normal(4))  # noqa: E731
maximum = elementwise(np.maximum, _max_partial(True), _max_partial(False), spec=_DISTINCT)
minimum = elementwise(np.minimum, lambda g, out, x, y: _max_partial(True)(g, out, y, x),
                      lambda g, out, x, y: _max_partial(True)(g, out, x, y), spec=_DISTINCT)

register_nondifferentiable(
    np.equal, np.not_equal, np.less, np.less_equal, np.greater, np.greater_equal,
    np.logical_and, np.logical_or, np.logical_not, np.isnan, np.isfinite, np.isinf,
    np.sign, np.floor, np.ceil, np.rint,
    np.shape, np.ndim, np.size, np.argmax, np.argmin, np.zeros_like, np.ones_like,
    np.result_type, np.iscomplexobj, np.isscalar)


# --- shape and dtype (linear: the VJP needs no input values) --------------------------------

def _reshape_forward(x, shape):
    return np.reshape(x, shape), np.shape(x)


reshape = Primitive(_reshape_forward, lambda g, shape: (np.reshape(g, shape), None),
                    name="reshape", spec=lambda rng: Sample(rng.standard_normal((2, 6)), (3, -1)))
register_function(np.reshape, lambda a, shape=None, *args, **kwargs: reshape(a, shape))


def _transpose_forward(x, axes=None):
    return np.transpose(x, axes), axes


def _transpose_vjp(g, axes):
    return (np.transpose(g, None if axes is None else np.argsort(axes)), None)


transpose = Primitive(_transpose_forward, _transpose_vjp, name="transpose",
                      spec=lambda rng: Sample(rng.standard_normal((2, 3, 4)), (1, 2, 0)))
register_function(np.transpose, lambda a, axes=None: transpose(a, axes))


def _broadcast_to_forward(x, shape):
    return np.broadcast_to(x, shape), x


broadcast_to = Primitive(_broadcast_to_forward, lambda g, x: (unbroadcast(g, x), None),
                         name="broadcast_to",
                         spec=lambda rng: Sample(rng.standard_normal((3, 1)), (2, 3, 4)))
register_function(np.broadcast_to, lambda array, shape, subok=False: broadcast_to(array, shape))


def _astype_forward(x, dtype):
    return x.astype(dtype), dtype_of(x)


astype = Primitive(_astype_forward, lambda g, dtype: (g.astype(dtype), None), name="astype",
                   spec=lambda rng: Sample(rng.standard_normal((3,)), np.float64))
FUNCTION_HANDLERS["astype"] = astype


# --- indexing ---------------------------------------------------------------------------------

def _is_basic_index(index):
    items = index if type(index) is tuple else (index,)
    return all(isinstance(item, (int, np.integer, slice)) or item is None or item is Ellipsis
               for item in items)


def _index_add_forward(g, index, shape):
    out = np.zeros(shape, dtype=dtype_of(g))
    if _is_basic_index(index):
        out[index] = g
    else:
        np.add.at(out, index, g)   # repeated indices accumulate
    return out, index


index_add = Primitive(_index_add_forward, lambda g, index: (g[index], None, None),
                      name="index_add", linear=True,
                      spec=lambda rng: Sample(rng.standard_normal(4), ([0, 2, 2, 1],), (3,)))


def _getitem_forward(x, index):
    return x[index], (index, np.shape(x))


def _getitem_vjp(g, cache):
    index, shape = cache
    return (index_add(g, index, shape), None)


getitem = Primitive(_getitem_forward, _getitem_vjp, name="getitem",
                    spec=lambda rng: [Sample(rng.standard_normal((3, 4)), (slice(1, 3), 2)),
                                      Sample(rng.standard_normal((3, 4)),
                                             (np.array([0, 2, 0]), np.array([1, 1, 1])))])
FUNCTION_HANDLERS["getitem"] = getitem


# --- reductions -----------------------------------------------------------------------------

def _reduced_axes(shape, axis):
    if axis is None:
        return set(range(len(shape)))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
    return {a % len(shape) for a in axes}


def _keepdims_shape(shape, axis):
    axes = _reduced_axes(shape, axis)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _reduced_shape(shape, axis):
    axes = _reduced_axes(shape, axis)
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _sum_forward(x, axis=None, keepdims=False):
    return np.sum(x, axis=axis, keepdims=keepdims), (np.shape(x), axis)


def _sum_vjp(g, cache):
    shape, axis = cache
    return (broadcast_to(np.reshape(g, _keepdims_shape(shape, axis)), shape),)


sum_ = Primitive(_sum_forward, _sum_vjp, name="sum",
                 spec=lambda rng: [Sample(rng.standard_normal((3, 4))),
                                   Sample(rng.standard_normal((3, 4, 2)), axis=(0, 2))])
register_function(np.sum, lambda a, axis=None, dtype=None, out=None, keepdims=False, **kw:
                  sum_(a, axis=axis, keepdims=keepdims))


def _mean(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    count = int(np.prod([a.shape[i] for i in _reduced_axes(a.shape, axis)]))
    return sum_(a, axis=axis, keepdims=keepdims) / count


register_function(np.mean, _mean)


def _max_forward(x, axis=None, keepdims=False):
    out = np.max(x, axis=axis, keepdims=True)
    share = np.equal(x, out)
    share = share / np.sum(share, axis=axis, keepdims=True)   # ties split the gradient equally
    result = out if keepdims else np.reshape(out, _reduced_shape(np.shape(x), axis))
    return result, (share.astype(dtype_of(x)), axis)


def _max_vjp(g, cache):
    share, axis = cache
    return (np.reshape(g, _keepdims_shape(share.shape, axis)) * share,)


amax = Primitive(_max_forward, _max_vjp, name="amax",
                 spec=lambda rng: [Sample(rng.standard_normal((3, 4))),
                                   Sample(rng.standard_normal((3, 4)), axis=1, keepdims=True)])
register_function(np.max, lambda a, axis=None, out=None, keepdims=False, **kw:
                  amax(a, axis=axis, keepdims=keepdims))
register_function(np.amax, FUNCTION_HANDLERS[np.max])
register_function(np.min, lambda a, axis=None, out=None, keepdims=False, **kw:
                  -amax(-a, axis=axis, keepdims=keepdims))
register_function(np.amin, FUNCTION_HANDLERS[np.min])


# --- products -------------------------------------------------------------------------------

def _matmul_forward(a, b):
    return np.matmul(a, b), (a, b)


def _matmul_vjp(g, cache, needed):
    a, b = cache
    a2 = np.reshape(a, (1, -1)) if a.ndim == 1 else a
    b2 = np.reshape(b, (-1, 1)) if b.ndim == 1 else b
    if a.ndim == 1:
        g = np.reshape(g, g.shape[:-1] + (1,) + g.shape[-1:])
    if b.ndim == 1:
        g = np.reshape(g, g.shape + (1,))
    da = db = None
    if needed[0]:
        da = unbroadcast(np.matmul(g, np.swapaxes(b2, -1, -2)) if b2.ndim > 2 else
                         np.matmul(g, b2.T), a2)
        da = np.reshape(da, a.shape) if a.ndim == 1 else da
    if needed[1]:
        db = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2) if a2.ndim > 2 else a2.T, g), b2)
        db = np.reshape(db, b.shape) if b.ndim == 1 else db
    return da, db


matmul = Primitive(_matmul_forward, _matmul_vjp, name="matmul", selective_vjp=True,
                   spec=lambda rng: [Sample(rng.standard_normal((3, 4)),
                                            rng.standard_normal((4, 2))),
                                     Sample(rng.standard_normal(4), rng.standard_normal((4, 2))),
                                     Sample(rng.standard_normal((2, 3, 4)),
                                            rng.standard_normal(4))])
register_ufunc(np.matmul, matmul)


def _dot(a, b, out=None):
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return a * b
    if np.ndim(b) > 2:
        raise TypeError("numpy.dot with a second argument of more than 2 dimensions has no VJP "
                        "in vjpnet; use np.tensordot or np.einsum")
    return matmul(a, b)


register_function(np.dot, _dot)


def _swapaxes(a, axis1, axis2):
    axes = list(range(np.ndim(a)))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(a, tuple(axes))


register_function(np.swapaxes, _swapaxes)
