"""The regression families keep the family contract with ``regression.stan``.

As tests/test_families.py does for the other families, on data with
covariates: the Python log terms equal the program's generated quantities
for every kind of response cell (observed, left, right, interval, missing),
with constant and covariate-dependent weights and normal and Student-t
errors; the parameter count equals the program's; inits survive Stan's
transforms (ordering the lines or a slope); units convert as a regression's
coefficients do; the data flags pick the family back; covariates survive
rows, standardization and the Stan data.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import STAN_DIR

from stanmix import likelihood
from stanmix.cells import (
    INTERVAL,
    LEFT,
    MISSING,
    OBSERVED,
    RIGHT,
    CellTable,
    Standardization,
)
from stanmix.engines import get_engine, unflatten
from stanmix.families import FAMILIES, Layout, Priors, family_from_stan_data
from stanmix.programs import program_path

stanli = pytest.importorskip("stanli")

K = 3
#: (family, covariance) key, family options.
CASES = {
    "normal": (("normal_regression", "diag"), {"predictors": (0, 1)}),
    "normal-gated": (
        ("normal_regression", "diag"),
        {"predictors": (0, 1), "weights_from": (1, 2)},
    ),
    "student_t": (("student_t_regression", "diag"), {"predictors": (0, 1)}),
    "student_t-gated": (
        ("student_t_regression", "diag"),
        {"predictors": (0, 1), "weights_from": (2,)},
    ),
    "normal-slope-ordered": (
        ("normal_regression", "diag"),
        {"predictors": (0, 1), "weights_from": (2,), "order_by": 1},
    ),
}


def regression_cells(rng, n: int = 40) -> CellTable:
    """One response with every kind of cell, three complete covariates."""
    x = rng.normal(0.0, 1.5, (n, 3))
    y = 1.0 + x[:, 0] - 0.5 * x[:, 1] + rng.normal(0.0, 1.0, n)
    kinds = [OBSERVED, LEFT, RIGHT, INTERVAL, MISSING]
    kind = rng.choice(kinds, p=[0.5, 0.15, 0.1, 0.1, 0.15], size=n).astype(np.int8)
    kind[: len(kinds)] = kinds
    lower = np.full(n, np.nan)
    upper = np.full(n, np.nan)
    upper[kind == LEFT] = y[kind == LEFT] + 0.3
    lower[kind == RIGHT] = y[kind == RIGHT] - 0.3
    iv = kind == INTERVAL
    lower[iv] = y[iv] - rng.uniform(0.1, 1.0, iv.sum())
    upper[iv] = y[iv] + rng.uniform(0.1, 1.0, iv.sum())
    values = np.where(kind == OBSERVED, y, np.nan)
    cells = CellTable(
        values[:, None], kind[:, None], lower[:, None], upper[:, None], ("y",)
    )
    return cells.with_covariates(x, ("a", "b", "c"))


def _start(family, rng):
    p, q = len(family.predictors), len(family.weights_from)
    w = rng.dirichlet(np.full(K, 5.0))
    params = {
        "w": w,
        "intercept": rng.normal(0, 2, K),
        "beta": rng.normal(0, 1, (K, p)),
        "sigma": np.exp(rng.normal(0, 0.3, (K, 1))),
    }
    if family.student_t:
        params["nu"] = rng.uniform(2, 20, K)
    if family.gated:
        params["gamma0"] = rng.normal(0, 1, K)
        params["gamma0"] -= params["gamma0"][0]
        params["gamma"] = rng.normal(0, 1, (K, q))
        params["gamma"] -= params["gamma"][0]
    return params


def _setup(case, seed=3):
    key, options = CASES[case]
    rng = np.random.default_rng(seed)
    family = FAMILIES[key](options)
    cells = regression_cells(rng)
    start = _start(family, rng)
    units = Standardization(np.zeros(1), np.ones(1))
    layout = Layout(0, True)
    data = family.stan_data(cells, K, layout, Priors(), start, units)
    return family, cells, start, layout, data


def _payload(data):
    return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in data.items()}


@pytest.fixture(scope="module")
def runs():
    cache = {}

    def run(case):
        if case not in cache:
            family, cells, start, layout, data = _setup(case)
            data.update(compute_log_lik=1, compute_membership=1)
            result = get_engine("stanli").sample(
                program_path(family.program),
                data,
                chains=1,
                warmup=40,
                draws=6,
                seed=1,
                inits=[family.stan_init(start, cells, layout)],
                max_treedepth=4,  # any draws will do: short trajectories
            )
            cache[case] = (family, cells, data, result)
        return cache[case]

    return run


@pytest.mark.parametrize("case", list(CASES))
def test_python_log_terms_equal_the_programs_generated_quantities(runs, case):
    family, cells, _, result = runs(case)
    assert set(np.unique(cells.kind)) == {OBSERVED, LEFT, RIGHT, INTERVAL, MISSING}
    params = {
        name: arr.reshape(-1, *arr.shape[2:])
        for name, arr in family.from_stan(result.variables).items()
    }
    n = cells.n_obs
    stan_ll = result.variables["log_lik"].reshape(-1, n)
    stan_lp = result.variables["membership_log_prob"].reshape(-1, n, K)
    ll = likelihood.log_likelihood(family, cells, params)
    np.testing.assert_allclose(ll, stan_ll, rtol=1e-8, atol=1e-8)
    lp = likelihood.log_terms(family, cells, params)
    np.testing.assert_allclose(lp - ll[..., None], stan_lp, rtol=1e-8, atol=1e-8)
    # Blocks of any size give the same numbers.
    np.testing.assert_array_equal(
        likelihood.log_likelihood(family, cells, params, chunk_size=7), ll
    )


@pytest.mark.parametrize("case", list(CASES))
def test_parameter_count_matches_the_program(case):
    family, _, _, _, data = _setup(case)
    model = stanli.Model(
        stan_file=str(program_path(family.program)),
        include_paths=[str(STAN_DIR)],
        data=_payload(data),
    )
    assert family.n_parameters(K, 1) == model.n_unconstrained


@pytest.mark.parametrize("case", list(CASES))
def test_inits_survive_the_programs_transforms(case):
    """stan_init -> unconstrain -> constrain -> from_stan gives the same point,
    components in the program's order (the lines at the centre, or the
    chosen slope, increasing)."""
    family, cells, start, layout, data = _setup(case)
    bridge = stanli.bridgestan_model(
        mir=get_engine("stanli")._program(program_path(family.program)),
        data=_payload(data),
        name=family.program,
    )
    init = family.stan_init(start, cells, layout)
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
    back = {name: arr[0, 0] for name, arr in back.items()}
    x_center = cells.covariates[:, list(family.predictors)].mean(axis=0)
    mu = start["intercept"] + start["beta"] @ x_center
    order_col = family.settings["order_by"]
    key = mu if order_col is None else start["beta"][:, order_col]
    order = np.argsort(key)
    np.testing.assert_allclose(back["mu"][:, 0], mu[order], rtol=1e-9, atol=1e-12)
    for name in ("intercept", "beta", "sigma", "nu"):
        if name in start:
            np.testing.assert_allclose(
                back[name], start[name][order], rtol=1e-9, atol=1e-12
            )
    if family.gated:
        z_center = cells.covariates[:, list(family.weights_from)].mean(axis=0)
        logit = start["gamma0"] + start["gamma"] @ z_center
        logit = logit[order] - logit[order][0]
        np.testing.assert_allclose(
            back["w"], np.exp(logit) / np.exp(logit).sum(), rtol=1e-9
        )
        gamma = start["gamma"][order] - start["gamma"][order][0]
        np.testing.assert_allclose(back["gamma"], gamma, rtol=1e-9, atol=1e-12)
        # The weights of every row are those of the start, reordered.
        rows = cells.covariates[:, list(family.weights_from)]
        ours = family.log_weights_at({k: v[None] for k, v in back.items()}, rows)
        theirs = family.log_weights_at({k: v[None] for k, v in start.items()}, rows)[
            :, order
        ]
        np.testing.assert_allclose(ours, theirs, atol=1e-10)
    else:
        np.testing.assert_allclose(back["w"], start["w"][order], rtol=1e-9)


@pytest.mark.parametrize("case", list(CASES))
def test_units_convert_as_a_regressions_coefficients_do(case):
    """The same data in other units (response and covariates shifted and
    scaled) give the same log-likelihood up to the response's Jacobian,
    once the parameters are converted."""
    family, cells, start, _, _ = _setup(case)
    rng = np.random.default_rng(2)
    cy, sy = 3.0, 2.5
    cc, cs = rng.normal(size=3), np.exp(rng.normal(size=3))
    units = Standardization(np.array([cy]), np.array([sy]), cc, cs)
    x_center = cells.covariates[:, list(family.predictors)].mean(axis=0)
    start = {**start, "mu": (start["intercept"] + start["beta"] @ x_center)[:, None]}
    original = family.to_original_units(start, units)
    back = family.to_standard_units(original, units)
    for name in start:
        np.testing.assert_allclose(back[name], start[name], rtol=1e-12, atol=1e-12)
    raw = CellTable(
        cells.values * sy + cy,
        cells.kind,
        cells.lower * sy + cy,
        cells.upper * sy + cy,
        cells.columns,
    ).with_covariates(cells.covariates * cs + cc, cells.covariate_names)
    std = units.apply(raw)
    np.testing.assert_allclose(std.covariates, cells.covariates, atol=1e-12)
    lead = {k: v[None] for k, v in start.items()}
    ll_std = likelihood.log_likelihood(family, std, lead)
    ll_raw = likelihood.log_likelihood(
        family, raw, {k: v[None] for k, v in original.items()}
    )
    jacobian = np.where(cells.kind[:, 0] == OBSERVED, np.log(sy), 0.0)
    np.testing.assert_allclose(ll_raw, ll_std - jacobian, rtol=1e-10, atol=1e-10)
    # mu is the line at the predictors' centre, in either units.
    raw_center = raw.covariates[:, list(family.predictors)].mean(axis=0)
    np.testing.assert_allclose(
        original["mu"][:, 0],
        original["intercept"] + original["beta"] @ raw_center,
        rtol=1e-10,
    )


@pytest.mark.parametrize("case", list(CASES))
def test_data_flags_pick_the_family_back(case):
    family, _, _, _, data = _setup(case)
    for flag, value in family.stan_flags.items():
        assert data[flag] == value
    back = family_from_stan_data(family.program, data)
    assert type(back) is type(family)
    assert back.settings == family.settings


def test_covariates_travel_with_the_cells():
    cells = regression_cells(np.random.default_rng(1), 12)
    rows = cells.rows(np.array([3, 7]))
    np.testing.assert_array_equal(rows.covariates, cells.covariates[[3, 7]])
    back = CellTable.from_stan(cells.to_stan(), ["y"], ["a", "b", "c"])
    for field in ("values", "kind", "lower", "upper", "covariates"):
        np.testing.assert_array_equal(getattr(back, field), getattr(cells, field))
    assert back.covariate_names == ("a", "b", "c")
    units = Standardization.fit(cells)
    std = units.apply(cells)
    np.testing.assert_allclose(std.covariates.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(std.covariates.std(axis=0), 1.0)
    plain = CellTable.from_values([[1.0], [2.0]])
    assert "X" not in plain.to_stan() and plain.n_covariates == 0
    bad = cells.with_covariates(np.where(np.arange(12)[:, None] == 4, np.nan, 1.0))
    with pytest.raises(Exception, match="row 4, covariate 'x0'"):
        bad.validate()


def _rows_by_scipy(cells, family, values, k):
    """Each row's log p(y | x, z) from the model's definition, cell by cell
    with scipy: a weighted sum over the lines of the response's density
    (observed), CDF (left), survival function (right) or interval mass."""
    from scipy import stats
    from scipy.special import log_softmax

    def matrix(name, cols):
        return np.array(
            [
                [values[f"{name}.{i}.{j}"] for j in range(1, cols + 1)]
                for i in range(1, k + 1)
            ]
        )

    def vector(name):
        return np.array([values[f"{name}.{i}"] for i in range(1, k + 1)])

    x = cells.covariates[:, list(family.predictors)]
    loc = vector("intercept")[None, :] + x @ matrix("beta", x.shape[1]).T
    sigma = vector("sigma")
    dist = (
        stats.t(vector("nu"), loc=loc, scale=sigma)
        if family.student_t
        else stats.norm(loc=loc, scale=sigma)
    )
    if family.gated:
        z = cells.covariates[:, list(family.weights_from)]
        gamma = matrix("gamma", z.shape[1])
        log_w = log_softmax(vector("gamma0")[None, :] + z @ gamma.T, axis=1)
    else:
        log_w = np.broadcast_to(np.log(vector("w")), loc.shape)
    kind = cells.kind[:, 0]
    y, lo, hi = (a[:, 0, None] for a in (cells.values, cells.lower, cells.upper))
    with np.errstate(divide="ignore", invalid="ignore"):  # other kinds' branches
        terms = np.select(
            [kind[:, None] == c for c in (OBSERVED, LEFT, RIGHT, INTERVAL)],
            [
                dist.logpdf(np.nan_to_num(y)),
                dist.logcdf(np.nan_to_num(hi)),
                dist.logsf(np.nan_to_num(lo)),
                np.log(dist.cdf(np.nan_to_num(hi)) - dist.cdf(np.nan_to_num(lo))),
            ],
            default=np.nan,
        )
        rows = np.logaddexp.reduce(log_w + terms, axis=1)
    return np.where(kind == MISSING, 0.0, rows)


@pytest.mark.parametrize("case", list(CASES))
def test_model_block_likelihood_matches_scipy(case):
    """The likelihood regression.stan adds to the target in its model block
    (the reduce_sum that NUTS differentiates, not the generated quantities'
    log_lik) equals scipy's row-by-row mixture of the model's definition,
    for every kind of response cell. The data with every response made
    missing differ only in the cell table, and a missing response adds no
    term, so the two log densities at one point differ by the likelihood."""
    family, cells, start, layout, data = _setup(case)
    blank = dict(
        data,
        y=np.zeros_like(np.asarray(data["y"], dtype=float)),
        observed=np.zeros_like(np.asarray(data["observed"], dtype=float)),
    )
    for side in ("left", "right"):
        blank.update({f"n_{side}": 0, f"{side}_row": [], f"{side}_col": []})
        blank[f"{side}_limit"] = []
    blank.update(n_interval=0, interval_row=[], interval_col=[])
    blank.update(interval_lower=[], interval_upper=[])
    np.testing.assert_array_equal(np.asarray(data["X"]), cells.covariates)
    program = get_engine("stanli")._program(program_path(family.program))
    init = family.stan_init(start, cells, layout)
    densities = []
    for payload in (data, blank):
        bridge = stanli.bridgestan_model(
            mir=program, data=_payload(payload), name="regression"
        )
        unc = bridge.param_unconstrain_json(json.dumps(_payload(init)))
        densities.append(bridge.log_density(unc, propto=True, jacobian=True))
        names = bridge.param_names(include_tp=True)
        values = dict(
            zip(names, bridge.param_constrain(unc, include_tp=True), strict=True)
        )
    rows = _rows_by_scipy(cells, family, values, K)
    assert np.isfinite(rows).all() and (rows != 0).sum() > 30
    np.testing.assert_allclose(densities[0] - densities[1], rows.sum(), rtol=1e-10)
