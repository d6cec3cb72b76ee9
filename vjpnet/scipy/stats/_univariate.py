"""Univariate distributions with scipy.stats' methods and signatures, differentiable in the data
and the parameters.

    norm.logpdf(x, loc=0, scale=1)      t.cdf(x, df, loc=0, scale=1)
    gamma.logpdf(x, a, loc=0, scale=1)  poisson.logpmf(k, mu, loc=0)
    norm(loc, scale).logpdf(x)          (a frozen distribution, as in SciPy)

Each method standardizes z = (x - loc) / scale and evaluates a closed form with NumPy and
scipy.special ufuncs on (possibly traced) values, replicating SciPy's conventions: 0 / -inf
outside the support, 1 / 0 beyond it for cdf and sf, NaN for invalid parameters (scale <= 0, a
non-positive shape) and NaN data. Entries outside the support or with invalid parameters get a
zero gradient: the formula is evaluated on safe stand-in values there and masked out, so no
inf or NaN leaks into the gradient.

The cdf/sf of gamma, beta, chi2 and t are not differentiated in their shape parameters (the
regularized incomplete gamma and beta functions have no closed-form derivative in them): a
traced shape there raises, naming it.
"""
import math

import numpy as np
import scipy.special as sc

from vjpnet.scipy import special as _special  # noqa: F401  (registers the special ufuncs)
from vjpnet.scipy._ufunc import safe
from vjpnet.tape import Traced, dtype_of, plain

__all__ = ["norm", "t", "gamma", "beta", "chi2", "expon", "laplace", "cauchy", "logistic",
           "poisson"]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_LOG_PI = math.log(math.pi)
_LOG_2 = math.log(2.0)


def _array(x):
    return x if type(x) is Traced else np.asarray(x)


def _number_or_array(value):
    """Python numbers stay (weak, like NumPy's scalars); anything else becomes an array."""
    return value if type(value) in (int, float) else _array(value)


def _is_number(value, number):
    return type(value) in (int, float) and value == number


def _float_dtype(*values):
    """The result dtype of the arguments (Python numbers weak, as in NumPy), at least float."""
    dtype = np.result_type(*[value if type(value) in (int, float) else dtype_of(plain(value))
                             for value in values])
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _with_dtype(value, dtype):
    """A Python number as a 0-d array of `dtype` (so float32 data give float32 results)."""
    return np.asarray(value, dtype) if type(value) in (int, float) else value


def _unwrap_0d(out):
    """A 0-d array result as a NumPy scalar, as SciPy returns; a (traced) Python float, the
    result of a Python float's arithmetic, stays one."""
    value = plain(out)
    return out if np.ndim(value) or type(value) is float else out[()]


def _is_float(value):
    return dtype_of(plain(value)).kind == "f"




