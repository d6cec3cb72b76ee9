"""vjpnet.scipy.linalg and vjpnet.scipy.integrate: values against SciPy, gradients against
central differences (second order) and HIPS autograd,
batching, and the errors. The primitives' own specs run in tests/test_registry.py."""
import numpy as np
import pytest

linalg = pytest.importorskip("scipy.linalg")
import scipy.integrate  # noqa: E402

import vjpnet  # noqa: E402
from vjpnet import grad  # noqa: E402
from vjpnet.gradient_check import check_grads  # noqa: E402
from vjpnet.scipy import integrate as vintegrate  # noqa: E402
from vjpnet.scipy import linalg as vlinalg  # noqa: E402

RNG = np.random.default_rng(0)


def square(*shape):
    return RNG.standard_normal(shape) * 0.3 + 2.0 * np.eye(shape[-1])


def spd(*shape):
    b = RNG.standard_normal(shape)
    return b @ np.swapaxes(b, -1, -2) + shape[-1] * np.eye(shape[-1])


def assert_same(ours, theirs, rtol=1e-12):
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=1e-14)
    assert np.shape(ours) == np.shape(theirs) and np.result_type(ours) == np.result_type(theirs)


# --- solve_triangular, cholesky, cho_factor, cho_solve ----------------------------------------

@pytest.mark.parametrize("trans", [0, 1, 2, "N", "T", "C"])
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("unit_diagonal", [True, False])
def test_solve_triangular_matches_scipy_and_reads_one_triangle(trans, lower, unit_diagonal):
    a, b = square(4, 4), RNG.standard_normal((4, 2))
    kwargs = dict(trans=trans, lower=lower, unit_diagonal=unit_diagonal)
    assert_same(vlinalg.solve_triangular(a, b, **kwargs), linalg.solve_triangular(a, b, **kwargs))
    assert_same(vlinalg.solve_triangular(a, b[:, 0], **kwargs),
                linalg.solve_triangular(a, b[:, 0], **kwargs))
    f = lambda a, b: vlinalg.solve_triangular(a, b, **kwargs)
    check_grads(f, [a, b], order=2)
    g = grad(lambda a: np.sum(f(a, b)))(a)
    unread = np.triu(np.ones((4, 4)), 1) if lower else np.tril(np.ones((4, 4)), -1)
    if unit_diagonal:
        unread = unread + np.eye(4)
    assert not np.any(g * unread)


def test_batched_solve_triangular_cholesky_cho_solve_match_scipy():
    a, b = spd(2, 3, 3), RNG.standard_normal((2, 3, 2))
    lower = np.linalg.cholesky(a)
    assert_same(vlinalg.solve_triangular(lower, b, lower=True),
                linalg.solve_triangular(lower, b, lower=True))
    for lower_flag in (True, False):
        assert_same(vlinalg.cholesky(a, lower=lower_flag), linalg.cholesky(a, lower=lower_flag))
        c, flag = vlinalg.cho_factor(a, lower=lower_flag)
        c_scipy, flag_scipy = linalg.cho_factor(a, lower=lower_flag)
        np.testing.assert_array_equal(flag, flag_scipy)   # batched: one flag per matrix
        assert_same(c, c_scipy)   # the unused triangle holds a's entries, as in SciPy
        assert_same(vlinalg.cho_solve((c, flag), b), linalg.cho_solve((c_scipy, flag), b))
    check_grads(lambda a, b: vlinalg.solve_triangular(a, b, lower=True), [lower, b], order=2)


