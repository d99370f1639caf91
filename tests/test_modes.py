"""The posterior mode of method="optimize" is confirmed by a restart where
the optimizer stopped."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pytest

import stanmix as sm
from stanmix.engines._stanli import StanliEngine
from stanmix.parallel import spawn_seeds

pytest.importorskip("stanli")

X = sm.datasets.blobs(300, seed=1).X


def test_an_optimizer_stopped_by_iter_is_said_to_have_stopped_short():
    model = sm.DiagonalMixture(5, engine="stanli")
    with pytest.warns(RuntimeWarning, match="stopped before it reached a mode") as seen:
        model.fit(X, method="optimize", seed=1, iter=5)
    (message,) = [str(w.message) for w in seen if "reached a mode" in str(w.message)]
    assert "(iter=5)" in message and "raise iter" in message
    (shown,) = [w for w in seen if "reached a mode" in str(w.message)]
    assert shown.filename == __file__  # the warning points at the fit call
    # the higher point is kept: above every start's end point
    kept = float(model.idata_.sample_stats["lp"].values.ravel()[0])
    assert kept > model.optimize_lps_.max() + 0.01
    converged = sm.DiagonalMixture(5, engine="stanli").fit(X, method="optimize", seed=1)
    assert converged.optimize_lps_.max() > model.optimize_lps_.max()


def test_a_random_start_stopped_by_iter_is_restarted_and_said_to_stop_short():
    """Stan's random inits give no start naming the program's parameters,
    empty ones (the ordering's unused blocks) among them: the restart
    fills the family's start from the end point, and warns as from k-means
    starts (it used to fail on the empty parameter and return in
    silence)."""
    model = sm.DiagonalMixture(2, engine="stanli")
    with pytest.warns(RuntimeWarning, match="stopped before it reached a mode"):
        model.fit(X, method="optimize", seed=1, init="random", n_starts=1, iter=1)
    kept = float(model.idata_.sample_stats["lp"].values.ravel()[0])
    assert kept > model.optimize_lps_.max() + 0.01


class _RefusingAt:
    """An engine whose optimizer refuses to start at a mean of 99 (as Stan
    refuses a start where the program's constraints fail) and elsewhere
    stays where it starts."""

    def optimize(self, stan_file, data, *, init, **kwargs):
        if np.any(init["mu"] == 99.0):
            raise ValueError("stanli init: ordered_free: not a valid ordered vector")
        return SimpleNamespace(lp=-12.0, variables={"mu": init["mu"][None, None]})


def _end(lp: float, mu: float) -> SimpleNamespace:
    return SimpleNamespace(lp=lp, variables={"mu": np.full((1, 1, 2), mu)})


def test_a_restart_that_fails_says_the_point_is_unchecked():
    from stanmix.inference.modes import _confirmed_best

    only = _end(-10.0, 99.0)
    with pytest.warns(RuntimeWarning, match=r"could not be restarted .* ordered_free"):
        kept, stranded = _confirmed_best(
            _RefusingAt(), None, {}, [only], [None], None, 1, True, {}
        )
    assert kept is only and stranded == []


def test_a_best_start_that_cannot_be_restarted_gives_way_to_the_next():
    """A start whose end point breaks the program's constraints (equal
    ordered means: an optimizer run off to the edge of the parameter space)
    is no mode, however high its log density came out."""
    from stanmix.inference.modes import _confirmed_best

    edge, next_best = _end(-10.0, 99.0), _end(-12.0, 0.0)
    with pytest.warns(RuntimeWarning, match="highest start that could be restarted"):
        kept, stranded = _confirmed_best(
            _RefusingAt(), None, {}, [next_best, edge], [None, None], None, 1, True, {}
        )
    assert kept is next_best and stranded == [1]


class _LineSearchFails:
    """An engine whose restart fails for a reason other than its start."""

    def optimize(self, *args, **kwargs):
        raise RuntimeError("optimize failed: Line search failed to achieve a decrease")


def test_a_restart_failing_otherwise_keeps_the_best_start_unchecked():
    """Only an engine's refusal of the end point as a start says the point
    is off the parameter space; a line search that fails at a mode does not,
    and the highest start is kept, unchecked."""
    from stanmix.inference.modes import _confirmed_best

    best, other = _end(-10.0, 1.0), _end(-20.0, 0.0)
    with pytest.warns(RuntimeWarning, match="kept unchecked") as seen:
        kept, stranded = _confirmed_best(
            _LineSearchFails(), None, {}, [other, best], [None, None], None, 1, True, {}
        )
    assert kept is best and stranded == []
    assert not [w for w in seen if "could be restarted is kept" in str(w.message)]


class _OneStrands:
    """Three starts: the first ends off the parameter space (a mean of 99,
    refused as a start) at the highest log density, the others agree."""

    def optimize(self, stan_file, data, *, init, **kwargs):
        first = float(init["mu"][0])
        if first == 99.0:
            raise ValueError("stanli init: ordered_free: not a valid ordered vector")
        mu, lp = (99.0, -10.0) if first == 1.0 else (first, -12.0)
        return SimpleNamespace(lp=lp, variables={"mu": np.full((1, 1, 2), mu)})


def test_a_stranded_start_is_left_out_of_the_modes_compared():
    from stanmix.inference.modes import best_mode

    inits = [{"mu": np.full(2, v)} for v in (1.0, 2.0, 2.0)]
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        best, lps = best_mode(_OneStrands(), None, {}, inits, seed=1, confirm=True)
    said = [str(w.message) for w in seen]
    assert float(best.variables["mu"][0, 0, 0]) == 2.0
    np.testing.assert_array_equal(lps, [-12.0, -12.0])
    assert len([m for m in said if "1 optimizer start(s) with a higher" in m]) == 1
    assert not [m for m in said if "different mode" in m]


def test_a_far_init_that_strands_the_optimizer_is_said_to_be_unchecked():
    rng = np.random.default_rng(0)
    data = np.r_[rng.normal(-2, 1, 60), rng.normal(3, 0.7, 40)][:, None]
    init = {"w": [0.5, 0.5], "mu": [[0.0], [1e8]], "sigma": [[1.0], [1.0]]}
    with pytest.warns(RuntimeWarning, match=r"kept unchecked: it may lie on the edge"):
        sm.Mixture(2, engine="stanli").fit(data, method="optimize", init=init, seed=1)


def test_a_converged_optimizer_is_confirmed_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = sm.DiagonalMixture(5, engine="stanli").fit(X, method="optimize", seed=1)
    assert np.isfinite(model.optimize_lps_).all()


class _SeedSpy(StanliEngine):
    """The stanli engine, recording the seed of every optimizer run."""

    def __init__(self):
        super().__init__()
        self.seeds = []

    def optimize(self, stan_file, data, **kwargs):
        self.seeds.append(kwargs["seed"])
        return super().optimize(stan_file, data, **kwargs)


def test_each_start_has_its_own_seed_derived_from_the_fit_seed(monkeypatch):
    """Start i's k-means and optimizer run take the i-th seed spawn_seeds
    derives from the fit's seed (the confirming restart the next one), so
    neighbouring seeds share no start."""
    import stanmix.estimator as estimator

    kmeans_seeds = []
    real_kmeans = estimator.kmeans

    def kmeans(points, k, seed, **kwargs):
        kmeans_seeds.append(seed)
        return real_kmeans(points, k, seed, **kwargs)

    monkeypatch.setattr(estimator, "kmeans", kmeans)
    runs = {}
    for seed in (1, 2):
        engine = _SeedSpy()
        kmeans_seeds.clear()
        sm.DiagonalMixture(5, engine=engine).fit(X, method="optimize", seed=seed)
        runs[seed] = (list(kmeans_seeds), engine.seeds)
    for seed, (kmeans_used, optimizer_used) in runs.items():
        derived = spawn_seeds(seed, 5)
        assert kmeans_used == derived[:4]
        assert optimizer_used == derived  # four starts, then the confirmation
    assert not set(runs[1][1]) & set(runs[2][1])


def test_neighbouring_seeds_give_different_random_starts_and_a_seed_repeats():
    """Stan's random inits: every start of seed 2 ends elsewhere than every
    start of seed 1, and seed 1 again gives seed 1's starts exactly."""
    model = sm.DiagonalMixture(3, engine="stanli")
    lps = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # starts disagree
        for seed in (1, 2, 1):
            lps.setdefault(seed, []).append(
                model.fit(
                    X[:200], method="optimize", init="random", seed=seed
                ).optimize_lps_.copy()
            )
    np.testing.assert_array_equal(lps[1][0], lps[1][1])
    assert not set(lps[1][0]) & set(lps[2][0])


def test_regression_starts_take_the_same_derived_seeds(monkeypatch):
    """RegressionMixture's EM starts take start i's derived seed too, so
    neighbouring fit seeds share no start."""
    import stanmix.families.regression as regression

    states = []
    real = regression.em_lines

    def em_lines(y, x, k, rng, **kwargs):
        states.append(rng.bit_generator.state["state"])
        return real(y, x, k, rng, **kwargs)

    monkeypatch.setattr(regression, "em_lines", em_lines)
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, 120)
    y = np.where(rng.random(120) < 0.5, 1 + x, -1 - x) + 0.2 * rng.standard_normal(120)
    runs = {}
    for seed in (1, 2):
        states.clear()
        sm.RegressionMixture(2, engine="stanli").fit(
            x[:, None], y, method="optimize", seed=seed
        )
        runs[seed] = list(states)
        assert states == [
            np.random.default_rng(s).bit_generator.state["state"]
            for s in spawn_seeds(seed, 4)
        ]
    assert not {str(s) for s in runs[1]} & {str(s) for s in runs[2]}


