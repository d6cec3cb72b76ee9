"""An audit of the NumPy functions beyond the core (statistics, sequences, constructors,
rearrange, matrix functions, decompositions, sorting, elementwise_extra, array_api) against
NumPy itself, over one table of calls:

- dtypes: each call with float64, float32, mixed float32/float64, Python-float (traced and
  constant), integer (constant) and complex64/complex128 operands gives NumPy's result dtype,
  shape and values, and the cotangent of every operand comes back in that operand's dtype;
- empty and degenerate inputs: each call with a zero-length axis in one or every operand, or
  with a 0-d or one-element operand, gives NumPy's result (and cotangents of the inputs'
  shapes), or raises where NumPy raises, an error of its class.
"""
import warnings

import numpy as np
import pytest

import vjpnet
from vjpnet import tree

RNG = np.random.default_rng(23)


def normal(*shape):
    return RNG.standard_normal(shape)


class Call:
    """f(*args) with float64 samples `args`; `python`: positions that may be Python floats (0-d
    samples), `integer`: positions that may be integer constants, `complex_values`: the call
    takes complex operands (each sample plus i times a shifted copy of itself)."""

    def __init__(self, f, *args, python=(), integer=(), complex_values=False, empty=True):
        self.f, self.args = f, args
        self.python, self.integer = python, integer
        self.complex_values, self.empty = complex_values, empty


X = normal(3, 4)
V, W = normal(4), normal(4)
NAN_X = np.where(np.arange(12).reshape(3, 4) == 5, np.nan, X)
SPD = X[:, :3].T @ X[:, :3] + 3 * np.eye(3)
SQUARE = normal(3, 3) * 0.3 + 2 * np.eye(3)
REAL_SPECTRUM = np.linalg.solve(np.eye(3) + 0.2 * normal(3, 3), np.diag([1.0, 2.0, 4.0])) @ \
    (np.eye(3) + 0.2 * normal(3, 3))
ROTATION = np.array([[1.0, -2.0, 0.1], [1.5, 0.5, 0.2], [0.0, 0.3, 3.0]])   # a complex pair
TALL = normal(4, 3) + np.eye(4, 3)
POSITIVE = np.abs(V) + 0.5
SORTED = np.sort(normal(5))
S0, S1 = np.array(0.7), np.array(1.9)   # 0-d samples (Python floats in the "python" variants)
IDX = np.array([[0, 1, 1, 0], [1, 0, 0, 1], [0, 0, 1, 1]])

