"""stanmix membership: a model saved by --save-model places a new file's rows."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import censored_pairs

import stanmix as sm
from stanmix import cli
from stanmix.exceptions import StanmixInputError

pytest.importorskip("stanli")

COLUMNS = ["mean", "hdi_lower", "hdi_upper"]


def _membership(model, data, out, *flags: str) -> int:
    """``stanmix membership MODEL DATA [flags] --out OUT``'s exit code."""
    return cli.main(["membership", str(model), str(data), *flags, "--out", str(out)])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Two 2-D clusters, x left-censored at its 10% quantile, fitted (the
    mode) by `stanmix fit --save-model`; the folder and the data."""
    df, limit = censored_pairs()
    folder = tmp_path_factory.mktemp("saved")
    df.to_csv(folder / "data.csv", index=False)
    out = folder / "results"
    code = cli.main(
        [
            "fit", str(folder / "data.csv"), "-k", "2", "--id", "sample",
            "--lower-limit", f"x={limit}", "--method", "optimize",
            "--engine", "stanli", "--out", str(out), "--save-model", "--no-progress",
        ]
    )  # fmt: skip
    assert code == 0
    return out, df, limit


def test_a_saved_model_places_new_rows_as_the_fit_placed_them(saved, tmp_path, capsys):
    """Rows of the fitted file given again, in a file of other column order
    with a text column, get the fitted memberships, named by --id, in a
    folder --out creates; without
    their limit, the values at it are warned of, naming the flag."""
    out, df, limit = saved
    assert (out / "stanmix-model.pkl").is_file()
    capsys.readouterr()
    rows = df.iloc[[3, 0, 11]]
    assert (rows["x"] == limit).any()
    new = rows[["y", "sample", "x"]].assign(note=["a", "b", "c"])
    new.to_csv(tmp_path / "new.csv", index=False)
    target = tmp_path / "placed" / "new-membership.csv"  # created, as fit's --out
    args = ["membership", str(out), str(tmp_path / "new.csv"), "--id", "sample"]
    code = cli.main([*args, "--lower-limit", f"x={limit}", "--out", str(target)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    got = pd.read_csv(target)
    assert got["observation"].tolist() == ["s3", "s3", "s0", "s0", "s11", "s11"]
    fitted = pd.read_csv(out / "membership.csv").set_index(["observation", "component"])
    expected = fitted.loc[list(zip(got["observation"], got["component"], strict=True))]
    np.testing.assert_allclose(got[COLUMNS], expected[COLUMNS], atol=1e-6)
    assert "Membership probabilities of 3 rows of new.csv" in captured.out
    assert f"Written to {target}" in captured.out

    code = cli.main([*args, "--out", str(tmp_path / "unlimited.csv")])
    err = capsys.readouterr().err
    assert code == 0
    assert f"equals the --lower-limit {limit:g} the model was fitted with" in err
    assert "give --lower-limit as for the fit" in err


@pytest.mark.filterwarnings("ignore:the NUTS draws cannot be checked")
def test_hdi_prob_and_a_regression_reach_the_saved_models_membership(tmp_path, capsys):
    """A model pickled from Python (NUTS draws; a mixture of regressions) is
    read as --save-model writes it: the command's table is the model's own
    membership of the file's rows, with --hdi-prob and the response's limit."""
    data = sm.datasets.two_components(60, seed=1).X
    model = sm.NormalMixture(2, engine="stanli").fit(
        data, chains=1, warmup=150, draws=100, seed=3, show_progress=False
    )
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(model))
    data.iloc[:4].to_csv(tmp_path / "new.csv", index_label="line")
    code = cli.main(
        [
            "membership", str(tmp_path / "m.pkl"), str(tmp_path / "new.csv"),
            "--hdi-prob", "0.5", "--out", str(tmp_path / "out.csv"),
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    got = pd.read_csv(tmp_path / "out.csv")
    want = model.membership(data.iloc[:4], hdi_prob=0.5)
    np.testing.assert_allclose(got[COLUMNS], want[COLUMNS], atol=1e-6)
    # --hdi-prob arrived: the default's intervals are wider
    wide = model.membership(data.iloc[:4])
    assert (wide["hdi_upper"] - wide["hdi_lower"]).max() > (
        want["hdi_upper"] - want["hdi_lower"]
    ).max()

    lines = sm.datasets.regressions(80, seed=2)
    y = lines.y.clip(lower=float(np.quantile(lines.y, 0.2)))
    limit = float(y.min())
    regression = sm.RegressionMixture(2, engine="stanli").fit(
        lines.X, y, lower_limit=limit, method="optimize", seed=1
    )
    (tmp_path / "r.pkl").write_bytes(pickle.dumps(regression))
    assert (y.iloc[:5] == limit).any()  # the limit matters to these rows
    frame = lines.X.iloc[:5].assign(y=y.iloc[:5])
    frame.to_csv(tmp_path / "pairs.csv", index_label="line")
    code = cli.main(
        [
            "membership", str(tmp_path / "r.pkl"), str(tmp_path / "pairs.csv"),
            "--lower-limit", f"y={limit!r}", "--out", str(tmp_path / "pairs-m.csv"),
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    got = pd.read_csv(tmp_path / "pairs-m.csv")
    want = regression.membership(lines.X.iloc[:5], y.iloc[:5], lower_limit=limit)
    np.testing.assert_allclose(got[COLUMNS], want[COLUMNS], atol=1e-6)
    code = cli.main(
        [
            "membership", str(tmp_path / "r.pkl"), str(tmp_path / "pairs.csv"),
            "--lower-limit", f"{lines.X.columns[0]}=0",
            "--out", str(tmp_path / "b.csv"),
        ]
    )  # fmt: skip
    assert code == 2
    assert "only the response 'y' can be censored" in capsys.readouterr().err


def test_membership_refuses_bad_input_before_reading_it(saved, tmp_path, capsys):
    out, df, _ = saved
    df.iloc[:3].to_csv(tmp_path / "new.csv", index=False)
    df[["sample", "x"]].iloc[:3].to_csv(tmp_path / "no-y.csv", index=False)
    (tmp_path / "sub").mkdir()
    new = str(tmp_path / "new.csv")
    for args, message in [
        ([str(out), new, "--out", str(tmp_path / "sub")], "is a folder; give the CSV"),
        (
            [str(out), new, "--out", str(tmp_path / "new.csv" / "m.csv")],
            "new.csv' is a file, not a folder",
        ),
        ([str(out), new, "--out", new], "is the data file, which it would overwrite"),
        (
            [new, new, "--out", str(tmp_path / "m.csv")],
            "new.csv cannot be read as a saved stanmix model",
        ),
        (
            [str(tmp_path), new, "--out", str(tmp_path / "m.csv")],
            "is not a file; give the stanmix-model.pkl",
        ),
        (
            [str(out), str(tmp_path / "no-y.csv"), "--out", str(tmp_path / "m.csv")],
            "no-y.csv has no column 'y' (its columns: sample, x); the model was "
            "fitted on x, y",
        ),
        (
            [str(out), new, "--lower-limit", "x=y", "--out", str(tmp_path / "m.csv")],
            "column 'y' is one of the model's columns",
        ),
        ([str(out), new, "--out", ""], "--out is empty; give a file"),
    ]:
        code = cli.main(["membership", *args])
        err = capsys.readouterr().err
        assert code == 2, args
        assert message in err, (args, err)
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "target.csv")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    out_fails = [
        (str(link), "is a link, which the results would replace"),
        (str(fifo), "is not a file, which the results would replace"),
        ("-", "--out - would be a file named '-'"),
        (str(out / "membership.csv"), "one of the fit's result files beside the"),
        ("/proc/m.csv", "cannot write in folder '/proc'"),
    ]
    for target, message in out_fails:
        code = cli.main(["membership", str(out), new, "--out", target])
        err = capsys.readouterr().err
        assert code == 2, target
        assert message in err, (target, err)
    assert not (tmp_path / "target.csv").exists() and fifo.is_fifo()
    (tmp_path / "keep.csv").write_text("mine\n")
    for target in (str(tmp_path / "folder") + "/", str(tmp_path / "keep.csv") + "/"):
        code = cli.main(["membership", str(out), new, "--out", target])
        assert code == 2
        assert "names a folder; give the CSV file to write" in capsys.readouterr().err
    assert (tmp_path / "keep.csv").read_text() == "mine\n"
    assert not (tmp_path / "folder").exists()
    # a model copied elsewhere: a membership.csv beside it is not a fit's
    (tmp_path / "copy").mkdir()
    copied = tmp_path / "copy" / "mine.pkl"
    copied.write_bytes((out / "stanmix-model.pkl").read_bytes())
    target = tmp_path / "copy" / "membership.csv"
    assert cli.main(["membership", str(copied), new, "--out", str(target)]) == 0
    assert target.is_file()
    capsys.readouterr()
    # a model whose fitted state another version laid out differently
    stale = pickle.loads((out / "stanmix-model.pkl").read_bytes())
    del stale.family_
    (tmp_path / "stale.pkl").write_bytes(pickle.dumps(stale))
    code = _membership(str(tmp_path / "stale.pkl"), new, str(tmp_path / "x.csv"))
    err = capsys.readouterr().err
    assert code == 2 and "lacks the fitted state this stanmix reads (family_)" in err
    fitted = pd.read_csv(out / "membership.csv")
    assert len(fitted) == 2 * len(df)
    for data, args, message in [
        (new, ["--id", "x"], "--id 'x' is one of the model's columns"),
        (  # said before the file is read
            str(tmp_path / "no-y.csv"),
            ["--hdi-prob", "0.9"],
            "--hdi-prob does not apply to a model fitted with --method optimize",
        ),
    ]:
        code = _membership(out, data, tmp_path / "m.csv", *args)
        err = capsys.readouterr().err
        assert code == 2 and message in err, (args, err)
    (tmp_path / "list.pkl").write_bytes(pickle.dumps([1, 2]))
    code = _membership(str(tmp_path / "list.pkl"), new, str(tmp_path / "m.csv"))
    assert code == 2
    assert "holds a list, not a fitted stanmix model" in capsys.readouterr().err
    assert not (tmp_path / "m.csv").exists()


def test_a_fit_without_save_model_removes_an_earlier_model(saved, tmp_path, capsys):
    """A stanmix-model.pkl beside other results must be theirs: a run that does not
    save one removes an earlier run's."""
    out, _, _ = saved
    folder = tmp_path / "results"
    code = cli.main(
        [
            "fit", str(out.parent / "data.csv"), "-k", "1", "--columns", "x,y",
            "--method", "optimize", "--engine", "stanli", "--out", str(folder),
            "--save-model", "--no-progress",
        ]
    )  # fmt: skip
    assert code == 0 and (folder / "stanmix-model.pkl").is_file()
    code = cli.main(
        [
            "fit", str(out.parent / "data.csv"), "-k", "1", "--columns", "x,y",
            "--method", "optimize", "--engine", "stanli", "--out", str(folder),
            "--no-progress",
        ]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0 and not (folder / "stanmix-model.pkl").exists()
    assert "Removed the earlier run's stanmix-model.pkl" in printed


def test_membership_does_not_overwrite_the_data_it_reads_from_stdin(saved, tmp_path):
    out, df, _ = saved
    data = tmp_path / "new.csv"
    df.iloc[:3].to_csv(data, index=False)
    before = data.read_bytes()
    with data.open("rb") as stdin:
        run = subprocess.run(
            [sys.executable, "-m", "stanmix", "membership", str(out), "-",
             "--id", "sample", "--out", str(data)],
            stdin=stdin, capture_output=True, text=True, cwd=tmp_path,
        )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert "is the data read from standard input" in run.stderr
    assert data.read_bytes() == before
    # data given by name: a standard input that is --out is not the data
    previous = tmp_path / "previous.csv"
    previous.write_text("old\n")
    with previous.open("rb") as stdin:
        run = subprocess.run(
            [sys.executable, "-m", "stanmix", "membership", str(out), str(data),
             "--id", "sample", "--out", str(previous)],
            stdin=stdin, capture_output=True, text=True, cwd=tmp_path,
        )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert previous.read_text().startswith("observation,component,mean")


def test_membership_of_a_file_speaks_of_its_lines_and_flags(saved, tmp_path, capsys):
    """A value too far out is named by its file line with the fix for a
    file; a column with no value at all is warned of."""
    out, df, _ = saved
    new = df.iloc[:3][["sample", "x", "y"]].copy()
    new["y"] = [1e300, 0.5, 0.7]
    new.to_csv(tmp_path / "far.csv", index=False)
    code = _membership(str(out), str(tmp_path / "far.csv"), str(tmp_path / "m.csv"))
    err = capsys.readouterr().err
    assert code == 2
    assert "line 2 lies so far from every component" in err
    assert "leave the cell empty" in err and "NaN" not in err
    new["y"] = np.nan
    new.iloc[2, 1] = np.nan  # line 4: no value at all
    new.to_csv(tmp_path / "no-y.csv", index=False)
    code = _membership(str(out), str(tmp_path / "no-y.csv"), str(tmp_path / "m.csv"))
    err = capsys.readouterr().err
    assert code == 0, err
    assert "column(s) 'y' of no-y.csv have no value in any row" in err
    assert (
        "line 4 of no-y.csv has no value in the model's columns: their "
        "memberships are the mixing weights alone"
    ) in err


def test_a_regressions_covariates_are_checked_as_fit_regression_checks_them(
    tmp_path, capsys
):
    lines = sm.datasets.regressions(60, seed=2)
    model = sm.RegressionMixture(2, engine="stanli").fit(
        lines.X, lines.y, method="optimize", seed=1
    )
    (tmp_path / "r.pkl").write_bytes(pickle.dumps(model))
    first = str(lines.X.columns[0])
    frame = lines.X.iloc[:4].astype(object).assign(y=lines.y.iloc[:4])
    frame.iloc[1, 0] = np.nan
    frame.to_csv(tmp_path / "gap.csv", index=False)
    frame.iloc[1, 0] = "<0.1"
    frame.to_csv(tmp_path / "text.csv", index=False)
    base = ["membership", str(tmp_path / "r.pkl")]
    for args, message in [
        (
            [str(tmp_path / "gap.csv")],
            f"line 3 of gap.csv has no value in column {first!r}, a covariate",
        ),
        (
            [str(tmp_path / "text.csv"), "--censored-text"],
            f"line 3 of text.csv has '<0.1' in column {first!r}, a covariate",
        ),
        (
            [str(tmp_path / "gap.csv"), "--lower-limit", f"{first}=0"],
            f"--lower-limit names column {first!r}, but only the response 'y'",
        ),
        (  # without --censored-text: the advice is a covariate's
            [str(tmp_path / "text.csv")],
            "covariates are exact numbers: give the measured value",
        ),
    ]:
        code = cli.main([*base, *args, "--out", str(tmp_path / "m.csv")])
        err = capsys.readouterr().err
        assert code == 2, args
        assert message in err, (args, err)
        assert "--censored-text" not in err or "--censored-text" in args


def test_membership_shows_a_bar_over_the_rows_on_a_terminal(
    saved, tmp_path, capsys, monkeypatch
):
    """`stanmix membership` counts the new rows done on a terminal's standard
    error, unless --no-progress; in Python the bar is asked for with
    show_progress=True (a flag: anything else is refused)."""
    out, df, limit = saved
    df.to_csv(tmp_path / "new.csv", index=False)
    args = ["membership", str(out), str(tmp_path / "new.csv"), "--id", "sample"]
    args += ["--lower-limit", f"x={limit}"]
    capsys.readouterr()
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    for extra, shown in (([], True), (["--no-progress"], False)):
        target = tmp_path / f"m{len(extra)}.csv"
        assert cli.main([*args, *extra, "--out", str(target)]) == 0
        err = capsys.readouterr().err
        assert ("memberships: 100%" in err and "80/80" in err) == shown, err
    with open(out / "stanmix-model.pkl", "rb") as file:
        model = pickle.load(file)
    frame = df.set_index("sample")
    model.membership(frame, lower_limit={"x": limit}, show_progress=True)
    assert "80/80" in capsys.readouterr().err
    with pytest.raises(StanmixInputError, match="show_progress must be True or False"):
        model.membership(show_progress="yes")
