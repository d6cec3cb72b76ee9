"""Update rules checked against values computed by hand."""
import numpy as np
import pytest

from vjpnet import optim

W = np.array([1.0, -2.0])


def test_sgd_hand_computed():
    next_w, config = optim.sgd(W, np.array([0.5, 1.0]), {"learning_rate": 0.1})
    np.testing.assert_allclose(next_w, [0.95, -2.1], rtol=1e-12)
    np.testing.assert_array_equal(W, [1.0, -2.0])          # never in place


def test_sgd_momentum_hand_computed():
    config = {"learning_rate": 0.1, "momentum": 0.9, "velocity": np.array([0.2, -0.1])}
    next_w, config = optim.sgd_momentum(W, np.array([0.5, 1.0]), config)
    # v = 0.9 * [0.2, -0.1] - 0.1 * [0.5, 1.0] = [0.13, -0.19]
    np.testing.assert_allclose(config["velocity"], [0.13, -0.19], rtol=1e-12)
    np.testing.assert_allclose(next_w, [1.13, -2.19], rtol=1e-12)


def test_rmsprop_hand_computed():
    config = {"learning_rate": 0.1, "decay_rate": 0.75}
    next_w, config = optim.rmsprop(W, np.array([2.0, -4.0]), config)
    # cache = 0.25 * [4, 16] = [1, 4]; step = 0.1 * [2, -4] / ([1, 2] + 1e-8)
    np.testing.assert_allclose(config["cache"], [1.0, 4.0], rtol=1e-12)
    np.testing.assert_allclose(next_w, [0.8, -1.8], rtol=1e-7)
    assert config["epsilon"] == 1e-8


def test_adam_increments_t_first_and_stores_uncorrected_moments():
    config = {"learning_rate": 0.1, "beta1": 0.5, "beta2": 0.75}
    dw = np.array([2.0, -4.0])
    w1, config = optim.adam(W, dw, config)
    # t = 1; m = 0.5 * dw = [1, -2]; v = 0.25 * dw**2 = [1, 4]
    # m_hat = m / 0.5 = [2, -4]; v_hat = v / 0.25 = [4, 16]; step = 0.1 * [2/2, -4/4]
    assert config["t"] == 1
    np.testing.assert_allclose(config["m"], [1.0, -2.0], rtol=1e-12)
    np.testing.assert_allclose(config["v"], [1.0, 4.0], rtol=1e-12)
    np.testing.assert_allclose(w1, [0.9, -1.9], rtol=1e-7)
    w2, config = optim.adam(w1, dw, config)
    # t = 2; m = [1.5, -3]; v = [1.75, 7]; m_hat = m / 0.75 = [2, -4]; v_hat = v / 0.4375 = [4, 16]
    assert config["t"] == 2
    np.testing.assert_allclose(config["m"], [1.5, -3.0], rtol=1e-12)
    np.testing.assert_allclose(config["v"], [1.75, 7.0], rtol=1e-12)
    np.testing.assert_allclose(w2, [0.8, -1.8], rtol=1e-7)


@pytest.mark.parametrize("rule, defaults", [
    (optim.sgd, {"learning_rate": 1e-2}),
    (optim.sgd_momentum, {"learning_rate": 1e-2, "momentum": 0.9}),
    (optim.rmsprop, {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8}),
    (optim.adam, {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 1}),
])
def test_defaults_filled_in(rule, defaults):
    _, config = rule(W, np.ones(2))
    for key, value in defaults.items():
        assert config[key] == value, key


@pytest.mark.parametrize("rule", [optim.sgd, optim.sgd_momentum, optim.rmsprop, optim.adam])
def test_float32_stays_float32(rule):
    w = np.ones((3, 2), np.float32)
    config = None
    for _ in range(2):
        w, config = rule(w, np.full((3, 2), 0.5, np.float32), config)
    assert w.dtype == np.float32
    for value in config.values():
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32


@pytest.mark.parametrize("rule", [optim.sgd, optim.sgd_momentum, optim.rmsprop, optim.adam])
def test_shape_mismatch_is_clear(rule):
    with pytest.raises(ValueError, match="shape"):
        rule(np.ones(3), np.ones(4))


def test_state_of_another_param_is_rejected():
    _, config = optim.adam(np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="one config dict per parameter"):
        optim.adam(np.ones(4), np.ones(4), config)


def test_get_update_rule():
    assert optim.get_update_rule("adam") is optim.adam
    assert optim.get_update_rule(optim.sgd) is optim.sgd
    with pytest.raises(ValueError, match="unknown update rule 'adamw'"):
        optim.get_update_rule("adamw")
