"""scipy.stats inside grad: the distributions below with SciPy's method names and signatures
(pdf/logpdf/cdf/logcdf/sf/logsf, pmf/logpmf for poisson), differentiable in the data and the
parameters, and frozen distributions (`norm(loc, scale).logpdf(x)`).

    univariate     norm, t, gamma, beta, chi2, expon, laplace, cauchy, logistic, poisson
    multivariate   multivariate_normal (pdf, logpdf), dirichlet (pdf, logpdf)
"""
from vjpnet.scipy.stats._multivariate import dirichlet, multivariate_normal
from vjpnet.scipy.stats._univariate import (beta, cauchy, chi2, expon, gamma, laplace, logistic,
                                            norm, poisson, t)

__all__ = ["norm", "t", "gamma", "beta", "chi2", "expon", "laplace", "cauchy", "logistic",
           "poisson", "multivariate_normal", "dirichlet"]
