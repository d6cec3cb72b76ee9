"""Forward mode: jvp and linearize against centred differences and HIPS autograd's make_jvp,
on the loss zoo and small functions; nested with grad; pytrees, has_aux; first-order kernels
with JVP rules; errors."""
import functools

import numpy as np
import pytest

import vjpnet
from vjpnet import grad, jvp, linearize, nn, vjp
from vjpnet.gradient_check import check_grads

import loss_zoo

NAMES = [loss.__name__ for loss in loss_zoo.LOSSES]
# HIPS autograd 1.x differentiates np.linalg.norm(..., keepdims=True) wrongly (test_loss_zoo.py)
AUTOGRAD_WRONG = {"contrastive"}


def _problem(name, dtype=np.float64, seed=0):
    params, data = loss_zoo.make_problem(name, np.random.default_rng(seed), dtype)
    return functools.partial(getattr(loss_zoo, name), np), params, data


def _random_like(tree_of_arrays, rng):
    return {key: rng.standard_normal(np.shape(value)).astype(np.result_type(value))
            for key, value in tree_of_arrays.items()}


def _flat(params):
    return np.concatenate([np.ravel(params[key]) for key in sorted(params)])


def _numeric_jvp(f, params, tangent, eps=1e-6):
    plus = {k: params[k] + eps * tangent[k] for k in params}
    minus = {k: params[k] - eps * tangent[k] for k in params}
    return (f(plus) - f(minus)) / (2 * eps)


