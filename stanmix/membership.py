"""Membership probabilities and pointwise log-likelihood from mixture draws.

For posterior draws of a K-component diagonal-covariance mixture, the joint
log term of observation row n and component k is

    lp[n, k] = log w_k + sum over the cells d of row n of term(cell | mu_kd, sigma_kd)

with the cell terms of :mod:`stanmix.cells` (normal log density for observed
cells, log CDF / log survival function / log interval probability for left,
right and interval censored cells, nothing for missing cells). This is the
likelihood of ``stan/diag_mixture.stan`` and, with D = 1, of the univariate
program. From it,

    log P(z_n = k | y_n, theta) = lp[n, k] - logsumexp_k lp[n, k]
    pointwise log-likelihood    = logsumexp_k lp[n, k].

Draws are passed as arrays with the draws first (chains and draws flattened
into one axis of length S): ``weights`` (S, K), ``means`` (S, K, D) and
``scales`` (S, K, D).

Everything is computed in blocks of observations, so memory stays bounded
for any number of rows, and the blocks run on a small thread pool (numpy and
scipy release the GIL in the heavy loops). Within a block the observed cells
of all rows, components and draws are one product of small matrices: with
``a = 1 / sigma**2``, values ``y`` and means ``mu`` both shifted by a
column centre (``y`` zero in unobserved cells) and the 0/1 observed mask
``m``,

    sum_d m_nd [-0.5 a_kd (y_nd - mu_kd)**2 - log sigma_kd - 0.5 log(2 pi)]
      = [y**2, y, m] @ [-0.5 a; a mu; -0.5 a mu**2 - log sigma - 0.5 log(2 pi)]

and a column of ones against log w adds the weights in the same product.
The product is evaluated with ``einsum`` rather than BLAS: its summation
order is the same for every block size, so blocked results equal unblocked
ones bit for bit, and no BLAS thread pool competes with the block threads.
Censored cells are added afterwards, with one log-CDF evaluation per
distinct limit of a column in a block, per draw and component: a detection
limit shared by a column costs next to nothing, while a different limit in
every censored cell costs one special-function evaluation per cell, draw
and component, which then dominates the run time.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
from scipy.special import log_ndtr

from stanmix.cells import INTERVAL, LEFT, MISSING, OBSERVED, RIGHT, CellTable
from stanmix.exceptions import StanmixInputError
from stanmix.hdi import check_prob, hdi_in_place

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MembershipSummary",
    "joint_log_terms",
    "log_likelihood",
    "membership_draws",
    "membership_summary",
]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)

# Target size of one block's (rows, K, S) float64 array when the block size
# is chosen automatically: small enough to stay in cache through the
# several passes a block goes through, and a few such arrays per thread are
# all the working memory used.
_BLOCK_BYTES = 4 * 2**20
_MAX_DEFAULT_THREADS = 4


# --------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
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
    out = np.asarray(list(labels))
    if out.ndim != 1 or out.shape[0] != size:
        raise StanmixInputError(
            f"{name} must hold one label per {what[:-1]} ({size} {what}), "
            f"got shape {out.shape}; pass a sequence of length {size}"
        )
    return out


# --------------------------------------------------------------------------
# Public functions


def joint_log_terms(
    cells: CellTable,
    weights: ArrayLike,
    means: ArrayLike,
    scales: ArrayLike,
    *,
    n_threads: int | None = None,
) -> np.ndarray:
    """Joint log terms ``lp[s, n, k] = log w_k + sum_d log f(cell_nd | k)``.

    Allocates the full (S, N, K) result; for large problems use
    :func:`log_likelihood`, :func:`membership_summary` or
    :func:`membership_draws`, which work in blocks.

    Parameters
    ----------
    cells : CellTable
        The data, N rows and D columns of observed, censored or missing cells.
    weights : array_like, shape (S, K)
        Mixing weights per draw; each row sums to 1.
    means : array_like, shape (S, K, D)
        Component means per draw. With D = 1, shape (S, K) is accepted.
    scales : array_like, shape (S, K, D)
        Component standard deviations per draw, all > 0. With D = 1, shape
        (S, K) is accepted.
    n_threads : int, optional
        Threads used over blocks of observations; default the number of
        usable cores, at most 4.

    Returns
    -------
    ndarray, shape (S, N, K)
        The joint log terms as ``joint_log_terms`` in
        ``stan/mixture.stanfunctions`` defines them, equal up to rounding.
        Interval-censored cells far in the upper tail stay finite here
        (they are evaluated through the mirror-image interval), where a
        difference of two log CDFs near 0 underflows to -inf.

    Raises
    ------
    StanmixInputError
        On mismatched shapes, non-finite draws, non-positive scales or
        weights that are negative or do not sum to 1.

    Examples
    --------
    >>> import numpy as np
    >>> from stanmix.cells import CellTable
    >>> cells = CellTable.from_values([[0.0], [np.nan]])
    >>> lp = joint_log_terms(cells, [[0.5, 0.5]], [[[0.0], [1.0]]], [[[1.0], [1.0]]])
    >>> lp.shape
    (1, 2, 2)
    >>> np.round(lp[0], 4).tolist()
    [[-1.6121, -2.1121], [-0.6931, -0.6931]]
    """
    return _run(cells, weights, means, scales, "lp", np.float64, None, None, n_threads)


def log_likelihood(
    cells: CellTable,
    weights: ArrayLike,
    means: ArrayLike,
    scales: ArrayLike,
    *,
    chunk_size: int | None = None,
    n_threads: int | None = None,
) -> np.ndarray:
    """Pointwise log-likelihood ``log sum_k exp(lp[s, n, k])`` per draw and row.

    This is the ``log_lik`` generated quantity of the Stan programs (what
    LOO needs), computed from the draws in blocks of observations.

    Parameters
    ----------
    cells, weights, means, scales
        As in :func:`joint_log_terms`.
    chunk_size : int, optional
        Observations per block; by default chosen from a fixed memory budget.
    n_threads : int, optional
        Threads used over blocks; default the number of usable cores, at
        most 4.

    Returns
    -------
    ndarray, shape (S, N)

    Raises
    ------
    StanmixInputError
        As :func:`joint_log_terms`, or for a non-positive ``chunk_size``.

    Examples
    --------
    >>> import numpy as np
    >>> from stanmix.cells import CellTable
    >>> cells = CellTable.from_values([[0.0], [np.nan]])
    >>> ll = log_likelihood(cells, [[1.0]], [[[0.0]]], [[[1.0]]])
    >>> ll.shape
    (1, 2)
    >>> np.round(ll, 4).tolist()  # log N(0 | 0, 1); a missing row adds nothing
    [[-0.9189, 0.0]]
    """
    return _run(
        cells,
        weights,
        means,
        scales,
        "loglik",
        np.float64,
        None,
        chunk_size,
        n_threads,
    )


def membership_draws(
    cells: CellTable,
    weights: ArrayLike,
    means: ArrayLike,
    scales: ArrayLike,
    *,
    chunk_size: int | None = None,
    dtype: DTypeLike = np.float64,
    n_threads: int | None = None,
) -> np.ndarray:
    """Membership probabilities ``P(z_n = k | y_n, theta_s)`` for every draw.

    The result has S * N * K elements; the caller is responsible for having
    the memory (pass ``dtype=np.float32`` to halve it). Working arrays are
    bounded by ``chunk_size``; probabilities are computed in double
    precision and then stored as ``dtype``.

    Parameters
    ----------
    cells, weights, means, scales
        As in :func:`joint_log_terms`.
    chunk_size : int, optional
        Observations per block; by default chosen from a fixed memory budget.
    dtype : numpy floating dtype, default float64
        Storage type of the result.
    n_threads : int, optional
        Threads used over blocks; default the number of usable cores, at
        most 4.

    Returns
    -------
    ndarray, shape (S, N, K)
        Probabilities; each [s, n, :] sums to 1.

    Raises
    ------
    StanmixInputError
        As :func:`log_likelihood`, or for a non-floating ``dtype``.

    Examples
    --------
    >>> import numpy as np
    >>> from stanmix.cells import CellTable
    >>> cells = CellTable.from_values([[0.0], [3.0]])
    >>> p = membership_draws(cells, [[0.5, 0.5]], [[[0.0], [3.0]]], [[[1.0], [1.0]]])
    >>> np.round(p[0], 4).tolist()
    [[0.989, 0.011], [0.011, 0.989]]
    """
    out_dtype = np.dtype(dtype)
    if not np.issubdtype(out_dtype, np.floating):
        raise StanmixInputError(
            f"dtype must be a floating type such as np.float64 or np.float32, "
            f"got {out_dtype}"
        )
    return _run(
        cells,
        weights,
        means,
        scales,
        "prob",
        out_dtype,
        None,
        chunk_size,
        n_threads,
    )


def membership_summary(
    cells: CellTable,
    weights: ArrayLike,
    means: ArrayLike,
    scales: ArrayLike,
    *,
    hdi_prob: float = 0.94,
    chunk_size: int | None = None,
    n_threads: int | None = None,
) -> MembershipSummary:
    """Posterior mean and HDI of each membership probability.

    Never holds the (S, N, K) probabilities at once: blocks of observations
    are evaluated, summarised and discarded. Inside a block the joint log
    terms are double precision; the probabilities derived from them are
    evaluated, averaged and sorted in single precision (float32), which
    keeps the (S, N, K) sweep fast and small. Their relative error is about
    1e-7, the mean is accumulated in double precision, and the reported
    bounds are float32 values stored as float64.

    The HDI is the one of :func:`stanmix.hdi.hdi` (the ArviZ unimodal HDI)
    over the S draws.

    Parameters
    ----------
    cells, weights, means, scales
        As in :func:`joint_log_terms`.
    hdi_prob : float, default 0.94
        Probability mass of the intervals, strictly between 0 and 1.
    chunk_size : int, optional
        Observations per block; by default chosen from a fixed memory budget.
    n_threads : int, optional
        Threads used over blocks; default the number of usable cores, at
        most 4.

    Returns
    -------
    MembershipSummary
        ``mean``, ``lower`` and ``upper`` of shape (N, K).

    Raises
    ------
    StanmixInputError
        As :func:`log_likelihood`, or for ``hdi_prob`` outside (0, 1).

    Examples
    --------
    >>> import numpy as np
    >>> from stanmix.cells import CellTable
    >>> rng = np.random.default_rng(0)
    >>> S = 200
    >>> means = np.stack([rng.normal(0, 0.1, S), rng.normal(3, 0.1, S)], 1)[..., None]
    >>> scales = np.ones((S, 2, 1))
    >>> weights = np.full((S, 2), 0.5)
    >>> summary = membership_summary(
    ...     CellTable.from_values([[0.0], [1.5]]), weights, means, scales
    ... )
    >>> np.round(summary.mean, 2).tolist()
    [[0.99, 0.01], [0.5, 0.5]]
    >>> bool(np.all((summary.lower <= summary.mean) & (summary.mean <= summary.upper)))
    True
    """
    prob = check_prob(hdi_prob, "hdi_prob")
    return _run(
        cells,
        weights,
        means,
        scales,
        "summary",
        np.float32,
        prob,
        chunk_size,
        n_threads,
    )


def membership_mean(
    cells: CellTable,
    weights,
    means,
    scales,
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
    >>> means = np.array([[[0.0], [3.0]]])
    >>> p = membership_mean(CellTable.from_values([[1.5]]), [[0.5, 0.5]], means,
    ...                     np.ones((1, 2, 1)))
    >>> p.round(3).tolist()
    [[0.5, 0.5]]
    """
    return _run(
        cells, weights, means, scales, "mean", np.float64, None, chunk_size, n_threads
    )


