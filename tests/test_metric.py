"""The NUTS mass matrix: what metric="auto" chooses and that it reaches Stan."""

import numpy as np
import pandas as pd
import pytest
from conftest import RecordingEngine, Stop

import stanmix as sm
from stanmix.censoring import cell_table
from stanmix.inference.metric import DENSE_METRIC_MAX_PARAMS


def _chosen_metric(model, X, **kwargs):
    """Run fit up to the sampler call and return the metric it was given."""
    engine = RecordingEngine(stop=("sample",))
    model.set_params(engine=engine)
    with pytest.raises(Stop):
        model.fit(X, seed=1, show_progress=False, **kwargs)
    assert model.metric_ == engine.calls["sample"]["metric"]
    return engine.calls["sample"]["metric"]


def _separated(k, d, n=200, gap=8.0, seed=0):
    """K clusters with unit scales whose means are ``gap`` apart in every column."""
    means = gap * np.arange(k)[:, None] + np.zeros((k, d))
    return sm.datasets.mixture_sample(np.full(k, 1 / k), means, 1.0, n, seed=seed).X


def test_auto_is_dense_for_small_separated_fits():
    # K means + K scales + K - 1 weights per dimension d: 2 K d + K - 1.
    model = sm.DiagonalMixture(3)  # 14 parameters
    assert _chosen_metric(model, _separated(3, 2)) == "dense_e"
    k, d = 5, 9  # 2*5*9 + 4 = 94 parameters, at the limit
    edge = sm.DiagonalMixture(k)
    assert _chosen_metric(edge, _separated(k, d)) == "dense_e"


def test_auto_is_diagonal_above_the_parameter_limit():
    k, d = 5, 10  # 2*5*10 + 4 = 104 > 100
    assert 2 * k * d + k - 1 > DENSE_METRIC_MAX_PARAMS
    big = sm.DiagonalMixture(k)
    assert _chosen_metric(big, _separated(k, d)) == "diag_e"


def test_auto_counts_latent_censored_cells_of_full_covariance():
    """Full covariance with censoring: the latent values of rows with two
    censored cells join the parameter count (3 * 2 + 3 * 2 + 3 + 2 = 17, plus
    two per such row); a row's only censored cell is integrated, and adds
    nothing."""
    X = _separated(3, 2, n=400)
    # The lowest fifth in each column: about 60% of the lowest cluster, so
    # no cluster is mostly censored (which alone would choose diag_e).
    limits = {col: float(np.sort(X[col])[79]) for col in X}
    both = X.clip(lower=pd.Series(limits), axis=1)
    cells, _ = cell_table(both, lower_limit=limits)
    assert 17 + 2 * (cells.censored.sum(axis=1) == 2).sum() > DENSE_METRIC_MAX_PARAMS
    model = sm.Mixture(3, covariance="full")
    assert _chosen_metric(model, both, lower_limit=limits) == "diag_e"
    one = X.assign(x0=X["x0"].clip(lower=limits["x0"]))
    model = sm.Mixture(3, covariance="full")
    assert _chosen_metric(model, one, lower_limit={"x0": limits["x0"]}) == "dense_e"
    assert _chosen_metric(sm.Mixture(3, covariance="full"), _separated(3, 2)) == (
        "dense_e"
    )


def test_auto_is_diagonal_for_overlapping_components():
    # Means -1 and 1 with unit scales: at the MAP the average point is held
    # by its top component with probability about 0.8 (< 0.9).
    X = sm.datasets.two_components(100, seed=1).X
    assert _chosen_metric(sm.NormalMixture(2), X) == "diag_e"
    assert _chosen_metric(sm.NormalMixture(2), _separated(2, 1)) == "dense_e"


@pytest.mark.parametrize("init", ["kmeans", "pathfinder"])
def test_auto_is_diagonal_without_a_map(init):
    model = sm.DiagonalMixture(3)
    assert _chosen_metric(model, _separated(3, 2), init=init) == "diag_e"


def test_auto_is_diagonal_for_the_per_dimension_model():
    model = sm.DiagonalMixture(3, joint=False)
    assert _chosen_metric(model, _separated(3, 2)) == "diag_e"


@pytest.mark.parametrize("metric", ["dense_e", "diag_e"])
def test_metric_reaches_the_sampler(metric):
    X = sm.datasets.two_components(100, seed=1).X
    model = sm.NormalMixture(2, engine="stanli")
    model.fit(X, seed=3, warmup=200, draws=100, metric=metric, show_progress=False)
    assert model.metric_ == metric
    assert model.idata_.posterior.attrs["metric"] == metric
    n = 2 + 2 + 1
    shape = (n, n) if metric == "dense_e" else (n,)
    inv_metrics = model.engine_result_info_["inv_metric"]
    assert len(inv_metrics) == 4
    for inv in inv_metrics:
        inv = np.asarray(inv)
        assert inv.shape == shape
        # Adapted, not left at the identity the warmup starts from.
        assert not np.allclose(inv, np.eye(n) if metric == "dense_e" else np.ones(n))
    # A later fit without NUTS leaves no metric behind.
    model.fit(X, seed=3, method="optimize")
    assert model.metric_ is None


def test_auto_is_diagonal_when_a_component_is_nearly_all_censored():
    """At a 30% detection limit the lowest of five blobs lies almost wholly
    below the limit in y (the case of test_diag_mixture's censoring warning):
    its y mean and scale rest on the prior, a wedge a dense metric follows
    badly. At a 5% limit no blob is mostly censored and dense stays."""
    data = sm.datasets.blobs(1000, seed=1)
    metrics = {}
    for share in (0.3, 0.05):
        X, limits = sm.datasets.left_censor(data.X, share)
        model = sm.DiagonalMixture(5)
        metrics[share] = _chosen_metric(model, X, lower_limit=limits)
    assert metrics == {0.3: "diag_e", 0.05: "dense_e"}
