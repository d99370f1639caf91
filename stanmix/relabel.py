"""Post-hoc relabelling of mixture-model draws (label switching).

A K-component mixture posterior is invariant under the K! permutations of the
component labels, so MCMC chains can sit in different labellings or switch
labelling mid-chain. The functions here find, for every single draw, the
permutation of the component labels that brings it into one common labelling,
so switches inside a chain are undone as well as differences between chains.

Array conventions
-----------------
Draws keep their leading ``(chain, draw)`` axes, written ``(C, S)``:

- weights and univariate means: ``(C, S, K)``;
- multivariate means or scales: ``(C, S, K, D)``;
- membership probabilities per draw: ``(C, S, N, K)`` (component axis *last*).

A permutation array ``perm`` has shape ``(C, S, K)`` and means
``relabelled[c, s, j] = original[c, s, perm[c, s, j]]``: new label ``j`` takes
old label ``perm[c, s, j]``. :func:`apply_permutations` applies it along any
component axis.

Methods
-------
:func:`order_permutations`
    Sort the components by one parameter (an identifiability constraint
    imposed after the fact).
:func:`reference_permutations`
    Minimum-cost matching of every draw to a reference: a given point estimate
    (e.g. MAP) or an automatically chosen pivot draw; the cost is a scaled
    squared distance between parameters, or the ECR allocation disagreement of
    Papastamoulis & Iliopoulos (2010).
:func:`stephens_permutations`
    Stephens (2000) Kullback-Leibler relabelling on membership probabilities.
:func:`relabel_idata`
    All of the above over an ArviZ ``InferenceData``; returns a relabelled copy
    and a :class:`RelabelReport` with R-hat and ESS before and after.

Matching is exact: for K <= 6 every one of the K! permutations is scored at
once for all draws (one matrix product against a one-hot permutation table),
for larger K the Hungarian algorithm
(:func:`scipy.optimize.linear_sum_assignment`) runs per draw.

References
----------
M. Stephens (2000). Dealing with label switching in mixture models.
JRSS B 62(4), 795-809.

P. Papastamoulis and G. Iliopoulos (2010). An artificial allocations based
solution to the label switching problem in Bayesian analysis of mixtures of
distributions. J. Comput. Graph. Stat. 19(2), 313-331.

J.-M. Marin, K. Mengersen and C. P. Robert (2005). Bayesian modelling and
inference on mixtures of distributions. Handbook of Statistics 25.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from stanmix._labels import (
    ROW_SUM_TOL,
    check_draws,
    check_finite,
    chunk_rows,
    component_vars,
    draws_first,
    flatten_params,
    is_membership_like,
    min_cost_permutations,
    sq_cost,
)
from stanmix._validation import float_array
from stanmix.diagnostics import rhat_and_ess
from stanmix.exceptions import StanmixInputError

if TYPE_CHECKING:
    import arviz as az
    import xarray as xr

    from stanmix.diagnostics import LabelSwitchingReport

__all__ = [
    "RelabelReport",
    "StephensResult",
    "apply_permutations",
    "order_permutations",
    "reference_permutations",
    "relabel_idata",
    "stephens_permutations",
]

logger = logging.getLogger(__name__)

#: Probabilities are clipped to at least this value before taking logs.
PROB_FLOOR = 1e-12
_METHODS = ("auto", "stephens", "reference", "ecr", "order")


# --------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------


def _check_membership(x: Any, name: str = "membership") -> np.ndarray:
    """Membership probabilities (C, S, N, K); log-probabilities are exponentiated.

    An array with any negative entry is read as log-probabilities.
    """
    arr = float_array(name, x)
    if arr.ndim != 4:
        raise StanmixInputError(
            f"{name} must have shape (chain, draw, observation, component) with the "
            f"component axis last; got shape {arr.shape}."
        )
    if min(arr.shape) < 1:
        raise StanmixInputError(f"{name} is empty (shape {arr.shape}).")
    if arr.shape[3] < 2:
        raise StanmixInputError(
            f"{name} has {arr.shape[3]} component(s) on its last axis; relabelling "
            "needs at least 2 components."
        )
    c, s, n, k = arr.shape
    flat = arr.reshape(c * s, n, k)
    step = chunk_rows(n * k * 8)
    any_neg = any_pos = False
    for start in range(0, c * s, step):
        chunk = flat[start : start + step]
        bad = np.isnan(chunk) | np.isposinf(chunk)
        if not bad.any():
            any_neg = any_neg or bool((chunk < 0).any())
            any_pos = any_pos or bool((chunk > 1e-8).any())
            continue
        i, obs, comp = np.argwhere(bad)[0]
        idx = (*divmod(int(start + i), s), int(obs), int(comp))
        raise StanmixInputError(
            f"{name} has non-finite values (NaN or +inf), the first at index "
            f"{idx}; drop or repair those draws before relabelling."
        )
    if any_neg:
        if any_pos:
            raise StanmixInputError(
                f"{name} mixes negative and positive values: pass probabilities "
                "in [0, 1] or log-probabilities (<= 0), not both."
            )
        arr = np.exp(arr)
    flat = arr.reshape(c * s, n, k)
    for start in range(0, c * s, step):
        sums = flat[start : start + step].sum(axis=2)
        off = np.abs(sums - 1.0) > ROW_SUM_TOL
        if off.any():
            i, obs = np.argwhere(off)[0]
            idx = (*divmod(int(start + i), s), int(obs))
            raise StanmixInputError(
                f"{name} rows must sum to 1 over the component axis (the last "
                f"axis); row {idx} sums to {sums[i, obs]:.6g}. Pass membership "
                "probabilities (or log-probabilities) with the component axis "
                "last."
            )
    return arr


def _check_perm(perm: Any, shape: tuple[int, int, int], name: str = "perm"):
    arr = np.asarray(perm)
    if arr.shape != shape:
        raise StanmixInputError(
            f"{name} must have shape (chain, draw, component) = {shape}; got "
            f"{arr.shape}."
        )
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.array_equal(arr, np.round(arr)):
            raise StanmixInputError(f"{name} must hold integer component labels.")
    arr = arr.astype(np.intp)
    k = shape[2]
    if not np.array_equal(np.sort(arr, axis=-1), np.broadcast_to(np.arange(k), shape)):
        raise StanmixInputError(
            f"{name} must hold a permutation of 0..{k - 1} for every draw."
        )
    return arr


# --------------------------------------------------------------------------
# Exact minimum-cost matching
# --------------------------------------------------------------------------


def _keep_chain0_labels(perm: np.ndarray) -> np.ndarray:
    """Compose perm (C, S, K) with the one global relabelling that makes the
    most common permutation of chain 0 the identity.

    A labelling found from a pivot draw or by Stephens' algorithm is only
    defined up to such a global relabelling; this choice keeps the labels of
    chain 0 as sampled wherever possible.
    """
    rows, counts = np.unique(perm[0], axis=0, return_counts=True)
    inverse = np.argsort(rows[np.argmax(counts)])
    return perm[..., inverse]


# --------------------------------------------------------------------------
# Public array functions
# --------------------------------------------------------------------------


def apply_permutations(array: Any, perm: Any, axis: int = 2) -> np.ndarray:
    """Apply per-draw permutations along a component axis.

    Parameters
    ----------
    array : array_like, shape (C, S, ...)
        Draws with leading (chain, draw) axes and a component axis of length K.
    perm : array_like of int, shape (C, S, K)
        ``perm[c, s, j]`` is the old label that becomes new label ``j``.
    axis : int, default 2
        The component axis of `array` (negative values count from the end;
        it cannot be the chain or draw axis). Use ``axis=-1`` for membership
        probabilities of shape (C, S, N, K).

    Returns
    -------
    ndarray
        A new array: ``out[c, s, ..., j, ...]`` is
        ``array[c, s, ..., perm[c, s, j], ...]``.

    Examples
    --------
    >>> import numpy as np
    >>> mu = np.array([[[1.0, 0.0], [0.0, 1.0]]])     # 1 chain, 2 draws, K = 2
    >>> perm = np.array([[[1, 0], [0, 1]]])
    >>> apply_permutations(mu, perm).tolist()
    [[[0.0, 1.0], [0.0, 1.0]]]
    """
    arr = np.asarray(array)
    if arr.ndim < 3:
        raise StanmixInputError(
            f"array must have leading (chain, draw) axes and a component axis; got "
            f"shape {arr.shape}."
        )
    ax = axis + arr.ndim if axis < 0 else axis
    if not 2 <= ax < arr.ndim:
        raise StanmixInputError(
            f"axis={axis} is not a component axis of an array of shape {arr.shape}: "
            "axes 0 and 1 are (chain, draw)."
        )
    p = _check_perm(perm, (arr.shape[0], arr.shape[1], arr.shape[ax]))
    moved = np.moveaxis(arr, ax, -1)
    idx = p.reshape(p.shape[0], p.shape[1], *([1] * (moved.ndim - 3)), p.shape[2])
    out = np.take_along_axis(moved, idx, axis=-1)
    return np.moveaxis(out, -1, ax)


def order_permutations(values: Any, *, coordinate: int | None = None) -> np.ndarray:
    """Permutations that sort the components by one parameter in every draw.

    Parameters
    ----------
    values : array_like, shape (C, S, K) or (C, S, K, D)
        The parameter to order by, e.g. the component means.
    coordinate : int, optional
        For (C, S, K, D) input, the index d of the coordinate to order by.
        Must be None for (C, S, K) input.

    Returns
    -------
    perm : ndarray of int, shape (C, S, K)
        After relabelling, the components are in ascending order of the chosen
        parameter. Ties keep their original order.

    Examples
    --------
    >>> import numpy as np
    >>> mu = np.array([[[2.0, -1.0, 0.5]]])
    >>> order_permutations(mu).tolist()
    [[[1, 2, 0]]]
    >>> apply_permutations(mu, order_permutations(mu)).tolist()
    [[[-1.0, 0.5, 2.0]]]
    """
    arr = check_draws(values, "values")
    if arr.ndim == 4:
        d = arr.shape[3]
        if coordinate is None:
            raise StanmixInputError(
                f"values has shape {arr.shape} (D = {d} coordinates per component); "
                "pass coordinate=d to say which coordinate to order by."
            )
        if not isinstance(coordinate, (int, np.integer)) or not -d <= coordinate < d:
            raise StanmixInputError(
                f"coordinate must be an integer from {-d} to {d - 1} (negative "
                f"counts from the last); got {coordinate!r}."
            )
        arr = arr[..., coordinate]
    elif coordinate is not None:
        raise StanmixInputError(
            "coordinate is only meaningful for values of shape (chain, draw, "
            f"component, D); values has shape {arr.shape}."
        )
    return np.argsort(arr, axis=2, kind="stable").astype(np.intp)


def _stack_features(
    flat: Mapping[str, np.ndarray],
    scale: Mapping[str, Any] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stack (C, S, K, E) params into raw features (C*S, K, E_total).

    Returns the features and the user's per-feature scale (NaN where the
    default scale applies).
    """
    feats = []
    scales = []
    if scale is not None and not isinstance(scale, Mapping):
        raise StanmixInputError(
            "scale must be a mapping of parameter name to a positive scale."
        )
    unknown = [key for key in (scale or {}) if key not in flat]
    if unknown:
        raise StanmixInputError(
            f"scale names {unknown}, which are not in params ({list(flat)})."
        )
    for key, arr in flat.items():
        e = arr.shape[3]
        if scale is not None and key in scale:
            s = float_array(f"scale[{key!r}]", scale[key])
            if s.size not in (1, e):
                raise StanmixInputError(
                    f"scale[{key!r}] must be a scalar or have {e} entries (one per "
                    "element of a component)."
                )
            s = np.broadcast_to(s.reshape(-1), (e,))
            if not np.all(np.isfinite(s)) or np.any(s <= 0):
                raise StanmixInputError(f"scale[{key!r}] must be finite and positive.")
        else:
            s = np.full(e, np.nan)
        feats.append(arr)
        scales.append(np.asarray(s, dtype=float))
    x = np.concatenate(feats, axis=3)
    c, s_, k, e = x.shape
    return x.reshape(c * s_, k, e), np.concatenate(scales)


