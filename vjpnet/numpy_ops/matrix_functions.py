"""Functions of matrices in numpy.linalg: slogdet, pinv, lstsq (primitives), and matrix_power,
multi_dot, cond, tensorinv, tensorsolve and the matrix norms of the singular values, 'nuc', 2
and -2, that numpy.linalg.norm's table lacks (compositions). matrix_rank returns a plain
integer.

Batched over leading axes as NumPy 2 is, except lstsq (2-D, as in NumPy). pinv and lstsq are
differentiated at constant rank: singular values below the cutoff (rcond / rtol) stay zero.
"""
import math
import operator

import numpy as np

from vjpnet.numpy_ops._base import (Primitive, Sample, cast_cotangent, complex_normal, ndim_of,
                                    real_dtype, reject_kwargs, shape_of)
from vjpnet.numpy_ops.decompositions import (_hermitian_spectrum, check_matrix, check_square,
                                             conj, conj_transpose, fold_triangle, is_complex,
                                             matrix_transpose, result_type, svdvals_p)
from vjpnet.numpy_ops.linalg import MATRIX_NORMS
from vjpnet.registry import register_function, register_nondifferentiable
from vjpnet.tape import Traced, dtype_of, plain

_SlogdetResult = result_type(np.linalg.slogdet(np.eye(1)))


# --- slogdet ----------------------------------------------------------------------------------

def _slogdet_forward(a):
    sign, logabsdet = np.linalg.slogdet(a)
    return logabsdet, (a, sign)


def _slogdet_vjp(g, cache):
    """d log|det a| = tr(a^-1 da): the cotangent is g a^-T."""
    a, _ = cache
    return (np.reshape(g, shape_of(g) + (1, 1)) * matrix_transpose(np.linalg.inv(a)),)


def _invertible(rng, shape):
    return rng.standard_normal(shape) * 0.3 + np.eye(shape[-1]) * np.array([2.0, -1.5, 1.0])


slogdet_p = Primitive(_slogdet_forward, _slogdet_vjp, name="slogdet",
                      spec=lambda rng: [Sample(_invertible(rng, (3, 3))),
                                        Sample(_invertible(rng, (2, 3, 3))),
                                        Sample(complex_normal(rng, (3, 3)) + 2.0 * np.eye(3))])


def _slogdet_sign_forward(a, precomputed=None):
    sign = np.linalg.slogdet(a)[0] if precomputed is None else precomputed[0]
    return sign, (a, sign)


def _slogdet_sign_vjp(g, cache):
    """The sign of a complex determinant is its phase, sign = det / |det|:
    d sign = i sign Im(tr(a^-1 da)), so ga = i Im(g sign) a^-T."""
    a, sign = cache
    scale = 1j * np.imag(g * sign)
    return (np.reshape(scale, shape_of(scale) + (1, 1)) *
            matrix_transpose(np.linalg.inv(a)),)


slogdet_sign_p = Primitive(
    _slogdet_sign_forward, _slogdet_sign_vjp, name="slogdet_sign",
    spec=lambda rng: [Sample(complex_normal(rng, (3, 3)) + 2.0 * np.eye(3)),
                      Sample(complex_normal(rng, (2, 3, 3)) * 0.5 + np.eye(3))])


def slogdet(a):
    """numpy.linalg.slogdet: (sign, logabsdet), logabsdet differentiable; the sign is a
    constant for a real matrix and the determinant's (differentiable) phase for a complex one."""
    check_square(a, "slogdet")
    logabsdet, (_, sign) = slogdet_p.bind((a,), {})
    if is_complex(a):
        sign = slogdet_sign_p(a, precomputed=(sign,))   # a tuple: may hold a traced sign
    else:
        sign = plain(sign)
    return _SlogdetResult(sign, logabsdet)


# --- pinv -------------------------------------------------------------------------------------

def _pinv_forward(a, rcond=None, hermitian=False, rtol=np._NoValue):
    given = {} if rtol is np._NoValue else {"rtol": rtol}   # rtol: NumPy >= 2.0
    out = np.linalg.pinv(a, rcond=rcond, hermitian=hermitian, **given)
    return out, (a, out, hermitian)


