from collections import OrderedDict, namedtuple

import numpy as np
import pytest

from vjpnet import tree

Pair = namedtuple("Pair", "left right")


def test_round_trip_of_nested_containers():
    value = {"W": 1.0, "layers": [(2.0, None), Pair(3.0, {"b": 4.0})], "od": OrderedDict(z=5.0)}
    leaves, treedef = tree.flatten(value)
    assert leaves == [1.0, 2.0, 3.0, 4.0, 5.0]
    rebuilt = tree.unflatten(treedef, [10 * x for x in leaves])
    assert rebuilt == {"W": 10.0, "layers": [(20.0, None), Pair(30.0, {"b": 40.0})],
                       "od": OrderedDict(z=50.0)}
    assert type(rebuilt["layers"][1]) is Pair and type(rebuilt["od"]) is OrderedDict


def test_dict_keeps_key_order_and_arrays_are_leaves():
    leaves, treedef = tree.flatten({"b": np.zeros(2), "a": np.ones(3)})
    assert [x.shape for x in leaves] == [(2,), (3,)]
    assert list(tree.unflatten(treedef, leaves)) == ["b", "a"]


def test_leaf_paths_name_each_leaf():
    assert tree.leaf_paths({"W": 1, "b": [2, Pair(3, 4)]}) == \
        ["['W']", "['b'][0]", "['b'][1].left", "['b'][1].right"]


def test_unflatten_checks_the_leaf_count():
    _, treedef = tree.flatten([1, 2])
    with pytest.raises(ValueError, match="has 2 leaves, got 3"):
        tree.unflatten(treedef, [1, 2, 3])


def test_register_container():
    class Box:
        def __init__(self, items):
            self.items = items

    tree.register_container(Box, lambda b: (b.items, None), lambda _, children: Box(list(children)))
    leaves, treedef = tree.flatten(Box([1.0, [2.0]]))
    assert leaves == [1.0, 2.0]
    assert tree.unflatten(treedef, [3.0, 4.0]).items == [3.0, [4.0]]
    assert tree.tree_map(lambda x: -x, Box([1.0])).items == [-1.0]
