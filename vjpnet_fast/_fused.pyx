# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Single-pass kernels for the ReLU's backward pass and the softmax loss.

    relu_backward(dout, x, dx)           dout, x, dx (n,) of one dtype; dx written
    softmax_loss(x, y, dx, bad_label) -> loss
                                         x, dx (N, C) with C >= 1; y (N,) int64 labels;
                                         dx written;
                                         returns the mean loss (a double), or NaN and
                                         bad_label[0] >= 0 when a label is outside [0, C)

Both give what vjpnet.layers computes with several NumPy passes and temporaries:
- relu_backward: dout * (x > 0) bit for bit (so -0.0 where dout < 0 and x <= 0, NaN where
  dout is inf or NaN), and NaN where x is NaN (dout times NaN);
- softmax_loss: per row, shifted = x - max(x) (NaN if the row holds a NaN), total =
  sum(exp(shifted)); loss = -mean(shifted[i, y[i]] - log(total)) and dx = (exp(shifted) /
  total - onehot(y)) / N (the NumPy path takes exp(shifted - log(total)): the same up to
  rounding). The arithmetic is done in double (for float32 too), so float64 results agree
  with the NumPy path to a few ulp, float32 results are the double results rounded.
The caller checks shapes and dtypes (vjpnet_fast.fused); the kernels index without checks.
"""
from libc.math cimport exp, log, NAN
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


def softmax_loss(const real[:, ::1] x, const int64_t[::1] y, real[:, ::1] dx,
                 int64_t[::1] bad_label):
    """Mean softmax cross-entropy of x (N, C) with labels y (N,), its gradient into dx."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], i, j
    cdef int64_t label
    cdef double row_max, value, total, lse, loss = 0.0
    cdef double count = <double>N
    bad_label[0] = -1
    with nogil:
        for i in range(N):
            label = y[i]
            if label < 0 or label >= C:
                bad_label[0] = i
                loss = NAN
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
            total = 0.0
            for j in range(C):
                value = exp(x[i, j] - row_max)
                total = total + value
                if real is double:
                    dx[i, j] = value              # kept for the second pass
            lse = log(total)
            loss = loss - ((x[i, label] - row_max) - lse)
            for j in range(C):
                if real is double:
                    value = dx[i, j] / total
                else:                             # recomputed: a float would round it
                    value = exp(x[i, j] - row_max) / total
                if j == label:
                    value = value - 1.0
                dx[i, j] = <real>(value / count)
    return loss / count
