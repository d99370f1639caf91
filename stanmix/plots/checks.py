"""Plots of the model's fit: posterior predictive checks, LOO-PIT, and
the co-clustering matrix."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from stanmix import _validation as check
from stanmix.cells import INTERVAL, LEFT, RIGHT
from stanmix.exceptions import StanmixInputError
from stanmix.inference_data import az
from stanmix.plots._common import (
    check_fitted_model,
    closed_on_error,
    new_axes,
    wrapped,
)

#: Panels in a row of plot_ppc's figure.
PPC_COLUMNS = 4


#: plot_ppc's names for what ArviZ's legend calls its lines.
_PPC_LEGEND = {
    "Observed": "data",
    "Posterior predictive": "replicated data sets",
    "Posterior predictive mean": "mean of the replicates",
}


#: Replicates :func:`plot_ppc` draws when it is not told how many.
PPC_PLOT_DRAWS = 100


#: Replicates whose values span more than this many times the window of the
#: data and the replicates' central 99% have their panel cut to that window.
PPC_TAIL_SPAN = 3.0


def _tail_window(sub: az.InferenceData) -> tuple[float, float] | None:
    """The x range of a panel whose replicates reach far beyond the data
    (heavy-tailed components): the data's range and the replicates' 0.5% and
    99.5% quantiles, 5% wider; None where the replicates' whole range is
    within ``PPC_TAIL_SPAN`` times that."""
    data = sub.observed_data["y"].to_numpy()
    reps = sub.posterior_predictive["y"].to_numpy().ravel()
    reps = reps[np.isfinite(reps)]
    if not data.size or not reps.size:
        return None
    q_lo, q_hi = np.quantile(reps, [0.005, 0.995])
    lo, hi = min(data.min(), q_lo), max(data.max(), q_hi)
    if hi <= lo or np.ptp(reps) <= PPC_TAIL_SPAN * (hi - lo):
        return None
    pad = 0.05 * (hi - lo)
    return float(lo - pad), float(hi + pad)


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
    empirical CDFs, and its title says so. Where the replicates reach far
    beyond the data (heavy-tailed Student-t components), the panel is cut
    to the data's range and the replicates' central 99%, and its title says
    so; with ``kind="auto"`` it then shows empirical CDFs, whose heights at
    the edges tell how much lies beyond (a density spread over the tails'
    whole range would have few points where the data lie).

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
        100 by default), not attached to the model. The default 100 are
        fewer (at least 20) where they would hold more than 20 million
        values (:func:`stanmix.checks.affordable_draws`).
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

    check_fitted_model(model, "plot_ppc")
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
    with closed_on_error(fig if given is None else None), warnings.catch_warnings():
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
            window = _tail_window(sub)
            if window is not None:
                if kind == "auto":
                    # a density over the tails' range has too few grid
                    # points where the data lie; CDFs cut at the window
                    # keep their shape there
                    panel_kind = "cumulative"
                note = ", ".join(filter(None, [note, "replicates' far tails cut off"]))
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
            if window is not None:
                ax.set_xlim(*window)
            name = wrapped(col, ax, 11)
            title = name if given is None else f"{name}: {which} predictive"
            if note:
                what = "empirical CDFs" if panel_kind == "cumulative" else "densities"
                title = f"{title}: {what}\n({note})"
            ax.set_title(title, fontsize=11)
            ax.set_xlabel(wrapped(col, ax))
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

    check_fitted_model(model, "plot_co_clustering")
    figsize = check.figsize(figsize, ax)
    matrix = co_clustering(model, draws=draws).to_numpy()
    proba = model.predict_proba_fitted()[model.cells_.counted_rows()]
    order = np.lexsort((-proba.max(axis=1), proba.argmax(axis=1)))
    made = ax is None
    ax = new_axes(ax, (5.5, 4.8), figsize)
    with closed_on_error(ax.figure if made else None):
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

    check_fitted_model(model, "plot_loo_pit")
    prob = check.number("prob", prob, low=0, high=1)
    figsize = check.figsize(figsize, ax)
    pit = loo_pit(model, seed=seed).dropna().to_numpy(copy=True)
    made = ax is None
    ax = new_axes(ax, (5.5, 3.6), figsize)
    uniform = stats.uniform(0, 1)
    with closed_on_error(ax.figure if made else None), warnings.catch_warnings():
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
        f"LOO-PIT of {wrapped(model.cells_.columns[0], ax, 11)} "
        f"({len(pit)} values; band: {prob:g} simultaneous)",
        fontsize=11,
    )
    return ax
