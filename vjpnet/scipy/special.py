"""scipy.special inside grad, with SciPy's names and signatures.

The ufuncs (gammaln, digamma, erf, expit, xlogy, iv, ...) are SciPy's own objects: on traced
values they dispatch to the primitives of `_special_ufuncs` (registered on import, or on first
use without importing this module). The functions SciPy writes in Python, which convert their
arguments with np.asarray, are rewritten here with NumPy operations: polygamma, multigammaln,
logsumexp, softmax, log_softmax. softplus and zeta are SciPy's (they call ufuncs directly).
gammasgn is piecewise constant: on traced values it gives a plain result (no gradient).

Not differentiated (a traced value raises, naming the argument): polygamma's n, multigammaln's
d, the orders of the Bessel functions, and the parameters whose derivative has no closed form
(gammainc's a, betainc's a and b, stdtr's df, zeta's x).
"""
import math

import numpy as np
import scipy.special as _sc
from scipy.special import (  # noqa: F401  (SciPy's ufuncs; vjpnet routes them on traced values)
    beta, betainc, betaincc, betainccinv, betaincinv, betaln, boxcox, boxcox1p, dawsn, digamma,
    entr, erf, erfc, erfcinv, erfcx, erfi, erfinv, exp1, expi, expit, expm1, gamma, gammainc,
    gammaincc, gammainccinv, gammaincinv, gammaln, huber, i0, i0e, i1, i1e, inv_boxcox,
    inv_boxcox1p, iv, ive, j0, j1, jn, jv, k0, k0e, k1, k1e, kl_div, kv, kve, log1p, log_expit,
    log_ndtr, loggamma, logit, ndtr, ndtri, ndtri_exp, poch, pseudo_huber, psi, rel_entr,
    rgamma, softplus, stdtr, stdtrit, xlog1py, xlogy, y0, y1, yn, yv, zeta)
from scipy.special import gammasgn  # noqa: F401  (piecewise constant: a plain result)

from vjpnet.scipy import _special_ufuncs
from vjpnet.scipy._ufunc import safe
from vjpnet.tape import Traced, plain

__all__ = ["polygamma", "multigammaln", "logsumexp", "softmax", "log_softmax", "beta", "betainc",
           "betaincc", "betainccinv", "betaincinv", "betaln", "boxcox", "boxcox1p", "dawsn",
           "digamma", "entr", "erf", "erfc", "erfcinv", "erfcx", "erfi", "erfinv", "exp1", "expi",
           "expit", "expm1", "gamma", "gammainc", "gammaincc", "gammainccinv", "gammaincinv",
           "gammaln", "gammasgn", "huber", "i0", "i0e", "i1", "i1e", "inv_boxcox", "inv_boxcox1p",
           "iv", "ive", "j0", "j1", "jn", "jv", "k0", "k0e", "k1", "k1e", "kl_div", "kv", "kve",
           "log1p", "log_expit", "log_ndtr", "loggamma", "logit", "ndtr", "ndtri", "ndtri_exp",
           "poch", "pseudo_huber", "psi", "rel_entr", "rgamma", "softplus", "stdtr", "stdtrit",
           "xlog1py", "xlogy", "y0", "y1", "yn", "yv", "zeta"]


def _array(x):
    """np.asarray(x) (lists and scalars, as SciPy accepts); a traced array unchanged, a traced
    Python number as a NumPy scalar (so it has a dtype and a shape)."""
    if type(x) is Traced:
        return np.reshape(x, ()) if type(plain(x)) in (float, complex) else x
    return np.asarray(x)


def _constant(function, name, value):
    if type(value) is Traced:
        raise TypeError(f"vjpnet.scipy.special.{function}: {name} is traced, but vjpnet does "
                        f"not differentiate with respect to {name} (an integer); pass it as a "
                        "constant")
    return value


def polygamma(n, x):
    """The n-th derivative of digamma at x, differentiable in x (n: non-negative integers)."""
    n = np.asarray(_constant("polygamma", "n", n))
    return _special_ufuncs.polygamma_of(n if n.ndim else int(n), _array(x))


