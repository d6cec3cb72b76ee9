"""The notebook's two-layer net, trained on the 8x8 digits that ship with scikit-learn.

Shows, in order:
1. the loss written three ways — one monolithic hand-written function, the notebook's modular
   forward/backward calls, and `vjpnet.grad` of a loss built from `vjpnet.nn` ops with plain
   NumPy regularization — computing the same gradients;
2. a gradient check of that loss against numeric derivatives;
3. training with the Solver, the train/val/test accuracy, and a PNG of the loss and accuracy
   curves.

    python examples/two_layer_net.py [--quick] [--out DIR]
"""
import argparse
import os

import numpy as np

import vjpnet
from vjpnet import nn
from vjpnet.data import load_digits
from vjpnet.gradient_check import eval_numerical_gradient, rel_error
from vjpnet.layers import affine_backward, affine_forward, relu_backward, relu_forward, \
    softmax_loss
from vjpnet.models import TwoLayerNet
from vjpnet.solver import Solver

from plotting import save_training_curves


def two_layer_net_monolithic(X, y, W1, b1, W2, b2, reg):
    """Loss and gradients of affine-relu-affine-softmax, forward and backward by hand."""
    N = X.shape[0]
    hidden_in = X.dot(W1) + b1
    hidden = np.maximum(0, hidden_in)
    scores = hidden.dot(W2) + b2
    shifted = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(N), y]).mean() + 0.5 * reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    dW2 = hidden.T.dot(dscores) + reg * W2
    db2 = dscores.sum(axis=0)
    dhidden = dscores.dot(W2.T) * (hidden_in > 0)
    dW1 = X.T.dot(dhidden) + reg * W1
    db1 = dhidden.sum(axis=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def two_layer_net_modular(X, y, W1, b1, W2, b2, reg):
    """The notebook's first cell: layer forwards, a loss, then layer backwards."""
    s1, fc1_cache = affine_forward(X, W1, b1)
    a1, relu_cache = relu_forward(s1)
    scores, fc2_cache = affine_forward(a1, W2, b2)
    data_loss, dscores = softmax_loss(scores, y)
    da1, dW2, db2 = affine_backward(dscores, fc2_cache)
    ds1 = relu_backward(da1, relu_cache)
    _, dW1, db1 = affine_backward(ds1, fc1_cache)
    loss = data_loss + 0.5 * reg * (np.sum(W1 ** 2) + np.sum(W2 ** 2))
    return loss, {"W1": dW1 + reg * W1, "b1": db1, "W2": dW2 + reg * W2, "b2": db2}


def loss_fn(params, X, y, reg):
    """The same loss as a pure function of params; vjpnet.grad differentiates it."""
    hidden = nn.relu(nn.affine(X, params["W1"], params["b1"]))
    scores = nn.affine(hidden, params["W2"], params["b2"])
    return nn.softmax_loss(scores, y) + 0.5 * reg * (np.sum(params["W1"] ** 2) +
                                                    np.sum(params["W2"] ** 2))


def compare_three_ways(data, reg=0.1):
    rng = np.random.default_rng(0)
    X, y = data["X_train"][:50], data["y_train"][:50]
    params = {"W1": 0.1 * rng.standard_normal((64, 20)), "b1": 0.1 * rng.standard_normal(20),
              "W2": 0.1 * rng.standard_normal((20, 10)), "b2": 0.1 * rng.standard_normal(10)}
    loss_mono, grads_mono = two_layer_net_monolithic(X, y, reg=reg, **params)
    loss_mod, grads_mod = two_layer_net_modular(X, y, reg=reg, **params)
    loss_grad, grads_grad = vjpnet.value_and_grad(loss_fn)(params, X, y, reg)
    print("1. The same loss three ways (monolithic / modular / vjpnet.grad):")
    print(f"   loss {loss_mono:.12f} / {loss_mod:.12f} / {loss_grad:.12f}")
    for name in params:
        print(f"   d{name}: rel. error modular {rel_error(grads_mono[name], grads_mod[name]):.1e}"
              f", grad {rel_error(grads_mono[name], grads_grad[name]):.1e}")

    print("2. Gradient check of vjpnet.grad against numeric derivatives:")
    for name in params:
        def f(value, name=name):
            return loss_fn(dict(params, **{name: value}), X, y, reg)
        numeric = eval_numerical_gradient(f, params[name].copy(), verbose=False)
        print(f"   {name} relative error: {rel_error(numeric, grads_grad[name]):.2e}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="train for one epoch only")
    parser.add_argument("--out", default="vjpnet_out",
                        help="folder for the PNG (default: %(default)s)")
    args = parser.parse_args()

    data = load_digits()
    print(f"digits: {len(data['X_train'])} train, {len(data['X_val'])} val, "
          f"{len(data['X_test'])} test images of {data['X_train'].shape[1]} pixels")
    compare_three_ways(data)

    print("3. Training TwoLayerNet(64, 100, 10) with SGD + momentum:")
    model = TwoLayerNet(input_dim=64, hidden_dim=100, num_classes=10, weight_scale=0.1,
                        reg=1e-3)
    solver = Solver(model, data, update_rule="sgd_momentum",
                    optim_config={"learning_rate": 0.05}, lr_decay=0.95,
                    num_epochs=1 if args.quick else 20, batch_size=50, print_every=100,
                    num_train_samples=None)
    solver.train()
    for split in ("train", "val", "test"):
        accuracy = solver.check_accuracy(data[f"X_{split}"], data[f"y_{split}"])
        print(f"   {split} accuracy: {accuracy:.3f}")

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "two_layer_net_curves.png")
    save_training_curves(solver, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
