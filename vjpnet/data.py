"""Data sets for the training stack.

- `load_digits(...)`: the 8x8 handwritten digits bundled with scikit-learn (1,797 images,
  10 classes, no download), split reproducibly into train/val/test, shaped (N, 64) for
  fully-connected models or (N, 1, 8, 8) for conv models.
- `load_cifar10(root)` / `get_cifar10_data(root, ...)`: the standard CIFAR-10 "python version"
  batch files (`data_batch_1` .. `data_batch_5`, `test_batch`). Those files are pickles; they
  are read with a restricted unpickler that only rebuilds what such a file holds (dicts,
  lists, ints, strings/bytes and uint8 numpy arrays), so a malicious file raises
  `UnsafePickleError` and nothing in it is executed.
"""
import io
import os
import pickle

import numpy as np

__all__ = [
    "load_digits", "load_cifar_batch", "load_cifar10", "get_cifar10_data",
    "CifarFileError", "UnsafePickleError",
]


# ----------------------------------------------------------------------------- digits

def load_digits(num_validation=180, num_test=360, seed=0, flatten=True, dtype=np.float64,
                subtract_mean=True):
    """The 8x8 digits that ship inside scikit-learn, split into train / val / test.

    Inputs:
    - num_validation, num_test: sizes of the validation and test splits; the remaining
      images (1797 - num_validation - num_test, 1257 by default) are the training split.
    - seed: seed of the permutation that assigns images to splits (same seed, same split).
    - flatten: True gives X of shape (N, 64); False gives (N, 1, 8, 8) for conv models.
    - dtype: float dtype of the X arrays (np.float64 or np.float32).
    - subtract_mean: pixels are scaled from [0, 16] to [0, 1]; when True the mean training
      image is then subtracted from every split.

    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test (labels int64 in [0, 10)).
    """
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError as error:
        raise ImportError("load_digits needs scikit-learn, which ships the digits data set: "
                          "pip install scikit-learn") from error
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"load_digits: dtype must be float32 or float64, got {dtype}")
    bunch = sklearn_load_digits()
    images = bunch.data.astype(np.float64) / 16.0
    labels = bunch.target.astype(np.int64)
    total = len(labels)
    for name, value in (("num_validation", num_validation), ("num_test", num_test)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"load_digits: {name} must be a non-negative int, got {value!r}")
    num_train = total - num_validation - num_test
    if num_train < 1:
        raise ValueError(f"load_digits: num_validation + num_test = {num_validation + num_test} "
                         f"leaves no training images out of {total}")
    order = np.random.default_rng(seed).permutation(total)
    splits = {
        "train": order[:num_train],
        "val": order[num_train:num_train + num_validation],
        "test": order[num_train + num_validation:],
    }
    mean_image = images[splits["train"]].mean(axis=0) if subtract_mean else 0.0
    data = {}
    for split, index in splits.items():
        X = images[index] - mean_image
        if not flatten:
            X = X.reshape(-1, 1, 8, 8)
        data[f"X_{split}"] = np.ascontiguousarray(X, dtype=dtype)
        data[f"y_{split}"] = labels[index]
    return data


# ----------------------------------------------------------------------------- CIFAR-10

class CifarFileError(ValueError):
    """A CIFAR-10 batch file is missing pieces, truncated or not in the expected format."""


class UnsafePickleError(CifarFileError, pickle.UnpicklingError):
    """A CIFAR-10 batch file refers to something a CIFAR-10 batch never holds."""


def _numpy_reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct   # numpy >= 2
    except ImportError:                                    # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
    return _reconstruct


def _safe_reconstruct(cls, shape, dtype_code):
    # What ndarray.__reduce__ emits: _reconstruct(ndarray, (0,), b'b'); the data comes with
    # the BUILD (setstate) that follows.
    if cls is not np.ndarray:
        raise UnsafePickleError(f"_reconstruct of {cls!r} (only numpy.ndarray is allowed)")
    return _numpy_reconstruct()(np.ndarray, shape, dtype_code)


def _safe_dtype(*args):
    dtype = np.dtype(*args)
    if dtype.hasobject:
        raise UnsafePickleError(f"object dtype {dtype!r} (only plain numeric dtypes are allowed)")
    return dtype


def _safe_codecs_encode(text, encoding="utf-8"):
    # Python 3 writes bytes with protocol 2 as _codecs.encode(latin-1 text, 'latin1').
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError(f"_codecs.encode({type(text).__name__}, {encoding!r}) "
                                f"(only the latin1 encoding of bytes is allowed)")
    return text.encode("latin1")


_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _safe_reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _safe_dtype,
    ("_codecs", "encode"): _safe_codecs_encode,
}


