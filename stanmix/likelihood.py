"""Pointwise log-likelihood and membership probabilities from mixture draws.

For posterior draws of a K-component mixture, the family's kernel gives the
joint log term of observation row n and component k,

    lp[n, k] = log w_k + log f(row n | component k),

with censored cells integrated over their censoring region and missing
cells integrated out, exactly as the family's Stan program defines the
likelihood. From it,

    log P(z_n = k | y_n, theta) = lp[n, k] - logsumexp_k lp[n, k]
    pointwise log-likelihood    = logsumexp_k lp[n, k].

Draws are passed as a dict of arrays with the draws first (chains and draws
flattened into one axis of length S): ``w`` (S, K), ``mu`` (S, K, D) and the
family's own (``sigma``, ``nu``, ``corr``, ...).

Everything is computed in blocks of observations, so memory stays bounded
for any number of rows, and the blocks run on a small thread pool (numpy and
scipy release the GIL in the heavy loops). Reductions over the components
are explicit loops, so blocked results equal unblocked ones bit for bit.

The public functions share their arguments: ``family`` (a
:class:`~stanmix.families.Family`, as :func:`stanmix.families.get_family`
gives; its kernel defines the likelihood), ``cells`` (a
:class:`~stanmix.cells.CellTable` of the rows), ``params`` (the draws, as
above), ``chunk_size`` (rows per block; by default sized so that a block's
(S, rows, K) terms take about 4 MB) and ``n_threads`` (threads over the
blocks; by default the cores, at most four).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import DTypeLike

from stanmix import _validation as check
from stanmix.cells import CellTable
from stanmix.exceptions import StanmixInputError
from stanmix.hdi import check_prob, hdi_in_place

if TYPE_CHECKING:
    import pandas as pd

    from stanmix.families.base import Family

__all__ = [
    "MembershipSummary",
    "log_likelihood",
    "log_terms",
    "membership_draws",
    "membership_mean",
    "membership_summary",
]

# Target size of one block's (rows, K, S) float64 array when the block size
# is chosen automatically: small enough to stay in cache through the
# several passes a block goes through, and a few such arrays per thread are
# all the working memory used.
_BLOCK_BYTES = 4 * 2**20
_MAX_DEFAULT_THREADS = 4


@dataclass(frozen=True, eq=False)
class MembershipSummary:
    """Posterior summary of membership probabilities P(z_n = k | y_n, theta).

    Attributes
    ----------
    mean : ndarray, shape (N, K)
        Posterior mean probability of each observation belonging to each
        component.
    lower : ndarray, shape (N, K)
        Lower bound of the highest density interval of that probability.
    upper : ndarray, shape (N, K)
        Upper bound of the highest density interval.
    hdi_prob : float
        Probability mass of the intervals.
    """

    mean: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    hdi_prob: float

    @property
    def n_obs(self) -> int:
        """Number of observations N."""
        return int(self.mean.shape[0])

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return int(self.mean.shape[1])

    def to_frame(
        self,
        obs_index: Sequence | None = None,
        component_names: Sequence | None = None,
    ) -> pd.DataFrame:
        """The summary as a tidy table, one row per observation and component.

        Parameters
        ----------
        obs_index : sequence, optional
            Labels of the N observations (e.g. the index of the data frame
            that was fitted); default ``0 .. N-1``.
        component_names : sequence, optional
            Labels of the K components; default ``0 .. K-1``.

        Returns
        -------
        pandas.DataFrame
            Columns ``observation``, ``component``, ``mean``, ``hdi_lower``,
            ``hdi_upper``; rows ordered by observation, then component.

        Examples
        --------
        >>> import numpy as np
        >>> s = MembershipSummary(
        ...     mean=np.array([[0.9, 0.1]]),
        ...     lower=np.array([[0.8, 0.05]]),
        ...     upper=np.array([[0.95, 0.2]]),
        ...     hdi_prob=0.94,
        ... )
        >>> s.to_frame(obs_index=["a"], component_names=["low", "high"])
          observation component  mean  hdi_lower  hdi_upper
        0           a       low   0.9       0.80       0.95
        1           a      high   0.1       0.05       0.20
        """
        import pandas as pd

        n, k = self.mean.shape
        obs = _labels(obs_index, n, "obs_index", "observations")
        comp = _labels(component_names, k, "component_names", "components")
        return pd.DataFrame(
            {
                "observation": np.repeat(obs, k),
                "component": np.tile(comp, n),
                "mean": self.mean.reshape(-1),
                "hdi_lower": self.lower.reshape(-1),
                "hdi_upper": self.upper.reshape(-1),
            }
        )


def _labels(labels, size: int, name: str, what: str) -> np.ndarray:
    if labels is None:
        return np.arange(size)
    items = labels if hasattr(labels, "dtype") else list(labels)
    out = np.asarray(items)
    if out.dtype.kind == "U" and any(not isinstance(v, str) for v in items):
        # numpy writes mixed labels (a name, then numbers) all as strings
        out = np.empty(len(items), dtype=object)
        out[:] = list(items)
    if out.ndim != 1 or out.shape[0] != size:
        raise StanmixInputError(
            f"{name} must hold one label per {what[:-1]} ({size} {what}), "
            f"got shape {out.shape}; pass a sequence of length {size}"
        )
    return out


# --------------------------------------------------------------------------
# Public functions


def log_terms(
    family: Family,
    cells: CellTable,
    params: Mapping[str, np.ndarray],
    *,
    n_threads: int | None = None,
) -> np.ndarray:
    """Joint log terms ``lp[s, n, k] = log w_k + log f(row n | k, draw s)``.

    Allocates the full (S, N, K) result; for large problems use
    :func:`log_likelihood`, :func:`membership_summary` or
    :func:`membership_draws`, which work in blocks.

    Parameters
    ----------
    family : stanmix.families.Family
        The component family, e.g. ``stanmix.families.get_family("normal")``.
    cells : CellTable
        The data, N rows and D columns of observed, censored or missing cells.
    params : mapping of str to ndarray
        Draws with one leading axis S: ``w`` (S, K), ``mu`` (S, K, D) and the
        family's own parameters.
    n_threads : int, optional
        Threads used over blocks of observations; default the number of
        usable cores, at most 4.

    Returns
    -------
    ndarray, shape (S, N, K)

    Examples
    --------
    >>> import numpy as np
    >>> from stanmix.cells import CellTable
    >>> from stanmix.families import get_family
    >>> cells = CellTable.from_values([[0.0], [np.nan]])
    >>> params = {"w": [[0.5, 0.5]], "mu": [[[0.0], [1.0]]], "sigma": [[[1.0], [1.0]]]}
    >>> lp = log_terms(get_family("normal"), cells, params)
    >>> np.round(lp[0], 4).tolist()
    [[-1.6121, -2.1121], [-0.6931, -0.6931]]
    """
    return _run(family, cells, params, "lp", np.float64, None, None, n_threads)


def log_likelihood(
    family: Family,
    cells: CellTable,
    params: Mapping[str, np.ndarray],
    *,
    chunk_size: int | None = None,
    n_threads: int | None = None,
) -> np.ndarray:
    """Pointwise log-likelihood ``log p(row n | draw s)``, shape (S, N).

    This is the ``log_lik`` generated quantity of the Stan programs (what
    LOO needs), with censored cells integrated over their region, computed
    from the draws in blocks of observations.

    Parameters
    ----------
    family, cells, params, n_threads
        As in :func:`log_terms`.
    chunk_size : int, optional
        Observations per block; by default chosen from a fixed memory budget.

    Returns
    -------
    ndarray, shape (S, N)

    Examples
    --------
    >>> import numpy as np
    >>> from stanmix.cells import CellTable
    >>> from stanmix.families import get_family
    >>> cells = CellTable.from_values([[0.0], [np.nan]])
    >>> params = {"w": [[1.0]], "mu": [[[0.0]]], "sigma": [[[1.0]]]}
    >>> np.round(log_likelihood(get_family("normal"), cells, params), 4).tolist()
    [[-0.9189, 0.0]]
    """
    if not family.joint:
        checked = family.check_draws(params, _checked_cells(cells).n_dims)
        return family.pointwise_log_lik(
            cells, checked, chunk_size=chunk_size, n_threads=n_threads
        )
    return _run(
        family, cells, params, "loglik", np.float64, None, chunk_size, n_threads
    )


def membership_draws(
    family: Family,
    cells: CellTable,
    params: Mapping[str, np.ndarray],
    *,
    chunk_size: int | None = None,
    dtype: DTypeLike = np.float64,
    n_threads: int | None = None,
) -> np.ndarray:
    """Membership probabilities ``P(z_n = k | y_n, theta_s)`` for every draw.

    The result has S * N * K elements; the caller is responsible for having
    the memory (pass ``dtype=np.float32`` to halve it). Probabilities are
    computed in double precision and then stored as ``dtype``.

    Returns
    -------
    ndarray, shape (S, N, K)
        Probabilities; each [s, n, :] sums to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from stanmix.cells import CellTable
    >>> from stanmix.families import get_family
    >>> cells = CellTable.from_values([[0.0], [3.0]])
    >>> params = {"w": [[0.5, 0.5]], "mu": [[[0.0], [3.0]]], "sigma": [[[1.0], [1.0]]]}
    >>> p = membership_draws(get_family("normal"), cells, params)
    >>> np.round(p[0], 4).tolist()
    [[0.989, 0.011], [0.011, 0.989]]
    """
    out_dtype = np.dtype(dtype)
    if not np.issubdtype(out_dtype, np.floating):
        raise StanmixInputError(
            f"dtype must be a floating type such as np.float64 or np.float32, "
            f"got {out_dtype}"
        )
    return _run(family, cells, params, "prob", out_dtype, None, chunk_size, n_threads)


def membership_mean(
    family: Family,
    cells: CellTable,
    params: Mapping[str, np.ndarray],
    *,
    chunk_size: int | None = None,
    n_threads: int | None = None,
) -> np.ndarray:
    """Posterior mean membership probabilities, (N, K), in float64.

    The mean of :func:`membership_draws` over draws, computed block by block
    so that no (S, N, K) array is held; no HDIs are computed.

    Examples
    --------
    >>> import numpy as np
    >>> from stanmix.cells import CellTable
    >>> from stanmix.families import get_family
    >>> params = {"w": [[0.5, 0.5]], "mu": [[[0.0], [3.0]]], "sigma": [[[1.0], [1.0]]]}
    >>> cells = CellTable.from_values([[1.5]])
    >>> membership_mean(get_family("normal"), cells, params).round(3).tolist()
    [[0.5, 0.5]]
    """
    return _run(family, cells, params, "mean", np.float64, None, chunk_size, n_threads)


def membership_summary(
    family: Family,
    cells: CellTable,
    params: Mapping[str, np.ndarray],
    *,
    hdi_prob: float = 0.94,
    chunk_size: int | None = None,
    n_threads: int | None = None,
    progress: Callable[[int], object] | None = None,
) -> MembershipSummary:
    """Posterior mean and HDI (of mass ``hdi_prob``) of each membership
    probability.

    Never holds the (S, N, K) probabilities at once: blocks of observations
    are evaluated, summarised and discarded. Inside a block the joint log
    terms are double precision; the probabilities derived from them are
    evaluated, averaged and sorted in single precision (float32), which
    keeps the (S, N, K) sweep fast and small. Their relative error is about
    1e-7, the mean is accumulated in double precision, and the reported
    bounds are float32 values stored as float64. The HDI is the one of
    :func:`stanmix.hdi.hdi` (the ArviZ unimodal HDI) over the S draws.
    ``progress``, when given, is called with the number of rows of each
    block as the blocks are done, in order (a progress bar's ``update``).

    Returns
    -------
    MembershipSummary
        ``mean``, ``lower`` and ``upper`` of shape (N, K).

    Examples
    --------
    >>> import numpy as np
    >>> from stanmix.cells import CellTable
    >>> from stanmix.families import get_family
    >>> rng = np.random.default_rng(0)
    >>> S = 200
    >>> mu = np.stack([rng.normal(0, 0.1, S), rng.normal(3, 0.1, S)], 1)[..., None]
    >>> params = {"w": np.full((S, 2), 0.5), "mu": mu, "sigma": np.ones((S, 2, 1))}
    >>> cells = CellTable.from_values([[0.0], [1.5]])
    >>> summary = membership_summary(get_family("normal"), cells, params)
    >>> np.round(summary.mean, 2).tolist()
    [[0.99, 0.01], [0.5, 0.5]]
    """
    prob = check_prob(hdi_prob, "hdi_prob")
    return _run(
        family,
        cells,
        params,
        "summary",
        np.float32,
        prob,
        chunk_size,
        n_threads,
        progress,
    )


# --------------------------------------------------------------------------
# Validation


def _checked_cells(cells) -> CellTable:
    if not isinstance(cells, CellTable):
        raise StanmixInputError(
            f"cells must be a stanmix.cells.CellTable, got {type(cells).__name__}; "
            "build one with CellTable.from_values(array) or the censoring helpers"
        )
    return cells.validate()


def _check_chunk_size(chunk_size) -> int | None:
    if chunk_size is None:
        return None
    hint = "leave it as None to size blocks from the memory budget"
    return check.integer("chunk_size", chunk_size, low=1, hint=hint)


def _check_threads(n_threads) -> int:
    if n_threads is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:
            cores = os.cpu_count() or 1
        return max(1, min(cores, _MAX_DEFAULT_THREADS))
    hint = "leave it as None to use the cores"
    return check.integer("n_threads", n_threads, low=1, hint=hint)


# --------------------------------------------------------------------------
# Block reductions over the components (explicit loops keep the order of
# operations independent of the block size).


def _max_over_components(lp: np.ndarray) -> np.ndarray:
    top = lp[:, 0, :].copy()
    for k in range(1, lp.shape[1]):
        np.maximum(top, lp[:, k, :], out=top)
    return top


def _sum_over_components(x: np.ndarray) -> np.ndarray:
    total = x[:, 0, :].copy()
    for k in range(1, x.shape[1]):
        total += x[:, k, :]
    return total


#: A bound on a log term's relative rounding error: squared differences of
#: values and means, scaled and summed over dozens of columns.
ROUNDING = 64 * np.finfo(float).eps

#: Log terms below minus this are so large that their rounding (relative
#: ROUNDING) may exceed 0.01 in log-odds: only there can it hide which
#: component a row is nearer (a row about 1e6 scales out).
FAR_LOG_TERM = 0.01 / ROUNDING


def _unresolved(lp: np.ndarray, top: np.ndarray) -> tuple[np.ndarray, ...] | None:
    """The (row, draw) positions where a row lies so far from every
    component that the rounding of its log terms, above 0.01, exceeds the
    gap between the two largest: which component is nearer is lost in
    floating point (components that share their scales, a row further out
    than about 1e14 scales times the separation of their means in scales,
    where ``y - mu`` rounds alike for every mean). None where no row is
    that far."""
    if lp.shape[1] < 2:
        return None
    far = top < -FAR_LOG_TERM  # nearly always none: one pass to find out
    if not far.any():
        return None
    far &= np.isfinite(top)  # not rows impossible under every component
    if not far.any():
        return None
    rows, draws = np.nonzero(far)
    terms = lp[rows, :, draws]
    second = np.partition(terms, -2, axis=1)[:, -2]
    lost = top[rows, draws] - second <= ROUNDING * np.abs(top[rows, draws])
    return rows[lost], draws[lost]


def _exp_shifted(
    lp: np.ndarray, dtype, top: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """exp(lp - max_k lp) in ``dtype``, the max (``top``, if already
    computed), and the sum over components.

    ``lp`` (rows, K, S) float64 is overwritten when ``dtype`` is float64 (and
    the result is ``lp`` itself); otherwise it is left as it was.
    """
    if top is None:
        top = _max_over_components(lp)
    shifted = lp if np.dtype(dtype) == np.float64 else np.empty(lp.shape, dtype)
    # A row impossible under every component (all terms -inf, as a cell far
    # beyond every component's reach underflows) keeps its -inf terms: its
    # sum is 0 and its log-likelihood -inf, not -inf - (-inf) = NaN.
    shift = np.where(np.isneginf(top), 0.0, top)
    with np.errstate(invalid="ignore"):
        np.subtract(lp, shift[:, None, :], out=shifted, casting="same_kind")
    np.exp(shifted, out=shifted)
    return shifted, top, _sum_over_components(shifted)


def _probabilities(lp: np.ndarray, dtype) -> np.ndarray:
    """Membership probabilities (rows, K, S) from joint log terms: NaN for
    a row impossible under every component, or so far from all that
    rounding hides which is nearer (:func:`_unresolved`)."""
    top = _max_over_components(lp)
    lost = _unresolved(lp, top)
    prob, _, total = _exp_shifted(lp, dtype, top)
    with np.errstate(invalid="ignore"):  # a row impossible under all: NaN
        prob /= total[:, None, :]
    if lost is not None:
        rows, draws = lost
        prob[rows, :, draws] = np.nan
    return prob


def _log_normaliser(lp: np.ndarray) -> np.ndarray:
    """logsumexp over components, (rows, S); overwrites ``lp``."""
    _, top, total = _exp_shifted(lp, np.float64)
    with np.errstate(divide="ignore"):
        return top + np.log(total)


# --------------------------------------------------------------------------
# Driver


def _run(
    family, cells, params, what, dtype, hdi_prob, chunk_size, n_threads, progress=None
):
    cells = _checked_cells(cells)
    if not family.joint:
        raise StanmixInputError(
            "the per-dimension model draws each cell from its own component, so "
            "a row has no single component: membership and its log terms need "
            "joint components"
        )
    draws = family.check_draws(params, cells.n_dims)
    chunk = _check_chunk_size(chunk_size)
    threads = _check_threads(n_threads)
    data = family.prepare_data(cells)
    par = family.prepare_params(draws, data)
    n_obs = cells.n_obs
    n_draws, n_comp = draws["w"].shape
    if chunk is None:
        chunk = max(1, _BLOCK_BYTES // (n_comp * n_draws * 8))

    def block(start: int, stop: int) -> np.ndarray:
        return family.block_log_terms(data, par, start, stop)

    if what == "lp":
        out = np.empty((n_draws, n_obs, n_comp))

        def work(start: int, stop: int) -> None:
            out[:, start:stop, :] = block(start, stop).transpose(2, 0, 1)

    elif what == "loglik":
        out = np.empty((n_draws, n_obs))

        def work(start: int, stop: int) -> None:
            out[:, start:stop] = _log_normaliser(block(start, stop)).T

    elif what == "prob":
        out = np.empty((n_draws, n_obs, n_comp), dtype=dtype)

        def work(start: int, stop: int) -> None:
            prob = _probabilities(block(start, stop), np.float64)
            out[:, start:stop, :] = prob.transpose(2, 0, 1)

    elif what == "mean":
        out = np.empty((n_obs, n_comp))

        def work(start: int, stop: int) -> None:
            out[start:stop] = _probabilities(block(start, stop), np.float64).mean(-1)

    else:
        mean = np.empty((n_obs, n_comp))
        lower = np.empty((n_obs, n_comp))
        upper = np.empty((n_obs, n_comp))

        def work(start: int, stop: int) -> None:
            prob = _probabilities(block(start, stop), dtype)
            mean[start:stop] = prob.mean(axis=-1, dtype=np.float64)
            lo, hi = hdi_in_place(prob, hdi_prob)
            lower[start:stop] = lo
            upper[start:stop] = hi

    _map_blocks(work, n_obs, chunk, threads, progress)
    if what == "summary":
        return MembershipSummary(
            mean=mean, lower=lower, upper=upper, hdi_prob=float(hdi_prob)
        )
    return out


def _map_blocks(
    work: Callable[[int, int], None],
    n_obs: int,
    chunk: int,
    threads: int,
    progress: Callable[[int], object] | None = None,
) -> None:
    bounds = [(i, min(i + chunk, n_obs)) for i in range(0, n_obs, chunk)]
    done = progress or (lambda rows: None)
    if threads == 1 or len(bounds) <= 1:
        for start, stop in bounds:
            work(start, stop)
            done(stop - start)
        return
    pool = ThreadPoolExecutor(max_workers=min(threads, len(bounds)))
    try:
        futures = [pool.submit(work, start, stop) for start, stop in bounds]
        for future, (start, stop) in zip(futures, bounds, strict=True):
            future.result()
            done(stop - start)
    finally:
        # On an error or an interrupt, blocks not yet started are dropped.
        pool.shutdown(wait=True, cancel_futures=True)
