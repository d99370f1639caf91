"""Membership probabilities, pointwise log-likelihood and HDIs from draws."""

from __future__ import annotations

import math

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import logsumexp
from scipy.stats import norm

from stanmix import likelihood
from stanmix.cells import INTERVAL, LEFT, MISSING, OBSERVED, RIGHT, CellTable
from stanmix.exceptions import StanmixInputError
from stanmix.families import get_family
from stanmix.hdi import hdi
from stanmix.likelihood import MembershipSummary

NORMAL = get_family("normal")


def _normal(function):
    """``function`` of stanmix.likelihood for normal diagonal draws given as
    arrays: weights (S, K), means and scales (S, K, D)."""

    def call(cells, weights, means, scales, **options):
        draws = {"w": weights, "mu": means, "sigma": scales}
        return function(NORMAL, cells, draws, **options)

    return call


joint_log_terms = _normal(likelihood.log_terms)
log_likelihood = _normal(likelihood.log_likelihood)
membership_draws = _normal(likelihood.membership_draws)
membership_mean = _normal(likelihood.membership_mean)
membership_summary = _normal(likelihood.membership_summary)

# --------------------------------------------------------------------------
# Fixtures


def mixed_table(rng: np.random.Generator, n_obs: int, n_dims: int) -> CellTable:
    """A random table holding every cell kind, plus an all-missing row and an
    all-censored row."""
    values = rng.normal(0.0, 2.0, (n_obs, n_dims))
    kind = rng.choice(
        [OBSERVED, LEFT, RIGHT, INTERVAL, MISSING],
        p=[0.5, 0.15, 0.15, 0.1, 0.1],
        size=(n_obs, n_dims),
    ).astype(np.int8)
    kind[0, :] = MISSING
    kind[1, :] = [LEFT, RIGHT, INTERVAL][:n_dims] if n_dims <= 3 else LEFT
    for code in (OBSERVED, LEFT, RIGHT, INTERVAL, MISSING):
        kind[2 + code, 0] = code
    lower = np.full(values.shape, np.nan)
    upper = np.full(values.shape, np.nan)
    upper[kind == LEFT] = values[kind == LEFT] + 0.3
    lower[kind == RIGHT] = values[kind == RIGHT] - 0.3
    interval = kind == INTERVAL
    lower[interval] = values[interval] - rng.uniform(0.1, 1.0, interval.sum())
    upper[interval] = values[interval] + rng.uniform(0.1, 1.0, interval.sum())
    values = np.where(kind == OBSERVED, values, np.nan)
    return CellTable(values, kind, lower, upper)


def random_draws(rng: np.random.Generator, n_draws: int, n_comp: int, n_dims: int):
    weights = rng.dirichlet(np.full(n_comp, 3.0), n_draws)
    means = rng.normal(0.0, 2.0, (n_draws, n_comp, n_dims))
    scales = np.exp(rng.normal(0.0, 0.4, (n_draws, n_comp, n_dims)))
    return weights, means, scales


def reference_log_terms(cells: CellTable, weights, means, scales) -> np.ndarray:
    """lp[s, n, k], cell by cell with scipy.stats.norm."""
    n_draws, n_comp, n_dims = means.shape
    out = np.empty((n_draws, cells.n_obs, n_comp))
    for s in range(n_draws):
        for n in range(cells.n_obs):
            for k in range(n_comp):
                total = math.log(weights[s, k])
                for d in range(n_dims):
                    mu, sd = means[s, k, d], scales[s, k, d]
                    kind = cells.kind[n, d]
                    if kind == OBSERVED:
                        total += norm.logpdf(cells.values[n, d], mu, sd)
                    elif kind == LEFT:
                        total += norm.logcdf(cells.upper[n, d], mu, sd)
                    elif kind == RIGHT:
                        total += norm.logsf(cells.lower[n, d], mu, sd)
                    elif kind == INTERVAL and cells.lower[n, d] > mu:
                        # above the mean, survival functions keep the precision
                        total += math.log(
                            norm.sf(cells.lower[n, d], mu, sd)
                            - norm.sf(cells.upper[n, d], mu, sd)
                        )
                    elif kind == INTERVAL:
                        total += math.log(
                            norm.cdf(cells.upper[n, d], mu, sd)
                            - norm.cdf(cells.lower[n, d], mu, sd)
                        )
                out[s, n, k] = total
    return out


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(20240611)
    cells = mixed_table(rng, 23, 3)
    return (cells, *random_draws(rng, 7, 4, 3))


# --------------------------------------------------------------------------
# Agreement with a direct reference


