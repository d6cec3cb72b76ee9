# Declarations for the Cython build of tape.py (an "augmenting" .pxd: tape.py, plain Python, is
# the source of both engines; these only give C types to its classes and hot functions).
cimport cython


cdef dict _ufunc_primitives
cdef Py_ssize_t _MIN_BYTES


cdef class TapeOp:
    cdef public object name, forward, vjp, jvp, nondiff_argnums, nondiff_mask, fast_ufunc
    cdef public bint first_order, linear, selective_vjp, check_cotangents


cdef class Tape:
    cdef public Py_ssize_t level
    cdef public object entries      # a list (a list subclass under print_saved)
    cdef public bint open


cdef class Traced:
    cdef public object value
    cdef public Tape tape
    cdef public Py_ssize_t node


@cython.locals(traced=Traced)
cpdef Traced record(Tape tape, TapeOp primitive, tuple parents, object cache, tuple needed,
                    bint nested, object out)


@cython.locals(op=TapeOp)
cdef object _fast_op(object primitive)


cdef _unary_operator(object ufunc, object x)


cdef _binary_operator(object ufunc, object x, object y)


@cython.locals(tape=Tape, traced=Traced, parents=list, position=Py_ssize_t, containers=bint,
               kind=object, value=object, unwrapped=list, slot=Py_ssize_t, index=Py_ssize_t)
cpdef bind(TapeOp primitive, tuple args, dict kwargs)


cdef object _into_recycled(object ufunc, tuple shape, tuple dtypes, object x, object y)


@cython.locals(tape=Tape, traced=Traced, value=object)
cpdef apply_unary(TapeOp primitive, object x)


@cython.locals(tape=Tape, traced=Traced, x_value=object, y_value=object, parents=tuple,
               needed=tuple, x_node=Py_ssize_t)
cpdef apply_binary(TapeOp primitive, object x, object y)


@cython.locals(cotangents=list, start=Py_ssize_t, node=Py_ssize_t, entry=tuple, parents=tuple,
               primitive=TapeOp, index=Py_ssize_t,
               needed=tuple, nested=bint, check=bint, slot=Py_ssize_t, parent=Py_ssize_t)
cpdef list backward(Tape tape, object seeds, bint free)


cdef class open_tape:
    cdef public Tape tape
    cdef public object token
