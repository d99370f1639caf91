"""Tests for stanmix.advi: Stan's ADVI over a log-density gradient.

Tolerances for the statistical checks come from the stationary spread of
Stan's stochastic-gradient iteration on a Gaussian target. For a parameter
whose per-draw ELBO-gradient noise has variance ``v`` equal to the ELBO's
curvature ``c`` in that parameter (true at the optimum for the mean and the
log-scale of a Gaussian approximation to a Gaussian target), Stan's step
``a_k = eta * k**-0.5 / (1 + sqrt(s_k))`` with ``s_k ~ E[g**2] = v`` makes the
iterate fluctuate around the optimum with variance ``a_k * v / (2 c) = a_k / 2``.
So after ``k`` iterations the error has standard deviation

    sd = sqrt(eta / (2 * sqrt(k) * (1 + sqrt(v))))

with ``v = 1 / sigma**2`` for a mean coordinate of scale ``sigma`` and
``v = 2`` for a log-scale (its gradient is ``1 - z**2``, z standard normal).
Checks allow four of these standard deviations. The log-scale also carries a
known bias of Stan's step: ``s_k`` includes the current squared gradient, which
damps the large negative gradients ``1 - z**2`` more than the bounded positive
ones, so the iterate settles where ``E[g / (1 + sqrt(s))] = 0``; for
``g = 1 - z**2 exp(2 d)`` and ``s = 0.9 E[g**2] + 0.1 g**2`` that is
``d = +0.034``, which the checks subtract.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy.optimize import fsolve
from scipy.stats import truncnorm

import stanmix as sm
from stanmix import advi as advi_module
from stanmix.advi import ETA_SEQUENCE, ADVIResult, advi, laplace_scale
from stanmix.exceptions import StanmixInputError

SEED = 20240611
# Stationary bias of the log-scale under Stan's step-size sequence (see above).
LOG_SCALE_BIAS = 0.034
N_SD = 4.0


def sgd_sd(eta: float, k: int, grad_var: float) -> float:
    """Stationary sd of an ADVI parameter after k iterations (module docstring)."""
    return math.sqrt(eta / (2.0 * math.sqrt(k) * (1.0 + math.sqrt(grad_var))))


class Gaussian:
    """log N(q | mean, cov) up to a constant, minus ``offset``, counting calls.

    The offset puts the ELBO far from zero, as the log density of a model with
    data is: Stan's relative-change criterion then fires at the first check it
    can, so the number of iterations is set by ``eval_elbo``.
    """

    def __init__(self, mean, cov, offset=100.0, lower0=None):
        self.mean = np.asarray(mean, dtype=float)
        self.precision = np.linalg.inv(np.asarray(cov, dtype=float))
        self.offset = offset
        self.lower0 = lower0
        self.calls = 0
        self.failures = 0

    def __call__(self, q):
        self.calls += 1
        if self.lower0 is not None and q[0] <= self.lower0:
            self.failures += 1
            raise RuntimeError("outside the support")
        diff = q - self.mean
        grad = -(self.precision @ diff)
        return 0.5 * float(diff @ grad) - self.offset, grad


MF_MEAN = np.array([1.0, -2.0, 0.5])
MF_SD = np.array([0.5, 1.0, 2.0])


@pytest.fixture(scope="module")
def meanfield_fit() -> tuple[ADVIResult, Gaussian]:
    target = Gaussian(MF_MEAN, np.diag(MF_SD**2))
    # eval_elbo=1000 stops the run at iteration 3000: buffer of two changes.
    fit = advi(target, np.zeros(3), seed=SEED, eval_elbo=1000)
    return fit, target


def test_meanfield_recovers_mean_and_scales(meanfield_fit):
    fit, _ = meanfield_fit
    assert fit.algorithm == "meanfield"
    assert fit.converged
    assert fit.eta in ETA_SEQUENCE
    k = fit.iterations
    mean_tol = N_SD * np.array([sgd_sd(fit.eta, k, 1.0 / s**2) for s in MF_SD])
    np.testing.assert_array_less(np.abs(fit.mean - MF_MEAN), mean_tol)
    log_scale_err = np.log(np.diag(fit.scale_tril) / MF_SD) - LOG_SCALE_BIAS
    assert np.all(np.abs(log_scale_err) < N_SD * sgd_sd(fit.eta, k, 2.0))


def test_meanfield_result_shapes_and_draws(meanfield_fit):
    fit, _ = meanfield_fit
    assert fit.mean.shape == (3,)
    assert fit.scale_tril.shape == (3, 3)
    assert fit.draws.shape == (1000, 3)
    np.testing.assert_array_equal(fit.scale_tril, np.diag(np.diag(fit.scale_tril)))
    assert np.all(np.diag(fit.scale_tril) > 0)
    np.testing.assert_array_equal(fit.elbo_iterations, np.arange(1, 4) * 1000)
    assert fit.elbo.shape == fit.elbo_iterations.shape
    assert fit.iterations == fit.elbo_iterations[-1]
    # Draws come from N(mean, scale_tril @ scale_tril.T): with 1000 draws the
    # sample mean is within 4 standard errors of the approximation's mean.
    sd = np.diag(fit.scale_tril)
    assert np.all(np.abs(fit.draws.mean(axis=0) - fit.mean) < 4 * sd / math.sqrt(1000))
    # The last ELBO estimate is taken at the returned approximation q, whose
    # exact ELBO is log Z - KL(q || p), with log Z the target's log normaliser
    # (offset included). The estimate averages 100 draws of a log density whose
    # variance under q is about dim / 2 = 1.5.
    log_z = 0.5 * 3 * math.log(2 * math.pi) + float(np.sum(np.log(MF_SD))) - 100.0
    ratio = sd / MF_SD
    shift = (fit.mean - MF_MEAN) / MF_SD
    kl = 0.5 * float(np.sum(ratio**2 + shift**2 - 1.0 - 2.0 * np.log(ratio)))
    assert abs(fit.elbo[-1] - (log_z - kl)) < 4 * math.sqrt(1.5 / 100)


# Estimator checks at a point away from the optimum, where the exact ELBO of a
# Gaussian approximation q = N(mu, L L^T) to the Gaussian target N(m, P^-1)
# (log density -(q - m)^T P (q - m) / 2 - offset) is known:
#   ELBO = -((mu - m)^T P (mu - m) + tr(P L L^T)) / 2 - offset
#          + sum(log |L_ii|) + dim (1 + log 2 pi) / 2,
# with gradients -P (mu - m) in mu and tril(-P L) + diag(1 / L_ii) in L (for
# meanfield, L = diag(exp(omega)) and the omega-gradient is the L_ii-gradient
# times L_ii). Averages of many single-draw estimates must match within four
# of their own standard errors.
N_GRAD_DRAWS = 4000


def exact_elbo_and_grad(target, mu, factor):
    diff = mu - target.mean
    p = target.precision
    cov = factor @ factor.T
    diag = np.diag(factor)
    dim = mu.size
    elbo = (
        -0.5 * (diff @ p @ diff + np.trace(p @ cov))
        - target.offset
        + np.sum(np.log(np.abs(diag)))
        + 0.5 * dim * (1 + math.log(2 * math.pi))
    )
    grad_factor = np.tril(-p @ factor) + np.diag(1.0 / diag)
    return elbo, -p @ diff, grad_factor


def check_estimators(family, target, theta, exact_elbo, exact_grad):
    rng = np.random.default_rng(SEED)
    one_draw = advi_module._Objective(target, family, rng, 1, N_GRAD_DRAWS)
    grads = np.array([one_draw.gradient(theta) for _ in range(N_GRAD_DRAWS)])
    se = grads.std(axis=0, ddof=1) / math.sqrt(N_GRAD_DRAWS)
    np.testing.assert_array_less(np.abs(grads.mean(axis=0) - exact_grad), N_SD * se)
    elbo, elbo_se = one_draw.elbo_with_se(theta)
    assert abs(elbo - exact_elbo) < N_SD * elbo_se


def test_meanfield_estimators_match_exact_elbo_and_gradient():
    target = Gaussian(MF_MEAN, np.diag(MF_SD**2))
    mu = MF_MEAN + np.array([0.3, -0.5, 1.0]) * MF_SD
    omega = np.log(0.5 * MF_SD)
    family = advi_module._MeanField(3)
    theta = np.concatenate([mu, omega])
    factor = np.diag(np.exp(omega))
    elbo, grad_mu, grad_factor = exact_elbo_and_grad(target, mu, factor)
    exact = np.concatenate([grad_mu, np.diag(grad_factor) * np.exp(omega)])
    check_estimators(family, target, theta, elbo, exact)
    np.testing.assert_allclose(family.scale_tril(theta), factor)


def test_fullrank_estimators_match_exact_elbo_and_gradient():
    target = Gaussian(FR_MEAN, FR_COV)
    mu = FR_MEAN + np.array([0.4, -0.6])
    # A negative diagonal entry: Stan leaves the diagonal unconstrained.
    factor = np.array([[0.5, 0.0], [0.3, -0.4]])
    family = advi_module._FullRank(2)
    theta = np.concatenate([mu, factor[np.tril_indices(2)]])
    elbo, grad_mu, grad_factor = exact_elbo_and_grad(target, mu, factor)
    exact = np.concatenate([grad_mu, grad_factor[np.tril_indices(2)]])
    check_estimators(family, target, theta, elbo, exact)
    # The reported factor has a positive diagonal and the same covariance.
    scale = family.scale_tril(theta)
    assert np.all(np.diag(scale) > 0) and scale[0, 1] == 0.0
    np.testing.assert_allclose(scale @ scale.T, factor @ factor.T)


def test_step_size_sequence_is_stans():
    # rho_k = eta k^(-1/2 + 1e-16) / (1 + sqrt(s_k)), s_1 = g_1^2,
    # s_k = 0.1 g_k^2 + 0.9 s_(k-1).
    eta = 0.7
    g1, g2, g3 = np.array([2.0, -0.5]), np.array([-1.0, 3.0]), np.array([0.2, 0.1])
    theta, history = np.zeros(2), np.zeros(2)
    s = g1**2
    expected = eta * g1 / (1 + np.sqrt(s))
    advi_module._step(theta, g1, history, 1, eta)
    np.testing.assert_allclose(theta, expected, rtol=1e-15)
    for k, g in ((2, g2), (3, g3)):
        s = 0.1 * g**2 + 0.9 * s
        expected = expected + eta * k ** (-0.5 + 1e-16) * g / (1 + np.sqrt(s))
        advi_module._step(theta, g, history, k, eta)
        np.testing.assert_allclose(history, s, rtol=1e-15)
        np.testing.assert_allclose(theta, expected, rtol=1e-15)


class ScriptedObjective:
    """Zero gradients and a scripted sequence of ELBO estimates."""

    def __init__(self, elbos):
        self.elbos = list(elbos)

    def gradient(self, theta):
        return np.zeros_like(theta)

    def elbo(self, theta):
        return self.elbos.pop(0)


@pytest.mark.parametrize(
    ("elbos", "chosen"),
    [
        # Improves, then gets worse than the previous eta: keep the previous.
        ([-5.0, -3.0, -4.0], 10.0),
        # A diverged eta (ELBO -inf) is passed over.
        ([-math.inf, -8.0, -9.0], 10.0),
        # Keeps improving to the last eta, which beats the initial ELBO.
        ([-9.0, -8.0, -7.0, -6.0, -5.0], 0.01),
        # Worse than the previous eta, but that one never beat the initial ELBO.
        ([-20.0, -30.0, -25.0, -12.0, -9.0], 0.01),
    ],
)
def test_eta_search_stopping_rule(elbos, chosen):
    objective = ScriptedObjective(elbos)
    eta = advi_module._search_eta(objective, np.zeros(2), 3, elbo_init=-10.0)
    assert eta == chosen
    assert objective.elbos == []


def test_eta_search_raises_when_last_eta_is_no_better_than_init():
    objective = ScriptedObjective([-20.0, -30.0, -25.0, -26.0, -27.0])
    with pytest.raises(RuntimeError, match="eta search failed"):
        advi_module._search_eta(objective, np.zeros(2), 3, elbo_init=-10.0)


def test_eta_search_from_an_informed_start_keeps_the_smallest_eta():
    """A start no candidate improves on is already the best the search found."""
    objective = ScriptedObjective([-20.0, -30.0, -25.0, -26.0, -27.0])
    eta = advi_module._search_eta(
        objective, np.zeros(2), 3, elbo_init=-10.0, informed=True
    )
    assert eta == ETA_SEQUENCE[-1]


LAPLACE_COV = np.array([[1.0, 0.6, 0.0], [0.6, 2.0, -0.5], [0.0, -0.5, 0.5]])


def test_laplace_scale_of_a_gaussian_is_exact():
    """For a Gaussian, the Hessian is minus the precision P everywhere: the
    mean-field scale is 1/sqrt(P_ii) (the KL(q||p) optimum ADVI seeks), the
    full-rank factor is chol(inv(P)) = chol(cov)."""
    target = Gaussian(MF_MEAN, LAPLACE_COV)
    precision = np.linalg.inv(LAPLACE_COV)
    meanfield = laplace_scale(target, MF_MEAN, "meanfield")
    np.testing.assert_allclose(meanfield, 1 / np.sqrt(np.diag(precision)), rtol=1e-6)
    fullrank = laplace_scale(target, MF_MEAN, "fullrank")
    np.testing.assert_allclose(fullrank, np.linalg.cholesky(LAPLACE_COV), atol=1e-6)
    assert target.calls == 2 * 3 * 2


def test_laplace_scale_is_none_away_from_a_mode():
    def saddle(q):  # log density q0^2 - q1^2: curvature up in q0
        return float(q[0] ** 2 - q[1] ** 2), np.array([2 * q[0], -2 * q[1]])

    assert laplace_scale(saddle, np.zeros(2), "meanfield") is None
    assert laplace_scale(saddle, np.zeros(2), "fullrank") is None


@pytest.mark.parametrize("algorithm", ["meanfield", "fullrank"])
def test_start_from_the_laplace_scale(algorithm):
    """Started at the optimum of its family, ADVI stays there: the search
    finds nothing better than the start and takes the smallest eta, and the
    fitted scale is the start's up to the step noise (module docstring)."""
    target = Gaussian(MF_MEAN, LAPLACE_COV)
    scale = laplace_scale(target, MF_MEAN, algorithm)
    fit = advi(
        target,
        MF_MEAN,
        algorithm=algorithm,
        seed=SEED,
        init_scale=scale,
        eval_elbo=1000,
    )
    assert fit.eta in ETA_SEQUENCE
    expected = np.diag(scale) if algorithm == "meanfield" else scale
    k = fit.iterations
    # The log-scale bounds of the module docstring; the full-rank diagonal
    # is held to the same bound.
    log_err = np.log(np.diag(fit.scale_tril) / np.diag(expected)) - LOG_SCALE_BIAS
    assert np.all(np.abs(log_err) < N_SD * sgd_sd(fit.eta, k, 2.0)), log_err
    precision = np.diag(np.linalg.inv(LAPLACE_COV))  # 1 / conditional variances
    mean_tol = N_SD * np.array([sgd_sd(fit.eta, k, v) for v in precision])
    assert np.all(np.abs(fit.mean - MF_MEAN) < mean_tol)


