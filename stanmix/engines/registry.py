"""Engines by name: which exist, which are installed, which "auto" picks."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from stanmix.engines._base import Engine
from stanmix.exceptions import EngineUnavailableError, StanmixInputError

logger = logging.getLogger("stanmix")

CMDSTAN_HELP = (
    "No CmdStan installation was found. Install one with "
    "`python -m cmdstanpy.install_cmdstan` (needs a C++ toolchain and network "
    "access), or point the CMDSTAN environment variable at an existing "
    "installation; or use engine='stanli', the embedded engine that needs "
    "neither."
)


def _stanc(folder: Path) -> Path:
    """Where a built CmdStan keeps its stanc executable."""
    return folder / "bin" / ("stanc.exe" if os.name == "nt" else "stanc")


def cmdstan_problem(folder: str | os.PathLike) -> str | None:
    """Why ``folder`` is not a usable (built) CmdStan, or None when it is.

    Parameters
    ----------
    folder : str or path-like
        A CmdStan installation folder, such as the value of ``CMDSTAN``.

    Returns
    -------
    str or None
        What is wrong (no such folder, not a CmdStan folder, or a CmdStan
        that was never built: no ``bin/stanc``), or None.

    Examples
    --------
    >>> cmdstan_problem("/no/such/cmdstan")
    'the folder does not exist'
    """
    folder = Path(folder)
    if not folder.exists():
        return "the folder does not exist"
    if not folder.is_dir():
        return "it is a file, not a folder"
    if not (folder / "makefile").is_file():
        return "it has no makefile, so it is not a CmdStan installation"
    stanc = _stanc(folder)
    if not stanc.is_file():
        return (
            f"it was never built: {stanc.relative_to(folder).as_posix()} is "
            f"missing (build it with `make build` in {str(folder)!r})"
        )
    return None


def _cmdstan_env_problem() -> str | None:
    """What is wrong with the CMDSTAN environment variable, when it is set
    to something other than a built CmdStan; None otherwise."""
    value = os.environ.get("CMDSTAN")
    if not value:
        return None
    problem = cmdstan_problem(value)
    if problem is None:
        return None
    return f"CMDSTAN={value!r} is not a usable CmdStan installation: {problem}"


def cmdstan_available() -> bool:
    """True when cmdstanpy finds a CmdStan installation that has been built
    (its ``bin/stanc`` exists)."""
    if _cmdstan_env_problem() is not None:
        return False
    try:
        import cmdstanpy

        found = cmdstanpy.cmdstan_path()
    except (ImportError, OSError, ValueError):  # none found, or unreadable
        return False
    return cmdstan_problem(found) is None


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
                if candidate != "cmdstan":
                    _note_cmdstan_fallback(candidate)
                return _engine(candidate)
        raise EngineUnavailableError(
            "no Stan engine is installed; " + REGISTRY["stanli"].help
        )
    if not REGISTRY[name].available():
        message = REGISTRY[name].help
        if name == "cmdstan":
            problem = _cmdstan_env_problem()
            if problem is not None:
                message = f"{problem}. {message}"
        raise EngineUnavailableError(message)
    return _engine(name)


#: CMDSTAN values already reported as unusable by engine="auto".
_FALLBACKS_NOTED: set[str] = set()


def _note_cmdstan_fallback(chosen: str) -> None:
    """Warn (once per CMDSTAN value) that "auto" passed over an unusable
    CMDSTAN: the user pointed at a CmdStan and would expect it used."""
    problem = _cmdstan_env_problem()
    value = os.environ.get("CMDSTAN", "")
    if problem is None or value in _FALLBACKS_NOTED:
        return
    _FALLBACKS_NOTED.add(value)
    logger.warning(
        "engine='auto' fell back to %s because %s. Point CMDSTAN at a built "
        "CmdStan, or unset it",
        chosen,
        problem,
    )
