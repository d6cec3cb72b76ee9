"""Trace levels, traced values and the reverse sweep.

Inside `grad(f)` each float input is wrapped in a `Traced` bound to a fresh `Tape`. Every
primitive called on a traced value appends one entry (primitive, parents, cache) to the tape of
the highest level among its arguments; tape order is a topological order, so `backward` is one
reverse loop. Nested `grad` opens a tape one level up; a value traced at level 2 wraps a value
traced at level 1, which is how VJPs written with NumPy operations become differentiable.

The current level lives in a ContextVar, so threads and asyncio tasks each trace independently.
"""
import contextvars

import numpy as np

_level = contextvars.ContextVar("vjpnet_trace_level", default=0)

# NumPy dispatch tables, filled by vjpnet.numpy_ops (and by users through
# vjpnet.registry.register_ufunc / register_function).
UFUNC_PRIMITIVES = {}          # np.ufunc -> Primitive
FUNCTION_HANDLERS = {}         # NumPy function -> callable taking the same arguments
NONDIFFERENTIABLE = set()      # ufuncs / functions that return plain results on traced input


class Tape:
    """One trace level: its entries, the (shape, dtype) of every node, open/closed state."""

    __slots__ = ("level", "entries", "avals", "open")

    def __init__(self, level):
        self.level = level
        self.entries = []   # per node: None for an input, else (primitive, parents, cache, needed, nested)
        self.avals = []     # per node: (shape, dtype); dtype None for a Python float
        self.open = True

    def new_input(self, value):
        """Wrap one input value (a float array or float) as a traced leaf of this tape."""
        self.entries.append(None)
        self.avals.append(abstract_value(value))
        return Traced(value, self, len(self.entries) - 1)

    def record(self, primitive, parents, cache, needed, nested, out):
        """Append one primitive call; return its output traced at this level.

        parents: ((position, node), ...) of the arguments traced at this level; needed: per
        positional argument, whether it is one of them; nested: a first-order primitive whose
        arguments are also traced by an enclosing level (its VJP must never run then).
        """
        entries = self.entries
        entries.append((primitive, parents, cache, needed, nested))
        self.avals.append(((), None) if type(out) is float else (out.shape, out.dtype))
        return Traced(out, self, len(entries) - 1)


def abstract_value(value):
    """(shape, dtype) of an array, a NumPy scalar, a traced value or a Python float."""
    if type(value) is float:
        return (), None
    return value.shape, value.dtype


class open_tape:
    """Context manager: open the next trace level, close it (always) on exit."""

    __slots__ = ("tape", "token")

    def __enter__(self):
        self.tape = Tape(_level.get() + 1)
        self.token = _level.set(self.tape.level)
        return self.tape

    def __exit__(self, *exc_info):
        _level.reset(self.token)
        self.tape.open = False
        if exc_info[0] is not None:
            self.tape.entries.clear()   # a failed trace keeps nothing alive


def dtype_of(value):
    """The dtype of an array, NumPy scalar or traced value; float64 for a Python float."""
    return _FLOAT64 if type(value) is float else value.dtype


_FLOAT64 = np.dtype(np.float64)


def is_float(value):
    """True for the values vjpnet differentiates: float arrays, NumPy floats, Python floats."""
    if type(value) is float:
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and dtype.kind == "f"


def plain(value):
    """Strip every trace level from a value (used for non-differentiable results)."""
    while type(value) is Traced:
        value = value.value
    return value


