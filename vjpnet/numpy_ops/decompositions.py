"""Matrix decompositions of numpy.linalg: svd, eigh/eigvalsh, eig/eigvals, cholesky, qr, of real
and complex matrices.

All are batched over leading axes as NumPy 2 is (a: (..., M, N)), keep float32/complex64, and
have VJPs written with NumPy operations (differentiable again). Complex values follow the
convention of numpy_ops/__init__.py: a cotangent c of w pairs with a change dw as Re(sum(c dw)),
so conjugates appear where a decomposition depends on conj(a) (unitary factors, Hermitian
matrices); for a real input the formulas are the real ones.

A primitive has one output, so the outputs of a decomposition are split among primitives, each
with the part of the decomposition's VJP that is linear in its outputs' cotangents (the parts
add up to the whole): eigenvalues (eigvalsh, eigvals) and eigenvectors (eigh_eigenvectors,
eig_eigenvectors); singular values (svdvals) and singular vectors (svd_vectors: u and vh packed
in one array, as their phases are tied together); qr_q and qr_r. The NumPy-signature function
computes the decomposition once, on the value one trace level down (where the primitives'
forwards run), and hands it to each primitive; called without it (as the registry test does) a
primitive decomposes its input itself. An output the loss does not use costs nothing in the
backward pass.

Conventions:
- eigh, eigvalsh and cholesky read one triangle of `a`, as NumPy does (eigh's UPLO, lower for
  cholesky, upper for cholesky(upper=True)), and the real part of its diagonal: the gradient is
  that of the function NumPy computes, zero outside that triangle. (For a symmetric or Hermitian
  `a` built from parameters, e.g. X @ X.T, the gradient w.r.t. the parameters is the usual one.)
- Eigenvalues and singular values alone always have a gradient (at a repeated eigenvalue, the
  one for losses symmetric in the repeated values: sums, traces, determinants). Eigenvectors
  (singular vectors) involve 1 / (w_j - w_i) (1 / (s_j^2 - s_i^2), and 1 / s for the extra
  singular vectors of a non-square matrix): where that divisor is exactly zero the derivative
  is undefined or a 0/0 whose value depends on more than the VJP sees (a matrix logarithm
  V diag(log w) V^T at the identity), so a loss that uses them there raises ValueError naming
  the repeated values; HIPS autograd, JAX and PyTorch return inf or NaN there. Elsewhere the
  formula is used as is: nearly repeated values give large (ill-conditioned) gradients.
- Complex eigenvectors and singular vectors are unique up to a phase each (v -> e^(i t) v; for
  the svd, u_k and v_k together). A loss that does not depend on those phases (|v|, v v^H,
  u diag(s) v^H) gets its exact gradient; one that does raises ValueError.
- svd(full_matrices=True) and qr(mode='complete') of a non-square matrix return extra columns
  (rows of vh) spanning the complement, which are not unique. A loss that does not use them,
  or uses them only through their span (u2 @ u2^H), gets its exact gradient; one that depends
  on the particular basis NumPy chose raises ValueError.
"""
import numpy as np

from vjpnet.numpy_ops._base import Primitive, Sample, cast_cotangent, complex_normal, shape_of
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


def is_complex(x):
    return dtype_of(x).kind == "c"


def conj(x):
    """The complex conjugate; a real x itself."""
    return np.conj(x) if is_complex(x) else x


def conj_transpose(x):
    return conj(matrix_transpose(x))


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


def _diagonal(x):
    """(..., n, n) -> (..., n)."""
    return np.diagonal(x, 0, -2, -1)


def _pack(parts, batch):
    """Concatenate arrays whose leading axes are `batch` into one (*batch, total) array."""
    return np.concatenate([np.reshape(part, batch + (int(np.prod(shape_of(part)[len(batch):])),))
                           for part in parts], axis=-1)


def _unpack(packed, shapes):
    """The arrays _pack joined: `shapes` are their trailing shapes after the batch axes."""
    batch = shape_of(packed)[:-1]
    parts, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        parts.append(np.reshape(packed[..., start:start + size], batch + tuple(shape)))
        start += size
    return parts


def _is_zero(cotangent):
    """A plain cotangent of zeros (an output the loss does not use): its terms can be skipped."""
    return type(cotangent) is np.ndarray and not cotangent.any()


def _magnitude(*arrays):
    return max([float(np.abs(np.asarray(plain(x))).max(initial=0.0)) for x in arrays] + [0.0])


