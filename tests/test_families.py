"""The contract every registered family keeps with its Stan program.

For each family: the Python log terms equal the program's generated
quantities for every cell kind, the parameter count equals the program's,
inits survive the trip through Stan's constraining transforms, units
convert as a covariance must, and the data flags pick the family back.
For the full-covariance families, whose program integrates censored cells
by latent values, the exact integral the Python side computes is checked
against numerical integration.
"""

from __future__ import annotations

import itertools
import json
import math
import re

import numpy as np
import pytest
from conftest import STAN_DIR
from scipy import integrate, special, stats

from stanmix import likelihood
from stanmix.cells import INTERVAL, LEFT, MISSING, OBSERVED, RIGHT, CellTable
from stanmix.engines import get_engine, unflatten
from stanmix.families import FAMILIES, Layout, Priors, family_from_stan_data
from stanmix.families._rectangle import mvn_log_prob, mvt_log_prob
from stanmix.families.base import mixing_init
from stanmix.families.full import latent_cells
from stanmix.families.student_t import t_log_cdf
from stanmix.programs import program_path

stanli = pytest.importorskip("stanli")

# Families that need covariates have the same checks on data with them in
# tests/test_regression_family.py.
PLAIN = [key for key, cls in FAMILIES.items() if not cls.needs_covariates]
CASES = [
    pytest.param(key, d, id=f"{key[0]}-{key[1]}-D{d}")
    for key in PLAIN
    for d in (1, 3)
    if not (key[1] in ("full", "tied") and d == 1)
]


def mixed_cells(rng, n: int, d: int) -> CellTable:
    """Every cell kind, in every column, and rows with several censored cells."""
    values = rng.normal(0.0, 2.0, (n, d))
    kinds = [OBSERVED, LEFT, RIGHT, INTERVAL, MISSING]
    kind = rng.choice(kinds, p=[0.5, 0.15, 0.1, 0.1, 0.15], size=(n, d)).astype(np.int8)
    for code in kinds:
        kind[code, :] = code  # a row of each kind (all missing becomes observed)
    kind[(kind == MISSING).all(axis=1), 0] = OBSERVED
    lower = np.full((n, d), np.nan)
    upper = np.full((n, d), np.nan)
    upper[kind == LEFT] = values[kind == LEFT] + 0.3
    lower[kind == RIGHT] = values[kind == RIGHT] - 0.3
    iv = kind == INTERVAL
    lower[iv] = values[iv] - rng.uniform(0.1, 1.0, iv.sum())
    upper[iv] = values[iv] + rng.uniform(0.1, 1.0, iv.sum())
    return CellTable(np.where(kind == OBSERVED, values, np.nan), kind, lower, upper)


def _setup(key, d, seed=3, n=30, k=3):
    rng = np.random.default_rng(seed)
    family = FAMILIES[key]()
    cells = mixed_cells(rng, n, d)
    start = family.start(
        rng.normal(0, 2, (k, d)), np.exp(rng.normal(0, 0.3, (k, d))), np.full(k, 1 / k)
    )
    from stanmix.cells import Standardization

    units = Standardization(np.zeros(d), np.ones(d))
    layout = Layout(0, True)
    data = family.stan_data(cells, k, layout, Priors(), start, units)
    return family, cells, start, layout, data


@pytest.fixture(scope="module")
def runs():
    """One short NUTS run per family and D, generated quantities on."""
    cache = {}

    def run(key, d):
        if (key, d) not in cache:
            family, cells, start, layout, data = _setup(key, d)
            data.update(
                compute_log_lik=int(family.joint), compute_membership=int(family.joint)
            )
            if not family.joint:
                data["compute_log_lik"] = 1
            result = get_engine("stanli").sample(
                program_path(family.program),
                data,
                chains=1,
                warmup=40,
                draws=6,
                seed=1,
                inits=[mixing_init(data, family.stan_init(start, cells, layout))],
                max_treedepth=4,  # any draws will do: short trajectories
            )
            cache[key, d] = (family, cells, data, result)
        return cache[key, d]

    return run


def _completed(cells: CellTable, result, s: int, student_t: bool) -> CellTable:
    """The cells with each latent censored cell replaced by draw s's value
    (a row's only censored cell stays censored: the program integrates it)."""
    values, kind = cells.values.copy(), cells.kind.copy()
    lower, upper = cells.lower.copy(), cells.upper.copy()
    rows, cols = latent_cells(cells, student_t)
    values[rows, cols] = result.variables["y_latent"].reshape(-1, rows.size)[s]
    kind[rows, cols] = OBSERVED
    lower[rows, cols] = upper[rows, cols] = np.nan
    return CellTable(values, kind, lower, upper)


@pytest.mark.parametrize(("key", "d"), CASES)
def test_python_log_terms_equal_the_programs_generated_quantities(runs, key, d):
    family, cells, data, result = runs(key, d)
    kinds = {OBSERVED, LEFT, RIGHT, INTERVAL} | ({MISSING} if d > 1 else set())
    assert set(np.unique(cells.kind)) == kinds
    params = {
        name: arr.reshape(-1, *arr.shape[2:])
        for name, arr in family.from_stan(result.variables).items()
    }
    n, k = cells.n_obs, data["K"]
    stan_ll = result.variables["log_lik"].reshape(-1, n)
    # Student-t censored cells use the programs' own t CDF (cells.stanfunctions),
    # not Stan math's student_t_lcdf, which loses digits in the far tail for
    # large nu; both sides are exact to this tolerance.
    tol = {"rtol": 1e-8, "atol": 1e-8}
    if not family.joint:
        ours = likelihood.log_likelihood(family, cells, params)
        np.testing.assert_allclose(ours, stan_ll, **tol)
        return
    stan_lp = result.variables["membership_log_prob"].reshape(-1, n, k)
    if family.censoring == "latent":
        # The program integrates a row's only censored cell and samples the
        # others as latent values; both kinds of row are here.
        per_row = cells.censored.sum(axis=1)
        assert (per_row == 1).any() and (per_row > 1).any()
        # Its generated quantities complete the rows with the draw's latent
        # values; so does this comparison.
        for s in range(stan_ll.shape[0]):
            one = {name: arr[s : s + 1] for name, arr in params.items()}
            lp = likelihood.log_terms(
                family, _completed(cells, result, s, family.student_t), one
            )[0]
            ll = np.logaddexp.reduce(lp, axis=1)
            np.testing.assert_allclose(ll, stan_ll[s], **tol)
            np.testing.assert_allclose(lp - ll[:, None], stan_lp[s], **tol)
        return
    ll = likelihood.log_likelihood(family, cells, params)
    np.testing.assert_allclose(ll, stan_ll, **tol)
    lp = likelihood.log_terms(family, cells, params)
    np.testing.assert_allclose(lp - ll[..., None], stan_lp, **tol)


@pytest.mark.parametrize("family_name", ["normal", "student_t"])
@pytest.mark.parametrize("limits", [1, None])
def test_censored_cells_reach_their_rows_either_way(family_name, limits):
    """The diagonal programs add censored terms through a matrix counting
    each row's cells per distinct (column, kind, bounds) entry where there
    are at most 8 entries per censored column on average (here 3: one limit
    for each kind), and otherwise gather each row's terms by slot (here
    every cell has its own limit). Both give the Python log-likelihood, on rows
    censored left, right and on intervals in the last two columns, rows
    censored in both, and a first column only observed or missing."""
    rng = np.random.default_rng(5)
    n = 300
    values = rng.normal(0.0, 2.0, (n, 3))
    kinds = np.array([OBSERVED, LEFT, RIGHT, INTERVAL], np.int8)
    kind = rng.choice(kinds, (n, 3), p=[0.4, 0.3, 0.2, 0.1])
    kind[:, 0] = np.where(rng.random(n) < 0.1, MISSING, OBSERVED)
    if limits is None:
        bound = values + rng.uniform(0.1, 1.0, (n, 3))
    else:
        bound = rng.choice(np.linspace(-1.0, 1.0, limits), (n, 3))
    lower = np.where(kind == INTERVAL, bound - 1.0, np.nan)
    lower = np.where(kind == RIGHT, bound, lower)
    upper = np.where((kind == LEFT) | (kind == INTERVAL), bound, np.nan)
    assert ((kind[:, 1:] != OBSERVED).all(axis=1)).any()
    cells = CellTable(np.where(kind == OBSERVED, values, np.nan), kind, lower, upper)
    family = FAMILIES[family_name, "diag"]()
    k = 2
    start = family.start(
        np.array([[0.0, -1.0, 0.5], [0.3, 1.5, -0.5]]),
        np.ones((k, 3)),
        np.full(k, 0.5),
    )
    bridge, unc, out = _program_point(family, cells, start)
    params = {name: arr[0] for name, arr in family.from_stan(out).items()}
    ours = likelihood.log_likelihood(family, cells, params)[0]
    # generated quantities
    np.testing.assert_allclose(out["log_lik"][0, 0], ours, rtol=1e-10, atol=1e-10)
    lp = likelihood.log_terms(family, cells, params)[0]
    np.testing.assert_allclose(
        out["membership_log_prob"][0, 0], lp - ours[:, None], rtol=1e-9, atol=1e-9
    )
    # the model block: against the program on the first row alone (the same
    # parameters and prior), the log density gains the other rows' terms
    first_bridge, first_unc, _ = _program_point(family, cells.rows(np.arange(1)), start)
    np.testing.assert_array_equal(first_unc, unc)
    gained = bridge.log_density(unc) - first_bridge.log_density(unc)
    np.testing.assert_allclose(gained, ours[1:].sum(), rtol=1e-10)
    _assert_gradient_matches_differences(bridge, unc)


