"""A readable tape: what the backward pass of f keeps alive, per op and per source line.

    vjpnet.print_saved(loss_fn, params, X, y)       # prints the table, returns the summary
    summary = vjpnet.saved_residuals(loss_fn, params, X, y)
    summary.total_bytes, summary.by_op(), summary.by_line()

f is traced as `vjp` traces it (every float leaf of the arguments, or those in argnums). Each
tape entry keeps its cache (of its traced inputs, only their shapes and dtypes). Counting:
every array found in a cache (through tuples, lists, dicts, traced values and the attributes
of cache objects) is reduced to the array that owns its memory (a view counts as its base,
whole), and each such buffer is counted once, at the first entry (in tape order) that keeps
it. Buffers of f's arguments are alive anyway: they
are listed apart, not in the total. The source line of an entry is the innermost line outside
vjpnet's engine and NumPy that led to the op.
"""
import collections
import linecache
import os
import sys

import numpy as np

from vjpnet import tree
from vjpnet.tape import Traced, abstract_value, open_tape
from vjpnet.transforms._common import check_argnums, is_float_leaf, name_of

Row = collections.namedtuple(
    "Row", "node op shape dtype saved_bytes shared_bytes argument_bytes line code")
Row.__doc__ = """One tape entry: its node, op name, output shape and dtype, bytes first kept
alive by it (saved), bytes it keeps that an earlier entry already counted (shared), bytes of
f's arguments it keeps (argument), and the source line (file:line (function)) and its code."""


class SavedResiduals:
    """The summary of a tape: rows (one Row per recorded op), total_bytes (each buffer once,
    arguments excluded), argument_bytes; by_op() and by_line() group the rows."""

    def __init__(self, name, rows, argument_bytes):
        self.name = name
        self.rows = rows
        self.total_bytes = sum(row.saved_bytes for row in rows)
        self.argument_bytes = argument_bytes

    def by_op(self):
        """[(op, entries, saved bytes)], the most bytes first."""
        return self._group(lambda row: row.op)

    def by_line(self):
        """[((line, code), entries, saved bytes)], the most bytes first."""
        return self._group(lambda row: (row.line, row.code))

    def _group(self, key):
        counts = collections.Counter()
        totals = collections.Counter()
        for row in self.rows:
            counts[key(row)] += 1
            totals[key(row)] += row.saved_bytes
        return sorted(((k, counts[k], totals[k]) for k in counts), key=lambda item: -item[2])

    def __str__(self):
        lines = [f"saved for the backward pass of {self.name}: {len(self.rows)} ops keep "
                 f"{_size(self.total_bytes)} alive (each buffer counted once, at the first op "
                 f"that keeps it; f's arguments, {_size(self.argument_bytes)}, not counted)",
                 f"{'node':>5}  {'op':<18} {'output':<22} {'saved':>9} {'shared':>9} "
                 f"{'argument':>9}  line"]
        for row in self.rows:
            output = f"{row.shape} {row.dtype}" if row.shape is not None else "-"
            lines.append(f"{row.node:>5}  {row.op[:18]:<18} {output[:22]:<22} "
                         f"{_size(row.saved_bytes):>9} {_size(row.shared_bytes):>9} "
                         f"{_size(row.argument_bytes):>9}  {row.line}")
        lines.append("by op:")
        for op, count, total in self.by_op():
            lines.append(f"  {_size(total):>9} {count:>5} ops  {op}")
        lines.append("by source line:")
        for (line, code), count, total in self.by_line():
            lines.append(f"  {_size(total):>9} {count:>5} ops  {line}  {code[:60]}")
        return "\n".join(lines)

    def __repr__(self):
        return (f"<SavedResiduals of {self.name}: {len(self.rows)} ops, "
                f"{_size(self.total_bytes)}>")


def saved_residuals(f, *args, argnums=None, **kwargs):
    """Trace f(*args, **kwargs) for its backward pass; return a SavedResiduals summary.

    argnums: the positions differentiated (default: every argument with float leaves; their
    non-float leaves stay constants).
    """
    name = name_of(f)
    positions = range(len(args)) if argnums is None else \
        check_argnums(name, argnums, len(args), "saved_residuals")
    args = list(args)
    with open_tape() as tape:
        entries = tape.entries = _EntriesWithSource()
        for position in positions:
            leaves, treedef = tree.flatten(args[position])
            args[position] = tree.unflatten(
                treedef, [tape.new_input(leaf) if is_float_leaf(leaf) else leaf
                          for leaf in leaves])
        out = f(*args, **kwargs)
    try:
        return _summarize(name, entries, out, args, tape)
    finally:
        entries.clear()


def print_saved(f, *args, argnums=None, **kwargs):
    """Print what the tape of f(*args) keeps alive for the backward pass, per op, grouped by op
    and by source line, with the total (see saved_residuals); return the summary."""
    summary = saved_residuals(f, *args, argnums=argnums, **kwargs)
    print(summary)
    return summary


