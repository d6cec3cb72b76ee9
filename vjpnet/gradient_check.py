"""Numeric gradients (centred differences) and checks of vjpnet's gradients against them.

The first four functions are the notebook's API; `check_grads` checks reverse mode (`vjp`)
and forward mode (`jvp`) of any function along random directions.
"""
import functools
import math
import warnings

import numpy as np

from vjpnet import tree
from vjpnet.transforms import jvp, vjp


def rel_error(x, y):
    """max |x - y| / max(1e-8, |x| + |y|), elementwise."""
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


def _centred_values(f, x, index, h):
    """(f(x + h e_index), f(x - h e_index)), perturbing x in place and restoring it.

    The values are copied, so an f that returns (a view of) a reused buffer is still safe."""
    old = x[index]
    x[index] = old + h
    f_plus = np.array(f(x), copy=True)
    x[index] = old - h
    f_minus = np.array(f(x), copy=True)
    x[index] = old
    return f_plus, f_minus


def eval_numerical_gradient(f, x, verbose=True, h=1e-5):
    """Numeric gradient of scalar f at x (perturbed in place and restored). Shape of x."""
    gradient = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        f_plus, f_minus = _centred_values(f, x, index, h)
        gradient[index] = (f_plus - f_minus) / (2 * h)
        if verbose:
            print(index, gradient[index])
    return gradient


def eval_numerical_gradient_array(f, x, df, h=1e-5):
    """Numeric vector-Jacobian product: d(sum(f(x) * df))/dx for array-valued f. Shape of x."""
    gradient = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        f_plus, f_minus = _centred_values(f, x, index, h)
        gradient[index] = np.sum((f_plus - f_minus) * df) / (2 * h)
    return gradient


def grad_check_sparse(f, x, analytic_grad, num_checks=10, h=1e-5):
    """Compare `analytic_grad` with centred differences at `num_checks` random elements."""
    for _ in range(num_checks):
        index = tuple(np.random.randint(n) for n in x.shape)
        f_plus, f_minus = _centred_values(f, x, index, h)
        numeric = float((f_plus - f_minus) / (2 * h))
        analytic = analytic_grad[index]
        error = abs(numeric - analytic) / (abs(numeric) + abs(analytic) + 1e-300)
        print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {error:e}")


# --- checking vjpnet's gradients ---------------------------------------------------------

def check_grads(f, args=None, argnums=None, order=1, rtol=1e-5, atol=1e-7, eps=None, seed=0,
                modes=("fwd", "rev")):
    """Check vjpnet's derivatives of f at args against centred differences along random
    directions: reverse mode (`vjp`, "rev") and forward mode (`jvp`, "fwd"), as in `modes`.

    Without `args`, returns a checker to call with f's arguments (keyword arguments are passed
    to f and not checked): `check_grads(f, order=2)(x, y)` is `check_grads(f, (x, y), order=2)`.

    f(*args) returns a float or complex array or pytree of them; args are arrays/pytrees.
    Every float or complex argument (or those in `argnums`) is checked; with order=2 the
    derivatives themselves are checked too, in every mode (jvp of vjp, vjp of jvp, ...). eps is
    the finite-difference step (default 1e-6, or 1e-3 for float32/complex64 inputs, whose
    numeric derivatives are then good to about 1e-3 only: a warning says so). Raises
    AssertionError naming the mode and the worst argument and element on failure. A first-order
    primitive without a JVP rule fails forward mode with an error naming it; pass
    modes=("rev",) to check reverse mode only.

    Complex values use vjpnet's convention: a cotangent u pairs with a change dy as
    Re(sum(u * dy)). Directions and cotangents are random complex numbers for complex leaves, so
    real and imaginary parts are both perturbed; the report of the worst element perturbs each
    of them separately.
    """
    if args is None:
        def checker(*args, **kwargs):
            g = functools.partial(f, **kwargs) if kwargs else f
            check_grads(g, args, argnums=argnums, order=order, rtol=rtol, atol=atol, eps=eps,
                        seed=seed, modes=modes)
        return checker
    rng = np.random.default_rng(seed)
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    if not modes or any(mode not in ("fwd", "rev") for mode in modes):
        raise ValueError(f"check_grads: modes must name 'fwd' and/or 'rev', got {modes!r}")
    args = list(args)
    positions = [i for i, a in enumerate(args) if _float_leaves(a)] if argnums is None else \
        list((argnums,) if isinstance(argnums, int) else argnums)
    float32 = any(_is_float32(a) for i, a in enumerate(args) if i in positions)
    if float32:
        warnings.warn("check_grads on float32/complex64 inputs: centred differences are accurate "
                      "to about 1e-3 there; check gradients in float64/complex128", stacklevel=2)
    if eps is None:
        eps = 1e-3 if float32 else 1e-6

    for position in positions:
        def restricted(x, position=position):
            return f(*args[:position], x, *args[position + 1:])
        x = args[position]
        u = _random_leaves(f(*args), rng)   # output direction (a cotangent)
        v = _random_leaves(x, rng)          # input direction (a tangent)
        for mode in ("rev", "fwd"):
            if mode in modes:
                _check_one(restricted, x, position, u, v, mode, rtol, atol, eps)
        if order > 1:
            w = _random_leaves(x, rng)
            for mode in modes:
                check_grads(_directional_derivative(restricted, u, v, w, mode), [x],
                            order=order - 1, rtol=rtol, atol=atol, eps=eps, seed=seed + 1,
                            modes=modes)


