"""Differentiable layer ops: the notebook's layer pairs registered as vjpnet primitives.

Each op returns only the output and composes with plain NumPy inside `vjpnet.grad`:

    def loss_fn(params, X, y):
        hidden = nn.relu(nn.affine(X, params["W1"], params["b1"]))
        scores = nn.affine(hidden, params["W2"], params["b2"])
        return nn.softmax_loss(scores, y) + 0.5 * reg * np.sum(params["W1"] ** 2)

    affine(x, w, b)               x (N, d_1, ..., d_k), w (D, M), b (M,)  -> (N, M)
    relu(x)                       any shape                                -> same shape
    affine_relu(x, w, b)          relu(affine(x, w, b)) as one op          -> (N, M)
    conv2d(x, w, b, conv_param)   x (N, C, H, W), w (F, C, HH, WW), b (F,) -> (N, F, H', W')
    max_pool2d(x, pool_param)     x (N, C, H, W)                           -> (N, C, H', W')
    softmax_loss(scores, y)       scores (N, C), integer labels y (N,)     -> scalar loss
    svm_loss(scores, y)           scores (N, C), integer labels y (N,)     -> scalar loss
    l2_penalty(reg, *weights)     weights of any shapes -> 0.5 * reg * sum of sum(w**2)

Labels and parameter dicts are never differentiated (the ops' nondiff_argnums: a traced value
there is an error). affine, relu and the losses are
differentiable any number of times (their layer functions use only NumPy operations vjpnet
traces; a loss's cache is its gradient dx, computed from the scores by such operations).
conv2d and max_pool2d are first-order only: they run the Cython kernels of vjpnet_fast when
it is built and the naive NumPy ones otherwise; `VJPNET_NAIVE=1` forces naive and
`VJPNET_NAIVE=0` forces fast (see `vjpnet.layer_utils.select_kernels`), read at each call.

On plain arrays (first-order use) the ops take a shorter path than the layer functions, with
the same results: the ReLU's backward pass and the softmax loss run vjpnet_fast's Cython
kernels when the fast kernels are selected, and large outputs and gradients (relu, affine's dx
and dw, conv, pool) come from `vjpnet.memory`, recycled instead of freshly page-faulted in
every training step. On traced values (higher order) they run the NumPy layer functions.
Cotangents nobody asked for (conv's and affine's dx for the data batch) are not computed.
"""
import numpy as np

from vjpnet import layer_jvps, layers, memory
from vjpnet.layer_utils import select_kernels
from vjpnet.registry import Sample, primitive
from vjpnet.tape import Traced
from vjpnet.validation import check_affine, check_dout, check_float_dtypes, pool_output_shape

__all__ = ["affine", "relu", "affine_relu", "conv2d", "max_pool2d", "softmax_loss", "svm_loss",
           "l2_penalty"]

_ndarray = np.ndarray


def _affine_forward(x, w, b):
    """affine_forward; on plain arrays its output comes from vjpnet.memory."""
    if type(x) is _ndarray and type(w) is _ndarray and type(b) is _ndarray:
        N, D, M = check_affine("affine_forward", x, w, b)
        out = np.dot(x.reshape(N, D), w, out=memory.empty((N, M), x.dtype))
        out += b
        return out, (x, w, b)
    return layers.affine_forward(x, w, b)


def _affine_vjp(g, cache, needed):
    """affine_backward for the needed cotangents; dx and dw of plain arrays go to
    vjpnet.memory."""
    x, w, b = cache
    if not (type(g) is _ndarray and type(x) is _ndarray and type(w) is _ndarray
            and g.dtype == x.dtype):
        return layers.affine_backward(g, cache, needed)
    N, (D, M) = x.shape[0], w.shape
    check_dout("affine_backward", g, (N, M))
    dx = np.dot(g, w.T, out=memory.empty((N, D), x.dtype)).reshape(x.shape) \
        if needed[0] else None
    dw = np.dot(x.reshape(N, D).T, g, out=memory.empty((D, M), x.dtype)) if needed[1] else None
    db = np.add.reduce(g, axis=0) if needed[2] else None   # np.sum without its wrapper
    return dx, dw, db


