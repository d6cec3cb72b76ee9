# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Single-pass kernels for the ReLU's backward pass and the softmax loss.

    relu_backward(dout, x, dx)           dout, x, dx (n,) of one dtype; dx written
    softmax_shift(x, y, shifted, picked) -> first bad row or -1
    softmax_finish(exp_shifted, y, picked) -> loss
                                         the softmax loss in two passes around NumPy's
                                         vectorized np.exp(shifted, out=shifted): x, shifted
                                         (N, C) with C >= 1, y (N,) int64 labels, picked (N,)

Both give what vjpnet.layers computes with several NumPy passes and temporaries:
- relu_backward: dout * (x > 0) bit for bit (so -0.0 where dout < 0 and x <= 0, NaN where
  dout is inf or NaN), and NaN where x is NaN (dout times NaN);
- the softmax loss: per row, shifted = x - max(x) (NaN if the row holds a NaN), total =
  sum(exp(shifted)); loss = -mean(shifted[i, y[i]] - log(total)) and dx = (exp(shifted) /
  total - onehot(y)) / N (the NumPy path takes exp(shifted - log(total)): the same up to
  rounding). shifted and exp are computed in x's dtype as in NumPy, the sums, log and
  quotients in double, so results agree with the NumPy path to a few ulp.
The caller checks shapes and dtypes (vjpnet_fast.fused); the kernels index without checks.
"""
from libc.math cimport log, NAN
from libc.stdint cimport int64_t

ctypedef fused real:
    float
    double


# In plain C, written so that gcc vectorizes it with baseline SSE2 (two selects of constants
# and one product; selecting between products instead made gcc emit scalar code 6x slower):
# the factor (x > 0) as a float keeps the NumPy path's signed zeros and its inf * 0 = NaN.
cdef extern from *:
    """
    #include <math.h>
    #define VJPNET_RELU_BACKWARD(NAME, REAL)                                                  \
    static inline void NAME(const REAL* dout, const REAL* x, Py_ssize_t n, REAL* dx) {    \
        for (Py_ssize_t i = 0; i < n; i++) {                                               \
            REAL value = x[i];                                                             \
            REAL factor = value > 0 ? (REAL)1 : (REAL)0;                                   \
            factor = value != value ? (REAL)NAN : factor;                                  \
            dx[i] = dout[i] * factor;                                                      \
        }                                                                                  \
    }
    VJPNET_RELU_BACKWARD(vjpnet_relu_backward_double, double)
    VJPNET_RELU_BACKWARD(vjpnet_relu_backward_float, float)
    """
    void vjpnet_relu_backward_double(const double* dout, const double* x, Py_ssize_t n,
                                     double* dx) nogil
    void vjpnet_relu_backward_float(const float* dout, const float* x, Py_ssize_t n,
                                    float* dx) nogil


def relu_backward(const real[::1] dout, const real[::1] x, real[::1] dx):
    """dx = dout * (x > 0), NaN where x is NaN; all three of length n."""
    cdef Py_ssize_t n = x.shape[0]
    if n == 0:
        return
    with nogil:
        if real is double:
            vjpnet_relu_backward_double(&dout[0], &x[0], n, &dx[0])
        else:
            vjpnet_relu_backward_float(&dout[0], &x[0], n, &dx[0])


def softmax_shift(const real[:, ::1] x, const int64_t[::1] y, real[:, ::1] shifted,
                  real[::1] picked):
    """First pass of the softmax loss: shifted = x - max(x, axis=1) (NaN rows stay NaN) and
    picked[i] = shifted[i, y[i]]. Returns -1, or the first row whose label is not in [0, C)
    (then nothing after it is written)."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], i, j, bad = -1
    cdef int64_t label
    cdef real row_max, value
    with nogil:
        for i in range(N):
            label = y[i]
            if label < 0 or label >= C:
                bad = i
                break
            row_max = x[i, 0]
            if row_max == row_max:
                for j in range(1, C):
                    value = x[i, j]
                    if value > row_max:
                        row_max = value
                    elif value != value:     # a NaN is the maximum, as in np.max
                        row_max = value
                        break
            for j in range(C):
                shifted[i, j] = x[i, j] - row_max
            picked[i] = shifted[i, label]
    return bad


def softmax_finish(real[:, ::1] exp_shifted, const int64_t[::1] y, const real[::1] picked):
    """Second pass, after exp_shifted = exp(shifted) (NumPy's vectorized exp): turns it into
    dx = (exp_shifted / its row sum - onehot(y)) / N in place and returns the mean loss
    -mean(picked - log(row sum)), summed in double."""
    cdef Py_ssize_t N = exp_shifted.shape[0], C = exp_shifted.shape[1], i, j
    cdef double total, loss = 0.0, count = <double>N
    with nogil:
        for i in range(N):
            total = 0.0
            for j in range(C):
                total = total + exp_shifted[i, j]
            loss = loss - (picked[i] - log(total))
            for j in range(C):
                exp_shifted[i, j] = <real>((exp_shifted[i, j] / total - (j == y[i])) / count)
    return loss / count
