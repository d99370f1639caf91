"""The engine seam: selection, caching, column handling, both engines."""

import json
import re
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from conftest import needs_cmdstan

import stanmix as sm
from stanmix.engines import (
    CAPABILITIES,
    REGISTRY,
    Engine,
    cmdstan_available,
    get_engine,
    unflatten,
)
from stanmix.programs import PROGRAMS, example_data_path, program_path


def test_unflatten_reads_stan_column_major_order():
    names = ["m[1,1]", "m[2,1]", "m[1,2]", "m[2,2]", "m[1,3]", "m[2,3]", "s"]
    values = np.array([[11, 21, 12, 22, 13, 23, 7.0], [1, 2, 3, 4, 5, 6, 8.0]])
    out = unflatten(names, values)
    assert out["m"].shape == (2, 2, 3)
    np.testing.assert_array_equal(out["m"][0], [[11, 12, 13], [21, 22, 23]])
    np.testing.assert_array_equal(out["s"], [7.0, 8.0])
    dotted = unflatten(["v.1", "v.2"], np.array([3.0, 4.0]))
    np.testing.assert_array_equal(dotted["v"], [3.0, 4.0])


def test_unknown_engine_is_rejected():
    with pytest.raises(sm.StanmixInputError, match="unknown engine 'stan'"):
        get_engine("stan")


def test_auto_picks_cmdstan_only_when_installed():
    expected = "cmdstan" if cmdstan_available() else "stanli"
    assert get_engine("auto").name == expected


@pytest.mark.skipif(cmdstan_available(), reason="CmdStan is installed here")
def test_cmdstan_missing_says_how_to_install():
    with pytest.raises(sm.EngineUnavailableError, match="install_cmdstan"):
        get_engine("cmdstan")
    with pytest.raises(sm.EngineUnavailableError, match="engine='stanli'"):
        sm.NormalMixture(2, engine="cmdstan").fit(np.arange(10.0), method="optimize")


def test_registered_engines_declare_capabilities_and_options():
    import importlib

    for entry in REGISTRY.values():
        cls = getattr(importlib.import_module(entry.module), entry.cls)
        assert issubclass(cls, Engine)
        assert set(cls.capabilities) <= set(CAPABILITIES)
        assert set(cls.options) == {"optimize", "variational", "sample"}
        assert "iter" in cls.options["optimize"]
    assert get_engine(get_engine("stanli")) is get_engine("stanli")


def test_an_engine_instance_can_be_passed():
    class Counting(type(get_engine("stanli"))):
        calls = 0

        def optimize(self, *args, **kwargs):
            type(self).calls += 1
            return super().optimize(*args, **kwargs)

    engine = Counting()
    assert isinstance(engine, Engine)
    y = sm.datasets.two_components(60, seed=4).X
    model = sm.NormalMixture(2, engine=engine).fit(y, method="optimize", seed=2)
    # four starts, and the best one's end point confirmed as a mode
    assert Counting.calls == 5 and model.engine_ == "stanli"


def test_stanli_builds_each_program_once_per_process():
    engine = get_engine("stanli")
    engine.compile(program_path("normal_diag"))
    start = time.perf_counter()
    for _ in range(20):
        engine.compile(program_path("normal_diag"))
    assert time.perf_counter() - start < 0.05


def test_stanli_builds_a_model_once_for_the_calls_on_the_same_data():
    """A fit's MAP starts, metric and sampler share one build of the model
    for their (program, data), found by value; other data get their own,
    and only the last few builds are kept."""
    from stanmix.engines._stanli import MODELS_KEPT

    engine = get_engine("stanli")
    path = program_path("normal_diag")
    data = json.loads(example_data_path("normal_diag").read_text())
    first = engine._model(path, {k: np.asarray(v) for k, v in data.items()})
    assert engine._model(path, data) is first  # lists or arrays, same values
    y = np.asarray(data["y"], dtype=float)
    moved = dict(data, y=(y + 1e-9).tolist())
    assert engine._model(path, moved) is not first
    assert engine._model(path, dict(data, compute_log_lik=0)) is not first
    for i in range(MODELS_KEPT):
        engine._model(path, dict(data, y=(y + i + 1).tolist()))
    assert engine._model(path, data) is not first  # dropped as least recent