class _Distribution:
    """The argument handling, masking and freezing shared by the distributions below."""

    name = ""
    shapes = ()               # names of the shape parameters, in SciPy's order
    closed_form_cdf = True    # False: cdf/sf are not differentiated in the shapes
    discrete = False
    support = (-np.inf, np.inf)
    inside_point = 0.0        # a point inside the support for the masked-out entries

    def __call__(self, *args, **kwargs):
        """A frozen distribution: the parameters fixed, methods taking only the data."""
        self._parse(args, kwargs)   # report bad arguments now
        return _Frozen(self, args, kwargs)

    def __repr__(self):
        return f"<vjpnet.scipy.stats.{self.name}>"

    # --- arguments ----------------------------------------------------------------------------
    def _parse(self, args, kwargs, method="pdf"):
        names = self.shapes + (("loc",) if self.discrete else ("loc", "scale"))
        where = f"vjpnet.scipy.stats.{self.name}.{method}"
        if len(args) > len(names):
            raise TypeError(f"{where}() takes at most {len(names) + 1} positional arguments "
                            f"(data, {', '.join(names)}); got {len(args) + 1}")
        values = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(f"{where}() got an unexpected keyword argument {key!r}; its "
                                f"parameters are {', '.join(names)}")
            if key in values:
                raise TypeError(f"{where}() got multiple values for argument {key!r}")
            values[key] = value
        missing = [name for name in self.shapes if name not in values]
        if missing:
            raise TypeError(f"{where}() missing required argument(s): {', '.join(missing)}")
        shapes = tuple(_number_or_array(values[name]) for name in self.shapes)
        loc = _number_or_array(values.get("loc", 0.0))
        scale = _number_or_array(values.get("scale", 1.0))
        return shapes, loc, scale

    def _valid(self, *shapes):
        """Plain mask of valid shape parameters (SciPy's _argcheck): all positive."""
        valid = np.bool_(True)
        for shape in shapes:
            valid = valid & (shape > 0)
        return valid

    def _constant_shapes(self, method, shapes):
        if self.closed_form_cdf:
            return
        for name, value in zip(self.shapes, shapes):
            if type(value) is Traced:
                raise TypeError(
                    f"vjpnet.scipy.stats.{self.name}.{method}: the derivative with respect to "
                    f"the shape parameter {name} has no closed form (an incomplete gamma/beta "
                    f"function), so vjpnet does not differentiate it; {name} is traced. Pass "
                    f"it as a constant (vjpnet.stop_gradient({name})), or differentiate "
                    f"{self.name}.logpdf instead.")

    # --- the shared evaluation ----------------------------------------------------------------
    def _evaluate(self, method, formula, x, args, kwargs, fill, edge=None, density=None):
        """formula(z, *shapes) where the data are inside the support and the parameters valid.

        fill: the value outside the support; edge: (side, value) for cdf/sf beyond the support
        (side "upper": z >= upper bound, "lower": z <= lower bound); density: "log" subtracts
        log(scale) (logpdf), "linear" divides by scale (pdf).
        """
        shapes, loc, scale = self._parse(args, kwargs, method)
        if method not in ("pdf", "logpdf", "pmf", "logpmf"):
            self._constant_shapes(method, shapes)
        x = _array(x)
        if self.discrete and (type(x) is Traced or type(loc) is Traced):
            raise TypeError(f"vjpnet.scipy.stats.{self.name}.{method}: k and loc are counts, "
                            "which vjpnet does not differentiate, but one of them is traced")
        counts = self.discrete and dtype_of(x).kind in "iub"   # counts set no precision
        dtype = _float_dtype(*([] if counts else [x]), loc, scale, *shapes)
        shapes = tuple(_with_dtype(s, dtype) for s in shapes)
        if not _is_number(loc, 0):
            loc = _with_dtype(loc, dtype)
        if not _is_number(scale, 1):
            scale = _with_dtype(scale, dtype)
        shapes_plain = tuple(plain(s) for s in shapes)
        scale_plain = plain(scale)
        with np.errstate(invalid="ignore"):
            valid = self._valid(*shapes_plain) & (np.asarray(scale_plain) > 0)
        shape = np.broadcast_shapes(np.shape(plain(x)), np.shape(plain(loc)),
                                    np.shape(scale_plain), *map(np.shape, shapes_plain))
        valid = np.broadcast_to(valid, shape)
        if not valid.all():
            shapes = tuple(safe(valid, s, 1.0) for s in shapes)
            scale = safe(valid, scale, 1.0)
        z = x if _is_number(loc, 0) else x - loc
        z = z if _is_number(scale, 1) else z / scale
        if not _is_float(z):
            z = z.astype(dtype)
        z_plain = np.broadcast_to(plain(z), shape)
        lower, upper = self.support
        with np.errstate(invalid="ignore"):
            if method in ("pdf", "logpdf", "pmf", "logpmf"):
                inside = (lower <= z_plain) & (z_plain <= upper)
                if self.discrete:
                    inside = inside & (np.floor(z_plain) == z_plain)
            elif self.discrete:
                inside = (lower <= z_plain) & (z_plain < upper)
            else:
                inside = (lower < z_plain) & (z_plain < upper)
        good = valid & inside
        if good.all():
            out = formula(z, *shapes)
        else:
            z_safe = safe(good, z, self.inside_point)
            out = np.where(good, formula(z_safe, *shapes), fill)
            if edge is not None:
                side, value = edge
                beyond = z_plain >= upper if side == "upper" else z_plain < lower \
                    if self.discrete else z_plain <= lower
                out = np.where(valid & beyond, value, out)
        if density == "log" and not _is_number(scale, 1):
            out = out - np.log(scale)
        elif density == "linear" and not _is_number(scale, 1):
            out = out / scale
        bad = ~valid | np.isnan(z_plain)
        if bad.any():
            out = np.where(bad, np.nan, out)
        return _unwrap_0d(out)

    # --- methods with SciPy's names -----------------------------------------------------------
    def cdf(self, x, *args, **kwargs):
        """P(X <= x)."""
        return self._evaluate("cdf", self._cdf, x, args, kwargs, 0.0, edge=("upper", 1.0))

    def logcdf(self, x, *args, **kwargs):
        """log P(X <= x)."""
        return self._evaluate("logcdf", self._logcdf, x, args, kwargs, -np.inf,
                              edge=("upper", 0.0))

    def sf(self, x, *args, **kwargs):
        """P(X > x) = 1 - cdf, computed without cancellation."""
        return self._evaluate("sf", self._sf, x, args, kwargs, 0.0, edge=("lower", 1.0))

    def logsf(self, x, *args, **kwargs):
        """log P(X > x)."""
        return self._evaluate("logsf", self._logsf, x, args, kwargs, -np.inf,
                              edge=("lower", 0.0))

    def rvs(self, *args, **kwargs):
        """Samples: SciPy's rvs (plain arrays; sampling is not differentiated)."""
        if any(type(value) is Traced for value in (*args, *kwargs.values())):
            raise TypeError(f"vjpnet.scipy.stats.{self.name}.rvs: sampling is not "
                            "differentiable in vjpnet, but a parameter is traced; pass plain "
                            "arrays (for a reparameterized sample, transform standard samples "
                            "with NumPy operations, e.g. loc + scale * z)")
        import scipy.stats
        return getattr(scipy.stats, self.name).rvs(*args, **kwargs)

    # --- SciPy's generic log cdf / log sf: log of the smaller tail, log1p(-other) otherwise -----
    def _logcdf(self, z, *shapes):
        cdf = self._cdf(z, *shapes)
        lower_half = plain(cdf) < 0.5
        if lower_half.all():
            return np.log(cdf)
        sf = self._sf(z, *shapes)
        return np.where(lower_half, np.log(safe(lower_half, cdf, 0.5)),
                        np.log1p(-safe(~lower_half, sf, 0.5)))

    def _logsf(self, z, *shapes):
        sf = self._sf(z, *shapes)
        upper_half = plain(sf) < 0.5
        if upper_half.all():
            return np.log(sf)
        cdf = self._cdf(z, *shapes)
        return np.where(upper_half, np.log(safe(upper_half, sf, 0.5)),
                        np.log1p(-safe(~upper_half, cdf, 0.5)))


