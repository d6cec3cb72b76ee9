"""Trace levels, traced values, recording and the reverse sweep.

Inside `grad(f)` each float or complex input is wrapped in a `Traced` bound to a fresh `Tape`.
Every primitive called on a traced value appends one entry (primitive, parents, cache) to the
tape of the highest level among its arguments (`record`, reached through `bind` and the ufunc
fast paths `apply_unary` / `apply_binary`); tape order is a topological order, so `backward`
is one reverse loop. Nested `grad` opens a tape one level up; a value traced at level 2 wraps a
value traced at level 1, which is how VJPs written with NumPy operations become differentiable.

The current level lives in a ContextVar, so threads and asyncio tasks each trace independently.
"""
import contextvars
import importlib
import math
import sys

import numpy as np

from vjpnet import memory

_level = contextvars.ContextVar("vjpnet_trace_level", default=0)

# NumPy dispatch tables, filled by vjpnet.numpy_ops (and by users through
# vjpnet.registry.register_ufunc / register_function).
UFUNC_PRIMITIVES = {}          # np.ufunc -> Primitive
FUNCTION_HANDLERS = {}         # NumPy function -> callable taking the same arguments
NONDIFFERENTIABLE = set()      # ufuncs / functions that return plain results on traced input
UFUNC_METHODS = {}             # (ufunc, "reduce" / "accumulate" / "outer") -> handler
# Modules whose ufuncs vjpnet registers on first use: "scipy.special" -> "vjpnet.scipy.special"
# (imported when a ufunc without a primitive reaches a traced value and scipy.special is loaded).
LAZY_UFUNC_MODULES = {}
# Functions () -> str called when np.asarray meets a traced value; each may return advice on the
# library function that called it (vjpnet.scipy names its replacements), or "".
CALLER_HINTS = []
UNSUPPORTED = {}               # NumPy function -> the error message that says why, and what to use
_ufunc_primitives = UFUNC_PRIMITIVES   # the same dict (typed in tape.pxd for the compiled build)


class TapeOp:
    """What the tape reads from an operation it records: a registry.Primitive, or one of
    checkpoint's ops. Subclasses set the fields (Primitive documents their meaning); the
    defaults are an op with no forward and no VJP that the sweep checks.

    fast_ufunc: for a primitive whose forward is exactly `out = fast_ufunc(*inputs)` with the
    cache `(*inputs, out)` and no nondiff argument (numpy_ops' UfuncPrimitive), the ufunc that
    the fast paths apply_unary / apply_binary call; None for every other op.
    """

    __slots__ = ("name", "forward", "vjp", "jvp", "first_order", "linear", "selective_vjp",
                 "check_cotangents", "nondiff_argnums", "nondiff_mask", "fast_ufunc")

    def __init__(self, name):
        self.name = name
        self.forward = self.vjp = self.jvp = self.fast_ufunc = None
        self.first_order = self.linear = self.selective_vjp = False
        self.check_cotangents = True
        self.nondiff_argnums = ()
        self.nondiff_mask = 0

    def __repr__(self):
        return f"<vjpnet tape op {self.name}>"


class Tape:
    """One trace level: its entries (one per node) and open/closed state.

    An entry is None for an input, else (primitive, parents, cache, needed, nested); see
    `record`. parents is flat: four fields (slot, node, shape, dtype) per traced argument.
    """

    __slots__ = ("level", "entries", "open")

    def __init__(self, level):
        self.level = level
        self.entries = []
        self.open = True

    def new_input(self, value):
        """Wrap one input value (a float or complex array, or a float) as a traced leaf."""
        self.entries.append(None)
        return Traced(value, self, len(self.entries) - 1)


def abstract_value(value):
    """(shape, dtype) of an array, a NumPy scalar, a traced value or a Python number (dtype
    None for a Python float, traced or not: any float cotangent; complex128 for a Python
    complex)."""
    value = plain(value)
    if type(value) is float:
        return (), None
    if type(value) is complex:
        return (), _COMPLEX128
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
    """The dtype of an array, NumPy scalar or traced value; float64 / complex128 for a Python
    float / complex."""
    if type(value) is float:
        return _FLOAT64
    return _COMPLEX128 if type(value) is complex else value.dtype


