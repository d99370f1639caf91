"""plot_regression: the response against one predictor, with each
component's regression line."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from stanmix import _validation as check
from stanmix.cells import INTERVAL, LEFT, MISSING, OBSERVED, RIGHT, CellTable
from stanmix.censoring import censoring_given
from stanmix.exceptions import StanmixInputError
from stanmix.plots._common import (
    UNCERTAIN_BELOW,
    cell_positions,
    check_fitted_model,
    check_legend,
    closed_on_error,
    component_colors,
    draw_indices,
    edge_colors,
    face_colors,
    literal,
    membership_mean,
    new_axes,
    percent,
    place_legend,
    title_for,
    warn_switched,
    wrapped,
)

#: Posterior draws used for the lines' credible bands.
_MAX_LINE_DRAWS = 1000


def plot_regression(
    model,
    X=None,
    y=None,
    *,
    response: str | int | None = None,
    predictor: int | str | None = None,
    ax: Axes | None = None,
    n_grid: int = 100,
    lower_limit=None,
    upper_limit=None,
    censored=None,
    interval=None,
    legend: str = "auto",
    figsize: tuple[float, float] | None = None,
) -> Axes:
    """A mixture of regressions: the data and each component's line.

    The response against one predictor: each point coloured by its most
    probable component (opacity growing with that probability, outlined in
    black below ``UNCERTAIN_BELOW``), each component's regression line at
    its posterior mean with a central credible band of ``model.hdi_prob``.
    With several predictors the others are held at their means (over the
    fitted rows) for the lines, while the points show the responses as
    observed. Censored responses are drawn at their limit with a marker
    pointing to where the true value lies (intervals at their midpoint);
    missing responses are counted in the legend. A component holding less
    than one fitted row (their membership probabilities' sum; an emptied
    component of a sparse mixture, which follows its prior) is listed in
    the legend but not drawn. The legend's
    ``w`` is each
    component's ``model.weights_``: with ``weights_from``, its weight at the
    covariates' centre (the weights then vary along the axis).

    Parameters
    ----------
    model : RegressionMixture
        A fitted mixture of regressions (or a ``Mixture`` read back from a
        CmdStan run of ``regression.stan``, which draws its fitted data
        only).
    X : DataFrame, optional
        New data to show instead of the fitted data: the fitted covariate
        columns and the response, given as ``y`` or as the column
        ``response`` of ``X`` (by default the column named like the fitted
        response, when ``X`` has one), as in ``RegressionMixture.fit``.
        The lines span the new predictor's range; the other predictors are
        held at their means over the fitted rows.
    y : array-like or Series, optional
        The new data's response, with ``X``.
    response : str or int, optional
        The column of ``X`` that holds the response, instead of ``y``.
    predictor : int or str, optional
        The predictor on the horizontal axis (name, or position among the
        predictors; an integer that names one predictor and places another
        is refused); the first by default.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    n_grid : int
        Points along the predictor at which the lines are evaluated.
    lower_limit, upper_limit, censored, interval
        The censoring of the new data's response, as for ``fit``; only with
        ``X`` (the fitted data keep theirs).
    legend : {"auto", "outside", "inside", "none"}
        Where the legend goes, as for :func:`plot_clusters`: beside the
        axes on the plot's own figure, inside the axes you pass (``"auto"``).
    figsize : (float, float), optional
        Width and height in inches of the figure the plot makes (not with
        ``ax``); by default a size that suits the plot.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import stanmix as sm
    >>> from stanmix.plots import plot_regression
    >>> data = sm.datasets.regressions(150, seed=1)
    >>> model = sm.RegressionMixture(2, engine="stanli").fit(
    ...     data.X, data.y, method="optimize", seed=1)
    >>> ax = plot_regression(model)
    >>> [line.get_gid() for line in ax.lines]
    ['line:0', 'line:1']
    """
    check_fitted_model(model, "plot_regression")
    legend = check_legend(legend)
    figsize = check.figsize(figsize, ax)
    family = model.family_
    if not family.needs_covariates or not hasattr(family, "line"):
        raise StanmixInputError(
            "plot_regression draws mixtures of regressions; this model's "
            f"components ({family.family}) have no lines: use plot_clusters"
        )
    n_grid = check.integer("n_grid", n_grid, low=2)
    names = [str(v) for v in model.idata_.posterior["beta"].coords["predictor"].values]
    if not names:
        raise StanmixInputError("this mixture of regressions has no predictor to plot")
    j = _predictor_position(predictor, names)
    censoring = censoring_given(
        lower_limit=lower_limit,
        upper_limit=upper_limit,
        censored=censored,
        interval=interval,
    )
    cells = _regression_cells(model, X, y, response, censoring)
    warn_switched(model, "plot_regression")
    made = ax is None
    ax = new_axes(ax, (8.0, 5.5), figsize)
    with closed_on_error(ax.figure if made else None):
        _draw_regression(model, cells, names, j, int(n_grid), ax)
        return place_legend(ax, legend, made)


def _draw_regression(
    model, cells: CellTable, names: list[str], j: int, n_grid: int, ax: Axes
) -> Axes:
    """Draw :func:`plot_regression`'s points, lines and bands on ``ax``:
    ``names`` are the predictors, ``j`` the one on the horizontal axis."""
    family = model.family_
    k = model.fitted_components_
    colors = component_colors(k)
    proba = membership_mean(model, cells)
    labels = np.argmax(proba, axis=1)
    p_max = proba.max(axis=1)
    face = face_colors(labels, p_max, k)
    edge = edge_colors(face, p_max)
    x_all = cells.covariates[:, list(family.predictors)]
    x = x_all[:, j]
    pos = cell_positions(cells, 0)
    kind = cells.kind[:, 0]
    response = cells.columns[0]
    extra: list[Line2D] = []
    for code, marker, label in (
        (OBSERVED, "o", None),
        (LEFT, "v", f"censored: {literal(response)} ≤ limit (at the limit)"),
        (RIGHT, "^", f"censored: {literal(response)} ≥ limit (at the limit)"),
        (INTERVAL, "D", "interval-censored (at the midpoint)"),
    ):
        rows = np.flatnonzero(kind == code)
        if not rows.size:
            continue
        coll = ax.scatter(
            x[rows],
            pos[rows],
            s=26 if marker == "o" else 40,
            marker=marker,
            c=face[rows],
            edgecolors=edge[rows],
            linewidths=0.7,
            zorder=2,
        )
        coll.set_gid("points:observed" if code == OBSERVED else "points:censored")
        if label:
            extra.append(
                Line2D([], [], marker=marker, ls="", color="0.45", ms=7, label=label)
            )
    missing = int(np.sum(kind == MISSING))
    if missing:
        extra.append(Line2D([], [], ls="", label=f"{missing} missing responses"))

    grid = np.linspace(x.min(), x.max(), n_grid)
    fitted = model.cells_.covariates[:, list(family.predictors)]
    design = np.repeat(fitted.mean(axis=0)[None], grid.size, axis=0)
    design[:, j] = grid
    params = model.param_draws()
    idx = draw_indices(params["w"].shape[0], _MAX_LINE_DRAWS)
    lines = family.line({name: arr[idx] for name, arr in params.items()}, design)
    prob = float(model.hdi_prob)
    lower, upper = np.quantile(lines, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    mean = lines.mean(axis=0)
    weights = np.asarray(model.weights_, dtype=float)
    # An emptied component (a sparse mixture's surplus) holds less than one
    # of the fitted rows and follows its prior: its wide band would cover
    # the lines and stretch the axes. A rare one that holds a row is drawn.
    counted = model.cells_.counted_rows()
    empty = model.predict_proba_fitted()[counted].sum(axis=0) < 1.0
    handles: list = []
    for c in range(k):
        if empty[c]:
            handles.append(
                Line2D(
                    [],
                    [],
                    color=colors[c],
                    lw=2.0,
                    label=f"component {c}  (w = {weights[c]:.2f})\n"
                    "  holds under one row: not drawn",
                )
            )
            continue
        if lines.shape[0] > 1:
            ax.fill_between(
                grid, lower[c], upper[c], color=colors[c], alpha=0.22, lw=0, zorder=3
            )
        (line,) = ax.plot(
            grid,
            mean[c],
            color=colors[c],
            lw=2.0,
            zorder=4,
            label=f"component {c}  (w = {weights[c]:.2f})",
        )
        line.set_gid(f"line:{c}")
        handles.append(line)
    if lines.shape[0] > 1:
        handles.append(
            Line2D([], [], color="0.6", lw=6, alpha=0.5, label=f"{percent(prob)} band")
        )
    if np.any(p_max < UNCERTAIN_BELOW):
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                markerfacecolor="white",
                markeredgecolor="black",
                ms=7,
                label=f"max probability < {UNCERTAIN_BELOW:g}",
            )
        )
    ax.legend(
        handles=handles + extra,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=9,
    )
    others = [n for i, n in enumerate(names) if i != j]
    # The held predictors on lines of their own, so many or long names stay
    # within the figure.
    held = (
        "\n"
        + literal(
            textwrap.fill(
                f"{', '.join(others)} held at "
                + ("their means" if len(others) > 1 else "its mean"),
                64,
            )
        )
        if others
        else ""
    )
    ax.set_xlabel(wrapped(names[j], ax))
    ax.set_ylabel(wrapped(response, ax, side="y"))
    ax.set_title(title_for(model, cells) + held)
    ax.grid(True, color="0.92", zorder=0)
    ax.set_axisbelow(True)
    return ax


def _regression_cells(model, X, y, response, censoring: dict) -> CellTable:
    """The fitted cells, or new data's read as the fitted design."""
    if X is None:
        given = [
            name
            for name, value in (("y", y), ("response", response))
            if value is not None
        ] + sorted(censoring)
        if given:
            raise StanmixInputError(
                f"{', '.join(given)} describe(s) new data X; the fitted data keep "
                "their own: pass X too, or leave them out"
            )
        return model.cells_
    design = getattr(model, "design_", None)
    if design is None:
        raise StanmixInputError(
            f"X: this {type(model).__name__} (read back from CmdStan) knows no "
            "covariate names to read new data by; plot its fitted data (leave X "
            "out), or fit a RegressionMixture"
        )
    if (
        y is None
        and response is None
        and not (isinstance(X, pd.DataFrame) and design.response in X.columns)
    ):  # else new_cells reads the fitted response's column
        raise StanmixInputError(
            "X: the regression plot draws responses against a predictor, so new "
            f"data need their response: give y=, response=, or a column "
            f"{design.response!r} in X (with the covariates "
            f"{', '.join(map(repr, design.covariates))})"
        )
    return model.new_cells(X, y, response=response, **censoring)


def _predictor_position(predictor, names: list[str]) -> int:
    if predictor is None:
        return 0
    return check.column_position("predictor", predictor, tuple(names), "predictor")