CALLS = {
    # --- statistics
    "nansum": Call(lambda x: np.nansum(x, axis=0), NAN_X, complex_values=True),
    "nanprod": Call(lambda x: np.nanprod(x, axis=1), NAN_X, complex_values=True),
    "nanmean": Call(lambda x: np.nanmean(x, axis=1), NAN_X, complex_values=True),
    "nanmax_nanmin": Call(lambda x: np.nanmax(x, axis=0) + np.nanmin(x, axis=0), NAN_X),
    "nanvar_nanstd": Call(lambda x: np.nanvar(x, axis=1) + np.nanstd(x, axis=1, ddof=1), NAN_X,
                          complex_values=True),
    "nancumsum_nancumprod": Call(lambda x: np.nancumsum(x, axis=1) * np.nancumprod(x, axis=1),
                                 NAN_X, complex_values=True),
    "average": Call(lambda x: np.average(x, axis=1), X, complex_values=True),
    "average_weights": Call(lambda x, w: np.average(x, axis=1, weights=w), X, POSITIVE,
                            integer=(1,), complex_values=True),
    "average_returned": Call(lambda x, w: np.average(x, axis=0, weights=w, returned=True), X,
                             X ** 2 + 1.0, integer=(1,)),
    "ptp": Call(lambda x: np.ptp(x, axis=1), X),
    "cov": Call(lambda m: np.cov(m), X, complex_values=True),
    "cov_y": Call(lambda m, y: np.cov(m, y, rowvar=False), X, normal(3, 2), integer=(1,),
                  complex_values=True),
    "cov_aweights": Call(lambda m, w: np.cov(m, aweights=w), X, POSITIVE, integer=(1,)),
    "cov_fweights": Call(lambda m: np.cov(m, fweights=np.array([1, 2, 1, 3])), X),
    "corrcoef": Call(lambda m: np.corrcoef(m), X, complex_values=True),
    "corrcoef_y": Call(lambda m, y: np.corrcoef(m, y), X, normal(2, 4), integer=(1,)),
    # --- sequences
    "diff": Call(lambda x: np.diff(x, n=2), X, complex_values=True),
    "diff_prepend": Call(lambda x, p: np.diff(x, prepend=p), X, S0, python=(1,), integer=(1,),
                         complex_values=True),
    "diff_append": Call(lambda x, a: np.diff(x, axis=0, append=a), X, normal(1, 4),
                        integer=(1,)),
    "ediff1d": Call(lambda x, b, e: np.ediff1d(x, to_begin=b, to_end=e), V, normal(2), S0,
                    python=(2,), integer=(1, 2)),
    "gradient": Call(lambda x: np.gradient(x), X, complex_values=True),
    "gradient_spacing": Call(lambda x: np.gradient(x, 0.5, np.arange(4.0) ** 2, edge_order=2),
                             X),
    "trapezoid": Call(lambda y: np.trapezoid(y), X, complex_values=True),
    "trapezoid_x": Call(lambda y, x: np.trapezoid(y, x), X, SORTED[:4], integer=(1,)),
    "trapezoid_dx": Call(lambda y, dx: np.trapezoid(y, dx=dx, axis=0), X, S0, python=(1,)),
    "cumprod": Call(lambda x: np.cumprod(x, axis=1), X, complex_values=True),
    "interp": Call(lambda x, xp, fp: np.interp(x, xp, fp), np.array([-2.0, 0.1, 0.55, 3.0]),
                   SORTED, normal(5), integer=(0, 1)),
    "interp_complex_fp": Call(lambda x, fp: np.interp(x, SORTED, fp), V, normal(5) + 1j),
    "convolve": Call(lambda a, v: np.convolve(a, v), V, normal(3), integer=(0, 1),
                     complex_values=True),
    "correlate": Call(lambda a, v: np.correlate(a, v, "same"), V, normal(3), integer=(0, 1),
                      complex_values=True),
    "polyval": Call(lambda p, x: np.polyval(p, x), V, W, integer=(0, 1), complex_values=True),
    "polyval_scalar": Call(lambda p, x: np.polyval(p, x), V, S0, python=(1,)),
    "vander": Call(lambda x: np.vander(x), V, complex_values=True),
    "vander_n": Call(lambda x: np.vander(x, 3, increasing=True), V, complex_values=True),
    "cross": Call(lambda a, b: np.cross(a, b), X[:, :3], X[:, 1:], integer=(0, 1),
                  complex_values=True),
    "kron": Call(lambda a, b: np.kron(a, b), X[:2], V[:2], integer=(0, 1),
                 complex_values=True),
    # --- constructors
    "linspace": Call(lambda a, b: np.linspace(a, b, 5), S0, S1, python=(0, 1), integer=(0, 1),
                     complex_values=True),
    "linspace_retstep": Call(lambda a, b: np.linspace(a, b, 4, retstep=True), V, W,
                             integer=(1,)),
    "linspace_one": Call(lambda a, b: np.linspace(a, b, 1, retstep=True), V, W),
    "linspace_int": Call(lambda a, b: np.linspace(a, b, 3, dtype=int), V * 3, W * 3),
    "logspace": Call(lambda a, b: np.logspace(a, b, 5), S0, S1, python=(0, 1), integer=(0, 1),
                     complex_values=True),
    "logspace_base": Call(lambda a, b, base: np.logspace(a, b, 3, base=base), S0, S1,
                          S1 + 1.0, python=(0, 1, 2), integer=(2,)),
    "geomspace": Call(lambda a, b: np.geomspace(a, b, 5), S0, S1, python=(0, 1), integer=(0, 1),
                      complex_values=True),
    "geomspace_arrays": Call(lambda a, b: np.geomspace(a, b, 3, axis=1), POSITIVE,
                             POSITIVE + 1.0, integer=(1,), complex_values=True),
    "full_like": Call(lambda x, v: np.full_like(x, v), X, S0, complex_values=True),
    # --- rearrange
    "tril_triu": Call(lambda x: np.tril(x) + np.triu(x, 1), X, complex_values=True),
    "rot90_rollaxis": Call(lambda x: np.rot90(x) + np.rollaxis(x, 1), X[:3, :3],
                           complex_values=True),
    "append": Call(lambda x, y: np.append(x, y), X, V, python=(), integer=(1,),
                   complex_values=True),
    "append_scalar": Call(lambda x, y: np.append(x, y), V, S0, python=(1,)),
    "delete": Call(lambda x: np.delete(x, 1, axis=1), X, complex_values=True),
    "insert": Call(lambda x, v: np.insert(x, [1, 3], v, axis=1), X, S0, python=(1,),
                   integer=(1,), complex_values=True),
    "resize": Call(lambda x: np.resize(x, (5, 3)), X, complex_values=True),
    "dsplit_dstack": Call(lambda x, y: np.dsplit(np.dstack([x, y]), 2)[1], X, X * 2.0,
                          integer=(1,)),
    "unstack_row_stack": Call(lambda x, y: np.row_stack([np.unstack(x)[1], y]), X, V,
                              integer=(1,)),
    "block": Call(lambda a, b: np.block([[a, b]]), X, X[:, :2], integer=(1,),
                  complex_values=True),
    "broadcast_arrays": Call(lambda x, y: np.broadcast_arrays(x, y), X, V, integer=(1,)),
    "meshgrid": Call(lambda x, y: np.meshgrid(x, y), V, W[:3], integer=(1,)),
    "select": Call(lambda x, y, d: np.select([np.real(x) > 0, np.real(x) < -1], [x, y],
                                             default=d), X, V, S0,
                   python=(2,), integer=(1, 2), complex_values=True),
    "choose": Call(lambda x, y: np.choose(IDX, [x, y]), X, V, integer=(1,),
                   complex_values=True),
    "compress_extract": Call(lambda x: np.compress([1, 0, 1], x, axis=0) * 2.0 +
                             np.extract(np.ones(4, bool), x[0]), X, complex_values=True),
    "sliding_window_view": Call(lambda x: np.lib.stride_tricks.sliding_window_view(x, 2), V,
                                complex_values=True),
    "unwrap": Call(lambda p: np.unwrap(p * 3.0), X),
    "unwrap_period": Call(lambda p, period: np.unwrap(p * 3.0, period=period), X, S1 + 2.0,
                          python=(1,)),
    "piecewise": Call(lambda x: np.piecewise(x, [x < 0, x >= 0], [lambda v: v * v,
                                                                   lambda v: -v]), X),
    "piecewise_constants": Call(lambda x: np.piecewise(x, [x < 0], [0.5, lambda v: v * 2]),
                                X),
    "apply_along_axis": Call(lambda x: np.apply_along_axis(lambda r: r * r[0], 1, x), X,
                             complex_values=True),
    # --- matrix functions
    "slogdet": Call(lambda a: np.linalg.slogdet(a)[1], SQUARE, complex_values=True),
    "pinv": Call(lambda a: np.linalg.pinv(a), TALL, complex_values=True),
    "lstsq": Call(lambda a, b: np.linalg.lstsq(a, b)[0], TALL, normal(4), integer=(1,),
                  complex_values=True),
    "lstsq_matrix": Call(lambda a, b: np.linalg.lstsq(a, b)[:2], TALL, normal(4, 2),
                         integer=(1,), complex_values=True),
    "lstsq_wide": Call(lambda a, b: np.linalg.lstsq(a, b)[:2], TALL.T, normal(3)),
    "lstsq_s": Call(lambda a, b: np.linalg.lstsq(a, b)[3], TALL, normal(4)),
    "matrix_power": Call(lambda a: np.linalg.matrix_power(a, 3), SQUARE,
                         complex_values=True),
    "matrix_power_0": Call(lambda a: np.linalg.matrix_power(a, 0), SQUARE,
                           complex_values=True),
    "matrix_power_inverse": Call(lambda a: np.linalg.matrix_power(a, -2), SQUARE),
    "multi_dot": Call(lambda a, b, c: np.linalg.multi_dot([a, b, c]), V[:3], SQUARE, TALL.T,
                      integer=(1,), complex_values=True),
    "cond": Call(lambda a: np.linalg.cond(a), SQUARE, complex_values=True),
    "cond_fro": Call(lambda a: np.linalg.cond(a, "fro"), SQUARE),
    "cond_singular": Call(lambda a: np.linalg.cond(a * [[1.0], [1.0], [0.0]], 1) +
                          np.linalg.cond(a * [[1.0], [1.0], [0.0]]), SQUARE),
    "cond_batch": Call(lambda a: np.linalg.cond(a, np.inf), np.stack([SQUARE, SQUARE * 0.0])),
    "tensorinv": Call(lambda a: np.linalg.tensorinv(a, 1), SQUARE, complex_values=True),
    "tensorsolve": Call(lambda a, b: np.linalg.tensorsolve(a, b), SQUARE, V[:3],
                        integer=(1,)),
    "norm_nuc_2": Call(lambda a: np.linalg.norm(a, "nuc") + np.linalg.norm(a, 2) +
                       np.linalg.norm(a, -2), X, complex_values=True),
    # --- decompositions
    "svd": Call(lambda a: np.linalg.svd(a, full_matrices=False)[1], TALL, complex_values=True),
    "svdvals": Call(lambda a: np.linalg.svdvals(a), TALL, complex_values=True),
    "svd_hermitian": Call(lambda a: np.linalg.svd(a, hermitian=True)[1], SPD),
    "eigh": Call(lambda a: np.linalg.eigh(a)[0], SPD, complex_values=True),
    "eigvalsh": Call(lambda a: np.linalg.eigvalsh(a), SPD, complex_values=True),
    "eig_real_spectrum": Call(lambda a: np.linalg.eig(a)[0], REAL_SPECTRUM),
    "eigvals_complex_spectrum": Call(lambda a: np.linalg.eigvals(a), ROTATION,
                                     complex_values=True),
    "cholesky": Call(lambda a: np.linalg.cholesky(a), SPD),
    "qr": Call(lambda a: np.linalg.qr(a)[1], TALL, complex_values=True),
    "batched": Call(lambda a: np.linalg.svd(a)[1] + np.linalg.eigvalsh(a) +
                    np.linalg.qr(a)[1][..., 0] + np.linalg.slogdet(a)[1][..., None] +
                    np.linalg.norm(a, 2, axis=(1, 2))[:, None] +
                    np.linalg.cholesky(a)[..., 0] + np.linalg.pinv(a)[..., 0] +
                    np.linalg.matrix_power(a, 2)[..., 0] + np.linalg.eigvals(a),
                    np.stack([SPD, SPD + np.eye(3)])),
    # --- sorting
    "sort_partition": Call(lambda x: np.sort(x) + np.partition(x, 1), X),
    "quantile": Call(lambda x: np.quantile(x, 0.3, axis=1), X),
    "quantile_array_q": Call(lambda x: np.quantile(x, np.array([0.25, 0.5])), X),
    "quantile_float32_q": Call(lambda x: np.quantile(x, np.float32(0.25)), X),
    "percentile": Call(lambda x: np.percentile(x, 40, axis=0, method="nearest"), X),
    "median": Call(lambda x: np.median(x, axis=1), X),
    "nanquantile_nanmedian": Call(lambda x: np.nanquantile(x, 0.4, axis=1) +
                                  np.nanpercentile(x, 10, axis=1) + np.nanmedian(x, axis=1),
                                  NAN_X),
    # --- elementwise_extra
    "remainder_fmod": Call(lambda x, y: np.remainder(x, y) + np.fmod(x, y), X, POSITIVE,
                           integer=(1,)),
    "remainder_scalar": Call(lambda x, y: np.remainder(x, y), X, S1, python=(1,)),
    "degrees_fabs": Call(lambda x: np.deg2rad(x) + np.rad2deg(x) + np.fabs(x), X),
    "copysign": Call(lambda x, y: np.copysign(x, y), X, V, integer=(1,)),
    "sinc": Call(lambda x: np.sinc(x), X, complex_values=True),
    "nan_to_num": Call(lambda x: np.nan_to_num(x, nan=1.5), NAN_X, complex_values=True),
    "real_if_close": Call(lambda x: np.real_if_close(x + 0.0j) * 1.0, X),
    # --- array_api
    "matrix_transpose": Call(lambda x: np.matrix_transpose(x) + np.linalg.matrix_transpose(x),
                             X, complex_values=True),
    "linalg_matmul_tensordot": Call(lambda a, b: np.linalg.matmul(a, b) +
                                    np.linalg.tensordot(a, b, axes=1), X, X.T, integer=(1,),
                                    complex_values=True),
    "linalg_outer": Call(lambda a, b: np.linalg.outer(a, b), V, W, integer=(1,),
                         complex_values=True),
    "linalg_vecdot": Call(lambda a, b: np.linalg.vecdot(a, b), X, V, integer=(1,),
                          complex_values=True),
    "linalg_trace_diagonal": Call(lambda x: np.linalg.trace(x) + np.linalg.diagonal(x).sum(),
                                  X, complex_values=True),
    "linalg_cross": Call(lambda a, b: np.linalg.cross(a, b), X[:, :3], X[:, 1:],
                         integer=(1,), complex_values=True),
    "matrix_norm": Call(lambda x: np.linalg.matrix_norm(x) + np.linalg.matrix_norm(x, ord=1),
                        X, complex_values=True),
    "vector_norm": Call(lambda x: np.linalg.vector_norm(x, axis=0) +
                        np.linalg.vector_norm(x, ord=3, axis=0, keepdims=True)[0], X,
                        complex_values=True),
    "vector_norm_all": Call(lambda x: np.linalg.vector_norm(x, ord=np.inf), X,
                            complex_values=True),
    "vecdot": Call(lambda a, b: np.vecdot(a, b), X, V, integer=(1,), complex_values=True),
    "matvec": Call(lambda a, v: np.matvec(a, v), X, V, integer=(0, 1), complex_values=True),
    "vecmat": Call(lambda v, a: np.vecmat(v, a), V[:3], X, integer=(0, 1),
                   complex_values=True),
}


