"""VJPs of the scipy.special ufuncs: registering them routes `scipy.special.gammaln(traced)`
(and every other ufunc here) to a primitive, through `Traced.__array_ufunc__`.

Every partial is written with NumPy and scipy.special ufuncs on possibly traced values, so the
derivatives are differentiable again (digamma's is polygamma(1, x), polygamma(n, x)'s is
polygamma(n + 1, x), a Bessel function's is a sum of Bessel functions, ...). Constants are
Python floats, so float32 stays float32. Orders (n, v) and parameters whose derivative has no
closed form (gammainc's a, betainc's a and b, ...) are not differentiated: a traced value there
raises (see _ufunc.special_ufunc).
"""
import math

import numpy as np
import scipy.special as sc

from vjpnet.numpy_ops._base import Sample, away_from
from vjpnet.registry import register_nondifferentiable
from vjpnet.scipy._ufunc import COUNT, INTEGER_ORDER, NOT_CLOSED_FORM, safe, special_ufunc

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def _uniform(low, high, shape=(3, 4)):
    return lambda rng: Sample(rng.uniform(low, high, shape))


def _with_order(order, low, high, shape=(3, 4)):
    """Spec of f(order, x): a Python-number order (not differentiated) and x in [low, high]."""
    return lambda rng: Sample(order, rng.uniform(low, high, shape))


def _register(name, spec, real_only=False, **partials):
    return special_ufunc(getattr(sc, name), f"scipy.special.{name}", spec=spec,
                         real_only=real_only, **partials)


# --- polygamma and Hurwitz zeta -------------------------------------------------------------
# scipy.special.zeta(s, q) calls the ufunc _zeta(s, q); polygamma(n, x) for n >= 1 is
# (-1)**(n + 1) n! zeta(n + 1, x), SciPy's own formula, so every derivative of digamma
# reduces to _zeta, whose derivative in q is -s zeta(s + 1, q).

zeta_p = special_ufunc(
    sc._ufuncs._zeta, "scipy.special.zeta",
    x=NOT_CLOSED_FORM, q=lambda g, out, s, q: -g * s * sc._ufuncs._zeta(s + 1.0, q),
    spec=lambda rng: Sample(3.0, rng.uniform(0.5, 3.0, (3, 4))))


def polygamma_of(n, x):
    """polygamma(n, x) for a plain non-negative integer n (scalar or array), traced x."""
    if np.ndim(n) == 0:
        n = int(n)
        if n == 0:
            return sc.psi(x)
        return ((-1.0) ** (n + 1) * math.gamma(n + 1.0)) * sc._ufuncs._zeta(n + 1.0, x)
    n = np.asarray(n)
    factor = (-1.0) ** (n + 1) * sc.gamma(n + 1.0)
    higher = factor * sc._ufuncs._zeta(np.where(n == 0, 2.0, n + 1.0), x)
    return np.where(n == 0, sc.psi(x), higher)


# --- gamma and beta functions ---------------------------------------------------------------
gammaln_p = _register("gammaln", _uniform(0.3, 4.0),
                      x=lambda g, out, x: g * sc.psi(x))
loggamma_p = _register("loggamma", _uniform(0.3, 4.0),
                       x=lambda g, out, x: g * sc.psi(x))
gamma_p = _register("gamma", _uniform(0.3, 4.0),
                    x=lambda g, out, x: g * out * sc.psi(x))
rgamma_p = _register("rgamma", _uniform(0.3, 4.0),
                     x=lambda g, out, x: -g * out * sc.psi(x))
psi_p = _register("psi", _uniform(0.3, 4.0),
                  x=lambda g, out, x: g * polygamma_of(1, x))
beta_p = _register("beta", lambda rng: Sample(rng.uniform(0.5, 3.0, (3, 4)),
                                              rng.uniform(0.5, 3.0, 4)),
                   a=lambda g, out, a, b: g * out * (sc.psi(a) - sc.psi(a + b)),
                   b=lambda g, out, a, b: g * out * (sc.psi(b) - sc.psi(a + b)))
