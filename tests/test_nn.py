"""vjpnet.nn: first derivatives against the layer pairs, second derivatives (Hessian-vector
products through nested grad) against finite differences, conv2d/max_pool2d refusing a second
derivative, and the VJPNET_NAIVE kernel switch."""
import numpy as np
import pytest

import vjpnet
from vjpnet import layer_utils, layers, nn

CONV_PARAM = {"stride": 1, "pad": 1}
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}


def tree_vdot(a, b):
    """Sum of elementwise products over two dicts of arrays (plain or traced)."""
    return sum(np.sum(a[key] * b[key]) for key in a)


def tree_axpy(alpha, v, x):
    return {key: x[key] + alpha * v[key] for key in x}


def check_hvp(loss, params, seed=0, eps=1e-5, rtol=1e-6, atol=1e-9):
    """Hessian-vector product by nested vjpnet.grad vs central differences of vjpnet.grad."""
    rng = np.random.default_rng(seed)
    v = {key: rng.standard_normal(np.shape(value)) for key, value in params.items()}
    gradient = vjpnet.grad(loss)
    hvp = vjpnet.grad(lambda p: tree_vdot(gradient(p), v))(params)
    plus, minus = gradient(tree_axpy(eps, v, params)), gradient(tree_axpy(-eps, v, params))
    for key in params:
        numeric = (plus[key] - minus[key]) / (2 * eps)
        assert hvp[key].shape == params[key].shape
        np.testing.assert_allclose(hvp[key], numeric, rtol=rtol, atol=atol, err_msg=key)
    return hvp


def away_from_zero(rng, shape):
    return rng.uniform(0.1, 1.0, shape) * rng.choice([-1.0, 1.0], shape)


# ---------------------------------------------------------------------------------------------
# First order: the ops' gradients are the layer pairs' backward passes.

def test_nn_ops_first_order_match_layer_backward():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3)), \
        rng.standard_normal(4)

    def loss_fn(params):
        out = nn.max_pool2d(nn.relu(nn.conv2d(params["x"], params["w"], params["b"],
                                              CONV_PARAM)), POOL_PARAM)
        return np.sum(out * dout)

    dout = rng.standard_normal((2, 4, 3, 3))
    grads = vjpnet.grad(loss_fn)(dict(x=x, w=w, b=b))
    a, conv_cache = layers.conv_forward_naive(x, w, b, CONV_PARAM)
    s, relu_cache = layers.relu_forward(a)
    _, pool_cache = layers.max_pool_forward_naive(s, POOL_PARAM)
    expected = layers.conv_backward_naive(layers.relu_backward(
        layers.max_pool_backward_naive(dout, pool_cache), relu_cache), conv_cache)
    for key, want in zip("xwb", expected):
        np.testing.assert_allclose(grads[key], want, rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("loss_op, layer_loss", [(nn.softmax_loss, layers.softmax_loss),
                                                 (nn.svm_loss, layers.svm_loss)])
def test_loss_ops_return_the_scalar_and_its_gradient(loss_op, layer_loss):
    rng = np.random.default_rng(1)
    scores, y = rng.standard_normal((6, 5)), rng.integers(5, size=6)
    loss, dx = layer_loss(scores, y)
    # the op may run vjpnet_fast's one-pass softmax kernel: equal to rounding
    assert loss_op(scores, y) == pytest.approx(loss, rel=1e-14)
    value, gradient = vjpnet.value_and_grad(loss_op)(scores, y)
    assert value == pytest.approx(loss, rel=1e-14)
    np.testing.assert_allclose(gradient, dx, rtol=1e-13, atol=1e-16)


def test_float32_through_grad():
    rng = np.random.default_rng(2)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)
    params = dict(x=f32(2, 3, 6, 6), w=f32(4, 3, 3, 3), b=f32(4), W2=f32(36, 5), b2=f32(5))
    y = np.array([1, 4])

    def loss_fn(p):
        hidden = nn.max_pool2d(nn.relu(nn.conv2d(p["x"], p["w"], p["b"], CONV_PARAM)),
                               POOL_PARAM)
        return nn.softmax_loss(nn.affine(hidden, p["W2"], p["b2"]), y)

    loss, grads = vjpnet.value_and_grad(loss_fn)(params)
    assert np.asarray(loss).dtype == np.float32
    for key, value in params.items():
        assert grads[key].dtype == np.float32 and grads[key].shape == value.shape, key


# ---------------------------------------------------------------------------------------------
# Second order: Hessian-vector products through nested grad.

def test_softmax_loss_hvp():
    rng = np.random.default_rng(3)
    y = rng.integers(4, size=5)
    hvp = check_hvp(lambda p: nn.softmax_loss(p["scores"], y),
                    {"scores": rng.standard_normal((5, 4))})
    assert np.abs(hvp["scores"]).max() > 1e-3          # a genuinely non-zero Hessian


