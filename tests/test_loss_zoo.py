"""The loss zoo (tests/loss_zoo.py): realistic losses in plain NumPy, differentiated by vjpnet,
checked against centred differences and, when installed, against HIPS autograd."""
import functools

import numpy as np
import pytest

import vjpnet
from vjpnet.gradient_check import check_grads

import loss_zoo

NAMES = [loss.__name__ for loss in loss_zoo.LOSSES]
# HIPS autograd 1.x returns a wrong gradient for np.linalg.norm(..., keepdims=True) (its VJP
# re-expands the already-kept axis); vjpnet agrees with centred differences there.
AUTOGRAD_WRONG = {"contrastive": "autograd's linalg.norm(keepdims=True) VJP is wrong"}


def _problem(name, dtype=np.float64, seed=0):
    loss = getattr(loss_zoo, name)
    params, data = loss_zoo.make_problem(name, np.random.default_rng(seed), dtype)
    return functools.partial(loss, np), params, data


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_numeric(name):
    loss, params, data = _problem(name)
    check_grads(loss, [params, *data], argnums=0, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_second_order_matches_numeric(name):
    loss, params, data = _problem(name, seed=1)
    check_grads(loss, [params, *data], argnums=0, order=2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_float32_values_and_gradients(name):
    loss, params, data = _problem(name, dtype=np.float32)
    value, grads = vjpnet.value_and_grad(loss)(params, *data)
    assert np.result_type(value) == np.float32, f"{name}: loss is {np.result_type(value)}"
    for key, gradient in grads.items():
        assert gradient.dtype == np.float32, f"{name}: gradient of {key} is {gradient.dtype}"
        assert np.all(np.isfinite(gradient))
    grads64 = vjpnet.grad(loss)({k: v.astype(np.float64) for k, v in params.items()},
                              *[d.astype(np.float64) if d.dtype.kind == "f" else d for d in data])
    for key in grads:
        np.testing.assert_allclose(grads[key], grads64[key], rtol=2e-3, atol=2e-4)


@pytest.mark.parametrize("name", NAMES)
def test_matches_hips_autograd(name):
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    if name in AUTOGRAD_WRONG:
        pytest.skip(AUTOGRAD_WRONG[name])
    loss, params, data = _problem(name)
    ours = vjpnet.grad(loss)(params, *data)
    theirs = autograd.grad(functools.partial(getattr(loss_zoo, name), anp))(params, *data)
    assert set(ours) == set(theirs)
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-9, atol=1e-12, err_msg=key)


def test_the_zoo_is_a_dozen_losses():
    assert len(NAMES) >= 12
