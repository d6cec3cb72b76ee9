"""vjpnet.memory: recycled memory for large arrays is reused only once nothing refers to it."""
import gc
import threading

import numpy as np
import pytest

from vjpnet import memory

SHAPE = (64, 32, 32)                       # 512 KiB in float64: recycled


@pytest.fixture(autouse=True)
def fresh_pool():
    memory.clear()
    old = memory.set_limit(memory.DEFAULT_LIMIT)
    yield
    memory.set_limit(old)
    memory.clear()


def test_large_arrays_are_recycled_after_they_die():
    a = memory.empty(SHAPE, np.float64)
    assert a.shape == SHAPE and a.dtype == np.float64 and a.flags.c_contiguous
    assert a.flags.writeable and not a.flags.owndata
    address = a.__array_interface__["data"][0]
    assert memory.spare_bytes() == 0
    del a
    assert memory.spare_bytes() == np.prod(SHAPE) * 8
    b = memory.empty(SHAPE[::-1], np.float64)          # same byte size, other shape
    assert b.__array_interface__["data"][0] == address
    assert memory.spare_bytes() == 0


def test_memory_in_use_is_never_handed_out_again():
    arrays = [memory.empty(SHAPE, np.float32) for _ in range(4)]
    for index, array in enumerate(arrays):
        array[...] = index
    more = [memory.empty(SHAPE, np.float32) for _ in range(4)]
    for array in more:
        array[...] = -1
    for index, array in enumerate(arrays):
        assert np.all(array == index)
        for other in arrays[index + 1:] + more:
            assert not np.shares_memory(array, other)


def test_views_keep_the_memory_alive():
    a = memory.empty(SHAPE, np.float64)
    a[...] = 7.0
    views = [a[1:], a.reshape(-1)[::3], a.T, a[0, 0]]
    del a
    gc.collect()
    assert memory.spare_bytes() == 0
    b = memory.empty(SHAPE, np.float64)
    b[...] = -1.0
    for view in views:
        assert np.all(view == 7.0)
    del b, view, views
    gc.collect()
    assert memory.spare_bytes() == 2 * np.prod(SHAPE) * 8


def test_small_arrays_and_other_dtypes():
    small = memory.empty((3, 4), np.float32)
    assert small.flags.owndata and small.shape == (3, 4) and small.dtype == np.float32
    for dtype in (np.uint8, np.int32, np.complex128, np.float16):
        array = memory.empty((1 << 19,), dtype)
        assert array.dtype == dtype and array.shape == (1 << 19,)
    assert memory.empty(1 << 19, np.uint8).shape == (1 << 19,)
    assert memory.empty([2, 1 << 18], "f8").shape == (2, 1 << 18)
    assert memory.empty((0, 1 << 20), np.float64).size == 0


def test_limit_and_clear():
    a, b = memory.empty(SHAPE, np.float64), memory.empty(SHAPE, np.float64)
    memory.set_limit(np.prod(SHAPE) * 8)                # room for one spare block
    del a, b
    assert memory.spare_bytes() == np.prod(SHAPE) * 8
    memory.set_limit(0)                                 # no recycling at all
    assert memory.spare_bytes() == 0
    c = memory.empty(SHAPE, np.float64)
    assert c.flags.owndata
    memory.set_limit(memory.DEFAULT_LIMIT)
    d = memory.empty(SHAPE, np.float64)
    del d
    assert memory.spare_bytes() > 0
    memory.clear()
    assert memory.spare_bytes() == 0
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError, match="set_limit: nbytes must be an integer >= 0"):
            memory.set_limit(bad)


def test_threads_never_share_live_memory():
    errors = []

    def work(seed):
        try:
            for step in range(200):
                arrays = [memory.empty((1 << 15 + step % 3,), np.float64) for _ in range(3)]
                for index, array in enumerate(arrays):
                    array[...] = seed * 1000 + index
                for index, array in enumerate(arrays):
                    if not np.all(array == seed * 1000 + index):
                        errors.append((seed, step, index))
        except Exception as error:   # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert 0 <= memory.spare_bytes() <= memory.DEFAULT_LIMIT


def test_large_cotangent_sums_are_right():
    """The reverse sweep adds a large array's cotangents into recycled memory."""
    import vjpnet
    w = np.random.default_rng(0).standard_normal((256, 300))       # 600 KiB
    value, grad = vjpnet.value_and_grad(lambda w: np.sum(w * w) + np.sum(np.sin(w)))(w)
    np.testing.assert_allclose(grad, 2 * w + np.cos(w), rtol=1e-14)
    first = grad.copy()
    _, again = vjpnet.value_and_grad(lambda w: np.sum(w * w) + np.sum(np.sin(w)))(w + 1)
    np.testing.assert_array_equal(grad, first)                      # held: not reused
    np.testing.assert_allclose(again, 2 * (w + 1) + np.cos(w + 1), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128])
def test_large_outputs_of_the_ufunc_fast_paths_are_recycled_with_numpys_values(dtype):
    """np.tanh(h), h * h, h + w of large traced arrays write into recycled memory: the same
    values and dtypes as NumPy's, and never memory a live array holds. With a Python scalar
    operand (h * 0.5) the output is NumPy's own."""
    from vjpnet.tape import open_tape
    rng = np.random.default_rng(0)
    h = rng.standard_normal((256, 300)).astype(dtype)                 # >= 300 KiB
    w = rng.standard_normal((256, 300)).astype(dtype)
    calls = [(np.tanh, (h,), True), (np.square, (h,), True), (np.multiply, (h, h), True),
             (np.add, (h, w), True), (np.subtract, (w, h), True), (np.multiply, (h, 0.5), False),
             (np.subtract, (1.5, h), False)]
    for ufunc, args, recycled in calls:
        expected = ufunc(*args)
        with open_tape() as tape:
            traced = [tape.new_input(a) if a is h else a for a in args]
            out = ufunc(*traced).value
        assert out.dtype == expected.dtype and out.shape == expected.shape
        assert out.flags.owndata is not recycled        # recycled: from vjpnet.memory
        np.testing.assert_array_equal(out, expected)
    held = np.tanh(h)
    with open_tape() as tape:
        first = np.tanh(tape.new_input(h)).value
    with open_tape() as tape:
        second = np.tanh(tape.new_input(h) + w).value
    assert not np.shares_memory(first, second)
    np.testing.assert_array_equal(first, held)


def test_small_and_broadcast_fast_path_outputs_are_numpys_own():
    from vjpnet.tape import open_tape
    h = np.random.default_rng(0).standard_normal((256, 300))
    with open_tape() as tape:
        x = tape.new_input(h)
        assert np.tanh(x[:2]).value.flags.owndata                   # small
        assert (x + np.ones(300)).value.flags.owndata               # broadcast
