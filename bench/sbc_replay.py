"""Replay one replication of the calibration run with other starts.

Rebuilds the data set and the fit seed of replication ``REP`` of
``PROGRAM`` exactly as ``bench/sbc.py`` made them (same base seed and N),
and fits it again from each of the starts asked for: the estimator's
default (``map``), the true parameters (``truth``), ``kmeans`` or Stan's
``random`` inits. Per start it prints, per chain, the mean log density, the
component means (for a mixture of regressions, each line's value at the
predictors' centre and its slopes) and the sampler's state (step size,
divergences, transitions at the maximum tree depth), which shows whether
chains that start elsewhere find another mode. ``--optimize`` prints the
posterior mode the estimator finds (``method="optimize"``) instead;
``--order-by x1`` orders a mixture of regressions by that predictor's slopes
instead of the lines' values at the centre.

    python bench/sbc_replay.py normal_diag 21 --inits map,truth,random
    python bench/sbc_replay.py regression 39 --inits map,truth,random
    python bench/sbc_replay.py regression 39 --inits random --order-by x1
    python bench/sbc_replay.py normal_full_censored 2 --optimize
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from sbc import Settings  # noqa: E402
from sbc_programs import PROGRAMS, Simulated, replication_seeds  # noqa: E402


def replay_data(name: str, rep: int, settings: Settings) -> tuple[Simulated, int]:
    """The data set and fit seed of one replication."""
    program = PROGRAMS[name]
    sim_seed, fit_seed = replication_seeds(settings.seed, program.seed_key, rep)
    return program.simulate(settings.n, np.random.default_rng(sim_seed)), fit_seed


def _fmt(arr: np.ndarray) -> str:
    return np.array2string(np.asarray(arr), precision=2, suppress_small=True)


def _per_chain(draws: np.ndarray, chains: int) -> np.ndarray:
    """Each chain's mean of draws stacked chain after chain."""
    return draws.reshape(chains, -1, *draws.shape[1:]).mean(axis=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("program", choices=sorted(PROGRAMS))
    parser.add_argument("rep", type=int)
    parser.add_argument("--inits", default="map,truth,kmeans,random")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--optimize", action="store_true")
    parser.add_argument("--n", type=int, default=Settings.n)
    parser.add_argument("--seed", type=int, default=Settings.seed)
    parser.add_argument("--warmup", type=int, default=Settings.warmup)
    parser.add_argument("--draws", type=int, default=Settings.draws)
    parser.add_argument(
        "--order-by",
        default=None,
        help="a mixture of regressions: order the lines by this predictor's slope",
    )
    args = parser.parse_args(argv)
    settings = Settings(n=args.n, seed=args.seed, warmup=args.warmup, draws=args.draws)
    program = PROGRAMS[args.program]
    sim, fit_seed = replay_data(args.program, args.rep, settings)

    def estimator():
        model = program.estimator()
        if args.order_by is not None:
            if "order_by" not in model.get_params():
                parser.error("--order-by applies to a mixture of regressions")
            model.set_params(order_by=args.order_by)
        return model

    print(f"{args.program} replication {args.rep}: N = {settings.n}")
    for name, value in sim.truth.items():
        print(f"  true {name}: {_fmt(value)}")
    print(f"  rows per true component: {np.bincount(sim.labels, minlength=program.k)}")
    if args.optimize:
        model = estimator()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model.fit(sim.X, method="optimize", seed=fit_seed, **sim.fit_kwargs)
            except RuntimeError as err:
                print(f"optimize failed: {str(err)[:300]}")
                return 0
        print(f"optimize: log density of each start {_fmt(model.optimize_lps_)}")
        for name, value in model.map_.items():
            print(f"  mode {name}: {_fmt(value)}")
        return 0
    for init in args.inits.split(","):
        model = estimator()
        start = program.as_init(sim.truth) if init == "truth" else init
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                model.fit(
                    sim.X,
                    seed=fit_seed,
                    chains=args.chains,
                    warmup=settings.warmup,
                    draws=settings.draws,
                    init=start,
                    show_progress=False,
                    log_likelihood=False,
                    **sim.fit_kwargs,
                )
            except RuntimeError as err:
                print(f"init={init}: fit failed: {str(err)[:300]}")
                continue
        stats = model.idata_.sample_stats
        raw = model.param_draws("posterior_raw")
        mu = _per_chain(raw["mu"], args.chains)
        beta = _per_chain(raw["beta"], args.chains) if "beta" in raw else None
        print(
            f"init={init}: relabelled by {model.relabel_report_.method}; "
            f"metric {model.metric_}"
        )
        for c in range(args.chains):
            print(
                f"  chain {c}: mean lp {float(stats['lp'][c].mean()):8.2f}  "
                f"step {float(stats['step_size'][c, 0]):.3g}  "
                f"divergent {int(stats['diverging'][c].sum()):3d}  "
                f"max tree depth {int((stats['tree_depth'][c] >= 10).sum()):4d}  "
                f"means {_fmt(mu[c]).replace(chr(10), '')}"
                + (
                    ""
                    if beta is None
                    else f"  slopes {_fmt(beta[c]).replace(chr(10), '')}"
                )
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
