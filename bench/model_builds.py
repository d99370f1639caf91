"""What stanli's per-data model build costs a fit, with and without reuse.

stanli compiles a model for its data; with many distinct detection limits
(one per row) that takes seconds for the Student-t program. A fit calls the
engine several times with the same data (the parameter count, each MAP
start, the Laplace metric, the sampler); the engine keeps the last
``MODELS_KEPT`` builds. This script fits a one-column Student-t mixture
with N rows, half left-censored each at its own limit, by the posterior
mode (four starts), once with the builds kept and once with each call
building anew, and prints the build count, the build seconds and the
fit's wall time.

Run from the repository root on an idle machine:

    python bench/model_builds.py
    python bench/model_builds.py --rows 2000 --family normal
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import stanmix as sm
from stanmix.engines import _stanli


def data(rows: int, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two groups, half the rows left-censored at a limit of their own."""
    rng = np.random.default_rng(seed)
    x = np.concatenate(
        [rng.normal(-2, 1, rows // 2), rng.normal(2, 1, rows - rows // 2)]
    )
    limit = x + rng.uniform(0.1, 1.0, rows)
    censored = rng.random(rows) < 0.5
    values = pd.DataFrame({"x": np.where(censored, limit, x)})
    limits = pd.DataFrame({"x": np.where(censored, limit, np.nan)})
    return values, limits


def run(rows: int, family: str, kept: int) -> dict:
    import stanli

    builds = {"count": 0, "seconds": 0.0}
    real = stanli.Model

    def counted(*args, **kwargs):
        start = time.perf_counter()
        model = real(*args, **kwargs)
        builds["count"] += 1
        builds["seconds"] += time.perf_counter() - start
        return model

    _stanli.MODELS_KEPT = kept
    stanli.Model = counted
    values, limits = data(rows)
    start = time.perf_counter()
    try:
        sm.Mixture(2, family=family, engine=_stanli.StanliEngine()).fit(
            values, lower_limit=limits, method="optimize", seed=1
        )
    finally:
        stanli.Model = real
    wall = time.perf_counter() - start
    return {
        "kept": kept,
        "builds": builds["count"],
        "build s": builds["seconds"],
        "fit s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument(
        "--family", default="student_t", choices=["normal", "student_t"]
    )
    args = parser.parse_args()
    print(f"{args.family}, {args.rows} rows, half censored at their own limits")
    print(f"{'kept':>5} {'builds':>7} {'build s':>8} {'fit s':>7}")
    for kept in (0, 4):
        row = run(args.rows, args.family, kept)
        print(
            f"{row['kept']:>5} {row['builds']:>7} {row['build s']:>8.1f} "
            f"{row['fit s']:>7.1f}"
        )


if __name__ == "__main__":
    main()
