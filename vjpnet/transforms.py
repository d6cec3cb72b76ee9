"""grad, value_and_grad and vjp, with JAX's semantics for argnums and has_aux.

    grads = vjpnet.grad(loss_fn)(params, X, y)          # same structure as params
    (loss, aux), grads = vjpnet.value_and_grad(f, has_aux=True)(params)
    out, vjp_fn = vjpnet.vjp(f, x, w);  dx, dw = vjp_fn(cotangent_like_out)
    dz = vjpnet.grad(f, holomorphic=True)(z)            # f'(z) of a holomorphic f

Complex numbers follow HIPS autograd and JAX: the gradient of a real f of z = x + iy is
df/dx - i df/dy, and a VJP multiplies by the holomorphic derivative without conjugating.
"""
import functools
import math

import numpy as np

from vjpnet import tree
from vjpnet.tape import Traced, backward, is_differentiable, is_float, open_tape


def grad(f, argnums=0, has_aux=False, holomorphic=False):
    """Return a function computing the gradient of scalar-valued `f` w.r.t. args[argnums].

    With a tuple `argnums` the gradients come back as a tuple; with `has_aux=True` `f` returns
    (out, aux) and the new function returns (gradient, aux).
    `f` returns a real scalar; for complex arguments z = x + iy the gradient is df/dx - i df/dy.
    holomorphic=True: `f` maps complex arguments to a complex scalar and is holomorphic; the
    result is its complex derivative f'(z) (for a holomorphic f, the VJP of the cotangent 1).
    """
    value_and_grad_f = value_and_grad(f, argnums, has_aux, holomorphic)

    @functools.wraps(f)
    def grad_f(*args, **kwargs):
        value, gradient = value_and_grad_f(*args, **kwargs)
        return (gradient, value[1]) if has_aux else gradient

    return grad_f


def value_and_grad(f, argnums=0, has_aux=False, holomorphic=False):
    """Like `grad`, but the new function returns (value of f, gradient)."""
    name = _name(f)

    @functools.wraps(f)
    def value_and_grad_f(*args, **kwargs):
        positions = _check_argnums(name, argnums, len(args))
        with open_tape() as tape:
            traced_args, inputs = _trace_args(name, tape, args, positions, holomorphic)
            result = f(*traced_args, **kwargs)
            out, aux = _split_aux(name, result, has_aux)
            if aux is not None:
                aux = _untrace(tape, aux)
        _check_scalar_output(name, out, holomorphic)
        if type(out) is Traced and out.tape is tape:
            seed = np.ones(out.shape, dtype=out.dtype)
            cotangents = backward(tape, [(out.node, seed)], free=True)
            value = out.value
        else:   # f does not depend on the differentiated arguments
            cotangents, value = None, out
        tape.entries.clear()
        gradients = tuple(_collect(inputs_of_arg, cotangents) for inputs_of_arg in inputs)
        gradient = gradients if isinstance(argnums, tuple) else gradients[0]
        return ((value, aux) if has_aux else value), gradient

    return value_and_grad_f


def vjp(f, *args, has_aux=False):
    """Trace f(*args); return (out, vjp_fn) where vjp_fn(cotangent) -> tuple of cotangents,
    one per argument, each with that argument's structure. `cotangent` has out's structure.
    With has_aux=True, f returns (out, aux) and vjp returns (out, vjp_fn, aux)."""
    name = _name(f)
    with open_tape() as tape:
        traced_args, inputs = _trace_args(name, tape, args, tuple(range(len(args))))
        out, aux = _split_aux(name, f(*traced_args), has_aux)
        aux = _untrace(tape, aux)
    out_leaves, out_treedef = tree.flatten(out)
    out_value = tree.unflatten(out_treedef, [_untrace(tape, leaf) for leaf in out_leaves])

    def vjp_fn(cotangent):
        ct_leaves, ct_treedef = tree.flatten(cotangent)
        if ct_treedef != out_treedef:
            raise ValueError(f"vjp of {name}: the cotangent has structure {ct_treedef!r}, "
                             f"expected the structure of the output {out_treedef!r}")
        seeds = []
        for index, (leaf, ct) in enumerate(zip(out_leaves, ct_leaves)):
            if type(leaf) is Traced and leaf.tape is tape and ct is not None:
                if _shape(ct) != leaf.shape:
                    raise ValueError(
                        f"vjp of {name}: cotangent for output leaf {index} has shape "
                        f"{_shape(ct)}, expected {leaf.shape}")
                if leaf.dtype.kind != "c" and np.iscomplexobj(ct):
                    raise TypeError(
                        f"vjp of {name}: cotangent for output leaf {index} is complex "
                        f"({_dtype(ct)}), but that output is real ({leaf.dtype}); pass a real "
                        "cotangent")
                if type(ct) is not Traced:
                    ct = np.asarray(ct, dtype=leaf.dtype)
                seeds.append((leaf.node, ct))
        cotangents = backward(tape, seeds, free=False)
        return tuple(_collect(inputs_of_arg, cotangents) for inputs_of_arg in inputs)

    return (out_value, vjp_fn, aux) if has_aux else (out_value, vjp_fn)


# --- helpers ----------------------------------------------------------------------------

def _name(f):
    return getattr(f, "__name__", type(f).__name__)


