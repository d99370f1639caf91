"""Choosing the number of components: the sweep, its rule, K-fold where LOO
is unreliable, runs in parallel, and bad input."""

from __future__ import annotations

import re
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from conftest import RecordingEngine

import stanmix as sm
from stanmix import checks, datasets
from stanmix.selection import SPARSE_CONCENTRATION, ComponentSelection

pytest.importorskip("stanli")
SHORT = dict(chains=2, warmup=300, draws=300, show_progress=False)
#: Long enough for R-hat <= 1.01 on the fits that should converge.
FULL = dict(chains=4, warmup=500, draws=500, show_progress=False)
#: The smallest NUTS run, where only the sweep's bookkeeping is tested.
TINY = dict(chains=1, warmup=20, draws=20, show_progress=False)


def _clusters(k: int, n: int = 500, seed: int = 1) -> pd.DataFrame:
    """K unit-scale clusters on a circle of radius 4 in two columns."""
    angle = 2 * np.pi * np.arange(k) / k
    means = 4.0 * np.c_[np.cos(angle), np.sin(angle)] if k > 1 else np.zeros((1, 2))
    return datasets.mixture_sample(
        np.full(k, 1 / k), means, 1.0, n, seed=seed, columns=["x", "y"]
    ).X


@pytest.fixture
def unreliable_loo(monkeypatch):
    """Every K's PSIS-LOO reads as unreliable (one Pareto k above 0.7), so
    that the sweep turns to K-fold cross-validation."""
    import stanmix.selection as selection

    real_row = selection._row

    def unreliable_row(model, seconds, method):
        row = real_row(model, seconds, method)
        row["n_high_pareto_k"] = 1
        return row

    monkeypatch.setattr(selection, "_row", unreliable_row)


@pytest.mark.slow
@pytest.mark.parametrize("true_k", [1, 4])  # one cluster, and several
def test_the_sweep_finds_the_true_number_of_clusters(true_k):
    ks = range(1, true_k + 2)
    sel = sm.select_components(_clusters(true_k), ks, seed=1, **FULL)
    assert isinstance(sel, ComponentSelection)
    assert sel.best_ == true_k, str(sel)
    table = sel.table_
    assert list(table.index) == list(ks)
    expected = {"elpd", "se", "estimate", "elpd_diff", "se_diff", "p_loo"}
    assert expected | {"n_high_pareto_k", "waic", "bic", "icl", "max_rhat"} <= set(
        table.columns
    )
    assert table.loc[true_k, "converged"]
    # Below the truth, every K is clearly worse than the best.
    for k in range(1, true_k):
        assert -table.loc[k, "elpd_diff"] > max(4, 2 * table.loc[k, "se_diff"])
    # A K whose LOO had high Pareto k was judged by K-fold instead.
    for k in table.index:
        if table.loc[k, "n_high_pareto_k"] > 0:
            assert table.loc[k, "estimate"] == "kfold"
            assert np.isfinite(table.loc[k, "elpd_kfold"])
    # BIC agrees on the truth here, and the models are kept.
    assert int(table["bic"].idxmin()) == true_k
    assert set(sel.models_) == set(table.index)
    assert sel.models_[true_k].n_components == true_k
    assert f"K = {true_k}" in sel.rule_
    # WAIC's own reliability flag, as ArviZ raises it for each fit
    import arviz as az

    for k, model in sel.models_.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            flag = bool(az.waic(model.idata_)["warning"])
        assert table.loc[k, "waic_warning"] == flag


@pytest.mark.slow
@pytest.mark.parametrize("true_k", [4])  # two of six components surplus
def test_a_sparse_overfitted_mixture_empties_the_surplus_components(true_k):
    """Six components with the sparse concentration on data with three or
    four clusters: the posterior mode of the number of filled components is
    the truth, the surplus components hold on average less than one of the
    500 observations between them, and the filled ones carry the clusters'
    shares (within three posterior sds, sqrt(p (1 - p) / N))."""
    n, k = 500, 6
    angle = 2 * np.pi * np.arange(true_k) / true_k
    data = datasets.mixture_sample(
        np.full(true_k, 1 / true_k),
        4.0 * np.c_[np.cos(angle), np.sin(angle)],
        1.0,
        n,
        seed=1,
        columns=["x", "y"],
    )
    model = sm.Mixture(k, prior_concentration=SPARSE_CONCENTRATION, ordered=False).fit(
        data.X, seed=1, **{**SHORT, "warmup": 200, "draws": 200}
    )
    filled = sm.filled_components(model, seed=1)
    assert filled.mode == true_k, filled.distribution
    assert filled.distribution.index.min() >= true_k
    sizes = filled.occupancy["mean size"].sort_values()
    assert sizes.iloc[: k - true_k].sum() < 1.0, filled.occupancy
    weights = np.sort(filled.occupancy["mean weight"].to_numpy())[k - true_k :]
    shares = np.sort(np.bincount(data.labels) / n)
    np.testing.assert_allclose(
        weights, shares, atol=3 * np.sqrt(shares * (1 - shares) / n).max()
    )


@pytest.mark.slow
def test_overlapping_clusters_show_the_uncertainty():
    """Two clusters 1.6 sds apart: one, two and three components predict
    about as well (differences under two of their standard errors), the
    table shows it, and the rule takes the smallest K and says why (the
    larger K are also weakly identified: their chains do not agree, which
    the table flags)."""
    X = datasets.mixture_sample(
        [0.5, 0.5], [[-0.8, 0.0], [0.8, 0.0]], 1.0, 300, seed=4, columns=["x", "y"]
    ).X
    sel = sm.select_components(X, range(1, 4), seed=3, **FULL)
    t = sel.table_
    assert sel.best_ == 1, str(sel)
    # Every K predicts about as well as the rule's reference (the best elpd
    # among the K that converged; which K has the highest elpd is chance):
    # each difference is within two standard errors of the difference, and
    # the table says so.
    others = t[t["se_diff"] > 0]
    assert len(others) == 2, str(sel)
    assert (others["elpd_diff"].abs() < 2 * others["se_diff"]).all(), str(sel)
    assert "so K = 1" in sel.rule_ and "standard errors" in sel.rule_
    assert "so K = 1" in str(sel)


