"""Batch normalization and dropout layer pairs (vjpnet.normalization, re-exported by layers)."""
import numpy as np
import pytest

from vjpnet.gradient_check import eval_numerical_gradient_array, rel_error
from vjpnet.layers import (batchnorm_backward, batchnorm_backward_alt, batchnorm_forward,
                           dropout_backward, dropout_forward, spatial_batchnorm_backward,
                           spatial_batchnorm_forward)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# ----------------------------------------------------------------------------- batchnorm

def test_batchnorm_train_forward_normalizes(rng):
    x = 5 * rng.standard_normal((200, 3)) + 12
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([11.0, 12.0, 13.0])
    bn_param = {"mode": "train"}
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-6)   # biased variance + eps
    # running = 0.9 * zeros + 0.1 * batch statistics (biased variance)
    np.testing.assert_allclose(bn_param["running_mean"], 0.1 * x.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bn_param["running_var"], 0.1 * x.var(axis=0), rtol=1e-12)


def test_batchnorm_running_statistics_drive_test_mode(rng):
    gamma, beta = np.ones(4), np.zeros(4)
    bn_param = {"mode": "train", "momentum": 0.8}
    for _ in range(60):
        batchnorm_forward(3 * rng.standard_normal((100, 4)) + 7, gamma, beta, bn_param)
    np.testing.assert_allclose(bn_param["running_mean"], 7, atol=0.3)
    np.testing.assert_allclose(bn_param["running_var"], 9, rtol=0.15)
    bn_param["mode"] = "test"
    before = dict(bn_param)
    x = 3 * rng.standard_normal((500, 4)) + 7
    out, _ = batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=0.2)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=0.15)
    assert all(bn_param[key] is before[key] for key in before)     # test mode writes nothing
    expected = (x - bn_param["running_mean"]) / np.sqrt(bn_param["running_var"] + 1e-5)
    np.testing.assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.parametrize("mode", ["train", "test"])
@pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt])
def test_batchnorm_backward_numeric(rng, mode, backward):
    N, D = 4, 5
    x = 5 * rng.standard_normal((N, D)) + 12
    gamma, beta = rng.standard_normal(D), rng.standard_normal(D)
    dout = rng.standard_normal((N, D))
    running = {"running_mean": rng.standard_normal(D), "running_var": rng.random(D) + 0.5}

    def forward(x_, gamma_, beta_):
        return batchnorm_forward(x_, gamma_, beta_, dict(running, mode=mode))[0]

    dx_num = eval_numerical_gradient_array(lambda v: forward(v, gamma, beta), x, dout)
    dgamma_num = eval_numerical_gradient_array(lambda v: forward(x, v, beta), gamma, dout)
    dbeta_num = eval_numerical_gradient_array(lambda v: forward(x, gamma, v), beta, dout)
    _, cache = batchnorm_forward(x, gamma, beta, dict(running, mode=mode))
    dx, dgamma, dbeta = backward(dout, cache)
    assert rel_error(dx_num, dx) < 1e-7
    assert rel_error(dgamma_num, dgamma) < 1e-8
    assert rel_error(dbeta_num, dbeta) < 1e-8


def test_batchnorm_backward_alt_matches(rng):
    x = rng.standard_normal((50, 20))
    gamma, beta = rng.standard_normal(20), rng.standard_normal(20)
    dout = rng.standard_normal((50, 20))
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for a, b in zip(batchnorm_backward(dout, cache), batchnorm_backward_alt(dout, cache)):
        assert rel_error(a, b) < 1e-10


def test_batchnorm_float32_end_to_end(rng):
    x = rng.standard_normal((8, 3)).astype(np.float32)
    gamma, beta = np.ones(3, np.float32), np.zeros(3, np.float32)
    bn_param = {"mode": "train", "eps": np.float64(1e-5), "momentum": np.float64(0.9)}
    out, cache = batchnorm_forward(x, gamma, beta, bn_param)
    assert out.dtype == np.float32 and bn_param["running_mean"].dtype == np.float32
    for grad in batchnorm_backward(np.ones_like(out), cache):
        assert grad.dtype == np.float32
    bn_param["mode"] = "test"
    assert batchnorm_forward(x, gamma, beta, bn_param)[0].dtype == np.float32


