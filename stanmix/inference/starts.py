"""Starting points: k-means clusterings, the anchor dimension, user values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from stanmix.cells import Standardization
from stanmix.exceptions import StanmixInputError
from stanmix.families.base import Family, Params


@dataclass(frozen=True, eq=False)
class Clustering:
    """A hard clustering summarised as mixture parameters (standardized units).

    ``means`` and ``scales`` are (K, D), ``corr`` (K, D, D) the within-cluster
    correlations, ``weights`` (K,).
    """

    means: np.ndarray
    scales: np.ndarray
    corr: np.ndarray
    weights: np.ndarray

    def affine(self, factor, shift) -> Clustering:
        """The clustering in units ``x * factor + shift`` (per column).

        >>> one = np.ones((1, 2))
        >>> c = Clustering(one, one, np.eye(2)[None], np.ones(1))
        >>> c.affine(np.array([2.0, 1.0]), np.array([0.0, 3.0])).means.tolist()
        [[2.0, 4.0]]
        """
        if np.all(np.equal(factor, 1.0)) and not np.any(shift):
            return self
        return Clustering(
            self.means * factor + shift,
            self.scales * np.abs(factor),
            self.corr,
            self.weights,
        )

    def start(self, family: Family) -> Params:
        """The family's parameters at this clustering."""
        if family.censoring == "latent":
            return family.start(self.means, self.scales, self.weights, self.corr)
        return family.start(self.means, self.scales, self.weights)


