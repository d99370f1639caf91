"""NormalMixture on the classic case: 100 points from 0.5 N(-1,1) + 0.5 N(1,1)."""

import warnings

import numpy as np
import pandas as pd
import pytest

import stanmix as sm
from stanmix.likelihood import membership_draws

TRUE_MEANS = np.array([-1.0, 1.0])


@pytest.fixture(scope="module")
def data():
    return sm.datasets.two_components(100, seed=1).X


def _fit(data, **kwargs):
    params = {k: kwargs.pop(k) for k in ("sigma", "ordered", "relabel") if k in kwargs}
    model = sm.NormalMixture(2, engine="stanli", **params)
    return model.fit(data, show_progress=False, **kwargs)


@pytest.fixture(scope="module")
def fixed_scale(data):
    return _fit(data, sigma=1.0, seed=11)


@pytest.fixture(scope="module")
def free_scale(data):
    return _fit(data, seed=11)


@pytest.mark.parametrize("which", ["fixed_scale", "free_scale"])
def test_ordered_fit_converges_and_recovers_truth(which, request):
    model = request.getfixturevalue(which)
    summary = model.summary()
    means = summary.loc[["mu[0]", "mu[1]"]]
    assert (means["r_hat"] <= 1.01).all(), means
    assert (means["ess_bulk"] >= 400).all(), means
    z = np.abs(means["mean"].to_numpy() - TRUE_MEANS) / means["sd"].to_numpy()
    assert (z < 3).all(), z
    assert model.idata_.posterior.sizes == {"chain": 4, "draw": 1000, "component": 2}
    assert not model.label_switching_.chains_in_different_modes


def test_ordered_draws_that_did_not_switch_keep_their_labels(free_scale):
    """The components overlap heavily here; per-draw relabelling would swap
    labels in many draws and pull both posterior means towards 0. The
    ordering already labels the draws, so the default keeps them."""
    model = free_scale
    assert not model.label_switching_.label_switching
    assert model.relabel_report_.method == "order"
    assert (model.relabel_report_.fraction_permuted == 0).all()
    raw, post = model.idata_.posterior_raw, model.idata_.posterior
    for var in ("w", "mu", "sigma"):
        np.testing.assert_array_equal(raw[var].to_numpy(), post[var].to_numpy())


def test_idata_has_named_groups_and_dims(free_scale):
    idata = free_scale.idata_
    for group in ("posterior", "sample_stats", "observed_data", "log_likelihood"):
        assert group in idata.groups()
    assert idata.posterior["mu"].dims == ("chain", "draw", "component")
    assert idata.log_likelihood["y"].dims == ("chain", "draw", "obs")
    assert idata.observed_data["y"].dims == ("obs",)
    loo = sm.inference_data.az.loo(idata)
    assert np.isfinite(loo.elpd_loo)


def _switched_fit(data, relabel):
    """The unordered model from Stan's random inits: with seed 3 its chains
    land in different labellings."""
    return _fit(
        data,
        sigma=1.0,
        ordered=False,
        relabel=relabel,
        seed=3,
        init="random",
        draws=500,
        warmup=500,
    )


def test_unordered_chains_in_different_modes_are_detected(data):
    """Stan's random inits put the unordered model's chains in different
    modes, which the fit warns of when it keeps the draws as sampled."""
    with pytest.warns(RuntimeWarning, match="relabel='none' kept the draws as "):
        model = _switched_fit(data, relabel=None)
    assert model.label_switching_.chains_in_different_modes, model.label_switching_
    assert float(sm.inference_data.az.rhat(model.idata_)["mu"].max()) > 1.1


