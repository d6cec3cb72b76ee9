"""Batch normalization and dropout as forward/backward layer pairs (plain NumPy).

Same shape of API as the notebook's layers: `name_forward(...) -> (out, cache)` and
`name_backward(dout, cache)` returning one gradient per differentiable input, in input order.
`vjpnet.layers` re-exports everything here; `vjpnet.nn` registers the pairs as primitives.

Conventions (SPEC.md):
- batchnorm: `bn_param` keys `mode` ('train' or 'test', required), `eps` (1e-5), `momentum`
  (0.9), `running_mean` / `running_var` (default zeros of shape (D,)). In train mode the batch
  statistics (biased variance, ddof=0) normalize the input and the running statistics are
  written back into `bn_param` as running = momentum * running + (1 - momentum) * batch. In
  test mode the running statistics normalize the input and are left as they are (missing
  ones are stored as the default zeros).
- dropout: `dropout_param` keys `p` (probability of DROPPING a unit, 0 <= p < 1, as in
  PyTorch), `mode` ('train' or 'test', required), optional `seed`. Inverted dropout: kept
  units are scaled by 1 / (1 - p) in train mode, so test mode is the identity. Without a seed
  the mask is drawn from NumPy's global random state (`np.random.seed` makes it repeatable);
  with a seed every call draws the same mask.
- dtype: float32 or float64, preserved end to end; all float inputs of one call share a dtype.
"""
import numbers

import numpy as np

from vjpnet.validation import check_dout, check_float_dtypes

