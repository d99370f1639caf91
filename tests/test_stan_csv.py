"""Direct CmdStan runs: Stan CSV output read back into a fitted estimator.

Every example data file is run through the embedded engine, written out in
the Stan CSV layout CmdStan uses, and read back with ``from_cmdstan_csv``.
With CmdStan installed, the programs are also compiled and run directly,
with the README's commands.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import RecordingEngine, Stop, needs_cmdstan

import stanmix as sm
from stanmix import likelihood
from stanmix.cells import CellTable, Standardization
from stanmix.censoring import cell_table
from stanmix.engines import STAT_NAMES, get_engine
from stanmix.families import family_from_stan_data
from stanmix.families.full import latent_cells
from stanmix.programs import PROGRAMS, example_data_path, program_path, stan_dir
from stanmix.stan_csv import _cells_of_run, _regression_of_run

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
    result,
    folder: Path,
    stem: str,
    *,
    warmup_rows: int = 0,
    max_depth: int = 10,
    digits: int | None = None,
    engaged: int = 1,
):
    """Write an engine result as CmdStan's per-chain sample CSV files, its
    values to ``digits`` significant digits (CmdStan's default 6 when None,
    and 9 written here so that the examples compare exactly)."""
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
            "#     adapt",
            f"#       engaged = {engaged}{' (Default)' if engaged else ''}",
            "#     algorithm = hmc (Default)",
            "#       hmc",
            "#         engine = nuts (Default)",
            "#           nuts",
            f"#             max_depth = {max_depth}",
            f"# id = {chain + 1}",
            "# random",
            "#   seed = 4321",
            "# output",
            f"#   sig_figs = {digits if digits else -1}",
            header,
        ]
        body = [",".join(f"{x:.{digits or 9}g}" for x in row) for row in rows]
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
    if name == "regression":  # the response is not named as a covariate
        assert model.cells_.columns == ("y",)
        assert "y" not in model.cells_.covariate_names
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
    with pytest.warns(
        sm.ConvergenceWarning, match="at the maximum tree depth 2"
    ) as seen:
        model = sm.from_cmdstan_csv(paths, example_data_path(name))
    # the advice names CmdStan's argument, not fit's keyword
    (message,) = [str(w.message) for w in seen if "tree depth" in str(w.message)]
    assert "raise max_depth= if" in message and "max_treedepth" not in message
    check = model.convergence_
    depth = np.asarray(result.sample_stats["tree_depth"])
    assert check.max_treedepth == 2
    assert check.treedepth_hits == int((depth >= 2).sum()) > 0
    assert check.transitions == depth.size
    assert check.divergences == int(np.sum(result.sample_stats["diverging"]))
    assert len(check.bfmi) == 2


def test_divergence_advice_follows_the_files_adaptation_setting(example_run, tmp_path):
    """A run with ``adapt engaged=0`` (read from the header) and divergent
    transitions is told to give a smaller ``stepsize=``, in CmdStan's
    arguments; with adaptation on, to raise ``adapt delta=``."""
    name, _, result, _ = example_run
    diverging = np.zeros_like(np.asarray(result.sample_stats["diverging"]), bool)
    diverging[:, :5] = True
    stats = {**result.sample_stats, "diverging": diverging}
    bent = dataclasses.replace(result, sample_stats=stats)
    for engaged, wanted in (
        (0, "give a smaller stepsize= (adapt engaged=0 "),
        (1, "raise adapt delta= (say to 0.99"),
    ):
        folder = tmp_path / str(engaged)
        folder.mkdir()
        paths = write_stan_csv(bent, folder, name, engaged=engaged)
        with pytest.warns(sm.ConvergenceWarning, match="10 of 600 transitions") as seen:
            model = sm.from_cmdstan_csv(paths, example_data_path(name))
        (message,) = [str(w.message) for w in seen if "divergent" in str(w.message)]
        assert wanted in message
        for keyword in ("step_size=", "adapt_engaged", "adapt_delta", "draws="):
            assert keyword not in message
        assert model.convergence_.adapt_engaged is bool(engaged)


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
        rows = np.setdiff1d(
            rows, latent_cells(model.cells_, model.family_.student_t)[0]
        )
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
        kept = [x for x in lines if "num_samples" not in x]
        unset[-1].write_text("\n".join(kept) + "\n")
    with pytest.raises(
        sm.StanmixInputError, match=r"different numbers of draws \(unset_\S+ 300, "
    ):
        sm.from_cmdstan_csv(unset, data)
    # ... also when the files share a name in different folders (a chain per
    # folder): each is then named by its path
    same = []
    for i, path in enumerate(unset):
        (tmp_path / f"run{i}").mkdir()
        same.append(tmp_path / f"run{i}" / "out.csv")
        same[-1].write_text(path.read_text())
    with pytest.raises(
        sm.StanmixInputError, match=r"different numbers of draws \(\S+run0/out\.csv 300"
    ):
        sm.from_cmdstan_csv(same, data)
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
    folder = tmp_path_factory.mktemp("short_run")
    return data, write_stan_csv(_short_sample(data, init), folder, "normal_diag")


def _short_sample(data: dict, init: dict):
    """Two short chains of normal_diag.stan on ``data`` from ``init``."""
    return get_engine("stanli").sample(
        program_path("normal_diag"),
        data,
        chains=2,
        warmup=100,
        draws=20,
        seed=5,
        inits=[init, init],
    )


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
        "fewer.json: the run's log_lik has 200 rows but the data file has N = 20",
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
        "other_flag.json: the data's sigma_loc has 2 entries, but normal_diag.stan "
        "declares vector<lower=0>[spherical ? 1 : D] sigma_loc: 1 entry with "
        "spherical = 1, D = 2",
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
        "anchor.json: the data's anchor must be from 1 to D = 2, got 3",
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


def _refused(paths, data, *fragments) -> str:
    """The message of ``from_cmdstan_csv``'s refusal, holding ``fragments``."""
    with pytest.raises(sm.StanmixInputError) as info:
        sm.from_cmdstan_csv(paths, data)
    for fragment in fragments:
        assert fragment in str(info.value)
    return str(info.value)


