"""Complex numbers inside grad: the convention (HIPS autograd's and JAX's), complex inputs,
intermediates and cotangents, the holomorphic option, dtypes, the ops that refuse complex
values, a table of complex losses against numeric derivatives, HIPS autograd and JAX, and
random complex programs against both. The JAX comparisons compile every op (tens of seconds),
so they run only with VJPNET_JAX_TESTS=1; VJPNET_COMPLEX_PROGRAMS=N runs N random programs.

The convention: the cotangent c of a complex value w pairs with a change dw as Re(sum(c * dw));
the gradient of a real f of z = x + iy is df/dx - 1j df/dy.
"""
import os

import numpy as np
import pytest

import vjpnet
from vjpnet import grad, value_and_grad, vjp
from vjpnet.gradient_check import check_grads
from vjpnet.tape import Traced

RNG = np.random.default_rng(11)


def cplx(*shape):
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def real(*shape):
    return RNG.standard_normal(shape)


def import_jax():
    if not os.environ.get("VJPNET_JAX_TESTS"):
        pytest.skip("JAX comparisons are slow (they compile every op): set VJPNET_JAX_TESTS=1")
    return pytest.importorskip("jax")


def numeric_gradient(f, z, h=1e-6):
    """df/dx - 1j df/dy for real-valued f of a complex array, by central differences."""
    gradient = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        step = np.zeros_like(z)
        step[index] = h
        d_real = (f(z + step) - f(z - step)) / (2 * h)
        d_imag = (f(z + 1j * step) - f(z - 1j * step)) / (2 * h)
        gradient[index] = d_real - 1j * d_imag
    return gradient


# --- the convention ---------------------------------------------------------------------------

def test_gradient_of_a_real_function_is_df_dx_minus_i_df_dy():
    z = cplx(4)
    for f, expected in [
            (lambda z: np.sum(np.abs(z) ** 2), 2 * np.conj(z)),     # 2x - 2iy
            (lambda z: np.sum(np.real(z)), np.ones(4, complex)),
            (lambda z: np.sum(np.imag(z)), -1j * np.ones(4)),
            (lambda z: np.sum(np.real(z ** 2)), 2 * z),              # x^2 - y^2
            (lambda z: np.sum(np.abs(z)), np.conj(z) / np.abs(z)),
            (lambda z: np.sum(np.angle(z)), -1j / z)]:
        gradient = grad(f)(z)
        np.testing.assert_allclose(gradient, expected, rtol=1e-12)
        np.testing.assert_allclose(gradient, numeric_gradient(f, z), rtol=1e-6, atol=1e-8)


def test_vjp_multiplies_by_the_holomorphic_derivative_without_conjugating():
    z, g = cplx(3), cplx(3)
    out, vjp_fn = vjp(lambda z: z ** 2, z)
    np.testing.assert_allclose(vjp_fn(g)[0], g * 2 * z)
    _, vjp_fn = vjp(np.conj, z)
    np.testing.assert_allclose(vjp_fn(g)[0], np.conj(g))
    # a real input takes the real part of g times the derivative
    x = real(3)
    _, vjp_fn = vjp(lambda x: x * (1 + 2j), x)
    (cotangent,) = vjp_fn(g)
    assert cotangent.dtype == np.float64
    np.testing.assert_allclose(cotangent, np.real(g * (1 + 2j)))


def test_python_complex_and_float_arguments():
    gradient = grad(lambda z: np.abs(z) ** 2)(1.0 + 2.0j)
    assert type(gradient) is complex and gradient == 2 - 4j
    assert grad(lambda x: np.abs(x * (1 + 2j)) ** 2)(0.7) == pytest.approx(2 * 0.7 * 5)