def _match_parameters(
    raw: np.ndarray,
    user_scale: np.ndarray,
    ref_raw: np.ndarray | None,
    pivot: int | None,
) -> tuple[np.ndarray, np.ndarray, int | None]:
    """Match raw features (M, K, E) to a reference; see reference_permutations.

    Returns the permutations (M, K), the final per-feature scale and the
    pivot draw used (None when a reference was given).
    """
    m, k, _ = raw.shape
    default = np.isnan(user_scale)
    total = raw.std(axis=(0, 1))
    total = np.where(total > 0, total, 1.0)
    order_sd = np.sqrt(np.sort(raw, axis=1).var(axis=0).mean(axis=0))
    scale = np.where(default, np.where(order_sd > 0, order_sd, total), user_scale)

    def run(scale_, pivot_):
        x = raw / scale_
        if ref_raw is not None:
            ref = ref_raw / scale_
        else:
            pivot_ = _parameter_pivot(x) if pivot_ is None else pivot_
            ref = x[pivot_]
        perm_ = np.empty((m, k), dtype=np.intp)
        step = chunk_rows(k * max(k, x.shape[2]) * 8 * 4)
        for start in range(0, m, step):
            cost_m = sq_cost(x[start : start + step], ref)
            perm_[start : start + step] = min_cost_permutations(cost_m)[0]
        return perm_, pivot_

    perm, used_pivot = run(scale, pivot)
    if default.any():
        aligned = np.take_along_axis(raw, perm[:, :, None], axis=1)
        within = np.sqrt(aligned.var(axis=0).mean(axis=0))
        scale = np.where(default, np.where(within > 0, within, total), user_scale)
        perm, used_pivot = run(scale, pivot)
    return perm, scale, (None if ref_raw is not None else used_pivot)


