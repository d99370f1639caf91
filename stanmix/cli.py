"""The ``stanmix`` command line.

``stanmix demo`` fits the bundled five-cluster example on the embedded
engine, prints the result and writes it, with an HTML report, to a folder
(``./stanmix-demo`` by default). ``stanmix fit data.csv ...`` fits a CSV
file and writes the posterior, the summary and membership tables and the
report to a folder.

Exit codes: 0 success, 2 bad input (with a message naming the problem),
1 any other failure. A failed or interrupted run leaves no partial file in
the output folder.
"""

from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from stanmix.exceptions import StanmixInputError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stanmix", description="Bayesian clustering with finite mixture models."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser(
        "demo",
        help="fit the bundled five-cluster example and write a report",
        description="Fit 5 two-dimensional clusters with NUTS, print the result "
        "and write posterior, tables and an HTML report to --out.",
    )
    demo.add_argument("--n", type=int, default=500, help="observations [500]")
    demo.add_argument("--engine", default="stanli", help="stanli | cmdstan | auto")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--draws", type=int, default=1000, help="draws per chain")
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("stanmix-demo"),
        help="output folder [./stanmix-demo]",
    )
    demo.add_argument("--no-progress", action="store_true", help="no progress bars")

    fit = sub.add_parser(
        "fit",
        help="fit a CSV file",
        description="Fit a mixture (normal or Student-t components; diagonal, "
        "spherical, full or tied covariance) to the numeric columns of a CSV "
        "file and write posterior.nc, summary.csv, membership.csv and "
        "report.html to --out.",
    )
    fit.add_argument("data", type=Path, help="CSV file with a header row")
    fit.add_argument("--components", "-k", type=int, required=True)
    fit.add_argument("--columns", help="comma-separated columns [all numeric]")
    fit.add_argument(
        "--family",
        default="normal",
        choices=["normal", "student_t"],
        help="component distribution [normal]",
    )
    fit.add_argument(
        "--covariance",
        default="diag",
        choices=["diag", "spherical", "full", "tied"],
        help="covariance structure of each component [diag]",
    )
    fit.add_argument(
        "--lower-limit",
        action="append",
        default=[],
        metavar="COL=VALUE",
        help="detection limit of a column: cells recorded at this value are "
        "left-censored (true value <= limit); a value below it is an error "
        "(repeatable)",
    )
    fit.add_argument(
        "--upper-limit",
        action="append",
        default=[],
        metavar="COL=VALUE",
        help="upper limit of a column: cells recorded at this value are "
        "right-censored (true value >= limit); a value above it is an error "
        "(repeatable)",
    )
    fit.add_argument(
        "--method", default="sample", choices=["sample", "optimize", "variational"]
    )
    fit.add_argument("--engine", default="auto", help="stanli | cmdstan | auto")
    fit.add_argument("--chains", type=int, default=4)
    fit.add_argument("--draws", type=int, default=1000)
    fit.add_argument("--seed", type=int, default=1)
    fit.add_argument("--out", type=Path, required=True, help="output folder")
    fit.add_argument("--title", help="title of the HTML report")
    fit.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _limits(items: list[str], flag: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items:
        col, sep, value = item.partition("=")
        col = col.strip()
        if not sep or not col:
            raise StanmixInputError(f"{flag} expects COLUMN=VALUE, got {item!r}")
        try:
            number = float(value)
        except ValueError:
            raise StanmixInputError(
                f"{flag} {item!r}: {value.strip()!r} is not a number"
            ) from None
        if not math.isfinite(number):
            raise StanmixInputError(f"{flag} {item!r}: the limit must be finite")
        if col in out:
            raise StanmixInputError(f"{flag} gives column {col!r} twice")
        out[col] = number
    return out


def _check_limits(
    df: pd.DataFrame, lower: dict[str, float], upper: dict[str, float]
) -> None:
    """Limits name fitted columns, are consistent, and no value lies beyond one."""
    columns = [str(c) for c in df.columns]
    for flag, limits in (("--lower-limit", lower), ("--upper-limit", upper)):
        for col in limits:
            if col not in columns:
                raise StanmixInputError(
                    f"{flag} names column {col!r}, which is not among the fitted "
                    f"columns ({', '.join(columns)})"
                )
    for col in set(lower) & set(upper):
        if lower[col] >= upper[col]:
            raise StanmixInputError(
                f"--lower-limit {col}={lower[col]:g} is not below --upper-limit "
                f"{col}={upper[col]:g}"
            )
    for flag, limits, beyond, word in (
        ("--lower-limit", lower, np.less, "below"),
        ("--upper-limit", upper, np.greater, "above"),
    ):
        for col, limit in limits.items():
            values = df[col].to_numpy(dtype=float)
            bad = np.flatnonzero(beyond(values, limit))
            if bad.size:
                lines = ", ".join(str(i + 2) for i in bad[:5])
                more = f" and {bad.size - 5} more" if bad.size > 5 else ""
                raise StanmixInputError(
                    f"{flag} {col}={limit:g}: {bad.size} value(s) of column {col!r} "
                    f"lie {word} the limit (line(s) {lines}{more} of the file); "
                    "censored values must be recorded at the limit itself"
                )


def _read_csv(path: Path, columns: str | None) -> pd.DataFrame:
    if not path.is_file():
        raise StanmixInputError(f"data file {str(path)!r} does not exist")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise StanmixInputError(f"cannot read {str(path)!r} as CSV: {err}") from None
    if df.shape[0] == 0:
        raise StanmixInputError(f"{path.name} has a header but no data rows")
    df.columns = [str(c).strip() for c in df.columns]
    if columns is not None:
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
        if not wanted:
            raise StanmixInputError(f"--columns {columns!r} names no column")
        if len(set(wanted)) != len(wanted):
            raise StanmixInputError(f"--columns {columns!r} names a column twice")
        missing = [c for c in wanted if c not in df.columns]
        if missing:
            raise StanmixInputError(
                f"column(s) {', '.join(map(repr, missing))} not in {path.name} "
                f"(columns: {', '.join(map(str, df.columns))})"
            )
        df = df[wanted]
        for col in wanted:
            if pd.api.types.is_bool_dtype(df[col]) or not (
                pd.api.types.is_numeric_dtype(df[col])
            ):
                raise StanmixInputError(_not_numeric(df[col], path.name))
    else:
        numeric = df.select_dtypes("number")
        numeric = numeric.loc[
            :, [not pd.api.types.is_bool_dtype(numeric[c]) for c in numeric]
        ]
        if numeric.shape[1] == 0:
            raise StanmixInputError(
                f"{path.name} has no numeric columns; its columns are "
                f"{', '.join(map(str, df.columns))}"
            )
        skipped = [c for c in df.columns if c not in numeric.columns]
        for col in skipped:
            parsed = pd.to_numeric(df[col], errors="coerce")
            if parsed.notna().any():
                raise StanmixInputError(
                    _not_numeric(df[col], path.name)
                    + "; or leave the column out with --columns"
                )
        if skipped:
            print(
                f"Using the numeric columns {', '.join(numeric.columns)} "
                f"(skipping {', '.join(skipped)}; choose with --columns)"
            )
        df = numeric
    return df


def _not_numeric(series: pd.Series, name: str) -> str:
    parsed = pd.to_numeric(series, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy() & series.notna().to_numpy())
    if bad.size:
        i = int(bad[0])
        return (
            f"column {series.name!r} of {name} is not numeric: line {i + 2} has "
            f"{series.iloc[i]!r}"
            + (f" ({bad.size} such entries)" if bad.size > 1 else "")
            + "; give censored values as numbers at their limit with "
            "--lower-limit / --upper-limit, and missing values as empty cells"
        )
    return f"column {series.name!r} of {name} is not numeric"


def _check_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise StanmixInputError(
            f"--out {str(out)!r} exists and is not a folder; choose another path"
        )


def _print_fit(model) -> None:
    with pd.option_context("display.width", 120, "display.precision", 3):
        print(model.summary().iloc[:, :9].to_string())
    if model.label_switching_ is not None:
        print("\nLabel switching check (raw draws):", model.label_switching_)
    if model.relabel_report_ is not None:
        print("\n" + str(model.relabel_report_))
    membership = model.membership()
    wide = membership.pivot(index="observation", columns="component", values="mean")
    print("\nMembership probabilities, first 5 observations:")
    print(wide.head().round(3).to_string())


def _progress(args) -> bool | None:
    """None lets the fit decide (a bar on a terminal); False switches bars off."""
    return False if args.no_progress else None


def _write(model, out: Path, args, title: str | None) -> None:
    from stanmix.output import write_results

    show = not args.no_progress and bool(getattr(sys.stderr, "isatty", lambda: False)())
    write_results(model, out, title=title, progress=show)
    print(f"\nResults written to {out}/ (posterior.nc, summary.csv, membership.csv)")
    print(f"Report: {out / 'report.html'}")


def _demo(args) -> int:
    import stanmix as sm
    from stanmix import datasets

    for name in ("n", "draws"):
        if getattr(args, name) < 1:
            raise StanmixInputError(f"--{name} must be at least 1")
    _check_out(args.out)
    data = datasets.blobs(args.n, seed=args.seed)
    print(f"stanmix demo: {args.n} points from 5 two-dimensional clusters")
    model = sm.DiagonalMixture(5, engine=args.engine)
    start = time.perf_counter()
    model.fit(
        data.X,
        method="sample",
        seed=args.seed,
        draws=args.draws,
        warmup=args.draws,
        show_progress=_progress(args),
    )
    elapsed = time.perf_counter() - start
    print(
        f"engine {model.engine_} {model.engine_version_}; 4 chains x {args.draws} "
        f"draws in {elapsed:.1f} s; anchor dimension "
        f"{model.cells_.columns[model.anchor_]!r}\n"
    )
    _print_fit(model)
    from scipy.optimize import linear_sum_assignment

    labels = model.predict(data.X)
    table = np.zeros((5, 5))
    np.add.at(table, (labels, data.labels), 1)
    rows, cols = linear_sum_assignment(-table)
    accuracy = table[rows, cols].sum() / labels.size
    print(f"\nAgreement of predicted clusters with the truth: {accuracy:.1%}")
    _write(model, args.out, args, f"stanmix demo: {args.n} points, 5 clusters")
    return 0


def _fit(args) -> int:
    import stanmix as sm

    if args.components < 1:
        raise StanmixInputError(
            f"--components must be at least 1, got {args.components}"
        )
    _check_out(args.out)
    lower = _limits(args.lower_limit, "--lower-limit")
    upper = _limits(args.upper_limit, "--upper-limit")
    df = _read_csv(args.data, args.columns)
    _check_limits(df, lower, upper)
    model = sm.Mixture(
        args.components,
        family=args.family,
        covariance=args.covariance,
        engine=args.engine,
    )
    model.fit(
        df,
        method=args.method,
        seed=args.seed,
        chains=args.chains,
        draws=args.draws,
        lower_limit=lower or None,
        upper_limit=upper or None,
        show_progress=_progress(args),
    )
    _print_fit(model)
    _write(
        model,
        args.out,
        args,
        args.title or f"{args.data.name}: {args.components}-component mixture",
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``stanmix`` command; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        return _demo(args) if args.command == "demo" else _fit(args)
    except StanmixInputError as err:
        print(f"stanmix: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("stanmix: interrupted; no partial output was kept", file=sys.stderr)
        return 1
    except Exception as err:
        print(f"stanmix: failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