class _CifarUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals a CIFAR-10 batch file references."""

    def __init__(self, file, filename):
        super().__init__(file, encoding="bytes")
        self._filename = filename

    def find_class(self, module, name):
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise UnsafePickleError(
                f"{self._filename}: refusing to load global {module}.{name}; a CIFAR-10 batch "
                f"file only holds dicts, lists, strings and numpy uint8 arrays, so this file is "
                f"not one (possibly malicious). Nothing in it was executed.")
        return allowed

    def persistent_load(self, pid):
        raise UnsafePickleError(f"{self._filename}: persistent ids are not allowed in a "
                                f"CIFAR-10 batch file")


def _as_text(key):
    return key.decode("latin1") if isinstance(key, bytes) else key


def load_cifar_batch(filename):
    """Load one CIFAR-10 python batch file.

    Returns a tuple of:
    - X: float64 array of shape (N, 32, 32, 3) (pixel values 0..255)
    - y: int64 array of shape (N,) with labels in [0, 10)
    """
    filename = os.fspath(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f"CIFAR-10 batch file not found: {filename!r}")
    with open(filename, "rb") as handle:
        payload = handle.read()
    try:
        # from memory: a corrupt length field cannot make the reader allocate gigabytes
        batch = _CifarUnpickler(io.BytesIO(payload), filename).load()
    except UnsafePickleError as error:
        message = str(error)
        if not message.startswith(filename):
            message = f"{filename}: refusing to load {message}; nothing in the file was executed"
        raise UnsafePickleError(message) from None
    except (EOFError, pickle.UnpicklingError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, MemoryError, OverflowError, UnicodeDecodeError) as error:
        raise CifarFileError(f"{filename}: not a readable CIFAR-10 batch file (truncated or "
                             f"corrupt?): {type(error).__name__}: {error}") from None
    if not isinstance(batch, dict):
        raise CifarFileError(f"{filename}: expected a pickled dict with 'data' and 'labels', "
                             f"got {type(batch).__name__}")
    batch = {_as_text(key): value for key, value in batch.items()}
    for key in ("data", "labels"):
        if key not in batch:
            raise CifarFileError(f"{filename}: the batch dict has no {key!r} entry "
                                 f"(keys: {sorted(map(str, batch))})")
    data = batch["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3 * 32 * 32:
        got = (f"dtype {data.dtype}, shape {data.shape}" if isinstance(data, np.ndarray)
               else type(data).__name__)
        raise CifarFileError(f"{filename}: 'data' must be a uint8 array of shape (N, 3072), "
                             f"got {got}")
    labels = batch["labels"]
    if not isinstance(labels, (list, np.ndarray)) or not all(
            isinstance(label, (int, np.integer)) and not isinstance(label, bool)
            for label in labels):
        raise CifarFileError(f"{filename}: 'labels' must be a list of ints")
    y = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(y) != data.shape[0]:
        raise CifarFileError(f"{filename}: {data.shape[0]} images but {len(y)} labels")
    if len(y) and (y.min() < 0 or y.max() > 9):
        raise CifarFileError(f"{filename}: labels must be in [0, 10), got range "
                             f"[{y.min()}, {y.max()}]")
    X = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float64)
    return X, y


def load_cifar10(root):
    """Load all of CIFAR-10 from the directory `root` (data_batch_1..5 and test_batch).

    Returns a tuple of:
    - X_train: (N_train, 32, 32, 3) float64, y_train: (N_train,) int64
    - X_test: (N_test, 32, 32, 3) float64, y_test: (N_test,) int64
    """
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"CIFAR-10 directory not found: {root!r} (expected the "
                                f"extracted cifar-10-batches-py folder)")
    parts = [load_cifar_batch(os.path.join(root, f"data_batch_{index}"))
             for index in range(1, 6)]
    X_train = np.concatenate([X for X, _ in parts])
    y_train = np.concatenate([y for _, y in parts])
    X_test, y_test = load_cifar_batch(os.path.join(root, "test_batch"))
    return X_train, y_train, X_test, y_test


def get_cifar10_data(root, num_training=49000, num_validation=1000, num_test=1000,
                     subtract_mean=True, dtype=np.float64):
    """CIFAR-10 split and preprocessed for the classifiers: the first `num_training` training
    images, the next `num_validation` as validation, the first `num_test` test images; the
    mean training image subtracted (when subtract_mean) and images transposed to channels
    first.

    Returns a dict with X_train (num_training, 3, 32, 32), y_train, X_val, y_val, X_test, y_test.
    """
    X_train_all, y_train_all, X_test_all, y_test_all = load_cifar10(root)
    if num_training + num_validation > len(y_train_all):
        raise ValueError(f"get_cifar10_data: num_training + num_validation = "
                         f"{num_training + num_validation} but {root!r} holds only "
                         f"{len(y_train_all)} training images")
    if num_test > len(y_test_all):
        raise ValueError(f"get_cifar10_data: num_test = {num_test} but {root!r} holds only "
                         f"{len(y_test_all)} test images")
    X_train = X_train_all[:num_training]
    y_train = y_train_all[:num_training]
    X_val = X_train_all[num_training:num_training + num_validation]
    y_val = y_train_all[num_training:num_training + num_validation]
    X_test, y_test = X_test_all[:num_test], y_test_all[:num_test]
    mean_image = X_train.mean(axis=0) if subtract_mean else 0.0

    def channels_first(X):
        return np.ascontiguousarray((X - mean_image).transpose(0, 3, 1, 2), dtype=dtype)

    return {
        "X_train": channels_first(X_train), "y_train": y_train,
        "X_val": channels_first(X_val), "y_val": y_val,
        "X_test": channels_first(X_test), "y_test": y_test,
    }
