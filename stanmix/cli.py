"""The ``stanmix`` command line.

``stanmix demo`` fits the bundled five-cluster example on the embedded
engine, prints the result and writes it, with an HTML report, to a folder
(``./stanmix-demo`` by default). ``stanmix fit data.csv ...`` fits a CSV
file and writes the posterior, the summary and membership tables and the
report to a folder; ``stanmix fit-regression data.csv --response y ...``
does the same for a mixture of regressions of one column on others.
``stanmix select`` and ``stanmix select-regression`` fit a range of
numbers of components, choose one and write it with ``selection.csv``.

Exit codes: 0 success; 2 a bad flag or bad data (``stanmix: error: ...``,
reported before any fitting); 1 any other failure (``stanmix: failed:
...``) and Ctrl-C (``stanmix: interrupted; no partial output was kept``). A
failed or interrupted run leaves the output folder as it was. A run replaces
the result files (:data:`stanmix.output.RESULT_FILES`) an earlier run left
in the folder, removing those it does not write, and leaves other files
alone; a data file that is one of them is refused.

Ctrl-C is handled by an :class:`~stanmix.output.InterruptGuard` that
:func:`main` installs before anything else; this module imports only the
standard library at the top, so the numerical libraries load under it. Once
the results are in place the run is complete, and a later Ctrl-C is ignored.

Standard error carries only stanmix's own messages (``stanmix: warning:
...``) and progress bars; the warnings and log messages of the libraries
underneath are shown with ``--verbose``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import math
import re
import shlex
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from stanmix.exceptions import StanmixInputError
from stanmix.output import InterruptGuard, check_output_folder

TYPE_CHECKING = False  # typing is slow to import; this module loads before main
if TYPE_CHECKING:
    from typing import NoReturn

    import numpy as np
    import pandas as pd

    from stanmix.cells import CellTable
    from stanmix.csv_input import CsvTable

logger = logging.getLogger("stanmix")

#: Largest accepted ``--seed`` (and count): seeds are unsigned 32-bit in
#: stanli and CmdStan and stored as signed 32-bit integers in the results.
INT_MAX = 2**31 - 1

INTERRUPTED = "stanmix: interrupted; no partial output was kept"

#: Defaults of --chains, --warmup, --draws and --adapt-delta: fit's own
#: (warmup None: the fit's choice, 100 with the Laplace metric and 1000 with
#: windowed adaptation). Written out, not imported, so that the command
#: loads no numerical library before it runs; tests/test_cli.py checks that
#: they agree with stanmix.inference.settings.
SAMPLING_DEFAULTS = {
    "chains": 4,
    "warmup": None,
    "draws": 1000,
    "adapt_delta": 0.95,
    "algorithm": "meanfield",
}
#: The sampling flags each --method uses (settings.METHOD_ARGS, by method).
SAMPLING_FLAGS = {
    "sample": ("chains", "warmup", "draws", "adapt_delta"),
    "variational": ("draws", "algorithm"),
    "optimize": (),
}
#: What a sampling flag sets under each --method that uses it (its help).
SAMPLING_HELP = {
    ("chains", "sample"): "NUTS chains",
    ("warmup", "sample"): "NUTS warmup iterations per chain",
    ("draws", "sample"): "draws kept per chain",
    ("draws", "variational"): "draws in all",
    ("adapt_delta", "sample"): "NUTS target acceptance",
    ("algorithm", "variational"): "ADVI's approximation: meanfield (independent "
    "normals) or fullrank (one multivariate normal)",
}
#: The --method choices of fit and fit-regression, and of select.
FIT_METHODS = ("sample", "optimize", "variational")
SELECT_METHODS = ("sample", "optimize")
FIT_METHOD_HELP = (
    "sample: NUTS draws from the posterior [default]; optimize: the posterior "
    "mode, the best of several L-BFGS starts; variational: ADVI's approximation"
)
#: Components of the demo's mixture (the bundled example's clusters); the
#: fewest points (--n) it can be fitted to.
DEMO_COMPONENTS = 5


# -- flags ---------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """Reports a bad flag as a StanmixInputError, like every other input."""

    def error(self, message: str) -> NoReturn:
        raise StanmixInputError(f"{message} (see '{self.prog} --help')")


def _whole(low: int, *, whole_range: bool = False) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to :data:`INT_MAX`.

    ``whole_range`` states both bounds in the message (for --seed).
    """

    def parse(text: str) -> int:
        if not re.fullmatch(r"\s*[+-]?[0-9]+\s*", text):
            raise argparse.ArgumentTypeError(f"expects a whole number, got {text!r}")
        value = int(text)
        if whole_range and not low <= value <= INT_MAX:
            raise argparse.ArgumentTypeError(
                f"must be from {low} to {INT_MAX} (2**31 - 1), got {value}"
            )
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        if value > INT_MAX:
            raise argparse.ArgumentTypeError(
                f"must be at most {INT_MAX} (2**31 - 1), got {value}"
            )
        return value

    return parse


def _fraction(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expects a number between 0 and 1, got {text!r}"
        ) from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(
            f"must be between 0 and 1 (exclusive), got {text}"
        )
    return value


def _sampling_help(name: str, methods: tuple[str, ...] | None) -> str:
    """What sampling flag ``name`` sets, under the --method choices
    ``methods`` that use it (None: the command always samples, and has no
    --method flag)."""
    if methods is None:
        return SAMPLING_HELP[name, "sample"]
    return ", or ".join(
        f"{SAMPLING_HELP[name, method]} (--method {method})"
        for method in methods
        if name in SAMPLING_FLAGS[method]
    )


def _common(
    sub: argparse.ArgumentParser,
    sampling_default: dict | None,
    methods: tuple[str, ...] | None,
) -> None:
    """Flags of every command. ``sampling_default`` None: unset unless given.

    ``methods`` are the command's --method choices, which the help of the
    sampling flags names; None for a command that always samples (demo).
    """
    defaults = sampling_default or dict.fromkeys(SAMPLING_DEFAULTS)
    shown = sampling_default or SAMPLING_DEFAULTS
    sub.add_argument(
        "--engine", help="stanli | cmdstan | auto [%(default)s]", metavar="NAME"
    )
    sub.add_argument(
        "--seed",
        type=_whole(0, whole_range=True),
        default=1,
        help=f"random seed, 0 to {INT_MAX} [%(default)s]",
    )
    sub.add_argument(
        "--chains",
        type=_whole(1),
        default=defaults["chains"],
        help=f"{_sampling_help('chains', methods)} [{shown['chains']}]",
    )
    sub.add_argument(
        "--warmup",
        type=_whole(0),
        default=defaults["warmup"],
        help=f"{_sampling_help('warmup', methods)} [100 where the Laplace "
        "approximation at the MAP gives the metric, else 1000]",
    )
    sub.add_argument(
        "--draws",
        type=_whole(1),
        default=defaults["draws"],
        help=f"{_sampling_help('draws', methods)} [{shown['draws']}]",
    )
    sub.add_argument(
        "--adapt-delta",
        type=_fraction,
        default=defaults["adapt_delta"],
        help=f"{_sampling_help('adapt_delta', methods)}; raise it (say to 0.99) "
        f"when transitions diverge [{shown['adapt_delta']}]",
    )
    if methods is not None and "variational" in methods:
        sub.add_argument(
            "--algorithm",
            choices=("meanfield", "fullrank"),
            default=defaults["algorithm"],
            help=f"{_sampling_help('algorithm', methods)} [{shown['algorithm']}]",
        )
    sub.add_argument("--no-progress", action="store_true", help="no progress bars")
    sub.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="also show the warnings and log of the libraries underneath",
    )


def _family_option_flag(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--family-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting of the component family, such as nu_shape=3 or "
        "nu_rate=0.1 (the gamma prior on each Student-t's degrees of freedom) "
        "(repeatable)",
    )


def _family_options(args: argparse.Namespace) -> dict[str, float] | None:
    """--family-option NAME=VALUE items as the estimators' ``family_options``
    (None when none is given).

    >>> _family_options(argparse.Namespace(family_option=["nu_shape=3"]))
    {'nu_shape': 3.0}
    """
    out: dict[str, float] = {}
    for item in args.family_option:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise StanmixInputError(
                f"--family-option expects NAME=VALUE, e.g. nu_shape=3, got {item!r}"
            )
        try:
            number = float(value)
        except ValueError:
            raise StanmixInputError(
                f"--family-option {item!r}: {value.strip()!r} is not a number"
            ) from None
        if name in out:
            raise StanmixInputError(f"--family-option gives {name!r} twice")
        out[name] = number
    return out or None


