"""Models: scores, numeric gradient checks in float64, dtype, regularization, training."""
import time

import numpy as np
import pytest

from vjpnet.gradient_check import eval_numerical_gradient, rel_error
from vjpnet.models import FullyConnectedNet, ThreeLayerConvNet, TwoLayerNet
from vjpnet.solver import Solver


def check_model_gradients(model, X, y, tolerance):
    loss, grads = model.loss(X, y)
    assert sorted(grads) == sorted(model.params)
    for name in sorted(model.params):
        numeric = eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name],
                                          verbose=False, h=1e-6)
        assert grads[name].shape == model.params[name].shape
        assert grads[name].dtype == model.params[name].dtype
        error = rel_error(numeric, grads[name])
        # a bias right before batchnorm has a zero gradient: compare those absolutely
        absolute = np.max(np.abs(numeric - grads[name]))
        assert error < tolerance or absolute < 1e-8, f"{name}: relative error {error:.2e}"
    return loss


# ----------------------------------------------------------------------------- TwoLayerNet

def test_two_layer_net_init_scores_and_initial_loss():
    np.random.seed(0)
    N, D, H, C = 3, 5, 50, 7
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=1e-3)
    assert {name: value.shape for name, value in model.params.items()} == {
        "W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}
    assert 5e-4 < model.params["W1"].std() < 2e-3 and not model.params["b1"].any()
    rng = np.random.default_rng(1)
    model.params = {name: rng.standard_normal(value.shape)
                    for name, value in model.params.items()}
    X = rng.standard_normal((N, D))
    p = model.params
    expected = np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
    np.testing.assert_allclose(model.loss(X), expected, rtol=1e-12)
    small = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=1e-3)
    loss, _ = small.loss(X, np.array([0, 5, 1]))
    assert abs(loss - np.log(C)) < 1e-3


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_two_layer_net_gradients(reg):
    np.random.seed(1)
    model = TwoLayerNet(input_dim=5, hidden_dim=8, num_classes=4, weight_scale=0.5, reg=reg)
    X = np.random.randn(6, 5)
    y = np.random.randint(4, size=6)
    check_model_gradients(model, X, y, tolerance=1e-6)


def test_reg_is_read_at_each_call():
    np.random.seed(2)
    model = TwoLayerNet(input_dim=4, hidden_dim=3, num_classes=2, weight_scale=1.0)
    X, y = np.random.randn(5, 4), np.array([0, 1, 1, 0, 1])
    plain, plain_grads = model.loss(X, y)
    model.reg = 2.0
    regularized, grads = model.loss(X, y)
    penalty = 0.5 * 2.0 * (np.sum(model.params["W1"] ** 2) + np.sum(model.params["W2"] ** 2))
    assert regularized == pytest.approx(plain + penalty, rel=1e-12)
    np.testing.assert_allclose(grads["W1"], plain_grads["W1"] + 2.0 * model.params["W1"])
    np.testing.assert_array_equal(grads["b1"], plain_grads["b1"])     # biases unregularized


def test_float32_model_gives_float32_gradients():
    np.random.seed(3)
    model = TwoLayerNet(input_dim=4, hidden_dim=3, num_classes=2, dtype=np.float32)
    loss, grads = model.loss(np.random.randn(5, 4), np.array([0, 1, 1, 0, 1]))
    assert isinstance(loss, float)
    assert all(grad.dtype == np.float32 for grad in grads.values())
    assert model.loss(np.random.randn(2, 4)).dtype == np.float32


# ----------------------------------------------------------------------------- FullyConnectedNet

@pytest.mark.parametrize("options", [
    dict(),
    dict(reg=3.14),
    dict(use_batchnorm=True, reg=0.1),
    dict(dropout=0.25, seed=123),
    dict(dropout=0.5, use_batchnorm=True, seed=0),
])
def test_fully_connected_net_gradients(options):
    np.random.seed(231)
    N, D, H1, H2, C = 4, 5, 6, 7, 3
    model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, weight_scale=5e-1,
                              dtype=np.float64, **options)
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=N)
    expected = {"W1", "b1", "W2", "b2", "W3", "b3"}
    if options.get("use_batchnorm"):
        expected |= {"gamma1", "beta1", "gamma2", "beta2"}
    assert set(model.params) == expected
    check_model_gradients(model, X, y, tolerance=1e-5)