def test_softmax_of_affine_hvp_all_arguments():
    rng = np.random.default_rng(4)
    y = rng.integers(3, size=4)
    params = dict(x=rng.standard_normal((4, 2, 3)), w=rng.standard_normal((6, 3)),
                  b=rng.standard_normal(3))
    check_hvp(lambda p: nn.softmax_loss(nn.affine(p["x"], p["w"], p["b"]), y), params)


def test_affine_hvp_cubic():
    rng = np.random.default_rng(5)
    params = dict(x=rng.standard_normal((3, 4)), w=rng.standard_normal((4, 2)),
                  b=rng.standard_normal(2))
    check_hvp(lambda p: np.sum(nn.affine(p["x"], p["w"], p["b"]) ** 3), params)


def test_relu_hvp():
    rng = np.random.default_rng(6)
    x = away_from_zero(rng, (4, 5))
    hvp = check_hvp(lambda p: np.sum(nn.relu(p["x"]) ** 3), {"x": x})
    # d2/dx2 sum(relu(x)^3) = 6 * relu(x) elementwise: H v = 6 relu(x) v
    v = np.random.default_rng(0).standard_normal(x.shape)
    np.testing.assert_allclose(hvp["x"], 6 * np.maximum(x, 0) * v, rtol=1e-12)


def test_svm_loss_hvp():
    rng = np.random.default_rng(7)
    scores, y = nn._svm_scores(rng, 5, 4)
    # the hinge is piecewise linear: its Hessian is zero away from the kinks
    hvp = check_hvp(lambda p: nn.svm_loss(p["scores"], y), {"scores": scores})
    np.testing.assert_array_equal(hvp["scores"], 0)
    # through a curved map the Hessian is not zero and must still match
    hvp = check_hvp(lambda p: nn.svm_loss(np.tanh(p["scores"]), y), {"scores": scores})
    assert np.abs(hvp["scores"]).max() > 1e-3


def test_two_layer_net_hvp():
    rng = np.random.default_rng(8)
    X, y = rng.standard_normal((5, 4)), rng.integers(3, size=5)
    params = dict(W1=rng.standard_normal((4, 6)), b1=rng.standard_normal(6),
                  W2=rng.standard_normal((6, 3)), b2=rng.standard_normal(3))

    def loss_fn(p):
        hidden = nn.relu(nn.affine(X, p["W1"], p["b1"]))
        scores = nn.affine(hidden, p["W2"], p["b2"])
        return nn.softmax_loss(scores, y) + 0.05 * np.sum(p["W1"] ** 2)

    check_hvp(loss_fn, params)


def test_third_derivative_of_softmax_loss():
    rng = np.random.default_rng(9)
    y, x = rng.integers(3, size=2), rng.standard_normal((2, 3))
    u, v = rng.standard_normal(x.shape), rng.standard_normal(x.shape)
    first = vjpnet.grad(lambda s: nn.softmax_loss(s, y))
    second_along_u = vjpnet.grad(lambda s: np.sum(first(s) * u))
    third = vjpnet.grad(lambda s: np.sum(second_along_u(s) * v))(x)
    eps = 1e-4
    numeric = (second_along_u(x + eps * v) - second_along_u(x - eps * v)) / (2 * eps)
    # third derivatives are symmetric: d/dv (H u) = d/dx <H(x) u, v> along the same tensor
    np.testing.assert_allclose(third, numeric, rtol=1e-5, atol=1e-8)


# ---------------------------------------------------------------------------------------------
# conv2d / max_pool2d are first-order only.

@pytest.fixture(params=["naive", "fast"])
def kernel_choice(request, monkeypatch):
    if request.param == "fast":
        if layer_utils.fast_kernels() is None:
            pytest.skip("vjpnet_fast does not provide the fast conv/pool kernels (not built)")
        monkeypatch.setenv("VJPNET_NAIVE", "0")
    else:
        monkeypatch.setenv("VJPNET_NAIVE", "1")
    return request.param


def test_conv2d_twice_raises(kernel_choice):
    rng = np.random.default_rng(10)
    x, w, b = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((3, 2, 3, 3)), \
        rng.standard_normal(3)
    inner = vjpnet.grad(lambda x: np.sum(nn.conv2d(x, w, b, CONV_PARAM) ** 2))
    assert inner(x).shape == x.shape
    with pytest.raises(TypeError, match="conv2d.*first_order=True.*differentiated twice"):
        vjpnet.grad(lambda x: np.sum(inner(x) ** 2))(x)


