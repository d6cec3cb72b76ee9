"""Random NumPy programs as data: the generator behind the differential test.

A program is straight-line Python over NumPy, for example

    def f(x0, x2):
        v3 = np.einsum('ij,ij->ij', x0, c1)
        v4 = np.log(v3 * v3 + 0.5)
        return np.sum(v4, axis=-1, keepdims=True)

built one statement at a time from the entries of `program_table.TABLE`. Every statement is
evaluated with plain NumPy while the program is generated, so each entry sees the concrete values
of its operands: domains (log of positive values), kinks (abs at 0, ties of maximum, clip bounds)
and conditioning (solve) are handled by construction, and an entry NumPy rejects (it raises or
warns, or the result is not finite, too large or too big) is simply not generated there.

The program is kept as source text, so it runs unchanged with any NumPy-like module bound to `np`
(numpy under vjpnet, autograd.numpy for HIPS autograd), and a failure prints as a runnable script
(`Program.reproducer()`; `repr(program)` is that script, which is what hypothesis shows).

Values: differentiated inputs `x<i>` are float64 or float32 arrays (`np.random.default_rng(seed)
.standard_normal(shape)`, each with its own seed, so deleting one keeps the others) or Python
floats; constants `c<i>` are plain arrays the function closes over (not differentiated).
`programs(...)` is the hypothesis strategy; shrinking gives short programs with few, small inputs.

The builder API an entry uses (see program_table.py for the entries and how to add one):

    d.array(domain=..., ndim=..., min_ndim=..., max_ndim=..., shape=..., nonempty=...,
            scalar=True, complex=False)    an operand: an earlier value or a new input/constant
    d.broadcastable(x, ...)                an operand whose shape broadcasts against x
    d.shape(ndim) / d.size() / d.axis(x) / d.axes(x) / d.flag() / d.pick(seq) / d.integer(a, b)
    d.threshold(x)                         a float at least GAP away from every value of x
    d.apart(y, x)                          y shifted so that y - x is never within GAP of 0
    d.away(x, points)                      x shifted so that it stays GAP away from `points`
    d.well_conditioned(a)                  a batch of matrices made 2 I + E, |E|_2 <= 1
    d.adapt(x, source, note)               a new statement `v = source` (an operand made fit)
    d.constant_result()                    the value does not depend on the operands
    d.tag(label)                           a feature label (exclusions, statistics)
    d.give_up()                            this entry does not apply here; another is drawn
"""
import fnmatch
import math
import re
import warnings

import numpy
from hypothesis import reject
from hypothesis import strategies as st

MAX_MAGNITUDE = 1e3    # every intermediate value stays within this (float32 keeps 1e-4 relative)
MAX_SIZE = 96          # elements per intermediate: programs stay cheap to differentiate
GAP = 0.02             # distance kept from every kink; 100x the finite-difference step
SIZES = (1, 2, 3, 2, 3, 4, 1)   # axis sizes drawn (small sizes make coincidences likely)
NDIMS = (1, 2, 0, 3, 2, 1, 4)   # numbers of axes of new inputs (the first is what shrinks to)


class StatementInfo:
    """What the table says about one statement: feature tags, reasons HIPS autograd cannot
    check it, and whether it is differentiable twice."""

    __slots__ = ("tags", "autograd", "second_order")

    def __init__(self, tags, autograd, second_order):
        self.tags, self.autograd, self.second_order = tags, autograd, second_order


class NotApplicable(Exception):
    """Raised by an entry (d.give_up()) that cannot be built on the values at hand."""


# --- values ------------------------------------------------------------------------------------

