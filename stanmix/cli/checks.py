"""Checks of the data file against the flags, made before any fitting:
what would fit the wrong data, or fail in the engine.
"""

from __future__ import annotations

from stanmix.cli.limits import _limits_per_cell, _row_limits, _spell
from stanmix.exceptions import StanmixInputError

TYPE_CHECKING = False  # typing is slow to import; this module loads before main
if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from stanmix.cells import CellTable
    from stanmix.csv_input import CsvTable


def _check_limits(
    table: CsvTable,
    lower: dict[str, float | pd.Series],
    upper: dict[str, float | pd.Series],
    *,
    unmet: bool = True,
) -> None:
    """Limits name fitted columns, are consistent, and no value lies beyond
    its row's limit; with ``unmet``, a limit that no value meets is said (a
    wrong value, or other units: in the data a model is fitted to, some
    value most likely lies at its limit; among a few new rows, none may)."""
    import warnings

    import numpy as np

    from stanmix.censoring import at_limit
    from stanmix.limit_checks import beyond_limit_hints, piled_end

    df = table.frame
    n = len(df)
    columns = [str(c) for c in df.columns]
    for flag, limits in (("--lower-limit", lower), ("--upper-limit", upper)):
        for col in limits:
            if col not in columns:
                from stanmix.csv_input import column_listing

                raise StanmixInputError(
                    f"{flag} names column {col!r}, which is not among the fitted "
                    f"columns ({column_listing(columns)})"
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
                        f"the first is {float(values[i]):.12g}, limit "
                        f"{float(row[i]):.12g})"
                    )

                    def spell(v: str, source: str = str(limit.name)) -> str:
                        return f"{v} in column {source!r} on those lines"

                source = (
                    f"the line's value of column {str(getattr(limit, 'name', ''))!r}"
                )
                fix = (
                    f"write every cell of column {col!r} within {{unit}} of its "
                    f"line's limit as that limit ({source})"
                )
                at_own = (
                    f"write each as {limit:g}"
                    if isinstance(limit, float)
                    else f"write each as its line's limit ({source})"
                )
                raise StanmixInputError(
                    f"{spelled}: {bad.size} value(s) of column {col!r} lie {word} "
                    f"{where}; censored values must be recorded at the limit itself"
                    + beyond_limit_hints(
                        values[bad],
                        row[bad],
                        np.float64,
                        column=col,
                        spell=spell,
                        rounded_fix=fix,
                        substitute_fix=at_own if word == "below" else None,
                        several=np.unique(row[np.isfinite(row)]).size > 1,
                    )
                )
            seen = values[~np.isnan(values)]
            # (with many values piled at the column's end, the fit's own
            # warning names that value as the likely limit)
            piled = seen.size and piled_end(seen, word == "below")
            if not unmet or at.any() or not seen.size or piled:
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
        **_limits_per_cell(frame, lower, upper),
        allow_empty_rows=True,
    )
    return cells


def _warn_row_numbers(
    table: CsvTable, columns: list[str], choose: str = "--columns"
) -> None:
    """Warn of a fitted column (of ``columns``) that counts its rows
    (consecutive whole numbers, as sample numbers or a saved row index
    are), which the fit would take for a measurement or a predictor;
    ``choose`` names the flag that chooses the columns. A predictor
    (``--predictors``) is warned of only from 0 or 1: years counted one
    per row are a regression's time."""
    import warnings

    from stanmix.advice import counts_rows

    for col in columns:
        values = table.frame[col].to_numpy(dtype=float)
        if counts_rows(values):
            if choose == "--predictors" and values.min() not in (0, 1):
                continue
            use = "a predictor" if choose == "--predictors" else "a measurement"
            warnings.warn(
                f"column {col!r} of {table.name} holds consecutive whole numbers "
                f"({values[0]:.0f}, {values[1]:.0f}, ..., {values[-1]:.0f}), as "
                f"sample numbers or a row index do, and is fitted as {use}: if "
                f"it numbers the rows, name the rows by it with --id {col}, or "
                f"leave it out with {choose}",
                UserWarning,
                stacklevel=2,
            )


def _check_rows(table: CsvTable) -> None:
    """Refuse lines with no value in any fitted column."""
    import numpy as np

    empty = np.flatnonzero(table.frame.isna().all(axis=1).to_numpy())
    if empty.size:
        verb = "has" if empty.size == 1 else "have"
        columns = ", ".join(map(str, table.frame.columns))
        raise StanmixInputError(
            f"{table.where(empty)} of {table.name} {verb} every cell missing in the "
            f"fitted columns ({columns}); "
            + (
                "such a line says nothing about the clusters: delete it"
                if empty.size == 1
                else "such lines say nothing about the clusters: delete them"
            )
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


def _refuse_covariate_limits(
    given: tuple[dict, dict], response: str, spelled: str
) -> None:
    """Refuse --lower-limit or --upper-limit (``given``, by column) on a
    column other than the regression's ``response`` (named ``spelled``)."""
    for flag, limits in zip(("--lower-limit", "--upper-limit"), given, strict=True):
        other = [c for c in limits if c != response]
        if other:
            raise StanmixInputError(
                f"{flag} names column {other[0]!r}, but only the response "
                f"{spelled} can be censored; covariates are exact"
            )


def _check_censored_covariates(
    table: CsvTable,
    response: str,
    spelled: str,
    leave_out: dict[str, str] | None = None,
) -> None:
    """Refuse a cell written as censored (``--censored-text``) outside the
    regression's ``response`` (named ``spelled`` in the message);
    ``leave_out`` maps a column to the advice on doing without it."""
    for col, written in table.censored.items():
        if col == response:
            continue
        i = int(written.notna().to_numpy().argmax())
        fix = f", or {leave_out[col]}" if leave_out else ""
        raise StanmixInputError(
            f"line {table.lines[i]} of {table.name} has {written.iloc[i]!r} in "
            f"column {col!r}, a covariate of the regression: only the response "
            f"{spelled} can be censored, covariates are exact; give the "
            f"measured value{fix}"
        )


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
