"""HIPS autograd spellings that vjpnet accepts: `argnum=` for `argnums=` (an int, tuple or
list) and check_grads(f, ...)(*args)."""
import numpy as np
import pytest

import vjpnet
from vjpnet.gradient_check import check_grads


def f(x, y):
    return np.sum(np.sin(x) * y ** 2)


X, Y = np.array([0.3, -1.2]), np.array([2.0, 0.5])


def test_grad_argnum_is_argnums():
    np.testing.assert_allclose(vjpnet.grad(f, argnum=1)(X, Y), 2 * np.sin(X) * Y)
    gx, gy = vjpnet.grad(f, argnum=[0, 1])(X, Y)     # a list of positions gives a tuple
    np.testing.assert_allclose(gx, np.cos(X) * Y ** 2)
    np.testing.assert_allclose(gy, 2 * np.sin(X) * Y)
    value, (gx2, gy2) = vjpnet.value_and_grad(f, argnum=(0, 1))(X, Y)
    assert value == pytest.approx(f(X, Y))
    np.testing.assert_array_equal(gx2, gx)
    np.testing.assert_allclose(vjpnet.elementwise_grad(lambda a, b: np.sin(a) * b, argnum=1)(X, Y),
                               np.sin(X))


def test_jacobian_and_hessian_argnum():
    for transform in (vjpnet.jacobian, vjpnet.jacrev, vjpnet.jacfwd):
        np.testing.assert_allclose(transform(lambda a, b: np.sin(a) * b, argnum=1)(X, Y),
                                   np.diag(np.sin(X)))
    np.testing.assert_allclose(vjpnet.hessian(f, argnum=1)(X, Y), np.diag(2 * np.sin(X)))


def test_argnums_as_list_matches_tuple():
    by_list = vjpnet.grad(f, argnums=[1, 0])(X, Y)
    by_tuple = vjpnet.grad(f, argnums=(1, 0))(X, Y)
    assert isinstance(by_list, tuple)
    for a, b in zip(by_list, by_tuple):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("transform", [vjpnet.grad, vjpnet.value_and_grad,
                                       vjpnet.elementwise_grad, vjpnet.jacobian,
                                       vjpnet.hessian])
def test_argnum_and_argnums_together_is_an_error(transform):
    with pytest.raises(TypeError, match="argnums=1 and argnum=0; pass one of them"):
        transform(f, argnums=1, argnum=0)


def test_check_grads_without_args_returns_the_check():
    check_grads(f, modes=["rev"])(X, Y)
    check_grads(f, modes=("rev", "fwd"), order=2)(X, Y)
    wrong = vjpnet.primitive(lambda x: (np.sin(x), x), vjp=lambda g, x: (g * np.sin(x),))
    with pytest.raises(AssertionError):
        check_grads(lambda x: np.sum(wrong(x)), modes=["rev"])(X)
