"""Where fits start, and data that leave continuous components no good start:
interval cells with wide bounds, and columns that repeat a few values."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import stanmix as sm
from stanmix.cells import CellTable
from stanmix.inference.starts import kmeans

pytest.importorskip("stanli")


def _two_clusters(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    half = n // 2
    return pd.DataFrame(
        {
            "x": np.r_[rng.normal(0, 1, half), rng.normal(6, 1, half)],
            "y": np.r_[rng.normal(0, 1, half), rng.normal(4, 1, half)],
        }
    )


def test_interval_cells_start_within_the_observed_range():
    from stanmix.cells import INTERVAL, OBSERVED

    nan = np.nan
    table = CellTable(
        values=np.array([[1.0], [3.0], [5.0], [nan], [nan], [nan]]),
        kind=np.array([[OBSERVED]] * 3 + [[INTERVAL]] * 3, dtype=np.int8),
        lower=np.array([[nan], [nan], [nan], [-50.0], [2.0], [9.0]]),
        upper=np.array([[nan], [nan], [nan], [2.0], [4.0], [np.inf]]),
        columns=("x",),
    ).validate()
    # (-50, 2) meets the observed range [1, 5] in [1, 2]; (2, 4) lies
    # within it; (9, inf) lies above it, so its nearer bound, 9.
    np.testing.assert_allclose(table.point_values()[:, 0], [1, 3, 5, 1.5, 3, 9])


def test_a_wide_interval_bound_finds_the_mode_a_detection_limit_finds():
    X = _two_clusters()
    limit = float(np.quantile(X["x"], 0.3))
    X["x"] = X["x"].clip(lower=limit)
    at_limit = (X["x"] == limit).to_numpy()
    lo = np.where(at_limit, -50.0, np.nan)
    hi = np.where(at_limit, limit, np.nan)
    bounds = (np.c_[lo, np.full(len(X), np.nan)], np.c_[hi, np.full(len(X), np.nan)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # mostly-censored note
        by_limit = sm.Mixture(2, engine="stanli").fit(
            X, method="optimize", seed=1, lower_limit={"x": limit}
        )
        by_interval = sm.Mixture(2, engine="stanli").fit(
            X, method="optimize", seed=1, interval=bounds
        )
    # The interval (-50, limit) is the detection limit up to the mass of a
    # normal below -50: the same mode.
    np.testing.assert_allclose(by_interval.means_, by_limit.means_, atol=0.01)
    assert by_limit.means_[0, 0] > -1.0


def _scores(n: int = 150, seed: int = 0) -> pd.DataFrame:
    """Two columns of scores 1, 2 or 3: nine distinct rows."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "score": rng.integers(1, 4, n).astype(float),
            "grade": rng.integers(1, 4, n).astype(float),
        }
    )


def test_more_components_than_distinct_rows_are_refused_naming_the_columns():
    with pytest.raises(
        sm.StanmixInputError,
        match=r"n_components=10 is larger than the number of distinct rows \(9 of "
        r"150\).*'score' \(3 values in 150 rows\)",
    ):
        sm.Mixture(10, engine="stanli").fit(_scores(), method="optimize", seed=1)
    with pytest.raises(
        sm.StanmixInputError, match=r"goes up to 10 but the data has 9 distinct rows"
    ):
        sm.select_components(_scores(), [2, 10], method="optimize", seed=1)


def test_k_means_centres_on_tied_data_start_strictly_ordered_means():
    points = _scores().to_numpy()
    points = (points - points.mean(axis=0)) / points.std(axis=0)
    centres = kmeans(points, 9, seed=1).means
    for column in centres.T:
        assert np.all(np.diff(np.sort(column)) > 0)
    # nine distinct rows, nine centres on them (to a thousandth of an sd)
    distinct = np.unique(points, axis=0)
    nearest = np.abs(centres[:, None, :] - distinct[None]).max(axis=2).min(axis=1)
    assert nearest.max() < 0.01


def test_a_failed_mode_on_repeated_values_says_why():
    X = _scores(90)
    # every start of this seed runs a component onto one value (seed 1's
    # starts found a mode before they were derived with SeedSequence)
    with pytest.raises(RuntimeError, match="every optimizer start failed") as info:
        sm.Mixture(2, engine="stanli").fit(X, method="optimize", seed=2)
    assert "'score' (3 values in 90 rows)" in str(info.value)
    assert "scale near zero" in str(info.value)


