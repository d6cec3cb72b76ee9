"""vjpnet.ravel_pytree: a params pytree as one vector and back, differentiable, dtype-aware,
usable with scipy.optimize.minimize(value_and_grad(...), jac=True)."""
import collections

import numpy as np
import pytest

import vjpnet
from vjpnet import grad, ravel_pytree, value_and_grad
from vjpnet.gradient_check import check_grads

RNG = np.random.default_rng(0)
Pair = collections.namedtuple("Pair", "first second")


def test_round_trip_keeps_structure_shapes_and_dtypes():
    params = {"W": RNG.standard_normal((3, 2)), "layers": [np.zeros(2), Pair(1.5, np.ones(1))],
              "none": None, "scalar": np.float64(2.0)}
    vector, unravel = ravel_pytree(params)
    assert vector.shape == (6 + 2 + 1 + 1 + 1,) and vector.dtype == np.float64
    np.testing.assert_array_equal(vector[:6], params["W"].ravel())
    again = unravel(vector)
    assert set(again) == set(params) and again["none"] is None
    assert isinstance(again["layers"][1], Pair) and type(again["layers"][1].first) is float
    for key in ("W", "scalar"):
        np.testing.assert_array_equal(again[key], params[key])
        assert np.shape(again[key]) == np.shape(params[key])
    assert ravel_pytree({})[0].shape == (0,) and ravel_pytree({})[1](np.zeros(0)) == {}


def test_float32_leaves_give_a_float32_vector_and_stay_float32():
    params = {"a": np.ones(2, np.float32), "b": np.zeros((1, 2), np.float32)}
    vector, unravel = ravel_pytree(params)
    assert vector.dtype == np.float32
    again = unravel(vector.astype(np.float64))   # what SciPy's optimizers pass
    assert all(leaf.dtype == np.float32 for leaf in again.values())
    mixed, _ = ravel_pytree({"a": np.ones(2, np.float32), "b": np.ones(2)})
    assert mixed.dtype == np.float64
    g = grad(lambda v: np.sum(unravel(v)["b"] ** 2))(np.arange(4.0))
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, [0.0, 0.0, 4.0, 6.0], rtol=1e-6)


def test_both_directions_are_differentiable():
    params = {"w": RNG.standard_normal((2, 2)), "b": RNG.standard_normal(2)}
    vector, unravel = ravel_pytree(params)

    def loss(params):
        return np.sum(np.tanh(params["w"] @ params["b"]) ** 2) + np.sum(params["b"] ** 3)

    flat_gradient = grad(lambda v: loss(unravel(v)))(vector)
    tree_gradient = grad(loss)(params)
    np.testing.assert_allclose(flat_gradient, ravel_pytree(tree_gradient)[0])
    check_grads(lambda v: loss(unravel(v)), [vector], order=2)
    check_grads(lambda w, b: ravel_pytree({"w": w, "b": b})[0] * np.arange(6.0),
                [params["w"], params["b"]], order=2)


def test_scipy_optimize_fits_a_dict_of_parameters():
    optimize = pytest.importorskip("scipy.optimize")
    X = RNG.standard_normal((40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    params = {"w": np.zeros(3, np.float32), "b": np.float32(0.0) * np.ones((), np.float32)}
    vector, unravel = ravel_pytree(params)

    def mse(vector):
        p = unravel(vector)
        return np.mean((X @ p["w"] + p["b"] - y) ** 2)

    result = optimize.minimize(value_and_grad(mse), vector, jac=True, method="L-BFGS-B")
    fitted = unravel(result.x)
    np.testing.assert_allclose(fitted["w"], [1.0, -2.0, 0.5], atol=1e-3)
    np.testing.assert_allclose(fitted["b"], 0.3, atol=1e-3)
    assert fitted["w"].dtype == np.float32


def test_errors_name_the_leaf_and_the_expected_length():
    with pytest.raises(TypeError, match=r"leaf \['steps'\] is int64"):
        ravel_pytree({"w": np.ones(2), "steps": np.arange(3)})
    with pytest.raises(TypeError, match="only float"):
        ravel_pytree([np.ones(2), True])
    _, unravel = ravel_pytree({"w": np.ones((2, 2))})
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        unravel(np.ones(5))
    assert vjpnet.ravel_pytree is ravel_pytree