def _global_to_reference(
    perm: np.ndarray, params: Mapping[str, Any], reference: Mapping[str, Any]
) -> np.ndarray:
    """Compose perm (C, S, K) with the global relabelling that best matches the
    posterior medians of the relabelled `params` to `reference`."""
    flat, shapes = flatten_params(params)
    refs = _check_reference_params(reference, flat, shapes)
    raw, _ = _stack_features(flat, None)
    c, s, k = perm.shape
    aligned = np.take_along_axis(raw, perm.reshape(c * s, k)[:, :, None], axis=1)
    sd = np.sqrt(aligned.var(axis=0).mean(axis=0))
    sd = np.where(sd > 0, sd, 1.0)
    median = np.median(aligned, axis=0)
    ref = np.concatenate([refs[key] for key in flat], axis=1)
    g = min_cost_permutations(sq_cost(median[None] / sd, ref / sd))[0][0]
    return perm[..., g]


def _check_reference_params(
    reference: Mapping[str, Any], flat: Mapping[str, np.ndarray], shapes
) -> dict[str, np.ndarray]:
    if not isinstance(reference, Mapping):
        raise StanmixInputError(
            "reference must be a mapping of parameter name to an array of shape "
            "(component, ...) without chain and draw axes."
        )
    missing = [key for key in flat if key not in reference]
    if missing:
        raise StanmixInputError(
            f"reference lacks {missing}; give a reference value for every "
            f"parameter in params ({list(flat)})."
        )
    out = {}
    for key in flat:
        ref = float_array(f"reference[{key!r}]", reference[key])
        want = shapes[key]
        if ref.shape != want:
            raise StanmixInputError(
                f"reference[{key!r}] has shape {ref.shape} but each draw of "
                f"{key!r} has shape {want} (component, ...); give the reference "
                "without chain and draw axes."
            )
        check_finite(ref, f"reference[{key!r}]", "give finite reference values")
        out[key] = ref.reshape(want[0], -1)
    return out


def _parameter_pivot(x: np.ndarray) -> int:
    """Index of the draw closest, up to relabelling, to the posterior median.

    The target is the median over draws of each parameter's per-draw order
    statistics (sorted over components separately for every element), which
    does not depend on how draws are labelled; each draw's distance to it is
    its minimum over all relabellings.
    """
    target = np.median(np.sort(x, axis=1), axis=0)
    _, best = min_cost_permutations(sq_cost(x, target))
    return int(np.argmin(best))


def _membership_pivot(p: np.ndarray, n_candidates: int = 32, n_compare: int = 200):
    """Index of a central draw of membership p (M, N, K).

    A medoid over evenly spaced candidate draws: the candidate whose
    membership matrix agrees best, summed over evenly spaced comparison draws
    and maximised over relabellings, with the others (agreement between draws
    a and b under a relabelling = sum_n sum_j p_a[n, j] p_b[n, perm j]).
    """
    m, n, k = p.shape
    cand = np.unique(np.linspace(0, m - 1, min(m, n_candidates)).round().astype(int))
    comp = np.unique(np.linspace(0, m - 1, min(m, n_compare)).round().astype(int))
    pa = p[cand].transpose(0, 2, 1).reshape(len(cand) * k, n)
    pb = p[comp].transpose(1, 0, 2).reshape(n, len(comp) * k)
    g = (pa @ pb).reshape(len(cand), k, len(comp), k).transpose(0, 2, 1, 3)
    _, best = min_cost_permutations(-g.reshape(-1, k, k))
    score = best.reshape(len(cand), len(comp)).sum(axis=1)
    return int(cand[np.argmin(score)])


def _allocation_cost(z: np.ndarray, zref: np.ndarray, k: int) -> np.ndarray:
    """ECR cost (M, K, K): points allocated to l in the draw but not to j in ref."""
    m, n = z.shape
    cost = np.empty((m, k, k))
    step = chunk_rows(n * 8 * 4)
    for start in range(0, m, step):
        zc = z[start : start + step]
        mc = len(zc)
        index = (np.arange(mc)[:, None] * (k * k) + zref[None, :] * k + zc).ravel()
        agree = np.bincount(index, minlength=mc * k * k).reshape(mc, k, k)
        counts = agree.sum(axis=1)  # points allocated to l in the draw
        cost[start : start + mc] = counts[:, None, :] - agree
    return cost


def _allocations(p: np.ndarray) -> np.ndarray:
    """Most probable component per draw and observation, (M, N), chunked."""
    m, n, k = p.shape
    z = np.empty((m, n), dtype=np.int32)
    step = chunk_rows(n * k * 8)
    for start in range(0, m, step):
        z[start : start + step] = np.argmax(p[start : start + step], axis=2)
    return z


