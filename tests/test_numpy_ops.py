"""Plain NumPy inside vjpnet.grad: dispatch of every registered NumPy function, the Traced
array interface, subgradient conventions, dtype preservation, errors, Hessian-vector products.

Primitives are checked from their specs by tests/test_registry.py; this file checks the NumPy
functions built from them (np.stack, np.linalg.norm, ...), one case per registered function.
"""
import math
import warnings

import numpy as np
import pytest

import vjpnet
from vjpnet import grad, value_and_grad
from vjpnet.gradient_check import check_grads
from vjpnet.tape import FUNCTION_HANDLERS, UFUNC_METHODS, UFUNC_PRIMITIVES, Traced

RNG = np.random.default_rng(0)


def normal(*shape):
    return RNG.standard_normal(shape)


def well_conditioned(n, batch=()):
    return normal(*batch, n, n) * 0.3 + 2.0 * np.eye(n)


def distinct_singular_values(*shape):
    """Matrices of the given shape with singular values 3, 2, 1, ... (no repeats)."""
    *batch, m, n = shape
    u = np.linalg.qr(normal(*batch, m, m))[0][..., :min(m, n)]
    v = np.linalg.qr(normal(*batch, n, n))[0][..., :min(m, n)]
    return (u * np.arange(min(m, n), 0, -1.0)) @ np.swapaxes(v, -1, -2)


def symmetric(n, batch=()):
    """Symmetric matrices with eigenvalues -1, 0.5, 2, 3.5, ... (no repeats)."""
    q = np.linalg.qr(normal(*batch, n, n))[0]
    return (q * (np.arange(n) * 1.5 - 1.0)) @ np.swapaxes(q, -1, -2)


def positive_definite(n, batch=()):
    x = normal(*batch, n, n)
    return x @ np.swapaxes(x, -1, -2) + n * np.eye(n)


MISSING = np.array([False, True, False, False])   # NaN positions, broadcast along rows


def real_spectrum(n, batch=()):
    """Non-symmetric matrices with real eigenvalues -1, 0.5, 2, ..."""
    basis = np.eye(n) + 0.3 * normal(*batch, n, n)
    return (basis * (np.arange(n) * 1.5 - 1.0)) @ np.linalg.inv(basis)


