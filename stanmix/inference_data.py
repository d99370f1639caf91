"""Building the ArviZ InferenceData of a fit.

Dims used throughout: ``chain``, ``draw``, ``component``, ``obs``, ``dim``
(the data's column names) and, for correlations, ``pair`` ("x:y").
Univariate data (one column) keep ``obs`` only in ``observed_data``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd
import xarray as xr

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

from stanmix.cells import INTERVAL, KIND_NAMES, LEFT, RIGHT, CellTable

__all__ = ["az", "build_inference_data", "dataset"]


def dataset(
    variables: Mapping[str, np.ndarray],
    dims: Mapping[str, list[str]],
    coords: Mapping[str, object],
    attrs: Mapping | None = None,
) -> xr.Dataset:
    """An xarray Dataset of (chain, draw, ...) arrays with named dims."""
    data_vars = {}
    for name, arr in variables.items():
        arr = np.asarray(arr)
        var_dims = ["chain", "draw", *dims.get(name, [])]
        if len(var_dims) != arr.ndim:
            raise ValueError(f"{name}: dims {var_dims} do not match shape {arr.shape}")
        data_vars[name] = (var_dims, arr)
    first = next(iter(variables.values()))
    all_coords = {
        "chain": np.arange(first.shape[0]),
        "draw": np.arange(first.shape[1]),
        **coords,
    }
    used = {d for v in data_vars.values() for d in v[0]}
    return xr.Dataset(
        data_vars,
        coords={k: v for k, v in all_coords.items() if k in used},
        attrs=dict(attrs or {}),
    )


def _observed(cells: CellTable, index: pd.Index) -> xr.Dataset:
    """The data as recorded: ``y`` holds observed values, censored cells at
    their limit (intervals at the midpoint) and NaN where missing, which is
    how replicated data are recorded too (:mod:`stanmix.checks`);
    ``cell_kind``, ``lower`` and ``upper`` say which is which."""
    kinds = np.asarray(KIND_NAMES, dtype=object)[cells.kind].astype(str)
    recorded = cells.values.copy()
    recorded[cells.kind == LEFT] = cells.upper[cells.kind == LEFT]
    recorded[cells.kind == RIGHT] = cells.lower[cells.kind == RIGHT]
    middle = 0.5 * (cells.lower + cells.upper)
    recorded[cells.kind == INTERVAL] = middle[cells.kind == INTERVAL]
    arrays = {
        "y": recorded,
        "cell_kind": kinds,
        "lower": cells.lower,
        "upper": cells.upper,
    }
    obs = np.asarray(index)
    if cells.n_dims == 1:
        return xr.Dataset(
            {name: (["obs"], arr[:, 0]) for name, arr in arrays.items()},
            coords={"obs": obs},
        )
    return xr.Dataset(
        {name: (["obs", "dim"], arr) for name, arr in arrays.items()},
        coords={"obs": obs, "dim": list(cells.columns)},
    )


def build_inference_data(
    *,
    posterior: Mapping[str, np.ndarray],
    dims: Mapping[str, list[str]],
    coords: Mapping[str, object],
    sample_stats: Mapping[str, np.ndarray] | None,
    cells: CellTable,
    index: pd.Index,
    log_likelihood: np.ndarray | None = None,
    attrs: Mapping | None = None,
) -> az.InferenceData:
    """Assemble the InferenceData of a fit.

    Parameters
    ----------
    posterior
        Component parameters in the data's original units, (chain, draw, ...).
    dims, coords
        Named dims per variable (beyond chain and draw) and their coordinates.
    sample_stats
        Per-draw statistics, (chain, draw).
    cells, index
        The training data and its row labels (the ``obs`` coordinate).
    log_likelihood
        Pointwise log-likelihood (chain, draw, obs), for LOO; optional.
    attrs
        Recorded on every group: engine, engine version, method, ...
    """
    attrs = dict(attrs or {})
    groups = {
        "posterior": dataset(posterior, dims, coords, attrs),
        "observed_data": _observed(cells, index),
    }
    if sample_stats:
        groups["sample_stats"] = dataset(sample_stats, {}, {}, attrs)
    if log_likelihood is not None:
        groups["log_likelihood"] = dataset(
            {"y": log_likelihood}, {"y": ["obs"]}, {"obs": np.asarray(index)}, attrs
        )
    return az.InferenceData(**groups)
