"""What the diagonal-scale families share: columns independent given the
component, so a row's log term is a sum of cell terms, and censored cells
are exact through the component's CDF.

Censored cells are evaluated once per distinct (kind, limits) of a column in
a block, per draw and component: a detection limit shared by a column costs
next to nothing, while a different limit in every censored cell costs one
special-function evaluation per cell, draw and component.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from stanmix.cells import INTERVAL, LEFT, RIGHT, CellTable
from stanmix.families import _checks
from stanmix.families.base import (
    COMPONENT,
    DIM,
    Family,
    Params,
    Priors,
    component_data,
    order_components,
    split_means,
)

HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


@dataclass(frozen=True, eq=False)
class Censored:
    """The censored cells of one column, sorted by row."""

    rows: np.ndarray  # (C,) row index
    key: np.ndarray  # (C,) index into the distinct limits below
    kind: np.ndarray  # (U,) kind of each distinct (kind, lower, upper)
    lower: np.ndarray  # (U,)
    upper: np.ndarray  # (U,)


def prepare_censored(cells: CellTable) -> tuple[Censored | None, ...]:
    """Per column, its censored cells with their distinct limits."""
    out = []
    for d in range(cells.n_dims):
        kinds = cells.kind[:, d]
        rows = np.nonzero((kinds == LEFT) | (kinds == RIGHT) | (kinds == INTERVAL))[0]
        if rows.size == 0:
            out.append(None)
            continue
        kind = kinds[rows].astype(np.float64)
        lower = np.where(kinds[rows] == LEFT, 0.0, cells.lower[rows, d])
        upper = np.where(kinds[rows] == RIGHT, 0.0, cells.upper[rows, d])
        table = np.stack([kind, lower, upper], axis=1)
        distinct, key = np.unique(table, axis=0, return_inverse=True)
        out.append(
            Censored(
                rows=rows,
                key=key.reshape(-1),
                kind=distinct[:, 0].astype(np.int8),
                lower=distinct[:, 1],
                upper=distinct[:, 2],
            )
        )
    return tuple(out)


#: cell_log_prob(kind (U,), lower (U,1,1), upper (U,1,1), d) -> (U, K, S)
CellLogProb = Callable[[np.ndarray, np.ndarray, np.ndarray, int], np.ndarray]


def add_censored(
    lp: np.ndarray,
    censored: tuple[Censored | None, ...],
    start: int,
    stop: int,
    cell_log_prob: CellLogProb,
) -> np.ndarray:
    """Add the censored cells' terms of rows start:stop to lp (rows, K, S)."""
    for d, cens in enumerate(censored):
        if cens is None:
            continue
        lo, hi = np.searchsorted(cens.rows, [start, stop])
        if lo == hi:
            continue
        keys, local = np.unique(cens.key[lo:hi], return_inverse=True)
        terms = cell_log_prob(
            cens.kind[keys],
            cens.lower[keys][:, None, None],
            cens.upper[keys][:, None, None],
            d,
        )
        # Row by row: in place, and much faster than a fancy-indexed update.
        for row, key in zip(
            (cens.rows[lo:hi] - start).tolist(), local.reshape(-1).tolist(), strict=True
        ):
            lp[row] += terms[key]
    return lp


