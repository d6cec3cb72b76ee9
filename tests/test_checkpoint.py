"""checkpoint: gradients bit-identical with and without it, nested, pytrees, several
arguments, higher order and forward mode through it, random state replay, batchnorm's running
statistics written once, errors, and what the tape keeps (saved_residuals)."""
import numpy as np
import pytest

import vjpnet
from vjpnet import checkpoint, grad, hessian, jvp, nn, saved_residuals, value_and_grad, vjp


def _mlp(rng, depth=6, width=16, dtype=np.float64):
    params = [{"W": (rng.standard_normal((width, width)) / np.sqrt(width)).astype(dtype),
               "b": (rng.standard_normal(width) * 0.1).astype(dtype)} for _ in range(depth)]
    return params, rng.standard_normal((8, width)).astype(dtype)


def _layer(h, W, b):
    return np.tanh(h @ W + b)


def _loss(params, x, layer):
    for p in params:
        x = layer(x, p["W"], p["b"])
    return np.sum(x ** 2) + np.linalg.norm(x)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mlp_gradients_are_bit_identical(dtype):
    params, x = _mlp(np.random.default_rng(0), dtype=dtype)
    plain_value, plain = value_and_grad(_loss)(params, x, _layer)
    value, checkpointed = value_and_grad(_loss)(params, x, checkpoint(_layer))
    assert value == plain_value
    for p, q in zip(plain, checkpointed):
        for key in p:
            assert q[key].dtype == dtype
            np.testing.assert_array_equal(p[key], q[key])


def test_groups_of_layers_and_nested_checkpoints_are_bit_identical():
    params, x = _mlp(np.random.default_rng(1), depth=8)
    inner = checkpoint(_layer)

    @checkpoint
    def two_layers(h, pair):   # a pytree argument, a nested checkpoint inside
        first, second = pair
        return inner(_layer(h, first["W"], first["b"]), second["W"], second["b"])

    def loss(params, x):
        for k in range(0, len(params), 2):
            x = two_layers(x, (params[k], params[k + 1]))
        return np.sum(x ** 2) + np.linalg.norm(x)

    expected = grad(_loss)(params, x, _layer)
    got = grad(loss)(params, x)
    for p, q in zip(expected, got):
        for key in p:
            np.testing.assert_array_equal(p[key], q[key])


def test_conv_stack_gradients_are_bit_identical():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 8, 8))
    params = [{"w": rng.standard_normal((3, 3, 3, 3)) * 0.3, "b": rng.standard_normal(3)}
              for _ in range(4)]

    def block(h, w, b):
        return nn.relu(nn.conv2d(h, w, b, {"stride": 1, "pad": 1}))

    def loss(params, x, block):
        for p in params:
            x = block(x, p["w"], p["b"])
        x = nn.max_pool2d(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
        return np.sum(x ** 2)

    expected = grad(loss)(params, x, block)
    got = grad(loss)(params, x, checkpoint(block))
    for p, q in zip(expected, got):
        for key in p:
            np.testing.assert_array_equal(p[key], q[key])


def test_pytree_outputs_several_arguments_and_constants():
    @checkpoint
    def block(a, pair, scale, labels, power=2):
        left, right = pair
        return {"sum": a * left + right ** power, "prod": (a * right * scale, labels + 1)}

    def f(a, left, right):
        out = block(a, (left, right), 3.0, np.arange(3), power=3)
        assert out["prod"][1].dtype.kind == "i"
        return np.sum(out["sum"] * out["prod"][0]) + np.sum(np.cos(out["sum"]))

    rng = np.random.default_rng(3)
    args = [rng.standard_normal(3) for _ in range(3)]
    def reference(a, left, right):
        s, p = a * left + right ** 3, a * right * 3.0
        return np.sum(s * p) + np.sum(np.cos(s))

    expected = grad(reference, argnums=(0, 1, 2))(*args)
    for got, want in zip(grad(f, argnums=(0, 1, 2))(*args), expected):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_residual_connection_agrees_to_rounding():
    # x is used by the block and after it: the order of summation of its cotangent differs
    params, x = _mlp(np.random.default_rng(4), depth=4)

    def loss(params, x, layer):
        for p in params:
            x = x + layer(x, p["W"], p["b"])
        return np.sum(x ** 2)

    expected = grad(loss, argnums=(0, 1))(params, x, _layer)
    got = grad(loss, argnums=(0, 1))(params, x, checkpoint(_layer))
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-13, atol=1e-15)
    for p, q in zip(expected[0], got[0]):
        for key in p:
            np.testing.assert_allclose(q[key], p[key], rtol=1e-13, atol=1e-15)


def test_higher_order_and_forward_mode_through_checkpoint():
    f = lambda x: np.sum(np.sin(x) * np.exp(0.5 * x))   # noqa: E731
    block = checkpoint(lambda x: np.sin(x) * np.exp(0.5 * x))
    g = lambda x: np.sum(block(x))   # noqa: E731
    x, v = np.array([0.3, -1.2, 0.8]), np.array([1.0, 0.5, -2.0])
    np.testing.assert_allclose(hessian(g)(x), hessian(f)(x), rtol=1e-13)
    np.testing.assert_allclose(jvp(g, (x,), (v,))[1], jvp(f, (x,), (v,))[1], rtol=1e-13)
    np.testing.assert_allclose(grad(grad(lambda x: g(x) * 1.0))(1.3),
                               grad(grad(f))(1.3), rtol=1e-13)
    out, vjp_fn = vjp(block, x)
    for _ in range(2):   # the block recomputes on every call
        np.testing.assert_allclose(vjp_fn(v)[0], vjp(lambda x: np.sin(x) * np.exp(0.5 * x),
                                                     x)[1](v)[0], rtol=1e-13)


