"""Shorthands for the most common mixtures, thin layers over :class:`Mixture`."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import issparse

from stanmix.censoring import cell_table
from stanmix.estimator import Mixture
from stanmix.exceptions import StanmixInputError


class NormalMixture(Mixture):
    """Univariate Bayesian normal mixture with ordered component means.

    The same model as ``Mixture(n_components)`` on one column, with its
    posterior's ``mu`` and ``sigma`` indexed by component only.

    Parameters
    ----------
    n_components : int
        Number of components K.
    ordered : bool
        Declare the means ``ordered`` (identifies the components). ``False``
        fits the plain, label-switching model; stanmix then relabels draws.
    sigma : float or array of K floats, optional
        Known component scales (data units); estimated when omitted.
    engine, standardize, relabel, prior_*, guided_prior_scale, hdi_prob
        As for :class:`Mixture`.

    Attributes
    ----------
    weights_, means_, scales_, covariances_ : ndarray
        Posterior means of the weights, means, scales and variances, each
        (K,) (:class:`Mixture` on one column gives the last three (K, 1)).
        The other fitted attributes are as for :class:`Mixture`.

    Examples
    --------
    >>> import numpy as np, stanmix as sm
    >>> rng = np.random.default_rng(1)
    >>> y = np.r_[rng.normal(-2, 1, 60), rng.normal(2, 1, 40)]
    >>> model = sm.NormalMixture(2, engine="stanli").fit(y, method="optimize", seed=1)
    >>> np.round(model.means_, 1)
    array([-2. ,  1.9])
    >>> np.round(model.means_ - 2 * np.sqrt(model.covariances_), 1)  # two sds below
    array([-3.8,  0.3])
    >>> model.predict(np.array([-4.0, 4.0]))
    array([0, 1])
    """

    def __init__(
        self,
        n_components: int = 2,
        *,
        ordered: bool = True,
        sigma: float | None = None,
        engine: str = "auto",
        standardize: bool = True,
        relabel: str | None = "auto",
        prior_mean_scale: float = 3.0,
        prior_scale_median: float = 0.5,
        prior_scale_log_sd: float = 1.0,
        prior_concentration: float = 3.0,
        guided_prior_scale: float | None = None,
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
            guided_prior_scale=guided_prior_scale,
            hdi_prob=hdi_prob,
        )
        self.sigma = sigma

    def _family_spec(self):
        return "normal", "diag", {"scale": self._checked_sigma()}

    def _checked_sigma(self):
        """``sigma`` as an array, once it is None, a positive number or K of
        them."""
        sigma, k = self.sigma, self.n_components
        if sigma is None:
            return None
        what = f"sigma must be a positive number or {k} of them (one per component)"
        try:
            kind = np.asarray(sigma).dtype.kind
            arr = np.asarray(sigma, dtype=float)
        except (TypeError, ValueError):
            raise StanmixInputError(f"{what}, got {sigma!r}") from None
        if kind not in "iuf" or arr.ndim > 1 or arr.size not in (1, k):
            raise StanmixInputError(f"{what}, got {sigma!r}")
        if not np.all(np.isfinite(arr) & (arr > 0)):
            raise StanmixInputError(f"sigma must be positive and finite, got {sigma!r}")
        return arr  # a Series of K scales: one column, nothing to match by label

    def _layout_spec(self):
        return bool(self.ordered), 0

    def _read(self, X, censoring):
        if isinstance(X, pd.DataFrame) and X.shape[1] != 1:
            raise StanmixInputError(
                f"NormalMixture needs one column, got {X.shape[1]} "
                f"({', '.join(map(str, X.columns))}); use Mixture or "
                "DiagonalMixture for several columns"
            )
        # A sparse matrix goes on as it is, for the error that names it.
        kept = isinstance(X, (pd.DataFrame, pd.Series)) or issparse(X)
        arr = X if kept else np.asarray(X)
        if isinstance(arr, np.ndarray) and arr.ndim == 2 and arr.shape[1] != 1:
            raise StanmixInputError(
                f"NormalMixture needs a 1-D array, got shape {arr.shape}; use "
                "Mixture or DiagonalMixture for several columns"
            )
        if isinstance(arr, np.ndarray) and arr.ndim > 2:
            raise StanmixInputError(
                f"NormalMixture needs a 1-D array (or one column), got shape "
                f"{arr.shape}"
            )
        return cell_table(
            arr.to_frame() if isinstance(arr, pd.Series) else arr, **censoring
        )

    def _posterior_out(self, variables, dims, coords):
        squeezed = {
            name: arr[..., 0] if "dim" in dims[name] else arr
            for name, arr in variables.items()
        }
        new_dims = {n: [d for d in v if d != "dim"] for n, v in dims.items()}
        return squeezed, new_dims, {k: v for k, v in coords.items() if k != "dim"}

    def _summarise(self) -> None:
        """As :class:`Mixture`'s, with ``covariances_`` indexed by
        component only, as ``means_`` and ``scales_`` are: (K,)."""
        super()._summarise()
        self.covariances_ = self.covariances_[:, 0]

    def _posterior_in(self, posterior):
        return posterior.assign(
            {
                name: posterior[name].expand_dims("dim", axis=-1)
                for name in ("mu", "sigma")
                if name in posterior
            }
        ).assign_coords(dim=list(self.cells_.columns))


class DiagonalMixture(Mixture):
    """Multivariate Bayesian mixture with joint diagonal-covariance components.

    ``Mixture(n_components, family="normal", covariance="diag")`` with one
    extra switch: ``joint=False`` fits the per-dimension model.

    Parameters
    ----------
    n_components : int
        Number of components K.
    anchor_dim : int or str, optional
        The dimension (position or column name; an integer that is the name
        of one column and the position of another is refused) whose means
        are ordered. By default, the one along which k-means centres are
        best separated relative to their spread; the choice is stored in
        ``anchor_``.
    joint : bool
        ``True`` (default) fits joint components. ``False`` fits the common
        but wrong per-dimension model, where each column is its own
        univariate mixture; it exists to show why joint components matter.
    engine, standardize, relabel, prior_*, guided_prior_scale, hdi_prob
        As for :class:`Mixture`.

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

    def __init__(
        self,
        n_components: int = 2,
        *,
        anchor_dim: int | str | None = None,
        joint: bool = True,
        engine: str = "auto",
        standardize: bool = True,
        relabel: str | None = "auto",
        prior_mean_scale: float = 3.0,
        prior_scale_median: float = 0.5,
        prior_scale_log_sd: float = 1.0,
        prior_concentration: float = 3.0,
        guided_prior_scale: float | None = None,
        hdi_prob: float = 0.94,
    ) -> None:
        super().__init__(
            n_components,
            anchor_dim=anchor_dim,
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
        self.joint = joint

    _switches = ("standardize", "joint")

    def _family_spec(self):
        return ("normal" if self.joint else "normal_per_dimension"), "diag", None

    def _layout_spec(self):
        return True, self.anchor_dim
