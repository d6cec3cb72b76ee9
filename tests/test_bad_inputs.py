"""Bad and unusual input for every layer and kernel, table-driven.

The layers (naive and fast kernels, the sandwich layers, the differentiable nn ops) are one
table of `Layer`s that build their own inputs for given sizes and run forward and backward.
Each test below walks the table with one kind of input: empty batches, zero channels, zero
filters, read-only and non-contiguous arrays, NaN and inf, huge or invalid parameters, wrong
dtypes and wrong dimensions. Valid-but-odd input must give the right answer; bad input a
clear error naming the op and the argument; a NaN input NaN exactly where the math says.
"""
import contextlib
import os
from typing import Callable, NamedTuple

import numpy as np
import pytest

import vjpnet
from vjpnet import layer_utils, layers, nn

try:
    import vjpnet_fast
except ImportError:   # not built: the fast rows are skipped
    vjpnet_fast = None

CONV = {"stride": 1, "pad": 1}
POOL = {"pool_height": 2, "pool_width": 2, "stride": 2}


class Layer(NamedTuple):
    """name; family (which sizes mean what); make(rng, N, C, F, dtype) -> (float inputs,
    params); run(inputs, params, make_dout) -> (out, gradients of the inputs)."""
    name: str
    family: str
    make: Callable
    run: Callable
    fast: bool = False


# --- inputs of each family --------------------------------------------------------------------