def test_fully_connected_net_any_depth_and_shapes():
    np.random.seed(0)
    model = FullyConnectedNet([9, 8, 7, 6], input_dim=10, num_classes=5)
    assert model.num_layers == 5
    assert model.params["W5"].shape == (6, 5) and model.params["W1"].dtype == np.float32
    assert model.loss(np.random.randn(3, 10)).shape == (3, 5)
    shallow = FullyConnectedNet([], input_dim=10, num_classes=5)     # softmax regression
    assert sorted(shallow.params) == ["W1", "b1"]
    with pytest.raises(ValueError, match=r"dropout .* must be in \[0, 1\)"):
        FullyConnectedNet([4], dropout=1.0)


def test_batchnorm_net_running_statistics_and_test_mode():
    np.random.seed(5)
    model = FullyConnectedNet([6], input_dim=4, num_classes=3, use_batchnorm=True,
                              dtype=np.float64)
    X = np.random.randn(20, 4) + 3
    model.loss(X, np.random.randint(3, size=20))
    running = model.bn_params[0]["running_mean"].copy()
    assert running.shape == (6,) and np.abs(running).sum() > 0
    model.loss(X)                                   # test mode: uses, does not update
    np.testing.assert_array_equal(model.bn_params[0]["running_mean"], running)
    assert model.bn_params[0]["mode"] == "test"


def test_dropout_net_is_random_without_seed_and_identity_at_test():
    np.random.seed(6)
    model = FullyConnectedNet([50], input_dim=4, num_classes=3, dropout=0.5, dtype=np.float64)
    X, y = np.random.randn(8, 4), np.random.randint(3, size=8)
    assert model.loss(X, y)[0] != model.loss(X, y)[0]
    np.testing.assert_array_equal(model.loss(X), model.loss(X))


# ----------------------------------------------------------------------------- ThreeLayerConvNet

def test_three_layer_convnet_gradients():
    np.random.seed(231)
    model = ThreeLayerConvNet(input_dim=(3, 6, 6), num_filters=3, filter_size=3,
                              hidden_dim=7, num_classes=4, weight_scale=0.3, reg=0.05,
                              dtype=np.float64)
    assert model.params["W2"].shape == (3 * 3 * 3, 7)
    X = np.random.randn(2, 3, 6, 6)
    y = np.random.randint(4, size=2)
    check_model_gradients(model, X, y, tolerance=1e-5)


