"""What a component family declares: the contract every family module fills.

A family is one Stan program plus one subclass of :class:`Family`. The
estimator, the likelihood driver, the label handling and the plots ask the
family for everything that depends on what a component is: its parameters
and their shapes, the Stan data and inits, the conversion between the data's
units and the standardized ones, the parameter count, the per-row log terms
that mirror the Stan likelihood, and the shapes plots draw.

Parameters travel as a ``Params`` dict of arrays with any number of leading
draw axes: ``w`` (..., K) always, ``mu`` (..., K, D) always, and the
family's own (e.g. ``sigma`` (..., K, D), ``corr`` (..., J, D, D), ``nu``
(..., K)). Inside stanmix they are in standardized units until
:meth:`Family.to_original` converts them.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import xarray as xr

from stanmix._validation import known_keys, number
from stanmix.cells import CellTable, Standardization
from stanmix.exceptions import StanmixInputError

Params = dict[str, np.ndarray]

#: Dims of posterior variables beyond (chain, draw).
COMPONENT, DIM, PAIR = "component", "dim", "pair"

#: What each posterior variable of the families is, for tables and reports.
PARAM_DOCS = {
    "w": "mixing weights",
    "mu": "component means (locations)",
    "sigma": "scales (standard deviations for normal components)",
    "corr": "correlations of each pair of columns",
    "nu": "degrees of freedom",
    "intercept": "regression intercepts (each component's line at predictors = 0)",
    "beta": "regression slopes, one per component and predictor",
    "gamma0": "log-odds intercepts of the mixing weights against component 0",
    "gamma": "log-odds coefficients of the mixing weights against component 0",
}


@dataclass(frozen=True)
class Option:
    """A family-specific setting accepted through ``family_options``."""

    default: Any
    doc: str
    check: Callable[[str, Any], Any]


def positive_option(name: str, value) -> float:
    """A family option that must be a positive number, named as the user
    gives it (``family_options['nu_shape']``)."""
    return number(f"family_options[{name!r}]", value, positive=True)


@dataclass(frozen=True)
class Priors:
    """The prior settings every family shares (see the estimator's docs)."""

    mean_scale: float = 3.0
    scale_median: float = 0.5
    scale_log_sd: float = 1.0
    concentration: float = 3.0
    guided_scale: float | None = None


@dataclass(frozen=True)
class Layout:
    """Where the components' means are ordered: column ``anchor`` (0-based)
    when ``ordered``. ``pivot`` (0-based, in that order) is the component
    whose mean the programs parameterise directly; the others are log gaps
    stepping away from it, so the best determined mean should be the pivot
    (see ``ordered_from_pivot`` in ``stan/mixture.stanfunctions``)."""

    anchor: int = 0
    ordered: bool = True
    pivot: int = 0


class Family(abc.ABC):
    """One kind of component. Subclasses fill the class attributes and the
    abstract methods; instances carry the validated ``family_options``."""

    #: Name of the component distribution ("normal", "student_t").
    family: ClassVar[str]
    #: Covariance structure ("diag", "spherical", "full", "tied").
    covariance: ClassVar[str]
    #: Stem of the Stan program in ``stan/``.
    program: ClassVar[str]
    #: How censored cells enter the likelihood: "cdf" (marginalised cell by
    #: cell) or "latent" (jointly, with latent values in Stan where a row has
    #: several; see :meth:`n_latent`).
    censoring: ClassVar[str] = "cdf"
    #: Whether each row comes from one component (membership is defined).
    joint: ClassVar[bool] = True
    #: Whether standardization uses one scale for all columns.
    shared_scale: ClassVar[bool] = False
    #: Settings accepted through ``family_options``.
    options: ClassVar[dict[str, Option]] = {}
    #: One line for tables and reports.
    description: ClassVar[str] = ""
    #: The component (or error) distribution's name in figure titles
    #: ("Student-t"); ``family`` with spaces for underscores when empty.
    label: ClassVar[str] = ""
    #: What one unit of spread is called in plots ("SD", or "scale" where the
    #: covariance parameter is not the variance).
    spread_name: ClassVar[str] = "SD"
    #: The data flags that select this family within its program (what
    #: :meth:`stan_data` sets them to).
    stan_flags: ClassVar[dict[str, int]] = {}
    #: The function of :mod:`stanmix.plots` that draws the fitted data with
    #: the components (what the report shows).
    cluster_plot: ClassVar[str] = "plot_clusters"
    #: Whether the family models the cells given covariates that the cell
    #: table must carry (:attr:`stanmix.cells.CellTable.covariates`).
    needs_covariates: ClassVar[bool] = False
    #: Whether the program can split its likelihood over within-chain threads
    #: (``reduce_sum`` in chunks of its ``grainsize`` data entry's rows).
    threads: ClassVar[bool] = False
    #: Whether a NUTS fit with fewer chains than cores gives each chain the
    #: spare ones by default (where the family's partial sum gains from them).
    spare_cores: ClassVar[bool] = True

    def __init__(self, family_options: Mapping | None = None) -> None:
        given = dict(family_options or {})
        known_keys(
            f"family_options for family={self.family!r}, "
            f"covariance={self.covariance!r}:",
            given,
            self.options,
        )
        self.settings = {
            name: opt.check(name, given[name]) if name in given else opt.default
            for name, opt in self.options.items()
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings})"

    @classmethod
    def settings_from_stan_data(cls, data: Mapping) -> dict:
        """The family's settings as a program's data records them."""
        return {name: data[name] for name in cls.options if name in data}

    # -- shapes and names ---------------------------------------------------
    def param_doc(self, name: str) -> str:
        """What parameter ``name`` is, in a few words (the report's list)."""
        return PARAM_DOCS.get(name, name)

    @abc.abstractmethod
    def param_dims(self) -> dict[str, tuple[str, ...]]:
        """Posterior variables and their dims beyond (chain, draw), ``w`` first."""

    def fixed_entries(self, posterior) -> list[str]:
        """The summary rows (``name[label, ...]``) of posterior entries the
        model fixes rather than estimates, read from ``posterior``'s
        coordinates; none by default."""
        return []

    @abc.abstractmethod
    def n_parameters(self, k: int, d: int) -> int:
        """Free parameters of the model (weights included), for BIC."""

    def n_latent(self, cells: CellTable) -> int:
        """Latent censored values the program samples alongside the model's
        parameters (none where every censored cell is integrated exactly)."""
        return 0

    def integrated_pairs(self, cells: CellTable) -> tuple[int, int]:
        """Rows whose two censored cells the program integrates row by row,
        under each component on every gradient: those whose cells are both
        one-sided (a closed form, a quadrature where it is not exact to
        rounding) and those with an interval cell (a quadrature). None
        where every censored cell has its CDF or a shared rectangle."""
        return 0, 0

    def row_costs(self, cells: CellTable) -> np.ndarray:
        """Each row's cost in the log-likelihood and memberships, in units of
        an ordinary row (1): for rows whose probability is a quadrature,
        its number of nodes. The fit weighs the pointwise log-likelihood it
        stores by default with it."""
        return np.ones(cells.n_obs)

    def component_names(self) -> list[str]:
        """Posterior variables that carry the component dim (relabelled)."""
        return [n for n, dims in self.param_dims().items() if COMPONENT in dims]

    # -- Stan marshalling (standardized units) ------------------------------
    def validate(self, k: int, d: int) -> None:  # noqa: B027 (optional hook)
        """Check the settings against the model's size (before any Stan call)."""

    @abc.abstractmethod
    def stan_data(
        self,
        cells: CellTable,
        k: int,
        layout: Layout,
        priors: Priors,
        guide: Params,
        units: Standardization,
    ) -> dict:
        """The program's data for standardized ``cells``; ``guide`` is a start
        (centres for the guided mean prior), ``units`` the standardization
        (for settings given in the data's units)."""

    @abc.abstractmethod
    def stan_init(self, params: Params, cells: CellTable, layout: Layout) -> dict:
        """Constrained values of every Stan parameter, from one point."""

    @abc.abstractmethod
    def from_stan(self, variables: Mapping[str, np.ndarray]) -> Params:
        """Params from the program's output variables (leading axes kept)."""

    def stan_shapes(self, k: int, d: int) -> dict[str, tuple[int, ...]]:
        """The program's output variables :meth:`from_stan` reads, with their
        shapes beyond (chain, draw), for K components and D columns (what a
        run's CSV files must hold). By default the posterior variables of
        :meth:`param_dims` whose dims are all components and columns."""
        sizes = {COMPONENT: k, DIM: d}
        return {
            name: tuple(sizes[dim] for dim in dims)
            for name, dims in self.param_dims().items()
            if all(dim in sizes for dim in dims)
        }

    # -- units --------------------------------------------------------------
    def to_original(self, params: Params, center, scale) -> Params:
        """Params in the data's units from standardized ones."""
        return self._rescale(params, np.asarray(center), np.asarray(scale), True)

    def to_standard(self, params: Params, center, scale) -> Params:
        """Params in standardized units from the data's units."""
        return self._rescale(params, np.asarray(center), np.asarray(scale), False)

    def to_original_units(self, params: Params, units: Standardization) -> Params:
        """Params in the data's units from the standardized units ``units``.

        The same as :meth:`to_original` with the response columns' centre
        and scale; families whose data carry covariates (regressions) also
        convert their coefficients with the covariates' units.
        """
        return self.to_original(params, units.center, units.scale)

    def to_standard_units(self, params: Params, units: Standardization) -> Params:
        """Params in the standardized units ``units`` from the data's units
        (the inverse of :meth:`to_original_units`)."""
        return self.to_standard(params, units.center, units.scale)

    def _rescale(self, params: Params, center, scale, forward: bool) -> Params:
        """Means shift and scale; ``sigma`` scales; the rest is unit-free."""
        out = dict(params)
        if forward:
            out["mu"] = params["mu"] * scale + center
            out["sigma"] = params["sigma"] * scale
        else:
            out["mu"] = (params["mu"] - center) / scale
            out["sigma"] = params["sigma"] / scale
        return out

    # -- starts -------------------------------------------------------------
    @abc.abstractmethod
    def start(self, means, scales, weights) -> Params:
        """A point of the model from a hard clustering (standardized units):
        centres (K, D), per-column spreads (K, D), weights (K,)."""

    def data_starts(
        self, cells: CellTable, k: int, seeds: Sequence[int]
    ) -> list[Params] | None:
        """Starting points the family computes from the (standardized) cells
        itself, one per optimizer start (``seeds`` holds each start's seed),
        or None (the default) to start from k-means clusterings of the cells
        (:meth:`start`)."""
        return None

    def for_method(self, method: str) -> Family:
        """This family set up for a fit by ``method`` ("optimize",
        "variational" or "sample"): itself, unless its program computes
        differently for one (see :meth:`FullCovariance.for_method`)."""
        return self

    def check_start(self, values: Mapping, k: int, d: int, where: str) -> Params:
        """User-given starting values (data units) as Params."""
        need = ("w", "mu", "sigma")
        if not isinstance(values, Mapping) or set(need) - set(values):
            raise StanmixInputError(
                f"{where} must be a dict with keys 'w', 'mu' and 'sigma'"
            )
        known_keys(f"keys in {where}:", values, need)
        one_column = [(k,)] if d == 1 else []
        # K scales are one per component; where K = D they could as well be
        # one per column, so there only the K x D matrix is taken
        per_component = d == 1 or k != d or getattr(self, "spherical", False)
        w = start_array(values["w"], "w", [(k,)], where)
        mu = start_array(values["mu"], "mu", [(k, d), *one_column], where)
        sigma = start_array(
            values["sigma"],
            "sigma",
            [(k, d), *([(k,)] if per_component else [])],
            where,
            ""
            if per_component
            else f"; {k} values could be one per component or one per column",
        )
        mu = mu.reshape(k, d)
        sigma = np.broadcast_to(sigma.reshape(k, -1), (k, d)).copy()
        finite = np.all(np.isfinite(mu)) and np.all(np.isfinite(w))
        if not (finite and np.all(np.isfinite(sigma))):
            raise StanmixInputError(f"{where}: every value must be finite")
        if not (np.all(w > 0) and np.all(sigma > 0)):
            raise StanmixInputError(f"{where}: weights and scales must be positive")
        check_weights_sum(w, where)
        start = self.start(mu, sigma, w)
        return start

    def jitter(self, params: Params, rng: np.random.Generator, size=0.05) -> Params:
        """A small random perturbation of one point (standardized units)."""
        out = dict(params)
        sigma = params["sigma"]
        out["mu"] = params["mu"] + size * rng.standard_normal(params["mu"].shape) * (
            sigma if sigma.shape == params["mu"].shape else sigma.mean()
        )
        out["sigma"] = sigma * np.exp(size * rng.standard_normal(sigma.shape))
        w = params["w"] * np.exp(size * rng.standard_normal(params["w"].shape))
        out["w"] = w / w.sum()
        return out

    # -- likelihood kernel (mirrors the Stan program) -----------------------
    @abc.abstractmethod
    def prepare_data(self, cells: CellTable) -> Any:
        """Everything about the cells the kernel reuses for every block."""

    @abc.abstractmethod
    def prepare_params(self, params: Params, data: Any) -> Any:
        """Draws (S leading) prepared for the kernel."""

    @abc.abstractmethod
    def block_log_terms(self, data: Any, par: Any, start: int, stop: int):
        """lp[n, k, s] = log w_k + log f(row n | component k, draw s) for rows
        ``start:stop``, shape (rows, K, S)."""

    @abc.abstractmethod
    def check_draws(self, params: Params, n_dims: int) -> Params:
        """Validated float draws with one leading axis (S)."""

    # -- labels ---------------------------------------------------------------
    def order_key(self, anchor: int) -> tuple[str, int | None]:
        """The posterior variable (and its coordinate) whose order the
        program declares when ordered: by default the means along the anchor.
        """
        return "mu", anchor

    def exchangeable(self, k: int) -> bool:
        """Whether permuting the K components leaves the model unchanged
        (what relabelling assumes). True unless a setting tells the
        components apart, such as known scales that differ between them."""
        return True

    def unused_priors(self) -> dict[str, str]:
        """Fields of :class:`Priors` that this family's settings leave
        without a parameter to act on, each with the setting that does so
        (none by default): a prior given for them would change nothing."""
        return {}

    def after_relabel(self, posterior: xr.Dataset) -> dict[str, xr.DataArray]:
        """Variables to replace in a relabelled posterior, where relabelling
        broke a constraint of the family's parameterisation (by default
        none)."""
        return {}

    # -- posterior I/O --------------------------------------------------------
    def to_posterior(self, params: Params, columns) -> tuple[dict, dict, dict]:
        """(variables, dims, coords) of the posterior group, data units."""
        dims = self.param_dims()
        variables = {name: params[name] for name in dims}
        k = params["w"].shape[-1]
        coords = {COMPONENT: np.arange(k), DIM: list(columns)}
        return variables, {n: list(v) for n, v in dims.items()}, coords

    def from_posterior(self, posterior: xr.Dataset) -> Params:
        """Params with one leading draw axis from a posterior group."""
        out = {}
        for name, dims in self.param_dims().items():
            da = posterior[name].transpose("chain", "draw", *dims)
            arr = da.to_numpy()
            out[name] = arr.reshape(-1, *arr.shape[2:])
        return out

    # -- simulation ---------------------------------------------------------------
    def simulate(
        self, params: Params, cells: CellTable, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """New rows drawn from the mixture at one point (no draw axes), one
        per row of ``cells`` (whose covariates they share, where the family
        has any): values (N, D) and each row's component (N,)."""
        w = np.asarray(params["w"], dtype=float)
        labels = rng.choice(w.size, size=cells.n_obs, p=w / w.sum())
        return self._simulate_rows(params, labels, rng), labels

    @abc.abstractmethod
    def _simulate_rows(
        self, params: Params, labels: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Values (n, D) of rows from the given components."""

    def fitted_attributes(self, params: Params) -> dict[str, np.ndarray]:
        """The estimator's attributes beyond ``weights_``, ``means_`` and
        ``scales_`` from the (relabelled) draws ``params``, at their
        posterior mean: ``covariances_`` shaped as scikit-learn's
        ``covariance_type`` shapes it ((K, D, D) full, (D, D) tied, (K, D)
        diag, (K,) spherical), ``correlations_`` where the family has
        ``corr``, and ``<name>_`` for each of its own parameters (``nu_``).
        A family with other parameters extends it."""
        cov = self.covariances(params).mean(axis=0)
        shaped = {
            "tied": lambda: cov[0],
            "diag": lambda: np.diagonal(cov, axis1=-2, axis2=-1).copy(),
            "spherical": lambda: cov[:, 0, 0].copy(),
        }.get(self.covariance, lambda: cov)
        out = {"covariances_": shaped()}
        if "corr" in params:
            corr = params["corr"].mean(axis=0)
            out["correlations_"] = corr[0] if self.covariance == "tied" else corr
        if "nu" in params:
            out["nu_"] = params["nu"].mean(axis=0)
        return out

    # -- shapes for plots -----------------------------------------------------
    @abc.abstractmethod
    def covariances(self, params: Params) -> np.ndarray:
        """Component covariance matrices (..., K, D, D) (for Student-t, the
        scale matrices)."""

    @abc.abstractmethod
    def marginal_log_pdf(self, x: np.ndarray, params: Params, d: int) -> np.ndarray:
        """log density of column ``d`` under each component at points ``x``:
        (..., K, len(x)), weights not included."""


def split_means(mu: np.ndarray, layout: Layout) -> dict:
    """The means parameters shared by every program (ordered or free anchor)."""
    k, d = mu.shape
    anchor = layout.anchor
    rest = [j for j in range(d) if j != anchor]
    column = mu[:, anchor]
    return {
        **ordered_parts("mu_anchor", column, layout),
        "mu_anchor_free": np.empty(0) if layout.ordered else column,
        "mu_rest": mu[:, rest].reshape(k, d - 1),
    }


def ordered_parts(name: str, values: np.ndarray, layout: Layout) -> dict:
    """Increasing ``values`` as the programs' ordered parameters: ``name +
    "_ordered"`` (the pivot's value and those above it) and ``name +
    "_below"`` (the pivot's value minus those below it, nearest first); both
    empty when the layout is not ordered.

    Examples
    --------
    >>> parts = ordered_parts("mu", np.array([-2.0, 0.5, 3.0]), Layout(pivot=1))
    >>> parts["mu_ordered"].tolist(), parts["mu_below"].tolist()
    ([0.5, 3.0], [2.5])
    """
    if not layout.ordered:
        return {f"{name}_ordered": np.empty(0), f"{name}_below": np.empty(0)}
    p = layout.pivot
    return {
        f"{name}_ordered": values[p:],
        f"{name}_below": values[p] - values[:p][::-1],
    }


def component_data(
    cells: CellTable, k: int, layout: Layout, priors: Priors, guide: Params
) -> dict:
    """The data entries every program shares: cells, K, ordering, mean and
    weight priors, the generated-quantity switches (off)."""
    d = cells.n_dims
    mu_loc = np.zeros((k, d))
    mu_scale = np.full((k, d), float(priors.mean_scale))
    if priors.guided_scale is not None:
        # Component j of ordered means is the j-th along the anchor: its
        # prior is centred on the j-th centre in that order.
        guide = order_components(guide, layout)
        mu_loc = np.asarray(guide["mu"], dtype=float).reshape(k, d)
        mu_scale = np.full((k, d), float(priors.guided_scale))
    data = cells.to_stan()
    data.update(
        K=int(k),
        anchor=int(layout.anchor) + 1,
        ordered_means=int(bool(layout.ordered)),
        pivot=int(layout.pivot) + 1,
        mu_loc=mu_loc,
        mu_scale=mu_scale,
        alpha=np.full(k, float(priors.concentration)),
        compute_log_lik=0,
        compute_membership=0,
    )
    return data


def check_weights_sum(w: np.ndarray, where: str) -> None:
    """Starting mixing weights must sum to 1 (to rounding), as
    scikit-learn's ``weights_init``; the fix is said.

    Examples
    --------
    >>> check_weights_sum(np.array([0.25, 0.75]), "init")
    >>> try:
    ...     check_weights_sum(np.array([0.9, 0.9]), "init")
    ... except StanmixInputError as err:
    ...     print(err)
    init: 'w' sums to 1.8, not 1; give the mixing weights as proportions (w / sum(w))
    """
    total = float(np.sum(w))
    if abs(total - 1.0) > 1e-6:
        raise StanmixInputError(
            f"{where}: 'w' sums to {total:g}, not 1; give the mixing weights as "
            "proportions (w / sum(w))"
        )


def mixing_init(data: Mapping, init: Mapping) -> dict:
    """A program init with the weights ``w`` in the parameterisation the
    program takes for ``data["alpha"]``: the simplex ``w_simplex`` when every
    concentration is at least 1, else ``log_g = log(w)`` (a sparse mixture;
    see ``log_mixing_weights`` in ``stan/mixture.stanfunctions``). Inits
    without ``w`` (weights that depend on covariates) are returned as given.

    Examples
    --------
    >>> mixing_init({"alpha": [0.01, 0.01]}, {"w": [0.25, 0.75]})["log_g"].round(3)
    array([-1.386, -0.288])
    """
    out = dict(init)
    if "w" not in out:
        return out
    w = np.asarray(out.pop("w"), dtype=float)
    if np.min(data["alpha"]) < 1:
        out["w_simplex"] = np.ones(1)
        out["log_g"] = np.log(np.maximum(w, np.finfo(float).tiny))
    else:
        out["w_simplex"] = w
        out["log_g"] = np.empty(0)
    return out


def order_components(params: Params, layout: Layout) -> Params:
    """The same point with components sorted along the anchor (when ordered).

    Every array whose first non-draw axis has K entries is permuted.
    """
    if not layout.ordered:
        return params
    k = params["w"].shape[-1]
    order = np.argsort(params["mu"][:, layout.anchor], kind="stable")
    out = {}
    for name, arr in params.items():
        out[name] = arr[order] if arr.ndim and arr.shape[0] == k else arr
    return out


def start_array(
    value, name: str, shapes: Sequence[tuple[int, ...]], where: str, note: str = ""
) -> np.ndarray:
    """Entry ``name`` of a user's start dict (``where``) as a float array of
    one of ``shapes``: a flat or transposed array is refused, not
    reshaped, and so is a DataFrame, whose column labels a start would
    not be matched by. ``note`` is added to the shape error.

    Examples
    --------
    >>> start_array([[1.0, 2.0]], "mu", [(1, 2)], "init").shape
    (1, 2)
    >>> try:
    ...     start_array([[1.0], [2.0]], "mu", [(1, 2)], "init")
    ... except StanmixInputError as err:
    ...     print(err)
    init: 'mu' needs shape (1, 2), got (2, 1)
    >>> try:
    ...     start_array(pd.Series([0.3, 0.7], index=[1, 0]), "w", [(2,)], "init")
    ... except StanmixInputError as err:
    ...     print(str(err)[:44])
    init: 'w' is a Series labelled [1, 0], whose
    """
    if hasattr(value, "columns") and hasattr(value, "to_numpy"):
        raise StanmixInputError(
            f"{where}: {name!r} is a DataFrame, whose columns a start is not "
            "matched by; give an array, its columns in X's order"
        )
    if isinstance(value, pd.Series) and not value.index.equals(
        pd.RangeIndex(len(value))
    ):
        raise StanmixInputError(
            f"{where}: {name!r} is a Series labelled {list(value.index)[:6]}, "
            "whose labels a start is not matched by (entries are taken by "
            "position); give its .to_numpy(), in the order you mean"
        )
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        array = None
    if array is None or array.shape not in [tuple(s) for s in shapes]:
        wanted = " or ".join(str(tuple(s)) for s in shapes)
        got = "" if array is None else f", got {array.shape}"
        raise StanmixInputError(f"{where}: {name!r} needs shape {wanted}{got}{note}")
    return array
