"""NumPy 2's Array-API spellings of functions vjpnet differentiates: numpy.linalg.matmul,
tensordot, outer, vecdot, matrix_transpose, trace, diagonal, cross, matrix_norm, vector_norm,
and numpy.matrix_transpose; the gufuncs numpy.vecdot, matvec, vecmat are primitives."""
import math
import operator

import numpy as np

from vjpnet.numpy_ops._base import (AxisError, Primitive, Sample, complex_normal, ndim_of,
                                    normalize_axes, normalize_axis, shape_of, unbroadcast)
from vjpnet.numpy_ops.decompositions import conj
from vjpnet.numpy_ops.decompositions import matrix_transpose as _swap_last_two
from vjpnet.registry import register_function, register_ufunc


def _at_least(x, ndim, function_name):
    if ndim_of(x) < ndim:
        raise ValueError(f"numpy.{function_name}: expected an array of at least {ndim} "
                         f"dimensions, got shape {shape_of(x)}")


def matrix_transpose(x, /):
    _at_least(x, 2, "matrix_transpose")
    return _swap_last_two(x)


def linalg_outer(x1, x2, /):
    if ndim_of(x1) != 1 or ndim_of(x2) != 1:
        raise ValueError(f"numpy.linalg.outer: expected two 1-D arrays, got shapes "
                         f"{shape_of(x1)} and {shape_of(x2)}")
    return np.outer(x1, x2)


def linalg_vecdot(x1, x2, /, *, axis=-1):
    """sum(conj(x1) * x2) over `axis` of each operand (the gufunc numpy.vecdot with axis=):
    the other axes broadcast, the reduced ones must have one length."""
    x1 = np.moveaxis(x1, normalize_axis(axis, ndim_of(x1), "linalg.vecdot"), -1)
    x2 = np.moveaxis(x2, normalize_axis(axis, ndim_of(x2), "linalg.vecdot"), -1)
    return vecdot_p(x1, x2)


def linalg_trace(x, /, *, offset=0, dtype=None):
    return np.trace(x, offset=offset, axis1=-2, axis2=-1, dtype=dtype)


def linalg_diagonal(x, /, *, offset=0):
    return np.diagonal(x, offset=offset, axis1=-2, axis2=-1)


def linalg_cross(x1, x2, /, *, axis=-1):
    if shape_of(x1)[axis] != 3 or shape_of(x2)[axis] != 3:
        raise ValueError(f"numpy.linalg.cross: both inputs must have 3 elements along axis "
                         f"{axis}, got shapes {shape_of(x1)} and {shape_of(x2)}")
    return np.cross(x1, x2, axis=axis)


def linalg_matrix_norm(x, /, *, keepdims=False, ord="fro"):
    if ndim_of(x) < 2:   # as NumPy: axis -2 out of bounds
        raise AxisError(f"numpy.linalg.matrix_norm: expected an array of at least 2 dimensions, "
                        f"got shape {shape_of(x)}")
    return np.linalg.norm(x, ord, axis=(-2, -1), keepdims=keepdims)


def linalg_vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """The vector norm over `axis`: all axes when None, one axis (an int), several axes as one
    vector (a tuple), as NumPy's vector_norm."""
    shape = shape_of(x)
    if axis is None:
        out = np.linalg.norm(np.ravel(x), ord=ord, axis=0)
    elif isinstance(axis, tuple):
        axes = normalize_axes(axis, len(shape), "linalg.vector_norm")
        kept = [d for d in range(len(shape)) if d not in axes]
        moved = np.transpose(x, list(axes) + kept)
        size = math.prod(shape[d] for d in axes)   # (explicit: -1 is ambiguous when empty)
        flat = np.reshape(moved, (size,) + tuple(shape[d] for d in kept))
        out = np.linalg.norm(flat, ord=ord, axis=0)
    else:
        out = np.linalg.norm(x, ord=ord, axis=operator.index(axis))
    if keepdims:
        reduced = range(len(shape)) if axis is None else \
            normalize_axes(axis, len(shape), "linalg.vector_norm")
        out = np.reshape(out, tuple(1 if d in reduced else n for d, n in enumerate(shape)))
    return out


