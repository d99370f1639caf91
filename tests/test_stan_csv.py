"""Direct CmdStan runs: Stan CSV output read back into a fitted estimator.

Every example data file is run through the embedded engine, written out in
the Stan CSV layout CmdStan uses, and read back with ``from_cmdstan_csv``.
With CmdStan installed, the programs are also compiled and run directly,
with the README's commands.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import needs_cmdstan

import stanmix as sm
from stanmix import likelihood
from stanmix.cells import CellTable
from stanmix.censoring import cell_table
from stanmix.engines import STAT_NAMES, get_engine
from stanmix.families import family_from_stan_data
from stanmix.families.full import latent_cells
from stanmix.programs import PROGRAMS, example_data_path, program_path, stan_dir

# Sampler columns by their ArviZ names, back to Stan CSV names.
_STATS = {arviz: stan for stan, arviz in STAT_NAMES.items()}


def _columns(name: str, arr: np.ndarray):
    """Stan CSV columns of one variable: dotted indices, first index fastest."""
    shape = arr.shape[2:]
    if not shape:
        yield name, arr
        return
    for index in itertools.product(*(range(n) for n in reversed(shape))):
        index = index[::-1]
        label = ".".join(str(i + 1) for i in index)
        yield f"{name}.{label}", arr[(slice(None), slice(None), *index)]


def write_stan_csv(
    result, folder: Path, stem: str, *, warmup_rows: int = 0, max_depth: int = 10
):
    """Write an engine result as CmdStan's per-chain sample CSV files."""
    columns = [(_STATS[k], v) for k, v in result.sample_stats.items() if k in _STATS]
    for name, arr in result.variables.items():
        columns.extend(_columns(name, arr))
    header = ",".join(name for name, _ in columns)
    table = np.stack([np.asarray(v, dtype=float) for _, v in columns], axis=-1)
    paths = []
    for chain in range(table.shape[0]):
        path = folder / f"{stem}_{chain + 1}.csv"
        rows = table[chain]
        if warmup_rows:
            rows = np.concatenate([np.full((warmup_rows, rows.shape[1]), 99.0), rows])
        lines = [
            "# stan_version_major = 2",
            "# stan_version_minor = 37",
            "# stan_version_patch = 0",
            f"# model = {stem}_model",
            "# method = sample (Default)",
            "#   sample",
            f"#     num_samples = {table.shape[1]}",
            f"#     num_warmup = {warmup_rows or 1000}",
            f"#     save_warmup = {'true' if warmup_rows else 'false'}",
            "#     thin = 1 (Default)",
            "#     algorithm = hmc (Default)",
            "#       hmc",
            "#         engine = nuts (Default)",
            "#           nuts",
            f"#             max_depth = {max_depth}",
            f"# id = {chain + 1}",
            "# random",
            "#   seed = 4321",
            header,
        ]
        body = [",".join(f"{x:.9g}" for x in row) for row in rows]
        cut = warmup_rows
        lines += body[:cut]
        lines += [
            "# Adaptation terminated",
            "# Step size = 0.42",
            "# Diagonal elements of inverse mass matrix:",
            "# 1, 1",
        ]
        lines += body[cut:]
        lines += ["# ", "#  Elapsed Time: 0.1 seconds (Warm-up)", "# "]
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


@pytest.fixture(scope="module", params=PROGRAMS)
def example_run(request, tmp_path_factory):
    """Each program on its example data, through the embedded engine."""
    name = request.param
    data = json.loads(example_data_path(name).read_text())
    init = json.loads((stan_dir() / f"{name}.init.json").read_text())
    result = get_engine("stanli").sample(
        program_path(name),
        data,
        chains=2,
        warmup=300,
        draws=300,
        seed=5,
        inits=[init, init],
    )
    folder = tmp_path_factory.mktemp(name)
    return name, data, result, write_stan_csv(result, folder, name)


