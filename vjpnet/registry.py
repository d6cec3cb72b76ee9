"""Primitives: forward/VJP pairs, and the registry that holds them.

    @vjpnet.primitive
    def cube(x):                  # forward: returns (out, cache)
        return x ** 3, x

    @cube.defvjp
    def cube_vjp(g, x):           # (cotangent of out, cache) -> one cotangent per positional arg
        return (3 * x ** 2 * g,)

    affine = vjpnet.primitive(affine_forward, vjp=affine_backward)   # an existing pair

Calling a primitive returns only `out`. On traced arguments it also records the call on the
tape (see tape.py). `None` in a VJP's result means "no gradient for that argument".
"""
import numpy as np

from vjpnet import tape as _tape
from vjpnet.tape import Traced

REGISTRY = {}   # "module.name" -> Primitive; walked by the registry-driven test


class Sample:
    """One valid set of inputs for a primitive, used by the registry-driven test.

    Sample(x, w, b, {"stride": 1, "pad": 0}, axis=1) holds positional args and kwargs.
    """

    __slots__ = ("args", "kwargs")

    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs

    def __repr__(self):
        shapes = [getattr(a, "shape", type(a).__name__) for a in self.args]
        return f"Sample({', '.join(map(str, shapes))}{', ' if self.kwargs else ''}" \
               f"{', '.join(f'{k}={v!r}' for k, v in self.kwargs.items())})"


