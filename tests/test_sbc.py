"""Simulation-based calibration: the statistics and a small run.

The statistical pieces of ``bench/sbc_stats.py`` (ranks, the chi-square
test, the simultaneous ECDF band, Holm, coverage, reliability bins, label
matching) are tested on ranks whose distribution is known: exact posterior
draws of a conjugate normal model (uniform ranks) and deliberately wrong
posteriors (too narrow, too wide, shifted). The prior samplers of
``bench/sbc_programs.py`` are tested against their distributions, and the
priors every estimator hands to Stan against the ones they draw from. A
quick run of ``bench/sbc.py`` on two programs checks that the machinery
fits, records, resumes and reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

import sbc_programs  # noqa: E402
import sbc_stats  # noqa: E402

N_RANKS = 100  # 99 draws per replication


def conjugate_ranks(
    rng: np.random.Generator,
    n_reps: int,
    *,
    sd_factor: float = 1.0,
    shift: float = 0.0,
    n_draws: int = N_RANKS - 1,
) -> np.ndarray:
    """Ranks of mu in y_i ~ N(mu, 1), mu ~ N(0, 1), i = 1..5, with draws from
    the exact posterior (sd_factor 1, shift 0) or a distorted one."""
    n = 5
    mu = rng.normal(size=n_reps)
    ybar = mu + rng.normal(size=n_reps) / np.sqrt(n)
    post_mean = n * ybar / (n + 1)
    post_sd = 1 / np.sqrt(n + 1)
    draws = (
        post_mean
        + shift * post_sd
        + sd_factor * post_sd * rng.normal(size=(n_draws, n_reps))
    )
    return np.array(
        [sbc_stats.ranks(mu[i : i + 1], draws[:, i : i + 1])[0] for i in range(n_reps)]
    )


# -- ranks and thinning ---------------------------------------------------------
def test_ranks_count_draws_below_the_truth():
    draws = np.array([[0.0, 5.0], [1.0, 6.0], [2.0, 7.0], [3.0, 8.0]])
    assert sbc_stats.ranks(np.array([-1.0, 9.0]), draws).tolist() == [0, 4]
    assert sbc_stats.ranks(np.array([1.5, 6.5]), draws).tolist() == [2, 2]
    with pytest.raises(ValueError, match="draws must be"):
        sbc_stats.ranks(np.array([1.0]), draws)


def test_thin_indices_spread_evenly_and_refuse_too_many():
    idx = sbc_stats.thin_indices(2000, 99)
    assert idx.size == 99 and idx[0] == 0 and idx[-1] == 1999
    assert np.all(np.diff(idx) >= 20) and np.all(np.diff(idx) <= 21)
    with pytest.raises(ValueError):
        sbc_stats.thin_indices(10, 11)


def test_exact_posterior_ranks_are_uniform_and_distorted_ones_are_not():
    rng = np.random.default_rng(11)
    exact = conjugate_ranks(rng, 400)
    assert sbc_stats.chi_square_uniform(exact, N_RANKS)[2] > 0.01
    band = sbc_stats.ecdf_band(400, N_RANKS, alpha=0.01, n_sim=4000, seed=3)
    assert sbc_stats.ecdf_test(exact, band)[0]
    for distortion in ({"sd_factor": 0.6}, {"sd_factor": 1.6}, {"shift": 0.5}):
        bad = conjugate_ranks(rng, 400, **distortion)
        assert sbc_stats.chi_square_uniform(bad, N_RANKS)[2] < 1e-4, distortion
        inside, _, p = sbc_stats.ecdf_test(bad, band)
        assert not inside and p < 0.01, distortion


# -- chi-square -----------------------------------------------------------------
def test_chi_square_rejects_uniform_ranks_at_the_nominal_rate():
    rng = np.random.default_rng(5)
    p = np.array(
        [
            sbc_stats.chi_square_uniform(rng.integers(0, N_RANKS, 200), N_RANKS)[2]
            for _ in range(2000)
        ]
    )
    # 2000 tests at 5%: 100 expected; the binomial 99.9% range is 73-130.
    assert 73 <= (p < 0.05).sum() <= 130
    assert (p < 0.01).sum() <= 35


def test_chi_square_bins_of_unequal_width():
    ranks = np.arange(10).repeat(7)  # flat over 10 values, 3 unequal bins
    stat, df, p = sbc_stats.chi_square_uniform(ranks, 10, 3)
    assert stat == pytest.approx(0.0) and df == 2 and p == pytest.approx(1.0)
    with pytest.raises(ValueError, match="ranks must lie"):
        sbc_stats.chi_square_uniform(np.array([10]), 10, 3)


# -- the simultaneous ECDF band ---------------------------------------------------
@pytest.fixture(scope="module")
def band_200():
    return sbc_stats.ecdf_band(200, N_RANKS, alpha=0.01, n_sim=10_000, seed=1)


def test_ecdf_band_holds_uniform_ranks_at_the_nominal_rate(band_200):
    rng = np.random.default_rng(2024)  # not the calibration's seed
    outside = sum(
        not sbc_stats.ecdf_test(rng.integers(0, N_RANKS, 200), band_200)[0]
        for _ in range(3000)
    )
    # Nominal 1% of 3000 = 30; binomial 99.9% range 14-50.
    assert 14 <= outside <= 50
    # The band is simultaneous: far stricter pointwise than 1%.
    assert band_200.gamma < 0.002


def test_ecdf_band_and_test_agree_and_p_values_are_uniform(band_200):
    rng = np.random.default_rng(7)
    p_values = []
    for _ in range(500):
        r = rng.integers(0, N_RANKS, 200)
        inside, min_p, p = sbc_stats.ecdf_test(r, band_200)
        assert inside == (min_p > band_200.gamma)
        p_values.append(p)
    assert stats.kstest(p_values, "uniform").pvalue > 0.001


def test_ecdf_band_contains_the_expected_counts(band_200):
    expected = 200 * band_200.z
    assert np.all(band_200.lower <= np.floor(expected))
    assert np.all(band_200.upper >= np.ceil(expected))
    # Wider in the middle than at the ends, as binomial spread is.
    width = band_200.upper - band_200.lower
    assert width[N_RANKS // 2] > width[0] and width[N_RANKS // 2] > width[-1]


def test_ecdf_test_refuses_a_band_for_another_size(band_200):
    with pytest.raises(ValueError, match="200 ranks"):
        sbc_stats.ecdf_test(np.zeros(50, dtype=int), band_200)


# -- Holm, coverage, bands ----------------------------------------------------------
def test_detection_rate_is_the_tests_level_without_and_high_with_a_distortion(
    band_200,
):
    """Calibrated draws are found non-uniform at about the tests' level
    (two tests at 1%: at most about 2%); a posterior half as wide, or one
    shifted by a posterior sd, nearly always, even after Holm over 200."""
    null = sbc_stats.detection_rate(band_200, 20, 1, runs=300, seed=1)
    assert null <= stats.binom.ppf(0.999, 300, 0.02) / 300
    assert sbc_stats.detection_rate(band_200, 20, 200, sd_factor=0.5, runs=50) == 1
    assert sbc_stats.detection_rate(band_200, 20, 200, shift=1.0, runs=50) == 1
    # The run's ECDF p-values are fine enough for Holm's first step at 1%
    # over up to 1000 tests (the smallest is 1 / (sims + 1)).
    import sbc

    assert 1 / (sbc.parse_args([]).sims + 1) < 0.01 / 1000


def test_holm_matches_the_step_down_rule():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    adjusted = sbc_stats.holm(p)
    # sorted: 0.005*4, 0.01*3, 0.03*2, 0.04*1 -> monotone 0.02, 0.03, 0.06, 0.06
    assert adjusted[:4].tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert np.isnan(adjusted[4])
    assert sbc_stats.holm(np.array([0.04, 0.03])).tolist() == pytest.approx(
        [0.06, 0.06]
    )
    assert sbc_stats.holm(np.array([0.9, 0.8])).tolist() == [1.0, 1.0]


def test_central_interval_hits_have_the_nominal_share():
    every = np.arange(N_RANKS)
    for level in (0.5, 0.9):
        hits, share = sbc_stats.central_interval_hits(every, N_RANKS, level)
        assert share == level and hits.mean() == level
        # symmetric: as many misses below as above
        assert (~hits[: N_RANKS // 2]).sum() == (~hits[N_RANKS // 2 :]).sum()
    hits, share = sbc_stats.central_interval_hits(np.arange(41), 41, 0.5)
    assert share == 19 / 41 and hits.sum() == 19
    # exact posterior draws: coverage inside the binomial band
    ranks = conjugate_ranks(np.random.default_rng(3), 400)
    hits, share = sbc_stats.central_interval_hits(ranks, N_RANKS, 0.9)
    lo, hi = sbc_stats.binomial_band(400, share, 0.99)
    assert lo <= hits.mean() <= hi
    narrow = conjugate_ranks(np.random.default_rng(3), 400, sd_factor=0.6)
    hits, _ = sbc_stats.central_interval_hits(narrow, N_RANKS, 0.9)
    assert hits.mean() < lo


def test_binomial_band():
    lo, hi = sbc_stats.binomial_band(200, 0.9, 0.99)
    assert 0.83 < lo < 0.87 and 0.94 < hi < 0.96


# -- reliability and label matching ---------------------------------------------------
def test_reliability_bins_pass_calibrated_and_fail_overconfident_probabilities():
    rng = np.random.default_rng(9)
    p = rng.beta(0.5, 0.5, 20_000)
    happened = rng.random(p.size) < p
    calibrated = sbc_stats.reliability_bins(p, happened)
    assert calibrated.count.sum() == p.size
    assert calibrated.outside().sum() <= 1
    sharpened = np.clip(1.5 * (p - 0.5) + 0.5, 0, 1)  # overconfident
    over = sbc_stats.reliability_bins(sharpened, happened)
    assert over.outside().sum() >= 6
    assert np.all(over.frequency[:3] > over.mean_prob[:3])


def test_match_labels_recovers_a_permutation():
    rng = np.random.default_rng(4)
    q = rng.dirichlet(np.full(3, 0.3), size=40)
    for perm in ([2, 0, 1], [1, 0, 2], [0, 1, 2]):
        # the point's component perm[j] is the reference's component j
        point = np.empty_like(q)
        point[:, perm] = q
        assert sbc_stats.match_labels(point, q).tolist() == perm


# -- the prior samplers ---------------------------------------------------------------
def test_lkj_correlation_matrices_have_the_lkj_marginals():
    rng = np.random.default_rng(8)
    d, eta = 3, 2.0
    mats = np.array([sbc_programs.lkj_correlation(rng, d, eta) for _ in range(3000)])
    assert np.allclose(np.diagonal(mats, axis1=1, axis2=2), 1.0)
    assert np.all(np.linalg.eigvalsh(mats) > 0)
    # Each off-diagonal r: (r + 1) / 2 ~ beta(eta - 1 + d / 2, same).
    a = eta - 1 + d / 2
    for i, j in ((0, 1), (0, 2), (1, 2)):
        u = (mats[:, i, j] + 1) / 2
        assert stats.kstest(u, stats.beta(a, a).cdf).pvalue > 0.001


def test_truncated_gamma_follows_the_truncated_density():
    rng = np.random.default_rng(6)
    x = sbc_programs.truncated_gamma(rng, 2.0, 0.1, 1.0, 5000)
    dist = stats.gamma(2.0, scale=10.0)

    def cdf(v):
        return (dist.cdf(v) - dist.cdf(1.0)) / dist.sf(1.0)

    assert x.min() >= 1.0 and stats.kstest(x, cdf).pvalue > 0.001


def test_prior_draws_are_sorted_along_the_anchor_with_exchangeable_rest():
    prog = sbc_programs.PROGRAMS["normal_full"]
    rng = np.random.default_rng(10)
    draws = [prog.draw_prior(rng) for _ in range(4000)]
    mu = np.array([d["mu"] for d in draws])
    assert np.all(np.diff(mu[:, :, 0], axis=1) > 0)
    # the anchor means are the order statistics of iid normal(0, 3) draws
    lowest = stats.norm(0, 3)
    assert stats.kstest(mu[:, 0, 0], lambda v: 1 - lowest.sf(v) ** 2).pvalue > 0.001
    # the other column and the weights are not sorted: exchangeable
    assert 0.45 < (mu[:, 0, 1] < mu[:, 1, 1]).mean() < 0.55
    w = np.array([d["w"] for d in draws])
    assert abs(w[:, 0].mean() - 0.5) < 0.02
    assert np.array([d["corr"] for d in draws]).shape == (4000, 2, 2, 2)


def test_censored_data_are_recorded_at_the_limits_and_accepted():
    prog = sbc_programs.PROGRAMS["normal_diag_censored"]
    sim = prog.simulate(50, np.random.default_rng(1))
    x, y = sim.X["x"], sim.X["y"]
    assert x.min() >= -2.0 and y.max() <= 1.5
    assert sim.fit_kwargs == {"lower_limit": {"x": -2.0}, "upper_limit": {"y": 1.5}}
    assert sim.X.isna().any(axis=1).sum() > 0
    assert not sim.X.isna().all(axis=1).any()
    assert prog.acceptable(sim.X, sim.fit_kwargs)
    flat = sim.X.copy()
    flat["x"] = -2.0
    assert not prog.acceptable(flat, sim.fit_kwargs)


def test_regression_prior_orders_the_lines_at_the_centre_and_draws_iid_slopes():
    prog = sbc_programs.PROGRAMS["regression"]
    rng = np.random.default_rng(12)
    draws = [prog.draw_prior(rng) for _ in range(4000)]
    mu = np.array([d["mu"][:, 0] for d in draws])
    beta = np.array([d["beta"] for d in draws])
    assert beta.shape == (4000, 2, len(sbc_programs.PREDICTORS))
    assert np.all(np.diff(mu, axis=1) > 0)
    lowest = stats.norm(0, sbc_programs.PRIOR["prior_mean_scale"])
    assert stats.kstest(mu[:, 0], lambda v: 1 - lowest.sf(v) ** 2).pvalue > 0.001
    slope = stats.norm(0, sbc_programs.SLOPE_SCALE)
    for j, c in ((0, 0), (1, 1)):
        assert stats.kstest(beta[:, j, c], slope.cdf).pvalue > 0.001
    # Slopes are not sorted with the lines: as often larger in either one
    # (binomial sd 0.008 at 4000 draws), and uncorrelated with mu (sd of a
    # correlation of independent draws: 1 / sqrt(4000); bound at 4 sd).
    assert 0.45 < (beta[:, 0, 0] < beta[:, 1, 0]).mean() < 0.55
    assert abs(np.corrcoef(beta[:, 0, 0], mu[:, 0])[0, 1]) < 4 / np.sqrt(4000)


def test_regression_data_follow_the_lines_and_censor_the_response_only():
    plain = sbc_programs.PROGRAMS["regression"]
    censored = sbc_programs.PROGRAMS["regression_censored"]
    sim = plain.simulate(2000, np.random.default_rng(13))
    assert list(sim.X.columns) == ["x1", "x2", "y"] and sim.redraws == 0
    assert sim.fit_kwargs == {"response": "y"}
    x = sim.X[["x1", "x2"]].to_numpy()
    truth, labels = sim.truth, sim.labels
    # The intercepts are the lines at x = 0, given their value at the centre.
    center = x.mean(axis=0)
    assert np.allclose(truth["intercept"] + truth["beta"] @ center, truth["mu"][:, 0])
    line = truth["intercept"][labels] + (x * truth["beta"][labels]).sum(axis=1)
    z = (sim.X["y"].to_numpy() - line) / truth["sigma"][labels, 0]
    assert stats.kstest(z, "norm").pvalue > 0.001
    # The same draws, recorded with the limits and missing responses.
    cens = censored.simulate(2000, np.random.default_rng(13))
    assert cens.redraws == 0 and cens.fit_kwargs == {
        "lower_limit": {"y": -5.0},
        "upper_limit": {"y": 4.0},
        "response": "y",
    }
    assert cens.X[["x1", "x2"]].equals(sim.X[["x1", "x2"]])
    y, seen = cens.X["y"], cens.X["y"].notna()
    assert np.allclose(y[seen], sim.X["y"].clip(-5.0, 4.0)[seen])
    assert (y == -5.0).any() and (y == 4.0).any()
    # 15% of rows missing their response: binomial sd 0.008 at 2000 rows.
    assert 0.12 < (~seen).mean() < 0.18
    assert censored.acceptable(cens.X, cens.fit_kwargs)
    flat = cens.X.assign(y=4.0)
    assert not censored.acceptable(flat, cens.fit_kwargs)


@pytest.mark.parametrize("name", sorted(sbc_programs.PROGRAMS))
def test_estimators_pass_stan_the_priors_the_programs_draw_from(name, monkeypatch):
    """The Stan data of a simulated data set: the prior settings the
    simulation uses, and the data in their own units (nothing standardized)."""
    pytest.importorskip("stanli")
    import stanmix.estimator

    class Captured(Exception):
        pass

    def capture(engine, stan_file, data, *args, **kwargs):
        raise Captured(stan_file, data)

    monkeypatch.setattr(stanmix.estimator, "best_mode", capture)
    prog = sbc_programs.PROGRAMS[name]
    sim = prog.simulate(30, np.random.default_rng(2))
    with pytest.raises(Captured) as caught:
        prog.estimator().fit(sim.X, method="optimize", seed=1, **sim.fit_kwargs)
    stan_file, data = caught.value.args
    prior = sbc_programs.PRIOR
    assert Path(stan_file).name == prog.program_file
    assert data["K"] == prog.k and data["ordered_means"] == 1 and data["anchor"] == 1
    assert np.all(data["mu_loc"] == 0.0)
    assert np.all(data["mu_scale"] == prior["prior_mean_scale"])
    assert np.all(data["alpha"] == prior["prior_concentration"])
    assert np.all(data["sigma_loc"] == prior["prior_scale_median"])
    assert np.all(data["sigma_scale"] == prior["prior_scale_log_sd"])
    if prog.family == "student_t":
        assert data["nu_shape"] == sbc_programs.NU_PRIOR["nu_shape"]
        assert data["nu_rate"] == sbc_programs.NU_PRIOR["nu_rate"]
    if prog.covariance in ("full", "tied"):
        assert data["lkj_eta"] == sbc_programs.LKJ_ETA
        assert data["tied"] == (prog.covariance == "tied")
    elif prog.d > 1:
        assert data["spherical"] == (prog.covariance == "spherical")
    observed = data["observed"].astype(bool)
    values = sim.X[prog.columns].to_numpy()
    assert np.array_equal(data["y"][observed], values[observed])
    if isinstance(prog, sbc_programs.RegressionProgram):
        x = sim.X[list(prog.predictors)].to_numpy()
        assert np.array_equal(data["X"][:, data["pred_col"] - 1], x)
        assert np.allclose(data["x_center"], x.mean(axis=0))
        assert data["beta_scale"] == sbc_programs.SLOPE_SCALE
        assert data["order_by"] == 0 and data["n_gate"] == 0
        assert data["student_t"] == (prog.family == "student_t")


def test_tied_and_spherical_priors_share_their_scales():
    rng = np.random.default_rng(14)
    tied = sbc_programs.PROGRAMS["normal_tied_censored"]
    draw = tied.draw_prior(rng)
    assert draw["sigma"].shape == (1, 2) and draw["corr"].shape == (1, 2, 2)
    assert np.all(np.diff(draw["mu"][:, 0]) > 0)
    # permuting the components leaves the shared covariance alone
    swapped = tied.permute(draw, np.array([1, 0]))
    assert np.array_equal(swapped["mu"], draw["mu"][::-1])
    assert swapped["sigma"] is draw["sigma"] and swapped["corr"] is draw["corr"]
    spherical = sbc_programs.PROGRAMS["normal_spherical_censored"]
    sigma = np.array([spherical.draw_prior(rng)["sigma"] for _ in range(2000)])
    assert np.array_equal(sigma[:, :, 0], sigma[:, :, 1])
    log_scale = stats.norm(0.0, sbc_programs.PRIOR["prior_scale_log_sd"])
    assert stats.kstest(np.log(sigma[:, 0, 0]), log_scale.cdf).pvalue > 0.001
    one = spherical.draw_prior(rng)
    names = list(spherical.flatten({k: v[None] for k, v in one.items()}))
    assert [n for n in names if n.startswith("sigma")] == ["sigma[0]", "sigma[1]"]


def test_tied_data_share_one_covariance():
    prog = sbc_programs.PROGRAMS["normal_tied_censored"]
    corr = np.array([[[1.0, 0.6], [0.6, 1.0]]])
    truth = {
        "w": np.array([0.5, 0.5]),
        "mu": np.array([[-1.0, 0.0], [2.0, 1.0]]),
        "sigma": np.array([[0.5, 2.0]]),
        "corr": corr,
    }
    values, labels = prog.draw_data(truth, 4000, np.random.default_rng(15))
    resid = (values - truth["mu"][labels]) / truth["sigma"][0]
    # each component's residuals have the shared correlation (sd of a
    # correlation estimate from 2000 rows: about 0.015; bound at 4 sd)
    for j in (0, 1):
        r = np.corrcoef(resid[labels == j].T)[0, 1]
        assert abs(r - 0.6) < 0.06
    assert stats.kstest(resid[:, 0], "norm").pvalue > 0.001


def test_multivariate_t_rows_share_one_scale_variate():
    """(x - mu)' Sigma^-1 (x - mu) / d of a d-variate t with nu degrees of
    freedom follows F(d, nu); independent t cells would not."""
    prog = sbc_programs.PROGRAMS["student_t_full"]
    corr = np.array([[1.0, -0.5], [-0.5, 1.0]])
    sigma = np.array([1.5, 0.5])
    truth = {
        "w": np.array([1.0, 0.0]),
        "mu": np.array([[1.0, -2.0], [0.0, 0.0]]),
        "sigma": np.array([sigma, sigma]),
        "corr": np.array([corr, corr]),
        "nu": np.array([4.0, 4.0]),
    }
    values, labels = prog.draw_data(truth, 4000, np.random.default_rng(16))
    assert np.all(labels == 0)
    cov = corr * np.outer(sigma, sigma)
    resid = values - truth["mu"][0]
    quad = np.einsum("ni,ij,nj->n", resid, np.linalg.inv(cov), resid) / 2
    assert stats.kstest(quad, stats.f(2, 4).cdf).pvalue > 0.001
    # one scale variate per row: the whitened cells are uncorrelated but
    # their sizes are not (Spearman's rho of independent cells has sd
    # 1 / sqrt(4000) = 0.016; the bound is 6 sd)
    white = np.linalg.solve(np.linalg.cholesky(cov), resid.T).T
    assert abs(np.corrcoef(white.T)[0, 1]) < 0.1
    assert stats.spearmanr(np.abs(white[:, 0]), np.abs(white[:, 1]))[0] > 0.1


def test_binned_cells_are_recorded_as_the_interval_they_lie_in():
    prog = sbc_programs.PROGRAMS["normal_diag_interval"]
    rng = np.random.default_rng(17)
    truth = prog.draw_prior(rng)
    values, _ = prog.draw_data(truth, 2000, rng)
    X, kwargs = prog.record(values, rng)
    low, high = kwargs["interval"]
    assert kwargs["lower_limit"] == {"x": -2.0} and kwargs["upper_limit"] == {}
    binned = low["y"].notna().to_numpy()
    assert low["x"].isna().all() and np.array_equal(binned, high["y"].notna())
    # half the rows (binomial sd 0.011), their values hidden, each inside
    # its bin of width 1 with integer edges
    assert 0.45 < binned.mean() < 0.55
    assert X["y"][binned].isna().all()
    assert np.array_equal(X["y"][~binned], values[~binned, 1])
    true_y = values[binned, 1]
    assert np.all((low["y"][binned] <= true_y) & (true_y < high["y"][binned]))
    assert np.allclose(high["y"][binned] - low["y"][binned], 1.0)
    assert np.array_equal(low["y"][binned], np.floor(low["y"][binned]))
    assert prog.acceptable(X, kwargs)


def test_replication_seeds_are_stable_and_distinct():
    a = sbc_programs.replication_seeds(1, "normal_diag", 0)
    assert a == sbc_programs.replication_seeds(1, "normal_diag", 0)
    assert a != sbc_programs.replication_seeds(1, "normal_diag", 1)
    assert a != sbc_programs.replication_seeds(1, "normal_full", 0)


# -- the machinery end to end ----------------------------------------------------------
#: Tiny replications: 20 rows, 2 chains x (100 + 100), ranks among 39 draws.
TINY = {"n": 20, "warmup": 100, "draws": 100, "thin": 39, "seed": 3}


def check_record(record: dict, n: int, k: int, thin: int) -> dict[str, float]:
    """What every replication's record holds; returns its truth by name."""
    assert "error" not in record, record.get("error")
    n_params = len(record["params"])
    assert len(record["ranks"]) == len(record["ranks_program"]) == n_params
    assert all(0 <= x <= thin for x in record["ranks"] + record["ranks_program"])
    assert record["max_rhat"] >= 1.0 and record["min_ess_bulk"] > 0
    assert record["relabel"] in ("order", "stephens")
    membership = np.asarray(record["membership"])
    assert membership.shape == (n, k)
    assert np.allclose(membership.sum(axis=1), 1.0, atol=1e-4)
    assert set(record["labels"]) <= set(range(k))
    return dict(zip(record["params"], record["truth"], strict=True))


