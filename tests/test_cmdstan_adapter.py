"""The CmdStan adapter: ADVI transcript and output reading, eta, lp, NUTS
adaptation settings, CmdStan discovery and the program cache.

The pure parts run everywhere (CI has stanli only); the runs need CmdStan.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_cmdstan

import stanmix as sm
from stanmix.advi import advi, no_elbo_message, not_converged_message
from stanmix.engines import cmdstan_available, get_engine, registry
from stanmix.engines._cmdstan import (
    CmdStanEngine,
    _in_stanmix_terms,
    adaptation_settings,
    cache_dir,
    parse_advi_transcript,
    read_variational_csv,
)
from stanmix.engines._stanli import _jsonable
from stanmix.programs import example_data_path, program_path

#: The shape of CmdStan 2.35's ADVI console output (abridged by hand).
HEADER = """method = variational
  variational
    algorithm = meanfield (Default)
      meanfield
    iter = {iter}
    grad_samples = 1 (Default)
    elbo_samples = 100 (Default)
    eta = 1 (Default)
    adapt
      engaged = true (Default)
      iter = 50 (Default)
    tol_rel_obj = 0.02
    eval_elbo = 100 (Default)
    output_samples = 100
id = 1 (Default)

Begin eta adaptation.
Iteration:   1 / 250 [  0%]  (Adaptation)
Iteration: 200 / 250 [ 80%]  (Adaptation)
Success! Found best value [eta = 1] earlier than expected.

Begin stochastic gradient ascent.
  iter             ELBO   delta_ELBO_mean   delta_ELBO_med   notes