def test_kfold_replaces_loo_where_pareto_k_is_high():
    """A single far outlier makes LOO unreliable; that K is cross-validated,
    its folds each with its own seed, and the K-fold estimate is what the
    rule uses."""
    X = _clusters(2, n=60, seed=5)
    X.loc[len(X)] = [30.0, 30.0]
    sel = sm.select_components(X, [1, 2], seed=1, kfold=3, **SHORT)
    t = sel.table_
    assert (t["n_high_pareto_k"] > 0).any(), t
    for k in t.index[t["n_high_pareto_k"] > 0]:
        assert t.loc[k, "estimate"] == "kfold"
        assert t.loc[k, "elpd"] == t.loc[k, "elpd_kfold"]
    assert "K-fold cross-validation" in sel.rule_
    unchecked = sm.select_components(X, [1, 2], seed=1, kfold=None, **SHORT)
    unreliable = unchecked.table_["estimate"] == "loo (unreliable)"
    assert unreliable.any()
    # The plot draws every K's elpd, the unreliable ones under their own label.
    ax = unchecked.plot().axes[0]
    drawn = {
        container.get_label(): container.lines[0].get_xdata().tolist()
        for container in ax.containers
    }
    assert (
        drawn["elpd (PSIS-LOO, unreliable)"]
        == unchecked.table_.index[unreliable].tolist()
    )
    assert sorted(k for ks in drawn.values() for k in ks) == [1, 2]
    plt.close(ax.figure)


