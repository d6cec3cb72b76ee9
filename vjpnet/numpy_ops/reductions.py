"""Reductions: sum, mean, prod, max/amax, min/amin, var, std, cumsum."""
import operator
import warnings

import numpy as np

from vjpnet.numpy_ops._base import (AxisError, Primitive, Sample, as_array, complex_normal,
                                    real_dtype, refuse_complex, reject_kwargs, shape_of)
from vjpnet import memory
from vjpnet.numpy_ops.elementwise import multiply_p, power_p, square_p
from vjpnet.numpy_ops.shape import astype_p, broadcast_to_p
from vjpnet.registry import register_function
from vjpnet.tape import _ONE, UFUNC_METHODS, Traced, dtype_of, plain, record


def _reduced_axes(shape, axis):
    """The axes `axis` reduces, in [0, len(shape)) (the forward, NumPy's, has checked them; of a
    0-d array NumPy's reductions take axis 0 or -1 and reduce nothing)."""
    if axis is None or not shape:
        return set(range(len(shape)))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
    return {a % len(shape) for a in axes}


def _check_0d_axis(a, axis, function_name):
    """NumPy's mean, var and std take no axis of a 0-d array (its sum takes 0 and -1)."""
    if axis is not None and axis != () and not shape_of(a):
        raise AxisError(f"numpy.{function_name}: axis {axis!r} is out of bounds for an array of "
                        "dimension 0")


def _keepdims_shape(shape, axis):
    axes = _reduced_axes(shape, axis)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _reduced_shape(shape, axis):
    axes = _reduced_axes(shape, axis)
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def _count(shape, axis):
    count = 1
    for i in _reduced_axes(shape, axis):
        count *= shape[i]
    return count


def _check_reduction(function_name, out, where):
    if out is None and where is np._NoValue:
        return
    reject_kwargs(function_name, {"out": out, "where": where}, out=None, where=np._NoValue)


def _with_initial(name, a, axis, keepdims, initial, reduce, combine, where=np._NoValue,
                  fill=None):
    """np.<name>(a, axis, keepdims=keepdims, initial=initial, where=where) from reduce, the
    plain reduction: entries `where` leaves out are replaced by `fill` (the identity: 0 for
    sum, 1 for prod; None: initial, for max and min), then combine(reduce(a), initial) in
    NumPy's result dtype; where the reduction is empty, initial alone (a constant unless
    initial is traced)."""
    if initial is np._NoValue and where is np._NoValue:
        return reduce(a)
    options = {key: plain(value) for key, value in (("initial", initial), ("where", where))
               if value is not np._NoValue}
    reference = getattr(np, name)(np.zeros(shape_of(a), dtype_of(a)), axis=axis,
                                  keepdims=keepdims, **options)  # NumPy's errors, shape, dtype
    traced = type(initial) is Traced
    if initial is not np._NoValue:
        initial = astype_p(initial, reference.dtype) if traced else \
            np.asarray(initial).astype(reference.dtype)
    if where is not np._NoValue and not (fill is None and initial is np._NoValue):
        # (max/min accept where without initial only when where is True: nothing to fill)
        a = np.where(_mask(a, where), a, initial if fill is None else fill)
    if initial is np._NoValue:
        return reduce(a)
    if _count(shape_of(a), axis) == 0:
        return broadcast_to_p(initial, reference.shape) if traced else reference
    return combine(reduce(a), initial)


def _mask(a, where):
    """The where= mask (booleans, never traced) broadcast to a's shape."""
    return np.broadcast_to(np.asarray(plain(where), dtype=bool), shape_of(a))


