"""vjpnet.scipy.stats: values against scipy.stats (inside and outside the support, invalid
parameters, broadcasting, frozen distributions), gradients against central differences (first
and second order) and HIPS autograd, float32, and the errors."""
import numpy as np
import pytest

stats = pytest.importorskip("scipy.stats")

import vjpnet  # noqa: E402
from vjpnet import grad  # noqa: E402
from vjpnet.gradient_check import check_grads  # noqa: E402
from vjpnet.scipy import stats as vstats  # noqa: E402

RNG = np.random.default_rng(0)
METHODS = ("pdf", "logpdf", "cdf", "logcdf", "sf", "logsf")

# name -> (shape parameters, a grid of data crossing the support's ends)
CONTINUOUS = {
    "norm": ((), np.linspace(-6.0, 6.0, 13)),
    "t": ((3.5,), np.linspace(-6.0, 6.0, 13)),
    "gamma": ((2.5,), np.linspace(-1.0, 9.0, 11)),
    "beta": ((2.0, 3.5), np.linspace(-0.2, 1.2, 15)),
    "chi2": ((3.0,), np.linspace(-1.0, 9.0, 11)),
    "expon": ((), np.linspace(-1.0, 9.0, 11)),
    "laplace": ((), np.linspace(-9.0, 9.0, 13)),
    "cauchy": ((), np.linspace(-9.0, 9.0, 13)),
    "logistic": ((), np.linspace(-9.0, 9.0, 13)),
}


def assert_same(ours, theirs, rtol=1e-12):
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=1e-300, equal_nan=True)
    assert np.shape(ours) == np.shape(theirs)


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
@pytest.mark.parametrize("method", METHODS)
def test_continuous_values_match_scipy(name, method):
    shapes, x = CONTINUOUS[name]
    ours, theirs = getattr(getattr(vstats, name), method), getattr(getattr(stats, name), method)
    with np.errstate(all="ignore"):
        assert_same(ours(x, *shapes), theirs(x, *shapes))
        assert_same(ours(x, *shapes, loc=0.5, scale=2.0), theirs(x, *shapes, loc=0.5, scale=2.0))
        # broadcasting: data (13, 1) against loc (3,), a scalar scale
        loc = np.array([-0.5, 0.0, 1.0])
        assert_same(ours(x[:, None], *shapes, loc, 1.5), theirs(x[:, None], *shapes, loc, 1.5))
        # invalid scale or shape gives NaN, a NaN datum gives NaN
        bad = np.array([2.0, -1.0, 0.0])
        assert_same(ours(0.5, *shapes, scale=bad), theirs(0.5, *shapes, scale=bad))
        if shapes:
            bad_shapes = (np.array([shapes[0], -1.0]),) + shapes[1:]
            assert_same(ours(0.5, *bad_shapes), theirs(0.5, *bad_shapes))
        assert_same(ours(np.array([np.nan, 0.5]), *shapes), theirs(np.array([np.nan, 0.5]),
                                                                     *shapes))
        # scalars give NumPy scalars, as in SciPy
        scalar = ours(0.5, *shapes)
        assert np.ndim(scalar) == 0 and not isinstance(scalar, np.ndarray)


def test_shape_parameters_broadcast_like_scipy():
    x = np.linspace(0.05, 0.95, 4)[:, None, None]
    a, b = np.array([0.5, 2.0]), np.array([[1.5], [3.0], [7.0]])
    for method in METHODS:
        with np.errstate(all="ignore"):
            assert_same(getattr(vstats.beta, method)(x, a, b), getattr(stats.beta, method)(x, a, b))
    df = np.array([1.0, 2.5, np.inf])
    assert_same(vstats.t.logpdf(np.linspace(-3, 3, 4)[:, None], df),
                stats.t.logpdf(np.linspace(-3, 3, 4)[:, None], df))