def test_kfold_that_cannot_be_made_keeps_loo_and_says_why(monkeypatch, unreliable_loo):
    """The split can leave a column's only measured value in one fold, so
    that fold's training rows fail the data checks the data given pass: no
    fold is fitted, every K keeps its LOO (unreliable), with the reason in
    its note, said once. A fold fit that fails does the same for its K."""
    import stanmix.selection as selection

    X = _clusters(2, n=40, seed=3)
    X["b"] = 0.5
    X.loc[17, "b"] = 3.0
    folds_fitted = []
    real_heldout = selection._heldout

    def heldout(cls, params, k, cells, train, test, seed, fit):
        folds_fitted.append(k)
        if k == 2 and len(folds_fitted) == 5:
            raise RuntimeError("the sampler stopped")
        return real_heldout(cls, params, k, cells, train, test, seed, fit)

    monkeypatch.setattr(selection, "_heldout", heldout)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        sel = sm.select_components(
            X, [1, 2], seed=1, lower_limit={"b": 0.5}, kfold=3, **TINY
        )
    assert folds_fitted == []
    t = sel.table_
    assert t["estimate"].tolist() == ["loo (unreliable)"] * 2
    reason = t.loc[1, "note"]
    assert re.fullmatch(
        r"K-fold cross-validation was not run: the training rows of fold [012] "
        r"\(every row outside it\) fail a data check: column 'b' has no observed "
        r"value \(every cell is censored or missing\); the estimate stays "
        "PSIS-LOO, unreliable",
        reason,
    )
    assert t.loc[2, "note"] == reason
    said = [str(w.message) for w in seen if "K-fold" in str(w.message)]
    assert said == [f"K = 1, 2: {reason}"]
    assert f"K = 2: {reason}" in str(sel)

    X = _clusters(2, n=40, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = sm.select_components(X, [1, 2], seed=1, kfold=3, **TINY)
    assert len(folds_fitted) == 6
    t = sel.table_
    assert t.loc[1, "estimate"] == "kfold"
    # one chain of 20 draws: no fold fit can be said to have converged
    assert t.loc[1, "note"].startswith("3 of 3 K-fold fits did not converge")
    assert t.loc[2, "estimate"] == "loo (unreliable)"
    assert t.loc[2, "note"] == (
        "K-fold cross-validation failed in fold 1 (RuntimeError: the sampler "
        "stopped); the estimate stays PSIS-LOO, unreliable"
    )

    # any other error in a fold fit is raised, naming the fold and the K
    def broken(cls, params, k, cells, train, test, seed, fit):
        folds_fitted.append(k)
        if k == 2 and len(folds_fitted) == 11:
            raise ZeroDivisionError("a bug")
        return real_heldout(cls, params, k, cells, train, test, seed, fit)

    monkeypatch.setattr(selection, "_heldout", broken)
    with warnings.catch_warnings(), pytest.raises(sm.parallel.FitFailedError) as info:
        warnings.simplefilter("ignore")
        sm.select_components(X, [1, 2], seed=1, kfold=3, **TINY)
    assert str(info.value) == (
        "the K-fold fit of fold 1 of K=2 failed: ZeroDivisionError: a bug"
    )
    assert isinstance(info.value.failures["fold 1 of K=2"], ZeroDivisionError)


def test_automatic_kfold_has_at_most_one_fold_per_row(monkeypatch, unreliable_loo):
    """With fewer rows than the 5 automatic folds, each row is a fold: no
    fold is empty. The K-fold fits are not run here: the sweep's call for
    them is recorded instead."""
    import stanmix.selection as selection

    asked = {}

    def kfold(cls, params, ks, cells, check_data, folds, seeds, fit, **run):
        asked.update(ks=ks, n_obs=cells.n_obs, folds=folds)
        raise KeyboardInterrupt

    monkeypatch.setattr(selection, "_kfold", kfold)
    X = _clusters(1, n=4, seed=2)
    with warnings.catch_warnings(), pytest.raises(KeyboardInterrupt):
        warnings.simplefilter("ignore")  # one short chain: not converged
        sm.select_components(
            X, [1], estimator=sm.Mixture(engine="stanli"), seed=1, **TINY
        )
    assert asked == {"ks": [1], "n_obs": 4, "folds": 4}


def test_a_better_k_set_aside_as_not_converged_makes_the_choice_provisional(
    monkeypatch,
):
    """The three-cluster fit is taken as not converged (as two short chains
    often leave it: R-hat 1.01-1.03 over seeds). Among the converged K the
    rule would choose K = 2, whose elpd is clearly below K = 3's: a fit
    that short chains leave just above the bars is not wrong by that
    margin, so the rule runs over every K, chooses K = 3, and says the
    choice is provisional, in rule_ and as a warning. (These chains meet
    the R-hat bar for every K.)"""
    from stanmix import selection

    row = selection._row

    def three_not_converged(model, *args):
        out = row(model, *args)
        assert out["converged"], model.fitted_components_
        return {**out, "converged": model.fitted_components_ != 3}

    monkeypatch.setattr(selection, "_row", three_not_converged)
    data = datasets.mixture_sample(
        [0.3, 0.3, 0.4], [[-4.0, 0.0], [4.0, 0.0], [0.0, 5.0]], 1.0, 300, seed=3
    ).X
    with pytest.warns(sm.ConvergenceWarning, match="Caution: K = ") as record:
        sel = sm.select_components(
            data, range(1, 4), seed=7, chains=2, draws=300, show_progress=False
        )
    table = sel.table_
    assert table["converged"].tolist() == [True, True, False]
    assert sel.best_ == 3
    assert table.loc[3, "elpd_diff"] == 0 and table.loc[2, "elpd_diff"] < 0
    gain = table.loc[3, "elpd_loo"] - table.loc[2, "elpd_loo"]
    assert gain > 4 and gain > 2 * table.loc[2, "se_diff"] > 0
    caution = (
        "Caution: K = 3 did not converge but predicts clearly better than K = "
        "2, the choice among the K that converged; so every K was considered, "
        "and K = 3 is provisional: run longer chains (4 chains, more warmup and "
        "draws) before trusting it."
    )
    assert sel.rule_.endswith(caution)
    assert "Not considered (did not converge)" not in sel.rule_
    (warning,) = [w for w in record if "Caution" in str(w.message)]
    assert str(warning.message) == caution and warning.filename == __file__


def _sweep_table(converged, elpd_loo, estimate=None, max_rhat=None):
    """A selection table as select_components builds it before choosing, for
    K = 1, 2, 3, with pointwise elpd values whose sums are ``elpd_loo``; a K
    that did not converge has R-hat 1.03 (near the bar) unless ``max_rhat``
    says otherwise."""
    from stanmix.selection import _choose

    ks = [1, 2, 3]
    estimate = estimate or ["loo"] * 3
    if max_rhat is None:
        max_rhat = [1.005 if c else 1.03 for c in converged]
    table = pd.DataFrame(
        {
            "elpd_loo": elpd_loo,
            "se_loo": [5.0] * 3,
            "elpd_kfold": [np.nan] * 3,
            "se_kfold": [np.nan] * 3,
            "max_rhat": max_rhat,
            "converged": converged,
            "estimate": estimate,
            "error": [
                "RuntimeError: boom" if e == "failed" else np.nan for e in estimate
            ],
        },
        index=pd.Index(ks, name="K"),
    )
    rng = np.random.default_rng(0)
    pointwise = {}
    for k, total in zip(ks, elpd_loo, strict=True):
        if np.isfinite(total):
            noise = rng.normal(scale=0.1, size=100)
            pointwise[k] = total / 100 + noise - noise.mean()
        else:
            pointwise[k] = np.full(100, total)
    return table, pointwise, _choose


def test_no_converged_k_still_chooses_provisionally_and_keeps_the_table():
    table, pointwise, choose = _sweep_table(
        [False, False, False], [-500.0, -400.0, -399.0]
    )
    best, rule, caution = choose(table, pointwise, "sample")
    assert best == 2  # K = 3 is within 4 of K = 2
    assert caution == (
        "Caution: no K converged (R-hat <= 1.01, bulk ESS >= 400 and at most "
        "0.1% divergent draws), so K = 2 is provisional: run longer chains (4 "
        "chains, more warmup and draws) before trusting it."
    )
    assert rule.endswith(caution)
    assert table.loc[1, "elpd_diff"] == pytest.approx(-101.0)
    top = table["elpd"].idxmax()  # the differences are from the highest elpd
    assert table.loc[top, "elpd_diff"] == 0.0
    assert not np.signbit(table.loc[top, "elpd_diff"])  # printed 0.00, not -0.00
    table = table.assign(se=5.0, bic=np.nan, icl=np.nan)
    fig = sm.selection.ComponentSelection(table, best, rule, {}).plot()
    assert fig.axes[0].get_title() == "chosen: K = 2 (provisional)"
    plt.close(fig)


def test_a_k_below_a_clearly_worse_k_is_not_chosen_for_its_noise():
    """K = 1 is clearly below the best (K = 3); K = 2 lies lower still, but
    one wild row makes its difference so noisy that it is within two
    standard errors of the best. It is passed over for its noise, and the
    rule says so; K = 3 is chosen."""
    table, pointwise, choose = _sweep_table(
        [True, True, True], [-175.3, -189.2, -139.5]
    )
    noise = np.random.default_rng(1).normal(scale=4.0, size=100)
    pointwise[2] = -189.2 / 100 + noise - noise.mean()
    d = pointwise[3] - pointwise[2]
    se_2 = float(np.sqrt(d.size * d.var()))
    assert 49.7 < 2 * se_2  # within two standard errors of the best
    best, rule, caution = choose(table, pointwise, "sample")
    assert best == 3 and caution == ""
    assert rule.endswith(
        "every smaller K is clearly below it, or below one that is, so K = 3. "
        "K = 2 is not clearly "
        f"below the best by its own standard error ({se_2:.1f}), but below K = 1, "
        "which is: a noisier difference is no better than a clear one, so it is "
        "passed over."
    )
    # Above the clearly worse K, the same noise leaves K = 2 the choice.
    pointwise[2] = -160.0 / 100 + noise - noise.mean()
    table.loc[2, "elpd_loo"] = -160.0
    best, rule, _ = choose(table, pointwise, "sample")
    assert best == 2 and "passed over" not in rule


def test_a_k_whose_elpd_is_not_finite_is_set_aside_and_named():
    table, pointwise, choose = _sweep_table(
        [True, True, True], [-500.0, np.nan, -420.0]
    )
    best, rule, caution = choose(table, pointwise, "sample")
    assert best == 3 and caution == ""
    assert "Not considered (elpd not finite): K = 2." in rule
    assert np.isnan(table.loc[2, "elpd_diff"])
    table, pointwise, choose = _sweep_table([True, True, True], [np.nan] * 3)
    with pytest.raises(RuntimeError, match="no K has a finite elpd"):
        choose(table, pointwise, "sample")
    table["bic"] = [np.nan, 800.0, np.nan]
    assert choose(table, pointwise, "optimize")[0] == 2
    table["bic"] = np.nan
    with pytest.raises(RuntimeError, match="no K has a finite bic"):
        choose(table, pointwise, "optimize")


def test_an_optimize_sweep_takes_kfold_none_as_what_it_does():
    X = _clusters(2, n=120)
    a = sm.select_components(X, [1, 2], method="optimize", seed=1, kfold=None)
    b = sm.select_components(X, [1, 2], method="optimize", seed=1)
    assert a.best_ == b.best_ == 2
    pd.testing.assert_frame_equal(
        a.table_.drop(columns="fit_seconds"), b.table_.drop(columns="fit_seconds")
    )
    # Results holding tables compare by identity (the generated __eq__
    # compared DataFrames and raised), as do the data sets.
    assert a == a and a != b and not (a == b)
    assert {a, b} == {b, a}
    data = sm.datasets.blobs(20, seed=1)
    assert data == data and data != sm.datasets.blobs(20, seed=1)


def test_optimize_sweep_uses_bic():
    X = _clusters(3, n=300)
    sel = sm.select_components(X, range(1, 5), method="optimize", seed=1)
    assert sel.best_ == 3
    assert sel.table_["bic"].idxmin() == 3
    assert (sel.table_["icl"] >= sel.table_["bic"]).all()
    # Modes have no predictive density: the table holds no empty elpd columns.
    assert list(sel.table_.columns) == [
        "n_parameters",
        "collapsed",
        "fit_seconds",
        "bic",
        "icl",
        "estimate",
        "converged",
    ]
    fig = sel.plot()
    (ax,) = fig.axes  # no predictive density: BIC and ICL alone
    assert ax.get_title() == "chosen: K = 3, by BIC"
    assert [line.get_label() for line in ax.get_lines()[:2]] == ["BIC", "ICL"]
    assert ax.get_lines()[2].get_xdata()[0] == 3  # the chosen K, dashed
    # Printed: the criteria the modes have, then the rule.
    lines = str(sel).splitlines()
    assert lines[0].split() == ["n_parameters", "bic", "icl", "collapsed"]
    assert [line.split()[0] for line in lines[2:6]] == ["1", "2", "3", "4"]
    assert lines[-1].startswith("Chose K = 3: the smallest BIC")


@pytest.fixture
def failing_k(monkeypatch):
    """Make the fit of the K in ``failing_k.ks`` raise ``failing_k.error``."""
    from stanmix import selection

    fit_k = selection._fit_k

    class Failing:
        ks: tuple = ()
        error: BaseException = RuntimeError("every optimizer start failed")

    def fit(cls, params, k, *args):
        if k in Failing.ks:
            raise Failing.error
        return fit_k(cls, params, k, *args)

    monkeypatch.setattr(selection, "_fit_k", fit)
    return Failing


@pytest.mark.parametrize("method", ["optimize", "sample"])
def test_a_k_whose_fit_fails_is_reported_and_the_rest_still_choose(failing_k, method):
    failing_k.ks = (3,)
    X = _clusters(2, n=120)
    options = SHORT if method == "sample" else {}
    sel = sm.select_components(X, [1, 2, 3], method=method, seed=1, **options)
    table = sel.table_
    assert sel.best_ == 2
    assert sorted(sel.models_) == [1, 2]
    assert table.loc[3, "estimate"] == "failed"
    assert not table.loc[3, "converged"]
    assert table.loc[3, "error"] == "RuntimeError: every optimizer start failed"
    assert table[["bic", "icl"]].loc[3].isna().all()
    assert table.loc[[1, 2], "bic"].notna().all()
    if method == "sample":
        assert np.isnan(table.loc[3, "elpd"]) and np.isnan(table.loc[3, "elpd_diff"])
        assert table.loc[[1, 2], "elpd"].notna().all()
    assert sel.rule_.endswith(
        "Not considered (the fit failed, see the error column): K = 3."
    )
    assert "\nK = 3 failed: RuntimeError: every optimizer start failed\n" in str(sel)
    fig = sel.plot()
    assert len(fig.axes) == (2 if method == "sample" else 1)
    for ax in fig.axes:  # the failed K is marked on each panel, and named
        (crosses,) = [c for c in ax.collections if c.get_label() == "fit failed"]
        assert crosses.get_offsets()[:, 0].tolist() == [3]
        assert "fit failed" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close(fig)


def test_a_failure_that_is_not_the_engines_or_of_every_k_is_raised(failing_k):
    X = _clusters(2, n=120)
    failing_k.ks, failing_k.error = (2,), TypeError("a bug")
    with pytest.raises(sm.parallel.FitFailedError, match="K=2: TypeError: a bug"):
        sm.select_components(X, [1, 2], method="optimize", seed=1)
    failing_k.ks, failing_k.error = (1, 2), RuntimeError("no mode")
    with pytest.raises(sm.parallel.FitFailedError, match="2 of 2 Ks failed") as info:
        sm.select_components(X, [1, 2], method="optimize", seed=1)
    assert list(info.value.failures) == ["K=1", "K=2"]


def test_the_same_seed_gives_the_same_table_serially_and_in_processes():
    X = _clusters(2, n=120)
    run = dict(method="optimize", seed=7)
    serial = sm.select_components(X, [1, 2, 3], **run)
    processes = sm.select_components(X, [1, 2, 3], n_jobs=2, **run)
    columns = ["bic", "icl", "n_parameters"]
    pd.testing.assert_frame_equal(serial.table_[columns], processes.table_[columns])
    for k in (1, 2, 3):  # the same seeds; sums may differ in the last bit
        np.testing.assert_allclose(
            serial.models_[k].idata_.posterior["mu"].to_numpy(),
            processes.models_[k].idata_.posterior["mu"].to_numpy(),
            rtol=1e-12,
        )


def test_a_ks_row_does_not_depend_on_the_other_ks_swept():
    """Seeds are derived from what they are for (K, and K's folds), not from
    the position of K in the sweep: K = 2's draws and K-fold estimate are
    the same in a sweep of [1, 2] and of [2]."""
    X = _clusters(2, n=60, seed=5)
    X.loc[len(X)] = [30.0, 30.0]  # LOO unreliable: K-fold
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one short chain: not converged
        wide = sm.select_components(X, [1, 2], seed=1, kfold=2, **TINY)
        alone = sm.select_components(X, [2], seed=1, kfold=2, **TINY)
    assert wide.table_.loc[2, "estimate"] == alone.table_.loc[2, "estimate"] == "kfold"
    np.testing.assert_array_equal(
        wide.models_[2].idata_.posterior["mu"].to_numpy(),
        alone.models_[2].idata_.posterior["mu"].to_numpy(),
    )
    assert wide.table_.loc[2, "elpd_kfold"] == alone.table_.loc[2, "elpd_kfold"]


FORBIDDEN = RecordingEngine(stop=("optimize", "variational", "sample"))


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"n_components": []}, "n_components is empty"),
        ({"n_components": [1, 2.5]}, "each n_components must be an integer"),
        ({"n_components": 3}, "must be an iterable of integers"),
        ({"n_components": [0, 1]}, "each n_components must be at least 1"),
        ({"n_components": [1, 1]}, "repeats a value"),
        ({"n_components": range(1, 40)}, "the data has 30 rows"),
        ({"method": "variational"}, "unknown method 'variational'"),
        ({"kfold": 1}, "kfold must be at least 2"),
        ({"seed": -3}, "seed must be at least 0"),
        ({"estimator": "normal"}, "estimator must be a stanmix Mixture"),
        ({"chians": 2}, "unknown option(s)"),
        (
            {"n_job": 2},
            "select_components got 'n_job', not an option of fit: did you mean "
            "'n_jobs', an argument of select_components itself?",
        ),
        ({"chains": 0}, "chains must be at least 1"),
        (
            {"method": "optimize", "draws": 50},
            "draws=50 does not apply to method='optimize'",
        ),
        (
            {"method": "optimize", "kfold": 10},
            "kfold=10 does not apply to method='optimize'",
        ),
        (  # the NUTS default, given explicitly, is not ignored either
            {"method": "optimize", "kfold": 5},
            "kfold=5 does not apply to method='optimize'",
        ),
        ({"kfold": "five"}, "kfold"),
        (
            {"kfold": 31},
            "kfold must be at most the number of rows (30), got kfold=31: each "
            "fold holds out at least one row; use kfold=30 or fewer",
        ),
        (
            {"log_likelihood": False},
            "log_likelihood is set by the sweep itself (stored for NUTS, where "
            "LOO needs it) and cannot be given; leave it out",
        ),
        (
            {"show_progress": "yes"},
            "show_progress must be True, False or None (a bar on a terminal), "
            "got 'yes'",
        ),
        ({"backend": "dask", "client": None}, "dask"),
        (
            {"n_components": "1-3"},
            "n_components must be integers such as range(1, 9) or [2, 3, 5], got "
            "the string '1-3'",
        ),
        (
            {"estimator": sm.Mixture},
            "estimator is the class Mixture; give an instance with its settings",
        ),
    ],
)
def test_bad_input_is_refused_before_any_fit(kwargs, fragment):
    _refused_before_any_fit(_clusters(2, n=30), kwargs, fragment)