betaln_p = _register("betaln", lambda rng: Sample(rng.uniform(0.5, 3.0, (3, 4)),
                                                  rng.uniform(0.5, 3.0, 4)),
                     a=lambda g, out, a, b: g * (sc.psi(a) - sc.psi(a + b)),
                     b=lambda g, out, a, b: g * (sc.psi(b) - sc.psi(a + b)))
poch_p = _register("poch", lambda rng: Sample(rng.uniform(0.5, 3.0, (3, 4)),
                                              rng.uniform(-0.3, 2.0, 4)),
                   z=lambda g, out, z, m: g * out * (sc.psi(z + m) - sc.psi(z)),
                   m=lambda g, out, z, m: g * out * sc.psi(z + m))


def _beta_density(a, b, x):
    """x^(a-1) (1-x)^(b-1) / B(a, b), the derivative of betainc in x."""
    return np.exp(sc.xlogy(a - 1.0, x) + sc.xlog1py(b - 1.0, -x) - sc.betaln(a, b))


def _gamma_density(a, x):
    """x^(a-1) e^-x / Gamma(a), the derivative of gammainc in x."""
    return np.exp(sc.xlogy(a - 1.0, x) - x - sc.gammaln(a))


_BETA_SPEC = lambda rng: Sample(2.5, 1.5, rng.uniform(0.1, 0.9, (3, 4)))   # noqa: E731
_GAMMA_SPEC = lambda rng: Sample(2.5, rng.uniform(0.3, 4.0, (3, 4)))       # noqa: E731
_PROBABILITY = _uniform(0.1, 0.9)

betainc_p = _register("betainc", _BETA_SPEC, a=NOT_CLOSED_FORM, b=NOT_CLOSED_FORM,
                      x=lambda g, out, a, b, x: g * _beta_density(a, b, x))
betaincc_p = _register("betaincc", _BETA_SPEC, a=NOT_CLOSED_FORM, b=NOT_CLOSED_FORM,
                       x=lambda g, out, a, b, x: -g * _beta_density(a, b, x))
betaincinv_p = _register("betaincinv", _BETA_SPEC, a=NOT_CLOSED_FORM, b=NOT_CLOSED_FORM,
                         y=lambda g, out, a, b, y: g / _beta_density(a, b, out))
betainccinv_p = _register("betainccinv", _BETA_SPEC, a=NOT_CLOSED_FORM, b=NOT_CLOSED_FORM,
                          y=lambda g, out, a, b, y: -g / _beta_density(a, b, out))
gammainc_p = _register("gammainc", _GAMMA_SPEC, a=NOT_CLOSED_FORM,
                       x=lambda g, out, a, x: g * _gamma_density(a, x))
gammaincc_p = _register("gammaincc", _GAMMA_SPEC, a=NOT_CLOSED_FORM,
                        x=lambda g, out, a, x: -g * _gamma_density(a, x))
gammaincinv_p = _register("gammaincinv", lambda rng: Sample(2.5, rng.uniform(0.1, 0.9, (3, 4))),
                          a=NOT_CLOSED_FORM,
                          y=lambda g, out, a, y: g / _gamma_density(a, out))
gammainccinv_p = _register("gammainccinv",
                           lambda rng: Sample(2.5, rng.uniform(0.1, 0.9, (3, 4))),
                           a=NOT_CLOSED_FORM,
                           y=lambda g, out, a, y: -g / _gamma_density(a, out))

# --- error functions and the normal distribution --------------------------------------------
erf_p = _register("erf", _uniform(-2.0, 2.0),
                  x=lambda g, out, x: g * (_TWO_OVER_SQRT_PI * np.exp(-x * x)))
erfc_p = _register("erfc", _uniform(-2.0, 2.0),
                   x=lambda g, out, x: g * (-_TWO_OVER_SQRT_PI * np.exp(-x * x)))
erfcx_p = _register("erfcx", _uniform(-1.5, 3.0),
                    x=lambda g, out, x: g * (2.0 * x * out - _TWO_OVER_SQRT_PI))
erfi_p = _register("erfi", _uniform(-1.5, 1.5),
                   x=lambda g, out, x: g * (_TWO_OVER_SQRT_PI * np.exp(x * x)))
dawsn_p = _register("dawsn", _uniform(-2.0, 2.0),
                    x=lambda g, out, x: g * (1.0 - 2.0 * x * out))
