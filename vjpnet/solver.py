"""Solver: trains a classification model with minibatch gradient descent.

    solver = Solver(model, data, update_rule='adam', optim_config={'learning_rate': 1e-3},
                    lr_decay=0.95, batch_size=100, num_epochs=10)
    solver.train()
    model.loss(X_test)            # the model now holds the best-on-validation params

The model must have
- `params`: a dict of float arrays (name -> array), replaced (never modified in place) by
  each update;
- `loss(X, y=None)`: scores of shape (N, C) when y is None, else `(loss, grads)` with grads
  keyed like params.
A model may also hold `bn_params` (a list of batchnorm parameter dicts); their running
statistics are checkpointed and kept with the best params.

`data` has X_train, y_train, X_val, y_val (X of any shape (N, ...), y integer labels (N,)).

Checkpoints (`checkpoint_name='run1'` writes `run1.npz` at the end of every epoch) hold the
whole training state (params, best params, optimizer state, histories, random states); they
are written atomically and verified when read, see vjpnet.solver_state.
`Solver(..., resume_from=path)` or `solver.load_checkpoint(path)` continues a run exactly where
the checkpoint left it.
"""
import os
import sys

import numpy as np

from vjpnet import optim, solver_state

__all__ = ["Solver"]

_DEFAULTS = {
    "update_rule": "sgd",
    "optim_config": None,
    "lr_decay": 1.0,
    "batch_size": 100,
    "num_epochs": 10,
    "print_every": 10,
    "verbose": True,
    "num_train_samples": 1000,
    "num_val_samples": None,
    "checkpoint_name": None,
    "seed": None,          # seed of the solver's own random generator (minibatches, subsampling)
    "progress": "auto",    # 'auto': tqdm bar on a terminal, log lines otherwise; 'bar'; 'log'
    "resume_from": None,   # path of a checkpoint to continue from
}