@pytest.mark.parametrize("method", ["auto", "stephens", "ecr", "reference", "order"])
def test_estimator_relabels_a_switched_run(data, method):
    """The same switched run as above, relabelled by the estimator: R-hat of
    the means drops to 1.01 and the raw draws stay in posterior_raw."""
    model = _switched_fit(data, relabel=method)
    rhat = sm.inference_data.az.rhat
    report = model.relabel_report_
    assert report.method == ("stephens" if method == "auto" else method)
    assert float(rhat(model.idata_.posterior_raw)["mu"].max()) > 1.1
    assert float(rhat(model.idata_.posterior)["mu"].max()) <= 1.01
    assert (report.rhat_after["mu"].to_numpy() <= 1.01).all()
    # Whole chains are moved, and they are those the detector found in the
    # other labelling (or the rest, when that labelling is the one kept).
    moved = report.fraction_permuted
    assert np.all((moved <= 0.01) | (moved >= 0.99)), moved
    differs = model.label_switching_.chain_differs
    assert differs.any() and not differs.all()
    assert np.array_equal(moved > 0.5, differs) or np.array_equal(moved > 0.5, ~differs)
    means = model.summary().loc[["mu[0]", "mu[1]"], "mean"].to_numpy()
    assert means[0] < 0 < means[1] or means[1] < 0 < means[0]


def test_same_seed_gives_identical_results(data):
    for method, extra in (
        ("optimize", {}),
        ("variational", {"algorithm": "meanfield"}),
        ("variational", {"algorithm": "fullrank"}),
        ("sample", {"draws": 200, "warmup": 200}),
    ):
        a = _fit(data, method=method, seed=5, **extra)
        b = _fit(data, method=method, seed=5, **extra)
        assert a.method_ == method
        np.testing.assert_array_equal(
            a.idata_.posterior["mu"].to_numpy(), b.idata_.posterior["mu"].to_numpy()
        )
        c = _fit(data, method=method, seed=6, **extra)
        assert (
            not np.array_equal(
                a.idata_.posterior["mu"].to_numpy(), c.idata_.posterior["mu"].to_numpy()
            )
            or method == "optimize"
        )


def test_variational_runs_both_families_and_records_them(data):
    for algorithm in ("meanfield", "fullrank"):
        model = _fit(
            data,
            sigma=1.0,
            method="variational",
            algorithm=algorithm,
            seed=2,
            draws=500,
        )
        attrs = model.idata_.posterior.attrs
        assert attrs["algorithm"] == algorithm
        assert attrs["implementation"] == "stanmix.advi"
        assert model.idata_.posterior.sizes["draw"] == 500
        assert np.all(np.diff(model.means_) > 0)


def test_membership_table(fixed_scale, data):
    table = fixed_scale.membership()
    assert list(table.columns) == [
        "observation",
        "component",
        "mean",
        "hdi_lower",
        "hdi_upper",
    ]
    assert len(table) == 2 * len(data)
    assert (
        (table["hdi_lower"] <= table["mean"]) & (table["mean"] <= table["hdi_upper"])
    ).all()
    sums = table.groupby("observation")["mean"].sum()
    np.testing.assert_allclose(sums, 1.0, atol=1e-9)

    draws = fixed_scale.param_draws()
    per_draw = membership_draws(fixed_scale.family_, fixed_scale.cells_, draws)
    np.testing.assert_allclose(per_draw.sum(axis=-1), 1.0, atol=1e-12)

    proba = fixed_scale.predict_proba(np.array([-4.0, 4.0]))
    assert proba[0, 0] > 0.99 and proba[1, 1] > 0.99
    np.testing.assert_array_equal(fixed_scale.predict(np.array([-4.0, 4.0])), [0, 1])