def test_one_replication_records_ranks_diagnostics_and_memberships():
    pytest.importorskip("stanli")
    import sbc

    settings = sbc.Settings(**TINY)
    prog = sbc_programs.PROGRAMS["normal_diag_censored"]
    record = sbc.run_replication(prog, 0, settings)
    truth = check_record(record, settings.n, prog.k, settings.thin)
    assert record["params"][:3] == ["w[0]", "w[1]", "mu[0, x]"]
    assert len(record["params"]) == 10
    assert record["censored_cells"] > 0 and record["missing_cells"] > 0
    # The truth is labelled as the draws: sorted along x when not relabelled.
    if record["relabel"] == "order":
        assert truth["mu[0, x]"] < truth["mu[1, x]"]
    # Same seeds, same replication.
    again = sbc.run_replication(prog, 0, settings)
    assert again["ranks"] == record["ranks"] and again["truth"] == record["truth"]


def test_one_regression_replication_ranks_lines_slopes_and_intercepts():
    pytest.importorskip("stanli")
    import sbc

    settings = sbc.Settings(**TINY)
    prog = sbc_programs.PROGRAMS["regression_censored"]
    record = sbc.run_replication(prog, 0, settings)
    truth = check_record(record, settings.n, prog.k, settings.thin)
    assert record["params"] == [
        "w[0]",
        "w[1]",
        "mu[0]",
        "mu[1]",
        "sigma[0]",
        "sigma[1]",
        "intercept[0]",
        "intercept[1]",
        "beta[0, x1]",
        "beta[0, x2]",
        "beta[1, x1]",
        "beta[1, x2]",
    ]
    assert record["censored_cells"] > 0 and record["missing_cells"] > 0
    # Labelled as the program labels its draws: by the line at the centre.
    if record["relabel"] == "order":
        assert truth["mu[0]"] < truth["mu[1]"]
    # Each true intercept is its line at x = 0, whatever the labels.
    sim = prog.simulate(settings.n, np.random.default_rng(record["sim_seed"]))
    center = sim.X[list(prog.predictors)].mean()
    for j in range(prog.k):
        slopes = sum(truth[f"beta[{j}, {c}]"] * center[c] for c in prog.predictors)
        assert truth[f"intercept[{j}]"] == pytest.approx(truth[f"mu[{j}]"] - slopes)


