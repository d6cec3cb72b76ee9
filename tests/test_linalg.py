"""Products and numpy.linalg against NumPy 2's batching and broadcasting rules, brute force.

Every shape combination below is checked three ways: the forward against NumPy itself, the VJP
against central differences (float64, random directions), and mixed float32/float64 operands
(each cotangent comes back in its operand's dtype). einsum is checked on random subscripts
(explicit and implicit outputs, '...', diagonals, size-1 axes broadcast against larger ones, the
interleaved sublist form). The regression tests of the bugs these checks found come first.
"""
import itertools

import numpy as np
import pytest

import vjpnet
from vjpnet import grad
from vjpnet.gradient_check import check_grads, eval_numerical_gradient

RNG = np.random.default_rng(10)
BATCHES = [(), (1,), (3,), (2, 1), (1, 3), (2, 3)]


def normal(*shape):
    return RNG.standard_normal(shape)


def well_conditioned(shape):
    return normal(*shape) * 0.3 + 2.0 * np.eye(shape[-1])


def broadcastable(*shapes):
    try:
        np.broadcast_shapes(*shapes)
        return True
    except ValueError:
        return False


def check_against_numpy(f, args, second_order=False):
    """f's value under vjpnet equals NumPy's; its VJP matches central differences; mixed
    float32/float64 operands each get a cotangent of their own dtype."""
    out, _ = vjpnet.vjp(f, *args)
    np.testing.assert_allclose(out, f(*args), rtol=1e-12, atol=1e-12)
    check_grads(f, args, rtol=1e-5, atol=1e-7)
    if second_order:
        check_grads(f, args, order=2, rtol=1e-4, atol=1e-6)
    for mixed in itertools.product((np.float32, np.float64), repeat=len(args)):
        if len(set(mixed)) < 2:
            continue
        cast = [a.astype(dtype) for a, dtype in zip(args, mixed)]
        out, vjp_fn = vjpnet.vjp(f, *cast)
        assert np.result_type(out) == np.float64
        cotangents = vjp_fn(np.ones(np.shape(out)))
        exact = vjpnet.vjp(f, *args)[1](np.ones(np.shape(out)))
        for arg, cotangent, reference in zip(cast, cotangents, exact):
            assert cotangent.dtype == arg.dtype and cotangent.shape == arg.shape
            np.testing.assert_allclose(cotangent, reference, rtol=1e-4, atol=1e-4)


# --- regression tests -------------------------------------------------------------------------

@pytest.mark.parametrize("batch", [2, 3])
def test_solve_with_a_batch_of_matrices_and_one_vector(batch):
    """NumPy 2: b (n,) is one vector per matrix, x is (B, n). B == n was silently wrong."""
    A = well_conditioned((batch, 2, 2))
    b = normal(2)
    assert np.linalg.solve(A, b).shape == (batch, 2)
    for argnum, value in ((0, A), (1, b)):
        def f(v):
            args = [A, b]
            args[argnum] = v
            return np.sum(np.sin(np.linalg.solve(*args)))
        numeric = eval_numerical_gradient(f, value.copy(), verbose=False)
        np.testing.assert_allclose(grad(f)(value), numeric, rtol=1e-6, atol=1e-8)


def test_solve_with_b_broadcast_against_a_batch():
    A, B = well_conditioned((3, 2, 2)), normal(2, 4)
    g = grad(lambda B: np.sum(np.linalg.solve(A, B) ** 2))(B)
    assert g.shape == (2, 4)
    check_grads(lambda A, B: np.linalg.solve(A, B), [A, B])


def test_einsum_sums_the_cotangent_of_a_broadcast_size_1_axis():
    y = normal(3, 4)
    g = grad(lambda x: np.sum(np.einsum("ij,ij->ij", x, y)))(np.ones((3, 1)))
    np.testing.assert_allclose(g, y.sum(axis=1, keepdims=True))


@pytest.mark.parametrize("f", [lambda x, w: x @ w, lambda x, w: np.dot(x, w),
                               lambda x, w: x.dot(w), lambda x, w: np.matmul(x, w)])
def test_mixed_float32_float64_products_give_each_operand_its_dtype(f):
    x, w = normal(3, 4).astype(np.float32), normal(4, 2)
    gx, gw = grad(lambda x, w: np.sum(f(x, w)), argnums=(0, 1))(x, w)
    assert gx.dtype == np.float32 and gw.dtype == np.float64
    np.testing.assert_allclose(gx, np.ones((3, 2)) @ w.T, rtol=1e-6)


