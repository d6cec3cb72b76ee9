"""Trace levels, traced values and the reverse sweep.

Inside `grad(f)` each float input is wrapped in a `Traced` bound to a fresh `Tape`. Every
primitive called on a traced value appends one entry (primitive, parents, cache) to the tape of
the highest level among its arguments; tape order is a topological order, so `backward` is one
reverse loop. Nested `grad` opens a tape one level up; a value traced at level 2 wraps a value
traced at level 1, which is how VJPs written with NumPy operations become differentiable.

The current level lives in a ContextVar, so threads and asyncio tasks each trace independently.
"""
import contextvars
import math

import numpy as np

_level = contextvars.ContextVar("vjpnet_trace_level", default=0)

# NumPy dispatch tables, filled by vjpnet.numpy_ops (and by users through
# vjpnet.registry.register_ufunc / register_function).
UFUNC_PRIMITIVES = {}          # np.ufunc -> Primitive
FUNCTION_HANDLERS = {}         # NumPy function -> callable taking the same arguments
NONDIFFERENTIABLE = set()      # ufuncs / functions that return plain results on traced input
UFUNC_METHODS = {}             # (ufunc, "reduce" / "accumulate") -> handler (np.add.reduce, ...)


class Tape:
    """One trace level: its entries (one per node) and open/closed state."""

    __slots__ = ("level", "entries", "open")

    def __init__(self, level):
        self.level = level
        # per node: None for an input, else (primitive, parents, cache, needed, nested)
        self.entries = []
        self.open = True

    def new_input(self, value):
        """Wrap one input value (a float array or float) as a traced leaf of this tape."""
        self.entries.append(None)
        return Traced(value, self, len(self.entries) - 1)

    def record(self, primitive, parents, cache, needed, nested, out):
        """Append one primitive call; return its output traced at this level.

        parents: ((position, node, value), ...) of the arguments traced at this level (value: the
        argument's value one level down, for the shape/dtype check of its cotangent); needed: per
        positional argument, whether it is one of them; nested: a first-order primitive whose
        arguments are also traced by an enclosing level (its VJP must never run then).
        """
        entries = self.entries
        entries.append((primitive, parents, cache, needed, nested))
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


_NO_KWARGS = {}


def _unary_operator(ufunc):
    """-x, abs(x): the ufunc's primitive, called directly (the hot path of loss code)."""
    def operator(self):
        primitive = UFUNC_PRIMITIVES.get(ufunc)
        if primitive is None:
            return ufunc(self)   # unregistered: NumPy's dispatch raises the explanatory error
        out = primitive.apply1(self)
        if type(self.value) is not _ndarray:   # rare: a Python float, a nested level
            _python_float_result(out, self)
        return out
    return operator


def _binary_operators(ufunc):
    """x + y and y + x (reflected) for a traced x: the ufunc's primitive, called directly."""
    def operator(self, other):
        primitive = UFUNC_PRIMITIVES.get(ufunc)
        if primitive is None:
            return ufunc(self, other)
        out = primitive.apply2(self, other)
        if type(self.value) is not _ndarray:
            _python_float_result(out, self, other)
        return out

    def reflected(self, other):
        primitive = UFUNC_PRIMITIVES.get(ufunc)
        if primitive is None:
            return ufunc(other, self)
        out = primitive.apply2(other, self)
        if type(self.value) is not _ndarray:
            _python_float_result(out, other, self)
        return out
    return operator, reflected


_ndarray = np.ndarray


def _python_float_result(out, *operands):
    """An operator on Python floats gives a Python float, as in Python, not the NumPy float64
    scalar the ufunc returns (which, unlike a Python float, would promote the float32 arrays it
    later meets to float64). Sets the innermost value of `out` in place."""
    if type(out) is not Traced or \
            not all(type(plain(operand)) in (float, int) for operand in operands):
        return
    while type(out.value) is Traced:
        out = out.value
    if type(out.value) is np.float64:
        out.value = float(out.value)