def reference_permutations(
    params: Mapping[str, Any],
    reference: Mapping[str, Any] | None = None,
    *,
    cost: Literal["parameters", "allocations"] = "parameters",
    membership: Any = None,
    scale: Mapping[str, Any] | None = None,
    log_density: Any = None,
) -> np.ndarray:
    """Per-draw permutations that best match each draw to a reference.

    Parameters
    ----------
    params : mapping of str to array_like, shape (C, S, K, ...)
        Component parameters of every draw (e.g. ``{"mu": ..., "w": ...}``),
        component axis at position 2. May be empty for
        ``cost="allocations"`` when `reference` or `log_density` is given.
    reference : mapping of str to array_like, optional
        The labelling to match. For ``cost="parameters"``: one array of shape
        (K, ...) per entry of `params`, e.g. the MAP estimate. For
        ``cost="allocations"``: ``{"allocations": (N,) int}`` (the reference
        component of each observation) or ``{"membership": (N, K)}``.
        If None, a pivot draw is used (see Notes).
    cost : {"parameters", "allocations"}, default "parameters"
        ``"parameters"``: the cost of giving old label l the new label j is
        ``sum ((theta[l] - ref[j]) / scale)**2`` over all parameters and
        elements. ``"allocations"``: the ECR cost of Papastamoulis &
        Iliopoulos, the number of observations allocated (most probable
        component) to l in the draw but not to j in the reference; the
        matching thus maximises agreement with the reference allocation.
    membership : array_like, shape (C, S, N, K), optional
        Membership probabilities (or log-probabilities, recognised by negative
        entries) per draw, component axis last. Required for
        ``cost="allocations"``.
    scale : mapping of str to float or array_like, optional
        Per-parameter scale for ``cost="parameters"`` (a scalar or one value
        per element of a component). Default: two passes (see Notes).
    log_density : array_like, shape (C, S), optional
        Log density of every draw (e.g. ``lp__``). When `reference` is None,
        the draw with the highest log density is the pivot.

    Returns
    -------
    perm : ndarray of int, shape (C, S, K)
        Apply with :func:`apply_permutations`. Each draw's permutation is the
        exact minimiser of the total cost (all K! permutations scored for
        K <= 6, the Hungarian algorithm beyond).

    Notes
    -----
    Pivot when `reference` is None: the draw with the highest `log_density`
    if given; otherwise, when `params` is non-empty, the draw closest to the
    posterior median in a permutation-invariant sense: the target is the
    median over draws of each parameter element's order statistics (sorted
    over components within each draw), and a draw's distance to it is the
    smallest scaled squared distance over all relabellings. With only
    membership, the pivot is the membership medoid of a subsample of draws
    (the draw whose allocations agree best with the others, up to
    relabelling). Draws are then matched to the pivot's labelling, and the
    result is composed with the one global relabelling that leaves the most
    common labelling of chain 0 unchanged.

    Default scale: per parameter element, a first matching divides by the
    pooled sd over draws of the per-draw order statistics (the values sorted
    over components), a scale that needs no labelling; then the pooled
    within-component sd of the draws so aligned (root mean over components
    of the variance over draws) replaces it, the pivot is chosen again and
    every draw is matched again. Both approximate the posterior sd of a
    component's parameter, so each element counts by how many posterior sds
    the components are apart in it. (The sd across draws *and* components
    would not do: it grows with the separation of the components, so
    well-separated means would count for little next to the noise of weights
    or scales that are alike in all components.)

    Examples
    --------
    >>> import numpy as np
    >>> mu = np.array([[[0.1, 5.0], [5.2, -0.1], [4.9, 0.0]]])   # (1, 3, 2)
    >>> perm = reference_permutations({"mu": mu}, {"mu": [0.0, 5.0]})
    >>> perm.tolist()
    [[[0, 1], [1, 0], [1, 0]]]
    >>> apply_permutations(mu, perm)[..., 0].tolist()
    [[0.1, -0.1, 0.0]]
    """
    if cost not in ("parameters", "allocations"):
        raise StanmixInputError(
            f"unknown cost {cost!r}; use cost='parameters' or cost='allocations'."
        )
    have_params = isinstance(params, Mapping) and len(params) > 0
    flat, shapes = (
        flatten_params(params) if (have_params or cost == "parameters") else ({}, {})
    )
    lead = next(iter(flat.values())).shape[:3] if flat else None

    p = None
    if cost == "allocations":
        if membership is None:
            raise StanmixInputError(
                "cost='allocations' needs membership probabilities of shape "
                "(chain, draw, observation, component)."
            )
        p = _check_membership(membership)
        if lead is not None and (p.shape[:2] != lead[:2] or p.shape[3] != lead[2]):
            raise StanmixInputError(
                f"membership has shape {p.shape} but params have (chain, draw, "
                f"component) = {lead}; they must come from the same draws."
            )
        lead = (p.shape[0], p.shape[1], p.shape[3])
    c, s, k = lead
    m = c * s

    ld = None
    if log_density is not None:
        ld = float_array("log_density", log_density)
        if ld.shape != (c, s):
            raise StanmixInputError(
                f"log_density must have shape (chain, draw) = {(c, s)}; got {ld.shape}."
            )
        bad = ~np.isfinite(ld)
        if bad.any():
            chain, draw = (int(i) for i in np.argwhere(bad)[0])
            raise StanmixInputError(
                f"log_density has {int(bad.sum())} non-finite value(s), the first "
                f"at chain {chain}, draw {draw}; give each draw's finite log "
                "density (lp__), or leave log_density out to take the first draw "
                "as the pivot."
            )

    if cost == "parameters":
        raw, user_scale = _stack_features(flat, scale)
        ref_raw = None
        if reference is not None:
            refs = _check_reference_params(reference, flat, shapes)
            ref_raw = np.concatenate([refs[key] for key in flat], axis=1)
        pivot = int(np.argmax(ld)) if ld is not None else None
        perm = _match_parameters(raw, user_scale, ref_raw, pivot)[0].reshape(c, s, k)
        return perm if ref_raw is not None else _keep_chain0_labels(perm)

    pm = p.reshape(m, p.shape[2], k)
    n = pm.shape[1]
    z = _allocations(pm)
    if reference is not None:
        if not isinstance(reference, Mapping) or not (
            "allocations" in reference or "membership" in reference
        ):
            raise StanmixInputError(
                "for cost='allocations' reference must be {'allocations': (N,) "
                "int} or {'membership': (N, K)}."
            )
        if "allocations" in reference:
            zref = np.asarray(reference["allocations"])
            if zref.shape != (n,):
                raise StanmixInputError(
                    f"reference['allocations'] must have shape (N,) = ({n},); got "
                    f"{zref.shape}."
                )
            if not np.issubdtype(zref.dtype, np.integer) or (
                zref.min() < 0 or zref.max() >= k
            ):
                raise StanmixInputError(
                    f"reference['allocations'] must hold integer labels in [0, {k})."
                )
        else:
            pref = float_array("reference['membership']", reference["membership"])
            if pref.shape != (n, k):
                raise StanmixInputError(
                    f"reference['membership'] must have shape (N, K) = {(n, k)}; "
                    f"got {pref.shape}."
                )
            check_finite(
                pref, "reference['membership']", "give finite membership values"
            )
            zref = np.argmax(pref, axis=1)
        zref = zref.astype(np.intp)
    else:
        if ld is not None:
            pivot = int(np.argmax(ld))
        elif flat:
            raw, user_scale = _stack_features(flat, scale)
            pivot = _match_parameters(raw, user_scale, None, None)[2]
        else:
            pivot = _membership_pivot(pm)
        zref = z[pivot].astype(np.intp)
    perm = min_cost_permutations(_allocation_cost(z, zref, k))[0].reshape(c, s, k)
    return perm if reference is not None else _keep_chain0_labels(perm)