def _directional_derivative(f, u, v, w, mode):
    """x -> <vjp(f, x)(u), w> ("rev") or <u, jvp(f, (x,), (v,))> ("fwd"): a scalar function
    whose own derivatives check the derivatives of f's derivative."""
    if mode == "rev":
        def directional_vjp(x):
            out, vjp_fn = vjp(f, x)
            return _inner(w, vjp_fn(_as_tree(out, u))[0])
        return directional_vjp

    def directional_jvp(x):
        return _inner(u, jvp(f, (x,), (_as_tree(x, v),))[1])
    return directional_jvp


def _derivative(f, x, u, v, mode):
    """<u, J v>, by vjp ("rev") or jvp ("fwd")."""
    if mode == "rev":
        out, vjp_fn = vjp(f, x)
        return _inner(v, vjp_fn(_as_tree(out, u))[0])
    return _inner(u, jvp(f, (x,), (_as_tree(x, v),))[1])


def _check_one(f, x, position, u, v, mode, rtol, atol, eps):
    analytic = _derivative(f, x, u, v, mode)
    numeric = (_inner(u, f(_axpy(eps, v, x))) - _inner(u, f(_axpy(-eps, v, x)))) / (2 * eps)
    if abs(analytic - numeric) <= atol + rtol * max(abs(numeric), abs(analytic)):
        return
    # Locate the worst element for the report: one-hot directions, element by element.
    paths = tree.leaf_paths(x)
    leaves = tree.flatten(x)[0]
    worst = (0.0, "", None, 0.0, 0.0)
    for leaf_index, leaf in enumerate(leaves):
        if not _is_float_leaf(leaf):
            continue
        parts = (("", 1.0), (".imag", 1j)) if np.iscomplexobj(leaf) else (("", 1.0),)
        for element in np.ndindex(np.shape(leaf)):
            for part, unit in parts:
                one_hot = [None] * len(leaves)
                bump = np.zeros(np.shape(leaf), np.result_type(leaf))
                bump[element] = unit
                one_hot[leaf_index] = type(leaf)(bump) if type(leaf) in (float, complex) \
                    else bump
                num = (_inner(u, f(_axpy(eps, one_hot, x))) -
                       _inner(u, f(_axpy(-eps, one_hot, x)))) / (2 * eps)
                ana = float(_derivative(f, x, u, one_hot, mode))
                difference = abs(num - ana)
                if not math.isnan(worst[0]) and not difference < worst[0]:   # NaN: the worst
                    worst = (difference, paths[leaf_index], f"{element}{part}", ana, num)
    source = "vjp" if mode == "rev" else "jvp"
    raise AssertionError(
        f"check_grads ({mode} mode): argument {position}: directional derivative from {source} "
        f"{analytic:.10g} vs numeric {numeric:.10g}; worst element: argument "
        f"{position}{worst[1]}[{worst[2]}] {source} {worst[3]:.10g} vs numeric {worst[4]:.10g}")


def _is_float_leaf(leaf):
    """A leaf that is checked: a float or complex array or number."""
    return isinstance(leaf, (float, complex)) or \
        (hasattr(leaf, "dtype") and leaf.dtype.kind in "fc")


def _float_leaves(value):
    return [leaf for leaf in tree.flatten(value)[0] if _is_float_leaf(leaf)]


def _is_float32(value):
    return any(getattr(leaf, "dtype", None) in (np.float32, np.complex64)
               for leaf in tree.flatten(value)[0])


def _random_leaves(value, rng):
    """A random direction for `value`: one leaf per leaf of value, None for non-float ones."""
    directions = []
    for leaf in tree.flatten(value)[0]:
        if not _is_float_leaf(leaf):
            directions.append(None)
            continue
        r = rng.standard_normal(np.shape(leaf))
        if np.iscomplexobj(leaf):
            r = r + 1j * rng.standard_normal(np.shape(leaf))
        directions.append(type(leaf)(r) if type(leaf) in (float, complex) else
                          r.astype(leaf.dtype))
    return directions


def _as_tree(value, directions):
    """The direction as a pytree of value's structure; value's own leaf where it is None
    (vjp and jvp ignore the directions of non-float leaves)."""
    leaves, treedef = tree.flatten(value)
    return tree.unflatten(treedef, [leaf if d is None else d
                                    for leaf, d in zip(leaves, directions)])


def _axpy(a, directions, x):
    """x + a * direction over the float leaves of the pytree x."""
    x_leaves, treedef = tree.flatten(x)
    return tree.unflatten(treedef, [xl if d is None else
                                    xl + (a * d).astype(np.result_type(xl))
                                    if hasattr(xl, "dtype") else xl + a * d
                                    for xl, d in zip(x_leaves, directions)])


def _inner(directions, value):
    """Re(sum of elementwise products) of a direction (leaf list) with a pytree's leaves; zero
    entries of the direction contribute 0 even against NaN or inf (so a one-hot direction reads
    one element)."""
    total = 0.0
    for d, y in zip(directions, tree.flatten(value)[0]):
        if d is not None and y is not None:
            with np.errstate(invalid="ignore"):
                total = total + np.real(np.sum(np.where(np.equal(d, 0), 0, d * y)))
    return total