def test_membership_of_new_data(fixed_scale, data):
    """New rows' memberships, with HDIs: a fitted row given again has its
    fitted memberships; a new value's, censored or not, are the draws' own
    (computed here from the draws with scipy, HDIs with ArviZ); a row with
    no value has the weights'; rows are named by the data's index."""
    import arviz as az
    from scipy import stats

    fitted = fixed_scale.membership(hdi_prob=0.8)
    again = fixed_scale.membership(data.iloc[[17, 3]], hdi_prob=0.8)
    assert again["observation"].tolist() == [17, 17, 3, 3]
    expected = fitted.set_index(["observation", "component"]).loc[
        again.set_index(["observation", "component"]).index
    ]
    np.testing.assert_allclose(
        again[["mean", "hdi_lower", "hdi_upper"]].to_numpy(),
        expected.to_numpy(),
        atol=1e-6,
    )

    draws = fixed_scale.param_draws()
    w, mu = draws["w"], draws["mu"][..., 0]  # (S, 2), sigma fixed at 1
    new = pd.DataFrame({"y": [0.3, -0.5, np.nan]}, index=["a", "b", "c"])
    with pytest.warns(UserWarning, match="taken as missing, not censored"):
        table = fixed_scale.membership(new, lower_limit={"y": -0.5}, hdi_prob=0.8)
    assert table["observation"].tolist() == ["a", "a", "b", "b", "c", "c"]
    dens = np.stack(
        [
            w * stats.norm.pdf(0.3, mu, 1.0),
            w * stats.norm.cdf(-0.5, mu, 1.0),  # at the limit: y <= -0.5
            w,
        ],
        axis=1,
    )  # (S, 3, 2)
    per_draw = dens / dens.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(
        table["mean"].to_numpy(), per_draw.mean(axis=0).ravel(), atol=1e-6
    )
    bounds = az.hdi(per_draw[None], hdi_prob=0.8)  # (3, 2, 2)
    np.testing.assert_allclose(table["hdi_lower"], bounds[..., 0].ravel(), atol=1e-6)
    np.testing.assert_allclose(table["hdi_upper"], bounds[..., 1].ravel(), atol=1e-6)
    with pytest.warns(UserWarning, match="taken as missing, not censored"):
        proba = fixed_scale.predict_proba(new, lower_limit={"y": -0.5})
    np.testing.assert_allclose(table["mean"].to_numpy().reshape(3, 2), proba, atol=1e-6)
    # an array's rows are named by position
    assert fixed_scale.membership([[0.3]])["observation"].tolist() == [0, 0]


def test_membership_and_criteria_refuse_what_they_cannot_use(fixed_scale):
    with pytest.raises(sm.StanmixInputError, match="lower_limit describes new data"):
        fixed_scale.membership(lower_limit={"y": 0.0})
    with pytest.raises(sm.StanmixInputError, match=r"membership\(hdi_prob=0.9\)"):
        fixed_scale.membership(0.9)
    with pytest.raises(sm.StanmixInputError, match="censored describes new data"):
        fixed_scale.bic(censored=[True])


def test_summary_hdi_prob_is_checked_and_used(fixed_scale, data):
    """hdi_prob widens the summary's intervals of NUTS draws (of every
    parameter but the fixed scales); a posterior mode has none to widen, and
    a probability outside (0, 1) is refused."""
    narrow = fixed_scale.summary(hdi_prob=0.5)
    wide = fixed_scale.summary(hdi_prob=0.99)
    free = [name for name in narrow.index if not name.startswith("sigma")]
    assert (wide.loc[free, "hdi_0.5%"] < narrow.loc[free, "hdi_25%"]).all()
    assert (wide.loc[free, "hdi_99.5%"] > narrow.loc[free, "hdi_75%"]).all()
    with pytest.raises(sm.StanmixInputError, match="hdi_prob must be"):
        fixed_scale.summary(hdi_prob=1.5)
    mode = _fit(data, sigma=1.0, method="optimize", seed=1)
    assert list(mode.summary().columns) == ["mode"]
    with pytest.raises(sm.StanmixInputError, match="does not apply to a posterior"):
        mode.summary(hdi_prob=0.9)
    table = mode.membership()
    assert (table["hdi_lower"] == table["mean"]).all()
    with pytest.raises(sm.StanmixInputError, match="the point itself"):
        mode.membership(hdi_prob=0.9)
    # said before new data is read (these columns do not fit)
    with pytest.raises(sm.StanmixInputError, match="the point itself"):
        mode.membership(pd.DataFrame({"z": [1.0]}), hdi_prob=0.9)


def test_optimize_warns_when_starts_disagree():
    """Seven components for five blobs: the extra components split different
    blobs depending on the start, so the starts reach different modes."""
    X = sm.datasets.blobs(300, seed=3).X
    model = sm.DiagonalMixture(7, engine="stanli")
    with pytest.warns(RuntimeWarning, match="different mode"):
        model.fit(X, method="optimize", seed=1, n_starts=8)
    assert model.optimize_lps_.size == 8
    best = model.optimize_lps_.max()
    assert model.idata_.sample_stats["lp"].item() == pytest.approx(best)


