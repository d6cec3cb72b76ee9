"""Compiled (Cython) kernels for vjpnet. Built by `pip install .` / `pip install -e .`."""
from vjpnet_fast._info import build_info

__all__ = ["build_info"]
