"""Training-step speed, side by side: vjpnet, hand-written NumPy, HIPS autograd and PyTorch.

Each case times one loss + gradient evaluation (a training step without the parameter update)
of every implementation. Every implementation runs in its own worker process (importing torch
slows NumPy's BLAS down in the same process, and each library keeps its own memory), and the
workers take turns: round after round, each runs a block of calls while the others wait, so
load from other jobs on the machine hits them alike. Printed per implementation: the median
time per call, its ratio to the case's reference (hand-written NumPy or the notebook's layers
chained by hand) and to PyTorch, and the minor page faults per call at steady state
(getrusage, counted around each call after a warm-up). Before timing, every implementation's
loss and gradients are checked against the reference's. Each implementation runs in
--processes processes (default 2) whose times are pooled: at D=64 one process can be several
percent faster than another running the same code (memory layout, which core it lands on).

1. Two-layer net, affine - relu - affine - softmax loss (+ 0.5 * reg * (|W1|^2 + |W2|^2)),
   N=100, H=100, C=10, D=64 and D=3072, float64: hand-written NumPy; vjpnet.value_and_grad of
   the loss written with vjpnet.nn ops and plain NumPy for the L2 term; TwoLayerNet.loss (which
   uses nn.l2_penalty); the first layer as plain `X @ W1 + b1`; HIPS autograd; PyTorch.
2. Convnet step: conv 3x3x16 pad 1 - relu - 2x2 max pool - affine 100 - relu - affine 10 -
   softmax loss on a batch of 50 3x32x32 images, float64 and float32: the notebook's layer
   API chained by hand (vjpnet.layers with vjpnet_fast's kernels); vjpnet.value_and_grad of
   the loss written with nn ops in that order; ThreeLayerConvNet.loss with the same layers;
   HIPS autograd (conv as a sum of einsums over filter offsets); PyTorch.
3. ThreeLayerConvNet on CIFAR-sized data: the model's defaults (32 7x7 filters, hidden 100)
   with reg=1e-3, batch 50 of 3x32x32, float64 and float32: layers by hand, the model's
   loss, HIPS autograd, PyTorch (all with the L2 term).
4. ThreeLayerConvNet trained on the 8x8 digits (1,257 images, batch 50): seconds per epoch
   with the fast and the naive kernels (in this process).

    python benchmarks/bench_training.py [--parts 1,2,3,4] [--rounds 30] [--processes 2]
                                        [--threads 1] [--compare autograd,torch] [--epochs 5]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def _threads_from_argv(argv):
    """--threads N (default 1) must act before NumPy loads its BLAS, so read it early."""
    for position, arg in enumerate(argv):
        if arg == "--threads" and position + 1 < len(argv):
            return argv[position + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


THREADS = _threads_from_argv(sys.argv)
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = THREADS

import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)   # run from a checkout without installing

N, H, C = 100, 100, 10
BATCH = 50
TORCH = "PyTorch"
AUTOGRAD = "HIPS autograd"


# ----------------------------------------------------------------------------- the cases

def two_layer_problem(D, reg):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D))
    y = rng.integers(C, size=N)
    params = {"W1": 0.01 * rng.standard_normal((D, H)), "b1": 0.01 * rng.standard_normal(H),
              "W2": 0.1 * rng.standard_normal((H, C)), "b2": 0.01 * rng.standard_normal(C)}
    return params, X, y


def convnet_problem(filters, size, reg, dtype):
    """Params of ThreeLayerConvNet(input_dim=(3, 32, 32), num_filters=filters,
    filter_size=size, hidden_dim=100) and a batch of 50 images, in `dtype`."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((BATCH, 3, 32, 32)).astype(dtype)
    y = rng.integers(10, size=BATCH)
    params = {"W1": 0.1 * rng.standard_normal((filters, 3, size, size)),
              "b1": 0.01 * rng.standard_normal(filters),
              "W2": 0.01 * rng.standard_normal((filters * 16 * 16, 100)),
              "b2": 0.01 * rng.standard_normal(100),
              "W3": 0.1 * rng.standard_normal((100, 10)), "b3": 0.01 * rng.standard_normal(10)}
    return {k: v.astype(dtype) for k, v in params.items()}, X, y


