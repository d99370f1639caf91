"""Ctrl-C: whenever it comes, the stanmix command exits 1 with the documented
message and no traceback, and leaves the output folder as it was.

In-process tests raise SIGINT at chosen points of the write (where Python
loses the KeyboardInterrupt, while the files are moved, after they are in
place). Subprocess tests send a real SIGINT while the command loads its
libraries, while it samples and while it writes, each moment found by
polling the process rather than by timing it.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import stanmix as sm
from stanmix import cli, output, report

pytest.importorskip("stanli")

INTERRUPTED = "stanmix: interrupted; no partial output was kept"
RESULTS = ["membership.csv", "posterior.nc", "report.html", "summary.csv"]
PREVIOUS = {"notes.txt": "mine", "posterior.nc": "previous"}


@pytest.fixture(scope="module")
def data_file(tmp_path_factory) -> Path:
    data = sm.datasets.mixture_sample(
        [0.5, 0.5], [[0.0, 0.0], [4.0, 3.0]], 1.0, 80, seed=7, columns=["x", "y"]
    )
    path = tmp_path_factory.mktemp("data") / "data.csv"
    data.X.to_csv(path, index=False)
    return path


def _args(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        *("fit", str(data), "--components", "2", "--engine", "stanli"),
        *(extra or ("--method", "optimize")),
        *("--no-progress", "--out", str(out)),
    ]


def _previous_results(folder: Path) -> Path:
    """An output folder holding earlier results and a file of the user's."""
    out = folder / "out"
    out.mkdir()
    for name, text in PREVIOUS.items():
        (out / name).write_text(text)
    return out


def _assert_as_before(out: Path) -> None:
    assert sorted(os.listdir(out)) == sorted(PREVIOUS)
    for name, text in PREVIOUS.items():
        assert (out / name).read_text() == text
    assert os.listdir(out.parent) == ["out"], "a staging or backup folder is left"


@pytest.fixture
def sigint_outside():
    """SIGINT's handler around the command: records, so that a signal the
    command fails to handle cannot stop the test session."""
    seen: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: seen.append(signum))
    yield seen
    signal.signal(signal.SIGINT, previous)


# -- in-process: a SIGINT at a chosen point --------------------------------------
def test_interrupt_lost_in_a_finalizer_still_discards_the_results(
    data_file, tmp_path, monkeypatch, capsys, sigint_outside
):
    """Python only prints a KeyboardInterrupt raised in a __del__ method (or
    a weakref callback) and carries on; the run must still not be kept."""
    out = _previous_results(tmp_path)
    real_write_report = report.write_report

    class Finalizer:
        def __del__(self):
            signal.raise_signal(signal.SIGINT)

    def write_report(*args, **kwargs):
        Finalizer()  # dropped at once, so the SIGINT arrives inside __del__
        return real_write_report(*args, **kwargs)

    monkeypatch.setattr(report, "write_report", write_report)
    code = cli.main(_args(data_file, out))
    err = capsys.readouterr().err
    assert code == 1
    assert err == INTERRUPTED + "\n"
    _assert_as_before(out)
    assert sigint_outside == []


def test_interrupt_while_files_are_moved_restores_the_previous_ones(
    data_file, tmp_path, monkeypatch, capsys, sigint_outside
):
    out = _previous_results(tmp_path)
    real_replace = os.replace

    def replace(src, dst):
        real_replace(src, dst)
        if Path(dst) == out / "posterior.nc":
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(output.os, "replace", replace)
    code = cli.main(_args(data_file, out))
    monkeypatch.undo()
    assert code == 1
    assert capsys.readouterr().err == INTERRUPTED + "\n"
    _assert_as_before(out)
    assert sigint_outside == []


def test_interrupt_as_a_new_folder_appears_removes_it(
    data_file, tmp_path, monkeypatch, capsys, sigint_outside
):
    out = tmp_path / "new" / "out"
    real_rename = os.rename

    def rename(src, dst):
        real_rename(src, dst)
        if Path(dst) == out:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(output.os, "rename", rename)
    code = cli.main(_args(data_file, out))
    monkeypatch.undo()
    assert code == 1
    assert capsys.readouterr().err == INTERRUPTED + "\n"
    assert os.listdir(tmp_path) == [], "the folder or a parent it made is left"
    assert sigint_outside == []


class _InterruptOn:
    """Standard output that raises SIGINT when a given text is printed."""

    def __init__(self, stream, text: str) -> None:
        self.stream, self.text = stream, text

    def write(self, s: str) -> int:
        if self.text in s:
            signal.raise_signal(signal.SIGINT)
        return self.stream.write(s)

    def flush(self) -> None:
        self.stream.flush()


def test_interrupt_after_the_results_are_in_place_is_ignored(
    data_file, tmp_path, monkeypatch, capsys, sigint_outside
):
    out = _previous_results(tmp_path)
    monkeypatch.setattr(sys, "stdout", _InterruptOn(sys.stdout, "Results written"))
    code = cli.main(_args(data_file, out))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""
    assert sorted(os.listdir(out)) == sorted([*RESULTS, "notes.txt"])
    assert (out / "posterior.nc").read_bytes() != b"previous"
    assert sigint_outside == []


