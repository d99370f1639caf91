"""Relabelling of mixture draws: exact recovery of a known labelling."""

from __future__ import annotations

import copy
import itertools

import arviz as az
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment
from scipy.special import softmax
from scipy.stats import norm

from stanmix._labels import min_cost_permutations
from stanmix.diagnostics import detect_label_switching
from stanmix.exceptions import StanmixInputError
from stanmix.relabel import (
    apply_permutations,
    order_permutations,
    reference_permutations,
    relabel_idata,
    stephens_permutations,
)

C, S, K, N = 4, 150, 3, 60
MU = np.array([-5.0, 0.0, 5.0])
W = np.array([0.3, 0.3, 0.4])
SIGMA = np.array([1.0, 0.8, 1.2])


def make_truth(seed: int = 1, c: int = C, s: int = S) -> dict[str, np.ndarray]:
    """Draws from a well-separated posterior, labelled consistently."""
    rng = np.random.default_rng(seed)
    mu = MU + 0.15 * rng.standard_normal((c, s, K))
    sigma = SIGMA * np.exp(0.05 * rng.standard_normal((c, s, K)))
    w = rng.dirichlet(1000 * W, size=(c, s))
    z = rng.choice(K, size=N, p=W)
    y = rng.normal(MU[z], SIGMA[z])
    logp = np.log(w)[:, :, None, :] + norm.logpdf(
        y[:, None], mu[:, :, None, :], sigma[:, :, None, :]
    )
    lp = -0.5 * np.sum(((mu - MU) / 0.15) ** 2, axis=2)
    return {
        "mu": mu,
        "w": w,
        "sigma": sigma,
        "membership": softmax(logp, axis=-1),
        "lp": lp,
        "y": y,
    }


def random_perms(rng, c: int = C, s: int = S, k: int = K) -> np.ndarray:
    table = np.array(list(itertools.permutations(range(k))))
    return table[rng.integers(len(table), size=(c, s))]


def block_perms(c: int = C, s: int = S, k: int = K) -> np.ndarray:
    """Chains 1 and 3 wholly relabelled, and a block of draws inside chain 2."""
    perm = np.tile(np.arange(k), (c, s, 1))
    perm[1] = [1, 0, 2]
    perm[3] = [2, 0, 1]
    perm[2, 40:80] = [0, 2, 1]
    return perm


def scramble(truth: dict, perm: np.ndarray) -> dict[str, np.ndarray]:
    out = dict(truth)
    for name in ("mu", "w", "sigma"):
        out[name] = apply_permutations(truth[name], perm)
    out["membership"] = apply_permutations(truth["membership"], perm, axis=-1)
    return out


def assert_recovers(truth, scrambled_perm, perm) -> np.ndarray:
    """perm undoes scrambled_perm up to one global permutation g; returns g."""
    combined = np.take_along_axis(scrambled_perm, perm, axis=2)
    g = combined[0, 0]
    assert (combined == g).all(), "not a single global permutation"
    observed = scramble(truth, scrambled_perm)
    for name in ("mu", "w", "sigma"):
        got = apply_permutations(observed[name], perm)
        assert np.array_equal(got, truth[name][..., g])
    got = apply_permutations(observed["membership"], perm, axis=-1)
    assert np.array_equal(got, truth["membership"][..., g])
    return g


def params_of(d):
    return {"mu": d["mu"], "w": d["w"], "sigma": d["sigma"]}


METHODS = {
    "order": lambda d: order_permutations(d["mu"]),
    "reference_map": lambda d: reference_permutations(
        params_of(d), {"mu": MU, "w": W, "sigma": SIGMA}
    ),
    "reference_pivot": lambda d: reference_permutations(params_of(d)),
    "reference_lp_pivot": lambda d: reference_permutations(
        params_of(d), log_density=d["lp"]
    ),
    "ecr_pivot": lambda d: reference_permutations(
        {}, cost="allocations", membership=d["membership"]
    ),
    "ecr_params_pivot": lambda d: reference_permutations(
        params_of(d), cost="allocations", membership=d["membership"]
    ),
    "ecr_reference": lambda d: reference_permutations(
        {},
        {"allocations": np.argmin(np.abs(d["y"][:, None] - MU), axis=1)},
        cost="allocations",
        membership=d["membership"],
    ),
    "stephens": lambda d: stephens_permutations(d["membership"]).perm,
}


