"""One fit of one tool on one scenario, and the figures taken from it.

Each ``run_<tool>(scenario, algorithm, config)`` returns a dict of figures
for one of the algorithms ``"map"`` (MAP or EM), ``"vi"`` (variational) and
``"nuts"`` (NUTS, 4 chains). Build/compile time is measured before the
timed call and reported apart from it.

Every Bayesian model here has the same priors on standardized data (each
column centred on its mean and divided by its standard deviation), the
defaults of stanmix:

    mu_kd ~ normal(0, 3),  sigma_kd ~ lognormal(log 0.5, 1),
    w ~ dirichlet(3, ..., 3),

so stanmix and PyMC sample the same posterior and their ESS per second can
be compared. Results are reported back in the data's units.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scenarios import Scenario
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp
from scipy.stats import norm

TOOLS = ("stanmix", "pymc", "nutpie", "numpyro", "sklearn")
#: The tools that sample the PyMC model, each with its NUTS.
PYMC_SAMPLERS = ("pymc", "nutpie", "numpyro")
ALGORITHMS = ("map", "vi", "nuts")

#: PyMC's default number of tuning steps.
PYMC_TUNE = 1000

PRIOR_MEAN_SCALE = 3.0
PRIOR_SCALE_MEDIAN = 0.5
PRIOR_SCALE_LOG_SD = 1.0
PRIOR_CONCENTRATION = 3.0

METHOD_NAMES = {
    ("stanmix", "map"): "MAP (L-BFGS, 4 k-means starts)",
    ("stanmix", "vi"): "ADVI meanfield",
    ("stanmix", "nuts"): "NUTS",
    ("pymc", "map"): "MAP (pm.find_MAP)",
    ("pymc", "vi"): "ADVI (pm.fit)",
    ("pymc", "nuts"): "NUTS (pm.sample)",
    ("nutpie", "nuts"): "NUTS (nutpie, PyMC model)",
    ("numpyro", "nuts"): "NUTS (NumPyro, PyMC model)",
    ("sklearn", "map"): "EM (GaussianMixture)",
    ("sklearn", "vi"): "VB (BayesianGaussianMixture)",
}


@dataclass(frozen=True)
class Config:
    """What every fit in one benchmark run shares."""

    chains: int = 4
    #: None: each tool's default (PyMC 1000 tuning steps; stanmix 100 with
    #: the Laplace metric, else 1000); a number is given to both.
    warmup: int | None = None
    #: stanmix's ``adaptation`` ("auto", "laplace" or "windowed").
    adaptation: str = "auto"
    #: stanmix's ``adapt_delta`` (its default, 0.95, unless set).
    adapt_delta: float = 0.95
    draws: int = 1000
    seed: int = 1
    advi_iterations: int = 10_000
    membership_draws: int = 200


def algorithms_of(tool: str) -> tuple[str, ...]:
    """The algorithms a tool offers, in table order."""
    if tool == "sklearn":
        return ("map", "vi")
    if tool in ("nutpie", "numpyro"):
        return ("nuts",)
    return ALGORITHMS


# -- figures ---------------------------------------------------------------
def matched_means_rmse(
    estimated: np.ndarray, truth: np.ndarray, keep: np.ndarray | None = None
) -> float:
    """RMSE of component means after matching components to the truth.

    Components are matched by minimum total squared distance (Hungarian
    algorithm); the RMSE is over all K x D coordinates, in data units, or
    over the true components' coordinates where ``keep`` (K, D) is True.
    """
    estimated = np.asarray(estimated, dtype=float).reshape(truth.shape)
    cost = ((estimated[:, None, :] - truth[None, :, :]) ** 2).sum(axis=-1)
    rows, cols = linear_sum_assignment(cost)
    squared = np.zeros(truth.shape)
    squared[cols] = (estimated[rows] - truth[cols]) ** 2
    if keep is None:
        return float(np.sqrt(squared.mean()))
    return float(np.sqrt(squared[keep].mean()))


def identified_coordinates(scenario: Scenario, most: float = 0.9) -> np.ndarray:
    """(K, D) True where under ``most`` of a true component's cells are censored.

    Where nearly all of a component's cells in a column lie below the
    detection limit, the data only say its mean there is below the limit;
    no method recovers that coordinate from the data.
    """
    mask = scenario.censored_mask
    k = scenario.n_components
    share = np.array([mask[scenario.labels == j].mean(axis=0) for j in range(k)])
    return share < most


def ari(truth: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(truth, labels))


def mean_membership(
    X: np.ndarray,
    w: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    max_draws: int = 200,
    censored: np.ndarray | None = None,
) -> np.ndarray:
    """Posterior mean membership probabilities (N, K) from draws.

    ``w`` is (S, K), ``mu`` and ``sigma`` (S, K, D); at most ``max_draws``
    draws, evenly spaced, are used. A cell where ``censored`` (N, D) is True
    holds its lower detection limit and enters through the normal CDF there;
    every other cell (all of them when ``censored`` is None) through the
    density.
    """
    n_draws = w.shape[0]
    pick = np.unique(np.linspace(0, n_draws - 1, min(n_draws, max_draws)).astype(int))
    total = np.zeros((X.shape[0], w.shape[1]))
    below = None if censored is None else np.asarray(censored)[:, None, :]
    x = X[:, None, :]
    for s in pick:
        cells = norm.logpdf(x, mu[s], sigma[s])
        if below is not None:
            cells = np.where(below, norm.logcdf(x, mu[s], sigma[s]), cells)
        lp = np.log(w[s]) + cells.sum(axis=-1)
        total += np.exp(lp - logsumexp(lp, axis=1, keepdims=True))
    return total / pick.size


def draws_summary(posterior, var_names=("w", "mu", "sigma")) -> dict:
    """Smallest bulk ESS and largest R-hat over the named variables."""
    import arviz as az

    sub = posterior[list(var_names)]
    ess = az.ess(sub, method="bulk")
    rhat = az.rhat(sub)
    return {
        "min_ess_bulk": float(min(float(np.nanmin(ess[v].values)) for v in var_names)),
        "max_rhat": float(max(float(np.nanmax(rhat[v].values)) for v in var_names)),
    }


def _flatten(posterior, name: str, k: int) -> np.ndarray:
    arr = np.asarray(posterior[name].values)
    return arr.reshape(-1, k, *arr.shape[3:]) if arr.ndim > 3 else arr.reshape(-1, k)


@contextlib.contextmanager
def _caught() -> Iterator[list[str]]:
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield messages
    seen = []
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0][:200]}"
        if text not in seen:
            seen.append(text)
    messages.extend(seen[:5])


def _standardize(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    center = X.mean(axis=0)
    scale = X.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return (X - center) / scale, center, scale


def kmeans_start(Xs: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, int]:
    """k-means centres (sorted along the anchor) and the anchor dimension.

    The anchor is the dimension whose sorted centres have the largest
    smallest gap relative to the average within-cluster spread (the rule
    stanmix uses), so the ordering constraint separates the components.
    """
    from sklearn.cluster import KMeans

    km = KMeans(n_clusters=k, n_init=5, random_state=seed).fit(Xs)
    centers = km.cluster_centers_
    spread = np.array(
        [
            Xs[km.labels_ == j].std(axis=0)
            if (km.labels_ == j).sum() > 1
            else Xs.std(axis=0)
            for j in range(k)
        ]
    ).mean(axis=0)
    gaps = np.diff(np.sort(centers, axis=0), axis=0).min(axis=0)
    anchor = int(np.argmax(gaps / np.where(spread > 0, spread, 1.0)))
    return centers[np.argsort(centers[:, anchor], kind="stable")], anchor


# -- stanmix ---------------------------------------------------------------
def run_stanmix(scenario: Scenario, algorithm: str, config: Config) -> dict:
    import stanmix as sm
    from stanmix.programs import program_path

    engine = sm.get_engine("stanli")
    program = "normal_diag"
    start = time.perf_counter()
    engine.compile(program_path(program))
    build = time.perf_counter() - start

    timings: dict[str, float] = {}

    def timed(name, call):
        def run(*args, **kwargs):
            begin = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                timings[name] = timings.get(name, 0.0) + time.perf_counter() - begin

        return run

    engine.sample = timed("sampler", engine.sample)
    engine.optimize = timed("map_starts", engine.optimize)
    engine.laplace_covariance = timed("laplace", engine.laplace_covariance)
    chain_times = _chain_times()

    k = scenario.n_components
    if scenario.univariate:
        model = sm.NormalMixture(k, engine="stanli")
    else:
        model = sm.DiagonalMixture(k, engine="stanli")
    method = {"map": "optimize", "vi": "variational", "nuts": "sample"}[algorithm]
    kwargs = dict(method=method, seed=config.seed, show_progress=False)
    if algorithm == "nuts":
        kwargs.update(
            chains=config.chains,
            warmup=config.warmup,
            draws=config.draws,
            adaptation=config.adaptation,
            adapt_delta=config.adapt_delta,
            log_likelihood=False,
        )
    censoring = {"lower_limit": scenario.lower_limit} if scenario.censored else {}
    with _caught() as messages, chain_times as reports:
        start = time.perf_counter()
        model.fit(scenario.X, **kwargs, **censoring)
        wall = time.perf_counter() - start
        start = time.perf_counter()
        labels = model.predict(scenario.X, **censoring)
        timings["membership"] = time.perf_counter() - start

    out = {
        "build_seconds": build,
        "build_what": "stanc3 to MIR (StanliEngine.compile), fresh process",
        "wall_seconds": wall,
        "ari": ari(scenario.labels, labels),
        "means_rmse": matched_means_rmse(
            np.asarray(model.means_).reshape(k, -1), scenario.means
        ),
        "weights": np.asarray(model.weights_).tolist(),
        "means": np.asarray(model.means_).reshape(k, -1).tolist(),
        "warnings": messages,
        "engine": f"{model.engine_} {model.engine_version_}",
    }
    if algorithm == "nuts":
        post = model.idata_.posterior
        figures = draws_summary(post)
        out.update(figures)
        out["sampler_seconds"] = timings.get("sampler")
        out["ess_per_second"] = figures["min_ess_bulk"] / wall
        out["rhat_kind"] = "after relabelling (stanmix default)"
        if "posterior_raw" in model.idata_.groups():
            out["max_rhat_raw"] = draws_summary(model.idata_.posterior_raw)["max_rhat"]
        stats = model.idata_.sample_stats
        out["divergences"] = int(stats["diverging"].sum())
        out["step_size"] = float(stats["step_size"].mean())
        out["steps_per_draw"] = float(stats["n_steps"].mean())
        out["metric"] = model.metric_
        out["adaptation"] = model.adaptation_
        out["warmup"] = int(model.engine_result_info_["warmup"])
        # Where the time goes: the sampler's wall time split between warmup
        # and sampling in the proportion of the chains' own clocks.
        warm = sum(r.warmup_seconds for r in reports)
        total = warm + sum(r.sampling_seconds for r in reports)
        sampler = timings.get("sampler", 0.0)
        out["time_split"] = {
            "map_starts": timings.get("map_starts", 0.0),
            "laplace": timings.get("laplace", 0.0),
            "warmup": sampler * warm / total if total else None,
            "sampling": sampler * (1 - warm / total) if total else None,
            "after_sampler": wall
            - sampler
            - timings.get("map_starts", 0.0)
            - timings.get("laplace", 0.0),
            "membership_predict": timings["membership"],
        }
        out["label_switching"] = str(model.label_switching_)
    return out


@contextlib.contextmanager
def _chain_times():
    """The stanli chains' own warmup and sampling clocks, from the report
    stanli prints after a run (captured here instead of printed)."""
    import stanmix.engines._stanli as embedded

    reports: list = []
    plain = embedded._progress

    @contextlib.contextmanager
    def capturing(module, chains, iterations, show):
        printer, reporter = module._print_sample_progress, module._print_sample_reports
        module._print_sample_progress = lambda *args: None
        module._print_sample_reports = lambda found, *args: reports.extend(found)
        try:
            yield iterations
        finally:
            module._print_sample_progress = printer
            module._print_sample_reports = reporter

    embedded._progress = capturing
    try:
        yield reports
    finally:
        embedded._progress = plain


# -- PyMC ------------------------------------------------------------------
def pymc_model(scenario: Scenario, Xs: np.ndarray, start: np.ndarray, anchor: int):
    """The PyMC model of a scenario on standardized data ``Xs``.

    Univariate: ``pm.NormalMixture`` with ordered means. Multivariate: a
    ``pm.Mixture`` over a list of K ``pm.MvNormal`` components, each with a
    diagonal Cholesky factor, so each row (a D-vector) comes from one
    component; the means along ``anchor`` carry the ordered transform.
    ``start`` (K, D) are the initial means.

    The list form is used rather than one batched ``pm.MvNormal`` with a
    (K, D, D) factor: with the batched form PyTensor evaluates the
    triangular solves as a Python-level ``Blockwise`` loop over every
    (observation, component) pair, about ten times slower per gradient.

    A censored scenario has no built-in PyMC likelihood (``pm.Censored``
    censors each value on its own, not a row inside a mixture component), so
    the rows enter through a ``pm.Potential``: per row and component, the
    normal log density of each observed cell plus the normal log CDF at the
    limit of each censored cell, then the log-sum-exp over the components
    with the log weights. It is the likelihood stanmix's program has.
    """
    import pymc as pm
    import pytensor.tensor as pt

    k, d = scenario.n_components, Xs.shape[1]
    ordered = pm.distributions.transforms.ordered
    with pm.Model() as model:
        w = pm.Dirichlet("w", a=np.full(k, PRIOR_CONCENTRATION))
        if scenario.univariate:
            mu = pm.Normal(
                "mu",
                mu=0.0,
                sigma=PRIOR_MEAN_SCALE,
                shape=k,
                transform=ordered,
                initval=start[:, 0],
            )
            sigma = pm.LogNormal(
                "sigma",
                mu=np.log(PRIOR_SCALE_MEDIAN),
                sigma=PRIOR_SCALE_LOG_SD,
                shape=k,
            )
            pm.NormalMixture("y", w=w, mu=mu, sigma=sigma, observed=Xs[:, 0])
            return model
        rest = [j for j in range(d) if j != anchor]
        mu_anchor = pm.Normal(
            "mu_anchor",
            mu=0.0,
            sigma=PRIOR_MEAN_SCALE,
            shape=k,
            transform=ordered,
            initval=start[:, anchor],
        )
        mu_rest = pm.Normal(
            "mu_rest",
            mu=0.0,
            sigma=PRIOR_MEAN_SCALE,
            shape=(k, d - 1),
            initval=start[:, rest],
        )
        mu = pt.zeros((k, d))
        mu = pt.set_subtensor(mu[:, anchor], mu_anchor)
        mu = pt.set_subtensor(mu[:, rest], mu_rest)
        mu = pm.Deterministic("mu", mu)
        sigma = pm.LogNormal(
            "sigma",
            mu=np.log(PRIOR_SCALE_MEDIAN),
            sigma=PRIOR_SCALE_LOG_SD,
            shape=(k, d),
        )
        if scenario.censored:
            below = scenario.censored_mask[:, None, :]
            z = (Xs[:, None, :] - mu[None]) / sigma[None]
            density = -0.5 * z**2 - pt.log(sigma)[None] - 0.5 * np.log(2 * np.pi)
            cells = pt.where(below, normal_log_cdf(z), density)
            terms = pt.log(w)[None] + cells.sum(axis=-1)
            pm.Potential("x", pm.math.logsumexp(terms, axis=1).sum())
            return model
        components = [
            pm.MvNormal.dist(mu=mu[j], chol=pt.diag(sigma[j])) for j in range(k)
        ]
        pm.Mixture("x", w=w, comp_dists=components, observed=Xs)
    return model


def normal_log_cdf(z):
    """log Phi(z) as a PyTensor expression every PyMC backend can compile.

    PyMC's own normal log CDF uses ``erfcx``, which its JAX backend (and so
    NumPyro) lacks. Above z = -10 this is log(erfc(-z / sqrt 2) / 2), which
    is accurate there in double precision; below, the asymptotic series
    log(phi(z) / -z * (1 - 1/z^2 + 3/z^4 - 15/z^6 + 105/z^8)), off by under
    1e-7 at z = -10 and less below (against ``scipy.special.log_ndtr``).
    Each branch is evaluated only on its own side of -10 (the other is
    clamped there), so neither feeds a NaN into the gradient.
    """
    import pytensor.tensor as pt

    cut = -10.0
    upper = pt.maximum(z, cut)
    lower = pt.minimum(z, cut)
    near = pt.log(0.5 * pt.erfc(-upper / np.sqrt(2.0)))
    inv = 1.0 / (lower * lower)
    series = 1.0 + inv * (-1.0 + inv * (3.0 + inv * (-15.0 + inv * 105.0)))
    tail = (
        -0.5 * lower * lower
        - 0.5 * np.log(2.0 * np.pi)
        - pt.log(-lower)
        + pt.log(series)
    )
    return pt.where(z > cut, near, tail)


def run_pymc(
    scenario: Scenario, algorithm: str, config: Config, sampler: str = "pymc"
) -> dict:
    """PyMC's find_MAP, ADVI or NUTS on the scenario's model; ``sampler``
    "nutpie" or "numpyro" runs that NUTS on the same model instead of
    PyMC's own (its defaults otherwise: target acceptance 0.8)."""
    if sampler == "numpyro":
        # One XLA host device per chain, so NumPyro runs the chains in
        # parallel (over the machine's cores) rather than one after another.
        os.environ.setdefault(
            "XLA_FLAGS", f"--xla_force_host_platform_device_count={config.chains}"
        )
    import pymc as pm

    X = scenario.X.to_numpy(dtype=float)
    Xs, center, scale = _standardize(X)
    k = scenario.n_components
    start, anchor = kmeans_start(Xs, k, config.seed)

    begin = time.perf_counter()
    model = pymc_model(scenario, Xs, start, anchor)
    construct = time.perf_counter() - begin
    begin = time.perf_counter()
    compiled = None
    if sampler == "nutpie":
        import nutpie

        compiled = nutpie.compile_pymc_model(model)
        what = "model construction + nutpie.compile_pymc_model (numba), fresh process"
    elif sampler == "numpyro":
        import jax
        from pymc.sampling.jax import get_jaxified_logp

        logp = jax.jit(jax.value_and_grad(get_jaxified_logp(model)))
        logp([np.asarray(v) for v in model.initial_point().values()])
        what = (
            "model construction + JAX logp and gradient, jit-compiled and run "
            "once, fresh process (NumPyro compiles its sampler inside wall s)"
        )
    else:
        model.compile_logp()
        model.compile_dlogp()
        what = (
            "model construction + first compile of logp and dlogp, fresh "
            "process, pytensor C cache warm"
        )
    compile_seconds = time.perf_counter() - begin

    out: dict = {
        "build_seconds": construct + compile_seconds,
        "build_what": what,
        "construct_seconds": construct,
        "compile_seconds": compile_seconds,
        "anchor": anchor,
    }

    def to_data_units(w, mu, sigma):
        mu = np.asarray(mu).reshape(*np.shape(w), -1)
        sigma = np.asarray(sigma).reshape(mu.shape)
        return np.asarray(w), mu * scale + center, sigma * scale

    with _caught() as messages, model:
        if algorithm == "map":
            begin = time.perf_counter()
            point = pm.find_MAP(progressbar=False, seed=config.seed)
            wall = time.perf_counter() - begin
            w, mu, sigma = to_data_units(point["w"], point["mu"], point["sigma"])
            draws = (w[None], mu[None], sigma[None])
        else:
            if algorithm == "vi":
                begin = time.perf_counter()
                approx = pm.fit(
                    n=config.advi_iterations,
                    method="advi",
                    random_seed=config.seed,
                    progressbar=False,
                )
                wall = time.perf_counter() - begin
                idata = approx.sample(config.draws, random_seed=config.seed)
                out["final_loss"] = float(np.asarray(approx.hist)[-1])
            else:
                tune = PYMC_TUNE if config.warmup is None else config.warmup
                begin = time.perf_counter()
                if sampler == "nutpie":
                    import nutpie

                    idata = nutpie.sample(
                        compiled,
                        draws=config.draws,
                        tune=tune,
                        chains=config.chains,
                        cores=os.cpu_count(),
                        seed=config.seed,
                        save_warmup=False,
                        progress_bar=False,
                    )
                    wall = time.perf_counter() - begin
                    out["wall_what"] = "nutpie.sample (tuning + draws)"
                else:
                    extra = {"nuts_sampler": "numpyro"} if sampler == "numpyro" else {}
                    idata = pm.sample(
                        draws=config.draws,
                        tune=tune,
                        chains=config.chains,
                        random_seed=config.seed,
                        progressbar=False,
                        compute_convergence_checks=False,
                        **extra,
                    )
                    total = time.perf_counter() - begin
                    stats = idata.sample_stats.attrs
                    wall = float(
                        stats.get(
                            "sampling_time",
                            idata.posterior.attrs.get("sampling_time", total),
                        )
                    )
                    out["pm_sample_total_seconds"] = total
                    out["pm_sample_setup_seconds"] = total - wall
                    out["wall_what"] = (
                        "PyMC's sampling_time (NumPyro's compilation of its "
                        "sampler, tuning + draws)"
                        if sampler == "numpyro"
                        else "PyMC's sampling_time (tuning + draws, after setup)"
                    )
                figures = draws_summary(idata.posterior)
                out.update(figures)
                out["ess_per_second"] = figures["min_ess_bulk"] / wall
                out["rhat_kind"] = "raw (ordered transform, no relabelling)"
                out["divergences"] = int(idata.sample_stats["diverging"].sum())
                out["cores"] = int(idata.posterior.attrs.get("cores", 0)) or None
            post = idata.posterior
            draws = to_data_units(
                _flatten(post, "w", k),
                _flatten(post, "mu", k),
                _flatten(post, "sigma", k),
            )
        w, mu, sigma = draws
        censored = scenario.censored_mask if scenario.censored else None
        probs = mean_membership(X, w, mu, sigma, config.membership_draws, censored)
    out.update(
        {
            "wall_seconds": wall,
            "ari": ari(scenario.labels, probs.argmax(axis=1)),
            "means_rmse": matched_means_rmse(mu.mean(axis=0), scenario.means),
            "weights": w.mean(axis=0).tolist(),
            "means": mu.mean(axis=0).tolist(),
            "warnings": messages,
        }
    )
    return out


