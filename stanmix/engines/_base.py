"""The engine interface and the result every engine returns."""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class EngineResult:
    """Draws or a point estimate from one engine call.

    Attributes
    ----------
    variables : dict of str to ndarray
        Every Stan variable written by the program, shaped
        ``(chain, draw, *declared_shape)``. A point estimate has one chain
        and one draw.
    sample_stats : dict of str to ndarray
        Per-draw sampler or approximation statistics, ``(chain, draw)``,
        named as ArviZ expects (``lp``, ``diverging``, ``tree_depth``, ...).
    method : str
        ``"optimize"``, ``"variational"`` or ``"sample"``.
    engine, engine_version : str
        Which engine produced the result, and its version.
    lp : float or None
        Log density at the optimum (point estimates only).
    info : dict
        Method details worth keeping (algorithm, eta, convergence, ...).
    """

    variables: dict[str, np.ndarray]
    sample_stats: dict[str, np.ndarray]
    method: str
    engine: str
    engine_version: str
    lp: float | None = None
    info: dict = field(default_factory=dict)

    @property
    def n_chains(self) -> int:
        return next(iter(self.variables.values())).shape[0]

    @property
    def n_draws(self) -> int:
        return next(iter(self.variables.values())).shape[1]


# Stan's sampler columns, renamed to ArviZ's sample_stats names.
_STAT_NAMES = {
    "lp__": "lp",
    "accept_stat__": "acceptance_rate",
    "stepsize__": "step_size",
    "treedepth__": "tree_depth",
    "n_leapfrog__": "n_steps",
    "divergent__": "diverging",
    "energy__": "energy",
}
_STAT_TYPES = {"diverging": bool, "tree_depth": int, "n_steps": int}


def sampler_stats(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """NUTS sampler columns (``lp__``, ``divergent__``, ...) named for ArviZ."""
    stats = {}
    for col, values in columns.items():
        name = _STAT_NAMES.get(col, col.rstrip("_"))
        stats[name] = np.asarray(values).astype(_STAT_TYPES.get(name, float))
    return stats


class Engine(abc.ABC):
    """What stanmix needs from a Stan engine.

    Inits are always given as dictionaries of constrained parameter values,
    one per chain (or one shared), which both engines accept.
    """

    name: str = ""

    @property
    @abc.abstractmethod
    def version(self) -> str:
        """The engine's version string."""

    @abc.abstractmethod
    def compile(self, stan_file: Path) -> None:
        """Prepare a program (once per process; CmdStan also caches on disk)."""

    @abc.abstractmethod
    def optimize(
        self,
        stan_file: Path,
        data: Mapping,
        *,
        init: Mapping | None,
        seed: int,
        jacobian: bool = True,
        iter: int = 2000,
    ) -> EngineResult:
        """The mode by L-BFGS from one start."""

    @abc.abstractmethod
    def variational(
        self,
        stan_file: Path,
        data: Mapping,
        *,
        init: Mapping | None,
        seed: int,
        algorithm: str = "meanfield",
        draws: int = 1000,
        laplace_start: bool = False,
        **options,
    ) -> EngineResult:
        """ADVI (meanfield or fullrank).

        ``laplace_start=True`` says ``init`` is a posterior mode: an engine
        that can set ADVI's initial scale starts from the Laplace
        approximation there (``info["init_scale"]`` says what was used).
        """

    @abc.abstractmethod
    def sample(
        self,
        stan_file: Path,
        data: Mapping,
        *,
        chains: int,
        warmup: int,
        draws: int,
        seed: int,
        adapt_delta: float = 0.95,
        metric: str = "diag_e",
        inits: Sequence[Mapping] | None = None,
        pathfinder_init: bool = False,
        show_progress: bool = False,
        **options,
    ) -> EngineResult:
        """NUTS draws from several chains."""

    @abc.abstractmethod
    def log_density(
        self, stan_file: Path, data: Mapping
    ) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
        """The log density (Jacobian included) and its gradient."""
