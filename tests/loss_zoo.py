"""A zoo of realistic loss functions written in plain NumPy, for tests and benchmarks.

Each loss is `loss(np, params, *data) -> scalar`, where `np` is the NumPy module to use (numpy
itself for vjpnet, autograd.numpy for HIPS autograd), `params` a dict of float arrays and
`data` constant arrays. `make_problem(name, rng, dtype)` builds (params, data) of matching
shapes; `LOSSES` lists every loss.
"""
import math

import numpy


def _log_softmax(np, logits):
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))


def softmax_cross_entropy(np, params, X, y):
    """Linear softmax classifier. X: (N, D), y: (N,) ints; W: (D, C), b: (C,)."""
    logits = np.dot(X, params["W"]) + params["b"]
    log_probs = _log_softmax(np, logits)
    return -np.mean(log_probs[np.arange(X.shape[0]), y])


def logistic_regression(np, params, X, y):
    """Binary logistic regression with labels y in {-1, +1} and an L2 penalty. w: (D,)."""
    margins = y * (X @ params["w"] + params["b"])
    return np.mean(np.logaddexp(0.0, -margins)) + 1e-2 * np.sum(params["w"] ** 2)


def mlp_tanh(np, params, X, Y):
    """Two-layer tanh MLP regression, squared error + weight decay. X: (N, D), Y: (N, K)."""
    hidden = np.tanh(X @ params["W1"] + params["b1"])
    prediction = hidden @ params["W2"] + params["b2"]
    decay = np.sum(params["W1"] * params["W1"]) + np.sum(params["W2"] * params["W2"])
    return 0.5 * np.mean(np.sum((prediction - Y) ** 2, axis=1)) + 1e-3 * decay


def gaussian_nll(np, params, X, y):
    """Heteroscedastic Gaussian negative log-likelihood: mean and log-std both linear in X."""
    mean = X @ params["w_mean"]
    log_std = X @ params["w_log_std"] * 0.1
    z = (y - mean) / np.exp(log_std)
    return np.mean(0.5 * z * z + log_std) + 0.5 * math.log(2 * math.pi)


def norm_penalty(np, params, X, y):
    """Least squares with a group-lasso penalty (row norms of W) and an L1 term."""
    residual = X @ params["W"] - y
    group = np.sum(np.linalg.norm(params["W"], axis=1))
    return np.mean(residual ** 2) + 0.1 * group + 0.01 * np.sum(np.abs(params["W"]))


def attention(np, params, X, target):
    """One self-attention head: softmax(Q K^T / sqrt(d)) V, squared error. X: (T, D)."""
    Q, K, V = X @ params["Wq"], X @ params["Wk"], X @ params["Wv"]
    scores = Q @ K.T / math.sqrt(Q.shape[1])
    scores = scores - np.max(scores, axis=1, keepdims=True)
    weights = np.exp(scores)
    weights = weights / np.sum(weights, axis=1, keepdims=True)
    return np.mean((weights @ V - target) ** 2)


def multiclass_svm(np, params, X, y):
    """The notebook's multiclass hinge loss (vectorized) with L2 regularization."""
    scores = X @ params["W"]
    N = X.shape[0]
    correct = scores[np.arange(N), y]
    margins = np.maximum(0.0, scores - correct[:, None] + 1.0)
    margins = np.where(numpy.arange(scores.shape[1])[None, :] == y[:, None], 0.0, margins)
    return np.sum(margins) / N + 0.5 * 1e-2 * np.sum(params["W"] ** 2)


def huber_regression(np, params, X, y):
    """Robust regression with the Huber loss (delta = 1)."""
    residual = X @ params["w"] + params["b"] - y
    absolute = np.abs(residual)
    return np.mean(np.where(absolute < 1.0, 0.5 * residual ** 2, absolute - 0.5))


def poisson_regression(np, params, X, counts):
    """Poisson GLM negative log-likelihood with a log link."""
    log_rate = X @ params["w"]
    return np.mean(np.exp(log_rate) - counts * log_rate)


def rnn_tanh(np, params, X, target):
    """A vanilla tanh RNN unrolled over time (stacked states). X: (T, N, D)."""
    h = np.zeros((X.shape[1], params["Wh"].shape[0]), dtype=X.dtype)
    states = []
    for t in range(X.shape[0]):
        h = np.tanh(X[t] @ params["Wx"] + h @ params["Wh"] + params["b"])
        states.append(h)
    return np.mean((np.stack(states) - target) ** 2)


