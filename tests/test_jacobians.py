"""jacobian / jacrev / jacfwd / hessian / hvp / elementwise_grad: JAX's shapes and pytree
conventions, against HIPS autograd's jacobian / hessian / make_jvp and centred differences,
on the loss zoo and on random programs (tests/smooth_programs.py; VJPNET_RANDOM_PROGRAMS=N
runs N of them instead of the default few)."""
import functools
import os
from collections import namedtuple

import numpy as np
import pytest

import vjpnet
from vjpnet import (elementwise_grad, grad, hessian, hvp, jacfwd, jacobian, jacrev, jvp, nn)
from vjpnet.gradient_check import check_grads
from vjpnet.transforms import jacobians

import loss_zoo
import smooth_programs

Pair = namedtuple("Pair", "a b")
PROGRAMS = int(os.environ.get("VJPNET_RANDOM_PROGRAMS", "8"))


def _autograd():
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    return autograd, anp


# --- shapes and structure --------------------------------------------------------------------

@pytest.mark.parametrize("transform", [jacrev, jacfwd, jacobian])
def test_shapes_follow_jax_for_pytrees(transform):
    def f(params, x):
        return {"y": params.a @ x, "s": np.sum(params.b * x[0])}

    params = Pair(np.ones((2, 3)), np.ones(4))
    x = np.arange(12.0).reshape(3, 4)
    jac = transform(f)(params, x)
    assert set(jac) == {"y", "s"}
    assert isinstance(jac["y"], Pair)
    assert jac["y"].a.shape == (2, 4, 2, 3) and jac["y"].b.shape == (2, 4, 4)
    assert jac["s"].a.shape == (2, 3) and jac["s"].b.shape == (4,)
    jac_both = transform(f, argnums=(0, 1))(params, x)
    assert type(jac_both["y"]) is tuple and jac_both["y"][1].shape == (2, 4, 3, 4)
    np.testing.assert_allclose(jac_both["y"][1][1, 2], np.outer(np.ones(3) * 0 + params.a[1],
                                                                 np.eye(4)[2]))
    np.testing.assert_array_equal(jac_both["s"][1], np.vstack([params.b, np.zeros((2, 4))]))


@pytest.mark.parametrize("transform", [jacrev, jacfwd, jacobian])
def test_has_aux_and_scalars(transform):
    jac, aux = transform(lambda x: (x ** 2, {"note": 1}), has_aux=True)(3.0)
    assert aux == {"note": 1} and float(jac) == pytest.approx(6.0)
    jac = transform(lambda x: np.sum(x ** 3))(np.array([1.0, 2.0]))
    np.testing.assert_allclose(jac, [3.0, 12.0])


def test_jacobian_picks_forward_mode_for_wide_outputs(monkeypatch):
    used = []
    forward, reverse = jacobians._forward_blocks, jacobians._reverse_blocks
    monkeypatch.setattr(jacobians, "_forward_blocks",
                        lambda *a, **k: used.append("fwd") or forward(*a, **k))
    monkeypatch.setattr(jacobians, "_reverse_blocks",
                        lambda *a, **k: used.append("rev") or reverse(*a, **k))
    x = np.array([0.5, -1.0])
    wide = lambda x: np.outer(np.sin(x), np.arange(10.0))   # noqa: E731
    np.testing.assert_allclose(jacobian(wide)(x), jacrev(wide)(x), rtol=1e-14)
    assert used == ["fwd", "rev"]
    used.clear()
    jacobian(lambda x: np.sum(x))(x)
    assert used == ["rev"]


def test_jacobian_falls_back_to_reverse_mode_without_a_jvp_rule():
    cube = vjpnet.primitive(lambda x: (x ** 3, x), vjp=lambda g, x: (3 * g * x ** 2,),
                            name="cube_kernel_jacobian", first_order=True)
    f = lambda x: np.outer(cube(x), np.ones(10))   # noqa: E731
    x = np.array([1.0, 2.0])
    expected = np.einsum("ij,ik->ijk", np.diag(3 * x ** 2), np.ones((2, 10))).transpose(0, 2, 1)
    np.testing.assert_allclose(jacobian(f)(x), expected)
    with pytest.raises(TypeError, match="cube_kernel_jacobian.*no JVP rule"):
        jacfwd(f)(x)


