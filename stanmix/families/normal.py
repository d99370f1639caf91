"""Normal components with diagonal or spherical covariance (``normal_diag.stan``).

The Python kernel mirrors ``normal_diag_log_terms`` in
``stan/cells.stanfunctions``. Within a block the observed cells of all rows,
components and draws are one product of small matrices: with
``a = 1 / sigma**2``, values ``y`` and means ``mu`` both shifted by a
column centre (``y`` zero in unobserved cells) and the 0/1 observed mask
``m``,

    sum_d m_nd [-0.5 a_kd (y_nd - mu_kd)**2 - log sigma_kd - 0.5 log(2 pi)]
      = [y**2, y, m] @ [-0.5 a; a mu; -0.5 a mu**2 - log sigma - 0.5 log(2 pi)]

and a column of ones against log w adds the weights in the same product.
The product is evaluated with ``einsum`` rather than BLAS: its summation
order is the same for every block size, so blocked results equal unblocked
ones bit for bit, and no BLAS thread pool competes with the block threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy.special import log_ndtr
from scipy.stats import norm

from stanmix.cells import OBSERVED, CellTable, Standardization
from stanmix.exceptions import StanmixInputError
from stanmix.families._diagonal import (
    HALF_LOG_2PI,
    Censored,
    DiagonalFamily,
    add_censored,
    censored_terms,
)
from stanmix.families.base import Option


def _known_scale(name: str, value) -> np.ndarray | None:
    """Known scales as an array (``None``: estimated). A pandas Series or
    DataFrame is refused: its labels (column names, say) would be dropped
    and its entries read by position, as components.

    Examples
    --------
    >>> _known_scale("scale", [1.0, 2.0]).tolist()
    [1.0, 2.0]
    """
    if value is None:
        return None
    if isinstance(value, (pd.Series, pd.DataFrame)):
        raise StanmixInputError(
            f"family_options[{name!r}] is a pandas {type(value).__name__}, whose "
            "labels a scale is not matched by: give an array, a number, K numbers "
            "(one per component) or K x D (rows components, columns in X's "
            "order); for one scale per column, np.tile(scales[X.columns]"
            ".to_numpy(), (K, 1))"
        )
    try:
        arr = np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise StanmixInputError(
            f"family_options[{name!r}] must be a positive number or an array of "
            f"them, got {value!r}"
        ) from None
    if arr.ndim > 2 or not np.all(np.isfinite(arr) & (arr > 0)):
        raise StanmixInputError(
            f"family_options[{name!r}] must be positive and finite (a number, K "
            "numbers, or K x D), "
            f"got {value!r}"
        )
    return arr


#: A cell farther than this many of its column's smallest component scale
#: from the centre of the means is scored from (y - mu) itself: the
#: expanded square loses about ((y - centre) / sigma)^2 * 1e-16 to rounding.
FAR = 1e4


@dataclass(frozen=True, eq=False)
class _Data:
    values: np.ndarray  # (N, D) observed values, 0 in every other cell
    observed: np.ndarray  # (N, D) float, 1 where observed
    censored: tuple[Censored | None, ...]


@dataclass(frozen=True, eq=False)
class _Par:
    coef: np.ndarray  # (3D + 1, K * S), columns ordered component-major
    mu: np.ndarray  # (D, K, S) uncentred means
    sigma: np.ndarray  # (D, K, S)
    n_draws: int
    n_comp: int
    center: np.ndarray  # (D,) the mean of the means, subtracted from y and mu
    far: np.ndarray  # (D,) distance from the centre beyond which a cell is far
    log_w: np.ndarray  # (K, S)


def _exact_row(values, observed, par: _Par) -> np.ndarray:
    """One row's observed cells' log terms (K, S), from (y - mu) itself."""
    out = par.log_w.copy()
    for d in np.flatnonzero(observed).tolist():
        z = (values[d] - par.mu[d]) / par.sigma[d]
        with np.errstate(over="ignore"):  # beyond 1e154 scales: -inf
            out += -0.5 * z * z - np.log(par.sigma[d]) - HALF_LOG_2PI
    return out


def _cell_terms(par: _Par):
    def terms(kind, lower, upper, d):
        return censored_terms(kind, lower, upper, par.mu[d], par.sigma[d], log_ndtr)

    return terms


class NormalDiag(DiagonalFamily):
    """Normal components, one scale per component and column."""

    family = "normal"
    covariance = "diag"
    program = "normal_diag"
    description = "normal, diagonal covariance: one scale per component and column"
    options: ClassVar[dict[str, Option]] = {
        "scale": Option(
            None,
            "Known component scales in the data's units (a number, K numbers or "
            "K x D); estimated when None.",
            _known_scale,
        )
    }

    stan_flags: ClassVar[dict[str, int]] = {"spherical": 0, "independent_dims": 0}

    @classmethod
    def settings_from_stan_data(cls, data):
        """The run's known scales in the data's units: a stanmix data file
        records the units it divided them by (one scale per component for
        spherical components)."""
        if not int(data.get("sigma_known", 0)):
            return {}
        value = np.asarray(data["sigma_value"], dtype=float)
        units = Standardization.from_stan_entries(data)
        if units is not None and np.shape(units.scale) == value.shape[1:]:
            value = value * units.scale
        return {"scale": value[:, 0] if cls.spherical and value.ndim == 2 else value}

    def validate(self, k: int, d: int) -> None:
        known = self.settings.get("scale")
        if known is None:
            return
        if self.spherical and not (
            known.ndim == 0
            or (known.ndim == 1 and known.size == k)
            or known.shape == (k, 1)
        ):
            raise StanmixInputError(
                f"family_options['scale'] of spherical components must be one "
                f"number or {k} numbers (one scale per component, shared by "
                f"every column), got shape {known.shape}; covariance='diag' "
                "takes a scale per column"
            )
        if not self.spherical and known.ndim == 1 and known.size not in (1, k):
            raise StanmixInputError(
                f"family_options['scale'] holds {known.size} numbers, but "
                f"{k} numbers are one per component (each shared by every "
                f"column): give a number, {k} numbers or {k} x {d}; for one "
                f"scale per column, shared by the components, give "
                f"np.tile(scales, ({k}, 1)), which reads the same whatever K is"
            )
        try:
            self._known_matrix(k, d)
        except ValueError:
            raise StanmixInputError(
                f"family_options['scale'] must be a number, {k} numbers or "
                f"{k} x {d}, got shape {known.shape}"
            ) from None

    def exchangeable(self, k: int) -> bool:
        known = self.settings.get("scale")
        if known is None or known.ndim == 0:
            return True
        rows = known[:, None] if (known.ndim == 1 and known.size == k) else known
        if rows.ndim < 2 or rows.shape[0] == 1:
            return True  # one scale per column, shared by the components
        return bool(np.all(rows == rows[0]))

    def unused_priors(self) -> dict[str, str]:
        if self.settings.get("scale") is None:
            return {}
        why = (
            "the scales are known (sigma= of NormalMixture, "
            "family_options['scale'] otherwise)"
        )
        return {"scale_median": why, "scale_log_sd": why}

    def _known_matrix(self, k: int, d: int) -> np.ndarray:
        known = self.settings.get("scale")
        if known.ndim == 1 and known.size == k:
            known = known[:, None]
        return np.broadcast_to(known, (k, d)).copy()

    def n_parameters(self, k: int, d: int) -> int:
        n = super().n_parameters(k, d)
        if self.settings.get("scale") is None:
            return n
        return n - (k if self.spherical else k * d)

    def stan_data(self, cells, k, layout, priors, guide, units):
        data = super().stan_data(cells, k, layout, priors, guide, units)
        known = self.settings.get("scale")
        data["independent_dims"] = 0
        data["sigma_known"] = int(known is not None)
        data["sigma_value"] = (
            self._known_matrix(k, cells.n_dims) / units.scale
            if known is not None
            else np.zeros((0, cells.n_dims))
        )
        return data

    def stan_init(self, params, cells, layout):
        init = super().stan_init(params, cells, layout)
        if self.settings.get("scale") is not None:
            init["sigma_free"] = np.zeros((0, init["sigma_free"].shape[1]))
        return init

    def start(self, means, scales, weights):
        return super().start(means, scales, weights)

    def check_start(self, values, k, d, where):
        """As for every family; with known scales, ``sigma`` may be left out
        (the known ones are taken), and one given must be them."""
        known = self.settings.get("scale")
        if known is None or not isinstance(values, Mapping):
            return super().check_start(values, k, d, where)
        known = self._known_matrix(k, d)
        if "sigma" in values:
            try:
                given = np.broadcast_to(
                    np.asarray(values["sigma"], dtype=float), (k, d)
                )
            except (TypeError, ValueError):
                given = None
            if given is None or not np.allclose(given, known):
                raise StanmixInputError(
                    f"{where}: 'sigma' differs from the known scales (sigma= of "
                    "NormalMixture, family_options['scale'] otherwise); leave it "
                    "out, the known ones are the start"
                )
        return super().check_start({**values, "sigma": known}, k, d, where)

    # -- kernel ---------------------------------------------------------------
    def prepare_data(self, cells: CellTable) -> _Data:
        observed = cells.kind == OBSERVED
        _, censored = super().prepare_data(cells)
        return _Data(
            values=np.where(observed, cells.values, 0.0),
            observed=observed.astype(np.float64),
            censored=censored,
        )

    def prepare_params(self, params, data: _Data) -> _Par:
        """The draws as coefficients of one matrix product with the rows:
        each square (y - mu)^2 expanded around the mean of the means (of all
        components and draws), so the rows' log terms do not depend on the
        other rows scored with them."""
        w, mu, sigma = params["w"], params["mu"], params["sigma"]
        n_draws, n_comp, n_dims = mu.shape
        mu_t = np.ascontiguousarray(mu.transpose(2, 1, 0))  # (D, K, S)
        sigma_t = np.ascontiguousarray(sigma.transpose(2, 1, 0))
        prec = 1.0 / (sigma_t * sigma_t)
        center = mu_t.mean(axis=(1, 2))
        mu_c = mu_t - center[:, None, None]
        with np.errstate(divide="ignore"):
            log_w = np.log(w.T)  # (K, S)
        coef = np.concatenate(
            [
                (-0.5 * prec).reshape(n_dims, -1),
                (mu_c * prec).reshape(n_dims, -1),
                (-0.5 * mu_c * mu_c * prec - np.log(sigma_t) - HALF_LOG_2PI).reshape(
                    n_dims, -1
                ),
                log_w.reshape(1, -1),
            ],
            axis=0,
        )
        return _Par(
            coef=coef,
            mu=mu_t,
            sigma=sigma_t,
            n_draws=n_draws,
            n_comp=n_comp,
            center=center,
            far=FAR * sigma_t.min(axis=(1, 2)),
            log_w=log_w,
        )

    def block_log_terms(self, data: _Data, par: _Par, start: int, stop: int):
        observed = data.observed[start:stop]
        yc = (data.values[start:stop] - par.center) * observed
        # A cell beyond 1e154 overflows its square here; its row is a far
        # one, computed again below.
        with np.errstate(over="ignore", invalid="ignore"):
            design = np.concatenate(
                [yc * yc, yc, observed, np.ones((stop - start, 1))], axis=1
            )
            lp = np.einsum("nj,jc->nc", design, par.coef)
        lp = lp.reshape(stop - start, par.n_comp, par.n_draws)
        for row in np.flatnonzero((np.abs(yc) > par.far).any(axis=1)).tolist():
            lp[row] = _exact_row(
                data.values[start + row], data.observed[start + row], par
            )
        return add_censored(lp, data.censored, start, stop, _cell_terms(par))

    def marginal_log_pdf(self, x, params, d):
        mu = params["mu"][..., d, None]
        sigma = params["sigma"][..., d, None]
        return norm.logpdf(np.asarray(x, dtype=float), mu, sigma)

    def _simulate_rows(self, params, labels, rng):
        mu, sigma = params["mu"][labels], params["sigma"][labels]
        return mu + sigma * rng.standard_normal(mu.shape)


class NormalSpherical(NormalDiag):
    """Normal components with one scale per component, shared by all columns.

    The data are standardized with one scale for every column (the root
    mean column variance), so a spherical component stays spherical in the
    data's units.
    """

    covariance = "spherical"
    spherical = True
    shared_scale = True
    description = "normal, spherical covariance: one scale per component"
    stan_flags: ClassVar[dict[str, int]] = {"spherical": 1, "independent_dims": 0}
