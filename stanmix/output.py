"""Writing a fitted model's results to a folder, atomically."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

from stanmix.exceptions import StanmixInputError

logger = logging.getLogger("stanmix")

#: The files :func:`write_results` writes, in order.
RESULT_FILES = ("posterior.nc", "summary.csv", "membership.csv", "report.html")


def write_results(
    model, out, *, title: str | None = None, progress: bool = False
) -> list[Path]:
    """Write ``posterior.nc``, ``summary.csv``, ``membership.csv``, ``report.html``.

    Everything is first written to a temporary folder beside ``out`` and
    moved into place only when complete. A new ``out`` appears in one
    rename; into an existing ``out`` the files are moved one by one, and if
    that fails the previous versions are put back. A failed or interrupted
    run therefore leaves no partial file in ``out``, and an existing
    folder's earlier contents intact.

    Parameters
    ----------
    model : Mixture
        A fitted model with joint components.
    out : str or Path
        The output folder (created, with its parents, when missing).
    title : str, optional
        Title of the HTML report.
    progress : bool
        Show a progress bar (on standard error) while writing.

    Returns
    -------
    list of Path
        The files written, in ``out``.
    """
    from tqdm.auto import tqdm

    from stanmix.report import write_report

    model.param_draws()  # raises NotFittedError before fit
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise StanmixInputError(
            f"output folder {str(out)!r} exists and is not a folder; choose "
            "another --out"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    steps = (
        ("posterior.nc", lambda p: model.idata_.to_netcdf(str(p))),
        ("summary.csv", lambda p: model.summary().to_csv(p)),
        ("membership.csv", lambda p: model.membership().to_csv(p, index=False)),
        ("report.html", lambda p: write_report(model, p, title=title)),
    )
    try:
        with tqdm(
            total=len(steps),
            desc="writing results",
            unit="file",
            disable=not progress,
            file=sys.stderr,
        ) as bar:
            for name, write in steps:
                bar.set_postfix_str(name)
                write(staging / name)
                bar.update()
        return _commit(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _commit(staging: Path, out: Path) -> list[Path]:
    names = sorted(p.name for p in staging.iterdir())
    for name in names:
        os.chmod(staging / name, 0o644)
    if not out.exists():
        os.chmod(staging, 0o755)
        try:
            os.rename(staging, out)
            return [out / name for name in names]
        except OSError:
            if not out.is_dir():
                raise
    backup = Path(tempfile.mkdtemp(prefix=f".{out.name}-previous-", dir=out.parent))
    replaced: list[str] = []
    placed: list[str] = []
    try:
        for name in names:
            target = out / name
            if target.exists() or target.is_symlink():
                os.replace(target, backup / name)
                replaced.append(name)
            os.replace(staging / name, target)
            placed.append(name)
    except BaseException:
        try:
            for name in placed:
                (out / name).unlink(missing_ok=True)
            for name in replaced:
                os.replace(backup / name, out / name)
        except OSError:
            logger.error(
                "could not restore the previous results in %s; they are kept in %s",
                out,
                backup,
            )
            raise
        shutil.rmtree(backup, ignore_errors=True)
        raise
    shutil.rmtree(backup, ignore_errors=True)
    return [out / name for name in names]