def test_stanli_refuses_penalized_mle():
    data = json.loads(example_data_path("normal_diag").read_text())
    with pytest.raises(sm.EngineUnavailableError, match="engine='cmdstan'"):
        get_engine("stanli").optimize(
            program_path("normal_diag"), data, init=None, seed=1, jacobian=False
        )
    y = sm.datasets.two_components(60, seed=4).X
    with pytest.raises(sm.StanmixInputError, match="jacobian=False"):
        sm.NormalMixture(2, engine="stanli").fit(y, method="optimize", jacobian=False)


@pytest.mark.parametrize("program", PROGRAMS)
def test_stanli_compiles_every_program_at_its_full_optimisation(program):
    """stanli compiles a program whose inlined form is too large at a lower
    level, where its optimizer lacks some statements (MAP fits then fail),
    and runs a block it cannot lower through a far slower interpreter; it
    says so on stderr and by a RuntimeWarning. Every program, with either
    component distribution and the generated quantities on, must do
    neither."""
    import warnings

    import stanli

    code = (
        "import stanli, sys; from pathlib import Path; p = Path(sys.argv[1]); "
        "stanli.stan_to_mir(p.read_text(), include_paths=[str(p.parent)])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(program_path(program))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "skipped O1" not in proc.stderr, proc.stderr
    data = json.loads(example_data_path(program).read_text())
    data.update(compute_log_lik=1, compute_membership=1)
    mir = get_engine("stanli")._program(program_path(program))
    variants = [data]
    if data["n_left"] > 4 * data["D"]:
        # each censored cell at its own limit: the diagonal programs gather
        # the terms by slot instead of counting them
        own = np.asarray(data["left_limit"]) + np.linspace(0, 0.01, data["n_left"])
        variants.append(dict(data, left_limit=own.tolist()))
    for variant in variants:
        for flags in ({}, {"student_t": 1}) if "student_t" in data else ({},):
            with warnings.catch_warnings():
                warnings.filterwarnings(
                    "error", message=".*interpreter", category=RuntimeWarning
                )
                stanli.Model(mir=mir, data=dict(variant, **flags))


@pytest.mark.parametrize("program", PROGRAMS)
def test_example_data_runs_on_stanli(program):
    """Every example data file beside a program runs, with both GQ flags on."""
    data = json.loads(example_data_path(program).read_text())
    result = get_engine("stanli").sample(
        program_path(program), data, chains=2, warmup=150, draws=50, seed=3
    )
    n, k = data["N"], data["K"]
    assert result.variables["log_lik"].shape == (2, 50, n)
    members = np.exp(result.variables["membership_log_prob"])
    assert members.shape == (2, 50, n, k)
    np.testing.assert_allclose(members.sum(axis=-1), 1.0, atol=1e-10)
    anchor = result.variables["mu"][..., data["anchor"] - 1]
    assert np.all(np.diff(anchor, axis=-1) > 0)


def test_results_record_engine_and_version():
    y = sm.datasets.two_components(60, seed=4).X
    model = sm.NormalMixture(2, engine="stanli").fit(y, method="optimize", seed=2)
    import stanli

    assert model.engine_ == "stanli"
    assert model.engine_version_ == stanli.__version__
    assert model.idata_.posterior.attrs["engine"] == "stanli"
    assert model.idata_.posterior.attrs["engine_version"] == stanli.__version__
    assert "posterior mode" in model.idata_.posterior.attrs["point_estimate"]
    for group in model.idata_.groups():  # the data's groups too
        assert model.idata_[group].attrs["engine"] == "stanli", group


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.parametrize("program", PROGRAMS)
def test_cmdstan_engine_matches_stanli_mode(program):
    data = json.loads(example_data_path(program).read_text())
    init = json.loads(
        (program_path(program).parent / f"{program}.init.json").read_text()
    )
    a = get_engine("cmdstan").optimize(program_path(program), data, init=init, seed=1)
    b = get_engine("stanli").optimize(program_path(program), data, init=init, seed=1)
    # The full-covariance program's joint mode over parameters and latent
    # censored values is flat along some directions: the two L-BFGS runs
    # stop 0.002 apart in a mean (a fiftieth of its posterior sd) at their
    # default tolerances, and a tighter CmdStan tolerance halves the gap.
    atol = 5e-3 if program == "full_cov" else 1e-3
    np.testing.assert_allclose(a.variables["mu"], b.variables["mu"], atol=atol)
    # CmdStan's full version, as from_cmdstan_csv reads it from a CSV file
    assert a.engine == "cmdstan" and re.fullmatch(r"2\.\d+\.\d+", a.engine_version)


@needs_cmdstan
@pytest.mark.cmdstan
def test_cmdstan_penalized_mle_and_all_methods_run():
    y = sm.datasets.two_components(100, seed=1).X
    runs = {
        "optimize": {},
        "variational": {"draws": 200},
        "sample": {"draws": 200, "warmup": 200},
    }
    for method, sizes in runs.items():
        m = sm.NormalMixture(2, engine="cmdstan").fit(
            y, method=method, seed=1, show_progress=False, **sizes
        )
        assert m.engine_ == "cmdstan"
    X = sm.datasets.correlated(150, seed=2).X
    full = sm.Mixture(3, covariance="full", engine="cmdstan").fit(
        X, seed=1, draws=200, warmup=200, max_treedepth=8, show_progress=False
    )
    depth = full.idata_.sample_stats["tree_depth"].to_numpy()
    assert depth.max() <= 8
    # The sampler checks know the limit the run used.
    assert full.convergence_.max_treedepth == 8
    assert full.convergence_.treedepth_hits == int((depth >= 8).sum())
    assert full.convergence_.transitions == depth.size == 800
    m = sm.NormalMixture(2, engine="cmdstan").fit(
        y, method="optimize", seed=1, jacobian=False
    )
    assert "penalized" in m.idata_.posterior.attrs["point_estimate"]


@needs_cmdstan
@pytest.mark.cmdstan
def test_cmdstan_starts_programs_with_parameters_of_no_size():
    """A mixture of regressions with constant weights (no gate rows) and a
    mixture of known scales declare parameters with no entries; their
    inits, written as JSON's [], lose a dim CmdStan checks, so they are
    left out. Both fit, and agree with stanli's mode."""
    data = sm.datasets.regressions(150, seed=1)
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(-2, 1, 100), rng.normal(2, 1, 100)]
    for make, X, y in (
        (lambda e: sm.RegressionMixture(2, engine=e), data.X, data.y),
        (lambda e: sm.NormalMixture(2, sigma=1.0, engine=e), x, None),
    ):
        fits = {
            name: make(name).fit(X, y, method="optimize", seed=1)
            for name in ("cmdstan", "stanli")
        }
        np.testing.assert_allclose(
            fits["cmdstan"].means_, fits["stanli"].means_, atol=1e-3
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sm.ConvergenceWarning)
        model = sm.RegressionMixture(2, engine="cmdstan").fit(
            data.X, data.y, seed=1, chains=2, warmup=100, draws=100
        )
    assert model.engine_ == "cmdstan" and model.coef_.shape == (2, 1)


