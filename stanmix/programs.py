"""Where the bundled Stan programs live.

The programs are kept once, in the repository's top-level ``stan/`` folder,
and shipped inside the wheel as ``stanmix/stan``. An installed package finds
them through importlib.resources; an editable checkout falls back to the
repository folder.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from stanmix._files import write_text_atomic
from stanmix.exceptions import StanmixInputError


def stan_dir() -> Path:
    """The folder holding the ``.stan`` programs and their include files.

    Examples
    --------
    >>> (stan_dir() / "normal_diag.stan").is_file()
    True
    """
    packaged = Path(str(resources.files("stanmix"))) / "stan"
    if (packaged / "normal_diag.stan").is_file():
        return packaged
    repo = Path(__file__).resolve().parent.parent / "stan"
    if (repo / "normal_diag.stan").is_file():
        return repo
    raise FileNotFoundError(
        "stanmix's Stan programs were not found next to the package "
        f"({packaged}) or in the source checkout ({repo}); reinstall stanmix"
    )


@functools.cache
def _program_names() -> tuple[str, ...]:
    return tuple(sorted(path.stem for path in stan_dir().glob("*.stan")))


def __getattr__(name: str):
    """``PROGRAMS``: the names of the bundled programs, every ``.stan`` file
    of :func:`stan_dir` (one per group of families, see stanmix.families),
    read on first use.

    Examples
    --------
    >>> from stanmix.programs import PROGRAMS
    >>> "normal_diag" in PROGRAMS
    True
    """
    if name == "PROGRAMS":
        return _program_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def program_path(name: str) -> Path:
    """The path of a bundled program, e.g. ``program_path("normal_diag")``."""
    if name not in _program_names():
        raise ValueError(f"unknown program {name!r}; choose one of {_program_names()}")
    return stan_dir() / f"{name}.stan"


def example_data_path(name: str) -> Path:
    """The example data JSON that sits beside a program."""
    return stan_dir() / f"{name}.data.json"


def example_data(name: str, copies: int = 1) -> dict:
    """A program's example data, its rows repeated ``copies`` times (the
    censored cells' lists follow their rows), as plain JSON-ready values.

    Examples
    --------
    >>> one, three = example_data("normal_diag"), example_data("normal_diag", 3)
    >>> three["N"] == 3 * one["N"], three["n_left"] == 3 * one["n_left"]
    (True, True)
    """
    import json

    import numpy as np

    data = json.loads(example_data_path(name).read_text())
    n = data["N"]
    out = dict(data, N=n * copies)
    for key in ("y", "observed", "X"):
        if key in data:
            out[key] = np.tile(np.asarray(data[key]), (copies, 1)).tolist()
    for kind in ("left", "right", "interval"):
        rows = np.asarray(data[f"{kind}_row"], dtype=int)
        out[f"n_{kind}"] = data[f"n_{kind}"] * copies
        out[f"{kind}_row"] = np.concatenate(
            [rows + c * n for c in range(copies)]
        ).tolist()
        for key in [k for k in data if k.startswith(f"{kind}_") and k != f"{kind}_row"]:
            out[key] = np.tile(np.asarray(data[key]), copies).tolist()
    return out


@dataclass(frozen=True)
class StanInput:
    """A program with its data and starting point, to run it directly
    (:meth:`stanmix.Mixture.stan_input`)."""

    program: Path
    data: dict
    init: dict

    def write(self, folder) -> tuple[Path, Path]:
        """Write ``<program>.data.json`` and ``<program>.init.json`` into
        ``folder`` (which must exist), each whole or not at all; return
        their paths. The init file leaves out empty parameters: CmdStan
        reads an empty JSON array as one-dimensional and refuses it for an
        empty matrix, and needs no value for a parameter with none."""
        folder = Path(folder)
        if not folder.is_dir():
            raise StanmixInputError(
                f"folder {str(folder)!r} does not exist; create it first"
            )
        stem = self.program.stem
        return tuple(
            write_text_atomic(
                folder / f"{stem}.{part}.json",
                json.dumps(values, separators=(",", ":")) + "\n",
            )
            for part, values in (
                ("data", self.data),
                ("init", {k: v for k, v in self.init.items() if v != []}),
            )
        )
