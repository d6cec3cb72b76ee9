"""Gaussian-process regression on scikit-learn's diabetes data, hyperparameters by maximum
marginal likelihood with scipy.optimize and vjpnet gradients.

Shows, in order:
1. a negative log marginal likelihood written with NumPy and vjpnet.scipy.linalg (cho_factor,
   cho_solve) over a dict of hyperparameters (an ARD squared-exponential kernel: one length
   scale per feature, a signal and a noise variance), checked against numeric derivatives;
2. scipy.optimize.minimize(value_and_grad(nll), jac=True) on the dict flattened by
   vjpnet.ravel_pytree, and the fitted value cross-checked with scikit-learn's
   GaussianProcessRegressor.log_marginal_likelihood and vjpnet.scipy.stats.multivariate_normal;
3. test-set predictions against a ridge-regression baseline, and a PNG of predicted vs true
   values (with 2-sigma bars) and of each feature's learned relevance (1 / length scale).

    python examples/gaussian_process.py [--quick] [--out DIR]
"""
import argparse
import math
import os

import numpy as np
import scipy.optimize

import vjpnet
from vjpnet.gradient_check import check_grads
from vjpnet.scipy.linalg import cho_factor, cho_solve
from vjpnet.scipy.stats import multivariate_normal

JITTER = 1e-8   # added to the kernel's diagonal, here and in scikit-learn's model (alpha)


def load_data(train_size, rng):
    """Standardized diabetes features and targets, split at random into train and test."""
    from sklearn.datasets import load_diabetes
    data = load_diabetes()
    X, y = data.data, data.target
    order = rng.permutation(len(y))
    train, test = order[:train_size], order[train_size:]
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    y_mean, y_std = y[train].mean(), y[train].std()
    return ((X[train] - mean) / std, (y[train] - y_mean) / y_std,
            (X[test] - mean) / std, y[test], (y_mean, y_std), data.feature_names)


def kernel(params, A, B):
    """ARD squared exponential: s^2 exp(-|(a - b) / lengthscales|^2 / 2). A: (n, d), B: (m, d)."""
    lengthscales = np.exp(params["log_lengthscales"])
    differences = (A[:, None, :] - B[None, :, :]) / lengthscales
    return np.exp(params["log_signal_variance"]) * np.exp(-0.5 * np.sum(differences ** 2, axis=2))


def train_covariance(params, X):
    noise = np.exp(params["log_noise_variance"]) + JITTER
    return kernel(params, X, X) + noise * np.eye(len(X))


def negative_log_marginal_likelihood(params, X, y):
    """-log N(y | 0, K(X, X) + noise I), through a Cholesky factor."""
    factor = cho_factor(train_covariance(params, X), lower=True)
    alpha = cho_solve(factor, y)
    return 0.5 * (y @ alpha) + np.sum(np.log(np.diag(factor[0]))) + \
        0.5 * len(y) * math.log(2.0 * math.pi)


def predict(params, X_train, y_train, X_test):
    """Posterior mean and variance (of a new noisy observation) at X_test."""
    factor = cho_factor(train_covariance(params, X_train), lower=True)
    cross = kernel(params, X_test, X_train)
    mean = cross @ cho_solve(factor, y_train)
    explained = np.sum(cross * cho_solve(factor, cross.T).T, axis=1)
    variance = np.exp(params["log_signal_variance"]) - explained + \
        np.exp(params["log_noise_variance"])
    return mean, variance


def scikit_learn_log_marginal_likelihood(params, X, y):
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
    model = GaussianProcessRegressor(
        ConstantKernel() * RBF(np.ones(X.shape[1])) + WhiteKernel(), alpha=JITTER,
        optimizer=None).fit(X, y)
    theta = np.concatenate([[params["log_signal_variance"]], params["log_lengthscales"],
                            [params["log_noise_variance"]]])
    return model.log_marginal_likelihood(theta)


def save_figure(y_true, mean, std, relevance, names, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.errorbar(y_true, mean, yerr=2 * std, fmt="o", markersize=3, alpha=0.6, elinewidth=0.8)
    low, high = min(y_true.min(), mean.min()), max(y_true.max(), mean.max())
    left.plot([low, high], [low, high], "k--", linewidth=1)
    left.set(title="Test set: GP mean ± 2σ", xlabel="true disease progression",
             ylabel="predicted")
    right.bar(range(len(relevance)), relevance)
    right.set_xticks(range(len(relevance)), names)
    right.set(title="Feature relevance (1 / length scale)", ylabel="1 / ℓ")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="fewer training points and optimizer iterations")
    parser.add_argument("--out", default="vjpnet_out",
                        help="folder for the PNG (default: %(default)s)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X, y, X_test, y_test, (y_mean, y_std), names = load_data(80 if args.quick else 300, rng)
    print(f"diabetes: {len(y)} training and {len(y_test)} test patients, {X.shape[1]} features")

    params = {"log_lengthscales": np.full(X.shape[1], math.log(3.0)),
              "log_signal_variance": np.array(0.0), "log_noise_variance": np.array(-1.0)}
    print("1. Gradient of the negative log marginal likelihood against numeric derivatives:")
    check_grads(lambda p: negative_log_marginal_likelihood(p, X, y), [params])
    print("   agrees (vjpnet.gradient_check.check_grads)")

    vector, unravel = vjpnet.ravel_pytree(params)
    objective = vjpnet.value_and_grad(lambda v: negative_log_marginal_likelihood(unravel(v), X, y))
    history = []
    result = scipy.optimize.minimize(objective, vector, jac=True, method="L-BFGS-B",
                                     callback=lambda v: history.append(objective(v)[0]),
                                     options={"maxiter": 15 if args.quick else 200})
    fitted = unravel(result.x)
    print(f"2. L-BFGS-B: {result.nit} iterations, {result.nfev} evaluations; negative log "
          f"marginal likelihood {history[0] if history else result.fun:.3f} -> {result.fun:.3f}")
    ours = -result.fun
    theirs = scikit_learn_log_marginal_likelihood(fitted, X, y)
    covariance = train_covariance(fitted, X)
    density = multivariate_normal.logpdf(y, np.zeros(len(y)), covariance)
    print(f"   log marginal likelihood: vjpnet {ours:.10f}, scikit-learn {theirs:.10f}, "
          f"vjpnet.scipy.stats.multivariate_normal {density:.10f}")
    print(f"   noise variance {np.exp(fitted['log_noise_variance']):.3f}, signal variance "
          f"{np.exp(fitted['log_signal_variance']):.3f}")

    mean, variance = predict(fitted, X, y, X_test)
    mean, std = mean * y_std + y_mean, np.sqrt(variance) * y_std
    rmse = np.sqrt(np.mean((mean - y_test) ** 2))
    ridge_weights = np.linalg.solve(X.T @ X + 1.0 * np.eye(X.shape[1]), X.T @ y)
    ridge_rmse = np.sqrt(np.mean((X_test @ ridge_weights * y_std + y_mean - y_test) ** 2))
    inside = np.mean(np.abs(mean - y_test) <= 2 * std)
    print(f"3. test RMSE: Gaussian process {rmse:.1f}, ridge regression {ridge_rmse:.1f}; "
          f"{100 * inside:.0f}% of test targets within 2σ")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "gaussian_process.png")
    save_figure(y_test, mean, std, np.exp(-fitted["log_lengthscales"]), names, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