@needs_cmdstan
@pytest.mark.cmdstan
def test_cmdstan_nuts_from_another_thread_adapts_its_metric_in_warmup():
    """The Laplace metric takes its curvature from stanli, which runs only
    on the thread that loaded it; a CmdStan fit on another thread, with
    the default adaptation, adapts the metric in warmup instead."""
    import threading

    X = sm.datasets.blobs(150, seed=2).X.iloc[:, :2]
    settings = dict(seed=1, chains=2, draws=100, show_progress=False)
    sm.Mixture(2, engine="cmdstan").fit(X, **settings)  # stanli loads here
    out = {}

    def work():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sm.ConvergenceWarning)
                out["model"] = sm.Mixture(2, engine="cmdstan").fit(X, **settings)
        except Exception as err:  # reported below
            out["error"] = err

    thread = threading.Thread(target=work, name="worker")
    thread.start()
    thread.join()
    assert "error" not in out, out.get("error")
    assert out["model"].adaptation_ == "windowed"


@needs_cmdstan
@pytest.mark.cmdstan
def test_cmdstan_holds_the_laplace_metric_fixed():
    """On CmdStan too the Laplace metric stays as given through the short
    warmup (no initial buffer, no metric window): every chain ends with the
    same inverse metric, the one the same fit on stanli is given."""
    means = 8.0 * np.arange(3)[:, None] + np.zeros((3, 2))
    X = sm.datasets.mixture_sample(np.full(3, 1 / 3), means, 1.0, 200, seed=0).X
    fits = {
        name: sm.DiagonalMixture(3, engine=name).fit(
            X, seed=1, draws=200, show_progress=False
        )
        for name in ("cmdstan", "stanli")
    }
    for fit in fits.values():
        assert fit.adaptation_ == "laplace"
        assert fit.engine_result_info_["warmup"] == 100
    chains = [np.asarray(m) for m in fits["cmdstan"].engine_result_info_["inv_metric"]]
    given = np.asarray(fits["stanli"].engine_result_info_["inv_metric"][0])
    assert given.shape == (14, 14)
    # the same metric, but for the weights' rows: the weights' charts differ
    # (see the next test); the other 12 rows are the same
    for m in chains:
        np.testing.assert_allclose(m, chains[0], rtol=1e-12)
        np.testing.assert_allclose(m[:12, :12], given[:12, :12], rtol=1e-2, atol=1e-6)
        assert not np.allclose(m[12:, 12:], given[12:, 12:], rtol=1e-2)


