"""vjpnet_fast against the naive layers: hypothesis property tests over shapes, strides, pads,
dtypes and memory layouts; the pooling tie and NaN rule bit for bit; thread-count
independence; buffer reuse between calls; and every bad input raising a clear error."""
import itertools
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

vjpnet_fast = pytest.importorskip("vjpnet_fast", reason="vjpnet_fast is not built")

from vjpnet.layers import (conv_backward_naive, conv_forward_naive,  # noqa: E402
                           max_pool_backward_naive, max_pool_forward_naive)
from vjpnet_fast import (conv_backward_fast, conv_forward_fast,  # noqa: E402
                         max_pool_backward_fast, max_pool_forward_fast)

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
LAYOUTS = ("C", "F", "strided", "transposed")


def with_layout(array, layout):
    """The same values in another memory layout: Fortran order, a strided view, or a view
    of a transposed buffer."""
    if layout == "F":
        return np.asfortranarray(array)
    if layout == "strided":
        buffer = np.zeros(tuple(2 * n for n in array.shape), array.dtype)
        view = buffer[tuple(slice(None, None, 2) for _ in array.shape)]
        view[...] = array
        return view
    if layout == "transposed":
        return np.ascontiguousarray(array.T).T
    return np.ascontiguousarray(array)


def relative_error(fast, naive):
    scale = max(1.0, float(np.max(np.abs(naive), initial=0.0)))
    return float(np.max(np.abs(fast - naive), initial=0.0)) / scale


TOLERANCE = {np.float64: 1e-12, np.float32: 2e-5}


@st.composite
def conv_problems(draw):
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    HH, WW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    H_out, W_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    H, W = (H_out - 1) * stride + HH - 2 * pad, (W_out - 1) * stride + WW - 2 * pad
    assume(H >= 1 and W >= 1)
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    layouts = [draw(st.sampled_from(LAYOUTS)) for _ in range(4)]
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return (N, C, H, W, F, HH, WW, stride, pad, H_out, W_out), dtype, layouts, seed


@SETTINGS
@given(conv_problems())
def test_conv_matches_naive(problem):
    (N, C, H, W, F, HH, WW, stride, pad, H_out, W_out), dtype, layouts, seed = problem
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, HH, WW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    dout = rng.standard_normal((N, F, H_out, W_out)).astype(dtype)
    conv_param = {"stride": stride, "pad": pad}
    out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
    grads_naive = conv_backward_naive(dout, cache_naive)
    x_l, w_l, b_l, dout_l = (with_layout(a, layout)
                             for a, layout in zip((x, w, b, dout), layouts))
    out, cache = conv_forward_fast(x_l, w_l, b_l, conv_param)
    grads = conv_backward_fast(dout_l, cache)
    assert out.shape == (N, F, H_out, W_out) and out.dtype == dtype
    assert relative_error(out, out_naive) < TOLERANCE[dtype]
    for name, fast, naive, original in zip("dx dw db".split(), grads, grads_naive, (x, w, b)):
        assert fast.shape == original.shape and fast.dtype == dtype, name
        assert relative_error(fast, naive) < TOLERANCE[dtype], name
    # the inputs are left untouched
    np.testing.assert_array_equal(x_l, x)
    np.testing.assert_array_equal(w_l, w)


@st.composite
def pool_problems(draw):
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    PH, PW, stride = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    H_out, W_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    extra_h, extra_w = draw(st.integers(0, 1)), draw(st.integers(0, 1))  # uncovered border
    H = (H_out - 1) * stride + PH + (extra_h * stride if stride > 1 else 0)
    W = (W_out - 1) * stride + PW + (extra_w * stride if stride > 1 else 0)
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    layouts = [draw(st.sampled_from(LAYOUTS)) for _ in range(2)]
    levels = draw(st.sampled_from([2, 3, 1000]))          # few levels: many ties
    seed = draw(st.integers(0, 2 ** 32 - 1))
    return (N, C, H, W, PH, PW, stride), dtype, layouts, levels, seed


