"""multivariate_normal and dirichlet with scipy.stats' signatures, differentiable in the data
and the parameters (mean and cov; alpha).

multivariate_normal.logpdf(x, mean=None, cov=1, allow_singular=False): x has the components on
its last axis; cov is a scalar (cov * I), a vector (a diagonal) or a full symmetric positive
definite matrix, factored by Cholesky (SciPy uses an eigendecomposition: the values agree to
rounding). The gradient with respect to a full cov is symmetric (cov is read as
(cov + cov^T) / 2). allow_singular=True is SciPy's own code on plain arrays, and differentiable
in x and mean (SciPy's pseudo-inverse and pseudo-determinant of a constant cov).

dirichlet.logpdf(x, alpha): x has the K components on its first axis (or K - 1 of them, the
last then being 1 - sum), with SciPy's checks (x in the simplex, alpha > 0).
"""
import math

import numpy as np
import scipy.linalg as _linalg
import scipy.special as _sc
import scipy.stats as _stats

from vjpnet.scipy import special as _special  # noqa: F401  (registers the special ufuncs)
from vjpnet.scipy.linalg import _cholesky_of, solve_triangular_p
from vjpnet.tape import Traced, plain

__all__ = ["multivariate_normal", "dirichlet"]

_LOG_2PI = math.log(2.0 * math.pi)


def _array(x, dtype=None):
    if type(x) is Traced:
        return x
    x = np.asarray(x)
    if dtype is not None or x.dtype.kind != "f":
        x = x.astype(dtype or np.float64)
    return x


def _any_traced(*values):
    return any(type(value) is Traced for value in values)


def _squeeze_output(out):
    out = np.squeeze(out)
    return out[()] if np.ndim(plain(out)) == 0 else out


