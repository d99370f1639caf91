"""The estimator's fitted state: whole after every fit, refit or failure."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from conftest import RecordingEngine

import stanmix as sm
from stanmix import checks

pytest.importorskip("stanli")

X = sm.datasets.correlated(90, seed=2).X


def fitted_attributes(model) -> set[str]:
    return {a for a in vars(model) if a.endswith("_") and not a.startswith("_")}


def test_a_refit_with_another_family_drops_the_old_familys_attributes():
    model = sm.Mixture(3, family="student_t", covariance="full", engine="stanli")
    model.fit(X, method="optimize", seed=1)
    assert model.nu_.shape == (3,)
    assert model.correlations_.shape == (3, 2, 2)
    model.set_params(family="normal", covariance="diag")
    model.fit(X, method="optimize", seed=1)
    assert not hasattr(model, "nu_")
    assert not hasattr(model, "correlations_")
    fresh = sm.Mixture(3, engine="stanli").fit(X, method="optimize", seed=1)
    assert fitted_attributes(model) == fitted_attributes(fresh)
    np.testing.assert_array_equal(model.means_, fresh.means_)


def test_new_settings_change_nothing_until_the_next_fit(tmp_path):
    """set_params between fits (as scikit-learn's search does) leaves every
    result of the fit as it was, plots and report included."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stanmix.plots import plot_clusters, plot_membership
    from stanmix.report import write_report

    model = sm.Mixture(3, engine="stanli").fit(X, method="optimize", seed=1)

    def results():
        return (
            model.n_parameters_,
            model.bic(),
            model.membership(),
            model.predict_proba(X),
            model.fitted_components_,
        )

    before = results()
    model.set_params(n_components=2, family="student_t", covariance="full")
    after = results()
    assert after[0] == before[0] == 3 * 2 + 3 * 2 + 2
    assert after[1] == before[1] and after[4] == before[4] == 3
    assert after[2].equals(before[2])
    np.testing.assert_array_equal(after[3], before[3])
    assert len(plot_clusters(model).patches) == 3 * 2
    assert plot_membership(model) is not None
    report = write_report(model, tmp_path / "r.html").read_text()
    assert "<td>Mixture(n_components=3, engine=&#x27;stanli&#x27;)</td>" in report
    plt.close("all")
    # A refused refit keeps the fit, and its results, as they were.
    model.set_params(n_components=500, family="normal", covariance="diag")
    with pytest.raises(sm.StanmixInputError, match="n_components=500"):
        model.fit(X.iloc[:10], method="optimize", seed=1)
    assert model.membership().equals(before[2])
    assert model.n_parameters_ == before[0]


@pytest.mark.parametrize("failure", [RuntimeError("Stan failed"), KeyboardInterrupt()])
def test_a_failed_refit_leaves_the_earlier_fit_whole(monkeypatch, failure):
    model = sm.Mixture(3, engine="stanli").fit(X, method="optimize", seed=1)
    before = {a: getattr(model, a) for a in fitted_attributes(model)}
    membership = model.membership()
    engine = type(sm.get_engine("stanli"))

    def optimize(*args, **kwargs):
        raise failure

    monkeypatch.setattr(engine, "optimize", optimize)
    other = X.assign(z=X["x"] - X["y"]).iloc[:60]
    with pytest.raises(type(failure)):
        model.fit(other, method="optimize", seed=2)
    assert {a: getattr(model, a) for a in fitted_attributes(model)} == before
    assert list(model.feature_names_in_) == ["x", "y"]
    assert model.membership().equals(membership)


def test_a_failed_first_fit_leaves_the_estimator_unfitted(monkeypatch):
    def optimize(*args, **kwargs):
        raise RuntimeError("Stan failed")

    monkeypatch.setattr(type(sm.get_engine("stanli")), "optimize", optimize)
    model = sm.Mixture(3, engine="stanli")
    with pytest.raises(RuntimeError, match="Stan failed"):
        model.fit(X, method="optimize", seed=1)
    assert fitted_attributes(model) == set()
    with pytest.raises(sm.NotFittedError):
        model.membership()


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.bic(),
        lambda m: m.icl(),
        lambda m: m.membership(),
        lambda m: m.predict_proba(X),
        lambda m: checks.co_clustering(m),
        lambda m: checks.separation(m),
    ],
    ids=["bic", "icl", "membership", "predict_proba", "co_clustering", "separation"],
)
def test_an_unfitted_model_says_so(call):
    with pytest.raises(sm.NotFittedError, match="not fitted yet; call fit"):
        call(sm.Mixture(2, engine="stanli"))
    # caught as scikit-learn's own NotFittedError is caught
    with pytest.raises(ValueError):
        call(sm.Mixture(2, engine="stanli"))
    with pytest.raises(AttributeError):
        call(sm.Mixture(2, engine="stanli"))