def test_complex_intermediates_inside_real_functions_are_differentiated():
    x = real(5)
    np.testing.assert_allclose(grad(lambda x: np.sum(np.real(x + 1j)))(x), np.ones(5))
    np.testing.assert_allclose(grad(lambda x: np.sum(np.imag(x * 1j)))(x), np.ones(5))
    np.testing.assert_allclose(grad(lambda x: np.sum(np.abs(x + 1j) ** 2))(x), 2 * x)
    for f in [lambda x: np.sum(np.abs(np.fft.fft(x))), lambda x: np.sum(np.real(np.exp(1j * x))),
              lambda x: np.sum(np.abs(x.astype(complex) * (2 - 1j))),
              lambda x: np.real(np.sum(np.sqrt(x + 2j))) + np.sum(np.angle(x + 1j))]:
        gradient = grad(f)(x)
        assert np.all(gradient != 0)
        check_grads(f, [x], order=2)


def test_holomorphic_grad_is_the_complex_derivative():
    z = 0.3 + 0.7j
    assert grad(lambda z: z ** 3, holomorphic=True)(z) == pytest.approx(3 * z ** 2)
    second = grad(grad(lambda z: np.exp(z) * z, holomorphic=True), holomorphic=True)(z)
    assert second == pytest.approx(np.exp(z) * (z + 2))
    value, derivative = value_and_grad(lambda z: np.sin(z), holomorphic=True)(np.complex64(z))
    assert derivative.dtype == np.complex64 and derivative == pytest.approx(np.cos(z), rel=1e-6)
    array = cplx(3)
    derivatives = grad(lambda z: np.sum(np.log(z)), holomorphic=True)(array)
    np.testing.assert_allclose(derivatives, 1 / array)


def holomorphic_example(np):
    return lambda z: np.sin(z) * np.exp(z) / (z + 2.0) + z ** 3


def test_holomorphic_grad_matches_autograd():
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    z = 0.4 - 0.9j
    ours = grad(holomorphic_example(np), holomorphic=True)(z)
    assert ours == pytest.approx(autograd.holomorphic_grad(holomorphic_example(anp))(z),
                                 rel=1e-12)


def test_holomorphic_grad_matches_jax():
    jax = import_jax()
    z = 0.4 - 0.9j
    with jax.enable_x64(True):
        theirs = complex(jax.grad(holomorphic_example(jax.numpy), holomorphic=True)(z))
    assert grad(holomorphic_example(np), holomorphic=True)(z) == pytest.approx(theirs, rel=1e-12)


# --- dtypes -----------------------------------------------------------------------------------

def test_complex64_stays_complex64_and_float32_plus_1j_is_complex64():
    z = cplx(3).astype(np.complex64)
    gradient = grad(lambda z: np.sum(np.abs(np.exp(z) * 2.0 + z) ** 2))(z)
    assert gradient.dtype == np.complex64
    x = real(3).astype(np.float32)
    out, vjp_fn = vjp(lambda x: x + 1j, x)
    assert out.dtype == np.complex64          # NumPy: a Python complex is weak
    assert vjp_fn(np.ones(3, np.complex64))[0].dtype == np.float32
    out, vjp_fn = vjp(lambda x: x * np.ones(3, np.complex128), x)
    assert out.dtype == np.complex128
    assert vjp_fn(np.ones(3, complex))[0].dtype == np.float32
    assert grad(lambda x: np.sum(np.real(x * z)))(x).dtype == np.float32


