"""vjpnet.optimizers: whole-run adam/sgd/rmsprop over pytrees, with HIPS autograd's calling
convention (gradient(params, i), callback(params, i, g)) and update rules."""
import numpy as np
import pytest

import vjpnet
from vjpnet import optimizers

RULES = [("adam", dict(step_size=0.05)), ("sgd", dict(step_size=0.1, mass=0.5)),
         ("rmsprop", dict(step_size=0.05))]


def _quadratic(params, i):
    w, (b, c) = params["w"], params["bc"]
    return np.sum((w - 1.0) ** 2) + np.sum((b + 2.0) ** 2) + 3.0 * (c - 0.5) ** 2


def _init():
    return {"w": np.zeros((2, 3)), "bc": (np.ones(4), 0.0)}


@pytest.mark.parametrize("name,options", RULES)
def test_minimizes_a_pytree_quadratic_and_keeps_its_structure(name, options):
    result = getattr(optimizers, name)(vjpnet.grad(_quadratic), _init(), num_iters=400,
                                       **options)
    assert set(result) == {"w", "bc"} and isinstance(result["bc"], tuple)
    assert result["w"].shape == (2, 3) and result["bc"][0].shape == (4,)
    assert _quadratic(result, 0) < 1e-3 * _quadratic(_init(), 0)


@pytest.mark.parametrize("name,options", RULES)
def test_callback_sees_params_step_and_gradient_before_each_update(name, options):
    seen = []

    def callback(params, i, g):
        seen.append((i, params["w"].copy(), g["w"].copy(), type(g["bc"])))

    getattr(optimizers, name)(vjpnet.grad(_quadratic), _init(), callback=callback,
                              num_iters=3, **options)
    assert [i for i, *_ in seen] == [0, 1, 2]
    np.testing.assert_array_equal(seen[0][1], np.zeros((2, 3)))
    np.testing.assert_allclose(seen[0][2], -2.0 * np.ones((2, 3)))
    assert seen[0][3] is tuple


@pytest.mark.parametrize("name,options", RULES)
def test_follows_hips_autograd_trajectory(name, options):
    autograd_optimizers = pytest.importorskip("autograd.misc.optimizers")
    rng = np.random.default_rng(0)
    target = rng.standard_normal(5)

    def gradient(x, i):      # a gradient that depends on the step, as in minibatching
        return np.sin(x - target) * (1.0 + 0.1 * i)

    ours = getattr(optimizers, name)(gradient, np.zeros(5), num_iters=50, **options)
    theirs = getattr(autograd_optimizers, name)(gradient, np.zeros(5), num_iters=50, **options)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)


def test_float32_parameters_stay_float32():
    x = optimizers.adam(lambda x, i: 2.0 * x, np.ones(3, np.float32), num_iters=5)
    assert x.dtype == np.float32


def test_bad_gradient_function_and_callback_are_named():
    with pytest.raises(TypeError, match="adam: gradient must be a function"):
        optimizers.adam(np.ones(3), np.zeros(3))
    with pytest.raises(TypeError, match="sgd: callback must be a function"):
        optimizers.sgd(lambda x, i: x, np.zeros(3), callback=5)
    with pytest.raises(ValueError, match=r"rmsprop: gradient\(params, 0\) has 2 elements"):
        optimizers.rmsprop(lambda x, i: np.zeros(2), np.zeros(3))
    with pytest.raises(TypeError, match=r"adam: gradient\(params, 0\) must return"):
        optimizers.adam(lambda x, i: {"w": np.zeros(3, int)}, {"w": np.zeros(3)})
