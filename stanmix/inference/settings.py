"""fit's settings: what each method uses, their defaults, and their checks.

A setting given with a method that does not use it (``draws`` for the
posterior mode, ``chains`` for ADVI, ``algorithm`` for NUTS, ...) is
refused rather than ignored; left at its default it passes. The defaults
here are ``Mixture.fit``'s own (a test holds the signature to them).

``log_likelihood`` and ``show_progress`` apply to every method, so they are
not in ``METHOD_ARGS``: the command line and ``fit_many`` pass
``show_progress`` whatever the method, and the posterior mode and ADVI,
which have no progress to show, take it and change nothing.
"""

from __future__ import annotations

from collections.abc import Mapping

from stanmix import _validation as check
from stanmix.engines import FIXED_METRIC_MAX_WARMUP
from stanmix.exceptions import StanmixInputError
from stanmix.inference.metric import ADAPTATIONS, METRICS

METHODS = ("optimize", "variational", "sample")
INITS = ("map", "kmeans", "pathfinder", "random")
ALGORITHMS = ("meanfield", "fullrank")
#: The methods each method-specific setting applies to.
METHOD_ARGS = {
    "chains": ("sample",),
    "warmup": ("sample",),
    "draws": ("sample", "variational"),
    "algorithm": ("variational",),
    "adapt_delta": ("sample",),
    "metric": ("sample",),
    "adaptation": ("sample",),
}
#: Other libraries' names of fit's settings (cmdstanpy and CmdStan, PyMC,
#: scikit-learn), and what fit calls them, for an error that says so.
FOREIGN_NAMES = {
    "iter_sampling": "draws=",
    "num_samples": "draws=",
    "n_samples": "draws=",
    "iter_warmup": "warmup=",
    "num_warmup": "warmup=",
    "tune": "warmup=",
    "num_chains": "chains=",
    "n_chains": "chains=",
    "random_state": "seed=",
    "random_seed": "seed=",
    "inits": "init=",
    "initvals": "init=",
    "target_accept": "adapt_delta=",
    "n_init": "n_starts=",
    "max_iter": "iter= with method='optimize' or 'variational'",
}
#: Fewest NUTS draws kept per chain: R-hat, bulk ESS and the check for
#: label switching need four.
MIN_NUTS_DRAWS = 4
#: fit's defaults of those settings and of ``n_starts``.
FIT_DEFAULTS = {
    "chains": 4,
    "warmup": None,
    "draws": 1000,
    "n_starts": 4,
    "algorithm": "meanfield",
    "adapt_delta": 0.95,
    "metric": "auto",
    "adaptation": "auto",
}


def _differs(value, default) -> bool:
    """Whether a setting was given another value than its default (an
    array, which has no single truth value, counts as given)."""
    try:
        return bool(value != default)
    except (TypeError, ValueError):
        return True


