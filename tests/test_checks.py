"""Model checking: replicated data recorded as the data were, posterior
predictive p-values, co-clustering, separation of the components."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import stanmix as sm
from stanmix import censoring, checks, datasets
from stanmix.cells import INTERVAL, LEFT, OBSERVED, CellTable
from stanmix.plots import plot_co_clustering, plot_ppc

pytest.importorskip("stanli")
SHORT = dict(seed=1, chains=2, warmup=300, draws=200, show_progress=False)


@pytest.fixture(scope="module")
def censored():
    """Three clusters, 20% of each column below a detection limit, a few
    missing cells; fitted with the right K and with too few."""
    data = datasets.mixture_sample(
        np.full(3, 1 / 3),
        [[-3.0, 0.0], [0.0, 3.0], [3.0, -1.0]],
        1.0,
        300,
        seed=1,
        columns=["x", "y"],
    )
    X, limits = datasets.left_censor(data.X, 0.2)
    X.iloc[[5, 50, 100], 1] = np.nan
    right = sm.Mixture(3).fit(X, lower_limit=limits, **SHORT)
    too_few = sm.Mixture(1).fit(X, lower_limit=limits, **SHORT)
    return X, limits, right, too_few


def test_replicates_are_censored_at_the_limits_and_missing_where_the_data_are(
    censored,
):
    X, limits, model, _ = censored
    rep = checks.posterior_predictive(model, draws=40, seed=3)
    assert rep["y"].dims == ("chain", "draw", "obs", "dim")
    assert rep["y"].shape == (2, 20, len(X), 2)
    # At least the draws asked for, the same number from each chain, at
    # most all of them.
    for asked, per_chain in ((1, 1), (3, 2), (41, 21), (1000, 200)):
        few = checks.posterior_predictive(model, draws=asked, seed=3, attach=False)
        assert few.sizes["draw"] == per_chain, asked
    y = rep["y"].to_numpy()
    for d, col in enumerate(X.columns):
        column = y[..., d]
        # Nothing below the limit: censored replicates sit at it.
        assert np.nanmin(column) == pytest.approx(limits[col])
        at_limit = column == limits[col]
        np.testing.assert_array_equal(at_limit, rep["censored"].to_numpy()[..., d])
    missing = np.isnan(X.to_numpy())
    assert np.isnan(y[:, :, missing]).all()
    assert not np.isnan(y[:, :, ~missing]).any()
    # The data are recorded the same way, and the group is attached.
    observed = model.idata_.observed_data["y"].to_numpy()
    np.testing.assert_array_equal(np.isnan(observed), missing)
    assert np.nanmin(observed[:, 0]) == pytest.approx(limits["x"])
    assert "posterior_predictive" in model.idata_.groups()


def test_ppc_covers_the_censored_fraction_and_flags_too_few_components(censored):
    _, _, right, too_few = censored
    good = checks.ppc_pvalues(right, draws=200, seed=1)
    for col in ("x", "y"):
        row = good.loc[f"censored fraction [{col}]"]
        assert row["replicated 5%"] <= row["observed"] <= row["replicated 95%"]
    assert 0.02 < good.loc["nearest-neighbour distance", "p"] < 0.98
    bad = checks.ppc_pvalues(too_few, draws=200, seed=1)
    # One blob spreads the three clusters' points: every replicate's rows
    # are farther apart than the data's.
    assert bad.loc["nearest-neighbour distance", "p"] > 0.99


def test_co_clustering_is_a_symmetric_probability_matrix(censored):
    X, _, model, _ = censored
    p = checks.co_clustering(model, draws=50).to_numpy()
    assert p.shape == (len(X), len(X))
    np.testing.assert_allclose(p, p.T, atol=1e-12)
    assert np.all((p >= 0) & (p <= 1 + 1e-12))
    labels = model.predict_proba_fitted().argmax(axis=1)
    same = labels[:, None] == labels[None, :]
    assert p[same].mean() > 0.9 and p[~same].mean() < 0.1
    # An observation always shares its own component.
    np.testing.assert_array_equal(np.diag(p), 1.0)


def test_co_clustering_diagonal_is_one_and_pairs_are_sum_of_products():
    """At a point estimate the pairs are sum_k p_ik p_jk exactly; the
    diagonal is 1, not sum_k p_ik^2, even for a row split evenly."""
    low = np.random.default_rng(1).normal(-2, 1, 40)
    high = np.random.default_rng(2).normal(2, 1, 40)
    X = pd.DataFrame({"y": np.r_[low, high]})
    X.index = pd.Index([f"s{i}" for i in range(80)], name="sample_id")
    model = sm.NormalMixture(2).fit(X, method="optimize", seed=1)
    table = checks.co_clustering(model)
    assert list(table.index) == list(X.index) == list(table.columns)
    assert table.index.name == table.columns.name == "sample_id"
    p = table.to_numpy()
    proba = model.predict_proba_fitted()
    assert proba.max(axis=1).min() < 0.6  # some row is nearly a coin flip
    np.testing.assert_array_equal(np.diag(p), 1.0)
    expected = proba @ proba.T
    off = ~np.eye(len(X), dtype=bool)
    np.testing.assert_allclose(p[off], expected[off], rtol=1e-10, atol=1e-12)


def test_separation_flags_components_that_share_a_centre():
    """Two components at one centre, told apart only by spread, overlap."""
    X = datasets.mixture_sample(
        [0.5, 0.5], [[0.0, 0.0], [0.0, 0.0]], [[0.5, 0.5], [2.5, 2.5]], 300, seed=2
    ).X
    table = checks.separation(sm.Mixture(2).fit(X, **SHORT))
    assert list(table.index) == [(0, 1)]
    assert not table["separated"].iloc[0]
    apart = datasets.mixture_sample(
        [0.5, 0.5], [[-4.0, 0.0], [4.0, 0.0]], 1.0, 200, seed=2
    ).X
    assert checks.separation(sm.Mixture(2).fit(apart, **SHORT))["separated"].all()


def test_attach_must_be_true_or_false(censored):
    _, _, model, _ = censored
    before = model.idata_.get("posterior_predictive")  # other tests may attach
    for bad in ("no", None, 1):
        with pytest.raises(sm.StanmixInputError, match="attach must be True or False"):
            checks.posterior_predictive(model, draws=5, seed=1, attach=bad)
    assert model.idata_.get("posterior_predictive") is before


def test_check_plots_draw(censored):
    _, _, model, _ = censored
    fig = plot_ppc(model, kind="cumulative", draws=30)
    assert len(fig.axes) == 2
    ax = plot_co_clustering(model, draws=20)
    assert ax.images[0].get_array().shape == (300, 300)
    with pytest.raises(sm.StanmixInputError, match="kind must be"):
        plot_ppc(model, kind="violin")


def test_plot_ppc_wraps_many_columns_and_names_its_lines():
    """Six columns: two rows of at most four panels (the two spare axes
    hidden); the first panel's legend says what each line is."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame(
        rng.normal(size=(120, 6)) + np.repeat([[0.0] * 6, [3.0] * 6], 60, axis=0),
        columns=[f"marker_{i}" for i in range(6)],
    )
    model = sm.DiagonalMixture(2, engine="stanli").fit(X, method="optimize", seed=1)
    fig = plot_ppc(model, draws=5, seed=1)
    shown = [ax for ax in fig.axes if ax.axison]
    assert [ax.get_title() for ax in shown] == list(X.columns)
    rows = sorted({round(ax.get_position().y0, 3) for ax in shown})
    assert len(rows) == 2 and len(fig.axes) == 8
    legend = [t.get_text() for t in shown[0].get_legend().get_texts()]
    assert sorted(legend) == ["data", "mean of the replicates", "replicated data sets"]
    assert all(ax.get_legend() is None for ax in shown[1:])
    plt.close(fig)