def test_write_results_alone_undoes_an_interrupted_move(
    data_file, tmp_path, monkeypatch, sigint_outside
):
    """Without the command, write_results guards itself and re-raises."""
    import pandas as pd

    model = sm.DiagonalMixture(2, engine="stanli")
    model.fit(pd.read_csv(data_file), method="optimize", seed=1)
    out = _previous_results(tmp_path)
    real_replace = os.replace

    def replace(src, dst):
        real_replace(src, dst)
        if Path(dst) == out / "membership.csv":
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(output.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        output.write_results(model, out)
    monkeypatch.undo()
    _assert_as_before(out)
    assert sigint_outside == []


# -- subprocesses: a real SIGINT at each stage of a run ----------------------------
def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "stanmix", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A suite started in the background of a non-interactive shell runs
        # with SIGINT ignored, which the child would inherit.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_until(
    proc: subprocess.Popen, condition: Callable[[], bool], timeout: float = 300
) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "the run ended before the moment to interrupt"
        assert time.monotonic() < end, "the moment to interrupt never came"
        time.sleep(0.002)


def _interrupt(
    proc: subprocess.Popen, signum: int = signal.SIGINT
) -> tuple[int, str, str]:
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=300)
    return proc.returncode, stdout, stderr


def _assert_interrupted(code: int, stderr: str) -> None:
    assert code == 1, stderr
    assert "Traceback" not in stderr, stderr
    assert stderr.splitlines()[-1] == INTERRUPTED, stderr


@pytest.mark.slow
def test_the_command_loads_no_numerical_library_before_main():
    script = (
        "import sys, stanmix.cli\n"
        "heavy = {'numpy', 'pandas', 'arviz', 'scipy', 'matplotlib', 'stanli'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
        "import stanmix as sm\n"
        "from stanmix import DiagonalMixture, censoring, from_cmdstan_csv\n"
        "print(sm.DiagonalMixture is DiagonalMixture, sm.NormalMixture.__name__,\n"
        "      sm.datasets.__name__, censoring.__name__, from_cmdstan_csv.__name__,\n"
        "      sm.get_engine('stanli').name, callable(sm.cmdstan_available),\n"
        "      sm.relabel.__name__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "[]",
        "True NormalMixture stanmix.datasets stanmix.censoring from_cmdstan_csv "
        "stanli True stanmix.relabel",
    ]


@pytest.mark.slow
@pytest.mark.skipif(
    not Path("/proc/self/maps").exists(), reason="needs /proc to see numpy load"
)
def test_interrupt_while_the_libraries_load(data_file, tmp_path):
    out = _previous_results(tmp_path)
    proc = _start(_args(data_file, out), tmp_path)
    maps = Path(f"/proc/{proc.pid}/maps")

    def numpy_loaded() -> bool:
        try:
            return "_multiarray_umath" in maps.read_text()
        except OSError:  # the process is gone; _wait_until says so
            return False

    _wait_until(proc, numpy_loaded)
    code, stdout, stderr = _interrupt(proc)
    _assert_interrupted(code, stderr)
    assert stdout == ""
    _assert_as_before(out)


@pytest.mark.slow
def test_interrupt_while_sampling(data_file, tmp_path):
    out = _previous_results(tmp_path)
    long_run = ("--warmup", "5000", "--draws", "5000")
    proc = _start(_args(data_file, out, *long_run), tmp_path)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("Fitting 2 components"), line
    time.sleep(0.5)
    assert proc.poll() is None, "the fit ended before it could be interrupted"
    code, _, stderr = _interrupt(proc)
    _assert_interrupted(code, stderr)
    _assert_as_before(out)


@pytest.mark.slow
def test_interrupt_while_writing(data_file, tmp_path):
    """As soon as the staging folder appears, into a new and an existing
    folder; and a little later, when the run may already be complete."""
    for case, delay in (("existing", 0.0), ("new", 0.0), ("existing", 0.2)):
        folder = tmp_path / f"{case}-{delay}"
        folder.mkdir()
        out = _previous_results(folder) if case == "existing" else folder / "out"
        proc = _start(_args(data_file, out), folder)
        _wait_until(proc, lambda f=folder: any(f.glob(".out-*")))
        time.sleep(delay)
        code, stdout, stderr = _interrupt(proc)
        assert "Traceback" not in stderr, stderr
        if delay == 0.0 or code != 0:
            _assert_interrupted(code, stderr)
            if case == "existing":
                _assert_as_before(out)
            else:
                assert os.listdir(folder) == []
        else:  # interrupted after the results were in place: a complete run
            assert sorted(os.listdir(out)) == sorted([*RESULTS, "notes.txt"])
            assert "Results written to" in stdout
            assert os.listdir(folder) == ["out"]


@pytest.mark.slow
def test_sigterm_while_writing_keeps_no_partial_output(data_file, tmp_path):
    """SIGTERM (kill, timeout, a batch scheduler) as the staging folder
    appears: the run stops as for Ctrl-C, the staging folder is removed and
    the earlier results stay."""
    out = _previous_results(tmp_path)
    proc = _start(_args(data_file, out), tmp_path)
    _wait_until(proc, lambda: any(tmp_path.glob(".out-*")))
    code, _, stderr = _interrupt(proc, signal.SIGTERM)
    _assert_interrupted(code, stderr)
    _assert_as_before(out)
    assert not list(tmp_path.glob(".out-*"))
