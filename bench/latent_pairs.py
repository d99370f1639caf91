"""NUTS on rows censored in two columns that also have an observed cell.

For NUTS, ``full_cov.stan`` integrates a row's two censored cells only
when the row has no observed cell; a row with one keeps its two censored
cells as bounded latent values. This fits data sets where that is a third of the
rows (two clusters of 150 rows, D = 3, correlation 0.8 between the two
censored columns, lower limits 0.5 in both) and prints per seed: the
share of such rows, the fit's time, max R-hat, divergences, the chains'
step sizes and the posterior mean correlation of the two columns per
component (the truth is 0.8), with the largest |correlation| of any draw:
a degenerate mode would show as correlations at +-1 and stalled chains.
With ``--method optimize`` or ``variational`` (for which the program
integrates those pairs instead) it prints the time, the means and the
correlations of the mode or of ADVI's approximation.

    python bench/latent_pairs.py --seeds 1,2,3 --json latent_pairs.json
    python bench/latent_pairs.py --seeds 1,2,3 --method optimize
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import stanmix as sm

LIMIT = 0.5
RHO = 0.8


def data(seed: int, n: int = 300) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    cov = np.array([[1, 0.3, 0.3], [0.3, 1, RHO], [0.3, RHO, 1]])
    z = np.r_[
        rng.multivariate_normal([0, 0, 0], cov, n // 2),
        rng.multivariate_normal([3, 2.5, 2.5], cov, n - n // 2),
    ]
    X = pd.DataFrame(z, columns=["a", "b", "c"])
    limits = {"b": LIMIT, "c": LIMIT}
    return X.clip(lower=pd.Series(limits).reindex(X.columns), axis=1), limits


def fit_once(seed: int, method: str = "sample") -> dict:
    X, limits = data(seed)
    both = float(((X["b"] <= LIMIT) & (X["c"] <= LIMIT)).mean())
    start = time.perf_counter()
    options = {"chains": 4} if method == "sample" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.Mixture(2, covariance="full", engine="stanli").fit(
            X,
            lower_limit=limits,
            method=method,
            seed=seed,
            show_progress=False,
            **options,
        )
    seconds = time.perf_counter() - start
    if method != "sample":
        # the mode, or ADVI's mean: the pairs are integrated, not latent
        return {
            "seed": seed,
            "method": method,
            "rows_censored_in_both": round(both, 3),
            "latent_values": int(model.family_.n_latent(model.cells_)),
            "seconds": round(seconds, 1),
            "means": np.round(model.means_, 3).tolist(),
            "corr_bc": np.round(model.correlations_[:, 1, 2], 3).tolist(),
        }
    stats = model.idata_.sample_stats
    corr = (
        model.idata_.posterior["corr"]
        .sel(pair="b:c")
        .transpose("chain", "draw", "component")
    )
    return {
        "seed": seed,
        "rows_censored_in_both": round(both, 3),
        "latent_values": int(model.family_.n_latent(model.cells_)),
        "seconds": round(seconds, 1),
        "max_rhat": round(float(model.convergence_.max_rhat), 3),
        "divergences": int(stats["diverging"].values.sum()),
        "step_size": np.round(stats["step_size"].values.mean(axis=1), 3).tolist(),
        "corr_bc_mean": np.round(corr.mean(("chain", "draw")).values, 3).tolist(),
        "corr_bc_max_abs": round(float(np.abs(corr).max()), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument(
        "--method", default="sample", choices=("sample", "optimize", "variational")
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        rows.append(fit_once(seed, args.method))
        print(json.dumps(rows[-1]), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
