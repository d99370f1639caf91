"""Weak identification said plainly: NUTS draws whose R-hat or bulk ESS miss
the bars give a ConvergenceWarning with the figures and what to do."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import stanmix as sm


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
    assert check.converged, check
    assert check.max_rhat <= 1.01 and check.min_ess_bulk >= 400
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


def test_too_few_draws_cannot_be_checked(data):
    model = sm.NormalMixture(1, engine="stanli")
    with pytest.warns(sm.ConvergenceWarning, match="cannot be checked: R-hat and"):
        model.fit(data["u"], method="sample", chains=2, warmup=20, draws=3, seed=1)
    assert not model.convergence_.computable
    assert not model.convergence_.converged
    assert str(model.convergence_) == (
        "Convergence not checked: R-hat and bulk ESS could not be computed "
        "(too few draws)"
    )
