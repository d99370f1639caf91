"""The statistics of simulation-based calibration, free of any model.

Simulation-based calibration (Talts, Betancourt, Simpson, Vehtari & Gelman
2018, "Validating Bayesian inference algorithms with simulation-based
calibration", arXiv:1804.06788): draw parameters from the prior, data from
the model, fit, and count how many of ``L`` (roughly independent) posterior
draws fall below the true value. If the fit is the exact posterior, that
rank is uniform on ``0 .. L`` whatever the prior and the data size.

This module holds the pure pieces: ranks, thinning, the chi-square test on
binned ranks, the ECDF-difference test with a simultaneous band calibrated
by simulation (the graphical test of Säilynoja, Bürkner & Vehtari 2022,
"Graphical test for discrete uniformity and its applications in goodness-of-
fit evaluation and multiple sample comparison", Statistics and Computing
32:32), Holm's correction, coverage from ranks with binomial bands, and the
binning of a reliability diagram.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = [
    "EcdfBand",
    "ReliabilityBins",
    "binomial_band",
    "central_interval_hits",
    "chi_square_uniform",
    "detection_rate",
    "distorted_min_pvalues",
    "ecdf_band",
    "ecdf_counts",
    "ecdf_test",
    "holm",
    "match_labels",
    "pointwise_pvalues",
    "rank_bins",
    "ranks",
    "reliability_bins",
    "thin_indices",
]


def ranks(truth: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Rank of each true value among posterior draws.

    Parameters
    ----------
    truth : ndarray, shape (P,)
        The true value of each of P scalar parameters.
    draws : ndarray, shape (L, P)
        L posterior draws of the same parameters.

    Returns
    -------
    ndarray of int, shape (P,)
        The number of draws strictly below the truth, in ``0 .. L``. Ties
        (probability zero for continuous parameters) count as below for half
        of them, rounded down.

    Examples
    --------
    >>> ranks(np.array([0.5, 10.0]), np.array([[0.0, 1.0], [1.0, 2.0], [0.2, 3.0]]))
    array([2, 3])
    """
    truth = np.asarray(truth, dtype=float)
    draws = np.asarray(draws, dtype=float)
    if draws.ndim != 2 or draws.shape[1] != truth.size:
        raise ValueError(
            f"draws must be (L, {truth.size}) for {truth.size} parameters, got "
            f"shape {draws.shape}"
        )
    below = (draws < truth).sum(axis=0)
    ties = (draws == truth).sum(axis=0)
    return (below + ties // 2).astype(int)


def match_labels(membership: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The relabelling of one parameter point that Stephens' algorithm gives
    a draw: the permutation of its components whose membership
    probabilities are closest (Kullback-Leibler) to the reference ones.

    Applied to the true parameters with the reference of a relabelled
    posterior (its mean membership probabilities), it labels the truth by
    the same rule as every draw, so ranks stay well defined.

    Parameters
    ----------
    membership : ndarray, shape (N, K)
        P(z_n = k | y, theta) of the point to relabel.
    reference : ndarray, shape (N, K)
        The reference probabilities q[n, j].

    Returns
    -------
    ndarray of int, shape (K,)
        ``perm[j]`` is the point's component that becomes component j.

    Examples
    --------
    >>> q = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> match_labels(q[:, ::-1], q).tolist()
    [1, 0]
    """
    p = np.clip(np.asarray(membership, dtype=float), 1e-300, None)
    logq = np.log(np.clip(np.asarray(reference, dtype=float), 1e-300, None))
    k = p.shape[1]
    # cost[l, j]: the point's component l labelled j.
    cost = -(p.T @ logq)
    best, best_cost = None, np.inf
    for perm in itertools.permutations(range(k)):
        total = cost[list(perm), range(k)].sum()
        if total < best_cost:
            best, best_cost = perm, total
    return np.array(best, dtype=int)


def thin_indices(n_draws: int, n_keep: int) -> np.ndarray:
    """``n_keep`` indices spread evenly over ``0 .. n_draws - 1``.

    Examples
    --------
    >>> thin_indices(10, 4).tolist()
    [0, 3, 6, 9]
    """
    if not 1 <= n_keep <= n_draws:
        raise ValueError(f"cannot keep {n_keep} of {n_draws} draws")
    return np.linspace(0, n_draws - 1, n_keep).round().astype(int)


def rank_bins(n_ranks: int, n_bins: int) -> list[np.ndarray]:
    """The rank values 0 .. n_ranks - 1 split into ``n_bins`` contiguous bins
    of (nearly) equal size.

    Examples
    --------
    >>> [b.tolist() for b in rank_bins(5, 2)]
    [[0, 1, 2], [3, 4]]
    """
    if not 1 <= n_bins <= n_ranks:
        raise ValueError(f"need 1 <= n_bins <= {n_ranks}, got {n_bins}")
    return np.array_split(np.arange(n_ranks), n_bins)


def chi_square_uniform(
    rank_values: np.ndarray, n_ranks: int, n_bins: int = 20
) -> tuple[float, int, float]:
    """Pearson's chi-square test of uniform ranks on binned counts.

    Parameters
    ----------
    rank_values : ndarray of int
        Ranks in ``0 .. n_ranks - 1`` (one per replication).
    n_ranks : int
        Number of possible rank values (L + 1 for L draws).
    n_bins : int
        Contiguous bins of nearly equal width; the expected count of each is
        proportional to the number of rank values it holds.

    Returns
    -------
    (statistic, degrees of freedom, p-value)

    Examples
    --------
    >>> r = np.repeat(np.arange(100), 3)        # perfectly flat
    >>> chi_square_uniform(r, 100, 20)[2]
    1.0
    """
    r = np.asarray(rank_values, dtype=int)
    if r.size == 0:
        return float("nan"), n_bins - 1, float("nan")
    if r.min() < 0 or r.max() >= n_ranks:
        raise ValueError(f"ranks must lie in 0 .. {n_ranks - 1}")
    bins = rank_bins(n_ranks, n_bins)
    counts = np.bincount(r, minlength=n_ranks)
    observed = np.array([counts[b].sum() for b in bins], dtype=float)
    expected = r.size * np.array([b.size for b in bins], dtype=float) / n_ranks
    statistic = float(((observed - expected) ** 2 / expected).sum())
    df = n_bins - 1
    return statistic, df, float(stats.chi2.sf(statistic, df))


def ecdf_counts(rank_values: np.ndarray, n_ranks: int) -> np.ndarray:
    """Counts of ranks below each evaluation point j = 1 .. n_ranks - 1.

    Under uniformity the count at point j is Binomial(n, j / n_ranks); the
    ECDF at z_j = j / n_ranks is the count divided by n.

    Returns
    -------
    ndarray of int, shape (..., n_ranks - 1)
        For a 2-D input (samples x replications), one row per sample.
    """
    r = np.asarray(rank_values, dtype=int)
    if r.ndim == 1:
        return np.cumsum(np.bincount(r, minlength=n_ranks))[:-1]
    counts = np.zeros((r.shape[0], n_ranks), dtype=int)
    rows = np.repeat(np.arange(r.shape[0]), r.shape[1])
    np.add.at(counts, (rows, r.reshape(-1)), 1)
    return np.cumsum(counts, axis=1)[:, :-1]


def pointwise_pvalues(counts: np.ndarray, n: int, z: np.ndarray) -> np.ndarray:
    """Two-sided binomial tail probability of each ECDF count.

    ``min(1, 2 min(P(X <= c), P(X >= c)))`` with X ~ Binomial(n, z).
    """
    counts = np.asarray(counts)
    lower = stats.binom.cdf(counts, n, z)
    upper = stats.binom.sf(counts - 1, n, z)
    return np.minimum(1.0, 2.0 * np.minimum(lower, upper))


@dataclass(frozen=True)
class EcdfBand:
    """A simultaneous band for the ECDF of ``n`` uniform ranks on
    ``0 .. n_ranks - 1``.

    Attributes
    ----------
    n, n_ranks : int
        Replications and possible rank values.
    alpha : float
        The band holds the whole ECDF of uniform ranks with probability
        at least 1 - alpha (estimated by simulation).
    gamma : float
        The pointwise level: a count is inside the band when its two-sided
        binomial tail probability exceeds gamma.
    z : ndarray, shape (n_ranks - 1,)
        Evaluation points j / n_ranks.
    lower, upper : ndarray of int
        The band as counts: inside means lower <= count <= upper.
    null_min_p : ndarray
        The smallest pointwise p-value of each simulated uniform sample,
        sorted (the null distribution of the test statistic).
    """

    n: int
    n_ranks: int
    alpha: float
    gamma: float
    z: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    null_min_p: np.ndarray


def ecdf_band(
    n: int,
    n_ranks: int,
    alpha: float = 0.01,
    n_sim: int = 200_000,
    seed: int = 0,
) -> EcdfBand:
    """Simultaneous 1 - alpha band for the ECDF of ``n`` discrete uniform ranks.

    The test statistic of a sample is the smallest two-sided binomial
    p-value of its ECDF over the evaluation points z_j = j / n_ranks
    (j = 1 .. n_ranks - 1). Its null distribution is simulated from
    ``n_sim`` samples of ``n`` uniform ranks; gamma is the largest
    simulated value whose null probability P(min p <= gamma) is at most
    alpha, and the band at z_j is every count whose pointwise p-value
    exceeds gamma. An ECDF leaves the band somewhere exactly when its
    statistic is at most gamma, so the band and the test agree. This is
    the simulation form of the adjustment of Säilynoja, Bürkner & Vehtari
    (2022); their optimisation form gives the same gamma up to Monte Carlo
    error.

    Examples
    --------
    >>> band = ecdf_band(200, 100, alpha=0.01, n_sim=2000, seed=1)
    >>> bool(band.gamma < 0.01 / 2)          # much stricter than pointwise
    True
    """
    if n < 1 or n_ranks < 2:
        raise ValueError("need n >= 1 and n_ranks >= 2")
    rng = np.random.default_rng(seed)
    z = np.arange(1, n_ranks) / n_ranks
    support = np.arange(n + 1)
    # Pointwise p-value of every possible count at every point, (n + 1, J).
    table = pointwise_pvalues(support[:, None], n, z[None, :])
    null = np.empty(n_sim)
    chunk = max(1, 2_000_000 // max(1, n * n_ranks))
    for start in range(0, n_sim, chunk):
        stop = min(n_sim, start + chunk)
        sims = rng.integers(0, n_ranks, size=(stop - start, n))
        counts = ecdf_counts(sims, n_ranks)
        null[start:stop] = table[counts, np.arange(z.size)].min(axis=1)
    null.sort()
    # P(min p <= null[i]) estimated by the share of simulated values <= it.
    share = np.searchsorted(null, null, side="right") / n_sim
    ok = null[share <= alpha]
    gamma = float(ok.max()) if ok.size else 0.0
    inside = table > gamma
    lower = np.argmax(inside, axis=0)
    upper = n - np.argmax(inside[::-1], axis=0)
    return EcdfBand(n, n_ranks, alpha, gamma, z, lower, upper, null)


def ecdf_test(rank_values: np.ndarray, band: EcdfBand) -> tuple[bool, float, float]:
    """Whether the ranks' ECDF stays inside the band, and the test's p-value.

    Returns
    -------
    (inside, min_p, p_value)
        ``inside``: the ECDF never leaves the band. ``min_p``: the sample's
        smallest pointwise p-value. ``p_value``: the share of simulated
        uniform samples with a statistic at most as large (with the usual
        +1 Monte Carlo correction).
    """
    r = np.asarray(rank_values, dtype=int)
    if r.size != band.n:
        raise ValueError(f"the band is for {band.n} ranks, got {r.size}")
    counts = ecdf_counts(r, band.n_ranks)
    min_p = float(pointwise_pvalues(counts, band.n, band.z).min())
    below = np.searchsorted(band.null_min_p, min_p, side="right")
    p_value = (below + 1) / (band.null_min_p.size + 1)
    inside = bool(np.all((counts >= band.lower) & (counts <= band.upper)))
    return inside, min_p, float(min(1.0, p_value))


def detection_rate(
    band: EcdfBand,
    n_bins: int,
    family_size: int,
    *,
    sd_factor: float = 1.0,
    shift: float = 0.0,
    runs: int = 400,
    alpha: float = 0.01,
    seed: int = 0,
) -> float:
    """How often the tests find one miscalibrated parameter: the share of
    ``runs`` simulated calibration runs (``band.n`` replications, ranks
    among ``band.n_ranks - 1`` draws) in which the smaller of its chi-square
    and ECDF p-values is at most ``alpha / family_size``, Holm's first step
    when the other tests of the family are of calibrated parameters.

    The true value of each replication is a draw from its exact posterior,
    which in units of that posterior is N(0, 1); the draws it is ranked
    among come from N(``shift``, ``sd_factor``^2): a posterior too narrow
    (``sd_factor`` < 1), too wide (> 1) or biased by ``shift`` posterior
    sds.

    Examples
    --------
    >>> band = ecdf_band(100, 50, n_sim=2000, seed=1)
    >>> detection_rate(band, 10, 1, sd_factor=0.5, runs=20) > 0.9
    True
    """
    smallest = distorted_min_pvalues(
        band, n_bins, sd_factor=sd_factor, shift=shift, runs=runs, seed=seed
    )
    return float(np.mean(smallest <= alpha / family_size))


def distorted_min_pvalues(
    band: EcdfBand,
    n_bins: int,
    *,
    sd_factor: float = 1.0,
    shift: float = 0.0,
    runs: int = 400,
    seed: int = 0,
) -> np.ndarray:
    """The smaller of the chi-square and ECDF p-values of each of ``runs``
    simulated calibration runs of a distorted parameter, as
    :func:`detection_rate` draws them (one simulation serves any family
    size)."""
    rng = np.random.default_rng(seed)
    out = np.empty(runs)
    for i in range(runs):
        truth = rng.normal(size=band.n)
        draws = shift + sd_factor * rng.normal(size=(band.n_ranks - 1, band.n))
        r = (draws < truth).sum(axis=0)
        p_chi = chi_square_uniform(r, band.n_ranks, n_bins)[2]
        out[i] = min(p_chi, ecdf_test(r, band)[2])
    return out


def holm(pvalues: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error control).

    NaN entries are left out of the family and stay NaN.

    Examples
    --------
    >>> holm(np.array([0.01, 0.04, 0.03])).round(3).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(1.0, adjusted)
    return out


def central_interval_hits(
    rank_values: np.ndarray, n_ranks: int, level: float
) -> tuple[np.ndarray, float]:
    """Whether each truth lies in the central ``level`` posterior interval,
    read off its rank.

    The interval is the middle block of rank values: ``m`` of the
    ``n_ranks`` values, m the largest count <= level * n_ranks that leaves
    the same number of values on either side. Under calibration a truth
    lands in it with probability exactly m / n_ranks (= level for 100 rank
    values and level 0.5 or 0.9).

    Returns
    -------
    (hits, share)
        Boolean per rank, and the share m / n_ranks expected under
        calibration.

    Examples
    --------
    >>> hits, share = central_interval_hits(np.arange(100), 100, 0.9)
    >>> int(hits.sum()), share
    (90, 0.9)
    """
    r = np.asarray(rank_values, dtype=int)
    inside = int(np.floor(level * n_ranks + 1e-9))
    if (n_ranks - inside) % 2:
        inside -= 1
    low = (n_ranks - inside) // 2
    return (r >= low) & (r < low + inside), inside / n_ranks


def binomial_band(n: int, p: float, level: float = 0.99) -> tuple[float, float]:
    """Central ``level`` interval of a Binomial(n, p) share (count / n).

    Examples
    --------
    >>> binomial_band(200, 0.5, 0.99)
    (0.41, 0.59)
    """
    tail = (1.0 - level) / 2.0
    lo = stats.binom.ppf(tail, n, p)
    hi = stats.binom.ppf(1.0 - tail, n, p)
    return float(lo / n), float(hi / n)


@dataclass(frozen=True)
class ReliabilityBins:
    """A reliability diagram's bins.

    Attributes
    ----------
    edges : ndarray, shape (B + 1,)
    count : ndarray of int, shape (B,)
        Observations whose predicted probability falls in each bin.
    mean_prob : ndarray, shape (B,)
        Their mean predicted probability (NaN for an empty bin).
    frequency : ndarray, shape (B,)
        The share of them for which the event happened.
    lower, upper : ndarray, shape (B,)
        Central ``level`` binomial band of that share around ``mean_prob``.
    z : ndarray, shape (B,)
        (frequency - mean_prob) / binomial standard error.
    """

    edges: np.ndarray
    count: np.ndarray
    mean_prob: np.ndarray
    frequency: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    z: np.ndarray

    def outside(self) -> np.ndarray:
        """Bins whose observed share lies outside the band."""
        return (self.count > 0) & (
            (self.frequency < self.lower) | (self.frequency > self.upper)
        )


def reliability_bins(
    prob: np.ndarray, event: np.ndarray, n_bins: int = 10, level: float = 0.99
) -> ReliabilityBins:
    """Bin predicted probabilities and compare with what happened.

    Parameters
    ----------
    prob : ndarray
        Predicted probabilities of an event.
    event : ndarray of bool
        Whether it happened.
    n_bins : int
        Equal-width bins on [0, 1].
    level : float
        Coverage of the binomial band drawn around each bin's mean
        probability (Binomial(count, mean_prob) / count).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> p = rng.random(20000)
    >>> bins = reliability_bins(p, rng.random(20000) < p)
    >>> int(bins.outside().sum())
    0
    """
    prob = np.asarray(prob, dtype=float).reshape(-1)
    event = np.asarray(event, dtype=bool).reshape(-1)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, prob, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_prob = np.bincount(which, prob, minlength=n_bins) / count
        frequency = np.bincount(which, event.astype(float), minlength=n_bins) / count
        se = np.sqrt(mean_prob * (1 - mean_prob) / count)
        z = (frequency - mean_prob) / se
    lower = np.full(n_bins, np.nan)
    upper = np.full(n_bins, np.nan)
    for b in np.flatnonzero(count):
        lower[b], upper[b] = binomial_band(int(count[b]), float(mean_prob[b]), level)
    return ReliabilityBins(edges, count, mean_prob, frequency, lower, upper, z)