class _Continuous(_Distribution):
    """A distribution with a density: adds pdf and logpdf."""

    def logpdf(self, x, *args, **kwargs):
        """log of the density at x: (x, *shapes, loc=0, scale=1) broadcast together."""
        return self._evaluate("logpdf", self._logpdf, x, args, kwargs, -np.inf,
                              density="log")

    def pdf(self, x, *args, **kwargs):
        """The density at x."""
        return self._evaluate("pdf", lambda z, *s: np.exp(self._logpdf(z, *s)), x, args, kwargs,
                              0.0, density="linear")


class _Frozen:
    """A distribution with its parameters fixed: frozen.logpdf(x) == dist.logpdf(x, *args)."""

    def __init__(self, distribution, args, kwargs):
        self.dist, self.args, self.kwds = distribution, args, kwargs

    def __repr__(self):
        return f"<frozen vjpnet.scipy.stats.{self.dist.name}>"

    def __getattr__(self, method):
        if method.startswith("_") or not hasattr(type(self.dist), method):
            raise AttributeError(method)
        function = getattr(self.dist, method)
        return lambda x: function(x, *self.args, **self.kwds)


# --- continuous distributions (standardized: loc 0, scale 1) ---------------------------------

class norm_gen(_Continuous):
    name = "norm"

    def _logpdf(self, z):
        return -(z * z) / 2.0 - _LOG_SQRT_2PI

    def _cdf(self, z):
        return sc.ndtr(z)

    def _sf(self, z):
        return sc.ndtr(-z)

    def _logcdf(self, z):
        return sc.log_ndtr(z)

    def _logsf(self, z):
        return sc.log_ndtr(-z)

    def ppf(self, q, loc=0.0, scale=1.0):
        """The quantile function, inverse of cdf: loc + scale * ndtri(q); NaN for q outside
        [0, 1] or scale <= 0, -inf / inf at q = 0 / 1."""
        return self._quantile("ppf", q, loc, scale, 1.0)

    def isf(self, q, loc=0.0, scale=1.0):
        """The inverse of sf: loc - scale * ndtri(q) (the normal is symmetric)."""
        return self._quantile("isf", q, loc, scale, -1.0)

    def _quantile(self, method, q, loc, scale, sign):
        (), loc, scale = self._parse((loc, scale), {}, method)
        q = _array(q)
        dtype = _float_dtype(q, loc, scale)
        q = q if _is_float(q) else q.astype(dtype)
        z = sc.ndtri(q)
        out = loc + scale * z if sign > 0 else loc - scale * z
        with np.errstate(invalid="ignore"):
            bad = np.asarray(plain(scale)) <= 0
        if bad.any():
            out = np.where(bad, np.nan, out)
        out = out if type(out) is Traced else np.asarray(out, dtype)
        return _unwrap_0d(out)