def test_float32_in_float32_out():
    x = np.array([0.5, 1.5], np.float32)
    f = lambda x: np.tanh(x) * 2.0   # noqa: E731
    for transform in (jacrev, jacfwd, jacobian, hessian):
        g = transform(f if transform is not hessian else lambda x: np.sum(f(x)))
        assert g(x).dtype == np.float32
    assert hvp(lambda x: np.sum(f(x)), x, np.ones(2, np.float32)).dtype == np.float32
    assert elementwise_grad(f)(x).dtype == np.float32


def test_errors_name_the_problem():
    with pytest.raises(TypeError, match=r"jacrev of <lambda>: output\['n'\] is int64"):
        jacrev(lambda x: {"y": x, "n": np.arange(2)})(np.ones(2))
    with pytest.raises(TypeError, match=r"jacfwd of <lambda>: argument 0 is int64"):
        jacfwd(lambda x: x * 1.0)(np.arange(3))
    with pytest.raises(ValueError, match=r"jacobian of <lambda>: argnums=1"):
        jacobian(lambda x: x, argnums=1)(np.ones(2))
    with pytest.raises(ValueError, match=r"hvp of <lambda>: v has structure"):
        hvp(lambda x: np.sum(x["a"]), {"a": np.ones(2)}, np.ones(2))


# --- against autograd and numeric derivatives -------------------------------------------------

def _unflattener(params):
    keys = sorted(params)
    sizes = np.cumsum([0] + [np.size(params[key]) for key in keys])

    def unflatten(theta):
        return {key: theta[start:stop].reshape(np.shape(params[key]))
                for key, start, stop in zip(keys, sizes[:-1], sizes[1:])}
    return keys, sizes, unflatten


def _hessian_matrix(blocks, params):
    """Nested {key: {key: block}} of a Hessian -> one (n, n) matrix in sorted-key order."""
    keys = sorted(params)
    return np.block([[np.reshape(blocks[a][b], (np.size(params[a]), np.size(params[b])))
                      for b in keys] for a in keys])