def test_a_data_file_with_another_anchor_is_refused(short_run):
    """The run ordered its means on column 2 (mu_anchor_ordered is mu[:, 2]):
    a data file saying anchor = 1 would relabel on the wrong column."""
    data, paths = short_run
    assert data["anchor"] == 2
    _refused(
        paths,
        {**data, "anchor": 1},
        "the data's anchor = 1 but the run's mu_anchor_ordered are the means of "
        "column 2 (a run with anchor = 2)",
        "give the data file the run used",
    )
    _refused(
        paths,
        {**data, "ordered_means": 0},
        "the data's ordered_means = 0 but the run wrote mu_anchor_ordered",
    )


def test_a_data_file_with_other_values_is_refused(short_run, tmp_path):
    """Right shapes, other values: the log-likelihood recomputed from the data
    differs from the run's own log_lik, and its memberships from
    membership_log_prob."""
    data, paths = short_run
    shifted = tmp_path / "shifted.json"
    shifted.write_text(
        json.dumps({**data, "y": [[a + 5, b + 5] for a, b in data["y"]]})
    )
    _refused(
        paths,
        shifted,
        "shifted.json does not match the run that wrote the draws: its "
        "log-likelihood of row 1 recomputed from the data is",
        "but normal_diag_1.csv holds log_lik[1] = ",
    )
    # Without log_lik, the memberships show it.
    header, _ = _layout(paths[0])

    def no_log_lik(lines):
        names = lines[header - 1].split(",")
        keep = [i for i, n in enumerate(names) if not n.startswith("log_lik.")]
        return [
            x if x.startswith("#") else ",".join(x.split(",")[i] for i in keep)
            for x in lines
        ]

    edited = [_edited(p, tmp_path, p.name, no_log_lik) for p in paths]
    _refused(
        edited,
        {**data, "y": [[a + 5, b + 5] for a, b in data["y"]]},
        "the data does not match the run that wrote the draws: its membership "
        "probability of row 1",
        "membership_log_prob[1, ",
    )


def test_chains_run_on_different_data_are_refused(short_run, tmp_path):
    """Chains whose headers name different data files, or (without that
    header line) whose log_lik the data give for one chain only."""
    data, paths = short_run

    def run_on(name):
        def edit(lines):
            at = next(i for i, x in enumerate(lines) if x.startswith("# random"))
            return [*lines[:at], "# data", f"#   file = {name}", *lines[at:]]

        return edit

    first = _edited(paths[0], tmp_path, "a_1.csv", run_on("one.data.json"))
    second = _edited(paths[1], tmp_path, "a_2.csv", run_on("two.data.json"))
    _refused(
        [first, second],
        data,
        "a_2.csv was run on the data file 'two.data.json' but a_1.csv on "
        "'one.data.json'",
        "give the files of one run",
    )
    # files of one name in two folders are named by their paths
    (tmp_path / "r1").mkdir()
    (tmp_path / "r2").mkdir()
    one = _edited(paths[0], tmp_path / "r1", "out_1.csv", run_on("one.data.json"))
    two = _edited(paths[1], tmp_path / "r2", "out_1.csv", run_on("two.data.json"))
    _refused(
        [one, two],
        data,
        f"{two} was run on the data file 'two.data.json' but {one} on 'one.data.json'",
    )
    header = _layout(paths[1])[0]

    def renamed(lines):
        out = list(lines)
        out[header - 1] = out[header - 1].replace("accept_stat__", "accept__", 1)
        return out

    three = _edited(paths[1], tmp_path / "r2", "out_1.csv", renamed)
    _refused([one, three], data, f"{three} has other columns than {one}")
    same = _edited(paths[1], tmp_path, "b_2.csv", run_on("one.data.json"))
    with pytest.warns(sm.ConvergenceWarning):
        sm.from_cmdstan_csv([first, same], data)
    # the same file named by another path (relative here, absolute there)
    elsewhere = _edited(paths[1], tmp_path, "d_2.csv", run_on("/runs/one.data.json"))
    with pytest.warns(sm.ConvergenceWarning):
        sm.from_cmdstan_csv([first, elsewhere], data)
    header, rows = _layout(paths[1])
    names = paths[1].read_text().splitlines()[header - 1].split(",")
    at = [i for i, n in enumerate(names) if n.startswith("log_lik.")]

    def other_log_lik(lines):
        out = list(lines)
        for number in rows:
            fields = out[number - 1].split(",")
            for i in at:
                fields[i] = f"{float(fields[i]) - 3:.9g}"
            out[number - 1] = ",".join(fields)
        return out

    _refused(
        [paths[0], _edited(paths[1], tmp_path, "c_2.csv", other_log_lik)],
        data,
        "c_2.csv does not match the data, though normal_diag_1.csv does",
        "the chains were run on different data",
    )