# --------------------------------------------------------------------------
# Validation


def _check_cells(cells) -> None:
    if not isinstance(cells, CellTable):
        raise StanmixInputError(
            f"cells must be a stanmix.cells.CellTable, got {type(cells).__name__}; "
            "build one with CellTable.from_values(array) or the censoring helpers"
        )
    kind = cells.kind
    bad = ~np.isin(kind, (OBSERVED, LEFT, RIGHT, INTERVAL, MISSING))
    _raise_at(cells, bad, "has an unknown kind code", "use the codes in stanmix.cells")
    _raise_at(
        cells,
        (kind == OBSERVED) & ~np.isfinite(cells.values),
        "is observed but its value is not finite",
        "mark it missing or give a finite value",
    )
    _raise_at(
        cells,
        ((kind == LEFT) | (kind == INTERVAL)) & np.isnan(cells.upper),
        "is left or interval censored but has no upper limit",
        "give its limit in `upper`",
    )
    _raise_at(
        cells,
        ((kind == RIGHT) | (kind == INTERVAL)) & np.isnan(cells.lower),
        "is right or interval censored but has no lower limit",
        "give its limit in `lower`",
    )
    with np.errstate(invalid="ignore"):
        inverted = (kind == INTERVAL) & ~(cells.lower < cells.upper)
    _raise_at(
        cells,
        inverted,
        "is interval censored with lower >= upper",
        "give lower < upper",
    )


