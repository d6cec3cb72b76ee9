"""The checks the differential test runs on every random program (tests/random_programs.py).

Each check takes a `Case` (a program with its inputs, a random output cotangent `u`, random input
directions `v` and `w`, all fixed per program) and raises `Failure` with a short reproducing
snippet, or `Skip` with a reason (counted, never silent). CHECKS lists them in order; a transform
under test adds one function (see check_jvp and check_transforms_agree). A Case gives:
case.f / case.f64 (the program, original dtypes / float64 twin), case.args / case.args64,
case.argnums, case.u / case.v / case.w, case.vjp64() and case.grad64() (vjpnet's results),
case.numeric_first() (<u, d f64 along v>, central differences, and its noise); the helpers
`directional`, `compare_numeric` and `assert_same` apply the tolerances below. For example
jacfwd would be checked as <u, J v> with J = vjpnet.jacfwd(case.f64, argnums=case.argnums)(...)
against case.numeric_first().

Numerics are always float64: a program with float32 anywhere is also run as its float64 twin
(inputs upcast, `np.float32` in the text replaced by np.float64) and the twin is what is compared
with numeric derivatives and HIPS autograd; the float32 program is compared with the twin.

Tolerances, and why they are what they are:
- Numeric derivatives are 4th-order central differences along a random direction, at steps h and
  2h with h = 1e-4 (inputs are O(1)). Their truncation error is ~h^4/30 |f'''''| and their
  rounding error ~1.5 eps |f| / h ~ 3e-12 |f|; the difference of the two estimates measures both
  (`noise`). Every kink is at least GAP = 0.02 away (by construction), i.e. 100 steps.
  Check: |analytic - numeric| <= 1e-6 * scale + 10 * noise + rounding, where scale is the sum of
  the absolute values of the terms of the analytic directional derivative (sum |ct_i v_i|), the
  size of what cancellation can leave, and rounding = 100 eps sum|u_i f_i| / h bounds the
  rounding error of the differences (the terms of the differenced function). A wrong VJP is off
  by O(scale). If noise > 1e-4 * scale + rounding, the numeric derivative itself is not
  trustworthy (an intermediate crossed a kink, or overflow): the case is skipped and counted.
  A derivative that cancels to ~0 inside the computation (var of equal values: its terms
  x - mean are rounding noise of size eps |x|) hides the size of its terms from `scale`; an
  absolute floor 1e-10 * max|value of the program| * max|u| * max|v| (* max|w| at second order)
  covers that rounding (~eps |value| * |u| * |v|) with a 1e5 margin, far below a wrong VJP.
- vjpnet's grad vs vjpnet's vjp, and vjpnet vs HIPS autograd: the same exact formulas evaluated in a
  different order, so they agree to rounding: 1e-9 relative to the largest value (or to the
  cotangent u, whose size the terms of a gradient that cancels to 0 still have).
- float32 vs the float64 twin: each op rounds to eps32 = 6e-8 relative to the magnitude of its
  operands; values stay below 1e3 and programs have at most ~10 statements with domain-bounded
  condition (no saturated tanh: bounded domains are reached through sin), so errors stay below
  ~1e-4 of the magnitude involved: the check is |a32 - a64| <= 2e-3 |a64| + 2e-4 scale (as the
  loss zoo's float32 test), scale = max|a64| over the input, and at least max|u| for cotangents
  (a gradient that cancels to ~0 is made of terms of the size of the cotangent) or the largest
  value of the program for the output (an output that cancels to ~0 is made of those).
"""
import warnings

import numpy as np

import vjpnet

STEP = 1e-4
RTOL = 1e-6
NOISE_FACTOR = 10.0
UNRELIABLE = 1e-4
ROUNDING_FACTOR = 100.0
FLOOR = 1e-10
EXACT_RTOL = 1e-9
F32_RTOL, F32_ATOL = 2e-3, 2e-4


class Failure(AssertionError):
    """A check failed: message, and the lines that reproduce it after the program's setup."""

    def __init__(self, check, message, snippet):
        super().__init__(f"{check}: {message}")
        self.check, self.message, self.snippet = check, message, snippet


class Skip(Exception):
    """A check does not apply to this program (the reason is counted)."""


# --- pytree-free helpers over argument lists ----------------------------------------------------