def test_example_data_runs_and_reads_back(example_run):
    name, data, result, paths = example_run
    model = sm.from_cmdstan_csv(paths, example_data_path(name))
    assert isinstance(model, sm.Mixture)
    assert model.family_.program == name
    assert model.engine_ == "cmdstan" and model.engine_version_ == "2.37.0"
    params = model.param_draws("posterior_raw")
    for var in ("w", "mu", "sigma"):
        np.testing.assert_allclose(
            params[var],
            result.variables[var].reshape(params[var].shape),
            rtol=1e-7,
            atol=1e-9,
        )
    # Latent values of censored cells (full_cov) are not model parameters.
    assert "y_latent" not in model.idata_.posterior
    assert model.idata_.posterior["mu"].shape[:2] == (2, 300)
    assert model.idata_.sample_stats["diverging"].dtype == bool
    summary = model.summary()
    assert np.isfinite(summary["mean"]).all()
    # The example data are well separated: one mode, relabelled or not.
    assert summary["r_hat"].max() <= 1.05
    assert len(model.membership()) == data["N"] * data["K"]


def test_sampler_checks_read_the_files_maximum_tree_depth(example_run, tmp_path):
    """The tree depth limit comes from the file's header (``max_depth``):
    written as 2, every draw at depth 2 or more counts as stopped there."""
    name, _, result, _ = example_run
    paths = write_stan_csv(result, tmp_path, name, max_depth=2)
    with pytest.warns(sm.ConvergenceWarning, match="at the maximum tree depth 2"):
        model = sm.from_cmdstan_csv(paths, example_data_path(name))
    check = model.convergence_
    depth = np.asarray(result.sample_stats["tree_depth"])
    assert check.max_treedepth == 2
    assert check.treedepth_hits == int((depth >= 2).sum()) > 0
    assert check.transitions == depth.size
    assert check.divergences == int(np.sum(result.sample_stats["diverging"]))
    assert len(check.bfmi) == 2


def test_cells_rebuilt_from_data_give_the_programs_membership(example_run):
    """Censored and missing cells are read back exactly: the Python-side
    membership of the raw draws equals the program's generated quantities
    (for the full-covariance program, whose generated quantities use the
    draws' latent values, that holds on the rows without latent values)."""
    name, data, result, paths = example_run
    model = sm.from_cmdstan_csv(paths, example_data_path(name), relabel=None)
    kinds = model.idata_.constant_data["cell_kind"].to_numpy()
    assert (kinds == "left").sum() == data["n_left"] > 0
    assert (kinds == "missing").sum() > 0 or name == "student_t_diag"
    ours = likelihood.membership_draws(
        model.family_, model.cells_, model.param_draws("posterior_raw")
    )
    theirs = np.exp(result.variables["membership_log_prob"]).reshape(ours.shape)
    rows = np.arange(data["N"])
    if model.family_.censoring == "latent":
        rows = np.setdiff1d(rows, latent_cells(model.cells_)[0])
    np.testing.assert_allclose(ours[:, rows], theirs[:, rows], atol=1e-8)


def test_every_cell_kind_survives_the_stan_data_round_trip():
    X = pd.DataFrame({"a": [1.0, 0.2, np.nan, 5.0], "b": [2.0, 9.0, 1.0, 0.0]})
    interval = (np.full(X.shape, np.nan), np.full(X.shape, np.nan))
    interval[0][3, 1], interval[1][3, 1] = -1.0, 1.0
    cells, _ = cell_table(
        X, lower_limit={"a": 0.2}, upper_limit={"b": 9.0}, interval=interval
    )
    assert set(np.unique(cells.kind)) == {0, 1, 2, 3, 4}
    back = CellTable.from_stan(cells.to_stan(), columns=cells.columns)
    for field in ("values", "kind", "lower", "upper"):
        np.testing.assert_array_equal(getattr(back, field), getattr(cells, field))
    assert back.columns == ("a", "b")


def test_saved_warmup_rows_are_dropped(example_run, tmp_path):
    name, _, result, _ = example_run
    paths = write_stan_csv(result, tmp_path, name, warmup_rows=25)
    model = sm.from_cmdstan_csv(paths, example_data_path(name), relabel=None)
    np.testing.assert_allclose(
        model.idata_.posterior["w"].to_numpy(), result.variables["w"], rtol=1e-7
    )


