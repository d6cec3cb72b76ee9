"""Products and linear algebra: matmul, dot, tensordot, einsum, outer, inner, vdot, and
numpy.linalg norm, inv, det, solve.

Every VJP follows NumPy 2's batching and broadcasting rules (batch axes of matmul and solve
broadcast both ways; solve with a 1-D b solves one vector per matrix; einsum broadcasts size-1
axes and '...'), sums each cotangent back over what was broadcast and returns it in its
operand's dtype (mixed float32/float64 operands each get their own dtype back; a real operand
of a product with a complex one gets the real part).

Complex values need no conjugates here: under vjpnet's pairing Re(sum(c * dw)) the VJP of a
product is the plain transpose (see numpy_ops/__init__.py). vdot conjugates its first argument
and the 2-norms use |x|^2, as NumPy.
"""
import functools
import math
import operator
import string

import numpy as np

from vjpnet.numpy_ops._base import (Primitive, Sample, cast_cotangent, complex_normal, ndim_of,
                                    normalize_axis, reject_kwargs, shape_of, sum_to_shape,
                                    unbroadcast)
from vjpnet.numpy_ops.elementwise import sqrt_p
from vjpnet.numpy_ops.reductions import amax_p, sum_p
from vjpnet.numpy_ops.shape import astype_p, ravel, reshape_p, swapaxes
from vjpnet.registry import register_function, register_ufunc
from vjpnet.tape import Traced, dtype_of, plain

_ndarray = np.ndarray


def _cast(cotangent, like):
    """cotangent with like's dtype (the real part for a real `like`)."""
    dtype = dtype_of(like)
    return cotangent if cotangent.dtype == dtype else cast_cotangent(cotangent, dtype)


def _operand(x):
    """A forward argument with .shape, .ndim and .dtype: arrays and traced values as they are,
    anything else (Python floats, lists, NumPy scalars) through np.asarray."""
    if type(x) is Traced and type(plain(x)) in (float, complex):
        # a traced Python number promotes like the NumPy float64 (complex128) np.asarray makes
        return astype_p(x, dtype_of(x))
    return x if type(x) is _ndarray or type(x) is Traced else np.asarray(x)


_FLOAT64 = np.dtype(np.float64)


def _matrix_transpose(a):
    return a.T if a.ndim == 2 else swapaxes(a, -1, -2)


# --- matmul, dot ----------------------------------------------------------------------------

def _matmul_forward(a, b):
    return np.matmul(a, b), (a, b)


def _matmul_vjp(g, cache, needed):
    """a (..., n, k) @ b (..., k, m), batch axes broadcast; a 1-D a is a row (1, k) and a 1-D
    b a column (k, 1) whose added axis is dropped from the result."""
    a, b = cache
    if type(a) is _ndarray and type(b) is _ndarray and a.ndim == 2 and b.ndim == 2:
        da = db = None   # the common case (a layer's x @ w)
        if needed[0]:
            da = np.matmul(g, b.T)
            if da.dtype != a.dtype:   # mixed precision, or real a and complex b
                da = cast_cotangent(da, a.dtype)
        if needed[1]:
            db = np.matmul(a.T, g)
            if db.dtype != b.dtype:
                db = cast_cotangent(db, b.dtype)
        return da, db
    a, b = _operand(a), _operand(b)
    a_ndim, b_ndim = a.ndim, b.ndim
    a2 = reshape_p(a, (1, -1)) if a_ndim == 1 else a
    b2 = reshape_p(b, (-1, 1)) if b_ndim == 1 else b
    g_shape = shape_of(g)
    if a_ndim == 1:
        g_shape = g_shape[:-1] + (1,) + g_shape[-1:]
    if b_ndim == 1:
        g_shape = g_shape + (1,)
    if g_shape != shape_of(g):
        g = reshape_p(g, g_shape)
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
                                       Sample(rng.standard_normal((2, 1, 3, 4)),
                                              rng.standard_normal((5, 4, 2))),
                                       Sample(rng.standard_normal(4), rng.standard_normal(4)),
                                       Sample(complex_normal(rng, (3, 4)),
                                              rng.standard_normal((4, 2))),
                                       Sample(complex_normal(rng, (2, 3, 4)),
                                              complex_normal(rng, (4,)))])
register_ufunc(np.matmul, matmul_p)