# --- the loss zoo ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_jvp_of_each_loss_matches_numeric_and_grad(name):
    loss, params, data = _problem(name)
    tangent = _random_like(params, np.random.default_rng(1))
    value, tangent_out = jvp(lambda p: loss(p, *data), (params,), (tangent,))
    assert value == pytest.approx(loss(params, *data), rel=1e-12)
    numeric = _numeric_jvp(lambda p: loss(p, *data), params, tangent)
    assert tangent_out == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    gradient = grad(loss)(params, *data)   # <grad, t> is the same directional derivative
    assert tangent_out == pytest.approx(float(np.dot(_flat(gradient), _flat(tangent))),
                                        rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_jvp_of_grad_matches_autograd_hessian_vector_product(name):
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    if name in AUTOGRAD_WRONG:
        pytest.skip("autograd's linalg.norm(keepdims=True) VJP is wrong")
    loss, params, data = _problem(name, seed=2)
    tangent = _random_like(params, np.random.default_rng(3))
    _, ours = jvp(lambda p: grad(loss)(p, *data), (params,), (tangent,))
    unflatten = _unflattener(params)
    theirs = autograd.hessian_vector_product(
        lambda theta: getattr(loss_zoo, name)(anp, unflatten(theta), *data))(
            _flat(params), _flat(tangent))
    np.testing.assert_allclose(_flat(ours), theirs, rtol=1e-8, atol=1e-11)


def _unflattener(params):
    """theta (the keys' values raveled in sorted order) -> a dict like params."""
    keys = sorted(params)
    sizes = np.cumsum([0] + [np.size(params[key]) for key in keys])

    def unflatten(theta):
        return {key: theta[start:stop].reshape(np.shape(params[key]))
                for key, start, stop in zip(keys, sizes[:-1], sizes[1:])}
    return unflatten


@pytest.mark.parametrize("name", NAMES)
def test_float32_loss_gives_float32_tangents(name):
    loss, params, data = _problem(name, dtype=np.float32)
    tangent = _random_like(params, np.random.default_rng(4))
    value, tangent_out = jvp(lambda p: loss(p, *data), (params,), (tangent,))
    assert np.result_type(tangent_out) == np.float32
    _, hvp = jvp(lambda p: grad(loss)(p, *data), (params,), (tangent,))
    assert all(hvp[key].dtype == np.float32 for key in hvp)
    params64 = {k: v.astype(np.float64) for k, v in params.items()}
    data64 = [d.astype(np.float64) if d.dtype.kind == "f" else d for d in data]
    _, tangent64 = jvp(lambda p: loss(p, *data64), (params64,),
                       ({k: v.astype(np.float64) for k, v in tangent.items()},))
    assert tangent_out == pytest.approx(tangent64, rel=2e-3, abs=2e-4)


# --- small functions against autograd ---------------------------------------------------------

def _functions(np):
    return [
        lambda x: np.sin(x) * x ** 2,
        lambda x: np.tanh(x @ x.T) / (1.0 + np.sum(x * x)),
        lambda x: np.cumsum(np.exp(x[::-1] * 0.5), axis=0),
        lambda x: np.concatenate([np.sqrt(x * x + 1.0), np.log1p(x * x)], axis=1),
        lambda x: np.max(x, axis=1) + np.mean(np.abs(x), axis=1),
        lambda x: np.linalg.norm(x, axis=1) * np.var(x, axis=0)[:3],
        lambda x: np.where(x > 0, x ** 3, np.sin(x)) * np.transpose(x[:, :1]).sum(),
    ]


@pytest.mark.parametrize("index", range(len(_functions(np))))
def test_jvp_matches_autograd_make_jvp(index):
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    rng = np.random.default_rng(index)
    x = rng.standard_normal((3, 4))
    v = rng.standard_normal((3, 4))
    out, tangent = jvp(_functions(np)[index], (x,), (v,))
    their_out, their_tangent = autograd.make_jvp(_functions(anp)[index])(x)(v)
    np.testing.assert_allclose(out, their_out, rtol=1e-12)
    np.testing.assert_allclose(tangent, their_tangent, rtol=1e-10, atol=1e-12)
    check_grads(_functions(np)[index], [x], order=2, modes=("fwd",))


def test_jvp_of_jvp_is_the_second_directional_derivative():
    f = lambda x: np.sum(np.sin(x) * np.exp(0.5 * x))   # noqa: E731
    x, v = np.array([0.3, -1.2, 0.8]), np.array([1.0, 0.5, -2.0])
    first = lambda x: jvp(f, (x,), (v,))[1]   # noqa: E731
    _, second = jvp(first, (x,), (v,))
    d2 = np.exp(0.5 * x) * (-np.sin(x) + np.cos(x) + 0.25 * np.sin(x))
    assert second == pytest.approx(np.sum(d2 * v * v), rel=1e-12)


def test_grad_of_jvp_through_primals_and_tangents():
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    rng = np.random.default_rng(5)
    x, v = rng.standard_normal(4), rng.standard_normal(4)

    def directional(x, v):   # <grad f(x), v> by forward mode
        return jvp(lambda y: np.sum(np.tanh(y) ** 3 * np.exp(y)), (x,), (v,))[1]

    ours_x, ours_v = grad(directional, argnums=(0, 1))(x, v)
    theirs = autograd.grad(lambda x, v: autograd.make_jvp(
        lambda y: anp.sum(anp.tanh(y) ** 3 * anp.exp(y)))(x)(v)[1], argnum=(0, 1))(x, v)
    np.testing.assert_allclose(ours_x, theirs[0], rtol=1e-10)
    np.testing.assert_allclose(ours_v, theirs[1], rtol=1e-10)


def test_jvp_inside_grad_keeps_levels_apart():
    # d/dx [x * d/dy (x * y)|_{y=x} along 1] = d/dx x**2 = 2x
    f = lambda x: x * jvp(lambda y: x * y, (x,), (1.0,))[1]   # noqa: E731
    assert grad(f)(3.0) == pytest.approx(6.0)


# --- structure: pytrees, several primals, has_aux, floats, integers -------------------------

def test_pytrees_in_and_out_several_primals_and_aux():
    def f(params, scale, labels):
        hidden = np.tanh(params["W"] @ params["x"])
        return {"h": hidden * scale, "sum": (np.sum(hidden), labels * 2)}, {"n": labels.size}

    rng = np.random.default_rng(6)
    params = {"W": rng.standard_normal((2, 3)), "x": rng.standard_normal(3)}
    tangents = ({"W": rng.standard_normal((2, 3)), "x": rng.standard_normal(3)}, 0.5,
                np.zeros(4, int))
    out, tangent_out, aux = jvp(f, (params, 2.0, np.arange(4)), tangents, has_aux=True)
    assert aux == {"n": 4}
    assert set(tangent_out) == {"h", "sum"} and type(tangent_out["sum"]) is tuple
    np.testing.assert_array_equal(tangent_out["sum"][1], np.zeros(4, int))
    W, x = params["W"], params["x"]
    dW, dx = tangents[0]["W"], tangents[0]["x"]
    dh = (1 - np.tanh(W @ x) ** 2) * (dW @ x + W @ dx)
    np.testing.assert_allclose(tangent_out["h"], 2.0 * dh + 0.5 * np.tanh(W @ x), rtol=1e-12)
    assert tangent_out["sum"][0] == pytest.approx(np.sum(dh), rel=1e-12)


def test_python_floats_and_constant_outputs():
    out, tangent = jvp(lambda a, b: (a * b, 3.0, np.ones(2), a), (2.0, 5.0), (1.0, 0.0))
    assert out[0] == 10.0 and tangent[0] == pytest.approx(5.0)
    assert type(out[3]) is float and type(tangent[3]) is float and tangent[3] == 1.0
    assert tangent[1] == 0.0
    np.testing.assert_array_equal(tangent[2], np.zeros(2))


def test_linearize_reuses_one_transposition():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 3))
    f = lambda x: np.tanh(x) @ np.ones((3, 2)) + np.sum(x ** 2)   # noqa: E731
    out, f_jvp = linearize(f, x)
    np.testing.assert_allclose(out, f(x))
    for _ in range(3):
        v = rng.standard_normal((4, 3))
        np.testing.assert_allclose(f_jvp(v), jvp(f, (x,), (v,))[1], rtol=1e-13)
    out, f_jvp, aux = linearize(lambda x: (np.sin(x), "aux"), x, has_aux=True)
    assert aux == "aux"
    np.testing.assert_allclose(f_jvp(np.ones_like(x)), np.cos(x))


