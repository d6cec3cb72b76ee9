"""Primitives: forward/VJP pairs, and the registry that holds them.

    @vjpnet.primitive
    def cube(x):                  # forward: returns (out, cache)
        return x ** 3, x

    @cube.defvjp
    def cube_vjp(g, x):           # (cotangent of out, cache) -> one cotangent per positional arg
        return (3 * x ** 2 * g,)

    affine = vjpnet.primitive(affine_forward, vjp=affine_backward)   # an existing pair
    pool = vjpnet.primitive(max_pool_forward, vjp=max_pool_backward, nondiff_argnums=(1,))

Calling a primitive returns only `out`. On traced arguments it also records the call on the
tape (see tape.py). `None` in a VJP's result means "no gradient for that argument".

nondiff_argnums (JAX's name): positions of arguments that are never differentiated (a
layer's hyperparameters, labels, an integer order). The VJP returns cotangents for the other
positional arguments only, in order (so `max_pool_backward(dout, cache) -> dx` fits
`max_pool_forward(x, pool_param)` as it is); `needed` (selective_vjp) and a JVP rule's
`tangents` list those same arguments. A traced value at a nondiff position is an error.
"""
import contextlib
import inspect

import numpy as np

from vjpnet import tape as _tape

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


class Primitive(_tape.TapeOp):
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
    nondiff_argnums: positions of the positional arguments never differentiated; the VJP
        returns one cotangent per other positional argument (see the module docstring).
    jvp: optional JVP rule, `jvp(tangents, cache) -> tangent of out` (see defjvp); forward mode
        needs one only for first-order primitives, and uses the transposed VJP for the others.
    check_cotangents (attribute, default True): the reverse sweep checks the shape and dtype of
        each cotangent the VJP returns; subclasses whose VJPs are exact by construction turn it
        off.
    """

    __slots__ = ("spec", "__wrapped__", "__dict__")

    def __init__(self, forward, vjp=None, *, name=None, first_order=False, linear=False,
                 selective_vjp=False, spec=None, jvp=None, nondiff_argnums=()):
        super().__init__(name or getattr(forward, "__name__", "primitive"))
        self.forward = forward
        self.vjp = vjp if vjp is not None else self._missing_vjp
        self.first_order = first_order
        self.linear = linear
        self.selective_vjp = selective_vjp
        self.spec = spec
        self._set_nondiff_argnums(nondiff_argnums)
        self.jvp = jvp
        self.__doc__ = getattr(forward, "__doc__", None)
        self.__wrapped__ = forward
        module = getattr(forward, "__module__", None) or "__main__"
        REGISTRY[f"{module}.{self.name}"] = self

    def _set_nondiff_argnums(self, nondiff_argnums):
        positions = (nondiff_argnums,) if isinstance(nondiff_argnums, int) else \
            tuple(nondiff_argnums)
        if any(not isinstance(p, int) or p < 0 for p in positions):
            raise ValueError(f"primitive {self.name}: nondiff_argnums={nondiff_argnums!r} must "
                             "be non-negative positions of positional arguments")
        self.nondiff_argnums = tuple(sorted(set(positions)))
        self.nondiff_mask = sum(1 << p for p in self.nondiff_argnums)

    def argument_name(self, position):
        """The name of the forward's parameter at `position`, for error messages ("" if the
        forward takes *args there)."""
        try:
            parameters = list(inspect.signature(self.forward).parameters.values())
        except (TypeError, ValueError):
            return ""
        if position < len(parameters) and parameters[position].kind in (
                inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            return parameters[position].name
        return ""

    def nondiff_error(self, position):
        """The TypeError for a traced value at the nondiff position `position`."""
        name = self.argument_name(position)
        what = f"argument {position}" + (f" ({name})" if name else "")
        return TypeError(
            f"{self.name}: {what} is never differentiated (nondiff_argnums="
            f"{self.nondiff_argnums}), but it is traced (it depends on the values being "
            f"differentiated). Pass a constant there, or vjpnet.stop_gradient({name or 'value'}) "
            "to treat it as one.")

    def defvjp(self, vjp):
        """Decorator: set the VJP, `vjp(g, cache) -> one cotangent per positional argument`
        (per differentiable one: nondiff_argnums are skipped)."""
        self.vjp = vjp
        return vjp

    def defjvp(self, jvp):
        """Decorator: set the JVP rule, `jvp(tangents, cache) -> tangent of out`.

        tangents: one per differentiable positional argument (shaped like it; nondiff_argnums
        are skipped), None where it is zero; cache:
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

    bind = _tape.bind   # bind(args, kwargs) -> (out, cache): run the forward, record on the tape

    def _missing_vjp(self, g, cache, needed=None):
        raise NotImplementedError(
            f"primitive {self.name} has no VJP: define one with @{self.name}.defvjp "
            f"(def {self.name}_vjp(g, cache): return (cotangent_per_arg, ...)) or pass "
            f"vjp=... to vjpnet.primitive")


