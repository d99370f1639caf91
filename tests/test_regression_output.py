"""Mixtures of regressions in the plots, the report and the command line."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import re
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import stanmix as sm
from stanmix import cli
from stanmix.plots import plot_regression
from stanmix.report import render_report

pytest.importorskip("stanli")


@pytest.fixture(scope="module")
def censored_fit():
    """Two lines, a detection limit on the response, two responses missing,
    three predictors; a short NUTS run."""
    data = sm.datasets.regressions(
        160,
        seed=2,
        intercepts=(2.0, 0.0),
        slopes=((0.2, 0.5, 0.0), (1.0, 0.5, 0.0)),
        scales=(0.5, 0.5),
    )
    y = data.y.copy()
    limit = float(np.quantile(y, 0.2))
    y = y.clip(lower=limit)
    y.iloc[[3, 4]] = np.nan
    model = sm.RegressionMixture(2, engine="stanli").fit(
        data.X,
        y,
        lower_limit=limit,
        seed=1,
        chains=2,
        warmup=200,
        draws=100,
        show_progress=False,
    )
    return model, y, limit


def test_plot_regression_draws_points_lines_bands_and_censored_markers(censored_fit):
    model, y, limit = censored_fit
    ax = plot_regression(model, predictor="x2")
    assert [line.get_gid() for line in ax.lines] == ["line:0", "line:1"]
    points = {c.get_gid(): len(c.get_offsets()) for c in ax.collections if c.get_gid()}
    n_censored = int((y == limit).sum())
    assert points == {
        "points:observed": 160 - 2 - n_censored,
        "points:censored": n_censored,
    }
    censored = next(c for c in ax.collections if c.get_gid() == "points:censored")
    np.testing.assert_allclose(censored.get_offsets()[:, 1], limit)
    assert ax.get_xlabel() == "x2" and ax.get_ylabel() == "y"
    assert ax.get_title().endswith("posterior mean (NUTS)\nx1, x3 held at their means")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "2 missing responses" in labels and "94% band" in labels
    # Each line at the other predictors' means, with its posterior mean.
    x = model.cells_.covariates.mean(axis=0)
    line = ax.lines[0]
    at = np.column_stack(
        [np.full(2, x[0]), line.get_xdata()[[0, -1]], np.full(2, x[2])]
    )
    expected = model.intercept_[0] + at @ model.coef_[0]
    np.testing.assert_allclose(line.get_ydata()[[0, -1]], expected, rtol=1e-10)
    plt.close("all")


def test_plot_regression_refuses_other_models_and_bad_arguments(censored_fit):
    model, _, _ = censored_fit
    with pytest.raises(sm.StanmixInputError, match="'z' is not a predictor"):
        plot_regression(model, predictor="z")
    with pytest.raises(
        sm.StanmixInputError,
        match=r"predictor=3 is neither a position \(0..2\) nor a predictor's name",
    ):
        plot_regression(model, predictor=3)
    blobs = sm.datasets.blobs(60, seed=1).X
    other = sm.DiagonalMixture(2, engine="stanli").fit(blobs, method="optimize", seed=1)
    with pytest.raises(sm.StanmixInputError, match="use plot_clusters"):
        plot_regression(other)
    with pytest.raises(sm.StanmixInputError, match="plot_regression"):
        sm.plots.plot_clusters(model)
    plt.close("all")


def test_report_shows_the_regression(censored_fit):
    model, _, _ = censored_fit
    page = render_report(model)
    # regression lines, membership, predictive check, LOO-PIT, co-clustering,
    # relabelling
    assert page.count("data:image/png;base64,") == 6
    for name in ("intercept[0]", "beta[1, x3]", "regression slopes"):
        assert name in page


def test_loo_pit_of_a_regression_skips_rows_without_a_response(censored_fit):
    from stanmix import checks

    model, y, limit = censored_fit
    pit = checks.loo_pit(model, seed=1)
    assert list(pit.index) == list(y.index)
    assert pit.isna().tolist() == y.isna().tolist()  # rows 3 and 4
    assert pit.notna().sum() == 158 and pit.between(0, 1).sum() == 158
    # the model is the one the data came from: uniform values, the 32
    # censored responses spread below their limits included
    from scipy import stats

    assert (y == limit).sum() == 32
    assert stats.kstest(pit.dropna(), "uniform").pvalue > 0.05


def test_membership_and_predictions_of_a_censored_fit(censored_fit):
    model, y, limit = censored_fit
    table = model.membership()
    assert len(table) == 2 * 160
    # A missing response's membership is the mixing weights.
    rows = table[table["observation"] == 3]["mean"].to_numpy()
    np.testing.assert_allclose(rows, model.weights_, atol=0.02)
    X = model.idata_.constant_data["X"].to_pandas()
    proba = model.predict_proba(X.iloc[:5], y.iloc[:5], lower_limit=limit)
    np.testing.assert_allclose(proba, model.predict_proba_fitted()[:5], atol=1e-12)
    # New pairs' memberships with HDIs: the first five fitted rows given
    # again (a censored response among them, two missing) are the fitted ones.
    again = model.membership(X.iloc[:5], y.iloc[:5], lower_limit=limit)
    assert again["observation"].tolist() == table["observation"].tolist()[:10]
    columns = ["mean", "hdi_lower", "hdi_upper"]
    np.testing.assert_allclose(
        again[columns].to_numpy(), table[columns].to_numpy()[:10], atol=1e-6
    )
    assert (y.iloc[:5] == limit).any() and y.iloc[:5].isna().sum() == 2
    with pytest.raises(sm.StanmixInputError, match="pass X too"):
        model.membership(y=y)


def test_predict_labels_pairs_as_fit_predict_does(censored_fit):
    """predict(X, y) is the argmax of predict_proba(X, y), a label per row,
    and the fitted pairs given again get the fitted labels; X without any
    response is refused (not labelled by the weights alone), so
    scikit-learn's cross_val_predict, which passes no response, stops
    instead of returning a table's rows."""
    from sklearn.model_selection import KFold, cross_val_predict

    model, y, limit = censored_fit
    X = model.idata_.constant_data["X"].to_pandas()
    labels = model.predict(X, y, lower_limit=limit)
    assert labels.shape == (len(X),) and set(labels) == {0, 1}
    np.testing.assert_array_equal(labels, model.labels_)
    proba = model.predict_proba(X.iloc[:5], y.iloc[:5], lower_limit=limit)
    np.testing.assert_array_equal(labels[:5], proba.argmax(axis=1))
    with pytest.raises(sm.StanmixInputError, match="no row of X has one"):
        model.predict(X)
    estimator = sm.RegressionMixture(2, engine="stanli")
    with pytest.raises(sm.StanmixInputError, match="predict_response"):
        cross_val_predict(
            estimator,
            X.iloc[:60],
            y.iloc[:60].fillna(limit),
            cv=KFold(2),
            params={"method": "optimize", "seed": 1, "lower_limit": limit},
        )


