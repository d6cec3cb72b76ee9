"""checkpoint(f): rematerialization. Inside grad, a checkpointed block keeps only its inputs
on the tape and runs again during the backward pass to get its internals back.

    block = vjpnet.checkpoint(lambda h, W, b: np.tanh(h @ W + b))
    def loss(params, x):
        for W, b in params:
            x = block(x, W, b)          # the tape keeps x, W, b per block, not tanh's cache
        return np.sum(x ** 2)

On the tape a call is one block entry (parents: the traced leaves of its arguments; cache: the
arguments, f and, if f drew random numbers, NumPy's global random state before it) and one
entry per float output leaf that routes the output's cotangent to the block. The block's VJP
traces f again on the saved arguments and sweeps that tape. The forward runs f on values
traced on a throwaway tape, so its values are those of the recomputation (and of the same code
without checkpoint) bit for bit.

f must be a function of its arguments: a value traced by the enclosing grad may not reach it
through a keyword argument or, when some argument is traced, through a closure (errors, not
silent zeros; a block without traced arguments is simply f, recorded as usual). NumPy's global
random state (np.random.*, dropout without a seed) is replayed for the recomputation and
restored after it; other side effects happen again unless they check `is_recomputing()`
(vjpnet.nn.batchnorm does, so running statistics are updated once).
"""
import contextvars
import functools

import numpy as np

from vjpnet import tree
from vjpnet.tape import Traced, TapeOp, abstract_value, backward, open_tape, record
from vjpnet.transforms._common import is_float_leaf, name_of

_recomputing = contextvars.ContextVar("vjpnet_recomputing", default=False)


def is_recomputing():
    """True while checkpoint runs a block again for the backward pass."""
    return _recomputing.get()


def checkpoint(f):
    """Wrap f so that, inside grad, its internals are recomputed in the backward pass instead
    of being kept on the tape. f takes and returns arrays or pytrees; keyword arguments are
    passed through as constants. Outside any grad it is f."""
    block_op = _TapeOp(f"checkpoint({name_of(f)})", _block_vjp, selective_vjp=True)

    @functools.wraps(f)
    def checkpointed(*args, **kwargs):
        for key, value in kwargs.items():
            if any(type(leaf) is Traced for leaf in tree.flatten(value)[0]):
                raise ValueError(f"{block_op.name}: keyword argument {key!r} is traced; pass "
                                 "differentiated values as positional arguments (keyword "
                                 "arguments are constants)")
        structure, leaves = _flatten_traced(args)
        tape = None
        for leaf in leaves:
            if type(leaf) is Traced and (tape is None or leaf.tape.level > tape.level):
                tape = leaf.tape
        if tape is None:
            return f(*args, **kwargs)
        if not tape.open:
            raise ValueError(f"{block_op.name} was called on a traced value from a grad/vjp "
                             "that has already returned (it escaped); pass values in as "
                             "arguments of the differentiated function instead.")
        values = list(leaves)
        parents = ()
        needed = [False] * len(leaves)
        lower = False
        for index, leaf in enumerate(leaves):
            if type(leaf) is Traced:
                if leaf.tape is tape:
                    values[index] = leaf.value
                    parents += (index, leaf.node) + abstract_value(leaf.value)
                    needed[index] = True
                    lower = lower or type(leaf.value) is Traced
                else:
                    lower = True
        constants = [arg if kind is None else None for arg, kind in zip(args, structure)]
        random_state = np.random.get_state()
        entries = tape.entries
        before = len(entries)
        if lower:   # traced by enclosing levels too: a block at each of them
            out = checkpointed(*_rebuild(constants, structure, values), **kwargs)
        else:
            out = _run_traced(f, constants, structure, values, needed, kwargs)
        if _same_state(random_state, np.random.get_state()):
            random_state = None   # f drew no random numbers: nothing to replay
        out_leaves, out_treedef = tree.flatten(out)
        if len(entries) != before or any(type(leaf) is Traced and leaf.tape is tape
                                         for leaf in out_leaves):
            raise ValueError(
                f"{block_op.name}: the function uses a value traced by the enclosing grad that "
                "is not one of its positional arguments (a closure or a keyword argument), so "
                "its gradient would not flow through the checkpoint. Pass every "
                "differentiated value (parameters too) as a positional argument.")
        cache = (f, constants, structure, values, kwargs, random_state)
        block = record(tape, block_op, parents, cache, tuple(needed), False, None).node
        for index, leaf in enumerate(out_leaves):
            if is_float_leaf(leaf):
                parents = (0, block, None, None)   # no check: _OUTPUT_OP routes to the block
                out_leaves[index] = record(tape, _OUTPUT_OP, parents, index, _ONE, False, leaf)
        return tree.unflatten(out_treedef, out_leaves)

    return checkpointed