def test_a_failed_mode_on_a_value_standing_for_a_limit_says_how_to_censor():
    """A detection limit recorded as the limit's value, fitted without
    censoring: the failure names the column, the value and the censoring."""
    rng = np.random.default_rng(1)
    X = pd.DataFrame(
        {
            "x": np.r_[rng.normal(0, 1, 150), rng.normal(4, 1, 150)],
            "y": np.maximum(np.r_[rng.normal(0, 1, 150), rng.normal(3, 1, 150)], 0.8),
        }
    )
    kept = X.copy()
    with pytest.raises(RuntimeError, match="every optimizer start failed") as info:
        sm.DiagonalMixture(2, engine="stanli").fit(X, method="optimize", seed=1)
    assert (
        "Column 'y' has 119 of its 300 observed values at 0.8, its lowest: if 0.8 "
        "stands for values below a detection limit, pass lower_limit={'y': 0.8}"
    ) in str(info.value)
    assert "'x'" not in str(info.value)
    pd.testing.assert_frame_equal(X, kept)
    # The hint's advice works: censored at 0.8, the same data have a mode.
    model = sm.DiagonalMixture(2, engine="stanli").fit(
        X, lower_limit={"y": 0.8}, method="optimize", seed=1
    )
    assert np.abs(np.sort(model.means_[:, 0]) - [0, 4]).max() < 0.5


def test_components_collapsed_onto_one_value_are_warned_of():
    X = _scores(90)[["score"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sm.ConvergenceWarning)
        with pytest.warns(RuntimeWarning, match="collapsed to a scale near zero") as w:
            model = sm.Mixture(2, engine="stanli").fit(
                X, chains=2, warmup=100, draws=100, seed=1
            )
    message = next(str(r.message) for r in w if "collapsed" in str(r.message))
    small = np.flatnonzero(model.scales_.ravel() < 1e-3 * X["score"].std(ddof=0))
    assert small.size
    which = ", ".join(map(str, small))
    plural = "s" * (small.size > 1)
    assert f"column 'score': component{plural} {which} (scale" in message


def test_collapse_warning_names_a_few_columns_and_counts_the_rest():
    from stanmix.censoring import cell_table

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.integers(0, 3, size=(60, 20)), dtype=float)
    X.columns = [f"c{j}" for j in range(20)]
    model = sm.Mixture(2, engine="stanli")
    model.cells_, _ = cell_table(X)
    model.weights_ = np.array([0.5, 0.5])
    model.scales_ = np.full((2, 20), 1e-6)
    with pytest.warns(RuntimeWarning, match="collapsed to a scale near zero") as w:
        model._warn_collapsed()
    message = str(w[0].message)
    assert "column 'c4': components 0, 1 (scale down to 1e-06)" in message
    assert "'c5'" not in message.split(". Column(s)")[0]
    assert "and 15 more columns. Column(s) 'c0' (3 values in 60 rows)" in message
    assert "and 15 more repeat a few values" in message


def test_measurements_give_no_tie_warning():
    X = _two_clusters()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", sm.ConvergenceWarning)
        sm.Mixture(2, engine="stanli").fit(X, chains=2, warmup=100, draws=100, seed=1)