@pytest.mark.parametrize("name", [loss.__name__ for loss in loss_zoo.LOSSES])
def test_hessian_of_each_loss_matches_autograd(name):
    autograd, anp = _autograd()
    if name == "contrastive":
        pytest.skip("autograd's linalg.norm(keepdims=True) VJP is wrong")
    params, data = loss_zoo.make_problem(name, np.random.default_rng(0))
    loss = functools.partial(getattr(loss_zoo, name), np)
    ours = _hessian_matrix(hessian(loss)(params, *data), params)
    keys, sizes, unflatten = _unflattener(params)
    theta = np.concatenate([np.ravel(params[key]) for key in keys])
    theirs = autograd.hessian(lambda t: getattr(loss_zoo, name)(anp, unflatten(t), *data))(theta)
    np.testing.assert_allclose(ours, theirs, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(ours, ours.T, rtol=1e-9, atol=1e-12)
    v = np.random.default_rng(1).standard_normal(theta.size)
    v_tree = unflatten(v)
    ours_hvp = hvp(lambda p: loss(p, *data), params, {key: v_tree[key] for key in params})
    np.testing.assert_allclose(np.concatenate([np.ravel(ours_hvp[k]) for k in keys]),
                               theirs @ v, rtol=1e-7, atol=1e-10)


@pytest.mark.filterwarnings("ignore:Output seems independent of input")
@pytest.mark.parametrize("seed", range(PROGRAMS))
def test_random_programs_against_autograd_and_numeric(seed):
    autograd, anp = _autograd()
    rng = np.random.default_rng(seed)
    program = smooth_programs.make_program(rng, length=int(rng.integers(3, 8)))
    x, y = rng.standard_normal((3, 4)), rng.standard_normal(4)
    message = smooth_programs.describe(program)

    def ours(x, y):
        return smooth_programs.run(np, program, x, y)

    def theirs(part, argnum):
        return lambda *xy: smooth_programs.run(anp, program, *xy)[part]

    # numeric, both modes, second order included
    check_grads(ours, [x, y], order=2, rtol=1e-4, atol=1e-6)
    # full Jacobians by rows and by columns, against autograd's
    for transform in (jacrev, jacfwd):
        jac = transform(ours, argnums=(0, 1))(x, y)
        for part in ("out", "total"):
            for argnum in (0, 1):
                expected = autograd.jacobian(theirs(part, argnum), argnum)(x, y)
                np.testing.assert_allclose(jac[part][argnum], expected, rtol=1e-9, atol=1e-11,
                                           err_msg=f"{transform.__name__} {part} {message}")
    # jvp against make_jvp, Hessian against autograd's
    v = rng.standard_normal((3, 4))
    _, tangent = jvp(lambda x: ours(x, y)["out"], (x,), (v,))
    _, expected = autograd.make_jvp(lambda x: theirs("out", 0)(x, y))(x)(v)
    np.testing.assert_allclose(tangent, expected, rtol=1e-9, atol=1e-11, err_msg=message)
    h = hessian(lambda x, y: ours(x, y)["total"], argnums=1)(x, y)
    np.testing.assert_allclose(h, autograd.hessian(theirs("total", 1), 1)(x, y), rtol=1e-8,
                               atol=1e-10, err_msg=message)


@pytest.mark.parametrize("seed", range(min(PROGRAMS, 4)))
def test_random_programs_in_float32(seed):
    rng = np.random.default_rng(100 + seed)
    program = smooth_programs.make_program(rng, length=5)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal(4)

    def f(x, y):
        return smooth_programs.run(np, program, x, y)["out"]

    for transform in (jacrev, jacfwd):
        jac32 = transform(f)(x.astype(np.float32), y.astype(np.float32))
        assert jac32.dtype == np.float32
        np.testing.assert_allclose(jac32, transform(f)(x, y), rtol=2e-3, atol=2e-4)


def test_nested_combinations_agree():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(3)
    f = lambda x: np.sum(np.sin(x) * np.exp(x[::-1]) + x ** 3)   # noqa: E731
    reference = jacrev(jacrev(f))(x)
    for h in (jacfwd(jacrev(f))(x), jacrev(jacfwd(f))(x), jacfwd(jacfwd(f))(x), hessian(f)(x),
              jacobian(jacobian(f))(x)):
        np.testing.assert_allclose(h, reference, rtol=1e-12, atol=1e-14)
    third = jacfwd(hessian(f))(x)   # a third derivative
    assert third.shape == (3, 3, 3)
    np.testing.assert_allclose(third, jacrev(jacrev(jacrev(f)))(x), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(hvp(f, x, np.ones(3)), reference @ np.ones(3), rtol=1e-12)
    # the gradient of a jvp and the jvp of a gradient are Hessian-vector products too
    v = rng.standard_normal(3)
    np.testing.assert_allclose(jvp(grad(f), (x,), (v,))[1], reference @ v, rtol=1e-12)
    np.testing.assert_allclose(grad(lambda x: jvp(f, (x,), (v,))[1])(x), reference @ v,
                               rtol=1e-12)


def test_elementwise_grad_matches_autograd():
    autograd, anp = _autograd()
    x = np.linspace(-2.0, 2.0, 7)
    for f, g in [(np.tanh, anp.tanh), (lambda x: x ** 3 * np.exp(-x), lambda x: x ** 3 *
                                        anp.exp(-x))]:
        np.testing.assert_allclose(elementwise_grad(f)(x), autograd.elementwise_grad(g)(x),
                                   rtol=1e-12)
    d2 = elementwise_grad(elementwise_grad(np.sin))(x)
    np.testing.assert_allclose(d2, -np.sin(x), rtol=1e-12)
    gx, gy = elementwise_grad(lambda x, y: x * y, argnums=(0, 1))(x, 2.0)
    np.testing.assert_allclose(gx, 2.0 * np.ones(7))
    assert gy == pytest.approx(np.sum(x))


def test_jacobians_of_a_conv_net_with_the_kernels():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((1, 2, 4, 4))
    w, b = rng.standard_normal((2, 2, 3, 3)), rng.standard_normal(2)

    def net(w, b):
        h = nn.conv2d(x, w, b, {"stride": 1, "pad": 1})
        return nn.max_pool2d(h, {"pool_height": 2, "pool_width": 2, "stride": 2})

    rows, columns = jacrev(net, (0, 1))(w, b), jacfwd(net, (0, 1))(w, b)
    assert rows[0].shape == (1, 2, 2, 2, 2, 2, 3, 3)
    for r, c in zip(rows, columns):
        np.testing.assert_allclose(r, c, rtol=1e-12, atol=1e-14)
