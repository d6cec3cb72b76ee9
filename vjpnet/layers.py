"""The modular layers of the source notebook: `*_forward` / `*_backward` pairs and two losses.

Every layer is `name_forward(...) -> (out, cache)` and `name_backward(dout, cache)` returning
the gradients with respect to the inputs, in input order, with the inputs' shapes. Inputs are
float32 or float64 arrays (all of one dtype) and the dtype is preserved. Bad input raises a
ValueError/TypeError naming the function, the argument and the shapes (`vjpnet.validation`).

affine, relu and the two losses use only NumPy operations that `vjpnet.grad` can trace (no
in-place writes), so `vjpnet.nn` registers them as primitives that are differentiable twice.
The naive conv and pool kernels write in place and are first-order only.
"""
import numpy as np

from vjpnet.validation import (check_affine, check_dout, check_float_dtypes, check_labels,
                               check_scores, conv_output_shape, pool_output_shape)

__all__ = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward", "svm_loss",
    "softmax_loss", "conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive",
    "max_pool_backward_naive",
]


def affine_forward(x, w, b):
    """Affine (fully connected) layer: out = x.reshape(N, D) @ w + b.

    Inputs:
    - x: (N, d_1, ..., d_k), a minibatch of N examples with D = d_1 * ... * d_k features
    - w: weights (D, M)
    - b: biases (M,)
    Returns (out, cache): out (N, M); cache (x, w, b).
    """
    N, D, M = check_affine("affine_forward", x, w, b)
    out = np.dot(x.reshape(N, D), w) + b
    return out, (x, w, b)


def affine_backward(dout, cache, needed=(True, True, True)):
    """Backward pass of the affine layer.

    Inputs: dout, upstream derivative (N, M); cache (x, w, b) from affine_forward;
    needed (optional): which of dx, dw, db to compute (the others come back as None, so
    vjpnet.nn.affine skips the product for dx when x is data).
    Returns (dx, dw, db): dx (N, d_1, ..., d_k), dw (D, M), db (M,).
    """
    x, w, b = cache   # validated by affine_forward
    N, (D, M) = x.shape[0], w.shape
    check_dout("affine_backward", dout, (N, M))
    dx = np.dot(dout, w.T).reshape(x.shape) if needed[0] else None
    dw = np.dot(x.reshape(N, D).T, dout) if needed[1] else None   # N = 0: zeros
    db = np.sum(dout, axis=0) if needed[2] else None
    return dx, dw, db


def relu_forward(x):
    """Rectified linear unit: out = max(0, x).

    Input: x, an array of any shape. Returns (out, cache): out like x; cache x.
    """
    check_float_dtypes("relu_forward", x=x)
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    """Backward pass of the ReLU: dx = dout where x > 0, else 0 (the gradient at 0 is 0);
    NaN where x is NaN (the derivative is undefined there).

    Inputs: dout, upstream derivative like x; cache x. Returns dx like x.
    """
    x = cache
    check_dout("relu_backward", dout, x.shape)
    dx = dout * (x > 0)
    if x.size and np.isnan(np.min(x)):   # one fast pass finds a NaN (np.heaviside is slower)
        dx = np.where(np.isnan(x), np.nan, dx)
    return dx


def _is_label(y, num_classes):
    """(N, C) boolean constant, True at [i, y[i]]: selects the correct-class entries without
    indexing (with np.where, so an infinite score elsewhere never meets a 0 * inf)."""
    return y[:, None] == np.arange(num_classes)