@pytest.mark.slow
def test_command_resumes_refuses_other_settings_and_reports(tmp_path):
    pytest.importorskip("stanli")
    out, docs = tmp_path / "out", tmp_path / "docs"
    base = [
        sys.executable,
        str(BENCH / "sbc.py"),
        "--quick",
        "--programs",
        "normal_1d,regression",
        "--n",
        "20",
        "--warmup",
        "100",
        "--draws",
        "100",
        "--sims",
        "500",
        "--out",
        str(out),
        "--docs",
        str(docs),
    ]

    def run(*extra):
        return subprocess.run(
            [*base, *extra], capture_output=True, text=True, timeout=300, cwd=ROOT
        )

    first = run("--reps", "2")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Holm" in first.stdout
    page = (docs / "validation.md").read_text()
    assert "## normal_1d" in page and "| `mu[2]` |" in page
    assert "## regression" in page and "| `beta[1, x2]` |" in page
    assert "`RegressionMixture(2, predictors=['x1', 'x2']" in page
    for figure in (
        "normal_1d_ranks",
        "normal_1d_ecdf",
        "regression_ranks",
        "regression_ecdf",
        "membership_reliability",
    ):
        assert (docs / "validation" / f"{figure}.png").stat().st_size > 5000
    second = run("--reps", "3", "--no-report")
    assert second.returncode == 0, second.stderr[-3000:]
    for name in ("normal_1d", "regression"):
        assert f"{name}: 2 replications recorded, 1 to run" in second.stdout
        lines = (out / f"{name}.jsonl").read_text().splitlines()
        assert [json.loads(x)["rep"] for x in lines] == [0, 1, 2]
    refused = run("--reps", "3", "--n", "25", "--no-report")
    assert refused.returncode != 0 and "other settings" in refused.stderr


