"""Compiled (Cython) conv and max-pool kernels for vjpnet, with the notebook's fast-layer API.

    from vjpnet_fast import conv_forward_fast, conv_backward_fast
    from vjpnet_fast import max_pool_forward_fast, max_pool_backward_fast

Same contracts as the naive layers in `vjpnet.layers`. Lower-level kernels: the per-image
conv passes `conv_forward_images`, `conv_backward_images` (vjpnet_fast._conv_images, calling
NumPy's BLAS found by vjpnet_fast.blas), `im2col`, `col2im` (vjpnet_fast._im2col) and
`max_pool_forward`, `max_pool_backward` (vjpnet_fast._pool), all writing into caller-provided
buffers. `relu_backward_fast` and `softmax_loss_fast` (vjpnet_fast.fused) make one pass over
memory where the NumPy layers make several. Importing this package registers the conv and
pool pairs as first-order vjpnet primitives ("conv2d_fast", "max_pool2d_fast"; see
vjpnet_fast.primitives).

Built by `pip install .` / `pip install -e .` or, in a source tree,
`python setup.py build_ext --inplace`. Without the build, importing this package raises
ImportError saying so (vjpnet itself imports and works without it).
"""
try:
    from vjpnet_fast._info import build_info
    from vjpnet_fast._conv_images import conv_backward_images, conv_forward_images  # noqa: F401
    from vjpnet_fast._im2col import col2im, im2col
    from vjpnet_fast._pool import max_pool_backward, max_pool_forward
    from vjpnet_fast import _fused  # noqa: F401
except ImportError as error:                         # pragma: no cover - depends on the build
    raise ImportError(
        "vjpnet_fast's compiled Cython kernels are not built "
        f"({error}). Build them with `pip install -e .` (or `pip install .`), or in the "
        "source tree with `python setup.py build_ext --inplace`; vjpnet works without them "
        "(vjpnet.nn then uses the naive layers)."
    ) from error

from vjpnet_fast.conv import conv_backward_fast, conv_forward_fast
from vjpnet_fast.fused import relu_backward_fast, softmax_loss_fast
from vjpnet_fast.pool import max_pool_backward_fast, max_pool_forward_fast
from vjpnet_fast.primitives import conv2d_fast, max_pool2d_fast
from vjpnet_fast.threads import get_num_threads, set_num_threads
from vjpnet_fast.workspace import clear_workspace

__all__ = [
    "conv_forward_fast", "conv_backward_fast", "max_pool_forward_fast",
    "max_pool_backward_fast", "relu_backward_fast", "softmax_loss_fast", "conv2d_fast",
    "max_pool2d_fast", "im2col", "col2im",
    "max_pool_forward", "max_pool_backward",
    "clear_workspace", "build_info", "set_num_threads", "get_num_threads",
]