def random_like(value, rng):
    """A standard normal value of value's shape; a Python float for a Python float."""
    if type(value) is float:
        return float(rng.standard_normal())
    return rng.standard_normal(np.shape(value))


def inner(xs, ys):
    """sum_i <xs[i], ys[i]> (works on traced values)."""
    total = 0.0
    for x, y in zip(xs, ys):
        total = total + np.sum(x * y)
    return total


def absolute_inner(xs, ys):
    return float(sum(np.sum(np.abs(np.asarray(x, dtype=np.float64) * y)) for x, y in zip(xs, ys)))


def shifted(args, direction, t):
    """args + t direction; arrays stay arrays (0-d ones too: a + t v would be a NumPy scalar)."""
    return [a + t * v if type(a) is float else np.asarray(a + t * v, dtype=a.dtype)
            for a, v in zip(args, direction)]


def directional(phi, h=STEP):
    """(phi'(0), noise): 4th-order central differences at steps h and 2h, and their gap."""
    f = {k: float(phi(k * h)) for k in (-4, -2, -1, 1, 2, 4)}
    d1 = (f[-2] - 8 * f[-1] + 8 * f[1] - f[2]) / (12 * h)
    d2 = (f[-4] - 8 * f[-2] + 8 * f[2] - f[4]) / (24 * h)
    return d1, abs(d1 - d2)


def compare_numeric(check, analytic, numeric, noise, scale, phi_scale, floor, snippet):
    """analytic vs numeric directional derivative; scale: sum of |terms| of the analytic one;
    phi_scale: sum of |terms| of the differenced function (bounds its rounding error); floor:
    an absolute tolerance for derivatives that cancel to ~0 (see the module docstring)."""
    scale = scale + abs(numeric)
    rounding = ROUNDING_FACTOR * np.finfo(np.float64).eps * phi_scale / STEP + floor
    if noise > UNRELIABLE * scale + rounding:
        raise Skip("numeric derivative unreliable (a kink or overflow within the steps)")
    if not abs(analytic - numeric) <= RTOL * scale + NOISE_FACTOR * noise + rounding:
        raise Failure(check, f"directional derivative {analytic!r} from vjpnet, {numeric!r} "
                      f"from central differences (noise {noise:.2g}, scale {scale:.3g})", snippet)


def largest(values):
    """max |x| over a list of arrays and floats."""
    return max((float(np.max(np.abs(np.asarray(x)), initial=0.0)) for x in values),
               default=0.0)


def assert_same(check, ours, theirs, what, snippet, rtol=EXACT_RTOL, reference=0.0):
    """Elementwise |ours - theirs| <= rtol * (the largest value of either list, or reference:
    the magnitude of the terms they are computed from)."""
    bound = rtol * max(largest(ours), largest(theirs), reference) + 1e-300
    for index, (a, b) in enumerate(zip(ours, theirs)):
        a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a64.shape != b64.shape:
            raise Failure(check, f"{what} {index}: shape {a64.shape} vs {b64.shape}", snippet)
        error = float(np.max(np.abs(a64 - b64), initial=0.0))
        if not error <= bound:
            raise Failure(check, f"{what} {index} differs by {error:.3g} (allowed {bound:.3g}):"
                          f"\n  vjpnet   {a64.ravel()[:6]}\n  expected {b64.ravel()[:6]}",
                          snippet)


# --- the case -------------------------------------------------------------------------------

