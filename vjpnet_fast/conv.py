"""Fast convolution: per-image im2col + BLAS GEMMs on helper threads, or (fallback) im2col
into reused buffers + one NumPy GEMM per chunk of images.

    conv_forward_fast(x, w, b, conv_param) -> (out, cache)
        x (N, C, H, W), w (F, C, HH, WW), b (F,), all float32 or all float64 (any memory
        layout); conv_param {'stride': s >= 1, 'pad': p >= 0}.
        out (N, F, H_out, W_out) with H_out = 1 + (H + 2p - HH) / s, W_out likewise.
    conv_backward_fast(dout, cache, needed=(True, True, True)) -> (dx, dw, db)
        dout (N, F, H_out, W_out) of the forward's dtype; dx, dw, db shaped like x, w, b;
        needed: which of them to compute (the others come back as None: vjpnet.nn.conv2d
        skips dx, a GEMM and a col2im per image, when x is the data batch).

Cross-correlation with symmetric zero padding, the same contract as
`vjpnet.layers.conv_forward_naive` / `conv_backward_naive` (results agree to ~1e-12 relative
in float64).

When vjpnet_fast.blas finds the GEMMs of the OpenBLAS NumPy links (NumPy's own wheels: the
usual case; PER_IMAGE True), both passes run `vjpnet_fast._conv_images`: each image's column
matrix is built in a small per-thread buffer that stays in cache, the GEMMs write straight into
the NCHW output and dx (no transposes), the bias is the forward GEMM's starting value, and the
images are shared by as many threads as OpenBLAS has (vjpnet_fast.team,
`vjpnet_fast.blas.gemm_team`), each running single-threaded GEMMs. dw and db are summed over
per-image products in image order, so results do not depend on the thread count. Measured
with benchmarks/bench_layers.py on the 2-core machine (fwd+bwd, before -> after): seed conv
4.5-5.3 -> 3.5 ms, CIFAR-sized float32 44-46 -> 27-29 ms, float64 80 -> 54 ms.

The output and dx are large, so they come from `vjpnet.memory` (memory recycled once the
arrays that used it are gone, instead of freshly page-faulted on every call).

Otherwise (PER_IMAGE False) the images are processed in chunks of about CHUNK_BYTES of column
matrix (one GEMM per chunk and pass). The bias rides along inside the GEMMs: the weight matrix
gets b as an extra column and the column matrix an extra row of ones, so the forward GEMM adds
b and the backward GEMM that gives dw gives db in the row that the ones produce. Column
matrices up to KEEP_COLUMNS_BYTES in all are kept in the cache for the backward pass, in a
buffer recycled through `vjpnet_fast.workspace.recycling_pool` when the cache dies (a fresh
multi-MB buffer per call would cost more in page faults than the im2col it saves); larger ones
are rebuilt chunk by chunk in the backward pass. Scratch memory (both paths) comes from the
per-thread `vjpnet_fast.workspace`.
"""
import numpy as np

from vjpnet import memory
from vjpnet.validation import check_dout, conv_output_shape
from vjpnet_fast import blas
from vjpnet_fast._conv_images import conv_backward_images, conv_forward_images
from vjpnet_fast._im2col import col2im, im2col
from vjpnet_fast.team import team
from vjpnet_fast.workspace import recycling_pool, workspace

# True when NumPy's OpenBLAS GEMMs were found: use the per-image kernels (see above)
PER_IMAGE = blas.install()

# Target size of one chunk's column matrix (measured best for the CIFAR-sized conv here;
# 4 MiB chunks that fit in L2 were ~8% slower: fewer, larger GEMM calls win).
CHUNK_BYTES = 16 << 20
# Column matrices up to this size (all chunks together) are built by the forward pass and kept
# in the cache, which saves the backward pass its im2col; larger ones are rebuilt chunk by
# chunk in the backward pass (measured: for the 151 MB of the CIFAR-sized conv, keeping them
# saved nothing, since they no longer come back from cache, and holds memory per layer).
KEEP_COLUMNS_BYTES = 32 << 20


class ConvCache:
    """What conv_backward_fast needs from conv_forward_fast: the C-contiguous input, the
    weight matrix (F, K) (per-image path) or with the bias appended (F, K + 1) (chunked
    path), and the geometry of the call."""

    __slots__ = ("x", "w", "b", "conv_param", "w_ext", "sizes", "chunk", "columns",
                 "per_image", "__weakref__")

    def __init__(self, x, w, b, conv_param, w_ext, sizes, chunk, per_image=False):
        self.x, self.w, self.b, self.conv_param = x, w, b, conv_param
        self.w_ext, self.sizes, self.chunk = w_ext, sizes, chunk
        self.per_image = per_image
        self.columns = None      # (chunks, rows * chunk columns) kept column matrices, or None

    def __repr__(self):
        N, C, H, W, F, HH, WW, stride, pad, H_out, W_out = self.sizes
        return (f"ConvCache(x.shape={(N, C, H, W)}, w.shape={(F, C, HH, WW)}, stride={stride}, "
                f"pad={pad}, dtype={self.x.dtype})")


