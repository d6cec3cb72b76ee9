"""Random straight-line NumPy programs, run by vjpnet and by HIPS autograd alike.

`make_program(rng, length)` draws a list of steps; `run(np, program, x, y)` evaluates it with
the NumPy module `np` (numpy for vjpnet, autograd.numpy for autograd) on x (3, 4) and y (4,),
returning {"out": a (3, 4) value, "total": a scalar}. Every op keeps a (3, 4) shape and stays
smooth (no kinks, no log or division near 0), so centred differences are accurate.
"""
import numpy

# (name, function of (np, a) -> (3, 4)); a is (3, 4)
UNARY = [
    ("tanh", lambda np, a: np.tanh(a)),
    ("sin", lambda np, a: np.sin(a)),
    ("cos", lambda np, a: np.cos(a)),
    ("exp", lambda np, a: np.exp(0.3 * a)),
    ("log1p_square", lambda np, a: np.log1p(a * a)),
    ("sqrt", lambda np, a: np.sqrt(a * a + 1.0)),
    ("square", lambda np, a: a ** 2),
    ("arctan", lambda np, a: np.arctan(a)),
    ("sigmoid", lambda np, a: 1.0 / (1.0 + np.exp(-a))),
    ("flip", lambda np, a: a[::-1, ::-1]),
    ("cumsum", lambda np, a: np.cumsum(a, axis=1) * 0.5),
    ("center", lambda np, a: a - np.mean(a, axis=1, keepdims=True)),
    ("normalize", lambda np, a: a / np.sqrt(np.sum(a * a, axis=0, keepdims=True) + 1.0)),
    ("softmax", lambda np, a: np.exp(a) / np.sum(np.exp(a), axis=1, keepdims=True)),
    ("transpose_matmul", lambda np, a: np.dot(np.dot(a, a.T), a) * 0.1),
    ("reshape_roundtrip", lambda np, a: np.reshape(np.reshape(a, (2, 6)).T, (3, 4))),
    ("concatenate_halves", lambda np, a: np.concatenate([a[:, 2:], a[:, :2] * 2.0], axis=1)),
    ("stack_rows", lambda np, a: np.stack([a[2], a[0] + a[1], a[1]], axis=0)),
    ("fancy_index", lambda np, a: a[numpy.array([2, 0, 1])][:, numpy.array([1, 1, 3, 0])]),
    ("mean_rows", lambda np, a: a + np.mean(a, axis=0)),
    ("var_rows", lambda np, a: a * np.var(a, axis=0)),
    ("prod_pairs", lambda np, a: np.repeat(np.prod(np.reshape(1.0 + 0.5 * np.tanh(a), (3, 2, 2)),
                                                         axis=2), 2, axis=1)),
]

# (name, function of (np, a, b) -> (3, 4)); a is (3, 4), b is (3, 4) or (4,)
BINARY = [
    ("add", lambda np, a, b: a + b),
    ("subtract", lambda np, a, b: a - b),
    ("multiply", lambda np, a, b: a * b),
    ("divide", lambda np, a, b: a / (1.0 + b * b)),
    ("logaddexp", lambda np, a, b: np.logaddexp(a, b)),
    ("hypot", lambda np, a, b: np.sqrt(a * a + b * b + 0.5)),
    ("where", lambda np, a, b: np.where(numpy.arange(4) % 2 == 0, a, b * 0.5)),
    ("einsum", lambda np, a, b: np.einsum("ij,j->ij", a, b if b.ndim == 1 else b[0])),
]


def make_program(rng, length=6):
    """A list of steps ("unary", index, value) / ("binary", index, value, value)."""
    steps = []
    count = 2   # values 0 and 1 are x and y
    for _ in range(length):
        if rng.random() < 0.6:
            steps.append(("unary", int(rng.integers(len(UNARY))), int(rng.integers(count))))
        else:
            first = int(rng.integers(count))
            steps.append(("binary", int(rng.integers(len(BINARY))),
                          first if first != 1 else 0, int(rng.integers(count))))
        count += 1
    return steps


def describe(program):
    """A readable form, for assertion messages."""
    names = []
    for step in program:
        table = UNARY if step[0] == "unary" else BINARY
        operands = ", ".join(f"v{i}" for i in step[2:])
        names.append(f"v{len(names) + 2} = {table[step[1]][0]}({operands})")
    return "; ".join(names)


def run(np, program, x, y):
    """Evaluate the program; {"out": the last value (3, 4), "total": a scalar of all values}."""
    values = [x, y]
    for step in program:
        if step[0] == "unary":
            a = values[step[2]]
            if a.ndim == 1:   # y: to (3, 4) first
                a = np.stack([a, a * 0.5, -a])
            values.append(UNARY[step[1]][1](np, a))
        else:
            values.append(BINARY[step[1]][1](np, values[step[2]], values[step[3]]))
    total = 0.0
    for value in values[2:]:
        total = total + np.sum(np.tanh(value))
    return {"out": values[-1], "total": total}
