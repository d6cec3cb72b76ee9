"""Build script: compiles the Cython kernels in vjpnet_fast/ and the engine's hot path (the
plain-Python modules listed in vjpnet/_engine.py, compiled in place next to their sources);
metadata lives in setup.cfg."""
import ast
import glob
import os
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

OPENMP = os.environ.get("VJPNET_OPENMP", "1") != "0" and sys.platform.startswith("linux")


def extension(pyx_path):
    module = os.path.splitext(pyx_path)[0].replace(os.sep, ".")
    return Extension(
        module,
        [pyx_path],
        include_dirs=[np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=["-O3"] + (["-fopenmp"] if OPENMP else []),
        extra_link_args=["-fopenmp"] if OPENMP else [],
    )


def engine_extension(module):
    """A module of vjpnet's engine: its .py source (and .pxd declarations) compiled by Cython."""
    return Extension(module, [module.replace(".", os.sep) + ".py"])


def engine_modules():
    """ENGINE_MODULES of vjpnet/_engine.py, read without importing vjpnet (numpy may not be
    importable yet in an isolated build)."""
    with open(os.path.join("vjpnet", "_engine.py")) as source:
        module = ast.parse(source.read())
    for statement in module.body:
        if isinstance(statement, ast.Assign) and \
                [target.id for target in statement.targets] == ["ENGINE_MODULES"]:
            return ast.literal_eval(statement.value)
    raise RuntimeError("vjpnet/_engine.py defines no ENGINE_MODULES")


setup(
    ext_modules=cythonize(
        [extension(path) for path in sorted(glob.glob(os.path.join("vjpnet_fast", "*.pyx")))],
        compiler_directives={"language_level": "3"},
        compile_time_env={"VJPNET_OPENMP": OPENMP},
    ) + cythonize(
        [engine_extension(module) for module in engine_modules()],
        compiler_directives={"language_level": "3"},
    ),
)