def test_an_unfitted_model_is_caught_by_scikit_learns_not_fitted_error():
    """An ``except`` clause written for scikit-learn estimators catches it;
    ``sm.NotFittedError`` still names it."""
    exceptions = pytest.importorskip("sklearn.exceptions")
    with pytest.raises(exceptions.NotFittedError) as caught:
        sm.Mixture(2, engine="stanli").membership()
    assert isinstance(caught.value, sm.NotFittedError)
    assert type(caught.value).__name__ == "NotFittedError"
    # one class, made once
    with pytest.raises(exceptions.NotFittedError) as again:
        sm.Mixture(2, engine="stanli").bic()
    assert type(again.value) is type(caught.value)
    # it crosses processes (a parallel fit's error) as it was
    back = pickle.loads(pickle.dumps(caught.value))
    assert isinstance(back, exceptions.NotFittedError)
    assert isinstance(back, sm.NotFittedError) and str(back) == str(caught.value)


def test_an_hdi_prob_of_zero_is_refused_not_replaced_by_the_default():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sm.ConvergenceWarning)
        model = sm.Mixture(3, engine="stanli").fit(X, chains=2, draws=50, seed=1)
    for call in (model.membership, model.summary):
        with pytest.raises(sm.StanmixInputError, match="hdi_prob must be a number"):
            call(hdi_prob=0)
    with pytest.raises(sm.StanmixInputError, match="hdi_prob must be a number"):
        checks.separation(model, hdi_prob=0)


@pytest.mark.parametrize(
    ("option", "value", "method"),
    [
        ("log_likelihood", "no", "optimize"),
        ("log_likelihood", 1, "sample"),
        ("show_progress", "yes", "sample"),
        ("show_progress", 0, "optimize"),
    ],
)
def test_a_switch_that_is_not_true_or_false_is_refused_before_any_stan_call(
    option, value, method
):
    """A refused switch leaves the earlier fit whole, and reaches no engine."""
    model = sm.Mixture(3, engine="stanli").fit(X, method="optimize", seed=1)
    before = {a: getattr(model, a) for a in fitted_attributes(model)}
    engine = RecordingEngine(stop=("optimize", "variational", "sample"))
    model.set_params(engine=engine)
    what = (
        "store it when it is small"
        if option == "log_likelihood"
        else ("a bar on a terminal")
    )
    with pytest.raises(sm.StanmixInputError) as info:
        model.fit(X, method=method, seed=1, **{option: value})
    assert str(info.value) == (
        f"{option} must be True, False or None ({what}), got {value!r}"
    )
    assert engine.calls == {}
    assert {a: getattr(model, a) for a in fitted_attributes(model)} == before


def test_the_switches_take_true_false_and_none():
    stored = {}
    for value in (True, np.True_, False, None):
        model = sm.Mixture(3, engine="stanli").fit(
            X, method="variational", draws=20, eta=0.1, seed=1, log_likelihood=value
        )
        stored[repr(value)] = "log_likelihood" in model.idata_
    assert stored == {"True": True, "np.True_": True, "False": False, "None": True}


def test_a_posterior_mode_stores_no_pointwise_log_likelihood():
    """ArviZ's loo fails on one draw and its waic ranks a point first with
    no penalty, so a mode has no log_likelihood group; asking for one is
    refused before any Stan call."""
    model = sm.Mixture(3, engine="stanli").fit(X, method="optimize", seed=1)
    assert "log_likelihood" not in model.idata_.groups()
    assert "posterior" in model.idata_.groups()
    assert np.isfinite(model.bic(X))
    for value in (True, np.True_):
        with pytest.raises(sm.StanmixInputError, match=r"score a mode with model\.bic"):
            model.fit(X, method="optimize", seed=1, log_likelihood=value)
    model.fit(X, method="optimize", seed=1, log_likelihood=False)
    assert "log_likelihood" not in model.idata_.groups()


@pytest.mark.parametrize("method", ["optimize", "variational"])
def test_show_progress_is_taken_by_every_method_and_changes_nothing_without_nuts(
    method,
):
    """The command line and fit_many pass show_progress whatever the method;
    the posterior mode and ADVI have no progress to show."""
    run = dict(method=method, seed=1)
    if method == "variational":
        run.update(draws=100, eta=0.1)
    fits = [
        sm.Mixture(3, engine="stanli").fit(X, show_progress=show, **run)
        for show in (True, False, None)
    ]
    for fit in fits[1:]:
        np.testing.assert_array_equal(
            fit.idata_.posterior["mu"].to_numpy(),
            fits[0].idata_.posterior["mu"].to_numpy(),
        )


