"""Input validation shared by the naive layers, the fast (Cython) layers and the nn ops.

Every check takes `op`, the name of the calling function, and raises an error whose message
starts with it, names the argument, shows what it got (shapes, dtypes, values) and what was
expected, e.g.

    conv_forward_naive: (H + 2*pad - HH) = 7 is not divisible by stride = 2
    (x.shape=(2, 3, 6, 6), w.shape=(4, 3, 2, 2), pad=1)

ValueError for wrong shapes and values, TypeError for wrong types and dtypes. The checks read
only `.shape`, `.ndim` and `.dtype`, so they also work on values traced by `vjpnet.grad`.
The shape helpers return the sizes they derived, so callers do not recompute them.
"""
import functools
import math
import os

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _shape(array):
    return tuple(array.shape)


def check_array(op, name, value):
    """Raise TypeError unless `value` is array-like with `.shape` and `.dtype`."""
    if not (hasattr(value, "shape") and hasattr(value, "dtype")):
        raise TypeError(f"{op}: {name} must be a NumPy array, got {type(value).__name__}")


def check_ndim(op, name, value, ndim, layout):
    """Raise ValueError unless `value.ndim == ndim`; `layout` describes the expected axes."""
    check_array(op, name, value)
    if value.ndim != ndim:
        raise ValueError(f"{op}: {name} must be {ndim}-D with shape {layout}, "
                         f"got {name}.shape={_shape(value)} ({value.ndim}-D)")


def check_float_dtypes(op, **arrays):
    """Raise TypeError unless every array is float32 or float64 and all share one dtype."""
    for name, value in arrays.items():
        check_array(op, name, value)
        if np.dtype(value.dtype) not in FLOAT_DTYPES:
            raise TypeError(f"{op}: {name} must be float32 or float64, got {name}.dtype="
                            f"{value.dtype}; convert it with {name}.astype(np.float64)")
    dtypes = {np.dtype(value.dtype) for value in arrays.values()}
    if len(dtypes) > 1:
        listing = ", ".join(f"{name}.dtype={value.dtype}" for name, value in arrays.items())
        raise TypeError(f"{op}: all inputs must have one float dtype, got {listing}; "
                        f"cast them to the same dtype (no silent cast is done)")


def _param(op, params, params_name, key, minimum):
    """Read the integer `params[key]` and check it is >= minimum."""
    if not isinstance(params, dict):
        raise TypeError(f"{op}: {params_name} must be a dict, got {type(params).__name__}")
    if key not in params:
        raise ValueError(f"{op}: {params_name} is missing the key {key!r} "
                         f"(got keys {sorted(params)})")
    value = params[key]
    if not _is_int(value):
        raise TypeError(f"{op}: {params_name}[{key!r}] must be an integer, "
                        f"got {value!r} of type {type(value).__name__}")
    if value < minimum:
        relation = "> 0" if minimum == 1 else f">= {minimum}"
        raise ValueError(f"{op}: {params_name}[{key!r}] must be {relation}, got {value}")
    return int(value)