def test_mixed_dtype_solve():
    A, b = well_conditioned((3, 3)), normal(3).astype(np.float32)
    gA, gb = grad(lambda A, b: np.sum(np.linalg.solve(A, b)), argnums=(0, 1))(A, b)
    assert gA.dtype == np.float64 and gb.dtype == np.float32
    gA, gb = grad(lambda A, b: np.sum(np.linalg.solve(A, b)), argnums=(0, 1))(
        A.astype(np.float32), b.astype(np.float64))
    assert gA.dtype == np.float32 and gb.dtype == np.float64


def test_tensordot_with_a_differentiated_python_float():
    x = normal(3)
    assert grad(lambda s: np.sum(np.tensordot(x, s, axes=0)))(2.0) == pytest.approx(x.sum())
    np.testing.assert_allclose(grad(lambda x: np.sum(np.tensordot(x, 2.0, axes=0)))(x),
                               np.full(3, 2.0))


@pytest.mark.parametrize("f", [
    lambda x, s: np.dot(x, s), lambda x, s: np.dot(s, x), lambda x, s: np.inner(s, x),
    lambda x, s: np.outer(s, x), lambda x, s: np.einsum(",i->i", s, x),
    lambda x, s: np.einsum("i,", x, s), lambda x, s: np.tensordot(s, x, axes=0),
    lambda x, s: np.vdot(s, x[:1]), lambda x, s: x.dot(s)])
@pytest.mark.parametrize("scalar", [2.0, np.float64(2.0), np.array(2.0)])
def test_python_floats_and_0d_arrays_as_product_operands(f, scalar):
    x = normal(3)
    expected = grad(lambda x, s: np.sum(f(x, s) * np.cos(x[0])), argnums=(0, 1))(x, 2.0)
    got = grad(lambda x, s: np.sum(f(x, s) * np.cos(x[0])), argnums=(0, 1))(x, scalar)
    np.testing.assert_allclose(got[0], expected[0])
    np.testing.assert_allclose(got[1], expected[1])
    assert np.shape(got[1]) == ()
    check_grads(lambda x: f(x, scalar), [x])


@pytest.mark.parametrize("f", [
    lambda x, s: np.dot(x, s), lambda x, s: np.dot(s, x), lambda x, s: np.inner(s, x),
    lambda x, s: np.outer(s, x), lambda x, s: np.tensordot(s, x, axes=0),
    lambda x, s: x.dot(s)])
def test_a_python_float_operand_promotes_like_numpy(f):
    """dot/inner convert a Python number to a float64 array (not a weak scalar)."""
    x = normal(3).astype(np.float32)
    out, vjp_fn = vjpnet.vjp(f, x, 0.42)
    assert out.dtype == f(x, 0.42).dtype
    assert vjp_fn(np.ones_like(out))[0].dtype == np.float32


def test_matmul_with_a_scalar_raises_numpys_error():
    with pytest.raises(ValueError, match="matmul: Input operand 1 does not have enough"):
        grad(lambda x: np.sum(x @ 2.0))(normal(3))
    with pytest.raises(ValueError, match="matmul"):
        grad(lambda s: np.sum(np.ones(3) @ s))(2.0)


@pytest.mark.parametrize("f", [
    lambda x: x @ [[1.0], [2.0], [3.0]], lambda x: np.dot([1.0, 2.0], x[:2]),
    lambda x: np.tensordot(x, [1.0, 2.0], axes=0), lambda x: np.outer([1.0, 2.0], x),
    lambda x: np.einsum("i,j", x, [1.0, 2.0]), lambda x: np.linalg.solve(
        [[2.0, 0.5, 0.0], [0.1, 3.0, 0.0], [0.0, 0.0, 1.0]], x)])
def test_python_lists_as_the_other_operand(f):
    check_grads(f, [normal(3)])


def test_vdot_rejects_different_sizes_like_numpy():
    with pytest.raises(ValueError, match=r"numpy\.vdot.*same number of elements"):
        grad(lambda x: np.vdot(x, np.ones(2)))(normal(3))
    check_grads(lambda a, b: np.vdot(a, b), [normal(2, 3), normal(3, 2)])


