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
