"""How often the checks of recorded values against their detection limits
speak: on genuine data (a warning there is a false alarm) and on data with
non-detects written as their limits rounded, or limits in other units (a
warning there is a catch).

Each scenario draws a one-column table with a limit per row, many seeds
over, and counts the seeds on which `stanmix.censoring.cell_table` warns
(or, where its values lie beyond their limits, refuses). No Stan work.

    python bench/limit_checks.py [--seeds 100]
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from stanmix.censoring import cell_table
from stanmix.exceptions import StanmixInputError

Draw = Callable[[np.random.Generator], tuple[np.ndarray, np.ndarray, str]]


def _ceil(values: np.ndarray, decimals: int) -> np.ndarray:
    scale = 10.0**decimals
    return np.ceil(np.round(values * scale, 6)) / scale


def _significant(values: np.ndarray, digits: int) -> np.ndarray:
    return np.array([float(f"{v:.{digits}g}") for v in values])


def _lab(n: int, share: float, decimals: int, write_nd, lo=0.4, hi=0.8):
    """Per-sample limits at 3 decimals, lognormal values above them written
    at ``decimals``, a ``share`` of non-detects written by ``write_nd``."""

    def draw(rng):
        limits = np.round(rng.uniform(lo, hi, n), 3)
        x = np.round(limits + rng.lognormal(np.log(0.8), 0.8, n), decimals)
        nd = rng.random(n) < share
        return np.where(nd, write_nd(limits), x), limits, "lower_limit"

    return draw


def _genuine(n: int, mean: float, sd: float, decimals: int | None, lo, hi):
    """Normal values, per-sample limits at 3 decimals, non-detects (and
    values written below their limit) recorded at their limits."""

    def draw(rng):
        limits = np.round(rng.uniform(lo, hi, n), 3)
        true = rng.normal(mean, sd, n)
        x = true if decimals is None else np.round(true, decimals)
        return (
            np.where((true < limits) | (x < limits), limits, x),
            limits,
            "lower_limit",
        )

    return draw


def _counts(n: int, rate: float, lo: float, hi: float):
    def draw(rng):
        limits = np.round(rng.uniform(lo, hi, n), 2)
        x = rng.poisson(rate, n).astype(float)
        return np.maximum(x, limits), limits, "lower_limit"

    return draw


def _dilution(n: int):
    """A limit that scales with the dilution, values that scale too."""

    def draw(rng):
        dilution = rng.choice(np.round(np.geomspace(1, 200, 40), 1), n)
        x = _significant(dilution * rng.uniform(0.3, 0.7, n), 2)
        limits = 0.05 * dilution
        return np.maximum(x, limits), limits, "lower_limit"

    return draw


def _units(n: int, share: float, factor: float):
    """Non-detects recorded at their limits, limits given ``factor`` times
    what they are (mg/L for ug/L: 0.001)."""

    def draw(rng):
        limits = np.round(rng.uniform(0.4, 0.8, n), 3)
        x = np.round(limits + rng.lognormal(0, 0.7, n), 2)
        nd = rng.random(n) < share
        return np.where(nd, limits, x), limits * factor, "lower_limit"

    return draw


def _upper(n: int, share: float):
    """Saturation: per-sample upper limits, non-detects rounded down."""

    def draw(rng):
        limits = np.round(rng.uniform(3.0, 4.0, n), 3)
        x = np.round(limits - rng.lognormal(np.log(0.8), 0.8, n), 2)
        nd = rng.random(n) < share
        return np.where(nd, -_ceil(-limits, 2), x), limits, "upper_limit"

    return draw


GENUINE: dict[str, Draw] = {
    "2 decimals, limits at 3": _genuine(500, 1.0, 0.5, 2, 0.4, 1.0),
    "2 decimals, narrow cluster at the limits": _genuine(500, 0.7, 0.05, 2, 0.4, 1.0),
    "1 decimal, cluster by the limits": _genuine(500, 0.6, 0.1, 1, 0.4, 1.0),
    "full precision": _genuine(500, 0.5, 0.3, None, 0.4, 1.0),
    "30 rows, 2 decimals": _genuine(30, 0.8, 0.4, 2, 0.4, 0.8),
    "counts, limits between 0 and 1": _counts(300, 0.7, 0.3, 0.9),
    "limit per dilution, values of 2 digits": _dilution(1000),
}

FAULTY: dict[str, Draw] = {
    "rounded up to 2 decimals, 20% non-detects": _lab(
        200, 0.2, 2, lambda L: _ceil(L, 2)
    ),
    "rounded up to 2 decimals, 5% non-detects": _lab(
        200, 0.05, 2, lambda L: _ceil(L, 2)
    ),
    "rounded up, 30 rows, 20%": _lab(30, 0.2, 2, lambda L: _ceil(L, 2)),
    "rounded up, 70%, limits 0.50-0.56": _lab(
        300, 0.7, 2, lambda L: _ceil(L, 2), lo=0.5, hi=0.56
    ),
    "rounded up to 1 decimal, values at 2": _lab(200, 0.2, 2, lambda L: _ceil(L, 1)),
    "rounded to nearest (refused)": _lab(200, 0.2, 2, lambda L: np.round(L, 2)),
    "upper limits rounded down": _upper(200, 0.2),
    "limits in mg/L, values in ug/L, 30% non-detects": _units(500, 0.3, 0.001),
    "limits in mg/L, 10% non-detects": _units(500, 0.1, 0.001),
}


def speaks(draw: Draw, seed: int) -> bool:
    """Whether the table of ``seed`` gets a warning about its limits, or is
    refused for values beyond them."""
    x, limits, name = draw(np.random.default_rng(seed))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        try:
            cell_table(pd.DataFrame({"x": x}), **{name: pd.DataFrame({"x": limits})})
        except StanmixInputError:
            return True
    return any("NaN cell" not in str(w.message) for w in record)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    seeds = parser.parse_args().seeds
    for title, scenarios in (
        ("genuine data (warnings are false alarms)", GENUINE),
        ("faulty exports (warnings are catches)", FAULTY),
    ):
        print(title)
        for name, draw in scenarios.items():
            hits = sum(speaks(draw, seed) for seed in range(seeds))
            print(f"  {name:52s} {hits:4d} of {seeds}")


if __name__ == "__main__":
    main()