def _summarize(name, entries, out, args, tape):
    outputs = {}   # node -> (shape, dtype) of its output, from later entries and f's output
    for entry in entries:
        if entry is None:
            continue
        op, parents, cache = entry[0], entry[1], entry[2]
        for index in range(0, len(parents), 4):
            slot, node, shape, dtype = parents[index:index + 4]
            if shape is not None:
                outputs[node] = shape, dtype
            elif getattr(op, "fast_ufunc", None) is not None:   # its cache is (*inputs, out)
                outputs[node] = abstract_value(cache[slot])
    for leaf in tree.flatten(out)[0]:
        if type(leaf) is Traced and leaf.tape is tape:
            outputs[leaf.node] = abstract_value(leaf.value)
    argument_owners = {}
    for arg in args:
        for leaf in tree.flatten(arg)[0]:
            for array in _arrays(leaf):
                owner = _owner(array)
                argument_owners[id(owner)] = owner
    counted = {}
    rows = []
    for node, entry in enumerate(entries):
        if entry is None:
            continue
        op, cache = entry[0], entry[2]
        saved = shared = argument = 0
        seen_here = set()
        for array in _arrays(cache):
            owner = _owner(array)
            key = id(owner)
            if key in seen_here:
                continue
            seen_here.add(key)
            if key in argument_owners:
                argument += owner.nbytes
            elif key in counted:
                shared += owner.nbytes
            else:
                counted[key] = owner   # keeps it alive, so ids stay unique while counting
                saved += owner.nbytes
        shape, dtype = outputs.get(node, (None, None))
        if shape is not None:
            shape, dtype = tuple(shape), str(dtype or "float64")   # None: a Python float
        line, code = entries.sources[node]
        rows.append(Row(node, op.name, shape, dtype, saved, shared, argument, line, code))
    argument_bytes = sum(owner.nbytes for owner in argument_owners.values())
    return SavedResiduals(name, rows, argument_bytes)


def _owner(array):
    """The array that owns the memory `array` views (itself when it owns it)."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def _arrays(obj, depth=0, seen=None):
    """Every ndarray reachable from obj through containers, traced values, NumPy scalars and
    the attributes of plain objects (functions, classes and modules are not entered)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 8:
        return []
    seen.add(id(obj))
    kind = type(obj)
    if kind is np.ndarray:
        return [obj]
    if isinstance(obj, np.generic):
        return [np.asarray(obj)] if obj.nbytes else []
    if kind is Traced:
        return _arrays(obj.value, depth + 1, seen)
    if kind in (tuple, list, set, frozenset):
        children = obj
    elif isinstance(obj, dict):
        children = obj.values()
    elif obj is None or isinstance(obj, (int, float, str, bytes, type, np.dtype)) or \
            callable(obj) or type(obj).__module__ == "builtins":
        return []
    else:
        children = list(getattr(obj, "__dict__", {}).values())
        for cls in kind.__mro__:
            for slot in getattr(cls, "__slots__", ()):
                if slot not in ("__dict__", "__weakref__"):
                    children.append(getattr(obj, slot, None))
    found = []
    for child in children:
        found.extend(_arrays(child, depth + 1, seen))
    return found


class _EntriesWithSource(list):
    """A tape's entry list that also notes, per appended entry, the user's source line."""

    __slots__ = ("sources",)

    def __init__(self):
        super().__init__()
        self.sources = []

    def append(self, entry):
        list.append(self, entry)
        self.sources.append(_user_line(sys._getframe(1)))


def _library_paths():
    import vjpnet
    package = os.path.dirname(os.path.abspath(vjpnet.__file__))
    engine = [os.path.join(package, name) for name in
              ("tape.py", "registry.py", "tree.py", "nn.py", "layers.py", "layer_utils.py",
               "normalization.py", "validation.py", "numpy_ops", "transforms")]
    fast = os.path.join(os.path.dirname(package), "vjpnet_fast")
    return tuple(engine + [fast, os.path.dirname(os.path.abspath(np.__file__))])


_LIBRARY = None
_IN_LIBRARY = {}   # filename -> whether it is part of the library


def _in_library(filename):
    inside = _IN_LIBRARY.get(filename)
    if inside is None:
        inside = _IN_LIBRARY[filename] = os.path.abspath(filename).startswith(_LIBRARY)
    return inside


def _user_line(frame):
    """('file.py:12 (function)', 'the code') of the innermost frame outside the library."""
    global _LIBRARY
    if _LIBRARY is None:
        _LIBRARY = _library_paths()
    while frame is not None and _in_library(frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None:
        return "(vjpnet)", ""
    filename, lineno = frame.f_code.co_filename, frame.f_lineno
    code = linecache.getline(filename, lineno).strip()
    return f"{os.path.basename(filename)}:{lineno} ({frame.f_code.co_name})", code


def _size(count):
    if count < 1024:
        return f"{count} B"
    for unit in ("KiB", "MiB", "GiB"):
        count /= 1024
        if count < 1024 or unit == "GiB":
            return f"{count:.1f} {unit}"
