"""grad / value_and_grad / vjp: pytrees, argnums, has_aux, higher order, errors, memory, threads."""
import gc
import threading
import weakref
from collections import namedtuple

import numpy as np
import pytest

import vjpnet
from vjpnet import grad, value_and_grad, vjp
from vjpnet.tape import _level

Params = namedtuple("Params", "w b")


def test_plain_numpy_loss_of_a_dict():
    def loss(params, x):
        return np.sum(np.tanh(x @ params["W"] + params["b"]) ** 2)

    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    x = rng.standard_normal((4, 3))
    grads = grad(loss)(params, x)
    assert set(grads) == {"W", "b"}
    h = np.tanh(x @ params["W"] + params["b"])
    ds = 2 * h * (1 - h ** 2)
    np.testing.assert_allclose(grads["W"], x.T @ ds, rtol=1e-12)
    np.testing.assert_allclose(grads["b"], ds.sum(0), rtol=1e-12)


def test_gradients_come_back_in_the_same_structure():
    params = {"layers": [Params(np.ones(2), 0.5), (np.ones(3), None)], "scale": 2.0}

    def loss(p):
        (first, (v, _)) = p["layers"]
        return p["scale"] * (np.sum(first.w * first.b) + np.sum(v ** 2))

    g = grad(loss)(params)
    assert isinstance(g["layers"][0], Params) and g["layers"][1][1] is None
    np.testing.assert_allclose(g["layers"][0].w, [1.0, 1.0])
    assert g["layers"][0].b == pytest.approx(4.0) and type(g["layers"][0].b) is float
    np.testing.assert_allclose(g["layers"][1][0], 4.0 * np.ones(3))
    assert g["scale"] == pytest.approx(1.0 + 3.0)


def test_argnums_and_has_aux_follow_jax():
    def f(x, y, z):
        return np.sum(x * y * z), {"note": x * 2}

    x, y, z = np.array([1.0, 2.0]), np.array([3.0, 4.0]), 2.0
    gx, aux = grad(f, has_aux=True)(x, y, z)
    np.testing.assert_allclose(gx, y * z)
    assert type(aux["note"]) is np.ndarray
    (gy, gz), aux = grad(f, argnums=(1, -1), has_aux=True)(x, y, z)
    np.testing.assert_allclose(gy, x * z)
    assert gz == pytest.approx(11.0)
    (value, aux), gx = value_and_grad(f, has_aux=True)(x, y, z)
    assert value == pytest.approx(22.0)


def test_vjp_with_pytree_output_can_be_called_twice():
    x = np.array([1.0, 2.0, 3.0])
    out, vjp_fn = vjp(lambda x, s: {"a": x * s, "b": np.sum(x)}, x, 2.0)
    np.testing.assert_allclose(out["a"], 2 * x)
    for _ in range(2):
        dx, ds = vjp_fn({"a": np.ones(3), "b": 1.0})
        np.testing.assert_allclose(dx, [3.0, 3.0, 3.0])
        assert ds == pytest.approx(6.0)


def test_float32_stays_float32():
    x = np.ones(4, np.float32)
    g = grad(lambda x: np.sum(np.exp(x) * 2.0 + x / 3))(x)
    assert g.dtype == np.float32


def test_unused_input_gets_zeros_and_constant_output_is_allowed():
    g = grad(lambda x, y: np.sum(y * 2.0), argnums=(0, 1))(np.ones(2, np.float32), np.ones(3))
    assert g[0].dtype == np.float32 and not g[0].any()
    assert not grad(lambda x: 3.0)(np.ones(2)).any()


def test_higher_derivatives_are_exact():
    f = lambda x: x ** 4 + np.sin(x)   # noqa: E731
    x = 0.7
    assert grad(grad(f))(x) == pytest.approx(12 * x ** 2 - np.sin(x), rel=1e-12)
    assert grad(grad(grad(f)))(x) == pytest.approx(24 * x - np.cos(x), rel=1e-12)


def test_grad_of_a_function_that_calls_grad_keeps_levels_apart():
    # d/dx [x * d/dy (x * y)] = d/dx x**2 = 2x: an implementation that confuses levels gets x.
    f = lambda x: x * grad(lambda y: x * y)(x)   # noqa: E731
    assert grad(f)(3.0) == pytest.approx(6.0)


def test_nested_grads_in_two_threads_are_exact():
    barrier = threading.Barrier(2)
    results = {}

    def work(name, power):
        def f(x):
            barrier.wait(timeout=10)   # both threads are inside an outer trace at once
            return x ** power
        for _ in range(20):
            results[name] = grad(grad(f))(2.0)

    threads = [threading.Thread(target=work, args=("cube", 3)),
               threading.Thread(target=work, args=("fourth", 4))]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results == {"cube": pytest.approx(12.0), "fourth": pytest.approx(48.0)}


def test_a_long_chain_needs_no_recursion():
    def f(x):
        for _ in range(100_000):
            x = x * 1.0
        return np.sum(x)

    np.testing.assert_allclose(grad(f)(np.ones(3)), np.ones(3))


class _Cache:
    created = []

    def __init__(self):
        self.created.append(weakref.ref(self))


