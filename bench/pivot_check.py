"""The ordered means' pivot changes the sampler's chart, not the posterior.

Scenario (d) of bench/run.py (five blobs, every column left-censored at its
30% quantile; one component has 98% of its anchor values censored), fitted
by ``DiagonalMixture(5)`` twice on stanli:

* reference: the means in Stan's plain ``ordered`` chart (pivot 1, the
  chart before the pivot existed), with longer chains;
* pivot: stanmix's default, stepping from the component with the most
  observed anchor values at the MAP.

For every parameter (weights, means, scales, after relabelling) it prints
the difference of the two posterior means and of the two posterior sds in
units of their combined Monte Carlo standard error, and the time, steps and
divergences of each run. The posteriors agree when every |z| is within a
few units (50 figures: a max near 3 is what chance gives).

Run from the repository root on an idle machine:

    python bench/pivot_check.py
    python bench/pivot_check.py --reference-draws 1000 --draws 500
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LIMIT_Z = 4.0


def fit(draws: int, seed: int, pivot_one: bool):
    """The (d) fit with ``draws`` per chain; with ``pivot_one`` the means
    step from the lowest component, as Stan's ordered type does."""
    sys.path.insert(0, str(HERE))
    from scenarios import build

    import stanmix as sm
    import stanmix.estimator as estimator

    scenario = build("d")
    chosen = estimator.best_determined
    if pivot_one:
        estimator.best_determined = lambda cells, probs, column: 0
    try:
        model = sm.DiagonalMixture(5, engine="stanli")
        start = time.perf_counter()
        model.fit(
            scenario.X,
            lower_limit=scenario.lower_limit,
            seed=seed,
            draws=draws,
            log_likelihood=False,
            show_progress=False,
        )
        seconds = time.perf_counter() - start
    finally:
        estimator.best_determined = chosen
    return model, seconds


def compare(reference, candidate) -> list[dict]:
    """z of the difference in posterior mean and sd of every parameter."""
    import arviz as az
    import numpy as np

    rows = []
    for name in ("w", "mu", "sigma"):
        a = reference.idata_.posterior[name]
        b = candidate.idata_.posterior[name]
        stats = {}
        for label, post in (("ref", a), ("new", b)):
            data = az.convert_to_dataset(post.to_dataset(name=name))
            stats[label] = (
                post.mean(("chain", "draw")).values,
                post.std(("chain", "draw")).values,
                az.mcse(data, method="mean")[name].values,
                az.mcse(data, method="sd")[name].values,
            )
        (m0, s0, em0, es0), (m1, s1, em1, es1) = stats["ref"], stats["new"]
        z_mean = (m1 - m0) / np.sqrt(em0**2 + em1**2)
        z_sd = (s1 - s0) / np.sqrt(es0**2 + es1**2)
        for index in np.ndindex(m0.shape):
            rows.append(
                {
                    "parameter": f"{name}[{','.join(map(str, index))}]",
                    "mean_ref": float(m0[index]),
                    "mean_new": float(m1[index]),
                    "z_mean": float(z_mean[index]),
                    "sd_ref": float(s0[index]),
                    "sd_new": float(s1[index]),
                    "z_sd": float(z_sd[index]),
                }
            )
    return rows


def run_figures(model, seconds: float) -> dict:
    stats = model.idata_.sample_stats
    return {
        "seconds": round(seconds, 1),
        "mean_leapfrog_steps": float(stats["n_steps"].mean()),
        "divergences": int(stats["diverging"].sum()),
        "draws": int(stats.sizes["chain"] * stats.sizes["draw"]),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reference-draws", type=int, default=2000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--out", default=str(HERE / "pivot_check.json"))
    args = parser.parse_args(argv)

    reference, ref_seconds = fit(args.reference_draws, seed=11, pivot_one=True)
    candidate, new_seconds = fit(args.draws, seed=12, pivot_one=False)
    rows = compare(reference, candidate)
    runs = {
        "reference (pivot 1)": run_figures(reference, ref_seconds),
        "pivot (default)": run_figures(candidate, new_seconds),
    }
    print("| run | s | mean leapfrog steps | divergences | draws |")
    print("| --- | --- | --- | --- | --- |")
    for label, f in runs.items():
        print(
            f"| {label} | {f['seconds']} | {f['mean_leapfrog_steps']:.1f} | "
            f"{f['divergences']} | {f['draws']} |"
        )
    print()
    print("| parameter | mean ref | mean pivot | z | sd ref | sd pivot | z |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(
            f"| {r['parameter']} | {r['mean_ref']:.3f} | {r['mean_new']:.3f} | "
            f"{r['z_mean']:+.2f} | {r['sd_ref']:.3f} | {r['sd_new']:.3f} | "
            f"{r['z_sd']:+.2f} |"
        )
    worst = max(max(abs(r["z_mean"]), abs(r["z_sd"])) for r in rows)
    print(
        f"\nmax |z| over {2 * len(rows)} figures: {worst:.2f} "
        f"(within {LIMIT_Z}: {worst <= LIMIT_Z})"
    )
    out = Path(args.out)
    partial = out.with_suffix(".json.part")
    partial.write_text(
        json.dumps({"runs": runs, "rows": rows, "max_abs_z": worst}, indent=1)
    )
    partial.replace(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
