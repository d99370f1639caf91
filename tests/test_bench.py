"""Smoke test of the benchmark runner (bench/run.py) in quick mode.

Runs stanmix and scikit-learn on small sizes through the command line and
checks that the table and the JSON have a row for every scenario, tool and
algorithm asked for, including the rows of tools that cannot model
censoring, and that the per-fit time limit turns into a "timed out" row.
PyMC is not in the dev extra, so it is left out here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "bench" / "run.py"
SCENARIOS = ("a", "b", "c", "d", "e")


def run(tmp_path: Path, name: str, *args: str, timeout: float = 120) -> tuple:
    out = tmp_path / f"{name}.json"
    proc = subprocess.run(
        [sys.executable, str(RUNNER), "--quick", "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text())


def table_rows(stdout: str) -> list[list[str]]:
    lines = [line for line in stdout.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def test_quick_point_and_variational_rows_for_every_scenario(tmp_path):
    stdout, payload = run(
        tmp_path,
        "point",
        "--inline",
        "--tools",
        "stanmix,sklearn",
        "--algorithms",
        "map,vi",
    )
    rows = payload["rows"]
    expected = {
        (s, tool, alg)
        for s in SCENARIOS
        for tool in ("stanmix", "sklearn")
        for alg in ("map", "vi")
    }
    assert {(r["scenario"], r["tool"], r["algorithm"]) for r in rows} == expected
    assert len(rows) == len(expected)
    for r in rows:
        assert r["status"] in ("ok", "naive"), r
        assert 0 < r["wall_seconds"] < 60
        assert -1 <= r["ari"] <= 1
        assert r["means_rmse"] >= 0
    # Tools without a censored likelihood are listed on (d), and say so.
    for r in rows:
        if r["scenario"] == "d" and r["tool"] == "sklearn":
            assert r["status"] == "naive"
            assert r["note"].startswith("cannot model censoring")
            assert r["means_rmse_identified"] >= 0
        else:
            assert r["status"] == "ok" and r["note"] is None
    # The printed table has the same rows, in scenario order.
    printed = table_rows(stdout)
    assert len(printed) == len(expected)
    assert [p[0] for p in printed] == sorted(p[0] for p in printed)
    assert any("cannot model censoring" in p[-1] for p in printed if p[0] == "d")
    assert payload["machine"]["cpu_model"]
    assert payload["machine"]["packages"]["stanmix"]


def test_quick_nuts_in_a_fresh_process(tmp_path):
    stdout, payload = run(
        tmp_path,
        "nuts",
        "--scenarios",
        "e",
        "--tools",
        "stanmix",
        "--algorithms",
        "nuts",
        "--warmup",
        "150",
        "--draws",
        "150",
        "--max-seconds",
        "100",
    )
    (row,) = payload["rows"]
    assert row["status"] == "ok", row.get("error")
    assert payload["config"]["chains"] == 4 and payload["config"]["draws"] == 150
    assert row["build_seconds"] >= 0
    assert row["min_ess_bulk"] > 0
    assert row["ess_per_second"] == pytest.approx(
        row["min_ess_bulk"] / row["wall_seconds"]
    )
    assert row["rhat_kind"].startswith("after relabelling")
    assert 1 <= row["max_rhat"] < 1.1
    assert row["ari"] > 0.8
    assert "ESS/s stanmix / PyMC" not in stdout
    # A warmup given is stanmix's too, and means the windowed adaptation.
    assert (row["adaptation"], row["warmup"]) == ("windowed", 150)
    split = row["time_split"]
    assert split["map_starts"] > 0 and split["laplace"] == 0
    assert split["warmup"] > 0 and split["sampling"] > 0
    assert split["warmup"] + split["sampling"] == pytest.approx(row["sampler_seconds"])


def test_time_limit_gives_timed_out_rows(tmp_path):
    stdout, payload = run(
        tmp_path,
        "limit",
        "--scenarios",
        "a",
        "--tools",
        "sklearn",
        "--max-seconds",
        "0.2",
    )
    rows = payload["rows"]
    assert [(r["algorithm"], r["status"]) for r in rows] == [
        ("map", "timed out"),
        ("vi", "timed out"),
    ]
    assert "timed out after 0.2 s" in stdout


def test_the_fastest_peer_is_the_one_stanmix_is_held_against():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from run import targets, targets_text
    finally:
        sys.path.remove(str(ROOT / "bench"))

    def row(scenario, tool, ess_per_second):
        return {
            "scenario": scenario,
            "tool": tool,
            "algorithm": "nuts",
            "ess_per_second": ess_per_second,
        }

    rows = [
        row("b", "stanmix", 700.0),
        row("b", "pymc", 13.0),
        row("b", "nutpie", 400.0),
        row("b", "numpyro", None),  # timed out: no figure
        row("c", "stanmix", 90.0),
        row("c", "numpyro", 30.0),
        row("e", "pymc", 150.0),  # no stanmix row: no check
    ]
    checks = [c for c in targets(rows) if c["target"] == "fastest_peer"]
    assert [(c["scenario"], c["peer"], c["met"]) for c in checks] == [
        ("b", "nutpie", False),
        ("c", "numpyro", True),
    ]
    assert checks[0]["ratio"] == pytest.approx(1.75)
    text = targets_text(checks)
    assert (
        "(b) ESS/s stanmix 700.0 vs the fastest NUTS on the PyMC model, nutpie" in text
    )
    assert "1.8x (target >= 2x: NOT met)" in text