def _raise_at(cells: CellTable, bad: np.ndarray, problem: str, fix: str) -> None:
    if not np.any(bad):
        return
    rows, cols = np.nonzero(bad)
    raise StanmixInputError(
        f"cells: {rows.size} cell(s) where the cell {problem}; first at row "
        f"{rows[0]}, column {cells.columns[cols[0]]!r}; {fix}"
    )


def _as_float_array(value, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise StanmixInputError(
            f"{name} must be a numeric array, got {type(value).__name__}"
        ) from None
    return arr


def _first_bad(mask: np.ndarray, axes: Sequence[str]) -> str:
    where = np.argwhere(mask)[0]
    return ", ".join(f"{a} {i}" for a, i in zip(axes, where, strict=True))


def _check_draws(
    cells: CellTable, weights, means, scales
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_dims = cells.n_dims
    w = _as_float_array(weights, "weights")
    mu = _as_float_array(means, "means")
    sigma = _as_float_array(scales, "scales")
    if n_dims == 1:
        mu = mu[..., None] if mu.ndim == 2 else mu
        sigma = sigma[..., None] if sigma.ndim == 2 else sigma
    if w.ndim != 2:
        raise StanmixInputError(
            f"weights must have shape (S, K) = (draws, components), got shape "
            f"{w.shape}; flatten chains and draws into the first axis"
        )
    n_draws, n_comp = w.shape
    expected = (n_draws, n_comp, n_dims)
    for name, arr in (("means", mu), ("scales", sigma)):
        if arr.shape != expected:
            raise StanmixInputError(
                f"{name} must have shape (S, K, D) = {expected} to match weights "
                f"{w.shape} and the {n_dims} column(s) of the cell table, got "
                f"shape {arr.shape}; pass draws x components x dimensions, with "
                "chains and draws flattened into the first axis"
            )
    if n_draws == 0 or n_comp == 0:
        raise StanmixInputError(
            f"weights has shape {w.shape}; at least one draw and one component "
            "are needed"
        )
    for name, arr, axes in (
        ("weights", w, ("draw", "component")),
        ("means", mu, ("draw", "component", "dimension")),
        ("scales", sigma, ("draw", "component", "dimension")),
    ):
        bad = ~np.isfinite(arr)
        if np.any(bad):
            raise StanmixInputError(
                f"{name} holds {int(bad.sum())} non-finite value(s) (first at "
                f"{_first_bad(bad, axes)}); drop or repair those draws"
            )
    bad = sigma <= 0
    if np.any(bad):
        raise StanmixInputError(
            f"scales must be > 0, found {int(bad.sum())} value(s) <= 0 (first at "
            f"{_first_bad(bad, ('draw', 'component', 'dimension'))}); pass "
            "standard deviations, not log-scales"
        )
    bad = w < 0
    if np.any(bad):
        raise StanmixInputError(
            f"weights must be >= 0, found {int(bad.sum())} negative value(s) "
            f"(first at {_first_bad(bad, ('draw', 'component'))}); pass "
            "mixing proportions, not log-weights"
        )
    total = w.sum(axis=1)
    off = np.abs(total - 1.0) > 1e-4
    if np.any(off):
        first = int(np.argmax(off))
        raise StanmixInputError(
            f"weights must sum to 1 over the components in every draw; draw "
            f"{first} sums to {total[first]:.6g} ({int(off.sum())} draw(s) off); "
            "pass the simplex w, not concentrations or counts"
        )
    return w, mu, sigma


def _check_chunk_size(chunk_size) -> int | None:
    if chunk_size is None:
        return None
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)):
        raise StanmixInputError(
            f"chunk_size must be a positive integer or None, got {chunk_size!r}"
        )
    if chunk_size < 1:
        raise StanmixInputError(
            f"chunk_size must be a positive integer or None, got {chunk_size}; "
            "leave it as None to size blocks from the memory budget"
        )
    return int(chunk_size)


