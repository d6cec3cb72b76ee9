"""numpy.linalg decompositions and matrix functions inside grad: values equal NumPy's (batched,
float32), gradients against centred differences (first and second order) and HIPS autograd,
the conventions at repeated eigenvalues and for non-unique columns, and the errors."""
import functools
import warnings

import numpy as np
import pytest

import vjpnet
from vjpnet import grad
from vjpnet.gradient_check import check_grads

RNG = np.random.default_rng(7)


def normal(*shape):
    return RNG.standard_normal(shape)


def orthonormal(*shape):
    return np.linalg.qr(normal(*shape))[0]


def with_spectrum(values, batch=()):
    """Symmetric matrices q diag(values) q^T."""
    q = orthonormal(*batch, len(values), len(values))
    return (q * np.asarray(values, float)) @ np.swapaxes(q, -1, -2)


def with_singular_values(m, n, values, batch=()):
    k = min(m, n)
    u, v = orthonormal(*batch, m, m)[..., :k], orthonormal(*batch, n, n)[..., :k]
    return (u * np.asarray(values, float)) @ np.swapaxes(v, -1, -2)


def positive_definite(n, batch=()):
    x = normal(*batch, n, n)
    return x @ np.swapaxes(x, -1, -2) + n * np.eye(n)


def traced_value(f, *args):
    """f(*args) computed inside vjpnet.vjp (every input traced)."""
    return vjpnet.vjp(f, *args)[0]


def assert_tree_close(ours, theirs, rtol=1e-10, atol=1e-12):
    ours, theirs = np.broadcast_arrays(*[np.asarray(x) for x in (ours, theirs)]) \
        if not isinstance(ours, tuple) else (ours, theirs)
    if isinstance(ours, tuple):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_tree_close(a, b, rtol, atol)
        return
    assert np.shape(ours) == np.shape(theirs)
    assert np.result_type(ours) == np.result_type(theirs)
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=atol)


# --- values: the same as NumPy's, result types included ---------------------------------------

SQUARE = normal(2, 3, 3) + 3 * np.eye(3)
VALUE_CASES = {
    "svd": (lambda a: np.linalg.svd(a), [with_singular_values(3, 3, [3, 2, 1], (2,))]),
    "svd_reduced_tall": (lambda a: np.linalg.svd(a, full_matrices=False),
                         [with_singular_values(4, 2, [2, 1])]),
    "svd_full_wide": (lambda a: np.linalg.svd(a)[1:], [with_singular_values(2, 4, [2, 1])]),
    "svd_values": (lambda a: np.linalg.svd(a, compute_uv=False), [normal(2, 3, 5)]),
    "svd_hermitian": (lambda a: np.linalg.svd(a, hermitian=True),
                      [with_spectrum([-3.0, 1.0, 2.0])]),
    "svd_hermitian_values": (lambda a: np.linalg.svd(a, compute_uv=False, hermitian=True),
                             [with_spectrum([-3.0, 1.0, 2.0], (2,))]),
    "svdvals": (lambda a: np.linalg.svdvals(a), [normal(4, 2)]),
    "eigh": (lambda a: np.linalg.eigh(a), [normal(2, 4, 4)]),
    "eigh_upper": (lambda a: np.linalg.eigh(a, UPLO="U"), [normal(3, 3)]),
    "eigvalsh": (lambda a: np.linalg.eigvalsh(a), [normal(2, 3, 3)]),
    "eig": (lambda a: np.linalg.eig(a),
            [np.linalg.solve(np.eye(3) + 0.2 * normal(3, 3), np.diag([1.0, 2.0, 4.0]))]),
    "eigvals": (lambda a: np.linalg.eigvals(a), [np.triu(normal(2, 3, 3))]),
    "cholesky": (lambda a: np.linalg.cholesky(a), [positive_definite(3, (2,))]),
    "cholesky_upper": (lambda a: np.linalg.cholesky(a, upper=True), [positive_definite(3)]),
    "qr": (lambda a: np.linalg.qr(a), [normal(2, 4, 3)]),
    "qr_wide": (lambda a: np.linalg.qr(a), [normal(3, 5)]),
    "qr_complete": (lambda a: np.linalg.qr(a, mode="complete")[1], [normal(4, 2)]),
    "qr_r": (lambda a: np.linalg.qr(a, mode="r"), [normal(4, 3)]),
    "slogdet": (lambda a: np.linalg.slogdet(a), [SQUARE - 3.2 * np.eye(3)]),
    "pinv": (lambda a: np.linalg.pinv(a), [normal(2, 3, 4)]),
    "pinv_rank_deficient": (lambda a: np.linalg.pinv(a, rcond=1e-10),
                            [normal(4, 2) @ normal(2, 3)]),
    "pinv_hermitian": (lambda a: np.linalg.pinv(a, hermitian=True), [normal(3, 3)]),
    "lstsq": (lambda a, b: np.linalg.lstsq(a, b), [normal(5, 3), normal(5, 2)]),
    "lstsq_underdetermined": (lambda a, b: np.linalg.lstsq(a, b, rcond=None),
                              [normal(2, 4), normal(2)]),
    "matrix_power": (lambda a: np.linalg.matrix_power(a, 5), [SQUARE]),
    "matrix_power_negative": (lambda a: np.linalg.matrix_power(a, -3), [SQUARE]),
    "matrix_power_zero": (lambda a: np.linalg.matrix_power(a, 0), [SQUARE]),
    "multi_dot": (lambda a, b, c: np.linalg.multi_dot([a, b, c]),
                  [normal(2, 3), normal(3, 4), normal(4)]),
    "cond": (lambda a: np.linalg.cond(a), [SQUARE]),
    "cond_1": (lambda a: np.linalg.cond(a, 1), [SQUARE]),
    "tensorinv": (lambda a: np.linalg.tensorinv(a), [(normal(6, 6) + 4 * np.eye(6)).reshape(
        2, 3, 6)]),
}