def complex_normal(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


# (NumPy function, function of float arrays using it, sample float64 arguments)
CASES = [
    (np.sum, lambda x: np.sum(x, axis=(0, 2), keepdims=True), [normal(2, 3, 4)]),
    (np.mean, lambda x: np.mean(x, axis=-1), [normal(3, 4)]),
    (np.prod, lambda x: np.prod(x, axis=0), [normal(3, 4)]),
    (np.max, lambda x: np.max(x, axis=1), [normal(3, 4)]),
    (np.amax, lambda x: np.amax(x), [normal(3, 4)]),
    (np.min, lambda x: np.min(x, axis=0, keepdims=True), [normal(3, 4)]),
    (np.amin, lambda x: np.amin(x, axis=(0, 1)), [normal(3, 4)]),
    (np.var, lambda x: np.var(x, axis=0, ddof=1), [normal(5, 3)]),
    (np.std, lambda x: np.std(x, axis=1), [normal(3, 5)]),
    (np.cumsum, lambda x: np.cumsum(x, axis=1), [normal(3, 4)]),
    (np.clip, lambda x: np.clip(x, -0.5, 0.5), [np.array([-1.0, -0.2, 0.3, 0.9])]),
    (np.where, lambda x, y: np.where(np.array([True, False, True]), x, y),
     [normal(3), normal(2, 3)]),
    (np.dot, lambda a, b: np.dot(a, b), [normal(2, 3, 4), normal(5, 4, 2)]),
    (np.vdot, lambda a, b: np.vdot(a, b), [normal(2, 3), normal(6)]),
    (np.tensordot, lambda a, b: np.tensordot(a, b, axes=1), [normal(2, 3), normal(3, 4)]),
    (np.einsum, lambda a, b: np.einsum("ij,jk->ki", a, b), [normal(2, 3), normal(3, 4)]),
    (np.outer, lambda a, b: np.outer(a, b), [normal(3), normal(2, 2)]),
    (np.inner, lambda a, b: np.inner(a, b), [normal(2, 3), normal(4, 3)]),
    (np.trace, lambda x: np.trace(x, offset=1), [normal(3, 4)]),
    (np.diag, lambda v: np.diag(v, k=-1), [normal(3)]),
    (np.diagonal, lambda x: np.diagonal(x, 0, 2, 0), [normal(3, 2, 3)]),
    (np.transpose, lambda x: np.transpose(x, (2, 0, 1)), [normal(2, 3, 4)]),
    (np.swapaxes, lambda x: np.swapaxes(x, 0, -1), [normal(2, 3, 4)]),
    (np.moveaxis, lambda x: np.moveaxis(x, 0, -1), [normal(2, 3, 4)]),
    (np.reshape, lambda x: np.reshape(x, (4, -1)), [normal(2, 3, 4)]),
    (np.ravel, lambda x: np.ravel(x), [normal(2, 3)]),
    (np.squeeze, lambda x: np.squeeze(x, axis=1), [normal(3, 1, 2)]),
    (np.expand_dims, lambda x: np.expand_dims(x, (0, 2)), [normal(3, 2)]),
    (np.broadcast_to, lambda x: np.broadcast_to(x, (2, 3, 4)), [normal(3, 1)]),
    (np.atleast_1d, lambda x: np.atleast_1d(x), [np.array(1.5)]),
    (np.atleast_2d, lambda x: np.atleast_2d(x), [normal(3)]),
    (np.atleast_3d, lambda x: np.atleast_3d(x), [normal(3, 2)]),
    (np.copy, lambda x: np.copy(x) * 2.0, [normal(3)]),
    (np.concatenate, lambda a, b: np.concatenate([a, b], axis=1), [normal(2, 3), normal(2, 1)]),
    (np.stack, lambda a, b: np.stack((a, b), axis=-1), [normal(2, 3), normal(2, 3)]),
    (np.hstack, lambda a, b: np.hstack([a, b]), [normal(3), normal(2)]),
    (np.vstack, lambda a, b: np.vstack([a, b]), [normal(3), normal(2, 3)]),
    (np.column_stack, lambda a, b: np.column_stack([a, b]), [normal(3), normal(3, 2)]),
    (np.split, lambda x: np.split(x, 2, axis=1)[1] * np.split(x, [1], axis=1)[0],
     [normal(3, 4)]),
    (np.array_split, lambda x: np.array_split(x, 3)[0] + np.array_split(x, 3)[2][:1],
     [normal(5)]),
    (np.hsplit, lambda x: np.hsplit(x, 2)[0], [normal(3, 4)]),
    (np.vsplit, lambda x: np.vsplit(x, [1])[1], [normal(3, 4)]),
    (np.flip, lambda x: np.flip(x, axis=(0, 1)) * x, [normal(3, 4)]),
    (np.fliplr, lambda x: np.fliplr(x), [normal(3, 4)]),
    (np.flipud, lambda x: np.flipud(x), [normal(3, 4)]),
    (np.roll, lambda x: np.roll(x, -2, axis=1), [normal(3, 4)]),
    (np.tile, lambda x: np.tile(x, (2, 1, 2)), [normal(3, 2)]),
    (np.repeat, lambda x: np.repeat(x, [1, 0, 3], axis=0), [normal(3, 2)]),
    (np.pad, lambda x: np.pad(x, ((1, 0), (1, 1)), mode="reflect") +
     np.pad(x, 1, mode="edge")[:4] + np.pad(x, ((0, 1), (2, 0)), mode="wrap") +
     np.pad(x, ((1, 0), (1, 1)), constant_values=2.0),
     [normal(3, 3)]),
    (np.take, lambda x: np.take(x, [2, 0, 2], axis=1), [normal(3, 4)]),
    (np.take_along_axis, lambda x: np.take_along_axis(x, np.array([[0], [3], [1]]), axis=1),
     [normal(3, 4)]),
    (np.linalg.norm, lambda x: np.linalg.norm(x) + np.linalg.norm(x, ord=1, axis=0).sum() +
     np.linalg.norm(x, ord=np.inf, axis=1).sum() + np.linalg.norm(x, ord=3, axis=1).sum() +
     np.linalg.norm(x, "fro", axis=(0, 1)), [normal(3, 4)]),
    (np.linalg.inv, lambda x: np.linalg.inv(x), [well_conditioned(3, (2,))]),
    (np.linalg.det, lambda x: np.linalg.det(x), [well_conditioned(3)]),
    (np.linalg.solve, lambda a, b: np.linalg.solve(a, b), [well_conditioned(3), normal(3, 2)]),
    (np.linalg.svd, lambda a: (lambda u, s, vh: u[..., :2, :] * s[..., None, :] ** 2 + vh)(
        *np.linalg.svd(a, full_matrices=False)) + np.linalg.svd(a, compute_uv=False)[..., :1],
     [distinct_singular_values(2, 3, 2)]),
    (np.linalg.svdvals, lambda a: np.linalg.svdvals(a), [distinct_singular_values(3, 4)]),
    (np.linalg.eigh, lambda a: (lambda w, v: v[..., :1, :] * w[..., None, :])(*np.linalg.eigh(a)),
     [symmetric(3, batch=(2,))]),
    (np.linalg.eigvalsh, lambda a: np.linalg.eigvalsh(a, UPLO="U"), [symmetric(3).T]),
    (np.linalg.eig, lambda a: (lambda w, v: w * v)(*np.linalg.eig(a)), [real_spectrum(3)]),
    (np.linalg.eigvals, lambda a: np.linalg.eigvals(a), [real_spectrum(3, batch=(2,))]),
    (np.linalg.cholesky, lambda a: np.linalg.cholesky(a) + np.linalg.cholesky(a, upper=True),
     [positive_definite(3, batch=(2,))]),
    (np.linalg.qr, lambda a: np.linalg.qr(a).Q * np.linalg.qr(a, mode="r")[..., :1, :] +
     np.linalg.qr(a, mode="complete")[0][..., :3] @ np.linalg.qr(a)[1], [normal(2, 4, 3)]),
    (np.linalg.slogdet, lambda a: np.linalg.slogdet(a)[1] * np.linalg.slogdet(a).sign,
     [well_conditioned(3, (2,)) - 2.5 * np.eye(3)]),
    (np.linalg.pinv, lambda a: np.linalg.pinv(a), [normal(2, 3, 4)]),
    (np.linalg.lstsq, lambda a, b: (lambda x, residuals, rank, s: x * residuals + s[:2])(
        *np.linalg.lstsq(a, b)), [normal(5, 2), normal(5)]),
    (np.linalg.matrix_power, lambda a: np.linalg.matrix_power(a, 3) +
     np.linalg.matrix_power(a, -2) + np.linalg.matrix_power(a, 0), [well_conditioned(3, (2,))]),
    (np.linalg.multi_dot, lambda a, b, c: np.linalg.multi_dot([a, b, c]),
     [normal(3), normal(3, 4), normal(4, 2)]),
    (np.linalg.cond, lambda a: np.linalg.cond(a) + np.linalg.cond(a, "fro") +
     np.linalg.cond(a, -np.inf), [well_conditioned(3, (2,))]),
    (np.linalg.tensorinv, lambda a: np.linalg.tensorinv(a, ind=1),
     [well_conditioned(6).reshape(6, 2, 3)]),
    (np.linalg.tensorsolve, lambda a, b: np.linalg.tensorsolve(a, b),
     [well_conditioned(6).reshape(2, 3, 6), normal(2, 3)]),
    (np.matrix_transpose, lambda x: np.matrix_transpose(x), [normal(2, 3, 4)]),
    (np.linalg.matrix_transpose, lambda x: np.linalg.matrix_transpose(x), [normal(3, 4)]),
    (np.linalg.matmul, lambda a, b: np.linalg.matmul(a, b), [normal(2, 3, 4), normal(4)]),
    (np.linalg.tensordot, lambda a, b: np.linalg.tensordot(a, b, axes=1),
     [normal(2, 3), normal(3, 4)]),
    (np.linalg.outer, lambda a, b: np.linalg.outer(a, b), [normal(3), normal(2)]),
    (np.linalg.vecdot, lambda a, b: np.linalg.vecdot(a, b, axis=0), [normal(3, 2), normal(3, 1)]),
    (np.linalg.trace, lambda x: np.linalg.trace(x, offset=-1), [normal(2, 3, 3)]),
    (np.linalg.diagonal, lambda x: np.linalg.diagonal(x, offset=1), [normal(2, 3, 4)]),
    (np.linalg.cross, lambda a, b: np.linalg.cross(a, b, axis=0), [normal(3, 2), normal(3, 2)]),
    (np.linalg.matrix_norm, lambda x: np.linalg.matrix_norm(x, ord=2, keepdims=True) +
     np.linalg.matrix_norm(x), [normal(2, 3, 4)]),
    (np.linalg.vector_norm, lambda x: np.linalg.vector_norm(x, axis=(0, 2), ord=1) +
     np.linalg.vector_norm(x), [normal(2, 3, 4)]),
    # order statistics
    (np.sort, lambda x: np.sort(x) + np.sort(x, axis=0) + np.sort(x, axis=None)[:4],
     [normal(3, 4)]),
    (np.partition, lambda x: np.partition(x, 1, axis=0) * np.partition(x, (0, 3)),
     [normal(3, 4)]),
    (np.quantile, lambda x: np.quantile(x, np.array([0.2, 0.75], np.float32), axis=1) +
     np.quantile(x, 0.4, method="hazen"), [normal(3, 5)]),
    (np.percentile, lambda x: np.percentile(x, 30.0, axis=(0, 1), keepdims=True),
     [normal(3, 4, 2)]),
    (np.median, lambda x: np.median(x, axis=0) + np.median(x), [normal(4, 3)]),
    (np.nanquantile, lambda x: np.nanquantile(np.where(MISSING, np.nan, x), 0.3, axis=1),
     [normal(3, 4)]),
    (np.nanpercentile, lambda x: np.nanpercentile(np.where(MISSING, np.nan, x), 60.0, axis=1),
     [normal(3, 4)]),
    (np.nanmedian, lambda x: np.nanmedian(np.where(MISSING, np.nan, x), axis=1),
     [normal(3, 4)]),
    # elementwise and NaN-skipping
    (np.sinc, lambda x: np.sinc(x), [np.array([0.0, 0.2, -0.7, 1.5])]),
    (np.real_if_close, lambda x: np.real_if_close(x + 1e-20j) * np.abs(np.real_if_close(
        x + 0.5j)), [normal(3)]),
    (np.nan_to_num, lambda x: np.nan_to_num(np.where(MISSING, np.inf, x), posinf=2.0),
     [normal(3, 4)]),
    (np.nansum, lambda x: np.nansum(np.where(MISSING, np.nan, x), axis=0), [normal(3, 4)]),
    (np.nanprod, lambda x: np.nanprod(np.where(MISSING, np.nan, x), axis=1), [normal(3, 4)]),
    (np.nanmean, lambda x: np.nanmean(np.where(MISSING, np.nan, x), axis=1), [normal(3, 4)]),
    (np.nanmax, lambda x: np.nanmax(np.where(MISSING, np.nan, x), axis=1), [normal(3, 4)]),
    (np.nanmin, lambda x: np.nanmin(np.where(MISSING, np.nan, x)), [normal(3, 4)]),
    (np.nanvar, lambda x: np.nanvar(np.where(MISSING, np.nan, x), axis=1, ddof=1),
     [normal(3, 4)]),
    (np.nanstd, lambda x: np.nanstd(np.where(MISSING, np.nan, x), axis=1), [normal(3, 4)]),
    (np.nancumsum, lambda x: np.nancumsum(np.where(MISSING, np.nan, x), axis=1),
     [normal(3, 4)]),
    (np.nancumprod, lambda x: np.nancumprod(np.where(MISSING, np.nan, x), axis=1),
     [normal(3, 4)]),
    (np.average, lambda x, w: np.average(x, axis=1, weights=w) + np.average(x),
     [normal(3, 4), np.array([0.5, 1.0, 2.0, 1.5])]),
    (np.ptp, lambda x: np.ptp(x, axis=1), [normal(3, 4)]),
    (np.cov, lambda x, y: np.cov(x) + np.cov(x.T, y.T, rowvar=False)[:3, :3],
     [normal(3, 5), normal(2, 5)]),
    (np.corrcoef, lambda x: np.corrcoef(x), [normal(3, 5)]),
    # rearranging
    (np.tril, lambda x: np.tril(x, -1) + np.tril(x[0]), [normal(4, 4)]),
    (np.triu, lambda x: np.triu(x, 1), [normal(2, 3, 4)]),
    (np.rot90, lambda x: np.rot90(x) + np.rot90(x, 2)[:, :3] + np.rot90(x, -1, (1, 0)),
     [normal(3, 3)]),
    (np.rollaxis, lambda x: np.rollaxis(x, 2) + np.rollaxis(x, 0, 3).sum(), [normal(2, 3, 4)]),
    (np.append, lambda x, y: np.append(x, y), [normal(2, 3), normal(3)]),
    (np.delete, lambda x: np.delete(x, [0, 2], axis=1), [normal(3, 4)]),
    (np.insert, lambda x, v: np.insert(x, [1, 3], v, axis=1), [normal(3, 4), normal(3, 1)]),
    (np.resize, lambda x: np.resize(x, (5, 3)), [normal(3, 4)]),
    (np.dsplit, lambda x: np.dsplit(x, 2)[1], [normal(2, 3, 4)]),
    (np.dstack, lambda x, y: np.dstack([x, y]), [normal(3, 4), normal(3, 4)]),
    (np.unstack, lambda x: np.unstack(x, axis=1)[2], [normal(3, 4)]),
    (np.row_stack, lambda x, y: np.vstack([x, y]), [normal(3), normal(2, 3)]),
    (np.block, lambda a, b: np.block([[a, b[:, :1]], [b[:1], b[:1, :1]]]),
     [normal(2, 3), normal(2, 3)]),
    (np.broadcast_arrays, lambda a, b: np.broadcast_arrays(a, b)[0] * 2.0,
     [normal(3, 1), normal(4)]),
    (np.meshgrid, lambda a, b: np.meshgrid(a, b)[0] * np.meshgrid(a, b, indexing="ij")[1].T,
     [normal(3), normal(4)]),
    (np.select, lambda x, y: np.select([x > 0.5, x < -0.5], [x * 2.0, y], default=-1.0),
     [normal(3, 4), normal(4)]),
    (np.choose, lambda x, y: np.choose(np.array([[0, 1], [1, 1], [0, 0]]), [x, y]),
     [normal(3, 2), normal(2)]),
    (np.compress, lambda x: np.compress([True, False, True], x, axis=0), [normal(3, 4)]),
    (np.lib.stride_tricks.sliding_window_view,
     lambda x: np.lib.stride_tricks.sliding_window_view(x, (2, 3)) * 2.0 +
     np.lib.stride_tricks.sliding_window_view(x, 2, axis=0)[:, :2, None, :1], [normal(3, 4)]),
    (np.unwrap, lambda x: np.unwrap(x * 4.0) + np.unwrap(x, period=1.0, axis=0), [normal(3, 4)]),
    (np.piecewise, lambda x: np.piecewise(x, [x < -0.5, x > 0.5], [lambda v: v ** 2, np.sin,
                                                                   lambda v: 3.0 * v]),
     [normal(3, 4)]),
    (np.apply_along_axis, lambda x: np.apply_along_axis(lambda v: np.stack([v @ v, v[0]]), 0, x),
     [normal(3, 4)]),
    (np.extract, lambda x: np.extract(np.arange(12).reshape(3, 4) % 3 == 0, x),
     [normal(3, 4)]),
    # sequences
    (np.diff, lambda x: np.diff(x, n=2, axis=0, prepend=np.float32(0.5)) + np.diff(x)[:1, :1],
     [normal(3, 4)]),
    (np.ediff1d, lambda x: np.ediff1d(x, to_begin=[1.0], to_end=x[:2]), [normal(5)]),
    (np.gradient, lambda x: np.gradient(x, 2.0, edge_order=2)[1] +
     np.gradient(x, np.array([0.0, 1.0, 3.0]), axis=0), [normal(3, 4)]),
    (np.trapezoid, lambda y, t: np.trapezoid(y, t) + np.trapezoid(y, dx=0.5, axis=0)[:3],
     [normal(3, 4), np.array([0.0, 0.5, 1.5, 2.0])]),
    (np.cumprod, lambda x: np.cumprod(x, axis=1) + np.cumprod(x)[:4], [normal(3, 4)]),
    (np.interp, lambda x, xp, fp: np.interp(x, xp, fp, right=0.5),
     [np.array([-1.0, 0.2, 0.7, 1.4, 2.5]), np.array([0.0, 0.5, 1.0, 2.0]), normal(4)]),
    (np.convolve, lambda a, v: np.convolve(a, v, "same") + np.convolve(a, v)[:5],
     [normal(5), normal(3)]),
    (np.correlate, lambda a, v: np.correlate(a, v, "full")[:3], [normal(2), normal(4)]),
    (np.polyval, lambda p, x: np.polyval(p, x), [normal(4), normal(5)]),
    (np.vander, lambda x: np.vander(x, 3), [normal(4)]),
    (np.cross, lambda a, b: np.cross(a, b) + np.cross(a, b, axisa=0, axisc=0).T,
     [normal(3, 3), normal(3, 3)]),
    (np.kron, lambda a, b: np.kron(a, b), [normal(2, 3), normal(3, 2)]),
    # constructors with traced endpoints
    (np.linspace, lambda a, b: np.linspace(a, b, 5) * np.linspace(a, b, 5, endpoint=False,
                                                                   retstep=True)[1],
     [np.array(0.3), np.array([1.0, 2.0])]),
    (np.logspace, lambda a, b: np.logspace(a, b, 4, base=2.0), [np.array(0.3), np.array(1.0)]),
    (np.geomspace, lambda a, b: np.geomspace(a, b, 4), [np.array(0.5), np.array(4.0)]),
    (np.full_like, lambda x: np.full_like(x, x[0, 0]) * x + np.full_like(x, 2.0, shape=(2,)),
     [normal(3, 2)]),
    ("getitem", lambda x: x[x > 0] * 2.0 + x[[0, 0], [1, 1]].sum() + x[..., ::-2].sum(),
     [normal(3, 4)]),
    ("astype", lambda x: x.astype(np.float64) * 3.0, [normal(3)]),
    (np.real, lambda z, x: np.real(z) * np.real(x), [complex_normal(3, 2), normal(2)]),
    (np.imag, lambda z, x: np.imag(z * x), [complex_normal(3, 2), normal(2)]),
    (np.angle, lambda z: np.angle(z) + np.angle(z, deg=True), [complex_normal(3, 2)]),
    (np.fft.fft, lambda x: np.fft.fft(x, n=5, axis=0, norm="ortho"), [normal(4, 3)]),
    (np.fft.ifft, lambda z: np.fft.ifft(z, n=3), [complex_normal(2, 4)]),
    (np.fft.rfft, lambda x: np.fft.rfft(x, n=7, norm="forward"), [normal(2, 5)]),
    (np.fft.irfft, lambda z: np.fft.irfft(z, n=5, axis=0), [complex_normal(4, 2)]),
    (np.fft.hfft, lambda z: np.fft.hfft(z, n=6), [complex_normal(2, 4)]),
    (np.fft.ihfft, lambda x: np.fft.ihfft(x, norm="ortho"), [normal(2, 5)]),
    (np.fft.fftn, lambda z: np.fft.fftn(z, s=(3, 2), axes=(2, 0)), [complex_normal(2, 3, 4)]),
    (np.fft.ifftn, lambda z: np.fft.ifftn(z), [complex_normal(2, 3, 4)]),
    (np.fft.rfftn, lambda x: np.fft.rfftn(x, axes=(0, 1)), [normal(3, 4, 2)]),
    (np.fft.irfftn, lambda z: np.fft.irfftn(z, s=(2, 5), axes=(0, 2)),
     [complex_normal(2, 3, 4)]),
    (np.fft.fft2, lambda x: np.fft.fft2(x, norm="forward"), [normal(3, 4)]),
    (np.fft.ifft2, lambda z: np.fft.ifft2(z, s=(4, 4)), [complex_normal(3, 5)]),
    (np.fft.rfft2, lambda x: np.fft.rfft2(x), [normal(3, 5)]),
    (np.fft.irfft2, lambda z: np.fft.irfft2(z, norm="ortho"), [complex_normal(3, 4)]),
    (np.fft.fftshift, lambda z: np.fft.fftshift(z, axes=1), [complex_normal(3, 5)]),
    (np.fft.ifftshift, lambda x: np.fft.ifftshift(x), [normal(3, 4)]),
]
IDS = [getattr(function, "__name__", function) + f"-{i}" for i, (function, _, _) in
       enumerate(CASES)]


def test_every_registered_numpy_function_has_a_case():
    covered = {function for function, _, _ in CASES}
    missing = [getattr(f, "__name__", f) for f in FUNCTION_HANDLERS if f not in covered]
    assert not missing, (f"registered NumPy functions without a test case: {missing}; add "
                         "(np.f, lambda x: np.f(x, ...), [sample float64 arrays]) to CASES "
                         "(CONTRIBUTING.md, 'Adding a NumPy function')")


@pytest.mark.parametrize("function,f,args", CASES, ids=IDS)
def test_function_gradients_match_numeric(function, f, args):
    check_grads(f, args, rtol=1e-5, atol=1e-7)
    check_grads(f, args, order=2, rtol=1e-4, atol=1e-6)


# NumPy computes these in (at least) float64 whatever the input: so does vjpnet
KEEPS_NO_FLOAT32 = {np.cov, np.corrcoef, np.interp, np.vander, np.geomspace}


@pytest.mark.parametrize("function,f,args", CASES, ids=IDS)
def test_function_preserves_float32(function, f, args):
    """float32 stays float32 and complex64 stays complex64 where NumPy keeps them (outputs: the
    dtype NumPy gives, e.g. float64 for cov, interp, vander and geomspace; cotangents: always
    the argument's dtype)."""
    args32 = [a.astype(np.complex64 if a.dtype.kind == "c" else np.float32) for a in args]
    out, vjp_fn = vjpnet.vjp(f, *args32)
    if function != "astype":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = np.result_type(f(*args32))
        assert np.result_type(out) == expected
        assert expected in (np.float32, np.complex64) or function in KEEPS_NO_FLOAT32
    for arg, cotangent in zip(args32, vjp_fn(np.ones(np.shape(out), np.result_type(out)))):
        assert cotangent.dtype == arg.dtype and cotangent.shape == arg.shape


@pytest.mark.parametrize("ufunc,method,f", [
    (np.add, "reduce", lambda x: np.add.reduce(x, axis=1)),
    (np.multiply, "reduce", lambda x: np.multiply.reduce(x)),
    (np.maximum, "reduce", lambda x: np.maximum.reduce(x, axis=None)),
    (np.minimum, "reduce", lambda x: np.minimum.reduce(x, axis=0, keepdims=True)),
    (np.add, "accumulate", lambda x: np.add.accumulate(x, axis=1)),
    (np.subtract, "outer", lambda x: np.subtract.outer(x, x[0])),
    (np.multiply, "outer", lambda x: np.multiply.outer(2.0, x)),
    (np.arctan2, "outer", lambda x: np.arctan2.outer(x[:, 0], x)),
])
def test_ufunc_methods(ufunc, method, f):
    assert (ufunc, method) in UFUNC_METHODS
    x = normal(3, 4)
    np.testing.assert_allclose(vjpnet.vjp(f, x)[0], f(x))
    check_grads(f, [x])


# --- the Traced array interface ---------------------------------------------------------------

def test_methods_and_properties_inside_grad():
    seen = {}

    def f(x):
        if type(x) is Traced:   # check_grads also calls f on plain arrays
            seen.update(shape=x.shape, ndim=x.ndim, size=x.size, dtype=x.dtype, len=len(x),
                        T=x.T.shape, type=type(x))
        total = x.sum() + x.mean(axis=0).sum() + x.max() + x.min(axis=1).sum()
        total = total + x.reshape(-1).dot(x.ravel()) + x.reshape(3, 2, 1).squeeze().sum()
        total = total + x.transpose().sum() + x.T.dot(x).sum() + (x @ x.T).sum()
        total = total + x.clip(-0.5, 0.5).sum() + x.astype(np.float64).prod()
        total = total + x.var() + x.std(axis=0).sum() + x.cumsum().sum() + x.flatten()[2]
        total = total + sum(row.sum() for row in x) + abs(x).sum() + (-x).sum() + (+x).sum()
        total = total + (2.0 - x).sum() + (x / 3.0).sum() + (1.0 / (x * x + 1)).sum()
        total = total + (x ** 2).sum() + (2.0 ** x).sum() + x.swapaxes(0, 1).sum()
        total = total + x.repeat(2, axis=0).sum() + x.take([0, 1]).sum() + x.diagonal().sum()
        total = total + x.trace() + x[x.argmax() // 2].sum()
        return total

    x = normal(3, 2)
    check_grads(f, [x])
    assert seen == {"shape": (3, 2), "ndim": 2, "size": 6, "dtype": np.float64, "len": 3,
                    "T": (2, 3), "type": Traced}


def test_transpose_method_takes_axes_as_one_tuple_or_as_ints():
    # like ndarray.transpose: no argument, None, one tuple/list, or n ints (n = 1 for 1-D)
    spellings = [lambda x: x.transpose(), lambda x: x.transpose(None),
                 lambda x: x.transpose((1, 0, 2)), lambda x: x.transpose([1, 0, 2]),
                 lambda x: x.transpose(1, 0, 2), lambda x: x.transpose(np.int64(1), 0, 2)]
    x = normal(2, 3, 4)
    for spelling in spellings:
        out, vjp_fn = vjpnet.vjp(spelling, x)
        np.testing.assert_array_equal(out, spelling(x))
        np.testing.assert_array_equal(vjp_fn(spelling(x))[0], x)
    v = normal(3)
    for spelling in (lambda v: v.transpose(0), lambda v: v.transpose(np.int64(-1)),
                     lambda v: v.transpose((0,))):
        np.testing.assert_array_equal(grad(lambda v: np.sum(spelling(v) ** 2))(v), 2 * v)
    with pytest.raises(ValueError):
        grad(lambda x: np.sum(x.transpose(0, 1)))(x)   # as NumPy: axes don't match array


def test_indexing_basic_fancy_boolean_with_scatter_add():
    x = normal(4, 3)
    index_rows = np.array([0, 2, 0, 0])

    def f(x):
        return (np.sum(x[1:3, ::-1] ** 2) + np.sum(x[index_rows] * 2.0) +
                np.sum(x[x > 0.5]) + x[-1, 1] + np.sum(x[None, ..., 0]))

    g = grad(f)(x)
    expected = np.zeros_like(x)
    expected[1:3] += 2 * x[1:3]
    np.add.at(expected, index_rows, 2.0)   # repeated rows accumulate
    expected += x > 0.5
    expected[-1, 1] += 1
    expected[:, 0] += 1
    np.testing.assert_allclose(g, expected)


def test_index_update_is_the_functional_setitem():
    x, value = normal(3, 4), normal(3)

    def f(x, value):
        y = vjpnet.index_update(x, (slice(None), 1), value)
        return np.sum(y * np.arange(12.0).reshape(3, 4))

    gx, gvalue = grad(f, argnums=(0, 1))(x, value)
    mask = np.ones((3, 4))
    mask[:, 1] = 0
    np.testing.assert_allclose(gx, mask * np.arange(12.0).reshape(3, 4))
    np.testing.assert_allclose(gvalue, [1.0, 5.0, 9.0])
    out = vjpnet.index_update(x, x > 0, 0.0)   # plain arrays work too, x is not modified
    assert np.all(out <= 0) and np.any(x > 0)


def test_nondifferentiable_functions_return_plain_results():
    x = np.array([[0.5, -1.5, 2.5], [1.0, 0.0, -0.2]])
    results = {}

    def f(x):
        results.update(
            argmax=np.argmax(x), argmin=np.argmin(x, axis=1), sign=np.sign(x),
            floor=np.floor(x), ceil=np.ceil(x), round=np.round(x), less=x < 0.3,
            equal=np.equal(x, x), isnan=np.isnan(x), isfinite=np.isfinite(x),
            zeros=np.zeros_like(x), ones=np.ones_like(x), shape=np.shape(x), ndim=np.ndim(x),
            size=np.size(x), any=np.any(x > 2), nonzero=np.nonzero(x > 0), where=np.where(x > 0),
            argsort=np.argsort(x, axis=1))
        return np.sum(x * results["sign"])

    np.testing.assert_allclose(grad(f)(x), np.sign(x))
    for key, value in results.items():
        leaves = value if isinstance(value, tuple) else (value,)
        assert not any(type(leaf) is Traced for leaf in leaves), key
    np.testing.assert_array_equal(results["argmin"], [1, 2])
    assert results["argmax"] == 2 and results["shape"] == (2, 3) and results["size"] == 6
    assert results["zeros"].dtype == np.float64 and not results["zeros"].any()


def test_infinity_and_equivalence_predicates_are_constants():
    x = np.array([1.0, np.inf, -np.inf, 2.0])

    def f(x):
        finite = ~(np.isposinf(x) | np.isneginf(x))
        same = np.array_equiv(x, x[None, :])
        safe = np.where(finite, x, 0.0)
        return np.sum(safe * safe) * float(same)

    np.testing.assert_array_equal(grad(f)(x), [2.0, 0.0, 0.0, 4.0])
    seen = {}
    grad(lambda x: seen.update(p=np.isposinf(x), n=np.isneginf(x), e=np.array_equiv(x, 1.0))
         or np.sum(x))(x)
    np.testing.assert_array_equal(seen["p"], [False, True, False, False])
    np.testing.assert_array_equal(seen["n"], [False, False, True, False])
    assert seen["e"] is np.False_ or seen["e"] is False


def test_python_control_flow_on_traced_values():
    def f(x):
        total = 0.0
        for value in x:
            total += value * value if value > 0 else -value   # += rebinds, it does not mutate
        return total

    np.testing.assert_allclose(grad(f)(np.array([1.0, -2.0, 3.0])), [2.0, -1.0, 6.0])


def test_operators_on_python_floats_give_python_floats():
    # As in Python: s * s is a float (weak under NEP 50), so float32 arrays stay float32.
    x32 = normal(3).astype(np.float32)
    seen = {}

    def f(s, x):
        results = [s * s + 0.5, -s, abs(s), 2.0 - s, s / 2, s ** 2, 2 * s]
        seen["types"] = [type(vjpnet.stop_gradient(r)) for r in results]
        outs = [x - r for r in results]
        seen["dtypes"] = [o.dtype for o in outs]
        return sum(np.sum(o) for o in outs)

    for level in (1, 2):   # also under nested grad
        g = grad(f, argnums=(0, 1)) if level == 1 else \
            grad(lambda s, x: grad(f, argnums=0)(s, x) * 1.0, argnums=(0, 1))
        g(0.7, x32)
        assert seen["types"] == [float] * 7, seen["types"]
        assert seen["dtypes"] == [np.float32] * 7, seen["dtypes"]
    check_grads(lambda s: (s * s - 3.0 * s) / (1.0 + s), [0.7], order=2)
    # NumPy functions keep NumPy's types: np.multiply(s, s) is a NumPy float64, as in NumPy
    out, _ = vjpnet.vjp(lambda s: x32 - np.multiply(s, s), 0.7)
    assert out.dtype == (x32 - np.multiply(0.7, 0.7)).dtype == np.float64


def test_mixed_float32_and_float64_gives_each_input_its_own_dtype():
    x32, w64 = normal(3).astype(np.float32), normal(3)
    gx, gw = grad(lambda x, w: np.sum(x * w), argnums=(0, 1))(x32, w64)
    assert gx.dtype == np.float32 and gw.dtype == np.float64


# --- subgradient conventions ------------------------------------------------------------------

def test_relu_written_as_maximum_splits_ties_and_where_gives_zero():
    x = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(grad(lambda x: np.sum(np.maximum(x, 0.0)))(x), [0, 0.5, 1])
    np.testing.assert_allclose(grad(lambda x: np.sum(np.where(x > 0, x, 0.0)))(x), [0, 0, 1])
    np.testing.assert_allclose(grad(lambda x: np.sum(np.maximum(x, x)))(x), [1, 1, 1])
    np.testing.assert_allclose(grad(lambda x: np.sum(np.minimum(x, 0.0)))(x), [1, 0.5, 0])


def test_abs_at_zero_is_zero():
    np.testing.assert_allclose(grad(lambda x: np.sum(np.abs(x)))(np.array([-2.0, 0.0, 3.0])),
                               [-1, 0, 1])


def test_max_min_ties_share_the_gradient_equally():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    np.testing.assert_allclose(grad(lambda x: np.sum(np.max(x, axis=1)))(x),
                               [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(grad(lambda x: np.min(x))(x), [[1, 0, 0], [0, 0, 0]])


def test_sqrt_norm_and_std_at_zero_have_zero_gradient_not_nan():
    zero = np.zeros(3)
    for f in (lambda x: np.linalg.norm(x), lambda x: np.sqrt(np.sum(x ** 2)),
              lambda x: np.sum(np.sqrt(x)), lambda x: np.std(x),
              lambda x: np.sum(np.linalg.norm(x.reshape(1, 3), axis=1))):
        g = grad(f)(zero)
        assert np.all(g == 0), g
    # away from 0 the usual derivative; second order stays finite at 0
    np.testing.assert_allclose(grad(lambda x: np.sum(np.sqrt(x)))(np.array([0.0, 4.0])),
                               [0.0, 0.25])
    assert np.all(np.isfinite(grad(lambda x: np.sum(grad(np.linalg.norm)(x)))(zero)))


def test_clip_bounds_are_inclusive_and_prod_with_zeros_is_exact():
    x = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(grad(lambda x: np.sum(np.clip(x, -0.5, 0.5)))(x),
                               [0, 1, 1, 1, 0])
    lo, hi = np.array(1.0), np.array(0.0)   # low > high: NumPy returns high everywhere
    g_x, g_lo, g_hi = grad(lambda x, lo, hi: np.sum(np.clip(x, lo, hi)), argnums=(0, 1, 2))(
        x, lo, hi)
    assert not g_x.any() and g_lo == 0 and g_hi == 5
    g = grad(lambda x: np.prod(x))(np.array([2.0, 0.0, 3.0]))
    np.testing.assert_allclose(g, [0.0, 6.0, 0.0])
    g = grad(lambda x: np.prod(x))(np.array([0.0, 0.0, 3.0]))
    np.testing.assert_allclose(g, [0.0, 0.0, 0.0])


# --- Hessian-vector products against finite differences of the gradient -----------------------

def hvp(f, x, v):
    return grad(lambda x: np.sum(grad(f)(x) * v))(x)


HVP_FUNCTIONS = {
    "logsumexp": lambda x: np.log(np.sum(np.exp(x - np.max(x)))) + np.max(x),
    "softmax_xent": lambda x: -np.log(np.exp(x[2]) / np.sum(np.exp(x))),
    "tanh_mlp": lambda x: np.sum(np.tanh(np.outer(x, x) @ x + 0.5) ** 2),
    "norm_and_var": lambda x: np.linalg.norm(x) * np.var(x) + np.std(x),
    "prod_cumsum": lambda x: np.prod(np.cumsum(x) * 0.3 + 1.0),
    "einsum_tensordot": lambda x: np.einsum("i,j,j->", x, x, np.sin(x)) +
    np.tensordot(np.outer(x, x), np.cos(x), axes=1).sum(),
    "inv_det_solve": lambda x: np.linalg.det(np.diag(x) + 2.0) +
    np.sum(np.linalg.inv(np.diag(x) + 3.0)) + np.sum(np.linalg.solve(np.diag(x) + 4.0, x)),
    "shape_ops": lambda x: np.sum(np.stack([x, x ** 2])[:, ::-1] ** 3 *
                                  np.concatenate([np.roll(x, 1), np.tile(x[:1], 5)])[:5]),
}


@pytest.mark.parametrize("name", sorted(HVP_FUNCTIONS))
def test_hessian_vector_products_match_finite_differences(name):
    f = HVP_FUNCTIONS[name]
    rng = np.random.default_rng(3)
    x, v = rng.uniform(0.2, 1.0, 5), rng.standard_normal(5)
    eps = 1e-5
    numeric = (grad(f)(x + eps * v) - grad(f)(x - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hvp(f, x, v), numeric, rtol=1e-6, atol=1e-7)


def test_third_derivative():
    d3 = grad(grad(grad(lambda x: np.sum(np.sin(x) * np.exp(x)))))
    x = np.array(0.3)
    np.testing.assert_allclose(d3(x), np.exp(x) * (2 * np.cos(x) - 2 * np.sin(x)), rtol=1e-12)


# --- errors, never silent fallbacks -----------------------------------------------------------

def test_unregistered_function_raises_naming_it_by_its_module_and_how_to_register():
    x = well_conditioned(3)
    handler = FUNCTION_HANDLERS.pop(np.linalg.eigh)   # as if eigh had no VJP
    try:
        with pytest.raises(TypeError) as info:
            grad(lambda x: np.sum(np.linalg.eigh(x)[0]))(x)
    finally:
        FUNCTION_HANDLERS[np.linalg.eigh] = handler
    message = str(info.value)
    assert "numpy.linalg.eigh" in message and "no registered VJP" in message
    assert "@vjpnet.primitive" in message and "vjpnet.register_function(np.linalg.eigh" in message


def test_unregistered_ufunc_and_ufunc_method_raise_naming_them():
    x = normal(3)
    with pytest.raises(TypeError, match=r"(?s)numpy\.modf has no registered VJP.*"
                                        r"vjpnet\.register_ufunc\(np\.modf"):
        grad(lambda x: np.sum(np.modf(x)[0]))(x)
    with pytest.raises(TypeError, match=r"numpy\.power\.reduce has no registered VJP"):
        grad(lambda x: np.sum(np.power.reduce(x)))(x)


def test_a_registered_function_then_works():
    def my_cumprod(x):
        out = np.cumprod(x)
        return out, (x, out)

    cumprod = vjpnet.primitive(my_cumprod)

    @cumprod.defvjp
    def my_cumprod_vjp(g, cache):
        x, out = cache
        return (np.flip(np.cumsum(np.flip(g * out))) / x,)

    cumprod.spec = lambda rng: vjpnet.Sample(rng.uniform(0.5, 2.0, 4))
    before = FUNCTION_HANDLERS.get(np.cumprod)
    with vjpnet.registered(np.cumprod, cumprod):
        assert FUNCTION_HANDLERS[np.cumprod] is cumprod
        check_grads(lambda x: np.cumprod(x), [np.array([0.5, 2.0, 1.5, 3.0])])
    assert FUNCTION_HANDLERS.get(np.cumprod) is before   # as it was, registered or not


def test_register_returns_what_it_replaces_and_registered_restores_it():
    replacement = vjpnet.primitive(lambda x: (np.exp(x), None), name="replacement_exp")
    original = vjpnet.register_ufunc(np.exp, replacement)
    assert original is not None and original.name == "exp"
    assert vjpnet.register_ufunc(np.exp, original) is replacement
    with vjpnet.registered(np.exp, replacement):
        assert UFUNC_PRIMITIVES[np.exp] is replacement
        with pytest.raises(NotImplementedError, match="replacement_exp has no VJP"):
            grad(lambda x: np.sum(np.exp(x)))(normal(3))
    assert UFUNC_PRIMITIVES[np.exp] is original   # restored after the error too
    assert vjpnet.register_function(np.transpose, FUNCTION_HANDLERS[np.transpose]) is \
        FUNCTION_HANDLERS[np.transpose]


@pytest.mark.parametrize("convert,what", [
    (np.asarray, "cannot be converted to a plain NumPy array"),
    (np.array, "cannot be converted to a plain NumPy array"),
    (float, "only a traced array with one element"),
    (lambda x: x.tolist(), "tolist"),
    (lambda x: int(x), "only a traced array with one element"),
])
def test_conversions_that_would_drop_the_gradient_raise(convert, what):
    with pytest.raises(TypeError, match=what) as info:
        grad(lambda x: np.sum(convert(x)))(normal(3))
    assert "stop_gradient" in str(info.value) or "reduce it first" in str(info.value) \
        or "use NumPy operations" in str(info.value)


def test_integer_casts_are_constants_usable_as_indices():
    table = np.arange(10.0) ** 2
    seen = []

    def f(x):
        i, j = np.int64(x[0]), int(x[1])
        k = np.asarray(x, dtype=np.intp)
        seen.append((type(i), type(j), type(k), k.tolist()))
        constant = float(vjpnet.stop_gradient(x[0]))
        return table[i] * x[0] + table[j] * x[1] + np.sum(table[k]) + constant * x[1]

    g = grad(f)(np.array([2.7, 3.2]))
    np.testing.assert_allclose(g, [4.0, 9.0 + 2.7])
    assert seen == [(np.int64, int, np.ndarray, [2, 3])]
    with pytest.raises(TypeError, match="np.broadcast_to"):   # np.full converts before dispatch
        grad(lambda x: np.sum(np.full((2,), x[0])))(normal(3))
    with pytest.raises(TypeError, match=r"numpy\.copyto writes into an array in place"):
        grad(lambda x: np.sum(np.full_like(np.zeros(2), x[0])))(normal(3))
    with pytest.raises(TypeError, match=r"np\.stack"):
        grad(lambda x: np.sum(np.array([x[0], x[1]])))(normal(3))


@pytest.mark.parametrize("call,hint", [
    (lambda w: np.ones((2, 3)).dot(w), "write X @ W or np.dot(X, W)"),
    (lambda w: np.array([w, w]), "np.stack([a, b])"),
    (lambda w: np.r_[w, w], "np.concatenate([a, b])"),
    (lambda w: np.sum([w, w]), "a Python list of traced values"),
])
def test_conversions_before_dispatch_say_what_to_write_instead(call, hint):
    with pytest.raises(TypeError, match="cannot be converted to a plain NumPy array") as info:
        grad(lambda w: np.sum(call(w)))(normal(3, 2))
    assert hint in str(info.value)


def test_the_suggested_alternatives_work():
    X, w = normal(2, 3), normal(3, 2)
    expected = grad(lambda w: np.sum(np.sin(X @ w)))(w)
    np.testing.assert_allclose(grad(lambda w: np.sum(np.sin(np.dot(X, w))))(w), expected)
    np.testing.assert_allclose(grad(lambda w: np.sum(np.sin(w.T.dot(X.T))))(w), expected)
    stacked = grad(lambda w: np.sum(np.stack([w, 2.0 * w]) ** 2))(w)
    np.testing.assert_allclose(stacked, 10.0 * w)


def test_float_of_a_traced_value_raises_instead_of_cutting_the_gradient():
    """float(), complex(), .item() and math.* of a traced value would be Python numbers with no
    gradient (their derivative is 1, not 0 as for int() and round()): an error naming the fix;
    stop_gradient makes the constant explicit; formatting and printing work."""
    for cut in (lambda s: float(s), lambda s: complex(s), lambda s: s.item(),
                lambda s: math.exp(s), lambda s: np.float64(s), lambda s: s.reshape(1).item(0)):
        with pytest.raises(TypeError, match=r"(?s)cut off from the gradient.*stop_gradient"):
            grad(lambda x: np.sum(x) * cut(np.sum(x)))(np.ones(2))
    with pytest.raises(ValueError) as info:   # NumPy re-raises float()'s error as its cause
        grad(lambda x: np.sum(np.ones(2), initial=np.sum(x)))(np.ones(2))
    assert "cut off from the gradient" in str(info.value.__cause__ or info.value.__context__)
    g = grad(lambda x: np.sum(x) * float(vjpnet.stop_gradient(np.sum(x))))(np.ones(2))
    np.testing.assert_allclose(g, [2.0, 2.0])
    seen = []
    grad(lambda x: seen.append(f"{np.sum(x):.2f}") or np.sum(x))(np.ones(2))
    assert seen == ["2.00"]


def test_setitem_raises_and_names_the_functional_alternatives():
    def f(x):
        x[0] = 1.0
        return np.sum(x)

    with pytest.raises(TypeError) as info:
        grad(f)(normal(3))
    assert "vjpnet.index_update(x, index, value)" in str(info.value)
    assert "np.where" in str(info.value)


def test_in_place_writes_into_plain_arrays_raise():
    def f(x):
        buffer = np.zeros(3)
        buffer += x
        return np.sum(buffer)

    with pytest.raises(TypeError, match="out=.*in place"):
        grad(f)(normal(3))
    with pytest.raises(TypeError, match="out="):
        grad(lambda x: np.sum(np.exp(x, out=np.empty(3))))(normal(3))


@pytest.mark.parametrize("call,match", [
    (lambda x: np.nansum(x, where=x > 0), r"numpy\.nansum\(\.\.\., where="),
    (lambda x: np.add(x, 1.0, where=np.ones(3, bool)), r"numpy\.add\(\.\.\., where="),
    (lambda x: np.einsum("i->i", x, dtype=np.float32), r"numpy\.einsum\(\.\.\., dtype="),
    (lambda x: np.pad(x, 1, mode="mean"), "mode='mean'"),
    (lambda x: np.linalg.qr(x.reshape(1, 3), mode="raw"), "mode='raw'"),
    (lambda x: np.cumsum(x, out=np.empty(3)), "out="),
])
def test_unsupported_arguments_raise_type_error(call, match):
    with pytest.raises(TypeError, match=match):
        grad(lambda x: np.sum(call(x)))(normal(3))


def _strided_layouts(base):
    """Views of base (3, 4, 5) whose C, Fortran and memory orders all differ: Fortran-contiguous,
    transposed, reversed and strided, and a broadcast view of a transposed slice."""
    fortran = np.asfortranarray(base)
    return {"c": base, "fortran": fortran, "transposed": base.transpose(1, 2, 0),
            "reversed": fortran[::-1, :, ::-2], "strided": fortran[:, ::2],
            "broadcast": np.broadcast_to(base[0].T[:, None, :], (5, 2, 4))}


@pytest.mark.parametrize("layout", sorted(_strided_layouts(np.zeros((3, 4, 5)))))
@pytest.mark.parametrize("order", ["C", "F", "A", "K", None, "f"])
def test_ravel_and_reshape_read_elements_in_numpys_order(layout, order):
    # "A" and "K" depend on the memory layout of the value, as they do in NumPy; so does the
    # gradient, which is checked against the element each output position reads (found by
    # tagging the elements of a view with the same layout; not for the broadcast view, whose
    # positions share elements).
    x = _strided_layouts(normal(3, 4, 5))[layout]
    tags = _strided_layouts(np.arange(1.0, 61.0).reshape(3, 4, 5))[layout]
    calls = [lambda x: np.ravel(x, order=order),
             lambda x: x.flatten() if order is None else x.flatten(order)]
    if order not in ("K", "k"):
        calls += [lambda x: np.reshape(x, (2, -1), order=order),
                  lambda x: x.reshape(-1, 2, order=order or "C")]
    for call in calls:
        out = vjpnet.vjp(call, x)[0]
        np.testing.assert_array_equal(out, call(x))
        weights = normal(*np.shape(out))
        if layout != "broadcast":
            position = {tag: i for i, tag in enumerate(tags.ravel())}
            expected = np.zeros(x.size)
            for tag, weight in zip(call(tags).ravel(), weights.ravel()):
                expected[position[tag]] += weight
            np.testing.assert_array_equal(grad(lambda x: np.sum(call(x) * weights))(x),
                                          expected.reshape(x.shape))
        check_grads(lambda x: np.sum(call(x) * weights), [np.ascontiguousarray(x)], order=2)
    with pytest.raises(ValueError, match="'K' is not permitted"):
        grad(lambda x: np.sum(np.reshape(x, -1, order="K")))(x)


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "nansum", "nanprod", "nanmax",
                                  "nanmin"])
@pytest.mark.parametrize("axis", [None, 0, (0, 1)])
def test_reductions_with_initial_match_numpy(name, axis):
    # initial joins the reduction: it wins max/min where it is larger/smaller (no gradient to
    # the array there), it alone is the result of an empty reduction, float32 stays float32.
    function = getattr(np, name)
    x = normal(3, 4)
    for initial in [0.4, -0.4, 5.0, -5.0]:
        kwargs = dict(axis=axis, initial=initial)
        weights = normal(*np.shape(function(x, **kwargs)))
        check_grads(lambda x: np.sum(function(x, **kwargs) * weights), [x], order=2)
        for value in [x.astype(np.float32), np.zeros((0, 4)), x[:, :1]]:
            for keepdims in [False, True]:
                out = vjpnet.vjp(lambda x: function(x, keepdims=keepdims, **kwargs), value)[0]
                expected = function(value, keepdims=keepdims, **kwargs)
                assert out.shape == expected.shape and out.dtype == expected.dtype
                np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)   # float32
    # a traced initial gets its gradient too
    check_grads(lambda p: np.sum(function(p[0], axis=axis, initial=p[1]) * 1.5),
                [(x, 0.2)], order=1)


def test_ufunc_outer_of_every_differentiable_binary_ufunc():
    # ufunc.outer(a, b) is ufunc(a[..., None, ...], b): shape a.shape + b.shape, both inputs
    # differentiated, float32 kept; comparisons' outer stays a constant.
    a, b = RNG.uniform(0.5, 2.0, (2, 3)), RNG.uniform(0.5, 2.0, 4)
    binary = [u for u in UFUNC_PRIMITIVES if u.nin == 2 and u.signature is None
              and getattr(np, u.__name__, None) is u]
    assert len(binary) > 15
    for ufunc in binary:
        if ufunc in (np.maximum, np.minimum, np.fmax, np.fmin, np.remainder, np.fmod):
            b_ = b + 0.05   # away from ties and jumps
        elif ufunc is np.ldexp:
            b_ = np.array([0, 1, -1, 2])   # integer exponents
        else:
            b_ = b
        f = lambda a, b=b_: ufunc.outer(a, b)  # noqa: E731
        out = vjpnet.vjp(f, a)[0]
        np.testing.assert_allclose(out, f(a), err_msg=ufunc.__name__)
        assert out.shape == (2, 3, 4)
        b32 = b_ if ufunc is np.ldexp else b_.astype(np.float32)
        out32 = vjpnet.vjp(lambda a: f(a, b32), a.astype(np.float32))[0]
        assert out32.dtype == f(a.astype(np.float32), b32).dtype
    weights = normal(2, 3, 4)
    check_grads(lambda a, b: np.sum(np.power.outer(a, b) * weights), [a, b], order=2)
    # outer converts its operands to arrays: a Python number is not weak there
    a32 = a.astype(np.float32)
    for number in (0.5, 2, 1j):
        for f in (lambda x: np.multiply.outer(x, number), lambda x: np.add.outer(number, x)):
            assert vjpnet.vjp(f, a32)[0].dtype == f(a32).dtype
    out, vjp_fn = vjpnet.vjp(lambda x, s: np.multiply.outer(x, s), a32, 0.5)
    assert out.dtype == np.float64 and type(vjp_fn(np.ones_like(out))[1]) is float
    less = vjpnet.vjp(lambda a: np.less.outer(a, b), a)[0]
    assert type(less) is np.ndarray and less.dtype == bool
    with pytest.raises(TypeError, match=r"multiply\.outer\(\.\.\., dtype="):
        grad(lambda a: np.sum(np.multiply.outer(a, b, dtype=np.float32)))(a)


def test_float_power_promotes_and_ldexp_scales_exactly():
    x, y = RNG.uniform(0.5, 2.0, (3, 4)), normal(4)
    out = vjpnet.vjp(lambda x, y: np.float_power(x, y), x.astype(np.float32), y)[0]
    assert out.dtype == np.float64   # float_power computes in float64, as NumPy
    check_grads(lambda x, y: np.sum(np.float_power(x, y) * y), [x, y], order=2)
    gx = grad(lambda x: np.sum(np.float_power(x, 2)))(x.astype(np.float32))
    assert gx.dtype == np.float32
    np.testing.assert_allclose(gx, 2 * x, rtol=1e-6)
    n = np.array([0, 3, -2, 1])
    for value in [x, x.astype(np.float32), 1.5, x[:, :1]]:
        out = vjpnet.vjp(lambda x: np.ldexp(x, n), value)[0]
        np.testing.assert_array_equal(out, np.ldexp(value, n))
        assert out.dtype == np.ldexp(value, n).dtype
        g = grad(lambda x: np.sum(np.ldexp(x, n)))(value)
        assert np.shape(g) == np.shape(value) and np.result_type(g) == np.result_type(value)
    # 2**1030 overflows float64, ldexp(0.25, 1030) does not: the gradient is exact too
    assert grad(lambda x: np.ldexp(x, 1030) * 2.0 ** -1030)(0.25) == 1.0
    check_grads(lambda x: np.sum(np.ldexp(x, n) * y), [x], order=2)


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "var", "std"])
def test_reductions_with_a_where_mask_match_numpy(name):
    # Left-out entries get no gradient; the mask broadcasts; max/min need initial, as in NumPy.
    function = getattr(np, name)
    x = normal(3, 4)
    masks = [x > -0.3, np.array([True, False, True, True]), np.array([[True], [False], [True]])]
    extra = {"initial": -5.0 if name == "max" else 5.0} if name in ("max", "min") else {}
    for mask in masks:
        for axis, keepdims in [(None, False), (0, True), (1, False)]:
            kwargs = dict(axis=axis, keepdims=keepdims, where=mask, **extra)
            for value in [x, x.astype(np.float32)] + ([x + 0.5j * x[::-1]] if not extra else []):
                out = vjpnet.vjp(lambda x: function(x, **kwargs), value)[0]
                expected = function(value, **kwargs)
                assert out.shape == expected.shape and out.dtype == expected.dtype
                np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
            if not np.all(np.isfinite(function(x, **kwargs))):
                continue   # a slice with no entry selected: NaN, as in NumPy
            weights = normal(*np.shape(function(x, **kwargs)))
            check_grads(lambda x: np.sum(function(x, **kwargs) * weights), [x], order=2)
            g = grad(lambda x: np.sum(function(x, **kwargs) * weights))(x)
            assert not np.any(g[~np.broadcast_to(mask, x.shape)])
    if name in ("max", "min"):
        with pytest.raises(ValueError, match="initial"):
            grad(lambda x: function(x, where=x > 0))(x)


