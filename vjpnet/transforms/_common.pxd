# Declarations for the Cython build of _common.py (see vjpnet/tape.pxd): C types for the work
# every grad call does around f (tracing the arguments, collecting the gradients).
cimport cython


@cython.locals(inputs=list, leaves=list, traced=list, wrapped=list, index=Py_ssize_t,
               python_complex=tuple)
cpdef trace_args(name, tape, args, positions, transform=*, bint skip_non_float=*,
                 bint holomorphic=*)


@cython.locals(gradients=list, traced_inputs=list)
cpdef collect(inputs_of_arg, cotangents)
