"""Train a two-layer net with vjpnet.grad on a generated spiral (until the digits data lands).

    python examples/two_layer_net.py [--quick]
"""
import argparse

import numpy as np

import vjpnet


def spiral(n_per_class=100, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X, y = [], []
    for c in range(classes):
        r = np.linspace(0.0, 1, n_per_class)
        t = np.linspace(c * 4, (c + 1) * 4, n_per_class) + rng.standard_normal(n_per_class) * 0.2
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(n_per_class, c))
    return np.concatenate(X), np.concatenate(y)


def loss_fn(params, X, y, reg=1e-3):
    hidden = np.maximum(0, X @ params["W1"] + params["b1"])
    scores = hidden @ params["W2"] + params["b2"]
    scores = scores - np.max(scores, axis=1, keepdims=True)
    log_probs = scores - np.log(np.sum(np.exp(scores), axis=1, keepdims=True))
    data_loss = -np.mean(log_probs[np.arange(len(y)), y])
    return data_loss + 0.5 * reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few iterations only")
    args = parser.parse_args()
    X, y = spiral()
    rng = np.random.default_rng(1)
    params = {"W1": 0.5 * rng.standard_normal((2, 100)), "b1": np.zeros(100),
              "W2": 0.5 * rng.standard_normal((100, 3)), "b2": np.zeros(3)}
    value_and_grad = vjpnet.value_and_grad(loss_fn)
    for step in range(50 if args.quick else 2000):
        loss, grads = value_and_grad(params, X, y)
        params = {k: params[k] - 0.5 * grads[k] for k in params}
        if step % 200 == 0:
            print(f"step {step:5d}  loss {loss:.4f}")
    hidden = np.maximum(0, X @ params["W1"] + params["b1"])
    accuracy = np.mean(np.argmax(hidden @ params["W2"] + params["b2"], axis=1) == y)
    print(f"training accuracy: {accuracy:.3f}")


if __name__ == "__main__":
    main()