# ----------------------------------------------------------------------------- two-layer net

def two_layer_hand_written(params, X, y, reg):
    """Forward and backward by hand, as a careful NumPy programmer writes them."""
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    hidden_in = X @ W1 + b1
    hidden = np.maximum(hidden_in, 0)
    scores = hidden @ W2 + b2
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    rows = np.arange(len(y))
    loss = np.mean(np.log(sum_exp[:, 0]) - shifted[rows, y])
    if reg:
        loss += 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    dscores = exp / sum_exp
    dscores[rows, y] -= 1
    dscores /= len(y)
    dW2 = hidden.T @ dscores
    if reg:
        dW2 += reg * W2
    db2 = dscores.sum(axis=0)
    dhidden = dscores @ W2.T
    dhidden[hidden_in <= 0] = 0
    dW1 = X.T @ dhidden
    if reg:
        dW1 += reg * W1
    db1 = dhidden.sum(axis=0)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


def two_layer_vjpnet_loss(params, X, y, reg):
    from vjpnet import nn
    hidden = nn.relu(nn.affine(X, params["W1"], params["b1"]))
    scores = nn.affine(hidden, params["W2"], params["b2"])
    loss = nn.softmax_loss(scores, y)
    if reg:
        l2 = np.sum(np.square(params["W1"])) + np.sum(np.square(params["W2"]))
        loss = loss + 0.5 * reg * l2
    return loss


def two_layer_vjpnet_loss_matmul_first(params, X, y, reg):
    """The same loss with the first layer in plain NumPy: `X @ W1 + b1` records a matmul and an
    add (no input validation); like nn.affine, the matmul VJP skips the constant X."""
    from vjpnet import nn
    hidden = nn.relu(X @ params["W1"] + params["b1"])
    scores = nn.affine(hidden, params["W2"], params["b2"])
    loss = nn.softmax_loss(scores, y)
    if reg:
        l2 = np.sum(np.square(params["W1"])) + np.sum(np.square(params["W2"]))
        loss = loss + 0.5 * reg * l2
    return loss


def make_two_layer(name, D, reg):
    params, X, y = two_layer_problem(D, reg)
    if name == "hand-written NumPy":
        return lambda: two_layer_hand_written(params, X, y, reg)
    if name == "vjpnet.value_and_grad":
        import vjpnet
        value_and_grad = vjpnet.value_and_grad(two_layer_vjpnet_loss)
        return lambda: value_and_grad(params, X, y, reg)
    if name == "vjpnet TwoLayerNet.loss":
        from vjpnet.models import TwoLayerNet
        model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, reg=reg)
        model.params = dict(params)
        return lambda: model.loss(X, y)
    if name == "vjpnet, 1st layer X @ W1 + b1":
        import vjpnet
        value_and_grad = vjpnet.value_and_grad(two_layer_vjpnet_loss_matmul_first)
        return lambda: value_and_grad(params, X, y, reg)
    if name == AUTOGRAD:
        import autograd
        import autograd.numpy as anp

        def loss(params, X, y, reg):
            hidden = anp.maximum(anp.dot(X, params["W1"]) + params["b1"], 0)
            scores = anp.dot(hidden, params["W2"]) + params["b2"]
            shifted = scores - anp.max(scores, axis=1, keepdims=True)
            log_probs = shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))
            data_loss = -anp.mean(log_probs[anp.arange(len(y)), y])
            if not reg:
                return data_loss
            W1, W2 = params["W1"], params["W2"]
            return data_loss + 0.5 * reg * (anp.sum(W1 * W1) + anp.sum(W2 * W2))
        value_and_grad = autograd.value_and_grad(loss)
        return lambda: value_and_grad(params, X, y, reg)
    if name == TORCH:
        import torch
        torch.set_num_threads(int(THREADS))
        tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)

        def step():
            for tensor in tensors.values():
                tensor.grad = None
            hidden = torch.relu(X_t @ tensors["W1"] + tensors["b1"])
            scores = hidden @ tensors["W2"] + tensors["b2"]
            loss = torch.nn.functional.cross_entropy(scores, y_t)
            if reg:
                W1, W2 = tensors["W1"], tensors["W2"]
                loss = loss + 0.5 * reg * ((W1 * W1).sum() + (W2 * W2).sum())
            loss.backward()
            return loss.item(), {k: t.grad.numpy() for k, t in tensors.items()}
        return step
    raise KeyError(name)


