"""--lower-limit and --upper-limit: COLUMN=LIMIT items read against the
data file's header, and the per-row limits they give (a number, or a
column of the file).
"""

from __future__ import annotations

import argparse
import math
import re

from stanmix.cli.flags import _unquoted
from stanmix.exceptions import StanmixInputError

TYPE_CHECKING = False  # typing is slow to import; this module loads before main
if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from stanmix.csv_input import CsvTable


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
        col, value = _unquoted(item[:at]), _unquoted(item[at + 1 :])
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
    col, value = _unquoted(col), _unquoted(value)
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


def _limits_per_cell(
    frame: pd.DataFrame,
    lower: dict[str, float | pd.Series],
    upper: dict[str, float | pd.Series],
) -> dict[str, pd.DataFrame | dict | None]:
    """The estimator's ``lower_limit`` and ``upper_limit`` for ``frame``
    (each as :func:`_per_cell` gives it)."""
    return {
        "lower_limit": _per_cell(frame, lower),
        "upper_limit": _per_cell(frame, upper),
    }