RHO = 0.8
FR_MEAN = np.array([0.5, -1.0])
FR_COV = np.array([[1.0, RHO * 2.0], [RHO * 2.0, 4.0]])


def correlation(cov: np.ndarray) -> float:
    return float(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]))


def test_fullrank_recovers_correlation_meanfield_cannot():
    target = Gaussian(FR_MEAN, FR_COV)
    fit = advi(
        target, np.zeros(2), algorithm="fullrank", seed=SEED, eta=1.0, eval_elbo=1000
    )
    mf = advi(
        target, np.zeros(2), algorithm="meanfield", seed=SEED, eta=1.0, eval_elbo=1000
    )
    assert fit.converged and fit.algorithm == "fullrank"
    # L = chol(FR_COV) = [[1, 0], [b, c]], b = 1.6, c = 1.2. Per-draw gradient
    # noise: var(g_b) = 1 / c**2 (g_b = -z1 z2 / c), var(g_c) = 2 / c**2; both
    # match their curvature. The delta method carries them to rho = b / |L[1]|.
    b, c = RHO * 2.0, 2.0 * math.sqrt(1 - RHO**2)
    k = fit.iterations
    sd_b, sd_c = sgd_sd(1.0, k, 1 / c**2), sgd_sd(1.0, k, 2 / c**2)
    drho_db, drho_dc = c**2 / 8.0, -b * c / 8.0  # |L[1]|**3 = 2**3
    sd_rho = math.hypot(drho_db * sd_b, drho_dc * sd_c)
    assert abs(correlation(fit.covariance) - RHO) < N_SD * sd_rho
    assert fit.scale_tril[0, 1] == 0.0 and np.all(np.diag(fit.scale_tril) > 0)
    # The draws carry the correlation too (1000 draws: se of r ~ (1-r^2)/sqrt(n)).
    draws_rho = np.corrcoef(fit.draws.T)[0, 1]
    assert abs(draws_rho - correlation(fit.covariance)) < 4 * (1 - RHO**2) / math.sqrt(
        1000
    )
    # Meanfield has no correlation at all, by construction.
    assert mf.covariance[0, 1] == 0.0
    assert abs(correlation(mf.covariance) - RHO) > 0.5


