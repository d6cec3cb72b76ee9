"""Data loaders: the embedded digits and CIFAR-10 batch files (small ones written here)."""
import io
import os
import pickle
import struct

import numpy as np
import pytest

from vjpnet import data

sklearn = pytest.importorskip("sklearn")


# ----------------------------------------------------------------------------- digits

def test_digits_split_shapes_and_reproducibility():
    flat = data.load_digits()
    assert flat["X_train"].shape == (1257, 64)
    assert flat["X_val"].shape == (180, 64)
    assert flat["X_test"].shape == (360, 64)
    assert sum(len(flat[f"y_{s}"]) for s in ("train", "val", "test")) == 1797
    assert set(np.unique(flat["y_train"])) == set(range(10))
    assert flat["y_train"].dtype == np.int64
    again = data.load_digits()
    for key in flat:
        np.testing.assert_array_equal(flat[key], again[key])
    other = data.load_digits(seed=1)
    assert not np.array_equal(flat["y_train"], other["y_train"])
    np.testing.assert_allclose(flat["X_train"].mean(axis=0), 0, atol=1e-12)


def test_digits_image_shape_and_dtype():
    images = data.load_digits(flatten=False, dtype=np.float32, num_validation=100, num_test=200)
    assert images["X_train"].shape == (1497, 1, 8, 8)
    assert images["X_test"].shape == (200, 1, 8, 8)
    assert images["X_train"].dtype == np.float32
    flat = data.load_digits(num_validation=100, num_test=200)
    np.testing.assert_allclose(images["X_val"].reshape(100, 64), flat["X_val"], atol=1e-6)


def test_digits_bad_split():
    with pytest.raises(ValueError, match="leaves no training images"):
        data.load_digits(num_validation=1000, num_test=797)
    with pytest.raises(TypeError, match="float32 or float64"):
        data.load_digits(dtype=np.int32)


# ----------------------------------------------------------------------------- CIFAR-10

class Python2Pickler(pickle._Pickler):
    """Writes bytes as Python 2 `str` opcodes (SHORT_BINSTRING / BINSTRING), as the real
    CIFAR-10 files (written by Python 2's cPickle, protocol 2) do."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_python2_str(self, obj):
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_python2_str


def python2_batch_bytes(batch):
    stream = io.BytesIO()
    Python2Pickler(stream, protocol=2).dump(batch)
    # Python 2 era numpy names the array reconstructor numpy.core.multiarray
    return stream.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def make_batch(rng, num_images, name):
    return {
        b"batch_label": b"testing batch " + name.encode(),
        b"labels": [int(label) for label in rng.integers(0, 10, num_images)],
        b"data": rng.integers(0, 256, (num_images, 3072), dtype=np.uint8),
        b"filenames": [f"img_{index}.png".encode() for index in range(num_images)],
    }


@pytest.fixture
def cifar_dir(tmp_path):
    """A CIFAR-10 folder: batches 1-4 in exact Python 2 format, batch 5 and the test batch
    with Python 3's pickle at protocol 2 (both occur in the wild)."""
    rng = np.random.default_rng(0)
    batches = {}
    for index, size in zip(range(1, 6), (7, 5, 6, 4, 8)):
        name = f"data_batch_{index}"
        batches[name] = make_batch(rng, size, name)
        payload = (python2_batch_bytes(batches[name]) if index < 5
                   else pickle.dumps(batches[name], protocol=2))
        (tmp_path / name).write_bytes(payload)
    batches["test_batch"] = make_batch(rng, 9, "test")
    (tmp_path / "test_batch").write_bytes(python2_batch_bytes(batches["test_batch"]))
    return tmp_path, batches


def test_python2_writer_is_faithful():
    payload = python2_batch_bytes({b"data": np.zeros((1, 3072), np.uint8), b"labels": [3]})
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in payload
    assert b"_codecs" not in payload          # bytes written as Python 2 str opcodes
    assert pickle.SHORT_BINSTRING + bytes([4]) + b"data" in payload