def check_fit_settings(
    *,
    method: str,
    init,
    chains: int,
    warmup: int | None,
    draws: int,
    n_starts: int,
    algorithm: str,
    adapt_delta: float,
    metric: str,
    adaptation: str,
    jacobian: bool,
    seed: int | None,
    log_likelihood: bool | None = None,
    show_progress: bool | None = None,
) -> int | None:
    """Check ``fit``'s settings and that ``method`` uses each one given;
    return the seed (None when not given). Raises StanmixInputError naming
    the setting and the fix.

    Examples
    --------
    >>> settings = dict(FIT_DEFAULTS, method="optimize", init="map",
    ...                 jacobian=True, seed=3)
    >>> check_fit_settings(**settings)
    3
    >>> try:
    ...     check_fit_settings(**dict(settings, draws=500))
    ... except ValueError as err:
    ...     print(err)
    draws=500 does not apply to method='optimize'; leave it out
    """
    check.one_of("method", method, METHODS)
    given = {
        "chains": chains,
        "warmup": warmup,
        "draws": draws,
        "algorithm": algorithm,
        "adapt_delta": adapt_delta,
        "metric": metric,
        "adaptation": adaptation,
    }
    unused = [
        f"{name}={value!r}"
        for name, value in given.items()
        if method not in METHOD_ARGS[name] and _differs(value, FIT_DEFAULTS[name])
    ]
    if unused:
        verb = "does" if len(unused) == 1 else "do"
        raise StanmixInputError(
            f"{' and '.join(unused)} {verb} not apply to method={method!r}; "
            f"leave {'it' if len(unused) == 1 else 'them'} out"
        )
    if isinstance(init, str):
        check.one_of(
            "init",
            init,
            INITS,
            ", or give parameter values (a dict, or a list of dicts, one per chain)",
        )
    elif not isinstance(init, (Mapping, list, tuple)):
        raise StanmixInputError(
            f"init must be a name or parameter values, got {type(init).__name__}"
        )
    check.integer("chains", chains, low=1)
    if warmup is not None:
        check.integer("warmup", warmup, low=0)
    check.integer("draws", draws, low=1)
    check.integer("n_starts", n_starts, low=1)
    if init == "pathfinder" and method != "sample":
        raise StanmixInputError(
            f"init='pathfinder' starts NUTS chains; method={method!r} starts "
            "from 'map', 'kmeans', 'random' or parameter values"
        )
    starts_used = isinstance(init, str) and (
        method == "optimize" or init == "map" or (method, init) == ("sample", "kmeans")
    )
    if not starts_used and n_starts != FIT_DEFAULTS["n_starts"]:
        if not isinstance(init, str):
            raise StanmixInputError(
                f"n_starts={n_starts} does not apply with init values: each "
                "dict given is one start (a list of dicts gives several); leave "
                "n_starts out"
            )
        how = f"init={init!r}"
        raise StanmixInputError(
            f"n_starts={n_starts} does not apply to method={method!r} with "
            f"{how}: it counts the optimizer's starts (method='optimize', or "
            "init='map') and the k-means starts of NUTS chains "
            "(init='kmeans'); leave it out"
        )
    check.one_of("algorithm", algorithm, ALGORITHMS)
    check.number("adapt_delta", adapt_delta, low=0, high=1)
    check.one_of("metric", metric, METRICS)
    check.one_of("adaptation", adaptation, ADAPTATIONS)
    if adaptation == "laplace":
        if init != "map":
            raise StanmixInputError(
                "adaptation='laplace' takes its metric from the MAP, so it "
                f"needs init='map' (got init={init!r}); use "
                "adaptation='windowed' with other inits"
            )
        if metric == "unit_e":
            raise StanmixInputError(
                "adaptation='laplace' sets the metric, which metric='unit_e' "
                "fixes to the identity; choose metric='auto', 'dense_e' or "
                "'diag_e'"
            )
        if warmup is not None and warmup > FIXED_METRIC_MAX_WARMUP:
            raise StanmixInputError(
                f"adaptation='laplace' tunes only the step size, for at most "
                f"{FIXED_METRIC_MAX_WARMUP} warmup iterations (got "
                f"warmup={warmup}); leave warmup unset (100) or use "
                "adaptation='windowed' for a longer warmup"
            )
    check.flag("jacobian", jacobian)
    check.flag("log_likelihood", log_likelihood, none="store it when it is small")
    if log_likelihood and method == "optimize":
        raise StanmixInputError(
            "log_likelihood=True stores the pointwise log-likelihood of draws "
            "(method='sample' or 'variational'); a posterior mode is one point, "
            "on which az.loo fails and az.waic ranks it first with no penalty "
            "(p_waic = 0); score a mode with model.bic(), or leave "
            "log_likelihood out"
        )
    check.flag("show_progress", show_progress, none="a bar on a terminal")
    if not jacobian and method != "optimize":
        raise StanmixInputError("jacobian=False applies only to method='optimize'")
    return check.seed(seed)