def test_grad_inside_checkpoint_inside_grad():
    block = checkpoint(lambda x, w: grad(lambda y: np.sum(np.tanh(y * w) ** 2))(x) * w)
    f = lambda x, w: np.sum(block(x, w) ** 2)   # noqa: E731
    reference = lambda x, w: np.sum((grad(lambda y: np.sum(np.tanh(y * w) ** 2))(x) * w) ** 2)  # noqa
    x, w = np.array([0.5, -0.4]), np.array([1.5, 0.7])
    for got, want in zip(grad(f, (0, 1))(x, w), grad(reference, (0, 1))(x, w)):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_dropout_without_seed_replays_the_same_mask():
    rng = np.random.default_rng(5)
    x, W = rng.standard_normal((6, 5)), rng.standard_normal((5, 5))

    def block(x, W):
        return nn.dropout(np.tanh(x @ W), {"mode": "train", "p": 0.5})

    def loss(W, block):
        return np.sum(block(x, W) ** 2)

    np.random.seed(7)
    expected = grad(loss)(W, block)
    after_expected = np.random.random_sample()
    np.random.seed(7)
    got = grad(loss)(W, checkpoint(block))
    np.testing.assert_array_equal(got, expected)
    assert np.random.random_sample() == after_expected   # the global state moved on once


def test_batchnorm_running_statistics_are_written_once():
    rng = np.random.default_rng(6)
    x, gamma, beta = rng.standard_normal((8, 3)) + 2.0, np.ones(3), np.zeros(3)

    def loss(gamma, block, bn_param):
        return np.sum(block(x, gamma, beta, bn_param) ** 3)

    def block(x, gamma, beta, bn_param):
        return nn.batchnorm(x, gamma, beta, bn_param)

    plain_param, checked_param = {"mode": "train"}, {"mode": "train"}
    expected = grad(loss)(gamma, block, plain_param)
    got = grad(loss)(gamma, checkpoint(block), checked_param)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(checked_param["running_mean"], plain_param["running_mean"])
    np.testing.assert_array_equal(checked_param["running_var"], plain_param["running_var"])
    assert not vjpnet.transforms.is_recomputing()


def test_the_tape_keeps_only_the_blocks_inputs():
    params, x = _mlp(np.random.default_rng(7), depth=6, width=64)
    x = np.random.default_rng(8).standard_normal((256, 64))
    plain = saved_residuals(_loss, params, x, _layer, argnums=0)
    checkpointed = saved_residuals(_loss, params, x, checkpoint(_layer), argnums=0)
    activation = 256 * 64 * 8
    # without: per layer the matmul's input, the pre-activation and tanh's output (the next
    # layer's input); with: per block its input only (the previous block's output)
    assert plain.total_bytes >= 2 * 6 * activation
    assert checkpointed.total_bytes <= 6 * activation + 3 * activation
    assert {row.op for row in checkpointed.rows} >= {"checkpoint(_layer)", "checkpoint output"}


def test_outside_grad_it_is_the_function():
    block = checkpoint(lambda x, y: x * y)
    assert block(2.0, 3.0) == 6.0
    assert block.__name__ == "<lambda>"


def test_closures_over_traced_values_are_an_error():
    def loss(W, x):
        block = checkpoint(lambda h: np.tanh(h @ W))   # W reaches the block by closure
        return np.sum(block(x))

    with pytest.raises(ValueError, match=r"checkpoint\(<lambda>\).*closure or a keyword"):
        grad(loss, argnums=(0, 1))(np.ones((2, 2)), np.ones((3, 2)))
    # with no traced argument there is nothing to checkpoint: f runs and records as usual
    W, x = np.array([[0.5, -1.0], [0.2, 0.3]]), np.ones((3, 2))
    np.testing.assert_allclose(grad(loss)(W, x), grad(lambda W: np.sum(np.tanh(x @ W)))(W))
    with pytest.raises(ValueError, match=r"checkpoint\(<lambda>\).*closure"):
        grad(lambda W: np.sum(checkpoint(lambda h: W)(np.ones(2) * W)))(np.ones(2))

    def keyword(W, x):
        return np.sum(checkpoint(lambda h, W=None: h @ W)(x, W=W))

    with pytest.raises(ValueError, match=r"keyword argument 'W' is traced"):
        grad(keyword)(np.ones((2, 2)), np.ones((3, 2)))


def test_closure_over_an_outer_level_is_differentiated():
    # W is traced by the outer grad only: the inner block sees it as a constant of its level
    def outer(W):
        block = checkpoint(lambda h: np.tanh(h @ W))
        inner = grad(lambda h: np.sum(block(h) ** 2))(np.ones((3, 2)))
        return np.sum(inner ** 2)

    def reference(W):
        inner = grad(lambda h: np.sum(np.tanh(h @ W) ** 2))(np.ones((3, 2)))
        return np.sum(inner ** 2)

    W = np.array([[0.3, -0.2], [0.5, 0.1]])
    np.testing.assert_allclose(grad(outer)(W), grad(reference)(W), rtol=1e-13)