@pytest.mark.parametrize(("nu", "limit"), [(1000.0, -60.0), (200.0, -1000.0)])
def test_a_student_t_tail_below_the_smallest_float_is_finite_in_the_program(nu, limit):
    """A cell censored far below a Student-t component of many degrees of
    freedom: its probability (about exp(-768) at nu = 1000, z = -60) is
    below the smallest float, where Stan's student_t_lcdf gives log 0 and
    the log density NaN; the program's log-space tail gives the Python
    value, which matches scipy's."""
    from scipy import stats
    from scipy.integrate import quad

    cells = CellTable(
        np.array([[np.nan], [0.5], [-0.3]]),
        np.array([[LEFT], [OBSERVED], [OBSERVED]], np.int8),
        np.full((3, 1), np.nan),
        np.array([[limit], [np.nan], [np.nan]]),
    )
    family = FAMILIES["student_t", "diag"]()
    start = family.start(np.array([[0.0], [3.0]]), np.ones((2, 1)), np.full(2, 0.5))
    start["nu"] = np.full(2, nu)
    bridge, unc, out = _program_point(family, cells, start)
    params = {name: arr[0] for name, arr in family.from_stan(out).items()}
    ours = likelihood.log_likelihood(family, cells, params)[0]
    w, mu, sigma = params["w"][0], params["mu"][0, :, 0], params["sigma"][0, :, 0]
    assert params["nu"][0] == pytest.approx([nu, nu])

    def log_cdf(z: float) -> float:
        # log of f(z) times the integral of f(z - u) / f(z) over u > 0, the
        # ratio in logs (scipy's logcdf is -inf here too)
        ratio = quad(
            lambda u: np.exp(
                -(nu + 1) / 2 * np.log1p(((z - u) ** 2 - z**2) / (nu + z**2))
            ),
            0,
            np.inf,
            epsabs=0,
            epsrel=1e-12,
        )[0]
        return stats.t.logpdf(z, nu) + np.log(ratio)

    z = (limit - mu) / sigma
    exact = np.logaddexp.reduce(np.log(w) + [log_cdf(v) for v in z])
    assert ours[0] == pytest.approx(exact, rel=1e-9)
    assert ours[0] < -740  # below exp(-745): a float's 0
    np.testing.assert_allclose(out["log_lik"][0, 0], ours, rtol=1e-10)
    first_bridge, _, _ = _program_point(family, cells.rows(np.arange(1, 3)), start)
    gained = bridge.log_density(unc) - first_bridge.log_density(unc)
    assert gained == pytest.approx(ours[0], rel=1e-10)
    assert np.isfinite(bridge.log_density_gradient(unc)[1]).all()


def test_censored_keys_find_repeats_in_any_order_and_number_by_first_cell():
    """censored_keys gives cells one key per distinct (column, kind, lo, hi):
    with 150 limits per column repeating in random order (beyond the last
    100 entries a search in row order compares against), equal entries
    share a key and different ones do not, entries with the same lo + hi
    (a left limit 1 and a right limit 1) stay apart, an interval (-inf,
    inf) is keyed, and keys count up in the order of their first cells."""
    source = (
        "functions {\n#include mixture.stanfunctions\n#include cells.stanfunctions\n}\n"
    )
    keys_of = stanli.Function(
        "censored_keys", stan_code=source, include_paths=[str(STAN_DIR)]
    )
    rng = np.random.default_rng(4)
    c = 3000
    col = rng.integers(1, 3, c)
    kind = rng.integers(1, 4, c)  # 1 left, 2 right, 3 interval
    limit = rng.integers(0, 150, c) / 10.0
    lo = np.where(kind == 1, 0.0, limit)
    hi = np.where(kind == 2, 0.0, np.where(kind == 3, limit + 1.0, limit))
    lo[:2], hi[:2], kind[:2], col[:2] = (-np.inf, 0.0), (np.inf, 1.0), 3, 1
    keys = keys_of(col=col, kind=kind, lo=lo, hi=hi)
    entries = list(zip(col, kind, lo, hi, strict=True))
    first_seen = list(dict.fromkeys(entries))
    expected = np.array([first_seen.index(e) + 1 for e in entries])
    np.testing.assert_array_equal(keys, expected)
    assert keys.max() == len(first_seen) > 700


def _pair_rows(pairs) -> CellTable:
    """Rows whose only cells are two censored ones, ``(kind1, kind2, (lo1,
    hi1), (lo2, hi2))`` each, then four observed rows."""
    n = len(pairs) + 4
    kind = np.full((n, 2), OBSERVED, np.int8)
    lower, upper = np.full((n, 2), np.nan), np.full((n, 2), np.nan)
    for i, (k1, k2, b1, b2) in enumerate(pairs):
        kind[i] = k1, k2
        lower[i], upper[i] = (b1[0], b2[0]), (b1[1], b2[1])
    values = np.where(
        kind == OBSERVED, np.random.default_rng(2).normal(size=(n, 2)), np.nan
    )
    return CellTable(values, kind, lower, upper)


def _program_point(family, cells: CellTable, start: dict):
    """The family's program (generated log_lik on) built for ``cells`` under
    stanli, its unconstrained point at ``start``, and the draw's variables
    there."""
    from stanmix.cells import Standardization

    layout = Layout(0, True)
    d = cells.values.shape[1]
    units = Standardization(np.zeros(d), np.ones(d))
    k = len(start["w"])
    data = family.stan_data(cells, k, layout, Priors(), start, units)
    data.update(compute_log_lik=1, compute_membership=int(family.joint))
    payload = {
        key: v.tolist() if isinstance(v, np.ndarray) else v for key, v in data.items()
    }
    bridge = stanli.bridgestan_model(
        mir=get_engine("stanli")._program(program_path(family.program)),
        data=payload,
        name=family.program,
    )
    init = mixing_init(data, family.stan_init(start, cells, layout))
    unc = bridge.param_unconstrain_json(
        json.dumps({key: np.asarray(v).tolist() for key, v in init.items()})
    )
    return bridge, unc, _variables_at(bridge, unc)


def _variables_at(bridge, point: np.ndarray) -> dict:
    """The program's variables (generated quantities included) at the
    unconstrained ``point``, shaped as one chain of one draw."""
    names = [
        f"{m.split('.')[0]}[{','.join(m.split('.')[1:])}]" if "." in m else m
        for m in bridge.param_names(include_tp=True, include_gq=True)
    ]
    draw = bridge.param_constrain(
        point, include_tp=True, include_gq=True, rng=bridge.new_rng(seed=1)
    )
    return unflatten(names, draw[None, None])


def _assert_gradient_matches_differences(bridge, point: np.ndarray) -> None:
    """The log density's gradient at ``point`` matches central differences."""
    _, grad = bridge.log_density_gradient(point)
    step = 1e-6
    for i in range(point.size):
        e = np.zeros_like(point)
        e[i] = step
        diff = bridge.log_density(point + e) - bridge.log_density(point - e)
        assert diff / (2 * step) == pytest.approx(grad[i], rel=1e-5, abs=1e-5), i


@pytest.mark.parametrize("rho", [-0.999, 0.999, 0.9999])
def test_rectangles_near_a_singular_correlation_agree_with_the_program(rho):
    """Rows censored in both columns, every pair of kinds, bounds that cut
    bands across a nearly singular component: the program's generated
    log_lik (pair_log_prob, its own cuts) against the Python likelihood,
    which matches Owen's closed form there (above). Before the cuts both
    sides used one rule with errors up to 5e-2, and at a tie in the order
    they could differ by as much. The cuts move with the parameters; the
    log density's gradient matches central differences."""
    family = FAMILIES["normal", "full"]()
    bounds = {LEFT: [(np.nan, 0.5), (np.nan, -0.5)], RIGHT: [(0.5, np.nan)]}
    bounds[RIGHT].append((-0.5, np.nan))
    bounds[INTERVAL] = [(-1.0, 0.5), (0.25, 2.0)]
    cells = _pair_rows(
        [
            (k1, k2, b1, b2)
            for k1 in (LEFT, RIGHT, INTERVAL)
            for k2 in (LEFT, RIGHT, INTERVAL)
            for b1 in bounds[k1]
            for b2 in bounds[k2]
        ]
    )
    corr = np.array([[[1.0, rho], [rho, 1.0]], [[1.0, 0.3], [0.3, 1.0]]])
    start = family.start(
        np.array([[-0.2, 0.1], [1.0, 1.2]]),
        np.array([[1.0, 1.3], [0.7, 0.9]]),
        np.array([0.6, 0.4]),
        corr,
    )
    bridge, unc, out = _program_point(family, cells, start)
    params = {name: arr[0] for name, arr in family.from_stan(out).items()}
    np.testing.assert_allclose(params["corr"][0, 0, 0, 1], rho, rtol=1e-12)
    ours = likelihood.log_likelihood(family, cells, params)[0]
    np.testing.assert_allclose(out["log_lik"][0, 0], ours, rtol=1e-10, atol=1e-10)
    _assert_gradient_matches_differences(bridge, unc)


