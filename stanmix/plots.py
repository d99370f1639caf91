"""Plots of a fitted mixture: clusters, membership uncertainty, relabelling.

Every function draws with matplotlib and returns the Axes or Figure it drew
on; none calls ``plt.show()``, so they work under any backend (including
the non-interactive Agg backend used for reports). ArviZ draws the trace and
rank plots.

Components are coloured the same way everywhere (:func:`component_colors`),
so component 2 has one colour in the cluster plot, the membership plot and
the trace plots.
"""

from __future__ import annotations

import contextlib
import textwrap
import warnings
from collections.abc import Iterator, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse

from stanmix import _validation as check
from stanmix import likelihood
from stanmix.cells import INTERVAL, LEFT, MISSING, OBSERVED, RIGHT, CellTable
from stanmix.censoring import censoring_given
from stanmix.estimator import check_model
from stanmix.exceptions import StanmixInputError
from stanmix.inference_data import az

__all__ = [
    "UNCERTAIN_BELOW",
    "component_colors",
    "plot_clusters",
    "plot_co_clustering",
    "plot_loo_pit",
    "plot_membership",
    "plot_ppc",
    "plot_regression",
    "plot_relabelling",
]

#: Points whose largest membership probability is below this are outlined.
UNCERTAIN_BELOW = 0.9

_ELLIPSE_STYLES = ("-", "--", ":", "-.")
_MAX_DENSITY_DRAWS = 200
#: Rows of plot_membership's own figure at full height (about 17 inches);
#: more rows share that height.
_MEMBERSHIP_ROWS = 40
_NEGLIGIBLE = 0.01
#: Panels in a row of plot_ppc's figure.
PPC_COLUMNS = 4
#: plot_ppc's names for what ArviZ's legend calls its lines.
_PPC_LEGEND = {
    "Observed": "data",
    "Posterior predictive": "replicated data sets",
    "Posterior predictive mean": "mean of the replicates",
}
#: Characters a line of a cluster plot's title may hold.
_TITLE_WIDTH = 48
#: A white outline under a line drawn over points of its own colour.
_HALO = [patheffects.Stroke(linewidth=3.6, foreground="white"), patheffects.Normal()]


def component_colors(n_components: int) -> list[tuple[float, float, float, float]]:
    """One RGBA colour per component, the same in every stanmix plot.

    Matplotlib's ``tab10`` palette (its default colour cycle) for up to ten
    components; up to twenty, those ten and then their light shades
    (``tab20``), so that neighbouring components never share a hue; evenly
    spaced ``turbo`` colours beyond.

    Examples
    --------
    >>> component_colors(2)[0] == component_colors(5)[0] == component_colors(12)[0]
    True
    >>> len(component_colors(12))
    12
    """
    k = int(n_components)
    if k <= 10:
        cmap = plt.get_cmap("tab10")
        return [tuple(cmap(i)) for i in range(k)]
    if k <= 20:
        cmap = plt.get_cmap("tab20")  # dark shades at even positions
        return [tuple(cmap(i)) for i in [*range(0, 20, 2), *range(1, 20, 2)][:k]]
    cmap = plt.get_cmap("turbo")
    return [tuple(cmap(x)) for x in np.linspace(0.05, 0.95, k)]


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------


def _check_model(model, what: str) -> None:
    check_model(model, what)
    model.param_draws()  # raises NotFittedError before fit


def _new_axes(
    ax: Axes | None,
    default: tuple[float, float],
    figsize: tuple[float, float] | None = None,
) -> Axes:
    if ax is not None:
        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
        return ax
    _, ax = plt.subplots(figsize=figsize or default, layout="constrained")
    return ax


_LEGENDS = ("auto", "outside", "inside", "none")


def _check_legend(legend) -> str:
    if legend not in _LEGENDS:
        raise StanmixInputError(
            f"legend must be one of {', '.join(map(repr, _LEGENDS))}, got {legend!r}"
        )
    return legend


def _place_legend(ax: Axes, legend: str, made: bool) -> Axes:
    """Move the legend a plot drew beside its axes: kept there on the plot's
    own figure (``"auto"``) or on request (``"outside"``); inside the axes,
    where it covers least, on the caller's axes (``"auto"``: a legend
    beside them would overlap the next panel of a grid) or on request
    (``"inside"``); removed for ``"none"``."""
    drawn = ax.get_legend()
    if drawn is None or legend == "outside" or (legend == "auto" and made):
        return ax
    handles = list(drawn.legend_handles)
    labels = [text.get_text() for text in drawn.get_texts()]
    drawn.remove()
    if legend != "none":
        ax.legend(handles, labels, loc="best", fontsize=8, framealpha=0.85)
    return ax


@contextlib.contextmanager
def _closed_on_error(fig: Figure | None) -> Iterator[None]:
    """Close ``fig`` if drawing on it fails, so that a plot that raises
    leaves no open figure behind.

    Parameters
    ----------
    fig : matplotlib Figure or None
        The figure the plot made; ``None`` when it draws on the caller's
        axes, whose figure stays open.
    """
    try:
        yield
    except BaseException:
        if fig is not None:
            plt.close(fig)
        raise


def switched_labels_note(model) -> str | None:
    """What a plot of posterior means hides when the draws switch labels (or
    chains sit in different modes) and were not relabelled; None otherwise.

    Each component's posterior mean then averages over several clusters,
    and the memberships mix them: the plots of components and memberships
    warn with this, and the report shows it beside them.
    """
    switching = getattr(model, "label_switching_", None)
    if (
        switching is None
        or not switching.label_switching
        or getattr(model, "relabel_report_", None) is not None
    ):
        return None
    return (
        "the draws switch labels between chains or within them (label_switching_) "
        "and were not relabelled, so each component drawn here averages over "
        "several clusters and the membership probabilities mix them; "
        + (
            "fit with relabel='auto' (the default) or ordered means"
            if model.family_.exchangeable(model.fitted_components_)
            else "start the chains from one mode (init='map') or fit ordered means"
        )
    )


def _warn_switched(model, what: str) -> None:
    note = switched_labels_note(model)
    if note is not None:
        warnings.warn(f"{what}: {note}", RuntimeWarning, stacklevel=3)


def _check_cluster_plot(model) -> None:
    """Refuse, before any figure is made, a model whose components
    :func:`plot_clusters` cannot draw."""
    family = model.family_
    if family.cluster_plot != "plot_clusters":
        raise StanmixInputError(
            f"plot_clusters draws components that have a density over the data's "
            f"columns; this {type(model).__name__}'s components "
            f"({family.description}) depend on predictors: use "
            f"stanmix.plots.{family.cluster_plot}(model)"
        )
    if not family.joint:
        raise StanmixInputError(
            "plot_clusters colours each row by its most probable component, and "
            "the per-dimension model (joint=False) has none: each cell of a row "
            "comes from its own component. Fit DiagonalMixture(joint=True) to "
            "see clusters, or use stanmix.plots.plot_ppc(model) to see each "
            "column's fit"
        )


def _cells_for(model, X, censoring: dict | None = None) -> CellTable:
    """The fitted cells, or new data's, named by the model's columns (an
    array takes them: see ``Mixture.new_cells``), so that ``dims`` and the
    censoring arguments name them as for the fitted data.
    """
    censoring = censoring_given(**(censoring or {}))
    if X is None:
        if censoring:
            raise StanmixInputError(
                f"{', '.join(sorted(censoring))} describe(s) the censoring of new "
                "data X; the fitted data keep the censoring given to fit: pass X "
                "too, or leave them out"
            )
        return model.cells_
    return model.new_cells(X, **censoring)


