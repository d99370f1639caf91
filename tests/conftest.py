"""Shared fixtures and helpers: a two-component NUTS run, engines for tests."""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stanmix import DiagonalMixture, datasets
from stanmix.cells import CellTable, Standardization
from stanmix.engines import cmdstan_available
from stanmix.engines._stanli import StanliEngine
from stanmix.estimator import Mixture
from stanmix.families import Layout, Priors, get_family

#: Skips a test, with the reason, where no CmdStan is installed.
needs_cmdstan = pytest.mark.skipif(
    not cmdstan_available(), reason="no CmdStan installation found"
)

STAN_DIR = Path(__file__).resolve().parents[1] / "stan"
DATA_SEED = 20240501
# With this seed the unordered program's four chains land in two labellings
# (chains 0, 1 in one, chains 2, 3 in the other; R-hat of mu about 1.74).
SAMPLE_SEED = 1


def stan_data(family, cells: CellTable, k: int, *, ordered=True, anchor=0, **priors):
    """The program data stanmix builds for ``cells`` (no standardization)."""
    d = cells.n_dims
    start = family.start(
        np.linspace(-1, 1, k)[:, None] * np.ones((k, d)),
        np.ones((k, d)),
        np.full(k, 1 / k),
    )
    units = Standardization(np.zeros(d), np.ones(d))
    return family.stan_data(
        cells, k, Layout(anchor, ordered), Priors(**priors), start, units
    )


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
            family = get_family("normal", "diag", {"scale": 1.0})
            data = stan_data(family, CellTable.from_values(y), 2, ordered=ordered)
            data = {
                k: v.tolist() if isinstance(v, np.ndarray) else v
                for k, v in data.items()
            }
            model = stanli.Model(
                stan_file=str(STAN_DIR / "normal_diag.stan"),
                include_paths=[str(STAN_DIR)],
                data=data,
            )
            fit = model.sample(
                seed=SAMPLE_SEED, chains=4, warmup=1000, samples=1000, refresh=0
            )
            cache[ordered] = {
                "y": y,
                "mu": fit.draws("mu")[..., 0],
                "w": fit.draws("w"),
            }
        return cache[ordered]

    return run


def censored_pairs() -> tuple[pd.DataFrame, float]:
    """Two 2-D clusters (80 rows, columns x and y) with x recorded at its
    10% quantile below it, and a first column of sample IDs; the frame and
    the limit."""
    data = datasets.mixture_sample(
        [0.5, 0.5], [[0.0, 0.0], [4.0, 3.0]], 1.0, 80, seed=7, columns=["x", "y"]
    )
    df = data.X.copy()
    limit = round(float(np.quantile(df["x"], 0.1)), 6)
    df["x"] = df["x"].clip(lower=limit)
    df.insert(0, "sample", [f"s{i}" for i in range(len(df))])
    return df, limit


class Stop(Exception):
    """Raised by RecordingEngine in place of running Stan."""


class RecordingEngine(StanliEngine):
    """The stanli engine, except that the methods named in ``stop`` record
    their keyword arguments in ``calls`` and raise :class:`Stop`."""

    def __init__(self, stop=("sample",)):
        super().__init__()
        self.stop = set(stop)
        self.calls: dict[str, dict] = {}

    def _intercept(self, method, kwargs):
        if method in self.stop:
            self.calls[method] = kwargs
            raise Stop(method)

    def optimize(self, stan_file, data, **kwargs):
        self._intercept("optimize", kwargs)
        return super().optimize(stan_file, data, **kwargs)

    def variational(self, stan_file, data, **kwargs):
        self._intercept("variational", kwargs)
        return super().variational(stan_file, data, **kwargs)

    def sample(self, stan_file, data, **kwargs):
        self._intercept("sample", kwargs)
        return super().sample(stan_file, data, **kwargs)


@pytest.fixture
def state_at_the_stop(monkeypatch):
    """Leave an estimator as it was when :class:`RecordingEngine` stopped its
    fit (``fit`` otherwise puts back the state from before it), so a test can
    read the choices made before the engine call (``metric_``,
    ``adaptation_``, ``threads_per_chain_``, ``anchor_``)."""
    monkeypatch.setattr(
        Mixture, "_state_kept_on_failure", lambda self: contextlib.nullcontext()
    )


@pytest.fixture(scope="module")
def per_dimension():
    """A per-dimension (``joint=False``) two-component MAP fit of 100 blob
    points: a model whose rows have no single component."""
    model = DiagonalMixture(2, joint=False, engine="stanli")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return model.fit(datasets.blobs(100, seed=1).X, method="optimize", seed=1)
