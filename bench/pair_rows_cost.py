"""What rows censored in two columns beside observed cells cost the
optimizer and ADVI under full covariance on the embedded engine.

For ``method="optimize"`` and ``"variational"`` ``full_cov.stan``
integrates such a row's two censored cells under each component on every
gradient (``integrate_pairs = 1``); NUTS keeps them as latent values. This
builds the program for the optimizer's data (six columns, four
components, 20% of two columns below a detection limit, 5% of cells
missing) at each size, with the pairs integrated and with latent values,
and prints the rows that have such a pair, the model's build time and the
memory it took, and the time of one gradient at the program's start. With
``--interval`` those cells are interval-censored instead (between the limit
and one unit below it), which the program integrates by its quadrature
where a left-censored pair takes a closed form.
Each size and setting runs in its own process, one at a time, so that
peak memory is that run's. With ``--fit`` it also times the whole
``fit(method="optimize")`` (four starts and the confirming restart) and
its peak memory, beside the same fit of the data before the limits were
applied.

    python bench/pair_rows_cost.py --rows 1000,2000
    python bench/pair_rows_cost.py --rows 1000,2000 --fit
    python bench/pair_rows_cost.py --rows 1000,2000 --interval
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import pandas as pd

K = 4
D = 6


def flow_like(n: int, seed: int = 0, censor: bool = True) -> tuple[pd.DataFrame, dict]:
    """Six correlated populations in D columns, the lowest 20% of columns
    c3 and c5 at their detection limit (unless ``censor`` is False: the
    same draws without limits), 5% of all cells missing."""
    rng = np.random.default_rng(seed)
    w = np.array([0.35, 0.2, 0.15, 0.12, 0.1, 0.08])
    centres = rng.normal(5, 2.5, size=(w.size, D))
    z = rng.choice(w.size, size=n, p=w)
    X = np.empty((n, D))
    for j in range(w.size):
        rows = np.flatnonzero(z == j)
        mix = rng.normal(0, 0.35, (D, D)) + np.diag(rng.uniform(0.5, 1.0, D))
        X[rows] = centres[j] + rng.standard_normal((rows.size, D)) @ mix.T
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(D)])
    limits = {}
    for name in ("c3", "c5") if censor else ():
        limits[name] = float(np.quantile(frame[name], 0.2))
        frame.loc[frame[name] <= limits[name], name] = limits[name]
    return frame.mask(rng.random(frame.shape) < 0.05), limits


def censoring(frame: pd.DataFrame, limits: dict, interval: bool) -> dict:
    """``fit``'s censoring arguments for the cells at each limit: left-censored,
    or (``interval``) between the limit and one unit below it."""
    if not interval:
        return {"lower_limit": limits}
    low = pd.DataFrame(np.nan, index=frame.index, columns=frame.columns)
    high = low.copy()
    for name, limit in limits.items():
        at = frame[name] == limit
        low.loc[at, name], high.loc[at, name] = limit - 1.0, limit
    return {"interval": (low, high)}


def one(n: int, pairs: int, interval: bool = False) -> dict:
    import stanmix as sm
    from stanmix.engines import get_engine
    from stanmix.engines._stanli import _jsonable

    frame, limits = flow_like(n)
    model = sm.Mixture(K, covariance="full", engine="stanli")
    given = model.stan_input(frame, seed=1, **censoring(frame, limits, interval))
    data = {**given.data, "integrate_pairs": pairs}
    init = dict(given.init)
    if pairs:
        init["y_latent"] = []  # no latent values: the pairs are integrated
    engine = get_engine("stanli")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    program = engine._model(given.program, data)
    build = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    point = program.unconstrain(_jsonable(init))
    program.log_prob_grad(point)
    start, reps = time.perf_counter(), 0
    while time.perf_counter() - start < 3.0:
        program.log_prob_grad(point)
        reps += 1
    gradient = (time.perf_counter() - start) / reps
    censored = np.zeros(frame.shape, dtype=bool)
    for name, limit in limits.items():
        censored[:, frame.columns.get_loc(name)] = frame[name].to_numpy() == limit
    observed = frame.notna().to_numpy() & ~censored
    pair_rows = int(((censored.sum(1) == 2) & observed.any(1)).sum())
    return {
        "rows": n,
        "integrate_pairs": pairs,
        "pair_rows": pair_rows,
        "build_s": round(build, 1),
        "build_mb": round(after - before),
        "gradient_ms": round(1e3 * gradient, 2),
    }


def fit(n: int, censored: int, interval: bool = False) -> dict:
    import warnings

    import stanmix as sm

    frame, limits = flow_like(n, censor=bool(censored))
    given = censoring(frame, limits, interval) if censored else {}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sm.Mixture(K, covariance="full", engine="stanli").fit(
            frame, method="optimize", seed=1, **given
        )
    return {
        "fit_s": round(time.perf_counter() - start, 1),
        "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000,2000")
    parser.add_argument("--fit", action="store_true", help="time whole fits too")
    parser.add_argument(
        "--interval", action="store_true", help="interval-censored cells, not left"
    )
    parser.add_argument("--one", nargs=3, type=int, help=argparse.SUPPRESS)
    parser.add_argument("--one-fit", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(*args.one)))
        return
    if args.one_fit:
        print(json.dumps(fit(*args.one_fit)))
        return
    kind = int(args.interval)
    cells = "interval" if args.interval else "left"
    print(f"censored cells: {cells}\n")
    print("| rows | pairs | rows with a pair | build s | build MB | gradient ms |")
    print("|---|---|---|---|---|---|")
    for n in (int(v) for v in args.rows.split(",")):
        for pairs in (0, 1):
            r = _in_own_process("--one", n, pairs, kind)
            how = "integrated" if pairs else "latent"
            print(
                f"| {n:,} | {how} | {r['pair_rows']} | {r['build_s']} | "
                f"{r['build_mb']} | {r['gradient_ms']} |",
                flush=True,
            )
    if not args.fit:
        return
    print("\n| rows | limits | fit s | peak MB |\n|---|---|---|---|")
    for n in (int(v) for v in args.rows.split(",")):
        for censored in (0, 1):
            r = _in_own_process("--one-fit", n, censored, kind)
            how = "applied" if censored else "none"
            print(f"| {n:,} | {how} | {r['fit_s']} | {r['peak_mb']} |", flush=True)


def _in_own_process(flag: str, *settings: int) -> dict:
    """This script's ``flag`` run with ``settings`` in a process of its own
    (its peak memory its own), read back from its last line."""
    done = subprocess.run(
        [sys.executable, __file__, flag, *map(str, settings)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
