"""Synthetic datasets with known truth, for examples, tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Five well-separated 2-D centres (a pentagon of radius 6), unit scales.
BLOB_CENTERS = 6.0 * np.column_stack(
    [np.cos(2 * np.pi * np.arange(5) / 5), np.sin(2 * np.pi * np.arange(5) / 5)]
)


@dataclass(frozen=True)
class Synthetic:
    """Data drawn from a known mixture.

    ``X`` holds the observations (a DataFrame; univariate data has one column
    ``y``), ``labels`` the true component of each row (-1 for outliers), and
    ``weights``, ``means`` (K, D), ``scales`` (K, D) the true parameters;
    ``covariances`` (K, D, D) the true covariance matrices.
    """

    X: pd.DataFrame
    labels: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    covariances: np.ndarray | None = None

    @property
    def correlations(self) -> np.ndarray:
        """True correlation matrices (K, D, D)."""
        cov = (
            self.covariances
            if self.covariances is not None
            else self.scales[:, :, None] ** 2 * np.eye(self.scales.shape[1])
        )
        sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        return cov / (sd[:, :, None] * sd[:, None, :])


def mixture_sample(
    weights, means, scales, n: int, seed: int, columns=None
) -> Synthetic:
    """``n`` draws from a diagonal normal mixture with the given parameters.

    Examples
    --------
    >>> data = mixture_sample([0.5, 0.5], [[-1.0], [1.0]], [[1.0], [1.0]], 10, seed=0)
    >>> data.X.shape, data.labels.shape
    ((10, 1), (10,))
    """
    weights = np.asarray(weights, dtype=float)
    means = np.asarray(means, dtype=float)
    scales = np.broadcast_to(np.asarray(scales, dtype=float), means.shape)
    rng = np.random.default_rng(seed)
    labels = rng.choice(weights.size, size=n, p=weights / weights.sum())
    values = means[labels] + scales[labels] * rng.standard_normal((n, means.shape[1]))
    if columns is None:
        columns = (
            ["y"] if means.shape[1] == 1 else [f"x{d}" for d in range(means.shape[1])]
        )
    return Synthetic(
        pd.DataFrame(values, columns=columns),
        labels,
        weights,
        means,
        scales.copy(),
        scales[:, :, None] ** 2 * np.eye(means.shape[1]),
    )


def two_components(n: int = 100, seed: int = 1) -> Synthetic:
    """The classic case: 0.5 N(-1, 1) + 0.5 N(1, 1)."""
    return mixture_sample([0.5, 0.5], [[-1.0], [1.0]], [[1.0], [1.0]], n, seed)


def blobs(n: int = 1000, seed: int = 1, scale: float = 1.0) -> Synthetic:
    """Five well-separated 2-D blobs with equal weights (columns ``x``, ``y``)."""
    return mixture_sample(
        np.full(5, 0.2), BLOB_CENTERS, scale, n, seed, columns=["x", "y"]
    )


def left_censor(
    X: pd.DataFrame, fraction: float
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Censor each column at its ``fraction`` quantile (a detection limit).

    Returns the censored copy (censored cells set to the limit, as a lab
    reports them) and the limits by column.
    """
    limits = {str(c): float(np.quantile(X[c], fraction)) for c in X.columns}
    out = X.copy()
    for col, limit in limits.items():
        out.loc[out[col] <= limit, col] = limit
    return out, limits


def gaussian_sample(weights, means, covariances, n: int, seed: int, columns=None):
    """``n`` draws from a normal mixture with full covariance matrices.

    Examples
    --------
    >>> data = gaussian_sample([1.0], [[0.0, 0.0]], [[[1.0, 0.5], [0.5, 1.0]]], 5, 0)
    >>> data.X.shape, data.correlations[0, 0, 1]
    ((5, 2), np.float64(0.5))
    """
    weights = np.asarray(weights, dtype=float)
    means = np.asarray(means, dtype=float)
    cov = np.asarray(covariances, dtype=float)
    rng = np.random.default_rng(seed)
    labels = rng.choice(weights.size, size=n, p=weights / weights.sum())
    chol = np.linalg.cholesky(cov)
    z = rng.standard_normal((n, means.shape[1]))
    values = means[labels] + np.einsum("nij,nj->ni", chol[labels], z)
    if columns is None:
        columns = [f"x{d}" for d in range(means.shape[1])]
    scales = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    return Synthetic(
        pd.DataFrame(values, columns=columns), labels, weights, means, scales, cov
    )


def correlated(n: int = 600, seed: int = 1, dims: int = 2) -> Synthetic:
    """Three equally weighted clusters with correlations of +0.8, -0.8 and
    +0.8 in different orientations (columns ``x``, ``y`` and, for
    ``dims=3``, ``z``): the case diagonal covariances get wrong.

    Examples
    --------
    >>> data = correlated(300, seed=1)
    >>> np.round(data.correlations[:, 0, 1], 1).tolist()
    [0.8, -0.8, 0.8]
    """
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims}")
    r = 0.8
    sd = np.array([[1.0, 1.0, 1.0], [1.2, 0.8, 1.0], [0.7, 1.4, 1.0]])
    corr = np.array(
        [
            [[1, r, 0.3], [r, 1, 0.3], [0.3, 0.3, 1]],
            [[1, -r, 0.0], [-r, 1, -0.4], [0.0, -0.4, 1]],
            [[1, r, -r], [r, 1, -0.5], [-r, -0.5, 1]],
        ]
    )
    means = np.array([[-3.0, 0.0, 0.0], [0.0, 3.0, 2.25], [3.0, -0.75, -2.25]])
    cov = sd[:, :, None] * corr * sd[:, None, :]
    d = dims
    return gaussian_sample(
        np.full(3, 1 / 3),
        means[:, :d],
        cov[:, :d, :d],
        n,
        seed,
        columns=["x", "y", "z"][:d],
    )


def with_outliers(n: int = 600, seed: int = 1, fraction: float = 0.05) -> Synthetic:
    """Three unit-scale 2-D clusters plus a ``fraction`` of points uniform
    over a box four times as wide as the clusters' span (label -1).

    Examples
    --------
    >>> data = with_outliers(200, seed=1)
    >>> int((data.labels == -1).sum())
    10
    """
    means = np.array([[-4.0, -2.0], [0.0, 3.0], [4.0, -1.0]])
    n_out = round(fraction * n)
    clean = mixture_sample(
        np.full(3, 1 / 3), means, 1.0, n - n_out, seed, columns=["x", "y"]
    )
    rng = np.random.default_rng(seed + 1)
    low, high = means.min(axis=0) - 3.0, means.max(axis=0) + 3.0
    centre, half = 0.5 * (low + high), 2.0 * (high - low)
    outliers = rng.uniform(centre - half, centre + half, (n_out, 2))
    X = pd.concat(
        [clean.X, pd.DataFrame(outliers, columns=["x", "y"])], ignore_index=True
    )
    labels = np.r_[clean.labels, np.full(n_out, -1)]
    return Synthetic(X, labels, clean.weights, means, clean.scales, clean.covariances)
