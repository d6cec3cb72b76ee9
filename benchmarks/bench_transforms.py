"""What the transforms cost: forward mode, Hessians, Jacobians, and checkpoint's memory.

1. jvp of losses of tests/loss_zoo.py and of a larger MLP (w.r.t. all parameters, a random
   tangent), as a ratio to one plain NumPy forward pass of the same loss; beside it
   value_and_grad, one push of a linearized function, HIPS autograd's make_jvp and jax.jvp
   (CPU, eager and jitted) when installed.
2. Hessian-vector products (vjpnet.hvp, reverse over reverse, and jvp of grad, forward over
   reverse) and full Hessians, against autograd and JAX, as ratios to the forward pass.
3. Jacobians of a wide (R^4 -> R^400) and a tall (R^400 -> R^4) function: jacrev, jacfwd and
   jacobian (which picks), as ratios to the forward pass.
4. checkpoint on a deep tanh MLP and a conv stack: the peak memory of one value_and_grad
   (tracemalloc, which sees NumPy's buffers), the bytes the tape keeps (saved_residuals), and
   the time, without checkpoint, with a checkpoint per layer and per group of layers.

Every table is measured in one run, candidates interleaved round robin; times are medians.

    python benchmarks/bench_transforms.py [--repeats 9] [--number 20] [--quick]
"""
import argparse
import functools
import math
import pathlib
import statistics
import sys
import time
import tracemalloc

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]   # this checkout's vjpnet, and the loss zoo

import vjpnet  # noqa: E402
import loss_zoo  # noqa: E402
from vjpnet import nn  # noqa: E402


def interleaved_medians(candidates, repeats, number):
    """{name: median seconds per call}, the candidates timed round robin in each repeat."""
    times = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, fn in candidates.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            times[name].append((time.perf_counter() - start) / number)
    return {name: statistics.median(values) for name, values in times.items()}


def optional_autograd():
    try:
        import autograd
        import autograd.numpy as anp
        return autograd, anp
    except ImportError:
        return None, None


def optional_jax():
    try:
        import jax
        jax.config.update("jax_platforms", "cpu")
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        return jax, jnp
    except ImportError:
        return None, None


def print_table(title, columns, rows):
    print(f"\n{title}")
    print(f"| {'':<24} | " + " | ".join(f"{c:>12}" for c in columns) + " |")
    print("|" + "-" * 26 + "|" + "|".join("-" * 13 + ":" for _ in columns) + "|")
    for name, values in rows:
        print(f"| {name:<24} | " + " | ".join(f"{v:>12}" for v in values) + " |")


def ratio(value, base):
    return "-" if value is None else f"{value / base:.2f}x"


# --- 1 and 2: forward mode and Hessian-vector products on the loss zoo --------------------

SECOND_ORDER = {"hvp (rev over rev)", "jvp of grad", "autograd make_jvp(grad)",
                "jax jvp of grad (eager)", "jax.jit(jvp of grad)"}
ZOO = ["mlp_tanh", "attention", "rnn_tanh", "softmax_cross_entropy", "gp_marginal_likelihood",
       "big_mlp"]


def big_mlp(np, params, X):
    """A 3-layer tanh MLP, batch 256, width 512: NumPy's compute outweighs the tape's."""
    h = X
    for k in range(3):
        h = np.tanh(h @ params[f"W{k}"] + params[f"b{k}"])
    return np.mean(h ** 2)


def big_mlp_problem(rng):
    params = {}
    for k in range(3):
        params[f"W{k}"] = rng.standard_normal((512, 512)) / math.sqrt(512)
        params[f"b{k}"] = rng.standard_normal(512) * 0.1
    return params, (rng.standard_normal((256, 512)),)


