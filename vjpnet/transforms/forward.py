"""Forward mode: jvp and linearize, by transposing the VJP.

    out, tangent_out = vjpnet.jvp(f, (x, w), (dx, dw))     # J(x, w) @ (dx, dw), one pass
    out, f_jvp = vjpnet.linearize(f, x);  f_jvp(dx)         # the same map, reusable

How: every VJP is linear in its cotangent g, so g -> J^T g is a linear map, and its transpose
is t -> J t. f is traced once (the primal tape); then the reverse sweep of that tape runs with
g traced one level up (the transposed tape records the VJPs' own operations on g); a reverse
sweep of the transposed tape seeded with the input tangents t yields J t as the cotangent of g.
No primitive needs a second rule: the VJPs are NumPy operations with VJPs of their own. A
first-order primitive (a kernel VJP) supplies the transpose through its JVP rule (defjvp), or
forward mode through it raises an error that names it.
"""
import numpy as np

from vjpnet import tree
from vjpnet.tape import Traced, backward, dtype_of, open_tape
from vjpnet.transforms._common import (Trace, is_float_leaf, name_of, shape_of,
                                       zeros_like_leaf)


class Linearization:
    """A traced f with its VJP transposed: `push(tangent leaves) -> output tangent leaves`.

    trace: a Trace of f; free: drop the primal tape's entries while transposing (when nothing
    else will sweep it). push(..., free=False) keeps the transposed tape for more pushes.
    """

    __slots__ = ("trace", "transposed", "out_cotangent_inputs", "input_cotangents")

    def __init__(self, trace, free):
        self.trace = trace
        seeds = []
        self.out_cotangent_inputs = []   # per output leaf: its traced cotangent g, or None
        with open_tape() as transposed:
            for leaf in trace.out_leaves:
                g = None
                if trace.depends(leaf):
                    g = transposed.new_input(zeros_like_leaf(leaf))
                    seeds.append((leaf.node, g))
                self.out_cotangent_inputs.append(g)
            cotangents = backward(trace.tape, seeds, free=free) if seeds else None
        self.transposed = transposed
        # J^T g per input leaf (Traced on the transposed tape where it depends on g)
        self.input_cotangents = [
            [None if traced is None or cotangents is None else cotangents[traced.node]
             for traced in leaves] for _, leaves, _ in trace.inputs]

    def push(self, tangents, free):
        """J t: `tangents` lists, per traced position, one tangent leaf per input leaf (None
        for zero). Returns the output tangent leaves (zeros where an output is constant)."""
        seeds = []
        for cotangents, position_tangents in zip(self.input_cotangents, tangents):
            for cotangent, tangent in zip(cotangents, position_tangents):
                if tangent is not None and type(cotangent) is Traced and \
                        cotangent.tape is self.transposed:
                    if type(tangent) is not Traced:   # a seed is an array (a float too)
                        tangent = np.asarray(tangent, dtype_of(cotangent))
                    seeds.append((cotangent.node, tangent))
        results = backward(self.transposed, seeds, free=free) if seeds else None
        tangents_out = []
        for leaf, g in zip(self.trace.out_leaves, self.out_cotangent_inputs):
            tangent = None if g is None or results is None else results[g.node]
            if tangent is None:
                tangent = zeros_like_leaf(leaf) if is_float_leaf(leaf) else \
                    np.zeros(shape_of(leaf), getattr(leaf, "dtype", None) or type(leaf))
            elif type(g.value) is float and type(tangent) is not Traced:
                tangent = float(tangent)
            tangents_out.append(tangent)
        return tangents_out


