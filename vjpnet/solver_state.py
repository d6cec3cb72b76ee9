"""Solver state on disk: checkpoint files that are written atomically and verified when read.

    save(solver, path)          the whole training state of a Solver -> path (.npz)
    load(solver, path)          restore it (raises CheckpointError for anything but an intact
                                checkpoint of a matching model)

A checkpoint is a single `.npz` archive, so NumPy can read it (`np.load(path,
allow_pickle=False)`) and loading it never unpickles or executes anything:
- the arrays: `params/<name>`, `best_params/<name>`, `optim/<name>/<key>` (optimizer state
  such as Adam's m and v), `bn/<layer>/<key>` and `best_bn/<layer>/<key>` (batchnorm running
  statistics), `global_rng/keys` (np.random's state);
- `meta_json`: one JSON document with everything else (epoch, iteration, histories, scalar
  hyperparameters, the solver's generator state) and, for every array, its dtype, shape and
  SHA-256; `meta_sha256`: the SHA-256 of that JSON text;
- the zip archive comment (its last bytes): `vjpnet-sha256:` and the SHA-256 of every byte of
  the file before it.
Reading checks the whole-file digest first, so a changed byte anywhere — array data, metadata,
zip headers, the digest itself — or a truncated file is an error; the per-array and metadata
digests then say which part was damaged.

Writing goes to a temporary file `.<name>.<16 hex digits>.tmp` in the checkpoint's directory,
fsynced, then renamed over the checkpoint (and the directory fsynced), so an interrupted write
never replaces the previous checkpoint. A process killed mid-write leaves its temporary file
behind; the next successful write of the same checkpoint removes such temporaries (only those
of that checkpoint's name). Two processes writing the same checkpoint at the same time are not
supported (one may delete the other's temporary file before it is renamed).
"""
import hashlib
import io
import json
import os
import re
import secrets
import struct
import zipfile

import numpy as np

__all__ = ["FORMAT", "CheckpointError", "save", "load", "write_checkpoint", "read_checkpoint",
           "read_checkpoint_bytes", "stale_temporaries"]

FORMAT = "vjpnet.solver.checkpoint/2"
META_KEY = "meta_json"
META_DIGEST_KEY = "meta_sha256"
_TRAILER_PREFIX = b"vjpnet-sha256:"
_TRAILER_LENGTH = len(_TRAILER_PREFIX) + 64
_END_OF_DIRECTORY = b"PK\x05\x06"        # zip's end-of-central-directory record, 22 bytes
_BN_STATISTICS = ("running_mean", "running_var")
# every key `load` reads from the metadata (besides "format" and "arrays"), with its JSON type
META_TYPES = {"model_class": str, "param_names": list, "update_rule": (str, type(None)),
              "lr_decay": (int, float), "batch_size": int, "num_epochs": int, "epoch": int,
              "iteration": int, "best_val_acc": (int, float), "has_best_bn": bool,
              "num_bn_layers": int, "loss_history": list, "train_acc_history": list,
              "val_acc_history": list, "optim_scalars": dict, "rng_state": dict,
              "global_rng": list}


class CheckpointError(ValueError):
    """A file that is not an intact vjpnet checkpoint (names the file and what is wrong)."""


# ----------------------------------------------------------------------------- file format

def _digest(data):
    return hashlib.sha256(data).hexdigest()


def _array_digest(array):
    return _digest(memoryview(np.ascontiguousarray(array)).cast("B"))


def _write_npz(handle, arrays):
    """Serialize `arrays` (name -> ndarray) as npz into an open binary stream."""
    np.savez(handle, **arrays)


def _with_trailer(archive):
    """The zip `archive` (bytes, no comment) with the whole-file digest as its comment."""
    end = archive[-22:]
    if end[:4] != _END_OF_DIRECTORY or end[-2:] != b"\x00\x00":
        raise RuntimeError("solver_state: np.savez wrote a zip archive of an unexpected layout")
    body = archive[:-2] + struct.pack("<H", _TRAILER_LENGTH)
    return body + _TRAILER_PREFIX + _digest(body).encode("ascii")