def _normal(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def make_conv(rng, N, C, F, dtype, size=5):
    return ([_normal(rng, (N, C, size, size), dtype), _normal(rng, (F, C, 3, 3), dtype),
             _normal(rng, (F,), dtype)], (dict(CONV),))


def make_conv_pool(rng, N, C, F, dtype):
    inputs, (conv_param,) = make_conv(rng, N, C, F, dtype, size=4)
    return inputs, (conv_param, dict(POOL))


def make_conv_bn(rng, N, C, F, dtype):
    inputs, params = make_conv(rng, N, C, F, dtype)
    return inputs + [1.0 + _normal(rng, (F,), dtype), _normal(rng, (F,), dtype)], \
        params + ({"mode": "train"},)


def make_pool(rng, N, C, F, dtype):
    return [_normal(rng, (N, C, 4, 4), dtype)], (dict(POOL),)


def make_affine(rng, N, C, F, dtype):
    return [_normal(rng, (N, 2, 3), dtype), _normal(rng, (6, 4), dtype),
            _normal(rng, (4,), dtype)], ()


def make_elementwise(rng, N, C, F, dtype):
    return [_normal(rng, (N, C, 3), dtype)], ()


def make_loss(rng, N, C, F, dtype):
    return [_normal(rng, (N, C), dtype)], (rng.integers(C, size=N) if C else np.zeros(N, int),)


def make_batchnorm(rng, N, C, F, dtype):
    return [_normal(rng, (N, C), dtype), 1.0 + _normal(rng, (C,), dtype),
            _normal(rng, (C,), dtype)], ({"mode": "train"},)


def make_spatial_batchnorm(rng, N, C, F, dtype):
    inputs, params = make_batchnorm(rng, N, C, F, dtype)
    return [_normal(rng, (N, C, 3, 2), dtype)] + inputs[1:], params


def make_dropout(rng, N, C, F, dtype):
    return [_normal(rng, (N, C, 3), dtype)], ({"mode": "train", "p": 0.3, "seed": 0},)


# --- how each kind of layer runs ----------------------------------------------------------------

@contextlib.contextmanager
def kernels(choice):
    """VJPNET_NAIVE set to `choice` ('1' naive, '0' fast) meanwhile."""
    saved = os.environ.get("VJPNET_NAIVE")
    os.environ["VJPNET_NAIVE"] = choice
    try:
        yield
    finally:
        if saved is None:
            del os.environ["VJPNET_NAIVE"]
        else:
            os.environ["VJPNET_NAIVE"] = saved


def pair(forward, backward, choice=None):
    """A forward/backward layer pair (a sandwich layer when `choice` picks its kernels)."""
    def run(inputs, params, make_dout):
        with kernels(choice) if choice else contextlib.nullcontext():
            out, cache = forward(*inputs, *params)
            gradients = backward(make_dout(out), cache)
        return out, gradients if isinstance(gradients, tuple) else (gradients,)
    return run


def loss_pair(function):
    def run(inputs, params, make_dout):
        loss, dx = function(*inputs, *params)
        return loss, (dx,)
    return run


def op(function, choice=None):
    """A differentiable nn op under vjpnet.vjp."""
    def run(inputs, params, make_dout):
        with kernels(choice) if choice else contextlib.nullcontext():
            out, vjp_fn = vjpnet.vjp(lambda *xs: function(*xs, *params), *inputs)
            gradients = vjp_fn(make_dout(out))
        return out, tuple(gradients)
    return run


def _table():
    rows = [
        Layer("conv_naive", "conv", make_conv,
              pair(layers.conv_forward_naive, layers.conv_backward_naive)),
        Layer("pool_naive", "pool", make_pool,
              pair(layers.max_pool_forward_naive, layers.max_pool_backward_naive)),
        Layer("affine", "affine", make_affine, pair(layers.affine_forward, layers.affine_backward)),
        Layer("relu", "elementwise", make_elementwise,
              pair(layers.relu_forward, layers.relu_backward)),
        Layer("softmax_loss", "loss", make_loss, loss_pair(layers.softmax_loss)),
        Layer("svm_loss", "loss", make_loss, loss_pair(layers.svm_loss)),
        Layer("batchnorm", "batchnorm", make_batchnorm,
              pair(layers.batchnorm_forward, layers.batchnorm_backward)),
        Layer("batchnorm_alt", "batchnorm", make_batchnorm,
              pair(layers.batchnorm_forward, layers.batchnorm_backward_alt)),
        Layer("spatial_batchnorm", "spatial_batchnorm", make_spatial_batchnorm,
              pair(layers.spatial_batchnorm_forward, layers.spatial_batchnorm_backward)),
        Layer("dropout", "dropout", make_dropout,
              pair(layers.dropout_forward, layers.dropout_backward)),
        Layer("affine_relu", "affine", make_affine,
              pair(layer_utils.affine_relu_forward, layer_utils.affine_relu_backward)),
        Layer("nn.affine", "affine", make_affine, op(nn.affine)),
        Layer("nn.relu", "elementwise", make_elementwise, op(nn.relu)),
        Layer("nn.softmax_loss", "loss", make_loss, op(nn.softmax_loss)),
        Layer("nn.svm_loss", "loss", make_loss, op(nn.svm_loss)),
        Layer("nn.batchnorm", "batchnorm", make_batchnorm, op(nn.batchnorm)),
        Layer("nn.spatial_batchnorm", "spatial_batchnorm", make_spatial_batchnorm,
              op(nn.spatial_batchnorm)),
        Layer("nn.dropout", "dropout", make_dropout, op(nn.dropout)),
    ]
    for choice, label in (("1", "naive"), ("0", "fast")):
        fast = choice == "0"
        rows += [
            Layer(f"conv_relu_{label}", "conv", make_conv,
                  pair(layer_utils.conv_relu_forward, layer_utils.conv_relu_backward, choice),
                  fast),
            Layer(f"conv_relu_pool_{label}", "conv_pool", make_conv_pool,
                  pair(layer_utils.conv_relu_pool_forward, layer_utils.conv_relu_pool_backward,
                       choice), fast),
            Layer(f"conv_bn_relu_{label}", "conv_bn", make_conv_bn,
                  pair(layer_utils.conv_bn_relu_forward, layer_utils.conv_bn_relu_backward,
                       choice), fast),
            Layer(f"nn.conv2d_{label}", "conv", make_conv, op(nn.conv2d, choice), fast),
            Layer(f"nn.max_pool2d_{label}", "pool", make_pool, op(nn.max_pool2d, choice), fast),
        ]
    if vjpnet_fast is not None:
        rows += [
            Layer("conv_fast", "conv", make_conv,
                  pair(vjpnet_fast.conv_forward_fast, vjpnet_fast.conv_backward_fast), True),
            Layer("pool_fast", "pool", make_pool,
                  pair(vjpnet_fast.max_pool_forward_fast, vjpnet_fast.max_pool_backward_fast),
                  True),
            Layer("conv2d_fast", "conv", make_conv, op(vjpnet_fast.conv2d_fast), True),
            Layer("max_pool2d_fast", "pool", make_pool, op(vjpnet_fast.max_pool2d_fast), True),
        ]
    return rows


LAYERS = _table()
IDS = [layer.name for layer in LAYERS]
FAMILIES_WITH_CHANNELS = {"conv", "conv_pool", "conv_bn", "pool", "elementwise",
                          "spatial_batchnorm", "dropout", "batchnorm"}
CONV_FAMILIES = {"conv", "conv_pool", "conv_bn"}


@pytest.fixture(autouse=True)
def _skip_fast_when_not_built(request):
    layer = request.node.callspec.params.get("layer") if hasattr(request.node, "callspec") \
        else None
    if layer is not None and layer.fast and vjpnet_fast is None:
        pytest.skip("vjpnet_fast is not built")


def _conv_call(name):
    if name == "conv_forward_naive":
        return layers.conv_forward_naive
    if name == "conv2d":
        return lambda *args: nn.conv2d(*args)
    if vjpnet_fast is None:
        pytest.skip("vjpnet_fast is not built")
    return vjpnet_fast.conv_forward_fast


CONV_NAMES = ["conv_forward_naive", "conv_forward_fast", "conv2d"]


def ones(out):
    return np.ones(np.shape(out), np.result_type(out))


def run(layer, N=2, C=3, F=4, dtype=np.float64, seed=0, transform=None, make_dout=ones):
    inputs, params = layer.make(np.random.default_rng(seed), N, C, F, dtype)
    if transform is not None:
        inputs = [transform(x) for x in inputs]
    return inputs, layer.run(inputs, params, make_dout)


def assert_gradients_match_inputs(inputs, gradients):
    assert len(gradients) >= len(inputs)
    for x, g in zip(inputs, gradients):
        assert g.shape == x.shape and g.dtype == x.dtype


# --- empty batches, zero channels, zero filters --------------------------------------------------

# layers that must reject an empty batch, and how
EMPTY_BATCH_ERRORS = {"loss": "the batch is empty", "batchnorm": "at least one sample",
                      "spatial_batchnorm": "at least one sample", "conv_bn": "at least one sample"}


@pytest.mark.parametrize("layer", LAYERS, ids=IDS)
def test_empty_batch(layer):
    if layer.family in EMPTY_BATCH_ERRORS:
        with pytest.raises(ValueError, match=EMPTY_BATCH_ERRORS[layer.family]):
            run(layer, N=0)
        return
    inputs, (out, gradients) = run(layer, N=0)
    assert out.shape[0] == 0
    assert_gradients_match_inputs(inputs, gradients)
    for g in gradients:
        assert not np.any(g)   # nothing flowed back: weights and biases get zeros


def test_affine_with_an_empty_batch_of_any_shape():
    for x_shape in [(0, 4), (0, 2, 2)]:
        x, w, b = np.zeros(x_shape), np.ones((4, 3)), np.ones(3)
        out, cache = layers.affine_forward(x, w, b)
        dx, dw, db = layers.affine_backward(np.zeros((0, 3)), cache)
        assert out.shape == (0, 3) and dx.shape == x_shape
        np.testing.assert_array_equal(dw, np.zeros((4, 3)))
        np.testing.assert_array_equal(db, np.zeros(3))
        gx, gw, gb = vjpnet.grad(lambda x, w, b: np.sum(nn.affine(x, w, b)),
                                 argnums=(0, 1, 2))(x, w, b)
        assert gx.shape == x_shape and not np.any(gw) and not np.any(gb)


@pytest.mark.parametrize("layer", [layer for layer in LAYERS
                                   if layer.family in FAMILIES_WITH_CHANNELS],
                         ids=[layer.name for layer in LAYERS
                              if layer.family in FAMILIES_WITH_CHANNELS])
def test_zero_channels(layer):
    douts = []

    def make_dout(out):
        douts.append(np.random.default_rng(1).standard_normal(np.shape(out)))
        return douts[-1]

    inputs, (out, gradients) = run(layer, C=0, make_dout=make_dout)
    assert_gradients_match_inputs(inputs, gradients)
    if layer.family in ("conv", "conv_bn"):
        x, w, b = inputs[:3]
        dx, dw, db = gradients[:3]
        assert dx.size == 0 and dw.size == 0
        if layer.family == "conv" and "relu" not in layer.name:
            np.testing.assert_allclose(out, np.broadcast_to(b[None, :, None, None], out.shape))
            np.testing.assert_allclose(db, douts[0].sum(axis=(0, 2, 3)), rtol=1e-12)
        else:
            assert np.any(db)   # the bias still reaches the output through the ReLU


@pytest.mark.parametrize("layer", [layer for layer in LAYERS if layer.family in CONV_FAMILIES],
                         ids=[layer.name for layer in LAYERS if layer.family in CONV_FAMILIES])
def test_zero_filters(layer):
    inputs, (out, gradients) = run(layer, F=0)
    assert out.shape[1] == 0
    assert_gradients_match_inputs(inputs, gradients)
    assert not np.any(gradients[0])


@pytest.mark.parametrize("path", ["naive", "chunked", "per_image"])
def test_conv_with_zero_input_channels_gives_the_bias_gradient(path, monkeypatch):
    """C = 0: the output is the bias, db = dout.sum(axis=(0, 2, 3)) (in both fast paths)."""
    rng = np.random.default_rng(3)
    x, w, b = np.zeros((2, 0, 5, 5)), np.zeros((3, 0, 3, 3)), rng.standard_normal(3)
    if path == "naive":
        forward, backward = layers.conv_forward_naive, layers.conv_backward_naive
    else:
        if vjpnet_fast is None:
            pytest.skip("vjpnet_fast is not built")
        from vjpnet_fast import conv as conv_module
        if path == "per_image" and not conv_module.PER_IMAGE:
            pytest.skip("no BLAS for the per-image kernels")
        monkeypatch.setattr(conv_module, "PER_IMAGE", path == "per_image")
        forward, backward = vjpnet_fast.conv_forward_fast, vjpnet_fast.conv_backward_fast
    out, cache = forward(x, w, b, {"stride": 1, "pad": 1})
    dout = rng.standard_normal(out.shape)
    dx, dw, db = backward(dout, cache)
    np.testing.assert_allclose(db, dout.sum(axis=(0, 2, 3)), rtol=1e-12)
    assert dx.shape == x.shape and dw.shape == w.shape


@pytest.mark.parametrize("x_shape", [(2, 3, 0, 4), (2, 3, 4, 0), (2, 3, 0, 0)])
def test_conv_of_an_input_with_no_pixels_sees_only_padding(x_shape):
    """H = 0 or W = 0 with pad 1 and 2x2 filters: one output row/column per side, the bias."""
    rng = np.random.default_rng(4)
    x, w, b = np.zeros(x_shape), rng.standard_normal((4, 3, 2, 2)), rng.standard_normal(4)
    results = []
    for name in CONV_NAMES[:2]:
        forward = _conv_call(name)
        backward = layers.conv_backward_naive if "naive" in name else \
            vjpnet_fast.conv_backward_fast
        out, cache = forward(x, w, b, {"stride": 1, "pad": 1})
        dout = np.random.default_rng(5).standard_normal(out.shape)
        results.append((out,) + backward(dout, cache))
        np.testing.assert_allclose(out, np.broadcast_to(b[:, None, None], out.shape))
        np.testing.assert_allclose(results[-1][3], dout.sum(axis=(0, 2, 3)))
        assert not np.any(results[-1][2])   # dw: only zeros were seen
    for naive, fast in zip(*results):
        np.testing.assert_allclose(fast, naive, rtol=1e-12)


# --- read-only and non-contiguous arrays ---------------------------------------------------------

def read_only(x):
    x = np.array(x)
    x.flags.writeable = False
    return x


def non_contiguous(x):
    """The same values in a non-contiguous layout (Fortran order, or every other element)."""
    if x.ndim >= 2:
        return np.asfortranarray(x)
    doubled = np.empty(x.shape[:-1] + (2 * x.shape[-1],) if x.ndim else (2,), x.dtype)
    doubled[..., ::2] = x
    return doubled[..., ::2] if x.ndim else doubled[0]


@pytest.mark.parametrize("layout", [read_only, non_contiguous])
@pytest.mark.parametrize("layer", LAYERS, ids=IDS)
def test_read_only_and_non_contiguous_inputs_and_dout(layer, layout):
    _, (out, gradients) = run(layer)
    _, (out2, gradients2) = run(layer, transform=layout, make_dout=lambda o: layout(ones(o)))
    np.testing.assert_allclose(out2, out, rtol=1e-12, atol=1e-12)
    for g, g2 in zip(gradients, gradients2):
        np.testing.assert_allclose(g2, g, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layer", [layer for layer in LAYERS if layer.name in
                                   ("conv_naive", "conv_fast", "pool_naive", "pool_fast")],
                         ids=lambda layer: layer.name)