def test_a_file_cut_inside_its_last_value_is_refused(short_run, tmp_path):
    data, (good, _) = short_run
    _, rows = _layout(good)
    lines = good.read_text().splitlines()
    last = rows[-1]
    cut = tmp_path / "cut.csv"
    cut.write_text("\n".join([*lines[: last - 1], lines[last - 1][:-3]]))
    _refused(
        [good, cut],
        data,
        f"cut.csv line {last} is cut short: the file ends inside it, without a newline",
    )


def test_data_entries_are_checked_against_the_programs_declarations(short_run):
    """Sizes, integers and bounds of the data block, as CmdStan checks them."""
    data, paths = short_run
    first = data["left_row"]
    for value in (0, -3):
        _refused(
            paths,
            {**data, "left_row": [value, *first[1:]]},
            f"the data's left_row[1] must be from 1 to N = 200, got {value}; "
            "normal_diag.stan declares array[n_left] int<lower=1, upper=N> left_row",
        )
    _refused(
        paths,
        {**data, "n_left": 39},
        "the data's left_row has 40 entries, but normal_diag.stan declares "
        "array[n_left] int<lower=1, upper=N> left_row: 39 entries with n_left = 39",
    )
    observed = [list(row) for row in data["observed"]]
    observed[4][1] = 2
    _refused(
        paths,
        {**data, "observed": observed},
        "the data's observed[5, 2] must be from 0 to 1, got 2",
    )
    _refused(
        paths,
        {**data, "alpha": [3.0, 3.0]},
        "the data's alpha has 2 entries, but normal_diag.stan declares "
        "vector<lower=0>[K] alpha: 5 entries with K = 5",
    )
    _refused(
        paths,
        {**data, "left_col": [1.5, *data["left_col"][1:]]},
        "the data's left_col[1] must be an integer, got 1.5",
    )


@pytest.mark.parametrize("name", PROGRAMS)
def test_every_data_entry_of_the_programs_is_read(name):
    """The declarations read from each program's data block (includes
    resolved) are the entries of its example data."""
    from stanmix.stan_data import _declarations

    data = json.loads(example_data_path(name).read_text())
    assert sorted(d.name for d in _declarations(name)) == sorted(data)


def test_the_per_dimension_flag_must_match_the_draws(short_run):
    """independent_dims = 1 writes no memberships, but the run did."""
    data, paths = short_run
    _refused(
        paths,
        {**data, "independent_dims": 1, "compute_membership": 0},
        "the data's independent_dims = 1 but the CSV files hold "
        "membership_log_prob, which normal_diag.stan writes only for joint "
        "components",
    )


def test_data_without_an_entry_the_program_reads_is_refused(short_run):
    """CmdStan refuses data lacking a single-number entry of the program;
    draws read with such data are not that run's (full_cov's draws read
    with normal_diag's data lacked tied, student_t, ...)."""
    data, paths = short_run
    _refused(
        paths,
        {k: v for k, v in data.items() if k != "pivot"},
        "the data has no entry 'pivot', which normal_diag.stan reads",
    )


def test_student_t_draws_read_with_normal_data_are_refused(tmp_path):
    """full_cov.stan writes nu only for student_t = 1: read with the same
    data saying student_t = 0, the draws would be taken for normal
    components and nu dropped."""
    data = json.loads(example_data_path("full_cov").read_text())
    result = get_engine("stanli").sample(
        program_path("full_cov"),
        {**data, "student_t": 1},
        chains=1,
        warmup=30,
        draws=10,
        seed=5,
        inits=None,  # Stan's own: the Student-t rows keep latent values
        max_treedepth=4,  # a run whose columns are read, not its draws
    )
    paths = write_stan_csv(result, tmp_path, "full_cov")
    _refused(paths, data, "the CSV files hold nu", "the data's student_t = 0")


def test_a_fixed_param_run_is_refused(short_run, tmp_path):
    data, paths = short_run

    def fixed(lines):
        return [
            x.replace("algorithm = hmc (Default)", "algorithm = fixed_param")
            for x in lines
        ]

    _refused(
        [_edited(p, tmp_path, p.name, fixed) for p in paths],
        data,
        "normal_diag_1.csv: the run's algorithm is 'fixed_param', not 'hmc': its "
        "draws are not an MCMC run of the posterior",
    )


def test_two_runs_in_one_file_are_refused_as_such(short_run, tmp_path):
    data, (good, _) = short_run
    header, _ = _layout(good)
    n_lines = len(good.read_text().splitlines())
    _refused(
        [_edited(good, tmp_path, "two.csv", lambda lines: lines + lines)],
        data,
        f"two.csv line {n_lines + header} is a second header row (the first is "
        f"line {header}): the file holds more than one run's draws",
    )


