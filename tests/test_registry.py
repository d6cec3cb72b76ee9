"""The registry-driven test: every primitive vjpnet registers is checked from its own spec.

For each sample input: the VJP against centred differences in float64 along random directions;
float32 in -> float32 out and float32 cotangents; second order through nested grad unless the
primitive is first-order only (then differentiating twice must raise).
"""
import importlib
import pkgutil

import numpy as np
import pytest

import vjpnet
from vjpnet.gradient_check import check_grads
from vjpnet.registry import Sample, library_primitives


def _import_library():
    """Import every module of vjpnet (and vjpnet_fast when built), so all primitives register."""
    for module in pkgutil.iter_modules(vjpnet.__path__):
        importlib.import_module(f"vjpnet.{module.name}")
    try:
        importlib.import_module("vjpnet_fast")
    except ImportError:
        pass   # not built: its primitives are tested when it is


_import_library()
PRIMITIVES = sorted(library_primitives().items())


def _samples(primitive, seed=0):
    samples = primitive.spec(np.random.default_rng(seed))
    return [samples] if isinstance(samples, Sample) else list(samples)


def _float_positions(args):
    return [i for i, a in enumerate(args)
            if type(a) is float or (isinstance(a, np.ndarray) and a.dtype.kind == "f")]


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
        positions = _float_positions(sample.args)
        assert positions, f"{key}: sample {sample} has no float argument to differentiate"
        f = _as_function(primitive, sample, positions)
        check_grads(f, [sample.args[i] for i in positions], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("key,primitive", PRIMITIVES, ids=[key for key, _ in PRIMITIVES])
def test_float32_in_float32_out(key, primitive):
    for sample in _samples(primitive):
        positions = _float_positions(sample.args)
        args32 = [np.asarray(sample.args[i], dtype=np.float32) if isinstance(sample.args[i],
                  np.ndarray) else sample.args[i] for i in positions]
        f = _as_function(primitive, sample, positions)
        out, vjp_fn = vjpnet.vjp(f, *args32)
        names_a_dtype = any(isinstance(a, (np.dtype, type)) for a in sample.args)
        if not names_a_dtype:   # a call that names a dtype (astype) returns that dtype
            assert np.result_type(out) == np.float32, \
                f"{key}: float32 inputs gave {np.result_type(out)}"
        cotangents = vjp_fn(np.ones(np.shape(out), np.float32))
        for position, arg, cotangent in zip(positions, args32, cotangents):
            if isinstance(arg, np.ndarray):
                assert cotangent.dtype == np.float32, f"{key}: argument {position} cotangent"


@pytest.mark.parametrize("key,primitive", PRIMITIVES, ids=[key for key, _ in PRIMITIVES])
def test_second_order(key, primitive):
    for sample in _samples(primitive, seed=1):
        positions = _float_positions(sample.args)
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


SELECTIVE = [(key, primitive) for key, primitive in PRIMITIVES if primitive.selective_vjp]


def test_the_layers_skip_unneeded_cotangents():
    names = {primitive.name for _, primitive in SELECTIVE}
    assert {"affine", "conv2d", "matmul"} <= names


@pytest.mark.parametrize("key,primitive", SELECTIVE, ids=[key for key, _ in SELECTIVE])
def test_selective_vjp_gives_each_cotangent_alone(key, primitive):
    """A selective VJP asked for one cotangent (the others constant, as for a data batch) gives
    the same value as when it computes all of them."""
    for sample in _samples(primitive, seed=2):
        positions = _float_positions(sample.args)
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