@pytest.mark.parametrize("method", ("pmf", "logpmf", "cdf", "logcdf", "sf", "logsf"))
def test_poisson_values_match_scipy(method):
    k = np.array([-1.0, 0.0, 1.0, 2.5, 3.0, 10.0, np.nan, np.inf])
    ours, theirs = getattr(vstats.poisson, method), getattr(stats.poisson, method)
    with np.errstate(all="ignore"):
        for mu in (2.5, np.array([[0.0], [0.7], [-1.0]])):
            # (SciPy's logcdf gives 0, not NaN, at k = inf for an invalid mu; so leave that out)
            data = k if np.ndim(mu) == 0 else k[:-1]
            assert_same(ours(data, mu), theirs(data, mu))
        assert_same(ours(np.arange(6), 1.5, loc=2), theirs(np.arange(6), 1.5, loc=2))


def test_frozen_distributions_match():
    x = np.linspace(0.5, 4.0, 5)
    for frozen, plain in [(vstats.gamma(2.0, scale=1.5), stats.gamma(2.0, scale=1.5)),
                          (vstats.norm(1.0, 2.0), stats.norm(1.0, 2.0)),
                          (vstats.poisson(3.0), stats.poisson(3.0))]:
        for method in ("logpdf", "cdf", "sf") if frozen.dist is not vstats.poisson else \
                ("logpmf", "pmf", "cdf"):
            assert_same(getattr(frozen, method)(x), getattr(plain, method)(x))
    g = grad(lambda scale: vstats.norm(0.3, scale).logpdf(x).sum())(2.0)
    np.testing.assert_allclose(g, np.sum(-1.0 / 2.0 + (x - 0.3) ** 2 / 2.0 ** 3))


# --- gradients ------------------------------------------------------------------------------