def log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x <= 0, accurate on both sides of -log 2."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x > -math.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def censored_terms(
    kind: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    loc: np.ndarray,
    scale: np.ndarray,
    log_cdf: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Terms (U, K, S) of censored cells for a location-scale family whose
    standard distribution is symmetric with log CDF ``log_cdf`` (applied in
    place to a float64 array it may overwrite).

    Intervals in the upper half are evaluated through the mirror image
    F(-lower) - F(-upper), so that both tails keep full precision.
    """
    out = np.empty((kind.size, *loc.shape))
    for code in (LEFT, RIGHT, INTERVAL):
        sel = kind == code
        if not np.any(sel):
            continue
        whole = bool(np.all(sel))
        part = out if whole else np.empty((int(sel.sum()), *loc.shape))
        if code == LEFT:
            np.subtract(upper[sel], loc, out=part)
            part /= scale
            part[...] = log_cdf(part)
        elif code == RIGHT:
            np.subtract(loc, lower[sel], out=part)
            part /= scale
            part[...] = log_cdf(part)
        else:
            lz = (lower[sel] - loc) / scale
            uz = (upper[sel] - loc) / scale
            mirror = (lz + uz) > 0
            hi = log_cdf(np.where(mirror, -lz, uz))
            lo = log_cdf(np.where(mirror, -uz, lz))
            part[...] = hi + log1mexp(lo - hi)
        if not whole:
            out[sel] = part
    return out


class DiagonalFamily(Family):
    """Base of the families whose columns are independent given the component:
    ``sigma`` (K, D) scales, or one scale per component when spherical."""

    spherical: bool = False
    threads: ClassVar[bool] = True

    def _own_dims(self) -> dict[str, tuple[str, ...]]:
        return {}

    def param_dims(self) -> dict[str, tuple[str, ...]]:
        scale = (COMPONENT,) if self.spherical else (COMPONENT, DIM)
        return {
            "w": (COMPONENT,),
            "mu": (COMPONENT, DIM),
            "sigma": scale,
            **self._own_dims(),
        }

    def n_parameters(self, k: int, d: int) -> int:
        extra = sum(k for dims in self._own_dims().values() if dims == (COMPONENT,))
        scales = k if self.spherical else k * d
        return k * d + scales + (k - 1) + extra

    def _scale_data(self, d: int, priors: Priors) -> dict:
        n = 1 if self.spherical else d
        return {
            "spherical": int(self.spherical),
            "sigma_loc": np.full(n, float(priors.scale_median)),
            "sigma_scale": np.full(n, float(priors.scale_log_sd)),
        }

    def stan_data(self, cells, k, layout, priors, guide, units):
        data = component_data(cells, k, layout, priors, guide)
        data.update(self._scale_data(cells.n_dims, priors), grainsize=0)
        return data

    def _sigma_init(self, sigma: np.ndarray) -> np.ndarray:
        if self.spherical:
            # one scale for every column: the root mean square of the
            # columns' (the spherical fit of their variances); a geometric
            # mean starts far below the widest column's spread when the
            # columns' scales differ by orders of magnitude
            return np.sqrt((sigma**2).mean(axis=1, keepdims=True))
        return sigma

    def stan_init(self, params, cells, layout):
        params = order_components(params, layout)
        w = np.asarray(params["w"], dtype=float)
        return {
            **split_means(np.asarray(params["mu"], dtype=float), layout),
            "sigma_free": self._sigma_init(np.asarray(params["sigma"], dtype=float)),
            "w": w / w.sum(),
            **self._own_init(params),
        }

    def _own_init(self, params: Params) -> dict:
        return {}

    def start(self, means, scales, weights) -> Params:
        sigma = np.asarray(scales, dtype=float)
        if self.spherical:
            sigma = np.repeat(self._sigma_init(sigma), sigma.shape[1], axis=1)
        return {
            "w": np.asarray(weights, dtype=float),
            "mu": np.asarray(means, dtype=float),
            "sigma": sigma,
        }

    def from_stan(self, variables):
        return {
            "w": np.asarray(variables["w"]),
            "mu": np.asarray(variables["mu"]),
            "sigma": np.asarray(variables["sigma"]),
        }

    def stan_shapes(self, k, d):
        # the programs write a K x D matrix of scales, spherical or not
        return {**super().stan_shapes(k, d), "sigma": (k, d)}

    def to_posterior(self, params, columns):
        variables, dims, coords = super().to_posterior(params, columns)
        if self.spherical:
            variables["sigma"] = params["sigma"][..., 0]
        return variables, dims, coords

    def from_posterior(self, posterior):
        out = super().from_posterior(posterior)
        if self.spherical:
            d = out["mu"].shape[-1]
            out["sigma"] = np.repeat(out["sigma"][..., None], d, axis=-1)
        return out

    def check_draws(self, params, n_dims):
        w = _checks.weights(params)
        s, k = w.shape
        return {
            "w": w,
            "mu": _checks.per_component(params, "mu", s, k, n_dims),
            "sigma": _checks.per_component(
                params, "sigma", s, k, n_dims, positive=True
            ),
            **self._check_own(params, s, k),
        }

    def _check_own(self, params, s: int, k: int) -> Params:
        return {}

    def covariances(self, params):
        sigma = params["sigma"]
        return sigma[..., :, None] * np.eye(sigma.shape[-1]) * sigma[..., None, :]

    # -- kernel ---------------------------------------------------------------
    def prepare_data(self, cells: CellTable):
        return cells, prepare_censored(cells)