@pytest.mark.parametrize("shape,axis", [((0,), None), ((0, 3), 0), ((2, 0), 1)])
def test_inf_norm_of_an_empty_vector_is_zero_like_numpy(shape, axis):
    x = np.zeros(shape)
    out, vjp_fn = vjpnet.vjp(lambda x: np.linalg.norm(x, ord=np.inf, axis=axis), x)
    np.testing.assert_array_equal(out, np.linalg.norm(x, ord=np.inf, axis=axis))
    assert vjp_fn(np.ones_like(out))[0].shape == shape


@pytest.mark.parametrize("call", [
    lambda x: np.linalg.vector_norm(x, axis=0), lambda x: np.linalg.vector_norm(x, axis=-1),
    lambda x: np.linalg.vector_norm(x, axis=(0,), keepdims=True),
    lambda x: np.linalg.vector_norm(x, ord=np.inf, axis=(1, 0)),
    lambda x: np.linalg.vector_norm(x, ord=3), lambda x: np.linalg.vector_norm(x, keepdims=True),
    lambda x: np.linalg.matrix_norm(x, ord=1), lambda x: np.linalg.matrix_norm(x, ord=np.inf),
    lambda x: np.linalg.norm(x, 1, axis=(1, 0), keepdims=True),
    lambda x: np.linalg.matrix_norm(x, ord=-1)])   # NumPy raises (a min of nothing): so do we
@pytest.mark.parametrize("shape", [(1, 0), (0, 3), (0, 0), (2, 3)])
def test_vector_and_matrix_norms_of_arrays_with_empty_axes_as_numpy(call, shape):
    x = np.arange(float(np.prod(shape))).reshape(shape) - 2.5
    try:
        expected = call(x)
    except ValueError as error:
        with pytest.raises(type(error)):
            vjpnet.vjp(call, x)
        return
    out, vjp_fn = vjpnet.vjp(call, x)
    assert out.shape == np.shape(expected) and out.dtype == expected.dtype
    np.testing.assert_allclose(out, expected)
    assert vjp_fn(np.ones(out.shape))[0].shape == shape


def test_vector_norm_and_vecdot_axes_as_numpy():
    x = normal(2, 3)
    for axis, error in [(2, np.exceptions.AxisError), ((0, 0), ValueError),
                        ((0, 5), np.exceptions.AxisError)]:
        with pytest.raises(error):
            np.linalg.vector_norm(x, axis=axis)
        with pytest.raises(error):
            vjpnet.vjp(lambda x: np.linalg.vector_norm(x, axis=axis), x)
    check_grads(lambda x: np.linalg.vector_norm(x, axis=(-1, 0), ord=3), [x], order=2)
    # linalg.vecdot is the gufunc with axis=: the reduced axes must have one length
    for a, b, axis in [(normal(3, 4), normal(3, 1), -1), (normal(3, 4), normal(4), 0)]:
        with pytest.raises(ValueError):
            np.linalg.vecdot(a, b, axis=axis)
        with pytest.raises(ValueError):
            vjpnet.vjp(lambda a, b: np.linalg.vecdot(a, b, axis=axis), a, b)
    a, b = normal(4, 3), normal(4, 1)
    f = lambda a, b: np.linalg.vecdot(a, b, axis=0)   # noqa: E731
    np.testing.assert_allclose(vjpnet.vjp(f, a, b)[0], f(a, b))
    check_grads(f, [a, b], order=2)


def test_det_at_a_singular_matrix_raises_a_clear_error():
    with pytest.raises(ValueError, match=r"linalg\.det at a singular matrix"):
        grad(np.linalg.det)(np.ones((2, 2)))


def test_norm_has_zero_gradient_where_it_is_zero():
    zero = np.zeros((2, 3))
    for ord_ in (None, 1, 2, 3, 0.5, -1, -2.5, np.inf, -np.inf):
        g = grad(lambda x: np.sum(np.linalg.norm(x, ord_, axis=1)))(zero)
        assert np.all(np.isfinite(g)) and not np.any(g), ord_
    for ord_ in (None, "fro", 1, -1, np.inf, -np.inf, "nuc", 2, -2):
        g = grad(lambda x: np.linalg.norm(x, ord_))(zero)
        assert np.all(np.isfinite(g)) and not np.any(g), ord_
    # one zero element: p-norms with p > 1 are smooth there, p < 0 norms are 0 with gradient 0
    x = np.array([[0.0, 1.0, -2.0]])
    check_grads(lambda x: np.linalg.norm(x, 3, axis=1), [x])
    assert not np.any(grad(lambda x: np.sum(np.linalg.norm(x, -1, axis=1)))(x))


