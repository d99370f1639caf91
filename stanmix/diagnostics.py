"""Diagnostics of mixture-model draws: label switching and convergence.

:func:`detect_label_switching` says whether MCMC chains sit in different
labellings of the components (one of the K! symmetric posterior modes each)
and whether a chain switches labelling part of the way through. Both make
averages over draws mix components; :mod:`stanmix.relabel` undoes them.

Scaled distances
----------------
Each element of each component parameter is divided by its *within-chain*
spread (a median absolute deviation, pooled over chains and components by a
median), so a distance of 1 is one typical within-chain standard deviation.
Swapping two components a and b whose parameters differ by Delta (in those
units) changes the squared distance to a reference by about 2 |Delta|**2, and
noise alone rarely produces a gain above a few units; the thresholds below are
in these squared units.

Convergence
-----------
:func:`convergence` condenses R-hat and bulk ESS of every parameter into a
:class:`Convergence`: the worst of each, and whether they meet the usual
bars (R-hat at most :data:`RHAT_LIMIT`, bulk ESS at least
:data:`ESS_LIMIT`, Vehtari et al. 2021). Given the sampler's statistics it
also counts the divergent transitions (at most :data:`DIVERGENCE_LIMIT` of
the draws in a converged run; any at all deserve a look), the transitions
that stopped at the maximum tree depth, and each chain's E-BFMI
(:func:`e_bfmi`; below :data:`BFMI_LIMIT` the momentum resampling explores
the energy poorly, Betancourt 2016). The estimators check their NUTS draws
with it after relabelling.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from stanmix import _validation as check
from stanmix._labels import (
    component_vars,
    draws_first,
    flatten_params,
    is_membership_like,
    min_cost_permutations,
    sq_cost,
)
from stanmix.exceptions import StanmixInputError

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "BFMI_LIMIT",
    "DIVERGENCE_LIMIT",
    "ESS_LIMIT",
    "RHAT_LIMIT",
    "Convergence",
    "LabelSwitchingReport",
    "convergence",
    "detect_label_switching",
    "e_bfmi",
]

#: Largest R-hat (rank-normalized, split) of a converged run.
RHAT_LIMIT = 1.01
#: Smallest bulk effective sample size of a converged run.
ESS_LIMIT = 400
#: Largest share of divergent transitions among the draws of a converged run.
DIVERGENCE_LIMIT = 0.001
#: Smallest E-BFMI of a chain whose energy is explored well.
BFMI_LIMIT = 0.3
#: Largest R-hat of chains that are most likely a little short of the bar
#: of RHAT_LIMIT rather than in different modes.
NEAR_RHAT = 1.05

_MAD_TO_SD = 1.4826

#: What a label-switching report advises for draws not yet relabelled.
RELABEL_ADVICE = (
    "Averages over these draws mix components and R-hat is inflated. "
    "Relabel the draws with stanmix.relabel.relabel_idata (Stephens or "
    "reference matching), or fit the ordered program (ordered means)."
)

#: How the convergence advice names the sampler's settings: as ``fit``'s
#: keywords, or as CmdStan's ``sample`` arguments for a direct run's draws.
_SETTINGS: dict[str, dict[str, str]] = {
    "fit": {
        "chains": "chains=",
        "draws": "draws=",
        "warmup": "warmup=",
        "init": "init='map' or your own init=",
        "init_default": "init='map', the default, or your own init=",
        "priors": "the prior_* settings",
        "adapt_delta": "adapt_delta",
        "step_size": "step_size=",
        "adapt_off": "adapt_engaged=False",
        "adapt_on": "leave adapt_engaged out",
        "max_treedepth": "max_treedepth=",
    },
    "cmdstan": {
        "chains": "num_chains=",
        "draws": "num_samples=",
        "warmup": "num_warmup=",
        "init": "an init= file, such as the one Mixture.stan_input writes",
        "init_default": "an init= file, such as the one Mixture.stan_input writes",
        "priors": "the prior entries of the data file",
        "adapt_delta": "adapt delta=",
        "step_size": "stepsize=",
        "adapt_off": "adapt engaged=0",
        "adapt_on": "adapt engaged=1, the default",
        "max_treedepth": "max_depth=",
    },
}


@dataclass(eq=False)
class LabelSwitchingReport:
    """What :func:`detect_label_switching` found.

    Attributes
    ----------
    chains_in_different_modes : bool
        Some chain sits, as a whole, in another labelling than chain 0.
    chain_differs : ndarray of bool, shape (C,)
        Per chain, whether it sits in another labelling than chain 0.
    chain_labelings : ndarray of int, shape (C, K)
        Per chain, the permutation mapping it onto chain 0's labelling (the
        identity for chains in the same labelling): chain c's component
        ``chain_labelings[c, j]`` is chain 0's component j.
    within_chain_switches : dict of int to int
        Per chain, the number of episodes (at least `min_run` consecutive
        draws) spent in another labelling than the rest of the chain.
    switch_runs : dict of int to list of (int, int)
        Per chain, the episodes as half-open draw-index ranges (start, stop).
    switch_draws : dict of int to ndarray of int
        Per chain, the draw indices at which the labelling changes (the start
        of each episode and its end when the chain goes back).
    fraction_switched : ndarray of float, shape (C,)
        Per chain, the fraction of draws inside those episodes.
    var_names : tuple of str
        The component parameters examined.
    message : str
        A few sentences saying what was found and what to do.
    """

    chains_in_different_modes: bool
    chain_differs: np.ndarray
    chain_labelings: np.ndarray
    within_chain_switches: dict[int, int]
    switch_runs: dict[int, list[tuple[int, int]]]
    switch_draws: dict[int, np.ndarray]
    fraction_switched: np.ndarray
    var_names: tuple[str, ...] = field(default=())
    message: str = ""

    @property
    def label_switching(self) -> bool:
        """True if chains differ in labelling or any chain switches inside."""
        return self.chains_in_different_modes or any(
            n > 0 for n in self.within_chain_switches.values()
        )

    def __str__(self) -> str:
        return self.message


def _collect(
    draws: Mapping[str, Any] | Any,
    component_dim: str,
    var_names: Sequence[str] | None,
) -> dict[str, np.ndarray]:
    """Component parameters as validated (C, S, K, E) arrays."""
    if hasattr(draws, "groups") and hasattr(draws, "posterior"):
        if "posterior" not in draws.groups():
            raise StanmixInputError("the InferenceData has no posterior group.")
        draws = draws.posterior
    if hasattr(draws, "data_vars"):
        post = draws
        comp = component_vars(post, component_dim)
        if not comp:
            raise StanmixInputError(
                f"no posterior variable has the dim {component_dim!r}; pass "
                "component_dim= naming the component dim."
            )
        if var_names is None:
            names = [v for v in comp if not is_membership_like(post[v], component_dim)]
        else:
            names = list(var_names)
            unknown = [v for v in names if v not in comp]
            if unknown:
                raise StanmixInputError(
                    f"var_names {unknown} are not variables with the "
                    f"{component_dim!r} dim; component variables: {comp}."
                )
        if not names:
            raise StanmixInputError(
                "no component parameters to examine; pass var_names=."
            )
        arrays = {v: draws_first(post[v], component_dim).values for v in names}
    elif isinstance(draws, Mapping):
        names = list(draws) if var_names is None else list(var_names)
        unknown = [v for v in names if v not in draws]
        if unknown:
            raise StanmixInputError(f"var_names {unknown} are not in draws.")
        arrays = {}
        for v in names:
            value = draws[v]
            if hasattr(value, "dims") and component_dim in value.dims:
                value = draws_first(value, component_dim).values
            arrays[v] = value
    else:
        raise StanmixInputError(
            "draws must be a mapping of name to (chain, draw, component, ...) "
            "arrays or an arviz.InferenceData."
        )
    return flatten_params(arrays, "draws")[0]


def _spread(x: np.ndarray) -> np.ndarray:
    """Per-feature within-chain spread (E,) of x (C, S, K, E); 0 if constant."""
    med = np.median(x, axis=1, keepdims=True)
    mad = np.median(np.abs(x - med), axis=1) * _MAD_TO_SD  # (C, K, E)
    scale = np.median(mad, axis=(0, 1))
    sd = np.median(x.std(axis=1), axis=(0, 1))
    return np.where(scale > 0, scale, sd)


def _within_chain_scale(x: np.ndarray, share: np.ndarray) -> np.ndarray:
    """The spread of each feature within a chain's labelling (E,).

    A chain that spends a good share of its draws in another labelling has
    a raw spread as wide as the components are apart, which would shrink
    the switch below the thresholds it is measured against; so each chain's
    draws are first aligned to its central labelling (found on the raw
    spread), and the spread is that of the aligned draws."""
    crude = _spread(x)
    keep = crude > 0
    if not keep.any():
        return crude
    aligned = np.empty_like(x)
    for i in range(x.shape[0]):
        z = x[i][..., keep] / crude[keep]
        ref = _aligned_reference(z, share[i])
        perm, _ = min_cost_permutations(sq_cost(z, ref) * share[i][None, :, None])
        aligned[i] = np.take_along_axis(x[i], perm[:, :, None], axis=1)
    scale = _spread(aligned)
    return np.where(scale > 0, scale, crude)


def _aligned_reference(
    z: np.ndarray, share: np.ndarray, n_rounds: int = 5
) -> np.ndarray:
    """A chain's central labelling (K, E): median of its draws aligned to it,
    each label's distance weighted by its ``share`` (K,)."""
    ref = np.median(z, axis=0)
    for _ in range(n_rounds):
        perm, _ = min_cost_permutations(sq_cost(z, ref) * share[None, :, None])
        new = np.median(np.take_along_axis(z, perm[:, :, None], axis=1), axis=0)
        if np.allclose(new, ref):
            break
        ref = new
    return ref