erfinv_p = _register("erfinv", _uniform(-0.9, 0.9),
                     y=lambda g, out, y: g * (0.5 * _SQRT_PI * np.exp(out * out)))
erfcinv_p = _register("erfcinv", _uniform(0.1, 1.9),
                      y=lambda g, out, y: g * (-0.5 * _SQRT_PI * np.exp(out * out)))
ndtr_p = _register("ndtr", _uniform(-3.0, 3.0),
                   x=lambda g, out, x: g * (np.exp(-0.5 * x * x) / _SQRT_2PI))
# d log Phi(x) = phi(x) / Phi(x) = exp(-x^2/2 - log Phi(x)) / sqrt(2 pi): no underflow for x << 0
log_ndtr_p = _register("log_ndtr", _uniform(-6.0, 3.0),
                       x=lambda g, out, x: g * (np.exp(-0.5 * x * x - out) / _SQRT_2PI))
ndtri_p = _register("ndtri", _PROBABILITY,
                    y=lambda g, out, y: g * (_SQRT_2PI * np.exp(0.5 * out * out)))
ndtri_exp_p = _register("ndtri_exp", _uniform(-4.0, -0.2),
                        y=lambda g, out, y: g * (_SQRT_2PI * np.exp(y + 0.5 * out * out)))

# --- logistic, entropies, x log y -----------------------------------------------------------
expit_p = _register("expit", _uniform(-3.0, 3.0),
                    x=lambda g, out, x: g * (out - out * out))
logit_p = _register("logit", _PROBABILITY,
                    x=lambda g, out, x: g / (x - x * x))
log_expit_p = _register("log_expit", _uniform(-3.0, 3.0),
                        x=lambda g, out, x: g * sc.expit(-x))
expm1_p = _register("expm1", _uniform(-2.0, 2.0), x=lambda g, out, x: g * (out + 1.0))
log1p_p = _register("log1p", _uniform(-0.5, 2.0), x=lambda g, out, x: g / (x + 1.0))


def _ratio_where_nonzero(x, y):
    """x / y, taken as 0 where x == 0 (x log y is 0 there whatever y is)."""
    zero = x == 0   # a plain mask: comparisons are not differentiated
    return np.where(zero, 0.0, x / safe(~zero, y, 1.0))


_XLOGY_SPEC = lambda rng: [Sample(rng.standard_normal((3, 4)), rng.uniform(0.5, 2.0, 4)),   # noqa
                           Sample(np.array([0.0, 1.5]), np.array([0.7, 1.2]))]
xlogy_p = _register("xlogy", _XLOGY_SPEC,
                    x=lambda g, out, x, y: g * np.log(y),
                    y=lambda g, out, x, y: g * _ratio_where_nonzero(x, y))
xlog1py_p = _register("xlog1py", _XLOGY_SPEC,
                      x=lambda g, out, x, y: g * np.log1p(y),
                      y=lambda g, out, x, y: g * _ratio_where_nonzero(x, y + 1.0))


def _entr_partial(g, out, x):
    # -(log x + 1) for x > 0; +inf at 0 (the one-sided slope); 0 where entr is -inf (x < 0)
    positive = x > 0
    inside = -np.log(safe(positive, x, 1.0)) - 1.0
    return g * np.where(positive, inside, np.where(x == 0, np.inf, 0.0).astype(inside.dtype))


entr_p = _register("entr", _uniform(0.2, 2.0), x=_entr_partial)
_TWO_POSITIVE = lambda rng: Sample(rng.uniform(0.3, 2.0, (3, 4)), rng.uniform(0.3, 2.0, 4))  # noqa
rel_entr_p = _register("rel_entr", _TWO_POSITIVE,
                       x=lambda g, out, x, y: g * (np.log(x / y) + 1.0),
                       y=lambda g, out, x, y: -g * (x / y))
kl_div_p = _register("kl_div", _TWO_POSITIVE,
                     x=lambda g, out, x, y: g * np.log(x / y),
                     y=lambda g, out, x, y: g * (1.0 - x / y))