_FLOAT64 = np.dtype(np.float64)
_COMPLEX128 = np.dtype(np.complex128)
ndarray = np.ndarray


def is_float(value):
    """True for real floating values: float arrays, NumPy floats, Python floats."""
    if type(value) is float:
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and dtype.kind == "f"


def is_differentiable(value):
    """True for the values vjpnet differentiates: real floating or complex arrays and scalars
    (NumPy or Python). Integers and booleans carry no gradient."""
    if type(value) is float or type(value) is complex:
        return True
    dtype = getattr(value, "dtype", None)
    return dtype is not None and dtype.kind in "fc"


def plain(value):
    """Strip every trace level from a value (used for non-differentiable results)."""
    while type(value) is Traced:
        value = value.value
    return value


_NO_KWARGS = {}
_NEGATIVE, _ABSOLUTE, _ADD, _SUBTRACT, _MULTIPLY = \
    np.negative, np.absolute, np.add, np.subtract, np.multiply
_TRUE_DIVIDE, _FLOOR_DIVIDE, _REMAINDER, _POWER, _MATMUL = \
    np.true_divide, np.floor_divide, np.remainder, np.power, np.matmul


def _unary_operator(ufunc, x):
    """-x, abs(x), np.exp(x): the ufunc's primitive, called directly (the hot path of loss
    code): apply_unary for a fast ufunc, else the primitive's apply1."""
    primitive = _ufunc_primitives.get(ufunc)
    if primitive is None:
        return ufunc(x)   # unregistered: NumPy's dispatch raises the explanatory error
    fast = _fast_op(primitive)
    if fast is not None:
        out = apply_unary(fast, x)
    else:
        out = primitive.apply1(x)
    if type(out) is Traced and type(out.value) is not _ndarray:   # rare: a scalar, a level
        _python_float_result(out, x)
    return out


def _binary_operator(ufunc, x, y):
    """x + y, x * y, np.add(x, y), ... with a traced x or y, as _unary_operator."""
    primitive = _ufunc_primitives.get(ufunc)
    if primitive is None:
        return ufunc(x, y)
    fast = _fast_op(primitive)
    if fast is not None:
        out = apply_binary(fast, x, y)
    else:
        out = primitive.apply2(x, y)
    if type(out) is Traced and type(out.value) is not _ndarray:
        _python_float_result(out, x, y)
    return out


_ndarray = np.ndarray


def _fast_op(primitive):
    """`primitive` if it is a TapeOp with a fast_ufunc (apply_unary / apply_binary take it),
    else None (compiled: a type check and a field read instead of a getattr)."""
    if isinstance(primitive, TapeOp):
        op = primitive
        if op.fast_ufunc is not None:
            return op
    return None


def _python_float_result(out, *operands):
    """An operator on Python numbers gives a Python float or complex, as in Python, not the
    NumPy float64 or complex128 scalar the ufunc returns (which, unlike a Python number, would
    promote the float32 or complex64 arrays it later meets). As in Python, so does a Python
    complex on the left of a NumPy float64 (`1j * v`: complex's operators take float
    subclasses). operands: left first. Sets the innermost value of `out` in place."""
    if type(out) is not Traced:
        return
    values = [plain(operand) for operand in operands]
    if not all(type(value) in _PYTHON_NUMBERS for value in values) and not (
            len(values) == 2 and type(values[0]) is complex and type(values[1]) is np.float64):
        return
    while type(out.value) is Traced:
        out = out.value
    python_type = _PYTHON_TYPES.get(type(out.value))
    if python_type is not None:
        out.value = python_type(out.value)


_PYTHON_NUMBERS = (float, int, complex)
_PYTHON_TYPES = {np.float64: float, np.complex128: complex}


