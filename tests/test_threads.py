"""Within-chain threads: reduce_sum in the diagonal programs gives the same
log density as the one-chunk sum, that sum matches the programs' generated
log likelihood, and threads_per_chain reaches Stan."""

import json

import numpy as np
import pytest
from conftest import RecordingEngine, Stop, needs_cmdstan

import stanmix as sm
from stanmix.engines import get_engine
from stanmix.exceptions import StanmixInputError
from stanmix.inference.threads import grainsize, spare_threads, usable_cores
from stanmix.programs import example_data, example_data_path, program_path

# Tests stop fits at the engine call and read the choices made before it.
pytestmark = pytest.mark.usefixtures("state_at_the_stop")

THREADED_PROGRAMS = ("normal_diag", "student_t_diag", "regression", "full_cov")


@pytest.mark.parametrize(
    ("program", "flags", "on_threads"),
    [(program, {}, True) for program in THREADED_PROGRAMS]
    + [("regression", {"student_t": 1}, False), ("full_cov", {"student_t": 1}, False)]
    + [(program, {"many_limits": 1}, True) for program in THREADED_PROGRAMS[:2]],
)
def test_reduce_sum_over_threads_gives_the_one_chunk_log_density(
    program, flags, on_threads
):
    """Rows tiled past stanli's 8192-row floor for parallel reductions: the
    two-thread build keeps the reduce_sum (in chunks of `grainsize` rows),
    and its log density and gradient equal the one-chunk sum's at random
    points up to summation order. The Student-t regression and
    full-covariance blocks evaluate censored cells' t CDFs by an iterative
    continued fraction, which stanli runs only serially (it says so in
    reduce_sum_fallbacks); their block sums are still checked here. With
    `many_limits` the censored cells take 30 limits in turn, and the
    diagonal programs gather the censored terms by slot instead of counting
    them (not one limit per cell: the Student-t program would build 1,800
    continued fractions per component, which takes over a minute)."""
    import stanli

    from stanmix.engines._stanli import _jsonable

    # 9000 rows where stanli threads the sum; where it runs the blocks
    # serially, 1000 rows (two blocks) check them as well. 20% of rows have
    # a censored cell.
    flags = dict(flags)
    many_limits = flags.pop("many_limits", 0)
    data = dict(example_data(program, 45 if on_threads else 5), **flags)
    assert data["N"] == (9000 if on_threads else 1000) and data["n_left"] > 0
    if many_limits:
        spread = np.linspace(0, 0.01, 30)[np.arange(data["n_left"]) % 30]
        data["left_limit"] = (np.asarray(data["left_limit"]) + spread).tolist()
    mir = get_engine("stanli")._program(program_path(program))
    serial = stanli.Model(mir=mir, data=_jsonable(dict(data, grainsize=0)))
    threaded = stanli.Model(
        mir=mir, data=_jsonable(dict(data, grainsize=500)), threads_per_chain=2
    )
    assert (serial.reduce_sum_count, threaded.reduce_sum_count) == (0, on_threads)
    if not on_threads:
        assert "OP_ISLAND" in " ".join(threaded.reduce_sum_fallbacks)
    rng = np.random.default_rng(0)
    for _ in range(5):
        q = rng.normal(scale=0.5, size=serial.n_unconstrained)
        lp0, grad0 = serial.log_prob_grad(q)
        lp1, grad1 = threaded.log_prob_grad(q)
        assert np.isfinite(lp0)
        np.testing.assert_allclose(lp1, lp0, rtol=1e-12)
        np.testing.assert_allclose(grad1, grad0, rtol=1e-9, atol=1e-9 * abs(lp0))


def _appended(data: dict, rows: np.ndarray) -> dict:
    """The data with copies of ``rows`` (0-based) appended, censored cells
    included."""
    n = data["N"]
    out = dict(data, N=n + rows.size)
    for key in ("y", "observed", "X"):
        if key in data:
            values = np.asarray(data[key])
            out[key] = np.concatenate([values, values[rows]]).tolist()
    new_row = {int(r) + 1: n + i + 1 for i, r in enumerate(rows)}
    for kind in ("left", "right", "interval"):
        keys = [k for k in data if k.startswith(f"{kind}_")]
        picked = [i for i, r in enumerate(data[f"{kind}_row"]) if r in new_row]
        out[f"n_{kind}"] = data[f"n_{kind}"] + len(picked)
        for key in keys:
            extra = [data[key][i] for i in picked]
            if key == f"{kind}_row":
                extra = [new_row[r] for r in extra]
            out[key] = list(data[key]) + extra
    return out


