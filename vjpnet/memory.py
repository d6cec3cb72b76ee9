"""Recycled memory for the large arrays that layer kernels return.

    out = memory.empty((N, F, H, W), np.float32)   # like np.empty

A fresh multi-MB array costs a page fault per 4 KiB page on its first write (glibc hands
arrays above its mmap threshold straight back to the kernel when they are freed, so a training
loop that allocates the same activations every step faults them in again every step). Here a
large array's memory goes back to a free list when the last array (or view) that uses it is
garbage, and the next `empty` of the same byte size reuses it, already mapped.

This is a free list, not a workspace: memory is reused only once nothing refers to it any
more, so an array returned by `empty` is never written behind its holder's back. The arrays
do not own their data (`a.flags.owndata` is False; `a.base` is the lease that returns the
memory); they are otherwise ordinary writable C-contiguous arrays. Small arrays (below
MIN_BYTES) come from np.empty. Spare memory is capped (`set_limit`, default DEFAULT_LIMIT
bytes; 0 turns recycling off) and released by `clear()`. Thread-safe.
"""
import threading

import numpy as np

MIN_BYTES = 1 << 18                 # smaller arrays: np.empty (malloc reuses those well)
DEFAULT_LIMIT = 256 << 20           # spare bytes kept for reuse at most

_lock = threading.Lock()
_spares = {}                        # byte size -> [(raw uint8 array, its address), ...]
_state = {"spare_bytes": 0, "limit": DEFAULT_LIMIT}


class _Lease:
    """Owns one block while arrays use it; gives it back to the free list when collected."""

    __slots__ = ("block", "__array_interface__")

    def __init__(self, block, shape, typestr):
        self.block = block
        self.__array_interface__ = {"data": (block[1], False), "shape": shape,
                                    "typestr": typestr, "version": 3}

    def __del__(self):
        try:
            _give_back(self.block)
        except Exception:            # noqa: BLE001 - interpreter shutdown: let the block go
            pass


def empty(shape, dtype):
    """An uninitialised C-contiguous array of `shape` and `dtype`, in recycled memory when it
    is large (see the module docstring)."""
    if not isinstance(dtype, np.dtype):
        dtype = np.dtype(dtype)
    if not isinstance(shape, tuple):
        shape = tuple(shape) if np.iterable(shape) else (shape,)
    nbytes = dtype.itemsize
    for extent in shape:
        nbytes *= extent
    if nbytes < MIN_BYTES or not _state["limit"] or dtype.hasobject:
        return np.empty(shape, dtype)
    shape = tuple(int(n) for n in shape)
    block = None
    if _spares.get(nbytes):
        with _lock:
            spares = _spares.get(nbytes)
            if spares:
                block = spares.pop()
                _state["spare_bytes"] -= nbytes
    if block is None:
        raw = np.empty(nbytes, np.uint8)
        block = (raw, raw.__array_interface__["data"][0])
    return np.asarray(_Lease(block, shape, dtype.str))


def _give_back(block):
    nbytes = block[0].nbytes
    with _lock:
        if _state["spare_bytes"] + nbytes <= _state["limit"]:
            _spares.setdefault(nbytes, []).append(block)
            _state["spare_bytes"] += nbytes


def spare_bytes():
    """Bytes held in the free list now (not counting memory in use)."""
    return _state["spare_bytes"]


def set_limit(nbytes):
    """Keep at most `nbytes` of spare memory for reuse (0: no recycling); returns the old
    limit. Spares above the new limit are released."""
    if isinstance(nbytes, bool) or not isinstance(nbytes, (int, np.integer)) or nbytes < 0:
        raise ValueError(f"vjpnet.memory.set_limit: nbytes must be an integer >= 0, got "
                         f"{nbytes!r}")
    with _lock:
        old = _state["limit"]
        _state["limit"] = int(nbytes)
        for size in sorted(_spares, reverse=True):     # release the largest blocks first
            spares = _spares[size]
            while spares and _state["spare_bytes"] > _state["limit"]:
                spares.pop()
                _state["spare_bytes"] -= size
    return old


def clear():
    """Release every spare block (memory in use is released when its arrays are)."""
    with _lock:
        _spares.clear()
        _state["spare_bytes"] = 0