_square_with_cache = vjpnet.primitive(lambda x: (x ** 2, (x, _Cache())),
                                      vjp=lambda g, cache: (2 * g * cache[0],),
                                      name="square_with_cache")


def test_nothing_of_the_trace_stays_referenced():
    caches = _Cache.created
    caches.clear()

    def f(x):
        return np.sum(_square_with_cache(x))

    grad(f)(np.ones(3))
    gc.collect()
    assert caches[0]() is None

    def failing(x):
        f(x)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        grad(failing)(np.ones(3))
    gc.collect()
    assert caches[1]() is None
    assert _level.get() == 0
    np.testing.assert_allclose(grad(f)(np.ones(3)), 2 * np.ones(3))   # the next call is clean


def test_primitive_outside_grad_returns_the_plain_result():
    out = _square_with_cache(np.array([3.0]))
    assert type(out) is np.ndarray and out[0] == 9.0


# --- errors -------------------------------------------------------------------------------

def test_non_scalar_output_says_shape_and_what_to_do():
    with pytest.raises(ValueError, match=r"shape \(3,\).*\.sum\(\).*vjp"):
        grad(lambda x: x * 2)(np.ones(3))


@pytest.mark.parametrize("bad", [3, True, "text", np.arange(3), np.ones(2, bool)])
def test_only_floats_and_complex_are_differentiable(bad):
    with pytest.raises(TypeError, match=r"argument 0.*only float and complex arrays"):
        grad(lambda x: 1.0)(bad)


def test_non_float_leaf_inside_a_dict_is_named():
    with pytest.raises(TypeError, match=r"argument 0\['labels'\] is int64"):
        grad(lambda p: np.sum(p["w"]))({"w": np.ones(2), "labels": np.arange(2)})


def test_argnums_out_of_range():
    with pytest.raises(ValueError, match="argnums=2"):
        grad(lambda x: x, argnums=2)(1.0)


def test_has_aux_needs_a_pair():
    with pytest.raises(TypeError, match=r"\(output, aux\)"):
        grad(lambda x: x, has_aux=True)(1.0)


def _bad_primitive(vjp, name):
    return vjpnet.primitive(lambda x, y: (x * y, (x, y)), vjp=vjp, name=name)


@pytest.mark.parametrize("vjp_fn,error,pattern", [
    (lambda g, c: (g * c[1],), ValueError, r"returned 1 cotangents for 2 positional.*argument 1"),
    (lambda g, c: (g * c[1], np.sum(g)), ValueError,
     r"shape \(\) for argument 1.*has shape \(3,\)"),
    (lambda g, c: (g * c[1], (g * c[0]).astype(np.float32)), TypeError,
     r"dtype float32 for argument 1.*has dtype float64"),
    (lambda g, c: g, TypeError, r"returned a single ndarray.*2 positional"),
])
def test_wrong_cotangents_name_the_primitive_and_argument(vjp_fn, error, pattern):
    bad = _bad_primitive(vjp_fn, "bad_mul")
    with pytest.raises(error, match=pattern) as info:
        grad(lambda x, y: np.sum(bad(x, y)), argnums=(0, 1))(np.ones(3), np.ones(3))
    assert "bad_mul" in str(info.value)


def test_primitive_without_vjp():
    @vjpnet.primitive
    def no_vjp(x):
        return x * 2, None

    with pytest.raises(NotImplementedError, match=r"no_vjp has no VJP.*defvjp"):
        grad(lambda x: np.sum(no_vjp(x)))(np.ones(2))


def test_first_order_primitive_refuses_second_derivative():
    cube = vjpnet.primitive(lambda x: (x ** 3, x), vjp=lambda g, x: (3 * g * x ** 2,),
                            name="cube_kernel", first_order=True)
    assert grad(lambda x: np.sum(cube(x)))(np.array([2.0]))[0] == pytest.approx(12.0)
    with pytest.raises(TypeError, match="cube_kernel is registered first_order=True"):
        grad(lambda x: np.sum(grad(lambda y: np.sum(cube(y)))(x)))(np.array([2.0]))


def test_escaped_traced_value_is_an_error():
    leaked = []
    grad(lambda x: leaked.append(x) or np.sum(x))(np.ones(2))
    with pytest.raises(ValueError, match="escaped"):
        grad(lambda y: np.sum(y * leaked[0]))(np.ones(2))


def test_a_list_argnums_reads_as_the_tuple_of_its_positions():
    def f(a, b, c):
        return a * np.sin(b) + c ** 2

    args = (1.5, 0.3, -2.0)
    expected = grad(f, (2, 1))(*args)
    assert grad(f, [2, 1])(*args) == expected
    value, gradients = value_and_grad(f, [2, 1])(*args)
    assert value == f(*args) and gradients == expected
    assert isinstance(vjpnet.elementwise_grad(f, [0])(*args), tuple)
    jacobians = vjpnet.jacobian(f, [0, 2])(*args)
    assert isinstance(jacobians, tuple) and len(jacobians) == 2
    np.testing.assert_allclose(jacobians[1], 2 * args[2])


def test_grad_of_a_non_scalar_output_is_both_a_value_and_a_type_error():
    f = grad(lambda x: x * 2.0)
    for error in (ValueError, TypeError):
        with pytest.raises(error, match=r"must return a scalar .* shape \(2,\)"):
            f(np.zeros(2))
