"""Student-t components with diagonal or spherical scales (``student_t_diag.stan``).

Given its component, each cell is Student-t with the component's degrees of
freedom ``nu`` (one per component), location ``mu`` and scale ``sigma``;
the columns are independent given the component. Heavy tails let a
component keep its outlying cells instead of spending another component on
them. The kernel mirrors ``student_t_diag_log_terms`` in
``stan/cells.stanfunctions``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy.special import betainc, betaln, gammaln, hyp2f1

from stanmix.cells import OBSERVED, CellTable
from stanmix.exceptions import StanmixInputError
from stanmix.families import _checks
from stanmix.families._diagonal import (
    Censored,
    DiagonalFamily,
    add_censored,
    censored_terms,
)
from stanmix.families.base import COMPONENT, Option, positive_option, start_array

_LOG_HALF = math.log(0.5)


def t_log_cdf(z: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """log P(T <= z) for Student-t with ``nu`` degrees of freedom, accurate
    in both tails (through the regularised incomplete beta function, and
    its series in log space where the function itself would underflow).

    Examples
    --------
    >>> from scipy.stats import t
    >>> bool(np.allclose(t_log_cdf(np.array([-30.0, 0.5]), np.array([3.0, 3.0])),
    ...                  t.logcdf([-30.0, 0.5], 3.0)))
    True
    >>> round(float(t_log_cdf(np.array(-1e200), np.array(4.0))), 2)  # not -inf
    -1840.97
    """
    z, nu = np.broadcast_arrays(np.asarray(z, dtype=float), np.asarray(nu, float))
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        z2 = z * z
        tail = betainc(0.5 * nu, 0.5, nu / (nu + z2))  # P(|T| > |z|)
        log_tail = np.log(tail, out=np.empty(np.shape(tail)))
        small = (tail < _SMALL_TAIL) & np.isfinite(z)
        if small.any():
            zs, ns = z[small], nu[small]
            log_x = np.log(ns) - 2.0 * np.log(np.abs(zs)) - np.log1p(ns / (zs * zs))
            log_tail[small] = log_beta_tail(log_x, 0.5 * ns)
        out = np.where(z < 0, _LOG_HALF + log_tail, np.log1p(-0.5 * tail))
        # Near the centre nu / (nu + z^2) rounds towards 1, losing what
        # separates the CDF from 1/2: where P(|T| > |z|) is above 1/2,
        # P(|T| <= |z|) is taken from z^2 / (nu + z^2), computed as it is.
        centre = tail > 0.5
        if centre.any():
            zc, nc = z[centre], nu[centre]
            inner = betainc(0.5, 0.5 * nc, z2[centre] / (nc + z2[centre]))
            out[centre] = _LOG_HALF + np.log1p(np.where(zc < 0, -inner, inner))
        return out


#: Below this, P(|T| > |z|) is taken from its series in log space.
_SMALL_TAIL = 1e-280


def log1p_square(z: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """log(1 + z^2 / nu), the Student-t density's kernel, without z^2
    overflowing where |z| is beyond 1e150."""
    z, nu = np.broadcast_arrays(np.abs(np.asarray(z, float)), np.asarray(nu, float))
    far = z > 1e150
    if not far.any():
        return np.log1p(z * z / nu)
    near = np.where(far, 0.0, z)
    zf = np.where(far, z, 1.0)
    return np.where(
        far,
        2.0 * np.log(zf) - np.log(nu) + np.log1p(nu / zf / zf),
        np.log1p(near * near / nu),
    )


def log_beta_tail(log_x: np.ndarray, a: np.ndarray) -> np.ndarray:
    """log I_x(a, 1/2), the regularised incomplete beta function, from
    log x, for x well below 1 (where the series converges fast):
    I_x(a, b) = x^a (1 - x)^b / (a B(a, b)) 2F1(a + b, 1; a + 1; x).
    Stays finite where I_x itself underflows."""
    x = np.exp(log_x)
    series = hyp2f1(a + 0.5, 1.0, a + 1.0, x)
    lost = ~np.isfinite(series)  # scipy's 2F1 fails for large a with x near 1
    if lost.any():
        series = np.where(lost, _beta_fraction(a, 0.5, x), series)
    return a * log_x + 0.5 * np.log1p(-x) - np.log(a) - betaln(a, 0.5) + np.log(series)


def _beta_fraction(a: np.ndarray, b: float, x: np.ndarray, steps: int = 200):
    """The continued fraction of I_x(a, b) (modified Lentz's method), equal
    to a B(a, b) I_x(a, b) / (x^a (1 - x)^b); it converges for
    x < (a + 1) / (a + b + 2), which holds in the tails it serves (|z| > 2)."""
    tiny = 1e-300

    def guard(v):
        return np.where(np.abs(v) < tiny, tiny, v)

    a, x = np.broadcast_arrays(np.asarray(a, float), np.asarray(x, float))
    c = np.ones_like(x)
    d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0))
    h = d.copy()
    for m in range(1, steps + 1):
        step = m * (b - m) * x / ((a - 1.0 + 2 * m) * (a + 2 * m))
        d = 1.0 / guard(1.0 + step * d)
        c = guard(1.0 + step / c)
        h *= d * c
        step = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 1.0 + 2 * m))
        d = 1.0 / guard(1.0 + step * d)
        c = guard(1.0 + step / c)
        change = d * c
        h *= change
        if np.all(np.abs(change - 1.0) < 1e-16):
            break
    return h


#: The gamma(shape, rate) prior on each component's degrees of freedom nu
#: (nu >= 1). The default gamma(2, 0.05) has zero density at 0, like Juarez
#: and Steel's gamma(2, 0.1), but a tail twice as long (mean 40, median 34),
#: so that clean data can show normal-like components (on three clean
#: normal clusters of 200 points the posterior medians of nu are about 45)
#: instead of the prior holding nu near 20.
NU_PRIOR = {
    "nu_shape": Option(
        2.0, "Shape of the gamma prior on each nu [2].", positive_option
    ),
    "nu_rate": Option(
        0.05, "Rate of the gamma prior on each nu [0.05].", positive_option
    ),
}


@dataclass(frozen=True, eq=False)
class _Data:
    values: np.ndarray  # (N, D), 0 where not observed
    observed: np.ndarray  # (N, D) bool
    censored: tuple[Censored | None, ...]


@dataclass(frozen=True, eq=False)
class _Par:
    mu: np.ndarray  # (D, K, S)
    sigma: np.ndarray  # (D, K, S)
    nu: np.ndarray  # (K, S)
    const: np.ndarray  # (D, K, S): lgamma terms - log(sigma)
    log_w: np.ndarray  # (K, S)


class StudentTDiag(DiagonalFamily):
    """Student-t components, one scale per component and column."""

    family = "student_t"
    label = "Student-t"
    covariance = "diag"
    program = "student_t_diag"
    spread_name = "scale"
    description = (
        "Student-t cells (independent given the component), one scale per "
        "component and column, one nu per component"
    )
    options: ClassVar[dict[str, Option]] = NU_PRIOR

    stan_flags: ClassVar[dict[str, int]] = {"spherical": 0}

    def _own_dims(self):
        return {"nu": (COMPONENT,)}

    def stan_data(self, cells, k, layout, priors, guide, units):
        data = super().stan_data(cells, k, layout, priors, guide, units)
        data["nu_shape"] = float(self.settings["nu_shape"])
        data["nu_rate"] = float(self.settings["nu_rate"])
        return data

    def _own_init(self, params):
        return {"nu": np.asarray(params["nu"], dtype=float)}

    def start(self, means, scales, weights):
        out = super().start(means, scales, weights)
        out["nu"] = np.full(np.asarray(weights).shape, 10.0)
        return out

    def check_start(self, values, k, d, where):
        extra = {key: values[key] for key in ("nu",) if key in values}
        rest = {key: v for key, v in values.items() if key not in extra}
        out = super().check_start(rest, k, d, where)
        if "nu" in extra:
            nu = start_array(extra["nu"], "nu", [(k,)], where)
            if not np.all(np.isfinite(nu) & (nu > 1)):
                raise StanmixInputError(f"{where}: 'nu' must be above 1")
            out["nu"] = nu
        return out

    def from_stan(self, variables):
        out = super().from_stan(variables)
        out["nu"] = np.asarray(variables["nu"])
        return out

    def _check_own(self, params, s, k):
        return {
            "nu": _checks.draws(
                params, "nu", (s, k), ("draw", "component"), positive=True
            )
        }

    def jitter(self, params, rng, size=0.05):
        out = super().jitter(params, rng, size)
        out["nu"] = 1.0 + (params["nu"] - 1.0) * np.exp(
            size * rng.standard_normal(params["nu"].shape)
        )
        return out

    # -- kernel ---------------------------------------------------------------
    def prepare_data(self, cells: CellTable) -> _Data:
        observed = cells.kind == OBSERVED
        _, censored = super().prepare_data(cells)
        return _Data(np.where(observed, cells.values, 0.0), observed, censored)

    def prepare_params(self, params, data):
        mu = np.ascontiguousarray(params["mu"].transpose(2, 1, 0))
        sigma = np.ascontiguousarray(params["sigma"].transpose(2, 1, 0))
        nu = np.ascontiguousarray(params["nu"].T)
        const = (
            gammaln(0.5 * (nu + 1.0)) - gammaln(0.5 * nu) - 0.5 * np.log(nu * np.pi)
        )[None] - np.log(sigma)
        with np.errstate(divide="ignore"):
            log_w = np.log(params["w"].T)
        return _Par(mu=mu, sigma=sigma, nu=nu, const=const, log_w=log_w)

    def block_log_terms(self, data: _Data, par: _Par, start: int, stop: int):
        rows = stop - start
        lp = np.broadcast_to(par.log_w, (rows, *par.log_w.shape)).copy()
        half = 0.5 * (par.nu + 1.0)
        for d in range(par.mu.shape[0]):
            seen = np.flatnonzero(data.observed[start:stop, d])
            if seen.size == 0:
                continue
            y = data.values[start:stop, d][seen][:, None, None]
            z = (y - par.mu[d]) / par.sigma[d]
            lp[seen] += par.const[d] - half * log1p_square(z, par.nu)

        def terms(kind, lower, upper, d):
            def log_cdf(x):
                return t_log_cdf(x, par.nu)

            return censored_terms(kind, lower, upper, par.mu[d], par.sigma[d], log_cdf)

        return add_censored(lp, data.censored, start, stop, terms)

    def _simulate_rows(self, params, labels, rng):
        mu, sigma = params["mu"][labels], params["sigma"][labels]
        nu = params["nu"][labels][:, None]
        return mu + sigma * rng.standard_t(np.broadcast_to(nu, mu.shape))

    def marginal_log_pdf(self, x, params, d):
        mu = params["mu"][..., d, None]
        sigma = params["sigma"][..., d, None]
        nu = params["nu"][..., None]
        z = (np.asarray(x, dtype=float) - mu) / sigma
        return (
            gammaln(0.5 * (nu + 1.0))
            - gammaln(0.5 * nu)
            - 0.5 * np.log(nu * np.pi)
            - np.log(sigma)
            - 0.5 * (nu + 1.0) * log1p_square(z, nu)
        )


class StudentTSpherical(StudentTDiag):
    """Student-t components with one scale per component for all columns."""

    covariance = "spherical"
    spherical = True
    shared_scale = True
    description = "Student-t cells, one scale and one nu per component"
    stan_flags: ClassVar[dict[str, int]] = {"spherical": 1}
