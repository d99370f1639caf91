"""The engine seam: the only place stanmix talks to Stan.

Two engines sit behind one interface (:class:`Engine`), chosen by name
through a registry (:mod:`stanmix.engines.registry`):

``"stanli"``
    The embedded default (PyPI package ``stanli``): stanc3, Stan math and
    Stan's NUTS, interpreted in-process. No C++ toolchain, no download.
``"cmdstan"``
    CmdStan through cmdstanpy, the reference engine with the full algorithm
    set. Used when an installation is found (cmdstanpy's own discovery, or
    the ``CMDSTAN`` environment variable).

``engine="auto"`` picks CmdStan when it is installed and stanli otherwise.
Every result records the engine and its version. What an engine can do
beyond the common set is in its ``capabilities``; the keyword options each
method accepts, in its ``options``.

``optimize`` means the same on both engines: the posterior mode on the
unconstrained scale (Jacobian included). CmdStan's penalized maximum
likelihood (``jacobian=False``) stays reachable on CmdStan; stanli raises.
"""

from __future__ import annotations

from stanmix.engines._base import (
    CAPABILITIES,
    FIXED_METRIC_MAX_WARMUP,
    STAT_NAMES,
    Engine,
    EngineResult,
    sampler_stats,
)
from stanmix.engines._columns import unflatten
from stanmix.engines.registry import ENGINES, REGISTRY, cmdstan_available, get_engine

__all__ = [
    "CAPABILITIES",
    "ENGINES",
    "FIXED_METRIC_MAX_WARMUP",
    "REGISTRY",
    "STAT_NAMES",
    "Engine",
    "EngineResult",
    "cmdstan_available",
    "get_engine",
    "sampler_stats",
    "unflatten",
]
