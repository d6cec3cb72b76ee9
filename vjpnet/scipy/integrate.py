"""scipy.integrate.odeint inside grad, differentiable in y0, t and the float values in args,
by the adjoint method.

    ys = odeint(func, y0, t, args=(theta,))      # func(y, t, theta) -> dy/dt, ys: (len(t), n)

The VJP integrates, backward from t[-1] to t[0] with odeint itself, the augmented system
    dy/dt = f(y, t),   da/dt = -a^T df/dy,   dq/dt = -a^T df/dargs,
restarting y at the stored forward solution on each interval [t[i-1], t[i]] and adding the
output cotangent g[i] to the adjoint a at each t[i]. Then y0_bar = a(t[0]) + g[0],
args_bar = q(t[0]), t_bar[i] = g[i] . f(y[i], t[i]) for i >= 1, t_bar[0] = -a(t[0]) . f(y0, t[0]).
The products a^T df/dy and a^T df/dargs are one vjpnet.vjp of func per evaluation.

On plain values the VJP runs SciPy's odeint directly; when the cotangent or the primals are
traced (a second derivative, or forward mode, which transposes the VJP) the same steps are
written with odeint_p and NumPy operations, so they are differentiated again: odeint is
differentiable to any order.

The backward solve uses the forward's tolerances (rtol, atol, mxstep, ...), so the gradient is as
accurate as the solution; tighten rtol/atol for accurate gradients. Values func uses that are
being differentiated must come in through args (a closure over them raises a TypeError saying
so).
"""
import numpy as np
import scipy.integrate as _integrate

from vjpnet import tree
from vjpnet.numpy_ops._base import Primitive, Sample
from vjpnet.tape import Traced, dtype_of, is_float, plain
from vjpnet.transforms import vjp

__all__ = ["odeint"]

_PASSED_TO_BACKWARD = ("rtol", "atol", "tcrit", "h0", "hmax", "hmin", "mxstep", "mxhnil",
                       "mxordn", "mxords")


def _checked(func):
    """func, refusing a traced result on plain arguments (a closure over traced values)."""
    def checked(*arguments):
        out = func(*arguments)
        if type(out) is Traced and not any(type(value) is Traced for value in arguments):
            raise TypeError(
                "vjpnet.scipy.integrate.odeint: func returned a traced value while called with "
                "plain arrays: it uses a value being differentiated that is not passed through "
                "args (a closure or a global). Pass such values in args=(...), so that their "
                "gradient is computed.")
        return out
    return checked


def _odeint_forward(y0, t, *args, func, options):
    if any(type(value) is Traced for value in (y0, t, *args)):   # nested grad
        ys = odeint_p(y0, t, *args, func=func, options=options)
    else:
        ys = _integrate.odeint(_checked(func), y0, t, args=args, **options)
    y0_dtype = dtype_of(plain(y0))
    dtype = y0_dtype if y0_dtype.kind == "f" else np.dtype(np.float64)
    if dtype_of(plain(ys)) != dtype:
        ys = ys.astype(dtype)
    if options.get("tfirst", False):
        def rhs(y, time, *args):
            return func(time, y, *args)
    else:
        rhs = func
    return ys, (y0, t, args, ys, rhs, options)