def test_joint_log_terms_match_cell_by_cell_reference(problem):
    cells, weights, means, scales = problem
    assert {int(k) for k in np.unique(cells.kind)} == {0, 1, 2, 3, 4}
    expected = reference_log_terms(cells, weights, means, scales)
    got = joint_log_terms(cells, weights, means, scales)
    assert got.shape == expected.shape == (7, 23, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=0)


def test_log_likelihood_and_membership_follow_from_the_joint_terms(problem):
    cells, weights, means, scales = problem
    expected = reference_log_terms(cells, weights, means, scales)
    norm_const = logsumexp(expected, axis=2)
    np.testing.assert_allclose(
        log_likelihood(cells, weights, means, scales),
        norm_const,
        rtol=1e-10,
        atol=1e-13,
    )
    prob = membership_draws(cells, weights, means, scales)
    np.testing.assert_allclose(
        prob, np.exp(expected - norm_const[..., None]), rtol=1e-9, atol=1e-15
    )


def test_all_missing_row_gives_the_weights(problem):
    cells, weights, means, scales = problem
    prob = membership_draws(cells, weights, means, scales)
    np.testing.assert_allclose(prob[:, 0, :], weights, rtol=1e-12)
    np.testing.assert_allclose(
        log_likelihood(cells, weights, means, scales)[:, 0], 0.0, atol=1e-12
    )


def test_univariate_draws_without_dimension_axis():
    rng = np.random.default_rng(5)
    cells = mixed_table(rng, 15, 1)
    weights, means, scales = random_draws(rng, 4, 3, 1)
    full = joint_log_terms(cells, weights, means, scales)
    flat = joint_log_terms(cells, weights, means[..., 0], scales[..., 0])
    np.testing.assert_array_equal(full, flat)
    np.testing.assert_allclose(
        full, reference_log_terms(cells, weights, means, scales), rtol=1e-10
    )


def test_float32_storage_of_membership_draws(problem):
    cells, weights, means, scales = problem
    p64 = membership_draws(cells, weights, means, scales)
    p32 = membership_draws(cells, weights, means, scales, dtype=np.float32)
    assert p32.dtype == np.float32
    np.testing.assert_array_equal(p32, p64.astype(np.float32))


# --------------------------------------------------------------------------
# Probabilities, summaries and blocks


@pytest.fixture(scope="module")
def larger_problem():
    rng = np.random.default_rng(11)
    cells = mixed_table(rng, 101, 2)
    weights, means, scales = random_draws(rng, 300, 3, 2)
    return cells, weights, means, scales


def test_probabilities_sum_to_one(larger_problem):
    cells, weights, means, scales = larger_problem
    prob = membership_draws(cells, weights, means, scales)
    assert prob.shape == (300, 101, 3)
    assert np.all(prob >= 0)
    np.testing.assert_allclose(prob.sum(axis=2), 1.0, rtol=0, atol=1e-12)
    summary = membership_summary(cells, weights, means, scales)
    np.testing.assert_allclose(summary.mean.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("chunk_size", [None, 7])
def test_membership_mean_is_the_mean_of_the_draws(larger_problem, chunk_size):
    cells, weights, means, scales = larger_problem
    expected = membership_draws(cells, weights, means, scales).mean(axis=0)
    got = membership_mean(cells, weights, means, scales, chunk_size=chunk_size)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-13)


@pytest.mark.parametrize("chunk_size", [1, 7, 10, 64, 100, 101, 500])
def test_blocks_give_identical_results(larger_problem, chunk_size):
    cells, weights, means, scales = larger_problem
    kwargs = {"chunk_size": chunk_size, "n_threads": 2}
    whole = {"chunk_size": cells.n_obs, "n_threads": 1}
    np.testing.assert_array_equal(
        log_likelihood(cells, weights, means, scales, **kwargs),
        log_likelihood(cells, weights, means, scales, **whole),
    )
    np.testing.assert_array_equal(
        membership_draws(cells, weights, means, scales, **kwargs),
        membership_draws(cells, weights, means, scales, **whole),
    )
    a = membership_summary(cells, weights, means, scales, **kwargs)
    b = membership_summary(cells, weights, means, scales, **whole)
    for field in ("mean", "lower", "upper"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


@pytest.mark.parametrize("n_threads", [1, 2])
def test_progress_counts_each_blocks_rows_in_order(larger_problem, n_threads):
    """The progress callback hears of every block once, in order, with its
    row count, and the summary is the one computed without it."""
    cells, weights, means, scales = larger_problem
    heard: list[int] = []
    options = {"chunk_size": 7, "n_threads": n_threads}
    got = membership_summary(
        cells, weights, means, scales, progress=heard.append, **options
    )
    full, rest = divmod(cells.n_obs, 7)
    assert heard == [7] * full + [rest] * bool(rest)
    plain = membership_summary(cells, weights, means, scales, **options)
    for field in ("mean", "lower", "upper"):
        np.testing.assert_array_equal(getattr(got, field), getattr(plain, field))


def test_joint_log_terms_of_row_subsets(larger_problem):
    cells, weights, means, scales = larger_problem
    whole = joint_log_terms(cells, weights, means, scales)
    parts = [
        joint_log_terms(cells.rows(slice(i, i + 17)), weights, means, scales)
        for i in range(0, cells.n_obs, 17)
    ]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=1e-12)