@pytest.mark.parametrize("covariance", ["full", "tied"])
def test_two_censored_cells_beside_observed_ones_are_integrated(covariance):
    """For optimize and ADVI (integrate_pairs), rows censored in two of four
    columns beside one or two observed cells (every pair of kinds, a
    missing cell in some) are integrated, not latent: the program's log_lik
    equals the Python likelihood, its log density gains exactly those rows'
    log-likelihood over the same data without them (same parameters, the
    priors cancel), and its gradient matches central differences. For NUTS
    they stay latent values."""
    family = FAMILIES["normal", covariance]().for_method("optimize")
    assert family.integrate_pairs
    assert not family.for_method("sample").integrate_pairs
    rng = np.random.default_rng(4)
    n_pair, n_plain = 9, 6
    n = n_pair + n_plain
    values = rng.normal(size=(n, 4))
    kind = np.full((n, 4), OBSERVED, np.int8)
    lower, upper = np.full((n, 4), np.nan), np.full((n, 4), np.nan)
    kinds = [
        (k1, k2) for k1 in (LEFT, RIGHT, INTERVAL) for k2 in (LEFT, RIGHT, INTERVAL)
    ]
    span = {LEFT: (np.nan, 0.3), RIGHT: (-0.4, np.nan), INTERVAL: (-0.5, 0.8)}
    for i, (k1, k2) in enumerate(kinds):
        c1, c2 = (0, 2) if i % 2 else (1, 3)
        kind[i, [c1, c2]] = k1, k2
        lower[i, c1], upper[i, c1] = span[k1]
        lower[i, c2], upper[i, c2] = span[k2]
        if i % 3 == 0:  # one observed cell and a missing one
            free = [c for c in range(4) if c not in (c1, c2)]
            kind[i, free[0]] = MISSING
    values = np.where(kind == OBSERVED, values, np.nan)
    cells = CellTable(values, kind, lower, upper)
    assert latent_cells(cells, False, integrate_pairs=True)[0].size == 0
    assert latent_cells(cells, False)[0].size == 2 * n_pair
    corr = np.stack([np.eye(4)] * 2)
    corr[:, 0, 1] = corr[:, 1, 0] = 0.6
    corr[:, 1, 2] = corr[:, 2, 1] = 0.5
    corr[:, 2, 3] = corr[:, 3, 2] = -0.3
    start = family.start(
        rng.normal(0, 0.5, (2, 4)),
        np.exp(rng.normal(0, 0.2, (2, 4))),
        np.array([0.55, 0.45]),
        corr,
    )
    bridge, unc, out = _program_point(family, cells, start)
    params = {name: arr[0] for name, arr in family.from_stan(out).items()}
    ours = likelihood.log_likelihood(family, cells, params)[0]
    np.testing.assert_allclose(out["log_lik"][0, 0], ours, rtol=1e-10, atol=1e-10)
    plain_bridge, plain_unc, _ = _program_point(
        family, cells.rows(np.arange(n_pair, n)), start
    )
    np.testing.assert_array_equal(plain_unc, unc)  # the same parameters
    gained = bridge.log_density(unc) - plain_bridge.log_density(unc)
    np.testing.assert_allclose(gained, ours[:n_pair].sum(), rtol=1e-10)
    _assert_gradient_matches_differences(bridge, unc)


@pytest.mark.parametrize("kind_y", [LEFT, RIGHT, INTERVAL])
@pytest.mark.parametrize("kind_x", [LEFT, RIGHT, INTERVAL])
def test_a_pair_cut_at_an_end_compiles_and_keeps_a_finite_gradient(
    kind_x, kind_y, monkeypatch
):
    """One rectangle, under a component with correlation 0.95, whose y
    bound the conditional location of y crosses where x reaches its own
    bound of 0.6 (or -0.45), to the last digit: the cut is not made within
    1e-9 SDs of an end (a piece an ulp wide gave the gradient NaN), and
    stanli compiles the generated quantities (STANLI_NO_INTERPRETER
    refuses a model it cannot: a boolean operator on parameters once sent
    them to its interpreter)."""
    monkeypatch.setenv("STANLI_NO_INTERPRETER", "1")
    family = FAMILIES["normal", "full"]()
    mu, sd, rho = np.array([[0.3, -0.2]]), np.array([[1.5, 0.7]]), 0.95
    end = -0.45 if kind_x == RIGHT else 0.6
    step = -0.2 + rho * 0.7 * (end - 0.3) / 1.5  # y's location when x = end
    bound = {LEFT: (np.nan, 0.6), RIGHT: (-0.45, np.nan), INTERVAL: (-0.45, 0.6)}
    other = {LEFT: (np.nan, step), RIGHT: (step, np.nan), INTERVAL: (step, 2.0)}
    cells = _pair_rows([(kind_x, kind_y, bound[kind_x], other[kind_y])])
    start = family.start(mu, sd, np.ones(1), np.array([[[1.0, rho], [rho, 1.0]]]))
    bridge, unc, out = _program_point(family, cells, start)
    params = {name: arr[0] for name, arr in family.from_stan(out).items()}
    ours = likelihood.log_likelihood(family, cells, params)[0]
    np.testing.assert_allclose(out["log_lik"][0, 0], ours, rtol=1e-10, atol=1e-10)
    rng = np.random.default_rng(0)
    for _ in range(40):
        point = unc + rng.normal(size=unc.size) * 1e-15
        assert np.isfinite(bridge.log_density_gradient(point)[1]).all()


def _quadrant_function():
    source = (
        "functions {\n"
        + "".join(
            f"#include {name}.stanfunctions\n"
            for name in ("mixture", "cells", "patterns")
        )
        + "}\n"
    )
    return stanli.Function(
        "quadrant_log_prob", stan_code=source, include_paths=[str(STAN_DIR)]
    )


def _quadrant_by_quadrature(h: float, k: float, r: float) -> float:
    """log P(Z1 <= h, Z2 <= k) for standard normals with correlation r, by
    scipy's adaptive quadrature over z1 (split where the inner probability
    steps), over z1 > h and subtracted from Phi(k) where P is large."""
    s = math.sqrt(1 - r * r)
    inner = lambda z: stats.norm.pdf(z) * special.ndtr((k - r * z) / s)  # noqa: E731

    def over(a: float, b: float) -> float:
        ends = [a, *sorted(p for p in ([k / r] if r else []) if a < p < b), b]
        return sum(
            integrate.quad(inner, u, v, limit=200, epsabs=0, epsrel=1e-13)[0]
            for u, v in itertools.pairwise(ends)
        )

    if min(special.ndtr(h), special.ndtr(k)) < 0.5:
        return math.log(over(-np.inf, h))
    return math.log(special.ndtr(k) - over(h, np.inf))


def test_the_closed_form_of_two_one_sided_cells_matches_adaptive_quadrature():
    """quadrant_log_prob (Owen's T) on random pairs of one-sided cells of
    every kind, means and scales, correlations up to 0.99 and limits up to 6
    SDs out: where it reports its P accurate relative to itself, log P is
    within 1e-10 of scipy's adaptive quadrature; where only absolutely, P
    is within 1e-13 of the larger cell probability it reports; nothing is
    NaN or infinite."""
    quadrant = _quadrant_function()
    rng = np.random.default_rng(11)
    seen = set()
    for _ in range(300):
        kinds = rng.integers(1, 3, 2)
        m = rng.normal(0, 2, 2)
        sd = np.exp(rng.normal(0, 1, 2))
        r = rng.uniform(-0.99, 0.99)
        z = rng.uniform(-6, 6, 2)
        limit = m + sd * z
        got = quadrant(
            kind1=int(kinds[0]),
            lo1=float(limit[0]),
            hi1=float(limit[0]),
            kind2=int(kinds[1]),
            lo2=float(limit[1]),
            hi2=float(limit[1]),
            m1=float(m[0]),
            m2=float(m[1]),
            s11=float(sd[0] ** 2),
            s12=float(r * sd[0] * sd[1]),
            s22=float(sd[1] ** 2),
        )
        assert np.isfinite(got).all()
        sign = np.where(kinds == 1, 1.0, -1.0)  # a cell bounded below flips
        h, k = sign * z
        expected = _quadrant_by_quadrature(h, k, sign[0] * sign[1] * r)
        assert got[2] == pytest.approx(
            max(special.log_ndtr(h), special.log_ndtr(k)), rel=1e-12
        )
        seen.add(int(got[1]))
        if got[1] == 2:
            assert got[0] == pytest.approx(expected, abs=1e-10)
        assert abs(math.exp(got[0]) - math.exp(expected)) <= 1e-13 * math.exp(got[2])
    assert seen == {1, 2}


@pytest.mark.parametrize(
    ("z1", "z2", "r", "accuracy"),
    [
        (1e-10, -1.0, 0.3, 0),  # a limit at the mean: a_h would divide by 0
        (-1.0, 0.5, 0.995, 0),  # beyond the tested correlations
        (-40.0, -40.0, 0.2, 1),  # both cells' probabilities underflow
        (-1.0, -1.0, -0.99, 1),  # P far below either cell's probability
    ],
)
def test_the_closed_form_declines_where_it_is_not_accurate(z1, z2, r, accuracy):
    """At a limit at the mean, above |r| = 0.99, and where P is below its
    rounding error, quadrant_log_prob reports that it is not accurate
    (0: not used; 1: absolutely only), with finite values and a finite
    gradient-safe bound."""
    quadrant = _quadrant_function()
    got = quadrant(
        kind1=1,
        lo1=0.0,
        hi1=z1,
        kind2=1,
        lo2=0.0,
        hi2=z2,
        m1=0.0,
        m2=0.0,
        s11=1.0,
        s12=r,
        s22=1.0,
    )
    assert np.isfinite(got).all()
    assert got[1] == accuracy
    assert got[0] <= got[2] + 1e-12


