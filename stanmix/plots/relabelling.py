"""plot_relabelling: trace plots of the draws before and after relabelling."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from stanmix import _validation as check
from stanmix.exceptions import StanmixInputError
from stanmix.inference_data import az
from stanmix.plots._common import (
    check_fitted_model,
    closed_on_error,
    component_colors,
    literal,
)


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
    model : Mixture
        A model fitted with ``method="sample"`` whose draws were relabelled.
    var_names : str or sequence of str
        Posterior variables to show: ``"w"``, ``"mu"``, ``"sigma"``, or
        any other the family has (``"nu"``, ``"corr"``, a regression's
        ``"intercept"`` and ``"beta"``).
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
    check_fitted_model(model, "plot_relabelling")
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
        with closed_on_error(fig):
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
                    ax.title.set_text(literal(ax.get_title()))
        return fig
    n_rows = sum(int(np.prod(data.shape[2:])) for data in before.data_vars.values())
    fig = plt.figure(figsize=figsize or (12, 0.8 + 1.25 * n_rows), layout="constrained")
    with closed_on_error(fig):
        subfigs = fig.subfigures(1, 2, wspace=0.04)
        for sub, data, title in zip(subfigs, (before, after), titles, strict=True):
            axes = sub.subplots(n_rows, 1, squeeze=False, sharex=True)
            # chains in greys: the palette's colours are the components'
            greys = [str(g) for g in np.linspace(0.2, 0.6, data.sizes["chain"])]
            az.plot_rank(data, ax=axes[:, 0], colors=greys)
            for i, ax in enumerate(axes[:, 0]):
                label = literal(ax.get_title().replace("\n", ", component "))
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
