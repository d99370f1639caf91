"""RegressionMixture refuses bad input before any Stan call, naming the
argument, column or row and the fix; and reads good input as documented."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import RecordingEngine, Stop

import stanmix as sm
from stanmix.cells import LEFT


def _data(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2, z = rng.normal(size=(3, n))
    y = np.where(rng.random(n) < 0.5, 1 + 2 * x1, -1 - x1) + 0.3 * rng.normal(size=n)
    return pd.DataFrame({"x1": x1, "x2": x2, "z": z, "y": y})


def _model(k: int = 2, **kwargs) -> sm.RegressionMixture:
    engine = RecordingEngine(stop=("optimize", "variational", "sample"))
    return sm.RegressionMixture(k, engine=engine, **kwargs)


@pytest.mark.parametrize(
    ("change", "call", "message"),
    [
        (
            lambda df: df.assign(x2=df["x2"].where(df.index != 7)),
            {"response": "y"},
            r"missing covariate values at row 7 \('x2'\)",
        ),
        (
            lambda df: df.set_axis(np.arange(len(df)) * 3).pipe(
                lambda d: d.assign(x2=d["x2"].where(d.index != 6))
            ),
            {"response": "y"},
            r"missing covariate values at row 6 \('x2'\)",
        ),
        (lambda df: df, {"y": np.zeros(39)}, "y has 39 values but X has 40 rows"),
        (lambda df: df.assign(x2=2.0), {"response": "y"}, "covariate 'x2' is constant"),
        (lambda df: df.iloc[:4], {"response": "y"}, "n_components=5 is larger"),
        (lambda df: df, {"response": "y", "respones": 1}, "respones"),
        (lambda df: df, {"response": "w"}, "response='w' is not a column of X"),
        (lambda df: df, {}, "give the response either as y"),
        (
            lambda df: df,
            {"response": "y", "lower_limit": {"x1": 0.0}},
            r"lower_limit names 'x1', a covariate: only the response \('y'\) can "
            "be censored",
        ),
        (
            lambda df: df.assign(y=df["y"].clip(lower=0.0)),
            {"response": "y", "lower_limit": 0.5},
            "value below its lower_limit",
        ),
        (
            lambda df: df.assign(x1=df["x1"].astype(str)),
            {"response": "y"},
            "non-numeric column",
        ),
        (
            lambda df: df.set_axis(["x1", "x1", "z", "y"], axis=1),
            {"response": "y"},
            r"X has duplicate column names: 'x1' \(columns: x1, x1, z, y\); give",
        ),
        (
            lambda df: df.set_axis(["x1", "x1", "z", "y"], axis=1),
            {"y": np.zeros(40)},
            "X has duplicate column names: 'x1'",
        ),
        (
            lambda df: df.set_axis([1, 1.0, "z", "y"], axis=1),
            {"response": "y"},
            "X has column labels that pandas takes for one key: 1, 1.0",
        ),
        (
            lambda df: df[["y"]],
            {"response": "y"},
            "X has no predictor columns .* fit stanmix.NormalMixture to the response",
        ),
        (
            lambda df: df.assign(x2=df["x2"].where(df.index != 3, np.inf)),
            {"response": "y"},
            r"X has infinite values at row 3, column 'x2'; replace them with finite "
            r"values, or drop those rows \(only the response may be missing or "
            r"censored\)",
        ),
        (
            lambda df: df.set_axis([10, 11, 12, 20], axis=1),
            {"response": 3},
            "response=3 is not a column of X .* labelled by integers, so response "
            "names a label, not a position",
        ),
        (
            lambda df: df.assign(
                x2=df["x2"].where(df.index >= 20, 1.5),
                y=df["y"].where(df.index < 20),
            ),
            {"response": "y"},
            r"covariate 'x2' is constant on the 20 rows with a response \(every "
            r"value is 1.5\)",
        ),
        (
            lambda df: df.assign(
                x2=df["x2"].where(df.index >= 20, 2 * df["x1"] + 1),
                y=df["y"].where(df.index < 20),
            ),
            {"response": "y"},
            r"the predictors 'x1', 'x2' are linearly dependent on the 20 rows with "
            "a response",
        ),
        (
            lambda df: df.assign(y=df["y"].where(df.index < 4)),
            {"response": "y"},
            r"n_components=5 is larger than the number of rows with a response "
            r"\(4 of 40",
        ),
        (
            lambda df: df.assign(y=df["y"].where(df.index < 3)),
            {"response": "y"},
            r"the 3 predictors 'x1', 'x2', 'z' have 3 rows with a response, too "
            "few to tell their coefficients and the intercept apart",
        ),
        (
            lambda df: df.assign(y=df["y"].where(df.index == 5)),
            {"response": "y"},
            r"the response 'y' is known on one row only \(of 40\)",
        ),
        (
            lambda df: df.assign(y=np.where(df.index < 9, 3.0, np.nan)),
            {"response": "y"},
            r"the response 'y' has the same value \(3\) on every row with a "
            r"response \(9 of 40\)",
        ),
        (
            lambda df: df.assign(y=np.nan),
            {"response": "y"},
            r"the response 'y' has no measured value \(every one is missing\)",
        ),
        (
            lambda df: df.assign(y=0.5),
            {"response": "y", "lower_limit": 0.5},
            r"the response 'y' has no measured value \(every one is censored at "
            r"a limit or missing\)",
        ),
    ],
    ids=[
        "nan-predictor",
        "nan-predictor-in-an-integer-index",
        "wrong-length-y",
        "constant-predictor",
        "more-components-than-rows",
        "misspelt-keyword",
        "unknown-response",
        "no-response",
        "limit-on-a-predictor",
        "value-below-limit",
        "text-predictor",
        "duplicate-columns",
        "duplicate-columns-with-y",
        "labels-equal-as-keys",
        "only-the-response",
        "infinite-predictor",
        "int-response-among-int-labels",
        "constant-predictor-where-responses-are",
        "dependent-predictors-where-responses-are",
        "more-components-than-responses",
        "fewer-responses-than-coefficients",
        "one-response",
        "constant-response",
        "no-response-values",
        "every-response-censored",
    ],
)
def test_bad_data_is_refused_before_any_stan_call(change, call, message):
    model = _model(5 if "n_components" in message else 2)
    with pytest.raises(sm.StanmixInputError, match=message):
        X = change(_data())
        if "y" in call:
            X = X.drop(columns=["y"])
        model.fit(X, method="optimize", seed=1, **call)
    assert model.engine.calls == {}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"weights_from": ["age"]}, r"weights_from names column\(s\) 'age'"),
        ({"predictors": ["x1", "dose"]}, r"predictors names column\(s\) 'dose'"),
        ({"predictors": ["x1", "x1"]}, "names a column twice"),
        ({"predictors": ["x1", "y"]}, "predictors names the response 'y'; leave it"),
        ({"weights_from": ["y"]}, "weights_from names the response 'y'; leave it"),
        ({"order_by": "age"}, "order_by='age' is neither 'intercept' nor a"),
        (
            {"order_by": "x1", "ordered": False},
            "order_by='x1' orders the lines only with ordered=True",
        ),
        ({"errors": "cauchy"}, "errors"),
        ({"prior_slope_scale": -1.0}, "prior_slope_scale"),
        ({"family_options": {"predictors": (0,)}}, "set by RegressionMixture's own"),
        ({"family_options": {"nu_shap": 2.0}}, "nu_shap"),
        ({"weights_from": ["x1", "x2", "z"]}, "X has no predictor columns"),
        (
            {"predictors": []},
            "predictors is empty; a mixture of regressions needs at least one "
            r"predictor column: name one \(columns: x1, x2, z\), or leave predictors "
            "out .* fit stanmix.NormalMixture to the response",
        ),
        ({"predictors": (), "weights_from": ["z"]}, "predictors is empty"),
        ({"predictors": [], "order_by": "x1"}, "predictors is empty"),
    ],
)
def test_bad_settings_are_refused_before_any_stan_call(kwargs, message):
    model = _model(**kwargs)
    data = _data()
    with pytest.raises(sm.StanmixInputError, match=message):
        model.fit(data, response="y", method="optimize", seed=1)
    assert model.engine.calls == {}


@pytest.mark.parametrize(
    ("errors", "options", "message"),
    [
        (
            "normal",
            {"nu_shape": 5.0},
            r"unknown family_options for RegressionMixture\(errors='normal'\): "
            r"'nu_shape'; valid: none; 'nu_shape' needs errors='student_t'; the "
            r"other settings .* own arguments \(predictors, weights_from, order_by, "
            r"prior_slope_scale, prior_gate_scale\)$",
        ),
        (
            "student_t",
            {"nu_shap": 2.0},
            r"'nu_shap' \(did you mean 'nu_shape'\?\); valid: nu_shape, nu_rate; "
            r"the other settings",
        ),
        (
            "student_t",
            {"prior_slope_scale": 2.0},
            r"valid: nu_shape, nu_rate; the other settings of the regression are "
            r"RegressionMixture's own arguments",
        ),
    ],
)
def test_unknown_family_options_list_what_family_options_accepts(
    errors, options, message
):
    """The "valid:" list holds only keys family_options takes (not the
    family's settings that the estimator's own arguments set, which it
    refuses)."""
    model = _model(errors=errors, family_options=options)
    with pytest.raises(sm.StanmixInputError, match=message) as caught:
        model.fit(_data(), response="y", method="optimize", seed=1)
    assert "slope_scale, gate_scale" not in str(caught.value)
    assert model.engine.calls == {}


def test_student_t_family_options_are_accepted():
    model = _model(errors="student_t", family_options={"nu_shape": 3.0, "nu_rate": 0.1})
    with pytest.raises(Stop):
        model.fit(_data(), response="y", method="optimize", seed=1)
    assert model.engine.calls


def test_a_regression_family_without_predictors_is_refused():
    """The regression family itself refuses an empty list of predictors (a
    cell table with covariates fitted by Mixture), before any Stan call."""
    from stanmix.cells import CellTable

    data = _data()
    cells = CellTable.from_values(data[["y"]].to_numpy()).with_covariates(
        data[["x1", "x2"]].to_numpy(), ("x1", "x2")
    )
    engine = RecordingEngine(stop=("optimize", "variational", "sample"))
    model = sm.Mixture(
        2,
        family="normal_regression",
        engine=engine,
        family_options={"predictors": ()},
    )
    with pytest.raises(
        sm.StanmixInputError,
        match=r"family 'normal_regression' needs at least one predictor, but "
        r"family_options\['predictors'\] is empty",
    ):
        model.fit(cells, method="optimize", seed=1)
    assert engine.calls == {}


def test_a_series_with_another_index_is_not_paired_by_position():
    data = _data()
    y = data["y"].set_axis(data.index + 100)
    with pytest.raises(sm.StanmixInputError, match="y's index does not match"):
        _model().fit(data[["x1"]], y, method="optimize")


def test_a_series_of_predictors_is_paired_with_y_by_label_too():
    """A one-predictor X given as a Series is a pandas object like a
    DataFrame: a y holding the same labels in another order is refused, not
    paired with it row by row."""
    data = _data()
    y = data["y"].iloc[::-1]
    model = _model()
    with pytest.raises(sm.StanmixInputError, match="y's index does not match"):
        model.fit(data["x1"], y, method="optimize")
    assert model.engine.calls == {}


class _DataEngine(RecordingEngine):
    """A RecordingEngine that also keeps the Stan data of the stopped call
    (a fit that fails keeps none of its state, so the data show what it read)."""

    def optimize(self, stan_file, data, **kwargs):
        self.data = data
        return super().optimize(stan_file, data, **kwargs)


def test_the_design_reaches_the_program():
    """Columns, censoring per observation and missing responses as the
    program receives them (the engine stops before optimizing)."""
    data = _data()
    y = data["y"].copy()
    y[[3, 9]] = np.nan
    limits = np.full(len(y), np.nan)
    limits[:10] = np.nanmedian(y[:10])
    y[:10] = np.maximum(y[:10], limits[:10])
    engine = _DataEngine(stop=("optimize", "variational", "sample"))
    model = sm.RegressionMixture(
        2, engine=engine, predictors=["x1"], weights_from=["z", "x1"], order_by="x1"
    )
    with pytest.raises(Stop):
        model.fit(data[["x1", "x2", "z"]], y, lower_limit=limits, seed=1)
    assert model._design is None  # a fit that failed leaves no design behind
    model._prepare(data[["x1", "x2", "z"]], y, None, fitting=True)
    design = model._design
    assert design.predictors == ("x1",) and design.weights_from == ("z", "x1")
    assert design.covariates == ("x1", "z") and design.response == "y"
    sent = engine.data
    # normal errors; columns of the covariates and the slope ordered, 1-based
    assert sent["student_t"] == 0
    assert sent["pred_col"].tolist() == [1] and sent["gate_col"].tolist() == [2, 1]
    assert sent["order_by"] == 1
    init = engine.calls["optimize"]["init"]
    assert np.all(np.diff(init["slope_ordered"]) > 0)
    assert init["gamma_rest"].shape == (1, 2)
    # Rows with a missing response stay in the data, without a term.
    assert sent["N"] == 40 and sent["X"].shape == (40, 2)
    assert sent["observed"][[3, 9], 0].tolist() == [0, 0]
    left = np.asarray(sent["left_row"]) - 1
    assert left.size >= 1 and np.all(left < 10)
    assert not set(left) & {3, 9}


def test_a_cell_table_of_response_and_covariates_reads_as_its_data_frame():
    """A CellTable holding the response and covariates (cross-validation's
    folds are such tables' rows) sends the program the data of the frame
    and censoring it was read from; one that cannot be a regression's data,
    or given with a response besides, is refused."""
    data = _data()
    y = data["y"].copy()
    y[[3, 9]] = np.nan
    y = np.maximum(y, -0.5)  # NaN stays NaN
    settings = dict(predictors=["x1"], weights_from=["z"])
    sent = []
    for given in ("frame", "table"):
        engine = _DataEngine(stop=("optimize", "variational", "sample"))
        model = sm.RegressionMixture(2, engine=engine, **settings)
        if given == "frame":
            X, kwargs = data[["x1", "z"]], {"y": y, "lower_limit": -0.5}
            reader = sm.RegressionMixture(2, **settings)
            cells, _ = reader._read(
                reader._prepare(X, y, None, fitting=True), {"lower_limit": -0.5}
            )
        else:
            X, kwargs = cells, {}
        with pytest.raises(Stop):
            model.fit(X, seed=1, **kwargs)
        sent.append(engine.data)
    frame, table = sent
    assert frame.keys() == table.keys()
    for key in frame:
        np.testing.assert_array_equal(np.asarray(frame[key]), np.asarray(table[key]))
    assert len(frame["left_row"]) == int((y == -0.5).sum()) > 0

    with pytest.raises(sm.StanmixInputError, match="drop y and response"):
        _model(**settings).fit(cells, response="y")
    two = cells.rows(np.arange(5))
    two = type(two)(
        np.c_[two.values, two.values],
        np.c_[two.kind, two.kind],
        np.c_[two.lower, two.lower],
        np.c_[two.upper, two.upper],
        ("a", "b"),
        two.covariates,
        two.covariate_names,
    )
    with pytest.raises(sm.StanmixInputError, match="has 2 column"):
        _model(**settings).fit(two)
    with pytest.raises(sm.StanmixInputError, match="predictors"):
        _model(predictors=["x2"]).fit(cells)


GOOD_START = {"intercept": [1.0, -1.0], "beta": [[2.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]}


@pytest.mark.parametrize(
    ("init", "message"),
    [
        ({"intercept": [1.0, -1.0]}, "init must be a dict with keys 'intercept', "),
        ({**GOOD_START, "sigma": [0.3, 0.3], "mu": [0, 1]}, "unknown keys in init"),
        (
            {**GOOD_START, "beta": [1.0, 2.0, 3.0], "sigma": [0.3, 0.3]},
            r"init: 'beta' needs shape \(2, 3\)",
        ),
        (
            {**GOOD_START, "beta": [[1.0, -1.0], [2, 0], [0, 0]], "sigma": [0.3, 0.3]},
            r"init: 'beta' needs shape \(2, 3\), got \(3, 2\)",
        ),
        ({**GOOD_START, "sigma": [0.3, np.inf]}, "init: 'sigma' must be finite"),
        ({**GOOD_START, "sigma": [0.3, 0.0]}, "init: 'sigma' must be positive"),
        (
            {**GOOD_START, "sigma": [0.3, 0.3], "w": [1.0, -1.0]},
            "init: 'w' must be positive",
        ),
        (
            [{**GOOD_START, "sigma": [0.3, 0.3]}, {**GOOD_START, "sigma": [0.3, -1]}],
            r"init\[1\]: 'sigma' must be positive",
        ),
    ],
)
def test_bad_starting_values_are_refused_before_any_stan_call(init, message):
    model = _model()
    with pytest.raises(sm.StanmixInputError, match=message):
        model.fit(_data(), response="y", method="optimize", init=init, seed=1)
    assert model.engine.calls == {}


def test_student_t_starts_need_nu_above_one():
    model = _model(errors="student_t")
    init = {**GOOD_START, "sigma": [0.3, 0.3], "nu": [4.0, 1.0]}
    with pytest.raises(sm.StanmixInputError, match="init: 'nu' must be above 1"):
        model.fit(_data(), response="y", method="optimize", init=init, seed=1)
    assert model.engine.calls == {}


def test_starting_values_reach_the_optimizer_and_its_mode():
    """From the true lines the optimizer reaches the mode its default starts
    find (the data: y = 1 + 2 x1 or -1 - x1, noise sd 0.3; predictors x1,
    x2 and z)."""
    data = _data(200, seed=3)
    true = {**GOOD_START, "sigma": [0.3, 0.3], "w": [0.5, 0.5]}
    given = sm.RegressionMixture(2, engine="stanli")
    given.fit(data, response="y", method="optimize", init=true, seed=1)
    default = sm.RegressionMixture(2, engine="stanli")
    default.fit(data, response="y", method="optimize", seed=1)
    assert given.optimize_lps_.size == 1 and default.optimize_lps_.size == 4
    np.testing.assert_allclose(
        given.optimize_lps_[0], default.optimize_lps_.max(), rtol=1e-6
    )


def test_columns_the_model_does_not_read_are_ignored_even_text():
    data = sm.datasets.regressions(120, seed=1)
    frame = data.X.assign(y=data.y, site=np.where(np.arange(120) % 2, "A", "B"))
    model = sm.RegressionMixture(2, predictors=["x"], engine="stanli")
    model.fit(frame, response="y", method="optimize", seed=1)
    plain = sm.RegressionMixture(2, predictors=["x"], engine="stanli")
    plain.fit(frame[["x", "y"]], response="y", method="optimize", seed=1)
    np.testing.assert_array_equal(model.coef_, plain.coef_)
    pd.testing.assert_frame_equal(
        model.predict_response(frame), plain.predict_response(frame[["x"]])
    )
    np.testing.assert_array_equal(
        model.predict_proba(frame, response="y"),
        plain.predict_proba(frame[["x", "y"]], response="y"),
    )
    # Without predictors= every column but the response is a predictor.
    with pytest.raises(sm.StanmixInputError, match="non-numeric column"):
        sm.RegressionMixture(2, engine="stanli").fit(frame, response="y", seed=1)
    # A fitted column that is absent is named.
    with pytest.raises(sm.StanmixInputError, match="lacks the fitted covariate"):
        model.predict_response(frame[["site"]])


def test_an_array_means_the_same_columns_in_fit_predict_and_predict_proba():
    """Columns x0 (the weights' covariate) and x1 (the predictor) of an array:
    predict reads them by position as fit and predict_proba do (it read the
    predictor first, as the design lists it)."""
    data = sm.datasets.regressions(
        200, seed=4, gate_intercepts=(0.0, 0.5), gate_coefs=((0.0,), (2.0,))
    )
    A = np.column_stack([data.X["z"], data.X["x"]])
    model = sm.RegressionMixture(
        2, predictors=["x1"], weights_from=["x0"], engine="stanli"
    ).fit(A, data.y, method="optimize", seed=1)
    framed = sm.RegressionMixture(
        2, predictors=["x1"], weights_from=["x0"], engine="stanli"
    ).fit(pd.DataFrame(A, columns=["x0", "x1"]), data.y, method="optimize", seed=1)
    new = np.array([[2.0, 1.0], [-1.0, 3.0]])
    from_array = model.predict_response(new)
    from_frame = framed.predict_response(pd.DataFrame(new, columns=["x0", "x1"]))
    pd.testing.assert_frame_equal(from_array, from_frame)
    # the mixture's mean at (z=2, x=1) by hand from the mode
    mode = {k: np.asarray(v)[0] for k, v in model.param_draws().items()}
    line = model.family_.line({k: v[None] for k, v in mode.items()}, np.array([[1.0]]))[
        0, :, 0
    ]
    weights = np.exp(
        model.family_.log_weights_at({k: v[None] for k, v in mode.items()}, [[2.0]])
    )[0, :, 0]
    mixture = from_array[from_array["component"] == "mixture"]
    assert mixture["mean"].iloc[0] == pytest.approx(float(weights @ line), rel=1e-9)
    # an array with a column more (a sample id in front, say) would be read
    # by position as other covariates: refused, while the fit's layout with
    # the response beside it, named by position, is read as given
    wide = (
        "X has 3 columns besides the response, but the model was fitted on "
        "an array of 2"
    )
    ids = np.column_stack([np.arange(2.0), new])
    for call in (
        lambda: model.predict_response(ids),
        lambda: model.predict_proba(ids, [1.0, 2.0]),
        lambda: model.score(ids, [1.0, 2.0]),
    ):
        with pytest.raises(sm.StanmixInputError, match=re.escape(wide)):
            call()
    np.testing.assert_array_equal(
        model.score_samples(np.column_stack([new, [1.0, 2.0]]), response=2),
        model.score_samples(new, [1.0, 2.0]),
    )
    # a frame-fitted model does not guess an array's columns (predictors and
    # weights' covariates may have been named in any order): it says how to
    # name them, in predict and predict_proba alike
    framed = sm.RegressionMixture(
        2, predictors=["x"], weights_from=["z"], engine="stanli"
    ).fit(data.X, data.y, method="optimize", seed=1)
    # its features are the covariates it read from X, not the response
    assert framed.n_features_in_ == 2
    assert list(framed.feature_names_in_) == ["x", "z"]
    fix = re.escape("name its columns, e.g. pd.DataFrame(X, columns=['x', 'z'])")
    with pytest.raises(sm.StanmixInputError, match="array's columns are named x0"):
        framed.predict_response(new)
    with pytest.raises(sm.StanmixInputError, match=fix):
        framed.predict_proba(new, [1.0, 2.0])
    # one row given as a Series is read as a column; the message says so
    for call in (
        lambda: framed.predict_proba(data.X.iloc[0], data.y.iloc[:1]),
        lambda: framed.predict_response(data.X.iloc[0]),
    ):
        with pytest.raises(sm.StanmixInputError, match=re.escape("X.iloc[[i]]")):
            call()


def test_a_response_given_by_position_counts_the_columns_of_x_as_given():
    data = sm.datasets.regressions(120, seed=1)
    frame = pd.DataFrame(
        {"x": data.X["x"], "z": np.random.default_rng(0).normal(size=120), "y": data.y}
    )

    def model():
        return sm.RegressionMixture(2, predictors=["x"], engine="stanli")

    by_name = model().fit(frame, response="y", method="optimize", seed=1)
    for position, columns in ((2, ["x", "z", "y"]), (0, ["y", "x", "z"])):
        by_position = model().fit(
            frame[columns], response=position, method="optimize", seed=1
        )
        np.testing.assert_array_equal(by_position.coef_, by_name.coef_)
    with pytest.raises(
        sm.StanmixInputError, match=r"response=3 is not a column position"
    ):
        _model(predictors=["x"]).fit(frame, response=3, method="optimize")


def test_linearly_dependent_predictors_are_refused():
    data = sm.datasets.regressions(120, seed=1, gate_coefs=((0.0,), (1.0,)))
    frame = data.X.assign(y=data.y, x2=2 * data.X["x"] + 1, x3=data.X["x"] ** 2)
    with pytest.raises(
        sm.StanmixInputError,
        match=r"the predictors 'x', 'x2' are linearly dependent",
    ):
        _model(predictors=["x", "x2", "x3"]).fit(frame, response="y", method="optimize")
    gated = frame.assign(z2=-frame["z"] / 3)
    with pytest.raises(
        sm.StanmixInputError,
        match=r"the weights' covariates 'z', 'z2' are linearly dependent",
    ):
        _model(predictors=["x"], weights_from=["z", "z2"]).fit(
            gated, response="y", method="optimize"
        )
    # a curve of x is not a linear function of it
    fitted = sm.RegressionMixture(2, predictors=["x", "x3"], engine="stanli").fit(
        frame, response="y", method="optimize", seed=1
    )
    assert fitted.coef_.shape == (2, 2)


def test_an_int_response_names_a_label_where_the_columns_are_ints():
    """As X[response] would: the column labelled 0 is the response, wherever
    it stands."""
    data = sm.datasets.regressions(120, seed=1)
    frame = pd.DataFrame({1: data.X["x"].to_numpy(), 0: data.y.to_numpy()})
    model = sm.RegressionMixture(2, engine="stanli").fit(
        frame, response=0, method="optimize", seed=1
    )
    assert model.design_.response == "0"
    assert model.design_.predictors == ("1",)


def test_an_int_order_by_names_a_label_as_the_predictors_do():
    """Where the columns are labelled by integers, predictors=[5, 2] names
    them, and so does order_by=2: the slopes of the column labelled 2 are
    ordered (the program's second predictor)."""
    data = _data()
    frame = pd.DataFrame({5: data["x1"], 2: data["x2"], 0: data["y"]}, index=data.index)
    engine = _DataEngine(stop=("optimize", "variational", "sample"))
    model = sm.RegressionMixture(2, engine=engine, predictors=[5, 2], order_by=2)
    with pytest.raises(Stop):
        model.fit(frame, response=0, seed=1)
    assert engine.data["order_by"] == 2
    assert model.get_params()["order_by"] == 2  # the setting as given


def test_a_refused_refit_leaves_the_last_fit_whole():
    data = sm.datasets.regressions(120, seed=1)
    model = sm.RegressionMixture(2, engine="stanli").fit(
        data.X, data.y, method="optimize", seed=1
    )
    before = model.predict_proba(data.X.iloc[:3], data.y.iloc[:3])
    with pytest.raises(sm.StanmixInputError, match="y has 119 values"):
        model.fit(data.X, data.y.iloc[:-1], method="optimize", seed=1)
    gated = data.X.assign(z=np.random.default_rng(0).normal(size=120))
    with pytest.raises(sm.StanmixInputError, match="bogus"):
        model.set_params(weights_from=["z"]).fit(gated, data.y, bogus=1)
    np.testing.assert_array_equal(
        model.predict_proba(data.X.iloc[:3], data.y.iloc[:3]), before
    )
    assert model.new_cells(data.X.iloc[:3], data.y.iloc[:3]).covariates.shape == (3, 1)


def test_fit_many_names_the_way_to_pass_a_response():
    with pytest.raises(sm.StanmixInputError) as info:
        sm.fit_many([(_data(), _data()["y"])], _model())
    assert str(info.value) == (
        "datasets[0] is a tuple; each data set is one array or DataFrame. For a "
        "RegressionMixture, put the response in the DataFrame and name it: "
        "fit_kwargs={'response': 'y'}"
    )


@pytest.mark.parametrize("form", ["y", "series", "response"])
def test_a_float32_response_meets_its_limit_at_its_own_precision(form):
    """As in Mixture: float32 responses recorded at 2.1 sit at the limit 2.1,
    though float(np.float32(2.1)) < 2.1."""
    y = np.array([2.1, 2.5, 3.0, 2.1, 4.0, 5.5, 2.8, 3.3, 6.0, 2.2], dtype=np.float32)
    x = np.arange(10.0)
    model = sm.RegressionMixture(1, engine="stanli")
    fit = {"lower_limit": 2.1, "method": "optimize", "seed": 1}
    if form == "response":
        model.fit(pd.DataFrame({"x": x, "y": y}), response="y", **fit)
    else:
        model.fit(x[:, None], pd.Series(y) if form == "series" else y, **fit)
    assert np.flatnonzero(model.cells_.kind[:, 0] == LEFT).tolist() == [0, 3]


def test_a_masked_response_is_missing_where_masked():
    """A numpy masked array as y: its masked values are missing responses,
    whatever lies under the mask, as NaN ones are."""
    data = _data()
    sent = []
    for y in (
        np.ma.masked_array(data["y"].to_numpy(), mask=np.arange(40) < 3),
        np.where(np.arange(40) < 3, np.nan, data["y"]),
    ):
        engine = _DataEngine(stop=("optimize", "variational", "sample"))
        with pytest.raises(Stop):
            sm.RegressionMixture(2, engine=engine).fit(data[["x1", "x2"]], y, seed=1)
        sent.append(engine.data)
    assert sent[0]["observed"][:4, 0].tolist() == [0, 0, 0, 1]
    for key in ("observed", "y", "X"):
        np.testing.assert_array_equal(sent[0][key], sent[1][key])


def test_a_response_of_numbers_stored_as_text_names_the_fix():
    """A Series response of numbers as text: the fix names the Series itself."""
    model = _model(2)
    data = _data()
    y = data.pop("y").astype(str)
    with pytest.raises(
        sm.StanmixInputError,
        match=r"^y has non-numeric column\(s\) 'y' \(text; numbers stored as text, "
        r"e\.g\. '[-0-9.e]+' in row 0\); convert them, e\.g\. y = pd\.to_numeric\(y\)$",
    ):
        model.fit(data, y, method="optimize", seed=1)
    assert model.engine.calls == {}


def test_dummy_coded_categories_are_covariates_and_text_is_advised_so():
    """pd.get_dummies gives boolean columns: a regression reads them as 0
    and 1 in fit and predict, as the same columns in floats; a column of
    categories as text is refused saying to code it, not to drop it."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, 120)
    site = rng.choice(["A", "B", "C"], 120)
    y = np.where(rng.random(120) < 0.5, 1 + 2 * x, 15 - x) + rng.normal(0, 0.5, 120)
    frame = pd.DataFrame({"dose": x, "site": site, "y": y})
    coded = pd.get_dummies(frame, columns=["site"], drop_first=True)
    assert coded[["site_B", "site_C"]].dtypes.map(pd.api.types.is_bool_dtype).all()
    floats = coded.astype({"site_B": float, "site_C": float})
    fits = [
        sm.RegressionMixture(2, engine="stanli").fit(
            X, response="y", method="optimize", seed=1
        )
        for X in (coded, floats)
    ]
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)
    pd.testing.assert_frame_equal(
        fits[0].predict_response(coded.iloc[:3]),
        fits[1].predict_response(floats.iloc[:3]),
    )
    with pytest.raises(sm.StanmixInputError) as err:
        sm.RegressionMixture(2, predictors=["dose", "site"], engine="stanli").fit(
            frame, response="y", method="optimize"
        )
    assert str(err.value).endswith(
        "a covariate is a number: code categories as 0/1 columns, e.g. "
        "pd.get_dummies(X, columns=['site'], drop_first=True), or leave them out "
        "of predictors (a response is a number too)"
    )


def test_a_response_given_twice_to_new_data_is_refused():
    """New data holding the fitted response's column, and y with other
    values: which is meant cannot be told (y used to win in silence), so
    they are refused; the same values twice are one response."""
    data = sm.datasets.regressions(150, seed=1)
    model = sm.RegressionMixture(2, engine="stanli").fit(
        data.X.assign(y=data.y), response="y", method="optimize", seed=1
    )
    new = pd.DataFrame({"x": [5.0, 5.0], "y": [3.0, 3.0]})
    for call in (model.predict_proba, model.score, model.score_samples):
        with pytest.raises(sm.StanmixInputError, match="give the response once"):
            call(new, np.array([5.5, 5.5]))
    assert model.predict_proba(new).shape == (2, 2)
    assert model.predict_proba(new[["x"]], np.array([3.0, 3.0])).tolist() == (
        model.predict_proba(new).tolist()
    )
    # The same values both ways (score(test, test["y"])) are one response.
    assert model.score(new, new["y"]) == model.score(new)


def test_nearly_dependent_predictors_are_warned_of():
    """A predictor that is another plus noise of 1e-4 of its spread (R^2
    about 1 - 1e-8): fitted, with a warning naming both; predictors
    correlated at 0.9 are not warned of."""
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 10, 150)
    y = np.where(rng.random(150) < 0.5, 1 + 2 * x, 15 - x) + rng.normal(0, 0.5, 150)
    near = pd.DataFrame({"x": x, "x_copy": x + 1e-4 * rng.normal(size=150)})
    with pytest.warns(UserWarning, match=r"the predictors 'x', 'x_copy' are nearly"):
        with pytest.raises(Stop):  # warned before any Stan call
            _model().fit(near, y, method="optimize", seed=1)
    other = x + rng.normal(0, 1.5, 150)  # correlation about 0.9
    assert 0.85 < np.corrcoef(x, other)[0, 1] < 0.95
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(Stop):
            _model().fit(
                pd.DataFrame({"x": x, "other": other}), y, method="optimize", seed=1
            )


def test_a_predictor_named_intercept_is_refused_under_the_default_ordering():
    data = sm.datasets.regressions(60, seed=1)
    with pytest.raises(sm.StanmixInputError, match="a predictor is named 'intercept'"):
        _model().fit(data.X.rename(columns={"x": "intercept"}), data.y)


def test_slopes_the_prior_would_hold_in_the_data_units_are_warned_of():
    """standardize=False keeps the slopes' prior, normal(0, 2.5), in the
    data's units: a predictor in units a thousand times too large makes
    its typical slope (a response sd per predictor sd) far beyond it."""
    rng = np.random.default_rng(2)
    a = rng.uniform(0, 2e-3, 150)
    y = np.where(rng.random(150) < 0.5, 1 + 1000 * a, 4 - 500 * a)
    y = y + rng.normal(0, 0.3, 150)
    X = pd.DataFrame({"a": a})
    with pytest.warns(UserWarning, match=r"a slope of \S+ for 'a', beyond three"):
        with pytest.raises(Stop):
            _model(standardize=False).fit(X, y, method="optimize")
    # In units where the slope is typical, or for a rare dummy (whose small
    # sd makes no slope typical), nothing is said.
    rare = (np.arange(150) < 2).astype(float)  # sd 0.11
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(Stop):
            _model(standardize=False).fit(
                (X * 1000).assign(rare=rare), y, method="optimize"
            )


def test_a_numbered_frame_for_an_array_fit_is_told_how_to_pass_it():
    """pd.DataFrame(array) has columns 0, 1, ...; a regression fitted on an
    array named them x0, x1, ... The refusal says so and how to pass the
    data; a model fitted on integer labels has no such advice."""
    data = sm.datasets.regressions(80, seed=1)
    on_array = sm.RegressionMixture(2, engine="stanli").fit(
        data.X.to_numpy(), data.y.to_numpy(), method="optimize", seed=1
    )
    numbered = pd.DataFrame(data.X.to_numpy()[:3])
    with pytest.raises(sm.StanmixInputError, match=re.escape("pass X.to_numpy()")):
        on_array.predict_proba(numbered, data.y.to_numpy()[:3])
    labelled = sm.RegressionMixture(2, engine="stanli").fit(
        data.X.set_axis([7], axis=1), data.y, method="optimize", seed=1
    )
    with pytest.raises(sm.StanmixInputError) as info:
        labelled.predict_response(numbered)
    assert "to_numpy" not in str(info.value)


def test_new_limits_may_name_the_response_as_fitted_when_y_is_an_array():
    """Fitted with response="resp", new rows' y given as an array goes by
    "y"; limits naming "resp" (in a dict or a frame) censor it all the same,
    and "y" still works. Here the upper limit 1.5 censors the second row."""
    df = _data(60).rename(columns={"y": "resp"})
    model = sm.RegressionMixture(2, engine="stanli").fit(
        df[["x1", "resp"]], response="resp", method="optimize", seed=1
    )
    new_x = df[["x1"]].iloc[:2]
    new_y = np.array([0.0, 1.5])
    by_y = model.new_cells(new_x, new_y, upper_limit={"y": 1.5})
    assert by_y.censored[:, 0].tolist() == [False, True]
    for limits in ({"resp": 1.5}, pd.DataFrame({"resp": [np.nan, 1.5]}, new_x.index)):
        cells = model.new_cells(new_x, new_y, upper_limit=limits)
        assert cells.censored[:, 0].tolist() == [False, True]
        np.testing.assert_array_equal(
            model.predict_proba(new_x, new_y, upper_limit=limits),
            model.predict_proba(new_x, new_y, upper_limit={"y": 1.5}),
        )


@pytest.mark.parametrize(
    ("settings", "unused"),
    [
        ({"prior_gate_scale": 1.0}, "prior_gate_scale"),
        ({"weights_from": ["z"], "prior_concentration": 10.0}, "prior_concentration"),
    ],
)
def test_the_prior_of_the_other_kind_of_weights_is_refused(settings, unused):
    """Constant weights read the Dirichlet prior (prior_concentration) and
    weights of covariates (weights_from) the log-odds' prior
    (prior_gate_scale); the other one, given, changed nothing without a
    word. It is refused before any Stan call, naming it; at its default it
    passes."""
    data = sm.datasets.regressions(60, seed=1)
    X = data.X.assign(z=np.random.default_rng(0).normal(size=60))
    engine = RecordingEngine(stop=("optimize",))
    model = sm.RegressionMixture(2, engine=engine, **settings)
    with pytest.raises(sm.StanmixInputError, match=f"^{unused}=.*change nothing"):
        model.fit(X, data.y, method="optimize", seed=1)
    with pytest.raises(sm.StanmixInputError, match=f"^{unused}="):
        model.stan_input(X, data.y, seed=1)
    assert engine.calls == {}
    model.set_params(prior_gate_scale=2.5, prior_concentration=3.0)
    with pytest.raises(Stop):
        model.fit(X, data.y, method="optimize", seed=1)