def test_pair_rows_take_the_closed_form_where_it_is_exact_to_rounding():
    """Rows censored in two of three columns beside an observed one, under
    two components 8 SDs apart: a row's pair near its own component takes
    the closed form accurate relative to itself, under the far one the
    closed form accurate only absolutely (its term 1e-14 of the row's or
    less), and intervals and rows between the components the quadrature
    (each kind of term is present, classified here from the conditional
    distributions). At the start and at points around it the program's
    log_lik equals the Python likelihood (quadrature for every term) to
    1e-10, and the log density's gradient matches central differences."""
    quadrant = _quadrant_function()
    family = FAMILIES["normal", "full"]().for_method("optimize")
    rng = np.random.default_rng(5)
    rows = []
    for centre, kinds in [
        (0.0, (LEFT, LEFT)),
        (0.0, (LEFT, RIGHT)),
        (8.0, (RIGHT, RIGHT)),
        (8.0, (LEFT, RIGHT)),
        (0.0, (INTERVAL, LEFT)),
        (4.0, (LEFT, LEFT)),
    ]:
        for _ in range(3):
            rows.append((centre + rng.normal(0, 0.7, 3), kinds))
    n = len(rows)
    values = np.full((n, 3), np.nan)
    kind = np.full((n, 3), OBSERVED, np.int8)
    lower, upper = np.full((n, 3), np.nan), np.full((n, 3), np.nan)
    for i, (x, kinds) in enumerate(rows):
        values[i, 2] = x[2]
        for c, code in enumerate(kinds):
            kind[i, c] = code
            lower[i, c] = x[c] - 0.5 if code in (RIGHT, INTERVAL) else np.nan
            upper[i, c] = x[c] + 0.5 if code in (LEFT, INTERVAL) else np.nan
    # one cell 8 SDs beyond the near component's reach but not the other's:
    # there P is below the closed form's rounding, which stands in for it
    values = np.vstack([values, [np.nan, np.nan, 5.0]])
    kind = np.vstack([kind, [LEFT, RIGHT, OBSERVED]]).astype(np.int8)
    lower = np.vstack([lower, [np.nan, 8.5, np.nan]])
    upper = np.vstack([upper, [7.0, np.nan, np.nan]])
    n += 1
    cells = CellTable(values, kind, lower, upper)
    means = np.array([[0.0, 0.0, 0.0], [8.0, 8.0, 8.0]])
    sds = np.array([[1.0, 1.2, 0.9], [1.1, 0.8, 1.0]])
    corr = np.stack([np.eye(3)] * 2)
    corr[:, 0, 1] = corr[:, 1, 0] = [0.5, -0.4]
    corr[:, 0, 2] = corr[:, 2, 0] = [0.3, 0.2]
    corr[:, 1, 2] = corr[:, 2, 1] = [-0.2, 0.4]
    weights = np.array([0.6, 0.4])
    start = family.start(means, sds, weights, corr)
    bridge, unc, _ = _program_point(family, cells, start)

    # each row's terms, classified as pair_pattern_terms does
    classes = set()
    for i in range(n):
        terms = []
        for j in range(2):
            cov = corr[j] * np.outer(sds[j], sds[j])
            gain = cov[:2, 2] / cov[2, 2]
            m = means[j, :2] + gain * (values[i, 2] - means[j, 2])
            s = cov[:2, :2] - np.outer(gain, cov[2, :2])
            base = np.log(weights[j]) + stats.norm.logpdf(
                values[i, 2], means[j, 2], np.sqrt(cov[2, 2])
            )
            if INTERVAL in kind[i, :2]:
                terms.append((0, -np.inf, -np.inf))
                continue
            q = quadrant(
                kind1=int(kind[i, 0]),
                lo1=float(np.nan_to_num(lower[i, 0])),
                hi1=float(np.nan_to_num(upper[i, 0])),
                kind2=int(kind[i, 1]),
                lo2=float(np.nan_to_num(lower[i, 1])),
                hi2=float(np.nan_to_num(upper[i, 1])),
                m1=float(m[0]),
                m2=float(m[1]),
                s11=float(s[0, 0]),
                s12=float(s[0, 1]),
                s22=float(s[1, 1]),
            )
            terms.append((int(q[1]), base + q[0], base + q[2]))
        best = max([t[1] for t in terms if t[0] == 2], default=-np.inf)
        for accuracy, _, reach in terms:
            small = accuracy == 1 and reach <= best
            classes.add(
                "relative" if accuracy == 2 else "small" if small else "quadrature"
            )
    assert classes == {"relative", "small", "quadrature"}

    point_rng = np.random.default_rng(6)
    for spread in (0.0, 0.1, 0.3):
        point = unc + point_rng.normal(0, spread, unc.size)
        at = _variables_at(bridge, point)
        params = {name: arr[0] for name, arr in family.from_stan(at).items()}
        ours = likelihood.log_likelihood(family, cells, params)[0]
        np.testing.assert_allclose(at["log_lik"][0, 0], ours, rtol=1e-10, atol=1e-10)
    _assert_gradient_matches_differences(bridge, unc)


@pytest.mark.parametrize(("key", "d"), CASES)
def test_parameter_count_matches_the_program(key, d):
    family, cells, _, _, data = _setup(key, d)
    model = stanli.Model(
        stan_file=str(program_path(family.program)),
        include_paths=[str(STAN_DIR)],
        data={
            k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in data.items()
        },
    )
    assert (
        family.n_parameters(data["K"], d) + family.n_latent(cells)
        == model.n_unconstrained
    )


@pytest.mark.parametrize("concentration", [3.0, 0.5])
@pytest.mark.parametrize(("key", "d"), CASES)
def test_inits_survive_the_programs_transforms(key, d, concentration):
    """stan_init -> unconstrain -> constrain -> from_stan gives the same point
    (components in the program's order), with the weights as a simplex and,
    for a concentration below 1, as log-gamma variables."""
    family, cells, start, layout, data = _setup(key, d)
    if key == ("normal", "diag"):
        family = FAMILIES[key]()
    data["alpha"] = np.full(data["K"], concentration)
    payload = {
        k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in data.items()
    }
    program = program_path(family.program)
    bridge = stanli.bridgestan_model(
        mir=get_engine("stanli")._program(program), data=payload, name=family.program
    )
    init = mixing_init(data, family.stan_init(start, cells, layout))
    assert len(init["log_g"]) == (data["K"] if concentration < 1 else 0)
    unc = bridge.param_unconstrain_json(
        json.dumps({k: np.asarray(v).tolist() for k, v in init.items()})
    )
    names = [
        f"{n.split('.')[0]}[{','.join(n.split('.')[1:])}]" if "." in n else n
        for n in bridge.param_names(include_tp=True)
    ]
    back = family.from_stan(
        unflatten(names, bridge.param_constrain(unc, include_tp=True)[None, None])
    )
    order = np.argsort(start["mu"][:, 0], kind="stable")
    for name, value in start.items():
        expected = value[order] if value.shape[0] == data["K"] else value
        np.testing.assert_allclose(back[name][0, 0], expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("key", "d"), CASES)
def test_units_convert_as_a_covariance_does(key, d):
    family, _, start, _, _ = _setup(key, d)
    rng = np.random.default_rng(1)
    center, scale = rng.normal(size=d), np.exp(rng.normal(size=d))
    if family.shared_scale:
        scale = np.full(d, scale[0])
    out = family.to_original(start, center, scale)
    back = family.to_standard(out, center, scale)
    for name in start:
        np.testing.assert_allclose(back[name], start[name], rtol=1e-12)
    np.testing.assert_allclose(out["mu"], start["mu"] * scale + center)
    expected = scale[:, None] * family.covariances(start) * scale[None, :]
    np.testing.assert_allclose(family.covariances(out), expected, rtol=1e-12)


@pytest.mark.parametrize("key", PLAIN)
def test_data_flags_pick_the_family_back(key):
    family, _, _, _, data = _setup(key, 3 if key[1] in ("full", "tied") else 2)
    for flag, value in family.stan_flags.items():
        assert data[flag] == value
    assert type(family_from_stan_data(family.program, data)) is FAMILIES[key]


# --------------------------------------------------------------------------
# Censored cells of full-covariance components, integrated exactly


def _brute_force_row(family, params, y, kind, lower, upper):
    """log p(row) of one component by numerical integration over the row's
    censored coordinates (scipy quad / dblquad of the joint density)."""
    mu, cov = params["mu"][0, 0], family.covariances(params)[0, 0]
    present = kind != MISSING
    mu, cov = mu[present], cov[np.ix_(present, present)]
    kind, y = kind[present], y[present]
    lo = np.where(kind == LEFT, -np.inf, lower[present])
    hi = np.where(kind == RIGHT, np.inf, upper[present])
    if "nu" in params:
        dist = stats.multivariate_t(mu, cov, df=params["nu"][0, 0])
    else:
        dist = stats.multivariate_normal(mu, cov)
    cens = np.flatnonzero(kind != OBSERVED)

    def density(*free):
        point = y.copy()
        point[cens] = free
        return np.exp(dist.logpdf(point))

    options = {"epsabs": 0, "epsrel": 1e-11}
    if cens.size == 1:
        value, _ = integrate.quad(
            density, lo[cens[0]], hi[cens[0]], limit=200, **options
        )
    else:
        i, j = cens
        value, _ = integrate.dblquad(
            lambda b, a: density(a, b), lo[i], hi[i], lo[j], hi[j], **options
        )
    return np.log(value)


