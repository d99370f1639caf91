"""Speed of the rectangle probabilities of censored cells under full and
tied covariances (what a row with two or more censored cells contributes to
membership probabilities, scores and checks).

Unit scales with a correlation rho between every pair (0 unless
``--rho``), random upper bounds (standard normal) in 2 and 3 dimensions:
the multivariate normal and the multivariate t with nu = 5. With rho != 0
a pair's first interval is cut where the second's conditional probability
steps, and the cost grows with the pieces. Best of three calls each.

With ``--stan``, instead the gradient of ``full_cov.stan``'s log density
under stanli (median of seven batches of 20): ``--rows`` rows whose only
cells are two left-censored ones, each at its own limits (one rectangle
each, the costly case), beside 200 observed rows; two components, the
first with correlation ``--rho``.

Run:  python bench/rectangle_speed.py [--rows 2000] [--rho 0.6] [--stan]
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


def stan_gradient_ms(n_pair: int, rho: float) -> float:
    """Milliseconds per gradient of full_cov.stan on rows of two censored
    cells at their own limits (see the module's docstring)."""
    import json

    import stanli

    from stanmix.cells import LEFT, OBSERVED, CellTable, Standardization
    from stanmix.engines import get_engine
    from stanmix.families import FAMILIES, Layout, Priors
    from stanmix.families.base import mixing_init
    from stanmix.programs import program_path

    family = FAMILIES["normal", "full"]()
    rng = np.random.default_rng(0)
    n = n_pair + 200
    kind = np.full((n, 2), OBSERVED, np.int8)
    kind[:n_pair] = LEFT
    upper = np.full((n, 2), np.nan)
    upper[:n_pair] = rng.normal(size=(n_pair, 2))
    values = np.where(kind == OBSERVED, rng.normal(size=(n, 2)), np.nan)
    cells = CellTable(values, kind, np.full((n, 2), np.nan), upper)
    corr = np.array([[[1.0, rho], [rho, 1.0]], [[1.0, 0.3], [0.3, 1.0]]])
    start = family.start(
        np.array([[-0.2, 0.1], [1.0, 1.2]]),
        np.array([[1.0, 1.3], [0.7, 0.9]]),
        np.array([0.6, 0.4]),
        corr,
    )
    layout = Layout(0, True)
    units = Standardization(np.zeros(2), np.ones(2))
    data = family.stan_data(cells, 2, layout, Priors(), start, units)
    payload = {
        k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in data.items()
    }
    model = stanli.bridgestan_model(
        mir=get_engine("stanli")._program(program_path(family.program)),
        data=payload,
        name=family.program,
    )
    init = mixing_init(data, family.stan_init(start, cells, layout))
    point = model.param_unconstrain_json(
        json.dumps({k: np.asarray(v).tolist() for k, v in init.items()})
    )
    batches = []
    for _ in range(7):
        begin = time.perf_counter()
        for _ in range(20):
            model.log_density_gradient(point)
        batches.append((time.perf_counter() - begin) / 20)
    return 1e3 * float(np.median(batches))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows in 2-D [2000]")
    parser.add_argument(
        "--rho", type=float, default=0.0, help="correlation of every pair [0]"
    )
    parser.add_argument(
        "--stan", action="store_true", help="time full_cov.stan's gradient instead"
    )
    args = parser.parse_args(argv)
    if not (-1 if args.stan else -0.5) < args.rho < 1:
        parser.error(
            f"--rho must be in (-1, 1) with --stan, in (-0.5, 1) otherwise (three "
            f"columns equally correlated), got {args.rho}"
        )
    if args.stan:
        ms = stan_gradient_ms(args.rows, args.rho)
        print(f"full_cov.stan, {args.rows} pair rows: gradient {ms:.3f} ms")
        return 0
    rng = np.random.default_rng(0)
    for c, n in ((2, args.rows), (3, max(1, args.rows // 10))):
        lo = np.full((n, c), -np.inf)
        hi = rng.normal(size=(n, c))
        cov = (1 - args.rho) * np.eye(c) + args.rho
        chol = np.tile(np.linalg.cholesky(cov), (n, 1, 1))
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