def _odeint_vjp(g, cache, needed):
    y0, t, args, ys, rhs, options = cache
    if any(type(value) is Traced for value in (g, y0, t, ys, *args)):
        return _odeint_vjp_traced(g, cache, needed)
    g = np.asarray(g, np.float64)
    t = np.asarray(t, np.float64)
    size = ys.shape[1]
    float_positions = [i for i, arg in enumerate(args) if is_float(arg)]
    float_args = [np.asarray(args[i], np.float64) for i in float_positions]
    shapes = [arg.shape for arg in float_args]
    sizes = [arg.size for arg in float_args]

    def with_float_args(values):
        merged = list(args)
        for position, value in zip(float_positions, values):
            merged[position] = value
        return merged

    def unpack(vector):
        pieces = np.split(vector, np.cumsum(sizes)[:-1]) if sizes else []
        return [piece.reshape(shape) for piece, shape in zip(pieces, shapes)]

    def augmented(state, time):
        """d/dt of (y, a, q): (f, -a^T df/dy, -a^T df/dargs), one vjp of func."""
        y, adjoint = state[:size], state[size:2 * size]

        def f(y, *float_values):
            return rhs(y, time, *with_float_args(float_values))
        dy, vjp_fn = vjp(f, y, *float_args)
        return np.concatenate([np.ravel(part) for part in (dy, *vjp_fn(-adjoint))])

    backward_options = {key: options[key] for key in _PASSED_TO_BACKWARD if key in options}
    adjoint = g[-1].copy()
    accumulated = np.zeros(sum(sizes))
    t_bar = np.zeros_like(t)
    for i in range(len(t) - 1, 0, -1):
        t_bar[i] = np.dot(g[i], np.ravel(rhs(ys[i], t[i], *args)))
        state = np.concatenate([ys[i], adjoint, accumulated])
        state = _integrate.odeint(augmented, state, [t[i], t[i - 1]], **backward_options)[-1]
        adjoint = state[size:2 * size]
        accumulated = state[2 * size:]
        if i > 1:
            adjoint = adjoint + g[i - 1]
    if len(t) > 1:
        t_bar[0] = -np.dot(adjoint, np.ravel(rhs(ys[0], t[0], *args)))
        y0_bar = adjoint + g[0]
    else:
        y0_bar = g[0]
    args_bar = [None] * len(args)
    for position, value in zip(float_positions, unpack(accumulated)):
        args_bar[position] = _like(value, args[position])
    return (_like(y0_bar, y0) if needed[0] else None,
            _like(t_bar, cache[1]) if needed[1] else None,
            *[bar if need else None for bar, need in zip(args_bar, needed[2:])])


def _odeint_vjp_traced(g, cache, needed):
    """The VJP above written with odeint_p and NumPy operations, for traced cotangents or
    primals (second derivatives, forward mode): differentiable again."""
    y0, t, args, ys, rhs, options = cache
    size = np.shape(plain(ys))[1]
    count = np.shape(plain(t))[0]
    float_positions = [i for i, arg in enumerate(args) if is_float(plain(arg))]
    float_args = [args[i] for i in float_positions]
    sizes = [int(np.size(plain(arg))) for arg in float_args]

    def with_float_args(values):
        merged = list(args)
        for position, value in zip(float_positions, values):
            merged[position] = value
        return merged

    def augmented(state, time, *float_values):
        """d/dt of (y, a, q): (f, -a^T df/dy, -a^T df/dargs), one vjp of func."""
        y, adjoint = state[:size], state[size:2 * size]

        def f(y, *values):
            return rhs(y, time, *with_float_args(values))
        dy, vjp_fn = vjp(f, y, *float_values)
        return np.concatenate([np.ravel(part) for part in (dy, *vjp_fn(-adjoint))])

    backward_options = {key: options[key] for key in _PASSED_TO_BACKWARD if key in options}
    adjoint = g[-1]
    accumulated = np.zeros(sum(sizes))
    t_bars = []
    for i in range(count - 1, 0, -1):
        t_bars.append(np.dot(g[i], np.ravel(rhs(ys[i], t[i], *args))))
        state = np.concatenate([ys[i], adjoint, accumulated])
        state = odeint_p(state, np.stack([t[i], t[i - 1]]), *float_args, func=augmented,
                         options=backward_options)[-1]
        adjoint = state[size:2 * size]
        accumulated = state[2 * size:]
        if i > 1:
            adjoint = adjoint + g[i - 1]
    if count > 1:
        t_bars.append(-np.dot(adjoint, np.ravel(rhs(ys[0], t[0], *args))))
        y0_bar = adjoint + g[0]
    else:
        t_bars.append(np.zeros(()))
        y0_bar = g[0]
    t_bar = np.stack(t_bars[::-1])
    args_bar = [None] * len(args)
    offsets = np.cumsum([0] + sizes)
    for k, position in enumerate(float_positions):
        args_bar[position] = _traced_like(accumulated[offsets[k]:offsets[k + 1]], args[position])
    return (_traced_like(y0_bar, y0) if needed[0] else None,
            _traced_like(t_bar, t) if needed[1] else None,
            *[bar if need else None for bar, need in zip(args_bar, needed[2:])])


