"""Jacobians and Hessians: jacrev, jacfwd, jacobian, hessian, hvp, with JAX's conventions.

    vjpnet.jacobian(f)(x)          # out.shape + x.shape; rows by VJP or columns by JVP
    vjpnet.hessian(f)(x)           # x.shape + x.shape, forward over reverse
    vjpnet.hvp(f, x, v)            # H(x) @ v without forming H

The Jacobian of an output pytree w.r.t. an input pytree is the output's structure with each
leaf replaced by the input's structure (a tuple of them for a tuple argnums), whose leaves have
shape out_leaf.shape + in_leaf.shape.
"""
import functools
import math

import numpy as np

from vjpnet import tree
from vjpnet.tape import dtype_of
from vjpnet.transforms._common import (Trace, check_argnums, name_of, resolve_argnums,
                                       shape_of)
from vjpnet.transforms.forward import Linearization
from vjpnet.transforms.reverse import grad

# jacobian() takes forward mode when the outputs have more than this many times as many
# elements as the inputs: a column (a sweep of the transposed tape) costs about twice a row
# (a sweep of the primal tape), and transposing once costs about one reverse sweep more.
FORWARD_MODE_RATIO = 2


def jacrev(f, argnums=0, has_aux=False, *, argnum=None):
    """Jacobian of f w.r.t. args[argnums] by reverse mode: one VJP per output element."""
    return _jacobian_transform(f, argnums, argnum, has_aux, "rev", "jacrev")


def jacfwd(f, argnums=0, has_aux=False, *, argnum=None):
    """Jacobian of f w.r.t. args[argnums] by forward mode: one JVP per input element."""
    return _jacobian_transform(f, argnums, argnum, has_aux, "fwd", "jacfwd")


def jacobian(f, argnums=0, has_aux=False, *, argnum=None):
    """Jacobian of f w.r.t. args[argnums]: reverse mode (rows, as jacrev), or forward mode
    (columns, as jacfwd) when the outputs have many more elements than the inputs and every
    primitive on the way has a JVP. Same result either way."""
    return _jacobian_transform(f, argnums, argnum, has_aux, "auto", "jacobian")


def hessian(f, argnums=0, has_aux=False, *, argnum=None):
    """Hessian of scalar f w.r.t. args[argnums]: jacfwd(jacrev(f)), shape x.shape + x.shape
    (nested per pytree leaf pair, as in JAX)."""
    argnums = resolve_argnums("hessian", f, argnums, argnum)
    return jacfwd(jacrev(f, argnums, has_aux), argnums, has_aux)


def hvp(f, x, v):
    """Hessian-vector product H(x) @ v of scalar f(x), without forming H.

    x: an array or pytree; v: the same structure (the direction). Returns x's structure.
    Reverse over reverse (the gradient of <grad f(x), v>): measured cheaper here than
    forward over reverse, see benchmarks/bench_transforms.py.
    """
    name = name_of(f)

    def directional(y):
        gradient = grad(f)(y)
        total = 0.0
        for g_leaf, v_leaf in zip(tree.flatten(gradient)[0], tree.flatten(v)[0]):
            total = total + np.sum(g_leaf * v_leaf)
        return total

    directional.__name__ = f"hvp of {name}"
    if tree.flatten(x)[1] != tree.flatten(v)[1]:
        raise ValueError(f"hvp of {name}: v has structure {tree.flatten(v)[1]!r}, expected "
                         f"the structure of x {tree.flatten(x)[1]!r}")
    return grad(directional)(x)


