"""Fitted estimators pickle, and say so when another version unpickles them."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import stanmix as sm

pytest.importorskip("stanli")


@pytest.fixture(scope="module")
def censored_fit():
    """Three correlated clusters in two columns, x left-censored at its 20%
    quantile and two cells missing; Student-t components, a short NUTS run."""
    X = sm.datasets.correlated(150, seed=3).X
    limit = float(np.quantile(X["x"], 0.2))
    X.loc[X["x"] <= limit, "x"] = limit
    X.iloc[[5, 9], 1] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sm.ConvergenceWarning)
        model = sm.Mixture(3, family="student_t", engine="stanli").fit(
            X, seed=4, chains=2, draws=150, lower_limit={"x": limit}
        )
    return model, X


def test_a_pickled_fit_predicts_and_summarises_as_the_original(censored_fit):
    model, X = censored_fit
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same version: no warning
        loaded = pickle.loads(pickle.dumps(model))
    assert loaded is not model
    np.testing.assert_array_equal(loaded.means_, model.means_)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    pd.testing.assert_frame_equal(loaded.membership(), model.membership())
    pd.testing.assert_frame_equal(loaded.summary(), model.summary())
    assert loaded.idata_.posterior.equals(model.idata_.posterior)
    assert loaded.convergence_.table.equals(model.convergence_.table)
    assert loaded.get_params() == model.get_params()


def test_a_pickled_regression_fit_predicts_as_the_original():
    data = sm.datasets.regressions(100, seed=2)
    model = sm.RegressionMixture(2, engine="stanli").fit(
        data.X, data.y, method="optimize", seed=1
    )
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(
        loaded.predict_proba(data.X, data.y), model.predict_proba(data.X, data.y)
    )
    np.testing.assert_array_equal(loaded.coef_, model.coef_)


def test_another_versions_pickle_warns_and_still_loads(censored_fit):
    model, _ = censored_fit
    state = model.__getstate__()
    assert state["_stanmix_version"] == sm.__version__
    assert "_stanmix_version" not in vars(model)  # the stamp is not state
    older = {**state, "_stanmix_version": "0.0.1"}
    other = sm.Mixture.__new__(sm.Mixture)
    with pytest.warns(sm.InconsistentVersionWarning) as caught:
        other.__setstate__(older)
    message = str(caught[0].message)
    assert "pickled by stanmix 0.0.1" in message
    assert f"loaded by stanmix {sm.__version__}" in message
    assert "Refit it" in message
    np.testing.assert_array_equal(other.means_, model.means_)
    assert "_stanmix_version" not in vars(other)
    # a pickle made before the stamp existed carries no version
    unstamped = {k: v for k, v in state.items() if k != "_stanmix_version"}
    with pytest.warns(sm.InconsistentVersionWarning, match="an unknown version"):
        sm.Mixture.__new__(sm.Mixture).__setstate__(unstamped)


def test_an_unfitted_estimator_pickles_with_its_parameters():
    model = sm.Mixture(3, covariance="full", prior_concentration=2.0)
    loaded = pickle.loads(pickle.dumps(model))
    assert loaded.get_params() == model.get_params()
    assert repr(loaded) == repr(model)


def test_an_estimator_given_an_engine_object_pickles_copies_and_fits_in_parallel():
    """engine= may be an Engine: the estimator then pickles, deep-copies and
    clones like one given the engine's name, and the loaded engine is the
    process's own shared instance."""
    import copy

    from sklearn.base import clone

    engine = sm.get_engine("stanli")
    model = sm.DiagonalMixture(2, engine=engine)
    for twin in (
        pickle.loads(pickle.dumps(model)),
        copy.deepcopy(model),
        clone(model),
    ):
        assert twin.engine is engine
    data = [sm.datasets.blobs(60, seed=s).X for s in (1, 2)]
    fits = sm.fit_many(
        data,
        model,
        fit_kwargs={"method": "optimize"},
        seeds=[3, 4],
        n_jobs=2,
        backend="joblib",
    )
    serial = [
        sm.DiagonalMixture(2, engine="stanli").fit(d, method="optimize", seed=s)
        for d, s in zip(data, (3, 4), strict=True)
    ]
    for got, want in zip(fits, serial, strict=True):
        np.testing.assert_array_equal(got.means_, want.means_)
    loaded = pickle.loads(pickle.dumps(fits[0]))
    assert loaded.engine is engine
    np.testing.assert_array_equal(
        loaded.predict_proba(data[0]), fits[0].predict_proba(data[0])
    )


@pytest.mark.parametrize("kind", ["zoned", "period", "mixed", "alike", "tuples"])
def test_row_labels_survive_netcdf_and_membership(kind, tmp_path):
    """Row labels NetCDF cannot hold as they are (time-zone-aware times,
    periods, mixed types, tuples) are stored in a form it can (UTC times, text);
    membership keeps the data's own labels."""
    X = sm.datasets.blobs(60, seed=2).X
    if kind == "zoned":
        X.index = pd.date_range("2024-03-30", periods=60, freq="h", tz="Europe/Paris")
        expected = list(X.index.tz_convert("UTC").tz_localize(None))
    elif kind == "period":
        X.index = pd.period_range("2020-01", periods=60, freq="M")
        expected = [str(p) for p in X.index]
    elif kind == "mixed":
        X.index = pd.Index(["ref", *range(1, 60)], dtype=object)
        expected = [str(v) for v in X.index]
    elif kind == "alike":  # distinct labels that read the same as text
        X.index = pd.Index([1, "1", *range(2, 60)], dtype=object)
        expected = [repr(v) for v in X.index]
    else:
        X.index = pd.Index([(i // 6, i % 6) for i in range(60)], tupleize_cols=False)
        expected = [str(v) for v in X.index]
    model = sm.DiagonalMixture(3, engine="stanli").fit(X, method="optimize", seed=1)
    sm.checks.posterior_predictive(model, draws=3, seed=1)
    path = tmp_path / "fit.nc"
    model.idata_.to_netcdf(str(path))
    loaded = sm.inference_data.az.from_netcdf(str(path))
    for group in ("observed_data", "constant_data", "posterior_predictive"):
        obs = loaded[group]["obs"].to_numpy()
        if kind == "zoned":
            obs = list(pd.to_datetime(obs))
        assert list(obs) == expected, group
    labels = model.membership()["observation"].iloc[::3].tolist()
    assert labels == list(X.index)