def _data_flags(sub: argparse.ArgumentParser) -> None:
    """The data and model flags of fit and select."""
    sub.add_argument("data", type=Path, help="CSV file with a header line")
    sub.add_argument(
        "--columns",
        help="comma-separated columns, a name holding a comma in double quotes "
        "[all numeric]",
    )
    _id_flag(sub)
    sub.add_argument(
        "--family",
        default="normal",
        choices=["normal", "student_t"],
        help="component distribution [normal]",
    )
    sub.add_argument(
        "--covariance",
        default="diag",
        choices=["diag", "spherical", "full", "tied"],
        help="covariance structure of each component [diag]",
    )
    _family_option_flag(sub)
    sub.add_argument(
        "--anchor",
        metavar="COL",
        help="the column along which the components' means are ordered (what "
        "tells the components apart) [where the clusters separate best]",
    )
    _limit_flags(sub, "a column", " (repeatable)")


#: What LIMIT of --lower-limit/--upper-limit COL=LIMIT may be, for the help.
_LIMIT_HELP = (
    "LIMIT is a number, or the name of a column of the file holding each row's "
    "limit (an empty cell: no limit in that row; that column is not fitted)"
)


def _limit_flags(sub: argparse.ArgumentParser, what: str, more: str) -> None:
    """--lower-limit, --upper-limit and --censored-text, of ``what`` (the
    columns they may censor, in words)."""
    sub.add_argument(
        "--lower-limit",
        action="append",
        default=[],
        metavar="COL=LIMIT",
        help=f"detection limit of {what}: cells recorded at their row's limit "
        "are left-censored (true value <= limit); a value below it is an error. "
        f"{_LIMIT_HELP}{more}",
    )
    sub.add_argument(
        "--upper-limit",
        action="append",
        default=[],
        metavar="COL=LIMIT",
        help=f"upper limit of {what}: cells recorded at their row's limit are "
        "right-censored (true value >= limit); a value above it is an error. "
        f"{_LIMIT_HELP}{more}",
    )
    sub.add_argument(
        "--censored-text",
        action="store_true",
        help=f"read cells{'' if what == 'a column' else ' of ' + what} written "
        "'<0.5' or '<=0.5' as left-censored at 0.5, and '>9' or '>=9' as "
        "right-censored at 9, each at its own limit (a limit the column is also "
        "given must agree with them)",
    )


def _id_flag(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--id",
        metavar="COLUMN",
        help="a column naming the rows (e.g. sample IDs, each once): "
        "membership.csv, the report and messages name rows by it [file line]",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="stanmix", description="Bayesian clustering with finite mixture models."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="fit the bundled five-cluster example and write a report",
        description=f"Fit {DEMO_COMPONENTS} two-dimensional clusters with NUTS, "
        "print the result and write posterior, tables and an HTML report to --out.",
    )
    demo.add_argument(
        "--n",
        type=_whole(DEMO_COMPONENTS),
        default=500,
        help=f"observations, at least {DEMO_COMPONENTS} (one per cluster) [500]",
    )
    demo.add_argument(
        "--out", default="stanmix-demo", help="output folder [./stanmix-demo]"
    )
    _common(demo, SAMPLING_DEFAULTS, None)
    demo.set_defaults(engine="stanli", components=DEMO_COMPONENTS, method="sample")

    fit = sub.add_parser(
        "fit",
        help="fit a CSV file",
        description="Fit a mixture (normal or Student-t components; diagonal, "
        "spherical, full or tied covariance) to the numeric columns of a CSV "
        "file and write posterior.nc, summary.csv, membership.csv and "
        "report.html to --out.",
    )
    fit.add_argument(
        "--components",
        "-k",
        type=_whole(1),
        required=True,
        help="number of clusters (mixture components)",
    )
    _data_flags(fit)
    fit.add_argument(
        "--method", default="sample", choices=FIT_METHODS, help=FIT_METHOD_HELP
    )
    fit.add_argument("--out", required=True, help="output folder")
    fit.add_argument("--title", help="title of the HTML report")
    _common(fit, None, FIT_METHODS)
    fit.set_defaults(engine="auto")

    select = sub.add_parser(
        "select",
        help="choose the number of components of a CSV file",
        description="Fit every number of components in --components, choose one "
        "by expected log predictive density (PSIS-LOO, or exact K-fold "
        "cross-validation where LOO is unreliable; the smallest converged K "
        "whose elpd is less than 4, or less than two standard errors of the "
        "difference, below the best), and write selection.csv with the chosen "
        "model's posterior.nc, summary.csv, membership.csv and report.html to "
        "--out.",
    )
    select.add_argument(
        "--components",
        "-k",
        type=_components,
        required=True,
        metavar="RANGE",
        help="the numbers of components to try: 1-8, or 2,3,5",
    )
    _data_flags(select)
    _selection_flags(select)
    select.add_argument("--out", required=True, help="output folder")
    select.add_argument("--title", help="title of the HTML report")
    _common(select, None, SELECT_METHODS)
    select.set_defaults(engine="auto")
    _regression_parser(sub, select=False)
    _regression_parser(sub, select=True)
    return parser


def _selection_flags(parser) -> None:
    """--method, --kfold and --jobs of select and select-regression."""
    parser.add_argument(
        "--method",
        default="sample",
        choices=SELECT_METHODS,
        help="sample: NUTS and LOO [default]; optimize: the mode and BIC",
    )
    parser.add_argument(
        "--kfold",
        type=_whole(2),
        default=None,
        help="folds of the cross-validation of a K whose LOO is unreliable "
        "(--method sample) [5]",
    )
    parser.add_argument(
        "--jobs",
        type=_whole(1),
        default=1,
        help="fits run at once, in worker processes [1]",
    )


def _components(text: str) -> tuple[range, ...]:
    """``"1-8"`` or ``"2,3,5"`` as ascending, non-overlapping ranges of
    positive ints (not expanded: :func:`_expand` lists them once their
    largest is known to fit the data)."""
    parts: list[range] = []
    try:
        for part in text.split(","):
            low, dash, high = part.strip().partition("-")
            start = int(low)
            parts.append(range(start, int(high) + 1 if dash else start + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a range such as 1-8 or a list such as 2,3,5"
        ) from None
    downward = [r for r in parts if not r]
    if downward:
        first = downward[0]
        raise argparse.ArgumentTypeError(
            f"{text!r}: the range {first.start}-{first.stop - 1} names no number "
            f"of components; a range runs upward, such as {first.stop - 1}-"
            f"{first.start}"
        )
    ranges = sorted(parts, key=lambda r: r.start)
    if ranges[0].start < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} includes {ranges[0].start}, but a number of components must "
            "be at least 1: leave it out, e.g. 1-8 or 2,3,5"
        )
    if any(b.start < a.stop for a, b in itertools.pairwise(ranges)):
        raise argparse.ArgumentTypeError(f"{text!r} names a number twice")
    return tuple(ranges)


def _largest(ranges: tuple[range, ...]) -> int:
    """The largest number of components in :func:`_components`' ranges.

    Examples
    --------
    >>> _largest(_components("2,5-7,3"))
    7
    """
    return max(r[-1] for r in ranges)


def _expand(ranges: tuple[range, ...]) -> list[int]:
    """Every number of components in :func:`_components`' ranges, ascending.

    Examples
    --------
    >>> _expand(_components("6,1-3"))
    [1, 2, 3, 6]
    """
    return [k for r in ranges for k in r]


def _out_folder(text: str) -> Path:
    """The --out folder; an empty one (an unset shell variable) is refused,
    not taken as the current folder."""
    if not text:
        raise StanmixInputError(
            "--out is empty; give a folder, such as --out results (is a shell "
            "variable in it unset?)"
        )
    return Path(text)


def _sampling(args: argparse.Namespace) -> dict[str, float]:
    """The --chains/--warmup/--draws/--adapt-delta of ``args.method``; refuse
    the others (and a sweep's --kfold, which refits NUTS fits only), and too
    few NUTS draws to check."""
    used = SAMPLING_FLAGS[args.method]
    unused = [
        f"--{name.replace('_', '-')}"
        for name in SAMPLING_DEFAULTS
        if name not in used and getattr(args, name, None) is not None
    ]
    if getattr(args, "kfold", None) is not None and args.method != "sample":
        unused.append("--kfold")
    if unused:
        verb = "does" if len(unused) == 1 else "do"
        raise StanmixInputError(
            f"{' and '.join(unused)} {verb} not apply to --method {args.method}; "
            f"leave {'it' if len(unused) == 1 else 'them'} out"
        )
    options = {}
    for name in used:
        value = getattr(args, name)
        options[name] = SAMPLING_DEFAULTS[name] if value is None else value
    from stanmix.inference.settings import MIN_NUTS_DRAWS

    if args.method == "sample" and options["draws"] < MIN_NUTS_DRAWS:
        raise StanmixInputError(
            f"--draws {options['draws']} is too few for NUTS: R-hat, the "
            "effective sample size and the check for label switching need at "
            f"least {MIN_NUTS_DRAWS} draws per chain; use --draws "
            f"{MIN_NUTS_DRAWS} or more (100 or more to check convergence)"
        )
    return options


def _given_limits(
    args: argparse.Namespace,
) -> tuple[dict[str, float | str], dict[str, float | str]]:
    """--lower-limit and --upper-limit (:func:`_limits`), read against the
    header of the data file (read only when either is given)."""
    header: list[str] = []
    if args.lower_limit or args.upper_limit:
        from stanmix.csv_input import read_header

        header = read_header(args.data)
    name = args.data.name
    return (
        _limits(args.lower_limit, "--lower-limit", header, name),
        _limits(args.upper_limit, "--upper-limit", header, name),
    )