class Primitive:
    """A differentiable operation: `forward(*args, **kwargs) -> (out, cache)`, `vjp(g, cache)`.

    first_order: the VJP is not itself differentiable (e.g. a Cython kernel); the forward always
        sees plain arrays and differentiating through it twice raises.
    linear: the forward is linear in its differentiable arguments and the VJP reads only
        constants (indices, shapes) from the cache; the forward always sees plain arrays (so it
        may write in place) and the primitive stays differentiable to any order.
    selective_vjp: the VJP takes a third argument `needed`, a tuple of bools (one per positional
        argument) saying which cotangents are wanted; it may return None for the others.
    spec: rng -> Sample or list of Samples, valid float64 (or complex128) inputs for the
        registry-driven test.
    jvp: optional JVP rule, `jvp(tangents, cache) -> tangent of out` (see defjvp); forward mode
        needs one only for first-order primitives, and uses the transposed VJP for the others.
    """

    __slots__ = ("name", "forward", "vjp", "first_order", "linear", "selective_vjp", "spec",
                 "__wrapped__", "__dict__")
    check_cotangents = True   # the reverse sweep checks each cotangent's shape and dtype
    jvp = None                # no JVP rule (set one with defjvp)

    def __init__(self, forward, vjp=None, *, name=None, first_order=False, linear=False,
                 selective_vjp=False, spec=None, jvp=None):
        self.forward = forward
        self.vjp = vjp if vjp is not None else self._missing_vjp
        self.name = name or getattr(forward, "__name__", "primitive")
        self.first_order = first_order
        self.linear = linear
        self.selective_vjp = selective_vjp
        self.spec = spec
        if jvp is not None:
            self.jvp = jvp
        self.__doc__ = getattr(forward, "__doc__", None)
        self.__wrapped__ = forward
        module = getattr(forward, "__module__", None) or "__main__"
        REGISTRY[f"{module}.{self.name}"] = self

    def defvjp(self, vjp):
        """Decorator: set the VJP, `vjp(g, cache) -> one cotangent per positional argument`."""
        self.vjp = vjp
        return vjp

    def defjvp(self, jvp):
        """Decorator: set the JVP rule, `jvp(tangents, cache) -> tangent of out`.

        tangents: one per positional argument (shaped like it), None where it is zero; cache:
        what the forward returned. Forward mode (vjpnet.jvp, jacfwd, hessian) transposes the
        VJP, which needs no rule when the VJP is written with NumPy operations; a first-order
        primitive (a kernel VJP) needs this rule instead. Write it with NumPy operations or
        primitives, so that it is differentiable in the tangents.
        """
        self.jvp = jvp
        return jvp

    def traced_cotangent_vjp(self, g, cache, needed):
        """The VJP of a first-order primitive at a traced cotangent `g` (forward mode): the
        kernel runs on g's plain value, and each needed cotangent is recorded as an op linear
        in g whose own VJP is this primitive's JVP rule. Returns one cotangent per argument."""
        transpose = self.__dict__.get("_transpose")
        if transpose is None:
            transpose = self.__dict__["_transpose"] = _VJPTranspose(self)
        shared = []   # the kernel's results, computed once for every argument position
        return tuple(transpose.bind((g, cache, needed, position, shared), _tape._NO_KWARGS)[0]
                     if need else None for position, need in enumerate(needed))

    def defspec(self, spec):
        """Decorator: set the sample-input spec, `spec(rng) -> Sample or list of Samples`."""
        self.spec = spec
        return spec

    def __repr__(self):
        return f"<vjpnet primitive {self.name}>"

    def __call__(self, *args, **kwargs):
        return self.bind(args, kwargs)[0]   # bind runs the bare forward when nothing is traced

    def apply(self, args):
        """bind without kwargs, returning only the output (the operators' entry point)."""
        return self.bind(args, _tape._NO_KWARGS)[0]

    def apply1(self, x):
        """apply((x,)); ufunc primitives override it with a shorter path."""
        return self.bind((x,), _tape._NO_KWARGS)[0]

    def apply2(self, x, y):
        """apply((x, y)); ufunc primitives override it with a shorter path."""
        return self.bind((x, y), _tape._NO_KWARGS)[0]

    def bind(self, args, kwargs):
        """Run the forward, recording on the highest tape among the args; return (out, cache)."""
        # Fast path, one level of grad: every traced argument is on the same tape and wraps a
        # plain value. Anything else (nested grad, mixed levels) takes _bind_levels.
        tape = None
        unwrapped = list(args)
        parents = []
        mask = 0
        position = 0
        for arg in args:
            if type(arg) is Traced:
                value = arg.value
                if type(value) is Traced or (tape is not None and arg.tape is not tape):
                    return self._bind_levels(args, kwargs)
                tape = arg.tape
                unwrapped[position] = value
                parents.append((position, arg.node, value))
                mask |= 1 << position
            position += 1
        if tape is None:
            return self.forward(*args, **kwargs)
        if not tape.open:
            raise _escaped_error(self)
        if kwargs:
            _check_kwargs(self, kwargs)
        out, cache = self.forward(*unwrapped, **kwargs)
        if not (type(out) is np.ndarray and out.dtype.kind == "f") and \
                not _differentiable_output(self, out):
            return out, cache   # integer or boolean results carry no gradient
        needed = _NEEDED.get((position, mask)) or _needed(position, mask)
        entries = tape.entries
        entries.append((self, parents, cache, needed, False))
        return Traced(out, tape, len(entries) - 1), cache

    def _bind_levels(self, args, kwargs):
        """bind for arguments traced at several levels (nested grad): record at the highest."""
        tape = None
        for arg in args:
            if type(arg) is Traced and (tape is None or arg.tape.level > tape.level):
                tape = arg.tape
        if tape is None:
            return self.forward(*args, **kwargs)
        if not tape.open:
            raise _escaped_error(self)
        if kwargs:
            _check_kwargs(self, kwargs)
        unwrapped = list(args)
        needed = [False] * len(args)
        parents = []
        for position, arg in enumerate(args):
            if type(arg) is Traced:
                if arg.tape is tape:
                    unwrapped[position] = arg.value
                    needed[position] = True
                    parents.append((position, arg.node, arg.value))
                elif arg.tape.level == tape.level:
                    raise _escaped_error(self)
        if self.first_order or self.linear:
            # Record at every lower level too, so the forward itself sees plain arrays.
            out, cache = self.bind(unwrapped, kwargs)
            nested = self.first_order and any(type(arg) is Traced for arg in unwrapped)
        else:
            out, cache = self.forward(*unwrapped, **kwargs)
            nested = False
        if not (type(out) is np.ndarray and out.dtype.kind == "f") and \
                not _differentiable_output(self, out):
            return out, cache
        return tape.record(self, parents, cache, tuple(needed), nested, out), cache

    def _missing_vjp(self, g, cache, needed=None):
        raise NotImplementedError(
            f"primitive {self.name} has no VJP: define one with @{self.name}.defvjp "
            f"(def {self.name}_vjp(g, cache): return (cotangent_per_arg, ...)) or pass "
            f"vjp=... to vjpnet.primitive")