def _plus_plus(points: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: each new centre drawn with probability proportional
    to the squared distance to the nearest centre so far."""
    n = points.shape[0]
    centers = [points[rng.integers(n)]]
    d2 = ((points - centers[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        total = d2.sum()
        pick = rng.integers(n) if total <= 0 else rng.choice(n, p=d2 / total)
        centers.append(points[pick])
        d2 = np.minimum(d2, ((points - points[pick]) ** 2).sum(axis=1))
    return np.array(centers)


def _nearest_mask(distance: np.ndarray, n_keep: int) -> np.ndarray:
    """The ``n_keep`` smallest distances, ties at the cut taken by position
    (as a stable sort would), found by partition rather than a full sort.

    Examples
    --------
    >>> _nearest_mask(np.array([3.0, 1.0, 2.0, 1.0, 2.0]), 3).tolist()
    [False, True, True, True, False]
    """
    keep = np.zeros(distance.size, dtype=bool)
    if n_keep >= distance.size:
        keep[:] = True
        return keep
    cut = np.partition(distance, n_keep - 1)[n_keep - 1]
    below = distance < cut
    keep[below] = True
    ties = np.flatnonzero(distance == cut)[: n_keep - int(below.sum())]
    keep[ties] = True
    return keep


def _trimmed_lloyd(points, centers, n_keep: int, max_iter: int = 100):
    """Lloyd iterations where the points farthest from their centres (all but
    the ``n_keep`` nearest) do not move the centres. Returns the centres, the
    labels of every point, the kept mask and the kept points' inertia."""
    previous = None
    for _ in range(max_iter):
        d2 = ((points[:, None, :] - centers[None]) ** 2).sum(axis=2)
        labels = d2.argmin(axis=1)
        nearest = d2[np.arange(points.shape[0]), labels]
        keep = _nearest_mask(nearest, n_keep)
        if (
            previous is not None
            and np.array_equal(labels, previous[0])
            and (np.array_equal(keep, previous[1]))
        ):
            break  # the same members: the same centres again
        previous = labels, keep
        moved = centers.copy()
        for j in range(centers.shape[0]):
            members = keep & (labels == j)
            if members.any():
                moved[j] = points[members].mean(axis=0)
        if np.allclose(moved, centers, rtol=0, atol=1e-12):
            break
        centers = moved
    return centers, labels, keep, float(nearest[keep].sum())


#: Rows on which k-means' seedings compete (see :func:`kmeans`).
KMEANS_ROWS = 10_000


#: The share of points farthest from their centres that trimmed k-means
#: keeps from moving them.
KMEANS_TRIM = 0.05


def kmeans(
    points: np.ndarray,
    k: int,
    seed: int,
    n_init: int = 10,
    trim: float = KMEANS_TRIM,
    exact: np.ndarray | None = None,
) -> Clustering:
    """Trimmed k-means (best of ``n_init`` k-means++ seedings) as mixture
    parameters. With more than ``KMEANS_ROWS`` rows the seedings compete on
    a random subset of that many, and the winner is iterated on all rows.

    The ``trim`` share of points farthest from their centres does not move
    the centres, so a few outlying points cannot take a centre of their own
    (they are still assigned to their nearest centre); with ``trim=0`` this
    is plain k-means. Empty or single-point clusters get the pooled spread
    as their scale, so every start is a valid point of the model;
    correlations are shrunk halfway to zero, and to zero for clusters of
    fewer than D + 2 points.

    ``exact`` (N, D) marks the cells whose point is their value (observed);
    a censored cell's point is its limit and a missing cell's the column
    mean, which have no spread of their own. Where fewer than half of a
    cluster's cells in a column are exact (or fewer than two), its scale
    there is the column's pooled spread: a cluster piled at a detection
    limit would otherwise start with almost no spread, far from the values
    observed above the limit, and the optimizer from there can end in a
    poor mode.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.r_[np.zeros(20), np.full(20, 10.0), [60.0]][:, None]
    >>> c = kmeans(x + np.random.default_rng(0).normal(0, 0.1, (41, 1)), 2, seed=1)
    >>> [round(float(m)) for m in np.sort(c.means[:, 0])]
    [0, 10]
    """
    rng = np.random.default_rng(seed)
    n, d = points.shape

    def kept(rows: int) -> int:
        return max(k, int(np.ceil((1.0 - trim) * rows))) if rows > 2 * k else rows

    # Above KMEANS_ROWS rows the seedings compete on a random subset of
    # that many rows, and the best is then run to convergence on all rows.
    subset = (
        points[np.sort(rng.choice(n, KMEANS_ROWS, replace=False))]
        if n > KMEANS_ROWS
        else points
    )
    best = None
    for _ in range(n_init):
        found = _trimmed_lloyd(
            subset, _plus_plus(subset, k, rng), kept(subset.shape[0])
        )
        if best is None or found[3] < best[3]:
            best = found
    if subset is not points:
        best = _trimmed_lloyd(points, best[0], kept(n))
    centers, labels, keep, _ = best
    pooled = points.std(axis=0)
    pooled = np.where(pooled > 0, pooled, 1.0)
    scales = np.empty((k, d))
    corr = np.broadcast_to(np.eye(d), (k, d, d)).copy()
    counts = np.bincount(labels, minlength=k)
    for j in range(k):
        mine = (labels == j) & keep
        members = points[mine]
        if members.shape[0] >= 2:
            s = members.std(axis=0)
            scales[j] = np.where(s > 1e-3 * pooled, s, 0.1 * pooled)
        else:
            scales[j] = 0.5 * pooled
        if exact is not None and members.shape[0]:
            n_exact = exact[mine].sum(axis=0)
            unknown = (n_exact < 2) | (n_exact < 0.5 * members.shape[0])
            scales[j] = np.where(unknown, pooled, scales[j])
        if d > 1 and members.shape[0] >= d + 2:
            with np.errstate(invalid="ignore", divide="ignore"):  # a constant column
                r = np.corrcoef(members, rowvar=False)
            if np.all(np.isfinite(r)):
                corr[j] = 0.5 * r + 0.5 * np.eye(d)
    weights = (counts + 1.0) / (n + k)
    return Clustering(_untie(centers, pooled), scales, corr, weights)


def _untie(centers: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """The centres moved apart along each column where they are closer than
    a thousandth of its spread, so every column can start ordered means
    (strictly increasing). Centres share coordinates on data with few
    distinct values; elsewhere nothing moves.

    Examples
    --------
    >>> _untie(np.array([[1.0], [1.0], [0.0]]), np.array([2.0]))[:, 0].tolist()
    [1.0, 1.002, 0.0]
    """
    out = centers.copy()
    for j in range(out.shape[1]):
        order = np.argsort(out[:, j], kind="stable")
        column = out[order, j]
        for i in range(1, column.size):
            column[i] = max(column[i], column[i - 1] + 1e-3 * spread[j])
        out[order, j] = column
    return out


def separation(clustering: Clustering) -> np.ndarray:
    """Per dimension, the smallest gap between consecutive sorted centres
    divided by the average within-cluster scale along it (zeros for one
    cluster)."""
    centers, scales = clustering.means, clustering.scales
    if centers.shape[0] == 1:
        return np.zeros(centers.shape[1])
    gaps = np.diff(np.sort(centers, axis=0), axis=0).min(axis=0)
    return gaps / scales.mean(axis=0)


def choose_anchor(*clusterings: Clustering) -> int:
    """The dimension along which the cluster centres are best separated, in
    the clustering that separates them best (:func:`separation`): ordering
    the means along it identifies the components with the least overlap.

    Examples
    --------
    >>> one = np.ones((2, 2))
    >>> by_y = Clustering(np.array([[0.0, 0.0], [0.1, 1.0]]), one, None, one[0])
    >>> by_x = Clustering(np.array([[0.0, 0.0], [5.0, 0.1]]), one, None, one[0])
    >>> choose_anchor(by_y), choose_anchor(by_y, by_x)
    (1, 0)
    """
    scores = np.array([separation(c) for c in clusterings])
    return int(np.unravel_index(np.argmax(scores), scores.shape)[1])


def user_starts(
    family: Family,
    init,
    k: int,
    d: int,
    units: Standardization,
    chains: int | None,
    ordered_along: tuple[int, str] | None = None,
) -> list[Params]:
    """Parameter values given as ``init`` (data units), checked and standardized.

    One dict, or a list of them (one per chain when ``chains`` is given).
    ``ordered_along`` (position, name) is the anchor column of ordered
    means, along which the components' means must differ.
    """
    dicts = [init] if isinstance(init, Mapping) else list(init)
    if not dicts:
        raise StanmixInputError("init is an empty list; give at least one dict")
    if chains is not None and len(dicts) not in (1, chains):
        raise StanmixInputError(
            f"init has {len(dicts)} dicts for {chains} chains; give one dict "
            "or one per chain"
        )
    single = isinstance(init, Mapping)
    out = [
        family.to_standard_units(
            family.check_start(values, k, d, "init" if single else f"init[{i}]"),
            units,
        )
        for i, values in enumerate(dicts)
    ]
    if ordered_along is not None:
        j, name = ordered_along
        for i, values in enumerate(out):
            if "mu" in values and np.unique(values["mu"][:, j]).size < k:
                where = "init" if single else f"init[{i}]"
                raise StanmixInputError(
                    f"{where}: two components have the same mean along "
                    f"{name!r}, the column the means are ordered by; give them "
                    "different means there"
                )
    if chains is not None and len(out) == 1:
        out = out * chains
    return out