def test_plot_ppc_draws_on_the_callers_axes(censored):
    """One of the caller's Axes per column, the same lines as on its own
    figure; the panels name the predictive, the caller's title stays and no
    other figure is opened. A wrong number of Axes is refused before any
    replicate is drawn."""
    _, _, model, _ = censored
    own = plot_ppc(model, kind="cumulative", draws=3, seed=3)
    fig, axes = plt.subplots(2, 2)
    fig.suptitle("mine")
    before = plt.get_fignums()
    assert plot_ppc(model, kind="cumulative", draws=3, seed=3, ax=axes[0]) is fig
    assert plt.get_fignums() == before
    for mine, theirs in zip(axes[0], own.axes, strict=True):
        assert [tuple(line.get_ydata()) for line in mine.get_lines()] == [
            tuple(line.get_ydata()) for line in theirs.get_lines()
        ]
    assert [ax.get_title() for ax in axes[0]] == [
        "x: posterior predictive",
        "y: posterior predictive",
    ]
    assert fig._suptitle.get_text() == "mine"
    assert not axes[1, 0].lines
    with pytest.raises(
        sm.StanmixInputError, match=r"ax has 4 Axes; .* 2 here \(x, y\)"
    ):
        plot_ppc(model, draws=3, seed=3, ax=axes)
    with pytest.raises(TypeError, match="got str"):
        plot_ppc(model, draws=3, seed=3, ax=[axes[0, 0], "right"])
    with pytest.raises(sm.StanmixInputError, match="the same Axes more than once"):
        plot_ppc(model, draws=3, seed=3, ax=[axes[0, 0], axes[0, 0]])
    other = plt.subplots()[1]
    with pytest.raises(sm.StanmixInputError, match="more than one figure"):
        plot_ppc(model, draws=3, seed=3, ax=[axes[0, 0], other])
    plt.close("all")


def test_plot_ppc_draws_the_same_figure_for_the_same_replicates(censored):
    """The same seed, or the same attached replicates, give the same lines
    (ArviZ showed a random subset of them each time), and numpy's global
    generator is left as it was."""
    _, _, model, _ = censored

    def lines(fig):
        drawn = [tuple(line.get_ydata()) for ax in fig.axes for line in ax.get_lines()]
        plt.close(fig)
        return drawn

    np.random.seed(5)  # noqa: NPY002 (the global generator is what is checked)
    expected = np.random.random()  # noqa: NPY002
    np.random.seed(5)  # noqa: NPY002
    first = lines(plot_ppc(model, kind="cumulative", draws=3, seed=3))
    assert lines(plot_ppc(model, kind="cumulative", draws=3, seed=3)) == first
    assert np.random.random() == expected  # noqa: NPY002
    checks.posterior_predictive(model, draws=150, seed=1)  # attached: 100 shown
    first = lines(plot_ppc(model, kind="cumulative"))
    assert lines(plot_ppc(model, kind="cumulative")) == first
    del model.idata_.posterior_predictive  # the fixture is shared