"""
NOT_CONVERGED = HEADER.format(iter=300) + (
    "   100         -904.322             1.000            1.000\n"
    "   200         -676.207             0.669            1.000\n"
    "   300         -660.587             0.454            0.337\n"
    "Informational Message: The maximum number of iterations is reached! "
    "The algorithm may not have converged.\n"
    "This variational approximation is not guaranteed to be meaningful.\n"
    "\n"
    "Drawing a sample of size 100 from the approximate posterior... \n"
    "COMPLETED.\n"
)
CONVERGED = HEADER.format(iter="10000 (Default)") + (
    "   100         -904.322             1.000            1.000\n"
    "   200         -676.207             0.669            1.000\n"
    "   300         -660.587             0.454            0.337   MAY BE DIVERGING... INSPECT ELBO\n"  # noqa: E501
    "   400         -647.272             0.157            0.010   MEDIAN ELBO CONVERGED\n"  # noqa: E501
    "\n"
    "Drawing a sample of size 100 from the approximate posterior... \n"
    "COMPLETED.\n"
)


# -- pure: transcript and output parsing ----------------------------------------
def test_transcript_of_a_run_that_stopped_at_iter():
    run = parse_advi_transcript(NOT_CONVERGED)
    assert run.converged is False
    assert run.iterations == 300 == run.max_iter  # not adapt's iter = 50
    assert run.tol_rel_obj == 0.02
    np.testing.assert_array_equal(run.elbo, [-904.322, -676.207, -660.587])
    np.testing.assert_array_equal(run.elbo_iterations, [100, 200, 300])


def test_transcript_of_a_converged_run():
    run = parse_advi_transcript(CONVERGED)
    assert run.converged is True
    assert run.iterations == 400
    assert run.max_iter == 10000
    np.testing.assert_array_equal(run.elbo, [-904.322, -676.207, -660.587, -647.272])
    np.testing.assert_array_equal(run.elbo_iterations, [100, 200, 300, 400])


def test_transcript_with_no_elbo_evaluation():
    # iter below eval_elbo: CmdStan prints the table header and no row.
    text = HEADER.format(iter=20) + (
        "Informational Message: The maximum number of iterations is reached! "
        "The algorithm may not have converged.\nCOMPLETED.\n"
    )
    run = parse_advi_transcript(text)
    assert (run.converged, run.iterations, run.elbo.size) == (False, 20, 0)


def test_variational_csv_drops_the_mean_and_reads_eta():
    columns = "lp__,log_p__,log_g__,mu.1,mu.2\n"
    rows = "0,0,0,0.5,1.5\n0,-3.25,-1.5,0.25,1\n0,-4.5,-2,0.75,2\n"
    config = "# method = variational\n#     eta = 0.05\n#     adapt\n"
    names, draws, eta = read_variational_csv(config + columns + rows)
    assert names == ["lp__", "log_p__", "log_g__", "mu.1", "mu.2"]
    np.testing.assert_array_equal(
        draws, [[0, -3.25, -1.5, 0.25, 1], [0, -4.5, -2, 0.75, 2]]
    )
    assert eta == 0.05  # no adaptation block: the eta setting
    adapted = config + "# Stepsize adaptation complete.\n# eta = 10\n"
    assert read_variational_csv(adapted + columns + rows)[2] == 10.0


def test_both_advi_implementations_share_the_not_converged_message():
    def log_prob_grad(q):
        return -0.5 * float(q @ q), -q

    with pytest.warns(RuntimeWarning) as caught:
        advi(
            log_prob_grad,
            np.zeros(2),
            seed=1,
            iter=5,
            eval_elbo=5,
            eta=0.1,
            output_draws=10,
        )
    assert not_converged_message(5, 0.01) in [str(w.message) for w in caught]
    with pytest.warns(RuntimeWarning) as caught:
        advi(log_prob_grad, np.zeros(2), seed=1, iter=5, eta=0.1, output_draws=10)
    assert [str(w.message) for w in caught] == [no_elbo_message(5, 100)]
    assert not_converged_message(20, 0.02).startswith(
        "ADVI did not converge within iter=20 iterations: the relative ELBO "
        "change stayed above tol_rel_obj=0.02."
    )


# -- pure: NUTS adaptation settings ---------------------------------------------
def test_no_adaptation_setting_reaches_cmdstan_when_adaptation_is_off():
    for adapt_metric in (True, False):
        assert (
            adaptation_settings(
                adapt_delta=0.95,
                adapt_metric=adapt_metric,
                warmup=100,
                adapt_engaged=False,
            )
            == {}
        )
    assert adaptation_settings(
        adapt_delta=0.9, adapt_metric=True, warmup=100, adapt_engaged=True
    ) == {"adapt_delta": 0.9}
    assert adaptation_settings(
        adapt_delta=0.9, adapt_metric=False, warmup=120, adapt_engaged=True
    ) == {
        "adapt_delta": 0.9,
        "adapt_init_phase": 0,
        "adapt_metric_window": 0,
        "adapt_step_size": 120,
    }


# -- pure: what cmdstanpy logs --------------------------------------------------
class _Kept(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.texts = []

    def emit(self, record):
        self.texts.append(record.getMessage())


def test_cmdstanpy_chatter_is_dropped_only_during_stanmix_calls():
    """Per-chain lines, the diagnostics summary stanmix gives itself, and
    advice naming cmdstanpy's arguments are dropped during a stanmix call;
    compilation notes, CmdStan's own messages, the DEBUG transcripts and
    logging outside a call pass."""
    logger = logging.getLogger("cmdstanpy")
    kept = _Kept()
    logger.addHandler(kept)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    rejection = "Non-fatal error during sampling:\nException: normal_lpdf: Scale is 0"
    try:
        with _in_stanmix_terms():
            logger.info("Chain [%d] start processing", 1)
            logger.info("CmdStan start processing")
            logger.info("CmdStan done processing.")
            logger.info("compiling stan file a.stan to exe file a")
            logger.debug("Chain 1 console:\nIterations: 100")
            logger.warning(
                "Some chains may have failed to converge.\n\tChain 1 had 3 "
                'divergent transitions (0.3%%)\n\tUse the "diagnose()" method '
                "on the CmdStanMCMC object to see further information."
            )
            logger.warning(
                rejection + "\nConsider re-running with show_console=True if the above "
                "output is unclear!"
            )
        logger.info("Chain [%d] start processing", 2)
    finally:
        logger.removeHandler(kept)
        logger.setLevel(level)
    assert kept.texts == [
        "compiling stan file a.stan to exe file a",
        "Chain 1 console:\nIterations: 100",
        rejection,
        "Chain [2] start processing",
    ]


# -- pure: finding CmdStan --------------------------------------------------------
STANC = "stanc.exe" if os.name == "nt" else "stanc"


@pytest.fixture
def unbuilt_cmdstan(tmp_path, monkeypatch):
    """A CmdStan source folder (a makefile) that was never built, as CMDSTAN."""
    folder = tmp_path / "cmdstan-2.35.0"
    folder.mkdir()
    (folder / "makefile").write_text("# CmdStan makefile\n")
    monkeypatch.setenv("CMDSTAN", str(folder))
    monkeypatch.setattr(registry, "_FALLBACKS_NOTED", set())
    return folder


def test_an_unbuilt_cmdstan_is_not_available(unbuilt_cmdstan):
    assert cmdstan_available() is False
    assert "never built: bin/stanc" in registry.cmdstan_problem(unbuilt_cmdstan)
    with pytest.raises(sm.EngineUnavailableError) as raised:
        get_engine("cmdstan")
    message = str(raised.value)
    assert f"CMDSTAN={str(unbuilt_cmdstan)!r} is not a usable CmdStan" in message
    assert "never built" in message and "make build" in message
    assert message.endswith(registry.CMDSTAN_HELP)


def test_a_built_cmdstan_folder_is_available(unbuilt_cmdstan):
    pytest.importorskip("cmdstanpy")
    (unbuilt_cmdstan / "bin").mkdir()
    (unbuilt_cmdstan / "bin" / STANC).write_text("")
    assert registry.cmdstan_problem(unbuilt_cmdstan) is None
    assert cmdstan_available() is True


def test_a_missing_cmdstan_folder_is_named(tmp_path, monkeypatch):
    missing = tmp_path / "no-such-cmdstan"
    monkeypatch.setenv("CMDSTAN", str(missing))
    assert cmdstan_available() is False
    with pytest.raises(
        sm.EngineUnavailableError,
        match=re.escape(f"CMDSTAN={str(missing)!r}")
        + ".*does not exist.*install_cmdstan",
    ):
        get_engine("cmdstan")
    (tmp_path / "a-file").write_text("")
    assert registry.cmdstan_problem(tmp_path / "a-file") == "it is a file, not a folder"
    assert "no makefile" in registry.cmdstan_problem(tmp_path)


def test_auto_says_once_that_it_passed_over_an_unusable_cmdstan(
    unbuilt_cmdstan, caplog
):
    pytest.importorskip("stanli")
    with caplog.at_level(logging.WARNING, logger="stanmix"):
        assert get_engine("auto").name == "stanli"
        assert get_engine("auto").name == "stanli"
    notes = [r for r in caplog.records if "fell back" in r.getMessage()]
    assert len(notes) == 1
    assert notes[0].levelno == logging.WARNING
    text = notes[0].getMessage()
    assert "engine='auto' fell back to stanli" in text
    assert f"CMDSTAN={str(unbuilt_cmdstan)!r} is not a usable CmdStan" in text


def test_auto_is_silent_when_cmdstan_is_not_asked_for(monkeypatch, caplog):
    pytest.importorskip("stanli")
    monkeypatch.delenv("CMDSTAN", raising=False)
    if cmdstan_available():
        pytest.skip("a CmdStan installation is found without CMDSTAN")
    with caplog.at_level(logging.WARNING, logger="stanmix"):
        assert get_engine("auto").name == "stanli"
    assert not [r for r in caplog.records if "fell back" in r.getMessage()]


# -- pure: the program cache ------------------------------------------------------
def test_an_unwritable_cache_names_stanmix_cache(tmp_path, monkeypatch):
    pytest.importorskip("cmdstanpy")
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    root = blocker / "cache"  # a folder cannot be made inside a file
    monkeypatch.setenv("STANMIX_CACHE", str(root))
    with pytest.raises(sm.StanmixInputError) as raised:
        CmdStanEngine()._model(program_path("normal_diag"))
    message = str(raised.value)
    assert f"STANMIX_CACHE={str(root)!r}" in message
    assert "set STANMIX_CACHE to a folder you can write to" in message
    assert isinstance(raised.value.__cause__, OSError)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_a_cache_under_proc_names_stanmix_cache(monkeypatch):
    pytest.importorskip("cmdstanpy")
    monkeypatch.setenv("STANMIX_CACHE", "/proc/stanmix_cache")
    with pytest.raises(
        sm.StanmixInputError,
        match=r"STANMIX_CACHE='/proc/stanmix_cache'.*a folder you can write to",
    ):
        CmdStanEngine()._model(program_path("normal_diag"))


def test_a_writable_cache_keeps_the_program_and_its_includes(tmp_path, monkeypatch):
    pytest.importorskip("cmdstanpy")
    root = tmp_path / "new" / "cache"
    monkeypatch.setenv("STANMIX_CACHE", str(root))
    assert cache_dir() == root
    built = []

    class FakeModel:
        def __init__(self, stan_file, stanc_options, cpp_options):
            built.append(stan_file)

    engine = CmdStanEngine()
    engine._cmdstanpy = types.SimpleNamespace(
        cmdstan_version=lambda: (2, 35),
        cmdstan_path=lambda: str(tmp_path / "cmdstan-2.35.0"),
        CmdStanModel=FakeModel,
    )
    first = engine._model(program_path("normal_diag"))
    assert engine._model(program_path("normal_diag")) is first
    assert len(built) == 1
    folder = built[0].parent
    assert folder.parent.parent == root
    assert folder.parent.name.startswith("cmdstan-2-35-")
    assert folder.name.startswith("normal_diag-")
    assert (folder / "normal_diag.stan").is_file()
    assert (folder / "mixture.stanfunctions").is_file()
    # A fresh engine (a new process) finds the folder and copies nothing.
    again = CmdStanEngine()
    again._cmdstanpy = engine._cmdstanpy
    again._model(program_path("normal_diag"))
    assert built[1] == built[0]
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]


def test_each_cmdstan_installation_builds_its_own_executables(tmp_path, monkeypatch):
    """An executable links to the TBB library of the installation that built
    it: one built against another folder of the same version must not be
    reused (it fails to start once that folder is gone)."""
    pytest.importorskip("cmdstanpy")
    monkeypatch.setenv("STANMIX_CACHE", str(tmp_path / "cache"))
    built = []

    class FakeModel:
        def __init__(self, stan_file, stanc_options, cpp_options):
            built.append(stan_file)

    for name in ("old", "new", "old"):
        engine = CmdStanEngine()
        engine._cmdstanpy = types.SimpleNamespace(
            cmdstan_version=lambda: (2, 35),
            cmdstan_path=lambda name=name: str(tmp_path / name / "cmdstan-2.35.0"),
            CmdStanModel=FakeModel,
        )
        engine._model(program_path("normal_diag"))
    assert built[0].parent != built[1].parent
    assert built[2] == built[0]
    assert len(list((tmp_path / "cache").iterdir())) == 2


def test_a_cmdstan_that_cannot_build_says_what_to_do(tmp_path, monkeypatch):
    pytest.importorskip("cmdstanpy")
    monkeypatch.setenv("STANMIX_CACHE", str(tmp_path / "cache"))

    def failing(stan_file, stanc_options, cpp_options):
        raise ValueError(
            f"Failed to compile Stan model '{stan_file}'. Console:\n"
            "make: *** No rule to make target 'normal_diag'.  Stop.\n"
        )

    engine = CmdStanEngine()
    engine._cmdstanpy = types.SimpleNamespace(
        cmdstan_version=lambda: None,
        cmdstan_path=lambda: str(tmp_path / "cmdstan"),
        CmdStanModel=failing,
    )
    with pytest.raises(sm.EngineUnavailableError) as info:
        engine._model(program_path("normal_diag"))
    message = str(info.value)
    assert message.startswith(f"CmdStan at {tmp_path / 'cmdstan'} could not build")
    assert "No rule to make target" in message
    assert "`make build` must succeed" in message and "engine='stanli'" in message


def test_the_cmdstan_version_is_the_installations_full_one(tmp_path):
    """As a CmdStan CSV file gives it to from_cmdstan_csv (major.minor.patch),
    from the makefile; cmdstanpy's major.minor where there is none."""
    pytest.importorskip("cmdstanpy")
    (tmp_path / "makefile").write_text("# CmdStan\nCMDSTAN_VERSION := 2.35.0\n")
    engine = CmdStanEngine()
    engine._cmdstanpy = types.SimpleNamespace(
        cmdstan_version=lambda: (2, 35), cmdstan_path=lambda: str(tmp_path)
    )
    assert engine.version == "2.35.0"
    (tmp_path / "makefile").unlink()
    assert engine.version == "2.35"


