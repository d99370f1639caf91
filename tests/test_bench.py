"""Smoke test of the benchmark runner (bench/run.py) in quick mode.

Runs stanmix and scikit-learn on small sizes through the command line and
checks that the table and the JSON have a row for every scenario, tool and
algorithm asked for, including the rows of tools that cannot model
censoring, and that the per-fit time limit turns into a "timed out" row.
PyMC is not in the dev extra: the runs leave it out, and the checks of the
PyMC model's censored likelihood skip without the bench extra.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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
        "--adapt-delta",
        "0.9",
        "--max-seconds",
        "100",
    )
    (row,) = payload["rows"]
    assert row["status"] == "ok", row.get("error")
    assert payload["config"]["chains"] == 4 and payload["config"]["draws"] == 150
    assert payload["config"]["adapt_delta"] == 0.9
    assert row["step_size"] > 0 and row["steps_per_draw"] >= 1
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


def _bench_module(name: str):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(ROOT / "bench"))


def test_the_fastest_peer_is_the_one_stanmix_is_held_against():
    run_module = _bench_module("run")
    targets, targets_text = run_module.targets, run_module.targets_text

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


def test_pytensor_normal_log_cdf_matches_scipy_on_both_sides_of_its_cut():
    pytensor = pytest.importorskip("pytensor")
    import pytensor.tensor as pt
    from scipy.special import log_ndtr
    from scipy.stats import norm

    peers = _bench_module("peers")
    z = pt.dvector("z")
    value = peers.normal_log_cdf(z)
    f = pytensor.function([z], [value, pytensor.grad(value.sum(), z)])
    zs = np.array([-60.0, -30.0, -10.5, -10.0, -9.5, -5.0, -1.0, 0.0, 2.0, 8.0])
    got, grad = f(zs)
    np.testing.assert_allclose(got, log_ndtr(zs), rtol=1e-8, atol=1e-15)
    # d/dz log Phi(z) = phi(z) / Phi(z)
    np.testing.assert_allclose(grad, np.exp(norm.logpdf(zs) - log_ndtr(zs)), rtol=1e-7)


def test_the_pymc_censored_likelihood_is_the_programs():
    """The Potential PyMC's samplers get on (d): per row, the log-sum-exp over
    components of the log weight plus each observed cell's normal log density
    and each censored cell's normal log CDF at its limit (scipy here)."""
    pytest.importorskip("pymc")
    from scipy.special import logsumexp
    from scipy.stats import norm

    peers = _bench_module("peers")
    scenarios = _bench_module("scenarios")
    scenario = scenarios.build("d", quick=True)
    Xs, _, _ = peers._standardize(scenario.X.to_numpy(dtype=float))
    start, anchor = peers.kmeans_start(Xs, scenario.n_components, 1)
    model = peers.pymc_model(scenario, Xs, start, anchor)
    point = model.initial_point()
    (potential,) = model.replace_rvs_by_values(model.potentials)
    got = model.compile_fn(potential)(point)
    params = model.replace_rvs_by_values([model["w"], model["mu"], model["sigma"]])
    values = model.compile_fn(params)(point)
    w, mu, sigma = (np.asarray(v) for v in values)
    x = Xs[:, None, :]
    below = scenario.censored_mask[:, None, :]
    assert below.any() and (~below).any()
    cells = np.where(below, norm.logcdf(x, mu, sigma), norm.logpdf(x, mu, sigma)).sum(
        axis=-1
    )
    expected = logsumexp(np.log(w) + cells, axis=1).sum()
    assert float(got) == pytest.approx(expected, rel=1e-10)


def test_the_censored_means_target_is_held_against_the_fits_that_ignore_censoring():
    run_module = _bench_module("run")

    def row(tool, algorithm, rmse, status="ok"):
        return {
            "scenario": "d",
            "tool": tool,
            "algorithm": algorithm,
            "means_rmse": rmse,
            "status": status,
        }

    rows = [
        row("stanmix", "nuts", 0.4),
        row("pymc", "map", 0.1),  # the same censored model: not the target's
        row("sklearn", "map", 0.9, "naive"),
        row("sklearn", "vi", 0.8, "naive"),
    ]
    (check,) = [c for c in run_module.targets(rows) if c["target"] == "censored_means"]
    assert check["met"] and set(check["peer_means_rmse"]) == {
        "sklearn map",
        "sklearn vi",
    }
    rows.append(row("pymc", "vi", 0.3, "naive"))
    (check,) = [c for c in run_module.targets(rows) if c["target"] == "censored_means"]
    assert not check["met"]
    assert "sklearn vi" not in run_module.targets_text([check])
    assert "pymc vi 0.300 (target: below every such fit: NOT met)" in (
        run_module.targets_text([check])
    )


