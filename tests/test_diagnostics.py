"""Label-switching detector."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from stanmix.diagnostics import LabelSwitchingReport, detect_label_switching
from stanmix.exceptions import StanmixInputError

C, S, K = 4, 400, 3


def ar1(rng, shape, rho):
    """Unit-variance AR(1) noise along axis 1, like autocorrelated MCMC draws."""
    e = rng.standard_normal(shape)
    out = np.empty(shape)
    out[:, 0] = e[:, 0]
    for t in range(1, shape[1]):
        out[:, t] = rho * out[:, t - 1] + np.sqrt(1 - rho**2) * e[:, t]
    return out


def consistent_draws(seed=0, rho=0.5, centres=(-5.0, 0.0, 5.0), noise=0.3):
    rng = np.random.default_rng(seed)
    mu = np.asarray(centres) + noise * ar1(rng, (C, S, K), rho)
    w = np.array([0.3, 0.3, 0.4]) + 0.03 * ar1(rng, (C, S, K), rho)
    sigma = np.array([1.0, 0.8, 1.2]) * np.exp(0.05 * ar1(rng, (C, S, K), rho))
    return {"mu": mu, "w": w, "sigma": sigma}


def permute(draws, perm, chains=slice(None), draw_slice=slice(None)):
    out = {k: v.copy() for k, v in draws.items()}
    for arr in out.values():
        arr[chains, draw_slice] = arr[chains, draw_slice][..., perm]
    return out


def test_consistent_draws_not_flagged():
    report = detect_label_switching(consistent_draws())
    assert isinstance(report, LabelSwitchingReport)
    assert not report.chains_in_different_modes
    assert not report.label_switching
    assert report.within_chain_switches == {0: 0, 1: 0, 2: 0, 3: 0}
    assert (report.chain_labelings == np.arange(K)).all()
    assert str(report).startswith("No label switching found")


def test_chains_in_different_modes_flagged():
    draws = consistent_draws()
    draws = permute(draws, [1, 0, 2], chains=1)
    draws = permute(draws, [1, 0, 2], chains=3)
    report = detect_label_switching(draws)
    assert report.chains_in_different_modes
    assert report.chain_differs.tolist() == [False, True, False, True]
    assert report.chain_labelings.tolist() == [
        [0, 1, 2],
        [1, 0, 2],
        [0, 1, 2],
        [1, 0, 2],
    ]
    assert sum(report.within_chain_switches.values()) == 0
    msg = str(report)
    assert "Chains 1 and 3 sit in a different labelling than chain 0" in msg
    assert "components 0<->1 swapped" in msg
    assert "relabel_idata" in msg and "ordered" in msg


def test_cycled_chain_labelling_described():
    draws = permute(consistent_draws(), [2, 0, 1], chains=2)
    report = detect_label_switching(draws)
    assert report.chain_differs.tolist() == [False, False, True, False]
    perm = report.chain_labelings[2]
    # Relabelling chain 2 by its labelling recovers chain 0's labelling.
    assert np.allclose(
        np.median(draws["mu"][2][..., perm], axis=0),
        np.median(draws["mu"][0], axis=0),
        atol=0.2,
    )
    assert "Chain 2 sits in a different labelling" in str(report)
    assert "cycled" in str(report)


def test_within_chain_switch_block_flagged():
    draws = permute(consistent_draws(), [0, 2, 1], chains=2, draw_slice=slice(100, 160))
    report = detect_label_switching(draws)
    assert not report.chains_in_different_modes
    assert report.within_chain_switches == {0: 0, 1: 0, 2: 1, 3: 0}
    assert report.switch_runs[2] == [(100, 160)]
    assert report.switch_draws[2].tolist() == [100, 160]
    assert report.fraction_switched[2] == pytest.approx(60 / S)
    assert "Chain 2 switches labels inside the chain" in str(report)
    assert "draws 100-159" in str(report)


def test_short_excursion_not_counted():
    draws = permute(consistent_draws(), [1, 0, 2], chains=0, draw_slice=slice(50, 53))
    report = detect_label_switching(draws)
    assert report.within_chain_switches[0] == 0
    report = detect_label_switching(draws, min_run=3)
    assert report.switch_runs[0] == [(50, 53)]


def test_well_separated_ordered_draws_not_flagged():
    # Ordered means of strongly autocorrelated, moderately separated draws.
    for seed in range(3):
        draws = consistent_draws(seed, rho=0.9, centres=(-1.0, 0.0, 1.0), noise=0.25)
        draws["mu"] = np.sort(draws["mu"], axis=2)
        report = detect_label_switching(draws)
        assert not report.label_switching, str(report)


def test_inference_data_input_skips_membership():
    draws = permute(consistent_draws(), [1, 0, 2], chains=1)
    memb = np.full((C, S, 5, K), 1.0 / K)
    idata = az.from_dict(
        posterior={**draws, "membership": memb},
        dims={
            "mu": ["component"],
            "w": ["component"],
            "sigma": ["component"],
            "membership": ["obs", "component"],
        },
    )
    report = detect_label_switching(idata)
    assert report.var_names == ("mu", "w", "sigma")
    assert report.chain_differs.tolist() == [False, True, False, False]
    report = detect_label_switching(idata, var_names=["w"])
    assert report.var_names == ("w",)


def test_bad_input():
    draws = consistent_draws()
    with pytest.raises(StanmixInputError, match="must have shape"):
        detect_label_switching({"mu": draws["mu"][0]})
    with pytest.raises(StanmixInputError, match="at least 2 components"):
        detect_label_switching({"mu": draws["mu"][..., :1]})
    mu = draws["mu"].copy()
    mu[0, 3, 1] = np.nan
    with pytest.raises(StanmixInputError, match="non-finite"):
        detect_label_switching({"mu": mu})
    with pytest.raises(StanmixInputError, match="same draws"):
        detect_label_switching({"mu": draws["mu"], "w": draws["w"][:2]})
    with pytest.raises(StanmixInputError, match="not in draws"):
        detect_label_switching(draws, var_names=["tau"])
    with pytest.raises(StanmixInputError, match="no component parameter varies"):
        detect_label_switching({"mu": np.ones((2, 10, 2))})
    for options, message in (
        ({"draw_threshold": None}, "draw_threshold must be a number, got None"),
        ({"chain_threshold": "4"}, "chain_threshold must be a number, got '4'"),
        ({"chain_threshold": -1}, "chain_threshold must be a positive number"),
        ({"draw_threshold": np.inf}, "draw_threshold must be finite"),
        ({"min_run": 0}, "min_run must be at least 1"),
        ({"min_run": 2.5}, "min_run must be an integer"),
    ):
        with pytest.raises(StanmixInputError, match=message):
            detect_label_switching(draws, **options)


def test_single_chain_message():
    draws = {k: v[:1] for k, v in consistent_draws().items()}
    report = detect_label_switching(draws)
    assert not report.label_switching
    assert "one chain" in str(report)


def test_real_unordered_run_flagged(two_normal_fit):
    fit = two_normal_fit(False)
    report = detect_label_switching({"mu": fit["mu"], "w": fit["w"]})
    assert report.chains_in_different_modes
    # Chains 0, 1 share one labelling and chains 2, 3 the other.
    assert report.chain_differs.tolist() == [False, False, True, True]
    assert "components 0<->1 swapped" in str(report)


def test_real_ordered_run_not_flagged(two_normal_fit):
    fit = two_normal_fit(True)
    report = detect_label_switching({"mu": fit["mu"], "w": fit["w"]})
    assert not report.label_switching, str(report)


@pytest.mark.parametrize("chains", [1, 2, 4])
def test_a_switch_for_half_of_every_chain_is_found(chains):
    """Two means 30 sds apart that trade places halfway through every chain:
    measured on the raw draws, each chain's spread would be as wide as the
    gap and hide the switch; measured within a chain's labelling it shows."""
    rng = np.random.default_rng(0)
    mu = np.array([-3.0, 3.0]) + 0.2 * rng.standard_normal((chains, 200, 2))
    mu[:, 100:] = mu[:, 100:, ::-1]
    found = detect_label_switching({"mu": mu})
    assert found.label_switching
    assert found.within_chain_switches == dict.fromkeys(range(chains), 1)


