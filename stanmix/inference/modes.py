"""The posterior mode from several starts, with a warning when they disagree."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stanmix.engines import Engine, EngineResult


def best_mode(
    engine: Engine,
    stan_file: Path,
    data: dict,
    inits: Sequence[dict],
    seed: int,
    jacobian: bool = True,
    **options,
) -> tuple[EngineResult, np.ndarray]:
    """Optimize from every init; the result with the highest log density and
    the log densities of all starts that succeeded.

    Warns when starts end at modes with clearly different log densities
    (more starts make finding the best one more likely); raises
    ``RuntimeError`` with the first engine error when every start fails.
    ``options`` go to the engine's optimizer (e.g. ``iter``).
    """
    results, errors = [], []
    for i, init in enumerate(inits):
        try:
            results.append(
                engine.optimize(
                    stan_file,
                    data,
                    seed=seed + i,
                    jacobian=jacobian,
                    init=init,
                    **options,
                )
            )
        except RuntimeError as err:
            errors.append(str(err))
    if not results:
        raise RuntimeError(f"every optimizer start failed; first error: {errors[0]}")
    lps = np.array([r.lp for r in results])
    best = results[int(np.argmax(lps))]
    worse = lps < lps.max() - 0.01 * max(1.0, abs(lps.max()) * 1e-3)
    if worse.any():
        warnings.warn(
            f"{int(worse.sum())} of {lps.size} optimizer starts reached a "
            f"different mode (log density lower by up to "
            f"{lps.max() - lps.min():.3g}); the best is kept. Mixtures often "
            "have several modes: more starts (n_starts) make finding the "
            "best one more likely.",
            RuntimeWarning,
            stacklevel=3,
        )
    return best, lps
