"""print_saved / saved_residuals: per-op rows, each buffer counted once (views count as their
base), arguments apart, grouping by op and by the user's source line."""
import numpy as np
import pytest

import vjpnet
from vjpnet import checkpoint, print_saved, saved_residuals


def _chain(x):
    a = np.exp(x)              # keeps x (an argument) and a
    v = a[::2]                 # keeps only an index and a shape (linear)
    w = v * 3.0                # keeps v (a view of a: counted) and w
    return np.sum(w * w)       # keeps w twice (once) and the product; the sum of squares: w


def test_each_buffer_is_counted_once_and_arguments_apart():
    x = np.linspace(0.0, 1.0, 1000)
    summary = saved_residuals(_chain, x)
    ops = [row.op for row in summary.rows]
    assert ops == ["exp", "getitem", "multiply", "multiply", "sum_of_squares"]
    by_node = {row.op + str(i): row for i, row in enumerate(summary.rows)}
    assert by_node["exp0"].saved_bytes == 8000 and by_node["exp0"].argument_bytes == 8000
    assert by_node["getitem1"].saved_bytes == 0 and by_node["getitem1"].shared_bytes == 0
    assert by_node["multiply2"].saved_bytes == 4000   # w; v is a view of a
    assert by_node["multiply3"].saved_bytes == 4000   # w * w
    assert summary.total_bytes == 8000 + 4000 + 4000
    assert summary.argument_bytes == 8000
    assert sum(total for _, _, total in summary.by_op()) == summary.total_bytes
    assert summary.rows[0].shape == (1000,) and summary.rows[0].dtype == "float64"
    assert summary.rows[-1].shape == ()


def test_source_lines_are_the_users(capsys):
    x = np.linspace(0.0, 1.0, 10)
    summary = print_saved(_chain, x)
    lines = {row.line.split(" ")[0] for row in summary.rows}
    assert all(line.startswith("test_introspection.py:") for line in lines)
    codes = [code for (_, code), _, _ in summary.by_line()]
    assert "a = np.exp(x)              # keeps x (an argument) and a" in codes
    printed = capsys.readouterr().out
    assert "by op:" in printed and "by source line:" in printed and "exp" in printed
    assert "5 ops keep" in printed


def test_pytrees_argnums_and_layers():
    rng = np.random.default_rng(0)
    params = {"w": rng.standard_normal((4, 3)), "b": np.zeros(3)}
    x, y = rng.standard_normal((5, 4)), rng.integers(0, 3, 5)

    def loss(params, x, y):
        scores = vjpnet.nn.affine(x, params["w"], params["b"])
        return vjpnet.nn.softmax_loss(scores, y)

    summary = saved_residuals(loss, params, x, y, argnums=0)
    assert [row.op for row in summary.rows] == ["affine", "softmax_loss"]
    assert summary.rows[0].argument_bytes == x.nbytes + params["w"].nbytes + params["b"].nbytes
    assert summary.rows[1].saved_bytes == 5 * 3 * 8   # the loss's dx (not the scores)
    assert "loss" in summary.rows[0].line


def test_checkpoint_blocks_show_as_one_op():
    block = checkpoint(lambda h: np.tanh(np.tanh(h) * 2.0))
    summary = saved_residuals(lambda x: np.sum(block(x)), np.ones(100))
    assert [row.op for row in summary.rows] == ["checkpoint(<lambda>)", "checkpoint output",
                                                "sum"]
    assert summary.total_bytes == 0   # sum keeps only the shape of the block's output
    assert "SavedResiduals" in repr(summary)


def test_max_pool_keeps_its_argmax_not_its_input():
    # the tape keeps only the shape and dtype of a traced input for the check of its cotangent;
    # the pool's input here is new memory that no other cache keeps (concatenate keeps bounds)
    primitives = pytest.importorskip("vjpnet_fast.primitives")
    w = np.random.default_rng(0).standard_normal((2, 3, 8, 8))
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    summary = saved_residuals(lambda w: np.sum(primitives.max_pool2d_fast(
        np.concatenate([w, w]), pool_param)), w)
    pool = next(row for row in summary.rows if row.op == "max_pool2d_fast")
    assert pool.saved_bytes + pool.shared_bytes == 4 * 3 * 4 * 4   # one byte per window
