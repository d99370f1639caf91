"""Checks of parameter draws handed to the likelihood (one leading draw axis)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from stanmix._validation import float_array
from stanmix.exceptions import StanmixInputError


def _first(mask: np.ndarray, axes: Sequence[str]) -> str:
    where = np.argwhere(mask)[0]
    return ", ".join(f"{a} {i}" for a, i in zip(axes, where, strict=False))


#: How the parameters are called in messages.
LABELS = {
    "w": "weights",
    "mu": "means",
    "sigma": "scales",
    "nu": "degrees of freedom nu",
    "corr": "correlations",
}


def draws(
    params: Mapping,
    name: str,
    shape: tuple[int, ...],
    axes: Sequence[str],
    *,
    positive: bool = False,
    hint: str = "",
) -> np.ndarray:
    """``params[name]`` as float64 with shape ``shape`` (draws first), finite
    (and > 0 when ``positive``)."""
    label = LABELS.get(name, name)
    if name not in params:
        raise StanmixInputError(f"the draws have no {name!r} ({label}); give it too")
    arr = float_array(label, params[name])
    if arr.shape != tuple(shape):
        raise StanmixInputError(
            f"{label} must have shape {tuple(shape)} = ({', '.join(axes)}), got "
            f"shape {arr.shape}; pass draws first, with chains and draws "
            f"flattened into the first axis{hint}"
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise StanmixInputError(
            f"{label} holds {int(bad.sum())} non-finite value(s) (first at "
            f"{_first(bad, axes)}); drop or repair those draws"
        )
    if positive:
        bad = arr <= 0
        if bad.any():
            raise StanmixInputError(
                f"{label} must be > 0, found {int(bad.sum())} value(s) <= 0 (first "
                f"at {_first(bad, axes)}); pass standard deviations, not log-scales"
            )
    return arr


def weights(params: Mapping) -> np.ndarray:
    """``w`` as (S, K) float64 mixing proportions."""
    w = float_array("weights", params.get("w")) if "w" in params else None
    if w is None:
        raise StanmixInputError("the draws have no 'w' (weights)")
    if w.ndim != 2:
        raise StanmixInputError(
            f"weights must have shape (S, K) = (draws, components), got shape "
            f"{w.shape}; flatten chains and draws into the first axis"
        )
    if w.shape[0] == 0 or w.shape[1] == 0:
        raise StanmixInputError(
            f"weights has shape {w.shape}; at least one draw and one component "
            "are needed"
        )
    w = draws({"w": w}, "w", w.shape, ("draw", "component"))
    bad = w < 0
    if bad.any():
        raise StanmixInputError(
            f"weights must be >= 0, found {int(bad.sum())} negative value(s) "
            f"(first at {_first(bad, ('draw', 'component'))}); pass mixing "
            "proportions, not log-weights"
        )
    total = w.sum(axis=1)
    off = np.abs(total - 1.0) > 1e-4
    if off.any():
        first = int(np.argmax(off))
        raise StanmixInputError(
            f"weights must sum to 1 over the components in every draw; draw "
            f"{first} sums to {total[first]:.6g} ({int(off.sum())} draw(s) off); "
            "pass the simplex w, not concentrations or counts"
        )
    return w


def per_component(
    params: Mapping, name: str, s: int, k: int, d: int, *, positive: bool = False
) -> np.ndarray:
    """A (S, K, D) parameter (means, scales); with D = 1, (S, K) is accepted."""
    arr = (
        float_array(LABELS.get(name, name), params.get(name))
        if name in params
        else None
    )
    if arr is not None and d == 1 and arr.ndim == 2:
        arr = arr[..., None]
    return draws(
        {name: arr} if arr is not None else {},
        name,
        (s, k, d),
        ("draw", "component", "dimension"),
        positive=positive,
        hint=f", to match weights (S, K) = ({s}, {k}) and the {d} column(s) of the "
        "cell table",
    )