def test_tangent_output_is_a_plain_array_outside_any_trace():
    _, tangent = jvp(np.exp, (np.zeros(3),), (np.ones(3),))
    assert type(tangent) is np.ndarray


# --- first-order kernels and their JVP rules -----------------------------------------------

@pytest.fixture(params=["naive", "fast"])
def kernels(request, monkeypatch):
    if request.param == "fast":
        pytest.importorskip("vjpnet_fast")
    monkeypatch.setenv("VJPNET_NAIVE", "1" if request.param == "naive" else "0")
    return request.param


def _distinct(rng, shape):
    size = int(np.prod(shape))
    return (rng.permutation(size).reshape(shape) * 0.1 - 0.05 * size).astype(np.float64)


def test_conv_pool_network_forward_mode(kernels):
    rng = np.random.default_rng(8)
    x = _distinct(rng, (2, 3, 6, 6)) * 0.1
    params = {"w": rng.standard_normal((4, 3, 3, 3)), "b": rng.standard_normal(4)}

    def net(params, x):
        h = nn.conv2d(x, params["w"], params["b"], {"stride": 1, "pad": 1})
        return nn.max_pool2d(h, {"pool_height": 2, "pool_width": 2, "stride": 2})

    check_grads(net, [params, x], modes=("fwd",))
    tangents = ({"w": rng.standard_normal((4, 3, 3, 3)), "b": rng.standard_normal(4)},
                rng.standard_normal(x.shape))
    _, tangent = jvp(net, (params, x), tangents)
    out, vjp_fn = vjp(net, params, x)
    u = rng.standard_normal(out.shape)
    cotangents = vjp_fn(u)   # <u, J t> == <J^T u, t>
    rhs = np.sum(cotangents[0]["w"] * tangents[0]["w"]) + \
        np.sum(cotangents[0]["b"] * tangents[0]["b"]) + np.sum(cotangents[1] * tangents[1])
    assert np.sum(u * tangent) == pytest.approx(rhs, rel=1e-10)


def test_batchnorm_and_dropout_forward_mode():
    rng = np.random.default_rng(9)
    x, gamma, beta = rng.standard_normal((5, 4)) * 2 + 1, rng.standard_normal(4), \
        rng.standard_normal(4)
    for mode in ("train", "test"):
        bn_param = {"mode": mode, "running_mean": rng.standard_normal(4),
                    "running_var": rng.uniform(0.5, 2, 4)}
        check_grads(lambda x, g, b: nn.batchnorm(x, g, b, dict(bn_param)), [x, gamma, beta],
                    modes=("fwd",))
        x4 = rng.standard_normal((2, 4, 3, 3))
        check_grads(lambda x, g, b: nn.spatial_batchnorm(x, g, b, dict(bn_param)),
                    [x4, gamma, beta], modes=("fwd",))
        check_grads(lambda x: nn.dropout(x, {"mode": mode, "p": 0.4, "seed": 1}), [x],
                    modes=("fwd",))


def test_jvp_through_a_kernel_is_differentiable_in_the_tangent(kernels):
    # the derivative w.r.t. a cotangent/tangent of a first-order op is its (transposed) rule
    rng = np.random.default_rng(10)
    x, w, b = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((3, 2, 3, 3)), \
        rng.standard_normal(3)
    conv = lambda x: nn.conv2d(x, w, b, {"stride": 1, "pad": 0})   # noqa: E731
    u = rng.standard_normal((1, 3, 2, 2))
    # x -> <u, conv(x)>: its gradient is conv^T u, and the gradient of <grad, t> w.r.t. u ...
    inner = lambda u: grad(lambda x: np.sum(conv(x) * u))(x)   # noqa: E731
    t = rng.standard_normal(x.shape)
    outer = grad(lambda u: np.sum(inner(u) * t))(u)
    np.testing.assert_allclose(outer, jvp(conv, (x,), (t,))[1], rtol=1e-10)