def dot(a, b, out=None):
    """np.dot: a product with a scalar, matmul for b of at most 2 axes, else the sum over a's
    last axis and b's second-to-last (no broadcasting: the free axes are concatenated)."""
    if out is not None:
        reject_kwargs("dot", {"out": out})
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        # NumPy converts a Python number to a float64 array here (no weak scalar promotion)
        return np.multiply(_operand(a), _operand(b))
    if ndim_of(b) > 2:
        return tensordot(a, b, axes=([-1], [-2]))
    return matmul_p(a, b)


def vdot(a, b):
    """np.vdot: sum(conj(a) * b) over the flattened a and b (NumPy conjugates a)."""
    a_shape, b_shape = shape_of(a), shape_of(b)
    if math.prod(a_shape) != math.prod(b_shape):
        raise ValueError(f"numpy.vdot: a and b must have the same number of elements, got "
                         f"shapes {a_shape} and {b_shape}")
    a = ravel(_operand(a))
    return sum_p((np.conjugate(a) if dtype_of(a).kind == "c" else a) * ravel(_operand(b)))


# --- tensordot ------------------------------------------------------------------------------

def _tensordot_axes(axes, a_ndim, b_ndim):
    if ndim_of(axes) == 0:
        count = operator.index(axes)
        return list(range(a_ndim - count, a_ndim)), list(range(count))
    axes_a, axes_b = axes
    axes_a = [axes_a] if ndim_of(axes_a) == 0 else list(axes_a)
    axes_b = [axes_b] if ndim_of(axes_b) == 0 else list(axes_b)
    return ([normalize_axis(operator.index(x), a_ndim, "tensordot") for x in axes_a],
            [normalize_axis(operator.index(x), b_ndim, "tensordot") for x in axes_b])


def _tensordot_forward(a, b, axes=2):
    a, b = _operand(a), _operand(b)
    axes_a, axes_b = _tensordot_axes(axes, a.ndim, b.ndim)
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
                                                 rng.standard_normal((5,)), axes=0),
                                          Sample(complex_normal(rng, (2, 3, 4)),
                                                 rng.standard_normal((4, 3)),
                                                 axes=([1, 2], [1, 0]))])


def tensordot(a, b, axes=2):
    return tensordot_p(a, b, axes=axes)


# --- einsum ---------------------------------------------------------------------------------

# Labels in NumPy's order for the sublist form: integer i is _LABELS[i] (0 -> 'A', 26 -> 'a'),
# so sorting labels (the implicit output) sorts the integers.
_LABELS = string.ascii_uppercase + string.ascii_lowercase


def _sublist_labels(sublist):
    """[0, 1, Ellipsis] -> 'AB...' (NumPy's interleaved einsum form)."""
    labels = []
    for item in sublist:
        if item is Ellipsis:
            labels.append("...")
            continue
        try:
            index = operator.index(item)
        except TypeError:
            raise TypeError(f"numpy.einsum: a subscript list holds integers in [0, 52) and "
                            f"Ellipsis, got {item!r}") from None
        if not 0 <= index < len(_LABELS):
            raise ValueError(f"numpy.einsum: subscript {index} is not in [0, 52)")
        labels.append(_LABELS[index])
    return "".join(labels)


def _interleaved_subscripts(args):
    """einsum(op0, sublist0, op1, sublist1, ..., [output_sublist]) -> (subscripts, operands)."""
    has_output = len(args) % 2 == 1
    pairs = args[:-1] if has_output else args
    operands, sublists = pairs[0::2], pairs[1::2]
    subscripts = ",".join(_sublist_labels(sublist) for sublist in sublists)
    if has_output:
        subscripts += "->" + _sublist_labels(args[-1])
    return subscripts, operands


def _split_ellipsis(text, what):
    """'ab...c' -> ('ab', True, 'c'); 'abc' -> ('abc', False, '')."""
    before, found, after = text.partition("...")
    if "." in before or "." in after:
        raise ValueError(f"numpy.einsum: invalid subscripts {text!r} for {what} ('.' only as "
                         "one '...')")
    return before, bool(found), after