def _huber_spec(rng):
    r = away_from(rng, (3, 4), points=(-1.0, 1.0), gap=0.15)
    return Sample(np.ones(4), r)   # delta (4,), residuals (3, 4)


huber_p = _register(
    "huber", _huber_spec,
    delta=lambda g, out, delta, r: g * np.where(np.abs(r) <= delta, 0.0, np.abs(r) - delta),
    r=lambda g, out, delta, r: g * np.where(np.abs(r) <= delta, r, delta * np.sign(r)))


def _pseudo_huber_root(delta, r):
    return np.sqrt(delta * delta + r * r)


pseudo_huber_p = _register(
    "pseudo_huber", lambda rng: Sample(rng.uniform(0.5, 2.0, 4), rng.standard_normal((3, 4))),
    delta=lambda g, out, delta, r: g * (_pseudo_huber_root(delta, r) +
                                        delta * delta / _pseudo_huber_root(delta, r) -
                                        2.0 * delta),
    r=lambda g, out, delta, r: g * (delta * r / _pseudo_huber_root(delta, r)))

# --- Bessel functions -----------------------------------------------------------------------
# d/dx I_v = (I_{v-1} + I_{v+1}) / 2, d/dx J_v = (J_{v-1} - J_{v+1}) / 2 (Y_v alike),
# d/dx K_v = -(K_{v-1} + K_{v+1}) / 2; the exponentially scaled ones add the scaling's slope.
_POSITIVE_X = _uniform(0.3, 3.0)
_SIGNED_X = lambda rng: Sample(away_from(rng, (3, 4), gap=0.2))   # noqa: E731

i0_p = _register("i0", _uniform(-2.0, 2.0), x=lambda g, out, x: g * sc.i1(x))
i1_p = _register("i1", _uniform(-2.0, 2.0),
                 x=lambda g, out, x: g * (0.5 * (sc.i0(x) + sc.iv(2, x))))
i0e_p = _register("i0e", _SIGNED_X,
                  x=lambda g, out, x: g * (sc.i1e(x) - np.sign(x) * out))
i1e_p = _register("i1e", _SIGNED_X,
                  x=lambda g, out, x: g * (0.5 * (sc.i0e(x) + sc.ive(2, x)) - np.sign(x) * out))
iv_p = _register("iv", _with_order(1.5, 0.3, 3.0), v=NOT_CLOSED_FORM,
                 z=lambda g, out, v, z: g * (0.5 * (sc.iv(v - 1.0, z) + sc.iv(v + 1.0, z))))
# ive(v, z) = iv(v, z) exp(-|Re z|) is not holomorphic: its partial holds for real z only
ive_p = _register("ive", lambda rng: Sample(1.5, away_from(rng, (3, 4), gap=0.3) ** 2 + 0.2),
                  real_only=True, v=NOT_CLOSED_FORM,
                  z=lambda g, out, v, z: g * (0.5 * (sc.ive(v - 1.0, z) + sc.ive(v + 1.0, z)) -
                                              np.sign(z) * out))
j0_p = _register("j0", _uniform(-3.0, 3.0), x=lambda g, out, x: -g * sc.j1(x))
j1_p = _register("j1", _uniform(-3.0, 3.0),
                 x=lambda g, out, x: g * (0.5 * (sc.j0(x) - sc.jv(2, x))))
jv_p = _register("jv", _with_order(1.5, 0.3, 3.0), v=NOT_CLOSED_FORM,
                 z=lambda g, out, v, z: g * (0.5 * (sc.jv(v - 1.0, z) - sc.jv(v + 1.0, z))))
y0_p = _register("y0", _POSITIVE_X, x=lambda g, out, x: -g * sc.y1(x))
y1_p = _register("y1", _POSITIVE_X,
                 x=lambda g, out, x: g * (0.5 * (sc.y0(x) - sc.yn(2, x))))
yn_p = _register("yn", _with_order(2, 0.5, 3.0), n=INTEGER_ORDER,
                 x=lambda g, out, n, x: g * (0.5 * (sc.yn(n - 1, x) - sc.yn(n + 1, x))))
yv_p = _register("yv", _with_order(1.5, 0.5, 3.0), v=NOT_CLOSED_FORM,
                 z=lambda g, out, v, z: g * (0.5 * (sc.yv(v - 1.0, z) - sc.yv(v + 1.0, z))))