class Var:
    """One named value of a program: an input, a constant or the result of a statement.

    role: "input" (differentiated argument of f), "const" (closed over by f) or "op".
    value: the concrete value computed with plain NumPy (Python float for Python-float inputs).
    traced: it depends on an input, so it is a traced value when f runs under vjpnet.
    """

    __slots__ = ("name", "value", "role", "source", "deps", "entry", "traced", "note")

    def __init__(self, name, value, role, source, deps=(), entry=None, note=""):
        self.name, self.value, self.role, self.source = name, value, role, source
        self.deps, self.entry, self.note = tuple(deps), entry, note
        # depends on a differentiated input (so it is a traced value inside grad)
        self.traced = role == "input" or any(dep.traced for dep in self.deps)

    def __str__(self):
        return self.name

    __format__ = lambda self, spec: format(self.name, spec)   # noqa: E731

    def __repr__(self):
        return f"<{self.name} {self.shape} {self.dtype_name}>"

    shape = property(lambda self: numpy.shape(self.value))
    ndim = property(lambda self: numpy.ndim(self.value))
    size = property(lambda self: int(numpy.size(self.value)))
    is_float = property(lambda self: type(self.value) is float)   # a Python float
    dtype = property(lambda self: numpy.result_type(self.value))
    is_complex = property(lambda self: self.dtype.kind == "c")

    @property
    def dtype_name(self):
        return "float" if self.is_float else self.dtype.name


def _input_source(seed, shape, dtype):
    if dtype == "float":
        return repr(_python_float(seed))
    text = f"np.random.default_rng({seed}).standard_normal({shape!r})"
    return text + ".astype(np.float32)" if dtype == "float32" else text


def _python_float(seed):
    return round(float(numpy.random.default_rng(seed).standard_normal()), 3)


def _input_value(seed, shape, dtype):
    if dtype == "float":
        return _python_float(seed)
    value = numpy.random.default_rng(seed).standard_normal(shape)
    return value.astype(numpy.float32) if dtype == "float32" else value


def value_literal(value):
    """Source text that recreates a value exactly (Python float, NumPy scalar or array)."""
    if type(value) is float:
        return repr(value)
    if isinstance(value, numpy.generic):
        return f"np.{value.dtype.name}({value.item()!r})"
    dtype = "" if value.dtype == numpy.float64 else f", dtype=np.{value.dtype.name}"
    if value.size == 0:
        return f"np.zeros({value.shape!r}{dtype})"
    return f"np.array({value.tolist()!r}{dtype})"


def literal(value):
    """Source text of a Python constant (floats, ints, tuples, lists, slices, None)."""
    if isinstance(value, slice):
        parts = ["" if p is None else str(p) for p in (value.start, value.stop, value.step)]
        return ":".join(parts[:2]) + (f":{parts[2]}" if value.step is not None else "")
    if isinstance(value, float) and value in (math.inf, -math.inf):
        return "np.inf" if value > 0 else "-np.inf"
    return repr(value)


# --- the program --------------------------------------------------------------------------------