@pytest.mark.parametrize(
    ("program", "flags"),
    [(program, {}) for program in THREADED_PROGRAMS]
    + [("regression", {"student_t": 1}), ("full_cov", {"student_t": 1})],
)
def test_model_block_adds_the_generated_log_likelihood_of_each_row(program, flags):
    """The likelihood the model block sums (reduce_sum, one chunk) against
    the generated quantities' per-row log_lik, which the families' tests
    hold against the Python likelihood: appending copies of 30 rows (each
    with at most one censored cell, so the parameters stay the same; with
    normal full-covariance components also 10 with two, which the program
    integrates) raises the log density at a point by the log_lik of the
    copies."""
    import stanli

    data = dict(example_data(program), **flags)
    init = json.loads(
        (program_path(program).parent / f"{program}.init.json").read_text()
    )
    censored = np.zeros(data["N"], dtype=int)
    for kind in ("left", "right", "interval"):
        np.add.at(censored, np.asarray(data[f"{kind}_row"], dtype=int) - 1, 1)
    if program == "full_cov":
        # Normal components integrate a row's two censored cells, Student-t
        # ones sample them as latent values: start those inside their limits.
        latent = censored >= (2 if flags else 3)
        cells = sorted(
            (row, col, limit)
            for row, col, limit in zip(
                data["left_row"], data["left_col"], data["left_limit"], strict=True
            )
            if latent[row - 1]
        )
        init["y_latent"] = [limit - 0.5 for _, _, limit in cells]
    if flags:
        init["nu"] = [5.0] * data["K"]
    integrated = 2 if program == "full_cov" and not flags else 1
    rows = np.flatnonzero(censored <= integrated)[:30]
    assert censored[rows].sum() > 0
    if integrated == 2:
        rows = np.r_[rows, np.flatnonzero(censored == 2)[:10]]
        assert (censored[rows] == 2).any()
    bigger = _appended(data, rows)
    mir = get_engine("stanli")._program(program_path(program))
    log_density = []
    for payload in (data, dict(bigger, compute_log_lik=1)):
        bridge = stanli.bridgestan_model(mir=mir, data=payload, name=program)
        unc = bridge.param_unconstrain_json(json.dumps(init))
        log_density.append(bridge.log_density(unc, propto=True, jacobian=True))
    names = bridge.param_names(include_tp=True, include_gq=True)
    values = bridge.param_constrain(
        unc, include_tp=True, include_gq=True, rng=bridge.new_rng(1)
    )
    log_lik = np.array(
        [v for n, v in zip(names, values, strict=True) if n.startswith("log_lik.")]
    )
    assert log_lik.size == bigger["N"]
    np.testing.assert_allclose(
        log_density[1] - log_density[0], log_lik[data["N"] :].sum(), rtol=1e-10
    )


class _DataRecorder(RecordingEngine):
    """Also keeps the data NUTS would be given."""

    def sample(self, stan_file, data, **kwargs):
        self.calls["sample_data"] = data
        return super().sample(stan_file, data, **kwargs)


def _sample_call(model, X, engine=None, **kwargs):
    engine = engine or _DataRecorder()
    model.set_params(engine=engine)
    with pytest.raises(Stop):
        model.fit(X, seed=1, show_progress=False, **kwargs)
    return engine.calls["sample"], engine.calls["sample_data"]


def test_threads_per_chain_reaches_the_sampler_with_a_grainsize():
    X = sm.datasets.two_components(400, seed=1).X
    model = sm.NormalMixture(2)
    call, data = _sample_call(model, X, chains=1, threads_per_chain=2)
    assert call["threads_per_chain"] == 2 and model.threads_per_chain_ == 2
    assert data["grainsize"] == grainsize(400, 2) == 50