# What to write instead of the calls that convert a traced value to a plain array before any
# NumPy dispatch can see it (listed by Traced.__array__'s error).
CONVERSION_HINTS = [
    "X.dot(W) with a plain array X (ndarray.dot converts its argument): write X @ W or "
    "np.dot(X, W)",
    "np.array([a, b]), np.r_[a, b] or a NumPy function given a Python list of traced values: "
    "build the array with np.stack([a, b]) (new axis) or np.concatenate([a, b]) (joined "
    "along an axis)",
    "np.full(shape, x) with a traced x (NumPy converts the fill value before dispatching): "
    "write np.broadcast_to(x, shape) or x * np.ones(shape)",
    "a constant copy that is not differentiated: vjpnet.stop_gradient(x)",
]


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
            primitive = _ufunc_primitives.get(ufunc)
            if primitive is not None:
                count = len(inputs)
                fast = _fast_op(primitive)
                if fast is not None:
                    if count == 1:
                        return apply_unary(fast, inputs[0])
                    return apply_binary(fast, inputs[0], inputs[1])
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
        elif (ufunc, method) in UFUNC_METHODS:
            return UFUNC_METHODS[ufunc, method](*inputs, **kwargs)
        elif ufunc in NONDIFFERENTIABLE:
            return getattr(ufunc, method)(*[plain(x) for x in inputs], **kwargs)
        if _import_lazy_ufunc_modules():   # their primitives may route this ufunc now
            return getattr(ufunc, method)(*inputs, **kwargs)
        name = ufunc_name(ufunc) + ("" if method == "__call__" else f".{method}")
        raise TypeError(_missing_vjp_message(name, "register_ufunc", ufunc.__name__))

    def __array_function__(self, function, types, args, kwargs):
        handler = FUNCTION_HANDLERS.get(function)
        if handler is not None:
            return handler(*args, **kwargs)
        if function in NONDIFFERENTIABLE:
            return function(*_plain_tree(args), **_plain_tree(kwargs))
        if function in UNSUPPORTED:
            raise TypeError(UNSUPPORTED[function])
        module = function.__module__ or "numpy"
        name = f"{module}.{function.__name__}"
        raise TypeError(_missing_vjp_message(name, "register_function", function.__name__))

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and np.dtype(dtype).kind in "iub":
            # np.int64(x), np.asarray(x, dtype=int): integers carry no gradient, so the
            # result is a constant, as x.astype(int) is (e.g. to use it as an index).
            return np.asarray(plain(self)).astype(dtype)
        raise TypeError(
            "a traced value cannot be converted to a plain NumPy array (np.asarray, np.array, "
            "or a library that calls them, e.g. scipy): the result would be cut off from the "
            "gradient. Keep using NumPy operations on it. Common cases:\n"
            + "".join(f"  - {hint}\n" for hint in CONVERSION_HINTS) + _caller_hint())

    # --- array attributes -----------------------------------------------------------------
    @property
    def shape(self):
        value = self.value
        return () if type(value) is float or type(value) is complex else value.shape

    dtype = property(lambda self: dtype_of(self.value))
    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: math.prod(self.shape))
    T = property(lambda self: FUNCTION_HANDLERS[np.transpose](self))
    real = property(lambda self: FUNCTION_HANDLERS[np.real](self))
    imag = property(lambda self: FUNCTION_HANDLERS[np.imag](self))

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

    def __complex__(self):
        return _scalar(self, complex)

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
    def cumprod(self, *args, **kwargs): return np.cumprod(self, *args, **kwargs)

    def sort(self, *args, **kwargs):
        raise TypeError("x.sort() sorts a traced array in place, which cannot be "
                        "differentiated; write x = np.sort(x)")
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
    def conj(self): return np.conjugate(self)
    def conjugate(self): return np.conjugate(self)
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
    def __neg__(self): return _unary_operator(_NEGATIVE, self)
    def __abs__(self): return _unary_operator(_ABSOLUTE, self)
    def __add__(self, other): return _binary_operator(_ADD, self, other)
    def __radd__(self, other): return _binary_operator(_ADD, other, self)
    def __sub__(self, other): return _binary_operator(_SUBTRACT, self, other)
    def __rsub__(self, other): return _binary_operator(_SUBTRACT, other, self)
    def __mul__(self, other): return _binary_operator(_MULTIPLY, self, other)
    def __rmul__(self, other): return _binary_operator(_MULTIPLY, other, self)
    def __truediv__(self, other): return _binary_operator(_TRUE_DIVIDE, self, other)
    def __rtruediv__(self, other): return _binary_operator(_TRUE_DIVIDE, other, self)
    def __floordiv__(self, other): return _binary_operator(_FLOOR_DIVIDE, self, other)
    def __rfloordiv__(self, other): return _binary_operator(_FLOOR_DIVIDE, other, self)
    def __mod__(self, other): return _binary_operator(_REMAINDER, self, other)
    def __rmod__(self, other): return _binary_operator(_REMAINDER, other, self)
    def __pow__(self, other, modulo=None): return _binary_operator(_POWER, self, other)
    def __rpow__(self, other, modulo=None): return _binary_operator(_POWER, other, self)
    def __matmul__(self, other): return _binary_operator(_MATMUL, self, other)
    def __rmatmul__(self, other): return _binary_operator(_MATMUL, other, self)

    def __pos__(self): return self
    def __lt__(self, other): return np.less(self, other)   # routed: a plain (constant) mask
    def __le__(self, other): return np.less_equal(self, other)
    def __gt__(self, other): return np.greater(self, other)
    def __ge__(self, other): return np.greater_equal(self, other)
    def __eq__(self, other): return np.equal(plain(self), plain(other))
    def __ne__(self, other): return np.not_equal(plain(self), plain(other))