# ----------------------------------------------------------------------------- convnets

CONV_PARAM = {"stride": 1}
POOL_PARAM = {"pool_height": 2, "pool_width": 2, "stride": 2}


def convnet_layers_by_hand(params, X, y, reg, pad):
    """The notebook's layer API chained by hand (conv - relu - pool - affine - relu - affine -
    softmax), with vjpnet_fast's conv and pool kernels."""
    from vjpnet import layers
    from vjpnet.layer_utils import select_kernels
    kernels = select_kernels()
    conv_param = dict(CONV_PARAM, pad=pad)
    conv, conv_cache = kernels.conv_forward(X, params["W1"], params["b1"], conv_param)
    relu1, relu1_cache = layers.relu_forward(conv)
    pooled, pool_cache = kernels.pool_forward(relu1, POOL_PARAM)
    hidden_in, affine2_cache = layers.affine_forward(pooled, params["W2"], params["b2"])
    hidden, relu2_cache = layers.relu_forward(hidden_in)
    scores, affine3_cache = layers.affine_forward(hidden, params["W3"], params["b3"])
    loss, dscores = layers.softmax_loss(scores, y)
    dhidden, dW3, db3 = layers.affine_backward(dscores, affine3_cache)
    dhidden_in = layers.relu_backward(dhidden, relu2_cache)
    dpooled, dW2, db2 = layers.affine_backward(dhidden_in, affine2_cache)
    drelu1 = kernels.pool_backward(dpooled, pool_cache)
    dconv = layers.relu_backward(drelu1, relu1_cache)
    _, dW1, db1 = kernels.conv_backward(dconv, conv_cache)
    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "W3": dW3, "b3": db3}
    if reg:
        for name in ("W1", "W2", "W3"):
            loss = loss + 0.5 * reg * np.sum(params[name] * params[name])
            grads[name] = grads[name] + reg * params[name]
    return loss, grads