DIFFERENTIABLE = {   # name -> (data inside the support, shape parameters, cdf differentiable)
    "norm": (RNG.standard_normal(4), (), True),
    "t": (RNG.standard_normal(4), (np.array(3.5),), False),
    "gamma": (RNG.uniform(0.5, 4.0, 4), (np.array(2.5),), False),
    "beta": (RNG.uniform(0.1, 0.9, 4), (np.array(2.0), np.array(3.5)), False),
    "chi2": (RNG.uniform(0.5, 4.0, 4), (np.array(3.0),), False),
    "expon": (RNG.uniform(0.5, 4.0, 4), (), True),
    "laplace": (np.array([-1.3, -0.2, 0.4, 2.0]), (), True),
    "cauchy": (np.array([-3.0, -0.5, 0.4, 2.0]), (), True),
    "logistic": (RNG.standard_normal(4), (), True),
}


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_density_gradients_in_data_shapes_loc_scale(name):
    x, shapes, _ = DIFFERENTIABLE[name]
    distribution = getattr(vstats, name)
    loc, scale = np.array(0.1), np.array(1.3)
    for method in ("logpdf", "pdf"):
        f = lambda x, loc, scale, *shapes: getattr(distribution, method)(x, *shapes, loc, scale)
        check_grads(f, [x, loc, scale, *shapes], order=2, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_cdf_gradients_in_data_loc_scale_and_closed_form_shapes(name):
    x, shapes, shapes_differentiable = DIFFERENTIABLE[name]
    distribution = getattr(vstats, name)
    for method in ("cdf", "logcdf", "sf", "logsf"):
        if shapes_differentiable:
            f = lambda x, loc, scale, *shapes: getattr(distribution, method)(x, *shapes, loc,
                                                                               scale)
            check_grads(f, [x, np.array(0.1), np.array(1.3), *shapes], order=2, rtol=1e-4)
        else:
            f = lambda x, loc, scale: getattr(distribution, method)(x, *shapes, loc, scale)
            check_grads(f, [x, np.array(0.1), np.array(1.3)], order=2, rtol=1e-4)
            with pytest.raises(TypeError, match="has no closed form"):
                grad(lambda s: np.sum(getattr(distribution, method)(x, s, *shapes[1:])))(
                    shapes[0])


def test_poisson_gradients_in_mu():
    k = np.array([0.0, 1.0, 3.0, 7.0])
    for method in ("logpmf", "pmf", "cdf", "logcdf", "sf", "logsf"):
        check_grads(lambda mu: getattr(vstats.poisson, method)(k, mu), [np.array(2.5)], order=2)
    with pytest.raises(TypeError, match="counts"):
        grad(lambda k: np.sum(vstats.poisson.logpmf(k, 2.0)))(k)


def test_no_nan_gradients_outside_the_support_or_at_invalid_parameters():
    # (not at an end of the support itself: the one-sided slope may be infinite there)
    x = np.array([-1.0, -0.1, 0.5, 1.5])
    for f in (lambda x: vstats.gamma.pdf(x, 0.7), lambda x: vstats.beta.pdf(x / 2.0, 2.0, 2.0),
              lambda x: vstats.expon.cdf(x) + vstats.expon.sf(x),
              lambda x: vstats.chi2.logcdf(x + 1.5, 3.0)):
        g = grad(lambda x: np.sum(f(x)))(x)
        assert np.all(np.isfinite(g)), g
    def finite_part(scale):
        out = vstats.norm.logpdf(x, 0.0, scale)
        return np.sum(np.where(np.isnan(out), 0.0, out))
    g = grad(finite_part)(np.array([1.0, -1.0, 2.0, 0.0]))
    assert np.all(np.isfinite(g)) and g[1] == 0 and g[3] == 0


def test_float32_in_float32_out():
    x32 = RNG.uniform(0.5, 2.0, 5).astype(np.float32)
    for f in (lambda x: vstats.norm.logpdf(x, 0.5, 2.0), lambda x: vstats.gamma.logcdf(x, 2.5),
              lambda x: vstats.t.sf(x, 3.0), lambda x: vstats.beta.pdf(x / 3.0, 2.0, 3.0),
              lambda x: vstats.poisson.logpmf(3, x)):
        out, vjp_fn = vjpnet.vjp(f, x32)
        assert out.dtype == np.float32 and vjp_fn(np.ones_like(out))[0].dtype == np.float32


# --- multivariate ---------------------------------------------------------------------------

def _spd(n):
    b = RNG.standard_normal((n, n))
    return b @ b.T + n * np.eye(n)


MVN_CASES = [
    (RNG.standard_normal(3), None, _spd(3)),
    (RNG.standard_normal((5, 3)), RNG.standard_normal(3), _spd(3)),
    (RNG.standard_normal((2, 4, 3)), RNG.standard_normal(3), RNG.uniform(0.5, 2.0, 3)),
    (RNG.standard_normal((4, 2)), np.zeros(2), 1.7),
    (RNG.standard_normal(4), 0.5, 2.0),                     # one dimension, four points
    (0.3, None, 1),
]


@pytest.mark.parametrize("x,mean,cov", MVN_CASES)
def test_multivariate_normal_matches_scipy(x, mean, cov):
    assert_same(vstats.multivariate_normal.logpdf(x, mean, cov),
                stats.multivariate_normal.logpdf(x, mean, cov))
    assert_same(vstats.multivariate_normal.pdf(x, mean=mean, cov=cov),
                stats.multivariate_normal.pdf(x, mean=mean, cov=cov))
    assert_same(vstats.multivariate_normal(mean, cov).logpdf(x),
                stats.multivariate_normal(mean, cov).logpdf(x))


def test_multivariate_normal_gradients():
    x, mean = RNG.standard_normal((5, 3)), RNG.standard_normal(3)
    factor = RNG.standard_normal((3, 3))
    f = lambda x, mean, factor: vstats.multivariate_normal.logpdf(
        x, mean, factor @ factor.T + 3.0 * np.eye(3))
    check_grads(f, [x, mean, factor], order=2, rtol=1e-4)
    check_grads(lambda x, d: vstats.multivariate_normal.logpdf(x, np.zeros(3), d),
                [x, np.ones(3) * 1.5], order=2, rtol=1e-4)
    check_grads(lambda x, s: vstats.multivariate_normal.pdf(x, np.zeros(3), s),
                [x, np.array(1.5)], order=2, rtol=1e-4)
    # the cov gradient is symmetric: the derivative of f((cov + cov^T) / 2)
    cov = _spd(3)
    g = grad(lambda cov: np.sum(vstats.multivariate_normal.logpdf(x, mean, cov)))(cov)
    np.testing.assert_allclose(g, g.T, rtol=1e-12)
    inverse = np.linalg.inv(cov)
    deviations = x - mean
    expected = -0.5 * (len(x) * inverse - inverse @ deviations.T @ deviations @ inverse)
    np.testing.assert_allclose(g, expected, rtol=1e-10)


def test_multivariate_normal_errors():
    with pytest.raises(np.linalg.LinAlgError, match="positive definite"):
        vstats.multivariate_normal.logpdf(np.zeros(2), cov=np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="Dimension mismatch"):
        vstats.multivariate_normal.logpdf(np.zeros(2), np.zeros(2), np.eye(3))
    with pytest.raises(TypeError, match="allow_singular=True is differentiable in x and mean"):
        grad(lambda c: vstats.multivariate_normal.logpdf(np.zeros(2), cov=c,
                                                         allow_singular=True))(np.eye(2))
    singular = np.array([[1.0, 1.0], [1.0, 1.0]])
    assert_same(vstats.multivariate_normal.logpdf(np.ones(2), cov=singular, allow_singular=True),
                stats.multivariate_normal.logpdf(np.ones(2), cov=singular, allow_singular=True))


def test_dirichlet_matches_scipy_and_differentiates():
    alpha = np.array([0.7, 2.0, 3.5])
    x = RNG.dirichlet(alpha, 4).T            # (3, 4): components first
    for method in ("logpdf", "pdf"):
        assert_same(getattr(vstats.dirichlet, method)(x, alpha),
                    getattr(stats.dirichlet, method)(x, alpha))
        assert_same(getattr(vstats.dirichlet, method)(x[:2], alpha),
                    getattr(stats.dirichlet, method)(x[:2], alpha), rtol=1e-10)
        assert_same(getattr(vstats.dirichlet, method)(x[:, 0], alpha),
                    getattr(stats.dirichlet, method)(x[:, 0], alpha))
    check_grads(lambda x, alpha: vstats.dirichlet.logpdf(x, alpha), [x[:2], alpha], order=2,
                rtol=1e-4)
    with pytest.raises(ValueError, match="greater than 0"):
        vstats.dirichlet.logpdf(x, -alpha)
    with pytest.raises(ValueError, match="simplex"):
        vstats.dirichlet.logpdf(x * 0.9, alpha)


# --- against HIPS autograd ------------------------------------------------------------------

autograd_stats = pytest.importorskip("autograd.scipy.stats")
import autograd  # noqa: E402
import autograd.numpy as anp  # noqa: E402

AUTOGRAD_CASES = [   # (name, method, args before the differentiated one, args after)
    ("norm", "logpdf", (), (0.3, 1.7)), ("norm", "pdf", (), (0.3, 1.7)),
    ("norm", "cdf", (), (0.3, 1.7)), ("norm", "logcdf", (), (0.3, 1.7)),
    ("norm", "sf", (), (0.3, 1.7)), ("norm", "logsf", (), (0.3, 1.7)),
    ("t", "logpdf", (), (3.5, 0.3, 1.7)), ("t", "cdf", (), (3.5, 0.3, 1.7)),
    ("gamma", "logpdf", (), (2.5,)), ("gamma", "cdf", (), (2.5,)),
    ("beta", "logpdf", (), (2.0, 3.0)), ("beta", "cdf", (), (2.0, 3.0)),
    ("chi2", "logpdf", (), (3.0,)), ("chi2", "cdf", (), (3.0,)),
    ("poisson", "logpmf", (np.array([0.0, 2.0, 5.0]),), ()),
    ("poisson", "cdf", (np.array([0.0, 2.0, 5.0]),), ()),
]


@pytest.mark.parametrize("name,method,before,after", AUTOGRAD_CASES,
                         ids=[f"{c[0]}.{c[1]}" for c in AUTOGRAD_CASES])
def test_gradients_match_hips_autograd(name, method, before, after):
    x = RNG.uniform(0.2, 0.8, 3) if name == "beta" else RNG.uniform(0.3, 3.0, 3)
    ours = grad(lambda x: np.sum(getattr(getattr(vstats, name), method)(*before, x, *after)))(x)
    theirs = autograd.grad(lambda x: anp.sum(getattr(getattr(autograd_stats, name), method)(
        *before, x, *after)))(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)


def test_multivariate_gradients_match_hips_autograd():
    x, mean, cov = RNG.standard_normal((4, 3)), RNG.standard_normal(3), _spd(3)
    from autograd.scipy.stats import dirichlet, multivariate_normal
    for argnum in (0, 1, 2):
        ours = grad(lambda *a: np.sum(vstats.multivariate_normal.logpdf(*a)), argnums=argnum)(
            x, mean, cov)
        theirs = autograd.grad(lambda *a: anp.sum(multivariate_normal.logpdf(*a)), argnum)(
            x, mean, cov)
        np.testing.assert_allclose(ours, 0.5 * (theirs + theirs.T) if argnum == 2 else theirs,
                                   rtol=1e-9)
    alpha, p = np.array([0.7, 2.0, 3.5]), RNG.dirichlet([0.7, 2.0, 3.5])
    for argnum in (0, 1):
        ours = grad(vstats.dirichlet.logpdf, argnums=argnum)(p, alpha)
        theirs = autograd.grad(dirichlet.logpdf, argnum)(p, alpha)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9)