def _membership_mean(model, cells: CellTable) -> np.ndarray:
    model._check_membership()
    return likelihood.membership_mean(model.family_, cells, model.param_draws())


def _point_alpha(p_max: np.ndarray, k: int) -> np.ndarray:
    """Opacity from the largest membership probability: 1/K -> 0.25, 1 -> 1."""
    if k == 1:
        return np.ones_like(p_max)
    certainty = np.clip((p_max - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)
    return 0.25 + 0.75 * certainty


def _face_colors(labels, p_max, k) -> np.ndarray:
    colors = np.array(component_colors(k))[labels]
    colors[:, 3] = _point_alpha(p_max, k)
    return colors


def _edge_colors(face: np.ndarray, p_max: np.ndarray) -> np.ndarray:
    edge = face.copy()
    edge[:, 3] = np.maximum(edge[:, 3], 0.6)
    edge[p_max < UNCERTAIN_BELOW] = to_rgba("black")
    return edge


def _cell_positions(cells: CellTable, d: int) -> np.ndarray:
    """Where each cell of column d is drawn: its value, limit or midpoint."""
    kind = cells.kind[:, d]
    pos = cells.values[:, d].copy()
    pos[kind == LEFT] = cells.upper[kind == LEFT, d]
    pos[kind == RIGHT] = cells.lower[kind == RIGHT, d]
    mid = 0.5 * (cells.lower[:, d] + cells.upper[:, d])
    pos[kind == INTERVAL] = mid[kind == INTERVAL]
    return pos


def _point_size(n: int) -> float:
    """Marker area for ``n`` points: 28 up to 500, shrinking with the square
    root of ``n`` beyond (down to 6 from about 11,000), so that a large data
    set does not paint over its clusters."""
    return float(np.clip(28.0 * np.sqrt(500.0 / max(n, 1)), 6.0, 28.0))


def _draw_indices(n_total: int, n_max: int) -> np.ndarray:
    if n_total <= n_max:
        return np.arange(n_total)
    return np.unique(np.linspace(0, n_total - 1, n_max).round().astype(int))


# --------------------------------------------------------------------------
# plot_clusters
# --------------------------------------------------------------------------


def plot_clusters(
    model,
    X=None,
    *,
    dims: Sequence[int | str] | None = None,
    ax: Axes | None = None,
    ellipses: Sequence[float] = (1.0, 2.0),
    lower_limit=None,
    upper_limit=None,
    censored=None,
    interval=None,
    legend: str = "auto",
    figsize: tuple[float, float] | None = None,
) -> Axes:
    """The data coloured by most probable component, with the components drawn.

    For two or more columns: a scatter plot of two chosen columns. Each
    point takes the colour of its most probable component; its opacity
    grows with that probability, and points whose largest probability is
    below ``UNCERTAIN_BELOW`` (0.9) are outlined in black. Each component
    is drawn as the ellipses of its posterior mean covariance (for
    Student-t components, scale matrix) in the two columns, at
    ``ellipses`` standard deviations (scales) around its mean: rotated for
    full and tied covariances, axis-aligned for diagonal ones, circles for
    spherical ones (when both columns share a scale). Its number sits at
    the centre. Censored cells are drawn at their limit
    (intervals at their midpoint) with a marker pointing to where the true
    value lies; a point with one of the two cells missing is drawn as a tick
    on the edge of the axis of its observed cell.

    For one column (``NormalMixture``): a histogram of the data with the
    weighted component densities and their sum (averaged over the posterior
    draws, each in the family's own shape), and a rug of the observations
    coloured the same way. The axis spans the data (censored cells at their
    limits) and each component's mean ± 3 standard deviations (scales) at
    the posterior mean of its parameters, leaving out components whose
    posterior mean weight is below 1 %.

    Parameters
    ----------
    model : Mixture
        A fitted model with joint components.
    X : array-like or DataFrame, optional
        Observations to show instead of the fitted data (same columns). An
        array with the model's number of columns takes the model's column
        names (for ``dims``, the censoring arguments and the axis labels).
    dims : pair of int or str, optional
        The two columns to plot (index or name). By default the two where
        the component means lie furthest apart for the components' spread
        (the ratio of the weighted variance of the means to the weighted
        mean of the component variances, at the posterior mean); the two
        columns of a two-column model. Only for models with two or more
        columns.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    ellipses : sequence of float
        Radii, in standard deviations, of the ellipses drawn per component
        (default 1 and 2). An empty sequence draws none.
    lower_limit, upper_limit, censored, interval : optional
        The censoring of ``X``, given as to ``fit`` (and ``predict_proba``):
        censored cells are drawn at their limit and coloured by memberships
        that integrate them out. Only with ``X``; the fitted data keep the
        censoring they were fitted with.
    legend : {"auto", "outside", "inside", "none"}
        Where the legend goes: beside the axes (``"outside"``), inside them
        where it covers least (``"inside"``), or nowhere. ``"auto"``: beside
        the axes on the plot's own figure, inside the axes you pass as
        ``ax`` (beside them it would overlap the next panel of a grid).
    figsize : (float, float), optional
        Width and height in inches of the figure the plot makes (not with
        ``ax``); by default a size that suits the plot.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    StanmixInputError
        For a mixture of regressions (use :func:`plot_regression`) and for
        the per-dimension model (``joint=False``), whose rows have no single
        component; no figure is left open.

    Examples
    --------
    >>> import stanmix as sm
    >>> from stanmix.plots import plot_clusters
    >>> data = sm.datasets.blobs(100, seed=1)
    >>> model = sm.DiagonalMixture(5, engine="stanli").fit(
    ...     data.X, method="optimize", seed=1)
    >>> ax = plot_clusters(model)
    >>> len(ax.patches)   # 5 components x (1 SD and 2 SD ellipses)
    10
    """
    _check_model(model, "plot_clusters")
    _check_cluster_plot(model)
    radii = _check_ellipses(ellipses)
    legend = _check_legend(legend)
    figsize = check.figsize(figsize, ax)
    _warn_switched(model, "plot_clusters")
    cells = _cells_for(
        model,
        X,
        {
            "lower_limit": lower_limit,
            "upper_limit": upper_limit,
            "censored": censored,
            "interval": interval,
        },
    )
    if cells.n_dims == 1:
        if dims is not None:
            raise StanmixInputError(
                "dims chooses two columns to plot; this model has one column"
            )
        made = ax is None
        ax = _new_axes(ax, (7.5, 4.5), figsize)
        with _closed_on_error(ax.figure if made else None):
            return _place_legend(_plot_clusters_1d(model, cells, ax), legend, made)
    dx, dy = (
        _separating_pair(model)
        if dims is None and cells.n_dims > 2
        else _check_dims(dims, cells.columns)
    )
    made = ax is None
    ax = _new_axes(ax, (8.0, 6.0), figsize)
    with _closed_on_error(ax.figure if made else None):
        return _place_legend(
            _plot_clusters_2d(model, cells, dx, dy, radii, ax), legend, made
        )


def _check_ellipses(ellipses) -> tuple[float, ...]:
    if ellipses is None:
        return ()
    if isinstance(ellipses, (str, bytes)):
        raise StanmixInputError(
            f"ellipses must be numbers of standard deviations, e.g. (1, 2), got "
            f"the text {ellipses!r}"
        )
    if np.isscalar(ellipses):
        ellipses = (ellipses,)
    try:
        radii = tuple(float(r) for r in ellipses)
    except (TypeError, ValueError):
        raise StanmixInputError(
            f"ellipses must be a sequence of positive numbers, got {ellipses!r}"
        ) from None
    if not all(np.isfinite(r) and r > 0 for r in radii):
        raise StanmixInputError(
            f"ellipses must be positive numbers of standard deviations, got {radii}"
        )
    if len(radii) > len(_ELLIPSE_STYLES):
        raise StanmixInputError(
            f"ellipses has {len(radii)} radii; at most {len(_ELLIPSE_STYLES)} "
            "can be told apart (one line style each)"
        )
    return radii


def _component_label(model, j: int, weight: float, shown: Sequence[str]) -> str:
    """A component's legend entry: its number and weight, and the plotted
    columns in which nearly all its rows are censored (its place there
    rests on the prior: ``censored_components_``)."""
    label = f"component {j}  (w = {weight:.2f})"
    censored = [
        col
        for k, col, _ in getattr(model, "censored_components_", None) or ()
        if k == j and col in shown
    ]
    if censored:
        label += f"\n  nearly all censored in {', '.join(map(_short, censored))}"
    return label


def _radius_label(radius: float, spread: str) -> str:
    """The legend's name of an ellipse: ``2 SD``, ``1 scale``, ``2 scales``.

    Examples
    --------
    >>> [_radius_label(r, s) for r, s in ((2.0, "SD"), (1.0, "scale"), (2.0, "scale"))]
    ['2 SD', '1 scale', '2 scales']
    """
    plural = "" if spread == "SD" or radius == 1 else "s"
    return f"{radius:g} {spread}{plural}"


def _separating_pair(model) -> tuple[int, int]:
    """The two columns where the components separate best: largest ratio of
    the spread of the component means (weighted by the mixing weights) to
    the components' mean variance, at the posterior mean; in column order.

    Examples
    --------
    >>> import stanmix as sm
    >>> X = sm.datasets.blobs(200, seed=1).X.assign(noise=0.0)
    >>> X["noise"] = np.random.default_rng(0).normal(size=len(X))
    >>> model = sm.DiagonalMixture(5, engine="stanli").fit(
    ...     X[["noise", "x", "y"]], method="optimize", seed=1)
    >>> _separating_pair(model)
    (1, 2)
    """
    w = np.asarray(model.weights_, dtype=float)
    means = np.asarray(model.means_, dtype=float).reshape(len(w), -1)
    cov = model.family_.covariances(model.param_draws()).mean(axis=0)
    variance = np.einsum("kdd->kd", cov)
    centre = w @ means
    between = w @ (means - centre) ** 2
    within = w @ variance
    ratio = between / np.where(within > 0, within, np.inf)
    best = np.argsort(-ratio, kind="stable")[:2]
    return int(min(best)), int(max(best))


def _check_dims(dims, columns: tuple[str, ...]) -> tuple[int, int]:
    if dims is None:
        return 0, 1
    if isinstance(dims, (str, int)) or len(dims) != 2:
        raise StanmixInputError(
            f"dims must name two columns, e.g. dims=({columns[0]!r}, "
            f"{columns[1]!r}); got {dims!r}"
        )
    out = []
    for d in dims:
        if isinstance(d, str):
            if d not in columns:
                raise StanmixInputError(
                    f"dims: {d!r} is not a column of the model "
                    f"(columns: {', '.join(columns)})"
                )
            out.append(columns.index(d))
        elif isinstance(d, (int, np.integer)) and not isinstance(d, bool):
            if not 0 <= d < len(columns):
                raise StanmixInputError(
                    f"dims: index {d} is out of range for {len(columns)} columns"
                )
            out.append(int(d))
        else:
            raise StanmixInputError(
                f"dims entries must be column names or indices, got {d!r}"
            )
    if out[0] == out[1]:
        raise StanmixInputError(f"dims must be two different columns, got {dims!r}")
    return out[0], out[1]


def _literal(text: str) -> str:
    """``text`` as matplotlib shows it literally: it reads text between two
    ``$`` as mathematics, which data's names ("dose $ (mg)") are not."""
    return str(text).replace("$", r"\$")


def _short(name: str, width: int = 24) -> str:
    """A column name cut to ``width`` characters for a legend label, shown
    literally."""
    return _literal(name if len(name) <= width else name[: width - 1] + "…")


def _marker_for(kx: int, ky: int, cx: str, cy: str) -> tuple[str, str]:
    """Marker and legend label for a point whose two plotted cells have kinds.

    A censored cell's marker points to where its true value lies.
    """
    cx, cy = _short(cx), _short(cy)
    if kx == OBSERVED and ky == OBSERVED:
        return "o", "observed"
    if INTERVAL in (kx, ky):
        return "D", "interval-censored (drawn at midpoint)"
    if ky == OBSERVED:
        if kx == LEFT:
            return "<", f"censored: {cx} ≤ limit"
        return ">", f"censored: {cx} ≥ limit"
    if kx == OBSERVED:
        if ky == LEFT:
            return "v", f"censored: {cy} ≤ limit"
        return "^", f"censored: {cy} ≥ limit"
    return "X", "censored in both columns"


def _plot_clusters_2d(model, cells, dx, dy, radii, ax) -> Axes:
    k = model.fitted_components_
    colors = component_colors(k)
    cx, cy = cells.columns[dx], cells.columns[dy]
    proba = _membership_mean(model, cells)
    labels = np.argmax(proba, axis=1)
    p_max = proba.max(axis=1)
    face = _face_colors(labels, p_max, k)
    edge = _edge_colors(face, p_max)
    px, py = _cell_positions(cells, dx), _cell_positions(cells, dy)
    kx, ky = cells.kind[:, dx], cells.kind[:, dy]
    miss_x, miss_y = kx == MISSING, ky == MISSING
    both = ~miss_x & ~miss_y

    extra_handles: list[Line2D] = []
    groups: dict[tuple[str, str], list[int]] = {}
    for i in np.flatnonzero(both):
        groups.setdefault(_marker_for(kx[i], ky[i], cx, cy), []).append(i)
    # observed points first, then censored in one column, then in both (on
    # top: they pile up at the corner of the two limits)
    order = sorted(groups, key=lambda g: (g[0] != "o", g[0] == "X", g[1]))
    size = _point_size(int(both.sum()))
    for marker, label in order:
        rows = np.asarray(groups[(marker, label)])
        coll = ax.scatter(
            px[rows],
            py[rows],
            s=size if marker == "o" else 1.6 * size,
            marker=marker,
            c=face[rows],
            edgecolors=edge[rows],
            linewidths=0.7,
            zorder=2 if marker == "o" else 2.5 if marker != "X" else 3,
        )
        coll.set_gid("points:observed" if marker == "o" else "points:censored")
        coll.set_label(f"_{label}")
        if marker != "o":
            extra_handles.append(
                Line2D(
                    [],
                    [],
                    marker=marker,
                    linestyle="",
                    color="0.45",
                    markersize=7,
                    label=f"{label}: {rows.size}",
                )
            )

    # Cells missing in one of the two plotted columns: ticks on the axis edge.
    for missing, pos, marker, label, transform in (
        (
            miss_y & ~miss_x,
            px,
            "|",
            f"{_short(cy)} missing: {int((miss_y & ~miss_x).sum())}, ticks on the "
            "bottom edge",
            ax.get_xaxis_transform(),
        ),
        (
            miss_x & ~miss_y,
            py,
            "_",
            f"{_short(cx)} missing: {int((miss_x & ~miss_y).sum())}, ticks on the "
            "left edge",
            ax.get_yaxis_transform(),
        ),
    ):
        rows = np.flatnonzero(missing)
        if not rows.size:
            continue
        edge_pos = np.full(rows.size, 0.015)
        xy = (pos[rows], edge_pos) if marker == "|" else (edge_pos, pos[rows])
        coll = ax.scatter(
            *xy,
            marker=marker,
            s=90,
            c=face[rows],
            linewidths=1.6,
            transform=transform,
            clip_on=False,
            zorder=3,
        )
        coll.set_gid("points:missing")
        extra_handles.append(
            Line2D(
                [],
                [],
                marker=marker,
                linestyle="",
                color="0.45",
                markersize=9,
                markeredgewidth=1.6,
                label=label,
            )
        )
    hidden = int(np.sum(miss_x & miss_y))
    if hidden:
        extra_handles.append(
            Line2D([], [], linestyle="", label=f"both columns missing: {hidden}")
        )

    weights = np.asarray(model.weights_, dtype=float)
    means = np.asarray(model.means_, dtype=float).reshape(k, -1)
    cov = model.family_.covariances(model.param_draws()).mean(axis=0)
    for j in range(k):
        centre = (means[j, dx], means[j, dy])
        width, height, angle = _ellipse(cov[j][np.ix_([dx, dy], [dx, dy])])
        for r, radius in enumerate(radii):
            ax.add_patch(
                Ellipse(
                    centre,
                    width=2 * radius * width,
                    height=2 * radius * height,
                    angle=angle,
                    fill=False,
                    edgecolor=colors[j],
                    linestyle=_ELLIPSE_STYLES[r % len(_ELLIPSE_STYLES)],
                    linewidth=1.6,
                    zorder=4,
                    path_effects=_HALO,  # shows over the component's own points
                )
            )
        ax.annotate(
            str(j),
            centre,
            ha="center",
            va="center",
            fontsize=9,
            fontweight="bold",
            color="black",  # legible on white whatever the component's colour
            bbox={
                "boxstyle": "circle,pad=0.2",
                "fc": "white",
                "ec": colors[j],
                "lw": 2.0,
            },
            zorder=5,
        )
    ax.autoscale_view()

    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            color=colors[j],
            markersize=7,
            label=_component_label(model, j, weights[j], (cx, cy)),
        )
        for j in range(k)
    ]
    handles += [
        Line2D(
            [],
            [],
            color="0.3",
            linestyle=_ELLIPSE_STYLES[r % len(_ELLIPSE_STYLES)],
            label=_radius_label(radius, model.family_.spread_name),
        )
        for r, radius in enumerate(radii)
    ]
    if np.any(p_max[~(miss_x & miss_y)] < UNCERTAIN_BELOW):
        handles.append(
            Line2D(
                [],
                [],
                marker="o",
                linestyle="",
                markerfacecolor="white",
                markeredgecolor="black",
                markersize=7,
                label=f"max probability < {UNCERTAIN_BELOW:g}",
            )
        )
    handles += extra_handles
    ax.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=9,
    )
    ax.set_xlabel(_literal(cx))
    ax.set_ylabel(_literal(cy))
    ax.set_title(_title(model, cells))
    ax.grid(True, color="0.92", zorder=0)
    ax.set_axisbelow(True)
    return ax