def test_python_complex_values_stay_weak_scalars_as_in_numpy():
    """1j * s of a traced Python float s is a Python complex (as in Python), and so is a
    Python complex argument: NumPy treats both as weak, so float32 / complex64 arrays keep their
    precision. (1j * v for a NumPy float64 v is a Python complex too, and v * 1j a NumPy one:
    Python's and NumPy's own asymmetry.)"""
    x32, c64 = real(2).astype(np.float32), cplx(2).astype(np.complex64)
    v = np.array(0.3)
    cases = [(lambda x, s: np.real(x + 1j * s), (x32, 0.126)),
             (lambda s: c64 * (s * 1j), (0.5,)),
             (lambda s: c64 * (2j / (s + 1.0j) - abs(s * 1j) + (-(1j * s)) ** 2), (0.5,)),
             (lambda v: c64 * (1j * np.abs(v)), (v,)),
             (lambda v: c64 * (np.abs(v) * 1j), (v,)),            # NumPy's complex128
             (lambda z: c64 * z + x32 / z, (0.4 - 0.7j,)),        # a Python complex argument
             (lambda z: np.exp(z) * c64 + np.sum(np.stack([z, z * z])), (0.4 - 0.7j,)),
             (lambda z: np.dot(z, c64) + np.polyval(c64, z), (0.4 - 0.7j,))]
    for f, args in cases:
        out, vjp_fn = vjp(f, *args)
        expected = f(*args)
        assert out.dtype == np.result_type(expected)
        np.testing.assert_allclose(out, expected, rtol=1e-6)
        cotangents = vjp_fn(np.ones(np.shape(out), out.dtype))
        assert [type(c) if type(a) in (float, complex) else c.dtype
                for c, a in zip(cotangents, args)] == \
            [type(a) if type(a) in (float, complex) else a.dtype for a in args]

    def loss(s, x):
        z = 1j * s + 0.5
        w = z * z - 2 / z + abs(z) + (-z) ** 2 + 2 ** z
        return np.sum(np.real(x * w) + np.imag(x / z) + np.abs(np.exp(z) * x) + np.angle(z))
    check_grads(loss, [0.3, real(3)], order=2)
    check_grads(lambda z: np.real(np.sign(z) * z ** 3 + np.sqrt(z)), [0.4 - 0.7j], order=3)
    assert type(grad(lambda z: z ** 3, holomorphic=True)(0.5j)) is complex
    assert grad(grad(lambda z: z ** 3, holomorphic=True), holomorphic=True)(0.5j) == 3j


def _python_complex_cases():
    """(name, ufunc, Python-number arguments, position) for each input of each NumPy ufunc
    primitive whose spec has complex samples (the gufuncs need arrays)."""
    from vjpnet.tape import UFUNC_PRIMITIVES
    rng, cases = np.random.default_rng(5), []
    for ufunc, primitive in UFUNC_PRIMITIVES.items():
        if getattr(np, ufunc.__name__, None) is not ufunc or ufunc.signature or \
                getattr(primitive, "spec", None) is None:
            continue
        samples = primitive.spec(rng)
        sample = next((sample for sample in (samples if isinstance(samples, list) else
                                             [samples])
                       if any(np.iscomplexobj(a) for a in sample.args) and not sample.kwargs),
                      None)
        if sample is None:
            continue
        args = [complex(np.asarray(a).flat[0]) if np.iscomplexobj(a) else
                float(np.asarray(a).flat[0]) for a in sample.args]
        cases += [(f"{ufunc.__name__}-{i}", ufunc, args, i) for i in range(len(args))]
    return cases


@pytest.mark.parametrize("name, ufunc, args, position", _python_complex_cases(),
                         ids=[case[0] for case in _python_complex_cases()])
def test_ufuncs_of_python_complex_values(name, ufunc, args, position):
    def f(z):
        out = ufunc(*args[:position], z, *args[position + 1:])
        return np.real(out) + 0.7 * np.imag(out)
    check_grads(f, [args[position]], order=2)
    assert type(grad(f)(args[position])) is type(args[position])


def test_a_python_number_base_to_a_complex_power():
    z = cplx(3)
    for base in (2, 2.0, -1.5, np.float32(3.0)):
        f = lambda z: np.sum(np.abs(base ** z))   # noqa: E731
        check_grads(f, [z], order=2)


def test_integer_and_boolean_inputs_are_still_refused():
    for bad in (np.arange(3), np.ones(3, bool), 3, True):
        with pytest.raises(TypeError, match="only float and complex arrays"):
            grad(lambda x: np.sum(x * 1.0))(bad)


# --- the Traced interface ---------------------------------------------------------------------

