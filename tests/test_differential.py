"""The randomized differential test of the NumPy layer.

Random NumPy programs (tests/random_programs.py) built from the table of NumPy functions
(tests/program_table.py) are differentiated by vjpnet and checked (tests/differential_checks.py)
against central differences, vjpnet's own grad/vjp consistency, second order, HIPS autograd and
float32 dtype preservation. A failure shrinks to a minimal program and prints it as a runnable
script.

By default a derandomized run of 300 programs (the same ones every run). Environment:

    VJPNET_DIFFERENTIAL_EXAMPLES=5000   how many programs (a long local run)
    VJPNET_DIFFERENTIAL_SEED=7          random programs from this seed instead of the fixed ones
    VJPNET_DIFFERENTIAL_ONLY=solve,sum  only these table entries
    VJPNET_DIFFERENTIAL_WAITING=1       include WAITING_FOR_FIX (the known, unfixed bugs)
"""
import collections
import fnmatch
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, seed, settings

import vjpnet
from vjpnet.tape import FUNCTION_HANDLERS, UFUNC_METHODS, UFUNC_PRIMITIVES

import differential_checks
import program_table
import random_programs

EXAMPLES = int(os.environ.get("VJPNET_DIFFERENTIAL_EXAMPLES", "300"))
SEED = os.environ.get("VJPNET_DIFFERENTIAL_SEED")
ONLY = [name for name in os.environ.get("VJPNET_DIFFERENTIAL_ONLY", "").split(",") if name]
WAITING = os.environ.get("VJPNET_DIFFERENTIAL_WAITING", "") not in ("", "0")


def make_config(only=(), waiting=False, **options):
    """The generator's configuration: all entries (or `only`), WAITING_FOR_FIX excluded unless
    `waiting`; options go to random_programs.Config (max_ops, focus, ...)."""
    entries = [program_table.TABLE[name] for name in only] if only else program_table.ENTRIES
    excluded = set(program_table.UNSUPPORTED)
    if not waiting:
        excluded |= set(program_table.WAITING_FOR_FIX)
    return random_programs.Config(entries, excluded=excluded, **options)


CONFIG = make_config(ONLY, WAITING)
STATS = collections.Counter()


