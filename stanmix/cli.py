"""The ``stanmix`` command line.

``stanmix demo`` fits the bundled five-cluster example on the embedded
engine and prints the result. ``stanmix fit data.csv ...`` fits a CSV file
and writes the posterior, summary and membership tables to a folder.

Exit codes: 0 success, 2 bad input (with a message naming the problem),
1 any other failure.
"""

from __future__ import annotations

import argparse
import logging
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

    demo = sub.add_parser("demo", help="fit the bundled five-cluster example")
    demo.add_argument("--n", type=int, default=500, help="observations [500]")
    demo.add_argument("--engine", default="stanli", help="stanli | cmdstan | auto")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--draws", type=int, default=1000, help="draws per chain")
    demo.add_argument("--out", type=Path, default=None, help="also write results here")

    fit = sub.add_parser("fit", help="fit a CSV file")
    fit.add_argument("data", type=Path, help="CSV file with a header row")
    fit.add_argument("--components", "-k", type=int, required=True)
    fit.add_argument("--columns", help="comma-separated columns [all numeric]")
    fit.add_argument(
        "--lower-limit",
        action="append",
        default=[],
        metavar="COL=VALUE",
        help="detection limit: values at or below are left-censored (repeatable)",
    )
    fit.add_argument(
        "--upper-limit",
        action="append",
        default=[],
        metavar="COL=VALUE",
        help="upper limit: values at or above are right-censored (repeatable)",
    )
    fit.add_argument(
        "--method", default="sample", choices=["sample", "optimize", "variational"]
    )
    fit.add_argument("--engine", default="auto")
    fit.add_argument("--chains", type=int, default=4)
    fit.add_argument("--draws", type=int, default=1000)
    fit.add_argument("--seed", type=int, default=1)
    fit.add_argument("--out", type=Path, required=True, help="output folder")
    return parser


def _limits(items: list[str], flag: str) -> dict[str, float]:
    out = {}
    for item in items:
        col, sep, value = item.partition("=")
        if not sep or not col:
            raise StanmixInputError(f"{flag} expects COLUMN=VALUE, got {item!r}")
        try:
            out[col] = float(value)
        except ValueError:
            raise StanmixInputError(
                f"{flag} {item!r}: {value!r} is not a number"
            ) from None
    return out


def _read_csv(path: Path, columns: str | None) -> pd.DataFrame:
    if not path.is_file():
        raise StanmixInputError(f"data file {str(path)!r} does not exist")
    try:
        df = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise StanmixInputError(f"cannot read {str(path)!r} as CSV: {err}") from None
    if columns:
        wanted = [c.strip() for c in columns.split(",") if c.strip()]
        missing = [c for c in wanted if c not in df.columns]
        if missing:
            raise StanmixInputError(
                f"column(s) {', '.join(map(repr, missing))} not in {path.name} "
                f"(columns: {', '.join(map(str, df.columns))})"
            )
        df = df[wanted]
    else:
        df = df.select_dtypes("number")
        if df.shape[1] == 0:
            raise StanmixInputError(f"{path.name} has no numeric columns")
    return df


def _print_fit(model, truth=None) -> None:
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


def _demo(args) -> int:
    import stanmix as sm
    from stanmix import datasets

    data = datasets.blobs(args.n, seed=args.seed)
    print(f"stanmix demo: {args.n} points from 5 two-dimensional clusters")
    model = sm.DiagonalMixture(5, engine=args.engine)
    start = time.perf_counter()
    model.fit(
        data.X, method="sample", seed=args.seed, draws=args.draws, warmup=args.draws
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
    if args.out is not None:
        from stanmix.output import write_results

        write_results(model, args.out)
        print(f"Results written to {args.out}/")
    return 0


def _fit(args) -> int:
    import stanmix as sm

    df = _read_csv(args.data, args.columns)
    lower = _limits(args.lower_limit, "--lower-limit")
    upper = _limits(args.upper_limit, "--upper-limit")
    model = sm.DiagonalMixture(args.components, engine=args.engine)
    model.fit(
        df,
        method=args.method,
        seed=args.seed,
        chains=args.chains,
        draws=args.draws,
        lower_limit=lower or None,
        upper_limit=upper or None,
        show_progress=True,
    )
    from stanmix.output import write_results

    write_results(model, args.out)
    _print_fit(model)
    print(f"\nResults written to {args.out}/")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``stanmix`` command."""
    args = _parser().parse_args(argv)
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