def test_real_imag_conj_T_and_complex_on_traced_values():
    seen = {}

    def f(z):
        if type(z) is Traced:
            seen.update(real=type(z.real), dtype=z.dtype, T=z.T.shape)
        total = np.sum(z.real * 2.0 + z.imag ** 2) + np.real(np.sum(z.conj() * z.conjugate()))
        total = total + np.abs(np.sum(z.T @ z)) + np.sum(np.abs(z.T.conj()))
        return total + complex(vjpnet.stop_gradient(np.sum(z))).real * 0.0

    z = cplx(3, 2)
    check_grads(f, [z], order=2)
    assert seen == {"real": Traced, "dtype": np.complex128, "T": (2, 3)}
    x = real(3)

    def g(x):   # on real values: real is x itself, imag a constant zero, conj x itself
        assert x.real is x and type(x.imag) is np.ndarray and x.conj() is not None
        return np.sum(x.real * x.conj()) + np.sum(x.imag)

    np.testing.assert_allclose(grad(g)(x), 2 * x)


def test_sign_of_complex_is_differentiated_and_of_real_is_constant():
    z = cplx(4)
    check_grads(lambda z: np.sign(z) * z ** 2, [z], order=2)
    f = lambda z: np.sum(np.real(np.sign(z)))   # noqa: E731
    np.testing.assert_allclose(grad(f)(z), numeric_gradient(f, z), rtol=1e-6, atol=1e-8)
    results = []
    grad(lambda x: results.append(np.sign(x)) or np.sum(x))(real(3))
    assert type(results[0]) is np.ndarray


# --- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("call,name", [
    (lambda z: np.max(z), r"numpy\.max"), (lambda z: np.min(z, axis=0), r"numpy\.min"),
    (lambda z: z.max(), r"numpy\.max"), (lambda z: np.amax(z), r"numpy\.max"),
    (lambda z: np.maximum(z, 0.0), r"numpy\.maximum"), (lambda z: np.minimum(z, z), "minimum"),
    (lambda z: np.fmax(z, 1.0), r"numpy\.fmax"), (lambda z: np.fmin(1.0, z), r"numpy\.fmin"),
    (lambda z: np.clip(z, -1, 1), r"numpy\.clip"), (lambda z: z.clip(0.0), r"numpy\.clip"),
    (lambda z: np.linalg.norm(np.maximum(z, z)), "maximum"),
])
def test_ops_without_a_complex_derivative_refuse_complex_values(call, name):
    with pytest.raises(TypeError, match=name + r".*complex value.*not ordered.*np\.abs"):
        grad(lambda z: np.sum(np.abs(call(z))))(cplx(3))


@pytest.mark.parametrize("compare", [lambda z: z > 0, lambda z: 0.5 >= z,
                                     lambda z: np.less(z, z), lambda z: z[0] <= z[1],
                                     lambda z: np.greater_equal(np.real(z), z)])
def test_ordered_comparisons_refuse_complex_values(compare):
    with pytest.raises(TypeError, match=r"numpy\.(less|greater).*complex operand.*not ordered"):
        grad(lambda z: np.sum(np.where(compare(z), np.abs(z), 0.0)))(cplx(3))


def test_equality_and_comparisons_of_real_parts_still_work():
    z = cplx(4)
    f = lambda z: np.sum(np.where((np.real(z) > 0) & (z != 0), np.abs(z), 0.0))  # noqa: E731
    check_grads(f, [z])


def test_complex_output_of_grad_is_an_error_that_says_what_to_do():
    with pytest.raises(TypeError, match=r"real scalar.*complex.*np\.real.*holomorphic=True"):
        grad(lambda z: np.sum(z ** 2))(cplx(3))
    with pytest.raises(TypeError, match=r"real scalar.*complex"):
        grad(lambda x: np.sum(x * 1j))(real(3))


def test_holomorphic_needs_complex_inputs_and_outputs():
    with pytest.raises(TypeError, match=r"holomorphic=True: argument 0 is float64.*astype"):
        grad(lambda z: z ** 2, holomorphic=True)(real(1)[0])
    with pytest.raises(TypeError, match=r"holomorphic=True: the function must return a complex"):
        grad(lambda z: np.abs(z), holomorphic=True)(1j)


def test_complex_cotangent_for_a_real_output_is_refused():
    _, vjp_fn = vjp(lambda x: x * 2.0, real(3))
    with pytest.raises(TypeError, match=r"output leaf 0 is complex .* real \(float64\)"):
        vjp_fn(cplx(3))