# --- argument errors ------------------------------------------------------------------------

def test_argument_errors_name_the_method():
    with pytest.raises(TypeError, match=r"gamma\.logpdf\(\) missing required argument.*: a"):
        vstats.gamma.logpdf(1.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'shape'"):
        vstats.norm.cdf(1.0, shape=2.0)
    with pytest.raises(TypeError, match="multiple values for argument 'loc'"):
        vstats.norm.pdf(1.0, 0.0, loc=1.0)
    with pytest.raises(TypeError, match="at most"):
        vstats.norm.pdf(1.0, 0.0, 1.0, 2.0)


def test_norm_quantiles_match_scipy_and_differentiate():
    q = np.array([0.0, 0.05, 0.5, 0.9, 1.0, 1.5, np.nan])
    for method in ("ppf", "isf"):
        ours, theirs = getattr(vstats.norm, method), getattr(stats.norm, method)
        np.testing.assert_allclose(ours(q, 0.5, 2.0), theirs(q, 0.5, 2.0))
        np.testing.assert_allclose(ours(q[:, None], np.zeros(2), [1.0, -1.0]),
                                   theirs(q[:, None], np.zeros(2), [1.0, -1.0]))
        assert np.isscalar(ours(0.3)) and ours(0.3) == pytest.approx(theirs(0.3))
        assert ours(np.float32([0.3])).dtype == np.float32
        check_grads(lambda q, loc, scale: ours(q, loc, scale),
                    (RNG.uniform(0.05, 0.95, (3, 2)), RNG.standard_normal((1, 2)),
                     RNG.uniform(0.5, 2.0, (3, 1))), order=2)
    # ppf inverts cdf, so their derivatives are reciprocal
    x = 0.7
    q = vstats.norm.cdf(x)
    assert grad(vstats.norm.ppf)(q) == pytest.approx(1.0 / grad(vstats.norm.cdf)(x))


def test_multivariate_normal_entropy():
    cov = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, 0.2], [0.1, 0.2, 1.5]])
    for c in (cov, np.diag(cov), 1.7):
        assert vstats.multivariate_normal.entropy(np.zeros(3), c) == pytest.approx(
            stats.multivariate_normal.entropy(np.zeros(3), c))
    # d/dcov of 0.5 log det(cov) is inv(cov) / 2 (cov read as symmetric)
    gradient = grad(lambda c: vstats.multivariate_normal.entropy(None, c))(cov)
    np.testing.assert_allclose(gradient, np.linalg.inv(cov) / 2.0, rtol=1e-10)
    check_grads(lambda c: vstats.multivariate_normal.entropy(None, (c + c.T) / 2.0), (cov,),
                order=2, modes=("rev",))