def encode_checkpoint(arrays, meta):
    """The bytes of a checkpoint file holding `arrays` (name -> ndarray, no object dtype) and
    `meta` (a JSON-serializable dict; "format" and "arrays" are filled in)."""
    arrays = {name: np.asarray(value) for name, value in arrays.items()}
    for name, value in arrays.items():
        if value.dtype.hasobject:
            raise TypeError(f"solver_state: array {name!r} has dtype {value.dtype}; a "
                            f"checkpoint holds numeric arrays only")
        if name in (META_KEY, META_DIGEST_KEY):
            raise ValueError(f"solver_state: {name!r} is reserved for the metadata")
    meta = dict(meta, format=meta.get("format", FORMAT))
    meta["arrays"] = {name: {"dtype": value.dtype.str, "shape": list(value.shape),
                             "sha256": _array_digest(value)} for name, value in arrays.items()}
    text = json.dumps(meta)
    stream = io.BytesIO()
    _write_npz(stream, dict(arrays, **{META_KEY: np.array(text),
                                       META_DIGEST_KEY: np.array(_digest(text.encode()))}))
    return _with_trailer(stream.getvalue())


def _temporary_pattern(path):
    return re.compile(r"\." + re.escape(os.path.basename(path)) + r"\.[0-9a-f]{16}\.tmp\Z")


