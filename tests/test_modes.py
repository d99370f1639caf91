"""The posterior mode of method="optimize" is confirmed by a restart where
the optimizer stopped."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import stanmix as sm

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


def test_a_converged_optimizer_is_confirmed_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        model = sm.DiagonalMixture(5, engine="stanli").fit(X, method="optimize", seed=1)
    assert np.isfinite(model.optimize_lps_).all()
