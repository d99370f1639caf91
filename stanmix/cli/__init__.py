"""The ``stanmix`` command line.

``stanmix demo`` fits the bundled five-cluster example on the embedded
engine, prints the result and writes it, with an HTML report, to a folder
(``./stanmix-demo`` by default). ``stanmix fit data.csv ...`` fits a CSV
file and writes the posterior, the summary and membership tables and the
report to a folder; ``stanmix fit-regression data.csv --response y ...``
does the same for a mixture of regressions of one column on others.
``stanmix select`` and ``stanmix select-regression`` fit a range of
numbers of components, choose one and write it with ``selection.csv``.
With ``--save-model`` these also write the fitted model (``stanmix-model.pkl``),
which ``stanmix membership`` reads to write the memberships of a new file's
rows.

Exit codes: 0 success; 2 a bad flag or bad data (``stanmix: error: ...``,
reported before any fitting); 1 any other failure (``stanmix: failed:
...``) and Ctrl-C (``stanmix: interrupted; no partial output was kept``). A
failed or interrupted run leaves the output folder as it was. A run replaces
the result files (:data:`stanmix.output.RESULT_FILES`) an earlier run left
in the folder, removing those it does not write, and leaves other files
alone; a data file that is one of them is refused.

Ctrl-C is handled by an :class:`~stanmix.output.InterruptGuard` that
:func:`main` installs before anything else; the package's modules import
only the standard library at the top, so the numerical libraries load under
it. They are layered: :mod:`~stanmix.cli.flags` (the parser),
:mod:`~stanmix.cli.limits` (``--lower-limit`` and ``--upper-limit``),
:mod:`~stanmix.cli.checks` (the data file against the flags),
:mod:`~stanmix.cli.console` (what standard error shows) and
:mod:`~stanmix.cli.commands` (the subcommands), with :func:`main` here. Once
the results are in place the run is complete, and a later Ctrl-C is ignored.

Standard error carries only stanmix's own messages (``stanmix: warning:
...``) and progress bars; the warnings and log messages of the libraries
underneath are shown with ``--verbose``.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from stanmix.cli.commands import (
    _demo,
    _fit,
    _fit_regression,
    _membership,
    _select,
    _select_regression,
)
from stanmix.cli.console import _as_flags, _console
from stanmix.cli.flags import _out_folder, _parser
from stanmix.exceptions import StanmixInputError
from stanmix.output import InterruptGuard

INTERRUPTED = "stanmix: interrupted; no partial output was kept"


class _State:
    """What the report of a failed run needs to know about the run."""

    verbose = False


def _run(argv: list[str] | None, guard: InterruptGuard, state: _State) -> int:
    args, unknown = _parser().parse_known_args(argv)
    if unknown:
        raise StanmixInputError(
            f"unrecognized arguments: {' '.join(unknown)} (see 'stanmix "
            f"{args.command} --help')"
        )
    state.verbose = args.verbose
    args.out = _out_folder(args.out, file=args.command == "membership")
    commands = {
        "demo": _demo,
        "fit": _fit,
        "select": _select,
        "fit-regression": _fit_regression,
        "select-regression": _select_regression,
        "membership": _membership,
    }
    with _console(args.verbose), _streamed(args):
        return commands[args.command](args, guard)


@contextlib.contextmanager
def _streamed(args) -> Iterator[None]:
    """Data from a stream (``-`` or /dev/stdin, a pipe, ``<(...)``), read
    once into a file named ``stdin`` (or ``pipe``) in a temporary folder:
    the data file is read more than once (its header for the limit flags,
    then the whole), and a stream only once."""
    data = getattr(args, "data", None)
    if data is None:
        yield
        return
    dash = str(data) == "-"
    if not dash and (not data.exists() or data.is_file() or data.is_dir()):
        yield
        return
    standard = dash or data.resolve() == Path("/dev/stdin").resolve()
    try:
        raw = sys.stdin.buffer.read() if dash else data.read_bytes()
    except OSError as err:
        raise StanmixInputError(
            f"cannot read {str(data)!r}: {err.strerror or err}"
        ) from None
    with tempfile.TemporaryDirectory(prefix="stanmix-data-") as folder:
        args.data = Path(folder) / ("stdin" if standard else "pipe")
        args.from_stdin = standard
        args.data.write_bytes(raw)
        yield


def _forget_interrupt() -> None:
    """Make the interpreter end with the exit code ``main`` returns.

    CPython records a KeyboardInterrupt that escapes code run by ``exec``
    on a string (as dataclasses do while a module is imported) and, under
    ``python -m``, ends the process with SIGINT at exit even though the
    interrupt was handled here. Running such code once more clears that
    record.
    """
    exec("None", {})


def _ended(err: BaseException, guard: InterruptGuard, state: _State) -> int:
    """Report how a run that raised ended; return the exit code."""
    if isinstance(err, SystemExit):
        code = err.code
        return code if isinstance(code, int) else (0 if code is None else 2)
    if isinstance(err, KeyboardInterrupt) or guard.interrupted:
        print(INTERRUPTED, file=sys.stderr)
        _forget_interrupt()
        return 1
    if isinstance(err, StanmixInputError):
        print(f"stanmix: error: {_as_flags(str(err))}", file=sys.stderr)
        return 2
    if isinstance(err, Exception):
        print(
            f"stanmix: failed: {type(err).__name__}: {_as_flags(str(err))}",
            file=sys.stderr,
        )
        if state.verbose:
            import traceback

            traceback.print_exception(err, file=sys.stderr)
        return 1
    raise err


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``stanmix`` command; returns the exit code.

    Parameters
    ----------
    argv : list of str, optional
        The arguments. Without them (as the ``stanmix`` program) the
        arguments come from ``sys.argv``, SIGTERM is taken as Ctrl-C (the
        run stops and keeps no partial output), and SIGINT is left ignored
        on return, so that the process ends with the returned code even
        when Ctrl-C comes while the interpreter shuts down.

    Returns
    -------
    int
        0 on success, 2 for bad input, 1 for any other failure or Ctrl-C.
    """
    guard = InterruptGuard(
        redeliver_late=False,
        handler_after=signal.SIG_IGN if argv is None else None,
        terminate=argv is None,
    )
    state = _State()
    with guard:
        try:
            return guard.call(_run, argv, guard, state)
        except BaseException as err:
            return _ended(err, guard, state)