def test_separation_of_one_component_has_no_pairs(censored):
    _, _, _, one = censored
    table = checks.separation(one)
    assert table.empty
    assert list(table.index.names) == ["component", "other"]
    assert list(table.columns) == ["gap [x]", "gap [y]", "separated"]
    assert table["separated"].dtype == bool


def test_record_reports_every_interval_replicate_as_an_interval():
    """A cell the data report as an interval is reported as one in every
    replicate: censored, at the midpoint of the bin of the data's width on
    the data's grid that holds the drawn value; a detection limit of its
    column does not apply to it."""
    nan = np.nan
    cells = CellTable(
        values=np.array([[nan, 1.0], [1.0, nan], [2.0, nan]]),
        kind=np.array([[INTERVAL, OBSERVED], [OBSERVED, INTERVAL], [OBSERVED, LEFT]]),
        lower=np.array([[0.0, nan], [nan, -1.0], [nan, nan]]),
        upper=np.array([[0.5, nan], [nan, 1.0], [nan, 0.0]]),
    ).validate()
    limits = checks._limits(cells)
    draws = {
        0.3: 0.25,  # inside the data's bin [0, 0.5]: the data's midpoint
        1.7: 1.75,  # bin [1.5, 2]
        -0.2: -0.25,  # bin [-0.5, 0]
        0.5: 0.75,  # a bin's upper edge starts the next bin
    }
    for drawn, midpoint in draws.items():
        values = np.array([[drawn, -3.0], [1.0, -3.0], [2.0, 5.0]])
        out, censored = checks._record(values, cells, limits)
        assert out[0, 0] == pytest.approx(midpoint)
        # Column b's detection limit (0) applies to its exact cells ...
        assert out[0, 1] == 0.0 and out[2, 1] == 5.0
        # ... but its interval cell [-1, 1] reports the bin [-3, -1].
        assert out[1, 1] == pytest.approx(-2.0)
        assert out[1, 0] == 1.0
        np.testing.assert_array_equal(
            censored, [[True, True], [False, True], [False, False]]
        )


@pytest.fixture(scope="module")
def binned():
    """Two columns: every 4th value of a reported as a 0.5-wide bin; b with
    bins too and a detection limit; simulated from a two-component mixture."""
    data = datasets.mixture_sample(
        [0.5, 0.5], [[-2.0, -1.0], [2.0, 1.0]], 1.0, 200, seed=3, columns=["a", "b"]
    )
    X = data.X.copy()
    lo = pd.DataFrame(np.nan, index=X.index, columns=X.columns)
    hi = lo.copy()
    limit = -1.5
    for col, rows in (("a", X.index[::4]), ("b", X.index[1::4])):
        rows = rows[X.loc[rows, col] > limit + 0.5]
        lo.loc[rows, col] = np.floor(X.loc[rows, col] * 2) / 2
        hi.loc[rows, col] = lo.loc[rows, col] + 0.5
        X.loc[rows, col] = lo.loc[rows, col] + 0.25
    X.loc[X["b"] <= limit, "b"] = limit
    model = sm.DiagonalMixture(2).fit(
        X,
        interval=(lo, hi),
        lower_limit={"b": limit},
        seed=1,
        chains=2,
        warmup=200,
        draws=200,
        show_progress=False,
    )
    return lo.notna().to_numpy(), model


def test_ppc_of_interval_censored_cells_matches_a_correct_model(binned):
    interval, model = binned
    cells = model.cells_
    np.testing.assert_array_equal(cells.kind == INTERVAL, interval)
    assert (cells.kind[:, 1] == LEFT).sum() > 10
    rep = checks.posterior_predictive(model, draws=100, seed=2, attach=False)
    censored = rep["censored"].to_numpy()
    assert censored[:, :, interval].all()
    table = checks.ppc_pvalues(model, draws=200, seed=1)
    # a is censored by its intervals only: every replicate reports the
    # data's fraction, a tie, which is not a misfit.
    row = table.loc["censored fraction [a]"]
    assert row["observed"] == pytest.approx(interval[:, 0].mean())
    assert row["replicated 5%"] == row["replicated 95%"] == row["observed"]
    assert row["p"] == 0.5
    # b adds a detection limit: its fraction varies, and fits.
    row = table.loc["censored fraction [b]"]
    assert row["replicated 5%"] < row["replicated 95%"]
    assert row["replicated 5%"] >= interval[:, 1].mean()
    assert 0.05 < row["p"] < 0.95
    for stat in ("mean [a]", "sd [a]", "mean [b]", "sd [b]"):
        assert 0.05 < table.loc[stat, "p"] < 0.95, stat


# -- detection limits in force for every cell ---------------------------------


