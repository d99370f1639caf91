"""The NUTS mass matrix that ``metric="auto"`` chooses.

A dense metric pays off when the posterior is close to Gaussian, which for
a mixture means components that rarely share points: at the mode, each
point's most probable component holds it with probability at least
``DENSE_METRIC_MIN_SEPARATION`` on average. Ordering the means couples each
mean to its neighbours on the unconstrained scale, which a diagonal metric
cannot follow, so there a dense one takes about half the leapfrog steps
(docs/benchmarks.md). Heavily overlapping components give curved
posteriors where a dense estimate is no better than a diagonal one and
noisier; so do components whose rows are nearly all censored in a column,
which rest on the prior there (a wedge, not an ellipse); and the warmup's
draws estimate a large covariance poorly, so a dense metric needs at least
``WARMUP_PER_PARAM`` warmup iterations per parameter (latent values of
censored cells count). Without a mode to judge from, or without joint
components, Stan's diagonal default.
"""

from __future__ import annotations

METRICS = ("auto", "dense_e", "diag_e", "unit_e")
#: metric="auto": "dense_e" up to this many unconstrained parameters ...
DENSE_METRIC_MAX_PARAMS = 100
#: ... and this mean top membership probability at the MAP ...
DENSE_METRIC_MIN_SEPARATION = 0.9
#: ... and at least this many warmup iterations per unconstrained parameter.
WARMUP_PER_PARAM = 10


def choose_metric(
    *,
    n_unconstrained: int,
    separation: float | None,
    mostly_censored: bool,
    warmup: int = 1000,
) -> str:
    """Return "dense_e" or "diag_e" for ``metric="auto"``.

    ``separation`` is the mean top membership probability at the MAP (None
    without a MAP or without joint components).

    Examples
    --------
    >>> choose_metric(n_unconstrained=14, separation=0.99, mostly_censored=False)
    'dense_e'
    >>> choose_metric(n_unconstrained=14, separation=0.8, mostly_censored=False)
    'diag_e'
    >>> choose_metric(
    ...     n_unconstrained=40, separation=0.99, mostly_censored=False, warmup=200
    ... )
    'diag_e'
    """
    if separation is None or mostly_censored:
        return "diag_e"
    limit = min(DENSE_METRIC_MAX_PARAMS, warmup // WARMUP_PER_PARAM)
    if n_unconstrained > limit:
        return "diag_e"
    if separation < DENSE_METRIC_MIN_SEPARATION:
        return "diag_e"
    return "dense_e"
