"""Model checking: replicated data recorded as the data were, posterior
predictive p-values, co-clustering, separation of the components."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import stanmix as sm
from stanmix import checks, datasets
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
    model = sm.NormalMixture(2).fit(X, method="optimize", seed=1)
    table = checks.co_clustering(model)
    assert list(table.index) == list(X.index) == list(table.columns)
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


def test_check_plots_draw(censored):
    _, _, model, _ = censored
    fig = plot_ppc(model, kind="cumulative", draws=30)
    assert len(fig.axes) == 2
    ax = plot_co_clustering(model, draws=20)
    assert ax.images[0].get_array().shape == (300, 300)
    with pytest.raises(sm.StanmixInputError, match="kind must be"):
        plot_ppc(model, kind="violin")


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
