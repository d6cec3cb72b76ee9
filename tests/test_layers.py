"""vjpnet.layers / layer_utils beyond the notebook cells: the two-layer net written three ways,
the max-pool tie rule, brute-force references, dtypes, and every bad-input error."""
import re

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vjpnet.gradient_check import eval_numerical_gradient_array
from vjpnet.layer_utils import (affine_relu_backward, affine_relu_forward, conv_relu_backward,
                                conv_relu_forward, conv_relu_pool_backward,
                                conv_relu_pool_forward)
from vjpnet.layers import (affine_backward, affine_forward, conv_backward_naive,
                           conv_forward_naive, max_pool_backward_naive, max_pool_forward_naive,
                           relu_backward, relu_forward, softmax_loss, svm_loss)


# ---------------------------------------------------------------------------------------------
# The two-layer net of the notebook's first cell, three ways.

REG = 0.1


def two_layer_net_monolithic(X, W1, b1, W2, b2, y, reg):
    """Everything written out by hand in one function."""
    N = X.shape[0]
    X_flat = X.reshape(N, -1)
    s1 = X_flat.dot(W1) + b1
    a1 = np.maximum(0, s1)
    scores = a1.dot(W2) + b2
    rows = np.arange(N)
    margins = np.maximum(0, scores - scores[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = margins.sum() / N + 0.5 * reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    dscores = (margins > 0).astype(scores.dtype)
    dscores[rows, y] = -dscores.sum(axis=1)
    dscores /= N
    dW2 = a1.T.dot(dscores) + reg * W2
    db2 = dscores.sum(axis=0)
    ds1 = dscores.dot(W2.T) * (s1 > 0)
    dW1 = X_flat.T.dot(ds1) + reg * W1
    db1 = ds1.sum(axis=0)
    dX = ds1.dot(W1.T).reshape(X.shape)
    return loss, dX, dW1, db1, dW2, db2


def two_layer_net_modular(X, W1, b1, W2, b2, y, reg):
    """The notebook's first cell, with the regularization it leaves out."""
    s1, fc1_cache = affine_forward(X, W1, b1)
    a1, relu_cache = relu_forward(s1)
    scores, fc2_cache = affine_forward(a1, W2, b2)
    data_loss, dscores = svm_loss(scores, y)
    da1, dW2, db2 = affine_backward(dscores, fc2_cache)
    ds1 = relu_backward(da1, relu_cache)
    dX, dW1, db1 = affine_backward(ds1, fc1_cache)
    loss = data_loss + 0.5 * reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    return loss, dX, dW1 + reg * W1, db1, dW2 + reg * W2, db2


def two_layer_net_grad(X, W1, b1, W2, b2, y, reg):
    """vjpnet.grad of a loss built from vjpnet.nn ops plus plain-NumPy regularization."""
    import vjpnet
    from vjpnet import nn

    def loss_fn(params):
        a1 = nn.relu(nn.affine(params["X"], params["W1"], params["b1"]))
        scores = nn.affine(a1, params["W2"], params["b2"])
        return nn.svm_loss(scores, y) + 0.5 * reg * (np.sum(params["W1"] ** 2)
                                                     + np.sum(params["W2"] ** 2))

    params = dict(X=X, W1=W1, b1=b1, W2=W2, b2=b2)
    loss, grads = vjpnet.value_and_grad(loss_fn)(params)
    return loss, grads["X"], grads["W1"], grads["b1"], grads["W2"], grads["b2"]


def two_layer_inputs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((7, 3, 4))
    W1 = 0.5 * rng.standard_normal((12, 10))
    b1 = 0.1 * rng.standard_normal(10)
    W2 = 0.5 * rng.standard_normal((10, 6))
    b2 = 0.1 * rng.standard_normal(6)
    y = rng.integers(6, size=7)
    return X, W1, b1, W2, b2, y, REG


@pytest.mark.parametrize("implementation", [two_layer_net_modular, two_layer_net_grad],
                         ids=["modular", "vjpnet.grad"])
def test_two_layer_net_three_ways_agree(implementation):
    inputs = two_layer_inputs()
    expected = two_layer_net_monolithic(*inputs)
    got = implementation(*inputs)
    assert abs(float(got[0]) - expected[0]) <= 1e-10
    for name, g, e in zip(["dX", "dW1", "db1", "dW2", "db2"], got[1:], expected[1:]):
        assert g.shape == e.shape, name
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10, err_msg=name)


# ---------------------------------------------------------------------------------------------
# Brute-force references.

def conv_reference(x, w, b, stride, pad):
    """Direct six-fold loop, written independently of the layer."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out, W_out = (H + 2 * pad - HH) // stride + 1, (W + 2 * pad - WW) // stride + 1
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for r in range(H_out):
                for c in range(W_out):
                    window = xp[n, :, r * stride:r * stride + HH, c * stride:c * stride + WW]
                    out[n, f, r, c] = np.sum(window * w[f]) + b[f]
    return out


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", [
    ((2, 3, 7, 9), (4, 3, 3, 5), 2, 2),
    ((1, 2, 5, 5), (3, 2, 1, 1), 1, 0),
    ((2, 1, 6, 4), (2, 1, 2, 2), 2, 0),
    ((1, 2, 3, 3), (2, 2, 3, 3), 1, 3),
])
def test_conv_forward_matches_direct_loop(x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(x_shape), rng.standard_normal(w_shape),
               rng.standard_normal(w_shape[0]))
    out, _ = conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})
    np.testing.assert_allclose(out, conv_reference(x, w, b, stride, pad), rtol=1e-12,
                               atol=1e-12)


def test_conv_backward_rectangular_strided_padded_matches_numeric():
    rng = np.random.default_rng(2)
    x, w, b = (rng.standard_normal((2, 3, 7, 9)), rng.standard_normal((4, 3, 3, 5)),
               rng.standard_normal(4))
    conv_param = {"stride": 2, "pad": 2}
    out, cache = conv_forward_naive(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward_naive(dout, cache)
    forward = lambda: conv_forward_naive(x, w, b, conv_param)[0]
    # elementwise: an entry of a gradient near zero makes rel_error noisy
    for analytic, param in [(dx, x), (dw, w), (db, b)]:
        numeric = eval_numerical_gradient_array(lambda _: forward(), param, dout)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-7, atol=1e-8)


def pool_reference(x, PH, PW, stride):
    N, C, H, W = x.shape
    H_out, W_out = (H - PH) // stride + 1, (W - PW) // stride + 1
    out = np.zeros((N, C, H_out, W_out))
    dx_first_max = np.zeros((N, C, H_out, W_out, H, W))
    for n in range(N):
        for c in range(C):
            for r in range(H_out):
                for s in range(W_out):
                    window = x[n, c, r * stride:r * stride + PH, s * stride:s * stride + PW]
                    out[n, c, r, s] = window.max()
                    i, j = np.unravel_index(np.argmax(window), window.shape)
                    dx_first_max[n, c, r, s, r * stride + i, s * stride + j] = 1
    return out, dx_first_max


@pytest.mark.parametrize("x_shape, PH, PW, stride", [
    ((2, 3, 8, 8), 2, 2, 2), ((1, 2, 7, 5), 3, 3, 1), ((2, 1, 7, 9), 3, 1, 2),
    ((1, 1, 4, 4), 4, 4, 3),
])
def test_max_pool_matches_direct_loop(x_shape, PH, PW, stride):
    rng = np.random.default_rng(3)
    # rounded values: many ties, including across overlapping windows
    x = np.round(rng.standard_normal(x_shape), 0)
    pool_param = {"pool_height": PH, "pool_width": PW, "stride": stride}
    out, cache = max_pool_forward_naive(x, pool_param)
    expected_out, routing = pool_reference(x, PH, PW, stride)
    np.testing.assert_array_equal(out, expected_out)
    dout = rng.standard_normal(out.shape)
    dx = max_pool_backward_naive(dout, cache)
    np.testing.assert_allclose(dx, np.einsum("ncrs,ncrshw->nchw", dout, routing), atol=1e-14)


def test_max_pool_tie_rule_first_maximum_in_row_major_order():
    # one 2x2 window with all four values equal: the top-left element gets the gradient
    x = np.full((1, 1, 2, 2), 3.0)
    out, cache = max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = max_pool_backward_naive(np.array([[[[5.0]]]]), cache)
    np.testing.assert_array_equal(dx[0, 0], [[5.0, 0.0], [0.0, 0.0]])
    # ties at (0, 1) and (1, 0): (0, 1) comes first in row-major order
    x = np.array([[[[0.0, 7.0], [7.0, 1.0]]]])
    dx = max_pool_backward_naive(np.ones((1, 1, 1, 1)), max_pool_forward_naive(
        x, {"pool_height": 2, "pool_width": 2, "stride": 2})[1])
    np.testing.assert_array_equal(dx[0, 0], [[0.0, 1.0], [0.0, 0.0]])
    # overlapping windows on a constant input: every window routes to its own top-left corner
    # and the contributions accumulate
    x = np.zeros((1, 1, 3, 3))
    dout = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    _, cache = max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 1})
    dx = max_pool_backward_naive(dout, cache)
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 0], [3, 4, 0], [0, 0, 0]])
    # overlapping windows sharing the same maximum accumulate into it
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0
    _, cache = max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 1})
    dx = max_pool_backward_naive(dout, cache)
    np.testing.assert_array_equal(dx[0, 0], [[0, 0, 0], [0, 10, 0], [0, 0, 0]])


@settings(max_examples=40, deadline=None)
@given(N=st.integers(1, 2), C=st.integers(1, 3), F=st.integers(1, 3), HH=st.integers(1, 4),
       WW=st.integers(1, 4), stride=st.integers(1, 3), pad=st.integers(0, 2),
       H_steps=st.integers(0, 3), W_steps=st.integers(0, 3), seed=st.integers(0, 2 ** 16))
def test_conv_any_valid_geometry_matches_direct_loop(N, C, F, HH, WW, stride, pad, H_steps,
                                                     W_steps, seed):
    # build H, W so that (H + 2*pad - HH) is a non-negative multiple of stride
    H = max(HH + H_steps * stride - 2 * pad, 1)
    W = max(WW + W_steps * stride - 2 * pad, 1)
    assume((H + 2 * pad - HH) >= 0 and (H + 2 * pad - HH) % stride == 0)
    assume((W + 2 * pad - WW) >= 0 and (W + 2 * pad - WW) % stride == 0)
    rng = np.random.default_rng(seed)
    x, w, b = (rng.standard_normal((N, C, H, W)), rng.standard_normal((F, C, HH, WW)),
               rng.standard_normal(F))
    conv_param = {"stride": stride, "pad": pad}
    out, cache = conv_forward_naive(x, w, b, conv_param)
    np.testing.assert_allclose(out, conv_reference(x, w, b, stride, pad), rtol=1e-12,
                               atol=1e-12)
    # the backward is the adjoint of the (linear in x and in w) forward: <dout, conv(x)> tests
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward_naive(dout, cache)
    bias_free = conv_forward_naive(x, w, np.zeros(F), conv_param)[0]
    np.testing.assert_allclose(np.sum(dx * x), np.sum(dout * bias_free), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.sum(dw * w), np.sum(dout * bias_free), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)), rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(PH=st.integers(1, 3), PW=st.integers(1, 3), stride=st.integers(1, 3),
       H_steps=st.integers(0, 3), W_steps=st.integers(0, 3), seed=st.integers(0, 2 ** 16))
def test_max_pool_any_valid_geometry_matches_direct_loop(PH, PW, stride, H_steps, W_steps,
                                                         seed):
    rng = np.random.default_rng(seed)
    x = np.round(rng.standard_normal((2, 2, PH + H_steps * stride, PW + W_steps * stride)))
    out, cache = max_pool_forward_naive(x, {"pool_height": PH, "pool_width": PW,
                                            "stride": stride})
    expected_out, routing = pool_reference(x, PH, PW, stride)
    np.testing.assert_array_equal(out, expected_out)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(max_pool_backward_naive(dout, cache),
                               np.einsum("ncrs,ncrshw->nchw", dout, routing), atol=1e-14)


def test_non_contiguous_inputs_give_the_same_results():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 6, 6, 3)).transpose(0, 3, 1, 2)     # (2, 3, 6, 6) view
    w = rng.standard_normal((3, 2, 2, 3)).transpose(0, 3, 1, 2)[:, :, :, ::-1]
    b = rng.standard_normal(6)[::2]
    assert not (x.flags.c_contiguous or w.flags.c_contiguous or b.flags.c_contiguous)
    conv_param = {"stride": 1, "pad": 1}
    out, cache = conv_forward_naive(x, w, b, conv_param)
    copies = [np.ascontiguousarray(a) for a in (x, w, b)]
    out_copy, cache_copy = conv_forward_naive(*copies, conv_param)
    np.testing.assert_array_equal(out, out_copy)
    dout = rng.standard_normal(out.shape)[:, :, :, ::-1]
    for got, want in zip(conv_backward_naive(dout, cache),
                         conv_backward_naive(np.ascontiguousarray(dout), cache_copy)):
        np.testing.assert_array_equal(got, want)
    pool_param = {"pool_height": 2, "pool_width": 3, "stride": 1}
    out, cache = max_pool_forward_naive(x, pool_param)
    np.testing.assert_array_equal(out, max_pool_forward_naive(copies[0], pool_param)[0])
    xa = rng.standard_normal((5, 2, 4))[::2]
    wa = rng.standard_normal((5, 8)).T
    np.testing.assert_allclose(affine_forward(xa, wa, np.zeros(5))[0],
                               np.ascontiguousarray(xa).reshape(3, 8) @ wa, rtol=1e-14)


def test_max_pool_propagates_nan_like_np_max():
    x = np.array([[[[1.0, np.nan, 3.0, 2.0], [0.0, np.nan, 1.0, 5.0]]]])
    out, cache = max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    np.testing.assert_array_equal(out, [[[[np.nan, 5.0]]]])
    dx = max_pool_backward_naive(np.array([[[[2.0, 3.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[0, 2.0, 0, 0], [0, 0, 0, 3.0]]]])


# ---------------------------------------------------------------------------------------------
# dtypes: float32 in, float32 out, float32 gradients.

def test_float32_preserved_through_every_layer():
    rng = np.random.default_rng(4)
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)
    x, w, b = f32(2, 3, 4), f32(12, 5), f32(5)
    out, cache = affine_forward(x, w, b)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in affine_backward(f32(2, 5), cache))
    out, cache = relu_forward(x)
    assert out.dtype == np.float32 and relu_backward(f32(2, 3, 4), cache).dtype == np.float32
    scores, y = f32(4, 3), np.array([0, 2, 1, 1])
    for loss_function in (svm_loss, softmax_loss):
        loss, dx = loss_function(scores, y)
        assert np.asarray(loss).dtype == np.float32 and dx.dtype == np.float32
    x, w, b = f32(2, 3, 6, 6), f32(4, 3, 3, 3), f32(4)
    out, cache = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in conv_backward_naive(f32(*out.shape), cache))
    out, cache = max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert out.dtype == np.float32
    assert max_pool_backward_naive(f32(*out.shape), cache).dtype == np.float32


def test_sandwiches_match_their_parts():
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((2, 3, 8, 8)), rng.standard_normal((3, 3, 3, 3)), \
        rng.standard_normal(3)
    conv_param = {"stride": 1, "pad": 1}
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    a, conv_cache = conv_forward_naive(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    expected, pool_cache = max_pool_forward_naive(s, pool_param)
    out, cache = conv_relu_pool_forward(x, w, b, conv_param, pool_param)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    expected_grads = conv_backward_naive(
        relu_backward(max_pool_backward_naive(dout, pool_cache), relu_cache), conv_cache)
    for got, want in zip(conv_relu_pool_backward(dout, cache), expected_grads):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    out, cache = conv_relu_forward(x, w, b, conv_param)
    np.testing.assert_allclose(out, s, rtol=1e-12, atol=1e-12)
    dout = rng.standard_normal(out.shape)
    expected_grads = conv_backward_naive(relu_backward(dout, relu_cache), conv_cache)
    for got, want in zip(conv_relu_backward(dout, cache), expected_grads):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    x, w, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((12, 10)), \
        rng.standard_normal(10)
    out, cache = affine_relu_forward(x, w, b)
    np.testing.assert_array_equal(out, np.maximum(0, x.reshape(2, 12).dot(w) + b))
    dx, dw, db = affine_relu_backward(np.ones((2, 10)), cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape


# ---------------------------------------------------------------------------------------------
# Bad input: the exception type, and a message naming the function and the shapes.

def raises(exception, *fragments):
    """pytest.raises whose message must contain every fragment (plain substrings)."""
    return pytest.raises(exception, match="(?s)" + "".join(
        f"(?=.*{re.escape(fragment)})" for fragment in fragments))


X4 = np.zeros((2, 3, 6, 6))
W4 = np.zeros((4, 3, 2, 2))
B4 = np.zeros(4)


def test_conv_stride_does_not_divide_height():
    with raises(ValueError, "conv_forward_naive", "(H + 2*pad - HH) = 7",
                "not divisible by stride = 2", "x.shape=(2, 3, 6, 6)", "w.shape=(4, 3, 1, 2)"):
        conv_forward_naive(X4, np.zeros((4, 3, 1, 2)), B4, {"stride": 2, "pad": 1})


def test_conv_stride_does_not_divide_width():
    with raises(ValueError, "conv_forward_naive", "(W + 2*pad - WW) = 5",
                "not divisible by stride = 2", "x.shape=(2, 3, 6, 6)", "w.shape=(4, 3, 2, 3)"):
        conv_forward_naive(X4, np.zeros((4, 3, 2, 3)), B4, {"stride": 2, "pad": 1})


def test_conv_filter_larger_than_padded_input():
    with raises(ValueError, "conv_forward_naive", "larger than the padded input",
                "x.shape=(2, 3, 6, 6)", "w.shape=(4, 3, 9, 2)"):
        conv_forward_naive(X4, np.zeros((4, 3, 9, 2)), B4, {"stride": 1, "pad": 1})


def test_conv_filter_channels_differ_from_input_channels():
    with raises(ValueError, "conv_forward_naive", "w.shape[1] = 2", "x.shape[1] = 3",
                "x.shape=(2, 3, 6, 6)", "w.shape=(4, 2, 2, 2)"):
        conv_forward_naive(X4, np.zeros((4, 2, 2, 2)), B4, {"stride": 1, "pad": 0})


@pytest.mark.parametrize("x, w, name, shape", [
    (np.zeros((3, 6, 6)), W4, "x", "x.shape=(3, 6, 6)"),
    (X4, np.zeros((4, 3, 2)), "w", "w.shape=(4, 3, 2)"),
])
def test_conv_wrong_ndim(x, w, name, shape):
    with raises(ValueError, "conv_forward_naive", f"{name} must be 4-D", shape):
        conv_forward_naive(x, w, B4, {"stride": 1, "pad": 0})


def test_conv_bias_wrong_shape():
    with raises(ValueError, "conv_forward_naive", "b.shape=(3,)", "(F,) = (4,)"):
        conv_forward_naive(X4, W4, np.zeros(3), {"stride": 1, "pad": 0})


@pytest.mark.parametrize("stride", [0, -1])
def test_conv_stride_not_positive(stride):
    with raises(ValueError, "conv_forward_naive", "conv_param['stride'] must be > 0",
                f"got {stride}"):
        conv_forward_naive(X4, W4, B4, {"stride": stride, "pad": 0})


def test_conv_negative_pad():
    with raises(ValueError, "conv_forward_naive", "conv_param['pad'] must be >= 0", "got -1"):
        conv_forward_naive(X4, W4, B4, {"stride": 1, "pad": -1})


def test_conv_non_integer_stride_and_missing_key():
    with raises(TypeError, "conv_forward_naive", "conv_param['stride'] must be an integer",
                "1.5"):
        conv_forward_naive(X4, W4, B4, {"stride": 1.5, "pad": 0})
    with raises(ValueError, "conv_forward_naive", "missing the key 'pad'"):
        conv_forward_naive(X4, W4, B4, {"stride": 1})


def test_conv_mixed_or_integer_dtypes():
    with raises(TypeError, "conv_forward_naive", "x.dtype=float32", "w.dtype=float64"):
        conv_forward_naive(X4.astype(np.float32), W4, B4, {"stride": 1, "pad": 0})
    with raises(TypeError, "conv_forward_naive", "b must be float32 or float64",
                "b.dtype=int64"):
        conv_forward_naive(X4, W4, np.zeros(4, dtype=np.int64), {"stride": 1, "pad": 0})


def test_pool_window_larger_than_input():
    with raises(ValueError, "max_pool_forward_naive", "window 7x2 is larger than the input 6x6",
                "x.shape=(2, 3, 6, 6)"):
        max_pool_forward_naive(X4, {"pool_height": 7, "pool_width": 2, "stride": 1})


def test_pool_stride_does_not_divide():
    with raises(ValueError, "max_pool_forward_naive", "(H - pool_height) = 3",
                "not divisible by stride = 2", "x.shape=(2, 3, 6, 6)"):
        max_pool_forward_naive(X4, {"pool_height": 3, "pool_width": 2, "stride": 2})


@pytest.mark.parametrize("stride", [0, -2])
def test_pool_stride_not_positive(stride):
    with raises(ValueError, "max_pool_forward_naive", "pool_param['stride'] must be > 0"):
        max_pool_forward_naive(X4, {"pool_height": 2, "pool_width": 2, "stride": stride})


def test_pool_wrong_ndim():
    with raises(ValueError, "max_pool_forward_naive", "x must be 4-D", "x.shape=(6, 6)"):
        max_pool_forward_naive(np.zeros((6, 6)), {"pool_height": 2, "pool_width": 2,
                                                  "stride": 2})


def test_affine_feature_count_mismatch():
    with raises(ValueError, "affine_forward", "prod(x.shape[1:]) = 12", "w.shape[0] = 10",
                "x.shape=(2, 3, 4)", "w.shape=(10, 5)"):
        affine_forward(np.zeros((2, 3, 4)), np.zeros((10, 5)), np.zeros(5))


def test_affine_bias_and_ndim():
    with raises(ValueError, "affine_forward", "b.shape=(4,)", "(M,) = (5,)"):
        affine_forward(np.zeros((2, 3, 4)), np.zeros((12, 5)), np.zeros(4))
    with raises(ValueError, "affine_forward", "w must be 2-D", "w.shape=(12,)"):
        affine_forward(np.zeros((2, 3, 4)), np.zeros(12), np.zeros(5))
    with raises(ValueError, "affine_forward", "x.shape=(12,)"):
        affine_forward(np.zeros(12), np.zeros((12, 5)), np.zeros(5))


SCORES = np.zeros((4, 3))


@pytest.mark.parametrize("loss_function", [svm_loss, softmax_loss])
def test_labels_wrong_length(loss_function):
    with raises(ValueError, loss_function.__name__, "y.shape=(5,)", "(N,) = (4,)"):
        loss_function(SCORES, np.array([0, 1, 2, 0, 1]))


@pytest.mark.parametrize("loss_function", [svm_loss, softmax_loss])
@pytest.mark.parametrize("labels, bad", [([0, 1, 3, 0], "[3]"), ([0, -1, 2, 0], "[-1]")])
def test_labels_out_of_range(loss_function, labels, bad):
    with raises(ValueError, loss_function.__name__, "[0, C) = [0, 3)", bad):
        loss_function(SCORES, np.array(labels))


@pytest.mark.parametrize("loss_function", [svm_loss, softmax_loss])
def test_labels_not_integers(loss_function):
    with raises(TypeError, loss_function.__name__, "integer", "y.dtype=float64"):
        loss_function(SCORES, np.array([0.0, 1.0, 2.0, 0.0]))
    with raises(TypeError, loss_function.__name__, "list"):
        loss_function(SCORES, [0, 1, 2, 0])


@pytest.mark.parametrize("loss_function", [svm_loss, softmax_loss])
def test_scores_wrong_ndim(loss_function):
    with raises(ValueError, loss_function.__name__, "x must be 2-D", "x.shape=(4, 3, 1)"):
        loss_function(np.zeros((4, 3, 1)), np.array([0, 1, 2, 0]))


def test_backward_with_wrong_dout_shape():
    x = np.random.default_rng(6).standard_normal((2, 3, 6, 6))
    _, cache = affine_forward(x, np.zeros((108, 5)), np.zeros(5))
    with raises(ValueError, "affine_backward", "(2, 5)", "dout.shape=(2, 4)"):
        affine_backward(np.zeros((2, 4)), cache)
    _, cache = relu_forward(x)
    with raises(ValueError, "relu_backward", "(2, 3, 6, 6)", "dout.shape=(2, 3, 6)"):
        relu_backward(np.zeros((2, 3, 6)), cache)
    _, cache = conv_forward_naive(x, W4, B4, {"stride": 1, "pad": 0})
    with raises(ValueError, "conv_backward_naive", "(2, 4, 5, 5)", "dout.shape=(2, 4, 6, 6)"):
        conv_backward_naive(np.zeros((2, 4, 6, 6)), cache)
    _, cache = max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    with raises(ValueError, "max_pool_backward_naive", "(2, 3, 3, 3)",
                "dout.shape=(2, 3, 3, 2)"):
        max_pool_backward_naive(np.zeros((2, 3, 3, 2)), cache)
    _, cache = affine_relu_forward(x, np.zeros((108, 5)), np.zeros(5))
    with raises(ValueError, "relu_backward", "dout.shape=(5,)"):
        affine_relu_backward(np.zeros(5), cache)