@pytest.mark.parametrize("name", sorted(VALUE_CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_values_match_numpy(name, dtype):
    f, args = VALUE_CASES[name]
    args = [a.astype(dtype) for a in args]
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    assert_tree_close(traced_value(f, *args), f(*args), rtol=rtol, atol=rtol)


def test_result_attributes_are_numpys():
    a = with_spectrum([1.0, 2.0, 3.0])
    seen = {}

    def f(a):
        eigh, svd, qr = np.linalg.eigh(a), np.linalg.svd(a), np.linalg.qr(a)
        slogdet = np.linalg.slogdet(a)
        seen.update(types=(type(eigh), type(svd), type(qr), type(slogdet)))
        return (np.sum(eigh.eigenvalues) + np.sum(eigh.eigenvectors) + np.sum(svd.S) +
                np.sum(svd.U) + np.sum(svd.Vh) + np.sum(qr.Q) + np.sum(qr.R) +
                slogdet.logabsdet * slogdet.sign)

    grad(f)(a)
    assert seen["types"] == tuple(type(r(a)) for r in (np.linalg.eigh, np.linalg.svd,
                                                        np.linalg.qr, np.linalg.slogdet))


def test_empty_batches():
    a = np.zeros((0, 3, 3))
    for f in (lambda a: np.linalg.eigh(a)[0], lambda a: np.linalg.svd(a)[1],
              lambda a: np.linalg.cholesky(a), lambda a: np.linalg.qr(a)[1],
              lambda a: np.linalg.slogdet(a)[1], lambda a: np.linalg.pinv(a),
              lambda a: np.linalg.norm(a, 2, axis=(1, 2))):
        g = grad(lambda a: np.sum(f(a)))(a)
        assert g.shape == a.shape and g.dtype == a.dtype


# --- gradients --------------------------------------------------------------------------------

def symmetrized(f):
    """f of the symmetric matrix x + x^T: a function of x whose gradient has no convention."""
    return lambda x, *rest: f(x + np.swapaxes(x, -1, -2), *rest)


GRADIENT_CASES = {
    "svd_full_square": (lambda a: np.linalg.svd(a)[0] * np.linalg.svd(a)[1][..., None, :],
                        [with_singular_values(3, 3, [3, 2, 1], (2,))]),
    "svd_tall_all_outputs": (lambda a: (lambda u, s, vh: np.sum(u * u[:, :1] ** 2) +
                                        np.sum(s ** 3) + np.sum(vh * vh[:1] * 2.0))(
        *np.linalg.svd(a, full_matrices=False)), [with_singular_values(5, 4, [4, 3, 2, 1])]),
    "svd_wide_vh_only": (lambda a: np.linalg.svd(a, full_matrices=False)[2] ** 2,
                         [with_singular_values(2, 4, [2, 1])]),
    "svd_values_batched": (lambda a: np.linalg.svd(a, compute_uv=False),
                           [with_singular_values(3, 2, [2, 1], (2, 2))]),
    "svd_hermitian": (lambda a: (lambda u, s, vh: u * s + vh)(
        *np.linalg.svd(a, hermitian=True)), [with_spectrum([-3.0, 1.0, 2.0])]),
    "eigh_eigenvectors": (lambda a: np.linalg.eigh(a)[1] ** 3,
                          [with_spectrum([-1.0, 0.5, 2.0, 4.0], (2,))]),
    "eigh_upper": (lambda a: np.linalg.eigh(a, UPLO="U")[0] * np.linalg.eigh(a, "U")[1],
                   [with_spectrum([-1.0, 0.5, 2.0]) + np.tril(normal(3, 3), -1)]),
    "eigvalsh_of_lower_triangle": (lambda a: np.linalg.eigvalsh(a),
                                   [with_spectrum([1.0, 2.0, 3.0]) + np.triu(normal(3, 3), 1)]),
    "eig": (lambda a: np.linalg.eig(a)[1] * np.linalg.eig(a)[0],
            [np.linalg.solve(np.eye(3) + 0.2 * normal(3, 3),
                             np.diag([1.0, 2.0, 4.0]) @ (np.eye(3) + 0.1 * normal(3, 3)))]),
    "cholesky_upper": (lambda a: np.linalg.cholesky(a, upper=True) ** 2,
                       [positive_definite(3, (2,)) + np.tril(np.ones((3, 3)), -1)]),
    "qr_wide_batched": (lambda a: np.linalg.qr(a)[0] + np.linalg.qr(a)[1][..., :2],
                        [normal(2, 2, 4)]),
    "qr_r_only": (lambda a: np.linalg.qr(a, mode="r"), [normal(4, 3)]),
    "slogdet_negative_determinant": (lambda a: np.linalg.slogdet(a)[1],
                                     [np.diag([-2.0, 1.0, 3.0]) + 0.2 * normal(3, 3)]),
    "pinv_rank_deficient": (lambda b, c: np.linalg.pinv(b @ c, rcond=1e-8),
                            [normal(4, 2), normal(2, 3)]),
    "lstsq_rank_deficient": (lambda b, c, y: (lambda x, residuals, rank, s: x + s[:1])(
        *np.linalg.lstsq(b @ c, y, rcond=1e-8)), [normal(5, 2), normal(2, 3), normal(5)]),
    "lstsq_residuals": (lambda a, b: np.linalg.lstsq(a, b)[1], [normal(6, 3), normal(6, 2)]),
    "matrix_norms": (lambda x: sum(np.linalg.norm(x, ord, axis=(2, 0), keepdims=True)
                                   for ord in (2, -2, "nuc", "fro", 1, -1, np.inf, -np.inf)),
                     [normal(3, 2, 4)]),
    "cond_minus_2": (lambda a: np.linalg.cond(a, -2), [normal(3, 3) + 2 * np.eye(3)]),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
def test_gradients_match_numeric_to_second_order(name):
    f, args = GRADIENT_CASES[name]
    check_grads(f, args, rtol=1e-5, atol=1e-7)
    check_grads(f, args, order=2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
def test_gradients_keep_float32(name):
    f, args = GRADIENT_CASES[name]
    args32 = [a.astype(np.float32) for a in args]
    out, vjp_fn = vjpnet.vjp(f, *args32)
    assert np.result_type(out) == np.float32
    for arg, cotangent in zip(args32, vjp_fn(np.ones(np.shape(out), np.float32))):
        assert cotangent.dtype == np.float32 and cotangent.shape == arg.shape
        assert np.all(np.isfinite(cotangent))


def test_gradient_reads_the_triangle_numpy_reads():
    a = with_spectrum([1.0, 2.0, 3.0]) + np.triu(normal(3, 3), 1)
    for f, zero_part in [(lambda a: np.sum(np.linalg.eigvalsh(a) ** 2), np.triu),
                         (lambda a: np.sum(np.linalg.eigvalsh(a, "U") ** 2), np.tril),
                         (lambda a: np.sum(np.linalg.cholesky(a @ a.T)), None),
                         (lambda a: np.sum(np.linalg.cholesky(a + 5 * np.eye(3)) ** 2), np.triu),
                         (lambda a: np.sum(np.linalg.cholesky(a + 5 * np.eye(3), upper=True)),
                          np.tril)]:
        g = grad(f)(a)
        if zero_part is not None:
            assert not np.any(zero_part(g, 1 if zero_part is np.triu else -1))


# --- where the derivative is not unique ------------------------------------------------------

def test_eigenvalues_alone_are_differentiable_at_repeated_eigenvalues():
    for a in (np.eye(3), with_spectrum([1.0, 1.0, 3.0])):
        np.testing.assert_allclose(grad(lambda x: np.sum(np.linalg.eigvalsh(x)))(a),
                                   np.eye(3), atol=1e-12)
        np.testing.assert_allclose(grad(lambda x: np.sum(np.linalg.eigh(x)[0] ** 2))(a),
                                   np.tril(2 * a + 2 * a.T) - np.diag(np.diag(2 * a)),
                                   atol=1e-12)
        g = grad(lambda x: np.sum(np.linalg.svd(x, compute_uv=False)))(a)
        np.testing.assert_allclose(g, np.eye(3), atol=1e-12)


def test_eigenvectors_at_an_exactly_repeated_eigenvalue_raise():
    """A matrix logarithm at the identity: its gradient exists, but is a 0/0 that the
    eigenvector VJP cannot resolve (dropping the term would silently lose the off-diagonal)."""
    weights = normal(3, 3)

    def logm_loss(a):
        w, v = np.linalg.eigh(a)
        return np.sum((v * np.log(w)) @ v.T * weights)

    with pytest.raises(ValueError, match=r"numpy\.linalg\.eigh through its eigenvectors is "
                                         r"undefined here: values 0 and 1 .* exactly equal, 1"):
        grad(logm_loss)(np.eye(3))
    check_grads(logm_loss, [with_spectrum([1.0, 1.5, 3.0])])   # away from the repeat: fine
    for f in (lambda a: np.linalg.svd(a)[0], lambda a: np.linalg.svd(a)[2],
              lambda a: np.linalg.eig(a)[1]):
        with pytest.raises(ValueError, match="exactly equal"):
            grad(lambda a: np.sum(f(a) ** 3))(np.diag([2.0, 2.0, 1.0]))


def test_zero_singular_value_of_a_non_square_matrix():
    a = with_singular_values(4, 2, [2.0, 1.0]) @ np.diag([1.0, 0.0])   # s = (2, 0) exactly
    check_grads(lambda a: np.linalg.svd(a, compute_uv=False) ** 2, [a])   # values: fine
    with pytest.raises(ValueError, match="a singular value is exactly 0 and the matrix is not "
                                         "square"):
        grad(lambda a: np.sum(np.linalg.svd(a, full_matrices=False)[0] ** 3))(a)
    # centred data with fewer samples than features: the last singular value is ~1e-16, not 0;
    # the leading principal directions have their gradient, the reconstruction too
    data = normal(3, 5)
    centred = lambda x: x - np.mean(x, axis=0)
    check_grads(lambda x: np.linalg.svd(centred(x), full_matrices=False)[2][:2] ** 3, [data])
    check_grads(lambda x: (lambda u, s, vh: (u * s) @ vh)(
        *np.linalg.svd(centred(x), full_matrices=False)), [data])


def test_full_matrices_complement_columns_through_their_span():
    a = with_singular_values(5, 2, [2.0, 1.0])
    weights = normal(5, 5)

    def loss(a):
        u, s, vh = np.linalg.svd(a)   # full_matrices=True: u is 5 x 5
        complement = u[:, 2:] @ u[:, 2:].T
        return np.sum(complement * weights) + np.sum(u[:, :2] ** 3) + np.sum(s)

    check_grads(loss, [a], rtol=1e-5, atol=1e-7)
    check_grads(lambda a: (lambda u, s, vh: vh[2:].T @ vh[2:])(*np.linalg.svd(a)), [a.T])
    check_grads(lambda a: (lambda q, r: q[:, 2:] @ q[:, 2:].T + np.sum(q[:, :2] ** 3))(
        *np.linalg.qr(a, mode="complete")), [a])
    check_grads(lambda a: np.linalg.svd(a)[0][:, :2] ** 2, [a])   # extra columns unused
    for f in (lambda a: np.linalg.svd(a)[0][:, 3], lambda a: np.linalg.svd(a.T)[2][4],
              lambda a: np.linalg.qr(a, mode="complete")[0][:, 2:]):
        with pytest.raises(ValueError, match="particular basis NumPy chose"):
            grad(lambda a: np.sum(f(a) ** 3))(a)


# --- complex matrices ---------------------------------------------------------------------------

def complex_normal(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def unitary(n):
    return np.linalg.qr(complex_normal(n, n))[0]


def hermitian(values):
    q = unitary(len(values))
    return (q * np.asarray(values, float)) @ q.conj().T


def phase_free(v):
    """Functions of vectors that do not depend on their phases: the projector and |v|."""
    projector = v @ np.conj(np.swapaxes(v, -1, -2))
    return np.sum(np.tril(projector)) + np.abs(v) ** 3


COMPLEX_CASES = {
    # (function, arguments): each output a phase-free function of the decomposition
    "svd_values": (lambda a: np.linalg.svd(a, compute_uv=False), [complex_normal(3, 4)]),
    "svd_reconstruction": (lambda a: (lambda u, s, vh: (u * s ** 2) @ vh + np.abs(u) ** 2)(
        *np.linalg.svd(a, full_matrices=False)), [complex_normal(4, 3)]),
    "svd_projectors": (lambda a: (lambda u, s, vh: np.sum(phase_free(u)) + phase_free(
        np.swapaxes(vh, -1, -2)))(*np.linalg.svd(a, full_matrices=False)),
        [complex_normal(2, 2, 4)]),
    "svd_full": (lambda a: (lambda u, s, vh: u[:, 2:] @ u[:, 2:].conj().T + np.sum(
        s[0] * u[:, :1] @ vh[:1]))(*np.linalg.svd(a)), [complex_normal(4, 2)]),
    "eigh": (lambda a: (lambda w, v: w ** 2 * phase_free(v))(*np.linalg.eigh(a)),
             [hermitian([-1.0, 0.5, 2.0]) + 0.3j * np.diag(RNG.standard_normal(3))]),
    "eigvalsh_upper": (lambda a: np.linalg.eigvalsh(a, "U") ** 3,
                       [hermitian([-1.0, 0.5, 2.0, 3.0]) + np.tril(complex_normal(4, 4), -1)]),
    "eig_of_a_complex_matrix": (lambda a: (lambda w, v: w * np.abs(v) ** 2)(*np.linalg.eig(a)),
                                [complex_normal(3, 3) + 2 * np.eye(3)]),
    "eig_complex_pairs_of_a_real_matrix": (lambda a: (lambda w, v: np.abs(w) ** 3 + phase_free(
        v))(*np.linalg.eig(a)), [np.array([[0.5, 2.0, 0.1], [-1.5, 0.3, 0.4],
                                           [0.2, -0.3, 1.2]])]),
    "eigvals": (lambda a: np.linalg.eigvals(a), [complex_normal(2, 3, 3)]),
    "cholesky": (lambda a: np.linalg.cholesky(a),
                 [hermitian([1.0, 2.0, 3.0]) + np.triu(complex_normal(3, 3), 1)]),
    "cholesky_upper": (lambda a: np.linalg.cholesky(a, upper=True),
                       [hermitian([1.0, 2.0, 3.0]) + np.tril(complex_normal(3, 3), -1)]),
    "qr": (lambda a: (lambda q, r: q * r[0, 0] + np.sum(r) * 2.0)(*np.linalg.qr(a)),
           [complex_normal(4, 3)]),
    "qr_wide": (lambda a: (lambda q, r: np.sum(q @ r[:, :2]) + r)(*np.linalg.qr(a)),
                [complex_normal(2, 4)]),
    "qr_complete": (lambda a: (lambda q, r: q[:, 2:] @ q[:, 2:].conj().T + np.sum(q[:, :2] *
                                                                                   r[0, 0]))(
        *np.linalg.qr(a, "complete")), [complex_normal(4, 2)]),
    "slogdet": (lambda a: (lambda sign, logabsdet: sign * logabsdet)(*np.linalg.slogdet(a)),
                [complex_normal(2, 3, 3) + 2 * np.eye(3)]),
    "pinv": (lambda a: np.linalg.pinv(a), [complex_normal(3, 4)]),
    "pinv_hermitian": (lambda a: np.linalg.pinv(a, hermitian=True),
                       [hermitian([-2.0, 0.5, 1.5]) + np.triu(complex_normal(3, 3), 1)]),
    "lstsq": (lambda a, b: np.linalg.lstsq(a, b)[0], [complex_normal(5, 3), complex_normal(5)]),
    "norms": (lambda a: np.linalg.norm(a, 2) + np.linalg.norm(a, "nuc") + np.linalg.cond(a),
              [complex_normal(3, 3) + 2 * np.eye(3)]),
}


@pytest.mark.parametrize("name", sorted(COMPLEX_CASES))
def test_complex_matrices(name):
    f, args = COMPLEX_CASES[name]
    np.testing.assert_allclose(traced_value(f, *args), f(*args), rtol=1e-10, atol=1e-12)
    check_grads(f, args, rtol=1e-5, atol=1e-7)
    check_grads(f, args, order=2, rtol=1e-4, atol=1e-6)
    args64 = [a.astype(np.complex64) for a in args]
    out, vjp_fn = vjpnet.vjp(f, *args64)
    assert np.result_type(out) in (np.float32, np.complex64)
    assert all(c.dtype == np.complex64 for c in vjp_fn(np.ones(np.shape(out),
                                                                np.result_type(out))))


@pytest.mark.parametrize("f", [
    lambda a: np.sum(np.real(np.linalg.svd(a)[0])),
    lambda a: np.sum(np.imag(np.linalg.svd(a, full_matrices=False)[2])),
    lambda a: np.sum(np.real(np.linalg.eigh(a @ a.conj().T)[1])),
    lambda a: np.sum(np.real(np.linalg.eig(a)[1])),
])
def test_losses_that_depend_on_the_phases_of_complex_vectors_raise(f):
    with pytest.raises(ValueError, match="depends on the phases"):
        grad(f)(complex_normal(3, 3) + 2 * np.eye(3))


def test_a_real_matrix_with_complex_eigenvalues_gets_a_real_gradient():
    a = np.array([[0.5, 2.0], [-1.5, 0.3]])
    g = grad(lambda a: np.sum(np.imag(np.linalg.eigvals(a)) ** 2))(a)
    assert g.dtype == np.float64
    check_grads(lambda a: np.imag(np.linalg.eigvals(a)) ** 2, [a])


@pytest.mark.parametrize("f", [
    lambda a: np.sum(np.real(np.linalg.eigvals(a)) ** 2),   # tr(a)^2 / 2 for a 2x2 pair
    lambda a: np.real(np.sum(np.linalg.eigvals(a))),         # the trace: linear in a
    lambda a: np.sum(np.abs(np.linalg.eigvals(a)) ** 2),
    lambda a: np.sum(np.imag(np.linalg.eig(a)[0]) ** 2),
])
@pytest.mark.parametrize("a", [np.array([[1.0, -2.0], [1.5, 0.5]]),
                               np.array([[0.5, 2.0, 0.1], [-1.5, 0.3, 0.4], [0.2, -0.3, 1.2]]),
                               np.stack([np.array([[1.0, -2.0], [1.5, 0.5]]), np.eye(2) +
                                         np.array([[0.0, 1.0], [-1.0, 0.0]])]),
                               complex_normal(3, 3)])
def test_second_order_of_eigenvalues_with_complex_eigenvectors(f, a):
    """The eigenvalue VJP depends on the eigenvectors through a phase-free expression, so its
    derivative passes the eigenvector VJP's phase check, also where the cotangent it sends
    there is zero up to rounding (losses linear or quadratic in the eigenvalues)."""
    check_grads(f, [a], order=2)


def test_mixed_dtype_lstsq_gives_each_operand_its_dtype():
    a, b = normal(3, 2) * 0.3 + np.eye(3, 2) * 2, normal(3)
    for a_, b_ in [(a, b.astype(np.float32)), (a.astype(np.float32), b),
                   (a.astype(np.float32), np.arange(3)), (a, b[:, None].astype(np.float32))]:
        f = lambda a, b: np.linalg.lstsq(a, b)   # noqa: E731
        x, residuals, rank, s = f(a_, b_)
        traced = [arg for arg in (a_, b_) if arg.dtype.kind == "f"]
        g = (lambda a: f(a, b_)) if len(traced) == 1 else f
        out, vjp_fn = vjpnet.vjp(lambda *args: (g(*args)[0], g(*args)[1], g(*args)[3]), *traced)
        for ours, theirs in zip(out, (x, residuals, s)):
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
        cotangents = vjp_fn(tuple(np.ones(o.shape, o.dtype) for o in out))
        assert [c.dtype for c in cotangents] == [t.dtype for t in traced]
    check_grads(lambda a, b: np.linalg.lstsq(a, b)[0], [a, b])


def test_complex_lstsq_residuals_are_real_squared_norms():
    a, b = complex_normal(5, 3), complex_normal(5, 2)
    f = lambda a, b: np.linalg.lstsq(a, b)[1]   # noqa: E731
    out = vjpnet.vjp(f, a, b)[0]
    assert out.dtype == f(a, b).dtype == np.float64
    np.testing.assert_allclose(out, f(a, b), rtol=1e-10)
    check_grads(f, [a, b], order=2)


def test_cond_of_singular_and_empty_matrices_as_numpy():
    a = np.stack([normal(3, 3) + 3 * np.eye(3), np.ones((3, 3))])
    for p in (None, 2, -2, "fro", 1, -1, np.inf, -np.inf):
        with np.errstate(all="ignore"):
            expected = np.linalg.cond(a, p)
        out, vjp_fn = vjpnet.vjp(lambda a: np.linalg.cond(a, p), a)
        np.testing.assert_allclose(out, expected, rtol=1e-10)
        assert np.isinf(out[1]) or p in (None, 2, -2)   # (rounding: its svd has s > 0)
        g = vjp_fn(np.array([1.0, 0.0]))[0]
        assert np.all(np.isfinite(g[0])) and not g[1].any()
    check_grads(lambda a: np.linalg.cond(a, "fro"), [a[:1]], order=2)
    exact = np.stack([np.diag([2.0, 1.0]), np.diag([1.0, 0.0]), np.zeros((2, 2))])
    for p in (None, 2, -2):   # singular values exactly 0: inf (or 0) without warnings or NaN
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out, vjp_fn = vjpnet.vjp(lambda a: np.linalg.cond(a, p), exact)
            g = vjp_fn(np.ones(3))[0]
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(out, np.linalg.cond(exact, p))
        assert np.all(np.isfinite(g)) and not g[2].any()
    assert vjpnet.vjp(lambda a: np.linalg.cond(a), np.zeros((2, 2)))[0] == np.inf   # 0 / 0
    for empty in (np.zeros((0, 0)), np.zeros((2, 0, 0))):
        with pytest.raises(np.linalg.LinAlgError, match="empty"):
            vjpnet.vjp(np.linalg.cond, empty)


# --- HIPS autograd ------------------------------------------------------------------------------

AUTOGRAD_CASES = {
    # (loss(np, x) -> scalar, x); the matrix each decomposition sees is symmetric when needed
    "svd_reduced": (lambda np, x: (lambda u, s, vh: np.sum(u ** 3) + np.sum(s * s) +
                                   np.sum(vh[:, :2] ** 3))(*np.linalg.svd(x, full_matrices=False)),
                    with_singular_values(4, 3, [3.0, 2.0, 1.0])),
    "svd_values": (lambda np, x: np.sum(np.linalg.svd(x, compute_uv=False) ** 3),
                   normal(2, 3, 4)),
    "eigh": (lambda np, x: (lambda w, v: np.sum(w ** 3) + np.sum(v ** 3))(*np.linalg.eigh(x)),
             normal(2, 3, 3)),
    "cholesky": (lambda np, x: np.sum(np.linalg.cholesky(np.dot(x, x.T) + 3 * np.eye(3)) ** 3),
                 normal(3, 3)),
    "slogdet": (lambda np, x: np.linalg.slogdet(x)[1], normal(3, 3)),
    "pinv": (lambda np, x: np.sum(np.linalg.pinv(x) ** 3), normal(3, 5)),
    "eig": (lambda np, x: (lambda w, v: np.sum(w ** 3) + np.sum(v ** 3))(*np.linalg.eig(x)),
            with_spectrum([1.0, 2.0, 4.0]) + 0.2 * np.triu(normal(3, 3))),
    "norm_nuc": (lambda np, x: np.linalg.norm(x, "nuc"), normal(3, 4)),
    "eigh_complex": (lambda np, x: (lambda w, v: np.sum(w ** 3) + np.sum(np.abs(v) ** 3))(
        *np.linalg.eigh(np.dot(x, np.conj(x.T)))), complex_normal(3, 3)),
    "svd_complex": (lambda np, x: (lambda u, s, vh: np.sum(np.abs(u) ** 3) + np.sum(s * s) +
                                   np.sum(np.abs(vh) ** 3))(
        *np.linalg.svd(x, full_matrices=False)), complex_normal(4, 3)),
    "eig_complex": (lambda np, x: (lambda w, v: np.sum(np.abs(w) ** 3) + np.sum(
        np.abs(v) ** 3))(*np.linalg.eig(x)), complex_normal(3, 3)),
    "gp_cholesky": (lambda np, x: (lambda k: np.sum(np.log(np.diag(np.linalg.cholesky(k)))) +
                                   np.sum(np.linalg.solve(k, np.ones(4))))(
        np.exp(-np.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=2)) + 0.1 * np.eye(4)),
        normal(4, 2)),
}


@pytest.mark.parametrize("name", sorted(AUTOGRAD_CASES))
def test_matches_hips_autograd(name):
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    loss, x = AUTOGRAD_CASES[name]
    ours = grad(functools.partial(loss, np))(x)
    theirs = autograd.grad(functools.partial(loss, anp))(x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-8, atol=1e-10)


# --- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("call,error,match", [
    (lambda x: np.linalg.eigh(x[:2]), np.linalg.LinAlgError,
     r"numpy\.linalg\.eigh: expected a square matrix .* got shape \(2, 3\)"),
    (lambda x: np.linalg.cholesky(x[0]), np.linalg.LinAlgError, r"numpy\.linalg\.cholesky"),
    (lambda x: np.linalg.svd(x[0]), np.linalg.LinAlgError, r"numpy\.linalg\.svd.*\(3,\)"),
    (lambda x: np.linalg.slogdet(x[:, :2]), np.linalg.LinAlgError, "slogdet"),
    (lambda x: np.linalg.eigh(x, UPLO="X"), ValueError, "UPLO"),
    (lambda x: np.linalg.qr(x, mode="raw"), TypeError, "mode='raw'"),
    (lambda x: np.linalg.norm(x, ord=3), ValueError, "invalid norm order 3 for matrices"),
    (lambda x: np.linalg.norm(x, ord=2, axis=(0, 0)), ValueError, "duplicate axes"),
    (lambda x: np.linalg.matrix_power(x, 1.5), TypeError, "exponent must be an integer"),
    (lambda x: np.linalg.lstsq(x[None], x), np.linalg.LinAlgError, "2-dimensional"),
    (lambda x: np.linalg.multi_dot([x]), ValueError, "at least two arrays"),
    (lambda x: np.linalg.multi_dot([x, x[None], x]), ValueError, r"array 1 has shape"),
    (lambda x: np.linalg.cholesky(-x @ x.T), np.linalg.LinAlgError, "positive definite"),
])
def test_bad_input_raises_clearly(call, error, match):
    with pytest.raises(error, match=match):
        grad(lambda x: np.sum(call(x)))(normal(3, 3))


def test_matrix_rank_is_a_constant():
    seen = []
    g = grad(lambda a: seen.append(np.linalg.matrix_rank(a)) or np.sum(a * a))(np.eye(3))
    assert seen == [3] and type(seen[0]) is not vjpnet.tape.Traced
    np.testing.assert_allclose(g, 2 * np.eye(3))


def test_hessian_of_a_gaussian_log_likelihood():
    """Second order through cholesky, slogdet and solve against differences of the gradient."""
    y = normal(4)

    def nll(params):
        x = np.reshape(params, (4, 2))
        k = x @ x.T + np.eye(4)
        chol = np.linalg.cholesky(k)
        return 0.5 * np.sum(np.linalg.solve(chol, y) ** 2) + 0.5 * np.linalg.slogdet(k)[1]

    params, v = normal(8), normal(8)
    hvp = grad(lambda p: np.sum(grad(nll)(p) * v))(params)
    eps = 1e-5
    numeric = (grad(nll)(params + eps * v) - grad(nll)(params - eps * v)) / (2 * eps)
    np.testing.assert_allclose(hvp, numeric, rtol=1e-6, atol=1e-8)