def multigammaln(a, d):
    """log of the multivariate gamma function of dimension d (an integer), differentiable in a.

    Raises ValueError like SciPy unless a > (d - 1) / 2 everywhere.
    """
    d = np.asarray(_constant("multigammaln", "d", d))[()]
    if not np.isscalar(d) or np.floor(d) != d:
        raise ValueError("d should be a positive integer (dimension)")
    a = _array(a)
    if np.any(plain(a) <= 0.5 * (d - 1)):
        raise ValueError(f"condition a ({plain(a)}) > 0.5 * (d-1) ({0.5 * (d - 1)}) not met")
    d = int(d)
    terms = np.stack([a - 0.5 * j for j in range(d)])
    return (d * (d - 1) * 0.25) * math.log(math.pi) + np.sum(_sc.gammaln(terms), axis=0)


def logsumexp(a, axis=None, b=None, keepdims=False, return_sign=False):
    """log(sum(b * exp(a))) over `axis`, as scipy.special.logsumexp (real inputs).

    Differentiable in a and b. Like SciPy it shifts by the maximum and sums the maximal terms
    separately (log1p of the rest), entries with b == 0 add nothing, a negative sum gives NaN
    unless return_sign=True, which returns (log|sum|, sign of the sum) with a constant sign.
    """
    a = _array(a)
    if b is not None:
        b = _array(b)
        shape = np.broadcast_shapes(a.shape, b.shape)
        a = a if a.shape == shape else np.broadcast_to(a, shape)
        b = b if b.shape == shape else np.broadcast_to(b, shape)
        a = np.where(plain(b) == 0, -np.inf, a)
    if not np.issubdtype(a.dtype, np.floating):
        a = a.astype(np.result_type(a.dtype, np.float64) if b is None else
                     np.result_type(a.dtype, b.dtype, np.float64))
    if a.size == 0:
        out = _sc.logsumexp(np.zeros(a.shape, a.dtype), axis=axis, keepdims=keepdims,
                            return_sign=return_sign)
        return out
    a_plain = plain(a)
    with np.errstate(invalid="ignore"):
        a_max = np.max(a_plain, axis=axis, keepdims=True)
        finite_max = np.isfinite(a_max)
        shift = np.where(finite_max, a_max, 0.0).astype(a_plain.dtype)
        is_max = (a_plain == a_max) & finite_max
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        terms = np.exp(a - shift)
        if b is not None:
            terms = b * terms
        m = np.sum(np.where(is_max, terms, 0.0), axis=axis, keepdims=True)
        rest = np.sum(np.where(is_max, 0.0, terms), axis=axis, keepdims=True)
        m_plain = plain(m)
        has_max = m_plain != 0
        s = np.where(has_max, rest / safe(has_max, m, 1.0), rest)
        s_plain = plain(s)
        sign = np.sign(s_plain + 1.0) * np.sign(m_plain)
        below = s_plain < -1.0
        if below.any():
            s = np.where(below, -s - 2.0, s)
        out = np.log1p(s) + np.log(np.abs(m)) + shift
        finite = np.isfinite(plain(out))
        if not finite.all():   # no usable maximum (all -inf, an inf, a NaN): SciPy sums directly
            direct = terms * np.exp(shift)
            total = np.sum(direct, axis=axis, keepdims=True)
            sign = np.where(finite, sign, np.sign(plain(total)))
            out = np.where(finite, out, np.log(np.abs(total)))
    if not return_sign:
        negative = sign < 0
        if negative.any():
            out = np.where(negative, np.nan, out)
    if not keepdims:
        out = np.squeeze(out, axis=axis)
        sign = np.squeeze(sign, axis=axis)
    if np.ndim(sign) == 0:
        sign = sign[()]
    return (out, sign) if return_sign else out


def softmax(x, axis=None):
    """exp(x) / sum(exp(x)) over `axis`, shifted by the (constant) maximum, as SciPy."""
    x = _array(x)
    x_max = np.max(plain(x), axis=axis, keepdims=True)
    shifted = np.exp(x - x_max)
    return shifted / np.sum(shifted, axis=axis, keepdims=True)


def log_softmax(x, axis=None):
    """log(softmax(x)) computed as SciPy does (x - max - log sum exp(x - max))."""
    x = _array(x)
    x_max = np.max(plain(x), axis=axis, keepdims=True)
    x_max = np.where(np.isfinite(x_max), x_max, 0.0).astype(x_max.dtype)
    shifted = x - x_max
    with np.errstate(divide="ignore"):
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