def stale_temporaries(path):
    """Temporary files that interrupted writes of the checkpoint `path` left behind."""
    directory = os.path.dirname(os.path.abspath(path))
    pattern = _temporary_pattern(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(os.path.join(directory, name) for name in names if pattern.match(name))


def _fsync_directory(directory):
    try:
        handle = os.open(directory, os.O_RDONLY)
    except OSError:          # not possible on every platform; the rename is still atomic
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def _write_bytes(stream, data):
    stream.write(data)


def write_checkpoint(path, arrays, meta):
    """Write a checkpoint (see encode_checkpoint) to `path` atomically; returns the path.
    Removes the temporaries earlier interrupted writes of `path` left behind."""
    path = os.fspath(path)
    data = encode_checkpoint(arrays, meta)
    directory = os.path.dirname(os.path.abspath(path))
    stale = stale_temporaries(path)
    temporary = os.path.join(directory,
                             f".{os.path.basename(path)}.{secrets.token_hex(8)}.tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "wb") as stream:
            _write_bytes(stream, data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)
    for name in stale:
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass
    return path


def _damaged(source, what):
    return CheckpointError(f"{source!r} is not a readable vjpnet checkpoint: {what}")


def _open_archive(data, source):
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise _damaged(source, f"the file ({len(data)} bytes) is truncated or damaged: its "
                               f"zip directory cannot be read ({error})") from None


def _read_member(archive, name, source):
    """The array stored as `name`.npy in `archive` (never unpickles)."""
    try:
        with archive.open(name + ".npy") as stream:
            return np.lib.format.read_array(stream, allow_pickle=False)
    except KeyError:
        raise _damaged(source, f"it holds no {name!r}") from None
    except zipfile.BadZipFile as error:
        what = "metadata" if name in (META_KEY, META_DIGEST_KEY) else f"array {name!r}"
        if "CRC" in str(error):
            raise _damaged(source, f"the data of its {what} does not match its zip CRC-32 "
                                   f"checksum (damaged bytes)") from None
        raise _damaged(source, f"its {what} cannot be read: {error}") from None
    except Exception as error:   # noqa: BLE001 - npy and zlib errors of damaged members
        what = "metadata" if name in (META_KEY, META_DIGEST_KEY) else f"array {name!r}"
        raise _damaged(source, f"its {what} cannot be read: {type(error).__name__}: "
                               f"{error}") from None


def _read_meta(archive, source):
    names = set(archive.namelist())
    if META_KEY + ".npy" not in names:
        listing = sorted(name[:-4] for name in names if name.endswith(".npy"))[:6]
        raise _damaged(source, f"it is an .npz archive without vjpnet metadata "
                               f"('{META_KEY}'); it holds {listing}")
    stored = _read_member(archive, META_KEY, source)
    if stored.dtype.kind != "U" or stored.shape != ():
        raise _damaged(source, f"its metadata is a {stored.dtype} array of shape "
                               f"{stored.shape}, not a JSON string")
    text = str(stored)
    try:
        meta = json.loads(text)
    except ValueError as error:
        raise _damaged(source, f"its metadata is not valid JSON ({error})") from None
    if not isinstance(meta, dict):
        raise _damaged(source, f"its metadata is a JSON {type(meta).__name__}, not an object")
    return text, meta


def _check_format(meta, source):
    found = meta.get("format")
    if found != FORMAT:
        if isinstance(found, str) and found.startswith("vjpnet.solver.checkpoint/"):
            what = (f"it has format {found!r} and this vjpnet reads {FORMAT!r} only (format 1 "
                    f"files carry no checksums; write a new checkpoint)")
        else:
            what = f"its metadata names format {found!r}, expected {FORMAT!r}"
        raise _damaged(source, what)


def _check_arrays(archive, meta, source):
    """name -> array for every array the metadata lists, each matching its dtype, shape and
    digest; raises for the first that does not (or a member the metadata does not list)."""
    listing = meta.get("arrays")
    if not isinstance(listing, dict):
        raise _damaged(source, "its metadata lacks the key 'arrays' (the array checksums)")
    present = {name[:-4] for name in archive.namelist() if name.endswith(".npy")}
    present -= {META_KEY, META_DIGEST_KEY}
    unlisted = sorted(present - set(listing))
    if unlisted:
        raise _damaged(source, f"it holds arrays its metadata does not list: {unlisted}")
    arrays = {}
    for name, expected in listing.items():
        if name not in present:
            raise _damaged(source, f"its array {name!r} is missing")
        value = _read_member(archive, name, source)
        try:
            dtype, shape, digest = (np.dtype(expected["dtype"]), tuple(expected["shape"]),
                                    expected["sha256"])
        except (KeyError, TypeError, ValueError):
            raise _damaged(source, f"its metadata entry for array {name!r} is malformed: "
                                   f"{expected!r}") from None
        if value.dtype != dtype or value.shape != shape:
            raise _damaged(source, f"its array {name!r} has dtype {value.dtype} and shape "
                                   f"{value.shape}, the metadata says {dtype} and {shape}")
        if _array_digest(value) != digest:
            raise _damaged(source, f"the data of its array {name!r} does not match its SHA-256 "
                                   f"checksum (damaged bytes)")
        arrays[name] = value
    return arrays


def _diagnose(data, source):
    """Raise the most specific error for a checkpoint whose whole-file digest failed."""
    archive = _open_archive(data, source)
    text, meta = _read_meta(archive, source)
    stored_digest = str(_read_member(archive, META_DIGEST_KEY, source))
    if _digest(text.encode()) != stored_digest:
        raise _damaged(source, "its metadata does not match its SHA-256 checksum (damaged "
                               "bytes)")
    _check_format(meta, source)
    _check_arrays(archive, meta, source)
    raise _damaged(source, "the file does not match its SHA-256 checksum (damaged bytes "
                           "outside the arrays and the metadata: zip headers or the checksum "
                           "itself)")


def read_checkpoint_bytes(data, source="<bytes>"):
    """(arrays, meta) from the bytes of a checkpoint file, verified; `source` names it in
    errors. Raises CheckpointError for anything but an intact checkpoint of this format."""
    data = bytes(data)
    if not data:
        raise _damaged(source, "the file is empty")
    if not data.startswith(b"PK\x03\x04"):
        raise _damaged(source, f"it is not an .npz archive (it starts with {data[:8]!r})")
    trailer = data[-_TRAILER_LENGTH:]
    has_trailer = (len(data) > _TRAILER_LENGTH + 22 and trailer.startswith(_TRAILER_PREFIX)
                   and data[-_TRAILER_LENGTH - 2:-_TRAILER_LENGTH]
                   == struct.pack("<H", _TRAILER_LENGTH))
    if not has_trailer:
        # a truncated file, a plain .npz, an older format: say which, as far as can be told
        archive = _open_archive(data, source)
        _, meta = _read_meta(archive, source)
        _check_format(meta, source)
        raise _damaged(source, "it lacks the whole-file checksum at its end (truncated, or "
                               "bytes appended)")
    if _digest(data[:-_TRAILER_LENGTH]) != trailer[len(_TRAILER_PREFIX):].decode("ascii",
                                                                                 "replace"):
        _diagnose(data, source)
    archive = _open_archive(data, source)
    _, meta = _read_meta(archive, source)
    _check_format(meta, source)
    return _check_arrays(archive, meta, source), meta


def read_checkpoint(path):
    """(arrays, meta) of the checkpoint file `path`, verified (see read_checkpoint_bytes)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint file {path!r}")
    with open(path, "rb") as stream:
        data = stream.read()
    return read_checkpoint_bytes(data, path)


# ----------------------------------------------------------------------------- solver state

def _json_scalar(value, what):
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    raise TypeError(f"Solver.save_checkpoint: {what} = {value!r} of type "
                    f"{type(value).__name__} cannot be stored in a checkpoint (numbers, strings "
                    f"and arrays only)")


def bn_params(model):
    """The model's batchnorm parameter dicts (an empty list if it has none)."""
    found = getattr(model, "bn_params", None)
    return found if isinstance(found, (list, tuple)) else []


def bn_statistics(model):
    """Copies of the running statistics of each batchnorm layer: [{key: array}]."""
    return [{key: np.array(bn[key]) for key in _BN_STATISTICS if key in bn}
            for bn in bn_params(model)]


def restore_bn_statistics(model, statistics):
    """Put `statistics` (as from bn_statistics) back into the model's batchnorm layers."""
    for bn, saved in zip(bn_params(model), statistics):
        for key in _BN_STATISTICS:
            bn.pop(key, None)
        bn.update({key: np.array(value) for key, value in saved.items()})


def encode(solver):
    """(arrays, meta) holding the whole training state of `solver`."""
    arrays = {}
    for name, value in solver.model.params.items():
        arrays[f"params/{name}"] = np.asarray(value)
    for name, value in solver.best_params.items():
        arrays[f"best_params/{name}"] = np.asarray(value)
    optim_scalars = {}
    for name, config in solver.optim_configs.items():
        optim_scalars[name] = {}
        for key, value in config.items():
            if isinstance(value, np.ndarray):
                arrays[f"optim/{name}/{key}"] = value
            else:
                optim_scalars[name][key] = _json_scalar(value, f"optim_config[{key!r}]")
    for index, statistics in enumerate(bn_statistics(solver.model)):
        for key, value in statistics.items():
            arrays[f"bn/{index}/{key}"] = value
    for index, statistics in enumerate(solver.best_bn_statistics or []):
        for key, value in statistics.items():
            arrays[f"best_bn/{index}/{key}"] = value
    global_rng = np.random.get_state()
    arrays["global_rng/keys"] = global_rng[1]
    meta = {
        "format": FORMAT,
        "model_class": type(solver.model).__name__,
        "param_names": list(solver.model.params),
        "update_rule": solver.update_rule if isinstance(solver.update_rule, str) else None,
        "lr_decay": solver.lr_decay,
        "batch_size": solver.batch_size,
        "num_epochs": solver.num_epochs,
        "epoch": solver.epoch,
        "iteration": solver.iteration,
        "best_val_acc": solver.best_val_acc,
        "has_best_bn": solver.best_bn_statistics is not None,
        "num_bn_layers": len(bn_params(solver.model)),
        "loss_history": solver.loss_history,
        "train_acc_history": solver.train_acc_history,
        "val_acc_history": solver.val_acc_history,
        "optim_scalars": optim_scalars,
        "rng_state": solver.rng.bit_generator.state,
        "global_rng": [global_rng[0], int(global_rng[2]), int(global_rng[3]),
                       float(global_rng[4])],
    }
    return arrays, meta


def _array(arrays, name, source):
    try:
        return arrays[name]
    except KeyError:
        raise CheckpointError(f"{source!r} is not a readable vjpnet checkpoint: it holds no "
                              f"array {name!r}") from None


def _check_meta(meta, source):
    """Raise CheckpointError unless `meta` holds every key `restore` reads, of its type."""
    missing = [key for key in META_TYPES if key not in meta]
    if missing:
        raise _damaged(source, f"its metadata lacks the key(s) {missing}")
    for key, kind in META_TYPES.items():
        if not isinstance(meta[key], kind) or (kind is int and isinstance(meta[key], bool)):
            raise _damaged(source, f"its metadata holds {key}={meta[key]!r} of JSON type "
                                   f"{type(meta[key]).__name__}")


def _check_compatible(solver, arrays, meta, source):
    """Raise ValueError if the checkpoint cannot continue `solver`'s training."""
    _check_meta(meta, source)
    model = solver.model
    names = meta["param_names"]
    if sorted(names) != sorted(model.params):
        raise ValueError(f"Solver.load_checkpoint: {source!r} holds params {sorted(names)} but "
                         f"the model has {sorted(model.params)}")
    for name in names:
        saved, current = _array(arrays, f"params/{name}", source), model.params[name]
        if saved.shape != np.shape(current):
            raise ValueError(f"Solver.load_checkpoint: param {name!r} has shape "
                             f"{saved.shape} in {source!r} but {np.shape(current)} in the model")
    if meta["num_bn_layers"] != len(bn_params(model)):
        raise ValueError(f"Solver.load_checkpoint: {source!r} holds {meta['num_bn_layers']} "
                         f"batchnorm layers but the model has {len(bn_params(model))}")
    if meta["update_rule"] is not None and meta["update_rule"] != solver.update_rule:
        raise ValueError(f"Solver.load_checkpoint: {source!r} was trained with update rule "
                         f"{meta['update_rule']!r} but this solver uses "
                         f"{solver.update_rule!r}")
    _array(arrays, "global_rng/keys", source)


def restore(solver, arrays, meta, source):
    """Put the state of a verified checkpoint (arrays, meta from read_checkpoint) into
    `solver`; `source` names the checkpoint in errors."""
    _check_compatible(solver, arrays, meta, source)
    names = meta["param_names"]
    model = solver.model
    for name in names:
        model.params[name] = arrays[f"params/{name}"]
    solver.best_params = {name: arrays[f"best_params/{name}"] for name in names
                          if f"best_params/{name}" in arrays}
    solver.optim_configs = {}
    for name in names:
        config = dict(meta["optim_scalars"].get(name, {}))
        prefix = f"optim/{name}/"
        config.update({key[len(prefix):]: value for key, value in arrays.items()
                       if key.startswith(prefix)})
        solver.optim_configs[name] = config

    def statistics(prefix):
        return [{key: arrays[f"{prefix}/{index}/{key}"] for key in _BN_STATISTICS
                 if f"{prefix}/{index}/{key}" in arrays}
                for index in range(meta["num_bn_layers"])]

    restore_bn_statistics(model, statistics("bn"))
    solver.best_bn_statistics = statistics("best_bn") if meta["has_best_bn"] else None
    solver.epoch = meta["epoch"]
    solver.iteration = meta["iteration"]
    solver.best_val_acc = meta["best_val_acc"]
    solver.loss_history = list(meta["loss_history"])
    solver.train_acc_history = list(meta["train_acc_history"])
    solver.val_acc_history = list(meta["val_acc_history"])
    solver.rng.bit_generator.state = meta["rng_state"]
    name, position, has_gauss, cached_gaussian = meta["global_rng"]
    np.random.set_state((name, arrays["global_rng/keys"], position, has_gauss,
                         cached_gaussian))
    return solver


def save(solver, path):
    """Write the whole training state of `solver` to `path` (.npz) atomically."""
    arrays, meta = encode(solver)
    return write_checkpoint(path, arrays, meta)


def load(solver, path):
    """Restore the training state that `save` wrote to `path` into `solver`."""
    path = os.fspath(path)
    arrays, meta = read_checkpoint(path)
    return restore(solver, arrays, meta, path)
