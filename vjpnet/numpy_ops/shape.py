"""Shape and dtype primitives: reshape, transpose, broadcast_to, astype, concatenate, roll,
tile, pad, and the NumPy functions built from them and from indexing (ravel, squeeze,
expand_dims, moveaxis, stack, hstack, vstack, split, flip, repeat, take, take_along_axis,
diagonal, diag, trace, ...).

Most of these are linear: their VJPs read only constants (shapes, indices) from the cache.
"""
import math
import operator

import numpy as np

from vjpnet.numpy_ops._base import (Primitive, Sample, as_array, cast_cotangent, complex_normal,
                                    ndim_of, normalize_axis, reject_kwargs, shape_of,
                                    sum_to_shape)
from vjpnet.numpy_ops.indexing import getitem_p, index_add_p
from vjpnet.registry import register_function, register_nondifferentiable
from vjpnet.tape import FUNCTION_HANDLERS, Traced, dtype_of, plain

_ALL = slice(None)


# --- reshape, transpose, broadcast_to, astype -----------------------------------------------

def _reshape_forward(x, shape):
    return as_array(x).reshape(shape), shape_of(x)


reshape_p = Primitive(_reshape_forward, lambda g, shape: (g.reshape(shape), None),
                      name="reshape", linear=True,
                      spec=lambda rng: Sample(rng.standard_normal((2, 6)), (3, -1)))


def reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    shape = newshape if shape is None else shape
    np.reshape(np.empty(shape_of(a), np.int8), shape, order=order)   # NumPy's own errors
    if _index_order(a, order) == "C":
        return reshape_p(a, shape)
    # Fortran order: C order on the reversed axes, read and written back reversed.
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return transpose_p(reshape_p(transpose_p(a, None), shape[::-1]), None)


def _index_order(a, order):
    """The order NumPy reads a's elements in for `order`: "C", "F", or for "K" (ravel only) an
    axis permutation. "A" and "K" depend on the memory layout of a's value, as in NumPy."""
    order = "C" if order is None else str(order)[:1].upper()
    if order not in "AK":
        return order
    value = np.asarray(plain(a))
    if value.flags.c_contiguous:
        return "C"
    if value.flags.f_contiguous:
        return "F"
    if order == "A":
        return "C"
    return _memory_axis_order(value)


def _memory_axis_order(value):
    """The axes of value, slowest-varying first, in the order NumPy's nditer visits memory for
    order="K": an insertion sort by stride size from the last axis, where broadcast (zero-stride)
    and length-1 axes compare with nothing and stay where C order puts them."""
    strides = [0 if n == 1 else abs(stride) for n, stride in zip(value.shape, value.strides)]
    axes = list(range(value.ndim))[::-1]   # fastest-varying first
    for i in range(1, len(axes)):
        position = i
        for j in range(i - 1, -1, -1):
            if strides[axes[i]] and strides[axes[j]]:
                if strides[axes[j]] <= strides[axes[i]]:
                    break
                position = j
        axes.insert(position, axes.pop(i))
    return tuple(axes[::-1])


def _transpose_forward(x, axes=None):
    return as_array(x).transpose(axes), axes


def _transpose_vjp(g, axes):
    return (g.transpose(None if axes is None else tuple(np.argsort(axes).tolist())), None)


transpose_p = Primitive(_transpose_forward, _transpose_vjp, name="transpose", linear=True,
                        spec=lambda rng: Sample(rng.standard_normal((2, 3, 4)), (1, 2, 0)))


def transpose(a, axes=None):
    if axes is not None:
        ndim = ndim_of(a)
        axes = tuple(normalize_axis(operator.index(axis), ndim, "transpose") for axis in axes)
    return transpose_p(a, axes)


_SMALL = 1 << 14   # below this many elements a filled copy is cheaper than a broadcast view


def _broadcast_to_forward(x, shape):
    dtype = None if type(x) is float else dtype_of(x)   # (complex128 for a Python complex)
    if math.prod(shape) <= _SMALL:
        out = np.empty(shape, dtype=dtype or np.float64)
        out[...] = x
    else:
        out = np.broadcast_to(x, shape)
    return out, (shape_of(x), dtype)


broadcast_to_p = Primitive(_broadcast_to_forward,
                           lambda g, cache: (sum_to_shape(g, *cache), None),
                           name="broadcast_to", linear=True,
                           spec=lambda rng: [Sample(rng.standard_normal((3, 1)), (2, 3, 4)),
                                             Sample(complex_normal(rng, (3, 1)), (2, 3, 4))])


