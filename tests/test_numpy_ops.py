"""Plain NumPy inside vjpnet.grad: dispatch of every registered NumPy function, the Traced
array interface, subgradient conventions, dtype preservation, errors, Hessian-vector products.

Primitives are checked from their specs by tests/test_registry.py; this file checks the NumPy
functions built from them (np.stack, np.linalg.norm, ...), one case per registered function.
"""
import numpy as np
import pytest

import vjpnet
from vjpnet import grad, value_and_grad
from vjpnet.gradient_check import check_grads
from vjpnet.tape import FUNCTION_HANDLERS, UFUNC_METHODS, Traced

RNG = np.random.default_rng(0)


def normal(*shape):
    return RNG.standard_normal(shape)


def well_conditioned(n, batch=()):
    return normal(*batch, n, n) * 0.3 + 2.0 * np.eye(n)


# (NumPy function, function of float arrays using it, sample float64 arguments)
CASES = [
    (np.sum, lambda x: np.sum(x, axis=(0, 2), keepdims=True), [normal(2, 3, 4)]),
    (np.mean, lambda x: np.mean(x, axis=-1), [normal(3, 4)]),
    (np.prod, lambda x: np.prod(x, axis=0), [normal(3, 4)]),
    (np.max, lambda x: np.max(x, axis=1), [normal(3, 4)]),
    (np.amax, lambda x: np.amax(x), [normal(3, 4)]),
    (np.min, lambda x: np.min(x, axis=0, keepdims=True), [normal(3, 4)]),
    (np.amin, lambda x: np.amin(x, axis=(0, 1)), [normal(3, 4)]),
    (np.var, lambda x: np.var(x, axis=0, ddof=1), [normal(5, 3)]),
    (np.std, lambda x: np.std(x, axis=1), [normal(3, 5)]),
    (np.cumsum, lambda x: np.cumsum(x, axis=1), [normal(3, 4)]),
    (np.clip, lambda x: np.clip(x, -0.5, 0.5), [np.array([-1.0, -0.2, 0.3, 0.9])]),
    (np.where, lambda x, y: np.where(np.array([True, False, True]), x, y),
     [normal(3), normal(2, 3)]),
    (np.dot, lambda a, b: np.dot(a, b), [normal(2, 3, 4), normal(5, 4, 2)]),
    (np.vdot, lambda a, b: np.vdot(a, b), [normal(2, 3), normal(6)]),
    (np.tensordot, lambda a, b: np.tensordot(a, b, axes=1), [normal(2, 3), normal(3, 4)]),
    (np.einsum, lambda a, b: np.einsum("ij,jk->ki", a, b), [normal(2, 3), normal(3, 4)]),
    (np.outer, lambda a, b: np.outer(a, b), [normal(3), normal(2, 2)]),
    (np.inner, lambda a, b: np.inner(a, b), [normal(2, 3), normal(4, 3)]),
    (np.trace, lambda x: np.trace(x, offset=1), [normal(3, 4)]),
    (np.diag, lambda v: np.diag(v, k=-1), [normal(3)]),
    (np.diagonal, lambda x: np.diagonal(x, 0, 2, 0), [normal(3, 2, 3)]),
    (np.transpose, lambda x: np.transpose(x, (2, 0, 1)), [normal(2, 3, 4)]),
    (np.swapaxes, lambda x: np.swapaxes(x, 0, -1), [normal(2, 3, 4)]),
    (np.moveaxis, lambda x: np.moveaxis(x, 0, -1), [normal(2, 3, 4)]),
    (np.reshape, lambda x: np.reshape(x, (4, -1)), [normal(2, 3, 4)]),
    (np.ravel, lambda x: np.ravel(x), [normal(2, 3)]),
    (np.squeeze, lambda x: np.squeeze(x, axis=1), [normal(3, 1, 2)]),
    (np.expand_dims, lambda x: np.expand_dims(x, (0, 2)), [normal(3, 2)]),
    (np.broadcast_to, lambda x: np.broadcast_to(x, (2, 3, 4)), [normal(3, 1)]),
    (np.atleast_1d, lambda x: np.atleast_1d(x), [np.array(1.5)]),
    (np.atleast_2d, lambda x: np.atleast_2d(x), [normal(3)]),
    (np.atleast_3d, lambda x: np.atleast_3d(x), [normal(3, 2)]),
    (np.copy, lambda x: np.copy(x) * 2.0, [normal(3)]),
    (np.concatenate, lambda a, b: np.concatenate([a, b], axis=1), [normal(2, 3), normal(2, 1)]),
    (np.stack, lambda a, b: np.stack((a, b), axis=-1), [normal(2, 3), normal(2, 3)]),
    (np.hstack, lambda a, b: np.hstack([a, b]), [normal(3), normal(2)]),
    (np.vstack, lambda a, b: np.vstack([a, b]), [normal(3), normal(2, 3)]),
    (np.column_stack, lambda a, b: np.column_stack([a, b]), [normal(3), normal(3, 2)]),
    (np.split, lambda x: np.split(x, 2, axis=1)[1] * np.split(x, [1], axis=1)[0],
     [normal(3, 4)]),
    (np.array_split, lambda x: np.array_split(x, 3)[0] + np.array_split(x, 3)[2][:1],
     [normal(5)]),
    (np.hsplit, lambda x: np.hsplit(x, 2)[0], [normal(3, 4)]),
    (np.vsplit, lambda x: np.vsplit(x, [1])[1], [normal(3, 4)]),
    (np.flip, lambda x: np.flip(x, axis=(0, 1)) * x, [normal(3, 4)]),
    (np.fliplr, lambda x: np.fliplr(x), [normal(3, 4)]),
    (np.flipud, lambda x: np.flipud(x), [normal(3, 4)]),
    (np.roll, lambda x: np.roll(x, -2, axis=1), [normal(3, 4)]),
    (np.tile, lambda x: np.tile(x, (2, 1, 2)), [normal(3, 2)]),
    (np.repeat, lambda x: np.repeat(x, [1, 0, 3], axis=0), [normal(3, 2)]),
    (np.pad, lambda x: np.pad(x, ((1, 0), (1, 1)), mode="reflect") +
     np.pad(x, 1, mode="edge")[:4] + np.pad(x, ((0, 1), (2, 0)), mode="wrap") +
     np.pad(x, ((1, 0), (1, 1)), constant_values=2.0),
     [normal(3, 3)]),
    (np.take, lambda x: np.take(x, [2, 0, 2], axis=1), [normal(3, 4)]),
    (np.take_along_axis, lambda x: np.take_along_axis(x, np.array([[0], [3], [1]]), axis=1),
     [normal(3, 4)]),
    (np.linalg.norm, lambda x: np.linalg.norm(x) + np.linalg.norm(x, ord=1, axis=0).sum() +
     np.linalg.norm(x, ord=np.inf, axis=1).sum() + np.linalg.norm(x, ord=3, axis=1).sum() +
     np.linalg.norm(x, "fro", axis=(0, 1)), [normal(3, 4)]),
    (np.linalg.inv, lambda x: np.linalg.inv(x), [well_conditioned(3, (2,))]),
    (np.linalg.det, lambda x: np.linalg.det(x), [well_conditioned(3)]),
    (np.linalg.solve, lambda a, b: np.linalg.solve(a, b), [well_conditioned(3), normal(3, 2)]),
    ("getitem", lambda x: x[x > 0] * 2.0 + x[[0, 0], [1, 1]].sum() + x[..., ::-2].sum(),
     [normal(3, 4)]),
    ("astype", lambda x: x.astype(np.float64) * 3.0, [normal(3)]),
]
IDS = [getattr(function, "__name__", function) + f"-{i}" for i, (function, _, _) in
       enumerate(CASES)]