def _ellipse(cov: np.ndarray) -> tuple[float, float, float]:
    """Half-axes along x and y before rotation, and the rotation in degrees,
    of the one-SD ellipse of a 2 x 2 covariance.

    Examples
    --------
    >>> _ellipse(np.diag([4.0, 1.0]))
    (2.0, 1.0, 0.0)
    """
    if cov[0, 1] == 0.0:
        return float(np.sqrt(cov[0, 0])), float(np.sqrt(cov[1, 1])), 0.0
    values, vectors = np.linalg.eigh(cov)
    major = vectors[:, 1]
    angle = float(np.degrees(np.arctan2(major[1], major[0])))
    return float(np.sqrt(values[1])), float(np.sqrt(values[0])), angle


def _title(model, cells: CellTable) -> str:
    method = {
        "sample": "posterior mean (NUTS)",
        "optimize": "posterior mode",
        "variational": "variational mean",
    }.get(model.method_, model.method_)
    family = model.family_
    name = family.label or family.family.replace("_", " ")
    if family.needs_covariates:
        kind = f"{name} errors"
    elif cells.n_dims == 1:
        kind = name
    else:
        kind = f"{name}, {family.covariance} covariance"
    parts = [
        f"{type(model).__name__} ({kind})",
        f"K = {model.fitted_components_}, {cells.n_obs} observations",
        f"components at the {method}",
    ]
    # short lines, so that the title fits over an axes narrowed by its legend
    lines = [parts[0]]
    for part in parts[1:]:
        if len(lines[-1]) + 2 + len(part) <= _TITLE_WIDTH:
            lines[-1] += f", {part}"
        else:
            lines.append(part)
    return "\n".join(lines)


