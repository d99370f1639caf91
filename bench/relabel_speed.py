"""Speed and memory of the relabelling algorithms.

4 chains x 1000 draws, 1000 observations, K = 5 components, every draw
randomly relabelled. Targets: reference matching < 0.5 s, Stephens to
convergence < 5 s.

Run:  python bench/relabel_speed.py
"""

from __future__ import annotations

import itertools
import time
import tracemalloc

import numpy as np
from scipy.special import softmax
from scipy.stats import norm

from stanmix.relabel import (
    apply_permutations,
    reference_permutations,
    stephens_permutations,
)

CHAINS, DRAWS, N, K = 4, 1000, 1000, 5
SEED = 2024


def synthetic():
    rng = np.random.default_rng(SEED)
    centres = 3.0 * np.arange(K)
    mu = centres + 0.1 * rng.standard_normal((CHAINS, DRAWS, K))
    sigma = np.exp(0.05 * rng.standard_normal((CHAINS, DRAWS, K)))
    w = rng.dirichlet(np.full(K, 200.0), size=(CHAINS, DRAWS))
    y = rng.normal(centres[rng.integers(K, size=N)], 1.0)
    logp = np.log(w)[:, :, None, :] + norm.logpdf(
        y[:, None], mu[:, :, None, :], sigma[:, :, None, :]
    )
    membership = softmax(logp, axis=-1)
    table = np.array(list(itertools.permutations(range(K))))
    scr = table[rng.integers(len(table), size=(CHAINS, DRAWS))]
    params = {
        "mu": apply_permutations(mu, scr),
        "w": apply_permutations(w, scr),
        "sigma": apply_permutations(sigma, scr),
    }
    return params, apply_permutations(membership, scr, axis=-1), scr


def measure(label, fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<34s} {elapsed:7.3f} s   peak extra memory {peak / 2**20:7.1f} MiB")
    return out


def recovered(scr, perm):
    combined = np.take_along_axis(scr, perm, axis=2)
    return bool((combined == combined[0, 0]).all())


def main():
    params, membership, scr = synthetic()
    print(
        f"{CHAINS} chains x {DRAWS} draws, N = {N}, K = {K}; membership array "
        f"{membership.nbytes / 2**20:.0f} MiB"
    )
    perm = measure(
        "reference (parameters, pivot)", lambda: reference_permutations(params)
    )
    print(f"{'':<34s} exact recovery: {recovered(scr, perm)}")
    ref = {"mu": 3.0 * np.arange(K), "w": np.full(K, 1 / K), "sigma": np.ones(K)}
    perm = measure(
        "reference (parameters, given)", lambda: reference_permutations(params, ref)
    )
    print(f"{'':<34s} exact recovery: {recovered(scr, perm)}")
    perm = measure(
        "reference (ECR allocations)",
        lambda: reference_permutations(
            params, cost="allocations", membership=membership
        ),
    )
    print(f"{'':<34s} exact recovery: {recovered(scr, perm)}")
    res = measure(
        "Stephens (to convergence)", lambda: stephens_permutations(membership)
    )
    print(
        f"{'':<34s} {res.n_iter} iterations, converged: {res.converged}, "
        f"exact recovery: {recovered(scr, res.perm)}"
    )
    identity = np.broadcast_to(np.arange(K), (CHAINS, DRAWS, K))
    res = measure(
        "Stephens (identity start)",
        lambda: stephens_permutations(membership, init_perm=identity),
    )
    print(
        f"{'':<34s} {res.n_iter} iterations, converged: {res.converged}, "
        f"exact recovery: {recovered(scr, res.perm)}"
    )


if __name__ == "__main__":
    main()
