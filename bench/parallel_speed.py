"""Wall time of a sweep over K, serially and in joblib worker processes.

The case: ``stanmix.datasets.blobs(n, seed=1)`` (five 2-D blobs), one
``DiagonalMixture(K, engine="stanli")`` NUTS fit for each K = 1..max_k,
with seeds from ``stanmix.parallel.spawn_seeds(1, max_k)``. The sweep runs
through ``stanmix.parallel.run_tasks`` twice: serially in this process, then
with ``--n-jobs`` worker processes (the time includes starting them and
each one's first build of the program, as on a user's first call). The
script checks that both runs gave bit-identical draws and prints the
speed-up.

Each fit runs its chains in parallel threads already, so on a small
machine the speed-up comes mostly from the parts of a fit that run on one
core (the MAP starts, relabelling, membership) and from fits of different
lengths overlapping.

Run from the repository root:

    python bench/parallel_speed.py                  # N = 1000, 1000 + 1000 a chain
    python bench/parallel_speed.py --n 300 --draws 200 --warmup 200    # quick
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

import stanmix as sm
from stanmix.parallel import run_tasks, spawn_seeds


def sweep_tasks(X, args) -> list:
    """One task per K: a fresh estimator's ``fit`` with its own seed."""
    seeds = spawn_seeds(args.seed, args.max_k)
    return [
        (
            sm.DiagonalMixture(k, engine="stanli").fit,
            (X,),
            {
                "method": "sample",
                "seed": seed,
                "chains": args.chains,
                "warmup": args.warmup,
                "draws": args.draws,
                "show_progress": False,
            },
        )
        for k, seed in zip(range(1, args.max_k + 1), seeds, strict=True)
    ]


def timed(X, args, n_jobs: int | None) -> tuple[float, list]:
    start = time.perf_counter()
    ks = list(range(1, args.max_k + 1))
    fits = run_tasks(sweep_tasks(X, args), n_jobs=n_jobs, keys=ks, label="K")
    return time.perf_counter() - start, fits


def identical(a, b) -> bool:
    return all(
        np.array_equal(x.idata_.posterior[v].values, y.idata_.posterior[v].values)
        for x, y in zip(a, b, strict=True)
        for v in x.idata_.posterior.data_vars
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="points (default 1000)")
    parser.add_argument("--draws", type=int, default=1000, help="draws per chain")
    parser.add_argument("--warmup", type=int, default=1000, help="warmup per chain")
    parser.add_argument("--chains", type=int, default=4, help="chains per fit")
    parser.add_argument("--max-k", type=int, default=6, help="K = 1..max-k")
    parser.add_argument("--n-jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--seed", type=int, default=1, help="base seed")
    args = parser.parse_args()
    # A K below or above the truth has several modes, and each fit says so.
    warnings.filterwarnings("ignore", ".*optimizer starts reached a different mode")

    X = sm.datasets.blobs(args.n, seed=1).X
    print(
        f"K = 1..{args.max_k} on five blobs, N = {args.n}, NUTS {args.chains} "
        f"chains x ({args.warmup} warmup + {args.draws} draws), stanli, "
        f"{os.cpu_count()} cores"
    )
    serial, serial_fits = timed(X, args, None)
    print(f"serial:                {serial:8.1f} s")
    parallel, parallel_fits = timed(X, args, args.n_jobs)
    print(f"joblib, {args.n_jobs} processes:   {parallel:8.1f} s")
    print(f"speed-up:              {serial / parallel:8.2f} x")
    same = identical(serial_fits, parallel_fits)
    print(f"identical draws:       {'yes' if same else 'NO':>8}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
