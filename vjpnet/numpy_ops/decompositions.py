"""Matrix decompositions of numpy.linalg: svd, eigh/eigvalsh, eig/eigvals, cholesky, qr.

All are batched over leading axes as NumPy 2 is (a: (..., M, N)), keep float32, and have VJPs
written with NumPy operations (differentiable again).

A primitive has one output, so each output of a decomposition is its own primitive, named
after the NumPy function and the output (svd_u, svdvals, svd_vh; eigvalsh, eigh_eigenvectors;
eigvals, eig_eigenvectors; qr_q, qr_r), whose VJP is the part of the decomposition's VJP that is
linear in that output's cotangent (the parts add up to the whole). The NumPy-signature
function computes the decomposition once, on the value one trace level down (where the
primitives' forwards run), and hands it to each output's primitive; called without it (as the
registry test does) a primitive decomposes its input itself. An output the loss does not use
costs nothing in the backward pass.

Conventions:
- eigh, eigvalsh and cholesky read one triangle of `a`, as NumPy does (eigh's UPLO, lower for
  cholesky, upper for cholesky(upper=True)): the gradient is that of the function NumPy
  computes, zero outside that triangle. (For a symmetric `a` built from parameters, e.g.
  X @ X.T, the gradient w.r.t. the parameters is the usual one.)
- Eigenvalues and singular values alone always have a gradient (at a repeated eigenvalue, the
  one for losses symmetric in the repeated values: sums, traces, determinants). Eigenvectors
  (singular vectors) involve 1 / (w_j - w_i) (1 / (s_j^2 - s_i^2), and 1 / s for the extra
  singular vectors of a non-square matrix): where that divisor is exactly zero the derivative
  is undefined or a 0/0 whose value depends on more than the VJP sees (a matrix logarithm
  V diag(log w) V^T at the identity), so a loss that uses them there raises ValueError naming
  the repeated values; HIPS autograd, JAX and PyTorch return inf or NaN there. Elsewhere the
  formula is used as is: nearly repeated values give large (ill-conditioned) gradients.
- svd(full_matrices=True) and qr(mode='complete') of a non-square matrix return extra columns
  (rows of vh) spanning the complement, which are not unique. A loss that does not use them,
  or uses them only through their span (u2 @ u2.T), gets its exact gradient; one that depends
  on the particular basis NumPy chose raises ValueError.
"""
import numpy as np

from vjpnet.numpy_ops._base import Primitive, Sample, shape_of
from vjpnet.registry import register_function
from vjpnet.tape import Traced, dtype_of, plain


def result_type(example):
    """The type NumPy returns several results in: its namedtuple (`.eigenvalues`, `.U`, `.Q`
    work as with NumPy), or a plain tuple on NumPy 1.x."""
    kind = type(example)
    return (lambda *parts: parts) if kind is tuple else kind


_EighResult = result_type(np.linalg.eigh(np.eye(1)))
_EigResult = result_type(np.linalg.eig(np.eye(1)))
_SVDResult = result_type(np.linalg.svd(np.eye(1)))
_QRResult = result_type(np.linalg.qr(np.eye(1)))


# --- helpers --------------------------------------------------------------------------------

def matrix_transpose(x):
    """Swap the last two axes (a view for plain arrays, a linear primitive on traced ones)."""
    return np.swapaxes(x, -1, -2)


def check_square(a, function_name):
    """Raise numpy.linalg.LinAlgError naming the function unless a is (..., n, n)."""
    shape = shape_of(a)
    if len(shape) < 2 or shape[-1] != shape[-2]:
        raise np.linalg.LinAlgError(
            f"numpy.linalg.{function_name}: expected a square matrix or a stack of them, shape "
            f"(..., n, n); got shape {shape}")


def check_matrix(a, function_name):
    shape = shape_of(a)
    if len(shape) < 2:
        raise np.linalg.LinAlgError(
            f"numpy.linalg.{function_name}: expected a matrix or a stack of them, shape "
            f"(..., M, N); got shape {shape}")


def one_level_down(a):
    """The value a primitive's forward sees when called on `a`."""
    return a.value if type(a) is Traced else a


def _eye(n, like):
    return np.eye(n, dtype=dtype_of(like))


def _diag_embed(values):
    """(..., n) -> (..., n, n) with `values` on the diagonal."""
    return values[..., :, None] * _eye(shape_of(values)[-1], values)