def _masked_mean(a, axis, keepdims, where):
    """np.mean(a, axis, keepdims=keepdims, where=where): the sum of the selected entries over
    their count (NaN, with NumPy's warning, where none is selected)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        np.mean(np.zeros(shape_of(a)), axis=axis, where=plain(where))   # NumPy's errors
    mask = _mask(a, where)
    total = sum_p(np.where(mask, a, 0.0), axis=axis, keepdims=keepdims)
    count = np.sum(mask, axis=axis, keepdims=keepdims)
    return total / count.astype(real_dtype(dtype_of(total)))


def _masked_var(a, axis, ddof, keepdims, where):
    """np.var(a, axis, ddof=ddof, keepdims=keepdims, where=where): the mean of |a - mean|^2
    over the selected entries, with count - ddof (at least 0) in the denominator."""
    mask = _mask(a, where)
    centered = np.where(mask, a - _masked_mean(a, axis, True, mask), 0.0)
    squares = np.real(centered * np.conjugate(centered)) if dtype_of(centered).kind == "c" \
        else centered * centered
    count = np.maximum(np.sum(mask, axis=axis, keepdims=keepdims) - ddof, 0)
    return sum_p(squares, axis=axis, keepdims=keepdims) / count.astype(dtype_of(squares))


def _as_tuple_axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


# --- sum, mean ----------------------------------------------------------------------------------

def _sum_forward(x, axis=None, keepdims=False):
    return as_array(x).sum(axis=axis, keepdims=keepdims), (shape_of(x), axis)


def _sum_vjp(g, cache):
    shape, axis = cache
    return (broadcast_to_p(g.reshape(_keepdims_shape(shape, axis)), shape),)


sum_p = Primitive(_sum_forward, _sum_vjp, name="sum", linear=True,
                  spec=lambda rng: [Sample(rng.standard_normal((3, 4))),
                                    Sample(rng.standard_normal((3, 4, 2)), axis=(0, 2)),
                                    Sample(complex_normal(rng, (3, 4)), axis=1)])


def _sum_of_squares_forward(x):
    out = x * x
    return out.sum(), x


def _sum_of_squares_vjp(g, x):
    """2 g x in one pass (g: the cotangent of a scalar), into vjpnet.memory for plain arrays."""
    if type(x) is ndarray and type(g) is not Traced:
        return (np.multiply(x, 2.0 * float(g), out=memory.empty(x.shape, x.dtype)),)
    return (g * (2.0 * x),)


sum_of_squares_p = Primitive(_sum_of_squares_forward, _sum_of_squares_vjp,
                             name="sum_of_squares",
                             spec=lambda rng: [Sample(rng.standard_normal((3, 4))),
                                               Sample(rng.standard_normal(5))])
sum_of_squares_p.__doc__ = """sum_of_squares(x) -> sum(x * x) for a real float array x.

