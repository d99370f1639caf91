"""stanli's time per log-density gradient of every program, on 1 and 2 threads.

Each program's example data (stan/<program>.data.json: observed,
left-censored and missing cells, covariates where it has them) repeated
down the rows to each size, at one random unconstrained point. Columns:
``grainsize`` 0 (the program's default, one chunk) on one thread, and
``grainsize`` N/8 on two threads. ``--stan-dir`` times another copy of the
programs (say an older checkout's ``stan/``) with the same data.

Run from the repository root on an idle machine:

    python bench/gradient_speed.py
    python bench/gradient_speed.py --stan-dir /tmp/old/stan --json old.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

CASES = (
    ("normal_diag", {}),
    ("student_t_diag", {}),
    ("regression", {}),
    ("regression", {"student_t": 1}),
    ("full_cov", {}),
    ("full_cov", {"student_t": 1}),
)


def ms_per_gradient(model, q: np.ndarray, seconds: float = 0.5) -> float:
    """Best of three timed batches of gradients, in milliseconds."""
    for _ in range(5):
        model.log_prob_grad(q)
    start = time.perf_counter()
    model.log_prob_grad(q)
    calls = max(10, int(seconds / max(time.perf_counter() - start, 1e-6)))
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(calls):
            model.log_prob_grad(q)
        best = min(best, (time.perf_counter() - start) / calls)
    return 1e3 * best


def measure(stan_dir: Path, program: str, flags: dict, copies: int) -> dict:
    import stanli

    source = stan_dir / f"{program}.stan"
    mir = stanli.stan_to_mir(source.read_text(), include_paths=[str(stan_dir)])
    from stanmix.programs import example_data

    data = dict(example_data(program, copies), **flags)
    times = thread_times(mir, data, (0, max(1, data["N"] // 8)), scale=0.3, seed=0)
    return {"program": program, **flags, "rows": data["N"], **times}


def thread_times(
    mir: str, data: dict, grainsizes: tuple[int, int], *, scale: float, seed: int
) -> dict:
    """ms per gradient on 1 and 2 threads (``grainsizes`` for each) at one
    point drawn normal(0, ``scale``) per unconstrained coordinate, and the
    speedup."""
    import stanli

    out = {}
    q = None
    for threads, grain in zip((1, 2), grainsizes, strict=True):
        model = stanli.Model(
            mir=mir, data=dict(data, grainsize=grain), threads_per_chain=threads
        )
        if q is None:
            rng = np.random.default_rng(seed)
            q = rng.normal(scale=scale, size=model.n_unconstrained)
        out[f"ms_{threads}"] = ms_per_gradient(model, q)
    out["speedup"] = out["ms_1"] / out["ms_2"]
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parents[1] / "stan"
    parser.add_argument("--stan-dir", type=Path, default=here)
    parser.add_argument("--copies", default="2,45", help="comma-separated")
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args(argv)
    rows = []
    for copies in (int(c) for c in args.copies.split(",")):
        for program, flags in CASES:
            row = measure(args.stan_dir, program, flags, copies)
            rows.append(row)
            label = program + (" (Student-t)" if flags else "")
            print(
                f"{label:28s} N={row['rows']:6d}  1 thread {row['ms_1']:8.3f} ms  "
                f"2 threads {row['ms_2']:8.3f} ms  {row['speedup']:.2f}x",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