# --- the dtype variants of a call ----------------------------------------------------------

def _complex(x):
    return x + 1j * np.roll(np.asarray(x) * 0.5 + 0.25, 1)


def _as(x, dtype):
    return np.asarray(x).astype(dtype)


def _integer(x):
    return np.round(np.asarray(x) * 3.0).astype(np.int64)


def _variants(call):
    """name -> (arguments, positions held constant)."""
    n = len(call.args)
    variants = {"float64": [_as(a, np.float64) for a in call.args],
                "float32": [_as(a, np.float32) for a in call.args]}
    if n > 1:
        for i in range(n):
            variants[f"float32_at_{i}"] = [_as(a, np.float32 if j == i else np.float64)
                                           for j, a in enumerate(call.args)]
    for i in call.python:
        variants[f"python_float_at_{i}"] = [float(a) if j == i else _as(a, np.float32)
                                            for j, a in enumerate(call.args)]
    for i in call.integer:
        variants[f"integer_at_{i}"] = [_integer(a) if j == i else _as(a, np.float32)
                                       for j, a in enumerate(call.args)]
    if call.complex_values:
        variants["complex128"] = [_as(_complex(a), np.complex128) for a in call.args]
        variants["complex64"] = [_as(_complex(a), np.complex64) for a in call.args]
        if n > 1:
            variants["complex64_at_0"] = [_as(_complex(a), np.complex64) if j == 0 else
                                          _as(a, np.float32) for j, a in enumerate(call.args)]
    result = {}
    for name, args in variants.items():
        constant = {j for j, a in enumerate(args) if np.asarray(a).dtype.kind not in "fc"}
        result[name] = (args, constant)
        if name.startswith("python_float_at_"):   # the Python float as a constant, too
            result[name.replace("python", "constant_python")] = \
                (args, constant | {int(name.rsplit("_", 1)[1])})
    return result