# ----------------------------------------------------------------------------- spatial

def test_spatial_batchnorm_forward_per_channel(rng):
    x = 4 * rng.standard_normal((2, 3, 4, 5)) + 10
    gamma, beta = np.array([3.0, 4.0, 5.0]), np.array([6.0, 7.0, 8.0])
    bn_param = {"mode": "train"}
    out, _ = spatial_batchnorm_forward(x, gamma, beta, bn_param)
    assert out.shape == x.shape
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), beta, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), gamma, rtol=1e-5)
    assert bn_param["running_mean"].shape == (3,)
    np.testing.assert_allclose(bn_param["running_mean"], 0.1 * x.mean(axis=(0, 2, 3)))


@pytest.mark.parametrize("mode", ["train", "test"])
def test_spatial_batchnorm_backward_numeric(rng, mode):
    x = 5 * rng.standard_normal((2, 3, 4, 5)) + 12
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    dout = rng.standard_normal(x.shape)
    running = {"running_mean": rng.standard_normal(3), "running_var": rng.random(3) + 0.5}

    def forward(x_, gamma_, beta_):
        return spatial_batchnorm_forward(x_, gamma_, beta_, dict(running, mode=mode))[0]

    dx_num = eval_numerical_gradient_array(lambda v: forward(v, gamma, beta), x, dout)
    dgamma_num = eval_numerical_gradient_array(lambda v: forward(x, v, beta), gamma, dout)
    dbeta_num = eval_numerical_gradient_array(lambda v: forward(x, gamma, v), beta, dout)
    _, cache = spatial_batchnorm_forward(x, gamma, beta, dict(running, mode=mode))
    dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
    assert dx.shape == x.shape
    assert rel_error(dx_num, dx) < 1e-6
    assert rel_error(dgamma_num, dgamma) < 1e-8
    assert rel_error(dbeta_num, dbeta) < 1e-8


# ----------------------------------------------------------------------------- dropout

@pytest.mark.parametrize("p", [0.25, 0.4, 0.7])
def test_dropout_train_and_test(rng, p):
    x = rng.standard_normal((500, 500)) + 10
    out, _ = dropout_forward(x, {"mode": "train", "p": p})
    assert abs((out == 0).mean() - p) < 0.01                 # p is the DROP probability
    assert abs(out.mean() - x.mean()) / x.mean() < 0.01      # inverted dropout keeps the mean
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / (1 - p))
    test_out, _ = dropout_forward(x, {"mode": "test", "p": p})
    np.testing.assert_array_equal(test_out, x)


def test_dropout_seed_and_global_random_state(rng):
    x = rng.standard_normal((20, 30))
    with_seed = {"mode": "train", "p": 0.5, "seed": 7}
    np.testing.assert_array_equal(dropout_forward(x, with_seed)[0],
                                  dropout_forward(x, with_seed)[0])
    np.random.seed(3)
    first = dropout_forward(x, {"mode": "train", "p": 0.5})[0]
    second = dropout_forward(x, {"mode": "train", "p": 0.5})[0]
    np.random.seed(3)
    np.testing.assert_array_equal(first, dropout_forward(x, {"mode": "train", "p": 0.5})[0])
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(dropout_forward(x, {"mode": "train", "p": 0})[0], x)


@pytest.mark.parametrize("mode", ["train", "test"])
def test_dropout_backward_numeric(rng, mode):
    x = rng.standard_normal((10, 10)) + 10
    dout = rng.standard_normal(x.shape)
    dropout_param = {"mode": mode, "p": 0.2, "seed": 123}
    _, cache = dropout_forward(x, dropout_param)
    dx = dropout_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda v: dropout_forward(v, dropout_param)[0],
                                           x, dout)
    assert rel_error(dx, dx_num) < 1e-10


def test_dropout_float32(rng):
    x = rng.standard_normal((4, 5)).astype(np.float32)
    out, cache = dropout_forward(x, {"mode": "train", "p": 0.3, "seed": 0})
    assert out.dtype == np.float32
    assert dropout_backward(np.ones_like(out), cache).dtype == np.float32


