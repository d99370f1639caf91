"""Choosing an engine by name."""

from __future__ import annotations

from functools import cache

from stanmix.engines._base import Engine
from stanmix.exceptions import EngineUnavailableError, StanmixInputError

ENGINES = ("auto", "cmdstan", "stanli")

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


@cache
def _engine(name: str) -> Engine:
    if name == "stanli":
        from stanmix.engines._stanli import StanliEngine

        return StanliEngine()
    from stanmix.engines._cmdstan import CmdStanEngine

    return CmdStanEngine()


def get_engine(name: str = "auto") -> Engine:
    """The engine called ``name`` (one shared instance per process).

    Examples
    --------
    >>> get_engine("stanli").name
    'stanli'
    """
    if not isinstance(name, str) or name not in ENGINES:
        raise StanmixInputError(
            f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}"
        )
    if name == "auto":
        name = "cmdstan" if cmdstan_available() else "stanli"
    elif name == "cmdstan" and not cmdstan_available():
        raise EngineUnavailableError(CMDSTAN_HELP)
    return _engine(name)