def jvp(f, primals, tangents, has_aux=False):
    """Forward mode: (f(*primals), J @ tangents) in one call, JAX's `jax.jvp`.

    primals: a tuple (or list) of arguments, each an array, float or pytree; tangents: the
    same structure, each float leaf with its primal's shape and dtype (leaves of integer
    primals, e.g. labels, are ignored). Returns (out, tangent_out), tangent_out shaped like
    out; with has_aux=True f returns (out, aux) and jvp returns (out, tangent_out, aux).
    Cost: about a forward and two reverse sweeps (see benchmarks/bench_transforms.py).
    """
    name = name_of(f)
    tangent_leaves = _check_tangents(name, primals, tangents, "jvp")
    trace = Trace(name, f, tuple(primals), tuple(range(len(primals))), has_aux,
                  transform="jvp", skip_non_float=True)
    tangents_out = Linearization(trace, free=True).push(tangent_leaves, free=True)
    out = trace.out_value()
    tangent_out = tree.unflatten(trace.out_treedef, tangents_out)
    return (out, tangent_out, trace.aux) if has_aux else (out, tangent_out)


def linearize(f, *primals, has_aux=False):
    """(f(*primals), f_jvp) where f_jvp(*tangents) = J @ tangents, JAX's `jax.linearize`.

    f is traced and its VJP transposed once; each f_jvp call is one sweep of the transposed
    tape (cheaper than a jvp call). With has_aux=True returns (out, f_jvp, aux).
    """
    name = name_of(f)
    trace = Trace(name, f, primals, tuple(range(len(primals))), has_aux,
                  transform="linearize", skip_non_float=True)
    linear = Linearization(trace, free=True)

    def f_jvp(*tangents):
        leaves = _check_tangents(name, primals, tangents, "linearize")
        return tree.unflatten(trace.out_treedef, linear.push(leaves, free=False))

    out = trace.out_value()
    return (out, f_jvp, trace.aux) if has_aux else (out, f_jvp)


def _check_tangents(name, primals, tangents, transform):
    """Per primal: the tangent leaves (None for non-float primal leaves), after checking that
    tangents match primals in structure, and each float leaf in shape and dtype."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(f"{transform} of {name}: primals and tangents must be tuples (or "
                        f"lists) of arguments, got {type(primals).__name__} and "
                        f"{type(tangents).__name__}; e.g. jvp(f, (x,), (dx,))")
    if len(primals) != len(tangents):
        raise ValueError(f"{transform} of {name}: {len(primals)} primals but {len(tangents)} "
                         "tangents; give one tangent per primal argument")
    result = []
    for position, (primal, tangent) in enumerate(zip(primals, tangents)):
        primal_leaves, primal_def = tree.flatten(primal)
        tangent_leaves, tangent_def = tree.flatten(tangent)
        if primal_def != tangent_def:
            raise ValueError(f"{transform} of {name}: tangent {position} has structure "
                             f"{tangent_def!r}, expected the structure of primal {position} "
                             f"{primal_def!r}")
        paths = None
        leaves = []
        for index, (p, t) in enumerate(zip(primal_leaves, tangent_leaves)):
            if not is_float_leaf(p):
                leaves.append(None)   # a constant (labels, indices): its tangent is ignored
                continue
            problem = _tangent_problem(p, t)
            if problem:
                paths = paths or tree.leaf_paths(primal)
                raise (TypeError if "dtype" in problem else ValueError)(
                    f"{transform} of {name}: tangent {position}{paths[index]} {problem}")
            leaves.append(t)
        result.append(leaves)
    return result


def _tangent_problem(primal, tangent):
    """A description of what is wrong with `tangent` for `primal`, or None."""
    if not is_float_leaf(tangent):
        got = getattr(tangent, "dtype", type(tangent).__name__)
        return (f"has dtype {got}, expected {dtype_of(primal)} (the primal's dtype): tangents "
                "are float arrays shaped like their primals")
    if shape_of(tangent) != shape_of(primal):
        return (f"has shape {shape_of(tangent)}, expected {shape_of(primal)} (the primal's "
                "shape)")
    expected, got = dtype_of(primal), dtype_of(tangent)
    if got != expected:
        return f"has dtype {got}, expected {expected} (the primal's dtype; cast it)"
    return None