class Traced:
    """A value recorded on a tape. `value` may itself be traced at a lower level."""

    __slots__ = ("value", "tape", "node")
    __array_priority__ = 100.0

    def __init__(self, value, tape, node):
        self.value = value
        self.tape = tape
        self.node = node

    # --- NumPy dispatch -------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if kwargs and "out" in kwargs:
            raise TypeError(
                f"numpy.{ufunc.__name__}(..., out=...) writes into an array in place, which "
                "cannot be differentiated; assign the result to a new name instead")
        if method == "__call__":
            primitive = UFUNC_PRIMITIVES.get(ufunc)
            if primitive is not None:
                return primitive.bind(inputs, kwargs)[0]
            if ufunc in NONDIFFERENTIABLE:
                return ufunc(*[plain(x) for x in inputs], **kwargs)
        name = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        raise TypeError(_missing_vjp_message(name, "register_ufunc", ufunc.__name__))

    def __array_function__(self, function, types, args, kwargs):
        handler = FUNCTION_HANDLERS.get(function)
        if handler is not None:
            return handler(*args, **kwargs)
        if function in NONDIFFERENTIABLE:
            return function(*_plain_tree(args), **_plain_tree(kwargs))
        name = f"{function.__module__}.{function.__name__}"
        raise TypeError(_missing_vjp_message(name, "register_function", function.__name__))

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "a traced value cannot be converted to a plain NumPy array (np.asarray, np.array, "
            "or a NumPy function vjpnet does not dispatch): the result would be cut off from "
            "the gradient. Keep using NumPy operations on it; for a constant copy that is not "
            "differentiated use vjpnet.stop_gradient(x).")

    # --- array attributes -----------------------------------------------------------------
    shape = property(lambda self: self.value.shape if type(self.value) is not float else ())
    dtype = property(lambda self: dtype_of(self.value))
    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape)))
    T = property(lambda self: np.transpose(self))

    def __len__(self):
        return len(self.value)

    def __repr__(self):
        return f"Traced(level={self.tape.level}, value={plain(self)!r})"

    def __bool__(self):
        return bool(plain(self))

    def __float__(self):
        return _scalar(self, float)

    def __int__(self):
        return _scalar(self, int)

    def __index__(self):
        raise TypeError("a traced float value cannot be used as an index")

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.shape[0]))

    def __setitem__(self, index, value):
        raise TypeError(
            "x[index] = value writes into a traced array in place, which cannot be "
            "differentiated. Build a new array instead: np.where(mask, value, x) for masks, "
            "vjpnet.numpy_ops.index_update(x, index, value) for an index.")

    def tolist(self):
        raise TypeError("traced.tolist() would cut the value off from the gradient; "
                        "use NumPy operations on the traced array instead")

    def item(self):
        return _scalar(self, lambda v: np.asarray(v).item())

    def __hash__(self):
        return id(self)

    # --- methods, each forwarded to the NumPy function (which dispatches back here) --------
    def __getitem__(self, index):
        return FUNCTION_HANDLERS["getitem"](self, index)

    def sum(self, *args, **kwargs): return np.sum(self, *args, **kwargs)
    def mean(self, *args, **kwargs): return np.mean(self, *args, **kwargs)
    def max(self, *args, **kwargs): return np.max(self, *args, **kwargs)
    def min(self, *args, **kwargs): return np.min(self, *args, **kwargs)
    def prod(self, *args, **kwargs): return np.prod(self, *args, **kwargs)
    def var(self, *args, **kwargs): return np.var(self, *args, **kwargs)
    def std(self, *args, **kwargs): return np.std(self, *args, **kwargs)
    def cumsum(self, *args, **kwargs): return np.cumsum(self, *args, **kwargs)
    def argmax(self, *args, **kwargs): return np.argmax(self, *args, **kwargs)
    def argmin(self, *args, **kwargs): return np.argmin(self, *args, **kwargs)
    def ravel(self, *args, **kwargs): return np.ravel(self, *args, **kwargs)
    def squeeze(self, *args, **kwargs): return np.squeeze(self, *args, **kwargs)
    def clip(self, *args, **kwargs): return np.clip(self, *args, **kwargs)
    def dot(self, other): return np.dot(self, other)
    def swapaxes(self, *args): return np.swapaxes(self, *args)
    def flatten(self): return np.ravel(self)
    def copy(self): return self

    def reshape(self, *shape, **kwargs):
        return np.reshape(self, shape[0] if len(shape) == 1 else shape, **kwargs)

    def transpose(self, *axes):
        return np.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def astype(self, dtype, **kwargs):
        return FUNCTION_HANDLERS["astype"](self, dtype)

    # --- operators, each forwarded to its ufunc -------------------------------------------
    def __neg__(self): return _apply_ufunc(np.negative, self)
    def __pos__(self): return self
    def __abs__(self): return np.abs(self)
    def __add__(self, other): return _apply_ufunc(np.add, self, other)
    def __radd__(self, other): return _apply_ufunc(np.add, other, self)
    def __sub__(self, other): return _apply_ufunc(np.subtract, self, other)
    def __rsub__(self, other): return _apply_ufunc(np.subtract, other, self)
    def __mul__(self, other): return _apply_ufunc(np.multiply, self, other)
    def __rmul__(self, other): return _apply_ufunc(np.multiply, other, self)
    def __truediv__(self, other): return _apply_ufunc(np.true_divide, self, other)
    def __rtruediv__(self, other): return _apply_ufunc(np.true_divide, other, self)
    def __pow__(self, other): return _apply_ufunc(np.power, self, other)
    def __rpow__(self, other): return _apply_ufunc(np.power, other, self)
    def __matmul__(self, other): return _apply_ufunc(np.matmul, self, other)
    def __rmatmul__(self, other): return _apply_ufunc(np.matmul, other, self)
    def __lt__(self, other): return np.less(self, other)
    def __le__(self, other): return np.less_equal(self, other)
    def __gt__(self, other): return np.greater(self, other)
    def __ge__(self, other): return np.greater_equal(self, other)
    def __eq__(self, other): return np.equal(self, other)
    def __ne__(self, other): return np.not_equal(self, other)


def _apply_ufunc(ufunc, *inputs):
    """An operator's ufunc on traced inputs, without NumPy's override machinery (hot path)."""
    primitive = UFUNC_PRIMITIVES.get(ufunc)
    if primitive is None:
        return ufunc(*inputs)   # unregistered: NumPy's dispatch raises the explanatory error
    return primitive.bind(inputs, {})[0]