def test_a_primitive_returning_a_complex_cotangent_for_a_real_input_is_named():
    @vjpnet.primitive
    def twice(x):
        return x * 2.0, None

    @twice.defvjp
    def twice_vjp(g, cache):
        return (g * (2.0 + 0j),)

    with pytest.raises(TypeError, match=r"VJP of twice returned a complex cotangent.*real.*"
                                        r"np\.real"):
        grad(lambda x: np.sum(twice(x)))(real(3))


# --- ops against numeric derivatives, HIPS autograd and JAX ------------------------------------

LOSSES = {
    "abs2": lambda np, z: np.sum(np.abs(z) ** 2),
    "real_imag": lambda np, z: np.sum(np.real(z) * np.imag(z) ** 2),
    "conj_product": lambda np, z: np.real(np.sum(z * np.conj(z[::-1]))),
    "angle": lambda np, z: np.sum(np.angle(z) ** 2),
    "exp_log": lambda np, z: np.sum(np.abs(np.exp(z * 0.5) + np.log(z * z + 3.0))),
    "trig": lambda np, z: np.real(np.sum(np.sin(z) * np.cos(z * 0.5) + np.tanh(z * 0.3))),
    "sqrt_power": lambda np, z: np.sum(np.abs(np.sqrt(z + 4.0) ** 3 + z ** 2.5)),
    "division": lambda np, z: np.imag(np.sum(1.0 / (z + 3.0) - z / (np.conj(z) + 3.0))),
    "mean_var_std": lambda np, z: np.var(z) + np.std(z, axis=0).sum() + np.abs(np.mean(z)),
    "prod_cumsum": lambda np, z: np.abs(np.prod(z[0] * 0.5)) +
    np.sum(np.real(np.cumsum(z, axis=1)) ** 2),
    "matmul": lambda np, z: np.sum(np.abs(z @ z.T) ** 2),
    "dot_conj_T": lambda np, z: np.real(np.trace(np.dot(z, np.conj(z).T))),
    "einsum": lambda np, z: np.sum(np.abs(np.einsum("ij,kj->ik", z, z))),
    "tensordot": lambda np, z: np.sum(np.real(np.tensordot(z, np.conj(z), axes=([1], [1])))),
    "norm": lambda np, z: np.linalg.norm(z) + np.sum(np.linalg.norm(z, axis=1)),
    "inv_det": lambda np, z: np.abs(np.linalg.det(np.dot(z, np.conj(z).T) + 2.0)) +
    np.sum(np.abs(np.linalg.inv(z[:, :3] + 3.0))),
    "solve": lambda np, z: np.sum(np.abs(np.linalg.solve(z[:, :3] + 3.0 * np.eye(3),
                                                         z[:, 3])) ** 2),
    "where_concat": lambda np, z: np.sum(np.abs(np.concatenate(
        [np.where(np.real(z) > 0, z, 2 * z), z[:1]])) ** 2),
    "reshape_transpose": lambda np, z: np.sum(np.abs(np.reshape(np.transpose(z), (2, 6))[:, ::2])
                                              * np.arange(3.0)),
    "outer_inner": lambda np, z: np.real(np.sum(np.outer(z[0], z[1]))) +
    np.imag(np.inner(z[0], z[2])),
    "complex_from_real": lambda np, z: np.sum(np.abs(np.exp(1j * np.real(z)) +
                                                     np.imag(z) * 1j) ** 3),
    "sinh_arcs": lambda np, z: np.sum(np.abs(np.sinh(z * 0.5) + np.arcsinh(z * 0.3) +
                                             np.arctan(z * 0.3) + np.arcsin(z * 0.3))),
    "expm1_log1p": lambda np, z: np.sum(np.abs(np.expm1(z * 0.5) * np.log1p(z * 0.2))),
    "square_reciprocal": lambda np, z: np.sum(np.abs(np.square(z) + np.reciprocal(z + 3.0))),
    "stack_sum": lambda np, z: np.sum(np.abs(np.stack([z, z * 1j, np.conj(z)], axis=0)
                                             .sum(axis=0))),
    "fft_mix": lambda np, z: np.sum(np.abs(np.fft.fft(z, axis=0)) ** 2 *
                                    np.real(np.fft.ifft(z))),
    "log10_log2_exp2": lambda np, z: np.sum(np.abs(np.log10(z + 3.0) + np.log2(z + 3.0) +
                                                   np.exp2(z * 0.3))),
    "arccos_arctanh_tan": lambda np, z: np.sum(np.abs(np.arccos(z * 0.3) + np.arctanh(z * 0.3)
                                                      + np.tan(z * 0.3))),
    "cosh_arccosh": lambda np, z: np.sum(np.abs(np.cosh(z * 0.5) + np.arccosh(z + 3.0))),
    "vdot": lambda np, z: np.real(np.vdot(z, z * (1 + 2j))),
}
NOT_IN_AUTOGRAD = {"vdot"}            # autograd: "VJP of vdot wrt argnums (0, 1) not defined"


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_table_against_numeric_derivatives(name):
    z = cplx(3, 4)
    check_grads(lambda z: LOSSES[name](np, z), [z], order=2, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(set(LOSSES) - NOT_IN_AUTOGRAD))