class Program:
    """A generated program: inputs, constants and statements; the last statement is the output.

    Only the statements the output depends on are kept (dead code is pruned on construction).
    """

    def __init__(self, variables, output, info):
        live = set()
        stack = [output]
        while stack:
            var = stack.pop()
            if var.name not in live:
                live.add(var.name)
                stack.extend(var.deps)
        self.variables = [v for v in variables if v.name in live]
        self.output = output
        self.inputs = [v for v in self.variables if v.role == "input"]
        self.constants = [v for v in self.variables if v.role == "const"]
        self.statements = [v for v in self.variables if v.role == "op"]
        self.entries = sorted({v.entry for v in self.statements})
        self.info = info
        infos = [info[v.name] for v in self.statements if v.name in info]
        self.tags = sorted({tag for i in infos for tag in i.tags})
        # why HIPS autograd cannot check this program (empty: it can)
        self.autograd_skips = sorted({reason for i in infos for reason in i.autograd})
        self.second_order = all(i.second_order for i in infos)

    def isolate(self, statement):
        """A program of `statement` alone: its operands become inputs (if traced here) or
        constants, written as literal arrays of their values."""
        operands = [Var(dep.name, dep.value,
                        "input" if dep.traced and not dep.is_complex else "const",
                        value_literal(dep.value)) for dep in statement.deps]
        alone = Var(statement.name, statement.value, "op", statement.source, deps=operands,
                    entry=statement.entry)
        return Program(operands + [alone], alone, self.info)

    # --- source text ---------------------------------------------------------------------
    def body(self):
        """The function `f` as source text (uses the global name `np` and the constants)."""
        arguments = ", ".join(v.name for v in self.inputs)
        lines = [f"def f({arguments}):"]
        lines += [f"    {v.name} = {v.source}" + (f"   # {v.note}" if v.note else "")
                  for v in self.statements[:-1]]
        lines.append(f"    return {self.output.source}")
        return "\n".join(lines) + "\n"

    def setup(self):
        """Source text defining the inputs and constants."""
        lines = []
        for v in self.inputs + self.constants:
            note = "" if v.role == "input" else "   # constant (not differentiated)"
            lines.append(f"{v.name} = {v.source}{note}")
        return "\n".join(lines) + "\n"

    def reproducer(self, check=None):
        """A runnable script: imports, inputs, f, and the lines that show the failure."""
        check = check or "from vjpnet.gradient_check import check_grads\n" \
            f"check_grads(f, [{', '.join(v.name for v in self.inputs)}], order=2)\n"
        imports = "import numpy as np\nimport vjpnet\n"
        if "sps." in self.body():
            imports += "import vjpnet.scipy.special as sps\n"
        return imports + "\n" + self.setup() + "\n\n" + self.body() + "\n\n" + check

    def __repr__(self):
        return "\n" + self.reproducer()

    # --- running it ----------------------------------------------------------------------
    @property
    def uses_float32(self):
        return any(v.dtype_name == "float32" for v in self.variables) or \
            "float32" in self.body()

    def function(self, np_module, float64=False):
        """f as a Python function with `np` bound to np_module.

        float64=True gives the float64 twin: constants upcast, and `np.float32` in the text
        (casts, dtypes of adapters) replaced by np.float64, so every value is float64.
        """
        source = self.body()
        if float64:
            source = source.replace("np.float32", "np.float64")
        namespace = {"np": np_module}
        if "sps." in source:
            namespace["sps"] = special_module(np_module)
        for v in self.constants:
            namespace[v.name] = _upcast(v.value) if float64 else v.value
        exec(compile(source, "<random program>", "exec"), namespace)   # noqa: S102
        return namespace["f"]

    def arguments(self, float64=False):
        """The values of the differentiated inputs, in the order f takes them."""
        return [_upcast(v.value) if float64 else v.value for v in self.inputs]


def special_module(np_module):
    """The scipy.special that goes with a NumPy module: `sps` in program text. vjpnet's mirror
    of scipy.special (SciPy's names; it works on plain arrays too) for numpy, autograd's for
    autograd.numpy."""
    if np_module is numpy:
        import vjpnet.scipy.special
        return vjpnet.scipy.special
    import autograd.scipy.special
    return autograd.scipy.special


def scipy_available():
    try:
        import scipy.special  # noqa: F401
    except ImportError:
        return False
    return True


def _upcast(value):
    if isinstance(value, (numpy.ndarray, numpy.generic)) and value.dtype == numpy.float32:
        return value.astype(numpy.float64)
    return value


# --- evaluation during generation ---------------------------------------------------------------

def evaluate(source, variables):
    """The value of `source` under plain NumPy, or None if NumPy raises or warns."""
    namespace = {v.name: v.value for v in variables}
    namespace["np"] = numpy
    if "sps." in source:
        namespace["sps"] = special_module(numpy)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with numpy.errstate(over="raise", divide="raise", invalid="raise", under="ignore"):
                return eval(source, namespace)   # noqa: S307
    except Exception:   # noqa: BLE001 - any NumPy error means "not valid input here"
        return None


def acceptable(value, allow_complex):
    """A float (or complex) result, finite, not too large in magnitude or size."""
    if type(value) is float:
        return math.isfinite(value) and abs(value) <= MAX_MAGNITUDE
    if not isinstance(value, (numpy.ndarray, numpy.generic)):
        return False
    kind = value.dtype.kind
    if not (kind == "f" or (kind == "c" and allow_complex)) or value.size > MAX_SIZE:
        return False
    return bool(numpy.all(numpy.isfinite(value))) and \
        (value.size == 0 or float(numpy.max(numpy.abs(value))) <= MAX_MAGNITUDE)


# --- domains ------------------------------------------------------------------------------------

class Domain:
    """A set of valid operand values: `contains(value)` and the adapter expression that maps any
    real value into it (applied only when the operand is not already inside)."""

    def __init__(self, name, contains, adapter):
        self.name, self.contains, self.adapter = name, contains, adapter

    def __repr__(self):
        return self.name


def _all(value, test):
    value = numpy.asarray(value)
    return value.size == 0 or bool(numpy.all(test(value)))


