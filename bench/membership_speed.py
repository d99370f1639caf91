"""Speed and peak memory of stanmix.likelihood.membership_summary.

Builds synthetic posterior draws and data of the target size (4000 draws x
10,000 observations x 5 components, D = 2), times ``membership_summary``
(best of 3) and measures peak memory, for a fully observed table and for
tables with missing and left-censored cells. Each case runs in a fresh
subprocess, so its peak resident set size (``ru_maxrss``) belongs to that
case alone: it includes the interpreter, numpy/scipy and the inputs. The
peak of memory allocated during the call itself is taken with tracemalloc
in a separate, untimed call.

Run from the repository root:

    python bench/membership_speed.py            # all cases
    python bench/membership_speed.py --draws 1000 --obs 2000   # smaller

Targets (fully observed case): under 3 s and under 1 GiB peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

TARGET_SECONDS = 3.0
TARGET_BYTES = 2**30

CASES = {
    "observed": "fully observed",
    "missing": "10% missing",
    "left": "30% left-censored, one limit per column",
    "missing+left": "10% missing + 30% left-censored, one limit per column",
    "missing+left-distinct": "10% missing + 30% left-censored, own limit per cell",
}


def build(case: str, n_draws: int, n_obs: int, n_comp: int, n_dims: int, seed: int):
    """Synthetic data and posterior draws around a known mixture."""
    from stanmix.cells import LEFT, MISSING, OBSERVED, CellTable

    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 2.5, (n_comp, n_dims))
    spread = np.exp(rng.normal(0.0, 0.2, (n_comp, n_dims)))
    weights_true = rng.dirichlet(np.full(n_comp, 5.0))
    label = rng.choice(n_comp, size=n_obs, p=weights_true)
    values = centres[label] + spread[label] * rng.normal(size=(n_obs, n_dims))

    kind = np.full(values.shape, OBSERVED, np.int8)
    upper = np.full(values.shape, np.nan)
    lower = np.full(values.shape, np.nan)
    if "missing" in case:
        kind[rng.random(values.shape) < 0.10] = MISSING
    if "left" in case:
        present = kind == OBSERVED
        share = 0.30 / present.mean()
        for d in range(n_dims):
            limit = np.quantile(values[present[:, d], d], share)
            below = present[:, d] & (values[:, d] < limit)
            kind[below, d] = LEFT
            if case.endswith("distinct"):
                upper[below, d] = values[below, d] + rng.uniform(0, 0.5, below.sum())
            else:
                upper[below, d] = limit
    values = np.where(kind == OBSERVED, values, np.nan)
    cells = CellTable(values, kind, lower, upper)

    means = centres + rng.normal(0.0, 0.05, (n_draws, n_comp, n_dims))
    scales = spread * np.exp(rng.normal(0.0, 0.03, (n_draws, n_comp, n_dims)))
    weights = rng.dirichlet(weights_true * 2000.0, n_draws)
    return cells, weights, means, scales


def run_case(args) -> dict:
    """Body of one subprocess: time the call, then trace its allocations."""
    from stanmix.cells import LEFT
    from stanmix.families import get_family
    from stanmix.likelihood import membership_summary

    cells, weights, means, scales = build(
        args.case, args.draws, args.obs, args.components, args.dims, args.seed
    )
    normal = get_family("normal")
    draws = {"w": weights, "mu": means, "sigma": scales}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    times, cpu = [], []
    for _ in range(args.repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        summary = membership_summary(normal, cells, draws)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    tracemalloc.start()
    membership_summary(normal, cells, draws)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    left = cells.kind == LEFT
    return {
        "case": args.case,
        "best": min(times),
        "times": times,
        "cpu_of_best": cpu[int(np.argmin(times))],
        "rss_before_call": rss_before,
        "rss_peak": rss_peak,
        "traced_peak": traced_peak,
        "censored_share": float(left.mean()),
        "distinct_limits": int(np.unique(cells.upper[left]).size),
        "missing_share": float(np.isnan(cells.values).mean() - left.mean()),
        "mean_sum_check": float(np.abs(summary.mean.sum(axis=1) - 1).max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=4000)
    parser.add_argument("--obs", type=int, default=10_000)
    parser.add_argument("--components", type=int, default=5)
    parser.add_argument("--dims", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--case", choices=sorted(CASES), help="run one case only")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.json:
        json.dump(run_case(args), sys.stdout)
        return

    cases = [args.case] if args.case else list(CASES)
    shared = [
        f"--draws={args.draws}",
        f"--obs={args.obs}",
        f"--components={args.components}",
        f"--dims={args.dims}",
        f"--repeats={args.repeats}",
        f"--seed={args.seed}",
    ]
    print(
        f"membership_summary: {args.draws} draws x {args.obs} observations x "
        f"{args.components} components, D = {args.dims}, hdi_prob = 0.94"
    )
    print(
        f"cores usable: {len(os.sched_getaffinity(0))}, load average before: "
        f"{os.getloadavg()[0]:.2f} (1 min)"
    )
    print(
        f"targets: time < {TARGET_SECONDS:.0f} s, peak memory < "
        f"{TARGET_BYTES / 2**20:.0f} MiB\n"
    )
    header = (
        f"{'case':<54} {'best of 3 s':>11} {'CPU s':>6} {'peak RSS MiB':>13} "
        f"{'before MiB':>11} {'call MiB':>9} {'target':>7}"
    )
    print(header)
    print("-" * len(header))
    for case in cases:
        proc = subprocess.run(
            [sys.executable, __file__, "--json", f"--case={case}", *shared],
            check=True,
            capture_output=True,
            text=True,
        )
        res = json.loads(proc.stdout)
        ok = res["best"] < TARGET_SECONDS and res["rss_peak"] < TARGET_BYTES
        print(
            f"{CASES[case]:<54} {res['best']:>11.2f} {res['cpu_of_best']:>6.2f} "
            f"{res['rss_peak'] / 2**20:>13.0f} "
            f"{res['rss_before_call'] / 2**20:>11.0f} "
            f"{res['traced_peak'] / 2**20:>9.1f} "
            f"{'met' if ok else 'MISSED':>7}"
        )
    print(
        "\nbest of 3 s: wall time; CPU s: CPU time of that call over all threads "
        "(wall time\nrises above CPU s / cores when other processes load the "
        "machine).\npeak RSS: whole subprocess (interpreter, libraries, inputs, "
        "calls); before: its peak\nbefore the first call; call MiB: peak "
        "allocated during one call (tracemalloc)."
    )


if __name__ == "__main__":
    main()
