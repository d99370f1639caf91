"""Time of the k-means starting points of a fit, as the rows grow.

``fit`` runs ``n_starts`` (4) trimmed k-means starts, each the best of ten
k-means++ seedings, before its optimizer runs. Each row below is the four
starts on blobs of N rows, D columns and K clusters (standardized, as the
fit sees them), with the adjusted Rand index of the first start's
clusters against the truth and the smallest inertia of the four.

Run:  python bench/starts_speed.py [--sizes 10000x5x5,40000x5x5,80000x5x5,20000x10x10]

To compare with another version, run it with that version first on
``PYTHONPATH`` (e.g. a ``git worktree`` of an earlier commit).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.metrics import adjusted_rand_score

from stanmix.inference.starts import kmeans

SEED = 0


def blobs(n: int, d: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED)
    truth = rng.integers(0, k, n)
    X = rng.normal(0.0, 6.0, (k, d))[truth] + rng.normal(size=(n, d))
    return (X - X.mean(axis=0)) / X.std(axis=0), truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000x5x5,40000x5x5,80000x5x5,20000x10x10")
    args = parser.parse_args()
    print(f"{'N x D x K':>16} {'4 starts, s':>12} {'ARI':>6} {'inertia':>10}")
    for size in args.sizes.split(","):
        n, d, k = (int(v) for v in size.split("x"))
        X, truth = blobs(n, d, k)
        start = time.perf_counter()
        found = [kmeans(X, k, seed=s) for s in range(4)]
        seconds = time.perf_counter() - start
        inertia = []
        for c in found:
            labels = ((X[:, None] - c.means[None]) ** 2).sum(axis=2).argmin(axis=1)
            inertia.append(float(((X - c.means[labels]) ** 2).sum()))
        labels = ((X[:, None] - found[0].means[None]) ** 2).sum(axis=2).argmin(axis=1)
        ari = adjusted_rand_score(truth, labels)
        print(f"{size:>16} {seconds:12.2f} {ari:6.3f} {min(inertia):10.1f}")


if __name__ == "__main__":
    main()