@SETTINGS
@given(pool_problems())
def test_pool_matches_naive_exactly(problem):
    (N, C, H, W, PH, PW, stride), dtype, layouts, levels, seed = problem
    rng = np.random.default_rng(seed)
    x = rng.integers(-levels, levels, size=(N, C, H, W)).astype(dtype)
    pool_param = {"pool_height": PH, "pool_width": PW, "stride": stride}
    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    dout = rng.standard_normal(out_naive.shape).astype(dtype)
    dx_naive = max_pool_backward_naive(dout, cache_naive)
    out, cache = max_pool_forward_fast(with_layout(x, layouts[0]), pool_param)
    dx = max_pool_backward_fast(with_layout(dout, layouts[1]), cache)
    assert out.dtype == dtype and dx.dtype == dtype
    np.testing.assert_array_equal(out, out_naive)
    np.testing.assert_array_equal(dx, dx_naive)
    assert np.array_equal(np.signbit(dx), np.signbit(dx_naive))      # bit for bit, even -0.0


def test_pool_ties_go_to_first_maximum_in_row_major_order():
    x = np.array([[[[1., 3., 3., 0.],
                    [3., 2., 0., 0.],
                    [5., 5., 7., 7.],
                    [5., 5., 7., 7.]]]])
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = max_pool_forward_fast(x, pool_param)
    dx = max_pool_backward_fast(np.ones_like(out), cache)
    np.testing.assert_array_equal(out, [[[[3., 3.], [5., 7.]]]])
    np.testing.assert_array_equal(dx, [[[[0., 1., 1., 0.],
                                         [0., 0., 0., 0.],
                                         [1., 0., 1., 0.],
                                         [0., 0., 0., 0.]]]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("pool_param", [{"pool_height": 2, "pool_width": 2, "stride": 2},
                                        {"pool_height": 3, "pool_width": 2, "stride": 1}])
def test_pool_nan_propagates_like_np_argmax(dtype, pool_param):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 2, 6, 6)).astype(dtype)
    x[0, 0, 1, 1] = x[1, 1, 4, 5] = x[1, 1, 5, 4] = np.nan
    out_naive, cache_naive = max_pool_forward_naive(x, pool_param)
    out, cache = max_pool_forward_fast(x, pool_param)
    np.testing.assert_array_equal(out, out_naive)            # NaN == NaN for this assert
    assert np.isnan(out).any()
    dout = rng.standard_normal(out.shape).astype(dtype)
    np.testing.assert_array_equal(max_pool_backward_fast(dout, cache),
                                  max_pool_backward_naive(dout, cache_naive))


def test_results_do_not_depend_on_the_thread_count():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 3, 9, 9))
    w, b = rng.standard_normal((5, 3, 3, 3)), rng.standard_normal(5)
    conv_param = {"stride": 1, "pad": 1}
    pool_param = {"pool_height": 3, "pool_width": 3, "stride": 2}
    results = []
    try:
        for threads in (1, 2):
            vjpnet_fast.set_num_threads(threads)
            out, cache = conv_forward_fast(x, w, b, conv_param)
            grads = conv_backward_fast(np.ones_like(out), cache)
            pooled, pool_cache = max_pool_forward_fast(x, pool_param)
            dx_pool = max_pool_backward_fast(np.ones_like(pooled), pool_cache)
            results.append((out, *grads, pooled, dx_pool))
    finally:
        vjpnet_fast.set_num_threads(1)
    for first, second in zip(*results):
        np.testing.assert_array_equal(first, second)
    # the low-level conv kernels too (the conv layer itself always runs them on one thread)
    from vjpnet_fast import col2im, im2col
    columns = [np.empty((27, 4 * 25)) for _ in range(2)]
    folded = [np.empty_like(x) for _ in range(2)]
    for threads in (1, 2):
        im2col(x, 3, 3, 2, 1, 5, 5, columns[threads - 1], threads)
        col2im(columns[0], 3, 3, 2, 1, 5, 5, folded[threads - 1], threads)
    np.testing.assert_array_equal(columns[0], columns[1])
    np.testing.assert_array_equal(folded[0], folded[1])


def test_workspace_reuse_keeps_caches_independent():
    """Two forwards of one shape before their backwards: scratch buffers are shared, caches
    are not."""
    rng = np.random.default_rng(3)
    conv_param = {"stride": 1, "pad": 1}
    w, b = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal(4)
    x1, x2 = rng.standard_normal((3, 2, 6, 6)), rng.standard_normal((3, 2, 6, 6))
    out1, cache1 = conv_forward_fast(x1, w, b, conv_param)
    out2, cache2 = conv_forward_fast(x2, w, b, conv_param)
    dout = rng.standard_normal(out1.shape)
    for x, out, cache in ((x1, out1, cache1), (x2, out2, cache2)):
        out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
        assert relative_error(out, out_naive) < 1e-12
        for fast, naive in zip(conv_backward_fast(dout, cache),
                               conv_backward_naive(dout, cache_naive)):
            assert relative_error(fast, naive) < 1e-12


