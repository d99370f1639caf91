"""Build, MAP and NUTS wall time for the five-blob case, per engine.

The case: 1000 points from five well-separated 2-D blobs
(``stanmix.datasets.blobs``), ``DiagonalMixture(5)`` with its defaults
(standardized, anchor chosen from k-means, NUTS started at the MAP,
adapt_delta 0.95, metric "auto", relabelling on; ``--metric`` overrides the
metric, and the table shows the one used and the leapfrog steps per
draw). Each engine is measured in its own fresh process so the build is a
real first build:

- build: preparing the program (stanli: stanc3 to its MIR; CmdStan: stanc +
  C++ compile into an empty cache folder);
- MAP: ``fit(method="optimize")``, 4 k-means starts, L-BFGS each;
- NUTS: ``fit(method="sample")``, 4 chains x 1000 warmup + 1000 draws; the
  time inside the engine's sampler and the whole fit (MAP start, sampling,
  relabelling, membership) are both reported, with the convergence figures
  that make the time meaningful.

Run from the repository root:

    python bench/fit_speed.py                 # every installed engine
    python bench/fit_speed.py --engine stanli --draws 500
    python bench/fit_speed.py --metric diag_e     # the diagonal metric, for comparison

Targets on 2 cores: MAP under 2 s, NUTS under 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

TARGET_MAP = 2.0
TARGET_NUTS = 60.0


def measure(engine_name: str, n: int, draws: int, seed: int, metric: str) -> dict:
    """Run in a fresh process: build, MAP, NUTS on one engine."""
    import numpy as np
    from sklearn.metrics import adjusted_rand_score

    import stanmix as sm
    from stanmix import datasets
    from stanmix.programs import program_path

    data = datasets.blobs(n, seed=seed)
    engine = sm.get_engine(engine_name)
    start = time.perf_counter()
    engine.compile(program_path("normal_diag"))
    build = time.perf_counter() - start

    start = time.perf_counter()
    model = sm.DiagonalMixture(5, engine=engine_name).fit(
        data.X, method="optimize", seed=seed
    )
    map_time = time.perf_counter() - start
    map_ari = adjusted_rand_score(data.labels, model.predict(data.X))

    sampling = []
    original = type(engine).sample

    def timed(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            sampling.append(time.perf_counter() - t0)

    type(engine).sample = timed
    try:
        start = time.perf_counter()
        model = sm.DiagonalMixture(5, engine=engine_name).fit(
            data.X, seed=seed, chains=4, draws=draws, warmup=draws, metric=metric
        )
        nuts_total = time.perf_counter() - start
    finally:
        type(engine).sample = original
    summary = model.summary()
    stats = model.idata_.sample_stats
    return {
        "engine": engine_name,
        "version": model.engine_version_,
        "n": n,
        "draws": draws,
        "build_s": build,
        "map_s": map_time,
        "map_ari": float(map_ari),
        "nuts_sampling_s": sampling[0],
        "nuts_total_s": nuts_total,
        "metric": model.metric_,
        "leapfrog_per_draw": float(np.asarray(stats["n_steps"]).mean()),
        "max_rhat": float(summary["r_hat"].max()),
        "min_ess_bulk": float(summary["ess_bulk"].min()),
        "divergences": int(np.asarray(stats["diverging"]).sum()),
        "nuts_ari": float(adjusted_rand_score(data.labels, model.predict(data.X))),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=["stanli", "cmdstan"], action="append")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--metric", default="auto", choices=["auto", "dense_e", "diag_e", "unit_e"]
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        measured = measure(args.child, args.n, args.draws, args.seed, args.metric)
        print(json.dumps(measured))
        return 0

    from stanmix.engines import cmdstan_available

    engines = args.engine or ["stanli"] + (["cmdstan"] if cmdstan_available() else [])
    load = os.getloadavg()[0]
    rows = []
    for name in engines:
        env = dict(os.environ)
        with tempfile.TemporaryDirectory() as cache:
            env["STANMIX_CACHE"] = cache  # a real first CmdStan compile
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    name,
                    "--n",
                    str(args.n),
                    "--draws",
                    str(args.draws),
                    "--seed",
                    str(args.seed),
                    "--metric",
                    args.metric,
                ],
                env=env,
                capture_output=True,
                text=True,
            )
        if done.returncode != 0:
            print(f"{name}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            return 1
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))

    print(f"Five blobs, N = {args.n}, K = 5, D = 2; {os.cpu_count()} cores")
    print(f"load average (1 min) before the runs: {load:.2f}")
    head = (
        f"{'engine':<8} {'build s':>8} {'MAP s':>7} {'MAP ARI':>8} "
        f"{'NUTS s':>7} {'fit s':>7} {'R-hat':>6} {'ESS':>6} {'div':>4} {'ARI':>5} "
        f"{'metric':>8} {'steps':>6}"
    )
    print(head)
    for r in rows:
        print(
            f"{r['engine']:<8} {r['build_s']:8.2f} {r['map_s']:7.2f} "
            f"{r['map_ari']:8.3f} {r['nuts_sampling_s']:7.1f} "
            f"{r['nuts_total_s']:7.1f} {r['max_rhat']:6.3f} "
            f"{r['min_ess_bulk']:6.0f} {r['divergences']:4d} {r['nuts_ari']:5.3f} "
            f"{r['metric']:>8} {r['leapfrog_per_draw']:6.1f}"
        )
    print(
        f"targets: MAP < {TARGET_MAP:.0f} s, NUTS (4 x {args.draws}) < "
        f"{TARGET_NUTS:.0f} s"
    )
    for r in rows:
        ok_map = r["map_s"] < TARGET_MAP
        ok_nuts = r["nuts_total_s"] < TARGET_NUTS
        print(
            f"{r['engine']}: MAP {'met' if ok_map else 'MISSED'}, "
            f"NUTS {'met' if ok_nuts else 'MISSED'} "
            f"(engine {r['version']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