def inverse_differences(values, function_name, vectors):
    """F[..., i, j] = 1 / (values[j] - values[i]) off the diagonal, 0 on it (values: (..., n)).

    Raises ValueError if two values are exactly equal: the derivative of the `vectors` that
    belong to them is undefined there (see the module docstring).
    """
    gaps = values[..., None, :] - values[..., :, None]
    n = shape_of(values)[-1]
    off_diagonal = ~np.eye(n, dtype=bool)
    repeated = (np.asarray(plain(gaps)) == 0) & off_diagonal
    if repeated.any():
        where = tuple(int(i) for i in np.argwhere(repeated)[0])
        raise ValueError(
            f"the gradient of numpy.linalg.{function_name} through its {vectors} is undefined "
            f"here: values {where[-2]} and {where[-1]} (at index {where[:-2] or '()'} of the "
            f"batch) are exactly equal, {float(np.asarray(plain(values))[where[:-1]]):g}, and "
            f"the {vectors} of a repeated value are not unique. The gradient through the "
            f"values alone is defined (use them only); otherwise move the input off the "
            f"repeated value (HIPS autograd, JAX and PyTorch return inf or NaN here).")
    return np.where(off_diagonal, 1.0 / np.where(off_diagonal, gaps, 1.0), 0.0)


def _reciprocal_nonzero(values, function_name, vectors):
    """1 / values; raise ValueError if a value is exactly 0 (for the extra singular vectors)."""
    if np.any(np.asarray(plain(values)) == 0):
        raise ValueError(
            f"the gradient of numpy.linalg.{function_name} through its {vectors} is undefined "
            "here: a singular value is exactly 0 and the matrix is not square, so the "
            f"{vectors} belonging to it are not unique (HIPS autograd, JAX and PyTorch return "
            "inf or NaN here)")
    return 1.0 / values


def fold_triangle(gradient, lower=True):
    """The gradient w.r.t. `a` of a function that reads only one triangle of `a` and uses it as
    the symmetric matrix S = tril(a) + tril(a, -1).T, given `gradient` w.r.t. S: diag(G) and
    G + G.T on the strict lower (upper) triangle, zero elsewhere. gradient: (..., n, n)."""
    n = shape_of(gradient)[-1]
    strict = np.tri(n, n, -1, dtype=bool)
    if not lower:
        strict = strict.T
    return np.where(strict, gradient + matrix_transpose(gradient),
                    np.where(np.eye(n, dtype=bool), gradient, 0.0))


def _complement_cotangent(basis, complement, g_complement, function_name, what):
    """Extra columns (complement: (..., M, M - K)) that are not unique: fold their cotangent
    into that of the first K columns (basis) as the choice that moves them only as orthogonality
    forces. Exact when the loss depends on them through their span, i.e. when
    complement^T g_complement is symmetric; otherwise raise ValueError."""
    product = matrix_transpose(complement) @ g_complement
    value = np.asarray(plain(product))
    asymmetry = np.abs(value - np.swapaxes(value, -1, -2)).max(initial=0.0)
    if asymmetry > np.sqrt(np.finfo(value.dtype).eps) * np.abs(value).max(initial=0.0):
        raise ValueError(
            f"the gradient of numpy.linalg.{function_name} is undefined here: the loss depends "
            f"on the particular basis NumPy chose for the extra {what} (which only their span "
            f"determines); use the reduced form, or those {what} only through their span "
            f"(e.g. u2 @ u2.T)")
    return -(complement @ matrix_transpose(g_complement)) @ basis


# --- svd ------------------------------------------------------------------------------------

def _svd(a, full_matrices, decomposition):
    return np.linalg.svd(a, full_matrices=full_matrices) if decomposition is None \
        else decomposition


def _svd_u_forward(a, full_matrices=False, decomposition=None):
    u, s, vh = _svd(a, full_matrices, decomposition)
    return u, (u, s, vh)


def _svd_u_vjp(gu, cache):
    """The part of svd's VJP linear in gu: u (F * (u^T gu - gu^T u)) diag(s) vh, F_ij =
    1 / (s_j^2 - s_i^2), plus (I - u u^T) gu diag(1/s) vh when M > N."""
    u, s, vh = cache
    k = shape_of(s)[-1]
    m = shape_of(u)[-2]
    if shape_of(u)[-1] > k:   # full_matrices
        gu = gu[..., :k] + _complement_cotangent(u[..., :k], u[..., k:], gu[..., k:], "svd",
                                                 "columns of u")
        u = u[..., :k]
    vh = vh[..., :k, :]
    ut_gu = matrix_transpose(u) @ gu
    middle = inverse_differences(s * s, "svd", "singular vectors") * \
        (ut_gu - matrix_transpose(ut_gu)) * s[..., None, :]
    cotangent = u @ middle @ vh
    if m > k:   # the part of gu outside the span of u
        outside = gu - u @ ut_gu
        inverse = _reciprocal_nonzero(s, "svd", "singular vectors")
        cotangent = cotangent + (outside * inverse[..., None, :]) @ vh
    return (cotangent,)