def _flatten_traced(args):
    """(structure, leaves): the leaves of the arguments that hold traced values, flattened;
    per argument, (treedef, number of leaves) for those and None for the others, which are
    passed on as they are (a dict such as bn_param stays the caller's object)."""
    structure, leaves = [], []
    for arg in args:
        arg_leaves, treedef = tree.flatten(arg)
        if any(type(leaf) is Traced for leaf in arg_leaves):
            structure.append((treedef, len(arg_leaves)))
            leaves.extend(arg_leaves)
        else:
            structure.append(None)
    return structure, leaves


def _rebuild(constants, structure, leaves):
    """The arguments: the constants as they are, the others rebuilt from `leaves`."""
    args, start = [], 0
    for constant, kind in zip(constants, structure):
        if kind is None:
            args.append(constant)
        else:
            treedef, count = kind
            args.append(tree.unflatten(treedef, leaves[start:start + count]))
            start += count
    return args


def _run_traced(f, constants, structure, values, needed, kwargs):
    """f on the argument values, those that were traced traced again on a throwaway tape: the
    same primitive forwards as under grad, so the same values as the recomputation."""
    with open_tape() as tape:
        out, _ = _call(tape, f, constants, structure, values, needed, kwargs)
        out = tree.tree_map(lambda leaf: leaf.value if type(leaf) is Traced and
                            leaf.tape is tape else leaf, out)
    tape.entries.clear()
    return out


def _call(tape, f, constants, structure, values, needed, kwargs):
    """f(*arguments, **kwargs) with the needed leaves as inputs of `tape`; returns
    (output, the leaves passed)."""
    leaves = [tape.new_input(value) if need else value for value, need in zip(values, needed)]
    return f(*_rebuild(constants, structure, leaves), **kwargs), leaves


class _OutputCotangents:
    """The cotangents of a block's output leaves {leaf index: cotangent}; + merges them."""

    __slots__ = ("by_index",)

    def __init__(self, by_index):
        self.by_index = by_index

    def __add__(self, other):
        merged = dict(self.by_index)
        for index, cotangent in other.by_index.items():
            merged[index] = merged[index] + cotangent if index in merged else cotangent
        return _OutputCotangents(merged)


class _TapeOp(TapeOp):
    """An op of checkpoint on the tape: cotangents have their inputs' shapes by construction."""

    __slots__ = ()

    def __init__(self, name, vjp, selective_vjp):
        super().__init__(name)
        self.vjp = vjp
        self.selective_vjp = selective_vjp
        self.check_cotangents = False


def _block_vjp(cotangents, cache, needed):
    """A checkpointed call's VJP: recompute the block on a new tape and sweep it."""
    f, constants, structure, values, kwargs, random_state = cache
    with open_tape() as tape, _Replay(random_state):
        out, leaves = _call(tape, f, constants, structure, values, needed, kwargs)
    out_leaves = tree.flatten(out)[0]
    seeds = []
    for index, cotangent in cotangents.by_index.items():
        leaf = out_leaves[index]
        if type(leaf) is Traced and leaf.tape is tape:
            seeds.append((leaf.node, cotangent))
    results = backward(tape, seeds, free=True) if seeds else None
    tape.entries.clear()
    if results is None:
        return (None,) * len(values)
    return tuple(results[leaf.node] if need else None for leaf, need in zip(leaves, needed))


def _output_vjp(g, index):
    """One output leaf of a block: passes its cotangent on to the block, by leaf index."""
    return (_OutputCotangents({index: g}),)


_OUTPUT_OP = _TapeOp("checkpoint output", _output_vjp, selective_vjp=False)
_ONE = (True,)


def _same_state(before, after):
    """Whether two np.random.get_state() tuples are the same state."""
    return before[2:] == after[2:] and np.array_equal(before[1], after[1])


class _Replay:
    """Context: NumPy's global random state as it was at the block's forward (when the block
    drew random numbers), and is_recomputing() True; both restored on exit."""

    __slots__ = ("state", "saved", "token")

    def __init__(self, state):
        self.state = state

    def __enter__(self):
        if self.state is not None:
            self.saved = np.random.get_state()
            np.random.set_state(self.state)
        self.token = _recomputing.set(True)

    def __exit__(self, *exc_info):
        _recomputing.reset(self.token)
        if self.state is not None:
            np.random.set_state(self.saved)