def test_memory_mapped_read_only_arrays(layer, tmp_path):
    inputs, params = layer.make(np.random.default_rng(0), 2, 3, 4, np.float32)
    mapped = []
    for i, x in enumerate(inputs):
        np.save(tmp_path / f"{i}.npy", x)
        mapped.append(np.load(tmp_path / f"{i}.npy", mmap_mode="r"))
    out, gradients = layer.run(inputs, params, ones)
    out2, gradients2 = layer.run(mapped, params, lambda o: read_only(ones(o)))
    np.testing.assert_array_equal(out2, out)
    for g, g2 in zip(gradients, gradients2):
        np.testing.assert_array_equal(g2, g)


def test_fast_kernels_accept_read_only_buffers():
    if vjpnet_fast is None:
        pytest.skip("vjpnet_fast is not built")
    x = read_only(np.random.default_rng(0).standard_normal((2, 3, 4, 4)))
    out, index = np.empty((2, 3, 2, 2)), np.empty((2, 3, 2, 2), np.uint8)
    vjpnet_fast.max_pool_forward(x, 2, 2, 2, out, index)
    dx = np.empty_like(x)
    vjpnet_fast.max_pool_backward(read_only(out), read_only(index), 2, 2, 2, dx)
    columns = np.empty((27, 2 * 16))
    vjpnet_fast.im2col(x, 3, 3, 1, 1, 4, 4, columns)
    vjpnet_fast.col2im(read_only(columns), 3, 3, 1, 1, 4, 4, dx)


