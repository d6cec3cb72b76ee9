"""scipy.linalg inside grad, with SciPy's signatures: solve_triangular, cholesky, cho_factor,
cho_solve, solve_sylvester, sqrtm, expm (all batched over leading axes as SciPy 1.17 is), and
solve_banded (one system; through a dense solve on traced values).

The forwards are SciPy's (or NumPy's LAPACK) on plain arrays; each VJP is written with these
same primitives, so second derivatives work:
    solve_triangular   x = op(A)^-1 b: b_bar = op(A)^-T g, A_bar = -(b_bar x^T or x b_bar^T),
                       kept to A's triangle (strictly, with unit_diagonal=True)
    cholesky           A = L L^T: A_bar = sym(L^-T Phi(L^T L_bar) L^-1), Phi = lower triangle
                       with the diagonal halved; the input is read as (A + A^T) / 2, so the
                       gradient is symmetric and agrees with numeric derivatives in any direction
    solve_sylvester    A X + X B = Q: Y solves A^T Y + Y B^T = G; Q_bar = Y, A_bar = -Y X^T,
                       B_bar = -X^T Y
    sqrtm              X X = A: A_bar solves X^T A_bar + A_bar X^T = G (a Sylvester equation;
                       real part for a real A whose root is complex)
    expm               A_bar is the upper-right block of expm([[A^T, G], [0, A^T]]) (the
                       Frechet derivative of expm at A^T in the direction G)
"""
import numpy as np
import scipy.linalg as _sl

from vjpnet.numpy_ops._base import Primitive, Sample, cast_cotangent, sum_to_shape
from vjpnet.tape import Traced, dtype_of, plain

__all__ = ["solve_triangular", "cholesky", "cho_factor", "cho_solve", "solve_sylvester",
           "sqrtm", "expm", "solve_banded"]

_TRANS = {0: 0, 1: 1, 2: 1, "N": 0, "T": 1, "C": 1, "n": 0, "t": 1, "c": 1}


def _is_traced(*values):
    return any(type(value) is Traced for value in values)


def _mT(x):
    """Swap the last two axes (a matrix transpose, batched)."""
    return np.swapaxes(x, -1, -2)


def _triangle_mask(n, lower, strict, dtype):
    ones = np.ones((n, n), dtype)
    if lower:
        return np.tril(ones, -1 if strict else 0)
    return np.triu(ones, 1 if strict else 0)


def _square_matrices(rng, shape):
    return rng.standard_normal(shape) * 0.3 + 2.0 * np.eye(shape[-1])


def _spd(rng, shape):
    b = rng.standard_normal(shape)
    return b @ np.swapaxes(b, -1, -2) + shape[-1] * np.eye(shape[-1])


# --- solve_triangular -------------------------------------------------------------------------

def _solve_triangular_forward(a, b, *, trans, lower, unit_diagonal):
    if _is_traced(a, b):   # nested grad: record one level down
        out = solve_triangular_p(a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal)
    else:
        out = _sl.solve_triangular(a, b, trans=trans, lower=lower,
                                   unit_diagonal=unit_diagonal)
    return out, (a, b, out, trans, lower, unit_diagonal)


def _solve_triangular_vjp(g, cache, needed):
    a, b, x, trans, lower, unit_diagonal = cache
    b_bar = solve_triangular_p(a, g, trans=1 - trans, lower=lower, unit_diagonal=unit_diagonal)
    a_bar = None
    if needed[0]:
        if np.ndim(plain(b)) == 1:
            product = np.reshape(b_bar, (-1, 1)) * np.reshape(x, (1, -1))
        else:
            product = np.matmul(b_bar, _mT(x))
        if trans:
            product = _mT(product)
        n = a.shape[-1]
        mask = _triangle_mask(n, lower, unit_diagonal, dtype_of(product))
        a_bar = sum_to_shape(-(product * mask), a.shape, dtype_of(a))
    if needed[1]:
        b_bar = sum_to_shape(b_bar, b.shape, dtype_of(b))
    return a_bar, (b_bar if needed[1] else None)


