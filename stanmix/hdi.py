"""Highest density intervals from samples, vectorised over many quantities.

The interval is the one ArviZ reports for a unimodal HDI: sort the samples,
slide a window spanning ``floor(prob * n)`` index steps (so it holds
``floor(prob * n) + 1`` samples, which is ``ceil(prob * n)`` whenever
``prob * n`` is not an integer) and keep the narrowest window, the first one
on ties.
"""

from __future__ import annotations

import math

import numpy as np

from stanmix import _validation as check
from stanmix.exceptions import StanmixInputError

__all__ = ["hdi"]


def check_prob(prob: float, name: str = "prob") -> float:
    """``prob`` as a float, or an error if it is not a number (bool and str
    are not) strictly between 0 and 1.

    Examples
    --------
    >>> check_prob(np.float32(0.5))
    0.5
    >>> try:
    ...     check_prob(1.0, "hdi_prob")
    ... except StanmixInputError as err:
    ...     print(str(err)[:53])
    hdi_prob must be a number between 0 and 1 (exclusive)
    """
    hint = "pass e.g. 0.94 for a 94% interval"
    return check.number(name, prob, low=0, high=1, hint=hint)


def hdi_in_place(x: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray]:
    """HDI bounds along the last axis, reordering ``x`` in place.

    Only the two tails that can bound the interval are sorted: the
    ``n - m`` smallest and the ``n - m`` largest values (``m = floor(prob *
    n)``), after two partitions, which gives the same bounds as a full sort
    at a fraction of its cost. ``x`` is left partially ordered.

    Parameters
    ----------
    x : ndarray, shape (..., n)
        Samples along the last axis; overwritten by a reordering of itself.
    prob : float
        Probability mass of the interval, strictly in (0, 1).

    Returns
    -------
    lower, upper : ndarray, shape (...)
        Bounds with the dtype of ``x``; NaN where a slice holds a NaN.
    """
    n = x.shape[-1]
    step = math.floor(prob * n)
    tail = n - step
    if step >= tail:
        x.partition(tail - 1, axis=-1)
        if step > tail:
            x[..., tail:].partition(step - tail, axis=-1)
        x[..., :tail].sort(axis=-1)
        x[..., step:].sort(axis=-1)
    else:
        x.sort(axis=-1)
    # Widths in double precision, so float32 samples rank windows exactly as
    # their double-precision values would.
    widths = np.subtract(x[..., step:], x[..., :tail], dtype=np.float64)
    start = np.argmin(widths, axis=-1)[..., None]
    lower = np.take_along_axis(x, start, axis=-1)[..., 0]
    upper = np.take_along_axis(x, start + step, axis=-1)[..., 0]
    has_nan = np.isnan(x[..., -1])
    if np.any(has_nan):
        lower = np.where(has_nan, np.nan, lower).astype(x.dtype)
        upper = np.where(has_nan, np.nan, upper).astype(x.dtype)
    return lower, upper


def hdi(
    samples: np.ndarray, prob: float = 0.94, axis: int = -1
) -> tuple[np.ndarray, np.ndarray]:
    """Highest density interval along one axis, for every other index.

    The narrowest interval ``[x_(i), x_(i + m)]`` between sorted samples with
    ``m = floor(prob * n)``, that is the narrowest run of ``floor(prob * n) + 1``
    consecutive sorted samples (``ceil(prob * n)`` of them whenever
    ``prob * n`` is not an integer). This is the unimodal HDI of
    ``arviz.hdi``; on ties the lowest interval wins, as there.

    Parameters
    ----------
    samples : array_like
        Samples, with the draws along ``axis``. Integer input is converted to
        float64; float32 stays float32.
    prob : float, default 0.94
        Probability mass of the interval, strictly between 0 and 1.
    axis : int, default -1
        The axis holding the draws.

    Returns
    -------
    lower, upper : ndarray
        Interval bounds, each of ``samples.shape`` with ``axis`` removed.
        A slice containing NaN gets NaN bounds.

    Raises
    ------
    StanmixInputError
        If ``prob`` is not in (0, 1), ``axis`` is out of range or the draws
        axis is empty.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.0, 1.0, 2.0, 3.0, 10.0], [5.0, 5.0, 6.0, 9.0, 9.5]])
    >>> lower, upper = hdi(x, prob=0.6)
    >>> lower.tolist(), upper.tolist()
    ([0.0, 5.0], [3.0, 9.0])
    """
    prob = check_prob(prob, "prob")
    x = np.asarray(samples)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    if x.ndim == 0:
        raise StanmixInputError(
            "samples must have at least one axis holding the draws, got a scalar"
        )
    if not -x.ndim <= axis < x.ndim:
        raise StanmixInputError(
            f"axis={axis} is out of range for samples of shape {x.shape}; "
            f"pass an axis between {-x.ndim} and {x.ndim - 1}"
        )
    if x.shape[axis] == 0:
        raise StanmixInputError(
            f"samples has no draws along axis {axis} (shape {x.shape}); "
            "pass at least one draw"
        )
    work = np.array(np.moveaxis(x, axis, -1), copy=True, order="C")
    return hdi_in_place(work, prob)