def test_samplers_are_scipys_and_refuse_traced_parameters():
    np.testing.assert_array_equal(vstats.dirichlet.rvs([1.0, 2.0], size=3, random_state=0),
                                  stats.dirichlet.rvs([1.0, 2.0], size=3, random_state=0))
    np.testing.assert_array_equal(
        vstats.multivariate_normal.rvs(np.zeros(2), np.eye(2), size=2, random_state=1),
        stats.multivariate_normal.rvs(np.zeros(2), np.eye(2), size=2, random_state=1))
    np.testing.assert_array_equal(vstats.gamma.rvs(2.0, size=3, random_state=2),
                                  stats.gamma.rvs(2.0, size=3, random_state=2))
    for sample in (lambda a: vstats.dirichlet.rvs(a)[0, 0],
                   lambda a: vstats.multivariate_normal.rvs(a, np.eye(2))[0],
                   lambda a: vstats.norm.rvs(a[0])):
        with pytest.raises(TypeError, match="sampling is not differentiable"):
            grad(sample)(np.array([1.0, 2.0]))


def test_multivariate_normal_allow_singular_differentiates_x_and_mean():
    cov = np.zeros((4, 4))
    cov[:2, :2] = [[1.0, 0.3], [0.3, 2.0]]
    mean = np.concatenate([RNG.standard_normal(2), [0.5, 0.0]])
    x = np.concatenate([RNG.standard_normal((3, 2)), np.tile([0.5, 0.0], (3, 1))], axis=1)
    x[2, 3] = 0.1   # off the support: -inf, zero gradient
    for method in ("logpdf", "pdf"):
        ours = getattr(vstats.multivariate_normal, method)
        theirs = getattr(stats.multivariate_normal, method)
        out, vjp_fn = vjpnet.vjp(lambda x, m: ours(x, m, cov, allow_singular=True), x, mean)
        np.testing.assert_allclose(out, theirs(x, mean, cov, allow_singular=True), rtol=1e-12)
        assert np.all(vjp_fn(np.ones(3))[0][2] == 0.0)

    # perturb only inside the support: the first two components of x and mean
    def inside(x2, m2):
        return vstats.multivariate_normal.logpdf(np.concatenate([x2, mean[2:]]),
                                                 np.concatenate([m2, mean[2:]]), cov,
                                                 allow_singular=True)
    check_grads(inside, (x[0, :2], mean[:2]), order=2)
    with pytest.raises(TypeError, match="cov is traced"):
        grad(lambda c: vstats.multivariate_normal.logpdf(x[0], mean, c, allow_singular=True))(cov)


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_python_float_data_and_parameters(name):
    """Python floats are traced as they are; arithmetic on them (norm.logpdf's) gives a traced
    Python float, which the methods return as it is."""
    shapes, _ = CONTINUOUS[name]
    theirs = getattr(stats, name)
    x = 0.3 if name != "beta" else 0.4
    for method in METHODS:
        ours = getattr(getattr(vstats, name), method)
        assert ours(x, *shapes, 0.1, 1.5) == pytest.approx(
            getattr(theirs, method)(x, *shapes, 0.1, 1.5))
        check_grads(lambda x, loc, scale: ours(x, *shapes, loc, scale), (x, 0.1, 1.5), order=2)
        check_grads(lambda x: ours(x, *shapes), (x,), order=2)