def _lower_hermitian(a):
    """The Hermitian matrix that eigh-based routines read from a's lower triangle."""
    n = shape_of(a)[-1]
    lower = np.where(np.tri(n, n, -1, dtype=bool), a, 0.0)
    diagonal = np.real(a) if is_complex(a) else a
    return lower + conj_transpose(lower) + np.where(np.eye(n, dtype=bool), diagonal, 0.0)


def _pinv_vjp(g, cache):
    """At constant rank, dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P, so
    ga = -P^T g P^T + (I - conj(A P)) g^H conj(P) P^T + P^T conj(P) g^H (I - conj(P A))
    (for real matrices the conjugates go away)."""
    a, p, hermitian = cache
    if hermitian:
        a = _lower_hermitian(a)
    pt, gh, p_c, a_c = matrix_transpose(p), conj_transpose(g), conj(p), conj(a)
    cotangent = -(pt @ g @ pt)
    cotangent = cotangent + (gh - a_c @ (p_c @ gh)) @ (p_c @ pt)
    cotangent = cotangent + (pt @ p_c) @ (gh - (gh @ p_c) @ a_c)
    return (fold_triangle(cotangent) if hermitian else cotangent,)


pinv_p = Primitive(
    _pinv_forward, _pinv_vjp, name="pinv",
    spec=lambda rng: [Sample(rng.standard_normal((4, 3))),
                      Sample(rng.standard_normal((2, 3, 5))),
                      Sample(_hermitian_spectrum(rng, (3, 3), [-2.0, 0.5, 1.5]),
                             hermitian=True),
                      Sample(complex_normal(rng, (3, 4))),
                      Sample(_hermitian_spectrum(rng, (3, 3), [-2.0, 0.5, 1.5], True),
                             hermitian=True)])


def pinv(a, rcond=None, hermitian=False, *, rtol=np._NoValue):
    """numpy.linalg.pinv, batched; differentiated at constant rank."""
    check_matrix(a, "pinv")
    if hermitian:
        check_square(a, "pinv")
    return pinv_p(a, rcond=rcond, hermitian=bool(hermitian), rtol=rtol)


# --- lstsq ------------------------------------------------------------------------------------

def _lstsq_forward(a, b, rcond=None):
    x, residuals, rank, s = np.linalg.lstsq(a, b, rcond=rcond)
    return x, (a, b, x, rank, s, rcond)


def _lstsq_cutoff(rcond, a):
    """The relative singular-value cutoff lstsq uses (NumPy computes in float64)."""
    eps = np.finfo(np.float64).eps
    if rcond is None:
        return eps * max(shape_of(a))
    return eps if rcond < 0 else rcond


def _lstsq_vjp(g, cache, needed):
    """x = P b with P = pinv(a) at constant rank and r = b - a x the residual: gb = P^T gx;
    ga = -P^T gx x^T + conj(r) gx^H conj(P) P^T + P^T conj(x) gx^H (I - conj(P a))."""
    a, b, x, _, _, rcond = cache
    p = np.linalg.pinv(a, _lstsq_cutoff(rcond, a))
    pt = matrix_transpose(p)
    vector = ndim_of(b) == 1
    if vector:
        b, x, g = b[:, None], x[:, None], g[:, None]
    gb = pt @ g
    ga = None
    if needed[0]:
        gh, p_c = conj_transpose(g), conj(p)
        residual = conj(b - a @ x)
        ga = -(gb @ matrix_transpose(x))
        ga = ga + (residual @ gh) @ (p_c @ pt)
        ga = ga + (pt @ conj(x)) @ (gh - (gh @ p_c) @ conj(a))
    if not needed[1]:
        gb = None
    elif vector:
        gb = gb[:, 0]
    # x has the common type of a and b (float64 for float32 with float64 or an integer):
    # each cotangent goes back in its own operand's dtype
    return (None if ga is None else cast_cotangent(ga, dtype_of(a)),
            None if gb is None else cast_cotangent(gb, dtype_of(b)))


