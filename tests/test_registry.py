"""The registry-driven test: every primitive vjpnet registers is checked from its own spec.

For each sample input: the VJP against centred differences in float64 along random directions;
float32 in -> float32 out and float32 cotangents; second order through nested grad unless the
primitive is first-order only (then differentiating twice must raise). Complex samples are
checked the same way (real and imaginary parts perturbed, complex128 -> complex64 for single
precision).
"""
import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import vjpnet
from vjpnet.gradient_check import check_grads
from vjpnet.registry import Sample, library_primitives
from vjpnet.tape import UFUNC_PRIMITIVES


OPTIONAL = {"scipy"}   # vjpnet.scipy's modules register their primitives when SciPy is installed


def _import_library():
    """Import every module of vjpnet (and vjpnet_fast when built), so all primitives register."""
    for module in pkgutil.walk_packages(vjpnet.__path__, "vjpnet."):
        try:
            importlib.import_module(module.name)
        except ModuleNotFoundError as error:
            if (error.name or "").split(".")[0] not in OPTIONAL:
                raise
    try:
        importlib.import_module("vjpnet_fast")
    except ImportError:
        pass   # not built: its primitives are tested when it is


_import_library()
PRIMITIVES = sorted(library_primitives().items())
SCIPY_UFUNCS = {primitive: ufunc for ufunc, primitive in UFUNC_PRIMITIVES.items()
                if getattr(primitive, "public_name", "").startswith("scipy.special.")}


def _samples(primitive, seed=0):
    samples = primitive.spec(np.random.default_rng(seed))
    return [samples] if isinstance(samples, Sample) else list(samples)


def _float_positions(args, primitive=None):
    """Positions of the differentiated arguments: floats and float or complex arrays, without
    those the primitive never differentiates (its nondiff_argnums: orders, parameters without
    a closed-form derivative)."""
    constant = primitive.nondiff_argnums if primitive is not None else ()
    return [i for i, a in enumerate(args) if i not in constant and
            (type(a) is float or (isinstance(a, np.ndarray) and a.dtype.kind in "fc"))]


_SINGLE = {"f": np.float32, "c": np.complex64}


def _single(arg):
    """A float64 / complex128 sample array in single precision; other arguments unchanged."""
    return arg.astype(_SINGLE[arg.dtype.kind]) if isinstance(arg, np.ndarray) else arg


def _as_function(primitive, sample, positions):
    def call(*float_args):
        args = list(sample.args)
        for position, value in zip(positions, float_args):
            args[position] = value
        return primitive(*args, **sample.kwargs)
    return call


def test_every_library_primitive_has_a_spec():
    missing = [key for key, primitive in PRIMITIVES if primitive.spec is None]
    assert not missing, f"primitives registered without a sample-input spec: {missing}"


def test_registry_is_populated():
    names = {primitive.name for _, primitive in PRIMITIVES}
    assert {"add", "multiply", "exp", "sum", "matmul", "getitem"} <= names


