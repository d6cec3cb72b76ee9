"""Indexing: x[index] (basic, fancy, boolean) with a scatter-add VJP, and index_update, the
functional form of x[index] = value. Both are linear: their VJPs read only the index."""
import numpy as np

from vjpnet.numpy_ops._base import Primitive, Sample, complex_normal, shape_of, sum_to_shape
from vjpnet.tape import FUNCTION_HANDLERS, dtype_of, plain


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


index_add_p = Primitive(_index_add_forward, lambda g, index: (g[index], None, None),
                        name="index_add", linear=True,
                        spec=lambda rng: [Sample(rng.standard_normal(4), ([0, 2, 2, 1],), (3,)),
                                          Sample(complex_normal(rng, 4), ([0, 2, 2, 1],), (3,))])
index_add_p.__doc__ = """index_add(values, index, shape): zeros(shape) with `values` added at
`index` (repeated indices accumulate); the VJP of indexing."""


def _getitem_forward(x, index):
    return x[index], (index, shape_of(x))


def _getitem_vjp(g, cache):
    index, shape = cache
    return (index_add_p(g, index, shape), None)


getitem_p = Primitive(
    _getitem_forward, _getitem_vjp, name="getitem", linear=True,
    spec=lambda rng: [Sample(rng.standard_normal((3, 4)), (slice(1, 3), 2)),
                        Sample(rng.standard_normal((3, 4)),
                               (np.array([0, 2, 0]), np.array([1, 1, 1]))),
                        Sample(rng.standard_normal((3, 4)), rng.standard_normal((3, 4)) > 0),
                        Sample(rng.standard_normal((3, 4, 2)), (Ellipsis, None, slice(None, 1))),
                        Sample(complex_normal(rng, (3, 4)), (np.array([0, 2, 0]), slice(1, 3)))])


def _index_update_forward(x, index, value):
    out = np.array(x, copy=True)
    out[index] = value
    shape = () if type(value) in (float, int) else shape_of(value)
    return out, (index, shape, None if type(value) in (float, int) else dtype_of(value))


def _index_update_vjp(g, cache):
    index, value_shape, value_dtype = cache
    return (index_update(g, index, 0.0), None,
            sum_to_shape(g[index], value_shape, value_dtype))


index_update_p = Primitive(
    _index_update_forward, _index_update_vjp, name="index_update", linear=True,
    spec=lambda rng: [Sample(rng.standard_normal((3, 4)), (slice(None), 1),
                              rng.standard_normal(3)),
                      Sample(rng.standard_normal((3, 4)), (np.array([0, 2]),),
                              rng.standard_normal(4)),
                      Sample(rng.standard_normal((3, 4)), (1, 2), 0.5),
                      Sample(complex_normal(rng, (3, 4)), (np.array([0, 2]),),
                             rng.standard_normal(4))])


def index_update(x, index, value):
    """A copy of x with x[index] = value; the functional, differentiable form of `x[index] = v`.

    x: array (traced or not); index: any NumPy index (basic, fancy, boolean mask); value: array
    or float broadcastable to x[index]. Gradients flow to x (except at index) and to value.
    With repeated fancy indices NumPy keeps one of the writes; use distinct indices.
    """
    if type(index) is tuple:
        index = tuple(plain(item) for item in index)
    else:
        index = plain(index)
    return index_update_p(x, index, value)



FUNCTION_HANDLERS["getitem"] = getitem_p
