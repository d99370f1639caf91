"""The estimators: NormalMixture (univariate) and DiagonalMixture (joint, D-dim).

Both follow scikit-learn's conventions: the constructor stores parameters,
``fit`` returns ``self``, and fitted state lives in attributes ending in an
underscore, chief among them ``idata_``, an ArviZ InferenceData.
"""

from __future__ import annotations

import inspect
import logging
import sys
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from stanmix.cells import CellTable
from stanmix.censoring import cell_table
from stanmix.engines import get_engine
from stanmix.engines._base import EngineResult
from stanmix.exceptions import NotFittedError, StanmixInputError
from stanmix.inference_data import az, build_inference_data
from stanmix.initialization import Clustering, choose_anchor, jitter, kmeans
from stanmix.programs import program_path

logger = logging.getLogger("stanmix")

METHODS = ("optimize", "variational", "sample")
INITS = ("map", "kmeans", "pathfinder", "random")
_CENSORED_WARN = 0.9  # censored share of a component's rows that triggers a warning
METRICS = ("auto", "dense_e", "diag_e", "unit_e")
DENSE_METRIC_MAX_PARAMS = 100  # metric="auto": "dense_e" up to this many parameters
DENSE_METRIC_MIN_SEPARATION = 0.9  # ... and this mean top membership at the MAP
RELABEL = ("auto", "stephens", "reference", "ecr", "order", "none")
_STEPHENS_BUDGET = 50_000_000  # membership entries (chain x draw x obs x K)