def test_first_order_primitive_without_rule_is_named():
    cube = vjpnet.primitive(lambda x: (x ** 3, x), vjp=lambda g, x: (3 * g * x ** 2,),
                            name="cube_kernel_no_jvp", first_order=True)
    with pytest.raises(TypeError, match=r"cube_kernel_no_jvp is registered first_order=True "
                                        r"and has no JVP rule.*defjvp"):
        jvp(lambda x: np.sin(cube(x)), (np.ones(2),), (np.ones(2),))
    with pytest.raises(TypeError, match="cube_kernel_no_jvp.*modes=\\('rev',\\)"):
        check_grads(cube, [np.ones(2)])
    check_grads(cube, [np.ones(2)], modes=("rev",))
    cube.defjvp(lambda tangents, x: 3 * x ** 2 * tangents[0])
    _, tangent = jvp(lambda x: np.sin(cube(x)), (np.ones(2),), (np.ones(2),))
    np.testing.assert_allclose(tangent, np.cos(1.0) * 3.0)
    check_grads(cube, [np.array([0.5, 2.0])])


def test_jvp_of_grad_through_a_kernel_needs_its_second_derivative():
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((3, 2, 3, 3)), \
        rng.standard_normal(3)
    loss = lambda x: np.sum(nn.conv2d(x, w, b, {"stride": 1, "pad": 0}) ** 2)   # noqa: E731
    with pytest.raises(TypeError, match="conv2d.*first_order=True.*differentiated twice"):
        jvp(grad(loss), (x,), (x,))


# --- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("primals,tangents,error,pattern", [
    ((np.ones(3),), (np.ones(4),), ValueError,
     r"jvp of f: tangent 0 has shape \(4,\), expected \(3,\)"),
    ((np.ones(3),), (np.ones(3, np.float32),), TypeError,
     r"tangent 0 has dtype float32, expected float64"),
    ((np.ones(3),), (np.arange(3),), TypeError, r"tangent 0 has dtype int64.*float arrays"),
    (({"a": np.ones(2)},), ({"b": np.ones(2)},), ValueError,
     r"tangent 0 has structure.*expected the structure of primal 0"),
    (({"a": np.ones(2)},), ({"a": np.ones((2, 1))},), ValueError, r"tangent 0\['a'\] has shape"),
    ((np.ones(3), 1.0), (np.ones(3),), ValueError, r"2 primals but 1 tangents"),
    (np.ones(3), np.ones(3), TypeError, r"primals and tangents must be tuples"),
])
def test_bad_tangents_get_clear_errors(primals, tangents, error, pattern):
    def f(*args):
        return args[0]

    with pytest.raises(error, match=pattern):
        jvp(f, primals, tangents)


def test_linearized_function_checks_its_tangents():
    _, f_jvp = linearize(np.sin, np.ones(3))
    with pytest.raises(ValueError, match=r"linearize of sin: tangent 0 has shape"):
        f_jvp(np.ones(2))


# --- complex values -----------------------------------------------------------------------------

def test_jvp_of_a_holomorphic_function_is_its_derivative_times_the_tangent():
    z = np.array([0.3 + 0.4j, -1.0 + 0.2j])
    t = np.array([1.0 - 0.5j, 0.25j])
    out, tangent = jvp(lambda z: np.exp(z) * z ** 2, (z,), (t,))
    np.testing.assert_allclose(tangent, (np.exp(z) * (z ** 2 + 2 * z)) * t, rtol=1e-13)
    _, tangent = jvp(lambda z: np.sin(z), (0.5 + 1j,), (2.0 + 0j,))
    assert tangent == pytest.approx(np.cos(0.5 + 1j) * 2.0)


def test_jvp_of_real_functions_of_complex_values_against_autograd():
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    rng = np.random.default_rng(12)
    z = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    t = rng.standard_normal(3) + 1j * rng.standard_normal(3)
    for f, g in [(lambda z: np.abs(z) ** 2 * np.real(z), lambda z: anp.abs(z) ** 2 * anp.real(z)),
                 (lambda z: np.angle(z) + np.imag(z * z), lambda z: anp.angle(z) +
                  anp.imag(z * z))]:
        _, ours = jvp(f, (z,), (t,))
        _, theirs = autograd.make_jvp(g)(z)(t)
        np.testing.assert_allclose(ours, theirs, rtol=1e-12)
        check_grads(f, [z], order=2)


def test_complex_tangents_must_match_complex_primals():
    with pytest.raises(TypeError, match=r"tangent 0 has dtype float64, expected complex128"):
        jvp(np.exp, (np.ones(2, complex),), (np.ones(2),))
    with pytest.raises(TypeError, match=r"jacfwd of exp: output is complex128"):
        vjpnet.jacfwd(np.exp)(np.ones(2, complex))