lstsq_p = Primitive(
    _lstsq_forward, _lstsq_vjp, name="lstsq", selective_vjp=True,
    spec=lambda rng: [Sample(rng.standard_normal((5, 3)), rng.standard_normal(5)),
                      Sample(rng.standard_normal((5, 3)), rng.standard_normal((5, 2))),
                      Sample(rng.standard_normal((3, 5)), rng.standard_normal(3)),
                      Sample(complex_normal(rng, (5, 3)), complex_normal(rng, (5, 2))),
                      Sample(complex_normal(rng, (3, 5)), complex_normal(rng, 3))])


def lstsq(a, b, rcond=None):
    """numpy.linalg.lstsq: (x, residuals, rank, s). x, residuals and s are differentiable in a
    and b (at constant rank); rank is a plain integer."""
    if ndim_of(a) != 2:
        raise np.linalg.LinAlgError(f"numpy.linalg.lstsq: a must be 2-dimensional, got shape "
                                    f"{shape_of(a)}")
    x, (_, _, _, rank, s, _) = lstsq_p.bind((a, b), {"rcond": rcond})
    m, n = shape_of(a)
    real = real_dtype(dtype_of(x))   # NumPy's dtype of the residuals and singular values
    if rank == n and m > n:
        residual = b - np.dot(a, x)
        squares = np.real(residual * np.conj(residual)) if is_complex(residual) else \
            residual * residual   # |b - a x|^2, real as NumPy's
        residuals = np.sum(squares, axis=0)
        if ndim_of(b) == 1:
            residuals = np.reshape(residuals, (1,))
    else:
        residuals = np.empty((0,), dtype=real)
    if type(a) is Traced:
        s = svdvals_p(a)
        if dtype_of(s) != real:   # float32 a with a float64 (or integer) b
            s = s.astype(real)
    return x, residuals, rank, s


# --- compositions -----------------------------------------------------------------------------

def matrix_power(a, n):
    """numpy.linalg.matrix_power: a @ a @ ... (n times), inv(a) powers for n < 0, batched."""
    check_square(a, "matrix_power")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"numpy.linalg.matrix_power: exponent must be an integer, got "
                        f"{type(n).__name__}") from None
    if n == 0:
        identity = np.eye(shape_of(a)[-1], dtype=dtype_of(a))
        return np.broadcast_to(identity, shape_of(a)).copy()
    if n < 0:
        a, n = np.linalg.inv(a), -n
    result, power = None, a
    while n:
        if n & 1:
            result = power if result is None else result @ power
        n >>= 1
        if n:
            power = power @ power
    return result


def multi_dot(arrays, *, out=None):
    """numpy.linalg.multi_dot: the first array may be 1-D (a row), the last 1-D (a column)."""
    reject_kwargs("linalg.multi_dot", {"out": out}, out=None)
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("numpy.linalg.multi_dot: expecting at least two arrays")
    for position, array in enumerate(arrays):
        edge = position in (0, len(arrays) - 1)
        if ndim_of(array) != 2 and not (edge and ndim_of(array) == 1):
            raise ValueError(f"numpy.linalg.multi_dot: array {position} has shape "
                             f"{shape_of(array)}; expected 2-D (1-D allowed first and last)")
    result = arrays[0]
    for array in arrays[1:]:
        result = np.dot(result, array)
    return result


def _keepdims_shape(shape, axes):
    return tuple(1 if axis in axes else size for axis, size in enumerate(shape))


def _singular_value_norm(reduce, ord):
    """The matrix norm `ord` ('nuc', 2, -2) of x over axes (row, column): the sum, largest or
    smallest singular value. Added to numpy.linalg.norm's table of matrix norms. As every
    norm there, it has gradient 0 where it is 0."""
    def norm(x, axes, keepdims):
        if 0 in shape_of(x):   # no element to differentiate: NumPy's value (or error) as is
            return np.linalg.norm(plain(x), ord, axes, keepdims)
        out = reduce(svdvals_p(np.moveaxis(x, axes, (-2, -1))), axis=-1)
        zero = np.asarray(plain(out)) == 0
        if zero.any():
            out = np.where(zero, 0.0, out)
        return np.reshape(out, _keepdims_shape(shape_of(x), axes)) if keepdims else out
    return norm


MATRIX_NORMS.update({"nuc": _singular_value_norm(np.sum, "nuc"),
                     2: _singular_value_norm(np.max, 2), -2: _singular_value_norm(np.min, -2)})


