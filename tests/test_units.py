"""The units a fit runs in: each column centred and scaled, censored ones by
a normal fitted with their censoring (stanmix.cells.Standardization)."""

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

import stanmix as sm
from stanmix.cells import (
    INTERVAL,
    LEFT,
    MISSING,
    OBSERVED,
    RIGHT,
    CellTable,
    Standardization,
    censored_normal_moments,
)
from stanmix.censoring import cell_table


def _column(rng, n=400):
    """One normal(2, 3) column with cells of every kind: below a lower
    limit of 0, above an upper limit of 6, in intervals of width 2 and
    missing."""
    x = rng.normal(2.0, 3.0, n)
    kind = np.full(n, OBSERVED)
    kind[x <= 0.0] = LEFT
    kind[x >= 6.0] = RIGHT
    binned = (kind == OBSERVED) & (rng.random(n) < 0.2)
    kind[binned] = INTERVAL
    kind[rng.random(n) < 0.05] = MISSING
    lower = np.where(kind == RIGHT, 6.0, np.nan)
    upper = np.where(kind == LEFT, 0.0, np.nan)
    low = np.floor(x / 2.0) * 2.0
    lower = np.where(kind == INTERVAL, low, lower)
    upper = np.where(kind == INTERVAL, low + 2.0, upper)
    values = np.where(kind == OBSERVED, x, np.nan)
    return values, kind, lower, upper


def test_censored_moments_are_the_maximum_likelihood_normal():
    """Checked against the likelihood written cell by cell with scipy.stats
    and maximised from another start by another method."""
    values, kind, lower, upper = _column(np.random.default_rng(3))

    def negative_log_lik(theta):
        m, s = theta[0], np.exp(theta[1])
        dist = stats.norm(m, s)
        seen = values[kind == OBSERVED]
        return -(
            dist.logpdf(seen).sum()
            + dist.logcdf(upper[kind == LEFT]).sum()
            + dist.logsf(lower[kind == RIGHT]).sum()
            + np.log(
                dist.cdf(upper[kind == INTERVAL]) - dist.cdf(lower[kind == INTERVAL])
            ).sum()
        )

    reference = optimize.minimize(negative_log_lik, [0.0, 0.0], method="BFGS").x
    m, s = censored_normal_moments(values, kind, lower, upper)
    assert m == pytest.approx(reference[0], abs=1e-3)
    assert s == pytest.approx(np.exp(reference[1]), rel=1e-3)
    # The censoring matters: the point values (limits for censored cells)
    # give a spread well under the truth's 3.
    points = np.where(kind == LEFT, 0.0, np.where(kind == RIGHT, 6.0, values))
    assert np.nanstd(points) < 0.75 * s


def test_a_likelihood_without_a_maximum_gives_none():
    """Every known value a lower bound at one limit: the normal slides away
    above it."""
    n = 10
    values = np.r_[np.full(2, np.nan), 1.0]
    kind = np.r_[np.full(2, RIGHT), MISSING]
    lower = np.r_[np.full(2, 5.0), np.nan]
    assert censored_normal_moments(values, kind, lower, np.full(3, np.nan)) is None
    # One observed value among them: its density grows without end as the
    # sd shrinks.
    values = np.r_[np.full(n, np.nan), 9.0]
    kind = np.r_[np.full(n, RIGHT), OBSERVED]
    lower = np.r_[np.full(n, 5.0), np.nan]
    assert censored_normal_moments(values, kind, lower, np.full(n + 1, np.nan)) is None


def test_only_censored_columns_get_the_fitted_normal():
    rng = np.random.default_rng(1)
    x = pd.DataFrame({"a": rng.normal(0, 1, 300), "b": rng.normal(5, 2, 300)})
    limit = float(np.quantile(x["b"], 0.6))
    censored = x.assign(b=np.maximum(x["b"], limit))
    table, _ = cell_table(censored, lower_limit={"b": limit})
    units = Standardization.fit(table)
    plain = Standardization.fit(CellTable.from_values(x.to_numpy()))
    # Column a has no censored cell: the mean and sd of its values.
    assert units.center[0] == plain.center[0] == pytest.approx(x["a"].mean())
    assert units.scale[0] == plain.scale[0] == pytest.approx(x["a"].std(ddof=0))
    # Column b, 60% at its limit, is put back near its own units.
    assert units.center[1] == pytest.approx(plain.center[1], abs=0.3)
    assert units.scale[1] == pytest.approx(plain.scale[1], rel=0.15)
    assert np.maximum(censored["b"], limit).std(ddof=0) < 0.6 * units.scale[1]
    # Spherical covariances share one scale, the root mean square.
    shared = Standardization.fit(table, shared=True)
    assert shared.scale[0] == pytest.approx(np.sqrt(np.mean(units.scale**2)))


