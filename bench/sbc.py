"""Simulation-based calibration (SBC) of every stanmix program.

For each program/family variant (``bench/sbc_programs.py``): draw the
parameters from the program's prior, data from the model (detection limits
and missing cells for the censored variants), fit by NUTS through the
public estimator (``standardize=False``, so the estimator's priors are the
ones the parameters came from), and record the rank of every parameter's
true value among ``--thin`` evenly spaced posterior draws, the fit's
diagnostics, and the posterior membership probabilities of every row with
its true component. Components are compared in the order the model reports
them (after relabelling), the truth sorted the same way: ascending along
the anchor column 0 (for a mixture of regressions, by each line's value at
the predictors' centre).

Results go to ``--out``, one JSON line per replication and program, as
they are made: an interrupted run resumes where it stopped, and a larger
``--reps`` adds replications. The report (``bench/sbc_report.py``) prints
the uniformity tests, coverage and membership calibration, and writes the
figures and ``validation.md`` to ``--docs``.

    python bench/sbc.py                                  # default programs, 200 reps
    python bench/sbc.py --programs normal_1d,normal_diag --reps 300
    python bench/sbc.py --quick                          # a smoke run, ~5 minutes
    python bench/sbc.py --report-only                    # tables/figures from --out
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from sbc_programs import PROGRAMS, Program, replication_seeds  # noqa: E402
from sbc_stats import match_labels, ranks, thin_indices  # noqa: E402

ROOT = HERE.parent
#: Where full runs keep their replications (``results/`` is not tracked).
DEFAULT_OUT = ROOT / "results" / "sbc"


@dataclass(frozen=True)
class Settings:
    """What every replication of a run shares.

    Attributes
    ----------
    n : int
        Observations per data set.
    chains, warmup, draws : int
        NUTS chains, warmup iterations and kept draws per chain.
    thin : int
        Posterior draws the ranks are taken among (evenly spaced over all
        chains); ranks take thin + 1 values.
    seed : int
        Base seed; each replication's seeds derive from it, the program's
        name and the replication number.
    engine : str
        Stan engine of the estimator.
    """

    n: int = 50
    chains: int = 2
    warmup: int = 500
    draws: int = 1000
    thin: int = 99
    seed: int = 20240601
    engine: str = "stanli"


def run_replication(program: Program, rep: int, settings: Settings) -> dict:
    """Simulate, fit and rank one replication; never raises for a failed fit
    (the record then carries the error)."""
    import arviz as az

    from stanmix import likelihood

    sim_seed, fit_seed = replication_seeds(settings.seed, program.seed_key, rep)
    rng = np.random.default_rng(sim_seed)
    sim = program.simulate(settings.n, rng)
    record: dict = {
        "rep": rep,
        "sim_seed": sim_seed,
        "fit_seed": fit_seed,
        "redraws": sim.redraws,
        "censored_cells": int(
            sum(
                (sim.X[c] == lim).sum()
                for side in ("lower_limit", "upper_limit")
                for c, lim in sim.fit_kwargs.get(side, {}).items()
            )
        ),
        "missing_cells": int(sim.X.isna().to_numpy().sum()),
    }
    if "interval" in sim.fit_kwargs:
        bins = int(sim.fit_kwargs["interval"][0].notna().to_numpy().sum())
        record["interval_cells"] = bins
        record["missing_cells"] -= bins
    model = program.estimator(settings.engine)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(
                sim.X,
                seed=fit_seed,
                chains=settings.chains,
                warmup=settings.warmup,
                draws=settings.draws,
                show_progress=False,
                log_likelihood=False,
                **dict(program.fit_options),
                **sim.fit_kwargs,
            )
    except Exception as err:  # a failed fit is a result, not a crash
        record.update(
            seconds=time.perf_counter() - start,
            error=f"{type(err).__name__}: {err}",
            traceback=traceback.format_exc(limit=4),
        )
        return record
    seconds = time.perf_counter() - start

    names = list(program.flatten({k: v[None] for k, v in sim.truth.items()}))
    total = settings.chains * settings.draws
    keep = thin_indices(total, settings.thin)

    def table(params: dict) -> np.ndarray:
        flat = program.flatten(params)
        return np.column_stack([flat[name] for name in names])

    def values(truth: dict) -> np.ndarray:
        return table({k: v[None] for k, v in truth.items()})[0]

    def rank_against(params: dict, truth: dict) -> list[int]:
        return ranks(values(truth), table(params)[keep]).tolist()

    # The program's own labelling: raw draws (ordered along the anchor), the
    # truth sorted the same way.
    raw = model.param_draws("posterior_raw")
    ranks_program = rank_against(raw, sim.truth)
    # The labelling the estimator reports. Ordered draws that did not switch
    # keep the program's labels; draws relabelled by Stephens' algorithm
    # are labelled by membership, so the truth is labelled by the same rule
    # (its permutation closest to the relabelled posterior's memberships).
    reported = model.param_draws()
    membership = model.predict_proba_fitted()
    report = model.relabel_report_
    method = None if report is None else report.method
    truth_reported, labels_reported = sim.truth, sim.labels
    perm = np.arange(program.k)
    if method not in (None, "order"):
        truth_membership = likelihood.membership_draws(
            model.family_, model.cells_, {k: v[None] for k, v in sim.truth.items()}
        )[0]
        perm = match_labels(truth_membership, membership)
        truth_reported = program.permute(sim.truth, perm)
        labels_reported = np.argsort(perm)[sim.labels]
    ranks_reported = rank_against(reported, truth_reported)
    matrix = table(reported)

    post = model.idata_.posterior
    var_names = [v for v in model.family_.param_dims() if v in post]
    rhat = az.rhat(post[var_names])
    ess_bulk = az.ess(post[var_names], method="bulk")
    ess_tail = az.ess(post[var_names], method="tail")
    raw_post = getattr(model.idata_, "posterior_raw", post)
    rhat_raw = az.rhat(raw_post[var_names])
    stats = model.idata_.sample_stats
    switching = model.label_switching_
    record.update(
        seconds=seconds,
        params=names,
        truth=values(truth_reported).tolist(),
        ranks=ranks_reported,
        ranks_program=ranks_program,
        truth_permutation=perm.tolist(),
        post_mean=matrix.mean(axis=0).tolist(),
        post_sd=matrix.std(axis=0).tolist(),
        max_rhat=float(max(float(rhat[v].max()) for v in var_names)),
        max_rhat_program=float(max(float(rhat_raw[v].max()) for v in var_names)),
        min_ess_bulk=float(min(float(ess_bulk[v].min()) for v in var_names)),
        min_ess_tail=float(min(float(ess_tail[v].min()) for v in var_names)),
        divergences=int(stats["diverging"].sum()),
        max_treedepth_hits=int((stats["tree_depth"] >= 10).sum()),
        step_size=[float(x) for x in stats["step_size"].isel(draw=0).to_numpy()],
        mean_tree_depth=float(stats["tree_depth"].mean()),
        map=None
        if model.map_ is None
        else values({k: np.asarray(v) for k, v in model.map_.items()}).tolist(),
        metric=model.metric_,
        relabel=method,
        label_switching=None if switching is None else bool(switching.label_switching),
        warnings=sorted({str(w.message)[:160] for w in caught}),
        membership=np.round(membership, 5).tolist(),
        labels=labels_reported.tolist(),
    )
    if method not in (None, "order"):
        record["membership_program"] = np.round(
            likelihood.membership_mean(model.family_, model.cells_, raw), 5
        ).tolist()
        record["labels_program"] = sim.labels.tolist()
        # What comparing with the truth sorted along the anchor would give.
        record["ranks_anchor_sorted"] = rank_against(reported, sim.truth)
    return record


def results_path(out: Path, program: str) -> Path:
    return out / f"{program}.jsonl"


def load_results(out: Path, program: str) -> list[dict]:
    """The replications recorded for ``program`` (the last record of each
    replication number wins), in replication order."""
    path = results_path(out, program)
    if not path.exists():
        return []
    by_rep: dict[int, dict] = {}
    with path.open() as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by an interrupt
                continue
            by_rep[int(record["rep"])] = record
    return [by_rep[r] for r in sorted(by_rep)]


def check_settings(out: Path, program: str, settings: Settings) -> None:
    """Record the run's settings; refuse to add replications made otherwise."""
    meta = out / f"{program}.settings.json"
    mine = asdict(settings)
    if meta.exists():
        theirs = json.loads(meta.read_text())
        if theirs != mine:
            diff = {
                k: (theirs.get(k), v) for k, v in mine.items() if theirs.get(k) != v
            }
            raise SystemExit(
                f"{meta} was made with other settings {diff} (recorded, asked); "
                "use another --out or the same settings"
            )
    else:
        meta.write_text(json.dumps(mine, indent=1) + "\n")