def _relu_forward(x):
    """relu_forward; on a plain array its output comes from vjpnet.memory."""
    if type(x) is _ndarray:
        check_float_dtypes("relu_forward", x=x)
        return np.maximum(0, x, out=memory.empty(x.shape, x.dtype)), x
    return layers.relu_forward(x)


def _relu_vjp(g, x):
    """relu_backward of the selected kernels (vjpnet_fast's: one pass, on plain arrays)."""
    return (select_kernels().relu_backward(g, x),)


def _affine_relu_forward(x, w, b):
    """relu(affine(x, w, b)) in one op: the ReLU runs in place on the affine output."""
    if type(x) is _ndarray and type(w) is _ndarray and type(b) is _ndarray:
        out, _ = _affine_forward(x, w, b)
        np.maximum(0, out, out=out)
    else:
        out, _ = layers.relu_forward(layers.affine_forward(x, w, b)[0])
    return out, (x, w, b, out)


def _affine_relu_vjp(g, cache, needed):
    """The ReLU's backward pass (out > 0 exactly where the affine output is), then affine's."""
    x, w, b, out = cache
    return _affine_vjp(select_kernels().relu_backward(g, out), (x, w, b), needed)


def _softmax_loss_forward(x, y):
    """softmax_loss of the selected kernels (vjpnet_fast's: one pass, on plain arrays)."""
    return select_kernels().softmax_loss(x, y)


def _loss_vjp(g, dx):
    """VJP of a loss whose cache is d(loss)/d(scores) (the labels are nondiff)."""
    return g * dx


def _conv2d_forward(x, w, b, conv_param):
    """conv_forward of the kernels selected now; the cache remembers their backward."""
    kernels = select_kernels()
    out, cache = kernels.conv_forward(x, w, b, conv_param)
    return out, (kernels.conv_backward, cache)


def _max_pool2d_forward(x, pool_param):
    """max_pool_forward of the kernels selected now; the cache remembers their backward."""
    kernels = select_kernels()
    out, cache = kernels.pool_forward(x, pool_param)
    return out, (kernels.pool_backward, cache)


def _max_pool2d_vjp(g, cache):
    """Run the backward recorded by a max_pool2d forward: dx (pool_param is nondiff)."""
    backward, layer_cache = cache
    return backward(g, layer_cache)


def _conv2d_vjp(g, cache, needed):
    """Run the backward recorded by a conv2d forward for the needed cotangents only (dx is
    skipped when x is the data batch): (dx, dw, db) (conv_param is nondiff)."""
    backward, layer_cache = cache
    return backward(g, layer_cache, needed)


# --- sample inputs for the registry-driven test (float64, away from kinks) ------------------

def _away_from_zero(rng, shape, gap=0.1):
    """Random values with |x| >= gap (off the ReLU kink)."""
    return rng.uniform(gap, 1.0, shape) * rng.choice([-1.0, 1.0], shape)


def _distinct(rng, shape, gap=0.1):
    """Values that differ pairwise by >= gap (a unique maximum in every pooling window)."""
    return gap * (rng.permutation(int(np.prod(shape))).reshape(shape) - np.prod(shape) / 2)


def _svm_scores(rng, N, C, gap=0.1):
    """Scores and labels whose hinge margins x_j - x_y + 1 all stay >= gap away from 0."""
    while True:
        scores, y = rng.standard_normal((N, C)), rng.integers(C, size=N)
        margins = scores - scores[np.arange(N), y][:, None] + 1
        margins[np.arange(N), y] = 1
        if np.abs(margins).min() >= gap:
            return scores, y


def _affine_spec(rng):
    return [Sample(rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)),
                   rng.standard_normal(5)),
            Sample(rng.standard_normal((3, 7)), rng.standard_normal((7, 2)),
                   rng.standard_normal(2))]