def _min_abs(value, point=0.0):
    value = numpy.abs(numpy.asarray(value, dtype=numpy.float64) - point)
    return math.inf if value.size == 0 else float(value.min())


REAL = None
POSITIVE = Domain("positive", lambda v: _all(v, lambda a: a >= 0.2),
                  lambda x: f"{x} * {x} + 0.5")
ABOVE_ONE = Domain("above one", lambda v: _all(v, lambda a: a >= 1.2),
                   lambda x: f"{x} * {x} + 1.5")
# Maps into bounded intervals use sin, not tanh: tanh saturates, and its derivative 1 - tanh^2
# then has no correct digit left in float32.
UNIT = Domain("(-0.9, 0.9)", lambda v: _all(v, lambda a: numpy.abs(a) <= 0.9),
              lambda x: f"np.sin({x}) * 0.9")


def bounded(limit):
    """|x| <= limit (exp, sinh, tan, ...: keeps values and derivatives moderate)."""
    return Domain(f"|x| <= {limit}", lambda v: _all(v, lambda a: numpy.abs(a) <= limit),
                  lambda x: f"np.sin({x}) * {float(limit)!r}")


NONZERO = "nonzero"   # handled by d.away(x, (0.0,)): a shift, not a fixed map


# --- the builder --------------------------------------------------------------------------------

