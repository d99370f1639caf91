"""NUTS on sparse overfitted mixtures: time, sampler geometry, filled count.

Data with a known number of clusters (``true_k`` unit-scale 2-D clusters on
a circle of radius 4, N = 500 by default, the test suite's case) fitted with
``--k`` components at the sparse concentration
(``stanmix.selection.SPARSE_CONCENTRATION``), means unordered (relabelled
after sampling) or ordered along the anchor. For each case it prints the
whole ``fit``'s wall time, the mean NUTS tree depth and final step size,
divergences, the posterior of the number of filled components, the mean
number of observations in the surplus components, and the largest R-hat
and smallest bulk ESS over the weights of the filled components.

    python bench/sparse_speed.py                       # true K = 3, 4; K = 6
    python bench/sparse_speed.py --true-k 3 --ordered  # means ordered
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np

import stanmix as sm
from stanmix.selection import SPARSE_CONCENTRATION


def clusters(true_k: int, n: int, seed: int):
    angle = 2 * np.pi * np.arange(true_k) / true_k
    means = 4.0 * np.c_[np.cos(angle), np.sin(angle)]
    return sm.datasets.mixture_sample(
        np.full(true_k, 1 / true_k), means, 1.0, n, seed=seed, columns=["x", "y"]
    ).X


def one(true_k: int, args: argparse.Namespace) -> dict:
    X = clusters(true_k, args.n, args.seed)
    model = sm.Mixture(
        args.k, prior_concentration=args.concentration, ordered=args.ordered
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sm.ConvergenceWarning)
        model.fit(
            X,
            seed=args.seed,
            chains=args.chains,
            warmup=args.warmup,
            draws=args.draws,
            show_progress=False,
        )
    wall = time.perf_counter() - start
    filled = sm.filled_components(model, seed=args.seed)
    stats = model.idata_.sample_stats
    occupancy = filled.occupancy.sort_values("mean size")
    kept = occupancy.index[args.k - true_k :]
    table = model.convergence_.table
    weights = table.loc[[f"w[{j}]" for j in kept]]
    return {
        "true_k": true_k,
        "seconds": wall,
        "metric": model.metric_,
        "tree_depth": float(stats["tree_depth"].mean()),
        "step_size": float(stats["step_size"].isel(draw=-1).mean()),
        "divergences": int(stats["diverging"].sum()),
        "mode": filled.mode,
        "p_mode": float(filled.distribution[filled.mode]),
        "surplus_size": float(occupancy["mean size"].iloc[: args.k - true_k].sum()),
        "rhat_w": float(weights["r_hat"].max()),
        "ess_w": float(weights["ess_bulk"].min()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--true-k", default="3,4", help="clusters in the data")
    parser.add_argument("--k", type=int, default=6, help="components fitted")
    parser.add_argument("--n", type=int, default=500, help="rows")
    parser.add_argument("--concentration", type=float, default=SPARSE_CONCENTRATION)
    parser.add_argument("--ordered", action="store_true", help="order the means")
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(
        f"K = {args.k}, concentration {args.concentration}, N = {args.n}, "
        f"{'ordered' if args.ordered else 'unordered'} means, NUTS {args.chains} "
        f"chains x ({args.warmup} + {args.draws}), stanli, {os.cpu_count()} cores"
    )
    print(
        "true K | seconds | metric  | tree depth | step size | div | mode "
        "(prob) | surplus rows | R-hat w | ESS w"
    )
    for true_k in (int(v) for v in args.true_k.split(",")):
        r = one(true_k, args)
        print(
            f"{r['true_k']:6d} | {r['seconds']:7.1f} | {r['metric']:7s} | "
            f"{r['tree_depth']:10.2f} | {r['step_size']:9.4f} | "
            f"{r['divergences']:3d} | {r['mode']:4d} ({r['p_mode']:.2f}) | "
            f"{r['surplus_size']:12.3f} | {r['rhat_w']:7.3f} | {r['ess_w']:5.0f}"
        )


if __name__ == "__main__":
    main()