# --- NaN and inf ------------------------------------------------------------------------------

# Which results contain a NaN when input 0 (x) has one NaN: (out, gradient of each input).
# Linear layers: dx does not depend on x (finite), dw does (NaN); the bias gradient is dout's
# sum (finite). A max pool routes the gradient to the NaN (its maximum): finite. ReLU's
# derivative at NaN is NaN; so is everything after it in a sandwich.
NAN_EXPECTED = {
    "conv": (True, (False, True, False)),
    "pool": (True, (False,)),
    "affine": (True, (False, True, False)),
    "elementwise": (True, (True,)),
    "loss": (True, (True,)),
    "batchnorm": (True, (True, True, False)),
    "spatial_batchnorm": (True, (True, True, False)),
    "dropout": (True, (False,)),
    "affine_relu": (True, (True, True, True)),
    "conv_relu": (True, (True, True, True)),
    "conv_pool": (True, (True, True, True)),   # conv_relu_pool
    "conv_bn": (True, (True, True, True, True, True)),   # the ReLU after it passes NaN back
}


def _expected_nans(layer):
    for prefix in ("affine_relu", "conv_relu_pool", "conv_relu", "conv_bn"):
        if layer.name.startswith(prefix):
            return NAN_EXPECTED[prefix.replace("relu_pool", "pool").replace("conv_bn", "conv_bn")]
    return NAN_EXPECTED[layer.family]


