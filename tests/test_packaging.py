"""The package as users get it: a wheel in a fresh environment, and the
README's main-job command on a fresh clone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts" if sys.platform == "win32" else "bin") / "python"


def test_wheel_in_a_fresh_environment_finds_and_runs_the_programs(tmp_path):
    """Build the wheel, install it alone into a new virtual environment, and
    fit from outside the repository. Its dependencies are borrowed from this
    environment (a .pth file after the new site-packages), so nothing is
    downloaded and only the wheel can supply stanmix itself."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, REPO],
        check=True,
    )
    (wheel,) = wheels.glob("stanmix-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = _venv_python(venv)
    subprocess.run(
        [python, "-m", "pip", "install", "-q", "--no-deps", wheel], check=True
    )
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "borrowed_deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    script = f"""
import numpy as np, stanmix
from pathlib import Path
from stanmix.programs import PROGRAMS, program_path, stan_dir
assert Path(stanmix.__file__).resolve().is_relative_to(Path(r"{venv}").resolve())
for name in PROGRAMS:
    assert program_path(name).is_file(), name
    assert (stan_dir() / (name + ".data.json")).is_file(), name
for name in ("mixture", "cells", "patterns"):
    assert (stan_dir() / (name + ".stanfunctions")).is_file(), name
for name in ("cell_table", "components", "censored_list"):
    assert (stan_dir() / (name + ".standata")).is_file(), name
rng = np.random.default_rng(0)
y = np.r_[rng.normal(-3, 1, 50), rng.normal(3, 1, 50)]
model = stanmix.NormalMixture(2, engine="stanli").fit(y, method="optimize", seed=1)
X = np.c_[y, y + rng.normal(0, 1, 100)]
full = stanmix.Mixture(2, covariance="full", engine="stanli").fit(
    X, method="optimize", seed=1)
print(stan_dir())
print(np.round(model.means_, 0).tolist())
print(np.round(full.means_[:, 0], 0).tolist())
"""
    # a PYTHONPATH naming a checkout would supply stanmix in the wheel's place
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    out = subprocess.run(
        [python, "-c", script],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.splitlines()
    assert Path(out[0]).resolve().is_relative_to(venv.resolve())
    assert out[1] == "[-3.0, 3.0]"
    assert out[2] == "[-3.0, 3.0]"


def test_readme_main_job_runs_from_a_fresh_clone(tmp_path):
    """The README's first command, exactly as written, in a fresh clone."""
    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout: no fresh clone to make")
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Set up and run", 1)[1]
    command = re.search(r"^    (python3 -m venv .*)$", section, re.M).group(1)
    assert command.endswith("stanmix demo")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", REPO, clone], check=True)
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("stanmix demo:")]
    assert starts, done.stdout[-2000:]
    lines = lines[starts[0] :]  # what the demo printed, after pip's output
    agreement = [line for line in lines if line.startswith("Agreement")]
    assert agreement, done.stdout[-2000:]
    assert float(agreement[0].rsplit(" ", 1)[1].rstrip("%")) >= 95.0
    assert len(lines) < 80, "the demo should print a short result"
