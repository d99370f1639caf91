"""What recorded values say about the detection limits they were given.

A limit that no value meets, non-detects written as their limits rounded
(0.58 for 0.577), or written as a substitute (half the limit), and limits
given in other units all leave censored cells looking like measured ones,
or refused. The checks here look at the values against their limits and
warn, or word the hint of an error, with the fix; they change nothing.
:func:`stanmix.censoring.cell_table` and the command line call them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from stanmix import _validation as check

#: The most distinct limits a column may have for :func:`warn_unmatched`
#: to look at each group of rows sharing one (a batch) on its own. With
#: more (a limit per sample), the groups are too small for a pile at their
#: lowest value to mean anything: values written with one or two digits
#: tie there by chance.
_BATCHES_LOOKED_AT = 20

#: How unlikely (one-sided binomial) a pile of values within their last
#: written digit of their own row's limit must be, against the two digits
#: beyond, before :func:`_warn_rounded_limits` speaks.
_ROUNDED_LIMIT_P = 1e-3

#: A written unit counts as a digit (and the values within one of their
#: limits as a pile) only when it is at most this share of the spread of
#: the column's values (:func:`_spread`): coarser, a density is not smooth
#: over it (counts near 10, written 10, 20 and 30, over a unit of 10).
_FINE_UNIT = 0.2

#: Values labs write in place of a non-detect, as multiples of its limit,
#: and their names.
_SUBSTITUTES = (
    (0.0, "0", "zero"),
    (0.5, "half its limit", "LOQ/2"),
    (0.5**0.5, "its limit over sqrt(2)", "LOQ/sqrt(2)"),
)


def piled_end(seen: np.ndarray, lowest: bool) -> tuple[float, int] | None:
    """The lowest (highest) of a column's recorded values and how many sit
    there, when enough do (at least 5, and 5% of them) to look like cells
    recorded at a detection limit; None otherwise.

    Examples
    --------
    >>> piled_end(np.array([0.1] * 6 + [0.5, 0.7]), lowest=True)
    (0.1, 6)
    >>> piled_end(np.array([0.1, 0.5, 0.7]), lowest=True) is None
    True
    """
    if seen.size == 0:
        return None
    end = float(seen.min() if lowest else seen.max())
    piled = int(np.sum(seen == end))
    return (end, piled) if piled >= max(5, 0.05 * seen.size) else None


def limit_rounded_hint(
    beyond: np.ndarray, column: str, spell: Callable[[str], str]
) -> str:
    """A hint where every value beyond a limit is one value (at least two of
    them): most likely the limit itself, given rounded. ``spell`` writes the
    limit as it is passed, from its value's text.

    Examples
    --------
    >>> print(limit_rounded_hint(
    ...     np.array([-5.389024, -5.389024]), "Pb", lambda v: f"--lower-limit Pb={v}"
    ... ))  # doctest: +NORMALIZE_WHITESPACE
    ; all 2 such values of column 'Pb' are -5.389024: if that is the limit,
    give it as the data hold it (--lower-limit Pb=-5.389024)
    """
    if beyond.size < 2 or not np.all(beyond == beyond[0]):
        return ""
    exact = repr(float(beyond[0]))
    return (
        f"; all {beyond.size} such values of column {column!r} are {exact}: if "
        f"that is the limit, give it as the data hold it ({spell(exact)})"
    )


def written_step(values, dtype=np.float64) -> np.ndarray:
    """The unit of the last decimal each value is written with: 0.01 for
    0.58, 1 for 12, 1e-6 for 3.2e-05, within float arithmetic's rounding
    (0.1 + 0.2 is written 0.3) or at the precision of ``dtype`` (float32:
    ``np.float32(0.58)`` is written 0.58). 0 for a value needing more than
    12 significant digits (full float precision), for 0 (every unit
    writes it) and for NaN or infinite values. A value such as 1.00 is
    written 1 here: it holds no trace of its trailing zeros.

    Examples
    --------
    >>> written_step([0.58, 12.0, 3.2e-5, 0.1 + 0.2, np.pi, 1e-15, 0.0]).tolist()
    [0.01, 1.0, 1e-06, 0.1, 0.0, 1e-15, 0.0]
    >>> written_step([1200.0, 2.5e7, 1e20]).tolist()
    [100.0, 1000000.0, 1e+20]
    >>> written_step(np.float32([0.58, 0.1]), np.float32).tolist()
    [0.01, 0.1]
    """
    values = np.asarray(values, dtype=float)
    flat = values.ravel()
    step = np.zeros(flat.shape)
    size = np.abs(flat)
    left = np.isfinite(flat) & (flat != 0)
    if not left.any():
        return step.reshape(values.shape)
    # From the largest value's leading digit down, a value is written at
    # the first unit of which it is a whole (nonzero) number, counted with
    # at most 12 significant digits.
    for decimals in range(-int(np.floor(np.log10(size[left].max()))), 308):
        scaled = size[left] * 10.0**decimals
        if dtype == np.float64:
            tolerance = 8 * np.finfo(float).eps * scaled
            whole = np.abs(scaled - np.rint(scaled)) <= tolerance
        else:
            rounded = np.rint(scaled) / 10.0**decimals
            whole = rounded.astype(dtype) == size[left].astype(dtype)
        whole &= np.rint(scaled) >= 1
        place = np.flatnonzero(left)[whole]
        step[place] = 10.0**-decimals
        left[place] = False
        left[np.flatnonzero(left)[(scaled >= 1e12)[~whole]]] = False
        if not left.any():
            break
    return step.reshape(values.shape)


def warn_unmatched(
    values,
    limits,
    has,
    at,
    columns,
    row_name: Callable[[int], str],
    precisions,
    name,
    code: bool = True,
) -> None:
    """Warn of what a table's values say of the ``name`` limits
    (``"lower_limit"`` or ``"upper_limit"``) they were given, column by
    column: a column whose one limit matches none of its values while many
    sit on its lowest (highest) value (the limit mistyped, in other units,
    or rounded otherwise: values from float32), so that nothing is
    censored; and for per-row limits, :func:`_warn_rounded_limits`,
    :func:`_warn_scaled_limits` and, with at most
    :data:`_BATCHES_LOOKED_AT` limits, :func:`_warn_unmatched_batches`.

    ``values`` holds NaN where no value is recorded (or the cell is an
    interval), ``at`` where a value is at its limit, ``row_name(r)`` how a
    message names row ``r``, ``precisions`` each column's float type;
    ``code`` whether a fix may be given as pandas code on ``X`` and ``L``
    (the data and limits DataFrames, with columns named by strings).
    """
    lowest = name == "lower_limit"
    for j, column in enumerate(columns):
        given = np.unique(limits[has[:, j], j])
        if given.size > 1:
            # Each value's written unit, read once for both checks.
            step = written_step(values[:, j], precisions[j])
            column_values = (values[:, j], limits[:, j], at[:, j], step, precisions[j])
            said = _warn_rounded_limits(*column_values, column, row_name, name, code)
            said = _warn_scaled_limits(*column_values, column, row_name, name) or said
            if not said and given.size <= _BATCHES_LOOKED_AT:
                _warn_unmatched_batches(
                    values[:, j], limits[:, j], at[:, j], column, name
                )
            continue
        seen = values[:, j][~np.isnan(values[:, j])]
        if not has[:, j].any() or at[:, j].any():
            continue
        found = piled_end(seen, lowest)
        if found is None:
            continue
        end, piled = found
        limit = float(limits[has[:, j], j][0])
        sit = (
            f"{piled} of its {seen.size} values sit at "
            f"{'its lowest' if lowest else 'its highest'}"
        )
        if abs(end - limit) <= 1e-6 * abs(limit):
            advice = (
                f"{sit}, {end!r}, which differs from the limit {limit!r} by "
                "rounding (values from float32?): give the limit as they hold "
                f"it, {name}={{{column!r}: {end!r}}}, or the column as float32"
            )
        else:
            advice = (
                f"{sit}, {end:g}: if {end:g} is the limit, give "
                f"{name}={{{column!r}: {end:g}}} (check the limit's value and "
                "units)"
            )
        warnings.warn(
            f"{name} of column {column!r} matches none of its values, so no cell "
            f"of it is censored, while {advice}",
            UserWarning,
            stacklevel=check.caller_level(),
        )


def _edge(step: np.ndarray, values: np.ndarray, dtype) -> np.ndarray:
    """A written unit less the rounding a gap of one unit may lose in
    floats: 0.5 - 0.4 is 0.0999..., and float32's 0.51 - 0.5 0.00999999."""
    slack = 4 * np.finfo(dtype).eps * np.abs(values)
    with np.errstate(invalid="ignore"):
        return step - np.maximum(step * 1e-9, np.nan_to_num(slack))


