"""The kernel shared by relabelling and the label-switching diagnostics:
array checks, exact minimum-cost matching of component labels, and the
adapters that read component variables out of an ArviZ posterior.

Matching is exact: for K <= 6 every one of the K! permutations is scored at
once for all draws (one matrix product against a one-hot permutation table),
for larger K the Hungarian algorithm
(:func:`scipy.optimize.linear_sum_assignment`) runs per draw.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from stanmix._validation import first_index, float_array
from stanmix.exceptions import StanmixInputError

if TYPE_CHECKING:
    import xarray as xr

#: Largest K for which all K! permutations are scored exhaustively.
EXHAUSTIVE_MAX_K = 6
CHUNK_BYTES = 32 * 2**20
ROW_SUM_TOL = 1e-3


def check_finite(
    arr: np.ndarray,
    name: str,
    fix: str = "drop or repair those draws before relabelling",
) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        idx = first_index(bad)
        raise StanmixInputError(
            f"{name} has {int(bad.sum())} non-finite value(s) (NaN or inf), the "
            f"first at index {idx}; {fix}."
        )


def check_draws(
    x: Any, name: str, *, ndim: Sequence[int] = (3, 4), shape_doc: str = ""
) -> np.ndarray:
    """A finite float array with leading (chain, draw, component) axes."""
    arr = float_array(name, x)
    if arr.ndim not in ndim:
        doc = shape_doc or "(chain, draw, component) or (chain, draw, component, D)"
        raise StanmixInputError(
            f"{name} must have shape {doc}; got shape {arr.shape}. "
            "For a single chain add the chain axis with arr[None]."
        )
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise StanmixInputError(
            f"{name} has no draws (shape {arr.shape}); pass at least one draw."
        )
    if arr.shape[2] < 2:
        raise StanmixInputError(
            f"{name} has {arr.shape[2]} component(s) on axis 2; relabelling needs "
            "at least 2 components."
        )
    check_finite(arr, name)
    return arr


def flatten_params(
    params: Mapping[str, Any], name: str = "params"
) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, ...]]]:
    """Validated parameter draws reshaped to (C, S, K, E), and per-draw shapes."""
    if not isinstance(params, Mapping) or len(params) == 0:
        raise StanmixInputError(
            f"{name} must be a non-empty mapping of parameter name to draws of "
            "shape (chain, draw, component, ...)."
        )
    out: dict[str, np.ndarray] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    lead: tuple[int, int, int] | None = None
    for key, value in params.items():
        arr = check_draws(
            value,
            f"{name}[{key!r}]",
            ndim=range(3, 33),
            shape_doc="(chain, draw, component, ...)",
        )
        if lead is None:
            lead = arr.shape[:3]
        elif arr.shape[:3] != lead:
            raise StanmixInputError(
                f"{name}[{key!r}] has leading shape (chain, draw, component) = "
                f"{arr.shape[:3]} but the other parameters have {lead}; all must "
                "come from the same draws."
            )
        if arr[0, 0, 0].size == 0:
            raise StanmixInputError(
                f"{name}[{key!r}] has shape {arr.shape}: no values per component "
                "to match on; drop it or give it values."
            )
        out[str(key)] = arr.reshape(*arr.shape[:3], -1)
        shapes[str(key)] = arr.shape[2:]
    return out, shapes


@cache
def permutation_table(k: int) -> tuple[np.ndarray, np.ndarray]:
    """All K! permutations (identity first) and their one-hot (K*K, K!) form."""
    table = np.array(list(itertools.permutations(range(k))), dtype=np.intp)
    onehot = np.zeros((k * k, len(table)))
    rows = np.arange(k)[None, :] * k + table
    onehot[rows, np.arange(len(table))[:, None]] = 1.0
    table.setflags(write=False)
    onehot.setflags(write=False)
    return table, onehot


def min_cost_permutations(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row exact assignment for cost (M, K, K) = cost of new j <- old l.

    Returns the permutations (M, K) and their total costs (M,). Among equal
    totals the identity wins (it is first in the table).
    """
    m, k, _ = cost.shape
    perm = np.empty((m, k), dtype=np.intp)
    best = np.empty(m)
    if k <= EXHAUSTIVE_MAX_K:
        table, onehot = permutation_table(k)
        step = max(1, CHUNK_BYTES // (8 * len(table)))
        flat = cost.reshape(m, k * k)
        for start in range(0, m, step):
            totals = flat[start : start + step] @ onehot
            idx = np.argmin(totals, axis=1)
            perm[start : start + step] = table[idx]
            best[start : start + step] = totals[np.arange(len(idx)), idx]
    else:
        for i in range(m):
            rows, cols = linear_sum_assignment(cost[i])
            perm[i, rows] = cols
            best[i] = cost[i, rows, cols].sum()
    return perm, best


def sq_cost(x: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """cost[m, j, l] = sum_e (x[m, l, e] - ref[j, e])**2 for x (M,K,E), ref (K,E)."""
    x2 = np.einsum("mle,mle->ml", x, x)
    r2 = np.einsum("je,je->j", ref, ref)
    cost = x2[:, None, :] + r2[None, :, None]
    cost -= 2.0 * np.einsum("mle,je->mjl", x, ref)
    np.maximum(cost, 0.0, out=cost)
    return cost


def chunk_rows(row_bytes: int) -> int:
    return max(1, CHUNK_BYTES // max(1, row_bytes))


def is_membership_like(da: xr.DataArray, component_dim: str) -> bool:
    """Per-observation probabilities (or log-probabilities) over components."""
    extra = [d for d in da.dims if d not in ("chain", "draw", component_dim)]
    if not extra:
        return False
    vals = da.isel(draw=slice(0, 5)).transpose(..., component_dim).values
    vals = np.asarray(vals, dtype=float)
    if vals.size == 0 or np.isnan(vals).any():
        return False
    if (vals >= 0).all():
        return bool(np.allclose(vals.sum(axis=-1), 1.0, atol=ROW_SUM_TOL))
    if (vals <= 0).all():
        with np.errstate(divide="ignore"):
            top = vals.max(axis=-1, keepdims=True)
            lse = top[..., 0] + np.log(np.exp(vals - top).sum(axis=-1))
        return bool(np.allclose(lse, 0.0, atol=ROW_SUM_TOL))
    return False


def component_vars(posterior: xr.Dataset, component_dim: str) -> list[str]:
    return [str(v) for v, da in posterior.data_vars.items() if component_dim in da.dims]


def draws_first(da: xr.DataArray, component_dim: str) -> xr.DataArray:
    """Transpose to (chain, draw, component, ...)."""
    return da.transpose("chain", "draw", component_dim, ...)