# --- the gufuncs vecdot, matvec, vecmat ---------------------------------------------------------

def _vecdot_forward(x1, x2):
    return np.vecdot(x1, x2), (x1, x2)


def _vecdot_vjp(g, cache, needed):
    """out = sum(conj(x1) x2) over the last axis: gx1 = conj(g x2), gx2 = g conj(x1)."""
    x1, x2 = cache
    g = g[..., None]
    return (unbroadcast(conj(g * x2), x1) if needed[0] else None,
            unbroadcast(g * conj(x1), x2) if needed[1] else None)


vecdot_p = Primitive(_vecdot_forward, _vecdot_vjp, name="vecdot", selective_vjp=True,
                     spec=lambda rng: [Sample(rng.standard_normal((2, 3)),
                                              rng.standard_normal(3)),
                                       Sample(complex_normal(rng, (2, 3)),
                                              complex_normal(rng, 3))])


def _matvec_forward(a, v):
    return np.matvec(a, v), (a, v)


def _matvec_vjp(g, cache, needed):
    """out = a @ v over the last axes: ga = g v^T, gv = a^T g."""
    a, v = cache
    return (unbroadcast(g[..., :, None] * v[..., None, :], a) if needed[0] else None,
            unbroadcast((_swap_last_two(a) @ g[..., :, None])[..., 0], v) if needed[1]
            else None)


matvec_p = Primitive(_matvec_forward, _matvec_vjp, name="matvec", selective_vjp=True,
                     spec=lambda rng: [Sample(rng.standard_normal((2, 3, 4)),
                                              rng.standard_normal(4)),
                                       Sample(complex_normal(rng, (3, 4)),
                                              complex_normal(rng, 4))])


def _vecmat_forward(v, a):
    return np.vecmat(v, a), (v, a)


def _vecmat_vjp(g, cache, needed):
    """out = v^H a over the last axes: gv = conj(a g), ga = conj(v) g^T."""
    v, a = cache
    return (unbroadcast(conj((a @ g[..., :, None])[..., 0]), v) if needed[0] else None,
            unbroadcast(conj(v)[..., :, None] * g[..., None, :], a) if needed[1] else None)


vecmat_p = Primitive(_vecmat_forward, _vecmat_vjp, name="vecmat", selective_vjp=True,
                     spec=lambda rng: [Sample(rng.standard_normal(3),
                                              rng.standard_normal((2, 3, 4))),
                                       Sample(complex_normal(rng, 3),
                                              complex_normal(rng, (3, 4)))])

# Each name exists from NumPy 2.0 (vecdot) or 2.2 (matvec, vecmat) on: register what exists.
for _name, _primitive in [("vecdot", vecdot_p), ("matvec", matvec_p), ("vecmat", vecmat_p)]:
    if isinstance(getattr(np, _name, None), np.ufunc):
        register_ufunc(getattr(np, _name), _primitive)

for _module, _name, _handler in [
        (np, "matrix_transpose", matrix_transpose),
        (np.linalg, "matrix_transpose", matrix_transpose),
        (np.linalg, "matmul", lambda x1, x2, /: np.matmul(x1, x2)),
        (np.linalg, "tensordot", lambda x1, x2, /, *, axes=2: np.tensordot(x1, x2, axes=axes)),
        (np.linalg, "outer", linalg_outer), (np.linalg, "vecdot", linalg_vecdot),
        (np.linalg, "trace", linalg_trace), (np.linalg, "diagonal", linalg_diagonal),
        (np.linalg, "cross", linalg_cross), (np.linalg, "matrix_norm", linalg_matrix_norm),
        (np.linalg, "vector_norm", linalg_vector_norm)]:
    if hasattr(_module, _name):
        register_function(getattr(_module, _name), _handler)