@pytest.mark.parametrize("family_name", ["normal", "student_t"])
def test_censored_cells_of_full_covariance_integrate_exactly(family_name):
    family = FAMILIES[(family_name, "full")]()
    corr = np.array([[1.0, 0.7, -0.4], [0.7, 1.0, -0.2], [-0.4, -0.2, 1.0]])
    params = {
        "w": np.ones((1, 1)),
        "mu": np.array([[[0.3, -0.2, 0.5]]]),
        "sigma": np.array([[[1.2, 0.8, 1.5]]]),
        "corr": corr[None, None],
    }
    if family_name == "student_t":
        params["nu"] = np.array([[5.0]])
    rows = [
        # (kinds, values, lower, upper)
        ([LEFT, OBSERVED, OBSERVED], [0, 0.1, 0.9], [0, 0, 0], [-0.5, 0, 0]),
        ([OBSERVED, RIGHT, MISSING], [1.0, 0, 0], [0, 1.5, 0], [0, 0, 0]),
        ([INTERVAL, OBSERVED, LEFT], [0, -1.0, 0], [-0.2, 0, 0], [0.8, 0, 2.0]),
        ([LEFT, RIGHT, OBSERVED], [0, 0, 2.5], [0, -0.3, 0], [0.4, 0, 0]),
        ([LEFT, LEFT, MISSING], [0, 0, 0], [0, 0, 0], [-2.5, -3.0, 0]),  # far tail
        # a right-censored cell before another censored one (its integral
        # runs up to +inf, where the quantiles of the top nodes were infinite)
        ([RIGHT, RIGHT, MISSING], [0, 0, 0], [-1.0, -0.5, 0], [0, 0, 0]),
        ([RIGHT, LEFT, OBSERVED], [0, 0, 0.5], [2.0, 0, 0], [0, -2.0, 0]),
        ([RIGHT, OBSERVED, INTERVAL], [0, 0.3, 0], [0.1, 0, -1.0], [0, 0, 3.0]),
        ([MISSING, RIGHT, RIGHT], [0, 0, 0], [0, 2.5, 3.0], [0, 0, 0]),  # far tail
    ]
    kind = np.array([r[0] for r in rows], dtype=np.int8)
    values = np.where(kind == OBSERVED, np.array([r[1] for r in rows], float), np.nan)
    lower = np.where(np.isin(kind, (RIGHT, INTERVAL)), [r[2] for r in rows], np.nan)
    upper = np.where(np.isin(kind, (LEFT, INTERVAL)), [r[3] for r in rows], np.nan)
    cells = CellTable(values, kind, lower, upper)
    ours = likelihood.log_likelihood(family, cells, params)[0]
    for n in range(len(rows)):
        expected = _brute_force_row(
            family, params, np.nan_to_num(values[n]), kind[n], lower[n], upper[n]
        )
        assert ours[n] == pytest.approx(expected, rel=1e-8, abs=1e-8), n


def test_rectangle_probabilities_in_the_far_tails():
    """log P of a far lower and a far upper orthant agree (by symmetry) and
    match one-dimensional adaptive quadrature to 1e-9."""
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    chol = np.linalg.cholesky(cov)[None]
    lower_tail = mvn_log_prob(np.full((1, 2), -np.inf), [[-8.0, -7.5]], chol)[0]
    upper_tail = mvn_log_prob([[8.0, 7.5]], np.full((1, 2), np.inf), chol)[0]
    sd = np.sqrt(1 - 0.8**2)
    value, _ = integrate.quad(
        lambda x: np.exp(
            stats.norm.logpdf(x) + stats.norm.logcdf((-7.5 - 0.8 * x) / sd)
        ),
        -np.inf,
        -8.0,
        epsabs=0,
        epsrel=1e-13,
    )
    assert lower_tail == pytest.approx(np.log(value), abs=1e-9)
    assert upper_tail == pytest.approx(lower_tail, abs=1e-9)
    far = mvn_log_prob([[40.0], [-np.inf]], [[np.inf], [-40.0]], np.ones((2, 1, 1)))
    np.testing.assert_allclose(far, stats.norm.logsf(40.0), rtol=1e-12)
    t_one = mvt_log_prob([[-np.inf]], [[-6.0]], np.eye(1)[None], np.array([3.0]))[0]
    assert t_one == pytest.approx(stats.t.logcdf(-6.0, 3.0), abs=1e-12)


@pytest.mark.parametrize(
    ("nu", "limits"),
    [(40.0, (-5.0, -12.0, -20.0)), (1000.0, (-30.0, -45.0)), (5.0, (-1e60,))],
)
def test_student_t_rectangles_far_in_a_tail_keep_falling(nu, limits):
    """A bivariate t (independent scales) below (L, L): the probability
    falls with L as one-dimensional adaptive quadrature over log V of the
    normal CDFs says (X = Z / sqrt(V / nu), V ~ chi-square(nu)), and never
    exceeds P(X1 < L). The last limits give probabilities near e^-820 and
    e^-690, where the incomplete beta functions underflow (once held at
    about e^-38, then at e^-772)."""

    def by_quadrature(limit):
        def log_f(s):
            v = np.exp(s)
            z = limit * np.sqrt(v / nu)
            return stats.chi2.logpdf(v, nu) + 2 * special.log_ndtr(z) + s

        grid = np.linspace(-400, 10, 41001)
        peak = grid[np.argmax(log_f(grid))]
        top = log_f(peak)
        value, _ = integrate.quad(
            lambda s: np.exp(log_f(s) - top),
            peak - 40,
            peak + 40,
            points=[peak],
            limit=400,
            epsabs=0,
            epsrel=1e-12,
        )
        return top + np.log(value)

    for limit in limits:
        both = mvt_log_prob(
            np.full((1, 2), -np.inf), [[limit, limit]], np.eye(2)[None], [nu]
        )[0]
        one = mvt_log_prob([[-np.inf]], [[limit]], np.eye(1)[None], [nu])[0]
        assert both == pytest.approx(by_quadrature(limit), abs=1e-6), limit
        assert both < one


def _t_rectangle_by_quadrature(lo, hi, cov, nu):
    """log P(lo <= X <= hi), X bivariate t(nu, 0, cov): adaptive quadrature
    over x1 of its density times the conditional probability of x2's
    interval (a t with nu + 1 degrees of freedom, location cov21 / cov11 x1
    and squared scale (cov22 - cov21^2 / cov11) (nu + x1^2 / cov11) / (nu + 1)),
    split at the integrand's peak on a grid."""
    s11, gain = cov[0, 0], cov[1, 0] / cov[0, 0]
    rest = cov[1, 1] - cov[1, 0] ** 2 / s11

    def log_f(x):
        x = np.asarray(x, dtype=float)
        scale = np.sqrt(rest * (nu + x**2 / s11) / (nu + 1))
        a, b = (lo[1] - gain * x) / scale, (hi[1] - gain * x) / scale
        # The interval's probability from the side where it is small.
        upper = a > 0
        near = np.where(upper, stats.t.logsf(a, nu + 1), stats.t.logcdf(b, nu + 1))
        far = np.where(upper, stats.t.logsf(b, nu + 1), stats.t.logcdf(a, nu + 1))
        width = near + np.log1p(-np.exp(far - near))
        return stats.t.logpdf(x, nu, scale=np.sqrt(s11)) + width

    reach = 3000 * np.sqrt(s11)
    grid = np.linspace(max(lo[0], -reach), min(hi[0], reach), 40001)
    values = log_f(grid)
    peak, top = grid[np.nanargmax(values)], np.nanmax(values)
    total = sum(
        integrate.quad(
            lambda x: np.exp(log_f(x) - top),
            a,
            b,
            limit=500,
            epsabs=0,
            epsrel=1e-12,
        )[0]
        for a, b in ((lo[0], peak), (peak, hi[0]))
    )
    return top + np.log(total)


@pytest.mark.parametrize(
    ("lo", "hi", "cov", "nu"),
    [
        # Far out and correlated: the average over the t's chi-square
        # variable (how these were computed before) was off by 24 here.
        ([32.34, 82.01], [85.62, 102.25], [[0.84, -0.21], [-0.21, 1.04]], 200.0),
        # Narrow features in the integrand: that average was off by 0.2-2.
        ([-16.72, 30.71], [82.24, 33.38], [[2.37, 0.54], [0.54, 0.85]], 30.0),
        ([-38.21, -np.inf], [np.inf, -46.07], [[1.14, 0.94], [0.94, 3.58]], 200.0),
        ([2.81, 48.18], [28.16, np.inf], [[0.62, 1.73], [1.73, 10.19]], 200.0),
        ([-9.28, 28.82], [np.inf, 122.67], [[1.26, -1.73], [-1.73, 3.58]], 30.0),
        ([-20.62, 9.7], [np.inf, np.inf], [[7.14, 2.77], [2.77, 1.47]], 1000.0),
        ([-1.0, -np.inf], [2.0, 0.5], [[1.0, 0.6], [0.6, 2.0]], 1.0),
    ],
)
def test_student_t_rectangles_match_adaptive_quadrature(lo, hi, cov, nu):
    """Bivariate t rectangles far in the tails, with correlations, against
    adaptive quadrature of the t's conditional distribution, to 1e-7 in
    log probability."""
    lo, hi, cov = np.array(lo), np.array(hi), np.array(cov)
    ours = mvt_log_prob(lo[None], hi[None], np.linalg.cholesky(cov)[None], [nu])[0]
    assert ours == pytest.approx(_t_rectangle_by_quadrature(lo, hi, cov, nu), abs=1e-7)