def chunk_columns(columns, index, rows, width):
    """The column matrix (rows, width) of chunk `index` inside a kept (chunks, size) buffer."""
    return columns[index, :rows * width].reshape(rows, width)


def images_per_chunk(rows, columns_per_image, itemsize, images):
    """How many images' column matrices (rows x columns_per_image) fit in CHUNK_BYTES."""
    per_image = max(1, rows * columns_per_image * itemsize)
    return int(max(1, min(images, CHUNK_BYTES // per_image)))


def conv_forward_fast(x, w, b, conv_param):
    """Convolution forward pass. Inputs x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param
    {'stride', 'pad'}; returns (out (N, F, H_out, W_out), cache)."""
    sizes = conv_output_shape("conv_forward_fast", x, w, b, conv_param)
    N, C, H, W, F, HH, WW, stride, pad, H_out, W_out = sizes
    dtype = x.dtype
    x_contiguous = np.ascontiguousarray(x)
    K, P = C * HH * WW, H_out * W_out
    if PER_IMAGE:
        return _forward_per_image(x_contiguous, w, b, conv_param, sizes)
    w_ext = np.empty((F, K + 1), dtype)
    w_ext[:, :K] = np.reshape(w, (F, K))
    w_ext[:, K] = b
    out = memory.empty((N, F, H_out, W_out), dtype)
    out_images = out.reshape(N, F, P)
    threads = 1      # see vjpnet_fast.threads: OpenMP next to OpenBLAS's threads thrashes
    chunk = images_per_chunk(K + 1, P, dtype.itemsize, N)
    cache = ConvCache(x_contiguous, w, b, conv_param, w_ext, sizes, chunk)
    if (K + 1) * N * P * dtype.itemsize <= KEEP_COLUMNS_BYTES:
        # recycled when the cache dies, so repeated calls do not page-fault a new one
        cache.columns = recycling_pool.take(cache, (-(-N // chunk), (K + 1) * chunk * P), dtype)
    for start in range(0, N, chunk):
        stop = min(N, start + chunk)
        count = stop - start
        if cache.columns is not None:
            columns = chunk_columns(cache.columns, start // chunk, K + 1, count * P)
        else:
            columns = workspace.get("columns", (K + 1, count * P), dtype)
        im2col(x_contiguous[start:stop], HH, WW, stride, pad, H_out, W_out, columns, threads)
        if count == 1:
            np.matmul(w_ext, columns, out=out_images[start])
        else:
            product = workspace.get("product", (F, count * P), dtype)
            np.matmul(w_ext, columns, out=product)
            out_images[start:stop].transpose(1, 0, 2)[...] = product.reshape(F, count, P)
    return out, cache


def conv_backward_fast(dout, cache, needed=(True, True, True)):
    """Convolution backward pass. Inputs dout (N, F, H_out, W_out), the cache of
    conv_forward_fast and optionally `needed`, three bools saying which of dx, dw, db to
    compute; returns (dx (N, C, H, W), dw (F, C, HH, WW), db (F,)), None for those not
    needed."""
    op = "conv_backward_fast"
    if not isinstance(cache, ConvCache):
        raise TypeError(f"{op}: cache must be the cache returned by conv_forward_fast, "
                        f"got {type(cache).__name__}")
    N, C, H, W, F, HH, WW, stride, pad, H_out, W_out = cache.sizes
    x, w_ext = cache.x, cache.w_ext
    dtype = x.dtype
    check_dout(op, dout, (N, F, H_out, W_out))
    if np.dtype(dout.dtype) != dtype:
        raise TypeError(f"{op}: dout.dtype={dout.dtype} must equal the forward input's dtype "
                        f"{dtype} ({cache!r})")
    K, P = C * HH * WW, H_out * W_out
    dout_images = np.ascontiguousarray(dout).reshape(N, F, P)
    need_dx, need_dw, need_db = (bool(flag) for flag in needed)
    if cache.per_image:
        return _backward_per_image(dout_images, cache, need_dx, need_dw or need_db,
                                   need_dw, need_db)
    w_transposed = np.ascontiguousarray(w_ext[:, :K].T)          # (K, F)
    # dw and db as one (K + 1, F) product per chunk: columns @ dout_chunk.T runs 1.5-6x
    # faster in OpenBLAS than the (F, K + 1) orientation dout_chunk @ columns.T (measured)
    dw_ext_t = np.zeros((K + 1, F), dtype)
    partial = np.empty((K + 1, F), dtype)
    dx = memory.empty((N, C, H, W), dtype) if need_dx else None
    threads = 1      # see vjpnet_fast.threads: OpenMP next to OpenBLAS's threads thrashes
    kept = cache.columns is not None
    chunk = cache.chunk
    for start in range(0, N, chunk):
        stop = min(N, start + chunk)
        count = stop - start
        if kept:
            columns = chunk_columns(cache.columns, start // chunk, K + 1, count * P)
        else:
            columns = workspace.get("columns", (K + 1, count * P), dtype)
            im2col(x[start:stop], HH, WW, stride, pad, H_out, W_out, columns, threads)
        if count == 1:
            dout_chunk = dout_images[start]
        else:
            dout_chunk = workspace.get("product", (F, count * P), dtype)
            dout_chunk.reshape(F, count, P)[...] = dout_images[start:stop].transpose(1, 0, 2)
        if need_dw or need_db:
            np.matmul(columns, dout_chunk.T, out=partial)
            dw_ext_t += partial
        if need_dx:
            # the kept columns stay intact (a cache may be used for several backward calls)
            dcolumns = workspace.get("dcolumns", (K, count * P), dtype) if kept else \
                columns[:K]
            np.matmul(w_transposed, dout_chunk, out=dcolumns)
            col2im(dcolumns, HH, WW, stride, pad, H_out, W_out, dx[start:stop], threads)
    dw = np.ascontiguousarray(dw_ext_t[:K].T).reshape(F, C, HH, WW) if need_dw else None
    db = dw_ext_t[K].copy() if need_db else None
    return dx, dw, db


def conv_team(images):
    """Context for one per-image kernel call over `images` images, yielding how many threads
    run it: OpenBLAS's thread count (at most `images`), with OpenBLAS single-threaded
    meanwhile. See vjpnet_fast.blas.gemm_team."""
    return blas.gemm_team(tasks=images)


def _forward_per_image(x, w, b, conv_param, sizes):
    """conv_forward_fast with the per-image kernel; x (N, C, H, W) C-contiguous."""
    N, C, H, W, F, HH, WW, stride, pad, H_out, W_out = sizes
    dtype = x.dtype
    K, P = C * HH * WW, H_out * W_out
    w_mat = np.ascontiguousarray(np.reshape(w, (F, K)))
    b_contiguous = np.ascontiguousarray(b)
    out = memory.empty((N, F, H_out, W_out), dtype)
    out_images = out.reshape(N, F, P)
    progress = np.zeros(2, np.longlong)       # images claimed, images finished
    with conv_team(N) as threads:
        scratch = workspace.get("image_columns", (threads, 2 * K * P), dtype)

        def task(slot):
            conv_forward_images(x, w_mat, b_contiguous, out_images, scratch[slot], progress,
                                slot == 0, HH, WW, stride, pad)
        team.run(task, threads)
    return out, ConvCache(x, w, b, conv_param, w_mat, sizes, 1, per_image=True)


def _backward_per_image(dout_images, cache, need_dx, need_products, need_dw, need_db):
    """conv_backward_fast with the per-image kernel; dout_images (N, F, P) C-contiguous.
    need_products: run the per-image dw and db products (either is needed)."""
    N, C, H, W, F, HH, WW, stride, pad, H_out, W_out = cache.sizes
    x, w_mat = cache.x, cache.w_ext
    dtype = x.dtype
    K, P = C * HH * WW, H_out * W_out
    dx = memory.empty((N, C, H, W), dtype) if need_dx else np.empty((0, 0, 0, 0), dtype)
    if need_products:
        dw_images = workspace.get("dw_images", (N, K, F), dtype)
        db_images = workspace.get("db_images", (N, F), dtype)
    else:
        dw_images, db_images = np.empty((0, 0, 0), dtype), np.empty((0, 0), dtype)
    if need_dx or need_products:
        progress = np.zeros(2, np.longlong)       # images claimed, images finished
        with conv_team(N) as threads:
            scratch = workspace.get("image_columns", (threads, (1 + need_dx) * K * P), dtype)

            def task(slot):
                conv_backward_images(x, w_mat, dout_images, dx, dw_images, db_images,
                                     scratch[slot], progress, slot == 0, HH, WW, stride, pad,
                                     need_dx, need_products)
            team.run(task, threads)
    dw = np.ascontiguousarray(dw_images.sum(axis=0).T).reshape(F, C, HH, WW) if need_dw \
        else None
    db = db_images.sum(axis=0) if need_db else None
    return (dx if need_dx else None), dw, db
