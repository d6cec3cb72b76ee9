"""Writing primitives: nondiff_argnums (arguments never differentiated) and its errors."""
import numpy as np
import pytest

import vjpnet
from vjpnet.gradient_check import check_grads


def _leaky_relu_forward(x, alpha):
    return np.where(x > 0, x, alpha * x), (x, alpha)


def _leaky_relu_vjp(g, cache):   # one cotangent: alpha is nondiff
    x, alpha = cache
    return np.where(x > 0, g, alpha * g)


leaky_relu = vjpnet.primitive(_leaky_relu_forward, vjp=_leaky_relu_vjp, name="leaky_relu",
                              nondiff_argnums=(1,))

X = np.array([[-1.5, 0.5], [2.0, -0.25]])


def test_a_nondiff_hyperparameter_is_positional_and_the_vjp_skips_it():
    assert leaky_relu.nondiff_argnums == (1,)
    gradient = vjpnet.grad(lambda x: np.sum(leaky_relu(x, 0.1) ** 2))(X)
    np.testing.assert_allclose(gradient, 2 * np.where(X > 0, X, 0.01 * X))
    check_grads(lambda x: leaky_relu(x, 0.1), [X], order=2)


def test_a_traced_value_at_a_nondiff_position_names_the_primitive_and_argument():
    pattern = r"leaky_relu: argument 1 \(alpha\) is never differentiated.*stop_gradient\(alpha\)"
    with pytest.raises(TypeError, match=pattern):   # with x traced too
        vjpnet.grad(lambda a: np.sum(leaky_relu(X * a, a)))(0.1)
    with pytest.raises(TypeError, match=pattern):   # with nothing else traced
        vjpnet.grad(lambda a: np.sum(leaky_relu(X, a)))(0.1)
    with pytest.raises(TypeError, match=pattern):   # traced by an enclosing grad only
        def inner(x, a):
            return np.sum(vjpnet.grad(lambda x: np.sum(leaky_relu(x, a)))(x))
        vjpnet.grad(inner, argnums=1)(X, 0.1)
    # stop_gradient makes it a constant
    vjpnet.grad(lambda a: np.sum(leaky_relu(X * a, vjpnet.stop_gradient(a))))(0.1)


def test_nondiff_in_the_middle_and_a_selective_vjp_see_only_the_differentiable_arguments():
    seen = []

    @vjpnet.primitive(selective_vjp=True, nondiff_argnums=(1,))
    def scaled_product(x, power, y):
        return x ** power * y, (x, power, y)

    @scaled_product.defvjp
    def scaled_product_vjp(g, cache, needed):   # needed, result: (x, y)
        x, power, y = cache
        seen.append(needed)
        return (g * power * x ** (power - 1) * y if needed[0] else None,
                g * x ** power if needed[1] else None)

    x, y = np.array([1.5, 2.0]), np.array([0.5, -1.0])
    dx, dy = vjpnet.grad(lambda x, y: np.sum(scaled_product(x, 3, y)), argnums=(0, 1))(x, y)
    np.testing.assert_allclose(dx, 3 * x ** 2 * y)
    np.testing.assert_allclose(dy, x ** 3)
    assert seen[-1] == (True, True)
    vjpnet.grad(lambda y: np.sum(scaled_product(x, 3, y)))(y)
    assert seen[-1] == (False, True)
    check_grads(lambda x, y: scaled_product(x, 2, y), [x, y], order=2)


def test_a_first_order_kernel_with_nondiff_arguments_in_forward_mode():
    @vjpnet.primitive(first_order=True, nondiff_argnums=(1,))
    def scale_rows(x, factors):
        return x * factors[:, None], factors

    @scale_rows.defvjp
    def scale_rows_vjp(g, factors):
        return g * factors[:, None]

    @scale_rows.defjvp
    def scale_rows_jvp(tangents, factors):   # one tangent per differentiable argument
        (dx,) = tangents
        return dx * factors[:, None]

    factors = np.array([2.0, -3.0])
    check_grads(lambda x: scale_rows(x, factors), [X], modes=("fwd", "rev"))
    jacobian = vjpnet.jacfwd(lambda x: scale_rows(x, factors))(X)
    np.testing.assert_allclose(jacobian, vjpnet.jacrev(lambda x: scale_rows(x, factors))(X))


def test_invalid_nondiff_argnums():
    with pytest.raises(ValueError, match=r"nondiff_argnums=\(-1,\)"):
        vjpnet.primitive(lambda x, a: (x, None), nondiff_argnums=(-1,))
    assert vjpnet.primitive(lambda x, a: (x, None), nondiff_argnums=1).nondiff_argnums == (1,)


def test_the_layer_ops_declare_their_hyperparameters_and_labels_nondiff():
    from vjpnet import nn
    assert nn.conv2d.nondiff_argnums == (3,) and nn.max_pool2d.nondiff_argnums == (1,)
    assert nn.softmax_loss.nondiff_argnums == (1,) and nn.dropout.nondiff_argnums == (1,)
    scores = np.array([[1.0, -0.5, 0.25], [0.5, 2.0, -1.0]])
    with pytest.raises(TypeError, match=r"softmax_loss: argument 1 \(y\) is never differentiated"):
        vjpnet.grad(lambda s: nn.softmax_loss(s, np.sum(s) * 0.0))(scores)