def _check_threads(n_threads) -> int:
    if n_threads is None:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:
            cores = os.cpu_count() or 1
        return max(1, min(cores, _MAX_DEFAULT_THREADS))
    if isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)):
        raise StanmixInputError(
            f"n_threads must be a positive integer or None, got {n_threads!r}"
        )
    if n_threads < 1:
        raise StanmixInputError(f"n_threads must be >= 1, got {n_threads}")
    return int(n_threads)


# --------------------------------------------------------------------------
# Prepared data and parameters


@dataclass(frozen=True)
class _Censored:
    """The censored cells of one column, sorted by row."""

    rows: np.ndarray  # (C,) row index
    key: np.ndarray  # (C,) index into the distinct limits below
    kind: np.ndarray  # (U,) kind of each distinct (kind, lower, upper)
    lower: np.ndarray  # (U,)
    upper: np.ndarray  # (U,)


@dataclass(frozen=True)
class _Data:
    design: np.ndarray  # (N, 3D + 1): [y^2, y, observed, 1], y centred
    center: np.ndarray  # (D,) column centres subtracted from y and mu
    censored: tuple[_Censored | None, ...]  # one entry per column


def _prepare_data(cells: CellTable) -> _Data:
    observed = cells.kind == OBSERVED
    y = np.where(observed, cells.values, 0.0)
    count = observed.sum(axis=0)
    center = np.where(count > 0, y.sum(axis=0) / np.maximum(count, 1), 0.0)
    yc = np.where(observed, y - center, 0.0)
    design = np.concatenate(
        [yc * yc, yc, observed.astype(np.float64), np.ones((cells.n_obs, 1))],
        axis=1,
    )
    censored = []
    for d in range(cells.n_dims):
        kinds = cells.kind[:, d]
        rows = np.nonzero((kinds == LEFT) | (kinds == RIGHT) | (kinds == INTERVAL))[0]
        if rows.size == 0:
            censored.append(None)
            continue
        kind = kinds[rows].astype(np.float64)
        lower = np.where(kinds[rows] == LEFT, 0.0, cells.lower[rows, d])
        upper = np.where(kinds[rows] == RIGHT, 0.0, cells.upper[rows, d])
        table = np.stack([kind, lower, upper], axis=1)
        distinct, key = np.unique(table, axis=0, return_inverse=True)
        censored.append(
            _Censored(
                rows=rows,
                key=key.reshape(-1),
                kind=distinct[:, 0].astype(np.int8),
                lower=distinct[:, 1],
                upper=distinct[:, 2],
            )
        )
    return _Data(design=design, center=center, censored=tuple(censored))