@pytest.fixture(scope="module")
def per_row_limits():
    """Two labs: even rows censored below 0, odd rows below -3; fitted with
    the true model (two normal components)."""
    rng = np.random.default_rng(1)
    n = 300
    x = np.concatenate([rng.normal(0, 1, n // 2), rng.normal(4, 1, n // 2)])
    limit = np.where(np.arange(n) % 2 == 0, 0.0, -3.0)
    given = limit.copy()
    model = sm.NormalMixture(2).fit(
        np.maximum(x, limit),
        lower_limit=given,
        seed=1,
        chains=2,
        warmup=200,
        draws=200,
        show_progress=False,
    )
    np.testing.assert_array_equal(given, limit)  # the user's limits untouched
    return limit, model


def test_replicates_honour_per_row_limits(per_row_limits):
    limit, model = per_row_limits
    np.testing.assert_array_equal(model.cells_.lower_limit[:, 0], limit)
    rep = checks.posterior_predictive(model, draws=100, seed=2, attach=False)
    y, censored = rep["y"].to_numpy(), rep["censored"].to_numpy()
    even, odd = limit == 0.0, limit == -3.0
    # Nothing below a row's own limit; censored replicates sit at it.
    assert np.nanmin(y[..., even]) == 0.0 and np.nanmin(y[..., odd]) >= -3.0
    np.testing.assert_array_equal(censored, y == limit)
    # Lab B's rows keep values between its limit and lab A's: about half of
    # the first component's rows (a quarter of lab B's rows).
    between = ((y[..., odd] > -3.0) & (y[..., odd] < 0.0)).mean()
    assert 0.15 < between < 0.35
    # Lab A's rows are censored as often as the data's (13% of them).
    data_share = model.cells_.censored[even, 0].mean()
    assert censored[..., even].mean() == pytest.approx(data_share, abs=0.05)


def test_ppc_of_the_true_model_with_per_row_limits_is_not_extreme(per_row_limits):
    _, model = per_row_limits
    table = checks.ppc_pvalues(model, draws=200, seed=1)
    for stat in ("censored fraction [x0]", "mean [x0]", "sd [x0]"):
        assert 0.05 < table.loc[stat, "p"] < 0.95, stat


def test_a_limit_without_censored_cells_still_censors_replicates():
    """A column whose limit no data value reached: the limit is in force,
    so replicates that fall below it are censored, and the censored
    fraction is checked (the data's is 0)."""
    rng = np.random.default_rng(4)
    X = pd.DataFrame({"a": rng.normal(0, 1, 100), "b": rng.normal(5, 1, 100)})
    limit = float(X["b"].min()) - 0.01
    model = sm.DiagonalMixture(1).fit(
        X,
        lower_limit={"b": limit},
        seed=1,
        chains=2,
        warmup=150,
        draws=100,
        show_progress=False,
    )
    assert not model.cells_.censored.any()
    rep = checks.posterior_predictive(model, draws=200, seed=1, attach=False)
    y, censored = rep["y"].to_numpy(), rep["censored"].to_numpy()
    assert censored[..., 1].sum() > 10  # P(below) ~ 0.5% of 20 000 cells
    np.testing.assert_array_equal(censored[..., 1], y[..., 1] == limit)
    assert not censored[..., 0].any()  # a has no limit
    table = checks.ppc_pvalues(model, draws=200, seed=1)
    row = table.loc["censored fraction [b]"]
    assert row["observed"] == 0.0 and row["replicated 95%"] > 0
    # Replicates with a censored cell are above the data's 0, the rest tie
    # with it (counting half): p is above 0.5, and not a misfit.
    assert 0.5 < row["p"] < 0.95
    assert "censored fraction [a]" not in table.index


def test_limits_given_with_a_censored_mask_are_kept():
    """The limits passed with a mask are in force for every cell they were
    given for, as without one; only a table that knows no limits (here
    rebuilt from its cells alone) has them guessed from its censored cells:
    a column's common limit where no measured value lies beyond it."""
    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 0.0], "b": [-1.0, 0.5, 3.0, 4.0]})
    mask = pd.DataFrame({"a": [True, False, False, True], "b": [True] + [False] * 3})
    limits = pd.DataFrame({"a": [0.0, -4.0, 0.5, 0.0], "b": [-1.0] * 4})
    cells, _ = censoring.cell_table(X, lower_limit=limits, censored=mask)
    np.testing.assert_array_equal(cells.lower_limit, limits.to_numpy())
    np.testing.assert_array_equal(checks._limits(cells).lower, limits.to_numpy())
    bare = CellTable(cells.values, cells.kind, cells.lower, cells.upper)
    assert bare.lower_limit is None
    np.testing.assert_array_equal(checks._limits(bare).lower, [[0.0, -1.0]] * 4)
    assert np.isnan(checks._limits(bare).upper).all()
    # b's censored cell is at -1 but a measured value lies below it: the
    # limit cannot be the column's, and only that cell keeps it
    values = cells.values.copy()
    values[3, 1] = -2.0
    bare = CellTable(values, cells.kind, cells.lower, cells.upper)
    guessed = checks._limits(bare).lower[:, 1]
    np.testing.assert_array_equal(guessed, [-1.0, np.nan, np.nan, np.nan])