def test_sklearn_conventions():
    model = sm.NormalMixture(3, sigma=1.0)
    assert model.get_params()["n_components"] == 3
    assert "sigma=1.0" in repr(model)
    with pytest.raises(sm.NotFittedError, match="not fitted"):
        model.membership()
    y = pd.Series(np.r_[np.zeros(5), np.ones(5)] + np.linspace(0, 0.1, 10), name="y")
    copy = y.copy()
    fitted = sm.NormalMixture(2, engine="stanli").fit(y, method="optimize", seed=1)
    assert fitted.n_features_in_ == 1
    pd.testing.assert_series_equal(y, copy)
    # New data as a Series: unnamed, it takes the fitted name (the censoring
    # names that column); named, it must be the fitted column.
    new = pd.Series([0.02, 1.05])
    expected = fitted.predict_proba(new.rename("y").to_frame(), lower_limit={"y": 0.02})
    for given in (new, new.rename("y"), new.to_numpy()):
        np.testing.assert_array_equal(
            fitted.predict_proba(given, lower_limit={"y": 0.02}), expected
        )
    with pytest.raises(sm.StanmixInputError, match=r"lacks the fitted column\(s\) 'y'"):
        fitted.predict(new.rename("other"))
    # One index, component, on every point summary: mean +- 2 sd stays (K,).
    assert fitted.means_.shape == fitted.scales_.shape == fitted.covariances_.shape
    assert fitted.covariances_.shape == (2,)
    draws = fitted.idata_.posterior["sigma"].to_numpy().reshape(-1, 2)
    np.testing.assert_allclose(fitted.covariances_, (draws**2).mean(axis=0))


class ModeMixture(sm.DiagonalMixture):
    """DiagonalMixture fitted at the posterior mode by default (a module
    level class: scikit-learn's checks pickle it)."""

    def fit(self, X, y=None, **kwargs):
        kwargs.setdefault("method", "optimize")
        kwargs.setdefault("seed", 0)
        return super().fit(X, y, **kwargs)