k0_p = _register("k0", _POSITIVE_X, x=lambda g, out, x: -g * sc.k1(x))
k1_p = _register("k1", _POSITIVE_X,
                 x=lambda g, out, x: g * (-0.5 * (sc.k0(x) + sc.kv(2, x))))
k0e_p = _register("k0e", _POSITIVE_X, x=lambda g, out, x: g * (out - sc.k1e(x)))
k1e_p = _register("k1e", _POSITIVE_X,
                  x=lambda g, out, x: g * (out - 0.5 * (sc.k0e(x) + sc.kve(2, x))))
kv_p = _register("kv", _with_order(1.5, 0.3, 3.0), v=NOT_CLOSED_FORM,
                 z=lambda g, out, v, z: g * (-0.5 * (sc.kv(v - 1.0, z) + sc.kv(v + 1.0, z))))
kve_p = _register("kve", _with_order(1.5, 0.3, 3.0), v=NOT_CLOSED_FORM,
                  z=lambda g, out, v, z: g * (out - 0.5 * (sc.kve(v - 1.0, z) +
                                                           sc.kve(v + 1.0, z))))

# --- exponential integrals, Student t -------------------------------------------------------
exp1_p = _register("exp1", _POSITIVE_X, x=lambda g, out, x: -g * (np.exp(-x) / x))
expi_p = _register("expi", _POSITIVE_X, x=lambda g, out, x: g * (np.exp(x) / x))


def _t_density(df, t):
    """The Student t density with df degrees of freedom at t (the normal one for df = inf)."""
    infinite = np.isinf(df)   # df is a constant (never traced)
    df = np.where(infinite, 1.0, df) if np.any(infinite) else df
    density = np.exp(sc.gammaln(0.5 * (df + 1.0)) - sc.gammaln(0.5 * df) -
                     0.5 * np.log(df * math.pi) - 0.5 * (df + 1.0) * np.log1p(t * t / df))
    if np.any(infinite):
        density = np.where(infinite, np.exp(-0.5 * t * t) / _SQRT_2PI, density)
    return density


stdtr_p = _register("stdtr", lambda rng: Sample(3.5, rng.uniform(-3.0, 3.0, (3, 4))),
                    df=NOT_CLOSED_FORM, t=lambda g, out, df, t: g * _t_density(df, t))
stdtrit_p = _register("stdtrit", lambda rng: Sample(3.5, rng.uniform(0.1, 0.9, (3, 4))),
                      df=NOT_CLOSED_FORM, p=lambda g, out, df, p: g / _t_density(df, out))

# --- Box-Cox transforms ---------------------------------------------------------------------
# boxcox(x, lmbda) = (x^lmbda - 1) / lmbda (log x at lmbda = 0). With u = lmbda log x, its
# derivative in lmbda is (log x)^2 h(u), h(u) = (u e^u - expm1(u)) / u^2; near u = 0 that
# formula cancels, so a Taylor series takes over (terms (k+1)/(k+2)! u^k, exact to rounding
# for |u| < 0.1). inv_boxcox(y, lmbda) = (1 + lmbda y)^(1/lmbda): with w = lmbda y its
# derivative in lmbda is out y^2 q(w), q(w) = (w / (1 + w) - log1p(w)) / w^2, series below 0.01.
_H_SERIES = [(k + 1.0) / math.factorial(k + 2) for k in range(9)]
_Q_SERIES = [(-1.0) ** (k + 1) * (k + 1.0) / (k + 2.0) for k in range(8)]


def _series(coefficients, u):
    total = coefficients[-1]
    for coefficient in reversed(coefficients[:-1]):
        total = total * u + coefficient
    return total


def _near_zero_or_formula(u, threshold, series, formula, fallback):
    small = np.abs(u) < threshold   # plain mask
    if small.all():
        return _series(series, u)
    if not small.any():
        return formula(u)
    return np.where(small, _series(series, safe(small, u, 0.0)),
                    formula(safe(~small, u, fallback)))


