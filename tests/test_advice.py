"""stanmix.advice: the sentences that say what the data make hard."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stanmix.advice import singular_draws, unstated_limits


def _params(rho: float, k: int = 2) -> dict:
    """One chain of three draws of a two-column full covariance, the last
    draw's first component with correlation ``rho``."""
    corr = np.tile(np.eye(2), (1, 3, k, 1, 1))
    corr[0, 2, 0, 0, 1] = corr[0, 2, 0, 1, 0] = rho
    return {
        "w": np.full((1, 3, k), 1 / k),
        "sigma": np.ones((1, 3, k, 2)),
        "corr": corr,
    }


def test_a_correlation_near_one_that_factors_is_not_refused():
    """A correlation 1e-13 short of 1 still has a Cholesky factor, which is
    all the likelihood needs: no error. At exactly 1 it has none."""
    assert singular_draws(_params(1 - 1e-13), "optimize") == ""
    said = singular_draws(_params(1.0), "optimize")
    assert said.startswith("The posterior mode found has 1 of its 3 draws")
    assert "(a correlation matrix with no Cholesky factor)" in said


@pytest.mark.parametrize(
    ("method", "k", "remedy"),
    [
        ("optimize", 2, "Use method='sample' or fewer components"),
        ("variational", 1, "Use method='sample'"),
        ("sample", 2, "Use fewer components"),
        ("sample", 1, "Look for values the data repeat"),
    ],
)
def test_the_remedy_fits_the_method_and_the_components(method, k, remedy):
    """The advice offers only what would change the fit: NUTS is not told
    to use NUTS, nor one component to use fewer."""
    said = singular_draws(_params(1.0, k), method)
    assert said.split(". ")[-1].startswith(remedy)


def _at_limit_tables():
    """A fit's table with a lower limit of 0.5 on x and an upper limit of 9 on
    y, and new rows: two at x's limit, one at y's, one at neither."""
    from stanmix.censoring import cell_table

    fitted, _ = cell_table(
        pd.DataFrame({"x": [0.5, 2.0, 3.0, 4.0], "y": [1.0, 9.0, 5.0, 6.0]}),
        lower_limit={"x": 0.5},
        upper_limit={"y": 9.0},
    )
    new = pd.DataFrame({"x": [0.5, 0.5, 1.0, 2.0], "y": [2.0, 3.0, 9.0, 4.0]})
    return fitted, new


def test_new_values_at_a_fitted_limit_are_named_by_column_and_side():
    from stanmix.censoring import cell_table

    fitted, new = _at_limit_tables()
    said = unstated_limits(fitted, cell_table(new)[0])
    assert said == (
        "2 cells of column 'x' equal the lower_limit 0.5 the model was fitted "
        "with; 1 cell of column 'y' equals the upper_limit 9 the model was "
        "fitted with: they are taken as measured values, as no limit is given "
        "for them here; if they are censored, pass lower_limit= and "
        "upper_limit= as to fit"
    )
    # The limits given again: the cells are censored, nothing to say.
    again, _ = cell_table(new, lower_limit={"x": 0.5}, upper_limit={"y": 9.0})
    assert unstated_limits(fitted, again) == ""
    # Only x's given: y's cell is still named, alone.
    half, _ = cell_table(new, lower_limit={"x": 0.5})
    assert unstated_limits(fitted, half).startswith(
        "1 cell of column 'y' equals the upper_limit 9 the model was fitted "
        "with: it is taken as a measured value"
    )
    # A value at the limit as fit tells it, to rounding (0.1 * 5 != 0.5 may
    # hold in other sums), counts; one just off it does not.
    near = new.assign(x=[0.5 * (1 + 1e-15), 0.5 + 1e-9, 1.0, 2.0])
    assert unstated_limits(fitted, cell_table(near)[0]).startswith(
        "1 cell of column 'x' equals the lower_limit 0.5 the model"
    )
    # Another limit given for x (a more sensitive assay): 0.5 is measured.
    other, _ = cell_table(new, lower_limit={"x": 0.1}, upper_limit={"y": 9.0})
    assert unstated_limits(fitted, other) == ""