def test_new_pairs_memberships_are_the_draws_own(censored_fit):
    """Memberships of new (x, y) pairs, recomputed from the draws with scipy:
    an observed response, one at the detection limit (below it), a missing
    one (the weights); their means and 80% HDIs (ArviZ's)."""
    import arviz as az
    from scipy import stats

    model, y, limit = censored_fit
    X = model.idata_.constant_data["X"].to_pandas().iloc[:3].copy()
    above = float(y[y > limit].iloc[0])  # measured: above the limit
    new_y = pd.Series([above, limit, np.nan], index=X.index)
    table = model.membership(X, new_y, lower_limit=limit, hdi_prob=0.8)
    draws = model.param_draws()
    w, sigma = draws["w"], draws["sigma"][..., 0]  # (S, K)
    line = draws["intercept"][:, None, :] + np.einsum(
        "np,skp->snk", X.to_numpy(), draws["beta"]
    )  # (S, 3, K)
    dens = np.stack(
        [
            w * stats.norm.pdf(above, line[:, 0], sigma),
            w * stats.norm.cdf(limit, line[:, 1], sigma),
            w,
        ],
        axis=1,
    )
    per_draw = dens / dens.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(table["mean"], per_draw.mean(axis=0).ravel(), atol=1e-6)
    bounds = az.hdi(per_draw[None], hdi_prob=0.8)
    np.testing.assert_allclose(table["hdi_lower"], bounds[..., 0].ravel(), atol=1e-6)
    np.testing.assert_allclose(table["hdi_upper"], bounds[..., 1].ravel(), atol=1e-6)
    assert table["observation"].tolist() == np.repeat(X.index, 2).tolist()
    pred = model.predict_response(X.iloc[:2])
    assert list(pred.columns) == [
        "observation",
        "component",
        "weight",
        "mean",
        "line_lower",
        "line_upper",
        "lower",
        "upper",
    ]
    assert (pred["lower"] < pred["line_lower"]).all()
    assert (pred["line_upper"] < pred["upper"]).all()


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    data = sm.datasets.regressions(
        120, seed=5, gate_intercepts=(0.0, 0.3), gate_coefs=((0.0,), (1.2,))
    )
    df = data.X.assign(y=data.y.round(6))
    limit = float(df["y"].quantile(0.15))
    df["y"] = df["y"].clip(lower=limit)
    df.insert(0, "sample", [f"s{i}" for i in range(len(df))])
    path = tmp_path_factory.mktemp("data") / "data.csv"
    df.to_csv(path, index=False)
    return path, df, limit