class multivariate_normal_gen:
    """The multivariate normal distribution: pdf, logpdf, entropy; rvs (SciPy's sampler)."""

    def __repr__(self):
        return "<vjpnet.scipy.stats.multivariate_normal>"

    def __call__(self, mean=None, cov=1, allow_singular=False):
        """A frozen distribution: .logpdf(x) and .pdf(x) with mean and cov fixed."""
        self._parameters(mean, cov)   # report bad parameters now
        return _FrozenMultivariateNormal(self, mean, cov, allow_singular)

    def _parameters(self, mean, cov):
        """(dim, mean (dim,), cov of ndim 0, 1 or 2), as SciPy's _process_parameters_psd."""
        cov = _array(1.0 if cov is None else cov)
        if mean is None:
            dim = 1 if np.ndim(plain(cov)) < 2 else np.shape(plain(cov))[0]
            mean = np.zeros(dim, plain(cov).dtype)
        else:
            mean = _array(mean)
            dim = int(np.size(plain(mean)))
        if dim == 1:
            mean = np.reshape(mean, (1,))
            cov = np.reshape(cov, (1, 1))
        if np.ndim(plain(mean)) != 1 or np.shape(plain(mean))[0] != dim:
            raise ValueError(f"Array 'mean' must be a vector of length {dim}.")
        cov_shape = np.shape(plain(cov))
        if len(cov_shape) == 1 and cov_shape[0] != dim:
            raise ValueError(f"vjpnet.scipy.stats.multivariate_normal: a diagonal cov must have "
                             f"length {dim} (the length of mean), got {cov_shape[0]}")
        if len(cov_shape) == 2 and cov_shape != (dim, dim):
            rows, cols = cov_shape
            if rows != cols:
                raise ValueError("Array 'cov' must be square if it is two dimensional, but "
                                 f"cov.shape = {cov_shape}.")
            raise ValueError(f"Dimension mismatch: array 'cov' is of shape {cov_shape}, but "
                             f"'mean' is a vector of length {dim}.")
        if len(cov_shape) > 2:
            raise ValueError("Array 'cov' must be at most two-dimensional, but "
                             f"cov.ndim = {len(cov_shape)}")
        return dim, mean, cov

    def logpdf(self, x, mean=None, cov=1, allow_singular=False):
        """log density at x: (..., dim) -> (...) (squeezed, as SciPy)."""
        if allow_singular:
            if not _any_traced(x, mean, cov):
                return self._scipy("logpdf", x, mean, cov)
            if type(cov) is Traced:
                self._scipy("logpdf", x, mean, cov)   # raises: cov is traced
            return self._singular_logpdf(x, mean, cov)
        dim, mean, cov = self._parameters(mean, cov)
        x = _array(x)
        if np.ndim(plain(x)) == 0:
            x = np.reshape(x, (1,))
        elif np.ndim(plain(x)) == 1:
            x = np.reshape(x, (-1, 1) if dim == 1 else (1, -1))
        if np.shape(plain(x))[-1] != dim:
            raise ValueError(f"vjpnet.scipy.stats.multivariate_normal.logpdf: x has "
                             f"{np.shape(plain(x))[-1]} components on its last axis, the "
                             f"distribution {dim}")
        deviation = x - mean
        log_det, maha = self._log_det_and_mahalanobis(deviation, cov, dim)
        return _squeeze_output(-0.5 * (dim * _LOG_2PI + log_det + maha))

    def pdf(self, x, mean=None, cov=1, allow_singular=False):
        """density at x: (..., dim) -> (...)."""
        if allow_singular and not _any_traced(x, mean, cov):
            return self._scipy("pdf", x, mean, cov)
        return np.exp(self.logpdf(x, mean, cov, allow_singular))

    def entropy(self, mean=None, cov=1, allow_singular=False):
        """Differential entropy, 0.5 * log det(2 pi e cov) (mean does not enter)."""
        if allow_singular:
            if _any_traced(mean, cov):
                raise TypeError("vjpnet.scipy.stats.multivariate_normal.entropy: "
                                "allow_singular=True is not differentiable in vjpnet (it needs "
                                "a pseudo-determinant); use a positive definite cov")
            return _stats.multivariate_normal.entropy(mean, cov, allow_singular=True)
        dim, mean, cov = self._parameters(mean, cov)
        log_det, _ = self._log_det_and_mahalanobis(np.zeros((1, dim)), cov, dim)
        return 0.5 * (dim * (1.0 + _LOG_2PI) + log_det)

    def rvs(self, mean=None, cov=1, size=1, random_state=None):
        """Samples: SciPy's multivariate_normal.rvs (plain arrays; sampling is not
        differentiated)."""
        _refuse_traced("multivariate_normal.rvs", mean, cov)
        return _stats.multivariate_normal.rvs(mean, cov, size=size, random_state=random_state)

    def _log_det_and_mahalanobis(self, deviation, cov, dim):
        if np.ndim(plain(cov)) < 2:   # a scalar (times the identity) or a diagonal
            variances = cov
            if np.any(plain(variances) <= 0):
                raise np.linalg.LinAlgError(
                    "vjpnet.scipy.stats.multivariate_normal: cov must be positive definite "
                    "(allow_singular=True is SciPy's code, for plain arrays only)")
            if np.ndim(plain(variances)) == 0:
                return dim * np.log(variances), np.sum(deviation ** 2, axis=-1) / variances
            return np.sum(np.log(variances)), np.sum(deviation ** 2 / variances, axis=-1)
        lower = _cholesky_of("multivariate_normal", cov)
        log_det = 2.0 * np.sum(np.log(np.diagonal(lower)))
        rows = np.reshape(deviation, (-1, dim))
        whitened = solve_triangular_p(lower, rows.T, trans=0, lower=True, unit_diagonal=False)
        maha = np.reshape(np.sum(whitened ** 2, axis=0), np.shape(plain(deviation))[:-1])
        return log_det, maha

    def _singular_logpdf(self, x, mean, cov):
        """logpdf with a constant, possibly singular cov, differentiable in x and mean: SciPy's
        pseudo-inverse and pseudo-determinant from the eigenvalues above SciPy's cutoff; -inf
        off the support (where x - mean leaves cov's range)."""
        dim, mean, cov = self._parameters(mean, cov)
        cov = np.asarray(cov, np.float64)
        if cov.ndim < 2:
            cov = np.diag(np.broadcast_to(cov, (dim,)))
        spectrum, vectors = _linalg.eigh(cov, lower=True)
        cutoff = 1e6 * np.finfo(np.float64).eps * np.max(np.abs(spectrum))
        if np.min(spectrum) < -cutoff:
            raise ValueError("The input matrix must be symmetric positive semidefinite.")
        kept = spectrum > cutoff
        whitening = vectors[:, kept] / np.sqrt(spectrum[kept])
        x = _array(x)
        if np.ndim(plain(x)) == 0:
            x = np.reshape(x, (1,))
        elif np.ndim(plain(x)) == 1:
            x = np.reshape(x, (-1, 1) if dim == 1 else (1, -1))
        deviation = x - mean
        maha = np.sum((deviation @ whitening) ** 2, axis=-1)
        out = -0.5 * (np.count_nonzero(kept) * _LOG_2PI + np.sum(np.log(spectrum[kept])) + maha)
        residual = np.linalg.norm(plain(deviation) @ vectors[:, ~kept], axis=-1)
        inside = residual < 1e3 * cutoff
        if not inside.all():
            out = np.where(inside, out, -np.inf)
        return _squeeze_output(out)

    def _scipy(self, method, x, mean, cov):
        if _any_traced(x, mean, cov):
            raise TypeError("vjpnet.scipy.stats.multivariate_normal: allow_singular=True is "
                            "differentiable in x and mean only (a singular cov needs a "
                            "pseudo-determinant); cov is traced. Pass a constant cov, or use a "
                            "positive definite one")
        return getattr(_stats.multivariate_normal, method)(x, mean, cov, allow_singular=True)