def _weight_shares(w: np.ndarray | None, c: int, k: int) -> np.ndarray:
    """Per chain, K times each label's median weight over its draws (they
    sum to K), or ones without weights (C, K). A minority of switched draws
    does not move a median, and a nearly empty component's share is near 0."""
    if w is None:
        return np.ones((c, k))
    median = np.median(w[..., 0], axis=1)
    total = median.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, k * median / total, 1.0)


def _runs(flag: np.ndarray, min_run: int) -> list[tuple[int, int]]:
    """Half-open ranges of consecutive True values at least min_run long."""
    padded = np.concatenate([[False], flag, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    starts, stops = edges[0::2], edges[1::2]
    return [
        (int(a), int(b)) for a, b in zip(starts, stops, strict=True) if b - a >= min_run
    ]


def _describe_perm(perm: np.ndarray) -> str:
    """Cycles of a permutation, e.g. 'components 0<->1 swapped'."""
    seen = np.zeros(len(perm), dtype=bool)
    parts = []
    for start in range(len(perm)):
        if seen[start] or perm[start] == start:
            seen[start] = True
            continue
        cycle = [start]
        seen[start] = True
        j = int(perm[start])
        while j != start:
            cycle.append(j)
            seen[j] = True
            j = int(perm[j])
        if len(cycle) == 2:
            parts.append(f"{cycle[0]}<->{cycle[1]} swapped")
        else:
            parts.append("->".join(str(i) for i in [*cycle, cycle[0]]) + " cycled")
    return "components " + ", ".join(parts)


def _join(items: Sequence[Any]) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def detect_label_switching(
    draws: Mapping[str, Any] | Any,
    *,
    component_dim: str = "component",
    var_names: Sequence[str] | None = None,
    min_run: int = 10,
    draw_threshold: float = 9.0,
    chain_threshold: float = 4.0,
) -> LabelSwitchingReport:
    """Find chains in different labellings and label switches inside chains.

    Parameters
    ----------
    draws : mapping of str to array_like (C, S, K, ...) or arviz.InferenceData
        Component parameters with leading (chain, draw, component) axes, e.g.
        ``{"mu": mu, "w": w}``, or an InferenceData whose posterior variables
        with the `component_dim` dim are used (membership-probability
        variables are skipped).
    component_dim : str, default "component"
        Name of the component dim for InferenceData input.
    var_names : sequence of str, optional
        Restrict the parameters examined.
    min_run : int, default 10
        A within-chain switch counts only if the chain stays in the other
        labelling for at least this many consecutive draws; shorter
        excursions of strongly autocorrelated draws of overlapping
        components are not counted.
    draw_threshold : float, default 9.0
        A draw is in another labelling than its chain when relabelling it
        lowers its scaled squared distance to the chain's reference by more
        than this and by more than half of what a draw sitting exactly in
        that other labelling would gain (so it is past the midpoint between
        the two labellings). For two components with independent noise,
        noise alone meets the first condition only when the difference of
        their draws deviates from the reference difference by more than
        3 of its sds, whatever their separation.
    chain_threshold : float, default 4.0
        A chain is in another labelling than chain 0 when relabelling its
        median lowers the scaled squared distance to chain 0's median by more
        than this and to less than half the unrelabelled distance.

    Returns
    -------
    LabelSwitchingReport
        ``str(report)`` is a readable summary.

    Notes
    -----
    Each chain's reference is the median of its draws after aligning every
    draw to it (a few rounds starting from the raw median), so a minority of
    switched draws does not pull it. With the weights ``w`` among the draws,
    each label's distance counts by its median weight in the chain (times
    K): a nearly empty component, whose draws follow its prior across the
    others', moves no supported component and is not a switch, while a
    supported component taking an empty one's label is. Chains are compared
    through these references (exhaustive matching for K <= 6, Hungarian
    beyond); draws are compared with their own chain's reference.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> mu = np.array([-3.0, 0.0, 3.0]) + 0.2 * rng.standard_normal((2, 200, 3))
    >>> detect_label_switching({"mu": mu}).label_switching
    False
    >>> mu[1] = mu[1][:, [1, 0, 2]]                 # chain 1 in another labelling
    >>> report = detect_label_switching({"mu": mu})
    >>> report.chains_in_different_modes, report.chain_labelings[1].tolist()
    (True, [1, 0, 2])
    """
    check.integer("min_run", min_run, low=1)
    check.number("draw_threshold", draw_threshold, positive=True)
    check.number("chain_threshold", chain_threshold, positive=True)
    flat = _collect(draws, component_dim, var_names)
    x = np.concatenate(list(flat.values()), axis=3)
    c, s, k, _ = x.shape
    # Each label's distance counts by its weight in the chain (K times its
    # median weight, 1 each when the weights are not among the draws): a
    # nearly empty component follows its prior and wanders through the
    # others, which is no switch of the components the data support.
    share = _weight_shares(flat.get("w"), c, k)
    scale = _within_chain_scale(x, share)
    keep = scale > 0
    if not keep.any():
        raise StanmixInputError(
            "no component parameter varies within chains; nothing to compare."
        )
    z = x[..., keep] / scale[keep]
    identity = np.arange(k)

    refs = np.stack([_aligned_reference(z[i], share[i]) for i in range(c)])

    # Within-chain switches.
    within: dict[int, int] = {}
    runs_by_chain: dict[int, list[tuple[int, int]]] = {}
    switch_draws: dict[int, np.ndarray] = {}
    fraction = np.zeros(c)
    for i in range(c):
        omega = share[i][:, None]  # (K, 1): per reference slot
        d_id = np.sum(omega * (z[i] - refs[i]) ** 2, axis=(1, 2))
        perm, d_best = min_cost_permutations(sq_cost(z[i], refs[i]) * omega[None])
        # Distance between the reference and its own relabelling by perm: the
        # gain of a draw that sits fully in that other labelling.
        full = np.sum(omega * (refs[i][perm] - refs[i]) ** 2, axis=(1, 2))
        gain = d_id - d_best
        flag = (gain > draw_threshold) & (gain > 0.5 * full)
        runs = _runs(flag, int(min_run))
        runs_by_chain[i] = runs
        within[i] = len(runs)
        points = [a for a, _ in runs] + [b for _, b in runs if b < s]
        switch_draws[i] = np.array(sorted(points), dtype=int)
        fraction[i] = sum(b - a for a, b in runs) / s

    # Chains against chain 0.
    labelings = np.tile(identity, (c, 1))
    differs = np.zeros(c, dtype=bool)
    omega = share[0][:, None]  # chain 0's slots
    for i in range(1, c):
        d_id = float(np.sum(omega * (refs[i] - refs[0]) ** 2))
        perm, best = min_cost_permutations(sq_cost(refs[i][None], refs[0]) * omega)
        gain = d_id - float(best[0])
        if (
            not np.array_equal(perm[0], identity)
            and gain > chain_threshold
            and best[0] < 0.5 * d_id
        ):
            differs[i] = True
            labelings[i] = perm[0]

    message = _message(
        c, s, tuple(flat), differs, labelings, within, runs_by_chain, int(min_run)
    )
    return LabelSwitchingReport(
        chains_in_different_modes=bool(differs.any()),
        chain_differs=differs,
        chain_labelings=labelings,
        within_chain_switches=within,
        switch_runs=runs_by_chain,
        switch_draws=switch_draws,
        fraction_switched=fraction,
        var_names=tuple(flat),
        message=message,
    )


def _message(
    c: int,
    s: int,
    names: tuple[str, ...],
    differs: np.ndarray,
    labelings: np.ndarray,
    within: dict[int, int],
    runs: dict[int, list[tuple[int, int]]],
    min_run: int,
) -> str:
    checked = f"Checked {', '.join(names)} over {c} chain(s) x {s} draws."
    sentences = []
    groups: dict[tuple[int, ...], list[int]] = {}
    for i in np.flatnonzero(differs):
        groups.setdefault(tuple(int(v) for v in labelings[i]), []).append(int(i))
    for perm, chains in groups.items():
        noun = "Chain" if len(chains) == 1 else "Chains"
        verb = "sits" if len(chains) == 1 else "sit"
        sentences.append(
            f"{noun} {_join(chains)} {verb} in a different labelling than chain 0 "
            f"({_describe_perm(np.array(perm))})."
        )
    for i, n in within.items():
        if n == 0:
            continue
        shown = ", ".join(f"draws {a}-{b - 1}" for a, b in runs[i][:3])
        more = f" and {n - 3} more" if n > 3 else ""
        episodes = "episode" if n == 1 else "episodes"
        sentences.append(
            f"Chain {i} switches labels inside the chain: {n} {episodes} of at "
            f"least {min_run} draws in another labelling ({shown}{more})."
        )
    if not sentences:
        if c == 1:
            return (
                "No label switching found inside the single chain. With one "
                "chain, a chain stuck in one of the K! labellings cannot be told "
                f"apart from a converged run; run several chains. {checked}"
            )
        return (
            "No label switching found: every chain sits in chain 0's labelling "
            f"and no chain switches labels inside. {checked}"
        )
    sentences.append(RELABEL_ADVICE)
    sentences.append(checked)
    return " ".join(sentences)


@dataclass(frozen=True, eq=False)
class Convergence:
    """R-hat and bulk ESS of every parameter, the sampler's own warning signs,
    and whether they are good enough.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per parameter element (``"mu[1, x]"``, as in ``summary()``),
        columns ``r_hat`` and ``ess_bulk``; NaN where a parameter does not
        vary (a known scale) or the draws are too few.
    max_rhat, min_ess_bulk : float
        The largest R-hat and smallest bulk ESS (NaN when none is known).
    rhat_parameter, ess_parameter : str
        The parameters they belong to.
    rhat_limit, ess_limit : float
        The bars: R-hat at most ``rhat_limit``, bulk ESS at least
        ``ess_limit``.
    divergences, transitions : int
        Divergent transitions among the ``transitions`` draws of all chains
        (0 and 0 when the sampler's statistics were not given).
    treedepth_hits : int
        Transitions that stopped at ``max_treedepth`` (an efficiency limit:
        their trajectories were cut short).
    max_treedepth : int or None
        The sampler's maximum tree depth (None when not known).
    bfmi : tuple of float
        Each chain's E-BFMI (empty when the energy was not given).
    divergence_limit, bfmi_limit : float
        The bars: at most ``divergence_limit`` of the draws divergent, every
        chain's E-BFMI at least ``bfmi_limit``.
    chains : int or None
        The number of chains (None when neither the draws nor the sampler's
        statistics were given).
    stuck_chains : tuple of int
        The chains that did not move: every draw of each is the same (the
        sampler accepted no proposal).
    adapt_engaged : bool
        Whether the sampler tuned its step size (False with
        ``adapt_engaged=False``, where ``adapt_delta`` does nothing and a
        smaller ``step_size`` is the remedy for divergences).
    wording : {"fit", "cmdstan"}
        How :meth:`advice` names the sampler's settings by default: as
        ``fit``'s keywords, or as CmdStan's ``sample`` arguments (for the
        draws of a direct CmdStan run).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rhat = xr.Dataset({"mu": ("component", [1.002, 1.08])})
    >>> ess = xr.Dataset({"mu": ("component", [900.0, 57.0])})
    >>> check = convergence(rhat, ess)
    >>> check.converged, check.rhat_parameter, check.failing
    (False, 'mu[1]', ('mu[1]',))
    >>> print(check.figures())  # doctest: +NORMALIZE_WHITESPACE
    largest R-hat 1.080 (mu[1]; above 1.01), smallest bulk ESS 57
    (mu[1]; below 400)
    """

    table: pd.DataFrame
    max_rhat: float
    rhat_parameter: str
    min_ess_bulk: float
    ess_parameter: str
    rhat_limit: float = RHAT_LIMIT
    ess_limit: float = ESS_LIMIT
    divergences: int = 0
    transitions: int = 0
    treedepth_hits: int = 0
    max_treedepth: int | None = None
    bfmi: tuple[float, ...] = ()
    divergence_limit: float = DIVERGENCE_LIMIT
    bfmi_limit: float = BFMI_LIMIT
    chains: int | None = None
    stuck_chains: tuple[int, ...] = ()
    adapt_engaged: bool = True
    wording: str = "fit"

    @property
    def computable(self) -> bool:
        """Whether R-hat and ESS are known for some parameter (not with a
        handful of draws)."""
        return bool(np.isfinite(self.max_rhat) and np.isfinite(self.min_ess_bulk))

    @property
    def one_chain(self) -> bool:
        """Whether the draws are those of a single chain (R-hat compares
        chains). Where the number of chains is not known: whether the bulk
        ESS is known but R-hat is not."""
        if self.chains is not None:
            return self.chains == 1
        return bool(np.isfinite(self.min_ess_bulk) and not np.isfinite(self.max_rhat))

    @property
    def all_stuck(self) -> bool:
        """Whether no chain moved (every draw of each chain is the same)."""
        return bool(self.stuck_chains) and len(self.stuck_chains) == self.chains

    @property
    def rhat_ok(self) -> bool:
        return not self.max_rhat > self.rhat_limit

    @property
    def ess_ok(self) -> bool:
        return not self.min_ess_bulk < self.ess_limit

    @property
    def divergences_ok(self) -> bool:
        """At most ``divergence_limit`` of the draws diverged."""
        return self.divergences <= self.divergence_limit * self.transitions

    @property
    def bfmi_ok(self) -> bool:
        """Every chain's E-BFMI is at least ``bfmi_limit`` (or unknown)."""
        return not any(b < self.bfmi_limit for b in self.bfmi)

    @property
    def converged(self) -> bool:
        """R-hat and bulk ESS are known and meet the bars for every
        parameter, at most ``divergence_limit`` of the draws diverged, and
        every chain moved."""
        return (
            self.computable
            and self.rhat_ok
            and self.ess_ok
            and self.divergences_ok
            and not self.stuck_chains
        )

    @property
    def sampler_ok(self) -> bool:
        """No divergent transition, no trajectory cut at the maximum tree
        depth, and every chain's E-BFMI at least ``bfmi_limit``."""
        return not self.divergences and not self.treedepth_hits and self.bfmi_ok

    @property
    def failing(self) -> tuple[str, ...]:
        """The parameters whose R-hat or bulk ESS misses its bar."""
        with np.errstate(invalid="ignore"):
            bad = (self.table["r_hat"] > self.rhat_limit) | (
                self.table["ess_bulk"] < self.ess_limit
            )
        return tuple(self.table.index[bad.to_numpy()])

    def figures(self) -> str:
        """The worst R-hat and ESS, with their parameters, and any warning
        sign of the sampler, as words."""
        if self.all_stuck:
            which = "the chain" if self.chains == 1 else "the chains"
            words = (
                f"{which} did not move: every draw of a chain is the same (no "
                "proposal was accepted), so R-hat and bulk ESS mean nothing"
            )
            return "; ".join([words, *self._sampler_figures()])
        stuck = []
        if self.stuck_chains:
            noun = "chain" if len(self.stuck_chains) == 1 else "chains"
            stuck.append(
                f"{noun} {_join(self.stuck_chains)} did not move: every draw of "
                f"{'it' if len(self.stuck_chains) == 1 else 'each'} is the same"
            )
        ess = f"smallest bulk ESS {self.min_ess_bulk:.0f} ({self.ess_parameter}"
        ess += "" if self.ess_ok else f"; below {self.ess_limit:g}"
        if self.one_chain and np.isfinite(self.min_ess_bulk):
            words = (
                f"R-hat could not be computed (one chain; it compares chains), {ess})"
            )
        elif np.isfinite(self.min_ess_bulk) and not np.isfinite(self.max_rhat):
            words = f"R-hat could not be computed, {ess})"
        elif not self.computable:
            words = "R-hat and bulk ESS could not be computed (too few draws)"
        else:
            shown = f"{self.max_rhat:.3f}"
            if not self.rhat_ok and float(shown) <= self.rhat_limit:
                shown = f"{self.max_rhat:.4f}"  # 1.0104, not "1.010, above 1.01"
            rhat = f"largest R-hat {shown} ({self.rhat_parameter}"
            rhat += "" if self.rhat_ok else f"; above {self.rhat_limit:g}"
            words = f"{rhat}), {ess})"
        return "; ".join([*stuck, words, *self._sampler_figures()])

    def _sampler_figures(self) -> list[str]:
        out = []
        if self.divergences:
            share = self.divergences / self.transitions
            out.append(
                f"{self.divergences} of {self.transitions} transitions "
                f"divergent ({share:.2%})"
            )
        if self.treedepth_hits:
            out.append(
                f"{self.treedepth_hits} of {self.transitions} transitions "
                f"stopped at the maximum tree depth {self.max_treedepth}"
            )
        low = [i for i, b in enumerate(self.bfmi) if b < self.bfmi_limit]
        if low:
            values = ", ".join(f"{self.bfmi[i]:.2f}" for i in low)
            chains = "chain" if len(low) == 1 else "chains"
            out.append(
                f"E-BFMI {values} (below {self.bfmi_limit:g}) in {chains} "
                + ", ".join(str(i) for i in low)
            )
        return out

    def advice(self, wording: str | None = None) -> str:
        """What to do about the draws' problems.

        Parameters
        ----------
        wording : {"fit", "cmdstan"}, optional
            Name the settings as :meth:`Mixture.fit`'s keywords
            (``draws=``) or as CmdStan's ``sample`` arguments
            (``num_samples=``), for draws of a direct CmdStan run; by
            default as the ``wording`` attribute says.

        Examples
        --------
        >>> import xarray as xr
        >>> check = convergence(xr.Dataset({"mu": ("component", [1.08])}),
        ...                     xr.Dataset({"mu": ("component", [57.0])}))
        >>> "(num_samples=, num_warmup=)" in check.advice("cmdstan")
        True
        """
        wording = self.wording if wording is None else wording
        if wording not in _SETTINGS:
            raise ValueError(
                f"wording must be one of {', '.join(map(repr, _SETTINGS))}, "
                f"got {wording!r}"
            )
        named = _SETTINGS[wording]
        parts = []
        if self.stuck_chains:
            parts.append(self._stuck_advice(named))
        if self.one_chain:
            parts.append(
                f"R-hat needs at least two chains: run {named['chains']}2 or more "
                "(four is usual) to check that they agree."
            )
        draws_short = (
            not self.ess_ok
            if self.one_chain
            else not (self.computable and self.rhat_ok and self.ess_ok)
        )
        mild = (
            self.computable
            and np.isfinite(self.max_rhat)
            and self.max_rhat <= NEAR_RHAT
            and not self.divergences
        )
        if draws_short and not self.all_stuck and mild:
            # R-hat this near 1 without divergences: short chains, most likely
            parts.append(
                f"With R-hat within {NEAR_RHAT:g} and no divergent transitions, "
                "the chains are most likely just too short for the bars: run "
                f"more draws ({named['draws']}, {named['warmup']}) first; if that "
                "does not help, the posterior may be weakly identified "
                "(components that overlap or are barely used): narrow the priors "
                f"({named['priors']}) or fit fewer components."
            )
        elif draws_short and not self.all_stuck:
            parts.append(
                "The posterior may be weakly identified (components that "
                "overlap or are barely used) or the chains too short: run more "
                f"draws ({named['draws']}, {named['warmup']}), start the chains "
                f"from good values ({named['init']}), narrow the priors "
                f"({named['priors']}) or fit fewer components."
            )
        if self.divergences and not self.all_stuck:
            smaller = (
                f"raise {named['adapt_delta']} (say to 0.99; smaller steps)"
                if self.adapt_engaged
                else f"give a smaller {named['step_size']} ({named['adapt_off']} "
                "holds it where it starts), or let the adaptation tune it "
                f"({named['adapt_on']})"
            )
            parts.append(
                "Divergent transitions mean NUTS could not follow the "
                "posterior's curvature somewhere, so the draws may miss part "
                f"of it: {smaller}, and if they remain, a component is likely "
                "weakly determined (narrow its priors or fit fewer components)."
            )
        if self.treedepth_hits:
            parts.append(
                "Trajectories cut at the maximum tree depth cost efficiency, "
                f"not correctness: raise {named['max_treedepth']} if the ESS is "
                "too low."
            )
        if not self.bfmi_ok:
            parts.append(
                "A low E-BFMI means the chains explore the posterior's energy "
                f"poorly (heavy tails or a funnel): run more warmup "
                f"({named['warmup']}) or narrow the priors."
            )
        return " ".join(parts)

    def _stuck_advice(self, named: Mapping[str, str]) -> str:
        """What to do about chains that did not move."""
        cause = (
            "A chain that does not move rejects every proposal: its step size "
            "is far too large for the posterior (every transition then "
            "diverges) or it starts where the log density is not finite. "
        )
        if not self.adapt_engaged:
            return cause + (
                f"{named['adapt_off']} holds the step size where it starts: give "
                f"a smaller {named['step_size']} (say a tenth), or let the "
                f"adaptation tune it ({named['adapt_on']})."
            )
        return cause + (
            f"Run a longer warmup ({named['warmup']}) so that the step size "
            f"adapts, or start the chains elsewhere ({named['init_default']})."
        )

    def __str__(self) -> str:
        if self.converged:
            state = "reached"
        else:
            checked = self.computable or self.stuck_chains
            state = "not reached" if checked else "not checked"
        return f"Convergence {state}: {self.figures()}"


class _NotShapeMessages(logging.Filter):
    """Drops ArviZ's "Shape validation failed" records."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Shape validation failed")


@contextlib.contextmanager
def quiet_chain_count() -> Iterator[None]:
    """Within the block, ArviZ does not log that a one-chain posterior is
    below its minimum shape (``arviz - WARNING - Shape validation failed:
    input_shape: (1, 100), ...``): stanmix's own convergence warning says
    what one chain cannot show, in words. ArviZ's other messages, and its
    logging outside the block, are left alone.

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> one_chain = az.from_dict(posterior={"x": np.zeros((1, 100))}).posterior
    >>> with quiet_chain_count():
    ...     _ = az.rhat(one_chain)
    """
    import arviz as az

    log = getattr(az, "_log", None)
    if not isinstance(log, logging.Logger):
        yield
        return
    quiet = _NotShapeMessages()
    log.addFilter(quiet)
    try:
        yield
    finally:
        log.removeFilter(quiet)


def rhat_and_ess(posterior: xr.Dataset) -> tuple[xr.Dataset, xr.Dataset]:
    """R-hat and bulk ESS of each element of ``posterior``'s variables, NaN
    for both where its draws are constant (a known scale, a log-odds fixed
    at 0): such an element has nothing to check, and ArviZ would give it an
    ESS of the draw count. A handful of draws gives no R-hat either; neither
    is a warning here.

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> rng = np.random.default_rng(0)
    >>> idata = az.from_dict(posterior={
    ...     "x": rng.normal(size=(4, 100)), "known": np.ones((4, 100))})
    >>> rhat, ess = rhat_and_ess(idata.posterior)
    >>> bool(np.isnan(ess["known"])), float(ess["x"]) > 200
    (True, True)
    """
    import arviz as az

    with np.errstate(invalid="ignore", divide="ignore"), quiet_chain_count():
        rhat = az.rhat(posterior)
        ess = az.ess(posterior, method="bulk")
    for name, values in posterior.data_vars.items():
        constant = values.max(("chain", "draw")) == values.min(("chain", "draw"))
        rhat[name] = rhat[name].where(~constant)
        ess[name] = ess[name].where(~constant)
    return rhat, ess


def convergence(
    rhat: Mapping[str, Any],
    ess: Mapping[str, Any],
    *,
    sample_stats: Mapping[str, Any] | None = None,
    max_treedepth: int | None = None,
    rhat_limit: float = RHAT_LIMIT,
    ess_limit: float = ESS_LIMIT,
    posterior: Mapping[str, Any] | None = None,
    adapt_engaged: bool = True,
    wording: str = "fit",
) -> Convergence:
    """Condense per-parameter R-hat and bulk ESS, and the sampler's
    statistics, into a :class:`Convergence`.

    Parameters
    ----------
    rhat, ess : xarray.Dataset or mapping of name to DataArray
        ``arviz.rhat`` and ``arviz.ess(method="bulk")`` of the parameters,
        as computed once after sampling (and relabelling).
    sample_stats : xarray.Dataset or mapping of name to array, optional
        The sampler's statistics, (chain, draw) each: ``diverging``,
        ``tree_depth`` and ``energy`` are read where present.
    max_treedepth : int, optional
        The sampler's maximum tree depth; without it no transition counts as
        stopped there.
    rhat_limit, ess_limit : float
        The bars a converged run meets.
    posterior : xarray.Dataset or mapping of name to array, optional
        The draws, ``(chain, draw, ...)`` each: the number of chains and the
        chains that did not move (every draw the same) are read from them.
        Without them the number of chains is read from the sampler's
        statistics, where given.
    adapt_engaged : bool
        Whether the sampler tuned its step size (the advice for divergences
        and stuck chains depends on it).
    wording : {"fit", "cmdstan"}
        Whether the advice names ``fit``'s keywords or CmdStan's arguments.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> rhat = xr.Dataset({"mu": ("component", [1.002, 1.003])})
    >>> ess = xr.Dataset({"mu": ("component", [900.0, 1100.0])})
    >>> diverging = np.zeros((2, 1000), dtype=bool)
    >>> diverging[1, :3] = True
    >>> check = convergence(rhat, ess, sample_stats={"diverging": diverging})
    >>> check.converged, check.sampler_ok
    (False, False)
    >>> print(check.figures())  # doctest: +NORMALIZE_WHITESPACE
    largest R-hat 1.003 (mu[1]), smallest bulk ESS 900 (mu[0]);
    3 of 2000 transitions divergent (0.15%)
    """
    if wording not in _SETTINGS:
        raise ValueError(
            f"wording must be one of {', '.join(map(repr, _SETTINGS))}, got {wording!r}"
        )
    table = pd.DataFrame(
        {"r_hat": pd.Series(_elements(rhat)), "ess_bulk": pd.Series(_elements(ess))},
        dtype=float,
    )
    worst = {}
    for column, pick in (("r_hat", "idxmax"), ("ess_bulk", "idxmin")):
        known = table[column][np.isfinite(table[column])]
        name = getattr(known, pick)() if len(known) else ""
        worst[column] = (float(known[name]) if name else float("nan"), name)
    stats = {} if sample_stats is None else sample_stats
    sampler: dict[str, Any] = {}
    if "diverging" in stats:
        diverging = np.asarray(stats["diverging"], dtype=bool)
        sampler.update(divergences=int(diverging.sum()), transitions=diverging.size)
    if "tree_depth" in stats and max_treedepth is not None:
        depth = np.asarray(stats["tree_depth"])
        sampler.update(
            treedepth_hits=int((depth >= max_treedepth).sum()),
            max_treedepth=int(max_treedepth),
            transitions=depth.size,
        )
    if "energy" in stats:
        sampler["bfmi"] = tuple(float(b) for b in e_bfmi(stats["energy"]))
    if posterior is not None and len(posterior):
        sampler["chains"], sampler["stuck_chains"] = _stuck(posterior)
    else:
        for name in ("diverging", "energy", "tree_depth"):
            if name in stats:
                sampler["chains"] = np.atleast_2d(np.asarray(stats[name])).shape[0]
                break
    return Convergence(
        table=table,
        max_rhat=worst["r_hat"][0],
        rhat_parameter=worst["r_hat"][1],
        min_ess_bulk=worst["ess_bulk"][0],
        ess_parameter=worst["ess_bulk"][1],
        rhat_limit=float(rhat_limit),
        ess_limit=float(ess_limit),
        adapt_engaged=bool(adapt_engaged),
        wording=wording,
        **sampler,
    )


def _stuck(posterior: Mapping[str, Any]) -> tuple[int, tuple[int, ...]]:
    """The number of chains of ``posterior`` (name to ``(chain, draw,
    ...)`` draws), and the chains every draw of which is the same, in every
    variable (none with fewer than two draws a chain).

    Examples
    --------
    >>> import numpy as np
    >>> mu = np.random.default_rng(0).normal(size=(3, 5, 2))
    >>> mu[1] = mu[1, 0]
    >>> _stuck({"mu": mu, "w": np.full((3, 5, 2), 0.5)})
    (3, (1,))
    """
    arrays = [np.asarray(posterior[name]) for name in posterior]
    chains, draws = arrays[0].shape[:2]
    if draws < 2:
        return int(chains), ()
    moved = np.zeros(chains, dtype=bool)
    for values in arrays:
        flat = values.reshape(chains, draws, -1)
        moved |= ~np.all(flat == flat[:, :1], axis=(1, 2))
    return int(chains), tuple(int(c) for c in np.flatnonzero(~moved))


def e_bfmi(energy: Any) -> np.ndarray:
    """Each chain's estimated Bayesian fraction of missing information.

    ``sum((E[t] - E[t-1])**2) / sum((E[t] - mean(E))**2)`` over a chain's
    Hamiltonian energies ``E`` (Betancourt 2016): how much of the spread of
    the energy one momentum resampling covers. NaN for a chain whose energy
    does not vary or that has fewer than two draws.

    Parameters
    ----------
    energy : array-like, (chain, draw)
        The sampler's ``energy`` statistic.

    Examples
    --------
    >>> e_bfmi([[1.0, 2.0, 4.0, 7.0]]).round(4).tolist()
    [0.6667]
    """
    energy = np.atleast_2d(np.asarray(energy, dtype=float))
    out = np.full(energy.shape[0], np.nan)
    if energy.shape[1] < 2:
        return out
    step = np.square(np.diff(energy, axis=1)).sum(axis=1)
    spread = np.square(energy - energy.mean(axis=1, keepdims=True)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(step, spread, out=out, where=spread > 0)
    return out


def _elements(values: Mapping[str, Any]) -> dict[str, float]:
    """Each element of each variable under the label ``summary()`` gives it."""
    out: dict[str, float] = {}
    for name in values:
        da = values[name]
        arr = np.asarray(da.values, dtype=float)
        if arr.ndim == 0:
            out[str(name)] = float(arr)
            continue
        labels = [
            da.coords[dim].values if dim in da.coords else np.arange(size)
            for dim, size in zip(da.dims, arr.shape, strict=True)
        ]
        for idx in np.ndindex(arr.shape):
            where = ", ".join(str(labels[i][j]) for i, j in enumerate(idx))
            out[f"{name}[{where}]"] = float(arr[idx])
    return out
