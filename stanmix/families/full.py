"""Full and tied covariance, normal or Student-t components (``full_cov.stan``).

Each component has covariance (for Student-t, scale matrix)
``Sigma_k = diag(sigma_k) Omega_k diag(sigma_k)``; ``tied`` shares one among
all components. Parameters: ``sigma`` (J, D) and ``corr`` (J, D, D) with
J = K (full) or 1 (tied); ``nu`` (K,) for Student-t.

The Stan program integrates a row's only censored cell exactly (a CDF of
its conditional distribution), with normal components a row whose only
cells are two censored ones too (a rectangle's probability by quadrature,
as :mod:`stanmix.families._rectangle` computes it), and the censored cells
of other rows by augmentation (a bounded latent value per cell, see
:func:`latent_cells`). The Python kernel, which gives the log-likelihood and
the memberships, integrates every censored cell exactly: a row
with observed cells O, censored cells C and missing cells M contributes

    log w_k + log f(y_O | k) + log P(y_C in its bounds | y_O, k),

where f is the component's marginal over O and the second factor is the
probability of a rectangle under the conditional distribution of the
censored coordinates given the observed ones (normal: mean
mu_C + S_CO S_OO^-1 (y_O - mu_O), covariance S_CC - S_CO S_OO^-1 S_OC;
Student-t: the same location, nu + |O| degrees of freedom and that matrix
scaled by (nu + d_O) / (nu + |O|), d_O the squared Mahalanobis distance of
y_O). One censored coordinate is a CDF; more are integrated numerically
(:mod:`stanmix.families._rectangle`). Rows are grouped by their (O, C)
pattern so every factorisation is computed once per pattern and draw.
"""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from scipy.special import gammaln
from scipy.stats import norm

from stanmix.cells import INTERVAL, LEFT, OBSERVED, RIGHT, CellTable
from stanmix.exceptions import StanmixInputError
from stanmix.families import _checks
from stanmix.families._rectangle import mvn_log_prob, mvt_log_prob, quadrature_nodes
from stanmix.families.base import (
    COMPONENT,
    DIM,
    PAIR,
    Family,
    Option,
    component_data,
    order_components,
    positive_option,
    split_means,
    start_array,
)
from stanmix.families.student_t import NU_PRIOR, log1p_square

_LOG_2PI = math.log(2.0 * math.pi)
#: Memory for cached per-pattern factorisations (bytes).
_CACHE_BYTES = 256 * 2**20
#: How far (standardized units) inside its limit a censored cell's latent
#: value starts.
_LATENT_OFFSET = 0.25


def pair_labels(columns) -> list[str]:
    """Labels of the correlation pairs i < j, e.g. ``"x:y"``.

    The names are joined by ":" unless a column's name holds one (then
    "a:b:c" could be either pair), in which case by the first of " & ",
    " | " and " ~ " that none holds, or else the pairs are named by the
    columns' positions.

    Examples
    --------
    >>> pair_labels(["x", "y", "z"])
    ['x:y', 'x:z', 'y:z']
    >>> pair_labels(["a", "b:c", "c"])
    ['a & b:c', 'a & c', 'b:c & c']
    """
    columns = [str(c) for c in columns]
    d = len(columns)
    for sep in (":", " & ", " | ", " ~ "):
        if not any(sep in c for c in columns):
            break
    else:
        sep, columns = ":", [str(i) for i in range(d)]
    return [f"{columns[i]}{sep}{columns[j]}" for i in range(d) for j in range(i + 1, d)]


@dataclass(eq=False)
class _Pattern:
    rows: np.ndarray  # (n,) sorted row indices
    obs: np.ndarray  # observed columns
    cens: np.ndarray  # censored columns
    y: np.ndarray  # (n, o) observed values
    lower: np.ndarray  # (n, c) lower bounds (-inf for left-censored)
    upper: np.ndarray  # (n, c) upper bounds (inf for right-censored)


@dataclass
class _Data:
    patterns: list[_Pattern]


