"""Fast max pooling: one direct pass that records each window's argmax, one scatter back.

    max_pool_forward_fast(x, pool_param) -> (out, cache)
        x (N, C, H, W) float32 or float64 (any memory layout); pool_param {'pool_height',
        'pool_width', 'stride'} (windows may overlap; no padding).
        out (N, C, H_out, W_out), H_out = 1 + (H - pool_height) / stride, W_out likewise.
    max_pool_backward_fast(dout, cache) -> dx
        dout (N, C, H_out, W_out) of the forward's dtype; dx (N, C, H, W).

Same contract and same results as `vjpnet.layers.max_pool_forward_naive` / `_backward_naive`,
bit for bit. Tie rule: within a window the FIRST maximum in row-major order (np.argmax of the
flattened window; a NaN counts as the maximum) receives the gradient; overlapping windows
accumulate into dx in row-major window order. The cache holds only the argmax offsets (one
byte per window for windows of up to 256 elements), not the input. Outputs and dx come from
`vjpnet.memory` (recycled instead of freshly page-faulted on every call).
"""
import numpy as np

from vjpnet import memory
from vjpnet.validation import check_dout, pool_output_shape
from vjpnet_fast._pool import max_pool_backward, max_pool_forward
from vjpnet_fast.threads import get_num_threads


class PoolCache:
    """What max_pool_backward_fast needs: the input's shape and dtype, the window geometry and
    the argmax offset inside each window (N, C, H_out, W_out)."""

    __slots__ = ("x_shape", "dtype", "argmax", "pool_param", "sizes")

    def __init__(self, x_shape, dtype, argmax, pool_param, sizes):
        self.x_shape, self.dtype, self.argmax = x_shape, dtype, argmax
        self.pool_param, self.sizes = pool_param, sizes

    def __repr__(self):
        N, C, H, W, PH, PW, stride, H_out, W_out = self.sizes
        return (f"PoolCache(x.shape={self.x_shape}, pool_height={PH}, pool_width={PW}, "
                f"stride={stride}, dtype={self.dtype})")


def max_pool_forward_fast(x, pool_param):
    """Max-pool forward pass. Inputs x (N, C, H, W), pool_param {'pool_height', 'pool_width',
    'stride'}; returns (out (N, C, H_out, W_out), cache)."""
    sizes = pool_output_shape("max_pool_forward_fast", x, pool_param)
    N, C, H, W, PH, PW, stride, H_out, W_out = sizes
    x_contiguous = np.ascontiguousarray(x)
    out = memory.empty((N, C, H_out, W_out), x.dtype)
    argmax = memory.empty((N, C, H_out, W_out), np.uint8 if PH * PW <= 256 else np.int32)
    max_pool_forward(x_contiguous, PH, PW, stride, out, argmax, get_num_threads())
    return out, PoolCache((N, C, H, W), x.dtype, argmax, pool_param, sizes)


def max_pool_backward_fast(dout, cache):
    """Max-pool backward pass. Inputs dout (N, C, H_out, W_out) and the cache of
    max_pool_forward_fast; returns dx (N, C, H, W)."""
    op = "max_pool_backward_fast"
    if not isinstance(cache, PoolCache):
        raise TypeError(f"{op}: cache must be the cache returned by max_pool_forward_fast, "
                        f"got {type(cache).__name__}")
    N, C, H, W, PH, PW, stride, H_out, W_out = cache.sizes
    check_dout(op, dout, (N, C, H_out, W_out))
    if np.dtype(dout.dtype) != cache.dtype:
        raise TypeError(f"{op}: dout.dtype={dout.dtype} must equal the forward input's dtype "
                        f"{cache.dtype} ({cache!r})")
    dx = memory.empty((N, C, H, W), cache.dtype)
    max_pool_backward(np.ascontiguousarray(dout), cache.argmax, PH, PW, stride, dx,
                      get_num_threads())
    return dx
