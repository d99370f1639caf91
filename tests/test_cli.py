"""The stanmix command: golden path, bad input, atomic output, demo."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import argparse
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import censored_pairs

import stanmix as sm
from stanmix import cli, output, report
from stanmix.cli import console, flags
from stanmix.inference_data import az

pytest.importorskip("stanli")

RESULTS = ["membership.csv", "posterior.nc", "report.html", "summary.csv"]


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """Two 2-D clusters with x left-censored at its 10% quantile, and a label."""
    df, limit = censored_pairs()
    path = tmp_path_factory.mktemp("data") / "data.csv"
    df.to_csv(path, index=False)
    return path, df, limit


def _fit_args(path, out, *extra):
    return [
        "fit",
        str(path),
        "--components",
        "2",
        "--columns",
        "x,y",
        "--method",
        "optimize",
        "--engine",
        "stanli",
        "--out",
        str(out),
        *extra,
    ]


def _hidden(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_fit_golden_path(table, tmp_path, capsys):
    path, df, limit = table
    out = tmp_path / "results"
    code = cli.main(_fit_args(path, out, "--lower-limit", f"x={limit}"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(os.listdir(out)) == RESULTS
    assert sorted(os.listdir(tmp_path)) == ["results"]

    idata = az.from_netcdf(str(out / "posterior.nc"))
    kinds = idata.constant_data["cell_kind"].sel(dim="x").to_numpy()
    assert int(np.sum(kinds == "left")) == int(np.sum(df["x"] == limit)) > 0
    assert idata.posterior["mu"].shape == (1, 1, 2, 2)
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    assert "mu[1, y]" in summary.index and list(summary.columns) == ["mode"]
    membership = pd.read_csv(out / "membership.csv")
    assert len(membership) == 2 * len(df)
    # seven significant digits each: two probabilities sum to 1 within 1e-7
    np.testing.assert_allclose(
        membership.groupby("observation")["mean"].sum(), 1.0, atol=1e-7
    )
    fields = (out / "membership.csv").read_text().split()[1:]
    digits = {
        re.sub(r"e.*", "", value).replace(".", "").lstrip("0")
        for line in fields
        for value in line.split(",")[2:]
    }
    assert max(map(len, digits)) == 7, sorted(digits, key=len)[-3:]
    text = (out / "report.html").read_text(encoding="utf-8")
    # clusters, membership, the plug-in predictive check and co-clustering
    assert text.count('src="data:image/png;base64,') == 4
    assert "data.csv: 2-component mixture" in text
    assert f"Report: {out / 'report.html'}" in captured.out
    # said before the files are written, which takes a while on a large table
    assert f"\nWriting the results and the report to {out}/\n\nResults written" in (
        captured.out
    )


def test_the_printed_memberships_are_the_files_first_rows(table, tmp_path, capsys):
    """IDs s0 ... s79 sort as s0, s1, s10, ...: the first memberships shown
    are those of the file's first five lines, in its order."""
    path, _, _ = table
    code = cli.main(_fit_args(path, tmp_path / "out", "--id", "sample"))
    printed = capsys.readouterr().out
    assert code == 0
    block = printed.split("Membership probabilities, first 5 observations:\n")[1]
    shown = [line.split()[0] for line in block.splitlines()[2:7]]
    assert shown == ["s0", "s1", "s2", "s3", "s4"]