def test_summary_matches_the_draws(larger_problem):
    cells, weights, means, scales = larger_problem
    prob = membership_draws(cells, weights, means, scales)
    summary = membership_summary(cells, weights, means, scales, hdi_prob=0.8)
    assert summary.hdi_prob == 0.8
    # The summary evaluates probabilities in float32: relative error ~1e-7,
    # more for float32 subnormals (< 1.2e-38).
    np.testing.assert_allclose(summary.mean, prob.mean(axis=0), rtol=1e-6, atol=1e-37)
    lower, upper = hdi(prob, prob=0.8, axis=0)
    np.testing.assert_allclose(summary.lower, lower, rtol=1e-5, atol=1e-37)
    np.testing.assert_allclose(summary.upper, upper, rtol=1e-5, atol=1e-37)
    inside = (prob >= summary.lower - 1e-7) & (prob <= summary.upper + 1e-7)
    assert np.all(inside.mean(axis=0) >= 0.8)


def test_each_hdi_contains_its_mean():
    # A concentrated posterior: parameters jitter little around a fixed point,
    # so each membership probability has a unimodal, narrow distribution.
    rng = np.random.default_rng(8)
    n_draws, n_comp, n_dims = 400, 3, 2
    centres = np.array([[-3.0, 0.0], [0.0, 2.0], [3.0, -1.0]])
    means = centres + rng.normal(0, 0.1, (n_draws, n_comp, n_dims))
    scales = np.exp(rng.normal(0.3, 0.05, (n_draws, n_comp, n_dims)))
    weights = rng.dirichlet(np.full(n_comp, 200.0), n_draws)
    cells = mixed_table(rng, 60, n_dims)
    summary = membership_summary(cells, weights, means, scales)
    assert np.all(summary.lower <= summary.mean)
    assert np.all(summary.mean <= summary.upper)
    assert np.all((summary.lower >= 0) & (summary.upper <= 1))


def test_to_frame_is_tidy(larger_problem):
    cells, weights, means, scales = larger_problem
    summary = membership_summary(cells, weights, means, scales)
    frame = summary.to_frame()
    assert list(frame.columns) == [
        "observation",
        "component",
        "mean",
        "hdi_lower",
        "hdi_upper",
    ]
    assert len(frame) == 101 * 3
    row = frame.iloc[3 * 5 + 2]
    assert row["observation"] == 5 and row["component"] == 2
    assert row["mean"] == summary.mean[5, 2]
    assert row["hdi_upper"] == summary.upper[5, 2]
    labelled = summary.to_frame(
        obs_index=pd.RangeIndex(100, 201), component_names=["a", "b", "c"]
    )
    assert labelled["observation"].iloc[-1] == 200
    assert labelled["component"].tolist()[:4] == ["a", "b", "c", "a"]
    with pytest.raises(StanmixInputError, match=r"obs_index.*101"):
        summary.to_frame(obs_index=range(5))


# --------------------------------------------------------------------------
# Numerical tails


def test_far_tail_interval_is_finite_and_accurate():
    # The interval [40, 41] in standard units (and its mirror image), where
    # Phi(41) - Phi(40) is 0 in double precision.
    values = np.full((2, 1), np.nan)
    kind = np.full((2, 1), INTERVAL, np.int8)
    lower = np.array([[40.0], [-41.0]])
    upper = np.array([[41.0], [-40.0]])
    cells = CellTable(values, kind, lower, upper)
    weights, means, scales = np.ones((1, 1)), np.zeros((1, 1, 1)), np.ones((1, 1, 1))
    with np.errstate(divide="ignore"):
        naive = np.log(norm.cdf(41.0) - norm.cdf(40.0))
    assert naive == -np.inf
    lp = joint_log_terms(cells, weights, means, scales)[0, :, 0]
    assert np.all(np.isfinite(lp))
    # Reference: log of the integral of the density, with exp(-40**2 / 2)
    # taken out of the integrand.
    inner, _ = integrate.quad(
        lambda x: math.exp(-0.5 * (x * x - 1600.0)), 40.0, 41.0, epsabs=0, epsrel=1e-13
    )
    expected = math.log(inner) - 800.0 - 0.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(lp, expected, rtol=1e-12)