def test_loss_table_against_hips_autograd(name):
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    z = cplx(3, 4)
    ours = grad(lambda z: LOSSES[name](np, z))(z)
    theirs = autograd.grad(lambda z: LOSSES[name](anp, z))(z)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


JAX_LOSSES = ["abs2", "real_imag", "conj_product", "angle", "exp_log", "trig", "sqrt_power",
              "division", "matmul", "einsum", "norm", "solve", "fft_mix", "vdot", "mean_var_std"]


def test_loss_table_against_jax():
    jax = import_jax()
    z = cplx(3, 4)
    with jax.enable_x64(True):
        for name in JAX_LOSSES:
            theirs = np.asarray(jax.grad(lambda z: LOSSES[name](jax.numpy, z))(z))
            ours = grad(lambda z: LOSSES[name](np, z))(z)
            np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, err_msg=name)


def test_arccosh_uses_the_principal_branch_derivative_left_of_zero():
    """d arccosh(z)/dz = 1/(sqrt(z-1) sqrt(z+1)); 1/sqrt(z^2-1), which HIPS autograd 1.9 and
    JAX 0.10 use, has the wrong sign where Re z < 0."""
    z = np.array([-2.0 + 0.5j, -0.5 - 1.0j, 2.0 + 0.5j])
    f = lambda z: np.sum(np.real(np.arccosh(z)))   # noqa: E731
    np.testing.assert_allclose(grad(f)(z), numeric_gradient(f, z), rtol=1e-6)


def test_linalg_with_mixed_real_and_complex_operands():
    a, b, c = real(3, 3) + 3 * np.eye(3), cplx(3, 2), cplx(3)
    for f, args in [(lambda a, b: np.abs(np.sum(a @ b)), [a, b]),
                    (lambda a, b: np.abs(np.sum(np.dot(b.T, a))), [a, b]),
                    (lambda a, b: np.sum(np.abs(np.linalg.solve(a, b)) ** 2), [a, b]),
                    (lambda a, c: np.sum(np.abs(np.linalg.solve(a * (1 + 0.5j), c))), [a, c]),
                    (lambda a, c: np.abs(np.vdot(c, a[0])), [a, c]),
                    (lambda a, b: np.abs(np.sum(np.tensordot(a, b, axes=1))), [a, b]),
                    (lambda a, b: np.abs(np.sum(np.einsum("ij,jk->ik", a, b))), [a, b])]:
        gradients = grad(f, argnums=(0, 1))(*args)
        for argument, gradient in zip(args, gradients):
            assert gradient.dtype == argument.dtype
        check_grads(f, args, order=2)


def test_vdot_conjugates_its_first_argument_as_numpy():
    a, b = cplx(4), cplx(4)
    out, vjp_fn = vjp(np.vdot, a, b)
    np.testing.assert_allclose(out, np.vdot(a, b))
    check_grads(lambda a, b: np.vdot(a, b), [a, b], order=2)