def with_one(value):
    """A transform of the inputs that puts `value` into one element of the first (x)."""
    done = []

    def transform(x):
        if done or not x.size:
            return x
        done.append(True)
        x = x.copy()
        x.flat[x.size // 2 + 1] = value
        return x
    return transform


@pytest.mark.filterwarnings("ignore::RuntimeWarning")   # NumPy's, for NaN/inf arithmetic
@pytest.mark.parametrize("layer", LAYERS, ids=IDS)
def test_a_nan_input_gives_nan_where_the_math_says(layer):
    _, (out, gradients) = run(layer, transform=with_one(np.nan))
    out_nan, gradients_nan = _expected_nans(layer)
    assert np.isnan(out).any() == out_nan
    got = tuple(bool(np.isnan(g).any()) for g in gradients)
    assert got == gradients_nan, f"NaN in gradients {got}, expected {gradients_nan}"


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("layer", LAYERS, ids=IDS)
def test_inf_input_and_nan_dout_never_crash(layer):
    _, (out, gradients) = run(layer, transform=with_one(np.inf))
    if "svm" not in layer.name:   # an inf score at the label is a margin of -inf: finite loss
        assert not np.all(np.isfinite(out))
    if layer.family != "loss":
        def nan_dout(out):
            dout = ones(out)
            dout.flat[dout.size // 2] = np.nan
            return dout
        _, (out, gradients) = run(layer, make_dout=nan_dout)
        assert any(np.isnan(g).any() for g in gradients)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("family", ["conv", "pool"])
def test_fast_and_naive_kernels_agree_on_non_finite_values(family, value):
    if vjpnet_fast is None:
        pytest.skip("vjpnet_fast is not built")
    naive = next(layer for layer in LAYERS if layer.name == f"{family}_naive")
    fast = next(layer for layer in LAYERS if layer.name == f"{family}_fast")
    for make_dout in (ones, lambda o: np.where(np.arange(o.size).reshape(o.shape) == 5, value,
                                               1.0)):
        _, (out, gradients) = run(naive, transform=with_one(value), make_dout=make_dout)
        _, (out2, gradients2) = run(fast, transform=with_one(value), make_dout=make_dout)
        np.testing.assert_allclose(out2, out, rtol=1e-12)   # NaN and inf where the other has
        for g, g2 in zip(gradients, gradients2):
            np.testing.assert_allclose(g2, g, rtol=1e-12, atol=1e-12)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_losses_with_infinite_scores():
    x, y = np.zeros((3, 4)), np.array([0, 1, 2])
    x[1, 2] = -np.inf   # a class of probability 0 (softmax); a margin of -inf (svm)
    for loss_function in (layers.softmax_loss, layers.svm_loss):
        loss, dx = loss_function(x, y)
        assert np.isfinite(loss) and np.all(np.isfinite(dx)) and dx[1, 2] == 0.0
    x[1, 2] = np.inf    # an infinite hinge margin: loss inf, finite gradients
    loss, dx = layers.svm_loss(x, y)
    assert loss == np.inf and np.all(np.isfinite(dx))


def test_svm_nan_reaches_only_the_gradients_that_depend_on_it():
    x, y = np.zeros((2, 4)), np.array([0, 1])
    x[1, 2] = np.nan
    loss, dx = layers.svm_loss(x, y)
    assert np.isnan(loss)
    np.testing.assert_array_equal(np.isnan(dx), [[0, 0, 0, 0], [0, 1, 1, 0]])


# --- huge and invalid parameters ---------------------------------------------------------------

@pytest.mark.parametrize("name", CONV_NAMES)
@pytest.mark.parametrize("pad,size", [(10 ** 5, 200003), (10 ** 9, 2000000003)])
def test_a_huge_pad_names_the_parameter_and_the_output_size(name, pad, size):
    x, w, b = np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3)), np.ones(4)
    with pytest.raises(ValueError) as info:
        _conv_call(name)(x, w, b, {"stride": 1, "pad": pad})
    message = str(info.value)
    assert f"conv_param['pad'] = {pad}" in message
    assert f"output of shape (2, 4, {size}, {size})" in message
    assert "memory" in message and ("conv_forward" in message)