@pytest.fixture(scope="module")
def truth():
    return make_truth()


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("kind", ["random", "blocks"])
def test_recovers_labelling(truth, method, kind):
    rng = np.random.default_rng(7)
    scr = random_perms(rng) if kind == "random" else block_perms()
    perm = METHODS[method](scramble(truth, scr))
    assert perm.shape == (C, S, K)
    g = assert_recovers(truth, scr, perm)
    if method in ("order", "reference_map", "ecr_reference") or kind == "blocks":
        # The labelling is fixed by the criterion, or else chain 0 (unpermuted
        # in the block scramble) keeps its labels.
        assert g.tolist() == [0, 1, 2]


@pytest.mark.parametrize("method", list(METHODS))
def test_consistent_draws_left_unchanged(truth, method):
    perm = METHODS[method](truth)
    assert np.array_equal(perm, np.broadcast_to(np.arange(K), (C, S, K)))


def test_stephens_from_given_start(truth):
    rng = np.random.default_rng(3)
    scr = random_perms(rng)
    obs = scramble(truth, scr)
    start = reference_permutations(params_of(obs))
    res = stephens_permutations(obs["membership"], init_perm=start)
    assert res.converged
    assert_recovers(truth, scr, res.perm)


def test_stephens_objective_non_increasing():
    # Overlapping components so that the algorithm needs several iterations.
    rng = np.random.default_rng(1)
    c, s, n, k = 3, 200, 80, 3
    mu = np.array([-1.0, 0.0, 1.2]) + 1.2 * rng.standard_normal((c, s, k))
    y = rng.normal(0.0, 1.3, n)
    logp = norm.logpdf(y[:, None], mu[:, :, None, :], 0.8)
    p = softmax(logp, axis=-1)
    p = apply_permutations(p, random_perms(rng, c, s, k), axis=-1)
    res = stephens_permutations(p, init_perm=np.tile(np.arange(k), (c, s, 1)))
    assert res.n_iter >= 5
    assert res.converged
    assert len(res.objective) == res.n_iter
    for r in (res, stephens_permutations(p)):
        diffs = np.diff(r.objective)
        assert np.all(diffs <= 1e-9 * np.abs(r.objective[:-1]))
        assert r.objective[-1] < r.objective[0]


def test_stephens_accepts_log_probabilities(truth):
    scr = block_perms()
    obs = scramble(truth, scr)
    with np.errstate(divide="ignore"):
        logp = np.log(obs["membership"])
    res = stephens_permutations(logp)
    assert_recovers(truth, scr, res.perm)


def test_exhaustive_matching_equals_hungarian():
    rng = np.random.default_rng(5)
    for k in (2, 3, 4, 5, 6):
        cost = rng.random((50, k, k))
        perm, best = min_cost_permutations(cost)
        for i in range(len(cost)):
            rows, cols = linear_sum_assignment(cost[i])
            assert np.isclose(best[i], cost[i, rows, cols].sum())
            assert np.isclose(cost[i, np.arange(k), perm[i]].sum(), best[i])


def test_large_k_uses_hungarian_and_recovers():
    rng = np.random.default_rng(2)
    k = 8
    centres = 10.0 * np.arange(k)
    mu = centres + 0.2 * rng.standard_normal((2, 30, k))
    scr = np.argsort(rng.random((2, 30, k)), axis=2)
    obs = apply_permutations(mu, scr)
    for perm in (
        reference_permutations({"mu": obs}, {"mu": centres}),
        reference_permutations({"mu": obs}),
        order_permutations(obs),
    ):
        combined = np.take_along_axis(scr, perm, axis=2)
        assert (combined == combined[0, 0]).all()