np.sum of a traced np.square(x), x * x or x ** 2 records this op instead of sum (see
_sum_of_squares): its VJP is 2 g x in one pass, where sum's broadcast followed by square's
VJP makes three."""

ndarray = np.ndarray


def _sum_of_squares(a):
    """np.sum(a) with a = np.square(x), x * x or x ** 2 just recorded on a's tape for a plain
    real float array x (one level of grad): record sum_of_squares(x), whose output is a.sum()
    (the same value sum gives), on that tape and return it; else None.

    The entry of a stays on the tape: a cotangent reaches it only if a is used elsewhere too.
    """
    value = a.value
    if type(value) is not ndarray or value.dtype.kind != "f":
        return None
    tape = a.tape
    entry = tape.entries[a.node]
    if entry is None or not tape.open:
        return None
    primitive, parents, cache = entry[0], entry[1], entry[2]
    if primitive is square_p:
        if len(parents) != 4:
            return None
    elif primitive is multiply_p:   # x * x: both arguments are the same node
        if len(parents) != 8 or parents[1] != parents[5]:
            return None
    elif primitive is power_p:      # x ** 2 (a Python 2 or 2.0 exponent)
        exponent = cache[1]
        if len(parents) != 4 or parents[0] != 0 or type(exponent) not in (int, float) or \
                exponent != 2:
            return None
    else:
        return None
    x = cache[0]
    if type(x) is not ndarray or x.dtype != value.dtype:
        return None
    return record(tape, sum_of_squares_p, (0, parents[1], x.shape, x.dtype), x, _ONE, False,
                  value.sum())


def sum(a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue,  # noqa: A001
        where=np._NoValue):
    _check_reduction("sum", out, np._NoValue)
    if axis is None and dtype is None and not keepdims and type(a) is Traced and \
            initial is np._NoValue and where is np._NoValue:
        fused = _sum_of_squares(a)
        if fused is not None:
            return fused
    if dtype is not None:
        a = astype_p(a, dtype)
    axis = _as_tuple_axis(axis)
    return _with_initial("sum", a, axis, keepdims, initial,
                         lambda a: sum_p(a, axis=axis, keepdims=keepdims), operator.add,
                         where, 0.0)


def mean(a, axis=None, dtype=None, out=None, keepdims=False, *, where=np._NoValue):
    _check_reduction("mean", out, np._NoValue)
    _check_0d_axis(a, axis, "mean")
    if dtype is not None:
        a = astype_p(a, dtype)
    axis = _as_tuple_axis(axis)
    if where is not np._NoValue:
        return _masked_mean(a, axis, keepdims, where)
    return sum_p(a, axis=axis, keepdims=keepdims) / _count(shape_of(a), axis)


# --- prod -----------------------------------------------------------------------------------

def _prod_forward(x, axis=None, keepdims=False):
    out = np.prod(x, axis=axis, keepdims=keepdims)
    return out, (x, out, axis)


def _prod_vjp(g, cache):
    x, out, axis = cache
    shape = shape_of(x)
    keep_shape = _keepdims_shape(shape, axis)
    g = np.reshape(g, keep_shape)
    if not np.any(np.equal(x, 0)):
        return (g * np.reshape(out, keep_shape) / x,)
    # Some factor is 0: out / x would divide by zero, so form the product of the other
    # factors explicitly, (..., K) -> (..., K, K) with ones on the diagonal.
    reduced = sorted(_reduced_axes(shape, axis))
    kept = [i for i in range(len(shape)) if i not in reduced]
    order = kept + reduced
    moved = np.reshape(np.transpose(x, order), (-1, _count(shape, axis)))
    eye = np.eye(moved.shape[1], dtype=bool)
    others = np.prod(np.where(eye, 1.0, moved[:, None, :]), axis=-1)
    cotangent = np.reshape(np.reshape(g, (-1, 1)) * others, [shape[i] for i in order])
    return (np.transpose(cotangent, tuple(np.argsort(order).tolist())),)


prod_p = Primitive(_prod_forward, _prod_vjp, name="prod",
                   spec=lambda rng: [Sample(rng.uniform(0.5, 1.5, (3, 4))),
                                     Sample(rng.uniform(-1.5, 1.5, (3, 4, 2)), axis=1),
                                     Sample(np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 1.5]]),
                                            axis=1, keepdims=True),
                                     Sample(complex_normal(rng, (3, 4)), axis=0),
                                     Sample(np.array([[0.0, 2.0 + 1.0j, 3.0], [0.0, 0.0, 1.5j]]),
                                            axis=1)])


def prod(a, axis=None, dtype=None, out=None, keepdims=False, initial=np._NoValue,
         where=np._NoValue):
    _check_reduction("prod", out, np._NoValue)
    if dtype is not None:
        a = astype_p(a, dtype)
    axis = _as_tuple_axis(axis)
    return _with_initial("prod", a, axis, keepdims, initial,
                         lambda a: prod_p(a, axis=axis, keepdims=keepdims), operator.mul,
                         where, 1.0)


# --- max, min -------------------------------------------------------------------------------

def _max_forward(x, axis=None, keepdims=False):
    x = as_array(x)
    if x.dtype.kind == "c":
        refuse_complex("amax", x)
    out = x.max(axis=axis, keepdims=True)
    winners = plain(x == out)
    if np.count_nonzero(winners) == out.size:   # one maximum per output element: no ties
        share = winners.astype(dtype_of(x))
    else:   # ties split the gradient equally
        share = (winners / winners.sum(axis=axis, keepdims=True)).astype(dtype_of(x))
    result = out if keepdims else out.reshape(_reduced_shape(shape_of(x), axis))
    return result, (share, axis)


def _max_vjp(g, cache):
    share, axis = cache
    return (g.reshape(_keepdims_shape(share.shape, axis)) * share,)


amax_p = Primitive(_max_forward, _max_vjp, name="amax",
                   spec=lambda rng: [Sample(rng.standard_normal((3, 4))),
                                     Sample(rng.standard_normal((3, 4)), axis=1, keepdims=True),
                                     Sample(rng.standard_normal((3, 4, 2)), axis=(0, 2))])


def amax(a, axis=None, out=None, keepdims=False, initial=np._NoValue, where=np._NoValue):
    _check_reduction("max", out, np._NoValue)
    if dtype_of(a).kind == "c":
        refuse_complex("numpy.max", a)
    axis = _as_tuple_axis(axis)
    return _with_initial("max", a, axis, keepdims, initial,
                         lambda a: amax_p(a, axis=axis, keepdims=keepdims), np.maximum, where)


def amin(a, axis=None, out=None, keepdims=False, initial=np._NoValue, where=np._NoValue):
    _check_reduction("min", out, np._NoValue)
    if dtype_of(a).kind == "c":
        refuse_complex("numpy.min", a)
    axis = _as_tuple_axis(axis)
    return _with_initial("min", a, axis, keepdims, initial,
                         lambda a: -amax_p(-a, axis=axis, keepdims=keepdims), np.minimum, where)


# --- var, std -----------------------------------------------------------------------------------

def _var_forward(x, axis=None, ddof=0, keepdims=False):
    """The mean of |x - mean(x)|^2 (real also for complex x, as NumPy)."""
    centered = x - np.mean(x, axis=axis, keepdims=True)
    count = _count(shape_of(x), axis) - ddof
    complex_input = dtype_of(centered).kind == "c"
    conjugated = np.conjugate(centered) if complex_input else centered
    squares = np.real(centered * conjugated) if complex_input else centered * centered
    out = squares.sum(axis=axis, keepdims=keepdims) / count
    return out, (conjugated, axis, count)


def _var_vjp(g, cache):
    """2 g conj(x - mean) / count; the mean's share vanishes since the centered values sum to
    0."""
    conjugated, axis, count = cache
    return (g.reshape(_keepdims_shape(shape_of(conjugated), axis)) * conjugated * (2.0 / count),)


var_p = Primitive(_var_forward, _var_vjp, name="var",
                  spec=lambda rng: [Sample(rng.standard_normal((3, 4))),
                                    Sample(rng.standard_normal((3, 4, 2)), axis=(0, 2), ddof=1),
                                    Sample(rng.standard_normal((3, 4)), axis=1, keepdims=True),
                                    Sample(complex_normal(rng, (3, 4)), axis=0, ddof=1)])


def var(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=np._NoValue,
        mean=np._NoValue, correction=np._NoValue):
    _check_reduction("var", out, np._NoValue)
    reject_kwargs("var", {"mean": mean}, mean=np._NoValue)
    _check_0d_axis(a, axis, "var")
    if correction is not np._NoValue:
        ddof = correction
    if dtype is not None:
        a = astype_p(a, dtype)
    if where is not np._NoValue:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            np.var(np.zeros(shape_of(a)), axis=axis, ddof=ddof, where=plain(where))  # errors
        return _masked_var(a, _as_tuple_axis(axis), ddof, keepdims, where)
    return var_p(a, axis=_as_tuple_axis(axis), ddof=ddof, keepdims=keepdims)


def std(a, axis=None, dtype=None, out=None, ddof=0, keepdims=False, *, where=np._NoValue,
        mean=np._NoValue, correction=np._NoValue):
    """sqrt(var): with the sqrt-at-0 convention, a constant input has gradient 0 (not NaN)."""
    return np.sqrt(var(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean,
                       correction=correction))


# --- cumsum ---------------------------------------------------------------------------------

def _cumsum_forward(x, axis=None):
    return np.cumsum(x, axis=axis), (shape_of(x), axis)


def _cumsum_vjp(g, cache):
    shape, axis = cache
    axis = 0 if axis is None else axis
    reverse_cumsum = np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)
    return (np.reshape(reverse_cumsum, shape),)


cumsum_p = Primitive(_cumsum_forward, _cumsum_vjp, name="cumsum", linear=True,
                     spec=lambda rng: [Sample(rng.standard_normal((3, 4))),
                                       Sample(rng.standard_normal((3, 4)), axis=1),
                                       Sample(complex_normal(rng, (3, 4)), axis=0)])


def cumsum(a, axis=None, dtype=None, out=None):
    if out is not None:
        reject_kwargs("cumsum", {"out": out})
    if dtype is not None:
        a = astype_p(a, dtype)
    return cumsum_p(a, axis=axis)


for _function, _handler in [(np.sum, sum), (np.mean, mean), (np.prod, prod), (np.max, amax),
                            (np.amax, amax), (np.min, amin), (np.amin, amin), (np.var, var),
                            (np.std, std), (np.cumsum, cumsum)]:
    register_function(_function, _handler)

# np.add.reduce(x, axis=0) and friends: the ufunc-method spellings of the reductions above.
UFUNC_METHODS[np.add, "reduce"] = \
    lambda a, axis=0, dtype=None, keepdims=False, **kw: sum(a, axis, dtype, None, keepdims, **kw)
UFUNC_METHODS[np.multiply, "reduce"] = \
    lambda a, axis=0, dtype=None, keepdims=False, **kw: prod(a, axis, dtype, None, keepdims, **kw)
UFUNC_METHODS[np.maximum, "reduce"] = \
    lambda a, axis=0, keepdims=False, **kw: amax(a, axis, None, keepdims, **kw)
UFUNC_METHODS[np.minimum, "reduce"] = \
    lambda a, axis=0, keepdims=False, **kw: amin(a, axis, None, keepdims, **kw)
UFUNC_METHODS[np.add, "accumulate"] = \
    lambda a, axis=0, dtype=None: cumsum(a, axis, dtype)