@dataclass(frozen=True)
class _Params:
    coef: np.ndarray  # (3D + 1, K * S), columns ordered component-major
    mu: np.ndarray  # (D, K, S) uncentred means
    sigma: np.ndarray  # (D, K, S)
    n_draws: int
    n_comp: int


def _prepare_params(
    w: np.ndarray, mu: np.ndarray, sigma: np.ndarray, center: np.ndarray
) -> _Params:
    n_draws, n_comp, n_dims = mu.shape
    mu_t = np.ascontiguousarray(mu.transpose(2, 1, 0))  # (D, K, S)
    sigma_t = np.ascontiguousarray(sigma.transpose(2, 1, 0))
    prec = 1.0 / (sigma_t * sigma_t)
    mu_c = mu_t - center[:, None, None]
    with np.errstate(divide="ignore"):
        log_w = np.log(w.T)  # (K, S)
    coef = np.concatenate(
        [
            (-0.5 * prec).reshape(n_dims, -1),
            (mu_c * prec).reshape(n_dims, -1),
            (-0.5 * mu_c * mu_c * prec - np.log(sigma_t) - _HALF_LOG_2PI).reshape(
                n_dims, -1
            ),
            log_w.reshape(1, -1),
        ],
        axis=0,
    )
    return _Params(coef=coef, mu=mu_t, sigma=sigma_t, n_draws=n_draws, n_comp=n_comp)


