"""Mixtures of linear regressions (``regression.stan``).

Each observation has one response (the single column of the cell table)
and complete covariates (:attr:`stanmix.cells.CellTable.covariates`). Given
its component k, the response is

    y_n = intercept_k + x_n beta_k' + sigma_k e_n,

with e_n standard normal (``normal_regression``) or Student-t with ``nu_k``
degrees of freedom (``student_t_regression``), and the components are drawn
with constant weights ``w`` (Dirichlet prior) or with weights that depend on
covariates z_n through a multinomial logit (a mixture of experts),

    log w_k(z_n) = gamma0_k + z_n gamma_k' - log sum_j exp(gamma0_j + z_n gamma_j'),

component 0's coefficients fixed at 0 (the others are log-odds against it,
which identifies them; after relabelling the draws they are re-expressed
against the new component 0).

Why covariates travel with the cells: the estimator's pipeline (rows,
standardization, Stan data, reading a CmdStan run back, membership and
log-likelihood from draws) moves a :class:`~stanmix.cells.CellTable` around,
and a regression's rows are not complete without their predictors. Carrying
them as a complete (N, P) array beside the cells keeps every step of that
pipeline family-free: subsetting rows keeps each row's predictors,
:class:`~stanmix.cells.Standardization` centres and scales them per column,
``to_stan``/``from_stan`` write and read them as ``P`` and ``X``. Which
covariate columns enter the regression and which the weights is this
family's setting (``predictors``, ``weights_from``: column indices of the
covariates), so one table can feed both.

Parameters (``Params``, draws first; standardized units inside stanmix):

``intercept`` (..., K)
    The line at x = 0.
``beta`` (..., K, P)
    Slopes, one per predictor.
``mu`` (..., K, 1)
    The line at the predictors' centre (their mean over the fitted rows):
    ``intercept + x_center beta'``. This is what the program orders (when
    ``order_by`` is None), and what stanmix calls each component's mean.
``sigma`` (..., K, 1)
    Error scales (standard deviations for normal errors).
``w`` (..., K)
    Mixing weights: constant, or, with ``weights_from``, the weights at the
    covariates' centre (softmax of the log-odds there).
``nu`` (..., K)
    Degrees of freedom (Student-t errors).
``gamma0`` (..., K), ``gamma`` (..., K, Q)
    Log-odds intercepts (at z = 0) and coefficients of the weights, with
    ``weights_from``.

Units: with the response standardized as (y - c_y) / s_y and each
covariate as (x_j - c_j) / s_j, a regression converts as regressions do:
``beta_j = s_y beta~_j / s_j``, ``intercept = c_y + s_y intercept~ - sum_j
beta_j c_j``, ``mu = c_y + s_y mu~`` (the centre maps to the centre),
``sigma = s_y sigma~``; the weights' coefficients ``gamma_j = gamma~_j /
s_j`` and ``gamma0 = gamma0~ - sum_j gamma_j c_j``; ``w`` and ``nu`` are
unit-free.

The kernel mirrors ``regression_log_terms`` in
``stan/regression.stanfunctions``: observed responses by the error
density, censored ones by its CDF (left, right and interval, the upper tail
through the mirror image of the lower one), missing ones by nothing (the row
carries only its weights).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import xarray as xr
from scipy.special import gammaln, log_ndtr
from scipy.stats import norm

from stanmix import _validation as check
from stanmix._validation import known_keys
from stanmix.cells import INTERVAL, LEFT, MISSING, OBSERVED, RIGHT, CellTable
from stanmix.cells import Standardization as Units
from stanmix.exceptions import StanmixInputError
from stanmix.families import _checks
from stanmix.families._diagonal import log1mexp
from stanmix.families.base import (
    COMPONENT,
    Family,
    Option,
    Params,
    check_weights_sum,
    component_data,
    ordered_parts,
    positive_option,
    start_array,
)
from stanmix.families.student_t import NU_PRIOR, log1p_square, t_log_cdf

#: Dims of the regression coefficients and of the weights' coefficients.
PREDICTOR, WEIGHT_PREDICTOR = "predictor", "weight_predictor"

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)
#: Smallest error scale an EM start may take (standardized units).
_MIN_START_SCALE = 0.02


def _columns(name: str, value) -> tuple[int, ...]:
    if value is None:
        return ()
    try:
        out = tuple(int(v) for v in np.atleast_1d(np.asarray(value)))
    except (TypeError, ValueError):
        raise StanmixInputError(
            f"family_options[{name!r}] must be covariate column indices, got {value!r}"
        ) from None
    if any(v < 0 for v in out) or len(set(out)) != len(out):
        raise StanmixInputError(
            f"family_options[{name!r}] must be distinct column indices >= 0, got "
            f"{value!r}"
        )
    return out


def _order_by(name: str, value) -> int | None:
    if value is None:
        return None
    hint = (
        "give a predictor's position, or None to order the lines at the "
        "predictors' centre"
    )
    return check.integer(f"family_options[{name!r}]", value, low=0, hint=hint)


REGRESSION_OPTIONS = {
    "predictors": Option(
        (0,),
        "Covariate columns (0-based) in the regression [(0,)].",
        _columns,
    ),
    "weights_from": Option(
        (),
        "Covariate columns (0-based) of the mixing weights' multinomial logit; "
        "() for constant weights [()].",
        _columns,
    ),
    "order_by": Option(
        None,
        "None: order the lines at the predictors' centre (mu); j: order the "
        "slopes of the j-th predictor [None].",
        _order_by,
    ),
    "slope_scale": Option(
        2.5, "Prior sd of each slope, standardized units [2.5].", positive_option
    ),
    "gate_scale": Option(
        2.5,
        "Prior sd of the weights' log-odds and their coefficients, "
        "standardized units [2.5].",
        positive_option,
    ),
}


@dataclass(frozen=True, eq=False)
class _Data:
    y: np.ndarray  # (N,) observed responses, 0 elsewhere
    observed: np.ndarray  # (N,) bool
    kind: np.ndarray  # (N,)
    lower: np.ndarray  # (N,)
    upper: np.ndarray  # (N,)
    x: np.ndarray  # (N, P) predictors
    z: np.ndarray  # (N, Q) covariates of the weights


@dataclass(frozen=True, eq=False)
class _Par:
    intercept: np.ndarray  # (K, S)
    beta: np.ndarray  # (K, P, S)
    sigma: np.ndarray  # (K, S)
    nu: np.ndarray | None  # (K, S)
    log_w: np.ndarray | None  # (K, S), constant weights
    gamma0: np.ndarray | None  # (K, S)
    gamma: np.ndarray | None  # (K, Q, S)


class NormalRegression(Family):
    """Mixture of linear regressions with normal errors."""

    family = "normal_regression"
    label = "normal"
    covariance = "diag"
    program = "regression"
    description = (
        "mixture of linear regressions: one line and one error scale per component"
    )
    options: ClassVar[dict[str, Option]] = REGRESSION_OPTIONS
    stan_flags: ClassVar[dict[str, int]] = {"student_t": 0}
    cluster_plot = "plot_regression"
    needs_covariates = True
    threads = True
    #: Error distribution within a component.
    errors: ClassVar[str] = "normal"

    # -- settings -------------------------------------------------------------
    @property
    def predictors(self) -> tuple[int, ...]:
        return self.settings["predictors"]

    @property
    def weights_from(self) -> tuple[int, ...]:
        return self.settings["weights_from"]

    @property
    def gated(self) -> bool:
        """Whether the weights depend on covariates."""
        return bool(self.weights_from)

    @property
    def student_t(self) -> bool:
        return self.errors == "student_t"

    @classmethod
    def settings_from_stan_data(cls, data):
        order = int(data.get("order_by", 0))
        out = {
            "predictors": tuple(int(c) - 1 for c in np.ravel(data.get("pred_col", []))),
            "weights_from": tuple(
                int(c) - 1 for c in np.ravel(data.get("gate_col", []))
            ),
            "order_by": None if order == 0 else order - 1,
        }
        for option, entry in (
            ("slope_scale", "beta_scale"),
            ("gate_scale", "gamma_scale"),
        ):
            if entry in data:
                out[option] = float(data[entry])
        for name in ("nu_shape", "nu_rate"):
            if name in cls.options and name in data:
                out[name] = float(data[name])
        return out

    def validate(self, k: int, d: int) -> None:
        if d != 1:
            raise StanmixInputError(
                f"family {self.family!r} models one response column given "
                f"predictors; the data has {d} columns: fit a mixture of "
                "regressions with stanmix.RegressionMixture(K).fit(X, y)"
            )
        if not self.predictors:
            raise StanmixInputError(
                f"family {self.family!r} needs at least one predictor, but "
                "family_options['predictors'] is empty; name a covariate column, "
                "e.g. (0,), or, for a mixture of the response alone (no "
                "predictors), fit stanmix.NormalMixture to the response"
            )
        order = self.settings["order_by"]
        if order is not None and order >= len(self.predictors):
            raise StanmixInputError(
                f"family_options['order_by'] = {order} but the regression has "
                f"{len(self.predictors)} predictor(s)"
            )

    def _design(self, cells: CellTable) -> None:
        """Refuse a table that lacks the covariates the settings name."""
        if cells.covariates is None:
            raise StanmixInputError(
                f"family {self.family!r} models a response given predictors, but "
                "the data has no covariates; fit it with stanmix.RegressionMixture"
            )
        p = cells.n_covariates
        for name in ("predictors", "weights_from"):
            bad = [c for c in self.settings[name] if c >= p]
            if bad:
                raise StanmixInputError(
                    f"family_options[{name!r}] names covariate column(s) {bad}, but "
                    f"the data has {p} covariate(s)"
                )
        if cells.n_dims != 1:
            raise StanmixInputError(
                f"family {self.family!r} models one response column; the data has "
                f"{cells.n_dims}"
            )

    # -- shapes and names -----------------------------------------------------
    def param_doc(self, name: str) -> str:
        """A line's ``mu`` and, with ``weights_from``, its weight ``w`` are
        taken at the covariates' centre.

        >>> NormalRegression(None).param_doc("mu")
        "each line's value at the predictors' centre (their means)"
        """
        if name == "mu":
            return "each line's value at the predictors' centre (their means)"
        if name == "w" and self.gated:
            return "mixing weights at the weights' covariates' centre (their means)"
        return super().param_doc(name)

    def param_dims(self) -> dict[str, tuple[str, ...]]:
        dims = {
            "w": (COMPONENT,),
            "mu": (COMPONENT,),
            "intercept": (COMPONENT,),
            "beta": (COMPONENT, PREDICTOR),
            "sigma": (COMPONENT,),
        }
        if self.student_t:
            dims["nu"] = (COMPONENT,)
        if self.gated:
            dims["gamma0"] = (COMPONENT,)
            dims["gamma"] = (COMPONENT, WEIGHT_PREDICTOR)
        return dims

    def fixed_entries(self, posterior) -> list[str]:
        """Component 0's gate log-odds, fixed at 0 (the others' reference)."""
        if not self.gated:
            return []
        labels = posterior["gamma"].coords[WEIGHT_PREDICTOR].values
        return ["gamma0[0]", *(f"gamma[0, {label}]" for label in labels)]

    def n_parameters(self, k: int, d: int) -> int:
        p, q = len(self.predictors), len(self.weights_from)
        lines = k * (1 + p) + k
        weights = (k - 1) * (1 + q) if q else k - 1
        return lines + weights + (k if self.student_t else 0)

    # -- Stan marshalling -------------------------------------------------------
    def _centers(self, cells: CellTable) -> tuple[np.ndarray, np.ndarray]:
        cov = cells.covariates
        return (
            cov[:, list(self.predictors)].mean(axis=0),
            cov[:, list(self.weights_from)].mean(axis=0),
        )

    def stan_data(self, cells, k, layout, priors, guide, units):
        self._design(cells)
        self.validate(k, cells.n_dims)
        x_center, z_center = self._centers(cells)
        order = self.settings["order_by"]
        data = component_data(cells, k, layout, priors, guide)
        data.update(
            n_pred=len(self.predictors),
            pred_col=np.asarray(self.predictors, dtype=int) + 1,
            n_gate=len(self.weights_from),
            gate_col=np.asarray(self.weights_from, dtype=int) + 1,
            x_center=x_center,
            z_center=z_center,
            order_by=0 if order is None else order + 1,
            beta_scale=float(self.settings["slope_scale"]),
            sigma_loc=float(priors.scale_median),
            sigma_scale=float(priors.scale_log_sd),
            student_t=int(self.student_t),
            nu_shape=float(self.settings.get("nu_shape", 2.0)),
            nu_rate=float(self.settings.get("nu_rate", 0.05)),
            gamma_scale=float(self.settings["gate_scale"]),
            grainsize=0,
        )
        return data

    def stan_init(self, params, cells, layout):
        self._design(cells)
        x_center, z_center = self._centers(cells)
        k = np.asarray(params["w"]).shape[-1]
        intercept = np.asarray(params["intercept"], dtype=float).reshape(k)
        beta = np.asarray(params["beta"], dtype=float).reshape(k, len(self.predictors))
        mu = intercept + beta @ x_center
        arrays = {
            "mu": mu,
            "beta": beta,
            "sigma": np.asarray(params["sigma"], dtype=float).reshape(k),
            "w": np.asarray(params["w"], dtype=float).reshape(k),
        }
        if self.student_t:
            arrays["nu"] = np.asarray(params["nu"], dtype=float).reshape(k)
        if self.gated:
            gamma = np.asarray(params["gamma"], dtype=float).reshape(
                k, len(self.weights_from)
            )
            arrays["logit"] = (
                np.asarray(params["gamma0"], dtype=float).reshape(k) + gamma @ z_center
            )
            arrays["gamma"] = gamma
        order_col = self.settings["order_by"]
        if layout.ordered:
            key = mu if order_col is None else beta[:, order_col]
            perm = np.argsort(key, kind="stable")
            arrays = {name: arr[perm] for name, arr in arrays.items()}
            key = _strictly_increasing(
                arrays["mu"] if order_col is None else arrays["beta"][:, order_col]
            )
            if order_col is None:
                arrays["mu"] = key
            else:
                arrays["beta"][:, order_col] = key
        slopes = layout.ordered and order_col is not None
        mu_ordered = layout.ordered and order_col is None
        beta = arrays["beta"]
        rest = [j for j in range(beta.shape[1]) if not (slopes and j == order_col)]
        w = arrays["w"] / arrays["w"].sum()
        init = {
            **ordered_parts("mu", arrays["mu"], replace(layout, ordered=mu_ordered)),
            "mu_free": np.empty(0) if mu_ordered else arrays["mu"],
            **ordered_parts(
                "slope",
                beta[:, order_col] if slopes else np.empty(0),
                replace(layout, ordered=slopes),
            ),
            "beta_rest": beta[:, rest].reshape(k, len(rest)),
            "sigma": arrays["sigma"],
            "nu": arrays["nu"] if self.student_t else np.empty(0),
            "w_constant": np.ones(1) if self.gated else w,
        }
        if self.gated:
            logit, gamma = arrays["logit"], arrays["gamma"]
            init["gamma0_rest"] = logit[1:] - logit[0]
            init["gamma_rest"] = gamma[1:] - gamma[0]
        else:
            init["gamma0_rest"] = np.empty(0)
            init["gamma_rest"] = np.empty((0, 0))
        return init

    def stan_shapes(self, k, d):
        p, q = len(self.predictors), len(self.weights_from)
        out = {"w": (k,), "mu": (k, 1), "intercept": (k,), "sigma": (k,)}
        if p:
            out["beta"] = (k, p)
        if self.student_t:
            out["nu"] = (k,)
        if self.gated:
            out.update(gamma0=(k,), gamma=(k, q))
        return out

    def from_stan(self, variables):
        w = np.asarray(variables["w"])
        lead, k = w.shape[:-1], w.shape[-1]
        p = len(self.predictors)
        beta = variables.get("beta")
        out = {
            "w": w,
            "mu": np.asarray(variables["mu"]).reshape(*lead, k, 1),
            "intercept": np.asarray(variables["intercept"]).reshape(*lead, k),
            "beta": np.zeros((*lead, k, p))
            if beta is None or p == 0
            else np.asarray(beta).reshape(*lead, k, p),
            "sigma": np.asarray(variables["sigma"]).reshape(*lead, k, 1),
        }
        if self.student_t:
            out["nu"] = np.asarray(variables["nu"]).reshape(*lead, k)
        if self.gated:
            q = len(self.weights_from)
            out["gamma0"] = np.asarray(variables["gamma0"]).reshape(*lead, k)
            out["gamma"] = np.asarray(variables["gamma"]).reshape(*lead, k, q)
        return out

    # -- units ------------------------------------------------------------------
    def _covariate_units(self, units: Units) -> tuple[np.ndarray, ...]:
        cc, cs = units.covariate_center, units.covariate_scale
        pred, gate = list(self.predictors), list(self.weights_from)
        if cc is None:
            p, q = len(pred), len(gate)
            return np.zeros(p), np.ones(p), np.zeros(q), np.ones(q)
        return cc[pred], cs[pred], cc[gate], cs[gate]

    def to_original_units(self, params: Params, units: Units) -> Params:
        cy, sy = float(units.center[0]), float(units.scale[0])
        cx, sx, cz, sz = self._covariate_units(units)
        out = dict(params)
        beta = np.asarray(params["beta"]) * sy / sx
        out["beta"] = beta
        out["intercept"] = np.asarray(params["intercept"]) * sy + cy - beta @ cx
        if "mu" in params:
            out["mu"] = np.asarray(params["mu"]) * sy + cy
        out["sigma"] = np.asarray(params["sigma"]) * sy
        if self.gated:
            gamma = np.asarray(params["gamma"]) / sz
            out["gamma"] = gamma
            out["gamma0"] = np.asarray(params["gamma0"]) - gamma @ cz
        return out

    def to_standard_units(self, params: Params, units: Units) -> Params:
        cy, sy = float(units.center[0]), float(units.scale[0])
        cx, sx, cz, sz = self._covariate_units(units)
        out = dict(params)
        beta = np.asarray(params["beta"])
        out["beta"] = beta * sx / sy
        out["intercept"] = (np.asarray(params["intercept"]) + beta @ cx - cy) / sy
        if "mu" in params:
            out["mu"] = (np.asarray(params["mu"]) - cy) / sy
        out["sigma"] = np.asarray(params["sigma"]) / sy
        if self.gated:
            gamma = np.asarray(params["gamma"])
            out["gamma"] = gamma * sz
            out["gamma0"] = np.asarray(params["gamma0"]) + gamma @ cz
        return out

    def to_original(self, params, center, scale):
        """Params in the data's units; covariates taken as unscaled."""
        return self.to_original_units(
            params, Units(np.asarray(center), np.asarray(scale))
        )

    def to_standard(self, params, center, scale):
        """Params in standardized units; covariates taken as unscaled."""
        return self.to_standard_units(
            params, Units(np.asarray(center), np.asarray(scale))
        )

    # -- starts -----------------------------------------------------------------
    def start(self, means, scales, weights) -> Params:
        """Flat lines at the clustering's centres (for callers without data;
        fits start from :meth:`data_starts`)."""
        means = np.asarray(means, dtype=float)
        k = means.shape[0]
        weights = np.asarray(weights, dtype=float)
        return self._complete(
            {
                "w": weights,
                "intercept": means[:, 0].copy(),
                "beta": np.zeros((k, len(self.predictors))),
                "sigma": np.asarray(scales, dtype=float)[:, :1].copy(),
                "mu": means[:, :1].copy(),
            }
        )

    def _complete(self, params: Params) -> Params:
        """The family's own starting values beside lines, scales and weights."""
        w = np.asarray(params["w"], dtype=float)
        if self.student_t and "nu" not in params:
            params["nu"] = np.full(w.shape, 10.0)
        if self.gated and "gamma0" not in params:
            params["gamma0"] = np.log(w) - np.log(w[0])
            params["gamma"] = np.zeros((w.size, len(self.weights_from)))
        return params

    def data_starts(self, cells, k, seeds):
        """Maximum-likelihood lines by EM, one run per start (each the best of
        several random seedings), on the responses' point values (censored
        ones at their limits, missing ones left out)."""
        self._design(cells)
        keep = cells.kind[:, 0] != MISSING
        y = cells.point_values()[keep, 0]
        x = cells.covariates[:, list(self.predictors)]
        x_center = x.mean(axis=0)
        out = []
        for start_seed in seeds:
            rng = np.random.default_rng(start_seed)
            intercept, beta, sigma, w = em_lines(y, x[keep], k, rng)
            out.append(
                self._complete(
                    {
                        "w": w,
                        "intercept": intercept,
                        "beta": beta,
                        "sigma": sigma[:, None],
                        "mu": (intercept + beta @ x_center)[:, None],
                    }
                )
            )
        return out

    def check_start(self, values: Mapping, k: int, d: int, where: str) -> Params:
        need = ("intercept", "beta", "sigma")
        own = tuple(self.param_dims())
        allowed = (*need, "w", *(n for n in own if n in ("nu", "gamma0", "gamma")))
        if not isinstance(values, Mapping) or set(need) - set(values):
            raise StanmixInputError(
                f"{where} must be a dict with keys 'intercept', 'beta' and 'sigma' "
                f"(and optionally {', '.join(repr(n) for n in allowed[3:])})"
            )
        known_keys(f"keys in {where}:", values, allowed)
        p, q = len(self.predictors), len(self.weights_from)
        shapes = {
            "intercept": (k,),
            "beta": (k, p),
            "sigma": (k,),
            "w": (k,),
            "nu": (k,),
            "gamma0": (k,),
            "gamma": (k, q),
        }
        out: Params = {}
        for name, value in values.items():
            shape = shapes[name]
            # one predictor (covariate): its K coefficients may come flat
            flat = [(k,)] if len(shape) == 2 and shape[1] == 1 else []
            out[name] = start_array(value, name, [shape, *flat], where).reshape(shape)
            if not np.all(np.isfinite(out[name])):
                raise StanmixInputError(f"{where}: {name!r} must be finite")
        if np.any(out["sigma"] <= 0):
            raise StanmixInputError(f"{where}: 'sigma' must be positive")
        if "nu" in out and np.any(out["nu"] <= 1):
            raise StanmixInputError(f"{where}: 'nu' must be above 1")
        w = out.get("w", np.full(k, 1.0 / k))
        if np.any(w <= 0):
            raise StanmixInputError(f"{where}: 'w' must be positive")
        check_weights_sum(w, where)
        out["w"] = w / w.sum()
        out["sigma"] = out["sigma"][:, None]
        return self._complete(out)

    def jitter(self, params, rng, size=0.05):
        out = dict(params)
        sigma = np.asarray(params["sigma"])
        shift = size * rng.standard_normal(sigma.shape) * sigma
        out["intercept"] = params["intercept"] + shift[..., 0]
        out["mu"] = params["mu"] + shift
        out["beta"] = params["beta"] + size * 0.1 * rng.standard_normal(
            params["beta"].shape
        )
        out["sigma"] = sigma * np.exp(size * rng.standard_normal(sigma.shape))
        w = params["w"] * np.exp(size * rng.standard_normal(params["w"].shape))
        out["w"] = w / w.sum()
        if self.student_t:
            out["nu"] = 1.0 + (params["nu"] - 1.0) * np.exp(
                size * rng.standard_normal(params["nu"].shape)
            )
        if self.gated:
            out["gamma0"] = params["gamma0"] + size * rng.standard_normal(
                params["gamma0"].shape
            )
        return out

    # -- kernel -------------------------------------------------------------------
    def prepare_data(self, cells: CellTable) -> _Data:
        self._design(cells)
        kind = cells.kind[:, 0]
        observed = kind == OBSERVED
        return _Data(
            y=np.where(observed, cells.values[:, 0], 0.0),
            observed=observed,
            kind=kind,
            lower=cells.lower[:, 0],
            upper=cells.upper[:, 0],
            x=np.ascontiguousarray(cells.covariates[:, list(self.predictors)]),
            z=np.ascontiguousarray(cells.covariates[:, list(self.weights_from)]),
        )

    def prepare_params(self, params, data: _Data) -> _Par:
        gated = self.gated
        with np.errstate(divide="ignore"):
            log_w = None if gated else np.log(params["w"].T)
        return _Par(
            intercept=np.ascontiguousarray(params["intercept"].T),
            beta=np.ascontiguousarray(params["beta"].transpose(1, 2, 0)),
            sigma=np.ascontiguousarray(params["sigma"][..., 0].T),
            nu=np.ascontiguousarray(params["nu"].T) if self.student_t else None,
            log_w=log_w,
            gamma0=np.ascontiguousarray(params["gamma0"].T) if gated else None,
            gamma=np.ascontiguousarray(params["gamma"].transpose(1, 2, 0))
            if gated
            else None,
        )

    def _log_weights(self, data: _Data, par: _Par, start: int, stop: int):
        rows = stop - start
        if par.log_w is not None:
            return np.broadcast_to(par.log_w, (rows, *par.log_w.shape)).copy()
        eta = par.gamma0[None] + np.einsum("nq,kqs->nks", data.z[start:stop], par.gamma)
        top = eta[:, 0, :].copy()
        for k in range(1, eta.shape[1]):
            np.maximum(top, eta[:, k, :], out=top)
        total = np.zeros_like(top)
        for k in range(eta.shape[1]):
            total += np.exp(eta[:, k, :] - top)
        return eta - (top + np.log(total))[:, None, :]

    def block_log_terms(self, data: _Data, par: _Par, start: int, stop: int):
        loc = par.intercept[None] + np.einsum(
            "np,kps->nks", data.x[start:stop], par.beta
        )
        lp = self._log_weights(data, par, start, stop)
        sigma = par.sigma[None]
        seen = np.flatnonzero(data.observed[start:stop])
        if seen.size:
            z = (data.y[start:stop][seen][:, None, None] - loc[seen]) / sigma
            if par.nu is None:
                with np.errstate(over="ignore"):  # beyond 1e154 scales: -inf
                    lp[seen] += -0.5 * z * z - np.log(sigma) - _HALF_LOG_2PI
            else:
                nu = par.nu[None]
                const = (
                    gammaln(0.5 * (nu + 1.0))
                    - gammaln(0.5 * nu)
                    - 0.5 * np.log(nu * np.pi)
                    - np.log(sigma)
                )
                lp[seen] += const - 0.5 * (nu + 1.0) * log1p_square(z, nu)
        kind = data.kind[start:stop]
        cens = np.flatnonzero((kind == LEFT) | (kind == RIGHT) | (kind == INTERVAL))
        if cens.size:
            lp[cens] += self._censored(
                kind[cens],
                data.lower[start:stop][cens][:, None, None],
                data.upper[start:stop][cens][:, None, None],
                loc[cens],
                sigma,
                par.nu,
            )
        return lp

    @staticmethod
    def _censored(kind, lower, upper, loc, sigma, nu):
        """Terms (C, K, S) of censored responses, as the programs'
        ``cell_log_prob`` (``stan/cells.stanfunctions``) gives them."""
        if nu is None:
            log_cdf = log_ndtr
        else:

            def log_cdf(x):
                return t_log_cdf(x, nu[None])

        out = np.empty(loc.shape)
        left, right, inner = kind == LEFT, kind == RIGHT, kind == INTERVAL
        if left.any():
            out[left] = log_cdf((upper[left] - loc[left]) / sigma)
        if right.any():
            out[right] = log_cdf((loc[right] - lower[right]) / sigma)
        if inner.any():
            lz = (lower[inner] - loc[inner]) / sigma
            uz = (upper[inner] - loc[inner]) / sigma
            mirror = (lz + uz) > 0
            hi = log_cdf(np.where(mirror, -lz, uz))
            lo = log_cdf(np.where(mirror, -uz, lz))
            out[inner] = hi + log1mexp(lo - hi)
        return out

    def check_draws(self, params, n_dims):
        if n_dims != 1:
            raise StanmixInputError(
                f"family {self.family!r} has one response column; the cells have "
                f"{n_dims}"
            )
        w = _checks.weights(params)
        s, k = w.shape
        p, q = len(self.predictors), len(self.weights_from)
        sk = ("draw", "component")
        out = {
            "w": w,
            "mu": _checks.per_component(params, "mu", s, k, 1),
            "intercept": _checks.draws(params, "intercept", (s, k), sk),
            "beta": _checks.draws(params, "beta", (s, k, p), (*sk, "predictor")),
            "sigma": _checks.per_component(params, "sigma", s, k, 1, positive=True),
        }
        if self.student_t:
            out["nu"] = _checks.draws(params, "nu", (s, k), sk, positive=True)
        if self.gated:
            out["gamma0"] = _checks.draws(params, "gamma0", (s, k), sk)
            out["gamma"] = _checks.draws(
                params, "gamma", (s, k, q), (*sk, "weight predictor")
            )
        return out

    # -- labels and posterior I/O ---------------------------------------------------
    def order_key(self, anchor: int) -> tuple[str, int | None]:
        order = self.settings["order_by"]
        return ("mu", None) if order is None else ("beta", order)

    def after_relabel(self, posterior: xr.Dataset) -> dict[str, xr.DataArray]:
        """Re-express the weights' log-odds against the relabelled component 0."""
        if not self.gated:
            return {}
        out = {}
        for name in ("gamma0", "gamma"):
            da = posterior[name]
            out[name] = da - da.isel({COMPONENT: 0})
            out[name] = out[name].transpose(*da.dims)
        return out

    def to_posterior(self, params, columns):
        dims = self.param_dims()
        variables = {name: np.asarray(params[name]) for name in dims}
        variables["mu"] = variables["mu"][..., 0]
        variables["sigma"] = variables["sigma"][..., 0]
        k = params["w"].shape[-1]
        coords = {
            COMPONENT: np.arange(k),
            PREDICTOR: [f"x{j}" for j in self.predictors],
        }
        if self.gated:
            coords[WEIGHT_PREDICTOR] = [f"x{j}" for j in self.weights_from]
        return variables, {n: list(v) for n, v in dims.items()}, coords

    def from_posterior(self, posterior):
        out = super().from_posterior(posterior)
        out["mu"] = out["mu"][..., None]
        out["sigma"] = out["sigma"][..., None]
        return out

    # -- shapes for plots -------------------------------------------------------------
    def covariances(self, params):
        sigma = np.asarray(params["sigma"])
        return (sigma * sigma)[..., None]

    def marginal_log_pdf(self, x, params, d):
        raise StanmixInputError(
            "a mixture of regressions has no single density of the response: it "
            "depends on the predictors; draw it with stanmix.plots.plot_regression"
        )

    # -- predictions ------------------------------------------------------------------
    def line(self, params: Params, x: np.ndarray) -> np.ndarray:
        """Each component's regression line at predictor rows ``x`` (M, P):
        (S, K, M) for draws with a leading axis S."""
        return params["intercept"][..., None] + np.einsum(
            "skp,mp->skm", params["beta"], np.asarray(x, dtype=float)
        )

    def log_weights_at(self, params: Params, z: np.ndarray) -> np.ndarray:
        """Log mixing weights at covariate rows ``z`` (M, Q): (S, K, M)."""
        w = np.asarray(params["w"])
        m = np.asarray(z).shape[0]
        if not self.gated:
            with np.errstate(divide="ignore"):
                return np.repeat(np.log(w)[..., None], m, axis=-1)
        eta = params["gamma0"][..., None] + np.einsum(
            "skq,mq->skm", params["gamma"], np.asarray(z, dtype=float)
        )
        return eta - np.logaddexp.reduce(eta, axis=1, keepdims=True)

    def simulate(self, params, cells, rng):
        """Responses at the rows' own predictors (and weight covariates)."""
        data = self.prepare_data(cells)
        lead = {name: np.asarray(arr)[None] for name, arr in params.items()}
        log_w = self.log_weights_at(lead, data.z)[0]  # (K, N)
        prob = np.exp(log_w - np.logaddexp.reduce(log_w, axis=0))
        u = rng.random(cells.n_obs)
        labels = np.minimum(
            (np.cumsum(prob, axis=0) < u).sum(axis=0), prob.shape[0] - 1
        )
        rows = np.arange(cells.n_obs)
        mean = self.line(lead, data.x)[0][labels, rows]
        errors = self.sample_errors(lead, rng, (1, *prob.shape))[0][labels, rows]
        sigma = np.asarray(params["sigma"]).reshape(-1)[labels]
        return (mean + sigma * errors)[:, None], labels

    def _simulate_rows(self, params, labels, rng):  # simulate() needs the rows
        raise NotImplementedError

    def sample_errors(self, params: Params, rng: np.random.Generator, shape):
        """Standard error draws e (S, K, ...) of each draw's components, scaled
        by nothing: normal, or Student-t with the draw's nu."""
        if not self.student_t:
            return rng.standard_normal(shape)
        nu = np.asarray(params["nu"]).reshape(shape[:2] + (1,) * (len(shape) - 2))
        return rng.standard_t(np.broadcast_to(nu, shape))


