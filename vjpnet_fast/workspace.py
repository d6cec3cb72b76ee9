"""Reusable scratch buffers for the fast kernels.

Touching freshly allocated memory costs about 1.5 us per 4 KiB page, so a conv that allocated
its multi-MB column matrix on every call would spend more time in page faults than in
arithmetic. The kernels instead carve their temporaries out of buffers kept here and reused
across calls. Buffers are per thread (a `threading.local`), so concurrent calls from several
threads never share scratch memory, and each (slot, dtype) keeps only its largest buffer.
Nothing returned to the caller (outputs, gradients, caches) ever lives in a workspace buffer.
"""
import threading
import weakref

import numpy as np

from vjpnet import memory


class Workspace(threading.local):
    """Per-thread scratch buffers: `get(slot, shape, dtype)` returns an uninitialised C-contiguous
    array of that shape that stays valid until the next `get` of the same slot and dtype in the
    same thread."""

    def __init__(self):
        self.buffers = {}

    def get(self, slot, shape, dtype):
        dtype = np.dtype(dtype)
        size = 1
        for extent in shape:
            size *= int(extent)
        key = (slot, dtype)
        buffer = self.buffers.get(key)
        if buffer is None or buffer.size < size:
            self.buffers.pop(key, None)      # free the old buffer before allocating the new one
            buffer = np.empty(max(size, 1), dtype)
            self.buffers[key] = buffer
        return buffer[:size].reshape(shape)

    def nbytes(self):
        """Bytes held by this thread's buffers."""
        return sum(buffer.nbytes for buffer in self.buffers.values())

    def clear(self):
        """Release this thread's buffers (they are re-created on the next call)."""
        self.buffers.clear()


workspace = Workspace()


def clear_workspace():
    """Free the calling thread's scratch buffers and the spare recycled buffers (also those of
    vjpnet.memory, which hold the kernels' outputs between calls)."""
    workspace.clear()
    recycling_pool.clear()
    memory.clear()


class RecyclingPool:
    """Buffers that outlive one call but not their owner: `take(owner, shape, dtype)` returns
    an array that stays valid while `owner` (e.g. a forward pass's cache) is alive and goes
    back to the pool, for the next `take` of that shape and dtype, when `owner` is collected.
    This keeps the conv's column matrix between its forward and backward pass without
    page-faulting a fresh one on every call. At most `per_key` spare buffers per shape and
    dtype are kept; the pool is shared by all threads (list append/pop are atomic)."""

    def __init__(self, per_key=2):
        self.per_key = per_key
        self.spares = {}

    def take(self, owner, shape, dtype):
        key = (tuple(int(n) for n in shape), np.dtype(dtype))
        spares = self.spares.setdefault(key, [])
        try:
            array = spares.pop()
        except IndexError:
            array = np.empty(key[0], key[1])
        weakref.finalize(owner, self._give_back, key, array)
        return array

    def _give_back(self, key, array):
        spares = self.spares.setdefault(key, [])
        if len(spares) < self.per_key:
            spares.append(array)

    def clear(self):
        self.spares.clear()


recycling_pool = RecyclingPool()