def test_too_few_draws_are_refused_naming_the_files(short_run, tmp_path):
    data, paths = short_run
    _, rows = _layout(paths[0])

    def one_draw(lines):
        kept = [x.replace("num_samples = 20", "num_samples = 1") for x in lines]
        return [x for i, x in enumerate(kept, start=1) if i not in rows[1:]]

    edited = [_edited(p, tmp_path, p.name, one_draw) for p in paths]
    _refused(
        edited,
        data,
        "normal_diag_1.csv and the other chains hold 1 draw after warmup: "
        "stanmix needs at least 4 a chain",
        "run more draws (num_samples)",
    )


def test_a_data_file_with_another_n_is_refused(short_run):
    """N = 150 rows for a run on 200: the run's log_lik has 200 rows; and
    the data's censored cells beyond row 150 are out of its range."""
    data, paths = short_run
    fewer = {
        **data,
        "N": 150,
        "y": data["y"][:150],
        "observed": data["observed"][:150],
    }
    _refused(
        paths,
        fewer,
        "the run's log_lik has 200 rows but the data file has N = 150: the data's "
        "N does not match the run's draws",
    )
    beyond = next(i for i, r in enumerate(data["left_row"]) if r > 150)
    from stanmix.stan_data import check_stan_data

    with pytest.raises(sm.StanmixInputError) as info:
        check_stan_data("normal_diag", fewer)
    assert (
        f"the data's left_row[{beyond + 1}] must be from 1 to N = 150, got "
        f"{data['left_row'][beyond]}" in str(info.value)
    )


def test_runs_printed_to_few_digits_or_far_from_zero_read_back(short_run, tmp_path):
    """Legitimate runs whose printed draws are coarse: sig_figs = 3 (the
    weights then sum to 1 only within their rounding), and data near 1e4 at
    CmdStan's 6 digits, where a printed mean is off by up to 0.05 and the
    run's log_lik by more than a fixed tolerance allowed. The comparison's
    tolerance follows the printed digits; other data are still refused."""
    data, _ = short_run
    init = json.loads((stan_dir() / "normal_diag.init.json").read_text())

    def run_and_read(given, start, folder, digits):
        result = _short_sample(given, start)
        (tmp_path / folder).mkdir()
        paths = write_stan_csv(result, tmp_path / folder, "normal_diag", digits=digits)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sm.ConvergenceWarning)
            return paths, sm.from_cmdstan_csv(paths, given)

    _, model = run_and_read(data, init, "coarse", 3)
    np.testing.assert_allclose(model.idata_.posterior["w"].sum("component"), 1.0)

    def shifted_y(given, by):
        out = copy.deepcopy(given)
        out["y"] = [
            [v + by if seen else v for v, seen in zip(row, flags, strict=True)]
            for row, flags in zip(given["y"], given["observed"], strict=True)
        ]
        return out

    far = shifted_y(data, 1e4)
    far["left_limit"] = [v + 1e4 for v in data["left_limit"]]
    far["mu_loc"] = [[v + 1e4 for v in row] for row in data["mu_loc"]]
    start = copy.deepcopy(init)
    for name in ("mu_anchor_ordered", "mu_rest"):
        start[name] = (np.asarray(init[name]) + 1e4).tolist()
    printed, _ = run_and_read(far, start, "far", 6)
    other = shifted_y(far, 0.5)
    _refused(printed, other, "does not match the run that wrote the draws")


def _detection_limited(seed: int = 3) -> tuple[pd.DataFrame, dict]:
    """Two clusters in units of tens, column a below -40 read as -40, two
    cells of b missing."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": np.r_[rng.normal(-30, 10, 120), rng.normal(30, 10, 80)],
            "b": np.r_[rng.normal(0, 5, 120), rng.normal(20, 5, 80)],
        }
    )
    X["a"] = X["a"].clip(lower=-40.0)
    X.iloc[[3, 7], 1] = np.nan
    return X, {"a": -40.0}


class _SeenData(RecordingEngine):
    """Records the data ``sample`` is given, then stops."""

    def sample(self, stan_file, data, **kwargs):
        self.data = data
        return super().sample(stan_file, data, **kwargs)


def _assert_fits_own(run, engine) -> None:
    """``run`` holds the data and first start the stopped fit gave ``engine``
    (and, beyond them, only the generated-quantity switches and the units)."""
    call = engine.calls["sample"]
    unit_entries = {"stanmix_center", "stanmix_scale"}
    unit_entries |= {"stanmix_covariate_center", "stanmix_covariate_scale"}
    assert set(run.data) - set(engine.data) <= unit_entries
    for key, value in run.data.items():
        if key in unit_entries:
            continue
        sent = engine.data[key]
        if np.size(sent) == 0:  # an empty array is [] in JSON, whatever its shape
            assert np.size(value) == 0, key
        elif key not in ("compute_log_lik", "compute_membership", "grainsize"):
            np.testing.assert_array_equal(value, sent, err_msg=key)
    assert run.data["compute_log_lik"] == run.data["compute_membership"] == 1
    for key, value in run.init.items():
        start = call["inits"][0][key]
        if np.size(start) == 0:
            assert np.size(value) == 0, key
        else:
            np.testing.assert_array_equal(value, start, err_msg=key)


def _run_and_read(run, folder: Path, seed: int = 5, columns=None):
    """Sample ``run``'s files with stanli (2 x 300), write the draws as
    CmdStan would and read them back (its dimensions named by ``columns``);
    the engine's result and the model."""
    data_file, _ = run.write(folder)
    result = get_engine("stanli").sample(
        run.program,
        json.loads(data_file.read_text()),
        chains=2,
        warmup=300,
        draws=300,
        seed=seed,
        inits=[run.init, run.init],
    )
    # 17 significant digits: the values read back are the engine's
    paths = write_stan_csv(result, folder, run.program.stem, digits=17)
    return result, sm.from_cmdstan_csv(paths, data_file, columns=columns)


