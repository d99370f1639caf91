"""plot_membership: each row's membership probabilities with their HDIs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from stanmix import _validation as check
from stanmix.cells import MISSING
from stanmix.exceptions import StanmixInputError
from stanmix.plots._common import (
    NEGLIGIBLE,
    check_fitted_model,
    check_legend,
    closed_on_error,
    component_colors,
    literal,
    new_axes,
    percent,
    place_legend,
    warn_switched,
)

#: Rows of plot_membership's own figure at full height (about 17 inches);
#: more rows share that height.
_MEMBERSHIP_ROWS = 40


def membership_arrays(model) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray]:
    """``model.membership()`` as arrays by row position: the observations'
    labels (N,) and the mean, HDI lower and HDI upper probabilities (N, K).

    Rows stay in the data's order and are matched by position, not by
    label, so a data index that repeats labels is kept as it is.
    """
    table = model.membership()
    k = model.fitted_components_
    n = len(table) // k
    labels = pd.Index(table["observation"].to_numpy()[::k])

    def wide(column: str) -> np.ndarray:
        # membership() lists rows by observation, then component.
        return table[column].to_numpy(dtype=float).reshape(n, k)

    return labels, wide("mean"), wide("hdi_lower"), wide("hdi_upper")


def least_certain(model, mean: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` fitted rows whose most probable component is
    least certain (of the mean probabilities ``mean``, (N, K)), least
    certain first, ties in the data's order. A row with every cell missing
    (a regression's row without a response) is left out: its membership is
    the mixing weights, nothing the data are unsure of."""
    informed = np.flatnonzero((model.cells_.kind != MISSING).any(axis=1))
    order = np.argsort(mean[informed].max(axis=1), kind="stable")
    return informed[order[:n]]


def plot_membership(
    model,
    observations=None,
    *,
    ax: Axes | None = None,
    max_obs: int = 20,
    legend: str = "auto",
    figsize: tuple[float, float] | None = None,
) -> Axes:
    """Membership probabilities with their HDIs, one row per observation.

    For each selected observation and each component, a dot at the posterior
    mean probability of belonging to that component and a bar over its HDI
    (``model.hdi_prob``); for a posterior mode (``method="optimize"``), the
    probability there, with no interval. Components keep their colours from
    :func:`plot_clusters`.

    Parameters
    ----------
    model : Mixture
        A fitted model.
    observations : sequence, optional
        Observation labels (the index of the fitted data, as in
        ``model.membership()["observation"]``); a label the index repeats
        shows every row that carries it. By default the ``max_obs``
        observations whose most probable component is least certain
        (rows with every cell missing, which have the mixing weights for
        their membership, are not among them).
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    max_obs : int
        How many observations the default selection shows.
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
    >>> from stanmix.plots import plot_membership
    >>> data = sm.datasets.two_components(60, seed=2)
    >>> model = sm.NormalMixture(2, engine="stanli").fit(
    ...     data.X, method="optimize", seed=1)
    >>> ax = plot_membership(model, max_obs=5)
    >>> len(ax.get_yticklabels())
    5
    """
    check_fitted_model(model, "plot_membership")
    legend = check_legend(legend)
    figsize = check.figsize(figsize, ax)
    if (
        isinstance(max_obs, bool)
        or not isinstance(max_obs, (int, np.integer))
        or max_obs < 1
    ):
        raise StanmixInputError(f"max_obs must be a positive integer, got {max_obs!r}")
    labels, mean, lower, upper = membership_arrays(model)
    if observations is None:
        picked = least_certain(model, mean, max_obs)
        what = (
            f"the {picked.size} least certain observations"
            if picked.size != 1
            else "the least certain observation"
        )
    else:
        if np.isscalar(observations):
            observations = [observations]
        wanted = list(observations)
        if not wanted:
            raise StanmixInputError("observations is empty; name at least one")
        found = [labels.get_indexer_for([o]) for o in wanted]
        unknown = [o for o, at in zip(wanted, found, strict=True) if at[0] < 0]
        if unknown:
            shown = ", ".join(map(repr, unknown[:5]))
            raise StanmixInputError(
                f"observation(s) {shown}{' ...' if len(unknown) > 5 else ''} are "
                "not in the fitted data; use labels from "
                "model.membership()['observation']"
            )
        # A label the data repeat names every row that carries it.
        picked = np.concatenate(found)
        what = f"{picked.size} observation{'s' if picked.size != 1 else ''}"
    chosen = list(labels[picked])
    warn_switched(model, "plot_membership")
    made = ax is None
    ax = new_axes(ax, (7.5, 1.4 + 0.38 * min(len(chosen), _MEMBERSHIP_ROWS)), figsize)
    with closed_on_error(ax.figure if made else None):
        _draw_membership(
            ax,
            chosen,
            what,
            mean[picked],
            lower[picked],
            upper[picked],
            model.hdi_prob if model.method_ != "optimize" else None,
        )
        return place_legend(ax, legend, made)