DTYPE_CASES = [(name, variant) for name, call in CALLS.items() for variant in _variants(call)]


def _run(f, args, constant):
    """(NumPy's result, vjpnet's (out, vjp_fn), positions traced)."""
    traced = [i for i in range(len(args)) if i not in constant]

    def partial(*values):
        full = list(args)
        for i, value in zip(traced, values):
            full[i] = value
        return f(*full)
    out, vjp_fn = vjpnet.vjp(partial, *[args[i] for i in traced])
    return out, vjp_fn, traced


def _tolerance(*values):
    single = any(np.asarray(v).dtype in (np.float32, np.complex64) or type(v) is float
                 for v in values)
    return (2e-3, 1e-4) if single else (1e-9, 1e-11)


def _assert_same_result(ours, theirs, rtol, atol, label):
    ours_leaves, ours_structure = tree.flatten(ours)
    theirs_leaves, theirs_structure = tree.flatten(theirs)
    assert len(ours_leaves) == len(theirs_leaves), label
    for a, b in zip(ours_leaves, theirs_leaves):
        assert np.shape(a) == np.shape(b), f"{label}: shape {np.shape(a)} vs {np.shape(b)}"
        assert np.result_type(a) == np.result_type(b), \
            f"{label}: dtype {np.result_type(a)} vs NumPy's {np.result_type(b)}"
        scale = max(1.0, float(np.max(np.abs(b), initial=0.0, where=np.isfinite(b))))
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol * scale, err_msg=label)


