"""The stanmix command refuses bad data and bad flags before any fitting.

Every refusal exits 2 with ``stanmix: error: <message>``; the message names
the file line (as an editor counts it), the column or the flag, and nothing
is written. A few runs that must *not* be refused fit for real.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import stanmix as sm
from stanmix import cli
from stanmix.inference_data import az

pytest.importorskip("stanli")

RESULTS = ["membership.csv", "posterior.nc", "report.html", "summary.csv"]


@pytest.fixture
def no_fit(monkeypatch):
    """Any call of the estimator's fit fails the run (exit 1, not 2)."""

    def fit(self, *args, **kwargs):
        raise AssertionError("the estimator was fitted")

    monkeypatch.setattr(sm.Mixture, "fit", fit)


def _fit(tmp_path: Path, content: str | bytes, *extra: str) -> int:
    data = tmp_path / "data.csv"
    if isinstance(content, bytes):
        data.write_bytes(content)
    else:
        data.write_text(content, encoding="utf-8")
    args = ["fit", str(data), "--components", "2", "--engine", "stanli"]
    if not any(flag in extra for flag in ("--chains", "--warmup", "--draws")):
        args += ["--method", "optimize"]
    return cli.main([*args, "--out", str(tmp_path / "out"), *extra])


def _refused(code: int, err: str, patterns: list[str]) -> None:
    assert code == 2, err
    assert err.startswith("stanmix: error: "), err
    assert err.count("\n") == 1, err
    for pattern in patterns:
        assert re.search(pattern, err), (pattern, err)


TWO_COLUMNS = "x,y\n1,2\n3,4\n5,1\n"