@pytest.mark.parametrize("naive", ["0", "1"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_three_layer_convnet_is_conv_relu_pool_with_an_l2_term(monkeypatch, naive, dtype):
    """The model pools before its ReLU and adds nn.l2_penalty: the same loss and gradients as
    conv - relu - pool and 0.5 * reg * sum(W**2) written out, ties of the pool included."""
    from vjpnet import nn, value_and_grad
    from vjpnet.layer_utils import fast_kernels
    if naive == "0" and fast_kernels() is None:
        pytest.skip("vjpnet_fast is not built")
    monkeypatch.setenv("VJPNET_NAIVE", naive)
    np.random.seed(5)
    model = ThreeLayerConvNet(input_dim=(2, 8, 8), num_filters=3, filter_size=3,
                              hidden_dim=6, num_classes=4, weight_scale=0.5, reg=0.3,
                              dtype=dtype)
    X = np.round(np.random.randn(5, 2, 8, 8)).astype(dtype)   # integers: many ties and zeros
    y = np.random.randint(4, size=5)

    def written_out(params):
        conv = nn.relu(nn.conv2d(X, params["W1"], params["b1"], model.conv_param))
        pooled = nn.max_pool2d(conv, model.pool_param)
        hidden = nn.relu(nn.affine(pooled, params["W2"], params["b2"]))
        scores = nn.affine(hidden, params["W3"], params["b3"])
        return nn.softmax_loss(scores, y) + 0.5 * model.reg * sum(
            np.sum(np.square(params[name])) for name in ("W1", "W2", "W3"))

    for scale in (1.0, 0.0):        # scale 0: every conv output is its bias (all windows tie)
        model.params["W1"] = model.params["W1"] * dtype(scale)
        loss, grads = model.loss(X, y)
        want_loss, want_grads = value_and_grad(written_out)(model.params)
        rtol = 1e-12 if dtype == np.float64 else 1e-5
        assert loss == pytest.approx(float(want_loss), rel=rtol)
        for name, want in want_grads.items():
            assert grads[name].dtype == dtype
            np.testing.assert_allclose(grads[name], want, rtol=rtol, atol=rtol * 1e-3,
                                       err_msg=name)


def test_gradients_held_across_steps_keep_their_values():
    """Gradients live in recycled memory (vjpnet.memory): the next steps never reuse memory
    that a caller still holds."""
    np.random.seed(6)
    model = ThreeLayerConvNet(input_dim=(3, 32, 32), num_filters=8, filter_size=3,
                              hidden_dim=20, weight_scale=0.1, reg=0.1, dtype=np.float64)
    X, y = np.random.randn(16, 3, 32, 32), np.random.randint(10, size=16)
    held = []
    for step in range(3):
        loss, grads = model.loss(X + step, y)
        held.append((grads, {name: grad.copy() for name, grad in grads.items()}))
    for grads, copies in held:
        for name in grads:
            np.testing.assert_array_equal(grads[name], copies[name])


def test_three_layer_convnet_initial_loss_and_errors():
    np.random.seed(0)
    model = ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=4, filter_size=3, hidden_dim=10)
    loss, grads = model.loss(np.random.randn(10, 1, 8, 8), np.arange(10))
    assert abs(loss - np.log(10)) < 1e-2
    assert grads["W1"].dtype == np.float32
    with pytest.raises(ValueError, match="filter_size must be odd"):
        ThreeLayerConvNet(input_dim=(1, 8, 8), filter_size=4)
    with pytest.raises(ValueError, match="even H and W"):
        ThreeLayerConvNet(input_dim=(1, 7, 7), filter_size=3)


# ----------------------------------------------------------------------------- training

@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    from vjpnet.data import load_digits
    return load_digits(), load_digits(flatten=False, dtype=np.float32)


def test_solver_overfits_50_examples(digits):
    flat, _ = digits
    small = {"X_train": flat["X_train"][:50], "y_train": flat["y_train"][:50],
             "X_val": flat["X_val"], "y_val": flat["y_val"]}
    np.random.seed(0)
    model = FullyConnectedNet([100, 100], input_dim=64, num_classes=10, weight_scale=5e-2)
    solver = Solver(model, small, update_rule="adam", optim_config={"learning_rate": 1e-2},
                    batch_size=25, num_epochs=20, verbose=False, seed=0)
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert solver.check_accuracy(small["X_train"], small["y_train"]) == 1.0


@pytest.mark.slow
def test_two_layer_net_digits_accuracy(digits):
    flat, _ = digits
    np.random.seed(0)
    start = time.perf_counter()
    model = TwoLayerNet(input_dim=64, hidden_dim=100, num_classes=10, weight_scale=1e-1,
                        reg=1e-3)
    solver = Solver(model, flat, update_rule="adam", optim_config={"learning_rate": 3e-3},
                    lr_decay=0.95, batch_size=50, num_epochs=25, verbose=False, seed=0)
    solver.train()
    accuracy = solver.check_accuracy(flat["X_test"], flat["y_test"])
    elapsed = time.perf_counter() - start
    print(f"TwoLayerNet digits: test accuracy {accuracy:.4f} in {elapsed:.1f}s")
    assert accuracy >= 0.96


@pytest.mark.slow
def test_three_layer_convnet_digits_accuracy(digits):
    _, images = digits
    np.random.seed(0)
    start = time.perf_counter()
    model = ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=16, filter_size=3,
                              hidden_dim=100, num_classes=10, weight_scale=1e-1, reg=1e-3)
    solver = Solver(model, images, update_rule="adam", optim_config={"learning_rate": 3e-3},
                    lr_decay=0.95, batch_size=50, num_epochs=15, verbose=False, seed=0)
    solver.train()
    accuracy = solver.check_accuracy(images["X_test"], images["y_test"])
    elapsed = time.perf_counter() - start
    print(f"ThreeLayerConvNet digits: test accuracy {accuracy:.4f} in {elapsed:.1f}s")
    assert accuracy >= 0.97


def test_resume_with_batchnorm_and_dropout_matches_uninterrupted(digits, tmp_path):
    flat, _ = digits
    small = {key: value[:200] for key, value in flat.items()}

    def train(num_epochs, name, resume_from=None):
        np.random.seed(7)
        model = FullyConnectedNet([30, 20], input_dim=64, num_classes=10, dropout=0.2,
                                  use_batchnorm=True, weight_scale=5e-2, dtype=np.float64)
        solver = Solver(model, small, update_rule="rmsprop", lr_decay=0.9, batch_size=40,
                        num_epochs=num_epochs, verbose=False, seed=1,
                        optim_config={"learning_rate": 1e-3},
                        checkpoint_name=str(tmp_path / name), resume_from=resume_from)
        solver.train()
        return model, solver

    full_model, full = train(4, "full")
    train(2, "half")
    resumed_model, resumed = train(4, "resumed", resume_from=tmp_path / "half.npz")
    assert full.loss_history == resumed.loss_history        # same minibatches, same masks
    for name in full_model.params:
        np.testing.assert_array_equal(full_model.params[name], resumed_model.params[name])
    for full_bn, resumed_bn in zip(full_model.bn_params, resumed_model.bn_params):
        np.testing.assert_array_equal(full_bn["running_var"], resumed_bn["running_var"])