def zoo_candidates(name, scale, autograd, anp, jax, jnp):
    if name == "big_mlp":
        params, data = big_mlp_problem(np.random.default_rng(0))
        loss = big_mlp
    else:
        params, data = loss_zoo.make_problem(name, np.random.default_rng(0), scale=scale)
        loss = getattr(loss_zoo, name)
    rng = np.random.default_rng(1)
    tangent = {k: rng.standard_normal(np.shape(v)) for k, v in params.items()}
    f = functools.partial(loss, np)

    def of_params(p):
        return f(p, *data)

    _, f_jvp = vjpnet.linearize(of_params, params)
    forward = {"forward (NumPy)": lambda: f(params, *data)}
    first = {
        "value_and_grad": lambda: vjpnet.value_and_grad(f)(params, *data),
        "jvp": lambda: vjpnet.jvp(of_params, (params,), (tangent,)),
        "linearized push": lambda: f_jvp(tangent),
    }
    second = {
        "hvp (rev over rev)": lambda: vjpnet.hvp(of_params, params, tangent),
        "jvp of grad": lambda: vjpnet.jvp(vjpnet.grad(of_params), (params,), (tangent,)),
    }
    if autograd is not None:
        a_loss = functools.partial(loss, anp)
        a_of_params = lambda p: a_loss(p, *data)   # noqa: E731
        first["autograd make_jvp"] = lambda: autograd.make_jvp(a_of_params)(params)(tangent)
        second["autograd make_jvp(grad)"] = \
            lambda: autograd.make_jvp(autograd.grad(a_of_params))(params)(tangent)
    if jax is not None:
        j_loss = functools.partial(loss, jnp)
        j_of_params = lambda p: j_loss(p, *data)   # noqa: E731
        jitted = jax.jit(lambda p, t: jax.jvp(j_of_params, (p,), (t,)))
        jitted_hvp = jax.jit(lambda p, t: jax.jvp(jax.grad(j_of_params), (p,), (t,)))
        jitted(params, tangent)[1].block_until_ready()
        jax.block_until_ready(jitted_hvp(params, tangent)[1])
        first["jax.jvp (eager)"] = lambda: jax.jvp(j_of_params, (params,), (tangent,))[1] \
            .block_until_ready()
        first["jax.jit(jax.jvp)"] = lambda: jitted(params, tangent)[1].block_until_ready()
        second["jax jvp of grad (eager)"] = lambda: jax.block_until_ready(
            jax.jvp(jax.grad(j_of_params), (params,), (tangent,))[1])
        second["jax.jit(jvp of grad)"] = lambda: jax.block_until_ready(
            jitted_hvp(params, tangent)[1])
    return forward, _runnable(first), _runnable(second)


def _runnable(candidates):
    """The candidates that run (HIPS autograd has no forward mode for linalg.solve/det)."""
    kept = {}
    for name, fn in candidates.items():
        try:
            fn()
        except NotImplementedError:
            continue
        kept[name] = fn
    return kept