class t_gen(_Continuous):
    name, shapes, closed_form_cdf = "t", ("df",), False

    def _logpdf(self, z, df):
        infinite = np.isinf(plain(df))
        df_finite = safe(~infinite, df, 1.0)
        student = (np.log(sc.poch(0.5 * df_finite, 0.5)) -
                   0.5 * (np.log(df_finite) + _LOG_PI) -
                   (df_finite + 1.0) / 2.0 * np.log1p(z * z / df_finite))
        if not infinite.any():
            return student
        return np.where(infinite, -(z * z) / 2.0 - _LOG_SQRT_2PI, student)

    def _cdf(self, z, df):
        return sc.stdtr(df, z)

    def _sf(self, z, df):
        return sc.stdtr(df, -z)


class gamma_gen(_Continuous):
    name, shapes, closed_form_cdf = "gamma", ("a",), False
    support, inside_point = (0.0, np.inf), 1.0

    def _logpdf(self, z, a):
        return sc.xlogy(a - 1.0, z) - z - sc.gammaln(a)

    def _cdf(self, z, a):
        return sc.gammainc(a, z)

    def _sf(self, z, a):
        return sc.gammaincc(a, z)


class beta_gen(_Continuous):
    name, shapes, closed_form_cdf = "beta", ("a", "b"), False
    support, inside_point = (0.0, 1.0), 0.5

    def _logpdf(self, z, a, b):
        return sc.xlog1py(b - 1.0, -z) + sc.xlogy(a - 1.0, z) - sc.betaln(a, b)

    def _cdf(self, z, a, b):
        return sc.betainc(a, b, z)

    def _sf(self, z, a, b):
        return sc.betaincc(a, b, z)


class chi2_gen(_Continuous):
    name, shapes, closed_form_cdf = "chi2", ("df",), False
    support, inside_point = (0.0, np.inf), 1.0

    def _logpdf(self, z, df):
        return sc.xlogy(df / 2.0 - 1.0, z) - z / 2.0 - sc.gammaln(df / 2.0) - (_LOG_2 * df) / 2.0

    def _cdf(self, z, df):
        return sc.chdtr(df, z)

    def _sf(self, z, df):
        return sc.chdtrc(df, z)


