"""Mixtures of regressions on data with known truth: coefficients, censored
responses and covariate-dependent weights. Tolerances are three posterior
sds; seeds are fixed.

No Python package fits a mixture of regressions by EM to compare the MAP
with (flexmix and mixtools are R packages), so the MAP is checked against
the simulation truth, within three posterior sds of the NUTS fit.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import stanmix as sm
from stanmix import datasets
from stanmix.inference_data import az

pytest.importorskip("stanli")
pytestmark = pytest.mark.slow
FIT = dict(seed=1, show_progress=False, chains=4, warmup=500, draws=500)


def _truth_in_fit_order(data, model) -> dict[str, np.ndarray]:
    """The true parameters with components in the fit's order: the lines'
    values at the predictors' centre, increasing."""
    center = data.X[list(model.design_.predictors)].to_numpy().mean(axis=0)
    mu = data.intercepts + data.slopes @ center
    order = np.argsort(mu)
    truth = {
        "intercept": data.intercepts[order],
        "beta": data.slopes[order],
        "sigma": data.scales[order],
        "mu": mu[order],
    }
    if data.weights is not None:
        truth["w"] = data.weights[order]
    else:
        gamma0 = data.gate_intercepts[order]
        gamma = data.gate_coefs[order]
        truth["gamma0"] = gamma0 - gamma0[0]
        truth["gamma"] = gamma - gamma[0]
    return truth


def _z(model, truth, names) -> dict[str, np.ndarray]:
    post = model.idata_.posterior
    out = {}
    for name in names:
        da = post[name]
        mean = da.mean(("chain", "draw")).to_numpy()
        sd = da.std(("chain", "draw")).to_numpy()
        out[name] = np.where(sd > 0, (mean - truth[name]) / np.where(sd > 0, sd, 1), 0)
    return out


def _check_recovery(model, truth, names) -> None:
    assert model.summary()["r_hat"].max() <= 1.01
    for name, z in _z(model, truth, names).items():
        assert np.all(np.abs(z) < 3), (name, z)


@pytest.mark.parametrize(
    ("k", "p"),
    [(2, 1), (3, 3)],
    ids=["two-components-one-predictor", "three-components-three-predictors"],
)
def test_nuts_and_the_map_recover_every_coefficient(k, p):
    if k == 2:
        data = datasets.regressions(400, seed=11)
    else:
        data = datasets.regressions(
            400,
            seed=12,
            intercepts=(0.0, 2.0, -1.0),
            slopes=((1.0, 0.0, -0.5), (0.5, 1.0, 0.0), (-1.0, 0.5, 1.0)),
            scales=(0.8, 1.0, 0.6),
            weights=(0.3, 0.4, 0.3),
        )
    model = sm.RegressionMixture(k).fit(data.X, data.y, **FIT)
    truth = _truth_in_fit_order(data, model)
    names = ("intercept", "beta", "sigma", "w")
    _check_recovery(model, truth, names)
    assert model.idata_.posterior["beta"].dims[2:] == ("component", "predictor")
    assert list(model.idata_.posterior["predictor"].values) == list(data.X.columns)
    assert model.idata_.log_likelihood["y"].shape[2] == 400
    mode = sm.RegressionMixture(k).fit(data.X, data.y, method="optimize", seed=1)
    attrs = mode.idata_.posterior.attrs
    assert attrs["order_by"] == "intercept" and attrs["response"] == data.y.name
    assert "covariance" not in attrs and "anchor" not in attrs
    post = model.idata_.posterior
    for name in names:
        sd = post[name].std(("chain", "draw")).to_numpy()
        map_value = mode.idata_.posterior[name].isel(chain=0, draw=0).to_numpy()
        assert np.all(np.abs(map_value - truth[name]) < 3 * sd), name


def _censored_data(seed: int = 21):
    data = datasets.regressions(400, seed=seed)
    limit = float(np.quantile(data.y, 0.25))
    y = data.y.clip(lower=limit)
    return data, y, limit