def test_the_run_log_counts_only_the_runs_that_made_the_recorded_replications(
    tmp_path,
):
    import sbc_report

    def entry(program, wall, reps_before=None, commit="a"):
        record = {
            "program": program,
            "reps_run": 10,
            "started": wall,
            "wall_seconds": wall,
            "load_before": 1.0,
            "load_after": 2.0,
            "machine": {"commit": commit},
        }
        if reps_before is not None:
            record["reps_before"] = reps_before
        return json.dumps(record)

    lines = [
        entry("x", 100.0),  # logged before reps_before was recorded: kept
        entry("y", 7.0, 0, commit="old"),
        entry("x", 20.0, 10),  # a resumed run: added
        entry("y", 30.0, 0, commit="new"),  # y from scratch: replaces the 7 s
        entry("y", 5.0, 10, commit="new"),
    ]
    (tmp_path / "runs.jsonl").write_text("\n".join(lines) + "\n")
    log = sbc_report.run_log(tmp_path, ["x", "y"])
    assert log["per_program"] == {"x": 120.0, "y": 35.0}
    assert log["wall_seconds"] == 155.0 and log["invocations"] == 4
    assert log["commits"] == {"a": ["x"], "new": ["y"]}


#: A calibration run short enough for the suite: 40 data sets of 50 rows,
#: ranks among 39 draws.
SHORT = {"n": 50, "warmup": 200, "draws": 200, "thin": 39, "seed": 11}