def test_far_tail_left_and_right_censoring_are_finite():
    values = np.full((2, 1), np.nan)
    kind = np.array([[LEFT], [RIGHT]], np.int8)
    lower = np.array([[np.nan], [45.0]])
    upper = np.array([[-45.0], [np.nan]])
    cells = CellTable(values, kind, lower, upper)
    lp = joint_log_terms(
        cells, np.ones((1, 1)), np.zeros((1, 1, 1)), np.ones((1, 1, 1))
    )
    np.testing.assert_allclose(lp[0, :, 0], norm.logcdf(-45.0), rtol=1e-12)


# --------------------------------------------------------------------------
# hdi()


@pytest.mark.parametrize(
    "draw",
    [
        lambda rng, n: rng.normal(size=n),
        lambda rng, n: rng.lognormal(0.0, 1.0, size=n),
        lambda rng, n: rng.exponential(size=n),
        lambda rng, n: rng.beta(0.5, 8.0, size=n),
        lambda rng, n: rng.integers(0, 5, size=n).astype(float),
    ],
    ids=["normal", "lognormal", "exponential", "beta", "ties"],
)
@pytest.mark.parametrize("prob", [0.5, 0.89, 0.94, 0.3])
@pytest.mark.parametrize("n", [1000, 1001, 37])
def test_hdi_agrees_with_arviz(draw, prob, n):
    rng = np.random.default_rng(n)
    samples = np.stack([draw(rng, n) for _ in range(6)])
    lower, upper = hdi(samples, prob=prob)
    for i, row in enumerate(samples):
        expected = az.hdi(row, hdi_prob=prob)
        assert lower[i] == expected[0] and upper[i] == expected[1]


def test_hdi_along_other_axes():
    rng = np.random.default_rng(2)
    samples = rng.gamma(2.0, size=(3, 500, 4))
    before = samples.copy()
    lower, upper = hdi(samples, prob=0.9, axis=1)
    np.testing.assert_array_equal(samples, before)
    assert lower.shape == upper.shape == (3, 4)
    lower0, upper0 = hdi(np.moveaxis(samples, 1, 0), prob=0.9, axis=0)
    lower_neg, _ = hdi(samples, prob=0.9, axis=-2)
    np.testing.assert_array_equal(lower, lower0)
    np.testing.assert_array_equal(upper, upper0)
    np.testing.assert_array_equal(lower, lower_neg)
    expected = az.hdi(samples[2, :, 1], hdi_prob=0.9)
    assert (lower[2, 1], upper[2, 1]) == tuple(expected)


def test_hdi_float32_and_nan():
    rng = np.random.default_rng(4)
    samples = rng.normal(size=(3, 400)).astype(np.float32)
    samples[1, 17] = np.nan
    lower, upper = hdi(samples, prob=0.94)
    assert lower.dtype == np.float32
    assert np.isnan(lower[1]) and np.isnan(upper[1])
    expected = az.hdi(samples[0], hdi_prob=0.94)
    assert (lower[0], upper[0]) == tuple(expected)


# --------------------------------------------------------------------------
# Bad input


def test_bad_draw_shapes(problem):
    cells, weights, means, scales = problem
    with pytest.raises(
        StanmixInputError, match=r"means must have shape.*\(7, 4, 3\).*\(7, 4, 2\)"
    ):
        joint_log_terms(cells, weights, means[..., :2], scales)
    with pytest.raises(StanmixInputError, match=r"scales must have shape.*\(7, 3, 3\)"):
        log_likelihood(cells, weights, means, scales[:, :3])
    with pytest.raises(
        StanmixInputError, match=r"weights must have shape \(S, K\).*\(4,\)"
    ):
        membership_summary(cells, weights[0], means, scales)
    with pytest.raises(StanmixInputError, match=r"means must have shape.*\(6, 4, 3\)"):
        membership_draws(cells, weights, means[:6], scales)


