"""Compositions that pick, move or combine elements, built on indexing, where, reshape and
concatenate (so differentiable to any order): tril, triu, rot90, rollaxis, append, delete,
insert, resize, dsplit, dstack, row_stack, unstack, block, broadcast_arrays, meshgrid, select,
choose, compress, extract, lib.stride_tricks.sliding_window_view, unwrap, piecewise,
apply_along_axis.
NumPy functions that write into an argument in place (copyto, put, place, putmask,
fill_diagonal, put_along_axis) raise a TypeError that names the functional alternatives."""
import math
import operator

import numpy as np

from vjpnet.numpy_ops._base import (array_dtype, as_dtype, ndim_of, normalize_axis, reject_kwargs,
                                    shape_of)
from vjpnet.registry import register_function
from vjpnet.numpy_ops.indexing import index_update
from vjpnet.tape import UNSUPPORTED, Traced, dtype_of, plain

_ALL = slice(None)


def tril(m, k=0):
    """Zero above the k-th diagonal of the last two axes (a 1-D m is broadcast to rows)."""
    mask = np.tri(*shape_of(m)[-2:], k=operator.index(k), dtype=bool)
    return np.where(mask, m, 0.0)


def triu(m, k=0):
    mask = np.tri(*shape_of(m)[-2:], k=operator.index(k) - 1, dtype=bool)
    return np.where(mask, 0.0, m)


def rot90(m, k=1, axes=(0, 1)):
    """Rotate by 90 degrees k times in the plane of `axes`, from the first towards the second."""
    axes = tuple(axes)
    ndim = ndim_of(m)
    if len(axes) != 2:
        raise ValueError("numpy.rot90: len(axes) must be 2")
    if ndim < 2:
        raise ValueError(f"numpy.rot90: the array must have at least 2 dimensions, got shape "
                         f"{shape_of(m)}")
    first, second = (normalize_axis(a, ndim, "rot90") for a in axes)
    if first == second:
        raise ValueError("numpy.rot90: axes must be different")
    k = operator.index(k) % 4
    if k == 0:
        return m
    if k == 2:
        return np.flip(np.flip(m, first), second)
    order = list(range(ndim))
    order[first], order[second] = second, first
    if k == 1:
        return np.transpose(np.flip(m, second), order)
    return np.flip(np.transpose(m, order), second)


def rollaxis(a, axis, start=0):
    ndim = ndim_of(a)
    axis = normalize_axis(operator.index(axis), ndim, "rollaxis")
    start = operator.index(start)
    if not -ndim <= start <= ndim:
        raise ValueError(f"numpy.rollaxis: start {start} is out of bounds for an array of "
                         f"dimension {ndim}")
    start %= ndim + 1
    if axis < start:
        start -= 1
    order = [d for d in range(ndim) if d != axis]
    order.insert(start, axis)
    return np.transpose(a, order)


def append(arr, values, axis=None):
    if axis is None:
        return np.concatenate((np.ravel(arr), np.ravel(values)), axis=0)
    return np.concatenate((arr, values), axis=axis)


def delete(arr, obj, axis=None):
    if axis is None:
        arr, axis = np.ravel(arr), 0
    axis = normalize_axis(axis, ndim_of(arr), "delete")
    kept = np.delete(np.arange(shape_of(arr)[axis]), plain(obj))
    return arr[(_ALL,) * axis + (kept,)]


def insert(arr, obj, values, axis=None):
    """np.insert as one gather from arr's and values' entries: NumPy's own insert, run on
    integer tags of the entries, says which entry lands where (values broadcast and cast to
    arr's dtype, as in NumPy; a value used several times gets the sum of their gradients)."""
    arr_tags = np.arange(1, math.prod(shape_of(arr)) + 1).reshape(shape_of(arr))
    value_tags = -np.arange(1, math.prod(shape_of(values)) + 1).reshape(shape_of(values))
    tags = np.insert(arr_tags, plain(obj), value_tags, axis=axis)   # NumPy's errors too
    dtype = array_dtype(arr)
    if type(values) is not Traced:
        values = np.asarray(values, dtype)
    elif dtype_of(values) != dtype:
        values = values.astype(dtype)
    entries = np.concatenate((np.ravel(arr), np.ravel(values)))
    return entries[np.where(tags > 0, tags - 1, arr_tags.size - tags - 1)]