@pytest.mark.parametrize("name", CONV_NAMES)
@pytest.mark.parametrize("conv_param,error,match", [
    ({"stride": 10 ** 9, "pad": 1}, ValueError, "not divisible by stride = 1000000000"),
    ({"stride": 0, "pad": 1}, ValueError, r"conv_param\['stride'\] must be > 0"),
    ({"stride": -3, "pad": 1}, ValueError, r"conv_param\['stride'\] must be > 0"),
    ({"stride": 1, "pad": -1}, ValueError, r"conv_param\['pad'\] must be >= 0"),
    ({"stride": 1, "pad": -10 ** 9}, ValueError, r"conv_param\['pad'\] must be >= 0"),
    ({"stride": 1.0, "pad": 1}, TypeError, r"conv_param\['stride'\] must be an integer"),
    ({"stride": 1, "pad": True}, TypeError, r"conv_param\['pad'\] must be an integer"),
    ({"stride": 1, "pad": None}, TypeError, r"conv_param\['pad'\] must be an integer"),
    ({"stride": 1}, ValueError, "missing the key 'pad'"),
    ([1, 1], TypeError, "conv_param must be a dict"),
])
def test_invalid_conv_params(name, conv_param, error, match):
    x, w, b = np.ones((2, 3, 5, 5)), np.ones((4, 3, 3, 3)), np.ones(4)
    with pytest.raises(error, match=match):
        _conv_call(name)(x, w, b, conv_param)


