"""Training-stack speed: one loss + gradient evaluation of the two-layer net, and convnet epochs.

Part 1 measures, side by side in one run (implementations interleaved round by round, medians
over rounds), one evaluation of loss and all four parameter gradients of

    affine - relu - affine - softmax loss + 0.5 * reg * (|W1|^2 + |W2|^2)

with N=100, H=100, C=10 and D=64 / D=3072 (float64), computed by
- vjpnet (`vjpnet.value_and_grad` of a loss written with `vjpnet.nn` ops and plain NumPy),
- vjpnet through `TwoLayerNet.loss` (the same, plus the model's bookkeeping),
- vjpnet with the first layer as plain NumPy `X @ W1 + b1` instead of nn.affine (both skip
  the cotangent of the constant X; the difference is nn.affine's input validation),
- a hand-written NumPy forward/backward (the floor vjpnet is measured against),
- HIPS autograd and PyTorch (CPU) when installed.
Ratios are to the hand-written time. Targets: vjpnet <= 1.5x at D=64, <= 1.05x at D=3072.

Part 2 trains ThreeLayerConvNet on the 8x8 digits (1,257 training images, batch 50) and prints
seconds per epoch, naming the conv/pool kernels used (fast Cython or naive NumPy).

    python benchmarks/bench_training.py [--rounds 200] [--epochs 5] [--threads 1]
                                        [--regs 0,0.1] [--compare autograd,torch]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
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

# run from a checkout without installing
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import vjpnet  # noqa: E402
from vjpnet import nn  # noqa: E402
from vjpnet.models import ThreeLayerConvNet, TwoLayerNet  # noqa: E402

N, H, C = 100, 100, 10


# ----------------------------------------------------------------------------- implementations

def vjpnet_loss(params, X, y, reg):
    hidden = nn.relu(nn.affine(X, params["W1"], params["b1"]))
    scores = nn.affine(hidden, params["W2"], params["b2"])
    loss = nn.softmax_loss(scores, y)
    if reg:
        l2 = np.sum(np.square(params["W1"])) + np.sum(np.square(params["W2"]))
        loss = loss + 0.5 * reg * l2
    return loss


def vjpnet_loss_matmul_first(params, X, y, reg):
    """The same loss with the first layer in plain NumPy: `X @ W1 + b1` records a matmul and an
    add (no input validation); like nn.affine, the matmul VJP skips the constant X."""
    hidden = nn.relu(X @ params["W1"] + params["b1"])
    scores = nn.affine(hidden, params["W2"], params["b2"])
    loss = nn.softmax_loss(scores, y)
    if reg:
        l2 = np.sum(np.square(params["W1"])) + np.sum(np.square(params["W2"]))
        loss = loss + 0.5 * reg * l2
    return loss


def hand_written(params, X, y, reg):
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


def make_autograd(enabled=True):
    if not enabled:
        return None
    try:
        import autograd
        import autograd.numpy as anp
    except ImportError:
        return None

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

    return autograd.value_and_grad(loss)


def make_torch(params, X, y, reg):
    try:
        import torch
    except ImportError:
        return None, None
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

    return step, f"PyTorch {torch.__version__} ({torch.get_num_threads()} threads)"


# ----------------------------------------------------------------------------- part 1

def two_layer_comparison(D, reg, rounds, others, only=None):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D))
    y = rng.integers(C, size=N)
    params = {"W1": 0.01 * rng.standard_normal((D, H)), "b1": 0.01 * rng.standard_normal(H),
              "W2": 0.1 * rng.standard_normal((H, C)), "b2": 0.01 * rng.standard_normal(C)}
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, reg=reg)
    model.params = dict(params)
    vjpnet_value_and_grad = vjpnet.value_and_grad(vjpnet_loss)
    matmul_first_value_and_grad = vjpnet.value_and_grad(vjpnet_loss_matmul_first)

    candidates = [
        ("hand-written NumPy", lambda: hand_written(params, X, y, reg)),
        ("vjpnet.value_and_grad", lambda: vjpnet_value_and_grad(params, X, y, reg)),
        ("vjpnet TwoLayerNet.loss", lambda: model.loss(X, y)),
        ("vjpnet, 1st layer X @ W1 + b1", lambda: matmul_first_value_and_grad(params, X, y, reg)),
    ]
    autograd_value_and_grad = make_autograd("autograd" in others)
    if autograd_value_and_grad is not None:
        candidates.append(("HIPS autograd",
                           lambda: autograd_value_and_grad(params, X, y, reg)))
    if only is not None:   # the child process that times PyTorch (see torch_in_subprocess)
        torch_step, torch_name = make_torch(params, X, y, reg)
        if torch_step is None:
            return None
        candidates = [candidates[0], (torch_name, torch_step)]

    # every implementation must agree with the hand-written one before it is timed
    reference_loss, reference_grads = hand_written(params, X, y, reg)
    for name, run in candidates:
        loss, grads = run()
        assert abs(float(loss) - reference_loss) < 1e-9 * max(1.0, abs(reference_loss)), name
        for key, value in reference_grads.items():
            np.testing.assert_allclose(grads[key], value, rtol=1e-7, atol=1e-10,
                                       err_msg=f"{name}: d{key}")

    times = {name: [] for name, _ in candidates}
    number = 5 if D < 1000 else 1
    for _ in range(rounds):
        for name, run in candidates:
            start = time.perf_counter()
            for _ in range(number):
                run()
            times[name].append((time.perf_counter() - start) / number)
    floor = statistics.median(times["hand-written NumPy"])
    if only is not None:
        return {name: statistics.median(t) for name, t in times.items()}
    print(f"\nTwo-layer net, one loss + gradient: N={N}, D={D}, H={H}, C={C}, reg={reg}, float64, "
          f"{THREADS} BLAS/torch thread(s) (median of {rounds} rounds x {number} calls)")
    print(f"  {'implementation':38s} {'median':>12s} {'ratio':>8s}")
    for name, _ in candidates:
        median = statistics.median(times[name])
        print(f"  {name:38s} {median * 1e6:9.1f} us {median / floor:7.2f}x")
    if "torch" in others:
        torch_in_subprocess(D, reg, rounds)
    return {name: statistics.median(t) / floor for name, t in times.items()}


def torch_in_subprocess(D, reg, rounds):
    """Time PyTorch in a child process, against the hand-written NumPy timed there too.

    Importing torch slows NumPy's BLAS down in the same process (its OpenMP runtime and
    OpenBLAS's threads compete for the cores), which would make every other row wrong.
    """
    command = [sys.executable, os.path.abspath(__file__), "--torch-only", str(D),
               "--reg", str(reg), "--rounds", str(rounds), "--threads", THREADS]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or not result.stdout.strip():
        print(f"  PyTorch: not measured ({(result.stderr or 'not installed').strip()[-200:]})")
        return
    medians = json.loads(result.stdout.strip().splitlines()[-1])
    if medians is None:
        return   # not installed
    floor = medians.pop("hand-written NumPy")
    for name, median in medians.items():
        print(f"  {name:38s} {median * 1e6:9.1f} us {median / floor:7.2f}x   (own process; "
              f"hand-written there {floor * 1e6:.1f} us)")


# ----------------------------------------------------------------------------- part 2

def convnet_epochs(epochs):
    """Seconds per epoch of ThreeLayerConvNet on the digits, with each available kernel set."""
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--regs", default="0,0.1",
                        help="comma-separated L2 strengths to measure (0: TwoLayerNet's default, "
                             "no L2 term in any implementation)")
    parser.add_argument("--reg", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--compare", default="autograd,torch",
                        help="comma-separated other libraries to time when installed "
                             "(autograd, torch); '' for none")
    parser.add_argument("--threads", default="1",
                        help="BLAS and torch threads (default 1: stable numbers on a shared "
                             "machine; every implementation gets the same)")
    parser.add_argument("--torch-only", type=int, default=None, metavar="D",
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_only is not None:
        print(json.dumps(two_layer_comparison(args.torch_only, args.reg, args.rounds, {"torch"},
                                              only="torch")))
        return
    others = set(filter(None, args.compare.split(",")))
    summary = []
    for reg in (float(value) for value in args.regs.split(",")):
        for D, rounds, target in ((64, args.rounds, 1.5), (3072, max(10, args.rounds // 5), 1.05)):
            ratios = two_layer_comparison(D, reg, rounds, others)
            summary.append((D, reg, target, ratios))
    print("\nTargets: vjpnet <= 1.5x hand-written at D=64, <= 1.05x at D=3072")
    for D, reg, target, ratios in summary:
        ratio = ratios["vjpnet.value_and_grad"]
        print(f"  D={D:<5d} reg={reg:<4g}: vjpnet.value_and_grad {ratio:.2f}x "
              f"({'met' if ratio <= target else 'NOT met'}), TwoLayerNet.loss "
              f"{ratios['vjpnet TwoLayerNet.loss']:.2f}x, 1st layer X @ W1 + b1 "
              f"{ratios['vjpnet, 1st layer X @ W1 + b1']:.2f}x")
    convnet_epochs(args.epochs)


if __name__ == "__main__":
    main()