def test_max_pool2d_twice_raises(kernel_choice):
    x = np.random.default_rng(11).standard_normal((1, 2, 4, 4))
    inner = vjpnet.grad(lambda x: np.sum(nn.max_pool2d(x, POOL_PARAM) ** 2))
    assert inner(x).shape == x.shape
    with pytest.raises(TypeError, match="max_pool2d.*first_order=True.*differentiated twice"):
        vjpnet.grad(lambda x: np.sum(inner(x) ** 2))(x)


def test_conv2d_and_pool_gradients_agree_across_kernels(kernel_choice):
    rng = np.random.default_rng(12)
    params = dict(x=rng.standard_normal((2, 3, 7, 7)), w=rng.standard_normal((4, 3, 3, 3)),
                  b=rng.standard_normal(4))
    conv_param = {"stride": 2, "pad": 1}

    def loss_fn(p):
        out = nn.conv2d(p["x"], p["w"], p["b"], conv_param)
        return np.sum(nn.max_pool2d(out, POOL_PARAM) ** 2)

    grads = vjpnet.grad(loss_fn)(params)
    a, conv_cache = layers.conv_forward_naive(params["x"], params["w"], params["b"], conv_param)
    pooled, pool_cache = layers.max_pool_forward_naive(a, POOL_PARAM)
    expected = layers.conv_backward_naive(
        layers.max_pool_backward_naive(2 * pooled, pool_cache), conv_cache)
    for key, want in zip("xwb", expected):
        np.testing.assert_allclose(grads[key], want, rtol=1e-9, atol=1e-11, err_msg=key)


# ---------------------------------------------------------------------------------------------
# The VJPNET_NAIVE switch (read at call time, shared by layer_utils and nn).

def test_force_naive_switch(monkeypatch):
    calls = []
    naive = layer_utils.NAIVE_KERNELS

    def counting(name, function):
        def wrapper(*args):
            calls.append(name)
            return function(*args)
        return wrapper

    monkeypatch.setattr(layer_utils, "NAIVE_KERNELS", naive._replace(
        conv_forward=counting("conv_forward", naive.conv_forward),
        conv_backward=counting("conv_backward", naive.conv_backward),
        pool_forward=counting("pool_forward", naive.pool_forward),
        pool_backward=counting("pool_backward", naive.pool_backward)))
    monkeypatch.setenv("VJPNET_NAIVE", "1")
    assert layer_utils.select_kernels().name == "naive"
    rng = np.random.default_rng(13)
    x, w, b = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((3, 2, 3, 3)), \
        rng.standard_normal(3)
    vjpnet.grad(lambda x: np.sum(nn.max_pool2d(nn.conv2d(x, w, b, CONV_PARAM),
                                               POOL_PARAM)))(x)
    assert calls == ["conv_forward", "pool_forward", "pool_backward", "conv_backward"]
    calls.clear()
    out, cache = layer_utils.conv_relu_pool_forward(x, w, b, CONV_PARAM, POOL_PARAM)
    # the backward uses the kernels its forward used, whatever the variable says by then
    monkeypatch.delenv("VJPNET_NAIVE")
    layer_utils.conv_relu_pool_backward(np.ones(out.shape), cache)
    assert calls == ["conv_forward", "pool_forward", "pool_backward", "conv_backward"]


