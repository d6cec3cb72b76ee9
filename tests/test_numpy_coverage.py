"""What vjpnet differentiates, against HIPS autograd's list, and what it refuses clearly.

- Every NumPy function HIPS autograd has a VJP for is routed by vjpnet, except the ones listed
  in NOT_YET with the reason (an entry that becomes covered fails the test: remove it).
- README.md's coverage list is the one the registry generates.
- Functions without a VJP raise the "no registered VJP" TypeError naming the function by its
  real module (numpy.linalg..., numpy.lib.scimath...).
"""
import pathlib

import numpy as np
import pytest

from vjpnet import grad
from vjpnet.numpy_ops import coverage
from vjpnet.registry import Primitive
from vjpnet.tape import FUNCTION_HANDLERS, NONDIFFERENTIABLE, UFUNC_PRIMITIVES

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"

NOT_YET = {
    # np.full converts its fill value with np.asarray before NumPy's dispatch can route it;
    # the conversion error points to np.broadcast_to(x, shape)
    "numpy.full": "not routable",
    # ndarray.astype is Traced.astype (a method, not a NumPy function)
    "numpy.astype": "a method",
}


def _autograd_numpy_functions():
    """{"module.name": function} for the NumPy functions HIPS autograd registers VJPs for."""
    pytest.importorskip("autograd")
    import autograd.numpy  # noqa: F401  (registers the NumPy VJPs)
    import autograd.numpy.fft  # noqa: F401
    import autograd.numpy.linalg  # noqa: F401
    from autograd.core import primitive_vjps
    functions = {}
    for wrapper in primitive_vjps:
        function = getattr(wrapper, "fun", None)
        module = getattr(function, "__module__", None) or ""
        if isinstance(function, np.ufunc):   # ufuncs have no __module__: NumPy's or SciPy's
            module = "numpy" if getattr(np, function.__name__, None) is function else "scipy"
        if module == "numpy" or module.startswith("numpy."):
            functions[f"{module}.{function.__name__}"] = function
    return functions


def test_vjpnet_routes_every_numpy_function_autograd_differentiates():
    functions = _autograd_numpy_functions()
    routed = set(FUNCTION_HANDLERS) | set(UFUNC_PRIMITIVES)
    missing = sorted(name for name, function in functions.items()
                     if function not in routed and name not in NOT_YET)
    assert not missing, f"differentiated by HIPS autograd but not by vjpnet: {missing}"
    now_covered = sorted(name for name in NOT_YET
                         if name in functions and functions[name] in routed)
    assert not now_covered, f"covered now, remove from NOT_YET: {now_covered}"
    assert len(functions) > 100   # the list was read


@pytest.mark.parametrize("call,name", [
    (lambda x: np.emath.sqrt(x), "numpy.lib.scimath.sqrt"),
    (lambda x: np.i0(x), "numpy.i0"),
    (lambda x: np.histogram(x)[0], "numpy.histogram"),
    (lambda x: np.apply_over_axes(np.sum, x, [0]), "numpy.apply_over_axes"),
])
def test_functions_without_a_vjp_name_their_module(call, name):
    with pytest.raises(TypeError) as info:
        grad(lambda x: np.sum(call(x)))(np.array([0.5, 1.5, 2.0]))
    message = str(info.value)
    assert message.startswith(f"{name} has no registered VJP in vjpnet")
    short = name[len("numpy."):]
    assert f"vjpnet.register_function(np.{short}, " in message


@pytest.mark.parametrize("call,match", [
    (lambda x: np.copyto(np.zeros(3), x), r"numpy\.copyto writes into an array in place"),
    (lambda x: np.put(x, [0], 1.0), r"numpy\.put writes into an array in place"),
    (lambda x: np.fill_diagonal(x.reshape(1, 3), 0.0), r"numpy\.fill_diagonal"),
])
def test_in_place_writers_raise_naming_the_alternatives(call, match):
    with pytest.raises(TypeError, match=match) as info:
        grad(lambda x: np.sum(call(x)))(np.ones(3))
    assert "index_update" in str(info.value) or "np.where" in str(info.value)


def test_nondifferentiable_functions_are_not_also_routed():
    """(Ufuncs may be both: np.sign and the ordered comparisons have a primitive for complex
    values, differentiated or refused, and plain results for real ones.)"""
    assert not (set(FUNCTION_HANDLERS) & NONDIFFERENTIABLE)


def test_readme_coverage_list_is_up_to_date():
    section = coverage.section_of(README.read_text())
    assert section is not None, f"README.md lost its NumPy coverage section; markers: " \
                                f"{coverage.BEGIN!r} ... {coverage.END!r}"
    if f"NumPy {coverage.numpy_version()})" not in section:
        pytest.skip(f"README's list was generated with another NumPy version than "
                    f"{np.__version__}")
    assert section == coverage.markdown(), \
        f"README.md's NumPy coverage list is out of date; regenerate it: {coverage.COMMAND}"


def test_every_routed_numpy_primitive_is_differentiable_to_any_order():
    """The coverage list says 'to any order': no NumPy function routes to a first-order-only
    primitive."""
    handlers = list(FUNCTION_HANDLERS.values()) + list(UFUNC_PRIMITIVES.values())
    assert not [h.name for h in handlers if isinstance(h, Primitive) and h.first_order]


def test_coverage_script_prints_and_rewrites(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{coverage.BEGIN}\nstale\n{coverage.END}\n\nrest\n")
    coverage.main(["--write", str(readme)])
    assert capsys.readouterr().out.endswith("coverage section rewritten\n")
    text = readme.read_text()
    assert text.startswith("# title") and text.endswith("rest\n") and "stale" not in text
    assert coverage.section_of(text) == coverage.markdown()
    coverage.main([])
    assert capsys.readouterr().out.startswith(coverage.BEGIN)
