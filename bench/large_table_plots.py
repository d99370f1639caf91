"""Time, peak memory and file size of the plots of a fit to a large table.

Fits a diagonal mixture (K = 4, by the posterior mode) to the flow-like
table of ``bench/pair_rows_cost.py`` (six columns, 20% of two columns at a
detection limit, 5% missing) at ``--rows`` rows, pickles it, and then, each
in a fresh process so that its peak memory is its own, draws
``plot_ppc(model)`` (the default replicates) and ``plot_clusters(model)``
saved as SVG, printing seconds, peak RSS and the SVG's size.

    python bench/large_table_plots.py --rows 200000
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pair_rows_cost import flow_like


def draw(path: str, which: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from stanmix import plots

    with open(path, "rb") as f:
        model = pickle.load(f)
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    extra = ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if which == "ppc":
            plots.plot_ppc(model)
        else:
            figure = plots.plot_clusters(model).figure
            svg = Path(path).with_suffix(".svg")
            figure.savefig(svg)
            extra = f", SVG {svg.stat().st_size / 2**20:.1f} MB"
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{which}: {seconds:.1f} s, peak RSS {peak:.0f} MB "
        f"({loaded:.0f} MB with the model loaded){extra}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--draw", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.draw:
        draw(*args.draw)
        return
    import stanmix as sm

    frame, limits = flow_like(args.rows)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.Mixture(4, engine="stanli").fit(
            frame, method="optimize", seed=1, lower_limit=limits
        )
    print(f"fit: {args.rows:,} rows in {time.perf_counter() - start:.1f} s")
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.pkl")
        with open(path, "wb") as f:
            pickle.dump(model, f)
        for which in ("ppc", "clusters"):
            subprocess.run(
                [sys.executable, __file__, "--draw", path, which], check=True
            )


if __name__ == "__main__":
    main()