class _Mixture:
    """The fit workflow shared by the mixture estimators."""

    _program: str
    _univariate: bool

    def __init__(
        self,
        n_components: int = 2,
        *,
        engine: str = "auto",
        standardize: bool = True,
        relabel: str = "auto",
        prior_mean_scale: float = 3.0,
        prior_scale_median: float = 0.5,
        prior_scale_log_sd: float = 1.0,
        prior_concentration: float = 3.0,
        guided_prior_scale: float | None = None,
        hdi_prob: float = 0.94,
    ) -> None:
        self.n_components = n_components
        self.engine = engine
        self.standardize = standardize
        self.relabel = relabel
        self.prior_mean_scale = prior_mean_scale
        self.prior_scale_median = prior_scale_median
        self.prior_scale_log_sd = prior_scale_log_sd
        self.prior_concentration = prior_concentration
        self.guided_prior_scale = guided_prior_scale
        self.hdi_prob = hdi_prob

    # -- scikit-learn plumbing ------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        names = []
        for klass in cls.__mro__:
            if klass is not object and "__init__" in vars(klass):
                sig = inspect.signature(klass.__init__)
                names += [p for p in sig.parameters if p != "self" and p not in names]
        return names

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters, as scikit-learn's ``get_params``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> _Mixture:
        """Set constructor parameters, as scikit-learn's ``set_params``."""
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise StanmixInputError(
                    f"unknown parameter {key!r} for {type(self).__name__}; "
                    f"valid parameters: {', '.join(valid)}"
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            name: p.default
            for klass in type(self).__mro__
            if klass is not object and "__init__" in vars(klass)
            for name, p in inspect.signature(klass.__init__).parameters.items()
        }
        shown = [
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if k == "n_components" or not _same(v, defaults.get(k))
        ]
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- validation -----------------------------------------------------------
    def _check_params(self, method, init, chains, warmup, draws, n_starts) -> None:
        k = self.n_components
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise StanmixInputError(
                f"n_components must be a positive integer, got {k!r}"
            )
        if method not in METHODS:
            raise StanmixInputError(
                f"unknown method {method!r}; choose one of {', '.join(METHODS)}"
            )
        if isinstance(init, str) and init not in INITS:
            raise StanmixInputError(
                f"unknown init {init!r}; choose one of {', '.join(INITS)}, or give "
                "parameter values (a dict, or a list of dicts, one per chain)"
            )
        if not isinstance(init, (str, Mapping, list, tuple)):
            raise StanmixInputError(
                f"init must be a name or parameter values, got {type(init).__name__}"
            )
        relabel = "none" if self.relabel in (None, False) else self.relabel
        if relabel not in RELABEL:
            raise StanmixInputError(
                f"unknown relabel {self.relabel!r}; choose one of {', '.join(RELABEL)}"
                " (or None to keep the raw labels)"
            )
        for name, value, low in (
            ("chains", chains, 1),
            ("warmup", warmup, 0),
            ("draws", draws, 1),
            ("n_starts", n_starts, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise StanmixInputError(f"{name} must be an integer, got {value!r}")
            if value < low:
                raise StanmixInputError(f"{name} must be at least {low}, got {value}")
        if not 0 < self.hdi_prob < 1:
            raise StanmixInputError(
                f"hdi_prob must be between 0 and 1, got {self.hdi_prob}"
            )
        for name in (
            "prior_mean_scale",
            "prior_scale_median",
            "prior_scale_log_sd",
            "prior_concentration",
        ):
            value = getattr(self, name)
            if not (np.isscalar(value) and np.isfinite(value) and value > 0):
                raise StanmixInputError(
                    f"{name} must be a positive number, got {value!r}"
                )
        g = self.guided_prior_scale
        if g is not None and not (np.isscalar(g) and np.isfinite(g) and g > 0):
            raise StanmixInputError(
                f"guided_prior_scale must be a positive number or None, got {g!r}"
            )

    def _cells(self, X, censoring: Mapping) -> tuple[CellTable, pd.Index]:
        raise NotImplementedError

    # -- model specifics (subclasses) -----------------------------------------
    def _stan_data(self, cells: CellTable, start: Clustering) -> dict:
        raise NotImplementedError

    def _init_dict(self, means, scales, weights) -> dict:
        raise NotImplementedError

    def _component_params(self, variables: Mapping) -> tuple[np.ndarray, ...]:
        """(weights, means, scales) shaped (C, S, K), (C, S, K, D), (C, S, K, D)."""
        raise NotImplementedError

    def _sort_dim(self) -> int:
        return 0

    def _auto_metric(self, data: Mapping) -> str:
        """``metric="auto"``: dense for small, well-separated fits at the MAP.

        A dense metric pays off when the posterior is close to Gaussian, which
        for a mixture means components that rarely share points: at the mode,
        each point's most probable component holds it with probability at
        least ``DENSE_METRIC_MIN_SEPARATION`` on average. Heavily overlapping
        components give curved posteriors where a dense estimate is no better
        than a diagonal one and noisier; so do components whose rows are
        nearly all censored in a column, which rest on the prior there (a
        wedge, not an ellipse). Without a MAP (``init`` other than "map") or
        with the per-dimension model, Stan's diagonal default.
        """
        if self.map_ is None or not self._has_membership():
            return "diag_e"
        if self._n_unconstrained(data) > DENSE_METRIC_MAX_PARAMS:
            return "diag_e"
        from stanmix.membership import membership_mean

        w, m, s = self.map_
        k = w.shape[-1]
        probs = membership_mean(
            self.cells_, w.reshape(1, k), m.reshape(1, k, -1), s.reshape(1, k, -1)
        )
        separation = float(probs.max(axis=1).mean())
        logger.info("mean top membership probability at the MAP: %.3f", separation)
        if separation < DENSE_METRIC_MIN_SEPARATION:
            return "diag_e"
        if self._mostly_censored(probs.argmax(axis=1)):
            return "diag_e"
        return "dense_e"

    @staticmethod
    def _n_unconstrained(data: Mapping) -> int:
        """Unconstrained parameters of either program: means, scales, weights."""
        k, d = int(data["K"]), int(data.get("D", 1))
        n_scales = 0 if data.get("sigma_known", 0) else k * d
        return k * d + n_scales + k - 1

    # -- fitting ----------------------------------------------------------------
    def fit(
        self,
        X,
        y=None,
        *,
        method: str = "sample",
        seed: int | None = None,
        chains: int = 4,
        warmup: int = 1000,
        draws: int = 1000,
        n_starts: int = 4,
        init: str = "map",
        algorithm: str = "meanfield",
        adapt_delta: float = 0.95,
        metric: str = "auto",
        jacobian: bool = True,
        log_likelihood: bool | None = None,
        show_progress: bool | None = None,
        **options,
    ):
        """Fit the mixture to ``X``.

        Parameters
        ----------
        X : array-like or DataFrame
            The observations (rows). DataFrame column names become the
            ``dim`` coordinate and the index the ``obs`` coordinate.
        y : ignored
            Present for scikit-learn compatibility.
        method : {"sample", "optimize", "variational"}
            ``"sample"``: NUTS, ``chains`` chains in parallel.
            ``"optimize"``: the posterior mode (MAP on the unconstrained
            scale, Jacobian included) by L-BFGS from ``n_starts`` k-means
            starts; the best by log density is kept and a warning is issued
            when starts disagree on the mode. ``"variational"``: ADVI
            (``algorithm="meanfield"`` or ``"fullrank"``); with
            ``init="map"`` on stanli it starts from the Laplace
            approximation at the mode (:func:`stanmix.advi.laplace_scale`)
            rather than Stan's unit scale.
        seed : int, optional
            Makes the fit reproducible; drawn at random (and stored in
            ``seed_``) when omitted.
        chains, warmup, draws : int
            NUTS chains, warmup iterations and kept draws per chain (for
            variational, ``draws`` is the number of approximate draws).
        n_starts : int
            Optimizer starts, each from its own k-means clustering.
        init : {"map", "kmeans", "pathfinder", "random"} or dict or list of dict
            Where chains (or ADVI) start: the best posterior mode (default),
            the k-means clusterings directly, Pathfinder draws from the
            engine, or Stan's own random inits (uniform(-2, 2) on the
            unconstrained scale), which is how label-switched runs usually
            begin. Or parameter values in the data's units, ``{"w": (K,),
            "mu": (K,) or (K, D), "sigma": like mu}``: one dict for every
            chain, or a list with one per chain (with ``method="optimize"``,
            one optimizer start per dict). Components are put in the
            program's order (along the anchor) before the start.
        algorithm : {"meanfield", "fullrank"}
            ADVI family for ``method="variational"``.
        adapt_delta : float
            NUTS target acceptance rate. Mixture posteriors have narrow
            regions where components approach each other, so stanmix uses
            0.95 rather than Stan's 0.8: fewer divergences, higher ESS.
        metric : {"auto", "dense_e", "diag_e", "unit_e"}
            NUTS mass matrix, adapted during warmup as in Stan. The ordering
            of the means couples each mean to its neighbours on the
            unconstrained scale, which a diagonal metric cannot follow; on
            well-separated clusters a dense one takes about half the leapfrog
            steps and gives 2.2 to 3.4 times the ESS per second (see
            docs/benchmarks.md). ``"auto"`` takes ``"dense_e"`` when chains
            start from the MAP (``init="map"``), the model has at most 100
            unconstrained parameters (the warmup's draws estimate a larger
            covariance poorly), and the components are well separated there
            (mean top membership probability at least 0.9) with no
            component nearly all censored in a column; otherwise
            ``"diag_e"``, Stan's default, which does as well or better on
            such curved posteriors. The choice is kept in ``metric_``.
        jacobian : bool
            ``False`` asks for the penalized maximum likelihood instead of
            the posterior mode; only engine="cmdstan" offers it.
        log_likelihood : bool, optional
            Store the pointwise log-likelihood (for ``az.loo``). By default,
            stored when it holds fewer than 20 million values.
        show_progress : bool, optional
            Progress bar while sampling; by default shown on a terminal.
        **options
            Passed to the engine's sampler or to ADVI (e.g. ``tol_rel_obj``).

        Returns
        -------
        self
        """
        censoring = {
            key: options.pop(key)
            for key in ("lower_limit", "upper_limit", "censored", "interval")
            if key in options
        }
        self._check_params(method, init, chains, warmup, draws, n_starts)
        if not (isinstance(adapt_delta, float) and 0 < adapt_delta < 1):
            raise StanmixInputError(
                f"adapt_delta must be a number between 0 and 1, got {adapt_delta!r}"
            )
        if metric not in METRICS:
            raise StanmixInputError(
                f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}"
            )
        if algorithm not in ("meanfield", "fullrank"):
            raise StanmixInputError(
                f"unknown algorithm {algorithm!r}; choose 'meanfield' or 'fullrank'"
            )
        cells, index = self._cells(X, censoring)
        k = int(self.n_components)
        if k > cells.n_obs:
            raise StanmixInputError(
                f"n_components={k} is larger than the number of observations "
                f"({cells.n_obs}); use at most {cells.n_obs} components"
            )
        engine = get_engine(self.engine)
        if not jacobian and engine.name != "cmdstan":
            raise StanmixInputError(
                "jacobian=False (penalized maximum likelihood) is offered only by "
                f"engine='cmdstan'; engine {engine.name!r} computes the posterior "
                "mode"
            )
        if not jacobian and method != "optimize":
            raise StanmixInputError("jacobian=False applies only to method='optimize'")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (2**31 - 1))
        seed = int(seed)
        if show_progress is None:
            show_progress = bool(getattr(sys.stderr, "isatty", lambda: False)())

        # Standardize, cluster, prepare the program's data.
        if self.standardize:
            points = cells.point_values()
            center = points.mean(axis=0)
            scale = points.std(axis=0)
            scale = np.where(scale > 0, scale, 1.0)
        else:
            center = np.zeros(cells.n_dims)
            scale = np.ones(cells.n_dims)
        self.seed_ = seed
        self.center_ = center
        self.scale_ = scale
        self.cells_ = cells
        self.obs_index_ = index
        self.engine_ = engine.name
        self.engine_version_ = engine.version
        self.method_ = method
        self.map_ = None
        self.metric_ = None

        std = cells.affine(center, scale)
        points = std.point_values()
        starts = [kmeans(points, k, seed=seed + i) for i in range(n_starts)]
        self._choose_anchor(starts[0])
        starts = [s.sorted_by(self._sort_dim()) for s in starts]
        data = self._stan_data(std, starts[0])
        stan_file = program_path(self._program)

        user = None
        if not isinstance(init, str):
            user = self._user_starts(init, chains if method == "sample" else None)
            if method == "optimize":
                starts = user
        best = None
        if method == "optimize" or init == "map":
            best = self._multi_start(engine, stan_file, data, starts, seed, jacobian)
            self.map_ = self._to_original(self._component_params(best.variables))
        if method == "optimize":
            result = best
        elif method == "variational":
            start = self._start_dict(best, user[0] if user else starts[0])
            result = engine.variational(
                stan_file,
                data,
                init=start,
                seed=seed,
                algorithm=algorithm,
                draws=draws,
                laplace_start=best is not None,
                **options,
            )
        else:
            rng = np.random.default_rng(seed)
            inits = None
            if init == "map":
                w, m, s = (a[0, 0] for a in self._component_params(best.variables))
                inits = [self._init_dict(*jitter(m, s, w, rng)) for _ in range(chains)]
            elif user is not None:
                inits = [self._init_dict(c.means, c.scales, c.weights) for c in user]
            elif init == "kmeans":
                inits = [
                    self._init_dict(c.means, c.scales, c.weights)
                    for c in (starts * chains)[:chains]
                ]
            if metric == "auto":
                metric = self._auto_metric(data)
            self.metric_ = metric
            result = engine.sample(
                stan_file,
                data,
                chains=chains,
                warmup=warmup,
                draws=draws,
                seed=seed,
                adapt_delta=adapt_delta,
                metric=metric,
                inits=inits,
                pathfinder_init=init == "pathfinder",
                show_progress=show_progress,
                **options,
            )
        self._finish(result, log_likelihood)
        return self

    def _choose_anchor(self, start: Clustering) -> None:
        return None

    def _user_starts(self, init, chains: int | None) -> list[Clustering]:
        """Parameter values given as ``init``, checked and standardized."""
        dicts = [init] if isinstance(init, Mapping) else list(init)
        if not dicts:
            raise StanmixInputError("init is an empty list; give at least one dict")
        if chains is not None and len(dicts) not in (1, chains):
            raise StanmixInputError(
                f"init has {len(dicts)} dicts for {chains} chains; give one dict "
                "or one per chain"
            )
        k, d = int(self.n_components), self.cells_.n_dims
        out = []
        for i, values in enumerate(dicts):
            if not isinstance(values, Mapping) or {"w", "mu", "sigma"} - set(values):
                raise StanmixInputError(
                    f"init[{i}] must be a dict with keys 'w', 'mu' and 'sigma'"
                )
            try:
                w = np.asarray(values["w"], dtype=float).reshape(k)
                mu = np.asarray(values["mu"], dtype=float).reshape(k, d)
                sigma = np.asarray(values["sigma"], dtype=float).reshape(k, d)
            except ValueError:
                raise StanmixInputError(
                    f"init[{i}]: 'w' needs {k} values and 'mu' and 'sigma' {k} x {d}"
                ) from None
            if not (np.all(np.isfinite(mu)) and np.all(w > 0) and np.all(sigma > 0)):
                raise StanmixInputError(
                    f"init[{i}]: means must be finite, weights and scales positive"
                )
            out.append(
                Clustering(
                    (mu - self.center_) / self.scale_,
                    sigma / self.scale_,
                    w / w.sum(),
                    np.zeros(0, dtype=int),
                    0.0,
                )
            )
        if chains is not None and len(out) == 1:
            out = out * chains
        return out

    def _adopt(self, result: EngineResult, cells: CellTable, index, *, seed: int):
        """Take draws made outside ``fit`` (a direct CmdStan run) as this fit.

        The draws are in the data's own units (no standardization).
        """
        self._check_params(result.method, "random", result.n_chains, 1, 1, 1)
        self.seed_ = seed
        self.center_ = np.zeros(cells.n_dims)
        self.scale_ = np.ones(cells.n_dims)
        self.cells_ = cells
        self.obs_index_ = index
        self.engine_ = result.engine
        self.engine_version_ = result.engine_version
        self.method_ = result.method
        self.map_ = None
        self._choose_anchor(None)
        self._finish(result, None)
        return self

    def _start_dict(self, best: EngineResult | None, start: Clustering) -> dict:
        if best is None:
            return self._init_dict(start.means, start.scales, start.weights)
        w, m, s = (a[0, 0] for a in self._component_params(best.variables))
        return self._init_dict(m, s, w)

    def _multi_start(self, engine, stan_file, data, starts, seed, jacobian):
        results, errors = [], []
        for i, start in enumerate(starts):
            try:
                results.append(
                    engine.optimize(
                        stan_file,
                        data,
                        seed=seed + i,
                        jacobian=jacobian,
                        init=self._init_dict(start.means, start.scales, start.weights),
                    )
                )
            except RuntimeError as err:
                errors.append(str(err))
        if not results:
            raise RuntimeError(
                f"every optimizer start failed; first error: {errors[0]}"
            )
        lps = np.array([r.lp for r in results])
        best = results[int(np.argmax(lps))]
        self.optimize_lps_ = lps
        worse = lps < lps.max() - 0.01 * max(1.0, abs(lps.max()) * 1e-3)
        if worse.any():
            warnings.warn(
                f"{int(worse.sum())} of {lps.size} optimizer starts reached a "
                f"different mode (log density lower by up to "
                f"{lps.max() - lps.min():.3g}); the best is kept. Mixtures often "
                "have several modes: more starts (n_starts) make finding the "
                "best one more likely.",
                RuntimeWarning,
                stacklevel=3,
            )
        return best

    def _to_original(self, params):
        w, m, s = params
        return w, m * self.scale_ + self.center_, s * self.scale_

    def _finish(self, result: EngineResult, log_likelihood: bool | None) -> None:
        w, m, s = self._to_original(self._component_params(result.variables))
        c, n_draws, k = w.shape
        posterior, dims, coords = self._posterior(w, m, s)
        n = self.cells_.n_obs
        if log_likelihood is None:
            log_likelihood = c * n_draws * n <= 20_000_000
        ll = None
        if log_likelihood:
            ll = self._pointwise_log_lik(
                w.reshape(-1, k),
                m.reshape(-1, k, m.shape[-1]),
                s.reshape(-1, k, s.shape[-1]),
            ).reshape(c, n_draws, n)
        attrs = {
            "stanmix_version": _version(),
            "engine": result.engine,
            "engine_version": result.engine_version,
            "method": result.method,
            "program": self._program,
            "seed": self.seed_,
        }
        if result.method == "optimize":
            jac = result.info.get("jacobian", True)
            attrs["point_estimate"] = (
                "posterior mode (jacobian=True)"
                if jac
                else "penalized maximum likelihood (jacobian=False)"
            )
        if result.method == "sample":
            attrs["metric"] = result.info.get("metric", "")
        if result.method == "variational":
            attrs["algorithm"] = result.info.get("algorithm", "")
            attrs["implementation"] = result.info.get("implementation", "")
            attrs["init_scale"] = result.info.get("init_scale", "")
        idata = build_inference_data(
            posterior=posterior,
            dims=dims,
            coords=coords,
            sample_stats=result.sample_stats,
            cells=self.cells_,
            index=self.obs_index_,
            univariate=self._univariate,
            log_likelihood=ll,
            attrs=attrs,
        )
        self.relabel_report_ = None
        self.label_switching_ = None
        if result.method == "sample" and k > 1:
            idata = self._relabel(idata, w, m, s)
        self.idata_ = idata
        self.engine_result_info_ = result.info
        post = idata.posterior
        self.weights_ = post["w"].mean(("chain", "draw")).to_numpy()
        self.means_ = post["mu"].mean(("chain", "draw")).to_numpy()
        self.scales_ = post["sigma"].mean(("chain", "draw")).to_numpy()
        self.n_features_in_ = self.cells_.n_dims
        self.censored_components_ = self._censored_components()

    def _has_censoring(self) -> bool:
        from stanmix.cells import INTERVAL, LEFT, RIGHT

        return bool(np.isin(self.cells_.kind, (LEFT, RIGHT, INTERVAL)).any())

    def _mostly_censored(self, labels: np.ndarray) -> list[tuple[int, str, float]]:
        """(component, column, fraction) where labelled rows are >= 90% censored."""
        from stanmix.cells import INTERVAL, LEFT, RIGHT

        censored = np.isin(self.cells_.kind, (LEFT, RIGHT, INTERVAL))
        found = []
        for k in range(int(self.n_components)):
            members = labels == k
            if members.sum() < 5:
                continue
            fraction = censored[members].mean(axis=0)
            for d in np.flatnonzero(fraction >= _CENSORED_WARN):
                found.append((k, self.cells_.columns[d], float(fraction[d])))
        return found

    def _censored_components(self) -> list[tuple[int, str, float]]:
        """Components whose members are nearly all censored in a column.

        There, the data say only that the values lie beyond a limit, so the
        component's mean and scale in that column rest on the prior; NUTS
        also slows down sharply on such wedge-shaped posteriors. Returns
        (component, column, censored fraction) and warns.
        """
        from stanmix.membership import membership_mean

        if not self._has_censoring() or not self._has_membership():
            return []
        probs = membership_mean(self.cells_, *self._flat_params())
        found = self._mostly_censored(np.argmax(probs, axis=1))
        if found:
            listed = "; ".join(
                f"component {k} in column {col!r} ({frac:.0%} of its rows)"
                for k, col, frac in found
            )
            warnings.warn(
                f"nearly every value is censored for {listed}: there the data "
                "say only that the values lie beyond the limit, so the "
                "component's mean and scale in that column rest on the prior "
                "(expect wide intervals, and slow NUTS: long trajectories). A "
                "narrower prior (prior_mean_scale, prior_scale_log_sd, or "
                "guided_prior_scale) bounds them; censored_components_ lists "
                "them.",
                RuntimeWarning,
                stacklevel=4,
            )
        return found

    def _posterior(self, w, m, s):
        raise NotImplementedError

    def _pointwise_log_lik(self, w, m, s) -> np.ndarray:
        """log p(row | draw), (S, N): the mixture of joint components."""
        from stanmix.membership import log_likelihood

        return log_likelihood(self.cells_, w, m, s)

    def _has_membership(self) -> bool:
        """Whether each row comes from one component (membership defined)."""
        return True

    def _ordered_program(self) -> bool:
        """Whether the program orders the means (along the anchor)."""
        return True

    def _check_membership(self) -> None:
        if not self._has_membership():
            raise StanmixInputError(
                "the per-dimension model (joint=False) draws each cell from its "
                "own component, so a row has no single component: membership, "
                "predict and predict_proba need joint=True"
            )

    def _relabel(self, idata, w, m, s):
        from stanmix.diagnostics import detect_label_switching
        from stanmix.membership import membership_draws
        from stanmix.relabel import relabel_idata

        self.label_switching_ = detect_label_switching(idata)
        method = "none" if self.relabel in (None, False) else self.relabel
        if method == "none":
            return idata
        if (
            method == "auto"
            and self._ordered_program()
            and not self.label_switching_.label_switching
        ):
            # The program's ordering already labels the draws and no chain
            # left that labelling: keep it. Per-draw relabelling would trade
            # it for one that mixes overlapping components.
            method = "order"
        c, n_draws, k = w.shape
        membership = None
        if method in ("auto", "stephens", "ecr") and self._has_membership():
            n = self.cells_.n_obs
            keep = max(1, min(n, _STEPHENS_BUDGET // (c * n_draws * k)))
            rows = np.arange(n)
            if keep < n:
                rows = np.sort(
                    np.random.default_rng(self.seed_).choice(n, keep, replace=False)
                )
            sub = self.cells_.rows(rows)
            membership = membership_draws(
                sub,
                w.reshape(-1, k),
                m.reshape(-1, k, m.shape[-1]),
                s.reshape(-1, k, s.shape[-1]),
            ).reshape(c, n_draws, rows.size, k)
        reference = None
        if getattr(self, "map_", None) is not None:
            mw, mm, ms = (a[0, 0] for a in self.map_)
            reference = self._posterior(mw[None, None], mm[None, None], ms[None, None])[
                0
            ]
            reference = {name: arr[0, 0] for name, arr in reference.items()}
        kwargs = {}
        if method == "order":
            kwargs["order_by"] = (
                "mu",
                self._sort_dim() if not self._univariate else None,
            )
        idata, report = relabel_idata(
            idata, method=method, membership=membership, reference=reference, **kwargs
        )
        self.relabel_report_ = report
        return idata

    # -- results --------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "idata_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X) first"
            )

    def _flat_params(self, group: str = "posterior"):
        post = getattr(self.idata_, group)
        k = int(self.n_components)
        w = post["w"].to_numpy().reshape(-1, k)
        m = post["mu"].to_numpy().reshape(w.shape[0], k, -1)
        s = post["sigma"].to_numpy().reshape(w.shape[0], k, -1)
        return w, m, s

    def summary(self, hdi_prob: float | None = None) -> pd.DataFrame:
        """Relabelled parameter table with HDIs, R-hat and ESS (original units).

        For ``method="optimize"`` the table holds the posterior mode only.
        """
        self._check_fitted()
        names = ["w", "mu", "sigma"]
        if self.method_ == "optimize":
            point = self.idata_.posterior.isel(chain=0, draw=0)
            rows = {}
            for name in names:
                da = point[name]
                for idx in np.ndindex(da.shape):
                    labels = [
                        str(da.coords[d].values[i])
                        for d, i in zip(da.dims, idx, strict=True)
                    ]
                    rows[f"{name}[{', '.join(labels)}]"] = float(da.values[idx])
            return pd.DataFrame({"mode": pd.Series(rows)})
        kind = "all" if self.method_ == "sample" else "stats"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return az.summary(
                self.idata_,
                var_names=names,
                kind=kind,
                hdi_prob=hdi_prob or self.hdi_prob,
            )

    def membership(self, hdi_prob: float | None = None) -> pd.DataFrame:
        """Per-observation membership probabilities with HDIs.

        Returns a tidy table with one row per observation and component:
        ``observation``, ``component``, ``mean``, ``hdi_lower``, ``hdi_upper``.
        Probabilities are computed from every posterior draw, with censored
        and missing cells handled exactly.
        """
        from stanmix.membership import membership_summary

        self._check_fitted()
        self._check_membership()
        w, m, s = self._flat_params()
        summary = membership_summary(
            self.cells_, w, m, s, hdi_prob=hdi_prob or self.hdi_prob
        )
        return summary.to_frame(
            obs_index=self.obs_index_,
            component_names=list(range(int(self.n_components))),
        )

    def predict_proba(self, X, **censoring) -> np.ndarray:
        """Posterior mean membership probabilities for new observations (N, K)."""
        from stanmix.membership import membership_mean

        self._check_fitted()
        self._check_membership()
        cells = self._new_cells(X, censoring)
        return membership_mean(cells, *self._flat_params())

    def predict(self, X, **censoring) -> np.ndarray:
        """The most probable component of each new observation."""
        return np.argmax(self.predict_proba(X, **censoring), axis=1)

    def _new_cells(self, X, censoring) -> CellTable:
        cells, _ = self._cells(X, censoring)
        if cells.n_dims != self.cells_.n_dims:
            raise StanmixInputError(
                f"X has {cells.n_dims} columns but the model was fitted on "
                f"{self.cells_.n_dims} ({', '.join(self.cells_.columns)})"
            )
        if isinstance(X, pd.DataFrame) and cells.columns != self.cells_.columns:
            raise StanmixInputError(
                f"X has columns {list(cells.columns)} but the model was fitted on "
                f"{list(self.cells_.columns)}; select and order them the same way"
            )
        return cells


def _same(a, b) -> bool:
    try:
        return bool(a == b) if np.isscalar(a) or a is None else False
    except Exception:
        return False


def _version() -> str:
    from stanmix import __version__

    return __version__


class NormalMixture(_Mixture):
    """Univariate Bayesian normal mixture with ordered component means.

    Parameters
    ----------
    n_components : int
        Number of components K.
    ordered : bool
        Declare the means ``ordered`` (identifies the components). ``False``
        fits the plain, label-switching model; stanmix then relabels draws.
    sigma : float or array of K floats, optional
        Known component scales (data units); estimated when omitted.
    engine : {"auto", "cmdstan", "stanli"}
        Stan engine; "auto" is CmdStan when installed, else stanli.
    standardize : bool
        Fit on (y - mean) / sd; results are reported in the data's units.
        Priors are on the standardized scale when on.
    relabel : {"auto", "stephens", "reference", "ecr", "order", None}
        How NUTS draws are relabelled after sampling (see stanmix.relabel).
        ``"auto"``: when the means are ordered and no chain left the
        ordering's labelling (``label_switching_``), the draws keep it
        (reported as ``"order"``); otherwise Stephens' algorithm on the
        membership probabilities (reference matching for the per-dimension
        model, which has none).
    prior_mean_scale : float
        Prior sd of each component mean (normal prior centred at 0).
    prior_scale_median, prior_scale_log_sd : float
        Lognormal prior on each scale: its median and the sd of its log.
    prior_concentration : float
        Dirichlet concentration of the weights; above 1 keeps components alive.
    guided_prior_scale : float, optional
        Centre the mean priors on the sorted k-means centres with this sd.
    hdi_prob : float
        Probability mass of reported HDIs.

    Examples
    --------
    >>> import numpy as np, stanmix as sm
    >>> rng = np.random.default_rng(1)
    >>> y = np.r_[rng.normal(-2, 1, 60), rng.normal(2, 1, 40)]
    >>> model = sm.NormalMixture(2, engine="stanli").fit(y, method="optimize", seed=1)
    >>> np.round(model.means_, 1)
    array([-2. ,  1.9])
    >>> model.predict(np.array([-4.0, 4.0]))
    array([0, 1])
    """

    _program = "normal_mixture"
    _univariate = True

    def __init__(
        self,
        n_components: int = 2,
        *,
        ordered: bool = True,
        sigma: float | None = None,
        engine: str = "auto",
        standardize: bool = True,
        relabel: str = "auto",
        prior_mean_scale: float = 3.0,
        prior_scale_median: float = 0.5,
        prior_scale_log_sd: float = 1.0,
        prior_concentration: float = 3.0,
        guided_prior_scale: float | None = None,
        hdi_prob: float = 0.94,
    ) -> None:
        super().__init__(
            n_components,
            engine=engine,
            standardize=standardize,
            relabel=relabel,
            prior_mean_scale=prior_mean_scale,
            prior_scale_median=prior_scale_median,
            prior_scale_log_sd=prior_scale_log_sd,
            prior_concentration=prior_concentration,
            guided_prior_scale=guided_prior_scale,
            hdi_prob=hdi_prob,
        )
        self.ordered = ordered
        self.sigma = sigma

    def _cells(self, X, censoring):
        if censoring:
            raise StanmixInputError(
                "NormalMixture takes no censoring; use DiagonalMixture (which "
                "handles one column too) for censored data"
            )
        if isinstance(X, pd.DataFrame) and X.shape[1] != 1:
            raise StanmixInputError(
                f"NormalMixture needs one column, got {X.shape[1]} "
                f"({', '.join(map(str, X.columns))}); use DiagonalMixture for "
                "several columns"
            )
        arr = X if isinstance(X, (pd.DataFrame, pd.Series)) else np.asarray(X)
        if isinstance(arr, np.ndarray) and arr.ndim == 2 and arr.shape[1] != 1:
            raise StanmixInputError(
                f"NormalMixture needs a 1-D array, got shape {arr.shape}; use "
                "DiagonalMixture for several columns"
            )
        if isinstance(arr, np.ndarray) and arr.ndim > 2:
            raise StanmixInputError(f"y must be 1-D, got shape {arr.shape}")
        cells, index = cell_table(
            arr if not isinstance(arr, pd.Series) else arr.to_frame(),
            allow_missing=False,
        )
        return cells, index

    def _ordered_program(self) -> bool:
        return bool(self.ordered)

    def _sigma_value(self, k: int) -> np.ndarray | None:
        if self.sigma is None:
            return None
        try:
            sigma = np.broadcast_to(np.asarray(self.sigma, dtype=float), (k,)).copy()
        except (TypeError, ValueError):
            raise StanmixInputError(
                f"sigma must be a number or {k} numbers, got {self.sigma!r}"
            ) from None
        if not np.all(np.isfinite(sigma) & (sigma > 0)):
            raise StanmixInputError(
                f"sigma must be positive and finite, got {self.sigma}"
            )
        return sigma

    def _check_params(self, *args) -> None:
        super()._check_params(*args)
        self._sigma_value(int(self.n_components))

    def _stan_data(self, cells, start):
        k = int(self.n_components)
        sigma = self._sigma_value(k)
        mu_loc = np.zeros(k)
        mu_scale = np.full(k, float(self.prior_mean_scale))
        if self.guided_prior_scale is not None:
            mu_loc = start.means[:, 0]
            mu_scale = np.full(k, float(self.guided_prior_scale))
        return {
            "N": cells.n_obs,
            "K": k,
            "y": cells.values[:, 0],
            "ordered_means": int(bool(self.ordered)),
            "sigma_known": int(sigma is not None),
            "sigma_value": (sigma / self.scale_[0])
            if sigma is not None
            else np.ones(k),
            "mu_loc": mu_loc,
            "mu_scale": mu_scale,
            "sigma_loc": float(self.prior_scale_median),
            "sigma_scale": float(self.prior_scale_log_sd),
            "alpha": np.full(k, float(self.prior_concentration)),
            "compute_log_lik": 0,
            "compute_membership": 0,
        }

    def _init_dict(self, means, scales, weights):
        k = int(self.n_components)
        mu = np.asarray(means, dtype=float).reshape(k)
        order = np.argsort(mu, kind="stable") if self.ordered else np.arange(k)
        known = self.sigma is not None
        weights = np.asarray(weights, dtype=float)[order]
        return {
            "mu_ordered": mu[order] if self.ordered else np.empty(0),
            "mu_free": np.empty(0) if self.ordered else mu,
            "sigma_free": np.empty(0)
            if known
            else np.asarray(scales, dtype=float).reshape(k)[order],
            "w": weights / weights.sum(),
        }

    def _component_params(self, variables):
        return (
            variables["w"],
            variables["mu"][..., None],
            variables["sigma"][..., None],
        )

    def _posterior(self, w, m, s):
        k = w.shape[-1]
        return (
            {"w": w, "mu": m[..., 0], "sigma": s[..., 0]},
            {"w": ["component"], "mu": ["component"], "sigma": ["component"]},
            {"component": np.arange(k)},
        )


class DiagonalMixture(_Mixture):
    """Multivariate Bayesian mixture with joint diagonal-covariance components.

    Each observation's whole vector comes from one component. Cells may be
    censored at detection limits (left, right or interval) or missing (NaN).
    The component means along one anchor dimension are ordered, which
    identifies the components.

    Parameters
    ----------
    n_components : int
        Number of components K.
    anchor_dim : int or str, optional
        The dimension (index or column name) whose means are ordered. By
        default, the one along which k-means centres are best separated
        relative to their spread; the choice is stored in ``anchor_``.
    joint : bool
        ``True`` (default) fits joint components. ``False`` fits the common
        but wrong per-dimension model, where each column is its own
        univariate mixture; it exists to show why joint components matter.
    engine, standardize, relabel, prior_*, guided_prior_scale, hdi_prob
        As for :class:`NormalMixture`.

    Examples
    --------
    >>> import numpy as np, pandas as pd, stanmix as sm
    >>> rng = np.random.default_rng(0)
    >>> centers = np.array([[0.0, 0.0], [5.0, 5.0]])
    >>> X = pd.DataFrame(centers[rng.integers(0, 2, 200)] + rng.normal(size=(200, 2)),
    ...                  columns=["x", "y"])
    >>> X["x"] = X["x"].clip(lower=-1.0)   # a detection limit at -1 in x
    >>> model = sm.DiagonalMixture(2, engine="stanli").fit(
    ...     X, method="optimize", seed=1, lower_limit={"x": -1.0})
    >>> np.round(model.means_, 1).tolist()
    [[-0.2, -0.1], [4.9, 5.1]]
    >>> new = pd.DataFrame({"x": [-1.0, 6.0], "y": [0.5, 4.0]})
    >>> model.predict(new, lower_limit={"x": -1.0})
    array([0, 1])
    """

    _program = "diag_mixture"
    _univariate = False

    def __init__(
        self,
        n_components: int = 2,
        *,
        anchor_dim: int | str | None = None,
        joint: bool = True,
        engine: str = "auto",
        standardize: bool = True,
        relabel: str = "auto",
        prior_mean_scale: float = 3.0,
        prior_scale_median: float = 0.5,
        prior_scale_log_sd: float = 1.0,
        prior_concentration: float = 3.0,
        guided_prior_scale: float | None = None,
        hdi_prob: float = 0.94,
    ) -> None:
        super().__init__(
            n_components,
            engine=engine,
            standardize=standardize,
            relabel=relabel,
            prior_mean_scale=prior_mean_scale,
            prior_scale_median=prior_scale_median,
            prior_scale_log_sd=prior_scale_log_sd,
            prior_concentration=prior_concentration,
            guided_prior_scale=guided_prior_scale,
            hdi_prob=hdi_prob,
        )
        self.anchor_dim = anchor_dim
        self.joint = joint

    def _cells(self, X, censoring):
        return cell_table(X, **censoring)

    def _has_membership(self) -> bool:
        return bool(self.joint)

    def _check_params(self, *args) -> None:
        super()._check_params(*args)
        if not self.joint and self.relabel in ("stephens", "ecr"):
            raise StanmixInputError(
                f"relabel={self.relabel!r} works on membership probabilities, "
                "which the per-dimension model (joint=False) does not have; use "
                "'reference', 'order' or 'auto'"
            )

    def _pointwise_log_lik(self, w, m, s) -> np.ndarray:
        """Joint components, or for joint=False the product over columns of
        each column's own mixture (what the per-dimension program computes)."""
        if self.joint:
            return super()._pointwise_log_lik(w, m, s)
        from stanmix.membership import log_likelihood

        c = self.cells_
        total = np.zeros((w.shape[0], c.n_obs))
        for d in range(c.n_dims):
            column = CellTable(
                c.values[:, [d]],
                c.kind[:, [d]],
                c.lower[:, [d]],
                c.upper[:, [d]],
                (c.columns[d],),
            )
            total += log_likelihood(column, w, m[..., [d]], s[..., [d]])
        return total

    def _choose_anchor(self, start: Clustering) -> None:
        columns = self.cells_.columns
        if self.anchor_dim is None:
            self.anchor_ = choose_anchor(start)
            logger.info("anchor dimension: %s", columns[self.anchor_])
            return
        anchor = self.anchor_dim
        if isinstance(anchor, str):
            if anchor not in columns:
                raise StanmixInputError(
                    f"anchor_dim {anchor!r} is not a column of X ({', '.join(columns)})"
                )
            self.anchor_ = columns.index(anchor)
            return
        if (
            isinstance(anchor, bool)
            or not isinstance(anchor, (int, np.integer))
            or not (0 <= anchor < len(columns))
        ):
            raise StanmixInputError(
                "anchor_dim must be a column name or an index in "
                f"0..{len(columns) - 1}, "
                f"got {anchor!r}"
            )
        self.anchor_ = int(anchor)

    def _sort_dim(self) -> int:
        return self.anchor_

    def _stan_data(self, cells, start):
        k, d = int(self.n_components), cells.n_dims
        mu_loc = np.zeros((k, d))
        mu_scale = np.full((k, d), float(self.prior_mean_scale))
        if self.guided_prior_scale is not None:
            mu_loc = start.means
            mu_scale = np.full((k, d), float(self.guided_prior_scale))
        data = cells.to_stan()
        data.update(
            K=k,
            anchor=self.anchor_ + 1,
            independent_dims=int(not self.joint),
            mu_loc=mu_loc,
            mu_scale=mu_scale,
            sigma_loc=np.full(d, float(self.prior_scale_median)),
            sigma_scale=np.full(d, float(self.prior_scale_log_sd)),
            alpha=np.full(k, float(self.prior_concentration)),
            compute_log_lik=0,
            compute_membership=0,
        )
        return data

    def _init_dict(self, means, scales, weights):
        means = np.asarray(means, dtype=float)
        order = np.argsort(means[:, self.anchor_], kind="stable")
        means, scales = means[order], np.asarray(scales)[order]
        weights = np.asarray(weights)[order]
        rest = [d for d in range(means.shape[1]) if d != self.anchor_]
        return {
            "mu_anchor": means[:, self.anchor_],
            "mu_rest": means[:, rest],
            "sigma": scales,
            "w": weights / weights.sum(),
        }

    def _component_params(self, variables):
        return variables["w"], variables["mu"], variables["sigma"]

    def _posterior(self, w, m, s):
        k = w.shape[-1]
        dim = ["component", "dim"]
        return (
            {"w": w, "mu": m, "sigma": s},
            {"w": ["component"], "mu": dim, "sigma": dim},
            {"component": np.arange(k), "dim": list(self.cells_.columns)},
        )
