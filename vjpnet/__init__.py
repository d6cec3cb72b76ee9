"""vjpnet: a small functional reverse-mode autodiff library for NumPy.

    import numpy as np, vjpnet
    loss = lambda params: np.sum(np.tanh(params["w"]) ** 2)
    grads = vjpnet.grad(loss)({"w": np.ones(3)})     # {'w': array([...])}

The layer API of the modular-nets notebook lives in `vjpnet.layers`, `vjpnet.layer_utils`
and `vjpnet.gradient_check`; differentiable layer ops in `vjpnet.nn`; training in
`vjpnet.optim`, `vjpnet.solver`, `vjpnet.models`, `vjpnet.data`.
"""
import importlib

__version__ = "0.1.0"

_SUBMODULES = {
    "tree", "registry", "tape", "transforms", "numpy_ops", "layers", "layer_utils", "nn",
    "gradient_check", "normalization", "optim", "solver", "models", "data",
}


def __getattr__(name):
    # Submodules load on first use, so `import vjpnet` stays cheap and vjpnet_fast may import
    # vjpnet's core without a cycle through vjpnet.nn.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'vjpnet' has no attribute {name!r}")
