"""Within-chain threads: one NUTS chain on scenario (c) with 1 and 2 threads.

Scenario (c) of bench/run.py (K = 5, D = 5, N = 10,000), fitted by
``DiagonalMixture(5)`` with its defaults except ``chains=1`` and
``threads_per_chain`` 1 or 2, on each installed engine (CmdStan only when
cmdstanpy finds it, e.g. through $CMDSTAN). Each run is its own process, so
one engine's threads cannot disturb another's. Speed is the sampler's time
per iteration (warmup and draws); the two runs take different trajectories
once their sums round differently, so the mean leapfrog steps per draw are
printed beside it to show the trajectories are alike in length.

Run from the repository root on an idle machine:

    python bench/threads_speed.py
    python bench/threads_speed.py --engines stanli --draws 500
    python bench/threads_speed.py --engines stanli --repeat 5

Runs on one machine differ by up to 20% in time; ``--repeat`` alternates
the 1- and 2-thread runs and compares their medians. stanli's chain reports
its own sampling clock, so its time per draw (without the program's
construction and the warmup) is printed too.

Target (2 cores): 2 threads at least 1.6x faster per iteration than 1.

``--gradient-rows 10000,20000,40000`` prints, instead, stanli's time per log
density gradient of the same program and data (the rows of (c) repeated to
each count) on 1 and 2 threads: how the embedded engine's reduction scales
with the number of rows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET_SPEEDUP = 1.6


def one_run(engine: str, threads: int, draws: int, seed: int) -> dict:
    """Fit (c) with one chain on ``threads`` threads; the figures."""
    sys.path.insert(0, str(HERE))
    import numpy as np
    from peers import _chain_times
    from scenarios import build

    import stanmix as sm
    from stanmix.engines import get_engine

    scenario = build("c")
    backend = get_engine(engine)
    backend.compile(sm.programs.program_path("normal_diag"), threads=threads > 1)
    timing = {}
    inner = backend.sample

    def timed_sample(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            timing["sampler"] = time.perf_counter() - start

    backend.sample = timed_sample
    model = sm.DiagonalMixture(scenario.n_components, engine=backend)
    # stanli's chain reports its own warmup and sampling clocks
    clocks = _chain_times() if engine == "stanli" else contextlib.nullcontext([])
    with clocks as reports:
        start = time.perf_counter()
        model.fit(
            scenario.X,
            seed=seed,
            chains=1,
            draws=draws,
            threads_per_chain=threads,
            show_progress=False,
        )
        wall = time.perf_counter() - start
    stats = model.idata_.sample_stats
    steps = int(stats["n_steps"].sum())
    warmup = int(model.engine_result_info_["warmup"])
    return {
        "engine": engine,
        "threads": model.threads_per_chain_,
        "wall_s": wall,
        "sampler_s": timing["sampler"],
        "draws": draws,
        "warmup": warmup,
        "sampling_steps": steps,
        "ms_per_iteration": 1e3 * timing["sampler"] / (draws + warmup),
        "chain_warmup_s": sum(r.warmup_seconds for r in reports) if reports else None,
        "chain_sampling_s": (
            sum(r.sampling_seconds for r in reports) if reports else None
        ),
        "ms_per_draw": (
            1e3 * sum(r.sampling_seconds for r in reports) / draws if reports else None
        ),
        "min_bulk_ess": float(model.convergence_.min_ess_bulk),
        "max_rhat": float(model.convergence_.max_rhat),
        "divergences": int(stats["diverging"].sum()),
        "mean_steps": float(np.mean(stats["n_steps"])),
    }


class _Captured(Exception):
    pass


def gradient_times(rows: int, seed: int, calls: int = 200) -> dict:
    """stanli's ms per gradient of normal_diag on (c)'s rows repeated to
    ``rows``, on 1 and 2 threads, at one random unconstrained point."""
    sys.path.insert(0, str(HERE))
    import numpy as np
    import stanli
    from scenarios import build

    import stanmix as sm
    from stanmix.engines import get_engine
    from stanmix.engines._stanli import _jsonable
    from stanmix.inference.threads import grainsize

    scenario = build("c")
    X = scenario.X.iloc[np.resize(np.arange(len(scenario.X)), rows)]
    backend = get_engine("stanli")
    seen = {}

    def capture(stan_file, data, **kwargs):
        seen.update(stan_file=stan_file, data=data)
        raise _Captured

    backend.sample = capture
    model = sm.DiagonalMixture(scenario.n_components, engine=backend)
    try:
        model.fit(X, seed=seed, chains=1, show_progress=False)
    except _Captured:
        pass
    mir = backend._program(seen["stan_file"])
    out = {"rows": rows}
    q = None
    for threads in (1, 2):
        size = grainsize(rows, threads) if threads > 1 else 0
        data = _jsonable(dict(seen["data"], grainsize=size))
        stan_model = stanli.Model(mir=mir, data=data, threads_per_chain=threads)
        if q is None:
            rng = np.random.default_rng(seed)
            q = rng.normal(scale=0.3, size=stan_model.n_unconstrained)
        for _ in range(20):
            stan_model.log_prob_grad(q)
        start = time.perf_counter()
        for _ in range(calls):
            stan_model.log_prob_grad(q)
        out[f"ms_{threads}"] = 1e3 * (time.perf_counter() - start) / calls
        out[f"reductions_{threads}"] = stan_model.reduce_sum_count
    out["speedup"] = out["ms_1"] / out["ms_2"]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default=None, help="comma-separated")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs per thread count, alternating [1]"
    )
    parser.add_argument("--json", default=None, help="write the figures here")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--gradient-rows",
        default=None,
        help="comma-separated row counts: stanli's ms per gradient instead",
    )
    args = parser.parse_args(argv)
    if args.gradient_rows:
        rows = []
        for count in args.gradient_rows.split(","):
            row = gradient_times(int(count), args.seed)
            rows.append(row)
            print(
                f"stanli  N={row['rows']:6d}  1 thread {row['ms_1']:6.2f} ms  "
                f"2 threads {row['ms_2']:6.2f} ms (reductions kept: "
                f"{row['reductions_2']})  {row['speedup']:.2f}x",
                flush=True,
            )
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
        return 0
    if args.one:
        engine, threads = args.one.split(":")
        print(json.dumps(one_run(engine, int(threads), args.draws, args.seed)))
        return 0
    if args.engines:
        engines = args.engines.split(",")
    else:
        from stanmix.engines import cmdstan_available

        engines = ["stanli"] + (["cmdstan"] if cmdstan_available() else [])
    rows = []
    for engine in engines:
        # the 1- and 2-thread runs alternate, so that a slow spell of the
        # machine falls on both
        for _ in range(args.repeat):
            for threads in (1, 2):
                out = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--one",
                        f"{engine}:{threads}",
                        "--draws",
                        str(args.draws),
                        "--seed",
                        str(args.seed),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
                print(_line(rows[-1]), flush=True)
    print()
    for engine in engines:
        for measure, what in (
            ("ms_per_iteration", "per iteration (the sampler call)"),
            ("ms_per_draw", "per draw (the chain's sampling clock)"),
        ):
            times = {
                t: [
                    r[measure]
                    for r in rows
                    if r["engine"] == engine and r["threads"] == t
                ]
                for t in (1, 2)
            }
            if None in times[1] + times[2]:
                continue
            speedup = statistics.median(times[1]) / statistics.median(times[2])
            verdict = "met" if speedup >= TARGET_SPEEDUP else "NOT met"
            runs = f"medians of {args.repeat} runs each, " if args.repeat > 1 else ""
            print(
                f"{engine}: 2 threads {speedup:.2f}x faster {what} than 1 "
                f"({runs}target {TARGET_SPEEDUP}x: {verdict})"
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


def _line(row: dict) -> str:
    return (
        f"{row['engine']:8s} threads={row['threads']}  wall {row['wall_s']:7.1f} s  "
        f"sampler {row['sampler_s']:7.1f} s  "
        f"{row['ms_per_iteration']:7.1f} ms/iteration  "
        + (
            f"{row['ms_per_draw']:6.1f} ms/draw (chain clock)  "
            if row.get("ms_per_draw") is not None
            else ""
        )
        + f"steps/draw {row['mean_steps']:5.1f}  ESS {row['min_bulk_ess']:6.0f}  "
        f"R-hat {row['max_rhat']:.3f}  div {row['divergences']}"
    )


if __name__ == "__main__":
    sys.exit(main())
