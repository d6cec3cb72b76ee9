"""Fast ReLU backward pass (one pass over memory) and softmax loss (two Cython passes around
NumPy's vectorized exp), without the NumPy versions' temporaries.

    relu_backward_fast(dout, x) -> dx           dout, x of one shape and float dtype
    softmax_loss_fast(x, y) -> (loss, dx)       x (N, C) scores, y (N,) integer labels

Same contracts and checks as `vjpnet.layers.relu_backward` / `softmax_loss` (the NumPy
versions build a boolean mask and a product, or eight (N, C) temporaries): relu_backward_fast
is bit for bit the NumPy result, softmax_loss_fast agrees to rounding (it sums in double; see
vjpnet_fast._fused). Large results come from `vjpnet.memory` (recycled, not freshly
page-faulted on every call). relu_backward_fast hands what its kernel cannot take as it is
(strided arrays, mixed dtypes, traced values) to the NumPy version; softmax_loss_fast copies a
strided x and hands traced values to the NumPy version.
"""
import numpy as np

from vjpnet import layers, memory
from vjpnet.validation import check_dout, check_labels, check_scores
from vjpnet_fast import _fused

_INT64 = np.dtype(np.int64)


def relu_backward_fast(dout, cache):
    """Backward pass of the ReLU. Inputs dout (upstream derivative) and cache x, one shape;
    returns dx = dout where x > 0, else 0 (NaN where x is NaN)."""
    x = cache
    if not (type(dout) is np.ndarray and type(x) is np.ndarray and dout.dtype == x.dtype
            and x.dtype.kind == "f" and dout.flags.c_contiguous and x.flags.c_contiguous):
        return layers.relu_backward(dout, x)
    check_dout("relu_backward", dout, x.shape)
    dx = memory.empty(x.shape, x.dtype)
    _fused.relu_backward(dout.reshape(-1), x.reshape(-1), dx.reshape(-1))
    return dx


def softmax_loss_fast(x, y):
    """Softmax (cross-entropy) loss averaged over N, and its gradient. Inputs x (N, C) scores,
    y (N,) integer labels in [0, C); returns (loss, dx (N, C)), loss of x's dtype."""
    N, C = check_scores("softmax_loss", x)
    if not (type(x) is np.ndarray and C > 0 and type(y) is np.ndarray
            and y.dtype.kind in "iu" and y.shape == (N,)):
        return layers.softmax_loss(x, y)
    x = np.ascontiguousarray(x)
    labels = y if y.dtype == _INT64 and y.flags.c_contiguous else \
        np.ascontiguousarray(y, _INT64)
    dx = memory.empty((N, C), x.dtype)
    picked = np.empty(N, x.dtype)
    if _fused.softmax_shift(x, labels, dx, picked) >= 0:   # a label outside [0, C) (a uint64
        check_labels("softmax_loss", y, N, C)              # above 2**63 - 1 arrives < 0)
    np.exp(dx, out=dx)                                     # NumPy's vectorized exp
    loss = _fused.softmax_finish(dx, labels, picked)
    return x.dtype.type(loss), dx