def _check_ufunc_kwargs(ufunc, method, kwargs):
    if "out" in kwargs:
        raise TypeError(
            f"{ufunc_name(ufunc)}(..., out=...) writes into an array in place, which "
            "cannot be differentiated; assign the result to a new name instead")
    if method == "__call__":
        for key, value in kwargs.items():
            if value is not None:
                raise TypeError(
                    f"{ufunc_name(ufunc)}(..., {key}=...) is not supported on traced values "
                    f"by vjpnet; call it without {key}= (use np.where for masks, .astype for "
                    "dtypes)")
        kwargs.clear()


def ufunc_name(ufunc):
    """The ufunc's public name with its module ("numpy.exp", "scipy.special.gammaln"); ufuncs
    carry no __module__, so it is looked up in NumPy and the loaded lazy ufunc modules."""
    name = ufunc.__name__
    for module_name in ("numpy", *LAZY_UFUNC_MODULES):
        module = sys.modules.get(module_name)
        if module is not None and getattr(module, name, None) is ufunc:
            return f"{module_name}.{name}"
    return name


def _import_lazy_ufunc_modules():
    """Import the vjpnet modules registering the ufuncs of loaded modules (once); True if any
    was imported now."""
    imported = False
    for module_name, provider in LAZY_UFUNC_MODULES.items():
        if module_name in sys.modules and provider not in sys.modules:
            importlib.import_module(provider)
            imported = True
    return imported


def _caller_hint():
    """Advice from the registered CALLER_HINTS on the function that called np.asarray."""
    return "".join(hint() for hint in CALLER_HINTS)


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


# --- recording ------------------------------------------------------------------------------

def record(tape, primitive, parents, cache, needed, nested, out):
    """Append one call of `primitive` to `tape`; return `out` traced at the tape's level. Every
    recording (bind, the ufunc fast paths, checkpoint) is this step.

    parents: a flat tuple, four fields per argument traced at this level: slot (the index of
    its cotangent in the VJP's result), node (its node on the tape), shape and dtype (what that
    cotangent must have; dtype None: a Python float; both None for an op that does not check
    its cotangents, whose inputs are in its cache). The tape keeps no input value for the
    check, only its shape and dtype. needed: per VJP result slot, whether it is wanted; nested:
    a first-order primitive whose arguments are also traced by an enclosing level (its VJP must
    never run then).
    """
    entries = tape.entries
    entries.append((primitive, parents, cache, needed, nested))
    traced = Traced.__new__(Traced)   # without __init__'s call: the hot path of every op
    traced.value = out
    traced.tape = tape
    traced.node = len(entries) - 1
    return traced