def _traced_like(cotangent, value):
    """cotangent (possibly traced) with value's shape and dtype."""
    value_plain = plain(value)
    dtype = np.asarray(value_plain).dtype if type(value_plain) is not float else \
        np.dtype(np.float64)
    return np.reshape(cotangent, np.shape(value_plain)).astype(dtype)


def _like(cotangent, value):
    """cotangent with value's shape and dtype (a Python float for a Python float)."""
    if type(value) is float:
        return float(cotangent)
    return np.asarray(cotangent).reshape(np.shape(value)).astype(np.asarray(value).dtype)


def _decay_spec(rng):
    def func(y, t, rate, drive):
        return -rate * y + drive * np.sin(t)
    options = {"rtol": 1e-12, "atol": 1e-12}
    return [Sample(rng.uniform(0.5, 1.5, 2), np.array([0.0, 0.4, 1.0]), rng.uniform(0.5, 1.5, 2),
                   0.7, func=func, options=options),
            Sample(rng.uniform(0.5, 1.5, 3), np.array([0.2, 1.1]), rng.uniform(0.5, 1.5, (3, 3)),
                   0.3, func=lambda y, t, m, c: np.tanh(m @ y) * c - 0.5 * y, options=options)]


odeint_p = Primitive(_odeint_forward, _odeint_vjp, name="odeint", selective_vjp=True,
                     spec=_decay_spec)


def odeint(func, y0, t, args=(), Dfun=None, col_deriv=0, full_output=0, ml=None, mu=None,
           rtol=None, atol=None, tcrit=None, h0=0.0, hmax=0.0, hmin=0.0, ixpr=0, mxstep=0,
           mxhnil=0, mxordn=12, mxords=5, printmessg=0, tfirst=False):
    """Integrate dy/dt = func(y, t, *args) from y0 at t[0]; return y at every t: (len(t), n).

    SciPy's signature and options. Differentiable in y0 (n,), t (monotonic) and every float
    or float array in args, which may be pytrees (func gets them back in the same structure,
    e.g. args=(params,) with params a list of (W, b) tuples); Dfun (a Jacobian for the
    forward solve only) and the solver options are passed to SciPy; full_output=True works on
    plain arrays only.
    """
    if not isinstance(args, tuple):
        args = (args,)
    traced = any(type(value) is Traced for value in (y0, t, *args))
    if full_output:
        if traced:
            raise TypeError("vjpnet.scipy.integrate.odeint: full_output=True is not supported "
                            "on traced values (call it again on plain arrays for the info)")
        return _integrate.odeint(func, y0, t, args, Dfun, col_deriv, full_output, ml, mu, rtol,
                                 atol, tcrit, h0, hmax, hmin, ixpr, mxstep, mxhnil, mxordn,
                                 mxords, printmessg, tfirst)
    given = dict(Dfun=Dfun, col_deriv=col_deriv, ml=ml, mu=mu, rtol=rtol, atol=atol,
                 tcrit=tcrit, h0=h0, hmax=hmax, hmin=hmin, ixpr=ixpr, mxstep=mxstep,
                 mxhnil=mxhnil, mxordn=mxordn, mxords=mxords, printmessg=printmessg,
                 tfirst=tfirst)
    defaults = dict(Dfun=None, col_deriv=0, ml=None, mu=None, rtol=None, atol=None, tcrit=None,
                    h0=0.0, hmax=0.0, hmin=0.0, ixpr=0, mxstep=0, mxhnil=0, mxordn=12,
                    mxords=5, printmessg=0, tfirst=False)
    options = {key: value for key, value in given.items() if value is not defaults[key]}
    if np.ndim(plain(y0)) != 1:
        y0 = np.ravel(y0)
    leaves, treedef = tree.flatten(args)
    if len(leaves) != len(args) or any(leaf is not arg for leaf, arg in zip(leaves, args)):
        func = _on_leaves(func, treedef)    # containers in args: pass their leaves
        args = tuple(leaves)
    return odeint_p(y0, t, *args, func=func, options=options)


def _on_leaves(func, treedef):
    """func taking args as the leaves of the pytree treedef describes (after y and t)."""
    def on_leaves(first, second, *leaves):
        return func(first, second, *tree.unflatten(treedef, list(leaves)))
    on_leaves.__name__ = getattr(func, "__name__", "func")
    return on_leaves