def _jacobian_transform(f, argnums, argnum, has_aux, mode, transform):
    name = name_of(f)
    argnums = resolve_argnums(transform, f, argnums, argnum)

    @functools.wraps(f)
    def jacobian_f(*args, **kwargs):
        positions = check_argnums(name, argnums, len(args), transform)
        trace = Trace(name, f, args, positions, has_aux, kwargs, transform)
        trace.check_real(transform)
        inputs = trace.input_leaves()
        chosen = mode
        if mode == "auto":
            out_size = sum(math.prod(shape_of(leaf)) for leaf in trace.out_leaves)
            in_size = sum(math.prod(traced.shape) for _, traced in inputs)
            chosen = "fwd" if out_size > FORWARD_MODE_RATIO * in_size else "rev"
        blocks = None
        if chosen == "fwd":
            blocks = _forward_blocks(trace, inputs, fallback=mode == "auto")
        if blocks is None:
            blocks = _reverse_blocks(trace, inputs)
        jacobians = []
        for out_index in range(len(trace.out_leaves)):
            per_position = []
            for position, (treedef, leaves, _) in enumerate(trace.inputs):
                per_position.append(tree.unflatten(
                    treedef, [blocks[out_index, position, i] for i in range(len(leaves))]))
            jacobians.append(tuple(per_position) if isinstance(argnums, tuple)
                             else per_position[0])
        result = tree.unflatten(trace.out_treedef, jacobians)
        return (result, trace.aux) if has_aux else result

    return jacobian_f


def _reverse_blocks(trace, inputs):
    """{(out leaf, position, in leaf): block} from one reverse sweep per output element."""
    blocks = {}
    in_shapes = [(position, index, traced)
                 for position, (_, leaves, _) in enumerate(trace.inputs)
                 for index, traced in enumerate(leaves)]
    for out_index, leaf in enumerate(trace.out_leaves):
        out_shape = shape_of(leaf)
        rows = {(position, index): [] for position, index, _ in in_shapes}
        if trace.depends(leaf):
            for element in range(math.prod(out_shape)):
                seed = np.zeros(out_shape, dtype_of(leaf))
                seed.reshape(-1)[element] = 1
                gradients = trace.pull_back([(leaf.node, seed)], free=False)
                for position, index, _ in in_shapes:
                    rows[position, index].append(tree.flatten(gradients[position])[0][index])
        for position, index, traced in in_shapes:
            blocks[out_index, position, index] = _assemble(
                rows[position, index], out_shape, traced, leaf, axis=0)
    return blocks


def _forward_blocks(trace, inputs, fallback):
    """{(out leaf, position, in leaf): block} from one forward sweep per input element, or
    None (with fallback) when some primitive on the way has no JVP rule."""
    try:
        linear = Linearization(trace, free=not fallback)
    except TypeError as error:
        if fallback and "has no JVP rule" in str(error):
            return None
        raise
    blocks = {}
    empty = [[None] * len(leaves) for _, leaves, _ in trace.inputs]
    for position, (_, leaves, _) in enumerate(trace.inputs):
        for index, traced in enumerate(leaves):
            columns = [[] for _ in trace.out_leaves]
            size = math.prod(traced.shape)
            for element in range(size):
                tangent = np.zeros(traced.shape, traced.dtype)
                tangent.reshape(-1)[element] = 1
                tangents = [list(row) for row in empty]
                tangents[position][index] = tangent
                for out_index, tangent_out in enumerate(linear.push(tangents, free=False)):
                    columns[out_index].append(tangent_out)
            for out_index, leaf in enumerate(trace.out_leaves):
                blocks[out_index, position, index] = _assemble(
                    columns[out_index], shape_of(leaf), traced, leaf, axis=-1)
    return blocks


def _assemble(pieces, out_shape, traced, out_leaf, axis):
    """Stack rows (axis 0: one per output element) or columns (axis -1: one per input
    element) into a block of shape out_shape + in_shape."""
    in_shape = traced.shape
    shape = tuple(out_shape) + tuple(in_shape)
    dtype = traced.dtype if axis == 0 else dtype_of(out_leaf)
    if not pieces or math.prod(shape) == 0:
        return np.zeros(shape, dtype)
    if axis == 0:
        stacked = np.stack([np.reshape(piece, (-1,)) for piece in pieces], axis=0)
    else:
        stacked = np.stack([np.reshape(piece, (-1,)) for piece in pieces], axis=-1)
    return np.reshape(stacked, shape)