@pytest.mark.parametrize("use_mask", [True, False])
def test_per_row_limits_with_a_mask_check_as_without(use_mask):
    """One normal, censored at -0.5 or 0.5 by row (two instruments), with the
    rows' limits given, with and without a mask marking the censored cells:
    the replicated censored fraction matches the data's (half the rows;
    with the mask the replicates once censored only the data's censored
    cells, and every p-value came out at 0 or 1)."""
    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, 200)
    limit = rng.choice([-0.5, 0.5], 200)
    below = x <= limit
    X = np.where(below, limit, x)[:, None]
    censoring_args = {"lower_limit": limit[:, None]}
    if use_mask:
        censoring_args["censored"] = below[:, None]
    model = sm.Mixture(1, engine="stanli").fit(
        X, method="optimize", seed=1, **censoring_args
    )
    table = checks.ppc_pvalues(model, draws=400, seed=1)
    row = table.loc["censored fraction [x0]"]
    # the replicated fraction's spread: binomial, 200 rows at p ~ 0.5
    assert abs(row["replicated mean"] - row["observed"]) < 3 * np.sqrt(0.25 / 200)
    # (with the mask these were 0.000, 0.013 and 0.997)
    for name in ("censored fraction [x0]", "mean [x0]", "sd [x0]"):
        assert 0.05 < table.loc[name, "p"] < 0.95, name


# -- statistics, point estimates and which replicates are used ----------------


def test_an_undefined_statistic_has_an_undefined_p():
    """Every row misses a cell: no row is complete, the nearest-neighbour
    distance is undefined for the data and every replicate, and so is p."""
    data = datasets.mixture_sample(
        [0.5, 0.5], [[-3.0, 0.0, 1.0], [3.0, 2.0, -1.0]], 1.0, 150, seed=2
    )
    X = data.X.to_numpy().copy()
    X[np.arange(150), np.arange(150) % 3] = np.nan
    model = sm.DiagonalMixture(2).fit(X, method="optimize", seed=1)
    table = checks.ppc_pvalues(model, draws=100, seed=1)
    row = table.loc["nearest-neighbour distance"]
    assert np.isnan(row["observed"]) and np.isnan(row["p"])
    assert np.isnan(row["replicated mean"])
    others = table.drop(index="nearest-neighbour distance")
    assert others["p"].between(0.01, 0.99).all()


def test_checks_of_a_point_estimate_use_a_plug_in_predictive(per_row_limits):
    limit, sampled = per_row_limits
    X = sampled.cells_.point_values()[:, 0]
    model = sm.NormalMixture(2).fit(X, lower_limit=limit, method="optimize", seed=1)
    rep = checks.posterior_predictive(model, draws=500, seed=1)
    assert rep["y"].shape == (1, 500, 300)
    assert rep.attrs["predictive"] == "plug-in"
    # 500 replicates, all from the mode: they differ, and p is not 0 or 1.
    y = rep["y"].to_numpy()[0]
    assert np.unique(np.nanmean(y, axis=1)).size == 500
    table = checks.ppc_pvalues(model)
    assert table["p"].between(0.05, 0.95).all()
    with pytest.raises(sm.StanmixInputError, match="point estimate"):
        checks.separation(model)
    # the plot names its predictive; a fit with draws keeps "posterior"
    title = plot_ppc(model, kind="kde", draws=10, seed=1)._suptitle.get_text()
    assert title.startswith("plug-in predictive check (kde)")
    title = plot_ppc(sampled, kind="kde", draws=10, seed=1)._suptitle.get_text()
    assert title.startswith("posterior predictive check (kde)")
    title = plot_ppc(sampled, draws=10, seed=1)._suptitle.get_text()
    assert title.startswith("posterior predictive check: data against")


def test_ppc_pvalues_draws_fresh_replicates_when_told_how(censored):
    _, _, model, _ = censored
    attached = checks.posterior_predictive(model, draws=4, seed=3)
    fresh = checks.ppc_pvalues(model, draws=200, seed=5)
    again = checks.posterior_predictive(model, draws=200, seed=5, attach=False)
    assert again.sizes["draw"] == 100
    expected = _pvalues_of(model, again)
    pd.testing.assert_frame_equal(fresh, expected)
    # The attached replicates were neither used nor replaced ...
    assert model.idata_.posterior_predictive["y"].shape[:2] == (2, 2)
    # ... and are what ppc_pvalues uses when told nothing.
    pd.testing.assert_frame_equal(
        checks.ppc_pvalues(model), _pvalues_of(model, attached)
    )
    assert not checks.ppc_pvalues(model, seed=5).equals(checks.ppc_pvalues(model))
    # plot_ppc chooses its replicates the same way: the attached four, or
    # as many new ones as asked for
    few = plot_ppc(model, kind="cumulative")
    many = plot_ppc(model, kind="cumulative", draws=30)
    assert len(many.axes[0].lines) - len(few.axes[0].lines) == 30 - 4
    model.idata_ = model.idata_.copy()  # the fixture's model: drop them again
    del model.idata_.posterior_predictive  # the fixture is shared
    assert "posterior_predictive" not in model.idata_.groups()