def _two_clusters_and_an_empty_component(seed: int = 0):
    rng = np.random.default_rng(seed)
    c, s = 2, 200
    mu = np.stack(
        [
            0 + 0.1 * rng.standard_normal((c, s)),
            5 + 0.1 * rng.standard_normal((c, s)),
            2.5 + 3.0 * rng.standard_normal((c, s)),  # from its prior
        ],
        -1,
    )
    w = np.broadcast_to([0.5, 0.499, 0.001], (c, s, 3)) + 0.01 * rng.standard_normal(
        (c, s, 3)
    )
    return mu, np.abs(w)


def test_an_empty_component_wandering_past_the_others_is_no_switch():
    """The nearly empty component's mean follows its prior below cluster 0
    for 20 draws; components 0 and 1 keep their means and weights."""
    mu, w = _two_clusters_and_an_empty_component()
    mu[0, 50:70, 2] = -6 + np.random.default_rng(1).standard_normal(20)
    report = detect_label_switching({"w": w, "mu": mu})
    assert not report.label_switching, str(report)
    # without the weights every label counts alike, and the swap of the
    # empty component with component 0 looks like a switch
    alone = detect_label_switching({"mu": mu})
    assert alone.switch_runs[0] == [(50, 70)]


def test_a_supported_component_taking_an_empty_ones_label_is_a_switch():
    mu, w = _two_clusters_and_an_empty_component()
    episode = slice(50, 70)
    mu[0, episode] = mu[0, episode][:, [2, 1, 0]]
    w[0, episode] = w[0, episode][:, [2, 1, 0]]
    report = detect_label_switching({"w": w, "mu": mu})
    assert report.switch_runs[0] == [(50, 70)]
    assert report.within_chain_switches == {0: 1, 1: 0}


def test_arviz_shape_message_of_one_chain_is_quiet_only_in_stanmixs_calls():
    """One chain is below ArviZ's minimum shape, which it logs as "Shape
    validation failed: input_shape: (1, 100), ..." on every summary;
    stanmix's own warning says what one chain cannot show. The message is
    dropped inside stanmix's calls, not from the user's own."""
    import logging

    from stanmix.diagnostics import rhat_and_ess

    said: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            said.append(record.getMessage())

    rng = np.random.default_rng(0)
    one_chain = az.from_dict(posterior={"x": rng.normal(size=(1, 100))}).posterior
    keep = Keep()
    az._log.addHandler(keep)
    try:
        az._log.cache.clear()  # ArviZ logs each message once per process
        rhat, _ = rhat_and_ess(one_chain)
        assert np.isnan(float(rhat["x"]))
        assert not [m for m in said if m.startswith("Shape validation failed")]
        az._log.cache.clear()
        az.rhat(one_chain)
        assert [m for m in said if m.startswith("Shape validation failed")]
    finally:
        az._log.removeHandler(keep)
