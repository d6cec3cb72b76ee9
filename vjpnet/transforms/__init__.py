"""Transforms of functions written with NumPy: reverse mode, forward mode, Jacobians and
Hessians, rematerialization, and a readable tape.

    grad, value_and_grad, vjp, elementwise_grad      reverse.py
    jvp, linearize                                   forward.py (transposes the VJP)
    jacobian, jacrev, jacfwd, hessian, hvp           jacobians.py
    checkpoint                                       checkpoint.py
    saved_residuals, print_saved                     introspection.py

Modules import one way, top to bottom: _common <- reverse <- forward <- jacobians;
checkpoint and introspection use _common only.
"""
from vjpnet.transforms.checkpoint import checkpoint, is_recomputing
from vjpnet.transforms.forward import jvp, linearize
from vjpnet.transforms.introspection import SavedResiduals, print_saved, saved_residuals
from vjpnet.transforms.jacobians import hessian, hvp, jacfwd, jacobian, jacrev
from vjpnet.transforms.reverse import elementwise_grad, grad, value_and_grad, vjp

__all__ = ["grad", "value_and_grad", "vjp", "elementwise_grad", "jvp", "linearize",
           "jacobian", "jacrev", "jacfwd", "hessian", "hvp", "checkpoint", "is_recomputing",
           "saved_residuals", "print_saved", "SavedResiduals"]