def test_k_means_scale_of_a_cluster_piled_at_a_limit_is_the_pooled_spread():
    """A cluster whose cells in a column are censored (their points all at
    the limit) has no spread of its own there: its scale starts at the
    column's pooled spread, not at a sliver of it."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(-3, 1, 50), rng.normal(3, 1, 50)]
    y = np.r_[np.full(50, -1.0), rng.normal(1, 1, 50)]
    points = np.c_[x, y]
    exact = np.c_[np.ones(100, bool), np.r_[np.zeros(50, bool), np.ones(50, bool)]]
    plain = kmeans(points, 2, seed=1)
    told = kmeans(points, 2, seed=1, exact=exact)
    piled = int(np.argmin(told.means[:, 0]))
    np.testing.assert_allclose(told.means, plain.means)
    assert plain.scales[piled, 1] <= 0.1 * points[:, 1].std() + 1e-12
    assert told.scales[piled, 1] == pytest.approx(points[:, 1].std())
    np.testing.assert_allclose(told.scales[1 - piled], plain.scales[1 - piled])
    np.testing.assert_allclose(told.scales[:, 0], plain.scales[:, 0])


def _two_blobs(seed: int, second: list[float]) -> np.ndarray:
    """200 rows, each from N((0, 0), I) or N(second, I) by a fair coin."""
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 2, 200)
    return np.where(
        z[:, None] == 0,
        rng.normal([0, 0], 1, (200, 2)),
        rng.normal(second, 1, (200, 2)),
    )


@pytest.mark.parametrize("covariance", ["diag", "tied", "full"])
def test_a_column_nearly_all_at_its_limit_does_not_mislead_the_starts(covariance):
    """97% of column b at its detection limit; column a splits the two
    clusters by five SDs. Every default start reaches the mode a start at
    the truth reaches (k-means' starting scales in b were a sliver of the
    column's, and every start ended 30-70 lower in log density)."""
    X = _two_blobs(seed=5, second=[5, 2])
    data = pd.DataFrame(X, columns=["a", "b"])
    limit = float(np.quantile(X[:, 1], 0.97))
    data["b"] = data["b"].clip(lower=limit)
    fit = {"method": "optimize", "seed": 1, "lower_limit": {"b": limit}}
    truth = {"w": [0.5, 0.5], "mu": [[0.0, 0.0], [5.0, 2.0]], "sigma": [[1, 1], [1, 1]]}
    if covariance == "tied":
        truth = {**truth, "sigma": [1.0, 1.0], "corr": np.eye(2)}
    elif covariance == "full":
        truth = {**truth, "corr": [np.eye(2), np.eye(2)]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        default = sm.Mixture(2, covariance=covariance, engine="stanli").fit(data, **fit)
        best = sm.Mixture(2, covariance=covariance, engine="stanli").fit(
            data, init=truth, **fit
        )
    np.testing.assert_allclose(default.optimize_lps_, best.optimize_lps_[0], atol=1e-3)
    assert sorted(default.weights_) == pytest.approx([0.5, 0.5], abs=0.05)


@pytest.mark.parametrize("ratio", [1e6, 1e8])
def test_spherical_starts_hold_columns_of_very_different_scales(ratio):
    """One scale for every column starts at the columns' root mean square
    spread: with a geometric mean it started far below the wide column's,
    and the optimizer ended in a poor mode (1e6) or failed (1e8). The model
    is the same at these ratios (the narrow column's spread is negligible),
    and so is its mode's log density."""
    X = _two_blobs(seed=7, second=[5, 3])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = [
            sm.Mixture(2, covariance="spherical", engine="stanli").fit(
                pd.DataFrame(X * [1, r]), method="optimize", seed=1
            )
            for r in (1e4, ratio)  # 1e4 found its mode before too
        ]
    assert fits[1].optimize_lps_.max() == pytest.approx(
        fits[0].optimize_lps_.max(), abs=1e-3
    )
    assert sorted(fits[1].weights_) == pytest.approx([0.484, 0.516], abs=0.01)


def test_kmeans_seeds_on_a_subset_of_many_rows_and_finishes_on_all(monkeypatch):
    """Above KMEANS_ROWS rows the ten seedings run on that many rows and the
    winner once on every row: the same clusters, at a fraction of the cost
    (80,000 rows: 24.6 s -> 2.4 s for four starts)."""
    from stanmix.inference import starts

    monkeypatch.setattr(starts, "KMEANS_ROWS", 500)
    sizes = []
    original = starts._trimmed_lloyd

    def counted(points, centers, n_keep, **kwargs):
        sizes.append(points.shape[0])
        return original(points, centers, n_keep, **kwargs)

    monkeypatch.setattr(starts, "_trimmed_lloyd", counted)
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 3000)
    X = np.array([[-6.0, 0.0], [0.0, 6.0], [6.0, 0.0]])[truth] + rng.normal(
        size=(3000, 2)
    )
    found = starts.kmeans(X, 3, seed=1)
    assert sizes == [500] * 10 + [3000]
    labels = ((X[:, None] - found.means[None]) ** 2).sum(axis=2).argmin(axis=1)
    # each true cluster is one found cluster, up to relabelling
    assert all(np.unique(labels[truth == j]).size == 1 for j in range(3))
    assert np.unique(labels).size == 3


def test_tied_covariance_init_takes_one_scale_per_column():
    """Tied components share one scale per column: K per-component scales
    (which crashed in a reshape, or with K a multiple of D were read as
    rows of column scales) and K rows that differ (of which the first was
    kept without a word) are refused before any Stan call; D values reach
    the sampler in the fit's units."""
    from conftest import RecordingEngine, Stop

    rng = np.random.default_rng(2)
    X = np.r_[
        rng.normal([0.0, 0.0], 1.0, (30, 2)),
        rng.normal([6.0, 3.0], 1.0, (30, 2)),
        rng.normal([12.0, 0.0], 1.0, (30, 2)),
    ]
    given = {"w": [0.3, 0.3, 0.4], "mu": [[0.0, 0.0], [6.0, 3.0], [12.0, 0.0]]}
    refused = {
        "per component": ([1.0, 2.0, 3.0], "one scale per column"),
        "rows that differ": ([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0]], "rows differ"),
    }
    for sigma, match in refused.values():
        engine = RecordingEngine(stop=("optimize", "sample"))
        model = sm.Mixture(3, covariance="tied", engine=engine)
        with pytest.raises(sm.StanmixInputError, match=match):
            model.fit(X, seed=1, chains=2, draws=10, init={**given, "sigma": sigma})
        assert engine.calls == {}
    engine = RecordingEngine(stop=("sample",))
    model = sm.Mixture(3, covariance="tied", engine=engine)
    with pytest.raises(Stop):
        model.fit(X, seed=1, chains=2, draws=10, init={**given, "sigma": [1.0, 2.0]})
    for start in engine.calls["sample"]["inits"]:
        np.testing.assert_allclose(start["sigma"], [[1.0, 2.0] / X.std(axis=0)])