def run_program(program: Program, reps: int, settings: Settings, out: Path) -> None:
    """Run replications 0 .. reps - 1 of ``program`` that are not recorded yet."""
    out.mkdir(parents=True, exist_ok=True)
    check_settings(out, program.name, settings)
    done = {r["rep"] for r in load_results(out, program.name)}
    todo = [r for r in range(reps) if r not in done]
    print(
        f"{program.name}: {len(done)} replications recorded, {len(todo)} to run",
        flush=True,
    )
    begin = time.perf_counter()
    started = time.time()
    load_before = os.getloadavg()[0]
    with results_path(out, program.name).open("a") as fh:
        for i, rep in enumerate(todo, 1):
            record = run_replication(program, rep, settings)
            fh.write(json.dumps(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
            if i % 10 == 0 or i == len(todo) or "error" in record:
                spent = time.perf_counter() - begin
                note = f" ERROR {record['error'][:120]}" if "error" in record else ""
                print(
                    f"  {program.name} rep {rep}: {i}/{len(todo)} in {spent:.0f} s"
                    f"{note}",
                    flush=True,
                )
    if todo:
        log = {
            "program": program.name,
            "reps_run": len(todo),
            # 0: a run from scratch, which replaces the program's earlier runs.
            "reps_before": len(done),
            "started": started,
            "wall_seconds": time.perf_counter() - begin,
            "load_before": load_before,
            "load_after": os.getloadavg()[0],
            "machine": machine_info(),
        }
        with (out / "runs.jsonl").open("a") as fh:
            fh.write(json.dumps(log) + "\n")


def machine_info() -> dict:
    """CPU, cores, memory and versions, for the report."""
    import platform

    from machine import cpu_model, memory_gib, package_versions, source_commit

    return {
        "cpu": cpu_model(platform.processor() or platform.machine()),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "commit": source_commit(),
        **package_versions(("stanmix", "stanli", "numpy", "arviz")),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = [name for name, p in PROGRAMS.items() if p.default]
    parser.add_argument(
        "--programs",
        default=",".join(default),
        help=f"comma-separated, from {', '.join(PROGRAMS)} (default: all but "
        f"{', '.join(sorted(set(PROGRAMS) - set(default)))})",
    )
    parser.add_argument("--reps", type=int, default=200, help="replications [200]")
    parser.add_argument("--n", type=int, default=None, help="observations [50]")
    parser.add_argument("--seed", type=int, default=Settings.seed)
    parser.add_argument(
        "--out", type=Path, default=None, help=f"results folder [{DEFAULT_OUT}]"
    )
    parser.add_argument("--chains", type=int, default=None, help="NUTS chains [2]")
    parser.add_argument("--warmup", type=int, default=None, help="warmup [500]")
    parser.add_argument("--draws", type=int, default=None, help="draws/chain [1000]")
    parser.add_argument(
        "--thin", type=int, default=None, help="draws the ranks are taken among [99]"
    )
    parser.add_argument("--engine", default="stanli")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 20 reps, N = 30, 2 x (150 + 150) draws, ranks among 39, "
        "results and report in a temporary folder unless --out/--docs are given",
    )
    parser.add_argument(
        "--docs",
        type=Path,
        default=None,
        help="where validation.md and its figures go [docs/, or OUT/docs with --quick]",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="no fitting: report on --out"
    )
    parser.add_argument("--no-report", action="store_true", help="fit only")
    parser.add_argument(
        "--sims",
        type=int,
        default=200_000,
        help="simulations calibrating the ECDF band",
    )
    args = parser.parse_args(argv)
    names = [p.strip() for p in args.programs.split(",") if p.strip()]
    unknown = [p for p in names if p not in PROGRAMS]
    if unknown:
        parser.error(f"unknown program(s) {unknown}; choose from {list(PROGRAMS)}")
    args.program_list = names
    quick = {"n": 30, "chains": 2, "warmup": 150, "draws": 150, "thin": 39}
    base = quick if args.quick else {}
    defaults = Settings()
    settings = {}
    for key in ("n", "chains", "warmup", "draws", "thin"):
        value = getattr(args, key)
        settings[key] = (
            value if value is not None else base.get(key, getattr(defaults, key))
        )
    if args.quick and args.reps == 200:
        args.reps = 20
    args.settings = Settings(seed=args.seed, engine=args.engine, **settings)
    if args.settings.thin > args.settings.chains * args.settings.draws:
        parser.error("--thin must not exceed chains x draws")
    if args.out is None:
        if args.quick:
            import tempfile

            args.out = Path(tempfile.mkdtemp(prefix="stanmix-sbc-"))
        else:
            args.out = DEFAULT_OUT
    if args.docs is None:
        args.docs = args.out / "docs" if args.quick else ROOT / "docs"
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    begin = time.time()
    if not args.report_only:
        for name in args.program_list:
            run_program(PROGRAMS[name], args.reps, args.settings, args.out)
        print(f"fitting took {time.time() - begin:.0f} s", flush=True)
    if not args.no_report:
        from sbc_report import report, uniform

        results = report(
            args.out,
            args.docs,
            args.program_list,
            reps=args.reps,
            n_sim=args.sims,
            command=shown_command(sys.argv[1:] if argv is None else argv),
        )
        if not uniform(results):
            print("non-uniform ranks: see the report", file=sys.stderr)
            return 1
    return 0


def shown_command(argv: list[str]) -> str:
    """The command as the validation page shows it: without the switches
    between fitting and reporting and without the folders, which say where
    files went, not how they were made.

    Examples
    --------
    >>> shown_command(["--reps", "5", "--out", "/tmp/x", "--docs=d", "--report-only"])
    'python bench/sbc.py --reps 5'
    """
    shown, skip = ["python", "bench/sbc.py"], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--out", "--docs"):
            skip = True
        elif arg not in ("--report-only", "--no-report") and not arg.startswith(
            ("--out=", "--docs=")
        ):
            shown.append(arg)
    return " ".join(shown)


if __name__ == "__main__":
    raise SystemExit(main())