def _astype_forward(x, dtype):
    return as_array(x).astype(dtype), dtype_of(x)


astype_p = Primitive(_astype_forward, lambda g, dtype: (cast_cotangent(g, dtype), None),
                     name="astype", linear=True,
                     spec=lambda rng: [Sample(rng.standard_normal((3,)), np.float64),
                                       Sample(rng.standard_normal((3,)), np.complex128)])


def swapaxes(a, axis1, axis2):
    axes = list(range(ndim_of(a)))
    axis1 = normalize_axis(axis1, len(axes), "swapaxes")
    axis2 = normalize_axis(axis2, len(axes), "swapaxes")
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose_p(a, tuple(axes))


def moveaxis(a, source, destination):
    ndim = ndim_of(a)
    source = [normalize_axis(s, ndim, "moveaxis") for s in np.atleast_1d(source).tolist()]
    destination = [normalize_axis(d, ndim, "moveaxis")
                   for d in np.atleast_1d(destination).tolist()]
    if len(source) != len(destination):
        raise ValueError("numpy.moveaxis: `source` and `destination` arguments must have the "
                         "same number of elements")
    order = [axis for axis in range(ndim) if axis not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return transpose_p(a, tuple(order))


def ravel(a, order="C"):
    np.ravel(np.empty(shape_of(a), np.int8), order=order)   # NumPy's own errors
    order = _index_order(a, order)
    if order == "C":
        return reshape_p(a, (-1,))
    return reshape_p(transpose_p(a, None if order == "F" else order), (-1,))


def _shape_after(function, shape, *args):
    """The shape NumPy's `function` gives an array of `shape` (NumPy's own errors included)."""
    return function(np.broadcast_to(np.empty((), np.int8), shape), *args).shape


def squeeze(a, axis=None):
    return reshape_p(a, _shape_after(np.squeeze, shape_of(a), axis))


def expand_dims(a, axis):
    return reshape_p(a, _shape_after(np.expand_dims, shape_of(a), axis))


def _atleast(ndim, shape):
    if len(shape) >= ndim:
        return shape
    if ndim == 1:
        return (1,)
    if ndim == 2:
        return (1,) * (2 - len(shape)) + shape
    return {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}[len(shape)]


def _atleast_function(ndim):
    def atleast(*arrays):
        results = [reshape_p(a, _atleast(ndim, shape_of(a))) for a in arrays]
        return results[0] if len(results) == 1 else tuple(results)
    atleast.__name__ = f"atleast_{ndim}d"
    return atleast


atleast_1d, atleast_2d, atleast_3d = (_atleast_function(n) for n in (1, 2, 3))


# --- indexing built on getitem ----------------------------------------------------------------

def take(a, indices, axis=None, out=None, mode="raise"):
    reject_kwargs("take", {"out": out, "mode": mode}, out=None, mode="raise")
    indices = np.asarray(plain(indices))
    if axis is None:
        return getitem_p(ravel(a), indices)
    axis = normalize_axis(axis, ndim_of(a), "take")
    return getitem_p(a, (_ALL,) * axis + (indices,))


def take_along_axis(arr, indices, axis=-1):
    indices = np.asarray(plain(indices))
    if axis is None:
        return getitem_p(ravel(arr), indices)
    ndim = ndim_of(arr)
    if indices.ndim != ndim:
        raise ValueError(f"numpy.take_along_axis: indices has {indices.ndim} dimensions, arr "
                         f"has {ndim}; they must match")
    axis = normalize_axis(axis, ndim, "take_along_axis")
    shape = shape_of(arr)
    index = tuple(indices if d == axis else
                  np.arange(shape[d]).reshape((1,) * d + (-1,) + (1,) * (ndim - d - 1))
                  for d in range(ndim))
    return getitem_p(arr, index)


# --- joining and splitting --------------------------------------------------------------------

def _concatenate_forward(*arrays, axis=0):
    out = np.concatenate(arrays, axis=axis)
    bounds = np.cumsum([0] + [shape_of(a)[axis] for a in arrays]).tolist()
    return out, (axis, bounds, [dtype_of(a) for a in arrays])


def _concatenate_vjp(g, cache, needed):
    axis, bounds, dtypes = cache
    prefix = (_ALL,) * axis
    cotangents = []
    for position, need in enumerate(needed):
        if not need:
            cotangents.append(None)
            continue
        piece = g[prefix + (slice(bounds[position], bounds[position + 1]),)]
        cotangents.append(piece if piece.dtype == dtypes[position]
                          else cast_cotangent(piece, dtypes[position]))
    return tuple(cotangents)


concatenate_p = Primitive(_concatenate_forward, _concatenate_vjp, name="concatenate",
                          linear=True, selective_vjp=True,
                          spec=lambda rng: [Sample(rng.standard_normal((2, 3)),
                                                   rng.standard_normal((4, 3))),
                                            Sample(rng.standard_normal((2, 3)),
                                                   rng.standard_normal((2, 1)),
                                                   rng.standard_normal((2, 2)), axis=1),
                                            Sample(rng.standard_normal((2, 3)),
                                                   complex_normal(rng, (1, 3)))])


def concatenate(arrays, axis=0, out=None, dtype=None, casting="same_kind"):
    reject_kwargs("concatenate", {"out": out, "dtype": dtype}, out=None, dtype=None)
    arrays = list(arrays)
    if axis is None:
        return concatenate_p(*[ravel(a) for a in arrays], axis=0)
    if not arrays:
        raise ValueError("numpy.concatenate: need at least one array to concatenate")
    axis = normalize_axis(axis, ndim_of(arrays[0]), "concatenate")
    return concatenate_p(*arrays, axis=axis)


def stack(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    reject_kwargs("stack", {"out": out, "dtype": dtype}, out=None, dtype=None)
    arrays = list(arrays)
    if not arrays:
        raise ValueError("numpy.stack: need at least one array to stack")
    shapes = {shape_of(a) for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"numpy.stack: all input arrays must have the same shape, got "
                         f"{[shape_of(a) for a in arrays]}")
    axis = normalize_axis(axis, ndim_of(arrays[0]) + 1, "stack")
    return concatenate_p(*[expand_dims(a, axis) for a in arrays], axis=axis)


def hstack(tup, *, dtype=None, casting="same_kind"):
    reject_kwargs("hstack", {"dtype": dtype}, dtype=None)
    arrays = [atleast_1d(a) for a in tup]
    return concatenate(arrays, axis=0 if ndim_of(arrays[0]) == 1 else 1)


def vstack(tup, *, dtype=None, casting="same_kind"):
    reject_kwargs("vstack", {"dtype": dtype}, dtype=None)
    return concatenate([atleast_2d(a) for a in tup], axis=0)


def column_stack(tup):
    arrays = [reshape_p(a, (-1, 1)) if ndim_of(a) < 2 else a for a in tup]
    return concatenate(arrays, axis=1)


def _split_bounds(length, indices_or_sections, function_name, equal):
    if ndim_of(indices_or_sections) == 0:
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError(f"numpy.{function_name}: number sections must be larger than 0")
        if equal and length % sections:
            raise ValueError(f"numpy.{function_name}: array split does not result in an equal "
                             f"division ({length} elements into {sections} sections)")
        size, extra = divmod(length, sections)
        sizes = [size + 1] * extra + [size] * (sections - extra)
        return np.cumsum([0] + sizes).tolist()
    return [0] + [min(max(int(i) if i >= 0 else length + int(i), 0), length)
                  for i in indices_or_sections] + [length]


def _split(ary, indices_or_sections, axis, function_name, equal):
    axis = normalize_axis(axis, ndim_of(ary), function_name)
    bounds = _split_bounds(shape_of(ary)[axis], indices_or_sections, function_name, equal)
    prefix = (_ALL,) * axis
    return [getitem_p(ary, prefix + (slice(start, max(start, stop)),))
            for start, stop in zip(bounds[:-1], bounds[1:])]


def split(ary, indices_or_sections, axis=0):
    return _split(ary, indices_or_sections, axis, "split", equal=True)


def array_split(ary, indices_or_sections, axis=0):
    return _split(ary, indices_or_sections, axis, "array_split", equal=False)


def hsplit(ary, indices_or_sections):
    return _split(ary, indices_or_sections, 0 if ndim_of(ary) == 1 else 1, "hsplit", True)


def vsplit(ary, indices_or_sections):
    return _split(ary, indices_or_sections, 0, "vsplit", equal=True)


# --- reordering and repeating -----------------------------------------------------------------

def flip(m, axis=None):
    ndim = ndim_of(m)
    axes = range(ndim) if axis is None else \
        [normalize_axis(a, ndim, "flip") for a in np.atleast_1d(axis).tolist()]
    reverse = slice(None, None, -1)
    return getitem_p(m, tuple(reverse if d in axes else _ALL for d in range(ndim)))


def _negated(shift):
    return -shift if ndim_of(shift) == 0 else tuple(-s for s in shift)


def _roll_forward(a, shift, axis=None):
    return np.roll(a, shift, axis=axis), (shift, axis)


def _roll_vjp(g, cache):
    shift, axis = cache
    return (roll_p(g, shift=_negated(shift), axis=axis),)


roll_p = Primitive(_roll_forward, _roll_vjp, name="roll", linear=True,
                   spec=lambda rng: [Sample(rng.standard_normal((3, 4)), shift=1),
                                     Sample(rng.standard_normal((3, 4)), shift=(1, -2),
                                            axis=(0, 1))])


def roll(a, shift, axis=None):
    shift = shift if ndim_of(shift) == 0 else tuple(np.asarray(shift).tolist())
    axis = axis if axis is None or ndim_of(axis) == 0 else tuple(np.asarray(axis).tolist())
    return roll_p(a, shift=shift, axis=axis)


def _tile_forward(a, reps):
    return np.tile(a, reps), (shape_of(a), reps)


def _tile_vjp(g, cache):
    shape, reps = cache
    reps = (int(reps),) if ndim_of(reps) == 0 else tuple(reps)
    ndim = max(len(shape), len(reps))
    shape_d = (1,) * (ndim - len(shape)) + tuple(shape)
    reps_d = (1,) * (ndim - len(reps)) + reps
    interleaved = [size for pair in zip(reps_d, shape_d) for size in pair]
    summed = np.sum(np.reshape(g, interleaved), axis=tuple(range(0, 2 * ndim, 2)))
    return (np.reshape(summed, shape),)


tile_p = Primitive(_tile_forward, _tile_vjp, name="tile", linear=True,
                   spec=lambda rng: [Sample(rng.standard_normal((2, 3)), reps=(2, 1, 3)),
                                     Sample(complex_normal(rng, (2, 3)), reps=(1, 2)),
                                     Sample(rng.standard_normal(3), reps=2)])


def repeat(a, repeats, axis=None):
    if axis is None:
        a, axis = ravel(a), 0
    axis = normalize_axis(axis, ndim_of(a), "repeat")
    index = np.repeat(np.arange(shape_of(a)[axis]), plain(repeats))
    return getitem_p(a, (_ALL,) * axis + (index,))


def _pad_forward(array, pad_width, constant_values=0):
    out = np.pad(array, pad_width, mode="constant", constant_values=constant_values)
    return out, (pad_width, shape_of(array))


def _pad_vjp(g, cache):
    pad_width, shape = cache
    return (g[tuple(slice(before, before + n) for (before, _), n in zip(pad_width, shape))],)


pad_constant_p = Primitive(
    _pad_forward, _pad_vjp, name="pad", linear=True,
    spec=lambda rng: [Sample(rng.standard_normal((2, 3)), ((1, 2), (0, 1))),
                      Sample(rng.standard_normal((2, 3)), ((2, 0), (1, 1)),
                              constant_values=1.5),
                      Sample(complex_normal(rng, (2, 3)), ((0, 1), (2, 0)),
                             constant_values=0.5j)])
_INDEX_PAD_MODES = ("edge", "reflect", "symmetric", "wrap")


def _pad_traced_constant(array, widths, constant):
    """np.pad(array, widths, constant_values=constant) for a traced scalar constant: the border
    is `constant` (so its gradient is the sum of the border's cotangents), inside is `array`;
    the result has array's dtype, as NumPy's."""
    if ndim_of(constant) != 0:
        raise TypeError("numpy.pad on a traced array: vjpnet supports one scalar "
                        f"constant_values, got a traced array of shape {shape_of(constant)}")
    border = np.pad(np.zeros(shape_of(array), bool), widths, constant_values=True)
    out = np.where(border, constant, pad_constant_p(array, widths))
    dtype = dtype_of(array)
    return out if dtype_of(out) == dtype else out.astype(dtype)


def pad(array, pad_width, mode="constant", **kwargs):
    ndim = ndim_of(array)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (ndim, 2))
    widths = tuple((int(before), int(after)) for before, after in widths.tolist())
    if mode == "constant":
        reject_kwargs("pad", {k: v for k, v in kwargs.items() if k != "constant_values"})
        constant_values = kwargs.get("constant_values", 0)
        if type(constant_values) is Traced:
            return _pad_traced_constant(array, widths, constant_values)
        if ndim_of(constant_values) != 0 or \
                type(constant_values) not in (int, float, complex):
            constant_values = plain(constant_values)
            if ndim_of(constant_values) != 0:
                raise TypeError("numpy.pad on a traced array: vjpnet supports one scalar "
                                "constant_values, got an array")
            constant_values = constant_values.item()
        return pad_constant_p(array, widths, constant_values=constant_values)
    if mode in _INDEX_PAD_MODES:
        reject_kwargs("pad", kwargs)
        for axis, (before, after) in enumerate(widths):   # each mode is an index map per axis
            index = np.pad(np.arange(shape_of(array)[axis]), (before, after), mode=mode)
            array = getitem_p(array, (_ALL,) * axis + (index,))
        return array
    raise TypeError(f"numpy.pad(..., mode={mode!r}) has no VJP in vjpnet; supported modes: "
                    f"'constant', {', '.join(repr(m) for m in _INDEX_PAD_MODES)}")


# --- diagonals --------------------------------------------------------------------------------

def _diagonal_index(rows, cols, offset):
    if offset >= 0:
        length = max(0, min(rows, cols - offset))
        return np.arange(length), np.arange(length) + offset
    length = max(0, min(rows + offset, cols))
    return np.arange(length) - offset, np.arange(length)


def diagonal(a, offset=0, axis1=0, axis2=1):
    ndim = ndim_of(a)
    if ndim < 2:
        raise ValueError("numpy.diagonal: the array must have at least 2 dimensions, got "
                         f"shape {shape_of(a)}")
    axis1 = normalize_axis(axis1, ndim, "diagonal")
    axis2 = normalize_axis(axis2, ndim, "diagonal")
    moved = moveaxis(a, (axis1, axis2), (-2, -1))
    rows, cols = _diagonal_index(*shape_of(moved)[-2:], offset)
    return getitem_p(moved, (Ellipsis, rows, cols))


def diag(v, k=0):
    if ndim_of(v) == 1:
        size = shape_of(v)[0] + abs(k)
        return index_add_p(v, _diagonal_index(size, size, k), (size, size))
    if ndim_of(v) == 2:
        return diagonal(v, k)
    raise ValueError(f"numpy.diag: input must be 1-d or 2-d, got shape {shape_of(v)}")


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    reject_kwargs("trace", {"dtype": dtype, "out": out}, dtype=None, out=None)
    return np.sum(diagonal(a, offset, axis1, axis2), axis=-1)


# --- routing ----------------------------------------------------------------------------------

for _function, _handler in [
        (np.reshape, reshape), (np.transpose, transpose), (np.swapaxes, swapaxes),
        (np.moveaxis, moveaxis), (np.ravel, ravel), (np.squeeze, squeeze),
        (np.expand_dims, expand_dims), (np.atleast_1d, atleast_1d), (np.atleast_2d, atleast_2d),
        (np.atleast_3d, atleast_3d),
        (np.broadcast_to, lambda array, shape, subok=False: broadcast_to_p(array, shape)),
        (np.copy, lambda a, order="K", subok=False: a),
        (np.take, take), (np.take_along_axis, take_along_axis),
        (np.concatenate, concatenate), (np.stack, stack), (np.hstack, hstack),
        (np.vstack, vstack), (np.column_stack, column_stack), (np.split, split),
        (np.array_split, array_split), (np.hsplit, hsplit), (np.vsplit, vsplit),
        (np.flip, flip), (np.fliplr, lambda m: flip(m, 1)), (np.flipud, lambda m: flip(m, 0)),
        (np.roll, roll), (np.tile, lambda A, reps: tile_p(A, reps=reps)), (np.repeat, repeat),
        (np.pad, pad), (np.diagonal, diagonal), (np.diag, diag), (np.trace, trace)]:
    register_function(_function, _handler)
FUNCTION_HANDLERS["astype"] = astype_p
register_nondifferentiable(np.shape, np.ndim, np.size)
