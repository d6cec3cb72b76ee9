"""Products and linear algebra: matmul, dot, tensordot, einsum, outer, inner, vdot, and
numpy.linalg norm, inv, det, solve."""
import string

import numpy as np

from vjpnet.numpy_ops._base import (Primitive, Sample, ndim_of, normalize_axis, reject_kwargs,
                                    shape_of, unbroadcast)
from vjpnet.numpy_ops.elementwise import sqrt_p
from vjpnet.numpy_ops.matrix_functions import matrix_norm
from vjpnet.numpy_ops.reductions import amax_p, sum_p
from vjpnet.numpy_ops.shape import ravel, reshape_p, swapaxes
from vjpnet.registry import register_function, register_ufunc
from vjpnet.tape import dtype_of


def _cast(cotangent, like):
    dtype = dtype_of(like)
    return cotangent if cotangent.dtype == dtype else cotangent.astype(dtype)


# --- matmul, dot ----------------------------------------------------------------------------

def _matmul_forward(a, b):
    return np.matmul(a, b), (a, b)


def _matrix_transpose(a):
    return a.T if a.ndim == 2 else swapaxes(a, -1, -2)


def _matmul_vjp(g, cache, needed):
    a, b = cache
    a_ndim, b_ndim = a.ndim, b.ndim
    if a_ndim == 2 and b_ndim == 2:   # the common case
        return (np.matmul(g, b.T) if needed[0] else None,
                np.matmul(a.T, g) if needed[1] else None)
    a2 = reshape_p(a, (1, -1)) if a_ndim == 1 else a
    b2 = reshape_p(b, (-1, 1)) if b_ndim == 1 else b
    if a_ndim == 1:
        g = reshape_p(g, g.shape[:-1] + (1,) + g.shape[-1:])
    if b_ndim == 1:
        g = reshape_p(g, g.shape + (1,))
    da = db = None
    if needed[0]:
        da = unbroadcast(np.matmul(g, _matrix_transpose(b2)), a2)
        da = reshape_p(da, a.shape) if a_ndim == 1 else da
    if needed[1]:
        db = unbroadcast(np.matmul(_matrix_transpose(a2), g), b2)
        db = reshape_p(db, b.shape) if b_ndim == 1 else db
    return da, db


matmul_p = Primitive(_matmul_forward, _matmul_vjp, name="matmul", selective_vjp=True,
                     spec=lambda rng: [Sample(rng.standard_normal((3, 4)),
                                              rng.standard_normal((4, 2))),
                                       Sample(rng.standard_normal(4), rng.standard_normal((4, 2))),
                                       Sample(rng.standard_normal((2, 3, 4)),
                                              rng.standard_normal(4)),
                                       Sample(rng.standard_normal((2, 3, 4)),
                                              rng.standard_normal((1, 4, 2)))])
register_ufunc(np.matmul, matmul_p)


def dot(a, b, out=None):
    if out is not None:
        reject_kwargs("dot", {"out": out})
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return a * b
    if ndim_of(b) > 2:   # dot sums over a's last axis and b's second-to-last
        return tensordot(a, b, axes=([-1], [-2]))
    return matmul_p(a, b)


def vdot(a, b):
    return sum_p(ravel(a) * ravel(b))


# --- tensordot ------------------------------------------------------------------------------

def _tensordot_axes(axes, a_ndim, b_ndim):
    if ndim_of(axes) == 0:
        count = int(axes)
        return list(range(a_ndim - count, a_ndim)), list(range(count))
    axes_a, axes_b = axes
    axes_a = [axes_a] if ndim_of(axes_a) == 0 else list(axes_a)
    axes_b = [axes_b] if ndim_of(axes_b) == 0 else list(axes_b)
    return ([normalize_axis(int(x), a_ndim, "tensordot") for x in axes_a],
            [normalize_axis(int(x), b_ndim, "tensordot") for x in axes_b])


def _tensordot_forward(a, b, axes=2):
    axes_a, axes_b = _tensordot_axes(axes, ndim_of(a), ndim_of(b))
    return np.tensordot(a, b, axes=(axes_a, axes_b)), (a, b, axes_a, axes_b)


def _tensordot_vjp(g, cache, needed):
    a, b, axes_a, axes_b = cache
    free_a = [i for i in range(a.ndim) if i not in axes_a]
    free_b = [i for i in range(b.ndim) if i not in axes_b]
    g_a_part = list(range(len(free_a)))
    g_b_part = list(range(len(free_a), len(free_a) + len(free_b)))
    da = db = None
    if needed[0]:   # g . b over b's free axes -> free_a + contracted (in b's axis order)
        product = np.tensordot(g, b, axes=(g_b_part, free_b))
        order = free_a + [axes_a[axes_b.index(j)] for j in sorted(axes_b)]
        da = _cast(np.transpose(product, tuple(np.argsort(order).tolist())), a)
    if needed[1]:   # a . g over a's free axes -> contracted (in a's axis order) + free_b
        product = np.tensordot(a, g, axes=(free_a, g_a_part))
        order = [axes_b[axes_a.index(i)] for i in sorted(axes_a)] + free_b
        db = _cast(np.transpose(product, tuple(np.argsort(order).tolist())), b)
    return da, db