def svm_loss(x, y):
    """Multiclass SVM (hinge) loss with margin 1, averaged over the minibatch.

    Inputs:
    - x: scores (N, C), x[i, j] is the score of class j for example i; N >= 1
    - y: integer labels (N,), 0 <= y[i] < C
    Returns (loss, dx): loss a scalar, dx (N, C) the gradient of loss with respect to x.
    A NaN score makes the loss NaN, and NaN the gradients of its own entry and of its example's
    correct class (the others do not depend on it); an empty batch raises.
    """
    N, C = check_scores("svm_loss", x)
    check_labels("svm_loss", y, N, C)
    is_label = _is_label(y, C)
    correct_scores = np.sum(np.where(is_label, x, 0.0), axis=1, keepdims=True)
    margins = np.where(is_label, 0.0, np.maximum(0, x - correct_scores + 1))
    loss = np.sum(margins) / N
    positive = np.heaviside(margins, 0.0)   # 1, 0 (margin <= 0), NaN (a NaN score)
    dx = (positive - np.where(is_label, np.sum(positive, axis=1, keepdims=True), 0.0)) / N
    return loss, dx


def softmax_loss(x, y):
    """Softmax (cross-entropy) loss, computed stably with log-sum-exp, averaged over N.

    Inputs:
    - x: scores (N, C), x[i, j] is the score of class j for example i; N >= 1
    - y: integer labels (N,), 0 <= y[i] < C
    Returns (loss, dx): loss a scalar, dx (N, C) the gradient of loss with respect to x.
    A score of -inf is a class of probability 0 (finite loss unless it is the label); a NaN
    or +inf score makes the loss and its example's gradient NaN; an empty batch raises.
    """
    N, C = check_scores("softmax_loss", x)
    check_labels("softmax_loss", y, N, C)
    is_label = _is_label(y, C)
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = -np.sum(np.where(is_label, log_probs, 0.0)) / N
    dx = (np.exp(log_probs) - is_label) / N
    return loss, dx


def _window(offset, stride, count):
    """Slice picking, for one filter/window offset, the input positions of all `count` outputs."""
    return slice(offset, offset + stride * (count - 1) + 1, stride)


def conv_forward_naive(x, w, b, conv_param):
    """Convolutional layer (cross-correlation, filters not flipped) with zero padding.

    Inputs:
    - x: input data (N, C, H, W)
    - w: filter weights (F, C, HH, WW)
    - b: biases (F,)
    - conv_param: dict with 'stride' (> 0) and 'pad' (>= 0, zeros on every side);
      (H + 2*pad - HH) and (W + 2*pad - WW) must be divisible by stride
    Returns (out, cache): out (N, F, H', W') with H' = 1 + (H + 2*pad - HH) / stride,
    W' = 1 + (W + 2*pad - WW) / stride; cache (x, w, b, conv_param).

    Loops over the HH*WW filter offsets; each step is one matrix product over all images,
    channels and output positions.
    """
    N, C, H, W, F, HH, WW, stride, pad, H_out, W_out = conv_output_shape(
        "conv_forward_naive", x, w, b, conv_param)
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, H_out, W_out), dtype=x.dtype)
    for i in range(HH):
        for j in range(WW):
            patch = x_padded[:, :, _window(i, stride, H_out), _window(j, stride, W_out)]
            # (F, C) x (N, C, H', W') summed over C -> (F, N, H', W')
            out += np.tensordot(w[:, :, i, j], patch, axes=([1], [1])).transpose(1, 0, 2, 3)
    out += b.reshape(1, F, 1, 1)
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache, needed=(True, True, True)):
    """Backward pass of the naive convolution.

    Inputs: dout, upstream derivative (N, F, H', W'); cache (x, w, b, conv_param);
    needed (optional): which of dx, dw, db to compute (the others come back as None).
    Returns (dx, dw, db): dx (N, C, H, W), dw (F, C, HH, WW), db (F,).
    """
    x, w, b, conv_param = cache
    N, C, H, W, F, HH, WW, stride, pad, H_out, W_out = conv_output_shape(
        "conv_backward_naive", x, w, b, conv_param)
    check_dout("conv_backward_naive", dout, (N, F, H_out, W_out))
    need_dx, need_dw, need_db = needed
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_padded = np.zeros_like(x_padded) if need_dx else None
    dw = np.zeros_like(w) if need_dw else None
    for i in range(HH):
        for j in range(WW):
            rows, cols = _window(i, stride, H_out), _window(j, stride, W_out)
            if need_dw:
                patch = x_padded[:, :, rows, cols]
                # sum over N, H', W' of dout (N, F, H', W') * patch (N, C, H', W') -> (F, C)
                dw[:, :, i, j] = np.tensordot(dout, patch, axes=([0, 2, 3], [0, 2, 3]))
            if need_dx:
                # (N, F, H', W') x (F, C) summed over F -> (N, H', W', C)
                dx_padded[:, :, rows, cols] += np.tensordot(
                    dout, w[:, :, i, j], axes=([1], [0])).transpose(0, 3, 1, 2)
    dx = dx_padded[:, :, pad:pad + H, pad:pad + W].copy() if need_dx else None
    db = np.sum(dout, axis=(0, 2, 3)).astype(b.dtype, copy=False) if need_db else None
    return dx, dw, db


