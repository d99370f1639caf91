"""NUTS wall time of each covariance structure on the same correlated data.

Three correlated clusters in three columns (``stanmix.datasets.correlated``,
N = 1000 by default), fitted with every covariance structure (and, with
``--families``, Student-t components too): the whole ``fit`` (MAP starts,
NUTS, relabelling, InferenceData) and the sampler alone, max R-hat, min
bulk ESS, and the time relative to the diagonal model. Each fit runs in its
own process so that timings do not share caches.

    python bench/family_speed.py                    # N = 1000, D = 3, K = 3
    python bench/family_speed.py --n 300 --draws 300
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time


def one(args: argparse.Namespace, family: str, covariance: str) -> dict:
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    import stanmix as sm

    data = sm.datasets.correlated(args.n, seed=args.seed, dims=args.dims)
    engine = sm.get_engine("stanli")
    timings: dict[str, float] = {}
    plain = engine.sample

    def timed(*a, **k):
        begin = time.perf_counter()
        try:
            return plain(*a, **k)
        finally:
            timings["sampler"] = time.perf_counter() - begin

    engine.sample = timed
    model = sm.Mixture(3, family=family, covariance=covariance, engine=engine)
    start = time.perf_counter()
    model.fit(
        data.X,
        seed=args.seed,
        warmup=args.draws,
        draws=args.draws,
        show_progress=False,
        log_likelihood=False,
    )
    wall = time.perf_counter() - start
    summary = model.summary()
    stats = model.idata_.sample_stats
    return {
        "family": family,
        "covariance": covariance,
        "fit_seconds": wall,
        "sampler_seconds": timings.get("sampler", float("nan")),
        "max_rhat": float(summary["r_hat"].max()),
        "min_ess_bulk": float(summary["ess_bulk"].min()),
        "divergences": int(stats["diverging"].sum()),
        "steps_per_draw": float(stats["n_steps"].mean()),
        "metric": model.metric_,
        "ari": float(adjusted_rand_score(data.labels, model.predict(data.X))),
        "truth_abs_corr": float(np.abs(data.correlations[:, 0, 1]).mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--dims", type=int, default=3, choices=[2, 3])
    parser.add_argument("--draws", type=int, default=1000, help="warmup and draws")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--families", action="store_true", help="also Student-t components"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        family, covariance = args.one.split(",")
        print(json.dumps(one(args, family, covariance)))
        return

    cases = [("normal", c) for c in ("diag", "spherical", "full", "tied")]
    if args.families:
        cases += [("student_t", c) for c in ("diag", "full")]
    rows = []
    for family, covariance in cases:
        cmd = [
            sys.executable,
            __file__,
            "--one",
            f"{family},{covariance}",
            *("--n", str(args.n), "--dims", str(args.dims)),
            *("--draws", str(args.draws), "--seed", str(args.seed)),
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"done {family} {covariance}", file=sys.stderr)
    base = next(r for r in rows if r["covariance"] == "diag")["fit_seconds"]
    print(
        f"correlated clusters: N = {args.n}, D = {args.dims}, K = 3, "
        f"4 chains x {args.draws} warmup + {args.draws} draws, stanli, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    head = (
        f"{'family':10} {'covariance':10} {'fit s':>7} {'NUTS s':>7} "
        f"{'x diag':>6} {'R-hat':>6} {'min ESS':>8} {'div':>4} "
        f"{'steps':>6} {'metric':>7} {'ARI':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['family']:10} {r['covariance']:10} {r['fit_seconds']:7.1f} "
            f"{r['sampler_seconds']:7.1f} {r['fit_seconds'] / base:6.2f} "
            f"{r['max_rhat']:6.3f} {r['min_ess_bulk']:8.0f} {r['divergences']:4d} "
            f"{r['steps_per_draw']:6.1f} {r['metric']:>7} {r['ari']:6.3f}"
        )


if __name__ == "__main__":
    main()
