"""One flat vector for a pytree of float arrays, and back: what scipy.optimize needs.

    vector, unravel = vjpnet.ravel_pytree(params)     # {"w": (3, 2), "b": (2,)} -> (8,)
    params_again = unravel(vector)                     # the same dict, shapes and dtypes
    result = scipy.optimize.minimize(
        vjpnet.value_and_grad(lambda v: loss(unravel(v))), vector, jac=True)
    fitted = unravel(result.x)

Both directions are made of NumPy operations, so they are differentiable (on traced values they
record like any other code): the gradient of `loss(unravel(v))` with respect to v is the
gradient of `loss` flattened. The vector has the leaves' common dtype (float32 leaves give a
float32 vector, mixed float32/float64 a float64 one); unravel casts each piece back to its
leaf's dtype, so float32 parameters stay float32 whatever dtype the optimizer passes (SciPy
passes float64). Leaves are taken in vjpnet.tree.flatten order (dict insertion order).
"""
import numpy as np

from vjpnet import tree
from vjpnet.tape import dtype_of, is_float, plain

__all__ = ["ravel_pytree"]


def ravel_pytree(params):
    """Flatten a pytree of float arrays/floats to a 1-D vector.

    Returns (vector, unravel), where unravel(vector) rebuilds the pytree (same structure,
    shapes and dtypes). Non-float leaves raise TypeError naming their path.
    """
    leaves, treedef = tree.flatten(params)
    paths = None
    for index, leaf in enumerate(leaves):
        if not is_float(leaf) or isinstance(leaf, bool):
            paths = paths or tree.leaf_paths(params)
            got = getattr(leaf, "dtype", type(leaf).__name__)
            raise TypeError(f"vjpnet.ravel_pytree: leaf {paths[index] or '(the root)'} is {got}; "
                            "only float arrays and floats can be flattened into the parameter "
                            "vector (cast with .astype(float), or keep it out of the tree)")
    shapes = [np.shape(plain(leaf)) for leaf in leaves]
    dtypes = [None if type(leaf) is float else dtype_of(leaf) for leaf in leaves]
    array_dtypes = [dtype for dtype in dtypes if dtype is not None]
    dtype = np.result_type(*array_dtypes) if array_dtypes else np.dtype(np.float64)
    sizes = [int(np.prod(shape)) for shape in shapes]
    total = sum(sizes)

    def unravel(vector):
        """Rebuild the pytree from a vector of the same length (any float dtype)."""
        if np.shape(plain(vector)) != (total,):
            raise ValueError(f"unravel: expected a vector of shape ({total},) for the tree "
                             f"{treedef!r}, got shape {np.shape(plain(vector))}")
        pieces = []
        start = 0
        for shape, size, leaf_dtype in zip(shapes, sizes, dtypes):
            piece = np.reshape(vector[start:start + size], shape)
            start += size
            if leaf_dtype is None:   # a Python float leaf: a float again (0-d when traced)
                piece = float(piece) if isinstance(piece, np.ndarray) else piece
            elif dtype_of(piece) != leaf_dtype:
                piece = piece.astype(leaf_dtype)
            pieces.append(piece)
        return tree.unflatten(treedef, pieces)

    if not leaves:
        return np.zeros(0, dtype), unravel
    flat = [np.reshape(leaf, (-1,)) if type(leaf) is not float else np.array([leaf], dtype)
            for leaf in leaves]
    flat = [piece if dtype_of(piece) == dtype else piece.astype(dtype) for piece in flat]
    vector = flat[0] if len(flat) == 1 else np.concatenate(flat)
    return vector, unravel
