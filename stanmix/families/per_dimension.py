"""The per-dimension model (``normal_diag.stan`` with ``independent_dims = 1``).

Each column is its own univariate normal mixture, the columns sharing only
the weights: x may come from one component and y from another. It is the
common mistake joint components avoid, kept so its failure can be shown. A
row has no single component, so it has no membership; its pointwise
log-likelihood is the product over columns of each column's mixture.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from stanmix.cells import CellTable
from stanmix.families.base import Option
from stanmix.families.normal import NormalDiag


class NormalPerDimension(NormalDiag):
    """Independent univariate normal mixtures per column, sharing weights."""

    family = "normal_per_dimension"
    label = "normal, per column"
    covariance = "diag"
    joint = False
    threads = False
    description = (
        "per-dimension model: each column its own mixture (no joint components)"
    )
    options: ClassVar[dict[str, Option]] = {}
    stan_flags: ClassVar[dict[str, int]] = {"spherical": 0, "independent_dims": 1}

    def stan_data(self, cells, k, layout, priors, guide, units):
        data = super().stan_data(cells, k, layout, priors, guide, units)
        data["independent_dims"] = 1
        return data

    def simulate(self, params, cells, rng):
        """Each column from its own component; the labels are the first
        column's."""
        w = np.asarray(params["w"], dtype=float)
        shape = (cells.n_obs, params["mu"].shape[-1])
        labels = rng.choice(w.size, size=shape, p=w / w.sum())
        cols = np.arange(labels.shape[1])
        mu, sigma = params["mu"][labels, cols], params["sigma"][labels, cols]
        return mu + sigma * rng.standard_normal(mu.shape), labels[:, 0]

    def pointwise_log_lik(self, cells: CellTable, params, **kwargs) -> np.ndarray:
        """log p(row | draw), (S, N): the product over columns of each column's
        mixture, as the program's ``per_dimension_log_lik``."""
        from stanmix.likelihood import log_likelihood

        joint = NormalDiag()
        total = np.zeros((params["w"].shape[0], cells.n_obs))
        for d in range(cells.n_dims):
            column = CellTable(
                cells.values[:, [d]],
                cells.kind[:, [d]],
                cells.lower[:, [d]],
                cells.upper[:, [d]],
                (cells.columns[d],),
            )
            one = {
                "w": params["w"],
                "mu": params["mu"][..., [d]],
                "sigma": params["sigma"][..., [d]],
            }
            total += log_likelihood(joint, column, one, **kwargs)
        return total