@pytest.mark.parametrize("name, variant", DTYPE_CASES)
def test_dtypes_follow_numpy_and_cotangents_keep_each_operands_dtype(name, variant):
    call = CALLS[name]
    args, constant = _variants(call)[variant]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = call.f(*args)
        out, vjp_fn, traced = _run(call.f, args, constant)
    _assert_same_result(out, expected, *_tolerance(*args), f"{name}[{variant}]")
    seed = tree.unflatten(tree.flatten(out)[1],
                          [np.ones(np.shape(leaf), np.result_type(leaf))
                           for leaf in tree.flatten(out)[0]])
    cotangents = vjp_fn(seed)
    for i, cotangent in zip(traced, cotangents):
        if type(args[i]) is float:
            assert type(cotangent) is float, f"argument {i}: {type(cotangent)}"
        else:
            assert cotangent.shape == args[i].shape and cotangent.dtype == args[i].dtype, \
                f"argument {i}: {cotangent.dtype} {cotangent.shape} for {args[i].dtype} " \
                f"{args[i].shape}"


# --- empty inputs ---------------------------------------------------------------------------

def _empty_variants(call):
    """name -> arguments with a zero-length axis: axis k of one operand, or of every operand
    that has one."""
    arrays = [np.asarray(a, np.float64) for a in call.args]
    variants = {}
    for i, a in enumerate(arrays):
        for axis in range(a.ndim):
            shape = list(a.shape)
            shape[axis] = 0
            variants[f"axis_{axis}_of_{i}"] = [np.zeros(shape) if j == i else b
                                              for j, b in enumerate(arrays)]
    if len(arrays) > 1:
        for axis in range(max(a.ndim for a in arrays)):
            variants[f"axis_{axis}_of_all"] = [
                np.zeros(a.shape[:axis] + (0,) + a.shape[axis + 1:]) if a.ndim > axis else a
                for a in arrays]
    for i, a in enumerate(arrays):   # 0-d and one-element operands
        if a.ndim:
            variants[f"zero_d_{i}"] = [np.asarray(b.flat[0]) if j == i else b
                                       for j, b in enumerate(arrays)]
            variants[f"one_element_{i}"] = [b.flat[:1].reshape((1,) * b.ndim) if j == i else b
                                            for j, b in enumerate(arrays)]
    return variants


