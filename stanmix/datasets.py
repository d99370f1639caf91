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
    ``y``), ``labels`` the true component of each row, and ``weights``,
    ``means`` (K, D), ``scales`` (K, D) the true parameters.
    """

    X: pd.DataFrame
    labels: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    scales: np.ndarray


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
        pd.DataFrame(values, columns=columns), labels, weights, means, scales.copy()
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