def _draw_membership(
    ax: Axes,
    chosen: list,
    what: str,
    m: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    hdi_prob: float | None,
) -> Axes:
    """Draw :func:`plot_membership`'s rows on ``ax``: the observations
    ``chosen`` (described by ``what``) with their mean membership
    probabilities ``m`` and HDI bounds ``lo`` and ``hi`` (rows, K);
    ``hdi_prob`` None for a point estimate (probabilities at the mode)."""
    k = m.shape[1]
    colors = component_colors(k)
    rows = np.arange(len(chosen))
    # Per row, the components with a non-negligible probability, spread
    # vertically inside the row.
    shown = (hi >= NEGLIGIBLE) | (m >= NEGLIGIBLE)
    shown[rows, np.argmax(m, axis=1)] = True
    rank = np.cumsum(shown, axis=1) - 1
    count = shown.sum(axis=1, keepdims=True)
    # within +-0.18 of the row's centre: the dots of one observation lie
    # closer together than those of neighbouring rows
    offsets = np.where(count > 1, (rank / np.maximum(count - 1, 1) - 0.5) * 0.36, 0.0)
    for j in range(k):
        sel = shown[:, j]
        if not sel.any():
            continue
        y = rows[sel] + offsets[sel, j]
        # The HDI as it is, the mean apart: a skewed posterior's mean may lie
        # outside its HDI, and a bar stretched to reach it would misstate it.
        # A point estimate has no interval, so no bar (nor its caps).
        if hdi_prob is not None:
            ax.errorbar(
                (lo[sel, j] + hi[sel, j]) / 2,
                y,
                xerr=(hi[sel, j] - lo[sel, j]) / 2,
                fmt="none",
                ecolor=colors[j],
                elinewidth=2.0,
                capsize=2,
                label=f"_HDI of component {j}",
            )
        ax.plot(m[sel, j], y, "o", color=colors[j], ms=5, label=f"component {j}")
    ax.set_yticks(rows, [literal(o) for o in chosen])
    if len(chosen) > _MEMBERSHIP_ROWS:  # the figure's height stops growing
        ax.tick_params(
            axis="y", labelsize=max(3.0, 9.0 * _MEMBERSHIP_ROWS / len(chosen))
        )
    ax.set_ylim(len(chosen) - 0.5, -0.5)
    ax.set_xlim(-0.02, 1.02)
    for y in rows[::2]:
        ax.axhspan(y - 0.5, y + 0.5, color="0.92", lw=0, zorder=0)
    ax.axvline(0.5, color="0.75", lw=0.8, ls=":", zorder=0)
    shown_as = (
        f"mean and {percent(hdi_prob)} HDI over draws"
        if hdi_prob is not None
        else "at the posterior mode (a point estimate: no interval)"
    )
    ax.set_xlabel(
        f"membership probability: {shown_as}\n"
        f"(components below {NEGLIGIBLE:g} in an observation are not drawn)",
        fontsize=9,
    )
    ax.set_ylabel("observation")
    ax.set_title(f"Membership of {what}")
    handles = [
        Line2D([], [], marker="o", color=colors[j], label=f"component {j}")
        for j in range(k)
    ]
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=9,
    )
    return ax