def test_every_registered_numpy_function_has_a_case():
    covered = {function for function, _, _ in CASES}
    missing = [getattr(f, "__name__", f) for f in FUNCTION_HANDLERS if f not in covered]
    assert not missing, f"registered NumPy functions without a test case: {missing}"


@pytest.mark.parametrize("function,f,args", CASES, ids=IDS)
def test_function_gradients_match_numeric(function, f, args):
    check_grads(f, args, rtol=1e-5, atol=1e-7)
    check_grads(f, args, order=2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("function,f,args", CASES, ids=IDS)
def test_function_preserves_float32(function, f, args):
    args32 = [a.astype(np.float32) for a in args]
    out, vjp_fn = vjpnet.vjp(f, *args32)
    if function != "astype":
        assert np.result_type(out) == np.float32
    for arg, cotangent in zip(args32, vjp_fn(np.ones(np.shape(out), np.result_type(out)))):
        assert cotangent.dtype == np.float32 and cotangent.shape == arg.shape


@pytest.mark.parametrize("ufunc,method,f", [
    (np.add, "reduce", lambda x: np.add.reduce(x, axis=1)),
    (np.multiply, "reduce", lambda x: np.multiply.reduce(x)),
    (np.maximum, "reduce", lambda x: np.maximum.reduce(x, axis=None)),
    (np.minimum, "reduce", lambda x: np.minimum.reduce(x, axis=0, keepdims=True)),
    (np.add, "accumulate", lambda x: np.add.accumulate(x, axis=1)),
])
def test_ufunc_methods(ufunc, method, f):
    assert (ufunc, method) in UFUNC_METHODS
    x = normal(3, 4)
    np.testing.assert_allclose(vjpnet.vjp(f, x)[0], f(x))
    check_grads(f, [x])


# --- the Traced array interface ---------------------------------------------------------------

def test_methods_and_properties_inside_grad():
    seen = {}

    def f(x):
        if type(x) is Traced:   # check_grads also calls f on plain arrays
            seen.update(shape=x.shape, ndim=x.ndim, size=x.size, dtype=x.dtype, len=len(x),
                        T=x.T.shape, type=type(x))
        total = x.sum() + x.mean(axis=0).sum() + x.max() + x.min(axis=1).sum()
        total = total + x.reshape(-1).dot(x.ravel()) + x.reshape(3, 2, 1).squeeze().sum()
        total = total + x.transpose().sum() + x.T.dot(x).sum() + (x @ x.T).sum()
        total = total + x.clip(-0.5, 0.5).sum() + x.astype(np.float64).prod()
        total = total + x.var() + x.std(axis=0).sum() + x.cumsum().sum() + x.flatten()[2]
        total = total + sum(row.sum() for row in x) + abs(x).sum() + (-x).sum() + (+x).sum()
        total = total + (2.0 - x).sum() + (x / 3.0).sum() + (1.0 / (x * x + 1)).sum()
        total = total + (x ** 2).sum() + (2.0 ** x).sum() + x.swapaxes(0, 1).sum()
        total = total + x.repeat(2, axis=0).sum() + x.take([0, 1]).sum() + x.diagonal().sum()
        total = total + x.trace() + x.item(0) * 0 + x[x.argmax() // 2].sum()
        return total

    x = normal(3, 2)
    check_grads(f, [x])
    assert seen == {"shape": (3, 2), "ndim": 2, "size": 6, "dtype": np.float64, "len": 3,
                    "T": (2, 3), "type": Traced}


def test_transpose_method_takes_axes_as_one_tuple_or_as_ints():
    # like ndarray.transpose: no argument, None, one tuple/list, or n ints (n = 1 for 1-D)
    spellings = [lambda x: x.transpose(), lambda x: x.transpose(None),
                 lambda x: x.transpose((1, 0, 2)), lambda x: x.transpose([1, 0, 2]),
                 lambda x: x.transpose(1, 0, 2), lambda x: x.transpose(np.int64(1), 0, 2)]
    x = normal(2, 3, 4)
    for spelling in spellings:
        out, vjp_fn = vjpnet.vjp(spelling, x)
        np.testing.assert_array_equal(out, spelling(x))
        np.testing.assert_array_equal(vjp_fn(spelling(x))[0], x)
    v = normal(3)
    for spelling in (lambda v: v.transpose(0), lambda v: v.transpose(np.int64(-1)),
                     lambda v: v.transpose((0,))):
        np.testing.assert_array_equal(grad(lambda v: np.sum(spelling(v) ** 2))(v), 2 * v)
    with pytest.raises(ValueError):
        grad(lambda x: np.sum(x.transpose(0, 1)))(x)   # as NumPy: axes don't match array


def test_indexing_basic_fancy_boolean_with_scatter_add():
    x = normal(4, 3)
    index_rows = np.array([0, 2, 0, 0])

    def f(x):
        return (np.sum(x[1:3, ::-1] ** 2) + np.sum(x[index_rows] * 2.0) +
                np.sum(x[x > 0.5]) + x[-1, 1] + np.sum(x[None, ..., 0]))

    g = grad(f)(x)
    expected = np.zeros_like(x)
    expected[1:3] += 2 * x[1:3]
    np.add.at(expected, index_rows, 2.0)   # repeated rows accumulate
    expected += x > 0.5
    expected[-1, 1] += 1
    expected[:, 0] += 1
    np.testing.assert_allclose(g, expected)


def test_index_update_is_the_functional_setitem():
    x, value = normal(3, 4), normal(3)

    def f(x, value):
        y = vjpnet.index_update(x, (slice(None), 1), value)
        return np.sum(y * np.arange(12.0).reshape(3, 4))

    gx, gvalue = grad(f, argnums=(0, 1))(x, value)
    mask = np.ones((3, 4))
    mask[:, 1] = 0
    np.testing.assert_allclose(gx, mask * np.arange(12.0).reshape(3, 4))
    np.testing.assert_allclose(gvalue, [1.0, 5.0, 9.0])
    out = vjpnet.index_update(x, x > 0, 0.0)   # plain arrays work too, x is not modified
    assert np.all(out <= 0) and np.any(x > 0)


def test_nondifferentiable_functions_return_plain_results():
    x = np.array([[0.5, -1.5, 2.5], [1.0, 0.0, -0.2]])
    results = {}

    def f(x):
        results.update(
            argmax=np.argmax(x), argmin=np.argmin(x, axis=1), sign=np.sign(x),
            floor=np.floor(x), ceil=np.ceil(x), round=np.round(x), less=x < 0.3,
            equal=np.equal(x, x), isnan=np.isnan(x), isfinite=np.isfinite(x),
            zeros=np.zeros_like(x), ones=np.ones_like(x), shape=np.shape(x), ndim=np.ndim(x),
            size=np.size(x), any=np.any(x > 2), nonzero=np.nonzero(x > 0), where=np.where(x > 0),
            argsort=np.argsort(x, axis=1))
        return np.sum(x * results["sign"])

    np.testing.assert_allclose(grad(f)(x), np.sign(x))
    for key, value in results.items():
        leaves = value if isinstance(value, tuple) else (value,)
        assert not any(type(leaf) is Traced for leaf in leaves), key
    np.testing.assert_array_equal(results["argmin"], [1, 2])
    assert results["argmax"] == 2 and results["shape"] == (2, 3) and results["size"] == 6
    assert results["zeros"].dtype == np.float64 and not results["zeros"].any()


def test_python_control_flow_on_traced_values():
    def f(x):
        total = 0.0
        for value in x:
            total += value * value if value > 0 else -value   # += rebinds, it does not mutate
        return total

    np.testing.assert_allclose(grad(f)(np.array([1.0, -2.0, 3.0])), [2.0, -1.0, 6.0])


def test_operators_on_python_floats_give_python_floats():
    # As in Python: s * s is a float (weak under NEP 50), so float32 arrays stay float32.
    x32 = normal(3).astype(np.float32)
    seen = {}

    def f(s, x):
        results = [s * s + 0.5, -s, abs(s), 2.0 - s, s / 2, s ** 2, 2 * s]
        seen["types"] = [type(vjpnet.stop_gradient(r)) for r in results]
        outs = [x - r for r in results]
        seen["dtypes"] = [o.dtype for o in outs]
        return sum(np.sum(o) for o in outs)

    for level in (1, 2):   # also under nested grad
        g = grad(f, argnums=(0, 1)) if level == 1 else \
            grad(lambda s, x: grad(f, argnums=0)(s, x) * 1.0, argnums=(0, 1))
        g(0.7, x32)
        assert seen["types"] == [float] * 7, seen["types"]
        assert seen["dtypes"] == [np.float32] * 7, seen["dtypes"]
    check_grads(lambda s: (s * s - 3.0 * s) / (1.0 + s), [0.7], order=2)
    # NumPy functions keep NumPy's types: np.multiply(s, s) is a NumPy float64, as in NumPy
    out, _ = vjpnet.vjp(lambda s: x32 - np.multiply(s, s), 0.7)
    assert out.dtype == (x32 - np.multiply(0.7, 0.7)).dtype == np.float64


def test_mixed_float32_and_float64_gives_each_input_its_own_dtype():
    x32, w64 = normal(3).astype(np.float32), normal(3)
    gx, gw = grad(lambda x, w: np.sum(x * w), argnums=(0, 1))(x32, w64)
    assert gx.dtype == np.float32 and gw.dtype == np.float64


# --- subgradient conventions ------------------------------------------------------------------

def test_relu_written_as_maximum_splits_ties_and_where_gives_zero():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(grad(lambda x: np.sum(np.maximum(x, 0.0)))(x), [0, 0.5, 1])
    np.testing.assert_allclose(grad(lambda x: np.sum(np.where(x > 0, x, 0.0)))(x), [0, 0, 1])
    np.testing.assert_allclose(grad(lambda x: np.sum(np.maximum(x, x)))(x), [1, 1, 1])
    np.testing.assert_allclose(grad(lambda x: np.sum(np.minimum(x, 0.0)))(x), [1, 0.5, 0])


def test_abs_at_zero_is_zero():
    np.testing.assert_allclose(grad(lambda x: np.sum(np.abs(x)))(np.array([-2.0, 0.0, 3.0])),
                               [-1, 0, 1])


def test_max_min_ties_share_the_gradient_equally():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    np.testing.assert_allclose(grad(lambda x: np.sum(np.max(x, axis=1)))(x),
                               [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(grad(lambda x: np.min(x))(x), [[1, 0, 0], [0, 0, 0]])


def test_sqrt_norm_and_std_at_zero_have_zero_gradient_not_nan():
    zero = np.zeros(3)
    for f in (lambda x: np.linalg.norm(x), lambda x: np.sqrt(np.sum(x ** 2)),
              lambda x: np.sum(np.sqrt(x)), lambda x: np.std(x),
              lambda x: np.sum(np.linalg.norm(x.reshape(1, 3), axis=1))):
        g = grad(f)(zero)
        assert np.all(g == 0), g
    # away from 0 the usual derivative; second order stays finite at 0
    np.testing.assert_allclose(grad(lambda x: np.sum(np.sqrt(x)))(np.array([0.0, 4.0])),
                               [0.0, 0.25])
    assert np.all(np.isfinite(grad(lambda x: np.sum(grad(np.linalg.norm)(x)))(zero)))


def test_clip_bounds_are_inclusive_and_prod_with_zeros_is_exact():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(grad(lambda x: np.sum(np.clip(x, -0.5, 0.5)))(x),
                               [0, 1, 1, 1, 0])
    lo, hi = np.array(1.0), np.array(0.0)   # low > high: NumPy returns high everywhere
    g_x, g_lo, g_hi = grad(lambda x, lo, hi: np.sum(np.clip(x, lo, hi)), argnums=(0, 1, 2))(
        x, lo, hi)
    assert not g_x.any() and g_lo == 0 and g_hi == 5
    g = grad(lambda x: np.prod(x))(np.array([2.0, 0.0, 3.0]))
    np.testing.assert_allclose(g, [0.0, 6.0, 0.0])
    g = grad(lambda x: np.prod(x))(np.array([0.0, 0.0, 3.0]))
    np.testing.assert_allclose(g, [0.0, 0.0, 0.0])


# --- Hessian-vector products against finite differences of the gradient -----------------------

def hvp(f, x, v):
    return grad(lambda x: np.sum(grad(f)(x) * v))(x)


HVP_FUNCTIONS = {
    "logsumexp": lambda x: np.log(np.sum(np.exp(x - np.max(x)))) + np.max(x),
    "softmax_xent": lambda x: -np.log(np.exp(x[2]) / np.sum(np.exp(x))),
    "tanh_mlp": lambda x: np.sum(np.tanh(np.outer(x, x) @ x + 0.5) ** 2),
    "norm_and_var": lambda x: np.linalg.norm(x) * np.var(x) + np.std(x),
    "prod_cumsum": lambda x: np.prod(np.cumsum(x) * 0.3 + 1.0),
    "einsum_tensordot": lambda x: np.einsum("i,j,j->", x, x, np.sin(x)) +
    np.tensordot(np.outer(x, x), np.cos(x), axes=1).sum(),
    "inv_det_solve": lambda x: np.linalg.det(np.diag(x) + 2.0) +
    np.sum(np.linalg.inv(np.diag(x) + 3.0)) + np.sum(np.linalg.solve(np.diag(x) + 4.0, x)),
    "shape_ops": lambda x: np.sum(np.stack([x, x ** 2])[:, ::-1] ** 3 *
                                  np.concatenate([np.roll(x, 1), np.tile(x[:1], 5)])[:5]),
}


@pytest.mark.parametrize("name", sorted(HVP_FUNCTIONS))
def test_hessian_vector_products_match_finite_differences(name):
    f = HVP_FUNCTIONS[name]
    rng = np.random.default_rng(3)
    x, v = rng.uniform(0.2, 1.0, 5), rng.standard_normal(5)
    eps = 1e-5
    numeric = (grad(f)(x + eps * v) - grad(f)(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hvp(f, x, v), numeric, rtol=1e-6, atol=1e-7)


def test_third_derivative():
    d3 = grad(grad(grad(lambda x: np.sum(np.sin(x) * np.exp(x)))))
    x = np.array(0.3)
    np.testing.assert_allclose(d3(x), np.exp(x) * (2 * np.cos(x) - 2 * np.sin(x)), rtol=1e-12)


# --- errors, never silent fallbacks -----------------------------------------------------------

def test_unregistered_function_raises_naming_it_and_how_to_register():
    x = well_conditioned(3)
    with pytest.raises(TypeError) as info:
        grad(lambda x: np.sum(np.linalg.eigh(x)[0]))(x)
    message = str(info.value)
    assert "numpy.linalg.eigh" in message and "no registered VJP" in message
    assert "@vjpnet.primitive" in message and "vjpnet.register_function(np.linalg.eigh" in message


def test_unregistered_ufunc_and_ufunc_method_raise_naming_them():
    x = normal(3)
    with pytest.raises(TypeError, match=r"(?s)numpy\.floor_divide has no registered VJP.*"
                                        r"vjpnet\.register_ufunc\(np\.floor_divide"):
        grad(lambda x: np.sum(x // 2.0))(x)
    with pytest.raises(TypeError, match=r"numpy\.multiply\.outer has no registered VJP"):
        grad(lambda x: np.sum(np.multiply.outer(x, x)))(x)
    with pytest.raises(TypeError, match=r"numpy\.sort has no registered VJP"):
        grad(lambda x: np.sum(np.sort(x)))(x)


def test_a_registered_function_then_works():
    def my_cumprod(x):
        out = np.cumprod(x)
        return out, (x, out)

    cumprod = vjpnet.primitive(my_cumprod)

    @cumprod.defvjp
    def my_cumprod_vjp(g, cache):
        x, out = cache
        return (np.flip(np.cumsum(np.flip(g * out))) / x,)

    cumprod.spec = lambda rng: vjpnet.Sample(rng.uniform(0.5, 2.0, 4))
    vjpnet.register_function(np.cumprod, cumprod)
    try:
        check_grads(lambda x: np.cumprod(x), [np.array([0.5, 2.0, 1.5, 3.0])])
    finally:
        del FUNCTION_HANDLERS[np.cumprod]


@pytest.mark.parametrize("convert,what", [
    (np.asarray, "cannot be converted to a plain NumPy array"),
    (np.array, "cannot be converted to a plain NumPy array"),
    (float, "only a traced array with one element"),
    (lambda x: x.tolist(), "tolist"),
    (lambda x: int(x), "only a traced array with one element"),
])
def test_conversions_that_would_drop_the_gradient_raise(convert, what):
    with pytest.raises(TypeError, match=what) as info:
        grad(lambda x: np.sum(convert(x)))(normal(3))
    assert "stop_gradient" in str(info.value) or "reduce it first" in str(info.value) \
        or "use NumPy operations" in str(info.value)


def test_float_of_a_scalar_is_a_constant():
    g = grad(lambda x: np.sum(x) * float(np.sum(x)))(np.ones(2))
    np.testing.assert_allclose(g, [2.0, 2.0])


def test_setitem_raises_and_names_the_functional_alternatives():
    def f(x):
        x[0] = 1.0
        return np.sum(x)

    with pytest.raises(TypeError) as info:
        grad(f)(normal(3))
    assert "vjpnet.index_update(x, index, value)" in str(info.value)
    assert "np.where" in str(info.value)


def test_in_place_writes_into_plain_arrays_raise():
    def f(x):
        buffer = np.zeros(3)
        buffer += x
        return np.sum(buffer)

    with pytest.raises(TypeError, match="out=.*in place"):
        grad(f)(normal(3))
    with pytest.raises(TypeError, match="out="):
        grad(lambda x: np.sum(np.exp(x, out=np.empty(3))))(normal(3))


@pytest.mark.parametrize("call,match", [
    (lambda x: np.sum(x, where=x > 0), r"numpy\.sum\(\.\.\., where="),
    (lambda x: np.add(x, 1.0, where=np.ones(3, bool)), r"numpy\.add\(\.\.\., where="),
    (lambda x: np.einsum("...i->...", x), "'...'"),
    (lambda x: np.pad(x, 1, mode="mean"), "mode='mean'"),
    (lambda x: np.linalg.norm(x.reshape(1, 3), ord=2), "ord=2"),
    (lambda x: np.reshape(x, 3, order="F"), "order='F'"),
    (lambda x: np.cumsum(x, out=np.empty(3)), "out="),
])
def test_unsupported_arguments_raise_type_error(call, match):
    with pytest.raises(TypeError, match=match):
        grad(lambda x: np.sum(call(x)))(normal(3))


def test_bad_shapes_raise_numpy_value_errors_naming_the_function():
    with pytest.raises(ValueError, match="numpy.split"):
        grad(lambda x: np.sum(np.split(x, 2)[0]))(normal(3))
    with pytest.raises(ValueError, match="numpy.stack"):
        grad(lambda x: np.sum(np.stack([x, x[:2]])))(normal(3))
    with pytest.raises(ValueError, match="axis 3 is out of bounds"):
        grad(lambda x: np.sum(np.moveaxis(x, 3, 0)))(normal(3))


def test_value_and_grad_of_plain_numpy_returns_plain_arrays():
    value, g = value_and_grad(lambda x: np.sum(np.tanh(x)))(normal(3))
    assert type(value) is np.float64 and type(g) is np.ndarray
