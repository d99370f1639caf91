"""Starting points: k-means clusterings, the anchor dimension, jittered inits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.vq import kmeans2


@dataclass(frozen=True)
class Clustering:
    """A hard clustering summarised as mixture parameters.

    ``means`` and ``scales`` are (K, D); ``weights`` (K,); ``labels`` (N,).
    """

    means: np.ndarray
    scales: np.ndarray
    weights: np.ndarray
    labels: np.ndarray
    inertia: float

    def sorted_by(self, dim: int) -> Clustering:
        """The same clustering with components ordered along ``dim``."""
        order = np.argsort(self.means[:, dim], kind="stable")
        relabel = np.empty_like(order)
        relabel[order] = np.arange(order.size)
        return Clustering(
            self.means[order],
            self.scales[order],
            self.weights[order],
            relabel[self.labels],
            self.inertia,
        )


def kmeans(points: np.ndarray, k: int, seed: int, n_init: int = 5) -> Clustering:
    """The best of ``n_init`` k-means++ runs, as mixture parameters.

    Empty or single-point clusters get the pooled spread as their scale, so
    every start is a valid point of the model.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.r_[np.zeros(20), np.full(20, 10.0)][:, None]
    >>> c = kmeans(x + np.random.default_rng(0).normal(0, 0.1, (40, 1)), 2, seed=1)
    >>> [round(float(m)) for m in np.sort(c.means[:, 0])]
    [0, 10]
    """
    rng = np.random.default_rng(seed)
    n, d = points.shape
    best = None
    for _ in range(n_init):
        centers, labels = kmeans2(points, k, minit="++", seed=rng)
        inertia = float(((points - centers[labels]) ** 2).sum())
        if best is None or inertia < best[2]:
            best = (centers, labels, inertia)
    centers, labels, inertia = best
    pooled = points.std(axis=0)
    pooled = np.where(pooled > 0, pooled, 1.0)
    scales = np.empty((k, d))
    counts = np.bincount(labels, minlength=k)
    for j in range(k):
        members = points[labels == j]
        if members.shape[0] >= 2:
            s = members.std(axis=0)
            scales[j] = np.where(s > 1e-3 * pooled, s, 0.1 * pooled)
        else:
            scales[j] = 0.5 * pooled
    weights = (counts + 1.0) / (n + k)
    return Clustering(centers, scales, weights, labels, inertia)


def choose_anchor(clustering: Clustering) -> int:
    """The dimension along which the cluster centres are best separated.

    Separation along a dimension is the smallest gap between consecutive
    sorted centres divided by the average within-cluster scale along it;
    ordering the means along the best-separated dimension identifies the
    components with the least overlap.
    """
    centers, scales = clustering.means, clustering.scales
    if centers.shape[0] == 1:
        return 0
    gaps = np.diff(np.sort(centers, axis=0), axis=0).min(axis=0)
    spread = scales.mean(axis=0)
    return int(np.argmax(gaps / spread))


def jitter(
    means: np.ndarray,
    scales: np.ndarray,
    weights: np.ndarray,
    rng: np.random.Generator,
    size: float = 0.05,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A small random perturbation of a mixture state (standardized units)."""
    m = means + size * rng.standard_normal(means.shape) * scales
    s = scales * np.exp(size * rng.standard_normal(scales.shape))
    w = weights * np.exp(size * rng.standard_normal(weights.shape))
    return m, s, w / w.sum()
