# Declarations for the Cython build of tree.py (see tape.pxd): C types for the flattening of
# the common pytrees (a dict of arrays), which every grad call does twice.
cimport cython


cdef dict _FLAT_DICTS


cdef class TreeDef:
    cdef public object node_type, aux, children
    cdef public Py_ssize_t num_leaves
    cdef public bint flat_dict


@cython.locals(rebuilt=dict, index=Py_ssize_t)
cpdef unflatten(TreeDef treedef, leaves)


@cython.locals(start=Py_ssize_t, index=Py_ssize_t, kind=object)
cpdef _flatten_into(object tree, list leaves)
