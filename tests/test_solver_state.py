"""Checkpoint files (vjpnet.solver_state): verified reads, atomic writes, stale temporaries."""
import io
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

from vjpnet import solver_state
from vjpnet.solver import Solver
from vjpnet.solver_state import CheckpointError

from test_solver import SoftmaxRegression, blobs, quiet

ROOT = pathlib.Path(__file__).resolve().parent.parent


def trained_checkpoint(tmp_path, name="ckpt", num_epochs=1):
    solver = Solver(SoftmaxRegression(with_bn_params=True), blobs(),
                    **quiet(update_rule="adam", num_epochs=num_epochs,
                            checkpoint_name=str(tmp_path / name)))
    solver.train()
    return tmp_path / f"{name}.npz", solver


def small_checkpoint():
    """The bytes of a small valid checkpoint file (two arrays and a little metadata)."""
    arrays = {"params/W": np.arange(6.0).reshape(2, 3),
              "global_rng/keys": np.arange(4, dtype=np.uint32)}
    meta = {"param_names": ["W"], "loss_history": [2.5, 1.25]}
    return solver_state.encode_checkpoint(arrays, meta), arrays, meta


def load_bytes(data):
    return solver_state.read_checkpoint_bytes(data, "ckpt.npz")


def member_offset(data, member):
    """Offset of the first data byte of `member` (a .npy file inside the zip)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(member)
    name_length, extra_length = np.frombuffer(data[info.header_offset + 26:
                                                   info.header_offset + 30], "<u2")
    return info.header_offset + 30 + int(name_length) + int(extra_length)


# ----------------------------------------------------------------------------- round trip

def test_round_trip_keeps_every_array_and_the_metadata():
    data, arrays, meta = small_checkpoint()
    loaded, loaded_meta = load_bytes(data)
    assert sorted(loaded) == sorted(arrays)
    for name, value in arrays.items():
        np.testing.assert_array_equal(loaded[name], value)
        assert loaded[name].dtype == value.dtype
    assert loaded_meta["format"] == solver_state.FORMAT
    assert loaded_meta["param_names"] == ["W"]
    assert set(loaded_meta["arrays"]["params/W"]) == {"dtype", "shape", "sha256"}


def test_checkpoint_is_still_a_plain_npz(tmp_path):
    path, _ = trained_checkpoint(tmp_path)
    with np.load(path, allow_pickle=False) as archive:
        meta = json.loads(str(archive["meta_json"]))
        assert meta["format"] == solver_state.FORMAT and "params/W" in archive.files


def test_solver_round_trip_and_untouched_solver_after_a_refused_load(tmp_path):
    path, solver = trained_checkpoint(tmp_path)
    fresh = Solver(SoftmaxRegression(with_bn_params=True), blobs(),
                   **quiet(update_rule="adam", resume_from=path))
    assert (fresh.epoch, fresh.iteration) == (solver.epoch, solver.iteration)
    np.testing.assert_array_equal(fresh.model.params["W"], solver.model.params["W"])
    other = Solver(SoftmaxRegression(with_bn_params=False), blobs(), **quiet(update_rule="adam"))
    before = other.model.params["W"].copy()
    with pytest.raises(ValueError, match="1 batchnorm layers but the model has 0"):
        other.load_checkpoint(path)
    np.testing.assert_array_equal(other.model.params["W"], before)
    assert other.iteration == 0


# ----------------------------------------------------------------------------- damaged files

def damage_table(data):
    """(description, damaged bytes, expected message) for one valid checkpoint's bytes."""
    array_start = member_offset(data, "params/W.npy")
    meta_start = member_offset(data, "meta_json.npy")
    directory = data.rindex(b"PK\x01\x02")
    end_record = data.rindex(b"PK\x05\x06")

    def flip(position, mask=0x01):
        damaged = bytearray(data)
        damaged[position] ^= mask
        return bytes(damaged)

    truncated = "truncated or damaged|lacks the whole-file checksum"
    return [
        ("empty file", b"", "the file is empty"),
        ("first byte only", data[:1], "not an .npz archive"),
        ("truncated to 100 bytes", data[:100], truncated),
        ("truncated to half", data[:len(data) // 2], truncated),
        ("last byte cut", data[:-1], truncated),
        ("last 79 bytes cut", data[:-79], truncated),
        ("bytes appended", data + b"\x00", truncated),
        ("zip signature", flip(0), "not an .npz archive"),
        ("local header of params/W", flip(array_start - 40), "."),
        ("array data, first byte", flip(array_start + 128), "array 'params/W'"),
        ("array data, last byte", flip(array_start + 128 + 6 * 8 - 1, 0x80), "params/W"),
        ("npy header of params/W", flip(array_start + 20), "params/W"),
        ("metadata text", flip(meta_start + 200), "metadata"),
        ("central directory", flip(directory + 10), "."),
        ("central directory CRC", flip(directory + 16), "."),
        ("end-of-directory record", flip(end_record + 8), "."),
        ("whole-file checksum", flip(len(data) - 5), "does not match its SHA-256"),
        ("checksum prefix", flip(len(data) - 70), truncated),
        ("all zeros", bytes(len(data)), "not an .npz archive"),
        ("a text file", b"epoch,loss\n1,0.5\n", "not an .npz archive"),
        ("a PNG", b"\x89PNG\r\n\x1a\n" + bytes(40), "not an .npz archive"),
    ]


@pytest.mark.parametrize("case", range(21))
def test_damage_table(case):
    data, _, _ = small_checkpoint()
    table = damage_table(data)
    assert len(table) == 21
    description, damaged, expected = table[case]
    with pytest.raises(CheckpointError, match="'ckpt.npz' is not a readable vjpnet "
                                              "checkpoint: ") as raised:
        load_bytes(damaged)
    assert raised.type is CheckpointError, description
    assert __import__("re").search(expected, str(raised.value)), (description, raised.value)


def test_every_single_flipped_byte_is_detected():
    data, _, _ = small_checkpoint()
    for position in range(len(data)):
        damaged = bytearray(data)
        damaged[position] ^= 0x10
        with pytest.raises(CheckpointError):
            load_bytes(bytes(damaged))


def test_every_truncation_is_detected():
    data, _, _ = small_checkpoint()
    for length in range(len(data)):
        with pytest.raises(CheckpointError):
            load_bytes(data[:length])


def test_flipped_bytes_in_a_real_checkpoint_name_the_part(tmp_path):
    path, _ = trained_checkpoint(tmp_path)
    data = path.read_bytes()
    for member, what in [("params/W.npy", "array 'params/W'"),
                         ("optim/W/m.npy", "array 'optim/W/m'"),
                         ("best_params/b.npy", "array 'best_params/b'"),
                         ("meta_json.npy", "its metadata does not match")]:
        damaged = bytearray(data)
        damaged[member_offset(data, member) + 130] ^= 0x04
        path.write_bytes(bytes(damaged))
        with pytest.raises(CheckpointError, match=f"{path.name}.*{what}"):
            Solver(SoftmaxRegression(with_bn_params=True), blobs(),
                   **quiet(update_rule="adam", resume_from=path))
    rng = np.random.default_rng(0)
    for position in rng.choice(len(data), 300, replace=False):
        damaged = bytearray(data)
        damaged[position] ^= 1 << int(rng.integers(8))
        with pytest.raises(CheckpointError):
            load_bytes(bytes(damaged))


def rewrite_meta(data, change):
    """A checkpoint with the same arrays and `change(meta)` applied, with valid checksums."""
    arrays, meta = load_bytes(data)
    meta = dict(meta)
    meta.pop("arrays")
    change(meta)
    return solver_state.encode_checkpoint(arrays, meta)


def resume_with_meta(tmp_path, change):
    """Resume a Solver from a real checkpoint whose metadata `change` edited (checksums
    valid: as a buggy writer or another program would leave it)."""
    path, _ = trained_checkpoint(tmp_path)
    path.write_bytes(rewrite_meta(path.read_bytes(), change))
    return Solver(SoftmaxRegression(with_bn_params=True), blobs(),
                  **quiet(update_rule="adam", resume_from=path))


@pytest.mark.parametrize("key", sorted(solver_state.META_TYPES))
def test_metadata_missing_a_key(tmp_path, key):
    with pytest.raises(CheckpointError, match=rf"ckpt.npz' is not a readable vjpnet "
                                              rf"checkpoint: its metadata lacks the key\(s\) "
                                              rf"\['{key}'\]"):
        resume_with_meta(tmp_path, lambda meta: meta.pop(key))


def test_metadata_with_a_wrong_type(tmp_path):
    with pytest.raises(CheckpointError, match="epoch='3' of JSON type str"):
        resume_with_meta(tmp_path, lambda meta: meta.update(epoch="3"))
    resume_with_meta(tmp_path, lambda meta: None)       # unchanged: loads


@pytest.mark.parametrize("found, expected", [
    ("vjpnet.solver.checkpoint/1", "format 1 files carry no checksums"),
    ("vjpnet.solver.checkpoint/3", "has format 'vjpnet.solver.checkpoint/3'"),
    ("something.else/1", "names format 'something.else/1'"),
    (None, "names format None"),
])
def test_wrong_format_or_version(found, expected):
    data, _, _ = small_checkpoint()
    with pytest.raises(CheckpointError, match=expected):
        load_bytes(rewrite_meta(data, lambda meta: meta.update(format=found)))


def test_version_1_file_without_checksums_is_refused(tmp_path):
    path = tmp_path / "old.npz"
    np.savez(path, **{"params/W": np.zeros(3), "meta_json": np.array(json.dumps(
        {"format": "vjpnet.solver.checkpoint/1", "epoch": 1}))})
    with pytest.raises(CheckpointError, match="old.npz.*format 1 files carry no checksums"):
        solver_state.read_checkpoint(path)


@pytest.mark.parametrize("arrays, expected", [
    ({"W": np.zeros(3)}, "an .npz archive without vjpnet metadata"),
    ({"meta_json": np.array([{"a": 1}], dtype=object)}, "cannot be read.*pickle"),
    ({"meta_json": np.array("{not json")}, "not valid JSON"),
    ({"meta_json": np.array("[1, 2]")}, "a JSON list, not an object"),
    ({"meta_json": np.arange(3)}, "not a JSON string"),
])
def test_npz_files_that_are_not_checkpoints(tmp_path, arrays, expected):
    path = tmp_path / "other.npz"
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match=expected):
        solver_state.read_checkpoint(path)


def test_missing_file_and_directory():
    with pytest.raises(FileNotFoundError, match="no checkpoint file .*nowhere.npz"):
        solver_state.read_checkpoint("nowhere.npz")


def test_arrays_that_cannot_be_stored():
    with pytest.raises(TypeError, match="'bad' has dtype object"):
        solver_state.encode_checkpoint({"bad": np.array([None])}, {})
    with pytest.raises(ValueError, match="'meta_json' is reserved"):
        solver_state.encode_checkpoint({"meta_json": np.zeros(1)}, {})


# ----------------------------------------------------------------------------- writing

def test_in_process_interruption_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path, solver = trained_checkpoint(tmp_path)
    before = path.read_bytes()

    def crash_midway(stream, data):
        stream.write(data[:len(data) // 3])
        raise KeyboardInterrupt

    monkeypatch.setattr(solver_state, "_write_bytes", crash_midway)
    with pytest.raises(KeyboardInterrupt):
        solver.save_checkpoint(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


WRITER = textwrap.dedent("""
    import sys, time
    import numpy as np
    from vjpnet import solver_state
    path, mode = sys.argv[1], sys.argv[2]
    arrays = {"params/W": np.random.default_rng(0).standard_normal(2_000_000)}
    meta = {"note": "written by a process that is killed"}
    if mode == "pause":          # write half the bytes, then wait to be killed
        def half_then_wait(stream, data):
            stream.write(data[:len(data) // 2])
            stream.flush()
            print("HALF", flush=True)
            time.sleep(60)
        solver_state._write_bytes = half_then_wait
        solver_state.write_checkpoint(path, arrays, meta)
    else:                        # write new versions until killed
        print("LOOP", flush=True)
        for version in range(1000):
            solver_state.write_checkpoint(path, dict(arrays, version=np.array(version)), meta)
""")


def start_writer(tmp_path, path, mode):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get(
        "PYTHONPATH")])))
    process = subprocess.Popen([sys.executable, str(script), str(path), mode],
                               stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout.readline().strip() in ("HALF", "LOOP")
    return process


def kill(process):
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()


@pytest.mark.slow
def test_killed_writers_leave_temporaries_that_the_next_write_removes(tmp_path):
    path = tmp_path / "run.npz"
    solver_state.write_checkpoint(path, {"params/W": np.ones(3)}, {"note": "first"})
    first = path.read_bytes()
    unrelated = [tmp_path / name for name in (
        ".other.npz.0123456789abcdef.tmp",      # another checkpoint's temporary
        ".run.npz.x.0123456789abcdef.tmp",      # a checkpoint named run.npz.x
        ".run.npz.0123456789abcdef.tmp.keep",   # not a temporary of this pattern
        "run.npz.bak", ".run.npz.tmp")]
    for other in unrelated:
        other.write_bytes(b"keep me")
    for _ in range(3):
        kill(start_writer(tmp_path, path, "pause"))
    stale = solver_state.stale_temporaries(path)
    assert len(stale) == 3
    assert all(0 < os.path.getsize(name) < 16_000_000 for name in stale)   # half written
    assert path.read_bytes() == first                   # the checkpoint was never replaced
    solver_state.read_checkpoint(path)
    solver_state.write_checkpoint(path, {"params/W": np.zeros(3)}, {"note": "second"})
    assert solver_state.stale_temporaries(path) == []
    assert all(other.read_bytes() == b"keep me" for other in unrelated)
    arrays, meta = solver_state.read_checkpoint(path)
    assert meta["note"] == "second"


@pytest.mark.slow
def test_a_writer_killed_at_random_moments_always_leaves_a_valid_checkpoint(tmp_path):
    path = tmp_path / "loop.npz"
    rng = np.random.default_rng(1)
    versions = []
    for _ in range(4):
        process = start_writer(tmp_path, path, "loop")
        time.sleep(0.2 + 0.4 * rng.random())
        kill(process)
        if path.exists():
            arrays, _ = solver_state.read_checkpoint(path)    # never a damaged checkpoint
            versions.append(int(arrays["version"]))
    assert versions, "the writer never finished a checkpoint"
    solver_state.write_checkpoint(path, {"version": np.array(-1)}, {})
    assert solver_state.stale_temporaries(path) == []