def resize(a, new_shape):
    """The flattened data repeated (or cut) to fill new_shape."""
    new_shape = (new_shape,) if ndim_of(new_shape) == 0 else tuple(new_shape)
    if any(size < 0 for size in new_shape):
        raise ValueError("numpy.resize: all elements of `new_shape` must be non-negative")
    flat = np.ravel(a)
    size, total = shape_of(flat)[0], math.prod(new_shape)
    if size == 0 or total == 0:
        return np.zeros(new_shape, dtype=flat.dtype)
    return np.reshape(flat[np.arange(total) % size], new_shape)


def dsplit(ary, indices_or_sections):
    if ndim_of(ary) < 3:
        raise ValueError(f"numpy.dsplit only works on arrays of 3 or more dimensions, got "
                         f"shape {shape_of(ary)}")
    return np.split(ary, indices_or_sections, axis=2)


def dstack(tup):
    return np.concatenate([np.atleast_3d(a) for a in tup], axis=2)


def unstack(x, /, *, axis=0):
    axis = normalize_axis(axis, ndim_of(x), "unstack")
    return tuple(x[(_ALL,) * axis + (i,)] for i in range(shape_of(x)[axis]))


def sliding_window_view(x, window_shape, axis=None, *, subok=False, writeable=False):
    """numpy.lib.stride_tricks.sliding_window_view as a gather: NumPy's own view of the flat
    positions 0 .. size - 1 gives the element each output entry reads (a copy, not a view)."""
    if writeable:
        raise TypeError("numpy.lib.stride_tricks.sliding_window_view(..., writeable=True) "
                        "gives a view to write through, which cannot be differentiated")
    positions = np.arange(math.prod(shape_of(x))).reshape(shape_of(x))
    index = np.lib.stride_tricks.sliding_window_view(positions, window_shape, axis=axis)
    return np.ravel(x)[index]


def unwrap(p, discont=None, axis=-1, *, period=2 * math.pi):
    """p plus the multiples of `period` that NumPy's unwrap adds: gradient 1 w.r.t. p, the
    (constant, integer) multiple w.r.t. a traced period; discont only chooses where the jumps
    are (gradient 0)."""
    values, period_value = plain(p), plain(period)
    unwrapped = np.unwrap(values, discont=plain(discont), axis=axis, period=period_value)
    if type(period) is not Traced:
        return p + (unwrapped - values)
    return p + np.round((unwrapped - values) / period_value) * period


# --- functions applied to parts of an array --------------------------------------------------

def piecewise(x, condlist, funclist, *args, **kw):
    """func(x[cond]) (or a constant) written where each condition holds, later ones winning,
    zero elsewhere; with one function more than conditions, the last applies where none holds.
    The functions see traced parts of x, so the result is differentiable through them."""
    if type(x) is not Traced:
        x = np.asarray(x)
    shape = shape_of(x)
    conditions = plain(condlist)
    # as NumPy: one condition may be given bare (a scalar, or a boolean array of a 1-D x)
    if np.isscalar(conditions) or \
            (not isinstance(conditions[0], (list, np.ndarray)) and len(shape) != 0):
        conditions = [conditions]
    conditions = np.asarray(conditions, dtype=bool)
    if not shape:   # a 0-d x as one element, each condition a 0-d bool
        x = np.reshape(x, (1,))
        conditions = conditions.reshape((len(conditions), 1))
    if len(conditions) == len(funclist) - 1:
        conditions = np.concatenate([conditions, ~np.any(conditions, axis=0, keepdims=True)])
    elif len(conditions) != len(funclist):
        raise ValueError(f"numpy.piecewise: with {len(conditions)} condition(s), either "
                         f"{len(conditions)} or {len(conditions) + 1} functions are expected")
    out = np.zeros(shape_of(x), dtype=dtype_of(x))
    for condition, function in zip(conditions, funclist):
        if not callable(function):
            out = index_update(out, condition, function)
        elif condition.any():
            out = index_update(out, condition, function(x[condition], *args, **kw))
    return np.reshape(out, ()) if not shape else out