@pytest.mark.parametrize("naive", ["0", "1"])
def test_conv2d_computes_only_the_cotangents_asked_for(monkeypatch, naive):
    """The data batch's cotangent (dx) is not computed unless x is differentiated."""
    if naive == "0" and layer_utils.fast_kernels() is None:
        pytest.skip("vjpnet_fast is not built")
    monkeypatch.setenv("VJPNET_NAIVE", naive)
    kernels = layer_utils.select_kernels()
    asked = []

    def spy(dout, cache, needed=(True, True, True)):
        asked.append(tuple(needed))
        return kernels.conv_backward(dout, cache, needed)

    monkeypatch.setattr(layer_utils, "NAIVE_KERNELS", kernels._replace(conv_backward=spy))
    monkeypatch.setenv("VJPNET_NAIVE", "1")
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), \
        rng.standard_normal(3)

    def loss(x, w, b):
        return np.sum(nn.conv2d(x, w, b, CONV_PARAM) ** 2)
    full = vjpnet.grad(loss, argnums=(0, 1, 2))(x, w, b)
    only_w = vjpnet.grad(loss, argnums=1)(x, w, b)
    w_and_b = vjpnet.grad(loss, argnums=(1, 2))(x, w, b)
    only_x = vjpnet.grad(loss, argnums=0)(x, w, b)
    assert asked == [(True, True, True), (False, True, False), (False, True, True),
                     (True, False, False)]
    np.testing.assert_array_equal(only_w, full[1])
    np.testing.assert_array_equal(w_and_b[0], full[1])
    np.testing.assert_array_equal(w_and_b[1], full[2])
    np.testing.assert_array_equal(only_x, full[0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_affine_relu_is_relu_of_affine_bit_for_bit(dtype):
    rng = np.random.default_rng(6)
    x, w, b = (rng.standard_normal(shape).astype(dtype) for shape in ((7, 2, 3), (6, 9), (9,)))
    x[0, 0, 0] = np.nan
    b[1] = -np.inf

    def one_op(x, w, b):
        return np.sum(nn.affine_relu(x, w, b) * np.arange(9.0, dtype=dtype))

    def two_ops(x, w, b):
        return np.sum(nn.relu(nn.affine(x, w, b)) * np.arange(9.0, dtype=dtype))
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(nn.affine_relu(x, w, b), nn.relu(nn.affine(x, w, b)))
        for argnums in ((0, 1, 2), (1, 2), 1):
            fused = vjpnet.grad(one_op, argnums=argnums)(x, w, b)
            separate = vjpnet.grad(two_ops, argnums=argnums)(x, w, b)
            if not isinstance(argnums, tuple):
                fused, separate = (fused,), (separate,)
            for got, want in zip(fused, separate):
                np.testing.assert_array_equal(got, want)
    # differentiable again: a Hessian-vector product through nested grad
    x, w, b = (rng.standard_normal(shape) for shape in ((5, 4), (4, 3), (3,)))
    check_hvp(lambda p: np.sum(nn.affine_relu(p["x"], p["w"], p["b"]) ** 2),
              {"x": x, "w": w, "b": b})


def test_l2_penalty():
    rng = np.random.default_rng(4)
    weights = [rng.standard_normal((3, 4)), rng.standard_normal(5), rng.standard_normal(())]
    want = 0.5 * 0.3 * sum(np.sum(w * w) for w in weights)
    assert nn.l2_penalty(0.3, *weights) == pytest.approx(want, rel=1e-14)
    assert nn.l2_penalty(0.3) == 0.0
    grads = vjpnet.grad(lambda ws: nn.l2_penalty(0.3, *ws))(weights)
    for grad, w in zip(grads, weights):
        np.testing.assert_allclose(grad, 0.3 * w, rtol=1e-15)
    w32 = weights[0].astype(np.float32)
    value, grad = vjpnet.value_and_grad(lambda w: nn.l2_penalty(0.1, w))(w32)
    assert value.dtype == np.float32 and grad.dtype == np.float32
    d_reg = vjpnet.grad(lambda reg: nn.l2_penalty(reg, *weights))(0.3)
    assert d_reg == pytest.approx(want / 0.3, rel=1e-14)
    with pytest.raises(TypeError, match=r"l2_penalty: weights\[1\] must be a float array, "
                                        "got int64"):
        nn.l2_penalty(0.1, weights[0], np.arange(3))
    with pytest.raises(TypeError, match=r"weights\[0\] must be a float array, got list"):
        nn.l2_penalty(0.1, [1.0, 2.0])


def test_switch_default_and_force_fast(monkeypatch):
    monkeypatch.delenv("VJPNET_NAIVE", raising=False)
    fast = layer_utils.fast_kernels()
    assert layer_utils.select_kernels().name == ("naive" if fast is None else "fast")
    monkeypatch.setenv("VJPNET_NAIVE", "0")
    if fast is None:
        with pytest.raises(ImportError, match="VJPNET_NAIVE=0.*build_ext --inplace"):
            layer_utils.select_kernels()
    else:
        assert layer_utils.select_kernels() is fast


def test_switch_rejects_other_values(monkeypatch):
    monkeypatch.setenv("VJPNET_NAIVE", "yes")
    with pytest.raises(ValueError, match="VJPNET_NAIVE must be '1'.*'0'.*got 'yes'"):
        nn.conv2d(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 1, 1)), np.zeros(1),
                  {"stride": 1, "pad": 0})


# ---------------------------------------------------------------------------------------------
# Errors come through the ops unchanged; labels are not differentiable.

def test_op_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"conv_forward_\w+: \(H \+ 2\*pad - HH\) = 7"):
        vjpnet.grad(lambda x: np.sum(nn.conv2d(x, np.zeros((4, 3, 1, 2)), np.zeros(4),
                                               {"stride": 2, "pad": 1})))(np.zeros((2, 3, 6, 6)))
    with pytest.raises(ValueError, match=r"softmax_loss: labels must lie in \[0, C\) = \[0, 3\)"):
        vjpnet.grad(nn.softmax_loss)(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match=r"affine_forward: prod\(x.shape\[1:\]\) = 6"):
        vjpnet.grad(lambda x: np.sum(nn.affine(x, np.zeros((5, 2)), np.zeros(2))))(
            np.zeros((2, 3, 2)))
