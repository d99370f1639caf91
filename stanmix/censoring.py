"""From user input (numpy or pandas, limits, masks) to a validated CellTable.

Censoring is given the way a lab table records it:

``lower_limit``
    The lower limit of detection. A cell at or below it is *left-censored*:
    its true value is somewhere <= the limit.
``upper_limit``
    An upper limit (saturation). A cell at or above it is *right-censored*:
    its true value is >= the limit.
``censored``
    Optional boolean mask of the censored cells. Without it, a cell is
    censored when its value equals (or, for NaN with a limit, sits at) its
    limit; with it, exactly the marked cells are censored and their values
    are ignored.
``interval``
    A pair ``(low, high)`` of per-cell bounds; cells where both are finite
    are interval-censored (low <= true value <= high).

Each limit is a scalar (every column), a mapping ``{column: limit}``, or an
array of per-cell limits shaped like the data (NaN = no limit). NaN data
cells without a limit or interval are missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from stanmix.cells import INTERVAL, LEFT, MISSING, OBSERVED, RIGHT, CellTable
from stanmix.exceptions import StanmixInputError


def _where(rows, cols, columns, limit: int = 5) -> str:
    cells = [f"row {r}, column {columns[c]!r}" for r, c in zip(rows, cols, strict=True)]
    more = f" and {len(cells) - limit} more" if len(cells) > limit else ""
    return "; ".join(cells[:limit]) + more


def as_matrix(X, *, name: str = "X") -> tuple[np.ndarray, tuple[str, ...], pd.Index]:
    """A float copy of ``X`` with its column names and row index.

    Raises StanmixInputError for non-numeric columns, wrong dimensions and
    empty input. Never modifies ``X``.
    """
    if isinstance(X, pd.Series):
        X = X.to_frame()
    if isinstance(X, pd.DataFrame):
        bad = [
            str(c)
            for c in X.columns
            if not (
                pd.api.types.is_numeric_dtype(X[c])
                and not pd.api.types.is_bool_dtype(X[c])
            )
        ]
        if bad:
            raise StanmixInputError(
                f"{name} has non-numeric column(s) {', '.join(map(repr, bad))}; "
                "select the numeric measurement columns, e.g. df[['x', 'y']]"
            )
        columns = tuple(str(c) for c in X.columns)
        if len(set(columns)) != len(columns):
            raise StanmixInputError(f"{name} has duplicate column names {columns}")
        index = X.index
        values = X.to_numpy(dtype=float, na_value=np.nan, copy=True)
    else:
        try:
            values = np.array(X, dtype=float, copy=True)
        except (TypeError, ValueError) as err:
            raise StanmixInputError(
                f"{name} must be numeric (a numpy array or a DataFrame of "
                f"numbers); converting it failed: {err}"
            ) from None
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise StanmixInputError(
                f"{name} must be 1-D (one variable) or 2-D (observations x "
                f"variables); got an array with shape {values.shape}"
            )
        columns = tuple(f"x{d}" for d in range(values.shape[1]))
        index = pd.RangeIndex(values.shape[0])
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise StanmixInputError(
            f"{name} is empty (shape {values.shape}); pass at least one "
            "observation and one column"
        )
    inf_rows, inf_cols = np.nonzero(np.isinf(values))
    if inf_rows.size:
        raise StanmixInputError(
            f"{name} has infinite values at {_where(inf_rows, inf_cols, columns)}; "
            "replace them with finite values, NaN (missing) or a censoring limit"
        )
    return values, columns, index


def _per_cell(spec, what: str, shape, columns) -> np.ndarray:
    """A (N, D) array of limits (NaN = none) from a scalar, mapping or array."""
    out = np.full(shape, np.nan)
    if spec is None:
        return out
    if isinstance(spec, Mapping):
        for col, value in spec.items():
            if str(col) not in columns:
                raise StanmixInputError(
                    f"{what} names column {col!r}, which is not in the data "
                    f"(columns: {', '.join(columns)})"
                )
            value = _finite_scalar(value, f"{what}[{col!r}]")
            out[:, columns.index(str(col))] = value
        return out
    if np.ndim(spec) == 0:
        out[:] = _finite_scalar(spec, what)
        return out
    if isinstance(spec, pd.DataFrame):
        unknown = [str(c) for c in spec.columns if str(c) not in columns]
        if unknown:
            raise StanmixInputError(
                f"{what} has column(s) {', '.join(map(repr, unknown))} that are "
                f"not in the data (columns: {', '.join(columns)})"
            )
        spec = spec.reindex(columns=list(columns))
    try:
        arr = np.array(spec, dtype=float, copy=True)
    except (TypeError, ValueError):
        raise StanmixInputError(
            f"{what} must be a number, a mapping {{column: number}} or an array "
            "of per-cell limits shaped like the data"
        ) from None
    if arr.ndim == 1 and shape[1] == 1:
        arr = arr[:, None]
    if arr.shape != tuple(shape):
        raise StanmixInputError(
            f"{what} has shape {arr.shape} but the data has shape {tuple(shape)}; "
            "per-cell limits must match the data (NaN where there is no limit)"
        )
    if np.isinf(arr).any():
        raise StanmixInputError(f"{what} has infinite entries; use NaN for no limit")
    return arr


def _finite_scalar(value, what: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise StanmixInputError(f"{what} must be a number, got {value!r}") from None
    if not np.isfinite(value):
        raise StanmixInputError(f"{what} must be finite, got {value}")
    return value


def _mask(spec, shape, columns) -> np.ndarray | None:
    if spec is None:
        return None
    if isinstance(spec, pd.DataFrame):
        spec = spec.reindex(columns=list(columns), fill_value=False)
    arr = np.asarray(spec)
    if arr.ndim == 1 and shape[1] == 1:
        arr = arr[:, None]
    if arr.shape != tuple(shape):
        raise StanmixInputError(
            f"censored has shape {arr.shape} but the data has shape {tuple(shape)}"
        )
    if arr.dtype != bool:
        raise StanmixInputError(
            "censored must be a boolean mask (True = censored cell), got dtype "
            f"{arr.dtype}"
        )
    return arr.copy()


def cell_table(
    X,
    *,
    lower_limit=None,
    upper_limit=None,
    censored=None,
    interval: Sequence | None = None,
    allow_missing: bool = True,
    allow_empty_rows: bool = False,
) -> tuple[CellTable, pd.Index]:
    """Validate the data and its censoring; return the cell table and row index.

    ``X`` may also be a :class:`CellTable` already holding its censoring (then
    no censoring argument may be given); it is checked and returned as is.

    A row whose every cell is missing is refused unless ``allow_empty_rows``
    (a regression's row still has its covariates: a missing response).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [0.1, 2.0, 3.0], "y": [1.0, None, 2.5]})
    >>> table, _ = cell_table(df, lower_limit={"x": 0.1})
    >>> table.kind.tolist()   # 0 observed, 1 left-censored, 4 missing
    [[1, 0], [0, 4], [0, 0]]
    """
    if isinstance(X, CellTable):
        given = [
            name
            for name, value in (
                ("lower_limit", lower_limit),
                ("upper_limit", upper_limit),
                ("censored", censored),
                ("interval", interval),
            )
            if value is not None
        ]
        if given:
            raise StanmixInputError(
                f"X is a CellTable, which holds its censoring already; drop "
                f"{', '.join(given)}"
            )
        X.validate()
        if not allow_missing and (X.kind == MISSING).any():
            raise StanmixInputError("this model needs complete data (no missing cells)")
        if not allow_empty_rows and np.all(X.kind == MISSING, axis=1).any():
            rows = np.flatnonzero(np.all(X.kind == MISSING, axis=1))
            raise StanmixInputError(
                f"row(s) {', '.join(map(str, rows[:10]))} have every cell missing; "
                "drop them"
            )
        return X, pd.RangeIndex(X.n_obs)
    values, columns, index = as_matrix(X)
    shape = values.shape
    lower = _per_cell(lower_limit, "lower_limit", shape, columns)
    upper = _per_cell(upper_limit, "upper_limit", shape, columns)
    mask = _mask(censored, shape, columns)

    both = np.isfinite(lower) & np.isfinite(upper) & (lower >= upper)
    if both.any():
        r, c = np.nonzero(both)
        raise StanmixInputError(
            "lower_limit is not below upper_limit at "
            f"{_where(r, c, columns)}; the detection range must be non-empty"
        )

    kind = np.where(np.isnan(values), MISSING, OBSERVED).astype(np.int8)
    has_lo, has_hi = np.isfinite(lower), np.isfinite(upper)
    if mask is None:
        below = has_lo & ~np.isnan(values) & (values < lower)
        above = has_hi & ~np.isnan(values) & (values > upper)
        for bad, side, fix in (
            (below, "below its lower_limit", "record left-censored cells at the limit"),
            (
                above,
                "above its upper_limit",
                "record right-censored cells at the limit",
            ),
        ):
            if bad.any():
                r, c = np.nonzero(bad)
                raise StanmixInputError(
                    f"value {side} at {_where(r, c, columns)}; a censored value "
                    f"cannot lie beyond its own limit: {fix} or mark it in "
                    "`censored`"
                )
        left = has_lo & (values == lower)
        right = has_hi & (values == upper)
    else:
        unlimited = mask & ~has_lo & ~has_hi
        ambiguous = mask & has_lo & has_hi
        for bad, msg in (
            (unlimited, "is marked censored but has no lower_limit or upper_limit"),
            (
                ambiguous,
                "is marked censored but has both limits; give it as an "
                "`interval` instead",
            ),
        ):
            if bad.any():
                r, c = np.nonzero(bad)
                raise StanmixInputError(f"{_where(r, c, columns)} {msg}")
        free = ~mask & ~np.isnan(values)
        for bad, side in (
            (free & has_lo & (values < lower), "below its lower_limit"),
            (free & has_hi & (values > upper), "above its upper_limit"),
        ):
            if bad.any():
                r, c = np.nonzero(bad)
                raise StanmixInputError(
                    f"uncensored value {side} at {_where(r, c, columns)}; mark "
                    "the cell in `censored` or correct the value"
                )
        left = mask & has_lo
        right = mask & has_hi
    kind[left] = LEFT
    kind[right] = RIGHT

    low = np.full(shape, np.nan)
    high = np.full(shape, np.nan)
    high[left] = lower[left]
    low[right] = upper[right]

    if interval is not None:
        if not (isinstance(interval, Sequence) and len(interval) == 2):
            raise StanmixInputError(
                "interval must be a pair (low, high) of per-cell bound arrays"
            )
        ilo = _per_cell(interval[0], "interval low", shape, columns)
        ihi = _per_cell(interval[1], "interval high", shape, columns)
        half = np.isfinite(ilo) ^ np.isfinite(ihi)
        if half.any():
            r, c = np.nonzero(half)
            raise StanmixInputError(
                f"interval has only one bound at {_where(r, c, columns)}; give "
                "both bounds, or use lower_limit / upper_limit for one-sided cells"
            )
        inside = np.isfinite(ilo) & np.isfinite(ihi)
        reversed_ = inside & (ilo >= ihi)
        if reversed_.any():
            r, c = np.nonzero(reversed_)
            raise StanmixInputError(
                f"interval low is not below high at {_where(r, c, columns)}; "
                "each interval must have low < high"
            )
        clash = inside & ((kind == LEFT) | (kind == RIGHT))
        if clash.any():
            r, c = np.nonzero(clash)
            raise StanmixInputError(
                f"{_where(r, c, columns)} is both interval- and limit-censored; "
                "give each cell one kind of censoring"
            )
        kind[inside] = INTERVAL
        low[inside] = ilo[inside]
        high[inside] = ihi[inside]

    values = np.where(kind == OBSERVED, values, np.nan)
    if not allow_missing and (kind == MISSING).any():
        r, c = np.nonzero(kind == MISSING)
        raise StanmixInputError(
            f"missing (NaN) values at {_where(r, c, columns)}; this model needs "
            "complete data: drop those rows or use DiagonalMixture, which "
            "handles missing cells"
        )
    empty = np.all(kind == MISSING, axis=1)
    if empty.any() and not allow_empty_rows:
        rows = np.nonzero(empty)[0]
        shown = ", ".join(str(index[r]) for r in rows[:10])
        raise StanmixInputError(
            f"row(s) {shown}{' ...' if rows.size > 10 else ''} have every cell "
            "missing; drop them (they carry no information about the clusters)"
        )
    return CellTable(values, kind, low, high, columns), index


def check_fit_data(cells: CellTable) -> None:
    """Refuse data that would give a silently wrong fit.

    A column with no observed value (all missing or censored) leaves its
    component parameters resting on the prior; a column whose values are
    all the same carries no information about the clusters and breaks the
    scale. Both are refused, naming the column.

    Examples
    --------
    >>> table, _ = cell_table(pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 3.0]}))
    >>> try:
    ...     check_fit_data(table)
    ... except StanmixInputError as err:
    ...     print(str(err)[:33])
    column 'y' is constant (every val
    """
    observed = cells.kind == OBSERVED
    for d, name in enumerate(cells.columns):
        seen = cells.values[observed[:, d], d]
        if seen.size == 0:
            what = "censored or missing" if cells.censored[:, d].any() else "missing"
            raise StanmixInputError(
                f"column {name!r} has no observed value (every cell is {what}); "
                "drop it, or give at least some measured values"
            )
        points = cells.point_values()[:, d][cells.kind[:, d] != MISSING]
        if np.ptp(points) == 0:
            raise StanmixInputError(
                f"column {name!r} is constant (every value is {points[0]:g}); drop "
                "it: a constant column says nothing about the clusters"
            )
