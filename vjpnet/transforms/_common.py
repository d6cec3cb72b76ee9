"""What the transforms share: argument checks, tracing f once on its own tape, and rebuilding
argument-shaped results from per-node cotangents."""
import math

import numpy as np

from vjpnet import tree
from vjpnet.tape import (Traced, backward, dtype_of, is_differentiable, is_float, open_tape,
                         plain)


ndarray = np.ndarray


def name_of(f):
    """A function's name for error messages."""
    return getattr(f, "__name__", type(f).__name__)


class NonScalarOutputError(ValueError, TypeError):
    """grad of a function whose output is not a scalar. A ValueError (the value's shape is
    wrong) and a TypeError (what HIPS autograd and JAX raise there), so either is caught."""


def resolve_argnums(transform, f, argnums, argnum):
    """The argnums a transform was given: `argnum` (HIPS autograd's name) is accepted as an
    alias, and a list of positions is taken as a tuple (so gradients come back as a tuple)."""
    if argnum is not None:
        if argnums != 0:
            raise TypeError(f"{transform} of {name_of(f)}: got argnums={argnums!r} and "
                            f"argnum={argnum!r}; pass one of them (argnum is an alias)")
        argnums = argnum
    return tuple(argnums) if isinstance(argnums, list) else argnums


def check_argnums(name, argnums, num_args, transform="grad"):
    """argnums (int or tuple of ints, may be negative) -> tuple of positions in [0, num_args)."""
    if type(argnums) is int and 0 <= argnums < num_args:
        return (argnums,)   # the common case
    positions = argnums if isinstance(argnums, tuple) else (argnums,)
    for position in positions:
        if not isinstance(position, int) or not -num_args <= position < num_args:
            raise ValueError(f"{transform} of {name}: argnums={argnums!r} does not fit the "
                             f"{num_args} positional arguments it was called with")
    return tuple([position % num_args for position in positions])


def is_float_leaf(leaf):
    """A leaf the transforms differentiate: a float or complex array or number (not a bool)."""
    return is_differentiable(leaf) and not isinstance(leaf, bool)


def trace_args(name, tape, args, positions, transform="grad", skip_non_float=False,
               holomorphic=False):
    """Wrap the float and complex leaves of args[positions] as inputs of `tape`.

    Returns (args with traced leaves, [(treedef, [input Traced or None, ...], python_complex)
    per position]); python_complex: indices of leaves that are Python complex numbers (traced as
    they are: weak scalars for NumPy's promotion, like Python floats; their gradients are given
    back as Python complex). A leaf that
    cannot be differentiated is an error naming it, or (skip_non_float) a constant whose input
    is None. holomorphic: the leaves must be complex.
    """
    args = list(args)
    inputs = []
    for position in positions:
        leaves, treedef = tree.flatten(args[position])
        traced = []
        wrapped = list(leaves)   # the leaves with the inputs in place of the traced ones
        python_complex = ()
        for index in range(len(leaves)):
            leaf = leaves[index]
            if type(leaf) is ndarray and not holomorphic and leaf.dtype.kind in "fc":
                input_leaf = tape.new_input(leaf)   # the common case, decided quickly
            elif is_float_leaf(leaf) and not (holomorphic and is_float(leaf)):
                if type(leaf) is complex:
                    python_complex += (index,)
                input_leaf = tape.new_input(leaf)
            elif skip_non_float and not is_float_leaf(leaf):
                traced.append(None)
                continue
            else:
                raise _input_error(name, args[position], position, index, leaf, transform,
                                   holomorphic)
            traced.append(input_leaf)
            wrapped[index] = input_leaf
        inputs.append((treedef, traced, python_complex))
        args[position] = tree.unflatten(treedef, wrapped)
    return args, inputs


def _input_error(name, arg, position, index, leaf, transform, holomorphic):
    path = tree.leaf_paths(arg)[index]
    got = f"{getattr(leaf, 'dtype', type(leaf).__name__)} " \
          f"{np.shape(leaf) if hasattr(leaf, 'shape') else ''}".rstrip()
    if holomorphic and is_float(leaf):
        return TypeError(
            f"{transform} of {name} with holomorphic=True: argument {position}{path} is {got}; "
            "a holomorphic derivative is taken with respect to complex arguments (cast with "
            ".astype(complex), or drop holomorphic=True for a real-valued function)")
    return TypeError(
        f"{transform} of {name}: argument {position}{path} is {got}; only float and complex "
        "arrays and numbers can be differentiated (cast with .astype(float), or move it out of "
        "argnums)")


def split_aux(name, result, has_aux):
    """(out, aux) of f's result; aux is None without has_aux."""
    if not has_aux:
        return result, None
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"{name} was transformed with has_aux=True, so it must return a pair "
                        f"(output, aux); it returned {type(result).__name__}")
    return result[0], result[1]


def untrace(tape, value):
    """Drop this tape's tracing from every leaf of `value` (aux data, outputs)."""
    def untrace_leaf(leaf):
        return leaf.value if type(leaf) is Traced and leaf.tape is tape else leaf
    return tree.tree_map(untrace_leaf, value)


