"""Speed of the rectangle probabilities of censored cells under full and
tied covariances (what a row with two or more censored cells contributes to
membership probabilities, scores and checks).

Independent scales, random upper bounds (standard normal) in 2 and 3
dimensions: the multivariate normal (one integration grid) and the
multivariate t with nu = 5 (the same grid averaged over the t's chi-square
variable). Best of three calls each.

Run:  python bench/rectangle_speed.py [--rows 2000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from stanmix.families._rectangle import mvn_log_prob, mvt_log_prob


def best_of(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows in 2-D [2000]")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    for c, n in ((2, args.rows), (3, max(1, args.rows // 10))):
        lo = np.full((n, c), -np.inf)
        hi = rng.normal(size=(n, c))
        chol = np.tile(np.eye(c), (n, 1, 1))
        normal = best_of(lambda: mvn_log_prob(lo, hi, chol))  # noqa: B023
        student = best_of(
            lambda: mvt_log_prob(lo, hi, chol, np.full(n, 5.0))  # noqa: B023
        )
        print(
            f"{c} censored cells, {n:5d} rows: normal {normal:7.3f} s, "
            f"Student-t {student:7.3f} s",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