def _tolerance(x):
    return np.sqrt(np.finfo(np.asarray(plain(x)).dtype).eps)


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
        value = complex(np.asarray(plain(values))[where[:-1]])
        value = value.real if value.imag == 0 else value
        raise ValueError(
            f"the gradient of numpy.linalg.{function_name} through its {vectors} is undefined "
            f"here: values {where[-2]} and {where[-1]} (at index {where[:-2] or '()'} of the "
            f"batch) are exactly equal, {value:g}, and the {vectors} of a repeated value are "
            f"not unique. The gradient through the values alone is defined (use them only); "
            f"otherwise move the input off the repeated value (HIPS autograd, JAX and PyTorch "
            f"return inf or NaN here).")
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


def _check_phase_invariant(phase_derivative, scale, function_name, vectors):
    """Raise ValueError unless the loss does not change with the phases of complex `vectors`
    (phase_derivative: (..., n), the loss's derivative along each phase, ~0 when invariant)."""
    if _magnitude(phase_derivative) > _tolerance(phase_derivative) * scale:
        raise ValueError(
            f"the gradient of numpy.linalg.{function_name} is undefined here: the loss depends "
            f"on the phases of the complex {vectors}, which NumPy chooses arbitrarily (each "
            f"is unique only up to a factor e^(i t)); use them through phase-free quantities "
            f"(|v|, v v^H, u diag(s) v^H)")


def fold_triangle(gradient, lower=True):
    """The cotangent of `a` for a function that reads one triangle of `a` (and the real part of
    its diagonal) as the Hermitian matrix S = tril(a) + tril(a, -1)^H, given the cotangent G
    w.r.t. S: G + G^H on the strict lower (upper) triangle, Re(diag G) on the diagonal, zero
    elsewhere. gradient: (..., n, n)."""
    n = shape_of(gradient)[-1]
    strict = np.tri(n, n, -1, dtype=bool)
    if not lower:
        strict = strict.T
    diagonal = np.real(gradient) if is_complex(gradient) else gradient
    return np.where(strict, gradient + conj_transpose(gradient),
                    np.where(np.eye(n, dtype=bool), diagonal, 0.0))


def _complement_cotangent(basis, complement, g_complement, function_name, what):
    """Extra columns (complement: (..., M, M - K), orthonormal to basis (..., M, K)) that are
    not unique: their cotangent as one for `basis`, the choice that moves them only as
    orthogonality forces. Exact when the loss depends on them through their span, i.e. when
    complement^T g_complement is Hermitian; otherwise raise ValueError."""
    product = np.asarray(plain(matrix_transpose(complement) @ g_complement))
    asymmetry = _magnitude(product - np.conj(np.swapaxes(product, -1, -2)))
    if asymmetry > _tolerance(product) * _magnitude(product):
        raise ValueError(
            f"the gradient of numpy.linalg.{function_name} is undefined here: the loss depends "
            f"on the particular basis NumPy chose for the extra {what} (which only their span "
            f"determines); use the reduced form, or those {what} only through their span "
            f"(e.g. u2 @ u2.conj().T)")
    return -conj(complement @ matrix_transpose(g_complement) @ basis)


# --- svd ------------------------------------------------------------------------------------

def _svd(a, full_matrices, decomposition):
    return np.linalg.svd(a, full_matrices=full_matrices) if decomposition is None \
        else decomposition


def _svd_vectors_forward(a, full_matrices=False, decomposition=None):
    u, s, vh = _svd(a, full_matrices, decomposition)
    return _pack((u, vh), shape_of(a)[:-2]), (u, s, vh, dtype_of(a))


def _svd_vectors_vjp(g, cache):
    u, s, vh, dtype = cache
    gu, gvh = _unpack(g, (shape_of(u)[-2:], shape_of(vh)[-2:]))
    return (cast_cotangent(svd_vectors_cotangent(u, s, vh, gu, gvh), dtype),)


