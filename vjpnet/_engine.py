"""Which engine runs: the Cython builds of the engine's modules, or their pure-Python sources.

The hot path of the tape (recording, the ufunc fast paths, Traced, the reverse sweep) is plain
Python in the modules listed here, and setup.py also compiles each of them with Cython, in
place next to its source (their .pxd files give C types; the code is the same). Python's
import system loads such a build before the .py file. The pure-Python source runs instead:
- when VJPNET_PURE_PYTHON=1 is set (the tests run in both modes, see .ci/run);
- when no build is there (no compiler; `python setup.py build_ext --inplace` makes one);
- when the build is older than its .py or .pxd (edited since): with a warning, so an edit is
  never silently ignored by a stale build.
This module must be imported before any engine module (vjpnet/__init__.py imports it first).
"""
import importlib.machinery
import importlib.util
import os
import sys
import warnings

ENGINE_MODULES = ("vjpnet.tape", "vjpnet.tree", "vjpnet.transforms._common",
                  "vjpnet.transforms.reverse", "vjpnet.numpy_ops._base",
                  "vjpnet.numpy_ops.elementwise")

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _paths(module):
    """(source .py, .pxd, the build if any) of an engine module."""
    base = os.path.join(os.path.dirname(_PACKAGE), *module.split("."))
    builds = [base + suffix for suffix in importlib.machinery.EXTENSION_SUFFIXES
              if os.path.exists(base + suffix)]
    return base + ".py", base + ".pxd", builds[0] if builds else None


def _use_source(module):
    """Why `module` runs from its .py source (a short reason), or None to use its build."""
    if os.environ.get("VJPNET_PURE_PYTHON") == "1":
        return "VJPNET_PURE_PYTHON=1"
    source, declarations, build = _paths(module)
    if build is None:
        return "not built"
    built = os.path.getmtime(build)
    if any(os.path.exists(path) and os.path.getmtime(path) > built
           for path in (source, declarations)):
        warnings.warn(f"vjpnet: the compiled {module} is older than its source, so the pure-"
                      "Python one runs (slower); rebuild it with `python setup.py build_ext "
                      "--inplace`", RuntimeWarning, stacklevel=3)
        return "build older than its source"
    return None


class _SourceFinder:
    """A meta-path finder that loads the listed engine modules from their .py sources."""

    def __init__(self, modules):
        self.modules = modules

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.modules:
            return None
        return importlib.util.spec_from_file_location(fullname, _paths(fullname)[0])


REASONS = {module: _use_source(module) for module in ENGINE_MODULES}
_sources = {module for module, reason in REASONS.items() if reason is not None}
if _sources:
    sys.meta_path.insert(0, _SourceFinder(_sources))


def compiled():
    """Whether every engine module runs compiled (False: some or all run pure Python; REASONS
    says why, per module)."""
    return all(not sys.modules[module].__file__.endswith(".py") for module in ENGINE_MODULES)
