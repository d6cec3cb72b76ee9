"""The fast kernels as first-order vjpnet primitives (their VJPs are Cython, not traceable), with
JVP rules for forward mode (vjpnet.layer_jvps).

    conv2d_fast(x, w, b, conv_param) -> out       (conv_forward_fast / conv_backward_fast)
    max_pool2d_fast(x, pool_param) -> out         (max_pool_forward_fast / max_pool_backward_fast)

`vjpnet.nn.conv2d` / `max_pool2d` pick these kernels automatically when vjpnet_fast is built;
these registrations make the pairs usable directly inside `vjpnet.grad` and put them under the
registry-driven test (VJP vs central differences, float32 in -> float32 out).
"""
import numpy as np

from vjpnet.layer_jvps import conv_tangent, pool_tangent
from vjpnet.registry import Sample, primitive
from vjpnet_fast.conv import conv_backward_fast, conv_forward_fast
from vjpnet_fast.pool import max_pool_backward_fast, max_pool_forward_fast


def _conv_spec(rng):
    """Square and rectangular filters, stride 1 to 3, with and without padding."""
    return [Sample(rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)),
                   rng.standard_normal(4), {"stride": 2, "pad": 1}),
            Sample(rng.standard_normal((1, 2, 4, 6)), rng.standard_normal((3, 2, 2, 3)),
                   rng.standard_normal(3), {"stride": 1, "pad": 0}),
            Sample(rng.standard_normal((2, 1, 7, 6)), rng.standard_normal((2, 1, 3, 2)),
                   rng.standard_normal(2), {"stride": 3, "pad": 1})]


def _distinct(rng, shape):
    """Values at least 0.1 apart, so no window has a tie (a kink of max) within the
    finite-difference step."""
    size = int(np.prod(shape))
    return (rng.permutation(size).reshape(shape) * 0.1 - 0.05 * size).astype(np.float64)


def _pool_spec(rng):
    """Tiled 2x2 windows (the fast path), overlapping and rectangular windows."""
    return [Sample(_distinct(rng, (2, 3, 4, 4)),
                   {"pool_height": 2, "pool_width": 2, "stride": 2}),
            Sample(_distinct(rng, (1, 2, 5, 5)),
                   {"pool_height": 3, "pool_width": 2, "stride": 1}),
            Sample(_distinct(rng, (2, 1, 5, 7)),
                   {"pool_height": 1, "pool_width": 3, "stride": 2})]


conv2d_fast = primitive(conv_forward_fast, vjp=conv_backward_fast, name="conv2d_fast",
                        first_order=True, selective_vjp=True, nondiff_argnums=(3,),
                        spec=_conv_spec)


@conv2d_fast.defjvp
def _conv_jvp(tangents, cache):
    return conv_tangent(conv2d_fast, tangents, cache.x, cache.w, cache.b, cache.conv_param)


def _max_pool_jvp(tangents, cache):
    """The tangent at each window's recorded argmax."""
    return pool_tangent(tangents[0], cache.argmax, cache.pool_param["pool_width"],
                        cache.pool_param["stride"])


max_pool2d_fast = primitive(max_pool_forward_fast, vjp=max_pool_backward_fast,
                            jvp=_max_pool_jvp, name="max_pool2d_fast", first_order=True,
                            nondiff_argnums=(1,), spec=_pool_spec)