@pytest.mark.parametrize("keep_bytes", [0, 1 << 30])
def test_chunked_path_matches_single_chunk(monkeypatch, keep_bytes):
    """Many images per GEMM chunk and one image per chunk give the same answer, with the
    column matrices kept in the cache or rebuilt in the backward pass; a cache can be used
    for several backward calls."""
    import vjpnet_fast.conv as conv_module
    rng = np.random.default_rng(4)
    x, w, b = (rng.standard_normal((7, 3, 9, 9)), rng.standard_normal((4, 3, 3, 3)),
               rng.standard_normal(4))
    monkeypatch.setattr(conv_module, "PER_IMAGE", False)
    monkeypatch.setattr(conv_module, "KEEP_COLUMNS_BYTES", keep_bytes)
    results = []
    for chunk_bytes in (1, 1 << 30, 28 * 25 * 8 * 3):             # 1 image, all, 3 images
        monkeypatch.setattr(conv_module, "CHUNK_BYTES", chunk_bytes)
        out, cache = conv_forward_fast(x, w, b, {"stride": 2, "pad": 1})
        results.append((out, *conv_backward_fast(np.ones_like(out), cache)))
        results.append((out, *conv_backward_fast(np.ones_like(out), cache)))
    for other in results[1:]:
        for first, second in zip(results[0], other):
            assert relative_error(first, second) < 1e-13
    out_naive, cache_naive = conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    for fast, naive in zip(results[0], (out_naive, *conv_backward_naive(
            np.ones_like(out_naive), cache_naive))):
        assert relative_error(fast, naive) < 1e-12


@pytest.mark.parametrize("per_image", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape, stride, pad", [
    ((5, 3, 11, 11, 4, 3, 3), 2, 1), ((3, 4, 8, 8, 6, 3, 3), 1, 1),
    ((2, 2, 7, 9, 3, 2, 4), 1, 0), ((4, 1, 10, 10, 2, 5, 5), 3, 2), ((1, 3, 4, 4, 2, 1, 1), 1, 0),
])
def test_both_conv_paths_match_naive(monkeypatch, per_image, dtype, shape, stride, pad):
    """The per-image BLAS path and the chunked NumPy-matmul fallback (used when NumPy's BLAS
    cannot be found) agree with the naive layers."""
    import vjpnet_fast.conv as conv_module
    if per_image and not conv_module.PER_IMAGE:
        pytest.skip("NumPy's OpenBLAS GEMMs were not found: no per-image path here")
    monkeypatch.setattr(conv_module, "PER_IMAGE", per_image)
    N, C, H, W, F, HH, WW = shape
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((F, C, HH, WW)).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    conv_param = {"stride": stride, "pad": pad}
    out_naive, cache_naive = conv_forward_naive(x, w, b, conv_param)
    dout = rng.standard_normal(out_naive.shape).astype(dtype)
    out, cache = conv_forward_fast(x, w, b, conv_param)
    assert cache.per_image == per_image
    assert relative_error(out, out_naive) < TOLERANCE[dtype]
    full = conv_backward_fast(dout, cache)
    for fast, naive in zip(full, conv_backward_naive(dout, cache_naive)):
        assert fast.dtype == dtype and relative_error(fast, naive) < TOLERANCE[dtype]
    # asked for some of dx, dw, db only: the same bits for those, None for the others
    for needed in itertools.product((False, True), repeat=3):
        for some, all_, wanted, naive in zip(conv_backward_fast(dout, cache, needed), full,
                                             needed, conv_backward_naive(dout, cache_naive,
                                                                         needed)):
            if wanted:
                np.testing.assert_array_equal(some, all_)
                assert naive is not None
            else:
                assert some is None and naive is None


def test_per_image_conv_does_not_depend_on_the_thread_count(monkeypatch):
    """The per-image kernels give bit-identical results on 1, 2 and 3 OpenMP threads (each
    image is one thread's work; dw is summed per image in image order)."""
    import vjpnet_fast.conv as conv_module
    if not conv_module.PER_IMAGE:
        pytest.skip("NumPy's OpenBLAS GEMMs were not found: no per-image path here")
    rng = np.random.default_rng(8)
    x = rng.standard_normal((9, 3, 10, 10))
    w, b = rng.standard_normal((5, 3, 3, 3)), rng.standard_normal(5)
    dout = rng.standard_normal((9, 5, 10, 10))
    results = []
    import contextlib
    for threads in (1, 2, 3):
        @contextlib.contextmanager
        def team(images, threads=threads):
            with conv_module.blas.gemm_team(enabled=threads > 1):
                yield threads
        monkeypatch.setattr(conv_module, "conv_team", team)
        out, cache = conv_forward_fast(x, w, b, {"stride": 1, "pad": 1})
        results.append((out, *conv_backward_fast(dout, cache)))
    for other in results[1:]:
        for first, second in zip(results[0], other):
            np.testing.assert_array_equal(first, second)