@pytest.mark.parametrize("call,error,match", [
    (lambda x: np.linalg.norm(x, "fro", axis=1), ValueError, "invalid norm order 'fro' for vec"),
    (lambda x: np.linalg.norm(x, 3), ValueError, "invalid norm order 3 for matrices"),
    (lambda x: np.linalg.norm(x, axis=(0, 0)), ValueError, "duplicate axes"),
    (lambda x: np.linalg.norm(x[None], 1), ValueError, "improper number of dimensions"),
    (lambda x: np.linalg.norm(x, axis=2), ValueError, "axis 2 is out of bounds"),
])
def test_norm_errors(call, error, match):
    with pytest.raises(error, match=match):
        grad(lambda x: np.sum(call(x)))(normal(3, 4))
    if error is ValueError:   # NumPy rejects it too
        with pytest.raises(ValueError):
            call(normal(3, 4))


# --- brute-force cross-checks -----------------------------------------------------------------

def _matmul_operands():
    n, k, m = 2, 3, 4
    a_forms = [(k,)] + [batch + (n, k) for batch in BATCHES]
    b_forms = [(k,)] + [batch + (k, m) for batch in BATCHES]
    for a_shape, b_shape in itertools.product(a_forms, b_forms):
        if broadcastable(a_shape[:-2], b_shape[:-2]):
            yield a_shape, b_shape


@pytest.mark.parametrize("a_shape,b_shape", list(_matmul_operands()))
def test_matmul_batching_and_broadcasting(a_shape, b_shape):
    check_against_numpy(lambda a, b: a @ b, [normal(*a_shape), normal(*b_shape)],
                        second_order=len(a_shape) + len(b_shape) <= 5)


def _dot_operands():
    k = 3
    a_forms = [(), (k,), (2, k), (3, 2, k)]
    b_forms = [(), (k,), (k, 4), (2, k, 4), (1, 2, k, 2)]
    return list(itertools.product(a_forms, b_forms))


@pytest.mark.parametrize("a_shape,b_shape", _dot_operands())
def test_dot_inner_outer_vdot_shapes(a_shape, b_shape):
    a, b = normal(*a_shape), normal(*b_shape)
    check_against_numpy(lambda a, b: np.dot(a, b), [a, b])
    check_against_numpy(lambda a, b: np.outer(a, b), [a, b])
    if not b_shape or not a_shape or b_shape[-1] == a_shape[-1]:
        check_against_numpy(lambda a, b: np.inner(a, b), [a, b])
    else:
        b_last = normal(*b_shape[:-1], a_shape[-1])
        check_against_numpy(lambda a, b: np.inner(a, b), [a, b_last])
    if a.size == b.size:
        check_against_numpy(lambda a, b: np.vdot(a, b), [a, b])


def _tensordot_cases():
    rng = np.random.default_rng(3)
    sizes = [2, 3, 4, 1]
    cases = []
    for _ in range(40):
        a_ndim, b_ndim = rng.integers(0, 4, size=2)
        count = int(rng.integers(0, min(a_ndim, b_ndim) + 1))
        axes_a = rng.permutation(a_ndim)[:count].tolist()
        axes_b = rng.permutation(b_ndim)[:count].tolist()
        a_shape = [int(rng.choice(sizes)) for _ in range(a_ndim)]
        b_shape = [int(rng.choice(sizes)) for _ in range(b_ndim)]
        for i, j in zip(axes_a, axes_b):
            b_shape[j] = a_shape[i]
        axes_a = [axis - a_ndim if rng.random() < 0.3 else axis for axis in axes_a]
        if rng.random() < 0.3 and axes_a == list(range(a_ndim - count, a_ndim)) and \
                axes_b == list(range(count)):
            axes = count
        else:
            axes = (axes_a, axes_b)
        cases.append((tuple(a_shape), tuple(b_shape), axes))
    return cases


