"""Model checking: replicated data recorded as the data were, posterior
predictive p-values, co-clustering, separation of the components."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import stanmix as sm
from stanmix import checks, datasets
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
    # On the diagonal: sum_k p_k^2, at most 1.
    proba = model.predict_proba_fitted()
    assert np.all(np.diag(p) >= (proba**2).sum(axis=1).min() - 1e-9)


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
