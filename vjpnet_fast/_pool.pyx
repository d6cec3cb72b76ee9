# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Direct max-pooling kernels: the forward records, for every window, the position of its
maximum; the backward routes each upstream gradient to that position.

Tie rule (the same as the naive layer's np.argmax over the flattened window): the FIRST
maximum in row-major order of the window wins; a NaN counts as the maximum (the first NaN wins).

Index arrays hold the row-major offset inside the window (i*PW + j): uint8 when the window has
at most 256 elements, int32 otherwise. Work is split over (image, channel) planes with OpenMP;
each thread owns whole planes of the output, so results do not depend on the thread count.
Every shape is checked here before the nogil loops run.
"""
import numpy as np

from cython.parallel cimport prange
from libc.string cimport memset
from libc.stdint cimport uint8_t, int32_t

ctypedef fused real:
    float
    double

ctypedef fused index_t:
    uint8_t
    int32_t


# The 2x2 stride-2 window (the common case) in plain C: written so that gcc emits no branch in
# the loop (maxsd / setcc), since random data would mispredict about every other branch.
cdef extern from *:
    """
    #include <string.h>
    #include <stdint.h>
    #define VJPNET_POOL_2X2(NAME, REAL, BITS, INDEX)                                          \
    static inline int NAME(const REAL* row0, const REAL* row1, Py_ssize_t n,              \
                           REAL* out, INDEX* index) {                                     \
        int nan_seen = 0;                                                                  \
        for (Py_ssize_t i = 0; i < n; i++) {                                               \
            REAL a = row0[2 * i], b = row0[2 * i + 1], d = row1[2 * i], e = row1[2 * i + 1]; \
            nan_seen |= __builtin_isnan(a) | __builtin_isnan(b)                            \
                      | __builtin_isnan(d) | __builtin_isnan(e);                           \
            int first = b > a;                                                             \
            REAL first_max = first ? b : a;                                                \
            int second = e > d;                                                            \
            REAL second_max = second ? e : d;                                              \
            int take = second_max > first_max;                                             \
            out[i] = take ? second_max : first_max;                                        \
            index[i] = (INDEX)(first + take * (2 + second - first));                       \
        }                                                                                  \
        return nan_seen;                                                                   \
    }                                                                                      \
    static inline void NAME##_backward(const REAL* dout, const INDEX* index, Py_ssize_t n, \
                                       REAL* row0, REAL* row1) {                          \
        /* each output gets g or +0.0, selected with bit masks (no branch, exact for inf/NaN) */ \
        for (Py_ssize_t i = 0; i < n; i++) {                                               \
            REAL g = dout[i] + (REAL)0;  /* 0 + g as in the naive layer: -0.0 -> +0.0 */   \
            BITS bits, out0, out1, out2, out3;                                             \
            memcpy(&bits, &g, sizeof(REAL));                                               \
            BITS k = (BITS)index[i];                                                       \
            out0 = bits & ((BITS)0 - (BITS)(k == 0));                                      \
            out1 = bits & ((BITS)0 - (BITS)(k == 1));                                      \
            out2 = bits & ((BITS)0 - (BITS)(k == 2));                                      \
            out3 = bits & ((BITS)0 - (BITS)(k == 3));                                      \
            memcpy(&row0[2 * i], &out0, sizeof(REAL));                                     \
            memcpy(&row0[2 * i + 1], &out1, sizeof(REAL));                                 \
            memcpy(&row1[2 * i], &out2, sizeof(REAL));                                     \
            memcpy(&row1[2 * i + 1], &out3, sizeof(REAL));                                 \
        }                                                                                  \
    }
    VJPNET_POOL_2X2(vjpnet_pool_2x2_f_u8, float, uint32_t, uint8_t)
    VJPNET_POOL_2X2(vjpnet_pool_2x2_f_i32, float, uint32_t, int32_t)
    VJPNET_POOL_2X2(vjpnet_pool_2x2_d_u8, double, uint64_t, uint8_t)
    VJPNET_POOL_2X2(vjpnet_pool_2x2_d_i32, double, uint64_t, int32_t)
    """
    bint vjpnet_pool_2x2_f_u8(const float*, const float*, Py_ssize_t, float*, uint8_t*) noexcept nogil
    bint vjpnet_pool_2x2_f_i32(const float*, const float*, Py_ssize_t, float*, int32_t*) noexcept nogil
    bint vjpnet_pool_2x2_d_u8(const double*, const double*, Py_ssize_t, double*, uint8_t*) noexcept nogil
    bint vjpnet_pool_2x2_d_i32(const double*, const double*, Py_ssize_t, double*, int32_t*) noexcept nogil
    void vjpnet_pool_2x2_f_u8_backward(const float*, const uint8_t*, Py_ssize_t, float*, float*) noexcept nogil
    void vjpnet_pool_2x2_f_i32_backward(const float*, const int32_t*, Py_ssize_t, float*, float*) noexcept nogil
    void vjpnet_pool_2x2_d_u8_backward(const double*, const uint8_t*, Py_ssize_t, double*, double*) noexcept nogil
    void vjpnet_pool_2x2_d_i32_backward(const double*, const int32_t*, Py_ssize_t, double*, double*) noexcept nogil


cdef inline bint _pool_row_2x2s2(const real* row0, const real* row1, Py_ssize_t W_out,
                                 real* out_row, index_t* index_row) noexcept nogil:
    # returns whether the row held a NaN (the caller then redoes it with the exact rule)
    if real is float:
        if index_t is uint8_t:
            return vjpnet_pool_2x2_f_u8(row0, row1, W_out, out_row, index_row)
        else:
            return vjpnet_pool_2x2_f_i32(row0, row1, W_out, out_row, index_row)
    else:
        if index_t is uint8_t:
            return vjpnet_pool_2x2_d_u8(row0, row1, W_out, out_row, index_row)
        else:
            return vjpnet_pool_2x2_d_i32(row0, row1, W_out, out_row, index_row)


cdef inline void _unpool_row_2x2s2(const real* dout_row, const index_t* index_row,
                                   Py_ssize_t W_out, real* row0, real* row1) noexcept nogil:
    if real is float:
        if index_t is uint8_t:
            vjpnet_pool_2x2_f_u8_backward(dout_row, index_row, W_out, row0, row1)
        else:
            vjpnet_pool_2x2_f_i32_backward(dout_row, index_row, W_out, row0, row1)
    else:
        if index_t is uint8_t:
            vjpnet_pool_2x2_d_u8_backward(dout_row, index_row, W_out, row0, row1)
        else:
            vjpnet_pool_2x2_d_i32_backward(dout_row, index_row, W_out, row0, row1)



def _check(tuple x_shape, tuple out_shape, tuple idx_shape, Py_ssize_t PH, Py_ssize_t PW,
           Py_ssize_t stride, Py_ssize_t index_max, str name, int num_threads):
    if num_threads < 1:
        raise ValueError(f"{name}: num_threads must be >= 1, got {num_threads}")
    cdef Py_ssize_t N = x_shape[0], C = x_shape[1], H = x_shape[2], W = x_shape[3]
    if PH < 1 or PW < 1 or stride < 1 or PH > H or PW > W:
        raise ValueError(f"{name}: invalid window {PH}x{PW} stride {stride} for input {x_shape}")
    expected = (N, C, (H - PH) // stride + 1, (W - PW) // stride + 1)
    if out_shape != expected or idx_shape != expected:
        raise ValueError(f"{name}: output and index shapes {out_shape}, {idx_shape} must both "
                         f"be {expected}")
    if PH * PW - 1 > index_max:
        raise ValueError(f"{name}: index dtype too small for a {PH}x{PW} window")


cdef inline void _pool_row_exact(const real* x_row, Py_ssize_t W, Py_ssize_t PH, Py_ssize_t PW,
                                 Py_ssize_t stride, Py_ssize_t W_out, real* out_row,
                                 index_t* index_row) noexcept nogil:
    # One output row with the full tie and NaN rule: strict '>' keeps the first maximum; a NaN
    # replaces a non-NaN best and is never replaced (np.argmax semantics).
    cdef Py_ssize_t ow, i, j, best_index
    cdef real best, value
    cdef const real* window
    for ow in range(W_out):
        window = x_row + ow * stride
        best = window[0]
        best_index = 0
        for i in range(PH):
            for j in range(PW):
                value = window[i * W + j]
                if value > best or (value != value and best == best):
                    best = value
                    best_index = i * PW + j
        out_row[ow] = best
        index_row[ow] = <index_t>best_index


def max_pool_forward(const real[:, :, :, ::1] x, Py_ssize_t PH, Py_ssize_t PW, Py_ssize_t stride,
                     real[:, :, :, ::1] out, index_t[:, :, :, ::1] argmax, int num_threads=1):
    """out[n, c, oh, ow] = max of the window of x (N, C, H, W) at (oh*stride, ow*stride);
    argmax receives the row-major offset of that maximum inside its window."""
    _check((x.shape[0], x.shape[1], x.shape[2], x.shape[3]), (out.shape[0], out.shape[1], out.shape[2], out.shape[3]), (argmax.shape[0], argmax.shape[1], argmax.shape[2], argmax.shape[3]), PH, PW, stride,
           255 if index_t is uint8_t else 2147483647, "max_pool_forward", num_threads)
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t H_out = out.shape[2], W_out = out.shape[3]
    cdef Py_ssize_t plane, n, c, oh
    cdef bint two_by_two = PH == 2 and PW == 2 and stride == 2
    cdef const real* x_row
    with nogil:
        for plane in prange(N * C, schedule="static", num_threads=num_threads):
            n = plane // C
            c = plane % C
            for oh in range(H_out):
                x_row = &x[n, c, oh * stride, 0]
                if two_by_two:
                    if _pool_row_2x2s2(x_row, x_row + W, W_out, &out[n, c, oh, 0],
                                       &argmax[n, c, oh, 0]):
                        _pool_row_exact(x_row, W, PH, PW, stride, W_out, &out[n, c, oh, 0],
                                        &argmax[n, c, oh, 0])
                else:
                    _pool_row_exact(x_row, W, PH, PW, stride, W_out, &out[n, c, oh, 0],
                                    &argmax[n, c, oh, 0])


def max_pool_backward(const real[:, :, :, ::1] dout, const index_t[:, :, :, ::1] argmax, Py_ssize_t PH,
                      Py_ssize_t PW, Py_ssize_t stride, real[:, :, :, ::1] dx, int num_threads=1):
    """Overwrite dx (N, C, H, W) with the max-pool gradient: zeros, plus dout of every window
    added at its recorded argmax (overlapping windows accumulate in a fixed order, the naive
    layer's, so results are deterministic and identical to it)."""
    _check((dx.shape[0], dx.shape[1], dx.shape[2], dx.shape[3]), (dout.shape[0], dout.shape[1], dout.shape[2], dout.shape[3]), (argmax.shape[0], argmax.shape[1], argmax.shape[2], argmax.shape[3]), PH, PW, stride,
           255 if index_t is uint8_t else 2147483647, "max_pool_backward", num_threads)
    # the offsets are read as addresses below: every one must lie inside its window
    offsets = np.asarray(argmax)
    if offsets.size and (offsets.min() < 0 or offsets.max() >= PH * PW):
        raise ValueError(f"max_pool_backward: argmax offsets must lie in [0, {PH * PW}) for a "
                         f"{PH}x{PW} window, got values in [{offsets.min()}, {offsets.max()}]")
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t H_out = dout.shape[2], W_out = dout.shape[3]
    cdef Py_ssize_t plane, n, c, oh, ow, k
    cdef real* plane_start
    # 2x2 stride-2 windows that tile the plane exactly: every dx element written once
    cdef bint tiled = PH == 2 and PW == 2 and stride == 2 and H == 2 * H_out and W == 2 * W_out
    cdef real* window
    cdef const real* dout_row
    cdef const index_t* index_row
    with nogil:
        for plane in prange(N * C, schedule="static", num_threads=num_threads):
            n = plane // C
            c = plane % C
            plane_start = &dx[n, c, 0, 0]
            if tiled:
                for oh in range(H_out):
                    _unpool_row_2x2s2(&dout[n, c, oh, 0], &argmax[n, c, oh, 0], W_out,
                                      plane_start + 2 * oh * W, plane_start + (2 * oh + 1) * W)
                continue
            memset(plane_start, 0, H * W * sizeof(real))
            # windows in REVERSE row-major order: for an element shared by overlapping
            # windows this adds the contributions in the order the naive layer does (by
            # ascending offset inside the window), so the sums agree bit for bit
            for oh in range(H_out - 1, -1, -1):
                dout_row = &dout[n, c, oh, 0]
                index_row = &argmax[n, c, oh, 0]
                for ow in range(W_out - 1, -1, -1):
                    k = index_row[ow]
                    window = plane_start + oh * stride * W + ow * stride
                    window[(k // PW) * W + k % PW] += dout_row[ow]
