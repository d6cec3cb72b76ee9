"""Write your own primitive: a forward with a cache, a VJP, a check, and use inside grad.

    python examples/custom_primitive.py [--quick]
"""
import argparse

import numpy as np

import vjpnet
from vjpnet.gradient_check import check_grads


# 1. The forward returns (out, cache): the cache is whatever the VJP will need.
@vjpnet.primitive
def softplus(x):
    """log(1 + exp(x)), computed stably. x: any shape; out: same shape."""
    return np.logaddexp(0.0, x), x


# 2. The VJP maps the output's cotangent g to one cotangent per positional argument.
#    Written with NumPy operations, it is itself differentiable (second derivatives work).
@softplus.defvjp
def softplus_vjp(g, x):
    return (g / (1.0 + np.exp(-x)),)


# 3. A spec gives sample inputs, so the same checks the library runs on its own primitives
#    can run on this one.
softplus.defspec(lambda rng: vjpnet.Sample(rng.standard_normal((3, 4))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="(this example is always quick)")
    parser.add_argument("--out", help="(this example writes no pictures)")
    parser.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))

    check_grads(softplus, [x], order=2)
    print("check_grads(softplus, order=2): VJP and its derivative match numeric derivatives")

    def loss(w, x, y):
        """Logistic-regression loss, with softplus as the link: mean(softplus(-y * x @ w))."""
        return np.mean(softplus(-y * (x @ w)))

    X = rng.standard_normal((64, 4))
    y = np.sign(X @ np.array([1.0, -2.0, 0.5, 0.0]) + 0.1 * rng.standard_normal(64))
    w = np.zeros(4)
    for _ in range(200):
        w = w - 0.5 * vjpnet.grad(loss)(w, X, y)
    print(f"trained weights: {np.round(w, 2)}  loss {loss(w, X, y):.4f}")
    print(f"Hessian-vector product via nested grad: "
          f"{np.round(vjpnet.grad(lambda w: vjpnet.grad(loss)(w, X, y) @ np.ones(4))(w), 4)}")

    # 4. A NumPy function without a VJP is an error that says how to add one.
    try:
        vjpnet.grad(lambda a: np.sum(np.linalg.eigh(a)[0]))(np.eye(2))
    except TypeError as error:
        print("\nA NumPy function without a VJP raises:\n" + str(error))


if __name__ == "__main__":
    main()
