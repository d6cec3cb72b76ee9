# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""im2col / col2im kernels that write into caller-provided buffers (no allocation per call).

Layout of the column matrix for a chunk of `nb` images x (nb, C, H, W) and a filter HH x WW:

    col[k, i * P + p]     k = c*HH*WW + kh*WW + kw  (K = C*HH*WW rows),
                          i the image in the chunk, p = oh*W_out + ow  (P = H_out*W_out)

so that `w.reshape(F, K) @ col` is the convolution of the whole chunk as one GEMM. When the
buffer has K + 1 rows, `im2col` fills row K with ones: appending the bias as a column of the
weight matrix then adds it inside the same GEMM, and the same row gives db in the backward GEMM.

Every shape is checked here before the nogil loops run; the loops then index without bounds
checks. Work is split over (image, channel) planes with OpenMP: each thread writes whole rows
of `col` (im2col) or whole planes of `dx` (col2im), so results do not depend on the thread count.
"""
from cython.parallel cimport prange
from libc.string cimport memcpy, memset

from vjpnet_fast._geometry cimport _ceil_div, _valid_hi, _valid_lo

ctypedef fused real:
    float
    double


def _check_geometry(tuple x_shape, Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t stride,
                    Py_ssize_t pad, Py_ssize_t H_out, Py_ssize_t W_out, tuple col_shape,
                    str name, int num_threads):
    if num_threads < 1:
        raise ValueError(f"{name}: num_threads must be >= 1, got {num_threads}")
    cdef Py_ssize_t nb = x_shape[0], C = x_shape[1], H = x_shape[2], W = x_shape[3]
    if HH < 1 or WW < 1 or stride < 1 or pad < 0 or max(HH, WW, stride, pad) > (1 << 30):
        raise ValueError(f"{name}: need 1 <= HH, WW, stride <= 2**30 and 0 <= pad <= 2**30, "
                         f"got HH={HH}, WW={WW}, stride={stride}, pad={pad}")
    if (H + 2 * pad - HH < 0 or W + 2 * pad - WW < 0
            or H_out != (H + 2 * pad - HH) // stride + 1
            or W_out != (W + 2 * pad - WW) // stride + 1):
        raise ValueError(f"{name}: output size ({H_out}, {W_out}) does not match input "
                         f"{x_shape}, filter {HH}x{WW}, stride={stride}, pad={pad}")
    if col_shape[0] < C * HH * WW or col_shape[1] != nb * H_out * W_out:
        raise ValueError(f"{name}: column buffer shape {col_shape} is too small for "
                         f"(C*HH*WW, nb*H_out*W_out) = ({C * HH * WW}, {nb * H_out * W_out})")


def im2col(const real[:, :, :, ::1] x, Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t stride,
           Py_ssize_t pad, Py_ssize_t H_out, Py_ssize_t W_out, real[:, ::1] col, int num_threads=1):
    """Unfold x (nb, C, H, W) into col (K or K + 1, nb*H_out*W_out), K = C*HH*WW.

    Zero padding is written explicitly; a (K + 1)-th row, if present, is set to ones.
    x and col must be C-contiguous and of one dtype (float32 or float64).
    """
    _check_geometry((x.shape[0], x.shape[1], x.shape[2], x.shape[3]), HH, WW, stride, pad, H_out, W_out,
                    (col.shape[0], col.shape[1]), "im2col", num_threads)
    cdef Py_ssize_t nb = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t P = H_out * W_out, K = C * HH * WW
    cdef Py_ssize_t plane, n, c, kh, kw, oh, ow, ih, row, oh_lo, oh_hi, ow_lo, ow_hi
    cdef real* dst
    cdef const real* src
    cdef bint has_ones = col.shape[0] > K
    with nogil:
        for plane in prange(nb * C, schedule="static", num_threads=num_threads):
            n = plane // C
            c = plane % C
            for kh in range(HH):
                oh_lo = _valid_lo(kh, stride, pad)
                oh_hi = _valid_hi(kh, H, stride, pad, H_out)
                for kw in range(WW):
                    ow_lo = _valid_lo(kw, stride, pad)
                    ow_hi = _valid_hi(kw, W, stride, pad, W_out)
                    row = (c * HH + kh) * WW + kw
                    dst = &col[row, n * P]
                    if oh_lo > 0:
                        memset(dst, 0, oh_lo * W_out * sizeof(real))
                    for oh in range(oh_lo, oh_hi):
                        ih = oh * stride + kh - pad
                        src = &x[n, c, ih, 0]
                        for ow in range(ow_lo):
                            dst[oh * W_out + ow] = 0
                        if stride == 1:
                            if ow_hi > ow_lo:
                                memcpy(dst + oh * W_out + ow_lo, src + ow_lo + kw - pad,
                                       (ow_hi - ow_lo) * sizeof(real))
                        else:
                            for ow in range(ow_lo, ow_hi):
                                dst[oh * W_out + ow] = src[ow * stride + kw - pad]
                        for ow in range(ow_hi, W_out):
                            dst[oh * W_out + ow] = 0
                    if oh_hi < H_out:
                        memset(dst + oh_hi * W_out, 0, (H_out - oh_hi) * W_out * sizeof(real))
        if has_ones:
            dst = &col[K, 0]
            for ow in range(nb * P):
                dst[ow] = 1


def col2im(const real[:, ::1] dcol, Py_ssize_t HH, Py_ssize_t WW, Py_ssize_t stride,
           Py_ssize_t pad, Py_ssize_t H_out, Py_ssize_t W_out, real[:, :, :, ::1] dx, int num_threads=1):
    """Fold dcol (>= K rows, nb*H_out*W_out) back into dx (nb, C, H, W), overwriting dx.

    The adjoint of `im2col`: every dx element is the sum of the dcol entries it was copied
    to, added in the fixed order (kh, kw, oh, ow), so the result is deterministic.
    """
    _check_geometry((dx.shape[0], dx.shape[1], dx.shape[2], dx.shape[3]), HH, WW, stride, pad, H_out, W_out,
                    (dcol.shape[0], dcol.shape[1]), "col2im", num_threads)
    cdef Py_ssize_t nb = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t P = H_out * W_out
    cdef Py_ssize_t plane, n, c, kh, kw, oh, ow, row, oh_lo, oh_hi, ow_lo, ow_hi
    cdef const real* src
    cdef real* dst
    cdef real* image_plane
    with nogil:
        for plane in prange(nb * C, schedule="static", num_threads=num_threads):
            n = plane // C
            c = plane % C
            image_plane = &dx[n, c, 0, 0] if H * W > 0 else NULL
            if H * W > 0:
                memset(image_plane, 0, H * W * sizeof(real))
            for kh in range(HH):
                oh_lo = _valid_lo(kh, stride, pad)
                oh_hi = _valid_hi(kh, H, stride, pad, H_out)
                for kw in range(WW):
                    ow_lo = _valid_lo(kw, stride, pad)
                    ow_hi = _valid_hi(kw, W, stride, pad, W_out)
                    row = (c * HH + kh) * WW + kw
                    src = &dcol[row, n * P]
                    for oh in range(oh_lo, oh_hi):
                        dst = image_plane + (oh * stride + kh - pad) * W + kw - pad
                        if stride == 1:
                            for ow in range(ow_lo, ow_hi):
                                dst[ow] += src[oh * W_out + ow]
                        else:
                            for ow in range(ow_lo, ow_hi):
                                dst[ow * stride] += src[oh * W_out + ow]
