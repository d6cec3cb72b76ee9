"""Build script: compiles the Cython kernels in vjpnet_fast/ (metadata lives in setup.cfg)."""
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


setup(
    ext_modules=cythonize(
        [extension(path) for path in sorted(glob.glob(os.path.join("vjpnet_fast", "*.pyx")))],
        compiler_directives={"language_level": "3"},
        compile_time_env={"VJPNET_OPENMP": OPENMP},
    ),
)