def test_scikit_learns_estimator_checks_pass():
    """scikit-learn's own checks of an estimator (cloning, fitted state,
    input validation and its messages, no change to the data passed), on
    posterior modes so that its 40 fits take seconds. Two differ by
    design: a 1-D X is one column (a univariate mixture's natural input),
    and an object cell that is not a number is refused as a ValueError
    (stanmix's input error) rather than a TypeError."""
    pytest.importorskip("sklearn", minversion="1.6")
    from sklearn.utils.estimator_checks import check_estimator

    expected = {
        "check_fit1d": "a 1-D X is read as one column",
        "check_dtype_object": "a non-numeric object cell is a StanmixInputError",
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(
            ModeMixture(2, engine="stanli"),
            expected_failed_checks=expected,
            on_fail=None,
        )
    failed = {r["check_name"] for r in results if r["status"] == "failed"}
    xfailed = {r["check_name"] for r in results if r["status"] == "xfail"}
    assert not failed, failed
    assert xfailed == set(expected)
    assert len(results) >= 40


def test_a_scikit_learn_pipeline_predicts_with_the_last_step():
    """scikit-learn's Pipeline reads the estimator's tags and fitted state:
    a fitted pipeline predicts what the estimator predicts on the scaled
    data."""
    pytest.importorskip("sklearn", minversion="1.6")
    from sklearn.exceptions import NotFittedError
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils import get_tags
    from sklearn.utils.validation import check_is_fitted

    X = sm.datasets.blobs(150, seed=2).X
    pipe = make_pipeline(StandardScaler(), sm.DiagonalMixture(3, engine="stanli"))
    with pytest.raises(NotFittedError):
        check_is_fitted(pipe[-1])
    pipe.fit(X, diagonalmixture__method="optimize", diagonalmixture__seed=1)
    check_is_fitted(pipe[-1])
    np.testing.assert_array_equal(
        pipe.predict(X), pipe[-1].predict(pipe[0].transform(X))
    )
    tags = get_tags(pipe[-1])
    assert tags.estimator_type == "clusterer" and tags.input_tags.allow_nan
    assert not get_tags(sm.RegressionMixture(2)).target_tags.required
    # A clusterer's fit_predict: the fitted rows' most probable components.
    labels = pipe.fit_predict(
        X, diagonalmixture__method="optimize", diagonalmixture__seed=1
    )
    np.testing.assert_array_equal(labels, pipe.predict(X))
    np.testing.assert_array_equal(pipe[-1].labels_, labels)  # as KMeans keeps them
    per_dimension = sm.DiagonalMixture(3, joint=False, engine="stanli")
    assert not hasattr(per_dimension, "labels_")  # NotFittedError is one
    with pytest.raises(sm.StanmixInputError, match="fit_predict needs joint=True"):
        per_dimension.fit_predict(X, method="optimize", seed=1)
    assert not hasattr(per_dimension, "idata_")  # refused before fitting
    per_dimension.fit(X, method="optimize", seed=1)
    assert not hasattr(per_dimension, "labels_")
    regression = sm.datasets.regressions(80, seed=1)
    model = sm.RegressionMixture(2, engine="stanli")
    labels = model.fit_predict(regression.X, regression.y, method="optimize", seed=1)
    np.testing.assert_array_equal(
        labels, model.predict_proba(regression.X, regression.y).argmax(axis=1)
    )
    np.testing.assert_array_equal(model.labels_, labels)


@pytest.mark.parametrize(
    ("estimator", "switch"),
    [
        (sm.Mixture, "ordered"),
        (sm.Mixture, "standardize"),
        (sm.NormalMixture, "ordered"),
        (sm.DiagonalMixture, "joint"),
        (sm.DiagonalMixture, "standardize"),
        (sm.RegressionMixture, "ordered"),
    ],
)
@pytest.mark.parametrize("value", ["False", None, 0])
def test_a_switch_of_the_model_that_is_not_true_or_false_is_refused(
    estimator, switch, value
):
    """The string "False" is truthy and None falsy: taken as they come, they
    would fit another model than the one asked for."""
    model = estimator(2, engine="stanli", **{switch: value})
    regression = sm.datasets.regressions(40, seed=1)
    data = (
        (regression.X, regression.y)
        if estimator is sm.RegressionMixture
        else (
            sm.datasets.blobs(40, seed=1).X.iloc[:, :1]
            if estimator is sm.NormalMixture
            else sm.datasets.blobs(40, seed=1).X,
        )
    )
    with pytest.raises(sm.StanmixInputError) as info:
        model.fit(*data, method="optimize", seed=1)
    assert str(info.value) == f"{switch} must be True or False, got {value!r}"
    assert not hasattr(model, "idata_")


@pytest.mark.parametrize("model", ["univariate", "blobs"])
def test_a_tight_guided_prior_holds_each_mean_at_its_own_centre(model):
    """guided_prior_scale centres component j's mean prior on the j-th
    k-means centre along the anchor: a tight one leaves the means at the
    clusters (k-means finds them here), not pulled to other centres."""
    if model == "univariate":
        data = sm.datasets.mixture_sample(
            [1 / 3] * 3, [[-10.0], [0.0], [10.0]], 1.0, 300, seed=2
        )
        fitted = sm.NormalMixture(3, guided_prior_scale=0.05, engine="stanli")
    else:
        data = sm.datasets.blobs(500, seed=1)
        fitted = sm.DiagonalMixture(5, guided_prior_scale=0.1, engine="stanli")
    fitted.fit(data.X, method="optimize", seed=1)
    free = type(fitted)(**{**fitted.get_params(), "guided_prior_scale": None})
    free.fit(data.X, method="optimize", seed=1)
    # The same mode as without the guide, to well within a cluster's spread.
    np.testing.assert_allclose(fitted.means_, free.means_, atol=0.2)


def test_known_scales_start_without_sigma_in_init():
    data = sm.datasets.mixture_sample([0.5, 0.5], [[-3.0], [3.0]], 1.0, 100, seed=1)
    start = {"w": [0.5, 0.5], "mu": [-3.0, 3.0]}
    model = sm.NormalMixture(2, sigma=1.0, engine="stanli")
    model.fit(data.X, method="optimize", seed=1, init=start)
    same = sm.NormalMixture(2, sigma=1.0, engine="stanli")
    same.fit(data.X, method="optimize", seed=1, init={**start, "sigma": 1.0})
    np.testing.assert_array_equal(model.means_, same.means_)
    np.testing.assert_allclose(model.scales_, 1.0)


def test_known_scales_that_differ_make_components_that_are_not_relabelled():
    """Known scales 1.0 and 0.5 tell the components apart: a chain whose means
    are the other way round is another mode, not another labelling. It is
    neither relabelled into the others (which made sigma[0] range over 0.5
    and 1.0) nor reported as label switching, and explicit relabelling is
    refused."""
    rng = np.random.default_rng(5)
    y = np.r_[rng.normal(-2, 1.0, 120), rng.normal(2, 0.5, 80)]
    model = sm.NormalMixture(2, ordered=False, sigma=[1.0, 0.5], engine="stanli")
    with pytest.warns(sm.ConvergenceWarning, match=r"R-hat 1\.\d+ \(mu"):
        model.fit(y, seed=2, chains=3, draws=200, init="random")
    post = model.idata_.posterior
    np.testing.assert_array_equal(post["sigma"].sel(component=0), 1.0)
    np.testing.assert_array_equal(post["sigma"].sel(component=1), 0.5)
    chain_means = post["mu"].mean("draw").values
    assert (chain_means[:, 0] < chain_means[:, 1]).sum() == 2  # one chain elsewhere
    assert model.relabel_report_ is None
    assert "not labellings of one" in model.label_switching_.message
    with pytest.raises(sm.StanmixInputError, match="known scales tell them apart"):
        sm.NormalMixture(
            2, ordered=False, sigma=[1.0, 0.5], relabel="stephens", engine="stanli"
        ).fit(y, seed=2)
    # equal known scales leave the components exchangeable
    family = sm.NormalMixture(2, sigma=[0.7, 0.7])._make_family()
    assert family.exchangeable(2) and not model.family_.exchangeable(2)


def test_score_samples_is_the_log_predictive_density_of_each_row():
    """At the mode: the mixture density of an observed row, of the observed
    cell of a row with a missing one, and the density times the normal CDF
    of a row with a left-censored cell, each by scipy."""
    from scipy import stats

    data = sm.datasets.mixture_sample(
        [0.4, 0.6], [[-2.0, 1.0], [2.0, -1.0]], 0.8, 200, seed=3, columns=["a", "b"]
    )
    model = sm.DiagonalMixture(2, engine="stanli").fit(
        data.X, method="optimize", seed=1
    )
    w, mu, sd = model.weights_, model.means_, model.scales_
    new = pd.DataFrame({"a": [0.3, -1.0, 1.5], "b": [0.2, np.nan, -2.0]})
    limits = pd.DataFrame({"b": [np.nan, np.nan, -2.0]})  # row 2 left-censored
    got = model.score_samples(new, lower_limit=limits)
    a, b = new["a"].to_numpy(), new["b"].to_numpy()
    dens_a = stats.norm.pdf(a[:, None], mu[:, 0], sd[:, 0])
    expected = [
        np.log(np.sum(w * dens_a[0] * stats.norm.pdf(b[0], mu[:, 1], sd[:, 1]))),
        np.log(np.sum(w * dens_a[1])),
        np.log(np.sum(w * dens_a[2] * stats.norm.cdf(b[2], mu[:, 1], sd[:, 1]))),
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    assert model.score(new, lower_limit=limits) == pytest.approx(np.mean(got))


def test_score_samples_averages_the_density_over_the_draws(monkeypatch):
    """With draws (ADVI here), the log of the mean density over the draws,
    not the mean of the log densities."""
    from scipy import stats

    data = sm.datasets.mixture_sample([0.5, 0.5], [[-2.0], [2.0]], 1.0, 150, seed=4)
    model = sm.NormalMixture(2, engine="stanli").fit(
        data.X, method="variational", seed=1, draws=200
    )
    draws = model.param_draws()
    x = np.array([-1.0, 0.5, 3.0])
    dens = np.sum(
        draws["w"][:, None, :]
        * stats.norm.pdf(
            x[None, :, None], draws["mu"][:, None, :, 0], draws["sigma"][:, None, :, 0]
        ),
        axis=2,
    )
    np.testing.assert_allclose(
        model.score_samples(x), np.log(dens.mean(axis=0)), rtol=1e-10
    )
    # in blocks of rows (here one row each), the same
    monkeypatch.setattr("stanmix.estimator.PREDICTIVE_BLOCK", 1)
    np.testing.assert_allclose(
        model.score_samples(x), np.log(dens.mean(axis=0)), rtol=1e-10
    )


def test_grid_search_over_k_scores_held_out_rows():
    """scikit-learn's GridSearchCV chooses K by the held-out rows' mean log
    predictive density: three clusters four sds apart give K = 3."""
    pytest.importorskip("sklearn")
    from sklearn.model_selection import GridSearchCV, KFold

    data = sm.datasets.mixture_sample(
        [1 / 3] * 3, [[-4.0, 0.0], [0.0, 4.0], [4.0, 0.0]], 1.0, 180, seed=5
    )
    search = GridSearchCV(
        sm.DiagonalMixture(engine="stanli"),
        {"n_components": [1, 2, 3]},
        cv=KFold(3, shuffle=True, random_state=0),
    ).fit(data.X, method="optimize", seed=1)
    assert search.best_params_ == {"n_components": 3}
    scores = search.cv_results_["mean_test_score"]
    assert scores[0] < scores[1] < scores[2]


def test_a_regressions_score_is_the_density_of_its_responses():
    from scipy import stats

    data = sm.datasets.regressions(150, seed=1)
    model = sm.RegressionMixture(2, engine="stanli").fit(
        data.X, data.y, method="optimize", seed=1
    )
    x = data.X.iloc[:4]
    y = data.y.iloc[:4].to_numpy()
    line = model.intercept_ + x.to_numpy() @ model.coef_.T  # (4, K)
    expected = np.log(
        np.sum(model.weights_ * stats.norm.pdf(y[:, None], line, model.scales_), axis=1)
    )
    np.testing.assert_allclose(model.score_samples(x, y), expected, rtol=1e-10)
    assert model.score(x, y) == pytest.approx(expected.mean())
    with pytest.raises(sm.StanmixInputError, match="response is missing in 1 row"):
        model.score_samples(x, np.r_[y[:3], np.nan])
    # the row is named as the user's index names it, not by its position
    labelled = x.set_axis(["s1", "s2", "s3", "s4"])
    with pytest.raises(sm.StanmixInputError, match=r"in 1 row\(s\) \('s4'\);"):
        model.score_samples(labelled, np.r_[y[:3], np.nan])


def _mode_log_likelihood(model, X, limit):
    """log p(X | mode) by scipy: two diagonal normal components in columns
    a and b, b left-censored at ``limit`` (a cell at the limit)."""
    from scipy import stats

    w, mu, sd = model.weights_, model.means_, model.scales_
    a, b = X["a"].to_numpy()[:, None], X["b"].to_numpy()[:, None]
    cell_b = np.where(
        b == limit,
        stats.norm.cdf(limit, mu[:, 1], sd[:, 1]),
        stats.norm.pdf(b, mu[:, 1], sd[:, 1]),
    )
    density = w * stats.norm.pdf(a, mu[:, 0], sd[:, 0]) * cell_b
    return np.log(density.sum(axis=1)).sum()


def test_bic_and_aic_are_the_mode_log_likelihood_penalised():
    """K = 2 diagonal components in two columns have 1 + 4 + 4 free
    parameters; a censored cell enters by its CDF."""
    data = sm.datasets.mixture_sample(
        [0.4, 0.6], [[-2.0, 1.0], [2.0, -1.0]], 0.8, 200, seed=3, columns=["a", "b"]
    )
    limit = float(np.quantile(data.X["b"], 0.1))
    X = data.X.assign(b=data.X["b"].clip(lower=limit))
    model = sm.DiagonalMixture(2, engine="stanli").fit(
        X, lower_limit={"b": limit}, method="optimize", seed=1
    )
    ll = _mode_log_likelihood(model, X, limit)
    assert model.n_parameters_ == 9
    assert model.bic() == pytest.approx(-2 * ll + 9 * np.log(200), rel=1e-10)
    assert model.aic() == pytest.approx(-2 * ll + 18, rel=1e-10)
    new = X.iloc[:50]
    ll_new = _mode_log_likelihood(model, new, limit)
    assert model.aic(new, lower_limit={"b": limit}) == pytest.approx(
        -2 * ll_new + 18, rel=1e-10
    )


def test_the_switching_report_of_a_relabelled_fit_says_it_was_relabelled():
    """Chains started at random land in different labellings; the fit's
    report says so, and that the fit relabelled them (not to do it)."""
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(-4, 1, 60), rng.normal(4, 1, 60)][:, None]
    with pytest.warns(sm.ConvergenceWarning):  # short chains: low ESS
        model = sm.Mixture(2, ordered=False, engine="stanli").fit(
            X, init="random", seed=2, chains=2, warmup=150, draws=100
        )
    report = model.label_switching_
    assert report.chains_in_different_modes
    assert "The fit relabelled them (stephens; relabel_report_" in report.message
    assert "Relabel the draws with" not in report.message
    assert model.relabel_report_.method == "stephens"
    relabelled = model.relabel_report_
    assert float(relabelled.rhat_before["mu"].max()) > 1.5  # chains apart
    assert float(relabelled.rhat_after["mu"].max()) <= 1.05  # now they agree


def test_a_column_known_only_to_bins_is_fitted():
    """Values known only to one-unit bins: intervals place them as
    measurements do (the column used to be refused as having no observed
    value); the means come within 4 posterior sds of the truth."""
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(-3, 1, 150), rng.normal(3, 1, 150)]
    low = np.floor(x)
    model = sm.NormalMixture(2, engine="stanli").fit(
        x, interval=(low, low + 1), method="sample", seed=1, chains=2, draws=300
    )
    assert model.censored_components_ == []
    mu = model.idata_.posterior["mu"]
    gap = np.abs(mu.mean(("chain", "draw")).values - [-3.0, 3.0])
    assert np.all(gap < 4 * mu.std(("chain", "draw")).values), gap


