"""Wall time of a sweep over K, serially and in joblib worker processes.

The case: ``stanmix.datasets.blobs(n, seed=1)`` (five 2-D blobs), one
``DiagonalMixture(K, engine="stanli")`` NUTS fit for each K = 1..max_k,
with seeds from ``stanmix.parallel.spawn_seeds(1, max_k)``. The sweep runs
through ``stanmix.parallel.run_tasks`` twice: serially in this process, then
with ``--n-jobs`` worker processes (the time includes starting them and
each one's first build of the program, as on a user's first call). The
script checks that both runs gave bit-identical draws and prints the
speed-up.

Each fit runs its chains in parallel threads already, so with as many
chains as cores the workers only overlap the parts of a fit that run on one
core (the MAP starts, relabelling, membership). With fewer chains than
cores, the speed-up is bounded by the longest fit: in a sweep, the K above
the truth usually takes most of the time. ``--datasets M`` times the other
use instead, ``fit_many``'s: M data sets of equal size (``blobs`` with
seeds 1..M), one ``DiagonalMixture(5)`` fit each.

Run from the repository root:

    python bench/parallel_speed.py                  # N = 1000, 1000 + 1000 a chain
    python bench/parallel_speed.py --chains 1       # one chain a fit
    python bench/parallel_speed.py --chains 1 --datasets 6
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


def sweep_tasks(args) -> list:
    """One task per K (or per data set with ``--datasets``): a fresh
    estimator's ``fit`` with its own seed."""
    if args.datasets:
        cases = [
            (5, sm.datasets.blobs(args.n, seed=i).X)
            for i in range(1, args.datasets + 1)
        ]
    else:
        X = sm.datasets.blobs(args.n, seed=1).X
        cases = [(k, X) for k in range(1, args.max_k + 1)]
    seeds = spawn_seeds(args.seed, len(cases))
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
        for (k, X), seed in zip(cases, seeds, strict=True)
    ]


def timed(args, n_jobs: int | None) -> tuple[float, list]:
    start = time.perf_counter()
    tasks = sweep_tasks(args)
    keys = list(range(1, len(tasks) + 1))
    label = "data set" if args.datasets else "K"
    fits = run_tasks(tasks, n_jobs=n_jobs, keys=keys, label=label)
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
    parser.add_argument(
        "--datasets", type=int, default=0, help="fit M data sets with K = 5 instead"
    )
    args = parser.parse_args()
    # A K below or above the truth has several modes, and each fit says so.
    warnings.filterwarnings("ignore", ".*optimizer starts reached a different mode")

    case = (
        f"K = 5 on {args.datasets} data sets of five blobs"
        if args.datasets
        else f"K = 1..{args.max_k} on five blobs"
    )
    print(
        f"{case}, N = {args.n}, NUTS {args.chains} chains x ({args.warmup} "
        f"warmup + {args.draws} draws), stanli, {os.cpu_count()} cores"
    )
    serial, serial_fits = timed(args, None)
    print(f"serial:                {serial:8.1f} s", flush=True)
    parallel, parallel_fits = timed(args, args.n_jobs)
    print(f"joblib, {args.n_jobs} processes:   {parallel:8.1f} s")
    print(f"speed-up:              {serial / parallel:8.2f} x")
    same = identical(serial_fits, parallel_fits)
    print(f"identical draws:       {'yes' if same else 'NO':>8}")
    if not same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