class Traced:
    """A value recorded on a tape. `value` may itself be traced at a lower level.

    It behaves like a read-only ndarray: NumPy functions, operators, the common methods and
    properties, and indexing all dispatch to registered primitives. Conversions that would cut
    it off from the gradient (np.asarray, .tolist(), in-place writes) raise TypeError.
    """

    __slots__ = ("value", "tape", "node")
    __array_priority__ = 100.0

    def __init__(self, value, tape, node):
        self.value = value
        self.tape = tape
        self.node = node

    # --- NumPy dispatch -------------------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "__call__" and not kwargs:   # the hot path
            primitive = UFUNC_PRIMITIVES.get(ufunc)
            if primitive is not None:
                count = len(inputs)
                if count == 1:
                    return primitive.apply1(inputs[0])
                return primitive.apply2(*inputs) if count == 2 else primitive.apply(inputs)
        if kwargs:
            _check_ufunc_kwargs(ufunc, method, kwargs)
        if method == "__call__":
            primitive = UFUNC_PRIMITIVES.get(ufunc)
            if primitive is not None:
                return primitive.bind(inputs, kwargs)[0]
            if ufunc in NONDIFFERENTIABLE:
                return ufunc(*[plain(x) for x in inputs])
        elif method in ("reduce", "accumulate") and (ufunc, method) in UFUNC_METHODS:
            return UFUNC_METHODS[ufunc, method](*inputs, **kwargs)
        elif ufunc in NONDIFFERENTIABLE:
            return getattr(ufunc, method)(*[plain(x) for x in inputs], **kwargs)
        name = f"numpy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        raise TypeError(_missing_vjp_message(name, "register_ufunc", ufunc.__name__))

    def __array_function__(self, function, types, args, kwargs):
        handler = FUNCTION_HANDLERS.get(function)
        if handler is not None:
            return handler(*args, **kwargs)
        if function in NONDIFFERENTIABLE:
            return function(*_plain_tree(args), **_plain_tree(kwargs))
        module = function.__module__ or "numpy"
        name = f"{module}.{function.__name__}"
        raise TypeError(_missing_vjp_message(name, "register_function", function.__name__))

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "a traced value cannot be converted to a plain NumPy array (np.asarray, np.array, "
            "or a library that calls them, e.g. scipy): the result would be cut off from the "
            "gradient. Keep using NumPy operations on it; for a constant copy that is not "
            "differentiated use vjpnet.stop_gradient(x).")

    # --- array attributes -----------------------------------------------------------------
    @property
    def shape(self):
        value = self.value
        return () if type(value) is float else value.shape

    dtype = property(lambda self: dtype_of(self.value))
    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: math.prod(self.shape))
    T = property(lambda self: FUNCTION_HANDLERS[np.transpose](self))

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

    def __round__(self, ndigits=None):
        return round(_scalar(self, float), ndigits)

    def __index__(self):
        raise TypeError("a traced float value cannot be used as an index; indices are "
                        "integers, which vjpnet never traces")

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.shape[0]))

    def __setitem__(self, index, value):
        raise TypeError(
            "x[index] = value writes into a traced array in place, which cannot be "
            "differentiated. Build a new array instead: x = vjpnet.index_update(x, index, "
            "value), or x = np.where(mask, value, x) for a boolean mask.")

    def tolist(self):
        raise TypeError("traced.tolist() would cut the value off from the gradient (Python "
                        "lists are constants); keep it an array and use NumPy operations on it, "
                        "or call .tolist() on vjpnet.stop_gradient(x) for a constant copy")

    def item(self, *args):
        """A Python scalar (a constant: it carries no gradient), like ndarray.item."""
        value = plain(self)
        if not args and np.size(value) != 1:
            return _scalar(self, float)   # raises the explanatory error
        return value.item(*args) if hasattr(value, "item") else value

    def __hash__(self):
        return id(self)

    # --- methods, each forwarded to the handler of the NumPy function ----------------------
    def __getitem__(self, index):
        return FUNCTION_HANDLERS["getitem"](self, index)

    def sum(self, *args, **kwargs): return FUNCTION_HANDLERS[np.sum](self, *args, **kwargs)
    def mean(self, *args, **kwargs): return FUNCTION_HANDLERS[np.mean](self, *args, **kwargs)
    def max(self, *args, **kwargs): return FUNCTION_HANDLERS[np.max](self, *args, **kwargs)
    def min(self, *args, **kwargs): return FUNCTION_HANDLERS[np.min](self, *args, **kwargs)
    def prod(self, *args, **kwargs): return np.prod(self, *args, **kwargs)
    def var(self, *args, **kwargs): return np.var(self, *args, **kwargs)
    def std(self, *args, **kwargs): return np.std(self, *args, **kwargs)
    def cumsum(self, *args, **kwargs): return np.cumsum(self, *args, **kwargs)
    def argmax(self, *args, **kwargs): return np.argmax(self, *args, **kwargs)
    def argmin(self, *args, **kwargs): return np.argmin(self, *args, **kwargs)
    def argsort(self, *args, **kwargs): return np.argsort(self, *args, **kwargs)
    def nonzero(self): return np.nonzero(self)
    def any(self, *args, **kwargs): return np.any(self, *args, **kwargs)
    def all(self, *args, **kwargs): return np.all(self, *args, **kwargs)
    def round(self, decimals=0): return np.round(self, decimals)
    def ravel(self, order="C"): return np.ravel(self, order)
    def flatten(self, order="C"): return np.ravel(self, order)
    def squeeze(self, axis=None): return np.squeeze(self, axis)
    def clip(self, min=None, max=None): return np.clip(self, min, max)
    def dot(self, other): return FUNCTION_HANDLERS[np.dot](self, other)
    def swapaxes(self, axis1, axis2): return np.swapaxes(self, axis1, axis2)
    def repeat(self, repeats, axis=None): return np.repeat(self, repeats, axis)
    def take(self, indices, axis=None): return np.take(self, indices, axis)
    def diagonal(self, offset=0, axis1=0, axis2=1): return np.diagonal(self, offset, axis1, axis2)
    def trace(self, offset=0, axis1=0, axis2=1): return np.trace(self, offset, axis1, axis2)
    def copy(self, order="C"): return self   # traced values are never written in place

    def reshape(self, *shape, order="C"):
        shape = shape[0] if len(shape) == 1 else shape
        return FUNCTION_HANDLERS[np.reshape](self, shape, order)

    def transpose(self, *axes):
        """x.transpose(), x.transpose(axes_tuple) or x.transpose(i, j, ...), as ndarray's."""
        if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
            axes = axes[0]   # None, or one tuple/list of axes
        return FUNCTION_HANDLERS[np.transpose](self, axes or None)

    def astype(self, dtype, order="K", casting="unsafe", subok=True, copy=True):
        return FUNCTION_HANDLERS["astype"](self, np.dtype(dtype))

    # --- operators, each forwarded to its ufunc's primitive (no NumPy override machinery) ---
    __neg__ = _unary_operator(np.negative)
    __abs__ = _unary_operator(np.absolute)
    __add__, __radd__ = _binary_operators(np.add)
    __sub__, __rsub__ = _binary_operators(np.subtract)
    __mul__, __rmul__ = _binary_operators(np.multiply)
    __truediv__, __rtruediv__ = _binary_operators(np.true_divide)
    __floordiv__, __rfloordiv__ = _binary_operators(np.floor_divide)
    __mod__, __rmod__ = _binary_operators(np.remainder)
    __pow__, __rpow__ = _binary_operators(np.power)
    __matmul__, __rmatmul__ = _binary_operators(np.matmul)

    def __pos__(self): return self
    def __lt__(self, other): return np.less(plain(self), plain(other))
    def __le__(self, other): return np.less_equal(plain(self), plain(other))
    def __gt__(self, other): return np.greater(plain(self), plain(other))
    def __ge__(self, other): return np.greater_equal(plain(self), plain(other))
    def __eq__(self, other): return np.equal(plain(self), plain(other))
    def __ne__(self, other): return np.not_equal(plain(self), plain(other))


