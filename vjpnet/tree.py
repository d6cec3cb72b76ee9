"""Pytrees: nested containers of arrays that `grad` flattens to leaves and rebuilds.

dict, list, tuple, namedtuple and None are containers out of the box (None holds no leaves);
anything else is a leaf. `register_container` teaches vjpnet a new container type.

    leaves, treedef = flatten({"W": w, "b": [b1, b2]})     # leaves == [w, b1, b2]
    unflatten(treedef, [dw, db1, db2])                      # {"W": dw, "b": [db1, db2]}
"""
from collections import OrderedDict

import numpy as np

# type -> (to_children(obj) -> (children, aux), from_children(aux, children) -> obj)
_CONTAINERS = {}


def register_container(container_type, to_children, from_children):
    """Make `container_type` a pytree node.

    to_children(obj) -> (iterable of children, aux data); from_children(aux, children) -> obj.
    """
    _CONTAINERS[container_type] = (to_children, from_children)


register_container(tuple, lambda t: (t, None), lambda _, children: tuple(children))
register_container(list, lambda items: (items, None), lambda _, children: list(children))
register_container(type(None), lambda _: ((), None), lambda _, __: None)
register_container(
    dict, lambda d: (d.values(), tuple(d)), lambda keys, children: dict(zip(keys, children))
)
register_container(
    OrderedDict,
    lambda d: (d.values(), tuple(d)),
    lambda keys, children: OrderedDict(zip(keys, children)),
)


def _container_functions(obj):
    functions = _CONTAINERS.get(type(obj))
    if functions is None and isinstance(obj, tuple) and hasattr(type(obj), "_fields"):
        cls = type(obj)  # a namedtuple: rebuild with the same class
        functions = (lambda t: (t, None), lambda _, children: cls(*children))
    return functions


class TreeDef:
    """The structure of a pytree with its leaves taken out."""

    __slots__ = ("node_type", "aux", "children", "num_leaves", "flat_dict")

    def __init__(self, node_type, aux, children):
        self.node_type = node_type  # None for a leaf
        self.aux = aux
        self.children = children
        self.num_leaves = 1 if node_type is None else sum([c.num_leaves for c in children])
        self.flat_dict = False   # a dict of leaves (made by _flat_dict)

    def __eq__(self, other):
        return (
            isinstance(other, TreeDef)
            and self.node_type is other.node_type
            and self.aux == other.aux
            and self.children == other.children
        )

    def __repr__(self):
        if self.node_type is None:
            return "*"
        inner = ", ".join(map(repr, self.children))
        return f"{self.node_type.__name__}({inner})" if self.aux is None else \
            f"{self.node_type.__name__}({self.aux}: {inner})"


_LEAF = TreeDef(None, None, ())
_FLAT_DICTS = {}   # keys -> the TreeDef of a dict of those keys whose values are all arrays


def _flat_dict(keys):
    """The TreeDef of a dict with these keys and an array (a leaf) under each, made once."""
    treedef = _FLAT_DICTS.get(keys)
    if treedef is None:
        if len(_FLAT_DICTS) > 1000:   # dicts with ever-new keys: keep the cache bounded
            _FLAT_DICTS.clear()
        treedef = _FLAT_DICTS[keys] = TreeDef(dict, keys, (_LEAF,) * len(keys))
        treedef.flat_dict = True
    return treedef


def flatten(tree):
    """Return (leaves in a fixed order, TreeDef)."""
    leaves = []
    return leaves, _flatten_into(tree, leaves)


def _flatten_into(tree, leaves):
    kind = type(tree)
    if kind is np.ndarray:   # the common leaf, decided without a table lookup
        leaves.append(tree)
        return _LEAF
    if kind is dict:   # the common container: parameters by name
        start = len(leaves)
        leaves.extend(tree.values())
        for index in range(start, len(leaves)):
            if type(leaves[index]) is not np.ndarray:
                del leaves[start:]
                break
        else:
            return _flat_dict(tuple(tree))
    functions = _container_functions(tree)
    if functions is None:
        leaves.append(tree)
        return _LEAF
    children, aux = functions[0](tree)
    return TreeDef(type(tree), aux, tuple([_flatten_into(child, leaves) for child in children]))


def unflatten(treedef, leaves):
    """Rebuild the tree described by `treedef` with `leaves` in place of the original ones."""
    if type(leaves) is not list:
        leaves = list(leaves)
    if len(leaves) != treedef.num_leaves:
        raise ValueError(f"unflatten: the tree {treedef!r} has {treedef.num_leaves} leaves, "
                         f"got {len(leaves)}")
    if treedef is _LEAF:
        return leaves[0]
    if treedef.flat_dict:
        rebuilt = {}
        index = 0
        for key in treedef.aux:
            rebuilt[key] = leaves[index]
            index += 1
        return rebuilt
    return _unflatten_from(treedef, iter(leaves))


def _unflatten_from(treedef, position):
    children = [next(position) if child is _LEAF else _unflatten_from(child, position)
                for child in treedef.children]
    functions = _CONTAINERS.get(treedef.node_type)
    if functions is not None:
        return functions[1](treedef.aux, children)
    return treedef.node_type(*children)  # namedtuple


def tree_map(function, tree):
    """Apply `function` to every leaf; return a tree of the same structure."""
    leaves, treedef = flatten(tree)
    return unflatten(treedef, [function(leaf) for leaf in leaves])


def leaf_paths(tree):
    """Readable paths of the leaves, in flatten order: ["['W1']", "['layers'][0]", ...]."""
    paths = []
    _collect_paths(tree, "", paths)
    return paths


def _collect_paths(tree, prefix, paths):
    functions = _container_functions(tree)
    if functions is None:
        paths.append(prefix)
        return
    children, aux = functions[0](tree)
    if isinstance(tree, dict):
        labels = [f"[{key!r}]" for key in aux]
    elif hasattr(type(tree), "_fields"):
        labels = [f".{field}" for field in type(tree)._fields]
    else:
        labels = [f"[{i}]" for i in range(len(list(children)))]
        children, _ = functions[0](tree)
    for label, child in zip(labels, children):
        _collect_paths(child, prefix + label, paths)