def test_norm_of_complex_every_ord():
    z = cplx(3, 4)
    for ord in [None, 2, 1, np.inf, -np.inf, 3, 0.5, -1.5]:
        for f in [lambda z: np.linalg.norm(z, ord, axis=1),
                  lambda z: np.linalg.norm(z, ord, axis=0, keepdims=True)]:
            np.testing.assert_allclose(vjp(f, z)[0], f(z))
            check_grads(f, [z], order=2)
    for ord in [None, "fro", 1, -1, np.inf, -np.inf]:   # matrix norms
        f = lambda z: np.linalg.norm(z, ord)   # noqa: E731
        np.testing.assert_allclose(vjp(f, z)[0], f(z))
        check_grads(f, [z], order=2)
    f = lambda z: np.linalg.norm(z)   # noqa: E731
    np.testing.assert_allclose(vjp(f, z)[0], f(z))
    check_grads(f, [z], order=2)
    count = vjp(lambda z: np.linalg.norm(z, 0, axis=1), z.astype(np.complex64))[0]
    assert count.dtype == np.linalg.norm(z.astype(np.complex64), 0, axis=1).dtype   # float32


def test_var_std_of_complex_are_real_as_numpy():
    z = cplx(3, 4)
    for f in (np.var, np.std, lambda z: np.var(z, axis=1, ddof=1)):
        out = vjp(f, z)[0]
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, f(z))
        check_grads(f, [z], order=2)


# --- random complex programs against HIPS autograd and numeric derivatives ---------------------
# Every op keeps the values finite and away from branch cuts (log and sqrt of |v|^2 + 1) and
# from kinks (abs of v + 3); shapes are (3, 4), (4,) or (1, 4), which broadcast together.

UNARY = [
    lambda np, v: np.exp(v * 0.3), lambda np, v: np.sin(v), lambda np, v: np.cos(v * 0.5),
    lambda np, v: np.tanh(v * 0.3), lambda np, v: np.conj(v), lambda np, v: np.real(v),
    lambda np, v: np.imag(v), lambda np, v: np.abs(v + 3.0), lambda np, v: np.square(v) * 0.5,
    lambda np, v: v * 1j, lambda np, v: np.log(np.real(v * np.conj(v)) + 1.0),
    lambda np, v: np.sqrt(np.abs(v) ** 2 + 1.0), lambda np, v: np.sum(v, axis=0, keepdims=True),
    lambda np, v: np.mean(v, axis=-1, keepdims=True), lambda np, v: v[..., ::-1],
    lambda np, v: np.cumsum(v, axis=-1), lambda np, v: np.fft.fft(v) * 0.3,
    lambda np, v: np.fft.ifft(v, axis=-1), lambda np, v: np.roll(v, 1, axis=-1),
    lambda np, v: v / (np.abs(v) + 1.0), lambda np, v: np.sinh(v * 0.3),
]
BINARY = [
    lambda np, v, w: v + w, lambda np, v, w: v - w, lambda np, v, w: v * w,
    lambda np, v, w: v / (w * np.conj(w) + 1.0),
    # broadcast before np.where: HIPS autograd 1.9's where VJP does not sum over broadcast axes
    lambda np, v, w: np.where(np.real(w + 0.0 * v) > 0, v + 0.0 * w, w + 0.0 * v),
    lambda np, v, w: _project(np, v + 0.0 * w) + w,
]


def _project(np, u):
    """u (..., k) @ a fixed (k, 4) matrix."""
    k = u.shape[-1]
    return u @ (np.arange(k * 4.0).reshape(k, 4) % 3.0 - 1.0) * 0.2