@pytest.mark.parametrize("a_shape,b_shape,axes", _tensordot_cases())
def test_tensordot_random_axes(a_shape, b_shape, axes):
    check_against_numpy(lambda a, b: np.tensordot(a, b, axes=axes),
                        [normal(*a_shape), normal(*b_shape)])


def _solve_operands():
    n, k = 3, 2
    for a_batch in BATCHES:
        yield a_batch + (n, n), (n,)
        for b_batch in BATCHES:
            if broadcastable(a_batch, b_batch):
                yield a_batch + (n, n), b_batch + (n, k)


@pytest.mark.parametrize("a_shape,b_shape", list(_solve_operands()))
def test_solve_batching_and_broadcasting(a_shape, b_shape):
    check_against_numpy(lambda a, b: np.linalg.solve(a, b),
                        [well_conditioned(a_shape), normal(*b_shape)],
                        second_order=len(a_shape) + len(b_shape) <= 4)


@pytest.mark.parametrize("batch", BATCHES)
def test_inv_and_det_batches(batch):
    a = well_conditioned(batch + (3, 3))
    check_against_numpy(lambda a: np.linalg.inv(a), [a], second_order=len(batch) < 2)
    check_against_numpy(lambda a: np.linalg.det(a), [a], second_order=len(batch) < 2)
    check_against_numpy(lambda a: np.linalg.det(np.linalg.inv(a) @ np.swapaxes(a, -1, -2) + a),
                        [a])


def _distinct(*shape):
    """Random magnitudes away from 0: no ties of max-based norms (of elements or of their
    sums) within the finite-difference step, no kink of abs."""
    return RNG.uniform(0.3, 2.0, shape) * RNG.choice([-1.0, 1.0], shape)


def _norm_cases():
    vector_ords = [None, 1, 2, 3, 0.5, -1, -2.5, np.inf, -np.inf]
    matrix_ords = [None, "fro", 1, -1, np.inf, -np.inf, "nuc", 2, -2]
    for shape in [(4,), (3, 4), (2, 3, 4)]:
        ndim = len(shape)
        for keepdims in (False, True):
            yield shape, None, None, keepdims
            if ndim == 1:
                for ord_ in vector_ords:
                    yield shape, ord_, None, keepdims
            if ndim == 2:
                for ord_ in matrix_ords:
                    yield shape, ord_, None, keepdims
            for axis in range(-ndim, ndim):
                for ord_ in vector_ords:
                    yield shape, ord_, axis, keepdims
            for axes in itertools.permutations(range(ndim), 2):
                for ord_ in matrix_ords:
                    yield shape, ord_, axes, keepdims


@pytest.mark.parametrize("shape,ord_,axis,keepdims", list(_norm_cases()))
def test_norm_ord_axis_keepdims(shape, ord_, axis, keepdims):
    check_against_numpy(lambda x: np.linalg.norm(x, ord_, axis, keepdims), [_distinct(*shape)])


def test_norm_ord_0_counts_non_zeros_without_gradient():
    x = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]])
    out, vjp_fn = vjpnet.vjp(lambda x: np.linalg.norm(x, 0, axis=1) + np.sum(x, axis=1), x)
    np.testing.assert_array_equal(out, [2.0 - 0.5, 1.0 + 3.0])
    np.testing.assert_array_equal(vjp_fn(np.ones(2))[0], np.ones_like(x))


# --- einsum -----------------------------------------------------------------------------------

def _random_einsum(rng):
    """A random valid einsum: (subscripts, operand shapes, sublist form or None)."""
    letters = "abcdef"
    sizes = dict(zip(letters, rng.integers(1, 4, size=len(letters)).tolist()))
    count = int(rng.integers(1, 4))
    ellipsis_ndim = int(rng.integers(0, 3)) if rng.random() < 0.4 else None
    ellipsis_shape = tuple(rng.integers(1, 4, size=ellipsis_ndim or 0).tolist())
    inputs, shapes = [], []
    for _ in range(count):
        labels = list(rng.choice(list(letters), size=int(rng.integers(0, 4))))
        if labels and rng.random() < 0.15:
            labels.append(labels[0])   # a diagonal
        shape = [sizes[c] for c in labels]
        shape = [1 if rng.random() < 0.15 else size for size in shape]   # broadcast size 1
        for first, label in enumerate(labels):   # a repeated label keeps one size
            for again in range(first + 1, len(labels)):
                if labels[again] == label:
                    shape[again] = shape[first]
        text = "".join(labels)
        if ellipsis_ndim is not None and rng.random() < 0.8:
            mine = int(rng.integers(0, ellipsis_ndim + 1))
            dims = [1 if rng.random() < 0.3 else s for s in ellipsis_shape[ellipsis_ndim - mine:]]
            at = int(rng.integers(0, len(labels) + 1))
            text = text[:at] + "..." + text[at:]
            shape = shape[:at] + dims + shape[at:]
        inputs.append(text)
        shapes.append(tuple(shape))
    used = sorted(set("".join(inputs).replace(".", "")))
    has_ellipsis = any("..." in text for text in inputs)
    if rng.random() < 0.3:
        subscripts = ",".join(inputs)
        output = None
    else:
        output = "".join(rng.permutation(used)[:int(rng.integers(0, len(used) + 1))]) \
            if used else ""
        if has_ellipsis:
            at = int(rng.integers(0, len(output) + 1))
            output = output[:at] + "..." + output[at:]
        subscripts = ",".join(inputs) + "->" + output
    return subscripts, shapes