@pytest.mark.parametrize("ufunc,method", [
    (np.logaddexp, "reduce"), (np.logaddexp2, "reduce"), (np.hypot, "reduce"),
    (np.fmax, "reduce"), (np.maximum, "accumulate"), (np.multiply, "accumulate"),
    (np.subtract, "accumulate"), (np.divide, "accumulate"), (np.logaddexp, "accumulate"),
    (np.power, "accumulate"),
])
def test_generic_ufunc_reduce_and_accumulate_match_numpy(ufunc, method):
    # accumulate runs left to right (its definition); reduce only for ufuncs whose result does
    # not depend on the order NumPy combines the elements in.
    x = RNG.uniform(0.5, 1.5, (3, 4))
    calls = [dict(axis=0), dict(axis=-1)] + ([dict(axis=None), dict(axis=1, keepdims=True)]
                                              if method == "reduce" else [])
    for kwargs in calls:
        f = lambda x: getattr(ufunc, method)(x, **kwargs)  # noqa: E731
        for value in [x, x.astype(np.float32), np.zeros((0, 4))]:
            try:
                f(value)
            except ValueError:   # an empty reduction of a ufunc with no identity
                with pytest.raises(ValueError):
                    vjpnet.vjp(f, value)
                continue
            out = vjpnet.vjp(f, value)[0]
            assert out.shape == f(value).shape and out.dtype == f(value).dtype
            np.testing.assert_allclose(out, f(value), rtol=1e-5)
        if ufunc not in (np.fmax, np.maximum):
            weights = normal(*np.shape(f(x)))
            check_grads(lambda x: np.sum(f(x) * weights), [x], order=2)
    if ufunc is np.hypot:   # NumPy's reduction starts from the identity: |x| for one element
        assert vjpnet.vjp(lambda x: np.hypot.reduce(x), np.array([-0.5]))[0] == 0.5
        assert grad(lambda x: np.hypot.reduce(x))(np.array([-0.5]))[0] == -1.0
    if ufunc is np.maximum:   # the running maximum: its gradient goes to the current leader
        np.testing.assert_array_equal(
            grad(lambda x: np.sum(np.maximum.accumulate(x)))(np.array([1.0, 3.0, 2.0, 5.0])),
            [1.0, 2.0, 0.0, 1.0])