def make_convnet(name, filters, size, reg, dtype):
    params, X, y = convnet_problem(filters, size, reg, dtype)
    pad = (size - 1) // 2
    if name == "layers by hand (vjpnet_fast kernels)":
        return lambda: convnet_layers_by_hand(params, X, y, reg, pad)
    if name == "vjpnet.value_and_grad, nn ops":
        import vjpnet
        from vjpnet import nn
        conv_param = dict(CONV_PARAM, pad=pad)

        def loss(params, X, y):
            conv = nn.relu(nn.conv2d(X, params["W1"], params["b1"], conv_param))
            pooled = nn.max_pool2d(conv, POOL_PARAM)
            hidden = nn.relu(nn.affine(pooled, params["W2"], params["b2"]))
            total = nn.softmax_loss(nn.affine(hidden, params["W3"], params["b3"]), y)
            if reg:
                total = total + 0.5 * reg * sum(np.sum(np.square(params[name]))
                                                for name in ("W1", "W2", "W3"))
            return total
        value_and_grad = vjpnet.value_and_grad(loss)
        return lambda: value_and_grad(params, X, y)
    if name == "vjpnet ThreeLayerConvNet.loss":
        from vjpnet.models import ThreeLayerConvNet
        model = ThreeLayerConvNet(input_dim=(3, 32, 32), num_filters=filters, filter_size=size,
                                  hidden_dim=100, num_classes=10, reg=reg, dtype=dtype)
        model.params = dict(params)
        return lambda: model.loss(X, y)
    if name == AUTOGRAD:
        import autograd
        import autograd.numpy as anp
        X_padded = np.pad(X, ((0, 0), (0, 0), (pad, pad), (pad, pad)))   # data: a constant

        def loss(params, y):
            W1 = params["W1"]
            conv = 0.0
            for i in range(size):
                for j in range(size):
                    patch = X_padded[:, :, i:i + 32, j:j + 32]
                    conv = conv + anp.einsum("nchw,fc->nfhw", patch, W1[:, :, i, j])
            conv = anp.maximum(conv + params["b1"][None, :, None, None], 0.0)
            pooled = anp.max(anp.reshape(conv, (BATCH, filters, 16, 2, 16, 2)), axis=(3, 5))
            hidden = anp.maximum(anp.dot(anp.reshape(pooled, (BATCH, -1)), params["W2"])
                                 + params["b2"], 0.0)
            scores = anp.dot(hidden, params["W3"]) + params["b3"]
            shifted = scores - anp.max(scores, axis=1, keepdims=True)
            log_probs = shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))
            total = -anp.mean(log_probs[anp.arange(BATCH), y])
            if reg:
                total = total + 0.5 * reg * sum(anp.sum(params[k] * params[k])
                                                for k in ("W1", "W2", "W3"))
            return total
        value_and_grad = autograd.value_and_grad(loss)
        return lambda: value_and_grad(params, y)
    if name == TORCH:
        import torch
        functional = torch.nn.functional
        torch.set_num_threads(int(THREADS))
        tensors = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
        X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)

        def step():
            for tensor in tensors.values():
                tensor.grad = None
            conv = torch.relu(functional.conv2d(X_t, tensors["W1"], tensors["b1"], padding=pad))
            pooled = functional.max_pool2d(conv, 2)
            hidden = torch.relu(pooled.reshape(BATCH, -1) @ tensors["W2"] + tensors["b2"])
            loss = functional.cross_entropy(hidden @ tensors["W3"] + tensors["b3"], y_t)
            if reg:
                loss = loss + 0.5 * reg * sum((tensors[k] * tensors[k]).sum()
                                              for k in ("W1", "W2", "W3"))
            loss.backward()
            return loss.item(), {k: t.grad.numpy() for k, t in tensors.items()}
        return step
    raise KeyError(name)


# ----------------------------------------------------------------------------- workers

def case_title(case):
    if case["kind"] == "two_layer":
        return (f"Two-layer net, one loss + gradient: N={N}, D={case['D']}, H={H}, C={C}, "
                f"reg={case['reg']:g}, float64")
    if case["kind"] == "convnet_step":
        return (f"Convnet step (conv 3x3x16 pad 1 - relu - pool 2x2 - affine 100 - relu - "
                f"affine 10 - softmax), batch {BATCH} of 3x32x32, {case['dtype']}")
    return (f"ThreeLayerConvNet defaults (32 7x7 filters, hidden 100), reg={case['reg']:g}, "
            f"batch {BATCH} of 3x32x32, {case['dtype']}")


def make_step(case, name):
    if case["kind"] == "two_layer":
        return make_two_layer(name, case["D"], case["reg"])
    if case["kind"] == "convnet_step":
        return make_convnet(name, 16, 3, case["reg"], case["dtype"])
    return make_convnet(name, 32, 7, case["reg"], case["dtype"])


def minor_faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def as_result(output):
    """(loss, grads) of any implementation as (float, {name: float64 ndarray})."""
    loss, grads = output
    return float(loss), {k: np.array(v, dtype=np.float64) for k, v in grads.items()}


