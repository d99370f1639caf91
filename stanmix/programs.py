"""Where the bundled Stan programs live.

The programs are kept once, in the repository's top-level ``stan/`` folder,
and shipped inside the wheel as ``stanmix/stan``. An installed package finds
them through importlib.resources; an editable checkout falls back to the
repository folder.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

#: The programs, one per group of families (see stanmix.families).
PROGRAMS = ("normal_diag", "student_t_diag", "full_cov", "regression")


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


def program_path(name: str) -> Path:
    """The path of a bundled program, e.g. ``program_path("normal_diag")``."""
    if name not in PROGRAMS:
        raise ValueError(f"unknown program {name!r}; choose one of {PROGRAMS}")
    return stan_dir() / f"{name}.stan"


def example_data_path(name: str) -> Path:
    """The example data JSON that sits beside a program."""
    return stan_dir() / f"{name}.data.json"