def test_load_cifar10_reads_the_batches(cifar_dir):
    root, batches = cifar_dir
    X_train, y_train, X_test, y_test = data.load_cifar10(root)
    assert X_train.shape == (30, 32, 32, 3) and X_train.dtype == np.float64
    assert X_test.shape == (9, 32, 32, 3)
    expected = np.concatenate([batches[f"data_batch_{i}"][b"data"] for i in range(1, 6)])
    np.testing.assert_array_equal(
        X_train, expected.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(
        y_train, sum((batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), []))
    np.testing.assert_array_equal(y_test, batches["test_batch"][b"labels"])


def test_get_cifar10_data_splits_and_preprocesses(cifar_dir):
    root, _ = cifar_dir
    split = data.get_cifar10_data(root, num_training=20, num_validation=5, num_test=4)
    assert split["X_train"].shape == (20, 3, 32, 32)
    assert split["X_val"].shape == (5, 3, 32, 32)
    assert split["X_test"].shape == (4, 3, 32, 32)
    assert split["y_val"].shape == (5,)
    np.testing.assert_allclose(split["X_train"].mean(axis=0), 0, atol=1e-9)
    with pytest.raises(ValueError, match="holds only 30 training images"):
        data.get_cifar10_data(root, num_training=49000)


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch pwned_by_pickle",))


def test_malicious_pickle_raises_and_runs_nothing(cifar_dir, monkeypatch):
    root, _ = cifar_dir
    monkeypatch.chdir(root)
    batch = {b"data": np.zeros((1, 3072), np.uint8), b"labels": [0], b"x": Exploit()}
    (root / "data_batch_3").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(data.UnsafePickleError, match=r"data_batch_3.*(system|posix)"):
        data.load_cifar10(root)
    assert not (root / "pwned_by_pickle").exists()


@pytest.mark.parametrize("payload", [
    pickle.dumps({b"data": np.array([object()], dtype=object), b"labels": []}, protocol=2),
    pickle.dumps({b"data": np.zeros((1, 3072), np.uint8), b"labels": [0],
                  b"f": np.float64(1.0)}, protocol=2),   # numpy scalar: not in CIFAR files
])
def test_unexpected_globals_are_refused(tmp_path, payload):
    path = tmp_path / "data_batch_1"
    path.write_bytes(payload)
    with pytest.raises(data.UnsafePickleError, match="data_batch_1"):
        data.load_cifar_batch(path)


def test_missing_truncated_and_corrupt_files_name_the_file(cifar_dir):
    root, _ = cifar_dir
    os.remove(root / "data_batch_2")
    with pytest.raises(FileNotFoundError, match="data_batch_2"):
        data.load_cifar10(root)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        data.load_cifar10(root / "nowhere")
    good = (root / "data_batch_1").read_bytes()
    (root / "truncated").write_bytes(good[: len(good) // 2])
    with pytest.raises(data.CifarFileError, match="truncated"):
        data.load_cifar_batch(root / "truncated")
    (root / "garbage").write_bytes(b"this is not a pickle at all")
    with pytest.raises(data.CifarFileError, match="garbage"):
        data.load_cifar_batch(root / "garbage")
    # a corrupt length field announcing 3 GiB of bytes: a clear error, no huge allocation
    huge = b"\x80\x04\x8e" + (3 * 2 ** 30).to_bytes(8, "little") + b"abc"
    (root / "huge_length").write_bytes(huge)
    with pytest.raises(data.CifarFileError, match="huge_length"):
        data.load_cifar_batch(root / "huge_length")


@pytest.mark.parametrize("batch, message", [
    ([1, 2, 3], "expected a pickled dict"),
    ({b"labels": [1]}, "no 'data' entry"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1]}, "2 images but 1 labels"),
    ({b"data": np.zeros((2, 100), np.uint8), b"labels": [1, 2]}, r"shape \(N, 3072\)"),
    ({b"data": np.zeros((1, 3072), np.float32), b"labels": [1]}, "uint8"),
    ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}, r"in \[0, 10\)"),
    ({b"data": np.zeros((1, 3072), np.uint8), b"labels": ["cat"]}, "list of ints"),
])
def test_wrong_contents_are_clear(tmp_path, batch, message):
    path = tmp_path / "bad_batch"
    path.write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(data.CifarFileError, match=message):
        data.load_cifar_batch(path)
