"""Membership probabilities and pointwise log-likelihood of a normal mixture
with diagonal covariance, from draws given as arrays.

These are the normal-diagonal conveniences of :mod:`stanmix.likelihood`,
which computes the same for every family: draws are ``weights`` (S, K),
``means`` (S, K, D) and ``scales`` (S, K, D), with chains and draws
flattened into the first axis (with D = 1, (S, K) is accepted for means and
scales). Censored and missing cells are handled exactly; see
:mod:`stanmix.likelihood` for how the work is blocked and threaded.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from stanmix import likelihood
from stanmix.cells import CellTable
from stanmix.families.normal import NormalDiag
from stanmix.likelihood import MembershipSummary

__all__ = [
    "MembershipSummary",
    "joint_log_terms",
    "log_likelihood",
    "membership_draws",
    "membership_mean",
    "membership_summary",
]

_NORMAL = NormalDiag()


def _params(weights, means, scales) -> dict:
    return {"w": weights, "mu": means, "sigma": scales}


def joint_log_terms(
    cells: CellTable,
    weights: ArrayLike,
    means: ArrayLike,
    scales: ArrayLike,
    *,
    n_threads: int | None = None,
) -> np.ndarray:
    """Joint log terms ``lp[s, n, k] = log w_k + sum_d log f(cell_nd | k)``,
    shape (S, N, K); see :func:`stanmix.likelihood.log_terms`.

    Examples
    --------
    >>> import numpy as np
    >>> from stanmix.cells import CellTable
    >>> cells = CellTable.from_values([[0.0], [np.nan]])
    >>> lp = joint_log_terms(cells, [[0.5, 0.5]], [[[0.0], [1.0]]], [[[1.0], [1.0]]])
    >>> np.round(lp[0], 4).tolist()
    [[-1.6121, -2.1121], [-0.6931, -0.6931]]
    """
    return likelihood.log_terms(
        _NORMAL, cells, _params(weights, means, scales), n_threads=n_threads
    )


def log_likelihood(
    cells: CellTable,
    weights: ArrayLike,
    means: ArrayLike,
    scales: ArrayLike,
    *,
    chunk_size: int | None = None,
    n_threads: int | None = None,
) -> np.ndarray:
    """Pointwise log-likelihood, shape (S, N); see
    :func:`stanmix.likelihood.log_likelihood`.

    Examples
    --------
    >>> import numpy as np
    >>> from stanmix.cells import CellTable
    >>> cells = CellTable.from_values([[0.0], [np.nan]])
    >>> np.round(log_likelihood(cells, [[1.0]], [[[0.0]]], [[[1.0]]]), 4).tolist()
    [[-0.9189, 0.0]]
    """
    return likelihood.log_likelihood(
        _NORMAL,
        cells,
        _params(weights, means, scales),
        chunk_size=chunk_size,
        n_threads=n_threads,
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
    """Membership probabilities for every draw, (S, N, K); see
    :func:`stanmix.likelihood.membership_draws`.

    Examples
    --------
    >>> from stanmix.cells import CellTable
    >>> cells = CellTable.from_values([[0.0], [3.0]])
    >>> p = membership_draws(cells, [[0.5, 0.5]], [[[0.0], [3.0]]], [[[1.0], [1.0]]])
    >>> np.round(p[0], 4).tolist()
    [[0.989, 0.011], [0.011, 0.989]]
    """
    return likelihood.membership_draws(
        _NORMAL,
        cells,
        _params(weights, means, scales),
        chunk_size=chunk_size,
        dtype=dtype,
        n_threads=n_threads,
    )


def membership_mean(
    cells: CellTable,
    weights: ArrayLike,
    means: ArrayLike,
    scales: ArrayLike,
    *,
    chunk_size: int | None = None,
    n_threads: int | None = None,
) -> np.ndarray:
    """Posterior mean membership probabilities, (N, K); see
    :func:`stanmix.likelihood.membership_mean`.

    Examples
    --------
    >>> from stanmix.cells import CellTable
    >>> means = np.array([[[0.0], [3.0]]])
    >>> p = membership_mean(CellTable.from_values([[1.5]]), [[0.5, 0.5]], means,
    ...                     np.ones((1, 2, 1)))
    >>> p.round(3).tolist()
    [[0.5, 0.5]]
    """
    return likelihood.membership_mean(
        _NORMAL,
        cells,
        _params(weights, means, scales),
        chunk_size=chunk_size,
        n_threads=n_threads,
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
    """Posterior mean and HDI of each membership probability; see
    :func:`stanmix.likelihood.membership_summary`.

    Examples
    --------
    >>> from stanmix.cells import CellTable
    >>> rng = np.random.default_rng(0)
    >>> S = 200
    >>> means = np.stack([rng.normal(0, 0.1, S), rng.normal(3, 0.1, S)], 1)[..., None]
    >>> summary = membership_summary(
    ...     CellTable.from_values([[0.0], [1.5]]), np.full((S, 2), 0.5), means,
    ...     np.ones((S, 2, 1)))
    >>> np.round(summary.mean, 2).tolist()
    [[0.99, 0.01], [0.5, 0.5]]
    """
    return likelihood.membership_summary(
        _NORMAL,
        cells,
        _params(weights, means, scales),
        hdi_prob=hdi_prob,
        chunk_size=chunk_size,
        n_threads=n_threads,
    )