@pytest.mark.filterwarnings("ignore:ADVI:RuntimeWarning")
def test_same_seed_is_bitwise_identical_and_seed_matters():
    target = Gaussian(FR_MEAN, FR_COV)
    for algorithm in ("meanfield", "fullrank"):
        one = advi(target, np.zeros(2), algorithm=algorithm, seed=3, iter=2000)
        two = advi(target, np.zeros(2), algorithm=algorithm, seed=3, iter=2000)
        for name in ("mean", "scale_tril", "draws", "elbo", "elbo_iterations"):
            np.testing.assert_array_equal(getattr(one, name), getattr(two, name))
        assert (one.eta, one.iterations, one.converged) == (
            two.eta,
            two.iterations,
            two.converged,
        )
        other = advi(target, np.zeros(2), algorithm=algorithm, seed=4, iter=2000)
        assert not np.array_equal(one.draws, other.draws)
        assert not np.array_equal(one.mean, other.mean)


def test_eta_search_picks_from_sequence_and_fixed_eta_is_used():
    target = Gaussian(MF_MEAN, np.diag(MF_SD**2))
    searched = advi(target, np.zeros(3), seed=SEED)
    assert searched.eta in ETA_SEQUENCE

    target.calls = 0
    fixed = advi(target, np.zeros(3), seed=SEED, eta=0.37, elbo_samples=20)
    assert fixed.eta == 0.37
    # No search: one call to check init, elbo_samples for the initial ELBO,
    # then one per iteration and elbo_samples per convergence check.
    assert target.calls == 1 + 20 + fixed.iterations + 20 * fixed.elbo.size