def _pvalues_of(model, replicates):
    """ppc_pvalues of a model that carries exactly ``replicates``."""
    import copy

    twin = copy.copy(model)
    twin.idata_ = model.idata_.copy()
    if "posterior_predictive" in twin.idata_.groups():
        del twin.idata_.posterior_predictive
    twin.idata_.add_groups({"posterior_predictive": replicates})
    return checks.ppc_pvalues(twin)


# -- the InferenceData -----------------------------------------------------------


def test_plot_ppc_of_the_models_inference_data(censored):
    """The cells' description is constant data, so ArviZ's own plot_ppc
    pairs observed_data with posterior_predictive."""
    import arviz as az
    import matplotlib.pyplot as plt

    X, limits, model, _ = censored
    checks.posterior_predictive(model, draws=20, seed=1)
    idata = model.idata_
    assert list(idata.observed_data.data_vars) == ["y"]
    constant = idata.constant_data
    assert {"cell_kind", "lower", "upper"} <= set(constant.data_vars)
    # The limit in force for every cell, censored or not, which replicates
    # are censored at: a saved fit keeps it.
    np.testing.assert_array_equal(
        constant["lower_limit"].to_numpy(), model.cells_.lower_limit
    )
    assert "upper_limit" not in constant
    for col in X.columns:
        assert (constant["lower_limit"].sel(dim=col) == limits[col]).all()
    kinds = constant["cell_kind"].to_numpy()
    assert (kinds == "missing").sum() == X.isna().to_numpy().sum() == 3
    np.testing.assert_array_equal(kinds == "left", model.cells_.kind == LEFT)
    axes = az.plot_ppc(idata)
    assert np.size(axes) == 1
    plt.close("all")


# -- separation of mixtures of regressions -------------------------------------


def test_separation_refuses_a_mixture_of_regressions():
    """Two well-separated lines that cross at the predictors' centre: mu
    (each line there) cannot tell them apart, so separation refuses."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-5, 5, 150)
    group = rng.random(150) < 0.5
    y = np.where(group, 2 * x, -2 * x) + rng.normal(0, 0.5, 150)
    model = sm.RegressionMixture(2).fit(
        pd.DataFrame({"x": x}),
        y,
        seed=1,
        chains=2,
        warmup=150,
        draws=100,
        show_progress=False,
    )
    assert np.abs(model.coef_[:, 0]).min() > 1.5  # the lines are apart
    with pytest.raises(sm.StanmixInputError, match="coef_") as err:
        checks.separation(model)
    assert "membership" in str(err.value) and "plot_regression" in str(err.value)


def test_plot_ppc_draws_cdfs_where_a_data_set_has_one_value():
    """A column nearly all below its detection limit gives replicates with
    every cell at the limit; a density of one value does not exist (ArviZ's
    kde raised), so that panel shows empirical CDFs and says so, while the
    other column keeps its density."""
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    n = 30
    y = np.where(np.arange(n) < 15, rng.normal(2, 0.3, n), rng.normal(5, 0.3, n))
    x = np.maximum(rng.normal(0.3, 0.25, n), 0.8)
    X = pd.DataFrame({"x": x, "y": y})
    assert (X["x"] == 0.8).sum() == 29
    model = sm.Mixture(2).fit(X, method="optimize", lower_limit={"x": 0.8}, seed=1)
    reps = checks.replicates(model, 100, 1, 100)["y"].sel(dim="x").to_numpy()
    assert (np.ptp(reps.reshape(-1, n), axis=1) == 0).any()
    fig = plot_ppc(model, kind="kde", draws=100, seed=1)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["x: empirical CDFs\n(a data set has one value only)", "y"]
    plt.close(fig)
    # by default a censored column is drawn as CDFs in any case
    fig = plot_ppc(model, draws=100, seed=1)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["x: empirical CDFs\n(censored cells at their limits)", "y"]
    # a CDF rises to 1 and a density does not: the panels are what they say
    tops = [
        max(
            np.max(line.get_ydata()) for line in ax.get_lines() if len(line.get_ydata())
        )
        for ax in fig.axes
    ]
    assert tops[0] == pytest.approx(1.0) and tops[1] != pytest.approx(1.0)
    plt.close(fig)


def test_nearest_neighbour_statistic_of_many_rows_averages_over_some(monkeypatch):
    """Above NN_ROWS complete rows, the mean nearest-neighbour distance is
    over that many evenly spaced rows, their neighbours sought among all."""
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(2)
    values = rng.normal(size=(50, 3))
    values[7, 1] = np.nan
    complete = values[~np.isnan(values).any(axis=1)]
    distance = cdist(complete, complete)
    np.fill_diagonal(distance, np.inf)
    nearest = distance.min(axis=1)
    assert checks._nn_distance(values) == pytest.approx(nearest.mean(), rel=1e-12)
    monkeypatch.setattr(checks, "NN_ROWS", 10)
    rows = np.linspace(0, complete.shape[0] - 1, 10).round().astype(int)
    assert checks._nn_distance(values) == pytest.approx(nearest[rows].mean(), rel=1e-12)


def test_by_default_every_draw_is_replicated_so_arviz_loo_pit_pairs_them(
    monkeypatch,
):
    """One replicate per posterior draw (ArviZ's loo_pit needs one per draw
    of log_likelihood), unless that makes more than PPC_BUDGET values; the
    group keeps the fit's attributes."""
    import arviz as az

    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(-2, 1, 60), rng.normal(3, 1, 60)]
    model = sm.NormalMixture(2).fit(x, **SHORT)
    rep = checks.posterior_predictive(model, seed=4)
    assert rep.sizes["draw"] == 200
    np.testing.assert_array_equal(
        rep["draw"].to_numpy(), model.idata_.posterior["draw"].to_numpy()
    )
    pit = az.loo_pit(model.idata_, y="y")
    assert pit.shape == (120,) and np.all((pit >= 0) & (pit <= 1))
    fit_attrs = model.idata_.posterior.attrs
    assert rep.attrs["engine"] == fit_attrs["engine"] == "stanli"
    assert rep.attrs["stanmix_version"] == sm.__version__
    assert rep.attrs["fit_seed"] == fit_attrs["seed"] == 1
    assert rep.attrs["seed"] == 4 and rep.attrs["predictive"] == "posterior"
    # Above the budget: PPC_DRAWS draws, spread over the chains.
    monkeypatch.setattr(checks, "PPC_BUDGET", 2 * 200 * 120 - 1)
    monkeypatch.setattr(checks, "PPC_DRAWS", 30)
    few = checks.posterior_predictive(model, seed=4, attach=False)
    assert few.sizes["draw"] == 15
    # A posterior mode: PPC_DRAWS replicates at the mode.
    mode = sm.NormalMixture(2).fit(x, method="optimize", seed=1)
    plug = checks.posterior_predictive(mode, seed=4, attach=False)
    assert plug.sizes["draw"] == 30 and plug.attrs["predictive"] == "plug-in"
    assert plug.attrs["method"] == "optimize"


