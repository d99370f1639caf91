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
draws estimate a large covariance poorly, so a dense metric estimated by
warmup needs at least ``WARMUP_PER_PARAM`` warmup iterations per parameter
(latent values of censored cells count). The Laplace metric comes from the
curvature at the MAP, not from warmup draws, and has no such floor.
Without a mode to judge from, or without joint components, Stan's diagonal
default.

The separation also decides how the metric is found. Where the components
are well separated at the MAP, the Laplace approximation there (``inv(-H)``,
or its diagonal) is close to the covariance that warmup would estimate, so
``adaptation="auto"`` takes it as the metric, holds it fixed, and spends a
short warmup (``LAPLACE_WARMUP`` iterations) on the step size alone;
elsewhere Stan's windowed adaptation estimates the metric from the draws
over ``WINDOWED_WARMUP`` iterations. Components nearly all censored in a
column take the diagonal Laplace metric too: the ordered means step from
the best determined one (the pivot chart), so the curvature left is each
parameter's own, which a fixed diagonal metric follows (docs/benchmarks.md,
scenario (d)). A warmup the user sets is a request for the windowed
adaptation of that length, as long as that adaptation can estimate a metric
in it: stanli's runs Stan's default windows (an initial buffer of 75
iterations, a first window of 25 and a terminal buffer of 50) and estimates
none with fewer than their 150 iterations, keeping the metric the chains
start with (CmdStan shrinks the three windows to fit a shorter warmup and
estimates none below 20). A warmup too short for it takes the Laplace
metric wherever the chains start from the MAP and neither an inverse metric
nor ``metric="unit_e"`` is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stanmix._validation import float_array
from stanmix.engines._base import LaplaceUnavailableError
from stanmix.exceptions import StanmixInputError