def test_non_finite_and_non_positive_draws(problem):
    cells, weights, means, scales = problem
    bad = means.copy()
    bad[2, 1, 0] = np.nan
    with pytest.raises(
        StanmixInputError, match=r"means holds 1 non-finite.*draw 2, component 1"
    ):
        log_likelihood(cells, weights, bad, scales)
    bad = scales.copy()
    bad[0, 3, 2] = 0.0
    with pytest.raises(StanmixInputError, match=r"scales must be > 0.*draw 0"):
        membership_summary(cells, weights, means, bad)
    bad = weights.copy()
    bad[4, 0] = np.inf
    with pytest.raises(StanmixInputError, match=r"weights holds 1 non-finite.*draw 4"):
        membership_draws(cells, bad, means, scales)
    with pytest.raises(StanmixInputError, match=r"weights must sum to 1.*draw 0"):
        membership_draws(cells, weights * 2, means, scales)


@pytest.mark.parametrize("bad_prob", [0.0, 1.0, -0.1, 1.5, "high", "0.5", True])
def test_bad_hdi_prob(problem, bad_prob):
    cells, weights, means, scales = problem
    with pytest.raises(StanmixInputError, match=r"hdi_prob must be .*between 0 and 1"):
        membership_summary(cells, weights, means, scales, hdi_prob=bad_prob)
    with pytest.raises(StanmixInputError, match=r"prob must be .*between 0 and 1"):
        hdi(np.arange(10.0), prob=bad_prob)


def test_nan_hdi_prob_is_refused_as_not_finite(problem):
    cells, weights, means, scales = problem
    with pytest.raises(StanmixInputError, match=r"hdi_prob must be finite, got nan"):
        membership_summary(cells, weights, means, scales, hdi_prob=float("nan"))


def test_bad_options_and_cells(problem):
    cells, weights, means, scales = problem
    with pytest.raises(
        StanmixInputError,
        match=r"chunk_size must be at least 1, got 0; leave it as None",
    ):
        log_likelihood(cells, weights, means, scales, chunk_size=0)
    with pytest.raises(StanmixInputError, match=r"n_threads must be at least 1, got 0"):
        membership_summary(cells, weights, means, scales, n_threads=0)
    with pytest.raises(StanmixInputError, match=r"dtype must be a floating type"):
        membership_draws(cells, weights, means, scales, dtype=int)
    with pytest.raises(StanmixInputError, match=r"CellTable"):
        log_likelihood(np.zeros((3, 3)), weights, means, scales)
    inverted = CellTable(
        np.full((1, 1), np.nan),
        np.array([[INTERVAL]], np.int8),
        np.array([[2.0]]),
        np.array([[1.0]]),
        ("conc",),
    )
    with pytest.raises(
        StanmixInputError, match=r"lower >= upper.*row 0, column 'conc'"
    ):
        joint_log_terms(inverted, np.ones((1, 1)), np.zeros((1, 1)), np.ones((1, 1)))
    with pytest.raises(StanmixInputError, match=r"axis=3 is out of range"):
        hdi(np.zeros((4, 5)), axis=3)
    assert issubclass(StanmixInputError, ValueError)


def test_summary_is_frozen(problem):
    summary = membership_summary(*problem)
    assert isinstance(summary, MembershipSummary)
    with pytest.raises(AttributeError):
        summary.hdi_prob = 0.5  # type: ignore[misc]


@pytest.mark.parametrize("covariance", ["diag", "spherical"])
def test_normal_memberships_do_not_depend_on_the_other_rows_scored(covariance):
    """The squares are expanded around the means, not the rows: a far value
    scored beside a row leaves the row's memberships as they were alone, and
    is itself scored exactly (from (y - mu), as scipy does)."""
    from scipy.special import softmax

    import stanmix as sm

    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        np.r_[rng.normal([0, 0], 1, (60, 2)), rng.normal([3, 2], 1, (60, 2))],
        columns=["a", "b"],
    )
    model = sm.Mixture(2, covariance=covariance, engine="stanli")
    model.fit(X, method="optimize", seed=1)
    row = pd.DataFrame({"a": [1.5], "b": [1.0]})
    alone = model.predict_proba(row)
    for far in (1e6, 1e9, -1e12):
        batch = pd.concat([row, pd.DataFrame({"a": [far], "b": [0.5]})])
        probs = model.predict_proba(batch.reset_index(drop=True))
        np.testing.assert_allclose(probs[0], alone[0], rtol=1e-12)
        scales = np.broadcast_to(np.asarray(model.scales_).reshape(2, -1), (2, 2))
        exact = np.log(model.weights_) + norm.logpdf(
            [far, 0.5], model.means_, scales
        ).sum(axis=1)
        np.testing.assert_allclose(probs[1], softmax(exact), atol=1e-12)