class Case:
    """A program ready to check: f in original dtypes and its float64 twin, inputs, u, v, w."""

    def __init__(self, program, seed=0):
        self.program = program
        rng = np.random.default_rng(seed)
        self.args = program.arguments()
        self.args64 = program.arguments(float64=True)
        self.f = program.function(np)
        self.f64 = program.function(np, float64=True)
        self.argnums = tuple(range(len(self.args)))
        self.expected = self.f(*self.args)          # plain NumPy
        self.expected64 = self.f64(*self.args64)
        self.u = random_like(_as_float(self.expected64), rng)
        self.v = [random_like(a, rng) for a in self.args64]
        self.w = [random_like(a, rng) for a in self.args64]
        self._cache = {}
        self.names = ", ".join(v.name for v in program.inputs)
        self.value_scale = max(1.0, largest([v.value for v in program.variables]))

    def floor(self, *vectors):
        """FLOOR * max|value of the program| * prod(max|vector|): the absolute tolerance of a
        derivative along these vectors that cancels to ~0 (its terms are of this size)."""
        result = FLOOR * self.value_scale
        for vector in vectors:
            result *= largest(vector if isinstance(vector, list) else [vector])
        return result

    def scalarized(self, f, u):
        """S(*xs) = sum(f(*xs) * u): a scalar whose gradient is the VJP with cotangent u."""
        return lambda *xs: np.sum(f(*xs) * u)

    def memo(self, key, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    # shared results (computed once, used by several checks)
    def vjp64(self):
        """(out, cotangents) of vjpnet.vjp of the float64 twin with cotangent u."""
        def compute():
            out, vjp_fn = vjpnet.vjp(self.f64, *self.args64)
            return out, list(vjp_fn(self.u))
        return self.memo("vjp64", compute)

    def grad64(self):
        return self.memo("grad64", lambda: list(vjpnet.grad(
            self.scalarized(self.f64, self.u), argnums=self.argnums)(*self.args64)))

    def numeric_first(self):
        """d/dt <u, f64(args + t v)> at 0, numerically: (value, noise)."""
        return self.memo("numeric_first", lambda: directional(
            lambda t: np.sum(self.f64(*shifted(self.args64, self.v, t)) * self.u)))


def _as_float(value):
    return value if type(value) is float else np.asarray(value, dtype=np.float64)


# --- the checks -----------------------------------------------------------------------------

def check_forward(case):
    """vjpnet's traced forward gives NumPy's value, shape and dtype (original dtypes)."""
    snippet = f"out, vjp_fn = vjpnet.vjp(f, {case.names})\nprint(out, f({case.names}))\n"
    out, _ = vjpnet.vjp(case.f, *case.args)
    expected = case.expected
    if np.shape(out) != np.shape(expected) or np.result_type(out) != np.result_type(expected):
        raise Failure("forward", f"vjpnet gives shape {np.shape(out)} dtype "
                      f"{np.result_type(out)}, NumPy {np.shape(expected)} "
                      f"{np.result_type(expected)}", snippet)
    rtol = F32_RTOL if case.program.uses_float32 else 1e-10
    assert_same("forward", [out], [expected], "value", snippet, rtol=rtol,
                reference=case.value_scale)   # an output that cancels to ~0


def check_vjp(case):
    """vjpnet.vjp with cotangent u, along direction v, vs central differences (float64)."""
    snippet = f"from vjpnet.gradient_check import check_grads\ncheck_grads(f, [{case.names}])\n"
    out, cotangents = case.vjp64()
    for index, (ct, arg) in enumerate(zip(cotangents, case.args64)):
        if type(arg) is float:
            ok = type(ct) is float
        else:
            ok = getattr(ct, "shape", None) == arg.shape and ct.dtype == arg.dtype
        if not ok:
            raise Failure("vjp", f"cotangent {index} is {type(ct).__name__} "
                          f"{np.shape(ct)} {getattr(ct, 'dtype', '')}, input is "
                          f"{type(arg).__name__} {np.shape(arg)}", snippet)
    numeric, noise = case.numeric_first()
    compare_numeric("vjp", inner(cotangents, case.v), numeric, noise,
                    absolute_inner(cotangents, case.v),
                    absolute_inner([case.expected64], [case.u]),
                    case.floor(case.u, case.v), snippet)


def check_grad(case):
    """vjpnet.grad of sum(f * u) equals the VJP with cotangent u."""
    snippet = (f"u = np.random.default_rng(0).standard_normal(np.shape(f({case.names})))\n"
               f"print(vjpnet.grad(lambda *a: np.sum(f(*a) * u), argnums={case.argnums})"
               f"({case.names}))\nprint(vjpnet.vjp(f, {case.names})[1](u))\n")
    assert_same("grad", case.grad64(), case.vjp64()[1], "gradient of input", snippet,
                reference=largest([case.u]))


def check_second_order(case):
    """Hessian-vector product by nested vjpnet.grad vs differences of vjpnet.grad."""
    if not case.program.second_order:
        raise Skip("a first-order-only entry")
    snippet = "from vjpnet.gradient_check import check_grads\n" \
              f"check_grads(f, [{case.names}], order=2)\n"
    scalar = case.scalarized(case.f64, case.u)
    gradient = vjpnet.grad(scalar, argnums=case.argnums)

    def directional_grad(*xs):
        return inner(gradient(*xs), case.w)

    hessian_w = list(vjpnet.grad(directional_grad, argnums=case.argnums)(*case.args64))
    case._cache["hessian_w"] = hessian_w
    numeric, noise = directional(
        lambda t: directional_grad(*shifted(case.args64, case.v, t)))
    compare_numeric("second order", inner(hessian_w, case.v), numeric, noise,
                    absolute_inner(hessian_w, case.v),
                    absolute_inner(gradient(*case.args64), case.w),
                    case.floor(case.u, case.v, case.w), snippet)


def check_autograd(case):
    """vjpnet's gradient (and Hessian-vector product) equal HIPS autograd's (float64)."""
    if case.program.autograd_skips:
        raise Skip("autograd: " + "; ".join(case.program.autograd_skips))
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        raise Skip("autograd is not installed") from None
    f = case.program.function(anp, float64=True)

    def scalar(xs):
        return anp.sum(f(*xs) * case.u)

    snippet = ("import autograd, autograd.numpy as anp   # run f's body with np = anp\n"
               "u = ...   # any cotangent; compare vjpnet.vjp(f, ...)[1](u) with autograd\n")
    with warnings.catch_warnings():   # "Output seems independent of input": a zero gradient
        warnings.simplefilter("ignore", UserWarning)
        theirs = list(autograd.grad(scalar)(tuple(case.args64)))
    _skip_if_autograd_overflows(case.grad64(), theirs)
    assert_same("autograd", case.grad64(), theirs, "gradient of input", snippet,
                reference=largest([case.u]))
    if "hessian_w" in case._cache:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            hessian = list(autograd.grad(lambda xs: inner(autograd.grad(scalar)(xs), case.w))(
                tuple(case.args64)))
        _skip_if_autograd_overflows(case._cache["hessian_w"], hessian)
        assert_same("autograd", case._cache["hessian_w"], hessian,
                    "Hessian-vector product of input", snippet,
                    reference=max(largest(case.grad64()), largest([case.u])) * largest(case.w))


def _skip_if_autograd_overflows(ours, theirs):
    """autograd's formulas overflow where vjpnet's do not (rgamma's derivative as
    rgamma * psi at large x: 0 * inf): a NaN or inf from autograd beside a finite vjpnet
    result is not compared (vjpnet's is checked against central differences)."""
    for a, b in zip(ours, theirs):
        if np.all(np.isfinite(a)) and not np.all(np.isfinite(b)):
            raise Skip("autograd's result is not finite where vjpnet's is")


def check_float32(case):
    """float32 in -> float32 values and cotangents, close to the float64 twin's."""
    if not case.program.uses_float32:
        raise Skip("no float32 in the program")
    snippet = (f"out, vjp_fn = vjpnet.vjp(f, {case.names})\n"
               "cotangents = vjp_fn(np.ones_like(out))\n"
               "print(out.dtype, [getattr(c, 'dtype', type(c)) for c in cotangents])\n")
    out, vjp_fn = vjpnet.vjp(case.f, *case.args)
    u = case.u if type(out) is float else np.asarray(case.u, dtype=np.result_type(out))
    cotangents = list(vjp_fn(u))
    for index, (ct, arg) in enumerate(zip(cotangents, case.args)):
        expected = float if type(arg) is float else arg.dtype
        got = float if type(ct) is float else getattr(ct, "dtype", type(ct))
        if got != expected or np.shape(ct) != np.shape(arg):
            raise Failure("float32", f"cotangent {index} is {got} {np.shape(ct)}, its input "
                          f"{expected} {np.shape(arg)}", snippet)
    gradient = vjpnet.grad(case.scalarized(case.f, u), argnums=case.argnums)(*case.args)
    for index, (g, arg) in enumerate(zip(gradient, case.args)):
        if (float if type(g) is float else g.dtype) != (float if type(arg) is float
                                                          else arg.dtype):
            raise Failure("float32", f"grad of input {index} has dtype {g.dtype}, the input "
                          f"{arg.dtype}", snippet)
    out64, cotangents64 = case.vjp64()
    try:
        _close32("float32 value", [out], [out64], snippet, case.value_scale)
        _close32("float32 cotangent", cotangents, cotangents64, snippet, largest([case.u]))
    except Failure:
        # An ill-conditioned program (np.degrees then sin: rounding errors amplified by 57)
        # can exceed the fixed tolerance. Its sensitivity to float32-sized perturbations of
        # the inputs, measured on the float64 twin, bounds what float32 rounding can do.
        perturbed = _perturbed32(case)
        _close32("float32 value", [out], [out64], snippet, case.value_scale,
                 [perturbed[0]])
        _close32("float32 cotangent", cotangents, cotangents64, snippet, largest([case.u]),
                 perturbed[1])
        raise Skip("float32 differs by more than the fixed tolerance, within the program's "
                   "sensitivity to float32 rounding") from None


SENSITIVITY_STEP = 8 * np.finfo(np.float32).eps
SENSITIVITY_FACTOR = 30.0


def _perturbed32(case):
    """(out, cotangents) of the float64 twin at inputs moved by 8 eps32 relative, randomly."""
    rng = np.random.default_rng(1)
    args = [a * (1.0 + SENSITIVITY_STEP * rng.choice([-1.0, 1.0], np.shape(a)))
            for a in case.args64]
    args = [float(a) if type(b) is float else np.asarray(a, dtype=np.float64)
            for a, b in zip(args, case.args64)]
    out, vjp_fn = vjpnet.vjp(case.f64, *args)
    return out, list(vjp_fn(case.u))


def _close32(what, ours, theirs, snippet, reference, perturbed=None):
    """|float32 - float64| within F32_RTOL relative + F32_ATOL of the scale, plus (when
    given) SENSITIVITY_FACTOR times the change of the float64 result under perturbed inputs."""
    for index, (a, b) in enumerate(zip(ours, theirs)):
        a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        scale = max(float(np.max(np.abs(b64), initial=0.0)), reference)
        error = np.abs(a64 - b64) - (F32_RTOL * np.abs(b64) + F32_ATOL * scale)
        if perturbed is not None:
            error = error - SENSITIVITY_FACTOR * np.abs(
                np.asarray(perturbed[index], dtype=np.float64) - b64)
        if np.any(error > 0):
            raise Failure("float32", f"{what} {index} is not within float32 tolerance of the "
                          f"float64 twin:\n  float32 {a64.ravel()[:6]}\n  float64 "
                          f"{b64.ravel()[:6]}", snippet)


def check_jvp(case):
    """Forward mode (vjpnet.jvp, JAX's signature): <u, J v> vs central differences."""
    snippet = f"print(vjpnet.jvp(f, ({case.names},), ...))\n"
    out, tangent = case.memo("jvp64", lambda: vjpnet.jvp(case.f64, tuple(case.args64),
                                                          tuple(case.v)))
    numeric, noise = case.numeric_first()
    analytic = float(np.sum(np.asarray(tangent, dtype=np.float64) * case.u))
    compare_numeric("jvp", analytic, numeric, noise,
                    float(np.sum(np.abs(np.asarray(tangent) * case.u))),
                    absolute_inner([case.expected64], [case.u]), case.floor(case.u, case.v),
                    snippet)


def check_transforms_agree(case):
    """Forward mode against reverse mode, exact up to rounding: <u, J v> by jvp equals
    <J^T u, v> by vjp; and forward over reverse (jvp of the gradient: H v) equals reverse over
    reverse (check_second_order's H w) as <H v, w> = <H w, v>."""
    snippet = (f"out, t = vjpnet.jvp(f, ({case.names},), v)   # <u, t> vs <vjp(u), v>\n"
               f"vjpnet.jvp(vjpnet.grad(lambda *a: np.sum(f(*a) * u), argnums=...), "
               f"({case.names},), v)   # H v\n")
    _, tangent = case.memo("jvp64", lambda: vjpnet.jvp(case.f64, tuple(case.args64),
                                                        tuple(case.v)))
    cotangents = case.vjp64()[1]
    forward, reverse = float(np.sum(np.asarray(tangent, np.float64) * case.u)), \
        inner(cotangents, case.v)
    scale = absolute_inner([tangent], [case.u]) + absolute_inner(cotangents, case.v)
    if not abs(forward - reverse) <= EXACT_RTOL * scale + case.floor(case.u, case.v):
        raise Failure("transforms", f"<u, J v> = {forward!r} by jvp, <J^T u, v> = {reverse!r} "
                      "by vjp", snippet)
    _check_jacobians(case, snippet)
    if "hessian_w" not in case._cache:
        return   # second order skipped (first-order entry, unreliable differences)
    gradient = vjpnet.grad(case.scalarized(case.f64, case.u), argnums=case.argnums)
    _, hessian_v = vjpnet.jvp(gradient, tuple(case.args64), tuple(case.v))
    forward, reverse = inner(hessian_v, case.w), inner(case._cache["hessian_w"], case.v)
    scale = absolute_inner(hessian_v, case.w) + absolute_inner(case._cache["hessian_w"], case.v)
    if not abs(forward - reverse) <= 1e-8 * scale + case.floor(case.u, case.v, case.w):
        raise Failure("transforms", f"<H v, w> = {forward!r} forward over reverse, <H w, v> = "
                      f"{reverse!r} reverse over reverse", snippet)


SMALL_JACOBIAN = 12   # elements in and out: jacfwd and jacrev are compared when both are small


def _check_jacobians(case, snippet):
    """jacfwd (columns by JVPs) equals jacrev (rows by VJPs) for small programs, and u^T jacrev
    equals the VJP of u: three routes to the same numbers (to rounding of the program's values,
    the size of the terms of a derivative that cancels to 0)."""
    sizes = [np.size(a) for a in case.args64]
    if sum(sizes) > SMALL_JACOBIAN or np.size(case.expected64) > SMALL_JACOBIAN:
        return
    reverse = vjpnet.jacrev(case.f64, argnums=case.argnums)(*case.args64)
    forward = vjpnet.jacfwd(case.f64, argnums=case.argnums)(*case.args64)
    snippet += "vjpnet.jacfwd(f, argnums=...)(...) vs vjpnet.jacrev(f, argnums=...)(...)\n"
    assert_same("transforms", list(forward), list(reverse), "jacfwd vs jacrev of input",
                snippet, reference=max(largest(list(reverse)), case.value_scale))
    shape = np.shape(case.expected64)
    for index, (jacobian, cotangent) in enumerate(zip(reverse, case.vjp64()[1])):
        row = np.tensordot(np.asarray(case.u).reshape(shape), np.asarray(jacobian),
                           axes=len(shape))
        assert_same("transforms", [row], [cotangent], f"u^T jacrev vs vjp of input {index}",
                    snippet, reference=max(largest([jacobian]), case.value_scale) *
                    largest([case.u]))


# In order: later checks reuse results of earlier ones (check_autograd and
# check_transforms_agree read the Hessian-vector product of check_second_order when it ran).
CHECKS = [check_forward, check_vjp, check_grad, check_second_order, check_autograd,
          check_float32, check_jvp, check_transforms_agree]


def run_checks(program, checks=None, stats=None, seed=0):
    """Run every check on `program`; raise Failure (with the reproducer) on the first failure.

    Exceptions other than Failure/Skip (vjpnet raising on valid input) are failures too.
    stats (a collections.Counter) counts checks run and skip reasons.
    """
    case = Case(program, seed)
    for check in checks or CHECKS:
        name = check.__name__
        try:
            check(case)
            if stats is not None:
                stats[f"ran {name}"] += 1
        except Skip as skip:
            if stats is not None:
                stats[f"skipped {name}: {skip}"] += 1
        except Failure as failure:
            raise ProgramFailure(program, failure.check, failure.message,
                                 failure.snippet) from None
        except Exception as error:   # noqa: BLE001 - vjpnet raised on valid input
            snippet = ("out, vjp_fn = vjpnet.vjp(f, {0})\nvjp_fn(np.ones_like(out))\n"
                       "vjpnet.grad(lambda *a: np.sum(f(*a)), argnums={1})({0})\n").format(
                           case.names, case.argnums)
            raise ProgramFailure(program, name.replace("check_", ""),
                                 f"raised {type(error).__name__}: {error}", snippet) from error


class ProgramFailure(AssertionError):
    """A failed check with the program's reproducer in its message."""

    def __init__(self, program, check, message, snippet):
        self.program, self.check, self.message, self.snippet = program, check, message, snippet
        super().__init__(f"{check}: {message}\n\nReproducer:\n\n"
                         f"{program.reproducer(snippet)}")