def _svd_vh_forward(a, full_matrices=False, decomposition=None):
    u, s, vh = _svd(a, full_matrices, decomposition)
    return vh, (u, s, vh)


def _svd_vh_vjp(gvh, cache):
    """The part of svd's VJP linear in gvh: u diag(s) (F * (v^T gv - gv^T v)) vh, plus
    u diag(1/s) gvh (I - v vh) when M < N."""
    u, s, vh = cache
    k = shape_of(s)[-1]
    n = shape_of(vh)[-1]
    if shape_of(vh)[-2] > k:   # full_matrices
        folded = _complement_cotangent(matrix_transpose(vh[..., :k, :]),
                                       matrix_transpose(vh[..., k:, :]),
                                       matrix_transpose(gvh[..., k:, :]), "svd", "rows of vh")
        gvh = gvh[..., :k, :] + matrix_transpose(folded)
        vh = vh[..., :k, :]
    u = u[..., :, :k]
    v = matrix_transpose(vh)
    vt_gv = vh @ matrix_transpose(gvh)
    middle = s[..., :, None] * (inverse_differences(s * s, "svd", "singular vectors") *
                                (vt_gv - matrix_transpose(vt_gv)))
    cotangent = u @ middle @ vh
    if n > k:   # the part of gvh outside the span of vh
        outside = gvh - (gvh @ v) @ vh
        inverse = _reciprocal_nonzero(s, "svd", "singular vectors")
        cotangent = cotangent + (u * inverse[..., None, :]) @ outside
    return (cotangent,)


def _svdvals_forward(a, decomposition=None):
    u, s, vh = _svd(a, False, decomposition)
    k = shape_of(s)[-1]
    return s, (u[..., :, :k], vh[..., :k, :])


def _svdvals_vjp(gs, cache):
    u, vh = cache
    return ((u * gs[..., None, :]) @ vh,)


def _distinct_singular_values(rng, shape, values):
    """(..., M, N) matrices u diag(values) vh with random orthonormal u, vh."""
    *batch, m, n = shape
    u = np.linalg.qr(rng.standard_normal((*batch, m, m)))[0]
    v = np.linalg.qr(rng.standard_normal((*batch, n, n)))[0]
    k = min(m, n)
    return (u[..., :, :k] * np.asarray(values[:k])) @ np.swapaxes(v[..., :, :k], -1, -2)


def _svd_spec(rng):
    return [Sample(_distinct_singular_values(rng, (4, 3), [3.0, 2.0, 1.0])),
            Sample(_distinct_singular_values(rng, (3, 4), [2.5, 1.5, 0.5])),
            Sample(_distinct_singular_values(rng, (2, 3, 3), [3.0, 1.5, 0.5]),
                   full_matrices=True)]


svd_u_p = Primitive(_svd_u_forward, _svd_u_vjp, name="svd_u", spec=_svd_spec)
svd_vh_p = Primitive(_svd_vh_forward, _svd_vh_vjp, name="svd_vh", spec=_svd_spec)
svdvals_p = Primitive(
    _svdvals_forward, _svdvals_vjp, name="svdvals",
    spec=lambda rng: [Sample(_distinct_singular_values(rng, (4, 3), [3.0, 2.0, 1.0])),
                      Sample(_distinct_singular_values(rng, (2, 2, 3), [2.0, 0.5, 0.0]))])