def svd_vectors_cotangent(u, s, vh, gu, gvh):
    """The cotangent of a = u diag(s) vh through u and vh (reduced or full), with
    J = u^T gu, K = conj(vh gvh^T) and F_ij = 1 / (s_j^2 - s_i^2):
        conj(u) [(F * (J - J^H)) diag(s) + diag(s) (F * (K - K^H)) + i diag(Im J_ii / s_i)]
        conj(vh) + (I - conj(u) u^T) gu diag(1/s) conj(vh) + conj(u) diag(1/s) gvh
        (I - vh^T conj(vh)),
    the last two for M > N and M < N (the real formula when a is real; the phase term fixes
    the phase of v_i, so it is exact for losses that do not depend on the phases).

    u: (..., M, M or K), s: (..., K), vh: (..., K or N, N), K = min(M, N).
    """
    k = shape_of(s)[-1]
    m, n = shape_of(u)[-2], shape_of(vh)[-1]
    skip_u, skip_vh = _is_zero(gu), _is_zero(gvh)
    if shape_of(u)[-1] > k:   # full_matrices: fold the extra columns' cotangent into u's
        if not skip_u:
            gu = gu[..., :k] + _complement_cotangent(u[..., :k], u[..., k:], gu[..., k:],
                                                     "svd", "columns of u")
        else:
            gu = gu[..., :k]
        u = u[..., :k]
    if shape_of(vh)[-2] > k:   # the same for the extra rows of vh, as columns of v = vh^H
        if not skip_vh:
            folded = _complement_cotangent(conj_transpose(vh[..., :k, :]),
                                           conj_transpose(vh[..., k:, :]),
                                           conj_transpose(gvh[..., k:, :]), "svd", "rows of vh")
            gvh = gvh[..., :k, :] + conj_transpose(folded)
        else:
            gvh = gvh[..., :k, :]
        vh = vh[..., :k, :]
    if skip_u and skip_vh:
        return np.zeros(shape_of(u)[:-1] + shape_of(vh)[-1:], dtype_of(u))
    gaps = inverse_differences(s * s, "svd", "singular vectors")
    u_c, vh_c = conj(u), conj(vh)
    middle = 0.0
    if not skip_u:
        j = matrix_transpose(u) @ gu
        middle = middle + gaps * (j - conj_transpose(j)) * s[..., None, :]
    if not skip_vh:
        vh_gvh = vh @ matrix_transpose(gvh)
        k_part = conj(vh_gvh)   # v^T gv with v = vh^H and gv = gvh^H
        middle = middle + s[..., :, None] * (gaps * (k_part - conj_transpose(k_part)))
    if is_complex(u):
        # the loss's derivative along the phase e^(i t) of (u_k, v_k) together
        phase_u = np.imag(_diagonal(j)) if not skip_u else 0.0
        phase_v = np.imag(_diagonal(vh_gvh)) if not skip_vh else 0.0
        _check_phase_invariant(plain(phase_u) - plain(phase_v),
                               _magnitude(phase_u, phase_v, gu, gvh), "svd",
                               "singular vectors")
        if not skip_u:   # (masks depend on s only: the VJP stays linear in the cotangent)
            zero = np.asarray(plain(s)) == 0
            if np.any(zero & (np.asarray(plain(phase_u)) != 0)):
                _reciprocal_nonzero(s, "svd", "singular vectors")   # raises
            inverse = np.where(zero, 0.0, 1.0 / np.where(zero, 1.0, s)) if zero.any() \
                else 1.0 / s
            middle = middle + _diag_embed(1j * phase_u * inverse)
    cotangent = u_c @ middle @ vh_c
    if m > k and not skip_u:   # the part of gu outside the span of u
        outside = gu - u_c @ j
        inverse = _reciprocal_nonzero(s, "svd", "singular vectors")
        cotangent = cotangent + (outside * inverse[..., None, :]) @ vh_c
    if n > k and not skip_vh:   # the part of gvh outside the span of vh
        outside = gvh - (gvh @ matrix_transpose(vh)) @ vh_c
        inverse = _reciprocal_nonzero(s, "svd", "singular vectors")
        cotangent = cotangent + (u_c * inverse[..., None, :]) @ outside
    return cotangent


def _svdvals_forward(a, decomposition=None):
    u, s, vh = _svd(a, False, decomposition)
    k = shape_of(s)[-1]
    return s, (u[..., :, :k], vh[..., :k, :], dtype_of(a))


def _svdvals_vjp(gs, cache):
    """d s_i = Re(u_i^H da v_i): the cotangent is conj(u) diag(gs) conj(vh)."""
    u, vh, dtype = cache
    return (cast_cotangent((conj(u) * gs[..., None, :]) @ conj(vh), dtype),)