@pytest.mark.slow
def test_a_short_calibration_run_of_the_diagonal_program_is_calibrated():
    """Forty replications of normal_diag through the public estimator: every
    parameter's ranks pass the chi-square test (5 bins) and its central 50%
    and 90% intervals hold the truth as often as a calibrated posterior's
    would, Holm-corrected over the 30 tests at 1%. A wrong likelihood or
    prior in the program fails it: with the scales' prior median moved by a
    factor e^0.7 inside a copy of the program (the estimator's priors
    unchanged), the smallest adjusted p-value was 4e-9."""
    pytest.importorskip("stanli")
    import sbc

    settings = sbc.Settings(**SHORT)
    prog = sbc_programs.PROGRAMS["normal_diag"]
    records = [sbc.run_replication(prog, rep, settings) for rep in range(40)]
    ranks = np.array([r["ranks"] for r in records])
    n_ranks = settings.thin + 1
    assert ranks.shape == (40, len(records[0]["params"]))
    pvalues = []
    for col in ranks.T:
        pvalues.append(sbc_stats.chi_square_uniform(col, n_ranks, 5)[2])
        for level in (0.5, 0.9):
            hits, share = sbc_stats.central_interval_hits(col, n_ranks, level)
            pvalues.append(stats.binomtest(int(hits.sum()), hits.size, share).pvalue)
    adjusted = sbc_stats.holm(np.array(pvalues))
    assert adjusted.min() >= 0.01, dict(
        zip(
            [f"{p} {t}" for p in records[0]["params"] for t in ("chi2", "50%", "90%")],
            adjusted.round(4),
            strict=True,
        )
    )