def test_collapse_under_too_large_eta_is_flagged():
    # eta = 100 on a narrow target 8.5 sds from init: one huge step sends the
    # log-scale to about -130, the ELBO stops changing and the stopping rule
    # fires at a result far worse than where the optimisation started.
    target = Gaussian([2.4], [[0.28**2]], offset=20.0)
    with pytest.warns(RuntimeWarning, match="below that of its initial"):
        fit = advi(target, np.zeros(1), seed=0, eta=100.0)
    assert fit.scale_tril[0, 0] < 1e-10
    # The same target with eta = 1 is fine and raises no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        good = advi(target, np.zeros(1), seed=0, eta=1.0)
    assert abs(good.mean[0] - 2.4) < N_SD * sgd_sd(
        good.eta, good.iterations, 1 / 0.28**2
    )


def test_eta_search_fails_clearly_when_no_eta_improves():
    # The gradient points the wrong way, so every step lowers the ELBO. With
    # 1000 ELBO draws the estimate's noise (sd ~ 50 * sqrt(2 / 1000) = 2.2 at
    # init) is far below the loss of even the smallest eta (scale grows by
    # ~0.1, E[lp] falls by ~100 * 0.2 = 20).
    def backwards(q):
        return -50.0 * float(q @ q), 100.0 * q

    with pytest.raises(RuntimeError, match="eta search failed"):
        advi(backwards, np.zeros(2), seed=SEED, elbo_samples=1000)