solve_triangular_p = Primitive(
    _solve_triangular_forward, _solve_triangular_vjp, name="solve_triangular",
    selective_vjp=True,
    spec=lambda rng: [
        Sample(np.tril(_square_matrices(rng, (3, 3))), rng.standard_normal(3),
               trans=0, lower=True, unit_diagonal=False),
        Sample(np.triu(_square_matrices(rng, (3, 3))), rng.standard_normal((3, 2)),
               trans=1, lower=False, unit_diagonal=False),
        Sample(np.tril(_square_matrices(rng, (2, 3, 3))), rng.standard_normal((2, 3, 2)),
               trans=0, lower=True, unit_diagonal=True),
        Sample(np.triu(_square_matrices(rng, (3, 3))), rng.standard_normal((2, 3, 1)),
               trans=0, lower=False, unit_diagonal=False)])


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False,
                     check_finite=True):
    """x solving op(a) x = b for triangular a (only its `lower`/upper triangle is read).

    a: (..., n, n); b: (n,) or (..., n, k); trans: 0/'N' (a), 1/'T' or 2/'C' (a^T).
    Differentiable in a (its triangle) and b.
    """
    if trans not in _TRANS:
        raise ValueError(f"vjpnet.scipy.linalg.solve_triangular: trans={trans!r}; expected "
                         "0, 1, 2, 'N', 'T' or 'C'")
    return solve_triangular_p(a, b, trans=_TRANS[trans], lower=bool(lower),
                              unit_diagonal=bool(unit_diagonal))


# --- cholesky, cho_factor, cho_solve ---------------------------------------------------------

def _cholesky_forward(a):
    if np.iscomplexobj(plain(a)):
        raise TypeError(f"vjpnet.scipy.linalg.cholesky: complex (Hermitian) matrices are not "
                        f"supported, got {np.result_type(plain(a))}; the factorization and its "
                        "VJP are for real symmetric positive definite matrices")
    if _is_traced(a):
        out = cholesky_p(a)
    else:
        out = np.linalg.cholesky(0.5 * (a + np.swapaxes(a, -1, -2)))
    return out, out


def _cholesky_vjp(g, lower_factor):
    n = lower_factor.shape[-1]
    dtype = dtype_of(lower_factor)
    phi = _triangle_mask(n, True, False, dtype) - 0.5 * np.eye(n, dtype=dtype)
    projected = np.matmul(_mT(lower_factor), g) * phi
    left = solve_triangular_p(lower_factor, projected, trans=1, lower=True, unit_diagonal=False)
    both = solve_triangular_p(lower_factor, _mT(left), trans=1, lower=True,
                              unit_diagonal=False)
    return (0.5 * (both + _mT(both)),)


cholesky_p = Primitive(_cholesky_forward, _cholesky_vjp, name="cholesky",
                       spec=lambda rng: [Sample(_spd(rng, (3, 3))),
                                         Sample(_spd(rng, (2, 4, 4)))])


def _check_square(function, a):
    shape = np.shape(plain(a))
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise ValueError(f"vjpnet.scipy.linalg.{function}: expected square matrices "
                         f"(..., n, n), got shape {shape}")


def _cholesky_of(function, a):
    _check_square(function, a)
    try:
        return cholesky_p(a)
    except np.linalg.LinAlgError as error:
        raise np.linalg.LinAlgError(
            f"vjpnet.scipy.linalg.{function}: the matrix is not positive definite "
            f"({error})") from None


def cholesky(a, lower=False, overwrite_a=False, check_finite=True):
    """The Cholesky factor of symmetric positive definite a: upper U (a = U^T U) by default,
    lower L (a = L L^T) with lower=True. a: (..., n, n), read as (a + a^T) / 2."""
    factor = _cholesky_of("cholesky", a)
    return factor if lower else _mT(factor)