EMPTY_CASES = [(name, variant) for name, call in CALLS.items() if call.empty
               for variant in _empty_variants(call)]


@pytest.mark.parametrize("name, variant", EMPTY_CASES)
def test_empty_inputs_behave_as_in_numpy(name, variant):
    call = CALLS[name]
    args = _empty_variants(call)[variant]
    label = f"{name}[{variant}]"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected = call.f(*args)
        except Exception as error:   # NumPy refuses: so does vjpnet, with an error of its kind
            with pytest.raises(type(error) if not isinstance(error, np.linalg.LinAlgError)
                               else ValueError):
                _run(call.f, args, set())
            return
        out, vjp_fn, traced = _run(call.f, args, set())
    _assert_same_result(out, expected, 1e-9, 1e-11, label)
    seed = tree.unflatten(tree.flatten(out)[1],
                          [np.ones(np.shape(leaf), np.result_type(leaf))
                           for leaf in tree.flatten(out)[0]])
    for i, cotangent in zip(traced, vjp_fn(seed)):
        assert cotangent.shape == args[i].shape, f"{label}: argument {i}"


def test_every_function_of_the_audited_modules_has_a_call():
    """A function routed by one of the audited modules needs a call in CALLS (by name)."""
    from vjpnet.tape import FUNCTION_HANDLERS
    audited = ("statistics", "sequences", "constructors", "rearrange", "matrix_functions",
               "decompositions", "sorting", "elementwise_extra", "array_api")
    source = open(__file__).read()
    missing = []
    for function, handler in FUNCTION_HANDLERS.items():
        module = getattr(handler, "__module__", "") or ""
        if module.rsplit(".", 1)[-1] in audited:
            name = function.__name__
            if f"np.{name}(" not in source and f".{name}(" not in source:
                missing.append(f"{module}: {name}")
    assert not missing, missing