METRICS = ("auto", "dense_e", "diag_e", "unit_e")
ADAPTATIONS = ("auto", "laplace", "windowed")
#: Warmup iterations of Stan's windowed adaptation, unless the user sets it.
WINDOWED_WARMUP = 1000
#: Warmup iterations (step size only) with the Laplace metric held fixed.
LAPLACE_WARMUP = 100
#: Fewest warmup iterations with which an engine's windowed adaptation
#: estimates a metric (engines not listed are taken to need the most).
WINDOWED_MIN_WARMUP = {"stanli": 150, "cmdstan": 20}
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
    warmup: int | None = 1000,
) -> str:
    """Return "dense_e" or "diag_e" for ``metric="auto"``.

    ``separation`` is the mean top membership probability at the MAP (None
    without a MAP or without joint components). ``warmup`` is the number of
    warmup iterations that estimate the metric, None where none do (the
    Laplace metric).

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
    >>> choose_metric(
    ...     n_unconstrained=40, separation=0.99, mostly_censored=False, warmup=None
    ... )
    'dense_e'
    """
    if separation is None or mostly_censored:
        return "diag_e"
    limit = DENSE_METRIC_MAX_PARAMS
    if warmup is not None:
        limit = min(limit, warmup // WARMUP_PER_PARAM)
    if n_unconstrained > limit:
        return "diag_e"
    if separation < DENSE_METRIC_MIN_SEPARATION:
        return "diag_e"
    return "dense_e"


def windowed_min_warmup(engine: str) -> int:
    """The fewest warmup iterations with which the windowed adaptation of
    the engine named ``engine`` estimates a metric; with fewer, the chains
    keep the metric they start with (the identity, or ``inv_metric``).

    stanli runs Stan's default windows, which need 150 iterations; CmdStan
    shrinks them to 15%, 75% and 10% of a shorter warmup, down to 20. An
    engine not known here is taken to need 150.

    Examples
    --------
    >>> windowed_min_warmup("stanli"), windowed_min_warmup("cmdstan")
    (150, 20)
    >>> windowed_min_warmup("my_engine")
    150
    """
    return WINDOWED_MIN_WARMUP.get(engine, max(WINDOWED_MIN_WARMUP.values()))


def choose_adaptation(
    *,
    separation: float | None,
    metric: str,
    warmup: int | None,
    metric_given: bool,
    at_map: bool,
    min_warmup: int = WINDOWED_MIN_WARMUP["stanli"],
) -> str:
    """Return "laplace" or "windowed" for ``adaptation="auto"``.

    "windowed" where the metric is ``"unit_e"`` or an inverse metric was
    given (nothing to compute), or where the chains do not start from a MAP
    (``at_map`` False: no curvature to take). Otherwise, with the user's
    ``warmup`` (None when not set): "laplace" where it is shorter than
    ``min_warmup``, the fewest iterations with which the windowed adaptation
    estimates a metric at all (see :func:`windowed_min_warmup`); "windowed"
    where it is at least that (a request for that adaptation); and, with
    ``warmup`` None, "laplace" where the components are well separated at
    the MAP (``separation``, the mean top membership probability, at least
    ``DENSE_METRIC_MIN_SEPARATION``; None without joint components).

    Examples
    --------
    >>> settings = dict(metric="dense_e", warmup=None, metric_given=False,
    ...                 at_map=True)
    >>> choose_adaptation(separation=0.99, **settings)
    'laplace'
    >>> choose_adaptation(separation=0.8, **settings)
    'windowed'
    >>> choose_adaptation(separation=0.99, **dict(settings, warmup=300))
    'windowed'
    >>> choose_adaptation(separation=0.8, **dict(settings, warmup=100))
    'laplace'
    >>> choose_adaptation(separation=0.8, min_warmup=20,
    ...                   **dict(settings, warmup=100))
    'windowed'
    >>> choose_adaptation(separation=None, **dict(settings, warmup=100,
    ...                                           at_map=False))
    'windowed'
    """
    if metric == "unit_e" or metric_given or not at_map:
        return "windowed"
    if warmup is not None:
        return "laplace" if warmup < min_warmup else "windowed"
    if separation is None or separation < DENSE_METRIC_MIN_SEPARATION:
        return "windowed"
    return "laplace"


def short_warmup_message(
    warmup: int, min_warmup: int, engine: str, given: bool, laplace: str | None
) -> str:
    """The warning for a windowed adaptation whose warmup is too short to
    estimate a metric: what the chains run on instead (``given``: the
    user's ``inv_metric``), and what to do (``laplace``: the settings that
    would give the Laplace metric, None where it cannot be had).

    Examples
    --------
    >>> print(short_warmup_message(100, 150, "stanli", False,
    ...                            "adaptation='laplace'"))
    ... # doctest: +NORMALIZE_WHITESPACE
    the metric cannot adapt with fewer than 150 warmup iterations (warmup=100):
    Stan's windowed adaptation on engine 'stanli' estimates none from fewer,
    so the chains run on the identity metric (metric_='unit_e',
    adaptation_='none') and only the step size is tuned; set warmup=150 or
    more, or use adaptation='laplace' (the metric from the curvature at the
    MAP, which needs only a short warmup)
    """
    kept = (
        "the given inv_metric, unchanged (adaptation_='none')"
        if given
        else "the identity metric (metric_='unit_e', adaptation_='none')"
    )
    fix = f"set warmup={min_warmup} or more"
    if laplace:
        fix += (
            f", or use {laplace} (the metric from the curvature at the MAP, "
            "which needs only a short warmup)"
        )
    return (
        f"the metric cannot adapt with fewer than {min_warmup} warmup iterations "
        f"(warmup={warmup}): Stan's windowed adaptation on engine {engine!r} "
        f"estimates none from fewer, so the chains run on {kept} and only the "
        f"step size is tuned; {fix}"
    )


def check_inv_metric(inv_metric, metric: str, n_unconstrained: int) -> np.ndarray:
    """The user's ``inv_metric`` as a float array, checked against ``metric``
    (``"auto"`` reads the kind from the shape: a vector is diagonal, a
    matrix dense) and the model's number of unconstrained parameters.

    Examples
    --------
    >>> check_inv_metric([1.0, 2.0], "auto", 2).tolist()
    [1.0, 2.0]
    >>> try:
    ...     check_inv_metric([1.0, 2.0, 3.0], "diag_e", 2)
    ... except ValueError as err:
    ...     print(err)  # doctest: +NORMALIZE_WHITESPACE
    inv_metric for metric='diag_e' must have shape (2,), one entry per
    unconstrained parameter of this model, got shape (3,)
    """
    if metric == "unit_e":
        raise StanmixInputError(
            "inv_metric sets the metric, which metric='unit_e' fixes to the "
            "identity; drop inv_metric or choose metric='diag_e' or 'dense_e'"
        )
    value = float_array("inv_metric", inv_metric)
    kind = metric
    if metric == "auto":
        kind = "dense_e" if value.ndim == 2 else "diag_e"
    n = int(n_unconstrained)
    shape = (n,) if kind == "diag_e" else (n, n)
    if value.shape != shape:
        raise StanmixInputError(
            f"inv_metric for metric={kind!r} must have shape {shape}, one entry "
            f"per unconstrained parameter of this model, got shape {value.shape}"
        )
    if not np.all(np.isfinite(value)):
        raise StanmixInputError("inv_metric has values that are not finite")
    if kind == "diag_e" and np.any(value <= 0):
        raise StanmixInputError(
            "inv_metric for metric='diag_e' must be positive (variances)"
        )
    if kind == "dense_e" and (
        not np.allclose(value, value.T) or np.any(np.linalg.eigvalsh(value) <= 0)
    ):
        raise StanmixInputError(
            "inv_metric for metric='dense_e' must be symmetric positive definite "
            "(a covariance matrix)"
        )
    return value


@dataclass(frozen=True)
class NutsPlan:
    """How NUTS adapts, as :func:`plan_nuts` settles it.

    ``adaptation`` is "laplace" (the metric held fixed), "windowed" or
    "none" (no metric estimated); ``inv_metric`` is the one the chains start
    from (None: the identity); ``adapt_metric`` says whether the engine's
    warmup may change it. ``warnings`` are for the user, ``notes`` for the
    log.
    """

    adaptation: str
    metric: str
    warmup: int
    inv_metric: np.ndarray | None
    adapt_metric: bool
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def plan_nuts(
    *,
    adaptation: str,
    metric: str,
    warmup: int | None,
    inv_metric: np.ndarray | None,
    adapt_engaged: bool,
    engine: str,
    n_unconstrained: int,
    separation: float | None,
    mostly_censored: bool,
    at_map: bool,
    laplace: Callable[[], np.ndarray | None] | None,
) -> NutsPlan:
    """Settle the user's ``adaptation``, ``metric`` and ``warmup`` (each
    possibly "auto" or None) for NUTS on the engine named ``engine``.

    ``inv_metric`` is the user's, already checked; ``separation`` the mean
    top membership probability at the MAP; ``at_map`` whether the chains
    start there; ``laplace`` computes the Laplace covariance at the MAP
    (None where it is not positive definite), and is itself None where no
    mode was found. It is called only where the Laplace metric is chosen.

    Examples
    --------
    >>> common = dict(metric="auto", warmup=None, inv_metric=None,
    ...               adapt_engaged=True, engine="stanli", n_unconstrained=2,
    ...               separation=0.99, mostly_censored=False, at_map=True)
    >>> plan = plan_nuts(adaptation="auto", laplace=lambda: np.eye(2), **common)
    >>> plan.adaptation, plan.metric, plan.warmup, plan.adapt_metric
    ('laplace', 'dense_e', 100, False)
    >>> plan = plan_nuts(adaptation="auto", laplace=lambda: None, **common)
    >>> plan.adaptation, plan.warmup, plan.adapt_metric, plan.warnings
    ('windowed', 1000, True, ())
    >>> plan = plan_nuts(adaptation="windowed", laplace=None,
    ...                  **dict(common, warmup=100))
    >>> plan.adaptation, plan.metric, len(plan.warnings)
    ('none', 'unit_e', 1)
    >>> plan = plan_nuts(adaptation="windowed", laplace=None, **dict(
    ...     common, metric="unit_e", warmup=150, adapt_engaged=False))
    >>> plan.adaptation, plan.metric, plan.warnings
    ('none', 'unit_e', ())
    """
    min_warmup = windowed_min_warmup(engine)
    given = inv_metric is not None
    asked = adaptation == "laplace"
    if adaptation == "auto":
        adaptation = choose_adaptation(
            separation=separation if at_map else None,
            metric=metric,
            warmup=warmup,
            metric_given=given,
            at_map=at_map,
            min_warmup=min_warmup,
        )
    covariance = None
    laplace_failed = False
    said: list[str] = []
    notes: list[str] = []
    if adaptation == "laplace":
        reason = "the log density's curvature at the MAP is not positive definite"
        try:
            covariance = None if laplace is None else laplace()
        except LaplaceUnavailableError as err:
            covariance, reason = None, str(err)
        if covariance is None:
            message = ("no posterior mode was found" if laplace is None else reason) + (
                ", so the Laplace approximation gives no metric; Stan's "
                "windowed adaptation is used instead"
            )
            notes.append(message)
            if asked:
                said.append(message)
            adaptation = "windowed"
            laplace_failed = laplace is not None
    if metric == "auto" and given:
        # The user's metric says its kind by its shape.
        metric = "dense_e" if np.ndim(inv_metric) == 2 else "diag_e"
    elif metric == "auto":
        # Warmup draws estimate the metric only where Laplace gave none.
        metric = choose_metric(
            n_unconstrained=n_unconstrained,
            warmup=None
            if covariance is not None
            else (WINDOWED_WARMUP if warmup is None else warmup),
            separation=separation,
            mostly_censored=mostly_censored,
        )
    if covariance is not None:
        inv_metric = covariance if metric == "dense_e" else np.diag(covariance).copy()
    if warmup is None:
        warmup = LAPLACE_WARMUP if covariance is not None else WINDOWED_WARMUP
    if covariance is None and not adapt_engaged:
        adaptation = "none"  # nothing is tuned, the unit metric's step size neither
    if (
        covariance is None
        and metric != "unit_e"
        and (not adapt_engaged or warmup < min_warmup)
    ):
        # No metric is estimated: the chains keep the one they start with,
        # the identity unless inv_metric gives one.
        if not given:
            metric = "unit_e"
        adaptation = "none"
        if adapt_engaged:
            hint = None
            if not (given or laplace_failed):
                hint = (
                    "adaptation='laplace'"
                    if at_map
                    else "init='map' with adaptation='laplace'"
                )
            said.append(short_warmup_message(warmup, min_warmup, engine, given, hint))
    return NutsPlan(
        adaptation=adaptation,
        metric=metric,
        warmup=warmup,
        inv_metric=inv_metric,
        adapt_metric=covariance is None,
        warnings=tuple(said),
        notes=tuple(notes),
    )
