"""NumPy primitives with VJPs, and the routing of NumPy calls on traced values to them.

Inside `vjpnet.grad`, plain `import numpy as np` code works: ufuncs (np.exp, +, *, ...) reach
their primitive through `Traced.__array_ufunc__`, other functions (np.sum, np.concatenate,
np.linalg.solve, ...) through `Traced.__array_function__`. A NumPy function without a VJP raises
TypeError naming it; non-differentiable functions (argmax, comparisons, sign, floor, ...) take
traced values and return plain results.

Modules (imports go one way, top to bottom):
    _base        unbroadcast, the elementwise-primitive factory, argument checks, spec helpers
    elementwise  ufuncs (add ... logaddexp, abs, maximum, fmax, ...), clip, where
    indexing     x[index] (getitem, scatter-add VJP), index_update (functional x[index] = v)
    shape        reshape, transpose, concatenate, stack, split, flip, roll, tile, repeat, pad,
                 take, take_along_axis, diagonal, diag, trace, ...
    reductions   sum, mean, prod, max/amax, min/amin, var, std, cumsum
    linalg       matmul, dot, tensordot, einsum, outer, inner, vdot, linalg.norm/inv/det/solve
    complex_parts  real, imag, conj/conjugate, angle
    fft          numpy.fft: fft, ifft, rfft, irfft, hfft, ihfft and their 2-D / n-D forms,
                 fftshift, ifftshift
    nondifferentiable   functions that return plain results
    decompositions      linalg.svd, eigh, eigvalsh, eig, eigvals, cholesky, qr of real and
                 complex matrices (primitives per output)
    matrix_functions    linalg.slogdet, pinv, lstsq, matrix_power, multi_dot, cond,
                 tensorinv, tensorsolve, the singular-value matrix norms ('nuc', 2, -2)
    array_api    NumPy 2's Array-API names (linalg.vecdot, matrix_norm, ..., the gufuncs vecdot,
                 matvec, vecmat)
    sorting      sort, partition, quantile/percentile/median and their nan forms
    elementwise_extra   remainder/mod, fmod, deg2rad, rad2deg, fabs, copysign, sinc,
                 nan_to_num, real_if_close
    rearrange    tril, triu, rot90, rollaxis, append, delete, block, meshgrid, select,
                 piecewise, apply_along_axis, sliding_window_view, ...
    sequences    diff, gradient, trapezoid, cumprod, interp, convolve, correlate, polyval,
                 vander, cross, kron
    constructors linspace, logspace, geomspace with traced endpoints, full_like
    statistics   nansum ... nanstd, average, ptp, cov, corrcoef
    coverage     the list of differentiable NumPy functions in README.md (a script)

Naming: a primitive object ends in `_p` (`sum_p`, `reshape_p`, `exp_p`); the function with NumPy's
signature that routes to it has NumPy's name (`sum`, `reshape`, `concatenate`). The primitive's
`name` (in errors and the registry) is NumPy's name.

Every VJP is written with NumPy operations, so on traced values it is itself recorded and
differentiable: nested `grad` gives exact higher derivatives. float32 inputs give float32
values and cotangents (constants in VJPs are Python floats, which NumPy does not upcast with);
complex64 stays complex64.

Complex numbers (the convention of HIPS autograd and JAX): the cotangent c of a complex value w
pairs with a change dw as Re(sum(c * dw)), without a conjugate. So the gradient of a real f of
z = x + iy is df/dx - 1j df/dy; a holomorphic op's VJP is g * f'(z) (linear maps: their plain
transpose, never the conjugate transpose); a real input takes the real part of a complex
cotangent (unbroadcast / sum_to_shape do it). Non-holomorphic ops write their VJP out: abs
(g conj(z)/|z|), real (g), imag (-1j g), conj (conj(g)), angle (-1j g / z). Ops that need an
order (maximum, minimum, fmax, fmin, clip, max, min, <, <=, >, >=) raise TypeError on
complex values.

Subgradient conventions (at points where the derivative does not exist):
    abs(x) at 0                 0 (the gradient is sign(x))
    np.maximum(x, y) on ties    each input gets half of the gradient (so np.maximum(x, x) has
    np.minimum, fmax, fmin      derivative 1); relu written np.maximum(x, 0) has derivative 0.5
                                at exactly 0 (write np.where(x > 0, x, 0.0) for 0)
    max/min reductions          tied maxima share the gradient equally
    clip(x, lo, hi)             at x == lo or x == hi the gradient goes to x (bounds inclusive)
    sqrt(x) at 0                0 (not +inf), so sqrt(sum(x**2)) and norm(x) have gradient 0 at
    linalg.norm(x) at 0         x = 0 instead of NaN; std of a constant has gradient 0
    power(x, y) w.r.t. y        0 where x <= 0 (log x is undefined there)
    prod with zero factors      the exact product of the other factors (no division by zero)
"""
from vjpnet.numpy_ops import _base, elementwise, indexing, shape, reductions, linalg  # noqa: F401
from vjpnet.numpy_ops import complex_parts, fft, nondifferentiable  # noqa: F401
from vjpnet.numpy_ops import decompositions, matrix_functions, array_api  # noqa: F401
from vjpnet.numpy_ops import (constructors, elementwise_extra, rearrange, sequences,  # noqa: F401
                               sorting, statistics)
from vjpnet.numpy_ops._base import sum_to_shape, unbroadcast  # noqa: F401
from vjpnet.numpy_ops.indexing import getitem_p, index_add_p, index_update  # noqa: F401

elementwise_extra.register_ufunc_methods()   # after every module above registered its ufuncs

__all__ = ["unbroadcast", "sum_to_shape", "getitem_p", "index_add_p", "index_update"]
