"""plot_clusters: the data coloured by component, with the components'
spread (ellipses in two columns, densities in one)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse

from stanmix import _validation as check
from stanmix.cells import INTERVAL, LEFT, MISSING, OBSERVED, RIGHT, CellTable
from stanmix.censoring import censoring_given
from stanmix.exceptions import StanmixInputError
from stanmix.plots._common import (
    NEGLIGIBLE,
    UNCERTAIN_BELOW,
    cell_positions,
    check_fitted_model,
    check_legend,
    closed_on_error,
    component_colors,
    draw_indices,
    edge_colors,
    emptied_components,
    face_colors,
    literal,
    membership_mean,
    new_axes,
    place_legend,
    title_for,
    warn_switched,
    wrapped,
)

_ELLIPSE_STYLES = ("-", "--", ":", "-.")


#: The radii plot_clusters draws by default.
_DEFAULT_ELLIPSES = (1.0, 2.0)


_MAX_DENSITY_DRAWS = 200


#: A white outline under a line drawn over points of its own colour.
_HALO = [patheffects.Stroke(linewidth=3.6, foreground="white"), patheffects.Normal()]


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


#: Above this many points a cluster plot draws them in a shuffled order (so
#: that no component hides under the one drawn last, as in data sorted by
#: group), with thinner outlines, and as one image inside a vector file (an
#: SVG of 200,000 markers weighs some 40 MB).
MANY_POINTS = 5000


def _point_size(n: int) -> float:
    """Marker area for ``n`` points: 28 up to 500, shrinking with the square
    root of ``n`` beyond (down to 6 from about 11,000), so that a large data
    set does not paint over its clusters."""
    return float(np.clip(28.0 * np.sqrt(500.0 / max(n, 1)), 6.0, 28.0))


def plot_clusters(
    model,
    X=None,
    *,
    dims: Sequence[int | str] | None = None,
    ax: Axes | None = None,
    ellipses: Sequence[float] = _DEFAULT_ELLIPSES,
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
    the centre. A component whose posterior mean weight holds less than
    one fitted row (an emptied component of a sparse mixture, which follows
    its prior) is listed in the legend but not drawn. Censored cells are
    drawn at their limit (intervals at their midpoint) with a marker
    pointing to where the true value lies; a point with one of the two
    cells missing is drawn as a tick on the edge of the axis of its
    observed cell.

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
        The two columns to plot (positions or names, as ``anchor_dim`` of
        :class:`~stanmix.Mixture`). By default the two where
        the component means lie furthest apart for the components' spread
        (the ratio of the weighted variance of the means to the weighted
        mean of the component variances, at the posterior mean); the two
        columns of a two-column model. Only for models with two or more
        columns.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    ellipses : sequence of float
        Radii, in standard deviations, of the ellipses drawn per component
        (default 1 and 2). An empty sequence draws none. Only for models
        with two or more columns.
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
    check_fitted_model(model, "plot_clusters")
    _check_cluster_plot(model)
    radii = _check_ellipses(ellipses)
    legend = check_legend(legend)
    figsize = check.figsize(figsize, ax)
    warn_switched(model, "plot_clusters")
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
        if radii != _DEFAULT_ELLIPSES:
            raise StanmixInputError(
                "ellipses sets the radii of the ellipses drawn in two columns; "
                "this model has one column, drawn as densities: leave ellipses out"
            )
        made = ax is None
        ax = new_axes(ax, (7.5, 4.5), figsize)
        with closed_on_error(ax.figure if made else None):
            return place_legend(_plot_clusters_1d(model, cells, ax), legend, made)
    dx, dy = (
        separating_pair(model)
        if dims is None and cells.n_dims > 2
        else _check_dims(dims, cells.columns)
    )
    made = ax is None
    ax = new_axes(ax, (8.0, 6.0), figsize)
    with closed_on_error(ax.figure if made else None):
        return place_legend(
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


def separating_pair(model) -> tuple[int, int]:
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
    >>> separating_pair(model)
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
    out = [check.column_position("dims", d, columns) for d in dims]
    if out[0] == out[1]:
        raise StanmixInputError(f"dims must be two different columns, got {dims!r}")
    return out[0], out[1]


def _short(name: str, width: int = 24) -> str:
    """A column name cut to ``width`` characters for a legend label, shown
    literally: its start and its end, where names that share a prefix
    (``concentration_of_lead_in_water``, ``..._in_soil``) differ.

    Examples
    --------
    >>> _short("concentration_of_lead_in_water_ppb")
    'concentratio…n_water_ppb'
    >>> _short("concentration_of_lead_in_soil_ppb")
    'concentratio…in_soil_ppb'
    """
    if len(name) <= width:
        return literal(name)
    tail = (width - 1) // 2
    return literal(name[: width - 1 - tail] + "…" + name[-tail:])


def _marker_for(kx: int, ky: int, cx: str, cy: str) -> tuple[str, str]:
    """Marker and legend label for a point whose two plotted cells have kinds.

    A censored cell's marker points to where its true value lies.
    """
    cx, cy = _short(cx), _short(cy)
    if kx == OBSERVED and ky == OBSERVED:
        return "o", "observed"
    if INTERVAL in (kx, ky) and {kx, ky} <= {INTERVAL, OBSERVED}:
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
    proba = membership_mean(model, cells)
    labels = np.argmax(proba, axis=1)
    p_max = proba.max(axis=1)
    face = face_colors(labels, p_max, k)
    edge = edge_colors(face, p_max)
    px, py = cell_positions(cells, dx), cell_positions(cells, dy)
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
    many = int(both.sum()) > MANY_POINTS
    shuffle = np.random.default_rng(0)
    for marker, label in order:
        rows = np.asarray(groups[(marker, label)])
        if many:
            rows = shuffle.permutation(rows)
        coll = ax.scatter(
            px[rows],
            py[rows],
            s=size if marker == "o" else 1.6 * size,
            marker=marker,
            c=face[rows],
            edgecolors=edge[rows],
            linewidths=0.3 if many else 0.7,
            rasterized=many,
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
                    label=f"{label} ({rows.size} row{'s' * (rows.size > 1)})",
                )
            )

    # Cells missing in one of the two plotted columns: ticks on the axis edge
    # (the label counts those whose other cell is censored).
    def ticks_label(missing: np.ndarray, shown: str, kinds: np.ndarray, edge: str):
        gone = cy if shown == cx else cx
        # On lines of their own, as the legend's width is taken from the plot.
        text = (
            f"{_short(gone)} missing: {int(missing.sum())},\nticks on the {edge} edge"
        )
        censored = int((missing & (kinds != OBSERVED)).sum())
        if censored:
            text += f"\n({censored} of them censored in {_short(shown)})"
        return text

    for missing, pos, marker, label, transform in (
        (
            miss_y & ~miss_x,
            px,
            "|",
            ticks_label(miss_y & ~miss_x, cx, kx, "bottom"),
            ax.get_xaxis_transform(),
        ),
        (
            miss_x & ~miss_y,
            py,
            "_",
            ticks_label(miss_x & ~miss_y, cy, ky, "left"),
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
    # An emptied component follows its prior: its wide ellipses would cover
    # the clusters and stretch the axes. A rare one that holds a row is drawn.
    empty = emptied_components(model)
    for j in np.flatnonzero(~empty):
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
            label=_component_label(model, j, weights[j], (cx, cy))
            + ("\n  holds under one row: not drawn" if empty[j] else ""),
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
    ax.set_xlabel(wrapped(cx, ax))
    ax.set_ylabel(wrapped(cy, ax, side="y"))
    ax.set_title(title_for(model, cells))
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
    kept = weight >= NEGLIGIBLE
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
    proba = membership_mean(model, cells)
    labels = np.argmax(proba, axis=1)
    p_max = proba.max(axis=1)
    face = face_colors(labels, p_max, k)
    kind = cells.kind[:, 0]
    pos = cell_positions(cells, 0)
    shown = kind != MISSING
    observed = kind == OBSERVED
    n_shown = int(shown.sum())

    params = model.param_draws()
    lo, hi = _range_1d(model, params, pos[shown])
    pad = 0.02 * (hi - lo if hi > lo else 1.0)
    idx = draw_indices(params["w"].shape[0], _MAX_DENSITY_DRAWS)
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
    ax.set_xlabel(wrapped(cells.columns[0], ax))
    ax.set_ylabel("density")
    ax.set_title(title_for(model, cells))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
    return ax