def bind(primitive, args, kwargs):
    """Run `primitive`'s forward on args, recording the call on the tape of the highest trace
    level among them; return (out, cache). Without traced arguments, the bare forward.

    Primitive.bind is this function. The fast path is one level of grad: every traced argument
    on the same tape and wrapping a plain value; anything else takes _bind_levels.
    """
    tape = None
    parents = []
    mask = 0
    position = 0
    containers = False
    for arg in args:
        kind = type(arg)
        if kind is Traced:
            traced = arg
            value = traced.value
            if type(value) is Traced or (tape is not None and traced.tape is not tape):
                return _bind_levels(primitive, args, kwargs)
            tape = traced.tape
            parents.append(position)
            parents.append(traced.node)
            if type(value) is float:
                parents.append(())
                parents.append(None)
            elif type(value) is complex:
                parents.append(())
                parents.append(_COMPLEX128)
            else:
                parents.append(value.shape)
                parents.append(value.dtype)
            mask |= 1 << position
        elif kind is list or kind is tuple or kind is dict:
            containers = True
        position += 1
    if containers or kwargs:
        _check_constants(primitive, args, kwargs, 1 if tape is None else tape.level)
    if tape is None:
        return primitive.forward(*args, **kwargs)
    if not tape.open:
        raise _escaped_error(primitive)
    unwrapped = list(args)
    for index in range(0, len(parents), 4):
        slot = parents[index]
        traced = args[slot]
        unwrapped[slot] = traced.value
    nondiff = primitive.nondiff_mask
    if nondiff:
        if mask & nondiff:
            raise primitive.nondiff_error((mask & nondiff).bit_length() - 1)
        needed, slots = _slots(position, mask, nondiff)
        for index in range(0, len(parents), 4):
            parents[index] = slots[parents[index]]
    else:
        needed = _NEEDED.get((position, mask)) or _needed(position, mask)
    out, cache = primitive.forward(*unwrapped, **kwargs)
    if not (type(out) is ndarray and out.dtype.kind == "f") and \
            not _differentiable_output(primitive, out):
        return out, cache   # integer or boolean results carry no gradient
    return record(tape, primitive, tuple(parents), cache, needed, False, out), cache


def _bind_levels(primitive, args, kwargs):
    """bind for arguments traced at several levels (nested grad): record at the highest."""
    tape = None
    for position, arg in enumerate(args):
        if type(arg) is Traced:
            if primitive.nondiff_mask >> position & 1:
                raise primitive.nondiff_error(position)
            if tape is None or arg.tape.level > tape.level:
                tape = arg.tape
    _check_constants(primitive, args, kwargs, tape.level)
    if not tape.open:
        raise _escaped_error(primitive)
    unwrapped = list(args)
    mask = 0
    parents = ()
    for position, arg in enumerate(args):
        if type(arg) is Traced:
            if arg.tape is tape:
                value = unwrapped[position] = arg.value
                mask |= 1 << position
                parents += (position, arg.node) + abstract_value(value)
            elif arg.tape.level == tape.level:
                raise _escaped_error(primitive)
    needed, slots = _slots(len(args), mask, primitive.nondiff_mask)
    parents = tuple(slots[field] if index % 4 == 0 else field
                    for index, field in enumerate(parents))
    nested = False
    if primitive.first_order or primitive.linear:
        # Record at every lower level too, so the forward itself sees plain arrays.
        out, cache = bind(primitive, tuple(unwrapped), kwargs)
        if primitive.first_order:
            for arg in unwrapped:
                nested = nested or type(arg) is Traced
    else:
        out, cache = primitive.forward(*unwrapped, **kwargs)
    if not (type(out) is ndarray and out.dtype.kind == "f") and \
            not _differentiable_output(primitive, out):
        return out, cache
    return record(tape, primitive, parents, cache, needed, nested, out), cache


def apply_unary(primitive, x):
    """primitive(x) for a primitive with a fast_ufunc (forward: out = fast_ufunc(x), cache
    (x, out)): bind's one-level path for one argument, recording the same entry."""
    if type(x) is not Traced:
        return bind(primitive, (x,), _NO_KWARGS)[0]
    traced = x
    tape = traced.tape
    value = traced.value
    if type(value) is Traced or not tape.open:
        return bind(primitive, (x,), _NO_KWARGS)[0]
    if type(value) is ndarray and value.nbytes >= _MIN_BYTES:
        out = _into_recycled(primitive.fast_ufunc, value.shape, (value.dtype,), value, None)
    else:
        out = primitive.fast_ufunc(value)   # of a float or complex input: float or complex
    # no shape and dtype: a fast ufunc's cotangents are not checked (its cache has the input)
    return record(tape, primitive, (0, traced.node, None, None), (value, out), _ONE, False,
                  out)