def _scalar(traced, convert):
    value = plain(traced)
    if np.size(value) != 1:
        raise TypeError(
            f"only a traced array with one element can be converted to a Python scalar, got "
            f"shape {np.shape(value)}; reduce it first (e.g. .sum()), and note that the Python "
            "scalar is a constant: it carries no gradient")
    return convert(value)


def _plain_tree(tree):
    if type(tree) in (list, tuple):
        return type(tree)(_plain_tree(item) for item in tree)
    if type(tree) is dict:
        return {key: _plain_tree(item) for key, item in tree.items()}
    return plain(tree)


def _missing_vjp_message(name, register, short_name):
    return (
        f"{name} has no registered VJP in vjpnet, so it cannot be applied to a traced value. "
        f"Express the computation with supported NumPy operations, or register one:\n"
        f"    @vjpnet.primitive\n"
        f"    def my_{short_name}(x):\n"
        f"        out = ...                    # forward on plain arrays\n"
        f"        return out, (x, out)         # (output, cache for the VJP)\n"
        f"    @my_{short_name}.defvjp\n"
        f"    def my_{short_name}_vjp(g, cache):\n"
        f"        x, out = cache\n"
        f"        return (...,)                # one cotangent per positional argument\n"
        f"    vjpnet.{register}({name}, my_{short_name})")


# --- the reverse sweep ----------------------------------------------------------------------

def backward(tape, seeds, free):
    """Propagate output cotangents to every node of `tape` in one reverse loop.

    seeds: list of (node, cotangent). free: drop each entry (and its cache) once used.
    Returns the list of cotangents per node; only inputs (leaves) keep theirs.
    """
    entries, avals = tape.entries, tape.avals
    cotangents = [None] * len(entries)
    for node, cotangent in seeds:
        previous = cotangents[node]
        cotangents[node] = cotangent if previous is None else previous + cotangent
    start = max((node for node, _ in seeds), default=-1)
    for node in range(start, -1, -1):
        entry = entries[node]
        if entry is None:
            continue
        if free:
            entries[node] = None
        g = cotangents[node]
        if g is None:
            continue
        cotangents[node] = None
        primitive, parents, cache, needed, nested = entry
        if nested or (primitive.first_order and type(g) is Traced):
            raise _second_order_error(primitive)
        if primitive.selective_vjp:
            results = primitive.vjp(g, cache, needed)
        else:
            results = primitive.vjp(g, cache)
        if type(results) is not tuple:
            results = _as_tuple(primitive, results, len(needed))
        for position, parent in parents:
            if position >= len(results):
                raise _count_error(primitive, len(results), needed, position)
            cotangent = results[position]
            if cotangent is None:
                continue
            shape, dtype = avals[parent]
            if not (type(cotangent) is np.ndarray and cotangent.shape == shape
                    and cotangent.dtype == dtype):
                _check_cotangent(primitive, position, cotangent, shape, dtype)
            previous = cotangents[parent]
            cotangents[parent] = cotangent if previous is None else previous + cotangent
    return cotangents


def _as_tuple(primitive, results, num_args):
    if isinstance(results, list):
        return tuple(results)
    if num_args == 1:
        return (results,)
    raise TypeError(
        f"the VJP of {primitive.name} returned a single {type(results).__name__}, but the "
        f"primitive was called with {num_args} positional arguments: return a tuple with one "
        "cotangent (or None) per positional argument")


def _count_error(primitive, count, needed, position):
    return ValueError(
        f"the VJP of {primitive.name} returned {count} cotangents for {len(needed)} positional "
        f"arguments, but argument {position} is being differentiated: return one cotangent "
        "(or None) per positional argument")


def _check_cotangent(primitive, position, cotangent, shape, dtype):
    got_shape = np.shape(cotangent)
    got_dtype = dtype_of(cotangent) if is_float(cotangent) or hasattr(cotangent, "dtype") \
        else type(cotangent).__name__
    what = f"argument {position} of {primitive.name}"
    if got_shape != shape:
        raise ValueError(
            f"the VJP of {primitive.name} returned a cotangent of shape {got_shape} for {what}, "
            f"which has shape {shape}: a cotangent must have exactly its input's shape "
            "(sum over broadcast axes)")
    if dtype is None:   # a Python float input takes any float cotangent
        if not is_float(cotangent):
            raise TypeError(f"the VJP of {primitive.name} returned a cotangent of dtype "
                            f"{got_dtype} for {what}, a Python float; expected a float")
    elif got_dtype != dtype:
        raise TypeError(
            f"the VJP of {primitive.name} returned a cotangent of dtype {got_dtype} for {what}, "
            f"which has dtype {dtype}: cast the cotangent to its input's dtype")


def _second_order_error(primitive):
    return TypeError(
        f"{primitive.name} is registered first_order=True (its VJP is not differentiable), but "
        "it is being differentiated twice: its inputs or output cotangent are traced by an "
        "enclosing grad. Use an op whose VJP is written with NumPy operations for higher "
        "derivatives.")