def _check_ufunc_kwargs(ufunc, method, kwargs):
    if "out" in kwargs:
        raise TypeError(
            f"numpy.{ufunc.__name__}(..., out=...) writes into an array in place, which "
            "cannot be differentiated; assign the result to a new name instead")
    if method == "__call__":
        for key, value in kwargs.items():
            if value is not None:
                raise TypeError(
                    f"numpy.{ufunc.__name__}(..., {key}=...) is not supported on traced values "
                    f"by vjpnet; call it without {key}= (use np.where for masks, .astype for "
                    "dtypes)")
        kwargs.clear()


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
    code_name = "np." + name[len("numpy."):] if name.startswith("numpy.") else name
    return (
        f"{name} has no registered VJP in vjpnet, so it cannot be applied to a traced value. "
        f"Express the computation with supported NumPy operations, or register a primitive:\n"
        f"    @vjpnet.primitive\n"
        f"    def my_{short_name}(x):\n"
        f"        out = {code_name}(x)        # forward on plain arrays\n"
        f"        return out, (x, out)         # (output, cache for the VJP)\n"
        f"    @my_{short_name}.defvjp\n"
        f"    def my_{short_name}_vjp(g, cache):\n"
        f"        x, out = cache\n"
        f"        return (...,)                # one cotangent per positional argument\n"
        f"    vjpnet.{register}({code_name}, my_{short_name})")


# --- the reverse sweep ----------------------------------------------------------------------

def backward(tape, seeds, free):
    """Propagate output cotangents to every node of `tape` in one reverse loop.

    seeds: list of (node, cotangent). free: drop each entry (and its cache) once used.
    Returns the list of cotangents per node; only inputs (leaves) keep theirs.
    """
    entries = tape.entries
    cotangents = [None] * len(entries)
    for node, cotangent in seeds:
        previous = cotangents[node]
        cotangents[node] = cotangent if previous is None else previous + cotangent
    start = max((node for node, _ in seeds), default=-1)
    ndarray = np.ndarray
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
        if nested or (type(g) is Traced and primitive.first_order):
            raise _second_order_error(primitive)
        if primitive.selective_vjp:
            results = primitive.vjp(g, cache, needed)
        else:
            results = primitive.vjp(g, cache)
        if type(results) is not tuple:
            results = _as_tuple(primitive, results, len(needed))
        check = primitive.check_cotangents
        for position, parent, value in parents:
            try:
                cotangent = results[position]
            except IndexError:
                raise _count_error(primitive, len(results), needed, position) from None
            if cotangent is None:
                continue
            if check:
                if not (type(cotangent) is ndarray and type(value) is ndarray and
                        cotangent.shape == value.shape and cotangent.dtype == value.dtype):
                    _check_cotangent(primitive, position, cotangent, *abstract_value(value))
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
