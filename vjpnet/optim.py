"""First-order update rules.

Every rule has the signature

    next_w, config = rule(w, dw, config=None)

- w: current weights, a float ndarray of any shape
- dw: gradient of the loss with respect to w, same shape as w
- config: dict of hyperparameters and optimizer state; missing keys are filled with the
  defaults below, state arrays start as zeros like w. The same dict (updated) is returned and
  should be passed to the next call for the same w.

The rules never modify w or dw in place. Arithmetic stays in w's dtype (hyperparameters are
used as Python floats).
"""
import numbers

import numpy as np

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam", "UPDATE_RULES", "get_update_rule"]


def _prepare(func, w, dw, config):
    if not isinstance(w, np.ndarray) or not isinstance(dw, np.ndarray):
        raise TypeError(f"{func}: w and dw must be numpy ndarrays, got "
                        f"{type(w).__name__} and {type(dw).__name__}")
    if w.shape != dw.shape:
        raise ValueError(f"{func}: dw must have the shape of w, got w.shape={w.shape}, "
                         f"dw.shape={dw.shape}")
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise TypeError(f"{func}: config must be a dict or None, got {type(config).__name__}")
    return config


def _hyperparameter(func, config, key, default):
    value = config.setdefault(key, default)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{func}: config[{key!r}] must be a real number, got {value!r}")
    return float(value)


def _state(func, config, key, w):
    value = config.get(key)
    if value is None:
        value = np.zeros_like(w)
        config[key] = value
    elif not isinstance(value, np.ndarray) or value.shape != w.shape:
        shape = value.shape if isinstance(value, np.ndarray) else type(value).__name__
        raise ValueError(f"{func}: config[{key!r}] must be an array of shape {w.shape} "
                         f"(the shape of w), got {shape}; use one config dict per parameter")
    return value


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: w - learning_rate * dw.

    config: learning_rate (1e-2).
    """
    config = _prepare("sgd", w, dw, config)
    learning_rate = _hyperparameter("sgd", config, "learning_rate", 1e-2)
    return w - learning_rate * dw, config


def sgd_momentum(w, dw, config=None):
    """SGD with momentum: v = momentum * v - learning_rate * dw; next_w = w + v.

    config: learning_rate (1e-2), momentum (0.9), velocity (zeros like w).
    """
    config = _prepare("sgd_momentum", w, dw, config)
    learning_rate = _hyperparameter("sgd_momentum", config, "learning_rate", 1e-2)
    momentum = _hyperparameter("sgd_momentum", config, "momentum", 0.9)
    velocity = _state("sgd_momentum", config, "velocity", w)
    velocity = momentum * velocity - learning_rate * dw
    config["velocity"] = velocity
    return w + velocity, config


def rmsprop(w, dw, config=None):
    """RMSProp: cache = decay_rate * cache + (1 - decay_rate) * dw**2;
    next_w = w - learning_rate * dw / (sqrt(cache) + epsilon).

    config: learning_rate (1e-2), decay_rate (0.99), epsilon (1e-8), cache (zeros like w).
    """
    config = _prepare("rmsprop", w, dw, config)
    learning_rate = _hyperparameter("rmsprop", config, "learning_rate", 1e-2)
    decay_rate = _hyperparameter("rmsprop", config, "decay_rate", 0.99)
    epsilon = _hyperparameter("rmsprop", config, "epsilon", 1e-8)
    cache = _state("rmsprop", config, "cache", w)
    cache = decay_rate * cache + (1.0 - decay_rate) * (dw * dw)
    config["cache"] = cache
    return w - learning_rate * dw / (np.sqrt(cache) + epsilon), config


def adam(w, dw, config=None):
    """Adam with bias correction.

    t = t + 1 (first); m = beta1 * m + (1 - beta1) * dw; v = beta2 * v + (1 - beta2) * dw**2;
    next_w = w - learning_rate * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + epsilon).
    The uncorrected m and v are stored in config.

    config: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8), m and v (zeros
    like w), t (0).
    """
    config = _prepare("adam", w, dw, config)
    learning_rate = _hyperparameter("adam", config, "learning_rate", 1e-3)
    beta1 = _hyperparameter("adam", config, "beta1", 0.9)
    beta2 = _hyperparameter("adam", config, "beta2", 0.999)
    epsilon = _hyperparameter("adam", config, "epsilon", 1e-8)
    m = _state("adam", config, "m", w)
    v = _state("adam", config, "v", w)
    t = config.setdefault("t", 0)
    if isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0:
        raise ValueError(f"adam: config['t'] must be a non-negative integer, got {t!r}")
    t = int(t) + 1
    m = beta1 * m + (1.0 - beta1) * dw
    v = beta2 * v + (1.0 - beta2) * (dw * dw)
    m_hat = m / (1.0 - beta1 ** t)
    v_hat = v / (1.0 - beta2 ** t)
    config["t"], config["m"], config["v"] = t, m, v
    return w - learning_rate * m_hat / (np.sqrt(v_hat) + epsilon), config


UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}


def get_update_rule(update_rule):
    """Return the update rule named `update_rule` ('sgd', 'sgd_momentum', 'rmsprop', 'adam'),
    or `update_rule` itself when it is a callable with the rule signature."""
    if callable(update_rule):
        return update_rule
    if isinstance(update_rule, str) and update_rule in UPDATE_RULES:
        return UPDATE_RULES[update_rule]
    raise ValueError(f"unknown update rule {update_rule!r}; expected one of "
                     f"{sorted(UPDATE_RULES)} or a callable rule(w, dw, config)")