@pytest.mark.parametrize("standardize", [False, True])
def test_stan_input_is_what_fit_gives_the_engine_and_reads_back(standardize, tmp_path):
    """Raw units with priors to suit them, or standardized units with the
    default priors: the data and start are fit's, and the run reads back in
    the data's units (a standardized run's draws moved back exactly)."""
    X, limit = _detection_limited()
    kept = X.copy()
    engine = _SeenData(stop=("sample",))
    priors = {"prior_scale_log_sd": 0.8, "prior_concentration": 4.0}
    if not standardize:
        priors.update(prior_mean_scale=100.0, prior_scale_median=10.0)
    estimator = sm.Mixture(2, standardize=standardize, engine=engine, **priors)
    run = estimator.stan_input(X, lower_limit=limit, seed=4)
    assert not hasattr(estimator, "idata_")
    pd.testing.assert_frame_equal(X, kept)
    assert run.program == program_path("normal_diag")
    assert (run.data["n_left"], sum(sum(row) for row in run.data["observed"])) == (
        int((kept["a"] == -40.0).sum()),
        400 - 2 - int((kept["a"] == -40.0).sum()),
    )
    with pytest.raises(Stop):
        estimator.fit(X, lower_limit=limit, seed=4, init="kmeans", show_progress=False)
    _assert_fits_own(run, engine)
    given, _ = cell_table(X, lower_limit=limit)
    units = Standardization.fit(given)
    center, scale = units.center, units.scale
    if standardize:  # the units fit standardizes by
        np.testing.assert_array_equal(run.data["stanmix_center"], center)
        np.testing.assert_array_equal(run.data["stanmix_scale"], scale)
    else:
        assert "stanmix_center" not in run.data
    # written whole; a run on it reads back with from_cmdstan_csv
    data_file, init_file = run.write(tmp_path)
    assert data_file.name == "normal_diag.data.json"
    assert json.loads(data_file.read_text()) == run.data
    # (empty parameters left out: CmdStan refuses [] for an empty matrix)
    assert json.loads(init_file.read_text()) == {
        key: value for key, value in run.init.items() if np.size(value)
    }
    result, model = _run_and_read(run, tmp_path)
    assert model.standardize is standardize
    # the run's priors, read from its data, are the estimator's
    assert model.get_params() == {
        **estimator.get_params(),
        "anchor_dim": run.data["anchor"] - 1,
        "engine": "auto",
    }
    np.testing.assert_array_equal(model.cells_.kind, given.kind)
    for part in ("values", "lower", "upper"):
        np.testing.assert_allclose(
            getattr(model.cells_, part), getattr(given, part), rtol=1e-12
        )
    raw = model.param_draws("posterior_raw")
    mu = result.variables["mu"].reshape(raw["mu"].shape)
    sigma = result.variables["sigma"].reshape(raw["sigma"].shape)
    if standardize:
        mu, sigma = mu * scale + center, sigma * scale
    np.testing.assert_allclose(raw["mu"], mu, rtol=1e-12)
    np.testing.assert_allclose(raw["sigma"], sigma, rtol=1e-12)
    sd = model.param_draws()["mu"].std(axis=0)
    truth = np.array([[-30.0, 0.0], [30.0, 20.0]])
    assert np.all(np.abs(model.means_ - truth) < 4 * sd + 1.0)

    # The data file holds numbers only: read without names, the columns are
    # x0, x1 by position, as for an array (no feature_names_in_), and a
    # DataFrame of new data is refused with the way to name them.
    assert model.cells_.columns == ("x0", "x1")
    assert not hasattr(model, "feature_names_in_")
    with pytest.raises(
        sm.StanmixInputError,
        match=r"read the run again with from_cmdstan_csv\(\.\.\., columns=",
    ):
        model.predict(X)
    paths = sorted(tmp_path.glob("normal_diag_*.csv"))
    named = sm.from_cmdstan_csv(paths, data_file, columns=list(X.columns))
    assert named.feature_names_in_.tolist() == ["a", "b"]
    np.testing.assert_array_equal(
        named.predict(X, lower_limit=limit),
        model.predict(X.to_numpy(), lower_limit={"x0": -40.0}),
    )