def test_select_golden_path(table, tmp_path, capsys):
    """stanmix select fits every K, says which it chose and writes that
    model's results with selection.csv; by BIC on the posterior modes here
    (two clusters four sds apart), K = 2."""
    path, _, limit = table
    out = tmp_path / "results"
    args = ["select", str(path), "--components", "1-3", "--columns", "x,y"]
    args += ["--method", "optimize", "--engine", "stanli", "--no-progress"]
    code = cli.main([*args, "--lower-limit", f"x={limit}", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(os.listdir(out)) == sorted([*RESULTS, "selection.csv"])
    assert "Chosen: K = 2" in captured.out
    selection = pd.read_csv(out / "selection.csv")
    assert selection["K"].tolist() == [1, 2, 3]
    bic = selection.set_index("K")["bic"]
    assert bic.idxmin() == 2
    idata = az.from_netcdf(str(out / "posterior.nc"))
    assert idata.posterior["w"].shape == (1, 1, 2)
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "Chose K = 2: the smallest BIC at the posterior mode" in text
    assert "<th>bic</th>" in text and "<th>elpd</th>" not in text


def test_select_refuses_kfold_without_sampling(table, tmp_path, capsys):
    path, _, _ = table
    out = tmp_path / "results"
    args = ["select", str(path), "-k", "1-2", "--method", "optimize"]
    code = cli.main([*args, "--kfold", "3", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "--kfold does not apply to --method optimize; leave it out" in err
    assert not out.exists()


def test_select_names_kfold_as_the_flag(table, tmp_path, capsys):
    path, _, _ = table
    out = tmp_path / "results"
    args = ["select", str(path), "-k", "1-2", "--columns", "x,y", "--kfold", "100"]
    assert cli.main([*args, "--engine", "stanli", "--out", str(out)]) == 2
    printed = capsys.readouterr()
    assert (
        "--kfold must be at most the number of rows (80), got --kfold 100: each "
        "fold holds out at least one row; use --kfold 80 or fewer"
    ) in printed.err
    assert printed.out == ""  # refused before the line saying what it fits
    assert not out.exists()


def test_a_failed_mode_names_the_flag_that_censors_a_piled_value(tmp_path, capsys):
    """Values below a detection limit recorded as the limit, fitted without
    it: the failure's advice names the command's flag, not the keyword."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "x": np.r_[rng.normal(0, 1, 150), rng.normal(4, 1, 150)],
            "y": np.maximum(np.r_[rng.normal(0, 1, 150), rng.normal(3, 1, 150)], 0.8),
        }
    )
    path = tmp_path / "lod.csv"
    frame.to_csv(path, index=False)
    code = cli.main(_fit_args(path, tmp_path / "out", "--seed", "1"))
    err = capsys.readouterr().err
    assert code == 1
    assert "every optimizer start failed" in err
    assert "pass --lower-limit y=0.8 to censor them" in err
    assert "lower_limit" not in err


def test_fit_chooses_family_and_covariance(table, tmp_path, capsys):
    path, _, limit = table
    out = tmp_path / "results"
    args = _fit_args(path, out, "--lower-limit", f"x={limit}")
    code = cli.main([*args, "--family", "student_t", "--covariance", "full"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    assert {"nu[0]", "corr[0, x:y]", "corr[1, x:y]"} <= set(summary.index)
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "multivariate Student-t, full scale matrix per component" in text
    code = cli.main([*args, "--covariance", "banded"])
    assert code == 2
    assert "--covariance" in capsys.readouterr().err


def test_anchor_chooses_the_ordering_column(table, tmp_path, capsys):
    """--anchor orders the components along the column named (here y, where
    the default is x); a column not fitted is refused before any fit."""
    path, _, limit = table
    out = tmp_path / "results"
    args = _fit_args(path, out, "--lower-limit", f"x={limit}")
    assert cli.main([*args, "--anchor", " y"]) == 0, capsys.readouterr().err
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "<td>the means of y (anchor column)</td>" in text
    assert cli.main(args) == 0, capsys.readouterr().err
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "<td>the means of x (anchor column)</td>" in text
    assert cli.main([*args, "--anchor", "sample"]) == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("--anchor 'sample' is not a fitted column of data.csv (fitted: x, y)")
    )


def test_fit_into_existing_folder_replaces_results_and_keeps_other_files(
    table, tmp_path, capsys
):
    path, _, _ = table
    out = tmp_path / "results"
    out.mkdir()
    (out / "summary.csv").write_text("old")
    (out / "notes.txt").write_text("mine")
    assert cli.main(_fit_args(path, out, "--title", "Run 2")) == 0
    assert sorted(os.listdir(out)) == sorted([*RESULTS, "notes.txt"])
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "summary.csv").read_text() != "old"
    assert "<title>Run 2</title>" in (out / "report.html").read_text()
    assert _hidden(tmp_path) == []


def test_fit_removes_the_result_files_of_an_earlier_run_it_does_not_write(
    table, tmp_path, capsys
):
    """A fit into the folder of an earlier selection replaces the whole set:
    the old selection.csv, which would describe another model, goes; the
    user's files stay; the printed list matches the folder."""
    path, _, _ = table
    out = tmp_path / "results"
    out.mkdir()
    (out / "selection.csv").write_text("K,elpd\n1,-5\n")
    (out / "notes.txt").write_text("mine")
    code = cli.main(_fit_args(path, out, "--no-progress"))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(os.listdir(out)) == sorted([*RESULTS, "notes.txt"])
    assert (out / "notes.txt").read_text() == "mine"
    assert captured.out.endswith(
        f"\nResults written to {out}/ (posterior.nc, summary.csv, membership.csv)\n"
        f"Report: {out / 'report.html'}\n"
        "Removed the earlier run's selection.csv, which this run does not write\n"
    )
    assert _hidden(tmp_path) == []


def test_result_files_modes_follow_the_umask_or_the_files_they_replace(
    table, tmp_path, capsys
):
    """Results are written as open() and mkdir() would write them: under a
    private umask a new folder and its files are private, and a rerun keeps
    the mode of each file it replaces."""
    path, _, _ = table

    def mode(p: Path) -> int:
        return os.stat(p).st_mode & 0o777

    out = tmp_path / "results"
    old = os.umask(0o077)
    try:
        assert cli.main(_fit_args(path, out, "--no-progress")) == 0
    finally:
        os.umask(old)
    assert mode(out) == 0o700
    assert {name: mode(out / name) for name in RESULTS} == dict.fromkeys(RESULTS, 0o600)
    os.chmod(out / "summary.csv", 0o640)
    old = os.umask(0o022)
    try:
        assert cli.main(_fit_args(path, out, "--no-progress")) == 0
    finally:
        os.umask(old)
    assert mode(out / "summary.csv") == 0o640
    assert mode(out / "membership.csv") == 0o600
    capsys.readouterr()


def test_failed_write_restores_the_result_files_it_would_remove(
    table, tmp_path, monkeypatch, capsys
):
    """The removal of an earlier selection.csv is part of the replacement:
    a failure while the files are moved puts it back with the others."""
    path, _, _ = table
    out = tmp_path / "out"
    out.mkdir()
    previous = [*RESULTS, "selection.csv"]
    for name in previous:
        (out / name).write_text(f"old {name}")
    real_replace = os.replace

    def flaky(src, dst):
        staged = Path(src).parent.name
        if Path(dst) == out / "report.html" and "previous" not in staged:
            raise OSError("device lost")
        return real_replace(src, dst)

    monkeypatch.setattr(output.os, "replace", flaky)
    assert cli.main(_fit_args(path, out, "--no-progress")) == 1
    monkeypatch.undo()
    assert "stanmix: failed: OSError: device lost" in capsys.readouterr().err
    assert sorted(os.listdir(out)) == sorted(previous)
    for name in previous:
        assert (out / name).read_text() == f"old {name}"
    assert sorted(os.listdir(tmp_path)) == ["out"]


BAD_CSV = "x,y\n1.0,2.0\n3.0,4.0,5.0\n1.5,2.5\n"


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        (
            BAD_CSV,
            [],
            r"line 3 of data\.csv has 3 fields but the header \(line 1\) has 2",
        ),
        ("", [], "data.csv is empty"),
        ("x,y\n", [], "header but no data rows"),
        (
            "x,y\n1,2\n<0.1,3\n4,5\n",
            [],
            r"column 'x' .* not numeric: line 3 has '<0.1'",
        ),
        ("x,y\n1,2\n3,4\n", ["--columns", "x,z"], r"column\(s\) 'z' not in data.csv"),
        ("x,y\n1,2\n3,4\n", ["--columns", ","], "names no column"),
        ("x,y\n1,2\n3,4\n", ["--lower-limit", "x0.5"], "expects COLUMN=LIMIT"),
        ("x,y\n1,2\n3,4\n", ["--lower-limit", "=0.5"], "expects COLUMN=LIMIT"),
        (
            "x,y\n1,2\n3,4\n",
            ["--lower-limit", "x=low"],
            r"--lower-limit x=low: 'low' is neither a number \(one limit for "
            r"every row\) nor a column of data\.csv \(columns: x, y\)",
        ),
        ("x,y\n1,2\n3,4\n", ["--upper-limit", "x=inf"], "must be finite"),
        ("x,y\n1,2\n3,4\n", ["--lower-limit", "z=1"], "names column 'z'"),
        (
            "x,y,w\n1,2,0\n3,4,1\n",
            ["--columns", "x,y", "--lower-limit", "w=0"],
            r"'w', which is not among the fitted columns \(x, y\)",
        ),
        (
            "x,y\n1,2\n3,4\n0.5,6\n",
            ["--lower-limit", "x=1"],
            r"x=1: 1 value\(s\) of column 'x' lie below the limit \(line 4 of ",
        ),
        (
            "x,y\n1,2\n3,4\n5,6\n",
            ["--upper-limit", "y=5"],
            r"y=5: 1 value\(s\) of column 'y' lie above the limit",
        ),
        (
            "x,y\n1,2\n3,4\n",
            ["--lower-limit", "x=3", "--upper-limit", "x=1"],
            "--lower-limit x=3 is not below --upper-limit x=1",
        ),
        (
            "x,y\n1,2\n3,4\n",
            ["--lower-limit", "x=1", "--lower-limit", "x=2"],
            "gives column 'x' twice",
        ),
        (
            "x,y\n1,2\n3,4\n",
            ["--components", "0"],
            "argument --components/-k: must be at least 1, got 0",
        ),
        (
            "x,y\n1,2\n3,4\n",
            ["--components", "5"],
            r"--components/-k 5 is more than the 2 rows of data\.csv; a mixture "
            "cannot have more components than observations: use at most 2",
        ),
        ("x,y\n1,2\n,\n3,4\n", [], "every cell missing"),
        (
            "x,y\n1,2\n3,4\n",
            ["--method", "sample", "--adapt-delta", "1.5"],
            "argument --adapt-delta: must be between 0 and 1 \\(exclusive\\), got 1.5",
        ),
        (
            "x,y\n1,2\n3,4\n",
            ["--method", "sample", "--adapt-delta", "high"],
            "expects a number between 0 and 1, got 'high'",
        ),
        (
            "x,y\n1,2\n3,4\n",
            ["--adapt-delta", "0.99"],
            "--adapt-delta does not apply to --method optimize; leave it out",
        ),
        ("name\na\nb\n", [], "no numeric columns"),
    ],
)
def test_fit_bad_input_exits_2_with_a_message(
    tmp_path, capsys, content, extra, message
):
    data = tmp_path / "data.csv"
    data.write_text(content)
    out = tmp_path / "out"
    args = ["fit", str(data), "--components", "2", "--method", "optimize"]
    args += ["--engine", "stanli", "--out", str(out), *extra]
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("stanmix: error: ")
    assert re.search(message, err), err
    assert not out.exists()
    assert sorted(os.listdir(tmp_path)) == ["data.csv"]


def test_missing_file_bad_options_and_out_as_file(table, tmp_path, capsys):
    path, _, _ = table
    assert cli.main(_fit_args(tmp_path / "nope.csv", tmp_path / "o")) == 2
    assert "nope.csv' does not exist" in capsys.readouterr().err
    assert cli.main(["fit", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "--components" in capsys.readouterr().err
    assert cli.main([*_fit_args(path, tmp_path / "o"), "--method", "magic"]) == 2
    assert "invalid choice: 'magic'" in capsys.readouterr().err
    target = tmp_path / "file"
    target.write_text("keep")
    assert cli.main(_fit_args(path, target)) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert target.read_text() == "keep"
    assert cli.main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out


def test_adapt_delta_reaches_the_fit(table, tmp_path, monkeypatch, capsys):
    path, _, _ = table
    seen = {}
    default = inspect.signature(sm.Mixture.fit).parameters["adapt_delta"].default

    def record(self, X, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("recorded")

    monkeypatch.setattr(sm.Mixture, "fit", record)
    args = _fit_args(path, tmp_path / "o", "--method", "sample")
    assert cli.main([*args, "--adapt-delta", "0.99"]) == 1
    assert seen["adapt_delta"] == 0.99 and seen["method"] == "sample"
    seen.clear()
    assert cli.main(args) == 1
    assert seen["adapt_delta"] == default
    assert not (tmp_path / "o").exists()


def test_a_librarys_warnings_show_only_with_verbose(capsys):
    """Standard error carries stanmix's own messages; another library's
    warnings only with --verbose, and marked as that library's."""
    import types

    lib = types.ModuleType("somelib")
    exec(
        "import warnings\ndef noisy():\n    warnings.warn('library noise')\n",
        lib.__dict__,
    )
    with console._console(False):
        lib.noisy()
    assert "library noise" not in capsys.readouterr().err
    with console._console(True):
        lib.noisy()
    err = capsys.readouterr().err
    assert "UserWarning: library noise" in err and "stanmix: warning" not in err


def test_messages_name_the_flags_not_the_python_keywords(table, tmp_path, capsys):
    """A warning written for Python users (``run chains=2 or more``) names
    the command's flag when the command shows it."""
    path, _, _ = table
    args = _fit_args(path, tmp_path / "o", "--method", "sample", "--no-progress")
    assert cli.main([*args, "--chains", "1", "--warmup", "100", "--draws", "100"]) == 0
    err = capsys.readouterr().err
    assert "R-hat needs at least two chains: run --chains 2 or more" in err, err
    assert "chains=" not in err


def _boom(*args, **kwargs):
    raise RuntimeError("disk full")


def test_failure_while_writing_leaves_no_partial_output(
    table, tmp_path, monkeypatch, capsys
):
    path, _, _ = table
    monkeypatch.setattr(report, "write_report", _boom)
    out = tmp_path / "new"
    assert cli.main(_fit_args(path, out)) == 1
    assert "stanmix: failed: RuntimeError: disk full" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []

    old = tmp_path / "old"
    old.mkdir()
    (old / "posterior.nc").write_bytes(b"previous")
    (old / "notes.txt").write_text("mine")
    assert cli.main(_fit_args(path, old)) == 1
    assert sorted(os.listdir(tmp_path)) == ["old"]
    assert sorted(os.listdir(old)) == ["notes.txt", "posterior.nc"]
    assert (old / "posterior.nc").read_bytes() == b"previous"


def test_failure_while_moving_files_restores_previous_results(
    table, tmp_path, monkeypatch, capsys
):
    path, _, _ = table
    out = tmp_path / "out"
    out.mkdir()
    for name in RESULTS:
        (out / name).write_text(f"old {name}")
    real_replace = os.replace

    def flaky(src, dst):
        src, dst = Path(src), Path(dst)
        staged = (
            src.parent.name.startswith(".out-") and "previous" not in src.parent.name
        )
        if dst == out / "report.html" and staged:
            raise OSError("device lost")
        return real_replace(src, dst)

    monkeypatch.setattr(output.os, "replace", flaky)
    assert cli.main(_fit_args(path, out)) == 1
    monkeypatch.undo()
    assert "device lost" in capsys.readouterr().err
    assert sorted(os.listdir(out)) == RESULTS
    for name in RESULTS:
        assert (out / name).read_text() == f"old {name}"
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_interrupted_fit_leaves_nothing(table, tmp_path, monkeypatch, capsys):
    path, _, _ = table

    def interrupt(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(sm.Mixture, "fit", interrupt)
    assert cli.main(_fit_args(path, tmp_path / "out")) == 1
    assert "interrupted" in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_demo_prints_agreement_and_writes_report(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = cli.main(
        [
            *("demo", "--n", "100", "--chains", "2", "--warmup", "100"),
            *("--draws", "100", "--no-progress"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    match = re.search(
        r"Agreement of predicted clusters with the truth: ([\d.]+)%", captured.out
    )
    assert match and float(match.group(1)) >= 95.0
    assert "2 chains x 100 draws" in captured.out
    out = tmp_path / "stanmix-demo"
    assert sorted(os.listdir(out)) == RESULTS
    assert "Report: stanmix-demo/report.html" in captured.out
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "stanmix demo: 100 points, 5 clusters" in text
    assert text.count('src="data:image/png;base64,') == 5
    assert cli.main(["demo", "--n", "0"]) == 2
    assert "argument --n: must be at least 5, got 0" in capsys.readouterr().err


def test_demo_refuses_fewer_points_than_its_clusters(tmp_path, monkeypatch, capsys):
    """The demo fits 5 clusters: --n below 5 is refused naming --n and its
    minimum, not the n_components the demo user cannot set."""
    monkeypatch.chdir(tmp_path)
    assert cli.main(["demo", "--n", "4", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "argument --n: must be at least 5, got 4" in err
    assert "n_components" not in err
    assert cli.main(["demo", "--draws", "3", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stanmix: error: --draws 3 is too few for NUTS")
    assert "warning" not in err
    assert os.listdir(tmp_path) == []


def _help(command: str, capsys) -> str:
    """The help of ``command``, its whitespace collapsed."""
    assert cli.main([command, "--help"]) == 0
    return " ".join(capsys.readouterr().out.split())


def test_sampling_flag_help_names_only_the_methods_a_command_takes(capsys):
    """The help of --chains, --warmup, --draws and --adapt-delta names only
    --method choices the command accepts; demo, which always runs NUTS and
    has no --method, names none."""
    demo = _help("demo", capsys)
    assert "--method" not in demo and "variational" not in demo
    assert "--chains CHAINS NUTS chains [4]" in demo
    assert "--draws DRAWS draws kept per chain [1000]" in demo
    assert "--adapt-delta ADAPT_DELTA NUTS target acceptance; raise it" in demo
    assert "--n N observations, at least 5 (one per cluster) [500]" in demo

    select = _help("select", capsys)
    assert "variational" not in select
    assert "--draws DRAWS draws kept per chain (--method sample) [1000]" in select

    for command in ("fit", "fit-regression"):
        assert (
            "--draws DRAWS draws kept per chain (--method sample), or draws in all "
            "(--method variational) [1000]"
        ) in _help(command, capsys)

    for command in ("fit", "fit-regression"):
        text = _help(command, capsys)
        assert (
            "--method {sample,optimize,variational} sample: NUTS draws from the "
            "posterior [default]; optimize: the posterior mode"
        ) in text
        assert (
            "--algorithm {meanfield,fullrank} ADVI's approximation: meanfield "
            "(independent normals) or fullrank (one multivariate normal) (--method "
            "variational) [meanfield]"
        ) in text
    assert "--algorithm" not in select and "--algorithm" not in demo

    for command in ("fit", "select", "fit-regression", "select-regression"):
        text = _help(command, capsys)
        choices = set(re.search(r"--method \{([a-z,]+)\}", text)[1].split(","))
        named = set(re.findall(r"\(--method (\w+)\)", text))
        assert named and named <= choices, (command, named, choices)


@pytest.mark.parametrize(
    ("components", "message"),
    [
        ("0-2", "'0-2' includes 0, but a number of components must be at least 1"),
        ("0,2", "'0,2' includes 0, but a number of components must be at least 1"),
        (
            "3-1",
            "'3-1': the range 3-1 names no number of components; a range "
            "runs upward, such as 1-3",
        ),
        ("2,5-3", "'2,5-3': the range 5-3 names no number of components"),
    ],
)
def test_select_names_the_bad_number_of_components(
    table, tmp_path, capsys, components, message
):
    path, _, _ = table
    out = tmp_path / "results"
    args = ["select", str(path), "-k", components, "--method", "optimize"]
    assert cli.main([*args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"argument --components/-k: {message}" in err
    assert "names no number of components of at least 1" not in err
    assert not out.exists()


def test_components_are_kept_as_ranges():
    """select's --components is parsed into ranges, not a list of every K,
    so that a typo such as 1-3000000 costs nothing before it is refused."""
    assert flags._components("1-3000000") == (range(1, 3000001),)
    assert flags._components(" 7 ,2-4") == (range(2, 5), range(7, 8))
    # a downward piece is refused, not dropped from the list
    with pytest.raises(argparse.ArgumentTypeError, match="the range 3-1 names no"):
        flags._components("3-1,2")
    with pytest.raises(argparse.ArgumentTypeError, match="'1-3,3' names a number tw"):
        flags._components("1-3,3")


def test_select_refuses_a_huge_range_without_listing_it(table, tmp_path, capsys):
    """-k 1-3000000 on 80 rows is refused at once, naming the flag, the rows
    and the most that fits, without building a list of three million K."""
    import tracemalloc

    path, _, _ = table
    out = tmp_path / "results"
    args = ["select", str(path), "--method", "optimize", "--columns", "x,y"]
    # The same refusal once first, so that the modules it loads are not counted.
    assert cli.main([*args, "-k", "1-81", "--out", str(out)]) == 2
    capsys.readouterr()
    tracemalloc.start()
    try:
        code = cli.main([*args, "-k", "1-3000000", "--out", str(out)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == (
        "stanmix: error: --components/-k goes up to 3000000, which is more than "
        "the 80 rows of data.csv; a mixture cannot have more components than "
        "observations: use at most 80\n"
    )
    assert captured.out == ""
    assert peak < 10_000_000, peak
    assert not out.exists()


def _command() -> list[str]:
    script = Path(sys.executable).with_name("stanmix")
    return [str(script)] if script.exists() else [sys.executable, "-m", "stanmix.cli"]


def test_installed_command_runs_end_to_end(table, tmp_path):
    path, _, limit = table
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = tmp_path / "res"
    args = _fit_args(path, out, "--lower-limit", f"x={limit}")
    done = subprocess.run(
        [*_command(), *args], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(out)) == RESULTS
    assert "Results written to" in done.stdout

    bad = subprocess.run(
        [*_command(), *_fit_args(path, tmp_path / "bad", "--lower-limit", "q=1")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert bad.returncode == 2
    assert "--lower-limit names column 'q'" in bad.stderr
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("module", ["stanmix", "stanmix.cli"])
def test_the_command_runs_as_a_module(module):
    """``python -m stanmix`` and ``python -m stanmix.cli`` both run it (the
    latter once the whole module has been read)."""
    done = subprocess.run(
        [sys.executable, "-m", module, "fit", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: stanmix fit")


def test_family_options_reach_the_model_and_are_checked_before_fitting(
    table, tmp_path, capsys
):
    """--family-option sets the family's settings as family_options does in
    Python (the same mode here); a setting the family lacks is refused
    naming the flag, before anything is fitted."""
    path, df, _ = table
    out = tmp_path / "results"
    extra = ["--family", "student_t", "--family-option", "nu_shape=3"]
    code = cli.main(_fit_args(path, out, *extra, "--family-option", "nu_rate=0.5"))
    assert code == 0, capsys.readouterr().err
    model = sm.Mixture(
        2,
        family="student_t",
        family_options={"nu_shape": 3.0, "nu_rate": 0.5},
        engine="stanli",
    ).fit(df[["x", "y"]], method="optimize", seed=1)
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    np.testing.assert_allclose(summary.loc["nu[0]", "mode"], model.nu_[0], rtol=1e-6)
    default = sm.Mixture(2, family="student_t", engine="stanli").fit(
        df[["x", "y"]], method="optimize", seed=1
    )
    assert abs(default.nu_[0] - model.nu_[0]) > 1e-3  # the prior moved it

    code = cli.main(_fit_args(path, tmp_path / "other", "--family-option", "nu_shap=3"))
    assert code == 2
    assert (
        "unknown --family-option for --family normal, --covariance diag: 'nu_shap'"
    ) in capsys.readouterr().err
    assert not (tmp_path / "other").exists()
    bad = ["--family", "student_t", "--family-option", "nu_rate=-1"]
    assert cli.main(_fit_args(path, tmp_path / "other", *bad)) == 2
    assert (
        "--family-option nu_rate must be a positive number, got -1.0"
        in capsys.readouterr().err
    )
    assert not (tmp_path / "other").exists()


def test_the_sampling_flags_defaults_are_fits():
    """The command writes fit's defaults out (importing them would load numpy
    before main); they must stay the same as fit's."""
    from stanmix.inference.settings import FIT_DEFAULTS, METHOD_ARGS, METHODS

    defaults, used = flags.SAMPLING_DEFAULTS, flags.SAMPLING_FLAGS
    assert defaults == {n: FIT_DEFAULTS[n] for n in defaults}
    assert set(used) == set(METHODS)
    for method, names in used.items():
        assert set(names) == {n for n in defaults if method in METHOD_ARGS[n]}


def test_fit_takes_advis_algorithm(table, tmp_path, capsys):
    """--algorithm fullrank reaches the fit: its InferenceData says so, and
    advice that names the setting names the flag."""
    import arviz as az

    path, _, limit = table
    out = tmp_path / "out"
    args = _fit_args(path, out, "--lower-limit", f"x={limit}", "--no-progress")
    args[args.index("optimize")] = "variational"
    code = cli.main([*args, "--algorithm", "fullrank", "--draws", "100"])
    assert code == 0, capsys.readouterr().err
    assert "by ADVI (fullrank, 100 draws)" in capsys.readouterr().out
    idata = az.from_netcdf(out / "posterior.nc")
    assert idata.posterior.attrs["algorithm"] == "fullrank"
    assert console._as_flags("algorithm='fullrank', which keeps") == (
        "--algorithm fullrank, which keeps"
    )