def test_censored_response_is_recovered_where_the_limit_as_value_is_biased():
    """25% of the responses below a detection limit: the censored fit covers
    every coefficient; taking the limit as the value pulls some coefficient
    more than three of its own posterior sds away from the truth."""
    data, y, limit = _censored_data()
    assert np.mean(y == limit) == pytest.approx(0.25, abs=0.01)
    censored = sm.RegressionMixture(2).fit(data.X, y, lower_limit=limit, **FIT)
    truth = _truth_in_fit_order(data, censored)
    _check_recovery(censored, truth, ("intercept", "beta", "sigma", "w"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        naive = sm.RegressionMixture(2).fit(data.X, y, **FIT)
    z = _z(naive, _truth_in_fit_order(data, naive), ("intercept", "beta", "sigma"))
    assert max(np.abs(v).max() for v in z.values()) > 3, z


def test_covariate_dependent_weights_are_recovered():
    """The component of each row depends on a covariate z through a
    multinomial logit; the log-odds coefficients are recovered."""
    data = datasets.regressions(
        400,
        seed=31,
        gate_intercepts=(0.0, 0.4),
        gate_coefs=((0.0,), (1.5,)),
    )
    model = sm.RegressionMixture(2, weights_from=["z"]).fit(data.X, data.y, **FIT)
    assert model.design_.predictors == ("x",)
    truth = _truth_in_fit_order(data, model)
    _check_recovery(model, truth, ("intercept", "beta", "sigma", "gamma0", "gamma"))
    post = model.idata_.posterior
    assert post["gamma"].dims[2:] == ("component", "weight_predictor")
    np.testing.assert_array_equal(post["gamma"].isel(component=0), 0.0)
    # Membership follows z: the same (x, y) pairs at z = -2 and z = +2. The
    # component whose log-odds rise with z gains every row, and rows that
    # the lines leave open (near their crossing) change sides.
    low, high = (
        model.predict_proba(data.X.assign(z=[value] * 400), data.y)
        for value in (-2.0, 2.0)
    )
    assert low.shape == high.shape == (400, 2)
    rising = int(np.argmax(model.weight_coef_[:, 0]))
    assert model.weight_coef_[rising, 0] > 0
    assert (high[:, rising] >= low[:, rising] - 1e-12).all()
    open_rows = (low[:, rising] < 0.3) & (high[:, rising] > 0.7)
    assert open_rows.sum() >= 10, open_rows.sum()
    table = model.predict_response(data.X.iloc[:3])
    assert list(table["component"][:3]) == [0, 1, "mixture"]
    weights = table[table["component"] != "mixture"].groupby("observation")["weight"]
    np.testing.assert_allclose(weights.sum(), 1.0)


def test_student_t_errors_keep_the_lines_despite_outlying_responses():
    """5% of responses, at the largest x, shifted far above their line:
    normal errors tilt a line towards them (by more than three posterior
    sds); Student-t errors keep every coefficient within three."""
    data = datasets.regressions(300, seed=41)
    rng = np.random.default_rng(5)
    y = data.y.copy()
    out = np.argsort(data.X["x"].to_numpy())[-15:]
    y.iloc[out] += rng.uniform(6, 10, 15)
    t_fit = sm.RegressionMixture(2, errors="student_t").fit(data.X, y, **FIT)
    truth = _truth_in_fit_order(data, t_fit)
    _check_recovery(t_fit, truth, ("intercept", "beta"))
    assert t_fit.idata_.posterior["nu"].median().item() < 10
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        normal = sm.RegressionMixture(2).fit(data.X, y, **FIT)
    z = _z(normal, _truth_in_fit_order(data, normal), ("intercept", "beta"))
    assert max(np.abs(v).max() for v in z.values()) > 3, z


def test_the_relabelling_report_describes_the_stored_gate_coefficients():
    """Chains started apart land in other labellings; after relabelling the
    gates' log-odds are re-expressed against the new component 0, and the
    report's R-hat and ESS are those of the stored draws (gamma0[0], fixed
    at 0, has neither, and the summary leaves it out)."""
    import arviz as az

    data = sm.datasets.regressions(
        250,
        seed=2,
        intercepts=(2.0, -1.0),
        slopes=((0.2,), (1.0,)),
        gate_intercepts=(0.0, 0.3),
        gate_coefs=((0.0,), (1.5,)),
    )
    model = sm.RegressionMixture(2, ordered=False, weights_from=["z"], engine="stanli")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sm.ConvergenceWarning)
        model.fit(
            data.X, data.y, seed=5, chains=3, draws=150, warmup=250, init="random"
        )
    report = model.relabel_report_
    assert report.modes_before.label_switching  # the chains did disagree
    stored = model.idata_.posterior
    np.testing.assert_array_equal(stored["gamma0"].sel(component=0), 0.0)
    with np.errstate(invalid="ignore"):  # gamma0[0] is constant
        rhat = az.rhat(stored[["gamma0", "gamma"]])
    for name in ("gamma0", "gamma"):
        np.testing.assert_allclose(
            report.rhat_after[name].isel(component=slice(1, None)),
            rhat[name].isel(component=slice(1, None)),
        )
        assert np.isnan(report.rhat_after[name].sel(component=0)).all()
        assert np.isnan(report.ess_after[name].sel(component=0)).all()
    assert report.max_rhat[1] < 1.05
    assert "gamma0[0]" not in str(model.convergence_)
    assert np.isnan(model.convergence_.table.loc["gamma0[0]", "ess_bulk"])
    # the summary leaves out the fixed reference and keeps the others
    rows = model.summary().index
    assert "gamma0[0]" not in rows and "gamma[0, z]" not in rows
    assert {"gamma0[1]", "gamma[1, z]", "w[0]", "beta[0, x]"} <= set(rows)


def test_criteria_count_rows_with_a_response_and_take_new_x_and_y():
    """Rows whose response is missing add nothing to the criteria, N and the
    ICL's entropy included; new data are (X, y) as for predict_proba."""
    data = sm.datasets.regressions(160, seed=3)
    y = data.y.copy()
    y.iloc[::4] = np.nan
    model = sm.RegressionMixture(2, engine="stanli").fit(
        data.X, y, method="optimize", seed=1
    )
    held = y.notna().to_numpy()
    X_held, y_held = data.X[held], y[held]
    for name in ("bic", "aic", "icl"):
        criterion = getattr(model, name)
        assert criterion() == pytest.approx(criterion(X_held, y_held), rel=1e-12)
        assert criterion(X_held, y=y_held) == criterion(X_held, y_held)
    assert model.bic() - model.aic() == pytest.approx(
        model.n_parameters_ * (np.log(held.sum()) - 2), rel=1e-12
    )
    with pytest.raises(sm.StanmixInputError, match="pass X too"):
        model.bic(y=y_held)


def test_grid_search_scores_a_regression_fitted_by_response_name():
    """GridSearchCV passes held-out rows of X alone: the fitted response's
    column is read from them."""
    pytest.importorskip("sklearn")
    from sklearn.model_selection import GridSearchCV, KFold

    data = sm.datasets.regressions(150, seed=1)
    frame = data.X.assign(response=data.y)
    search = GridSearchCV(
        sm.RegressionMixture(engine="stanli"),
        {"n_components": [1, 2]},
        cv=KFold(3, shuffle=True, random_state=0),
        error_score="raise",
    ).fit(frame, response="response", method="optimize", seed=1)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all()
    assert search.best_params_ == {"n_components": 2}
    model = search.best_estimator_
    assert model.score(frame) == model.score(data.X, data.y)


@pytest.mark.parametrize("labels", ["array", "int labels"])
def test_held_out_rows_find_a_response_named_by_position_or_int_label(labels):
    """cross_val_score passes held-out rows of X alone: a response fitted as
    response=1 is the array's second column, or the column labelled 1."""
    pytest.importorskip("sklearn")
    from sklearn.model_selection import KFold, cross_val_score

    data = sm.datasets.regressions(120, seed=2)
    values = np.c_[data.X.to_numpy(), data.y.to_numpy()]
    X = values if labels == "array" else pd.DataFrame(values, columns=[0, 1])
    scores = cross_val_score(
        sm.RegressionMixture(2, engine="stanli"),
        X,
        cv=KFold(3, shuffle=True, random_state=0),
        params={"response": 1, "method": "optimize", "seed": 1},
        error_score="raise",
    )
    assert np.isfinite(scores).all()
    model = sm.RegressionMixture(2, engine="stanli").fit(
        X, response=1, method="optimize", seed=1
    )
    covariates, y = (X[[0]], X[1]) if labels == "int labels" else (X[:, :1], X[:, 1])
    assert model.score(X) == model.score(covariates, y)


def test_held_out_rows_of_an_array_with_an_unused_column_find_the_response():
    """The fitted array's columns, one of them not used, keep their positions
    in the held-out rows: the response is found at its fitted position."""
    pytest.importorskip("sklearn")
    from sklearn.model_selection import KFold, cross_val_score

    data = sm.datasets.regressions(120, seed=2)
    unused = np.random.default_rng(0).normal(size=120)
    X = np.c_[data.X.to_numpy(), unused, data.y.to_numpy()]
    model = sm.RegressionMixture(2, predictors=["x0"], engine="stanli")
    model.fit(X, response=2, method="optimize", seed=1)
    assert model.score(X) == model.score(X[:, :2], X[:, 2])
    scores = cross_val_score(
        sm.RegressionMixture(2, predictors=["x0"], engine="stanli"),
        X,
        cv=KFold(3, shuffle=True, random_state=0),
        params={"response": 2, "method": "optimize", "seed": 1},
        error_score="raise",
    )
    assert np.isfinite(scores).all()


def test_rows_without_a_response_are_left_out_of_the_pointwise_likelihood():
    """A missing response has likelihood 1 under every draw: the
    log_likelihood group (for az.loo) holds the other rows, each with its
    label, and PSIS-LOO weighs every one of them."""
    data = sm.datasets.regressions(120, seed=4)
    y = data.y.copy()
    y.iloc[:15] = np.nan
    model = sm.RegressionMixture(2, engine="stanli").fit(
        data.X, y, seed=1, chains=2, warmup=200, draws=200, show_progress=False
    )
    ll = model.idata_.log_likelihood["y"]
    assert ll.sizes["obs"] == 105
    assert ll["obs"].values.tolist() == data.X.index[15:].tolist()
    assert model.idata_.observed_data.sizes["obs"] == 120
    loo = az.loo(model.idata_, pointwise=True)
    assert np.isfinite(loo.pareto_k.values).all()
    assert float(loo.pareto_k.max()) < 0.7


def test_a_regression_fits_warnings_point_at_the_callers_line():
    """Rounded responses let a third line sit on one value: the fit warns
    of it, and of starts that found lower modes, at the user's call (not at
    the estimator's own code that RegressionMixture.fit goes through)."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 3, 200)
    y = np.where(rng.integers(0, 2, 200) == 0, 1 + x, 5 - x) + rng.normal(0, 0.3, 200)
    data = pd.DataFrame({"x": x, "y": np.round(y)})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sm.RegressionMixture(3, engine="stanli").fit(
            data, response="y", method="optimize", seed=1
        )
    said = {str(w.message).split(" ")[0]: w.filename for w in caught}
    assert "components" in said and len(said) >= 2
    assert set(said.values()) == {__file__}


def test_a_line_through_as_many_rows_as_it_has_coefficients_is_collapsed():
    """Unstandardized predictors in thousands and thousandths leave the
    priors off the data's scale: one line is fitted through three rows or
    fewer (an intercept and two slopes fit them exactly; which mode the
    optimizer reaches depends on the platform's arithmetic) with a scale
    near zero. The fit says so, though the response repeats no value."""
    from stanmix.advice import collapsed_components

    rng = np.random.default_rng(2)
    n = 250
    x1, x2 = rng.normal(1000, 50, n), rng.normal(0.001, 0.0002, n)
    first = rng.random(n) < 0.35
    y = np.where(first, -300 + 0.5 * x1 + 1e5 * x2, 50 + 0.1 * x1 - 5e4 * x2)
    y = y + rng.normal(0, np.where(first, 4, 8), n)
    with pytest.warns(RuntimeWarning, match="collapsed to a scale near zero") as w:
        model = sm.RegressionMixture(2, engine="stanli", standardize=False).fit(
            pd.DataFrame({"x1": x1, "x2": x2}), y, method="optimize", seed=1
        )
    (found,) = collapsed_components(model)
    small = int(np.argmin(model.scales_.ravel()))
    assert found.startswith(f"column 'y': component {small} (scale down to ")
    # a line of three coefficients fits three rows, or fewer, exactly
    held = int(re.fullmatch(r".*, on about (\d+) rows\)", found).group(1))
    assert 1 <= held <= 3
    assert any(found in str(r.message) for r in w)
    # standardized, the same data give two proper lines and no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        fine = sm.RegressionMixture(2, engine="stanli").fit(
            pd.DataFrame({"x1": x1, "x2": x2}), y, method="optimize", seed=1
        )
    assert collapsed_components(fine) == []


def test_lines_the_ordering_barely_tells_apart_are_warned_of():
    """Two lines crossing at the predictors' centre, slopes 1 and -1.
    Ordered by their values there (the default), the posterior has a second
    mode with the slopes swapped, which chains started at the mode do not
    visit: the fit says so and names the slope to order by. Ordered by the
    slope, nothing is said."""
    rng = np.random.default_rng(6)
    n = 100
    x = rng.uniform(-2, 2, 2 * n)
    x -= x.mean()
    y = np.r_[x[:n], -x[n:]] + rng.normal(0, 0.5, 2 * n)
    data = pd.DataFrame({"x": x, "y": y})
    close = "nearly the same line value at the predictors' centre"
    with pytest.warns(RuntimeWarning, match=close) as rec:
        sm.RegressionMixture(2, engine="stanli").fit(data, response="y", **FIT)
    (message,) = [str(w.message) for w in rec if "nearly the same" in str(w.message)]
    assert message.startswith("components 0 and 1 (")
    assert "ordered (order_by='intercept')" in message
    assert message.endswith(
        "By their slope on 'x' every pair of components lies further apart: "
        "order by it with order_by='x'."
    )
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        model = sm.RegressionMixture(2, order_by="x", engine="stanli")
        model.fit(data, response="y", **FIT)
    assert not [w for w in rec if "nearly the same" in str(w.message)]
    assert np.allclose(model.coef_[:, 0], [-1, 1], atol=3 * 0.05)


def test_a_response_known_only_to_bins_is_fitted():
    """Every response known to a one-unit interval: intervals place the
    values as measurements do (they used to be refused as no measured
    value), and no component is called nearly all censored. The lines
    agree with the fit to the exact responses within a few posterior
    sds of the exact fit."""
    data = sm.datasets.regressions(200, seed=4)
    low = np.floor(data.y.to_numpy())
    exact = sm.RegressionMixture(2, engine="stanli").fit(
        data.X, data.y, method="sample", seed=1, chains=2, draws=300
    )
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        binned = sm.RegressionMixture(2, engine="stanli").fit(
            data.X,
            low + 0.5,
            interval=(low, low + 1),
            method="sample",
            seed=1,
            chains=2,
            draws=300,
        )
    assert not [w for w in seen if "nearly every value is censored" in str(w.message)]
    assert binned.censored_components_ == []
    post = exact.idata_.posterior
    for name in ("beta", "intercept", "sigma"):
        sd = post[name].std(("chain", "draw")).values
        gap = (
            binned.idata_.posterior[name].mean(("chain", "draw")).values
            - post[name].mean(("chain", "draw")).values
        )
        assert np.all(np.abs(gap) < 4 * np.hypot(sd, sd)), (name, gap, sd)


def test_a_predictor_constant_on_a_lines_rows_is_warned_of():
    """z is 0 on every row of the line 1 + 2 x: those rows say nothing of
    that line's slope on z, which comes out steep and confident from the
    other rows alone; the fit warns, naming z and the line. With z varying
    on both lines it does not."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, 200)
    first = rng.random(200) < 0.5
    z = np.where(first, 0.0, rng.normal(0, 1, 200))
    y = np.where(first, 1 + 2 * x, 15 - x + 0.5 * z) + rng.normal(0, 0.7, 200)
    frame = pd.DataFrame({"dose": x, "z": z, "y": y})
    model = sm.RegressionMixture(2, engine="stanli")
    with pytest.warns(UserWarning, match=r"'z' on line 1's rows \(9\d% of them at 0\)"):
        model.fit(frame, response="y", method="optimize", seed=1)
    assert abs(model.coef_[1, 1]) > 5  # the steep, unsupported slope
    # z varying on both lines, beside a dummy at 1 on 30% of the rows
    varied = frame.assign(
        z=rng.normal(0, 1, 200), site=(rng.random(200) < 0.3).astype(float)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", RuntimeWarning)  # starts at other modes
        sm.RegressionMixture(2, engine="stanli").fit(
            varied, response="y", method="optimize", seed=1
        )


def test_predict_response_names_its_rows_by_a_series_index():
    """A one-predictor X given as a Series keeps its row labels in
    ``observation``, as a DataFrame's do (and as ``membership`` keeps them)."""
    data = sm.datasets.regressions(120, seed=3)
    model = sm.RegressionMixture(2, engine="stanli").fit(
        data.X, data.y, method="optimize", seed=1
    )
    (name,) = data.X.columns
    x = pd.Series([-1.0, 0.5], index=["s7", "s3"], name=name)
    table = model.predict_response(x, seed=2)
    assert table["observation"].tolist() == ["s7"] * 3 + ["s3"] * 3
    pd.testing.assert_frame_equal(table, model.predict_response(x.to_frame(), seed=2))