@dataclass(frozen=True, eq=False)
class StephensResult:
    """Result of :func:`stephens_permutations`.

    Attributes
    ----------
    perm : ndarray of int, shape (C, S, K)
        Per-draw permutations (see :func:`apply_permutations`).
    objective : ndarray of float, shape (n_iter,)
        Mean over draws of the Kullback-Leibler loss
        ``sum_n sum_j p[n, perm j] log(p[n, perm j] / q[n, j])`` after each
        iteration; non-increasing.
    n_iter : int
        Number of relabelling steps run.
    converged : bool
        True when the permutations stopped changing (or the objective
        stopped decreasing by more than `tol`) within `max_iter` iterations.
    """

    perm: np.ndarray
    objective: np.ndarray
    n_iter: int
    converged: bool


def stephens_permutations(
    membership: Any,
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
    init_perm: Any = None,
) -> StephensResult:
    """Stephens' (2000) Kullback-Leibler relabelling algorithm.

    Alternates (a) ``q[n, j]`` = mean over draws of the relabelled membership
    probabilities and (b) for every draw, the permutation minimising
    ``sum_n sum_j p[n, perm j] log(p[n, perm j] / q[n, j])``, until no
    permutation changes. Each step cannot increase the objective, so the
    algorithm stops at a local minimum.

    Parameters
    ----------
    membership : array_like, shape (C, S, N, K)
        Membership probabilities ``P(z_n = k | theta_s, y)`` per draw,
        component axis last. Log-probabilities (recognised by negative
        entries) are exponentiated. Probabilities are clipped below at
        ``PROB_FLOOR`` before taking logs.
    max_iter : int, default 100
        Maximum number of relabelling steps.
    tol : float, default 1e-10
        Also stop when the objective decreases by less than ``tol`` times its
        magnitude in one step.
    init_perm : array_like of int, shape (C, S, K), optional
        Starting permutations (e.g. from :func:`reference_permutations`).
        Default: q starts as the membership of a central pivot draw (the
        membership medoid of a subsample of draws), so the first step matches
        every draw to the pivot.

    Returns
    -------
    StephensResult

    Notes
    -----
    The result is composed with the one global relabelling that leaves the
    most common labelling of chain 0 unchanged (the algorithm itself defines
    the labelling only up to such a relabelling).

    The per-draw cost matrix is ``cost[j, l] = h[l] - sum_n p[n, l] log q[n, j]``
    with ``h[l] = sum_n p[n, l] log p[n, l]``: a (K, N) @ (N, K) product per
    draw, computed over chunks of draws, so memory stays at the size of the
    input plus a bounded work buffer.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])    # N = 3, K = 2
    >>> membership = np.stack([p, p[:, ::-1], p])[None]         # (1, 3, 3, 2)
    >>> res = stephens_permutations(membership)
    >>> res.perm[0].tolist()
    [[0, 1], [1, 0], [0, 1]]
    >>> bool(res.converged)
    True
    """
    p4 = _check_membership(membership)
    c, s, n, k = p4.shape
    m = c * s
    p = p4.reshape(m, n, k)
    if (
        isinstance(max_iter, (bool, np.bool_))
        or not isinstance(max_iter, (int, np.integer))
        or max_iter < 1
    ):
        raise StanmixInputError(
            f"max_iter must be a positive integer; got {max_iter!r}."
        )
    step = chunk_rows(n * k * 8 * 2)

    def chunks():
        for start in range(0, m, step):
            yield start, np.clip(p[start : start + step], PROB_FLOOR, None)

    h = np.empty((m, k))
    for start, pc in chunks():
        h[start : start + len(pc)] = np.einsum("mnl,mnl->ml", pc, np.log(pc))

    def q_from(perm_: np.ndarray) -> np.ndarray:
        acc = np.zeros((n, k))
        for start, pc in chunks():
            sel = perm_[start : start + len(pc), None, :]
            acc += np.take_along_axis(pc, sel, axis=2).sum(axis=0)
        return acc / acc.sum(axis=1, keepdims=True)

    if init_perm is not None:
        prev = _check_perm(init_perm, (c, s, k), "init_perm").reshape(m, k)
        q = q_from(prev)
    else:
        prev = None
        pivot = _membership_pivot(p)
        q = np.clip(p[pivot], PROB_FLOOR, None)
        q /= q.sum(axis=1, keepdims=True)

    objective: list[float] = []
    converged = False
    perm = prev
    for _ in range(max_iter):
        logq = np.log(q)
        perm = np.empty((m, k), dtype=np.intp)
        total = 0.0
        acc = np.zeros((n, k))
        for start, pc in chunks():
            stop = start + len(pc)
            cross = np.matmul(pc.transpose(0, 2, 1), logq)  # (m, l, j)
            cost = h[start:stop, None, :] - cross.transpose(0, 2, 1)
            perm_c, best = min_cost_permutations(cost)
            perm[start:stop] = perm_c
            total += float(best.sum())
            acc += np.take_along_axis(pc, perm_c[:, None, :], axis=2).sum(axis=0)
        objective.append(total / m)
        q = acc / acc.sum(axis=1, keepdims=True)
        unchanged = prev is not None and np.array_equal(perm, prev)
        small = len(objective) > 1 and objective[-2] - objective[-1] <= tol * abs(
            objective[-2]
        )
        prev = perm
        if unchanged or small:
            converged = True
            break
    if not converged:
        logger.warning(
            "Stephens relabelling did not converge in %d iterations", max_iter
        )
    return StephensResult(
        perm=_keep_chain0_labels(perm.reshape(c, s, k)),
        objective=np.asarray(objective),
        n_iter=len(objective),
        converged=converged,
    )