@pytest.mark.parametrize("key,primitive", PRIMITIVES, ids=[key for key, _ in PRIMITIVES])
def test_vjp_matches_numeric_derivatives(key, primitive):
    for sample in _samples(primitive):
        positions = _float_positions(sample.args, primitive)
        assert positions, f"{key}: sample {sample} has no float argument to differentiate"
        f = _as_function(primitive, sample, positions)
        check_grads(f, [sample.args[i] for i in positions], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("key,primitive", PRIMITIVES, ids=[key for key, _ in PRIMITIVES])
def test_float32_in_float32_out(key, primitive):
    for sample in _samples(primitive):
        positions = _float_positions(sample.args, primitive)
        args32 = [_single(sample.args[i]) for i in positions]
        f = _as_function(primitive, sample, positions)
        out, vjp_fn = vjpnet.vjp(f, *args32)
        names_a_dtype = any(isinstance(a, (np.dtype, type)) for a in sample.args)
        scipy_ufunc = SCIPY_UFUNCS.get(primitive)
        if scipy_ufunc is not None:   # SciPy's dtype: float64 beside a Python or int parameter
            plain_args = list(sample.args)
            for position, arg in zip(positions, args32):
                plain_args[position] = arg
            assert np.result_type(out) == np.result_type(scipy_ufunc(*plain_args)), key
        elif not names_a_dtype:   # a call that names a dtype (astype) returns that dtype
            assert np.result_type(out) in (np.float32, np.complex64), \
                f"{key}: single precision inputs gave {np.result_type(out)}"
        cotangents = vjp_fn(np.ones(np.shape(out), np.result_type(out)))
        for position, arg, cotangent in zip(positions, args32, cotangents):
            if isinstance(arg, np.ndarray):
                assert cotangent.dtype == arg.dtype, \
                    f"{key}: argument {position} ({arg.dtype}) got a {cotangent.dtype} cotangent"


@pytest.mark.parametrize("key,primitive", PRIMITIVES, ids=[key for key, _ in PRIMITIVES])
def test_second_order(key, primitive):
    for sample in _samples(primitive, seed=1):
        positions = _float_positions(sample.args, primitive)
        f = _as_function(primitive, sample, positions)
        args = [sample.args[i] for i in positions]
        if primitive.first_order:
            def nested(x):
                inner = vjpnet.grad(lambda y: np.sum(f(y, *args[1:]) ** 2))
                return np.sum(inner(x) ** 2)
            with pytest.raises(TypeError, match="first_order"):
                vjpnet.grad(nested)(args[0])
        else:
            check_grads(f, args, order=2, rtol=1e-4, atol=1e-6)


def test_every_first_order_primitive_has_a_jvp_rule():
    # forward mode transposes the VJPs written with NumPy operations; a kernel VJP needs a rule
    missing = [key for key, primitive in PRIMITIVES if primitive.first_order and
               primitive.jvp is None]
    assert not missing, f"first-order primitives without a JVP rule (defjvp): {missing}"


def _keyword_calls(primitive, sample):
    """(position, positional, keywords) calls of the primitive where the differentiated
    argument at `position` is passed by keyword: the first one (nothing traced positionally)
    and the last one (earlier differentiated arguments traced positionally)."""
    parameters = list(inspect.signature(primitive.forward).parameters.values())
    positions = _float_positions(sample.args, primitive)
    calls = []
    for position in sorted({positions[0], positions[-1]}):
        by_name = parameters[:len(sample.args)]
        if len(by_name) < len(sample.args) or any(
                p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in by_name):
            continue   # a forward taking *args: no argument has a name
        names = [p.name for p in by_name[position:]]
        calls.append((position, [i for i in positions if i < position], names))
    return calls


@pytest.mark.parametrize("key,primitive", PRIMITIVES, ids=[key for key, _ in PRIMITIVES])
def test_traced_keyword_argument_is_rejected(key, primitive):
    # a traced keyword argument would run the forward on traced values and bypass the VJP
    sample = _samples(primitive)[0]
    for position, traced_positions, names in _keyword_calls(primitive, sample):
        def f(*traced):
            args = list(sample.args)
            for i, value in zip(traced_positions + [position], traced):
                args[i] = value
            keywords = dict(zip(names, args[position:]), **sample.kwargs)
            return primitive(*args[:position], **keywords)
        differentiated = [sample.args[i] for i in traced_positions + [position]]
        with pytest.raises(TypeError, match=f"keyword argument '{names[0]}' is traced"):
            vjpnet.vjp(f, *differentiated)


def test_traced_values_inside_a_container_are_rejected():
    @vjpnet.primitive
    def total(arrays, scale=None):
        return sum(arrays), len(arrays)

    @total.defvjp
    def total_vjp(g, count):
        return ([g] * count,)

    x = np.ones(3)
    with pytest.raises(TypeError, match=r"total: argument 0 is a list holding traced"):
        vjpnet.grad(lambda x: np.sum(total([x, x])))(x)
    with pytest.raises(TypeError, match=r"total: keyword argument 'scale' is traced"):
        vjpnet.grad(lambda x: np.sum(total([np.ones(3)], scale={"s": (x,)})))(x)


def test_a_keyword_traced_only_by_an_enclosing_grad_is_a_constant_at_the_inner_level():
    # the forward sees values one level down, so it is differentiated at the enclosing level
    @vjpnet.primitive
    def shift(x, offset=0.0):
        return x + offset, None

    @shift.defvjp
    def shift_vjp(g, cache):
        return (g,)

    x = np.array([0.5, -1.0, 2.0])

    def inner_gradient_sum(a):
        return np.sum(vjpnet.grad(lambda x: np.sum(shift(x, offset=a) ** 2))(x))

    np.testing.assert_allclose(inner_gradient_sum(0.3), np.sum(2 * (x + 0.3)))
    np.testing.assert_allclose(vjpnet.grad(inner_gradient_sum)(0.3), 2.0 * x.size)


SELECTIVE = [(key, primitive) for key, primitive in PRIMITIVES if primitive.selective_vjp]


def test_the_layers_skip_unneeded_cotangents():
    names = {primitive.name for _, primitive in SELECTIVE}
    assert {"affine", "conv2d", "matmul"} <= names


@pytest.mark.parametrize("key,primitive", SELECTIVE, ids=[key for key, _ in SELECTIVE])
def test_selective_vjp_gives_each_cotangent_alone(key, primitive):
    """A selective VJP asked for one cotangent (the others constant, as for a data batch) gives
    the same value as when it computes all of them."""
    for sample in _samples(primitive, seed=2):
        positions = _float_positions(sample.args, primitive)
        rng = np.random.default_rng(3)
        out = _as_function(primitive, sample, positions)(*[sample.args[i] for i in positions])
        cotangent = rng.standard_normal(np.shape(out))
        _, vjp_all = vjpnet.vjp(_as_function(primitive, sample, positions),
                                *[sample.args[i] for i in positions])
        expected = vjp_all(cotangent)
        for index, position in enumerate(positions):
            _, vjp_one = vjpnet.vjp(_as_function(primitive, sample, [position]),
                                    sample.args[position])
            (alone,) = vjp_one(cotangent)
            np.testing.assert_allclose(alone, expected[index], rtol=1e-13, atol=1e-13,
                                       err_msg=f"{key}: argument {position} of {sample}")