REFUSED_DATA = {
    "short line": (
        "x,y\n1,2\n3\n4,5\n",
        [],
        [
            r"line 3 of data\.csv has 1 field but the header \(line 1\) has 2",
            "one field per column",
        ],
    ),
    "long line": (
        "x,y\n1,2\n3,4,5\n6,7\n",
        [],
        [r"line 3 of data\.csv has 3 fields but the header \(line 1\) has 2"],
    ),
    "blank lines count as lines": (
        "\n\nx,y\n1,2\n\n3,4,5\n6,7\n8\n",
        [],
        [
            r"line 6 of data\.csv has 3 fields but the header \(line 3\) has 2 "
            r"\(line 8 also has a wrong number of fields\)"
        ],
    ),
    "a quoted line break counts as a line": (
        'x,y\n1,"2\n"\n3,4,5\n',
        [],
        [r"line 4 of data\.csv has 3 fields"],
    ),
    "comment line": (
        "x,y\n# measured in 2024\n1,2\n3,4\n",
        [],
        [r"line 2 of data\.csv has 1 field", "no comment lines"],
    ),
    "duplicated header": (
        "x,x\n1,2\n3,4\n5,1\n",
        [],
        [r"header of data\.csv \(line 1\) names column 'x' 2 times \(columns 1 and 2"],
    ),
    "duplicated header chosen with --columns": (
        "x,y, x\n1,2,3\n3,4,5\n5,1,2\n",
        ["--columns", "x,y"],
        [r"names column 'x' 2 times \(columns 1 and 3\)"],
    ),
    "saved row index": (
        ",x,y\n0,1,2\n1,3,4\n2,5,1\n",
        [],
        [
            r"column 1 of data\.csv has no name in the header \(line 1\)",
            "saved row index",
            r"index=False",
            "--columns",
        ],
    ),
    "saved row index read and saved again": (
        "Unnamed: 0,x,y\n0,1,2\n1,3,4\n2,5,1\n",
        [],
        [r"column 1 of data\.csv is named 'Unnamed: 0'", "saved row index"],
    ),
    "empty column": (
        "x,y,z\n1,2,\n3,4,\n5,1,\n",
        [],
        [r"column 'z' of data\.csv is empty: every cell is missing"],
    ),
    "empty column chosen with --columns": (
        "x,y,z\n1,2,NA\n3,4,\n5,1,NaN\n",
        ["--columns", "x,z"],
        [r"column 'z' of data\.csv is empty"],
    ),
    "text cell after blank lines": (
        "x,y\n1,2\n\n\n3,abc\n5,1\n",
        [],
        [r"column 'y' of data\.csv is not numeric: line 5 has 'abc'"],
    ),
    "value below the limit after a blank line": (
        "x,y\n1,2\n\n0.5,3\n4,5\n",
        ["--lower-limit", "x=1"],
        [r"x=1: 1 value\(s\) of column 'x' lie below the limit \(line 4 of data\.csv"],
    ),
    "infinite value": (
        "x,y\n1,2\n\n-inf,3\n4,5\n",
        [],
        [r"line 4 of data\.csv has an infinite value in column 'x' \('-inf'\)"],
    ),
    "line with every cell missing": (
        "x,y\n1,2\n\n,\n3,4\n5,1\n",
        [],
        [r"line 4 of data\.csv has every cell missing in the fitted columns \(x, y\)"],
    ),
    "byte order mark is not part of the first name": (
        "\ufeffx,y\n1,2\nfoo,3\n",
        [],
        [r"column 'x' of data\.csv is not numeric: line 3 has 'foo'"],
    ),
    "not UTF-8": (
        b"x,y\n1,2\n\xe9,3\n",
        [],
        [r"line 3 of data\.csv is not UTF-8 text \(byte 0xe9\)"],
    ),
    "unclosed quote": (
        'x,y\n1,2\n"3,4\n5,6\n',
        [],
        [r"line 3 of data\.csv cannot be read as CSV", "quotes"],
    ),
    "semicolons": (
        "x;y\n1;2\n3;4\n",
        [],
        ["looks separated by semicolons"],
    ),
    "decimal comma": (
        'x,y\n1,2\n"1,5",3\n',
        [],
        [r"line 3 has '1,5'", r"decimals with a point"],
    ),
    "empty file": ("", [], [r"data\.csv is empty"]),
    "blank file": ("\n\n  \n", [], [r"data\.csv is empty"]),
    "values too large": (
        "x,y\n1e200,1\n3e200,2\n2e200,5\n",
        [],
        [r"column 'x' of data\.csv holds values too large .* \(up to 3e\+200\)"],
    ),
    "constant column": (
        "x,y\n1,2\n1,3\n,4\n1,5\n",
        [],
        [r"column 'x' of data\.csv has the same value \(1\) on every line"],
    ),
    "column censored throughout": (
        "x,y\n0.1,1\n0.1,2\n,3\n0.1,5\n",
        ["--lower-limit", "x=0.1"],
        [
            r"every value of column 'x' of data\.csv lies at its limit "
            r"\(--lower-limit x=0\.1\)"
        ],
    ),
    "column censored at both ends": (
        "x,y\n0.1,1\n9,2\n0.1,5\n",
        ["--lower-limit", "x=0.1", "--upper-limit", "x=9"],
        [r"lies at its limit \(--lower-limit x=0\.1 and --upper-limit x=9\)"],
    ),
    "constant apart from censored values": (
        "x,y\n0.1,1\n3,2\n3,5\n",
        ["--lower-limit", "x=0.1"],
        [r"same value \(3\) on every line with a value apart from the values at"],
    ),
}


@pytest.mark.parametrize(
    ("content", "extra", "patterns"),
    list(REFUSED_DATA.values()),
    ids=list(REFUSED_DATA),
)
def test_bad_data_is_refused_naming_line_and_column(
    tmp_path, capsys, no_fit, content, extra, patterns
):
    code = _fit(tmp_path, content, *extra)
    _refused(code, capsys.readouterr().err, patterns)
    assert os.listdir(tmp_path) == ["data.csv"]


