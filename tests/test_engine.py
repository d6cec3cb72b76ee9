"""The engine runs compiled (Cython builds of tape.py and the ufunc modules) or as pure Python
(VJPNET_PURE_PYTHON=1, no build, or a build older than its source): both give the same results,
and the tape's memory per op stays small."""
import os
import subprocess
import sys
import tracemalloc
import warnings

import numpy as np
import pytest

import vjpnet
from vjpnet import _engine
from vjpnet.tape import open_tape

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_PROGRAM = """
import numpy as np, vjpnet
from vjpnet import _engine
def loss(params, x):
    h = np.tanh(x @ params["W"] + params["b"])
    return np.sum(np.sin(h) * h ** 2) / x.shape[0] + 0.1 * np.sum(params["W"] ** 2)
rng = np.random.default_rng(0)
params = {"W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
x = rng.standard_normal((5, 4))
value, grads = vjpnet.value_and_grad(loss)(params, x)
hessian_row = vjpnet.grad(lambda b: vjpnet.grad(loss)(dict(params, b=b), x)["b"][0])(params["b"])
print(_engine.compiled(), repr(value), grads["W"].tobytes().hex(), hessian_row.tobytes().hex())
"""


def _run(pure):
    env = dict(os.environ, VJPNET_PURE_PYTHON="1" if pure else "0")
    result = subprocess.run([sys.executable, "-c", _PROGRAM], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True)
    return result.stdout.split()


def test_pure_python_engine_is_forced_by_the_environment_variable():
    compiled, *_ = _run(pure=True)
    assert compiled == "False"


def test_both_engines_give_bit_identical_results():
    pure = _run(pure=True)
    default = _run(pure=False)
    assert pure[1:] == default[1:]


def test_the_compiled_engine_runs_when_built():
    for module in _engine.ENGINE_MODULES:
        source, declarations, build = _engine._paths(module)
        if build is None or os.path.getmtime(build) < max(
                os.path.getmtime(path) for path in (source, declarations)
                if os.path.exists(path)):
            pytest.skip(f"{module} is not built or its build is stale "
                        "(python setup.py build_ext --inplace)")
    compiled, *_ = _run(pure=False)
    assert compiled == "True"


def test_a_build_older_than_its_source_is_not_used(monkeypatch):
    source, _, _ = _engine._paths("vjpnet.tape")
    monkeypatch.delenv("VJPNET_PURE_PYTHON", raising=False)
    monkeypatch.setattr(_engine, "_paths", lambda module: (source, source, source + ".so"))
    monkeypatch.setattr(os.path, "getmtime", lambda path: 2.0 if path == source else 1.0)
    with pytest.warns(RuntimeWarning, match="older than its source.*build_ext --inplace"):
        assert _engine._use_source("vjpnet.tape") == "build older than its source"
    monkeypatch.setattr(os.path, "getmtime", lambda path: 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _engine._use_source("vjpnet.tape") is None


def test_tape_memory_per_op_of_a_long_chain():
    # per op the tape keeps the output (a (3,) array), its cache, the entry and the traced
    # value: about 390 bytes on CPython 3.11 / NumPy 2.4 (430 before entries held shapes, not
    # input values, and flat parents)
    n = 100_000
    tracemalloc.start()
    try:
        with open_tape() as tape:
            traced = tape.new_input(np.ones(3))
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(n):
                traced = traced * 1.0
            per_op = (tracemalloc.get_traced_memory()[0] - before) / n
            tape.entries.clear()
    finally:
        tracemalloc.stop()
    assert per_op < 450, f"{per_op:.0f} bytes per op"
    np.testing.assert_allclose(vjpnet.grad(lambda x: np.sum(x * 1.0))(np.ones(3)), 1.0)