def test_per_image_kernels_check_their_buffers():
    from vjpnet_fast._conv_images import conv_backward_images, conv_forward_images
    import vjpnet_fast.conv as conv_module
    if not conv_module.PER_IMAGE:
        pytest.skip("NumPy's OpenBLAS GEMMs were not found: no per-image path here")
    x, w_mat, b = np.ones((2, 3, 6, 6)), np.ones((4, 27)), np.ones(4)
    out, scratch = np.empty((2, 4, 36)), np.empty(2 * 27 * 36)

    def progress():
        return np.zeros(2, np.longlong)
    conv_forward_images(x, w_mat, b, out, scratch, progress(), True, 3, 3, 1, 1)
    assert (out == 28).any()
    dw_images, db_images = np.empty((2, 27, 4)), np.empty((2, 4))
    forward, backward = conv_forward_images, conv_backward_images
    bad_calls = [
        (forward, (x, w_mat, b, np.empty((2, 4, 35)), scratch, progress()), "out"),
        (forward, (x, np.ones((4, 26)), b, out, scratch, progress()), "w_mat"),
        (forward, (x, w_mat, b[:3], out, scratch, progress()), "b"),
        (forward, (x, w_mat, b, out, scratch[:27 * 36 - 1], progress()), "scratch"),
        (forward, (x, w_mat, b, out, scratch, progress()[:1]), "progress"),
        (backward, (x, w_mat, out, np.empty((2, 3, 6, 5)), dw_images, db_images, scratch,
                    progress()), "dx"),
        (backward, (x, w_mat, out, np.empty_like(x), np.empty((2, 4, 27)), db_images, scratch,
                    progress()), "dw_images"),
        (backward, (x, w_mat, out, np.empty_like(x), dw_images, np.empty((2, 3)), scratch,
                    progress()), "db_images"),
        (backward, (x, w_mat, out, np.empty_like(x), dw_images, db_images,
                    scratch[:2 * 27 * 36 - 1], progress()), "scratch"),
    ]
    for function, args, message in bad_calls:
        with pytest.raises(ValueError, match=message):
            function(*args, True, 3, 3, 1, 1)
    with pytest.raises(ValueError, match="filter"):
        forward(x, w_mat, b, out, scratch, progress(), True, 9, 9, 1, 1)


def test_per_image_kernels_share_work_through_the_counters():
    """Two threads' calls with shared counters do every image once; a late helper (all images
    claimed already) touches nothing."""
    from vjpnet_fast._conv_images import conv_forward_images
    import vjpnet_fast.conv as conv_module
    if not conv_module.PER_IMAGE:
        pytest.skip("NumPy's OpenBLAS GEMMs were not found: no per-image path here")
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((6, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3)), np.zeros(3)
    expected = conv_forward_naive(x, w, b, {"stride": 1, "pad": 1})[0].reshape(6, 3, 25)
    out, progress = np.full((6, 3, 25), np.nan), np.zeros(2, np.longlong)
    conv_forward_images(x, w.reshape(3, 18), b, out, np.empty(18 * 25), progress, True,
                        3, 3, 1, 1)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert list(progress) == [7, 6]                  # 6 images + the claim that found none
    untouched = np.full((6, 3, 25), np.nan)
    conv_forward_images(x, w.reshape(3, 18), b, untouched, np.empty(18 * 25), progress, False,
                        3, 3, 1, 1)
    assert np.isnan(untouched).all()


def test_team_runs_every_slot():
    import threading
    from vjpnet_fast.team import Team
    team = Team()
    seen, done = [], threading.Barrier(3, timeout=10)

    def task(slot):
        seen.append(slot)
        done.wait()
    team.run(task, 3)
    assert sorted(seen) == [0, 1, 2]

    def fail(slot):
        raise RuntimeError(f"slot {slot} failed")
    with pytest.raises(RuntimeError, match="slot 0 failed"):    # task(0)'s error is raised
        team.run(fail, 2)


