# Index arithmetic shared by the im2col/col2im kernels (_im2col.pyx, _conv_images.pyx).

cdef inline Py_ssize_t _ceil_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    # ceil(a / b) for b > 0 and any sign of a
    if a >= 0:
        return (a + b - 1) // b
    return -((-a) // b)


# The outputs o with 0 <= o*stride + offset - pad < size form the range [lo, hi). (They are
# two functions returning values, not one writing through pointers, so that Cython's prange
# sees the assignments and makes lo and hi thread-private.)
cdef inline Py_ssize_t _valid_lo(Py_ssize_t offset, Py_ssize_t stride,
                                 Py_ssize_t pad) noexcept nogil:
    cdef Py_ssize_t a = _ceil_div(pad - offset, stride)
    return a if a > 0 else 0


cdef inline Py_ssize_t _valid_hi(Py_ssize_t offset, Py_ssize_t size, Py_ssize_t stride,
                                 Py_ssize_t pad, Py_ssize_t n_out) noexcept nogil:
    cdef Py_ssize_t a = _valid_lo(offset, stride, pad)
    cdef Py_ssize_t b = _ceil_div(size + pad - offset, stride)
    if b > n_out:
        b = n_out
    return b if b > a else a