def primitive(forward=None, vjp=None, *, name=None, first_order=False, linear=False,
              selective_vjp=False, spec=None, jvp=None):
    """Register a forward/VJP pair as a primitive; usable bare, with options, or as a call.

        @primitive                                   # then @p.defvjp
        @primitive(first_order=True, spec=...)       # with options
        primitive(affine_forward, vjp=affine_backward)
    """
    def make(forward):
        return Primitive(forward, vjp, name=name, first_order=first_order, linear=linear,
                         selective_vjp=selective_vjp, spec=spec, jvp=jvp)
    return make if forward is None else make(forward)


class _VJPTranspose(Primitive):
    """g -> one cotangent of a first-order primitive's VJP, as a primitive: linear in g, its
    VJP (the transpose of g -> cotangent) is the primitive's JVP rule. Not registered: the
    registry-driven test checks it through forward mode of the primitive it transposes.

    Arguments: (g, cache, needed, position, shared); `shared` is a list that holds the
    kernel's results after the first position, so the kernel runs once per cotangent g.
    """

    def __init__(self, primitive):
        self.primal = primitive
        self.name = f"{primitive.name} (VJP transposed by its JVP rule)"
        self.forward = self._forward
        self.vjp = self._transposed
        self.first_order = False
        self.linear = True
        self.selective_vjp = False
        self.spec = None
        self.__wrapped__ = primitive

    def _forward(self, g, cache, needed, position, shared):
        if not shared:
            primal = self.primal
            results = primal.vjp(g, cache, needed) if primal.selective_vjp else \
                primal.vjp(g, cache)
            shared.append(results if type(results) is tuple else
                          tuple(results) if isinstance(results, list) else (results,))
        return shared[0][position], (cache, len(needed), position)

    def _transposed(self, tangent, residual):
        cache, count, position = residual
        tangents = [None] * count
        tangents[position] = tangent
        return self.primal.jvp(tuple(tangents), cache), None, None, None, None


def register_ufunc(ufunc, primitive):
    """Route `ufunc(traced, ...)` to `primitive`."""
    _tape.UFUNC_PRIMITIVES[ufunc] = primitive


def register_function(function, handler):
    """Route the NumPy function `function(traced, ...)` to `handler` (a primitive or a
    function of the same arguments built from primitives)."""
    _tape.FUNCTION_HANDLERS[function] = handler


def register_lazy_ufuncs(module_name, provider):
    """When a ufunc of `module_name` without a primitive first reaches a traced value, import
    the module `provider` (which registers that module's ufuncs) and dispatch again."""
    _tape.LAZY_UFUNC_MODULES[module_name] = provider


def register_caller_hint(hint):
    """Add `hint() -> str` to the error np.asarray(traced) raises: advice on the function that
    made the conversion (found from the calling frames), or ""."""
    _tape.CALLER_HINTS.append(hint)


def register_nondifferentiable(*functions):
    """Let these ufuncs/functions accept traced values and return plain results (argmax, ...)."""
    _tape.NONDIFFERENTIABLE.update(functions)


def _differentiable_output(primitive, out):
    """Whether a forward's output carries a gradient (real floating or complex); reject tuples
    clearly."""
    if _tape.is_differentiable(out):
        return True
    if isinstance(out, (tuple, list)):
        raise TypeError(f"the forward of {primitive.name} returned a {type(out).__name__} as "
                        "its output; a primitive's forward returns (out, cache) with one array "
                        "as out")
    return False


_NEEDED = {}   # (number of args, bit mask of traced positions) -> tuple of bools


def _needed(count, mask):
    needed = _NEEDED[count, mask] = tuple(bool(mask >> i & 1) for i in range(count))
    return needed


def _check_kwargs(primitive, kwargs):
    for key, value in kwargs.items():
        if type(value) is Traced:
            raise TypeError(f"{primitive.name}: keyword argument {key!r} is traced; pass "
                            "differentiable values as positional arguments")


def _escaped_error(primitive):
    return ValueError(
        f"{primitive.name} was called on a traced value from a grad/vjp that has already "
        "returned (it escaped, e.g. through a global or a closure). Pass values in as arguments "
        "of the differentiated function instead.")


def stop_gradient(x):
    """x as a constant: the same values, no gradient flows back through it."""
    return _tape.plain(x)


def library_primitives():
    """The primitives registered by vjpnet and vjpnet_fast themselves (not by users)."""
    return {key: p for key, p in REGISTRY.items()
            if key.split(".")[0] in ("vjpnet", "vjpnet_fast")}