# --------------------------------------------------------------------------
# InferenceData
# --------------------------------------------------------------------------


@dataclass(eq=False)
class RelabelReport:
    """What :func:`relabel_idata` did and how the diagnostics changed.

    Attributes
    ----------
    method : str
        The method used ("stephens", "reference", "ecr" or "order").
    permutations : ndarray of int, shape (C, S, K)
        The per-draw permutations applied.
    fraction_permuted : ndarray of float, shape (C,)
        Per chain, the fraction of draws whose permutation is not the identity.
    rhat_before, rhat_after : xarray.Dataset
        ``arviz.rhat`` of every component parameter before and after.
    ess_before, ess_after : xarray.Dataset
        ``arviz.ess`` (bulk) of every component parameter before and after.
    modes_before : LabelSwitchingReport or None
        :func:`stanmix.diagnostics.detect_label_switching` on the raw draws,
        when it was passed to :func:`relabel_idata`.
    stephens : StephensResult or None
        The Stephens run (objective, iterations, convergence) when used.
    """

    method: str
    permutations: np.ndarray
    fraction_permuted: np.ndarray
    rhat_before: xr.Dataset
    rhat_after: xr.Dataset
    ess_before: xr.Dataset
    ess_after: xr.Dataset
    modes_before: LabelSwitchingReport | None
    stephens: StephensResult | None = None

    @staticmethod
    def _extreme(ds: xr.Dataset, fn) -> float:
        vals = [np.asarray(ds[v].values, dtype=float).ravel() for v in ds.data_vars]
        vals = np.concatenate(vals) if vals else np.array([])
        vals = vals[np.isfinite(vals)]
        return float(fn(vals)) if vals.size else float("nan")

    @property
    def max_rhat(self) -> tuple[float, float]:
        """Largest R-hat over component parameters (before, after)."""
        return (
            self._extreme(self.rhat_before, np.max),
            self._extreme(self.rhat_after, np.max),
        )

    @property
    def min_ess(self) -> tuple[float, float]:
        """Smallest bulk ESS over component parameters (before, after)."""
        return (
            self._extreme(self.ess_before, np.min),
            self._extreme(self.ess_after, np.min),
        )

    def __str__(self) -> str:
        c, s, k = self.permutations.shape
        rb, ra = self.max_rhat
        eb, ea = self.min_ess
        frac = "  ".join(f"{i}: {f:.2f}" for i, f in enumerate(self.fraction_permuted))
        rhat = (
            f"  max R-hat      {rb:8.3f} -> {ra:.3f}"
            if c > 1
            else "  max R-hat      (compares chains; this fit ran one)"
        )
        lines = [
            f"Relabelling: method {self.method}, {c} chain{'s' * (c != 1)} x {s} "
            f"draws, K = {k}",
            rhat,
            f"  min ESS (bulk) {eb:8.0f} -> {ea:.0f}",
            f"  fraction of draws permuted per chain: {frac}",
        ]
        modes = self.modes_before
        if modes is not None:
            if modes.chains_in_different_modes:
                other = [str(i) for i, d in enumerate(modes.chain_differs) if d]
                mode_line = f"yes (chain(s) {', '.join(other)} differ from chain 0)"
            else:
                mode_line = "no"
            n_sw = sum(modes.within_chain_switches.values())
            lines += [
                f"  chains in different modes before: {mode_line}",
                f"  within-chain switches before: {n_sw}",
            ]
        if self.stephens is not None:
            state = "converged" if self.stephens.converged else "NOT converged"
            lines.append(f"  Stephens: {self.stephens.n_iter} iterations, {state}")
        return "\n".join(lines)


def _membership_from_posterior(
    da: xr.DataArray, component_dim: str, name: str
) -> np.ndarray:
    extra = [d for d in da.dims if d not in ("chain", "draw", component_dim)]
    if len(extra) != 1:
        raise StanmixInputError(
            f"membership variable {name!r} must have dims (chain, draw, "
            f"observation, {component_dim}); it has {da.dims}."
        )
    return da.transpose("chain", "draw", extra[0], component_dim).values


def _reference_values(
    value: Any, da: xr.DataArray, component_dim: str, name: str
) -> np.ndarray:
    """A reference for variable `da` as (component, ...) in draws_first order."""
    dims = [
        d for d in draws_first(da, component_dim).dims if d not in ("chain", "draw")
    ]
    if hasattr(value, "dims") and hasattr(value, "transpose"):
        value = value.squeeze(
            [d for d in ("chain", "draw") if d in value.dims], drop=True
        )
        if set(value.dims) != set(dims):
            raise StanmixInputError(
                f"reference[{name!r}] has dims {value.dims}; expected {tuple(dims)}."
            )
        return np.asarray(value.transpose(*dims).values, dtype=float)
    arr = float_array(f"reference[{name!r}]", value)
    own = [d for d in da.dims if d not in ("chain", "draw")]
    want = tuple(da.sizes[d] for d in own)
    if arr.shape != want:
        raise StanmixInputError(
            f"reference[{name!r}] has shape {arr.shape} but each draw of {name!r} "
            f"has shape {want} (dims {tuple(own)}); give the reference without "
            "chain and draw axes."
        )
    order = [own.index(d) for d in dims]
    return np.transpose(arr, order)