def _spread(values: np.ndarray) -> float:
    """A standard deviation from the median absolute deviation, which a
    cluster far from the rest (up to half the values) does not inflate; 0
    where over half the values are one value.

    >>> round(_spread(np.r_[np.arange(10.0), 1000.0]), 2)
    4.45
    """
    with np.errstate(over="ignore", invalid="ignore"):
        return float(np.median(np.abs(values - np.median(values)))) * 1.4826


def _warn_rounded_limits(
    values, limits, at, step, dtype, column: str, row_name, name: str, code=True
) -> bool:
    """Warn of a column with per-row limits where many values lie beyond
    their own row's limit by less than the last digit they are written
    with: limits written rounded in place of the censored values (0.58 for
    a limit of 0.577), which would be fitted as measured values. Returns
    whether it warned.

    Values are taken in classes by the unit they are written with (0.01
    for 0.58; 0.1 for 0.6, which may be a 0.60), and within a class
    counted by how many units beyond their limits they lie: c1 in the
    first unit, c2 in the second, c3 in the third. Measured values have a
    density near their limits that is smooth or falls off steadily, so c1
    is expected to be about c2 (or c2 times the fall c2 / c3 from the
    second unit to the third, where that is steeper: counts of 0, 1 and 2
    with limits between 0 and 1). A class piles when c1 is at least three
    times that, and at least three times the mean of c2 and c3, with a
    binomial tail below :data:`_ROUNDED_LIMIT_P` (so at least 7 values).
    A class coarser than the column's usual unit u0 must also pile against
    the values of every class within its first unit of their limits, of
    which values written at u0 that end in zeros make up about u0 / unit
    (a tenth per digit). Only units at most :data:`_FINE_UNIT` of the
    spread of the values neither at their limits nor within a unit of them
    count, and values at their limits (censored) do not.
    """
    from scipy.stats import binom

    lower = name == "lower_limit"
    recorded = np.isfinite(values)
    with np.errstate(invalid="ignore"):
        gap = values - limits if lower else limits - values
        beyond = recorded & np.isfinite(limits) & ~at & (gap > 0)
    if beyond.sum() < 7:
        return False
    # The spread of the values that cannot be piled limits: a pile, most of
    # a heavily censored column, would make it as narrow as itself.
    edges = _edge(step, values, dtype)
    with np.errstate(invalid="ignore"):
        pileable = at | ((gap > 0) & (gap < edges))
    rest = values[recorded & ~pileable]
    spread = _spread(rest if rest.size >= 4 else values[recorded])
    judged = beyond & (step > 0) & (step <= _FINE_UNIT * spread)
    units, counts = np.unique(step[step > 0], return_counts=True)
    usual = units[np.argmax(counts)] if units.size else 0.0
    piled = np.zeros(values.shape, dtype=bool)
    near = further = 0
    for unit in np.unique(step[judged]):
        cls = judged & (step == unit)
        edge = np.where(cls, edges, unit)
        first = cls & (gap < edge)
        c1 = int(first.sum())
        c2 = int((cls & (gap >= edge) & (gap < edge + unit)).sum())
        c3 = int((cls & (gap >= edge + unit) & (gap < edge + 2 * unit)).sum())
        expected = max((c2 + c3) / 2, c2 * (c2 + 1) / (c3 + 1))
        share = max(1 / 3, expected / max(expected + c2 + c3, 1))
        tail = binom.sf(c1 - 1, c1 + c2 + c3, share)
        if c1 < 3 * expected or tail >= _ROUNDED_LIMIT_P:
            continue
        if unit > usual:
            n_all = int((beyond & (gap < unit * (1 - 1e-9))).sum())
            if binom.sf(c1 - 1, n_all, usual / unit) >= _ROUNDED_LIMIT_P:
                continue
        piled |= first
        near, further = near + c1, further + c2 + c3
    if not piled.any():
        return False
    r = np.flatnonzero(piled)[0]
    side = "above" if lower else "below"
    unit = _fix_unit(np.median(gap[piled]), step[piled])
    moved = int((beyond & (gap < float(unit))).sum())
    warnings.warn(
        f"{near} values of column {column!r} lie {side} their own row's {name} "
        f"by less than the last digit they are written with ({row_name(r)}: "
        f"{values[r]:.12g}, limit {limits[r]:.12g}), against {further} within "
        "the next two digits: they look like limits written rounded in place "
        "of censored values, and are fitted as measured values. If they are "
        "censored, " + record_at_limits(column, name, unit, moved, code),
        UserWarning,
        stacklevel=check.caller_level(),
    )
    return True