def test_concurrent_threads_get_correct_results():
    rng = np.random.default_rng(5)
    conv_param = {"stride": 1, "pad": 1}
    problems = [(rng.standard_normal((4, 3, 10, 10)), rng.standard_normal((6, 3, 3, 3)),
                 rng.standard_normal(6)) for _ in range(4)]
    expected = [conv_forward_naive(*problem, conv_param)[0] for problem in problems]
    errors = []

    def work(index):
        for _ in range(20):
            out, cache = conv_forward_fast(*problems[index], conv_param)
            conv_backward_fast(np.ones_like(out), cache)
            errors.append(relative_error(out, expected[index]))

    from vjpnet_fast import blas
    blas_threads = blas._get_num_threads() if blas._get_num_threads else None
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 80 and max(errors) < 1e-12
    # the per-image kernels' OpenBLAS thread count is restored once every call has left
    assert (blas._get_num_threads() if blas._get_num_threads else None) == blas_threads


def test_empty_batch():
    out, cache = conv_forward_fast(np.zeros((0, 2, 5, 5)), np.ones((3, 2, 3, 3)), np.ones(3),
                                   {"stride": 1, "pad": 1})
    assert out.shape == (0, 3, 5, 5)
    dx, dw, db = conv_backward_fast(out, cache)
    assert dx.shape == (0, 2, 5, 5) and not dw.any() and not db.any()
    pooled, cache = max_pool_forward_fast(np.zeros((0, 2, 4, 4)),
                                          {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert max_pool_backward_fast(pooled, cache).shape == (0, 2, 4, 4)


def test_large_window_uses_wide_indices():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, 2, 17, 17))
    pool_param = {"pool_height": 17, "pool_width": 17, "stride": 1}      # 289 > 256 elements
    out, cache = max_pool_forward_fast(x, pool_param)
    np.testing.assert_array_equal(out[..., 0, 0], x.max(axis=(2, 3)))
    dx = max_pool_backward_fast(np.ones_like(out), cache)
    np.testing.assert_array_equal(dx, max_pool_backward_naive(
        np.ones_like(out), max_pool_forward_naive(x, pool_param)[1]))


# ---------------------------------------------------------------------------------------------
# Bad inputs: a clear exception naming the function, never a crash.

X, W_, B = np.ones((2, 3, 6, 6)), np.ones((4, 3, 3, 3)), np.ones(4)
CONV_PARAM = {"stride": 1, "pad": 1}
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}


@pytest.mark.parametrize("args, error, message", [
    ((X.astype(np.float32), W_, B, CONV_PARAM), TypeError, "float32.*float64|one float dtype"),
    ((X.astype(np.int64), W_, B, CONV_PARAM), TypeError, "float32 or float64"),
    ((X.astype(np.float16), W_.astype(np.float16), B.astype(np.float16), CONV_PARAM),
     TypeError, "float32 or float64"),
    ((X[0], W_, B, CONV_PARAM), ValueError, "4-D"),
    ((X, W_[:, :2], B, CONV_PARAM), ValueError, "channels"),
    ((X, W_, B[:3], CONV_PARAM), ValueError, r"b must have shape"),
    ((X, W_, B, {"stride": 0, "pad": 1}), ValueError, "stride"),
    ((X, W_, B, {"stride": 1, "pad": -1}), ValueError, "pad"),
    ((X, W_, B, {"stride": 2, "pad": 0}), ValueError, "not divisible by stride"),
    ((X, W_, B, {"stride": 1.5, "pad": 1}), TypeError, "integer"),
    ((X, W_, B, {"pad": 1}), ValueError, "stride"),
    ((X, np.ones((4, 3, 9, 9)), B, {"stride": 1, "pad": 0}), ValueError, "larger"),
    (("not an array", W_, B, CONV_PARAM), TypeError, "x"),
])
def test_conv_forward_rejects_bad_input(args, error, message):
    with pytest.raises(error, match=message) as info:
        conv_forward_fast(*args)
    assert "conv_forward_fast" in str(info.value)