def test_a_mostly_censored_column_keeps_the_truth_in_its_intervals():
    """One normal(0, 1) column, 97% of it below the detection limit. Had
    the fit run in units taken from the values piled at the limit, its
    priors would sit on the limit with a fifth of the column's spread, and
    the mean's 94% HDI came out as [1.27, 1.52]: far from the truth, and
    narrow."""
    rng = np.random.default_rng(11)
    n = 300
    x = rng.standard_normal(n)
    lod = float(stats.norm.ppf(0.97))
    X = pd.DataFrame({"x": np.maximum(x, lod), "z": rng.standard_normal(n)})
    model = sm.Mixture(1, engine="stanli").fit(
        X, lower_limit={"x": lod}, chains=2, draws=300, seed=1, show_progress=False
    )
    table = model.summary().loc[["mu[0, x]", "sigma[0, x]"]]
    low, high = table.filter(like="hdi_").to_numpy().T
    assert (low < [0.0, 1.0]).all() and ([0.0, 1.0] < high).all()
    # The intervals are wide, as nine measured values allow: the mean's
    # 94% HDI from 300 measured values would be about 0.22 wide.
    assert (high - low > 0.5).all()


@pytest.mark.parametrize("censor", [False, True])
def test_a_fit_does_not_depend_on_the_data_units(censor):
    """The default fit runs in standardized units: the same data in other
    units (x 1e4 + 5e4, say grams for tens of kilograms) give the same
    clusters, and parameters in those units. With censoring, the limits are
    converted with the data."""
    from stanmix import datasets

    data = datasets.blobs(300, seed=2)
    X, limits = data.X, {}
    if censor:
        X, limits = datasets.left_censor(X, 0.2)
    fits = []
    for scale, shift in ((1.0, 0.0), (1e4, 5e4), (1e-3, -2.0)):
        kwargs = {"lower_limit": {c: v * scale + shift for c, v in limits.items()}}
        model = sm.DiagonalMixture(5, engine="stanli").fit(
            X * scale + shift, method="optimize", seed=1, **(kwargs if censor else {})
        )
        fits.append((scale, shift, model))
    # The modes agree to the optimizer's tolerance (L-BFGS stops on relative
    # changes): within 0.005 in units of the base data, where each mean's
    # posterior sd is about 0.13 (60 rows of sd 1 per cluster).
    _, _, base = fits[0]
    for scale, shift, model in fits[1:]:
        np.testing.assert_allclose(model.weights_, base.weights_, atol=1e-3)
        np.testing.assert_allclose(
            (model.means_ - shift) / scale, base.means_, atol=5e-3
        )
        np.testing.assert_allclose(
            np.sqrt(model.covariances_) / scale,
            np.sqrt(base.covariances_),
            atol=5e-3,
        )
        np.testing.assert_allclose(
            model.predict_proba_fitted(), base.predict_proba_fitted(), atol=5e-3
        )


def test_a_column_of_intervals_only_gets_its_fitted_normal():
    """No measured value, but bins that share no point bound the
    likelihood: the normal fitted to the bins, not the bins' midpoints (a
    wide lowest bin would put half the column at its middle, -25)."""
    rng = np.random.default_rng(5)
    x = rng.normal(1.0, 1.0, 400)
    edges = np.r_[-50.0, np.arange(0.5, 4.01, 0.25), 50.0]
    at = np.searchsorted(edges, x) - 1
    kind = np.full(x.size, INTERVAL)
    lower, upper = edges[at], edges[at + 1]
    m, s = censored_normal_moments(np.full(x.size, np.nan), kind, lower, upper)
    assert m == pytest.approx(x.mean(), abs=0.1)
    assert s == pytest.approx(x.std(), rel=0.1)
    # Intervals that all hold one point: the sd could shrink to nothing.
    overlapping = np.c_[rng.uniform(-2, 0, 20), rng.uniform(0, 2, 20)]
    nothing = np.full(20, np.nan)
    found = censored_normal_moments(
        nothing, np.full(20, INTERVAL), overlapping[:, 0], overlapping[:, 1]
    )
    assert found is None


def test_a_small_cluster_far_above_a_limit_gets_a_start_and_its_own_component():
    """280 rows piled at a detection limit, 20 far above it (a hot spot in
    data mostly below detection). The column's censored normal is wide, and
    trimmed k-means takes the 20 rows for outliers; the plain k-means starts
    give them a component, the mode keeps it, and the components are
    ordered along the column that separates them."""
    rng = np.random.default_rng(7)
    X = pd.DataFrame(
        {
            "x": np.r_[
                np.maximum(rng.normal(0, 0.2, 280), 0.5), rng.normal(100, 1, 20)
            ],
            "y": rng.normal(0, 1, 300),
        }
    )
    with pytest.warns(RuntimeWarning, match="nearly every value is censored"):
        model = sm.Mixture(2, engine="stanli").fit(
            X, method="optimize", seed=1, lower_limit={"x": 0.5}
        )
    assert model.anchor_ == 0
    hot = int(np.argmax(model.means_[:, 0]))
    # Within a posterior sd or so of the 20 rows' own mean and sd (about
    # 0.2 and 0.16 for 20 rows of sd 1).
    rows = X["x"].to_numpy()[280:]
    assert model.means_[hot, 0] == pytest.approx(rows.mean(), abs=0.3)
    assert np.sqrt(model.covariances_[hot, 0]) == pytest.approx(rows.std(), abs=0.3)
    assert model.weights_[hot] == pytest.approx(20 / 300, abs=0.02)
    assert (model.labels_ == hot).sum() == 20