def test_target_undefined_in_part_of_space():
    # N((-3, 1), I) restricted to q[0] > -5: the approximation puts ~2% of its
    # mass past the boundary, and those draws raise and are replaced, so the
    # gradient is an expectation over the approximation truncated to q[0] > -5.
    # Along q[0] it vanishes where that truncated normal N(mu, s) has mean -3
    # and E[(q + 3)(q - mu)] = 1.
    def stationarity(p):
        mu, s = p[0], math.exp(p[1])
        t = truncnorm((-5.0 - mu) / s, np.inf, loc=mu, scale=s)
        m1 = t.mean()
        return [m1 + 3.0, t.var() + (m1 + 3.0) * (m1 - mu) - 1.0]

    mu0 = fsolve(stationarity, [-3.0, 0.0])[0]  # about -3.10
    target = Gaussian([-3.0, 1.0], np.eye(2), lower0=-5.0)
    fit = advi(target, np.zeros(2), seed=SEED, eval_elbo=1000)
    assert target.failures > 0
    assert fit.converged
    tol = N_SD * sgd_sd(fit.eta, fit.iterations, 1.0)
    np.testing.assert_array_less(np.abs(fit.mean - [mu0, 1.0]), tol)
    assert np.all(np.isfinite(fit.draws))


def test_failures_are_bounded_and_reported():
    init = np.zeros(2)

    def only_at_init(q):
        if np.any(q != 0.0):
            raise RuntimeError("undefined here")
        return 0.0, np.zeros(2)

    with pytest.raises(RuntimeError, match="cannot compute the ELBO"):
        advi(only_at_init, init, seed=SEED)
    with pytest.raises(RuntimeError, match=r"iteration 1: .*failed at 11 draws"):
        advi(only_at_init, init, seed=SEED, eta=1.0)
    with pytest.raises(RuntimeError, match=r"failed at 41 draws"):
        advi(only_at_init, init, seed=SEED, eta=1.0, grad_samples=4)