def batchnorm_mlp(np, params, X, y):
    """Affine -> batch normalization (mean/var over the batch) -> ReLU -> softmax loss."""
    a = X @ params["W1"]
    normalized = (a - np.mean(a, axis=0)) / np.sqrt(np.var(a, axis=0) + 1e-5)
    hidden = np.maximum(0.0, normalized * params["gamma"] + params["beta"])
    log_probs = _log_softmax(np, hidden @ params["W2"])
    return -np.mean(log_probs[np.arange(X.shape[0]), y])


def contrastive(np, params, X, Z):
    """InfoNCE-style: cosine similarities of two projected views, cross-entropy on matches."""
    a = X @ params["Wa"]
    b = Z @ params["Wb"]
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    log_probs = _log_softmax(np, 5.0 * a @ b.T)
    return -np.mean(np.diag(log_probs))


def gp_marginal_likelihood(np, params, X, y):
    """Gaussian-process negative log marginal likelihood, RBF kernel (solve and det)."""
    sq_dist = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=2)
    kernel = np.exp(params["log_amp"]) * np.exp(-0.5 * sq_dist / np.exp(2 * params["log_len"]))
    K = kernel + (np.exp(params["log_noise"]) + 1e-3) * numpy.eye(X.shape[0], dtype=X.dtype)
    return 0.5 * np.dot(y, np.linalg.solve(K, y)) + 0.5 * np.log(np.linalg.det(K))


LOSSES = [softmax_cross_entropy, logistic_regression, mlp_tanh, gaussian_nll, norm_penalty,
          attention, multiclass_svm, huber_regression, poisson_regression, rnn_tanh,
          batchnorm_mlp, contrastive, gp_marginal_likelihood]


def make_problem(name, rng, dtype=numpy.float64, scale=1):
    """(params, data) for the loss `name`; `scale` multiplies the batch size."""
    def normal(*shape, std=1.0):
        return (rng.standard_normal(shape) * std).astype(dtype)

    N, D, C, H = 16 * scale, 8, 5, 12
    if name == "softmax_cross_entropy":
        return {"W": normal(D, C, std=0.3), "b": normal(C, std=0.1)}, \
            (normal(N, D), rng.integers(0, C, N))
    if name == "logistic_regression":
        return {"w": normal(D, std=0.3), "b": normal(std=0.1)}, \
            (normal(N, D), rng.choice([-1.0, 1.0], N).astype(dtype))
    if name == "mlp_tanh":
        return {"W1": normal(D, H, std=0.3), "b1": normal(H, std=0.1),
                "W2": normal(H, 3, std=0.3), "b2": normal(3, std=0.1)}, \
            (normal(N, D), normal(N, 3))
    if name == "gaussian_nll":
        return {"w_mean": normal(D, std=0.3), "w_log_std": normal(D, std=0.3)}, \
            (normal(N, D), normal(N))
    if name == "norm_penalty":
        return {"W": normal(D, 3, std=0.5)}, (normal(N, D), normal(N, 3))
    if name == "attention":
        return {"Wq": normal(D, 4, std=0.4), "Wk": normal(D, 4, std=0.4),
                "Wv": normal(D, 4, std=0.4)}, (normal(N, D), normal(N, 4))
    if name == "multiclass_svm":
        return {"W": normal(D, C, std=0.3)}, (normal(N, D), rng.integers(0, C, N))
    if name == "huber_regression":
        return {"w": normal(D, std=0.5), "b": normal(std=0.1)}, (normal(N, D), normal(N) * 2)
    if name == "poisson_regression":
        return {"w": normal(D, std=0.2)}, \
            (normal(N, D), rng.poisson(2.0, N).astype(dtype))
    if name == "rnn_tanh":
        return {"Wx": normal(D, H, std=0.3), "Wh": normal(H, H, std=0.2),
                "b": normal(H, std=0.1)}, (normal(6, N // 4 + 1, D), normal(6, N // 4 + 1, H))
    if name == "batchnorm_mlp":
        return {"W1": normal(D, H, std=0.4), "gamma": 1 + normal(H, std=0.1),
                "beta": normal(H, std=0.1), "W2": normal(H, C, std=0.3)}, \
            (normal(N, D), rng.integers(0, C, N))
    if name == "contrastive":
        return {"Wa": normal(D, 6, std=0.4), "Wb": normal(D, 6, std=0.4)}, \
            (normal(N, D), normal(N, D))
    if name == "gp_marginal_likelihood":
        return {"log_amp": normal(std=0.1), "log_len": 0.3 + normal(std=0.1),
                "log_noise": normal(std=0.1) - 1.0}, (normal(10, 2), normal(10))
    raise KeyError(name)