@functools.lru_cache(maxsize=512)
def _canonical_einsum(subscripts, ndims):
    """Make '...' and an implicit output explicit: one letter per axis.

    subscripts: NumPy's subscripts string; ndims: each operand's number of axes.
    Returns (labels of each operand, labels of the output). The axes that '...' stands for get
    letters unused elsewhere, right-aligned across operands as broadcasting aligns them.
    """
    text = subscripts.replace(" ", "")
    if text.count("->") > 1:
        raise ValueError(f"numpy.einsum: subscripts {subscripts!r} have more than one '->'")
    inputs_text, arrow, output_text = text.partition("->")
    inputs = inputs_text.split(",")
    if len(inputs) != len(ndims):
        raise ValueError(f"numpy.einsum: subscripts {subscripts!r} name {len(inputs)} operands, "
                         f"got {len(ndims)}")
    for char in text:
        if not (char in _LABELS or char in ".,->"):
            raise ValueError(f"numpy.einsum: invalid subscript {char!r} in {subscripts!r} "
                             "(labels are the letters a-z, A-Z)")
    fresh = [label for label in _LABELS if label not in text]
    parts, ellipsis_ndim = [], 0
    for position, (operand_text, ndim) in enumerate(zip(inputs, ndims)):
        before, has_ellipsis, after = _split_ellipsis(operand_text, f"operand {position}")
        count = ndim - len(before) - len(after)
        if count < 0 or (count > 0 and not has_ellipsis):
            raise ValueError(f"numpy.einsum: operand {position} has {ndim} axes but subscripts "
                             f"{operand_text!r} (write '...' for axes without a label)")
        parts.append((before, count, after))
        ellipsis_ndim = max(ellipsis_ndim, count)
    if ellipsis_ndim > len(fresh):
        raise ValueError(f"numpy.einsum: too many axes for 52 labels in {subscripts!r}")
    ellipsis = "".join(fresh[:ellipsis_ndim])
    labels = tuple(before + ellipsis[ellipsis_ndim - count:] + after
                   for before, count, after in parts)
    if not arrow:   # implicit: the broadcast axes, then the labels used once, sorted
        named = "".join(before + after for before, _, after in parts)
        return labels, ellipsis + "".join(sorted(c for c in set(named) if named.count(c) == 1))
    before, has_ellipsis, after = _split_ellipsis(output_text, "the output")
    if ellipsis_ndim and not has_ellipsis:
        raise ValueError("numpy.einsum: output has more dimensions than subscripts given in "
                         "einstein sum, but no '...' ellipsis provided to broadcast the extra "
                         f"dimensions ({subscripts!r})")
    return labels, before + ellipsis + after


def _einsum_forward(*operands, subscripts, optimize=False):
    operands = tuple(_operand(x) for x in operands)
    inputs, output = _canonical_einsum(subscripts, tuple(x.ndim for x in operands))
    out = np.einsum(",".join(inputs) + "->" + output, *operands, optimize=optimize)
    return out, (operands, inputs, output, optimize)


def _einsum_vjp(g, cache, needed):
    """The cotangent of operand k is an einsum of g with the other operands, whose output is
    operand k's labels, summed back over the axes where operand k (size 1) was broadcast. A
    repeated label in operand k (a diagonal) gets a fresh letter tied to the first by an
    identity matrix; a label summed only inside operand k gets ones."""
    operands, inputs, output, optimize = cache
    if not isinstance(optimize, (bool, str)):   # an explicit path is for the forward's terms
        optimize = True
    sizes = {}
    for operand, labels in zip(operands, inputs):
        for label, size in zip(labels, operand.shape):
            if size != 1 or label not in sizes:   # the broadcast size of each label
                sizes[label] = size
    unused = iter(label for label in _LABELS if label not in sizes)
    dtype = g.dtype
    cotangents = []
    for k, (operand, labels) in enumerate(zip(operands, inputs)):
        if not needed[k]:
            cotangents.append(None)
            continue
        others = [(x, sub) for j, (x, sub) in enumerate(zip(operands, inputs)) if j != k]
        target, extra, seen = [], [], set()
        for label in labels:
            if label in seen:
                fresh = next(unused)
                target.append(fresh)
                extra.append((np.eye(sizes[label], dtype=dtype), label + fresh))
            else:
                seen.add(label)
                target.append(label)
        available = set(output).union(*(sub for _, sub in others + extra))
        extra += [(np.ones(sizes[label], dtype=dtype), label)
                  for label in labels if label not in available]
        terms = [(g, output)] + others + extra
        spec = ",".join(sub for _, sub in terms) + "->" + "".join(target)
        cotangent = einsum_p(*[x for x, _ in terms], subscripts=spec, optimize=optimize)
        cotangents.append(_to_operand_shape(cotangent, operand))
    return tuple(cotangents)