def worker(case_json, name, check_path):
    """Run in a child process: build one implementation, save its result for the check, then
    time blocks of calls on request ("run CALLS" on stdin; a JSON line of times and faults
    per call on stdout)."""
    case = json.loads(case_json)
    try:
        step = make_step(case, name)
    except ImportError as error:
        print(json.dumps({"missing": str(error)}), flush=True)
        return
    loss, grads = as_result(step())
    np.savez(check_path, __loss__=loss, **grads)
    label = name
    if name == TORCH:
        import torch
        label = f"PyTorch {torch.__version__.split('+')[0]}"
    elif name == AUTOGRAD:
        import importlib.metadata
        label = f"HIPS autograd {importlib.metadata.version('autograd')}"
    for _ in range(case["warmup"]):
        step()
    print(json.dumps({"ready": label}), flush=True)
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] != "run":
            break
        times, faults = [], []
        for _ in range(int(command[1])):
            before = minor_faults()
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
            faults.append(minor_faults() - before)
        print(json.dumps({"times": times, "faults": faults}), flush=True)


class Worker:
    """One implementation in its own process (see `worker`)."""

    def __init__(self, case, name, check_path):
        self.name, self.check_path = name, check_path
        command = [sys.executable, os.path.abspath(__file__), "--worker", json.dumps(case),
                   name, check_path, "--threads", THREADS]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, bufsize=1)
        self.times, self.faults = [], []
        self.label, self.missing = name, None

    def wait_ready(self):
        line = self.process.stdout.readline()
        if not line:
            self.missing = self.process.stderr.read().strip().splitlines()[-1:] or ["failed"]
            self.missing = self.missing[0]
            return
        message = json.loads(line)
        self.missing = message.get("missing")
        self.label = message.get("ready", self.name)

    def run(self, calls):
        self.process.stdin.write(f"run {calls}\n")
        message = json.loads(self.process.stdout.readline())
        self.times += message["times"]
        self.faults += message["faults"]

    def close(self):
        if self.process.poll() is None:
            try:
                self.process.stdin.write("quit\n")
                self.process.stdin.close()
            except OSError:
                pass
            self.process.wait()


def check_results(case, workers, reference):
    """Every implementation's loss and gradients against the reference's."""
    tolerance = 1e-7 if case.get("dtype", "float64") == "float64" else 2e-3
    expected = np.load(reference.check_path)
    for worker_ in workers:
        if worker_ is reference:
            continue
        got = np.load(worker_.check_path)
        for key in expected.files:
            scale = max(1.0, float(np.max(np.abs(expected[key]))))
            error = float(np.max(np.abs(got[key] - expected[key]))) / scale
            assert error < tolerance, f"{worker_.label}: {key} differs from " \
                                      f"{reference.label} (relative error {error:.2e})"