def test_a_table_without_limits_in_force_takes_its_censored_bounds():
    """A CellTable built cell by cell need not record the limits in force;
    its left-censored cells' bounds are the limits then."""
    from stanmix.cells import LEFT, OBSERVED, CellTable
    from stanmix.censoring import cell_table

    nan = np.nan
    fitted = CellTable(
        np.array([[nan], [2.0], [3.0]]),
        np.array([[LEFT], [OBSERVED], [OBSERVED]]),
        np.full((3, 1), nan),
        np.array([[0.5], [nan], [nan]]),
    )
    assert fitted.lower_limit is None
    new, _ = cell_table(np.array([[0.5], [0.7]]))
    assert unstated_limits(fitted, new).startswith(
        "1 cell of column 'x0' equals the lower_limit 0.5"
    )


def test_predictions_on_new_data_warn_of_values_at_a_fitted_limit():
    """The estimators warn through new_cells, before any result; no warning
    where the limits are given."""
    import warnings

    import stanmix as sm

    rng = np.random.default_rng(3)
    X = pd.DataFrame({"x": np.r_[rng.normal(0, 1, 60), rng.normal(5, 1, 60)]})
    limit = float(np.quantile(X.x, 0.1))
    X.x = X.x.clip(lower=limit)
    model = sm.Mixture(2, engine="stanli").fit(
        X, method="optimize", seed=1, lower_limit=limit, show_progress=False
    )
    at = X[X.x == limit]
    with pytest.warns(UserWarning, match=r"12 cells of column 'x' equal the "):
        unstated = model.predict_proba(at)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        censored = model.predict_proba(at, lower_limit=limit)
    # The warning is about a real difference: at the limit, a censored cell
    # leans to the lower component more than a value measured there.
    assert (censored[:, 0] > unstated[:, 0]).all()

    data = sm.datasets.regressions(200, seed=1)
    y = data.y.clip(lower=float(np.quantile(data.y, 0.2)))
    fitted = sm.RegressionMixture(2, engine="stanli").fit(
        data.X, y, method="optimize", seed=1, lower_limit=y.min(), show_progress=False
    )
    with pytest.warns(UserWarning, match=r"40 cells of column 'y' equal the "):
        fitted.predict_proba(data.X, y)


