"""Building the ArviZ InferenceData of a fit.

Dims used throughout: ``chain``, ``draw``, ``component``, ``obs``, ``dim``
(the data's column names) and, for correlations, ``pair`` ("x:y").
Univariate data (one column) keep ``obs`` only in ``observed_data`` and
``constant_data``.

``observed_data`` holds the data as recorded (``y``), the variable that
``posterior_predictive`` replicates, so ``az.plot_ppc(idata)`` pairs them;
``constant_data`` holds what describes the cells without being modelled:
``cell_kind`` ("observed", "left", "right", "interval" or "missing"),
``lower`` and ``upper`` (each cell's bounds), ``lower_limit`` and
``upper_limit`` where detection limits were given (the limit in force for
each cell, censored or not, NaN where none: what replicates are censored
at) and, for a table with covariates, the covariates ``X`` (obs,
covariate).
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

__all__ = ["az", "build_inference_data", "dataset", "obs_coord"]


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


def obs_coord(index) -> np.ndarray:
    """The ``obs`` coordinate of the data's row labels, in a form NetCDF
    stores: a time-zone-aware time index in UTC (NetCDF keeps no zone), and
    a period index, labels of mixed types ("ref", 1, 2) and labels that are
    neither text nor numbers (tuples, say) as text; NumPy numbers held as
    objects as numbers; other labels as they are. Distinct labels stay
    distinct: where two would read the same as text (``1`` and ``"1"``),
    each is written as Python shows it (``repr``), and where even that
    repeats, followed by its row number.
    (``membership()`` and the other tables keep the data's own labels.)

    Examples
    --------
    >>> import pandas as pd
    >>> paris = pd.date_range("2024-01-01", periods=2, tz="Europe/Paris")
    >>> str(obs_coord(paris)[0])[:19]
    '2023-12-31T23:00:00'
    >>> obs_coord(pd.period_range("2024-01", periods=2, freq="M")).tolist()
    ['2024-01', '2024-02']
    >>> obs_coord(pd.Index(["ref", 1], dtype=object)).tolist()
    ['ref', '1']
    >>> obs_coord(pd.Index([(1, "a"), (2, "a")], tupleize_cols=False)).tolist()
    ["(1, 'a')", "(2, 'a')"]
    >>> obs_coord(pd.Index(["1", 1, "ref"], dtype=object)).tolist()
    ["'1'", '1', "'ref'"]
    >>> obs_coord(pd.Index([np.int64(3), np.int64(4)], dtype=object)).tolist()
    [3, 4]
    """
    if isinstance(index, pd.DatetimeIndex) and index.tz is not None:
        return index.tz_convert("UTC").tz_localize(None).to_numpy()
    if isinstance(index, pd.PeriodIndex):
        return index.astype(str).to_numpy()
    out = np.asarray(index)
    for kind in (np.integer, np.floating):  # NumPy numbers held as objects
        if out.dtype == object and out.size and all(isinstance(v, kind) for v in out):
            out = np.array([v.item() for v in out])
    if out.dtype == object and (
        len({type(v) for v in out}) > 1
        or not all(isinstance(v, (str, bytes, int, float)) for v in out)
    ):
        for text in (str, repr):
            labels = [text(v) for v in out]
            if len(set(labels)) == len(labels):
                return np.array(labels)
        return np.array([f"{label} (row {i})" for i, label in enumerate(labels)])
    return out


def _per_obs(
    arrays: Mapping[str, np.ndarray], cells: CellTable, index: pd.Index
) -> xr.Dataset:
    """(N, D) arrays as a Dataset over (obs, dim), or (obs) for one column."""
    obs = obs_coord(index)
    if cells.n_dims == 1:
        return xr.Dataset(
            {name: (["obs"], arr[:, 0]) for name, arr in arrays.items()},
            coords={"obs": obs},
        )
    return xr.Dataset(
        {name: (["obs", "dim"], arr) for name, arr in arrays.items()},
        coords={"obs": obs, "dim": list(cells.columns)},
    )


def _observed(cells: CellTable, index: pd.Index) -> xr.Dataset:
    """The data as recorded: ``y`` holds observed values, censored cells at
    their limit (intervals at the midpoint) and NaN where missing, which is
    how replicated data are recorded too (:mod:`stanmix.checks`); which is
    which is in :func:`_constant`."""
    recorded = cells.values.copy()
    recorded[cells.kind == LEFT] = cells.upper[cells.kind == LEFT]
    recorded[cells.kind == RIGHT] = cells.lower[cells.kind == RIGHT]
    middle = 0.5 * (cells.lower + cells.upper)
    recorded[cells.kind == INTERVAL] = middle[cells.kind == INTERVAL]
    return _per_obs({"y": recorded}, cells, index)


def _constant(cells: CellTable, index: pd.Index) -> xr.Dataset:
    """What describes the cells: ``cell_kind`` (``"observed"``, ``"left"``,
    ``"right"``, ``"interval"`` or ``"missing"``), ``lower`` and ``upper``
    (each cell's bounds, NaN where none), the detection limits in force
    (``lower_limit``, ``upper_limit``), if given, and the covariates ``X``,
    if any."""
    kinds = np.asarray(KIND_NAMES, dtype=object)[cells.kind].astype(str)
    arrays = {"cell_kind": kinds, "lower": cells.lower, "upper": cells.upper}
    for name in ("lower_limit", "upper_limit"):
        limits = getattr(cells, name)
        if limits is not None and not np.isnan(limits).all():
            arrays[name] = limits
    out = _per_obs(arrays, cells, index)
    if cells.covariates is not None:
        out["X"] = xr.DataArray(
            cells.covariates,
            dims=["obs", "covariate"],
            coords={"obs": obs_coord(index), "covariate": list(cells.covariate_names)},
        )
    return out


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
        The training data and its row labels (the ``obs`` coordinate): the
        data as recorded go to ``observed_data``, what describes the cells
        (and the covariates) to ``constant_data`` (see the module's docs).
    log_likelihood
        Pointwise log-likelihood (chain, draw, obs), for LOO; optional.
    attrs
        Recorded on every group: engine, engine version, method, ...
    """
    attrs = dict(attrs or {})
    groups = {
        "posterior": dataset(posterior, dims, coords, attrs),
        "observed_data": _observed(cells, index).assign_attrs(attrs),
        "constant_data": _constant(cells, index).assign_attrs(attrs),
    }
    if sample_stats:
        groups["sample_stats"] = dataset(sample_stats, {}, {}, attrs)
    if log_likelihood is not None:
        groups["log_likelihood"] = dataset(
            {"y": log_likelihood}, {"y": ["obs"]}, {"obs": obs_coord(index)}, attrs
        )
    return az.InferenceData(**groups)