def test_order_multivariate_coordinate():
    rng = np.random.default_rng(4)
    mu = np.stack(
        [
            rng.normal(size=(2, 10, 3)),
            np.array([3.0, 1.0, 2.0]) + 0.01 * rng.normal(size=(2, 10, 3)),
        ],
        axis=-1,
    )
    perm = order_permutations(mu, coordinate=1)
    assert (perm == [1, 2, 0]).all()


def test_apply_permutations_axes():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, K, 5))
    perm = random_perms(rng, 2, 3)
    out = apply_permutations(x, perm, axis=3)
    for c, s in itertools.product(range(2), range(3)):
        assert np.array_equal(out[c, s], x[c, s][:, perm[c, s], :])
    assert np.array_equal(apply_permutations(x, perm, axis=-2), out)


# --------------------------------------------------------------------------
# InferenceData
# --------------------------------------------------------------------------


def make_idata(d: dict, *, with_membership: bool = True, with_lp: bool = True):
    posterior = {
        "mu": d["mu"],
        "w": d["w"],
        "sigma": d["sigma"],
        "tau": d["mu"].sum(axis=2),
    }
    dims = {
        "mu": ["component"],
        "w": ["component"],
        "sigma": ["component"],
        "membership": ["obs", "component"],
    }
    if with_membership:
        posterior["membership"] = d["membership"]
    sample_stats = {"lp": d["lp"]} if with_lp else None
    return az.from_dict(posterior=posterior, sample_stats=sample_stats, dims=dims)


@pytest.mark.parametrize("method", ["auto", "stephens", "ecr", "reference", "order"])
def test_relabel_idata_moves_all_component_variables(truth, method):
    scr = block_perms()
    obs = scramble(truth, scr)
    idata = make_idata(obs)
    before = copy.deepcopy(idata)
    modes = detect_label_switching(idata)
    new, report = relabel_idata(idata, method, modes_before=modes)

    # Input untouched.
    assert idata.groups() == before.groups()
    assert idata.posterior.identical(before.posterior)

    perm = report.permutations
    assert_recovers(truth, scr, perm)
    post = new.posterior
    for name in ("mu", "w", "sigma"):
        assert np.array_equal(post[name].values, apply_permutations(obs[name], perm))
    assert np.array_equal(
        post["membership"].values,
        apply_permutations(obs["membership"], perm, axis=-1),
    )
    assert post["tau"].identical(idata.posterior["tau"])

    raw = new.posterior_raw
    assert raw.drop_vars("relabel_permutation").identical(idata.posterior)
    assert raw["relabel_permutation"].dims == ("chain", "draw", "component")
    assert np.array_equal(raw["relabel_permutation"].values, perm)

    expected = "stephens" if method == "auto" else method
    assert report.method == expected
    assert report.fraction_permuted.shape == (C,)
    assert report.fraction_permuted[0] == 0.0
    assert report.fraction_permuted[1] == 1.0
    assert report.fraction_permuted[2] == pytest.approx(40 / S)
    assert report.modes_before is modes and modes.chains_in_different_modes
    assert "chains in different modes before: yes" in str(report)
    assert "modes before" not in str(relabel_idata(idata, method)[1])
    rb, ra = report.max_rhat
    assert rb > 1.5 and ra < 1.05
    assert set(report.rhat_after.data_vars) == {"mu", "w", "sigma"}
    text = str(report)
    assert f"method {expected}" in text and "R-hat" in text and "ESS" in text


@pytest.mark.parametrize("method", ["stephens", "ecr", "reference"])
def test_relabel_idata_keeps_map_labelling(truth, method):
    scr = random_perms(np.random.default_rng(21))
    scr[0] = [2, 0, 1]  # chain 0 wholly in another labelling than the MAP
    idata = make_idata(scramble(truth, scr))
    # Only some variables, plus a key that is not a posterior variable.
    reference = {"mu": MU, "sigma": SIGMA, "not_a_variable": 1.0}
    _, report = relabel_idata(idata, method, reference=reference)
    g = assert_recovers(truth, scr, report.permutations)
    assert g.tolist() == [0, 1, 2]
    with pytest.raises(StanmixInputError, match="gives none of the matching"):
        relabel_idata(idata, method, reference={"tau": 0.0})


