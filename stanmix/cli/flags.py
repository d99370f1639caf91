"""The command line's flags: the parser of every subcommand, and the
flags read into settings (numbers of components, sampling options).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
from collections.abc import Callable
from pathlib import Path

from stanmix._version import __version__
from stanmix.exceptions import StanmixInputError

TYPE_CHECKING = False  # typing is slow to import; this module loads before main
if TYPE_CHECKING:
    from typing import NoReturn


#: Largest accepted ``--seed`` (and count): seeds are unsigned 32-bit in
#: stanli and CmdStan and stored as signed 32-bit integers in the results.
INT_MAX = 2**31 - 1


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
    _console_flags(sub)


def _console_flags(sub: argparse.ArgumentParser) -> None:
    """--no-progress and --verbose: what a command shows on the console."""
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
    sub.add_argument(
        "data", type=Path, help="CSV file with a header line (- for standard input)"
    )
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
        type=_unquoted,
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


def _id_flag(
    sub: argparse.ArgumentParser, named: str = "membership.csv, the report"
) -> None:
    sub.add_argument(
        "--id",
        metavar="COLUMN",
        type=_unquoted,
        help="a column naming the rows (e.g. sample IDs, each once): "
        f"{named} and messages name rows by it [file line]",
    )


def _save_model_flag(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--save-model",
        action="store_true",
        help="also write stanmix-model.pkl, the fitted model, which `stanmix "
        "membership` reads to place the rows of new files in these clusters (and "
        "Python's pickle.load; load only files you trust)",
    )


def _membership_parser(sub) -> None:
    """stanmix membership: a saved model's memberships of a new file's rows."""
    mem = sub.add_parser(
        "membership",
        help="membership probabilities of a new CSV file's rows under a saved model",
        description="Read a model that fit, select, fit-regression or "
        "select-regression saved with --save-model, and write the membership "
        "probabilities of the rows of a new CSV file, with their HDIs, to --out "
        "(a CSV file, laid out as a fit's membership.csv). The file must hold the "
        "model's columns (for a mixture of regressions, its response and "
        "covariates), named as in the fitted file; other columns are not read. "
        "Give the new file's own limits: the fit's are not assumed.",
    )
    mem.add_argument(
        "model",
        type=Path,
        help="the stanmix-model.pkl written with --save-model, or its folder",
    )
    mem.add_argument(
        "data", type=Path, help="CSV file with a header line (- for standard input)"
    )
    _id_flag(mem, "the --out file")
    _limit_flags(
        mem, "a column", " (repeatable; for a mixture of regressions, its response's)"
    )
    mem.add_argument(
        "--hdi-prob",
        type=_fraction,
        help="probability mass of each HDI [the model's, by default 0.94]",
    )
    mem.add_argument(
        "--out", required=True, help="the CSV file to write (its folder is created)"
    )
    _console_flags(mem)


def _unquoted(text: str) -> str:
    """A column's name as given in a flag: stripped of spaces and, where
    it is quoted as a CSV header quotes a name holding a comma, of its
    quotes.

    >>> _unquoted(' "Pb, ppb" '), _unquoted('say ""hi""'), _unquoted("x")
    ('Pb, ppb', 'say ""hi""', 'x')
    """
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1].replace('""', '"')
    return text


def _title(text: str) -> str:
    """A report's title: not blank (leave the flag out for the default).

    >>> _title(" Plate 3 ")
    'Plate 3'
    """
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "is empty; give a title, or leave the flag out for the default one"
        )
    return text.strip()


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="stanmix", description="Bayesian clustering with finite mixture models."
    )
    parser.add_argument("--version", action="version", version=f"stanmix {__version__}")
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
    fit.add_argument("--title", type=_title, help="title of the HTML report")
    _save_model_flag(fit)
    _common(fit, None, FIT_METHODS)
    fit.set_defaults(engine="auto")

    select = sub.add_parser(
        "select",
        help="choose the number of components of a CSV file",
        description="Fit every number of components in --components, choose one "
        "by expected log predictive density (PSIS-LOO, or exact K-fold "
        "cross-validation where LOO is unreliable; the smallest converged K "
        "whose elpd is less than 4, or less than two standard errors of the "
        "difference, below the best, and not below a K that is clearly below "
        "it), and write selection.csv with the chosen "
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
    select.add_argument("--title", type=_title, help="title of the HTML report")
    _save_model_flag(select)
    _common(select, None, SELECT_METHODS)
    select.set_defaults(engine="auto")
    _regression_parser(sub, select=False)
    _regression_parser(sub, select=True)
    _membership_parser(sub)
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
        "(--method sample) [5, or more where a K's fits need more rows]",
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


def _out_folder(text: str, *, file: bool = False) -> Path:
    """The --out folder (with ``file``, the --out file); an empty one (an
    unset shell variable) is refused, not taken as the current folder."""
    if not text:
        example = (
            "a file, such as --out new-membership.csv"
            if file
            else ("a folder, such as --out results")
        )
        raise StanmixInputError(
            f"--out is empty; give {example} (is a shell variable in it unset?)"
        )
    if file and text.endswith(("/", os.sep)):
        raise StanmixInputError(
            f"--out {text!r} names a folder; give the CSV file to write, such as "
            f"--out {text}new-membership.csv"
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
    reg.add_argument(
        "data", type=Path, help="CSV file with a header line (- for standard input)"
    )
    reg.add_argument(
        "--response", required=True, type=_unquoted, help="the response column"
    )
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
        type=_unquoted,
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
    reg.add_argument("--title", type=_title, help="title of the HTML report")
    _save_model_flag(reg)
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