def test_conv_backward_rejects_bad_dout_and_cache():
    out, cache = conv_forward_fast(X, W_, B, CONV_PARAM)
    with pytest.raises(ValueError, match="conv_backward_fast: dout must have"):
        conv_backward_fast(out[:, :2], cache)
    with pytest.raises(TypeError, match="conv_backward_fast: dout.dtype=float32"):
        conv_backward_fast(out.astype(np.float32), cache)
    with pytest.raises(TypeError, match="conv_backward_fast: dout must be float32 or float64"):
        conv_backward_fast(out.astype(np.int32), cache)
    with pytest.raises(TypeError, match="conv_backward_fast: cache must be"):
        conv_backward_fast(out, conv_forward_naive(X, W_, B, CONV_PARAM)[1])
    # the cache of a call with another shape: the shape check names both
    other_out, other_cache = conv_forward_fast(X[:, :, :4, :4], W_, B, CONV_PARAM)
    with pytest.raises(ValueError, match=r"\(2, 4, 4, 4\)"):
        conv_backward_fast(out, other_cache)
    with pytest.raises(TypeError, match="conv_backward_fast: dout must be a NumPy array"):
        conv_backward_fast(None, cache)


@pytest.mark.parametrize("x, pool_param, error, message", [
    (X.astype(np.int32), POOL_PARAM, TypeError, "float32 or float64"),
    (X[0], POOL_PARAM, ValueError, "4-D"),
    (X, {"pool_height": 0, "pool_width": 2, "stride": 2}, ValueError, "pool_height"),
    (X, {"pool_height": 2, "pool_width": 2, "stride": -1}, ValueError, "stride"),
    (X, {"pool_height": 7, "pool_width": 2, "stride": 1}, ValueError, "larger"),
    (X, {"pool_height": 3, "pool_width": 3, "stride": 2}, ValueError, "not divisible"),
    (X, {"pool_height": 2, "pool_width": 2}, ValueError, "stride"),
    (X, "2x2", TypeError, "dict"),
])
def test_pool_forward_rejects_bad_input(x, pool_param, error, message):
    with pytest.raises(error, match=message) as info:
        max_pool_forward_fast(x, pool_param)
    assert "max_pool_forward_fast" in str(info.value)


def test_pool_backward_rejects_bad_dout_and_cache():
    out, cache = max_pool_forward_fast(X, POOL_PARAM)
    with pytest.raises(ValueError, match="max_pool_backward_fast: dout must have"):
        max_pool_backward_fast(out[:1], cache)
    with pytest.raises(TypeError, match="max_pool_backward_fast: dout.dtype=float32"):
        max_pool_backward_fast(out.astype(np.float32), cache)
    with pytest.raises(TypeError, match="max_pool_backward_fast: cache must be"):
        max_pool_backward_fast(out, max_pool_forward_naive(X, POOL_PARAM)[1])
    _, other_cache = max_pool_forward_fast(np.ones((2, 3, 8, 8)), POOL_PARAM)
    with pytest.raises(ValueError, match="dout must have"):
        max_pool_backward_fast(out, other_cache)


def test_low_level_kernels_check_their_buffers():
    """The Cython kernels themselves refuse buffers that do not fit, before any unchecked
    loop runs."""
    from vjpnet_fast import col2im, im2col, max_pool_backward, max_pool_forward
    x = np.ones((2, 3, 6, 6))
    with pytest.raises(ValueError, match="im2col"):
        im2col(x, 3, 3, 1, 1, 6, 6, np.empty((27, 10)))               # too few columns
    with pytest.raises(ValueError, match="im2col"):
        im2col(x, 3, 3, 1, 1, 7, 6, np.empty((27, 2 * 42)))           # wrong output size
    with pytest.raises(ValueError, match="num_threads"):
        im2col(x, 3, 3, 1, 1, 6, 6, np.empty((27, 72)), 0)
    with pytest.raises(ValueError, match="col2im"):
        col2im(np.empty((20, 72)), 3, 3, 1, 1, 6, 6, x)               # too few rows
    with pytest.raises(ValueError):                                    # dtype mismatch
        im2col(x, 3, 3, 1, 1, 6, 6, np.empty((27, 72), np.float32))
    out, index = np.empty((2, 3, 3, 3)), np.empty((2, 3, 3, 3), np.uint8)
    with pytest.raises(ValueError, match="max_pool_forward"):
        max_pool_forward(x, 2, 2, 2, np.empty((2, 3, 2, 3)), index)
    with pytest.raises(ValueError, match="index dtype"):
        max_pool_forward(np.ones((1, 1, 17, 17)), 17, 17, 1, np.empty((1, 1, 1, 1)),
                         np.empty((1, 1, 1, 1), np.uint8))
    with pytest.raises(ValueError, match="max_pool_backward"):
        max_pool_backward(out, index, 2, 2, 2, np.empty((2, 3, 5, 6)))
    index[...] = 0
    index[1, 2, 0, 1] = 4                                             # outside a 2x2 window
    with pytest.raises(ValueError, match=r"argmax offsets must lie in \[0, 4\)"):
        max_pool_backward(out, index, 2, 2, 2, x)
    with pytest.raises(ValueError, match="argmax offsets"):
        max_pool_backward(out, np.full((2, 3, 3, 3), -1, np.int32), 2, 2, 2, x)


