"""stanmix.advice: the sentences that say what the data make hard."""

from __future__ import annotations

import numpy as np
import pytest

from stanmix.advice import singular_draws


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