def _hermitian_svd(a, compute_uv):
    """svd(a, hermitian=True): from eigh of a's lower triangle, as NumPy computes it."""
    if not compute_uv:
        return np.flip(np.sort(np.abs(eigvalsh(a)), axis=-1), axis=-1)
    w, v = eigh(a)
    order = np.flip(np.argsort(np.abs(plain(w)), axis=-1), axis=-1)
    signs = np.take_along_axis(np.sign(plain(w)), order, axis=-1)
    s = np.take_along_axis(np.abs(w), order, axis=-1)
    u = np.take_along_axis(v, order[..., None, :], axis=-1)
    return _SVDResult(u, s, matrix_transpose(u * signs[..., None, :]))


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """numpy.linalg.svd: (U, S, Vh) or S, batched. See the module docstring for full_matrices."""
    check_matrix(a, "svd")
    if hermitian:
        check_square(a, "svd")
        return _hermitian_svd(a, compute_uv)
    if not compute_uv:
        return svdvals_p(a)
    m, n = shape_of(a)[-2:]
    full = bool(full_matrices) and m != n
    decomposition = tuple(np.linalg.svd(one_level_down(a), full_matrices=full))
    return _SVDResult(svd_u_p(a, full_matrices=full, decomposition=decomposition),
                      svdvals_p(a, decomposition=decomposition),
                      svd_vh_p(a, full_matrices=full, decomposition=decomposition))


def svdvals(x, /):
    check_matrix(x, "svdvals")
    return svdvals_p(x)


# --- eigh, eigvalsh -------------------------------------------------------------------------

def _eigh(a, lower, decomposition):
    return np.linalg.eigh(a, UPLO="L" if lower else "U") if decomposition is None \
        else decomposition


def _eigvalsh_forward(a, lower=True, decomposition=None):
    w, v = _eigh(a, lower, decomposition)
    return w, (v, lower)


def _eigvalsh_vjp(g, cache):
    v, lower = cache
    return (fold_triangle((v * g[..., None, :]) @ matrix_transpose(v), lower),)


def _eigh_vectors_forward(a, lower=True, decomposition=None):
    w, v = _eigh(a, lower, decomposition)
    return v, (w, v, lower)


def _eigh_vectors_vjp(g, cache):
    """ga = v (F * (v^T g)) v^T with F_ij = 1 / (w_j - w_i), folded onto the triangle read."""
    w, v, lower = cache
    vt = matrix_transpose(v)
    middle = inverse_differences(w, "eigh", "eigenvectors") * (vt @ g)
    return (fold_triangle(v @ middle @ vt, lower),)


def _symmetric_spectrum(rng, shape, values):
    """(..., n, n) matrices whose lower triangle is q diag(values) q.T; the strict upper
    triangle is noise that eigh never reads."""
    *batch, n, _ = shape
    q = np.linalg.qr(rng.standard_normal((*batch, n, n)))[0]
    symmetric = (q * np.asarray(values)) @ np.swapaxes(q, -1, -2)
    return np.where(np.tri(n, dtype=bool), symmetric, rng.standard_normal(shape))


def _eigh_spec(rng):
    return [Sample(_symmetric_spectrum(rng, (3, 3), [-1.0, 0.5, 2.0])),
            Sample(_symmetric_spectrum(rng, (2, 4, 4), [-2.0, -0.5, 1.0, 3.0]).swapaxes(-1, -2),
                   lower=False)]


eigvalsh_p = Primitive(_eigvalsh_forward, _eigvalsh_vjp, name="eigvalsh", spec=_eigh_spec)
eigh_vectors_p = Primitive(_eigh_vectors_forward, _eigh_vectors_vjp, name="eigh_eigenvectors",
                           spec=_eigh_spec)


def _uplo(uplo, function_name):
    if uplo not in ("L", "U", "l", "u"):
        raise ValueError(f"numpy.linalg.{function_name}: UPLO argument must be 'L' or 'U', got "
                         f"{uplo!r}")
    return uplo in ("L", "l")


def eigh(a, UPLO="L"):
    """numpy.linalg.eigh: (eigenvalues (..., n) ascending, eigenvectors (..., n, n))."""
    check_square(a, "eigh")
    lower = _uplo(UPLO, "eigh")
    decomposition = tuple(np.linalg.eigh(one_level_down(a), UPLO="L" if lower else "U"))
    return _EighResult(eigvalsh_p(a, lower=lower, decomposition=decomposition),
                       eigh_vectors_p(a, lower=lower, decomposition=decomposition))


def eigvalsh(a, UPLO="L"):
    check_square(a, "eigvalsh")
    return eigvalsh_p(a, lower=_uplo(UPLO, "eigvalsh"))


# --- eig, eigvals (real spectra) --------------------------------------------------------------

def _real_eig(a, function_name):
    w, v = np.linalg.eig(a)
    if np.iscomplexobj(plain(w)):
        raise TypeError(
            f"numpy.linalg.{function_name} of this matrix has complex eigenvalues, and vjpnet "
            "does not differentiate complex values: only matrices with real eigenvalues are "
            "supported (for a symmetric matrix use numpy.linalg.eigh or eigvalsh)")
    return w, v