def cho_factor(a, lower=False, overwrite_a=False, check_finite=True):
    """(c, lower) for cho_solve: c holds the Cholesky factor in its lower (or upper) triangle
    and, like SciPy's, a's own entries in the other triangle (which cho_solve never reads)."""
    factor = cholesky(a, lower=lower)
    shape = np.shape(plain(a))
    rest = _triangle_mask(shape[-1], not lower, True, dtype_of(plain(factor)))
    c = factor + a * rest
    if len(shape) > 2:   # SciPy's batched cho_factor returns [c, one flag per matrix]
        return [c, np.full(shape[:-2], bool(lower))]
    return c, lower


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    """x solving a x = b from cho_factor(a) = (c, lower); differentiable in c and b."""
    c, lower = c_and_lower
    if np.ndim(lower):   # batched cho_factor's flags: one per matrix, all equal
        if np.any(lower != np.ravel(lower)[0]):
            raise ValueError("vjpnet.scipy.linalg.cho_solve: the matrices' lower flags differ")
        lower = np.ravel(lower)[0]
    if lower:   # a = L L^T
        y = solve_triangular_p(c, b, trans=0, lower=True, unit_diagonal=False)
        return solve_triangular_p(c, y, trans=1, lower=True, unit_diagonal=False)
    y = solve_triangular_p(c, b, trans=1, lower=False, unit_diagonal=False)   # a = U^T U
    return solve_triangular_p(c, y, trans=0, lower=False, unit_diagonal=False)


# --- solve_sylvester, sqrtm, expm ------------------------------------------------------------

def _sylvester_forward(a, b, q):
    out = sylvester_p(a, b, q) if _is_traced(a, b, q) else _sl.solve_sylvester(a, b, q)
    return out, (a, b, out, np.shape(plain(q)), dtype_of(q))


def _sylvester_vjp(g, cache, needed):
    a, b, x, q_shape, q_dtype = cache
    y = sylvester_p(_mT(a), _mT(b), g)
    return (sum_to_shape(-np.matmul(y, _mT(x)), a.shape, dtype_of(a)) if needed[0] else None,
            sum_to_shape(-np.matmul(_mT(x), y), b.shape, dtype_of(b)) if needed[1] else None,
            sum_to_shape(y, q_shape, q_dtype) if needed[2] else None)


sylvester_p = Primitive(_sylvester_forward, _sylvester_vjp, name="solve_sylvester",
                        selective_vjp=True,
                        spec=lambda rng: [Sample(_square_matrices(rng, (3, 3)),
                                                 _square_matrices(rng, (2, 2)),
                                                 rng.standard_normal((3, 2)))])


def solve_sylvester(a, b, q):
    """x solving a x + x b = q. a: (..., m, m), b: (..., n, n), q: (..., m, n)."""
    return sylvester_p(a, b, q)


def _sqrtm_forward(a):
    out = sqrtm_p(a) if _is_traced(a) else _sl.sqrtm(a)
    return out, (out, dtype_of(a))


def _sqrtm_vjp(g, cache):
    # A real A with negative eigenvalues has a complex root: the cotangent's real part is A's.
    root, a_dtype = cache
    root_t = _mT(root)
    return (cast_cotangent(sylvester_p(root_t, root_t, g), a_dtype),)


sqrtm_p = Primitive(_sqrtm_forward, _sqrtm_vjp, name="sqrtm",
                    spec=lambda rng: [Sample(_spd(rng, (3, 3))),
                                      Sample(_square_matrices(rng, (2, 3, 3)))])


def sqrtm(A, disp=None, blocksize=None):
    """The principal square root X of A (X @ X = A). A: (..., n, n).

    SciPy's sqrtm: complex for a real A with negative eigenvalues (differentiable then too, the
    gradient with respect to the real A being real).
    """
    if not _is_traced(A):
        return _sl.sqrtm(A)
    _check_square("sqrtm", A)
    return sqrtm_p(A)