def _equicorrelated_orthant(limits, rho):
    """log P(Z_i <= limits_i for all i), Z standard normal with correlation
    rho >= 0 between every pair: Z_i = sqrt(rho) U + sqrt(1 - rho) E_i, so
    the probability is one adaptive integral over U, split at its peak."""
    s = np.sqrt(1 - rho)

    def log_f(u):
        terms = (special.log_ndtr((b - np.sqrt(rho) * u) / s) for b in limits)
        return stats.norm.logpdf(u) + sum(terms)

    grid = np.linspace(-200, 50, 250001)
    values = log_f(grid)
    peak, top = grid[np.argmax(values)], values.max()
    total = sum(
        integrate.quad(
            lambda u: np.exp(log_f(u) - top), a, b, limit=400, epsabs=0, epsrel=1e-13
        )[0]
        for a, b in ((peak - 60, peak), (peak, peak + 60))
    )
    return top + np.log(total)


@pytest.mark.parametrize("rho", [0.5, 0.9, 0.99])
@pytest.mark.parametrize(
    "limits", [(-10, -12.5), (-20, -25), (-5, -8, -12), (-20, -25, -30, -22)]
)
def test_rectangles_far_out_with_strong_correlations(limits, rho):
    """Several cells censored far below, correlated: the coordinates are
    taken least probable first, whatever their order in the row. In the
    order given, the integrand's peak lay beyond the quadrature's nodes:
    (-20, -25) at rho 0.9 was 2.5 off in log probability, (-5, -8, -12) at
    0.99 was 88 off."""
    c = len(limits)
    cov = np.full((c, c), rho) + (1 - rho) * np.eye(c)
    chol = np.linalg.cholesky(cov)[None]
    ours = mvn_log_prob(np.full((1, c), -np.inf), np.array([limits], float), chol)[0]
    assert ours == pytest.approx(_equicorrelated_orthant(limits, rho), abs=1e-8)


def test_student_t_rectangle_far_out_takes_the_least_probable_coordinate_first():
    """Scales 1 and 0.8, correlation 0.99, both below -30: the second
    coordinate is the farther out (it was 5.7e-4 off taken second)."""
    cov = np.array([[1.0, 0.792], [0.792, 0.64]])
    lo, hi = np.full(2, -np.inf), np.array([-30.0, -30.0])
    ours = mvt_log_prob(lo[None], hi[None], np.linalg.cholesky(cov)[None], [1000.0])[0]
    assert ours == pytest.approx(
        _t_rectangle_by_quadrature(lo[::-1], hi[::-1], cov[::-1, ::-1], 1000.0),
        abs=1e-7,
    )


def _quadrant_by_owens_t(h: float, k: float, rho: float) -> float:
    """P(Z1 < h, Z2 < k) for a standard bivariate normal with correlation
    rho, h and k nonzero: Owen's (1956) closed form in his T function."""
    r = np.sqrt(1 - rho * rho)
    t_h = special.owens_t(h, (k - rho * h) / (h * r))
    t_k = special.owens_t(k, (h - rho * k) / (k * r))
    return 0.5 * (special.ndtr(h) + special.ndtr(k)) - t_h - t_k - 0.5 * (h * k < 0)