def random_program(rng):
    """A loss of [z, x, c, y] (complex (3, 4), real (3, 4), complex (4,), real (4,)): a random
    sequence of UNARY and BINARY steps on a pool of values, ending in a real scalar."""
    steps = []
    for _ in range(rng.integers(2, 6)):
        if rng.random() < 0.6:
            steps.append((0, int(rng.integers(len(UNARY))), int(rng.integers(8))))
        else:
            steps.append((1, int(rng.integers(len(BINARY))), int(rng.integers(8)),
                          int(rng.integers(8))))
    weights = rng.standard_normal(4)

    def loss(np, args):
        pool = list(args)
        for step in steps:
            if step[0] == 0:
                pool.append(UNARY[step[1]](np, pool[step[2] % len(pool)]))
            else:
                pool.append(BINARY[step[1]](np, pool[step[2] % len(pool)],
                                            pool[step[3] % len(pool)]))
        last = pool[-1]
        return np.sum(np.abs(last + 0.5) ** 2 * weights) + np.sum(np.real(pool[-2]) * 0.3)

    return loss, steps


PROGRAMS = int(os.environ.get("VJPNET_COMPLEX_PROGRAMS", "150"))


def test_random_complex_programs_against_autograd_and_numeric_derivatives():
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    rng = np.random.default_rng(2024)
    tried = 0
    for index in range(PROGRAMS):
        loss, steps = random_program(rng)
        args = [cplx(3, 4) * 0.7, real(3, 4), cplx(4) * 0.7, real(4)]
        value = loss(np, args)
        if not np.isfinite(value) or abs(value) > 1e4:
            continue
        tried += 1
        ours = grad(lambda args: loss(np, args))(args)
        theirs = autograd.grad(lambda args: loss(anp, args))(args)
        for position, (mine, other) in enumerate(zip(ours, theirs)):
            assert mine.dtype == args[position].dtype
            np.testing.assert_allclose(mine, other, rtol=1e-9, atol=1e-11,
                                       err_msg=f"program {index} {steps}, argument {position}")
        check_grads(lambda *args: loss(np, list(args)), args, rtol=1e-5, atol=1e-7,
                    order=2 if index % 4 == 0 else 1)
    assert tried >= PROGRAMS * 0.8


def test_readme_complex_example_runs_and_gives_the_numbers_it_states():
    import pathlib
    import re
    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    code = re.search(r"## Complex numbers and FFT\n.*?```python\n(.*?)```", readme, re.S).group(1)
    lines = code.splitlines()
    namespace = {"np": np, "vjpnet": vjpnet}
    checked = 0
    for line in lines:   # each "expression   # value" line must evaluate to the stated value
        statement, _, comment = line.partition("#")
        if "=" in statement.split("(")[0]:
            exec(statement, namespace)
            continue
        value = eval(statement, namespace)
        stated = re.search(r"(\(?-?[\d.]+[+-][\d.]+j\)?|array\(\[.*?\]\)|\[.*?\])", comment)
        expected = eval(stated.group(1).replace("array(", "np.array("), {"np": np})
        np.testing.assert_allclose(np.asarray(value[0] if isinstance(value, tuple) else value),
                                   np.asarray(expected))
        checked += 1
    assert checked == 4


def test_scipy_functions_without_a_complex_vjp_refuse_complex_values():
    """The SciPy functions whose VJPs hold for real values only raise on complex input instead
    of returning a wrong gradient; the holomorphic ones are right."""
    pytest.importorskip("scipy")
    import scipy.special as special
    from vjpnet.scipy import linalg
    z = cplx(3) + 2.0
    with pytest.raises(TypeError, match=r"scipy\.special\.ive got a complex value"):
        grad(lambda z: np.sum(np.abs(special.ive(1.5, z))))(z)
    a = cplx(3, 3)
    hermitian = a @ np.conj(a).T + 3 * np.eye(3)
    for function in (lambda h: linalg.cholesky(h), lambda h: linalg.cho_factor(h)[0],
                     lambda h: linalg.cho_solve(linalg.cho_factor(h), np.ones(3))):
        with pytest.raises(TypeError, match=r"complex \(Hermitian\) matrices are not supported"):
            grad(lambda h: np.sum(np.abs(function(h))))(hermitian)
    for function in (special.erf, special.exp1, lambda z: special.jv(1.5, z)):
        check_grads(lambda z: function(z), [z], order=2)
    check_grads(special.loggamma, [z])   # its second derivative needs _zeta: real only in SciPy
    check_grads(lambda a: linalg.expm(a * 0.3), [a], order=1)
