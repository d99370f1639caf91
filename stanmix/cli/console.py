"""What the command shows on standard error: stanmix's own warnings, with
Python settings rewritten as the flags that set them, and progress; the
warnings and log messages of the libraries underneath with --verbose.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterator

TYPE_CHECKING = False  # typing is slow to import; this module loads before main
if TYPE_CHECKING:
    pass

logger = logging.getLogger("stanmix")

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


#: A Python keyword in advice (not in a CmdStan command a message quotes,
#: whose arguments read "random seed=...").
_KEYWORD = re.compile(
    r"(?<!random )\b(chains|warmup|draws|adapt_delta|seed|kfold)=(\d+(?:\.\d+)?)?"
)
_LIMIT = re.compile(r"\b(lower|upper)_limit=\{'([^']*)': ([^}]*)\}")
#: A column of the data frame, X['lod'], as a limit: the column's name.
_FRAME_COLUMN = re.compile(r"X\['([^']*)'\]")
_CHOICE = re.compile(
    r"\b(method|engine|family|covariance|errors|algorithm)='([a-z_]+)'"
)
_COMPONENTS = re.compile(r"\bn_components=(\d+)")
#: A column named in advice: the anchor, or what orders regression lines.
_ORDERING = re.compile(r"""\b(anchor_dim|order_by)=(?:'([^']*)'|"([^"]*)")""")
_ORDERING_FLAG = {"anchor_dim": "--anchor", "order_by": "--order-by"}
_FAMILY_OPTION = re.compile(r"\bfamily_options\['(\w+)'\]")
#: The pandas code that records cells at their limits (Python's fix).
_PANDAS_CODE = re.compile(
    r"; with pandas, L being the \w+ DataFrame: .*?\.mask\(.*?\)\)"
)
#: A message about one K of a sweep (select), and where its figures are.
_SWEPT = re.compile(r"K=\d+: ")
_SWEPT_FIGURES = (
    "are in summary.csv if this K is chosen; selection.csv has every K's largest "
    "R-hat and smallest bulk ESS."
)
#: The start of the fit's warning of a column numbering the rows, worded
#: for Python (stanmix.advice.row_number_columns).
_ROW_NUMBERS_IN_PYTHON = r"column .* as a row index or sample numbers do"
#: Advice naming what only Python sets, as the command line says it.
_PYTHON_ONLY = (
    (" or mark them in `censored`", ""),
    ("equals the lower_limit ", "equals the --lower-limit "),
    ("equal the lower_limit ", "equal the --lower-limit "),
    ("equals the upper_limit ", "equals the --upper-limit "),
    ("equal the upper_limit ", "equal the --upper-limit "),
    ("a missing value? give NaN instead", "a missing value? leave the cell empty"),
    (
        "(the draws in idata_ are readable by any ArviZ)",
        "(a fit's posterior.nc is readable by any ArviZ)",
    ),
    ("pass lower_limit= as to fit", "give --lower-limit as for the fit"),
    ("pass upper_limit= as to fit", "give --upper-limit as for the fit"),
    (
        "pass lower_limit= and upper_limit= as to fit",
        "give --lower-limit and --upper-limit as for the fit",
    ),
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
    ("(4 chains, more warmup and draws)", "(--chains 4, more --warmup and --draws)"),
    (
        "pass log_likelihood=True to store it anyway, or log_likelihood=False "
        "not to (without this warning)",
        "log_likelihood=True (in Python) stores it anyway",
    ),
    ("(pareto_k_ keeps the figure)", "(the report keeps the figure)"),
)


def _column_flag(flag: str, column: str) -> str:
    """``flag`` with a column name as a shell would take it.

    >>> _column_flag("--anchor", "y"), _column_flag("--anchor", "Cd ppb")
    ('--anchor y', "--anchor 'Cd ppb'")
    >>> _column_flag("--order-by", "-x")
    '--order-by=-x'
    """
    import shlex

    quoted = shlex.quote(column)
    return f"{flag}={quoted}" if column.startswith("-") else f"{flag} {quoted}"


def _as_flags(text: str) -> str:
    """stanmix's messages name the Python keywords; the command's user gets
    the flags that set them (``chains=2`` -> ``--chains 2``).

    >>> _as_flags("run chains=2 or more, or more draws (draws=, warmup=)")
    'run --chains 2 or more, or more draws (--draws, --warmup)'
    >>> _as_flags("CmdStan ran: sample num_chains=2 ... random seed=8")
    'CmdStan ran: sample num_chains=2 ... random seed=8'
    >>> _as_flags("adapt_delta=0.95 tunes it; init='map' has no flag")
    "--adapt-delta 0.95 tunes it; init='map' has no flag"
    >>> _as_flags("pass lower_limit={'y': 0.8} to censor them")
    'pass --lower-limit y=0.8 to censor them'
    >>> _as_flags("2 cells of column 'x' equal the lower_limit 0.5 the model was "
    ...           "fitted with")
    "2 cells of column 'x' equal the --lower-limit 0.5 the model was fitted with"
    >>> _as_flags("fit with method='optimize'; more starts (n_starts) help")
    'fit with --method optimize; more starts (n_starts, in Python) help'
    >>> _as_flags("n_components=5 is larger; or use engine='stanli'")
    '--components/-k 5 is larger; or use --engine stanli'
    >>> _as_flags("order by it with anchor_dim='y'.")
    'order by it with --anchor y.'
    >>> _as_flags("ordered (order_by='intercept'): order by it with order_by='x'.")
    'ordered (--order-by intercept): order by it with --order-by x.'
    >>> _as_flags("kfold must be at most 38, got kfold=39: use kfold=38 or fewer")
    '--kfold must be at most 38, got --kfold 39: use --kfold 38 or fewer'
    >>> _as_flags("at their limits (close ones too; with pandas, L being the "
    ...           "lower_limit DataFrame: X['a'] = X['a'].mask(X['a'] - L['a'] "
    ...           "< 0.01, L['a'])). Next")
    'at their limits (close ones too). Next'
    >>> _as_flags("use covariance='diag' or covariance='spherical' (any number")
    'use --covariance diag or --covariance spherical (any number'
    >>> _as_flags("run longer chains (4 chains, more warmup and draws) first")
    'run longer chains (--chains 4, more --warmup and --draws) first'
    >>> _as_flags("budget; pass log_likelihood=True to store it anyway, or "
    ...           "log_likelihood=False not to (without this warning)")
    'budget; log_likelihood=True (in Python) stores it anyway'
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
    text = _PANDAS_CODE.sub(")", text)
    text = _LIMIT.sub(
        lambda m: f"--{m[1]}-limit {m[2]}=" + _FRAME_COLUMN.sub(r"\1", m[3]), text
    )
    text = text.replace("out of the fitted columns", "out of --columns")
    text = _CHOICE.sub(lambda m: f"--{m[1]} {m[2]}", text)
    text = _COMPONENTS.sub(lambda m: f"--components/-k {m[1]}", text)
    text = _ORDERING.sub(
        lambda m: _column_flag(
            _ORDERING_FLAG[m[1]], m[2] if m[2] is not None else m[3]
        ),
        text,
    )
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
    # past the warnings machinery and this module's own wrapper, to the code
    # that issued the warning
    while frame is not None and frame.f_globals.get("__name__") in (
        "warnings",
        __name__,
    ):
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
            # The commands warn of a column numbering the rows themselves,
            # naming --id, and only in columns the user did not choose.
            warnings.filterwarnings("ignore", _ROW_NUMBERS_IN_PYTHON, UserWarning)
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