def cond(x, p=None):
    """numpy.linalg.cond: s_max / s_min for p None, 2 (s_min / s_max for -2), else
    norm(x, p) * norm(inv(x), p). As NumPy: inf (a constant) for a singular matrix, and
    LinAlgError for empty matrices."""
    check_matrix(x, "cond")
    shape = shape_of(x)
    if math.prod(shape[-2:]) == 0:
        raise np.linalg.LinAlgError(f"numpy.linalg.cond: cond is not defined on empty arrays "
                                    f"(shape {shape})")
    with np.errstate(all="ignore"):   # singular matrices: inf, as NumPy
        if p is None or p == 2 or p == -2:
            s = svdvals_p(x)
            top, bottom = (s[..., -1], s[..., 0]) if p == -2 else (s[..., 0], s[..., -1])
            zero = np.asarray(plain(bottom)) == 0
            r = top / bottom if not zero.any() else \
                np.where(zero, np.inf, top / np.where(zero, 1.0, bottom))
        else:
            check_square(x, "cond")
            try:
                r = _norm_times_inverse_norm(x, p)
            except np.linalg.LinAlgError:   # some matrix of the batch is singular
                singular = np.isinf(np.linalg.cond(np.asarray(plain(x)), p))
                identity = np.eye(shape[-1], dtype=dtype_of(x))
                regular = np.where(singular[..., None, None], identity, x)
                r = np.where(singular, np.inf, _norm_times_inverse_norm(regular, p))
    undefined = np.isnan(np.asarray(plain(r))) & \
        ~np.isnan(np.asarray(plain(x))).any(axis=(-2, -1))
    return np.where(undefined, np.inf, r) if undefined.any() else r   # NaN -> inf, as NumPy


def _norm_times_inverse_norm(x, p):
    return np.linalg.norm(x, p, axis=(-2, -1)) * np.linalg.norm(np.linalg.inv(x), p,
                                                               axis=(-2, -1))


def tensorinv(a, ind=2):
    """numpy.linalg.tensorinv: inv of a reshaped to a square matrix, reshaped back."""
    shape = shape_of(a)
    if ind <= 0:
        raise ValueError("numpy.linalg.tensorinv: invalid ind argument (must be > 0)")
    if not shape:   # NumPy fails on reshape(*()) here
        raise TypeError("numpy.linalg.tensorinv: a is 0-d; expected a tensor of shape "
                        "(i1, ..., ik, j1, ...)")
    rows = math.prod(shape[ind:])
    inverse = np.linalg.inv(np.reshape(a, (rows, -1)))
    return np.reshape(inverse, shape[ind:] + shape[:ind])


def tensorsolve(a, b, axes=None):
    """numpy.linalg.tensorsolve: solve of a reshaped to a square matrix against b flattened."""
    a_ndim = ndim_of(a)
    if axes is not None:
        order = [axis for axis in range(a_ndim) if axis not in
                 [axis % a_ndim for axis in axes]] + [axis % a_ndim for axis in axes]
        a = np.transpose(a, order)
    shape = shape_of(a)
    solution_shape = shape[-(a_ndim - ndim_of(b)):]
    size = math.prod(solution_shape)
    if math.prod(shape[:ndim_of(b)]) != size:
        raise np.linalg.LinAlgError(
            f"numpy.linalg.tensorsolve: the leading dimensions of a, {shape[:ndim_of(b)]}, do "
            f"not form a square matrix with its trailing ones, {solution_shape}")
    solution = np.linalg.solve(np.reshape(a, (size, size)), np.reshape(b, (size,)))
    return np.reshape(solution, solution_shape)


for _function, _handler in [(np.linalg.slogdet, slogdet), (np.linalg.pinv, pinv),
                            (np.linalg.lstsq, lstsq), (np.linalg.matrix_power, matrix_power),
                            (np.linalg.multi_dot, multi_dot), (np.linalg.cond, cond),
                            (np.linalg.tensorinv, tensorinv),
                            (np.linalg.tensorsolve, tensorsolve)]:
    register_function(_function, _handler)
register_nondifferentiable(np.linalg.matrix_rank)