@pytest.mark.parametrize("name", CONV_NAMES)
@pytest.mark.parametrize("stride", [10 ** 9, 2 ** 31, 2 ** 70])
def test_any_stride_of_a_single_window_conv(name, stride):
    x, w, b = np.ones((2, 3, 3, 3)), np.ones((4, 3, 3, 3)), np.zeros(4)
    out = _conv_call(name)(x, w, b, {"stride": stride, "pad": 0})
    out = out[0] if isinstance(out, tuple) else out
    np.testing.assert_allclose(out, np.full((2, 4, 1, 1), 27.0))


def _pool_call(name):
    if name == "max_pool_forward_naive":
        return layers.max_pool_forward_naive
    if name == "max_pool2d":
        return lambda *args: nn.max_pool2d(*args)
    if vjpnet_fast is None:
        pytest.skip("vjpnet_fast is not built")
    return vjpnet_fast.max_pool_forward_fast


POOL_NAMES = ["max_pool_forward_naive", "max_pool_forward_fast", "max_pool2d"]


@pytest.mark.parametrize("name", POOL_NAMES)
@pytest.mark.parametrize("pool_param,error,match", [
    ({"pool_height": 10 ** 9, "pool_width": 2, "stride": 2}, ValueError,
     "window 1000000000x2 is larger than the input 4x4"),
    ({"pool_height": 2, "pool_width": 2 ** 70, "stride": 2}, ValueError, "larger than the input"),
    ({"pool_height": 2, "pool_width": 2, "stride": 10 ** 9}, ValueError,
     "not divisible by stride = 1000000000"),
    ({"pool_height": 0, "pool_width": 2, "stride": 2}, ValueError, "'pool_height'.* must be > 0"),
    ({"pool_height": 2, "pool_width": -2, "stride": 2}, ValueError, "'pool_width'.* must be > 0"),
    ({"pool_height": 2, "pool_width": 2, "stride": -1}, ValueError, "'stride'.* must be > 0"),
    ({"pool_height": 2.0, "pool_width": 2, "stride": 2}, TypeError, "must be an integer"),
    ({"pool_height": 2, "pool_width": 2}, ValueError, "missing the key 'stride'"),
])
def test_invalid_pool_params(name, pool_param, error, match):
    with pytest.raises(error, match=match):
        _pool_call(name)(np.ones((2, 3, 4, 4)), pool_param)