def _limits(
    items: list[str], flag: str, header: list[str], name: str
) -> dict[str, float | str]:
    """--lower-limit or --upper-limit ``items``, COLUMN=LIMIT, by column: a
    limit for every row (a float), or the name of the column of per-row
    limits (a str; :func:`_limits_of` reads it from the file).

    An item is read against ``header``, the column names of the data file
    ``name``: at any of its '=' (a column's name may hold one), COLUMN must
    be a column, and LIMIT a finite number or another column. The one
    reading that works is taken; an item that several readings fit is
    refused (:func:`_ambiguous`); one that none fits is split at its last
    '=' (:func:`_unresolved`), for the checks after it to name what is wrong.

    Examples
    --------
    >>> header = ["x", "Cd=ICP", "lod", "1"]
    >>> _limits(["x=0.5", "Cd=ICP=lod"], "--lower-limit", header, "data.csv")
    {'x': 0.5, 'Cd=ICP': 'lod'}
    >>> _limits(["x=1"], "--lower-limit", header, "data.csv")
    ... # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    stanmix.exceptions.StanmixInputError: --lower-limit 'x=1' can be read 2
    ways: ...
    """
    out: dict[str, float | str] = {}
    for item in items:
        readings = _readings(item, header)
        if len(readings) > 1:
            raise _ambiguous(item, flag, readings, header, name)
        col, limit = readings[0] if readings else _unresolved(item, flag)
        if col in out:
            raise StanmixInputError(f"{flag} gives column {col!r} twice")
        out[col] = limit
    return out


def _finite(text: str) -> float | None:
    """``text`` as a finite number, or None."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _readings(item: str, header: list[str]) -> list[tuple[str, float | str]]:
    """Every reading of ``item`` as COLUMN=LIMIT against the file's column
    names ``header``: COLUMN a column, LIMIT a finite number (a float) or
    another column (a str), split at any '='.

    Examples
    --------
    >>> _readings("Cd=ICP=0.5", ["Cd", "Cd=ICP", "ICP=0.5"])
    [('Cd', 'ICP=0.5'), ('Cd=ICP', 0.5)]
    >>> _readings("x=lod", ["y", "lod"])
    []
    """
    columns = {h for h in header if h}
    out: list[tuple[str, float | str]] = []
    for at in (m.start() for m in re.finditer("=", item)):
        col, value = item[:at].strip(), item[at + 1 :].strip()
        if col not in columns:
            continue
        number = _finite(value)
        if number is not None:
            out.append((col, number))
        if value in columns and value != col:
            out.append((col, value))
    return out


def _reading(col: str, limit: float | str) -> str:
    """One reading of a COLUMN=LIMIT item, in words.

    >>> _reading("x", 1.0)
    "column 'x' at the limit 1.0 in every row"
    >>> _reading("x", "lod")
    "column 'x' at each row's limit in column 'lod'"
    """
    if isinstance(limit, float):
        return f"column {col!r} at the limit {limit!r} in every row"
    return f"column {col!r} at each row's limit in column {limit!r}"


def _ambiguous(
    item: str,
    flag: str,
    readings: list[tuple[str, float | str]],
    header: list[str],
    name: str,
) -> StanmixInputError:
    """The error for an item that several readings (:func:`_readings`) fit:
    its LIMIT is both a number and a column of the file (``header``, of file
    ``name``), or several of its '=' split it into columns; the fix is a new
    name for a column (or, for the number, another way to write it)."""
    ways = ", or ".join(_reading(col, limit) for col, limit in readings)
    if len({col for col, _ in readings}) == 1:  # LIMIT: a number and a column
        source = next(limit for _, limit in readings if isinstance(limit, str))
        number = next(limit for _, limit in readings if isinstance(limit, float))
        fix = (
            f"to use column {source!r}, rename it in {name} so that its name is "
            "not a number, and give the new name"
        )
        other = [t for t in (repr(number), f"{number:e}") if t not in header]
        if other:
            fix += f"; to use the number, write it as {other[0]}"
    else:
        named = [text for reading in readings for text in reading]
        renamed = [
            text
            for text in dict.fromkeys(named)
            if isinstance(text, str) and "=" in text
        ]
        fix = (
            f"rename {' or '.join(map(repr, renamed))} in {name} so that no "
            "column's name holds '=', and give the new name"
        )
    return StanmixInputError(
        f"{flag} {item!r} can be read {len(readings)} ways: {ways}; {fix}"
    )


def _unresolved(item: str, flag: str) -> tuple[str, float | str]:
    """An item that no column of the file fits as COLUMN=LIMIT, split at its
    last '=': refused when malformed, else left for the checks after it (a
    COLUMN that is not a fitted column, a LIMIT that is not a column)."""
    col, sep, value = item.rpartition("=")
    col, value = col.strip(), value.strip()
    if not sep or not col:
        raise StanmixInputError(
            f"{flag} expects COLUMN=LIMIT (a number, or a column of per-row "
            f"limits), got {item!r}"
        )
    if not value:
        raise StanmixInputError(
            f"{flag} {item!r} gives no limit: after '=' give a number, or the "
            "column of the file that holds each row's limit"
        )
    try:
        number = float(value)
    except ValueError:
        if value == col:
            raise StanmixInputError(
                f"{flag} {item!r}: a column cannot hold its own limits; give "
                f"a number, or another column holding each row's limit of {col}"
            ) from None
        return col, value  # a column of per-row limits; read_csv looks for it
    if not math.isfinite(number):
        raise StanmixInputError(f"{flag} {item!r}: the limit must be finite")
    return col, number


def _limit_sources(*given: tuple[str, dict[str, float | str]]) -> dict[str, str]:
    """The columns of per-row limits that (flag, limits) pairs name, each
    with how they name it (for messages).

    >>> _limit_sources(("--lower-limit", {"x": "lod", "y": 0.1, "z": "lod"}))
    {'lod': '--lower-limit x=lod and --lower-limit z=lod'}
    """
    sources: dict[str, list[str]] = {}
    for flag, limits in given:
        for col, limit in limits.items():
            if isinstance(limit, str):
                sources.setdefault(limit, []).append(f"{flag} {col}={limit}")
    return {source: " and ".join(uses) for source, uses in sources.items()}


def _check_sources(
    sources: dict[str, str], named: dict[str, list[str] | None], id_column: str | None
) -> None:
    """A column of per-row limits is not fitted: refuse it in the options
    ``named`` (option -> the columns it names) and as --id."""
    for source, given in sources.items():
        for flag, columns in named.items():
            if columns is not None and source in columns:
                raise StanmixInputError(
                    f"column {source!r} holds the per-row limits of {given}, so it "
                    f"is not fitted; leave it out of {flag}"
                )
        if source == id_column:
            raise StanmixInputError(
                f"column {source!r} is both the rows' names (--id) and the per-row "
                f"limits of {given}; leave it out of one"
            )


def _limits_of(
    table: CsvTable, flag: str, given: dict[str, float | str]
) -> dict[str, float | pd.Series]:
    """The limits of ``flag`` by column, as the checks and the fit use them:
    a float for every row, or a float Series indexed as ``table.frame`` (NaN:
    no limit in that row), named after the column of the file that holds
    it; with the limits of the cells written '<v' (or '>v', for
    --upper-limit) added, which must agree with the limit ``flag`` gives
    their row (a Series of only those is unnamed)."""
    import numpy as np
    import pandas as pd

    from stanmix.censoring import at_limit

    out = {
        col: limit if isinstance(limit, float) else table.limits[limit]
        for col, limit in given.items()
    }
    side = "<" if flag == "--lower-limit" else ">"
    for col, written in table.censored_limits(side).items():
        if col not in out:
            out[col] = written
            continue
        limit = out[col]
        row = _row_limits(limit, len(table.frame))
        cell = written.to_numpy(dtype=float)
        clash = np.flatnonzero(~np.isnan(cell) & ~np.isnan(row) & ~at_limit(cell, row))
        if clash.size:
            i = int(clash[0])
            text = table.censored[col].iloc[i]
            fix = (
                f"correct the cell, or give per-row limits ({flag} {col}=COLUMN)"
                if isinstance(limit, float)
                else f"correct the cell, or column {limit.name!r} on that line (an "
                "empty cell there leaves the row the cell's own limit)"
            )
            more = f" ({table.where(clash[1:])} too)" if clash.size > 1 else ""
            raise StanmixInputError(
                f"line {table.lines[i]} of {table.name} has {text!r} in column "
                f"{col!r}, but {_spell(flag, col, limit)} gives that row the limit "
                f"{row[i]:g}{more}; a cell has one limit: {fix}"
            )
        if not isinstance(limit, float):
            filled = np.where(np.isnan(row), cell, row)
            out[col] = pd.Series(filled, index=limit.index, name=limit.name)
    return out


def _row_limits(limit: float | pd.Series, n: int) -> np.ndarray:
    """A column's limit in each of its ``n`` rows (NaN: none)."""
    import numpy as np

    if isinstance(limit, float):
        return np.full(n, limit)
    return limit.to_numpy(dtype=float)