class StudentTRegression(NormalRegression):
    """Mixture of linear regressions with Student-t errors, one nu per
    component: heavy tails absorb outlying responses."""

    family = "student_t_regression"
    label = "Student-t"
    description = (
        "mixture of linear regressions with Student-t errors: one line, scale "
        "and nu per component"
    )
    spread_name = "scale"
    options: ClassVar[dict[str, Option]] = {**REGRESSION_OPTIONS, **NU_PRIOR}
    stan_flags: ClassVar[dict[str, int]] = {"student_t": 1}
    errors = "student_t"


def _strictly_increasing(values: np.ndarray) -> np.ndarray:
    """Sorted values nudged apart where equal, so Stan's ordered transform
    takes them."""
    out = np.asarray(values, dtype=float).copy()
    for i in range(1, out.size):
        if out[i] <= out[i - 1]:
            out[i] = out[i - 1] + 1e-6 * max(1.0, abs(out[i - 1]))
    return out


def em_lines(
    y: np.ndarray,
    x: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    n_init: int = 8,
    n_iter: int = 150,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Maximum-likelihood mixture of K normal regression lines by EM.

    Each of ``n_init`` runs starts from lines through small random subsets
    of the points (so the starting lines differ), and the run with the
    highest log-likelihood is kept. A tiny ridge keeps each weighted least
    squares solvable, and scales have a floor, so no run collapses onto a
    single point.

    Returns
    -------
    intercept (K,), beta (K, P), sigma (K,), weights (K,)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(-1, 1, (200, 1))
    >>> y = np.where(rng.random(200) < 0.5, 2 * x[:, 0] + 1, -2 * x[:, 0] - 1)
    >>> a, b, s, w = em_lines(y + 0.1 * rng.standard_normal(200), x, 2, rng)
    >>> np.round(np.sort(b[:, 0]), 1).tolist()
    [-2.0, 2.0]
    """
    n, p = x.shape
    design = np.column_stack([np.ones(n), x])
    ridge = 1e-6 * max(n, 1) * np.eye(p + 1)
    spread = float(np.std(y)) or 1.0
    floor = max(_MIN_START_SCALE, 1e-3 * spread)
    best, best_ll = None, -np.inf
    for _ in range(n_init):
        coef = np.empty((k, p + 1))
        for j in range(k):
            rows = rng.choice(n, size=min(n, p + 2), replace=False)
            a = design[rows]
            coef[j] = np.linalg.solve(a.T @ a + ridge, a.T @ y[rows])
        sigma = np.full(k, spread / k)
        w = np.full(k, 1.0 / k)
        last = -np.inf
        for _ in range(n_iter):
            logp = np.log(w) + norm.logpdf(y[:, None], design @ coef.T, sigma)
            top = logp.max(axis=1, keepdims=True)
            ll = float(np.sum(top[:, 0] + np.log(np.exp(logp - top).sum(axis=1))))
            resp = np.exp(logp - top)
            resp /= resp.sum(axis=1, keepdims=True)
            for j in range(k):
                r = resp[:, j]
                a = design * r[:, None]
                coef[j] = np.linalg.solve(design.T @ a + ridge, a.T @ y)
                resid = y - design @ coef[j]
                total = max(r.sum(), 1e-12)
                sigma[j] = max(math.sqrt(float(r @ resid**2) / total), floor)
            w = np.clip(resp.mean(axis=0), 1e-3, None)
            w /= w.sum()
            if ll - last < 1e-8 * abs(ll):
                break
            last = ll
        if ll > best_ll:
            best, best_ll = (coef.copy(), sigma.copy(), w.copy()), ll
    coef, sigma, w = best
    return coef[:, 0], coef[:, 1:], sigma, w