def test_a_misspelt_option_is_no_matter_of_k():
    with pytest.raises(sm.StanmixInputError) as info:
        sm.select_components(
            _clusters(2, n=30),
            [1, 2],
            estimator=sm.Mixture(engine=FORBIDDEN),
            chians=2,
        )
    assert "chians" in str(info.value) and "chains" in str(info.value)
    assert "of the sweep" not in str(info.value)


def _refused_before_any_fit(X, kwargs: dict, fragment: str) -> None:
    args = {"n_components": range(1, 3), "estimator": sm.Mixture(engine=FORBIDDEN)}
    args.update(kwargs)
    ks = args.pop("n_components")
    with pytest.raises(sm.StanmixInputError) as info:
        sm.select_components(X, ks, **args)
    assert fragment in str(info.value)
    assert not FORBIDDEN.calls


def test_one_chain_fits_are_not_counted_as_converged():
    """R-hat compares chains: a sweep of one-chain fits has no K whose
    convergence was checked, and its choice is provisional, saying why."""
    X = _clusters(2, n=60, seed=3)
    with pytest.warns(sm.ConvergenceWarning, match="each fit ran one") as seen:
        sel = sm.select_components(
            X,
            [1, 2],
            seed=1,
            chains=1,
            warmup=100,
            draws=100,
            kfold=None,
            show_progress=False,
        )
    assert not sel.table_["converged"].any()
    assert sel.table_["max_rhat"].isna().all()
    caution = str(seen[-1].message)
    assert caution == (
        "Caution: no K could be checked for convergence (R-hat compares chains, "
        f"and each fit ran one), so K = {sel.best_} is provisional: run 4 chains "
        "before trusting it."
    )
    assert sel.rule_.endswith(caution)


