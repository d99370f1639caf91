"""The engine seam: the only place stanmix talks to Stan.

Two engines sit behind one interface:

``"stanli"``
    The embedded default (PyPI package ``stanli``): stanc3, Stan math and
    Stan's NUTS, interpreted in-process. No C++ toolchain, no download.
``"cmdstan"``
    CmdStan through cmdstanpy, the reference engine with the full algorithm
    set. Used when an installation is found (cmdstanpy's own discovery, or
    the ``CMDSTAN`` environment variable).

``engine="auto"`` picks CmdStan when it is installed and stanli otherwise.
Every result records the engine and its version.

``optimize`` means the same on both engines: the posterior mode on the
unconstrained scale (Jacobian included). CmdStan's penalized maximum
likelihood (``jacobian=False``) stays reachable on CmdStan; stanli raises.
"""

from __future__ import annotations

from stanmix.engines._base import Engine, EngineResult
from stanmix.engines._select import ENGINES, cmdstan_available, get_engine

__all__ = ["ENGINES", "Engine", "EngineResult", "cmdstan_available", "get_engine"]
