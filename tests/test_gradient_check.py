"""vjpnet.gradient_check: the notebook's numeric helpers and check_grads."""
import numpy as np
import pytest

import vjpnet
from vjpnet.gradient_check import (check_grads, eval_numerical_gradient,
                                   eval_numerical_gradient_array, grad_check_sparse, rel_error)


def test_numeric_gradients_restore_x_and_match_analytic():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    before = x.copy()
    numeric = eval_numerical_gradient(lambda x: np.sum(x ** 3), x, verbose=False)
    np.testing.assert_allclose(numeric, 3 * x ** 2, rtol=1e-6, atol=1e-9)
    df = rng.standard_normal((3, 4))
    np.testing.assert_allclose(eval_numerical_gradient_array(np.sin, x, df), np.cos(x) * df,
                               atol=1e-9, rtol=1e-6)
    np.testing.assert_array_equal(x, before)


def test_grad_check_sparse_prints_small_errors(capsys):
    np.random.seed(0)
    x = np.random.randn(5, 5)
    grad_check_sparse(lambda x: np.sum(x ** 2), x, 2 * x, num_checks=4)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    assert all(float(line.rsplit(" ", 1)[1]) < 1e-8 for line in lines)


def test_rel_error_is_the_notebooks():
    assert rel_error(np.array([1.0]), np.array([1.0 + 2e-8])) == pytest.approx(1e-8, rel=1e-3)
    assert rel_error(np.zeros(2), np.zeros(2)) == 0.0


def test_check_grads_passes_on_correct_vjps_to_second_order():
    rng = np.random.default_rng(1)
    check_grads(lambda p: np.tanh(p["a"] @ p["b"]),
                [{"a": rng.standard_normal((2, 3)), "b": rng.standard_normal((3, 2))}], order=2)


def test_check_grads_names_the_worst_argument_and_element():
    wrong = vjpnet.primitive(lambda x, y: (x * y, (x, y)),
                             vjp=lambda g, c: (g * c[1], g * c[0] * 1.5), name="wrong_mul")
    x, y = np.ones(3), np.array([1.0, 2.0, 3.0])
    with pytest.raises(AssertionError, match=r"argument 1.*worst element: argument 1\[\(\d,\)\]"):
        check_grads(wrong, [x, y])


def test_check_grads_names_the_element_with_a_nan_derivative():
    nan_at_1 = vjpnet.primitive(lambda x: (2.0 * x, None),
                                vjp=lambda g, c: (g * np.array([2.0, np.nan, 2.0]),),
                                name="nan_at_1")
    with pytest.raises(AssertionError, match=r"worst element: argument 0\[\(1,\)\] vjp nan"):
        check_grads(nan_at_1, [np.ones(3)], modes=("rev",))


def test_check_grads_warns_in_float32():
    with pytest.warns(UserWarning, match="float32"):
        check_grads(np.exp, [np.ones(3, np.float32)], rtol=1e-2, atol=1e-2)


def test_check_grads_perturbs_real_and_imaginary_parts_of_complex_arguments():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((2, 3)) + 1j * rng.standard_normal((2, 3))
    check_grads(lambda z, x: np.exp(z) * np.conj(z) + x, [z, rng.standard_normal(3)], order=2)
    check_grads(lambda z: np.abs(z) ** 3, [1.0 + 2.0j])   # a Python complex argument
    # A conjugated VJP (the usual complex bug) is caught, and the report names the part
    conjugated = vjpnet.primitive(lambda z: (z * z, z), vjp=lambda g, z: (np.conj(g * 2 * z),),
                                  name="conjugated_square")
    with pytest.raises(AssertionError, match=r"worst element: argument 0\[\(\d, \d\)(\.imag)?\]"):
        check_grads(conjugated, [z])
    # a VJP that drops the imaginary part of the cotangent is caught too
    dropped = vjpnet.primitive(lambda z: (z * 2.0, None),
                               vjp=lambda g, cache: (np.real(g) * 2.0 + 0j,), name="dropped")
    with pytest.raises(AssertionError, match="check_grads"):
        check_grads(dropped, [z])


def test_check_grads_without_args_returns_a_checker():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3))
    vjpnet.check_grads(np.tanh, order=2)(x)            # exported at the top level too
    check_grads(lambda x, power=1: np.sum(x ** power), modes=("rev",))(x, power=3)
    with pytest.raises(AssertionError, match="rev mode"):
        check_grads(_wrong_vjp_sin, modes=("rev",))(x)


def _wrong_vjp_sin(x):
    return _wrong_sin_p(x)


_wrong_sin_p = vjpnet.primitive(lambda x: (np.sin(x), x), lambda g, x: (g * np.sin(x),),
                                name="wrong_sin_for_check_grads_test")
