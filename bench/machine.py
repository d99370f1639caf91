"""What the benchmark scripts record about the machine they ran on."""

from __future__ import annotations

import subprocess
from importlib import metadata
from pathlib import Path


def cpu_model(default: str) -> str:
    """The CPU's model name from /proc/cpuinfo, or ``default``."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return default


def memory_gib() -> float | None:
    """Total memory in GiB from /proc/meminfo, or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def package_versions(names) -> dict[str, str | None]:
    """The installed version of each distribution (None when absent)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def source_commit() -> str | None:
    """The checkout's commit, with "+changes" when files differ from it
    (None outside a git checkout)."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    try:
        head = git("rev-parse", "--short=12", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+changes" if dirty else "")