@dataclass(eq=False)
class _Par:
    log_w: np.ndarray  # (S, K)
    mu: np.ndarray  # (S, K, D)
    cov: np.ndarray  # (S, J, D, D)
    nu: np.ndarray | None  # (S, K)
    factors: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cached: int = 0


class FullCovariance(Family):
    """Base of the full and tied families (normal or Student-t)."""

    program = "full_cov"
    censoring = "latent"
    threads = True
    # Its partial sum walks the row patterns and builds Cholesky factors per
    # block: slower on two threads than one on stanli (docs/benchmarks.md,
    # "Gradient cost of each program"), so threads only when asked for.
    spare_cores = False
    tied: bool = False
    student_t: bool = False
    #: Whether the program integrates a row's two censored cells beside
    #: observed ones (normal components; :meth:`for_method`).
    integrate_pairs: bool = False
    options: ClassVar[dict[str, Option]] = {
        "lkj_eta": Option(
            2.0,
            "Shape of the LKJ prior on each correlation matrix [2]: 1 is uniform "
            "over correlation matrices; 2 shrinks mildly toward independence and "
            "puts no mass at correlations of +-1.",
            positive_option,
        ),
    }

    #: The most columns full_cov.stan takes (it keys a row's pattern of
    #: cells by one bit per column, in a real that must hold it exactly).
    max_columns: ClassVar[int] = 30

    def for_method(self, method: str) -> FullCovariance:
        """This family set up for ``method``: optimize and ADVI have the
        program integrate a row's two censored cells beside observed ones
        (on their joint density with latent values they would find the
        joint mode, far from the posterior's); NUTS samples such cells as
        latent values, which it does correctly at less cost per gradient:
        on stanli each such row adds 0.03-0.05 ms per component to every
        gradient where both cells are one-sided, about 0.2 ms with an
        interval cell (docs/benchmarks.md, "What the integrated rows cost
        the optimizer and ADVI")."""
        out = copy.copy(self)
        out.integrate_pairs = method != "sample"
        return out

    def validate(self, k: int, d: int) -> None:
        if d > self.max_columns:
            raise StanmixInputError(
                f"covariance={'tied' if self.tied else 'full'!r} handles at most "
                f"{self.max_columns} columns, got {d}; use covariance='diag' or "
                "covariance='spherical' (any number of columns), or fewer "
                "columns (e.g. the leading principal components)"
            )

    # -- shapes -----------------------------------------------------------------
    def _n_cov(self, k: int) -> int:
        return 1 if self.tied else k

    def param_dims(self):
        lead = () if self.tied else (COMPONENT,)
        dims = {
            "w": (COMPONENT,),
            "mu": (COMPONENT, DIM),
            "sigma": (*lead, DIM),
            "corr": (*lead, PAIR),
        }
        if self.student_t:
            dims["nu"] = (COMPONENT,)
        return dims

    def n_parameters(self, k, d):
        j = self._n_cov(k)
        nu = k if self.student_t else 0
        return k * d + j * d + j * d * (d - 1) // 2 + (k - 1) + nu

    # -- Stan ---------------------------------------------------------------------
    def stan_data(self, cells, k, layout, priors, guide, units):
        data = component_data(cells, k, layout, priors, guide)
        d = cells.n_dims
        data.update(
            tied=int(self.tied),
            student_t=int(self.student_t),
            sigma_loc=np.full(d, float(priors.scale_median)),
            sigma_scale=np.full(d, float(priors.scale_log_sd)),
            lkj_eta=float(self.settings["lkj_eta"]),
            nu_shape=float(self.settings.get("nu_shape", NU_PRIOR["nu_shape"].default)),
            nu_rate=float(self.settings.get("nu_rate", NU_PRIOR["nu_rate"].default)),
            grainsize=0,
            integrate_pairs=int(self.integrate_pairs),
        )
        return data

    def n_latent(self, cells):
        return int(latent_cells(cells, self.student_t, self.integrate_pairs)[0].size)

    def integrated_pairs(self, cells):
        if not self.integrate_pairs or self.student_t:
            return 0, 0
        beside = (cells.kind == OBSERVED).any(axis=1)
        pairs = (cells.censored.sum(axis=1) == 2) & beside
        interval = pairs & (cells.kind == INTERVAL).any(axis=1)
        return int((pairs & ~interval).sum()), int(interval.sum())

    def row_costs(self, cells):
        censored = cells.censored.sum(axis=1)
        nodes = {
            int(c): quadrature_nodes(int(c), self.student_t)
            for c in np.unique(censored)
        }
        return np.array([nodes[int(c)] for c in censored], dtype=float)

    def stan_init(self, params, cells, layout):
        params = order_components(params, layout)
        w = np.asarray(params["w"], dtype=float)
        corr = np.asarray(params["corr"], dtype=float)
        init = {
            **split_means(np.asarray(params["mu"], dtype=float), layout),
            "sigma": np.asarray(params["sigma"], dtype=float),
            "L_corr": np.linalg.cholesky(corr),
            "nu": np.asarray(params["nu"], dtype=float)
            if self.student_t
            else np.empty(0),
            "w": w / w.sum(),
        }
        init.update(_latent_init(cells, self.student_t, self.integrate_pairs))
        return init

    def stan_shapes(self, k, d):
        j = self._n_cov(k)
        out = {"w": (k,), "mu": (k, d), "sigma": (j, d), "L_corr": (j, d, d)}
        if self.student_t:
            out["nu"] = (k,)
        return out

    def from_stan(self, variables):
        lower = np.asarray(variables["L_corr"])
        out = {
            "w": np.asarray(variables["w"]),
            "mu": np.asarray(variables["mu"]),
            "sigma": np.asarray(variables["sigma"]),
            "corr": lower @ np.swapaxes(lower, -1, -2),
        }
        if self.student_t:
            out["nu"] = np.asarray(variables["nu"])
        return out

    # -- starts -------------------------------------------------------------------
    def start(self, means, scales, weights, corr=None):
        means = np.asarray(means, dtype=float)
        scales = np.asarray(scales, dtype=float)
        k, d = means.shape
        corr = np.broadcast_to(np.eye(d), (k, d, d)) if corr is None else corr
        corr = np.asarray(corr, dtype=float).reshape(-1, d, d)
        if self.tied:
            weights_ = np.asarray(weights, dtype=float)
            scales = np.sqrt((weights_[:, None] * scales**2).sum(0, keepdims=True))
            corr = np.eye(d)[None] if corr.shape[0] != 1 else corr
        out = {
            "w": np.asarray(weights, dtype=float),
            "mu": means,
            "sigma": scales,
            "corr": np.array(corr),
        }
        if self.student_t:
            out["nu"] = np.full(k, 10.0)
        return out

    def check_start(self, values, k, d, where):
        own = ("corr", "nu") if self.student_t else ("corr",)
        extra = {key: values[key] for key in own if key in values}
        rest = {key: v for key, v in values.items() if key not in extra}
        j = self._n_cov(k)
        sigma = rest.get("sigma")
        if self.tied and sigma is not None:
            # one scale per column, shared by every component: D values (or
            # K rows that agree); K per-component values have no meaning here
            shared = start_array(
                sigma,
                "sigma",
                [(d,), (1, d), (k, d)],
                where,
                f"; tied components share one scale per column: give {d} values",
            ).reshape(-1, d)
            first = np.broadcast_to(shared[:1], shared.shape)
            if not np.array_equal(shared, first, equal_nan=True):
                raise StanmixInputError(
                    f"{where}: 'sigma' of tied components is one scale per "
                    f"column, shared by every component, but its {k} rows "
                    f"differ; give {d} values"
                )
            rest["sigma"] = np.broadcast_to(shared[:1], (k, d))
        out = super().check_start(rest, k, d, where)
        if self.tied:
            out["sigma"] = np.array(rest["sigma"][:1])
        if "corr" in extra:
            corr = start_array(
                extra["corr"],
                "corr",
                [(j, d, d), *([(d, d)] if j == 1 else [])],
                where,
                f"; {j} correlation matrices of {d} x {d}",
            ).reshape(j, d, d)
            try:
                np.linalg.cholesky(corr)
            except (TypeError, ValueError, np.linalg.LinAlgError):
                raise StanmixInputError(
                    f"{where}: 'corr' must be {j} positive-definite {d} x {d} "
                    "correlation matrices"
                ) from None
            if not np.allclose(np.diagonal(corr, axis1=-2, axis2=-1), 1.0):
                raise StanmixInputError(f"{where}: 'corr' must have a unit diagonal")
            if not np.allclose(corr, np.swapaxes(corr, -1, -2)):
                raise StanmixInputError(
                    f"{where}: 'corr' must be symmetric (entry [i, j] equal to [j, i])"
                )
            out["corr"] = corr
        if "nu" in extra:
            nu = start_array(extra["nu"], "nu", [(k,)], where)
            if not np.all(np.isfinite(nu) & (nu > 1)):
                raise StanmixInputError(f"{where}: 'nu' needs {k} values above 1")
            out["nu"] = nu
        return out

    def jitter(self, params, rng, size=0.05):
        out = super().jitter(params, rng, size)
        if self.student_t:
            out["nu"] = 1.0 + (params["nu"] - 1.0) * np.exp(
                size * rng.standard_normal(params["nu"].shape)
            )
        return out

    # -- posterior ------------------------------------------------------------------
    def to_posterior(self, params, columns):
        dims = {n: list(v) for n, v in self.param_dims().items()}
        d = len(columns)
        iu, ju = np.triu_indices(d, 1)
        variables = {name: params[name] for name in dims if name != "corr"}
        corr = params["corr"][..., iu, ju]
        if self.tied:
            variables["sigma"] = params["sigma"][..., 0, :]
            corr = corr[..., 0, :]
        if d > 1:
            variables["corr"] = corr
        else:
            del dims["corr"]
        coords = {
            COMPONENT: np.arange(params["w"].shape[-1]),
            DIM: list(columns),
            PAIR: pair_labels(columns),
        }
        return variables, dims, coords

    def from_posterior(self, posterior):
        dims = self.param_dims()
        out = {}
        for name in ("w", "mu", "sigma", "nu"):
            if name in dims:
                arr = posterior[name].transpose("chain", "draw", *dims[name]).to_numpy()
                out[name] = arr.reshape(-1, *arr.shape[2:])
        d = out["mu"].shape[-1]
        if self.tied:
            out["sigma"] = out["sigma"][:, None, :]
        j = out["sigma"].shape[1]
        corr = np.broadcast_to(np.eye(d), (out["w"].shape[0], j, d, d)).copy()
        if d > 1:
            pairs = posterior["corr"].transpose("chain", "draw", *dims["corr"])
            pairs = pairs.to_numpy().reshape(out["w"].shape[0], j, -1)
            iu, ju = np.triu_indices(d, 1)
            corr[..., iu, ju] = pairs
            corr[..., ju, iu] = pairs
        out["corr"] = corr
        return out

    def check_draws(self, params, n_dims):
        w = _checks.weights(params)
        s, k = w.shape
        j = self._n_cov(k)
        out = {
            "w": w,
            "mu": _checks.per_component(params, "mu", s, k, n_dims),
            "sigma": _checks.draws(
                params,
                "sigma",
                (s, j, n_dims),
                ("draw", "covariance", "dimension"),
                positive=True,
            ),
            "corr": _checks.draws(
                params,
                "corr",
                (s, j, n_dims, n_dims),
                ("draw", "covariance", "row", "column"),
            ),
        }
        if self.student_t:
            out["nu"] = _checks.draws(
                params, "nu", (s, k), ("draw", "component"), positive=True
            )
        return out

    def covariances(self, params):
        sigma, corr = params["sigma"], params["corr"]
        cov = sigma[..., :, None] * corr * sigma[..., None, :]
        k = params["w"].shape[-1]
        if self.tied:
            cov = np.broadcast_to(cov, (*cov.shape[:-3], k, *cov.shape[-2:]))
        return cov

    def _simulate_rows(self, params, labels, rng):
        chol = np.linalg.cholesky(
            self.covariances({k: v[None] for k, v in params.items()})[0]
        )
        z = rng.standard_normal((labels.size, chol.shape[-1]))
        rows = np.einsum("nij,nj->ni", chol[labels], z)
        if self.student_t:
            nu = params["nu"][labels]
            rows /= np.sqrt(rng.chisquare(nu) / nu)[:, None]
        return params["mu"][labels] + rows

    def marginal_log_pdf(self, x, params, d):
        k = params["w"].shape[-1]
        mu = params["mu"][..., d, None]
        sigma = np.broadcast_to(
            params["sigma"][..., d], (*params["sigma"].shape[:-2], k)
        )[..., None]
        x = np.asarray(x, dtype=float)
        if not self.student_t:
            return norm.logpdf(x, mu, sigma)
        nu = params["nu"][..., None]
        z = (x - mu) / sigma
        return (
            gammaln(0.5 * (nu + 1.0))
            - gammaln(0.5 * nu)
            - 0.5 * np.log(nu * np.pi)
            - np.log(sigma)
            - 0.5 * (nu + 1.0) * log1p_square(z, nu)
        )

    # -- kernel ---------------------------------------------------------------------
    def prepare_data(self, cells: CellTable) -> _Data:
        kind = cells.kind
        obs = kind == OBSERVED
        cens = np.isin(kind, (LEFT, RIGHT, INTERVAL))
        # One integer key per row: 0 missing, 1 observed, 2 censored per column.
        code = np.where(obs, 1, np.where(cens, 2, 0)) @ (3 ** np.arange(cells.n_dims))
        order = np.argsort(code, kind="stable")
        keys, starts = np.unique(code[order], return_index=True)
        bounds = np.append(starts, cells.n_obs)
        lower = np.where(kind == LEFT, -np.inf, cells.lower)
        upper = np.where(kind == RIGHT, np.inf, cells.upper)
        patterns = []
        for p in range(keys.size):
            rows = np.sort(order[bounds[p] : bounds[p + 1]])
            first = rows[0]
            o = np.flatnonzero(obs[first])
            c = np.flatnonzero(cens[first])
            patterns.append(
                _Pattern(
                    rows=rows,
                    obs=o,
                    cens=c,
                    y=cells.values[np.ix_(rows, o)],
                    lower=lower[np.ix_(rows, c)],
                    upper=upper[np.ix_(rows, c)],
                )
            )
        return _Data(patterns)

    def prepare_params(self, params, data) -> _Par:
        sigma, corr = params["sigma"], params["corr"]
        cov = sigma[..., :, None] * corr * sigma[..., None, :]
        with np.errstate(divide="ignore"):
            log_w = np.log(params["w"])
        return _Par(
            log_w=log_w,
            mu=params["mu"],
            cov=cov,
            nu=params.get("nu") if self.student_t else None,
        )

    def _factors(self, par: _Par, p: int, pattern: _Pattern) -> dict:
        """Per-pattern factorisations over the draws, cached within a budget."""
        found = par.factors.get(p)
        if found is not None:
            return found
        o, c = pattern.obs, pattern.cens
        cov = par.cov
        out: dict = {}
        if o.size:
            s_oo = cov[..., o[:, None], o[None, :]]
            chol = np.linalg.cholesky(s_oo)
            inv = np.linalg.inv(chol)
            out["inv"] = inv  # (S, J, o, o): L_O^-1
            out["log_det"] = np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(-1)
        if c.size:
            s_cc = cov[..., c[:, None], c[None, :]]
            if o.size:
                s_co = cov[..., c[:, None], o[None, :]]
                half = s_co @ np.swapaxes(out["inv"], -1, -2)  # S_CO L_O^-T
                out["gain"] = half @ out["inv"]  # S_CO S_OO^-1
                s_cc = s_cc - half @ np.swapaxes(half, -1, -2)
            out["cond_chol"] = np.linalg.cholesky(s_cc)
        size = sum(a.nbytes for a in out.values())
        with par.lock:
            if par.cached + size <= _CACHE_BYTES:
                par.factors[p] = out
                par.cached += size
        return out

    def block_log_terms(self, data: _Data, par: _Par, start: int, stop: int):
        n_draws, k = par.log_w.shape
        lp = np.empty((stop - start, k, n_draws))
        j_of_k = np.zeros(k, dtype=int) if self.tied else np.arange(k)
        for p, pattern in enumerate(data.patterns):
            lo, hi = np.searchsorted(pattern.rows, [start, stop])
            if lo == hi:
                continue
            rows = pattern.rows[lo:hi]
            f = self._factors(par, p, pattern)
            terms = np.broadcast_to(
                par.log_w[:, :, None], (n_draws, k, rows.size)
            ).copy()  # (S, K, r)
            m = pattern.obs.size
            q = diff = None
            if m:
                diff = pattern.y[lo:hi][None, None] - par.mu[..., None, pattern.obs]
                inv = f["inv"][:, j_of_k]  # (S, K, o, o)
                z = np.einsum("skab,skrb->skra", inv, diff)
                q = np.einsum("skra,skra->skr", z, z)
                log_det = f["log_det"][:, j_of_k, None]
                if self.student_t:
                    nu = par.nu[..., None]
                    terms += (
                        gammaln(0.5 * (nu + m))
                        - gammaln(0.5 * nu)
                        - 0.5 * m * np.log(nu * np.pi)
                        - log_det
                        - 0.5 * (nu + m) * log1p_square(_length(z, q), nu)
                    )
                else:
                    terms += -0.5 * q - log_det - 0.5 * m * _LOG_2PI
            if pattern.cens.size:
                terms += self._censored(par, f, pattern, lo, hi, j_of_k, q, diff)
            lp[rows - start] = terms.transpose(2, 1, 0)
        return lp

    def _censored(self, par, f, pattern, lo, hi, j_of_k, q, diff):
        """log P(censored cells in their bounds | observed cells): (S, K, r)."""
        n_draws, k = par.log_w.shape
        r, c = hi - lo, pattern.cens.size
        loc = np.broadcast_to(
            par.mu[..., None, pattern.cens], (n_draws, k, r, c)
        ).copy()
        if diff is not None:
            loc += np.einsum("skcb,skrb->skrc", f["gain"][:, j_of_k], diff)
        chol = np.broadcast_to(f["cond_chol"][:, j_of_k, None], (n_draws, k, r, c, c))
        lower = pattern.lower[lo:hi][None, None] - loc
        upper = pattern.upper[lo:hi][None, None] - loc
        flat = lambda a: a.reshape(-1, *a.shape[3:])  # noqa: E731
        if not self.student_t:
            out = mvn_log_prob(flat(lower), flat(upper), flat(chol))
            return out.reshape(n_draws, k, r)
        m = pattern.obs.size
        nu = np.broadcast_to(par.nu[..., None], (n_draws, k, r))
        if m:
            chol = chol * np.sqrt((nu + q) / (nu + m))[..., None, None]
        out = mvt_log_prob(
            flat(lower),
            flat(upper),
            flat(np.ascontiguousarray(chol)),
            (nu + m).reshape(-1),
        )
        return out.reshape(n_draws, k, r)