def primitive(forward=None, vjp=None, *, name=None, first_order=False, linear=False,
              selective_vjp=False, spec=None, jvp=None, nondiff_argnums=()):
    """Register a forward/VJP pair as a primitive; usable bare, with options, or as a call.

        @primitive                                   # then @p.defvjp
        @primitive(first_order=True, spec=...)       # with options
        primitive(affine_forward, vjp=affine_backward)
        primitive(max_pool_forward, vjp=max_pool_backward, nondiff_argnums=(1,))
    """
    def make(forward):
        return Primitive(forward, vjp, name=name, first_order=first_order, linear=linear,
                         selective_vjp=selective_vjp, spec=spec, jvp=jvp,
                         nondiff_argnums=nondiff_argnums)
    return make if forward is None else make(forward)


class _VJPTranspose(Primitive):
    """g -> one cotangent of a first-order primitive's VJP, as a primitive: linear in g, its
    VJP (the transpose of g -> cotangent) is the primitive's JVP rule. Not registered: the
    registry-driven test checks it through forward mode of the primitive it transposes.

    Arguments: (g, cache, needed, position, shared), all but g nondiff; `shared` is a list
    that holds the kernel's results after the first position, so the kernel runs once per g.
    """

    def __init__(self, primitive):
        _tape.TapeOp.__init__(self, f"{primitive.name} (VJP transposed by its JVP rule)")
        self.primal = primitive
        self.forward = self._forward
        self.vjp = self._transposed
        self.first_order = False
        self.linear = True
        self.selective_vjp = False
        self.spec = None
        self._set_nondiff_argnums((1, 2, 3, 4))
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
        return self.primal.jvp(tuple(tangents), cache)


def register_ufunc(ufunc, primitive):
    """Route `ufunc(traced, ...)` to `primitive`; return the primitive it was routed to before
    (None if none)."""
    previous = _tape.UFUNC_PRIMITIVES.get(ufunc)
    _tape.UFUNC_PRIMITIVES[ufunc] = primitive
    return previous


def register_function(function, handler):
    """Route the NumPy function `function(traced, ...)` to `handler` (a primitive or a
    function of the same arguments built from primitives); return the handler it was routed
    to before (None if none)."""
    previous = _tape.FUNCTION_HANDLERS.get(function)
    _tape.FUNCTION_HANDLERS[function] = handler
    return previous


@contextlib.contextmanager
def registered(function, handler):
    """Context manager: route `function` (a NumPy ufunc, through register_ufunc, or function,
    through register_function) to `handler` inside the block only; on leaving it, the previous
    routing (or none) is back.

        with vjpnet.registered(np.cumprod, cumprod_primitive):
            vjpnet.grad(lambda x: np.sum(np.cumprod(x)))(x)
    """
    is_ufunc = isinstance(function, np.ufunc)
    table = _tape.UFUNC_PRIMITIVES if is_ufunc else _tape.FUNCTION_HANDLERS
    previous = (register_ufunc if is_ufunc else register_function)(function, handler)
    try:
        yield handler
    finally:
        if previous is None:
            table.pop(function, None)
        else:
            table[function] = previous


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


def stop_gradient(x):
    """x as a constant: the same values, no gradient flows back through it."""
    return _tape.plain(x)


def library_primitives():
    """The primitives registered by vjpnet and vjpnet_fast themselves (not by users)."""
    return {key: p for key, p in REGISTRY.items()
            if key.split(".")[0] in ("vjpnet", "vjpnet_fast")}

