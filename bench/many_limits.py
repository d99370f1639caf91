"""What many distinct detection limits cost the diagonal programs (stanli).

Per-sample limits (a limit of quantification that moves with each sample's
dilution, say) give a table many distinct (column, limit) entries. This
script builds a K = 2 mixture's program for N rows of D = 2 columns, each
cell given one of L limits of its column at random (in random row order)
and a random 30% of those below their limit left-censored there, and
prints the share of censored cells, the model build's seconds, the
milliseconds per log-density gradient at a random point (the best of 5 runs
of 50 gradients) and the wall time of a MAP fit (four starts).

Run from the repository root on an idle machine:

    python bench/many_limits.py
    python bench/many_limits.py --family student_t --rows 5000 --limits 1,20,200
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import stanmix as sm
from stanmix.engines import get_engine
from stanmix.engines._stanli import _jsonable


def data(rows: int, limits: int, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two groups in two columns; each cell drawn one of ``limits`` limits
    of its column, and 30% of the cells below their limit censored there."""
    rng = np.random.default_rng(seed)
    centre = np.where(rng.random(rows) < 0.5, -2.0, 2.0)
    x = centre[:, None] + rng.normal(0, 1, (rows, 2))
    grid = np.sort(rng.uniform(-1.0, 1.0, (limits, 2)), axis=0)
    limit = grid[rng.integers(0, limits, (rows, 2)), [0, 1]]
    censored = (rng.random((rows, 2)) < 0.3) & (x < limit)
    values = pd.DataFrame(np.where(censored, limit, x), columns=["x", "y"])
    bounds = pd.DataFrame(np.where(censored, limit, np.nan), columns=["x", "y"])
    return values, bounds


def run(rows: int, limits: int, family: str) -> dict:
    import stanli

    values, bounds = data(rows, limits)
    model = sm.Mixture(2, family=family, engine="stanli")
    stan_input = model.stan_input(values, lower_limit=bounds, seed=1)
    engine = get_engine("stanli")
    mir = engine._program(stan_input.program)
    payload = _jsonable(stan_input.data)
    start = time.perf_counter()
    built = stanli.Model(mir=mir, data=payload)
    build = time.perf_counter() - start
    point = np.random.default_rng(0).normal(scale=0.3, size=built.n_unconstrained)
    built.log_prob_grad(point)
    best = min(_gradient_ms(built, point) for _ in range(5))
    start = time.perf_counter()
    model.fit(values, lower_limit=bounds, method="optimize", seed=1)
    fit = time.perf_counter() - start
    share = float(bounds.notna().to_numpy().mean())
    return {"censored": share, "build s": build, "gradient ms": best, "MAP fit s": fit}


def _gradient_ms(built, point) -> float:
    start = time.perf_counter()
    for _ in range(50):
        built.log_prob_grad(point)
    return (time.perf_counter() - start) / 50 * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--limits", default="1,4,20,200", help="L values, commas")
    parser.add_argument("--family", default="normal", choices=["normal", "student_t"])
    args = parser.parse_args()
    print(f"{args.family}, {args.rows} rows x 2 columns")
    print(
        f"{'limits/col':>10} {'censored':>9} {'build s':>8} {'gradient ms':>12} "
        f"{'MAP fit s':>10}"
    )
    for limits in (int(v) for v in args.limits.split(",")):
        row = run(args.rows, limits, args.family)
        print(
            f"{limits:>10} {row['censored']:>9.1%} {row['build s']:>8.2f} "
            f"{row['gradient ms']:>12.3f} "
            f"{row['MAP fit s']:>10.1f}"
        )


if __name__ == "__main__":
    main()
