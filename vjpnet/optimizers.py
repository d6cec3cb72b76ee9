"""Whole-run optimizers over a pytree of parameters: `x = adam(gradient, x0, ...)`.

Each optimizer runs `num_iters` steps and returns the final parameters, in x0's structure:

    gradient(params, i) -> a pytree like params (e.g. `vjpnet.grad(objective)` of
                           `objective(params, i)`, where i is the step number, 0-based)
    callback(params, i, g) is called at each step before the update, with the gradient g

Parameters are flattened with `vjpnet.ravel_pytree`, so x0 may be an array or a nested
dict/list/tuple of float arrays; the update itself works on one flat vector (its dtype is the
leaves' common dtype). These are the update rules of the HIPS autograd optimizers of the same
names, with the same defaults, so ported programs follow the same trajectories. The per-array
rules of the Solver (config dicts, `w, config = rule(w, dw, config)`) are in `vjpnet.optim`.
"""
import numpy as np

from vjpnet import optim
from vjpnet.ravel import ravel_pytree

__all__ = ["sgd", "rmsprop", "adam"]


def _flat_run(name, gradient, x0, callback, num_iters, step):
    """Drive `step(vector, flat_gradient, i) -> vector` for num_iters steps on x0 flattened."""
    if not callable(gradient):
        raise TypeError(f"vjpnet.optimizers.{name}: gradient must be a function "
                        f"gradient(params, i), got {type(gradient).__name__}")
    if callback is not None and not callable(callback):
        raise TypeError(f"vjpnet.optimizers.{name}: callback must be a function "
                        f"callback(params, i, g) or None, got {type(callback).__name__}")
    vector, unravel = ravel_pytree(x0)
    vector = np.array(vector, copy=True)
    for i in range(int(num_iters)):
        params = unravel(vector)
        g = gradient(params, i)
        try:
            flat_g, _ = ravel_pytree(g)
        except TypeError as error:
            raise TypeError(f"vjpnet.optimizers.{name}: gradient(params, {i}) must return a "
                            f"pytree of float arrays like params: {error}") from None
        if np.shape(flat_g) != vector.shape:
            raise ValueError(f"vjpnet.optimizers.{name}: gradient(params, {i}) has "
                             f"{np.size(flat_g)} elements in all, params have {vector.size}; it "
                             "must return one array per parameter, shaped like it")
        flat_g = np.asarray(flat_g, dtype=vector.dtype)
        if callback is not None:
            callback(params, i, unravel(flat_g))
        vector = step(vector, flat_g, i)
    return unravel(vector)


def sgd(grad, x, callback=None, num_iters=200, step_size=0.1, mass=0.9):
    """Gradient descent with momentum: v <- mass v - (1 - mass) g; x <- x + step_size v."""
    velocity = None

    def step(vector, g, i):
        nonlocal velocity
        velocity = np.zeros_like(vector) if velocity is None else velocity
        velocity = mass * velocity - (1.0 - mass) * g
        return vector + step_size * velocity

    return _flat_run("sgd", grad, x, callback, num_iters, step)


def rmsprop(grad, x, callback=None, num_iters=100, step_size=0.1, gamma=0.9, eps=1e-8):
    """Root-mean-square propagation (vjpnet.optim.rmsprop's rule); the running mean of g**2
    starts at one."""
    config = {"learning_rate": step_size, "decay_rate": gamma, "epsilon": eps}

    def step(vector, g, i):
        config.setdefault("cache", np.ones_like(vector))
        return optim.rmsprop(vector, g, config)[0]

    return _flat_run("rmsprop", grad, x, callback, num_iters, step)


def adam(grad, x, callback=None, num_iters=100, step_size=0.001, b1=0.9, b2=0.999, eps=1e-8):
    """Adam (Kingma and Ba, 2014) with bias-corrected first and second moment estimates
    (vjpnet.optim.adam's rule, its step count kept in the config)."""
    config = {"learning_rate": step_size, "beta1": b1, "beta2": b2, "epsilon": eps}

    def step(vector, g, i):
        return optim.adam(vector, g, config)[0]

    return _flat_run("adam", grad, x, callback, num_iters, step)