def test_cho_solve_gradient_is_the_symmetric_solve_gradient():
    factor, b, w = RNG.standard_normal((4, 4)), RNG.standard_normal(4), RNG.standard_normal(4)

    def via_cholesky(factor, b):
        a = factor @ factor.T + 4.0 * np.eye(4)
        return np.sum(vlinalg.cho_solve(vlinalg.cho_factor(a), b) * w)

    def via_solve(factor, b):
        a = factor @ factor.T + 4.0 * np.eye(4)
        return np.sum(np.linalg.solve(a, b) * w)

    for ours, theirs in zip(grad(via_cholesky, argnums=(0, 1))(factor, b),
                            grad(via_solve, argnums=(0, 1))(factor, b)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    check_grads(via_cholesky, [factor, b], order=2, rtol=1e-4)
    a = spd(4, 4)   # the cholesky gradient is symmetric
    g = grad(lambda a: np.sum(vlinalg.cholesky(a, lower=True) * np.arange(16.0).reshape(4, 4)))(a)
    np.testing.assert_allclose(g, g.T, rtol=1e-12)


def test_cholesky_errors():
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        vlinalg.cho_factor(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="square"):
        vlinalg.cholesky(np.ones((2, 3)))
    with pytest.raises(ValueError, match="trans"):
        vlinalg.solve_triangular(np.eye(2), np.ones(2), trans="X")


# --- sqrtm, expm, solve_sylvester ------------------------------------------------------------

@pytest.mark.parametrize("a", [spd(3, 3), square(3, 3), square(2, 3, 3)])
def test_sqrtm_and_expm_match_scipy_and_differentiate_twice(a):
    assert_same(vlinalg.sqrtm(a), linalg.sqrtm(a))
    assert_same(vlinalg.expm(a * 0.5), linalg.expm(a * 0.5))
    check_grads(lambda a: vlinalg.sqrtm(a), [a], order=2, rtol=1e-4)
    check_grads(lambda a: vlinalg.expm(a), [a * 0.5], order=2, rtol=1e-4)
    x32 = a.astype(np.float32)
    for f in (vlinalg.sqrtm, vlinalg.expm):
        out, vjp_fn = vjpnet.vjp(f, x32)
        assert out.dtype == np.float32 and vjp_fn(np.ones_like(out))[0].dtype == np.float32


def test_expm_gradient_of_a_commuting_direction():
    """For diagonal A the derivative of sum(expm(A) * W) is W's diagonal times exp(diag)."""
    d, w = RNG.standard_normal(3), RNG.standard_normal((3, 3))
    g = grad(lambda a: np.sum(vlinalg.expm(a) * w))(np.diag(d))
    np.testing.assert_allclose(np.diag(g), np.diag(w) * np.exp(d), rtol=1e-12)


def test_sqrtm_of_a_matrix_with_negative_eigenvalues():
    a = np.diag([-1.0, 4.0])
    assert np.iscomplexobj(vlinalg.sqrtm(a))   # SciPy's complex result
    # d sqrt(x) / dx = 1 / (2 sqrt(x)): for x = -1, -i / 2; the imaginary part of the root
    # has a real derivative in the real a
    gradient = grad(lambda a: np.imag(vlinalg.sqrtm(a))[0, 0])(a)
    assert gradient.dtype == np.float64
    np.testing.assert_allclose(gradient, [[-0.5, 0.0], [0.0, 0.0]], atol=1e-12)
    symmetric = RNG.standard_normal((3, 3))
    symmetric = symmetric + symmetric.T - 2.0 * np.eye(3)
    assert np.linalg.eigvalsh(symmetric).min() < 0
    check_grads(vlinalg.sqrtm, [symmetric], order=2, rtol=1e-4)
    check_grads(vlinalg.sqrtm, [square(2, 3, 3) - 2.5 * np.eye(3)], order=2, rtol=1e-4)


def test_solve_sylvester_matches_scipy():
    a, b, q = square(3, 3), square(2, 2), RNG.standard_normal((3, 2))
    assert_same(vlinalg.solve_sylvester(a, b, q), linalg.solve_sylvester(a, b, q))
    check_grads(vlinalg.solve_sylvester, [a, b, q], order=2, rtol=1e-4)


autograd_linalg = pytest.importorskip("autograd.scipy.linalg")
import autograd  # noqa: E402
import autograd.numpy as anp  # noqa: E402


@pytest.mark.parametrize("name", ["solve_triangular", "sqrtm", "solve_sylvester"])
def test_gradients_match_hips_autograd(name):
    a, b, w = spd(3, 3), RNG.standard_normal((3, 2)), RNG.standard_normal((3, 2))
    if name == "solve_triangular":
        a = np.tril(a)
        f = lambda a: vlinalg.solve_triangular(a, b, lower=True)
        fa = lambda a: autograd_linalg.solve_triangular(a, b, lower=True)
        weights = w
    elif name == "sqrtm":
        f, fa, weights = vlinalg.sqrtm, autograd_linalg.sqrtm, RNG.standard_normal((3, 3))
    else:
        f = lambda a: vlinalg.solve_sylvester(a, a.T + 1.0, b[:, :1] * np.ones(3))
        fa = lambda a: autograd_linalg.solve_sylvester(a, a.T + 1.0, b[:, :1] * np.ones(3))
        weights = RNG.standard_normal((3, 3))
    ours = grad(lambda a: np.sum(f(a) * weights))(a)
    theirs = autograd.grad(lambda a: anp.sum(fa(a) * weights))(a)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


# --- odeint --------------------------------------------------------------------------------

def rhs(y, t, matrix, strength):
    return np.tanh(matrix @ y) * strength - 0.3 * y + np.sin(t)


TIGHT = dict(rtol=1e-11, atol=1e-11)


def test_odeint_matches_scipy_and_its_gradients_match_numeric():
    y0, t = RNG.standard_normal(3), np.linspace(0.0, 2.0, 5)
    matrix = RNG.standard_normal((3, 3))
    assert_same(vintegrate.odeint(rhs, y0, t, args=(matrix, 0.7), **TIGHT),
                scipy.integrate.odeint(rhs, y0, t, args=(matrix, 0.7), **TIGHT), rtol=1e-9)
    f = lambda y0, t, matrix, strength: vintegrate.odeint(rhs, y0, t, args=(matrix, strength),
                                                          **TIGHT)
    check_grads(f, [y0, t, matrix, np.array(0.7)], rtol=1e-5, atol=1e-7)


def test_odeint_linear_system_against_the_matrix_exponential():
    a, y0, t = RNG.standard_normal((2, 2)) * 0.5, RNG.standard_normal(2), np.array([0.0, 1.3])
    w = RNG.standard_normal(2)
    g = grad(lambda a: np.sum(vintegrate.odeint(lambda y, t, a: a @ y, y0, t, args=(a,),
                                                **TIGHT)[-1] * w))(a)
    expected = grad(lambda a: np.sum(vlinalg.expm(a * 1.3) @ y0 * w))(a)
    np.testing.assert_allclose(g, expected, rtol=1e-7)


def test_odeint_options_scalar_state_and_integer_args():
    t = np.linspace(1.0, 0.0, 4)   # backward in time
    f = lambda rate: vintegrate.odeint(lambda t, y, rate, power: -rate * y ** power, 1.5, t,
                                       args=(rate, 1), tfirst=True, **TIGHT)
    out = f(np.array(0.8))
    np.testing.assert_allclose(out[:, 0], 1.5 * np.exp(-0.8 * (t - 1.0)), rtol=1e-9)
    check_grads(f, [np.array(0.8)], rtol=1e-5)
    y0_32 = np.ones(2, np.float32)
    out, vjp_fn = vjpnet.vjp(lambda y0: vintegrate.odeint(lambda y, t: -y, y0, [0.0, 1.0]), y0_32)
    assert out.dtype == np.float32 and vjp_fn(np.ones_like(out))[0].dtype == np.float32


def test_odeint_args_may_be_pytrees():
    """args=(params,) with params a list of (W, b) tuples: func gets the same structure, and
    the gradient comes back in it (as for flat args)."""
    def mlp(y, t, params, scale):
        for weights, bias in params:
            y = np.tanh(y @ weights + bias)
        return y * scale["s"]

    y0, t = RNG.standard_normal(2), np.linspace(0.0, 1.0, 4)
    params = [(RNG.standard_normal((2, 5)), RNG.standard_normal(5)),
              (RNG.standard_normal((5, 2)), RNG.standard_normal(2))]
    scale = {"s": np.array(0.5)}

    def loss(params, scale):
        return np.sum(vintegrate.odeint(mlp, y0, t, args=(params, scale), **TIGHT) ** 2)

    def flat_loss(w1, b1, w2, b2, s):
        ys = vintegrate.odeint(lambda y, t, w1, b1, w2, b2, s: mlp(y, t, [(w1, b1), (w2, b2)],
                                                                  {"s": s}),
                               y0, t, args=(w1, b1, w2, b2, s), **TIGHT)
        return np.sum(ys ** 2)

    g_params, g_scale = grad(loss, argnums=(0, 1))(params, scale)
    expected = grad(flat_loss, argnums=(0, 1, 2, 3, 4))(*params[0], *params[1], scale["s"])
    assert isinstance(g_params, list) and isinstance(g_params[0], tuple)
    for ours, theirs in zip([*g_params[0], *g_params[1], g_scale["s"]], expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    check_grads(lambda s: loss(params, {"s": s}), [np.array(0.5)], rtol=1e-5)
    plain = vintegrate.odeint(mlp, y0, t, args=(params, scale), **TIGHT)
    assert_same(plain, scipy.integrate.odeint(mlp, y0, t, args=(params, scale), **TIGHT))


def test_odeint_gradients_match_hips_autograd():
    from autograd.scipy.integrate import odeint as autograd_odeint
    y0, t, matrix = RNG.standard_normal(3), np.linspace(0.0, 1.5, 4), RNG.standard_normal((3, 3))
    arhs = lambda y, t, matrix, strength: anp.tanh(anp.dot(matrix, y)) * strength - 0.3 * y + \
        anp.sin(t)
    w = RNG.standard_normal((4, 3))
    ours = grad(lambda y0, args: np.sum(vintegrate.odeint(rhs, y0, t, args=args, **TIGHT) * w),
                argnums=(0, 1))(y0, (matrix, np.array(0.7)))
    theirs = autograd.grad(lambda y0, args: anp.sum(autograd_odeint(arhs, y0, t, args, **TIGHT)
                                                    * w), argnum=(0, 1))(y0, (matrix,
                                                                              np.array(0.7)))
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-8)
    for mine, other in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(mine, other, rtol=1e-8)


def test_odeint_errors():
    rate = np.array(0.5)
    with pytest.raises(TypeError, match="not passed through args"):
        grad(lambda rate: np.sum(vintegrate.odeint(lambda y, t: -rate * y, np.ones(2),
                                                   [0.0, 1.0])))(rate)
    with pytest.raises(TypeError, match="full_output"):
        grad(lambda y0: np.sum(vintegrate.odeint(lambda y, t: -y, y0, [0.0, 1.0],
                                                 full_output=True)[0]))(np.ones(2))
    ys, info = vintegrate.odeint(lambda y, t: -y, np.ones(2), [0.0, 1.0], full_output=True)
    assert "nst" in info


def test_odeint_second_derivatives():
    y0, t = RNG.standard_normal(2), np.array([0.0, 0.5, 1.2])
    matrix = RNG.standard_normal((2, 2))
    f = lambda y0, t, matrix, strength: vintegrate.odeint(rhs, y0, t, args=(matrix, strength),
                                                          **TIGHT)
    check_grads(f, [y0, t, matrix, 0.7], order=2, rtol=1e-5, atol=1e-7, modes=("rev",))
    check_grads(f, [y0, t, matrix, np.array(0.7)], argnums=(0,), order=2, rtol=1e-5,
                atol=1e-7, modes=("fwd",))
    # y' = -k y: y(t) = y0 exp(-k t), so d2 y(t) / dk2 = t^2 y(t)
    decay = lambda k: vintegrate.odeint(lambda y, t, k: -k * y, np.array([1.5]), [0.0, 2.0],
                                        args=(k,), **TIGHT)[-1, 0]
    assert grad(grad(decay))(0.4) == pytest.approx(4.0 * 1.5 * np.exp(-0.8), rel=1e-7)


def banded(lower_count, upper_count, n):
    ab = RNG.standard_normal((lower_count + upper_count + 1, n))
    ab[upper_count] += 4.0   # the diagonal: well conditioned
    return ab


@pytest.mark.parametrize("l_and_u,b_shape", [((1, 1), (5,)), ((2, 1), (5, 2)),
                                             ((0, 2), (4, 3)), ((1, 0), (3,))])
def test_solve_banded_values_and_gradients(l_and_u, b_shape):
    ab = banded(*l_and_u, b_shape[0])
    b = RNG.standard_normal(b_shape)
    f = lambda ab, b: vlinalg.solve_banded(l_and_u, ab, b)
    out, vjp_fn = vjpnet.vjp(f, ab, b)
    np.testing.assert_allclose(out, linalg.solve_banded(l_and_u, ab, b), rtol=1e-12)
    np.testing.assert_allclose(f(ab, b), linalg.solve_banded(l_and_u, ab, b), rtol=1e-12)
    check_grads(f, (ab, b), order=2)
    # ab's corners lie outside the matrix: zero gradient there
    ab_bar = vjp_fn(np.ones(b_shape))[0]
    lower_count, upper_count = l_and_u
    for k in range(upper_count):
        assert np.all(ab_bar[k, :upper_count - k] == 0.0)
    for k in range(lower_count):
        assert np.all(ab_bar[upper_count + 1 + k, b_shape[0] - 1 - k:] == 0.0)


def test_solve_banded_errors_name_the_shapes():
    f = grad(lambda ab: np.sum(vlinalg.solve_banded((1, 1), ab, np.ones(4))))
    with pytest.raises(ValueError, match=r"solve_banded: ab must have shape .*\(3, n\).*\(2, 4\)"):
        f(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"solve_banded: b must have shape .*n = 5.*\(4,\)"):
        f(banded(1, 1, 5))
    with pytest.raises(TypeError, match="l_and_u must be a pair"):
        vlinalg.solve_banded(1, np.ones((3, 4)), np.ones(4))
