"""Write the example data and init files beside the Stan programs.

Each program gets ``<program>.data.json`` (simulated data in its own units,
priors in those units, both generated-quantity switches on) and
``<program>.init.json`` (k-means centres of that data), exactly as stanmix
would build them for an unstandardized fit. Run from the repository root:

    python scripts/make_stan_examples.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from stanmix import datasets
from stanmix.cells import Standardization
from stanmix.censoring import cell_table
from stanmix.families import Layout, Priors, get_family
from stanmix.families.base import mixing_init
from stanmix.inference.starts import choose_anchor, kmeans

STAN = Path(__file__).resolve().parents[1] / "stan"
#: Priors in the example data's units (columns of sd about 3 to 5).
PRIORS = Priors(mean_scale=10.0, scale_median=1.0, scale_log_sd=1.0)


def _jsonable(data: dict) -> dict:
    return {
        key: value.tolist() if isinstance(value, np.ndarray) else value
        for key, value in data.items()
    }


def write(program: str, family, X, k: int, **censoring) -> None:
    cells, _ = cell_table(X, **censoring)
    units = Standardization.fit(cells, enabled=False)
    start = kmeans(cells.point_values(), k, seed=1)
    layout = Layout(choose_anchor(start), True)
    params = start.start(family)
    data = family.stan_data(cells, k, layout, PRIORS, params, units)
    data.update(compute_log_lik=1, compute_membership=1)
    init = mixing_init(data, family.stan_init(params, cells, layout))
    for suffix, payload in (("data", data), ("init", init)):
        path = STAN / f"{program}.{suffix}.json"
        path.write_text(json.dumps(_jsonable(payload), separators=(",", ":")) + "\n")
        print("wrote", path.relative_to(STAN.parent))


def heavy_tailed(n: int, seed: int) -> pd.DataFrame:
    """Three clusters whose cells are Student-t with 3, 30 and 30 degrees of
    freedom (the second, at the top, has heavy tails), unit scales."""
    rng = np.random.default_rng(seed)
    means = np.array([[-4.0, -2.0], [0.0, 3.0], [4.0, -1.0]])
    nu = np.array([30.0, 3.0, 30.0])
    labels = rng.choice(3, size=n, p=[0.4, 0.3, 0.3])
    cells = rng.standard_t(nu[labels][:, None], size=(n, 2))
    return pd.DataFrame(means[labels] + cells, columns=["x", "y"])


def write_regression() -> None:
    """Two regression lines whose weights depend on a covariate z, 15% of
    the responses below a detection limit and a few missing."""
    data = datasets.regressions(
        200, seed=5, gate_intercepts=(0.0, 0.3), gate_coefs=((0.0,), (1.2,))
    )
    y = data.y.copy()
    limit = float(np.quantile(y, 0.15))
    y = y.clip(lower=limit)
    y.iloc[[7, 50, 120]] = np.nan
    cells, _ = cell_table(y.to_frame(), lower_limit=limit, allow_empty_rows=True)
    cells = cells.with_covariates(data.X.to_numpy(), tuple(data.X.columns))
    family = get_family(
        "normal_regression", "diag", {"predictors": (0,), "weights_from": (1,)}
    )
    units = Standardization.fit(cells, enabled=False)
    params = family.data_starts(cells, 2, [1])[0]
    layout = Layout(0, True)
    data_json = family.stan_data(cells, 2, layout, PRIORS, params, units)
    data_json.update(compute_log_lik=1, compute_membership=1)
    init = mixing_init(data_json, family.stan_init(params, cells, layout))
    for suffix, payload in (("data", data_json), ("init", init)):
        path = STAN / f"regression.{suffix}.json"
        path.write_text(json.dumps(_jsonable(payload), separators=(",", ":")) + "\n")
        print("wrote", path.relative_to(STAN.parent))


def main() -> None:
    blobs = datasets.blobs(200, seed=1).X
    X, limits = datasets.left_censor(blobs, 0.1)
    X.loc[[3, 17, 40], "x"] = np.nan  # a few missing cells
    write("normal_diag", get_family("normal", "diag"), X, 5, lower_limit=limits)

    X, limits = datasets.left_censor(heavy_tailed(200, seed=3), 0.1)
    write("student_t_diag", get_family("student_t", "diag"), X, 3, lower_limit=limits)

    correlated = datasets.correlated(200, seed=4).X
    X, limits = datasets.left_censor(correlated, 0.15)
    X.loc[[5, 60], "y"] = np.nan
    write("full_cov", get_family("normal", "full"), X, 3, lower_limit=limits)

    write_regression()


if __name__ == "__main__":
    main()