def apply_binary(primitive, x, y):
    """primitive(x, y) for a primitive with a binary fast_ufunc (cache (x, y, out)), as
    apply_unary."""
    if type(x) is Traced:
        traced = x
        tape = traced.tape
        x_value = traced.value
        if type(x_value) is Traced or not tape.open:
            return bind(primitive, (x, y), _NO_KWARGS)[0]
        if type(y) is Traced:
            x_node = traced.node
            traced = y
            y_value = traced.value
            if traced.tape is not tape or type(y_value) is Traced:
                return bind(primitive, (x, y), _NO_KWARGS)[0]
            parents = (0, x_node, None, None, 1, traced.node, None, None)
            needed = _BOTH
        else:
            y_value = y
            parents, needed = (0, traced.node, None, None), _FIRST
    elif type(y) is Traced:
        traced = y
        tape = traced.tape
        x_value = x
        y_value = traced.value
        if type(y_value) is Traced or not tape.open:
            return bind(primitive, (x, y), _NO_KWARGS)[0]
        parents, needed = (1, traced.node, None, None), _SECOND
    else:
        return bind(primitive, (x, y), _NO_KWARGS)[0]
    # two arrays of one shape only: an attribute read on every binary op would cost ~2% of a
    # small op (x * 0.5 of a large x keeps NumPy's own allocation)
    if type(y_value) is ndarray and type(x_value) is ndarray and \
            x_value.nbytes >= _MIN_BYTES and y_value.shape == x_value.shape:
        out = _into_recycled(primitive.fast_ufunc, x_value.shape,
                             (x_value.dtype, y_value.dtype), x_value, y_value)
    else:
        out = primitive.fast_ufunc(x_value, y_value)
    if not (type(out) is ndarray and out.dtype.kind == "f") and not is_differentiable(out):
        return out   # e.g. an integer result: no gradient
    return record(tape, primitive, parents, (x_value, y_value, out), needed, False, out)


def _into_recycled(ufunc, shape, dtypes, x, y):
    """ufunc(x) (y None) or ufunc(x, y), whose output has `shape`, written into memory from
    vjpnet.memory when the ufunc's loop for `dtypes` gives a float or complex result: a large
    output of a fast path (np.square(W), W * W, np.tanh(h), h + z) is then not page-faulted
    afresh at every step. The same loop runs as without out=, so the values are the same."""
    out_dtype = None
    if type(ufunc) is _ufunc:
        try:
            out_dtype = ufunc.resolve_dtypes(dtypes + (None,))[-1]
        except (TypeError, ValueError):   # no loop: the call below raises NumPy's error
            pass
    if out_dtype is None or out_dtype.kind not in "fc":
        return ufunc(x) if y is None else ufunc(x, y)
    buffer = memory.empty(shape, out_dtype)
    return ufunc(x, out=buffer) if y is None else ufunc(x, y, out=buffer)


_ufunc = np.ufunc
_MIN_BYTES = memory.MIN_BYTES   # smaller fast-path outputs are NumPy's own (a C int compiled)
_ONE, _FIRST, _SECOND, _BOTH = (True,), (True, False), (False, True), (True, True)
_NEEDED = {}   # (number of args, bit mask of traced positions) -> tuple of bools


def _needed(count, mask):
    needed = _NEEDED[count, mask] = tuple(bool(mask >> i & 1) for i in range(count))
    return needed


_SLOTS = {}   # (number of args, traced mask, nondiff mask) -> (needed, slot per position)


def _slots(count, mask, nondiff):
    """(needed, slots): per differentiable positional argument (nondiff ones skipped), whether
    it is traced; per position, the index of its cotangent in the VJP's result."""
    key = (count, mask, nondiff)
    found = _SLOTS.get(key)
    if found is None:
        positions = [i for i in range(count) if not nondiff >> i & 1]
        slots = [None] * count
        for slot, position in enumerate(positions):
            slots[position] = slot
        found = _SLOTS[key] = (tuple(bool(mask >> i & 1) for i in positions), tuple(slots))
    return found