@needs_cmdstan
@pytest.mark.cmdstan
def test_cmdstan_laplace_metric_is_the_curvature_on_cmdstans_own_scale():
    """The curvature comes from stanli, whose unconstrained weights are an
    isometric log-ratio, while CmdStan 2.35 breaks a stick: the covariance
    is carried over to CmdStan's chart. Its precision's weight columns are
    then CmdStan's own Hessian there, by central differences of CmdStan's
    gradients (log_prob), to 1e-3; uncarried, they are off by far more."""
    from stanmix.engines._cmdstan import stick_breaking, stick_breaking_inverse

    program = program_path("normal_diag")
    data = json.loads(example_data_path("normal_diag").read_text())
    init = json.loads((program.parent / "normal_diag.init.json").read_text())
    cmdstan = get_engine("cmdstan")
    mode = cmdstan.optimize(program, data, init=init, seed=1)
    point = {
        name: mode.variables[name][0, 0] if name in mode.variables else value
        for name, value in init.items()
    }
    model = cmdstan._model(program)

    def gradient(values):
        lists = {name: np.asarray(v).tolist() for name, v in values.items()}
        return model.log_prob(lists, data=data).iloc[0, 1:].to_numpy(dtype=float)

    w = np.asarray(point["w_simplex"], dtype=float)
    y, step = stick_breaking_inverse(w), 1e-4
    columns = []
    for j in range(y.size):
        shift = np.zeros(y.size)
        shift[j] = step
        ends = [
            gradient({**point, "w_simplex": stick_breaking(y + sign * shift)})
            for sign in (1, -1)
        ]
        columns.append((ends[0] - ends[1]) / (2 * step))
    hessian = np.stack(columns, axis=1)  # the weights' columns, CmdStan's chart
    carried = cmdstan.laplace_covariance(program, data, point)
    uncarried = get_engine("stanli").laplace_covariance(program, data, point)
    n = carried.shape[0]
    at = slice(n - y.size, n)  # the weights are the program's last parameter
    scale = np.abs(hessian).max()
    error = np.abs(np.linalg.inv(carried)[:, at] + hessian).max() / scale
    assert error < 1e-3
    assert np.abs(np.linalg.inv(uncarried)[:, at] + hessian).max() / scale > 0.1


@needs_cmdstan
@pytest.mark.cmdstan
def test_cmdstan_results_keep_full_precision():
    """CmdStan writes 6 significant digits by default, which leaves a MAP
    simplex summing to 1 +- 1e-6: too far off for a later start from it
    (the Laplace metric unconstrains the MAP). The engine asks for 17."""
    data = json.loads(example_data_path("normal_diag").read_text())
    init = json.loads(
        (program_path("normal_diag").parent / "normal_diag.init.json").read_text()
    )
    mode = get_engine("cmdstan").optimize(
        program_path("normal_diag"), data, init=init, seed=1
    )
    w = mode.variables["w"].ravel()
    assert w.size == 5 and abs(w.sum() - 1) < 1e-14
    digits = {len(repr(float(v)).split(".")[1]) for v in mode.variables["mu"].ravel()}
    assert max(digits) > 10