def _check_argnums(name, argnums, num_args):
    positions = argnums if isinstance(argnums, tuple) else (argnums,)
    for position in positions:
        if not isinstance(position, int) or not -num_args <= position < num_args:
            raise ValueError(f"grad of {name}: argnums={argnums!r} does not fit the "
                             f"{num_args} positional arguments it was called with")
    return tuple(position % num_args for position in positions)


def _trace_args(name, tape, args, positions, holomorphic=False):
    """Wrap the float and complex leaves of args[positions] as inputs of `tape`.

    Returns (args with traced leaves, [(treedef, [input Traced, ...], python_complex) per
    position]); python_complex: indices of leaves that were Python complex numbers (traced as
    NumPy complex128 scalars, their gradients are given back as Python complex).
    """
    args = list(args)
    inputs = []
    for position in positions:
        leaves, treedef = tree.flatten(args[position])
        python_complex = set()
        for index, leaf in enumerate(leaves):
            if not is_differentiable(leaf) or isinstance(leaf, bool) or \
                    (holomorphic and is_float(leaf)):
                raise _input_error(name, args[position], position, index, leaf, holomorphic)
            if type(leaf) is complex:
                python_complex.add(index)
                leaves[index] = np.complex128(leaf)
        traced = [tape.new_input(leaf) for leaf in leaves]
        inputs.append((treedef, traced, python_complex))
        args[position] = tree.unflatten(treedef, traced)
    return args, inputs


def _input_error(name, arg, position, index, leaf, holomorphic):
    path = tree.leaf_paths(arg)[index]
    got = f"{getattr(leaf, 'dtype', type(leaf).__name__)} " \
          f"{np.shape(leaf) if hasattr(leaf, 'shape') else ''}".rstrip()
    if holomorphic and is_float(leaf):
        return TypeError(
            f"grad of {name} with holomorphic=True: argument {position}{path} is {got}; a "
            "holomorphic derivative is taken with respect to complex arguments (cast with "
            ".astype(complex), or drop holomorphic=True for a real-valued function)")
    return TypeError(
        f"grad of {name}: argument {position}{path} is {got}; only float and complex arrays "
        "and numbers can be differentiated (cast with .astype(float), or move it out of "
        "argnums)")


def _split_aux(name, result, has_aux):
    if not has_aux:
        return result, None
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"{name} was transformed with has_aux=True, so it must return a pair "
                        f"(output, aux); it returned {type(result).__name__}")
    return result[0], result[1]


def _untrace(tape, value):
    """Drop this tape's tracing from every leaf of `value` (aux data, outputs)."""
    def untrace_leaf(leaf):
        return leaf.value if type(leaf) is Traced and leaf.tape is tape else leaf
    return tree.tree_map(untrace_leaf, value)


def _check_scalar_output(name, out, holomorphic=False):
    integer = isinstance(out, (int, np.integer)) and not isinstance(out, bool)
    if not is_differentiable(out) and not integer:
        raise TypeError(f"grad of {name}: the function must return a float scalar, it returned "
                        f"{type(out).__name__}{_dtype_note(out)}")
    if holomorphic and not (is_differentiable(out) and _dtype(out).kind == "c"):
        raise TypeError(
            f"grad of {name} with holomorphic=True: the function must return a complex scalar, "
            f"it returned {type(out).__name__}{_dtype_note(out)}; a real-valued function is "
            "holomorphic only if constant, so drop holomorphic=True")
    if not holomorphic and not integer and _dtype(out).kind == "c":
        raise TypeError(
            f"grad of {name}: the function must return a real scalar, it returned a complex "
            f"one{_dtype_note(out)}. Reduce it to a real number (np.real, np.abs, "
            "np.abs(z) ** 2), pass holomorphic=True for the derivative of a holomorphic "
            "function, or use vjpnet.vjp with a complex cotangent")
    if math.prod(_shape(out)) != 1:
        raise ValueError(
            f"grad of {name}: the function must return a scalar (shape () or one element), it "
            f"returned shape {_shape(out)}; reduce it, "
            f"e.g. with .sum(), or use vjpnet.vjp for a vector-Jacobian product")


def _dtype(value):
    dtype = getattr(value, "dtype", None)
    return dtype if dtype is not None else np.result_type(value)


def _shape(value):
    shape = getattr(value, "shape", None)
    return np.shape(value) if shape is None else shape


def _dtype_note(out):
    dtype = getattr(out, "dtype", None)
    return f" of dtype {dtype}" if dtype is not None else ""


def _collect(inputs_of_arg, cotangents):
    """Rebuild one argument's gradient tree from the cotangents of its input nodes."""
    treedef, traced_inputs, python_complex = inputs_of_arg
    gradients = []
    for traced in traced_inputs:
        cotangent = None if cotangents is None else cotangents[traced.node]
        if cotangent is None:
            value = traced.value
            cotangent = 0.0 if type(value) is float else np.zeros(traced.shape, traced.dtype)
        elif type(traced.value) is float and type(cotangent) is not Traced:
            cotangent = float(cotangent)
        gradients.append(cotangent)
    for index in python_complex:
        if type(gradients[index]) is not Traced:
            gradients[index] = complex(gradients[index])
    return tree.unflatten(treedef, gradients)