def _range_1d(model, params: dict, positions: np.ndarray) -> tuple[float, float]:
    """The span of the 1-D cluster plot, before padding.

    The drawn cells (censored cells at their limits, intervals at their
    midpoints), widened to each component's posterior mean ± 3 standard
    deviations (scales, for Student-t components) at the posterior mean of
    its parameters. Components whose posterior mean weight is below 1 %
    (an emptied component of a sparse mixture, which follows its prior) do
    not widen it: their densities are too low to show. Single draws never
    set the span, so a few wide draws of a poorly mixed chain do not
    squash the data into a sliver of the axis.

    Parameters
    ----------
    model : Mixture
        The fitted one-column model.
    params : dict of str to ndarray
        Its draws, ``model.param_draws()``.
    positions : ndarray
        Where the cells are drawn (missing cells left out).

    Returns
    -------
    tuple of float
        The lower and upper ends.
    """
    weight = np.asarray(params["w"], dtype=float).mean(axis=0)
    centre = np.asarray(params["mu"], dtype=float)[..., 0].mean(axis=0)
    variance = model.family_.covariances(params)[..., 0, 0].mean(axis=0)
    spread = np.sqrt(variance)
    kept = weight >= _NEGLIGIBLE
    positions = positions[np.isfinite(positions)]
    lo = float(np.min(positions, initial=np.inf))
    hi = float(np.max(positions, initial=-np.inf))
    if kept.any():
        lo = min(lo, float(np.min(centre[kept] - 3 * spread[kept])))
        hi = max(hi, float(np.max(centre[kept] + 3 * spread[kept])))
    return lo, hi