@pytest.fixture(scope="module")
def two_groups():
    """Two unit-scale groups at -2 and 2 (250 values), fitted by the right
    model uncensored and with the lowest quarter below a detection limit."""
    rng = np.random.default_rng(3)
    y = np.where(rng.integers(0, 2, 250) == 0, -2.0, 2.0) + rng.standard_normal(250)
    limit = float(np.quantile(y, 0.25))
    settings = dict(SHORT, draws=500)
    plain = sm.NormalMixture(2).fit(y, **settings)
    censored = sm.NormalMixture(2).fit(
        np.maximum(y, limit), lower_limit=limit, **settings
    )
    return plain, censored, limit


def test_loo_pit_is_arviz_loo_pit_where_nothing_ties(two_groups):
    import arviz as az

    plain, _, _ = two_groups
    checks.posterior_predictive(plain, seed=4)
    ours = checks.loo_pit(plain, seed=5)
    assert list(ours.index) == list(plain.obs_index_)
    np.testing.assert_allclose(
        ours.to_numpy(), np.asarray(az.loo_pit(plain.idata_, y="y")), rtol=0, atol=1e-12
    )
    # Without attached replicates it draws new ones, one per draw, seeded.
    del plain.idata_.posterior_predictive
    again = checks.loo_pit(plain, seed=5)
    np.testing.assert_array_equal(again, checks.loo_pit(plain, seed=5))
    assert "posterior_predictive" not in plain.idata_.groups()
    # Other replicates: values move by Monte Carlo error only (sd of a
    # proportion from 1000 weighted draws, about 0.016 at most).
    assert np.max(np.abs(again - ours)) < 0.1


def test_loo_pit_spreads_censored_cells_so_a_right_model_is_uniform(two_groups):
    import arviz as az
    from scipy import stats

    _, model, limit = two_groups
    checks.posterior_predictive(model, seed=4)
    pit = checks.loo_pit(model, seed=5).to_numpy()
    at_limit = model.idata_.observed_data["y"].values == limit
    assert at_limit.sum() == 63
    # ArviZ counts the tied replicates as below: every censored value's PIT
    # is P(y <= limit), about 0.25, and nothing lies beneath it.
    theirs = np.asarray(az.loo_pit(model.idata_, y="y"))
    assert np.min(theirs) > 0.2 and stats.kstest(theirs, "uniform").pvalue < 1e-6
    # Spread over [0, P(y <= limit)], the censored values fill that gap.
    assert np.all(pit[at_limit] <= theirs[at_limit] + 1e-12)
    n, share = len(pit), np.mean(pit < 0.2)
    assert abs(share - 0.2) < 3 * np.sqrt(0.2 * 0.8 / n)
    assert stats.kstest(pit, "uniform").pvalue > 0.05