def test_insert_places_entries_as_numpy_and_sums_gradients_of_reused_values():
    x, v = normal(3, 4), normal(3)
    for obj, values, axis in [(1, v, 1), ([0, 2], v[:2], None), (slice(0, 4, 2), 2.5, 1),
                              (3, normal(1, 4), 0), ([1, 1], v[:2], 1), (-1, v[:1], 0)]:
        f = lambda x: np.insert(x, obj, values, axis=axis)  # noqa: E731
        for value in [x, x.astype(np.float32)]:
            out = vjpnet.vjp(f, value)[0]
            np.testing.assert_array_equal(out, f(value))
            assert out.dtype == f(value).dtype
    # a scalar inserted in every row: its gradient is the sum over the three copies
    assert grad(lambda c: np.sum(np.insert(np.zeros((3, 2)), 1, c, axis=1) * 2.0))(1.5) == 6.0
    with pytest.raises(IndexError):
        grad(lambda x: np.sum(np.insert(x, 9, 1.0, axis=1)))(x)


def test_nanmax_and_nanmin_with_initial_fill_all_nan_slices_with_it():
    x = np.array([[np.nan, 1.0, -2.0], [np.nan, np.nan, np.nan]])
    for function, initial in [(np.nanmax, 0.5), (np.nanmin, 0.5)]:
        f = lambda x: function(x, axis=1, initial=initial)  # noqa: E731
        np.testing.assert_array_equal(vjpnet.vjp(f, x)[0], f(x))
        g = grad(lambda x: np.sum(f(x)))(x)
        np.testing.assert_array_equal(g, [[0.0, function is np.nanmax, function is np.nanmin],
                                          [0.0, 0.0, 0.0]])