def _args(path, out, *extra):
    return [
        "fit-regression",
        str(path),
        "--response",
        "y",
        "--components",
        "2",
        "--method",
        "optimize",
        "--engine",
        "stanli",
        "--out",
        str(out),
        *extra,
    ]


def test_fit_regression_golden_path(csv_file, tmp_path, capsys):
    path, _, limit = csv_file
    out = tmp_path / "out"
    code = cli.main(
        _args(path, out, "--weights-from", "z", "--lower-limit", f"y={limit!r}")
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "Fitting 2 regression lines of y on x, weights from z," in printed
    assert "18 censored cells" in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "membership.csv",
        "posterior.nc",
        "report.html",
        "summary.csv",
    ]
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    assert {"beta[0, x]", "gamma[1, z]", "intercept[1]"} <= set(summary.index)


def test_select_regression_chooses_the_lines_and_writes_the_chosen_fit(
    csv_file, tmp_path, capsys
):
    """select-regression sweeps the lines as select does, with the
    response's censoring, and writes the chosen fit with selection.csv: the
    same table and choice as select_components with the same seed."""
    path, df, limit = csv_file
    out = tmp_path / "out"
    args = _args(path, out, "--weights-from", "z", "--lower-limit", f"y={limit!r}")
    args[0] = "select-regression"
    args[args.index("--components") + 1] = "1-3"
    code = cli.main([*args, "--no-progress"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "Fitting K = 1, 2, 3 regression lines of y on x, weights from z," in printed
    assert sorted(p.name for p in out.iterdir()) == [
        "membership.csv",
        "posterior.nc",
        "report.html",
        "selection.csv",
        "summary.csv",
    ]
    table = pd.read_csv(out / "selection.csv").set_index("K")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the optimizer's starts disagreeing
        sel = sm.select_components(
            df.drop(columns="sample"),
            [1, 2, 3],
            response="y",
            estimator=sm.RegressionMixture(weights_from=["z"], engine="stanli"),
            method="optimize",
            lower_limit=limit,
            seed=1,
        )
    np.testing.assert_allclose(table["bic"], sel.table_["bic"], rtol=1e-9)
    assert f"Chosen: K = {sel.best_}" in printed
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    assert sum(name.startswith("intercept[") for name in summary.index) == sel.best_
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "the smallest BIC at the posterior mode" in text


def test_select_regression_refuses_kfold_without_sampling(csv_file, tmp_path, capsys):
    path, _, _ = csv_file
    out = tmp_path / "out"
    args = _args(path, out, "--kfold", "3")
    args[0] = "select-regression"
    args[args.index("--components") + 1] = "1-2"
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "--kfold does not apply to --method optimize; leave it out" in err
    assert not out.exists()


def test_select_regression_counts_kfold_against_the_rows_with_a_response(
    tmp_path, capsys
):
    """Rows without a response train every fold and are not held out: a
    --kfold above their count is refused before anything is announced."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=20)
    y = np.where(np.arange(20) < 12, 1 + x + rng.normal(0, 0.3, 20), np.nan)
    path = tmp_path / "d.csv"
    pd.DataFrame({"x": x, "y": y}).to_csv(path, index=False)
    out = tmp_path / "out"
    args = _args(path, out, "--kfold", "15")
    args[0] = "select-regression"
    args[args.index("--components") + 1] = "1-2"
    args[args.index("--method") + 1] = "sample"
    assert cli.main(args) == 2
    printed = capsys.readouterr()
    assert (
        "--kfold must be at most the number of rows with a response (12), got "
        "--kfold 15: each fold holds out at least one row; use --kfold 12 or fewer"
    ) in printed.err
    assert printed.out == ""
    assert not out.exists()


@pytest.mark.parametrize(
    ("change", "extra", "message"),
    [
        (None, ("--lower-limit", "x=0.5"), "only the response .* can be censored"),
        (None, ("--weights-from", "age"), "--weights-from names 'age'"),
        (None, ("--weights-from", "z", "--order-by", "z"), "--order-by .z. is neither"),
        (None, ("--predictors", "x,y"), "--predictors names the response"),
        (
            None,
            ("--family-option", "nu_shape=3"),
            "unknown --family-option for RegressionMixture.--errors normal.: "
            "'nu_shape'; valid: none; 'nu_shape' needs --errors student_t",
        ),
        ("hole", (), r"line 6 of data.csv has no value in column 'x'"),
        ("constant", (), "column 'z' of data.csv has the same value"),
        (
            "three responses",
            ("--components", "4"),
            r"--components/-k 4 is more than the 3 rows of data.csv with a value "
            "of y",
        ),
    ],
)
def test_fit_regression_bad_input_exits_2(
    csv_file, tmp_path, capsys, change, extra, message
):
    path, df, _ = csv_file
    if change is not None:
        df = df.copy()
        if change == "hole":
            df["x"] = df["x"].astype(object)
            df.loc[4, "x"] = ""
        elif change == "three responses":
            df.loc[3:, "y"] = np.nan
        else:
            df["z"] = 1.0
        path = tmp_path / "data.csv"
        df.to_csv(path, index=False)
    out = tmp_path / "out"
    code = cli.main(_args(path, out, *extra))
    err = capsys.readouterr().err
    assert code == 2
    assert re.search(message, err), err
    assert not out.exists()


def test_co_clustering_leaves_out_rows_without_a_response(censored_fit):
    """Rows 3 and 4 have no response: only the weights would place them, so
    the matrix and its plot hold the other 158 rows, whose pairs are
    sum_k p_ik p_jk averaged over the draws."""
    from stanmix import checks, likelihood
    from stanmix.plots import plot_co_clustering

    model, y, _ = censored_fit
    table = checks.co_clustering(model, draws=50)
    answered = y.index[y.notna()]
    assert list(table.index) == list(table.columns) == list(answered)
    params = model.param_draws()
    keep = np.unique(np.linspace(0, params["w"].shape[0] - 1, 50).round().astype(int))
    prob = likelihood.membership_draws(
        model.family_,
        model.cells_.rows(np.flatnonzero(y.notna().to_numpy())),
        {k: v[keep] for k, v in params.items()},
    )
    expected = np.einsum("snk,smk->nm", prob, prob) / keep.size
    off = ~np.eye(len(answered), dtype=bool)
    np.testing.assert_allclose(table.to_numpy()[off], expected[off], rtol=1e-12)
    ax = plot_co_clustering(model, draws=50)
    assert ax.images[0].get_array().shape == (158, 158)
    plt.close("all")