class _FrozenMultivariateNormal:
    def __init__(self, distribution, mean, cov, allow_singular):
        self.dist, self.mean, self.cov, self.allow_singular = distribution, mean, cov, \
            allow_singular

    def logpdf(self, x):
        return self.dist.logpdf(x, self.mean, self.cov, self.allow_singular)

    def pdf(self, x):
        return self.dist.pdf(x, self.mean, self.cov, self.allow_singular)


class dirichlet_gen:
    """The Dirichlet distribution: pdf and logpdf; rvs (SciPy's sampler)."""

    def __repr__(self):
        return "<vjpnet.scipy.stats.dirichlet>"

    def __call__(self, alpha):
        _check_alpha(plain(_array(alpha)))
        return _FrozenDirichlet(self, alpha)

    def logpdf(self, x, alpha):
        """log density at x: (K, ...) or (K - 1, ...) -> (...) (squeezed); alpha: (K,)."""
        alpha = _array(alpha)
        _check_alpha(plain(alpha))
        x = _check_simplex(plain(alpha), _array(x))
        log_normalizer = np.sum(_sc.gammaln(alpha)) - _sc.gammaln(np.sum(alpha))
        return _squeeze_output(-log_normalizer + np.sum(_sc.xlogy(alpha - 1.0, x.T).T, axis=0))

    def pdf(self, x, alpha):
        """density at x."""
        return np.exp(self.logpdf(x, alpha))

    def rvs(self, alpha, size=1, random_state=None):
        """Samples: SciPy's dirichlet.rvs (plain arrays; sampling is not differentiated)."""
        _refuse_traced("dirichlet.rvs", alpha)
        return _stats.dirichlet.rvs(alpha, size=size, random_state=random_state)


class _FrozenDirichlet:
    def __init__(self, distribution, alpha):
        self.dist, self.alpha = distribution, alpha

    def logpdf(self, x):
        return self.dist.logpdf(x, self.alpha)

    def pdf(self, x):
        return self.dist.pdf(x, self.alpha)


def _refuse_traced(method, *values):
    if _any_traced(*values):
        raise TypeError(f"vjpnet.scipy.stats.{method}: sampling is not differentiable in "
                        "vjpnet, but a parameter is traced; pass plain arrays (for a "
                        "reparameterized sample, transform standard samples with NumPy "
                        "operations, e.g. mean + cholesky(cov) @ z)")


def _check_alpha(alpha):
    if np.min(alpha) <= 0:
        raise ValueError("All parameters must be greater than 0")
    if alpha.ndim != 1:
        raise ValueError(f"Parameter vector 'a' must be one dimensional, but a.shape = "
                         f"{alpha.shape}.")


def _check_simplex(alpha, x):
    """x with its implied last component appended, after SciPy's checks (on plain values)."""
    shape = np.shape(plain(x))
    if shape[0] + 1 != alpha.shape[0] and shape[0] != alpha.shape[0]:
        raise ValueError("Vector 'x' must have either the same number of entries as, or one "
                         f"entry fewer than, parameter vector 'a', but alpha.shape = "
                         f"{alpha.shape} and x.shape = {shape}.")
    if shape[0] != alpha.shape[0]:
        if len(shape) > 2:
            raise ValueError("The input must be one dimensional or a two dimensional matrix "
                             "containing the entries.")
        last = 1.0 - np.sum(x, axis=0)
        x = np.concatenate([x, np.reshape(last, (1,) + np.shape(plain(last)))], axis=0)
    values = plain(x)
    if np.min(values) < 0:
        raise ValueError("Each entry in 'x' must be greater than or equal to zero.")
    if np.max(values) > 1:
        raise ValueError("Each entry in 'x' must be smaller or equal one.")
    below_one = np.reshape(alpha < 1, (-1,) + (1,) * (values.ndim - 1))
    if np.any((values == 0) & below_one):
        raise ValueError("Each entry in 'x' must be greater than zero if its alpha is less "
                         "than one.")
    if (np.abs(np.sum(values, 0) - 1.0) > 10e-10).any():
        raise ValueError("The input vector 'x' must lie within the normal simplex. but "
                         f"np.sum(x, 0) = {np.sum(values, 0)}.")
    return x


multivariate_normal = multivariate_normal_gen()
dirichlet = dirichlet_gen()