class _Restart:
    """An engine whose optimizer ends at log density ``lp``."""

    def __init__(self, lp):
        self.lp = lp

    def optimize(self, *args, **kwargs):
        return SimpleNamespace(lp=self.lp, variables={})


@pytest.mark.parametrize(
    ("lp", "gain", "warns"),
    [
        (-3e5, 0.015, False),  # 5e-8 of the log density: L-BFGS's tolerance
        (-3e5, 0.06, True),  # 2e-7 of it
        (-100.0, 0.015, True),  # above CONFIRM_GAIN, which a small one keeps
        (-100.0, 0.005, False),
    ],
)
def test_the_restart_gain_that_warns_grows_with_the_log_density(lp, gain, warns):
    from stanmix.inference.modes import _confirmed

    best = SimpleNamespace(lp=lp, variables={"mu": np.zeros((1, 1, 2))})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        kept, error = _confirmed(_Restart(lp + gain), None, {}, best, None, 1, True, {})
    assert error is None
    said = [w for w in seen if "stopped before it reached a mode" in str(w.message)]
    assert len(said) == int(warns)
    assert kept.lp == (lp + gain if warns else lp)


def test_starts_that_differ_under_a_small_iter_point_at_iter():
    """Starts cut short by iter end at different log densities though they
    share one mode: the warning names iter beside more starts."""
    with pytest.warns(RuntimeWarning, match="reached a different mode") as seen:
        sm.Mixture(5, engine="stanli").fit(X, method="optimize", seed=1, iter=10)
    (said,) = [str(w.message) for w in seen if "different mode" in str(w.message)]
    assert said.endswith(
        "With iter=10 a start may also have stopped before its mode: raise iter."
    )