class Solver:
    """Trains `model` on `data`; see the module docstring.

    Keyword arguments (anything else is a ValueError):
    - update_rule: 'sgd', 'sgd_momentum', 'rmsprop', 'adam' or a callable rule(w, dw, config)
    - optim_config: dict of hyperparameters given to the update rule (one copy per param)
    - lr_decay: the learning rate is multiplied by this after every epoch
    - batch_size: minibatch size
    - num_epochs: number of epochs to train
    - print_every: log the training loss every this many iterations
    - verbose: False prints nothing
    - num_train_samples / num_val_samples: check accuracy on this many random samples
      (None: all of them)
    - checkpoint_name: write `<checkpoint_name>.npz` at the end of every epoch
    - seed: seed of the solver's random generator
    - progress: 'auto', 'bar' (tqdm) or 'log'
    - resume_from: checkpoint path to resume from

    After train(): loss_history (per iteration), train_acc_history and val_acc_history (per
    epoch, plus the first iteration), best_val_acc, best_params; model.params holds best_params.
    """

    def __init__(self, model, data, **kwargs):
        unknown = sorted(set(kwargs) - set(_DEFAULTS))
        if unknown:
            listing = ", ".join(map(repr, unknown))
            raise ValueError(f"Solver: unknown keyword argument(s) {listing}; expected some of "
                             f"{sorted(_DEFAULTS)}")
        settings = dict(_DEFAULTS, **kwargs)
        if not isinstance(getattr(model, "params", None), dict) or not callable(
                getattr(model, "loss", None)):
            raise TypeError(f"Solver: model must have a dict `params` and a method "
                            f"`loss(X, y=None)`, got {type(model).__name__}")
        self.model = model
        self._set_data(data)

        self.update_rule = settings["update_rule"]
        self._update = optim.get_update_rule(self.update_rule)
        optim_config = settings["optim_config"]
        if optim_config is None:
            optim_config = {}
        if not isinstance(optim_config, dict):
            raise TypeError(f"Solver: optim_config must be a dict, got "
                            f"{type(optim_config).__name__}")
        self.optim_config = dict(optim_config)
        self.lr_decay = self._number("lr_decay", settings["lr_decay"], low=0.0)
        self.batch_size = self._count("batch_size", settings["batch_size"], low=1)
        self.num_epochs = self._count("num_epochs", settings["num_epochs"], low=0)
        self.print_every = self._count("print_every", settings["print_every"], low=1)
        self.verbose = bool(settings["verbose"])
        self.num_train_samples = self._optional_count("num_train_samples",
                                                      settings["num_train_samples"])
        self.num_val_samples = self._optional_count("num_val_samples",
                                                    settings["num_val_samples"])
        self.checkpoint_name = settings["checkpoint_name"]
        if settings["progress"] not in ("auto", "bar", "log"):
            raise ValueError(f"Solver: progress must be 'auto', 'bar' or 'log', got "
                             f"{settings['progress']!r}")
        self.progress = settings["progress"]
        self.rng = np.random.default_rng(settings["seed"])
        self._reset()
        if settings["resume_from"] is not None:
            self.load_checkpoint(settings["resume_from"])

    # ------------------------------------------------------------------ validation helpers

    def _set_data(self, data):
        required = ("X_train", "y_train", "X_val", "y_val")
        try:
            missing = [key for key in required if key not in data]
        except TypeError:
            raise TypeError(f"Solver: data must be a dict with keys {list(required)}, got "
                            f"{type(data).__name__}") from None
        if missing:
            raise ValueError(f"Solver: data is missing {missing}; expected keys "
                             f"{list(required)}")
        for split in ("train", "val"):
            X, y = np.asarray(data[f"X_{split}"]), np.asarray(data[f"y_{split}"])
            if X.ndim < 1 or y.ndim != 1 or X.shape[0] != y.shape[0]:
                raise ValueError(f"Solver: X_{split} and y_{split} must hold the same number of "
                                 f"samples (y 1-d), got X_{split}.shape={X.shape}, "
                                 f"y_{split}.shape={y.shape}")
            if not np.issubdtype(y.dtype, np.integer):
                raise TypeError(f"Solver: y_{split} must hold integer class labels, got dtype "
                                f"{y.dtype}")
            if X.shape[0] == 0:
                raise ValueError(f"Solver: X_{split} is empty")
            setattr(self, f"X_{split}", X)
            setattr(self, f"y_{split}", y)

    @staticmethod
    def _count(name, value, low):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"Solver: {name} must be an int >= {low}, got {value!r}")
        return int(value)

    def _optional_count(self, name, value):
        return None if value is None else self._count(name, value, low=1)

    @staticmethod
    def _number(name, value, low):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not np.isfinite(value) or value < low:
            raise ValueError(f"Solver: {name} must be a finite number >= {low}, got {value!r}")
        return float(value)

    # ------------------------------------------------------------------ state

    def _reset(self):
        """Book-keeping variables; call only from the constructor."""
        self.epoch = 0
        self.iteration = 0
        self.best_val_acc = 0.0
        self.best_params = {}
        self.best_bn_statistics = None
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.optim_configs = {name: dict(self.optim_config) for name in self.model.params}

    # ------------------------------------------------------------------ training

    def _iterations_per_epoch(self):
        return max(self.X_train.shape[0] // self.batch_size, 1)

    def _loss_and_grads(self, batch_index):
        """(loss, grads) of the model on the training samples `batch_index`."""
        loss, grads = self.model.loss(self.X_train[batch_index], self.y_train[batch_index])
        self._check_grads(grads)
        return float(loss), grads

    def _check_grads(self, grads):
        for name in self.model.params:
            if name not in grads:
                raise ValueError(f"Solver: model.loss returned no gradient for param {name!r} "
                                 f"(got gradients for {sorted(grads)})")

    def _check_loss(self, loss):
        if not np.isfinite(loss):
            raise FloatingPointError(
                f"Solver: the loss is {loss} at iteration {self.iteration + 1} (epoch "
                f"{self.epoch + 1}); training stopped before applying that update. Try a "
                f"smaller learning rate or weight_scale, or check the data for NaN/inf.")

    def _step(self):
        """One gradient update on a random minibatch; returns the loss."""
        num_train = self.X_train.shape[0]
        batch_index = self.rng.choice(num_train, self.batch_size)
        loss, grads = self._loss_and_grads(batch_index)
        self._check_loss(loss)
        for name, value in self.model.params.items():
            next_value, next_config = self._update(value, grads[name], self.optim_configs[name])
            self.model.params[name] = next_value
            self.optim_configs[name] = next_config
        self.iteration += 1
        self.loss_history.append(loss)
        return loss

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """Fraction of samples in X (N, ...) whose predicted class equals y (N,).

        num_samples: evaluate on this many randomly chosen samples (all when None or >= N).
        batch_size: predict in batches of this size to bound memory.
        """
        X, y = np.asarray(X), np.asarray(y)
        if X.shape[:1] != y.shape or y.ndim != 1:
            raise ValueError(f"Solver.check_accuracy: X and y must hold the same number of "
                             f"samples, got X.shape={X.shape}, y.shape={y.shape}")
        num = X.shape[0]
        if num_samples is not None and num > num_samples:
            index = self.rng.choice(num, num_samples)
            X, y = X[index], y[index]
            num = num_samples
        correct = self._count_correct(X, y, batch_size)
        return correct / num if num else 0.0

    def _count_correct(self, X, y, batch_size):
        """How many samples of X (N, ...) the model classifies as y (N,)."""
        correct = 0
        for start in range(0, X.shape[0], batch_size):
            scores = self.model.loss(X[start:start + batch_size])
            correct += int(np.count_nonzero(np.argmax(scores, axis=1) == y[start:start +
                                                                             batch_size]))
        return correct

    def _reporter(self, total, initial):
        use_bar = self.verbose and self.progress != "log"
        if use_bar and self.progress == "auto":
            use_bar = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
        if use_bar:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                use_bar = False
        if use_bar:
            return _BarReporter(tqdm(total=total, initial=initial, unit="it", leave=True))
        return _LogReporter(self.verbose)

    def train(self):
        """Run (or continue) the optimization for num_epochs epochs."""
        iterations_per_epoch = self._iterations_per_epoch()
        num_iterations = self.num_epochs * iterations_per_epoch
        reporter = self._reporter(num_iterations, self.iteration)
        try:
            while self.iteration < num_iterations:
                loss = self._step()
                t = self.iteration - 1
                reporter.loss(t + 1, num_iterations, loss, show=(t % self.print_every == 0))
                epoch_end = self.iteration % iterations_per_epoch == 0
                if epoch_end:
                    self.epoch += 1
                    for config in self.optim_configs.values():
                        if "learning_rate" in config:
                            config["learning_rate"] = config["learning_rate"] * self.lr_decay
                if t == 0 or epoch_end or self.iteration == num_iterations:
                    train_acc = self.check_accuracy(self.X_train, self.y_train,
                                                    num_samples=self.num_train_samples)
                    val_acc = self.check_accuracy(self.X_val, self.y_val,
                                                  num_samples=self.num_val_samples)
                    self.train_acc_history.append(train_acc)
                    self.val_acc_history.append(val_acc)
                    reporter.epoch(self.epoch, self.num_epochs, train_acc, val_acc)
                    if val_acc > self.best_val_acc or not self.best_params:
                        self.best_val_acc = val_acc
                        self.best_params = {k: np.array(v) for k, v in self.model.params.items()}
                        self.best_bn_statistics = solver_state.bn_statistics(self.model)
                    if epoch_end and self.checkpoint_name is not None:
                        self.save_checkpoint(self.checkpoint_path())
        finally:
            reporter.close()
        if self.best_params:
            self.model.params.update({k: np.array(v) for k, v in self.best_params.items()})
            if self.best_bn_statistics is not None:
                solver_state.restore_bn_statistics(self.model, self.best_bn_statistics)
        return self

    # ------------------------------------------------------------------ checkpoints

    def checkpoint_path(self):
        """Path of the checkpoint file written at each epoch end (None without a name)."""
        if self.checkpoint_name is None:
            return None
        name = os.fspath(self.checkpoint_name)
        return name if name.endswith(".npz") else name + ".npz"

    def save_checkpoint(self, path):
        """Write the whole training state to `path` (.npz) atomically (vjpnet.solver_state)."""
        return solver_state.save(self, path)

    def load_checkpoint(self, path):
        """Restore the training state written by save_checkpoint; train() then continues.
        Raises solver_state.CheckpointError (a ValueError) naming the file and what is wrong
        if it is not an intact checkpoint, ValueError if it belongs to another model."""
        return solver_state.load(self, path)


class _LogReporter:
    """Plain log lines on stdout, as in the notebook series."""

    def __init__(self, verbose):
        self.verbose = verbose

    def loss(self, iteration, num_iterations, loss, show):
        if self.verbose and show:
            print(f"(Iteration {iteration} / {num_iterations}) loss: {loss:f}", flush=True)

    def epoch(self, epoch, num_epochs, train_acc, val_acc):
        if self.verbose:
            print(f"(Epoch {epoch} / {num_epochs}) train acc: {train_acc:f}; "
                  f"val_acc: {val_acc:f}", flush=True)

    def close(self):
        pass


class _BarReporter:
    """A tqdm progress bar (loss in the postfix, accuracy lines above the bar)."""

    def __init__(self, bar):
        self.bar = bar

    def loss(self, iteration, num_iterations, loss, show):
        self.bar.update(1)
        if show:
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def epoch(self, epoch, num_epochs, train_acc, val_acc):
        self.bar.write(f"(Epoch {epoch} / {num_epochs}) train acc: {train_acc:f}; "
                       f"val_acc: {val_acc:f}")

    def close(self):
        self.bar.close()
