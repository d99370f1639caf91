"""The notebooks in notebooks/ run top to bottom at their small size."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("sklearn")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = [
    "two_component_label_switching.ipynb",
    "bayesian_clustering.ipynb",
    "censored_clustering.ipynb",
    "component_families.ipynb",
    "regression_mixtures.ipynb",
    "choosing_k.ipynb",
]
SLOW = {
    "bayesian_clustering.ipynb",
    "component_families.ipynb",
    "regression_mixtures.ipynb",
    "choosing_k.ipynb",
}  # 10-60 s small
CELL_TIMEOUT = 600  # seconds per cell


def test_every_notebook_is_listed():
    assert sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.slow) if name in SLOW else name
        for name in NOTEBOOKS
    ],
)
def test_notebook_runs_at_small_size(name, monkeypatch):
    # The kernel inherits this process's environment; nbclient's "python3"
    # kernelspec runs the interpreter that runs the tests.
    monkeypatch.setenv("STANMIX_NOTEBOOK_SIZE", "small")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, errors