def relabel_idata(
    idata: az.InferenceData,
    method: Literal["auto", "stephens", "reference", "ecr", "order"] = "auto",
    *,
    reference: Mapping[str, Any] | None = None,
    membership: str | Any | None = None,
    order_by: str | tuple[str, Any] | None = None,
    var_names: Sequence[str] | None = None,
    component_dim: str = "component",
    max_iter: int = 100,
    modes_before: LabelSwitchingReport | None = None,
) -> tuple[az.InferenceData, RelabelReport]:
    """Relabel every component variable of a posterior, draw by draw.

    Parameters
    ----------
    idata : arviz.InferenceData
        Must have a ``posterior`` group with (chain, draw) dims; every
        variable with the `component_dim` dim is permuted consistently per
        draw (weights, means, scales and per-draw membership variables).
    method : {"auto", "stephens", "reference", "ecr", "order"}, default "auto"
        ``"stephens"``: :func:`stephens_permutations` on the membership
        probabilities. ``"reference"``: :func:`reference_permutations` with
        the parameter cost. ``"ecr"``: :func:`reference_permutations` with the
        allocation cost. ``"order"``: :func:`order_permutations` on
        `order_by`. ``"auto"``: Stephens when membership probabilities are
        available, reference matching otherwise.
    reference : mapping, optional
        A labelling to keep, usually a MAP estimate: values for some of the
        matching variables, each in that variable's dim order without chain
        and draw (or an xarray object with named dims); other keys are
        ignored. ``"reference"`` matches every draw to it on the variables
        it gives. ``"stephens"`` and ``"ecr"`` find their labelling as usual
        and then apply the one global relabelling whose posterior medians
        best match it. ``"ecr"`` also takes ``{"allocations": (N,)}`` or
        ``{"membership": (N, K)}`` as its reference allocation. Refused by
        ``"order"``. Default: a pivot draw (the highest ``lp`` in
        ``sample_stats`` when present, see :func:`reference_permutations`),
        with chain 0's most common labelling kept.
    membership : str or array_like, optional
        Membership probabilities (or log-probabilities): the name of a
        posterior variable with dims (chain, draw, observation, component),
        or an array (C, S, N, K) with the component axis last. Default: the
        posterior variable that looks like one (a component variable with one
        more dim whose entries sum to 1, or log-sum-exp to 0, over components),
        if there is exactly one.
    order_by : str or (str, coordinate), optional
        For ``"order"`` only: the variable to sort by and, for a variable with one
        more dim, the coordinate: an ``int`` is a position along that dim, any
        other value a coordinate label. Default: ``"mu"`` (coordinate 0).
    var_names : sequence of str, optional
        The component variables used for matching and diagnostics. Default:
        every component variable except membership variables. All component
        variables are permuted either way.
    component_dim : str, default "component"
        Name of the component dim.
    max_iter : int, default 100
        Passed to :func:`stephens_permutations`.
    modes_before : LabelSwitchingReport, optional
        What :func:`stanmix.diagnostics.detect_label_switching` found on the
        raw draws, carried into the report (relabelling itself needs it not).

    Returns
    -------
    new_idata : arviz.InferenceData
        A copy whose ``posterior`` is relabelled and which carries the
        original draws in a group ``posterior_raw``, together with the
        permutation as ``posterior_raw.relabel_permutation`` (chain, draw,
        component). The input is not modified.
    report : RelabelReport

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> mu = np.array([[[-2.0, 2.0]] * 4, [[2.0, -2.0]] * 4])
    >>> mu += 0.01 * np.arange(4)[:, None]
    >>> idata = az.from_dict(posterior={"mu": mu}, dims={"mu": ["component"]})
    >>> new, report = relabel_idata(idata, "order")
    >>> new.posterior["mu"].values[:, 0, 0].tolist()
    [-2.0, -2.0]
    >>> report.fraction_permuted.tolist()
    [0.0, 1.0]
    >>> "posterior_raw" in new.groups()
    True
    """

    if method not in _METHODS:
        raise StanmixInputError(
            f"unknown method {method!r}; use one of {', '.join(map(repr, _METHODS))}."
        )
    if order_by is not None and method != "order":
        raise StanmixInputError(
            f"order_by applies to method='order' only, not {method!r}; leave it "
            "out, or use method='order'"
        )
    if reference is not None and method == "order":
        raise StanmixInputError(
            "reference is not used by method='order', which sorts every draw by "
            "order_by; leave it out, or use another method"
        )
    if not hasattr(idata, "groups") or "posterior" not in idata.groups():
        raise StanmixInputError(
            "idata must be an arviz.InferenceData with a posterior."
        )
    if "posterior_raw" in idata.groups():
        raise StanmixInputError(
            "idata already has a posterior_raw group, so it was relabelled before; "
            "relabel the original InferenceData instead."
        )
    post = idata.posterior
    if "chain" not in post.dims or "draw" not in post.dims:
        raise StanmixInputError("idata.posterior must have 'chain' and 'draw' dims.")
    comp_vars = component_vars(post, component_dim)
    if not comp_vars:
        raise StanmixInputError(
            f"no posterior variable has the dim {component_dim!r}; pass "
            "component_dim= naming the component dim of the posterior."
        )
    k = int(post.sizes[component_dim])
    if k < 2:
        raise StanmixInputError(
            f"the posterior's component dim {component_dim!r} has {k} entry; "
            "relabelling needs at least 2 components (pass component_dim= if "
            "another dim holds them)."
        )
    memb_vars = [v for v in comp_vars if is_membership_like(post[v], component_dim)]

    p = None
    if isinstance(membership, str):
        if (
            membership not in post.data_vars
            or component_dim not in post[membership].dims
        ):
            raise StanmixInputError(
                f"membership={membership!r} is not a posterior variable with the "
                f"{component_dim!r} dim; component variables: {comp_vars}."
            )
        p = _membership_from_posterior(post[membership], component_dim, membership)
        memb_vars = sorted(set(memb_vars) | {membership})
    elif membership is not None:
        p = membership
    elif len(memb_vars) == 1:
        p = _membership_from_posterior(post[memb_vars[0]], component_dim, memb_vars[0])
    if p is not None:
        p = _check_membership(p)
        c, s = post.sizes["chain"], post.sizes["draw"]
        if p.shape[:2] != (c, s) or p.shape[3] != k:
            raise StanmixInputError(
                f"membership has shape {p.shape}; expected (chain, draw, "
                f"observation, component) with chain = {c}, draw = {s}, "
                f"component = {k}."
            )

    if var_names is None:
        match_vars = [v for v in comp_vars if v not in memb_vars]
    else:
        match_vars = list(var_names)
        unknown = [v for v in match_vars if v not in comp_vars]
        if unknown:
            raise StanmixInputError(
                f"var_names {unknown} are not posterior variables with the "
                f"{component_dim!r} dim; component variables: {comp_vars}."
            )
    if not match_vars and (method == "reference" or (method == "auto" and p is None)):
        raise StanmixInputError(
            "no component parameters to match on (var_names is empty or the "
            f"posterior has none with the {component_dim!r} dim); pass var_names= "
            "naming some, or use method='stephens' with membership=."
        )

    resolved = method
    if method == "auto":
        resolved = "stephens" if p is not None else "reference"
    if resolved in ("stephens", "ecr") and p is None:
        raise StanmixInputError(
            f"method={resolved!r} needs membership probabilities: pass membership= "
            "(a posterior variable name or a (chain, draw, observation, component) "
            "array)."
        )

    params = {v: draws_first(post[v], component_dim).values for v in match_vars}
    log_density = None
    if reference is None and "sample_stats" in idata.groups():
        stats = idata.sample_stats
        if "lp" in stats.data_vars and set(stats["lp"].dims) == {"chain", "draw"}:
            lp = stats["lp"].transpose("chain", "draw").values
            if (
                lp.shape == (post.sizes["chain"], post.sizes["draw"])
                and np.isfinite(lp).all()
            ):
                log_density = lp

    ref_params: dict[str, np.ndarray] = {}
    alloc_ref = None
    if reference is not None and resolved != "order":
        if not isinstance(reference, Mapping):
            raise StanmixInputError(
                "reference must be a mapping of variable name to values."
            )
        if resolved == "ecr" and (
            "allocations" in reference or "membership" in reference
        ):
            alloc_ref = reference
        else:
            names = [v for v in match_vars if v in reference]
            if not names:
                raise StanmixInputError(
                    f"reference gives none of the matching variables {match_vars}; "
                    "give values for some of them (e.g. a MAP estimate)."
                )
            ref_params = {
                v: _reference_values(reference[v], post[v], component_dim, v)
                for v in names
            }

    stephens = None
    if resolved == "order":
        name, coord = (order_by, None) if not isinstance(order_by, tuple) else order_by
        name = "mu" if name is None else name
        if name not in comp_vars:
            raise StanmixInputError(
                f"order_by variable {name!r} is not a posterior variable with the "
                f"{component_dim!r} dim; pass order_by= one of {comp_vars}."
            )
        da = draws_first(post[name], component_dim)
        extra = list(da.dims[3:])
        if len(extra) > 1:
            raise StanmixInputError(
                f"order_by variable {name!r} has dims {da.dims}; order by a variable "
                "with at most one dim besides chain, draw and component."
            )
        if extra:
            coord = 0 if coord is None else coord
            if isinstance(coord, (int, np.integer)):
                if not -da.sizes[extra[0]] <= coord < da.sizes[extra[0]]:
                    raise StanmixInputError(
                        f"coordinate {coord} is out of range for dim {extra[0]!r} "
                        f"of size {da.sizes[extra[0]]}."
                    )
                da = da.isel({extra[0]: coord})
            else:
                try:
                    da = da.sel({extra[0]: coord})
                except KeyError as exc:
                    raise StanmixInputError(
                        f"coordinate {coord!r} is not a label of dim {extra[0]!r}."
                    ) from exc
        elif coord is not None:
            raise StanmixInputError(
                f"order_by variable {name!r} has no dim besides chain, draw and "
                "component; pass only its name."
            )
        perm = order_permutations(da.values)
    elif resolved == "reference":
        if ref_params:
            sub = {v: params[v] for v in ref_params}
            perm = reference_permutations(sub, ref_params)
        else:
            perm = reference_permutations(params, log_density=log_density)
    elif resolved == "ecr":
        perm = reference_permutations(
            params,
            alloc_ref,
            cost="allocations",
            membership=p,
            log_density=log_density,
        )
    else:
        stephens = stephens_permutations(p, max_iter=max_iter)
        perm = stephens.perm
    if ref_params and resolved in ("ecr", "stephens"):
        perm = _global_to_reference(
            perm, {v: params[v] for v in ref_params}, ref_params
        )

    new = idata.copy()
    raw = new.posterior.copy()
    for v in comp_vars:
        da = post[v]
        first = draws_first(da, component_dim)
        vals = apply_permutations(first.values, perm, axis=2)
        new.posterior[v] = first.copy(data=vals).transpose(*da.dims)
    raw["relabel_permutation"] = (
        ("chain", "draw", component_dim),
        np.asarray(perm, dtype=np.int64),
    )
    raw["relabel_permutation"].attrs["description"] = (
        "relabelled[chain, draw, j] = posterior_raw[chain, draw, perm[chain, draw, j]]"
    )
    new.add_groups({"posterior_raw": raw})

    diag_vars = match_vars
    if diag_vars:
        before = post[diag_vars]
        after = new.posterior[diag_vars]
        # Constant variables (e.g. known scales) give NaN, not a warning.
        rhat_before, ess_before = rhat_and_ess(before)
        rhat_after, ess_after = rhat_and_ess(after)
    else:
        import xarray as xr

        rhat_before = rhat_after = ess_before = ess_after = xr.Dataset()
    identity = np.arange(k)
    fraction = (perm != identity).any(axis=2).mean(axis=1)
    report = RelabelReport(
        method=resolved,
        permutations=np.asarray(perm),
        fraction_permuted=fraction,
        rhat_before=rhat_before,
        rhat_after=rhat_after,
        ess_before=ess_before,
        ess_after=ess_after,
        modes_before=modes_before,
        stephens=stephens,
    )
    return new, report