tensordot_p = Primitive(_tensordot_forward, _tensordot_vjp, name="tensordot", selective_vjp=True,
                        spec=lambda rng: [Sample(rng.standard_normal((2, 3, 4)),
                                                 rng.standard_normal((3, 4, 5))),
                                          Sample(rng.standard_normal((2, 3, 4)),
                                                 rng.standard_normal((4, 5, 2)),
                                                 axes=([0, 2], [2, 0])),
                                          Sample(rng.standard_normal((3, 4)),
                                                 rng.standard_normal((5,)), axes=0)])


def tensordot(a, b, axes=2):
    return tensordot_p(a, b, axes=axes)


# --- einsum ---------------------------------------------------------------------------------

def _parse_einsum(subscripts, num_operands):
    subscripts = subscripts.replace(" ", "")
    if "." in subscripts:
        raise TypeError("numpy.einsum with '...' is not supported on traced values by vjpnet; "
                        "write every index out explicitly")
    if "->" in subscripts:
        inputs, output = subscripts.split("->")
    else:
        inputs = subscripts
        letters = inputs.replace(",", "")
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    inputs = inputs.split(",")
    if len(inputs) != num_operands:
        raise ValueError(f"numpy.einsum: {subscripts!r} names {len(inputs)} operands, got "
                         f"{num_operands}")
    return inputs, output


def _einsum_forward(*operands, subscripts):
    inputs, output = _parse_einsum(subscripts, len(operands))
    out = np.einsum(f"{','.join(inputs)}->{output}", *operands)
    return out, (operands, inputs, output)


def _einsum_vjp(g, cache, needed):
    """The cotangent of operand k is an einsum of g with the other operands, whose output is
    operand k's subscripts. A repeated index in operand k (a diagonal) gets a fresh letter tied
    to the first by an identity matrix; an index summed only inside operand k gets ones."""
    operands, inputs, output = cache
    sizes = {}
    for operand, letters in zip(operands, inputs):
        sizes.update(zip(letters, shape_of(operand)))
    unused = iter(c for c in string.ascii_letters if c not in sizes)
    dtype = g.dtype
    cotangents = []
    for k, (operand, letters) in enumerate(zip(operands, inputs)):
        if not needed[k]:
            cotangents.append(None)
            continue
        others = [(op, sub) for j, (op, sub) in enumerate(zip(operands, inputs)) if j != k]
        target, extra, seen = [], [], set()
        for c in letters:
            if c in seen:
                fresh = next(unused)
                target.append(fresh)
                extra.append((np.eye(sizes[c], dtype=dtype), c + fresh))
            else:
                seen.add(c)
                target.append(c)
        available = set(output).union(*(sub for _, sub in others + extra))
        extra += [(np.ones(sizes[c], dtype=dtype), c) for c in seen if c not in available]
        terms = [(g, output)] + others + extra
        spec = ",".join(sub for _, sub in terms) + "->" + "".join(target)
        cotangents.append(_cast(einsum_p(*[op for op, _ in terms], subscripts=spec), operand))
    return tuple(cotangents)


einsum_p = Primitive(_einsum_forward, _einsum_vjp, name="einsum", selective_vjp=True,
                     spec=lambda rng: [Sample(rng.standard_normal((2, 3)),
                                              rng.standard_normal((3, 4)), subscripts="ij,jk->ik"),
                                       Sample(rng.standard_normal((3, 3)), subscripts="ii->i"),
                                       Sample(rng.standard_normal((2, 3, 4)),
                                              rng.standard_normal((4, 2)), subscripts="bij,jb"),
                                       Sample(rng.standard_normal((2, 3)),
                                              rng.standard_normal(3), subscripts="ij,k->i")])


def einsum(subscripts, *operands, out=None, optimize=False, **kwargs):
    reject_kwargs("einsum", dict(kwargs, out=out), out=None)
    if not isinstance(subscripts, str):
        raise TypeError("numpy.einsum on traced values: pass the subscripts as a string "
                        "(the interleaved operand/sublist form is not supported)")
    return einsum_p(*operands, subscripts=subscripts)


def outer(a, b, out=None):
    if out is not None:
        reject_kwargs("outer", {"out": out})
    return reshape_p(a, (-1, 1)) * reshape_p(b, (1, -1))


def inner(a, b):
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return a * b
    return tensordot(a, b, axes=([-1], [-1]))