def test_sum_of_squares_keeps_initial_and_where():
    # np.sum of a square is recorded as one fused op; initial= and where= must not be dropped
    x = np.array([1.0, -2.0, 3.0])
    for square in [np.square, lambda x: x * x, lambda x: x ** 2]:
        value, g = value_and_grad(lambda x: np.sum(square(x), initial=10.0))(x)
        assert value == 24.0
        np.testing.assert_array_equal(g, 2 * x)
        value, g = value_and_grad(lambda x: np.sum(square(x), where=x > 0))(x)
        assert value == 10.0
        np.testing.assert_array_equal(g, [2.0, 0.0, 6.0])


def test_bad_shapes_raise_numpy_value_errors_naming_the_function():
    with pytest.raises(ValueError, match="numpy.split"):
        grad(lambda x: np.sum(np.split(x, 2)[0]))(normal(3))
    with pytest.raises(ValueError, match="numpy.stack"):
        grad(lambda x: np.sum(np.stack([x, x[:2]])))(normal(3))
    with pytest.raises(ValueError, match="axis 3 is out of bounds"):
        grad(lambda x: np.sum(np.moveaxis(x, 3, 0)))(normal(3))


def test_value_and_grad_of_plain_numpy_returns_plain_arrays():
    value, g = value_and_grad(lambda x: np.sum(np.tanh(x)))(normal(3))
    assert type(value) is np.float64 and type(g) is np.ndarray