def test_known_diagonal_scales_are_not_read_by_position_as_something_else():
    """K numbers are one scale per component; D numbers (one per column)
    were read per column when K differed from D and per component when
    K = D, so the same scales meant two things: another count than K is
    refused, as is a pandas object, whose labels would be dropped."""
    X = pd.DataFrame(np.random.default_rng(0).normal(size=(40, 2)), columns=["a", "b"])
    X.iloc[20:] += 8.0

    def fit(k, scale):
        model = sm.Mixture(k, family_options={"scale": scale}, engine="stanli")
        return model.fit(X, method="optimize", seed=1)

    for k in (2, 3):
        tiled = fit(k, np.tile([2.0, 6.0], (k, 1)))
        np.testing.assert_array_equal(tiled.scales_, np.tile([2.0, 6.0], (k, 1)))
    with pytest.raises(sm.StanmixInputError, match=r"np\.tile\(scales, \(3, 1\)\)"):
        fit(3, [2.0, 6.0])
    with pytest.raises(sm.StanmixInputError, match="pandas Series"):
        fit(2, pd.Series({"b": 6.0, "a": 2.0}))
    # one column: a Series of one sigma per component has nothing to mislabel
    model = sm.NormalMixture(2, sigma=pd.Series([1.0, 2.0]), engine="stanli")
    model.fit(X["a"], method="optimize", seed=1)
    np.testing.assert_array_equal(model.scales_, [1.0, 2.0])


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (
            sm.Mixture(2, family_options={"scale": 1.0}, prior_scale_median=2.0),
            np.c_[np.r_[np.zeros(5), np.ones(5) * 4], np.arange(10.0)],
        ),
        (
            sm.NormalMixture(2, sigma=[1.0, 2.0], prior_scale_log_sd=0.3),
            np.r_[np.zeros(5), np.ones(5) * 4] + np.arange(10.0) / 10,
        ),
    ],
)
def test_a_scale_prior_with_known_scales_is_refused_before_any_stan_call(model, data):
    """Known scales leave the scales' lognormal prior nothing to act on: a
    prior_scale_median or prior_scale_log_sd given with them changed
    nothing, without a word; it is refused, naming the setting, before any
    Stan call. At their defaults they pass."""
    from conftest import RecordingEngine, Stop

    engine = RecordingEngine(stop=("optimize",))
    model.set_params(engine=engine)
    with pytest.raises(sm.StanmixInputError, match=r"prior_scale_\w+=.* known"):
        model.fit(data, method="optimize", seed=1)
    assert engine.calls == {}
    with pytest.raises(sm.StanmixInputError, match=r"prior_scale_\w+=.* known"):
        model.stan_input(data, seed=1)  # no data file that fit would refuse
    model.set_params(prior_scale_median=0.5, prior_scale_log_sd=1.0)
    with pytest.raises(Stop):
        model.fit(data, method="optimize", seed=1)
