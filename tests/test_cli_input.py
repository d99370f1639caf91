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
from stanmix.cli import limits
from stanmix.csv_input import read_csv, read_header
from stanmix.inference_data import az
from stanmix.output import RESULT_FILES

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
    "unquoted decimal comma in a censored cell": (
        "x,y\n1.2,<0,5\n2.0,3.1\n",
        ["--censored-text"],
        [
            r"line 2 of data\.csv has 3 fields but the header \(line 1\) has 2",
            r"'<0,5' \(fields 2 and 3\) reads like a decimal comma: write it "
            r"'<0\.5'",
        ],
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
    "comment as the first line": (
        "# measured 2024-05-01\nx,y\n1.0,2.0\n2.0,3.5\n3.0,1.0\n",
        [],
        [
            r"^stanmix: error: data\.csv starts with a comment line \(line 1: "
            r"'# measured 2024-05-01'\), which would be read as the header; a CSV "
            r"file has no comment lines: delete it \(and any other line starting "
            r"with '#'\) so that the first line names the columns\n$"
        ],
    ),
    "comment with a comma as the first line, after a blank line": (
        "\n# measured 2024-05-01, by hand\nx,y\n1.0,2.0\n2.0,3.5\n",
        [],
        [
            r"^stanmix: error: data\.csv starts with a comment line \(line 2: "
            r"'# measured 2024-05-01,by hand'\), which would be read as the header"
        ],
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
    "a limit rounded above the values recorded at it": (
        "x,y\n-5.389023757326167,2\n3,3\n-5.389023757326167,1\n4,5\n",
        ["--lower-limit", "x=-5.389"],
        [
            r"x=-5.389: 2 value\(s\) of column 'x' lie below the limit \(lines 2 "
            r"and 4 of data\.csv\); censored values must be recorded at the limit "
            r"itself; all 2 such values of column 'x' are -5\.389023757326167: if "
            r"that is the limit, give it as the data hold it \(--lower-limit "
            r"x=-5\.389023757326167\)$"
        ],
    ),
    "infinite value": (
        "x,y\n1,2\n\n-inf,3\n4,5\n",
        [],
        [r"line 4 of data\.csv has an infinite value in column 'x' \('-inf'\)"],
    ),
    "line with every cell missing": (
        "x,y\n1,2\n\n,\n3,4\n5,1\n",
        [],
        [
            r"line 4 of data\.csv has every cell missing in the fitted columns "
            r"\(x, y\); such a line says nothing about the clusters: delete it$"
        ],
    ),
    "lines with every cell missing": (
        "x,y\n1,2\n,\n,\n3,4\n5,1\n",
        [],
        [r"lines 3 and 4 of data\.csv have every cell .*; such lines .*: delete them"],
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
    "semicolons and decimal commas, a comma in a name": (
        "id;Pb, ppb;Cd, ppb\nS0;10,126;5,788\nS1;9,868;5,844\n",
        [],
        [r"looks separated by semicolons, not commas: its header \(line 1\) and "],
    ),
    "tabs and decimal commas, a comma in a name": (
        "id\tPb, ppb\tCd, ppb\nS0\t10,126\t5,788\nS1\t9,868\t5,844\n",
        [],
        ["looks separated by tabs, not commas"],
    ),
    "a less-or-equal sign": (
        "x,y\n1,2\n3,\u22645\n5,6\n",
        [],
        [r"line 3 has '\u22645'; write '\u2264' as '<=', and give --censored-text"],
    ),
    "a less-or-equal sign with --censored-text": (
        "x,y\n1,2\n3,\u22645\n5,6\n",
        ["--censored-text"],
        [r"line 3 has '\u22645'; write '\u2264' as '<='; or leave the column out"],
    ),
    "a non-detect word with --censored-text": (
        "x,y\n1,2\n3,ND\n5,6\n",
        ["--censored-text"],
        [
            r"line 3 has 'ND'; write a value censored .* as '<' and its limit "
            r"\(e\.g\. '<0\.5'\), or as the limit itself"
        ],
    ),
    "a semicolon line among comma lines": (
        "x,y\n1,2\n3;4\n",
        [],
        [r"line 3 of data\.csv has 1 field but .*; the line holds semicolons"],
    ),
    "decimal comma": (
        'x,y\n1,2\n"1,5",3\n',
        [],
        [
            r"^stanmix: error: column 'x' of data\.csv is not numeric: line 3 has "
            r"'1,5'; that is a decimal comma: write decimals with a point "
            r"\('1\.5'\), as the file must use '\.' as its decimal mark; or leave "
            r"the column out with --columns\n$"
        ],
    ),
    "typographic minus sign": (
        "x,y\n1,2\n\u22121.5,3\n4,\u20132\n",
        [],
        [
            r"^stanmix: error: column 'x' of data\.csv is not numeric: line 3 has "
            r"'\u22121\.5'; its minus sign is not '-' but a typographic one \(as a "
            r"word processor or a PDF writes it\): write it '-1\.5'; or leave the "
            r"column out with --columns\n$"
        ],
    ),
    "thousands separators": (
        'x,y\n1,2\n"1,234.5",3\n',
        [],
        [r"line 3 has '1,234\.5'; write numbers without thousands separators"],
    ),
    "a comma that may be either": (
        'x,y\n1,2\n"-1,234",3\n',
        [],
        [
            r"line 3 has '-1,234'; write decimals with a point \(1\.5\), not a "
            r"comma, and numbers without thousands separators \(1234\)"
        ],
    ),
    "empty file": ("", [], [r"data\.csv is empty"]),
    "blank file": ("\n\n  \n", [], [r"data\.csv is empty"]),
    "values too large": (
        "x,y\n1e200,1\n3e200,2\n2e200,5\n",
        [],
        [r"column 'x' of data\.csv holds values too large .* \(up to 3e\+200\)"],
    ),
    "one data row": (
        "x,y\n1,2\n",
        [],
        [r"data\.csv has one data row \(line 2\): a mixture is fitted to many rows"],
    ),
    "values too close together": (
        "x,y\n1e-200,1\n3e-200,2\n2e-200,5\n",
        [],
        [
            r"column 'x' of data\.csv varies by too small an amount to compute "
            r"with \(standard deviation 8\.16e-201; squares of such numbers "
            r"underflow\); rescale the column, e\.g\. express it in smaller units"
        ],
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
    "--id not a column": (
        "id,x,y\na,1,2\nb,3,4\nc,5,1\n",
        ["--id", "ID"],
        [r"--id 'ID' is not a column of data\.csv \(columns: id, x, y\)"],
    ),
    "--id also fitted": (
        "id,x,y\na,1,2\nb,3,4\nc,5,1\n",
        ["--id", "x", "--columns", "x,y"],
        [r"column 'x' is both the rows' names \(--id\) and a column to fit"],
    ),
    "--id cell empty": (
        "id,x,y\na,1,2\n\n ,3,4\nc,5,1\n",
        ["--id", "id"],
        [r"column 'id' \(--id\) of data\.csv is empty on line 4; give every row"],
    ),
    "--id cell NA": (
        "id,x,y\na,1,2\nNA,3,4\nc,5,1\nnull,2,2\n",
        ["--id", "id"],
        [
            r"column 'id' \(--id\) of data\.csv is empty on lines 3 and 5 \(it "
            r"reads 'NA', 'null', which CSV readers, pandas' among them, take as a "
            r"missing value\); give every row"
        ],
    ),
    "--id name twice": (
        "id,x,y\na,1,2\nb,3,4\na ,5,1\n",
        ["--id", "id"],
        [r"lines 2 and 4 of data\.csv have the same name 'a' in column 'id'"],
    ),
    "--id column twice in the header": (
        "id,x,id\na,1,p\nb,3,q\nc,5,r\n",
        ["--id", "id"],
        [r"names column 'id' 2 times \(columns 1 and 3\); rename one"],
    ),
    "--id empty": ("id,x,y\na,1,2\nb,3,4\nc,5,1\n", ["--id", " "], ["--id is empty"]),
    "no header line": (
        "2.5,-1.25\n1,2\n3,-4\n5,1\n",
        [],
        [
            r"data.csv has no header line: its first line \(line 1\) holds numbers "
            r"\(2.5, -1.25\), each within the values of its column below, not "
            r"column names; add a first line naming"
        ],
    ),
    "data lines ending with a comma the header lacks": (
        "x,y\n1,2,\n3,4,\n5,1,\n",
        [],
        [
            r"line 2 of data.csv ends with a comma that its header \(line 1\) does "
            r"not, as do lines 3 and 4: .*remove the trailing commas"
        ],
    ),
    "UTF-16 without a byte-order mark": (
        "x,y\n1,2\n3,4\n5,1\n".encode("utf-16-le"),
        [],
        [
            r"data.csv holds NUL bytes \(the first on line 1\), as UTF-16 text .* "
            r"save the file as UTF-8 CSV"
        ],
    ),
    "a stray NUL byte": (
        b"x,y\n" + b"1,2\n" * 20 + b"3,\x004\n5,1\n",
        [],
        [r"line 22 of data.csv holds a NUL byte \(0x00\), which no text has"],
    ),
    "a separator line for semicolons": (
        "sep=;\nx;y\n1;2\n",
        [],
        [
            r"the first line of data.csv is a spreadsheet's separator line \('sep=;'\) "
            r"for "
            "another separator"
        ],
    ),
    "values beyond a float's digits": (
        "x,y\n" + "".join(f"1000000000000000.00{d},{d}\n" for d in range(1, 9)),
        [],
        [
            r"column 'x' of data.csv holds values that differ only beyond the digits "
            r"a float holds \(about 16 significant digits\): 8 distinct values read "
            r"as 1 number \(line 2: '1000000000000000.001' and line 3: "
        ],
    ),
    "a decimal comma in a limit flag": (
        TWO_COLUMNS,
        ["--lower-limit", "x=0,5"],
        [
            r"'0,5' is neither a number .*; for the number, write its decimals with "
            r"a point \(0.5\)"
        ],
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
    "empty title": (
        ["--title", " "],
        [r"argument --title: is empty; give a title, or leave the flag out"],
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
    "ADVI's algorithm for NUTS": (
        ["--method", "sample", "--algorithm", "fullrank"],
        [r"--algorithm does not apply to --method sample"],
    ),
    "unknown ADVI algorithm": (
        ["--method", "variational", "--algorithm", "full"],
        [r"argument --algorithm: invalid choice: 'full'"],
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


@pytest.mark.parametrize("result", ["summary.csv", "report.html", "selection.csv"])
def test_a_folder_named_as_a_result_file_in_out_is_refused_not_removed(
    tmp_path, capsys, no_fit, result
):
    """A run replaces or removes the result files in --out; a folder of that
    name is the user's, and the run stops before fitting rather than delete
    it with what it holds."""
    data = tmp_path / "data.csv"
    data.write_text(TWO_COLUMNS)
    out = tmp_path / "keep"
    (out / result).mkdir(parents=True)
    (out / result / "notes.txt").write_text("mine")
    code = cli.main(["fit", str(data), "-k", "2", "--out", str(out)])
    _refused(
        code,
        capsys.readouterr().err,
        [rf"--out '.*keep' holds a folder named {re.escape(result)}, where this run"],
    )
    assert (out / result / "notes.txt").read_text() == "mine"


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
        _refused(code, capsys.readouterr().err, [r"\(Permission denied\)"])
        assert os.listdir(locked) == []
    finally:
        locked.chmod(0o700)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
def test_out_where_no_file_can_be_made_is_refused_before_the_fit(
    tmp_path, capsys, no_fit
):
    """/proc lets no one create files, root included, though os.access says
    root may: the folder is probed by making one, before any fit."""
    data = tmp_path / "data.csv"
    data.write_text(TWO_COLUMNS)
    code = cli.main(["fit", str(data), "-k", "2", "--out", "/proc/stanmix-results"])
    _refused(code, capsys.readouterr().err, [r"--out '/proc/stanmix-results': cannot "])


def test_a_column_named_with_a_hash_is_not_a_comment(tmp_path):
    """A header whose first name starts with '#' and fits the lines below
    it (as many fields, numbers beneath) is a header."""
    data = tmp_path / "data.csv"
    data.write_text("#n,x\n1,2\n3,4\n")
    table = read_csv(data)
    assert list(table.frame.columns) == ["#n", "x"]
    assert table.frame.to_numpy().tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_a_field_quoted_after_a_space_is_read_as_quoted(tmp_path):
    """A file written with ", " between fields: a quoted field after the
    space (a name holding a comma, a quoted number) is one quoted field, not
    text holding quotes or two fields split at its comma."""
    data = tmp_path / "data.csv"
    data.write_text('id, x, "Pb, ppb"\na, 1, "2"\n b , 3 ,4\n"c", 5, 1\n')
    table = read_csv(data, id_column="id")
    assert list(table.frame.columns) == ["x", "Pb, ppb"]
    assert table.frame.index.tolist() == ["a", "b", "c"]
    assert table.frame.to_numpy().tolist() == [[1.0, 2.0], [3.0, 4.0], [5.0, 1.0]]


def test_trailing_commas_leave_out_an_empty_last_column(tmp_path, caplog):
    """Every line ending with a comma gives an empty last column with no
    name: it is left out with a warning, not taken for a saved row index."""
    data = tmp_path / "data.csv"
    data.write_text("x,y,\n1.0,2.0,\n2.0,3.5,\n3.0,1.0, \n")
    table = read_csv(data)
    assert list(table.frame.columns) == ["x", "y"]
    assert table.frame.to_numpy().tolist() == [[1.0, 2.0], [2.0, 3.5], [3.0, 1.0]]
    assert caplog.messages == [
        "every line of data.csv ends with a comma: an empty last column with no "
        "name and no values, left out; remove the trailing commas to silence this "
        "warning"
    ]
    caplog.clear()
    data.write_text("x,y,,\n1,2,,\n3,4,,\n")
    assert list(read_csv(data).frame.columns) == ["x", "y"]
    assert caplog.messages[0].startswith(
        "every line of data.csv ends with 2 commas: 2 empty columns with no name"
    )


def test_a_spreadsheets_separator_line_is_left_out(tmp_path, caplog):
    """Excel's first line 'sep=,' (or quoted) names the separator, not the
    columns: left out by the reader and by the header the limit flags are
    read against."""
    data = tmp_path / "data.csv"
    for first in ("sep=,", '"sep=,"'):
        caplog.clear()
        data.write_text(f'{first}\nx,"Pb, ppb"\n1,2\n3,4\n')
        table = read_csv(data)
        assert list(table.frame.columns) == ["x", "Pb, ppb"] and table.header_line == 2
        assert caplog.messages == [
            "line 1 of data.csv is a spreadsheet's 'sep=,' line, not the header: "
            "left out"
        ]
        assert read_header(data) == ["x", "Pb, ppb"]


def test_a_header_of_numbers_beyond_the_values_is_read_as_names(tmp_path, caplog):
    """Years or wavelengths name columns: beyond the values below them they
    are read as names, with a warning (within them, an observation)."""
    data = tmp_path / "data.csv"
    for header in ("2019,2020", "400.5,-401.0"):
        caplog.clear()
        data.write_text(f"{header}\n1.5,2\n3,4\n")
        assert list(read_csv(data).frame.columns) == header.split(",")
        assert caplog.messages[0].startswith("the header of data.csv (line 1) holds")


def test_data_from_a_stream_is_read_once_and_named_so(tmp_path, capsys, monkeypatch):
    """A pipe or standard input can be read once, while the command reads
    the header for the limit flags, then the file: the stream is read into
    a file first, named stdin (or pipe) in messages and the report."""
    import io

    content = "x,y\n" + "".join(
        f"{v:.3f},{w:.3f}\n" for v, w in _clusters(30).to_numpy()
    )
    monkeypatch.setattr(
        "sys.stdin", io.TextIOWrapper(io.BytesIO(content.encode()), encoding="utf-8")
    )
    lowest = min(float(line.split(",")[0]) for line in content.splitlines()[1:])
    out = tmp_path / "out"

    def fit(data: str):
        flags = ["-k", "2", "--method", "optimize", "--engine", "stanli"]
        flags += ["--lower-limit", f"x={lowest:.3f}", "--out", str(out)]
        code = cli.main(["fit", data, *flags, "--no-progress"])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        return captured

    captured = fit("-")
    assert "Fitting 2 components to 30 rows of stdin (columns x, y; 1 censored" in (
        captured.out
    )
    assert "<title>stdin: 2-component mixture" in (out / "report.html").read_text()
    fifo = tmp_path / "fifo"
    if not hasattr(os, "mkfifo"):
        return
    os.mkfifo(fifo)
    import threading

    writer = threading.Thread(target=lambda: fifo.write_text(content))
    writer.start()
    captured = fit(str(fifo))
    writer.join()
    assert "rows of pipe (columns x, y; 1 censored" in captured.out


def test_a_column_numbering_the_rows_is_warned_of(tmp_path, capsys, no_fit):
    """Sample numbers 1001, 1002, ... in a fitted column would be clustered
    on as a measurement: a warning names --id and --columns (the fit itself
    is stopped here by no_fit; exit 1)."""
    df = _clusters(20).round(3)
    df.insert(0, "sample", np.arange(1001, 1021))
    assert _fit(tmp_path, df.to_csv(index=False)) == 1
    assert (
        "stanmix: warning: column 'sample' of data.csv holds consecutive whole "
        "numbers (1001, 1002, ..., 1020), as sample numbers or a row index do, and "
        "is fitted as a measurement: if it numbers the rows, name the rows by it "
        "with --id sample, or leave it out with --columns"
    ) in capsys.readouterr().err
    # fit-regression's predictors (every other column by default) likewise,
    # from 0 or 1 (a row index); years one per row are a time, not warned of.
    for start, warned in ((1, True), (1991, False)):
        reg = df.rename(columns={"y": "resp"}).assign(
            sample=np.arange(start, start + 20)
        )
        (tmp_path / "data.csv").write_text(reg.to_csv(index=False))
        flags = ["--response", "resp", "-k", "2", "--method", "optimize"]
        flags += ["--out", str(tmp_path / "o2")]
        code = cli.main(["fit-regression", str(tmp_path / "data.csv"), *flags])
        assert code == 1  # no_fit
        said = (
            "is fitted as a predictor: if it numbers the rows, name the rows by it "
            "with --id sample, or leave it out with --predictors"
        ) in capsys.readouterr().err
        assert said == warned, start
    # Chosen with --columns, or shuffled measurements: no warning.
    for extra, frame in (
        (["--columns", "sample,x"], df),
        ([], df.assign(sample=np.random.default_rng(0).permutation(df["sample"]))),
    ):
        assert _fit(tmp_path, frame.to_csv(index=False), *extra) == 1
        assert "consecutive" not in capsys.readouterr().err


def test_too_many_columns_for_full_covariance_are_refused_before_the_plan(
    tmp_path, capsys, no_fit
):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(8, 35)).round(2)).add_prefix("c")
    code = _fit(tmp_path, df.to_csv(index=False), "--covariance", "full")
    captured = capsys.readouterr()
    _refused(
        code,
        captured.err,
        [
            r"--covariance full handles at most 30 columns, got 35; use --covariance "
            r"diag or --covariance spherical"
        ],
    )
    assert "Fitting" not in captured.out


def test_version_flag(capsys):
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out == f"stanmix {sm.__version__}\n"


def test_trailing_comma_with_values_is_still_refused(tmp_path, capsys, no_fit):
    """A last column with no name but with values is not a trailing comma."""
    code = _fit(tmp_path, "x,y,\n1,2,0\n3,4,1\n5,1,\n")
    _refused(code, capsys.readouterr().err, [r"column 3 of data\.csv has no name"])


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
    # four components for two clusters: seed 4's starts find different modes
    code = cli.main(
        [
            *("fit", str(data), "-k", "4", "--method", "optimize", "--seed", "4"),
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
            r"column 'x' of data\.csv is not numeric: line 3 has 'abc'; covariates "
            r"are exact numbers: give the measured value, code a category as 0/1 "
            r"columns \(one per level but one\), or leave the column out of "
            r"--predictors \(and --weights-from\)$",
        ],
    ),
    "a category among the named predictors": (
        "x,site,y\n1,A,2\n2,B,3\n3,A,5\n",
        ["--predictors", "x,site"],
        [r"line 2 has 'A' \(3 such entries\); covariates are exact numbers"],
    ),
    "a censored value in a predictor": (
        "x,y\n1,2\n<0.1,3\n3,5\n",
        ["--predictors", "x"],
        [r"line 3 has '<0.1'; covariates are exact numbers"],
    ),
    "a non-detect in the response": (
        "x,y\n1,2\n2,ND\n3,5\n",
        [],
        [
            r"column 'y' of data\.csv is not numeric: line 3 has 'ND'; write a value "
            r"censored at a detection limit .* as an empty cell$"
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


def test_fit_of_a_file_with_trailing_commas(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text(_clusters().to_csv(index=False).replace("\n", ",\n"))
    out = tmp_path / "out"
    code = cli.main(
        [
            *("fit", str(data), "-k", "2", "--method", "optimize"),
            *("--engine", "stanli", "--no-progress", "--out", str(out)),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err.startswith(
        "stanmix: warning: every line of data.csv ends with a comma: an empty "
        "last column with no name and no values, left out; remove the trailing "
        "commas to silence this warning\n"
    )
    assert captured.out.startswith(
        "Fitting 2 components to 40 rows of data.csv (columns x, y) by the "
        "posterior mode, seed 1\n"
    )
    assert sorted(os.listdir(out)) == RESULTS


# -- the data file must not be among the results ---------------------------------
def _clobber_message(data: str, result: str, out: str) -> str:
    return (
        f"stanmix: error: the results would replace the data file {data!r}: it is "
        f"{result} in --out {out!r}, a file this run writes or removes; choose "
        "another --out (or move the data file)\n"
    )


COMMANDS = {
    "fit": ["fit", "-k", "2"],
    "select": ["select", "-k", "1-2"],
    "fit-regression": ["fit-regression", "--response", "y", "-k", "2"],
}


@pytest.mark.parametrize("result", RESULT_FILES)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_data_file_named_like_a_result_in_out_is_refused(
    tmp_path, monkeypatch, capsys, no_fit, command, result
):
    """Every result file (selection.csv too: a fit removes an earlier one)
    of every command that reads a data file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / result).write_text(TWO_COLUMNS)
    args = [*COMMANDS[command], result, "--method", "optimize", "--out", "."]
    code = cli.main(args)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == _clobber_message(result, result, ".")
    assert captured.out == ""
    assert os.listdir(tmp_path) == [result]
    assert (tmp_path / result).read_text() == TWO_COLUMNS


def test_data_file_reached_another_way_is_refused(tmp_path, capsys, no_fit):
    """The data path is compared once resolved: through a symbolic link, a
    '..' or an absolute path against a relative --out."""
    out = tmp_path / "results"
    out.mkdir()
    (out / "summary.csv").write_text(TWO_COLUMNS)
    link = tmp_path / "data.csv"
    link.symlink_to(out / "summary.csv")
    roundabout = tmp_path / "results" / ".." / "results" / "summary.csv"
    args = ["fit", "-k", "2", "--method", "optimize"]
    for data in (link, roundabout):
        code = cli.main([*args, str(data), "--out", str(out)])
        assert capsys.readouterr().err == _clobber_message(
            str(data), "summary.csv", str(out)
        )
        assert code == 2
    linked_out = tmp_path / "linked"
    linked_out.symlink_to(out)
    code = cli.main([*args, str(out / "summary.csv"), "--out", str(linked_out)])
    assert capsys.readouterr().err == _clobber_message(
        str(out / "summary.csv"), "summary.csv", str(linked_out)
    )
    assert code == 2
    assert sorted(os.listdir(out)) == ["summary.csv"]
    assert (out / "summary.csv").read_text() == TWO_COLUMNS


def test_data_file_beside_the_results_is_read(tmp_path, capsys, no_fit):
    """A data file in --out under another name is not refused: the run
    reaches the fit (which no_fit turns into a failure, exit 1)."""
    out = tmp_path / "results"
    out.mkdir()
    (out / "data.csv").write_text(TWO_COLUMNS)
    args = ["fit", str(out / "data.csv"), "-k", "2", "--method", "optimize"]
    assert cli.main([*args, "--out", str(out)]) == 1
    assert "AssertionError: the estimator was fitted" in capsys.readouterr().err
    assert os.listdir(out) == ["data.csv"]


# -- --out ---------------------------------------------------------------------
@pytest.mark.parametrize("command", [["fit", "data.csv", "-k", "2"], ["demo"]])
def test_empty_out_is_refused(tmp_path, monkeypatch, capsys, no_fit, command):
    """--out '' (an unset shell variable in --out "$OUT") is not taken as
    the current folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data.csv").write_text(TWO_COLUMNS)
    code = cli.main([*command, "--out", ""])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == (
        "stanmix: error: --out is empty; give a folder, such as --out results (is "
        "a shell variable in it unset?)\n"
    )
    assert captured.out == ""
    assert os.listdir(tmp_path) == ["data.csv"]


# -- the number of components against the data -----------------------------------
FEW_DISTINCT = "x,y\n1,2\n1,2\n3,4\n3,4\n5,1\n5,1\n"
TIED = "x,y\n" + "1,2\n3,4\n" * 10

REFUSED_COMPONENTS = {
    "fit, more than the rows": (
        ["fit", "-k", "500"],
        TWO_COLUMNS,
        "--components/-k 500 is more than the 3 rows of data.csv; a mixture "
        "cannot have more components than observations: use at most 3",
    ),
    "fit, more than the distinct rows": (
        ["fit", "-k", "4"],
        FEW_DISTINCT,
        "--components/-k 4 is more than the 3 distinct rows among the 6 of "
        "data.csv: the surplus components would sit on copies of the same rows; "
        "use at most 3",
    ),
    "fit, tied values": (
        ["fit", "-k", "3"],
        TIED,
        "--components/-k 3 is more than the 2 distinct rows among the 20 of "
        "data.csv: the surplus components would sit on copies of the same rows; "
        "use at most 2. Column(s) 'x' (2 values in 20 rows), 'y' (2 values in 20 "
        "rows) repeat a few values",
    ),
    "select, more than the rows": (
        ["select", "-k", "2-4"],
        TWO_COLUMNS,
        "--components/-k goes up to 4, which is more than the 3 rows of data.csv; "
        "a mixture cannot have more components than observations: use at most 3",
    ),
    "select, more than the distinct rows": (
        ["select", "-k", "1-5"],
        FEW_DISTINCT,
        "--components/-k goes up to 5, which is more than the 3 distinct rows "
        "among the 6 of data.csv: the surplus components would sit on copies of "
        "the same rows; use at most 3",
    ),
    "fit-regression, more than the distinct rows": (
        ["fit-regression", "--response", "y", "-k", "4"],
        FEW_DISTINCT,
        "--components/-k 4 is more than the 3 distinct rows among the 6 of "
        "data.csv: the surplus components would sit on copies of the same rows; "
        "use at most 3",
    ),
}


@pytest.mark.parametrize(
    ("command", "content", "message"),
    list(REFUSED_COMPONENTS.values()),
    ids=list(REFUSED_COMPONENTS),
)
def test_components_beyond_the_rows_are_refused_naming_the_flag(
    tmp_path, capsys, no_fit, command, content, message
):
    """Checked before the plan is printed, naming --components/-k (not the
    n_components of the Python API)."""
    data = tmp_path / "data.csv"
    data.write_text(content)
    args = [*command, str(data), "--method", "optimize"]
    code = cli.main([*args, "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.startswith(f"stanmix: error: {message}"), captured.err
    assert captured.err.count("\n") == 1
    assert "n_components" not in captured.err
    assert captured.out == ""
    assert os.listdir(tmp_path) == ["data.csv"]


@pytest.mark.parametrize("command", ["fit-regression", "select-regression"])
def test_data_the_estimator_refuses_is_refused_before_the_plan(
    tmp_path, capsys, no_fit, command
):
    """Predictors that are linear functions of each other are found by the
    estimator's own checks; the command runs them before it prints what it
    is about to fit, so the run ends with the refusal alone."""
    x = np.linspace(0.5, 6.0, 12)
    frame = pd.DataFrame({"y": np.sin(3 * x) + x, "x": x, "z": 2 * x + 1})
    data = tmp_path / "data.csv"
    data.write_text(frame.to_csv(index=False))
    k = ["-k", "2"] if command == "fit-regression" else ["-k", "1-2"]
    args = [command, str(data), "--response", "y", *k, "--method", "optimize"]
    code = cli.main([*args, "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    _refused(code, captured.err, [r"the predictors 'x', 'z' are linearly dependent"])
    assert captured.out == ""
    assert os.listdir(tmp_path) == ["data.csv"]


def test_names_holding_commas_and_equals_signs_reach_columns_and_limits(
    tmp_path, capsys
):
    """A header name with a comma is chosen by quoting it in --columns as
    the header does, and a name with '=' takes a limit (the item is split
    where a column of the file precedes the '='); an unquoted comma is two
    names, and the listing of the file's columns quotes the name so it is
    not read as two."""
    df = _clusters()
    df.columns = ["Pb, ppb", "Cd=ICP"]
    limit = float(df["Cd=ICP"].quantile(0.2))
    df.loc[df["Cd=ICP"] < limit, "Cd=ICP"] = limit
    df["note"] = "a"
    data = tmp_path / "data.csv"
    data.write_text(df.to_csv(index=False))
    common = ["fit", str(data), "-k", "2", "--method", "optimize"]
    common += ["--engine", "stanli", "--seed", "1", "--out", str(tmp_path / "out")]
    code = cli.main(
        [*common, "--columns", '"Pb, ppb",Cd=ICP', "--lower-limit", f"Cd=ICP={limit}"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert '(columns "Pb, ppb", Cd=ICP; 8 censored cells)' in captured.out
    summary = pd.read_csv(tmp_path / "out" / "summary.csv", index_col=0)
    assert {"mu[0, Pb, ppb]", "mu[0, Cd=ICP]"} <= set(summary.index)
    code = cli.main([*common, "--columns", "Pb, ppb,Cd=ICP"])
    _refused(
        code,
        capsys.readouterr().err,
        [r"'Pb', 'ppb' not in data\.csv \(columns: \"Pb, ppb\", Cd=ICP, note\)"],
    )
    # Quoted the same way in a limit flag and --anchor; and listed quoted.
    low = float(df["Pb, ppb"].quantile(0.2))
    capped = df.assign(**{"Pb, ppb": df["Pb, ppb"].clip(lower=low)})
    data.write_text(capped.to_csv(index=False))
    code = cli.main(
        [
            *common,
            "--columns",
            '"Pb, ppb",Cd=ICP',
            "--lower-limit",
            f'"Pb, ppb"={low}',
            "--anchor",
            '"Pb, ppb"',
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert '(columns "Pb, ppb", Cd=ICP; 8 censored cells)' in captured.out
    code = cli.main(
        [*common, "--columns", '"Pb, ppb"', "--lower-limit", f"Cd=ICP={limit}"]
    )
    _refused(
        code,
        capsys.readouterr().err,
        [
            r"--lower-limit names column 'Cd=ICP', which is not among the fitted "
            r"columns \(\"Pb, ppb\"\)"
        ],
    )


def test_one_column_flags_take_a_name_quoted_as_the_header_quotes_it(tmp_path, capsys):
    """--id, --response and --order-by, like --anchor and --columns, take a
    name holding a comma in the double quotes the listing of the file's
    columns shows it in."""
    df = _clusters()
    df.columns = ["dose, mg", "y"]
    df.insert(0, "Sample, ID", [f"s{i}" for i in range(len(df))])
    data = tmp_path / "data.csv"
    data.write_text(df.to_csv(index=False))
    out = tmp_path / "out"
    common = ["-k", "2", "--method", "optimize", "--engine", "stanli"]
    common += ["--id", '"Sample, ID"', "--out", str(out)]
    code = cli.main(["fit", str(data), *common])
    err = capsys.readouterr().err
    assert code == 0, err
    membership = pd.read_csv(out / "membership.csv")
    assert membership["observation"].iloc[0] == "s0"
    code = cli.main(
        [
            *("fit-regression", str(data), "--response", '"y"'),
            *("--predictors", '"dose, mg"', "--order-by", '"dose, mg"', *common),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    summary = pd.read_csv(out / "summary.csv", index_col=0)
    slopes = summary.loc[["beta[0, dose, mg]", "beta[1, dose, mg]"]].iloc[:, 0]
    assert slopes.is_monotonic_increasing
    code = cli.main(
        [
            *("fit-regression", str(data), "--response", "y"),
            *("--predictors", '"dose, mg"', "--order-by", "dose", *common),
        ]
    )
    _refused(
        code,
        capsys.readouterr().err,
        [r"--order-by 'dose' is neither 'intercept' nor a predictor \(\"dose, mg\"\)"],
    )


def test_limit_items_are_read_against_the_header():
    """COL=LIMIT is split at whichever '=' leaves a column of the file before
    it and a finite number or another column after it, so a column of limits
    may hold '='; an item no column fits is split at its last '=', for the
    checks after it to name what is wrong."""
    header = ["x", "y", "lod=ICP", "Cd=ICP", "1.5"]

    def read(*items: str) -> dict[str, float | str]:
        return limits._limits(list(items), "--lower-limit", header, "data.csv")

    assert read("x=0.5", "y=lod=ICP") == {"x": 0.5, "y": "lod=ICP"}
    assert read("Cd=ICP=-1e-3", " y = 1.5e0 ") == {"Cd=ICP": -0.001, "y": 1.5}
    assert read("z=0.5", "x=lod_x") == {"z": 0.5, "x": "lod_x"}
    with pytest.raises(sm.StanmixInputError, match=r"'y=1\.5' can be read 2 ways"):
        read("y=1.5")


def test_a_column_of_limits_may_hold_an_equals_sign(tmp_path, capsys):
    """--lower-limit x=lod=ICP takes the per-row limits of column 'lod=ICP'
    (split at its last '=', it named a column 'x=lod' that is not there)."""
    df = _batches().rename(columns={"lod_x": "lod=ICP"})
    censored = int((df["x"] == df["lod=ICP"]).sum())
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    args = ["fit", str(data), "-k", "2", "--method", "optimize", "--engine"]
    args += ["stanli", "--seed", "3", "--no-progress", "--lower-limit", "x=lod=ICP"]
    code = cli.main([*args, "--out", str(tmp_path / "o")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith(
        f"Fitting 2 components to 40 rows of data.csv (columns x, y; {censored} "
        "censored cells) by the posterior mode, seed 3\n"
    )


def test_id_column_names_rows_in_messages_membership_and_posterior(tmp_path, capsys):
    """--id takes the rows' names from a text (or numeric) column: they name
    rows in the data's warnings, membership.csv and posterior.nc, and the
    column is not fitted; without it the console suggests it."""
    df = _clusters(30)
    df.insert(0, "sample", [f"S{i:02d}" for i in range(len(df))])
    df.loc[3, "x"] = np.nan
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    common = ["fit", str(data), "-k", "2", "--engine", "stanli", "--method"]
    common += ["optimize", "--lower-limit", "x=-5"]
    code = cli.main([*common, "--id", "sample", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "(at sample 'S03', column 'x')" in err
    membership = pd.read_csv(tmp_path / "out" / "membership.csv")
    assert membership["observation"].unique().tolist() == df["sample"].tolist()
    posterior = az.from_netcdf(tmp_path / "out" / "posterior.nc")
    assert posterior.observed_data["dim"].values.tolist() == ["x", "y"]
    assert posterior.observed_data["obs"].values.tolist() == df["sample"].tolist()

    code = cli.main([*common, "--out", str(tmp_path / "by_line")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (
        "(skipping sample; choose with --columns, or name the rows by one with "
        "--id sample)" in captured.out
    )
    assert "(at line 5, column 'x')" in captured.err
    membership = pd.read_csv(tmp_path / "by_line" / "membership.csv")
    assert membership["observation"].unique().tolist() == list(range(2, 32))


def test_id_column_names_regression_rows(tmp_path, capsys):
    """fit-regression takes --id too, numeric IDs included (kept as written)."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, 40)
    y = np.where(np.arange(40) % 2 == 0, 1 + x, 8 - x) + rng.normal(0, 0.3, 40)
    ids = [f"{1000 + 7 * i:05d}" for i in range(40)]
    data = tmp_path / "data.csv"
    pd.DataFrame({"id": ids, "x": x, "y": y}).to_csv(data, index=False)
    flags = ["--response", "y", "-k", "2", "--id", "id", "--engine", "stanli"]
    flags += ["--method", "optimize"]
    code = cli.main(["fit-regression", str(data), *flags, "--out", str(tmp_path / "o")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Fitting 2 regression lines of y on x to 40 rows" in captured.out
    membership = pd.read_csv(
        tmp_path / "o" / "membership.csv", dtype={"observation": str}
    )
    assert membership["observation"].unique().tolist() == ids


def test_messages_and_membership_name_file_lines_and_flags(tmp_path, capsys):
    """Rows are named by their file line (blank lines count) in warnings and
    in membership.csv; a warning about the data is said once though both the
    command's checks and the fit read them; and advice names flags, or says
    that a setting is Python's, in the console and in the report."""
    lines = [
        "x,y",
        "0.9,2.0",
        "",
        ",3.0",
        *(f"{v},{w}" for v, w in _clusters(30).to_numpy()),
    ]
    data = tmp_path / "data.csv"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    short = ["--chains", "2", "--warmup", "60", "--draws", "20", "--out", str(out)]
    code = cli.main(
        [
            "fit",
            str(data),
            "-k",
            "2",
            "--engine",
            "stanli",
            "--lower-limit",
            "x=-5",
            *short,
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err
    blank = [line for line in err.splitlines() if "empty cell(s)" in line]
    assert blank == [
        "stanmix: warning: 1 empty cell(s) in a column with a limit (at line 4, "
        "column 'x') are taken as missing, not censored; if they stand for values "
        "beyond the limit, record them at the limit"
    ]
    membership = pd.read_csv(out / "membership.csv")
    assert membership["observation"].unique().tolist() == [2, *range(4, 35)]
    report = (out / "report.html").read_text()
    assert "the chains too short: run more draws (--draws, --warmup)" in report
    for python in ("draws=", "convergence_.table", "init='map' or your own init="):
        assert python not in err and python not in report


def test_a_mistyped_limit_beside_piled_values_is_said_once(tmp_path, capsys):
    """With many values piled at the column's lowest, the fit's warning
    names that value as the likely limit, in the command's terms; the
    command's own, vaguer warning is not given as well."""
    rng = np.random.default_rng(1)
    x = np.r_[np.full(12, -5.0), rng.normal(0, 1, 28)]
    data = tmp_path / "data.csv"
    pd.DataFrame({"x": x, "y": rng.normal(0, 1, 40)}).to_csv(data, index=False)
    args = ["fit", str(data), "-k", "2", "--lower-limit", "x=-9", "--seed", "1"]
    code = cli.main([*args, "--method", "optimize", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 0
    assert "matches no value of column" not in err
    assert err.count("matches none of its values") == 1
    assert "give --lower-limit x=-5" in err


def test_a_limit_that_meets_no_value_is_said(tmp_path, capsys, no_fit):
    """A limit no cell is recorded at censors nothing: most likely a wrong
    value or other units, so the command says so (and goes on)."""
    data = tmp_path / "data.csv"
    data.write_text(TWO_COLUMNS)
    args = ["fit", str(data), "-k", "2", "--lower-limit", "x=-100"]
    cli.main([*args, "--upper-limit", "y=1e6", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    low = float(pd.read_csv(data)["x"].min())
    assert (
        f"stanmix: warning: --lower-limit x=-100 matches no value of column 'x' of "
        f"data.csv (its lowest is {low:g}), so nothing is censored there; check "
        "the limit's value and units"
    ) in err
    assert "--upper-limit y=1e+06 matches no value of column 'y'" in err


# -- censored data: a column of per-row limits, and cells written '<v' ---------
def _batches(n: int = 40) -> pd.DataFrame:
    """Two clusters measured in two batches whose detection limits of x
    differ (-0.5 on even rows, 0.3 on odd ones), each value below its row's
    limit recorded at it; the limits in column lod_x."""
    df = _clusters(n)
    lod = np.where(np.arange(n) % 2 == 0, -0.5, 0.3)
    df["x"] = np.maximum(df["x"], lod)
    df["lod_x"] = lod
    return df


def _written_censored(df: pd.DataFrame) -> pd.DataFrame:
    """``_batches`` as an export writes non-detects: '<0.3', '< -0.5' or
    '<=0.3' in x, and no column of limits."""
    text = df.drop(columns="lod_x").astype(object)
    at = np.flatnonzero(df["x"] == df["lod_x"])
    forms = ("<{}", "< {}", "<={}")
    for k, i in enumerate(at):
        text.iloc[i, 0] = forms[k % 3].format(repr(float(df["lod_x"].iloc[i])))
    return text


def test_a_limits_column_and_censored_text_give_the_fit_of_per_cell_limits(
    tmp_path, capsys
):
    """--lower-limit x=lod_x censors each cell at its own row's limit, and
    the column of limits is not fitted; '<v' cells read with --censored-text
    give the same fit; both are Python's fit with the per-cell limits."""
    df = _batches()
    censored = int((df["x"] == df["lod_x"]).sum())
    assert censored > 0 and df.loc[df["x"] == df["lod_x"], "lod_x"].nunique() == 2
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    text = tmp_path / "text.csv"
    _written_censored(df).to_csv(text, index=False)
    common = ["-k", "2", "--method", "optimize", "--engine", "stanli", "--seed", "3"]
    common += ["--no-progress"]

    code = cli.main(
        [
            "fit",
            str(data),
            *common,
            "--lower-limit",
            "x=lod_x",
            "--out",
            str(tmp_path / "a"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith(
        f"Fitting 2 components to 40 rows of data.csv (columns x, y; {censored} "
        "censored cells) by the posterior mode, seed 3\n"
    )
    summary = pd.read_csv(tmp_path / "a" / "summary.csv", index_col=0)
    assert not [name for name in summary.index if "lod_x" in name]

    code = cli.main(
        ["fit", str(text), *common, "--censored-text", "--out", str(tmp_path / "b")]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"(columns x, y; {censored} censored cells)" in captured.out
    assert "--censored-text" not in captured.err

    frame = read_csv(data, ["x", "y"]).frame
    limits = pd.DataFrame({"x": df["lod_x"].to_numpy()}, index=frame.index)
    model = sm.Mixture(2, engine="stanli").fit(
        frame, method="optimize", seed=3, lower_limit=limits, show_progress=False
    )
    expected = model.membership()
    for out in ("a", "b"):
        membership = pd.read_csv(tmp_path / out / "membership.csv")
        assert membership["observation"].tolist() == expected["observation"].tolist()
        # membership.csv holds seven significant digits
        np.testing.assert_allclose(membership["mean"], expected["mean"], rtol=5e-7)
        idata = az.from_netcdf(str(tmp_path / out / "posterior.nc"))
        kinds = idata.constant_data["cell_kind"].sel(dim="x").to_numpy()
        assert int(np.sum(kinds == "left")) == censored
    assert (tmp_path / "a" / "membership.csv").read_text() == (
        tmp_path / "b" / "membership.csv"
    ).read_text()


def test_a_censored_text_cell_may_agree_with_a_limit_given_for_its_column(
    tmp_path, capsys
):
    """A '<v' cell in a column with a --lower-limit must agree with its row's
    limit; a row whose column of limits is empty takes the cell's own."""
    df = _batches()
    text = _written_censored(df)
    text["lod_x"] = df["lod_x"].astype(object)
    first = int(np.flatnonzero(df["x"] == df["lod_x"])[0])
    text.iloc[first, text.columns.get_loc("lod_x")] = ""
    data = tmp_path / "data.csv"
    text.to_csv(data, index=False)
    args = ["fit", str(data), "-k", "2", "--method", "optimize", "--engine"]
    args += ["stanli", "--seed", "3", "--censored-text", "--no-progress"]
    code = cli.main([*args, "--lower-limit", "x=lod_x", "--out", str(tmp_path / "o")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    censored = int((df["x"] == df["lod_x"]).sum())
    assert f"(columns x, y; {censored} censored cells)" in captured.out


def test_select_takes_a_limits_column(tmp_path, capsys):
    df = _batches()
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    args = ["select", str(data), "-k", "1-2", "--method", "optimize", "--engine"]
    args += ["stanli", "--lower-limit", "x=lod_x", "--out", str(tmp_path / "o")]
    code = cli.main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    censored = int((df["x"] == df["lod_x"]).sum())
    assert captured.out.startswith(
        "Fitting K = 1, 2 components (normal, diag) to 40 rows of data.csv "
        f"(columns x, y; {censored} censored cells) by the posterior mode, seed 1\n"
    )
    idata = az.from_netcdf(str(tmp_path / "o" / "posterior.nc"))
    kinds = idata.constant_data["cell_kind"].sel(dim="x").to_numpy()
    assert int(np.sum(kinds == "left")) == int((df["x"] == df["lod_x"]).sum())
    assert "lod_x" not in idata.observed_data["dim"].values.tolist()


def test_select_says_what_it_fits_as_fit_does(tmp_path, capsys, monkeypatch, no_fit):
    """select's line before fitting gives the columns and the count of
    censored (and missing) cells, and the method, as fit's does."""

    def no_sweep(*args, **kwargs):
        raise AssertionError("the sweep was run")

    monkeypatch.setattr(sm, "select_components", no_sweep)
    df = _batches()
    df.loc[4, "y"] = np.nan
    censored = int((df["x"] == df["lod_x"]).sum())
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    common = [str(data), "--lower-limit", "x=lod_x", "--method", "optimize"]
    common += ["--engine", "stanli", "--seed", "3", "--out", str(tmp_path / "o")]
    said = (
        f" to 40 rows of data.csv (columns x, y; {censored} censored and 1 missing "
        "cells) by the posterior mode, seed 3\n"
    )
    for command, fitting in (
        (["fit", "-k", "2"], "2 components"),
        (["select", "-k", "1-2"], "K = 1, 2 components (normal, diag)"),
    ):
        assert cli.main([*command, *common]) == 1
        assert capsys.readouterr().out == f"Fitting {fitting}{said}"


def test_censored_text_with_no_cell_written_censored_is_said(
    tmp_path, capsys, monkeypatch
):
    """--censored-text on a file with no cell written '<v' or '>v' changes
    nothing: the command says so, and where it looked, and fits; so does
    fit-regression."""
    data = tmp_path / "data.csv"
    _clusters().to_csv(data, index=False)
    args = ["fit", str(data), "-k", "2", "--method", "optimize", "--engine"]
    args += ["stanli", "--no-progress", "--censored-text"]
    code = cli.main([*args, "--out", str(tmp_path / "o")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    said = (
        "stanmix: warning: --censored-text: no cell of the fitted columns of "
        "data.csv (x, y) is written as censored ('<v', '<=v', '>v' or '>=v'), so "
        "the flag changes nothing; leave it out\n"
    )
    assert captured.err.count(said) == 1, captured.err
    assert "Fitting 2 components to 40 rows of data.csv (columns x, y)" in captured.out
    assert sorted(os.listdir(tmp_path / "o")) == RESULTS

    def no_fit(self, *args, **kwargs):
        raise AssertionError("the estimator was fitted")

    monkeypatch.setattr(sm.RegressionMixture, "fit", no_fit)
    _censored_lines().drop(columns="lod_y").to_csv(data, index=False)
    args = ["fit-regression", str(data), "--response", "y", "-k", "2"]
    args += ["--censored-text", "--out", str(tmp_path / "r")]
    assert cli.main(args) == 1
    assert said in capsys.readouterr().err


def test_flags_that_tell_components_apart_are_said_to_do_nothing_for_one(
    tmp_path, capsys, monkeypatch
):
    """With --components/-k 1, --anchor (fit), --weights-from and --order-by
    (fit-regression) change nothing: the command says so, once each, before
    fitting; with two components it does not."""

    def no_fit(self, *args, **kwargs):
        raise AssertionError("the estimator was fitted")

    monkeypatch.setattr(sm.Mixture, "fit", no_fit)
    data = tmp_path / "data.csv"
    _clusters().to_csv(data, index=False)
    args = ["fit", str(data), "--method", "optimize", "--engine", "stanli"]
    args += ["--anchor", "y", "--out", str(tmp_path / "o")]
    assert cli.main([*args, "-k", "1"]) == 1
    err = capsys.readouterr().err
    said = (
        "stanmix: warning: --anchor orders the components, and with "
        "--components/-k 1 there is one component (its weight is 1), so the flag "
        "changes nothing; leave it out\n"
    )
    assert err.count(said) == 1, err
    assert cli.main([*args, "-k", "2"]) == 1
    assert "changes nothing" not in capsys.readouterr().err
    frame = _censored_lines().drop(columns="lod_y")
    frame["age"] = np.linspace(20.0, 60.0, len(frame)) ** 1.5
    frame.to_csv(data, index=False)
    args = ["fit-regression", str(data), "--response", "y", "-k", "1"]
    args += ["--weights-from", "age", "--order-by", "x", "--out", str(tmp_path / "r")]
    assert cli.main(args) == 1
    err = capsys.readouterr().err
    for flag, does in (
        ("--weights-from", "makes the components' weights depend on covariates"),
        ("--order-by", "orders the components"),
    ):
        assert err.count(f"stanmix: warning: {flag} {does}, and with ") == 1, err


def _censored_lines(n: int = 40) -> pd.DataFrame:
    """Two regression lines of y on x, y measured in two batches whose
    detection limits (2.0 on even rows, 1.0 on odd ones) are in lod_y."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, n)
    y = np.where(np.arange(n) % 2 == 0, 1 + x, 8 - x) + rng.normal(0, 0.3, n)
    lod = np.where(np.arange(n) % 2 == 0, 2.0, 1.0)
    return pd.DataFrame({"x": x, "y": np.maximum(y, lod), "lod_y": lod})


def test_regression_takes_a_limits_column_of_its_response(tmp_path, capsys):
    """The column of limits is not a predictor chosen automatically; the fit
    is Python's with the per-cell limits; select-regression reads '<v'
    cells of the response."""
    df = _censored_lines()
    censored = int((df["y"] == df["lod_y"]).sum())
    assert censored > 0 and df.loc[df["y"] == df["lod_y"], "lod_y"].nunique() == 2
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    flags = ["--response", "y", "-k", "2", "--method", "optimize", "--engine"]
    flags += ["stanli", "--seed", "2", "--lower-limit", "y=lod_y"]
    code = cli.main(["fit-regression", str(data), *flags, "--out", str(tmp_path / "o")])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert (
        f"Fitting 2 regression lines of y on x to 40 rows of data.csv (columns y, "
        f"x; {censored} censored cells)" in captured.out
    )
    frame = read_csv(data, ["x", "y"]).frame
    limits = pd.DataFrame({"y": df["lod_y"].to_numpy()}, index=frame.index)
    model = sm.RegressionMixture(2, predictors=["x"], engine="stanli").fit(
        frame,
        response="y",
        method="optimize",
        seed=2,
        lower_limit=limits,
        show_progress=False,
    )
    membership = pd.read_csv(tmp_path / "o" / "membership.csv")
    # membership.csv holds seven significant digits
    np.testing.assert_allclose(
        membership["mean"], model.membership()["mean"], rtol=5e-7
    )

    text = df.drop(columns="lod_y").astype(object)
    at = np.flatnonzero(df["y"] == df["lod_y"])
    text.iloc[at, 1] = [f"<{v}" for v in df["lod_y"].iloc[at]]
    text.to_csv(data, index=False)
    flags = ["--response", "y", "-k", "1-2", "--method", "optimize", "--engine"]
    flags += ["stanli", "--censored-text", "--out", str(tmp_path / "s")]
    code = cli.main(["select-regression", str(data), *flags])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    idata = az.from_netcdf(str(tmp_path / "s" / "posterior.nc"))
    kinds = idata.constant_data["cell_kind"].to_numpy()
    assert int(np.sum(kinds == "left")) == censored


LIMITS = "x,y,lod\n0.5,1,0.5\n2,2,1\n1,3,1\n3,5,\n"

REFUSED_LIMITS = {
    "a limit that is neither a number nor a column": (
        LIMITS,
        ["--lower-limit", "x=lod_x"],
        r"^stanmix: error: --lower-limit x=lod_x: 'lod_x' is neither a number "
        r"\(one limit for every row\) nor a column of data\.csv \(columns: x, y, "
        r"lod\)\n$",
    ),
    "no limit after '='": (
        LIMITS,
        ["--lower-limit", "x="],
        r"--lower-limit 'x=' gives no limit: after '=' give a number, or the "
        r"column of the file that holds each row's limit$",
    ),
    "a column's own limits": (
        LIMITS,
        ["--upper-limit", "x=x"],
        r"--upper-limit 'x=x': a column cannot hold its own limits; give a "
        r"number, or another column holding each row's limit of x$",
    ),
    "text in the column of limits": (
        "x,y,lod\n0.5,1,0.5\n2,2,ND\n1,3,n.d.\n3,5,\n",
        ["--lower-limit", "x=lod"],
        r"column 'lod' of data\.csv, the per-row limits of --lower-limit x=lod, "
        r"holds text on line 3 \('ND'; 2 such cells\); write each row's limit as "
        r"a number, and leave the cell empty where the row has no limit$",
    ),
    "an infinity in the column of limits": (
        "x,y,lod\n0.5,1,0.5\n2,2,1\n1,3,inf\n3,5,\n",
        ["--lower-limit", "x=lod"],
        r"column 'lod' of data\.csv, the per-row limits of --lower-limit x=lod, "
        r"holds an infinite value on line 4 \('inf'\); give a finite limit",
    ),
    "an empty column of limits": (
        "x,y,lod\n0.5,1,\n2,2,NA\n1,3,\n",
        ["--lower-limit", "x=lod"],
        r"column 'lod' of data\.csv, the per-row limits of --lower-limit x=lod, "
        r"is empty: no row has a limit; fill in the rows' limits, or give one "
        r"number for every row$",
    ),
    "the column of limits twice in the header": (
        "x,y,lod,lod\n0.5,1,0.5,1\n2,2,1,1\n",
        ["--lower-limit", "x=lod"],
        r"the header of data\.csv \(line 1\) names column 'lod' 2 times \(columns "
        r"3 and 4\); rename one, and name the column of limits in --lower-limit "
        r"x=lod$",
    ),
    "the column of limits also fitted": (
        LIMITS,
        ["--lower-limit", "x=lod", "--columns", "x,y,lod"],
        r"^stanmix: error: column 'lod' holds the per-row limits of --lower-limit "
        r"x=lod, so it is not fitted; leave it out of --columns\n$",
    ),
    "the column of limits also the rows' names": (
        LIMITS,
        ["--lower-limit", "x=lod", "--id", "lod"],
        r"column 'lod' is both the rows' names \(--id\) and the per-row limits of "
        r"--lower-limit x=lod; leave it out of one$",
    ),
    "a value below its row's limit": (
        "x,y,lod\n0.5,1,0.5\n\n0.7,2,1\n1,3,1\n3,5,\n",
        ["--lower-limit", "x=lod"],
        r"--lower-limit x=lod: 1 value\(s\) of column 'x' lie below their row's "
        r"limit \(line 4 of data\.csv; the first is 0\.7, limit 1\); censored "
        r"values must be recorded at the limit itself$",
    ),
    "per-row limits rounded above the values recorded at them": (
        "x,y,lod\n-5.389023757326167,2,-5.389\n3,3,-5.389\n-5.389023757326167,1,"
        "-5.389\n4,5,\n",
        ["--lower-limit", "x=lod"],
        r"all 2 such values of column 'x' are -5\.389023757326167: if that is the "
        r"limit, give it as the data hold it \(-5\.389023757326167 in column 'lod' "
        r"on those lines\)$",
    ),
    "a row's lower limit not below its upper limit": (
        "x,y,lo,hi\n0.5,1,0.5,9\n2,2,1,9\n1,3,1,0.8\n3,5,,\n",
        ["--lower-limit", "x=lo", "--upper-limit", "x=hi"],
        r"the lower limit of column 'x' \(--lower-limit x=lo\) is not below its "
        r"upper limit \(--upper-limit x=hi\) on line 4 of data\.csv \(1 and 0\.8\); "
        r"a row's lower limit must lie below its upper limit$",
    ),
    "a column censored throughout at its rows' limits": (
        "x,y,lod\n0.5,1,0.5\n1,2,1\n,3,\n1,5,1\n",
        ["--lower-limit", "x=lod"],
        r"every value of column 'x' of data\.csv lies at its limit \(--lower-limit "
        r"x=lod\): the column is censored throughout",
    ),
    "a column written censored throughout": (
        "x,y\n<0.5,1\n<1,2\n,3\n<= 1,5\n",
        ["--censored-text"],
        r"every value of column 'x' of data\.csv lies at its limit \(its cells "
        r"written '<limit' with --censored-text\): the column is censored "
        "throughout",
    ),
    "'<' cells without --censored-text": (
        "x,y\n0.5,1\n<0.5,2\n1,3\n< 0.5,5\n",
        ["--columns", "x,y"],
        r"^stanmix: error: column 'x' of data\.csv is not numeric: line 3 has "
        r"'<0\.5' \(2 such entries\), values censored at a detection limit: read "
        r"them as censored, each at its own limit, with --censored-text \(or write "
        r"them as 0\.5 and give --lower-limit x=0\.5\)\n$",
    ),
    "'<' cells of several limits without --censored-text": (
        "x,y\n0.5,1\n<0.5,2\n1,3\n<1.2,5\n",
        ["--columns", "x,y"],
        r"^stanmix: error: column 'x' of data\.csv is not numeric: line 3 has "
        r"'<0\.5' \(2 such entries\), values censored at a detection limit: read "
        r"them as censored, each at its own limit, with --censored-text \(the '<' "
        r"cells hold 2 different limits: 0\.5 and 1\.2\)\n$",
    ),
    "'>' cells without --censored-text": (
        "x,y\n0.5,1\n>=9,2\n1,3\n",
        [],
        r"line 3 has '>=9', values censored at a detection limit: read them as "
        r"censored, each at its own limit, with --censored-text \(or write them as "
        r"9 and give --upper-limit x=9\); or leave the column out with --columns$",
    ),
    "other text with --censored-text": (
        "x,y\n0.5,1\n<0.5,2\nn.d.,3\n1,5\n",
        ["--censored-text", "--columns", "x,y"],
        r"^stanmix: error: column 'x' of data\.csv is not numeric: line 4 has "
        r"'n\.d\.'; write a value censored at a detection limit as '<' and its "
        r"limit \(e\.g\. '<0\.5'\), or as the limit "
        r"itself with --lower-limit x=LIMIT, where LIMIT is a number or a column "
        r"of per-row limits; and a missing value as an empty cell\n$",
    ),
    "a '<' cell that disagrees with the column's limit": (
        "x,y\n0.5,1\n<0.5,2\n1,3\n<0.8,5\n",
        ["--censored-text", "--lower-limit", "x=0.5"],
        r"^stanmix: error: line 5 of data\.csv has '<0\.8' in column 'x', but "
        r"--lower-limit x=0\.5 gives that row the limit 0\.5; a cell has one "
        r"limit: correct the cell, or give per-row limits \(--lower-limit "
        r"x=COLUMN\)\n$",
    ),
    "a '<' cell that disagrees with its row's limit": (
        "x,y,lod\n0.5,1,0.5\n<0.5,2,\n1,3,1\n< 0.8,5,1\n",
        ["--censored-text", "--lower-limit", "x=lod"],
        r"^stanmix: error: line 5 of data\.csv has '< 0\.8' in column 'x', but "
        r"--lower-limit x=lod gives that row the limit 1; a cell has one limit: "
        r"correct the cell, or column 'lod' on that line \(an empty cell there "
        r"leaves the row the cell's own limit\)\n$",
    ),
    "a '<' cell not below the column's upper limit": (
        "x,y\n0.5,1\n<9,2\n1,3\n",
        ["--censored-text", "--upper-limit", "x=8"],
        r"the lower limit of column 'x' \(its cells written '<limit' with "
        r"--censored-text\) is not below its upper limit \(--upper-limit x=8\) on "
        r"line 3 of data\.csv \(9 and 8\)",
    ),
    "a limit that is both a number and a column": (
        "x,y,1\n0.5,1,0.5\n2,2,1\n1,3,1\n3,5,\n",
        ["--lower-limit", "x=1", "--columns", "x,y"],
        r"^stanmix: error: --lower-limit 'x=1' can be read 2 ways: column 'x' at "
        r"the limit 1\.0 in every row, or column 'x' at each row's limit in column "
        r"'1'; to use column '1', rename it in data\.csv so that its name is not a "
        r"number, and give the new name; to use the number, write it as 1\.0\n$",
    ),
    "a limit item that two of its '=' split into columns": (
        "Cd,Cd=ICP,ICP=0.5,y\n0.5,1,0.5,1\n2,2,1,2\n1,3,1,3\n",
        ["--lower-limit", "Cd=ICP=0.5"],
        r"^stanmix: error: --lower-limit 'Cd=ICP=0\.5' can be read 2 ways: column "
        r"'Cd' at each row's limit in column 'ICP=0\.5', or column 'Cd=ICP' at the "
        r"limit 0\.5 in every row; rename 'ICP=0\.5' or 'Cd=ICP' in data\.csv so "
        r"that no column's name holds '=', and give the new name\n$",
    ),
    "a decimal comma in a cell written censored": (
        'x,y\n0.5,1\n"<0,5",2\n1,3\n',
        ["--censored-text"],
        r"^stanmix: error: column 'x' of data\.csv is not numeric: line 3 has "
        r"'<0,5'; that is a decimal comma: write decimals with a point "
        r"\('<0\.5'\), as the file must use '\.' as its decimal mark; or leave the "
        r"column out with --columns\n$",
    ),
    "a decimal comma in a cell written censored, without --censored-text": (
        'x,y\n0.5,1\n"<= 0,5",2\n1,3\n',
        ["--columns", "x,y"],
        r"^stanmix: error: column 'x' of data\.csv is not numeric: line 3 has "
        r"'<= 0,5'; that is a decimal comma: write decimals with a point "
        r"\('<= 0\.5'\), as the file must use '\.' as its decimal mark; and give "
        r"--censored-text to read such cells as censored at their limits\n$",
    ),
    "a decimal comma in the column of limits": (
        'x,y,lod\n0.5,1,"0,5"\n2,2,1\n1,3,1\n',
        ["--lower-limit", "x=lod"],
        r"^stanmix: error: column 'lod' of data\.csv, the per-row limits of "
        r"--lower-limit x=lod, holds text on line 2 \('0,5'\); that is a decimal "
        r"comma: write decimals with a point \('0\.5'\), as the file must use '\.' "
        r"as its decimal mark, and leave the cell empty where the row has no "
        r"limit\n$",
    ),
    "more components than rows told apart by their own limits": (
        "x,y,lod\n0.5,1,0.5\n0.5,1,\n3,2,\n3,2,\n4,1,\n",
        ["--lower-limit", "x=lod", "-k", "5"],
        r"--components/-k 5 is more than the 4 distinct rows among the 5 of "
        r"data\.csv",
    ),
}


@pytest.mark.parametrize(
    ("content", "extra", "pattern"),
    list(REFUSED_LIMITS.values()),
    ids=list(REFUSED_LIMITS),
)
def test_bad_limits_are_refused_naming_the_flag_and_line(
    tmp_path, capsys, no_fit, content, extra, pattern
):
    code = _fit(tmp_path, content, *extra)
    _refused(code, capsys.readouterr().err, [pattern])
    assert os.listdir(tmp_path) == ["data.csv"]


@pytest.mark.parametrize(
    ("extra", "pattern"),
    [
        (
            ["--predictors", "x,lod"],
            r"column 'lod' holds the per-row limits of --lower-limit y=lod, so it "
            r"is not fitted; leave it out of --predictors$",
        ),
        (
            ["--weights-from", "lod"],
            r"leave it out of --weights-from$",
        ),
    ],
)
def test_regression_refuses_its_column_of_limits_as_a_covariate(
    tmp_path, capsys, no_fit, extra, pattern
):
    data = tmp_path / "data.csv"
    data.write_text("x,y,lod\n1,2,2\n2,3,2\n3,5,2\n4,4,\n")
    args = ["fit-regression", str(data), "--response", "y", "-k", "2"]
    args += ["--lower-limit", "y=lod", "--out", str(tmp_path / "out"), *extra]
    _refused(cli.main(args), capsys.readouterr().err, [pattern])


def test_regression_refuses_a_covariate_written_censored(tmp_path, capsys, no_fit):
    data = tmp_path / "data.csv"
    data.write_text("x,y\n1,2\n<2,3\n3,5\n4,4\n")
    args = ["fit-regression", str(data), "--response", "y", "-k", "2"]
    args += ["--censored-text", "--out", str(tmp_path / "out")]
    _refused(
        cli.main(args),
        capsys.readouterr().err,
        [
            r"^stanmix: error: line 3 of data\.csv has '<2' in column 'x', a "
            r"covariate of the regression: only the response \(--response y\) can "
            r"be censored, covariates are exact; give the measured value, or leave "
            r"it out by naming the predictors with --predictors\n$"
        ],
    )


def test_a_limits_column_that_meets_no_value_is_said(tmp_path, capsys, no_fit):
    data = tmp_path / "data.csv"
    data.write_text("x,y,lod\n0.5,1,0.1\n2,2,0.1\n1,3,\n3,5,0.2\n")
    args = ["fit", str(data), "-k", "2", "--lower-limit", "x=lod"]
    cli.main([*args, "--out", str(tmp_path / "o")])
    assert (
        "stanmix: warning: --lower-limit x=lod matches no value of column 'x' of "
        "data.csv (no value lies at its row's limit in column 'lod'), so nothing "
        "is censored there; check the limits' values and units\n"
    ) in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", ["fit", "select", "fit-regression", "select-regression"]
)
def test_every_command_that_reads_a_file_takes_the_censoring_flags(command, capsys):
    assert cli.main([command, "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--lower-limit COL=LIMIT" in text and "--upper-limit COL=LIMIT" in text
    assert (
        "LIMIT is a number, or the name of a column of the file holding each " in text
    )
    assert "--censored-text read cells" in text


def test_a_chosen_column_numbering_the_rows_is_not_warned_of_by_the_fit(
    tmp_path, capsys
):
    """The fit's own warning of such a column is worded for Python; on the
    command line the command's check speaks (naming --id), and a column
    chosen with --columns is the user's choice: the fit that runs says
    nothing of it either."""
    df = _clusters(20).round(3)
    df.insert(0, "sample", np.arange(1001, 1021))
    code = _fit(tmp_path, df.to_csv(index=False), "--columns", "sample,x")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "consecutive" not in captured.err
    assert "Fitting 2 components to 20 rows of data.csv (columns sample, x)" in (
        captured.out
    )
