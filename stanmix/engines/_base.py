"""The engine interface and the result every engine returns."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np


@dataclass(eq=False)
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


#: Stan's sampler columns, renamed to ArviZ's sample_stats names.
STAT_NAMES = {
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
        name = STAT_NAMES.get(col, col.rstrip("_"))
        stats[name] = np.asarray(values).astype(_STAT_TYPES.get(name, float))
    return stats


#: What an engine can do beyond the common set (optimize for the posterior
#: mode, NUTS, ADVI):
#:   "penalized_mle"           optimize with jacobian=False
#:   "variational_init_scale"  ADVI from a given initial scale (Laplace start)
#:   "pathfinder"              Pathfinder starts for NUTS
#:   "threads"                 within-chain threads (reduce_sum)
CAPABILITIES = ("penalized_mle", "variational_init_scale", "pathfinder", "threads")

#: Warmup iterations up to which an engine can hold a given metric fixed
#: while it tunes the step size (stanli adapts the metric from 150 on).
FIXED_METRIC_MAX_WARMUP = 149

#: NUTS's maximum tree depth unless ``max_treedepth`` says otherwise (both
#: engines' default).
MAX_TREEDEPTH = 10

#: Keyword options both engines accept for NUTS (CmdStan's names).
SAMPLE_OPTIONS = frozenset(
    {
        "max_treedepth",
        "thin",
        "parallel_chains",
        "threads_per_chain",
        "inv_metric",
        "step_size",
        "adapt_engaged",
    }
)
#: Keyword options both engines accept for ADVI (CmdStan's names).
VARIATIONAL_OPTIONS = frozenset(
    {
        "iter",
        "grad_samples",
        "elbo_samples",
        "eta",
        "adapt_iter",
        "tol_rel_obj",
        "eval_elbo",
    }
)


class LaplaceUnavailableError(RuntimeError):
    """The engine cannot compute the Laplace covariance here; the message
    says why (NUTS then adapts its metric in warmup instead)."""


class Engine(abc.ABC):
    """What stanmix needs from a Stan engine.

    Inits are always given as dictionaries of constrained parameter values,
    one per chain (or one shared), which both engines accept. Each engine
    declares its extra abilities in ``capabilities`` and, per method, the
    extra keyword options it accepts (``options``); the estimator refuses
    anything else before any Stan call.
    """

    name: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[str]] = frozenset()
    options: ClassVar[dict[str, frozenset[str]]] = {
        "optimize": frozenset(),
        "variational": frozenset(),
        "sample": frozenset(),
    }

    def __reduce__(self):
        """A registered engine pickles (and copies) as its name: it is a
        process-wide service holding a module and its compiled programs, and
        the process that loads it uses its own instance."""
        from stanmix.engines import registry

        entry = registry.REGISTRY.get(self.name)
        if entry is not None and type(self).__name__ == entry.cls:
            return (_shared_engine, (self.name,))
        return super().__reduce__()

    @property
    @abc.abstractmethod
    def version(self) -> str:
        """The engine's version string."""

    @abc.abstractmethod
    def compile(self, stan_file: Path, threads: bool = False) -> None:
        """Prepare a program (once per process; CmdStan also caches on disk),
        with ``threads`` also for within-chain threads (CmdStan builds a
        second executable with STAN_THREADS)."""

    @abc.abstractmethod
    def optimize(
        self,
        stan_file: Path,
        data: Mapping,
        *,
        init: Mapping | None,
        seed: int,
        jacobian: bool = True,
        **options,
    ) -> EngineResult:
        """The mode by L-BFGS from one start (``options``: ``iter``)."""

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
        show_progress: bool = False,
        **options,
    ) -> EngineResult:
        """ADVI (meanfield or fullrank).

        ``laplace_start=True`` says ``init`` is a posterior mode: an engine
        that can set ADVI's initial scale starts from the Laplace
        approximation there (``info["init_scale"]`` says what was used).
        ``show_progress`` asks for a progress bar where the engine can show
        one (CmdStan runs ADVI in its own process, which reports none).
        """

    @abc.abstractmethod
    def laplace_covariance(
        self, stan_file: Path, data: Mapping, point: Mapping
    ) -> np.ndarray | None:
        """The Laplace approximation's covariance at a posterior mode.

        ``point`` holds constrained parameter values (an optimizer result);
        the covariance is ``inv(-H)`` of the log density, Jacobian included,
        on the unconstrained scale in Stan's parameter order: the inverse
        metric that NUTS would otherwise estimate during warmup. None where
        ``-H`` is not positive definite; :class:`LaplaceUnavailableError`
        where it cannot be computed here.
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
        adapt_metric: bool = True,
        **options,
    ) -> EngineResult:
        """NUTS draws from several chains.

        ``adapt_metric=False`` keeps the starting inverse metric (option
        ``inv_metric``) through warmup, which then tunes only the step size;
        it needs ``warmup < FIXED_METRIC_MAX_WARMUP``.
        """


def _shared_engine(name: str) -> Engine:
    """The process's instance of the registered engine ``name`` (for
    unpickling; whether it is installed is checked when it is used)."""
    from stanmix.engines import registry

    return registry._engine(name)