def test_relabel_idata_auto_without_membership_uses_reference(truth):
    obs = scramble(truth, block_perms())
    _, report = relabel_idata(make_idata(obs, with_membership=False))
    assert report.method == "reference"
    assert report.stephens is None


def test_relabel_idata_map_reference_and_order_by_label(truth):
    obs = scramble(truth, random_perms(np.random.default_rng(9)))
    xy = np.stack([obs["mu"], -obs["mu"]], axis=-1)  # (C, S, K, 2)
    idata = az.from_dict(
        posterior={"loc": xy, "w": obs["w"]},
        dims={"loc": ["component", "coord"], "w": ["component"]},
        coords={"coord": ["x", "y"]},
    )
    ref = {"loc": np.stack([MU, -MU], axis=-1), "w": W}
    new, _ = relabel_idata(idata, "reference", reference=ref)
    assert np.array_equal(
        new.posterior["loc"].values, make_truth()["mu"][..., None] * [1, -1]
    )
    new, _ = relabel_idata(idata, "order", order_by=("loc", "y"))
    assert (np.diff(new.posterior["loc"].sel(coord="y").values, axis=-1) > 0).all()
    new, _ = relabel_idata(idata, "order", order_by=("loc", 0))
    assert (np.diff(new.posterior["loc"].sel(coord="x").values, axis=-1) > 0).all()


# --------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------


def test_bad_shapes(truth):
    with pytest.raises(StanmixInputError, match="must have shape"):
        order_permutations(np.zeros((3, 3)))
    with pytest.raises(StanmixInputError, match=r"observation, component"):
        stephens_permutations(truth["mu"])
    with pytest.raises(StanmixInputError, match="perm must have shape"):
        apply_permutations(truth["mu"], np.zeros((C, S, K + 1), dtype=int))
    with pytest.raises(StanmixInputError, match=r"permutation of 0\.\.2"):
        apply_permutations(truth["mu"], np.zeros((C, S, K), dtype=int))
    with pytest.raises(StanmixInputError, match="same draws"):
        reference_permutations({"mu": truth["mu"], "w": truth["w"][:, :10]})
    with pytest.raises(StanmixInputError, match="coordinate"):
        order_permutations(truth["mu"][..., None])
    with pytest.raises(StanmixInputError, match="sum to 1"):
        stephens_permutations(truth["membership"] * 2)


def test_single_component_rejected():
    with pytest.raises(StanmixInputError, match="at least 2 components"):
        order_permutations(np.zeros((2, 5, 1)))
    with pytest.raises(StanmixInputError, match="at least 2 components"):
        stephens_permutations(np.ones((2, 5, 4, 1)))
    with pytest.raises(StanmixInputError, match="at least 2 components"):
        reference_permutations({"mu": np.zeros((2, 5, 1))})


def test_nan_rejected(truth):
    mu = truth["mu"].copy()
    mu[1, 7, 2] = np.nan
    with pytest.raises(StanmixInputError, match=r"non-finite.*\(1, 7, 2\)"):
        reference_permutations({"mu": mu})
    with pytest.raises(StanmixInputError, match="non-finite"):
        order_permutations(mu)
    p = truth["membership"].copy()
    p[0, 0, 0, 0] = np.nan
    with pytest.raises(StanmixInputError, match="non-finite"):
        stephens_permutations(p)


def test_mismatched_reference(truth):
    with pytest.raises(StanmixInputError, match=r"reference\['mu'\] has shape \(2,\)"):
        reference_permutations({"mu": truth["mu"]}, {"mu": [0.0, 1.0]})
    with pytest.raises(StanmixInputError, match="reference lacks"):
        reference_permutations(params_of(truth), {"mu": MU})
    with pytest.raises(StanmixInputError, match=r"reference\['allocations'\]"):
        reference_permutations(
            {},
            {"allocations": np.zeros(N + 1, dtype=int)},
            cost="allocations",
            membership=truth["membership"],
        )
    idata = make_idata(truth)
    with pytest.raises(StanmixInputError, match=r"reference\['mu'\] has shape"):
        relabel_idata(
            idata, "reference", reference={"mu": MU[:2], "w": W, "sigma": SIGMA}
        )


