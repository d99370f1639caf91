"""Does the model fit? Posterior predictive checks, co-clustering and
component separation for a fitted :class:`~stanmix.estimator.Mixture`.

Replicated data are recorded as the data were: a replicated cell is
censored at the detection limit in force for its data cell (a value beyond
it is recorded at the limit) and missing where the data are missing, so
checks compare like with like.

Which limit is in force for a cell: when the fit was given
``lower_limit`` / ``upper_limit`` (a number, per column, per row or per
cell; with or without a ``censored`` mask), the limit given for that cell,
censored in the data or not, as the cell table keeps it
(:attr:`stanmix.cells.CellTable.lower_limit`); a cell given no limit is
never censored in a replicate. When the limits of uncensored cells are not
known (cells read from a program's data by :func:`stanmix.from_cmdstan_csv`,
or a fit saved by an older stanmix), they are guessed from the censored
cells: a column whose censored cells all share one limit, and none of whose
measured values lies beyond it, has it for every row; otherwise only the
censored cells are censored in replicates, each at its own limit (the
column's uncensored cells never are).

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

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from stanmix import _validation as check
from stanmix import likelihood
from stanmix.cells import INTERVAL, LEFT, MISSING, OBSERVED, RIGHT, CellTable
from stanmix.diagnostics import quiet_chain_count
from stanmix.estimator import Mixture, check_model
from stanmix.exceptions import StanmixInputError
from stanmix.inference_data import az, obs_coord

__all__ = [
    "PPC_BUDGET",
    "PPC_DRAWS",
    "PPC_MIN_DRAWS",
    "affordable_draws",
    "co_clustering",
    "loo_pit",
    "posterior_predictive",
    "ppc_pvalues",
    "separation",
]


@dataclass(frozen=True, eq=False)
class _Limits:
    """Per-cell censoring limits that apply to replicated data (NaN: none)."""

    lower: np.ndarray  # left-censoring limit: values at or below are censored
    upper: np.ndarray  # right-censoring limit
    interval: np.ndarray  # (N, D) bool: interval cells keep their interval


def _limits(cells: CellTable) -> _Limits:
    """The limits in force for each cell: the table's own when it knows them,
    else guessed from its censored cells (see the module's docs)."""
    n, d = cells.shape
    known = {"lower": cells.lower_limit, "upper": cells.upper_limit}
    lower = np.full((n, d), np.nan)
    upper = np.full((n, d), np.nan)
    for side, code, bound, out in (
        ("lower", LEFT, cells.upper, lower),
        ("upper", RIGHT, cells.lower, upper),
    ):
        if known[side] is not None:
            out[:] = known[side]
            continue
        for col in range(d):
            rows = cells.kind[:, col] == code
            if not rows.any():
                continue
            values = np.unique(bound[rows, col])
            measured = cells.values[cells.kind[:, col] == OBSERVED, col]
            beyond = measured <= values[0] if side == "lower" else measured >= values[0]
            if values.size == 1 and not beyond.any():
                out[:, col] = values[0]  # a column's detection limit: every row's
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


#: Replicated values (draws x cells) the checks make when not told how many
#: replicates to draw: with more, they draw fewer (:func:`affordable_draws`).
PPC_BUDGET = 20_000_000
#: Replicates drawn by :func:`ppc_pvalues` when it is not told how many,
#: and by :func:`posterior_predictive` above :data:`PPC_BUDGET` values or at
#: a posterior mode (fewer where they would pass the budget).
PPC_DRAWS = 500
#: Fewest replicates the budget leaves a default check (at 200,000 rows of
#: 6 columns, 24 million values).
PPC_MIN_DRAWS = 20


def affordable_draws(model: Mixture, wanted: int) -> int:
    """``wanted`` replicates, or as many as :data:`PPC_BUDGET` values allow
    when that is fewer, but at least :data:`PPC_MIN_DRAWS` (or ``wanted``).

    Examples
    --------
    >>> import stanmix as sm
    >>> model = sm.Mixture(2).fit(
    ...     sm.datasets.blobs(100, seed=1).X, method="optimize", seed=1)
    >>> affordable_draws(model, 500)
    500
    """
    per_draw = max(model.cells_.kind.size, 1)
    return max(min(wanted, PPC_BUDGET // per_draw), min(wanted, PPC_MIN_DRAWS))


def posterior_predictive(
    model: Mixture,
    *,
    draws: int | None = None,
    seed: int | None = None,
    attach: bool = True,
) -> xr.Dataset:
    """Replicated data sets, one per posterior draw, recorded as the data were.

    Returns (and with ``attach=True`` adds to ``model.idata_``, replacing any
    earlier one) a ``posterior_predictive`` group with ``y`` (chain, draw,
    obs[, dim]): each replicate's cells at their
    value, censored cells at their limit, interval-censored cells at the
    midpoint of their interval (see the module's docs), missing cells NaN
    (the data's ``observed_data.y`` is recorded the same way, so
    ``az.plot_ppc(model.idata_, flatten=["obs"])`` compares like with like,
    one panel per column), and ``censored``
    (bool) marking the replicated cells recorded as censored: those that
    fell beyond a limit, and every replicate of an interval-censored cell.
    ``draws`` posterior draws are used, rounded up to a multiple of the
    number of chains (each chain gives the same number, spread evenly over
    it; all of its draws when it has fewer). By default every draw, as
    :func:`loo_pit` needs (one replicate per draw of ``log_likelihood``),
    unless that makes more than :data:`PPC_BUDGET` values; then
    :data:`PPC_DRAWS`, or fewer (at least :data:`PPC_MIN_DRAWS`) where those
    would pass the budget too. The group keeps the fit's attributes
    (engine, versions, ``fit_seed``), its own ``seed``, and ``predictive``.

    A point estimate (``method="optimize"``) has no posterior draws: its
    replicates are ``draws`` data sets drawn at the mode (one chain), a
    plug-in predictive, as :meth:`stanmix.RegressionMixture.predict_response` uses.
    It ignores the uncertainty of the parameters, so its replicates vary
    less than a posterior predictive's would and p-values computed from
    them are further from 0.5: treat them as a rough check. The group's
    ``predictive`` attribute says which it is (``"plug-in"`` or
    ``"posterior"``).

    Examples
    --------
    >>> import stanmix as sm
    >>> data = sm.datasets.blobs(100, seed=1)
    >>> model = sm.Mixture(5).fit(data.X, seed=1, show_progress=False)
    >>> posterior_predictive(model, draws=40, seed=1)["y"].shape
    (4, 10, 100, 2)
    >>> mode = sm.Mixture(5).fit(data.X, method="optimize", seed=1)
    >>> rep = posterior_predictive(mode, draws=50, seed=1)
    >>> rep["y"].shape, rep.attrs["predictive"]
    ((1, 50, 100, 2), 'plug-in')
    """
    check_model(model, "posterior_predictive")
    if draws is not None:
        draws = check.integer("draws", draws, low=1)
    check.flag("attach", attach)
    rng = np.random.default_rng(check.seed(seed))
    post = model.idata_.posterior
    n_chains, n_draws = post.sizes["chain"], post.sizes["draw"]
    plug_in = model.method_ == "optimize"
    if draws is None:
        every = n_chains * n_draws
        small = every * model.cells_.kind.size <= PPC_BUDGET
        draws = every if small and not plug_in else affordable_draws(model, PPC_DRAWS)
    if plug_in:
        # One chain holding the mode: drawn from `draws` times.
        n_chains = 1
        picks = np.zeros(draws, dtype=int)
        draw_coords = np.arange(draws)
    else:
        per_chain = min(n_draws, -(-draws // n_chains))
        picks = np.unique(np.linspace(0, n_draws - 1, per_chain).round().astype(int))
        draw_coords = post["draw"].values[picks]
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
        "chain": post["chain"].values[:n_chains],
        "draw": draw_coords,
        "obs": obs_coord(model.obs_index_),
        "dim": list(cells.columns),
    }
    if cells.n_dims == 1:
        values, censored, dims = values[..., 0], censored[..., 0], dims[:-1]
        coords.pop("dim")
    group = xr.Dataset(
        {"y": (dims, values), "censored": (dims, censored)},
        coords=coords,
        attrs={
            **{key: value for key, value in post.attrs.items() if key != "seed"},
            "fit_seed": post.attrs.get("seed", -1),
            "seed": -1 if seed is None else int(seed),
            "predictive": "plug-in" if plug_in else "posterior",
        },
    )
    if attach:
        if "posterior_predictive" in model.idata_.groups():
            del model.idata_.posterior_predictive
        model.idata_.add_groups({"posterior_predictive": group})
    return group


def replicates(
    model: Mixture, draws: int | None, seed: int | None, default: int
) -> xr.Dataset:
    """The model's attached replicated data when neither ``draws`` nor
    ``seed`` is given; else new ones (``draws``, or ``default`` of them),
    not attached to the model."""
    if (
        draws is None
        and seed is None
        and "posterior_predictive" in model.idata_.groups()
    ):
        return model.idata_.posterior_predictive
    if draws is None:
        draws = affordable_draws(model, default)
    return posterior_predictive(model, draws=draws, seed=seed, attach=False)


def loo_pit_refusal(model: Mixture) -> str | None:
    """Why :func:`loo_pit` does not apply to the fitted ``model``, or None."""
    if model.method_ == "optimize" or "log_likelihood" not in model.idata_.groups():
        return (
            "loo_pit needs posterior draws with their pointwise log-likelihood: "
            "fit with method='sample' (or 'variational') and log_likelihood=True"
        )
    if model.cells_.n_dims != 1:
        return (
            f"loo_pit applies to one-column data; this model has "
            f"{model.cells_.n_dims} columns, and a row's one log-likelihood "
            "value does not say which of its cells is off: use ppc_pvalues or "
            "plots.plot_ppc"
        )
    return None


def loo_pit(model: Mixture, *, seed: int | None = None) -> pd.Series:
    """Leave-one-out probability integral transforms of one-column data,
    with censored cells spread over their share of the unit interval.

    Each observation's PIT is the leave-one-out predictive probability of
    a replicated value below the recorded one, P(y_rep < y), computed from
    the replicates (one per posterior draw) weighted by Pareto-smoothed
    importance sampling as ArviZ's ``loo_pit`` does. Where a replicate is
    recorded *equal* to the data (a censored cell: every replicate beyond
    the limit is recorded at it, and an interval cell's replicate at its
    bin's midpoint) the tie's probability is split by a uniform draw:
    PIT = P(y_rep < y) + u P(y_rep = y). For a correct model the values are
    then uniform on (0, 1), censored cells included. ArviZ's ``loo_pit``
    counts ties as below, so a left-censored cell's PIT is the whole
    probability below its limit and, with a detection limit, its values
    pile up there and leave a gap beneath, for a correct model too.

    Parameters
    ----------
    model : Mixture
        A model fitted by NUTS or ADVI (with ``log_likelihood``) to one
        column. Its attached replicates (:func:`posterior_predictive`) are
        used, each paired with its draw; without them new ones are drawn,
        one per draw, or for an evenly spread subset of the draws where
        every draw would make more than :data:`PPC_BUDGET` values.
    seed : int, optional
        Seeds the uniform draws that split ties, and any new replicates.

    Returns
    -------
    pandas.Series
        One value per observation, indexed as the data (NaN for a missing
        cell, such as a regression's row without a response).

    Examples
    --------
    >>> import numpy as np, stanmix as sm
    >>> from stanmix import checks
    >>> rng = np.random.default_rng(0)
    >>> y = np.r_[rng.normal(-2, 1, 100), rng.normal(2, 1, 100)]
    >>> limit = -1.5  # a detection limit: values below it read as the limit
    >>> model = sm.NormalMixture(2, engine="stanli").fit(
    ...     np.maximum(y, limit), lower_limit=limit, seed=1, chains=2,
    ...     draws=500, show_progress=False)
    >>> pit = checks.loo_pit(model, seed=1)
    >>> counts, _ = np.histogram(pit, bins=5, range=(0, 1))
    >>> bool(counts.min() > 20)  # about 40 in each fifth, below the limit too
    True
    """
    check_model(model, "loo_pit")
    refusal = loo_pit_refusal(model)
    if refusal:
        raise StanmixInputError(refusal)
    post = model.idata_.posterior
    n_chains, n_draws = post.sizes["chain"], post.sizes["draw"]
    rng = np.random.default_rng(check.seed(seed))
    group = None
    if "posterior_predictive" in model.idata_.groups():
        group = model.idata_.posterior_predictive
        if group.attrs.get("predictive") == "plug-in" or not (
            set(group["chain"].values) <= set(post["chain"].values)
            and set(group["draw"].values) <= set(post["draw"].values)
        ):
            group = None
    if group is None:
        group = posterior_predictive(
            model,
            # every draw, or as many as the budget allows
            draws=affordable_draws(model, n_chains * n_draws),
            seed=int(rng.integers(check.MAX_SEED)),
            attach=False,
        )
    paired = {"chain": group["chain"].values, "draw": group["draw"].values}
    log_lik = (
        model.idata_.log_likelihood["y"].sel(paired).stack(sample=("chain", "draw"))
    )
    # rows without a log-likelihood value (a regression's rows without a
    # response) have no PIT
    counted = log_lik["obs"].values
    replicated = group["y"].sel(obs=counted).stack(sample=("chain", "draw"))
    replicated = replicated.transpose("obs", ...)
    # ArviZ's relative efficiency; a subset of the draws has at most as
    # many effective draws as draws
    with quiet_chain_count():
        ess = az.ess(post, method="mean")
    mean_ess = float(np.mean(np.hstack([ess[v].values.ravel() for v in ess.data_vars])))
    n_paired = log_lik.sizes["sample"]
    if n_paired < n_chains * n_draws:
        mean_ess = min(mean_ess, n_paired)
    reff = mean_ess / n_paired if n_chains > 1 else 1.0
    with warnings.catch_warnings():
        # the Pareto k diagnostics belong to az.loo, which reports them
        warnings.simplefilter("ignore")
        log_weights, _ = az.psislw(
            -log_lik.transpose("obs", "sample").values, reff=reff
        )
    weights = np.exp(log_weights)
    y_rep = replicated.values
    observed = model.idata_.observed_data["y"]
    y = observed.sel(obs=counted).values
    below = np.sum(weights * (y_rep < y[:, None]), axis=1)
    tied = np.sum(weights * (y_rep == y[:, None]), axis=1)
    pit = np.full(observed.sizes["obs"], np.nan)
    rows = pd.Index(observed["obs"].values).get_indexer(counted)
    pit[rows] = np.clip(below + rng.uniform(size=y.size) * tied, 0.0, 1.0)
    pit[np.isnan(observed.values)] = np.nan
    return pd.Series(pit, index=model.obs_index_, name="loo_pit")


#: Rows whose nearest-neighbour distance enters the statistic (at most).
NN_ROWS = 2_000


def _nn_distance(values: np.ndarray) -> float:
    """Mean distance to the nearest other row, over rows with no missing
    cell: small for clustered data, larger for data spread like one blob.
    With more than :data:`NN_ROWS` complete rows, the mean is over that
    many of them, evenly spaced by position (the same rows in the data and
    in each replicate, whose missing cells are the data's); their nearest
    neighbours are still sought among all complete rows.

    Examples
    --------
    >>> _nn_distance(np.array([[0.0, 0.0], [0.0, 1.0], [3.0, 0.0], [np.nan, 0.0]]))
    1.6666666666666667
    """
    from scipy.spatial import cKDTree

    rows = values[~np.isnan(values).any(axis=1)]
    if rows.shape[0] < 2:
        return np.nan
    asked = rows
    if rows.shape[0] > NN_ROWS:
        asked = rows[np.linspace(0, rows.shape[0] - 1, NN_ROWS).round().astype(int)]
    dist, _ = cKDTree(rows).query(asked, k=2)
    return float(dist[:, 1].mean())


def ppc_pvalues(
    model: Mixture, *, draws: int | None = None, seed: int | None = None
) -> pd.DataFrame:
    """Posterior predictive p-values of summary statistics of the data.

    Per column: the censored fraction (for columns with censored cells or
    a detection limit), the mean and the standard deviation of the
    recorded values; overall: the mean nearest-neighbour distance
    between rows (columns scaled by the data's sds), which a model with too
    few components gets wrong, since it spreads clustered points into fewer,
    wider blobs. For each statistic T,
    ``p = P(T(y_rep) > T(y)) + P(T(y_rep) = T(y)) / 2`` over the replicates
    (:func:`posterior_predictive`); p near 0 or 1 flags a misfit. Ties count
    half (the mid-p value) because the censored fraction is discrete: where
    a column's censoring is all intervals, every replicate's fraction equals
    the data's (each replicate of an interval cell is censored, as the
    data's cell was), and ``p`` is 0.5, not a spurious 1.

    A statistic can be undefined (NaN): the nearest-neighbour distance uses
    the rows with no missing cell (the mean over at most :data:`NN_ROWS` of
    them, evenly spaced), and is NaN when fewer than two rows are
    complete (replicates are missing where the data are, so theirs is NaN
    too). Its ``p`` is then NaN, not a verdict; replicates whose statistic
    is NaN are left out of ``p`` and of the replicated mean and quantiles.

    Which replicates are used: with neither ``draws`` nor ``seed`` given,
    the model's own (those :func:`posterior_predictive` attached to
    ``model.idata_``), or, when it has none, :data:`PPC_DRAWS` new ones
    (fewer where they would hold more than :data:`PPC_BUDGET` values: see
    :func:`affordable_draws`). Given ``draws`` or ``seed``, always new ones
    drawn for them (any attached ones are left alone and not used). New
    replicates are not attached to the model.

    Parameters
    ----------
    model : Mixture
        A fitted model. For a point estimate (``method="optimize"``) the
        replicates are a plug-in predictive drawn at the mode (see
        :func:`posterior_predictive`), a rougher check.
    draws : int, optional
        Number of replicates to draw.
    seed : int, optional
        Seed of the replicates.

    Returns
    -------
    pandas.DataFrame
        One row per statistic: the observed value, the replicated mean and
        the 5% and 95% quantiles, and ``p``.

    Examples
    --------
    >>> import stanmix as sm
    >>> data = sm.datasets.mixture_sample([0.5, 0.5], [[-3.0], [3.0]], 1.0, 60, 1)
    >>> model = sm.Mixture(2).fit(data.X, seed=1, show_progress=False)
    >>> table = ppc_pvalues(model, draws=100, seed=1)
    >>> list(table.columns)
    ['observed', 'replicated mean', 'replicated 5%', 'replicated 95%', 'p']
    >>> bool(table["p"].between(0, 1).all())
    True
    """
    check_model(model, "ppc_pvalues")
    rep = replicates(model, draws, seed, PPC_DRAWS)
    y_rep = rep["y"].to_numpy()
    c_rep = rep["censored"].to_numpy()
    cells = model.cells_
    if cells.n_dims == 1:
        y_rep, c_rep = y_rep[..., None], c_rep[..., None]
    y_rep = y_rep.reshape(-1, *cells.shape)
    c_rep = c_rep.reshape(-1, *cells.shape)
    y = model.idata_.observed_data["y"].to_numpy().reshape(cells.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column
        scale = np.nanstd(y, axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    rows = {}

    def add(name, observed, replicated):
        replicated = np.asarray(replicated, dtype=float)
        replicated = replicated[~np.isnan(replicated)]
        observed = float(observed)
        defined = replicated.size > 0
        p = np.nan
        if defined and not np.isnan(observed):
            p = float(
                np.mean(replicated > observed) + 0.5 * np.mean(replicated == observed)
            )
        rows[name] = {
            "observed": observed,
            "replicated mean": float(np.mean(replicated)) if defined else np.nan,
            "replicated 5%": (
                float(np.quantile(replicated, 0.05)) if defined else np.nan
            ),
            "replicated 95%": (
                float(np.quantile(replicated, 0.95)) if defined else np.nan
            ),
            "p": p,
        }

    present = cells.kind != MISSING
    limits = _limits(cells)
    limited = (np.isfinite(limits.lower) | np.isfinite(limits.upper)) & present
    for d, col in enumerate(cells.columns):
        mask = present[:, d]
        # Also where the data have no censored cell but a limit is in force:
        # a model that puts mass beyond it would censor replicates there.
        if cells.censored[:, d].any() or limited[:, d].any():
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
    columns are labelled by the data's index. A regression's rows without a
    response are left out: nothing places them but the weights.

    Examples
    --------
    >>> import stanmix as sm
    >>> data = sm.datasets.mixture_sample([0.5, 0.5], [[-3.0], [3.0]], 1.0, 40, 1)
    >>> model = sm.Mixture(2).fit(data.X, method="optimize", seed=1)
    >>> p = co_clustering(model)
    >>> float(p.iloc[0, 0]), p.shape
    (1.0, (40, 40))
    """
    check_model(model, "co_clustering")
    model._check_membership()
    draws = check.integer("draws", draws, low=1)
    params = model.param_draws()
    n_total = params["w"].shape[0]
    keep = np.unique(
        np.linspace(0, n_total - 1, min(draws, n_total)).round().astype(int)
    )
    counted = model.cells_.counted_rows()
    cells = model.cells_.rows(counted)
    n = counted.size
    out = np.zeros((n, n))
    step = max(1, 2**24 // max(1, n * n))
    for start in range(0, keep.size, step):
        part = keep[start : start + step]
        prob = likelihood.membership_draws(
            model.family_, cells, {k: v[part] for k, v in params.items()}
        )
        out += np.einsum("snk,smk->nm", prob, prob)
    out /= keep.size
    np.fill_diagonal(out, 1.0)
    index = pd.Index(model.obs_index_)[counted]
    return pd.DataFrame(out, index=index, columns=index.copy())


def _separation_refusal(model: Mixture) -> str | None:
    """Why :func:`separation` does not apply to the model, or None when it
    does (the report asks this too, to leave the section out)."""
    if model.family_.needs_covariates:
        return (
            f"separation compares the components' means (mu), but a "
            f"{type(model).__name__}'s components are lines: mu is a line's "
            "value at the predictors' centre only, so lines that cross there "
            "look unseparated however far apart they are elsewhere; look at "
            "the lines instead: stanmix.plots.plot_regression(model), "
            "model.coef_ and model.intercept_ (model.summary() gives their "
            "HDIs), and how clearly each row belongs to one line "
            "(model.membership())"
        )
    if model.method_ == "optimize":
        return (
            "separation compares HDIs of the components' means over posterior "
            "draws, and a point estimate (method='optimize') has none (its "
            "intervals would have zero width and call every pair separated); "
            "fit with method='sample' (or 'variational'), or compare "
            "model.means_ with the spread of each component"
        )
    return None


def separation(model: Mixture, *, hdi_prob: float | None = None) -> pd.DataFrame:
    """Which pairs of components are told apart by their means.

    For every pair of components and every column, whether the HDIs of the
    two components' means overlap there. A pair whose HDIs overlap in every
    column is not separated by location: the two may be one cluster split
    in two (or differ only in spread). An emptied component (a sparse
    mixture's surplus one, holding under one row on average: its weight in
    ``model.weights_`` times the number of rows below 1) has its mean on the
    prior, whose wide HDI overlaps every other: its pairs read as not
    separated whatever the filled components do, so judge the pairs of
    filled components (the HTML report's sentence leaves such pairs out).

    It needs posterior draws, and components located by their means: a
    point estimate (``method="optimize"``) and a mixture of regressions
    (whose components are lines: look at ``plots.plot_regression``,
    ``coef_``, ``intercept_`` and ``membership()`` instead) are refused
    with a :class:`~stanmix.StanmixInputError`.

    Parameters
    ----------
    model : Mixture
        A model fitted by NUTS or ADVI.
    hdi_prob : float, optional
        Mass of the means' HDIs; by default the model's ``hdi_prob``.

    Returns
    -------
    pandas.DataFrame
        One row per pair, indexed by ``component`` and ``other``: per
        column, the gap between the HDIs (``gap [column]``, negative when
        they overlap), and ``separated`` (True when some column has a
        positive gap). With one component there is no pair: the table has
        the same index names and columns, and no rows.

    Examples
    --------
    >>> import stanmix as sm
    >>> data = sm.datasets.mixture_sample([0.5, 0.5], [[-3.0], [3.0]], 1.0, 60, 1)
    >>> model = sm.Mixture(2).fit(data.X, seed=1, show_progress=False)
    >>> separation(model)["separated"].tolist()
    [True]
    """
    from stanmix.inference_data import az

    check_model(model, "separation")
    refusal = _separation_refusal(model)
    if refusal is not None:
        raise StanmixInputError(refusal)
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
