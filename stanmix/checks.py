"""Does the model fit? Posterior predictive checks, co-clustering and
component separation for a fitted :class:`~stanmix.estimator.Mixture`.

Replicated data are recorded as the data were: a replicated cell is
censored at the same limit as the data's cells (a value beyond a column's
detection limit is recorded at the limit) and missing where the data are
missing, so checks compare like with like. A column's limit is known for
every row when all its censored cells share it (a detection limit); where
censored cells carry their own limits, a replicated cell is censored at its
own data cell's limit only.

An interval-censored cell was reported by its measurement as an interval
(a bin), not as a value, so its replicate is reported as an interval too:
it always counts as censored (like the data's cell, whatever value was
drawn) and is recorded at the midpoint of the interval that holds the
drawn value, on the grid of the data cell's interval (the data's interval
shifted by whole widths: the data's own interval, and so its midpoint, when
the drawn value falls in it). A column's detection limit does not apply to
such cells.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from stanmix import _validation as check
from stanmix import likelihood
from stanmix.cells import INTERVAL, LEFT, MISSING, RIGHT, CellTable
from stanmix.estimator import Mixture

__all__ = ["co_clustering", "posterior_predictive", "ppc_pvalues", "separation"]


@dataclass(frozen=True)
class _Limits:
    """Per-cell censoring limits that apply to replicated data (NaN: none)."""

    lower: np.ndarray  # left-censoring limit: values at or below are censored
    upper: np.ndarray  # right-censoring limit
    interval: np.ndarray  # (N, D) bool: interval cells keep their interval


def _limits(cells: CellTable) -> _Limits:
    n, d = cells.shape
    lower = np.full((n, d), np.nan)
    upper = np.full((n, d), np.nan)
    for col in range(d):
        for code, bound, out in (
            (LEFT, cells.upper, lower),
            (RIGHT, cells.lower, upper),
        ):
            rows = cells.kind[:, col] == code
            if not rows.any():
                continue
            values = np.unique(bound[rows, col])
            if values.size == 1:  # a column's detection limit: every row has it
                out[:, col] = values[0]
            else:
                out[rows, col] = bound[rows, col]
    return _Limits(lower, upper, cells.kind == INTERVAL)


def _record(values: np.ndarray, cells: CellTable, limits: _Limits):
    """Replicated values as they would be recorded, and their censored mask.

    Values beyond a limit are recorded at the limit; the replicate of an
    interval-censored cell is always censored and recorded at the midpoint
    of the interval of the data cell's width, on the grid through the data
    cell's interval, that holds it (see the module's docs); missing cells
    are NaN.
    """
    out = values.copy()
    interval = limits.interval
    with np.errstate(invalid="ignore"):
        left = (values <= limits.lower) & ~interval
        right = (values >= limits.upper) & ~interval
        width = cells.upper - cells.lower
        shift = np.floor((values - cells.lower) / width)
    out[left] = limits.lower[left]
    out[right] = limits.upper[right]
    middle = cells.lower + (shift + 0.5) * width
    out[interval] = middle[interval]
    missing = cells.kind == MISSING
    out[missing] = np.nan
    return out, (left | right | interval) & ~missing


def posterior_predictive(
    model: Mixture, *, draws: int = 500, seed: int | None = None, attach: bool = True
) -> xr.Dataset:
    """Replicated data sets, one per posterior draw, recorded as the data were.

    Returns (and with ``attach=True`` adds to ``model.idata_``, replacing any
    earlier one) a ``posterior_predictive`` group with ``y`` (chain, draw,
    obs[, dim]): each replicate's cells at their
    value, censored cells at their limit, interval-censored cells at the
    midpoint of their interval (see the module's docs), missing cells NaN
    (the data's ``observed_data.y`` is recorded the same way, so
    ``az.plot_ppc`` compares like with like), and ``censored`` (bool)
    marking the replicated cells recorded as censored: those that fell
    beyond a limit, and every replicate of an interval-censored cell.
    ``draws`` posterior draws are used, spread evenly over each chain.

    Examples
    --------
    >>> import stanmix as sm
    >>> data = sm.datasets.blobs(100, seed=1)
    >>> model = sm.Mixture(5).fit(data.X, seed=1, chains=2, warmup=200, draws=100,
    ...                           show_progress=False)
    >>> posterior_predictive(model, draws=50, seed=1)["y"].shape
    (2, 25, 100, 2)
    """
    draws = check.integer("draws", draws, low=1)
    rng = np.random.default_rng(check.seed(seed))
    post = model.idata_.posterior
    n_chains, n_draws = post.sizes["chain"], post.sizes["draw"]
    per_chain = max(1, min(n_draws, draws // n_chains))
    picks = np.unique(np.linspace(0, n_draws - 1, per_chain).round().astype(int))
    params = model.param_draws()
    cells = model.cells_
    limits = _limits(cells)
    shape = (n_chains, picks.size, *cells.shape)
    values = np.empty(shape)
    censored = np.zeros(shape, dtype=bool)
    for c in range(n_chains):
        for i, d in enumerate(picks):
            point = {name: arr[c * n_draws + d] for name, arr in params.items()}
            y, _ = model.family_.simulate(point, cells, rng)
            values[c, i], censored[c, i] = _record(y, cells, limits)
    dims = ["chain", "draw", "obs", "dim"]
    coords = {
        "chain": post["chain"].values,
        "draw": post["draw"].values[picks],
        "obs": np.asarray(model.obs_index_),
        "dim": list(cells.columns),
    }
    if cells.n_dims == 1:
        values, censored, dims = values[..., 0], censored[..., 0], dims[:-1]
        coords.pop("dim")
    group = xr.Dataset(
        {"y": (dims, values), "censored": (dims, censored)},
        coords=coords,
        attrs={"seed": -1 if seed is None else int(seed)},
    )
    if attach:
        if "posterior_predictive" in model.idata_.groups():
            del model.idata_.posterior_predictive
        model.idata_.add_groups({"posterior_predictive": group})
    return group


def replicates(model: Mixture, draws: int, seed: int | None) -> xr.Dataset:
    """The model's replicated data, or new ones (not attached to the model)."""
    if "posterior_predictive" in model.idata_.groups():
        return model.idata_.posterior_predictive
    return posterior_predictive(model, draws=draws, seed=seed, attach=False)


def _nn_distance(values: np.ndarray) -> float:
    """Mean distance to the nearest other row, over rows with no missing
    cell: small for clustered data, larger for data spread like one blob."""
    from scipy.spatial import cKDTree

    rows = values[~np.isnan(values).any(axis=1)]
    if rows.shape[0] < 2:
        return np.nan
    dist, _ = cKDTree(rows).query(rows, k=2)
    return float(dist[:, 1].mean())


def ppc_pvalues(model: Mixture, *, draws: int = 500, seed: int | None = None):
    """Posterior predictive p-values of summary statistics of the data.

    Per column: the censored fraction, the mean and the standard deviation
    of the recorded values; overall: the mean nearest-neighbour distance
    between rows (columns scaled by the data's sds), which a model with too
    few components gets wrong, since it spreads clustered points into fewer,
    wider blobs. For each statistic T,
    ``p = P(T(y_rep) > T(y)) + P(T(y_rep) = T(y)) / 2`` over the replicates
    of :func:`posterior_predictive` (the model's, or new ones when it has
    none); p near 0 or 1 flags a misfit. Ties count half (the mid-p value)
    because the censored fraction is discrete: where a column's censoring
    is all intervals, every replicate's fraction equals the data's (each
    replicate of an interval cell is censored, as the data's cell was), and
    ``p`` is 0.5, not a spurious 1.

    Returns
    -------
    pandas.DataFrame
        One row per statistic: the observed value, the replicated mean and
        the 5% and 95% quantiles, and ``p``.
    """
    rep = replicates(model, draws, seed)
    y_rep = rep["y"].to_numpy()
    c_rep = rep["censored"].to_numpy()
    cells = model.cells_
    if cells.n_dims == 1:
        y_rep, c_rep = y_rep[..., None], c_rep[..., None]
    y_rep = y_rep.reshape(-1, *cells.shape)
    c_rep = c_rep.reshape(-1, *cells.shape)
    y = model.idata_.observed_data["y"].to_numpy().reshape(cells.shape)
    scale = np.nanstd(y, axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    rows = {}

    def add(name, observed, replicated):
        replicated = np.asarray(replicated, dtype=float)
        rows[name] = {
            "observed": observed,
            "replicated mean": float(np.nanmean(replicated)),
            "replicated 5%": float(np.nanquantile(replicated, 0.05)),
            "replicated 95%": float(np.nanquantile(replicated, 0.95)),
            "p": float(
                np.mean(replicated > observed) + 0.5 * np.mean(replicated == observed)
            ),
        }

    present = cells.kind != MISSING
    for d, col in enumerate(cells.columns):
        mask = present[:, d]
        if cells.censored[:, d].any():
            add(
                f"censored fraction [{col}]",
                float(cells.censored[mask, d].mean()),
                c_rep[:, mask, d].mean(axis=1),
            )
        add(
            f"mean [{col}]",
            float(np.nanmean(y[:, d])),
            np.nanmean(y_rep[..., d], axis=1),
        )
        add(f"sd [{col}]", float(np.nanstd(y[:, d])), np.nanstd(y_rep[..., d], axis=1))
    if cells.n_dims > 1 or cells.n_obs > 1:
        add(
            "nearest-neighbour distance",
            _nn_distance(y / scale),
            [_nn_distance(r / scale) for r in y_rep],
        )
    table = pd.DataFrame(rows).T
    table.index.name = "statistic"
    return table


def co_clustering(model: Mixture, *, draws: int = 200) -> pd.DataFrame:
    """P(z_i = z_j | data) for every pair of observations (N, N).

    Computed in expectation from the membership probabilities, as the Stan
    User's Guide recommends (no sampled allocations): given the parameters,
    rows i and j share a component with probability
    ``sum_k p_ik p_jk``; that is averaged over ``draws`` evenly spaced
    posterior draws. The diagonal is 1: an observation is always in its
    own component (``sum_k p_ik^2`` would be the chance that two independent
    draws of its allocation agree, which is not the question). Rows and
    columns are labelled by the data's index.

    Examples
    --------
    >>> import stanmix as sm
    >>> data = sm.datasets.mixture_sample([0.5, 0.5], [[-3.0], [3.0]], 1.0, 40, 1)
    >>> model = sm.Mixture(2).fit(data.X, method="optimize", seed=1)
    >>> p = co_clustering(model)
    >>> float(p.iloc[0, 0]), p.shape
    (1.0, (40, 40))
    """
    model._check_membership()
    draws = check.integer("draws", draws, low=1)
    params = model.param_draws()
    n_total = params["w"].shape[0]
    keep = np.unique(
        np.linspace(0, n_total - 1, min(draws, n_total)).round().astype(int)
    )
    n = model.cells_.n_obs
    out = np.zeros((n, n))
    step = max(1, 2**24 // max(1, n * n))
    for start in range(0, keep.size, step):
        part = keep[start : start + step]
        prob = likelihood.membership_draws(
            model.family_, model.cells_, {k: v[part] for k, v in params.items()}
        )
        out += np.einsum("snk,smk->nm", prob, prob)
    out /= keep.size
    np.fill_diagonal(out, 1.0)
    index = np.asarray(model.obs_index_)
    return pd.DataFrame(out, index=index, columns=index)


def separation(model: Mixture, *, hdi_prob: float | None = None) -> pd.DataFrame:
    """Which pairs of components are told apart by their means.

    For every pair of components and every column, whether the HDIs of the
    two components' means overlap there. A pair whose HDIs overlap in every
    column is not separated by location: the two may be one cluster split
    in two (or differ only in spread).

    Returns
    -------
    pandas.DataFrame
        One row per pair, indexed by ``component`` and ``other``: per
        column, the gap between the HDIs (``gap [column]``, negative when
        they overlap), and ``separated`` (True when some column has a
        positive gap). With one component there is no pair: the table has
        the same index names and columns, and no rows.
    """
    from stanmix.inference_data import az

    model._check_fitted()
    prob = check.number(
        "hdi_prob", model.hdi_prob if hdi_prob is None else hdi_prob, low=0, high=1
    )
    mu = model.idata_.posterior["mu"]
    if "dim" not in mu.dims:
        mu = mu.expand_dims({"dim": list(model.cells_.columns)}, axis=-1)
    bounds = az.hdi(mu, hdi_prob=prob)["mu"].transpose("component", "dim", "hdi")
    bounds = bounds.to_numpy()
    k = bounds.shape[0]
    rows = {}
    for a in range(k):
        for b in range(a + 1, k):
            gap = np.maximum(bounds[a, :, 0], bounds[b, :, 0]) - np.minimum(
                bounds[a, :, 1], bounds[b, :, 1]
            )
            rows[(a, b)] = {
                **{
                    f"gap [{col}]": float(g)
                    for col, g in zip(model.cells_.columns, gap, strict=True)
                },
                "separated": bool((gap > 0).any()),
            }
    columns = [f"gap [{col}]" for col in model.cells_.columns]
    index = pd.MultiIndex.from_tuples(list(rows), names=["component", "other"])
    table = pd.DataFrame(
        [[row[c] for c in columns] for row in rows.values()],
        index=index,
        columns=columns,
        dtype=float,
    )
    table["separated"] = np.array(
        [row["separated"] for row in rows.values()], dtype=bool
    )
    return table