def test_spare_cores_go_to_threads(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    X = sm.datasets.two_components(400, seed=1).X
    model = sm.NormalMixture(2)
    call, data = _sample_call(model, X, chains=2)
    assert call["threads_per_chain"] == 4 == spare_threads(2, 8)
    assert data["grainsize"] == 25 and model.threads_per_chain_ == 4
    call, data = _sample_call(model, X, chains=8)
    assert "threads_per_chain" not in call and data["grainsize"] == 0
    assert model.threads_per_chain_ == 1


def test_families_without_threads_keep_one_per_chain(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    X = sm.datasets.correlated(150, seed=2).X
    model = sm.Mixture(2, family="normal_per_dimension")
    call, data = _sample_call(model, X, chains=2)
    assert "threads_per_chain" not in call and data["grainsize"] == 0
    assert model.threads_per_chain_ == 1


@pytest.mark.parametrize("covariance", ["full", "tied"])
def test_full_covariance_fits_take_threads_only_when_asked(monkeypatch, covariance):
    """Their partial sum is slower on two stanli threads than on one
    (bench/gradient_speed.py), so spare cores stay idle by default."""
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    X = sm.datasets.correlated(160, seed=2).X
    model = sm.Mixture(2, covariance=covariance)
    call, data = _sample_call(model, X, chains=2)
    assert "threads_per_chain" not in call and data["grainsize"] == 0
    assert model.threads_per_chain_ == 1
    call, data = _sample_call(model, X, chains=2, threads_per_chain=4)
    assert call["threads_per_chain"] == 4 and data["grainsize"] == grainsize(160, 4)


def test_worker_processes_keep_one_thread_per_chain(monkeypatch):
    """joblib's and Dask's workers set OMP_NUM_THREADS=1: a one-chain fit
    there does not take the machine's other cores."""
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert usable_cores() == 1
    model = sm.NormalMixture(2)
    call, data = _sample_call(
        model, sm.datasets.two_components(400, seed=1).X, chains=1
    )
    assert "threads_per_chain" not in call and data["grainsize"] == 0
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    assert usable_cores() == 4


def test_joblib_workers_see_one_usable_core():
    from stanmix.parallel import run_tasks

    assert run_tasks([usable_cores, usable_cores], n_jobs=2) == [1, 1]


@pytest.mark.parametrize(
    ("model", "value", "match"),
    [
        (sm.NormalMixture(2), 0, "threads_per_chain must be at least 1"),
        (sm.NormalMixture(2), "2", "must be an integer"),
        (sm.NormalMixture(2), True, "must be an integer"),
        (sm.Mixture(2, family="normal_per_dimension"), 2, "has no within-chain"),
    ],
)
def test_bad_threads_are_refused_before_any_stan_call(model, value, match):
    engine = RecordingEngine(stop=("optimize", "sample"))
    model.set_params(engine=engine)
    X = sm.datasets.two_components(100, seed=1).X
    with pytest.raises(StanmixInputError, match=match):
        model.fit(X, seed=1, show_progress=False, threads_per_chain=value)
    assert engine.calls == {}


def test_threads_per_chain_is_for_nuts_only():
    with pytest.raises(StanmixInputError, match="threads_per_chain"):
        sm.NormalMixture(2).fit(
            sm.datasets.two_components(100, seed=1).X,
            method="optimize",
            threads_per_chain=2,
        )


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.parametrize(
    ("program", "own_limits"),
    [(program, False) for program in THREADED_PROGRAMS]
    + [(program, True) for program in THREADED_PROGRAMS[:2]],
)
def test_cmdstan_threaded_build_gives_the_one_chunk_log_density(program, own_limits):
    """CmdStan's STAN_THREADS build, reduce_sum in chunks of 50 rows against
    the one-chunk sum, at the example inits; with `own_limits` every
    censored cell has its own limit (the diagonal programs gather the
    censored terms instead of counting them)."""
    data = json.loads(example_data_path(program).read_text())
    if own_limits:
        spread = np.linspace(0, 0.01, data["n_left"])
        data["left_limit"] = (np.asarray(data["left_limit"]) + spread).tolist()
    init = json.loads(
        (program_path(program).parent / f"{program}.init.json").read_text()
    )
    engine = get_engine("cmdstan")
    model = engine._model(program_path(program), threads=True)
    point = engine.optimize(program_path(program), data, init=init, seed=1)
    params = {
        name: value[0, 0].tolist()
        for name, value in point.variables.items()
        if name in init
        or name.endswith(("_free", "_rest", "_ordered", "_below", "_simplex"))
    }
    lps = [
        float(model.log_prob(params, data=dict(data, grainsize=g)).iloc[0, 0])
        for g in (0, 50)
    ]
    assert np.isfinite(lps[0])
    assert lps[1] == pytest.approx(lps[0], rel=1e-12)


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.filterwarnings("ignore::stanmix.ConvergenceWarning")  # one chain: no R-hat
def test_cmdstan_one_chain_fit_runs_on_two_threads():
    """A one-chain CmdStan fit on two threads: the threaded build runs, and
    its posterior means match the one-thread fit's within 4 combined MCSE
    (the draws differ, as the summation order does)."""
    import arviz as az

    X = sm.datasets.two_components(300, seed=1).X
    fits = {
        t: sm.NormalMixture(2, engine="cmdstan").fit(
            X, seed=1, chains=1, draws=1000, threads_per_chain=t, show_progress=False
        )
        for t in (1, 2)
    }
    assert [fits[t].threads_per_chain_ for t in (1, 2)] == [1, 2]
    means = {
        t: f.idata_.posterior["mu"].mean(("chain", "draw")) for t, f in fits.items()
    }
    mcse = {t: az.mcse(f.idata_, var_names=["mu"])["mu"] for t, f in fits.items()}
    gap = np.abs(means[2] - means[1])
    assert bool((gap <= 4 * np.sqrt(mcse[1] ** 2 + mcse[2] ** 2)).all())