def test_the_thread_probes_partial_sums_are_one_log_density():
    """Every layout bench/threads_probe.py times computes the density it
    should, with its gradient, on one thread and on two."""
    stanli = pytest.importorskip("stanli")
    from scipy.special import logsumexp

    probe = _bench_module("threads_probe")
    n, p, k = 9000, 3, 2  # above the row count stanli splits a reduction at
    design = np.random.default_rng(0).normal(size=(n, p))
    q = np.random.default_rng(1).normal(scale=0.1, size=p * k)
    products = design @ q.reshape(k, p).T  # coef is P x K, column-major
    prior = -0.5 * float(q @ q)
    assert "map_rect" in probe.NAMES
    for name in probe.NAMES:
        data = probe.probe_data(name, design, k)
        mir = stanli.stan_to_mir(probe.program(name))
        if name == "product":
            expected = float(products.sum()) + prior
            weights = np.ones_like(products)
        else:
            expected = float(logsumexp(products, axis=1).sum()) + prior
            weights = np.exp(products - logsumexp(products, axis=1, keepdims=True))
        expected_grad = (design.T @ weights).T.reshape(-1) - q
        for threads in (1, 2):
            model = stanli.Model(
                mir=mir,
                data=dict(data, grainsize=n // (4 * threads)),
                threads_per_chain=threads,
            )
            lp, grad = model.log_prob_grad(q)
            assert lp == pytest.approx(expected, rel=1e-10), (name, threads)
            np.testing.assert_allclose(grad, expected_grad, rtol=1e-8)


def test_the_many_limits_table_has_the_limits_it_names():
    """bench/many_limits.py: each column's limits are L values, a censored
    cell holds its limit and lies in the row's column of limits, and the
    program it times is the one a fit builds (its gradient is finite)."""
    bench = _bench_module("many_limits")
    values, bounds = bench.data(600, 20)
    censored = bounds.notna().to_numpy()
    assert 0.05 < censored.mean() < 0.3
    for col in ("x", "y"):
        assert bounds[col].dropna().nunique() <= 20
        assert bounds[col].dropna().nunique() > 10
    np.testing.assert_array_equal(
        values.to_numpy()[censored], bounds.to_numpy()[censored]
    )
    row = bench.run(600, 20, "normal")
    assert np.isfinite(row["gradient ms"]) and row["MAP fit s"] > 0


def test_the_gather_threshold_probe_forces_each_form(tmp_path):
    """bench/gather_threshold.py finds the programs' rule and forces it both
    ways; the two forms give the same log density on a table of many
    limits."""
    stanli = pytest.importorskip("stanli")
    bench = _bench_module("gather_threshold")
    programs = bench.forced_programs(tmp_path)
    rules = {
        form: (path.parent / "censored_list.standata").read_text()
        for form, path in programs.items()
    }
    assert "n_distinct <= 1000000000 * size" in rules["counts"]
    assert "n_distinct <= 0 * size" in rules["gather"]
    cells = bench.table(300, 2, 12)
    family = bench.FAMILIES["normal", "diag"]()
    start = family.start(np.zeros((2, 2)), np.ones((2, 2)), np.full(2, 0.5))
    units = bench.Standardization(np.zeros(2), np.ones(2))
    data = family.stan_data(
        cells, 2, bench.Layout(0, True), bench.Priors(), start, units
    )
    payload = {
        k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in data.items()
    }
    point = np.random.default_rng(0).normal(scale=0.3, size=9)
    lps = []
    for path in programs.values():
        mir = stanli.stan_to_mir(path.read_text(), include_paths=[str(path.parent)])
        lps.append(stanli.Model(mir=mir, data=payload).log_prob_grad(point)[0])
    assert lps[0] == pytest.approx(lps[1], rel=1e-12)


def test_the_limit_checks_rates_name_every_scenario_and_draw_its_fault():
    """bench/limit_checks.py: the faulty exports hold cells within a unit
    beyond their limits (or limits a power of ten off), the genuine tables
    none beyond their limits, and the script prints a row per scenario."""
    bench = _bench_module("limit_checks")
    rng = np.random.default_rng(0)
    x, limits, _ = bench.FAULTY["rounded up to 2 decimals, 20% non-detects"](rng)
    rounded = (x > limits) & (x - limits < 0.01)
    assert 0.1 < rounded.mean() < 0.3
    x, limits, _ = bench.FAULTY["limits in mg/L, 10% non-detects"](rng)
    assert 0.05 < np.isclose(x, 1000 * limits).mean() < 0.15
    for draw in bench.GENUINE.values():
        x, limits, name = draw(rng)
        assert name == "lower_limit" and np.all(x >= limits)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "limit_checks.py"), "--seeds", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in [*bench.GENUINE, *bench.FAULTY]:
        assert f"  {name} " in proc.stdout