def test_settings_that_suit_one_k_are_refused_before_any_fit():
    engine = RecordingEngine(stop=("optimize", "variational", "sample"))
    X = _clusters(2, n=30)
    with pytest.raises(sm.StanmixInputError) as info:
        sm.select_components(
            X[["x"]],
            [1, 2, 3],
            estimator=sm.NormalMixture(2, sigma=[1.0, 1.0], engine=engine),
            method="optimize",
        )
    assert str(info.value) == (
        "for K = 1 of the sweep: sigma must be a positive number or 1 of them "
        "(one per component), got [1.0, 1.0]"
    )
    init = {"w": [0.5, 0.5], "mu": [[0.0, 0.0], [4.0, 0.0]], "sigma": 1.0}
    with pytest.raises(sm.StanmixInputError) as info:
        sm.select_components(X, [2, 3], estimator=sm.Mixture(engine=engine), init=init)
    assert str(info.value).startswith(
        "init gives starting values for one number of components, and the sweep "
        "fits K = 2, 3"
    )
    with pytest.raises(sm.StanmixInputError) as info:
        sm.select_components(
            X, [1, 2], estimator=sm.Mixture(engine=engine), inv_metric=np.ones(4)
        )
    assert str(info.value).startswith(
        "inv_metric gives a mass matrix for one number of components (one entry "
        "per unconstrained parameter), and the sweep fits K = 1, 2"
    )
    with pytest.raises(sm.StanmixInputError, match="progress must be True or False"):
        sm.select_components(X, [1, 2], estimator=sm.Mixture(engine=engine), progress=0)
    assert not engine.calls


def test_kfold_must_leave_each_fold_enough_rows_for_the_largest_k():
    """Each fold's fit has the rows less the largest fold: with 4 rows and
    2 folds, 2 rows for K = 3. Refused before any fit, naming the folds
    that do fit; "auto" takes them itself."""
    from stanmix.selection import _folds_for

    engine = RecordingEngine(stop=("optimize", "variational", "sample"))
    X = _clusters(2, n=4, seed=2)
    with pytest.raises(sm.StanmixInputError) as info:
        sm.select_components(X, [1, 2, 3], estimator=sm.Mixture(engine=engine), kfold=2)
    assert str(info.value) == (
        "kfold=2 fits K = 3 to 2 rows in some folds (the 4 rows less the "
        "largest fold): fewer rows than components; use kfold=4 or more, or "
        "kfold=None to keep the LOO estimate"
    )
    assert not engine.calls
    assert _folds_for(5, 3, 4, auto=True) == 5  # 4 - ceil(4 / 5) = 3 rows
    assert _folds_for(2, 3, 4, auto=True) == 4
    assert _folds_for(3, 3, 3, auto=True) is None  # two rows at most
    with pytest.raises(sm.StanmixInputError, match="no number of folds"):
        _folds_for(3, 3, 3, auto=False)


def test_filled_components_and_the_checks_refuse_what_they_cannot_count():
    X = _clusters(2, n=60)
    with pytest.raises(TypeError, match="filled_components expects a fitted"):
        sm.filled_components(X)
    for check in (
        checks.ppc_pvalues,
        checks.separation,
        checks.co_clustering,
        checks.posterior_predictive,
    ):
        with pytest.raises(TypeError, match=f"{check.__name__} expects a fitted"):
            check(X)
    mode = sm.Mixture(2, engine="stanli").fit(X, method="optimize", seed=1)
    with pytest.raises(sm.StanmixInputError, match="a point estimate"):
        sm.filled_components(mode)
    sel = sm.select_components(X, [1, 2], method="optimize", seed=1)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    assert sel.plot(ax=ax) is fig  # one Axes: a sweep of modes has no elpd
    with pytest.raises(sm.StanmixInputError, match="figsize sizes the figure"):
        sel.plot(ax=ax, figsize=(4, 3))
    plt.close(fig)
    assert sel.plot(figsize=(4, 3)).get_size_inches().tolist() == [4.0, 3.0]
    plt.close("all")
    fig, axes = plt.subplots(1, 2)
    assert sel.plot(ax=axes) is fig
    assert not axes[0].axison
    plt.close(fig)
    fig, axes = plt.subplots(1, 3)
    with pytest.raises(sm.StanmixInputError, match="ax must be two matplotlib Axes"):
        sel.plot(ax=axes)
    plt.close(fig)


# -- mixtures of regressions --------------------------------------------------


