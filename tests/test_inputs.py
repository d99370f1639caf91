"""Bad input is rejected with a clear StanmixInputError before any Stan call."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import RecordingEngine, Stop

import stanmix as sm

#: Any engine call during these tests is a failure: errors must come first.
FORBIDDEN = RecordingEngine(stop=("optimize", "variational", "sample"))


@pytest.fixture(autouse=True)
def no_stan_calls():
    yield
    assert not FORBIDDEN.calls, "a Stan call was made before the input was validated"


Y = np.array([0.1, 0.5, 2.0, 2.2, 3.1, -1.0])
FRAME = pd.DataFrame({"x": [0.1, 0.5, 2.0, 2.2], "y": [1.0, 2.0, 3.0, 4.0]})


def fit_normal(y, **kwargs):
    params = {
        k: kwargs.pop(k)
        for k in (
            "n_components",
            "sigma",
            "hdi_prob",
            "relabel",
            "engine",
            "prior_mean_scale",
        )
        if k in kwargs
    }
    params.setdefault("engine", FORBIDDEN)
    return sm.NormalMixture(**params).fit(y, **kwargs)


def fit_diag(X, **kwargs):
    names = ("n_components", "anchor_dim", "joint", "relabel")
    params = {k: kwargs.pop(k) for k in names if k in kwargs}
    return sm.DiagonalMixture(engine=FORBIDDEN, **params).fit(X, **kwargs)


def fit_mixture(X, **kwargs):
    names = ("n_components", "family", "covariance", "family_options", "ordered")
    params = {k: kwargs.pop(k) for k in names if k in kwargs}
    return sm.Mixture(engine=FORBIDDEN, **params).fit(X, **kwargs)


def two_starts(**entries) -> dict:
    """A start of two components in two columns, with ``entries`` added or
    replaced."""
    return {
        "w": [0.5, 0.5],
        "mu": [[0, 0], [1, 1]],
        "sigma": [[1, 1], [1, 1]],
        **entries,
    }


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (
            lambda: fit_normal(np.array([1.0, np.nan, 2.0])),
            "row(s) 1 have every cell missing",
        ),
        (lambda: fit_normal(np.array([1.0, np.inf, 2.0])), "infinite values at row 1"),
        (
            lambda: fit_diag(
                np.where(np.arange(2000)[:, None] % 2, np.inf, np.ones((1, 2)))
            ),
            "row 1, column 'x0'; row 1, column 'x1'; row 3, column 'x0'; row 3, "
            "column 'x1'; row 5, column 'x0' and 1995 more; replace",
        ),
        (lambda: fit_normal(np.array([])), "is empty"),
        (
            lambda: fit_normal(Y, n_components=0),
            "n_components must be a positive integer",
        ),
        (
            lambda: fit_normal(Y, n_components=2.5),
            "n_components must be a positive integer",
        ),
        (
            lambda: fit_normal(Y, n_components=7),
            "larger than the number of observations (6)",
        ),
        (lambda: fit_normal(np.array(["a", "b"])), "must be numeric"),
        (
            lambda: fit_normal(pd.DataFrame({"y": ["a", "b"]})),
            "non-numeric column(s) 'y'",
        ),
        (lambda: fit_normal(np.ones((3, 2))), "use Mixture or DiagonalMixture"),
        (lambda: fit_normal(np.ones((2, 2, 2))), "shape (2, 2, 2)"),
        (lambda: fit_normal(Y, method="mcmc"), "unknown method 'mcmc'"),
        (lambda: fit_normal(Y, engine="pystan"), "unknown engine 'pystan'"),
        (lambda: fit_normal(Y, init="jitter"), "unknown init 'jitter'"),
        (lambda: fit_normal(Y, relabel="magic"), "unknown relabel 'magic'"),
        (lambda: fit_normal(Y, init=3), "init must be a name or parameter values"),
        (lambda: fit_normal(Y, init=[]), "init is an empty list"),
        (lambda: fit_normal(Y, init={"w": [0.5, 0.5]}), "keys 'w', 'mu' and 'sigma'"),
        (
            lambda: fit_normal(
                Y, init={"w": [0.5, 0.5], "mu": [0, 1], "sigma": [1, 1], "nu": [3, 3]}
            ),
            "unknown keys in init: 'nu'",
        ),
        (
            lambda: fit_normal(
                Y,
                chains=2,
                init=[{"w": [0.5, 0.5], "mu": [0, 1], "sigma": [1, 1]}] * 2
                + [{"w": [0.5, 0.5], "mu": [0, 1], "sigma": [1, 1], "x": 1}],
            ),
            "init has 3 dicts for 2 chains",
        ),
        (
            lambda: fit_normal(
                Y,
                chains=2,
                init=[
                    {"w": [0.5, 0.5], "mu": [0, 1], "sigma": [1, 1]},
                    {"w": [0.5, 0.5], "mu": [0, 1], "sigma": [1, 1], "x": 1},
                ],
            ),
            "unknown keys in init[1]: 'x'",
        ),
        (
            lambda: fit_normal(
                Y, init={"w": [0.5, 0.5], "mu": [0, 1, 2], "sigma": [1, 1]}
            ),
            "init: 'mu' needs shape (2, 1) or (2,), got (3,)",
        ),
        (
            lambda: fit_diag(
                FRAME,
                init={"w": [0.5, 0.5], "mu": [[0, 1], [2, 3]], "sigma": [1, 2]},
            ),
            "init: 'sigma' needs shape (2, 2), got (2,); 2 values could be one per "
            "component or one per column",
        ),
        (
            lambda: fit_diag(
                FRAME.assign(z=0.5 * FRAME["x"] + FRAME["y"]),
                init={"w": [0.5, 0.5], "mu": [[0, 1], [2, 3], [4, 5]], "sigma": [1, 2]},
            ),
            "init: 'mu' needs shape (2, 3), got (3, 2)",
        ),
        (
            lambda: fit_diag(
                FRAME,
                init={
                    "w": [0.5, 0.5],
                    "mu": pd.DataFrame([[2, 0], [3, 1]], columns=["y", "x"]),
                    "sigma": [[1, 1], [1, 1]],
                },
            ),
            "init: 'mu' is a DataFrame, whose columns a start is not matched by; "
            "give an array, its columns in X's order",
        ),
        (
            lambda: fit_diag(
                FRAME,
                init={
                    "w": pd.Series([0.3, 0.7], index=[1, 0]),
                    "mu": [[0, 0], [1, 1]],
                    "sigma": [[1, 1], [1, 1]],
                },
            ),
            "init: 'w' is a Series labelled [1, 0], whose labels a start is not "
            "matched by (entries are taken by position); give its .to_numpy(), in "
            "the order you mean",
        ),
        (
            lambda: fit_normal(
                Y, init={"w": [0.5, 0.5], "mu": [1, 1], "sigma": [1, 1]}
            ),
            "init: two components have the same mean along 'x0', the column the "
            "means are ordered by",
        ),
        (
            lambda: fit_normal(
                Y, init={"w": [np.inf, 1], "mu": [0, 1], "sigma": [1, 1]}
            ),
            "init: every value must be finite",
        ),
        (
            lambda: fit_normal(
                Y,
                method="variational",
                init=[{"w": [0.5, 0.5], "mu": [0, 1], "sigma": [1, 1]}] * 2,
            ),
            "init has 2 dicts, but ADVI starts from one point",
        ),
        (
            lambda: fit_normal(
                Y, init={"w": [0.5, 0.5], "mu": [0, 1], "sigma": [1, -1]}
            ),
            "weights and scales must be positive",
        ),
        (
            lambda: fit_normal(Y, chains=4, init=[{}, {}, {}]),
            "init has 3 dicts for 4 chains",
        ),
        (lambda: fit_normal(Y, chains=0), "chains must be at least 1"),
        (
            lambda: fit_normal(Y, algorithm="lowrank", method="variational"),
            "unknown algorithm",
        ),
        (
            lambda: fit_normal(Y, method="variational", init_scale=np.ones(3)),
            "init_scale has shape (3,); meanfield needs (5,)",
        ),
        (
            lambda: fit_normal(Y, method="variational", init_scale=-np.ones(5)),
            "init_scale must hold positive, finite standard deviations",
        ),
        (
            lambda: sm.NormalMixture(2, engine=FORBIDDEN).fit(Y, "optimize"),
            "the method is a keyword: fit(X, method='optimize')",
        ),
        (
            lambda: fit_normal(
                Y, init={"w": [0.9, 0.9], "mu": [0, 1], "sigma": [1, 1]}
            ),
            "init: 'w' sums to 1.8, not 1; give the mixing weights as proportions",
        ),
        (
            lambda: sm.Mixture(2, family="normal_regression", engine=FORBIDDEN).fit(
                FRAME
            ),
            "fit a mixture of regressions with stanmix.RegressionMixture(K)",
        ),
        (
            lambda: sm.Mixture(1, engine=FORBIDDEN).fit(np.array([[1.0, 2.0]])),
            "X has 1 sample (row): one row says nothing about clusters",
        ),
        (
            lambda: sm.NormalMixture(2, engine=FORBIDDEN).fit(Y, 0.3),
            "a limit is a keyword: fit(X, lower_limit=0.3)",
        ),
        (
            lambda: sm.NormalMixture(2, engine=FORBIDDEN).fit(Y, {"x0": 0.3}),
            "a limit is a keyword: fit(X, lower_limit={'x0': 0.3})",
        ),
        (
            lambda: fit_normal(Y, method="variational", callback=5),
            "callback must be callable",
        ),
        (
            lambda: fit_normal(Y, method="variational", eval_elbo=500, iter=100),
            "eval_elbo=500 is above iter=100",
        ),
        (lambda: fit_normal(Y, adapt_delta=1.5), "adapt_delta must be"),
        (lambda: fit_normal(Y, metric="dense"), "unknown metric 'dense'"),
        (
            lambda: fit_normal(Y, hdi_prob=1.2),
            "hdi_prob must be a number between 0 and 1",
        ),
        (
            lambda: fit_normal(Y, prior_mean_scale=0),
            "prior_mean_scale must be a positive",
        ),
        (
            lambda: fit_normal(Y, lower_limit=0.5),
            "value below its lower_limit at row 0",
        ),
        (
            lambda: fit_normal(Y, lowr_limit=0.5),
            "unknown option(s) for method='sample'",
        ),
        (
            lambda: fit_normal(Y, method="optimize", lowr_limit=0.5),
            "unknown option(s) for method='optimize' on engine 'stanli': 'lowr_limit' "
            "(did you mean 'lower_limit'?)",
        ),
        (
            lambda: fit_normal(Y, chians=2),
            "'chians' (did you mean 'chains'?); valid: adapt_engaged,",
        ),
        (
            lambda: fit_normal(Y, max_depth=5),
            "valid: adapt_engaged, inv_metric, max_treedepth",
        ),
        (
            lambda: fit_normal(Y, iter_sampling=300, iter_warmup=200, random_state=1),
            "'iter_sampling' (here: draws=), 'iter_warmup' (here: warmup=), "
            "'random_state' (here: seed=); valid: adapt_engaged,",
        ),
        (
            lambda: fit_normal(Y, tune=500, target_accept=0.9),
            "'tune' (here: warmup=), 'target_accept' (here: adapt_delta=)",
        ),
        (
            lambda: sm.Mixture(2).fit(Y, method="optimize", relabel="order"),
            "relabel is a setting of the estimator, not of fit: Mixture(..., "
            "relabel='order'), or model.set_params(relabel='order') before fit",
        ),
        (
            lambda: fit_normal(Y, method="optimize", chians=2),
            "method='optimize' on engine 'stanli': 'chians' (did you mean "
            "'chains', which method='sample' takes?); valid: iter",
        ),
        (
            lambda: fit_normal(Y, method="variational", thn=2),
            "'thn' (did you mean 'thin', which method='sample' takes?)",
        ),
        (
            lambda: fit_diag(
                FRAME,
                interval=(np.full((4, 2), -np.inf), np.full((4, 2), 9.0)),
            ),
            "interval low has infinite entries; an interval open on one side is "
            "a one-sided limit: give such cells NaN in both interval bounds and "
            "their limit in lower_limit or upper_limit",
        ),
        (
            lambda: fit_normal(Y, method="optimize", max_iter=50),
            "'max_iter' (here: iter= with method='optimize' or 'variational'); "
            "valid: iter",
        ),
        (
            lambda: fit_normal(
                Y, sigma=1.0, init={"w": [0.5, 0.5], "mu": [0, 1], "sigma": [2, 2]}
            ),
            "init: 'sigma' differs from the known scales (sigma= of NormalMixture",
        ),
        (lambda: fit_normal(Y, sigma=-1.0), "sigma must be positive and finite"),
        (
            lambda: fit_normal(Y, sigma=[1.0, 2.0, 3.0]),
            "sigma must be a positive number or 2 of them (one per component), got",
        ),
        (lambda: fit_normal(Y, sigma=True), "sigma must be a positive number or 2"),
        (lambda: fit_normal(Y, max_treedepth=0), "max_treedepth must be at least 1"),
        (
            lambda: fit_normal(Y, max_treedepth=2.5),
            "max_treedepth must be an integer, got 2.5",
        ),
        (
            lambda: fit_normal(Y, parallel_chains=-3),
            "parallel_chains must be at least 1",
        ),
        (
            lambda: fit_normal(Y, method="optimize", iter="10"),
            "iter must be an integer, got '10'",
        ),
        (lambda: fit_normal(Y, seed=-1), "seed must be at least 0"),
        (lambda: fit_normal(Y, seed=2**31), "seed must be at most 2147483647"),
        (lambda: fit_normal(Y, seed=1.5), "seed must be an integer"),
        (lambda: fit_normal(Y, adapt_delta="0.9"), "adapt_delta must be a number"),
        (lambda: fit_normal(np.ones(5)), "column 'x0' is constant"),
        (
            lambda: fit_diag(FRAME.assign(y=[2.5] + [np.nan] * (len(FRAME) - 1))),
            "column 'y' has one value (2.5) and every other cell missing",
        ),
        (  # the sd's square would underflow: the fit's numbers would be wrong
            lambda: fit_diag(FRAME.assign(y=FRAME["y"] * 1e-190)),
            "column 'y' varies by too small an amount to compute with",
        ),
        (
            lambda: fit_diag(FRAME.assign(y=FRAME["y"] * 1e190)),
            "column 'y' varies by too large an amount to compute with",
        ),
        (
            lambda: fit_diag(FRAME.assign(y=np.nan)),
            "column 'y' has no observed value",
        ),
        (
            lambda: fit_mixture(FRAME, covariance="banded"),
            "unknown covariance 'banded'",
        ),
        (
            lambda: fit_mixture(FRAME, family="gamma"),
            "unknown family 'gamma'; choose one of normal, normal_per_dimension, "
            "student_t (a mixture of regressions: RegressionMixture)",
        ),
        (
            lambda: fit_mixture(
                pd.DataFrame(np.random.default_rng(0).normal(size=(40, 31))),
                n_components=2,
                family="student_t",
                covariance="tied",
            ),
            "covariance='tied' handles at most 30 columns, got 31; use "
            "covariance='diag' or covariance='spherical' (any number of columns)",
        ),
        (
            lambda: fit_mixture(
                FRAME, family="normal_per_dimension", covariance="full"
            ),
            "family='normal_per_dimension' has no covariance='full'; it offers diag",
        ),
        (
            lambda: fit_mixture(FRAME, family_options={"lkj_eta": 2.0}),
            "unknown family_options for family='normal', covariance='diag': "
            "'lkj_eta'; valid: scale",
        ),
        (
            lambda: fit_mixture(
                FRAME, covariance="full", family_options={"nu_shape": 2.0}
            ),
            "valid: lkj_eta",
        ),
        (
            lambda: fit_mixture(
                FRAME, family="student_t", family_options={"nu_rate": -1}
            ),
            "family_options['nu_rate'] must be a positive number, got -1",
        ),
        (
            lambda: fit_mixture(FRAME, family_options=[("scale", 1.0)]),
            "family_options must be a dict",
        ),
        (
            lambda: fit_mixture(
                FRAME,
                family="student_t",
                init=two_starts(nu=[0.5, 3]),
            ),
            "'nu' must be above 1",
        ),
        (
            lambda: fit_mixture(
                FRAME,
                covariance="full",
                init=two_starts(corr=[[[1, 2], [2, 1]], [[1, 0], [0, 1]]]),
            ),
            "init: 'corr' must be 2 positive-definite 2 x 2 correlation matrices",
        ),
        (
            lambda: fit_mixture(
                FRAME,
                covariance="tied",
                init=two_starts(sigma=[1, 1], corr=[[2, 0.5], [0.5, 2]]),
            ),
            "init: 'corr' must have a unit diagonal",
        ),
        (
            lambda: fit_mixture(
                FRAME,
                family="student_t",
                covariance="full",
                init=two_starts(nu=[3, 1]),
            ),
            "init: 'nu' needs 2 values above 1",
        ),
        (  # a flat array is refused, not reshaped into matrices
            lambda: fit_mixture(
                FRAME,
                covariance="tied",
                init=two_starts(sigma=[1, 1], corr=[1, 0.5, 0.5, 1]),
            ),
            "init: 'corr' needs shape (1, 2, 2) or (2, 2), got (4,); 1 correlation",
        ),
        (
            lambda: fit_mixture(
                FRAME,
                family="student_t",
                init=two_starts(nu=[[3], [4]]),
            ),
            "init: 'nu' needs shape (2,), got (2, 1)",
        ),
        (
            lambda: fit_diag(pd.DataFrame({"x": [1.0, 2.0], "s": ["a", "b"]})),
            "non-numeric column(s) 's'",
        ),
        (lambda: fit_diag(FRAME, lower_limit={"z": 0.1}), "names column 'z'"),
        (
            lambda: fit_diag(FRAME, lower_limit={"x": 0.3}),
            "value below its lower_limit at row 0",
        ),
        (
            lambda: fit_diag(FRAME, upper_limit={"y": 3.5}),
            "value above its upper_limit at row 3",
        ),
        (lambda: fit_diag(FRAME, lower_limit=np.zeros((3, 2))), "has shape (3, 2)"),
        (
            lambda: fit_diag(
                FRAME, interval=(np.full((4, 2), 2.0), np.full((4, 2), 1.0))
            ),
            "interval low is not below high at row 0",
        ),
        (
            lambda: fit_diag(
                FRAME, interval=(np.full((4, 2), 1.0), np.full((4, 2), np.nan))
            ),
            "only one bound",
        ),
        (
            lambda: fit_diag(
                pd.DataFrame({"x": [1.0, np.nan, 3.0], "y": [1.0, np.nan, 2.0]})
            ),
            "row(s) 1 have every cell missing",
        ),
        (
            lambda: fit_diag(FRAME, censored=np.ones((4, 2), bool)),
            "is marked censored but has no lower_limit, upper_limit or interval",
        ),
        (
            lambda: fit_diag(FRAME, censored=np.zeros((4, 2)), lower_limit=0.0),
            "censored must be a boolean mask",
        ),
        (
            lambda: fit_diag(
                FRAME,
                lower_limit={"x": 0.1},
                censored=pd.DataFrame(
                    {"x": [True, pd.NA, False, False], "y": False}, dtype="boolean"
                ),
            ),
            "censored has missing (NA) entries at row 1, column 'x'; a mask cannot "
            "have missing entries",
        ),
        (
            lambda: fit_normal(
                FRAME[["x"]],
                lower_limit=0.1,
                censored=pd.array([True, False, None, False], dtype="boolean"),
            ),
            "censored has missing (NA) entries at row 2, column 'x'",
        ),
        (
            lambda: fit_diag(FRAME.set_axis(["x", "x"], axis=1)),
            "X has duplicate column names: 'x' (columns: x, x); give each column "
            "its own name",
        ),
        (
            lambda: fit_mixture(
                pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": ["u", "v", "w"]}).set_axis(
                    ["x", "x"], axis=1
                )
            ),
            "X has duplicate column names: 'x'",
        ),
        (
            lambda: fit_diag(FRAME.set_axis(pd.Index([1.0, 1], dtype=object), axis=1)),
            "X has column labels that pandas takes for one key: 1.0, 1 (equal as "
            "Python values), so no column can be read by its label; give each "
            "column its own name, e.g. X.columns = ['1.0', '1']",
        ),
        (
            lambda: fit_mixture(FRAME.set_axis([True, 1], axis=1)),
            "X has column labels that pandas takes for one key: True, 1",
        ),
        (
            lambda: fit_diag(FRAME.set_axis(["", "y"], axis=1)),
            "X has column(s) without a name at position(s) 0 (names: '', 'y'); "
            "stanmix names parameters, limits and plots by column: name every "
            "column, e.g. X.columns = ['x0', 'y']",
        ),
        (
            lambda: fit_diag(FRAME.set_axis(["x", np.nan], axis=1)),
            "X has column(s) without a name at position(s) 1 (names: 'x', nan)",
        ),
        (
            lambda: fit_diag(FRAME.set_axis([None, " "], axis=1)),
            "without a name at position(s) 0, 1",
        ),
        (
            lambda: fit_diag(FRAME, anchor_dim="z"),
            "anchor_dim='z' is not a column of the model (columns: x, y)",
        ),
        (
            lambda: fit_diag(FRAME, joint=False, relabel="stephens"),
            "which the per-dimension model (joint=False) does not have",
        ),
        (
            lambda: fit_diag(FRAME, anchor_dim=5),
            "anchor_dim=5 is neither a position (0..1) nor a column's name",
        ),
        (
            lambda: fit_diag(FRAME.set_axis([1, 0], axis=1), anchor_dim=0),
            "anchor_dim=0 picks two columns: the one named 0 (at position 1) and "
            "the one at position 0 (named '1'); give the one you mean by its name "
            "as text: '0' or '1'",
        ),
        (
            lambda: fit_diag(FRAME.set_axis([1.0, 0.0], axis=1), anchor_dim=0),
            "anchor_dim=0 picks two columns: the one named 0.0 (at position 1)",
        ),
        (
            lambda: fit_diag(FRAME, lower_limit=1.0, upper_limit=0.5),
            "lower_limit is not below upper_limit",
        ),
        (
            lambda: fit_normal(np.array(["2024-01-01", "2024-02-01"], "datetime64[D]")),
            "X must be numeric (real numbers), but it holds dates or times "
            "(dtype datetime64[D])",
        ),
        (
            lambda: fit_normal(np.array([1.0 + 0j, 2.0, 3.5])),
            "holds complex numbers (dtype complex128); Complex data not supported: "
            "pass the real part",
        ),
        (
            lambda: fit_normal(np.array([True, False, True])),
            "holds booleans (dtype bool)",
        ),
        (
            lambda: fit_diag(np.array([[1.0, True], [2.0, 3.0]], dtype=object)),
            "holds booleans (dtype object)",
        ),
        (
            lambda: fit_diag({"x": [0.1, 0.5, 2.0], "y": [1.0, 2.0, 3.0]}),
            "X is a dict (X[key] -> values); pass its columns as a DataFrame, "
            "pd.DataFrame(X)",
        ),
        (
            lambda: fit_diag(FRAME.assign(y=FRAME["y"] + 1j)),
            "non-numeric column(s) 'y' (complex numbers)",
        ),
        (
            lambda: fit_diag(FRAME.astype({"y": "category"})),
            "'y' (categorical: labels, not measurements); convert a categorical "
            "column of numbers with X['y'].astype(float); or select the numeric "
            "measurement columns, e.g. X[['x']]",
        ),
        (
            lambda: fit_diag(FRAME.astype({"y": object}).assign(y=["1", 2, 3, 4])),
            "non-numeric column(s) 'y' (text; numbers stored as text, e.g. '1' in "
            "row 0); convert them, e.g. X['y'] = pd.to_numeric(X['y']); or select "
            "the numeric measurement columns, e.g. X[['x']]",
        ),
        (
            lambda: fit_diag(FRAME.assign(y=["2.5", "<0.5", "nd", "4"])),
            "'y' (text; row 1 holds '<0.5', a censored value); record each "
            "censored cell as the number at its limit (0.5) and pass "
            "lower_limit={'y': 0.5}; or select the numeric measurement columns",
        ),
        (
            lambda: fit_diag(FRAME.assign(y=["2.5", ">= 40", "nd", "4"])),
            "'y' (text; row 1 holds '>= 40', a censored value); record each "
            "censored cell as the number at its limit (40) and pass "
            "upper_limit={'y': 40}",
        ),
        (
            lambda: fit_diag(FRAME.assign(y=["<2.5", "<0.5", "3", "<0.5"])),
            "'y' (text; row 0 holds '<2.5', a censored value); the column's < "
            "cells name 2 different limits: record each censored cell as the "
            "number at its own limit and pass lower_limit= a DataFrame shaped as "
            "the data holding each cell's limit (NaN where a cell has none); the "
            "command line reads such cells itself (stanmix fit --censored-text)",
        ),
        (
            lambda: fit_diag(FRAME.assign(y=["2.5", "nd", "<0.5", "4"])),
            "'y' (text; row 1 holds 'nd'); select the numeric measurement "
            "columns, e.g. X[['x']]",
        ),
        (lambda: fit_diag(FRAME, lower_limit=True), "lower_limit must be a number"),
        (lambda: fit_diag(FRAME, lower_limit="0.1"), "lower_limit must be a number"),
        (
            lambda: fit_diag(FRAME, lower_limit=np.zeros((4, 2), bool)),
            "lower_limit holds booleans",
        ),
        (
            lambda: fit_diag(
                FRAME,
                lower_limit=0.0,
                censored=pd.DataFrame({"x": [True, False, False, False], "z": True}),
            ),
            "censored has column(s) 'z' that are not in the data",
        ),
        (
            lambda: fit_diag(
                FRAME, lower_limit=pd.DataFrame({"x": 0.1}, index=[0, 1, 2, 99])
            ),
            "lower_limit's row index does not match the data's: it has label(s) "
            "99 that the data has not and it has no row for the data's label(s) 3",
        ),
        (
            lambda: fit_diag(
                FRAME.set_axis(list("abcd")),
                upper_limit=pd.DataFrame({"y": 9.0}, index=range(4)),
            ),
            "upper_limit's row index does not match the data's",
        ),
        (
            lambda: fit_diag(FRAME, lower_limit=pd.Series([0.1, 0.2])),
            "lower_limit is a Series, but the data has 2 columns",
        ),
        (
            lambda: fit_diag(FRAME, lower_limit=pd.Series(0.1, index=FRAME.index)),
            "lower_limit is a Series with one entry per row, but the data has 2 "
            "columns; name the column it is for: lower_limit.to_frame('x') gives "
            "a DataFrame for column 'x' (other columns have none)",
        ),
        (
            lambda: fit_diag(
                FRAME.set_axis(list("abcd")),
                interval=(np.full((4, 2), 0.0), np.full((4, 2), 3.5)),
            ),
            "value outside its interval at row 'd', column 'y' (the first is 4, "
            "outside [0, 3.5])",
        ),
        (
            lambda: fit_diag(
                FRAME.set_axis(
                    pd.MultiIndex.from_product(
                        [["a", "b"], [1, 2]], names=["site", "n"]
                    )
                )
            ),
            "X has a MultiIndex on its rows (2 levels: 'site', 'n'); stanmix labels "
            "each observation with one label",
        ),
        (
            lambda: fit_diag(pd.concat([FRAME, FRAME])),
            "X's index repeats row labels (8 rows share 4 label(s), e.g. 0, as "
            "pd.concat without ignore_index=True leaves them)",
        ),
        (
            lambda: fit_diag(FRAME, method="optimize", init="pathfinder"),
            "init='pathfinder' starts NUTS chains; method='optimize' starts from "
            "'map', 'kmeans', 'random' or parameter values",
        ),
        (
            lambda: fit_diag(FRAME, method="variational", init="pathfinder"),
            "init='pathfinder' starts NUTS chains",
        ),
        (
            lambda: fit_diag(FRAME, init="random", n_starts=8),
            "n_starts=8 does not apply to method='sample' with init='random'",
        ),
        (
            lambda: fit_diag(
                FRAME,
                method="optimize",
                n_starts=2,
                init={"w": [0.5, 0.5], "mu": [[0, 1], [2, 3]], "sigma": 1.0},
            ),
            "n_starts=2 does not apply with init values: each dict given is one start",
        ),
        (
            lambda: fit_diag(FRAME, method="variational", init="kmeans", n_starts=3),
            "n_starts=3 does not apply to method='variational' with init='kmeans'",
        ),
        (
            lambda: fit_diag(FRAME, method="optimize", draws=500),
            "draws=500 does not apply to method='optimize'; leave it out",
        ),
        (
            lambda: fit_diag(FRAME, method="variational", chains=2, adapt_delta=0.9),
            "chains=2 and adapt_delta=0.9 do not apply to method='variational'; "
            "leave them out",
        ),
        (
            lambda: fit_diag(FRAME, algorithm="fullrank"),
            "algorithm='fullrank' does not apply to method='sample'",
        ),
        (
            lambda: fit_diag(FRAME, method="optimize", warmup=200, metric="diag_e"),
            "warmup=200 and metric='diag_e' do not apply to method='optimize'",
        ),
        # engine options' values are checked on every engine, before any call
        (
            lambda: fit_diag(FRAME, method="variational", eta=True),
            "eta must be a number, got True",
        ),
        (
            lambda: fit_diag(FRAME, method="variational", eta=-1),
            "eta must be a positive number, got -1.0",
        ),
        (
            lambda: fit_diag(FRAME, method="variational", tol_rel_obj=0),
            "tol_rel_obj must be a positive number",
        ),
        (
            lambda: fit_diag(FRAME, method="variational", grad_samples=0),
            "grad_samples must be at least 1",
        ),
        (
            lambda: fit_diag(FRAME, method="variational", elbo_samples=2.5),
            "elbo_samples must be an integer",
        ),
        (lambda: fit_diag(FRAME, step_size=0), "step_size must be a positive number"),
        (
            lambda: fit_diag(FRAME, adapt_engaged="no"),
            "adapt_engaged must be True or False, got 'no'",
        ),
        (
            lambda: fit_diag(FRAME, adapt_engaged=False, adapt_delta=0.9),
            "adapt_delta=0.9 tunes the step size, which adapt_engaged=False "
            "turns off; pass one or the other",
        ),
        (
            lambda: fit_diag(FRAME, method="variational", eta=0.1, adapt_iter=20),
            "adapt_iter sets the length of the search for eta, which a given eta skips",
        ),
        (
            lambda: fit_diag(FRAME, inv_metric=np.ones(3)),
            "inv_metric for metric='diag_e' must have shape (9,), one entry per "
            "unconstrained parameter of this model, got shape (3,)",
        ),
        (
            lambda: fit_diag(FRAME, metric="dense_e", inv_metric=np.ones(9)),
            "inv_metric for metric='dense_e' must have shape (9, 9)",
        ),
        (
            lambda: fit_diag(FRAME, inv_metric=-np.eye(9)),
            "inv_metric for metric='dense_e' must be symmetric positive definite",
        ),
        (
            lambda: fit_diag(FRAME, inv_metric=np.r_[np.ones(8), 0.0]),
            "inv_metric for metric='diag_e' must be positive",
        ),
        (
            lambda: fit_diag(FRAME, metric="unit_e", inv_metric=np.ones(9)),
            "inv_metric sets the metric, which metric='unit_e' fixes",
        ),
        # a setting the method does not use is named as such, whatever its value
        (
            lambda: fit_diag(FRAME, method="optimize", algorithm="newton"),
            "algorithm='newton' does not apply to method='optimize'; leave it out",
        ),
        (
            lambda: fit_diag(FRAME, method="variational", metric="dense"),
            "metric='dense' does not apply to method='variational'",
        ),
        (
            lambda: fit_diag(
                FRAME, method="optimize", adapt_delta=np.array([0.9, 0.8])
            ),
            "adapt_delta=array([0.9, 0.8]) does not apply to method='optimize'",
        ),
    ],
)
def test_bad_input_raises_clear_error(call, fragment):
    with pytest.raises(sm.StanmixInputError) as info:
        call()
    assert isinstance(info.value, ValueError)
    assert fragment in str(info.value)


def test_input_is_never_modified():
    frame = FRAME.copy()
    frame.loc[1, "y"] = np.nan
    before = frame.copy()
    limits = {"x": 0.1}
    from stanmix.censoring import cell_table

    table, _ = cell_table(frame, lower_limit=limits)
    table.values[:] = 0.0
    pd.testing.assert_frame_equal(frame, before)
    assert limits == {"x": 0.1}
    array = np.array([1.0, 2.0, 3.0])
    sm.censoring.as_matrix(array)[0][:] = 9.0
    np.testing.assert_array_equal(array, [1.0, 2.0, 3.0])


def test_a_cell_table_with_censoring_arguments_is_refused():
    from stanmix.censoring import cell_table

    table, _ = cell_table(FRAME, lower_limit={"x": 0.1})
    assert cell_table(table)[0] is table
    with pytest.raises(
        sm.StanmixInputError,
        match="X is a CellTable, which holds its censoring already; drop "
        "upper_limit, interval",
    ):
        cell_table(table, upper_limit=5.0, interval=np.zeros((3, 2)))


def test_limits_and_masks_are_matched_to_rows_by_label():
    """A DataFrame or Series of limits, bounds or flags whose index is the
    data's in another order lines up by label, not by position, and is left
    as it was."""
    from stanmix.cells import INTERVAL, LEFT, OBSERVED, RIGHT

    data = pd.DataFrame(
        {"x": [0.1, 0.5, 2.0, 2.2], "y": [1.0, 2.0, 3.0, 4.0]}, index=list("abcd")
    )
    reverse = list("dcba")
    lower = pd.DataFrame({"x": [np.nan, np.nan, np.nan, 0.1]}, index=reverse)
    upper = pd.DataFrame({"y": [4.0, np.nan, np.nan, np.nan]}, index=reverse)
    given = (lower.copy(), upper.copy())
    table, index = sm.censoring.cell_table(data, lower_limit=lower, upper_limit=upper)
    assert list(index) == list("abcd")
    assert table.kind[:, 0].tolist() == [LEFT, OBSERVED, OBSERVED, OBSERVED]
    assert table.kind[:, 1].tolist() == [OBSERVED, OBSERVED, OBSERVED, RIGHT]
    pd.testing.assert_frame_equal(lower, given[0])
    pd.testing.assert_frame_equal(upper, given[1])

    mask = pd.DataFrame({"x": [False, False, True, True]}, index=reverse)
    table, _ = sm.censoring.cell_table(data, lower_limit={"x": 1.0}, censored=mask)
    assert table.kind[:, 0].tolist() == [LEFT, LEFT, OBSERVED, OBSERVED]

    low = pd.DataFrame({"y": [np.nan, np.nan, 1.5, np.nan]}, index=reverse)
    high = pd.DataFrame({"y": [np.nan, np.nan, 2.5, np.nan]}, index=reverse)
    table, _ = sm.censoring.cell_table(data, interval=(low, high))
    assert table.kind[:, 1].tolist() == [OBSERVED, INTERVAL, OBSERVED, OBSERVED]
    assert (table.lower[1, 1], table.upper[1, 1]) == (1.5, 2.5)

    one = data[["x"]]
    per_row = pd.Series([np.nan, 0.5, np.nan, np.nan], index=list("cbda"))
    table, _ = sm.censoring.cell_table(one, lower_limit=per_row)
    assert table.kind[:, 0].tolist() == [OBSERVED, LEFT, OBSERVED, OBSERVED]


class _DataEngine(RecordingEngine):
    """A RecordingEngine that also keeps the Stan data of the stopped call
    (a fit that fails keeps none of its state, so the data show what it read)."""

    def optimize(self, stan_file, data, **kwargs):
        self.data = data
        return super().optimize(stan_file, data, **kwargs)


def _censored_cells(data: dict, side: str) -> list[tuple[int, int]]:
    """The (row, column) cells of the Stan data censored on ``side``, 0-based."""
    rows, cols = data[f"{side}_row"], data[f"{side}_col"]
    return [(int(r) - 1, int(c) - 1) for r, c in zip(rows, cols, strict=True)]


def test_limits_given_on_the_wrong_side_and_non_boolean_masks_say_the_fix():
    """Non-detects recorded at 0.5, the column's lowest value, given as an
    upper limit, limits swapped, a 0/1 mask, a mask of the wrong shape and
    one limit per row for two columns: each is refused before any Stan call
    with the fix that applies."""
    from stanmix.cells import LEFT, OBSERVED
    from stanmix.censoring import cell_table

    frame = pd.DataFrame({"x": [0.5, 0.5, 2.0, 2.2, 3.1], "y": [1.0, 2, 3, 4, 5]})
    with pytest.raises(sm.StanmixInputError) as err:
        fit_diag(frame, upper_limit={"x": 0.5})
    assert str(err.value).endswith(
        "; no value of column 'x' lies below its upper_limit and 2 sit at it: "
        "values recorded at a limit from above are non-detects below a detection "
        "limit, which is a lower_limit: pass lower_limit={'x': 0.5} instead"
    )
    with pytest.raises(sm.StanmixInputError) as err:
        fit_diag(frame, lower_limit={"x": 3.1}, upper_limit={"x": 0.5})
    assert str(err.value).endswith(
        "if the two were given the other way round, swap them"
    )
    flags = (frame == 0.5).astype(int)
    with pytest.raises(sm.StanmixInputError) as err:
        fit_diag(frame, lower_limit={"x": 0.5}, censored=flags)
    assert str(err.value) == (
        "censored must be a boolean mask (True = censored cell), got dtype int64; "
        "its entries are all 0 and 1: pass censored.astype(bool)"
    )
    with pytest.raises(sm.StanmixInputError) as err:
        fit_diag(frame, lower_limit={"x": 0.5}, censored=np.zeros((5, 1), bool))
    assert "give one True (censored) or False per cell" in str(err.value)
    with pytest.raises(sm.StanmixInputError) as err:
        fit_diag(frame, lower_limit=np.full(5, 0.5))
    assert str(err.value).endswith(
        "; for one limit per row of one column give a DataFrame naming it, e.g. "
        "lower_limit=pd.DataFrame({'x': limits}, index=X.index) (other columns "
        "have none)"
    )
    # the fix given is accepted: x's first two cells are left-censored
    table, _ = cell_table(frame, lower_limit={"x": 0.5}, censored=flags.astype(bool))
    assert table.kind[:, 0].tolist() == [LEFT, LEFT, OBSERVED, OBSERVED, OBSERVED]


def test_a_limits_mapping_from_a_nullable_table_takes_na_as_no_limit():
    """{column: limit} built with to_dict() from a nullable (Float64) row of
    limits holds None (or pd.NA) where a column has none: that column is
    uncensored, as with NaN, and the others censored at their limits."""
    from stanmix.cells import LEFT, OBSERVED
    from stanmix.censoring import cell_table

    frame = pd.DataFrame({"x": [0.1, 0.5, 2.0, 2.2], "y": [1.0, 2.0, 3.0, 4.0]})
    limits = pd.Series({"x": 0.1, "y": pd.NA}, dtype="Float64").to_dict()
    assert limits["y"] is None or limits["y"] is pd.NA
    for given in (limits, {"x": 0.1, "y": pd.NA}):
        table, _ = cell_table(frame, lower_limit=given)
        assert table.kind[:, 0].tolist() == [LEFT, OBSERVED, OBSERVED, OBSERVED]
        assert (table.kind[:, 1] == OBSERVED).all()
        assert np.isnan(table.lower_limit[:, 1]).all()


def test_nullable_boolean_masks_are_taken_as_boolean_masks():
    """A censored mask of pandas' nullable booleans without NA marks the same
    cells as a numpy one, and reaches the fit."""
    from stanmix.cells import LEFT, OBSERVED

    data = FRAME.set_axis(list("abcd"))
    mask = pd.DataFrame({"x": [True, True, False, False], "y": False}, index=data.index)
    expected = [LEFT, LEFT, OBSERVED, OBSERVED]
    for given in (
        mask,
        mask.astype("boolean"),
        mask.astype({"x": "boolean"}),  # nullable beside numpy bools
        mask[["x"]].astype("boolean"),  # the other column left out: not censored
    ):
        table, _ = sm.censoring.cell_table(data, lower_limit={"x": 1.0}, censored=given)
        assert table.kind[:, 0].tolist() == expected
        assert table.kind[:, 1].tolist() == [OBSERVED] * 4
    one = data[["x"]]
    for given in (
        mask["x"].astype("boolean"),
        pd.array([True, True, False, False], dtype="boolean"),
    ):
        table, _ = sm.censoring.cell_table(one, lower_limit=1.0, censored=given)
        assert table.kind[:, 0].tolist() == expected
    engine = _DataEngine(stop=("optimize",))
    with pytest.raises(Stop):
        sm.DiagonalMixture(2, engine=engine).fit(
            data,
            method="optimize",
            lower_limit={"x": 1.0},
            censored=mask.astype("boolean"),
        )
    assert _censored_cells(engine.data, "left") == [(0, 0), (1, 0)]


def test_true_and_false_held_as_objects_are_a_boolean_mask():
    """A mask built from lists with a blank, then fillna(False), holds True
    and False as objects (pandas keeps the object dtype): it marks the same
    cells as a boolean one, a blank left in it is named as missing, and
    numbers held as objects are still refused."""
    from stanmix.cells import LEFT, OBSERVED

    data = FRAME.set_axis(list("abcd"))
    blank = pd.DataFrame(
        {"x": [True, True, False, None], "y": False}, index=data.index
    ).astype(object)
    filled = blank.fillna(False)
    assert filled["x"].dtype == object
    for given in (filled, filled.to_numpy(), filled.to_numpy().tolist()):
        table, _ = sm.censoring.cell_table(data, lower_limit={"x": 1.0}, censored=given)
        assert table.kind[:, 0].tolist() == [LEFT, LEFT, OBSERVED, OBSERVED]
    with pytest.raises(
        sm.StanmixInputError, match="missing \\(NA\\) entries at row 'd', column 'x'"
    ):
        sm.censoring.cell_table(data, lower_limit={"x": 1.0}, censored=blank)
    with pytest.raises(sm.StanmixInputError, match="must be a boolean mask"):
        sm.censoring.cell_table(
            data, lower_limit={"x": 1.0}, censored=filled.replace({False: 0})
        )


def test_numpy_scalars_are_taken_as_numbers():
    """np.float32 options and limits are accepted, and float32 limits or data
    meet at the precision they were given in."""
    engine = _DataEngine(stop=("optimize",))
    model = sm.DiagonalMixture(2, engine=engine, hdi_prob=np.float32(0.9))
    with pytest.raises(Stop):
        model.fit(
            FRAME,
            method="optimize",
            seed=np.int32(1),
            lower_limit={"x": np.float32(0.1)},
            upper_limit=np.float64(4.0),
        )
    assert _censored_cells(engine.data, "left") == [(0, 0)]
    assert _censored_cells(engine.data, "right") == [(3, 1)]
    data = FRAME.astype(np.float32)
    table, _ = sm.censoring.cell_table(data, lower_limit={"x": 0.1, "y": 1.0})
    assert table.kind[0].tolist() == [1, 1]
    with pytest.raises(sm.StanmixInputError, match="below its lower_limit at row 0"):
        sm.censoring.cell_table(data, lower_limit={"x": 0.10001})


def test_new_data_in_an_array_are_read_as_the_fitted_data_were():
    """An array of new data keeps its precision (float32 values recorded at a
    limit of 0.1 are censored there, as in the fit) and takes the fitted
    column names in its messages; a sparse matrix is refused saying how to
    pass it."""
    scipy_sparse = pytest.importorskip("scipy.sparse")
    data = sm.datasets.blobs(80, seed=3).X.to_numpy()
    data = np.maximum(data, np.quantile(data[:, 0], 0.2)).astype(np.float32)
    limit = float(np.quantile(data[:, 0], 0.2))
    data[:, 0] = np.maximum(data[:, 0], np.float32(limit))
    limits = {"x0": limit}
    model = sm.DiagonalMixture(2, engine="stanli").fit(
        data, method="optimize", seed=1, lower_limit=limits
    )
    fitted = model.cells_.kind
    assert (fitted[:, 0] == 1).sum() >= 16
    again = model.new_cells(data, lower_limit=limits)
    np.testing.assert_array_equal(again.kind, fitted)
    assert model.bic(data, lower_limit=limits) == model.bic()

    named = sm.DiagonalMixture(2, engine="stanli").fit(
        pd.DataFrame(data.astype(float), columns=["Pb", "Zn"]),
        method="optimize",
        seed=1,
    )
    bad = data.astype(float)
    bad[3, 1] = np.inf
    with pytest.raises(sm.StanmixInputError, match="at row 3, column 'Zn'"):
        with pytest.warns(UserWarning, match=r"named columns \(Pb, Zn\)"):
            named.predict(bad)
    sparse = scipy_sparse.csr_matrix(data)
    one_column = scipy_sparse.csr_matrix(data[:, :1])
    for call, X in (
        (named.predict, sparse),
        (lambda X: sm.Mixture(2).fit(X), sparse),
        (lambda X: sm.NormalMixture(2).fit(X), one_column),
    ):
        with pytest.raises(sm.StanmixInputError) as info:
            call(X)
        assert str(info.value) == (
            "X is a sparse matrix (csr_matrix); stanmix reads dense measurements, "
            "where a missing cell is NaN rather than an implicit zero: pass "
            "X.toarray()"
        )


@pytest.mark.parametrize("far", [1e12, 1e17, 1e20])
def test_a_far_row_under_shared_scales_is_placed_exactly_or_refused(far):
    """Components that share their covariance have log-odds linear in the
    row, so a far row belongs to the component whose mean lies furthest its
    way. Where y - mu rounds to y for every mean (beyond about 1e15 of the
    scale) every log term came out the same and the row got 1/K each,
    predict the first component: such a row is now refused."""
    data = sm.datasets.correlated(200, seed=2).X
    model = sm.Mixture(3, covariance="tied", engine="stanli").fit(
        data, method="optimize", seed=1
    )
    mu, w = model.means_, model.weights_
    inv = np.linalg.inv(model.covariances_)
    row = np.array([far, 0.0])
    odds = np.log(w) + mu @ inv @ row - 0.5 * np.einsum("ka,ab,kb->k", mu, inv, mu)
    new = pd.DataFrame([row], columns=data.columns)
    if far < 1e14:
        exact = np.exp(odds - odds.max()) / np.exp(odds - odds.max()).sum()
        np.testing.assert_allclose(model.predict_proba(new)[0], exact, atol=1e-12)
        assert model.predict(new)[0] == odds.argmax()
    else:
        with pytest.raises(sm.StanmixInputError, match="lost in rounding"):
            model.predict(new)


def test_a_tie_far_out_stays_a_tie_until_rounding_could_decide_it():
    """Equal log terms are a true tie where their rounding is small (a row
    2e4 scales from two identical components: 1/2 each), and unresolved
    only where the rounding could have made or broken the tie."""
    from stanmix.likelihood import _probabilities

    for lp, expected in (
        (-2e8, [0.5, 0.5]),  # rounding about 3e-6 in log-odds
        (-1e20, [np.nan, np.nan]),  # rounding about 1e6
    ):
        terms = np.full((1, 2, 1), lp)
        np.testing.assert_array_equal(
            _probabilities(terms, np.float64)[0, :, 0], expected
        )


def test_a_row_beyond_the_reach_of_every_component_is_named_not_given_nan():
    """A cell 1e160 scales out makes the density 0 in floating point under
    every component: its membership is refused naming the row (predict used
    to give component 0 for the NaN probabilities); its score is -inf."""
    data = sm.datasets.blobs(80, seed=3).X
    model = sm.Mixture(2, engine="stanli").fit(data, method="optimize", seed=1)
    new = pd.DataFrame(
        {"x": [0.0, 1e160, 1.0], "y": [0.0, 0.0, 1e300]}, index=["a", "b", "c"]
    )
    for call in (model.predict, model.predict_proba):
        with pytest.raises(sm.StanmixInputError) as info:
            call(new)
        assert str(info.value).startswith(
            "rows 'b', 'c' lie so far from every component that the membership "
            "cannot be computed in floating point: the density underflows to 0 "
            "under each"
        )
        with pytest.raises(sm.StanmixInputError, match=r"^row 1 lies so far"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # names not given
                call(new.to_numpy()[:2])
        with pytest.raises(sm.StanmixInputError, match=r"^row 1 lies so far"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                call(new.to_numpy()[:2].tolist())  # a list's .index is a method
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warnings on the way
        scores = model.score_samples(new)
    assert np.isfinite(scores[0]) and np.all(np.isneginf(scores[1:]))
    assert model.predict_proba(new.iloc[:1]).shape == (1, 2)

    reg = sm.datasets.regressions(200, seed=1)
    lines = sm.RegressionMixture(2, engine="stanli").fit(
        reg.X, reg.y, method="optimize", seed=1
    )
    far = reg.X.iloc[:3].copy()
    with pytest.raises(sm.StanmixInputError, match=r"^row 1 lies so far"):
        lines.predict_proba(far, np.array([0.0, 1e200, 0.0]))


def test_optimizer_options_reach_every_start():
    """method="optimize" passes its engine options (here ``iter``) to each
    optimizer start, not only the validation of their names."""
    engine = RecordingEngine(stop=("optimize",))
    model = sm.NormalMixture(2, engine=engine)
    with pytest.raises(Stop):
        model.fit(FRAME["x"].to_numpy(), method="optimize", iter=50, seed=1)
    assert engine.calls["optimize"]["iter"] == 50


class _NoModes(RecordingEngine):
    """Every optimizer start fails, as on data with a degenerate mode."""

    def optimize(self, stan_file, data, **kwargs):
        raise RuntimeError("line search failed")


def test_sampling_starts_from_kmeans_when_no_mode_is_found():
    engine = _NoModes(stop=("sample",))
    model = sm.NormalMixture(2, engine=engine)
    with pytest.warns(RuntimeWarning, match="no posterior mode was found"):
        with pytest.raises(Stop):
            model.fit(FRAME["x"].to_numpy(), seed=1, show_progress=False)
    inits = engine.calls["sample"]["inits"]
    assert len(inits) == 4 and all("w_simplex" in init for init in inits)
    with pytest.raises(RuntimeError, match="line search failed"):
        sm.NormalMixture(2, engine=_NoModes()).fit(
            FRAME["x"].to_numpy(), method="optimize", seed=1
        )
    # ADVI has no chains: the warning says what it starts from
    engine = _NoModes(stop=("variational",))
    with pytest.warns(RuntimeWarning, match="ADVI starts from the first k-means"):
        with pytest.raises(Stop):
            sm.NormalMixture(2, engine=engine).fit(
                FRAME["x"].to_numpy(), method="variational", seed=1
            )


@pytest.mark.parametrize("method", ["optimize", "variational"])
def test_random_inits_reach_the_optimizer_and_advi(method):
    """init="random" gives the engine no init (Stan's own random inits): for
    each of the n_starts optimizer starts, and for ADVI."""
    X = sm.datasets.blobs(200, seed=1).X
    engine = RecordingEngine(stop=())
    seen = []
    real = engine.optimize if method == "optimize" else engine.variational

    def spy(stan_file, data, **kwargs):
        seen.append(kwargs["init"])
        return real(stan_file, data, **kwargs)

    setattr(engine, method, spy)
    extra = {"n_starts": 3} if method == "optimize" else {"draws": 100}
    model = sm.DiagonalMixture(5, engine=engine)
    model.fit(X, method=method, init="random", seed=1, **extra)
    if method == "optimize":
        # three random starts, then the best one's end point confirmed as a mode
        assert seen[:3] == [None] * 3 and len(seen) == 4
        assert "w_simplex" in seen[3]
    else:
        assert seen == [None]
    if method == "optimize":
        # Random starts miss the five-blob mode the k-means starts find.
        default = sm.DiagonalMixture(5).fit(X, method="optimize", seed=1, n_starts=3)
        assert model.optimize_lps_.max() < default.optimize_lps_.max() - 10


def test_fit_signature_has_the_documented_defaults():
    """The refusal of settings a method does not use compares with
    FIT_DEFAULTS; they must be fit's own defaults."""
    import inspect

    from stanmix.inference.settings import FIT_DEFAULTS

    parameters = inspect.signature(sm.Mixture.fit).parameters
    assert {name: parameters[name].default for name in FIT_DEFAULTS} == FIT_DEFAULTS


# -- detection limits kept in the cell table ----------------------------------


def test_cell_table_keeps_the_limits_in_force_for_every_cell():
    """Limits given per column, per row or per cell are kept for every cell
    they were given for, censored or not (NaN where none); the user's
    arrays are not modified or shared."""
    from stanmix.cells import LEFT, RIGHT
    from stanmix.censoring import cell_table

    X = pd.DataFrame({"a": [0.0, 1.0, -3.0, 2.0], "b": [5.0, 9.0, 1.0, 2.0]})
    per_row = np.array([0.0, 0.0, -3.0, -3.0])
    upper = pd.DataFrame({"a": [np.nan] * 4, "b": [np.nan, 9.0, np.nan, 8.0]})
    kept = (per_row.copy(), upper.copy())
    cells, _ = cell_table(X, lower_limit={"a": -3.0}, upper_limit={"b": 9.0})
    np.testing.assert_array_equal(cells.lower_limit, [[-3.0, np.nan]] * 4)
    np.testing.assert_array_equal(cells.upper_limit, [[np.nan, 9.0]] * 4)
    cells, _ = cell_table(X[["a"]], lower_limit=per_row)
    np.testing.assert_array_equal(cells.lower_limit[:, 0], per_row)
    assert cells.lower_limit is not per_row
    np.testing.assert_array_equal(cells.kind[:, 0] == LEFT, [True, False, True, False])
    cells, _ = cell_table(X, upper_limit=upper)
    np.testing.assert_array_equal(cells.upper_limit, upper.to_numpy())
    np.testing.assert_array_equal(
        cells.kind[:, 1] == RIGHT, [False, True, False, False]
    )
    assert np.isnan(cells.lower_limit).all()
    np.testing.assert_array_equal(per_row, kept[0])
    pd.testing.assert_frame_equal(upper, kept[1])


def test_cell_table_limits_follow_rows_units_and_covariates():
    from stanmix.cells import CellTable
    from stanmix.censoring import cell_table

    X = pd.DataFrame({"a": [0.0, 1.0, -3.0, 2.0]})
    cells, _ = cell_table(X, lower_limit=np.array([0.0, 0.0, -3.0, -3.0]))
    np.testing.assert_array_equal(cells.rows([1, 2]).lower_limit[:, 0], [0.0, -3.0])
    moved = cells.affine([1.0], [2.0])
    np.testing.assert_array_equal(moved.lower_limit[:, 0], [-0.5, -0.5, -2.0, -2.0])
    assert np.isnan(moved.upper_limit).all()
    both = cells.with_covariates([1.0, 2.0, 3.0, 4.0], ["dose"])
    np.testing.assert_array_equal(both.lower_limit, cells.lower_limit)
    # Tables without known limits (values, program data) keep None,
    # and so do their rows and units.
    plain = CellTable.from_values(X.to_numpy())
    assert plain.lower_limit is None and plain.rows([0]).upper_limit is None
    assert plain.affine([0.0], [1.0]).lower_limit is None
    with pytest.raises(ValueError, match="lower_limit must have shape"):
        CellTable(
            plain.values,
            plain.kind,
            plain.lower,
            plain.upper,
            lower_limit=np.zeros((2, 1)),
        )


def test_a_cell_table_pickled_before_limits_were_kept_still_works():
    """An older pickle has no limit fields: they read as None (unknown)."""
    import pickle

    from stanmix import checks
    from stanmix.cells import CellTable

    table = CellTable.from_values([[1.0], [np.nan]], ["y"])
    state = {k: v for k, v in vars(table).items() if not k.endswith("_limit")}
    old = object.__new__(CellTable)
    old.__dict__.update(state)
    loaded = pickle.loads(pickle.dumps(old))
    assert "lower_limit" not in vars(loaded)
    assert loaded.lower_limit is None and loaded.upper_limit is None
    assert loaded.rows([0]).lower_limit is None
    assert np.isnan(checks._limits(loaded).lower).all()


def test_an_object_column_of_numbers_is_read_as_numbers():
    """A DataFrame column of dtype object holding real numbers and None (a
    frame assembled from Python values) is read as its numbers, as the same
    values in an object array are; the frame is left as it was."""
    X = sm.datasets.blobs(120, seed=2).X
    X.iloc[3, 0] = np.nan
    as_objects = X.astype({"x": object})
    as_objects.iloc[3, 0] = None
    kept = as_objects.copy()
    fitted = sm.DiagonalMixture(3, engine="stanli").fit(
        as_objects, method="optimize", seed=1
    )
    plain = sm.DiagonalMixture(3, engine="stanli").fit(X, method="optimize", seed=1)
    np.testing.assert_array_equal(fitted.means_, plain.means_)
    pd.testing.assert_frame_equal(as_objects, kept)
    # pd.NA (a frame built from nullable values) is missing as None is.
    with_na = as_objects.copy()
    with_na.iloc[3, 0] = pd.NA
    kept = with_na.copy()
    np.testing.assert_array_equal(
        plain.predict_proba(with_na.iloc[:10]), plain.predict_proba(X.iloc[:10])
    )
    pd.testing.assert_frame_equal(with_na, kept)


def test_a_column_of_decimals_is_read_as_numbers():
    """pd.read_sql gives a database's NUMERIC columns as Decimal objects:
    they are real numbers, read as the floats they stand for (a limit given
    as a Decimal too), not refused as objects that are not numbers."""
    from decimal import Decimal

    X = sm.datasets.blobs(120, seed=2).X.round(2)
    X["x"] = X["x"].clip(lower=-4.0)
    as_decimals = X.map(lambda v: Decimal(repr(v)))
    as_decimals.iloc[3, 1] = None
    kept = as_decimals.copy()
    fitted = sm.DiagonalMixture(3, engine="stanli").fit(
        as_decimals, lower_limit={"x": Decimal("-4.0")}, method="optimize", seed=1
    )
    X.iloc[3, 1] = np.nan
    plain = sm.DiagonalMixture(3, engine="stanli").fit(
        X, lower_limit={"x": -4.0}, method="optimize", seed=1
    )
    np.testing.assert_array_equal(fitted.cells_.kind, plain.cells_.kind)
    np.testing.assert_array_equal(fitted.means_, plain.means_)
    pd.testing.assert_frame_equal(as_decimals, kept)
    as_decimals.iloc[5, 0] = Decimal("1e400")
    with pytest.raises(sm.StanmixInputError, match="too large for a float"):
        plain.predict(as_decimals)


def test_a_nan_cell_where_a_limit_is_given_is_missing_and_said_so():
    """A lab's blank for "below the limit" is not a censored cell unless it is
    recorded at the limit or marked; the user is told which reading was
    taken, pointing at the calling line."""
    from stanmix.cells import LEFT, MISSING
    from stanmix.censoring import cell_table

    df = pd.DataFrame({"x": [0.5, np.nan, 2.0, 3.0], "y": [1.0, 2.0, np.nan, 4.0]})
    with pytest.warns(UserWarning) as seen:
        table, _ = cell_table(df, lower_limit={"x": 0.5})
    (warning,) = seen
    assert str(warning.message) == (
        "1 NaN cell(s) where a limit is given (at row 1, column 'x') are taken as "
        "missing, not censored; if they stand for values beyond the limit, record "
        "them at the limit or mark them in `censored`"
    )
    assert warning.filename == __file__
    assert table.kind[:, 0].tolist() == [LEFT, MISSING, 0, 0]
    marked, _ = cell_table(
        df, lower_limit={"x": 0.5}, censored=df.isna() & (df.columns == "x")
    )
    assert marked.kind[:, 0].tolist() == [0, LEFT, 0, 0]


def test_limits_tables_of_nullable_numbers_take_na_as_no_limit():
    from stanmix.censoring import cell_table

    df = pd.DataFrame({"x": [0.1, 1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0, 4.0]})
    limits = pd.DataFrame({"x": [0.1] * 4}, dtype="Float64")
    limits.loc[2, "x"] = pd.NA
    table, _ = cell_table(df, lower_limit=limits)
    np.testing.assert_array_equal(table.lower_limit[:, 0], [0.1, 0.1, np.nan, 0.1])


def test_an_interval_with_equal_bounds_is_a_measured_value():
    """Bounds equal to float64 rounding (a relative 1e-9 of the bounds or of
    the column's interquartile range) give a measured value, as survival
    data's interval encoding does: the recorded value, or the bounds'
    middle. Wider intervals stay intervals, also beside one wild value that
    a column's largest magnitude would have let swallow them; reversed ones
    are refused."""
    from stanmix.cells import INTERVAL, OBSERVED
    from stanmix.censoring import cell_table

    df = pd.DataFrame({"x": [np.nan, 1.0, np.nan, np.nan, 5.0]})
    low = np.array([[2.0], [1.0], [-1e-300], [3.0], [np.nan]])
    high = np.array([[2.0], [1.0 + 1e-12], [0.0], [3.0 + 1e-6], [np.nan]])
    table, _ = cell_table(df, interval=(low, high), censored=np.isnan(df))
    assert table.kind[:, 0].tolist() == [OBSERVED] * 3 + [INTERVAL, OBSERVED]
    assert table.values[:3, 0].tolist() == [2.0, 1.0, -5e-301]
    assert (table.lower[3, 0], table.upper[3, 0]) == (3.0, 3.0 + 1e-6)
    assert np.isnan(df.iloc[0, 0]) and low[0, 0] == 2.0  # nothing passed is changed
    with pytest.raises(sm.StanmixInputError, match=r"or low == high for a measured"):
        cell_table(df, interval=(high + 1e-3, low))
    small = pd.DataFrame({"x": [np.nan, 1.1e-3, 0.9e-3, 1.0e-3, 1e6]})
    low = np.array([[0.5e-3], *[[np.nan]] * 4])
    table, _ = cell_table(small, interval=(low, low + 1e-9))
    assert table.kind[0, 0] == INTERVAL


def test_a_narrow_interval_fits_as_the_measured_value():
    """A value reported as an interval 1e-12 wide stopped the optimizer (the
    probability of so narrow an interval is lost to rounding); it now fits
    exactly as the value itself."""
    X = sm.datasets.blobs(100, seed=1).X
    low = np.full(X.shape, np.nan)
    high = np.full(X.shape, np.nan)
    low[0, 0], high[0, 0] = X.iloc[0, 0], X.iloc[0, 0] + 1e-12
    narrow = sm.DiagonalMixture(5, engine="stanli").fit(
        X, method="optimize", seed=1, interval=(low, high)
    )
    plain = sm.DiagonalMixture(5, engine="stanli").fit(X, method="optimize", seed=1)
    np.testing.assert_array_equal(narrow.means_, plain.means_)


def test_a_censored_mask_may_mark_interval_cells():
    from stanmix.cells import INTERVAL, LEFT
    from stanmix.censoring import cell_table

    df = pd.DataFrame({"x": [0.1, 1.0, 2.0, 3.0], "y": [1.0, 2.0, np.nan, 4.0]})
    low = pd.DataFrame({"y": [None, None, 2.5, None]}, dtype=float)
    high = pd.DataFrame({"y": [None, None, 3.5, None]}, dtype=float)
    mask = pd.DataFrame({"x": [True, False, False, False], "y": [0, 0, 1, 0]}) > 0
    table, _ = cell_table(
        df,
        lower_limit={"x": 0.1},
        censored=mask,
        interval=(low.reindex(columns=["x", "y"]), high.reindex(columns=["x", "y"])),
    )
    assert table.kind[0, 0] == LEFT and table.kind[2, 1] == INTERVAL
    with pytest.raises(sm.StanmixInputError) as info:
        cell_table(df, lower_limit={"x": 0.1}, censored=mask)
    assert str(info.value) == (
        "row 2, column 'y' is marked censored but has no lower_limit, upper_limit "
        "or interval"
    )


def test_cells_marked_censored_must_be_at_or_beyond_a_limit():
    """An assay with a lower and an upper quantitation limit on every cell:
    the marked cells' values say which limit each is beyond (a placeholder
    such as half the limit counts as below it); a marked cell recorded
    inside its limits is a measured value taken for a censored one, refused."""
    from stanmix.cells import LEFT, OBSERVED, RIGHT
    from stanmix.censoring import cell_table

    df = pd.DataFrame({"x": [0.5, 0.25, 3.0, 9.0, 4.0], "y": [1.0, 2.0, 3.0, 4.0, 5]})
    limits = {"lower_limit": {"x": 0.5}, "upper_limit": {"x": 9.0}}
    mask = pd.DataFrame({"x": [True, True, False, True, False], "y": False})
    table, _ = cell_table(df, censored=mask, **limits)
    assert table.kind[:, 0].tolist() == [LEFT, LEFT, OBSERVED, RIGHT, OBSERVED]
    assert table.upper[:2, 0].tolist() == [0.5, 0.5]
    assert table.lower[3, 0] == 9.0
    inside = mask.assign(x=[True, False, True, False, True])
    with pytest.raises(sm.StanmixInputError) as info:
        cell_table(df, censored=inside, **limits)
    assert str(info.value) == (
        "cell(s) marked in `censored` at row 2, column 'x'; row 4, column 'x' "
        "lie between their lower_limit and upper_limit (the first is 3.0): a "
        "censored value is recorded at or beyond the limit it is censored at. "
        "Unmark measured cells in `censored`, or record the censored ones at "
        "their limit"
    )
    # One limit: a marked value above a lower limit, or below an upper one.
    with pytest.raises(sm.StanmixInputError, match="above their lower_limit"):
        cell_table(df, censored=~mask, lower_limit={"x": 0.5})
    with pytest.raises(sm.StanmixInputError, match="below their upper_limit"):
        cell_table(df, censored=mask, upper_limit={"x": 9.0})
    # No value to tell the side.
    blank = df.assign(x=[np.nan, 0.25, 3.0, 9.0, 4.0])
    with pytest.raises(sm.StanmixInputError) as info:
        cell_table(blank, censored=mask, **limits)
    assert str(info.value) == (
        "cell(s) marked in `censored` at row 0, column 'x' have both limits and "
        "no value to say which one they are beyond: record each at the limit it "
        "is beyond, or give the cell as an `interval`"
    )


def _one_warning(make_table, *args, **kwargs):
    """The cell table ``make_table`` returns and the text of the one
    warning it gives (failing on none or more)."""
    with pytest.warns(UserWarning) as record:
        table, _ = make_table(*args, **kwargs)
    (message,) = [str(w.message) for w in record]
    return table, message


def test_a_batch_whose_values_miss_its_own_limit_is_warned_of():
    """Two batches with their own limits: batch b's non-detects were written
    rounded (0.14 for a limit of 0.135). Batch a meets its limit, which must
    not hide that batch b meets none of its rows' limit."""
    from stanmix.censoring import cell_table

    batch_a = [0.75] * 6 + [1.0, 2.0, 3.0, 4.0]
    batch_b = [0.14] * 6 + [1.5, 2.5, 3.5, 4.5]
    X = pd.DataFrame({"x": batch_a + batch_b})
    limits = pd.DataFrame({"x": [0.75] * 10 + [0.135] * 10})
    table, message = _one_warning(cell_table, X, lower_limit=limits)
    assert message == (
        "lower_limit of column 'x' matches none of the values of the 10 rows "
        "whose limit is 0.135, so none of them is censored, while 6 of those "
        "values sit at their lowest, 0.14: if 0.14 is those rows' limit (rounded "
        "otherwise, or in other units), give it to them"
    )
    assert (table.kind[:6, 0] == 1).all() and (table.kind[10:, 0] == 0).all()


_ROUNDED_LIMITS = [0.512, 0.577, 0.634, 0.705] * 5
_MEASURED = [1.03, 1.21, 1.5, 1.77, 2.04, 2.3, 2.41, 2.69, 2.8, 3.12, 3.3, 3.57]


def test_per_row_limits_written_rounded_up_in_place_of_values_are_warned_of():
    """A lab export that writes each non-detect as its own row's limit
    rounded up (0.58 for 0.577) leaves every such cell above its limit, so
    it would be fitted as a measured value: one warning for the column,
    whose advised fix censors exactly those cells and leaves other columns
    alone."""
    from stanmix.censoring import cell_table

    limits = pd.DataFrame({"Pb": _ROUNDED_LIMITS, "Hg": 0.0005})
    hg = np.linspace(0.0011, 0.0049, 20).round(4)
    X = pd.DataFrame({"Pb": [0.52, 0.58, 0.64, 0.71] * 2 + _MEASURED, "Hg": hg})
    table, message = _one_warning(cell_table, X, lower_limit=limits)
    assert message == (
        "8 values of column 'Pb' lie above their own row's lower_limit by less "
        "than the last digit they are written with (row 0: 0.52, limit 0.512), "
        "against 0 within the next two digits: they look like limits written "
        "rounded in place of censored values, and are fitted as measured "
        "values. If they are censored, record every cell of column 'Pb' within "
        "0.01 of its own limit at that limit (8 cells; measured values that "
        "close, if any, are censored with them; with pandas, L being the lower_limit "
        "DataFrame: X['Pb'] = X['Pb'].mask(X['Pb'] - L['Pb'] < 0.01, L['Pb']))"
    )
    assert (table.kind == 0).all()
    fixed, L = X.copy(), limits
    fixed["Pb"] = fixed["Pb"].mask(fixed["Pb"] - L["Pb"] < 0.01, L["Pb"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table, _ = cell_table(fixed, lower_limit=limits)
    assert (table.kind[:8, 0] == 1).all() and (table.kind[8:, 0] == 0).all()
    assert (table.kind[:, 1] == 0).all()
    # The same for upper limits, rounded down; and from float32 data.
    with pytest.warns(UserWarning, match=r"below their own row's upper_limit") as w:
        cell_table(-X[["Pb"]], upper_limit=-limits[["Pb"]])
    assert "X['Pb'].mask(L['Pb'] - X['Pb'] < 0.01, L['Pb'])" in str(w[0].message)
    with pytest.warns(UserWarning, match=r"^8 values of column 'Pb' lie above"):
        cell_table(X[["Pb"]].astype(np.float32), lower_limit=limits[["Pb"]])


def test_the_rounded_limits_fix_is_given_as_code_only_where_it_runs():
    """The pandas code of the fix indexes the data and the limits by column
    name: it is given for DataFrames of both with string column names, and
    left out (the fix said in words) for numpy arrays, integer column
    labels or limits in an array, where it would not run as written."""
    from stanmix.censoring import cell_table

    values = [0.52, 0.58, 0.64, 0.71] * 2 + _MEASURED
    words = (
        "record every cell of column {} within 0.01 of its own limit at that "
        "limit (8 cells; measured values that close, if any, are censored "
        "with them)"
    )
    for X, limits, named in (
        (np.array(values)[:, None], np.array(_ROUNDED_LIMITS)[:, None], "'x0'"),
        (pd.DataFrame({0: values}), pd.DataFrame({0: _ROUNDED_LIMITS}), "'0'"),
        (pd.DataFrame({"Pb": values}), np.array(_ROUNDED_LIMITS)[:, None], "'Pb'"),
    ):
        _, message = _one_warning(cell_table, X, lower_limit=limits)
        assert message.endswith(words.format(named)), message
    # Below their limits, the error's mask advice likewise.
    low = [0.25, 0.29, 0.32, 0.35] * 2 + _MEASURED
    with pytest.raises(sm.StanmixInputError) as err:
        cell_table(
            pd.DataFrame({0: low}), lower_limit=pd.DataFrame({0: _ROUNDED_LIMITS})
        )
    assert "mark them in `censored`, which censors each" in str(err.value)
    with pytest.raises(sm.StanmixInputError) as err:
        cell_table(
            pd.DataFrame({"x": low}), lower_limit=pd.DataFrame({"x": _ROUNDED_LIMITS})
        )
    assert "(with pandas, censored=X[['x']] < L[['x']], L being" in str(err.value)


@pytest.mark.parametrize("censored_share", [0.2, 0.7, 0.85])
def test_rounded_limits_are_found_in_heavily_censored_columns(censored_share):
    """Limits spanning less than a tenth, most rows non-detects written as
    their limits rounded up: the values that could be piled limits are
    left out of the spread that decides which written units are fine."""
    from stanmix.censoring import cell_table

    rng = np.random.default_rng(1)
    limits = np.round(rng.uniform(0.5, 0.56, 300), 3)
    x = np.round(limits + rng.lognormal(np.log(0.8), 0.8, 300), 2)
    nd = rng.random(300) < censored_share
    x[nd] = np.ceil(np.round(limits[nd] * 100, 6)) / 100
    frame = pd.DataFrame({"x": x})
    _, message = _one_warning(
        cell_table, frame, lower_limit=pd.DataFrame({"x": limits})
    )
    assert message.startswith(f"{(nd & (x > limits)).sum()} values of column 'x' lie")


def test_the_advised_distance_is_that_of_the_rounding_not_of_trailing_zeros():
    """Limits around 0.1 (0.091-0.111), non-detects rounded up to 0.10 or
    0.11 and so written 0.1 for many: the class written to 0.1 piles, with
    genuine values such as 0.2 (limit 0.103) among its first unit. The
    distance advised is that of the typical piled cell (0.01), and the
    warning counts the cells the fix moves."""
    from stanmix.censoring import cell_table

    seen = 0
    for seed in range(10):
        rng = np.random.default_rng(seed)
        limits = np.array(
            [float(f"{v:.3g}") for v in 0.05 / rng.uniform(0.45, 0.55, 1000)]
        )
        true = rng.lognormal(0, np.log(4), 1000)
        written = np.round(true, 2)
        nd = (true < limits) | (written <= limits)
        x = np.where(nd, np.ceil(np.round(limits * 100, 6)) / 100, written)
        X, L = pd.DataFrame({"x": x}), pd.DataFrame({"x": limits})
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            cell_table(X, lower_limit=L)
        if not record:
            continue
        (message,) = [str(w.message) for w in record]
        assert "within 0.01 of its own limit" in message
        moved = X["x"].mask(X["x"] - L["x"] < 0.01, L["x"]) != X["x"]
        assert f"({moved.sum()} cells; measured values that close" in message
        assert (moved & ~nd).sum() <= 0.02 * (~nd).sum()
        seen += 1
    assert seen >= 5


def test_limits_rounded_more_coarsely_than_the_values_are_named_in_the_error():
    """Non-detects recorded at limits of three decimals, the table of limits
    rounded to two: those rounded up are refused, and the error says the
    limits look rounded."""
    from stanmix.censoring import cell_table

    lab = np.array([0.517, 0.577, 0.636, 0.708] * 5)
    X = pd.DataFrame({"x": np.r_[lab[:8], _MEASURED]})
    with pytest.raises(sm.StanmixInputError) as info:
        cell_table(X, lower_limit=pd.DataFrame({"x": np.round(lab, 2)}))
    assert str(info.value).endswith(
        "; each of these lies within the last digit of its limit as the limit "
        "is written, which has fewer digits than the values: if the limits were "
        "rounded, give them with the values' digits (values recorded at a limit "
        "the table rounds are beyond it, or inside it and fitted as measured)"
    )


def test_per_row_limits_rounded_to_nearest_get_the_fix_in_the_error():
    """Rounded to the nearest, some non-detects fall below their own limit
    (refused) and the others above it: the error says they all lie within
    a written digit of their limits and gives the fix for both, in Python
    and on the command line."""
    from stanmix.censoring import cell_table

    limits = pd.DataFrame({"x": _ROUNDED_LIMITS})
    X = pd.DataFrame({"x": [0.51, 0.58, 0.63, 0.71] * 2 + _MEASURED})
    with pytest.raises(sm.StanmixInputError) as info:
        cell_table(X, lower_limit=limits)
    assert str(info.value).endswith(
        "(the first is 0.51, limit 0.512); a censored value cannot lie beyond "
        "its own limit: record left-censored cells at the limit or mark it in "
        "`censored`; each of these lies within the last digit it is written "
        "with of its own limit, as limits written rounded in place of censored "
        "values do (those rounded the other way would be fitted as measured): "
        "record every cell of column 'x' within 0.01 of its own limit at that "
        "limit (measured values that close, if any, are censored with them; "
        "with pandas, L being the lower_limit DataFrame: X['x'] = "
        "X['x'].mask(X['x'] - L['x'] < 0.01, L['x']))"
    )
    # One limit for the column: the hint for a single rounded limit instead.
    single = pd.DataFrame({"x": [0.51] * 4 + _MEASURED})
    with pytest.raises(sm.StanmixInputError) as info:
        cell_table(single, lower_limit={"x": 0.512})
    assert "each of these lies" not in str(info.value)
    assert "give it as the data hold it" in str(info.value)


@pytest.mark.parametrize(
    ("substitute", "words"),
    [
        (lambda L: np.round(L / 2, 2), "half its limit (to the digits it is "
         "written with), as non-detects written as LOQ/2"),
        (lambda L: np.round(L / np.sqrt(2), 3), "its limit over sqrt(2) (to the "
         "digits it is written with), as non-detects written as LOQ/sqrt(2)"),
        (lambda L: 0 * L, "0 (to the digits it is written with), as non-detects "
         "written as zero"),
    ],
)  # fmt: skip
def test_non_detects_substituted_by_a_share_of_their_limit_are_named(substitute, words):
    """Values below their own limits that are each the same common
    substitute (half the limit, the limit over sqrt 2, zero) are refused
    with that said, and the advised mask censors exactly them."""
    from stanmix.censoring import cell_table

    limits = pd.DataFrame({"x": _ROUNDED_LIMITS})
    X = pd.DataFrame({"x": np.r_[substitute(np.array(_ROUNDED_LIMITS[:8])), _MEASURED]})
    with pytest.raises(sm.StanmixInputError) as info:
        cell_table(X, lower_limit=limits)
    assert str(info.value).endswith(
        f"; each of these is {words} are: if they stand for values below their "
        "limits, mark them in `censored` (with pandas, censored=X[['x']] < "
        "L[['x']], L being the lower_limit DataFrame), which censors each at its "
        "limit"
    )
    L = limits
    table, _ = cell_table(X, lower_limit=limits, censored=X[["x"]] < L[["x"]])
    assert (table.kind[:8, 0] == 1).all() and (table.kind[8:, 0] == 0).all()
    np.testing.assert_array_equal(table.upper[:8, 0], _ROUNDED_LIMITS[:8])
    # One limit: the mask with the limit written out.
    single = pd.DataFrame({"x": [0.35] * 4 + _MEASURED})
    with pytest.raises(sm.StanmixInputError, match=r"censored=X\[\['x'\]\] < 0\.7\)"):
        cell_table(single, lower_limit={"x": 0.7})


def test_a_one_digit_half_of_a_one_digit_limit_is_named_a_substitute():
    """0.05 for a limit of 0.1 is written with a digit too coarse to tell a
    substitute by nearness, but every value is half its limit exactly: the
    error names the substitute and its mask, not the advice to give 0.05
    as the limit."""
    from stanmix.censoring import cell_table

    X = pd.DataFrame({"x": [0.05] * 6 + _MEASURED})
    with pytest.raises(sm.StanmixInputError) as info:
        cell_table(X, lower_limit={"x": 0.1})
    assert str(info.value).endswith(
        "; each of these is half its limit (to the digits it is written with), as "
        "non-detects written as LOQ/2 are: if they stand for values below their "
        "limits, mark them in `censored` (with pandas, censored=X[['x']] < 0.1), "
        "which censors each at its limit"
    )
    assert "give it as the data hold it" not in str(info.value)


def test_per_row_limits_rounded_beyond_one_of_them_get_the_fix_not_one_limit():
    """Two per-row limits, 0.577 and 0.613, written rounded (0.58, inside
    its limit; 0.61, beyond its): the refused 0.61 cells all share a limit,
    but the column has two, so the fix is the rounded-limits mask, not the
    advice to give 0.61 as the column's one limit."""
    from stanmix.censoring import cell_table

    limits = pd.DataFrame({"x": [0.577, 0.613] * 4 + [np.nan] * len(_MEASURED)})
    X = pd.DataFrame({"x": [0.58, 0.61] * 4 + _MEASURED})
    with pytest.raises(sm.StanmixInputError) as info:
        cell_table(X, lower_limit=limits)
    assert "X['x'].mask(X['x'] - L['x'] < 0.01, L['x'])" in str(info.value)
    assert "give it as the data hold it" not in str(info.value)


def test_values_below_their_limits_for_other_reasons_are_not_called_substitutes():
    from stanmix.limit_checks import substituted_hint

    limits = np.array([0.512, 0.577, 0.634, 0.705])
    # a mix of substitutes, a unit too coarse to tell, a single value
    assert substituted_hint(np.array([0.26, 0.41]), limits[:2], np.float64, "") == ""
    assert substituted_hint(np.array([0.3, 0.3]), limits[:2], np.float64, "") == ""
    assert substituted_hint(np.array([0.26]), limits[:1], np.float64, "") == ""
    assert substituted_hint(np.array([0.26, 0.29]), limits[:2], np.float64, "x")


def _run_fit(tmp_path, capsys, table: dict, limit: str) -> tuple[int, str]:
    """The exit code and standard error of ``stanmix fit`` (the mode) on
    ``table`` written as a CSV, column x limited by ``--lower-limit x=...``."""
    from stanmix import cli

    data, out = tmp_path / "lab.csv", tmp_path / "out"
    pd.DataFrame(table).to_csv(data, index=False)
    args = ["fit", str(data), "-k", "2", "--columns", "x", "--lower-limit", limit]
    code = cli.main([*args, "--method", "optimize", "--out", str(out)])
    return code, capsys.readouterr().err


def test_command_line_gives_the_fix_for_limits_rounded_to_nearest(tmp_path, capsys):
    nearest = [0.51, 0.58, 0.63, 0.71] * 2 + _MEASURED
    code, err = _run_fit(
        tmp_path, capsys, {"x": nearest, "loq": _ROUNDED_LIMITS}, "x=loq"
    )
    assert code != 0
    assert err.rstrip().endswith(
        "(those rounded the other way would be fitted as measured): write every "
        "cell of column 'x' within 0.01 of its line's limit as that limit (the "
        "line's value of column 'loq')"
    )
    assert not (tmp_path / "out").exists()
    # Rounded up, the warning gives the fix without Python's code.
    up = [0.52, 0.58, 0.64, 0.71] * 2 + _MEASURED
    code, err = _run_fit(tmp_path, capsys, {"x": up, "loq": _ROUNDED_LIMITS}, "x=loq")
    assert code == 0
    assert (
        "If they are censored, record every cell of column 'x' within 0.01 of its "
        "own limit at that limit (8 cells; measured values that close, if any, "
        "are censored with them)\n" in err
    )
    # Non-detects written as half of one limit for the column.
    code, err = _run_fit(tmp_path, capsys, {"x": [0.35] * 4 + _MEASURED}, "x=0.7")
    assert code != 0
    assert err.rstrip().endswith(
        "; each of these is half its limit (to the digits it is written with), "
        "as non-detects written as LOQ/2 are: if they stand for values below "
        "their limits, write each as 0.7"
    )


@pytest.mark.parametrize(
    ("decimals", "sd", "mean"),
    [(2, 0.5, 1.0), (2, 0.05, 0.7), (1, 0.2, 0.5), (1, 0.1, 0.6), (None, 0.3, 0.5)],
)
def test_measured_values_near_their_own_limits_are_not_taken_for_rounded_limits(
    decimals, sd, mean
):
    """Per-row limits at 3 decimals, measured values written at 1 or 2 (or
    at full precision), non-detects recorded at their limits: values just
    above their limits are as common as the density there makes them, and
    no warning is given. The clusters straddle the limits (a steep density
    just above them on the narrow ones)."""
    from stanmix.censoring import cell_table

    for seed in range(20):
        rng = np.random.default_rng(seed)
        x = np.concatenate([rng.normal(mean, sd, 500), rng.normal(2.0, sd, 500)])
        limits = rng.choice(np.round(rng.uniform(0.4, 1.0, 40), 3), x.size)
        written = x if decimals is None else np.round(x, decimals)
        # non-detects, and measured values written below their limit, at it
        written = np.where((x < limits) | (written < limits), limits, written)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cell_table(
                pd.DataFrame({"x": written}), lower_limit=pd.DataFrame({"x": limits})
            )


def _near_round_number(rng):
    """Values near 1.00 with limits at 2 decimals: 1.00 is read as written
    to the unit."""
    limits = np.round(rng.uniform(0.5, 0.9, 200), 2)
    return np.round(rng.normal(1.0, 0.05, 200), 2), limits


def _a_unit_short_by_rounding(rng):
    """0.5 - 0.4 is 0.0999...: a whole unit above the limit, not less."""
    x = [0.4] * 12 + [0.5] * 12 + [0.6] * 2 + [0.7, 1.2, 1.5, 1.9, 2.3, 2.8, 3.1]
    x += [0.6] * 4 + [1.4, 1.8, 2.2, 2.6, 3.0, 3.3]
    return np.array(x), np.array([0.4] * 33 + [0.6] * 10)


def _counts(rng):
    """Counts with limits between 0 and 1: a unit as wide as the spread."""
    return rng.poisson(0.7, 300).astype(float), np.round(rng.uniform(0.3, 0.9, 300), 2)


def _limits_an_ulp_off(rng):
    """Non-detects at their limits, values and limits converted by different
    arithmetic: equal within float rounding, some an ulp above."""
    limits = np.round(rng.uniform(4, 10, 200), 2)
    x = np.maximum(np.round(rng.lognormal(np.log(8), 0.5, 200), 2), limits)
    assert np.sum((x * 0.1 - limits / 10 > 0) & (x == limits)) >= 10
    return x * 0.1, limits / 10


def _counts_beside_a_far_cluster(rng):
    """Counts near 1 and a fifth of the rows near 30: a spread taken from
    the standard deviation would call a unit of 1 fine."""
    x = np.r_[rng.poisson(0.7, 250), rng.poisson(30, 50)].astype(float)
    return x, np.round(rng.uniform(0.3, 0.9, 300), 2)


def _narrow_cluster_at_a_round_number(rng):
    """Values at 2 decimals around 0.50 (sd 0.05), limits 0.45-0.5: the
    0.5s (0.50 read as written to 0.1) are many, as the density's peak
    makes them, among the hundredths around them."""
    x = np.r_[
        rng.lognormal(np.log(0.5), np.log(1.1), 150),
        rng.lognormal(np.log(10), np.log(2), 50),
    ]
    return np.round(x, 2), np.round(rng.uniform(0.45, 0.5, 200), 3)


def _limits_scaling_with_the_values(rng):
    """A limit of quantification that scales with the dilution, and values
    (two significant digits) that scale with it too: many values are ten
    times their own limit to the digits they are written with, as many as
    the readings' spread puts there."""
    dilution = rng.choice(np.round(np.geomspace(1, 200, 40), 1), 1000)
    x = [float(f"{v:.2g}") for v in dilution * rng.uniform(0.3, 0.7, 1000)]
    return np.array(x), 0.05 * dilution


def _counts_with_integer_limits(rng):
    """Counts near 10 with limits 1 and 2: 10, 20 and 30 read as written to
    a unit of 10, within one of their limits."""
    return rng.poisson(10, 300).astype(float), rng.choice([1.0, 2.0], 300)


@pytest.mark.parametrize(
    "data",
    [
        _limits_scaling_with_the_values,
        _counts_with_integer_limits,
        _near_round_number,
        _a_unit_short_by_rounding,
        _counts,
        _limits_an_ulp_off,
        _counts_beside_a_far_cluster,
        _narrow_cluster_at_a_round_number,
    ],
)
def test_genuine_values_by_their_limits_are_not_warned_of(data):
    """Data on which a first version of the rounded-limits warning fired."""
    from stanmix.censoring import at_limit, cell_table

    for seed in range(20):
        x, limits = data(np.random.default_rng(seed))
        x = np.where((x < limits) & ~at_limit(x, limits), limits, x)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            cell_table(pd.DataFrame({"x": x}), lower_limit=pd.DataFrame({"x": limits}))


def test_values_at_limits_given_in_other_units_are_warned_of():
    """Non-detects recorded at their limits in ug/L with the limits given in
    mg/L: every such value is 1000 times its own row's limit, far more than
    pairing the values with other rows' limits gives; one warning, with
    per-sample limits or in 25 batches (too many to look at one by one)."""
    from stanmix.censoring import cell_table

    rng = np.random.default_rng(0)
    for limits in (
        np.round(rng.uniform(0.4, 0.8, 500), 3),
        np.repeat(np.round(rng.uniform(0.4, 0.8, 25), 3), 20),
        # most rows at a standard limit, the others at 30 raised ones
        np.where(
            rng.random(500) < 0.7,
            0.5,
            rng.choice(np.round(rng.uniform(0.6, 2, 30), 3), 500),
        ),
    ):
        nd = rng.random(500) < 0.35
        x = np.where(nd, limits, np.round(limits + rng.lognormal(0, 0.7, 500), 2))
        given = pd.DataFrame({"x": limits / 1000})
        table, message = _one_warning(
            cell_table, pd.DataFrame({"x": x}), lower_limit=given
        )
        count = int(message.split()[0])
        # (values of one or two significant digits, 0.5, are not counted)
        assert 0.8 * nd.sum() * (limits != 0.5).mean() <= count <= nd.sum()
        assert message[message.index(" values") :].startswith(
            " values of column 'x' are each 1000 times their own row's lower_limit ("
        )
        assert message.endswith(
            "they look like values recorded at their limits, which were given in "
            "other units, and are fitted as measured values. If so, give the "
            "limits 1000 times as large"
        )
        assert (table.kind == 0).all()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            table, _ = cell_table(pd.DataFrame({"x": x}), lower_limit=given * 1000)
        np.testing.assert_array_equal(table.kind[:, 0] == 1, nd)


def test_interval_cells_are_not_counted_as_rounded_limits():
    """Cells given as intervals between their limit and a limit of
    quantification hold values just above the lower one: they are not
    measured values, and no warning counts them."""
    from stanmix.censoring import cell_table

    L = np.array(_ROUNDED_LIMITS)
    x = np.r_[[0.52, 0.58, 0.64, 0.71] * 2, _MEASURED]
    inside = np.arange(20) < 8
    low = pd.DataFrame({"x": np.where(inside, L, np.nan)})
    high = pd.DataFrame({"x": np.where(inside, L + 0.2, np.nan)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table, _ = cell_table(
            pd.DataFrame({"x": x}),
            lower_limit=pd.DataFrame({"x": L}),
            interval=(low, high),
        )
    assert (table.kind[:8, 0] == 3).all() and (table.kind[8:, 0] == 0).all()


def test_batches_and_single_limits_are_still_checked_for_piles():
    """A pile at a column's lowest value that matches no limit is warned of
    with one limit (34 values at 0.5 above 21 at 0.6: the limit given as
    0.05), and per batch with up to 20 batches (here 12 of 60 rows, one
    batch's limit in other units); not with a limit per sample."""
    from stanmix.censoring import cell_table

    rng = np.random.default_rng(3)
    x = np.maximum(np.round(rng.lognormal(np.log(0.9), 0.6, 200), 1), 0.5)
    assert (x == 0.5).sum() == 34 and (x == 0.6).sum() == 21
    _, message = _one_warning(
        cell_table, pd.DataFrame({"x": x}), lower_limit={"x": 0.05}
    )
    assert "34 of its 200 values sit at its lowest, 0.5" in message
    limits = np.repeat(np.round(np.linspace(0.5, 0.72, 12), 3), 60)
    x = np.round(np.random.default_rng(0).lognormal(np.log(0.9), 0.6, 720), 2)
    x = np.where(x < limits, limits, x)
    given = limits.copy()
    given[:60] *= 0.1
    _, message = _one_warning(
        cell_table, pd.DataFrame({"x": x}), lower_limit=pd.DataFrame({"x": given})
    )
    assert message.startswith(
        "lower_limit of column 'x' matches none of the values of the 60 rows "
        "whose limit is 0.05,"
    )


def test_interval_bounds_stacked_in_one_array_are_a_pair():
    from stanmix.censoring import cell_table

    df = pd.DataFrame({"x": [np.nan, 1.0, 3.0], "y": [1.0, 2.0, 9.0]})
    low = np.array([[0.0, np.nan], [np.nan, np.nan], [np.nan, np.nan]])
    high = low + 2.0
    pair, _ = cell_table(df, interval=(low, high))
    stacked, _ = cell_table(df, interval=np.stack([low, high]))
    np.testing.assert_array_equal(stacked.kind, pair.kind)
    assert stacked.kind[0, 0] == 3 and stacked.upper[0, 0] == 2.0
    with pytest.raises(sm.StanmixInputError, match="must be a pair"):
        cell_table(df, interval=np.stack([low, high, high]))
    # per-row (low, high) pairs: said how to turn them around
    pairs = [(0.0, 2.0), (np.nan, np.nan), (np.nan, np.nan)]
    with pytest.raises(sm.StanmixInputError, match=r"tuple\(zip\(\*pairs\)\)"):
        cell_table(df[["x"]], interval=pairs)
    turned, _ = cell_table(df[["x"]], interval=tuple(zip(*pairs, strict=True)))
    assert turned.kind[0, 0] == 3 and turned.upper[0, 0] == 2.0
    last = np.stack([low, high], axis=-1)  # (N, D, 2): says how to restack
    with pytest.raises(sm.StanmixInputError, match="shaped \\(3, 2, 2\\), whose last"):
        cell_table(df, interval=last)
    restacked, _ = cell_table(df, interval=np.moveaxis(last, -1, 0))
    np.testing.assert_array_equal(restacked.kind, pair.kind)


def test_an_infinite_limit_on_its_own_side_is_no_limit():
    """upper_limit=+inf and lower_limit=-inf censor nothing, as NaN does;
    the other infinity would censor every value, and is refused."""
    from stanmix.censoring import cell_table

    df = pd.DataFrame({"x": [0.5, 1.0, 3.0], "y": [1.0, 2.0, 9.0]})
    nan_form, _ = cell_table(
        df,
        lower_limit=pd.DataFrame({"x": [0.5, np.nan, 0.5], "y": np.nan}),
        upper_limit={"y": 9.0},
    )
    for lower, upper in (
        (
            pd.DataFrame({"x": [0.5, -np.inf, 0.5], "y": -np.inf}),
            {"y": 9.0, "x": np.inf},
        ),
        (np.array([[0.5, -np.inf], [-np.inf, -np.inf], [0.5, -np.inf]]), {"y": 9.0}),
    ):
        table, _ = cell_table(df, lower_limit=lower, upper_limit=upper)
        np.testing.assert_array_equal(table.kind, nan_form.kind)
        np.testing.assert_array_equal(table.lower_limit, nan_form.lower_limit)
        np.testing.assert_array_equal(table.upper_limit, nan_form.upper_limit)
    assert (cell_table(df, upper_limit=np.inf)[0].kind == 0).all()
    with pytest.raises(sm.StanmixInputError) as info:
        cell_table(df, lower_limit=np.full((3, 2), np.inf))
    assert str(info.value) == (
        "lower_limit has +inf entries, which censor every value; use NaN (or "
        "-inf) for no limit"
    )
    for given in (-np.inf, {"x": -np.inf}):
        with pytest.raises(sm.StanmixInputError) as info:
            cell_table(df, upper_limit=given)
        assert str(info.value) == (
            "upper_limit is -inf, which censors every value; use NaN (or +inf) "
            "for no limit"
        )


def test_a_series_of_limits_inside_the_mapping_gets_the_form_that_works():
    from stanmix.censoring import cell_table

    df = pd.DataFrame({"x": [0.5, 1.0, 2.0]})
    with pytest.raises(sm.StanmixInputError) as info:
        cell_table(df, lower_limit={"x": pd.Series(0.5, index=df.index)})
    assert str(info.value) == (
        "lower_limit['x'] must be a number (one limit for the column); per-row "
        "limits go in a DataFrame, e.g. lower_limit=pd.DataFrame({'x': limits}), "
        "NaN where there is no limit"
    )


def test_one_row_given_as_a_series_is_told_how_to_pass_a_row():
    data = sm.datasets.blobs(100, seed=1)
    model = sm.DiagonalMixture(2, engine="stanli").fit(
        data.X, method="optimize", seed=1
    )
    with pytest.raises(sm.StanmixInputError, match=r"X\.iloc\[\[i\]\]"):
        model.predict_proba(data.X.iloc[0])
    # with censoring too: the shape is what is wrong, not the limits' columns
    for row in (data.X.iloc[0], data.X.iloc[0].to_numpy()):
        for call in (model.predict_proba, model.score_samples):
            with pytest.raises(sm.StanmixInputError, match=r"X\.iloc\[\[i\]\]"):
                call(row, lower_limit={"x": -10.0})
    assert model.predict_proba(data.X.iloc[[0]]).shape == (1, 2)


def test_masked_cells_of_numpy_masked_arrays_are_missing():
    """A numpy masked array's masked cells are missing cells, whatever value
    lies under the mask, in the data, the limits (no limit) and new data; a
    masked entry of a `censored` mask is refused like an NA one."""
    from stanmix.cells import LEFT, MISSING
    from stanmix.censoring import cell_table

    values = np.array([[0.1, 1.0], [0.5, 2.0], [2.0, 3.0], [2.2, 4.0]])
    data = np.ma.masked_array(values.copy(), mask=False)
    data[1, 1] = np.ma.masked
    data.data[1, 1] = 1e6  # hidden under the mask: never used
    limits = np.ma.masked_array(np.full(values.shape, 0.1), mask=False)
    limits[0, 1] = np.ma.masked
    table, _ = cell_table(data, lower_limit=limits)
    assert table.kind[:, 1].tolist() == [0, MISSING, 0, 0]
    assert table.kind[0, 0] == LEFT
    np.testing.assert_array_equal(table.lower_limit[:, 1], [np.nan, 0.1, 0.1, 0.1])
    assert data.data[1, 1] == 1e6 and data.mask[1, 1]  # left as given

    mask = np.ma.masked_array(np.zeros(values.shape, dtype=bool), mask=False)
    mask[2, 0] = np.ma.masked
    with pytest.raises(
        sm.StanmixInputError, match="censored has masked entries at row 2"
    ):
        cell_table(values, lower_limit=0.0, censored=mask)

    X = sm.datasets.blobs(60, seed=1).X.to_numpy()
    model = sm.DiagonalMixture(2, engine="stanli").fit(X, method="optimize", seed=1)
    hidden = np.ma.masked_array(X.copy(), mask=False)
    hidden[:5, 0] = np.ma.masked
    hidden.data[:5, 0] = 1e6
    blank = X.copy()
    blank[:5, 0] = np.nan
    np.testing.assert_array_equal(
        model.score_samples(hidden), model.score_samples(blank)
    )
    np.testing.assert_array_equal(
        model.predict_proba(hidden), model.predict_proba(blank)
    )


def test_each_column_meets_its_limit_at_its_own_precision():
    """A float32 column does not coarsen the comparison of a float64 column
    with its limit: a value just above its limit stays measured, one just
    below is refused."""
    from stanmix.censoring import cell_table

    frame = pd.DataFrame(
        {"a": np.array([0.1, 0.2, 0.3], dtype=np.float32), "b": [480.0, 480.00001, 481]}
    )
    table, _ = cell_table(frame, lower_limit={"b": 480.0})
    assert table.kind[:, 1].tolist() == [1, 0, 0]
    frame.loc[2, "b"] = 479.99999
    with pytest.raises(
        sm.StanmixInputError, match="value below its lower_limit at row 2"
    ):
        cell_table(frame, lower_limit={"b": 480.0})
    # float32 data still meet a limit written in float64 at their precision
    table, _ = cell_table(frame.iloc[:2], lower_limit={"a": 0.1, "b": 480.0})
    assert table.kind[:, 0].tolist() == [1, 0]
    # and a float32 limit coarsens its own column only
    table, _ = cell_table(
        pd.DataFrame({"a": [0.1, 0.2], "b": [1.0, 2.0]}),
        lower_limit={"a": np.float32(0.1), "b": 1.0},
    )
    assert table.kind.tolist() == [[1, 1], [0, 0]]


@pytest.mark.parametrize(
    "limits, fragment",
    [
        (pd.DataFrame({"x": [True, False, False, False]}), "'x' (booleans)"),
        (pd.DataFrame({"x": ["0.1", "0.5", "1", "2"]}), "'x' (text)"),
        (pd.DataFrame({"x": [0.1, "ND", 1.0, 2.0]}), "'x' (text; row 1 holds 'ND')"),
        (pd.DataFrame({"x": pd.array([True, False, None, False])}), "'x' (booleans)"),
    ],
)
def test_a_limits_frame_of_flags_or_text_is_refused_as_an_array_is(limits, fragment):
    with pytest.raises(sm.StanmixInputError) as info:
        fit_diag(FRAME, lower_limit=limits)
    assert str(info.value) == (
        f"lower_limit has non-numeric column(s) {fragment}; give numbers, NaN "
        "where there is no limit"
    )


@pytest.mark.parametrize("form", ["frame", "array"])
@pytest.mark.parametrize(
    "cell, fragment",
    [
        ([1.5], "objects that are not numbers"),
        ({"v": 1}, "objects that are not numbers"),
        (10**400, "a number too large for a float (beyond 1.8e+308) at row 2"),
    ],
)
def test_objects_that_are_not_floats_are_named(form, cell, fragment):
    data = FRAME.astype(object)
    data.iat[2, 0] = cell
    with pytest.raises(sm.StanmixInputError) as info:
        fit_diag(data if form == "frame" else data.to_numpy())
    message = str(info.value)
    if form == "array" and "too large" in fragment:
        fragment = "a number too large for a float (beyond 1.8e+308) at position (2, 0)"
    assert fragment in message
    if form == "frame":
        assert "'x'" in message


def test_pd_na_in_an_object_array_is_missing_in_data_and_limits():
    from stanmix.cells import MISSING
    from stanmix.censoring import cell_table

    data = FRAME.to_numpy().astype(object)
    data[1, 1] = pd.NA
    limits = np.full(data.shape, np.nan, dtype=object)
    limits[:, 0] = 0.1
    limits[2, 0] = pd.NA
    table, _ = cell_table(data, lower_limit=limits)
    assert table.kind[1, 1] == MISSING
    np.testing.assert_array_equal(table.lower_limit[:, 0], [0.1, 0.1, np.nan, 0.1])
    assert data[1, 1] is pd.NA  # left as given


def test_the_categorical_hint_names_the_categorical_column():
    data = FRAME.assign(c=pd.Categorical([1.0, 2.0, 1.0, 2.0]))
    with pytest.raises(sm.StanmixInputError, match=r"X\['c'\]\.astype\(float\)"):
        fit_diag(data)


def test_values_at_a_limit_but_for_rounding_are_censored_there():
    """A limit meets the values recorded at it when they differ by rounding
    (a unit conversion, a float32 round trip), from either side; a value
    truly beyond it is refused, showing the value and the limit."""
    frame = pd.DataFrame({"a": np.array([1.1, 1.1, 5.0, 7.0]) * 0.1})
    assert frame["a"].iloc[0] != 0.11  # 0.11000000000000001
    table, _ = sm.censoring.cell_table(frame, lower_limit={"a": 0.11})
    assert table.kind[:, 0].tolist() == [1, 1, 0, 0]
    assert table.upper[:2, 0].tolist() == [0.11, 0.11]  # bounded by the limit
    under = pd.DataFrame({"a": np.array([0.7, 3.0, 4.0]) * 0.1})  # 0.0699...
    table, _ = sm.censoring.cell_table(under, lower_limit={"a": 0.07})
    assert table.kind[:, 0].tolist() == [1, 0, 0]
    wide = pd.DataFrame({"a": [0.1 * 3, 0.5, 0.9]})  # 0.30000000000000004
    table, _ = sm.censoring.cell_table(wide, upper_limit={"a": 0.9}, lower_limit=0.3)
    assert table.kind[:, 0].tolist() == [1, 0, 2]
    with pytest.raises(
        sm.StanmixInputError, match=r"\(the first is 0\.0699, limit 0\.07\); [^;]*$"
    ):
        sm.censoring.cell_table(
            pd.DataFrame({"a": [0.0699, 0.2]}), lower_limit={"a": 0.07}
        )
    # Several values beyond, all one value: most likely the limit, rounded.
    with pytest.raises(
        sm.StanmixInputError,
        match=r"; all 2 such values of column 'a' are 0\.0699: if that is the "
        r"limit, give it as the data hold it \(lower_limit=\{'a': 0\.0699\}\)$",
    ):
        sm.censoring.cell_table(
            pd.DataFrame({"a": [0.0699, 0.2, 0.0699]}), lower_limit={"a": 0.07}
        )
    # and the same cells are inside an interval whose bound they round to
    table, _ = sm.censoring.cell_table(
        under, interval=([0.07, np.nan, np.nan], [0.1, np.nan, np.nan])
    )
    assert table.kind[:, 0].tolist() == [3, 0, 0]


def test_a_limit_that_meets_no_value_beside_piled_ones_is_warned_of():
    """A limit no value equals, while many sit at the column's lowest (a
    mistyped limit, or one in other units), warns naming the value they sit
    at; a limit nothing reaches in a column without piled values does not."""
    rng = np.random.default_rng(0)
    values = np.maximum(rng.normal(1.0, 0.5, 100), 0.5)
    frame = pd.DataFrame({"a": values, "b": rng.normal(size=100)})
    with pytest.warns(UserWarning, match=r"give lower_limit=\{'a': 0\.5\}") as seen:
        table, _ = sm.censoring.cell_table(frame, lower_limit={"a": 0.03})
    assert not table.censored.any()
    assert (
        f"{int((values == 0.5).sum())} of its 100 values sit at its lowest, 0.5"
        in str(seen[0].message)
    )
    assert seen[0].filename == __file__
    # values from float32 beside a limit typed in decimal: said so, with the
    # value to give
    raised = np.maximum(values, 0.55).astype(np.float32)
    float32 = pd.DataFrame({"a": raised.astype(float)})  # 0.550000011920929
    with pytest.warns(UserWarning, match="differs from the limit 0.55 by rounding"):
        table, _ = sm.censoring.cell_table(float32, lower_limit={"a": 0.55})
    assert not table.censored.any()
    table, _ = sm.censoring.cell_table(
        float32.astype(np.float32), lower_limit={"a": 0.55}
    )
    assert table.censored.sum() == (raised == np.float32(0.55)).sum() > 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sm.censoring.cell_table(frame, lower_limit={"a": 0.5, "b": -10.0})
        sm.censoring.cell_table(frame, upper_limit={"b": 10.0})


def test_optimize_and_advi_warn_of_latent_censored_cells():
    """Rows censored in three columns are latent values in full_cov.stan:
    optimize and ADVI, which would work on their joint density, warn before
    any engine call; diagonal covariances and NUTS do not."""
    rng = np.random.default_rng(8)
    frame = pd.DataFrame(rng.normal(3.0, 1.0, (40, 3)), columns=list("abc"))
    frame.loc[:9, ["a", "b", "c"]] = -1.0  # (none of the others lies below -1)
    limits = {"a": -1.0, "b": -1.0, "c": -1.0}
    for method in ("optimize", "variational"):
        engine = RecordingEngine(stop=(method,))
        with pytest.warns(UserWarning, match=f"30 censored cells.*method='{method}'"):
            with pytest.raises(Stop):
                sm.Mixture(2, covariance="full", engine=engine).fit(
                    frame, method=method, seed=1, lower_limit=limits
                )
    quiet = [
        ("diag", "optimize"),
        ("full", "sample"),
    ]
    for covariance, method in quiet:
        engine = RecordingEngine(stop=("optimize", "sample"))
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            with pytest.raises(Stop):
                sm.Mixture(2, covariance=covariance, engine=engine).fit(
                    frame, method=method, seed=1, lower_limit=limits, init="kmeans"
                )


def test_scoring_takes_empty_rows_and_refuses_a_limit_given_as_y():
    """A row whose every cell is missing scores 0 (its density over no
    cells is 1), as predict_proba gives it the weights; a limit passed where
    scikit-learn's y goes is refused, not ignored."""
    data = sm.datasets.blobs(60, seed=1).X
    model = sm.DiagonalMixture(2, engine="stanli").fit(data, method="optimize", seed=1)
    rows = data.iloc[:3].copy()
    rows.iloc[1] = np.nan
    scores = model.score_samples(rows)
    assert scores[1] == 0.0
    np.testing.assert_allclose(
        scores[[0, 2]], model.score_samples(data.iloc[[0, 2]]), rtol=1e-12
    )
    np.testing.assert_allclose(model.predict_proba(rows)[1], model.weights_)
    with pytest.raises(sm.StanmixInputError, match=r"score\(X, lower_limit=0\.3\)"):
        model.score(data, 0.3)
    assert np.isfinite(model.score(data, np.zeros(len(data))))  # a target: ignored


def test_censoring_given_per_column_in_the_wrong_form_says_the_right_one():
    """One limit per column as a list, and a dict of masks, are refused
    naming the form that works."""
    frame = pd.DataFrame({"a": [0.3, 1.0, 2.0], "b": [1.0, 2.0, 3.0]})
    with pytest.raises(
        sm.StanmixInputError,
        match=r"give \{column: limit\}, e.g. lower_limit=\{'a': 0.3\}",
    ):
        sm.censoring.cell_table(frame, lower_limit=[0.3, -10.0])
    with pytest.raises(sm.StanmixInputError, match=r"fill_value=False\)$"):
        sm.censoring.cell_table(
            frame, censored={"a": [True, False, False]}, lower_limit={"a": 0.3}
        )


def test_values_piled_at_a_columns_end_without_a_limit_are_warned_of():
    """Non-detects recorded at the limit with no limit given are fitted as
    measured values (a component's scale shrinks onto them): a tenth of a
    column's values on its lowest one says so before any Stan call, naming
    the limit to pass; given the limit (or with a spread-out end, or values
    piled inside the range), nothing is said."""
    rng = np.random.default_rng(1)
    cd = np.maximum(rng.normal(2.0, 1.0, 240), 1.0)  # 16% at 1.0
    X = pd.DataFrame({"Pb": rng.normal(0, 1, 240), "Cd": cd})
    n_at = int((cd == 1.0).sum())
    engine = RecordingEngine(stop=("optimize",))
    with pytest.warns(UserWarning) as seen:
        with pytest.raises(Stop):
            sm.Mixture(2, engine=engine).fit(X, method="optimize", seed=1)
    said = [str(w.message) for w in seen if "and no lower limit" in str(w.message)]
    assert said == [
        f"column 'Cd' has {n_at} of its 240 values at 1, its lowest, and no "
        "lower limit: if 1 stands for values below a detection limit (non-detects "
        "recorded at it), pass lower_limit={'Cd': 1} to censor them; as given, "
        "they are fitted as measured values, on which a component's scale can "
        "shrink toward zero"
    ]
    quiet = [
        dict(lower_limit={"Cd": 1.0}),  # the limit given
        dict(lower_limit={"Pb": -5.0, "Cd": 1.0}),
    ]
    for given in quiet:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with pytest.raises(Stop):
                sm.Mixture(2, engine=engine).fit(X, method="optimize", seed=1, **given)
        assert not [w for w in seen if "and no lower limit" in str(w.message)]
    # a regression's response, the same
    lines = sm.RegressionMixture(2, engine=engine)
    with pytest.warns(UserWarning, match="column 'Cd' has .* and no lower limit"):
        with pytest.raises(Stop):
            lines.fit(X, response="Cd", method="optimize", seed=1)


def test_a_column_numbering_the_rows_is_warned_of_before_the_fit():
    """A saved row index (DataFrame.reset_index, or a CSV's unnamed first
    column) or sample numbers in X would be clustered on as a measurement:
    the fit warns before any Stan call, naming the column and the fix.
    Shuffled whole numbers, a column with a missing cell, or fewer than ten
    rows are not warned of."""
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"Pb": rng.normal(0, 1, 40), "Cd": rng.normal(2, 1, 40)})
    engine = RecordingEngine(stop=("optimize",))

    def said(data) -> list[str]:
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with pytest.raises(Stop):
                sm.Mixture(2, engine=engine).fit(data, method="optimize", seed=1)
        return [str(w.message) for w in seen if "consecutive" in str(w.message)]

    assert said(X.reset_index()) == [
        "column 'index' holds consecutive whole numbers (0, 1, ..., 39), as a row "
        "index or sample numbers do, and is fitted as a measurement: if it numbers "
        "the rows, leave it out of X (with pandas, make it the index: "
        "X.set_index('index'), or index_col= in read_csv)"
    ]
    descending = X.assign(sample=np.arange(2040, 2000, -1))
    assert len(said(descending)) == 1
    assert said(descending.to_numpy())[0].startswith(
        "column 'x2' holds consecutive whole numbers (2040, 2039, ..., 2001)"
    )
    quiet = [
        X.assign(n=rng.permutation(40)),
        X.assign(n=np.r_[np.nan, np.arange(1.0, 40.0)]),
        X.assign(n=np.arange(40) * 2),
        X.head(9).assign(n=np.arange(9)),
    ]
    for data in quiet:
        assert said(data) == []
    # a regression's predictor counting the rows from 0 or 1 likewise; years
    # counted one per row are its time, and not warned of
    lines = X.assign(y=rng.normal(size=40))
    for start, warned in ((0, True), (1, True), (1991, False)):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with pytest.raises(Stop):
                sm.RegressionMixture(2, engine=engine).fit(
                    lines.assign(n=np.arange(start, start + 40)),
                    response="y",
                    method="optimize",
                    seed=1,
                )
        found = [str(w.message) for w in seen if "consecutive" in str(w.message)]
        assert found == (
            [
                f"column 'n' holds consecutive whole numbers ({start}, {start + 1}, "
                f"..., {start + 39}), as a row index or sample numbers do, and is "
                "fitted as a predictor: if it numbers the rows, leave it out of X or "
                "predictors (with pandas, make it the index: X.set_index('n'), or "
                "index_col= in read_csv)"
            ]
            if warned
            else []
        ), start


def test_an_integer_anchor_dim_may_name_an_integer_labelled_column():
    """With X's columns labelled 10 and 20, anchor_dim=20 names the second
    (there is no position 20) and anchor_dim=0 is the first position; the
    Stan data's anchor (1-based) says which column the means are ordered
    along."""
    rng = np.random.default_rng(2)
    X = pd.DataFrame(rng.normal(size=(40, 2)), columns=[10, 20])
    for anchor, expected in ((20, 2), (0, 1), ("10", 1)):
        engine = _DataEngine(stop=("optimize",))
        with pytest.raises(Stop):
            sm.Mixture(2, anchor_dim=anchor, engine=engine).fit(
                X, method="optimize", seed=1
            )
        assert engine.data["anchor"] == expected, anchor


def test_nan_for_a_columns_limit_is_no_limit_as_in_a_table_of_limits():
    """A mapping built from a row of limits (``L.iloc[0].to_dict()``) holds
    NaN for a column without one: no limit there, as NaN is in a per-cell
    table and as the infinity on the limit's own side is; a NaN number is
    no limit anywhere."""
    from stanmix.censoring import cell_table

    df = pd.DataFrame({"x": [0.5, 1.0, 3.0], "y": [1.0, 2.0, 9.0]})
    limits = pd.DataFrame({"x": [0.5], "y": [np.nan]})
    expected, _ = cell_table(df, lower_limit={"x": 0.5})
    for given in (limits.iloc[0].to_dict(), {"x": 0.5, "y": -np.inf}):
        table, _ = cell_table(df, lower_limit=given)
        np.testing.assert_array_equal(table.kind, expected.kind)
        np.testing.assert_array_equal(table.lower_limit, expected.lower_limit)
    assert expected.kind[0, 0] != 0 and (expected.kind[:, 1] == 0).all()
    table, _ = cell_table(df, upper_limit=np.nan)
    assert (table.kind == 0).all() and np.isnan(table.upper_limit).all()


def test_a_list_mask_with_a_blank_is_told_to_hold_false_not_to_fillna():
    from stanmix.censoring import cell_table

    df = pd.DataFrame({"x": [0.5, 1.0, 3.0]})
    with pytest.raises(sm.StanmixInputError) as info:
        cell_table(df, lower_limit=0.5, censored=[True, None, False])
    message = str(info.value)
    assert "missing (NA) entries at row 1" in message
    assert message.endswith("False in place of each None or NaN")
    with pytest.raises(sm.StanmixInputError, match=r"censored\.fillna\(False\)$"):
        cell_table(
            df, lower_limit=0.5, censored=pd.Series([True, None, False], dtype=object)
        )


def test_limits_as_a_numbered_frame_of_an_array_are_told_to_be_an_array():
    """An array's columns are x0, x1, ... by position; limits passed as
    pd.DataFrame(array) are numbered 0, 1, ...: the error says so and how
    to pass them."""
    from stanmix.censoring import cell_table

    X = np.array([[0.5, 1.0], [2.0, 3.0], [0.5, 4.0]])
    limits = pd.DataFrame(np.full(X.shape, 0.5))
    with pytest.raises(sm.StanmixInputError) as info:
        cell_table(X, lower_limit=limits)
    assert str(info.value) == (
        "lower_limit has column(s) '0', '1' that are not in the data (columns: "
        "x0, x1); the data are an array, whose columns are named x0, ... by "
        "position: give lower_limit.to_numpy(), or name its columns so"
    )
    table, _ = cell_table(X, lower_limit=limits.to_numpy())
    assert (table.kind[:, 0] != 0).tolist() == [True, False, True]
