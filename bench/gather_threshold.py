"""Where gathering censored terms by slot beats counting them (stanli).

The diagonal programs add the censored cells' terms to their rows through
a counts matrix (a column per distinct limit) or, with more than 8 distinct
limits per censored column on average, by gathering each row's terms by
slot (one read per row and censored column). This script times both forms
on the same data: it copies the programs to a temporary folder twice, with
the rule forced each way, and prints the milliseconds per log-density
gradient (normal components, K = 3, best of 5 x 50 at a random point) for
N rows of C columns, 30% of the cells left-censored at one of L limits of
their column.

Run from the repository root on an idle machine:

    python bench/gather_threshold.py
    python bench/gather_threshold.py --rows 10000 --tables 2x5,20x10
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from stanmix.cells import LEFT, OBSERVED, CellTable, Standardization
from stanmix.engines._stanli import _jsonable
from stanmix.families import FAMILIES, Layout, Priors
from stanmix.programs import program_path

RULE = re.compile(r"n_distinct <= 8 \* size\(cens_columns\)")


def forced_programs(folder: Path) -> dict[str, Path]:
    """Copies of the programs with the rule forced to count and to gather."""
    source = program_path("normal_diag").parent
    out = {}
    for form, bound in (("counts", "1000000000"), ("gather", "0")):
        target = folder / form
        shutil.copytree(source, target)
        standata = target / "censored_list.standata"
        text, found = RULE.subn(
            f"n_distinct <= {bound} * size(cens_columns)", standata.read_text()
        )
        if found != 1:
            raise SystemExit("the rule in censored_list.standata has changed")
        standata.write_text(text)
        out[form] = target / "normal_diag.stan"
    return out


def table(rows: int, columns: int, limits: int, seed: int = 5) -> CellTable:
    rng = np.random.default_rng(seed)
    values = rng.normal(0.0, 2.0, (rows, columns))
    kind = np.where(rng.random((rows, columns)) < 0.3, LEFT, OBSERVED)
    grid = rng.uniform(-2, 2, (limits, columns))
    chosen = grid[rng.integers(0, limits, (rows, columns)), np.arange(columns)]
    upper = np.where(kind == LEFT, chosen, np.nan)
    return CellTable(
        np.where(kind == OBSERVED, values, np.nan),
        kind.astype(np.int8),
        np.full((rows, columns), np.nan),
        upper,
    )


def gradient_ms(stan_file: Path, cells: CellTable, k: int = 3) -> float:
    import stanli

    family = FAMILIES["normal", "diag"]()
    d = cells.n_dims
    rng = np.random.default_rng(1)
    start = family.start(rng.normal(size=(k, d)), np.ones((k, d)), np.full(k, 1 / k))
    units = Standardization(np.zeros(d), np.ones(d))
    data = family.stan_data(cells, k, Layout(0, True), Priors(), start, units)
    mir = stanli.stan_to_mir(
        stan_file.read_text(), include_paths=[str(stan_file.parent)]
    )
    model = stanli.Model(mir=mir, data=_jsonable(data))
    point = np.random.default_rng(0).normal(scale=0.3, size=model.n_unconstrained)
    for _ in range(20):
        model.log_prob_grad(point)
    best = float("inf")
    for _ in range(5):
        begin = time.perf_counter()
        for _ in range(50):
            model.log_prob_grad(point)
        best = min(best, (time.perf_counter() - begin) / 50 * 1000)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument(
        "--tables",
        default="2x3,2x5,2x10,5x5,5x10,20x5,20x10,20x20",
        help="CxL: C columns with L limits each, commas",
    )
    args = parser.parse_args()
    print(f"{args.rows} rows; ms per gradient")
    print(f"{'columns':>8} {'limits/col':>10} {'counts':>8} {'gather':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        programs = forced_programs(Path(tmp))
        for item in args.tables.split(","):
            columns, limits = (int(v) for v in item.split("x"))
            cells = table(args.rows, columns, limits)
            counts = gradient_ms(programs["counts"], cells)
            gather = gradient_ms(programs["gather"], cells)
            print(f"{columns:>8} {limits:>10} {counts:>8.3f} {gather:>8.3f}")


if __name__ == "__main__":
    main()