def _distinct_singular_values(rng, shape, values, complex_values=False):
    """(..., M, N) matrices u diag(values) vh with random orthonormal (unitary) u, vh."""
    *batch, m, n = shape
    draw = (lambda s: complex_normal(rng, s)) if complex_values else rng.standard_normal
    u = np.linalg.qr(draw((*batch, m, m)))[0]
    v = np.linalg.qr(draw((*batch, n, n)))[0]
    k = min(m, n)
    return (u[..., :, :k] * np.asarray(values[:k])) @ np.conj(np.swapaxes(v[..., :, :k], -1, -2))


def _svd_spec(rng):
    return [Sample(_distinct_singular_values(rng, (4, 3), [3.0, 2.0, 1.0])),
            Sample(_distinct_singular_values(rng, (3, 4), [2.5, 1.5, 0.5])),
            Sample(_distinct_singular_values(rng, (2, 3, 3), [3.0, 1.5, 0.5]),
                   full_matrices=True)]


# (Complex singular vectors are checked in the tests with phase-free losses: a random
# cotangent depends on their phases.)
svd_vectors_p = Primitive(_svd_vectors_forward, _svd_vectors_vjp, name="svd_vectors",
                          spec=_svd_spec)
svdvals_p = Primitive(
    _svdvals_forward, _svdvals_vjp, name="svdvals",
    spec=lambda rng: [Sample(_distinct_singular_values(rng, (4, 3), [3.0, 2.0, 1.0])),
                      Sample(_distinct_singular_values(rng, (2, 2, 3), [2.0, 0.5, 0.0])),
                      Sample(_distinct_singular_values(rng, (3, 4), [2.0, 1.0, 0.5], True))])


def _hermitian_svd(a, compute_uv):
    """svd(a, hermitian=True): from eigh of a's lower triangle, as NumPy computes it."""
    if not compute_uv:
        return np.flip(np.sort(np.abs(eigvalsh(a)), axis=-1), axis=-1)
    w, v = eigh(a)
    order = np.flip(np.argsort(np.abs(plain(w)), axis=-1), axis=-1)
    signs = np.take_along_axis(np.sign(plain(w)), order, axis=-1)
    s = np.take_along_axis(np.abs(w), order, axis=-1)
    u = np.take_along_axis(v, order[..., None, :], axis=-1)
    return _SVDResult(u, s, conj_transpose(u * signs[..., None, :]))


def svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    """numpy.linalg.svd: (U, S, Vh) or S, batched. See the module docstring for full_matrices."""
    check_matrix(a, "svd")
    if hermitian:
        check_square(a, "svd")
        return _hermitian_svd(a, compute_uv)
    if not compute_uv:
        return svdvals_p(a)
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    full = bool(full_matrices) and m != n
    decomposition = tuple(np.linalg.svd(one_level_down(a), full_matrices=full))
    u, vh = _unpack(svd_vectors_p(a, full_matrices=full, decomposition=decomposition),
                    ((m, m if full else k), (n if full else k, n)))
    return _SVDResult(u, svdvals_p(a, decomposition=decomposition), vh)


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
    """d w_i = Re(v_i^H da v_i): conj(v) diag(g) v^T, folded onto the triangle read."""
    v, lower = cache
    return (fold_triangle((conj(v) * g[..., None, :]) @ matrix_transpose(v), lower),)


def _eigh_vectors_forward(a, lower=True, decomposition=None):
    w, v = _eigh(a, lower, decomposition)
    return v, (w, v, lower)


def _eigh_vectors_vjp(g, cache):
    """ga = conj(v) (F * (v^T g)) v^T with F_ij = 1 / (w_j - w_i), folded onto the triangle
    read; complex eigenvectors: the loss must not depend on their phases."""
    w, v, lower = cache
    vt_g = matrix_transpose(v) @ g
    if is_complex(v):
        _check_phase_invariant(np.imag(_diagonal(plain(vt_g))), _magnitude(vt_g), "eigh",
                               "eigenvectors")
    middle = inverse_differences(w, "eigh", "eigenvectors") * vt_g
    return (fold_triangle(conj(v) @ middle @ matrix_transpose(v), lower),)


def _hermitian_spectrum(rng, shape, values, complex_values=False):
    """(..., n, n) matrices whose lower triangle is q diag(values) q^H; the strict upper
    triangle (and, complex, the imaginary part of the diagonal) is noise that eigh never
    reads."""
    *batch, n, _ = shape
    draw = (lambda s: complex_normal(rng, s)) if complex_values else rng.standard_normal
    q = np.linalg.qr(draw((*batch, n, n)))[0]
    hermitian = (q * np.asarray(values)) @ np.conj(np.swapaxes(q, -1, -2))
    noise = draw(shape)
    if complex_values:
        hermitian = hermitian + 1j * np.eye(n) * rng.standard_normal(n)
    return np.where(np.tri(n, dtype=bool), hermitian, noise)