def _spell(flag: str, col: str, limit: float | pd.Series) -> str:
    """A column's limit as the user gave it, for messages.

    >>> import pandas as pd
    >>> _spell("--lower-limit", "x", 0.5), _spell("--lower-limit", "x",
    ...     pd.Series([0.5], name="lod"))
    ('--lower-limit x=0.5', '--lower-limit x=lod')
    >>> _spell("--upper-limit", "x", pd.Series([9.0]))
    "its cells written '>limit' with --censored-text"
    """
    if isinstance(limit, float):
        return f"{flag} {col}={limit:g}"
    if limit.name is not None:
        return f"{flag} {col}={limit.name}"
    sign = "<" if flag == "--lower-limit" else ">"
    return f"its cells written '{sign}limit' with --censored-text"


def _per_cell(
    frame: pd.DataFrame, limits: dict[str, float | pd.Series]
) -> pd.DataFrame | None:
    """``limits`` as the estimator takes them: ``{column: limit}`` where
    each limited column of ``frame`` has one, else a DataFrame of per-cell
    limits of those columns, indexed as ``frame`` (NaN: no limit in that
    cell); None without any."""
    import pandas as pd

    given = {c: v for c, v in limits.items() if c in frame.columns}
    if not given:
        return None
    if all(isinstance(limit, float) for limit in given.values()):
        return given  # one limit per column, as the Python API takes it
    return pd.DataFrame(
        {col: _row_limits(limit, len(frame)) for col, limit in given.items()},
        index=frame.index,
    )


# -- data checks (what would fit the wrong data, or fail in the engine) ---------
def _check_limits(
    table: CsvTable,
    lower: dict[str, float | pd.Series],
    upper: dict[str, float | pd.Series],
) -> None:
    """Limits name fitted columns, are consistent, and no value lies beyond
    its row's limit; a limit that no value meets is said (a wrong value, or
    other units)."""
    import warnings

    import numpy as np

    from stanmix.censoring import at_limit, limit_rounded_hint, piled_end

    df = table.frame
    n = len(df)
    columns = [str(c) for c in df.columns]
    for flag, limits in (("--lower-limit", lower), ("--upper-limit", upper)):
        for col in limits:
            if col not in columns:
                raise StanmixInputError(
                    f"{flag} names column {col!r}, which is not among the fitted "
                    f"columns ({', '.join(columns)})"
                )
    for col in [c for c in columns if c in lower and c in upper]:
        low, high = lower[col], upper[col]
        if isinstance(low, float) and isinstance(high, float):
            if low >= high:
                raise StanmixInputError(
                    f"--lower-limit {col}={low:g} is not below --upper-limit "
                    f"{col}={high:g}"
                )
            continue
        lo, hi = _row_limits(low, n), _row_limits(high, n)
        with np.errstate(invalid="ignore"):
            bad = np.flatnonzero(lo >= hi)
        if bad.size:
            i = int(bad[0])
            first = "the first: " if bad.size > 1 else ""
            raise StanmixInputError(
                f"the lower limit of column {col!r} "
                f"({_spell('--lower-limit', col, low)}) is not below its upper "
                f"limit ({_spell('--upper-limit', col, high)}) on "
                f"{table.where(bad)} of {table.name} ({first}{lo[i]:g} and "
                f"{hi[i]:g}); a row's lower limit must lie below its upper limit"
            )
    for flag, limits, beyond, word in (
        ("--lower-limit", lower, np.less, "below"),
        ("--upper-limit", upper, np.greater, "above"),
    ):
        for col, limit in limits.items():
            values = df[col].to_numpy(dtype=float)
            row = _row_limits(limit, n)
            at = at_limit(values, row)
            with np.errstate(invalid="ignore"):
                bad = np.flatnonzero(beyond(values, row) & ~at)
            spelled = _spell(flag, col, limit)
            if bad.size:
                if isinstance(limit, float):
                    where = f"the limit ({table.where(bad)} of {table.name})"

                    def spell(v: str, f: str = flag, c: str = col) -> str:
                        return f"{f} {c}={v}"
                else:
                    i = int(bad[0])
                    where = (
                        f"their row's limit ({table.where(bad)} of {table.name}; "
                        f"the first is {float(values[i])!r}, limit "
                        f"{float(row[i])!r})"
                    )

                    def spell(v: str, source: str = str(limit.name)) -> str:
                        return f"{v} in column {source!r} on those lines"

                raise StanmixInputError(
                    f"{spelled}: {bad.size} value(s) of column {col!r} lie {word} "
                    f"{where}; censored values must be recorded at the limit itself"
                    + limit_rounded_hint(values[bad], col, spell)
                )
            seen = values[~np.isnan(values)]
            # (with many values piled at the column's end, the fit's own
            # warning names that value as the likely limit)
            if at.any() or not seen.size or piled_end(seen, word == "below"):
                continue
            if isinstance(limit, float):
                nearest = np.nanmin(values) if word == "below" else np.nanmax(values)
                end = "lowest" if word == "below" else "highest"
                about = f"its {end} is {nearest:g}"
                check = "the limit's value"
            else:
                about = f"no value lies at its row's limit in column {limit.name!r}"
                check = "the limits' values"
            warnings.warn(
                f"{spelled} matches no value of column {col!r} of {table.name} "
                f"({about}), so nothing is censored there; check {check} and "
                "units",
                UserWarning,
                stacklevel=2,
            )


def _at_limit(
    values: np.ndarray,
    col: str,
    lower: dict[str, float | pd.Series],
    upper: dict[str, float | pd.Series],
) -> np.ndarray:
    """Where column ``col``'s ``values`` lie at their row's limit."""
    import numpy as np

    from stanmix.censoring import at_limit

    at = np.zeros(values.shape, dtype=bool)
    for limits in (lower, upper):
        if col in limits:
            at |= at_limit(values, _row_limits(limits[col], len(values)))
    return at


def _check_columns(
    table: CsvTable,
    lower: dict[str, float | pd.Series],
    upper: dict[str, float | pd.Series],
    leave_out: dict[str, str] | None = None,
) -> None:
    """Refuse a column that is empty, huge, constant, or censored throughout.

    ``leave_out`` maps a column to the advice on how to do without it (by
    default "leave it out with --columns", the option of fit and select).
    """
    import numpy as np

    from stanmix.cells import column_spread
    from stanmix.censoring import spread_problem

    if len(table.frame) == 1:
        raise StanmixInputError(
            f"{table.name} has one data row ({table.where(np.array([0]))}): a "
            "mixture is fitted to many rows; give the file more"
        )
    for col in table.frame.columns:
        values = table.frame[col].to_numpy(dtype=float)
        present = ~np.isnan(values)
        where = f"column {col!r} of {table.name}"
        advice = (leave_out or {}).get(str(col), "leave it out with --columns")
        if not present.any():
            raise StanmixInputError(
                f"{where} is empty: every cell is missing; fill it in, or {advice}"
            )
        with np.errstate(over="ignore", invalid="ignore"):
            spread = np.nanstd(values)
        if not np.isfinite(spread):
            largest = float(np.nanmax(np.abs(values)))
            raise StanmixInputError(
                f"{where} holds values too large to compute with (up to "
                f"{largest:.3g}); rescale the column, e.g. express it in larger "
                "units"
            )
        spread = float(column_spread(values[present][:, None])[0])
        problem = spread_problem(spread, it="the column")
        if problem:
            raise StanmixInputError(f"{where} {problem}")
        at = _at_limit(values, col, lower, upper)
        exact = np.unique(values[present & ~at])
        if exact.size == 0:
            limits = " and ".join(
                _spell(flag, str(col), limits[col])
                for flag, limits in (("--lower-limit", lower), ("--upper-limit", upper))
                if col in limits
            )
            raise StanmixInputError(
                f"every value of {where} lies at its limit ({limits}): the column "
                "is censored throughout and says nothing about where the clusters "
                f"lie in it; check the limit, or {advice}"
            )
        if exact.size == 1:
            other = " apart from the values at its limit" if at.any() else ""
            raise StanmixInputError(
                f"{where} has the same value ({exact[0]:g}) on every line with a "
                f"value{other}: a constant column cannot separate clusters and has "
                f"no spread to scale by; {advice}"
            )