def test_missing_extension_message(monkeypatch):
    """Without the compiled modules, importing vjpnet_fast says how to build them."""
    import importlib
    import sys
    saved = {name: module for name, module in sys.modules.items()
             if name == "vjpnet_fast" or name.startswith("vjpnet_fast.")}
    for name in saved:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "vjpnet_fast._im2col", None)     # import of it fails
    try:
        with pytest.raises(ImportError, match=r"pip install -e \.|build_ext --inplace"):
            importlib.import_module("vjpnet_fast")
    finally:
        for name in list(sys.modules):
            if name == "vjpnet_fast" or name.startswith("vjpnet_fast."):
                del sys.modules[name]
        sys.modules.update(saved)


def test_set_num_threads_validates():
    with pytest.raises(ValueError, match="set_num_threads"):
        vjpnet_fast.set_num_threads(0)
    with pytest.raises(ValueError, match="set_num_threads"):
        vjpnet_fast.set_num_threads(True)
    assert vjpnet_fast.get_num_threads() == 1


# --- relu_backward_fast and softmax_loss_fast against the NumPy layers ----------------------

from vjpnet import layers  # noqa: E402
from vjpnet_fast import relu_backward_fast, softmax_loss_fast  # noqa: E402

SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-300, -1e-300, 3.0, -2.5])


def same_bits_up_to_nan_payload(got, want):
    """Equal values, equal signs of zeros, NaN exactly where NaN."""
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    finite = ~np.isnan(want)
    np.testing.assert_array_equal(got[finite], want[finite])
    np.testing.assert_array_equal(np.signbit(got[finite]), np.signbit(want[finite]))


@SETTINGS
@given(st.lists(st.integers(1, 6), min_size=1, max_size=4),
       st.sampled_from([np.float64, np.float32]), st.sampled_from(LAYOUTS),
       st.floats(0, 0.5), st.integers(0, 2 ** 32 - 1))
def test_relu_backward_fast_matches_numpy_bit_for_bit(shape, dtype, layout, special, seed):
    rng = np.random.default_rng(seed)
    x, dout = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    for array in (x, dout):   # sprinkle zeros of both signs, infinities, NaN, tiny values
        mask = rng.random(shape) < special
        array[mask] = rng.choice(SPECIAL, size=int(mask.sum())).astype(dtype)
    with np.errstate(invalid="ignore"):      # inf * 0 in the NumPy version (also the fallback
        dx = relu_backward_fast(with_layout(dout, layout), x)   # for strided layouts)
        same_bits_up_to_nan_payload(dx, layers.relu_backward(dout, x))


def test_relu_backward_fast_handles_every_special_pair():
    x, dout = (array.ravel() for array in np.meshgrid(SPECIAL, SPECIAL))
    for dtype in (np.float64, np.float32):
        got = relu_backward_fast(dout.astype(dtype), x.astype(dtype))
        with np.errstate(invalid="ignore"):
            want = layers.relu_backward(dout.astype(dtype), x.astype(dtype))
        same_bits_up_to_nan_payload(got, want)
    assert relu_backward_fast(np.ones(0), np.ones(0)).shape == (0,)
    assert relu_backward_fast(np.float64(2.0), np.float64(1.0)) == 2.0          # 0-d: NumPy
    with pytest.raises(ValueError, match="relu_backward: dout must have"):
        relu_backward_fast(np.ones(3), np.ones(4))
    mixed = relu_backward_fast(np.ones(3, np.float32), np.ones(3))             # NumPy's rules
    assert mixed.dtype == layers.relu_backward(np.ones(3, np.float32), np.ones(3)).dtype


@SETTINGS
@given(st.integers(1, 7), st.integers(1, 12), st.sampled_from([np.float64, np.float32]),
       st.sampled_from([np.int64, np.int32, np.uint8, np.intp]), st.sampled_from(LAYOUTS),
       st.floats(1e-3, 1e3), st.integers(0, 2 ** 32 - 1))