def _lines(n: int = 160, seed: int = 3) -> pd.DataFrame:
    """Two lines, y = 1 + 2x and y = 15 - x (sd 1), the first six responses
    missing and those below 2 recorded at that detection limit."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, n)
    y = np.where(rng.random(n) < 0.5, 1 + 2 * x, 15 - x) + rng.normal(0, 1, n)
    y = np.maximum(y, 2.0)
    y[:6] = np.nan
    return pd.DataFrame({"dose": x, "resp": y})


def test_filled_components_allocate_only_rows_with_a_response():
    """A regression's rows without a response are no observations: their
    memberships are the weights alone, and they fill no component."""
    df = _lines(n=60)
    model = sm.RegressionMixture(3, engine="stanli").fit(
        df, response="resp", method="variational", seed=1, draws=100
    )
    filled = sm.filled_components(model, seed=1)
    answered = int(df["resp"].notna().sum())
    assert filled.occupancy["mean size"].sum() == pytest.approx(answered)


def test_a_regression_sweep_chooses_the_number_of_lines():
    """BIC at each K's mode finds the two lines, with the response's
    censoring and missing values read as the fit reads them."""
    df = _lines()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NaN responses beside a limit; modes
        sel = sm.select_components(
            df,
            [1, 2, 3],
            response="resp",
            estimator=sm.RegressionMixture(engine="stanli"),
            method="optimize",
            lower_limit=2.0,
            seed=1,
        )
    assert sel.best_ == 2, str(sel)
    t = sel.table_
    assert t["n_parameters"].tolist() == [3, 7, 11]  # (a, b, sigma) per line, + w
    two = sel.models_[2]
    assert isinstance(two, sm.RegressionMixture)
    np.testing.assert_allclose(np.sort(two.coef_[:, 0]), [-1.0, 2.0], atol=0.15)
    # the censored responses are censored in the fits (a row per response)
    assert int((two.cells_.kind[:, 0] == 1).sum()) == int((df["resp"] == 2.0).sum())
    assert t.loc[2, "bic"] == pytest.approx(two.bic())


def test_a_regressions_kfold_holds_out_responses_and_matches_a_refit(
    monkeypatch, unreliable_loo
):
    """The folds partition the rows that have a response; rows without one
    train every fold (they add nothing to the likelihood), and each held-out
    row's elpd is its log predictive density under a fit of the same seed
    to the same training rows given as a DataFrame, censoring included."""
    import stanmix.selection as selection

    folds = []
    real_heldout = selection._heldout

    def heldout(cls, params, k, cells, train, test, seed, fit):
        out = real_heldout(cls, params, k, cells, train, test, seed, fit)
        folds.append((train, test, seed, out))
        return out

    monkeypatch.setattr(selection, "_heldout", heldout)
    df = _lines(n=60)
    estimator = sm.RegressionMixture(engine="stanli")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")  # short chains; NaN beside a limit
        sel = sm.select_components(
            df,
            [2],
            response="resp",
            estimator=estimator,
            lower_limit=2.0,
            kfold=3,
            seed=4,
            **TINY,
        )
    # one chain of 20 draws: every fold fit warns, and the sweep says so once
    said = [str(w.message) for w in seen if w.category is sm.ConvergenceWarning]
    assert not any(text.startswith("fold ") for text in said), said
    assert [t for t in said if "K-fold" in t] == [
        next(t for t in said if t.startswith("K = 2: 3 of 3 K-fold fits warned"))
    ]
    answered = np.flatnonzero(df["resp"].notna())
    tests = [test for _, test, _, _ in folds]
    assert len(folds) == 3
    assert np.array_equal(np.sort(np.concatenate(tests)), answered)
    for train, test, _, _ in folds:
        assert np.array_equal(np.sort(np.r_[train, test]), np.arange(len(df)))
    t = sel.table_
    assert t.loc[2, "estimate"] == "kfold"
    assert t.loc[2, "note"] == (
        "3 of 3 K-fold fits did not converge (see the warnings): the K-fold "
        "elpd is less certain than its se says"
    )
    elpd = np.concatenate([out for *_, (out, _) in folds])
    assert t.loc[2, "elpd_kfold"] == pytest.approx(elpd.sum(), rel=1e-12)
    assert t.loc[2, "se_kfold"] == pytest.approx(
        np.sqrt(answered.size * elpd.var()), rel=1e-12
    )
    assert sel.models_[2].idata_.log_likelihood.sizes["obs"] == answered.size

    train, test, seed, (out, _) = folds[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refit = sm.RegressionMixture(2, engine="stanli").fit(
            df.iloc[train],
            response="resp",
            lower_limit=2.0,
            seed=seed,
            log_likelihood=False,
            **TINY,
        )
    direct = refit.score_samples(df.iloc[test], response="resp", lower_limit=2.0)
    np.testing.assert_allclose(out, direct, rtol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        (
            {"y": np.zeros(30)},
            "y gives a mixture of regressions' response; a Mixture clusters the "
            "columns of X: leave y out, or pass estimator=sm.RegressionMixture(...)",
        ),
        (
            {"estimator": sm.RegressionMixture(engine=FORBIDDEN)},
            "give the response either as y (an array or Series) or as response=",
        ),
        (
            {
                "estimator": sm.RegressionMixture(engine=FORBIDDEN),
                "response": "x",
                "n_components": [1, 2, 3, 4],
            },
            "n_components goes up to 4 but the data has 3 rows with a response",
        ),
        (
            {
                "estimator": sm.RegressionMixture(engine=FORBIDDEN),
                "response": "x",
                "kfold": 4,
            },
            "kfold must be at most the number of rows with a response (3)",
        ),
        (
            {
                "estimator": sm.RegressionMixture(engine=FORBIDDEN, errors="t"),
                "response": "x",
            },
            "errors",
        ),
    ],
)
def test_a_regression_sweeps_bad_input_is_refused_before_any_fit(kwargs, fragment):
    X = _clusters(2, n=30)
    X.loc[3:, "x"] = np.nan  # three rows with a response
    _refused_before_any_fit(X, kwargs, fragment)


def test_a_warning_about_the_data_is_given_once_not_by_every_k():
    """The data are read once before the fits: what that reading says (NaN
    cells beside a limit) is said once, at the caller's line, and not again
    by each K's fit."""
    X = _clusters(2, n=60, seed=2)
    X.loc[:2, "x"] = np.nan
    X["x"] = X["x"].clip(lower=-4.0)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        sm.select_components(
            X,
            [1, 2, 3],
            estimator=sm.Mixture(engine="stanli"),
            method="optimize",
            lower_limit={"x": -4.0},
            seed=1,
        )
    about_nan = [w for w in seen if "NaN cell(s) where a limit" in str(w.message)]
    assert len(about_nan) == 1, [str(w.message) for w in about_nan]
    assert about_nan[0].filename == __file__


