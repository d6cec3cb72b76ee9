"""scipy.special inside grad: the ufunc VJPs (registered lazily), vjpnet.scipy.special's
Python-level functions against SciPy's values, gradients against central differences and HIPS
autograd, and the errors (parameters without closed-form derivatives, uncovered functions,
SciPy functions that convert with np.asarray).

Every ufunc primitive is also checked from its spec by tests/test_registry.py (numeric VJP,
float32, second order); here are the cases a spec does not reach.
"""
import subprocess
import sys

import numpy as np
import pytest

sc = pytest.importorskip("scipy.special")
import scipy.linalg  # noqa: E402
import scipy.stats  # noqa: E402

import vjpnet  # noqa: E402
from vjpnet import grad  # noqa: E402
from vjpnet.gradient_check import check_grads  # noqa: E402
from vjpnet.scipy import special as vsc  # noqa: E402
from vjpnet.tape import NONDIFFERENTIABLE, UFUNC_PRIMITIVES  # noqa: E402

RNG = np.random.default_rng(0)


def assert_same(ours, theirs, rtol=1e-13):
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=0, equal_nan=True)
    assert np.shape(ours) == np.shape(theirs)


# --- registration --------------------------------------------------------------------------

def test_scipy_special_ufuncs_work_inside_grad_without_importing_vjpnet_scipy():
    code = (
        "import sys, numpy as np, vjpnet\n"
        "assert 'scipy' not in sys.modules, 'import vjpnet imported SciPy'\n"
        "import scipy.special\n"
        "assert 'vjpnet.scipy.special' not in sys.modules\n"
        "g = vjpnet.grad(lambda x: np.sum(scipy.special.gammaln(x)))(np.array([0.5, 2.0]))\n"
        "np.testing.assert_allclose(g, scipy.special.digamma([0.5, 2.0]))\n"
        "assert 'vjpnet.scipy.special' in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=str(__import__("pathlib").Path(__file__).parent.parent))
    assert result.returncode == 0, result.stderr


def test_every_exported_ufunc_is_routed():
    for name in vsc.__all__:
        function = getattr(vsc, name)
        if isinstance(function, np.ufunc):
            assert function in UFUNC_PRIMITIVES or function in NONDIFFERENTIABLE, name


# --- values against SciPy --------------------------------------------------------------------

LOGSUMEXP_CASES = [
    (RNG.standard_normal((3, 4)), {}),
    (RNG.standard_normal((3, 4)), {"axis": 0}),
    (RNG.standard_normal((2, 3, 4)), {"axis": (0, 2), "keepdims": True}),
    (RNG.standard_normal((3, 4)), {"axis": -1, "b": RNG.uniform(0.1, 2.0, 4)}),
    (np.array([0.0, -40.0]), {}),                                   # log1p precision
    (np.array([[1.0, 1.0, -np.inf], [-np.inf, -np.inf, -np.inf]]), {"axis": 1}),
    (np.array([[1.0, np.inf], [np.nan, 0.0]]), {"axis": 1}),
    (np.array([1.0, 2.0, 3.0]), {"b": np.array([1.0, 0.0, -0.5])}),
    (np.array([1.0, 2.0]), {"b": np.array([1.0, -1.0]), "return_sign": True}),
    (np.array([1.0, 2.0]), {"b": np.array([-1.0, 1.0])}),          # negative sum -> NaN
    (np.array([2.0, 2.0, 1.0]), {"b": np.array([1.0, -1.0, 1.0]), "return_sign": True}),
    (np.arange(5), {}),                                              # integers
    (RNG.standard_normal((3, 4)), {"axis": 1, "b": RNG.standard_normal((3, 1)),
                                   "return_sign": True}),
    (np.zeros((0, 3)), {"axis": 0}),
]


@pytest.mark.parametrize("a,kwargs", LOGSUMEXP_CASES)
def test_logsumexp_matches_scipy(a, kwargs):
    with np.errstate(all="ignore"):
        ours, theirs = vsc.logsumexp(a, **kwargs), sc.logsumexp(a, **kwargs)
    if kwargs.get("return_sign"):
        assert_same(ours[0], theirs[0])
        assert_same(ours[1], theirs[1])
    else:
        assert_same(ours, theirs)


@pytest.mark.parametrize("x,axis", [(RNG.standard_normal((3, 4)), None),
                                    (RNG.standard_normal((3, 4)), 1),
                                    (RNG.standard_normal((2, 3, 4)), (0, 2)),
                                    (np.array([1000.0, 1.0, -np.inf]), 0)])
def test_softmax_and_log_softmax_match_scipy(x, axis):
    with np.errstate(all="ignore"):
        assert_same(vsc.softmax(x, axis=axis), sc.softmax(x, axis=axis))
        assert_same(vsc.log_softmax(x, axis=axis), sc.log_softmax(x, axis=axis))


def test_polygamma_multigammaln_and_the_ufuncs_match_scipy():
    x = RNG.uniform(0.2, 5.0, (3, 4))
    for n in range(4):
        assert_same(vsc.polygamma(n, x), sc.polygamma(n, x))
    n = np.array([0, 1, 2, 3])
    assert_same(vsc.polygamma(n, x), sc.polygamma(n, x))
    for d in range(1, 5):
        a = RNG.uniform(2.0, 6.0, 3)
        assert_same(vsc.multigammaln(a, d), sc.multigammaln(a, d))
    assert_same(vsc.multigammaln(3.5, 3), sc.multigammaln(3.5, 3))
    with pytest.raises(ValueError, match="condition a"):
        vsc.multigammaln(np.array([0.8, 3.0]), 3)
    with pytest.raises(ValueError, match="positive integer"):
        vsc.multigammaln(3.0, 2.5)
    assert vsc.gammaln is sc.gammaln and vsc.softplus is sc.softplus


# --- gradients ------------------------------------------------------------------------------

def test_parameters_at_non_integer_values_and_second_order():
    """Specs use one parameter value; these vary them (orders, shapes, Box-Cox's lambda)."""
    x = RNG.uniform(0.2, 0.8, 5)
    z = RNG.uniform(0.5, 3.0, 5)
    cases = [
        lambda x: sc.betainc(0.6, 2.3, x) + sc.betaincc(3.1, 0.7, x),
        lambda x: sc.betaincinv(0.8, 1.7, x) + sc.gammaincinv(0.4, x),
        lambda z: sc.gammainc(0.7, z) * sc.gammaincc(4.2, z),
        lambda z: sc.iv(0.3, z) + sc.ive(2.7, z) + sc.jv(-1.4, z) + sc.yv(0.5, z),
        lambda z: sc.kv(0.2, z) + sc.kve(3.0, z) + sc.yn(3, z) + sc.jv(0, z),
        lambda z: vsc.polygamma(2, z) + vsc.polygamma(np.array([0, 1, 2, 3, 1]), z),
        lambda z: vsc.multigammaln(z + 2.0, 3),
        lambda z: sc.boxcox(z, 0.3) + sc.boxcox(z, 1e-3) + sc.boxcox(z, 0.0),
        lambda z: sc.boxcox1p(z, -0.4) + sc.inv_boxcox(z, 0.5) + sc.inv_boxcox1p(z, 0.0),
        lambda z: sc.stdtr(2.5, z - 1.5) + sc.stdtr(np.inf, z) + sc.chdtr(1.5, z),
        lambda z: sc.pdtr(2, z) + sc.pdtrc(np.array([0, 1, 4, 2, 3]), z),
        lambda z: sc.zeta(3.5, z) + sc.zeta(2.0, z + 1.0),
    ]
    for index, f in enumerate(cases):
        argument = x if index < 2 else z
        check_grads(f, [argument], order=2, rtol=1e-4, atol=1e-7)


def test_box_cox_lambda_derivative_is_smooth_through_zero():
    x = np.array([0.5, 1.7, 3.0])
    for f in (sc.boxcox, sc.boxcox1p, sc.inv_boxcox, sc.inv_boxcox1p):
        for lmbda in (-0.05, -1e-3, -1e-6, 0.0, 1e-6, 1e-3, 0.05, 0.5):
            check_grads(lambda lmbda: f(x, lmbda), [np.full(3, lmbda)], rtol=1e-6, atol=1e-9)


def test_logsumexp_gradients_with_weights_signs_and_axes():
    a, b = RNG.standard_normal((3, 4)), RNG.uniform(0.5, 2.0, 4)
    check_grads(lambda a, b: vsc.logsumexp(a, axis=1, b=b), [a, b], order=2)
    check_grads(lambda a: vsc.logsumexp(a, axis=(0, 1), keepdims=True), [a], order=2)
    signed_b = np.array([1.0, -0.5, 2.0, -0.25])
    check_grads(lambda a, b: vsc.logsumexp(a, axis=-1, b=b, return_sign=True)[0],
                [a, signed_b], order=2)
    tied = np.array([1.0, 1.0, 0.5])   # tied maxima with unequal weights
    check_grads(lambda a, b: vsc.logsumexp(a, b=b), [tied, np.array([0.5, 2.0, 1.0])])
    check_grads(lambda x: vsc.softmax(x, axis=0) * np.arange(3.0)[:, None], [a[:3, :2]],
                order=2)
    check_grads(lambda x: vsc.log_softmax(x, axis=1), [a], order=2)


autograd_special = pytest.importorskip("autograd.scipy.special")
import autograd  # noqa: E402
import autograd.numpy as anp  # noqa: E402

AUTOGRAD_CASES = {   # name -> (vjpnet/SciPy function, autograd function, sample x)
    "gammaln": (sc.gammaln, None, RNG.uniform(0.2, 4.0, 6)),
    "gamma": (sc.gamma, None, RNG.uniform(0.2, 4.0, 6)),
    "rgamma": (sc.rgamma, None, RNG.uniform(0.2, 4.0, 6)),
    "digamma": (sc.digamma, None, RNG.uniform(0.2, 4.0, 6)),
    "psi": (sc.psi, None, RNG.uniform(0.2, 4.0, 6)),
    "erf": (sc.erf, None, RNG.standard_normal(6)),
    "erfc": (sc.erfc, None, RNG.standard_normal(6)),
    "erfinv": (sc.erfinv, None, RNG.uniform(-0.9, 0.9, 6)),
    "erfcinv": (sc.erfcinv, None, RNG.uniform(0.1, 1.9, 6)),
    "expit": (sc.expit, None, RNG.standard_normal(6)),
    "logit": (sc.logit, None, RNG.uniform(0.1, 0.9, 6)),
    "i0": (sc.i0, None, RNG.standard_normal(6)),
    "i1": (sc.i1, None, RNG.standard_normal(6)),
    "j0": (sc.j0, None, RNG.standard_normal(6)),
    "j1": (sc.j1, None, RNG.standard_normal(6)),
    "y0": (sc.y0, None, RNG.uniform(0.3, 4.0, 6)),
    "y1": (sc.y1, None, RNG.uniform(0.3, 4.0, 6)),
    "polygamma": (lambda x: vsc.polygamma(2, x), lambda x: autograd_special.polygamma(2, x),
                  RNG.uniform(0.3, 4.0, 6)),
    "multigammaln": (lambda x: vsc.multigammaln(x, 3),
                     lambda x: autograd_special.multigammaln(x, 3), RNG.uniform(1.5, 4.0, 6)),
    "beta": (lambda x: sc.beta(x, 1.7), lambda x: autograd_special.beta(x, 1.7),
             RNG.uniform(0.3, 3.0, 6)),
    "betaln": (lambda x: sc.betaln(2.2, x), lambda x: autograd_special.betaln(2.2, x),
               RNG.uniform(0.3, 3.0, 6)),
    "betainc": (lambda x: sc.betainc(1.3, 2.4, x), lambda x: autograd_special.betainc(1.3, 2.4, x),
                RNG.uniform(0.1, 0.9, 6)),
    "gammainc": (lambda x: sc.gammainc(1.6, x), lambda x: autograd_special.gammainc(1.6, x),
                 RNG.uniform(0.3, 4.0, 6)),
    "gammaincc": (lambda x: sc.gammaincc(1.6, x), lambda x: autograd_special.gammaincc(1.6, x),
                  RNG.uniform(0.3, 4.0, 6)),
    "iv": (lambda x: sc.iv(1.5, x), lambda x: autograd_special.iv(1.5, x),
           RNG.uniform(0.3, 3.0, 6)),
    "ive": (lambda x: sc.ive(1.5, x), lambda x: autograd_special.ive(1.5, x),
            RNG.uniform(0.3, 3.0, 6)),
    "jn": (lambda x: sc.jv(2, x), lambda x: autograd_special.jn(2, x), RNG.uniform(0.3, 3.0, 6)),
    "yn": (lambda x: sc.yn(2, x), lambda x: autograd_special.yn(2, x), RNG.uniform(0.3, 3.0, 6)),
    "logsumexp": (lambda x: vsc.logsumexp(x.reshape(2, 3), axis=1),
                  lambda x: autograd_special.logsumexp(x.reshape(2, 3), axis=1),
                  RNG.standard_normal(6)),
}


@pytest.mark.parametrize("name", sorted(AUTOGRAD_CASES))
def test_gradients_match_hips_autograd(name):
    f, f_autograd, x = AUTOGRAD_CASES[name]
    f_autograd = f_autograd or getattr(autograd_special, name)
    weights = RNG.standard_normal(np.shape(f(x)))
    ours = grad(lambda x: np.sum(f(x) * weights))(x)
    theirs = autograd.grad(lambda x: anp.sum(f_autograd(x) * weights))(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    # second order: a Hessian-vector product
    v = RNG.standard_normal(x.shape)
    ours = grad(lambda x: np.sum(grad(lambda x: np.sum(f(x) * weights))(x) * v))(x)
    theirs = autograd.grad(
        lambda x: anp.sum(autograd.grad(lambda x: anp.sum(f_autograd(x) * weights))(x) * v))(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)


# --- dtypes and broadcasting -----------------------------------------------------------------

def test_result_dtypes_as_scipy_and_broadcasting_matches_scipy():
    """float32 stays float32 where SciPy keeps it; beside a Python number or an integer
    parameter SciPy's ufuncs pick their float64 loop, and so does vjpnet (the cotangent of the
    float32 input is float32 either way)."""
    x32 = RNG.uniform(0.3, 3.0, (2, 3)).astype(np.float32)
    for f in (sc.gammaln, lambda x: sc.gammainc(2.5, x), lambda x: sc.yn(2, x),
              lambda x: vsc.logsumexp(x, axis=0), lambda x: vsc.polygamma(1, x),
              lambda x: sc.beta(x, 2.5), lambda x: sc.xlogy(2, x),
              lambda x: sc.xlogy(x, np.float32(0.5)), lambda x: sc.beta(x, x)):
        out, vjp_fn = vjpnet.vjp(f, x32)
        assert out.dtype == np.asarray(f(x32)).dtype
        assert vjp_fn(np.ones_like(out))[0].dtype == np.float32
    assert vjpnet.vjp(lambda x: sc.xlogy(x, 0.5), x32)[0].dtype == np.float64   # as SciPy
    assert vjpnet.vjp(sc.gammaln, x32)[0].dtype == np.float32
    a, b = RNG.uniform(0.5, 2.0, (3, 1)), RNG.uniform(0.5, 2.0, 4)
    out, (da, db) = vjpnet.value_and_grad(lambda a, b: np.sum(sc.beta(a, b)), argnums=(0, 1))(a, b)
    np.testing.assert_allclose(out, np.sum(sc.beta(a, b)))
    assert da.shape == (3, 1) and db.shape == (4,)
    check_grads(lambda a, b: sc.xlogy(a, b) + sc.betainc(2.0, 3.0, b / 3.0), [a, b])


def _python_float_cases():
    """(name, ufunc, Python-float arguments from the primitive's spec, position) for every
    differentiable input of every scipy.special ufunc primitive."""
    import vjpnet.scipy.special  # noqa: F401  (registers every ufunc)
    rng = np.random.default_rng(3)
    cases = []
    for ufunc, primitive in UFUNC_PRIMITIVES.items():
        if getattr(primitive, "public_name", "").startswith("scipy.special.") and \
                primitive.spec is not None:
            samples = primitive.spec(rng)
            sample = (samples if isinstance(samples, list) else [samples])[0]
            args = [float(np.real(np.asarray(a).flat[0])) for a in sample.args]
            for position in range(len(args)):
                if position not in primitive.nondiff_argnums:
                    cases.append((f"{ufunc.__name__}-{position}", ufunc, args, position))
    return cases


@pytest.mark.parametrize("name, ufunc, args, position", _python_float_cases(),
                         ids=[case[0] for case in _python_float_cases()])
def test_ufuncs_of_traced_python_floats(name, ufunc, args, position):
    """A traced Python float (an input, or x * x + 0.5 of one) is a differentiable scalar."""
    def f(x):
        return ufunc(*args[:position], x, *args[position + 1:])
    g = grad(f)(args[position])
    assert type(g) is float
    check_grads(f, [args[position]], order=2)


def test_xlogy_and_entr_at_zero_give_finite_gradients():
    y = np.array([0.5, 2.0])
    g = grad(lambda y: np.sum(sc.xlogy(np.array([0.0, 1.0]), y)))(y)
    np.testing.assert_allclose(g, [0.0, 0.5])
    g = grad(lambda y: np.sum(sc.xlog1py(np.array([0.0, 2.0]), y)))(np.array([-1.0, 1.0]))
    np.testing.assert_allclose(g, [0.0, 1.0])
    g = grad(lambda x: np.sum(sc.entr(x)))(np.array([-1.0, 0.5]))
    np.testing.assert_allclose(g, [0.0, -(np.log(0.5) + 1.0)])


# --- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("call,argument", [
    (lambda x: sc.gammainc(x, 2.0), "a"),
    (lambda x: sc.betainc(1.0, x, 0.5), "b"),
    (lambda x: sc.jv(x, 2.0), "v"),
    (lambda x: sc.yn(x, 2.0), "n"),
    (lambda x: sc.zeta(x, 2.0), "x"),
    (lambda x: sc.stdtr(x, 0.3), "df"),
    (lambda x: vsc.polygamma(x, 2.0), "n"),
    (lambda x: vsc.multigammaln(3.0, x), "d"),
])
def test_parameters_without_a_derivative_raise_naming_the_argument(call, argument):
    with pytest.raises(TypeError, match=rf"\b{argument} is traced") as info:
        grad(lambda x: np.sum(call(x)))(np.array(2.0))
    assert "vjpnet" in str(info.value)


