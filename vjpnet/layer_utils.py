"""The notebook's "sandwich" layers: affine-relu, conv-relu, conv-relu-pool.

Same contract as `vjpnet.layers`: `*_forward(...) -> (out, cache)`, `*_backward(dout, cache)`
returns the gradients of the inputs in input order.

Conv and pool use the Cython kernels of `vjpnet_fast` (`conv_forward_fast`,
`conv_backward_fast`, `max_pool_forward_fast`, `max_pool_backward_fast`) when that package is
built, and the naive ones of `vjpnet.layers` otherwise; `vjpnet.nn` also takes the ReLU's
backward pass and the softmax loss from the same kernel set (`relu_backward_fast`,
`softmax_loss_fast`). The environment variable
`VJPNET_NAIVE`, read at every call (here and in `vjpnet.nn`), forces the choice:

    VJPNET_NAIVE=1   always the naive NumPy kernels
    VJPNET_NAIVE=0   always the fast kernels (ImportError if vjpnet_fast is not built)
    unset / empty    fast when available, else naive

A forward pass records the kernels it used in its cache, so its backward pass uses the
same ones even if the variable changes in between.
"""
import functools
import os
from collections import namedtuple

from vjpnet.layers import (affine_backward, affine_forward, conv_backward_naive,
                           conv_forward_naive, max_pool_backward_naive,
                           max_pool_forward_naive, relu_backward, relu_forward,
                           softmax_loss)

__all__ = [
    "Kernels", "select_kernels", "affine_relu_forward", "affine_relu_backward",
    "conv_relu_forward", "conv_relu_backward", "conv_relu_pool_forward",
    "conv_relu_pool_backward",
]

Kernels = namedtuple("Kernels", "name conv_forward conv_backward pool_forward pool_backward "
                                "relu_backward softmax_loss")

NAIVE_KERNELS = Kernels("naive", conv_forward_naive, conv_backward_naive,
                        max_pool_forward_naive, max_pool_backward_naive, relu_backward,
                        softmax_loss)

_FAST_NAMES = ("conv_forward_fast", "conv_backward_fast", "max_pool_forward_fast",
               "max_pool_backward_fast", "relu_backward_fast", "softmax_loss_fast")


@functools.cache
def fast_kernels():
    """The vjpnet_fast kernels, or None when vjpnet_fast is not built or lacks one of them."""
    try:
        import vjpnet_fast
    except ImportError:
        return None
    functions = [getattr(vjpnet_fast, name, None) for name in _FAST_NAMES]
    if any(function is None for function in functions):
        return None
    return Kernels("fast", *functions)


def select_kernels():
    """The conv/pool kernels to use now, following the VJPNET_NAIVE environment variable."""
    choice = os.environ.get("VJPNET_NAIVE", "").strip()
    if choice not in ("", "0", "1"):
        raise ValueError(f"VJPNET_NAIVE must be '1' (naive kernels), '0' (fast kernels) or "
                         f"unset (fast when built), got {choice!r}")
    if choice == "1":
        return NAIVE_KERNELS
    fast = fast_kernels()
    if fast is None and choice == "0":
        raise ImportError("VJPNET_NAIVE=0 asks for the fast kernels but vjpnet_fast does not "
                          "provide " + ", ".join(_FAST_NAMES) + "; build it with "
                          "`python setup.py build_ext --inplace` or unset VJPNET_NAIVE")
    return fast or NAIVE_KERNELS


def affine_relu_forward(x, w, b):
    """Affine transform followed by a ReLU.

    Inputs: x (N, d_1, ..., d_k); w (D, M); b (M,).
    Returns (out, cache): out (N, M); cache for affine_relu_backward.
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """Backward pass of affine_relu: dout (N, M) -> (dx, dw, db) shaped like x, w, b."""
    fc_cache, relu_cache = cache
    da = relu_backward(dout, relu_cache)
    return affine_backward(da, fc_cache)


def conv_relu_forward(x, w, b, conv_param):
    """Convolution followed by a ReLU.

    Inputs: x (N, C, H, W); w (F, C, HH, WW); b (F,); conv_param {'stride', 'pad'}.
    Returns (out, cache): out (N, F, H', W'); cache for conv_relu_backward.
    """
    kernels = select_kernels()
    a, conv_cache = kernels.conv_forward(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache, kernels)


def conv_relu_backward(dout, cache):
    """Backward pass of conv_relu: dout (N, F, H', W') -> (dx, dw, db) shaped like x, w, b."""
    conv_cache, relu_cache, kernels = cache
    da = relu_backward(dout, relu_cache)
    return kernels.conv_backward(da, conv_cache)


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """Convolution, ReLU, then max pooling.

    Inputs: x (N, C, H, W); w (F, C, HH, WW); b (F,); conv_param {'stride', 'pad'};
    pool_param {'pool_height', 'pool_width', 'stride'}.
    Returns (out, cache): out (N, F, H'', W'') after pooling; cache for conv_relu_pool_backward.
    """
    kernels = select_kernels()
    a, conv_cache = kernels.conv_forward(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = kernels.pool_forward(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache, kernels)


def conv_relu_pool_backward(dout, cache):
    """Backward pass of conv_relu_pool: dout (N, F, H'', W'') -> (dx, dw, db)."""
    conv_cache, relu_cache, pool_cache, kernels = cache
    ds = kernels.pool_backward(dout, pool_cache)
    da = relu_backward(ds, relu_cache)
    return kernels.conv_backward(da, conv_cache)


# ----------------------------------------------------------------------------- conv-bn-relu
from vjpnet.normalization import (spatial_batchnorm_backward,  # noqa: E402
                                  spatial_batchnorm_forward)

__all__ += ["conv_bn_relu_forward", "conv_bn_relu_backward"]


def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """Convolution, spatial batch normalization, then a ReLU.

    Inputs: x (N, C, H, W); w (F, C, HH, WW); b (F,); gamma, beta (F,);
    conv_param {'stride', 'pad'}; bn_param as for spatial_batchnorm_forward (train mode
    updates its running statistics).
    Returns (out, cache): out (N, F, H', W'); cache for conv_bn_relu_backward.
    """
    kernels = select_kernels()
    a, conv_cache = kernels.conv_forward(x, w, b, conv_param)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    return out, (conv_cache, bn_cache, relu_cache, kernels)


def conv_bn_relu_backward(dout, cache):
    """Backward pass of conv_bn_relu: dout (N, F, H', W') -> (dx, dw, db, dgamma, dbeta)."""
    conv_cache, bn_cache, relu_cache, kernels = cache
    dan = relu_backward(dout, relu_cache)
    da, dgamma, dbeta = spatial_batchnorm_backward(dan, bn_cache)
    dx, dw, db = kernels.conv_backward(da, conv_cache)
    return dx, dw, db, dgamma, dbeta