def _sublists(subscripts):
    """'ab...,b->a' -> ([[0, 1, Ellipsis], [1]], [0])."""
    def convert(text):
        items, rest = [], text
        while rest:
            if rest.startswith("..."):
                items.append(Ellipsis)
                rest = rest[3:]
            else:
                items.append("abcdef".index(rest[0]))
                rest = rest[1:]
        return items
    inputs, arrow, output = subscripts.partition("->")
    return [convert(text) for text in inputs.split(",")], (convert(output) if arrow else None)


def _einsum_cases(count, seed):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        subscripts, shapes = _random_einsum(rng)
        try:
            np.einsum(subscripts, *[np.ones(shape) for shape in shapes])
        except ValueError:
            continue   # e.g. labels whose sizes do not broadcast
        cases.append((subscripts, shapes))
    return cases


@pytest.mark.parametrize("subscripts,shapes", _einsum_cases(120, seed=5))
def test_einsum_random_subscripts(subscripts, shapes):
    operands = [normal(*shape) for shape in shapes]
    check_against_numpy(lambda *ops: np.einsum(subscripts, *ops), operands,
                        second_order=len(operands) == 1)
    sublists, output = _sublists(subscripts)
    interleaved = [item for pair in zip(range(len(operands)), sublists) for item in pair]

    def interleaved_form(*ops):
        args = [ops[item] if i % 2 == 0 else item for i, item in enumerate(interleaved)]
        return np.einsum(*args, *([] if output is None else [output]))
    check_against_numpy(interleaved_form, operands)


@pytest.mark.parametrize("call", [
    lambda x: np.einsum("ij", x), lambda x: np.einsum("ji", x), lambda x: np.einsum("...", x),
    lambda x: np.einsum("i...->...", x), lambda x: np.einsum("...j,j", x, x[0]),
    lambda x: np.einsum("Ba", x), lambda x: np.einsum(x, [1, 0]),
    lambda x: np.einsum(x, [0, Ellipsis], x, [0, Ellipsis], [Ellipsis]),
    lambda x: np.einsum("ij,kj->ik", x, x, optimize=True),
    lambda x: np.einsum("ij,jk,kl", x, x.T, x, optimize="greedy"),
    lambda x: np.einsum("ij,kj->ik", x, x, optimize=["einsum_path", (0, 1)]),
])
def test_einsum_forms(call):
    check_against_numpy(call, [normal(3, 4)], second_order=True)


@pytest.mark.parametrize("call,match", [
    (lambda x: np.einsum("...i->i", x), "no '...' ellipsis"),
    (lambda x: np.einsum("i", x), "operand 0 has 2 axes"),
    (lambda x: np.einsum("ij,jk", x), "name 2 operands, got 1"),
    (lambda x: np.einsum("i.j", x), r"invalid subscripts"),
    (lambda x: np.einsum("i1", x), "invalid subscript '1'"),
    (lambda x: np.einsum(x, [0, 60]), r"not in \[0, 52\)"),
    (lambda x: np.einsum("ij->ii", x), "multiple times"),
    (lambda x: np.einsum("ij->k", x), "never appeared"),
])
def test_einsum_errors(call, match):
    with pytest.raises(ValueError, match=match):
        grad(lambda x: np.sum(call(x)))(normal(3, 4))