def test_a_fit_in_the_data_units_outside_the_default_priors_is_warned_of():
    """Two clusters around 5e4 with sds of 1e4 fitted without standardizing:
    the default priors (means within about +-9, sds 0.025 to 10) would place
    the components, not the data. Priors set in the data's units, or the
    standardized fit, are not warned of; nor is a column the priors suit."""
    import warnings

    import stanmix as sm

    rng = np.random.default_rng(2)
    X = pd.DataFrame(
        {
            "big": np.r_[rng.normal(4e4, 5e3, 50), rng.normal(6e4, 5e3, 50)],
            "small": rng.normal(0.0, 1.0, 100),
        }
    )
    with pytest.warns(UserWarning) as record:
        sm.Mixture(2, standardize=False).stan_input(X, seed=1)
    (message,) = [str(w.message) for w in record]
    assert message.startswith(
        "standardize=False fits in the data's units, but column(s) 'big' (centre "
        "5e+04, sd 1.09e+04) lie far outside the priors, which expect values within "
        "about +-9 (prior_mean_scale=3) and component sds between 0.0249 and 10 "
        "(prior_scale_median=0.5, prior_scale_log_sd=1)"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sm.Mixture(2).stan_input(X, seed=1)
        sm.Mixture(
            2, standardize=False, prior_mean_scale=3e4, prior_scale_median=5e3
        ).stan_input(X[["big"]], seed=1)


def _lab_table() -> pd.DataFrame:
    """Two batches with their own detection limit of Cd (5 and 6), kept in
    a column lod_Cd; Cd's non-detects recorded at their row's limit."""
    rng = np.random.default_rng(0)
    lod = np.repeat([5.0, 6.0], 30)
    cd = np.maximum(np.r_[rng.normal(5, 1.5, 30), rng.normal(8, 1.5, 30)], lod)
    return pd.DataFrame({"Pb": rng.normal(10, 1, 60), "Cd": cd, "lod_Cd": lod})


def test_a_column_of_limits_among_the_fitted_is_named_with_its_use():
    """A column of two values is warned of before any fit, and the pile at
    Cd's lowest value points at the column that equals it there (each
    row's limit) rather than at the one number; a column that varies on
    the piled rows is not named, nor is a column of many values warned."""
    from stanmix.advice import few_value_columns, unstated_limit_piles
    from stanmix.censoring import cell_table

    table = _lab_table()
    cells, _ = cell_table(table)
    (few,) = few_value_columns(cells)
    assert few.startswith("column 'lod_Cd' takes only 2 values (5, 6) in its 60 rows")
    (pile,) = unstated_limit_piles(cells)
    assert pile.startswith("column 'Cd' has ")
    assert "values at 5, its lowest" in pile
    assert pile.endswith(
        "; column 'lod_Cd' equals 5 on each of those rows and varies between "
        "rows, as a column of each row's limit does: if it is one, pass "
        "lower_limit={'Cd': X['lod_Cd']} and leave 'lod_Cd' out of the fitted "
        "columns"
    )
    other, _ = cell_table(table.assign(lod_Cd=np.arange(60.0)))
    assert few_value_columns(other) == []
    assert "lod_Cd" not in unstated_limit_piles(other)[0]


def test_a_pile_at_each_end_of_a_column_is_warned_of_until_that_side_is_censored():
    """Non-detects recorded at 1.5 and a saturated instrument's 7.0 in one
    column: each end's pile is warned of on its own, and giving the lower
    limit (as the first warning says) leaves the pile at the top warned of,
    not fitted silently as measured values; with both limits, neither."""
    from stanmix.advice import unstated_limit_piles
    from stanmix.censoring import cell_table

    rng = np.random.default_rng(4)
    a = np.r_[rng.normal(2, 1, 75), rng.normal(6, 1.5, 75)].round(2).clip(1.5, 7.0)
    table = pd.DataFrame({"a": a, "b": rng.normal(0, 1, 150)})
    assert (a == 1.5).sum() == 26 and (a == 7.0).sum() == 21

    def said(**limits):
        return unstated_limit_piles(cell_table(table, **limits)[0])

    low, high = said()
    assert low.startswith("column 'a' has 26 of its 150 values at 1.5, its lowest")
    assert high.startswith("column 'a' has 21 of its 150 values at 7, its highest")
    (top,) = said(lower_limit={"a": 1.5})
    assert top.startswith("column 'a' has 21 of its 124 values at 7, its highest")
    assert "pass upper_limit={'a': 7} to censor them" in top
    (bottom,) = said(upper_limit={"a": 7.0})
    assert "pass lower_limit={'a': 1.5} to censor them" in bottom
    assert said(lower_limit={"a": 1.5}, upper_limit={"a": 7.0}) == []


def test_the_command_line_names_the_limit_column_as_its_flag(tmp_path, capsys):
    from stanmix import cli

    data = tmp_path / "lab.csv"
    _lab_table().to_csv(data, index=False)
    code = cli.main(
        [
            "fit",
            str(data),
            "-k",
            "2",
            "--method",
            "optimize",
            "--out",
            str(tmp_path / "out"),
        ]
    )
    err = capsys.readouterr().err
    assert "pass --lower-limit Cd=lod_Cd and leave 'lod_Cd' out of --columns" in err
    assert "takes only 2 values (5, 6) in its 60 rows" in err
    assert "otherwise leave it out of --columns" in err
    assert code in (0, 1)  # the fit itself may fail on the two-valued column