REFUSED_FLAGS = {
    "negative seed": (["--seed", "-1"], [r"argument --seed: must be from 0 to"]),
    "seed above 2**31 - 1": (
        ["--seed", "2147483648"],
        [r"argument --seed: must be from 0 to 2147483647 \(2\*\*31 - 1\), got 2147"],
    ),
    "fractional seed": (
        ["--seed", "1.5"],
        [r"argument --seed: expects a whole number, got '1\.5'"],
    ),
    "zero chains": (["--chains", "0"], [r"argument --chains: must be at least 1"]),
    "zero draws": (["--draws", "0"], [r"argument --draws: must be at least 1"]),
    "negative warmup": (
        ["--warmup", "-1"],
        [r"argument --warmup: must be at least 0, got -1"],
    ),
    "zero components": (
        ["--components", "0"],
        [r"argument --components/-k: must be at least 1, got 0"],
    ),
    "fractional components": (
        ["-k", "2.5"],
        [r"argument --components/-k: expects a whole number, got '2\.5'"],
    ),
    "huge components": (
        ["-k", "99999999999"],
        [r"argument --components/-k: must be at most 2147483647"],
    ),
    "warmup for a posterior mode": (
        ["--method", "optimize", "--warmup", "10"],
        [r"--warmup does not apply to --method optimize"],
    ),
    "chains and draws for a posterior mode": (
        ["--method", "optimize", "--chains", "2", "--draws", "5"],
        [r"--chains and --draws do not apply to --method optimize"],
    ),
    "chains for ADVI": (
        ["--method", "variational", "--chains", "2"],
        [r"--chains does not apply to --method variational"],
    ),
    "too few NUTS draws": (
        ["--method", "sample", "--draws", "3"],
        [r"--draws 3 is too few for NUTS: .* at least 4 draws per chain; use "],
    ),
    "unknown engine": (["--engine", "magic"], [r"unknown engine 'magic'"]),
    "misspelt flag": (
        ["--colums", "x"],
        [r"unrecognized arguments: --colums x \(see 'stanmix fit --help'\)"],
    ),
}


@pytest.mark.parametrize(
    ("extra", "patterns"), list(REFUSED_FLAGS.values()), ids=list(REFUSED_FLAGS)
)
def test_bad_fit_flags_are_refused_naming_the_flag(
    tmp_path, capsys, no_fit, extra, patterns
):
    data = tmp_path / "data.csv"
    data.write_text(TWO_COLUMNS)
    out = tmp_path / "out"
    args = ["fit", str(data), "--components", "2", "--out", str(out), *extra]
    code = cli.main(args)
    _refused(code, capsys.readouterr().err, patterns)
    assert os.listdir(tmp_path) == ["data.csv"]


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        (["--n", "0"], r"argument --n: must be at least 5, got 0"),
        (["--n", "4"], r"argument --n: must be at least 5, got 4"),
        (["--method", "optimize"], r"unrecognized arguments: --method optimize"),
        (["--seed", "-3"], r"argument --seed: must be from 0 to 2147483647"),
        (["--chains", "0"], r"argument --chains: must be at least 1"),
        (["--warmup", "-5"], r"argument --warmup: must be at least 0"),
        (["--draws", "x"], r"argument --draws: expects a whole number, got 'x'"),
    ],
)
def test_bad_demo_flags_are_refused_naming_the_flag(
    tmp_path, monkeypatch, capsys, no_fit, extra, pattern
):
    monkeypatch.chdir(tmp_path)
    code = cli.main(["demo", *extra])
    _refused(code, capsys.readouterr().err, [pattern, r"see 'stanmix demo --help'"])
    assert os.listdir(tmp_path) == []


def test_folder_as_data_and_bad_out_are_refused(tmp_path, capsys, no_fit):
    folder = tmp_path / "measurements"
    folder.mkdir()
    data = tmp_path / "data.csv"
    data.write_text(TWO_COLUMNS)
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    args = ["fit", "--components", "2", "--method", "optimize"]

    code = cli.main([*args, str(folder), "--out", str(tmp_path / "out")])
    _refused(code, capsys.readouterr().err, [r"measurements' is a folder, not a CSV"])

    code = cli.main([*args, str(data), "--out", str(notes / "results")])
    _refused(
        code,
        capsys.readouterr().err,
        [r"--out '.*notes\.txt/results' cannot be created: '.*notes\.txt' is a file"],
    )

    code = cli.main([*args, str(data), "--out", str(notes)])
    _refused(code, capsys.readouterr().err, [r"--out '.*notes\.txt' exists and is not"])

    assert sorted(os.listdir(tmp_path)) == ["data.csv", "measurements", "notes.txt"]
    assert notes.read_text() == "mine"
    assert os.listdir(folder) == []


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="permissions do not stop root",
)
def test_unwritable_out_is_refused(tmp_path, capsys, no_fit):
    data = tmp_path / "data.csv"
    data.write_text(TWO_COLUMNS)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        code = cli.main(["fit", str(data), "-k", "2", "--out", str(locked / "results")])
        _refused(code, capsys.readouterr().err, [r"permission denied"])
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o700)


