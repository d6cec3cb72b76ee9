"""The NumPy functions people write beyond the core (diff, cross, kron, sort, interp, convolve,
nan-reductions, linspace with traced endpoints, ...) inside grad: values equal NumPy's,
gradients against centred differences to second order, float32 kept, HIPS autograd where it
has them, and the idioms (logsumexp, x.dot, %, integer casts) behave as in NumPy."""
import functools
import warnings

import numpy as np
import pytest

import vjpnet
from vjpnet import grad
from vjpnet.gradient_check import check_grads

RNG = np.random.default_rng(11)


def normal(*shape):
    return RNG.standard_normal(shape)


MISSING = np.array([False, True, False, False])
B = normal(4, 3)   # a constant
X34 = normal(3, 4)
# name -> (function of float arrays, sample arguments)
CASES = {
    "remainder": (lambda x, y: np.remainder(x, y) + x % 1.3 + np.mod(x, y),
                  [np.array([[0.3, 1.7, -2.2, 2.5]]), np.array([1.1, -0.9, 0.7, 1.3])]),
    "fmod": (lambda x, y: np.fmod(x, y), [np.array([[0.3, 1.7, -2.2, 2.5]]),
                                          np.array([1.1, -0.9, 0.7, 1.3])]),
    "degrees": (lambda x: np.deg2rad(x) + np.radians(x) + np.rad2deg(x) + np.degrees(x), [X34]),
    "fabs": (lambda x: np.fabs(x) * x, [X34]),
    "copysign": (lambda x, y: np.copysign(x, y), [X34, np.array([0.5, -1.0, 2.0, -0.1])]),
    "sinc": (lambda x: np.sinc(x), [np.array([0.0, 1e-3, -0.2, 0.3, 1.0, 2.5])]),
    "nan_to_num": (lambda x: np.nan_to_num(np.where(MISSING, np.nan, x) +
                                           np.where(MISSING[::-1], np.inf, 0.0), posinf=5.0),
                   [X34]),
    "tril_triu": (lambda x: np.tril(x, -1) + np.triu(x, 1) + np.tril(x[0]), [normal(4, 4)]),
    "tril_batched": (lambda x: np.tril(x, 1) * np.triu(x), [normal(2, 3, 4)]),
    "rot90": (lambda x: np.rot90(x, 1, axes=(0, 2)) * np.arange(2.0) +
              np.rot90(x, 3, (2, 0)).sum() + np.rot90(x, -2).sum(), [normal(2, 3, 4)]),
    "rollaxis": (lambda x: np.rollaxis(x, 2) + np.rollaxis(x, 0, 3).sum() +
                 np.rollaxis(x, -1, -2).sum(), [normal(2, 3, 4)]),
    "append": (lambda x, y: np.append(x, y[None, :], axis=0) * 2.0, [X34, normal(4)]),
    "delete": (lambda x: np.delete(x, 1, 0)[0, :2].sum() + np.delete(x, slice(1, None)),
               [X34]),
    "resize": (lambda x: np.resize(x, (5, 3)), [X34]),
    "splits": (lambda x: np.dsplit(x, [1, 3])[1] * np.dsplit(x, 2)[0][..., :1] +
               np.hsplit(x, [1])[1].sum() + np.vsplit(x, 2)[1].sum(), [normal(2, 3, 4)]),
    "unstack": (lambda x: np.unstack(x, axis=1)[2] * np.unstack(x)[0][0], [X34]),
    "block": (lambda a, b: np.block([[a, b[:, :1]], [np.ones((1, 3)), b[:1, :1]]]),
              [normal(2, 3), normal(2, 2)]),
    "meshgrid": (lambda a, b: np.meshgrid(a, b)[0] * np.meshgrid(a, b, indexing="ij")[1].T +
                 np.meshgrid(a, b, sparse=True)[1], [normal(3), normal(4)]),
    "select": (lambda x, y: np.select([x > 0.5, x < -0.5], [x * 2.0, y], default=-1.0),
               [X34, normal(4)]),
    "choose": (lambda x, y: np.choose(np.array([[0, 1, 1, 0], [1, 0, 0, 1], [0, 0, 1, 1]]),
                                      [x, y]), [X34, normal(4)]),
    "compress_extract": (lambda x: np.compress([0, 1], x).sum() + np.extract(x > 0, x).sum(),
                         [X34]),
    "diff": (lambda x: np.diff(x) * 1.0 + np.diff(x, n=2, axis=0).sum() +
             np.diff(x, prepend=0.5, append=x[:, :1]).sum(), [X34]),
    "ediff1d": (lambda x: np.ediff1d(x, to_begin=[1.0, 2.0], to_end=x[0, :1]), [X34]),
    "gradient": (lambda x: np.gradient(x)[0] + np.gradient(x, 2.0, edge_order=2)[1] +
                 np.gradient(x, np.array([0.0, 1.0, 3.0]), np.array([0.0, 0.5, 1.5, 2.0]),
                             edge_order=2)[1] + np.gradient(x, axis=1) * 2.0, [X34]),
    "trapezoid": (lambda y, t: np.trapezoid(y) + np.trapezoid(y, t) +
                  np.trapezoid(y, dx=0.3, axis=0).sum(), [X34, np.sort(normal(4))]),
    "cumprod": (lambda x: np.cumprod(x, axis=1) + np.cumprod(x)[:4], [X34]),
    "cumprod_with_zeros": (lambda x: np.cumprod(np.where(MISSING, 0.0, x), axis=1) +
                           np.cumprod(np.where(MISSING[:3, None], 0.0, x), axis=0), [X34]),
    "interp": (lambda x, xp, fp: np.interp(x, xp, fp) + np.interp(x, xp, fp, left=-3.0,
                                                                  right=x[0]),
               [np.array([-2.0, 0.1, 0.55, 1.9, 3.0]), np.array([0.0, 0.5, 1.0, 2.0]),
                normal(4)]),
    "interp_period": (lambda x, fp: np.interp(x, np.array([10.0, 40.0, 200.0, 300.0]), fp,
                                              period=360),
                      [np.array([-170.0, 5.0, 37.0, 222.0, 355.0]), normal(4)]),
    "convolve_correlate": (lambda a, v: np.convolve(a, v)[:3] + np.convolve(a, v, "same")[:3] +
                           np.convolve(v, a, "valid") + np.correlate(a, v) +
                           np.correlate(a, v, "same")[1:4], [normal(5), normal(3)]),
    "polyval_vander": (lambda p, x: np.polyval(p, x) + np.vander(x, 4) @ p,
                       [normal(4), normal(5)]),
    "cross": (lambda a, b: np.cross(a, b, axisa=0, axisb=1, axisc=0), [normal(3, 4),
                                                                       normal(4, 3)]),
    "kron": (lambda a, b: np.kron(a, b) + np.kron(a[0], b).sum(), [normal(2, 3), normal(3, 2)]),
    "linspace": (lambda a, b: np.linspace(a, b, 7) * np.linspace(a, b, 5, endpoint=False,
                                                                 retstep=True)[1] +
                 np.linspace(a, b, 1), [np.array(0.3), np.array(2.0)]),
    "linspace_arrays": (lambda a, b: np.linspace(a, b, 4, axis=1) +
                        np.linspace(a, b, 4, axis=-1).sum(), [normal(3), normal(3)]),
    "logspace_geomspace": (lambda a, b: np.logspace(a, b, 5) + np.geomspace(a + 1.0, b, 5),
                           [np.array(0.3), np.array(1.0)]),
    "nan_reductions": (lambda x: np.nansum(np.where(MISSING, np.nan, x), axis=0).sum() +
                       np.nanmean(np.where(MISSING, np.nan, x), axis=1) +
                       np.nanprod(np.where(MISSING, np.nan, x)) +
                       np.nanmax(np.where(MISSING, np.nan, x), axis=1) +
                       np.nanmin(np.where(MISSING, np.nan, x)) +
                       np.nanvar(np.where(MISSING, np.nan, x), axis=1) +
                       np.nanstd(np.where(MISSING, np.nan, x), axis=1, ddof=1), [X34]),
    "nan_cumulative": (lambda x: np.nancumsum(np.where(MISSING, np.nan, x), axis=1) +
                       np.nancumprod(np.where(MISSING, np.nan, x), axis=1), [X34]),
    "average_ptp": (lambda x, w: np.average(x, axis=1, weights=w) + np.average(x) +
                    np.average(x, axis=0, weights=x ** 2 + 1.0, returned=True)[1].sum() +
                    np.ptp(x, axis=1), [X34, np.abs(normal(4)) + 0.5]),
    "cov_corrcoef": (lambda x, y: np.cov(x) + np.cov(x, y, rowvar=False)[:3, :3] +
                     np.cov(x, aweights=np.array([1.0, 2, 3, 4]), fweights=np.array([1, 2, 1, 1]))
                     + np.corrcoef(x), [X34, normal(3, 2)]),
    "sort_partition": (lambda x: np.sort(x, axis=0) * np.partition(x, 2, axis=1),
                       [X34]),
    "quantiles": (lambda x: np.quantile(x, [0.1, 0.5, 0.93], axis=1).sum() +
                  np.percentile(x, 37.0, axis=-1, method="nearest") + np.median(x, axis=1) +
                  np.nanmedian(np.where(MISSING, np.nan, x), axis=1), [normal(3, 4)]),
    "logsumexp_idiom": (lambda x: np.log(np.sum(np.exp(x - np.max(x, axis=1, keepdims=True)),
                                                axis=1)) + np.max(x, axis=1), [X34]),
    # x.dot(...) on a traced x (a plain array's .dot cannot see a traced argument, below)
    "dot_method": (lambda a: a.dot(a.T) + a[0].dot(a.T).sum() + a.T.dot(a[:, 0]).sum() +
                   a.dot(a[0]).dot(a[:, 0]), [X34]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_match_numpy(name):
    f, args = CASES[name]
    ours, theirs = vjpnet.vjp(f, *args)[0], f(*args)
    assert np.shape(ours) == np.shape(theirs)
    assert np.result_type(ours) == np.result_type(theirs)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradients_match_numeric_to_second_order(name):
    f, args = CASES[name]
    check_grads(f, args, rtol=1e-5, atol=1e-7)
    check_grads(f, args, order=2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(CASES))
def test_float32_cotangents(name):
    f, args = CASES[name]
    args32 = [a.astype(np.float32) for a in args]
    out, vjp_fn = vjpnet.vjp(f, *args32)
    cotangents = vjp_fn(np.ones(np.shape(out), np.result_type(out)))
    assert all(c.dtype == np.float32 for c in cotangents)


def test_float32_values_where_numpy_keeps_float32():
    x = X34.astype(np.float32)
    for f in (lambda x: np.sort(x), lambda x: np.tril(x),
              lambda x: np.diff(x, prepend=np.float32(0.0)), lambda x: np.cumprod(x),
              lambda x: np.kron(x, x), lambda x: np.sinc(x), lambda x: np.gradient(x, 0.5)[0],
              lambda x: np.nanmean(x, axis=0), lambda x: np.median(x),
              lambda x: np.linspace(x[0, 0], x[0, 1], 4), lambda x: np.ediff1d(x, 0.5),
              lambda x: np.convolve(x[0], x[1]), lambda x: x % 0.7,
              lambda x: np.geomspace(x[0, 0] ** 2, 1.0, 3, dtype=np.float32)):
        assert vjpnet.vjp(f, x)[0].dtype == f(x).dtype == np.float32


def test_float64_values_where_numpy_computes_in_float64():
    """NumPy computes these in (at least) float64 whatever the input, so vjpnet does too; the
    cotangents still come back float32 (tests/test_numpy_audit.py checks every dtype mix)."""
    x = X34.astype(np.float32)
    for f in (lambda x: np.cov(x), lambda x: np.corrcoef(x, x[::-1]),
              lambda x: np.vander(x[0]), lambda x: np.vander(x[0], 2, increasing=True),
              lambda x: np.geomspace(x[0, 0] ** 2, x[0, 1] ** 2 + 1.0, 3),
              lambda x: np.interp(x, np.array([-1.0, 0.0, 2.0], np.float32), x[1, :3]),
              lambda x: np.diff(x, prepend=0.0), lambda x: np.polyval(x[0], 0.5),
              lambda x: np.average(x, axis=1, weights=np.arange(1.0, 5.0))):
        out, vjp_fn = vjpnet.vjp(f, x)
        assert out.dtype == f(x).dtype == np.float64
        assert vjp_fn(np.ones(out.shape))[0].dtype == np.float32


def test_cov_and_corrcoef_follow_numpy_in_every_argument():
    x, y = X34, normal(2, 4)
    w, counts = np.array([0.5, 1.0, 2.0, 1.5]), np.array([1, 3, 1, 2])
    for f, args in [
            (lambda x: np.cov(x, rowvar=False), [x[:1]]),   # a (1, n) matrix of n variables
            (lambda x, y: np.cov(x, y, ddof=0, aweights=w, fweights=counts), [x, y]),
            (lambda x, w: np.cov(x, bias=True, aweights=w), [x, w]),   # traced weights
            (lambda x: np.cov(x, dtype=np.float32), [x]),
            (lambda x: np.corrcoef(x[0], x[1]), [x]),
            (lambda x: np.cov(x[:0], x), [x])]:   # NumPy: (0, 0) when m has no variables
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = f(*args)
            out = vjpnet.vjp(f, *args)[0]
        assert out.shape == expected.shape and out.dtype == expected.dtype
        np.testing.assert_allclose(out, expected, rtol=1e-10)
        if expected.size and np.all(np.isfinite(expected)) and expected.dtype == np.float64:
            check_grads(f, args, order=2)
    with pytest.warns(RuntimeWarning, match="Degrees of freedom"):
        out = vjpnet.vjp(lambda x: np.cov(x, ddof=4), x)[0]
    assert np.all(np.isinf(out) | np.isnan(out))
    for kwargs, error in [({"fweights": np.array([1.5, 1, 1, 1])}, TypeError),
                          ({"fweights": np.array([1, 1])}, RuntimeError),
                          ({"aweights": -w}, ValueError), ({"ddof": 1.5}, ValueError)]:
        with pytest.raises(error):
            np.cov(x, **kwargs)
        with pytest.raises(error, match="numpy.cov"):
            vjpnet.vjp(lambda x: np.cov(x, **kwargs), x)
    with pytest.raises(TypeError, match="fweights is traced"):
        vjpnet.vjp(lambda x, f: np.cov(x, fweights=f), x, np.ones(4))


def test_average_with_weights_over_several_axes_as_numpy_2():
    x, w = normal(2, 3, 4), np.abs(normal(2, 4)) + 0.5
    f = lambda x, w: np.average(x, axis=(0, 2), weights=w, returned=True)   # noqa: E731
    out, expected = vjpnet.vjp(f, x, w)[0], f(x, w)
    for ours, theirs in zip(out, expected):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    check_grads(lambda x, w: f(x, w)[0], [x, w], order=2)
    for axis, weights, error in [(None, w, TypeError), ((0, 1), w, ValueError),
                                 ((0, 0), x, ValueError), (3, x[0, 0], ValueError)]:
        with pytest.raises(error):
            np.average(x, axis=axis, weights=weights)
        with pytest.raises(error):
            vjpnet.vjp(lambda x: np.average(x, axis=axis, weights=weights), x)


def test_mixed_dtype_convolve_and_correlate_give_each_operand_its_dtype():
    for function in (np.convolve, np.correlate):
        for a, v in [(np.ones(3), np.ones(2, np.float32)), (np.ones(3, np.float32), np.ones(2)),
                     (np.ones(3, np.complex64), np.ones(2, np.float32))]:
            out, vjp_fn = vjpnet.vjp(lambda a, v: function(a, v, "full"), a, v)
            assert out.dtype == function(a, v, "full").dtype
            assert [c.dtype for c in vjp_fn(np.ones_like(out))] == [a.dtype, v.dtype]
        ints = np.array([1, -2, 3])   # a constant integer operand: float64 result, as NumPy
        out, vjp_fn = vjpnet.vjp(lambda a: function(a, ints), np.ones(4, np.float32))
        assert out.dtype == np.float64 and vjp_fn(np.ones_like(out))[0].dtype == np.float32


@pytest.mark.parametrize("x", [np.zeros(0), np.zeros((2, 0)), np.array(-1.5), np.array(2.0),
                               np.linspace(-1.0, 1.0, 6).reshape(2, 3)])
def test_piecewise_of_empty_0d_and_nd_arrays(x):
    for f in (lambda x: np.piecewise(x, [x < 0, x >= 0], [lambda v: v * v, lambda v: -v]),
              lambda x: np.piecewise(x, [x < 0], [lambda v: v * 3.0, 0.5]),
              lambda x: np.piecewise(x, x > 0.5, [lambda v: v ** 3])):
        try:
            expected = f(x)
        except Exception as error:   # (a bare condition array of a 2-D or empty x)
            with pytest.raises(type(error)):
                vjpnet.vjp(f, x)
            continue
        out, vjp_fn = vjpnet.vjp(f, x)
        assert out.shape == expected.shape and out.dtype == expected.dtype
        np.testing.assert_allclose(out, expected)
        assert vjp_fn(np.ones(out.shape))[0].shape == x.shape
        if x.size:
            check_grads(f, [x], order=2)


def test_ediff1d_casts_to_begin_and_to_end_to_the_arrays_dtype():
    x = normal(4).astype(np.float32)
    out, vjp_fn = vjpnet.vjp(lambda x, e: np.ediff1d(x, to_end=e, to_begin=0.5), x, 2.0)
    assert out.dtype == np.ediff1d(x, to_end=2.0, to_begin=0.5).dtype == np.float32
    assert type(vjp_fn(np.ones(5, np.float32))[1]) is float
    with pytest.raises(TypeError, match="same_kind"):
        vjpnet.vjp(lambda x: np.ediff1d(x, to_begin=1j), x)


def test_constructors_follow_numpy_in_integer_dtypes_bases_and_steps():
    a, b = np.array([-1.5, 0.2]), np.array([1.0, 3.7])
    cases = [lambda a, b: np.linspace(a, b, 4, dtype=int),   # floor, not truncation
             lambda a, b: np.linspace(a, b, 1, retstep=True),
             lambda a, b: np.logspace(a, b, 3, base=np.array([[2.0, 3.0], [4.0, 5.0]])),
             lambda a, b: np.logspace(a, b, 3, base=np.array([2.0, 3.0]), axis=1),
             lambda a, b: np.geomspace(a + 2.0, b, 3, dtype=np.float32)]
    for f in cases:
        ours, theirs = vjpnet.vjp(f, a, b)[0], f(a, b)
        for o, t in zip(ours if type(ours) is tuple else [ours],
                        theirs if type(theirs) is tuple else [theirs]):
            assert np.shape(o) == np.shape(t) and np.result_type(o) == np.result_type(t)
            np.testing.assert_allclose(o, t, rtol=1e-6)
    check_grads(cases[2], [a, b], order=2)


def test_nanvar_and_nanstd_of_complex_values_are_real():
    z = np.where(MISSING, np.nan, normal(3, 4) + 1j * normal(3, 4))
    for f in (lambda z: np.nanvar(z, axis=1), lambda z: np.nanstd(z, axis=1, ddof=1)):
        out = vjpnet.vjp(f, z)[0]
        assert out.dtype == f(z).dtype == np.float64
        np.testing.assert_allclose(out, f(z))


def test_nan_to_num_of_complex_values_replaces_parts_apart():
    """The finite part of a complex element whose other part is replaced keeps its gradient."""
    z = np.array([1 + 1j, complex(np.nan, 2.0), complex(3.0, np.inf), complex(-np.inf, 0.5)])
    f = lambda z: np.nan_to_num(z, posinf=7.0)   # noqa: E731
    out, vjp_fn = vjpnet.vjp(f, z)
    np.testing.assert_array_equal(out, f(z))
    np.testing.assert_array_equal(vjp_fn(np.ones(4, complex))[0], [1, 0, 1, 0])
    np.testing.assert_array_equal(vjp_fn(np.full(4, 1j))[0], [1j, 1j, 0, 1j])


def test_unwrap_is_differentiable_in_the_period():
    """unwrap adds integer multiples k of the period: derivative 1 w.r.t. p, k w.r.t. period."""
    v = np.array([0.0, 3.0, 6.0, 1.0, 2.5])   # the samples and the period, traced together
    f = lambda v: np.unwrap(v[:4] * 2.0, period=v[4]) * np.arange(1.0, 5.0)   # noqa: E731
    np.testing.assert_allclose(vjpnet.vjp(f, v)[0], f(v))
    check_grads(f, [v], order=2)


def test_apply_along_axis_gives_every_result_the_first_ones_dtype():
    f = lambda x: np.apply_along_axis(   # noqa: E731
        lambda r: r.astype(np.float32) if r[0] > 0 else r * 2.0, 1, x)
    x = np.array([[1.0, 2.0], [-1.0, 3.0]])
    out, vjp_fn = vjpnet.vjp(f, x)
    assert out.dtype == f(x).dtype == np.float32
    assert vjp_fn(np.ones((2, 2), np.float32))[0].dtype == np.float64


def test_sinc_is_exact_at_zero_to_third_order():
    d1, d2 = grad(np.sinc), grad(grad(np.sinc))
    d3 = grad(grad(grad(np.sinc)))
    zero = np.array(0.0)
    assert d1(zero) == 0.0 and d3(zero) == 0.0
    np.testing.assert_allclose(d2(zero), -np.pi ** 2 / 3, rtol=1e-12)
    for x in (0.1, 0.2499, 0.2501, 1.3):   # both sides of the series / closed-form switch
        eps = 1e-6
        np.testing.assert_allclose(d2(np.array(x)), (d1(np.array(x + eps)) -
                                                    d1(np.array(x - eps))) / (2 * eps),
                                   rtol=1e-7, atol=1e-8)


def test_convolve_and_correlate_every_mode_and_length_order():
    for n, m in [(5, 3), (3, 5), (4, 4), (1, 3), (2, 5), (6, 1)]:
        a, v = normal(n), normal(m)
        for mode in ("full", "same", "valid"):
            for function in (np.convolve, np.correlate):
                f = functools.partial(function, mode=mode)
                np.testing.assert_allclose(vjpnet.vjp(f, a, v)[0], f(a, v), rtol=1e-12,
                                           atol=1e-12)
                check_grads(f, [a, v])


def test_cross_of_two_dimensional_vectors_warns_as_numpy_does():
    a, b = normal(4, 2), normal(4, 3)
    for f in (lambda a, b: np.cross(a, b), lambda a, b: np.cross(a, a[::-1])):
        with pytest.warns(DeprecationWarning, match="2-dimensional vectors"):
            out = vjpnet.vjp(f, a, b)[0]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            np.testing.assert_allclose(out, f(a, b))
            check_grads(f, [a, b])


def test_interp_gradient_w_r_t_x_is_the_slope():
    xp, fp = np.array([0.0, 1.0, 3.0]), np.array([0.0, 2.0, 3.0])
    g = grad(lambda x: np.sum(np.interp(x, xp, fp)))(np.array([-1.0, 0.5, 1.0, 2.0, 4.0]))
    np.testing.assert_allclose(g, [0.0, 2.0, 0.5, 0.5, 0.0])   # at a knot: the right slope


def test_nan_entries_get_zero_gradient_and_all_nan_slices_give_nan():
    x = np.array([[1.0, np.nan, 2.0], [np.nan, np.nan, np.nan]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for f in (np.nansum, np.nanmean, np.nanmax, np.nanmedian, np.nanstd):
            out, vjp_fn = vjpnet.vjp(lambda x: f(x, axis=1), x)
            np.testing.assert_allclose(out, f(x, axis=1))
            g = vjp_fn(np.ones(2))[0]
            assert np.all(g[np.isnan(x)] == 0) and np.all(np.isfinite(g))


def test_a_plain_arrays_dot_method_cannot_see_a_traced_argument():
    """ndarray.dot converts its argument without NumPy's dispatch: the error says what to
    write instead (np.dot(a, x) or a @ x)."""
    with pytest.raises(TypeError, match=r"np\.dot\("):
        grad(lambda x: np.sum(B.T.dot(x)))(normal(4))
    np.testing.assert_allclose(grad(lambda x: np.sum(np.dot(B.T, x)))(normal(4)),
                               B.T.sum(axis=0))


def test_array_methods():
    x = normal(3, 4)
    check_grads(lambda x: x.cumprod(axis=1) + x.cumsum(axis=1), [x])
    with pytest.raises(TypeError, match=r"x = np\.sort\(x\)"):
        grad(lambda x: x.sort())(x)


def test_remainder_operator_and_floor_divide():
    x = np.array([0.3, 1.7, -2.2])
    np.testing.assert_allclose(grad(lambda x: np.sum(x % 0.5))(x), 1.0)
    np.testing.assert_allclose(grad(lambda x: np.sum(2.5 % x))(x), -np.floor(2.5 / x))
    g = grad(lambda x: np.sum((x // 0.5) * x))(x)   # floor division: a constant
    np.testing.assert_allclose(g, x // 0.5)


def test_linspace_endpoints_are_exact_and_its_gradient_is_the_weights():
    start, stop = np.array(0.1), np.array(0.7)
    samples = vjpnet.vjp(lambda a, b: np.linspace(a, b, 7), start, stop)[0]
    assert samples[0] == 0.1 and samples[-1] == 0.7
    weights = np.arange(7.0)
    g_start, g_stop = grad(lambda a, b: np.sum(np.linspace(a, b, 7) * weights),
                           argnums=(0, 1))(start, stop)
    t = np.linspace(0.0, 1.0, 7)
    np.testing.assert_allclose([g_start, g_stop], [np.sum((1 - t) * weights),
                                                   np.sum(t * weights)], rtol=1e-12)


# --- HIPS autograd on the functions it has ------------------------------------------------------

AUTOGRAD_CASES = {
    "remainder": (lambda np, x: np.sum(np.remainder(x, 0.7) * x + np.mod(2.0, x + 3.0)),
                  normal(3, 4)),
    "tril_triu_diff": (lambda np, x: np.sum(np.tril(x, -1) ** 2 + np.triu(x) ** 3) +
                       np.sum(np.diff(x, axis=0) ** 2) + np.sum(np.diff(x, n=2) ** 2),
                       normal(4, 4)),
    "cross_kron": (lambda np, x: np.sum(np.cross(x[:, :3], x[:, 1:]) ** 2) +
                   np.sum(np.kron(x[:2, :2], x[1:, 1:]) ** 2), normal(4, 4)),
    "sort_partition": (lambda np, x: np.sum(np.sort(x[0]) * np.arange(4.0)) +
                       np.sum(np.partition(x[1], 1) ** 3), normal(3, 4)),
    "append_rot90_rollaxis": (lambda np, x: np.sum(np.append(x, x[0] ** 2) ** 2) +
                              np.sum(np.rot90(x) * np.arange(12.0).reshape(4, 3)) +
                              np.sum(np.rollaxis(x[None], 2) ** 3), normal(3, 4)),
    "select_sinc_units": (lambda np, x: np.sum(np.select([x > 0], [np.sinc(x)], 0.5) ** 2) +
                          np.sum(np.deg2rad(x) * np.rad2deg(x) + np.fabs(x) ** 3 +
                                 np.radians(x) + np.degrees(x) ** 2), normal(3, 4)),
    "nan_to_num_gradient": (lambda np, x: np.sum(np.nan_to_num(x * 2.0) ** 2) +
                            np.sum(np.gradient(x, axis=1) ** 2), normal(3, 4)),
    # (autograd 1.9's np.gradient VJP fails along axis 0)
    "splits": (lambda np, x: np.sum(np.dsplit(x[None], 2)[1] ** 2) +
               np.sum(np.hsplit(x, 2)[0] ** 3) + np.sum(np.vsplit(x, 3)[2] ** 2),
               normal(3, 4)),
    "linspace": (lambda np, x: np.sum(np.linspace(x[0, 0], x[0, 1], 6) ** 3), normal(3, 4)),
    "eigh_values_and_svd_values": (lambda np, x: np.sum(np.linalg.eigh(x @ x.T)[0] ** 2) +
                                   np.sum(np.linalg.svd(x, compute_uv=False) ** 3),
                                   normal(3, 4)),
}


@pytest.mark.parametrize("name", sorted(AUTOGRAD_CASES))
def test_matches_hips_autograd(name):
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    loss, x = AUTOGRAD_CASES[name]
    ours = grad(functools.partial(loss, np))(x)
    theirs = autograd.grad(functools.partial(loss, anp))(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)


# --- empty, 0-d and read-only inputs: as NumPy (its value, or an error where it raises) --------

def _read_only(a):
    a = np.array(a, dtype=float)
    a.flags.writeable = False
    return a


EDGE_INPUTS = {"empty": np.zeros(0), "empty_rows": np.zeros((0, 3)),
               "empty_batch": np.zeros((0, 3, 3)), "zero_d": np.array(1.5), "one": np.array([2.0]),
               "read_only": _read_only(np.arange(12.0).reshape(3, 4) / 7 + 0.1)}
EDGE_FUNCTIONS = {
    "sort": np.sort, "median": np.median, "quantile": lambda x: np.quantile(x, 0.3),
    "tril": np.tril, "rot90": np.rot90, "diff": np.diff, "cumprod": np.cumprod,
    "trapezoid": np.trapezoid, "kron": lambda x: np.kron(x, x), "cross": lambda x: np.cross(x, x),
    "nanmean": np.nanmean, "nanmax": np.nanmax, "nanvar": np.nanvar, "average": np.average,
    "ptp": np.ptp, "cov": np.cov, "sinc": np.sinc, "mod": lambda x: x % 0.7,
    "nan_to_num": np.nan_to_num, "resize": lambda x: np.resize(x, 5),
    "delete": lambda x: np.delete(x, 0), "interp": lambda x: np.interp(x, [0.0, 1.0], [1.0, 2.0]),
    "linspace": lambda x: np.linspace(x, x + 1.0, 3), "vander": np.vander,
    "svd": lambda x: np.linalg.svd(x)[1], "eigh": lambda x: np.linalg.eigh(x)[0],
    "slogdet": lambda x: np.linalg.slogdet(x)[1], "pinv": np.linalg.pinv,
    "norm_2": lambda x: np.linalg.norm(x, 2), "qr": lambda x: np.linalg.qr(x)[1],
    "cholesky": np.linalg.cholesky, "matrix_power": lambda x: np.linalg.matrix_power(x, 2),
}


@pytest.mark.parametrize("name", sorted(EDGE_FUNCTIONS))
def test_empty_zero_d_and_read_only_inputs_behave_as_in_numpy(name):
    f = EDGE_FUNCTIONS[name]
    for kind, x in EDGE_INPUTS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                expected = f(x)
            except Exception:   # NumPy refuses: so does vjpnet, with an exception
                with pytest.raises(Exception):
                    vjpnet.vjp(f, x)
                continue
            out, vjp_fn = vjpnet.vjp(f, x)
            np.testing.assert_allclose(out, expected, err_msg=f"{name}({kind})")
            assert np.shape(out) == np.shape(expected)
            assert vjp_fn(np.ones(np.shape(out)))[0].shape == x.shape, f"{name}({kind})"


# --- complex values: conjugates where NumPy has them ------------------------------------------

def complex_normal(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


COMPLEX_CASES = {
    "correlate_conjugates_v": (lambda a, v: np.correlate(a, v, "full"),
                               [complex_normal(5), complex_normal(3)]),
    "convolve": (lambda a, v: np.convolve(a, v, "same"), [complex_normal(5), complex_normal(3)]),
    "vecdot_conjugates_x1": (lambda a, b: np.vecdot(a, b) + np.linalg.vecdot(a, b),
                             [complex_normal(2, 3), complex_normal(3)]),
    "vecmat_conjugates_the_vector": (lambda v, a: np.vecmat(v, a),
                                     [complex_normal(3), complex_normal(3, 2)]),
    "matvec": (lambda a, v: np.matvec(a, v), [complex_normal(2, 3), complex_normal(3)]),
    "nanvar_is_real": (lambda x: np.nanvar(x, axis=0) + np.nanstd(x, axis=1).sum(),
                       [complex_normal(4, 2)]),
    "cov_corrcoef": (lambda x: np.cov(x) + np.corrcoef(x) * 2.0, [complex_normal(2, 5)]),
    "cumprod_sinc": (lambda x: np.cumprod(x) + np.sinc(x * 0.3), [complex_normal(5)]),
    "sort_is_lexicographic": (lambda x: np.sort(x) * np.arange(1.0, 6.0), [complex_normal(5)]),
    "interp_of_complex_fp": (lambda fp: np.interp(np.array([0.2, 1.7]), np.array([0.0, 1.0,
                                                                                 2.0]), fp),
                             [complex_normal(3)]),
    "linspace_geomspace": (lambda a, b: np.linspace(a, b, 4) + np.geomspace(a, b, 4),
                           [np.array(1.0 + 1.0j), np.array(2.0 + 3.0j)]),
    "full_like": (lambda x: np.full_like(x, x[0]) * x, [complex_normal(3)]),
    "shape_compositions": (lambda x: np.kron(np.tril(x), np.diff(x, axis=0)) +
                           np.gradient(x)[0][:1, :1], [complex_normal(3, 3)]),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_CASES))
def test_complex_values(name):
    f, args = COMPLEX_CASES[name]
    np.testing.assert_allclose(vjpnet.vjp(f, *args)[0], f(*args), rtol=1e-10, atol=1e-12)
    check_grads(f, args, rtol=1e-5, atol=1e-7)
    check_grads(f, args, order=2, rtol=1e-4, atol=1e-6)


def test_quantiles_of_complex_values_raise_as_in_numpy():
    with pytest.raises(TypeError, match="real numbers"):
        vjpnet.vjp(lambda x: np.median(x), complex_normal(4))