def test_bad_csv_input_is_refused(example_run, tmp_path):
    _, data, _, paths = example_run
    with pytest.raises(sm.StanmixInputError, match="does not exist"):
        sm.from_cmdstan_csv([tmp_path / "nope.csv"], data)
    optimize = tmp_path / "opt.csv"
    optimize.write_text("# method = optimize\nlp__,w.1\n1,1\n")
    with pytest.raises(sm.StanmixInputError, match="method is 'optimize'"):
        sm.from_cmdstan_csv([optimize], data)
    with pytest.raises(sm.StanmixInputError, match="K = 7"):
        sm.from_cmdstan_csv(paths, {**data, "K": 7})
    with pytest.raises(sm.StanmixInputError, match="N = 20"):
        fewer = {
            **data,
            "N": 20,
            "y": data["y"][:20],
            "observed": data["observed"][:20],
        }
        if "X" in data:  # covariates (regression.stan) have one row per row
            fewer["X"] = data["X"][:20]
        for label in ("left", "right", "interval"):
            keep = [i for i, r in enumerate(data[f"{label}_row"]) if r <= 20]
            fewer[f"n_{label}"] = len(keep)
            for key in [k for k in data if k.startswith(label + "_")]:
                fewer[key] = [data[key][i] for i in keep]
        sm.from_cmdstan_csv(paths, fewer)
    with pytest.raises(sm.StanmixInputError, match="is a folder"):
        sm.from_cmdstan_csv(paths, tmp_path)
    with pytest.raises(sm.StanmixInputError, match="no entry 'y'"):
        sm.from_cmdstan_csv(paths, {k: v for k, v in data.items() if k != "y"})
    short = tmp_path / "short.csv"
    text = paths[1].read_text().splitlines()
    short.write_text("\n".join(text[:-10]) + "\n")
    with pytest.raises(sm.StanmixInputError, match=r"short\.csv holds 293 rows of"):
        sm.from_cmdstan_csv([paths[0], short], data)
    # Without the run's settings, the chains' lengths still have to agree.
    unset = []
    for path in (paths[0], short):
        unset.append(tmp_path / f"unset_{path.name}")
        lines = path.read_text().splitlines()
        unset[-1].write_text("\n".join(x for x in lines if "num_samples" not in x))
    with pytest.raises(
        sm.StanmixInputError, match=r"different numbers of draws \(unset_\S+ 300, "
    ):
        sm.from_cmdstan_csv(unset, data)
    with pytest.raises(sm.StanmixInputError, match="not valid JSON"):
        bad = tmp_path / "bad.json"
        bad.write_text("{")
        sm.from_cmdstan_csv(paths, bad)


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.slow
@pytest.mark.parametrize("name", PROGRAMS)
def test_program_runs_directly_under_cmdstan(name, tmp_path):
    """The README's commands: build the program in CmdStan's tree, run it on
    its example data, and read the output with stanmix."""
    import cmdstanpy

    cmdstan = Path(cmdstanpy.cmdstan_path())
    folder = tmp_path / "stanmix"
    shutil.copytree(stan_dir(), folder)
    exe = folder / name
    subprocess.run(
        ["make", f"STANCFLAGS=--include-paths={folder}", str(exe)],
        cwd=cmdstan,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            str(exe),
            "sample",
            "num_chains=4",
            "random",
            "seed=4321",
            "data",
            f"file={name}.data.json",
            f"init={name}.init.json",
            "output",
            f"file={name}.csv",
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    paths = sorted(folder.glob(f"{name}_*.csv"))
    assert len(paths) == 4
    model = sm.from_cmdstan_csv(paths, folder / f"{name}.data.json")
    data = json.loads((folder / f"{name}.data.json").read_text())
    assert type(model.family_) is type(family_from_stan_data(name, data))
    assert model.summary()["r_hat"].max() <= 1.01
    assert not model.label_switching_.chains_in_different_modes


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """A short run of normal_diag.stan on its example data, as CmdStan's
    files: the valid base that the damaged files below start from."""
    data = json.loads(example_data_path("normal_diag").read_text())
    init = json.loads((stan_dir() / "normal_diag.init.json").read_text())
    result = get_engine("stanli").sample(
        program_path("normal_diag"),
        data,
        chains=2,
        warmup=100,
        draws=20,
        seed=5,
        inits=[init, init],
    )
    folder = tmp_path_factory.mktemp("short_run")
    return data, write_stan_csv(result, folder, "normal_diag")


def _layout(path: Path) -> tuple[int, list[int]]:
    """File lines (1-based) of the header row and of the draws."""
    lines = path.read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    rows = [i + 1 for i, line in enumerate(lines) if i > header and line[0] != "#"]
    return header + 1, rows


def _edited(path: Path, folder: Path, name: str, edit) -> Path:
    """A copy of ``path`` whose lines went through ``edit``."""
    out = folder / name
    out.write_text("\n".join(edit(path.read_text().splitlines())) + "\n")
    return out


def test_damaged_csv_files_are_refused_naming_file_and_line(short_run, tmp_path):
    data, (good, other) = short_run
    header, rows = _layout(good)
    n_columns = len(good.read_text().splitlines()[header - 1].split(","))
    first, last = rows[0], rows[-1]

    def refused(paths, *fragments):
        with pytest.raises(sm.StanmixInputError) as info:
            sm.from_cmdstan_csv(paths, data)
        for fragment in fragments:
            assert fragment in str(info.value)

    garbage = tmp_path / "garbage.csv"
    garbage.write_text("hello, world\nthis is not,a Stan file\n")
    refused([good, garbage], "garbage.csv is not a Stan CSV file")

    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    refused([binary], "image.csv is not a text file: line 1 holds bytes")
    nul = tmp_path / "nul.csv"
    nul.write_bytes(b"# method = sample\n\x00\x00\n")
    refused([nul], "nul.csv is not a text file: line 2 holds a NUL byte")

    def cut_mid_row(lines):
        return [*lines[: last - 1], lines[last - 1][:25]]

    refused(
        [good, _edited(good, tmp_path, "cut.csv", cut_mid_row)],
        f"cut.csv line {last} has ",
        f"values but the header (line {header}) names {n_columns} columns",
    )
    short = _edited(good, tmp_path, "short.csv", lambda lines: lines[: last - 5])
    refused(
        [good, short],
        f"short.csv holds {len(rows) - 5} rows of draws but its run was set for "
        f"{len(rows)}",
        "the file is cut short",
    )
    refused(
        [_edited(good, tmp_path, "twice.csv", lambda lines: lines + lines[first:])],
        "twice.csv holds",
        "more than one run's draws",
    )
    refused(
        [_edited(good, tmp_path, "head.csv", lambda lines: lines[:5])],
        "head.csv ends at line 5 before its header row of column names",
    )
    refused(
        [_edited(good, tmp_path, "empty.csv", lambda lines: lines[:header])],
        f"empty.csv holds no draws after its header (line {header})",
    )

    def text_in_row(lines):
        fields = lines[first].split(",")
        fields[8] = "abc"
        return [*lines[:first], ",".join(fields), *lines[first + 1 :]]

    column = good.read_text().splitlines()[header - 1].split(",")[8]
    refused(
        [good, _edited(good, tmp_path, "text.csv", text_in_row)],
        f"text.csv line {first + 1}, column {column!r}: 'abc' is not a number",
    )

    def no_lp(lines):
        return [*lines[: header - 1], lines[header - 1].replace("lp__", "lp")]

    refused(
        [_edited(good, tmp_path, "nolp.csv", no_lp)],
        f"nolp.csv line {header}: the header row has no lp__ column",
    )

    def gap_in_names(lines):
        names = lines[header - 1].replace("mu.2.1,", "mu.9.9,")
        return [*lines[: header - 1], names, *lines[header:]]

    refused(
        [_edited(good, tmp_path, "names.csv", gap_in_names)],
        f"names.csv line {header}: the columns of 'mu' do not name each element",
    )

    def without(pattern):
        """Columns matching ``pattern`` cut from the header and every row."""

        def edit(lines):
            names = lines[header - 1].split(",")
            keep = [i for i, n in enumerate(names) if not re.fullmatch(pattern, n)]
            return [
                line
                if line.startswith("#")
                else ",".join(line.split(",")[i] for i in keep)
                for line in lines
            ]

        return edit

    # one column of each scale pair cut: sigma would shrink to K x 1
    refused(
        [_edited(good, tmp_path, "half.csv", without(r"sigma\.\d+\.2"))],
        f"half.csv line {header}: the columns of 'sigma' make an array of shape "
        f"(5, 1), but normal_diag.stan writes (5, 2) for this data",
    )
    refused(
        [_edited(good, tmp_path, "nosigma.csv", without(r"sigma\..*"))],
        f"nosigma.csv line {header}: the header has no column of 'sigma', which "
        "normal_diag.stan writes for this data (shape (5, 2))",
    )
    refused(
        [_edited(good, tmp_path, "onemu.csv", without(r"mu\.3\.2"))],
        f"onemu.csv line {header}: the columns of 'mu' do not name each element",
        "mu[3,2] missing (a column was dropped?)",
    )
    refused([good, other, good], "is given twice: each file is one chain")
    refused([good, tmp_path], f"CmdStan output file {str(tmp_path)!r} is a folder")
    refused(123, "csv_files must be the path of a Stan CSV file or a list of them")
    # The undamaged files read; 20 draws a chain are too few to trust.
    with pytest.warns(sm.ConvergenceWarning, match="have not converged") as record:
        model = sm.from_cmdstan_csv([good, other], data)
    assert model.idata_.posterior.sizes["draw"] == 20
    assert record[0].filename == __file__


def test_a_cmdstan_seed_beyond_stanmixs_range_is_kept_and_reported(short_run, tmp_path):
    """CmdStan's seeds are unsigned 32-bit (its clock-based default often is
    above 2**31 - 1): the fit keeps the run's seed, and the report, which
    draws its replicates from it, still renders."""
    data, paths = short_run

    def big_seed(lines):
        return [line.replace("seed = 4321", "seed = 3000000000") for line in lines]

    edited = [_edited(p, tmp_path, p.name, big_seed) for p in paths]
    with pytest.warns(sm.ConvergenceWarning):
        model = sm.from_cmdstan_csv(edited, data)
    assert model.seed_ == 3_000_000_000
    page = sm.report.render_report(model)
    assert "<td>3000000000</td>" in page.replace(" ", "")


def test_bad_data_files_are_refused_naming_the_file(short_run, tmp_path):
    data, paths = short_run

    def refused(given, *fragments):
        with pytest.raises(sm.StanmixInputError) as info:
            sm.from_cmdstan_csv(paths, given)
        for fragment in fragments:
            assert fragment in str(info.value)

    def written(name, content):
        path = tmp_path / name
        path.write_text(json.dumps(content))
        return path

    refused(
        written("no_y.json", {k: v for k, v in data.items() if k != "y"}),
        "no_y.json: the data has no entry 'y'",
    )
    refused(
        written("fewer.json", {**data, "N": 20}),
        "fewer.json: the data's y or observed entry does not hold N x D = 20 x 2",
    )
    refused(
        written("other_k.json", {**data, "K": 3}),
        "other_k.json: the CSV files hold draws with 5 components",
    )
    refused(
        written("bad_k.json", {**data, "K": "five"}),
        "bad_k.json: the data's K must be an integer, got 'five'",
    )
    refused(
        written("bad_flag.json", {**data, "spherical": "no"}),
        "bad_flag.json: the data's spherical must be an integer, got 'no'",
    )
    refused(
        written("other_flag.json", {**data, "spherical": 1}),
        "other_flag.json: the data's spherical = 1 but its sigma_loc has 2 entries",
    )
    refused(
        written("ordered.json", {**data, "ordered_means": "yes"}),
        "ordered.json: the data's ordered_means must be an integer, got 'yes'",
    )
    refused(
        written("ordered2.json", {**data, "ordered_means": 2}),
        "ordered2.json: the data's ordered_means must be 0 or 1, got 2",
    )
    refused(
        written("anchor.json", {**data, "anchor": 3}),
        "anchor.json: the data's anchor is 3 but D = 2 (the anchor is a column",
    )
    with pytest.raises(sm.StanmixInputError, match="columns names 'a' twice"):
        sm.from_cmdstan_csv(paths, data, columns=["a", "a"])
    broken = tmp_path / "broken.json"
    broken.write_text('{"N": 200,\n "K": }')
    refused(broken, "broken.json is not valid JSON: Expecting value at line 2")
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe{}")
    refused(binary, "binary.json is not a text file: line 1")
    refused(tmp_path, f"data file {str(tmp_path)!r} is a folder, not a file")
    refused(["y.json"], "data must be the data's dictionary or the path")