@pytest.mark.parametrize("name", POOL_NAMES)
def test_any_stride_of_a_single_window_pool(name):
    for stride in (10 ** 9, 2 ** 70):
        out = _pool_call(name)(np.arange(9.0).reshape(1, 1, 3, 3),
                               {"pool_height": 3, "pool_width": 3, "stride": stride})
        out = out[0] if isinstance(out, tuple) else out
        np.testing.assert_array_equal(out, [[[[8.0]]]])


# --- wrong dtypes and wrong dimensions ---------------------------------------------------------

# layers called on plain arrays (no grad: the forward's own checks run)
PLAIN = [layer for layer in LAYERS if not layer.name.startswith("nn.") and "2d_fast" not in
         layer.name]


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.complex128, bool, object])
@pytest.mark.parametrize("layer", PLAIN, ids=[layer.name for layer in PLAIN])
def test_wrong_dtype_of_x(layer, dtype):
    inputs, params = layer.make(np.random.default_rng(0), 2, 3, 4, np.float64)
    inputs[0] = inputs[0].astype(dtype)
    with pytest.raises(TypeError, match=r"x must be float32 or float64|x\.dtype"):
        layer.run(inputs, params, ones)


@pytest.mark.parametrize("layer", [layer for layer in PLAIN if layer.family not in
                                   ("pool", "elementwise", "loss", "dropout")],
                         ids=lambda layer: layer.name)
def test_mixed_float_dtypes_are_rejected(layer):
    inputs, params = layer.make(np.random.default_rng(0), 2, 3, 4, np.float64)
    inputs[1] = inputs[1].astype(np.float32)
    with pytest.raises(TypeError, match="one float dtype"):
        layer.run(inputs, params, ones)


@pytest.mark.parametrize("layer", [layer for layer in PLAIN if layer.family != "loss"],
                         ids=lambda layer: layer.name)
def test_wrong_dout_dtype_and_shape(layer):
    with pytest.raises(TypeError, match="dout"):
        run(layer, make_dout=lambda out: np.ones(np.shape(out), np.int64))
    with pytest.raises(ValueError, match=r"dout must have the forward output's shape"):
        run(layer, make_dout=lambda out: np.ones(np.shape(out)[:-1] + (7,)))


@pytest.mark.parametrize("layer", [layer for layer in PLAIN if layer.family not in
                                   ("elementwise", "dropout", "affine")],
                         ids=lambda layer: layer.name)
def test_x_with_one_axis_too_many_or_too_few(layer):
    inputs, params = layer.make(np.random.default_rng(0), 2, 3, 4, np.float64)
    for x in (inputs[0][..., None], inputs[0][0]):
        with pytest.raises(ValueError, match=r"x.*shape"):
            layer.run([x] + inputs[1:], params, ones)


@pytest.mark.parametrize("layer", [layer for layer in PLAIN if len(layer.make(
    np.random.default_rng(0), 2, 3, 4, np.float64)[0]) > 1], ids=lambda layer: layer.name)
def test_parameter_arrays_of_the_wrong_shape(layer):
    inputs, params = layer.make(np.random.default_rng(0), 2, 3, 4, np.float64)
    for position in range(1, len(inputs)):
        value = inputs[position]
        longer = np.concatenate([value, value], axis=0)   # the wrong size
        for bad_value in (longer, value[..., None]):
            bad = list(inputs)
            bad[position] = bad_value
            with pytest.raises(ValueError, match=r"must (have shape|equal|be \d-D)"):
                layer.run(bad, params, ones)
