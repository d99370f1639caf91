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
    censored when its value equals its limit, and a NaN cell is missing
    even where a limit is given (a warning says so: a blank for "below the
    limit" must be recorded at the limit or marked); with it, exactly the
    marked cells are censored and their values (NaN too) are ignored.
``interval``
    A pair ``(low, high)`` of per-cell bounds; cells where both are finite
    are interval-censored (low <= true value <= high). A value recorded in
    such a cell must lie within its bounds. Bounds that are equal (to
    float64 rounding: within a relative 1e-9 of the bounds or of the
    column's interquartile range) give a measured value, as in survival
    data's interval encoding: the cell's recorded value, or the bounds'
    middle.

Each limit is a scalar (every column), a mapping ``{column: limit}``, or an
array of per-cell limits shaped like the data (NaN = no limit). NaN data
cells without a limit or interval are missing; so are pandas' NA and the
masked cells of a numpy masked array (a masked limit is no limit).

A DataFrame (or, for one-column data, a Series) of limits, bounds or
censored flags is matched to the data's rows by its index labels, not by
position; an index with other labels is refused. A numpy array is matched
by position.

Values are compared with their limits at the precision they were given in,
column by column: float32 data recorded at a limit of 0.1 are at the limit
0.1, though ``float(np.float32(0.1)) != 0.1``, and a float32 column leaves
the comparisons in a float64 one exact.
"""

from __future__ import annotations

import contextlib
import datetime
import decimal
import numbers
import re
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.sparse import issparse

from stanmix import _validation as check
from stanmix.cells import (
    INTERVAL,
    LEFT,
    MISSING,
    OBSERVED,
    RIGHT,
    CellTable,
    column_spread,
)
from stanmix.exceptions import StanmixInputError
from stanmix.limit_checks import (
    beyond_limit_hints,
    record_at_limits,
    warn_unmatched,
)

#: Array dtypes (by kind) that hold something other than real numbers: what
#: they hold, and what to do instead.
_NOT_REAL = {
    "b": (
        "booleans",
        "a mixture models real-valued measurements; leave True/False columns out",
    ),
    "c": (
        "complex numbers",
        "Complex data not supported: pass the real part (X.real), or real and "
        "imaginary parts as two columns",
    ),
    "M": (
        "dates or times",
        "convert them to numbers first, e.g. days since a reference date",
    ),
    "m": (
        "durations",
        "convert them to numbers first, e.g. X / np.timedelta64(1, 's') for seconds",
    ),
    "U": ("text", "pass numbers"),
    "S": ("text", "pass numbers"),
    "V": ("structured records", "pass a plain array of numbers"),
}
#: ... and for object arrays holding anything else (lists, dicts).
_OBJECTS = (
    "objects that are not numbers",
    "pass numbers (NaN where a value is missing)",
)


def row_label(value) -> str:
    """A row label as a message shows it: ``3``, ``'a'``.

    Examples
    --------
    >>> row_label(np.int64(3)), row_label("a")
    ('3', "'a'")
    """
    if isinstance(value, np.generic):
        value = value.item()
    return repr(value) if isinstance(value, str) else str(value)


def listing(
    items: list[str],
    sep: str = ", ",
    noun: str = "",
    shown: int = 5,
    total: int | None = None,
) -> str:
    """The first ``shown`` items joined by ``sep``, then how many more
    (``"a, b and 3 more"``; ``noun`` names what they are, pluralised) of
    ``total`` in all (``len(items)`` unless given: a caller may pass only
    the first few of many)."""
    total = len(items) if total is None else total
    if total <= shown:
        return sep.join(items)
    rest = total - shown
    what = f" {noun}{'s' * (rest > 1)}" if noun else ""
    return f"{sep.join(items[:shown])} and {rest} more{what}"


def _where(rows, cols, columns, index=None, limit: int = 5) -> str:
    """``"row 3, column 'x'; ..."`` for cell positions, rows by their label
    (and by the index's name, ``"line 5, ..."``, when it has a name)."""
    name = (lambda r: row_label(index[r])) if index is not None else str
    word = getattr(index, "name", None) or "row"
    cells = [
        f"{word} {name(r)}, column {columns[c]!r}"
        for r, c in zip(rows[:limit], cols[:limit], strict=True)
    ]
    return listing(cells, "; ", shown=limit, total=len(rows))


def _not_real(arr: np.ndarray) -> str | None:
    """The dtype kind of what ``arr`` holds when it is not real numbers.

    Object arrays are looked into: None, pandas' NA or a real number (not a
    bool; a ``Decimal`` too, as databases return exact numeric columns) is
    fine in any cell; any other object (a list, a dict) makes the array
    ``"O"``.

    Examples
    --------
    >>> _not_real(np.array([1.5, decimal.Decimal("0.25"), None], dtype=object))
    >>> _not_real(np.array([1.5, [2.0]], dtype=object))
    'O'
    """
    if arr.dtype.kind in _NOT_REAL:
        return arr.dtype.kind
    if arr.dtype.kind != "O":
        return None
    for value in arr.ravel():
        if isinstance(value, (bool, np.bool_)):
            return "b"
        if value is None or value is pd.NA or _real(value):
            continue
        if isinstance(value, (complex, np.complexfloating)):
            return "c"
        if isinstance(value, (datetime.date, np.datetime64)):
            return "M"
        if isinstance(value, (datetime.timedelta, np.timedelta64)):
            return "m"
        if isinstance(value, (str, bytes)):
            return "U"
        return "O"
    return None


def _real(value) -> bool:
    """Whether ``value`` is a real number: a ``numbers.Real`` (bools are
    told apart before) or a ``decimal.Decimal``, which is not registered as
    one, as ``pd.read_sql`` gives a database's NUMERIC columns."""
    return isinstance(value, (numbers.Real, decimal.Decimal))


def _kind_words(kind: str) -> tuple[str, str]:
    """What an array of dtype kind ``kind`` (from :func:`_not_real`) holds,
    and the fix, in words."""
    return _NOT_REAL.get(kind, _OBJECTS)


def _object_floats(arr: np.ndarray) -> tuple[np.ndarray, tuple | None]:
    """An object array of real numbers, None and NA as floats (NaN for the
    missing, a ``Decimal`` NaN too), and the position of the first value too
    large for a float (None when there is none).

    Examples
    --------
    >>> values = np.array([decimal.Decimal("0.1"), None, 2], dtype=object)
    >>> _object_floats(values)[0].tolist()
    [0.1, nan, 2.0]
    >>> _object_floats(np.array([decimal.Decimal("1e400")], dtype=object))[1]
    (0,)
    """
    out = np.empty(arr.shape, dtype=float)
    for pos, value in np.ndenumerate(arr):
        exact = isinstance(value, decimal.Decimal)
        # float() refuses a signalling Decimal NaN
        if value is None or value is pd.NA or (exact and value.is_nan()):
            out[pos] = np.nan
            continue
        try:
            out[pos] = float(value)
        except OverflowError:
            return out, pos
        if exact and np.isinf(out[pos]) and value.is_finite():
            return out, pos  # a Decimal beyond float range gives inf, not an error
    return out, None


def _too_large(subject: str, where: str, fix: str) -> StanmixInputError:
    """The error for a number beyond float range: "<subject> a number too
    large for a float (beyond ...)<where>; <fix>"."""
    return StanmixInputError(
        f"{subject} a number too large for a float (beyond "
        f"{np.finfo(float).max:.3g}){where}; {fix}"
    )


def least_precision(*specs) -> np.dtype:
    """The least precise float type among the values of ``specs`` (float64
    unless float32 or float16 values were given).

    Examples
    --------
    >>> least_precision(np.zeros(2, dtype=np.float32), 0.1)
    dtype('float32')
    >>> least_precision(pd.DataFrame({"a": [1.0]}), {"a": 0.5})
    dtype('float64')
    """
    out = np.dtype(float)
    for spec in specs:
        if isinstance(spec, Mapping):
            dtypes = [least_precision(*spec.values())]
        elif isinstance(spec, pd.DataFrame):
            dtypes = list(spec.dtypes)
        elif isinstance(spec, (pd.Series, np.ndarray, np.generic)):
            dtypes = [spec.dtype]
        else:
            continue
        for dtype in dtypes:
            dtype = getattr(dtype, "numpy_dtype", dtype)  # pandas' Float32Dtype
            if isinstance(dtype, np.dtype) and dtype.kind == "f":
                if dtype.itemsize < out.itemsize:
                    out = dtype
    return out


def column_precisions(spec, columns: tuple[str, ...]) -> list[np.dtype]:
    """For each of the data's ``columns``, the least precise float type of
    the values ``spec`` gives for it: a DataFrame's or a mapping's per
    column, an array's or a scalar's for every column.

    Examples
    --------
    >>> frame = pd.DataFrame({"a": np.zeros(2, np.float32), "b": np.zeros(2)})
    >>> [str(t) for t in column_precisions(frame, ("a", "b"))]
    ['float32', 'float64']
    >>> [str(t) for t in column_precisions({"b": np.float16(1)}, ("a", "b"))]
    ['float64', 'float16']
    >>> [str(t) for t in column_precisions(np.float32(0.1), ("a", "b"))]
    ['float32', 'float32']
    """
    if isinstance(spec, pd.Series) and len(columns) == 1:
        spec = spec.to_frame(name=columns[0])
    if isinstance(spec, pd.DataFrame):
        given = {str(c): spec.iloc[:, j] for j, c in enumerate(spec.columns)}
    elif isinstance(spec, Mapping):
        given = {str(c): v for c, v in spec.items()}
    else:
        return [least_precision(spec)] * len(columns)
    return [
        least_precision(given[c]) if c in given else np.dtype(float) for c in columns
    ]


def _at_precision(dtypes: Sequence[np.dtype], *arrays: np.ndarray) -> list[np.ndarray]:
    """``arrays`` with each column rounded to its type in ``dtypes``, to
    compare values with limits given at that precision."""
    out = list(arrays)
    for d, dtype in enumerate(dtypes):
        if dtype == np.float64:
            continue
        with np.errstate(over="ignore"):
            out = [a.copy() if a is b else a for a, b in zip(out, arrays, strict=True)]
            for a in out:
                a[:, d] = a[:, d].astype(dtype)
    return out


#: A value within this relative distance of its limit counts as recorded
#: at the limit: a limit and the values written at it may differ by the
#: rounding of float64 arithmetic (a unit conversion such as x 0.1 moves a
#: value by an ulp, 1e-16), far below any measurement's precision. Values
#: from float32 differ by up to 6e-8: compare them as float32 (give the
#: column or the limit as float32), or give the limit as they hold it.
LIMIT_RTOL = 1e-9


def at_limit(values, limits) -> np.ndarray:
    """Where ``values`` are at ``limits`` (within :data:`LIMIT_RTOL`,
    relative); False where either is NaN or the limit infinite.

    Examples
    --------
    >>> at_limit(np.array([1.1 * 0.1, 0.11, 0.12, np.nan]), 0.11).tolist()
    [True, True, False, False]
    >>> float(np.float32(0.3)), at_limit(float(np.float32(0.3)), 0.3).item()
    (0.30000001192092896, False)
    """
    values = np.asarray(values, dtype=float)
    limits = np.asarray(limits, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(limits) & (
            np.abs(values - limits) <= LIMIT_RTOL * np.abs(limits)
        )


def _point_intervals(values, low, high) -> np.ndarray:
    """Where intervals are points: their bounds equal to float64 rounding,
    within :data:`LIMIT_RTOL` of the larger of the bounds' magnitudes and
    the column's spread (the interquartile range of its values and bounds,
    which one wild value does not inflate). The probability of so narrow an
    interval is a difference of two nearly equal CDFs, lost to rounding; as
    a measured value, its density is exact (the log-likelihoods differ by
    the log of the width, a constant of the data).

    Examples
    --------
    >>> values = np.array([[np.nan], [np.nan], [np.nan], [2.0], [1e6]])
    >>> low = np.array([[1.0], [1.0], [-1e-300], [0.0], [np.nan]])
    >>> high = np.array([[1.0 + 1e-12], [1.1], [0.0], [3.0], [np.nan]])
    >>> _point_intervals(values, low, high).ravel().tolist()
    [True, False, True, False, False]
    """
    entries = np.concatenate([values, low, high], axis=0)
    spread = np.zeros(entries.shape[1])
    for j, column in enumerate(entries.T):
        finite = column[np.isfinite(column)]
        if finite.size:
            q1, q3 = np.percentile(finite, [25.0, 75.0])
            spread[j] = q3 - q1 if q3 > q1 else np.abs(finite).max()
    with np.errstate(invalid="ignore"):
        size = np.maximum(np.maximum(np.abs(low), np.abs(high)), spread)
        return np.isfinite(size) & (np.abs(high - low) <= LIMIT_RTOL * size)


def _coarser(*precisions: Sequence[np.dtype]) -> list[np.dtype]:
    """Column by column, the least precise of several lists of types."""
    return [
        min(types, key=lambda t: t.itemsize) for types in zip(*precisions, strict=True)
    ]


def _unnamed(label) -> bool:
    """Whether a column label names nothing: None, NaN or blank text."""
    if label is None or label is pd.NA or label is pd.NaT:
        return True
    if isinstance(label, float):
        return label != label
    return isinstance(label, str) and not label.strip()


def as_matrix(
    X,
    *,
    name: str = "X",
    infinite_fix: str = "finite values, NaN (missing) or a censoring limit",
    text_fix: str | None = None,
) -> tuple[np.ndarray, tuple[str, ...], pd.Index]:
    """A float copy of ``X`` with its column names and row index.

    ``infinite_fix`` completes the error for infinite values ("replace them
    with ..."); ``text_fix``, with ``{columns}`` for the refused columns'
    names, is the advice for columns of text in place of selecting the
    numeric ones (a regression's categories are coded, not dropped).

    Raises StanmixInputError for columns or arrays that are not real numbers
    (text, booleans, complex numbers, dates, durations), wrong dimensions,
    empty input and a MultiIndex on the rows. Never modifies ``X``.

    Examples
    --------
    >>> frame = pd.DataFrame({"x": [1, 2]}, index=["a", "b"])
    >>> values, columns, index = as_matrix(frame)
    >>> values.tolist(), columns, list(index)
    ([[1.0], [2.0]], ('x',), ['a', 'b'])
    >>> try:
    ...     as_matrix(np.array([True, False]))
    ... except StanmixInputError as err:
    ...     print(str(err).split(";")[0])
    X must be numeric (real numbers), but it holds booleans (dtype bool)
    """
    if issparse(X):
        raise StanmixInputError(
            f"{name} is a sparse matrix ({type(X).__name__}); stanmix reads "
            f"dense measurements, where a missing cell is NaN rather than an "
            f"implicit zero: pass {name}.toarray()"
        )
    if isinstance(X, Mapping):
        raise StanmixInputError(
            f"{name} is a {type(X).__name__} ({name}[key] -> values); pass its "
            f"columns as a DataFrame, pd.DataFrame({name}), whose names they keep"
        )
    series = isinstance(X, pd.Series)
    if series:
        X = X.to_frame()
    if isinstance(X, pd.DataFrame):
        # Names first: with a repeated name, X[c] is a frame, not a column.
        columns = tuple(str(c) for c in X.columns)
        unnamed = [j for j, c in enumerate(X.columns) if _unnamed(c)]
        if unnamed:
            named = [f"x{j}" if j in unnamed else c for j, c in enumerate(columns)]
            raise StanmixInputError(
                f"{name} has column(s) without a name at position(s) "
                f"{', '.join(map(str, unnamed))} (names: "
                f"{', '.join(repr(c) for c in X.columns)}); stanmix names "
                "parameters, limits and plots by column: name every column, "
                f"e.g. {name}.columns = {named!r}"
            )
        repeated = check.repeated(columns)
        if repeated:
            raise StanmixInputError(
                f"{name} has duplicate column names: "
                f"{', '.join(map(repr, repeated))} (columns: {', '.join(columns)}); "
                f"give each column its own name (set {name}.columns) or keep one of "
                f"each, e.g. {name}.loc[:, ~{name}.columns.duplicated()]"
            )
        same = list(X.columns[X.columns.duplicated(keep=False)])
        if same:  # distinct as text, one key to pandas (1 and 1.0, True and 1)
            raise StanmixInputError(
                f"{name} has column labels that pandas takes for one key: "
                f"{', '.join(map(row_label, same))} (equal as Python values), "
                "so no column can be read by its label; give each column its "
                f"own name, e.g. {name}.columns = {list(columns)!r}"
            )
        refused = [c for c in X.columns if _refused(X[c])]
        if refused:
            text = {
                c: _text_fix(name if series else f"{name}[{c!r}]", c, X[c], X.index)
                for c in refused
            }
            bad = [
                f"{c!r} ({'; '.join(filter(None, [_column_kind(X[c]), text[c][0]]))})"
                for c in refused
            ]
            fixes = [fix for _, fix in text.values() if fix][:1]
            categorical = [
                c for c in refused if isinstance(X[c].dtype, pd.CategoricalDtype)
            ]
            if categorical:
                fixes.append(
                    "convert a categorical column of numbers with "
                    f"{name}[{categorical[0]!r}].astype(float)"
                )
            numeric = [c for c in X.columns if c not in refused]
            if text_fix is not None:
                fixes.append(text_fix.format(columns=refused))
            elif numeric:
                fixes.append(
                    f"select the numeric measurement columns, e.g. {name}[{numeric!r}]"
                )
            raise StanmixInputError(
                f"{name} has non-numeric column(s) {', '.join(bad)}; "
                + ("; or ".join(fixes) or "give numbers")
            )
        if isinstance(X.index, pd.MultiIndex):
            named = [row_label(n) for n in X.index.names if n is not None]
            levels = f"{X.index.nlevels} levels" + (
                f": {', '.join(named)}" if named else ""
            )
            raise StanmixInputError(
                f"{name} has a MultiIndex on its rows ({levels}); stanmix labels "
                "each observation with one label: give it a flat index, e.g. "
                f"{name}.reset_index(drop=True), or {name}.reset_index() and "
                "select the measurement columns to keep the levels as columns"
            )
        if not X.index.is_unique:
            repeated = X.index[X.index.duplicated(keep=False)]
            first = repeated.tolist()[0]
            raise StanmixInputError(
                f"{name}'s index repeats row labels ({len(repeated)} rows share "
                f"{repeated.nunique()} label(s), e.g. {first!r}, as pd.concat "
                "without ignore_index=True leaves them); stanmix labels each "
                "observation by its index (memberships, limits given as a "
                f"DataFrame): give the rows unique labels, e.g. "
                f"{name}.reset_index(drop=True)"
            )
        index = X.index
        values = np.empty(X.shape)
        for j in range(X.shape[1]):
            column = X.iloc[:, j]
            if column.dtype != object:
                values[:, j] = column.to_numpy(dtype=float, na_value=np.nan)
                continue
            values[:, j], too_large = _object_floats(column.to_numpy())
            if too_large is not None:
                raise _too_large(
                    f"{name} has",
                    f" at {_where([too_large[0]], [j], columns, index)}",
                    "correct it or record it as NaN (missing)",
                )
    else:
        masked = np.ma.getmaskarray(X) if np.ma.isMaskedArray(X) else None
        try:
            arr = np.asarray(X)  # a masked array's data: its mask is applied below
            kind = _not_real(arr)
        except (TypeError, ValueError) as err:
            raise StanmixInputError(
                f"{name} must be numeric (a numpy array or a DataFrame of "
                f"numbers); converting it failed: {err}"
            ) from None
        if kind is not None:
            what, fix = _kind_words(kind)
            raise StanmixInputError(
                f"{name} must be numeric (real numbers), but it holds {what} "
                f"(dtype {arr.dtype}); {fix}"
            )
        if arr.dtype == object:
            values, too_large = _object_floats(arr)
            if too_large is not None:
                raise _too_large(
                    f"{name} has",
                    f" at position {too_large}",
                    "correct it or record it as NaN (missing)",
                )
        else:
            values = np.array(arr, dtype=float, copy=True)
        if masked is not None:
            values[masked] = np.nan  # masked cells are missing
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise StanmixInputError(
                f"{name} must be 1-D (one variable) or 2-D (observations x "
                f"variables); got an array with shape {values.shape}"
            )
        columns = tuple(f"x{d}" for d in range(values.shape[1]))
        index = pd.RangeIndex(values.shape[0])
    if values.shape[0] > 0 and values.shape[1] == 0:
        raise StanmixInputError(
            f"{name} has 0 feature(s) (shape={values.shape}) while a minimum of 1 "
            "is required: pass at least one column"
        )
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise StanmixInputError(
            f"{name} is empty (shape {values.shape}); pass at least one "
            "observation and one column"
        )
    inf_rows, inf_cols = np.nonzero(np.isinf(values))
    if inf_rows.size:
        raise StanmixInputError(
            f"{name} has infinite values at "
            f"{_where(inf_rows, inf_cols, columns, index)}; replace them with "
            f"{infinite_fix}"
        )
    return values, columns, index


def _refused(column: pd.Series) -> bool:
    """Whether a DataFrame column is not real numbers: an object column is
    looked into (real numbers and None are fine, as in an object array); a
    categorical one is labels, whatever its categories."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return True
    if column.dtype == object:
        return _not_real(column.to_numpy()) is not None
    return (
        not pd.api.types.is_numeric_dtype(column)
        or pd.api.types.is_bool_dtype(column)
        or pd.api.types.is_complex_dtype(column)
    )


#: A cell written as censored: its side and its limit (``'<= 0.5'``).
_CENSORED_WORD = re.compile(r"\s*([<>])=?\s*(\S+)\s*")


def _text_fix(
    target: str, label, column: pd.Series, index: pd.Index
) -> tuple[str, str]:
    """For a column holding text: where its first entry that is not a number
    is, and what to do about it (a censored value such as ``'<0.5'``,
    numbers stored as text); empty strings for other columns. ``target`` is
    how the user names the column (``X['a']``, or ``y`` for a Series)."""
    text = column.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    if not text.any():
        return "", ""
    words = [v if isinstance(v, str) else "" for v in column]
    first = _first_word(column)
    if first is None:
        first = int(np.flatnonzero(text)[0])
        return (
            f"numbers stored as text, e.g. {words[first]!r} in row "
            f"{row_label(index[first])}",
            f"convert them, e.g. {target} = pd.to_numeric({target})",
        )
    where = _text_where(column, index)
    sign = _CENSORED_WORD.fullmatch(words[first])
    if sign is None or not _is_number(sign.group(2)):
        return where, ""
    limit = float(sign.group(2))
    side = "lower_limit" if sign.group(1) == "<" else "upper_limit"
    limits = {
        float(m.group(2))
        for m in map(_CENSORED_WORD.fullmatch, words)
        if m is not None and m.group(1) == sign.group(1) and _is_number(m.group(2))
    }
    if len(limits) > 1:
        return (
            f"{where}, a censored value",
            f"the column's {sign.group(1)} cells name {len(limits)} different "
            "limits: record each censored cell as the number at its own limit "
            f"and pass {side}= a DataFrame shaped as the data holding each "
            "cell's limit (NaN where a cell has none); the command line reads "
            "such cells itself (stanmix fit --censored-text)",
        )
    return (
        f"{where}, a censored value",
        f"record each censored cell as the number at its limit ({limit:g}) and "
        f"pass {side}={{{label!r}: {limit:g}}}",
    )


def _first_word(column: pd.Series) -> int | None:
    """The position of a column's first text entry that is not a number."""
    for i, value in enumerate(column):
        if isinstance(value, str) and not _is_number(value):
            return i
    return None


def _text_where(column: pd.Series, index: pd.Index) -> str:
    """Where a column's first text entry that is not a number is (``row 3
    holds 'ND'``), or ""."""
    first = _first_word(column)
    if first is None:
        return ""
    return f"row {row_label(index[first])} holds {column.iloc[first]!r}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _column_kind(column: pd.Series) -> str:
    """What a refused DataFrame column holds, in words."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return "categorical: labels, not measurements"
    if pd.api.types.is_bool_dtype(column):
        return _NOT_REAL["b"][0]
    if column.dtype == object:
        return _kind_words(_not_real(column.to_numpy()) or "O")[0]
    if pd.api.types.is_string_dtype(column):
        return _NOT_REAL["U"][0]
    kind = getattr(column.dtype, "kind", "O")
    return _NOT_REAL[kind][0] if kind in _NOT_REAL else "not numbers"


def _rows_of(spec, what: str, columns, index: pd.Index, fill=None):
    """A DataFrame or Series of per-cell entries, matched to the data's rows by
    label and to its columns by name; anything else as given."""
    if isinstance(spec, pd.Series):
        if len(columns) != 1 and spec.index.equals(index):
            raise StanmixInputError(
                f"{what} is a Series with one entry per row, but the data has "
                f"{len(columns)} columns; name the column it is for: "
                f"{what}.to_frame({columns[0]!r}) gives a DataFrame for column "
                f"{columns[0]!r} (other columns have none)"
            )
        if len(columns) != 1:
            raise StanmixInputError(
                f"{what} is a Series, but the data has {len(columns)} columns; give "
                f"{{column: value}} (e.g. {what}.to_dict() for one value per "
                "column) or a DataFrame with the data's columns and index"
            )
        spec = spec.to_frame(name=columns[0])
    if not isinstance(spec, pd.DataFrame):
        return spec
    unknown = [str(c) for c in spec.columns if str(c) not in columns]
    if unknown:
        positions = [f"x{d}" for d in range(len(columns))]
        numbered = list(columns) == positions and all(c.isdigit() for c in unknown)
        hint = (
            f"; the data are an array, whose columns are named {positions[0]}, "
            f"... by position: give {what}.to_numpy(), or name its columns so"
            if numbered
            else ""
        )
        raise StanmixInputError(
            f"{what} has column(s) {', '.join(map(repr, unknown))} that are "
            f"not in the data (columns: {', '.join(columns)}){hint}"
        )
    names = [str(c) for c in spec.columns]
    if len(set(names)) != len(names):
        raise StanmixInputError(f"{what} has duplicate column names {names}")
    spec = spec.set_axis(names, axis=1)
    if not spec.index.equals(index):
        same_labels = (
            len(spec.index) == len(index)
            and not spec.index.has_duplicates
            and not index.has_duplicates
            and bool(spec.index.isin(index).all())
        )
        if not same_labels:
            raise StanmixInputError(
                f"{what}'s row index does not match the data's: "
                f"{_index_difference(spec.index, index)}; its rows are matched "
                "to the data's rows by label, not by position: give it the "
                f"data's index, or pass {what}.to_numpy() to match rows by "
                "position"
            )
        spec = spec.reindex(index)
    return spec.reindex(columns=list(columns), fill_value=fill)


def _index_difference(given: pd.Index, data: pd.Index, shown: int = 5) -> str:
    """How a row index differs from the data's, in words."""

    def labels_text(labels: pd.Index) -> str:
        first = [row_label(v) for v in labels[:shown]]
        return listing(first, shown=shown, total=len(labels))

    parts = []
    extra = given[~given.isin(data)]
    absent = data[~data.isin(given)]
    if len(extra):
        parts.append(f"it has label(s) {labels_text(extra)} that the data has not")
    if len(absent):
        parts.append(f"it has no row for the data's label(s) {labels_text(absent)}")
    if not parts:
        parts.append("it repeats labels")
    return " and ".join(parts)


#: The infinity that means "no limit" on each side (a lower limit of -inf
#: censors nothing, nor does an upper one of +inf).
_OPEN_END = {"lower_limit": -np.inf, "upper_limit": np.inf}


def _open(value, what: str) -> bool:
    """Whether ``value`` is no limit for ``what``: NaN, or pandas' NA or None
    (as in a table of per-cell limits, or a mapping built from one with
    ``to_dict()``, whose nullable columns hold NA), or the infinity on the
    limit's own side.

    Examples
    --------
    >>> _open(float("nan"), "lower_limit"), _open(-np.inf, "lower_limit")
    (True, True)
    >>> _open(pd.NA, "lower_limit"), _open(None, "upper_limit")
    (True, True)
    >>> _open(np.inf, "lower_limit"), _open(0.5, "upper_limit")
    (False, False)
    """
    if value is None or value is pd.NA:
        return what in _OPEN_END
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return what in _OPEN_END and (number != number or number == _OPEN_END[what])


def _refuse_closed(value, what: str, noun: str = "") -> None:
    """Refuse the infinity that would censor every value of a limit."""
    if what in _OPEN_END and _is_inf(value) and not _open(value, what):
        side = "+" if what == "lower_limit" else "-"
        other = "-" if side == "+" else "+"
        what_is = (
            f"has {side}inf {noun}, which censor"
            if noun
            else f"is {side}inf, which censors"
        )
        raise StanmixInputError(
            f"{what} {what_is} every value; use NaN (or {other}inf) for no limit"
        )


def _is_inf(value) -> bool:
    try:
        return bool(np.isinf(float(value)))
    except (TypeError, ValueError):
        return False


def _per_cell(spec, what: str, shape, columns, index: pd.Index) -> np.ndarray:
    """A (N, D) array of limits (NaN = none) from a scalar, mapping or array;
    NaN, or the infinity on the limit's own side, where there is none."""
    out = np.full(shape, np.nan)
    if spec is None or (np.ndim(spec) == 0 and _open(spec, what)):
        return out
    if isinstance(spec, Mapping):
        for col, value in spec.items():
            if str(col) not in columns:
                raise StanmixInputError(
                    f"{what} names column {col!r}, which is not in the data "
                    f"(columns: {', '.join(columns)})"
                )
            if np.ndim(value) != 0:
                raise StanmixInputError(
                    f"{what}[{col!r}] must be a number (one limit for the "
                    f"column); per-row limits go in a DataFrame, e.g. "
                    f"{what}=pd.DataFrame({{{str(col)!r}: limits}}), NaN where "
                    "there is no limit"
                )
            if not _open(value, what):
                _refuse_closed(value, what)
                value = _finite_scalar(value, f"{what}[{col!r}]")
                out[:, columns.index(str(col))] = value
        return out
    if np.ndim(spec) == 0:
        _refuse_closed(spec, what)
        out[:] = _finite_scalar(spec, what)
        return out
    spec = _rows_of(spec, what, columns, index)
    if isinstance(spec, pd.DataFrame):
        bad = [
            f"{c!r} ("
            + "; ".join(
                filter(None, [_column_kind(spec[c]), _text_where(spec[c], spec.index)])
            )
            + ")"
            for c in spec
            if _refused(spec[c])
        ]
        if bad:
            raise StanmixInputError(
                f"{what} has non-numeric column(s) {', '.join(bad)}; give numbers, "
                "NaN where there is no limit"
            )
        with contextlib.suppress(TypeError, ValueError):
            # nullable columns: pd.NA is no limit, as NaN is
            spec = spec.astype("float64")
    masked = np.ma.getmaskarray(spec) if np.ma.isMaskedArray(spec) else None
    try:
        given = np.asarray(spec)  # a masked array's data: its mask is applied below
        kind = _not_real(given)
        if kind is None and given.dtype != object:
            arr = np.array(given, dtype=float, copy=True)
    except (TypeError, ValueError):
        raise StanmixInputError(
            f"{what} must be a number, a mapping {{column: number}} or an array "
            "of per-cell limits shaped like the data"
        ) from None
    if kind is None and given.dtype == object:
        arr, too_large = _object_floats(given)
        if too_large is not None:
            raise _too_large(f"{what} holds", "", "use NaN for no limit")
    if kind is not None:
        raise StanmixInputError(
            f"{what} holds {_kind_words(kind)[0]} (dtype {given.dtype}); give "
            "numbers, NaN where there is no limit"
        )
    if masked is not None:
        arr[masked] = np.nan  # a masked cell has no limit
    if arr.ndim == 1 and shape[1] == 1:
        arr = arr[:, None]
    if arr.shape != tuple(shape):
        per_column = (
            f"; for one limit per column give {{column: limit}}, e.g. "
            f"{what}={{{columns[0]!r}: {arr[0]:g}}}"
            if arr.ndim == 1 and arr.shape[0] == shape[1] > 1
            else f"; for one limit per row of one column give a DataFrame naming "
            f"it, e.g. {what}=pd.DataFrame({{{columns[0]!r}: limits}}, "
            "index=X.index) (other columns have none)"
            if arr.ndim == 1 and arr.shape[0] == shape[0] and shape[1] > 1
            else ""
        )
        raise StanmixInputError(
            f"{what} has shape {arr.shape} but the data has shape {tuple(shape)}; "
            f"per-cell limits must match the data (NaN where there is no limit)"
            f"{per_column}"
        )
    if what in _OPEN_END:
        arr[arr == _OPEN_END[what]] = np.nan
    if np.isinf(arr).any():
        if what.startswith("interval"):
            raise StanmixInputError(
                f"{what} has infinite entries; an interval open on one side is a "
                "one-sided limit: give such cells NaN in both interval bounds and "
                "their limit in lower_limit or upper_limit (NaN where a cell has "
                "none)"
            )
        _refuse_closed(np.inf if what == "lower_limit" else -np.inf, what, "entries")
        raise StanmixInputError(f"{what} has infinite entries; use NaN for no limit")
    return arr


def _finite_scalar(value, what: str) -> float:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, decimal.Decimal):  # a database's exact decimal
        with contextlib.suppress(ValueError):  # a signalling NaN
            value = float(value)
    return check.number(what, value)


def _nullable_bool(spec) -> bool:
    """Whether ``spec`` is a pandas mask of booleans that may hold NA
    (pandas' nullable ``"boolean"`` dtype, alone or beside numpy bools)."""
    if isinstance(spec, pd.DataFrame):
        dtypes = list(spec.dtypes)
    elif isinstance(spec, pd.api.extensions.ExtensionArray):
        dtypes = [spec.dtype]
    else:
        return False
    return bool(dtypes) and all(pd.api.types.is_bool_dtype(d) for d in dtypes)


def _object_flags(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An object array of True/False (Python or numpy booleans, as a
    DataFrame built from lists holds them, before and after ``fillna``) as
    booleans, and where it is missing (None, NA or NaN); any other entry
    leaves it as it was, to be refused as not a mask.

    Examples
    --------
    >>> flags, missing = _object_flags(np.array([True, None, np.False_], object))
    >>> flags.tolist(), missing.tolist()
    ([True, False, False], [False, True, False])
    >>> _object_flags(np.array([1, 0], object))[0].dtype
    dtype('O')
    """
    missing = np.zeros(arr.shape, dtype=bool)
    for pos, value in np.ndenumerate(arr):
        if (
            value is None
            or value is pd.NA
            or (isinstance(value, float) and value != value)
        ):
            missing[pos] = True
        elif not isinstance(value, (bool, np.bool_)):
            return arr, np.zeros(arr.shape, dtype=bool)
    return np.where(missing, False, arr).astype(bool), missing


def _mask(spec, shape, columns, index: pd.Index) -> np.ndarray | None:
    """The (N, D) boolean array of censored cells from a numpy or pandas mask.

    Pandas' nullable booleans, and True/False held as objects, are taken as
    booleans; a mask with a missing (NA) or masked (numpy.ma) entry is
    refused, naming the cells.
    """
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        raise StanmixInputError(
            "censored must be a boolean mask shaped like the data: a DataFrame "
            "of the data's columns and index (True = censored), or an (N, D) "
            "array; for a mask of some columns, build the DataFrame: "
            "pd.DataFrame(masks, index=X.index).reindex(columns=X.columns, "
            "fill_value=False)"
        )
    given = _rows_of(spec, "censored", columns, index, fill=False)
    if _nullable_bool(given):
        missing = np.asarray(pd.isna(given))
        arr = given.to_numpy(dtype=bool, na_value=False)
    elif np.ma.isMaskedArray(given):
        missing = np.ma.getmaskarray(given)
        arr = np.asarray(given)
    else:
        arr = np.asarray(given)
        missing = np.zeros(arr.shape, dtype=bool)
        if arr.dtype == object:  # True/False as objects: fillna(False) keeps them
            arr, missing = _object_flags(arr)
    if arr.ndim == 1 and shape[1] == 1:
        arr, missing = arr[:, None], missing[:, None]
    if arr.shape != tuple(shape):
        raise StanmixInputError(
            f"censored has shape {arr.shape} but the data has shape "
            f"{tuple(shape)}; give one True (censored) or False per cell: an "
            "(N, D) array, or a DataFrame of some of the data's columns with "
            "its index (the others not censored), e.g. censored=X[[column]] == "
            "limit"
        )
    if missing.any():
        rows, cols = np.nonzero(missing)
        masked = np.ma.isMaskedArray(given)
        if masked:
            fix = "e.g. censored.filled(False)"
        elif isinstance(given, (pd.DataFrame, pd.Series)):
            fix = "e.g. censored.fillna(False)"
        else:
            fix = "False in place of each None or NaN"
        raise StanmixInputError(
            f"censored has {'masked' if masked else 'missing (NA)'} entries at "
            f"{_where(rows, cols, columns, index)}; a mask cannot have missing "
            "entries: mark each cell True (censored) or False (not censored), "
            f"{fix}"
        )
    if arr.dtype != bool:
        binary = arr.dtype.kind in "iuf" and bool(np.isin(arr, (0, 1)).all())
        raise StanmixInputError(
            "censored must be a boolean mask (True = censored cell), got dtype "
            f"{arr.dtype}; "
            + (
                "its entries are all 0 and 1: pass censored.astype(bool)"
                if binary
                else "give True or False for each cell, e.g. censored=X == limit"
            )
        )
    return arr.copy()


def _other_side_hint(
    values: np.ndarray, limits: np.ndarray, arg: str, name: str, one: bool
) -> str:
    """Where no value of a column lies on the censored side of its own
    ``arg`` limit (none below an upper limit, none above a lower one) and
    some sit at it, the limit bounds the values from the other side: a hint
    that it is the other kind of limit, or "".

    Examples
    --------
    >>> print(_other_side_hint(
    ...     np.array([1.5, 1.5, 2.0, 3.1]), np.full(4, 1.5), "upper_limit", "a", True
    ... ))  # doctest: +NORMALIZE_WHITESPACE
    ; no value of column 'a' lies below its upper_limit and 2 sit at it: values
    recorded at a limit from above are non-detects below a detection limit,
    which is a lower_limit: pass lower_limit={'a': 1.5} instead
    """
    upper = arg == "upper_limit"
    given = np.isfinite(values) & np.isfinite(limits)
    at = given & at_limit(values, limits)
    with np.errstate(invalid="ignore"):
        inside = given & ~at & ((values < limits) if upper else (values > limits))
    if inside.any() or not at.any():
        return ""
    other = "lower_limit" if upper else "upper_limit"
    spelt = (
        f"{other}={{{name!r}: {float(limits[given][0]):.12g}}}"
        if one
        else f"the same limits as {other}"
    )
    what = (
        "from above are non-detects below a detection limit"
        if upper
        else "from below are values above a limit of measurement"
    )
    return (
        f"; no value of column {name!r} lies {'below' if upper else 'above'} its "
        f"{arg} and {int(at.sum())} sit at it: values recorded at a limit {what}, "
        f"which is a {other}: pass {spelt} instead"
    )


def _check_marked(mask, values, lower, upper, at, beyond, where) -> None:
    """Cells marked in ``censored`` must be at or beyond a limit: a marked
    cell recorded inside its limits would be a measured value taken for a
    censored one, and one with both limits needs its value to tell which
    limit it is beyond."""
    has_lo, has_hi = np.isfinite(lower), np.isfinite(upper)
    recorded = ~np.isnan(values)
    past = (at[0] | beyond[0], at[1] | beyond[1])
    inside = mask & recorded & ~(has_lo & past[0]) & ~(has_hi & past[1])
    for bad, text in (
        (inside & has_lo & ~has_hi, "above their lower_limit"),
        (inside & has_hi & ~has_lo, "below their upper_limit"),
        (inside & has_lo & has_hi, "between their lower_limit and upper_limit"),
    ):
        if bad.any():
            r, c = np.nonzero(bad)
            raise StanmixInputError(
                f"cell(s) marked in `censored` at {where(bad)} lie {text} (the "
                f"first is {float(values[r[0], c[0]])!r}): a censored value is "
                "recorded at or beyond the limit it is censored at. Unmark "
                "measured cells in `censored`, or record the censored ones at "
                "their limit"
            )
    unknown = mask & ~recorded & has_lo & has_hi
    if unknown.any():
        raise StanmixInputError(
            f"cell(s) marked in `censored` at {where(unknown)} have both limits "
            "and no value to say which one they are beyond: record each at the "
            "limit it is beyond, or give the cell as an `interval`"
        )


def censoring_given(**censoring) -> dict:
    """The censoring arguments that were given (not None), by name.

    Examples
    --------
    >>> censoring_given(lower_limit=0.1, upper_limit=None, censored=None)
    {'lower_limit': 0.1}
    """
    return {name: value for name, value in censoring.items() if value is not None}


def cell_table(
    X,
    *,
    lower_limit=None,
    upper_limit=None,
    censored=None,
    interval: Sequence | None = None,
    allow_missing: bool = True,
    allow_empty_rows: bool = False,
    code: bool = True,
) -> tuple[CellTable, pd.Index]:
    """Validate the data and its censoring; return the cell table and row index.

    ``X`` may also be a :class:`CellTable` already holding its censoring (then
    no censoring argument may be given); it is checked and returned as is.

    A row whose every cell is missing is refused unless ``allow_empty_rows``
    (a regression's row still has its covariates: a missing response).
    Messages give a fix as pandas code on ``X`` (and ``L``, a limits
    DataFrame) only where it runs as written: with ``code``, for a
    DataFrame ``X`` whose columns are named by strings.

    The limits ``lower_limit`` / ``upper_limit`` (a number, one per column,
    per row or per cell) are kept in the table for every cell they were
    given for, censored or not (:attr:`CellTable.lower_limit`,
    :attr:`CellTable.upper_limit`), also when a ``censored`` mask says
    which cells are censored, so that replicated data are censored where
    the data would have been (:mod:`stanmix.checks`).

    Parameters
    ----------
    X : array-like, DataFrame, Series or CellTable
        The observations, one row each; NaN cells are missing.
    lower_limit, upper_limit : number, dict, Series, DataFrame or array, optional
        Detection limits: one number for every cell, ``{column: limit}``,
        one per column, or one per row or per cell (NaN: no limit there).
        A cell recorded at its limit is censored there (left at
        ``lower_limit``, right at ``upper_limit``); one recorded beyond it
        is refused unless ``censored`` marks it.
    censored : bool array or DataFrame, optional
        Which cells are censored, shaped as ``X``, where the recorded
        values do not say it (a censored cell then needs a limit).
    interval : (lows, highs), optional
        Interval-censored cells: every cell's lower bound, then every
        cell's upper bound, each shaped as ``X`` (NaN in both where a cell
        has none; the cell's value is then unused).
    allow_missing : bool, default True
        False refuses missing cells (a model that needs complete data).
    allow_empty_rows : bool, default False
        True accepts rows with every cell missing.
    code : bool, default True
        Whether messages may give their fix as pandas code (see above).

    Returns
    -------
    cells : CellTable
        The values, each cell's kind and its bounds.
    index : pandas.Index
        The rows' labels: ``X``'s index, else a RangeIndex.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [0.1, 2.0, 3.0], "y": [1.0, None, 2.5]})
    >>> table, _ = cell_table(df, lower_limit={"x": 0.1})
    >>> table.kind.tolist()   # 0 observed, 1 left-censored, 4 missing
    [[1, 0], [0, 4], [0, 0]]
    >>> table.lower_limit.tolist()   # in force for every row of x
    [[0.1, nan], [0.1, nan], [0.1, nan]]
    """
    if isinstance(X, CellTable):
        given = censoring_given(
            lower_limit=lower_limit,
            upper_limit=upper_limit,
            censored=censored,
            interval=interval,
        )
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
    framed = (
        code
        and isinstance(X, pd.DataFrame)
        and all(isinstance(c, str) for c in X.columns)
    )
    # Pandas code on both the data and the limits (L) runs for a DataFrame of them.
    coded = {
        "lower_limit": framed and isinstance(lower_limit, pd.DataFrame),
        "upper_limit": framed and isinstance(upper_limit, pd.DataFrame),
    }
    lower = _per_cell(lower_limit, "lower_limit", shape, columns, index)
    upper = _per_cell(upper_limit, "upper_limit", shape, columns, index)
    mask = _mask(censored, shape, columns, index)

    def where(bad: np.ndarray) -> str:
        r, c = np.nonzero(bad)
        return _where(r, c, columns, index)

    both = np.isfinite(lower) & np.isfinite(upper) & (lower >= upper)
    if both.any():
        raise StanmixInputError(
            f"lower_limit is not below upper_limit at {where(both)}; the "
            "detection range must be non-empty: lower_limit censors the values "
            "at or below it (non-detects), upper_limit those at or above it "
            "(saturation); if the two were given the other way round, swap them"
        )

    kind = np.where(np.isnan(values), MISSING, OBSERVED).astype(np.int8)
    has_lo, has_hi = np.isfinite(lower), np.isfinite(upper)
    recorded = ~np.isnan(values)
    # Each comparison at the precision of the data's column or of its limit,
    # whichever is coarser.
    data_precision = column_precisions(X, columns)
    v_lo, lo = _at_precision(
        _coarser(data_precision, column_precisions(lower_limit, columns)),
        values,
        lower,
    )
    v_hi, hi = _at_precision(
        _coarser(data_precision, column_precisions(upper_limit, columns)),
        values,
        upper,
    )
    at_lo = has_lo & at_limit(v_lo, lo)
    at_hi = has_hi & at_limit(v_hi, hi)
    with np.errstate(invalid="ignore"):
        below = has_lo & recorded & (v_lo < lo) & ~at_lo
        above = has_hi & recorded & (v_hi > hi) & ~at_hi
    if mask is None:
        for bad, side, limits, fix in (
            (
                below,
                "below its lower_limit",
                lower,
                "record left-censored cells at the limit",
            ),
            (
                above,
                "above its upper_limit",
                upper,
                "record right-censored cells at the limit",
            ),
        ):
            if bad.any():
                r, c = np.nonzero(bad)
                arg = side.split()[-1]
                col, name = c[0], columns[c[0]]
                beyond, own = values[bad[:, col], col], limits[bad[:, col], col]
                given = limits[:, col][np.isfinite(limits[:, col])]
                one = np.unique(given).size == 1
                marked = (
                    f" (with pandas, censored=X[[{name!r}]] < {float(own[0]):.12g})"
                    if one and framed
                    else f" (with pandas, censored=X[[{name!r}]] < L[[{name!r}]], "
                    f"L being the {arg} DataFrame)"
                    if coded[arg]
                    else ""
                )
                raise StanmixInputError(
                    f"value {side} at {where(bad)} (the first is "
                    f"{float(values[r[0], col]):.12g}, limit "
                    f"{float(limits[r[0], col]):.12g}); a "
                    "censored value cannot lie beyond its own limit: "
                    f"{fix} or mark it in `censored`"
                    + _other_side_hint(values[:, col], limits[:, col], arg, name, one)
                    + beyond_limit_hints(
                        beyond,
                        own,
                        data_precision[col],
                        column=name,
                        spell=lambda v, name=name, arg=arg: f"{arg}={{{name!r}: {v}}}",
                        rounded_fix=record_at_limits(name, arg, code=coded[arg]),
                        substitute_fix=f"mark them in `censored`{marked}, which "
                        "censors each at its limit"
                        if arg == "lower_limit"
                        else None,
                        several=not one,
                    )
                )
        left = at_lo
        right = at_hi
    else:
        _check_marked(mask, values, lower, upper, (at_lo, at_hi), (below, above), where)
        for bad, side in (
            (~mask & below, "below its lower_limit"),
            (~mask & above, "above its upper_limit"),
        ):
            if bad.any():
                raise StanmixInputError(
                    f"uncensored value {side} at {where(bad)}; mark the cell in "
                    "`censored` or correct the value"
                )
        # A cell with both limits is beyond the one its value is at or past.
        left = mask & has_lo & ~(has_hi & (at_hi | above))
        right = mask & has_hi & ~(has_lo & (at_lo | below))
    kind[left] = LEFT
    kind[right] = RIGHT

    low = np.full(shape, np.nan)
    high = np.full(shape, np.nan)
    high[left] = lower[left]
    low[right] = upper[right]

    point = np.zeros(shape, dtype=bool)
    if interval is not None:
        pair = isinstance(interval, Sequence) or (
            isinstance(interval, np.ndarray) and interval.ndim >= 2
        )
        if not (pair and len(interval) == 2):
            got = ""
            if isinstance(interval, np.ndarray) and interval.shape[-1:] == (2,):
                got = (
                    f"; got an array shaped {interval.shape}, whose last axis "
                    "looks like (low, high): pass np.moveaxis(interval, -1, 0)"
                )
            elif pair and len(interval) == shape[0]:
                got = (
                    f"; got {len(interval)} entries, one per row: for per-row "
                    "(low, high) pairs pass tuple(zip(*pairs))"
                )
            raise StanmixInputError(
                "interval must be a pair (lows, highs): every cell's lower "
                "bound, then every cell's upper bound, each shaped as the data "
                f"(or one array stacking them, shaped (2, N, D)){got}"
            )
        ilo = _per_cell(interval[0], "interval low", shape, columns, index)
        ihi = _per_cell(interval[1], "interval high", shape, columns, index)
        half = np.isfinite(ilo) ^ np.isfinite(ihi)
        if half.any():
            raise StanmixInputError(
                f"interval has only one bound at {where(half)}; give both bounds, "
                "or use lower_limit / upper_limit for one-sided cells"
            )
        inside = np.isfinite(ilo) & np.isfinite(ihi)
        point = inside & _point_intervals(values, ilo, ihi)
        reversed_ = inside & (ilo >= ihi) & ~point
        if reversed_.any():
            raise StanmixInputError(
                f"interval low is not below high at {where(reversed_)}; each "
                "interval must have low < high (or low == high for a measured "
                "value)"
            )
        clash = inside & ((kind == LEFT) | (kind == RIGHT))
        if clash.any():
            raise StanmixInputError(
                f"{where(clash)} is both interval- and limit-censored; give each "
                "cell one kind of censoring"
            )
        v, b_lo, b_hi = _at_precision(
            _coarser(
                data_precision, *(column_precisions(b, columns) for b in interval)
            ),
            values,
            ilo,
            ihi,
        )
        with np.errstate(invalid="ignore"):
            outside = (
                inside
                & recorded
                & (
                    ((v < b_lo) & ~at_limit(v, b_lo))
                    | ((v > b_hi) & ~at_limit(v, b_hi))
                )
            )
        if outside.any():
            r, c = np.nonzero(outside)
            raise StanmixInputError(
                f"value outside its interval at {where(outside)} (the first is "
                f"{values[r[0], c[0]]:g}, outside [{ilo[r[0], c[0]]:g}, "
                f"{ihi[r[0], c[0]]:g}]); a censored value cannot lie outside its "
                "own interval: record it as NaN or within the bounds, or correct "
                "the bounds"
            )
        # A point interval is a measurement: its value, or its bounds' middle.
        values = np.where(point & ~recorded, (ilo + ihi) / 2, values)
        kind[point] = OBSERVED
        recorded = recorded | point
        inside &= ~point
        kind[inside] = INTERVAL
        low[inside] = ilo[inside]
        high[inside] = ihi[inside]

    if mask is None:
        word = getattr(index, "name", None) or "row"
        shown = np.where(kind == INTERVAL, np.nan, values)
        for limits, has, at, name in (
            (lower, has_lo, at_lo, "lower_limit"),
            (upper, has_hi, at_hi, "upper_limit"),
        ):
            warn_unmatched(
                shown,
                limits,
                has,
                at,
                columns,
                lambda r: f"{word} {row_label(index[r])}",
                data_precision,
                name,
                coded[name],
            )
    if mask is not None:
        unlimited = mask & ~has_lo & ~has_hi & (kind != INTERVAL) & ~point
        if unlimited.any():
            raise StanmixInputError(
                f"{where(unlimited)} is marked censored but has no lower_limit, "
                "upper_limit or interval"
            )
    else:
        unmarked = (kind == MISSING) & (has_lo | has_hi)
        if unmarked.any():
            warnings.warn(
                f"{unmarked.sum()} NaN cell(s) where a limit is given (at "
                f"{where(unmarked)}) are taken as missing, not censored; if they "
                "stand for values beyond the limit, record them at the limit or "
                "mark them in `censored`",
                UserWarning,
                stacklevel=check.caller_level(),
            )
    values = np.where(kind == OBSERVED, values, np.nan)
    if not allow_missing and (kind == MISSING).any():
        r, c = np.nonzero(kind == MISSING)
        raise StanmixInputError(
            f"missing (NaN) values at {_where(r, c, columns, index)}; this model needs "
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
    # A limit is in force for every cell it was given for, censored or not,
    # whether the limits or a mask decided which cells are censored
    # (stanmix.cells: detection limits).
    limits = {"lower_limit": lower, "upper_limit": upper}
    return CellTable(values, kind, low, high, columns, **limits), index


#: The range of a column's standard deviation within which stanmix computes
#: in the column's units: the squares of its deviations stay far from
#: float64's underflow and overflow.
SPREAD_RANGE = (1e-150, 1e150)


def spread_problem(spread: float, it: str = "it") -> str | None:
    """Why a column with standard deviation ``spread`` cannot be computed
    with in its units, and the fix (calling the column ``it``), as words;
    None when ``spread`` lies in :data:`SPREAD_RANGE`, or is 0 (a constant
    column, refused for that).

    >>> spread_problem(1e-200)[:40]
    'varies by too small an amount to compute'
    >>> spread_problem(2.5) is None
    True
    """
    if spread == 0 or SPREAD_RANGE[0] <= spread <= SPREAD_RANGE[1]:
        return None
    size, fate = ("small", "underflow") if spread < 1 else ("large", "overflow")
    return (
        f"varies by too {size} an amount to compute with (standard deviation "
        f"{spread:.3g}; squares of such numbers {fate}); rescale {it}, e.g. "
        f"express it in {'smaller' if spread < 1 else 'larger'} units"
    )


def check_fit_data(cells: CellTable) -> None:
    """Refuse data that would give a silently wrong fit.

    A column with no observed value (all missing or censored) leaves its
    component parameters resting on the prior; a column whose values are
    all the same carries no information about the clusters and breaks the
    scale; one whose standard deviation lies outside :data:`SPREAD_RANGE`
    cannot be computed with in its units. Each is refused, naming the
    column.

    Examples
    --------
    >>> table, _ = cell_table(pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 3.0]}))
    >>> try:
    ...     check_fit_data(table)
    ... except StanmixInputError as err:
    ...     print(str(err)[:33])
    column 'y' is constant (every val
    """
    if cells.n_obs < 2:
        raise StanmixInputError(
            f"X has {cells.n_obs} "
            + ("sample (row)" if cells.n_obs == 1 else "samples (rows)")
            + ": one row says nothing about "
            "clusters or their spread; give at least two rows (an observation "
            "each)"
        )
    measured = cells.measured
    point_values = cells.point_values()
    for d, name in enumerate(cells.columns):
        if not measured[:, d].any():
            what = "censored or missing" if cells.censored[:, d].any() else "missing"
            raise StanmixInputError(
                f"column {name!r} has no observed value (every cell is {what}); "
                "drop it, or give at least some measured values or intervals"
            )
        points = point_values[cells.kind[:, d] != MISSING, d]
        if points.size == 1:
            raise StanmixInputError(
                f"column {name!r} has one value ({points[0]:g}) and every other "
                "cell missing; drop it: one value says nothing about the clusters"
            )
        if np.ptp(points) == 0:
            raise StanmixInputError(
                f"column {name!r} is constant (every value is {points[0]:g}); drop "
                "it: a constant column says nothing about the clusters"
            )
        problem = spread_problem(float(column_spread(points[:, None])[0]))
        if problem:
            raise StanmixInputError(f"column {name!r} {problem}")