def _bins_1d(model, values: np.ndarray) -> np.ndarray:
    """Histogram edges of the 1-D cluster plot: numpy's "auto" choice, made
    finer where it would be wider than half the narrowest component's SD
    (a component with at least 2% of the weight), which it flattens; at
    most 80 bins, and at least two values per bin on average."""
    edges = np.histogram_bin_edges(values, bins="auto")
    n_auto = edges.size - 1
    cov = model.family_.covariances(model.param_draws()).mean(axis=0)
    spread = np.sqrt(cov[:, 0, 0])[np.asarray(model.weights_) >= 0.02]
    span = float(values.max() - values.min())
    wanted = n_auto
    if spread.size and span > 0 and spread.min() > 0:
        wanted = int(np.ceil(span / (0.5 * spread.min())))
    n_bins = max(1, min(max(n_auto, wanted), 80, max(n_auto, values.size // 2)))
    return np.histogram_bin_edges(values, bins=n_bins)


def _plot_clusters_1d(model, cells, ax) -> Axes:
    k = model.fitted_components_
    colors = component_colors(k)
    proba = _membership_mean(model, cells)
    labels = np.argmax(proba, axis=1)
    p_max = proba.max(axis=1)
    face = _face_colors(labels, p_max, k)
    kind = cells.kind[:, 0]
    pos = _cell_positions(cells, 0)
    shown = kind != MISSING
    observed = kind == OBSERVED
    n_shown = int(shown.sum())

    params = model.param_draws()
    lo, hi = _range_1d(model, params, pos[shown])
    pad = 0.02 * (hi - lo if hi > lo else 1.0)
    idx = _draw_indices(params["w"].shape[0], _MAX_DENSITY_DRAWS)
    params = {name: arr[idx] for name, arr in params.items()}
    grid = np.linspace(lo - pad, hi + pad, 400)
    log_pdf = model.family_.marginal_log_pdf(grid, params, 0)
    dens = params["w"][:, :, None] * np.exp(log_pdf)
    comp = dens.mean(axis=0)

    values = pos[observed]
    if values.size:
        edges = _bins_1d(model, values)
        width = np.diff(edges)
        counts, _ = np.histogram(values, bins=edges)
        ax.stairs(
            counts / (n_shown * width),
            edges,
            fill=True,
            color="0.82",
            label="data (observed values)",
            zorder=1,
        )
    for j in range(k):
        ax.fill_between(grid, comp[j], color=colors[j], alpha=0.18, lw=0, zorder=2)
        ax.plot(
            grid,
            comp[j],
            color=colors[j],
            lw=1.8,
            label=_component_label(model, j, model.weights_[j], cells.columns),
            zorder=3,
        )
    ax.plot(grid, comp.sum(axis=0), color="black", lw=1.4, label="mixture", zorder=4)
    top = max(ax.get_ylim()[1], 1e-12)
    rug_y = -0.06 * top
    for code, marker, label in (
        (OBSERVED, "|", None),
        (LEFT, "<", "left-censored, at limit"),
        (RIGHT, ">", "right-censored, at limit"),
        (INTERVAL, "D", "interval-censored, at middle"),
    ):
        rows = np.flatnonzero(kind == code)
        if not rows.size:
            continue
        coll = ax.scatter(
            pos[rows],
            np.full(rows.size, rug_y),
            marker=marker,
            s=120 if marker == "|" else 36,
            c=face[rows],
            linewidths=1.2 if marker == "|" else 0.5,
            zorder=5,
        )
        coll.set_gid("rug:observed" if code == OBSERVED else "rug:censored")
        if label:
            # the markers of cells at one limit coincide: the count says how many
            label = f"{label}: {rows.size} of {n_shown}\n(not in the histogram)"
            ax.scatter([], [], marker=marker, c="0.45", s=36, label=label)
    ax.set_ylim(-0.12 * top, top)
    ax.axhline(0, color="0.6", lw=0.6, zorder=1)
    ax.set_xlim(grid[0], grid[-1])
    ax.set_xlabel(_literal(cells.columns[0]))
    ax.set_ylabel("density")
    ax.set_title(_title(model, cells))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
    return ax


# --------------------------------------------------------------------------
# plot_membership
# --------------------------------------------------------------------------


def _membership_arrays(model) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray]:
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
    model : NormalMixture or DiagonalMixture
        A fitted model.
    observations : sequence, optional
        Observation labels (the index of the fitted data, as in
        ``model.membership()["observation"]``); a label the index repeats
        shows every row that carries it. By default the ``max_obs``
        observations whose most probable component is least certain.
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
    _check_model(model, "plot_membership")
    legend = _check_legend(legend)
    figsize = check.figsize(figsize, ax)
    if (
        isinstance(max_obs, bool)
        or not isinstance(max_obs, (int, np.integer))
        or max_obs < 1
    ):
        raise StanmixInputError(f"max_obs must be a positive integer, got {max_obs!r}")
    labels, mean, lower, upper = _membership_arrays(model)
    if observations is None:
        certainty = mean.max(axis=1)
        picked = np.argsort(certainty, kind="stable")[:max_obs]
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
    _warn_switched(model, "plot_membership")
    made = ax is None
    ax = _new_axes(ax, (7.5, 1.4 + 0.38 * min(len(chosen), _MEMBERSHIP_ROWS)), figsize)
    with _closed_on_error(ax.figure if made else None):
        _draw_membership(
            ax,
            chosen,
            what,
            mean[picked],
            lower[picked],
            upper[picked],
            model.hdi_prob if model.method_ != "optimize" else None,
        )
        return _place_legend(ax, legend, made)


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
    shown = (hi >= _NEGLIGIBLE) | (m >= _NEGLIGIBLE)
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
    ax.set_yticks(rows, [_literal(o) for o in chosen])
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
        f"mean and {hdi_prob:.0%} HDI over draws"
        if hdi_prob is not None
        else "at the posterior mode (a point estimate: no interval)"
    )
    ax.set_xlabel(
        f"membership probability: {shown_as}\n"
        f"(components below {_NEGLIGIBLE:g} in an observation are not drawn)",
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


# --------------------------------------------------------------------------
# plot_relabelling
# --------------------------------------------------------------------------


def plot_relabelling(
    model,
    var_names: Sequence[str] | str = ("mu",),
    kind: str = "trace",
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """The draws before and after relabelling, side by side.

    Left: the raw draws as the sampler returned them (group
    ``posterior_raw``); right: the relabelled draws (``posterior``). With
    ``kind="trace"`` (ArviZ ``plot_trace``, compact) each panel holds every
    component in its colour, chains in different line styles, so a chain in
    another labelling or a switch inside a chain shows as colours swapping.
    With ``kind="rank"`` (ArviZ ``plot_rank``) each component parameter gets
    its own rank plot; uniform ranks across chains mean the chains agree.
    Multivariate parameters get one row per entry of their other axes (per
    data column; per pair of columns for ``corr``; per predictor for a
    regression's ``beta``), so each row's lines are the components, one
    colour each, whatever the parameter's shape.

    Parameters
    ----------
    model : NormalMixture or DiagonalMixture
        A model fitted with ``method="sample"`` whose draws were relabelled.
    var_names : str or sequence of str
        Component parameters to show, among ``"w"``, ``"mu"``, ``"sigma"``.
    kind : {"trace", "rank"}
        Trace and density plots, or rank plots.
    figsize : (float, float), optional
        Width and height in inches of the figure; by default a size that
        suits the number of panels.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    StanmixInputError
        If the model was not sampled, kept no raw draws (``relabel=None`` or a
        single component), or ``var_names`` / ``kind`` are unknown.

    Examples
    --------
    >>> import stanmix as sm
    >>> from stanmix.plots import plot_relabelling
    >>> data = sm.datasets.two_components(80, seed=1)
    >>> model = sm.NormalMixture(2, ordered=False, engine="stanli").fit(
    ...     data.X, method="sample", seed=1)
    >>> fig = plot_relabelling(model, var_names=["mu", "w"])
    >>> len(fig.axes)   # 2 variables x (density, trace) x (before, after)
    8
    """
    _check_model(model, "plot_relabelling")
    figsize = check.figsize(figsize)
    if kind not in ("trace", "rank"):
        raise StanmixInputError(f"kind must be 'trace' or 'rank', got {kind!r}")
    if model.method_ != "sample":
        raise StanmixInputError(
            "plot_relabelling needs posterior draws from NUTS; this model was "
            f"fitted with method={model.method_!r}. Fit with method='sample'."
        )
    if "posterior_raw" not in model.idata_.groups():
        if model.fitted_components_ == 1:
            raise StanmixInputError(
                "this model has one component: its draws have no labels to "
                "switch, so they were not relabelled and there is nothing to "
                "compare"
            )
        raise StanmixInputError(
            "this model has no raw draws to compare: its draws were not "
            f"relabelled (relabel={model.relabel!r}). Fit with relabel='auto' to "
            "keep the raw draws in idata_.posterior_raw."
        )
    if isinstance(var_names, str):
        var_names = [var_names]
    var_names = list(var_names)
    post = model.idata_.posterior
    if not var_names:
        raise StanmixInputError("var_names is empty; name at least one parameter")
    unknown = [v for v in var_names if v not in post.data_vars]
    if unknown:
        raise StanmixInputError(
            f"unknown variable(s) {', '.join(map(repr, unknown))}; choose among "
            f"{', '.join(map(repr, post.data_vars))}"
        )
    k = model.fitted_components_
    before = _split_by_dim(model.idata_.posterior_raw, var_names)
    after = _split_by_dim(post, var_names)
    method = getattr(model.relabel_report_, "method", None)
    titles = (
        "Before relabelling (raw draws)",
        f"After relabelling ({method})" if method else "After relabelling",
    )
    with warnings.catch_warnings():
        # ArviZ 0.2x calls a matplotlib helper deprecated in matplotlib 3.11.
        warnings.simplefilter("ignore", matplotlib.MatplotlibDeprecationWarning)
        return _before_after(before, after, titles, kind, k, figsize)


def _before_after(
    before, after, titles, kind: str, k: int, figsize: tuple[float, float] | None
) -> Figure:
    n_panels = len(before.data_vars)
    if kind == "trace":
        fig = plt.figure(
            figsize=figsize or (14, 0.6 + 2.3 * n_panels), layout="constrained"
        )
        with _closed_on_error(fig):
            subfigs = fig.subfigures(1, 2, wspace=0.04)
            for sub, data, title in zip(subfigs, (before, after), titles, strict=True):
                axes = sub.subplots(n_panels, 2, squeeze=False)
                az.plot_trace(
                    data,
                    axes=axes,
                    compact=True,
                    compact_prop={"color": component_colors(k)},
                    legend=False,
                )
                sub.suptitle(title, fontsize=12, fontweight="bold")
                for ax in axes.flat:  # ArviZ's titles name the columns
                    ax.title.set_text(_literal(ax.get_title()))
        return fig
    n_rows = sum(int(np.prod(data.shape[2:])) for data in before.data_vars.values())
    fig = plt.figure(figsize=figsize or (12, 0.8 + 1.25 * n_rows), layout="constrained")
    with _closed_on_error(fig):
        subfigs = fig.subfigures(1, 2, wspace=0.04)
        for sub, data, title in zip(subfigs, (before, after), titles, strict=True):
            axes = sub.subplots(n_rows, 1, squeeze=False, sharex=True)
            # chains in greys: the palette's colours are the components'
            greys = [str(g) for g in np.linspace(0.2, 0.6, data.sizes["chain"])]
            az.plot_rank(data, ax=axes[:, 0], colors=greys)
            for i, ax in enumerate(axes[:, 0]):
                label = _literal(ax.get_title().replace("\n", ", component "))
                ax.set_title("")
                ax.set_title(label, fontsize=9, loc="left")
                ax.set_ylabel("chain", fontsize=8)
                ax.tick_params(labelsize=8)
                last = i == n_rows - 1
                ax.set_xlabel("rank (all chains)" if last else "", fontsize=9)
            sub.suptitle(title, fontsize=12, fontweight="bold")
    return fig


def _split_by_dim(ds: xr.Dataset, var_names: list[str]) -> xr.Dataset:
    """The variables split into one variable per entry of their axes other
    than ``chain``, ``draw`` and ``component`` (a data column ``dim``, a
    correlation's ``pair``, a regression's ``predictor``), so that each
    panel's lines differ by component and chain only and the compact trace
    plot colours them by component."""
    keep = {"chain", "draw", "component"}
    out = {}
    for name in var_names:
        da = ds[name]
        extra = [d for d in da.dims if d not in keep]
        if not extra:
            out[name] = da
            continue
        stacked = da.stack(_entry=extra)
        for i in range(stacked.sizes["_entry"]):
            entry = stacked.isel(_entry=i)
            labels = ", ".join(str(entry[d].item()) for d in extra)
            out[f"{name}[{labels}]"] = entry.drop_vars(
                ["_entry", *extra], errors="ignore"
            )
    return xr.Dataset(out)


# --------------------------------------------------------------------------
# Model checking
# --------------------------------------------------------------------------


#: Replicates :func:`plot_ppc` draws when it is not told how many.
PPC_PLOT_DRAWS = 100


def _has_constant_replicate(sub: az.InferenceData) -> bool:
    """Whether the data or any replicate in ``sub`` takes one value only."""
    data = sub.observed_data["y"].to_numpy()
    reps = sub.posterior_predictive["y"].to_numpy()
    reps = reps.reshape(-1, reps.shape[-1])
    return bool(np.ptp(data) == 0 or (np.ptp(reps, axis=1) == 0).any())


def plot_ppc(
    model,
    *,
    kind: str = "auto",
    draws: int | None = None,
    seed: int | None = None,
    ax: Axes | Sequence[Axes] | np.ndarray | None = None,
    figsize: tuple[float, float] | None = None,
) -> Figure:
    """Posterior predictive check per column: the data against replicates.

    One panel per column: ArviZ's ``plot_ppc`` of the recorded data (censored
    cells at their limit, missing cells left out) against replicated data
    sets recorded the same way (:func:`stanmix.checks.posterior_predictive`;
    see ``draws`` and ``seed``). With a detection limit, both the data
    and the replicates pile up at the limit, so the spike there is part of
    the comparison. A column where the data or a replicate has a single
    value (every cell at the limit) has no density: its panel shows
    empirical CDFs, and its title says so.

    Parameters
    ----------
    model : Mixture
        A fitted model: NUTS or ADVI draws, or a point estimate, whose
        replicates are drawn at the mode (a plug-in predictive, named so
        in the title; see :func:`stanmix.checks.posterior_predictive`).
    kind : {"auto", "kde", "cumulative"}
        Densities (ArviZ's kernel density estimates, whose bandwidth fills
        the gaps between narrow, well separated clusters, in the data and
        the replicates alike) or empirical CDFs, which smooth nothing.
        ``"auto"``: empirical CDFs for columns with censored cells (a
        density smooths their pile at the limit into a bump, and its mean
        drops to zero there), densities for the others.
    draws, seed : int, optional
        With neither, the model's attached replicates (at most 100 shown;
        100 new ones when it has none); with either, new ones (``draws``,
        100 by default), not attached to the model.
    ax : matplotlib Axes or sequence of Axes, optional
        Where to draw: one Axes per column, in the model's column order (an
        array from ``plt.subplots`` is flattened). The panels' titles then
        name the predictive, and the figure's own title is left alone. A
        new figure is made when omitted.
    figsize : (float, float), optional
        Width and height in inches of the figure the plot makes (not with
        ``ax``); by default a size that suits the plot.

    Returns
    -------
    matplotlib.figure.Figure
        The figure drawn on (that of ``ax`` when given).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import stanmix as sm
    >>> from stanmix.plots import plot_ppc
    >>> data = sm.datasets.blobs(100, seed=1)
    >>> model = sm.Mixture(5, engine="stanli").fit(
    ...     data.X, method="optimize", seed=1)
    >>> fig, axes = plt.subplots(1, 3, figsize=(12, 3))
    >>> plot_ppc(model, draws=20, seed=1, ax=axes[:2]) is fig
    True
    >>> axes[0].get_title()
    'x: plug-in predictive'
    """
    from stanmix.checks import replicates

    _check_model(model, "plot_ppc")
    if kind not in ("auto", "kde", "cumulative"):
        raise StanmixInputError(
            f"kind must be 'auto', 'kde' or 'cumulative', got {kind!r}"
        )
    censored_columns = np.isin(model.cells_.kind, (LEFT, RIGHT, INTERVAL)).any(axis=0)
    columns = list(model.cells_.columns)
    given = None if ax is None else _ppc_axes(ax, columns)
    figsize = check.figsize(figsize, ax)
    replicated = _spread_replicates(
        replicates(model, draws, seed, PPC_PLOT_DRAWS), draws or PPC_PLOT_DRAWS
    )
    observed = model.idata_.observed_data
    which = replicated.attrs.get("predictive", "posterior")
    if given is None:
        # at most PPC_COLUMNS panels a row, so that a report shrinking the
        # figure to its page width keeps them legible
        n_cols = min(len(columns), PPC_COLUMNS)
        n_rows = -(-len(columns) // n_cols)
        fig, axes = plt.subplots(
            n_rows,
            n_cols,
            figsize=figsize or (max(6.0, 4.2 * n_cols), 0.6 + 3.2 * n_rows),
            layout="constrained",
            squeeze=False,
        )
        for extra in axes.flat[len(columns) :]:
            extra.set_axis_off()
        panels = list(axes.flat)
    else:
        fig, panels = given[0].figure, given
    with _closed_on_error(fig if given is None else None), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, (ax, col) in enumerate(zip(panels, columns, strict=False)):
            select = {"dim": col} if "dim" in replicated["y"].dims else {}
            sub = az.InferenceData(
                posterior_predictive=replicated[["y"]].sel(select),
                observed_data=observed[["y"]].sel(select),
            )
            keep = ~np.isnan(sub.observed_data["y"].to_numpy())
            sub = az.InferenceData(
                posterior_predictive=sub.posterior_predictive.isel(obs=keep),
                observed_data=sub.observed_data.isel(obs=keep),
            )
            panel_kind = kind
            note = ""
            if kind == "auto":
                panel_kind = "cumulative" if censored_columns[i] else "kde"
                if censored_columns[i]:
                    note = "censored cells at their limits"
            if panel_kind == "kde" and _has_constant_replicate(sub):
                # A density needs spread: a replicate (or the data) with
                # every kept value at one limit has none.
                panel_kind = "cumulative"
                note = "a data set has one value only"
            # every replicate kept, each time in the same order: ArviZ
            # shuffles them with numpy's global generator, whose state is
            # put back
            state = np.random.get_state()  # noqa: NPY002
            try:
                az.plot_ppc(
                    sub,
                    kind=panel_kind,
                    ax=ax,
                    num_pp_samples=replicated.sizes["draw"],
                    random_seed=0,
                    legend=i == 0,  # names the data, replicates and their mean
                    textsize=9,
                )
            finally:
                np.random.set_state(state)  # noqa: NPY002
            if i == 0 and ax.get_legend() is not None:
                for text in ax.get_legend().get_texts():
                    text.set_text(_PPC_LEGEND.get(text.get_text(), text.get_text()))
                    text.set_fontsize(8)
            title = (
                f"{_literal(col)}: empirical CDFs\n({note})" if note else _literal(col)
            )
            if given is not None:
                title = title.replace(
                    _literal(col), f"{_literal(col)}: {which} predictive", 1
                )
            ax.set_title(title, fontsize=11)
            ax.set_xlabel(_literal(col))
    if given is None:
        fig.suptitle(
            f"{which} predictive check"
            + ("" if kind == "auto" else f" ({kind})")
            + ": data against replicated data sets",
            fontsize=11,
        )
    return fig


def _ppc_axes(ax, columns: list[str]) -> list[Axes]:
    """The caller's axes for plot_ppc, one per column, checked."""
    panels = [ax] if isinstance(ax, Axes) else list(np.asarray(ax, dtype=object).flat)
    wrong = [type(a).__name__ for a in panels if not isinstance(a, Axes)]
    if wrong:
        raise TypeError(
            f"ax must be a matplotlib Axes or a sequence of them, got {wrong[0]}"
        )
    if len(panels) != len(columns):
        raise StanmixInputError(
            f"ax has {len(panels)} Axes; plot_ppc draws one panel per column, "
            f"{len(columns)} here ({', '.join(columns)}): pass {len(columns)} "
            "Axes, e.g. plt.subplots(1, " + str(len(columns)) + ")[1]"
        )
    if len({id(a) for a in panels}) < len(panels):
        raise StanmixInputError(
            "ax holds the same Axes more than once; plot_ppc draws each column "
            "on its own panel: pass distinct Axes"
        )
    if len({id(a.figure) for a in panels}) > 1:
        raise StanmixInputError(
            "ax holds Axes of more than one figure; plot_ppc returns one figure: "
            "pass Axes of one figure"
        )
    return panels


def _spread_replicates(replicated: xr.Dataset, n: int) -> xr.Dataset:
    """At most ``n`` replicated data sets, evenly spaced over the chains'
    draws, as one chain (the same ones each time)."""
    total = replicated.sizes["chain"] * replicated.sizes["draw"]
    pick = np.unique(np.linspace(0, total - 1, min(n, total)).round().astype(int))
    flat = replicated.stack(sample=("chain", "draw")).isel(sample=pick)
    flat = flat.drop_vars(["sample", "chain", "draw"]).rename(sample="draw")
    return flat.expand_dims(chain=1).transpose("chain", "draw", ...)


def plot_co_clustering(
    model,
    *,
    draws: int = 200,
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Axes:
    """The co-clustering matrix P(z_i = z_j | data) as a heat map, rows and
    columns sorted by most probable component (then by its probability), so
    clusters show as blocks and uncertain rows as their blurred edges
    (:func:`stanmix.checks.co_clustering`). Unlike the components' means,
    it does not depend on the labels, so it reads the same for draws whose
    labels switch.

    Parameters
    ----------
    model : Mixture
        A fitted model with joint components.
    draws : int
        Posterior draws the probabilities average over (evenly spaced; a
        posterior mode is one point).
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    figsize : (float, float), optional
        Width and height in inches of the figure the plot makes (not with
        ``ax``); by default a size that suits the plot.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import stanmix as sm
    >>> from stanmix.plots import plot_co_clustering
    >>> data = sm.datasets.blobs(60, seed=1)
    >>> model = sm.Mixture(5, engine="stanli").fit(
    ...     data.X, method="optimize", seed=1)
    >>> ax = plot_co_clustering(model, figsize=(4, 3.5))
    >>> ax.images[0].get_array().shape, ax.figure.get_size_inches().tolist()
    ((60, 60), [4.0, 3.5])
    """
    from stanmix.checks import co_clustering

    _check_model(model, "plot_co_clustering")
    figsize = check.figsize(figsize, ax)
    matrix = co_clustering(model, draws=draws).to_numpy()
    proba = _membership_mean(model, model.cells_)
    order = np.lexsort((-proba.max(axis=1), proba.argmax(axis=1)))
    made = ax is None
    ax = _new_axes(ax, (5.5, 4.8), figsize)
    with _closed_on_error(ax.figure if made else None):
        image = ax.imshow(
            matrix[np.ix_(order, order)],
            vmin=0,
            vmax=1,
            cmap="viridis",
            interpolation="nearest",
        )
        ax.figure.colorbar(image, ax=ax, label="P(same component)")
    ax.set_title("co-clustering probability", fontsize=11)
    ax.set_xlabel("observation (sorted by component)")
    ax.set_ylabel("observation (sorted by component)")
    return ax


def plot_loo_pit(
    model,
    *,
    seed: int | None = None,
    prob: float = 0.95,
    ax: Axes | None = None,
    figsize: tuple[float, float] | None = None,
) -> Axes:
    """Calibration of one-column data: the empirical CDF of the leave-one-out
    PIT values (:func:`stanmix.checks.loo_pit`, censored cells spread over
    their share) minus the uniform CDF, with ArviZ's simultaneous band of
    probability ``prob`` for uniform values. A curve leaving the band says
    the predictive is off: an S shape (below, then above) that it is too
    wide, the mirror shape that it is too narrow, a curve wholly above or
    below that it is shifted.

    Parameters
    ----------
    model : Mixture
        A model fitted to one column by NUTS or ADVI, with its pointwise
        log-likelihood (see :func:`stanmix.checks.loo_pit`).
    seed : int, optional
        Seeds the uniform draws that spread censored cells (and ties) over
        their share of the PIT, and any new replicates. Without it they are
        drawn afresh on each call, so that with censored cells two calls
        draw slightly different curves; give one for a figure that can be
        redrawn exactly (the report does).
    prob : float
        Probability of the simultaneous band, in (0, 1).
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    figsize : (float, float), optional
        Width and height in inches of the figure the plot makes (not with
        ``ax``); by default a size that suits the plot.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np, stanmix as sm
    >>> from stanmix.plots import plot_loo_pit
    >>> rng = np.random.default_rng(0)
    >>> y = np.r_[rng.normal(-2, 1, 100), rng.normal(2, 1, 100)]
    >>> model = sm.NormalMixture(2, engine="stanli").fit(
    ...     y, seed=1, chains=2, draws=500, show_progress=False)
    >>> ax = plot_loo_pit(model, seed=1)
    >>> ax.get_xlabel()
    'LOO-PIT'
    """
    from scipy import stats

    from stanmix.checks import loo_pit

    _check_model(model, "plot_loo_pit")
    prob = check.number("prob", prob, low=0, high=1)
    figsize = check.figsize(figsize, ax)
    pit = loo_pit(model, seed=seed).dropna().to_numpy(copy=True)
    made = ax is None
    ax = _new_axes(ax, (5.5, 3.6), figsize)
    uniform = stats.uniform(0, 1)
    with _closed_on_error(ax.figure if made else None), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ's notice of a future default
        az.plot_ecdf(
            pit,
            eval_points=np.linspace(0, 1, 201),
            cdf=uniform.cdf,
            rvs=uniform.rvs,
            difference=True,
            confidence_bands=True,
            ci_prob=prob,
            random_state=0 if seed is None else seed,
            ax=ax,
        )
    ax.axhline(0, color="0.5", linewidth=0.8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("LOO-PIT")
    ax.set_ylabel("ECDF - uniform CDF")
    ax.set_title(
        f"LOO-PIT of {_literal(model.cells_.columns[0])} "
        f"({len(pit)} values; band: {prob:g} simultaneous)",
        fontsize=11,
    )
    return ax


# plot_regression
# --------------------------------------------------------------------------

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
    missing responses are counted in the legend. The legend's ``w`` is each
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
        predictors); the first by default.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    n_grid : int
        Points along the predictor at which the lines are evaluated.
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
    _check_model(model, "plot_regression")
    legend = _check_legend(legend)
    figsize = check.figsize(figsize, ax)
    family = model.family_
    if not family.needs_covariates or not hasattr(family, "line"):
        raise StanmixInputError(
            "plot_regression draws mixtures of regressions; this model's "
            f"components ({family.family}) have no lines: use plot_clusters"
        )
    if isinstance(n_grid, bool) or not isinstance(n_grid, (int, np.integer)):
        raise StanmixInputError(f"n_grid must be an integer >= 2, got {n_grid!r}")
    if n_grid < 2:
        raise StanmixInputError(f"n_grid must be an integer >= 2, got {n_grid}")
    names = [str(v) for v in model.idata_.posterior["beta"].coords["predictor"].values]
    if not names:
        raise StanmixInputError("this mixture of regressions has no predictor to plot")
    j = _predictor_position(predictor, names)
    cells = _regression_cells(model, X, y, response)
    _warn_switched(model, "plot_regression")
    made = ax is None
    ax = _new_axes(ax, (8.0, 5.5), figsize)
    with _closed_on_error(ax.figure if made else None):
        _draw_regression(model, cells, names, j, int(n_grid), ax)
        return _place_legend(ax, legend, made)


def _draw_regression(
    model, cells: CellTable, names: list[str], j: int, n_grid: int, ax: Axes
) -> Axes:
    """Draw :func:`plot_regression`'s points, lines and bands on ``ax``:
    ``names`` are the predictors, ``j`` the one on the horizontal axis."""
    family = model.family_
    k = model.fitted_components_
    colors = component_colors(k)
    proba = _membership_mean(model, cells)
    labels = np.argmax(proba, axis=1)
    p_max = proba.max(axis=1)
    face = _face_colors(labels, p_max, k)
    edge = _edge_colors(face, p_max)
    x_all = cells.covariates[:, list(family.predictors)]
    x = x_all[:, j]
    pos = _cell_positions(cells, 0)
    kind = cells.kind[:, 0]
    response = cells.columns[0]
    extra: list[Line2D] = []
    for code, marker, label in (
        (OBSERVED, "o", None),
        (LEFT, "v", f"censored: {_literal(response)} ≤ limit (at the limit)"),
        (RIGHT, "^", f"censored: {_literal(response)} ≥ limit (at the limit)"),
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
    idx = _draw_indices(params["w"].shape[0], _MAX_LINE_DRAWS)
    lines = family.line({name: arr[idx] for name, arr in params.items()}, design)
    prob = float(model.hdi_prob)
    lower, upper = np.quantile(lines, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
    mean = lines.mean(axis=0)
    weights = np.asarray(model.weights_, dtype=float)
    for c in range(k):
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
    handles = ax.get_legend_handles_labels()[0]
    if lines.shape[0] > 1:
        handles.append(
            Line2D([], [], color="0.6", lw=6, alpha=0.5, label=f"{prob:.0%} band")
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
        + _literal(
            textwrap.fill(
                f"{', '.join(others)} held at "
                + ("their means" if len(others) > 1 else "its mean"),
                64,
            )
        )
        if others
        else ""
    )
    ax.set_xlabel(_literal(names[j]))
    ax.set_ylabel(_literal(response))
    ax.set_title(_title(model, cells) + held)
    ax.grid(True, color="0.92", zorder=0)
    ax.set_axisbelow(True)
    return ax


def _regression_cells(model, X, y, response) -> CellTable:
    """The fitted cells, or new data's read as the fitted design."""
    if X is None:
        if y is not None or response is not None:
            raise StanmixInputError(
                "y and response describe new data X; pass X too, or leave them out"
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
    return model.new_cells(X, y, response=response)


def _predictor_position(predictor, names: list[str]) -> int:
    if predictor is None:
        return 0
    if isinstance(predictor, str):
        if predictor not in names:
            raise StanmixInputError(
                f"predictor {predictor!r} is not a predictor of the model "
                f"({', '.join(names)})"
            )
        return names.index(predictor)
    if isinstance(predictor, (int, np.integer)) and not isinstance(predictor, bool):
        if not 0 <= predictor < len(names):
            raise StanmixInputError(
                f"predictor {predictor} is out of range for {len(names)} predictor(s)"
            )
        return int(predictor)
    raise StanmixInputError(
        f"predictor must be a predictor's name or position, got {predictor!r}"
    )
