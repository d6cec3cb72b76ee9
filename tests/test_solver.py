"""Solver: bad input, histories, learning-rate decay, best params, NaN stop, checkpoints."""
import os
import sys

import numpy as np
import pytest

from vjpnet import solver_state
from vjpnet.solver import Solver


class SoftmaxRegression:
    """Tiny linear classifier with a hand-written gradient: test scaffolding for the Solver
    only (the real models in vjpnet.models get gradients from vjpnet.grad)."""

    def __init__(self, input_dim=4, num_classes=3, seed=0, with_bn_params=False):
        rng = np.random.default_rng(seed)
        self.params = {"W": 0.01 * rng.standard_normal((input_dim, num_classes)),
                       "b": np.zeros(num_classes)}
        self.bn_params = [{"mode": "train"}] if with_bn_params else []
        self.calls = 0

    def loss(self, X, y=None):
        scores = X @ self.params["W"] + self.params["b"]
        if y is None:
            return scores
        self.calls += 1
        for bn in self.bn_params:     # pretend running statistics, to exercise checkpointing
            bn["running_mean"] = bn.get("running_mean", np.zeros(2)) + X.mean()
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        num = X.shape[0]
        loss = -np.log(probs[np.arange(num), y]).mean()
        dscores = probs
        dscores[np.arange(num), y] -= 1
        dscores /= num
        return loss, {"W": X.T @ dscores, "b": dscores.sum(axis=0)}


def blobs(num=120, seed=0):
    rng = np.random.default_rng(seed)
    centers = 2.0 * rng.standard_normal((3, 4))
    y = rng.integers(0, 3, num)
    X = centers[y] + 0.8 * rng.standard_normal((num, 4))
    return {"X_train": X[:90], "y_train": y[:90], "X_val": X[90:], "y_val": y[90:]}


def quiet(**kwargs):
    return dict(dict(verbose=False, batch_size=10, seed=0), **kwargs)


# ----------------------------------------------------------------------------- bad input

def test_unknown_keyword():
    with pytest.raises(ValueError, match="unknown keyword argument.*'learning_rate'"):
        Solver(SoftmaxRegression(), blobs(), learning_rate=1e-3)


def test_unknown_update_rule():
    with pytest.raises(ValueError, match="unknown update rule 'sgd_nesterov'"):
        Solver(SoftmaxRegression(), blobs(), update_rule="sgd_nesterov")


def test_data_missing_a_key():
    data = blobs()
    del data["y_val"]
    with pytest.raises(ValueError, match=r"data is missing \['y_val'\]"):
        Solver(SoftmaxRegression(), data)


def test_x_y_length_mismatch():
    data = blobs()
    data["y_train"] = data["y_train"][:-1]
    with pytest.raises(ValueError, match=r"X_train.shape=\(90, 4\), y_train.shape=\(89,\)"):
        Solver(SoftmaxRegression(), data)


@pytest.mark.parametrize("kwargs", [dict(batch_size=0), dict(num_epochs=-1),
                                    dict(lr_decay=float("nan")), dict(progress="fancy")])
def test_bad_settings(kwargs):
    with pytest.raises(ValueError):
        Solver(SoftmaxRegression(), blobs(), **kwargs)


def test_float_labels_rejected():
    data = blobs()
    data["y_train"] = data["y_train"].astype(float)
    with pytest.raises(TypeError, match="integer class labels"):
        Solver(SoftmaxRegression(), data)


# ----------------------------------------------------------------------------- training

def test_histories_decay_and_best_params():
    model = SoftmaxRegression()
    solver = Solver(model, blobs(), **quiet(update_rule="sgd_momentum", num_epochs=3,
                                            lr_decay=0.5, optim_config={"learning_rate": 0.1}))
    solver.train()
    assert len(solver.loss_history) == 3 * 9
    assert len(solver.train_acc_history) == len(solver.val_acc_history) == 1 + 3
    for config in solver.optim_configs.values():
        assert config["learning_rate"] == pytest.approx(0.1 * 0.5 ** 3)
    assert solver.best_val_acc == max(solver.val_acc_history)
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, solver.best_params[name])
    assert solver.check_accuracy(solver.X_val, solver.y_val) == solver.best_val_acc
    assert solver.best_val_acc > 0.9


def test_nan_loss_stops_with_the_iteration(capsys):
    class Diverging(SoftmaxRegression):
        def loss(self, X, y=None):
            result = super().loss(X, y)
            if y is not None and self.calls == 5:
                return float("nan"), result[1]
            return result

    model = Diverging()
    solver = Solver(model, blobs(), **quiet(num_epochs=2))
    with pytest.raises(FloatingPointError, match="loss is nan at iteration 5"):
        solver.train()
    assert len(solver.loss_history) == 4


def test_log_lines_when_not_a_terminal(capsys):
    Solver(SoftmaxRegression(), blobs(), batch_size=30, num_epochs=2, print_every=1,
           seed=0).train()
    out = capsys.readouterr().out
    assert "(Iteration 1 / 6) loss:" in out
    assert "(Epoch 2 / 2) train acc:" in out