# --------------------------------------------------------------------------
# Cell terms


def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x <= 0, accurate on both sides of -log 2."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > -math.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def _interval_log_prob(lower_z: np.ndarray, upper_z: np.ndarray) -> np.ndarray:
    """log(Phi(upper_z) - Phi(lower_z)) for lower_z < upper_z, stably.

    Intervals in the upper half are evaluated through the mirror image
    Phi(-lower_z) - Phi(-upper_z), so that both tails keep full precision.
    """
    mirror = (lower_z + upper_z) > 0
    hi = log_ndtr(np.where(mirror, -lower_z, upper_z))
    lo = log_ndtr(np.where(mirror, -upper_z, lower_z))
    return hi + _log1mexp(lo - hi)


def _censored_terms(cens: _Censored, keys: np.ndarray, mu, sigma) -> np.ndarray:
    """Cell terms (len(keys), K, S) of the distinct limits ``keys``."""
    kind = cens.kind[keys]
    lower = cens.lower[keys][:, None, None]
    upper = cens.upper[keys][:, None, None]
    out = np.empty((keys.size, *mu.shape))
    for code in (LEFT, RIGHT, INTERVAL):
        sel = kind == code
        if not np.any(sel):
            continue
        whole = bool(np.all(sel))
        part = out if whole else np.empty((int(sel.sum()), *mu.shape))
        if code == LEFT:
            np.subtract(upper[sel], mu, out=part)
            part /= sigma
            log_ndtr(part, out=part)
        elif code == RIGHT:
            np.subtract(mu, lower[sel], out=part)
            part /= sigma
            log_ndtr(part, out=part)
        else:
            part[...] = _interval_log_prob(
                (lower[sel] - mu) / sigma, (upper[sel] - mu) / sigma
            )
        if not whole:
            out[sel] = part
    return out


def _block_log_terms(data: _Data, par: _Params, start: int, stop: int) -> np.ndarray:
    """Joint log terms of rows start:stop, shape (rows, K, S)."""
    lp = np.einsum("nj,jc->nc", data.design[start:stop], par.coef)
    lp = lp.reshape(stop - start, par.n_comp, par.n_draws)
    for d, cens in enumerate(data.censored):
        if cens is None:
            continue
        lo, hi = np.searchsorted(cens.rows, [start, stop])
        if lo == hi:
            continue
        keys, local = np.unique(cens.key[lo:hi], return_inverse=True)
        terms = _censored_terms(cens, keys, par.mu[d], par.sigma[d])
        # Row by row: in place, and much faster than a fancy-indexed update.
        for row, key in zip(
            (cens.rows[lo:hi] - start).tolist(), local.reshape(-1).tolist(), strict=True
        ):
            lp[row] += terms[key]
    return lp


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


