# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Convolution one image at a time: im2col of one image into a small per-thread buffer, BLAS
GEMMs straight into the NCHW output / input gradient, col2im of one image.

    conv_forward_images(x, w_mat, b, out, scratch, progress, first_thread, HH, WW, stride, pad)
        x (N, C, H, W), w_mat (F, K) with K = C*HH*WW, b (F,), out (N, F, P) with
        P = H_out*W_out (written), scratch (>= K*P,) (clobbered), progress (2,) int64
        counters [images claimed, images finished] shared by the threads running the call,
        first_thread: whether this is the calling thread (see below).
    conv_backward_images(x, w_mat, dout, dx, dw_images, db_images, scratch, progress,
                         first_thread, HH, WW, stride, pad)
        dout (N, F, P), dx (N, C, H, W) (written), dw_images (N, K, F) (written: image n's
        contribution columns(x[n]) @ dout[n].T, i.e. dw transposed), db_images (N, F)
        (written: dout[n].sum(axis=1)), scratch (>= 2*K*P,) (clobbered).

Why per image: the column matrix of one image (K x P) stays in L2 between im2col and the
GEMM that reads it, the GEMM writes each image's (F, P) output block where NCHW wants it
(no transposes of the output or of dout), and the bias is the GEMM's initial value (beta = 1).
Several threads may run the same call at once (vjpnet_fast.team), each with its own
scratch and all with the same `progress` counters (start them at 0): each thread takes the
next unclaimed image with an atomic increment until none is left, so a thread the OS delays
simply does fewer images (or none). The first thread (the caller's) then waits until every
claimed image is finished, and only it handles empty shapes; a helper that starts after all
images were claimed returns without touching any array but `progress`. With several
threads the caller must have made OpenBLAS single-threaded meanwhile
(vjpnet_fast.blas.gemm_team), so every GEMM runs on the thread that calls it; a single thread
may leave OpenBLAS its threads. Every output element is computed by one thread in a fixed
order, and dw and db are returned per image (summed by the caller in image order): results
do not depend on the number of threads or on which thread did which image.

The GEMM comes from the BLAS that NumPy itself links (see vjpnet_fast.blas, which finds the
function addresses); `set_blas` installs them. All shapes are checked here before the nogil
loops run.
"""
from libc.stdint cimport int64_t, intptr_t
from libc.string cimport memcpy, memset

from vjpnet_fast._geometry cimport _ceil_div, _valid_hi, _valid_lo

cdef extern from "<sched.h>" nogil:
    int sched_getcpu()

cdef extern from *:
    """
    #include <sched.h>
    static inline long long vjpnet_claim_next(long long* counter) {
        return __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
    }
    static inline void vjpnet_mark_done(long long* counter) {
        __atomic_fetch_add(counter, 1, __ATOMIC_RELEASE);
    }
    static inline void vjpnet_wait_done(long long* counter, long long total) {
        while (__atomic_load_n(counter, __ATOMIC_ACQUIRE) < total) sched_yield();
    }
    """
    long long vjpnet_claim_next(long long* counter) nogil
    void vjpnet_mark_done(long long* counter) nogil
    void vjpnet_wait_done(long long* counter, long long total) nogil

ctypedef fused real:
    float
    double

# CBLAS with 64-bit integers (OpenBLAS built with INTERFACE64, as NumPy's wheels bundle it)
ctypedef void (*dgemm_t)(int, int, int, int64_t, int64_t, int64_t, double, const double*,
                         int64_t, const double*, int64_t, double, double*, int64_t) noexcept nogil
ctypedef void (*sgemm_t)(int, int, int, int64_t, int64_t, int64_t, float, const float*,
                         int64_t, const float*, int64_t, float, float*, int64_t) noexcept nogil

cdef enum:
    ROW_MAJOR = 101
    NO_TRANS = 111
    TRANS = 112

cdef dgemm_t _dgemm = NULL
cdef sgemm_t _sgemm = NULL


def set_blas(intptr_t dgemm, intptr_t sgemm):
    """Install the addresses of cblas_dgemm / cblas_sgemm (64-bit integer interface)."""
    global _dgemm, _sgemm
    _dgemm = <dgemm_t>dgemm
    _sgemm = <sgemm_t>sgemm


def blas_ready():
    """True once set_blas installed both GEMMs."""
    return _dgemm != NULL and _sgemm != NULL


cdef inline void _gemm(bint trans_a, bint trans_b, Py_ssize_t M, Py_ssize_t N, Py_ssize_t K,
                       const real* A, Py_ssize_t lda, const real* B, Py_ssize_t ldb,
                       real beta, real* C, Py_ssize_t ldc) noexcept nogil:
    # row-major C (M, N) = op(A) (M, K) @ op(B) (K, N) + beta * C
    if real is double:
        _dgemm(ROW_MAJOR, TRANS if trans_a else NO_TRANS, TRANS if trans_b else NO_TRANS,
               M, N, K, 1.0, A, lda, B, ldb, beta, C, ldc)
    else:
        _sgemm(ROW_MAJOR, TRANS if trans_a else NO_TRANS, TRANS if trans_b else NO_TRANS,
               M, N, K, 1.0, A, lda, B, ldb, beta, C, ldc)


cdef void _im2col_image(const real* image, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                        Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t stride, Py_ssize_t pad,
                        Py_ssize_t H_out, Py_ssize_t W_out, real* col) noexcept nogil:
    # col (C*HH*WW, H_out*W_out) of one image (C, H, W), zero padding written explicitly
    cdef Py_ssize_t P = H_out * W_out
    cdef Py_ssize_t c, kh, kw, oh, ow, oh_lo, oh_hi, ow_lo, ow_hi
    cdef real* dst
    cdef real* row
    cdef const real* src
    for c in range(C):
        for kh in range(HH):
            oh_lo = _valid_lo(kh, stride, pad)
            oh_hi = _valid_hi(kh, H, stride, pad, H_out)
            for kw in range(WW):
                ow_lo = _valid_lo(kw, stride, pad)
                ow_hi = _valid_hi(kw, W, stride, pad, W_out)
                dst = col + ((c * HH + kh) * WW + kw) * P
                if oh_lo > 0:
                    memset(dst, 0, oh_lo * W_out * sizeof(real))
                for oh in range(oh_lo, oh_hi):
                    src = image + (c * H + oh * stride + kh - pad) * W + kw - pad
                    for ow in range(ow_lo):
                        dst[oh * W_out + ow] = 0
                    if stride == 1:
                        if ow_hi > ow_lo:
                            memcpy(dst + oh * W_out + ow_lo, src + ow_lo,
                                   (ow_hi - ow_lo) * sizeof(real))
                    elif stride == 2:            # constant stride: a loop gcc vectorizes
                        row = dst + oh * W_out
                        for ow in range(ow_lo, ow_hi):
                            row[ow] = src[2 * ow]
                    else:
                        for ow in range(ow_lo, ow_hi):
                            dst[oh * W_out + ow] = src[ow * stride]
                    for ow in range(ow_hi, W_out):
                        dst[oh * W_out + ow] = 0
                if oh_hi < H_out:
                    memset(dst + oh_hi * W_out, 0, (H_out - oh_hi) * W_out * sizeof(real))


cdef void _col2im_image(const real* col, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                        Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t stride, Py_ssize_t pad,
                        Py_ssize_t H_out, Py_ssize_t W_out, real* image) noexcept nogil:
    # image (C, H, W) = the adjoint of _im2col_image applied to col (C*HH*WW, P), summed in
    # the fixed order (kh, kw, oh, ow)
    cdef Py_ssize_t P = H_out * W_out
    cdef Py_ssize_t c, kh, kw, oh, ow, oh_lo, oh_hi, ow_lo, ow_hi
    cdef const real* src
    cdef const real* row
    cdef real* dst
    if C * H * W > 0:
        memset(image, 0, C * H * W * sizeof(real))
    for c in range(C):
        for kh in range(HH):
            oh_lo = _valid_lo(kh, stride, pad)
            oh_hi = _valid_hi(kh, H, stride, pad, H_out)
            for kw in range(WW):
                ow_lo = _valid_lo(kw, stride, pad)
                ow_hi = _valid_hi(kw, W, stride, pad, W_out)
                src = col + ((c * HH + kh) * WW + kw) * P
                for oh in range(oh_lo, oh_hi):
                    dst = image + (c * H + oh * stride + kh - pad) * W + kw - pad
                    if stride == 1:
                        for ow in range(ow_lo, ow_hi):
                            dst[ow] += src[oh * W_out + ow]
                    elif stride == 2:            # constant stride: a loop gcc vectorizes
                        row = src + oh * W_out
                        for ow in range(ow_lo, ow_hi):
                            dst[2 * ow] += row[ow]
                    else:
                        for ow in range(ow_lo, ow_hi):
                            dst[ow * stride] += src[oh * W_out + ow]


def _check(str name, tuple x_shape, tuple w_shape, Py_ssize_t HH, Py_ssize_t WW,
           Py_ssize_t stride, Py_ssize_t pad, tuple arrays, Py_ssize_t scratch_per_image,
           Py_ssize_t scratch_size, Py_ssize_t counter_size):
    """Raise ValueError unless every array has the shape the loops will index."""
    if _dgemm == NULL or _sgemm == NULL:
        raise RuntimeError(f"{name}: no BLAS installed (vjpnet_fast.blas found none)")
    cdef Py_ssize_t N = x_shape[0], C = x_shape[1], H = x_shape[2], W = x_shape[3]
    if HH < 1 or WW < 1 or stride < 1 or pad < 0 or max(HH, WW, stride, pad) > (1 << 30):
        raise ValueError(f"{name}: need 1 <= HH, WW, stride <= 2**30 and 0 <= pad <= 2**30, "
                         f"got HH={HH}, WW={WW}, stride={stride}, pad={pad}")
    if H + 2 * pad - HH < 0 or W + 2 * pad - WW < 0:
        raise ValueError(f"{name}: filter {HH}x{WW} larger than the padded input {x_shape}")
    cdef Py_ssize_t H_out = (H + 2 * pad - HH) // stride + 1
    cdef Py_ssize_t W_out = (W + 2 * pad - WW) // stride + 1
    cdef Py_ssize_t F = w_shape[0], K = C * HH * WW, P = H_out * W_out
    if w_shape != (F, K):
        raise ValueError(f"{name}: w_mat.shape={w_shape}, expected (F, C*HH*WW) = ({F}, {K})")
    expected = {"out": (N, F, P), "dout": (N, F, P), "dx": (N, C, H, W), "dw_images": (N, K, F),
                "db_images": (N, F), "b": (F,)}
    for label, shape in arrays:
        if shape != expected[label]:
            raise ValueError(f"{name}: {label}.shape={shape}, expected {expected[label]} "
                             f"(x.shape={x_shape}, F={F}, filter {HH}x{WW}, stride={stride}, "
                             f"pad={pad})")
    if scratch_size < scratch_per_image * K * P:
        raise ValueError(f"{name}: scratch has {scratch_size} elements, needs "
                         f"{scratch_per_image} x (K*P = {K * P})")
    if counter_size < 2:
        raise ValueError(f"{name}: progress must have two elements, got {counter_size}")
    return H_out, W_out


def conv_forward_images(const real[:, :, :, ::1] x, const real[:, ::1] w_mat,
                        const real[::1] b, real[:, :, ::1] out, real[::1] scratch,
                        long long[::1] progress, bint first_thread, Py_ssize_t HH,
                        Py_ssize_t WW, Py_ssize_t stride, Py_ssize_t pad):
    """out[n] = w_mat @ columns(x[n]) + b[:, None] for every image n not yet claimed through
    `progress` (see module docstring)."""
    cdef Py_ssize_t H_out, W_out
    H_out, W_out = _check("conv_forward_images", (x.shape[0], x.shape[1], x.shape[2], x.shape[3]),
                          (w_mat.shape[0], w_mat.shape[1]), HH, WW, stride, pad,
                          (("out", (out.shape[0], out.shape[1], out.shape[2])),
                           ("b", (b.shape[0],))),
                          1, scratch.shape[0], progress.shape[0])
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t F = w_mat.shape[0], K = w_mat.shape[1], P = H_out * W_out
    cdef Py_ssize_t n, f, p
    cdef real* col = &scratch[0] if scratch.shape[0] > 0 else NULL
    cdef real* block
    if N == 0 or F == 0 or P == 0:
        return
    with nogil:
        while True:
            n = vjpnet_claim_next(&progress[0])
            if n >= N:
                break
            block = &out[n, 0, 0]
            for f in range(F):
                for p in range(P):
                    block[f * P + p] = b[f]
            if K > 0:
                _im2col_image(&x[n, 0, 0, 0], C, H, W, HH, WW, stride, pad, H_out, W_out, col)
                _gemm(False, False, F, P, K, &w_mat[0, 0], K, col, P, 1, block, P)
            vjpnet_mark_done(&progress[1])
        if first_thread:
            vjpnet_wait_done(&progress[1], N)


def conv_backward_images(const real[:, :, :, ::1] x, const real[:, ::1] w_mat,
                         const real[:, :, ::1] dout, real[:, :, :, ::1] dx,
                         real[:, :, ::1] dw_images, real[:, ::1] db_images,
                         real[::1] scratch, long long[::1] progress, bint first_thread,
                         Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t stride, Py_ssize_t pad):
    """dx[n] = col2im(w_mat.T @ dout[n]), dw_images[n] = columns(x[n]) @ dout[n].T and
    db_images[n] = dout[n].sum(axis=1) for every image n not yet claimed through
    `progress` (see module docstring)."""
    cdef Py_ssize_t H_out, W_out
    H_out, W_out = _check("conv_backward_images",
                          (x.shape[0], x.shape[1], x.shape[2], x.shape[3]),
                          (w_mat.shape[0], w_mat.shape[1]), HH, WW, stride, pad,
                          (("dout", (dout.shape[0], dout.shape[1], dout.shape[2])),
                           ("dx", (dx.shape[0], dx.shape[1], dx.shape[2], dx.shape[3])),
                           ("dw_images", (dw_images.shape[0], dw_images.shape[1],
                                          dw_images.shape[2])),
                           ("db_images", (db_images.shape[0], db_images.shape[1]))),
                          2, scratch.shape[0], progress.shape[0])
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t F = w_mat.shape[0], K = w_mat.shape[1], P = H_out * W_out
    cdef Py_ssize_t n, f, p
    cdef real* col = &scratch[0] if scratch.shape[0] > 0 else NULL
    cdef real* dcol = col + K * P if scratch.shape[0] > 0 else NULL
    cdef const real* grad
    cdef real total
    if N == 0 or not first_thread and (P == 0 or F == 0):
        return
    if P == 0 or F == 0:   # dout is empty: every gradient is zero
        dx[...] = 0
        dw_images[...] = 0
        db_images[...] = 0
        return
    with nogil:
        while True:
            n = vjpnet_claim_next(&progress[0])
            if n >= N:
                break
            grad = &dout[n, 0, 0]
            for f in range(F):
                total = 0
                for p in range(P):
                    total = total + grad[f * P + p]
                db_images[n, f] = total
            if K > 0:   # K == 0 (no input channels): dx and dw are empty, db is still the sum
                _im2col_image(&x[n, 0, 0, 0], C, H, W, HH, WW, stride, pad, H_out, W_out, col)
                # (K, F) = col (K, P) @ dout[n].T (P, F): faster in OpenBLAS than
                # (F, K) = dout @ col.T
                _gemm(False, True, K, F, P, col, P, grad, P, 0, &dw_images[n, 0, 0], F)
                # (K, P) = w_mat.T (K, F) @ dout[n] (F, P)
                _gemm(True, False, K, P, F, &w_mat[0, 0], K, grad, P, 0, dcol, P)
                _col2im_image(dcol, C, H, W, HH, WW, stride, pad, H_out, W_out,
                              &dx[n, 0, 0, 0])
            vjpnet_mark_done(&progress[1])
        if first_thread:
            vjpnet_wait_done(&progress[1], N)


def current_cpu():
    """The CPU the calling thread runs on now (sched_getcpu), or -1 if unknown."""
    return sched_getcpu()