def _two_lines(seed: int = 2) -> tuple[pd.DataFrame, np.ndarray]:
    """Two lines in x (units of hundreds), y = 1 + 0.02 x and 20 - 0.01 x."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1000, 160)
    first = np.arange(160) < 90
    y = np.where(first, 1 + 0.02 * x, 20 - 0.01 * x) + rng.normal(0, 0.5, 160)
    return pd.DataFrame({"x": x}), y


def test_regression_stan_input_is_what_fit_gives_the_engine_and_reads_back(
    tmp_path,
):
    """A mixture of regressions' data (response, covariates and their units)
    and EM start are fit's; its run reads back in the data's units."""
    X, y = _two_lines()
    kept = X.copy()
    engine = _SeenData(stop=("sample",))
    estimator = sm.RegressionMixture(2, engine=engine)
    run = estimator.stan_input(X, y, seed=3)
    assert not hasattr(estimator, "design_") and estimator._design is None
    pd.testing.assert_frame_equal(X, kept)
    assert run.program == program_path("regression")
    with pytest.raises(Stop):
        estimator.fit(X, y, seed=3, init="kmeans", show_progress=False)
    _assert_fits_own(run, engine)
    np.testing.assert_allclose(run.data["stanmix_covariate_scale"], X["x"].std(ddof=0))
    np.testing.assert_allclose(run.data["stanmix_scale"], y.std(), rtol=1e-12)
    _, model = _run_and_read(run, tmp_path, seed=7)
    np.testing.assert_allclose(model.cells_.values[:, 0], y, rtol=1e-12)
    np.testing.assert_allclose(model.cells_.covariates[:, 0], X["x"], rtol=1e-12)
    draws = model.param_draws()
    for name, truth in (("intercept", [1.0, 20.0]), ("beta", [[0.02], [-0.01]])):
        # the components in either order: ordered by intercept here
        estimate = draws[name].mean(axis=0)
        sd = draws[name].std(axis=0)
        assert np.all(np.abs(estimate - np.asarray(truth)) < 4 * sd), name


def test_a_regression_run_reads_back_as_a_regression_mixture(tmp_path):
    """A run of regression.stan reads back as a RegressionMixture with the
    run's design and priors: it predicts the response at new predictors (the
    lines' posterior means are those of its draws), by position by default,
    by name when columns names the response and the covariates."""
    X, y = _two_lines()
    priors = {
        "prior_mean_scale": 2.0,
        "prior_scale_median": 0.3,
        "prior_scale_log_sd": 0.8,
        "prior_concentration": 5.0,
        "prior_slope_scale": 1.5,
    }
    estimator = sm.RegressionMixture(2, **priors)
    run = estimator.stan_input(X, y, seed=3)
    _, model = _run_and_read(run, tmp_path, seed=7)
    assert isinstance(model, sm.RegressionMixture)
    params = model.get_params()
    assert params == {**estimator.get_params(), "predictors": ["x0"]}
    assert params["order_by"] == "intercept" and params["weights_from"] is None
    new = np.array([[0.0], [500.0]])
    table = model.predict_response(new)
    draws = model.param_draws()
    slopes = draws["beta"][:, None, :, 0]
    lines = draws["intercept"][:, None, :] + new[None, :, :] * slopes
    got = table[table["component"] != "mixture"].pivot(
        index="observation", columns="component", values="mean"
    )
    np.testing.assert_allclose(got.to_numpy(), lines.mean(axis=0), rtol=1e-10)
    paths = sorted(tmp_path.glob("regression_*.csv"))
    data_file = tmp_path / "regression.data.json"
    named = sm.from_cmdstan_csv(paths, data_file, columns=["y", "x"])
    assert list(named.feature_names_in_) == ["x"]
    pd.testing.assert_frame_equal(
        named.predict_response(pd.DataFrame({"x": new[:, 0]})), table
    )
    with pytest.raises(sm.StanmixInputError, match="lacks the fitted covariate"):
        named.predict_response(pd.DataFrame({"z": new[:, 0]}))
    with pytest.raises(sm.StanmixInputError, match=r"give 2 names \(the response"):
        sm.from_cmdstan_csv(paths, data_file, columns=["y", "x", "z"])
    for text in ("yx", "yy"):
        with pytest.raises(
            sm.StanmixInputError, match=rf"for one column give \['{text}'\]"
        ):
            sm.from_cmdstan_csv(paths, data_file, columns=text)
    # read without names, it says how to match new data by name
    with pytest.raises(sm.StanmixInputError, match="from_cmdstan_csv columns="):
        model.predict_response(pd.DataFrame({"x": new[:, 0]}))
    # an unordered run's order_by entry, which the program does not read,
    # is not taken as an ordering (RegressionMixture refuses that pair)
    data = {**json.loads(data_file.read_text()), "ordered_means": 0, "order_by": 1}
    unordered = _regression_of_run(
        2,
        family_from_stan_data("regression", data),
        data,
        _cells_of_run("regression", data, None)[0],
        named=False,
        ordered=False,
        standardize=True,
        relabel="auto",
        hdi_prob=0.8,
    )
    assert unordered.get_params()["order_by"] == "intercept"
    assert unordered.get_params()["ordered"] is False
    assert unordered.get_params()["hdi_prob"] == 0.8


def test_a_gated_regression_read_back_leaves_its_fixed_gate_rows_out(tmp_path):
    """A run of a mixture of regressions whose weights depend on a
    covariate reads back with the summary fit gives: component 0's gate
    log-odds, fixed at 0, are not rows of it."""
    X, y = _two_lines()
    X["z"] = np.random.default_rng(3).normal(size=len(X))
    estimator = sm.RegressionMixture(
        2,
        weights_from=["z"],
        errors="student_t",
        order_by="x",
        prior_gate_scale=1.5,
        family_options={"nu_shape": 3.0, "nu_rate": 0.1},
    )
    run = estimator.stan_input(X, y, seed=3)
    _, model = _run_and_read(run, tmp_path, seed=7)
    # the run's settings, its covariates named by position
    assert model.get_params() == {
        **estimator.get_params(),
        "predictors": ["x0"],
        "weights_from": ["x1"],
        "order_by": "x0",
    }
    rows = model.summary().index
    assert "gamma0[0]" not in rows and not any(r.startswith("gamma[0,") for r in rows)
    assert "gamma0[1]" in rows and any(r.startswith("gamma[1,") for r in rows)


def test_a_regressions_covariates_read_back_by_names_in_the_datas_order(tmp_path):
    """The data file's X holds the covariates in the DataFrame's order, a
    weights' covariate before the predictor included, so names given in
    that order (as from_cmdstan_csv documents) label each coefficient by
    its own column: the slope on x (truth 0.02 and -0.01 per unit) is
    beta[., x], not the gate's."""
    X, y = _two_lines()
    frame = pd.DataFrame(
        {"g": np.random.default_rng(3).normal(size=len(X)), "x": X["x"], "y": y}
    )
    estimator = sm.RegressionMixture(2, predictors=["x"], weights_from=["g"])
    run = estimator.stan_input(frame, response="y", seed=3)
    assert list(run.data["gate_col"]) == [1]
    assert list(run.data["pred_col"]) == [2]
    np.testing.assert_allclose(
        run.data["stanmix_covariate_center"], frame[["g", "x"]].mean(), rtol=1e-12
    )
    _, model = _run_and_read(run, tmp_path, seed=7, columns=["y", "g", "x"])
    assert model.design_.predictors == ("x",) and model.design_.weights_from == ("g",)
    table = model.summary()
    assert {"beta[0, x]", "beta[1, x]", "gamma[1, g]"} <= set(table.index)
    slopes = table.loc[["beta[0, x]", "beta[1, x]"]]
    np.testing.assert_array_less(
        np.abs(slopes["mean"].to_numpy() - [0.02, -0.01]), 4 * slopes["sd"].to_numpy()
    )