def _boxcox_lambda_factor(u):
    return _near_zero_or_formula(u, 0.1, _H_SERIES,
                                 lambda u: (u * np.exp(u) - np.expm1(u)) / (u * u), 1.0)


def _inv_boxcox_lambda_factor(w):
    return _near_zero_or_formula(w, 0.01, _Q_SERIES,
                                 lambda w: (w / (1.0 + w) - np.log1p(w)) / (w * w), 0.5)


def _boxcox_spec(rng):
    return [Sample(rng.uniform(0.3, 3.0, (3, 4)), rng.uniform(-1.0, 1.5, 4)),
            Sample(rng.uniform(0.3, 3.0, (3, 4)), rng.uniform(-0.01, 0.01, 4))]


def _boxcox_x_partial(log):
    # d/dx boxcox(x) = x^(lmbda - 1); d/dx boxcox1p(x) = (1 + x)^(lmbda - 1)
    return lambda g, out, x, lmbda: g * np.exp((lmbda - 1.0) * log(x))


def _boxcox_lambda_partial(log):
    return lambda g, out, x, lmbda: g * log(x) ** 2 * _boxcox_lambda_factor(lmbda * log(x))


def _inv_boxcox_y_partial(shift):
    # d/dy (1 + lmbda y)^(1/lmbda) = (1 + lmbda y)^(1/lmbda - 1)
    return lambda g, out, y, lmbda: g * (out + shift) / (1.0 + lmbda * y)


def _inv_boxcox_lambda_partial(shift):
    return lambda g, out, y, lmbda: g * (out + shift) * y * y * \
        _inv_boxcox_lambda_factor(lmbda * y)


def _inv_boxcox_spec(rng):
    return [Sample(rng.uniform(-0.5, 1.5, (3, 4)), rng.uniform(0.2, 1.0, 4)),
            Sample(rng.uniform(-0.5, 1.5, (3, 4)), rng.uniform(-0.005, 0.005, 4))]


boxcox_p = _register("boxcox", _boxcox_spec, x=_boxcox_x_partial(np.log),
                     lmbda=_boxcox_lambda_partial(np.log))
boxcox1p_p = _register("boxcox1p", _boxcox_spec, x=_boxcox_x_partial(np.log1p),
                       lmbda=_boxcox_lambda_partial(np.log1p))
inv_boxcox_p = _register("inv_boxcox", _inv_boxcox_spec, y=_inv_boxcox_y_partial(0.0),
                         lmbda=_inv_boxcox_lambda_partial(0.0))
inv_boxcox1p_p = _register("inv_boxcox1p", _inv_boxcox_spec, y=_inv_boxcox_y_partial(1.0),
                           lmbda=_inv_boxcox_lambda_partial(1.0))

# --- distribution functions SciPy's stats call ----------------------------------------------


def _chi2_density(v, x):
    return np.exp(sc.xlogy(0.5 * v - 1.0, x) - 0.5 * x - sc.gammaln(0.5 * v) -
                  (0.5 * math.log(2.0)) * v)


def _poisson_mass(k, m):
    k = np.floor(k)
    return np.exp(sc.xlogy(k, m) - m - sc.gammaln(k + 1.0))


chdtr_p = _register("chdtr", lambda rng: Sample(3.5, rng.uniform(0.3, 5.0, (3, 4))),
                    v=NOT_CLOSED_FORM, x=lambda g, out, v, x: g * _chi2_density(v, x))
chdtrc_p = _register("chdtrc", lambda rng: Sample(3.5, rng.uniform(0.3, 5.0, (3, 4))),
                     v=NOT_CLOSED_FORM, x=lambda g, out, v, x: -g * _chi2_density(v, x))
pdtr_p = _register("pdtr", lambda rng: Sample(3, rng.uniform(0.5, 5.0, (3, 4))),
                   k=COUNT,
                   m=lambda g, out, k, m: -g * _poisson_mass(k, m))
pdtrc_p = _register("pdtrc", lambda rng: Sample(3, rng.uniform(0.5, 5.0, (3, 4))),
                    k=COUNT,
                    m=lambda g, out, k, m: g * _poisson_mass(k, m))


# The sign of gamma(x) is piecewise constant: a plain result, as np.sign gives.
register_nondifferentiable(sc.gammasgn)
