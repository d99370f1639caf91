"""The benchmark scenarios: data with known truth, in full and quick sizes.

(a) two components, univariate: 100 points from 0.5 N(-1, 1) + 0.5 N(1, 1)
(b) five 2-D blobs, N = 1000 (stanmix.datasets.blobs)
(c) N = 10,000, D = 5, K = 5 (``wide_blobs`` below)
(d) scenario (b) with each column left-censored at its 30% quantile
(e) Betancourt's "Identifying Bayesian Mixture Models": N = 1000,
    0.4 N(-2.75, 1) + 0.6 N(2.75, 1)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ORDER = ("a", "b", "c", "d", "e")

TITLES = {
    "a": "(a) 2 components, univariate, N = 100",
    "b": "(b) 5 blobs in 2-D, N = 1000",
    "c": "(c) K = 5, D = 5, N = 10,000",
    "d": "(d) (b) with 30% of cells left-censored",
    "e": "(e) Betancourt: 0.4 N(-2.75, 1) + 0.6 N(2.75, 1), N = 1000",
}

FULL_SIZES = {"a": 100, "b": 1000, "c": 10_000, "d": 1000, "e": 1000}
QUICK_SIZES = {"a": 100, "b": 200, "c": 500, "d": 200, "e": 200}

CENSORED_FRACTION = 0.30


@dataclass(frozen=True)
class Scenario:
    """One benchmark data set.

    ``X`` is what every tool is given (for censored data: the censored
    values, set to the limit as a lab reports them); ``lower_limit`` maps a
    column to its detection limit (empty when nothing is censored).
    """

    key: str
    title: str
    X: pd.DataFrame
    labels: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    n_components: int
    univariate: bool
    lower_limit: dict[str, float] = field(default_factory=dict)

    @property
    def censored(self) -> bool:
        return bool(self.lower_limit)

    @property
    def censored_mask(self) -> np.ndarray:
        """True for each censored cell (N, D)."""
        mask = np.zeros(self.X.shape, dtype=bool)
        for j, col in enumerate(self.X.columns):
            if col in self.lower_limit:
                mask[:, j] = self.X[col].to_numpy() <= self.lower_limit[col]
        return mask


def wide_blobs(n: int = 10_000, seed: int = 3):
    """Five clusters in five dimensions with unequal weights and scales.

    Centres are drawn once from N(0, 4^2) per coordinate (fixed seed 2024),
    scales from U(0.7, 1.3); weights 0.30, 0.25, 0.20, 0.15, 0.10.
    """
    from stanmix import datasets

    rng = np.random.default_rng(2024)
    means = rng.normal(0.0, 4.0, (5, 5))
    scales = rng.uniform(0.7, 1.3, (5, 5))
    weights = np.array([0.30, 0.25, 0.20, 0.15, 0.10])
    return datasets.mixture_sample(weights, means, scales, n, seed=seed)


def betancourt(n: int = 1000, seed: int = 5):
    """0.4 N(-2.75, 1) + 0.6 N(2.75, 1), the case in Betancourt (2017)."""
    from stanmix import datasets

    return datasets.mixture_sample(
        [0.4, 0.6], [[-2.75], [2.75]], [[1.0], [1.0]], n, seed=seed
    )


def build(key: str, quick: bool = False) -> Scenario:
    """The scenario ``key`` (one of a-e), full size or quick size."""
    from stanmix import datasets

    n = (QUICK_SIZES if quick else FULL_SIZES)[key]
    limits: dict[str, float] = {}
    if key == "a":
        data = datasets.two_components(n, seed=1)
    elif key == "b":
        data = datasets.blobs(n, seed=1)
    elif key == "c":
        data = wide_blobs(n)
    elif key == "d":
        data = datasets.blobs(n, seed=1)
        censored, limits = datasets.left_censor(data.X, CENSORED_FRACTION)
        data = datasets.Synthetic(
            censored, data.labels, data.weights, data.means, data.scales
        )
    elif key == "e":
        data = betancourt(n)
    else:
        raise ValueError(f"unknown scenario {key!r}; choose from {', '.join(ORDER)}")
    return Scenario(
        key=key,
        title=TITLES[key],
        X=data.X,
        labels=np.asarray(data.labels),
        weights=np.asarray(data.weights),
        means=np.asarray(data.means),
        scales=np.asarray(data.scales),
        n_components=int(np.asarray(data.weights).size),
        univariate=data.X.shape[1] == 1,
        lower_limit=limits,
    )