def test_unknown_options(truth):
    idata = make_idata(truth)
    with pytest.raises(StanmixInputError, match="unknown method 'kmeans'"):
        relabel_idata(idata, "kmeans")
    with pytest.raises(StanmixInputError, match="unknown cost"):
        reference_permutations(params_of(truth), cost="distance")
    with pytest.raises(StanmixInputError, match="needs membership"):
        relabel_idata(make_idata(truth, with_membership=False), "stephens")
    with pytest.raises(StanmixInputError, match="no posterior variable has the dim"):
        relabel_idata(idata, component_dim="cluster")
    new, _ = relabel_idata(idata, "reference")
    with pytest.raises(StanmixInputError, match="posterior_raw"):
        relabel_idata(new)
    assert issubclass(StanmixInputError, ValueError)


# --------------------------------------------------------------------------
# A real label-switched NUTS run
# --------------------------------------------------------------------------


def membership_from_draws(y, mu, w):
    logp = np.log(w)[:, :, None, :] + norm.logpdf(y[:, None], mu[:, :, None, :], 1.0)
    return softmax(logp, axis=-1)


@pytest.mark.parametrize("method", ["stephens", "reference"])
def test_real_nuts_run_relabelled(two_normal_fit, method):
    fit = two_normal_fit(False)
    mu, w = fit["mu"], fit["w"]
    idata = az.from_dict(
        posterior={
            "mu": mu,
            "w": w,
            "membership": membership_from_draws(fit["y"], mu, w),
        },
        dims={
            "mu": ["component"],
            "w": ["component"],
            "membership": ["obs", "component"],
        },
    )
    rhat_raw = az.rhat(idata.posterior)["mu"].values
    assert (rhat_raw > 1.1).all()
    new, report = relabel_idata(idata, method)
    assert report.method == method
    assert (report.rhat_before["mu"].values > 1.1).all()
    assert (az.rhat(new.posterior)["mu"].values <= 1.01).all()
    assert (report.rhat_after["mu"].values <= 1.01).all()
    assert detect_label_switching(idata).chains_in_different_modes
    # The relabelled means agree with the ordered program's posterior means
    # within four Monte Carlo standard errors of the difference.
    ordered = az.convert_to_dataset({"mu": two_normal_fit(True)["mu"]})
    means = new.posterior["mu"].mean(("chain", "draw")).values
    order = np.argsort(means)
    mcse = az.mcse(new.posterior)["mu"].values[order]
    mcse_ordered = az.mcse(ordered)["mu"].values
    diff = means[order] - ordered["mu"].mean(("chain", "draw")).values
    assert np.all(np.abs(diff) < 4.0 * np.hypot(mcse, mcse_ordered))


def test_a_constant_variable_has_no_rhat_or_ess_before_or_after_relabelling():
    """A known scale, equal in every component, is constant before and after
    the permutation: nothing to check, so NaN (as the fit's own convergence
    table has it), not ArviZ's ESS of the draw count."""
    rng = np.random.default_rng(3)
    mu = np.stack([rng.normal(-2, 0.1, (4, 100)), rng.normal(2, 0.1, (4, 100))], -1)
    mu[1] = mu[1][..., ::-1]  # chain 1 has the labels the other way round
    idata = az.from_dict(
        posterior={"mu": mu, "sigma": np.full((4, 100, 2), 1.5)},
        dims={"mu": ["component"], "sigma": ["component"]},
    )
    _, report = relabel_idata(idata, "order")
    for figures in (report.rhat_before, report.rhat_after):
        assert np.isnan(figures["sigma"]).all()
    for figures in (report.ess_before, report.ess_after):
        assert np.isnan(figures["sigma"]).all()
    assert float(report.rhat_after["mu"].max()) < 1.01
    assert float(report.ess_after["mu"].min()) > 200