def _check_components(
    table: CsvTable,
    largest: int,
    lower: dict[str, float | pd.Series],
    upper: dict[str, float | pd.Series],
    *,
    several: bool = False,
    hint_columns: list[str] | None = None,
) -> None:
    """Refuse more components (``largest``, the most of several with
    ``several``) than the rows, or the distinct rows, of the fitted columns,
    as the estimator would, naming --components/-k.

    Rows are distinct as the estimator counts them (their cells, censoring
    and covariates); ``hint_columns`` are those the hint about tied values
    looks at (by default all).
    """
    from stanmix.advice import tied_columns_hint

    head = (
        f"--components/-k goes up to {largest}, which is"
        if several
        else f"--components/-k {largest} is"
    )
    rows = len(table.frame)
    if largest > rows:
        raise StanmixInputError(
            f"{head} more than the {rows} rows of {table.name}; a mixture cannot "
            f"have more components than observations: use at most {rows}"
        )
    cells = _cells(table.frame, lower, upper)
    distinct = cells.n_distinct_rows()
    if largest <= distinct:
        return
    if hint_columns is not None:
        cells = _cells(table.frame[hint_columns], lower, upper)
    hint = tied_columns_hint(cells)
    raise StanmixInputError(
        f"{head} more than the {distinct} distinct rows among the {rows} of "
        f"{table.name}: the surplus components would sit on copies of the same "
        f"rows; use at most {distinct}{hint}"
    )


def _cells(
    frame: pd.DataFrame,
    lower: dict[str, float | pd.Series],
    upper: dict[str, float | pd.Series],
) -> CellTable:
    """The estimator's cell table of ``frame``, censored at the limits of its
    columns."""
    from stanmix.censoring import cell_table

    cells, _ = cell_table(
        frame,
        lower_limit=_per_cell(frame, lower),
        upper_limit=_per_cell(frame, upper),
        allow_empty_rows=True,
    )
    return cells


def _check_rows(table: CsvTable) -> None:
    """Refuse lines with no value in any fitted column."""
    import numpy as np

    empty = np.flatnonzero(table.frame.isna().all(axis=1).to_numpy())
    if empty.size:
        verb = "has" if empty.size == 1 else "have"
        columns = ", ".join(map(str, table.frame.columns))
        raise StanmixInputError(
            f"{table.where(empty)} of {table.name} {verb} every cell missing in the "
            f"fitted columns ({columns}); such a line says nothing about the "
            "clusters: delete it"
        )


def _check_censored_text(table: CsvTable, censored_text: bool) -> None:
    """Say that --censored-text (``censored_text``) does nothing when no cell
    of the fitted columns is written as censored: no option is silently
    ignored."""
    if not censored_text or table.censored:
        return
    import warnings

    from stanmix.csv_input import column_listing

    columns = column_listing(list(map(str, table.frame.columns)))
    warnings.warn(
        f"--censored-text: no cell of the fitted columns of {table.name} "
        f"({columns}) is written as censored ('<v', '<=v', '>v' or '>=v'), so "
        "the flag changes nothing; leave it out",
        UserWarning,
        stacklevel=2,
    )


# -- the run -------------------------------------------------------------------
def _make_model(args: argparse.Namespace, n_components: int | None = None):
    """The estimator the command fits (the one place that chooses it), its
    family and options checked; ``n_components`` by default --components."""
    import stanmix as sm

    model = sm.Mixture(
        args.components if n_components is None else n_components,
        family=getattr(args, "family", "normal"),
        covariance=getattr(args, "covariance", "diag"),
        family_options=_family_options(args)
        if hasattr(args, "family_option")
        else None,
        anchor_dim=(getattr(args, "anchor", None) or "").strip() or None,
        engine=args.engine,
    )
    model._make_family()
    return model


def _check_engine(name: str) -> None:
    import stanmix as sm

    sm.get_engine(name)


def _progress(args: argparse.Namespace) -> bool | None:
    """None lets the fit decide (a bar on a terminal); False switches bars off."""
    return False if args.no_progress else None