def _exp_shifted(lp: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """exp(lp - max_k lp) in ``dtype``, the max, and the sum over components.

    ``lp`` (rows, K, S) float64 is overwritten when ``dtype`` is float64 (and
    the result is ``lp`` itself); otherwise it is left as it was.
    """
    top = _max_over_components(lp)
    shifted = lp if np.dtype(dtype) == np.float64 else np.empty(lp.shape, dtype)
    with np.errstate(invalid="ignore"):
        np.subtract(lp, top[:, None, :], out=shifted, casting="same_kind")
    np.exp(shifted, out=shifted)
    return shifted, top, _sum_over_components(shifted)


def _probabilities(lp: np.ndarray, dtype) -> np.ndarray:
    """Membership probabilities (rows, K, S) from joint log terms."""
    prob, _, total = _exp_shifted(lp, dtype)
    prob /= total[:, None, :]
    return prob


def _log_normaliser(lp: np.ndarray) -> np.ndarray:
    """logsumexp over components, (rows, S); overwrites ``lp``."""
    _, top, total = _exp_shifted(lp, np.float64)
    with np.errstate(divide="ignore"):
        return top + np.log(total)


# --------------------------------------------------------------------------
# Driver


def _auto_chunk(n_comp: int, n_draws: int) -> int:
    return max(1, _BLOCK_BYTES // (n_comp * n_draws * 8))


def _run(cells, weights, means, scales, what, dtype, hdi_prob, chunk_size, n_threads):
    _check_cells(cells)
    w, mu, sigma = _check_draws(cells, weights, means, scales)
    chunk = _check_chunk_size(chunk_size)
    threads = _check_threads(n_threads)
    data = _prepare_data(cells)
    par = _prepare_params(w, mu, sigma, data.center)
    n_obs, n_draws, n_comp = cells.n_obs, par.n_draws, par.n_comp
    if chunk is None:
        chunk = _auto_chunk(n_comp, n_draws)

    if what == "lp":
        out = np.empty((n_draws, n_obs, n_comp))

        def work(start: int, stop: int) -> None:
            out[:, start:stop, :] = _block_log_terms(data, par, start, stop).transpose(
                2, 0, 1
            )

    elif what == "loglik":
        out = np.empty((n_draws, n_obs))

        def work(start: int, stop: int) -> None:
            lp = _block_log_terms(data, par, start, stop)
            out[:, start:stop] = _log_normaliser(lp).T

    elif what == "prob":
        out = np.empty((n_draws, n_obs, n_comp), dtype=dtype)

        def work(start: int, stop: int) -> None:
            prob = _probabilities(_block_log_terms(data, par, start, stop), np.float64)
            out[:, start:stop, :] = prob.transpose(2, 0, 1)

    elif what == "mean":
        out = np.empty((n_obs, n_comp))

        def work(start: int, stop: int) -> None:
            prob = _probabilities(_block_log_terms(data, par, start, stop), np.float64)
            out[start:stop] = prob.mean(axis=-1)

    else:
        mean = np.empty((n_obs, n_comp))
        lower = np.empty((n_obs, n_comp))
        upper = np.empty((n_obs, n_comp))

        def work(start: int, stop: int) -> None:
            prob = _probabilities(_block_log_terms(data, par, start, stop), dtype)
            mean[start:stop] = prob.mean(axis=-1, dtype=np.float64)
            lo, hi = hdi_in_place(prob, hdi_prob)
            lower[start:stop] = lo
            upper[start:stop] = hi

    _map_blocks(work, n_obs, chunk, threads)
    if what == "summary":
        return MembershipSummary(
            mean=mean, lower=lower, upper=upper, hdi_prob=float(hdi_prob)
        )
    return out


def _map_blocks(
    work: Callable[[int, int], None], n_obs: int, chunk: int, threads: int
) -> None:
    bounds = [(i, min(i + chunk, n_obs)) for i in range(0, n_obs, chunk)]
    if threads == 1 or len(bounds) <= 1:
        for start, stop in bounds:
            work(start, stop)
        return
    pool = ThreadPoolExecutor(max_workers=min(threads, len(bounds)))
    try:
        futures = [pool.submit(work, start, stop) for start, stop in bounds]
        for future in futures:
            future.result()
    finally:
        # On an error or an interrupt, blocks not yet started are dropped.
        pool.shutdown(wait=True, cancel_futures=True)