# --- numpy.linalg ---------------------------------------------------------------------------

def norm(x, ord=None, axis=None, keepdims=False):
    """Vector norms (ord None/2, 1, inf, -inf, p) and matrix norms (every ord NumPy accepts).

    Convention: the gradient of the 2-norm at x = 0 is 0 (not NaN), from sqrt's convention.
    """
    ndim = ndim_of(x)
    if axis is None and ord is None:
        total = sum_p(x * x, axis=None, keepdims=keepdims)
        return sqrt_p(total) if keepdims else sqrt_p(reshape_p(total, ()))
    if axis is None:
        axis = tuple(range(ndim))
    axes = (axis,) if ndim_of(axis) == 0 else tuple(axis)
    axes = tuple(normalize_axis(int(a), ndim, "linalg.norm") for a in axes)
    if len(axes) == 2:
        if ord not in (None, "fro"):
            return matrix_norm(x, ord, axes, keepdims)
        return sqrt_p(sum_p(x * x, axis=axes, keepdims=keepdims))
    if len(axes) != 1:
        raise ValueError(f"numpy.linalg.norm: improper number of dimensions to norm ({axes})")
    if ord is None or ord == 2:
        return sqrt_p(sum_p(x * x, axis=axes, keepdims=keepdims))
    if ord == 1:
        return sum_p(np.abs(x), axis=axes, keepdims=keepdims)
    if ord == np.inf:
        return amax_p(np.abs(x), axis=axes, keepdims=keepdims)
    if ord == -np.inf:
        return -amax_p(-np.abs(x), axis=axes, keepdims=keepdims)
    if isinstance(ord, (int, float)) and ord > 0:
        return sum_p(np.abs(x) ** ord, axis=axes, keepdims=keepdims) ** (1.0 / ord)
    raise TypeError(f"numpy.linalg.norm(..., ord={ord!r}) has no VJP in vjpnet")


def _inv_forward(a):
    out = np.linalg.inv(a)
    return out, out


def _inv_vjp(g, inverse):
    inverse_t = _matrix_transpose(inverse)
    return (-np.matmul(inverse_t, np.matmul(g, inverse_t)),)


def _well_conditioned(rng, shape):
    n = shape[-1]
    return rng.standard_normal(shape) * 0.3 + np.eye(n) * 2.0


inv_p = Primitive(_inv_forward, _inv_vjp, name="inv",
                  spec=lambda rng: [Sample(_well_conditioned(rng, (3, 3))),
                                    Sample(_well_conditioned(rng, (2, 3, 3)))])


def _det_forward(a):
    out = np.linalg.det(a)
    return out, (a, out)


def _det_vjp(g, cache):
    """d det(A) = det(A) tr(A^-1 dA): the cotangent is g det(A) A^-T (A must be invertible)."""
    a, out = cache
    scale = reshape_p(g * out, shape_of(out) + (1, 1))
    return (scale * _matrix_transpose(np.linalg.inv(a)),)


det_p = Primitive(_det_forward, _det_vjp, name="det",
                  spec=lambda rng: [Sample(_well_conditioned(rng, (3, 3))),
                                    Sample(_well_conditioned(rng, (2, 3, 3)))])


def _solve_forward(a, b):
    out = np.linalg.solve(a, b)
    return out, (a, out)


def _solve_vjp(g, cache, needed):
    """x = A^-1 b: db = A^-T g, dA = -db x^T (batched; b may be one vector)."""
    a, x = cache
    db = np.linalg.solve(_matrix_transpose(a), g)
    da = None
    if needed[0]:
        if x.ndim == 1:
            da = -reshape_p(db, (-1, 1)) * reshape_p(x, (1, -1))
        else:
            da = unbroadcast(-np.matmul(db, _matrix_transpose(x)), a)
    return da, (db if needed[1] else None)


solve_p = Primitive(_solve_forward, _solve_vjp, name="solve", selective_vjp=True,
                    spec=lambda rng: [Sample(_well_conditioned(rng, (3, 3)),
                                             rng.standard_normal(3)),
                                      Sample(_well_conditioned(rng, (3, 3)),
                                             rng.standard_normal((3, 2))),
                                      Sample(_well_conditioned(rng, (2, 3, 3)),
                                             rng.standard_normal((2, 3, 2)))])


def inv(a):
    return inv_p(a)


def det(a):
    return det_p(a)


def solve(a, b):
    return solve_p(a, b)


for _function, _handler in [(np.dot, dot), (np.vdot, vdot), (np.tensordot, tensordot),
                            (np.einsum, einsum), (np.outer, outer), (np.inner, inner),
                            (np.linalg.norm, norm), (np.linalg.inv, inv),
                            (np.linalg.det, det), (np.linalg.solve, solve)]:
    register_function(_function, _handler)
