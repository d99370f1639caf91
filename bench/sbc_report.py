"""Tables, figures and the validation page from simulation-based calibration
results (``bench/sbc.py`` writes them; this module only reads them).

For every program: per-parameter uniformity of the ranks (chi-square on 20
bins, ECDF-difference test with a simultaneous 99% band), Holm's correction
over every test of every program, coverage of central 50% and 90% intervals
with binomial bands, and calibration of the membership probabilities (a
reliability diagram). Each is computed on all replications and on the
replications no diagnostic flagged, and on the ranks in the program's own
(anchor-ordered) labelling as well as in the estimator's reported one.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sbc_programs import (
    NU_PRIOR,
    PREDICTORS,
    PRIOR,
    PROGRAMS,
    SLOPE_SCALE,
    Program,
    RegressionProgram,
)
from sbc_stats import (
    EcdfBand,
    ReliabilityBins,
    binomial_band,
    central_interval_hits,
    chi_square_uniform,
    distorted_min_pvalues,
    ecdf_band,
    ecdf_counts,
    ecdf_test,
    holm,
    rank_bins,
    reliability_bins,
)

#: Replications with a larger R-hat (rank-normalised split R-hat, any
#: parameter) are flagged.
FLAG_RHAT = 1.05
#: Significance level of every test and band.
ALPHA = 0.01
#: Rank histogram bins.
N_BINS = 20
#: Reliability diagram bins.
N_PROB_BINS = 10
#: Where figures go, relative to the docs folder.
FIGURES = "validation"


@dataclass
class ProgramResult:
    """The recorded replications of one program, as arrays."""

    program: Program
    settings: dict
    records: list[dict]
    errors: list[dict]
    names: list[str]
    ranks: np.ndarray  # (R, P) in the estimator's reported labelling
    ranks_program: np.ndarray  # (R, P) in the program's (anchor) labelling
    flags: list[list[str]]
    tests: dict = field(default_factory=dict)

    @property
    def n_ranks(self) -> int:
        return int(self.settings["thin"]) + 1

    @property
    def clean(self) -> np.ndarray:
        return np.array([not f for f in self.flags], dtype=bool)

    @property
    def relabelled(self) -> np.ndarray:
        return np.array(
            [r.get("relabel") not in (None, "order") for r in self.records], dtype=bool
        )


def flags_of(record: dict, thin: int) -> list[str]:
    """Why a replication is flagged (empty: not flagged)."""
    reasons = []
    if record["divergences"] > 0:
        reasons.append("divergences")
    if record["max_rhat"] > FLAG_RHAT:
        reasons.append("R-hat")
    if record["min_ess_bulk"] < thin:
        reasons.append("ESS")
    if record["max_treedepth_hits"] > 0:
        reasons.append("tree depth")
    return reasons


def load(out: Path, name: str, reps: int | None = None) -> ProgramResult | None:
    """The first ``reps`` replications of ``name`` in ``out`` (all when None)."""
    from sbc import load_results

    records = load_results(out, name)
    if reps is not None:
        records = [r for r in records if r["rep"] < reps]
    if not records:
        return None
    settings = json.loads((out / f"{name}.settings.json").read_text())
    errors = [r for r in records if "error" in r]
    good = [r for r in records if "error" not in r]
    names = good[0]["params"] if good else []
    return ProgramResult(
        program=PROGRAMS[name],
        settings=settings,
        records=good,
        errors=errors,
        names=names,
        ranks=np.array([r["ranks"] for r in good], dtype=int).reshape(-1, len(names)),
        ranks_program=np.array([r["ranks_program"] for r in good], dtype=int).reshape(
            -1, len(names)
        ),
        flags=[flags_of(r, settings["thin"]) for r in good],
    )


class Bands:
    """Simultaneous ECDF bands, one per number of replications (cached)."""

    def __init__(self, n_ranks: int, n_sim: int, seed: int = 1) -> None:
        self.n_ranks, self.n_sim, self.seed = n_ranks, n_sim, seed
        self._cache: dict[int, EcdfBand] = {}

    def __call__(self, n: int) -> EcdfBand:
        if n not in self._cache:
            self._cache[n] = ecdf_band(n, self.n_ranks, ALPHA, self.n_sim, self.seed)
        return self._cache[n]


def uniformity(rank_matrix: np.ndarray, n_ranks: int, bands: Bands) -> list[dict]:
    """Per parameter (column): chi-square and ECDF tests, and coverage."""
    out = []
    n = rank_matrix.shape[0]
    for col in rank_matrix.T:
        row: dict = {"n": n}
        if n == 0:
            out.append(row)
            continue
        row["chi2"], _, row["chi2_p"] = chi_square_uniform(col, n_ranks, N_BINS)
        row["ecdf_inside"], row["ecdf_min_p"], row["ecdf_p"] = ecdf_test(col, bands(n))
        for level in (0.5, 0.9):
            hits, share = central_interval_hits(col, n_ranks, level)
            row[f"cov{int(level * 100)}"] = float(hits.mean())
            row[f"cov{int(level * 100)}_band"] = binomial_band(n, share, 1 - ALPHA)
        out.append(row)
    return out


def analyse(results: list[ProgramResult], n_sim: int) -> dict:
    """Every test of every program, with Holm's correction across all of them
    (per analysis: all replications, unflagged only, program's labelling)."""
    bands = {}
    analyses = {
        "all": lambda r: r.ranks,
        "clean": lambda r: r.ranks[r.clean],
        "program": lambda r: r.ranks_program,
    }
    summary: dict = {}
    for key, pick in analyses.items():
        pvalues, where = [], []
        for res in results:
            n_ranks = res.n_ranks
            if n_ranks not in bands:
                bands[n_ranks] = Bands(n_ranks, n_sim)
            rows = uniformity(pick(res), n_ranks, bands[n_ranks])
            res.tests[key] = rows
            for i, row in enumerate(rows):
                for test in ("chi2_p", "ecdf_p"):
                    if test in row:
                        pvalues.append(row[test])
                        where.append((res, i, test))
        adjusted = holm(np.array(pvalues)) if pvalues else np.array([])
        for (res, i, test), adj in zip(where, adjusted, strict=True):
            res.tests[key][i][test + "_holm"] = float(adj)
        summary[key] = {"n_tests": len(pvalues)}
    return {"bands": bands, "summary": summary}


def min_holm(rows: list[dict]) -> float:
    values = [
        row[k] for row in rows for k in ("chi2_p_holm", "ecdf_p_holm") if k in row
    ]
    return float(min(values)) if values else float("nan")


def uniform(results: list[ProgramResult]) -> bool:
    """Whether no program's ranks are non-uniform (Holm, 1%) over all
    replications (too few replications to test count as no finding)."""
    return not any(min_holm(r.tests["all"]) < ALPHA for r in results)


def membership_bins(res: ProgramResult) -> list[tuple[ReliabilityBins, dict]]:
    """Per component: reliability bins of P(z = k | y) against the truth, and
    a replication-clustered z per bin (observations of one data set share
    its parameters, so they are not independent)."""
    probs = [np.asarray(r["membership"]) for r in res.records]
    labels = [np.asarray(r["labels"]) for r in res.records]
    out = []
    for k in range(res.program.k):
        p = np.concatenate([m[:, k] for m in probs])
        e = np.concatenate([lab == k for lab in labels])
        bins = reliability_bins(p, e, N_PROB_BINS, 1 - ALPHA)
        rep = np.concatenate([np.full(len(lab), i) for i, lab in enumerate(labels)])
        which = np.clip(
            np.searchsorted(bins.edges, p, side="right") - 1, 0, N_PROB_BINS - 1
        )
        resid = e - p
        robust_z = np.full(N_PROB_BINS, np.nan)
        for b in np.flatnonzero(bins.count):
            sel = which == b
            per_rep = np.bincount(rep[sel], resid[sel])
            se = math.sqrt(float((per_rep**2).sum()))
            if se > 0:
                robust_z[b] = float(resid[sel].sum()) / se
        ece = float(
            np.nansum(bins.count * np.abs(bins.frequency - bins.mean_prob))
            / bins.count.sum()
        )
        out.append(
            (bins, {"robust_z": robust_z, "ece": ece, "n": int(bins.count.sum())})
        )
    return out


# -- figures ------------------------------------------------------------------
def _grid(n: int, ncols: int = 4):
    import matplotlib.pyplot as plt

    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.1 * ncols, 2.3 * nrows), squeeze=False
    )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def plot_ranks(res: ProgramResult, path: Path) -> None:
    """Rank histograms with the pointwise 99% band of a uniform bin count."""
    import matplotlib.pyplot as plt
    from scipy import stats

    n = res.ranks.shape[0]
    bins = rank_bins(res.n_ranks, N_BINS)
    share = np.array([b.size for b in bins]) / res.n_ranks
    lo = stats.binom.ppf(ALPHA / 2, n, share)
    hi = stats.binom.ppf(1 - ALPHA / 2, n, share)
    fig, axes = _grid(len(res.names))
    for ax, name, col, row in zip(
        axes, res.names, res.ranks.T, res.tests["all"], strict=False
    ):
        counts = np.bincount(col, minlength=res.n_ranks)
        binned = np.array([counts[b].sum() for b in bins])
        x = np.arange(N_BINS)
        ax.fill_between(x, lo, hi, step="mid", color="0.85", lw=0)
        ax.axhline(n * share.mean(), color="0.5", lw=0.8)
        ax.bar(x, binned, width=1.0, color="#4477aa", alpha=0.85)
        ax.step(x, lo, where="mid", color="0.4", lw=0.8, ls="--")
        ax.step(x, hi, where="mid", color="0.4", lw=0.8, ls="--")
        ax.set_title(f"{name}  (chi2 p = {row['chi2_p']:.2f})", fontsize=9)
        ax.set_xticks([])
        ax.tick_params(labelsize=7)
    fig.suptitle(
        f"{res.program.name}: rank histograms, {n} replications, {N_BINS} bins "
        f"(grey, dashed: pointwise {100 * (1 - ALPHA):.0f}% band of a uniform bin)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_ecdf(res: ProgramResult, bands: Bands, path: Path) -> None:
    """ECDF minus the uniform CDF with the simultaneous 99% band; the
    program's own labelling as a dashed line where it differs."""
    import matplotlib.pyplot as plt

    n = res.ranks.shape[0]
    band = bands(n)
    z = band.z
    fig, axes = _grid(len(res.names))
    differs = bool(np.any(res.ranks != res.ranks_program))
    for ax, name, col, col_p, row in zip(
        axes,
        res.names,
        res.ranks.T,
        res.ranks_program.T,
        res.tests["all"],
        strict=False,
    ):
        ax.fill_between(
            z, band.lower / n - z, band.upper / n - z, color="0.85", lw=0, step="mid"
        )
        ax.axhline(0, color="0.5", lw=0.8)
        ax.step(z, ecdf_counts(col, res.n_ranks) / n - z, where="mid", color="#4477aa")
        if differs and np.any(col != col_p):
            ax.step(
                z,
                ecdf_counts(col_p, res.n_ranks) / n - z,
                where="mid",
                color="#cc6677",
                ls="--",
                lw=0.9,
            )
        ax.set_title(f"{name}  (p = {row['ecdf_p']:.3f})", fontsize=9)
        ax.tick_params(labelsize=7)
    extra = "; dashed: program's labelling" if differs else ""
    fig.suptitle(
        f"{res.program.name}: ECDF difference, {n} replications "
        f"(grey: simultaneous {100 * (1 - ALPHA):.0f}% band{extra})",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_reliability(
    results: list[ProgramResult], path: Path, difference: bool = False
) -> None:
    """Membership reliability diagrams, one panel per program: the share of
    rows truly from component k against their mean P(z = k | y) per bin, or
    (``difference``) that share minus the mean probability, which shows the
    bins near 0 and 1."""
    import matplotlib.pyplot as plt

    fig, axes = _grid(len(results), ncols=3)
    colors = ["#4477aa", "#cc6677", "#228833", "#ccbb44"]
    for ax, res in zip(axes, results, strict=False):
        if difference:
            ax.axhline(0, color="0.5", lw=0.8)
        else:
            ax.plot([0, 1], [0, 1], color="0.5", lw=0.8)
        for k, (bins, _) in enumerate(membership_bins(res)):
            ok = bins.count > 0
            offset = (k - (res.program.k - 1) / 2) * 0.012
            x = bins.mean_prob[ok] + offset
            base = bins.mean_prob[ok] if difference else 0.0
            ax.vlines(
                x, bins.lower[ok] - base, bins.upper[ok] - base, color="0.7", lw=3
            )
            ax.plot(
                x,
                bins.frequency[ok] - base,
                "o",
                ms=3.5,
                color=colors[k % len(colors)],
                label=f"component {k}",
            )
        ax.set_title(res.program.name, fontsize=9)
        ax.set_xlabel("posterior mean P(z = k | y)", fontsize=8)
        ax.set_ylabel(
            "share from k minus probability" if difference else "share truly from k",
            fontsize=8,
        )
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="best")
    what = "observed share minus mean probability" if difference else "calibration"
    fig.suptitle(
        f"Membership {what}, {N_PROB_BINS} bins per component "
        f"(grey: {100 * (1 - ALPHA):.0f}% binomial band)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# -- text ---------------------------------------------------------------------
def _p(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "-"
    return "<0.001" if x < 0.001 else f"{x:.3f}"


def _cov(row: dict, level: int) -> str:
    if f"cov{level}" not in row:
        return "-"
    value = row[f"cov{level}"]
    lo, hi = row[f"cov{level}_band"]
    mark = "" if lo <= value <= hi else " **!**"
    return f"{value:.2f}{mark}"


def flag_counts(res: ProgramResult) -> dict:
    counts: dict[str, int] = {}
    for f in res.flags:
        for reason in f:
            counts[reason] = counts.get(reason, 0) + 1
    return counts


def verdict(res: ProgramResult, key: str) -> str:
    p = min_holm(res.tests.get(key, []))
    if not np.isfinite(p):
        return "-"
    return "uniform" if p >= ALPHA else f"**non-uniform** (Holm p {_p(p)})"


def summary_rows(results: list[ProgramResult]) -> list[list[str]]:
    rows = []
    for res in results:
        n = len(res.records)
        flagged = int((~res.clean).sum())
        counts = flag_counts(res)
        detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        cov50 = np.mean([r["cov50"] for r in res.tests["all"]])
        cov90 = np.mean([r["cov90"] for r in res.tests["all"]])
        rows.append(
            [
                res.program.name,
                str(n + len(res.errors)),
                str(len(res.errors)),
                f"{flagged}" + (f" ({detail})" if detail else ""),
                str(int(res.relabelled.sum())),
                verdict(res, "all"),
                verdict(res, "clean") + f" (n = {int(res.clean.sum())})",
                verdict(res, "program"),
                f"{cov50:.2f} / {cov90:.2f}",
            ]
        )
    return rows


SUMMARY_HEADER = [
    "program",
    "reps",
    "failed fits",
    "flagged",
    "relabelled",
    "ranks, all reps",
    "ranks, unflagged reps",
    "ranks, program's labelling",
    "mean coverage 50 / 90",
]


def param_rows(res: ProgramResult) -> list[list[str]]:
    rows = []
    for i, name in enumerate(res.names):
        a, c, p = (res.tests[k][i] for k in ("all", "clean", "program"))
        inside = "in" if a.get("ecdf_inside") else "**out**"
        rows.append(
            [
                f"`{name}`",
                _p(a.get("chi2_p")),
                f"{_p(a.get('ecdf_p'))} ({inside})",
                _cov(a, 50),
                _cov(a, 90),
                _p(c.get("chi2_p")),
                _p(c.get("ecdf_p")),
                _p(p.get("chi2_p")),
                _p(p.get("ecdf_p")),
            ]
        )
    return rows


PARAM_HEADER = [
    "parameter",
    "chi2 p",
    "ECDF p (band)",
    "cover 50%",
    "cover 90%",
    "chi2 p, unflagged",
    "ECDF p, unflagged",
    "chi2 p, program's labels",
    "ECDF p, program's labels",
]


def membership_rows(results: list[ProgramResult]) -> list[list[str]]:
    rows = []
    for res in results:
        for k, (bins, extra) in enumerate(membership_bins(res)):
            outside = int(bins.outside().sum())
            used = int((bins.count > 0).sum())
            zmax = float(np.nanmax(np.abs(bins.z)))
            rzmax = float(np.nanmax(np.abs(extra["robust_z"])))
            rows.append(
                [
                    res.program.name,
                    str(k),
                    str(extra["n"]),
                    f"{outside} of {used}",
                    f"{zmax:.1f}",
                    f"{rzmax:.1f}",
                    f"{extra['ece']:.3f}",
                ]
            )
    return rows


MEMBERSHIP_HEADER = [
    "program",
    "component",
    "observations",
    "bins outside the 99% binomial band",
    "max abs z (binomial)",
    "max abs z (replication-clustered)",
    "calibration error",
]


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def plain_table(header: list[str], rows: list[list[str]]) -> str:
    cells = [header, *[[c.replace("**", "").replace("`", "") for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells
    )


def _commits_text(commits: dict[str, list[str]]) -> str:
    """ ", at commit X", or which programs ran at which commit."""
    if not commits:
        return ""
    if len(commits) == 1:
        return f", at commit {next(iter(commits))}"
    return ", at commits " + " and ".join(
        f"{commit} ({', '.join(programs)})" for commit, programs in commits.items()
    )


def run_log(out: Path, names: list[str]) -> dict:
    """Wall time, load and machine from the run log, counting for each
    program only the invocations that made its recorded replications: those
    from its last run from scratch (``reps_before`` 0) on."""
    path = out / "runs.jsonl"
    logs = []
    if path.exists():
        logs = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
    fresh = {x["program"]: i for i, x in enumerate(logs) if x.get("reps_before") == 0}
    logs = [
        x
        for i, x in enumerate(logs)
        if x["program"] in names and i >= fresh.get(x["program"], 0)
    ]
    if not logs:
        return {}
    return {
        "wall_seconds": sum(x["wall_seconds"] for x in logs),
        "per_program": {
            name: sum(x["wall_seconds"] for x in logs if x["program"] == name)
            for name in names
            if any(x["program"] == name for x in logs)
        },
        "not_logged": [n for n in names if all(x["program"] != n for x in logs)],
        "load": (
            min(min(x["load_before"], x["load_after"]) for x in logs),
            max(max(x["load_before"], x["load_after"]) for x in logs),
        ),
        "machine": logs[-1]["machine"],
        "commits": {
            commit: sorted(
                {x["program"] for x in logs if x["machine"].get("commit") == commit}
            )
            for commit in dict.fromkeys(x["machine"].get("commit") for x in logs)
            if commit
        },
        "first": min(x["started"] for x in logs),
        "invocations": len(logs),
    }


def report(
    out: Path,
    docs: Path,
    names: list[str],
    *,
    reps: int | None = None,
    n_sim: int = 200_000,
    command: str = "python bench/sbc.py",
) -> list[ProgramResult]:
    """Print the tables and write the figures and ``validation.md``."""
    import matplotlib

    matplotlib.use("Agg")
    results = [r for r in (load(out, name, reps) for name in names) if r is not None]
    if not results:
        print(f"no results in {out}")
        return []
    info = analyse(results, n_sim)
    figures = docs / FIGURES
    figures.mkdir(parents=True, exist_ok=True)
    for res in results:
        bands = info["bands"][res.n_ranks]
        plot_ranks(res, figures / f"{res.program.name}_ranks.png")
        plot_ecdf(res, bands, figures / f"{res.program.name}_ecdf.png")
    plot_reliability(results, figures / "membership_reliability.png")
    plot_reliability(
        results, figures / "membership_reliability_difference.png", difference=True
    )

    summary = summary_rows(results)
    print()
    print(plain_table(SUMMARY_HEADER, summary))
    for res in results:
        print(f"\n{res.program.name}: {res.program.title}")
        print(plain_table(PARAM_HEADER, param_rows(res)))
    print()
    print(plain_table(MEMBERSHIP_HEADER, membership_rows(results)))
    conclusion = conclusion_text(results)
    print("\n" + conclusion.replace("**", ""))
    page = page_text(results, info, out, docs, command, conclusion)
    (docs / "validation.md").write_text(page)
    with (figures / "summary.json").open("w") as fh:
        json.dump(summary_json(results), fh, separators=(",", ":"))
        fh.write("\n")
    print(f"\nwrote {docs / 'validation.md'} and figures in {figures}")
    return results


def conclusion_text(results: list[ProgramResult]) -> str:
    bad = {
        key: [r.program.name for r in results if min_holm(r.tests[key]) < ALPHA]
        for key in ("all", "clean", "program")
    }
    n_tests = sum(2 * len(r.names) for r in results)
    if not bad["all"]:
        return (
            "**No program shows non-uniformity at the 1% level after Holm's "
            f"correction** over all {n_tests} tests (chi-square and ECDF for "
            "every parameter of every program), on all replications."
        )
    text = (
        f"**Non-uniform at the 1% level after Holm's correction** (over all "
        f"{n_tests} tests, all replications): {', '.join(bad['all'])}."
    )
    if bad["clean"] != bad["all"]:
        text += (
            " Leaving out the replications the diagnostics flagged: "
            + (", ".join(bad["clean"]) if bad["clean"] else "none")
            + "."
        )
    if bad["program"] != bad["all"]:
        text += (
            " In the program's own labelling (raw ordered draws): "
            + (", ".join(bad["program"]) if bad["program"] else "none")
            + "."
        )
    return text


def summary_json(results: list[ProgramResult]) -> dict:
    """The figures of the page, for later comparison (not the raw draws)."""
    out = {}
    for res in results:
        out[res.program.name] = {
            "settings": res.settings,
            "replications": len(res.records),
            "failed": len(res.errors),
            "flags": flag_counts(res),
            "relabelled": int(res.relabelled.sum()),
            "parameters": res.names,
            "tests": res.tests,
            "ranks": res.ranks.tolist(),
            "ranks_program": res.ranks_program.tolist(),
            "flagged": [bool(f) for f in res.flags],
        }
    return out


def _duration(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def page_text(
    results: list[ProgramResult],
    info: dict,
    out: Path,
    docs: Path,
    command: str,
    conclusion: str,
) -> str:
    log = run_log(out, [r.program.name for r in results])
    settings = results[0].settings
    fit_seconds = {
        r.program.name: sum(x["seconds"] for x in r.records) for r in results
    }
    reps = ", ".join(str(len(r.records) + len(r.errors)) for r in results)
    started = ""
    if log:
        started = dt.datetime.fromtimestamp(log["first"]).strftime("%Y-%m-%d %H:%M")
    machine = log.get("machine", {})
    lines = [
        "# Validation: simulation-based calibration",
        "",
        "Every Stan program stanmix ships is checked by simulation-based "
        "calibration (SBC; Talts, Betancourt, Simpson, Vehtari & Gelman 2018): "
        "draw the parameters from the prior, a data set from the model, fit it "
        "with NUTS through the public estimator, and find the rank of each "
        "true value among posterior draws. When the fit is the exact posterior "
        "of the model the data came from, every rank is uniform, whatever the "
        "data set; a sampler that misses part of the posterior, a likelihood "
        "or prior that differs from the simulator, or a labelling error shows "
        "up as non-uniform ranks when it is large enough for the replications "
        "run (*What the tests can detect*, below).",
        "",
        *not_run_text(results),
        "",
        conclusion,
        "",
        "## Summary",
        "",
        table(SUMMARY_HEADER, summary_rows(results)),
        "",
        "- *reps*: replications run; *failed fits*: fits that raised (none "
        "recorded ranks). *flagged*: replications with divergent transitions, "
        f"an R-hat above {FLAG_RHAT} for some parameter, a bulk ESS below the "
        f"{settings['thin']} draws the ranks are taken among, or a transition "
        "at the maximum tree depth (one replication can have several reasons). "
        "*relabelled*: replications whose draws the estimator relabelled by "
        "Stephens' algorithm (see below).",
        "- *ranks*: the verdict of the uniformity tests, Holm-corrected over "
        "every test of every program in that column, at the 1% level.",
        "",
    ]
    lines += findings_text(results)
    lines += [
        "## How it was run",
        "",
        f"    {command}",
        "",
        f"- Replications per program: {reps} "
        f"({', '.join(r.program.name for r in results)}); N = {settings['n']} "
        f"observations per data set; NUTS {settings['chains']} chains x "
        f"({settings['warmup']} warmup + {settings['draws']} draws), every other "
        "option the estimator's default (starts at the MAP, `adapt_delta=0.95`, "
        '`metric="auto"`, `relabel="auto"`); engine '
        f"`{settings['engine']}`; base seed {settings['seed']}.",
    ]
    if log:
        load_lo, load_hi = log["load"]
        lines += [
            f"- Time: {_duration(log['wall_seconds'])} of wall time ("
            + ", ".join(
                f"{name} {_duration(sec)}" for name, sec in log["per_program"].items()
            )
            + (
                "; not timed, their runs stopped before the end: "
                + ", ".join(log["not_logged"])
                if log["not_logged"]
                else ""
            )
            + f"); the fits alone {_duration(sum(fit_seconds.values()))}. "
            f"Started {started}.",
            f"- Machine: {machine.get('cpu')}, {machine.get('cores')} logical cores, "
            f"{machine.get('memory_gib')} GiB, {machine.get('system')}; Python "
            f"{machine.get('python')}, stanmix {machine.get('stanmix')}, stanli "
            f"{machine.get('stanli')}, numpy {machine.get('numpy')}, arviz "
            f"{machine.get('arviz')}"
            + _commits_text(log.get("commits", {}))
            + ". The machine was shared: 1-minute load "
            f"average {load_lo:.1f}-{load_hi:.1f} at the starts and ends of the "
            "programs' runs, so times are indicative.",
        ]
    lines += [
        f"- Results: one JSON line per replication in `{_rel(out)}` "
        "(not tracked); the script resumes an interrupted run and adds "
        "replications when `--reps` grows. `--report-only` rebuilds this page "
        "and its figures from them; `docs/validation/summary.json` keeps the "
        "ranks and test results shown here.",
        "",
    ]
    lines += setup_text(results)
    lines += checks_text(results, info)
    for res in results:
        lines += [
            f"## {res.program.name}: {res.program.title}",
            "",
            program_line(res),
            "",
            table(PARAM_HEADER, param_rows(res)),
            "",
            f"![rank histograms]({FIGURES}/{res.program.name}_ranks.png)",
            "",
            f"![ECDF difference]({FIGURES}/{res.program.name}_ecdf.png)",
            "",
        ]
    lines += [
        "## Membership probabilities",
        "",
        "For every observation of every replication, the posterior mean "
        "probability of each component (`model.predict_proba_fitted()`, in "
        "the reported labelling) against the component the row was truly "
        "drawn from (the simulation knows it; labels matched as for the "
        "parameters). Calibrated probabilities put the points on the diagonal: "
        "of the rows given probability about 0.3 of component k, about 30% "
        "come from k.",
        "",
        table(MEMBERSHIP_HEADER, membership_rows(results)),
        "",
        "The binomial band treats the rows in a bin as independent; rows of "
        "one data set share its parameters, so the band is somewhat too narrow. "
        "The replication-clustered z divides the bin's total (truth minus "
        "probability) by the square root of the sum over replications of its "
        "squared per-replication totals, which allows for that dependence. "
        "For K = 2 the two components' diagrams mirror each other. Calibration "
        "error: the count-weighted mean absolute gap between a bin's share and "
        "its mean probability.",
        "",
        f"![membership reliability]({FIGURES}/membership_reliability.png)",
        "",
        "The same, as the observed share minus the bin's mean probability, "
        "which makes the bins near 0 and 1 visible:",
        "",
        f"![membership reliability, difference]"
        f"({FIGURES}/membership_reliability_difference.png)",
        "",
    ]
    return "\n".join(lines)


def _rel(path: Path) -> str:
    """A results folder as the page names it: relative to the checkout that
    holds it (``results/sbc/``), else as given."""
    path = Path(path).resolve()
    for parent in path.parents:
        if (parent / ".git").exists():
            return f"{path.relative_to(parent)}/"
    return str(path)


def program_line(res: ProgramResult) -> str:
    n = len(res.records)
    counts = flag_counts(res)
    flagged = int((~res.clean).sum())
    redraws = sum(r["redraws"] for r in res.records)
    cens = [r["censored_cells"] for r in res.records]
    miss = [r["missing_cells"] for r in res.records]
    metric = {}
    for r in res.records:
        metric[r["metric"]] = metric.get(r["metric"], 0) + 1
    secs = np.array([r["seconds"] for r in res.records])
    why = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    metrics = ", ".join(f"{k} {v}" for k, v in sorted(metric.items()))
    text = (
        f"{n} replications ({len(res.errors)} failed fits), Stan program "
        f"`{res.program.program_file}`, K = {res.program.k}, D = {res.program.d}. "
        f"Flagged: {flagged}"
        + (f" ({why})" if counts else "")
        + f"; relabelled by Stephens' algorithm: {int(res.relabelled.sum())}. "
        f"Metric chosen: {metrics}. Fit time per replication: median "
        f"{np.median(secs):.1f} s, max {secs.max():.1f} s."
    )
    if res.program.censored:
        text += (
            f" Censored cells per data set: median {np.median(cens):.0f} "
            f"(range {min(cens)}-{max(cens)}) of "
            f"{res.program.d * res.settings['n']}; missing cells: median "
            f"{np.median(miss):.0f}."
        )
    if res.program.binned:
        bins = [r.get("interval_cells", 0) for r in res.records]
        text += (
            f" Interval-censored cells per data set: median {np.median(bins):.0f} "
            f"(range {min(bins)}-{max(bins)})."
        )
    if redraws:
        text += (
            f" {redraws} simulated data set(s) the estimator would refuse were "
            "replaced by new draws of parameters and data."
        )
    return text


def setup_text(results: list[ProgramResult]) -> list[str]:
    median, log_sd = PRIOR["prior_scale_median"], PRIOR["prior_scale_log_sd"]
    scale_lo, scale_hi = (median * math.exp(s * 1.96 * log_sd) for s in (-1, 1))
    rows = [
        [
            p.name,
            p.estimator_text(),
            f"`{p.program_file}`",
            str(p.k),
            str(p.d),
            p.data_text(),
        ]
        for p in (res.program for res in results)
    ]
    return [
        "## What is simulated",
        "",
        table(["program", "estimator", "Stan program", "K", "D", "cells"], rows),
        "",
        "Every estimator is built with `standardize=False`, so the priors it "
        "passes to Stan are in data units and the simulation draws from exactly "
        "them (the default, standardized path, whose priors depend on the "
        "data's own centre and spread, cannot be calibrated this way; "
        "`tests/test_units.py` checks instead that a `DiagonalMixture`'s "
        "posterior mode is the same, in the data's units, whatever units the "
        "data are in, censored or not) (see the Stan programs in `stan/`): "
        f"`prior_mean_scale={PRIOR['prior_mean_scale']:g}` (each mean normal(0, "
        f"{PRIOR['prior_mean_scale']:g}); the anchor column's means are "
        "declared `ordered`, so they are iid normal restricted to the ordered "
        "region, drawn by sorting iid draws), "
        f"`prior_scale_median={PRIOR['prior_scale_median']:g}`, "
        f"`prior_scale_log_sd={PRIOR['prior_scale_log_sd']:g}` (each scale "
        f"lognormal(log {PRIOR['prior_scale_median']:g}, "
        f"{PRIOR['prior_scale_log_sd']:g}): 95% between "
        f"{scale_lo:.2f} and {scale_hi:.2f}), "
        f"`prior_concentration={PRIOR['prior_concentration']:g}` (weights "
        f"Dirichlet({PRIOR['prior_concentration']:g}, ...)); Student-t "
        f"`nu` gamma({NU_PRIOR['nu_shape']:g}, {NU_PRIOR['nu_rate']:g}) "
        "truncated to nu >= 1 (drawn by rejection; median about 17); full "
        "covariance: LKJ(2) on each correlation matrix (drawn by the onion "
        "method; for D = 2, (r + 1) / 2 ~ beta(2, 2)); tied covariance: one "
        "set of scales and one LKJ(2) correlation matrix for all components; "
        "spherical: one scale per component, for every column. Data: each "
        "row's component from the weights, its values from that component "
        "(for Student-t with diagonal or spherical scales, each cell its own "
        "t variate, as the diagonal program models it; with full covariance, "
        "a multivariate t: one chi-square variate per row scales its "
        "correlated normal cells), then the detection limits and missing "
        "cells of the censored variants, and the bins of the interval-"
        "censored one (the value hidden, the bounds given as `interval`). The "
        "limits and bin edges are fixed numbers, not quantiles of the data, "
        "which would make the censoring depend on the other rows.",
        "",
        "Why these settings: means with sd 3 against scales near 1 give data "
        "sets that run from well separated clusters to heavily overlapping "
        "ones, with weights rarely below 0.15 (Dirichlet(4, 4)), so the fits "
        "are not degenerate, while N = "
        f"{results[0].settings['n']} rows leave the posterior far from the prior "
        "for means and weights and still wide. The scale prior is narrower "
        "than the package default (lognormal(log 0.5, 1) on standardized data) "
        "because SBC draws data sets from the prior itself: with a log-sd of 1, "
        "a quarter of the pairs of simulated components would differ in scale "
        "by more than a factor of 5, and a narrow component with a handful of "
        "points collapses onto them.",
        "",
        *regression_text(results),
        "A simulated data set the estimator would refuse (a column with no "
        "observed value or with one value only) is replaced by new draws of "
        "parameters and data. The choice depends on the data alone, so the "
        "posterior of the kept data sets, and the ranks, are unchanged.",
        "",
        f"Ranks: {results[0].settings['thin']} draws spread evenly over the "
        f"{results[0].settings['chains'] * results[0].settings['draws']} kept "
        f"draws (ranks take {results[0].n_ranks} values), compared in the order "
        "the estimator reports the components. When the estimator keeps the "
        "program's labels (ordered draws that did not switch), the truth is "
        "sorted along the anchor column, ascending, as the `ordered` "
        "declaration sorts the draws. When it relabels the draws by Stephens' "
        "algorithm (which labels each draw by the permutation whose membership "
        "probabilities are closest to the posterior mean ones), the truth is "
        "labelled by the same rule, so its rank is well defined either way. "
        "Separately, ranks of the truth sorted along the anchor among the raw "
        "draws (the program's own, ordered labelling) test the Stan program "
        "apart from the relabelling.",
        "",
    ]


#: Why a program of ``bench/sbc_programs.py`` may be left out of a run.
NOT_RUN_WHY = {
    "normal_full_censored_kmeans": (
        "it fitted normal_full_censored's data sets from k-means starts, to "
        "show that they avoided the degenerate posterior mode the latent "
        "values of doubly censored rows allowed; the program now integrates "
        "those cells and has no such mode (`--programs "
        "normal_full_censored_kmeans` runs it)"
    ),
    "student_t_full_censored": (
        "a replication with many rows censored in both columns takes minutes. "
        "Replication 1, with 12 such rows and a component with nu = 2.8 "
        "wholly above y's limit, took 465 s from the MAP and 293 s from "
        "k-means starts, replication 2 took 14 s: 200 replications do not fit "
        "in a run (`--programs student_t_full_censored` runs it)"
    ),
}


def _singular_counts(res: ProgramResult) -> tuple[int, int, int]:
    """Replications of a full or tied program whose MAP has a correlation of
    +-1 to three decimals, that have a chain stuck at the maximum tree
    depth, and that have divergent transitions."""
    degenerate = sum(
        1
        for r in res.records
        if r.get("map") is not None
        and max(
            abs(v)
            for name, v in zip(res.names, r["map"], strict=True)
            if name.startswith("corr")
        )
        > 0.999
    )
    stuck = sum(_stuck(r, res.settings) for r in res.records)
    divergent = sum(r["divergences"] > 0 for r in res.records)
    return degenerate, stuck, divergent


#: Said of a program left out of the run without a reason of its own.
NOT_IN_THIS_RUN = "not in this run"

#: The last full run of each program, for one left out of this run: its
#: replications, commit and verdict, and the page that reported them.
EARLIER_RUNS = {
    **dict.fromkeys(
        (
            "normal_1d",
            "normal_diag",
            "student_t_diag",
            "normal_full",
            "student_t_full",
            "regression",
        ),
        "200 replications at commit 6e93e91",
    ),
    "normal_tied_censored": "200 replications at commit e517f22",
    "regression_student_t_censored": "79 replications (its commit not recorded)",
}
EARLIER_PAGE = "git show 1c49c56:docs/validation.md"


def _not_run_why(name: str) -> str:
    """Why a program is not in this run, and where its last run is."""
    if name in NOT_RUN_WHY:
        return NOT_RUN_WHY[name]
    if name in EARLIER_RUNS:
        return (
            f"not re-run here; its last run, {EARLIER_RUNS[name]}, found its "
            f"ranks uniform (`{EARLIER_PAGE}`)"
        )
    return NOT_IN_THIS_RUN


def not_run_text(results: list[ProgramResult]) -> list[str]:
    """What the runs cover and which configurations they leave out."""
    ran = {r.program.name for r in results}
    left = [
        f"- {p.title} (`{name}`): {_not_run_why(name)}."
        for name, p in PROGRAMS.items()
        if name not in ran
    ]
    left += [
        "- mixtures of regressions with covariate-dependent weights or lines "
        "ordered by a slope: no simulator here.",
        "- the per-dimension model (`joint=False`), unordered means "
        "(`ordered=False`) and known scales (`sigma=`): no simulator here.",
    ]
    return [
        "The runs cover the configurations in the summary below. Not run here:",
        "",
        *left,
        "",
        "Their log densities (censored cells included) are checked, without "
        "the sampler: every program's generated quantities against the Python "
        "likelihood, itself checked against independent computations (scipy, "
        "adaptive quadrature), in `tests/test_families.py` and "
        "`tests/test_regression_family.py`; and the likelihood the model block "
        "adds to the target, which NUTS samples, against scipy directly for "
        "`normal_diag.stan` and for `regression.stan` with every kind of "
        "response cell, constant and covariate-dependent weights, normal and "
        "Student-t errors and slope ordering.",
    ]


def regression_text(results: list[ProgramResult]) -> list[str]:
    """How the mixtures of regressions are simulated (nothing without one)."""
    if not any(isinstance(r.program, RegressionProgram) for r in results):
        return []
    names = ", ".join(PREDICTORS)
    return [
        "Mixtures of regressions (`regression.stan` through `RegressionMixture`, "
        "constant weights, normal or Student-t errors): the response y given "
        "the predictors "
        f"{names}, each iid standard normal in every row of every data set (the "
        "program conditions on them, so any fixed distribution of them will "
        "do). The program's parameters are each line's value at the "
        "predictors' centre (their mean over the data set's rows), `mu`, "
        f"declared `ordered` with each normal(0, {PRIOR['prior_mean_scale']:g}) "
        "(drawn by sorting iid draws), the slopes `beta`, each normal(0, "
        f"{SLOPE_SCALE:g}) (`prior_slope_scale={SLOPE_SCALE:g}`), and error "
        "scales and weights with the priors above. The intercepts (each line "
        "at x = 0) follow as mu - x_center beta' and are ranked as well. A "
        "row from component k has y = mu_k + (x - x_center) beta_k' + sigma_k e, "
        "e standard normal (Student-t errors: standard t with the "
        "component's nu, whose prior is the diagonal program's); in the "
        "censored variants y is then recorded at its "
        "limit beyond it, and missing in a random share of rows (the "
        "predictors stay complete). Slopes with sd "
        f"{SLOPE_SCALE:g} against standard normal predictors give lines that "
        "range from nearly parallel and far apart to crossing in the middle "
        "of the data.",
        "",
    ]


#: Miscalibrations whose detection rates the page gives: (what, posterior
#: sd factor, shift in posterior sds).
DISTORTIONS = (
    ("posterior 10% too narrow", 0.9, 0.0),
    ("posterior 20% too narrow", 0.8, 0.0),
    ("posterior 30% too narrow", 0.7, 0.0),
    ("posterior 20% too wide", 1.2, 0.0),
    ("posterior 40% too wide", 1.4, 0.0),
    ("biased by 0.2 posterior sd", 1.0, 0.2),
    ("biased by 0.3 posterior sd", 1.0, 0.3),
    ("biased by 0.5 posterior sd", 1.0, 0.5),
)
#: Simulated calibration runs per distortion.
POWER_RUNS = 400


def power_text(band, n_tests: int) -> list[str]:
    """How often the tests, as run here, find one miscalibrated parameter."""
    rows = []
    for what, sd_factor, shift in DISTORTIONS:
        smallest = distorted_min_pvalues(
            band, N_BINS, sd_factor=sd_factor, shift=shift, runs=POWER_RUNS
        )
        rates = [np.mean(smallest <= ALPHA / m) for m in (n_tests, 1)]
        rows.append([what, *(f"{100 * r:.0f}%" for r in rates)])
    return [
        "- **What the tests can detect.** A verdict of uniform is not a proof "
        "of calibration: it bounds how large a miscalibration could go unseen. "
        f"In {POWER_RUNS} simulated runs of n = {band.n} replications each "
        "(`bench/sbc_stats.py: detection_rate`), one parameter's draws come "
        "from a distorted posterior while its true values come from the exact "
        "one; the share of runs in which that parameter is found non-uniform, "
        f"after Holm's correction over the {n_tests} tests of this page, and "
        "by its two tests alone at 1%:",
        "",
        table(
            [
                "miscalibration of one parameter",
                f"found, Holm over {n_tests}",
                "found, alone at 1%",
            ],
            rows,
        ),
        "",
        "  A miscalibration shared by many parameters (a wrong likelihood or "
        "prior usually moves several) is found more often than one alone.",
    ]


def checks_text(results: list[ProgramResult], info: dict) -> list[str]:
    n_ranks = results[0].n_ranks
    bands = info["bands"][n_ranks]
    n = len(results[0].records)
    band = bands(n)
    cov50 = binomial_band(n, 0.5, 1 - ALPHA)
    cov90 = binomial_band(n, 0.9, 1 - ALPHA)
    return [
        "## The checks",
        "",
        f"- **Chi-square on binned ranks.** The {n_ranks} rank values in "
        f"{N_BINS} equal bins; Pearson's statistic against equal expected "
        f"counts, {N_BINS - 1} degrees of freedom. Sensitive to any shape, but "
        "only at the bins' resolution. In the histograms the grey band is the "
        "pointwise 99% range of one bin's count under uniformity (about 1 bin "
        "in 100 leaves it by chance).",
        "- **ECDF-difference test with a simultaneous 99% band** (Säilynoja, "
        "Bürkner & Vehtari 2022). The empirical CDF of the ranks at "
        f"z_j = j / {n_ranks} minus z_j. Under uniformity the count of ranks "
        f"below z_j is Binomial(n, z_j). The band is calibrated by simulation "
        f"(`bench/sbc_stats.py: ecdf_band`): for {bands.n_sim:,} samples of n "
        "uniform ranks, the smallest two-sided binomial tail probability over "
        "all z_j; the band at each z_j holds the counts whose tail probability "
        "exceeds gamma, the largest simulated value at or below the 1% "
        "quantile of that minimum. The whole ECDF of uniform ranks then stays "
        f"inside with probability 99% (for n = {n}, gamma = {band.gamma:.2e}, "
        "far below the pointwise 0.01). The test's p-value is the share of "
        "simulated samples whose minimum is at most the observed one. A "
        "U-shaped ECDF difference means the posterior is too wide, an "
        "inverted U too narrow, a one-sided bulge a bias.",
        "- **Multiplicity.** Holm's step-down correction over every test (two "
        "per parameter) of every program in one analysis; a program is "
        "non-uniform when a Holm-adjusted p-value is below 0.01.",
        *power_text(band, sum(2 * len(r.names) for r in results)),
        "- **Coverage.** Read off the ranks: the truth lies in the central 50% "
        f"(90%) posterior interval of the {n_ranks - 1} draws when its rank is "
        "in the middle 50 (90) of the rank values, which has probability 0.50 "
        "(0.90) exactly under calibration. Marked **!** when outside the "
        "central 99% binomial range for the number of replications (for "
        f"{n}: {cov50[0]:.2f}-{cov50[1]:.2f} and {cov90[0]:.2f}-{cov90[1]:.2f}).",
        "- **Membership calibration.** See the last section.",
        "",
    ]


def confident_misses(record: dict, level: float = 0.9) -> tuple[int, float]:
    """Rows given probability above ``level`` of a component they were not
    drawn from, and how many such rows calibrated probabilities predict
    (the sum of one minus the top probability over those rows)."""
    p = np.asarray(record["membership"])
    labels = np.asarray(record["labels"])
    top = p.max(axis=1)
    sure = top > level
    bad = int((sure & (p.argmax(axis=1) != labels)).sum())
    return bad, float((1.0 - top[sure]).sum())


def missed_mode_reps(res: ProgramResult, share: float = 0.2) -> list[dict]:
    """Replications where at least ``share`` of the rows are confidently
    assigned to a component they did not come from: the signature of chains
    that all sit in a mode the truth is not in."""
    out = []
    n = int(res.settings["n"])
    last = res.n_ranks - 1
    for record, flags in zip(res.records, res.flags, strict=True):
        bad, expected = confident_misses(record)
        if bad >= share * n:
            extreme = np.mean([r in (0, last) for r in record["ranks"]])
            out.append(
                {
                    "program": res.program.name,
                    "rep": record["rep"],
                    "bad": bad,
                    "expected": expected,
                    "extreme": float(extreme),
                    "gap": anchor_gap(record),
                    "flags": flags,
                    "relabel": record.get("relabel"),
                }
            )
    return out


def anchor_gap(record: dict) -> float:
    """The smallest distance between neighbouring true anchor means, in
    posterior sds of those means."""
    truth = dict(zip(record["params"], record["truth"], strict=True))
    sd = dict(zip(record["params"], record["post_sd"], strict=True))
    names = [n for n in record["params"] if n.startswith("mu[")]
    anchor = [n for n in names if n.endswith(", x]")] or names
    gaps = [
        abs(truth[b] - truth[a]) / max(sd[a], sd[b])
        for a, b in itertools.pairwise(anchor)
    ]
    return float(min(gaps))


def regression_modes_text(
    missed: list[dict], by_name: dict[str, ProgramResult]
) -> list[str]:
    """The second mode of ordered regression lines, when the runs show it."""
    reps = [
        m
        for m in missed
        if isinstance(by_name[m["program"]].program, RegressionProgram)
    ]
    if not reps:
        return []
    return [
        f"The mixtures of regressions ({len(reps)} of the replications above) "
        "order each line's value at the predictors' centre, `mu`, so the same "
        "happens when two lines cross near the centre of the data, however "
        "different their slopes. Replaying regression replication 39 "
        "(`python bench/sbc_replay.py regression 39 --inits map,truth,random`, "
        "which prints each chain's `mu` and slopes) shows it: the true lines "
        "have values -0.48 and 0.36 at the centre and slopes 2.5 and 0.41 along "
        "x1; four chains from the MAP all sit in a mode with values near 0.19 "
        "and 0.58 and slopes near 0.6 and 3.1 (mean log density -102.0 to "
        "-102.3 per chain); the four chains started at the true values sit in "
        "another, with values near -0.08 and 0.35 and the slopes swapped "
        "(-102.3 to -102.8), and the true lines lie in it; chains from Stan's "
        "random inits split two and two. Ordering the slopes of x1 instead "
        '(`order_by="x1"`; `... regression 39 --inits random --order-by x1`) '
        "leaves one mode there: four chains from random inits agree. In "
        "replication 53 the lines differ little in both (true values -0.99 "
        "and -0.24, slopes along x1 -0.22 and -0.64), and ordering the slopes "
        "does not remove the second mode: of four chains from random inits "
        "(`... regression 53 --inits random --order-by x1`) three agree and "
        "one sits in another mode, 4 units of log density lower.",
        "",
    ]


def _stuck(record: dict, settings: dict) -> bool:
    """A chain that spent most of its draws at the maximum tree depth."""
    return record["max_treedepth_hits"] >= settings["draws"] // 2


def findings_text(results: list[ProgramResult]) -> list[str]:
    """What the runs showed beyond the tables, with the evidence."""
    by_name = {r.program.name: r for r in results}
    lines = ["## What the runs show", ""]

    # 1. Modes the chains never visit.
    reps = max(len(r.records) + len(r.errors) for r in results)
    all_uniform = uniform(results)
    missed = [m for res in results for m in missed_mode_reps(res)]
    total = sum(len(r.records) for r in results)
    n = int(results[0].settings["n"])
    last = results[0].n_ranks - 1
    if missed:
        rows = [
            [
                m["program"],
                str(m["rep"]),
                f"{m['bad']} ({m['expected']:.1f})",
                f"{100 * m['extreme']:.0f}%",
                f"{m['gap']:.1f}",
                ", ".join(m["flags"]) or "-",
            ]
            for m in missed
        ]
        close = sum(m["gap"] < 2 for m in missed)
        lines += [
            "### Ordered means do not remove every mode",
            "",
            f"In {len(missed)} of {total} replications at least a fifth of the "
            f"{n} rows are given probability above 0.9 of a component they were "
            "not drawn from, where calibrated probabilities expect about one such "
            "row (in brackets):",
            "",
            table(
                [
                    "program",
                    "replication",
                    "rows wrongly assigned (expected)",
                    f"ranks at 0 or {last}",
                    "true anchor gap / posterior sd",
                    "flagged",
                ],
                rows,
            ),
            "",
            "The diagnostics flag few of them: the chains agree with each other, "
            "because they all start in the same posterior mode (from the MAP, "
            "jittered), and that mode is not the one the truth lies in. In "
            f"{close} of the {len(missed)} the two true anchor means are within "
            "two posterior sds of each other.",
            "",
            "The ordering constraint identifies the components only when their "
            "means along the anchor column are apart. When two anchor means are "
            "close, the ordered posterior has two modes for one clustering: the "
            "component with the smaller anchor mean is one cluster in the first "
            "and the other cluster in the second. Without the constraint the two "
            "are joined by letting the anchor means cross; with it, the only "
            "path between them swaps every other parameter of the two "
            "components at once, through a region of negligible density, so "
            "NUTS does not cross. This is the known limit of identifying "
            "mixtures by an ordering (Jasra, Holmes & Stephens 2005; Betancourt "
            "2017, *Identifying Bayesian mixture models*), not an error in the "
            "programs: the posterior has both modes and each chain samples the "
            "one it is in. Replaying normal_diag replication 21 shows it "
            "(`python bench/sbc_replay.py normal_diag 21 --inits map,truth,random`"
            "): the true anchor means are -2.29 and -2.21 (posterior sds about "
            "0.2); four chains from the MAP all sit in the mode with mean log "
            "density -177.0; four chains started at the true values stay in the "
            "other mode, at -177.8, so it holds a comparable share of the "
            "posterior; four chains from Stan's random inits split two and two, "
            "which the estimator detects as label switching and relabels "
            "(Stephens). The univariate three-component program's misses are "
            "the other classic mixture multimodality: two overlapping true "
            "components fitted as one and another cluster split in two.",
            "",
            *regression_modes_text(missed, by_name),
            f"At {reps} replications per program "
            + (
                "this leaves every rank test uniform, but it shows"
                if all_uniform
                else "it shows, besides the rank tests,"
            )
            + " in the membership calibration: the top "
            "probability bin holds more wrongly assigned rows than its mean "
            "probability allows (large binomial z in the table below, "
            "concentrated in these few replications, as the much smaller "
            "replication-clustered z shows). The estimator's default anchor, "
            "the column along which the k-means centres are best separated, is "
            "chosen to make close anchor means less likely than the fixed "
            "`anchor_dim=0` used here (these runs do not measure by how much), "
            'and chains from dispersed starts (`init="random"`) expose a second '
            "mode as label switching.",
            "",
        ]

    # 2. Stephens' relabelling of ordered fits.
    relabelled = [(r, int(r.relabelled.sum())) for r in results]
    n_rel = sum(c for _, c in relabelled)
    if n_rel:
        last = results[0].n_ranks - 1
        naive, matched = [], []
        for res in results:
            for record in res.records:
                if "ranks_anchor_sorted" in record:
                    naive += [x in (0, last) for x in record["ranks_anchor_sorted"]]
                    matched += [x in (0, last) for x in record["ranks"]]
        counts = ", ".join(f"{r.program.name} {c}" for r, c in relabelled if c)
        lines += [
            "### Relabelled ordered fits",
            "",
            f"In {n_rel} replications ({counts}) the ordered program's chains "
            "moved between the two modes described above (or sat in different "
            "ones), the estimator reported label switching and relabelled the "
            'draws by Stephens\' algorithm (`relabel="auto"`), so its components '
            "are no longer sorted along the anchor. Comparing those draws with "
            "the truth sorted along the anchor would not be a rank of a "
            "well-defined quantity: "
            f"{100 * np.mean(naive):.0f}% of such ranks sit at 0 or {last}, against "
            f"{100 * np.mean(matched):.0f}% when the truth is labelled by the "
            "rule that labels the draws (2% expected). The tables use the "
            "latter; the columns *program's labelling* test the raw, ordered "
            "draws instead.",
            "",
        ]

    # 3. Full covariance with censored cells.
    full = by_name.get("normal_full_censored")
    if full is not None:
        degenerate, stuck, divergent = _singular_counts(full)
        kinds: dict[str, int] = {}
        for e in full.errors:
            first = e["error"].splitlines()[0]
            key = first.split("optimize failed: ")[-1][:70]
            kinds[key] = kinds.get(key, 0) + 1
        errors = "; ".join(f"{v} x '{k}'" for k, v in kinds.items())
        lines += [
            "### Full covariance with censored cells",
            "",
            f"Of its {len(full.records) + len(full.errors)} replications, "
            f"{len(full.errors)} fit(s) raised because every optimizer start "
            f"of the MAP failed ({errors or 'none'}); "
            f"{degenerate} started from a posterior mode with a correlation of "
            f"+-1 to three decimals, {stuck} had a chain at the maximum tree "
            f"depth for most of its draws, and {divergent} had divergent "
            "transitions (the other programs: "
            + ", ".join(
                f"{r.program.name} {sum(x['divergences'] > 0 for x in r.records)}"
                for r in results
                if r is not full and not r.program.data_from
            )
            + ").",
            "",
            "`full_cov.stan` keeps censoring exact: a row's only censored cell is "
            "integrated through the CDF of its conditional distribution given the "
            "row's observed cells, and with normal components so is a row whose "
            "only cells are two censored ones (here x below -2 and y above 1.5 "
            "together: the probability of their rectangle under the component's "
            "bivariate normal, by quadrature, once per distinct rectangle). Other "
            "rows with two or more censored cells, and all such rows under "
            "Student-t components, give each censored cell a latent value bounded "
            "by its limit. The marginal posterior of the model parameters is exact "
            "either way, but where latent values remain the joint density of "
            "parameters and latent values is unbounded: a component can take a "
            "correlation near +-1 and place the latent values of its rows on a "
            "line, each such row's density growing like 1 / sqrt(1 - rho^2), which "
            "outgrows the LKJ(2) prior times the Jacobian of the correlation's "
            "unconstrained transform once five rows do it. A posterior mode of that"
            " joint density can then be degenerate (rho = +-1), and chains started "
            "there need tiny steps.",
            "",
            "Until commit 7ff34bc the program sampled these data sets' doubly "
            "censored cells as latent values. The run at 6e93e91 found what "
            "that does: of 200 replications, 26 started from a mode with a "
            "correlation of +-1 to three decimals, 11 had a chain stuck at the "
            "maximum tree depth and 31 had divergent transitions (47 flagged); "
            'the same data sets from k-means starts (`init="kmeans"`) '
            "avoided the degenerate start (0 stuck chains) but not the "
            "divergences (32), the mark of the funnel between the latent "
            "values and the correlation and scales. The figures above are "
            "those of the program that integrates the two cells.",
            "",
        ]
        tied = by_name.get("normal_tied_censored")
        if tied is not None:
            t_degenerate, t_stuck, t_divergent = _singular_counts(tied)
            lines += [
                "A tied covariance (normal_tied_censored, one correlation for "
                "all components) is built the same way: of its "
                f"{len(tied.records) + len(tied.errors)} replications, "
                f"{len(tied.errors)} fit(s) raised, {t_degenerate} started from "
                f"a mode with a correlation of +-1 to three decimals, {t_stuck} "
                f"had a stuck chain and {t_divergent} had divergent transitions "
                f"(with latent values, at 6e93e91: 4, 4 and 20 of 199); ranks "
                f"{verdict(tied, 'all')} on all replications.",
                "",
            ]
    return lines