def _affine_relu_spec(rng):
    """Inputs whose affine outputs all stay >= 0.1 away from the ReLU's kink."""
    while True:
        x, w, b = rng.standard_normal((4, 2, 3)), rng.standard_normal((6, 5)), \
            rng.standard_normal(5)
        if np.abs(x.reshape(4, 6) @ w + b).min() >= 0.1:
            return Sample(x, w, b)


def _relu_spec(rng):
    return [Sample(_away_from_zero(rng, (3, 4))), Sample(_away_from_zero(rng, (2, 3, 2, 2)))]


def _conv2d_spec(rng):
    return [Sample(rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)),
                   rng.standard_normal(4), {"stride": 2, "pad": 1}),
            Sample(rng.standard_normal((1, 2, 4, 6)), rng.standard_normal((3, 2, 2, 3)),
                   rng.standard_normal(3), {"stride": 1, "pad": 0})]


def _max_pool2d_spec(rng):
    return [Sample(_distinct(rng, (2, 3, 4, 4)),
                   {"pool_height": 2, "pool_width": 2, "stride": 2}),
            Sample(_distinct(rng, (1, 2, 5, 5)),
                   {"pool_height": 3, "pool_width": 2, "stride": 1})]


def _softmax_spec(rng):
    return Sample(rng.standard_normal((5, 4)), rng.integers(4, size=5))


def _svm_spec(rng):
    return Sample(*_svm_scores(rng, 5, 4))


# --- the ops: one registration each ---------------------------------------------------------

affine = primitive(_affine_forward, vjp=_affine_vjp, name="affine", selective_vjp=True,
                   spec=_affine_spec)
relu = primitive(_relu_forward, vjp=_relu_vjp, name="relu", spec=_relu_spec)
affine_relu = primitive(_affine_relu_forward, vjp=_affine_relu_vjp, name="affine_relu",
                        selective_vjp=True, spec=_affine_relu_spec)
softmax_loss = primitive(_softmax_loss_forward, vjp=_loss_vjp, name="softmax_loss",
                         nondiff_argnums=(1,), spec=_softmax_spec)
svm_loss = primitive(layers.svm_loss, vjp=_loss_vjp, name="svm_loss", nondiff_argnums=(1,),
                     spec=_svm_spec)
conv2d = primitive(_conv2d_forward, vjp=_conv2d_vjp, name="conv2d", first_order=True,
                   selective_vjp=True, nondiff_argnums=(3,), spec=_conv2d_spec)
max_pool2d = primitive(_max_pool2d_forward, vjp=_max_pool2d_vjp, name="max_pool2d",
                       first_order=True, nondiff_argnums=(1,), spec=_max_pool2d_spec)



@conv2d.defjvp
def _conv2d_jvp(tangents, cache):
    _, layer_cache = cache   # the naive cache (x, w, b, conv_param) or vjpnet_fast's ConvCache
    if isinstance(layer_cache, tuple):
        x, w, b, conv_param = layer_cache
    else:
        x, w, b, conv_param = layer_cache.x, layer_cache.w, layer_cache.b, layer_cache.conv_param
    return layer_jvps.conv_tangent(conv2d, tangents, x, w, b, conv_param)


@max_pool2d.defjvp
def _max_pool2d_jvp(tangents, cache):
    _, layer_cache = cache   # the naive cache (x, pool_param) or vjpnet_fast's PoolCache
    if isinstance(layer_cache, tuple):
        x, pool_param = layer_cache
        _, _, _, _, PH, PW, stride, H_out, W_out = pool_output_shape("max_pool2d", x, pool_param)
        _, offsets = layers._pool_argmax(x, PH, PW, stride, H_out, W_out)
    else:
        offsets, pool_param = layer_cache.argmax, layer_cache.pool_param
    return layer_jvps.pool_tangent(tangents[0], offsets, pool_param["pool_width"],
                                   pool_param["stride"])