class Builder:
    """Draws one program; the object entries call (`d`). See the module docstring."""

    def __init__(self, draw, config):
        self.draw = draw
        self.config = config
        self.variables = []
        self.counter = 0
        self.dtype_mode = draw(st.sampled_from(config.dtype_modes))
        # Rare features are drawn as the largest value, so shrinking moves away from them.
        self.allow_empty = config.allow_empty and draw(st.integers(0, 9)) == 9
        self.info = {}               # statement name -> StatementInfo
        self._pending_tags, self._pending_autograd, self._operands = set(), [], []
        self._chain = False
        self._mixed = "float32"

    # --- drawing helpers -----------------------------------------------------------------
    def flag(self):
        return self.draw(st.booleans())

    def pick(self, options):
        return self.draw(st.sampled_from(list(options)))

    def integer(self, low, high):
        return self.draw(st.integers(low, high))

    def size(self, nonempty=False):
        if self.allow_empty and not nonempty and self.draw(st.integers(0, 5)) == 5:
            return 0
        return self.pick(SIZES)

    def shape(self, ndim, nonempty=False):
        return tuple(self.size(nonempty) for _ in range(ndim))

    def axis(self, x, negative=True):
        """A valid axis of x (sometimes negative)."""
        if x.ndim == 0:
            self.give_up()
        axis = self.integer(0, x.ndim - 1)
        return axis - x.ndim if negative and self.flag() else axis

    def axes(self, x, none=True, several=True):
        """None, one axis, or a tuple of distinct axes of x."""
        kind = self.integer(0, 2)
        if x.ndim == 0 or (kind == 0 and none):
            return None if none else self.give_up()
        if kind == 1 or not several or x.ndim == 1:
            return self.axis(x)
        chosen = self.draw(st.lists(st.integers(0, x.ndim - 1), min_size=1, max_size=x.ndim,
                                    unique=True))
        return tuple(a - x.ndim if self.flag() else a for a in chosen)

    def draw_permutation(self, n):
        """A permutation of range(n) (a list)."""
        return self.draw(st.permutations(list(range(n))))

    def draw_permutation_of(self, items):
        return [items[i] for i in self.draw_permutation(len(items))]

    def tag(self, label):
        self._pending_tags.add(label)

    def constant_result(self):
        """The statement's value does not depend on its operands (e.g. matrix_power(a, 0)):
        vjpnet gives a plain array, so it is not a traced value."""
        self._constant = True

    def no_autograd(self, reason):
        """This statement is not compared with HIPS autograd (say why)."""
        self._pending_autograd.append(reason)

    def give_up(self):
        raise NotApplicable

    # --- operands ------------------------------------------------------------------------
    def array(self, domain=REAL, ndim=None, min_ndim=0, max_ndim=3, shape=None, nonempty=False,
              scalar=True, complex=False, const=True):
        """An operand: an earlier value fitting the constraints, or a new input or constant.

        ndim/min_ndim/max_ndim/shape constrain its shape (shape may contain None: any size);
        nonempty: no zero-size axis; scalar: a Python float is allowed (when the shape fits);
        complex: a complex value is allowed; const: a plain constant array is allowed.
        """
        if ndim is not None:
            min_ndim = max_ndim = ndim
        if shape is not None:
            min_ndim = max_ndim = len(shape)

        def fits(v):
            if not min_ndim <= v.ndim <= max_ndim or (v.is_complex and not complex):
                return False
            if v.is_float and not scalar or (nonempty and v.size == 0):
                return False
            return shape is None or all(s is None or s == n for s, n in zip(shape, v.shape))

        candidates = [v for v in self.variables if fits(v)]
        chained = self._chained(candidates)
        if chained is not None:
            chosen = chained
        elif candidates and self.draw(st.integers(0, 3)) > 0:
            # most recent first, so that shrinking prefers chains over fresh inputs
            chosen = self.draw(st.sampled_from(candidates[::-1]))
        else:
            if shape is None:
                ndims = [n for n in NDIMS if min_ndim <= n <= max_ndim] or [min_ndim]
                new_shape = self.shape(self.pick(ndims), nonempty)
            else:
                new_shape = tuple(self.size(nonempty) if s is None else s for s in shape)
            chosen = self.new_value(new_shape, scalar=scalar, const=const)
        return self._into(chosen, domain)

    def broadcastable(self, x, domain=REAL, scalar=True, complex=False, const=True):
        """An operand whose shape broadcasts against x's (either may be the larger one)."""
        def fits(v):
            if v.is_complex and not complex or (v.is_float and not scalar):
                return False
            try:
                result = numpy.broadcast_shapes(v.shape, x.shape)
            except ValueError:
                return False
            return math.prod(result) <= MAX_SIZE

        candidates = [v for v in self.variables if fits(v) and v is not x]
        chained = self._chained(candidates)
        if chained is not None:
            return self._into(chained, domain)
        if candidates and self.draw(st.integers(0, 2)) > 0:
            return self._into(self.draw(st.sampled_from(candidates[::-1])), domain)
        kind = self.integer(0, 3)   # x's shape, fewer axes, one more axis, a scalar
        if kind == 3 and scalar:
            return self._into(self.new_value((), scalar=True, const=const), domain)
        shape = list(x.shape[self.integer(0, x.ndim):] if kind == 1 else x.shape)
        for i, n in enumerate(shape):   # stretch some axes: 1 on one side, n on the other
            if self.integer(0, 3) == 3:
                shape[i] = 1 if n != 1 else self.size()
        if kind == 2 and len(shape) < 4:
            shape.insert(0, self.pick((1, 2, 3)))
        return self._into(self.new_value(tuple(shape), scalar=False, const=const), domain)

    def _chained(self, candidates):
        """For the first operand of a statement: usually the previous statement's result (if
        it fits), so that programs are compositions rather than independent statements."""
        if not self._chain:
            return None
        self._chain = False
        last = self.last
        if last is not None and last in candidates and self.draw(st.integers(0, 3)) > 0:
            return last
        return None

    def new_value(self, shape, scalar=True, const=True):
        """A new differentiated input (or, sometimes, a constant) of the given shape."""
        seed = self.draw(st.integers(0, 2 ** 16))
        role = "const" if const and self.draw(st.integers(0, 5)) == 5 else "input"
        if shape == () and scalar and self.flag():
            dtype = "float"
        elif self.dtype_mode == "mixed":   # alternate, so that operands differ
            dtype = self._mixed = "float32" if self._mixed == "float64" else "float64"
        else:
            dtype = self.dtype_mode
        value = _input_value(seed, shape, dtype)
        var = Var(self._name("x" if role == "input" else "c"), value, role,
                  _input_source(seed, shape, dtype))
        self.variables.append(var)
        return var

    def _into(self, var, domain):
        self._operands.append(var)
        if domain is None or domain.contains(var.value):
            return var
        return self.adapt(var, domain.adapter(var), f"into the domain {domain.name}")

    def adapt(self, var, source, note):
        """A new statement `v = source` (an adapter, `note` its comment in the program) on which
        the entry builds instead of `var`; its value must be acceptable."""
        value = evaluate(source, self.variables)
        if value is None or not acceptable(value, allow_complex=True):
            self.give_up()
        adapted = Var(self._name("v"), value, "op", source, deps=self._deps(source, var),
                      entry="adapter", note=note)
        self.variables.append(adapted)
        self._operands.append(adapted)
        return adapted

    def _deps(self, source, *known):
        names = {v.name: v for v in self.variables}
        found = [v for v in known]
        for token in _identifiers(source):
            if token in names and names[token] not in found:
                found.append(names[token])
        return found

    def _name(self, prefix):
        name = f"{prefix}{self.counter}"
        self.counter += 1
        return name

    # --- kinks and conditioning ----------------------------------------------------------
    def threshold(self, x):
        """A float (3 decimals) at least GAP away from every value of x, inside their range
        when there is room (so comparisons with it split the values)."""
        values = numpy.sort(numpy.asarray(x.value, dtype=numpy.float64).ravel())
        if values.size == 0:
            return round(self.draw(st.floats(-1, 1)), 3)
        candidates = [float(values[0]) - 0.5, float(values[-1]) + 0.5]
        gaps = numpy.diff(values)
        if gaps.size:
            widest = int(numpy.argmax(gaps))
            candidates.insert(0, float(values[widest] + values[widest + 1]) / 2)
        for t in candidates:
            t = round(t, 3)
            if _min_abs(values, t) >= GAP:
                return t
        self.give_up()

    def away(self, x, points=(0.0,)):
        """x, or `x + c` (a new statement) so that no value is within GAP of `points`."""
        if all(_min_abs(x.value, p) >= GAP for p in points):
            return x
        values = numpy.asarray(x.value, dtype=numpy.float64).ravel()
        shifts = [0.5 - s for s in numpy.linspace(0, 1, 41)]
        best = max(shifts, key=lambda c: min(_min_abs(values + c, p) for p in points))
        if min(_min_abs(values + best, p) for p in points) < GAP:
            self.give_up()
        return self.adapt(x, f"{x} + {round(float(best), 3)!r}", "away from a kink")

    def apart(self, y, x):
        """y, or `y + c` so that y - x (broadcast) is never within GAP of 0 (no ties)."""
        try:
            difference = numpy.asarray(y.value, dtype=numpy.float64) - \
                numpy.asarray(x.value, dtype=numpy.float64)
        except ValueError:   # shapes that do not broadcast
            self.give_up()
        if _min_abs(difference) >= GAP:
            return y
        values = numpy.sort(-difference.ravel())
        gaps = numpy.diff(values)
        c = float(values[-1]) + 0.5 if not gaps.size else \
            float(values[int(numpy.argmax(gaps))] + values[int(numpy.argmax(gaps)) + 1]) / 2
        c = round(c, 3)
        if _min_abs(difference + c) < GAP:
            self.give_up()
        return self.adapt(y, f"{y} + {c!r}", "apart from another operand")

    def well_conditioned(self, a):
        """A batch of matrices 2 I + s a (I = np.eye(m, n)) with s |a|_F <= 1: singular values
        in [1, 3] (square matrices are safe to invert, rectangular ones have full rank)."""
        m, n = a.shape[-2:]
        frobenius = float(numpy.sqrt(numpy.max(numpy.sum(
            numpy.abs(numpy.asarray(a.value)) ** 2, axis=(-2, -1)), initial=0.0)))
        scale = math.floor(1000 / max(frobenius, 1.0)) / 1000
        eye = f"np.eye({n}" if m == n else f"np.eye({m}, {n}"
        return self.adapt(a, f"{a} * {scale!r} + {eye}, dtype={a}.dtype) * 2.0",
                           "well conditioned")

    # --- statements ----------------------------------------------------------------------
    def step(self, entries):
        """Add one statement built by an entry drawn from `entries` (retrying on failure)."""
        for _ in range(25):
            entry = self.draw(st.sampled_from(entries))
            if self.try_entry(entry):
                return True
        return False

    def try_entry(self, entry, first=None):
        mark = len(self.variables)
        self._pending_tags, self._pending_autograd, self._operands = set(), [], []
        self._chain, self._constant = first is None, False
        try:
            source = entry.build(self) if first is None else entry.build(self, first)
        except NotApplicable:
            source = None
        except Exception as error:   # a bug of the entry: raise, or count it (long runs)
            if self.config.strict:
                raise
            self.config.errors.append((entry.name, error))
            source = None
        value = None if source is None else evaluate(source, self.variables)
        if value is not None and acceptable(value, self.config.allow_complex):
            tags = {f"{entry.name}/{tag}" for tag in self._pending_tags} | \
                self._generic_tags(entry, value)
            if not self.config.excludes(entry.name, tags):
                var = Var(self._name("v"), value, "op", source,
                          deps=self._deps(source), entry=entry.name)
                var.traced = var.traced and not self._constant
                self.variables.append(var)
                autograd = list(self._pending_autograd)
                if entry.autograd is not True:
                    autograd.insert(0, entry.autograd)
                self.info[var.name] = StatementInfo(tags, autograd, entry.second_order)
                return True
        del self.variables[mark:]
        return False

    def _generic_tags(self, entry, value):
        operands = self._operands
        tags = set()
        float_dtypes = {v.dtype for v in operands if not v.is_float and v.dtype.kind == "f"}
        if len(float_dtypes) > 1:
            tags.add("mixed-dtype")
        if any(v.is_float for v in operands):
            tags.add("python-float")
        if any(v.ndim == 0 and not v.is_float for v in operands):
            tags.add("0-d")
        if any(v.size == 0 for v in operands) or numpy.size(value) == 0:
            tags.add("empty")
        if any(v.is_complex for v in operands) or numpy.iscomplexobj(value):
            tags.add("complex")
        return {f"{entry.name}/{tag}" for tag in tags} | {tag for tag in tags
                                                           if tag == "complex"}

    @property
    def last(self):
        ops = [v for v in self.variables if v.role == "op"]
        return ops[-1] if ops else None

    def program(self):
        return Program(self.variables, self.last, self.info)


