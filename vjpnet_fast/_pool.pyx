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
from cython.parallel cimport prange
from libc.string cimport memset
from libc.stdint cimport uint8_t, int32_t

ctypedef fused real:
    float
    double

ctypedef fused index_t:
    uint8_t
    int32_t


def _check(tuple x_shape, tuple out_shape, tuple idx_shape, Py_ssize_t PH, Py_ssize_t PW,
           Py_ssize_t stride, Py_ssize_t index_max, str name):
    cdef Py_ssize_t N = x_shape[0], C = x_shape[1], H = x_shape[2], W = x_shape[3]
    if PH < 1 or PW < 1 or stride < 1 or PH > H or PW > W:
        raise ValueError(f"{name}: invalid window {PH}x{PW} stride {stride} for input {x_shape}")
    expected = (N, C, (H - PH) // stride + 1, (W - PW) // stride + 1)
    if out_shape != expected or idx_shape != expected:
        raise ValueError(f"{name}: output and index shapes {out_shape}, {idx_shape} must both "
                         f"be {expected}")
    if PH * PW - 1 > index_max:
        raise ValueError(f"{name}: index dtype too small for a {PH}x{PW} window")


def max_pool_forward(real[:, :, :, ::1] x, Py_ssize_t PH, Py_ssize_t PW, Py_ssize_t stride,
                     real[:, :, :, ::1] out, index_t[:, :, :, ::1] argmax):
    """out[n, c, oh, ow] = max of the window of x (N, C, H, W) at (oh*stride, ow*stride);
    argmax receives the row-major offset of that maximum inside its window."""
    _check((x.shape[0], x.shape[1], x.shape[2], x.shape[3]), (out.shape[0], out.shape[1], out.shape[2], out.shape[3]), (argmax.shape[0], argmax.shape[1], argmax.shape[2], argmax.shape[3]), PH, PW, stride,
           255 if index_t is uint8_t else 2147483647, "max_pool_forward")
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t H_out = out.shape[2], W_out = out.shape[3]
    cdef Py_ssize_t plane, n, c, oh, ow, i, j, best_index
    cdef real best, value, a, b, d, e
    cdef real* window
    cdef real* row0
    cdef real* row1
    cdef real* out_row
    cdef index_t* index_row
    with nogil:
        for plane in prange(N * C, schedule="static"):
            n = plane // C
            c = plane % C
            for oh in range(H_out):
                out_row = &out[n, c, oh, 0]
                index_row = &argmax[n, c, oh, 0]
                if PH == 2 and PW == 2:
                    row0 = &x[n, c, oh * stride, 0]
                    row1 = row0 + W
                    for ow in range(W_out):
                        a = row0[ow * stride]
                        b = row0[ow * stride + 1]
                        d = row1[ow * stride]
                        e = row1[ow * stride + 1]
                        best = a
                        best_index = 0
                        if b > best or (b != b and best == best):
                            best = b
                            best_index = 1
                        if d > best or (d != d and best == best):
                            best = d
                            best_index = 2
                        if e > best or (e != e and best == best):
                            best = e
                            best_index = 3
                        out_row[ow] = best
                        index_row[ow] = <index_t>best_index
                else:
                    for ow in range(W_out):
                        window = &x[n, c, oh * stride, ow * stride]
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


def max_pool_backward(real[:, :, :, ::1] dout, index_t[:, :, :, ::1] argmax, Py_ssize_t PH,
                      Py_ssize_t PW, Py_ssize_t stride, real[:, :, :, ::1] dx):
    """Overwrite dx (N, C, H, W) with the max-pool gradient: zeros, plus dout of every window
    added at its recorded argmax (windows visited in row-major order, so overlapping windows
    accumulate deterministically)."""
    _check((dx.shape[0], dx.shape[1], dx.shape[2], dx.shape[3]), (dout.shape[0], dout.shape[1], dout.shape[2], dout.shape[3]), (argmax.shape[0], argmax.shape[1], argmax.shape[2], argmax.shape[3]), PH, PW, stride,
           255 if index_t is uint8_t else 2147483647, "max_pool_backward")
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    cdef Py_ssize_t H_out = dout.shape[2], W_out = dout.shape[3]
    cdef Py_ssize_t plane, n, c, oh, ow, k
    cdef real* plane_start
    cdef real* window
    cdef real* dout_row
    cdef index_t* index_row
    with nogil:
        for plane in prange(N * C, schedule="static"):
            n = plane // C
            c = plane % C
            plane_start = &dx[n, c, 0, 0]
            memset(plane_start, 0, H * W * sizeof(real))
            for oh in range(H_out):
                dout_row = &dout[n, c, oh, 0]
                index_row = &argmax[n, c, oh, 0]
                for ow in range(W_out):
                    k = index_row[ow]
                    window = plane_start + oh * stride * W + ow * stride
                    window[(k // PW) * W + k % PW] += dout_row[ow]