def test_uncovered_ufuncs_name_their_scipy_module():
    with pytest.raises(TypeError, match=r"(?s)scipy\.special\.spence has no registered VJP.*"
                                        r"vjpnet\.register_ufunc\(scipy\.special\.spence"):
        grad(lambda x: np.sum(sc.spence(x)))(np.ones(2))


@pytest.mark.parametrize("call,replacement", [
    (lambda x: sc.logsumexp(x), "vjpnet.scipy.special.logsumexp"),
    (lambda x: sc.polygamma(1, x), "vjpnet.scipy.special.polygamma"),
    (lambda x: scipy.stats.norm.logpdf(x, 1.0), "vjpnet.scipy.stats.norm.logpdf"),
    (lambda x: scipy.stats.gamma(2.0).cdf(x), "vjpnet.scipy.stats.gamma.cdf"),
    (lambda x: scipy.stats.multivariate_normal.logpdf(x, np.zeros(2)),
     "vjpnet.scipy.stats.multivariate_normal.logpdf"),
    (lambda x: scipy.linalg.solve_triangular(np.eye(2), x), "vjpnet.scipy.linalg.solve_triangular"),
    (lambda x: scipy.linalg.expm(np.outer(x, x)), "vjpnet.scipy.linalg.expm"),
])
def test_asarray_inside_scipy_names_the_vjpnet_replacement(call, replacement):
    with pytest.raises(TypeError, match="cannot be converted") as info:
        grad(lambda x: np.sum(call(x)))(np.array([0.5, 1.5]))
    assert f"use {replacement} instead" in str(info.value)