def bench_zoo(repeats, number, scale):
    autograd, anp = optional_autograd()
    jax, jnp = optional_jax()
    results = {}
    for name in ZOO:
        forward, first, second = zoo_candidates(name, scale, autograd, anp, jax, jnp)
        calls = max(1, number // 10) if name == "big_mlp" else number
        results[name] = interleaved_medians({**forward, **first, **second}, repeats, calls)
    names = list(dict.fromkeys(n for loss in ZOO for n in results[loss]
                               if n != "forward (NumPy)"))
    second_names = [n for n in names if n in SECOND_ORDER]
    first_names = [n for n in names if n not in SECOND_ORDER]
    for title, group in (("forward mode, time / one NumPy forward pass", first_names),
                         ("Hessian-vector products, time / one NumPy forward pass",
                          second_names)):
        rows = [(n, [ratio(results[loss].get(n), results[loss]["forward (NumPy)"])
                     for loss in ZOO]) for n in group]
        print_table(title, ZOO, rows)
    base = {loss: results[loss]["forward (NumPy)"] * 1e6 for loss in ZOO}
    print("forward pass (µs): " + ", ".join(f"{k} {v:.0f}" for k, v in base.items()))


def bench_hessians(repeats, number):
    autograd, anp = optional_autograd()
    jax, jnp = optional_jax()
    columns = []
    rows = {}
    for name in ("logistic_regression", "gp_marginal_likelihood", "mlp_tanh"):
        params, data = loss_zoo.make_problem(name, np.random.default_rng(0))
        keys = sorted(params)
        sizes = np.cumsum([0] + [np.size(params[k]) for k in keys])
        theta = np.concatenate([np.ravel(params[k]) for k in keys])

        def unflatten(t, keys=keys, sizes=sizes, params=params):
            return {k: t[a:b].reshape(np.shape(params[k]))
                    for k, a, b in zip(keys, sizes[:-1], sizes[1:])}

        loss = getattr(loss_zoo, name)
        candidates = {
            "forward (NumPy)": lambda: loss(np, params, *data),
            "hessian": lambda: vjpnet.hessian(lambda p: loss(np, p, *data))(params),
            "jacrev(jacrev)": lambda: vjpnet.jacrev(vjpnet.jacrev(
                lambda p: loss(np, p, *data)))(params),
        }
        if autograd is not None:
            candidates["autograd.hessian"] = lambda: autograd.hessian(
                lambda t: loss(anp, unflatten(t), *data))(theta)
        if jax is not None:
            jitted = jax.jit(jax.hessian(lambda p: loss(jnp, p, *data)))
            jax.block_until_ready(jitted(params))
            candidates["jax.hessian (eager)"] = lambda: jax.block_until_ready(
                jax.hessian(lambda p: loss(jnp, p, *data))(params))
            candidates["jax.jit(jax.hessian)"] = lambda: jax.block_until_ready(jitted(params))
        times = interleaved_medians(candidates, repeats, max(1, number // 10))
        column = f"{name} (n={theta.size})"
        columns.append(column)
        for key, value in times.items():
            if key != "forward (NumPy)":
                rows.setdefault(key, {})[column] = value / times["forward (NumPy)"]
    print_table("full Hessians, time / one NumPy forward pass", columns,
                [(k, [f"{v[c]:.0f}x" if c in v else "-" for c in columns])
                 for k, v in rows.items()])


def bench_jacobians(repeats, number):
    rng = np.random.default_rng(2)
    W_wide = rng.standard_normal((400, 4))
    W_tall = rng.standard_normal((4, 400))
    wide = lambda x: np.tanh(W_wide @ x)   # noqa: E731   R^4 -> R^400
    tall = lambda x: np.tanh(W_tall @ x)   # noqa: E731   R^400 -> R^4
    columns, rows = [], {}
    for label, f, x in (("wide 4 -> 400", wide, rng.standard_normal(4)),
                        ("tall 400 -> 4", tall, rng.standard_normal(400))):
        candidates = {"forward (NumPy)": lambda f=f, x=x: f(x),
                      "jacrev": lambda f=f, x=x: vjpnet.jacrev(f)(x),
                      "jacfwd": lambda f=f, x=x: vjpnet.jacfwd(f)(x),
                      "jacobian": lambda f=f, x=x: vjpnet.jacobian(f)(x)}
        times = interleaved_medians(candidates, 3 * repeats, max(1, number // 4))
        columns.append(label)
        for key, value in times.items():
            if key != "forward (NumPy)":
                rows.setdefault(key, {})[label] = value / times["forward (NumPy)"]
    print_table("Jacobians, time / one NumPy forward pass", columns,
                [(k, [f"{v[c]:.0f}x" for c in columns]) for k, v in rows.items()])


# --- 4: checkpoint -------------------------------------------------------------------------

def mlp_problem(depth, width, batch):
    rng = np.random.default_rng(3)
    params = [{"W": rng.standard_normal((width, width)) / math.sqrt(width),
               "b": np.zeros(width)} for _ in range(depth)]
    return params, rng.standard_normal((batch, width))


def tanh_layer(h, p):
    return np.tanh(h @ p["W"] + p["b"])


def mlp_loss(layer, group):
    """The loss of the MLP with `layer`, checkpointed per `group` layers when group > 0."""
    def stack(h, *layers):
        for p in layers:
            h = layer(h, p)
        return h
    block = vjpnet.checkpoint(stack) if group else stack

    def loss(params, x):
        step = group or len(params)
        for start in range(0, len(params), step):
            x = block(x, *params[start:start + step])
        return np.sum(x ** 2)
    return loss


def conv_problem(depth, channels, size, batch):
    rng = np.random.default_rng(4)
    params = [{"w": rng.standard_normal((channels, channels, 3, 3)) / (3 * math.sqrt(channels)),
               "b": np.zeros(channels)} for _ in range(depth)]
    return params, rng.standard_normal((batch, channels, size, size))


def conv_layer(h, p):
    return nn.relu(nn.conv2d(h, p["w"], p["b"], {"stride": 1, "pad": 1}))


def peak_bytes(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def bench_checkpoint(repeats, quick):
    depth, width, batch = (16, 128, 512) if quick else (32, 256, 1024)
    conv_depth, channels, size, conv_batch = (4, 16, 16, 8) if quick else (8, 32, 32, 16)
    cases = [("MLP", mlp_problem(depth, width, batch), tanh_layer, depth),
             ("conv stack", conv_problem(conv_depth, channels, size, conv_batch), conv_layer,
              conv_depth)]
    for label, (params, x), layer, layers in cases:
        groups = [0, 1, int(round(math.sqrt(layers)))]
        names = {0: "no checkpoint", 1: "checkpoint per layer"}
        names[groups[2]] = f"checkpoint per {groups[2]} layers"
        losses = {g: mlp_loss(layer, g) for g in groups}
        reference = vjpnet.grad(losses[0])(params, x)
        for g in groups[1:]:   # bit-identical gradients
            got = vjpnet.grad(losses[g])(params, x)
            assert all(np.array_equal(p[k], q[k]) for p, q in zip(reference, got) for k in p)
        peaks = {g: min(peak_bytes(lambda g=g: vjpnet.value_and_grad(losses[g])(params, x))
                        for _ in range(2)) for g in groups}
        kept = {g: vjpnet.saved_residuals(losses[g], params, x, argnums=0).total_bytes
                for g in groups}
        times = interleaved_medians(
            {g: (lambda g=g: vjpnet.value_and_grad(losses[g])(params, x)) for g in groups},
            repeats, 1)
        activation = x.nbytes
        print(f"\ncheckpoint, {label}: {layers} layers, input {x.shape} float64 "
              f"({activation / 2 ** 20:.1f} MiB per activation); value_and_grad; gradients "
              "bit-identical (np.array_equal) in every row")
        print("| | peak memory (tracemalloc) | kept by the tape | time |")
        print("|---|---:|---:|---:|")
        for g in groups:
            print(f"| {names[g]} | {peaks[g] / 2 ** 20:.1f} MiB ({peaks[g] / peaks[0]:.2f}x) | "
                  f"{kept[g] / 2 ** 20:.1f} MiB ({kept[g] / kept[0]:.2f}x) | "
                  f"{times[g] / times[0]:.2f}x |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--number", type=int, default=20)
    parser.add_argument("--scale", type=int, default=4, help="batch scale of the zoo losses")
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--only", choices=["zoo", "hessian", "jacobian", "checkpoint"])
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.number, args.scale = 3, 3, 1
    sections = {"zoo": lambda: bench_zoo(args.repeats, args.number, args.scale),
                "hessian": lambda: bench_hessians(args.repeats, args.number),
                "jacobian": lambda: bench_jacobians(args.repeats, args.number),
                "checkpoint": lambda: bench_checkpoint(args.repeats, args.quick)}
    for name, run in sections.items():
        if args.only in (None, name):
            run()


if __name__ == "__main__":
    main()
