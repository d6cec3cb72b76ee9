"""print_saved / saved_residuals: per-op rows, each buffer counted once (views count as their
base), arguments apart, grouping by op and by the user's source line."""
import numpy as np

import vjpnet
from vjpnet import checkpoint, print_saved, saved_residuals


def _chain(x):
    a = np.exp(x)              # keeps x (an argument) and a
    v = a[::2]                 # keeps a (already counted): a view's buffer is its base's
    w = v * 3.0                # keeps v (a view of a: counted) and w
    return np.sum(w * w)       # keeps w twice (once) and the product


def test_each_buffer_is_counted_once_and_arguments_apart():
    x = np.linspace(0.0, 1.0, 1000)
    summary = saved_residuals(_chain, x)
    ops = [row.op for row in summary.rows]
    assert ops == ["exp", "getitem", "multiply", "multiply", "sum"]
    by_node = {row.op + str(i): row for i, row in enumerate(summary.rows)}
    assert by_node["exp0"].saved_bytes == 8000 and by_node["exp0"].argument_bytes == 8000
    assert by_node["getitem1"].saved_bytes == 0 and by_node["getitem1"].shared_bytes == 8000
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
    assert summary.rows[1].saved_bytes == 5 * 3 * 8 * 2   # the scores and the loss's dx
    assert "loss" in summary.rows[0].line


def test_checkpoint_blocks_show_as_one_op():
    block = checkpoint(lambda h: np.tanh(np.tanh(h) * 2.0))
    summary = saved_residuals(lambda x: np.sum(block(x)), np.ones(100))
    assert [row.op for row in summary.rows] == ["checkpoint(<lambda>)", "checkpoint output",
                                                "sum"]
    assert summary.total_bytes == 800   # the block's output, kept by sum's input check
    assert "SavedResiduals" in repr(summary)