def test_progress_bar_and_fallback_without_tqdm(capsys, monkeypatch):
    pytest.importorskip("tqdm")
    Solver(SoftmaxRegression(), blobs(), batch_size=30, num_epochs=1, seed=0,
           progress="bar").train()
    captured = capsys.readouterr()
    assert "(Epoch 1 / 1)" in captured.out + captured.err
    assert "(Iteration" not in captured.out
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)     # import now fails
    Solver(SoftmaxRegression(), blobs(), batch_size=30, num_epochs=1, seed=0,
           progress="bar").train()
    assert "(Iteration 1 / 3)" in capsys.readouterr().out


def test_callable_update_rule():
    calls = []

    def halve(w, dw, config=None):
        calls.append(1)
        return w - 0.5 * dw, config

    Solver(SoftmaxRegression(), blobs(), **quiet(update_rule=halve, num_epochs=1)).train()
    assert len(calls) == 9 * 2


# ----------------------------------------------------------------------------- checkpoints

def run(tmp_path, name, num_epochs, resume_from=None, with_bn_params=True):
    model = SoftmaxRegression(with_bn_params=with_bn_params)
    solver = Solver(model, blobs(), **quiet(update_rule="adam", num_epochs=num_epochs,
                                            lr_decay=0.9, num_train_samples=50,
                                            optim_config={"learning_rate": 0.05},
                                            checkpoint_name=str(tmp_path / name),
                                            resume_from=resume_from))
    solver.train()
    return model, solver


def test_resume_equals_uninterrupted_run(tmp_path):
    np.random.seed(123)
    full_model, full = run(tmp_path, "full", num_epochs=4)
    np.random.seed(123)
    run(tmp_path, "part", num_epochs=2)
    resumed_model, resumed = run(tmp_path, "resumed", num_epochs=4,
                                 resume_from=tmp_path / "part.npz")
    for name in full_model.params:
        np.testing.assert_array_equal(full_model.params[name], resumed_model.params[name])
        np.testing.assert_array_equal(full.optim_configs[name]["m"],
                                      resumed.optim_configs[name]["m"])
    assert full.optim_configs["W"]["t"] == resumed.optim_configs["W"]["t"] == 36
    assert full.loss_history == resumed.loss_history
    assert full.train_acc_history == resumed.train_acc_history
    assert full.val_acc_history == resumed.val_acc_history
    assert full.best_val_acc == resumed.best_val_acc
    np.testing.assert_array_equal(full_model.bn_params[0]["running_mean"],
                                  resumed_model.bn_params[0]["running_mean"])


def test_interrupted_write_leaves_previous_checkpoint(tmp_path, monkeypatch):
    model, solver = run(tmp_path, "ckpt", num_epochs=1)
    path = tmp_path / "ckpt.npz"
    before = path.read_bytes()

    def crash_midway(handle, data):
        handle.write(data[:len(data) // 2])
        raise KeyboardInterrupt("simulated crash during the write")

    monkeypatch.setattr(solver_state, "_write_bytes", crash_midway)
    solver.model.params["W"] = solver.model.params["W"] + 1.0
    with pytest.raises(KeyboardInterrupt):
        solver.save_checkpoint(path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]     # no temporary file left behind
    fresh = Solver(SoftmaxRegression(with_bn_params=True), blobs(),
                   **quiet(update_rule="adam", resume_from=path))
    assert fresh.epoch == 1 and fresh.iteration == 9


def test_checkpoint_is_npz_without_pickles(tmp_path):
    _, solver = run(tmp_path, "ckpt", num_epochs=1)
    with np.load(tmp_path / "ckpt.npz", allow_pickle=False) as archive:
        assert "params/W" in archive.files and "optim/W/m" in archive.files
        assert all(archive[key].dtype != object for key in archive.files)


def test_checkpoint_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, meta_json=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a readable vjpnet checkpoint"):
        Solver(SoftmaxRegression(), blobs(), resume_from=path)


def test_checkpoint_for_another_model_is_refused(tmp_path):
    run(tmp_path, "ckpt", num_epochs=1)
    wider = SoftmaxRegression(num_classes=4, with_bn_params=True)
    with pytest.raises(ValueError, match=r"param 'W' has shape \(4, 3\).*\(4, 4\)"):
        Solver(wider, blobs(), update_rule="adam", resume_from=tmp_path / "ckpt.npz")
    with pytest.raises(ValueError, match="update rule 'adam'"):
        Solver(SoftmaxRegression(with_bn_params=True), blobs(), update_rule="sgd",
               resume_from=tmp_path / "ckpt.npz")
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        Solver(SoftmaxRegression(), blobs(), resume_from=tmp_path / "missing.npz")


def test_auto_progress_uses_a_bar_only_on_a_terminal(capsys, monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    Solver(SoftmaxRegression(), blobs(), batch_size=30, num_epochs=1, seed=0).train()
    captured = capsys.readouterr()
    assert "(Iteration" not in captured.out             # the bar replaces the loss lines
    assert "it" in captured.err                         # tqdm's bar (units 'it')
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    Solver(SoftmaxRegression(), blobs(), batch_size=30, num_epochs=1, seed=0).train()
    assert "(Iteration 1 / 3)" in capsys.readouterr().out