def compare(case, names, rounds, calls, processes, slow_rounds=3):
    """Time the implementations `names` of `case` round by round, each in `processes` worker
    processes (pooled: a process's memory layout and CPU can favour it by several percent);
    print the table; return {name: (median seconds, median faults)} for those measured."""
    slow = case["kind"] != "two_layer"     # HIPS autograd's convnets: a few calls, one process
    with tempfile.TemporaryDirectory() as directory:
        workers = [Worker(case, name, os.path.join(directory, f"{index}-{replica}.npz"))
                   for index, name in enumerate(names)
                   for replica in range(1 if slow and name == AUTOGRAD else processes)]
        try:
            for worker_ in workers:
                worker_.wait_ready()
            missing = {w.name: w for w in workers if w.missing}
            workers = [w for w in workers if not w.missing]
            check_results(case, workers, workers[0])
            for round_index in range(rounds):
                shift = round_index % len(workers)   # nobody always runs right after another
                for worker_ in workers[shift:] + workers[:shift]:
                    if slow and worker_.name == AUTOGRAD:
                        if round_index < slow_rounds:
                            worker_.run(1)
                    else:
                        worker_.run(calls)
        finally:
            for worker_ in workers:
                worker_.close()
    labels, times, faults = {}, {}, {}
    for worker_ in workers:
        labels.setdefault(worker_.name, worker_.label)
        times.setdefault(worker_.name, []).extend(worker_.times)
        faults.setdefault(worker_.name, []).extend(worker_.faults)
    results = {name: (statistics.median(times[name]), statistics.median(faults[name]))
               for name in times}
    reference = results[names[0]][0]
    torch_time = results[TORCH][0] if TORCH in results else None
    print(f"\n{case_title(case)}")
    print(f"  {'implementation':40s} {'median':>10s} {'vs ' + names[0].split(' (')[0]:>22s} "
          f"{'vs PyTorch':>11s} {'faults/call':>12s}")
    for name, (seconds, faults_per_call) in results.items():
        against_torch = f"{seconds / torch_time:10.2f}x" if torch_time else f"{'':>11s}"
        time_text = f"{seconds * 1e6:7.0f} us" if seconds < 1e-2 else f"{seconds * 1e3:7.2f} ms"
        print(f"  {labels[name]:40s} {time_text:>10s} {seconds / reference:21.2f}x "
              f"{against_torch} {faults_per_call:12.0f}")
    for name, worker_ in missing.items():
        print(f"  {worker_.label:40s} not measured ({worker_.missing})")
    return results


# ----------------------------------------------------------------------------- part 4

def convnet_epochs(epochs):
    """Seconds per epoch of ThreeLayerConvNet on the digits, with each available kernel set."""
    import vjpnet  # noqa: F401
    from vjpnet.models import ThreeLayerConvNet
    try:
        from vjpnet.data import load_digits
        data = load_digits(flatten=False, dtype=np.float32)
    except ImportError as error:
        print(f"\nThreeLayerConvNet on digits: skipped ({error})")
        return
    from vjpnet.layer_utils import fast_kernels
    from vjpnet.solver import Solver
    choices = [("1", "naive NumPy")] + ([("0", "fast Cython")] if fast_kernels() else [])
    print(f"\nThreeLayerConvNet (16 3x3 filters, hidden 100, float32) on the digits: "
          f"{len(data['y_train'])} training images, batch 50, Adam, {epochs} epochs")
    previous = os.environ.get("VJPNET_NAIVE")
    try:
        for setting, label in choices:
            os.environ["VJPNET_NAIVE"] = setting
            np.random.seed(0)
            model = ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=16, filter_size=3,
                                      hidden_dim=100, num_classes=10, weight_scale=1e-1,
                                      reg=1e-3)
            solver = Solver(model, data, update_rule="adam",
                            optim_config={"learning_rate": 3e-3}, batch_size=50,
                            num_epochs=epochs, verbose=False, seed=0)
            start = time.perf_counter()
            solver.train()
            seconds = time.perf_counter() - start
            accuracy = solver.check_accuracy(data["X_test"], data["y_test"])
            print(f"  {label + ' kernels':22s} {seconds / epochs:6.3f} s/epoch "
                  f"(training + per-epoch accuracy checks); test accuracy {accuracy:.3f}")
        if len(choices) == 1:
            print("  fast Cython kernels: not built (python setup.py build_ext --inplace)")
    finally:
        if previous is None:
            os.environ.pop("VJPNET_NAIVE", None)
        else:
            os.environ["VJPNET_NAIVE"] = previous


# ----------------------------------------------------------------------------- main

TWO_LAYER_NAMES = ["hand-written NumPy", "vjpnet.value_and_grad", "vjpnet TwoLayerNet.loss",
                   "vjpnet, 1st layer X @ W1 + b1", AUTOGRAD, TORCH]