def test_loo_pit_pairs_a_subset_of_draws_with_their_replicates(two_groups, monkeypatch):
    """Above the budget of replicated values, or with attached replicates
    of fewer draws, each replicate is paired with the draw it came from."""
    _, model, limit = two_groups
    full = checks.loo_pit(model, seed=5)
    if "posterior_predictive" in model.idata_.groups():
        del model.idata_.posterior_predictive
    monkeypatch.setattr(checks, "PPC_BUDGET", 250 * 200)
    monkeypatch.setattr(checks, "PPC_DRAWS", 100)
    seen = []
    made = checks.posterior_predictive

    def spy(model, **kwargs):
        seen.append(kwargs["draws"])
        return made(model, **kwargs)

    monkeypatch.setattr(checks, "posterior_predictive", spy)
    thinned = checks.loo_pit(model, seed=5)
    assert seen == [200]  # 100 per chain, of 500
    # Uncensored values: 200 weighted replicates against 1000, Monte Carlo
    # error of a share (sd about 0.5 / sqrt(200) = 0.035 at most). Censored
    # ones take other uniform draws here, so they are compared by range.
    measured = model.idata_.observed_data["y"].values > limit
    gap = np.abs(thinned - full)[measured]
    assert np.max(gap) < 0.15 and np.mean(gap) < 0.03
    assert np.all(thinned[~measured] <= 0.35)
    # attached replicates of 40 draws are used as they are, each with its draw
    made(model, draws=40, seed=6)
    monkeypatch.setattr(checks, "posterior_predictive", None)  # not drawn again
    paired = checks.loo_pit(model, seed=5)
    assert np.mean(np.abs(paired - full)[measured]) < 0.06


def test_loo_pit_refuses_what_it_cannot_check(censored, two_groups):
    _, _, model, _ = censored
    with pytest.raises(sm.StanmixInputError, match="one-column data; this model"):
        checks.loo_pit(model)
    mode = sm.NormalMixture(2).fit(np.r_[-2.0, -1.5, 2.0, 2.5], method="optimize")
    with pytest.raises(sm.StanmixInputError, match="posterior draws"):
        checks.loo_pit(mode)


def test_plot_loo_pit_draws_the_curve_in_a_band(two_groups):
    from stanmix.plots import plot_loo_pit

    _, model, _ = two_groups
    ax = plot_loo_pit(model, seed=5, prob=0.9)
    curve = ax.lines[0].get_ydata()
    assert len(curve) == 201 and np.max(np.abs(curve)) < 0.15
    assert len(ax.collections) == 1  # the band
    assert "250 values" in ax.get_title() and "0.9 simultaneous" in ax.get_title()
    plt.close(ax.figure)
    with pytest.raises(sm.StanmixInputError, match="prob"):
        plot_loo_pit(model, prob=1.5)


def test_default_replicates_stay_within_the_value_budget(censored, monkeypatch):
    """With the draws left to them, the checks draw no more replicated values
    than PPC_BUDGET allows (but at least PPC_MIN_DRAWS replicates): a large
    table would otherwise take gigabytes."""
    _, _, model, _ = censored
    size = model.cells_.kind.size  # 300 rows x 2 columns
    monkeypatch.setattr(checks, "PPC_BUDGET", 30 * size)
    assert checks.affordable_draws(model, 500) == 30
    assert checks.affordable_draws(model, 10) == 10
    monkeypatch.setattr(checks, "PPC_BUDGET", 5 * size)
    assert checks.affordable_draws(model, 500) == checks.PPC_MIN_DRAWS == 20
    assert checks.affordable_draws(model, 8) == 8
    rep = checks.posterior_predictive(model, seed=1, attach=False)
    assert dict(rep["y"].sizes)["chain"] == 2
    assert dict(rep["y"].sizes)["draw"] == 10  # 20 replicates, 10 from each chain
    assert dict(checks.replicates(model, None, 2, 100)["y"].sizes)["draw"] == 10
    given = checks.posterior_predictive(model, draws=60, seed=1, attach=False)
    assert dict(given["y"].sizes)["draw"] == 30  # what the caller asks for


def test_plot_ppc_cuts_heavy_tailed_replicates_to_the_data():
    """A Student-t component with about one degree of freedom gives
    replicates hundreds of units out, while the data lie within +-26: each
    panel is cut to the data's range (the replicates' central 99% lies
    inside it here), 5% wider, shows CDFs by default and says so. A normal
    fit's replicates stay near the data, and its panels are left alone."""
    import matplotlib.pyplot as plt

    X = sm.datasets.with_outliers(300, seed=2).X
    heavy = sm.Mixture(3, family="student_t").fit(X, method="optimize", seed=2)
    assert heavy.nu_.min() < 1.5
    reps = checks.replicates(heavy, 20, 1, 20)["y"].to_numpy()
    assert np.ptp(reps) > 10 * np.ptp(X.to_numpy())
    fig = plot_ppc(heavy, draws=20, seed=1)
    for ax, column in zip(fig.axes, X.columns, strict=True):
        low, high = X[column].min(), X[column].max()
        pad = 0.05 * (high - low)
        assert ax.get_xlim() == pytest.approx((low - pad, high + pad), rel=1e-9)
        assert ax.get_title() == (
            f"{column}: empirical CDFs\n(replicates' far tails cut off)"
        )
    plt.close(fig)
    fig = plot_ppc(heavy, kind="kde", draws=20, seed=1)
    assert fig.axes[0].get_title() == "x: densities\n(replicates' far tails cut off)"
    plt.close(fig)

    normal = sm.Mixture(3).fit(X, method="optimize", seed=2)
    fig = plot_ppc(normal, draws=20, seed=1)
    assert [ax.get_title() for ax in fig.axes] == ["x", "y"]
    assert fig.axes[0].get_xlim()[0] < X["x"].min() - 0.1 * np.ptp(X["x"])
    plt.close(fig)