def _eigh_spec(rng):
    return [Sample(_hermitian_spectrum(rng, (3, 3), [-1.0, 0.5, 2.0])),
            Sample(_hermitian_spectrum(rng, (2, 4, 4), [-2.0, -0.5, 1.0, 3.0]).swapaxes(-1, -2),
                   lower=False)]


eigvalsh_p = Primitive(
    _eigvalsh_forward, _eigvalsh_vjp, name="eigvalsh",
    spec=lambda rng: _eigh_spec(rng) + [
        Sample(_hermitian_spectrum(rng, (3, 3), [-1.0, 0.5, 2.0], complex_values=True))])
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


# --- eig, eigvals -----------------------------------------------------------------------------

def _eig(a, decomposition):
    return np.linalg.eig(a) if decomposition is None else decomposition


def _eigvals_forward(a, decomposition=None):
    w, v = _eig(a, decomposition)
    return w, (v, dtype_of(a))


def _eigvals_vjp(g, cache):
    """a v = v diag(w) (holomorphic in a): ga = v^-T diag(g) v^T, real for a real a.

    The formula does not depend on the phases of complex eigenvectors; it reads them with
    their phases fixed (_phase_fixed), so that its own derivative (second order) hands the
    eigenvector VJP a cotangent that is phase-free to rounding, not merely up to the rounding
    of the cancelling terms (which the phase check could not tell from a phase dependence
    when the whole cotangent is that small, e.g. for a loss linear in the eigenvalues)."""
    v, dtype = cache
    if is_complex(v):
        v = _phase_fixed(v)
    vt = matrix_transpose(v)
    return (cast_cotangent(np.linalg.solve(vt, g[..., :, None] * vt), dtype),)


def _phase_fixed(v):
    """The columns of v, each multiplied by the phase that makes its largest entry real and
    positive: a function of v that no phase change e^(i t) of a column changes. v: (..., n, n)."""
    largest = np.argmax(np.abs(np.asarray(plain(v))), axis=-2)[..., None, :]
    pivot = np.take_along_axis(v, largest, axis=-2)   # (..., 1, n), never 0 (unit columns)
    return v * (np.conj(pivot) / np.abs(pivot))


def _eig_vectors_forward(a, decomposition=None):
    w, v = _eig(a, decomposition)
    return v, (w, v, dtype_of(a))


def _eig_vectors_vjp(g, cache):
    """Unit-norm eigenvectors, with the phase of each fixed (v_i^H dv_i = 0):
    ga = v^-T (F * (v^T g - v^T conj(v) diag(diag(v^T g)))) v^T, F_ij = 1 / (w_j - w_i)."""
    w, v, dtype = cache
    vt = matrix_transpose(v)
    vt_g = vt @ g
    diagonal = _diagonal(vt_g)
    if is_complex(v):
        _check_phase_invariant(np.imag(plain(diagonal)), _magnitude(vt_g), "eig",
                               "eigenvectors")
    middle = inverse_differences(w, "eig", "eigenvectors") * \
        (vt_g - (vt @ conj(v)) * diagonal[..., None, :])
    return (cast_cotangent(np.linalg.solve(vt, middle @ vt), dtype),)


def _real_spectrum(rng, shape, values):
    *batch, n, _ = shape
    basis = np.eye(n) + 0.3 * rng.standard_normal((*batch, n, n))
    return (basis * np.asarray(values)) @ np.linalg.inv(basis)


def _eig_spec(rng):
    return [Sample(_real_spectrum(rng, (3, 3), [-1.0, 0.5, 2.0])),
            Sample(_real_spectrum(rng, (2, 3, 3), [0.5, 1.5, 3.0]))]


eigvals_p = Primitive(
    _eigvals_forward, _eigvals_vjp, name="eigvals",
    spec=lambda rng: _eig_spec(rng) + [
        Sample(np.array([[0.5, 2.0, 0.1], [-1.5, 0.3, 0.4], [0.2, -0.3, 1.2]])),  # complex pair
        Sample(complex_normal(rng, (3, 3)) + 2.0 * np.eye(3))])