affine.__doc__ = """affine(x, w, b) -> x.reshape(N, D) @ w + b, shape (N, M).

x (N, d_1, ..., d_k), w (D, M), b (M,). Differentiable any number of times."""
relu.__doc__ = """relu(x) -> max(0, x), shaped like x; the gradient at 0 is 0. Any order."""
affine_relu.__doc__ = """affine_relu(x, w, b) -> relu(affine(x, w, b)), shape (N, M), as one op.

The notebook's affine-relu sandwich: the same values and gradients as nn.relu(nn.affine(x, w,
b)), bit for bit, with one recorded op and one array fewer. Any order."""
softmax_loss.__doc__ = """softmax_loss(scores, y) -> mean cross-entropy loss, a scalar.

scores (N, C) float, y (N,) integer labels in [0, C) (not differentiated). Any order."""
svm_loss.__doc__ = """svm_loss(scores, y) -> mean multiclass hinge loss (margin 1), a scalar.

scores (N, C) float, y (N,) integer labels in [0, C) (not differentiated). Any order."""
conv2d.__doc__ = """conv2d(x, w, b, conv_param) -> (N, F, H', W') cross-correlation.

x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param {'stride', 'pad'} (not differentiated);
H' = 1 + (H + 2*pad - HH) / stride. Fast kernels when built (VJPNET_NAIVE=1 forces naive).
First-order only (differentiating it twice raises); forward mode through a JVP rule."""
max_pool2d.__doc__ = """max_pool2d(x, pool_param) -> (N, C, H', W') window maxima.

x (N, C, H, W), pool_param {'pool_height', 'pool_width', 'stride'} (not differentiated);
ties send the gradient to the first maximum in row-major order. Fast kernels when built
(VJPNET_NAIVE=1 forces naive). First-order only (differentiating it twice raises); forward
mode through a JVP rule (the tangent at each window's maximum)."""


# --- the models' L2 term --------------------------------------------------------------------

def _sum_of_squares(w):
    """sum(w * w); for a plain array one BLAS dot product of w with itself (no temporary)."""
    if type(w) is _ndarray:
        flat = w.reshape(-1)
        return np.dot(flat, flat)
    return np.sum(w * w)


def _l2_penalty_forward(reg, *weights):
    for position, w in enumerate(weights):
        dtype = getattr(w, "dtype", None)
        if dtype is None or dtype.kind != "f":
            raise TypeError(f"l2_penalty: weights[{position}] must be a float array, got "
                            f"{dtype if dtype is not None else type(w).__name__}")
    total = 0.0
    for w in weights:
        total = total + _sum_of_squares(w)
    return 0.5 * reg * total, (reg, weights, total)


def _l2_penalty_vjp(g, cache, needed):
    """(0.5 * total * g for reg, reg * g * w for each weight); plain arrays into
    vjpnet.memory."""
    reg, weights, total = cache
    cotangents = [0.5 * total * g if needed[0] else None]
    scale = reg * g                      # g: the cotangent of a scalar
    if type(scale) is not Traced:
        scale = float(np.reshape(scale, ()))   # a Python float keeps each weight's dtype
    for w, need in zip(weights, needed[1:]):
        if not need:
            cotangents.append(None)
        elif type(w) is _ndarray and type(scale) is float:
            cotangents.append(np.multiply(w, scale, out=memory.empty(w.shape, w.dtype)))
        else:
            cotangents.append(scale * w)
    return tuple(cotangents)


def _l2_penalty_spec(rng):
    return [Sample(0.3, rng.standard_normal((3, 4)), rng.standard_normal(5)),
            Sample(2.0, rng.standard_normal((2, 3, 2)))]


l2_penalty = primitive(_l2_penalty_forward, vjp=_l2_penalty_vjp, name="l2_penalty",
                       selective_vjp=True, spec=_l2_penalty_spec)
l2_penalty.__doc__ = """l2_penalty(reg, *weights) -> 0.5 * reg * sum(sum(w * w) for w in weights).

The L2 term of the models as one op: the forward is one dot product per weight array (no
squared copy), the VJP one scaled copy per weight (reg * g * w). reg is a number (it gets a
gradient too when it is traced); weights are float arrays of any shapes. Any order."""


