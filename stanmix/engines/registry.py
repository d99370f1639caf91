"""Engines by name: which exist, which are installed, which "auto" picks."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from stanmix.engines._base import Engine
from stanmix.exceptions import EngineUnavailableError, StanmixInputError

CMDSTAN_HELP = (
    "No CmdStan installation was found. Install one with "
    "`python -m cmdstanpy.install_cmdstan` (needs a C++ toolchain and network "
    "access), or point the CMDSTAN environment variable at an existing "
    "installation; or use engine='stanli', the embedded engine that needs "
    "neither."
)


def cmdstan_available() -> bool:
    """True when cmdstanpy can find a CmdStan installation."""
    try:
        import cmdstanpy

        cmdstanpy.cmdstan_path()
    except Exception:
        return False
    return True


def _stanli_available() -> bool:
    return importlib.util.find_spec("stanli") is not None


@dataclass(frozen=True)
class _Entry:
    module: str
    cls: str
    available: Callable[[], bool]
    help: str


#: Registered engines, in the order "auto" tries them.
REGISTRY: dict[str, _Entry] = {
    "cmdstan": _Entry(
        "stanmix.engines._cmdstan", "CmdStanEngine", cmdstan_available, CMDSTAN_HELP
    ),
    "stanli": _Entry(
        "stanmix.engines._stanli",
        "StanliEngine",
        _stanli_available,
        "The embedded engine needs the stanli package: pip install stanli",
    ),
}
ENGINES = ("auto", *REGISTRY)


@cache
def _engine(name: str) -> Engine:
    entry = REGISTRY[name]
    return getattr(importlib.import_module(entry.module), entry.cls)()


def get_engine(name: str | Engine = "auto") -> Engine:
    """The engine called ``name`` (one shared instance per process), or
    ``name`` itself when it is an :class:`Engine`.

    ``"auto"`` takes the first installed engine in :data:`REGISTRY` order:
    CmdStan when cmdstanpy finds an installation, else stanli.

    Examples
    --------
    >>> get_engine("stanli").name
    'stanli'
    """
    if isinstance(name, Engine):
        return name
    if not isinstance(name, str) or name not in ENGINES:
        raise StanmixInputError(
            f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}"
        )
    if name == "auto":
        for candidate, entry in REGISTRY.items():
            if entry.available():
                return _engine(candidate)
        raise EngineUnavailableError(
            "no Stan engine is installed; " + REGISTRY["stanli"].help
        )
    if not REGISTRY[name].available():
        raise EngineUnavailableError(REGISTRY[name].help)
    return _engine(name)
