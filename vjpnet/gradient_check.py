"""Numeric gradients (centred differences) and checks of vjpnet's gradients against them.

The first four functions are the notebook's API; `check_grads` checks `vjp`/`grad` of any
function along random directions.
"""
import warnings

import numpy as np

from vjpnet import tree
from vjpnet.transforms import vjp


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

def check_grads(f, args, argnums=None, order=1, rtol=1e-5, atol=1e-7, eps=None, seed=0):
    """Check `vjp` of f at args against centred differences along random directions.

    f(*args) returns a float or complex array or pytree of them; args are arrays/pytrees. Every
    float or complex argument (or those in `argnums`) is checked; with order=2 the VJP itself is
    checked too (nested grad). eps is the finite-difference step (default 1e-6, or 1e-3 for
    float32/complex64 inputs, whose numeric derivatives are then good to about 1e-3 only: a
    warning says so). Raises AssertionError naming the worst argument and element on failure.

    Complex values use vjpnet's convention: a cotangent u pairs with a change dy as
    Re(sum(u * dy)). Directions and cotangents are random complex numbers for complex leaves, so
    real and imaginary parts are both perturbed; the report of the worst element perturbs each
    of them separately.
    """
    rng = np.random.default_rng(seed)
    args = list(args)
    positions = [i for i, a in enumerate(args) if _float_leaves(a)] if argnums is None else \
        list((argnums,) if isinstance(argnums, int) else argnums)
    float32 = any(_is_float32(a) for i, a in enumerate(args) if i in positions)
    if float32:
        warnings.warn("check_grads on float32/complex64 inputs: centred differences are accurate "
                      "to about 1e-3 there; check gradients in float64/complex128", stacklevel=2)
    if eps is None:
        eps = 1e-3 if float32 else 1e-6

    def f_of(position):
        def restricted(x):
            return f(*args[:position], x, *args[position + 1:])
        return restricted

    for position in positions:
        _check_one(f_of(position), args[position], position, rng, rtol, atol, eps)
        if order > 1:
            out, _ = vjp(f_of(position), args[position])
            u = _random_like(out, rng)
            w = _random_like(args[position], rng)

            def directional_vjp(x, restricted=f_of(position), u=u, w=w):
                return _inner(vjp(restricted, x)[1](u)[0], w)

            check_grads(directional_vjp, [args[position]], order=order - 1, rtol=rtol,
                        atol=atol, eps=eps, seed=seed + 1)


def _check_one(f, x, position, rng, rtol, atol, eps):
    out, vjp_fn = vjp(f, x)
    u = _random_like(out, rng)
    v = _random_like(x, rng)
    analytic = _inner(vjp_fn(u)[0], v)
    numeric = (_inner(u, f(_axpy(eps, v, x))) - _inner(u, f(_axpy(-eps, v, x)))) / (2 * eps)
    if abs(analytic - numeric) <= atol + rtol * max(abs(numeric), abs(analytic)):
        return
    # Locate the worst element for the report.
    ct = vjp_fn(u)[0]
    paths = tree.leaf_paths(x)
    leaves, treedef = tree.flatten(x)
    ct_leaves = tree.flatten(ct)[0]
    worst = (0.0, "", None, 0.0, 0.0)
    for leaf_index, (leaf, ct_leaf) in enumerate(zip(leaves, ct_leaves)):
        if not _is_float_leaf(leaf):
            continue
        base = np.asarray(leaf)
        base = base.astype(complex if base.dtype.kind == "c" else float)
        parts = (("", 1.0), (".imag", 1j)) if base.dtype.kind == "c" else (("", 1.0),)
        for element in np.ndindex(base.shape):
            for part, unit in parts:
                bump = np.zeros_like(base)
                bump[element] = eps * unit

                def shifted(sign):
                    new = list(leaves)
                    moved = base + sign * bump
                    new[leaf_index] = moved.astype(np.result_type(leaf)) if np.ndim(leaf) \
                        else type(leaf)(moved)
                    return f(tree.unflatten(treedef, new))
                num = (_inner(u, shifted(1)) - _inner(u, shifted(-1))) / (2 * eps)
                # the directional derivative along `unit` is Re(ct * unit)
                ana = float(np.real(np.asarray(ct_leaf)[element] * unit))
                if abs(num - ana) >= worst[0]:
                    worst = (abs(num - ana), paths[leaf_index], f"{element}{part}", ana, num)
    raise AssertionError(
        f"check_grads: argument {position}: directional derivative from vjp {analytic:.10g} vs "
        f"numeric {numeric:.10g}; worst element: argument {position}{worst[1]}[{worst[2]}] "
        f"vjp {worst[3]:.10g} vs numeric {worst[4]:.10g}")


def _is_float_leaf(leaf):
    """A leaf that is checked: a float or complex array or number."""
    return isinstance(leaf, (float, complex)) or \
        (hasattr(leaf, "dtype") and leaf.dtype.kind in "fc")


def _float_leaves(value):
    return [leaf for leaf in tree.flatten(value)[0] if _is_float_leaf(leaf)]


def _is_float32(value):
    return any(getattr(leaf, "dtype", None) in (np.float32, np.complex64)
               for leaf in tree.flatten(value)[0])


def _random_like(value, rng):
    def leaf(x):
        if not _is_float_leaf(x):
            return None
        r = rng.standard_normal(np.shape(x))
        if np.iscomplexobj(x):
            r = r + 1j * rng.standard_normal(np.shape(x))
        return type(x)(r) if type(x) in (float, complex) else r.astype(x.dtype)
    return tree.tree_map(leaf, value)


def _axpy(a, v, x):
    """x + a * v over the float leaves of pytrees."""
    x_leaves, treedef = tree.flatten(x)
    v_leaves = tree.flatten(v)[0]
    return tree.unflatten(treedef, [xl if vl is None else xl + (a * vl).astype(np.result_type(xl))
                                    if hasattr(xl, "dtype") else xl + a * vl
                                    for xl, vl in zip(x_leaves, v_leaves)])


def _inner(a, b):
    """Re(sum of elementwise products) over matching pytrees (None leaves count as 0)."""
    total = 0.0
    for x, y in zip(tree.flatten(a)[0], tree.flatten(b)[0]):
        if x is not None and y is not None:
            total = total + np.real(np.sum(x * y))
    return total