def test_converged_is_the_fits_own_verdict_bulk_ess_included():
    """A K counts as converged exactly when its fit says so
    (``convergence_``): here R-hat is fine but 2 x 150 draws leave the bulk
    ESS below 400, so the table says not converged, as the fit's warning
    does, and the rule names the best among the converged K."""
    X = _clusters(1, n=80, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = sm.select_components(
            X, [1], seed=2, chains=2, warmup=200, draws=150, show_progress=False
        )
    row = sel.table_.loc[1]
    check = sel.models_[1].convergence_
    assert row["max_rhat"] <= 1.01 and row["min_ess_bulk"] < 400, row
    assert row["min_ess_bulk"] == check.min_ess_bulk
    assert not row["converged"] and not check.converged

    # K = 2 did not converge and is not clearly better than K = 3: set aside.
    table, pointwise, choose = _sweep_table(
        [True, False, True], [-500.0, -398.0, -400.0]
    )
    best, rule, caution = choose(table, pointwise, "sample")
    assert "The best elpd among the converged K is at K = 3 (-400.0" in rule
    assert (best, caution) == (3, "")
    assert "Not considered (did not converge): K = 2." in rule
    # Clearly better (by 300): the rule runs over every K, provisionally.
    table, pointwise, choose = _sweep_table(
        [True, False, True], [-500.0, -100.0, -400.0]
    )
    best, rule, caution = choose(table, pointwise, "sample")
    assert best == 2 and "The best elpd is at K = 2 (-100.0" in rule
    assert caution.startswith("Caution: K = 2 did not converge but predicts")
    table, pointwise, choose = _sweep_table([True] * 3, [-500.0, -100.0, -400.0])
    _, rule, _ = choose(table, pointwise, "sample")
    assert "The best elpd is at K = 2 (-100.0" in rule
    # Clearly better, but its chains disagree (R-hat 2.9, different modes):
    # no evidence; the converged choice stands, and a caution names it.
    table, pointwise, choose = _sweep_table(
        [True, False, True], [-500.0, -100.0, -400.0], max_rhat=[1.0, 2.9, 1.0]
    )
    best, rule, caution = choose(table, pointwise, "sample")
    assert best == 3
    assert "The best elpd among the converged K is at K = 3 (-400.0" in rule
    assert "Not considered (did not converge): K = 2." in rule
    assert caution == (
        "Caution: K = 2 did not converge (R-hat 2.90: its chains disagree, most "
        "likely in different modes) and its elpd is above K = 3's; such an elpd "
        "is no evidence, and K = 3 stands, but run longer chains (4 chains, more "
        "warmup and draws) to see whether K = 2 predicts better."
    )
    assert rule.endswith(caution)
    # One K near the bar lets the rule run over the K not converged, but
    # not over one whose chains disagree, though its elpd is the best.
    table, pointwise, choose = _sweep_table(
        [True, False, False], [-500.0, -100.0, -103.0], max_rhat=[1.0, 1.3, 1.02]
    )
    best, rule, caution = choose(table, pointwise, "sample")
    assert best == 3 and "The best elpd is at K = 3 (-103.0" in rule
    assert (
        "Not considered (did not converge, R-hat 1.30: chains most likely in "
        "different modes): K = 2." in rule
    )
    assert "so every K but K = 2 was considered, and K = 3 is provisional" in caution
    # At the edge of near (1.05) it is let back in; just above, it is not.
    for rhat, chosen in ((1.05, 2), (1.051, 3)):
        table, pointwise, choose = _sweep_table(
            [True, False, True], [-500.0, -100.0, -400.0], max_rhat=[1.0, rhat, 1.0]
        )
        assert choose(table, pointwise, "sample")[0] == chosen, rhat


def test_automatic_folds_are_each_ks_own(monkeypatch, unreliable_loo):
    """Under kfold="auto" the folds of a K do not depend on the other K
    swept: with 12 rows K = 1 takes 5 folds whether or not K = 10 (which
    needs 6) is in the sweep, and a K that no split can fit keeps its LOO
    with a note saying why."""
    import stanmix.selection as selection

    asked = []

    def kfold(cls, params, ks, cells, check_data, folds, base, fit, **run):
        asked.append((list(ks), folds))
        return {}, {}, [], {}

    monkeypatch.setattr(selection, "_kfold", kfold)
    X = _clusters(2, n=12, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short chains
        sm.select_components(X, [1, 2], seed=1, **TINY)
        assert asked == [([1, 2], 5)]
        asked.clear()
        sm.select_components(X, [1, 2, 10], seed=1, **TINY)
        assert asked == [([1, 2], 5), ([10], 6)]
        asked.clear()
        sel = sm.select_components(X, [1, 12], seed=1, **TINY)
    assert asked == [([1], 5)]
    assert sel.table_.loc[12, "note"] == (
        "K-fold cross-validation was not run: no number of folds leaves each "
        "fold's fit K rows (of 12); the estimate stays PSIS-LOO, unreliable"
    )


def test_fold_fits_warnings_are_summed_up_per_k():
    """Each fold fit of short chains warns; the sweep says so once per K
    and kind of warning, with how many folds warned."""
    from stanmix.selection import _fold_warnings

    caught = [
        warnings.WarningMessage(text, category, "f.py", 1)
        for text, category in [
            ("fold 0 of K=2: not converged (R-hat 1.2)", sm.ConvergenceWarning),
            ("fold 2 of K=2: not converged (R-hat 1.3)", sm.ConvergenceWarning),
            (
                "fold 1 of K=1: not converged (R-hat 1.1). The figures of every "
                "parameter are in convergence_.table.",
                sm.ConvergenceWarning,
            ),
            ("fold 2 of K=2: 1 of 4 optimizer starts", RuntimeWarning),
            ("something else", UserWarning),
        ]
    ]
    # a fold fit is not kept: its warning does not point at its attributes
    assert _fold_warnings(caught, 3) == [
        (
            "K = 1: 1 of 3 K-fold fits warned; fold 1: not converged (R-hat 1.1).",
            sm.ConvergenceWarning,
        ),
        (
            "K = 2: 2 of 3 K-fold fits warned; fold 0: not converged (R-hat 1.2)",
            sm.ConvergenceWarning,
        ),
        (
            "K = 2: 1 of 3 K-fold fits warned; fold 2: 1 of 4 optimizer starts",
            RuntimeWarning,
        ),
        ("something else", UserWarning),
    ]
    # The caller's filters apply to each fit's warning as it raised it.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="not converged")
        summary = _fold_warnings(caught, 3)
    assert [text[:8] for text, _ in summary] == ["K = 2: 1", "somethin"]


def test_the_note_counts_fold_fits_that_did_not_converge_not_those_that_warned():
    """Trees cut at depth 3: each of K = 1's three fold fits warns (tree
    depth hits), but by their own verdicts only fold 1 did not converge
    (refitted one by one, as the folds are drawn), and the note says 1 of
    3, not 3 of 3."""
    from stanmix.parallel import keyed_seed

    data = sm.datasets.mixture_sample([1.0], [[0.0, 0.0]], 1.0, 80, seed=1)
    X = data.X.copy()
    X.iloc[0, :] = [9.0, 9.0]  # an outlier: Pareto k above the limit at K = 1
    settings = dict(chains=2, draws=300, show_progress=False, max_treedepth=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = sm.select_components(X, [1], seed=1, kfold=3, **settings)
        fold_of = np.random.default_rng(keyed_seed(1, 0)).permutation(np.arange(80) % 3)
        verdicts = []
        for f in range(3):
            fold = sm.Mixture(1).fit(
                X.iloc[np.flatnonzero(fold_of != f)],
                seed=keyed_seed(1, 1, f + 1),
                log_likelihood=False,
                **settings,
            )
            verdicts.append(fold.convergence_.converged)
            assert not fold.convergence_.sampler_ok  # each one warned
    assert sel.table_.loc[1, "estimate"] == "kfold"
    assert verdicts.count(False) == 1
    assert sel.table_.loc[1, "note"].startswith("1 of 3 K-fold fits did not converge")


def test_a_k_with_a_collapsed_component_is_not_chosen():
    """Scores from 1 to 7 (two groups): with three or more components one
    sits on a repeated value with a scale near zero, where the density
    grows without bound, and BIC, which prefers K = 6 there by 560, does not
    measure fit. Those K are flagged and set aside; K = 2 is chosen. (Other
    starts can fail outright there, as seed 3's do for K = 3 and 4.)"""
    rng = np.random.default_rng(5)
    centre = np.where(rng.integers(0, 2, 200) == 0, 2.5, 5.5)[:, None]
    X = pd.DataFrame(
        np.clip(np.round(centre + rng.normal(0, 1, (200, 2))), 1, 7),
        columns=["q1", "q2"],
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sel = sm.select_components(X, range(1, 7), method="optimize", seed=1)
    table = sel.table_
    collapsed = [int(k) for k in table.index[table["collapsed"]]]
    assert collapsed == [3, 4, 5, 6]
    assert table.loc[6, "bic"] < table.loc[2, "bic"] - 500  # BIC would take 6
    assert sel.best_ == 2
    assert "Not considered (a component collapsed onto one value" in sel.rule_
    assert "K = 3, 4, 5, 6" in sel.rule_
    # each collapsed fit also warned, naming its column
    said = [str(w.message) for w in caught]
    assert sum("components collapsed to a scale near zero" in m for m in said) == 4
    # From seed 3's starts K = 3 and 4 fail: a failed K's error is one line,
    # its engine's repeated lines said once.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = sm.select_components(X, range(1, 7), method="optimize", seed=3)
    table = sel.table_
    error = table.loc[4, "error"]
    assert "\n" not in error and error.count("Non-finite gradient") == 1
    assert table["n_parameters"].dtype == "Int64"
    assert "<NA>" in str(sel) and "4.0" not in str(sel).split("\n")[2]


def test_a_component_on_a_pile_of_one_value_in_a_continuous_column_collapses():
    """100 normal values and 15 copies of 3.0 (say, a limit written as a
    value): K = 2 puts a component on the copies with a scale near zero,
    whose unbounded density gives it the better BIC by 300. The column is
    not one of few values, and the component holds 15 rows, yet it has
    collapsed: flagged, said, and K = 1 chosen."""
    rng = np.random.default_rng(1)
    X = np.r_[rng.normal(0, 1, 100), np.full(15, 3.0)][:, None]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sel = sm.select_components(X, [1, 2], method="optimize", seed=1)
    table = sel.table_
    assert table["collapsed"].tolist() == [False, True]
    assert table.loc[2, "bic"] < table.loc[1, "bic"] - 300
    assert sel.best_ == 1
    said = [str(w.message) for w in caught if "collapsed to a scale" in str(w.message)]
    assert len(said) == 1 and "on a value 15 rows repeat" in said[0]


def test_the_pareto_k_limit_falls_with_fewer_draws():
    """With 2 x 200 draws a Pareto k of 0.67 is already unreliable (ArviZ's
    good_k, min(1 - 1/log10 400, 0.7) = 0.616): the row says so, and counts
    the rows ArviZ counts, rather than the 0 that the fixed 0.7 gave."""
    import arviz as az

    from stanmix.selection import pareto_k_limit

    data = sm.datasets.mixture_sample(
        [0.5, 0.5], [[-3.0, 0.0], [3.0, 0.0]], 1.0, 60, seed=1
    )
    settings = dict(chains=2, draws=200, warmup=150, show_progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = sm.select_components(data.X, [2], seed=1, kfold=None, **settings)
        loo = az.loo(sel.models_[2].idata_, pointwise=True)
    k_hat = np.asarray(loo.pareto_k)
    assert (
        pareto_k_limit(400)
        == pytest.approx(loo.good_k)
        == pytest.approx(0.6157, abs=1e-4)
    )
    assert 0.616 < k_hat.max() < 0.7
    row = sel.table_.loc[2]
    assert row["n_high_pareto_k"] == (k_hat > loo.good_k).sum() > 0
    assert row["estimate"] == "loo (unreliable)"


def test_collapsed_ks_are_set_aside_unless_every_k_collapsed():
    table, pointwise, choose = _sweep_table([True] * 3, [-500.0, -300.0, -100.0])
    table["collapsed"] = [False, False, True]
    best, rule, caution = choose(table, pointwise, "sample")
    assert (best, caution) == (2, "")
    assert "Not considered (a component collapsed" in rule and "K = 3" in rule
    table["collapsed"] = True
    best, rule, caution = choose(table, pointwise, "sample")
    assert best == 3 and caution.startswith("Caution: every K has a collapsed")
    assert "Not considered (a component collapsed" not in rule
    table["bic"] = [500.0, 300.0, 100.0]
    table["collapsed"] = [False, True, True]
    best, rule, caution = choose(table, pointwise, "optimize")
    assert (best, caution) == (1, "") and "K = 2, 3" in rule


def test_printed_table_shows_rhat_to_four_decimals():
    """1.0101 is above the bar of 1.01; three decimals would print 1.010."""
    table, pointwise, choose = _sweep_table(
        [True, False, True], [-500.0, -398.0, -400.0]
    )
    for column, values in {
        "se": [5.0] * 3,
        "n_high_pareto_k": [0] * 3,
        "bic": [1.0] * 3,
        "max_rhat": [1.004, 1.0101, 1.009],
        "min_ess_bulk": [900.0, 300.0, 800.0],
        "collapsed": [False] * 3,
    }.items():
        table[column] = values
    best, rule, _ = choose(table, pointwise, "sample")
    from stanmix.selection import ComponentSelection

    printed = str(ComponentSelection(table, best, rule, {}))
    assert "1.0101" in printed and "1.0040" in printed