def _eigvals_forward(a, decomposition=None):
    w, v = _real_eig(a, "eigvals") if decomposition is None else decomposition
    return w, v


def _eigvals_vjp(g, v):
    """a v = v diag(w): ga = v^-T diag(g) v^T."""
    vt = matrix_transpose(v)
    return (np.linalg.solve(vt, g[..., :, None] * vt),)


def _eig_vectors_forward(a, decomposition=None):
    w, v = _real_eig(a, "eig") if decomposition is None else decomposition
    return v, (w, v)


def _eig_vectors_vjp(g, cache):
    """Each column of v has unit norm: ga = v^-T (F * (v^T g - v^T v diag(diag(v^T g)))) v^T
    with F_ij = 1 / (w_j - w_i)."""
    w, v = cache
    n = shape_of(w)[-1]
    vt = matrix_transpose(v)
    vt_g = vt @ g
    diagonal = np.sum(vt_g * _eye(n, vt_g), axis=-1)
    middle = inverse_differences(w, "eig", "eigenvectors") * \
        (vt_g - (vt @ v) * diagonal[..., None, :])
    return (np.linalg.solve(vt, middle @ vt),)


def _real_spectrum(rng, shape, values):
    *batch, n, _ = shape
    basis = np.eye(n) + 0.3 * rng.standard_normal((*batch, n, n))
    return (basis * np.asarray(values)) @ np.linalg.inv(basis)


def _eig_spec(rng):
    return [Sample(_real_spectrum(rng, (3, 3), [-1.0, 0.5, 2.0])),
            Sample(_real_spectrum(rng, (2, 3, 3), [0.5, 1.5, 3.0]))]


eigvals_p = Primitive(_eigvals_forward, _eigvals_vjp, name="eigvals", spec=_eig_spec)
eig_vectors_p = Primitive(_eig_vectors_forward, _eig_vectors_vjp, name="eig_eigenvectors",
                          spec=_eig_spec)


def eig(a):
    """numpy.linalg.eig of a matrix with real eigenvalues (complex spectra raise TypeError)."""
    check_square(a, "eig")
    decomposition = _real_eig(one_level_down(a), "eig")
    return _EigResult(eigvals_p(a, decomposition=decomposition),
                      eig_vectors_p(a, decomposition=decomposition))


def eigvals(a):
    check_square(a, "eigvals")
    return eigvals_p(a)


# --- cholesky -------------------------------------------------------------------------------

def _cholesky_forward(a):
    lower = np.linalg.cholesky(a)
    return lower, lower


def _cholesky_vjp(g, lower):
    """a = L L^T from a's lower triangle: with P = tril(L^T g) with its diagonal halved,
    G = L^-T P L^-1 is the cotangent w.r.t. the symmetric matrix; fold it onto the triangle."""
    n = shape_of(lower)[-1]
    product = matrix_transpose(lower) @ g
    strict = np.tri(n, n, -1, dtype=bool)
    halved = np.where(strict, product, np.where(np.eye(n, dtype=bool), 0.5 * product, 0.0))
    lower_t = matrix_transpose(lower)
    left = np.linalg.solve(lower_t, halved)                                # L^-T P
    gradient = matrix_transpose(np.linalg.solve(lower_t, matrix_transpose(left)))   # (.) L^-1
    return (fold_triangle(gradient),)


def _positive_definite(rng, shape):
    x = rng.standard_normal(shape)
    return x @ np.swapaxes(x, -1, -2) + shape[-1] * np.eye(shape[-1])


cholesky_p = Primitive(
    _cholesky_forward, _cholesky_vjp, name="cholesky",
    spec=lambda rng: [Sample(_positive_definite(rng, (3, 3)) + np.triu(np.ones((3, 3)), 1)),
                      Sample(_positive_definite(rng, (2, 4, 4)))])


def cholesky(a, /, *, upper=False):
    """numpy.linalg.cholesky: L (lower, from a's lower triangle) or, with upper=True, U = L^T
    computed from a's upper triangle, as NumPy does."""
    check_square(a, "cholesky")
    if upper:
        return matrix_transpose(cholesky_p(matrix_transpose(a)))
    return cholesky_p(a)


# --- qr -------------------------------------------------------------------------------------