def _to_operand_shape(cotangent, operand):
    """Sum the cotangent over the axes where the operand (size 1) was broadcast; spread it
    over the axes where only the operand had the larger size (the other terms had size 1:
    every element of the operand there met the same values). Then cast to its dtype."""
    shape, got = operand.shape, shape_of(cotangent)
    if got != shape:
        stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 != got[axis])
        if stretched:
            cotangent = sum_p(cotangent, axis=stretched, keepdims=True)
        if shape_of(cotangent) != shape:
            cotangent = cotangent * np.ones(shape, dtype=dtype_of(cotangent))
    return _cast(cotangent, operand)


einsum_p = Primitive(_einsum_forward, _einsum_vjp, name="einsum", selective_vjp=True,
                     spec=lambda rng: [Sample(rng.standard_normal((2, 3)),
                                              rng.standard_normal((3, 4)), subscripts="ij,jk->ik"),
                                       Sample(rng.standard_normal((3, 3)), subscripts="ii->i"),
                                       Sample(rng.standard_normal((2, 3, 4)),
                                              rng.standard_normal((4, 2)), subscripts="bij,jb"),
                                       Sample(rng.standard_normal((2, 3)),
                                              rng.standard_normal(3), subscripts="ij,k->i"),
                                       Sample(rng.standard_normal((3, 1)),
                                              rng.standard_normal((3, 4)), subscripts="ij,ij->ij"),
                                       Sample(rng.standard_normal((1, 2, 3)),
                                              rng.standard_normal((4, 3, 2)),
                                              subscripts="...ij,...jk"),
                                       Sample(complex_normal(rng, (2, 3)),
                                              rng.standard_normal((3, 3)),
                                              subscripts="ij,jj->ij")])


def einsum(*operands, out=None, optimize=False, **kwargs):
    """np.einsum(subscripts, *operands) or the interleaved form np.einsum(op0, sublist0, ...,
    [output_sublist]); '...', implicit outputs and broadcast size-1 axes as in NumPy."""
    reject_kwargs("einsum", dict(kwargs, out=out), out=None, dtype=None)
    if operands and isinstance(operands[0], str):
        subscripts, arrays = operands[0], operands[1:]
    else:
        subscripts, arrays = _interleaved_subscripts(operands)
    return einsum_p(*arrays, subscripts=subscripts, optimize=optimize)


def outer(a, b, out=None):
    if out is not None:
        reject_kwargs("outer", {"out": out})
    return reshape_p(_operand(a), (-1, 1)) * reshape_p(_operand(b), (1, -1))


def inner(a, b):
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return np.multiply(_operand(a), _operand(b))
    return tensordot(a, b, axes=([-1], [-1]))


# --- numpy.linalg.norm ----------------------------------------------------------------------

def norm(x, ord=None, axis=None, keepdims=False):
    """numpy.linalg.norm: vector norms over one axis, matrix norms over two (see MATRIX_NORMS).

    Conventions: every norm has gradient 0 where it is 0 (not NaN; 0 is a subgradient there),
    the p-norms give gradient 0 to elements equal to 0, ord=0 (the count of non-zeros) is a
    constant, and max/min norms share the gradient among ties.
    """
    ndim = ndim_of(x)
    if axis is None:
        if ord is None:   # the 2-norm of x flattened, whatever its number of axes
            total = sum_p(_squared_magnitude(x), axis=None, keepdims=keepdims)
            return sqrt_p(total) if keepdims else sqrt_p(reshape_p(total, ()))
        axes = tuple(range(ndim))
    else:
        axes = (axis,) if ndim_of(axis) == 0 else tuple(axis)
        axes = tuple(normalize_axis(operator.index(a), ndim, "linalg.norm") for a in axes)
    if len(axes) == 1:
        return _vector_norm(x, ord, axes, keepdims)
    if len(axes) == 2:
        if axes[0] == axes[1]:
            raise ValueError(f"numpy.linalg.norm: duplicate axes given ({axis})")
        try:
            norm_function = MATRIX_NORMS.get(ord)
        except TypeError:   # an unhashable ord
            norm_function = None
        if norm_function is None:
            if isinstance(ord, (str, int, float, np.number)) and ord in ("nuc", 2, -2):
                raise TypeError(f"numpy.linalg.norm(..., ord={ord!r}) of a matrix has no VJP in "
                                "vjpnet (it needs singular values); supported matrix orders: "
                                f"{sorted(map(repr, MATRIX_NORMS))}")
            raise ValueError(f"numpy.linalg.norm: invalid norm order {ord!r} for matrices")
        return norm_function(x, axes, keepdims)
    raise ValueError(f"numpy.linalg.norm: improper number of dimensions to norm: axes {axes} "
                     f"of an array of shape {shape_of(x)} (one axis for a vector norm, two for "
                     "a matrix norm)")