CONVNET_NAMES = ["layers by hand (vjpnet_fast kernels)", "vjpnet.value_and_grad, nn ops",
                 "vjpnet ThreeLayerConvNet.loss", AUTOGRAD, TORCH]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="1,2,3,4", help="which parts to run (1-4)")
    parser.add_argument("--rounds", type=int, default=30,
                        help="rounds of interleaved blocks per case")
    parser.add_argument("--processes", type=int, default=2,
                        help="worker processes per implementation (their times are pooled)")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--compare", default="autograd,torch",
                        help="comma-separated other libraries to time when installed "
                             "(autograd, torch); '' for none")
    parser.add_argument("--threads", default="1",
                        help="BLAS and torch threads (default 1: stable numbers on a shared "
                             "machine; every implementation gets the same)")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    parts = set(args.parts.split(","))
    others = set(filter(None, args.compare.split(",")))
    skip = ({AUTOGRAD} if "autograd" not in others else set()) | \
        ({TORCH} if "torch" not in others else set())
    print(f"{THREADS} BLAS/torch thread(s); each implementation in {args.processes} processes of "
          f"its own; load average at start {os.getloadavg()[0]:.2f}")
    summary = []
    if "1" in parts:
        names = [n for n in TWO_LAYER_NAMES if n not in skip]
        for reg in (0.0, 0.1):
            for D, calls in ((64, 20), (3072, 2)):
                case = {"kind": "two_layer", "D": D, "reg": reg, "warmup": 20}
                summary.append((case, compare(case, names, args.rounds, calls,
                                              args.processes)))
    for part, kind, reg in (("2", "convnet_step", 0.0), ("3", "cifar_convnet", 1e-3)):
        if part in parts:
            names = [n for n in CONVNET_NAMES if n not in skip]
            for dtype in ("float64", "float32"):
                case = {"kind": kind, "dtype": dtype, "reg": reg, "warmup": 3}
                summary.append((case, compare(case, names, args.rounds, 2, args.processes)))
    print_targets(summary)
    print(f"\nload average at end {os.getloadavg()[0]:.2f}")
    if "4" in parts:
        convnet_epochs(args.epochs)


def print_targets(summary):
    if not summary:
        return
    print("\nTargets (ratios of medians; faults per call at steady state; HIPS autograd's "
          "time and faults beside):")
    for case, results in summary:
        torch_result = results.get(TORCH)
        autograd_result = results.get(AUTOGRAD)
        if case["kind"] == "two_layer":
            label = f"two-layer D={case['D']:<4d} reg={case['reg']:<3g}"
            rows = ["vjpnet.value_and_grad", "vjpnet TwoLayerNet.loss"]
        else:
            label = f"{'convnet step' if case['kind'] == 'convnet_step' else 'CIFAR convnet'} " \
                    f"{case['dtype']}"
            rows = ["vjpnet.value_and_grad, nn ops", "vjpnet ThreeLayerConvNet.loss"]
        for row in rows:
            seconds, faults = results[row]
            parts = []
            if torch_result:
                ratio = seconds / torch_result[0]
                parts.append(f"{ratio:.2f}x PyTorch ({'met' if ratio < 1 else 'NOT met'})")
                parts.append(f"faults {faults:.0f} vs {torch_result[1]:.0f} "
                             f"({'met' if faults <= torch_result[1] else 'NOT met'})")
            if case["kind"] == "two_layer" and case["D"] == 64 and case["reg"]:
                ratio = seconds / results["hand-written NumPy"][0]
                parts.append(f"{ratio:.2f}x hand-written (<= 1.2x: "
                             f"{'met' if ratio <= 1.2 else 'NOT met'})")
            if autograd_result:
                against = f"{autograd_result[0] / torch_result[0]:.2f}x PyTorch, " \
                    if torch_result else ""
                parts.append(f"HIPS autograd {against}{autograd_result[0] / seconds:.1f}x "
                             f"vjpnet, faults {autograd_result[1]:.0f}")
            print(f"  {label} {row:32s} " + ", ".join(parts))


if __name__ == "__main__":
    main()