def _plan(
    table: CsvTable,
    args,
    options: dict,
    lower: dict,
    upper: dict,
    fitting: str | None = None,
) -> str:
    """One line saying what is about to be fitted (``fitting``: what, by
    default the number of components)."""
    from stanmix.csv_input import column_listing

    frame = table.frame
    columns = column_listing(list(map(str, frame.columns)))
    censored = sum(
        int(_at_limit(frame[c].to_numpy(dtype=float), c, lower, upper).sum())
        for c in frame.columns
    )
    missing = int(frame.isna().to_numpy().sum())
    cells = [
        f"{n} {word}" for n, word in ((censored, "censored"), (missing, "missing"))
    ]
    cells = [c for c in cells if not c.startswith("0 ")]
    extra = f"; {' and '.join(cells)} cells" if cells else ""
    if args.method == "sample":
        warmup = "auto" if options["warmup"] is None else options["warmup"]
        how = (
            f"NUTS ({_count(options['chains'], 'chain')}, {warmup} "
            f"warmup + {options['draws']} draws each)"
        )
    elif args.method == "variational":
        how = f"ADVI ({options['algorithm']}, {options['draws']} draws)"
    else:
        how = "the posterior mode"
    if fitting is None:
        fitting = _count(args.components, "component")
    return (
        f"Fitting {fitting} to {len(frame)} rows of "
        f"{table.name} (columns {columns}{extra}) by "
        f"{how}, seed {args.seed}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _say(*parts: object) -> None:
    """Print to standard output, surviving a closed pipe (``| head``).

    The run's product is the files in --out; a reader that stops reading
    ends the printing, not the run.
    """
    try:
        print(*parts, flush=True)
    except BrokenPipeError:
        import os

        # Further writes, and the flush at exit, go nowhere instead of failing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _significant(v: float) -> str:
    """Four significant digits, and one decimal from 1000 up.

    >>> [_significant(v) for v in (1.74123, 0.000104873, 5587.31, -123456.78)]
    ['1.741', '0.0001049', '5587.3', '-123456.8']
    """
    return f"{v:.1f}" if abs(v) >= 1000 else f"{v:.4g}"


def _summary_text(summary) -> str:
    """The summary table as the console shows it: effective sample sizes
    whole, everything else by :func:`_significant`."""
    whole = {c: "{:.0f}".format for c in summary.columns if str(c).startswith("ess")}
    return summary.to_string(formatters=whole, float_format=_significant)


def _print_fit(model) -> None:
    import pandas as pd

    if model.adaptation_ is not None:
        warmup = model.engine_result_info_["warmup"]
        _say(
            f"NUTS metric {model.metric_}, "
            + {
                "laplace": "from the Laplace approximation at the MAP, held "
                f"fixed through {warmup} warmup iterations that tune the step size",
                "none": "not adapted: the chains ran on the metric they started with",
            }.get(model.adaptation_, f"adapted over {warmup} warmup iterations")
        )
    with pd.option_context("display.width", 120, "display.precision", 3):
        _say(_summary_text(model.summary().iloc[:, :9]))
    if model.convergence_ is not None:
        _say(f"\n{model.convergence_}")
    if model.label_switching_ is not None:
        _say("\nLabel switching check (raw draws):", model.label_switching_)
    if model.relabel_report_ is not None:
        _say("\n" + str(model.relabel_report_))
    membership = model.membership()
    wide = membership.pivot(index="observation", columns="component", values="mean")
    wide = wide.loc[membership["observation"].unique()]  # the file's order
    _say("\nMembership probabilities, first 5 observations:")
    _say(wide.head().round(3).to_string())


def _write(model, args, title: str, guard: InterruptGuard, selection=None) -> None:
    """Write the results to --out and say which files it now holds, and
    which result files of an earlier run were removed."""
    from stanmix.output import RESULT_FILES, write_results

    show = not args.no_progress and bool(getattr(sys.stderr, "isatty", lambda: False)())
    _say(f"\nWriting the results and the report to {args.out}/")
    before = [
        name
        for name in RESULT_FILES
        if (args.out / name).is_file() or (args.out / name).is_symlink()
    ]
    files = write_results(
        model,
        args.out,
        title=title,
        progress=show,
        interrupts=guard,
        selection=selection,
        advice_wording=_as_flags,
    )
    written = {path.name for path in files}
    tables = [n for n in RESULT_FILES if n in written and n != "report.html"]
    _say(f"\nResults written to {args.out}/ ({', '.join(tables)})")
    _say(f"Report: {args.out / 'report.html'}")
    removed = [name for name in before if name not in written]
    if removed:
        _say(
            f"Removed the earlier run's {', '.join(removed)}, which this run does "
            "not write"
        )


def _demo(args: argparse.Namespace, guard: InterruptGuard) -> int:
    options = _sampling(args)
    check_output_folder(args.out, name="--out")
    _check_engine(args.engine)
    import numpy as np

    from stanmix import datasets

    data = datasets.blobs(args.n, seed=args.seed)
    _say(
        f"stanmix demo: {args.n} points from {DEMO_COMPONENTS} two-dimensional clusters"
    )
    model = _make_model(args)
    start = time.perf_counter()
    guard.check()
    model.fit(
        data.X,
        method="sample",
        seed=args.seed,
        show_progress=_progress(args),
        **options,
    )
    elapsed = time.perf_counter() - start
    guard.check()
    _say(
        f"engine {model.engine_} {model.engine_version_}; {options['chains']} "
        f"chains x {options['draws']} draws in {elapsed:.1f} s; anchor dimension "
        f"{model.cells_.columns[model.anchor_]!r}\n"
    )
    _print_fit(model)
    from scipy.optimize import linear_sum_assignment

    labels = model.predict(data.X)
    table = np.zeros((DEMO_COMPONENTS, DEMO_COMPONENTS))
    np.add.at(table, (labels, data.labels), 1)
    rows, cols = linear_sum_assignment(-table)
    accuracy = table[rows, cols].sum() / labels.size
    _say(f"\nAgreement of predicted clusters with the truth: {accuracy:.1%}")
    title = f"stanmix demo: {args.n} points, {DEMO_COMPONENTS} clusters"
    _write(model, args, title, guard)
    return 0


def _read(args: argparse.Namespace):
    """The checked CSV table and its limits (before any fitting)."""
    check_output_folder(args.out, name="--out", inputs=[args.data])
    given, given_upper = _given_limits(args)
    wanted = _column_list(args.columns, "--columns")
    sources = _limit_sources(("--lower-limit", given), ("--upper-limit", given_upper))
    _check_sources(sources, {"--columns": wanted}, _id_column(args))
    _check_engine(args.engine)
    from stanmix.csv_input import column_listing, read_csv

    table = read_csv(
        args.data,
        wanted,
        id_column=_id_column(args),
        limit_columns=sources,
        censored_text=args.censored_text,
    )
    _check_censored_text(table, args.censored_text)
    lower = _limits_of(table, "--lower-limit", given)
    upper = _limits_of(table, "--upper-limit", given_upper)
    fitted = list(map(str, table.frame.columns))
    if args.anchor is not None and args.anchor.strip() not in fitted:
        raise StanmixInputError(
            f"--anchor {args.anchor.strip()!r} is not a fitted column of "
            f"{table.name} (fitted: {column_listing(fitted)})"
        )
    if table.skipped:
        _say(
            "Using the numeric columns "
            f"{column_listing(list(map(str, table.frame.columns)))} "
            f"(skipping {', '.join(table.skipped)}; choose with --columns"
            f"{_id_hint(args, table)})"
        )
    _check_limits(table, lower, upper)
    _check_columns(table, lower, upper)
    _check_rows(table)
    return table, lower, upper


def _id_column(args: argparse.Namespace) -> str | None:
    """The --id column's name, stripped as the header's are."""
    if args.id is None:
        return None
    name = args.id.strip()
    if not name:
        raise StanmixInputError("--id is empty; name the column that names the rows")
    return name


def _id_hint(args: argparse.Namespace, table) -> str:
    """Advice to name rows by a skipped text column, when none names them."""
    if args.id is not None:
        return ""
    return f", or name the rows by one with --id {shlex.quote(table.skipped[0])}"


def _select(args: argparse.Namespace, guard: InterruptGuard) -> int:

    options = _sampling(args)
    table, lower, upper = _read(args)
    _check_components(table, _largest(args.components), lower, upper, several=True)
    template = _make_model(args, n_components=1)
    ks = ", ".join(map(str, _expand(args.components)))
    fitting = f"K = {ks} components ({args.family}, {args.covariance})"
    _say(_plan(table, args, options, lower, upper, fitting))
    guard.check()
    title = args.title or f"{table.name}: choosing the number of components"
    return _sweep(args, guard, table.frame, template, (lower, upper), options, title)


def _sweep(
    args: argparse.Namespace,
    guard: InterruptGuard,
    frame,
    template,
    limits: tuple[dict, dict],
    options: dict,
    title: str,
    **data,
) -> int:
    """select and select-regression: fit every K of --components, print the
    table and the choice, and write the chosen fit with selection.csv."""
    import stanmix as sm

    lower, upper = limits
    selection = sm.select_components(
        frame,
        _expand(args.components),
        estimator=template,
        method=args.method,
        seed=args.seed,
        n_jobs=args.jobs if args.jobs > 1 else None,
        progress=_progress(args) is not False,
        lower_limit=_per_cell(frame, lower),
        upper_limit=_per_cell(frame, upper),
        show_progress=False,
        **data,
        **({} if args.kfold is None else {"kfold": args.kfold}),
        **options,
    )
    guard.check()
    _say("")
    _say(_as_flags(str(selection)))
    model = selection.models_[selection.best_]
    _say(f"\nChosen: K = {selection.best_}\n")
    _print_fit(model)
    _write(model, args, title, guard, selection=selection)
    return 0


def _fit(args: argparse.Namespace, guard: InterruptGuard) -> int:
    options = _sampling(args)
    table, lower, upper = _read(args)
    _check_components(table, args.components, lower, upper)
    model = _make_model(args)
    _say(_plan(table, args, options, lower, upper))
    guard.check()
    model.fit(
        table.frame,
        method=args.method,
        seed=args.seed,
        lower_limit=_per_cell(table.frame, lower),
        upper_limit=_per_cell(table.frame, upper),
        show_progress=_progress(args),
        **options,
    )
    guard.check()
    _print_fit(model)
    title = args.title or f"{args.data.name}: {args.components}-component mixture"
    _write(model, args, title, guard)
    return 0


# -- console output --------------------------------------------------------------
#: Warnings meant for developers, not for someone running the command.
_DEVELOPER_WARNINGS = (
    DeprecationWarning,
    PendingDeprecationWarning,
    FutureWarning,
    ImportWarning,
    ResourceWarning,
)


def _ours(module: str) -> bool:
    return module == "stanmix" or module.startswith("stanmix.")


_KEYWORD = re.compile(
    r"\b(chains|warmup|draws|adapt_delta|seed|kfold)=(\d+(?:\.\d+)?)?"
)
_LIMIT = re.compile(r"\b(lower|upper)_limit=\{'([^']*)': ([^}]*)\}")
_CHOICE = re.compile(
    r"\b(method|engine|family|covariance|errors|algorithm)='([a-z_]+)'"
)
_COMPONENTS = re.compile(r"\bn_components=(\d+)")
_ANCHOR = re.compile(r"""\banchor_dim=(?:'([^']*)'|"([^"]*)")""")
_FAMILY_OPTION = re.compile(r"\bfamily_options\['(\w+)'\]")
#: A message about one K of a sweep (select), and where its figures are.
_SWEPT = re.compile(r"K=\d+: ")
_SWEPT_FIGURES = (
    "are in summary.csv if this K is chosen; selection.csv has every K's largest "
    "R-hat and smallest bulk ESS."
)
#: Advice naming what only Python sets, as the command line says it.
_PYTHON_ONLY = (
    (" or mark them in `censored`", ""),
    ("NaN cell(s) where a limit is given", "empty cell(s) in a column with a limit"),
    ("more starts (n_starts)", "more starts (n_starts, in Python)"),
    (
        "(init='map' or your own init=)",
        "(the MAP, the default, or your own init= in Python)",
    ),
    ("(the prior_* settings)", "(the prior_* settings, in Python)"),
    ("raise adapt_delta (", "raise --adapt-delta ("),
    ("raise max_treedepth= if", "raise max_treedepth= (in Python) if"),
    ("are in convergence_.table.", "are in summary.csv."),
    (", or kfold=None to keep the LOO estimate", ""),
    ("kfold must be", "--kfold must be"),
    ("n_components goes up to", "--components/-k goes up to"),
    (
        "RegressionMixture's own arguments (predictors, weights_from, order_by, "
        "prior_slope_scale, prior_gate_scale)",
        "flags of their own (--predictors, --weights-from, --order-by; "
        "prior_slope_scale and prior_gate_scale in Python)",
    ),
    ("family_options", "--family-option"),
    ("init='random' (chains from", "init='random' (in Python: chains from"),
    ("lower_limit of column", "--lower-limit of column"),
    ("upper_limit of column", "--upper-limit of column"),
    (
        "guided_prior_scale) bounds them; censored_components_ lists them.",
        "guided_prior_scale, in Python) bounds them; the report lists them.",
    ),
)


def _anchor_flag(column: str) -> str:
    """--anchor with a column name as a shell would take it.

    >>> _anchor_flag("y"), _anchor_flag("Cd ppb"), _anchor_flag("-x")
    ('--anchor y', "--anchor 'Cd ppb'", '--anchor=-x')
    """
    import shlex

    quoted = shlex.quote(column)
    return f"--anchor={quoted}" if column.startswith("-") else f"--anchor {quoted}"


def _as_flags(text: str) -> str:
    """stanmix's messages name the Python keywords; the command's user gets
    the flags that set them (``chains=2`` -> ``--chains 2``).

    >>> _as_flags("run chains=2 or more, or more draws (draws=, warmup=)")
    'run --chains 2 or more, or more draws (--draws, --warmup)'
    >>> _as_flags("adapt_delta=0.95 tunes it; init='map' has no flag")
    "--adapt-delta 0.95 tunes it; init='map' has no flag"
    >>> _as_flags("pass lower_limit={'y': 0.8} to censor them")
    'pass --lower-limit y=0.8 to censor them'
    >>> _as_flags("fit with method='optimize'; more starts (n_starts) help")
    'fit with --method optimize; more starts (n_starts, in Python) help'
    >>> _as_flags("n_components=5 is larger; or use engine='stanli'")
    '--components/-k 5 is larger; or use --engine stanli'
    >>> _as_flags("order by it with anchor_dim='y'.")
    'order by it with --anchor y.'
    >>> _as_flags("kfold must be at most 38, got kfold=39: use kfold=38 or fewer")
    '--kfold must be at most 38, got --kfold 39: use --kfold 38 or fewer'
    >>> _as_flags("family_options['nu_rate'] must be a positive number, got -1.0")
    '--family-option nu_rate must be a positive number, got -1.0'
    >>> _as_flags("K=2: R-hat 1.1. The figures of every parameter are in "
    ...           "convergence_.table.")  # doctest: +NORMALIZE_WHITESPACE
    "K=2: R-hat 1.1. The figures of every parameter are in summary.csv if this K
    is chosen; selection.csv has every K's largest R-hat and smallest bulk ESS."
    """

    def flag(match: re.Match) -> str:
        name, value = match[1].replace("_", "-"), match[2]
        return f"--{name}" + (f" {value}" if value else "")

    text = _FAMILY_OPTION.sub(lambda m: f"--family-option {m[1]}", text)
    if _SWEPT.match(text):  # a fit of select's sweep: one K of several
        text = text.replace("are in convergence_.table.", _SWEPT_FIGURES)
    for python, command in _PYTHON_ONLY:
        text = text.replace(python, command)
    text = _LIMIT.sub(lambda m: f"--{m[1]}-limit {m[2]}={m[3]}", text)
    text = _CHOICE.sub(lambda m: f"--{m[1]} {m[2]}", text)
    text = _COMPONENTS.sub(lambda m: f"--components/-k {m[1]}", text)
    text = _ANCHOR.sub(lambda m: _anchor_flag(m[1] if m[1] is not None else m[2]), text)
    return _KEYWORD.sub(flag, text)


class _ConsoleHandler(logging.Handler):
    """stanmix's warnings and errors on stderr; everything else only verbose."""

    def __init__(self, verbose: bool) -> None:
        super().__init__(logging.DEBUG)
        self.verbose = verbose

    def emit(self, record: logging.LogRecord) -> None:
        ours = _ours(record.name)
        if not (self.verbose or (ours and record.levelno >= logging.WARNING)):
            return
        try:
            source = "stanmix" if ours else record.name
            message = record.getMessage()
            text = f"{source}: {record.levelname.lower()}: " + (
                _as_flags(message) if ours else message
            )
            if record.exc_info and self.verbose:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            sys.stderr.write(text + "\n")
            sys.stderr.flush()
        except Exception:
            self.handleError(record)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Send a warning to the log: stanmix's own as a message for the user."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") == "warnings":
        frame = frame.f_back
    caller = "" if frame is None else str(frame.f_globals.get("__name__", ""))
    numpy_arithmetic = issubclass(category, RuntimeWarning) and (
        " encountered in " in str(message)
    )
    if (
        _ours(caller)
        and not issubclass(category, _DEVELOPER_WARNINGS)
        and not numpy_arithmetic
    ):
        logger.warning("%s", message)
    else:
        logging.getLogger("py.warnings").warning(
            "%s: %s (%s:%s)", category.__name__, message, filename, lineno
        )


@contextlib.contextmanager
def _console(verbose: bool) -> Iterator[None]:
    """Route log records, warnings and ignored exceptions to the console."""
    import warnings

    root = logging.getLogger()
    handler = _ConsoleHandler(verbose)
    level, last_resort = root.level, logging.lastResort
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    # Loggers outside the hierarchy (ArviZ makes one) end at the last resort.
    logging.lastResort = handler
    hook = sys.unraisablehook

    def unraisable(unraisable) -> None:
        if issubclass(unraisable.exc_type, KeyboardInterrupt):
            hook(unraisable)  # the InterruptGuard's
        else:
            logging.getLogger("py.unraisable").warning(
                "%s: %s (ignored in %r)",
                unraisable.exc_type.__name__,
                unraisable.exc_value,
                unraisable.object,
            )

    sys.unraisablehook = unraisable
    try:
        with warnings.catch_warnings():
            shown: set[str] = set()

            def once(message, category, *where, **more) -> None:
                # The command's checks and then the fit read the same data:
                # a warning about it is said once.
                if str(message) not in shown:
                    shown.add(str(message))
                    _show_warning(message, category, *where, **more)

            warnings.showwarning = once
            yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.lastResort = last_resort
        sys.unraisablehook = hook


# -- entry point -----------------------------------------------------------------
class _State:
    """What the report of a failed run needs to know about the run."""

    verbose = False


def _run(argv: list[str] | None, guard: InterruptGuard, state: _State) -> int:
    args, unknown = _parser().parse_known_args(argv)
    if unknown:
        raise StanmixInputError(
            f"unrecognized arguments: {' '.join(unknown)} (see 'stanmix "
            f"{args.command} --help')"
        )
    state.verbose = args.verbose
    args.out = _out_folder(args.out)
    commands = {
        "demo": _demo,
        "fit": _fit,
        "select": _select,
        "fit-regression": _fit_regression,
        "select-regression": _select_regression,
    }
    with _console(args.verbose):
        return commands[args.command](args, guard)


def _forget_interrupt() -> None:
    """Make the interpreter end with the exit code ``main`` returns.

    CPython records a KeyboardInterrupt that escapes code run by ``exec``
    on a string (as dataclasses do while a module is imported) and, under
    ``python -m``, ends the process with SIGINT at exit even though the
    interrupt was handled here. Running such code once more clears that
    record.
    """
    exec("None", {})


def _ended(err: BaseException, guard: InterruptGuard, state: _State) -> int:
    """Report how a run that raised ended; return the exit code."""
    if isinstance(err, SystemExit):
        code = err.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    if isinstance(err, KeyboardInterrupt) or guard.interrupted:
        print(INTERRUPTED, file=sys.stderr)
        _forget_interrupt()
        return 1
    if isinstance(err, StanmixInputError):
        print(f"stanmix: error: {_as_flags(str(err))}", file=sys.stderr)
        return 2
    if isinstance(err, Exception):
        print(
            f"stanmix: failed: {type(err).__name__}: {_as_flags(str(err))}",
            file=sys.stderr,
        )
        if state.verbose:
            import traceback

            traceback.print_exception(err, file=sys.stderr)
        return 1
    raise err


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``stanmix`` command; returns the exit code.

    Parameters
    ----------
    argv : list of str, optional
        The arguments. Without them (as the ``stanmix`` program) the
        arguments come from ``sys.argv``, and SIGINT is left ignored on
        return, so that the process ends with the returned code even when
        Ctrl-C comes while the interpreter shuts down.

    Returns
    -------
    int
        0 on success, 2 for bad input, 1 for any other failure or Ctrl-C.
    """
    guard = InterruptGuard(
        redeliver_late=False,
        handler_after=signal.SIG_IGN if argv is None else None,
    )
    state = _State()
    with guard:
        try:
            return guard.call(_run, argv, guard, state)
        except BaseException as err:
            return _ended(err, guard, state)


# -- fit-regression ------------------------------------------------------------
def _regression_parser(sub, *, select: bool) -> None:
    """fit-regression, or with ``select`` select-regression (a range of
    components, --kfold and --jobs, as select has)."""
    what = (
        "Fit a mixture of linear regressions of one column (the response, which "
        "may be censored or missing) on others (complete)"
    )
    if select:
        reg = sub.add_parser(
            "select-regression",
            help="choose the number of lines of a mixture of regressions",
            description=f"{what} with every number of components in "
            "--components, choose one as select does (by the expected log "
            "predictive density of the responses), and write selection.csv with "
            "the chosen model's posterior.nc, summary.csv, membership.csv and "
            "report.html to --out.",
        )
    else:
        reg = sub.add_parser(
            "fit-regression",
            help="fit a mixture of regressions to a CSV file",
            description=f"{what} and write posterior.nc, summary.csv, "
            "membership.csv and report.html to --out.",
        )
    reg.add_argument("data", type=Path, help="CSV file with a header line")
    reg.add_argument("--response", required=True, help="the response column")
    _id_flag(reg)
    if select:
        reg.add_argument(
            "--components",
            "-k",
            type=_components,
            required=True,
            metavar="RANGE",
            help="the numbers of regression lines to try: 1-4, or 1,2,4",
        )
    else:
        reg.add_argument(
            "--components",
            "-k",
            type=_whole(1),
            required=True,
            help="number of regression lines (mixture components)",
        )
    reg.add_argument(
        "--predictors",
        help="comma-separated predictor columns [every other numeric column "
        "not only in --weights-from]",
    )
    reg.add_argument(
        "--weights-from",
        help="comma-separated columns on which the mixing weights depend "
        "(multinomial logit) [constant weights]",
    )
    reg.add_argument(
        "--errors",
        default="normal",
        choices=["normal", "student_t"],
        help="error distribution within a component [normal]",
    )
    _family_option_flag(reg)
    reg.add_argument(
        "--order-by",
        default="intercept",
        metavar="NAME",
        help="what orders the components: 'intercept' (the lines at the "
        "predictors' means) or a predictor, whose slopes are ordered [intercept]",
    )
    _limit_flags(reg, "the response", "")
    methods = SELECT_METHODS if select else FIT_METHODS
    if select:
        _selection_flags(reg)
    else:
        reg.add_argument(
            "--method", default="sample", choices=FIT_METHODS, help=FIT_METHOD_HELP
        )
    reg.add_argument("--out", required=True, help="output folder")
    reg.add_argument("--title", help="title of the HTML report")
    _common(reg, None, methods)
    reg.set_defaults(engine="auto")


def _column_list(text: str | None, flag: str) -> list[str] | None:
    """Column names separated by commas, a name holding a comma in double
    quotes, as in the CSV file's header.

    >>> _column_list('"Pb, ppb", Cd', "--columns")
    ['Pb, ppb', 'Cd']
    """
    import csv

    if text is None:
        return None
    try:
        fields = next(csv.reader([text], skipinitialspace=True, strict=True))
    except (csv.Error, StopIteration):
        raise StanmixInputError(
            f"{flag} {text!r}: unbalanced quotes; quote a name that holds a comma "
            'as the header does: "Pb, ppb",Cd'
        ) from None
    wanted = [c.strip() for c in fields if c.strip()]
    if not wanted:
        raise StanmixInputError(f"{flag} {text!r} names no column")
    if len(set(wanted)) != len(wanted):
        raise StanmixInputError(f"{flag} {text!r} names a column twice")
    return wanted


def _check_covariates(table: CsvTable, columns: list[str]) -> None:
    """Predictors and the weights' covariates are complete in every line."""
    import numpy as np

    for col in columns:
        missing = np.flatnonzero(table.frame[col].isna().to_numpy())
        if missing.size:
            verb = "has" if missing.size == 1 else "have"
            raise StanmixInputError(
                f"{table.where(missing)} of {table.name} {verb} no value in column "
                f"{col!r}, a covariate of the regression; covariates must be "
                "complete (only the response may be missing or censored): fill "
                "them in or delete those lines"
            )


#: The options of fit-regression that choose its columns, for messages.
_REGRESSION_CHOOSE = "--predictors (and --weights-from)"


def _regression_leave_out(
    response: str, predictors: list[str], weights: list[str], named: bool
) -> dict[str, str]:
    """How to do without each column of a regression, for
    :func:`_check_columns`: fit-regression has no --columns; its columns are
    the response, the predictors (all other numeric columns unless
    ``named`` with --predictors) and the covariates of --weights-from."""
    advice = {response: f"give another column as --response (now {response!r})"}
    for col in dict.fromkeys([*predictors, *weights]):
        flags = [
            flag
            for flag, cols in (
                ("--predictors", predictors),
                ("--weights-from", weights),
            )
            if col in cols
        ]
        if flags == ["--predictors"] and not named:
            advice[col] = "leave it out by naming the predictors with --predictors"
        else:
            advice[col] = f"leave it out of {' and '.join(flags)}"
    return advice


def _fit_regression(args: argparse.Namespace, guard: InterruptGuard) -> int:
    return _regression(args, guard, select=False)


def _select_regression(args: argparse.Namespace, guard: InterruptGuard) -> int:
    return _regression(args, guard, select=True)


def _regression(args: argparse.Namespace, guard: InterruptGuard, select: bool) -> int:
    """fit-regression, or with ``select`` select-regression."""
    options = _sampling(args)
    check_output_folder(args.out, name="--out", inputs=[args.data])
    given, given_upper = _given_limits(args)
    response = args.response.strip()
    for flag, limits in (("--lower-limit", given), ("--upper-limit", given_upper)):
        other = [c for c in limits if c != response]
        if other:
            raise StanmixInputError(
                f"{flag} names column {other[0]!r}, but only the response "
                f"(--response {response}) can be censored; covariates are exact"
            )
    predictors = _column_list(args.predictors, "--predictors")
    weights = _column_list(args.weights_from, "--weights-from") or []
    if predictors is not None and response in predictors:
        raise StanmixInputError(
            f"--predictors names the response {response!r}; leave it out"
        )
    if response in weights:
        raise StanmixInputError(
            f"--weights-from names the response {response!r}; leave it out"
        )
    sources = _limit_sources(("--lower-limit", given), ("--upper-limit", given_upper))
    _check_sources(
        sources,
        {"--predictors": predictors, "--weights-from": weights},
        _id_column(args),
    )
    _check_engine(args.engine)
    from stanmix.csv_input import read_csv

    named = predictors is not None
    wanted = None
    if named:
        wanted = list(dict.fromkeys([response, *predictors, *weights]))
    table = read_csv(
        args.data,
        wanted,
        choose=_REGRESSION_CHOOSE,
        id_column=_id_column(args),
        limit_columns=sources,
        censored_text=args.censored_text,
    )
    _check_censored_text(table, args.censored_text)
    columns = [str(c) for c in table.frame.columns]
    if response not in columns:
        skipped = (
            f" (skipped as text: {', '.join(table.skipped)})" if table.skipped else ""
        )
        raise StanmixInputError(
            f"--response {response!r} is not a numeric column of {table.name} "
            f"(numeric columns: {', '.join(columns)}){skipped}"
        )
    unknown = [c for c in weights if c not in columns]
    if unknown:
        raise StanmixInputError(
            f"--weights-from names {', '.join(map(repr, unknown))}, not numeric "
            f"columns of {table.name} (numeric columns: {', '.join(columns)})"
        )
    if predictors is None:
        predictors = [c for c in columns if c != response and c not in weights]
        if not predictors:
            raise StanmixInputError(
                f"{table.name} has no predictor column besides --response "
                f"{response} and --weights-from; name them with --predictors"
            )
        if table.skipped:
            _say(
                f"Predictors: {', '.join(predictors)} (skipping "
                f"{', '.join(table.skipped)}; choose with --predictors"
                f"{_id_hint(args, table)})"
            )
    order_by = args.order_by.strip()
    if order_by != "intercept" and order_by not in predictors:
        raise StanmixInputError(
            f"--order-by {order_by!r} is neither 'intercept' nor a predictor "
            f"({', '.join(predictors)})"
        )
    covariates = list(dict.fromkeys([*predictors, *weights]))
    leave_out = _regression_leave_out(response, predictors, weights, named)
    for col, written in table.censored.items():
        if col != response:
            i = int(written.notna().to_numpy().argmax())
            raise StanmixInputError(
                f"line {table.lines[i]} of {table.name} has {written.iloc[i]!r} in "
                f"column {col!r}, a covariate of the regression: only the response "
                f"(--response {response}) can be censored, covariates are exact; "
                f"give the measured value, or {leave_out[col]}"
            )
    lower = _limits_of(table, "--lower-limit", given)
    upper = _limits_of(table, "--upper-limit", given_upper)
    frame = table.frame[[response, *covariates]]
    from stanmix.csv_input import CsvTable

    used = CsvTable(frame, table.lines, table.name, table.header_line)
    _check_limits(used, lower, upper)
    _check_covariates(used, covariates)
    _check_columns(used, lower, upper, leave_out)
    largest = _largest(args.components) if select else args.components
    answered = int(used.frame[response].notna().sum())
    if largest > answered and answered < len(used.frame):
        head = f"goes up to {largest}, which is" if select else f"{largest} is"
        raise StanmixInputError(
            f"--components/-k {head} more than the {_count(answered, 'row')} of "
            f"{used.name} with a value of {response} (a row without one says "
            f"nothing about the lines): use at most {answered}"
        )
    _check_components(
        used, largest, lower, upper, several=select, hint_columns=[response]
    )
    import stanmix as sm

    model = sm.RegressionMixture(
        1 if select else args.components,
        predictors=predictors,
        weights_from=weights or None,
        errors=args.errors,
        order_by=order_by,
        family_options=_family_options(args),
        engine=args.engine,
    )
    model._check_settings_of_design()
    gates = f", weights from {', '.join(weights)}," if weights else ""
    lines = (
        f"K = {', '.join(map(str, _expand(args.components)))} regression lines"
        if select
        else _count(args.components, "regression line")
    )
    fitting = f"{lines} of {response} on {', '.join(predictors)}{gates}"
    _say(_plan(used, args, options, lower, upper, fitting))
    guard.check()
    if select:
        title = args.title or (
            f"{args.data.name}: choosing the number of regression lines of {response}"
        )
        limits = (lower, upper)
        return _sweep(
            args, guard, frame, model, limits, options, title, response=response
        )
    model.fit(
        frame,
        response=response,
        method=args.method,
        seed=args.seed,
        lower_limit=_per_cell(frame, lower),
        upper_limit=_per_cell(frame, upper),
        show_progress=_progress(args),
        **options,
    )
    guard.check()
    _print_fit(model)
    title = args.title or (
        f"{args.data.name}: {args.components}-component mixture of regressions "
        f"of {response}"
    )
    _write(model, args, title, guard)
    return 0


if __name__ == "__main__":
    sys.exit(main())
