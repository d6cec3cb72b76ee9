"""The primitive factory for SciPy ufuncs, some of whose arguments are not differentiated.

    special_ufunc(sc.gammainc, "scipy.special.gammainc",
                  a=NOT_CLOSED_FORM, x=lambda g, out, a, x: g * ...,
                  spec=...)

Each keyword names one ufunc input, in order, with either its partial
`partial(g, out, *inputs) -> cotangent before broadcasting is undone` (NumPy operations only,
so it runs on traced values under nested grad), or a string saying why vjpnet does not
differentiate that input (an order n, a parameter without a closed-form derivative): those
inputs are the primitive's nondiff_argnums, so a traced value there raises at call time, naming
the function, the argument and the reason.
"""
import functools

import numpy as np

from vjpnet.numpy_ops._base import IDENTITY, UfuncPrimitive, refusing_complex, unbroadcast
from vjpnet.registry import Primitive, register_ufunc

__all__ = ["special_ufunc", "NOT_CLOSED_FORM", "INTEGER_ORDER", "COUNT", "IDENTITY", "safe"]

NOT_CLOSED_FORM = "its derivative has no closed form"
INTEGER_ORDER = "it is an integer order"
COUNT = "it is a count"
_MODULE = "vjpnet.scipy.special"   # the registry key's module (keeps keys apart from numpy's)


def special_ufunc(ufunc, public_name, *, spec, real_only=False, **arguments):
    """Register `ufunc` as a primitive (named like SciPy's function) and route it to it.

    real_only: the partials hold for real inputs only (the function is not holomorphic where
    SciPy accepts complex input); a complex result raises TypeError.
    """
    registered, ufunc = ufunc, refusing_complex(ufunc, public_name) if real_only else ufunc
    names = tuple(arguments)
    partials = tuple(arguments.values())
    if len(names) != registered.nin:
        raise ValueError(f"{public_name} takes {ufunc.nin} inputs, got partials for {names}")
    constants = tuple(i for i, partial in enumerate(partials) if isinstance(partial, str))
    differentiated = tuple(partial for partial in partials if not isinstance(partial, str))
    short_name = public_name.rsplit(".", 1)[-1]

    if registered.nin == 1:
        def forward(x):
            out = ufunc(x)
            return out, (x, out)
    else:
        def forward(*inputs):
            out = ufunc(*inputs)   # SciPy's result dtype (float64 for float32 with a Python float)
            return out, (*inputs, out)

    if not constants and registered.nin == 1:
        (partial,) = partials

        def vjp(g, cache):
            x, out = cache
            # elementwise: x's shape; x's dtype (any float for a Python float x)
            return (unbroadcast(partial(g, out, x), x),)
        primitive_type, selective = functools.partial(UfuncPrimitive, ufunc), False
    else:
        differentiated_positions = tuple(i for i in range(len(partials)) if i not in constants)

        def vjp(g, cache, needed):   # one cotangent per differentiated input
            *inputs, out = cache
            return tuple(
                unbroadcast(g if partial is IDENTITY else partial(g, out, *inputs),
                            inputs[position]) if need else None
                for partial, position, need in zip(differentiated, differentiated_positions,
                                                   needed))
        # not UfuncPrimitive: the VJP names SciPy's arguments and skips the nondiff ones
        primitive_type, selective = _SpecialUfuncPrimitive, True

    forward.__name__ = forward.__qualname__ = short_name
    forward.__module__ = _MODULE
    primitive = primitive_type(forward, vjp, selective_vjp=selective, spec=spec,
                               nondiff_argnums=constants)
    primitive.public_name = public_name
    primitive.argument_names = names
    primitive.nondiff_reasons = {i: partials[i] for i in constants}
    register_ufunc(registered, primitive)
    return primitive


class _SpecialUfuncPrimitive(Primitive):
    """A ufunc primitive of several inputs, some of which may be nondiff (with a reason)."""

    def argument_name(self, position):
        return self.argument_names[position]

    def nondiff_error(self, position):
        name = self.argument_names[position]
        signature = f"{self.public_name}({', '.join(self.argument_names)})"
        return TypeError(
            f"{signature}: vjpnet does not differentiate with respect to {name} "
            f"({self.nondiff_reasons[position]}), but {name} is traced (it depends on the "
            f"values being differentiated). Pass {name} as a constant, or "
            f"vjpnet.stop_gradient({name}) to treat it as one.")


def safe(condition, value, fallback):
    """np.where(condition, value, fallback) for the *input* of a formula evaluated everywhere
    and masked afterwards: the masked-out entries see `fallback`, so neither the value nor its
    derivatives there are inf/NaN (which would turn the masked zero cotangent into NaN)."""
    if np.all(condition):   # a plain mask (comparisons of traced values are plain)
        return value
    return np.where(condition, value, fallback)
