"""The synthetic datasets refuse inconsistent parameters with a
StanmixInputError naming the arguments, and handle any column labels."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import stanmix as sm
from stanmix import datasets


def test_gate_coefs_without_gate_intercepts_default_to_zero_intercepts():
    """Only gate_coefs: the log-odds' intercepts are 0, not NaN (which sent
    every row to component 0)."""
    data = datasets.regressions(500, seed=1, gate_coefs=[[0.0], [2.0]])
    given = datasets.regressions(
        500, seed=1, gate_coefs=[[0.0], [2.0]], gate_intercepts=[0.0, 0.0]
    )
    np.testing.assert_array_equal(data.gate_intercepts, [0.0, 0.0])
    np.testing.assert_array_equal(data.labels, given.labels)
    counts = np.bincount(data.labels, minlength=2)
    assert counts.min() > 150, counts
    # The weights follow z: component 1 where z is large.
    z = data.X["z"].to_numpy()
    assert data.labels[z > 1].mean() > 0.8
    assert data.labels[z < -1].mean() < 0.2
    assert data.weights is None


def test_gate_intercepts_without_gate_coefs_are_refused():
    with pytest.raises(sm.StanmixInputError, match="gate_intercepts was given without"):
        datasets.regressions(50, gate_intercepts=[0.0, 0.5])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"weights": (0.3, 0.3, 0.4)},
            r"intercepts has 2, slopes has 2, scales has 2, weights has 3",
        ),
        ({"scales": (0.5,)}, r"scales has 1"),
        ({"intercepts": (1.0, 2.0, 3.0)}, r"intercepts has 3, slopes has 2"),
        (
            {"gate_coefs": [[0.0], [1.0]], "gate_intercepts": [0.0, 0.1, 0.2]},
            r"gate_coefs has 2, gate_intercepts has 3",
        ),
        ({"gate_coefs": [[0.0], [1.0], [2.0]]}, r"gate_coefs has 3"),
    ],
)
def test_regressions_refuse_disagreeing_lengths(kwargs, message):
    with pytest.raises(sm.StanmixInputError, match=message):
        datasets.regressions(50, **kwargs)


def test_regressions_keep_their_shapes():
    data = datasets.regressions(
        60,
        seed=2,
        intercepts=(0.0, 1.0, 2.0),
        slopes=(0.1, 0.5, 1.0),
        scales=(0.3, 0.3, 0.3),
        weights=(0.2, 0.3, 0.5),
    )
    assert data.slopes.shape == (3, 1)
    assert list(data.X.columns) == ["x"]
    two = datasets.regressions(60, slopes=((0.2, 0.5), (1.0, 0.0)))
    assert list(two.X.columns) == ["x1", "x2"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ([0.5, 0.3, 0.2], [[0, 0], [10, 10]], 1.0),
            r"weights has 3, means has 2\)",
        ),
        (
            ([0.5, 0.5], [[0, 0], [10, 10]], [[1, 1], [1, 1], [1, 1]]),
            r"weights has 2, means has 2, scales has 3",
        ),
        (
            ([0.5, 0.5], [[0, 0], [10, 10]], [1.0, 1.0, 1.0]),
            r"scales has shape \(3,\) but means has shape \(2, 2\)",
        ),
        (([0.5, 0.5], [0.0, 1.0], 1.0), r"means must be a \(K, D\) array"),
    ],
)
def test_mixture_sample_refuses_disagreeing_lengths(args, message):
    with pytest.raises(sm.StanmixInputError, match=message):
        datasets.mixture_sample(*args, 20, seed=0)


def test_mixture_sample_broadcasts_scales():
    data = datasets.mixture_sample([0.5, 0.5], [[0, 0], [9, 9]], [1.0, 2.0], 10, 0)
    np.testing.assert_array_equal(data.scales, [[1.0, 2.0], [1.0, 2.0]])


def test_left_censor_takes_integer_column_labels():
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(10, 2)))
    censored, limits = datasets.left_censor(X, 0.3)
    assert list(limits) == ["0", "1"]
    assert list(censored.columns) == [0, 1]
    for col in X.columns:
        limit = limits[str(col)]
        assert limit == np.quantile(X[col], 0.3)
        assert censored[col].min() == limit
        kept = X[col] > limit
        np.testing.assert_array_equal(censored[col][kept], X[col][kept])
    named, named_limits = datasets.left_censor(X.set_axis(["a", "b"], axis=1), 0.3)
    assert list(named_limits.values()) == list(limits.values())
    np.testing.assert_array_equal(named.to_numpy(), censored.to_numpy())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ([0.5, 0.5], [[0, 0], [3, 3]], np.stack([np.eye(2)] * 3)),
            r"weights has 2, means has 2, covariances has 3",
        ),
        (
            ([0.5, 0.5], [[0, 0], [3, 3]], np.stack([np.eye(3)] * 2)),
            r"covariances must be a \(K, D, D\) array.*D = 2.*shape \(2, 3, 3\)",
        ),
        (
            ([0.5, 0.5], [[0, 0], [3, 3]], [[1.0, 0.0], [0.0, 1.0]]),
            r"covariances must be a \(K, D, D\) array",
        ),
        (([1.0], [0.0, 1.0], [np.eye(2)]), r"means must be a \(K, D\) array"),
        (
            ([0.5, 0.5], [[0, 0], [3, 3]], [np.eye(2), [[1.0, 2.0], [2.0, 1.0]]]),
            r"covariances\[1\] is not symmetric positive definite",
        ),
        (
            ([0.5, 0.5], [[0, 0], [3, 3]], [np.eye(2), [[1.0, 0.5], [0.0, 1.0]]]),
            r"covariances\[1\] is not symmetric positive definite",
        ),
        (
            ([0.5, 0.5], [[0, 0], [3, 3]], [np.eye(2), [[np.nan, 0], [0, 1.0]]]),
            r"covariances\[1\] is not symmetric positive definite",
        ),
        (([0.5, -0.5], [[0, 0], [3, 3]], [np.eye(2)] * 2), r"non-negative"),
        (([0.0, 0.0], [[0, 0], [3, 3]], [np.eye(2)] * 2), r"not all zero"),
    ],
)
def test_gaussian_sample_refuses_inconsistent_parameters(args, message):
    with pytest.raises(sm.StanmixInputError, match=message):
        datasets.gaussian_sample(*args, 10, seed=0)


def test_samples_refuse_a_wrong_number_of_column_names():
    with pytest.raises(sm.StanmixInputError, match="columns has 3 names for 2"):
        datasets.gaussian_sample([1.0], [[0, 0]], [np.eye(2)], 5, 0, columns="abc")
    with pytest.raises(sm.StanmixInputError, match="columns has 1 names for 2"):
        datasets.mixture_sample([1.0], [[0, 0]], 1.0, 5, 0, columns=["a"])
    with pytest.raises(sm.StanmixInputError, match="weights must be finite"):
        datasets.mixture_sample([np.inf, 1.0], [[0], [1]], 1.0, 5, 0)


def test_gaussian_sample_draws_from_its_covariances():
    cov = np.array([[[1.0, 0.6], [0.6, 2.0]], [[0.5, -0.2], [-0.2, 0.5]]])
    data = datasets.gaussian_sample([0.3, 0.7], [[0, 0], [10, 10]], cov, 20000, 1)
    assert list(data.X.columns) == ["x0", "x1"]
    for k in (0, 1):
        rows = data.X.to_numpy()[data.labels == k]
        # sample covariance within 5 standard errors of the truth (n >= 5000)
        se = np.sqrt(
            (cov[k] ** 2 + np.outer(np.diag(cov[k]), np.diag(cov[k]))) / len(rows)
        )
        assert np.all(np.abs(np.cov(rows.T) - cov[k]) < 5 * se)
    assert abs(np.mean(data.labels == 0) - 0.3) < 5 * np.sqrt(0.21 / 20000)


# The outliers' box of with_outliers: the clusters' span (-7..7, -5..6)
# widened four times about its centre (0, 0.5).
OUTLIER_LOW = np.array([-28.0, -21.5])
OUTLIER_WIDTH = np.array([56.0, 44.0])
OUTLIER_MEANS = np.array([[-4.0, -2.0], [0.0, 3.0], [4.0, -1.0]])


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_with_outliers_outliers_use_no_seeds_data_generator(seed):
    """The outliers of one seed are not the first draws of the generator
    that draws another seed's clusters (seed + 1's, as they used to be)."""
    data = datasets.with_outliers(200, seed=seed)
    outliers = data.X.to_numpy()[data.labels == -1]
    assert outliers.shape == (10, 2)
    assert np.all(outliers >= OUTLIER_LOW)
    assert np.all(outliers <= OUTLIER_LOW + OUTLIER_WIDTH)
    uniforms = (outliers - OUTLIER_LOW) / OUTLIER_WIDTH
    for other in range(12):
        first = np.random.default_rng(other).random(uniforms.shape)
        assert not np.allclose(uniforms, first), other
        # nor the normal draws of that seed's clusters
        data_other = datasets.with_outliers(200, seed=other)
        clean = data_other.X.to_numpy()[data_other.labels >= 0]
        assert not np.isin(outliers, clean).any()


@pytest.mark.parametrize(("n", "fraction"), [(200, 0.05), (101, 0.1), (30, 0.5)])
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_with_outliers_keeps_the_clusters_of_each_seed(seed, n, fraction):
    """The clusters are the draws of default_rng(seed), as they always were."""
    data = datasets.with_outliers(n, seed=seed, fraction=fraction)
    m = n - round(fraction * n)
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=m, p=np.full(3, 1 / 3))
    values = OUTLIER_MEANS[labels] + rng.standard_normal((m, 2))
    np.testing.assert_array_equal(data.labels[:m], labels)
    np.testing.assert_array_equal(data.labels[m:], -1)
    np.testing.assert_array_equal(data.X.to_numpy()[:m], values)
    assert list(data.X.columns) == ["x", "y"]


def test_with_outliers_clusters_match_earlier_releases():
    one = datasets.with_outliers(200, seed=1)
    np.testing.assert_array_equal(
        one.X.to_numpy()[[0, 1, 2, 189]],
        [
            [-0.7796379162397445, 3.0869792485719043],
            [2.445268868004014, -0.8313695929894858],
            [-4.459071555712759, -0.7737293996837826],
            [-0.5309482177187937, 3.078404341946803],
        ],
    )
    assert one.labels[:5].tolist() == [1, 2, 0, 2, 0]
    three = datasets.with_outliers(200, seed=3)
    np.testing.assert_array_equal(
        three.X.to_numpy()[[0, 1, 189]],
        [
            [-4.587427686874012, -1.6202982530275527],
            [-4.0168042789208345, -0.38431823942355625],
            [2.962096137906175, 0.061283308689091154],
        ],
    )


def test_with_outliers_takes_seed_none():
    data = datasets.with_outliers(100, seed=None, fraction=0.1)
    assert data.X.shape == (100, 2)
    assert int((data.labels == -1).sum()) == 10
    assert np.all(np.isfinite(data.X.to_numpy()))
    other = datasets.with_outliers(100, seed=None, fraction=0.1)
    assert not np.array_equal(data.X.to_numpy(), other.X.to_numpy())


def test_samples_return_normalised_weights_and_the_same_draws():
    mix = datasets.mixture_sample([1, 3], [[0.0], [5.0]], 1.0, 50, seed=2)
    np.testing.assert_array_equal(mix.weights, [0.25, 0.75])
    same = datasets.mixture_sample([0.25, 0.75], [[0.0], [5.0]], 1.0, 50, seed=2)
    pd.testing.assert_frame_equal(mix.X, same.X)
    np.testing.assert_array_equal(
        datasets.mixture_sample([1, 1], [[0.0], [1.0]], 1.0, 5, 0).weights, [0.5, 0.5]
    )
    gauss = datasets.gaussian_sample([2, 6], [[0.0], [5.0]], [[[1.0]], [[1.0]]], 5, 0)
    np.testing.assert_array_equal(gauss.weights, [0.25, 0.75])
    reg = datasets.regressions(20, seed=1, weights=(1.0, 3.0))
    np.testing.assert_array_equal(reg.weights, [0.25, 0.75])
    reg_same = datasets.regressions(20, seed=1, weights=(0.25, 0.75))
    np.testing.assert_array_equal(reg.y, reg_same.y)


def _mixture(**kw):
    args = {"weights": [0.5, 0.5], "means": [[0.0], [3.0]], "scales": 1.0}
    args.update(kw)
    return datasets.mixture_sample(n=10, seed=0, **args)


def _gaussian(**kw):
    args = {"weights": [0.5, 0.5], "means": [[0.0], [3.0]]}
    args.update(kw)
    return datasets.gaussian_sample(
        covariances=[[[1.0]], [[1.0]]], n=10, seed=0, **args
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: _mixture(weights=[0.5, -0.5]), "weights must be finite, non-neg"),
        (lambda: _mixture(weights=[np.nan, 1.0]), "weights must be finite"),
        (lambda: _mixture(weights=[0.0, 0.0]), "not all zero"),
        (lambda: _gaussian(weights=[np.inf, 1.0]), "weights must be finite"),
        (lambda: datasets.regressions(10, weights=(1, -1)), "weights must be"),
        (lambda: datasets.regressions(10, weights=(0, 0)), "not all zero"),
        (lambda: _mixture(scales=-1.0), r"scales must be positive.*scales\[0, 0\]"),
        (lambda: _mixture(scales=0.0), "scales must be positive"),
        (lambda: _mixture(scales=[[1.0], [np.nan]]), r"scales\[1, 0\] is nan"),
        (lambda: _mixture(scales=np.inf), "scales must be positive and finite"),
        (lambda: _mixture(means=[[0.0], [np.nan]]), r"means must be finite.*\[1, 0\]"),
        (lambda: _mixture(means=[[0.0], [-np.inf]]), "means must be finite"),
        (lambda: _gaussian(means=[[0.0], [np.nan]]), "means must be finite"),
        (lambda: datasets.blobs(10, scale=0.0), "scale must be positive"),
        (lambda: datasets.blobs(10, scale=-2.0), "scale must be positive"),
        (lambda: datasets.blobs(10, scale=np.nan), "scale must be positive"),
        (lambda: datasets.blobs(10, scale=[1, 2, 3]), "scale has shape"),
        (lambda: datasets.regressions(10, scales=(0.5, 0.0)), r"scales\[1\] is 0"),
        (lambda: datasets.regressions(10, scales=(-0.5, 1)), "scales must be pos"),
        (lambda: datasets.regressions(10, scales=(np.inf, 1)), "scales must be pos"),
        (lambda: datasets.regressions(10, intercepts=(np.nan, 1)), "intercepts must"),
        (lambda: datasets.regressions(10, slopes=(np.inf, 1)), "slopes must be fin"),
    ],
)
def test_non_finite_or_non_positive_parameters_are_refused(call, message):
    with pytest.raises(sm.StanmixInputError, match=message):
        call()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gate_coefs": [[1.0], [2.0]]}, r"gate_coefs\[0\] \(component 0's\) must"),
        ({"gate_coefs": [0.5, 2.0]}, r"gate_coefs\[0\] \(component 0's\) must"),
        (
            {"gate_coefs": [[0.0], [2.0]], "gate_intercepts": [1.0, 0.0]},
            r"gate_intercepts\[0\] \(component 0's\) must be zero",
        ),
        ({"gate_coefs": [[0.0], [np.nan]]}, "gate_coefs must be finite"),
        (
            {"gate_coefs": [[0.0], [1.0]], "gate_intercepts": [0.0, np.nan]},
            "gate_intercepts must be finite",
        ),
        ({"gate_coefs": np.zeros((2, 1, 1))}, r"gate_coefs must be a \(K, Q\)"),
        ({"slopes": np.ones((2, 2, 2))}, r"slopes must be a \(K, P\).*\(2, 2, 2\)"),
        ({"x_range": (10, 0)}, r"x_range must be \(low, high\) with low below"),
        ({"x_range": (1.0, 1.0)}, r"x_range must be \(low, high\) with low below"),
        ({"x_range": (0,)}, r"x_range must be a pair"),
        ({"x_range": (0, 1, 2)}, r"x_range must be a pair"),
        ({"x_range": 5.0}, r"x_range must be a pair"),
        ({"x_range": (0, np.inf)}, r"x_range\[1\] must be finite"),
        ({"x_range": ("a", 1)}, r"x_range\[0\] must be a number"),
    ],
)
def test_regressions_refuse_bad_gates_slopes_and_ranges(kwargs, message):
    with pytest.raises(sm.StanmixInputError, match=message):
        datasets.regressions(20, seed=1, **kwargs)


def test_regressions_draw_their_predictors_on_x_range():
    data = datasets.regressions(200, seed=3, x_range=(-2, 3))
    x = data.X["x"].to_numpy()
    assert x.min() >= -2 and x.max() <= 3
    expected = np.random.default_rng(3).uniform(-2.0, 3.0, size=(200, 1))[:, 0]
    np.testing.assert_array_equal(x, expected)


def test_left_censor_fraction_zero_censors_nothing():
    X = pd.DataFrame(
        np.random.default_rng(4).normal(size=(30, 2)), columns=["a", "b"]
    ).astype({"b": "float32"})
    censored, limits = datasets.left_censor(X, 0.0)
    pd.testing.assert_frame_equal(censored, X)
    for col in X.columns:
        values = X[col].to_numpy()
        assert limits[col] < values.min()
        # below the minimum also at the column's precision
        assert not (values <= values.dtype.type(limits[col])).any()


def test_left_censor_censors_exactly_the_cells_at_or_below_the_limit():
    X = pd.DataFrame(np.random.default_rng(5).normal(size=(40, 2)))
    censored, limits = datasets.left_censor(X, 0.25)
    for col in X.columns:
        limit = limits[str(col)]
        assert limit == np.quantile(X[col].to_numpy(), 0.25)
        below = X[col].to_numpy() <= limit
        assert below.sum() == 10
        expected = np.where(below, limit, X[col].to_numpy())
        np.testing.assert_array_equal(censored[col].to_numpy(), expected)


def test_left_censor_takes_integer_columns():
    X = pd.DataFrame({"a": [3, 1, 2, 5], "b": [1.0, 2.0, 3.0, 4.0]})
    censored, limits = datasets.left_censor(X, 0.3)
    assert limits == {"a": 1.9, "b": 1.9}
    assert censored["a"].dtype == np.float64
    np.testing.assert_array_equal(censored["a"], [3.0, 1.9, 2.0, 5.0])
    assert X["a"].dtype == np.int64
    assert X["a"].tolist() == [3, 1, 2, 5]


def test_left_censor_leaves_missing_cells_missing():
    X = pd.DataFrame({"a": [4.0, np.nan, 1.0, 3.0, 2.0]})
    censored, limits = datasets.left_censor(X, 0.5)
    assert limits == {"a": 2.5}
    np.testing.assert_array_equal(censored["a"], [4.0, np.nan, 2.5, 3.0, 2.5])
    nullable = pd.DataFrame({"a": pd.array([4, None, 1, 3, 2], dtype="Int64")})
    censored, limits = datasets.left_censor(nullable, 0.5)
    assert limits == {"a": 2.5}
    np.testing.assert_array_equal(censored["a"], [4.0, np.nan, 2.5, 3.0, 2.5])


@pytest.mark.parametrize(
    ("X", "fraction", "message"),
    [
        (np.ones((4, 2)), 0.2, "X must be a pandas DataFrame, got ndarray"),
        (pd.Series([1.0, 2.0]), 0.2, "X must be a pandas DataFrame, got Series"),
        (pd.DataFrame({"a": [1.0, 2.0]}), 1.0, "fraction must be at least 0 and bel"),
        (pd.DataFrame({"a": [1.0, 2.0]}), 1.5, "fraction must be at least 0 and bel"),
        (pd.DataFrame({"a": [1.0, 2.0]}), -0.1, "fraction must be at least 0 and b"),
        (pd.DataFrame({"a": [1.0, 2.0]}), np.nan, "fraction must be finite"),
        (pd.DataFrame({"a": [1.0, 2.0]}), "0.1", "fraction must be a number"),
        (pd.DataFrame({"a": ["x", "y"]}), 0.2, "column 'a' of X holds"),
        (pd.DataFrame({"a": [True, False]}), 0.2, "column 'a' of X holds bool"),
        (pd.DataFrame({"a": [np.nan, np.nan]}), 0.2, "column 'a' of X has no values"),
        (pd.DataFrame({"a": [-np.inf, 1.0]}), 0.2, "column 'a' of X holds infinite"),
        (pd.DataFrame([[1.0, 2.0]], columns=[0, "0"]), 0.2, "repeats the column"),
    ],
)
def test_left_censor_refuses_bad_input(X, fraction, message):
    with pytest.raises(sm.StanmixInputError, match=message):
        datasets.left_censor(X, fraction)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: _mixture_n(-1), "n must be at least 0"),
        (lambda: _mixture_n(2.5), "n must be an integer"),
        (lambda: datasets.two_components(-1), "n must be at least 0"),
        (lambda: datasets.blobs(2.5), "n must be an integer"),
        (lambda: datasets.correlated(-5), "n must be at least 0"),
        (lambda: datasets.with_outliers(2.5), "n must be an integer"),
        (lambda: datasets.regressions(-1), "n must be at least 0"),
        (lambda: datasets.two_components(10, seed=-1), "seed must be at least 0"),
        (lambda: datasets.blobs(10, seed=1.5), "seed must be an integer"),
        (lambda: datasets.regressions(10, seed=-1), "seed must be at least 0"),
        (lambda: datasets.with_outliers(10, seed=-1), "seed must be at least 0"),
        (lambda: datasets.correlated(10, seed="1"), "seed must be an integer"),
        (lambda: datasets.with_outliers(fraction=1.5), "fraction must be between"),
        (lambda: datasets.with_outliers(fraction=-0.1), "fraction must be between"),
        (lambda: datasets.with_outliers(fraction=np.nan), "fraction must be finite"),
        (lambda: datasets.correlated(dims=4), "dims must be 2 or 3"),
        (lambda: datasets.correlated(dims=2.0), "dims must be an integer"),
    ],
)
def test_counts_seeds_and_options_are_checked(call, message):
    with pytest.raises(sm.StanmixInputError, match=message):
        call()


def _mixture_n(n):
    return datasets.mixture_sample([1.0], [[0.0]], 1.0, n, seed=0)


def test_returned_truth_shares_no_memory_with_the_arguments():
    weights = np.array([0.5, 0.5])
    means = np.array([[0.0, 1.0], [5.0, 6.0]])
    scales = np.array([[1.0, 2.0], [1.0, 2.0]])
    covariances = np.stack([np.eye(2), 2.0 * np.eye(2)])
    mix = datasets.mixture_sample(weights, means, scales, 10, seed=0)
    gauss = datasets.gaussian_sample(weights, means, covariances, 10, seed=0)
    for data in (mix, gauss):
        for field in ("weights", "means", "scales", "covariances"):
            for given in (weights, means, scales, covariances):
                assert not np.shares_memory(getattr(data, field), given), field
    means[0, 0] = 100.0
    weights[0] = 0.0
    covariances[0, 0, 0] = 9.0
    assert mix.means[0, 0] == 0.0 and gauss.means[0, 0] == 0.0
    assert mix.weights[0] == 0.5 and gauss.weights[0] == 0.5
    assert gauss.covariances[0, 0, 0] == 1.0

    args = {
        "intercepts": np.array([0.0, 1.0]),
        "slopes": np.array([[0.5], [1.5]]),
        "scales": np.array([0.5, 0.6]),
        "gate_intercepts": np.array([0.0, 0.3]),
        "gate_coefs": np.array([[0.0], [1.0]]),
    }
    reg = datasets.regressions(10, seed=0, **args)
    for name, given in args.items():
        assert not np.shares_memory(getattr(reg, name), given), name
        given[...] = 7.0
        assert not np.any(getattr(reg, name) == 7.0), name
    weights = np.array([0.5, 0.5])
    plain = datasets.regressions(10, seed=0, weights=weights)
    assert not np.shares_memory(plain.weights, weights)


def test_univariate_column_names_are_documented_as_they_are():
    assert list(datasets.mixture_sample([1.0], [[0.0]], 1.0, 3, 0).X.columns) == ["y"]
    gauss = datasets.gaussian_sample([1.0], [[0.0]], [[[1.0]]], 3, 0)
    assert list(gauss.X.columns) == ["x0"]
    doc = " ".join(datasets.Synthetic.__doc__.split())
    assert "gaussian_sample` names its columns ``x0``" in doc