# ----------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("mode", ["eval", "Train", None, 1])
def test_mode_must_be_train_or_test(rng, mode):
    x = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"batchnorm_forward: bn_param\['mode'\] must be "
                                         r"'train' or 'test'"):
        batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": mode})
    with pytest.raises(ValueError, match=r"spatial_batchnorm_forward: bn_param\['mode'\]"):
        spatial_batchnorm_forward(x.reshape(1, 3, 2, 2), np.ones(3), np.zeros(3),
                                  {"mode": mode})
    with pytest.raises(ValueError, match=r"dropout_forward: dropout_param\['mode'\]"):
        dropout_forward(x, {"mode": mode, "p": 0.5})


def test_missing_mode_and_p(rng):
    x = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match="'mode'] is missing"):
        batchnorm_forward(x, np.ones(3), np.zeros(3), {})
    with pytest.raises(ValueError, match="'p'] is missing"):
        dropout_forward(x, {"mode": "train"})


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5, float("nan")])
def test_dropout_p_outside_unit_interval(rng, p):
    with pytest.raises(ValueError, match=r"dropout_param\['p'\] must be in \[0.0, 1.0\)"):
        dropout_forward(rng.standard_normal((3, 3)), {"mode": "train", "p": p})


def test_batchnorm_shape_and_dtype_errors(rng):
    x = rng.standard_normal((4, 3))
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\).*gamma.shape=\(4,\)"):
        batchnorm_forward(x, np.ones(4), np.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError, match=r"x must have shape \(N, D\)"):
        batchnorm_forward(x.reshape(2, 2, 3), np.ones(3), np.zeros(3), {"mode": "train"})
    with pytest.raises(TypeError, match="float32.*float64|dtype"):
        batchnorm_forward(x.astype(np.float32), np.ones(3), np.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError, match=r"running_mean'\] must have shape \(3,\)"):
        batchnorm_forward(x, np.ones(3), np.zeros(3),
                          {"mode": "test", "running_mean": np.zeros(5)})
    with pytest.raises(ValueError, match=r"momentum'\] must be in"):
        batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train", "momentum": 1.5})
    _, cache = batchnorm_forward(x, np.ones(3), np.zeros(3), {"mode": "train"})
    with pytest.raises(ValueError, match="batchnorm_backward: dout must have"):
        batchnorm_backward(np.ones((3, 3)), cache)


# ----------------------------------------------------------------------------- sandwich

def test_conv_bn_relu_sandwich_numeric(rng):
    from vjpnet.layer_utils import conv_bn_relu_backward, conv_bn_relu_forward
    x = rng.standard_normal((2, 3, 5, 5))
    w = rng.standard_normal((4, 3, 3, 3))
    b, gamma, beta = rng.standard_normal(4), rng.standard_normal(4) + 1, rng.standard_normal(4)
    conv_param = {"stride": 1, "pad": 1}
    dout = rng.standard_normal((2, 4, 5, 5))
    args = [x, w, b, gamma, beta]

    def forward(position, value):
        call = list(args)
        call[position] = value
        return conv_bn_relu_forward(*call, conv_param, {"mode": "train"})[0]

    bn_param = {"mode": "train"}
    out, cache = conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param)
    assert out.shape == (2, 4, 5, 5) and bn_param["running_mean"].shape == (4,)
    grads = conv_bn_relu_backward(dout, cache)
    assert len(grads) == 5
    for position, name in enumerate(["dx", "dw", "db", "dgamma", "dbeta"]):
        numeric = eval_numerical_gradient_array(lambda v: forward(position, v), args[position],
                                                dout)
        assert grads[position].shape == args[position].shape
        if name == "db":   # batchnorm removes a per-channel bias: its gradient is zero
            np.testing.assert_allclose(grads[position], 0, atol=1e-10)
            np.testing.assert_allclose(numeric, 0, atol=1e-7)
        else:
            assert rel_error(numeric, grads[position]) < 1e-6, name