def _squared_magnitude(x):
    """|x|^2 elementwise: x * x, or Re(x * conj(x)) for complex x."""
    if dtype_of(x).kind == "c":
        return np.real(x * np.conjugate(x))
    return x * x


def _vector_norm(x, ord, axes, keepdims):
    if ord is None or ord == 2:
        return sqrt_p(sum_p(_squared_magnitude(x), axis=axes, keepdims=keepdims))
    if isinstance(ord, str) or not isinstance(ord, (int, float, np.integer, np.floating)):
        raise ValueError(f"numpy.linalg.norm: invalid norm order {ord!r} for vectors")
    if ord == np.inf:
        if 0 in (shape_of(x)[axis] for axis in axes):   # NumPy: the max with initial 0
            return sum_p(np.abs(x), axis=axes, keepdims=keepdims)
        return amax_p(np.abs(x), axis=axes, keepdims=keepdims)
    if ord == -np.inf:
        return -amax_p(-np.abs(x), axis=axes, keepdims=keepdims)
    if ord == 0:   # the number of non-zero elements: piecewise constant, no gradient
        count = np.sum(plain(x) != 0, axis=axes, keepdims=keepdims)
        return count.astype(np.finfo(dtype_of(x)).dtype)   # real, also for complex x
    if ord == 1:
        return sum_p(np.abs(x), axis=axes, keepdims=keepdims)
    return _p_norm(x, float(ord), axes, keepdims)


def _p_norm(x, p, axes, keepdims):
    """sum(|x|**p) ** (1/p) for p != 0. The inner wheres keep untaken branches finite: a zero
    element contributes 0 (p > 0) or makes the norm 0 (p < 0, |x|**p = inf) with gradient 0,
    and an all-zero slice has norm 0 with gradient 0."""
    magnitude = np.abs(x)
    zero = plain(magnitude) == 0
    powered = np.where(zero, 0.0 if p > 0 else np.inf, np.where(zero, 1.0, magnitude) ** p)
    total = sum_p(powered, axis=axes, keepdims=keepdims)
    if p < 0:
        return total ** (1.0 / p)
    empty = plain(total) == 0
    return np.where(empty, 0.0, np.where(empty, 1.0, total) ** (1.0 / p))


def _frobenius(x, axes, keepdims):
    return sqrt_p(sum_p(_squared_magnitude(x), axis=axes, keepdims=keepdims))


def _extreme_abs_sum(x, summed, reduced, keepdims, largest):
    """max (or min) over axis `reduced` of the sums of |x| over axis `summed`; the max of no
    sums is 0 (NumPy's initial=0; the min of none raises, as in NumPy)."""
    sums = sum_p(np.abs(x), axis=(summed,), keepdims=True)
    if largest and shape_of(x)[reduced] == 0:
        out = sum_p(sums, axis=(reduced,), keepdims=True)   # zeros of the reduced shape
    elif largest:
        out = amax_p(sums, axis=(reduced,), keepdims=True)
    else:
        out = -amax_p(-sums, axis=(reduced,), keepdims=True)
    if keepdims:
        return out
    shape = tuple(size for axis, size in enumerate(shape_of(x)) if axis not in (summed, reduced))
    return reshape_p(out, shape)


# ord -> norm(x, (row_axis, column_axis), keepdims) for matrix norms; the orders that need
# singular values ('nuc', 2, -2) belong to a decompositions module that may add them here.
MATRIX_NORMS = {
    None: _frobenius,
    "fro": _frobenius,
    1: lambda x, axes, keepdims: _extreme_abs_sum(x, axes[0], axes[1], keepdims, True),
    -1: lambda x, axes, keepdims: _extreme_abs_sum(x, axes[0], axes[1], keepdims, False),
    np.inf: lambda x, axes, keepdims: _extreme_abs_sum(x, axes[1], axes[0], keepdims, True),
    -np.inf: lambda x, axes, keepdims: _extreme_abs_sum(x, axes[1], axes[0], keepdims, False),
}