def test_hdi_prob_is_read_when_a_result_is_asked_for_and_checked_there():
    model = sm.Mixture(2, engine="stanli").fit(
        X, method="variational", seed=1, draws=200
    )
    assert "hdi_3%" in model.summary().columns
    model.set_params(hdi_prob=0.5)
    assert {"hdi_25%", "hdi_75%"} <= set(model.summary().columns)
    model.set_params(hdi_prob=2.0)
    for call in (model.summary, model.membership):
        with pytest.raises(sm.StanmixInputError, match="hdi_prob"):
            call()


def test_feature_names_are_kept_only_when_the_data_name_their_columns():
    """scikit-learn's rule: feature_names_in_ for string column names only;
    an array refits without the earlier fit's names."""
    model = sm.Mixture(2, engine="stanli").fit(X, method="optimize", seed=1)
    assert list(model.feature_names_in_) == ["x", "y"]
    model.fit(X.to_numpy(), method="optimize", seed=1)
    assert not hasattr(model, "feature_names_in_") and model.n_features_in_ == 2
    numbered = X.set_axis([0, 1], axis=1)
    model.fit(numbered, method="optimize", seed=1)
    assert not hasattr(model, "feature_names_in_")
    series = sm.NormalMixture(2, engine="stanli").fit(X["x"], method="optimize", seed=1)
    assert list(series.feature_names_in_) == ["x"]

    data = sm.datasets.regressions(120, seed=1)
    lines = sm.RegressionMixture(2, engine="stanli")
    lines.fit(data.X.to_numpy(), data.y.to_numpy(), method="optimize", seed=1)
    assert not hasattr(lines, "feature_names_in_") and lines.n_features_in_ == 1
    lines.fit(data.X, data.y, method="optimize", seed=1)
    assert list(lines.feature_names_in_) == list(data.X.columns)


def test_a_numbered_frame_is_read_by_position_where_an_array_was_fitted():
    """pd.DataFrame(array) has columns 0, 1, ...: positions, not names, as
    scikit-learn reads them. A model fitted on an array takes such a frame
    as it takes the array (its index naming the rows); columns numbered in
    another order are refused, not silently read by position."""
    import pandas as pd

    values = X.to_numpy()
    model = sm.Mixture(2, engine="stanli").fit(values, method="optimize", seed=1)
    frame = pd.DataFrame(values[:6], index=list("abcdef"))
    np.testing.assert_array_equal(model.predict(frame), model.predict(values[:6]))
    assert model.membership(frame)["observation"].unique().tolist() == list("abcdef")
    with pytest.raises(sm.StanmixInputError, match="the fitted data were an array"):
        model.predict(frame[[1, 0]])


def test_columns_labelled_by_integers_are_matched_by_label_not_position():
    """A DataFrame fitted on columns labelled by integers (as read with
    header=None) named its columns: new data whose integer labels stand in
    another order are refused, not read by position as an array's are."""
    import pandas as pd

    numbered = X.set_axis([0, 1], axis=1)[[1, 0]]
    model = sm.Mixture(2, engine="stanli").fit(numbered, method="optimize", seed=1)
    np.testing.assert_array_equal(
        model.predict(numbered.iloc[:6]), model.predict(numbered.iloc[:6].to_numpy())
    )
    with pytest.raises(sm.StanmixInputError, match="another order"):
        model.predict(pd.DataFrame(numbered.iloc[:6][[0, 1]]))


def test_fitted_memberships_are_computed_once_per_fit(monkeypatch):
    """labels_ and predict_proba_fitted() average over the draws once per
    fit, not on every read; what they hand out is the caller's to change;
    a refit computes them anew; a pickle does not carry them."""
    from stanmix import likelihood

    calls = []
    real = likelihood.membership_mean

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(likelihood, "membership_mean", counted)
    model = sm.Mixture(2, engine="stanli").fit(X, method="optimize", seed=1)
    calls.clear()
    labels = model.labels_
    proba = model.predict_proba_fitted()
    for _ in range(3):
        np.testing.assert_array_equal(model.labels_, labels)
    assert len(calls) == 1
    proba[:] = 0.0  # the caller's copy
    assert model.predict_proba_fitted().sum(axis=1) == pytest.approx(1.0)
    assert "_fitted_proba" not in pickle.loads(pickle.dumps(model)).__dict__
    model.fit(X[:60], method="optimize", seed=1)
    calls.clear()
    assert model.labels_.shape == model.labels_.shape == (60,)
    assert len(calls) == 1