def _differentiable_output(primitive, out):
    """Whether a forward's output carries a gradient (real floating or complex); reject tuples
    clearly."""
    if is_differentiable(out):
        return True
    if isinstance(out, (tuple, list)):
        raise TypeError(f"the forward of {primitive.name} returned a {type(out).__name__} as "
                        "its output; a primitive's forward returns (out, cache) with one array "
                        "as out")
    return False


def _holds_traced(value, level):
    """Whether value is traced at `level` or above, or a list, tuple or dict holding such a
    value (at any depth)."""
    kind = type(value)
    if kind is Traced:
        return value.tape.level >= level
    if kind is list or kind is tuple:
        return any(_holds_traced(item, level) for item in value)
    if kind is dict:
        return any(_holds_traced(item, level) for item in value.values())
    return False


def _check_constants(primitive, args, kwargs, level):
    """Keyword arguments and values inside list/tuple/dict arguments are constants for the
    tape of `level` (the one the call records on; 1 when nothing positional is traced): a
    value traced there would run the forward on it and bypass the VJP. Values traced at lower
    levels only are constants here, and the forward (which sees values one level down) is
    differentiated at theirs."""
    for key, value in kwargs.items():
        if _holds_traced(value, level):
            raise TypeError(
                f"{primitive.name}: keyword argument {key!r} is traced (it depends on the "
                "values being differentiated), but keyword arguments of a primitive are "
                "constants, never differentiated. Pass it as a positional argument, or "
                f"vjpnet.stop_gradient({key}) to treat it as a constant.")
    for position, arg in enumerate(args):
        kind = type(arg)
        if (kind is list or kind is tuple or kind is dict) and _holds_traced(arg, level):
            raise TypeError(
                f"{primitive.name}: argument {position} is a {kind.__name__} holding traced "
                "values; a primitive differentiates only its positional arguments that are "
                "arrays themselves. Pass each differentiated array as its own positional "
                "argument, or vjpnet.stop_gradient(...) on the values to treat them as "
                "constants.")


def _escaped_error(primitive):
    return ValueError(
        f"{primitive.name} was called on a traced value from a grad/vjp that has already "
        "returned (it escaped, e.g. through a global or a closure). Pass values in as arguments "
        "of the differentiated function instead.")


# --- the reverse sweep ----------------------------------------------------------------------

def backward(tape, seeds, free):
    """Propagate output cotangents to every node of `tape` in one reverse loop.

    seeds: list of (node, cotangent). free: drop each entry (and its cache) once used.
    Returns the list of cotangents per node; only inputs (leaves) keep theirs.
    """
    entries = tape.entries
    cotangents = [None] * len(entries)
    start = -1
    for node, cotangent in seeds:
        previous = cotangents[node]
        cotangents[node] = cotangent if previous is None else previous + cotangent
        start = max(start, node)
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
            # A traced cotangent needs the VJP's own derivative: a first-order primitive
            # supplies it as its JVP rule (the transpose of a linear map), or cannot.
            if nested or primitive.jvp is None:
                raise _second_order_error(primitive, nested)
            results = primitive.traced_cotangent_vjp(g, cache, needed)
        elif primitive.selective_vjp:
            results = primitive.vjp(g, cache, needed)
        else:
            results = primitive.vjp(g, cache)
        if type(results) is not tuple:
            results = _as_tuple(primitive, results, len(needed))
        check = primitive.check_cotangents
        for index in range(0, len(parents), 4):
            slot = parents[index]
            parent = parents[index + 1]
            try:
                cotangent = results[slot]
            except IndexError:
                raise _count_error(primitive, len(results), needed, slot) from None
            if cotangent is None:
                continue
            if check:
                shape = parents[index + 2]
                dtype = parents[index + 3]
                if not (type(cotangent) is ndarray and cotangent.dtype is dtype and
                        cotangent.shape == shape):
                    _check_cotangent(primitive, slot, cotangent, shape, dtype)
            previous = cotangents[parent]
            if previous is None:
                cotangents[parent] = cotangent
            elif type(previous) is ndarray and previous.nbytes >= memory.MIN_BYTES and \
                    type(cotangent) is ndarray and previous.shape == cotangent.shape and \
                    previous.dtype == cotangent.dtype:
                # a large sum in recycled memory, not page-faulted afresh at every step
                cotangents[parent] = np.add(previous, cotangent,
                                            out=memory.empty(previous.shape, previous.dtype))
            else:
                cotangents[parent] = previous + cotangent
    return cotangents