def conv_output_shape(op, x, w, b, conv_param):
    """Validate a convolution's inputs and return its sizes.

    Inputs: x (N, C, H, W), w (F, C, HH, WW), b (F,), all float32 or all float64;
    conv_param with integer 'stride' > 0 and 'pad' >= 0; the padded input must be tiled
    exactly: (H + 2*pad - HH) and (W + 2*pad - WW) non-negative and divisible by stride; the
    arrays it implies must fit in memory.
    Returns (N, C, H, W, F, HH, WW, stride, pad, H_out, W_out); stride is 1 when the output has
    a single position (any stride gives the same result then).
    """
    check_ndim(op, "x", x, 4, "(N, C, H, W)")
    check_ndim(op, "w", w, 4, "(F, C, HH, WW)")
    N, C, H, W = _shape(x)
    F, w_channels, HH, WW = _shape(w)
    if w_channels != C:
        raise ValueError(f"{op}: filter channels w.shape[1] = {w_channels} must equal input "
                         f"channels x.shape[1] = {C} (x.shape={_shape(x)}, w.shape={_shape(w)})")
    check_array(op, "b", b)
    if _shape(b) != (F,):
        raise ValueError(f"{op}: b must have shape (F,) = ({F},) for w.shape={_shape(w)}, "
                         f"got b.shape={_shape(b)}")
    check_float_dtypes(op, x=x, w=w, b=b)
    stride = _param(op, conv_param, "conv_param", "stride", 1)
    pad = _param(op, conv_param, "conv_param", "pad", 0)
    sizes = []
    for axis, size, filter_size, filter_name in (("H", H, HH, "HH"), ("W", W, WW, "WW")):
        span = size + 2 * pad - filter_size
        context = f"(x.shape={_shape(x)}, w.shape={_shape(w)}, pad={pad}, stride={stride})"
        if span < 0:
            raise ValueError(f"{op}: filter is larger than the padded input: ({axis} + 2*pad - "
                             f"{filter_name}) = {span} < 0 {context}")
        if span % stride:
            raise ValueError(f"{op}: ({axis} + 2*pad - {filter_name}) = {span} is not divisible "
                             f"by stride = {stride} {context}")
        sizes.append(span // stride + 1)
    H_out, W_out = sizes
    _check_conv_memory(op, x, w, stride, pad, H_out, W_out)
    if H_out == W_out == 1:
        stride = 1   # one window: the stride has no effect (and may not fit the kernels' ints)
    return N, C, H, W, F, HH, WW, stride, pad, H_out, W_out


@functools.cache
def memory_bytes():
    """This machine's physical memory in bytes (no limit where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return math.inf


def _format_bytes(count):
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if count < 1024 or unit == "PiB":
            return f"{count:.3g} {unit}"
        count /= 1024
    return f"{count:.3g} EiB"


def _check_conv_memory(op, x, w, stride, pad, H_out, W_out):
    """Raise ValueError when the arrays a convolution needs could not fit in memory.

    The output (N, F, H_out, W_out), the zero-padded input (N, C, H + 2*pad, W + 2*pad) and
    one image's column matrix (C*HH*WW, H_out*W_out) are counted. A huge pad or input is
    reported here, naming what implies the size, instead of failing in NumPy's allocator.
    """
    N, C, H, W = _shape(x)
    F, _, HH, WW = _shape(w)
    itemsize = np.dtype(x.dtype).itemsize
    output = (N, F, H_out, W_out)
    arrays = [("an output", output), ("a zero-padded input", (N, C, H + 2 * pad, W + 2 * pad)),
              ("a column matrix per image", (C * HH * WW, H_out * W_out))]
    limit = memory_bytes()
    what, shape = max(arrays, key=lambda item: math.prod(item[1]))
    needed = math.prod(shape) * itemsize
    if needed <= limit:
        return
    if pad >= max(HH, WW):
        cause = f"conv_param['pad'] = {pad}"
        advice = (f"; a pad of HH or more (HH={HH}, WW={WW}) only adds outputs that see the "
                  "zero padding alone")
    else:
        cause = f"x.shape={_shape(x)} with w.shape={_shape(w)}"
        advice = "; use a smaller input or batch"
    raise ValueError(f"{op}: {cause} implies an output of shape {output} (stride={stride}, "
                     f"pad={pad}) and {what} of shape {shape}, {_format_bytes(needed)} of "
                     f"{np.dtype(x.dtype).name}: more than this machine's memory "
                     f"({_format_bytes(limit)}){advice}")


def pool_output_shape(op, x, pool_param):
    """Validate a max-pool's inputs and return its sizes.

    Inputs: x (N, C, H, W) float32/float64; pool_param with integer 'pool_height',
    'pool_width', 'stride' > 0; the window fits in the input and (H - PH), (W - PW) are
    divisible by stride (no padding).
    Returns (N, C, H, W, PH, PW, stride, H_out, W_out); stride is 1 when the output has a
    single position.
    """
    check_ndim(op, "x", x, 4, "(N, C, H, W)")
    check_float_dtypes(op, x=x)
    N, C, H, W = _shape(x)
    PH = _param(op, pool_param, "pool_param", "pool_height", 1)
    PW = _param(op, pool_param, "pool_param", "pool_width", 1)
    stride = _param(op, pool_param, "pool_param", "stride", 1)
    context = f"(x.shape={_shape(x)}, pool_height={PH}, pool_width={PW}, stride={stride})"
    if PH > H or PW > W:
        raise ValueError(f"{op}: pooling window {PH}x{PW} is larger than the input "
                         f"{H}x{W} {context}")
    for axis, span in (("H - pool_height", H - PH), ("W - pool_width", W - PW)):
        if span % stride:
            raise ValueError(f"{op}: ({axis}) = {span} is not divisible by "
                             f"stride = {stride} {context}")
    H_out, W_out = (H - PH) // stride + 1, (W - PW) // stride + 1
    if H_out == W_out == 1:
        stride = 1   # one window: the stride has no effect (and may not fit the kernels' ints)
    return N, C, H, W, PH, PW, stride, H_out, W_out


def check_affine(op, x, w, b):
    """Validate affine inputs x (N, d_1, ..., d_k), w (D, M), b (M,) with D = d_1*...*d_k.

    Returns (N, D, M).
    """
    check_array(op, "x", x)
    if x.ndim < 2:
        raise ValueError(f"{op}: x must have shape (N, d_1, ..., d_k) with at least 2 axes, "
                         f"got x.shape={_shape(x)}")
    check_ndim(op, "w", w, 2, "(D, M)")
    check_array(op, "b", b)
    N = x.shape[0]
    D = math.prod(x.shape[1:])
    if D != w.shape[0]:
        raise ValueError(f"{op}: prod(x.shape[1:]) = {D} must equal w.shape[0] = {w.shape[0]} "
                         f"(x.shape={_shape(x)}, w.shape={_shape(w)})")
    M = w.shape[1]
    if _shape(b) != (M,):
        raise ValueError(f"{op}: b must have shape (M,) = ({M},) for w.shape={_shape(w)}, "
                         f"got b.shape={_shape(b)}")
    check_float_dtypes(op, x=x, w=w, b=b)
    return N, D, M


def check_scores(op, x):
    """Validate class scores x (N, C) of a float dtype, N >= 1; returns (N, C).

    An empty batch is an error: the mean loss over no examples is undefined (0 / 0).
    """
    check_ndim(op, "x", x, 2, "(N, C)")
    check_float_dtypes(op, x=x)
    if x.shape[0] == 0:
        raise ValueError(f"{op}: the batch is empty (x.shape={_shape(x)}): the mean loss over "
                         "no examples is undefined; skip empty batches")
    return _shape(x)


def check_labels(op, y, N, C):
    """Validate labels y: integer dtype, shape (N,), every value in [0, C)."""
    if not (hasattr(y, "shape") and hasattr(y, "dtype")):
        raise TypeError(f"{op}: y must be an integer NumPy array of shape (N,) = ({N},), "
                        f"got {type(y).__name__}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{op}: y must hold integer class labels, got y.dtype={y.dtype}; "
                        f"convert with y.astype(np.int64)")
    if _shape(y) != (N,):
        raise ValueError(f"{op}: y must have shape (N,) = ({N},) to match x.shape[0], "
                         f"got y.shape={_shape(y)}")
    if N and (y.min() < 0 or y.max() >= C):
        bad = y[(y < 0) | (y >= C)]
        raise ValueError(f"{op}: labels must lie in [0, C) = [0, {C}), got values "
                         f"{bad[:5].tolist()} (y.min()={y.min()}, y.max()={y.max()})")


def check_dout(op, dout, expected_shape):
    """Validate the upstream gradient: a float array of the forward output's shape."""
    check_array(op, "dout", dout)
    if _shape(dout) != tuple(expected_shape):
        raise ValueError(f"{op}: dout must have the forward output's shape "
                         f"{tuple(expected_shape)}, got dout.shape={_shape(dout)}")
    if np.dtype(dout.dtype) not in FLOAT_DTYPES:
        raise TypeError(f"{op}: dout must be float32 or float64, got dout.dtype={dout.dtype}")
