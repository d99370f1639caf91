"""Weak identification said plainly: NUTS draws whose R-hat or bulk ESS miss
the bars give a ConvergenceWarning with the figures and what to do."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

import stanmix as sm
from stanmix.diagnostics import convergence
from stanmix.inference_data import az


@pytest.fixture(scope="module")
def data():
    return sm.datasets.mixture_sample(
        [0.5, 0.5], [[0.0, 0.0], [3.0, 2.0]], 1.0, 80, seed=5, columns=["u", "v"]
    ).X


def test_short_run_warns_with_the_figures_and_what_to_do(data):
    """Two chains of 50 draws cannot reach a bulk ESS of 400."""
    model = sm.DiagonalMixture(2, engine="stanli")
    with pytest.warns(sm.ConvergenceWarning) as record:
        model.fit(data, method="sample", chains=2, warmup=100, draws=50, seed=1)
    assert issubclass(sm.ConvergenceWarning, RuntimeWarning)
    (warning,) = [w for w in record if w.category is sm.ConvergenceWarning]
    assert warning.filename == __file__  # points at the user's fit call
    check = model.convergence_
    assert not check.converged and check.min_ess_bulk < 400
    message = str(warning.message)
    assert message.startswith("the NUTS draws have not converged: largest R-hat")
    assert (
        f"smallest bulk ESS {check.min_ess_bulk:.0f} ({check.ess_parameter}; "
        "below 400)" in message
    )
    for advice in ("more draws", "init=", "narrow the priors", "fewer components"):
        assert advice in message
    # The figures are those of the relabelled posterior, as summary() shows.
    assert model.relabel_report_ is not None
    summary = model.summary()
    table = check.table.loc[summary.index]
    np.testing.assert_allclose(table["r_hat"], summary["r_hat"], atol=0.006)
    np.testing.assert_allclose(table["ess_bulk"], summary["ess_bulk"], atol=0.6)
    assert check.min_ess_bulk == table["ess_bulk"].min()
    assert check.ess_parameter in check.failing
    assert str(check).startswith("Convergence not reached: largest R-hat")


def test_converged_run_is_quiet(data):
    """One component, 800 draws: every R-hat and ESS is fine."""
    model = sm.NormalMixture(1, engine="stanli")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model.fit(data["u"], method="sample", chains=2, warmup=200, draws=400, seed=1)
    assert not [w for w in record if w.category is sm.ConvergenceWarning]
    check = model.convergence_
    assert check.converged and check.sampler_ok, check
    assert check.max_rhat <= 1.01 and check.min_ess_bulk >= 400
    assert (check.divergences, check.treedepth_hits, check.transitions) == (0, 0, 800)
    assert check.max_treedepth == 10 and len(check.bfmi) == 2
    assert set(check.table.index) == {"w[0]", "mu[0]", "sigma[0]"}
    assert str(check) == (
        "Convergence reached: largest R-hat "
        f"{check.max_rhat:.3f} ({check.rhat_parameter}), smallest bulk ESS "
        f"{check.min_ess_bulk:.0f} ({check.ess_parameter})"
    )
    point = sm.NormalMixture(1, engine="stanli").fit(
        data["u"], method="optimize", seed=1
    )
    assert point.convergence_ is None


def test_too_few_kept_draws_are_refused_before_sampling(data, monkeypatch):
    def sample(*args, **kwargs):
        raise AssertionError("NUTS ran")

    monkeypatch.setattr(type(sm.get_engine("stanli")), "sample", sample)
    model = sm.NormalMixture(1, engine="stanli")
    with pytest.raises(sm.StanmixInputError, match="draws=3: NUTS needs at least 4"):
        model.fit(data["u"], chains=2, draws=3, seed=1)
    with pytest.raises(
        sm.StanmixInputError, match=r"draws=6 with thin=2 keeps 3: .* use draws=8 or"
    ):
        model.fit(data["u"], chains=2, draws=6, thin=2, seed=1)
    with pytest.raises(sm.StanmixInputError, match="thin must be at least 1"):
        model.fit(data["u"], draws=100, thin=0, seed=1)


def test_figures_that_cannot_be_computed_say_so():
    """R-hat and ESS are NaN for a run too short to compare draws (a direct
    CmdStan run read back, say)."""
    nan = xr.Dataset({"mu": ("component", [np.nan, np.nan])})
    check = convergence(nan, nan)
    assert not check.computable
    assert not check.converged
    assert str(check) == (
        "Convergence not checked: R-hat and bulk ESS could not be computed "
        "(too few draws)"
    )


def test_one_chain_is_named_as_why_rhat_is_unknown():
    """One chain: R-hat is NaN but the bulk ESS is known; the words say why
    and the advice is more chains, not more draws."""
    rhat = xr.Dataset({"mu": ("component", [np.nan, np.nan])})
    ess = xr.Dataset({"mu": ("component", [812.0, 230.0])})
    check = convergence(rhat, ess)
    assert check.one_chain and not check.converged
    assert str(check) == (
        "Convergence not checked: R-hat could not be computed (one chain; it "
        "compares chains), smallest bulk ESS 230 (mu[1]; below 400)"
    )
    assert check.advice().startswith("R-hat needs at least two chains: run chains=2")
    assert "run more draws" in check.advice()  # the ESS is below its bar
    enough = convergence(rhat, xr.Dataset({"mu": ("component", [812.0, 530.0])}))
    assert "run more draws" not in enough.advice()
    assert "too few draws" not in str(enough)


def test_a_one_chain_fit_warns_about_chains_not_draws():
    data = {"u": np.random.default_rng(0).normal(size=80)}
    model = sm.NormalMixture(1, engine="stanli")
    with pytest.warns(sm.ConvergenceWarning) as record:
        model.fit(data["u"], chains=1, draws=200, seed=1, show_progress=False)
    text = " ".join(str(w.message) for w in record)
    assert "R-hat could not be computed (one chain" in text
    assert "run chains=2 or more" in text
    assert "too few draws" not in text


def test_a_one_chain_relabelling_report_says_why_it_has_no_r_hat():
    x = np.r_[np.random.default_rng(0).normal(-3, 1, 60), np.full(60, 3.0)]
    x[60:] += np.random.default_rng(1).normal(size=60)
    model = sm.NormalMixture(2, engine="stanli", relabel="stephens")
    with pytest.warns(sm.ConvergenceWarning):
        model.fit(x, chains=1, warmup=150, draws=100, seed=1, show_progress=False)
    lines = str(model.relabel_report_).splitlines()
    assert lines[0] == "Relabelling: method stephens, 1 chain x 100 draws, K = 2"
    assert lines[1] == "  max R-hat      (compares chains; this fit ran one)"


def _warned_fit(data, **options):
    """A two-chain NUTS fit of one component to ``u``, and the text of the
    one ConvergenceWarning it gives."""
    model = sm.NormalMixture(1, engine="stanli")
    with pytest.warns(sm.ConvergenceWarning) as record:
        model.fit(data["u"], method="sample", chains=2, seed=1, **options)
    (warning,) = [w for w in record if w.category is sm.ConvergenceWarning]
    return model, str(warning.message)


def test_chains_that_do_not_move_are_named_with_advice_that_can_be_followed(data):
    """A step size held far too large (adapt_engaged=False) makes every
    transition diverge and leaves both chains where they started: the
    warning says the chains did not move, not that there was one chain,
    and its advice is a smaller step size, not adapt_delta (which
    adapt_engaged=False refuses). Following it, the chains move."""
    model, message = _warned_fit(
        data,
        warmup=0,
        draws=100,
        adaptation="windowed",
        adapt_engaged=False,
        step_size=2.5,
    )
    check = model.convergence_
    diverging = model.idata_.sample_stats["diverging"].to_numpy()
    assert check.divergences == int(diverging.sum()) == 200
    assert check.transitions == 200
    assert (check.chains, check.stuck_chains, check.adapt_engaged) == (2, (0, 1), False)
    assert not check.one_chain
    assert not check.divergences_ok and not check.converged and not check.sampler_ok
    assert message == (
        "the NUTS draws have not converged: the chains did not move: every draw "
        "of a chain is the same (no proposal was accepted), so R-hat and bulk "
        "ESS mean nothing; 200 of 200 transitions divergent (100.00%). A chain "
        "that does not move rejects every proposal: its step size is far too "
        "large for the posterior (every transition then diverges) or it starts "
        "where the log density is not finite. adapt_engaged=False holds the step "
        "size where it starts: give a smaller step_size= (say a tenth), or let "
        "the adaptation tune it (leave adapt_engaged out). The figures of every "
        "parameter are in convergence_.table."
    )
    assert str(check).startswith("Convergence not reached: the chains did not move")
    smaller = sm.NormalMixture(1, engine="stanli")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sm.ConvergenceWarning)
        smaller.fit(
            data["u"],
            chains=2,
            seed=1,
            warmup=0,
            draws=100,
            adaptation="windowed",
            adapt_engaged=False,
            step_size=0.25,
            show_progress=False,
        )
    assert smaller.convergence_.stuck_chains == ()
    assert smaller.convergence_.chains == 2


def test_adapt_engaged_false_tunes_nothing_and_keeps_the_laplace_metric():
    """With the default adaptation, adapt_engaged=False leaves the chains on
    the Laplace metric (so reported) at the step size they start with."""
    X = sm.datasets.blobs(120, seed=1).X
    model = sm.DiagonalMixture(5, engine="stanli")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sm.ConvergenceWarning)
        model.fit(
            X,
            chains=2,
            warmup=20,
            draws=50,
            seed=1,
            adapt_engaged=False,
            step_size=0.3,
            show_progress=False,
        )
    assert (model.adaptation_, model.metric_) == ("laplace", "dense_e")
    steps = model.idata_.sample_stats["step_size"].to_numpy()
    np.testing.assert_array_equal(steps, 0.3)


def test_one_stuck_chain_among_moving_ones_is_named():
    rng = np.random.default_rng(1)
    mu = rng.normal(size=(3, 50, 2))
    mu[2] = mu[2, 0]
    rhat = xr.Dataset({"mu": ("component", [1.3, 1.002])})
    ess = xr.Dataset({"mu": ("component", [40.0, 900.0])})
    check = convergence(rhat, ess, posterior={"mu": mu})
    assert (check.chains, check.stuck_chains) == (3, (2,))
    assert not check.converged and not check.one_chain
    assert check.figures() == (
        "chain 2 did not move: every draw of it is the same; largest R-hat "
        "1.300 (mu[0]; above 1.01), smallest bulk ESS 40 (mu[0]; below 400)"
    )
    assert check.advice().startswith(
        "A chain that does not move rejects every proposal"
    )
    assert "Run a longer warmup (warmup=) so that the step size adapts" in (
        check.advice()
    )
    # Every chain moved: nothing is said of stuck chains.
    mu[2] = rng.normal(size=(50, 2))
    moving = convergence(rhat, ess, posterior={"mu": mu})
    assert (moving.chains, moving.stuck_chains) == (3, ())
    assert "did not move" not in moving.figures() + moving.advice()


def test_one_chain_is_read_from_the_chain_count():
    """R-hat NaN with a known ESS is one chain only where there is one: with
    two chains the figures say R-hat could not be computed, not why not."""
    rhat = xr.Dataset({"mu": ("component", [np.nan, np.nan])})
    ess = xr.Dataset({"mu": ("component", [812.0, 230.0])})
    two = np.random.default_rng(0).normal(size=(2, 20, 2))
    check = convergence(rhat, ess, posterior={"mu": two})
    assert check.chains == 2 and not check.one_chain
    assert "one chain" not in str(check) and "at least two chains" not in (
        check.advice()
    )
    assert str(check) == (
        "Convergence not checked: R-hat could not be computed, smallest bulk "
        "ESS 230 (mu[1]; below 400)"
    )
    one = convergence(rhat, ess, posterior={"mu": two[:1]})
    assert one.chains == 1 and one.one_chain
    assert str(one).startswith("Convergence not checked: R-hat could not be ")
    # Without the draws, the sampler's statistics give the count.
    stats = {"diverging": np.zeros((2, 20), dtype=bool)}
    assert convergence(rhat, ess, sample_stats=stats).chains == 2


@pytest.mark.parametrize("adapt_engaged", [True, False])
def test_divergences_are_met_with_advice_the_sampler_can_take(adapt_engaged):
    rhat = xr.Dataset({"mu": ("component", [1.001])})
    ess = xr.Dataset({"mu": ("component", [2000.0])})
    diverging = np.zeros((2, 1000), dtype=bool)
    diverging[0, :30] = True
    check = convergence(
        rhat,
        ess,
        sample_stats={"diverging": diverging},
        adapt_engaged=adapt_engaged,
    )
    advice = check.advice()
    assert ("raise adapt_delta (say to 0.99; smaller steps)" in advice) is (
        adapt_engaged
    )
    assert (
        "give a smaller step_size= (adapt_engaged=False holds it where it "
        "starts), or let the adaptation tune it (leave adapt_engaged out)" in advice
    ) is (not adapt_engaged)


def test_tree_depth_hits_warn_even_when_the_draws_converged(data):
    """max_treedepth=3 cuts most trajectories short; with 800 draws a chain
    the R-hat and ESS bars are still met, so the warning names only the
    tree depth."""
    model, message = _warned_fit(data, warmup=200, draws=800, max_treedepth=3)
    check = model.convergence_
    depth = model.idata_.sample_stats["tree_depth"].to_numpy()
    assert check.max_treedepth == 3
    assert check.treedepth_hits == int((depth >= 3).sum()) > 0
    assert check.converged and not check.sampler_ok
    assert message.startswith("the NUTS draws have warning signs: largest R-hat")
    assert f"{check.treedepth_hits} of 1600 transitions stopped at the " in message
    assert "maximum tree depth 3" in message and "max_treedepth=" in message
    assert "more draws" not in message  # R-hat and ESS are fine


def test_e_bfmi_matches_arviz():
    energy = np.cumsum(np.random.default_rng(3).normal(size=(3, 500)), axis=1)
    np.testing.assert_allclose(
        sm.diagnostics.e_bfmi(energy), az.bfmi(energy), rtol=1e-12
    )
    assert np.isnan(sm.diagnostics.e_bfmi(np.ones((2, 10)))).all()
    assert np.isnan(sm.diagnostics.e_bfmi([[1.0]])).all()


def test_sampler_bars():
    """At most 0.1% divergent draws passes the bar (any divergence is still
    a warning sign); an E-BFMI below 0.3 names its chain."""
    rhat = xr.Dataset({"mu": ("component", [1.001])})
    ess = xr.Dataset({"mu": ("component", [2000.0])})
    diverging = np.zeros((4, 1000), dtype=bool)
    diverging[0, :4] = True
    check = sm.diagnostics.convergence(rhat, ess, sample_stats={"diverging": diverging})
    assert check.converged and not check.sampler_ok
    diverging[1, 0] = True
    check = sm.diagnostics.convergence(rhat, ess, sample_stats={"diverging": diverging})
    assert not check.converged and check.divergences == 5
    # Chain 1's energy moves in small steps against its spread: E-BFMI ~ 0.
    rng = np.random.default_rng(0)
    energy = np.stack([rng.normal(size=1000), np.linspace(0.0, 50.0, 1000)])
    check = sm.diagnostics.convergence(rhat, ess, sample_stats={"energy": energy})
    assert check.converged and not check.bfmi_ok and not check.sampler_ok
    assert check.bfmi[0] > 1.5  # independent draws: about 2
    assert "(below 0.3) in chain 1" in check.figures()
    assert "E-BFMI" in check.advice()


def test_an_r_hat_just_above_the_bar_is_shown_above_it():
    ess = xr.Dataset({"mu": ("component", [900.0, 1100.0])})
    just = convergence(xr.Dataset({"mu": ("component", [1.0104, 1.002])}), ess)
    assert not just.rhat_ok
    assert "largest R-hat 1.0104 (mu[0]; above 1.01)" in just.figures()
    clear = convergence(xr.Dataset({"mu": ("component", [1.0834, 1.002])}), ess)
    assert "largest R-hat 1.083 (mu[0]; above 1.01)" in clear.figures()
    fine = convergence(xr.Dataset({"mu": ("component", [1.0046, 1.002])}), ess)
    assert "largest R-hat 1.005 (mu[0])" in fine.figures()


def test_chains_a_little_short_of_the_bars_are_told_to_run_longer_first():
    """R-hat just above 1.01 with no divergences: the advice leads with more
    draws, not with narrower priors or init='map' (already the default);
    chains far apart keep the wider advice."""
    ess = xr.Dataset({"mu": ("component", [900.0, 300.0])})
    mild = convergence(xr.Dataset({"mu": ("component", [1.012, 1.004])}), ess)
    assert mild.advice().startswith(
        "With R-hat within 1.05 and no divergent transitions, the chains are most "
        "likely just too short for the bars: run more draws (draws=, warmup=) first"
    )
    assert "init=" not in mild.advice()
    apart = convergence(xr.Dataset({"mu": ("component", [1.3, 1.004])}), ess)
    assert apart.advice().startswith("The posterior may be weakly identified")