def test_non_convergence_warns():
    target = Gaussian(MF_MEAN, np.diag(MF_SD**2))
    with pytest.warns(RuntimeWarning, match=r"did not converge within iter=300"):
        fit = advi(target, np.zeros(3), seed=SEED, eta=1.0, iter=300, tol_rel_obj=1e-12)
    assert not fit.converged
    assert fit.iterations == 300
    np.testing.assert_array_equal(fit.elbo_iterations, [100, 200, 300])


def test_stopping_before_the_first_elbo_says_so():
    target = Gaussian(MF_MEAN, np.diag(MF_SD**2))
    with pytest.warns(RuntimeWarning, match=r"before its first ELBO estimate") as seen:
        fit = advi(target, np.zeros(3), seed=SEED, eta=1.0, iter=50)
    assert fit.elbo.size == 0 and not fit.converged
    assert seen[0].filename == __file__  # the caller's line, not stanmix's


def test_callback_sees_every_iteration_and_each_elbo():
    target = Gaussian(MF_MEAN, np.diag(MF_SD**2))
    seen = []
    fit = advi(
        target,
        np.zeros(3),
        seed=SEED,
        eta=1.0,
        callback=lambda k, elbo: seen.append((k, elbo)),
    )
    assert [k for k, _ in seen] == list(range(1, fit.iterations + 1))
    reported = [(k, e) for k, e in seen if e is not None]
    assert [k for k, _ in reported] == fit.elbo_iterations.tolist()
    assert [e for _, e in reported] == fit.elbo.tolist()


