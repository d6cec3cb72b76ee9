"""vjpnet.scipy.signal.convolve: values and shapes against scipy.signal.convolve in every mode,
gradients against central differences (second order), real and complex, HIPS autograd's
gradients, float32, and the errors. The primitive's spec runs in tests/test_registry.py."""
import numpy as np
import pytest

signal = pytest.importorskip("scipy.signal")

import vjpnet  # noqa: E402
from vjpnet import grad  # noqa: E402
from vjpnet.gradient_check import check_grads  # noqa: E402
from vjpnet.scipy import signal as vsignal  # noqa: E402

RNG = np.random.default_rng(0)
SHAPES = [((4,), (2,)), ((5,), (3,)), ((2,), (5,)), ((4, 3), (2, 2)), ((5, 4), (4, 1)),
          ((6, 7), (4, 2)), ((3, 3, 2), (2, 3, 2))]


@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("shape1,shape2", SHAPES)
def test_convolve_matches_scipy_and_differentiates_twice(shape1, shape2, mode):
    a, b = RNG.standard_normal(shape1), RNG.standard_normal(shape2)
    f = lambda a, b: vsignal.convolve(a, b, mode)
    out = vjpnet.vjp(f, a, b)[0]
    expected = signal.convolve(a, b, mode)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, atol=1e-12)
    check_grads(f, (a, b), order=2)


def test_convolve_of_complex_inputs():
    a = RNG.standard_normal((4, 3)) + 1j * RNG.standard_normal((4, 3))
    b = RNG.standard_normal((2, 2))
    check_grads(lambda a, b: vsignal.convolve(a, b, "same"), (a, b), order=2)
    # a real input's gradient is real when the other input is complex
    gradient = grad(lambda b: np.sum(np.abs(vsignal.convolve(a, b)) ** 2))(b)
    assert gradient.dtype == np.float64


def test_convolve_keeps_float32():
    a, b = RNG.standard_normal(5).astype(np.float32), RNG.standard_normal(3).astype(np.float32)
    out, vjp_fn = vjpnet.vjp(lambda a, b: vsignal.convolve(a, b, "valid"), a, b)
    assert out.dtype == np.float32
    assert all(c.dtype == np.float32 for c in vjp_fn(np.ones(3, np.float32)))


def test_convolve_gradients_match_hips_autograd():
    autograd = pytest.importorskip("autograd")
    autograd_signal = pytest.importorskip("autograd.scipy.signal")
    a, b = RNG.standard_normal((5, 4)), RNG.standard_normal((3, 2))
    w = RNG.standard_normal((5, 4))
    for argnum in (0, 1):
        ours = grad(lambda a, b: np.sum(np.sin(vsignal.convolve(a, b, "same")) * w),
                    argnum)(a, b)
        theirs = autograd.grad(
            lambda a, b: autograd.numpy.sum(
                autograd.numpy.sin(autograd_signal.convolve(a, b, mode="same")) * w),
            argnum)(a, b)
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


def test_scipy_convolve_on_a_traced_value_names_the_replacement():
    with pytest.raises(TypeError, match="use vjpnet.scipy.signal.convolve instead"):
        grad(lambda a: np.sum(signal.convolve(a, np.ones(2))))(np.ones(3))


def test_convolve_errors():
    f = lambda mode, shape1, shape2: grad(
        lambda a: np.sum(vsignal.convolve(a, np.ones(shape2), mode)))(np.ones(shape1))
    with pytest.raises(ValueError, match=r"convolve: for 'valid' mode.*\(4, 2\) and \(2, 3\)"):
        f("valid", (4, 2), (2, 3))
    with pytest.raises(ValueError, match=r"same dimensionality, got shapes \(3,\) and \(2, 2\)"):
        f("full", (3,), (2, 2))
    with pytest.raises(ValueError, match="mode must be one of"):
        f("circular", (3,), (2,))