def _identifiers(source):
    return re.findall(r"[A-Za-z_]\w*", source)


# --- the strategy -------------------------------------------------------------------------------

class Config:
    """What `programs` may generate.

    entries: the table entries to draw from; excluded: entry names, "name/tag" or bare tags
    (e.g. "complex") that are never generated, or shell-style patterns of them ("sps.*/empty");
    max_ops: statements per program (before adapters);
    focus: an entry that every program uses once.
    """

    def __init__(self, entries, excluded=(), max_ops=5, dtype_modes=None, allow_empty=True,
                 strict=True, focus=None):
        self.excluded = set(excluded)
        self._patterns = [key for key in self.excluded if "*" in key]   # e.g. "sps.*/python-float"
        self.entries = [e for e in entries if e.name not in self.excluded]
        self.max_ops = max_ops
        self.dtype_modes = dtype_modes or ("float64", "float64", "mixed", "float32", "mixed")
        self.allow_empty = allow_empty
        self.allow_complex = "complex" not in self.excluded
        self.finishers = [e for e in self.entries if e.to_real]
        self.strict = strict   # an entry raising (not give_up) is an error; else collected
        self.errors = []
        self.focus = focus     # an entry every program uses (once, at a random position)

    def excludes(self, name, tags):
        if name in self.excluded or self.excluded & tags:
            return True
        return any(fnmatch.fnmatchcase(label, pattern) for pattern in self._patterns
                   for label in (name, *tags))


@st.composite
def programs(draw, config):
    """A hypothesis strategy of Programs drawn from config.entries."""
    builder = Builder(draw, config)
    count = draw(st.integers(1, config.max_ops))
    focus = draw(st.integers(0, count - 1)) if config.focus else None
    for position in range(count):
        if position == focus and not builder.step([config.focus]):
            reject()   # the focus entry does not apply to these values
        elif position != focus:
            builder.step(config.entries)
    if builder.last is None:   # nothing applied: a plain sum always does
        builder.step([e for e in config.entries if e.name == "sum"] or config.entries)
    last = builder.last
    if last is None:
        reject()
    for _ in range(10):   # a complex output becomes real through real/imag/abs
        if not last.is_complex or not config.finishers:
            break
        builder.try_entry(draw(st.sampled_from(config.finishers)), first=last)
        last = builder.last
    program = builder.program()
    if last.is_complex or not program.inputs:   # nothing to differentiate
        reject()
    return program
