"""A ThreeLayerConvNet (conv - relu - pool - affine - relu - affine) on the 8x8 digits.

Uses the Cython kernels of vjpnet_fast when they are built (the naive NumPy ones otherwise),
shows a progress bar on a terminal, and writes the first-layer filters as an image grid and
the loss/accuracy curves.

    python examples/convnet.py [--quick] [--out DIR]
    mpiexec -n 2 python examples/convnet.py --distributed     # data-parallel on 2 ranks

With --distributed every rank of the MPI job trains on its share of each minibatch
(vjpnet.distributed.DistributedSolver; needs `pip install ".[mpi]"`); rank 0 prints and
writes the pictures.
"""
import argparse
import os
import time

import numpy as np

from vjpnet.data import load_digits
from vjpnet.layer_utils import select_kernels
from vjpnet.models import ThreeLayerConvNet
from vjpnet.solver import Solver

from plotting import save_image, save_training_curves


def filter_grid(weights, padding=1):
    """Tile filters (F, C, HH, WW) — first channel, each scaled to [0, 1] — into one image."""
    F, _, HH, WW = weights.shape
    columns = int(np.ceil(np.sqrt(F)))
    rows = int(np.ceil(F / columns))
    grid = np.ones((rows * (HH + padding) + padding, columns * (WW + padding) + padding))
    for index in range(F):
        tile = weights[index, 0]
        tile = (tile - tile.min()) / (tile.max() - tile.min() + 1e-12)
        r, c = divmod(index, columns)
        top, left = padding + r * (HH + padding), padding + c * (WW + padding)
        grid[top:top + HH, left:left + WW] = tile
    return grid


def save_figures(model, solver, out):
    paths = [os.path.join(out, "convnet_filters.png"), os.path.join(out, "convnet_curves.png")]
    save_image(filter_grid(model.params["W1"]), paths[0], "First-layer filters")
    save_training_curves(solver, paths[1])
    return paths


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="train for one epoch only")
    parser.add_argument("--out", default="vjpnet_out",
                        help="folder for the PNGs (default: %(default)s)")
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel training on the ranks of an MPI job (run under "
                             "mpiexec -n N)")
    args = parser.parse_args()

    data = load_digits(flatten=False, dtype=np.float32)
    model = ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=16, filter_size=3,
                              hidden_dim=100, num_classes=10, weight_scale=0.1, reg=1e-3)
    settings = dict(update_rule="adam", optim_config={"learning_rate": 2e-3},
                    num_epochs=1 if args.quick else 10, batch_size=50, print_every=50,
                    num_train_samples=None)
    if args.distributed:
        from vjpnet.distributed import DistributedSolver
        solver = DistributedSolver(model, data, **settings)
        rank, ranks = solver.rank, solver.size
    else:
        solver = Solver(model, data, **settings)
        rank, ranks = 0, 1
    say = print if rank == 0 else (lambda *args, **kwargs: None)
    say(f"digits: X_train {data['X_train'].shape}; conv/pool kernels: {select_kernels().name}"
        + (f"; {ranks} ranks, {solver.threads} BLAS thread(s) each" if args.distributed
           else ""))
    start = time.perf_counter()
    solver.train()
    seconds = time.perf_counter() - start
    say(f"trained {solver.num_epochs} epochs in {seconds:.1f} s "
        f"({seconds / max(solver.num_epochs, 1):.2f} s/epoch)")
    for split in ("train", "val", "test"):
        accuracy = solver.check_accuracy(data[f"X_{split}"], data[f"y_{split}"])
        say(f"   {split} accuracy: {accuracy:.3f}")
    if rank == 0:
        os.makedirs(args.out, exist_ok=True)
        for path in save_figures(model, solver, args.out):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
