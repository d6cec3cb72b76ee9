"""vjpnet: a small functional reverse-mode autodiff library for NumPy.

    import numpy as np, vjpnet
    loss = lambda params: np.sum(np.tanh(params["w"]) ** 2)
    grads = vjpnet.grad(loss)({"w": np.ones(3)})     # {'w': array([...])}

The layer API of the modular-nets notebook lives in `vjpnet.layers`, `vjpnet.layer_utils`
and `vjpnet.gradient_check`; differentiable layer ops in `vjpnet.nn`; training in
`vjpnet.optim`, `vjpnet.solver`, `vjpnet.models`, `vjpnet.data`.
"""
import importlib

from vjpnet import _engine  # noqa: F401  (first: picks the compiled or pure-Python engine)
from vjpnet import numpy_ops  # noqa: F401  (fills the NumPy dispatch tables)
from vjpnet import scipy as _scipy_hooks  # noqa: F401  (lazy SciPy support; imports no SciPy)
from vjpnet.numpy_ops import index_update
from vjpnet.ravel import ravel_pytree
from vjpnet.registry import (Primitive, Sample, primitive, register_function,
                             register_nondifferentiable, register_ufunc, registered,
                             stop_gradient)
from vjpnet.transforms import (checkpoint, elementwise_grad, grad, hessian, hvp, jacfwd,
                               jacobian, jacrev, jvp, linearize, print_saved, saved_residuals,
                               value_and_grad, vjp)
from vjpnet.tree import register_container

__version__ = "0.1.0"
__all__ = ["grad", "value_and_grad", "vjp", "elementwise_grad", "jvp", "linearize", "jacobian",
           "jacrev", "jacfwd", "hessian", "hvp", "checkpoint", "print_saved", "saved_residuals",
           "primitive", "Primitive", "Sample",
           "register_ufunc", "register_function", "registered", "register_nondifferentiable",
           "register_container", "stop_gradient", "index_update", "ravel_pytree", "check_grads"]

_LAZY_SUBMODULES = {"layers", "layer_utils", "nn", "gradient_check", "normalization",
                    "validation", "optim", "solver", "solver_state", "models", "data",
                    "distributed"}


def __getattr__(name):
    # Layer and training modules load on first use: `import vjpnet` stays cheap, and
    # vjpnet_fast can import vjpnet's core without a cycle through vjpnet.nn.
    if name in _LAZY_SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "check_grads":   # lives in gradient_check, which loads on first use
        return importlib.import_module(f"{__name__}.gradient_check").check_grads
    raise AttributeError(f"module 'vjpnet' has no attribute {name!r}")