def check_scalar_output(name, out, holomorphic=False):
    """Raise unless `out` is a real (or, holomorphic, complex) scalar: shape () or one element."""
    if type(out) is Traced and not holomorphic:   # the common case: a traced 0-d float array
        value = out.value
        if type(value) is ndarray and value.dtype.kind == "f" and value.shape == ():
            return
    integer = isinstance(out, (int, np.integer)) and not isinstance(out, bool)
    if not is_differentiable(out) and not integer:
        raise TypeError(f"grad of {name}: the function must return a float scalar, it returned "
                        f"{type(out).__name__}{_dtype_note(out)}")
    if holomorphic and not (is_differentiable(out) and dtype_kind(out) == "c"):
        raise TypeError(
            f"grad of {name} with holomorphic=True: the function must return a complex scalar, "
            f"it returned {type(out).__name__}{_dtype_note(out)}; a real-valued function is "
            "holomorphic only if constant, so drop holomorphic=True")
    if not holomorphic and not integer and dtype_kind(out) == "c":
        raise TypeError(
            f"grad of {name}: the function must return a real scalar, it returned a complex "
            f"one{_dtype_note(out)}. Reduce it to a real number (np.real, np.abs, "
            "np.abs(z) ** 2), pass holomorphic=True for the derivative of a holomorphic "
            "function, or use vjpnet.vjp with a complex cotangent")
    if math.prod(shape_of(out)) != 1:
        raise NonScalarOutputError(
            f"grad of {name}: the function must return a scalar (shape () or one element), it "
            f"returned shape {shape_of(out)}; reduce it, "
            f"e.g. with .sum(), or use vjpnet.vjp for a vector-Jacobian product")


def dtype_kind(value):
    """'f', 'c', 'i', ... of an array, traced value, NumPy scalar or Python number."""
    dtype = getattr(value, "dtype", None)
    return (dtype if dtype is not None else np.result_type(value)).kind


def _dtype_note(out):
    dtype = getattr(out, "dtype", None)
    return f" of dtype {dtype}" if dtype is not None else ""


def shape_of(value):
    """The shape of an array, traced value, NumPy scalar or Python number."""
    shape = getattr(value, "shape", None)
    return np.shape(value) if shape is None else shape


def zeros_like_leaf(leaf):
    """0.0 for a Python float (traced or not), else zeros of the leaf's shape and dtype."""
    if type(plain(leaf)) is float:
        return 0.0
    return np.zeros(shape_of(leaf), dtype_of(leaf))


def collect(inputs_of_arg, cotangents):
    """Rebuild one argument's gradient tree from the cotangents of its input nodes (zeros
    where none arrived; None for a constant, non-float leaf)."""
    treedef, traced_inputs, python_complex = inputs_of_arg
    gradients = []
    for traced in traced_inputs:
        if traced is None:
            gradients.append(None)
            continue
        value = traced.value
        cotangent = None if cotangents is None else cotangents[traced.node]
        if cotangent is None:
            cotangent = np.zeros(value.shape, value.dtype) if type(value) is ndarray else \
                zeros_like_leaf(value)
        elif type(value) is float and type(cotangent) is not Traced:
            cotangent = float(cotangent)
        gradients.append(cotangent)
    for index in python_complex:
        if type(gradients[index]) is not Traced:
            gradients[index] = complex(gradients[index])
    return tree.unflatten(treedef, gradients)


class Trace:
    """f(*args) traced once on its own (closed) tape, for transforms that sweep it repeatedly.

    tape: the tape; inputs: per traced position, (treedef, [input Traced or None, ...],
    indices of Python complex leaves);
    out_leaves / out_treedef: f's output flattened (leaves traced on `tape` where they depend
    on the inputs); aux: f's aux output, untraced.
    """

    __slots__ = ("name", "tape", "inputs", "out_leaves", "out_treedef", "aux")

    def __init__(self, name, f, args, positions, has_aux=False, kwargs=None,
                 transform="grad", skip_non_float=False):
        self.name = name
        with open_tape() as tape:
            traced_args, self.inputs = trace_args(name, tape, args, positions, transform,
                                                  skip_non_float)
            out, aux = split_aux(name, f(*traced_args, **(kwargs or {})), has_aux)
            self.aux = untrace(tape, aux)
        self.tape = tape
        self.out_leaves, self.out_treedef = tree.flatten(out)

    def depends(self, leaf):
        """Whether an output leaf is traced on this tape (depends on the inputs)."""
        return type(leaf) is Traced and leaf.tape is self.tape

    def out_value(self):
        """f's output with this tape's tracing removed."""
        return tree.unflatten(self.out_treedef,
                              [leaf.value if self.depends(leaf) else leaf
                               for leaf in self.out_leaves])

    def input_leaves(self):
        """The traced inputs of every position, flattened: [(position index, Traced), ...]."""
        return [(index, traced) for index, (_, leaves, _) in enumerate(self.inputs)
                for traced in leaves]

    def pull_back(self, seeds, free):
        """The reverse sweep from `seeds` [(node, cotangent)]: one gradient tree per position."""
        cotangents = backward(self.tape, seeds, free=free) if seeds else None
        return tuple(collect(inputs_of_arg, cotangents) for inputs_of_arg in self.inputs)

    def check_real(self, transform):
        """Raise TypeError naming the first output or input leaf that is not a real float."""
        for index, leaf in enumerate(self.out_leaves):
            if not (is_float_leaf(leaf) and dtype_kind(leaf) == "f"):
                paths = tree.leaf_paths(tree.unflatten(self.out_treedef, self.out_leaves))
                got = getattr(leaf, "dtype", type(leaf).__name__)
                raise TypeError(
                    f"{transform} of {self.name}: output{paths[index]} is {got}; a Jacobian "
                    "needs real float outputs (return integer results through has_aux=True; "
                    "for complex values use jvp and vjp)")
        for position, (_, leaves, _) in enumerate(self.inputs):
            for traced in leaves:
                if traced.dtype.kind != "f":
                    raise TypeError(
                        f"{transform} of {self.name}: argument {position} has a complex leaf "
                        f"({traced.dtype}); Jacobians are taken w.r.t. real floats here (for "
                        "complex values use jvp and vjp)")