# --- numpy.linalg inv, det, solve -----------------------------------------------------------

def _inv_forward(a):
    out = np.linalg.inv(a)
    return out, out


def _inv_vjp(g, inverse):
    """d(A^-1) = -A^-1 dA A^-1: the cotangent is -A^-T g A^-T, per matrix of the batch."""
    inverse_t = _matrix_transpose(inverse)
    return (-np.matmul(inverse_t, np.matmul(g, inverse_t)),)


def _well_conditioned(rng, shape, complex_values=False):
    n = shape[-1]
    noise = complex_normal(rng, shape) if complex_values else rng.standard_normal(shape)
    return noise * 0.3 + np.eye(n) * 2.0


inv_p = Primitive(_inv_forward, _inv_vjp, name="inv",
                  spec=lambda rng: [Sample(_well_conditioned(rng, (3, 3))),
                                    Sample(_well_conditioned(rng, (2, 3, 3))),
                                    Sample(_well_conditioned(rng, (2, 3, 3), True))])


def _det_forward(a):
    a = _operand(a)
    out = np.linalg.det(a)
    return out, (a, out)


def _det_vjp(g, cache):
    """d det(A) = det(A) tr(A^-1 dA): the cotangent is g det(A) A^-T (A must be invertible)."""
    a, out = cache
    try:
        inverse = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise ValueError(f"the gradient of numpy.linalg.det at a singular matrix (det = 0) is "
                         f"not implemented by vjpnet (input shape {shape_of(a)})") from None
    scale = reshape_p(g * out, shape_of(out) + (1, 1))
    return (scale * _matrix_transpose(inverse),)


det_p = Primitive(_det_forward, _det_vjp, name="det",
                  spec=lambda rng: [Sample(_well_conditioned(rng, (3, 3))),
                                    Sample(_well_conditioned(rng, (2, 3, 3))),
                                    Sample(_well_conditioned(rng, (2, 3, 3), True))])


def _solve_forward(a, b):
    a, b = _operand(a), _operand(b)
    out = np.linalg.solve(a, b)
    return out, (a, out, b.shape, b.dtype)


def _solve_vjp(g, cache, needed):
    """x = A^-1 b: db = A^-T g, dA = -db x^T per matrix, each summed over the batch axes its
    operand was broadcast along. A 1-D b (M,) is one vector per matrix (NumPy 2): x and g are
    (..., M) and are taken as (..., M, 1)."""
    a, x, b_shape, b_dtype = cache
    vector = len(b_shape) == 1
    if vector:
        g = reshape_p(g, shape_of(g) + (1,))
        x = reshape_p(x, shape_of(x) + (1,))
    db = np.linalg.solve(_matrix_transpose(a), g)
    da = None
    if needed[0]:
        da = sum_to_shape(-np.matmul(db, _matrix_transpose(x)), a.shape, a.dtype)
    if not needed[1]:
        return da, None
    if vector:
        db = reshape_p(db, shape_of(db)[:-1])
    return da, sum_to_shape(db, b_shape, b_dtype)


solve_p = Primitive(_solve_forward, _solve_vjp, name="solve", selective_vjp=True,
                    spec=lambda rng: [Sample(_well_conditioned(rng, (3, 3)),
                                             rng.standard_normal(3)),
                                      Sample(_well_conditioned(rng, (3, 3)),
                                             rng.standard_normal((3, 2))),
                                      Sample(_well_conditioned(rng, (2, 3, 3)),
                                             rng.standard_normal((2, 3, 2))),
                                      Sample(_well_conditioned(rng, (3, 2, 2)),
                                             rng.standard_normal(2)),
                                      Sample(_well_conditioned(rng, (2, 1, 2, 2)),
                                             rng.standard_normal((3, 2, 1))),
                                      Sample(_well_conditioned(rng, (3, 3), True),
                                             rng.standard_normal(3)),
                                      Sample(_well_conditioned(rng, (3, 3)),
                                             complex_normal(rng, (3, 2)))])


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
