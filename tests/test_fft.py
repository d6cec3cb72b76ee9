"""numpy.fft inside grad: every transform against NumPy's values and against numeric derivatives
(first and second order) for every n / s / axes / norm combination that changes the math: odd
and even lengths, cropping and zero padding, repeated axes; single precision; the exact adjoint
of irfft (bins counted twice, DC and Nyquist once); HIPS autograd where it has the gradient."""
import warnings

import numpy as np
import pytest

import vjpnet
from vjpnet.gradient_check import check_grads

RNG = np.random.default_rng(7)
NORMS = [None, "backward", "ortho", "forward"]
LENGTHS = [1, 2, 5, 6, 7, 8]
SIZES = [None, 1, 2, 3, 4, 5, 8, 9]   # n: crops and zero pads every length above


def real(*shape):
    return RNG.standard_normal(shape)


def cplx(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def check(f, x, order=2):
    """vjpnet's value equals NumPy's (dtype and shape too); gradients match numeric ones."""
    out = vjpnet.vjp(f, x)[0]
    expected = f(x)
    assert out.dtype == expected.dtype and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    check_grads(f, [x], order=order, rtol=1e-5, atol=1e-7)


def cases_1d(function_name):
    """(n, axis, norm, input) for the 1-D transforms; the input's transformed axis has every
    length in LENGTHS, n crops and pads it."""
    inputs = {"rfft": real, "ihfft": real}.get(function_name)
    for norm in NORMS:
        for length in LENGTHS:
            for n in SIZES:
                if function_name in ("irfft", "hfft") and n is None and length == 1:
                    continue   # NumPy: 2 * (1 - 1) = 0 output points is an error
                for axis, shape in ((-1, (2, length)), (0, (length, 3))):
                    make = inputs or (cplx if (length + (n or 0)) % 2 else real)
                    yield n, axis, norm, make(*shape)


@pytest.mark.parametrize("name", ["fft", "ifft", "rfft", "irfft", "hfft", "ihfft"])
def test_1d_transforms_every_length_size_and_norm(name):
    function = getattr(np.fft, name)
    count = 0
    for n, axis, norm, x in cases_1d(name):
        try:
            check(lambda x: function(x, n, axis, norm), x)
        except AssertionError as error:
            raise AssertionError(f"np.fft.{name}(x{x.shape} {x.dtype}, n={n}, axis={axis}, "
                                 f"norm={norm}): {error}") from None
        count += 1
    assert count > 300


ND_CASES = [(None, None), (None, (0, 2)), ((2, 6), (1, 2)), ((5, 3), (2, 0)), ((3, -1), (0, 1)),
            (None, (1, 1)), (None, (-1,)), ((7,), (0,)), ((4, 3, 6), (0, 1, 2)),
            ((2, 2), (-1, -1))]


@pytest.mark.parametrize("name", ["fftn", "ifftn", "rfftn", "irfftn"])
def test_nd_transforms_every_shape_axes_and_norm(name):
    function = getattr(np.fft, name)
    for norm in NORMS:
        for s, axes in ND_CASES:
            x = real(3, 4, 5) if name == "rfftn" else cplx(3, 4, 5)
            try:
                check(lambda x: function(x, s, axes, norm), x)
            except AssertionError as error:
                raise AssertionError(f"np.fft.{name}(x, s={s}, axes={axes}, norm={norm}): "
                                     f"{error}") from None


@pytest.mark.parametrize("name", ["fft2", "ifft2", "rfft2", "irfft2"])
def test_2d_transforms(name):
    function = getattr(np.fft, name)
    for norm in NORMS:
        for s, axes in [(None, (-2, -1)), ((3, 7), (-2, -1)), ((2, 4), (0, 2)), (None, (2, 1))]:
            x = real(3, 4, 5) if name == "rfft2" else cplx(3, 4, 5)
            check(lambda x: function(x, s, axes, norm), x)
    x = real(4, 6) if name == "rfft2" else cplx(4, 6)
    check(lambda x: function(x), x)


def test_s_without_axes_warns_like_numpy_and_gives_numpys_result():
    x = cplx(3, 4)
    with pytest.warns(DeprecationWarning, match="axes"):
        out = vjpnet.vjp(lambda x: np.fft.fftn(x, s=(2, 6)), x)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        np.testing.assert_allclose(out, np.fft.fftn(x, s=(2, 6)))


@pytest.mark.parametrize("name", ["fftshift", "ifftshift"])
def test_shifts(name):
    function = getattr(np.fft, name)
    for axes in [None, 0, -1, (1,), (0, 2)]:
        check(lambda x: function(x, axes), cplx(3, 4, 5))
        check(lambda x: function(x, axes), real(3, 4, 5))


def test_irfft_vjp_counts_conjugate_bins_twice_and_dc_nyquist_once():
    """irfft's adjoint, written out: for the loss sum(irfft(X) * g) the gradient w.r.t. the
    real part of bin k is w_k * Re(ifft(g))_k * ..., with w = 1 for DC and (even n) Nyquist."""
    for n in (6, 7):
        g = real(n)
        bins = n // 2 + 1
        X = cplx(bins)
        gradient = vjpnet.grad(lambda X: np.sum(np.fft.irfft(X, n) * g))(X)
        weights = np.full(bins, 2.0)
        weights[0] = 1.0
        if n % 2 == 0:
            weights[-1] = 1.0
        expected = weights * np.fft.ifft(g)[:bins]
        np.testing.assert_allclose(gradient, expected, rtol=1e-12, atol=1e-14)
        # the imaginary parts irfft ignores (DC, and Nyquist for even n) get exactly 0
        assert gradient[0].imag == 0.0
        if n % 2 == 0:
            assert gradient[-1].imag == 0.0


@pytest.mark.parametrize("name,make", [("fft", real), ("fft", cplx), ("ifft", cplx),
                                       ("rfft", real), ("irfft", cplx), ("hfft", cplx),
                                       ("ihfft", real), ("fftn", cplx), ("rfftn", real),
                                       ("irfftn", cplx), ("fft2", real), ("irfft2", cplx)])
def test_single_precision_is_preserved_as_numpy_does(name, make):
    function = getattr(np.fft, name)
    x = make(4, 6).astype(np.complex64 if np.iscomplexobj(make(1)) else np.float32)
    out, vjp_fn = vjpnet.vjp(lambda x: function(x), x)
    assert out.dtype == function(x).dtype   # NumPy 2: complex64 / float32
    assert out.dtype in (np.float32, np.complex64)
    (cotangent,) = vjp_fn(np.ones(out.shape, out.dtype))
    assert cotangent.dtype == x.dtype and cotangent.shape == x.shape
    with pytest.warns(UserWarning, match="float32/complex64"):
        check_grads(lambda x: function(x), [x], rtol=2e-2, atol=2e-3)


def test_power_spectrum_gradients_in_closed_form():
    """Parseval: sum |fft(x)|^2 = n sum |x|^2, so its gradient is 2 n conj(x) (2 n x for real
    x); with norm="ortho" it is 2 conj(x)."""
    x, z = real(8), cplx(8)
    np.testing.assert_allclose(vjpnet.grad(lambda x: np.sum(np.abs(np.fft.fft(x)) ** 2))(x),
                               2 * 8 * x, rtol=1e-12)
    np.testing.assert_allclose(vjpnet.grad(lambda z: np.sum(np.abs(np.fft.fft(z)) ** 2))(z),
                               2 * 8 * np.conj(z), rtol=1e-12)
    ortho = vjpnet.grad(lambda z: np.sum(np.abs(np.fft.ifft(z, norm="ortho")) ** 2))(z)
    np.testing.assert_allclose(ortho, 2 * np.conj(z), rtol=1e-12)


def test_errors_name_the_function():
    x = real(4)
    with pytest.raises(ValueError, match=r"numpy\.fft\.fft: invalid norm value 'bogus'"):
        vjpnet.grad(lambda x: np.sum(np.abs(np.fft.fft(x, norm="bogus"))))(x)
    with pytest.raises(ValueError, match=r"numpy\.fft\.irfft: invalid number of FFT data "
                                         r"points \(0\)"):
        vjpnet.grad(lambda x: np.sum(np.fft.irfft(x[:1])))(x)
    with pytest.raises(ValueError, match=r"numpy\.fft\.fft: axis 2 is out of bounds"):
        vjpnet.grad(lambda x: np.sum(np.abs(np.fft.fft(x, axis=2))))(x)
    with pytest.raises(TypeError, match=r"numpy\.fft\.rfft takes a real input.*np\.fft\.fft,"):
        vjpnet.grad(lambda x: np.sum(np.abs(np.fft.rfft(x + 1j))))(x)
    with pytest.raises(TypeError, match=r"numpy\.fft\.rfft2 takes a real input.*np\.fft\.fft2"):
        vjpnet.grad(lambda x: np.sum(np.abs(np.fft.rfft2(x.reshape(2, 2) + 1j))))(x)
    with pytest.raises(TypeError, match=r"numpy\.fft\.ihfft takes a real input.*np\.fft\.ifft,"):
        vjpnet.grad(lambda x: np.sum(np.abs(np.fft.ihfft(x + 1j))))(x)
    with pytest.raises(TypeError, match=r"out="):
        vjpnet.grad(lambda x: np.sum(np.abs(np.fft.fft(x, out=np.empty(4, complex)))))(x)
    with pytest.raises(ValueError, match=r"numpy\.fft\.fftn: shape s=.* different lengths"):
        vjpnet.grad(lambda x: np.sum(np.abs(np.fft.fftn(x, s=(2, 2), axes=(0,)))))(x)


# --- against HIPS autograd (where it has the gradient: no repeated axes, even rfft lengths) ---

autograd = pytest.importorskip("autograd")
anp = pytest.importorskip("autograd.numpy")

AUTOGRAD_LOSSES = {
    "fft_power": lambda np, x: np.sum(np.abs(np.fft.fft(x)) ** 2 * np.arange(x.shape[-1])),
    "ifft_padded": lambda np, x: np.sum(np.real(np.fft.ifft(x * 1.5, n=10)) ** 2),
    "fft_cropped_ortho": lambda np, x: np.sum(np.imag(np.fft.fft(x, n=5, norm="ortho")) ** 3),
    "fft2_phase": lambda np, x: np.sum(np.cos(np.angle(np.fft.fft2(x + 0.3)))),
    "fftn_axes": lambda np, x: np.sum(np.abs(np.fft.fftn(x, axes=(0,))) ** 1.5),
    "rfft_even": lambda np, x: np.sum(np.abs(np.fft.rfft(x)) ** 2 * np.arange(5.0)),
    "irfft_roundtrip": lambda np, x: np.sum(np.fft.irfft(np.fft.rfft(x) * (1 + 0.5j)) ** 2),
    "rfft2_lowpass": lambda np, x: np.sum(np.abs(np.fft.rfft2(x)[:2, :3]) ** 2),
    "shifted_spectrum": lambda np, x: np.sum(np.abs(np.fft.fftshift(np.fft.fft(x))) *
                                             np.linspace(0.0, 1.0, 8)),
    "ifftshift_conv": lambda np, x: np.sum(np.real(np.fft.ifft(np.fft.fft(x) * np.fft.fft(
        np.fft.ifftshift(np.sin(x))))) ** 2),
}


@pytest.mark.parametrize("name", sorted(AUTOGRAD_LOSSES))
def test_gradients_equal_hips_autograd(name):
    loss = AUTOGRAD_LOSSES[name]
    x = real(2, 8) if name in ("fft2_phase", "fftn_axes", "rfft2_lowpass") else real(8)
    ours = vjpnet.grad(lambda x: loss(np, x))(x)
    theirs = autograd.grad(lambda x: loss(anp, x))(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    check_grads(lambda x: loss(np, x), [x], order=2, rtol=1e-5, atol=1e-7)


def test_odd_lengths_and_norms_against_jax():
    """HIPS autograd has no rfft/irfft gradient for odd lengths; JAX does. Slow (JAX compiles
    every op): runs with VJPNET_JAX_TESTS=1."""
    import os
    if not os.environ.get("VJPNET_JAX_TESTS"):
        pytest.skip("JAX comparisons are slow (they compile every op): set VJPNET_JAX_TESTS=1")
    jax = pytest.importorskip("jax")
    losses = {
        "rfft": lambda np, x, n, norm: np.sum(np.abs(np.fft.rfft(x, n, norm=norm)) ** 1.5),
        "irfft": lambda np, x, n, norm: np.sum(np.fft.irfft(np.fft.fft(x), n, norm=norm) ** 3),
        "fft": lambda np, x, n, norm: np.sum(np.angle(np.fft.fft(x + 0.1, n, norm=norm) + 0.5j)),
        "irfftn": lambda np, x, n, norm: np.sum(np.sin(np.fft.irfftn(
            np.fft.fftn(x, axes=(0,)), s=(3, n), axes=(0, 1), norm=norm))),
    }
    x = real(3, 7)
    with jax.enable_x64(True):
        for name, loss in losses.items():
            for n in (5, 6, 7, 9):
                for norm in ("backward", "ortho", "forward"):
                    theirs = np.asarray(jax.grad(lambda x: loss(jax.numpy, x, n, norm))(x))
                    ours = vjpnet.grad(lambda x: loss(np, x, n, norm))(x)
                    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11,
                                               err_msg=f"{name} n={n} norm={norm}")
