"""The programs simulation-based calibration checks: prior, data, estimator.

Each :class:`Program` draws parameters from *exactly* the prior its Stan
program states for the settings it passes to the estimator (data units:
every fit uses ``standardize=False``), simulates data from the model
(censoring and missing cells included where the variant has them), and
builds the estimator that fits it. The priors, from ``stan/*.stan``:

- anchor means: ``ordered``, each ``normal(0, prior_mean_scale)``; that is
  iid normal restricted to the ordered region, drawn by sorting iid draws;
  the other columns' means iid ``normal(0, prior_mean_scale)``;
- scales: iid ``lognormal(log(prior_scale_median), prior_scale_log_sd)``
  (spherical: one per component for every column; tied: one per column
  for every component);
- weights: ``dirichlet(prior_concentration)``;
- Student-t ``nu`` (``student_t_diag.stan``, ``full_cov.stan``,
  ``regression.stan``): ``gamma(nu_shape, nu_rate)`` on ``nu >= 1``
  (truncated; drawn by rejection);
- full covariance (``full_cov.stan``): ``lkj_corr_cholesky(lkj_eta)`` on
  each correlation matrix (tied: one for every component; drawn by the
  onion method of Lewandowski, Kurowicka & Joe 2009; for two columns the
  correlation r has (r + 1) / 2 ~ beta(eta, eta)).
- mixture of regressions (``regression.stan``, constant weights): each
  line's value at the predictors' centre (their mean over the rows),
  ``mu``, is ``ordered``, each ``normal(0, prior_mean_scale)``; each slope
  ``normal(0, beta_scale)``; error scales and weights as above. The
  intercepts are not parameters of their own: ``intercept = mu - x_center
  beta'``.

Every component parameter is drawn iid per component and the components
are then sorted along the anchor column (for a regression, by ``mu``),
which gives the ordered prior (the other parameters are exchangeable
across components) and labels the truth the way the program labels its
draws.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PROGRAMS",
    "Program",
    "RegressionProgram",
    "Simulated",
    "flatten_params",
    "lkj_correlation",
    "replication_seeds",
    "truncated_gamma",
]

#: Prior settings shared by every program (data units).
PRIOR = {
    "prior_mean_scale": 3.0,
    "prior_scale_median": 1.0,
    "prior_scale_log_sd": 0.3,
    "prior_concentration": 4.0,
}
#: Student-t degrees of freedom: gamma(2, 0.1) on nu >= 1 (mean about 20).
NU_PRIOR = {"nu_shape": 2.0, "nu_rate": 0.1}
#: LKJ shape of the correlation prior (the package default).
LKJ_ETA = 2.0
#: Detection limits of the censored variants: x left-censored below -2,
#: y right-censored above 1.5 (fixed, in data units).
LOWER_LIMIT = {"x": -2.0}
UPPER_LIMIT = {"y": 1.5}
#: Share of rows with one cell (x or y, at random) missing.
MISSING_ROWS = 0.15
#: Share of rows whose binned columns are recorded as a bin (interval).
BINNED_ROWS = 0.5
#: Prior sd of each regression slope (data units: response per predictor
#: unit; the predictors are standard normal).
SLOPE_SCALE = 1.5
#: Predictors of the regression programs, iid standard normal in every row
#: (a fixed distribution: the program conditions on them).
PREDICTORS = ("x1", "x2")


@dataclass
class Simulated:
    """One replication's data and truth.

    Attributes
    ----------
    X : DataFrame
        The data as recorded: censored cells at their limit, missing NaN.
    fit_kwargs : dict
        Arguments of ``fit`` that say how to read ``X``: the censoring, and
        for a regression the response column.
    truth : dict of ndarray
        The true parameters, components sorted along the anchor.
    labels : ndarray of int
        The true component of each row, in the same order.
    redraws : int
        Data sets discarded (and redrawn with new parameters) because the
        estimator would refuse them (a column with no observed value or a
        constant one). The choice depends on the data only, so it keeps the
        posterior, and the ranks, as they are.
    """

    X: pd.DataFrame
    fit_kwargs: dict
    truth: dict[str, np.ndarray]
    labels: np.ndarray
    redraws: int = 0


@dataclass(frozen=True)
class Program:
    """One program/family variant and how to simulate from its prior.

    Attributes
    ----------
    name : str
        Short key (``--programs``).
    title : str
        What it is, for tables.
    k, d : int
        Components and columns.
    family, covariance : str
        As ``sm.Mixture`` takes them (``d == 1`` uses ``sm.NormalMixture``).
    family_options : dict
        ``family_options`` of the estimator.
    censored, missing : bool
        Apply the fixed detection limits; set cells missing at random.
    lower_limit, upper_limit : dict
        The detection limits (column -> value, data units) of a censored
        variant: values below (above) are recorded at the limit.
    binned : dict
        Interval-censored columns (column -> bin width, data units): in a
        random share ``BINNED_ROWS`` of the rows, the column's value is
        recorded only as the bin of a grid of that width (one edge at 0)
        it falls in, as ``interval=(low, high)`` bounds; the value itself
        is recorded as NaN.
    fit_options : dict
        Options of ``fit`` that differ from the estimator's defaults.
    data_from : str, optional
        Simulate the same data sets (and use the same fit seeds) as this
        program, so that two ways of fitting compare replication by
        replication.
    default : bool
        Run by ``bench/sbc.py`` without ``--programs`` (a program too slow
        for a full run is named to run it).
    """

    name: str
    title: str
    k: int
    d: int
    family: str = "normal"
    covariance: str = "diag"
    family_options: Mapping[str, Any] = field(default_factory=dict)
    censored: bool = False
    missing: bool = False
    lower_limit: Mapping[str, float] = field(default_factory=lambda: dict(LOWER_LIMIT))
    upper_limit: Mapping[str, float] = field(default_factory=lambda: dict(UPPER_LIMIT))
    binned: Mapping[str, float] = field(default_factory=dict)
    fit_options: Mapping[str, Any] = field(default_factory=dict)
    data_from: str | None = None
    default: bool = True

    @property
    def seed_key(self) -> str:
        """The name the replication seeds derive from."""
        return self.data_from or self.name

    @property
    def columns(self) -> list[str]:
        """The modelled columns (the components' means and scales)."""
        return ["x", "y", "z"][: self.d] if self.d > 1 else ["y"]

    @property
    def data_columns(self) -> list[str]:
        """Every column of the simulated data frame."""
        return self.columns

    @property
    def program_file(self) -> str:
        if self.covariance in ("full", "tied"):
            return "full_cov.stan"
        return (
            "student_t_diag.stan" if self.family == "student_t" else "normal_diag.stan"
        )

    def estimator(self, engine: str = "stanli"):
        """The estimator with this program's priors, in data units."""
        import stanmix as sm

        if self.d == 1:
            return sm.NormalMixture(self.k, engine=engine, standardize=False, **PRIOR)
        return sm.Mixture(
            self.k,
            family=self.family,
            covariance=self.covariance,
            family_options=dict(self.family_options) or None,
            anchor_dim=0,
            engine=engine,
            standardize=False,
            **PRIOR,
        )

    def estimator_text(self) -> str:
        """How the estimator is built and fitted, for the report."""
        if self.d == 1:
            call = f"`NormalMixture({self.k})`"
        else:
            options = (
                f", family_options={dict(self.family_options)}"
                if self.family_options
                else ""
            )
            call = (
                f"`Mixture({self.k}, family={self.family!r}, "
                f"covariance={self.covariance!r}{options}, anchor_dim=0)`"
            )
        if self.fit_options:
            options = ", ".join(f"{k}={v!r}" for k, v in self.fit_options.items())
            call += f", `fit({options})`"
        return call

    def data_text(self) -> str:
        """What the simulated cells are, for the report."""
        if self.data_from:
            return f"the data sets of {self.data_from}"
        parts = []
        if self.censored:
            limits = [
                f"{c} {side}-censored at {v:g}"
                for side, given in (
                    ("left", self.lower_limit),
                    ("right", self.upper_limit),
                )
                for c, v in given.items()
            ]
            parts.append(", ".join(limits))
        if self.missing:
            which = " or ".join(self.columns)
            cell = f"one cell ({which})" if self.d > 1 else which
            parts.append(f"{cell} missing in {MISSING_ROWS:.0%} of rows")
        for col, width in self.binned.items():
            parts.append(
                f"{col} recorded as the interval of width {width:g} it lies in "
                f"(a grid with an edge at 0) in {BINNED_ROWS:.0%} of rows"
            )
        return "; ".join(parts) or "complete"

    def flatten(self, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Scalar parameters by name (:func:`flatten_params`)."""
        return flatten_params(
            params, self.columns, spherical=self.covariance == "spherical"
        )

    def as_init(self, truth: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The true parameters as the estimator's ``init``."""
        return dict(truth)

    # -- prior ------------------------------------------------------------------
    def draw_prior(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """One draw of every parameter, components sorted along column 0.

        Spherical scales are drawn once per component and repeated over the
        columns (as the estimator reports them); a tied covariance's scales
        ``sigma`` (1, D) and correlation ``corr`` (1, D, D) are drawn once
        and shared by every component.
        """
        k, d = self.k, self.d
        mu = rng.normal(0.0, PRIOR["prior_mean_scale"], size=(k, d))
        shape = {"spherical": (k, 1), "tied": (1, d)}.get(self.covariance, (k, d))
        sigma = np.exp(
            np.log(PRIOR["prior_scale_median"])
            + PRIOR["prior_scale_log_sd"] * rng.standard_normal(shape)
        )
        if self.covariance == "spherical":
            sigma = np.repeat(sigma, d, axis=1)
        w = rng.dirichlet(np.full(k, PRIOR["prior_concentration"]))
        truth = {"w": w, "mu": mu, "sigma": sigma}
        if self.family == "student_t":
            opts = {**NU_PRIOR, **self.family_options}
            truth["nu"] = truncated_gamma(
                rng, opts["nu_shape"], opts["nu_rate"], 1.0, size=k
            )
        if self.covariance in ("full", "tied"):
            eta = float(self.family_options.get("lkj_eta", LKJ_ETA))
            n_corr = 1 if self.covariance == "tied" else k
            truth["corr"] = np.stack(
                [lkj_correlation(rng, d, eta) for _ in range(n_corr)]
            )
        order = np.argsort(mu[:, 0], kind="stable")
        return self.permute(truth, order)

    def shared(self, name: str) -> bool:
        """Whether parameter ``name`` is one for all components (no
        component axis): a tied covariance's ``sigma`` and ``corr``."""
        return self.covariance == "tied" and name in ("sigma", "corr")

    def permute(
        self, params: dict[str, np.ndarray], order: np.ndarray
    ) -> dict[str, np.ndarray]:
        """The components of ``params`` (one value per component on the
        first axis) taken in ``order``; shared parameters as they are."""
        return {
            name: arr if self.shared(name) else arr[order]
            for name, arr in params.items()
        }

    # -- data -------------------------------------------------------------------
    def draw_data(
        self, truth: dict[str, np.ndarray], n: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Complete data (n, d) from the model, and each row's component."""
        labels = rng.choice(self.k, size=n, p=truth["w"])
        mu = truth["mu"][labels]
        which = np.zeros(n, dtype=int) if self.covariance == "tied" else labels
        sigma = truth["sigma"][which]
        if self.covariance in ("full", "tied"):
            corr = truth["corr"][which]
            chol = np.linalg.cholesky(corr)
            eps = np.einsum("nij,nj->ni", chol, rng.standard_normal((n, self.d)))
            if self.family == "student_t":
                # a multivariate t: one chi-square scale per row, shared by
                # the row's cells
                nu = truth["nu"][labels]
                eps *= np.sqrt(nu / rng.chisquare(nu))[:, None]
        elif self.family == "student_t":
            eps = rng.standard_t(truth["nu"][labels][:, None], size=(n, self.d))
        else:
            eps = rng.standard_normal((n, self.d))
        return mu + sigma * eps, labels

    def record(
        self, values: np.ndarray, rng: np.random.Generator
    ) -> tuple[pd.DataFrame, dict]:
        """The data as a lab would record it: values beyond a detection
        limit at the limit, and, for variants with missing cells, one cell
        of a random share of rows blanked (independent of the values), then,
        for binned columns, the value of a random share of the rows (among
        those not blanked) replaced by the bin it lies in."""
        X = pd.DataFrame(values.copy(), columns=self.data_columns)
        kwargs: dict = {}
        if self.censored:
            for col, limit in self.lower_limit.items():
                X[col] = X[col].clip(lower=limit)
            for col, limit in self.upper_limit.items():
                X[col] = X[col].clip(upper=limit)
            kwargs = {
                "lower_limit": dict(self.lower_limit),
                "upper_limit": dict(self.upper_limit),
            }
        if self.missing:
            rows = np.flatnonzero(rng.random(len(X)) < MISSING_ROWS)
            where = np.array([X.columns.get_loc(c) for c in self.columns])
            cols = where[rng.integers(0, self.d, size=rows.size)]
            arr = X.to_numpy()
            arr[rows, cols] = np.nan
            X = pd.DataFrame(arr, columns=X.columns)
        if self.binned:
            low = pd.DataFrame(np.nan, index=X.index, columns=X.columns)
            high = low.copy()
            for col, width in self.binned.items():
                rows = (rng.random(len(X)) < BINNED_ROWS) & X[col].notna().to_numpy()
                edge = np.floor(X.loc[rows, col] / width) * width
                low.loc[rows, col] = edge
                high.loc[rows, col] = edge + width
                X.loc[rows, col] = np.nan
            kwargs["interval"] = (low, high)
        return X, kwargs

    def check_data(self, X: pd.DataFrame, kwargs: dict) -> None:
        """The estimator's own checks of the data: no column without an
        observed value or constant, no row entirely missing.

        Raises
        ------
        StanmixInputError
            Where the estimator would refuse the data.
        """
        from stanmix.censoring import cell_table, check_fit_data

        cells, _ = cell_table(X, **kwargs)
        check_fit_data(cells)

    def acceptable(self, X: pd.DataFrame, kwargs: dict) -> bool:
        """Whether the estimator takes the data (:meth:`check_data`)."""
        from stanmix.exceptions import StanmixInputError

        try:
            self.check_data(X, kwargs)
        except StanmixInputError:
            return False
        return True

    def simulate(self, n: int, rng: np.random.Generator) -> Simulated:
        """Parameters from the prior and data from the model, redrawn
        (both) while the estimator would refuse the data."""
        redraws = 0
        while True:
            truth = self.draw_prior(rng)
            values, labels = self.draw_data(truth, n, rng)
            X, kwargs = self.record(values, rng)
            if self.acceptable(X, kwargs):
                return Simulated(X, kwargs, truth, labels, redraws)
            redraws += 1


@dataclass(frozen=True)
class RegressionProgram(Program):
    """A mixture of linear regressions (``regression.stan``) and how to
    simulate from its prior.

    The response ``y`` is the one modelled column (``d = 1``); the
    predictors are drawn iid standard normal in every row of every data set
    and conditioned on. ``family`` is the error distribution (``"normal"``
    or ``"student_t"``, whose ``nu`` has the prior of the diagonal program);
    the weights are constant and the lines are ordered by their value at
    the predictors' centre (the estimator's defaults).

    Attributes
    ----------
    predictors : tuple of str
        The predictors' column names.
    """

    predictors: tuple[str, ...] = PREDICTORS

    @property
    def data_columns(self) -> list[str]:
        return [*self.predictors, *self.columns]

    @property
    def program_file(self) -> str:
        return "regression.stan"

    def estimator(self, engine: str = "stanli"):
        """The estimator with this program's priors, in data units."""
        import stanmix as sm

        return sm.RegressionMixture(
            self.k,
            predictors=list(self.predictors),
            errors=self.family,
            family_options=dict(self.family_options) or None,
            engine=engine,
            standardize=False,
            prior_slope_scale=SLOPE_SCALE,
            **PRIOR,
        )

    def estimator_text(self) -> str:
        predictors = ", ".join(repr(p) for p in self.predictors)
        return (
            f"`RegressionMixture({self.k}, predictors=[{predictors}], "
            f"errors={self.family!r}, prior_slope_scale={SLOPE_SCALE:g})`, "
            f"`fit(X, response='y')`"
        )

    def flatten(self, params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return flatten_params(params, self.columns, self.predictors)

    def as_init(self, truth: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The lines, scales and weights (``mu`` follows from them)."""
        return {name: value for name, value in truth.items() if name != "mu"}

    def draw_prior(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Weights, line values at the predictors' centre (sorted: the
        program's ``ordered`` mu) and scales as :meth:`Program.draw_prior`
        draws them, and slopes ``beta`` (K, P). The slopes are iid and
        independent of mu, so drawing them after the sort gives the same
        joint prior as drawing them before and sorting them along."""
        truth = super().draw_prior(rng)
        truth["beta"] = rng.normal(
            0.0, SLOPE_SCALE, size=(self.k, len(self.predictors))
        )
        return truth

    def draw_data(
        self, truth: dict[str, np.ndarray], n: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Predictors and the response (n, P + 1), and each row's component.

        The response of a row from component k is mu_k + (x - x_center)
        beta_k' + sigma_k e, with x_center the predictors' mean over the n
        rows, as the program centres them.
        """
        x = rng.standard_normal((n, len(self.predictors)))
        labels = rng.choice(self.k, size=n, p=truth["w"])
        line = truth["mu"][labels, 0] + np.einsum(
            "np,np->n", x - x.mean(axis=0), truth["beta"][labels]
        )
        if self.family == "student_t":
            errors = rng.standard_t(truth["nu"][labels])
        else:
            errors = rng.standard_normal(n)
        y = line + truth["sigma"][labels, 0] * errors
        return np.column_stack([x, y]), labels

    def record(
        self, values: np.ndarray, rng: np.random.Generator
    ) -> tuple[pd.DataFrame, dict]:
        """As :meth:`Program.record` (limits and missing values apply to the
        response only), with the response named for ``fit``."""
        X, kwargs = super().record(values, rng)
        return X, {**kwargs, "response": self.columns[0]}

    def check_data(self, X: pd.DataFrame, kwargs: dict) -> None:
        """``RegressionMixture``'s checks: the response has observed values
        and is not constant (a row may miss its response), no predictor is
        constant."""
        from stanmix.censoring import cell_table, check_fit_data
        from stanmix.exceptions import StanmixInputError

        censoring = {key: v for key, v in kwargs.items() if key != "response"}
        cells, _ = cell_table(X[self.columns], allow_empty_rows=True, **censoring)
        check_fit_data(cells)
        if np.any(np.ptp(X[list(self.predictors)].to_numpy(), axis=0) == 0):
            raise StanmixInputError("a predictor is constant")

    def simulate(self, n: int, rng: np.random.Generator) -> Simulated:
        """As :meth:`Program.simulate`, the truth completed by the intercepts
        (each line at x = 0), which the estimator reports and the membership
        probabilities need."""
        sim = super().simulate(n, rng)
        center = sim.X[list(self.predictors)].to_numpy().mean(axis=0)
        sim.truth["intercept"] = sim.truth["mu"][:, 0] - sim.truth["beta"] @ center
        return sim


def truncated_gamma(
    rng: np.random.Generator, shape: float, rate: float, lower: float, size: int
) -> np.ndarray:
    """Gamma(shape, rate) draws restricted to values >= ``lower`` (rejection).

    Examples
    --------
    >>> x = truncated_gamma(np.random.default_rng(0), 2.0, 0.1, 1.0, 1000)
    >>> bool(x.min() >= 1.0)
    True
    """
    out = np.empty(0)
    while out.size < size:
        draw = rng.gamma(shape, 1.0 / rate, size=2 * size)
        out = np.concatenate([out, draw[draw >= lower]])
    return out[:size]


def lkj_correlation(rng: np.random.Generator, d: int, eta: float) -> np.ndarray:
    """A d x d correlation matrix from the LKJ(eta) distribution, by the
    onion method (Lewandowski, Kurowicka & Joe 2009, section 3.2).

    Examples
    --------
    >>> r = np.array([lkj_correlation(np.random.default_rng(i), 2, 2.0)[0, 1]
    ...               for i in range(2000)])
    >>> round(float(r.var()), 1)              # beta(2, 2) on (-1, 1): var 1/5
    0.2
    """
    if d == 1:
        return np.ones((1, 1))
    beta = eta + (d - 2) / 2.0
    r = 2.0 * rng.beta(beta, beta) - 1.0
    corr = np.array([[1.0, r], [r, 1.0]])
    for m in range(2, d):
        beta -= 0.5
        y = rng.beta(m / 2.0, beta)
        u = rng.standard_normal(m)
        u /= np.linalg.norm(u)
        q = np.linalg.cholesky(corr) @ (np.sqrt(y) * u)
        corr = np.block([[corr, q[:, None]], [q[None, :], np.ones((1, 1))]])
    return corr


def flatten_params(
    params: dict[str, np.ndarray],
    columns: list[str],
    predictors: Sequence[str] = (),
    spherical: bool = False,
) -> dict:
    """Scalar parameters by name, named as ``summary()`` names them.

    ``params`` holds arrays with one leading draw axis: ``w`` (S, K),
    ``mu`` and ``sigma`` (S, K, D), optional ``nu`` (S, K) and ``corr``
    (S, K, D, D), and for a regression (``predictors`` given)
    ``intercept`` (S, K) and ``beta`` (S, K, P). Returns name -> (S,) array,
    e.g. ``"mu[1, x]"``, ``"corr[0, x:y]"`` (upper triangle),
    ``"beta[0, x1]"``; one column drops the column label (``"mu[1]"``).
    ``sigma`` and ``corr`` with one row (a tied covariance, K > 1) are
    shared and drop the component label (``"sigma[x]"``); ``spherical``
    scales (equal over the columns) give one per component (``"sigma[0]"``).

    Examples
    --------
    >>> tied = {"w": np.full((1, 2), 0.5), "mu": np.zeros((1, 2, 2)),
    ...         "sigma": np.ones((1, 1, 2)), "corr": np.ones((1, 1, 2, 2))}
    >>> list(flatten_params(tied, ["x", "y"]))[-3:]
    ['sigma[x]', 'sigma[y]', 'corr[x:y]']
    """
    out: dict[str, np.ndarray] = {}
    k = params["w"].shape[1]
    d = len(columns)

    def label(j: int | None, col: str | None = None) -> str:
        parts = [str(j)] if j is not None else []
        parts += [col] if col is not None else []
        return f"[{', '.join(parts)}]"

    def components(name: str) -> list[int | None]:
        return [None] if k > 1 and params[name].shape[1] == 1 else list(range(k))

    for j in range(k):
        out["w" + label(j)] = params["w"][:, j]
    for j in range(k):
        for c, col in enumerate(columns):
            out["mu" + label(j, col if d > 1 else None)] = params["mu"][:, j, c]
    for j in components("sigma"):
        for c, col in enumerate(columns[:1] if spherical else columns):
            name = "sigma" + label(j, col if d > 1 and not spherical else None)
            out[name] = params["sigma"][:, j or 0, c]
    if "corr" in params:
        for j in components("corr"):
            for a in range(d):
                for b in range(a + 1, d):
                    key = f"{columns[a]}:{columns[b]}"
                    out["corr" + label(j, key)] = params["corr"][:, j or 0, a, b]
    if "nu" in params:
        for j in range(k):
            out["nu" + label(j)] = params["nu"][:, j]
    if predictors:
        for j in range(k):
            out["intercept" + label(j)] = params["intercept"][:, j]
        for j in range(k):
            for c, name in enumerate(predictors):
                out["beta" + label(j, name)] = params["beta"][:, j, c]
    return out


def replication_seeds(seed: int, program: str, rep: int) -> tuple[int, int]:
    """(simulation seed, fit seed) of one replication, stable across runs
    and independent of which other programs or replications run."""
    seq = np.random.SeedSequence([seed, zlib.crc32(program.encode()), rep])
    sim, fit = seq.generate_state(2)
    return int(sim), int(fit % (2**31 - 1))


PROGRAMS: dict[str, Program] = {
    p.name: p
    for p in (
        Program("normal_1d", "univariate normal, ordered (NormalMixture)", k=3, d=1),
        Program("normal_diag", "normal, diagonal, 2-D (Mixture)", k=2, d=2),
        Program(
            "normal_diag_censored",
            "normal, diagonal, 2-D, censored and missing cells",
            k=2,
            d=2,
            censored=True,
            missing=True,
        ),
        Program(
            "student_t_diag",
            "Student-t, diagonal, 2-D",
            k=2,
            d=2,
            family="student_t",
            family_options=dict(NU_PRIOR),
        ),
        Program(
            "student_t_diag_censored",
            "Student-t, diagonal, 2-D, censored and missing cells",
            k=2,
            d=2,
            family="student_t",
            family_options=dict(NU_PRIOR),
            censored=True,
            missing=True,
        ),
        Program(
            "normal_full",
            "normal, full covariance, 2-D",
            k=2,
            d=2,
            covariance="full",
            family_options={"lkj_eta": LKJ_ETA},
        ),
        Program(
            "normal_full_censored",
            "normal, full covariance, 2-D, censored and missing cells",
            k=2,
            d=2,
            covariance="full",
            family_options={"lkj_eta": LKJ_ETA},
            censored=True,
            missing=True,
        ),
        Program(
            "normal_full_censored_kmeans",
            "the same data sets as normal_full_censored, NUTS from k-means starts",
            k=2,
            d=2,
            covariance="full",
            family_options={"lkj_eta": LKJ_ETA},
            censored=True,
            missing=True,
            fit_options={"init": "kmeans"},
            data_from="normal_full_censored",
            default=False,
        ),
        Program(
            "normal_diag_interval",
            "normal, diagonal, 2-D, left-censored and interval-censored cells",
            k=2,
            d=2,
            censored=True,
            upper_limit={},
            binned={"y": 1.0},
        ),
        Program(
            "normal_spherical_censored",
            "normal, spherical, 2-D, censored and missing cells",
            k=2,
            d=2,
            covariance="spherical",
            censored=True,
            missing=True,
        ),
        Program(
            "normal_tied_censored",
            "normal, tied covariance, 2-D, censored and missing cells",
            k=2,
            d=2,
            covariance="tied",
            family_options={"lkj_eta": LKJ_ETA},
            censored=True,
            missing=True,
        ),
        Program(
            "student_t_full",
            "multivariate Student-t, full covariance, 2-D",
            k=2,
            d=2,
            family="student_t",
            covariance="full",
            family_options={"lkj_eta": LKJ_ETA, **NU_PRIOR},
        ),
        Program(
            "student_t_full_censored",
            "multivariate Student-t, full covariance, 2-D, censored and missing cells",
            k=2,
            d=2,
            family="student_t",
            covariance="full",
            family_options={"lkj_eta": LKJ_ETA, **NU_PRIOR},
            censored=True,
            missing=True,
            default=False,
        ),
        RegressionProgram(
            "regression",
            "mixture of regressions, normal errors, 2 predictors (RegressionMixture)",
            k=2,
            d=1,
        ),
        RegressionProgram(
            "regression_censored",
            "mixture of regressions, normal errors, 2 predictors, censored and "
            "missing responses",
            k=2,
            d=1,
            censored=True,
            missing=True,
            lower_limit={"y": -5.0},
            upper_limit={"y": 4.0},
        ),
        RegressionProgram(
            "regression_student_t_censored",
            "mixture of regressions, Student-t errors, 2 predictors, censored "
            "and missing responses",
            k=2,
            d=1,
            family="student_t",
            family_options=dict(NU_PRIOR),
            censored=True,
            missing=True,
            lower_limit={"y": -5.0},
            upper_limit={"y": 4.0},
        ),
    )
}
