"""Writing a fitted model's results to a folder, atomically, also under Ctrl-C.

:func:`write_results` writes everything into a hidden staging folder beside
the output folder and moves it into place only when complete.
:class:`InterruptGuard` makes that hold when the user presses Ctrl-C: a
SIGINT that arrives while the files are moved is held back until the move
is finished (and the move is then undone), and a SIGINT whose
``KeyboardInterrupt`` Python could not propagate (it only prints an
exception raised in a ``__del__`` method or a weakref callback, and carries
on) stops the run at its next step, and in any case before the results are
moved into place.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from stanmix.exceptions import StanmixInputError

TYPE_CHECKING = False  # typing is slow to import, and the command loads this early
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any

logger = logging.getLogger("stanmix")

#: The files :func:`write_results` writes, in order (``selection.csv`` only
#: for a choice of the number of components, ``stanmix-model.pkl`` only when asked
#: for). A call replaces the whole set: those it does not write are removed
#: from the output folder.
RESULT_FILES = (
    "selection.csv",
    "posterior.nc",
    "summary.csv",
    "membership.csv",
    "stanmix-model.pkl",
    "report.html",
)

#: How membership.csv writes its probabilities: to the seven significant
#: digits that the HDI bounds, draws kept in single precision, hold (more
#: digits would print the rounding of the float32 as if it were data).
MEMBERSHIP_FLOAT_FORMAT = "%.7g"


def _in_scope(function: Callable, args: tuple, kwargs: dict) -> Any:
    # While a frame of this function is on the main thread's stack, an
    # InterruptGuard's SIGINT handler raises KeyboardInterrupt.
    return function(*args, **kwargs)


def _within_scope(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code is _in_scope.__code__:
            return True
        frame = frame.f_back
    return False


class InterruptGuard:
    """Ctrl-C handling for a run whose last act is to write its results.

    Entered on the main thread while SIGINT has a Python handler (normally
    :func:`signal.default_int_handler`), the guard replaces that handler
    with one that records every SIGINT in :attr:`interrupted` and raises
    ``KeyboardInterrupt`` only

    - inside :meth:`call` (so not while the caller reports how a run ended),
    - outside :meth:`holding` blocks (which stay atomic: an interrupt that
      arrives inside one is raised when the block ends), and
    - before :meth:`finish` (after it, SIGINT is recorded in :attr:`late`
      and otherwise ignored: the results are complete and in place).

    A ``KeyboardInterrupt`` that Python cannot propagate (raised in a
    ``__del__`` method or a weakref callback, which Python would print as
    "Exception ignored" and carry on) is not printed: :meth:`check`, which
    the run calls between its steps, raises it.

    On exit the previous handler is put back (or ``handler_after``), and a
    late SIGINT is passed on to it when ``redeliver_late`` is true. Off the
    main thread, or when SIGINT is ignored, the guard does nothing.

    Parameters
    ----------
    redeliver_late : bool
        Pass a SIGINT that arrived after :meth:`finish` to the previous
        handler on exit (which, by default, raises ``KeyboardInterrupt``).
    handler_after : callable or signal.Handlers, optional
        The SIGINT handler to leave in place on exit, instead of the
        previous one (``signal.SIG_IGN`` for a program about to end).
    terminate : bool
        Take SIGTERM (what ``kill``, ``timeout``, batch schedulers and
        container stops send) as SIGINT too, where it would otherwise end
        the process at once and leave a half-written staging folder; for a
        program, not a library call.

    Examples
    --------
    >>> guard = InterruptGuard()
    >>> with guard:
    ...     guard.call(sum, [1, 2, 3])
    6
    >>> guard.interrupted
    False
    """

    def __init__(
        self,
        *,
        redeliver_late: bool = True,
        handler_after: Any = None,
        terminate: bool = False,
    ) -> None:
        self.interrupted = False
        self._terminate = terminate
        self._previous_term: Any = None
        self.late = False
        self._redeliver_late = redeliver_late
        self._handler_after = handler_after
        self._previous: Any = None
        self._previous_hook: Callable = sys.unraisablehook
        self._installed = False
        self._holding = 0
        self._finished = False

    # -- installing -----------------------------------------------------------
    def __enter__(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            current = signal.getsignal(signal.SIGINT)
            if callable(current):
                self._previous = current
                self._previous_hook = sys.unraisablehook
                signal.signal(signal.SIGINT, self._handle)
                sys.unraisablehook = self._unraisable
                self._installed = True
                term = signal.getsignal(signal.SIGTERM)
                if self._terminate and term == signal.SIG_DFL:
                    self._previous_term = term
                    signal.signal(signal.SIGTERM, self._handle)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self._installed:
            return
        self._installed = False
        after = self._handler_after
        signal.signal(signal.SIGINT, self._previous if after is None else after)
        if self._previous_term is not None:
            signal.signal(signal.SIGTERM, self._previous_term)
            self._previous_term = None
        sys.unraisablehook = self._previous_hook
        if self.late and self._redeliver_late:
            self.late = False
            self._previous(signal.SIGINT, None)

    def _unraisable(self, unraisable: Any) -> None:
        if issubclass(unraisable.exc_type, KeyboardInterrupt):
            # Raised where Python cannot propagate it (a __del__ method, a
            # weakref callback); it is recorded, and check() raises it.
            return
        self._previous_hook(unraisable)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._finished:
            self.late = True
            return
        self.interrupted = True
        if self._holding == 0 and _within_scope(
            frame if frame is not None else sys._getframe(1)
        ):
            raise KeyboardInterrupt

    # -- using ----------------------------------------------------------------
    def call(self, function: Callable, /, *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)``, interruptible by SIGINT."""
        self.check()
        return _in_scope(function, args, kwargs)

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` if a SIGINT arrived (and was lost)."""
        if self.interrupted and not self._finished:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """A block that SIGINT does not interrupt; it is raised at the end."""
        self._holding += 1
        try:
            yield
        finally:
            self._holding -= 1
        if not self._holding:
            self.check()

    def finish(self) -> None:
        """The run is complete: SIGINT from now on no longer interrupts it."""
        self._finished = True


def check_output_folder(
    out, *, name: str = "output folder", inputs: Sequence = ()
) -> Path:
    """Refuse an output folder that could not be created or written, or
    whose results would replace an input file.

    Parameters
    ----------
    out : str or Path
        The output folder; it may exist (then it must be a folder) or not
        (then its nearest existing parent must be a folder).
    name : str
        What to call it in messages, e.g. ``"--out"``.
    inputs : sequence of str or Path
        Files the run reads (the data file): none may be one of the
        :data:`RESULT_FILES` in ``out``, which the results replace or
        remove, whatever path leads to it (a symbolic link, ``..``).

    Returns
    -------
    Path

    Raises
    ------
    StanmixInputError
        ``out`` is a file, lies below a file, or its folder is not writable;
        ``out`` holds a folder named as a result file; or an input file is a
        result file of ``out``.

    Examples
    --------
    >>> import shutil, tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> _ = (tmp / "notes.txt").write_text("mine")
    >>> check_output_folder(tmp / "results") == tmp / "results"
    True
    >>> check_output_folder(tmp / "notes.txt" / "results")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    stanmix.exceptions.StanmixInputError: output folder '...' cannot be created: ...
    >>> _ = (tmp / "summary.csv").write_text("x,y")
    >>> check_output_folder(tmp, inputs=[tmp / "summary.csv"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    stanmix.exceptions.StanmixInputError: the results would replace the data file ...
    >>> shutil.rmtree(tmp)
    """
    out = Path(out)
    for path in inputs:
        _check_not_a_result(Path(path), out, name)
    what = f"{name} {str(out)!r}"
    if out.exists() and not out.is_dir():
        raise StanmixInputError(
            f"{what} exists and is not a folder; choose another path"
        )
    existing = next(p for p in (out, *out.parents) if p.exists())
    if not existing.is_dir():
        raise StanmixInputError(
            f"{what} cannot be created: {str(existing)!r} is a file, not a folder; "
            "choose another path"
        )
    for result in RESULT_FILES if existing == out else ():
        target = out / result
        if target.is_dir() and not target.is_symlink():
            raise StanmixInputError(
                f"{what} holds a folder named {result}, where this run writes (or "
                "removes) its result file; rename or move that folder, or choose "
                f"another {name}"
            )
    # Results are staged beside the folder, then moved into it.
    # A probe, not os.access: a read-only mount or /proc passes that for root.
    for folder in {existing, existing.parent} if existing == out else {existing}:
        try:
            os.rmdir(tempfile.mkdtemp(prefix=".stanmix-probe-", dir=folder))
        except OSError as err:
            raise StanmixInputError(
                f"{what}: cannot create files in {str(folder)!r} "
                f"({err.strerror or err}); choose another path"
            ) from None
    return out


def _check_not_a_result(data: Path, out: Path, name: str) -> None:
    """Refuse an input file that the results in ``out`` would replace."""
    folder = out.resolve()
    for result in RESULT_FILES:
        target = folder / result
        same = data.resolve() == target
        if not same and data.exists() and target.exists():
            same = os.path.samefile(data, target)
        if same:
            raise StanmixInputError(
                f"the results would replace the data file {str(data)!r}: it is "
                f"{result} in {name} {str(out)!r}, a file this run writes or "
                f"removes; choose another {name} (or move the data file)"
            )


def write_results(
    model,
    out,
    *,
    title: str | None = None,
    progress: bool = False,
    interrupts: InterruptGuard | None = None,
    selection=None,
    advice_wording: Callable[[str], str] | None = None,
    save_model: bool = False,
) -> list[Path]:
    """Write ``posterior.nc``, ``summary.csv``, ``membership.csv``, ``report.html``
    (and ``selection.csv`` when ``selection`` is given, ``stanmix-model.pkl`` with
    ``save_model``).

    Everything is first written to a temporary folder beside ``out`` and
    moved into place only when complete. A new ``out`` appears in one
    rename; into an existing ``out`` the files are moved one by one, and if
    that fails or is interrupted the previous versions are put back. The
    results replace the whole set of an earlier call: a file of
    :data:`RESULT_FILES` in ``out`` that this call does not write (the
    ``selection.csv`` of an earlier selection) is removed in the same
    step, and put back with the others. A failed or interrupted call
    therefore leaves no partial file in ``out``, an existing folder's
    earlier contents intact, and no parent folder it created; other files
    in ``out`` are never touched. A new file takes the mode ``open`` would
    give it (the umask's), a replaced one keeps its own; a new ``out``, the
    mode ``mkdir`` would give it.

    Parameters
    ----------
    model : Mixture
        A fitted model.
    out : str or Path
        The output folder (created, with its parents, when missing).
    title : str, optional
        Title of the HTML report.
    progress : bool
        Show a progress bar (on standard error) while writing.
    interrupts : InterruptGuard, optional
        The entered guard of a longer run that this write ends (the command
        line's): the results are not kept if it has seen a SIGINT, and it is
        finished once they are in place. By default the call guards itself.
    selection : ComponentSelection, optional
        The choice of the number of components that led to ``model``
        (:func:`stanmix.select_components`): written as ``selection.csv`` and
        shown at the top of the report.
    advice_wording : callable, optional
        Passed to :func:`stanmix.report.write_report`.
    save_model : bool
        Also write ``stanmix-model.pkl``, the fitted model pickled (read it back with
        :func:`pickle.load` or ``joblib.load``, or give it to ``stanmix
        membership`` for new data's memberships).

    Returns
    -------
    list of Path
        The files written, in ``out``.
    """
    model.param_draws()  # raises NotFittedError before fit
    out = check_output_folder(out)
    options = (title, progress, selection, advice_wording, bool(save_model))
    if interrupts is not None:
        return _write(model, out, interrupts, *options)
    with InterruptGuard() as guard:
        return guard.call(_write, model, out, guard, *options)


def _write(
    model,
    out: Path,
    guard: InterruptGuard,
    title: str | None,
    progress: bool,
    selection,
    advice_wording: Callable[[str], str] | None,
    save_model: bool,
) -> list[Path]:
    import pickle
    import shutil
    import tempfile

    from tqdm.auto import tqdm

    from stanmix.report import write_report

    created: list[Path] = []
    staging: Path | None = None
    committed = False
    try:
        with guard.holding():
            _make_folders(out.parent, created)
            staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
        steps = [
            ("posterior.nc", lambda p: model.idata_.to_netcdf(str(p))),
            ("summary.csv", lambda p: model.summary().to_csv(p)),
            (
                "membership.csv",
                lambda p: model.membership().to_csv(
                    p, index=False, float_format=MEMBERSHIP_FLOAT_FORMAT
                ),
            ),
            (
                "report.html",
                lambda p: write_report(
                    model,
                    p,
                    title=title,
                    selection=selection,
                    advice_wording=advice_wording,
                ),
            ),
        ]
        if selection is not None:
            steps.insert(0, ("selection.csv", lambda p: selection.table_.to_csv(p)))
        if save_model:
            pickled = pickle.dumps(model)
            steps.insert(-1, ("stanmix-model.pkl", lambda p: p.write_bytes(pickled)))
        with tqdm(
            total=len(steps),
            desc="writing results",
            unit="file",
            disable=not progress,
            file=sys.stderr,
        ) as bar:
            for name, write in steps:
                guard.check()
                bar.set_postfix_str(name)
                write(staging / name)
                bar.update()
        files = _commit(staging, out, guard)
        committed = True
        return files
    finally:
        with guard.holding():
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            if not committed:
                for folder in reversed(created):
                    with contextlib.suppress(OSError):
                        folder.rmdir()


def _make_folders(folder: Path, created: list[Path]) -> None:
    """Create ``folder`` and its missing parents, appending each to ``created``."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir()
        created.append(path)


def _commit(staging: Path, out: Path, guard: InterruptGuard) -> list[Path]:
    from stanmix._files import file_mode

    names = sorted(p.name for p in staging.iterdir())
    for name in names:
        # As open() would give them (mkstemp/mkdtemp make them private): a
        # file keeps the mode of the one it replaces, a new one follows the
        # umask, so that results of private data stay private.
        os.chmod(staging / name, file_mode(out / name))
    with guard.holding():
        guard.check()
        undo, discard_backup = _place(staging, out, names)
        if guard.interrupted:
            undo()
            raise KeyboardInterrupt
        guard.finish()
    discard_backup()
    return [out / name for name in names]


def _place(
    staging: Path, out: Path, names: list[str]
) -> tuple[Callable[[], None], Callable[[], None]]:
    """Move the staged files into ``out``, and the result files of an earlier
    run that are not among them out of it; return how to undo it, how to
    finish."""
    import shutil
    import tempfile

    if not out.exists():
        from stanmix._files import umask

        os.chmod(staging, 0o777 & ~umask())  # as mkdir() would make it
        try:
            os.rename(staging, out)
            return (lambda: os.rename(out, staging)), (lambda: None)
        except OSError:
            if not out.is_dir():
                raise
    backup = Path(tempfile.mkdtemp(prefix=f".{out.name}-previous-", dir=out.parent))
    replaced: list[str] = []
    placed: list[str] = []
    stale = [
        name
        for name in RESULT_FILES
        if name not in names and ((out / name).is_file() or (out / name).is_symlink())
    ]

    def undo() -> None:
        try:
            for name in placed:
                (out / name).unlink(missing_ok=True)
            for name in replaced:
                os.replace(backup / name, out / name)
        except OSError:
            logger.error(
                "could not restore the previous results in %s; they are kept in %s",
                out,
                backup,
            )
            raise
        shutil.rmtree(backup, ignore_errors=True)

    try:
        for name in stale:
            os.replace(out / name, backup / name)
            replaced.append(name)
        for name in names:
            target = out / name
            if target.exists() or target.is_symlink():
                os.replace(target, backup / name)
                replaced.append(name)
            os.replace(staging / name, target)
            placed.append(name)
    except BaseException:
        undo()
        raise
    return undo, (lambda: shutil.rmtree(backup, ignore_errors=True))
