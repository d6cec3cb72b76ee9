"""The registry-driven test: every primitive vjpnet registers is checked from its own spec.

For each sample input: the VJP against centred differences in float64 along random directions;
float32 in -> float32 out and float32 cotangents; second order through nested grad unless the
primitive is first-order only (then differentiating twice must raise). Complex samples are
checked the same way (real and imaginary parts perturbed, complex128 -> complex64 for single
precision).
"""
import importlib
import pkgutil

import numpy as np
import pytest

import vjpnet
from vjpnet.gradient_check import check_grads
from vjpnet.registry import Sample, library_primitives


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


def _samples(primitive, seed=0):
    samples = primitive.spec(np.random.default_rng(seed))
    return [samples] if isinstance(samples, Sample) else list(samples)


def _float_positions(args, primitive=None):
    """Positions of the differentiated arguments: floats and float or complex arrays, without
    those the primitive never differentiates (its constant_positions: orders, parameters without
    a closed-form derivative)."""
    constant = getattr(primitive, "constant_positions", ())
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
        if not names_a_dtype:   # a call that names a dtype (astype) returns that dtype
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
