"""How often a fit warns on data its model describes well: a warning there
is a false alarm.

Each case draws a data set from one of ``stanmix.datasets``' generators
(its true number of components, a seed per run) and fits the model it was
drawn from, at the posterior mode (every seed) and by NUTS at the defaults
(the first few seeds). Every warning the fit gives is counted by kind and
the first words of its message; the figures go to ``docs/benchmarks.md``
("Warnings on clean data").

    python bench/clean_data_warnings.py [--seeds 20] [--nuts-seeds 5]
"""

from __future__ import annotations

import argparse
import collections
import time
import warnings
from collections.abc import Callable

import stanmix as sm


def _blobs(seed: int):
    return sm.datasets.blobs(300, seed=seed).X, {}


def _censored(seed: int):
    X, limits = sm.datasets.left_censor(sm.datasets.blobs(300, seed=seed).X, 0.2)
    return X, {"lower_limit": limits}


def _correlated(seed: int):
    return sm.datasets.correlated(300, seed=seed).X, {}


def _regressions(seed: int):
    data = sm.datasets.regressions(300, seed=seed)
    return data.X, {"y": data.y}


#: name -> (data of a seed, the model the data were drawn from)
CASES: dict[str, tuple[Callable, Callable]] = {
    "blobs, diagonal, K=5": (_blobs, lambda: sm.DiagonalMixture(5, engine="stanli")),
    "blobs 20% left-censored, diagonal, K=5": (
        _censored,
        lambda: sm.DiagonalMixture(5, engine="stanli"),
    ),
    "correlated, full, K=3": (
        _correlated,
        lambda: sm.Mixture(3, covariance="full", engine="stanli"),
    ),
    "regressions, K=2": (
        _regressions,
        lambda: sm.RegressionMixture(2, engine="stanli"),
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--nuts-seeds", type=int, default=5)
    args = parser.parse_args()
    start = time.perf_counter()
    for method, seeds in (("optimize", args.seeds), ("sample", args.nuts_seeds)):
        for name, (draw, make) in CASES.items():
            said: collections.Counter = collections.Counter()
            warned = 0
            for seed in range(1, seeds + 1):
                X, extra = draw(seed)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    make().fit(
                        X, method=method, seed=seed, show_progress=False, **extra
                    )
                warned += bool(caught)
                for w in caught:
                    said[f"{w.category.__name__}: {str(w.message)[:72]}"] += 1
            print(f"{method:8s} {name}: {warned} of {seeds} fits warned")
            for text, n in said.most_common():
                print(f"    {n} x {text}")
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