def apply_along_axis(func1d, axis, arr, *args, **kwargs):
    """func1d applied to every 1-D slice along `axis` (a Python loop over the slices), its
    results stacked where the axis was, as NumPy does."""
    ndim = ndim_of(arr)
    axis = normalize_axis(axis, ndim, "apply_along_axis")
    moved = np.moveaxis(arr, axis, -1)
    outer = shape_of(moved)[:-1]
    if math.prod(outer) == 0:
        raise ValueError("numpy.apply_along_axis: cannot apply_along_axis when any iteration "
                         "dimensions are 0")
    results = [func1d(moved[index], *args, **kwargs) for index in np.ndindex(*outer)]
    if type(results[0]) is not Traced:
        results[0] = np.asarray(results[0])
    dtype = dtype_of(results[0])   # as NumPy: the other results are cast to the first's dtype
    results = [result if type(result) is Traced and dtype_of(result) == dtype else
               as_dtype(result, dtype) for result in results]
    result_ndim = ndim_of(results[0])
    stacked = np.reshape(np.stack(results), outer + shape_of(results[0]))
    return np.moveaxis(stacked, tuple(range(len(outer), len(outer) + result_ndim)),
                       tuple(range(axis, axis + result_ndim)))


def _depth_and_leaves(arrays, depth=0):
    if type(arrays) is tuple:
        raise TypeError("numpy.block: arrays is a tuple; only lists can be used to arrange "
                        "blocks")
    if type(arrays) is not list:
        return depth, [arrays]
    if not arrays:
        raise ValueError("numpy.block: lists cannot be empty")
    results = [_depth_and_leaves(item, depth + 1) for item in arrays]
    depths = {d for d, _ in results}
    if len(depths) != 1:
        raise ValueError(f"numpy.block: list depths are mismatched ({sorted(depths)})")
    return depths.pop(), [leaf for _, leaves in results for leaf in leaves]


def block(arrays):
    """Nested lists of arrays joined along the last axis (innermost lists), then the second
    last, and so on; every block is first given the result's number of dimensions."""
    depth, leaves = _depth_and_leaves(arrays)
    ndim = max([depth] + [ndim_of(leaf) for leaf in leaves])

    def build(item, level):
        if type(item) is list:
            return np.concatenate([build(part, level + 1) for part in item],
                                  axis=level - depth)
        shape = shape_of(item)
        return np.reshape(item, (1,) * (ndim - len(shape)) + tuple(shape))

    return build(arrays, 0)


def broadcast_arrays(*args, subok=False):
    shape = np.broadcast_shapes(*[shape_of(a) for a in args])
    return _ARRAY_SEQUENCE(np.broadcast_to(a, shape) for a in args)


_ARRAY_SEQUENCE = type(np.broadcast_arrays(np.zeros(1)))   # tuple on NumPy 2, list before


def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    if indexing not in ("xy", "ij"):
        raise ValueError("numpy.meshgrid: valid values for `indexing` are 'xy' and 'ij'")
    count = len(xi)
    grids = [np.reshape(x, (1,) * i + (-1,) + (1,) * (count - i - 1)) for i, x in enumerate(xi)]
    if indexing == "xy" and count > 1:
        rest = (1,) * (count - 2)
        grids[0] = np.reshape(grids[0], (1, -1) + rest)
        grids[1] = np.reshape(grids[1], (-1, 1) + rest)
    if not sparse:
        grids = broadcast_arrays(*grids)
    return _MESHGRID_SEQUENCE(grids)


_MESHGRID_SEQUENCE = type(np.meshgrid(np.zeros(1)))