def _warn_scaled_limits(
    values, limits, at, step, dtype, column: str, row_name, name: str
) -> bool:
    """Warn of a column with per-row limits where many values are each the
    same factor between units (1e3, 1e6 or 1e9, or their inverses: mg and
    ug) times their own row's limit, exactly (to float rounding, or to a
    written unit under 1e-3 of the value), among values written with at
    least two significant digits: the values recorded at their limits,
    which were given in other units, so that none is censored. (A value
    ten times its limit is common in genuine data, where the limit scales
    with the values, and a one-digit value equals many round multiples.)
    Chance matches are counted by pairing the values with a fixed shuffle
    of the limits; the warning needs at least 5 values, 1% of those
    recorded, and three times the chance count plus 5. Returns whether it
    warned.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        usable = np.isfinite(values) & (values > 0) & (limits > 0) & ~at
        if usable.sum() < 5:
            return False
        x, own, unit = values[usable], limits[usable], step[usable]
        # Values of one or two significant digits equal a round multiple of
        # many limits by chance; a limit recorded as a value has more.
        telling = (unit == 0) | (unit <= 0.1 * x)
        tolerance = np.where(unit <= 1e-3 * x, unit, 0.0) * (1 + 1e-9) + 1e-9 * x

        def matches(lim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            power = np.rint(np.log10(x / lim))
            plausible = telling & np.isin(np.abs(power), (3, 6, 9))
            return plausible & (np.abs(x - 10.0**power * lim) <= tolerance), power

        hit, power = matches(own)
        chance, chance_power = matches(
            own[np.random.default_rng(0).permutation(own.size)]
        )
    if not hit.any():
        return False
    powers, counts = np.unique(power[hit], return_counts=True)
    k, count = int(powers[np.argmax(counts)]), int(counts.max())
    by_chance = int(np.sum(chance & (chance_power == k)))
    if count < max(5, 0.01 * x.size) or count < 3 * by_chance + 5:
        return False
    r = np.flatnonzero(usable)[np.flatnonzero(hit & (power == k))[0]]
    factor = f"{10.0**k:g}"
    warnings.warn(
        f"{count} values of column {column!r} are each {factor} times their own "
        f"row's {name} ({row_name(r)}: {values[r]:.12g}, limit "
        f"{limits[r]:.12g}), against {by_chance} with other rows' limits: they "
        "look like values recorded at their limits, which were given in other "
        f"units, and are fitted as measured values. If so, give the limits "
        f"{factor} times as large",
        UserWarning,
        stacklevel=check.caller_level(),
    )
    return True


def _warn_unmatched_batches(values, limits, at, column: str, name: str) -> None:
    """:func:`warn_unmatched` for a column whose rows have different
    limits (batches): each group of rows sharing a limit is looked at on
    its own, since one batch at its limit hides another whose values were
    recorded at another number."""
    lowest = name == "lower_limit"
    for limit in np.unique(limits[~np.isnan(limits)]):
        rows = limits == limit
        if at[rows].any():
            continue
        seen = values[rows][~np.isnan(values[rows])]
        found = piled_end(seen, lowest)
        if found is None:
            continue
        end, piled = found
        warnings.warn(
            f"{name} of column {column!r} matches none of the values of the "
            f"{int(rows.sum())} rows whose limit is {limit:g}, so none of them is "
            f"censored, while {piled} of those values sit at their "
            f"{'lowest' if lowest else 'highest'}, {end!r}: if {end!r} is those "
            "rows' limit (rounded otherwise, or in other units), give it to them",
            UserWarning,
            stacklevel=check.caller_level(),
        )


def _fix_unit(gap: float, steps: np.ndarray) -> str:
    """The distance from their limits within which cells are to be recorded
    at them: the power of ten just above ``gap`` (the largest of the cells'
    distances from their limits, or a typical one), at most the largest
    written unit (``steps``), as text.

    >>> _fix_unit(0.008, np.array([0.01, 0.1]))
    '0.01'
    """
    power = 10.0 ** (np.floor(np.log10(gap)) + 1)
    return f"{min(power, steps.max()):g}"


def record_at_limits(
    column: str,
    name: str,
    unit: str = "{unit}",
    cells: int | None = None,
    code: bool = True,
) -> str:
    """The fix for censored cells of ``column`` written as their ``name``
    limits rounded to ``unit``: every cell within a unit of its own limit
    (``cells`` of them, when given), recorded at it; with ``code``, also as
    pandas code on the data ``X`` and the limits ``L`` (DataFrames whose
    columns are named by strings, as ``column``).

    >>> print(record_at_limits("Pb", "lower_limit", "0.01", code=False))
    ... # doctest: +NORMALIZE_WHITESPACE
    record every cell of column 'Pb' within 0.01 of its own limit at that
    limit (measured values that close, if any, are censored with them)
    >>> record_at_limits("Pb", "lower_limit", "0.01")[-48:]
    "X['Pb'].mask(X['Pb'] - L['Pb'] < 0.01, L['Pb']))"
    """
    x, limit = f"X[{column!r}]", f"L[{column!r}]"
    diff = f"{x} - {limit}" if name == "lower_limit" else f"{limit} - {x}"
    counted = "" if cells is None else f"{cells} cells; "
    pandas = (
        f"; with pandas, L being the {name} DataFrame: "
        f"{x} = {x}.mask({diff} < {unit}, {limit})"
    )
    return (
        f"record every cell of column {column!r} within {unit} of its own "
        f"limit at that limit ({counted}measured values that close, if any, "
        f"are censored with them{pandas if code else ''})"
    )


def rounded_beyond_hint(
    beyond: np.ndarray, limits: np.ndarray, dtype, fix: str, several: bool
) -> str:
    """A hint where values beyond their own limits, in a column of
    ``several`` limits (per-row limits), all lie within the last digit
    they are written with of them:
    limits rounded to the nearest in place of censored values, some of
    which came out beyond their limits (and others, as silently, inside).
    One limit gets :func:`limit_rounded_hint` instead. ``fix`` says what to
    do, with ``{unit}`` for the distance (:func:`_fix_unit`).

    Examples
    --------
    >>> print(rounded_beyond_hint(
    ...     np.array([0.51, 0.63]), np.array([0.512, 0.634]), np.float64,
    ...     "write each as its limit (within {unit})", several=True,
    ... ))  # doctest: +NORMALIZE_WHITESPACE
    ; each of these lies within the last digit it is written with of its own
    limit, as limits written rounded in place of censored values do (those
    rounded the other way would be fitted as measured): write each as its
    limit (within 0.01)
    """
    step = written_step(beyond, dtype)
    off = np.abs(beyond - limits)
    if not several:
        return ""
    if np.all(off < _edge(step, beyond, dtype)):
        return (
            "; each of these lies within the last digit it is written with of "
            "its own limit, as limits written rounded in place of censored "
            "values do (those rounded the other way would be fitted as "
            "measured): " + fix.replace("{unit}", _fix_unit(off.max(), step))
        )
    limit_step = written_step(limits)
    if np.unique(limits).size > 1 and np.all(
        (limit_step > step) & (off < _edge(limit_step, limits, np.float64))
    ):
        return (
            "; each of these lies within the last digit of its limit as the "
            "limit is written, which has fewer digits than the values: if the "
            "limits were rounded, give them with the values' digits (values "
            "recorded at a limit the table rounds are beyond it, or inside it "
            "and fitted as measured)"
        )
    return ""


def beyond_limit_hints(
    beyond: np.ndarray,
    limits: np.ndarray,
    dtype,
    *,
    column: str,
    spell: Callable[[str], str],
    rounded_fix: str,
    substitute_fix: str | None,
    several: bool,
) -> str:
    """The hints for values refused beyond their own limits (``limits``, in
    a column of ``several`` limits or one), the most specific first: a
    common substitute for non-detects (lower limits, ``substitute_fix``
    given; :func:`substituted_hint`), else one limit given rounded (a column
    of one limit; :func:`limit_rounded_hint`); and per-row limits written
    rounded (:func:`rounded_beyond_hint`).

    Examples
    --------
    >>> print(beyond_limit_hints(
    ...     np.array([0.05, 0.05]), np.array([0.1, 0.1]), np.float64,
    ...     column="x", spell=str, rounded_fix="", substitute_fix="mark them",
    ...     several=False,
    ... ))  # doctest: +NORMALIZE_WHITESPACE
    ; each of these is half its limit (to the digits it is written with), as
    non-detects written as LOQ/2 are: if they stand for values below their
    limits, mark them
    """
    substitute = (
        substituted_hint(beyond, limits, dtype, substitute_fix)
        if substitute_fix is not None
        else ""
    )
    one_limit = (
        "" if substitute or several else limit_rounded_hint(beyond, column, spell)
    )
    return (
        one_limit
        + rounded_beyond_hint(beyond, limits, dtype, rounded_fix, several=several)
        + substitute
    )


def substituted_hint(beyond: np.ndarray, limits: np.ndarray, dtype, fix: str) -> str:
    """A hint where values below their lower limits (at least two) are each
    the same common substitute for a non-detect: 0, half the limit or the
    limit over the square root of 2, to the digits they are written with
    (which must be finer than a twentieth of the limit to tell, unless
    each value is the substitute exactly). ``fix`` says what to do.

    Examples
    --------
    >>> print(substituted_hint(
    ...     np.array([0.29, 0.35]), np.array([0.577, 0.7]), np.float64, "mark them"
    ... ))  # doctest: +NORMALIZE_WHITESPACE
    ; each of these is half its limit (to the digits it is written with), as
    non-detects written as LOQ/2 are: if they stand for values below their
    limits, mark them
    """
    if beyond.size < 2 or not np.all(limits > 0):
        return ""
    step = written_step(beyond, dtype)
    # Digits coarser than that match a substitute by chance, unless every
    # value is the substitute exactly (0.05 for a limit of 0.1).
    coarse = np.any(step > 0.05 * limits)
    for ratio, what, practice in _SUBSTITUTES:
        off = np.abs(beyond - ratio * limits)
        if np.all(off <= (0 if coarse else step * (1 + 1e-9)) + 1e-9 * limits):
            return (
                f"; each of these is {what} (to the digits it is written with), "
                f"as non-detects written as {practice} are: if they stand for "
                f"values below their limits, {fix}"
            )
    return ""
