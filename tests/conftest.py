"""Shared fixture: a two-component NUTS run of stan/normal_mixture.stan."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

STAN_DIR = Path(__file__).resolve().parents[1] / "stan"
DATA_SEED = 20240501
# With this seed the unordered program's four chains land in two labellings
# (chains 0, 1 in one, chains 2, 3 in the other; R-hat of mu about 1.74).
SAMPLE_SEED = 1


@pytest.fixture(scope="session")
def two_normal_fit():
    """Call with ordered=True/False; returns dict(y, mu, w), mu and w (4, 1000, 2).

    Data: 100 points from 0.5 N(-1, 1) + 0.5 N(1, 1), unit scales known.
    """
    stanli = pytest.importorskip("stanli")
    cache: dict[bool, dict[str, np.ndarray]] = {}

    def run(ordered: bool) -> dict[str, np.ndarray]:
        if ordered not in cache:
            rng = np.random.default_rng(DATA_SEED)
            n = 100
            z = rng.random(n) < 0.5
            y = np.where(z, rng.normal(-1.0, 1.0, n), rng.normal(1.0, 1.0, n))
            data = {
                "N": n,
                "K": 2,
                "y": y,
                "ordered_means": int(ordered),
                "sigma_known": 1,
                "sigma_value": [1.0, 1.0],
                "mu_loc": [0.0, 0.0],
                "mu_scale": [3.0, 3.0],
                "sigma_loc": 0.5,
                "sigma_scale": 1.0,
                "alpha": [3.0, 3.0],
                "compute_log_lik": 0,
                "compute_membership": 0,
            }
            model = stanli.Model(
                stan_file=str(STAN_DIR / "normal_mixture.stan"),
                include_paths=[str(STAN_DIR)],
                data=data,
            )
            fit = model.sample(
                seed=SAMPLE_SEED, chains=4, warmup=1000, samples=1000, refresh=0
            )
            cache[ordered] = {"y": y, "mu": fit.draws("mu"), "w": fit.draws("w")}
        return cache[ordered]

    return run