# -- CmdStan runs -------------------------------------------------------------------
@pytest.fixture(scope="module")
def blobs():
    return sm.datasets.blobs(300, seed=1).X


@needs_cmdstan
@pytest.mark.cmdstan
def test_cmdstan_uses_the_given_eta(blobs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # it converges
        # (three components for five blobs: the MAP starts that begin ADVI
        # may find other modes, which is not ADVI's business here)
        warnings.filterwarnings(
            "ignore", "1 of 4 optimizer starts reached a different mode"
        )
        # (whether meanfield is close to the posterior is not the point here,
        # nor whether its merged components' means are told apart)
        warnings.filterwarnings("ignore", "the ADVI approximation is far from")
        warnings.filterwarnings("ignore", "components .* nearly the same mean")
        m = sm.DiagonalMixture(3, engine="cmdstan").fit(
            blobs, method="variational", seed=1, draws=100, eta=0.05
        )
    # CmdStan's log_p__ and log_g__ give the approximation's Pareto k-hat
    assert np.isfinite(m.pareto_k_)
    stats = m.idata_.sample_stats
    assert stats["log_g"].shape == stats["lp"].shape == (1, 100)
    info = m.engine_result_info_
    assert info["eta"] == 0.05
    assert info["converged"] is True
    assert info["iterations"] % 100 == 0 and info["iterations"] >= 100
    assert info["elbo"].shape == (info["iterations"] // 100,)
    assert np.isfinite(info["elbo"]).all()


@needs_cmdstan
@pytest.mark.cmdstan
def test_cmdstan_fits_leave_no_output_files_behind(blobs):
    """CmdStan's CSV and console files are read and removed with each fit, not
    kept in cmdstanpy's session folder until the interpreter exits."""
    import cmdstanpy

    def outputs():
        found = Path(cmdstanpy._TMPDIR).rglob("*")
        return {p for p in found if p.suffix in (".csv", ".txt")}

    before = outputs()
    model = sm.DiagonalMixture(3, engine="cmdstan")
    for method, extra in (
        ("optimize", {}),
        ("sample", {"chains": 2, "warmup": 150, "draws": 100}),
        ("sample", {"chains": 2, "draws": 100, "init": "pathfinder"}),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(blobs, method=method, seed=1, **extra)
    assert outputs() == before


@needs_cmdstan
@pytest.mark.cmdstan
def test_cmdstan_advi_that_stops_at_iter_warns_and_says_so(blobs):
    with pytest.warns(RuntimeWarning) as caught:
        m = sm.DiagonalMixture(3, engine="cmdstan").fit(
            blobs, method="variational", seed=1, draws=100, iter=100, eval_elbo=50
        )
    assert not_converged_message(100, 0.01) in [str(w.message) for w in caught]
    info = m.engine_result_info_
    assert info["converged"] is False
    assert info["iterations"] == 100
    assert isinstance(info["elbo"], np.ndarray) and info["elbo"].shape == (2,)
    assert np.isfinite(info["elbo"]).all()


@needs_cmdstan
@pytest.mark.cmdstan
def test_cmdstan_advi_lp_is_the_log_density():
    pytest.importorskip("stanli")
    program = "normal_diag"
    data = json.loads(example_data_path(program).read_text())
    init = json.loads(
        (program_path(program).parent / f"{program}.init.json").read_text()
    )
    result = get_engine("cmdstan").variational(
        program_path(program), data, init=init, seed=1, draws=20, eta=0.1
    )
    lp = result.sample_stats["lp"][0]
    assert set(result.sample_stats) == {"lp", "log_g"}
    assert lp.shape == (20,) and np.ptp(lp) > 1.0  # not CmdStan's lp__ = 0
    assert np.ptp(result.sample_stats["log_g"][0]) > 0.0
    # The same log density as stanli's, up to the normalising constants
    # stanli drops.
    model = get_engine("stanli")._model(program_path(program), data)
    reference = []
    for i in range(lp.size):
        point = dict(init)
        point.update(
            {k: v[0, i].tolist() for k, v in result.variables.items() if k in init}
        )
        reference.append(model.log_prob_grad(model.unconstrain(_jsonable(point)))[0])
    offset = np.asarray(reference) - lp
    np.testing.assert_allclose(offset, offset[0], atol=1e-6)


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.parametrize("adaptation", ["laplace", "windowed"])
def test_cmdstan_samples_with_adaptation_off(blobs, adaptation):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sm.ConvergenceWarning)
        m = sm.DiagonalMixture(2, engine="cmdstan").fit(
            blobs[:150],
            method="sample",
            seed=1,
            chains=2,
            warmup=50,
            draws=100,
            adaptation=adaptation,
            adapt_engaged=False,
            step_size=0.05,
            show_progress=False,
        )
    info = m.engine_result_info_
    assert info["adapt_engaged"] is False
    assert info["adapt_metric"] is (adaptation == "windowed")
    # Nothing was adapted: the step size is the one given.
    np.testing.assert_array_equal(info["step_size"], [0.05, 0.05])
    assert m.idata_.posterior.sizes["draw"] == 100