def _clusters(n: int = 40) -> pd.DataFrame:
    return sm.datasets.mixture_sample(
        [0.5, 0.5], [[0.0, 0.0], [4.0, 3.0]], 1.0, n, seed=7, columns=["x", "y"]
    ).X


def test_index_and_duplicates_left_out_by_columns_fit(tmp_path, capsys):
    """A saved index and duplicated names are fine when --columns leaves them
    out; blank lines are skipped; the largest seed is accepted."""
    df = _clusters()
    df["note"] = "a"
    text = df.to_csv(index=True).replace(",note", ",note,note", 1)
    lines = text.splitlines()
    lines = [lines[0]] + [f"{line},b" for line in lines[1:]]
    lines.insert(5, "")
    data = tmp_path / "data.csv"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    code = cli.main(
        [
            "fit",
            str(data),
            "-k",
            "2",
            "--columns",
            "x,y",
            "--method",
            "optimize",
            "--engine",
            "stanli",
            "--seed",
            str(2**31 - 1),
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert sorted(os.listdir(out)) == RESULTS
    membership = pd.read_csv(out / "membership.csv")
    assert membership["observation"].nunique() == len(df)
    assert "Fitting 2 components to 40 rows of data.csv (columns x, y)" in captured.out


def test_chains_warmup_and_draws_reach_the_sampler(tmp_path, capsys, monkeypatch):
    seen = {}
    real_fit = sm.Mixture.fit

    def spy(self, X, **kwargs):
        seen.update(kwargs)
        return real_fit(self, X, **kwargs)

    monkeypatch.setattr(sm.Mixture, "fit", spy)
    data = tmp_path / "data.csv"
    _clusters().to_csv(data, index=False)
    out = tmp_path / "out"
    code = cli.main(
        [
            *("fit", str(data), "-k", "2", "--engine", "stanli", "--no-progress"),
            *("--chains", "1", "--warmup", "30", "--draws", "20", "--seed", "0"),
            *("--out", str(out)),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (seen["chains"], seen["warmup"], seen["draws"], seen["seed"]) == (
        1,
        30,
        20,
        0,
    )
    assert "NUTS (1 chain, 30 warmup + 20 draws each), seed 0" in captured.out
    idata = az.from_netcdf(str(out / "posterior.nc"))
    assert idata.posterior["mu"].shape[:2] == (1, 20)


def test_library_warnings_become_stanmix_messages(tmp_path, capsys):
    """A warning the library raises is shown as `stanmix: warning: ...`,
    without the Python warning's file, line and category."""
    data = tmp_path / "data.csv"
    _clusters().to_csv(data, index=False)
    code = cli.main(
        [
            *("fit", str(data), "-k", "4", "--method", "optimize"),
            *("--engine", "stanli", "--out", str(tmp_path / "out")),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert re.search(r"^stanmix: warning: \d of 4 optimizer starts", err, re.M), err
    assert "RuntimeWarning" not in err and ".py:" not in err
    assert all(line.startswith("stanmix: ") for line in err.splitlines()), err


def test_stderr_holds_only_stanmix_messages(tmp_path):
    """Without --verbose the command's standard error holds nothing but
    stanmix's warnings; --verbose adds the log (stanmix's information here).
    Too few NUTS draws are refused before any fitting, in one line."""
    data = tmp_path / "data.csv"
    _clusters().to_csv(data, index=False)
    args = [
        *(sys.executable, "-m", "stanmix", "fit", str(data), "-k", "2"),
        *("--engine", "stanli", "--method", "optimize", "--no-progress"),
    ]
    env = {**os.environ, "MPLBACKEND": "Agg"}

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*args, *extra], capture_output=True, text=True, env=env, timeout=600
        )

    quiet = run("--out", str(tmp_path / "a"))
    assert quiet.returncode == 0, quiet.stderr
    lines = quiet.stderr.splitlines()
    assert all(line.startswith("stanmix: warning: ") for line in lines), lines
    verbose = run("--verbose", "--out", str(tmp_path / "b"))
    assert verbose.returncode == 0, verbose.stderr
    assert "stanmix: info: anchor dimension: x" in verbose.stderr
    assert np.all([(tmp_path / d).is_dir() for d in ("a", "b")])

    # The last --method counts: this run samples.
    short = run("--method", "sample", "--draws", "3", "--out", str(tmp_path / "c"))
    assert short.returncode == 2
    assert short.stderr.startswith("stanmix: error: --draws 3 is too few for NUTS")
    assert short.stderr.count("\n") == 1, short.stderr
    assert not (tmp_path / "c").exists()


# fit-regression has no --columns: its advice names --predictors, --weights-from
# or --response, the options that choose its columns.
REGRESSION_LINES = "x,z,y\n1,5,2\n2,5,3\n3,5,5\n4,5,4\n"

REFUSED_REGRESSION_DATA = {
    "constant column among the automatic predictors": (
        REGRESSION_LINES,
        [],
        [r"column 'z' .* same value \(5\)", r"naming the predictors with --predictors"],
    ),
    "constant column named by --predictors": (
        REGRESSION_LINES,
        ["--predictors", "x,z"],
        [r"column 'z' .* same value \(5\)", r"leave it out of --predictors$"],
    ),
    "constant column named by --weights-from": (
        REGRESSION_LINES,
        ["--weights-from", "z"],
        [r"column 'z' .* same value \(5\)", r"leave it out of --weights-from$"],
    ),
    "constant column in both lists": (
        REGRESSION_LINES,
        ["--predictors", "x,z", "--weights-from", "z"],
        [r"leave it out of --predictors and --weights-from$"],
    ),
    "empty response": (
        "x,y\n1,\n2,\n3,\n",
        [],
        [r"column 'y' .* is empty", r"give another column as --response \(now 'y'\)"],
    ),
    "saved pandas index": (
        ",x,y\n0,1,2\n1,2,3\n2,3,5\n",
        [],
        [
            r"column 1 of data\.csv has no name .* saved row index",
            r"choose the columns to fit with --predictors \(and --weights-from\)$",
        ],
    ),
    "duplicated header": (
        "x,x,y\n1,2,3\n2,3,4\n3,1,5\n",
        [],
        [r"names column 'x' 2 times", r"with --predictors \(and --weights-from\)$"],
    ),
    "text among the numbers of an automatic predictor": (
        "x,y\n1,2\nabc,3\n3,5\n",
        [],
        [
            r"column 'x' of data\.csv is not numeric: line 3 has 'abc'",
            r"leave the column out with --predictors \(and --weights-from\)$",
        ],
    ),
}


@pytest.mark.parametrize(
    ("content", "extra", "patterns"),
    list(REFUSED_REGRESSION_DATA.values()),
    ids=list(REFUSED_REGRESSION_DATA),
)
def test_fit_regression_advice_names_its_own_flags(
    tmp_path, capsys, no_fit, content, extra, patterns
):
    data = tmp_path / "data.csv"
    data.write_text(content)
    args = ["fit-regression", str(data), "--response", "y", "-k", "2"]
    args += ["--method", "optimize", "--out", str(tmp_path / "out"), *extra]
    code = cli.main(args)
    err = capsys.readouterr().err
    _refused(code, err, patterns)
    assert "--columns" not in err
    assert os.listdir(tmp_path) == ["data.csv"]


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        ("x,z,y\n1,5,2\n2,5,3\n3,5,5\n", r"no spread to scale by; leave it out with"),
        (",x,y\n0,1,2\n1,2,3\n", r"choose the columns to fit with --columns$"),
        ("x,y\n1,2\nabc,3\n3,5\n", r"leave the column out with --columns$"),
    ],
)
def test_fit_advice_still_names_columns(tmp_path, capsys, no_fit, content, pattern):
    code = _fit(tmp_path, content)
    _refused(code, capsys.readouterr().err, [pattern, "--columns"])