def test_pad_with_a_traced_constant_differentiates_the_constant():
    x, c = normal(2, 3), np.float64(0.7)
    f = lambda x, c: np.sum(np.pad(x * c, ((1, 0), (2, 1)), constant_values=c) ** 2)  # noqa: E731
    padded = vjpnet.vjp(lambda x, c: np.pad(x * c, 1, constant_values=c), x, c)[0]
    np.testing.assert_allclose(padded, np.pad(x * c, 1, constant_values=c))
    check_grads(f, [x, c], order=2)
    g = grad(lambda c: np.sum(np.pad(np.ones(2) * c, 1, constant_values=c)))(np.float64(2.0))
    assert g == 4.0   # two inside, two on the border
    x32 = x.astype(np.float32)
    assert vjpnet.vjp(lambda x, c: np.pad(x, 1, constant_values=c), x32, c)[0].dtype == np.float32


@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "var", "std", "cumsum",
                                  "cumprod", "sort", "nansum", "nanmax", "ptp", "median"])
@pytest.mark.parametrize("axis", [0, -1, 1, (0,), None])
def test_reductions_of_a_0d_array_along_an_axis_as_numpy(name, axis):
    """NumPy's sum/prod/max/min (and nan*, ptp) of a 0-d array take axis 0 or -1, its
    cumsum/cumprod give shape (1,), and mean/var/std/sort/median raise AxisError."""
    f = lambda x: getattr(np, name)(x, axis=axis)   # noqa: E731
    x = np.array(1.5)
    try:
        expected = f(x)
    except Exception as error:
        with pytest.raises(type(error)):
            vjpnet.vjp(f, x)
        return
    out, vjp_fn = vjpnet.vjp(f, x)
    assert np.shape(out) == np.shape(expected)
    np.testing.assert_allclose(out, expected)
    assert vjp_fn(np.ones(np.shape(out)))[0].shape == ()


