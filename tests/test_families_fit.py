"""What the families are for, on data with known truth: correlated clusters
(full covariance, with and without a detection limit) and outliers
(Student-t components). Tolerances are posterior sds or the truth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

import stanmix as sm
from stanmix import datasets

pytest.importorskip("stanli")
FIT = dict(seed=1, show_progress=False)


def _matched(est: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Estimated centres reordered to the true centres they match best."""
    cost = ((est[:, None] - truth[None]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    out = np.empty_like(truth)
    out[cols] = est[rows]
    return out


def _corr_z(model, truth: np.ndarray) -> np.ndarray:
    """(posterior mean - truth) / posterior sd of each component's
    correlation, components matched to the truth by their means."""
    post = model.idata_.posterior["corr"].isel(pair=0)
    mean = post.mean(("chain", "draw")).to_numpy()
    sd = post.std(("chain", "draw")).to_numpy()
    order = _order_to_truth(model.means_, truth)
    return (mean[order] - truth["corr"]) / sd[order]


def _order_to_truth(means, truth) -> np.ndarray:
    cost = ((means[:, None, :2] - truth["means"][None, :, :2]) ** 2).sum(-1)
    rows, cols = linear_sum_assignment(cost)
    order = np.empty(len(cols), dtype=int)
    order[cols] = rows
    return order


@pytest.fixture(scope="module")
def correlated():
    data = datasets.correlated(600, seed=1)
    truth = {"means": data.means, "corr": data.correlations[:, 0, 1]}
    return data, truth


@pytest.mark.slow
def test_full_covariance_recovers_correlations_where_diagonal_fails(correlated):
    data, truth = correlated
    full = sm.Mixture(3, covariance="full").fit(data.X, **FIT)
    assert full.summary()["r_hat"].max() <= 1.01
    z = _corr_z(full, truth)
    assert np.all(np.abs(z) < 3), z
    ari_full = adjusted_rand_score(data.labels, full.predict(data.X))
    gm = GaussianMixture(3, covariance_type="full", n_init=5, random_state=0)
    ari_sklearn = adjusted_rand_score(data.labels, gm.fit(data.X).predict(data.X))
    assert ari_full >= ari_sklearn - 0.01, (ari_full, ari_sklearn)
    # The diagonal model cannot follow the tilted clusters: its clusters
    # agree less with the truth (ARI about 0.80 here, against 0.97 for both
    # full-covariance fits).
    diag = sm.Mixture(3, covariance="diag").fit(data.X, **FIT)
    ari_diag = adjusted_rand_score(data.labels, diag.predict(data.X))
    assert ari_diag < ari_full - 0.1, (ari_diag, ari_full)


@pytest.mark.slow
def test_full_covariance_with_censoring_recovers_correlations(correlated):
    """25% of y below a detection limit: the censored full-covariance fit
    covers the true correlations. Dropping the censored rows moves some
    component's correlation by more than three of the censored fit's
    posterior sds (4.1 and 5.5 here); plugging in the limit, whose cells
    have no spread in y, shrinks every component's correlation towards zero
    (at its best mode by 1.9, 0.6 and 2.9 sds; a poorer mode, where the
    trimmed k-means starts alone used to stop, 2.0, 0.9 and 4.8)."""
    data, truth = correlated
    X = data.X.copy()
    limit = float(np.quantile(X["y"], 0.25))
    X.loc[X["y"] <= limit, "y"] = limit
    censored = sm.Mixture(3, covariance="full").fit(
        X, lower_limit={"y": limit}, warmup=500, draws=500, **FIT
    )
    assert censored.summary()["r_hat"].max() <= 1.01
    assert np.all(np.abs(_corr_z(censored, truth)) < 3)
    sd = censored.idata_.posterior["corr"].isel(pair=0).std(("chain", "draw"))
    sd = sd.to_numpy()[_order_to_truth(censored.means_, truth)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        plugged = sm.Mixture(3, covariance="full").fit(X, method="optimize", seed=1)
        dropped = sm.Mixture(3, covariance="full").fit(
            X[X["y"] > limit], method="optimize", seed=1
        )

    def matched(model):
        return model.correlations_[:, 0, 1][_order_to_truth(model.means_, truth)]

    corr = matched(dropped)
    assert np.max(np.abs(corr - truth["corr"]) / sd) > 3, corr
    corr = matched(plugged)
    posterior = censored.idata_.posterior["corr"].isel(pair=0).mean(("chain", "draw"))
    posterior = posterior.to_numpy()[_order_to_truth(censored.means_, truth)]
    assert np.all(np.abs(corr) < np.abs(posterior)), (corr, posterior)
    assert np.max(np.abs(corr - posterior) / sd) > 2, corr


@pytest.mark.slow
def test_student_t_components_absorb_outliers():
    """Three clusters plus 5% of points spread over a box four times as
    wide. Normal components spend one component on the outliers and merge
    two clusters; Student-t components keep the three clusters, one of them
    taking the outliers into its heavy tails (nu near 1)."""
    data = datasets.with_outliers(600, seed=1)
    t = sm.Mixture(3, family="student_t").fit(data.X, **FIT)
    normal = sm.Mixture(3, family="normal").fit(data.X, **FIT)
    assert t.summary()["r_hat"].max() <= 1.01
    error_t = _matched(t.means_, data.means) - data.means
    error_normal = _matched(normal.means_, data.means) - data.means
    rmse_t = np.sqrt((error_t**2).sum(-1).mean())
    rmse_normal = np.sqrt((error_normal**2).sum(-1).mean())
    assert rmse_t < 0.25 < 1.0 < rmse_normal, (rmse_t, rmse_normal)
    # Every Student-t component sits on a true cluster centre.
    assert np.abs(error_t).max() < 0.3
    nu = t.idata_.posterior["nu"]
    assert float(nu.quantile(0.95, ("chain", "draw")).min()) < 30

    clean = datasets.mixture_sample(
        np.full(3, 1 / 3), data.means, 1.0, 600, seed=2, columns=["x", "y"]
    )
    normal_like = sm.Mixture(3, family="student_t").fit(clean.X, **FIT)
    median = normal_like.idata_.posterior["nu"].median(("chain", "draw"))
    assert float(median.min()) > 30, median.values


@pytest.mark.parametrize("covariance", ["tied", "spherical"])
def test_tied_and_spherical_modes_agree_with_scikit_learn(covariance):
    """On data drawn from the structure itself, the posterior mode clusters
    as scikit-learn's EM does, and its covariance is close."""
    rng = np.random.default_rng(3)
    means = np.array([[-3.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    if covariance == "tied":
        cov = np.array([[1.0, 0.6], [0.6, 0.8]])
        X = np.vstack([rng.multivariate_normal(m, cov, 150) for m in means])
    else:
        spread = np.array([0.5, 1.0, 1.5])[:, None, None]
        X = (means[:, None, :] + spread * rng.normal(size=(3, 150, 2))).reshape(-1, 2)
    model = sm.Mixture(3, covariance=covariance).fit(X, method="optimize", seed=1)
    gm = GaussianMixture(3, covariance_type=covariance, random_state=0).fit(X)
    assert adjusted_rand_score(gm.predict(X), model.predict(X)) > 0.99
    order = _order_to_truth(model.means_, {"means": gm.means_})
    ours = model.covariances_ if covariance == "tied" else model.covariances_[order]
    np.testing.assert_allclose(ours, gm.covariances_, rtol=0.1)


@pytest.fixture(scope="module")
def small_mixed():
    """Two clusters in three columns with a detection limit on x and a few
    missing cells."""
    data = datasets.correlated(120, seed=5, dims=3)
    X = data.X.copy()
    limit = float(np.quantile(X["x"], 0.15))
    X.loc[X["x"] <= limit, "x"] = limit
    X.iloc[[3, 10, 40], 2] = np.nan
    return X, {"x": limit}


@pytest.mark.parametrize(
    "key",
    [
        k
        for k, cls in sm.families.FAMILIES.items()
        if cls.joint and not cls.needs_covariates
    ],
    ids="-".join,
)
def test_every_family_works_with_every_method(small_mixed, key):
    """MAP, ADVI and NUTS run for every family on censored and missing cells;
    membership, prediction on new censored rows, the summary's names and
    the posterior's dims follow the family."""
    X, limits = small_mixed
    family, covariance = key
    model = sm.Mixture(3, family=family, covariance=covariance)
    fits = {
        "optimize": dict(method="optimize"),
        "variational": dict(method="variational", draws=50),
        "sample": dict(chains=2, warmup=150, draws=50),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for method, args in fits.items():
            model.fit(X, lower_limit=limits, **args, **FIT)
            assert model.method_ == method
            rows = model.summary().index
            assert any(r.startswith("mu[0, x]") for r in rows)
            assert ("nu[0]" in rows) == (family == "student_t")
            assert any("corr[" in r and "x:y" in r for r in rows) == (
                covariance in ("full", "tied")
            )
    post = model.idata_.posterior
    assert post["mu"].dims == ("chain", "draw", "component", "dim")
    assert "y_left" not in post and "L_corr" not in post
    table = model.membership()
    assert len(table) == 3 * len(X)
    np.testing.assert_allclose(table.groupby("observation")["mean"].sum(), 1.0)
    new = X.iloc[:4].copy()
    new.iloc[0, 0] = limits["x"]
    proba = model.predict_proba(new, lower_limit=limits)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert (
        model.covariances_.shape
        == {
            "diag": (3, 3),
            "spherical": (3,),
            "full": (3, 3, 3),
            "tied": (3, 3),
        }[covariance]
    )


@pytest.mark.parametrize("covariance", ["full", "tied"])
def test_full_and_tied_optimize_from_given_values(covariance):
    """Parameter values with correlations start the optimizer (tied: one
    scale vector and one correlation matrix for all components); from the
    true values it reaches the mode the k-means starts find."""
    data = datasets.correlated(300, seed=1)
    if covariance == "full":
        values = {"sigma": data.scales, "corr": data.correlations}
    else:
        values = {"sigma": data.scales.mean(axis=0), "corr": np.eye(2)}
    init = {"w": data.weights, "mu": data.means, **values}
    seen = []

    class Spy(sm.get_engine("stanli").__class__):
        def optimize(self, stan_file, data, **kwargs):
            seen.append(kwargs["init"])
            return super().optimize(stan_file, data, **kwargs)

    given = sm.Mixture(3, covariance=covariance, engine=Spy())
    given.fit(data.X, method="optimize", init=init, seed=1)
    # one start from the values, its end point confirmed as a mode
    assert len(seen) == 2
    default = sm.Mixture(3, covariance=covariance, engine=Spy())
    default.fit(data.X, method="optimize", seed=1)
    assert len(seen) == 2 + 4 + 1  # four k-means starts, one confirmation
    assert not any(
        np.allclose(np.asarray(seen[0][name]), np.asarray(start[name]))
        for start in seen[2:6]
        for name in ("mu_rest",)
    )
    np.testing.assert_allclose(
        given.optimize_lps_.max(), default.optimize_lps_.max(), rtol=1e-6
    )
    np.testing.assert_allclose(
        _matched(given.means_, data.means),
        _matched(default.means_, data.means),
        atol=1e-3,
    )


def test_sample_draws_rows_from_the_fitted_components():
    """At the mode: the labels' shares match the weights, and each
    component's rows have its mean and covariance, within 4 standard errors
    of 20,000 draws."""
    data = sm.datasets.correlated(300, seed=3)
    model = sm.Mixture(2, covariance="full", engine="stanli").fit(
        data.X, method="optimize", seed=1
    )
    n = 20_000
    X, labels = model.sample(n, seed=2)
    assert list(X.columns) == list(data.X.columns) and X.shape == (n, 2)
    share = np.bincount(labels, minlength=2) / n
    se = np.sqrt(model.weights_ * (1 - model.weights_) / n)
    assert np.all(np.abs(share - model.weights_) < 4 * se)
    for k in range(2):
        rows = X.to_numpy()[labels == k]
        cov = model.covariances_[k]
        mean_se = np.sqrt(np.diag(cov) / len(rows))
        assert np.all(np.abs(rows.mean(axis=0) - model.means_[k]) < 4 * mean_se)
        var = np.diag(cov)
        cov_se = np.sqrt((np.outer(var, var) + cov**2) / len(rows))
        assert np.all(np.abs(np.cov(rows.T) - cov) < 4 * cov_se)
    # one seed, one sample; another seed, another
    again, _ = model.sample(n, seed=2)
    pd.testing.assert_frame_equal(X, again)
    assert not model.sample(5, seed=3)[0].equals(X.iloc[:5])
    with pytest.raises(sm.StanmixInputError, match="n_samples"):
        model.sample(0)


def test_sample_from_draws_mixes_the_posterior():
    """With draws, each row comes from a draw picked at random: one
    component's rows have the mean and variance of the predictive over the
    draws (law of total variance), wider than at the parameters' means."""
    data = sm.datasets.mixture_sample([0.5, 0.5], [[-3.0], [3.0]], 1.0, 16, seed=1)
    model = sm.NormalMixture(2, engine="stanli").fit(
        data.X, method="variational", seed=1, draws=400
    )
    X, labels = model.sample(20_000, seed=1)
    draws = model.param_draws()
    for k in range(2):
        rows = X.to_numpy()[labels == k, 0]
        # law of total variance over the draws (weighted by each draw's w_k)
        w = draws["w"][:, k] / draws["w"][:, k].sum()
        mu, sigma = draws["mu"][:, k, 0], draws["sigma"][:, k, 0]
        mean = np.sum(w * mu)
        var = np.sum(w * (sigma**2 + mu**2)) - mean**2
        assert abs(rows.mean() - mean) < 4 * np.sqrt(var / len(rows))
        assert abs(rows.var() - var) < 4 * var * np.sqrt(2 / len(rows))
        # wider than rows drawn at the posterior mean of the parameters: the
        # posterior spread of the mean and the scale is in it
        plug_in = np.sum(w * sigma) ** 2
        assert rows.var() - plug_in > 4 * var * np.sqrt(2 / len(rows))
    with pytest.raises(sm.StanmixInputError, match="predict"):
        sm.RegressionMixture(2).sample(3)


def test_correlation_pairs_are_named_unambiguously_when_names_hold_colons():
    """Columns "a", "b:c", "a:b", "c": joined by ':' the pairs (a, b:c)
    and (a:b, c) would both be "a:b:c"; they are joined by ' & ' instead,
    every pair keeps its own row in the summary, and each row holds the
    correlation of its own two columns."""
    rng = np.random.default_rng(0)
    columns = ["a", "b:c", "a:b", "c"]
    centres = np.array([[-3.0, 0.0, 1.0, 2.0], [3.0, 1.0, -1.0, 0.0]])
    cov = np.full((4, 4), 0.2) + 0.8 * np.eye(4)
    cov[0, 1] = cov[1, 0] = 0.7
    X = pd.DataFrame(
        np.vstack([rng.multivariate_normal(m, cov, 150) for m in centres]),
        columns=columns,
    )
    model = sm.Mixture(2, covariance="full").fit(X, method="optimize", seed=1)
    pairs = list(model.idata_.posterior["corr"].coords["pair"].to_numpy())
    assert pairs == [
        "a & b:c",
        "a & a:b",
        "a & c",
        "b:c & a:b",
        "b:c & c",
        "a:b & c",
    ]
    corr = model.summary().filter(like="corr[0,", axis=0)["mode"]
    assert len(corr) == 6
    fitted = model.covariances_[0]
    sd = np.sqrt(np.diag(fitted))
    assert corr["corr[0, a & b:c]"] == pytest.approx(fitted[0, 1] / (sd[0] * sd[1]))
    assert corr["corr[0, a:b & c]"] == pytest.approx(fitted[2, 3] / (sd[2] * sd[3]))


@pytest.mark.parametrize(("limit", "warns"), [(4.1, True), (4.3, False)])
def test_rows_integrated_on_every_gradient_are_warned_of_before_the_fit(
    limit, warns, monkeypatch
):
    """Rows with two censored cells beside observed ones are integrated per
    component on every gradient for optimize and ADVI: past PAIR_WARN_MS of
    their measured cost per gradient (one-sided cells and interval ones
    priced apart) fit says what they cost before it starts."""
    from stanmix import advice
    from stanmix.censoring import cell_table

    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.uniform(-1, 3, size=(60, 3)), columns=["a", "b", "c"])
    X.iloc[:5, :2] = -1.5  # five rows censored in two columns beside c
    X.iloc[5:8] = -1.5  # three censored in every column: latent, no quadrature
    low = pd.DataFrame(np.nan, index=X.index, columns=X.columns)
    high = low.copy()
    X.iloc[8:10, :2] = -0.5
    low.iloc[8:10, :2], high.iloc[8:10, :2] = -1.0, 0.0  # two with intervals
    limits = {"a": -1.5, "b": -1.5, "c": -1.5}
    cells, _ = cell_table(X, lower_limit=limits, interval=(low, high))
    full = sm.Mixture(2, covariance="full")._make_family()
    assert full.for_method("optimize").integrated_pairs(cells) == (5, 2)
    assert full.for_method("variational").integrated_pairs(cells) == (5, 2)
    assert full.for_method("sample").integrated_pairs(cells) == (0, 0)  # latent
    student = sm.Mixture(2, covariance="full", family="student_t")._make_family()
    assert student.for_method("optimize").integrated_pairs(cells) == (0, 0)
    assert sm.Mixture(2)._make_family().integrated_pairs(cells) == (0, 0)
    monkeypatch.setattr(
        advice,
        "PAIR_ROW_COST",
        {
            "one-sided": {"ms": 0.1, "s": 1.0, "MB": 1.0},
            "interval": {"ms": 0.8, "s": 2.0, "MB": 3.0},
        },
    )
    monkeypatch.setattr(advice, "PAIR_WARN_MS", limit)  # cost: 2 x (5 x 0.1 + 2 x 0.8)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        sm.Mixture(2, covariance="full", engine="stanli").fit(
            X,
            method="optimize",
            seed=1,
            n_starts=1,
            lower_limit=limits,
            interval=(low, high),
        )
    said = [str(w.message) for w in seen if "beside observed ones" in str(w.message)]
    assert len(said) == int(warns)
    if warns:
        assert said[0].startswith("7 rows have two censored cells")
        assert "(2 with an interval cell)" in said[0]
        assert "each of the 2 components" in said[0]
        assert "about 4 ms per gradient, and 9 s and 11 MB to build" in said[0]
        assert "method='sample'" in said[0]


def test_rows_needing_quadrature_weigh_on_the_stored_log_likelihood(monkeypatch):
    """A row with several censored cells under a full covariance is a
    quadrature (65 nodes for two cells, 1936 for three): the default
    log-likelihood budget counts it as that many values."""
    from stanmix import estimator
    from stanmix.censoring import cell_table

    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.uniform(-1, 3, size=(60, 3)), columns=["a", "b", "c"])
    X.iloc[:10] = -1.5  # ten rows below the limit in every column
    X.iloc[10:15, :2] = -1.5  # five in two columns
    limits = {"a": -1.5, "b": -1.5, "c": -1.5}
    cells, _ = cell_table(X, lower_limit=limits)
    family = sm.Mixture(2, covariance="full")._make_family()
    costs = family.row_costs(cells)
    assert sorted(set(costs)) == [1.0, 65.0, 1936.0]
    assert costs.sum() == 45 + 5 * 65 + 10 * 1936
    diagonal = sm.Mixture(2)._make_family()
    np.testing.assert_array_equal(diagonal.row_costs(cells), np.ones(60))
    # 20 draws: 1200 values for the diagonal family, above 2000 for full.
    # (NUTS: the latent values of the rows censored in every column give
    # optimize and ADVI a degenerate mode, which they warn of and can fail on)
    monkeypatch.setattr(estimator, "LOG_LIK_BUDGET", 2000)
    fit = {
        "method": "sample",
        "chains": 1,
        "warmup": 30,
        "draws": 20,
        "seed": 1,
        "lower_limit": limits,
        "show_progress": False,
    }
    with pytest.warns(UserWarning, match="log-likelihood was not stored") as said:
        model = sm.Mixture(2, covariance="full", engine="stanli").fit(X, **fit)
    assert "log_likelihood" not in model.idata_.groups()
    (message,) = [str(w.message) for w in said if "not stored" in str(w.message)]
    assert "20 draws x 60 rows would take 9.6e-06 GB" in message
    assert "log_likelihood=True" in message
    model = sm.Mixture(2, engine="stanli").fit(X, **fit)
    assert "log_likelihood" in model.idata_.groups()
    model = sm.Mixture(2, covariance="full", engine="stanli").fit(
        X, log_likelihood=True, **fit
    )
    assert model.idata_.log_likelihood["y"].shape == (1, 20, 60)


@pytest.mark.parametrize("covariance", ["full", "tied"])
def test_doubly_censored_rows_leave_the_mode_away_from_a_singular_correlation(
    covariance,
):
    """Rows censored in both columns once had latent values, which let the
    joint density grow without bound as a correlation went to +-1 with the
    latent values on a line: the posterior mode of this data set (the
    validation's normal_full_censored replication 61: 50 rows, x below -2
    and y above 1.5 in 62 cells) had a correlation of 1.000. Normal
    components now integrate a row's two censored cells, so the mode is
    the marginal posterior's, and NUTS from it mixes."""
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[1] / "bench"
    if str(bench) not in sys.path:
        sys.path.insert(0, str(bench))
    from sbc_programs import PROGRAMS, replication_seeds

    program = PROGRAMS["normal_full_censored"]
    sim_seed, fit_seed = replication_seeds(20240601, program.seed_key, 61)
    sim = program.simulate(50, np.random.default_rng(sim_seed))
    both = (sim.X["x"] == -2.0) & (sim.X["y"] == 1.5)
    assert both.sum() >= 10
    model = program.estimator("stanli").set_params(covariance=covariance)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # NaN cells at a limit
        model.fit(sim.X, method="optimize", seed=fit_seed, **sim.fit_kwargs)
    assert model.family_.n_latent(model.cells_) == 0
    assert np.abs(model.map_["corr"][..., 0, 1]).max() < 0.9
    if covariance == "full":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model.fit(
                sim.X,
                seed=fit_seed,
                chains=2,
                draws=300,
                show_progress=False,
                **sim.fit_kwargs,
            )
        stats = model.idata_.sample_stats
        assert int(stats["diverging"].sum()) == 0
        assert float(stats["step_size"].min()) > 0.05  # no stuck chain
        assert float(model.convergence_.max_rhat) < 1.05


@pytest.mark.parametrize("covariance", ["full", "tied"])
def test_the_mode_with_rows_censored_in_two_columns_beside_observed_ones(covariance):
    """A third of the rows censored in two of three columns, with the third
    observed: the program integrates those pairs, so the optimizer finds the
    posterior's mode near the truth (mean 0, correlation 0.5). When they
    were latent values, the joint mode put the first component's means
    near -2 with a correlation of 0.97. Tolerances: about 2.5 posterior sds
    (0.15 for the means, 0.1 for the correlation, from a NUTS fit)."""
    rng = np.random.default_rng(8)
    n = 300
    z = rng.integers(0, 2, n)
    mu = np.array([[0.0, 0.0, 0.0], [4.0, 4.0, 4.0]])
    cov = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.3], [0.3, 0.3, 1.0]])
    X = pd.DataFrame(
        mu[z] + rng.multivariate_normal(np.zeros(3), cov, n), columns=list("abc")
    )
    limits = {c: float(X[c].quantile(0.35)) for c in ("a", "b")}
    for c, limit in limits.items():
        X[c] = X[c].clip(lower=limit)
    both = (X["a"] == limits["a"]) & (X["b"] == limits["b"])
    assert both.sum() > 70
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no latent values to warn of
        model = sm.Mixture(2, covariance=covariance, engine="stanli").fit(
            X, method="optimize", seed=1, lower_limit=limits
        )
    np.testing.assert_allclose(model.means_[0], 0.0, atol=0.4)
    np.testing.assert_allclose(model.means_[1], 4.0, atol=0.4)
    corr = model.correlations_ if covariance == "tied" else model.correlations_[0]
    assert 0.25 < corr[0, 1] < 0.75