def test_stanli_progress_bar_counts_every_iteration(capsys):
    """show_progress=True: one bar over every chain's warmup and draws, and
    stanli's own end-of-run report is not printed beside it."""
    pytest.importorskip("stanli")
    y = sm.datasets.two_components(100, seed=1).X
    model = sm.NormalMixture(2, engine="stanli")
    model.fit(y, seed=1, chains=2, warmup=60, draws=40, show_progress=True)
    captured = capsys.readouterr()
    assert "NUTS" in captured.err
    assert "200/200" in captured.err  # 2 chains x (60 + 40) iterations
    assert "Elapsed Time" not in captured.out + captured.err
    # The stanli hooks are restored afterwards.
    import stanli

    assert stanli._print_sample_progress.__module__ == "stanli"


def test_stanli_advi_progress_bar_counts_iterations_and_keeps_the_callers_callback(
    capsys,
):
    """show_progress=True for ADVI on the embedded engine: a bar that says
    when eta is being chosen, then counts ADVI's iterations and ends, full,
    where ADVI converged, with the latest ELBO estimate; a callback the
    caller passes is still called at every iteration."""
    pytest.importorskip("stanli")
    y = sm.datasets.two_components(100, seed=1).X
    seen = []
    model = sm.NormalMixture(2, engine="stanli").fit(
        y,
        method="variational",
        seed=1,
        draws=200,
        iter=5000,
        show_progress=True,
        callback=lambda i, elbo: seen.append(i),
    )
    err = capsys.readouterr().err
    done = model.engine_result_info_["iterations"]
    assert seen == list(range(1, done + 1))
    assert "ADVI: choosing eta" in err  # no eta given: the search comes first
    assert done < 5000  # converged: the bar ends full there
    assert f"{done}/{done}" in err
    assert "elbo=" in err


THREADED_FITS = """
import threading, warnings
import stanmix as sm
warnings.simplefilter("ignore")
X = sm.datasets.blobs(120, seed=1).X
def fit():
    try:
        sm.DiagonalMixture(3, engine="stanli").fit(X, method="optimize", seed=1)
        return "fitted"
    except sm.EngineUnavailableError as err:
        return str(err)
out = []
worker = threading.Thread(target=lambda: out.extend([fit(), fit()]), name="loader")
worker.start()
worker.join()
print(out[0]); print(out[1]); print(fit())
"""


def test_stanli_runs_on_the_thread_that_loaded_it_and_refuses_others():
    """stanli crashes the process when called off the thread that loaded it
    (its optimizer; some programs' gradients): in a fresh process the thread
    that first fits loads it and fits again; another thread is refused,
    naming both threads, and once the loading thread has ended, saying that
    the process can fit no more and how to start it so that it can."""
    out = subprocess.run(
        [sys.executable, "-c", THREADED_FITS],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert lines[:2] == ["fitted", "fitted"]
    assert lines[2].startswith(
        "stanli runs only on the thread that loaded it ('loader'), and this fit "
        "runs on thread 'MainThread'. That thread has ended, so no stanli fit can "
        "run in this process any more: restart Python, and make the first fit "
        "(or `import stanli`) on the main thread"
    )


def test_a_fit_off_the_thread_that_loaded_stanli_is_refused_clearly():
    """Here stanli was imported (on the main thread) before stanmix used it:
    a fit on another thread would crash the process, and is refused with
    the way out instead."""
    pytest.importorskip("stanli")
    import threading

    X = sm.datasets.blobs(60, seed=1).X
    caught = {}

    def work():
        try:
            sm.DiagonalMixture(2, engine="stanli").fit(X, method="optimize", seed=1)
        except Exception as err:
            caught["error"] = err

    worker = threading.Thread(target=work, name="worker-1")
    worker.start()
    worker.join()
    assert isinstance(caught["error"], sm.EngineUnavailableError)
    assert str(caught["error"]).startswith(
        "stanli runs only on the thread that loaded it ('MainThread'), and this "
        "fit runs on thread 'worker-1'; run parallel fits in processes, one fit "
        "at a time in each: fit_many's n_jobs (joblib), or Dask workers with "
        "processes=True and threads_per_worker=1"
    )


def test_stanli_advi_refuses_a_callback_that_cannot_be_called_under_its_bar():
    """The progress bar wraps the caller's callback; one that cannot be
    called is still refused by name before ADVI starts."""
    pytest.importorskip("stanli")
    data = json.loads(example_data_path("normal_diag").read_text())
    with pytest.raises(sm.StanmixInputError, match="callback must be callable"):
        get_engine("stanli").variational(
            program_path("normal_diag"),
            data,
            init=None,
            seed=1,
            show_progress=True,
            callback=5,
        )