def test_softmax_loss_fast_matches_numpy(N, C, dtype, label_dtype, layout, scale, seed):
    rng = np.random.default_rng(seed)
    x = (scale * rng.standard_normal((N, C))).astype(dtype)
    y = rng.integers(C, size=N).astype(label_dtype)
    loss, dx = softmax_loss_fast(with_layout(x, layout), y)
    want_loss, want_dx = layers.softmax_loss(x, y)
    assert type(loss) is type(want_loss) and dx.dtype == dtype and dx.shape == (N, C)
    tolerance = 1e-12 if dtype == np.float64 else 2e-6
    assert loss == pytest.approx(want_loss, rel=tolerance, abs=tolerance)
    np.testing.assert_allclose(dx, want_dx, rtol=tolerance, atol=tolerance / N)


def test_softmax_loss_fast_special_scores():
    """-inf is a class of probability 0; +inf or NaN makes its row's loss and gradient NaN."""
    x = np.array([[1.0, -np.inf, 2.0], [-np.inf, 0.5, 0.5], [np.inf, 1.0, 0.0],
                  [np.nan, 1.0, 0.0], [0.0, 0.0, 0.0], [-np.inf, -np.inf, -np.inf]])
    for labels in ([0, 1, 2, 1, 2, 0], [1, 0, 0, 0, 0, 1]):
        y = np.array(labels)
        for rows in ([0, 1, 4], [0, 1, 2, 4], [3], [5], [0, 1, 2, 3, 4, 5]):
            loss, dx = softmax_loss_fast(x[rows], y[rows])
            with np.errstate(invalid="ignore"):          # inf - inf in the NumPy version
                want_loss, want_dx = layers.softmax_loss(x[rows], y[rows])
            np.testing.assert_allclose(loss, want_loss, rtol=1e-14)
            np.testing.assert_allclose(dx, want_dx, rtol=1e-14, atol=1e-17)


@pytest.mark.parametrize("x, y, error, message", [
    (np.ones((2, 3)), np.array([0, 3]), ValueError, r"labels must lie in \[0, C\)"),
    (np.ones((2, 3)), np.array([-1, 0]), ValueError, r"got values \[-1\]"),
    (np.ones((2, 3)), np.array([2 ** 64 - 1, 0], np.uint64), ValueError, "labels must lie"),
    (np.ones((2, 3)), np.array([0.0, 1.0]), TypeError, "integer class labels"),
    (np.ones((2, 3)), np.array([0, 1, 2]), ValueError, r"shape \(N,\) = \(2,\)"),
    (np.ones((0, 3)), np.array([], int), ValueError, "the batch is empty"),
    (np.ones((2, 0)), np.array([0, 0]), ValueError, "labels must lie"),
    (np.ones((2, 3), int), np.array([0, 1]), TypeError, "float32 or float64"),
    (np.ones(3), np.array([0, 1, 2]), ValueError, "must be 2-D"),
])
def test_softmax_loss_fast_rejects_what_the_layer_rejects(x, y, error, message):
    with pytest.raises(error, match=message) as fast_error:
        softmax_loss_fast(x, y)
    with pytest.raises(error, match=message) as numpy_error:
        layers.softmax_loss(x, y)
    assert str(fast_error.value) == str(numpy_error.value)


def test_recycled_outputs_are_never_overwritten_while_held():
    """Outputs and gradients of the fast kernels live in recycled memory (vjpnet.memory):
    results the caller still holds keep their values through later calls."""
    rng = np.random.default_rng(11)
    x = rng.standard_normal((8, 3, 32, 32))
    w, b = rng.standard_normal((16, 3, 3, 3)), rng.standard_normal(16)
    held = []
    for step in range(3):
        out, cache = conv_forward_fast(x + step, w, b, {"stride": 1, "pad": 1})
        pooled, pool_cache = max_pool_forward_fast(out, POOL_PARAM)
        dout = relu_backward_fast(np.ones_like(out), out)
        dx = max_pool_backward_fast(np.ones_like(pooled), pool_cache)
        grads = conv_backward_fast(dout, cache)
        held.append([array.copy() for array in (out, pooled, dout, dx, *grads)] +
                    [out, pooled, dout, dx, *grads])
        del out, pooled, dout, dx, grads, cache, pool_cache
    for arrays in held:
        copies, originals = arrays[:7], arrays[7:]
        for copy, original in zip(copies, originals):
            np.testing.assert_array_equal(copy, original)
