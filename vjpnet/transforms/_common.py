"""What the transforms share: argument checks, tracing f once on its own tape, and rebuilding
argument-shaped results from per-node cotangents."""
import math

import numpy as np

from vjpnet import tree
from vjpnet.tape import Traced, backward, is_float, open_tape, plain


def name_of(f):
    """A function's name for error messages."""
    return getattr(f, "__name__", type(f).__name__)


def check_argnums(name, argnums, num_args, transform="grad"):
    """argnums (int or tuple of ints, may be negative) -> tuple of positions in [0, num_args)."""
    positions = argnums if isinstance(argnums, tuple) else (argnums,)
    for position in positions:
        if not isinstance(position, int) or not -num_args <= position < num_args:
            raise ValueError(f"{transform} of {name}: argnums={argnums!r} does not fit the "
                             f"{num_args} positional arguments it was called with")
    return tuple(position % num_args for position in positions)


def is_float_leaf(leaf):
    """A leaf the transforms differentiate: a float array, NumPy float or Python float."""
    return is_float(leaf) and not isinstance(leaf, bool)


def trace_args(name, tape, args, positions, transform="grad", skip_non_float=False):
    """Wrap the float leaves of args[positions] as inputs of `tape`.

    Returns (args with traced leaves, [(treedef, [input Traced or None, ...]) per position]).
    A non-float leaf is an error naming it, or (skip_non_float) a constant with None as input.
    """
    args = list(args)
    inputs = []
    for position in positions:
        leaves, treedef = tree.flatten(args[position])
        traced = []
        for index, leaf in enumerate(leaves):
            if is_float_leaf(leaf):
                traced.append(tape.new_input(leaf))
                continue
            if not skip_non_float:
                path = tree.leaf_paths(args[position])[index]
                got = getattr(leaf, "dtype", type(leaf).__name__)
                raise TypeError(
                    f"{transform} of {name}: argument {position}{path} is {got} "
                    f"{np.shape(leaf) if hasattr(leaf, 'shape') else ''}".rstrip() +
                    "; only float arrays and floats can be differentiated (cast with "
                    ".astype(float), or move it out of argnums)")
            traced.append(None)
        inputs.append((treedef, traced))
        args[position] = tree.unflatten(
            treedef, [leaf if t is None else t for leaf, t in zip(leaves, traced)])
    return args, inputs


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


def check_scalar_output(name, out):
    """Raise unless `out` is a float (or int) scalar: shape () or one element."""
    if not is_float(out) and not (isinstance(out, (int, np.integer)) and not isinstance(out, bool)):
        dtype = getattr(out, "dtype", None)
        note = f" of dtype {dtype}" if dtype is not None else ""
        raise TypeError(f"grad of {name}: the function must return a float scalar, it returned "
                        f"{type(out).__name__}{note}")
    if math.prod(shape_of(out)) != 1:
        raise ValueError(
            f"grad of {name}: the function must return a scalar (shape () or one element), it "
            f"returned shape {shape_of(out)}; reduce it, "
            f"e.g. with .sum(), or use vjpnet.vjp for a vector-Jacobian product")


def shape_of(value):
    """The shape of an array, traced value, NumPy scalar or Python number."""
    shape = getattr(value, "shape", None)
    return np.shape(value) if shape is None else shape


def zeros_like_leaf(leaf):
    """0.0 for a Python float (traced or not), else zeros of the leaf's shape and dtype."""
    if type(plain(leaf)) is float:
        return 0.0
    return np.zeros(shape_of(leaf), leaf.dtype)


def collect(inputs_of_arg, cotangents):
    """Rebuild one argument's gradient tree from the cotangents of its input nodes (zeros
    where none arrived; None for a constant, non-float leaf)."""
    treedef, traced_inputs = inputs_of_arg
    gradients = []
    for traced in traced_inputs:
        if traced is None:
            gradients.append(None)
            continue
        cotangent = None if cotangents is None else cotangents[traced.node]
        if cotangent is None:
            cotangent = zeros_like_leaf(traced.value)
        elif type(traced.value) is float and type(cotangent) is not Traced:
            cotangent = float(cotangent)
        gradients.append(cotangent)
    return tree.unflatten(treedef, gradients)


class Trace:
    """f(*args) traced once on its own (closed) tape, for transforms that sweep it repeatedly.

    tape: the tape; inputs: [(treedef, [input Traced or None, ...]) per traced position];
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
        return [(index, traced) for index, (_, leaves) in enumerate(self.inputs)
                for traced in leaves]

    def pull_back(self, seeds, free):
        """The reverse sweep from `seeds` [(node, cotangent)]: one gradient tree per position."""
        cotangents = backward(self.tape, seeds, free=free) if seeds else None
        return tuple(collect(inputs_of_arg, cotangents) for inputs_of_arg in self.inputs)

    def check_float_outputs(self, transform):
        """Raise TypeError naming the first output leaf that is not a float."""
        for index, leaf in enumerate(self.out_leaves):
            if not is_float_leaf(leaf):
                paths = tree.leaf_paths(tree.unflatten(self.out_treedef, self.out_leaves))
                got = getattr(leaf, "dtype", type(leaf).__name__)
                raise TypeError(
                    f"{transform} of {self.name}: output{paths[index]} is {got}; a Jacobian "
                    "needs float outputs (return integer results through has_aux=True)")