# -- scikit-learn ----------------------------------------------------------
def run_sklearn(scenario: Scenario, algorithm: str, config: Config) -> dict:
    from sklearn.mixture import BayesianGaussianMixture, GaussianMixture

    X = scenario.X.to_numpy(dtype=float)
    k = scenario.n_components
    cls = GaussianMixture if algorithm == "map" else BayesianGaussianMixture
    model = cls(n_components=k, covariance_type="diag", random_state=config.seed)
    with _caught() as messages:
        begin = time.perf_counter()
        model.fit(X)
        wall = time.perf_counter() - begin
        labels = model.predict(X)
    return {
        "build_seconds": None,
        "wall_seconds": wall,
        "ari": ari(scenario.labels, labels),
        "means_rmse": matched_means_rmse(model.means_, scenario.means),
        "weights": model.weights_.tolist(),
        "means": model.means_.tolist(),
        "converged": bool(model.converged_),
        "iterations": int(model.n_iter_),
        "warnings": messages,
    }


RUNNERS = {
    "stanmix": run_stanmix,
    "pymc": run_pymc,
    "nutpie": functools.partial(run_pymc, sampler="nutpie"),
    "numpyro": functools.partial(run_pymc, sampler="numpyro"),
    "sklearn": run_sklearn,
}
