"""Reverse mode: grad, value_and_grad, vjp and elementwise_grad, with JAX's semantics for
argnums and has_aux.

    grads = vjpnet.grad(loss_fn)(params, X, y)          # same structure as params
    (loss, aux), grads = vjpnet.value_and_grad(f, has_aux=True)(params)
    out, vjp_fn = vjpnet.vjp(f, x, w);  dx, dw = vjp_fn(cotangent_like_out)
    dz = vjpnet.grad(f, holomorphic=True)(z)            # f'(z) of a holomorphic f

Complex numbers follow HIPS autograd and JAX: the gradient of a real f of z = x + iy is
df/dx - i df/dy, and a VJP multiplies by the holomorphic derivative without conjugating.
"""
import functools

import numpy as np

from vjpnet import tree
from vjpnet.tape import Traced, backward, dtype_of, open_tape
from vjpnet.transforms._common import (Trace, check_argnums, check_scalar_output,
                                       collect, dtype_kind, is_float_leaf, name_of,
                                       resolve_argnums, shape_of, split_aux, trace_args,
                                       untrace)


def grad(f, argnums=0, has_aux=False, holomorphic=False, *, argnum=None):
    """Return a function computing the gradient of scalar-valued `f` w.r.t. args[argnums].

    With a tuple `argnums` the gradients come back as a tuple; with `has_aux=True` `f` returns
    (out, aux) and the new function returns (gradient, aux).
    `f` returns a real scalar; for complex arguments z = x + iy the gradient is df/dx - i df/dy.
    holomorphic=True: `f` maps complex arguments to a complex scalar and is holomorphic; the
    result is its complex derivative f'(z) (for a holomorphic f, the VJP of the cotangent 1).
    `argnum=` is accepted for `argnums=` (HIPS autograd's name); a list of positions is a tuple.
    """
    argnums = resolve_argnums("grad", f, argnums, argnum)
    value_and_grad_f = value_and_grad(f, argnums, has_aux, holomorphic)

    @functools.wraps(f)
    def grad_f(*args, **kwargs):
        value, gradient = value_and_grad_f(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient

    return grad_f


def value_and_grad(f, argnums=0, has_aux=False, holomorphic=False, *, argnum=None):
    """Like `grad`, but the new function returns (value of f, gradient)."""
    name = name_of(f)
    argnums = resolve_argnums("value_and_grad", f, argnums, argnum)

    @functools.wraps(f)
    def value_and_grad_f(*args, **kwargs):
        positions = check_argnums(name, argnums, len(args))
        with open_tape() as tape:
            traced_args, inputs = trace_args(name, tape, args, positions,
                                             holomorphic=holomorphic)
            result = f(*traced_args, **kwargs)
            out, aux = split_aux(name, result, has_aux)
            if aux is not None:
                aux = untrace(tape, aux)
        check_scalar_output(name, out, holomorphic)
        if type(out) is Traced and out.tape is tape:
            value = out.value
            seed = np.ones(shape_of(value), dtype_of(value))
            cotangents = backward(tape, [(out.node, seed)], free=True)
        else:   # f does not depend on the differentiated arguments
            cotangents, value = None, out
        tape.entries.clear()
        if isinstance(argnums, tuple):
            gradient = tuple([collect(inputs_of_arg, cotangents) for inputs_of_arg in inputs])
        else:
            gradient = collect(inputs[0], cotangents)
        return ((value, aux) if has_aux else value), gradient

    return value_and_grad_f


def vjp(f, *args, has_aux=False):
    """Trace f(*args); return (out, vjp_fn) where vjp_fn(cotangent) -> tuple of cotangents,
    one per argument, each with that argument's structure. `cotangent` has out's structure.
    With has_aux=True, f returns (out, aux) and vjp returns (out, vjp_fn, aux)."""
    name = name_of(f)
    trace = Trace(name, f, args, tuple(range(len(args))), has_aux, transform="vjp")

    def vjp_fn(cotangent):
        return trace.pull_back(_seeds(trace, cotangent), free=False)

    out = trace.out_value()
    return (out, vjp_fn, trace.aux) if has_aux else (out, vjp_fn)


def _seeds(trace, cotangent):
    """[(node, cotangent leaf)] for the output leaves that depend on the inputs; checks that
    `cotangent` has the output's structure and each leaf its shape."""
    ct_leaves, ct_treedef = tree.flatten(cotangent)
    if ct_treedef != trace.out_treedef:
        raise ValueError(f"vjp of {trace.name}: the cotangent has structure {ct_treedef!r}, "
                         f"expected the structure of the output {trace.out_treedef!r}")
    seeds = []
    for index, (leaf, ct) in enumerate(zip(trace.out_leaves, ct_leaves)):
        if trace.depends(leaf) and ct is not None:
            if shape_of(ct) != leaf.shape:
                raise ValueError(
                    f"vjp of {trace.name}: cotangent for output leaf {index} has shape "
                    f"{shape_of(ct)}, expected {leaf.shape}")
            if leaf.dtype.kind != "c" and dtype_kind(ct) == "c":
                raise TypeError(
                    f"vjp of {trace.name}: cotangent for output leaf {index} is complex "
                    f"({getattr(ct, 'dtype', type(ct).__name__)}), but that output is real "
                    f"({leaf.dtype}); pass a real cotangent")
            if type(ct) is not Traced:
                ct = np.asarray(ct, dtype=leaf.dtype)
            seeds.append((leaf.node, ct))
    return seeds


def elementwise_grad(f, argnums=0, has_aux=False, *, argnum=None):
    """The gradient of sum(f(*args)) w.r.t. args[argnums]: for an elementwise f, the derivative
    of each output element w.r.t. its input element, shaped like the input.

        vjpnet.elementwise_grad(np.tanh)(x)        # 1 - tanh(x)**2, shape of x

    f may return a pytree (every float leaf is summed). With has_aux=True f returns (out, aux)
    and the new function returns (gradient, aux). `argnum=` is an alias of `argnums=`.
    """
    name = name_of(f)
    argnums = resolve_argnums("elementwise_grad", f, argnums, argnum)

    @functools.wraps(f)
    def elementwise_grad_f(*args, **kwargs):
        positions = check_argnums(name, argnums, len(args), "elementwise_grad")
        trace = Trace(name, f, args, positions, has_aux, kwargs, "elementwise_grad")
        seeds = [(leaf.node, np.ones(leaf.shape, leaf.dtype))
                 for leaf in trace.out_leaves if trace.depends(leaf) and is_float_leaf(leaf)]
        gradients = trace.pull_back(seeds, free=True)
        gradient = gradients if isinstance(argnums, tuple) else gradients[0]
        return (gradient, trace.aux) if has_aux else gradient

    return elementwise_grad_f