def test_init_is_not_modified():
    init = np.array([0.1, 0.2, 0.3])
    advi(Gaussian(MF_MEAN, np.diag(MF_SD**2)), init, seed=SEED, eta=1.0)
    np.testing.assert_array_equal(init, [0.1, 0.2, 0.3])


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"algorithm": "laplace"}, "algorithm must be 'meanfield' or 'fullrank'"),
        ({"init": np.array([0.0, np.nan, 0.0])}, "init has non-finite values"),
        ({"init": np.zeros((3, 1))}, "init must be a 1-D array"),
        ({"init": np.zeros(0)}, "init is empty"),
        ({"init": ["a", "b", "c"]}, "init must be a 1-D array of floats"),
        ({"iter": 0}, "iter must be at least 1"),
        ({"iter": 10.5}, "iter must be an integer, got 10.5"),
        ({"grad_samples": 0}, "grad_samples must be at least 1"),
        ({"elbo_samples": -1}, "elbo_samples must be at least 1"),
        ({"adapt_iter": 0}, "adapt_iter must be at least 1"),
        ({"eval_elbo": 0}, "eval_elbo must be at least 1"),
        ({"output_draws": 0}, "output_draws must be at least 1"),
        ({"tol_rel_obj": 0.0}, "tol_rel_obj must be a positive"),
        ({"tol_rel_obj": -0.01}, "tol_rel_obj must be a positive"),
        ({"eta": -1.0}, "eta must be a positive"),
        ({"eta": math.inf}, "eta must be finite, got inf"),
        ({"seed": -1}, "seed must be at least 0"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"callback": 3}, "callback must be callable"),
        (
            {"init_scale": np.ones(2)},
            r"init_scale has shape \(2,\); meanfield needs \(3,\)",
        ),
        ({"init_scale": np.eye(3)}, r"meanfield needs \(3,\)$"),
        ({"init_scale": np.array([1.0, 0.0, 1.0])}, "positive, finite standard"),
        (
            {"init_scale": np.ones((3, 3)), "algorithm": "fullrank"},
            "must be lower triangular",
        ),
        ({"init_scale": "wide"}, "init_scale must be an array of floats"),
    ],
)
def test_bad_input_raises_before_any_evaluation(kwargs, fragment):
    target = Gaussian(MF_MEAN, np.diag(MF_SD**2))
    kwargs = {"init": np.zeros(3), **kwargs}
    init = kwargs.pop("init")
    with pytest.raises(StanmixInputError, match=fragment) as info:
        advi(target, init, **kwargs)
    assert isinstance(info.value, ValueError)
    assert target.calls == 0


def test_bad_target_or_init_for_the_target():
    target = Gaussian(MF_MEAN, np.diag(MF_SD**2), lower0=-5.0)
    with pytest.raises(StanmixInputError, match="log_prob_grad must be callable"):
        advi("not a function", np.zeros(3))
    with pytest.raises(StanmixInputError, match="rejected init of length 2"):
        advi(target, np.zeros(2))
    with pytest.raises(StanmixInputError, match="init has 2 entries"):
        advi(lambda q: (0.0, np.zeros(3)), np.zeros(2))
    with pytest.raises(StanmixInputError, match="cannot be evaluated at init"):
        advi(target, np.array([-6.0, 0.0, 0.0]))


STAN_CODE = """
data {
  int<lower=1> N;
  vector[N] y;
  real<lower=0> sigma;
}
parameters {
  real mu;
}
model {
  mu ~ normal(0, 100);
  y ~ normal(mu, sigma);
}
"""


def test_stan_model_through_stanli():
    stanli = pytest.importorskip("stanli")
    sigma, n = 2.0, 50
    y = np.random.default_rng(7).normal(3.0, sigma, size=n)
    model = stanli.Model(stan_code=STAN_CODE, data={"N": n, "y": y, "sigma": sigma})
    with pytest.raises(StanmixInputError, match="rejected init of length 2"):
        advi(model.log_prob_grad, np.zeros(2), seed=SEED)
    fit = advi(model.log_prob_grad, np.zeros(1), seed=SEED)
    # Conjugate normal: exact posterior of mu.
    precision = 1 / 100**2 + n / sigma**2
    post_mean = (y.sum() / sigma**2) / precision
    post_sd = 1 / math.sqrt(precision)
    assert fit.converged
    k = fit.iterations
    # Mean: sd = sqrt(eta * s / (2 sqrt(k) (1 + s))) with s = post_sd, about
    # 0.3 posterior sds at k = 300, eta = 1; the tolerance is 4 of them.
    assert abs(fit.mean[0] - post_mean) < N_SD * sgd_sd(fit.eta, k, 1 / post_sd**2)
    log_scale_err = math.log(fit.scale_tril[0, 0] / post_sd) - LOG_SCALE_BIAS
    assert abs(log_scale_err) < N_SD * sgd_sd(fit.eta, k, 2.0)


def test_no_print_and_logs_progress(caplog, capsys):
    target = Gaussian(MF_MEAN, np.diag(MF_SD**2))
    with caplog.at_level("INFO", logger="stanmix.advi"), warnings.catch_warnings():
        warnings.simplefilter("error")
        advi(target, np.zeros(3), seed=SEED)
    assert capsys.readouterr() == ("", "")
    messages = [r.getMessage() for r in caplog.records if r.name == "stanmix.advi"]
    assert any(m.startswith("eta search: using eta") for m in messages)
    assert any("converged" in m for m in messages)