def _length(z: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The length of each vector along the last axis of ``z``, whose squared
    length ``q`` overflows where a coordinate is beyond about 1e154.

    >>> _length(np.array([[3.0, 4.0], [3e200, 4e200]]), np.array([25.0, np.inf]))
    array([5.e+000, 5.e+200])
    """
    if np.isfinite(q).all():
        return np.sqrt(q)
    big = np.abs(z).max(axis=-1, keepdims=True)
    unit = z / np.where(big > 0, big, 1.0)
    return big[..., 0] * np.sqrt(np.einsum("...a,...a->...", unit, unit))


def latent_cells(
    cells: CellTable, student_t: bool, integrate_pairs: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the cells ``full_cov.stan`` samples as latent
    values, row by row: the censored cells of rows with two or more, except,
    with normal components, a row whose only cells are two censored ones,
    or any row's two censored cells with ``integrate_pairs`` (the program
    integrates those, as a row's only censored cell).

    Examples
    --------
    >>> from stanmix.cells import MISSING, CellTable
    >>> nan = np.nan
    >>> cells = CellTable(
    ...     np.array([[nan, nan, nan], [nan, nan, 3.0]]),
    ...     np.array([[LEFT, RIGHT, MISSING], [LEFT, LEFT, OBSERVED]]),
    ...     np.array([[nan, 0.5, nan], [nan, nan, nan]]),
    ...     np.array([[0.0, nan, nan], [0.0, 1.0, nan]]))
    >>> latent_cells(cells, student_t=True)
    (array([0, 0, 1, 1]), array([0, 1, 0, 1]))
    >>> latent_cells(cells, student_t=False)
    (array([1, 1]), array([0, 1]))
    >>> latent_cells(cells, student_t=False, integrate_pairs=True)
    (array([], dtype=int64), array([], dtype=int64))
    """
    censored = cells.censored
    count = censored.sum(axis=1)
    alone = ~(cells.kind == OBSERVED).any(axis=1)
    pair = (count == 2) & (alone | integrate_pairs) & (not student_t)
    latent = (count > 1) & ~pair
    return np.nonzero(censored & latent[:, None])


def _latent_init(cells: CellTable, student_t: bool, integrate_pairs: bool) -> dict:
    """Starting latent values (standardized units), just inside their
    limits, in the program's order."""
    rows, cols = latent_cells(cells, student_t, integrate_pairs)
    kind = cells.kind[rows, cols]
    lower, upper = cells.lower[rows, cols], cells.upper[rows, cols]
    values = np.where(
        kind == LEFT,
        upper - _LATENT_OFFSET,
        np.where(kind == RIGHT, lower + _LATENT_OFFSET, 0.5 * (lower + upper)),
    )
    return {"y_latent": values}


class NormalFull(FullCovariance):
    """Multivariate normal components, each with its own full covariance."""

    family = "normal"
    covariance = "full"
    description = "multivariate normal, full covariance per component"
    stan_flags: ClassVar[dict[str, int]] = {"tied": 0, "student_t": 0}


class NormalTied(FullCovariance):
    """Multivariate normal components sharing one full covariance."""

    family = "normal"
    covariance = "tied"
    tied = True
    description = "multivariate normal, one full covariance shared by all"
    stan_flags: ClassVar[dict[str, int]] = {"tied": 1, "student_t": 0}


_T_OPTIONS = {**FullCovariance.options, **NU_PRIOR}


class StudentTFull(FullCovariance):
    """Multivariate Student-t components, each with its own scale matrix."""

    family = "student_t"
    label = "Student-t"
    covariance = "full"
    student_t = True
    spread_name = "scale"
    options: ClassVar[dict[str, Option]] = _T_OPTIONS
    description = "multivariate Student-t, full scale matrix per component"
    stan_flags: ClassVar[dict[str, int]] = {"tied": 0, "student_t": 1}


class StudentTTied(FullCovariance):
    """Multivariate Student-t components sharing one scale matrix."""

    family = "student_t"
    label = "Student-t"
    covariance = "tied"
    tied = True
    student_t = True
    spread_name = "scale"
    options: ClassVar[dict[str, Option]] = _T_OPTIONS
    description = "multivariate Student-t, one scale matrix shared by all"
    stan_flags: ClassVar[dict[str, int]] = {"tied": 1, "student_t": 1}


__all__ = ["NormalFull", "NormalTied", "StudentTFull", "StudentTTied", "pair_labels"]