def _expm_forward(a):
    out = expm_p(a) if _is_traced(a) else _sl.expm(a)
    return out, a


def _expm_vjp(g, a):
    n = a.shape[-1]
    a_t = _mT(a)
    zeros = np.zeros(np.shape(plain(a)), dtype_of(a))
    block = np.concatenate([np.concatenate([a_t, g], axis=-1),
                            np.concatenate([zeros, a_t], axis=-1)], axis=-2)
    return (expm_p(block)[..., :n, n:],)


expm_p = Primitive(_expm_forward, _expm_vjp, name="expm",
                   spec=lambda rng: [Sample(rng.standard_normal((3, 3)) * 0.5),
                                     Sample(rng.standard_normal((2, 2, 2)) * 0.5)])


def expm(A):
    """The matrix exponential of A: (..., n, n)."""
    _check_square("expm", A)
    return expm_p(A)


# --- solve_banded ----------------------------------------------------------------------------

def _dense_from_banded(lower_count, upper_count, ab):
    """The (n, n) matrix whose band is stored in ab ((l + u + 1, n), LAPACK's layout:
    ab[u + i - j, j] = a[i, j]); entries of ab outside the matrix (its corners) are not read."""
    n = ab.shape[-1]
    i = np.arange(n).reshape(-1, 1)
    j = np.arange(n).reshape(1, -1)
    rows = upper_count + i - j
    inside = (rows >= 0) & (rows <= lower_count + upper_count)
    gathered = ab[np.clip(rows, 0, lower_count + upper_count), np.broadcast_to(j, (n, n))]
    return np.where(inside, gathered, 0.0)


def solve_banded(l_and_u, ab, b, overwrite_ab=False, overwrite_b=False, check_finite=True):
    """x solving a x = b for the banded a stored in ab, as scipy.linalg.solve_banded.

    l_and_u: (l, u), the numbers of nonzero sub- and superdiagonals; ab: (l + u + 1, n) with
    ab[u + i - j, j] = a[i, j]; b: (n,) or (n, k). Differentiable in ab (its band) and b. On
    traced values the band is expanded to a dense matrix and solved by np.linalg.solve (O(n^3)),
    whose VJPs give the gradients; plain values use SciPy's banded solver.
    """
    try:
        lower_count, upper_count = (int(count) for count in l_and_u)
    except (TypeError, ValueError):
        raise TypeError(f"vjpnet.scipy.linalg.solve_banded: l_and_u must be a pair of integers "
                        f"(l, u), got {l_and_u!r}") from None
    if not _is_traced(ab, b):
        return _sl.solve_banded((lower_count, upper_count), ab, b, check_finite=check_finite)
    ab = ab if type(ab) is Traced else np.asarray(ab)
    b = b if type(b) is Traced else np.asarray(b)
    ab_shape, b_shape = np.shape(plain(ab)), np.shape(plain(b))
    if len(ab_shape) != 2 or ab_shape[0] != lower_count + upper_count + 1:
        raise ValueError(f"vjpnet.scipy.linalg.solve_banded: ab must have shape (l + u + 1, n) "
                         f"= ({lower_count + upper_count + 1}, n) for (l, u) = "
                         f"({lower_count}, {upper_count}), got {ab_shape}")
    if len(b_shape) not in (1, 2) or b_shape[0] != ab_shape[1]:
        raise ValueError(f"vjpnet.scipy.linalg.solve_banded: b must have shape (n,) or (n, k) "
                         f"with n = {ab_shape[1]} (ab's columns), got {b_shape}")
    if not _is_traced(ab):
        ab = ab.astype(np.result_type(ab.dtype, np.float64) if ab.dtype.kind in "iub"
                       else ab.dtype)
    return np.linalg.solve(_dense_from_banded(lower_count, upper_count, ab), b)
