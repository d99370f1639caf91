"""The estimator: :class:`Mixture`, for every component family.

It follows scikit-learn's conventions: the constructor stores parameters,
``fit`` returns ``self``, and fitted state lives in attributes ending in an
underscore, chief among them ``idata_``, an ArviZ InferenceData. It
orchestrates (validate, standardize, start, call the engine, relabel,
assemble the results) and asks the family (:mod:`stanmix.families`) for
everything that depends on what a component is; it never branches on the
family.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import logging
import numbers
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import issparse
from scipy.special import logsumexp

from stanmix import _validation as check
from stanmix import likelihood
from stanmix._version import __version__
from stanmix.advi import (
    DEFAULT_ITER,
    PARETO_K_DRAWS,
    PARETO_K_MAX,
    check_callback,
    check_init_scale,
    pareto_k,
    pareto_k_message,
)
from stanmix.advice import (
    close_ordered_pairs,
    collapsed_components,
    costly_rows,
    few_value_columns,
    piled_values_hint,
    priors_off_scale,
    row_number_columns,
    singular_draws,
    tied_columns_hint,
    unstated_limit_piles,
    unstated_limits,
)
from stanmix.cells import (
    MISSING,
    OBSERVED,
    CellTable,
    Standardization,
    best_determined,
    mostly_censored,
)
from stanmix.censoring import cell_table, check_fit_data, listing, row_label
from stanmix.diagnostics import (
    RELABEL_ADVICE,
    Convergence,
    convergence,
    detect_label_switching,
    quiet_chain_count,
    rhat_and_ess,
)
from stanmix.engines import Engine, EngineResult, get_engine
from stanmix.exceptions import (
    ConvergenceWarning,
    InconsistentVersionWarning,
    StanmixInputError,
    not_fitted,
)
from stanmix.families import Family, Layout, Params, Priors, get_family
from stanmix.families.base import mixing_init
from stanmix.inference.metric import check_inv_metric, plan_nuts
from stanmix.inference.modes import best_mode, end_point
from stanmix.inference.settings import (
    FIT_DEFAULTS,
    FOREIGN_NAMES,
    METHOD_ARGS,
    MIN_NUTS_DRAWS,
    check_fit_settings,
)
from stanmix.inference.starts import (
    KMEANS_TRIM,
    Clustering,
    choose_anchor,
    kmeans,
    user_starts,
)
from stanmix.inference.threads import (
    check_threads,
    grainsize,
    spare_threads,
    usable_cores,
)
from stanmix.inference_data import az, build_inference_data
from stanmix.parallel import spawn_seeds
from stanmix.programs import StanInput, program_path
from stanmix.relabel import relabel_idata

logger = logging.getLogger("stanmix")

RELABEL = ("auto", "stephens", "reference", "ecr", "order", "none")
CENSORING_ARGS = ("lower_limit", "upper_limit", "censored", "interval")
#: Share of a component's rows censored in a column that triggers a warning.
CENSORED_WARN = 0.9
#: Membership entries (chain x draw x obs x K) Stephens' relabelling may use.
STEPHENS_BUDGET = 50_000_000
#: Pointwise log-likelihood values stored by default (log_likelihood=None).
LOG_LIK_BUDGET = 20_000_000


class Mixture:
    """Bayesian finite mixture of joint components, fitted with Stan.

    Each observation's whole vector comes from one component. Cells may be
    censored at detection limits (left, right or interval) or missing (NaN),
    both handled exactly. The component means along one anchor column are
    ordered, which identifies the components; NUTS draws are relabelled
    after the fact when chains still disagree.

    Parameters
    ----------
    n_components : int
        Number of components K.
    family : {"normal", "student_t", "normal_per_dimension"}
        The component distribution. ``"student_t"`` has one degrees-of-
        freedom parameter ``nu`` per component (heavy tails absorb
        outliers). ``"normal_per_dimension"`` (also
        ``DiagonalMixture(K, joint=False)``) is the common but wrong model
        in which every column is its own univariate mixture, kept to show
        why joint components matter.
    covariance : {"diag", "spherical", "full", "tied"}
        As scikit-learn names them: one scale per component and column
        (``"diag"``), one per component (``"spherical"``), a full
        covariance per component (``"full"``, LKJ prior on the
        correlations) or one full covariance shared by all (``"tied"``).
    family_options : dict, optional
        Settings of the family: ``{"scale": ...}`` (known scales, normal
        diag/spherical; ``prior_scale_median`` and ``prior_scale_log_sd``,
        which they leave nothing to act on, are then refused other than
        at their defaults), ``{"lkj_eta": 2.0}`` (full, tied),
        ``{"nu_shape": 2.0, "nu_rate": 0.05}`` (Student-t: gamma prior on
        each nu); the values shown are the defaults. Unknown keys are refused.
    ordered : bool
        Declare the means along the anchor column ``ordered`` (identifies
        the components). ``False`` fits the plain, label-switching model;
        stanmix then relabels the draws.
    anchor_dim : int or str, optional
        The column (position or name; an integer that is the name of one
        column and the position of another is refused) whose means are
        ordered. By default, the one along which k-means centres are best
        separated relative to their spread; the choice is stored in
        ``anchor_``.
    engine : {"auto", "cmdstan", "stanli"} or Engine
        Stan engine; "auto" is CmdStan when installed, else stanli.
    standardize : bool
        Fit on (x - mean) / sd per column (one shared sd for spherical
        covariances; for a column with censored cells, the mean and sd of a
        normal fitted with its censoring); results are reported in the
        data's units. Priors are on the standardized scale when on.
    relabel : {"auto", "stephens", "reference", "ecr", "order", None}
        How NUTS draws are relabelled after sampling (see stanmix.relabel).
        ``"auto"``: when the means are ordered and no chain left the
        ordering's labelling (``label_switching_``), the draws keep it
        (reported as ``"order"``); otherwise Stephens' algorithm on the
        membership probabilities (reference matching when the family has
        no memberships).
    prior_mean_scale : float
        Prior sd of each component mean (normal prior centred at 0).
    prior_scale_median, prior_scale_log_sd : float
        Lognormal prior on each scale: its median and the sd of its log.
    prior_concentration : float
        Dirichlet concentration of the weights; above 1 keeps components alive.
    guided_prior_scale : float, optional
        Centre the mean priors on the sorted k-means centres with this sd.
    hdi_prob : float
        Probability mass of reported HDIs: the default of the results'
        ``hdi_prob`` (summary, membership, plots), read when they are asked
        for, so changing it needs no refit.

    Attributes
    ----------
    idata_ : arviz.InferenceData
        The fit: ``posterior`` (relabelled, data units), ``posterior_raw``
        (as sampled), ``sample_stats``, ``observed_data``,
        ``constant_data`` (each cell's kind, bounds and limits; a
        regression's covariates), ``log_likelihood`` (draws only, not a
        posterior mode), and ``posterior_predictive`` once
        :func:`stanmix.checks.posterior_predictive` attaches replicates.
    weights_, means_ : ndarray
        Posterior means of the weights (K,) and component means (K, D).
    covariances_ : ndarray
        Posterior mean covariance (Student-t: scale) matrices, shaped as in
        scikit-learn: (K, D, D) full, (D, D) tied, (K, D) variances diag,
        (K,) variances spherical. A Student-t component's covariance is
        nu / (nu - 2) times its scale matrix where nu > 2.
    nu_ : ndarray
        Student-t components only: the posterior mean degrees of freedom,
        (K,).
    scales_ : ndarray
        Posterior means of the scales ``sigma``, shaped as the posterior's.
    correlations_ : ndarray
        Full and tied covariances only: the posterior mean correlation
        matrices, (K, D, D) full, (D, D) tied.
    family_ : stanmix.families.Family
        The family that was fitted.
    convergence_ : stanmix.diagnostics.Convergence or None
        For NUTS: R-hat and bulk ESS of every parameter of the relabelled
        draws (``convergence_.table``), the worst of each, the sampler's
        divergent transitions, transitions stopped at the maximum tree
        depth and each chain's E-BFMI, and whether they meet R-hat <= 1.01,
        bulk ESS >= 400 and at most 0.1% divergent (``converged``); when
        they do not, or the sampler reports any divergence, tree depth hit
        or E-BFMI below 0.3 (``sampler_ok``), ``fit`` issues a
        :class:`stanmix.ConvergenceWarning`. None for the other methods.
    metric_, adaptation_ : str or None
        For NUTS: the mass matrix (``"dense_e"``, ``"diag_e"``, ``"unit_e"``)
        and how it was found (``"laplace"``: the Laplace approximation at the
        MAP, held fixed; ``"windowed"``: Stan's warmup estimate; ``"none"``:
        not estimated, because the warmup was too short for the windowed
        adaptation or ``adapt_engaged=False`` turned it off, so the chains
        ran on the metric they started with, ``inv_metric`` or else the
        identity, reported as ``"unit_e"``). With ``adapt_engaged=False``
        nothing is tuned, not even the step size, and a Laplace metric,
        where it is chosen, is still used (``"laplace"``). None for the
        other methods.
    pareto_k_ : float or None
        For ADVI: the Pareto k-hat of its draws' importance ratios, how far
        the approximation is from the posterior (below 0.5 close; above
        0.7, when ``fit`` warns, its means may be off and its intervals too
        narrow; Yao et al. 2018). Also in ``idata_.posterior.attrs``; the
        log densities behind it are ``idata_.sample_stats``' ``lp`` and
        ``log_g``. NaN from fewer than 100 draws, where ``fit`` warns that
        the approximation cannot be judged. None for the other methods.
    threads_per_chain_ : int or None
        For NUTS: the threads each chain's gradient ran on (see the
        ``threads_per_chain`` option of :meth:`fit`). None for the other
        methods.
    n_features_in_, feature_names_in_
        The number of columns fitted, and, as in scikit-learn, their names
        only when ``X`` named them (a DataFrame with string column names);
        an array's columns are called x0, x1, ... in messages and results.

    Examples
    --------
    >>> import numpy as np, stanmix as sm
    >>> rng = np.random.default_rng(0)
    >>> cov = [[1.0, 0.8], [0.8, 1.0]]
    >>> X = np.r_[rng.multivariate_normal([0, 0], cov, 150),
    ...           rng.multivariate_normal([5, 0], cov, 150)]
    >>> model = sm.Mixture(2, covariance="full", engine="stanli").fit(
    ...     X, method="optimize", seed=1)
    >>> np.round(model.means_, 1).tolist()
    [[0.1, 0.2], [5.0, 0.0]]
    >>> np.round(model.correlations_[:, 0, 1], 1).tolist()
    [0.8, 0.8]
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        family: str = "normal",
        covariance: str = "diag",
        family_options: Mapping | None = None,
        ordered: bool = True,
        anchor_dim: int | str | None = None,
        engine: str | Engine = "auto",
        standardize: bool = True,
        relabel: str | None = "auto",
        prior_mean_scale: float = 3.0,
        prior_scale_median: float = 0.5,
        prior_scale_log_sd: float = 1.0,
        prior_concentration: float = 3.0,
        guided_prior_scale: float | None = None,
        hdi_prob: float = 0.94,
    ) -> None:
        self.n_components = n_components
        self.family = family
        self.covariance = covariance
        self.family_options = family_options
        self.ordered = ordered
        self.anchor_dim = anchor_dim
        self.engine = engine
        self.standardize = standardize
        self.relabel = relabel
        self.prior_mean_scale = prior_mean_scale
        self.prior_scale_median = prior_scale_median
        self.prior_scale_log_sd = prior_scale_log_sd
        self.prior_concentration = prior_concentration
        self.guided_prior_scale = guided_prior_scale
        self.hdi_prob = hdi_prob

    #: Whether the family is made from the data ``fit`` reads (regressions:
    #: the predictors), so it cannot be made, nor its settings checked, before.
    _family_from_data = False
    #: Constructor arguments that are switches (True or False).
    _switches: tuple[str, ...] = ("ordered", "standardize")

    # -- scikit-learn plumbing ------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor parameters, as scikit-learn's ``get_params``."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> Mixture:
        """Set constructor parameters, as scikit-learn's ``set_params``."""
        check.known_keys(
            f"parameter(s) for {type(self).__name__}:", params, self._param_names()
        )
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def __sklearn_tags__(self):
        """scikit-learn's description of the estimator, which its Pipeline
        and checks read: a clusterer that takes NaN cells (missing) and needs
        no ``y`` (a mixture of regressions may find its response in ``X``).
        scikit-learn is imported only when it asks."""
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(
            estimator_type="clusterer",
            target_tags=TargetTags(required=False),
            input_tags=InputTags(allow_nan=True),
        )

    def __sklearn_is_fitted__(self) -> bool:
        """Whether ``fit`` has run, for scikit-learn's ``check_is_fitted``."""
        return hasattr(self, "idata_")

    def __repr__(self) -> str:
        defaults = {
            name: p.default
            for name, p in inspect.signature(type(self).__init__).parameters.items()
        }
        shown = [
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if k == "n_components" or not _same(v, defaults.get(k))
        ]
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- persistence ----------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        """Pickle with the stanmix version that made the state."""
        state = {k: v for k, v in self.__dict__.items() if k != "_fitted_proba"}
        return {**state, "_stanmix_version": __version__}

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        """Restore a pickled estimator, warning when another stanmix version
        pickled it (its fitted state may not be what this version reads)."""
        state = dict(state)
        saved = state.pop("_stanmix_version", None)
        if saved != __version__:
            warnings.warn(
                f"this {type(self).__name__} was pickled by stanmix "
                f"{saved or 'of an unknown version'} and is loaded by stanmix "
                f"{__version__}; its fitted state may not be what this version "
                "expects. Refit it, or load it with the version that saved it "
                "(the draws in idata_ are readable by any ArviZ)",
                InconsistentVersionWarning,
                stacklevel=2,
            )
        self.__dict__.update(state)

    # -- what the shorthands change -------------------------------------------
    def _family_spec(self) -> tuple[str, str, Mapping | None]:
        return self.family, self.covariance, self.family_options

    def _make_family(self) -> Family:
        for name in self._switches:
            check.flag(name, getattr(self, name))
        return get_family(*self._family_spec())

    def _joint_rows(self) -> bool:
        """Whether these settings give each row one component (not the
        per-dimension model)."""
        return self._make_family().joint

    def _layout_spec(self) -> tuple[bool, int | str | None]:
        return bool(self.ordered), self.anchor_dim

    def _read(self, X, censoring: Mapping) -> tuple[CellTable, pd.Index]:
        return cell_table(X, **censoring)

    def _check_fit_data(self, cells: CellTable) -> None:
        """Refuse data that would give a silently wrong fit (before Stan),
        and warn of columns of three values or fewer, of values piled at a
        column's end with no limit given and of columns that number the
        rows."""
        check_fit_data(cells)
        for said in [
            *few_value_columns(cells),
            *unstated_limit_piles(cells),
            *row_number_columns(cells),
        ]:
            warnings.warn(said, UserWarning, stacklevel=check.caller_level())

    def _posterior_out(self, variables, dims, coords):
        return variables, dims, coords

    def _posterior_in(self, posterior):
        return posterior

    # -- validation -----------------------------------------------------------
    def _checked_settings(self) -> tuple[int, Priors, str]:
        k = self.n_components
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            raise StanmixInputError(
                f"n_components must be a positive integer, got {k!r}"
            )
        if k < 1:
            raise StanmixInputError(
                f"n_components must be a positive integer, got {k!r}"
            )
        relabel = "none" if self.relabel in (None, False) else self.relabel
        check.one_of("relabel", relabel, RELABEL, " (or None to keep the raw labels)")
        check.number("hdi_prob", self.hdi_prob, low=0, high=1)
        for name in (
            "prior_mean_scale",
            "prior_scale_median",
            "prior_scale_log_sd",
            "prior_concentration",
        ):
            check.number(name, getattr(self, name), positive=True)
        g = self.guided_prior_scale
        if g is not None:
            check.number("guided_prior_scale", g, positive=True)
        priors = Priors(
            mean_scale=float(self.prior_mean_scale),
            scale_median=float(self.prior_scale_median),
            scale_log_sd=float(self.prior_scale_log_sd),
            concentration=float(self.prior_concentration),
            guided_scale=None if g is None else float(g),
        )
        return int(k), priors, relabel

    def _anchor(self, starts: list[Clustering], columns: tuple[str, ...]) -> int:
        anchor = self._layout_spec()[1]
        if anchor is None:
            chosen = choose_anchor(*starts)
            logger.info("anchor dimension: %s", columns[chosen])
            return chosen
        return check.column_position("anchor_dim", anchor, columns)

    # -- fitting ----------------------------------------------------------------
    def _check_fit_options(
        self,
        settings: Mapping[str, Any],
        engine_options: Mapping,
        family: Family | None,
    ) -> tuple[int, Priors, str, int | None, Engine, int | None]:
        """Every check of ``fit``'s settings that needs no data, in the order
        ``fit`` makes them: (K, priors, relabel method, seed, engine, threads
        per chain or None). ``settings`` are the arguments of
        :func:`~stanmix.inference.settings.check_fit_settings`; ``family``
        None skips the checks that need it (a family made from the data)."""
        k, priors, relabel = self._checked_settings()
        seed = check_fit_settings(**settings)
        method, adaptation = settings["method"], settings["adaptation"]
        engine = get_engine(self.engine)
        misplaced = sorted(set(engine_options) & set(self.get_params()))
        if misplaced:  # a constructor setting passed to fit
            name = misplaced[0]
            value = engine_options[name]
            raise StanmixInputError(
                f"{name} is a setting of the estimator, not of fit: "
                f"{type(self).__name__}(..., {name}={value!r}), or "
                f"model.set_params({name}={value!r}) before fit"
            )
        check.known_keys(
            f"option(s) for method={method!r} on engine {engine.name!r}:",
            engine_options,
            sorted(engine.options.get(method, ())),
            f" (the engine's, beside the keywords of {type(self).__name__}.fit; "
            "censoring goes in lower_limit, upper_limit, censored, interval)",
            near=_near_names(type(self), engine, method),
            aliases=FOREIGN_NAMES,
        )
        for name in sorted(WHOLE_OPTIONS & set(engine_options)):
            check.integer(name, engine_options[name], low=1)
        for name in sorted(POSITIVE_OPTIONS & set(engine_options)):
            check.number(name, engine_options[name], positive=True)
        if "adapt_engaged" in engine_options:
            check.flag("adapt_engaged", engine_options["adapt_engaged"])
        if (
            engine_options.get("adapt_engaged") is False
            and settings["adapt_delta"] != FIT_DEFAULTS["adapt_delta"]
        ):
            raise StanmixInputError(
                f"adapt_delta={settings['adapt_delta']!r} tunes the step size, "
                "which adapt_engaged=False turns off; pass one or the other"
            )
        check_callback(engine_options.get("callback"))
        if method == "variational" and "eval_elbo" in engine_options:
            every = engine_options["eval_elbo"]
            most = engine_options.get("iter", DEFAULT_ITER)
            if every > most:
                raise StanmixInputError(
                    f"eval_elbo={every} is above iter={most}: the ELBO would never "
                    "be estimated, so ADVI could not test convergence; pass "
                    f"eval_elbo at most {most}"
                )
        if "eta" in engine_options and "adapt_iter" in engine_options:
            raise StanmixInputError(
                "adapt_iter sets the length of the search for eta, which a given "
                "eta skips; pass one or the other"
            )
        if method == "sample":
            thin = engine_options.get("thin", 1)  # checked above
            kept = -(-settings["draws"] // thin)
            if kept < MIN_NUTS_DRAWS:
                kept_text = f" with thin={thin} keeps {kept}" if thin > 1 else ""
                raise StanmixInputError(
                    f"draws={settings['draws']}{kept_text}: NUTS needs at least "
                    f"{MIN_NUTS_DRAWS} kept draws per chain (R-hat, ESS and the "
                    "check for label switching compare draws); use draws="
                    f"{MIN_NUTS_DRAWS * thin} or more"
                )
        threads = engine_options.get("threads_per_chain")
        if threads is not None:
            threads = check_threads(threads)
            if threads > 1 and family is not None and not family.threads:
                raise StanmixInputError(
                    f"threads_per_chain={threads}: the {family.family!r} family "
                    f"with covariance={family.covariance!r} has no within-chain "
                    "threads; every family with joint components has them (or "
                    "run more chains in parallel)"
                )
        if adaptation == "laplace" and "inv_metric" in engine_options:
            raise StanmixInputError(
                "adaptation='laplace' computes the metric that inv_metric gives; "
                "pass one or the other (adaptation='windowed' starts its "
                "adaptation from inv_metric)"
            )
        if not settings["jacobian"] and "penalized_mle" not in engine.capabilities:
            raise StanmixInputError(
                "jacobian=False (penalized maximum likelihood) is offered only by "
                f"engine='cmdstan'; engine {engine.name!r} computes the posterior "
                "mode"
            )
        if family is not None:
            self._refuse_unused_priors(family)
        if (
            relabel not in ("auto", "none")
            and family is not None
            and not family.exchangeable(k)
        ):
            raise StanmixInputError(
                f"relabel={relabel!r} permutes the components, but their known "
                "scales tell them apart (a permuted draw is another model, not "
                "another labelling); leave relabel='auto' or use None"
            )
        if relabel in ("stephens", "ecr") and family is not None and not family.joint:
            raise StanmixInputError(
                f"relabel={relabel!r} works on membership probabilities, which the "
                "per-dimension model (joint=False) does not have; use 'reference', "
                "'order' or 'auto'"
            )
        return k, priors, relabel, seed, engine, threads

    def fit(
        self,
        X,
        y=None,
        *,
        method: str = "sample",
        seed: int | None = None,
        chains: int = 4,
        warmup: int | None = None,
        draws: int = 1000,
        n_starts: int = 4,
        init: str | Mapping | list = "map",
        algorithm: str = "meanfield",
        adapt_delta: float = 0.95,
        metric: str = "auto",
        adaptation: str = "auto",
        jacobian: bool = True,
        log_likelihood: bool | None = None,
        show_progress: bool | None = None,
        lower_limit=None,
        upper_limit=None,
        censored=None,
        interval=None,
        **engine_options,
    ) -> Mixture:
        """Fit the mixture to ``X``.

        Parameters
        ----------
        X : array-like or DataFrame
            The observations (rows). DataFrame column names become the
            ``dim`` coordinate and the index the ``obs`` coordinate. NaN
            cells are missing.
        y : ignored
            Present for scikit-learn compatibility (a string is refused: it
            is most likely a method meant as ``method=``).
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
            0 .. 2**31 - 1. Makes the fit reproducible; drawn at random
            (and stored in ``seed_``) when omitted.
        chains, warmup, draws : int
            NUTS chains, warmup iterations and sampling iterations per
            chain, each kept as a draw (with the engine option ``thin=n``,
            every n-th; for variational, ``draws`` is the number of
            approximate draws).
            ``warmup`` defaults to 1000 with Stan's windowed adaptation and
            to 100 with the Laplace metric (see ``adaptation``); the windowed
            adaptation estimates no metric from fewer than 150 warmup
            iterations on stanli (20 on CmdStan). These, and
            the NUTS and ADVI settings below, are refused (other than at
            their defaults) with a method they do not apply to.
        n_starts : int
            Optimizer starts, each from its own k-means clustering (or, with
            ``init="random"``, from Stan's random inits); with
            ``init="kmeans"``, the clusterings NUTS chains cycle through.
        init : {"map", "kmeans", "pathfinder", "random"} or dict or list of dict
            Where chains (or ADVI) start: the best posterior mode (default),
            the k-means clusterings directly, Pathfinder draws from the
            engine (NUTS only), or Stan's own random inits (uniform(-2, 2) on
            the unconstrained scale), which is how label-switched runs
            usually begin. With ``method="optimize"``, ``"map"`` and
            ``"kmeans"`` both start the optimizer from the k-means
            clusterings. Or parameter values in the data's units, ``{"w": (K,),
            "mu": (K, D), "sigma": (K, D)}`` (tied covariance: ``"sigma"``
            (D,), one scale per column) (plus ``"nu"`` (K,) for
            Student-t and ``"corr"`` for full and tied covariances,
            optional): one dict for every chain, or a list with one per
            chain (with ``method="optimize"``, one optimizer start per
            dict). The weights ``w`` must sum to 1. Components are put in
            the program's order first.
        algorithm : {"meanfield", "fullrank"}
            ADVI family for ``method="variational"``.
        adapt_delta : float
            NUTS target acceptance rate. Mixture posteriors have narrow
            regions where components approach each other, so stanmix uses
            0.95 rather than Stan's 0.8: fewer divergences, higher ESS.
        metric : {"auto", "dense_e", "diag_e", "unit_e"}
            NUTS mass matrix (``adaptation`` says how it is found). ``"auto"``
            takes ``"dense_e"`` when chains start from the MAP, the model
            has at most 100 unconstrained parameters (and, where warmup
            estimates the metric, at least 10 warmup iterations for each),
            and the components are well
            separated there (mean top membership probability at least 0.9)
            with none nearly all censored in a column; otherwise
            ``"diag_e"`` (see :mod:`stanmix.inference.metric`). The choice
            is kept in ``metric_``.
        adaptation : {"auto", "laplace", "windowed"}
            How NUTS finds its metric. ``"windowed"``: Stan's windowed
            adaptation, which estimates it from the warmup draws (1000
            iterations unless ``warmup`` says otherwise). ``"laplace"``: the
            Laplace approximation at the MAP (the covariance ``inv(-H)`` on
            the unconstrained scale, or its diagonal for ``"diag_e"``) is the
            metric and stays fixed; the warmup (100 iterations unless
            ``warmup`` says otherwise, at most 149) tunes only the step size.
            It needs ``init="map"``. ``"auto"`` takes ``"laplace"`` where the
            chains start from the MAP, ``inv_metric`` is not given and the
            metric is not ``"unit_e"``, if either the components are well
            separated there (mean top membership probability at least 0.9)
            and ``warmup`` is not given, or ``warmup`` is too short for the
            windowed adaptation to estimate a metric (below 150 on stanli,
            20 on CmdStan); otherwise ``"windowed"``. Where the curvature at
            the MAP is not positive definite the windowed adaptation is used.
            A windowed adaptation with too short a warmup warns and leaves
            the chains on the metric they start with (``inv_metric``, or the
            identity: ``metric_`` then says ``"unit_e"``), and
            ``adaptation_`` says ``"none"``. ``adapt_engaged=False`` tunes
            nothing, not even the step size; the Laplace metric, where it is
            chosen, is still the chains' metric. The choice is kept in
            ``adaptation_``.
        jacobian : bool
            ``False`` asks for the penalized maximum likelihood instead of
            the posterior mode; only engines with that capability (CmdStan)
            offer it.
        log_likelihood : bool, optional
            Store the pointwise log-likelihood of the draws (for ``az.loo``).
            By default, stored when it holds fewer than 20 million values, a
            row whose several censored cells need a quadrature (full and
            tied covariance) counting as its number of nodes (65 for two
            cells, 1936 for three), as it costs as much to compute; above
            that a warning says it was not stored (``False`` skips it
            without one). Never stored for ``method="optimize"`` (one
            point: ``az.loo`` cannot use it and ``az.waic`` would rank it
            first with no penalty; see :meth:`bic`), where ``True`` is
            refused.
        show_progress : bool, optional
            Progress bars while the optimizer's starts run (every method
            that starts from the posterior mode), while NUTS samples and,
            on the embedded engine, while ADVI iterates (with its latest
            ELBO estimate); by default shown on a terminal.
        lower_limit, upper_limit, censored, interval
            Censoring, as :func:`stanmix.censoring.cell_table` takes it:
            detection limits (a number, ``{column: limit}`` or per-cell
            array; cells recorded at the limit are censored), a boolean
            mask of censored cells, or interval bounds ``(lows, highs)``:
            every cell's lower bound, then every cell's upper bound, each
            shaped as ``X`` (NaN in both where a cell has none).
        **engine_options
            Extra options of the engine for this method, e.g.
            ``max_treedepth`` or ``thin`` for NUTS, ``tol_rel_obj`` for ADVI,
            ``iter`` for optimize (see ``Engine.options``); anything else
            is refused before any Stan call. ``threads_per_chain`` (NUTS;
            every family with joint components) splits each chain's likelihood
            over that many threads with ``reduce_sum``; by default a fit
            with fewer chains than cores gives each chain the spare ones,
            except with full or tied covariance, which threads slow down
            (CmdStan then builds the program with STAN_THREADS; worker
            processes of parallel fits keep one thread per chain, see
            ``stanmix.inference.threads.usable_cores``).

        Returns
        -------
        self

        Warns
        -----
        stanmix.ConvergenceWarning
            After NUTS, when some parameter's R-hat is above 1.01 or its bulk
            ESS below 400 (weak identification, or chains too short), or the
            sampler reports divergent transitions, trajectories cut at the
            maximum tree depth or a chain's E-BFMI below 0.3: which
            parameter or statistic, its figures, and what to do (for
            divergences, a higher ``adapt_delta``). ``convergence_`` keeps
            them.
        RuntimeWarning
            Before NUTS, when the windowed adaptation's warmup is too short
            for it to estimate a metric (see ``adaptation``).

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(-3, 1, 100), rng.normal(3, 1, 100), [0.0]][:, None]
        >>> model = sm.Mixture(2, engine="stanli").fit(
        ...     X, chains=2, draws=500, seed=1, show_progress=False)
        >>> np.round(model.means_, 1).tolist()
        [[-2.9], [2.9]]
        >>> dict(model.idata_.posterior.sizes)
        {'chain': 2, 'draw': 500, 'component': 2, 'dim': 1}
        >>> model.labels_[[0, 199]].tolist()
        [0, 1]
        """
        _refuse_misplaced_y("fit", y)
        settings = dict(
            method=method,
            init=init,
            chains=chains,
            warmup=warmup,
            draws=draws,
            n_starts=n_starts,
            algorithm=algorithm,
            adapt_delta=adapt_delta,
            metric=metric,
            adaptation=adaptation,
            jacobian=jacobian,
            seed=seed,
            log_likelihood=log_likelihood,
            show_progress=show_progress,
        )
        family = self._make_family().for_method(method)
        k, priors, relabel, seed, engine, threads = self._check_fit_options(
            settings, engine_options, family
        )
        cells, index = self._checked_cells(
            family, k, X, (lower_limit, upper_limit, censored, interval)
        )
        for message in costly_rows(family, cells, k, method):
            warnings.warn(message, UserWarning, stacklevel=check.caller_level())
        if method == "sample" and "inv_metric" in engine_options:
            engine_options["inv_metric"] = check_inv_metric(
                engine_options["inv_metric"],
                metric,
                self._n_unconstrained(family, k, cells),
            )
        if method == "variational" and "init_scale" in engine_options:
            check_init_scale(
                engine_options["init_scale"],
                self._n_unconstrained(family, k, cells),
                algorithm,
            )
        if seed is None:
            seed = check.fresh_seed()
        if show_progress is None:
            show_progress = bool(getattr(sys.stderr, "isatty", lambda: False)())

        units, std = self._units(family, cells, priors)
        layout, starts = self._starts(
            family,
            std,
            k,
            spawn_seeds(seed, n_starts),
            self._start_view(family, cells, units),
        )
        user = None
        if not isinstance(init, str):
            user = user_starts(
                family,
                init,
                k,
                cells.n_dims,
                units,
                chains if method == "sample" else None,
                (layout.anchor, cells.columns[layout.anchor])
                if layout.ordered
                else None,
            )
            if method == "variational" and len(user) > 1:
                raise StanmixInputError(
                    f"init has {len(user)} dicts, but ADVI starts from one "
                    "point; give one dict"
                )
        run = _Run(
            family=family,
            engine=engine,
            stan_file=program_path(family.program),
            cells=cells,
            std=std,
            k=k,
            layout=layout,
            data=family.stan_data(std, k, layout, priors, starts[0], units),
            seed=seed,
            show_progress=show_progress,
        )

        with self._state_kept_on_failure():
            self._reset(family, cells, index, units, layout, seed, engine, method)
            if not has_feature_names(X):
                del self.feature_names_in_  # as scikit-learn: names given only
            best = mode = map_probs = None
            if method == "optimize" or init == "map":
                if method == "optimize" and init == "random":
                    point_inits = [None] * n_starts  # Stan's own random inits
                else:
                    point_starts = user if (method == "optimize" and user) else starts
                    point_inits = [run.init(p) for p in point_starts]
                found = self._posterior_mode(
                    run,
                    point_inits,
                    method,
                    jacobian,
                    engine_options if method == "optimize" else {},
                    template=run.init(starts[0]),
                )
                if found is None:
                    init = "kmeans"  # the draws start from the clusterings
                else:
                    best, mode, map_probs, run = found
            if method == "optimize":
                result = best
            elif method == "variational":
                start = mode if best is not None else (user or starts)[0]
                result = engine.variational(
                    run.stan_file,
                    run.data,
                    init=None if init == "random" else run.init(start),
                    seed=seed,
                    algorithm=algorithm,
                    draws=draws,
                    laplace_start=best is not None,
                    show_progress=show_progress,
                    **engine_options,
                )
            else:
                if init == "map":
                    rng = np.random.default_rng(seed)
                    inits = [run.init(family.jitter(mode, rng)) for _ in range(chains)]
                elif user is not None:
                    inits = [run.init(p) for p in user]
                elif init == "kmeans":
                    inits = [run.init(p) for p in (starts * chains)[:chains]]
                else:
                    inits = None  # Stan's own random inits, or Pathfinder's
                result = self._sample(
                    run,
                    settings,
                    init,
                    inits,
                    (best, mode, map_probs),
                    threads,
                    engine_options,
                )
            self._finish(result, log_likelihood, relabel, map_probs)
        return self

    def _posterior_mode(
        self,
        run: _Run,
        inits: list,
        method: str,
        jacobian: bool,
        options: Mapping,
        template: dict | None = None,
    ) -> tuple[EngineResult, Params, np.ndarray | None, _Run] | None:
        """The best of the optimizer's starts: its result, the mode (first
        draw, the fit's units), the membership probabilities there (joint
        families) and the run, whose ordered means now step from the best
        determined mean (NUTS and ADVI). Sets ``map_`` and ``optimize_lps_``.

        None (after a warning) where no start found a mode and the method
        can go on without one; the optimizer's error, with what the data
        make hard, for ``method="optimize"``.
        """
        family, cells = run.family, run.cells
        try:
            best, self.optimize_lps_ = best_mode(
                run.engine,
                run.stan_file,
                run.data,
                inits,
                run.seed,
                jacobian,
                confirm=method == "optimize",
                show_progress=run.show_progress,
                template=template,
                **options,
            )
        except RuntimeError as err:
            hint = tied_columns_hint(cells) + piled_values_hint(cells)
            if method == "optimize":
                if hint:
                    raise RuntimeError(f"{err}{hint}") from err
                raise
            starts = (
                "ADVI starts from the first k-means clustering"
                if method == "variational"
                else "the chains start from the k-means clusterings"
            )
            warnings.warn(
                f"no posterior mode was found to start from ({err}); {starts} "
                f"instead{hint}",
                RuntimeWarning,
                stacklevel=check.caller_level(),
            )
            return None
        mode = _first(family.from_stan(best.variables))
        self.map_ = family.to_original_units(mode, self.units_)
        map_probs = None
        if family.joint:
            map_probs = likelihood.membership_mean(family, cells, _lead(self.map_))
            if run.layout.ordered and method != "optimize":
                # The draws step from the best determined mean.
                pivot = best_determined(cells, map_probs, run.layout.anchor)
                run = replace(
                    run,
                    layout=replace(run.layout, pivot=pivot),
                    data={**run.data, "pivot": pivot + 1},
                )
        return best, mode, map_probs, run

    def _sample(
        self,
        run: _Run,
        settings: Mapping,
        init: str | Mapping | list,
        inits: list | None,
        found: tuple[EngineResult | None, Params | None, np.ndarray | None],
        threads: int | None,
        engine_options: dict,
    ) -> EngineResult:
        """NUTS from ``inits``: the metric and warmup ``plan_nuts`` chooses
        (kept in ``metric_`` and ``adaptation_``), the threads per chain (kept
        in ``threads_per_chain_``), then the engine's sampler. ``init`` is
        where the chains start (``"kmeans"`` where no mode was found) and
        ``found`` the best mode's result, point and membership
        probabilities (None without a mode)."""
        family, cells, k = run.family, run.cells, run.k
        best, mode, map_probs = found
        separation = None if map_probs is None else float(map_probs.max(axis=1).mean())
        censored_heavy = map_probs is not None and bool(
            mostly_censored(cells, map_probs.argmax(axis=1), k, CENSORED_WARN)
        )
        plan = plan_nuts(
            adaptation=settings["adaptation"],
            metric=settings["metric"],
            warmup=settings["warmup"],
            inv_metric=engine_options.pop("inv_metric", None),
            adapt_engaged=engine_options.get("adapt_engaged", True),
            engine=run.engine.name,
            n_unconstrained=self._n_unconstrained(family, k, cells),
            separation=separation,
            mostly_censored=censored_heavy,
            at_map=init == "map",
            laplace=None
            if best is None
            else lambda: _laplace_metric(
                run.engine, run.stan_file, run.data, best, run.init(mode)
            ),
        )
        for note in plan.notes:
            logger.info(note)
        for message in plan.warnings:
            warnings.warn(message, RuntimeWarning, stacklevel=check.caller_level())
        self.metric_ = plan.metric
        self.adaptation_ = plan.adaptation
        if plan.inv_metric is not None:
            engine_options["inv_metric"] = plan.inv_metric
        if threads is None and family.threads and family.spare_cores:
            threads = spare_threads(settings["chains"], usable_cores())
        self.threads_per_chain_ = threads or 1
        if self.threads_per_chain_ > 1:
            engine_options["threads_per_chain"] = self.threads_per_chain_
        data = run.data
        if family.threads:
            data = {
                **data,
                "grainsize": grainsize(cells.n_obs, self.threads_per_chain_),
            }
        result = run.engine.sample(
            run.stan_file,
            data,
            chains=settings["chains"],
            warmup=plan.warmup,
            draws=settings["draws"],
            seed=run.seed,
            adapt_delta=settings["adapt_delta"],
            metric=plan.metric,
            inits=inits,
            pathfinder_init=init == "pathfinder",
            show_progress=run.show_progress,
            adapt_metric=plan.adapt_metric,
            **engine_options,
        )
        result.info.setdefault(
            "adapt_engaged", bool(engine_options.get("adapt_engaged", True))
        )
        return result

    def _checked_cells(
        self, family: Family, k: int, X, censoring: tuple
    ) -> tuple[CellTable, pd.Index]:
        """``X`` read with its censoring (``CENSORING_ARGS``' values, None
        where not given), refused where K components of ``family`` cannot
        be fitted to it."""
        given = zip(CENSORING_ARGS, censoring, strict=True)
        cells, index = self._read(
            X, {name: value for name, value in given if value is not None}
        )
        self._check_fit_data(cells)
        if k > cells.n_obs:
            raise StanmixInputError(
                f"n_components={k} is larger than the number of observations "
                f"({cells.n_obs}); use at most {cells.n_obs} components"
            )
        distinct = cells.n_distinct_rows()
        if k > distinct:
            raise StanmixInputError(
                f"n_components={k} is larger than the number of distinct rows "
                f"({distinct} of {cells.n_obs}): the surplus components would "
                f"sit on copies of the same rows; use at most {distinct} "
                f"components{tied_columns_hint(cells)}"
            )
        family.validate(k, cells.n_dims)
        return cells, index

    def _refuse_data(
        self, X, *, lower_limit=None, upper_limit=None, censored=None, interval=None
    ) -> None:
        """Raise what :meth:`fit` would raise on ``X`` and its censoring,
        before any start or Stan call, so that a caller (the command line)
        can refuse the data before it says what it is about to fit. Warnings
        are left to the fit itself, which gives them again."""
        k, _, _ = self._checked_settings()
        family = self._make_family()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._checked_cells(
                family, k, X, (lower_limit, upper_limit, censored, interval)
            )

    def _starts(
        self,
        family: Family,
        cells: CellTable,
        k: int,
        seeds: list[int],
        view: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[Layout, list[Params]]:
        """The layout (anchor from the k-means clusterings) and one start
        per seed: the family's own starts, or k-means clusterings of
        ``cells``, seen through ``view`` (see :meth:`_start_view`). Start i's
        (and its optimizer run's, in best_mode) is the i-th seed derived
        from the fit's seed."""
        points, exact = cells.point_values(), cells.kind == OBSERVED
        factor, shift = view if view is not None else (1.0, 0.0)
        # Every other start is plain k-means: trimming keeps a few outliers
        # from taking a component, but takes a small cluster far from the
        # rest for outliers too, and then no start has it.
        clusterings = [
            kmeans(
                points * factor + shift,
                k,
                seed=seed,
                exact=exact,
                trim=KMEANS_TRIM if i % 2 == 0 else 0.0,
            ).affine(1.0 / factor, -shift / factor)
            for i, seed in enumerate(seeds)
        ]
        layout = Layout(
            self._anchor(clusterings, cells.columns), self._layout_spec()[0]
        )
        starts = family.data_starts(cells, k, seeds) or [
            c.start(family) for c in clusterings
        ]
        return layout, starts

    def _start_view(
        self, family: Family, cells: CellTable, units: Standardization
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """How the k-means starts see the fit's units: (factor, shift) per
        column, to the units of the cells' point values, where the fit's
        units differ from them (columns with censored cells, which take
        their units from a censored normal fit; None where none do). A
        column mostly at its limit, with a small cluster far above it, has
        a wide censored normal, in whose units the cluster sits close to
        the pile; in the point values' units it stays as far from it as the
        data show, and k-means finds it."""
        if not self.standardize:
            return None
        plain = Standardization.fit(
            cells, shared=family.shared_scale, censored_fit=False
        )
        if np.array_equal(plain.scale, units.scale) and np.array_equal(
            plain.center, units.center
        ):
            return None
        return units.scale / plain.scale, (units.center - plain.center) / plain.scale

    def _units(
        self, family: Family, cells: CellTable, priors: Priors
    ) -> tuple[Standardization, CellTable]:
        """The units the fit runs in (``standardize``), and the cells in them;
        warns when the data's own units lie far outside the priors."""
        own = Standardization.fit(cells, shared=family.shared_scale)
        if self.standardize:
            return own, own.apply(cells)
        for off in self._off_scale(own, priors, cells):
            warnings.warn(off, UserWarning, stacklevel=check.caller_level())
        units = Standardization.fit(cells, enabled=False)
        return units, units.apply(cells)

    def _off_scale(
        self, own: Standardization, priors: Priors, cells: CellTable
    ) -> list[str]:
        """What a fit in the data's units (``standardize=False``) warns of,
        given the units standardizing would give (``own``): columns far
        outside the priors."""
        return [text for text in [priors_off_scale(own, priors, cells.columns)] if text]

    def stan_input(
        self,
        X,
        *,
        seed: int | None = None,
        lower_limit=None,
        upper_limit=None,
        censored=None,
        interval=None,
    ) -> StanInput:
        """The Stan program this estimator fits, with its data and a starting
        point for ``X``, to run the program directly (CmdStan) and read the
        run back with :func:`stanmix.from_cmdstan_csv`.

        The data are those :meth:`fit` gives the engine for NUTS. With
        ``standardize=True`` (the default) they are in standardized units,
        where the priors are set, and the data record those units
        (``stanmix_center``, ``stanmix_scale``; the program does not read
        them), so that :func:`~stanmix.from_cmdstan_csv` reports the run in
        the data's own units, as :meth:`fit` does. With
        ``standardize=False`` they are in the data's units, and the priors
        must suit them (``prior_mean_scale``, ``prior_scale_median``). The
        start is the k-means clustering of :meth:`fit`'s first start
        (``seed``), or the family's own start. The generated quantities
        are switched on: ``compute_log_lik``, and ``compute_membership``
        but for the per-dimension model, whose rows have no single
        component (the program refuses it there). The estimator is not
        changed.

        Parameters
        ----------
        X : array-like or DataFrame
            The data, as for :meth:`fit`.
        seed : int, optional
            The seed of :meth:`fit` whose first start to take.
        lower_limit, upper_limit, censored, interval
            The censoring, as for :meth:`fit`.

        Returns
        -------
        StanInput
            ``program`` (path of the ``.stan`` file; its include files are
            beside it), ``data`` and ``init`` (dicts of JSON-ready values);
            ``write(folder)`` writes ``<program>.data.json`` and
            ``<program>.init.json`` there.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(-30, 10, 100), rng.normal(30, 10, 100)]
        >>> X = np.maximum(X, -40.0)  # a detection limit at -40
        >>> run = sm.Mixture(2).stan_input(X, lower_limit=-40.0, seed=1)
        >>> run.program.name, run.data["K"], run.data["N"]
        ('normal_diag.stan', 2, 200)
        >>> np.round(run.data["stanmix_scale"]).tolist()  # units recorded
        [32.0]
        >>> raw = sm.Mixture(2, standardize=False, prior_mean_scale=100.0,
        ...                  prior_scale_median=10.0)
        >>> run = raw.stan_input(X, lower_limit=-40.0, seed=1)
        >>> np.round(run.init["mu_anchor_ordered"]).tolist()  # k-means centres
        [-29.0, 31.0]
        """
        k, priors, _ = self._checked_settings()
        family = self._make_family()
        self._refuse_unused_priors(family)
        cells, _ = self._checked_cells(
            family, k, X, (lower_limit, upper_limit, censored, interval)
        )
        seed = check.seed(seed)
        if seed is None:
            seed = check.fresh_seed()
        units, std = self._units(family, cells, priors)
        # fit's first start: the first of the seeds derived from the seed
        layout, (start, *_) = self._starts(
            family, std, k, spawn_seeds(seed, 1), self._start_view(family, cells, units)
        )
        data = family.stan_data(std, k, layout, priors, start, units)
        data.update(
            compute_log_lik=1,
            compute_membership=int(family.joint),
            **units.stan_entries(),
        )
        init = mixing_init(data, family.stan_init(start, std, layout))
        return StanInput(
            program_path(family.program), _json_ready(data), _json_ready(init)
        )

    def _refuse_unused_priors(self, family: Family) -> None:
        """Refuse a prior set away from its default that the family's
        settings leave nothing to act on (:meth:`Family.unused_priors`)."""
        defaults = inspect.signature(type(self).__init__).parameters
        for field, why in family.unused_priors().items():
            name = f"prior_{field}"
            value = getattr(self, name)
            if name in defaults and not _same(value, defaults[name].default):
                raise StanmixInputError(
                    f"{name}={value!r} sets the prior of estimated scales, "
                    f"but {why}, so it would change nothing; leave it out"
                )

    @staticmethod
    def _n_unconstrained(family: Family, k: int, cells: CellTable) -> int:
        return family.n_parameters(k, cells.n_dims) + family.n_latent(cells)

    @contextlib.contextmanager
    def _state_kept_on_failure(self) -> Iterator[None]:
        """Put the estimator back as it was (fitted or not) when what runs
        inside fails or is interrupted, so no fit is left half replaced."""
        saved = dict(self.__dict__)
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _reset(self, family, cells, index, units, layout, seed, engine, method):
        """Fitted state that does not depend on the result, after dropping
        every attribute of an earlier fit (a family's own, such as ``nu_``,
        would outlive a refit with another family)."""
        for name in [a for a in vars(self) if a.endswith("_") and a[0] != "_"]:
            delattr(self, name)
        self.family_ = family
        self.cells_ = cells
        self.obs_index_ = index
        self.center_ = units.center
        self.scale_ = units.scale
        self.units_ = units
        self.anchor_ = layout.anchor
        self.seed_ = seed
        self.engine_ = engine.name if isinstance(engine, Engine) else engine
        self.engine_version_ = engine.version if isinstance(engine, Engine) else ""
        self.method_ = method
        self.map_ = None
        self.metric_ = None
        self.adaptation_ = None
        self.threads_per_chain_ = None
        self.optimize_lps_ = None
        self.n_features_in_ = cells.n_dims
        self.feature_names_in_ = np.asarray(cells.columns, dtype=object)
        self._fitted_repr = repr(self)  # the settings of this fit, for reports
        self._read_back = False  # fit_result: draws made outside fit

    def fit_result(
        self,
        result: EngineResult,
        cells: CellTable,
        *,
        index: pd.Index | None = None,
        seed: int = 0,
        units: Standardization | None = None,
        feature_names: bool = True,
    ) -> Mixture:
        """Take draws made outside :meth:`fit` (a direct CmdStan run) as this
        model's fit.

        The draws must be of this model's program, run on ``cells`` (the
        data, in their own units) moved to ``units`` (None: the data's own
        units, no standardization). ``feature_names``: whether the cells'
        column names are the data's own (kept in ``feature_names_in_``, and
        matched against a DataFrame's columns), not ``x0``, ``x1``, ...
        given by position.

        Returns
        -------
        self
        """
        _, _, relabel = self._checked_settings()
        family = self._make_family()
        if family.joint is False and relabel in ("stephens", "ecr"):
            relabel = "reference"
        d = cells.n_dims
        if units is None:
            units = Standardization(np.zeros(d), np.ones(d))
        anchor = self._layout_spec()[1]
        layout = Layout(
            int(anchor) if isinstance(anchor, (int, np.integer)) else 0,
            self._layout_spec()[0],
        )
        with self._state_kept_on_failure():
            self._reset(
                family,
                cells,
                pd.RangeIndex(cells.n_obs) if index is None else index,
                units,
                layout,
                int(seed),
                result.engine,
                result.method,
            )
            self.engine_version_ = result.engine_version
            self._read_back = True
            if not feature_names:
                del self.feature_names_in_
            self._finish(result, None, relabel, None)
        return self

    def _finish(self, result, log_likelihood, relabel, map_probs) -> None:
        family = self.family_
        params = family.to_original_units(
            family.from_stan(result.variables), self.units_
        )
        collapsed = singular_draws(params, result.method)
        if collapsed:
            hint = tied_columns_hint(self.cells_) + piled_values_hint(self.cells_)
            raise RuntimeError(collapsed + hint)
        c, n_draws, k = params["w"].shape
        variables, dims, coords = self._posterior_out(
            *family.to_posterior(params, self.cells_.columns)
        )
        n = self.cells_.n_obs
        if result.method == "optimize":
            log_likelihood = False  # one point: nothing for az.loo / az.waic
        if log_likelihood is None:
            cost = c * n_draws * float(family.row_costs(self.cells_).sum())
            log_likelihood = cost <= LOG_LIK_BUDGET
            if not log_likelihood:
                warnings.warn(
                    f"the pointwise log-likelihood was not stored, so az.loo and "
                    f"az.waic will not find it: {c * n_draws} draws x {n} rows "
                    f"would take {8 * c * n_draws * n / 1e9:.2g} GB, and cost as "
                    f"much to compute as {cost:.3g} values, above the default "
                    f"budget of {LOG_LIK_BUDGET:.3g}; pass log_likelihood=True to "
                    "store it anyway, or log_likelihood=False not to (without "
                    "this warning)",
                    UserWarning,
                    stacklevel=check.caller_level(),
                )
        ll = None
        if log_likelihood:
            ll = likelihood.log_likelihood(
                family, self.cells_, _flatten(params)
            ).reshape(c, n_draws, n)
        attrs = self._attrs(result)
        idata = build_inference_data(
            posterior=variables,
            dims=dims,
            coords=coords,
            sample_stats=result.sample_stats,
            cells=self.cells_,
            index=self.obs_index_,
            log_likelihood=ll,
            attrs=attrs,
        )
        self.relabel_report_ = None
        self.label_switching_ = None
        current: tuple[str, ...] = ()
        if result.method == "sample" and k > 1:
            idata, current = self._relabel(idata, params, relabel)
        self.idata_ = idata
        self.engine_result_info_ = result.info
        self._summarise()
        self.censored_components_ = self._censored_components(map_probs)
        self._warn_collapsed()
        self._warn_close_order(params)
        self.convergence_ = None
        if result.method == "sample":
            self.convergence_ = self._convergence(current)
        self.pareto_k_ = None
        stats = result.sample_stats or {}
        if result.method == "variational" and "log_g" in stats:
            self.pareto_k_ = pareto_k(stats["lp"], stats["log_g"])
            self.idata_.posterior.attrs["pareto_k"] = self.pareto_k_
            # the draws k-hat weighs: those with a finite importance ratio
            ratio = np.asarray(stats["lp"], float) - np.asarray(stats["log_g"], float)
            finite = int(np.isfinite(ratio).sum())
            if finite < PARETO_K_DRAWS:
                warnings.warn(
                    f"the ADVI approximation cannot be judged from {finite} draws: "
                    f"the Pareto k-hat of its importance ratios needs at least "
                    f"{PARETO_K_DRAWS} (pareto_k_ is NaN); take more draws "
                    "(draws=1000, the default) to learn whether it is close to "
                    "the posterior",
                    UserWarning,
                    stacklevel=check.caller_level(),
                )
            elif self.pareto_k_ > PARETO_K_MAX:
                warnings.warn(
                    pareto_k_message(
                        self.pareto_k_, result.info.get("algorithm", "meanfield")
                    ),
                    RuntimeWarning,
                    stacklevel=check.caller_level(),
                )
        if result.method == "variational" and "lp" in stats:
            lp = np.asarray(stats["lp"], dtype=float)
            outside = int((~np.isfinite(lp)).sum())
            if outside:
                warnings.warn(
                    f"{outside} of the {lp.size} ADVI draws lie where the model's "
                    "log density cannot be evaluated (a domain error: beyond the "
                    "posterior's support, or a component collapsing there); the "
                    "approximation reaches past the posterior, its means and "
                    "intervals count those draws, and pareto_k_ leaves them out. "
                    "Use method='sample' for a posterior you can report",
                    RuntimeWarning,
                    stacklevel=check.caller_level(),
                )

    def _attrs(self, result: EngineResult) -> dict:
        attrs = {
            "stanmix_version": __version__,
            "engine": result.engine,
            "engine_version": result.engine_version,
            "method": result.method,
            "program": self.family_.program,
            "family": self.family_.family,
            "covariance": self.family_.covariance,
            "anchor": self.cells_.columns[self.anchor_],
            "seed": self.seed_,
            "model": json.dumps(
                {k: v for k, v in self.get_params().items() if k != "engine"},
                default=_jsonable,
            ),
        }
        if result.method == "optimize":
            attrs["point_estimate"] = (
                "posterior mode (jacobian=True)"
                if result.info.get("jacobian", True)
                else "penalized maximum likelihood (jacobian=False)"
            )
        if result.method == "sample":
            attrs["metric"] = result.info.get("metric", "")
            attrs["adaptation"] = self.adaptation_ or (
                "windowed" if result.info.get("adapt_metric", True) else "laplace"
            )
        if result.method == "variational":
            for key in ("algorithm", "implementation", "init_scale"):
                attrs[key] = result.info.get(key, "")
        return attrs

    def _relabel(self, idata, params: Params, relabel: str):
        """The relabelled draws, and the variables whose R-hat and ESS in
        ``relabel_report_`` hold for them (the rest are computed anew)."""
        self.label_switching_ = detect_label_switching(idata)
        family = self.family_
        if not family.exchangeable(self.n_components):
            switching = self.label_switching_
            if switching.label_switching:
                self.label_switching_ = replace(
                    switching,
                    message=(
                        "The chains disagree on which component has which mean, "
                        "but the known scales tell the components apart: these "
                        "are different modes of the posterior, not labellings "
                        "of one, and no relabelling can merge them. Start the "
                        "chains from the same mode (init='map', the default) or "
                        "fit with ordered means (ordered=True)."
                    ),
                )
            return idata, ()
        if relabel == "none":
            if self.label_switching_.label_switching:
                # memberships, summaries and plots would mix the clusters
                warnings.warn(
                    f"{self.label_switching_.message} relabel='none' kept the "
                    "draws as sampled, so the posterior means, summary() and "
                    "the membership probabilities mix the components; "
                    "relabel='auto' (the default) relabels them.",
                    RuntimeWarning,
                    stacklevel=check.caller_level(),
                )
            return idata, ()
        method = relabel
        if (
            method == "auto"
            and self._layout_spec()[0]
            and not self.label_switching_.label_switching
        ):
            # The program's ordering already labels the draws and no chain
            # left that labelling: keep it. Per-draw relabelling would trade
            # it for one that mixes overlapping components.
            method = "order"
        c, n_draws, k = params["w"].shape
        membership = None
        if method in ("auto", "stephens", "ecr") and family.joint:
            n = self.cells_.n_obs
            keep = max(1, min(n, STEPHENS_BUDGET // (c * n_draws * k)))
            rows = np.arange(n)
            if keep < n:
                rows = np.sort(
                    np.random.default_rng(self.seed_).choice(n, keep, replace=False)
                )
            membership = likelihood.membership_draws(
                family, self.cells_.rows(rows), _flatten(params)
            ).reshape(c, n_draws, rows.size, k)
        reference = None
        if self.map_ is not None and method != "order":
            variables, _, _ = self._posterior_out(
                *family.to_posterior(self.map_, self.cells_.columns)
            )
            reference = {
                name: np.asarray(arr)
                for name, arr in variables.items()
                if name in family.component_names()
            }
        kwargs = {}
        if method == "order":
            name, coord = family.order_key(self.anchor_)
            extra_dims = idata.posterior[name].dims[3:]
            kwargs["order_by"] = (name, coord if extra_dims else None)
        idata, report = relabel_idata(
            idata,
            method=method,
            membership=membership,
            reference=reference,
            modes_before=self.label_switching_,
            **kwargs,
        )
        self.relabel_report_ = report
        switching = self.label_switching_
        if switching.label_switching:
            # the report describes the draws as sampled; these are relabelled
            done = (
                f"The fit relabelled them ({report.method}; relabel_report_ "
                "holds R-hat before and after), and idata_.posterior holds the "
                "relabelled draws, idata_.posterior_raw the draws as sampled."
            )
            self.label_switching_ = replace(
                switching, message=switching.message.replace(RELABEL_ADVICE, done)
            )
        replaced = family.after_relabel(idata.posterior)
        for name, value in replaced.items():
            idata.posterior[name] = value
        if replaced:
            # the report describes the draws as stored
            rhat, ess = rhat_and_ess(idata.posterior[list(replaced)])
            for name in replaced:
                report.rhat_after[name] = rhat[name]
                report.ess_after[name] = ess[name]
        return idata, tuple(report.rhat_after.data_vars)

    def _convergence(self, current: tuple[str, ...]) -> Convergence:
        """R-hat and bulk ESS of every parameter of the (relabelled) draws,
        taken from the relabelling report where it holds them, and the
        sampler's divergences, tree depths and E-BFMI; warns when they miss
        the bars."""
        post = self.idata_.posterior
        names = [n for n in self.family_.param_dims() if n in post]
        known = self.relabel_report_
        rest = [n for n in names if n not in current]
        rhat = {n: known.rhat_after[n] for n in current if n in names}
        ess = {n: known.ess_after[n] for n in current if n in names}
        if rest:
            more_rhat, more_ess = rhat_and_ess(post[rest])
            rhat.update(more_rhat.data_vars)
            ess.update(more_ess.data_vars)
        # draws read from a direct CmdStan run: advise in its arguments
        wording = "cmdstan" if "csv_files" in self.engine_result_info_ else "fit"
        found = convergence(
            {n: rhat[n] for n in names},
            {n: ess[n] for n in names},
            sample_stats=getattr(self.idata_, "sample_stats", None),
            max_treedepth=self.engine_result_info_.get("max_treedepth"),
            posterior=post[names],
            adapt_engaged=self.engine_result_info_.get("adapt_engaged", True),
            wording=wording,
        )
        if not found.converged:
            checked = found.computable or found.stuck_chains
            state = "have not converged" if checked else "cannot be checked"
        elif not found.sampler_ok:
            state = "have warning signs"
        else:
            return found
        warnings.warn(
            f"the NUTS draws {state}: {found.figures()}. {found.advice()} The "
            "figures of every parameter are in convergence_.table.",
            ConvergenceWarning,
            stacklevel=check.caller_level(),
        )
        return found

    def _summarise(self) -> None:
        """Point summaries of the (relabelled) posterior as attributes."""
        post = self.idata_.posterior
        mean = lambda name: post[name].mean(("chain", "draw")).to_numpy()  # noqa: E731
        self.weights_ = mean("w")
        self.means_ = mean("mu")
        self.scales_ = mean("sigma")
        for name, value in self.family_.fitted_attributes(self.param_draws()).items():
            setattr(self, name, value)

    def _warn_collapsed(self) -> None:
        """Warn of components sitting on one value of a column that repeats a
        few values (see :func:`collapsed_components`)."""
        found = collapsed_components(self)
        if found:
            warnings.warn(
                "components collapsed to a scale near zero, on one repeated "
                "value or on as few rows as they have location parameters, in "
                f"{listing(found, '; ', 'column')}"
                f"{tied_columns_hint(self.cells_)}.",
                RuntimeWarning,
                stacklevel=check.caller_level(),
            )

    def _warn_close_order(self, params: Params) -> None:
        """Warn where the ordering barely tells two components apart in
        draws that keep it (see :func:`close_ordered_pairs`)."""
        family = self.family_
        report = self.relabel_report_
        if (
            self.method_ == "optimize"
            or not self._layout_spec()[0]
            or not family.joint
            or params["w"].shape[-1] < 2
            or (report is not None and report.method != "order")
        ):
            return
        values, anchor, names, quantities, option = self._ordering(params)
        text = close_ordered_pairs(
            values,
            params["w"],
            anchor,
            names,
            self.cells_.n_obs,
            option=option,
            quantities=quantities,
        )
        if text:
            warnings.warn(text, RuntimeWarning, stacklevel=check.caller_level())

    def _ordering(self, params: Params) -> tuple:
        """What the components could be ordered by, for
        :func:`close_ordered_pairs`: the draws of those quantities (chain,
        draw, K, D), which of them orders the components, their names as the
        option that chooses it takes them, what they are (None: the means
        along those columns), and that option."""
        return params["mu"], self.anchor_, self.cells_.columns, None, "anchor_dim"

    def _censored_components(self, map_probs) -> list[tuple[int, str, float]]:
        """Components whose members are nearly all censored in a column.

        There, the data say only that the values lie beyond a limit, so the
        component's mean and scale in that column rest on the prior. Returns
        (component, column, censored fraction) and warns.
        """
        if not self.cells_.censored.any() or not self.family_.joint:
            return []
        probs = map_probs if map_probs is not None else self.predict_proba_fitted()
        k = probs.shape[1]
        found = mostly_censored(self.cells_, probs.argmax(axis=1), k, CENSORED_WARN)
        if found:
            listed = "; ".join(
                f"component {j} in column {col!r} ({frac:.0%} of its rows)"
                for j, col, frac in found
            )
            warnings.warn(
                f"nearly every value is censored for {listed}: there the data "
                "say only that the values lie beyond the limit, so the "
                "component's mean and scale in that column rest on the prior "
                "(expect wide intervals). A narrower prior "
                "(prior_mean_scale, prior_scale_log_sd, guided_prior_scale) "
                "bounds them; censored_components_ lists them.",
                RuntimeWarning,
                stacklevel=check.caller_level(),
            )
        return found

    # -- results --------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "idata_"):
            raise not_fitted(
                f"this {type(self).__name__} is not fitted yet; call fit(X) first"
            )

    def _fitted_on_array(self) -> bool:
        """Whether the fitted data were an array (or a run read without
        column names): columns named ``x0``, ``x1``, ... by position, not a
        DataFrame's labels (strings, or integers as ``pd.read_csv(...,
        header=None)`` gives them, which name the columns)."""
        positions = tuple(f"x{d}" for d in range(self.cells_.n_dims))
        named = hasattr(self, "feature_names_in_")
        return not named and self.cells_.columns == positions

    @property
    def fitted_components_(self) -> int:
        """The number of components of the fit (``n_components`` may have
        been set to another value since, for the next fit)."""
        self._check_fitted()
        return int(self.idata_.posterior.sizes["component"])

    def param_draws(self, group: str = "posterior") -> Params:
        """The fitted draws as the family's parameter arrays, data units.

        Chains and draws are flattened into the first axis: ``w`` (S, K),
        ``mu`` (S, K, D), ``sigma``, and the family's own (``corr``
        (S, J, D, D), ``nu`` (S, K)). These are what
        :mod:`stanmix.likelihood` takes. ``group="posterior_raw"`` gives the
        draws as sampled, before relabelling (the posterior itself when the
        draws were not relabelled).

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(-3, 1, 100), rng.normal(3, 1, 100), [0.0]][:, None]
        >>> model = sm.Mixture(2, engine="stanli").fit(
        ...     X, chains=2, draws=500, seed=1, show_progress=False)
        >>> {name: draws.shape for name, draws in model.param_draws().items()}
        {'w': (1000, 2), 'mu': (1000, 2, 1), 'sigma': (1000, 2, 1)}
        """
        self._check_fitted()
        check.one_of("group", group, ("posterior", "posterior_raw"))
        if group not in self.idata_.groups():
            group = "posterior"
        return self.family_.from_posterior(
            self._posterior_in(getattr(self.idata_, group))
        )

    def _check_membership(self) -> None:
        self._check_fitted()
        if not self.family_.joint:
            raise StanmixInputError(
                f"{NO_ROW_COMPONENT}: membership, predict, predict_proba, "
                "fit_predict and icl need joint=True"
            )

    def summary(self, hdi_prob: float | None = None) -> pd.DataFrame:
        """Relabelled parameter table with HDIs, R-hat and ESS (data units),
        unrounded (``.round(3)`` for a display; data in small units keep their
        digits).

        ``hdi_prob`` sets the HDIs' probability (default: the model's
        ``hdi_prob``). For ``method="optimize"`` the table holds the
        posterior mode only, and ``hdi_prob`` is refused.
        Whether the NUTS draws meet the bars for R-hat and ESS is in
        ``convergence_`` (``print(model.convergence_)``). Entries the model
        fixes (the log-odds of a gated regression's component 0, which the
        others are measured against) are left out.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(-3, 1, 100), rng.normal(3, 1, 100), [0.0]][:, None]
        >>> model = sm.Mixture(2, engine="stanli").fit(
        ...     X, chains=2, draws=500, seed=1, show_progress=False)
        >>> table = model.summary(hdi_prob=0.9)
        >>> means = ["mu[0, x0]", "mu[1, x0]"]
        >>> table.loc[means, ["mean", "sd", "hdi_5%", "hdi_95%"]].round(1)
                   mean   sd  hdi_5%  hdi_95%
        mu[0, x0]  -2.9  0.1    -3.1     -2.7
        mu[1, x0]   2.9  0.1     2.8      3.1
        """
        self._check_fitted()
        if hdi_prob is not None:
            if self.method_ == "optimize":
                raise StanmixInputError(
                    "hdi_prob does not apply to a posterior mode (method='optimize'): "
                    "the table holds the mode only; leave it out"
                )
            check.number("hdi_prob", hdi_prob, low=0, high=1)
        names = [n for n in self.family_.param_dims() if n in self.idata_.posterior]
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
            fixed = self.family_.fixed_entries(self.idata_.posterior)
            return pd.DataFrame({"mode": pd.Series(rows)}).drop(fixed)
        kind = "all" if self.method_ == "sample" else "stats"
        with warnings.catch_warnings(), quiet_chain_count():
            warnings.simplefilter("ignore", RuntimeWarning)
            table = az.summary(
                self.idata_,
                var_names=names,
                kind=kind,
                round_to="none",
                hdi_prob=check.number(
                    "hdi_prob",
                    self.hdi_prob if hdi_prob is None else hdi_prob,
                    low=0,
                    high=1,
                ),
            )
        return table.drop(self.family_.fixed_entries(self.idata_.posterior))

    def membership(
        self,
        X=None,
        *,
        hdi_prob: float | None = None,
        lower_limit=None,
        upper_limit=None,
        censored=None,
        interval=None,
        show_progress: bool = False,
    ) -> pd.DataFrame:
        """Per-observation membership probabilities with HDIs.

        Returns a tidy table with one row per observation and component:
        ``observation``, ``component``, ``mean``, ``hdi_lower``, ``hdi_upper``.
        Probabilities are computed from every posterior draw, with censored
        and missing cells integrated out exactly. For ``method="optimize"``
        they are the mode's (the HDI is the point), and ``hdi_prob`` is
        refused.

        Of the fitted rows by default, or of new observations ``X`` with
        their censoring, as for :meth:`predict_proba` (whose probabilities
        are this table's means); their ``observation`` is a DataFrame's or
        Series' index label, else the row's position. A new row whose every
        cell is missing gets the mixing weights.

        Parameters
        ----------
        X : DataFrame, Series or array-like, optional
            New observations in the fitted columns; by default the fitted
            rows.
        hdi_prob : float, optional
            Mass of each HDI; by default the estimator's ``hdi_prob``.
        lower_limit, upper_limit, censored, interval
            ``X``'s censoring, as for :meth:`fit`; only with ``X``.
        show_progress : bool, default False
            A bar on standard error that counts the rows done: worth it
            for many rows (every draw is evaluated at each; 100,000 rows of
            two columns under 4,000 draws of five components take tens of
            seconds on 2 cores).

        Returns
        -------
        DataFrame
            One row per observation and component.

        Raises
        ------
        StanmixInputError
            Censoring without ``X``; ``hdi_prob`` for a posterior mode; a
            new row too far from every component, as :meth:`predict_proba`
            says.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(-3, 1, 100), rng.normal(3, 1, 100), [0.0]][:, None]
        >>> model = sm.Mixture(2, engine="stanli").fit(
        ...     X, chains=2, draws=500, seed=1, show_progress=False)
        >>> table = model.membership(hdi_prob=0.9)
        >>> table[table.observation == 200].round(1)  # the point at 0, between
             observation  component  mean  hdi_lower  hdi_upper
        400          200          0   0.6        0.2        0.9
        401          200          1   0.4        0.1        0.8
        >>> model.membership([[0.0]], hdi_prob=0.9).round(1)  # a new point at 0
           observation  component  mean  hdi_lower  hdi_upper
        0            0          0   0.6        0.2        0.9
        1            0          1   0.4        0.1        0.8
        """
        censoring = {
            "lower_limit": lower_limit,
            "upper_limit": upper_limit,
            "censored": censored,
            "interval": interval,
        }
        self._check_fitted()
        self._check_membership()
        prob = self._membership_prob(hdi_prob)
        check.flag("show_progress", show_progress)
        if X is None:
            refuse_censoring_without_data(censoring)
            return self._membership_table(self.cells_, None, prob, show_progress)
        refuse_scalar_data(X, "membership")
        return self._membership_table(
            self.new_cells(X, allow_empty_rows=True, **censoring),
            X,
            prob,
            show_progress,
        )

    def _membership_prob(self, hdi_prob: float | None) -> float:
        """:meth:`membership`'s HDI probability, checked (none is given for a
        posterior mode, whose interval is the point)."""
        if hdi_prob is not None and self.method_ == "optimize":
            raise StanmixInputError(
                "hdi_prob does not apply to a posterior mode (method='optimize'): "
                "its interval is the point itself; leave it out"
            )
        return check.number(
            "hdi_prob", self.hdi_prob if hdi_prob is None else hdi_prob, low=0, high=1
        )

    def _membership_table(
        self, cells: CellTable, X, prob: float, show_progress: bool
    ) -> pd.DataFrame:
        """:meth:`membership`'s table of ``cells`` with HDIs of mass ``prob``:
        the fitted rows (``X`` None) or new data ``X``'s, named by ``X``'s
        index where it has one; a bar over the rows if ``show_progress``."""
        from tqdm.auto import tqdm

        with tqdm(
            total=cells.n_obs,
            desc="memberships",
            unit="row",
            disable=not show_progress,
            file=sys.stderr,
        ) as bar:
            summary = likelihood.membership_summary(
                self.family_,
                cells,
                self.param_draws(),
                hdi_prob=prob,
                progress=bar.update,
            )
        if X is None:
            index = self.obs_index_
        else:
            reachable(summary.mean, X)
            index = (
                X.index
                if isinstance(X, (pd.DataFrame, pd.Series))
                else pd.RangeIndex(cells.n_obs)
            )
        return summary.to_frame(
            obs_index=index, component_names=list(range(self.fitted_components_))
        )

    def fit_predict(self, X, y=None, **kwargs) -> np.ndarray:
        """Fit, then give the most probable component of each fitted row, as
        scikit-learn's clusterers do.

        ``X``, ``y`` and ``kwargs`` are those of :meth:`fit`; the censoring
        given there is the rows'. Rows are those of the fitted data.

        Examples
        --------
        >>> import stanmix as sm
        >>> data = sm.datasets.blobs(60, seed=1)
        >>> labels = sm.DiagonalMixture(2, engine="stanli").fit_predict(
        ...     data.X, method="optimize", seed=1)
        >>> labels.shape, sorted(set(labels.tolist()))
        ((60,), [0, 1])
        """
        if not self._joint_rows():  # refused before the fit, not after
            raise StanmixInputError(f"{NO_ROW_COMPONENT}: fit_predict needs joint=True")
        return self.fit(X, y, **kwargs).labels_

    @property
    def labels_(self) -> np.ndarray:
        """The most probable component of each fitted row (N,), as
        scikit-learn's clusterers keep it: ``predict_proba_fitted()``'s
        argmax, computed from the draws once per fit. The per-dimension model
        (``joint=False``) has none (an AttributeError, so ``hasattr`` is
        False).

        Examples
        --------
        >>> import stanmix as sm
        >>> data = sm.datasets.blobs(60, seed=1)
        >>> model = sm.DiagonalMixture(2, engine="stanli").fit(
        ...     data.X, method="optimize", seed=1)
        >>> bool((model.labels_ == model.predict(data.X)).all())
        True
        """
        self._check_fitted()
        if not self.family_.joint:
            raise AttributeError(f"{NO_ROW_COMPONENT}: labels_ needs joint=True")
        return self.predict_proba_fitted().argmax(axis=1)

    def predict_proba_fitted(self) -> np.ndarray:
        """Posterior mean membership probabilities of the fitted rows (N, K).

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(-3, 1, 100), rng.normal(3, 1, 100), [0.0]][:, None]
        >>> model = sm.Mixture(2, engine="stanli").fit(X, method="optimize", seed=1)
        >>> model.predict_proba_fitted()[[0, 150, 200]].round(2)  # the last at 0
        array([[1.  , 0.  ],
               [0.  , 1.  ],
               [0.56, 0.44]])
        """
        self._check_fitted()
        self._check_membership()
        # computed once per fit (labels_ reads it too), and handed out as a copy
        cached = self.__dict__.get("_fitted_proba")
        if cached is None or cached[0] is not self.idata_:
            proba = likelihood.membership_mean(
                self.family_, self.cells_, self.param_draws()
            )
            cached = self._fitted_proba = (self.idata_, proba)
        return cached[1].copy()

    def predict_proba(
        self, X, *, lower_limit=None, upper_limit=None, censored=None, interval=None
    ) -> np.ndarray:
        """Posterior mean membership probabilities for new observations (N, K).

        Censoring is given as to :meth:`fit`, naming the fitted columns (an
        array's columns take the fitted names in order). A row whose every
        cell is missing says nothing of its component: it gets the mixing
        weights.

        Raises
        ------
        StanmixInputError
            For a row so far from every component (beyond about 1e150 of its
            scale) that its density underflows to 0 under each: its
            membership cannot be computed (``score_samples`` gives it -inf).
            Likewise where components share their scales and the row lies
            beyond about 1e14 scales times the separation of their means in
            scales: which component is nearer is lost in rounding.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(-3, 1, 100), rng.normal(3, 1, 100), [0.0]][:, None]
        >>> model = sm.Mixture(2, engine="stanli").fit(X, method="optimize", seed=1)
        >>> model.predict_proba([[-3.0], [0.2], [3.0]]).round(2).tolist()
        [[1.0, 0.0], [0.28, 0.72], [0.0, 1.0]]
        """
        self._check_fitted()
        self._check_membership()
        cells = self.new_cells(
            X,
            allow_empty_rows=True,
            lower_limit=lower_limit,
            upper_limit=upper_limit,
            censored=censored,
            interval=interval,
        )
        return reachable(
            likelihood.membership_mean(self.family_, cells, self.param_draws()), X
        )

    def predict(
        self, X, *, lower_limit=None, upper_limit=None, censored=None, interval=None
    ) -> np.ndarray:
        """The most probable component of each new observation: the
        argmax of :meth:`predict_proba`, with ``X``'s censoring
        (``lower_limit``, ``upper_limit``, ``censored``, ``interval``) given
        as to :meth:`fit`.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(-3, 1, 100), rng.normal(3, 1, 100), [0.0]][:, None]
        >>> model = sm.Mixture(2, engine="stanli").fit(X, method="optimize", seed=1)
        >>> model.predict([[-3.0], [0.2], [3.0]]).tolist()
        [0, 1, 1]
        """
        return np.argmax(
            self.predict_proba(
                X,
                lower_limit=lower_limit,
                upper_limit=upper_limit,
                censored=censored,
                interval=interval,
            ),
            axis=1,
        )

    def sample(
        self, n_samples: int = 1, *, seed: int | None = None
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """New rows from the posterior predictive, as scikit-learn's mixtures'
        ``sample``: each from a posterior draw picked at random (the mode for
        ``method="optimize"``), then a component by that draw's weights, then
        its values, uncensored.

        Returns
        -------
        X : pandas.DataFrame
            ``n_samples`` rows in the fitted columns.
        labels : ndarray of int, shape (n_samples,)
            Each row's component (for ``joint=False``, its first column's).

        Examples
        --------
        >>> import stanmix as sm
        >>> data = sm.datasets.blobs(100, seed=1)
        >>> model = sm.DiagonalMixture(5, engine="stanli").fit(
        ...     data.X, method="optimize", seed=1)
        >>> X, labels = model.sample(3, seed=1)
        >>> list(X.columns), labels.shape
        (['x', 'y'], (3,))
        """
        self._check_fitted()
        n = check.integer("n_samples", n_samples, low=1)
        rng = np.random.default_rng(check.seed(seed))
        params = self.param_draws()
        picks = rng.integers(len(params["w"]), size=n)
        values = np.empty((n, self.cells_.n_dims))
        labels = np.empty(n, dtype=int)
        for s in np.unique(picks):
            rows = np.flatnonzero(picks == s)
            point = {name: arr[s] for name, arr in params.items()}
            blank = CellTable.from_values(np.full((rows.size, values.shape[1]), np.nan))
            values[rows], labels[rows] = self.family_.simulate(point, blank, rng)
        return pd.DataFrame(values, columns=list(self.cells_.columns)), labels

    def score_samples(self, X, **censoring) -> np.ndarray:
        """Log posterior predictive density of each row of ``X`` (N,).

        ``log mean_s p(row | draw s)`` over the posterior draws (at the mode
        for ``method="optimize"``): missing cells are integrated out, and a
        censored cell (given as to :meth:`fit`) enters through the
        probability of its region, so such a row's score is a log density
        in its observed cells times a log probability in the others. A row
        whose every cell is missing says nothing, and scores 0 (as
        :meth:`predict_proba` gives it the mixing weights). The censoring
        keywords are ``lower_limit``, ``upper_limit``, ``censored`` and
        ``interval``.

        Examples
        --------
        >>> import stanmix as sm
        >>> data = sm.datasets.blobs(60, seed=1)
        >>> model = sm.DiagonalMixture(2, engine="stanli").fit(
        ...     data.X, method="optimize", seed=1)
        >>> scores = model.score_samples(data.X.iloc[:3])
        >>> scores.shape, bool(model.score(data.X) > model.score(data.X + 50))
        ((3,), True)
        """
        self._check_fitted()
        cells = self.new_cells(X, allow_empty_rows=True, **censoring)
        return self._log_predictive(cells)

    def score(self, X, y=None, **censoring) -> float:
        """Mean log posterior predictive density of the rows of ``X`` (the
        mean of :meth:`score_samples`): larger is better, as scikit-learn's
        model selection expects (``GridSearchCV`` over ``n_components``
        scores held-out rows with it). ``y`` is ignored, as by
        scikit-learn's mixtures; ``X``'s censoring (``lower_limit``,
        ``upper_limit``, ``censored``, ``interval``) is given as to
        :meth:`fit`.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(-3, 1, 100), rng.normal(3, 1, 100), [0.0]][:, None]
        >>> model = sm.Mixture(2, engine="stanli").fit(X, method="optimize", seed=1)
        >>> round(model.score(X), 2)
        -2.09
        """
        _refuse_misplaced_y("score", y)
        return float(np.mean(self.score_samples(X, **censoring)))

    def _log_predictive(self, cells: CellTable) -> np.ndarray:
        """log mean_s p(row | draw s) per row, in blocks of rows so that the
        (draws x rows) log-likelihood is never held whole."""
        params = self.param_draws()
        n_draws = len(params["w"])
        step = max(1, PREDICTIVE_BLOCK // n_draws)
        out = np.empty(cells.n_obs)
        for start in range(0, cells.n_obs, step):
            block = slice(start, start + step)
            ll = likelihood.log_likelihood(self.family_, cells.rows(block), params)
            out[block] = logsumexp(ll, axis=0) - np.log(n_draws)
        return out

    def bic(self, X=None, **censoring) -> float:
        """Bayesian information criterion at the posterior mode.

        ``-2 log p(data | mode) + n_parameters * log N``, smaller is better
        (scikit-learn's sign); censored cells enter through their
        probabilities, missing cells not at all. On the fitted data by
        default, or on ``X`` (with its censoring). Needs the mode: fit with
        ``method="optimize"``, or NUTS and ADVI from ``init="map"``.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(-3, 1, 100), rng.normal(3, 1, 100), [0.0]][:, None]
        >>> fits = [sm.Mixture(k, engine="stanli").fit(X, method="optimize", seed=1)
        ...         for k in (1, 2, 3)]
        >>> bics = [fit.bic() for fit in fits]
        >>> int(np.argmin(bics)) + 1  # the number of components BIC prefers
        2
        """
        cells = self._informative_rows(X, censoring)
        return self._penalised(cells, self._mode(), np.log(cells.n_obs))

    def aic(self, X=None, **censoring) -> float:
        """Akaike information criterion at the posterior mode:
        ``-2 log p(data | mode) + 2 n_parameters``, smaller is better; the
        data (the fitted rows, or ``X`` with its censoring keywords) and
        the mode as for :meth:`bic`.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(-3, 1, 100), rng.normal(3, 1, 100), [0.0]][:, None]
        >>> fits = [sm.Mixture(k, engine="stanli").fit(X, method="optimize", seed=1)
        ...         for k in (1, 2, 3)]
        >>> aics = [fit.aic() for fit in fits]
        >>> int(np.argmin(aics)) + 1
        2
        """
        return self._penalised(self._informative_rows(X, censoring), self._mode(), 2.0)

    def _penalised(self, cells: CellTable, point: Params, per_parameter) -> float:
        """``-2 log p(cells | point) + n_parameters * per_parameter``."""
        ll = likelihood.log_likelihood(self.family_, cells, point).sum()
        return float(-2.0 * ll + self.n_parameters_ * per_parameter)

    def _informative_rows(self, X, censoring: Mapping) -> CellTable:
        """The fitted data, or ``X``'s, without rows whose every cell is
        missing (a regression's row whose response is missing adds nothing
        to the criteria, N included)."""
        self._check_fitted()
        if X is None:
            check.known_keys("censoring argument(s):", censoring, CENSORING_ARGS)
            refuse_censoring_without_data(censoring)
        cells = self.cells_ if X is None else self.new_cells(X, **censoring)
        held = ~np.all(cells.kind == MISSING, axis=1)
        return cells if held.all() else cells.rows(np.flatnonzero(held))

    def icl(self, X=None, **censoring) -> float:
        """Integrated completed likelihood at the posterior mode: the BIC plus
        twice the entropy of the memberships there (Biernacki, Celeux and
        Govaert, 2000), which penalises components that overlap; of the
        fitted rows, or of ``X`` with its censoring keywords, as for
        :meth:`bic`.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(-3, 1, 100), rng.normal(3, 1, 100), [0.0]][:, None]
        >>> model = sm.Mixture(2, engine="stanli").fit(X, method="optimize", seed=1)
        >>> bool(model.icl() > model.bic())  # the point at 0 adds entropy
        True
        """
        self._check_membership()
        cells, point = self._informative_rows(X, censoring), self._mode()
        probs = likelihood.membership_mean(self.family_, cells, point)
        entropy = -np.sum(probs * np.log(np.clip(probs, 1e-300, None)))
        bic = self._penalised(cells, point, np.log(cells.n_obs))
        return bic + 2.0 * float(entropy)

    @property
    def n_parameters_(self) -> int:
        """Free parameters of the fitted model (weights included)."""
        self._check_fitted()
        return self.family_.n_parameters(self.fitted_components_, self.cells_.n_dims)

    def _mode(self) -> Params:
        self._check_fitted()
        if self.map_ is None:
            raise StanmixInputError(
                "bic, aic and icl are computed at the posterior mode, which this fit "
                "did not find: fit with method='optimize', or with init='map'"
            )
        return _lead(self.map_)

    def new_cells(self, X, *, allow_empty_rows: bool = False, **censoring) -> CellTable:
        """New data as a cell table checked against the fitted columns.

        An array (not a DataFrame or Series) with as many columns as the
        fitted data, or an unnamed Series for a one-column model, takes the
        fitted column names, so that the censoring arguments name its
        columns as they did for ``fit``; a named Series is a column of that
        name, checked as a DataFrame's are. Rows whose every cell is missing
        are refused unless ``allow_empty_rows``.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> X = np.r_[rng.normal(-3, 1, 100), rng.normal(3, 1, 100), [0.0]][:, None]
        >>> model = sm.Mixture(2, engine="stanli").fit(X, method="optimize", seed=1)
        >>> cells = model.new_cells([[1.0], [-5.0]], lower_limit=-5.0)
        >>> cells.columns, cells.censored[:, 0].tolist()  # the second: -5 or less
        (('x0',), [False, True])
        >>> model.predict_proba(cells).round(2)
        array([[0., 1.],
               [1., 0.]])
        """
        self._check_fitted()
        check.known_keys("censoring argument(s):", censoring, CENSORING_ARGS)
        if np.ndim(X) == 1 and self.cells_.n_dims > 1:
            raise StanmixInputError(
                f"X is one-dimensional (a Series, list or 1-D array), which is read "
                f"as one column, but the model was fitted on {self.cells_.n_dims} "
                f"({', '.join(self.cells_.columns)}). Reshape your data: pass one "
                "row as a one-row DataFrame, X.iloc[[i]], or a 2-D array"
            )
        if isinstance(X, pd.Series) and self.cells_.n_dims == 1:
            X = X.to_frame(self.cells_.columns[0] if X.name is None else X.name)
        elif (
            isinstance(X, pd.DataFrame)
            and self._fitted_on_array()
            and list(X.columns) == list(range(self.cells_.n_dims))
        ):
            # pd.DataFrame(array) of a model fitted on an array: its columns
            # are positions, as scikit-learn reads them, not names (a model
            # fitted on columns labelled by integers matches them by label)
            X = X.set_axis(list(self.cells_.columns), axis=1)
        elif not isinstance(X, (pd.DataFrame, pd.Series)) and not issparse(X):
            try:
                # a masked array keeps its mask: its masked cells are missing
                values = np.ma.asarray(X) if np.ma.isMaskedArray(X) else np.asarray(X)
            except (TypeError, ValueError):
                values = None  # as_matrix says what is wrong with X
            if values is not None and values.ndim == 1:
                values = values[:, None]  # one column (the model has one)
            if values is not None and values.ndim == 2:
                if values.shape[1] == self.cells_.n_dims:
                    if hasattr(self, "feature_names_in_") and values.shape[1] > 1:
                        warnings.warn(
                            f"X has no column names, but this {type(self).__name__} "
                            "was fitted on named columns ("
                            f"{', '.join(self.cells_.columns)}): X's columns are "
                            "taken as those, in that order; pass a DataFrame to "
                            "have them matched by name",
                            UserWarning,
                            stacklevel=check.caller_level(),
                        )
                    # as given (float32 values meet float32 limits), checked
                    # and converted by _read under the fitted names
                    X = pd.DataFrame(values, columns=list(self.cells_.columns))
        given = {key: v for key, v in censoring.items() if v is not None}
        if allow_empty_rows:
            given["allow_empty_rows"] = True
        cells, _ = self._read(X, given)
        if isinstance(X, pd.DataFrame) and cells.columns != self.cells_.columns:
            raise StanmixInputError(
                _columns_message(
                    cells.columns,
                    self.cells_.columns,
                    X.columns,
                    getattr(self, "_read_back", False),
                )
            )
        if cells.n_dims != self.cells_.n_dims:
            raise StanmixInputError(
                f"X has {cells.n_dims} features, but {type(self).__name__} is "
                f"expecting {self.cells_.n_dims} features as input, the columns it "
                f"was fitted on ({', '.join(self.cells_.columns)})"
            )
        warn_unstated_limits(self.cells_, cells, censoring)
        return cells


@dataclass(frozen=True)
class _Run:
    """What every step of one fit works from: the family and engine, the
    program and its data, and the cells in the data's units (``cells``) and
    in the fit's (``std``)."""

    family: Family
    engine: Engine
    stan_file: Path
    cells: CellTable
    std: CellTable
    k: int
    layout: Layout
    data: dict
    seed: int
    show_progress: bool

    def init(self, params: Params) -> dict:
        """``params`` (the fit's units) as the program's initial values."""
        return mixing_init(
            self.data, self.family.stan_init(params, self.std, self.layout)
        )


def _columns_message(
    columns: tuple[str, ...], fitted: tuple[str, ...], labels=(), read_back=False
) -> str:
    """The error for a DataFrame of new data whose columns are not the
    fitted ones in the fitted order: what differs, and the fix (selecting
    the DataFrame's own ``labels``, such as integers, by their names).
    ``read_back``: the model holds draws made outside ``fit``, which cannot
    be refitted, but read again with the columns' names."""
    absent = [c for c in fitted if c not in columns]
    extra = [c for c in columns if c not in fitted]
    parts = []
    if absent:
        parts.append(f"lacks the fitted column(s) {', '.join(map(repr, absent))}")
    if extra:
        parts.append(f"has column(s) {', '.join(map(repr, extra))} not fitted on")
    if not parts:
        parts.append(f"has the fitted columns in another order ({', '.join(columns)})")
    head = f"X {' and '.join(parts)} (the model was fitted on {', '.join(fitted)})"
    if fitted == tuple(f"x{i}" for i in range(len(fitted))) and absent:
        if read_back:
            return (
                f"{head}; the run was read without column names, so its columns "
                "are named x0, x1, ... by position: pass X.to_numpy() with its "
                "columns in the fitted order, or read the run again with "
                "from_cmdstan_csv(..., columns=[...]) naming them"
            )
        return (
            f"{head}; the fitted data were an array, whose columns are named x0, "
            "x1, ... by position: pass X.to_numpy() with its columns in the "
            "fitted order, or refit on the DataFrame to use its names"
        )
    if absent:
        return f"{head}; give X the fitted columns, in that order"
    label_of = {str(label): label for label in labels}
    order = [label_of.get(name, name) for name in fitted]
    return f"{head}; select them in the fitted order: X[{order!r}]"


#: Why the per-dimension model has no membership.
NO_ROW_COMPONENT = (
    "the per-dimension model (joint=False) draws each cell from its own "
    "component, so a row has no single component"
)

#: Log-likelihood values (draws x rows) held at once by ``score_samples``.
PREDICTIVE_BLOCK = 4_000_000

#: Engine options that are counts of at least one.
WHOLE_OPTIONS = frozenset(
    {
        "max_treedepth",
        "iter",
        "parallel_chains",
        "thin",
        "grad_samples",
        "elbo_samples",
        "eval_elbo",
        "adapt_iter",
    }
)
#: Engine options that must be positive numbers.
POSITIVE_OPTIONS = frozenset({"eta", "tol_rel_obj", "step_size"})


def warn_unstated_limits(fitted: CellTable, new: CellTable, censoring) -> None:
    """Warn where new data hold values at a fitted detection limit with no
    limit given for them (see :func:`stanmix.advice.unstated_limits`);
    nothing where the censoring is given cell by cell."""
    if censoring.get("censored") is None and censoring.get("interval") is None:
        message = unstated_limits(fitted, new)
        if message:
            warnings.warn(message, UserWarning, stacklevel=check.caller_level())


def _refuse_misplaced_y(method: str, y) -> None:
    """``y`` is scikit-learn's target, which a mixture takes and ignores (a
    pipeline passes it); a string, a number or a mapping there is a keyword
    given by position, which would be ignored too.

    Examples
    --------
    >>> _refuse_misplaced_y("fit", None)
    >>> try:
    ...     _refuse_misplaced_y("score", {"a": 0.3})
    ... except StanmixInputError as err:
    ...     print(str(err)[-32:])
    score(X, lower_limit={'a': 0.3})
    """
    if isinstance(y, str):
        keyword = f"method={y!r}" if method == "fit" else f"<keyword>={y!r}"
        what = "the method is a keyword" if method == "fit" else "give it by keyword"
    elif isinstance(y, (Mapping, numbers.Real)) and not isinstance(y, bool):
        keyword = f"lower_limit={y!r}"
        what = "a limit is a keyword"
    else:
        return
    raise StanmixInputError(
        f"{method} got y={y!r} as its second argument: y is scikit-learn's "
        f"target, which a mixture does not use; {what}: {method}(X, {keyword})"
    )


def _near_names(cls: type[Mixture], engine: Engine, method: str) -> dict[str, str]:
    """Names a misspelt option of ``method`` may have meant: ``cls.fit``'s
    keywords and the engine's options, each with a note of the method it
    is for where that is another."""
    near = {}
    for name in fit_keywords(cls):
        takes = METHOD_ARGS.get(name, (method,))
        near[name] = "" if method in takes else _taken_by(takes)
    takers: dict[str, list[str]] = {}
    for other, names in engine.options.items():
        for name in names:
            takers.setdefault(name, []).append(other)
    for name, methods in takers.items():
        if name not in near:
            near[name] = "" if method in methods else _taken_by(methods)
    return near


def _taken_by(methods: Sequence[str]) -> str:
    """A note naming the methods an option is for.

    >>> _taken_by(("sample", "variational"))
    ", which method='sample' or 'variational' takes"
    """
    return ", which method=" + " or ".join(repr(m) for m in methods) + " takes"


def fit_keywords(cls: type[Mixture]) -> list[str]:
    """The keyword-only arguments of ``cls.fit`` (and of ``Mixture.fit``,
    where ``cls.fit`` passes its own on)."""
    names = []
    for fit in (cls.fit, Mixture.fit):
        for name, spec in inspect.signature(fit).parameters.items():
            if spec.kind is spec.KEYWORD_ONLY and name not in names:
                names.append(name)
    return names


def check_fit_options(estimator: Mixture, options: Mapping) -> None:
    """Refuse, before any data are read, the keyword arguments ``options``
    that ``estimator.fit`` would refuse whatever the data: unknown names,
    settings out of range, settings the method does not use.

    Examples
    --------
    >>> import textwrap
    >>> import stanmix as sm
    >>> model = sm.Mixture(2, engine="stanli")
    >>> try:
    ...     check_fit_options(model, {"method": "optimize", "n_start": 8})
    ... except sm.StanmixInputError as err:
    ...     print(textwrap.fill(str(err), 76))
    unknown option(s) for method='optimize' on engine 'stanli': 'n_start' (did
    you mean 'n_starts'?); valid: iter (the engine's, beside the keywords of
    Mixture.fit; censoring goes in lower_limit, upper_limit, censored, interval)
    """
    known = fit_keywords(type(estimator))
    defaults = inspect.signature(Mixture.fit).parameters
    settings = {
        name: options.get(name, defaults[name].default)
        for name in inspect.signature(check_fit_settings).parameters
    }
    family = None if estimator._family_from_data else estimator._make_family()
    estimator._check_fit_options(
        settings, {k: v for k, v in options.items() if k not in known}, family
    )


def has_feature_names(X) -> bool:
    """Whether ``X`` names its columns (scikit-learn's rule for setting
    ``feature_names_in_``): a DataFrame whose column names are all strings,
    a Series with a string name, or a cell table.

    Examples
    --------
    >>> has_feature_names(pd.DataFrame({"Pb": [1.0]})), has_feature_names([[1.0]])
    (True, False)
    """
    if isinstance(X, CellTable):
        return True
    if isinstance(X, pd.DataFrame):
        return all(isinstance(c, str) for c in X.columns)
    if isinstance(X, pd.Series):
        return isinstance(X.name, str)
    return False


def refuse_censoring_without_data(censoring: Mapping) -> None:
    """Refuse censoring given without the new data it describes.

    >>> refuse_censoring_without_data({"lower_limit": None})
    >>> try:
    ...     refuse_censoring_without_data({"lower_limit": 0.5})
    ... except StanmixInputError as err:
    ...     print(str(err)[:44])
    lower_limit describes new data X: pass X too
    """
    given = [key for key, value in censoring.items() if value is not None]
    if given:
        raise StanmixInputError(
            f"{', '.join(given)} describe{'s' if len(given) == 1 else ''} new data "
            "X: pass X too, or leave "
            f"{'it' if len(given) == 1 else 'them'} out for the fitted data (whose "
            "censoring is the fit's)"
        )


def refuse_scalar_data(X, method: str) -> None:
    """Refuse a number given where new data X goes (an HDI probability given
    by position, say)."""
    if np.ndim(X) == 0 and not isinstance(X, (pd.DataFrame, pd.Series)):
        raise StanmixInputError(
            f"{method}'s first argument is new data X (a table of rows), got "
            f"{X!r}; give other settings by name, e.g. {method}(hdi_prob=0.9)"
        )


def reachable(prob: np.ndarray, X) -> np.ndarray:
    """``prob`` (N, K), refusing rows whose membership is NaN: rows whose
    density underflows to 0 under every component, or so far from all that
    rounding hides which is nearer.

    Examples
    --------
    >>> reachable(np.array([[0.2, 0.8]]), None)
    array([[0.2, 0.8]])
    >>> try:  # a list's rows are named by position
    ...     reachable(np.array([[np.nan, np.nan]]), [[1e300]])
    ... except StanmixInputError as err:
    ...     print(str(err)[:38])
    row 0 lies so far from every component
    >>> try:
    ...     reachable(np.array([[0.2, 0.8], [np.nan, np.nan]]), None)
    ... except StanmixInputError as err:
    ...     print(str(err)[:38])
    row 1 lies so far from every component
    """
    bad = np.flatnonzero(np.isnan(prob).any(axis=1))
    if bad.size == 0:
        return prob
    # A pandas row index names the rows; a list's .index is a method.
    index = X.index if isinstance(X, (pd.DataFrame, pd.Series)) else None
    names = [str(r) if index is None else row_label(index[r]) for r in bad[:5]]
    more = f" and {bad.size - 5} more" if bad.size > 5 else ""
    # a table read from a file is indexed by its line numbers (stanmix.csv_input)
    lines = index is not None and index.name == "line" and index.dtype.kind in "iu"
    noun = "line" if lines else "row"
    rows = noun if bad.size == 1 else f"{noun}s"
    raise StanmixInputError(
        f"{rows} {', '.join(names)}{more} lie{'s' if bad.size == 1 else ''} so "
        "far from every component that the membership cannot be computed in "
        "floating point: the density underflows to 0 under each (a value "
        "beyond about 1e150 of a component's scale), or, where components "
        "share their scales, which one is nearer is lost in rounding (beyond "
        "about 1e14 scales times the separation of their means in scales); "
        "check the value (a code standing for a missing value? give NaN "
        "instead)"
    )


def check_model(model, what: str) -> None:
    """Refuse anything but a fitted stanmix model, naming the function
    ``what`` that was given it.

    Examples
    --------
    >>> import stanmix as sm
    >>> check_model(sm.Mixture(2), "separation")
    Traceback (most recent call last):
    ...
    stanmix.exceptions.NotFittedError: this Mixture is not fitted yet; call fit(X) first
    """
    if not isinstance(model, Mixture):
        raise TypeError(
            f"{what} expects a fitted stanmix model (Mixture, DiagonalMixture, "
            f"NormalMixture or RegressionMixture), got {type(model).__name__}: "
            "fit one first, e.g. model = sm.Mixture(3).fit(X)"
        )
    model._check_fitted()


def _laplace_metric(
    engine: Engine,
    stan_file,
    data: Mapping,
    best: EngineResult,
    init: Mapping,
) -> np.ndarray | None:
    """The Laplace covariance at the MAP ``best`` (None where the curvature
    is not positive definite). The point is the
    optimizer's own values (the exact mode, also of the sparse weights'
    log_g, which "w" does not pin down), with ``init``, the program init of
    the mode, for the empty parameters it has no columns for and for the
    ordered values (``*_ordered``, ``*_below``), whose chart depends on the
    pivot, which ``data`` may have changed since the MAP."""
    point = end_point(best, init, keep_init=("_ordered", "_below"))
    return engine.laplace_covariance(stan_file, data, point)


def _first(params: Params) -> Params:
    """The single point of a one-chain, one-draw result."""
    return {name: arr[0, 0] for name, arr in params.items()}


def _lead(point: Params) -> Params:
    """One point as a one-draw batch."""
    return {name: np.asarray(arr)[None] for name, arr in point.items()}


def _flatten(params: Params) -> Params:
    """(chain, draw, ...) arrays as (chain * draw, ...)."""
    return {n: a.reshape(-1, *a.shape[2:]) for n, a in params.items()}


def _same(a, b) -> bool:
    try:
        return bool(a == b) if np.isscalar(a) or a is None else False
    except Exception:
        return False


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return repr(value)


def _json_ready(values: Mapping) -> dict:
    """A program's data or init with arrays as (nested) lists."""
    return {
        key: value.tolist() if isinstance(value, np.ndarray) else value
        for key, value in values.items()
    }