@pytest.mark.parametrize(
    ("covariance", "scale"),
    [("diag", [[10.0, 5.0], [9.0, 6.0]]), ("spherical", [8.0, 7.0])],
)
def test_known_scales_read_back_in_the_datas_units(covariance, scale, tmp_path):
    """A standardized run's data file holds known scales divided by the
    columns' units; read back, the estimator's setting is the one given
    (so a refit or a clone fixes the same scales), and so are the draws."""
    X, limit = _detection_limited()
    estimator = sm.Mixture(2, covariance=covariance, family_options={"scale": scale})
    run = estimator.stan_input(X, lower_limit=limit, seed=4)
    assert not np.allclose(np.ravel(run.data["sigma_value"])[:2], np.ravel(scale)[:2])
    _, model = _run_and_read(run, tmp_path)
    np.testing.assert_allclose(
        model.get_params()["family_options"]["scale"], scale, rtol=1e-12
    )
    np.testing.assert_allclose(
        model.param_draws()["sigma"][0],
        np.broadcast_to(np.reshape(scale, (2, -1)), (2, 2)),
        rtol=1e-12,
    )


def test_a_named_run_reads_back_its_anchor_by_name_and_refits(tmp_path):
    """Columns named "1" and "2", ordered along "2": the read-back's
    anchor_dim is the name, so a clone refits (the position 1 would also
    be the name of the other column, which the estimator refuses)."""
    X, _ = _detection_limited()
    X.columns = ["1", "2"]
    run = sm.Mixture(2, anchor_dim="2").stan_input(X, lower_limit={"1": -40.0}, seed=4)
    _, model = _run_and_read(run, tmp_path, columns=["1", "2"])
    assert model.get_params()["anchor_dim"] == "2"
    refit = sm.Mixture(**{**model.get_params(), "engine": "stanli"})
    refit.fit(X, lower_limit={"1": -40.0}, method="optimize", seed=1)
    assert refit.anchor_ == 1


def test_the_per_dimension_models_input_runs_and_reads_back(tmp_path):
    """The per-dimension model's rows have no single component, and its
    program refuses compute_membership = 1: stan_input leaves it off, and
    the run reads back as that model."""
    X, limit = _detection_limited()
    run = sm.Mixture(2, family="normal_per_dimension").stan_input(
        X, lower_limit=limit, seed=4
    )
    assert (run.data["compute_membership"], run.data["compute_log_lik"]) == (0, 1)
    _, model = _run_and_read(run, tmp_path)
    assert model.get_params()["family"] == "normal_per_dimension"
    assert "log_likelihood" in model.idata_.groups()


def test_stan_input_refuses_what_it_cannot_write(tmp_path):
    X, limit = _detection_limited()
    run = sm.Mixture(2).stan_input(X, lower_limit=limit, seed=1)
    with pytest.raises(sm.StanmixInputError, match="does not exist"):
        run.write(tmp_path / "nowhere")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(sm.StanmixInputError, match="give the response either as y"):
        sm.RegressionMixture(2).stan_input(X)