def _settings(examples):
    return settings(max_examples=examples, deadline=None, derandomize=SEED is None,
                    database=None, print_blob=False,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def _seeded(test):
    return seed(int(SEED))(test) if SEED is not None else test


@_seeded
@_settings(EXAMPLES)
@given(random_programs.programs(CONFIG))
def test_random_programs_differentiate_correctly(program):
    differential_checks.run_checks(program, stats=STATS)


def teardown_module():
    if EXAMPLES > 300 and STATS:   # a long run: say what was checked and what was skipped
        print("\ndifferential test statistics:")
        for key, count in sorted(STATS.items()):
            print(f"  {count:6d}  {key}")


# --- the table stays complete and honest ------------------------------------------------------

def _is_numpy(function):
    """NumPy's own functions and ufuncs (not SciPy's ufuncs, not a test's own primitives)."""
    if isinstance(function, np.ufunc):
        return getattr(np, function.__name__, None) is function
    return (getattr(function, "__module__", None) or "").startswith("numpy")


def test_every_routed_numpy_function_has_a_table_entry():
    covered = {function for entry in program_table.ENTRIES for function in entry.covers}
    covered |= set(program_table.NOT_GENERATED)
    routed = {f for f in set(FUNCTION_HANDLERS) | set(UFUNC_PRIMITIVES) if _is_numpy(f)}
    missing = sorted(getattr(f, "__name__", str(f)) for f in routed - covered)
    assert not missing, ("NumPy functions vjpnet routes without an entry in "
                         f"tests/program_table.py: {missing}")
    assert {(np.add, "reduce"), (np.multiply, "reduce"), (np.maximum, "reduce"),
            (np.minimum, "reduce"), (np.add, "accumulate"), (np.logaddexp, "reduce"),
            (np.hypot, "reduce"), (np.logaddexp, "accumulate"), (np.multiply, "accumulate"),
            (np.subtract, "accumulate")} <= set(UFUNC_METHODS), "update the ufunc_reduce entry"
    assert {(np.add, "outer"), (np.subtract, "outer"), (np.multiply, "outer")} <= \
        set(UFUNC_METHODS), "update the ufunc_outer entry"


def test_exclusions_name_real_entries():
    for key in list(program_table.WAITING_FOR_FIX) + list(program_table.UNSUPPORTED):
        name = key.split("/")[0]
        assert name in program_table.TABLE or key == "complex" or \
            any(fnmatch.fnmatchcase(entry, name) for entry in program_table.TABLE), key


ENTRY_EXAMPLES = 3


@pytest.mark.parametrize("name", sorted(program_table.TABLE))
def test_each_entry_in_random_programs(name):
    """Every entry, in a few random programs that use it (the main test's draws are not
    uniform over the table; this makes sure each entry is exercised in CI)."""
    excluded = set(program_table.WAITING_FOR_FIX) | set(program_table.UNSUPPORTED)
    if name in excluded or (name in COMPLEX_ENTRIES and "complex" in excluded):
        pytest.skip("waiting for a fix (WAITING_FOR_FIX)")
    config = make_config(focus=program_table.TABLE[name], max_ops=3)

    @_settings(ENTRY_EXAMPLES)
    @given(random_programs.programs(config))
    def check(program):
        differential_checks.run_checks(program)

    check()


COMPLEX_ENTRIES = ["complex", "real", "conj", "abs_complex", "angle"]


@pytest.mark.parametrize("name", sorted(program_table.TABLE))
def test_every_entry_builds_programs(name):
    """Each entry generates valid programs, also those waiting for a fix."""
    needs_complex = name in COMPLEX_ENTRIES
    config = make_config(sorted({name, *COMPLEX_ENTRIES[:3]}) if needs_complex else [name],
                         waiting=True, max_ops=3 if needs_complex else 1)
    program = find(random_programs.programs(config), lambda p: name in p.entries,
                   settings=settings(max_examples=300, database=None, derandomize=True,
                                     phases=[Phase.generate],
                                     suppress_health_check=list(HealthCheck)))
    assert program.statements


def test_a_reproducer_is_a_runnable_script():
    config = make_config(["einsum", "log", "sum"], max_ops=3)
    program = find(random_programs.programs(config), lambda p: len(p.statements) >= 2,
                   settings=settings(max_examples=200, database=None, derandomize=True))
    namespace = {}
    exec(program.reproducer(), namespace)   # noqa: S102 - runs check_grads(f, ..., order=2)
    assert callable(namespace["f"])
    out, _ = vjpnet.vjp(namespace["f"], *program.arguments())
    np.testing.assert_allclose(out, program.output.value)


def test_a_wrong_vjp_is_caught_and_shrunk_to_one_statement():
    """The net catches a deliberately broken VJP and shrinks the program to its one call."""
    primitive = UFUNC_PRIMITIVES[np.sin]
    original = primitive.vjp
    primitive.vjp = lambda g, cache: (1.01 * original(g, cache)[0],)
    try:
        failing = find(random_programs.programs(make_config(["sin", "add", "sum"])),
                       _fails, settings=settings(max_examples=300, database=None,
                                                 derandomize=True))
    finally:
        primitive.vjp = original
    assert failing.entries == ["sin"], failing.reproducer()


def _fails(program):
    try:
        differential_checks.run_checks(program)
    except AssertionError:
        return True
    return False


_W = np.arange(1.0, 25.0).reshape(3, 8) / 10   # weights: gradients differ per element
# Each reason the table gives for not comparing with HIPS autograd, as a small function of
# (np module, x) on which autograd raises or disagrees with central differences.
AUTOGRAD_CLAIMS = [
    ("no VJP: positive", lambda np_, x: np_.sum(np_.positive(x) ** 2)),
    ("no VJP: cbrt", lambda np_, x: np_.sum(np_.cbrt(x * x + 1.0))),
    ("no VJP: copy", lambda np_, x: np_.sum(np_.copy(x) ** 2)),
    ("no VJP: take", lambda np_, x: np_.sum(np_.take(x, [0, 2], axis=1) ** 2)),
    ("no VJP: take_along_axis",
     lambda np_, x: np_.sum(np_.take_along_axis(x, np.array([[0], [1], [3]]), axis=1) ** 2)),
    ("no VJP: vdot", lambda np_, x: np_.vdot(x, x)),
    ("no VJP: flip", lambda np_, x: np_.sum(np_.flip(x, 0) * _W[:, :4])),
    ("no VJP: ufunc methods", lambda np_, x: np_.sum(np_.add.reduce(x, axis=0) ** 2)),
    ("broadcast_to leading axes", lambda np_, x: np_.sum(np_.broadcast_to(x, (2, 3, 4)) ** 2)),
    ("outer of N-D", lambda np_, x: np_.sum(np_.outer(x, x[0]) ** 2)),
    ("outer of 0-d", lambda np_, x: np_.sum(np_.outer(x[0, 0], x[0]) ** 2)),
    ("pad mode edge", lambda np_, x: np_.sum(np_.pad(x, 1, mode="edge") ** 2)),
    ("pad without constant_values", lambda np_, x: np_.sum(np_.pad(x, 1) ** 2)),
    ("roll by a tuple", lambda np_, x: np_.sum(np_.roll(x, (1, 2), axis=(0, 1)) * _W[:, :4])),
    ("repeat a list", lambda np_, x: np_.sum(np_.repeat(x, [1, 0, 2], axis=0) ** 2)),
    ("repeat, negative axis", lambda np_, x: np_.sum(np_.repeat(x, 2, axis=-1) * _W)),
    ("diagonal with an offset", lambda np_, x: np_.sum(np_.diagonal(x, 1) ** 2)),
    ("trace axis1/axis2", lambda np_, x: np_.sum(
        np_.trace(np_.reshape(x, (2, 3, 2)), axis1=0, axis2=2) * _W[0, :3])),
    ("diag of a non-square matrix", lambda np_, x: np_.sum(np_.diag(x, k=1) * _W[0, :3])),
    ("einsum size-1 broadcast", lambda np_, x: np_.sum(np_.einsum("ij,i", x, np.ones(1))),
     (2, 1)),
    ("einsum repeated index", lambda np_, x: np_.sum(np_.einsum("ii->i", x[:, :3]) * _W[0, :3])),
    ("norm keepdims", lambda np_, x: np_.sum(
        np_.linalg.norm(x, axis=1, keepdims=True)[:, 0] * _W[0, :3])),
    ("norm ord=inf", lambda np_, x: np_.sum(np_.linalg.norm(x, ord=np.inf, axis=1) * _W[0, :3])),
    ("norm ord=-inf", lambda np_, x: np_.sum(np_.linalg.norm(x, ord=-np.inf, axis=1))),
    ("norm ord=1", lambda np_, x: np_.sum(np_.linalg.norm(x, ord=1, axis=1))),
    ("matrix norm, negative axes", lambda np_, x: np_.sum(
        np_.linalg.norm(np_.reshape(x, (3, 2, 2)), axis=(-2, -1)) * _W[0, :3])),
    ("solve, batched A, 1-D b", lambda np_, x: np_.sum(np_.linalg.solve(
        np_.reshape(x[:2], (2, 2, 2)) * 0.2 + 2.0 * np.eye(2), x[2, :2]))),
    ("solve, b broadcast", lambda np_, x: np_.sum(np_.linalg.solve(
        np_.reshape(x[:2], (2, 2, 2)) * 0.2 + 2.0 * np.eye(2), np_.reshape(x[2], (2, 2))))),
    ("where broadcasting", lambda np_, x: np_.sum(
        np_.where(np.array([[True], [False], [True]]), x[0], 0.5) * _W[:, :4])),
    ("hsplit of 1-D", lambda np_, x: np_.sum(np_.hsplit(x[0], 2)[0] ** 2)),
    ("split at decreasing indices", lambda np_, x: np_.sum(np_.split(x, [-1, 1], axis=1)[0] ** 2)),
    ("tile, short reps", lambda np_, x: np_.sum(np_.tile(np_.reshape(x, (1, 3, 4)), 2) *
                                               np.arange(24.0).reshape(1, 3, 8))),
    ("cumsum of a Python float", lambda np_, x: np_.sum(np_.cumsum(x) * 2.0)),
    ("concatenate axis=None", lambda np_, x: np_.sum(np_.concatenate([x, x[0]], axis=None) ** 2)),
    ("ArrayBox.transpose(i, j)", lambda np_, x: np_.sum(x.transpose(1, 0) * _W[:, :4].T)),
    ("ArrayBox has no .dot", lambda np_, x: np_.sum(x.dot(x.T))),
    ("prod with a zero factor", lambda np_, x: np_.sum(np_.prod(x * np.array([0.0, 1, 1, 1]),
                                                                axis=1) * _W[0, :3])),
]


@pytest.mark.parametrize("claim", AUTOGRAD_CLAIMS, ids=[c[0] for c in AUTOGRAD_CLAIMS])
def test_autograd_is_skipped_only_where_it_is_wrong_or_lacks_the_vjp(claim):
    """The table's reasons for not comparing with HIPS autograd hold: on each, autograd raises
    or disagrees with central differences (claim: text, f(np module, x)[, shape of x])."""
    autograd = pytest.importorskip("autograd")
    import autograd.numpy as anp
    claim, f, shape = claim if len(claim) == 3 else (*claim, (3, 4))
    x = 0.3 if "Python float" in claim else np.random.default_rng(1).standard_normal(shape)
    numeric = np.zeros_like(x)
    for index in np.ndindex(np.shape(x)):
        step = np.zeros_like(x)
        step[index] = 1e-6
        numeric[index] = (f(np, x + step) - f(np, x - step)) / 2e-6
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = autograd.grad(lambda x: f(anp, x))(x)
    except Exception:   # noqa: BLE001 - autograd lacks it
        return
    assert np.shape(theirs) != np.shape(x) or \
        not np.allclose(theirs, numeric, rtol=1e-5, atol=1e-6), \
        f"HIPS autograd now gets {claim!r} right: compare with it in tests/program_table.py"