def test_asarray_inside_uncovered_scipy_code_says_so():
    with pytest.raises(TypeError, match=r"inside scipy\.stats\.weibull_min\.logpdf, which "
                                        r"vjpnet\.scipy does not cover"):
        grad(lambda x: np.sum(scipy.stats.weibull_min.logpdf(x, 2.0)))(np.ones(2))
    with pytest.raises(TypeError) as info:   # outside SciPy: no hint
        grad(lambda x: np.sum(np.asarray(x)))(np.ones(2))
    assert "The conversion happened inside" not in str(info.value)


def test_gammasgn_gives_a_plain_result_and_no_gradient():
    x = np.array([0.5, -0.5, -1.5, 3.0])
    assert list(vsc.gammasgn(x)) == [1.0, -1.0, 1.0, 1.0]
    np.testing.assert_array_equal(grad(lambda x: np.sum(sc.gammasgn(x) * x))(x), sc.gammasgn(x))
    np.testing.assert_array_equal(vjpnet.elementwise_grad(sc.gammasgn)(x), np.zeros(4))


def test_python_float_arguments():
    for f, expected in [(lambda x: vsc.logsumexp(x), 1.0),
                        (lambda x: vsc.logsumexp(x, b=2.0, return_sign=True)[0], 1.0),
                        (lambda x: vsc.logsumexp(np.stack([x, 2.0 * x])), None),
                        (lambda x: vsc.softmax(x), 0.0)]:
        gradient = grad(f)(0.6)
        if expected is not None:
            assert gradient == pytest.approx(expected)
        check_grads(f, (0.6,), order=2)
