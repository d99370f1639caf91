"""Fits of data with rows censored in two columns (full and tied covariance).

For replications of the validation's normal_full_censored and
normal_tied_censored programs (50 rows, x below -2 and y above 1.5), the
whole NUTS fit as the validation runs it (2 chains x (500 + 1000)), with
its step sizes, divergences, worst R-hat and the MAP's largest |correlation|.
Run it on two versions of the package (a worktree on ``PYTHONPATH``) to
compare them:

    python bench/pair_speed.py --reps 0,61,118 --json pair_speed.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sbc_programs import PROGRAMS, replication_seeds

SEED = 20240601


def fit_once(name: str, rep: int) -> dict:
    program = PROGRAMS[name]
    sim_seed, fit_seed = replication_seeds(SEED, program.seed_key, rep)
    sim = program.simulate(50, np.random.default_rng(sim_seed))
    model = program.estimator("stanli")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(
            sim.X,
            seed=fit_seed,
            chains=2,
            warmup=500,
            draws=1000,
            show_progress=False,
            log_likelihood=False,
            **sim.fit_kwargs,
        )
    seconds = time.perf_counter() - start
    stats = model.idata_.sample_stats
    corr = np.asarray(model.map_["corr"])[..., 0, 1]
    return {
        "program": name,
        "rep": rep,
        "seconds": round(seconds, 2),
        "step_size": np.round(stats["step_size"].values.mean(axis=1), 4).tolist(),
        "divergences": int(stats["diverging"].values.sum()),
        "max_rhat": round(float(model.convergence_.max_rhat), 3),
        "map_max_abs_corr": round(float(np.abs(corr).max()), 4),
        "latent_values": int(model.family_.n_latent(model.cells_)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", default="0,61,118")
    parser.add_argument(
        "--programs", default="normal_full_censored,normal_tied_censored"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    rows = []
    for name in args.programs.split(","):
        for rep in (int(r) for r in args.reps.split(",")):
            row = fit_once(name, rep)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
