"""Mixtures of linear regressions: :class:`RegressionMixture`.

A thin layer over :class:`stanmix.Mixture` with the regression families
(:mod:`stanmix.families.regression`): it reads the predictors and the
response, checks them (before any Stan call), builds the cell table with the
predictors as its covariates, names the coefficients by predictor, and adds
what a regression is asked for: predictions of the response at new
predictors, per component and for the mixture.
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from stanmix import _validation as check
from stanmix import likelihood
from stanmix.advice import row_number_predictors, unstated_limit_piles
from stanmix.cells import MISSING, CellTable
from stanmix.censoring import as_matrix, cell_table, least_precision, row_label
from stanmix.estimator import (
    CENSORING_ARGS,
    Mixture,
    has_feature_names,
    reachable,
    refuse_scalar_data,
    warn_unstated_limits,
)
from stanmix.exceptions import StanmixInputError
from stanmix.families.regression import PREDICTOR, WEIGHT_PREDICTOR
from stanmix.programs import StanInput

__all__ = ["RegressionDesign", "RegressionMixture"]

ERRORS = ("normal", "student_t")
#: Settings of the regression families that the estimator's own arguments set.
_OWN_OPTIONS = ("predictors", "weights_from", "order_by", "slope_scale", "gate_scale")
#: What to do with an infinite value in X (covariates, or the response).
COVARIATE_FIX = (
    "finite values, or drop those rows (only the response may be missing or censored)"
)


#: The variance inflation (1 / (1 - R^2) of a covariate on the others)
#: above which covariates are warned of as nearly dependent: R^2 > 0.999.
NEAR_DEPENDENT = 1000.0

#: A line with fewer of its rows than this off one value of a predictor,
#: and under half the data's share off it, is warned of: its slope on the
#: predictor then rests on those few rows, the prior and the other rows.
FLAT_ROWS = 10

#: The advice for covariates of text: categories are coded as numbers.
CATEGORY_FIX = (
    "a covariate is a number: code categories as 0/1 columns, e.g. "
    "pd.get_dummies(X, columns={columns!r}, drop_first=True), or leave them out "
    "of predictors (a response is a number too)"
)


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


#: At most this many draws go into predictions (evenly spaced).
MAX_PREDICT_DRAWS = 4000
#: Predictive intervals use at least this many new responses per row (each
#: posterior draw repeated as needed, e.g. for a posterior mode).
MIN_PREDICTIVE = 1000


@dataclass(frozen=True)
class RegressionDesign:
    """Which columns a fitted :class:`RegressionMixture` uses.

    Attributes
    ----------
    response : str
        The response's name.
    predictors : tuple of str
        The regression's predictors, in order (the ``predictor`` dim).
    weights_from : tuple of str
        The covariates of the mixing weights (the ``weight_predictor`` dim);
        empty for constant weights.
    covariates : tuple of str
        Every covariate column (the predictors and the weights'
        covariates), in X's order, as the cell table and a Stan data file's
        ``X`` hold them.
    array_columns : int or None
        For a fit to a numpy array, its number of columns besides the
        response (read by position, so new arrays may have no more); None
        for a DataFrame.
    """

    response: str
    predictors: tuple[str, ...]
    weights_from: tuple[str, ...]
    covariates: tuple[str, ...]
    array_columns: int | None = None


def _response_renamed(spec, fitted: str, named: str):
    """A censoring argument keyed by the fitted response's name, keyed by
    the name the new response goes by (``"y"`` for an array) where it does
    not name that already: new data's limits may name the response either
    way."""
    if fitted == named:
        return spec
    if isinstance(spec, Mapping):
        keys = [str(k) for k in spec]
        if fitted in keys and named not in keys:
            return {named if str(k) == fitted else k: v for k, v in spec.items()}
    if isinstance(spec, pd.DataFrame):
        labels = [str(c) for c in spec.columns]
        if fitted in labels and named not in labels:
            return spec.rename(columns=lambda c: named if str(c) == fitted else c)
    return spec


@dataclass(frozen=True, eq=False)
class _Prepared:
    """Response and covariates of one data set, checked."""

    response: pd.DataFrame | CellTable  # one column
    covariates: np.ndarray  # (N, C)
    index: pd.Index


def _absent_message(
    absent: list[str],
    design: RegressionDesign,
    array: bool,
    unnamed_run: bool = False,
    on_array: bool = False,
) -> str:
    """The error for new data without some fitted covariate columns
    (``unnamed_run``: the model was read from a CmdStan run without the
    covariates' names; ``on_array``: it was fitted on an array, whose
    columns are named by position)."""
    names = ", ".join(design.covariates)
    fix = (
        "; an array's columns are named x0, x1, ... by position, as in fit: "
        "give it the fit's column layout, or name its columns, e.g. "
        f"pd.DataFrame(X, columns={list(design.covariates)!r})"
        if array
        else ""
    )
    if on_array and not array:
        fix = (
            "; the fitted data were an array, whose columns are named x0, x1, "
            "... by position: pass X.to_numpy() with the fit's column layout, "
            "or name X's columns as those"
        )
    if unnamed_run and not array:
        fix = (
            "; the model was read from a CmdStan run without the covariates' "
            "names: give from_cmdstan_csv columns=[response, *covariates] to "
            "match new data by name, or pass X as an array in the data file's "
            "column order"
        )
    return (
        f"X lacks the fitted covariate column(s) {', '.join(map(repr, absent))} "
        f"(fitted on {names}){fix}"
    )


def _coded(X, response):
    """``X`` with its covariate columns of booleans (dummy codes, as
    pd.get_dummies gives them) as 0.0 and 1.0; the response (a column
    named ``response``) and anything but a DataFrame as given.

    >>> _coded(pd.DataFrame({"b": [True, False], "y": [1.0, 2.0]}), "y").dtypes.tolist()
    [dtype('float64'), dtype('float64')]
    """
    if not isinstance(X, pd.DataFrame) or X.columns.has_duplicates:
        return X  # as_matrix names the repeated columns
    coded = [
        c
        for c in X.columns
        if str(c) != str(response) and pd.api.types.is_bool_dtype(X[c].dtype)
    ]
    return X.astype({c: "float64" for c in coded}) if coded else X


def _refuse_wider_array(width: int, design: RegressionDesign) -> None:
    """Refuse new data in an array of more columns (``width``, besides the
    response) than the fitted array's: its columns are read by position, so
    an extra one (a sample id in front, say) would be read as covariates."""
    fitted = design.array_columns
    if fitted is not None and width > fitted:
        raise StanmixInputError(
            f"X has {width} columns besides the response, but the model was "
            f"fitted on an array of {fitted}, whose columns are read by position "
            f"(x0, x1, ...; fitted on {', '.join(design.covariates)}): give X "
            "the fit's column layout, without extra columns"
        )


def _new_response(X, y, response) -> dict:
    """``y`` and ``response`` as keywords of ``new_cells``, where given."""
    if X is None and (y is not None or response is not None):
        raise StanmixInputError(
            "y and response give the response of new data X: pass X too, or "
            "leave them out for the fitted data"
        )
    return {
        key: value
        for key, value in (("y", y), ("response", response))
        if value is not None
    }


def _refuse_a_row(X, design: RegressionDesign) -> None:
    """Refuse one row of new data given as a Series (read as a column)."""
    if isinstance(X, pd.Series) and set(design.covariates) <= {str(i) for i in X.index}:
        raise StanmixInputError(
            "X is a Series indexed by the fitted covariates, one row; a Series "
            "is read as one column: pass one row as a one-row DataFrame, "
            "X.iloc[[i]]"
        )


class RegressionMixture(Mixture):
    """Bayesian mixture of linear regressions, fitted with Stan.

    Each observation's response comes from one of K regressions,

        y_n ~ sum_k w_k(z_n) f(y_n | intercept_k + x_n beta_k, sigma_k),

    with normal or Student-t errors ``f``, constant mixing weights or
    weights that depend on covariates z_n through a multinomial logit (a
    mixture of experts). The response may be censored (left, right or
    interval, per observation) or missing; the predictors must be complete.

    Parameters
    ----------
    n_components : int
        Number of regressions K.
    predictors : sequence of str, optional
        The columns of ``X`` that enter the regression (names, or for a
        numpy array ``"x0"``, ``"x1"``, ...). By default every column of
        ``X`` except the response and the columns named only in
        ``weights_from``.
    weights_from : sequence of str, optional
        Columns of ``X`` on which the mixing weights depend (multinomial
        logit, component 0's coefficients fixed at 0: the others are log-odds
        against it). A column may be in both lists. By default the weights
        are constant (Dirichlet prior).
    errors : {"normal", "student_t"}
        The error distribution within a component; ``"student_t"`` has one
        degrees-of-freedom parameter ``nu`` per component (gamma(2, 0.05)
        prior on nu >= 1, ``family_options={"nu_shape": ..., "nu_rate":
        ...}``), whose heavy tails absorb outlying responses.
    order_by : str
        What identifies the components: ``"intercept"`` (default) orders the
        lines' values at the predictors' centre (their means over the fitted
        rows), ``mu``; a predictor's name orders the slopes of that
        predictor (an integer label names it as in ``predictors``).
    ordered : bool
        ``False`` fits the plain, label-switching model; stanmix then
        relabels the draws (``order_by`` applies only when ``True``).
    engine, standardize, relabel, hdi_prob
        As for :class:`stanmix.Mixture`. With ``standardize`` (default) the
        response and each covariate are fitted as (value - mean) / sd, and
        results are reported in the data's units. The priors below are on
        the fitted scale: with ``standardize=False`` their centres and
        scales are in the data's own units (a mean prior centred at 0 and
        3 wide, say), so set them to suit the data.
    prior_mean_scale : float
        Prior sd of each line's value at the predictors' centre (normal,
        centred at 0 on the fitted scale: the response's mean when
        standardized), standardized units [3].
    prior_slope_scale : float
        Prior sd of each slope (normal, centred at 0), standardized units
        (response sd per predictor sd) [2.5].
    prior_scale_median, prior_scale_log_sd : float
        Lognormal prior on each error scale: median and sd of its log
        (standardized units) [0.5, 1].
    prior_concentration : float
        Dirichlet concentration of constant weights [3]; refused other
        than at its default with ``weights_from``, which it does not act on.
    prior_gate_scale : float
        Prior sd (normal, centred at 0) of the weights' log-odds at the
        covariates' centre and of their coefficients (per covariate sd)
        [2.5]; refused other than at its default without ``weights_from``.
    family_options : dict, optional
        ``{"nu_shape": ..., "nu_rate": ...}`` for Student-t errors; the only
        keys it accepts (none with normal errors). The regression's other
        settings are the arguments above.

    Attributes
    ----------
    idata_ : arviz.InferenceData
        ``posterior`` with ``intercept`` (component), ``beta`` (component,
        predictor), ``sigma``, ``mu`` (each line at the predictors' centre),
        ``w`` (weights; at the covariates' centre with ``weights_from``),
        ``nu`` (Student-t), ``gamma0`` and ``gamma`` (component,
        weight_predictor) with ``weights_from``; ``log_likelihood`` (draws
        only; the rows with a response: a row without one adds nothing to
        ``az.loo``, so ArviZ functions that pair it with
        ``observed_data``, such as ``az.loo_pit``, need
        ``idata_.sel(obs=idata_.log_likelihood.obs)``), ``observed_data``
        (the response, every row) and ``constant_data`` (the covariates
        ``X`` and the response cells' ``cell_kind``, ``lower`` and
        ``upper``).
    intercept_, coef_ : ndarray
        Posterior means of the intercepts (K,) and slopes (K, P).
    weights_, scales_, means_ : ndarray
        Posterior means of ``w``, ``sigma`` and ``mu`` (K,).
    weight_intercept_, weight_coef_ : ndarray
        Posterior means of ``gamma0`` (K,) and ``gamma`` (K, Q), with
        ``weights_from``.
    design_ : RegressionDesign
        The response, predictors and weights' covariates that were fitted.

    Examples
    --------
    >>> import numpy as np, pandas as pd, stanmix as sm
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 10, 200)
    >>> group = rng.random(200) < 0.5
    >>> y = np.where(group, 1 + 2 * x, 15 - x) + rng.normal(0, 1, 200)
    >>> df = pd.DataFrame({"dose": x, "response": y})
    >>> model = sm.RegressionMixture(2, engine="stanli").fit(
    ...     df, response="response", method="optimize", seed=1)
    >>> np.round(model.coef_[:, 0], 1).tolist()    # ordered at the mean dose
    [-1.0, 2.0]
    >>> np.round(model.intercept_, 1).tolist()
    [15.3, 0.9]
    >>> new = pd.DataFrame({"dose": [5.0]})
    >>> model.predict_response(new)["mean"].round(1).tolist()
    [10.2, 11.0, 10.6]
    """

    _family_from_data = True

    def __init__(
        self,
        n_components: int = 2,
        *,
        predictors: Sequence[str] | None = None,
        weights_from: Sequence[str] | None = None,
        errors: str = "normal",
        order_by: str = "intercept",
        ordered: bool = True,
        engine: str = "auto",
        standardize: bool = True,
        relabel: str | None = "auto",
        prior_mean_scale: float = 3.0,
        prior_slope_scale: float = 2.5,
        prior_scale_median: float = 0.5,
        prior_scale_log_sd: float = 1.0,
        prior_concentration: float = 3.0,
        prior_gate_scale: float = 2.5,
        family_options: dict | None = None,
        hdi_prob: float = 0.94,
    ) -> None:
        super().__init__(
            n_components,
            ordered=ordered,
            engine=engine,
            standardize=standardize,
            relabel=relabel,
            prior_mean_scale=prior_mean_scale,
            prior_scale_median=prior_scale_median,
            prior_scale_log_sd=prior_scale_log_sd,
            prior_concentration=prior_concentration,
            family_options=family_options,
            hdi_prob=hdi_prob,
        )
        self.predictors = predictors
        self.weights_from = weights_from
        self.errors = errors
        self.order_by = order_by
        self.prior_slope_scale = prior_slope_scale
        self.prior_gate_scale = prior_gate_scale

    # -- what the family is -----------------------------------------------------
    def _family_spec(self):
        design = self._pending_design()
        covariates = design.covariates
        order = None
        if self._order_name() != "intercept":
            order = design.predictors.index(self._order_name())
        options = {
            "predictors": tuple(covariates.index(c) for c in design.predictors),
            "weights_from": tuple(covariates.index(c) for c in design.weights_from),
            "order_by": order,
            "slope_scale": self.prior_slope_scale,
            "gate_scale": self.prior_gate_scale,
            **dict(self.family_options or {}),
        }
        return f"{self.errors}_regression", "diag", options

    def _layout_spec(self):
        return bool(self.ordered), 0

    def _joint_rows(self) -> bool:
        return True  # each (x, y) pair from one line

    def _pending_design(self) -> RegressionDesign:
        design = getattr(self, "_design", None)
        if design is None:
            raise StanmixInputError(
                "RegressionMixture fits from fit(X, y) or fit(X, response=...)"
            )
        return design

    # -- reading the data -------------------------------------------------------
    def _order_name(self) -> str:
        """``order_by`` as a column name: an integer label (of a DataFrame
        whose columns are labelled by integers) names its column as it does
        in ``predictors``, which are matched to X's columns as strings."""
        return str(self.order_by) if _is_int(self.order_by) else self.order_by

    def _check_settings_of_design(self) -> None:
        check.one_of("errors", self.errors, ERRORS)
        if not isinstance(self._order_name(), str):
            raise StanmixInputError(
                f"order_by must be 'intercept' or a predictor's name, got "
                f"{self.order_by!r}"
            )
        if not self.ordered and self._order_name() != "intercept":
            raise StanmixInputError(
                f"order_by={self.order_by!r} orders the lines only with "
                "ordered=True; with ordered=False the draws are relabelled "
                "instead (the relabel setting): leave order_by out, or set "
                "ordered=True"
            )
        options = self.family_options
        if options is not None and not isinstance(options, dict):
            raise StanmixInputError(
                "family_options must be a dict, e.g. {'nu_shape': 2.0}, got "
                f"{type(options).__name__}"
            )
        clash = [key for key in (options or {}) if key in _OWN_OPTIONS]
        if clash:
            raise StanmixInputError(
                f"family_options {clash} are set by RegressionMixture's own "
                "arguments (predictors, weights_from, order_by, prior_slope_scale, "
                "prior_gate_scale); give them there"
            )
        self._check_family_option_keys(options or {})
        for name in ("prior_slope_scale", "prior_gate_scale", "prior_concentration"):
            check.number(name, getattr(self, name), positive=True)
        # Each kind of weights reads one prior; the other's would change nothing.
        given = self.weights_from
        if given is not None and np.size(np.asarray(given, dtype=object)):
            unused = "prior_concentration"
            why = (
                "the Dirichlet prior of constant weights, but weights_from makes "
                "them a multinomial logit of covariates, whose prior is "
                "prior_gate_scale"
            )
        else:
            unused = "prior_gate_scale"
            why = (
                "the prior of the weights' log-odds on covariates, which only "
                "weights_from gives (constant weights have a Dirichlet prior, "
                "prior_concentration)"
            )
        default = inspect.signature(type(self).__init__).parameters[unused].default
        value = getattr(self, unused)
        if value != default:
            raise StanmixInputError(
                f"{unused}={value!r} is {why}, so it would change nothing; leave it out"
            )

    def _check_family_option_keys(self, options: dict) -> None:
        """Refuse ``family_options`` keys that the family for ``errors``
        does not take, listing the ones it does take (its options less those
        set by the estimator's own arguments) and saying where the others go.

        Raises
        ------
        StanmixInputError
            Naming the unknown key(s), the keys ``family_options`` accepts
            with these ``errors`` (``nu_shape``, ``nu_rate`` for Student-t
            errors; none for normal errors) and the constructor arguments
            that set the rest.
        """
        from stanmix.families import FAMILIES

        def accepted(errors: str) -> list[str]:
            family = FAMILIES[(f"{errors}_regression", "diag")]
            return [key for key in family.options if key not in _OWN_OPTIONS]

        valid = accepted(self.errors)
        unknown = [key for key in options if key not in valid]
        if not unknown:
            return
        hint = ""
        elsewhere = {
            errors: [key for key in unknown if key in accepted(errors)]
            for errors in ERRORS
            if errors != self.errors
        }
        for errors, keys in elsewhere.items():
            if keys:
                verb = "needs" if len(keys) == 1 else "need"
                hint += f"; {', '.join(map(repr, keys))} {verb} errors={errors!r}"
        hint += (
            "; the other settings of the regression are RegressionMixture's own "
            "arguments (predictors, weights_from, order_by, prior_slope_scale, "
            "prior_gate_scale)"
        )
        check.known_keys(
            f"family_options for RegressionMixture(errors={self.errors!r}):",
            options,
            valid,
            hint,
        )

    def _names(
        self, value, what: str, columns: Sequence[str], response: str
    ) -> tuple[str, ...] | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = [value]
        try:
            names = tuple(str(v) for v in value)
        except TypeError:
            raise StanmixInputError(
                f"{what} must be a list of column names, got {value!r}"
            ) from None
        if response in names:
            raise StanmixInputError(
                f"{what} names the response {response!r}; leave it out (the "
                "response is modelled, not a covariate)"
            )
        unknown = [n for n in names if n not in columns]
        if unknown:
            raise StanmixInputError(
                f"{what} names column(s) {', '.join(map(repr, unknown))} that are not "
                f"in X (columns: {', '.join(columns)})"
            )
        if len(set(names)) != len(names):
            raise StanmixInputError(f"{what} names a column twice: {list(names)}")
        return names

    def _split(self, X, y, response) -> tuple[pd.DataFrame, pd.DataFrame, pd.Index]:
        """X's covariate columns and the response, as frames on one index."""
        values, columns, index = as_matrix(
            _coded(X, response),
            name="X",
            infinite_fix=COVARIATE_FIX,
            text_fix=CATEGORY_FIX,
        )
        frame = pd.DataFrame(values, columns=list(columns), index=index)
        if (y is None) == (response is None):
            raise StanmixInputError(
                "give the response either as y (an array or Series) or as "
                "response= (the name of a column of X), not both or neither"
            )
        if response is not None:
            if isinstance(response, (int, np.integer)) and not isinstance(
                response, bool
            ):
                if not 0 <= response < len(columns):
                    raise StanmixInputError(
                        f"response={response} is not a column position of X "
                        f"(0..{len(columns) - 1})"
                    )
                response = columns[int(response)]
            if not isinstance(response, str) or response not in columns:
                raise StanmixInputError(
                    f"response={response!r} is not a column of X (columns: "
                    f"{', '.join(columns)})"
                )
            given = (
                X[[c for c in X.columns if str(c) == response]]
                if isinstance(X, pd.DataFrame)
                else X
            )
            # at the precision given, to meet limits as Mixture's columns do
            resp = frame[[response]].astype(least_precision(given))
            return frame.drop(columns=[response]), resp, index
        name = str(y.name) if isinstance(y, pd.Series) and y.name is not None else "y"
        y_values, y_columns, y_index = as_matrix(y, name="y")
        if y_values.shape[1] != 1:
            raise StanmixInputError(
                f"y must be one column (the response), got shape {y_values.shape}; "
                "a mixture of regressions models one response"
            )
        if isinstance(y, pd.DataFrame):
            name = y_columns[0]
        if y_values.shape[0] != len(index):
            raise StanmixInputError(
                f"y has {y_values.shape[0]} values but X has {len(index)} rows; "
                "give one response per row of X"
            )
        pandas = (pd.Series, pd.DataFrame)
        if isinstance(y, pandas) and isinstance(X, pandas):
            if not y_index.equals(index):
                raise StanmixInputError(
                    "y's index does not match X's index, so their rows would be "
                    "paired by position; reindex y like X (y.loc[X.index]) or pass "
                    "y.to_numpy() to pair them by position"
                )
        if name in columns:
            raise StanmixInputError(
                f"the response is named {name!r}, like a column of X; rename one, "
                "or give the response with response= instead"
            )
        resp = pd.DataFrame({name: y_values[:, 0]}, index=index)
        return frame, resp.astype(least_precision(y)), index

    def _resolve(self, covariates: pd.DataFrame, response: str) -> RegressionDesign:
        columns = [str(c) for c in covariates.columns]
        gate = self._names(self.weights_from, "weights_from", columns, response) or ()
        pred = self._names(self.predictors, "predictors", columns, response)
        alone = (
            "; for a mixture of the response alone (no predictors), fit "
            "stanmix.NormalMixture to the response"
        )
        if pred == ():
            raise StanmixInputError(
                "predictors is empty; a mixture of regressions needs at least one "
                f"predictor column: name one (columns: {', '.join(columns) or 'none'}"
                "), or leave predictors out to use every column of X but the "
                f"response{alone}"
            )
        if pred is None:
            pred = tuple(c for c in columns if c not in gate)
            if not pred:
                raise StanmixInputError(
                    "X has no predictor columns (besides the response and the "
                    "weights' covariates); give at least one predictor column"
                    f"{alone}"
                )
        order_by = self._order_name()
        if order_by == "intercept" and "intercept" in pred:
            raise StanmixInputError(
                "a predictor is named 'intercept', which order_by='intercept' "
                "(the default: the lines ordered by their values at the "
                "predictors' centre) would not mean: rename the column"
            )
        if order_by != "intercept" and order_by not in pred:
            raise StanmixInputError(
                f"order_by={self.order_by!r} is neither 'intercept' nor a predictor "
                f"({', '.join(pred) or 'none'})"
            )
        # in X's order: a Stan data file's X holds them so, and its CSV reads
        # back by names given in the data's order
        used = tuple(c for c in columns if c in pred or c in gate)
        return RegressionDesign(response, pred, gate, used)

    def _checked_covariates(
        self, frame: pd.DataFrame, design: RegressionDesign, index: pd.Index
    ) -> np.ndarray:
        values = frame[list(design.covariates)].to_numpy(dtype=float)
        missing = np.isnan(values)
        if missing.any():
            rows, cols = np.nonzero(missing)
            shown = ", ".join(
                f"row {row_label(index[r])} ({design.covariates[c]!r})"
                for r, c in zip(rows[:5], cols[:5], strict=True)
            )
            more = f" and {rows.size - 5} more" if rows.size > 5 else ""
            raise StanmixInputError(
                f"missing covariate values at {shown}{more}; predictors and the "
                "weights' covariates must be complete: drop those rows or fill "
                "them in (only the response may be missing or censored)"
            )
        return values

    def _read_columns(self, X, response, *, fitting: bool):
        """A DataFrame ``X`` narrowed to the columns the model reads, so that
        others, text say, are ignored: for a fit, the named predictors and
        weights' covariates and the response (``X`` itself when predictors
        are not named, or some named column is absent: the checks then name
        it); for new data, those of the fitted ones present (and the
        response), the checks naming any absent."""
        if not isinstance(X, pd.DataFrame):
            return X
        if fitting:
            groups = [self.predictors, self.weights_from or ()]
            try:
                wanted = [
                    str(v)
                    for group in groups
                    for v in ([group] if isinstance(group, str) else group)
                ]
            except TypeError:
                return X
            if self.predictors is None or not wanted:
                return X
        else:
            wanted = list(self.design_.covariates)
            names = {str(c) for c in X.columns}
            absent = [c for c in wanted if c not in names]
            if absent:
                raise self._absent_error(absent, array=False)
        if isinstance(response, str):
            wanted.append(response)
        keep = [c for c in X.columns if str(c) in wanted]
        if fitting and len(keep) != len(set(wanted)):
            return X
        return X[keep]

    def _prepare(self, X, y, response, *, fitting: bool) -> _Prepared:
        if isinstance(X, CellTable):
            return self._prepare_table(X, y, response, fitting=fitting)
        if (
            isinstance(X, pd.DataFrame)
            and isinstance(response, (int, np.integer))
            and not isinstance(response, bool)
        ):
            labels = list(X.columns)
            if any(_is_int(c) for c in labels):
                # integer labels: the int names one, as X[response] would
                if response not in labels:
                    raise StanmixInputError(
                        f"response={response} is not a column of X (columns: "
                        f"{', '.join(map(str, labels))}); X's columns are labelled "
                        "by integers, so response names a label, not a position"
                    )
                response = str(response)
            elif 0 <= response < X.shape[1]:
                # a position in X as given, before X is narrowed to what is read
                response = str(X.columns[int(response)])
        given_array = not isinstance(X, (pd.DataFrame, pd.Series))
        if not fitting:
            _refuse_a_row(X, self.design_)
        X = self._read_columns(X, response, fitting=fitting)
        covariates, resp, index = self._split(X, y, response)
        width = covariates.shape[1]  # the columns besides the response
        if fitting:
            design = self._resolve(covariates, str(resp.columns[0]))
            if given_array:
                design = replace(design, array_columns=width)
            values = self._checked_covariates(covariates, design, index)
            self._design = design
        else:
            design = self.design_
            if given_array:
                _refuse_wider_array(width, design)
            absent = [c for c in design.covariates if c not in covariates.columns]
            if absent:
                raise self._absent_error(absent, array=given_array)
            values = self._checked_covariates(covariates, design, index)
        return _Prepared(resp, values, index)

    def _prepare_table(self, cells: CellTable, y, response, *, fitting: bool):
        """A cell table of the response (its one column) and the covariates,
        as :meth:`new_cells` returns, read as the data (cross-validation's
        folds are such tables' rows)."""
        if y is not None or response is not None:
            raise StanmixInputError(
                "X is a CellTable, which holds the response (its one column); "
                "drop y and response"
            )
        if cells.covariates is None or cells.n_dims != 1:
            raise StanmixInputError(
                "a CellTable read by a RegressionMixture holds the response as "
                f"its one column and the covariates (as new_cells returns); this "
                f"one has {cells.n_dims} column(s) and "
                f"{cells.n_covariates} covariate(s)"
            )
        index = pd.RangeIndex(cells.n_obs)
        frame = pd.DataFrame(
            cells.covariates, columns=list(cells.covariate_names), index=index
        )
        if fitting:
            design = self._resolve(frame, str(cells.columns[0]))
            self._design = design
        else:
            design = self.design_
            absent = [c for c in design.covariates if c not in frame.columns]
            if absent:
                raise self._absent_error(absent, array=False)
        values = self._checked_covariates(frame, design, index)
        return _Prepared(cells, values, index)

    def _read(self, X, censoring) -> tuple[CellTable, pd.Index]:
        if not isinstance(X, _Prepared):
            raise StanmixInputError(
                "RegressionMixture reads its data in fit(X, y) or fit(X, response=...)"
            )
        design = self._pending_design()
        for name, spec in censoring.items():
            named = (
                list(spec)
                if isinstance(spec, Mapping)
                else list(spec.columns)
                if isinstance(spec, pd.DataFrame)
                else []
            )
            covariates = [c for c in named if str(c) in design.covariates]
            if covariates:
                raise StanmixInputError(
                    f"{name} names {', '.join(map(repr, covariates))}, a "
                    f"covariate: only the response ({design.response!r}) can be "
                    "censored; covariates are taken as exact"
                )
        # Its response may have come as y, apart from X: no code on X['y'].
        cells, _ = cell_table(
            X.response, allow_empty_rows=True, code=False, **censoring
        )
        return cells.with_covariates(X.covariates, design.covariates), X.index

    def _off_scale(self, own, priors, cells: CellTable) -> list[str]:
        """As :meth:`Mixture._off_scale`, and slopes the prior would hold
        far below what the data's units make typical (a response sd per
        predictor sd beyond three prior sds, prior_slope_scale)."""
        said = super()._off_scale(own, priors, cells)
        design = self._pending_design()
        # Two-valued predictors (dummies) are left out: their sd, small
        # for a rare level, says nothing of a typical slope.
        typical = {
            name: float(own.scale[0] / own.covariate_scale[j])
            for j, name in enumerate(cells.covariate_names or ())
            if name in design.predictors and np.unique(cells.covariates[:, j]).size > 2
        }
        off = {n: v for n, v in typical.items() if v > 3 * self.prior_slope_scale}
        if off:
            listed = ", ".join(f"{v:.3g} for {n!r}" for n, v in off.items())
            said.append(
                "standardize=False fits in the data's units, but one sd of "
                f"{design.response!r} per sd of a predictor is a slope of "
                f"{listed}, beyond three prior sds of the slopes "
                f"(prior_slope_scale={self.prior_slope_scale:g}): slopes that "
                "steep would be shrunk strongly toward 0. Fit with "
                "standardize=True (the default), or set prior_slope_scale in "
                "the data's units."
            )
        return said

    def _check_fit_data(self, cells: CellTable) -> None:
        """The response must say something, and the covariates must be told
        apart, on the rows that have a response (observed or censored): a
        row whose response is missing adds nothing to the likelihood."""
        design = self._pending_design()
        name = design.response
        kind = cells.kind[:, 0]
        known = kind != MISSING
        measured = int(cells.measured[:, 0].sum())
        if measured == 0:
            what = "censored at a limit or missing" if known.any() else "missing"
            raise StanmixInputError(
                f"the response {name!r} has no measured value (every one is "
                f"{what}): the lines would rest on their priors; give at least "
                "some measured responses or intervals"
            )
        rows = int(known.sum())
        if rows == 1:
            raise StanmixInputError(
                f"the response {name!r} is known on one row only (of "
                f"{cells.n_obs}): one point cannot place a line; give more "
                "responses"
            )
        k = self.n_components
        if k > rows:
            raise StanmixInputError(
                f"n_components={k} is larger than the number of rows with a "
                f"response ({rows} of {cells.n_obs}; a row whose response is "
                f"missing says nothing about the lines); use at most {rows} "
                "components"
            )
        points = cells.point_values()[known, 0]
        if np.ptp(points) == 0:
            raise StanmixInputError(
                f"the response {name!r} has the same value ({points[0]:g}) on "
                f"every row with a response ({rows} of {cells.n_obs}): there is "
                "no spread for the lines to explain; check the response column"
            )
        values = cells.covariates[known]
        partial = f" on the {rows} rows with a response" if rows < cells.n_obs else ""
        for j, column in enumerate(design.covariates):
            if np.ptp(values[:, j]) == 0:
                raise StanmixInputError(
                    f"covariate {column!r} is constant{partial} (every value is "
                    f"{values[0, j]:g}): its coefficient cannot be told apart "
                    "from the intercept; drop it"
                )
        for role, names in (
            ("predictors", design.predictors),
            ("weights' covariates", design.weights_from),
        ):
            _check_independent(values, design.covariates, names, role, partial)
        for said in [  # the response's piles, the predictors' row numbers
            *unstated_limit_piles(cells),
            *row_number_predictors(cells, design.predictors),
        ]:
            warnings.warn(said, UserWarning, stacklevel=check.caller_level())

    # -- fitting ------------------------------------------------------------------
    def fit(self, X, y=None, *, response: str | int | None = None, **kwargs):
        """Fit the mixture of regressions to predictors ``X`` and a response.

        Parameters
        ----------
        X : DataFrame or array-like
            The predictors (and the weights' covariates, and the response
            when ``response`` names it), one row per observation, complete.
            A numpy array's columns are named ``"x0"``, ``"x1"``, ... Or a
            :class:`~stanmix.cells.CellTable` holding the response (its one
            column, with its censoring) and the covariates, as
            :meth:`new_cells` returns.
        y : array-like or Series, optional
            The response, one value per row of ``X`` (NaN: missing). A
            Series must have X's index.
        response : str or int, optional
            Instead of ``y``: the column of ``X`` that is the response.
        **kwargs
            As for :meth:`stanmix.Mixture.fit`: ``method``, ``seed``,
            ``chains``, ``warmup``, ``draws``, ``init`` (values in the data's
            units: ``{"intercept": (K,), "beta": (K, P), "sigma": (K,)}``,
            plus ``"w"``, ``"nu"``, ``"gamma0"``, ``"gamma"`` optionally),
            engine options, and the response's censoring: ``lower_limit``,
            ``upper_limit`` (a number, ``{response: number}`` or one value per
            row), ``censored`` (a boolean per row) and ``interval``
            (``(lows, highs)``: every row's lower bound, then every row's
            upper bound; per-row pairs are ``tuple(zip(*pairs))``).

        Returns
        -------
        self

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(0, 10, 200)
        >>> y = np.where(np.arange(200) < 100, 1 + 2 * x, 20 - x)
        >>> y = y + rng.normal(0, 0.5, 200)
        >>> model = sm.RegressionMixture(2, engine="stanli").fit(
        ...     x[:, None], y, method="optimize", seed=1)
        >>> np.round(model.coef_[:, 0], 1).tolist()  # ordered at the mean x
        [2.0, -1.0]
        >>> np.round(model.intercept_, 1).tolist()
        [1.0, 20.1]
        """
        self._check_settings_of_design()
        self._named_covariates = has_feature_names(X)
        fitted = getattr(self, "_design", None)
        self._design = None
        try:
            prepared = self._prepare(X, y, response, fitting=True)
            return super().fit(prepared, **kwargs)
        except BaseException:
            self._design = fitted  # a refused fit leaves the last one whole
            raise

    def stan_input(
        self,
        X,
        y=None,
        *,
        response: str | int | None = None,
        seed: int | None = None,
        lower_limit=None,
        upper_limit=None,
        censored=None,
        interval=None,
    ) -> StanInput:
        """``regression.stan`` with the data and the first start :meth:`fit`
        gives the engine, to run it directly (CmdStan) and read the run back
        with :func:`stanmix.from_cmdstan_csv`; as
        :meth:`stanmix.Mixture.stan_input`, with ``X``, ``y`` and
        ``response`` as for :meth:`fit`. The estimator is not changed.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(0, 10, 200)
        >>> y = np.where(np.arange(200) < 100, 1 + 2 * x, 20 - x)
        >>> y = y + rng.normal(0, 0.5, 200)
        >>> run = sm.RegressionMixture(2).stan_input(x[:, None], y, seed=1)
        >>> run.program.name, run.data["P"], "stanmix_covariate_scale" in run.data
        ('regression.stan', 1, True)
        """
        self._check_settings_of_design()
        fitted = getattr(self, "_design", None)
        try:
            prepared = self._prepare(X, y, response, fitting=True)
            return super().stan_input(
                prepared,
                seed=seed,
                lower_limit=lower_limit,
                upper_limit=upper_limit,
                censored=censored,
                interval=interval,
            )
        finally:
            self._design = fitted

    def _refuse_data(self, X, *, response: str | int | None = None, **censoring):
        """As :meth:`stanmix.Mixture._refuse_data`, for :meth:`fit`'s ``X``
        and ``response``; the estimator is not changed."""
        self._check_settings_of_design()
        fitted = getattr(self, "_design", None)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                prepared = self._prepare(X, None, response, fitting=True)
            super()._refuse_data(prepared, **censoring)
        finally:
            self._design = fitted

    def _finish(self, result, log_likelihood, relabel, map_probs) -> None:
        self.design_ = self._pending_design()
        super()._finish(result, log_likelihood, relabel, map_probs)
        known = self.cells_.kind[:, 0] != MISSING
        if "log_likelihood" in self.idata_.groups() and not known.all():
            # a row without a response has likelihood 1 under every draw: left
            # in, it would be an all-zero column that PSIS-LOO cannot weigh
            self.idata_.isel(obs=known, groups="log_likelihood", inplace=True)
        if self.fitted_components_ > 1:
            self._warn_flat_predictors(map_probs)
        # The features are the covariates read from X, not the response.
        self.n_features_in_ = len(self.design_.covariates)
        self.__dict__.pop("feature_names_in_", None)  # set for the response
        if self._named_covariates:
            self.feature_names_in_ = np.asarray(self.design_.covariates, dtype=object)

    def _warn_flat_predictors(self, map_probs) -> None:
        """Warn of a predictor at one value (within 1e-3 of its sd) on all
        but a few of the rows a line takes (fewer than :data:`FLAT_ROWS`,
        and under half the data's share; each row to its most probable
        line, at least five): those rows say little of that
        line's slope on it, which the prior and the rows the line does not
        take then set (a steep slope can push them out), so the line away
        from that value rests on little evidence."""
        probs = (
            map_probs
            if map_probs is not None and self.ordered
            else self.predict_proba_fitted()
        )
        known = self.cells_.kind[:, 0] != MISSING
        labels = probs.argmax(axis=1)
        names = list(self.design_.predictors)
        x = self.cells_.covariates[:, list(self.family_.predictors)]
        spread = x[known].std(axis=0)
        found = []
        for k in range(self.fitted_components_):
            rows = known & (labels == k)
            if rows.sum() < 5:
                continue
            for j, name in enumerate(names):
                if spread[j] == 0:
                    continue
                centre = float(np.median(x[rows, j]))
                near = np.abs(x[known, j] - centre) <= 1e-3 * spread[j]
                at = np.abs(x[rows, j] - centre) <= 1e-3 * spread[j]
                off = int((~at).sum())
                # Few rows of the line off the value, far fewer than the
                # data's share: a rare dummy is at 0 on most of every line.
                if off < FLAT_ROWS and 1 - at.mean() < 0.5 * (1 - near.mean()):
                    found.append((k, name, centre, float(at.mean())))
        if found:
            listed = "; ".join(
                f"{name!r} on line {k}'s rows ({share:.0%} of them at {value:.3g})"
                for k, name, value, share in found
            )
            warnings.warn(
                f"a predictor is constant on most of the rows a line takes: "
                f"{listed}. Those rows say little of that line's slope on it, "
                "which the prior and the other lines' rows set instead (a steep "
                "slope pushes them out): read beta there, and that line away "
                "from that value, with care, or leave the predictor out of "
                "that line's model (fit the rows apart).",
                UserWarning,
                stacklevel=check.caller_level(),
            )

    def _ordering(self, params):
        """The lines are ordered by their value at the predictors' centre
        (``order_by="intercept"``) or by a predictor's slope."""
        predictors = list(self.design_.predictors)
        values = np.concatenate(
            [np.asarray(params["mu"]), np.asarray(params["beta"])], axis=-1
        )
        names = ("intercept", *predictors)
        quantities = [
            "line value at the predictors' centre",
            *(f"slope on {name!r}" for name in predictors),
        ]
        order_by = self._order_name()
        anchor = 0 if order_by == "intercept" else 1 + predictors.index(order_by)
        return values, anchor, names, quantities, "order_by"

    def _attrs(self, result) -> dict:
        """The fit's attributes: the components are lines, told apart by
        ``order_by`` (a covariance and an anchor column do not apply)."""
        attrs = super()._attrs(result)
        del attrs["covariance"], attrs["anchor"]
        attrs["response"] = self.cells_.columns[0]
        attrs["order_by"] = self._order_name() if self.ordered else "none"
        return attrs

    def _posterior_out(self, variables, dims, coords):
        design = self._pending_design()
        coords = dict(coords)
        coords[PREDICTOR] = list(design.predictors)
        if WEIGHT_PREDICTOR in coords:
            coords[WEIGHT_PREDICTOR] = list(design.weights_from)
        return variables, dims, coords

    def _summarise(self) -> None:
        super()._summarise()
        post = self.idata_.posterior
        mean = lambda name: post[name].mean(("chain", "draw")).to_numpy()  # noqa: E731
        self.intercept_ = mean("intercept")
        self.coef_ = mean("beta")
        if "gamma" in post:
            self.weight_intercept_ = mean("gamma0")
            self.weight_coef_ = mean("gamma")

    # -- results --------------------------------------------------------------------
    def new_cells(self, X, y=None, *, response=None, **censoring) -> CellTable:
        """New predictors and responses as a cell table of the fitted design.

        The response is ``y``, or the column ``response`` of ``X``, or, with
        neither given, ``X``'s column of the fitted response's name (as
        scikit-learn's model selection passes held-out rows of a fit by
        ``response=``).

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(0, 10, 200)
        >>> y = np.where(np.arange(200) < 100, 1 + 2 * x, 20 - x)
        >>> y = y + rng.normal(0, 0.5, 200)
        >>> model = sm.RegressionMixture(2, engine="stanli").fit(
        ...     x[:, None], y, method="optimize", seed=1)
        >>> cells = model.new_cells([[5.0], [5.0]], [11.0, 12.0], upper_limit=12.0)
        >>> cells.censored[:, 0].tolist()  # the second response: 12 or more
        [False, True]
        >>> model.predict_proba(cells).round(2)
        array([[1.  , 0.  ],
               [0.03, 0.97]])
        """
        self._check_fitted()
        check.known_keys("censoring argument(s):", censoring, CENSORING_ARGS)
        held = self._fitted_response_in(X) if isinstance(X, pd.DataFrame) else None
        if y is not None and response is None and held is not None:
            column = pd.to_numeric(X[held], errors="coerce").to_numpy(dtype=float)
            given = pd.to_numeric(
                np.ravel(np.asarray(y, dtype=object)), errors="coerce"
            )
            if column.shape != given.shape or not np.array_equal(
                column, given.astype(float), equal_nan=True
            ):
                raise StanmixInputError(
                    f"y is given, and X holds a column {held!r} named as the "
                    "fitted response, with other values: give the response "
                    "once, as y (drop the column from X) or as that column "
                    "(leave out y)"
                )
        if y is None and response is None:
            response = self._fitted_response_in(X)
        prepared = self._prepare(X, y, response, fitting=False)
        given = {key: v for key, v in censoring.items() if v is not None}
        if isinstance(prepared.response, pd.DataFrame):
            named = str(prepared.response.columns[0])
            given = {
                key: _response_renamed(v, self.design_.response, named)
                for key, v in given.items()
            }
        cells, _ = self._read(prepared, given)
        warn_unstated_limits(self.cells_, cells, censoring)
        return cells

    def _fitted_response_in(self, X) -> str | int | None:
        """Where new data ``X`` hold the fitted response, as ``response=``
        takes it: a DataFrame's column of its name (a label such as 1 matching
        the fitted "1"), or, for an array fitted with the response among its
        columns, the same position where ``X`` has a column there (the
        covariates are read by position too, so ``X`` is laid out as the
        fitted array was)."""
        design = self.design_
        if isinstance(X, pd.DataFrame):
            labels = [c for c in X.columns if str(c) == design.response]
            return labels[0] if len(labels) == 1 else None
        position = re.fullmatch(r"x(\d+)", design.response)
        if (
            position is None
            or isinstance(X, pd.Series)
            or np.ndim(X) != 2
            or int(position.group(1)) >= np.shape(X)[1]
        ):
            return None
        return int(position.group(1))

    def predict_proba(
        self,
        X,
        y=None,
        *,
        response=None,
        lower_limit=None,
        upper_limit=None,
        censored=None,
        interval=None,
    ) -> np.ndarray:
        """Posterior mean probability that each (x, y) pair belongs to each
        component, (N, K).

        ``X`` holds the predictors (and the weights' covariates); the
        response is ``y`` or the column ``response`` of ``X`` (by default
        the fitted response's column, where ``X`` has it), censored as in
        :meth:`fit`. A missing response gives the mixing weights at x.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(0, 10, 200)
        >>> y = np.where(np.arange(200) < 100, 1 + 2 * x, 20 - x)
        >>> y = y + rng.normal(0, 0.5, 200)
        >>> model = sm.RegressionMixture(2, engine="stanli").fit(
        ...     x[:, None], y, method="optimize", seed=1)
        >>> model.predict_proba([[5.0], [5.0]], [11.0, 15.0]).round(2)  # on each line
        array([[1., 0.],
               [0., 1.]])
        """
        self._check_fitted()
        cells = self.new_cells(
            X,
            y,
            response=response,
            lower_limit=lower_limit,
            upper_limit=upper_limit,
            censored=censored,
            interval=interval,
        )
        return reachable(
            likelihood.membership_mean(self.family_, cells, self.param_draws()), X
        )

    def membership(
        self,
        X=None,
        y=None,
        *,
        response=None,
        hdi_prob: float | None = None,
        lower_limit=None,
        upper_limit=None,
        censored=None,
        interval=None,
        show_progress: bool = False,
    ) -> pd.DataFrame:
        """Membership probabilities with HDIs, as :meth:`Mixture.membership`:
        of the fitted (x, y) pairs by default, or of new ``X`` with its
        response (``y``, ``response``, censoring as in
        :meth:`predict_proba`). A new row without a response gets the mixing
        weights at its x. ``hdi_prob`` sets the intervals' mass (by default
        the estimator's), and ``show_progress`` shows a bar over the rows.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(0, 10, 200)
        >>> y = np.where(np.arange(200) < 100, 1 + 2 * x, 20 - x)
        >>> y = y + rng.normal(0, 0.5, 200)
        >>> model = sm.RegressionMixture(2, engine="stanli").fit(
        ...     x[:, None], y, method="optimize", seed=1)
        >>> model.membership([[5.0]], [12.9]).round(2)  # nearer line 0 (11 at x = 5)
           observation  component  mean  hdi_lower  hdi_upper
        0            0          0  0.97       0.97       0.97
        1            0          1  0.03       0.03       0.03
        """
        censoring = {
            "lower_limit": lower_limit,
            "upper_limit": upper_limit,
            "censored": censored,
            "interval": interval,
        }
        if X is None:
            _new_response(X, y, response)
            return super().membership(
                hdi_prob=hdi_prob, show_progress=show_progress, **censoring
            )
        self._check_fitted()
        prob = self._membership_prob(hdi_prob)
        check.flag("show_progress", show_progress)
        refuse_scalar_data(X, "membership")
        cells = self.new_cells(X, y, response=response, **censoring)
        return self._membership_table(cells, X, prob, show_progress)

    def bic(self, X=None, y=None, *, response=None, **censoring) -> float:
        """Bayesian information criterion at the posterior mode, as
        :meth:`Mixture.bic`: of the fitted data, or of new ``X`` with its
        response (``y``, ``response``, censoring as in :meth:`predict_proba`).
        Rows whose response is missing count for nothing, N included.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(0, 10, 200)
        >>> y = np.where(np.arange(200) < 100, 1 + 2 * x, 20 - x)
        >>> y = y + rng.normal(0, 0.5, 200)
        >>> model = sm.RegressionMixture(2, engine="stanli").fit(
        ...     x[:, None], y, method="optimize", seed=1)
        >>> two = model.bic()
        >>> one = sm.RegressionMixture(1, engine="stanli").fit(
        ...     x[:, None], y, method="optimize", seed=1).bic()
        >>> bool(two < one)  # two lines explain these data better than one
        True
        """
        return super().bic(X, **_new_response(X, y, response), **censoring)

    def aic(self, X=None, y=None, *, response=None, **censoring) -> float:
        """Akaike information criterion at the posterior mode, as
        :meth:`Mixture.aic`; the data as for :meth:`bic`."""
        return super().aic(X, **_new_response(X, y, response), **censoring)

    def icl(self, X=None, y=None, *, response=None, **censoring) -> float:
        """Integrated completed likelihood at the posterior mode, as
        :meth:`Mixture.icl`; the data as for :meth:`bic`."""
        return super().icl(X, **_new_response(X, y, response), **censoring)

    def sample(self, n_samples: int = 1, *, seed: int | None = None):
        """Not defined for a mixture of regressions, whose responses are
        drawn at given predictors: :meth:`predict_response` gives their posterior
        predictive intervals at new ``X``."""
        raise StanmixInputError(
            "RegressionMixture draws responses at given predictors, which "
            "sample(n) has not: predict_response(X) gives the posterior "
            "predictive of the response at new predictors X"
        )

    def score_samples(self, X, y=None, *, response=None, **censoring) -> np.ndarray:
        """Log posterior predictive density of each (x, y) pair (N,): of the
        response given the predictors, as :meth:`Mixture.score_samples`,
        with ``X``, ``y``, ``response`` and the censoring as in
        :meth:`predict_proba`. Unlike a :class:`Mixture`'s row of missing
        cells, which scores 0, a row without a response is refused: the
        score is the density of a response.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(0, 10, 200)
        >>> y = np.where(np.arange(200) < 100, 1 + 2 * x, 20 - x)
        >>> y = y + rng.normal(0, 0.5, 200)
        >>> model = sm.RegressionMixture(2, engine="stanli").fit(
        ...     x[:, None], y, method="optimize", seed=1)
        >>> model.score_samples([[5.0], [5.0]], [11.0, 13.0]).round(2)  # on, off a line
        array([-1.06, -7.74])
        """
        self._check_fitted()
        cells = self.new_cells(X, y, response=response, **censoring)
        missing = np.flatnonzero(cells.kind[:, 0] == MISSING)
        if missing.size:
            # a pandas X names its rows by index label, as the user counts them
            index = X.index if isinstance(X, (pd.DataFrame, pd.Series)) else None
            rows = [
                str(r) if index is None else row_label(index[r]) for r in missing[:5]
            ]
            raise StanmixInputError(
                f"the response is missing in {missing.size} row(s) "
                f"({', '.join(rows)}{', ...' if missing.size > 5 else ''}); a "
                "score is the density of a response: score the rows that have one"
            )
        return self._log_predictive(cells)

    def score(self, X, y=None, *, response=None, **censoring) -> float:
        """Mean log posterior predictive density of the responses given the
        predictors (the mean of :meth:`score_samples`); larger is better.

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(0, 10, 200)
        >>> y = np.where(np.arange(200) < 100, 1 + 2 * x, 20 - x)
        >>> y = y + rng.normal(0, 0.5, 200)
        >>> model = sm.RegressionMixture(2, engine="stanli").fit(
        ...     x[:, None], y, method="optimize", seed=1)
        >>> bool(model.score(x[:, None], y) > model.score(x[:, None], y + 3))
        True
        """
        return float(np.mean(self.score_samples(X, y, response=response, **censoring)))

    def _absent_error(self, absent: list[str], *, array: bool) -> StanmixInputError:
        """The error for new data without some fitted covariate columns."""
        unnamed_run = getattr(self, "_read_back", False) and not getattr(
            self, "_named_covariates", True
        )
        on_array = (
            not unnamed_run
            and not getattr(self, "_named_covariates", True)
            and all(re.fullmatch(r"x\d+", c) for c in self.design_.covariates)
        )
        return StanmixInputError(
            _absent_message(absent, self.design_, array, unnamed_run, on_array)
        )

    def _covariates_only(self, X) -> np.ndarray:
        _refuse_a_row(X, self.design_)
        X = self._read_columns(X, None, fitting=False)
        values, columns, index = as_matrix(
            _coded(X, self.design_.response), name="X", text_fix=CATEGORY_FIX
        )
        frame = pd.DataFrame(values, columns=list(columns), index=index)
        design = self.design_
        array = not isinstance(X, (pd.DataFrame, pd.Series))
        if array:  # the fitted response may sit at its position, unread
            _refuse_wider_array(sum(c != design.response for c in columns), design)
        absent = [c for c in design.covariates if c not in frame.columns]
        if absent:
            raise self._absent_error(absent, array=array)
        return self._checked_covariates(frame, design, index)

    def predict(self, X, y=None, *, response=None, **censoring) -> np.ndarray:
        """The most probable line of each new (x, y) pair, (N,): the argmax
        of :meth:`predict_proba`, with ``X``, ``y``, ``response`` and the
        censoring as there (so ``fit_predict(X, y)`` labels the fitted pairs
        as ``predict(X, y)`` labels new ones).

        A pair's line is told by its response, so the response is needed:
        a row whose response is missing gets the line most probable at its
        x before the response is seen, by the mixing weights there, and new
        data without any response are refused (:meth:`predict_response`
        predicts the response at new predictors).

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(0, 10, 200)
        >>> y = np.where(np.arange(200) < 100, 1 + 2 * x, 20 - x)
        >>> y = y + rng.normal(0, 0.5, 200)
        >>> model = sm.RegressionMixture(2, engine="stanli").fit(
        ...     x[:, None], y, method="optimize", seed=1)
        >>> model.predict([[5.0], [5.0]], [11.2, 14.8]).tolist()  # 11 and 15 at 5
        [0, 1]
        """
        self._check_fitted()
        no_response = StanmixInputError(
            "predict gives each (x, y) pair's most probable line, which "
            "its response tells, and no row of X has one: pass the "
            f"responses as y, or as X's column {self.design_.response!r} "
            "(or the column response= names); predict_response(X) gives "
            "the posterior predictive of the response at new predictors"
        )
        absent = y is None and response is None and not isinstance(X, CellTable)
        if absent and self._fitted_response_in(X) is None:
            raise no_response
        cells = self.new_cells(X, y, response=response, **censoring)
        if cells.n_obs and (cells.kind[:, 0] == MISSING).all():
            raise no_response
        prob = likelihood.membership_mean(self.family_, cells, self.param_draws())
        return np.argmax(reachable(prob, X), axis=1)

    def predict_response(
        self, X, *, hdi_prob: float | None = None, seed: int | None = None
    ) -> pd.DataFrame:
        """The posterior predictive of the response at new predictors.

        For every row of ``X`` (the fitted covariate columns; others are
        ignored) and every component, and for the mixture: the mixing weight
        there, the posterior mean of the component's line (for the mixture,
        of sum_k w_k(x) line_k(x)), its central credible interval, and the
        central interval of a new response drawn from the posterior
        predictive (line plus error; for the mixture, a component drawn by
        its weight first). The response is predicted uncensored.

        Parameters
        ----------
        X : DataFrame or array-like
            The predictors (and the weights' covariates). A numpy array is
            read as in :meth:`fit` and :meth:`predict_proba`: its columns are
            ``x0``, ``x1``, ... by position, so it takes the fit's column
            layout.
        hdi_prob : float, optional
            Probability mass of the intervals; ``model.hdi_prob`` by default.
        seed : int, optional
            Seed of the predictive draws; the fit's seed by default.

        Returns
        -------
        pandas.DataFrame
            One row per observation and component (``component`` 0 .. K-1,
            then ``"mixture"``): ``observation`` (a DataFrame's or Series'
            index label, else the row's position), ``component``, ``weight``,
            ``mean``, ``line_lower``, ``line_upper``, ``lower``, ``upper``.
            Draws are thinned to at most 4000, evenly; the predictive
            interval uses at least 1000 new responses (each draw repeated,
            e.g. for a posterior mode).

        Examples
        --------
        >>> import numpy as np, stanmix as sm
        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(0, 10, 200)
        >>> y = np.where(np.arange(200) < 100, 1 + 2 * x, 20 - x)
        >>> y = y + rng.normal(0, 0.5, 200)
        >>> model = sm.RegressionMixture(2, engine="stanli").fit(
        ...     x[:, None], y, method="optimize", seed=1)
        >>> table = model.predict_response([[5.0]])  # true lines: 11 and 15 there
        >>> table[["component", "weight", "mean", "lower", "upper"]].round(1)
          component  weight  mean  lower  upper
        0         0     0.5  10.9    9.9   12.0
        1         1     0.5  15.0   14.1   15.9
        2   mixture     1.0  13.0   10.1   15.8
        """
        self._check_fitted()
        prob = check.number(
            "hdi_prob", self.hdi_prob if hdi_prob is None else hdi_prob, low=0, high=1
        )
        rng = np.random.default_rng(self.seed_ if seed is None else check.seed(seed))
        covariates = self._covariates_only(X)
        index = (
            X.index
            if isinstance(X, (pd.DataFrame, pd.Series))
            else pd.RangeIndex(len(covariates))
        )
        family = self.family_
        params = self.param_draws()
        s = params["w"].shape[0]
        keep = np.unique(np.linspace(0, s - 1, min(s, MAX_PREDICT_DRAWS)).round())
        params = {name: arr[keep.astype(int)] for name, arr in params.items()}
        pred = covariates[:, list(family.predictors)]
        gate = covariates[:, list(family.weights_from)]
        line = family.line(params, pred)  # (S, K, M)
        weights = np.exp(family.log_weights_at(params, gate))  # (S, K, M)
        overall_line = (weights * line).sum(axis=1)  # (S, M)
        # New responses: each draw repeated until there are MIN_PREDICTIVE.
        rep = -(-MIN_PREDICTIVE // line.shape[0])
        params_rep = {name: np.repeat(arr, rep, axis=0) for name, arr in params.items()}
        line_rep, weights_rep = np.repeat(line, rep, 0), np.repeat(weights, rep, 0)
        sigma = params_rep["sigma"][..., 0][..., None]  # (S, K, 1)
        draws = line_rep + sigma * family.sample_errors(params_rep, rng, line_rep.shape)
        cum = np.cumsum(weights_rep, axis=1)
        pick = (rng.random((cum.shape[0], cum.shape[2]))[:, None, :] > cum).sum(axis=1)
        pick = np.minimum(pick, line.shape[1] - 1)
        overall = np.take_along_axis(draws, pick[:, None, :], axis=1)[:, 0, :]
        q = [(1 - prob) / 2, (1 + prob) / 2]
        k, m = line.shape[1], line.shape[2]
        frames = []
        for j in [*range(k), "mixture"]:
            if j == "mixture":
                mean_line, samples, w = overall_line, overall, np.ones(m)
            else:
                mean_line, samples, w = line[:, j], draws[:, j], weights[:, j].mean(0)
            band = np.quantile(mean_line, q, axis=0)
            spread = np.quantile(samples, q, axis=0)
            frames.append(
                pd.DataFrame(
                    {
                        "observation": np.asarray(index),
                        "component": [j] * m,
                        "weight": w,
                        "mean": mean_line.mean(axis=0),
                        "line_lower": band[0],
                        "line_upper": band[1],
                        "lower": spread[0],
                        "upper": spread[1],
                    }
                )
            )
        table = pd.concat(frames, ignore_index=True)
        order = np.argsort(np.tile(np.arange(m), k + 1), kind="stable")
        return table.iloc[order].reset_index(drop=True)


def _check_independent(
    values: np.ndarray, columns, names, role: str, partial: str = ""
) -> None:
    """Refuse ``names`` (columns of ``values``) that are linearly dependent
    with an intercept: their coefficients could not be told apart."""
    if len(names) < 2:
        return  # one non-constant column is independent of the intercept
    picked = values[:, [list(columns).index(n) for n in names]]
    if picked.shape[0] <= picked.shape[1]:
        which = " with a response" if partial else ""
        raise StanmixInputError(
            f"the {len(names)} {role} {', '.join(map(repr, names))} have "
            f"{picked.shape[0]} rows{which}, too few to tell their coefficients "
            f"and the intercept apart; give more rows or fewer {role}"
        )
    z = (picked - picked.mean(axis=0)) / picked.std(axis=0)
    _, singular, vt = np.linalg.svd(z, full_matrices=False)
    if singular[-1] > 1e-8 * singular[0] * np.sqrt(z.shape[0]):
        # Near dependence: a variance inflation above NEAR_DEPENDENT.
        inflation = np.diag(np.linalg.inv(np.corrcoef(z, rowvar=False)))
        if inflation.max() > NEAR_DEPENDENT:
            near = [n for n, v in zip(names, inflation, strict=True) if v > 10]
            warnings.warn(
                f"the {role} {', '.join(map(repr, near))} are nearly linear "
                f"functions of each other{partial} (variance inflation up to "
                f"{inflation.max():.3g}): the data hardly tell their "
                "coefficients apart, so the prior shares the effect between "
                "them; drop one, or combine them (for powers or products of a "
                "predictor, centre it first)",
                UserWarning,
                stacklevel=check.caller_level(),
            )
        return
    null = np.abs(vt[-1])
    involved = [n for n, weight in zip(names, null, strict=True) if weight > 1e-6]
    raise StanmixInputError(
        f"the {role} {', '.join(map(repr, involved))} are linearly dependent"
        f"{partial} (one is a linear function of the others): their "
        "coefficients cannot be told apart; drop one"
    )
