"""JVP rules of the first-order layer kernels: conv, max pool, batchnorm, dropout.

Forward mode (vjpnet.jvp, jacfwd, hessian) transposes VJPs written with NumPy operations; the
kernels' VJPs are not, so `vjpnet.nn` and `vjpnet_fast.primitives` give them these rules
(Primitive.defjvp). Each returns the tangent of the layer's output from the tangents of its
inputs (None for zero) and what the forward's cache holds. They are written with NumPy
operations and the kernels themselves (conv is linear in x and in w), so a tangent traced by an
enclosing grad is differentiated too, to first order like the kernels.
"""
import numpy as np

from vjpnet.validation import conv_output_shape


def conv_tangent(conv, tangents, x, w, b, conv_param):
    """Tangent of conv(x, w, b, conv_param), shape (N, F, H', W'): conv(dx, w, 0) +
    conv(x, dw, 0) + db per filter. conv: the conv primitive (called on the tangents);
    tangents (dx, dw, db, ...) shaped like x (N, C, H, W), w (F, C, HH, WW), b (F,)."""
    dx, dw, db = tangents[:3]
    zero_bias = np.zeros(b.shape, x.dtype)
    total = None
    if dx is not None:
        total = conv(dx, w, zero_bias, conv_param)
    if dw is not None:
        term = conv(x, dw, zero_bias, conv_param)
        total = term if total is None else total + term
    if db is not None:
        N, _, _, _, F, _, _, _, _, H_out, W_out = conv_output_shape("conv2d", x, w, b, conv_param)
        if total is None:
            total = np.zeros((N, F, H_out, W_out), x.dtype)
        total = total + np.reshape(db, (1, F, 1, 1))
    return total


def pool_tangent(dx, offsets, pool_width, stride):
    """Tangent of max pooling: dx (N, C, H, W) read at each window's maximum. offsets
    (N, C, H', W'): the row-major offset (i * pool_width + j) of the maximum in its window."""
    offsets = offsets.astype(np.intp)
    N, C, H_out, W_out = offsets.shape
    rows = np.arange(H_out).reshape(-1, 1) * stride + offsets // pool_width
    cols = np.arange(W_out) * stride + offsets % pool_width
    return dx[np.arange(N).reshape(-1, 1, 1, 1), np.arange(C).reshape(-1, 1, 1), rows, cols]


def batchnorm_tangent(tangents, cache):
    """Tangent of batchnorm (N, D) from tangents (dx, dgamma, dbeta, ...) and its cache
    (mode, x_hat, std, gamma). Train mode: d x_hat = (dx - mean(dx) - x_hat mean(x_hat dx)) / std
    (the batch statistics move with x); test mode: d x_hat = dx / std."""
    dx, dgamma, dbeta = tangents[:3]
    mode, x_hat, std, gamma = cache
    total = None
    if dx is not None:
        if mode == "train":
            d_hat = (dx - np.mean(dx, axis=0) - x_hat * np.mean(x_hat * dx, axis=0)) / std
        else:
            d_hat = dx / std
        total = gamma * d_hat
    if dgamma is not None:
        term = dgamma * x_hat
        total = term if total is None else total + term
    if dbeta is not None:
        total = (np.zeros(x_hat.shape, x_hat.dtype) if total is None else total) + dbeta
    return total


def spatial_batchnorm_tangent(tangents, cache):
    """Tangent of spatial batchnorm (N, C, H, W): batchnorm_tangent over rows (N*H*W, C)."""
    bn_cache, shape = cache
    N, C, H, W = shape
    dx = tangents[0]
    rows = None if dx is None else np.reshape(np.transpose(dx, (0, 2, 3, 1)), (-1, C))
    tangent = batchnorm_tangent((rows,) + tuple(tangents[1:3]), bn_cache)
    return np.transpose(np.reshape(tangent, (N, H, W, C)), (0, 3, 1, 2))


def dropout_tangent(tangents, cache):
    """Tangent of inverted dropout: dx times the mask (train mode), dx itself (test mode)."""
    _, mask = cache
    return tangents[0] if mask is None else tangents[0] * mask