# --- np.sum of a square: one fused op -------------------------------------------------------

_SQUARES = {"square": np.square, "x * x": lambda w: w * w, "x ** 2": lambda w: w ** 2,
            "x ** 2.0": lambda w: w ** 2.0}


@pytest.mark.parametrize("square", list(_SQUARES.values()), ids=list(_SQUARES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sum_of_a_square_is_one_fused_op_with_sums_exact_gradient(square, dtype):
    w = normal(4, 3).astype(dtype)
    with vjpnet.tape.open_tape() as tape:
        out = np.sum(square(tape.new_input(w)))
        primitive = tape.entries[out.node][0]
    assert primitive.name == "sum_of_squares"
    assert out.value == np.sum(w * w) and out.value.dtype == dtype
    value, gradient = value_and_grad(lambda w: 0.05 * np.sum(square(w)))(w)
    assert value == 0.05 * np.sum(w * w)
    assert gradient.dtype == dtype
    # bit for bit what sum's broadcast and the square's VJP give (scaling by 2 is exact)
    np.testing.assert_array_equal(gradient, (2.0 * w) * np.array(0.05, dtype))


def test_sum_of_a_square_used_elsewhere_too_gets_both_cotangents():
    w = normal(3, 4)
    gradient = grad(lambda w: np.sum(np.square(w)) + np.sum(np.sin(np.square(w))))(w)
    np.testing.assert_allclose(gradient, 2 * w + np.cos(w * w) * 2 * w, rtol=1e-12)


@pytest.mark.parametrize("f", [lambda w: np.sum(w * w, axis=0).sum(),
                               lambda w: np.sum(w * w, keepdims=True)[0, 0],
                               lambda w: np.sum(w * (w + 0.0)),
                               lambda w: np.sum(np.square(w), dtype=np.float64)])
def test_sums_of_squares_that_are_not_fused_are_still_right(f):
    w = normal(3, 4)
    np.testing.assert_allclose(grad(f)(w), 2 * w, rtol=1e-12)


def test_sum_of_squares_of_complex_values_and_nested_grads():
    z = normal(3) + 1j * normal(3)
    np.testing.assert_allclose(grad(lambda z: np.real(np.sum(z * z)))(z), 2 * z)   # not fused
    w = normal(3)
    hessian = vjpnet.hessian(lambda w: np.sum(np.square(np.sin(w))))(w)
    expected = np.diag(2 * np.cos(2 * w))   # d2/dw2 sin(w)^2 = 2 cos(2w)
    np.testing.assert_allclose(hessian, expected, atol=1e-12)
    # the sum's cotangent traced (grad of grad through the fused op's VJP)
    third = grad(lambda w: np.sum(grad(lambda v: np.sum(v ** 2) ** 2)(w)))(w)
    np.testing.assert_allclose(third, 4 * np.sum(w ** 2) + 8 * w * np.sum(w), rtol=1e-12)