@pytest.mark.parametrize(
    ("rho", "atol"),
    [
        (-0.9, 1e-9),
        (0.9, 1e-9),
        (-0.99, 1e-9),
        (0.99, 1e-9),
        (-0.999, 2e-7),
        (0.999, 2e-7),
        (-0.9999, 5e-6),
        (0.9999, 5e-6),
    ],
)
def test_quadrants_at_strong_correlations_match_owens_closed_form(rho, atol):
    """Every quadrant (-inf, h] x (-inf, k] with h, k on a grid within 3 SDs,
    both signs of rho, against the closed form in log probability. Near
    +-1 the inner probability steps inside the first cell's interval
    where the rectangle cuts a band across the distribution; without the
    cut there the worst errors were 8e-3 at |rho| = 0.999 and 5e-2 at
    0.9999 (with it, 9e-8 and 3e-6). Probabilities under 1e-6 are left
    out, where the closed form, a difference of near-equal terms, loses its
    relative precision."""
    grid = np.array([v for v in np.arange(-3.0, 3.01, 0.25) if v != 0])
    h, k = (a.ravel() for a in np.meshgrid(grid, grid))
    pairs = zip(h, k, strict=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = np.array([_quadrant_by_owens_t(a, b, rho) for a, b in pairs])
    held = exact > 1e-6
    chol = np.linalg.cholesky([[1.0, rho], [rho, 1.0]])
    ours = mvn_log_prob(
        np.full((held.sum(), 2), -np.inf),
        np.c_[h[held], k[held]],
        np.repeat(chol[None], held.sum(), axis=0),
    )
    np.testing.assert_allclose(ours, np.log(exact[held]), rtol=0, atol=atol)


@pytest.mark.parametrize(
    ("lo", "hi", "rho", "nu"),
    [
        # The rectangles' errors without the cut: 6e-4, 1e-3, 4e-5, 1.5e-7.
        ([-np.inf, -np.inf], [0.5, 1.0], -0.999, 4.0),
        ([-np.inf, -np.inf], [0.75, -0.75], -0.9999, 4.0),
        ([-np.inf, 0.3], [1.0, np.inf], 0.999, 10.0),
        ([-1.0, -2.0], [2.0, 0.5], 0.998, 3.0),
    ],
)
def test_student_t_rectangles_across_a_nearly_singular_distribution(lo, hi, rho, nu):
    """Scales 1 and 1.3: the rectangle cuts a band across the distribution,
    so that the inner probability steps inside the first interval; the
    first interval is cut there, and the result matches adaptive
    quadrature to 1e-10 in log probability."""
    lo, hi = np.array(lo), np.array(hi)
    cov = np.array([[1.0, 1.3 * rho], [1.3 * rho, 1.69]])
    ours = mvt_log_prob(lo[None], hi[None], np.linalg.cholesky(cov)[None], [nu])[0]
    assert ours == pytest.approx(_t_rectangle_by_quadrature(lo, hi, cov, nu), abs=1e-10)


@pytest.mark.parametrize("nu", [None, 5.0])
def test_either_order_of_a_pair_gives_the_same_rectangle(nu):
    """At a tie in the choice of the first coordinate the order is
    arbitrary: both orders, taken as given, agree near a singular
    correlation (rho = -0.999, both cells bounded above; without the cut
    they differed by as much as 1.7e-2, normal, and 1e-3, t with nu = 5;
    with it 5.8e-7 at most)."""
    from stanmix.families._rectangle import (
        _T_STUDENT_MAX,
        _T_STUDENT_STEP,
        _grid,
        _integrated,
    )

    grid = _grid(1) if nu is None else _grid(1, _T_STUDENT_STEP, _T_STUDENT_MAX)
    rng = np.random.default_rng(4)
    hi = rng.uniform(-1.5, 1.5, (50, 2))
    lo = np.full_like(hi, -np.inf)
    cov = np.array([[1.0, -0.999], [-0.999, 1.0]])
    nus = None if nu is None else np.full(50, nu)
    values = [
        _integrated(
            lo[:, order],
            hi[:, order],
            np.repeat(np.linalg.cholesky(cov)[None], 50, 0),
            grid,
            nus,
        )
        for order in ([0, 1], [1, 0])
    ]
    np.testing.assert_allclose(values[0], values[1], rtol=0, atol=1e-6)


@pytest.mark.parametrize("c", [3, 4])
def test_rectangles_open_above_match_scipy_in_three_and_four_dimensions(c):
    """Boxes with right-censored and two-sided coordinates (open above, before
    the last coordinate) against scipy's multivariate normal CDF of the box
    (Genz's method, asked for an absolute error of 1e-10)."""
    rng = np.random.default_rng(c)
    a = rng.normal(size=(c, c))
    cov = a @ a.T + c * np.eye(c)
    chol = np.linalg.cholesky(cov)[None]
    lo = np.array([[-1.0, 0.5, -np.inf, 0.2][:c]])
    hi = np.array([[np.inf, np.inf, 1.0, 2.5][:c]])
    ours = mvn_log_prob(lo, hi, chol)[0]
    total = stats.multivariate_normal.cdf(
        hi[0],
        np.zeros(c),
        cov,
        lower_limit=lo[0],
        abseps=1e-10,
        releps=1e-10,
        maxpts=10**7,
    )
    assert ours == pytest.approx(np.log(total), abs=1e-6)


def test_python_student_t_tail_matches_scipy_where_nu_is_large():
    x = np.array([-7.734588123500272, -7.7, -40.0])
    nu = np.array([121.31440548365286, 1000.0, 300.0])
    ours = t_log_cdf(x, nu)
    np.testing.assert_allclose(ours, stats.t.logcdf(x, nu), rtol=1e-12)


CELL_PROGRAM = """
functions {
#include mixture.stanfunctions
#include cells.stanfunctions
}
data {
  int M;
  array[M] int kind;
  vector[M] lo;
  vector[M] hi;
  vector[M] nu;
}
parameters {
  real x;
}
model {
  x ~ std_normal();
}
generated quantities {
  vector[M] q;
  for (i in 1:M) {
    q[i] = cell_log_prob(kind[i], lo[i], hi[i], nu[i], 0, 1);
  }
}
"""


def test_programs_censored_t_cells_are_exact_in_the_far_tail(tmp_path):
    """The programs' t CDF against scipy where Stan's student_t_lcdf loses
    digits (far tails at large nu), at the switch between the two (|z| = 4),
    and in the ordinary range, for all three kinds of censoring."""
    for name in ("mixture.stanfunctions", "cells.stanfunctions"):
        (tmp_path / name).write_text((STAN_DIR / name).read_text())
    program = tmp_path / "cells.stan"
    program.write_text(CELL_PROGRAM)
    z = np.array([-7.734588123500272, -7.7, -10.0, -25.0, -4.01, -3.99, -1.5, 2.0, 9.0])
    nu = np.array([121.31440548365286, 1000.0, 1e4, 1e5, 50.0, 50.0, 3.0, 7.0, 500.0])
    left = stats.t.logcdf(z, nu)
    right = stats.t.logsf(-z, nu)
    # log P(z < T < z + 1/2), from the tail on the interval's side of 0
    near = np.where(z < 0, stats.t.logcdf(z + 0.5, nu), stats.t.logsf(z, nu))
    far = np.where(z < 0, stats.t.logcdf(z, nu), stats.t.logsf(z + 0.5, nu))
    interval = near + np.log1p(-np.exp(far - near))
    m = z.size
    data = {
        "M": 3 * m,
        "kind": [1] * m + [2] * m + [3] * m,
        "lo": np.concatenate([np.full(m, -np.inf), -z, z]).tolist(),
        "hi": np.concatenate([z, np.full(m, np.inf), z + 0.5]).tolist(),
        "nu": np.tile(nu, 3).tolist(),
    }
    result = get_engine("stanli").sample(
        program, data, chains=1, warmup=5, draws=1, seed=1, inits=None
    )
    q = result.variables["q"].reshape(-1)
    np.testing.assert_allclose(q, np.concatenate([left, right, interval]), rtol=1e-10)
    # The same cells with the location a parameter, in the model block
    # (autodiff, as in the likelihood): one log density per cell.
    program.write_text(
        CELL_PROGRAM.split("parameters {")[0].replace("data {", "data {\n  int cell;")
        + "parameters {\n  real loc;\n}\n"
        + "model {\n  target += cell_log_prob(kind[cell], lo[cell], hi[cell], "
        + "nu[cell], loc, 1);\n}\n"
    )
    mir = stanli.stan_to_mir(program.read_text(), include_paths=[str(tmp_path)])
    # The programs' lists carry 0 for the bound a one-sided cell lacks.
    finite = {
        b: np.nan_to_num(data[b], posinf=0, neginf=0).tolist() for b in ("lo", "hi")
    }
    by_autodiff = [
        stanli.bridgestan_model(
            mir=mir, data=dict(data, **finite, cell=i + 1), name="cells"
        ).log_density(np.zeros(1), propto=True, jacobian=True)
        for i in range(3 * m)
    ]
    np.testing.assert_allclose(by_autodiff, q, rtol=1e-10)


@pytest.mark.parametrize(("key", "d"), CASES)
def test_every_pivot_gives_the_same_point_and_log_density(key, d):
    """The ordered anchor means step from component `pivot`: each pivot's
    parameters (stan_init) constrain back to the same means, and the log
    density there, Jacobian included, is the same for every pivot (the
    charts differ, their Jacobians are both the product of the gaps). The
    unconstrained values are the pivot's mean and the log gaps."""
    family, cells, start, _, data = _setup(key, d)
    program = get_engine("stanli")._program(program_path(family.program))
    order = np.argsort(start["mu"][:, 0], kind="stable")
    column = start["mu"][order, 0]
    log_densities = []
    for pivot in range(data["K"]):
        layout = Layout(0, True, pivot)
        payload = {
            name: v.tolist() if isinstance(v, np.ndarray) else v
            for name, v in dict(data, pivot=pivot + 1).items()
        }
        bridge = stanli.bridgestan_model(mir=program, data=payload, name=family.program)
        init = mixing_init(data, family.stan_init(start, cells, layout))
        unc = bridge.param_unconstrain_json(
            json.dumps({name: np.asarray(v).tolist() for name, v in init.items()})
        )
        k = data["K"]
        gaps = np.log(np.diff(column))
        expected = np.concatenate([[column[pivot]], gaps[pivot:], gaps[:pivot][::-1]])
        np.testing.assert_allclose(unc[:k], expected, rtol=1e-12)
        names = [
            f"{n.split('.')[0]}[{','.join(n.split('.')[1:])}]" if "." in n else n
            for n in bridge.param_names(include_tp=True)
        ]
        back = family.from_stan(
            unflatten(names, bridge.param_constrain(unc, include_tp=True)[None, None])
        )
        np.testing.assert_allclose(back["mu"][0, 0], start["mu"][order], rtol=1e-12)
        log_densities.append(bridge.log_density(unc, propto=True, jacobian=True))
    np.testing.assert_allclose(log_densities, log_densities[0], rtol=1e-12)


def _censored_cells(data: dict, kind: str) -> list[tuple]:
    """(row, column, bounds...) of one kind of censored cell in program data."""
    keys = {
        "left": ("left_limit",),
        "right": ("right_limit",),
        "interval": ("interval_lower", "interval_upper"),
    }[kind]
    columns = [data[f"{kind}_row"], data[f"{kind}_col"], *(data[k] for k in keys)]
    return list(zip(*columns, strict=True))


def _normal_diag_rows_by_scipy(data: dict, mu, sigma, w) -> np.ndarray:
    """Each row's log likelihood under a diagonal normal mixture, cell by
    cell with scipy: observed densities, censored CDFs, missing cells out."""
    y, observed = np.asarray(data["y"]), np.asarray(data["observed"])
    terms = np.tile(np.log(w), (len(y), 1))
    for k in range(len(w)):
        densities = stats.norm(mu[k], sigma[k]).logpdf(y)
        terms[:, k] += np.where(observed == 1, densities, 0).sum(axis=1)
        cell = lambda col: stats.norm(mu[k, col - 1], sigma[k, col - 1])  # noqa: E731, B023
        for row, col, limit in _censored_cells(data, "left"):
            terms[row - 1, k] += cell(col).logcdf(limit)
        for row, col, limit in _censored_cells(data, "right"):
            terms[row - 1, k] += cell(col).logsf(limit)
        for row, col, lo, hi in _censored_cells(data, "interval"):
            if hi < mu[k, col - 1]:  # from the tail the interval lies in
                near, far = cell(col).logcdf(hi), cell(col).logcdf(lo)
            else:
                near, far = cell(col).logsf(lo), cell(col).logsf(hi)
            terms[row - 1, k] += near + np.log1p(-np.exp(far - near))
    return np.logaddexp.reduce(terms, axis=1)


def test_normal_diag_model_block_likelihood_matches_scipy():
    """The likelihood normal_diag.stan adds to the target (one design-matrix
    product per chunk of rows) equals scipy's cell-by-cell sum, on a table
    with observed, left-, right- and interval-censored and missing cells,
    and on its fully observed rows (the design without mask columns). The
    priors and Jacobian do not depend on the table, so the difference of
    the two log densities at one point is the difference of likelihoods."""
    base = json.loads((STAN_DIR / "normal_diag.data.json").read_text())
    init = json.loads((STAN_DIR / "normal_diag.init.json").read_text())
    y, observed = np.array(base["y"]), np.array(base["observed"])
    full = np.flatnonzero(observed.min(axis=1) == 1)
    mixed = dict(
        base,
        n_right=1,
        right_row=[int(full[0]) + 1],
        right_col=[1],
        right_limit=[float(y[full[0], 0]) - 0.3],
        n_interval=1,
        interval_row=[int(full[1]) + 1],
        interval_col=[2],
        interval_lower=[float(y[full[1], 1]) - 0.5],
        interval_upper=[float(y[full[1], 1]) + 0.2],
    )
    for row, col in ((full[0], 0), (full[1], 1), (full[2], 0)):  # last: missing
        observed[row, col], y[row, col] = 0, 0.0
    mixed.update(y=y.tolist(), observed=observed.tolist())
    keep = np.flatnonzero(observed.min(axis=1) == 1)
    complete = dict(
        base,
        N=len(keep),
        y=y[keep].tolist(),
        observed=observed[keep].tolist(),
        n_left=0,
        left_row=[],
        left_col=[],
        left_limit=[],
    )
    program = get_engine("stanli")._program(program_path("normal_diag"))
    k, d = base["K"], base["D"]
    log_density, log_lik = [], []
    for data in (mixed, complete):
        bridge = stanli.bridgestan_model(mir=program, data=data, name="normal_diag")
        unc = bridge.param_unconstrain_json(json.dumps(init))
        names = bridge.param_names(include_tp=True)
        values = dict(
            zip(names, bridge.param_constrain(unc, include_tp=True), strict=True)
        )
        mu, sigma = (
            np.array(
                [
                    [values[f"{name}.{i}.{j}"] for j in range(1, d + 1)]
                    for i in range(1, k + 1)
                ]
            )
            for name in ("mu", "sigma")
        )
        w = np.array([values[f"w.{i}"] for i in range(1, k + 1)])
        log_density.append(bridge.log_density(unc, propto=True, jacobian=True))
        log_lik.append(_normal_diag_rows_by_scipy(data, mu, sigma, w).sum())
    assert len(keep) < len(y) - 40
    np.testing.assert_allclose(
        log_density[0] - log_density[1], log_lik[0] - log_lik[1], rtol=1e-10
    )


def test_known_spherical_scales_are_one_per_component_and_counted_so():
    from stanmix.exceptions import StanmixInputError
    from stanmix.families import get_family

    spherical = get_family("normal", "spherical", {"scale": [1.0, 2.0, 3.0]})
    spherical.validate(3, 2)
    # K D means and K - 1 weights; the K scales are known.
    assert spherical.n_parameters(3, 2) == 3 * 2 + 2
    diag = get_family("normal", "diag", {"scale": 1.0})
    assert diag.n_parameters(3, 2) == 3 * 2 + 2
    for scale in ([[1.0, 50.0], [2.0, 60.0], [3.0, 70.0]], [1.0, 2.0]):
        with pytest.raises(StanmixInputError, match="one number or 3 numbers"):
            get_family("normal", "spherical", {"scale": scale}).validate(3, 2)


def test_a_start_with_an_unsymmetric_correlation_is_refused():
    from stanmix.exceptions import StanmixInputError
    from stanmix.families import get_family

    family = get_family("normal", "full")
    start = {"w": [0.5, 0.5], "mu": [[0, 0], [3, 3]], "sigma": [[1, 1], [1, 1]]}
    corr = np.array([[[1.0, 0.5], [0.5, 1.0]], [[1.0, 0.0], [0.0, 1.0]]])
    assert family.check_start({**start, "corr": corr}, 2, 2, "init")["corr"].shape
    corr[0, 1, 0] = -0.9
    with pytest.raises(StanmixInputError, match="'corr' must be symmetric"):
        family.check_start({**start, "corr": corr}, 2, 2, "init")


def _broken_cells(program: str, change: str) -> dict:
    """The program's example data with its cell table broken one way."""
    data = json.loads((STAN_DIR / f"{program}.data.json").read_text())
    observed = np.array(data["observed"], dtype=float)
    n = int(np.argmax(observed[:, 0] == 1)) + 1  # a row observed in column 1
    if change == "listed twice":
        row, col = data["left_row"][0], data["left_col"][0]
        data.update(n_right=1, right_row=[row], right_col=[col], right_limit=[0.0])
    elif change == "censored and observed":
        data.update(n_right=1, right_row=[n], right_col=[1], right_limit=[0.0])
    elif change == "fraction observed":
        observed[n - 1, 0] = 0.5
        data["observed"] = observed.tolist()
    elif change == "point interval":
        data.update(
            observed=np.where(
                np.arange(len(observed))[:, None] == n - 1, 0, observed
            ).tolist(),
            n_interval=1,
            interval_row=[n],
            interval_col=[1],
            interval_lower=[1.0],
            interval_upper=[1.0],
        )
    elif change == "zero concentration":
        data["alpha"] = [0.0] * data["K"]
    return data


BROKEN = {
    "listed twice": (
        "is listed more than once among the censored cells",
        "among the censored cells twice (left and right)",
    ),
    "censored and observed": (
        "is censored and also observed (observed = 1)",
        "is right-censored and also observed (observed = 1)",
    ),
    "fraction observed": ("must be 0 or 1, got 0.5", "must be 0 or 1, got 0.5"),
    "point interval": (
        "interval_upper[1] must be above interval_lower[1]",
        "interval_upper[1] must be above interval_lower[1], got 1 and 1",
    ),
    "zero concentration": (
        "mu_scale and alpha must be positive (each entry)",
        "the data's alpha[1] must be positive, got 0",
    ),
}


@pytest.mark.parametrize(
    ("program", "change"),
    [
        (p, c)
        for p in ("normal_diag", "student_t_diag", "full_cov", "regression")
        for c in ("listed twice", "censored and observed")
    ]
    + [
        ("normal_diag", c)
        for c in ("fraction observed", "point interval", "zero concentration")
    ],
)
def test_a_broken_cell_table_is_refused_by_the_program_and_the_reader(program, change):
    """A cell listed twice, censored and observed, half observed, an
    interval of one point, or a zero prior concentration: each program
    refuses it as it reads the data (every program and its log_lik would
    otherwise read such cells in their own way), and so does the check of a
    CmdStan run's data file, naming the same thing."""
    from stanmix.exceptions import StanmixInputError
    from stanmix.stan_data import check_stan_data

    data = _broken_cells(program, change)
    in_stan, in_python = BROKEN[change]
    mir = get_engine("stanli")._program(program_path(program))
    with pytest.raises(Exception, match=re.escape(in_stan)):
        stanli.bridgestan_model(mir=mir, data=data, name=program)
    with pytest.raises(StanmixInputError, match=re.escape(in_python)):
        check_stan_data(program, data)


def test_student_t_cdf_for_very_many_degrees_of_freedom():
    """Far in a tail with nu in the millions (where scipy's 2F1 and its t
    CDF fail) and near the centre (where nu / (nu + z^2) rounds to 1), the
    Student-t log CDF and an interval cell's log probability match
    references from mpmath quadrature at 50 digits."""
    from stanmix.families import get_family

    np.testing.assert_allclose(
        t_log_cdf(np.array([-40.0, -100.0, -300.0]), np.array([1e6, 1e7, 1e8])),
        [-803.9683247503, -5003.0253743867, -44986.384424128],
        rtol=1e-11,
    )
    # scipy's betainc with b = 5e7 limits this one to about 4e-8
    assert t_log_cdf(np.array(5.62e-5), np.array(1e8)) == pytest.approx(
        -0.6931023132205082, rel=1e-7
    )

    def interval(lo, hi, nu):
        cells = CellTable(
            np.array([[np.nan]]),
            np.array([[INTERVAL]], np.int8),
            np.array([[lo]]),
            np.array([[hi]]),
            ("x",),
        )
        params = {"w": [[1.0]], "mu": [[[0.0]]], "sigma": [[[1.0]]], "nu": [[nu]]}
        return likelihood.log_likelihood(get_family("student_t"), cells, params)[0, 0]

    assert interval(-1e-3, 1e-3, 1e8) == pytest.approx(-7.133546800793522, rel=1e-9)
    assert interval(-1e-5, 1e-5, 1e8) == pytest.approx(-11.738716820131623, rel=1e-9)
    assert interval(-1e-8, 1e-8, 3.0) == pytest.approx(-18.72842241301593, rel=1e-9)


def test_a_value_beyond_every_components_reach_has_log_likelihood_minus_inf():
    """A cell whose probability underflows under every component gives the
    row -inf, not NaN; a Student-t cell at 1e160 keeps its finite log
    density (mpmath: -1472.4581237884765), with no overflow warning, as
    does a row of a full-covariance t there."""
    import warnings

    from stanmix.families import get_family

    far = CellTable(
        np.array([[np.nan]]),
        np.array([[LEFT]], np.int8),
        np.array([[np.nan]]),
        np.array([[-1e200]]),
        ("x",),
    )
    normal = {"w": [[0.5, 0.5]], "mu": [[[0.0], [1.0]]], "sigma": [[[1.0], [1.0]]]}
    t = {"w": [[1.0]], "mu": [[[0.0]]], "sigma": [[[1.0]]], "nu": [[3.0]]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ll = likelihood.log_likelihood(get_family("normal"), far, normal)
        assert ll.tolist() == [[-np.inf]]
        huge = CellTable.from_values([[1e160]])
        value = likelihood.log_likelihood(get_family("student_t"), huge, t)[0, 0]
    assert value == pytest.approx(-1472.4581237884765, rel=1e-12)
    # and so does a row of a full-covariance t there, whose squared distance
    # overflows: log density of the standard bivariate t (nu = 3) at
    # (1e160, 0), log G(5/2) - log G(3/2) - log(3 pi) - 5/2 log(1 + r^2 / 3)
    t2 = {
        "w": [[1.0]],
        "mu": [[[0.0, 0.0]]],
        "sigma": [[[1.0, 1.0]]],
        "corr": [[np.eye(2)]],
        "nu": [[3.0]],
    }
    exact = (
        math.lgamma(2.5)
        - math.lgamma(1.5)
        - math.log(3 * math.pi)
        - 2.5 * (2 * 160 * math.log(10) - math.log(3))
    )
    row = CellTable.from_values([[1e160, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        full = get_family("student_t", "full")
        value = likelihood.log_likelihood(full, row, t2)[0, 0]
    assert value == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("c", [6, 8])
@pytest.mark.parametrize("nu", [None, 4.0])
def test_many_censored_cells_take_bounded_quasi_monte_carlo_nodes(c, nu):
    """A row with many censored cells would need a tensor grid of 17^(c-1)
    nodes (normal; 26^(c-1) for the t: 410 million at c = 8); above 2^17
    nodes a scrambled Sobol' set of 2^17 points takes its place. The orthant
    P(X < 0) of an equicorrelated (rho = 1/2) elliptical distribution is
    1 / (c + 1), normal or t alike."""
    from stanmix.families._rectangle import MAX_GRID_NODES, quadrature_nodes

    assert quadrature_nodes(c, student_t=nu is not None) == MAX_GRID_NODES == 2**17
    cov = np.full((c, c), 0.5) + 0.5 * np.eye(c)
    chol = np.linalg.cholesky(cov)[None]
    lo, hi = np.full((1, c), -np.inf), np.zeros((1, c))

    def log_prob():
        if nu is None:
            return mvn_log_prob(lo, hi, chol)[0]
        return mvt_log_prob(lo, hi, chol, np.array([nu]))[0]

    lp = log_prob()
    assert lp == pytest.approx(-np.log(c + 1), abs=1e-4)
    assert log_prob() == lp  # the same points every time: results repeat