def test_recorded_units_are_checked(short_run):
    """Units a data file records must fit its columns and be usable."""
    data, paths = short_run
    d = data["D"]
    for entries, fragment in (
        (
            {"stanmix_center": [0.0] * d, "stanmix_scale": [1.0] * (d - 1) + [-1.0]},
            "stanmix_scale finite and positive",
        ),
        ({"stanmix_center": [0.0] * d}, "stanmix_scale must hold"),
        (
            {"stanmix_center": [0.0] * 9, "stanmix_scale": [1.0] * 9},
            f"stanmix_center must hold {d} value",
        ),
    ):
        with pytest.raises(sm.StanmixInputError, match=fragment):
            sm.from_cmdstan_csv(paths, {**data, **entries})


@pytest.fixture(scope="module")
def cmdstan_programs(tmp_path_factory):
    """A copy of stan/ where CmdStan builds each program once, on demand."""
    folder = tmp_path_factory.mktemp("cmdstan") / "stanmix"
    shutil.copytree(stan_dir(), folder)

    def build(name: str) -> Path:
        import cmdstanpy

        exe = folder / name
        if not exe.exists():
            subprocess.run(
                ["make", f"STANCFLAGS=--include-paths={folder}", str(exe)],
                cwd=Path(cmdstanpy.cmdstan_path()),
                check=True,
                capture_output=True,
            )
        return exe

    return build


def _cmdstan_run(exe: Path, run, folder: Path):
    """Run ``exe`` on ``run``'s written files (2 chains) in ``folder`` as the
    README says, and read the draws back."""
    data_file, init_file = run.write(folder)
    subprocess.run(
        [
            str(exe),
            "sample",
            "num_chains=2",
            "random",
            "seed=11",
            "data",
            f"file={data_file}",
            f"init={init_file}",
            "output",
            f"file={folder / 'mine.csv'}",
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    return sm.from_cmdstan_csv(sorted(folder.glob("mine_*.csv")), data_file)


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.slow
@pytest.mark.parametrize("standardize", [False, True])
def test_stan_input_runs_under_cmdstan(standardize, cmdstan_programs, tmp_path):
    """The files stan_input writes, run by CmdStan as the README says, read
    back with the clusters where the data have them, in the data's units
    (the standardized files' extra entries are left alone by CmdStan)."""
    X, limit = _detection_limited()
    priors = {} if standardize else {"prior_mean_scale": 100.0}
    if not standardize:
        priors["prior_scale_median"] = 10.0
    run = sm.Mixture(2, standardize=standardize, **priors).stan_input(
        X, lower_limit=limit, seed=4
    )
    model = _cmdstan_run(cmdstan_programs("normal_diag"), run, tmp_path)
    sd = model.param_draws()["mu"].std(axis=0)
    truth = np.array([[-30.0, 0.0], [30.0, 20.0]])
    assert np.all(np.abs(model.means_ - truth) < 4 * sd + 1.0)
    assert model.summary()["r_hat"].max() <= 1.01


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.slow
def test_regression_stan_input_runs_under_cmdstan(cmdstan_programs, tmp_path):
    """A mixture of regressions' files (standardized response and
    covariates) run by CmdStan read back with the lines in the data's units."""
    X, y = _two_lines()
    run = sm.RegressionMixture(2).stan_input(X, y, seed=3)
    model = _cmdstan_run(cmdstan_programs("regression"), run, tmp_path)
    draws = model.param_draws()
    for name, truth in (("intercept", [1.0, 20.0]), ("beta", [[0.02], [-0.01]])):
        estimate, sd = draws[name].mean(axis=0), draws[name].std(axis=0)
        assert np.all(np.abs(estimate - np.asarray(truth)) < 4 * sd), name
    assert model.summary()["r_hat"].max() <= 1.01


@needs_cmdstan
@pytest.mark.cmdstan
@pytest.mark.slow
def test_pairs_beside_observed_cells_integrate_under_cmdstan(
    cmdstan_programs, tmp_path
):
    """full_cov.stan with integrate_pairs = 1 under CmdStan: rows censored in
    two of three columns are integrated (no latent values), and its
    generated log_lik and memberships of every row agree with stanmix's
    (from_cmdstan_csv checks them, and refuses a run where they do not)."""
    rng = np.random.default_rng(8)
    z = rng.integers(0, 2, 120)
    cov = np.array([[1.0, 0.5, 0.3], [0.5, 1.0, 0.3], [0.3, 0.3, 1.0]])
    X = pd.DataFrame(
        np.array([[0.0] * 3, [4.0] * 3])[z]
        + rng.multivariate_normal([0] * 3, cov, 120),
        columns=list("abc"),
    )
    limits = {c: float(X[c].quantile(0.3)) for c in ("a", "b")}
    X = X.clip(lower=pd.Series(limits).reindex(X.columns), axis=1)
    run = sm.Mixture(2, covariance="full").stan_input(X, lower_limit=limits, seed=2)
    paired = int(((X["a"] == limits["a"]) & (X["b"] == limits["b"])).sum())
    assert paired > 10 and len(run.init["y_latent"]) == 2 * paired
    data = {**run.data, "integrate_pairs": 1}
    init = {k: v for k, v in run.init.items() if k != "y_latent"}
    integrated = dataclasses.replace(run, data=data, init=init)
    model = _cmdstan_run(cmdstan_programs("full_cov"), integrated, tmp_path)
    assert "y_latent" not in model.idata_.posterior
    np.testing.assert_allclose(model.means_, [[0.0] * 3, [4.0] * 3], atol=0.5)
