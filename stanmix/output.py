"""Writing a fitted model's results to a folder, atomically."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def write_results(model, out: Path) -> list[Path]:
    """Write ``posterior.nc``, ``summary.csv`` and ``membership.csv``.

    Everything is first written to a temporary folder beside ``out`` and
    moved into place only when complete, so a failed or interrupted run
    leaves no partial file in ``out``.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        model.idata_.to_netcdf(str(staging / "posterior.nc"))
        model.summary().to_csv(staging / "summary.csv")
        model.membership().to_csv(staging / "membership.csv", index=False)
        out.mkdir(exist_ok=True)
        written = []
        for path in sorted(staging.iterdir()):
            target = out / path.name
            os.replace(path, target)
            written.append(target)
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)