def select(condlist, choicelist, default=0):
    """The first choice whose condition holds, else default: nested np.where, last first."""
    condlist, choicelist = list(condlist), list(choicelist)
    if len(condlist) != len(choicelist):
        raise ValueError("numpy.select: list of cases must be same length as list of "
                         f"conditions ({len(choicelist)} choices, {len(condlist)} conditions)")
    if not condlist:
        raise ValueError("numpy.select: select with an empty condition list is not possible")
    result = default
    for condition, choice in zip(reversed(condlist), reversed(choicelist)):
        condition = np.asarray(plain(condition))
        if condition.dtype != bool:
            raise TypeError(f"numpy.select: invalid entry in condlist: should be boolean "
                            f"ndarray, got dtype {condition.dtype}")
        result = np.where(condition, choice, result)
    return result


def choose(a, choices, out=None, mode="raise"):
    reject_kwargs("choose", {"out": out}, out=None)
    index = np.asarray(plain(a))
    choices = list(choices)
    if mode == "wrap":
        index = np.mod(index, len(choices))
    elif mode == "clip":
        index = np.clip(index, 0, len(choices) - 1)
    elif np.any((index < 0) | (index >= len(choices))):
        raise ValueError("numpy.choose: invalid entry in choice array")
    shape = np.broadcast_shapes(index.shape, *[shape_of(c) for c in choices])
    stacked = np.stack([np.broadcast_to(c, shape) for c in choices])
    return np.take_along_axis(stacked, np.broadcast_to(index, shape)[None], axis=0)[0]


def compress(condition, a, axis=None, out=None):
    reject_kwargs("compress", {"out": out}, out=None)
    if axis is None:
        a, axis = np.ravel(a), 0
    axis = normalize_axis(axis, ndim_of(a), "compress")
    kept = np.flatnonzero(np.asarray(plain(condition)))
    if kept.size and kept[-1] >= shape_of(a)[axis]:
        raise IndexError(f"numpy.compress: index {kept[-1]} is out of bounds for axis {axis} "
                         f"with size {shape_of(a)[axis]}")
    return a[(_ALL,) * axis + (kept,)]


def extract(condition, arr):
    return np.ravel(arr)[np.flatnonzero(np.asarray(plain(condition)))]


_FUNCTIONAL = "build a new array instead with vjpnet.index_update(x, index, value) or np.where"
_IN_PLACE = [("copyto", "use np.where(mask, src, dst), or np.broadcast_to(src, shape) (also for "
                       "np.full_like(a, x), which calls copyto)"),
             ("put", _FUNCTIONAL), ("place", _FUNCTIONAL), ("putmask", _FUNCTIONAL),
             ("fill_diagonal", _FUNCTIONAL), ("put_along_axis", _FUNCTIONAL)]

for _function, _handler in [
        (np.tril, tril), (np.triu, triu), (np.rot90, rot90), (np.rollaxis, rollaxis),
        (np.append, append), (np.delete, delete), (np.insert, insert), (np.resize, resize),
        (np.dsplit, dsplit),
        (np.dstack, dstack), (np.block, block), (np.broadcast_arrays, broadcast_arrays),
        (np.meshgrid, meshgrid), (np.select, select), (np.choose, choose),
        (np.compress, compress), (np.extract, extract),
        (np.lib.stride_tricks.sliding_window_view, sliding_window_view), (np.unwrap, unwrap),
        (np.piecewise, piecewise), (np.apply_along_axis, apply_along_axis)]:
    register_function(_function, _handler)
for _name, _handler in [("unstack", unstack), ("row_stack", lambda tup: np.vstack(tup))]:
    if hasattr(np, _name):   # unstack: NumPy >= 2.1; row_stack: deprecated
        register_function(getattr(np, _name), _handler)
for _name, _alternative in _IN_PLACE:
    UNSUPPORTED[getattr(np, _name)] = (
        f"numpy.{_name} writes into an array in place, which cannot be differentiated (a "
        f"traced value is among its arguments); {_alternative}")