def _qr(a, complete, decomposition):
    return np.linalg.qr(a, mode="complete" if complete else "reduced") \
        if decomposition is None else decomposition


def _qr_q_forward(a, complete=False, decomposition=None):
    q, r = _qr(a, complete, decomposition)
    return q, (a, q, r)


def _qr_q_vjp(gq, cache):
    a, q, r = cache
    return (_qr_cotangent(a, q, r, gq, None),)


def _qr_r_forward(a, complete=False, decomposition=None):
    q, r = _qr(a, complete, decomposition)
    return r, (a, q, r)


def _qr_r_vjp(gr, cache):
    a, q, r = cache
    return (_qr_cotangent(a, q, r, None, gr),)


def _qr_cotangent(a, q, r, gq, gr):
    """The cotangent of a = q r from those of q and r (None: not used)."""
    m, n = shape_of(a)[-2:]
    if shape_of(q)[-1] > n:   # mode='complete' with M > N
        if gq is not None:
            gq = gq[..., :n] + _complement_cotangent(q[..., :n], q[..., n:], gq[..., n:], "qr",
                                                     "columns of q")
        q = q[..., :n]
        r = r[..., :n, :]   # the zero rows of r are constants
        if gr is not None:
            gr = gr[..., :n, :]
    if m >= n:
        return _qr_tall_cotangent(q, r, gq, gr)
    # a = [x | y] with x square: x = q r_x, y = q r_y
    r_x = r[..., :m]
    if gr is None:
        return np.concatenate([_qr_tall_cotangent(q, r_x, gq, None),
                               np.zeros(shape_of(a)[:-1] + (n - m,), dtype_of(a))], axis=-1)
    y, gr_x, gr_y = a[..., m:], gr[..., :m], gr[..., m:]
    from_y = y @ matrix_transpose(gr_y)
    gx = _qr_tall_cotangent(q, r_x, from_y if gq is None else gq + from_y, gr_x)
    return np.concatenate([gx, q @ gr_y], axis=-1)


def _qr_tall_cotangent(q, r, gq, gr):
    """a = q r with M >= N: ga = (gq + q copyltu(M)) r^-T, M = r gr^T - gq^T q, where
    copyltu mirrors the lower triangle onto the upper one."""
    n = shape_of(r)[-1]
    if gr is None:
        mixed = -(matrix_transpose(gq) @ q)
    elif gq is None:
        mixed = r @ matrix_transpose(gr)
    else:
        mixed = r @ matrix_transpose(gr) - matrix_transpose(gq) @ q
    mirrored = np.where(np.tri(n, n, dtype=bool), mixed, matrix_transpose(mixed))
    left = q @ mirrored if gq is None else gq + q @ mirrored
    return matrix_transpose(np.linalg.solve(r, matrix_transpose(left)))


def _qr_spec(rng):
    return [Sample(rng.standard_normal((4, 3))), Sample(rng.standard_normal((3, 5))),
            Sample(rng.standard_normal((2, 3, 3)))]


qr_q_p = Primitive(_qr_q_forward, _qr_q_vjp, name="qr_q", spec=_qr_spec)
qr_r_p = Primitive(_qr_r_forward, _qr_r_vjp, name="qr_r", spec=_qr_spec)


def qr(a, mode="reduced"):
    """numpy.linalg.qr with mode 'reduced' (Q, R), 'complete' (Q, R) or 'r' (R), batched."""
    check_matrix(a, "qr")
    if mode not in ("reduced", "complete", "r"):
        raise TypeError(f"numpy.linalg.qr(..., mode={mode!r}) is not supported on traced "
                        "values by vjpnet (its Householder output has no VJP); use mode="
                        "'reduced', 'complete' or 'r'")
    if mode == "r":
        return qr_r_p(a)
    m, n = shape_of(a)[-2:]
    complete = mode == "complete" and m > n
    decomposition = tuple(np.linalg.qr(one_level_down(a),
                                       mode="complete" if complete else "reduced"))
    return _QRResult(qr_q_p(a, complete=complete, decomposition=decomposition),
                     qr_r_p(a, complete=complete, decomposition=decomposition))


for _name, _handler in [("svd", svd), ("svdvals", svdvals), ("eigh", eigh),
                        ("eigvalsh", eigvalsh), ("eig", eig), ("eigvals", eigvals),
                        ("cholesky", cholesky), ("qr", qr)]:
    if hasattr(np.linalg, _name):   # svdvals: NumPy >= 2.0
        register_function(getattr(np.linalg, _name), _handler)