def _pool_argmax(x, PH, PW, stride, H_out, W_out):
    """Max over each window and the flat row-major index (i * PW + j) of its first maximum."""
    out = x[:, :, _window(0, stride, H_out), _window(0, stride, W_out)].copy()
    argmax = np.zeros(out.shape, dtype=np.intp)
    for i in range(PH):
        for j in range(PW):
            candidate = x[:, :, _window(i, stride, H_out), _window(j, stride, W_out)]
            # strict: earlier offsets win ties; a NaN wins (and stays), as in np.max
            larger = (candidate > out) | (np.isnan(candidate) & ~np.isnan(out))
            out = np.where(larger, candidate, out)
            argmax[larger] = i * PW + j
    return out, argmax


def max_pool_forward_naive(x, pool_param):
    """Max pooling layer (no padding).

    Inputs:
    - x: input data (N, C, H, W)
    - pool_param: dict with 'pool_height', 'pool_width' and 'stride' (all > 0); windows
      may overlap; (H - pool_height) and (W - pool_width) must be divisible by stride
    Returns (out, cache): out (N, C, H', W') with H' = 1 + (H - pool_height) / stride,
    W' = 1 + (W - pool_width) / stride; cache (x, pool_param).
    """
    N, C, H, W, PH, PW, stride, H_out, W_out = pool_output_shape(
        "max_pool_forward_naive", x, pool_param)
    out, _ = _pool_argmax(x, PH, PW, stride, H_out, W_out)
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    """Backward pass of max pooling.

    Inputs: dout, upstream derivative (N, C, H', W'); cache (x, pool_param).
    Returns dx (N, C, H, W). Each window's gradient goes to ONE element, its maximum; on ties
    the FIRST maximum in row-major order of the window (the one np.argmax of the flattened
    window picks) gets it. Overlapping windows accumulate into dx. A NaN in a window is its
    maximum (the forward outputs NaN, as np.max does) and receives the gradient.
    """
    x, pool_param = cache
    N, C, H, W, PH, PW, stride, H_out, W_out = pool_output_shape(
        "max_pool_backward_naive", x, pool_param)
    check_dout("max_pool_backward_naive", dout, (N, C, H_out, W_out))
    _, argmax = _pool_argmax(x, PH, PW, stride, H_out, W_out)
    dx = np.zeros_like(x)
    for i in range(PH):
        for j in range(PW):
            window = (slice(None), slice(None),
                      _window(i, stride, H_out), _window(j, stride, W_out))
            dx[window] += np.where(argmax == i * PW + j, dout, 0)
    return dx


# Batch normalization and dropout pairs live in vjpnet.normalization; re-exported here so
# `from vjpnet.layers import *` gives the whole layer API.
from vjpnet.normalization import *  # noqa: E402,F401,F403
from vjpnet.normalization import __all__ as _normalization_all  # noqa: E402
__all__ += _normalization_all