__all__ = [
    "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
    "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "dropout_forward", "dropout_backward",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))   # running statistics
_MODES = ("train", "test")


# ----------------------------------------------------------------------------- validation

def _check_mode(func, param_name, param):
    if not isinstance(param, dict):
        raise TypeError(f"{func}: {param_name} must be a dict, got {type(param).__name__}")
    if "mode" not in param:
        raise ValueError(f"{func}: {param_name}['mode'] is missing; expected 'train' or 'test'")
    mode = param["mode"]
    if not isinstance(mode, str) or mode not in _MODES:
        raise ValueError(f"{func}: {param_name}['mode'] must be 'train' or 'test', got {mode!r}")
    return mode


def _real_setting(func, param_name, param, key, default, low, high, high_inclusive=False):
    value = param.get(key, default)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{func}: {param_name}[{key!r}] must be a real number, got {value!r}")
    value = float(value)   # a Python float keeps float32 arithmetic in float32 (NEP 50)
    ok = low <= value <= high if high_inclusive else low <= value < high
    if not ok:
        closing = "]" if high_inclusive else ")"
        raise ValueError(f"{func}: {param_name}[{key!r}] must be in [{low}, {high}{closing}, "
                         f"got {value!r}")
    return value


def _check_batchnorm_inputs(func, x, gamma, beta, bn_param, x_ndim):
    check_float_dtypes(func, x=x, gamma=gamma, beta=beta)
    layout = "(N, D)" if x_ndim == 2 else "(N, C, H, W)"
    if x.ndim != x_ndim:
        raise ValueError(f"{func}: x must have shape {layout}, got x.shape={x.shape}")
    features = x.shape[1]
    for name, value in (("gamma", gamma), ("beta", beta)):
        if value.shape != (features,):
            raise ValueError(f"{func}: {name} must have shape ({features},) to match "
                             f"x.shape={x.shape}, got {name}.shape={value.shape}")
    mode = _check_mode(func, "bn_param", bn_param)
    eps = _real_setting(func, "bn_param", bn_param, "eps", 1e-5, 0.0, np.inf)
    if eps <= 0.0:
        raise ValueError(f"{func}: bn_param['eps'] must be > 0, got {eps!r}")
    momentum = _real_setting(func, "bn_param", bn_param, "momentum", 0.9, 0.0, 1.0,
                             high_inclusive=True)
    return mode, eps, momentum


def _running_statistic(func, bn_param, key, features, dtype):
    value = bn_param.get(key)
    if value is None:
        return np.zeros(features, dtype=dtype)
    if not isinstance(value, np.ndarray) or value.dtype not in _FLOAT_DTYPES:
        got = (f"dtype {value.dtype}" if isinstance(value, np.ndarray)
               else type(value).__name__)
        raise TypeError(f"{func}: bn_param[{key!r}] must be a float32 or float64 ndarray of "
                        f"shape ({features},), got {got}")
    if value.shape != (features,):
        raise ValueError(f"{func}: bn_param[{key!r}] must have shape ({features},), "
                         f"got shape {value.shape}")
    return value


# ----------------------------------------------------------------------------- batchnorm

def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalization over the batch axis.

    Inputs:
    - x: data of shape (N, D)
    - gamma: scale parameter of shape (D,)
    - beta: shift parameter of shape (D,)
    - bn_param: dict with 'mode' ('train' or 'test'), optional 'eps' (1e-5), 'momentum' (0.9),
      'running_mean' and 'running_var' (arrays of shape (D,), default zeros). Train mode
      writes updated running statistics back into this dict.

    Returns a tuple of:
    - out: shape (N, D), same dtype as x
    - cache: values needed by batchnorm_backward / batchnorm_backward_alt
    """
    func = "batchnorm_forward"
    mode, eps, momentum = _check_batchnorm_inputs(func, x, gamma, beta, bn_param, x_ndim=2)
    num_samples, features = x.shape
    running_mean = _running_statistic(func, bn_param, "running_mean", features, x.dtype)
    running_var = _running_statistic(func, bn_param, "running_var", features, x.dtype)

    if mode == "train":
        if num_samples == 0:
            raise ValueError(f"{func}: train mode needs at least one sample, got x.shape={x.shape}")
        batch_mean = x.mean(axis=0)
        x_centered = x - batch_mean
        batch_var = np.mean(x_centered * x_centered, axis=0)
        std = np.sqrt(batch_var + eps)
        x_hat = x_centered / std
        bn_param["running_mean"] = (momentum * running_mean
                                    + (1.0 - momentum) * batch_mean).astype(running_mean.dtype)
        bn_param["running_var"] = (momentum * running_var
                                   + (1.0 - momentum) * batch_var).astype(running_var.dtype)
    else:
        x_centered = x - running_mean.astype(x.dtype, copy=False)
        std = np.sqrt(running_var.astype(x.dtype, copy=False) + eps)
        x_hat = x_centered / std
        bn_param.setdefault("running_mean", running_mean)   # the defaults, as in train mode
        bn_param.setdefault("running_var", running_var)
    out = gamma * x_hat + beta
    cache = (mode, x_hat, std, gamma)
    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass of batch normalization, step by step through the computational graph.

    Inputs:
    - dout: upstream derivatives of shape (N, D)
    - cache: from batchnorm_forward

    Returns a tuple of:
    - dx: shape (N, D)
    - dgamma: shape (D,)
    - dbeta: shape (D,)
    """
    mode, x_hat, std, gamma = cache
    check_dout("batchnorm_backward", dout, x_hat.shape)
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    if mode == "test":            # running statistics are constants: out is affine in x
        return dx_hat / std, dgamma, dbeta
    num_samples = dout.shape[0]
    inv_std = 1.0 / std
    x_centered = x_hat * std
    # x_hat = x_centered * inv_std
    dinv_std = (dx_hat * x_centered).sum(axis=0)
    dx_centered = dx_hat * inv_std
    # inv_std = 1 / sqrt(var + eps);  d inv_std / d var = -0.5 * inv_std**3
    dvar = -0.5 * dinv_std * inv_std ** 3
    # var = mean(x_centered ** 2)
    dx_centered = dx_centered + (2.0 / num_samples) * x_centered * dvar
    # x_centered = x - mean(x)
    dmean = -dx_centered.sum(axis=0)
    dx = dx_centered + dmean / num_samples
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """Backward pass of batch normalization in closed form; same contract as
    batchnorm_backward: dout (N, D) -> dx (N, D), dgamma (D,), dbeta (D,).

    dx = gamma / (N * std) * (N * dout - sum(dout) - x_hat * sum(dout * x_hat))
    """
    mode, x_hat, std, gamma = cache
    check_dout("batchnorm_backward_alt", dout, x_hat.shape)
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    if mode == "test":
        return dout * (gamma / std), dgamma, dbeta
    num_samples = dout.shape[0]
    dx = (gamma / (num_samples * std)) * (num_samples * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Spatial batch normalization: statistics per channel over N, H and W.

    Inputs:
    - x: data of shape (N, C, H, W)
    - gamma: scale parameter of shape (C,)
    - beta: shift parameter of shape (C,)
    - bn_param: as for batchnorm_forward (running statistics of shape (C,))

    Returns a tuple of:
    - out: shape (N, C, H, W)
    - cache: values needed by spatial_batchnorm_backward
    """
    func = "spatial_batchnorm_forward"
    _check_batchnorm_inputs(func, x, gamma, beta, bn_param, x_ndim=4)
    num_samples, channels, height, width = x.shape
    x_rows = x.transpose(0, 2, 3, 1).reshape(num_samples * height * width, channels)
    try:
        out_rows, bn_cache = batchnorm_forward(x_rows, gamma, beta, bn_param)
    except ValueError as error:   # name the spatial layer and the 4-d shape, not the reshaped one
        raise ValueError(f"{func} (x.shape={x.shape}): {error}") from None
    out = np.ascontiguousarray(
        out_rows.reshape(num_samples, height, width, channels).transpose(0, 3, 1, 2))
    return out, (bn_cache, x.shape)


def spatial_batchnorm_backward(dout, cache):
    """Backward pass of spatial batch normalization.

    Inputs:
    - dout: upstream derivatives of shape (N, C, H, W)
    - cache: from spatial_batchnorm_forward

    Returns a tuple of:
    - dx: shape (N, C, H, W)
    - dgamma: shape (C,)
    - dbeta: shape (C,)
    """
    bn_cache, shape = cache
    check_dout("spatial_batchnorm_backward", dout, shape)
    num_samples, channels, height, width = shape
    dout_rows = dout.transpose(0, 2, 3, 1).reshape(num_samples * height * width, channels)
    dx_rows, dgamma, dbeta = batchnorm_backward_alt(dout_rows, bn_cache)
    dx = np.ascontiguousarray(
        dx_rows.reshape(num_samples, height, width, channels).transpose(0, 3, 1, 2))
    return dx, dgamma, dbeta


# ----------------------------------------------------------------------------- dropout

def dropout_forward(x, dropout_param):
    """Inverted dropout.

    Inputs:
    - x: data of any shape, float32 or float64
    - dropout_param: dict with
      - 'p': probability of dropping each unit, 0 <= p < 1
      - 'mode': 'train' (drop and rescale by 1 / (1 - p)) or 'test' (identity)
      - 'seed' (optional): draw the mask from np.random.default_rng(seed), the same mask on
        every call; without it the mask comes from NumPy's global random state.

    Returns a tuple of:
    - out: same shape and dtype as x
    - cache: (dropout_param, mask); mask is None in test mode
    """
    func = "dropout_forward"
    check_float_dtypes(func, x=x)
    mode = _check_mode(func, "dropout_param", dropout_param)
    if "p" not in dropout_param:
        raise ValueError(f"{func}: dropout_param['p'] is missing; expected the probability of "
                         f"dropping a unit, 0 <= p < 1")
    p = _real_setting(func, "dropout_param", dropout_param, "p", None, 0.0, 1.0)
    if mode == "test":
        return x.copy(), (dropout_param, None)
    seed = dropout_param.get("seed")
    if seed is None:
        uniform = np.random.random_sample(x.shape)
    else:
        uniform = np.random.default_rng(seed).random(x.shape)
    mask = (uniform >= p).astype(x.dtype) * (1.0 / (1.0 - p))
    out = x * mask
    return out, (dropout_param, mask)


def dropout_backward(dout, cache):
    """Backward pass of inverted dropout: dout (any shape) -> dx (same shape)."""
    _, mask = cache
    if mask is not None:
        check_dout("dropout_backward", dout, mask.shape)
    if mask is None:
        return dout.copy()
    return dout * mask