# --- batch normalization and dropout --------------------------------------------------------
# First-order only: their forwards write running statistics into bn_param (batchnorm) or draw
# random masks (dropout), so they always run on plain arrays.
from vjpnet import normalization  # noqa: E402
from vjpnet.transforms import is_recomputing  # noqa: E402

__all__ += ["batchnorm", "spatial_batchnorm", "dropout"]


def _batchnorm_spec(rng):
    D = 4
    running = {"running_mean": rng.standard_normal(D), "running_var": rng.uniform(0.5, 2.0, D)}
    return [Sample(2 * rng.standard_normal((5, D)) + 1, rng.standard_normal(D),
                   rng.standard_normal(D), {"mode": "train"}),
            Sample(rng.standard_normal((3, D)), rng.standard_normal(D), rng.standard_normal(D),
                   dict(running, mode="test"))]


def _spatial_batchnorm_spec(rng):
    C = 3
    running = {"running_mean": rng.standard_normal(C), "running_var": rng.uniform(0.5, 2.0, C)}
    return [Sample(2 * rng.standard_normal((2, C, 3, 4)) + 1, rng.standard_normal(C),
                   rng.standard_normal(C), {"mode": "train", "momentum": 0.5}),
            Sample(rng.standard_normal((2, C, 2, 2)), rng.standard_normal(C),
                   rng.standard_normal(C), dict(running, mode="test"))]


def _dropout_spec(rng):
    return [Sample(rng.standard_normal((4, 5)), {"mode": "train", "p": 0.3, "seed": 0}),
            Sample(rng.standard_normal((2, 3, 4)), {"mode": "test", "p": 0.5})]


def _once(forward):
    """A batchnorm forward that writes the running statistics once: when checkpoint runs the
    layer again for the backward pass, it writes them into a copy of bn_param."""
    def run(x, gamma, beta, bn_param):
        if is_recomputing():
            bn_param = dict(bn_param)
        return forward(x, gamma, beta, bn_param)
    run.__name__ = run.__qualname__ = forward.__name__
    run.__doc__ = forward.__doc__
    return run


batchnorm = primitive(_once(normalization.batchnorm_forward),
                      vjp=normalization.batchnorm_backward_alt, name="batchnorm",
                      first_order=True, nondiff_argnums=(3,), spec=_batchnorm_spec,
                      jvp=layer_jvps.batchnorm_tangent)
spatial_batchnorm = primitive(_once(normalization.spatial_batchnorm_forward),
                              vjp=normalization.spatial_batchnorm_backward,
                              name="spatial_batchnorm", first_order=True, nondiff_argnums=(3,),
                              spec=_spatial_batchnorm_spec,
                              jvp=layer_jvps.spatial_batchnorm_tangent)
dropout = primitive(normalization.dropout_forward, vjp=normalization.dropout_backward,
                    name="dropout", first_order=True, nondiff_argnums=(1,), spec=_dropout_spec,
                    jvp=layer_jvps.dropout_tangent)

batchnorm.__doc__ = """batchnorm(x, gamma, beta, bn_param) -> (N, D) batch-normalized x.

x (N, D), gamma and beta (D,); bn_param {'mode': 'train'|'test', 'eps', 'momentum',
'running_mean', 'running_var'} (not differentiated; train mode writes the running statistics
into it, once: not again when vjpnet.checkpoint recomputes it). First-order only; forward mode
through a JVP rule."""
spatial_batchnorm.__doc__ = """spatial_batchnorm(x, gamma, beta, bn_param) -> (N, C, H, W).

Statistics per channel over N, H, W; gamma and beta (C,); bn_param as for batchnorm.
First-order only; forward mode through a JVP rule."""
dropout.__doc__ = """dropout(x, dropout_param) -> inverted dropout of x, same shape.

dropout_param {'p': probability of dropping, 0 <= p < 1; 'mode': 'train'|'test'; optional
'seed'} (not differentiated). First-order only; forward mode through a JVP rule (the mask
times the tangent)."""