class expon_gen(_Continuous):
    name, support, inside_point = "expon", (0.0, np.inf), 1.0

    def _logpdf(self, z):
        return -z

    def _cdf(self, z):
        return -sc.expm1(-z)

    def _sf(self, z):
        return np.exp(-z)

    def _logsf(self, z):
        return -z


class laplace_gen(_Continuous):
    name = "laplace"

    def _logpdf(self, z):
        return -np.abs(z) - _LOG_2

    def _halves(self, z):
        """(z > 0, the positive part, the non-positive part): exp of each never overflows."""
        positive = plain(z) > 0
        return positive, safe(positive, z, 0.0), safe(~positive, z, 0.0)

    def _cdf(self, z):
        positive, z_pos, z_neg = self._halves(z)
        return np.where(positive, 1.0 - 0.5 * np.exp(-z_pos), 0.5 * np.exp(z_neg))

    def _sf(self, z):
        return self._cdf(-z)


class cauchy_gen(_Continuous):
    name = "cauchy"

    def _logpdf(self, z):
        magnitude = np.abs(z)
        small = plain(magnitude) < 1
        near = -_LOG_PI - np.log1p(safe(small, magnitude, 0.0) ** 2)
        if small.all():
            return near
        far_magnitude = safe(~small, magnitude, 2.0)
        far = -_LOG_PI - (2.0 * np.log(far_magnitude) + np.log1p((1.0 / far_magnitude) ** 2))
        return np.where(small, near, far)

    def _cdf(self, z):
        return np.arctan2(1.0, -z) / math.pi

    def _sf(self, z):
        return np.arctan2(1.0, z) / math.pi


class logistic_gen(_Continuous):
    name = "logistic"

    def _logpdf(self, z):
        y = -np.abs(z)
        return y - 2.0 * sc.log1p(np.exp(y))

    def _cdf(self, z):
        return sc.expit(z)

    def _sf(self, z):
        return sc.expit(-z)

    def _logcdf(self, z):
        return sc.log_expit(z)

    def _logsf(self, z):
        return sc.log_expit(-z)


# --- the Poisson distribution (discrete: pmf instead of pdf) ---------------------------------

class poisson_gen(_Distribution):
    """poisson.pmf(k, mu, loc=0), logpmf, cdf, logcdf, sf, logsf; differentiable in mu (k is
    a count, never differentiated; non-integer k has pmf 0 as in SciPy)."""

    name, shapes, discrete = "poisson", ("mu",), True
    support, inside_point = (0.0, np.inf), 1.0

    def _valid(self, mu):
        return mu >= 0

    def _logpmf(self, k, mu):
        return sc.xlogy(k, mu) - sc.gammaln(k + 1.0) - mu

    def _cdf(self, k, mu):
        return np.clip(sc.pdtr(np.floor(k), mu), 0.0, 1.0)

    def _sf(self, k, mu):
        return sc.pdtrc(np.floor(k), mu)

    def _logcdf(self, k, mu):
        with np.errstate(divide="ignore"):
            return np.log(self._cdf(k, mu))

    def _logsf(self, k, mu):
        with np.errstate(divide="ignore"):
            return np.log(self._sf(k, mu))

    def logpmf(self, k, *args, **kwargs):
        """log P(K = k)."""
        return self._evaluate("logpmf", self._logpmf, k, args, kwargs, -np.inf)

    def pmf(self, k, *args, **kwargs):
        """P(K = k)."""
        return self._evaluate("pmf", lambda k, mu: np.exp(self._logpmf(k, mu)), k, args,
                              kwargs, 0.0)


norm, t, gamma, beta, chi2 = norm_gen(), t_gen(), gamma_gen(), beta_gen(), chi2_gen()
expon, laplace, cauchy, logistic = expon_gen(), laplace_gen(), cauchy_gen(), logistic_gen()
poisson = poisson_gen()