def _as_tuple(primitive, results, num_args):
    if isinstance(results, list):
        return tuple(results)
    if num_args == 1:
        return (results,)
    raise TypeError(
        f"the VJP of {primitive.name} returned a single {type(results).__name__}, but the "
        f"primitive was called with {num_args} positional arguments{_nondiff_note(primitive)}: "
        "return a tuple with one cotangent (or None) per positional argument")


def _nondiff_note(primitive):
    nondiff = getattr(primitive, "nondiff_argnums", ())
    return f" (not counting nondiff_argnums={nondiff})" if nondiff else ""


def _position(primitive, slot):
    """The positional argument whose cotangent is the VJP's result `slot`."""
    nondiff = getattr(primitive, "nondiff_argnums", ())
    position = -1
    while slot >= 0:
        position += 1
        if position not in nondiff:
            slot -= 1
    return position


def _count_error(primitive, count, needed, slot):
    return ValueError(
        f"the VJP of {primitive.name} returned {count} cotangents for {len(needed)} positional "
        f"arguments{_nondiff_note(primitive)}, but argument {_position(primitive, slot)} is "
        "being differentiated: return one cotangent (or None) per positional argument")


def _check_cotangent(primitive, slot, cotangent, shape, dtype):
    if type(cotangent) is ndarray and cotangent.shape == shape and dtype is not None and \
            cotangent.dtype == dtype:
        return   # an equal dtype that is not the same object
    if type(cotangent) is Traced and cotangent.shape == shape and \
            (cotangent.dtype == dtype if dtype is not None else cotangent.dtype.kind == "f"):
        return   # a traced cotangent (higher order, forward mode) of the right kind
    got_shape = np.shape(cotangent)
    got_dtype = dtype_of(cotangent) if is_differentiable(cotangent) or \
        hasattr(cotangent, "dtype") else type(cotangent).__name__
    what = f"argument {_position(primitive, slot)} of {primitive.name}"
    if got_shape != shape:
        raise ValueError(
            f"the VJP of {primitive.name} returned a cotangent of shape {got_shape} for {what}, "
            f"which has shape {shape}: a cotangent must have exactly its input's shape "
            "(sum over broadcast axes)")
    real_input = dtype is None or dtype.kind == "f"
    if real_input and getattr(got_dtype, "kind", None) == "c":
        raise TypeError(
            f"the VJP of {primitive.name} returned a complex cotangent (dtype {got_dtype}) for "
            f"{what}, which is real ({dtype or 'a Python float'}): the cotangent of a real input "
            "is the real part of the complex one; take np.real(...) where broadcasting is "
            "undone (vjpnet.numpy_ops.unbroadcast and sum_to_shape do it)")
    if dtype is None:   # a Python float input takes any float cotangent
        if not is_float(cotangent):
            raise TypeError(f"the VJP of {primitive.name} returned a cotangent of dtype "
                            f"{got_dtype} for {what}, a Python float; expected a float")
    elif got_dtype != dtype:
        raise TypeError(
            f"the VJP of {primitive.name} returned a cotangent of dtype {got_dtype} for {what}, "
            f"which has dtype {dtype}: cast the cotangent to its input's dtype")


def _second_order_error(primitive, nested):
    if nested:
        return TypeError(
            f"{primitive.name} is registered first_order=True (its VJP is not differentiable), "
            "but it is being differentiated twice: its inputs are traced by an enclosing grad "
            "(or jvp). Use an op whose VJP is written with NumPy operations for higher "
            "derivatives.")
    return TypeError(
        f"{primitive.name} is registered first_order=True and has no JVP rule, so forward mode "
        "(jvp, linearize, jacfwd, hessian) cannot pass through it, nor can a derivative with "
        "respect to its output cotangent (it is being differentiated twice). Define the rule "
        f"with @{primitive.name}.defjvp (def rule(tangents, cache): return the tangent of the "
        "output), or use reverse mode only (jacrev, check_grads(..., modes=('rev',))).")
