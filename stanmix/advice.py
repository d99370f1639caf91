"""What the data make hard for a fit, in words: columns that repeat a few
values or pile rows on one, components that collapsed onto them, and
censored rows that a method takes as latent values or integrates at a
cost. Pure functions of the cells, the family and the fitted estimator;
the estimator turns their sentences into errors and warnings."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from stanmix.cells import INTERVAL, LEFT, OBSERVED, RIGHT, CellTable, Standardization
from stanmix.censoring import at_limit, listing
from stanmix.families import Family
from stanmix.families.base import COMPONENT, Priors

if TYPE_CHECKING:
    from stanmix.estimator import Mixture

#: What a row whose two censored cells are integrated beside observed ones
#: adds on the embedded engine (bench/pair_rows_cost.py: six columns, four
#: components): ms per component to each gradient, and s and MB to the
#: model's build, for one-sided cells (a closed form) and with an interval
#: cell (a quadrature).
PAIR_ROW_COST = {
    "one-sided": {"ms": 0.05, "s": 0.1, "MB": 2.5},
    "interval": {"ms": 0.22, "s": 0.13, "MB": 4.5},
}
#: How a fit's limits are given again for new data, per side.
_LIMIT_ARGS = {"lower": "lower_limit", "upper": "upper_limit"}

#: The added ms per gradient above which fit warns of such rows before it
#: starts (the gradient of 2,000 such uncensored rows takes about 2 ms).
PAIR_WARN_MS = 40.0


def costly_rows(family: Family, cells: CellTable, k: int, method: str) -> list[str]:
    """Warnings, before a fit by ``method``, of censored rows that it takes
    as latent values far from the posterior (optimize and ADVI), or
    integrates on every gradient at a cost: one sentence each, none where
    neither applies.

    Examples
    --------
    >>> import pandas as pd
    >>> from stanmix.censoring import cell_table
    >>> from stanmix.families import get_family
    >>> X = pd.DataFrame({"a": [0.0, 1, 2, 3], "b": [0, 0, 2, 3], "c": [0, 0, 0, 3]})
    >>> cells, _ = cell_table(X, lower_limit=0.0)
    >>> full = get_family("normal", "full")
    >>> [text[:44] for text in costly_rows(full.for_method("optimize"), cells, 2,
    ...                                    "optimize")]
    ['3 censored cells, in rows censored in more c']
    >>> costly_rows(full.for_method("sample"), cells, 2, "sample")
    []
    """
    found = []
    latent = 0 if method == "sample" else family.n_latent(cells)
    if latent:
        what = (
            "maximizes over them too, and that joint mode can lie far from "
            "the parameters' posterior mode"
            if method == "optimize"
            else "approximates them jointly with the parameters, and its "
            "approximation can lie far from the parameters' posterior"
        )
        found.append(
            f"{latent} censored cells, in rows censored in more cells than "
            f"{family.program}.stan integrates, are latent values there; "
            f"method={method!r} {what} (correlations pulled toward +-1, means "
            "past the limits). Use method='sample', whose draws of them give "
            "the posterior exactly, or covariance='diag'"
        )
    one_sided, interval = family.integrated_pairs(cells)
    cost = {
        key: one_sided * PAIR_ROW_COST["one-sided"][key]
        + interval * PAIR_ROW_COST["interval"][key]
        for key in ("ms", "s", "MB")
    }
    if k * cost["ms"] > PAIR_WARN_MS:
        among = f" ({interval} with an interval cell)" if interval else ""
        found.append(
            f"{one_sided + interval} rows have two censored cells beside "
            f"observed ones{among}, which "
            f"method={method!r} integrates under each of the {k} components "
            f"on every gradient: on the embedded engine about "
            f"{k * cost['ms']:.0f} ms per gradient, and {cost['s']:.0f} s and "
            f"{cost['MB']:.0f} MB to build the model (per row and component "
            f"{PAIR_ROW_COST['one-sided']['ms']} ms where both cells are "
            f"one-sided, {PAIR_ROW_COST['interval']['ms']} ms with an interval "
            "cell; docs/benchmarks.md, 'What the integrated rows cost the "
            "optimizer and ADVI'), so this fit may take long. "
            "method='sample' keeps such cells as latent values instead, and "
            "covariance='diag' integrates every censored cell by its CDF"
        )
    return found


def tied_columns(cells: CellTable) -> list[tuple[int, str, int, int]]:
    """The columns whose observed values are few and repeated (at least five
    rows per distinct value on average): (position, name, distinct values,
    observed rows) each.

    On such columns a component can sit on one value with a scale near
    zero, where the density of continuous components grows without bound.
    """
    tied = []
    for j, name in enumerate(cells.columns):
        seen = cells.values[cells.kind[:, j] == OBSERVED, j]
        n_values = np.unique(seen).size
        if seen.size and 5 * n_values <= seen.size:
            tied.append((j, name, n_values, seen.size))
    return tied


def collapsed_components(model: Mixture) -> list[str]:
    """The columns in which a fitted component has collapsed: a scale under
    a thousandth of the column's spread, on one value that the column
    repeats (a column of few values, or a pile of copies of one value in a
    continuous column), or on no more rows than the component has location
    parameters (one mean, or a line's intercept and slopes), which it then
    fits exactly. One description per column; empty where none has. Such
    a component's density there grows without bound as its scale shrinks,
    so its likelihood, BIC and elpd do not measure fit.

    Examples
    --------
    Scores from 1 to 7 (seven values repeated) fitted with too many
    components:

    >>> import warnings
    >>> import numpy as np, stanmix as sm
    >>> rng = np.random.default_rng(5)
    >>> centre = np.where(rng.integers(0, 2, 200) == 0, 2.5, 5.5)[:, None]
    >>> X = np.clip(np.round(centre + rng.normal(0, 1, (200, 2))), 1, 7)
    >>> with warnings.catch_warnings(record=True):
    ...     model = sm.Mixture(5, engine="stanli").fit(X, method="optimize", seed=1)
    >>> [text.split(" (")[0] for text in collapsed_components(model)]
    ["column 'x1': component 4"]
    """
    cells = model.cells_
    k = len(model.weights_)
    # tied covariances share one scale per column among the components
    fitted = getattr(model, "idata_", None)
    shared = fitted is not None and COMPONENT not in fitted.posterior["sigma"].dims
    scales = np.asarray(model.scales_, dtype=float).reshape(1 if shared else k, -1)
    scales = np.broadcast_to(scales, (k, cells.n_dims))  # one per row
    spread = np.nanstd(cells.point_values(), axis=0)
    low = scales < 1e-3 * spread
    if not low.any():
        return []
    tied = {j for j, *_ in tied_columns(cells)}
    untied = not tied.issuperset(np.flatnonzero(low.any(axis=0)))
    held = means = None
    if untied and model.family_.joint:
        # rows each component holds, in expectation
        held = model.predict_proba_fitted().sum(axis=0)
    if untied and not model.family_.needs_covariates:
        # a component's mean along each column (a line's is not one value)
        means = np.asarray(model.means_, dtype=float).reshape(k, cells.n_dims)
    found = []
    for j, name in enumerate(cells.columns):
        if not low[:, j].any():
            continue
        if j in tied:
            which = np.flatnonzero(low[:, j])
            note = ""
        else:
            few = np.zeros(k, bool)
            if held is not None:
                few = low[:, j] & (held < cells.n_covariates + 2)
            repeats = np.zeros(k, int)
            if means is not None:
                seen = cells.values[cells.kind[:, j] == OBSERVED, j]
                for c in np.flatnonzero(low[:, j] & ~few):
                    repeats[c] = repeated_at(seen, means[c, j], scales[c, j])
            which = np.flatnonzero(few | (repeats > 0))
            note = ""
            if few.any():
                note = f", on about {held[few].max():.0f} rows"
            if repeats.any():
                note += f", on a value {repeats.max()} rows repeat"
        if which.size:
            found.append(
                f"column {name!r}: component{'s' * (which.size > 1)} "
                f"{', '.join(map(str, which))} (scale down to "
                f"{scales[which, j].min():.2g}{note})"
            )
    return found


def repeated_at(values: np.ndarray, centre: float, scale: float) -> int:
    """How many of ``values`` a component of mean ``centre`` and (collapsed)
    scale ``scale`` sits on, where they are two or more copies of one value
    and no other value lies within three scales of it; else 0.

    >>> values = np.r_[np.linspace(-2, 2, 9), [3.0] * 4]
    >>> repeated_at(values, 3.0, 1e-5), repeated_at(values, 0.0, 1e-5)
    (4, 0)
    """
    near = values[np.abs(values - centre) <= 3 * scale]
    return int(near.size) if near.size >= 2 and np.ptp(near) == 0 else 0


def few_value_columns(cells: CellTable) -> list[str]:
    """Warnings for columns of at most three distinct observed values over
    ten or more rows: a code, a batch or a column of limits rather than a
    measurement, on one of whose values a component can sit with a scale
    near zero.

    Examples
    --------
    >>> import pandas as pd
    >>> from stanmix.censoring import cell_table
    >>> cells, _ = cell_table(pd.DataFrame({"x": range(12), "lod": [5.0, 6.0] * 6}))
    >>> print(few_value_columns(cells)[0])  # doctest: +NORMALIZE_WHITESPACE
    column 'lod' takes only 2 values (5, 6) in its 12 rows: a code, a batch or
    a column of limits rather than a measurement, and a component can sit on
    one of its values with a scale near zero; if it holds each row's limit of
    another column, give it as that column's limit; otherwise leave it out of
    the fitted columns
    """
    said = []
    for j, name in enumerate(cells.columns):
        seen = cells.values[cells.kind[:, j] == OBSERVED, j]
        values = np.unique(seen)
        if seen.size >= 10 and values.size <= 3:
            shown = ", ".join(f"{v:g}" for v in values)
            said.append(
                f"column {name!r} takes only {values.size} value"
                f"{'s' if values.size > 1 else ''} ({shown}) in its {seen.size} "
                "rows: a code, a batch or a column of limits rather than a "
                "measurement, and a component can sit on one of its values with "
                "a scale near zero; if it holds each row's limit of another "
                "column, give it as that column's limit; otherwise leave it out "
                "of the fitted columns"
            )
    return said


def tied_columns_hint(cells: CellTable, tied: list | None = None) -> str:
    """A sentence naming :func:`tied_columns` (``tied``, when found already)
    and what they do, or ""."""
    tied = tied_columns(cells) if tied is None else tied
    if not tied:
        return ""
    listed = listing([f"{name!r} ({v} values in {n} rows)" for _, name, v, n in tied])
    return (
        f". Column(s) {listed} repeat a few values: a component can sit on one "
        "of them with a scale near zero, where the density of continuous "
        "components has no useful maximum. Such data are counts or scores "
        "rather than measurements; fit fewer components, or a model for "
        "discrete values"
    )


def _observed_columns(cells: CellTable) -> Iterator[tuple[int, str, np.ndarray]]:
    """Each column other than :func:`tied_columns` that has observed cells:
    (column, name, its observed values)."""
    tied = {j for j, *_ in tied_columns(cells)}
    for j, name in enumerate(cells.columns):
        seen = cells.values[cells.kind[:, j] == OBSERVED, j]
        if j not in tied and seen.size:
            yield j, name, seen


def _piles(cells: CellTable) -> list[tuple[int, str, float, int, int, str]]:
    """Columns (other than :func:`tied_columns`) where one observed value
    holds at least a tenth of the observed rows (and five): (column,
    name, value, its count, observed rows, where it lies: "lowest",
    "highest" or "inside")."""
    found = []
    for j, name, seen in _observed_columns(cells):
        values, counts = np.unique(seen, return_counts=True)
        top = int(np.argmax(counts))
        if counts[top] < max(5, 0.1 * seen.size):
            continue
        where = (
            "lowest" if top == 0 else "highest" if top == values.size - 1 else "inside"
        )
        found.append((j, name, float(values[top]), int(counts[top]), seen.size, where))
    return found


def _end_piles(cells: CellTable) -> list[tuple[int, str, float, int, int, str]]:
    """Columns (other than :func:`tied_columns`) whose lowest or highest
    observed value holds at least a tenth of the observed rows (and five),
    each end on its own, so that a column piled at both ends (non-detects
    and a saturated instrument) gives both: (column, name, value, its
    count, observed rows, "lowest" or "highest")."""
    found = []
    for j, name, seen in _observed_columns(cells):
        for end, value in (("lowest", seen.min()), ("highest", seen.max())):
            count = int(np.sum(seen == value))
            if count >= max(5, 0.1 * seen.size):
                found.append((j, name, float(value), count, seen.size, end))
    return found


def piled_values_hint(cells: CellTable) -> str:
    """A sentence naming the columns (other than :func:`tied_columns`) where
    one observed value holds at least a tenth of the observed rows (and five
    rows), with the censoring that fits a detection limit recorded as the
    limit, or "".

    Examples
    --------
    >>> import pandas as pd
    >>> from stanmix.censoring import cell_table
    >>> cells, _ = cell_table(pd.DataFrame({"y": [0.5] * 6 + list(range(1, 15))}))
    >>> hint = piled_values_hint(cells)
    >>> print(hint[2:63])
    Column 'y' has 6 of its 20 observed values at 0.5, its lowest
    >>> "pass lower_limit={'y': 0.5} to censor them" in hint
    True
    """
    found = []
    for _, name, value, count, n, end in _piles(cells):
        shown = f"{value:g}"
        where = (
            f", its lowest: if {shown} stands for values below a detection limit, "
            f"pass lower_limit={{{name!r}: {shown}}} to censor them"
            if end == "lowest"
            else f", its highest: if {shown} stands for values above a limit, "
            f"pass upper_limit={{{name!r}: {shown}}} to censor them"
            if end == "highest"
            else f": if {shown} is a code rather than a measurement, set those "
            "cells to NaN (missing)"
        )
        found.append(
            f"Column {name!r} has {count} of its {n} observed values at {shown}{where}"
        )
    if not found:
        return ""
    return (
        ". "
        + "; ".join(found)
        + " (rows piled on one value let a component's scale shrink toward zero, "
        "where the density of continuous components has no useful maximum)"
    )


def _limit_column_hint(cells: CellTable, j: int, value: float, side: str) -> str:
    """Where another fitted column equals column ``j``'s piled ``value`` on
    every row piled there, yet varies between rows, as a column of per-row
    detection limits does: a sentence naming it as the limit, or ""."""
    piled = (cells.kind[:, j] == OBSERVED) & (cells.values[:, j] == value)
    for c, other in enumerate(cells.columns):
        column = cells.values[:, c]
        if c == j or not (cells.kind[piled, c] == OBSERVED).all():
            continue
        known = column[cells.kind[:, c] == OBSERVED]
        if (column[piled] == value).all() and np.unique(known).size > 1:
            name = cells.columns[j]
            return (
                f"; column {other!r} equals {value:g} on each of those rows and "
                "varies between rows, as a column of each row's limit does: if "
                f"it is one, pass {side}_limit={{{name!r}: X[{other!r}]}} and "
                f"leave {other!r} out of the fitted columns"
            )
    return ""


def unstated_limit_piles(cells: CellTable) -> list[str]:
    """Warnings for columns where a tenth of the observed values (and five)
    sit on the column's lowest (highest) value and the column is given no
    censoring on that side (no lower (upper) limit, no cell censored there,
    no interval): what a detection limit recorded in place of non-detects
    looks like, fitted as measured values unless censored. Each end is
    judged on its own: a lower limit says nothing of a pile at the top.

    Examples
    --------
    >>> import pandas as pd
    >>> from stanmix.censoring import cell_table
    >>> cells, _ = cell_table(pd.DataFrame({"Cd": [1.0] * 6 + list(range(2, 16))}))
    >>> print(unstated_limit_piles(cells)[0])  # doctest: +NORMALIZE_WHITESPACE
    column 'Cd' has 6 of its 20 values at 1, its lowest, and no lower limit:
    if 1 stands for values below a detection limit (non-detects recorded at
    it), pass lower_limit={'Cd': 1} to censor them; as given, they are fitted
    as measured values, on which a component's scale can shrink toward zero
    """
    said = []
    for j, name, value, count, n, end in _end_piles(cells):
        side = "lower" if end == "lowest" else "upper"
        limits = getattr(cells, f"{side}_limit")
        kind = cells.kind[:, j]
        if (
            (kind == (LEFT if side == "lower" else RIGHT)).any()
            or (kind == INTERVAL).any()
            or (limits is not None and np.isfinite(limits[:, j]).any())
        ):
            # this side's censoring is given: the limit checks judge it (a
            # limit on the other side says nothing of this one)
            continue
        shown = f"{value:g}"
        what = (
            "values below a detection limit (non-detects recorded at it)"
            if side == "lower"
            else "values above a limit of measurement (recorded at it)"
        )
        said.append(
            f"column {name!r} has {count} of its {n} values at {shown}, its {end}, "
            f"and no {side} limit: if {shown} stands for {what}, pass "
            f"{side}_limit={{{name!r}: {shown}}} to censor them; as given, they are "
            "fitted as measured values, on which a component's scale can shrink "
            "toward zero" + _limit_column_hint(cells, j, value, side)
        )
    return said


def counts_rows(values) -> bool:
    """Whether ``values`` number their rows: ten or more whole numbers, each
    one more than the one before (or each one less), as sample numbers or a
    saved row index are.

    Examples
    --------
    >>> counts_rows(np.arange(1.0, 11.0)), counts_rows(np.arange(10.0, 0.0, -1))
    (True, True)
    >>> counts_rows(np.r_[np.arange(1.0, 10.0), 9.0]), counts_rows(np.arange(9.0))
    (False, False)
    """
    values = np.asarray(values, dtype=float)
    if values.size < 10 or not np.isfinite(values).all():
        return False
    if not np.all(values == np.round(values)):
        return False
    steps = np.diff(values)
    return bool(np.all(steps == 1) or np.all(steps == -1))


def row_number_columns(cells: CellTable) -> list[str]:
    """Warnings for columns, measured in every row, that :func:`counts_rows`:
    a row index or sample numbers left in the data, which a mixture would
    fit as a measurement (the clusters then follow the rows' order).

    Examples
    --------
    >>> import pandas as pd
    >>> from stanmix.censoring import cell_table
    >>> frame = pd.DataFrame({"sample": range(1, 13), "Cd": [0.5, 2.0] * 6})
    >>> cells, _ = cell_table(frame)
    >>> print(row_number_columns(cells)[0])  # doctest: +NORMALIZE_WHITESPACE
    column 'sample' holds consecutive whole numbers (1, 2, ..., 12), as a row
    index or sample numbers do, and is fitted as a measurement: if it numbers
    the rows, leave it out of X (with pandas, make it the index:
    X.set_index('sample'), or index_col= in read_csv)
    """
    return [
        _numbering(name, cells.values[:, j], "a measurement", "X")
        for j, name in enumerate(cells.columns)
        if np.all(cells.kind[:, j] == OBSERVED) and counts_rows(cells.values[:, j])
    ]


def row_number_predictors(cells: CellTable, predictors) -> list[str]:
    """Warnings for a regression's ``predictors`` (covariates of ``cells``)
    that :func:`counts_rows` from 0 or 1: a row index left in X, fitted as
    a predictor. Numbers counted from elsewhere (years, one per row) are
    a regression's time, and not warned of.

    Examples
    --------
    >>> from stanmix.cells import CellTable
    >>> cells = CellTable.from_values(np.zeros((12, 1))).with_covariates(
    ...     np.c_[np.arange(12.0), np.arange(1990.0, 2002.0)], ["index", "year"])
    >>> [said[:32] for said in row_number_predictors(cells, ["index", "year"])]
    ["column 'index' holds consecutive"]
    """
    names = list(cells.covariate_names)
    found = []
    for name in predictors:
        values = cells.covariates[:, names.index(name)]
        if counts_rows(values) and values.min() in (0, 1):
            found.append(_numbering(name, values, "a predictor", "X or predictors"))
    return found


def _numbering(name: str, values: np.ndarray, use: str, where: str) -> str:
    """The warning of column ``name`` whose ``values`` number the rows,
    fitted as ``use``; the fix leaves it out of ``where``."""
    return (
        f"column {name!r} holds consecutive whole numbers ({values[0]:.0f}, "
        f"{values[1]:.0f}, ..., {values[-1]:.0f}), as a row index or sample "
        f"numbers do, and is fitted as {use}: if it numbers the rows, leave it "
        f"out of {where} (with pandas, make it the index: X.set_index({name!r}), "
        "or index_col= in read_csv)"
    )


def singular_draws(params: dict, method: str) -> str:
    """The error for draws (chain x draw leading axes) where a component's
    covariance is singular, a scale of 0 or not finite or a correlation
    matrix that has no Cholesky factor, which the likelihood and the
    memberships cannot use; "" where there are none. ``method`` names the
    draws' source and the remedy.

    Examples
    --------
    >>> sigma = np.array([[[[1.0, 0.5], [0.0, 2.0]], [[1.0, 0.5], [0.7, 2.0]]]])
    >>> w = np.full((1, 2, 2), 0.5)
    >>> print(singular_draws({"w": w, "sigma": sigma}, "variational")[:63])
    ADVI's approximation has 1 of its 2 draws where a component has
    >>> singular_draws({"w": w[:, 1:], "sigma": sigma[:, 1:]}, "variational")
    ''
    """
    sigma = np.asarray(params["sigma"], dtype=float)
    lead = sigma.shape[:2]
    flat = sigma.reshape(*lead, -1)
    with np.errstate(invalid="ignore"):
        zero = (flat <= 0).any(axis=-1)
    infinite = ~np.isfinite(flat).all(axis=-1)
    bad = zero | infinite
    what = ["a scale of 0"] * bool(zero.any()) + ["a scale that is not finite"] * bool(
        infinite.any()
    )
    if "corr" in params:
        corr = np.asarray(params["corr"], dtype=float)
        singular = ~np.isfinite(corr).reshape(*lead, -1).all(axis=-1)
        try:
            np.linalg.cholesky(np.nan_to_num(corr))
        except np.linalg.LinAlgError:
            for at in np.ndindex(*lead):
                try:
                    np.linalg.cholesky(np.nan_to_num(corr[at]))
                except np.linalg.LinAlgError:
                    singular[at] = True
        if singular.any():
            what.append("a correlation matrix with no Cholesky factor")
        bad |= singular
    if not bad.any():
        return ""
    source = {
        "optimize": "The posterior mode found",
        "variational": "ADVI's approximation",
        "sample": "NUTS",
    }.get(method, method)
    k = np.asarray(params["w"]).shape[-1]
    remedy = ["method='sample'"] * (method != "sample") + ["fewer components"] * (k > 1)
    return (
        f"{source} has {int(bad.sum())} of its {bad.size} draws where a component "
        f"has collapsed ({' and '.join(what)}): onto a few rows or latent values "
        "of censored cells, where the density of continuous components has no "
        "maximum, and where no likelihood or membership can be computed. "
        + (
            f"Use {' or '.join(remedy)}"
            if remedy
            else "Look for values the data repeat, or a scale far from the data's"
        )
    )


def priors_off_scale(units: Standardization, priors: Priors, columns) -> str:
    """A warning for a fit in the data's own units (``standardize=False``)
    whose columns lie far outside what the priors allow: a column whose
    values reach beyond three prior sds of the means' prior, or whose sd is
    more than three log-sds below the scales' prior median (its components'
    sds are smaller still; a column's sd above the prior's range may come
    from the spread between its clusters). ``units``
    are the units standardizing would give (each column's centre and sd).
    Empty when every column fits the priors.

    Examples
    --------
    >>> from stanmix.families.base import Priors
    >>> units = Standardization(np.array([0.5, 5e4]), np.array([1.0, 1e4]))
    >>> priors_off_scale(units, Priors(), ("x", "y"))[48:94]
    "column(s) 'y' (centre 5e+04, sd 1e+04) lie far"
    >>> in_data_units = Priors(mean_scale=3e4, scale_median=5e3)
    >>> y = Standardization(np.array([5e4]), np.array([1e4]))
    >>> priors_off_scale(y, in_data_units, ("y",))
    ''
    """
    reach = 3 * priors.mean_scale
    widest = priors.scale_median * np.exp(3 * priors.scale_log_sd)
    narrowest = priors.scale_median * np.exp(-3 * priors.scale_log_sd)
    off = [
        f"{name!r} (centre {centre:.3g}, sd {sd:.3g})"
        for name, centre, sd in zip(columns, units.center, units.scale, strict=True)
        if abs(centre) + sd > reach or sd < narrowest
    ]
    if not off:
        return ""
    return (
        f"standardize=False fits in the data's units, but column(s) "
        f"{listing(off)} lie far outside the priors, which expect values "
        f"within about +-{reach:.3g} (prior_mean_scale={priors.mean_scale:g}) "
        f"and component sds between {narrowest:.3g} and {widest:.3g} "
        f"(prior_scale_median={priors.scale_median:g}, "
        f"prior_scale_log_sd={priors.scale_log_sd:g}): the priors, not the "
        "data, would place the components. Fit with standardize=True (the "
        "default), or set those priors in the data's units."
    )


#: An ordered pair of components whose swap would lower the log density by
#: less than this (in the approximation of :func:`close_ordered_pairs`) has a
#: second mode the ordering does not rule out: about e^-3, 5%, of the
#: density of the first.
SWAP_DROP = 3.0
#: Components expected to hold fewer rows than this are left out: nearly
#: empty, their labels carry nothing.
SWAP_ROWS = 5.0


def close_ordered_pairs(
    mu: np.ndarray,
    w: np.ndarray,
    anchor: int,
    columns,
    n_rows: int,
    *,
    option: str = "anchor_dim",
    quantities=None,
) -> str:
    """A warning for ordered draws in which two neighbouring components'
    values of the ordered quantity are too close for the ordering to tell
    the components apart; empty when none are.

    ``mu`` (chain, draw, K, D) and ``w`` (chain, draw, K) are draws whose
    components are ordered by ``mu[..., anchor]``, of a fit to ``n_rows``
    rows. Swapping every other parameter of neighbours j and j+1 while
    keeping the ordered values gives the same clusters under the other
    labels, at a log density lower by about d^2 (1/s_j^2 + 1/s_{j+1}^2) / 2,
    where d is the gap between their ordered values and s_j, s_{j+1} those
    values' posterior sds (each cluster's value moved onto the other's).
    Below :data:`SWAP_DROP` that second mode holds a share of the posterior
    that chains started at one mode may not visit, and each value's
    interval is cut at the other's. The warning names another quantity by
    which every pair is further apart, where there is one, as the setting
    ``option`` takes it: ``columns[c]`` names quantity c (a column along
    which mixtures are ordered by the components' means, or what orders a
    mixture of regressions), and ``quantities[c]`` says what it is (by
    default, "mean along 'column'").

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> mu = np.empty((2, 500, 2, 2))
    >>> mu[..., 0] = rng.normal([-2.3, -2.2], 0.2, (2, 500, 2))
    >>> mu[..., 1] = rng.normal([-1.0, 3.0], 0.2, (2, 500, 2))
    >>> w = np.full((2, 500, 2), 0.5)
    >>> print(close_ordered_pairs(mu, w, 0, ("x", "y"), 200)[:69])
    components 0 and 1 (-2.31 and -2.21, sds 0.2 and 0.2) have nearly the
    >>> mu[..., 1, 0] += 3.0
    >>> close_ordered_pairs(mu, w, 0, ("x", "y"), 200)
    ''
    """
    if quantities is None:
        quantities = [f"mean along {name!r}" for name in columns]
    k, d = mu.shape[2], mu.shape[3]
    flat = mu.reshape(-1, k, d)
    if flat.shape[0] < 2:
        return ""  # one draw has no spread to judge closeness by
    used = np.flatnonzero(w.reshape(-1, k).mean(axis=0) * n_rows >= SWAP_ROWS)
    centre, sd = flat.mean(axis=0), flat.std(axis=0)

    def drops(column: int) -> list[tuple[int, int, float]]:
        """(component, next component, log density lost by swapping them)
        for the used components in order of their values of ``column``."""
        order = used[np.argsort(centre[used, column], kind="stable")]
        out = []
        for a, b in itertools.pairwise(order):
            gap = centre[b, column] - centre[a, column]
            precision = 1 / sd[a, column] ** 2 + 1 / sd[b, column] ** 2
            out.append((int(a), int(b), float(0.5 * gap**2 * precision)))
        return out

    close = [(a, b, drop) for a, b, drop in drops(anchor) if drop < SWAP_DROP]
    if not close:
        return ""
    what = quantities[anchor]
    pairs = listing(
        [
            f"{a} and {b} ({centre[a, anchor]:.3g} and {centre[b, anchor]:.3g}, "
            f"sds {sd[a, anchor]:.2g} and {sd[b, anchor]:.2g})"
            for a, b, _ in close
        ],
        sep="; ",
    )
    least = min(drop for *_, drop in close)
    text = (
        f"components {pairs} have nearly the same {what}, by which the "
        f"components are ordered ({option}={columns[anchor]!r}): with their "
        "other parameters swapped, the posterior has a second mode (a log "
        f"density only about {least:.3g} lower), which draws started at one "
        f"mode may not visit, and the interval of each one's {what} is cut "
        "at the other's. "
    )
    scores = {
        c: min((drop for *_, drop in drops(c)), default=np.inf)
        for c in range(d)
        if c != anchor
    }
    best = max(scores, key=scores.get, default=None)
    if best is not None and scores[best] >= SWAP_DROP:
        return text + (
            f"By their {quantities[best]} every pair of components lies "
            f"further apart: order by it with {option}={columns[best]!r}."
        )
    return text + (
        "No other quantity separates every pair further; init='random' "
        "(chains from dispersed starts) shows whether the chains reach both "
        "modes, and the relabelled draws then cover both."
    )


def unstated_limits(fitted: CellTable, new: CellTable) -> str:
    """A warning where observed cells of new data equal a detection limit
    the model was fitted with, while no limit is in force for them: such
    values are most likely censored (recorded at the limit), and are taken
    as measured. Empty where there are none.

    A fitted limit of a column is any limit in force for its cells at the
    fit (``lower_limit``, ``upper_limit``) or the bound of a left- or
    right-censored cell.

    Examples
    --------
    >>> import numpy as np
    >>> from stanmix.censoring import cell_table
    >>> fitted, _ = cell_table(np.array([[0.5], [2.0], [3.0]]), lower_limit=0.5)
    >>> new, _ = cell_table(np.array([[0.5], [0.7]]))
    >>> print(unstated_limits(fitted, new))  # doctest: +NORMALIZE_WHITESPACE
    1 cell of column 'x0' equals the lower_limit 0.5 the model was fitted
    with: it is taken as a measured value, as no limit is given for it here;
    if it is censored, pass lower_limit= as to fit
    """
    found, args = [], []
    for side, arg in _LIMIT_ARGS.items():
        kind = LEFT if side == "lower" else RIGHT
        bound = fitted.upper if side == "lower" else fitted.lower
        fitted_limit = getattr(fitted, f"{side}_limit")
        given = getattr(new, f"{side}_limit")
        for d, column in enumerate(fitted.columns):
            limits = bound[fitted.kind[:, d] == kind, d]
            if fitted_limit is not None:
                limits = np.r_[limits, fitted_limit[:, d]]
            limits = np.unique(limits[np.isfinite(limits)])
            if d >= new.n_dims or not limits.size:
                continue
            at = (new.kind[:, d] == OBSERVED) & _at_any(new.values[:, d], limits)
            if given is not None:
                at &= np.isnan(given[:, d])
            if at.any():
                n = int(at.sum())
                values = listing([f"{v:g}" for v in np.unique(new.values[at, d])])
                found.append(
                    f"{n} cell{'s' * (n > 1)} of column {column!r} "
                    f"equal{'s' * (n == 1)} the {arg} {values} the model was "
                    "fitted with"
                )
                args.append(arg)
    if not found:
        return ""
    one = len(found) == 1 and found[0].startswith("1 cell ")
    pronoun = (
        ("it is", "a measured value", "it")
        if one
        else ("they are", "measured values", "them")
    )
    passes = " and ".join(f"{a}=" for a in dict.fromkeys(args))
    return (
        f"{'; '.join(found)}: {pronoun[0]} taken as {pronoun[1]}, as no limit "
        f"is given for {pronoun[2]} here; if {pronoun[0]} censored, pass "
        f"{passes} as to fit"
    )


def _at_any(values: np.ndarray, limits: np.ndarray) -> np.ndarray:
    """Where ``values`` are at one of the sorted ``limits``, as fit tells a
    value recorded at its limit (:func:`stanmix.censoring.at_limit`): each
    value against its nearest limits on either side."""
    upper = np.clip(np.searchsorted(limits, values), 0, limits.size - 1)
    lower = np.clip(upper - 1, 0, limits.size - 1)
    return at_limit(values, limits[lower]) | at_limit(values, limits[upper])