eig_vectors_p = Primitive(_eig_vectors_forward, _eig_vectors_vjp, name="eig_eigenvectors",
                          spec=_eig_spec)


def eig(a):
    """numpy.linalg.eig: (eigenvalues, unit eigenvectors), complex when the spectrum is."""
    check_square(a, "eig")
    decomposition = tuple(np.linalg.eig(one_level_down(a)))
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
    """a = L L^H from a's lower triangle: with P = tril(L^T g) with its diagonal halved,
    G = L^-T P conj(L)^-1 is the cotangent w.r.t. the Hermitian matrix; fold it onto the
    triangle."""
    n = shape_of(lower)[-1]
    product = matrix_transpose(lower) @ g
    strict = np.tri(n, n, -1, dtype=bool)
    halved = np.where(strict, product, np.where(np.eye(n, dtype=bool), 0.5 * product, 0.0))
    left = np.linalg.solve(matrix_transpose(lower), halved)                   # L^-T P
    gradient = matrix_transpose(np.linalg.solve(conj_transpose(lower),
                                                matrix_transpose(left)))     # (.) conj(L)^-1
    return (fold_triangle(gradient),)


def _positive_definite(rng, shape, complex_values=False):
    x = complex_normal(rng, shape) if complex_values else rng.standard_normal(shape)
    return x @ np.conj(np.swapaxes(x, -1, -2)) + shape[-1] * np.eye(shape[-1])


cholesky_p = Primitive(
    _cholesky_forward, _cholesky_vjp, name="cholesky",
    spec=lambda rng: [Sample(_positive_definite(rng, (3, 3)) + np.triu(np.ones((3, 3)), 1)),
                      Sample(_positive_definite(rng, (2, 4, 4))),
                      Sample(_positive_definite(rng, (3, 3), complex_values=True) +
                             np.triu(np.ones((3, 3)), 1) * 1j)])


def cholesky(a, /, *, upper=False):
    """numpy.linalg.cholesky: L (lower, from a's lower triangle) or, with upper=True, U = L^H
    computed from a's upper triangle, as NumPy does."""
    check_square(a, "cholesky")
    if upper:   # the transpose of a's upper triangle is the lower one of a^T, conjugated
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
    # a = [x | y] with x square: x = q r_x, y = q r_y with r_y = q^H y
    r_x = r[..., :m]
    if gr is None:
        return np.concatenate([_qr_tall_cotangent(q, r_x, gq, None),
                               np.zeros(shape_of(a)[:-1] + (n - m,), dtype_of(a))], axis=-1)
    y, gr_x, gr_y = a[..., m:], gr[..., :m], gr[..., m:]
    from_y = conj(y @ matrix_transpose(gr_y))
    gx = _qr_tall_cotangent(q, r_x, from_y if gq is None else gq + from_y, gr_x)
    return np.concatenate([gx, conj(q) @ gr_y], axis=-1)


def _qr_tall_cotangent(q, r, gq, gr):
    """a = q r with M >= N and a real diagonal of r (LAPACK's): with W = q^T gq - gr r^T,
    ga = (gq + conj(q) Z) r^-T, Z = -W + tril(W - W^H, -1) + i diag(Im diag W) (for real a,
    Z is copyltu(r gr^T - gq^T q), the lower triangle mirrored)."""
    n = shape_of(r)[-1]
    if gr is None:
        w = matrix_transpose(q) @ gq
    elif gq is None:
        w = -(gr @ matrix_transpose(r))
    else:
        w = matrix_transpose(q) @ gq - gr @ matrix_transpose(r)
    z = np.where(np.tri(n, n, -1, dtype=bool), -conj_transpose(w),
                 np.where(np.eye(n, dtype=bool), 0.0, -w))
    if is_complex(w):   # the diagonal: -W_ii + i Im W_ii = -Re W_ii
        z = z - _diag_embed(np.real(_diagonal(w)))
    else:
        z = z - _diag_embed(_diagonal(w))
    left = conj(q) @ z if gq is None else gq + conj(q) @ z
    return matrix_transpose(np.linalg.solve(r, matrix_transpose(left)))


def _qr_spec(rng):
    return [Sample(rng.standard_normal((4, 3))), Sample(rng.standard_normal((3, 5))),
            Sample(rng.standard_normal((2, 3, 3))), Sample(complex_normal(rng, (4, 3))),
            Sample(complex_normal(rng, (2, 4)))]


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