def test_a_fits_advi_warnings_name_the_callers_line():
    X = sm.datasets.blobs(60, seed=1).X
    with pytest.warns(RuntimeWarning, match="did not converge") as seen:
        sm.Mixture(2, engine="stanli").fit(
            X, method="variational", seed=1, draws=50, iter=200
        )
    assert {w.filename for w in seen} == {__file__}


def test_the_approximations_log_density_is_the_gaussians():
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(3)
    tril = np.tril(rng.normal(size=(3, 3)), -1) + np.diag([0.5, 1.5, 2.0])
    mean = np.array([1.0, -2.0, 0.5])
    points = rng.normal(size=(7, 3))
    fit = ADVIResult(
        "fullrank", mean, tril, points, np.array([]), np.array([]), 1.0, True, 0
    )
    np.testing.assert_allclose(
        fit.log_density(points),
        multivariate_normal(mean, tril @ tril.T).logpdf(points),
        rtol=1e-12,
    )


def test_a_fit_says_how_far_its_approximation_is_from_the_posterior():
    """Pareto k-hat of the draws' importance ratios (Yao et al. 2018): the
    meanfield approximation of five 2-D blobs, whose posterior sds it puts
    about 40% too narrow, is above 0.7 and warned of; the fullrank one of a
    full-covariance mixture of the same data is close (below 0.5). Both
    equal ArviZ's k-hat of the stored log densities."""
    import arviz as az

    X = sm.datasets.blobs(500, seed=1).X
    with pytest.warns(
        RuntimeWarning,
        match=r"Pareto k-hat of its draws' importance ratios is 1\.\d\d, above "
        r"0\.7 .* algorithm='fullrank', which keeps the correlations",
    ):
        meanfield = sm.Mixture(5, engine="stanli").fit(X, method="variational", seed=1)
    full = sm.Mixture(5, covariance="full", engine="stanli")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        full.fit(X, method="variational", algorithm="fullrank", seed=1)
    assert meanfield.pareto_k_ > 0.7 > 0.5 > full.pareto_k_
    for model in (meanfield, full):
        stats = model.idata_.sample_stats
        ratio = (stats["lp"] - stats["log_g"]).to_numpy().ravel()
        assert model.pareto_k_ == pytest.approx(float(az.psislw(ratio)[1]), abs=1e-9)
        assert model.idata_.posterior.attrs["pareto_k"] == model.pareto_k_
    assert (
        sm.Mixture(2, engine="stanli").fit(X, method="optimize", seed=1).pareto_k_
        is None
    )


def _two_groups() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.r_[rng.normal(-2, 1, 150), rng.normal(3, 0.7, 100)][:, None]


def test_a_fit_takes_fullranks_cholesky_factor_as_init_scale():
    """fit checked init_scale against meanfield whatever algorithm it was
    given, refusing fullrank's (dim, dim) factor; 1-D, K = 2: 5 parameters."""
    model = sm.Mixture(2, engine="stanli")
    model.fit(
        _two_groups(),
        method="variational",
        algorithm="fullrank",
        init_scale=0.5 * np.eye(5),
        draws=200,
        seed=1,
    )
    assert model.idata_.posterior.attrs["algorithm"] == "fullrank"
    with pytest.raises(StanmixInputError, match=r"meanfield needs \(5,\)"):
        model.fit(_two_groups(), method="variational", init_scale=np.eye(5), seed=1)


@pytest.mark.parametrize("draws", [1, 20])
def test_too_few_draws_to_judge_the_approximation_say_so(draws):
    """k-hat from a score of draws came back infinite (a 'far from the
    posterior' warning on a good approximation) or NaN without a word."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = sm.Mixture(2, engine="stanli").fit(
            _two_groups(), method="variational", draws=draws, seed=1
        )
    assert math.isnan(model.pareto_k_)
    said = [str(w.message) for w in caught]
    assert [m for m in said if "Pareto" in m] == [
        f"the ADVI approximation cannot be judged from {draws} draws: the Pareto "
        "k-hat of its importance ratios needs at least 100 (pareto_k_ is NaN); "
        "take more draws (draws=1000, the default) to learn whether it is close "
        "to the posterior"
    ]
    assert not [m for m in said if "divide by zero" in m]
