"""Independent fits in parallel: serially, through joblib, or on Dask.

A sweep over the number of components, the folds of a cross-validation and
one fit per data set (per patient, per plate) are independent fits. This
module runs such work in one place, :func:`run_tasks`, and builds the
many-data-set case on it, :func:`fit_many`.

Three rules make a result independent of where and in which order it ran:

- every task carries its own seed (:func:`spawn_seeds` derives one per task
  from a base seed), so nothing depends on execution order or on the worker;
- every task runs with the BLAS thread pools (OpenBLAS, MKL) held at one
  thread, on every backend, so no result depends on how many BLAS threads a
  worker happened to have;
- warnings a task raises are recorded where it runs and raised again in the
  calling process once all tasks have finished, in task order, prefixed with
  the task's name, so a worker's warnings are neither lost nor deduplicated
  against another task's.

Results come back in task order whatever the backend. The same seeds give
bit-identical fits serially, with joblib and on Dask, as long as the
machines run the same versions of stanmix, its engine, numpy and BLAS on the
same kind of CPU (a different instruction set can change BLAS rounding).
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import hashlib
import logging
import os
import pickle
import socket
import sys
import threading
import traceback
import uuid
import warnings
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from stanmix import _validation as check
from stanmix.exceptions import StanmixInputError

logger = logging.getLogger("stanmix")

BACKENDS = ("auto", "serial", "joblib", "dask")
ERRORS = ("raise", "return")
SEED_BITS = 31  # seeds are check.MAX_SEED's 31 bits, safe for every engine
DASK_INSTALL = 'pip install "stanmix[dask]"'

Task = Callable[[], Any] | tuple
"""A zero-argument callable, or ``(function, args)`` or ``(function, args,
kwargs)``; it must pickle for the joblib and Dask backends."""


class FitFailedError(RuntimeError):
    """One or more of several independent fits (tasks) raised an error.

    Raised by :func:`run_tasks` and :func:`fit_many` with ``errors="raise"``
    after every task has finished, so the others' results are kept.

    Attributes
    ----------
    failures : dict
        The error of each failed task, keyed as the tasks are (data set name
        or position). An error from a worker process carries the worker's
        traceback as a note.
    results : list or dict
        What the call would have returned, with ``None`` for the failed
        tasks.
    """

    def __init__(self, message: str, failures: dict, results: Any) -> None:
        super().__init__(message)
        self.failures = failures
        self.results = results

    def __reduce__(self):
        # whole across processes (a run nested in a worker): the failures,
        # the results and any notes
        return (
            type(self),
            (str(self), self.failures, self.results),
            dict(self.__dict__),
        )


# -- seeds ------------------------------------------------------------------


def spawn_seeds(base: int | None, n: int) -> list[int]:
    """``n`` distinct, reproducible seeds derived from one base seed.

    The seeds are ``np.random.SeedSequence(base).spawn(n)``, each child's
    first 32-bit word shifted right by one bit: non-negative 31-bit ints
    that every engine accepts. Child ``i`` depends only on ``base`` and
    ``i``, so adding tasks leaves the earlier seeds unchanged.

    Parameters
    ----------
    base : int or None
        A non-negative int; ``None`` draws fresh entropy (logged at INFO
        level so a run can be repeated).
    n : int
        How many seeds.

    Returns
    -------
    list of int

    Examples
    --------
    >>> spawn_seeds(1, 3) == spawn_seeds(1, 3)
    True
    >>> spawn_seeds(1, 3)[:2] == spawn_seeds(1, 2)
    True
    >>> len(set(spawn_seeds(1, 100)))
    100
    """
    if base is not None:
        base = _check_seed(base, "base")
    n = check.integer("n", n, low=0)
    sequence = np.random.SeedSequence(base)
    if base is None:
        logger.info("seeds derived from base entropy %d", sequence.entropy)
    return [_seed_of(child) for child in sequence.spawn(int(n))]


def _seed_of(sequence: np.random.SeedSequence) -> int:
    """The first 32-bit word of ``sequence`` shifted to a 31-bit seed."""
    return int(sequence.generate_state(1, dtype=np.uint32)[0] >> (32 - SEED_BITS))


def keyed_seed(base: int, *key: int) -> int:
    """A reproducible seed for the task named by ``key`` (non-negative
    ints), derived from ``base``: ``keyed_seed(base, i)`` is
    ``spawn_seeds(base, n)[i]``, and a longer key names a task within task
    ``key[0]`` (``np.random.SeedSequence(base, spawn_key=key)``).

    Examples
    --------
    >>> keyed_seed(1, 2) == spawn_seeds(1, 3)[2]
    True
    >>> keyed_seed(1, 2, 1) != keyed_seed(1, 2)
    True
    """
    base = _check_seed(base, "base")
    return _seed_of(np.random.SeedSequence(base, spawn_key=tuple(int(k) for k in key)))


def named_seed(base: int, name: Hashable) -> int:
    """A reproducible seed for the task called ``name`` (a data set's name),
    derived from ``base``: it depends on the name (its type and text)
    alone, not on which other tasks run beside it or in what order. A
    numpy scalar reads as the Python value it holds (``np.int64(1)`` as
    ``1``), a tuple as its parts.

    Examples
    --------
    >>> named_seed(1, "plate 1") == named_seed(1, "plate 1")
    True
    >>> named_seed(1, "plate 1") != named_seed(1, "plate 2")
    True
    >>> named_seed(1, np.int64(3)) == named_seed(1, 3)
    True
    """
    digest = hashlib.sha256(_name_text(name).encode("utf-8")).digest()
    # four words: a key no position (one word) or fold (two) can have
    return keyed_seed(base, *(int(w) for w in np.frombuffer(digest[:16], "<u4")))


def _name_text(name: Hashable) -> str:
    """A name's text for its seed: text quoted (so no text reads as a
    tuple of others), anything else with its type."""
    if isinstance(name, tuple):
        return "(" + ", ".join(map(_name_text, name)) + ")"
    if isinstance(name, np.generic):
        name = name.item()
    return repr(name) if isinstance(name, str) else f"{type(name).__name__}:{name}"


def _check_seed(seed, what: str) -> int:
    return check.seed(check.integer(what, seed, low=0), what)


# -- the task runner ------------------------------------------------------------


@dataclass(frozen=True)
class _Call:
    """A task in normal form; a plain object, so Dask does not read a tuple
    as a task of its own graph."""

    function: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)

    def __call__(self) -> Any:
        return self.function(*self.args, **self.kwargs)


class _Caught(NamedTuple):
    text: str
    category: type
    filename: str
    lineno: int
    module: str | None


class _Outcome(NamedTuple):
    position: int
    value: Any
    error: BaseException | None
    caught: list


@dataclass(frozen=True)
class _Plan:
    backend: str  # "serial", "joblib" or "dask"
    workers: int  # processes for joblib; 1 for serial; 0 (the cluster's) on Dask
    client: Any = None


def run_tasks(
    tasks: Sequence[Task],
    *,
    n_jobs: int | None = None,
    backend: str = "auto",
    client: Any = None,
    progress: bool = False,
    errors: str = "raise",
    keys: Sequence[Hashable] | None = None,
    label: str = "task",
    one_thread_workers: bool = False,
) -> list:
    """Run independent tasks, serially or in parallel; results in task order.

    Parameters
    ----------
    tasks : sequence
        Each a zero-argument callable, or a tuple ``(function, args)`` or
        ``(function, args, kwargs)``. A task must carry everything it needs,
        its seed included: nothing may depend on the order tasks run in or
        on the worker that runs them. For the joblib and Dask backends tasks
        and their results must pickle (cloudpickle is used).
    n_jobs : int, optional
        Worker processes for joblib. ``None`` (the default) means one, so
        tasks run one after another in this process, as in scikit-learn:
        a NUTS fit already runs its chains in parallel threads, so more
        processes pay off mainly for many small or optimize fits, and a
        call nested in other parallel work should not start processes
        unasked. ``-1`` means all cores, ``-2`` all but one, as in joblib.
        Never more processes than tasks. Must be given with
        ``backend="joblib"`` (which names worker processes), and ``None``
        with Dask: the cluster's workers set the parallelism there.
    backend : {"auto", "serial", "joblib", "dask"}
        ``"serial"``: in this process. ``"joblib"``: ``n_jobs`` worker
        processes on this machine (joblib's loky backend, whatever joblib
        backend is configured around the call: threads would share the
        engine's process state); with ``n_jobs=1`` (or one core), as in
        joblib, the tasks run in this process.
        ``"dask"``: the Dask distributed cluster of ``client``, or the
        default client when ``client`` is None.
        ``"auto"``: Dask when ``client`` is given, joblib when ``n_jobs``
        asks for more than one worker, serial otherwise; a default Dask
        client alone does not send work to its cluster.
    client : distributed.Client, optional
        The Dask client to submit to.
    progress : bool
        Show a progress bar over finished tasks.
    errors : {"raise", "return"}
        A task that raises does not stop the others. ``"raise"``: once
        all have finished, raise :class:`FitFailedError` naming every
        failed task and its error (chained from the first), with the
        other results in its ``results``. ``"return"``: put the exception
        in the failed task's place in the returned list and log a warning.
        A joblib worker process that dies (out of memory, a crash in native
        code) stops the whole run with joblib's error; on Dask a lost
        worker's task is retried as Dask's configuration allows, then
        counts as that task's failure.
    keys : sequence of hashable, optional
        Names of the tasks for messages and for ``FitFailedError.failures``
        (default: positions).
    label : str
        What a task is called in messages ("data set 'b' failed: ...").
    one_thread_workers : bool
        Refuse, before any task starts, a Dask cluster that would run two
        tasks on threads of one process: a worker with more than one
        thread, or a worker in this process (``LocalCluster(
        processes=False)``). Stanmix fits need it (:func:`fit_many` and
        :func:`stanmix.select_components` set it): stanli runs only on the
        thread that loaded it, so there a fit on a second thread fails,
        and a fit on a worker thread of this process ties stanli to that
        thread, after which this process can fit no more.

    Returns
    -------
    list
        One result per task, in task order.

    Notes
    -----
    Threads. Each task runs with the BLAS thread pools held at one thread
    (threadpoolctl), on every backend, and joblib's workers start with one
    OpenMP/BLAS thread (``inner_max_num_threads=1``); Dask's workers start
    so by default. The engine's own threads are left alone: a NUTS fit runs
    ``min(chains, cores)`` chain threads (stanli) or processes (CmdStan),
    so ``n_jobs`` processes sampling at once run up to ``n_jobs x chains``
    chain threads, which the operating system shares among the cores. In
    those workers a fit gives no spare cores to within-chain threads (it
    reads the one-thread setting; ``threads_per_chain`` still sets them).
    That changes speed, never draws (each chain has its own random
    stream). Aim for ``n_jobs x chains`` near the number of cores, or use
    ``n_jobs=-1`` for many optimize fits, which run on one thread each.

    Warnings a task raises are recorded where it runs, each distinct one
    once per task (as Python's default filter would show them in a fresh
    process, whichever tasks the worker ran before), and raised again here
    after all tasks have finished, in task order, prefixed with the task's
    name ("data set 'b': ..."). Warnings from threads a task starts itself
    are shown where they occur, as are log records. A warning that the
    filters here turn into an error is raised in its place, unless tasks
    failed and ``errors="raise"``: then :class:`FitFailedError` is raised,
    with the other results, and notes the warning.

    joblib's automatic memory mapping of large arrays is off: a task sees
    the same writeable arrays it would see serially.

    Examples
    --------
    >>> run_tasks([(pow, (2, 3)), (pow, (3, 2)), lambda: "done"])
    [8, 9, 'done']
    """
    calls = [_as_call(task, i) for i, task in enumerate(tasks)]
    keys = list(range(len(calls))) if keys is None else list(keys)
    if len(keys) != len(calls):
        raise StanmixInputError(
            f"keys has {len(keys)} entries for {len(calls)} tasks; give one per task"
        )
    if errors not in ERRORS:
        raise StanmixInputError(
            f"unknown errors={errors!r}; choose 'raise' or 'return'"
        )
    check.flag("progress", progress)
    check.flag("one_thread_workers", one_thread_workers)
    plan = _plan(len(calls), n_jobs, backend, client)
    if plan.backend == "dask" and calls and one_thread_workers:
        _refuse_shared_processes(plan.client)
    if not calls:
        return []
    where = {
        "serial": "serially",
        "joblib": f"in {plan.workers} joblib processes",
        "dask": "on the Dask cluster",
    }
    logger.info("running %d %ss %s", len(calls), label, where[plan.backend])
    outcomes: list[_Outcome | None] = [None] * len(calls)
    bar = _bar(len(calls), f"{label}s", progress)
    try:
        for outcome in _RUNNERS[plan.backend](calls, plan):
            outcomes[outcome.position] = outcome
            bar.update(1)
    finally:
        bar.close()
    # Warnings once all have finished, in task order: the same order on every
    # backend, and a filter that turns one into an error stops no other task.
    results: list = [None] * len(calls)
    failures: dict = {}
    raised = None  # a warning the filters here turn into an error
    for position, outcome in enumerate(outcomes):
        if raised is None:
            try:
                _reraise_warnings(outcome.caught, _task_name(label, keys[position]))
            except Warning as exc:
                raised = exc
        if outcome.error is None:
            results[position] = outcome.value
        else:
            failures[position] = outcome.error
    if raised is not None and not (failures and errors == "raise"):
        raise raised
    if not failures:
        return results
    failed = sorted(failures)
    summary = "\n".join(
        f"  {_task_name(label, keys[i])}: {type(failures[i]).__name__}: {failures[i]}"
        for i in failed
    )
    message = f"{len(failed)} of {len(calls)} {label}s failed:\n{summary}"
    if errors == "return":
        logger.warning(message)
        for i in failed:
            results[i] = failures[i]
        return results
    error = FitFailedError(message, {keys[i]: failures[i] for i in failed}, results)
    if raised is not None and hasattr(error, "add_note"):  # notes: Python 3.11
        # the failures, with their results, outrank a warning made an error
        error.add_note(
            f"A warning was also raised as an error: {type(raised).__name__}: {raised}"
        )
    raise error from failures[failed[0]]


def _as_call(task, position: int) -> _Call:
    if isinstance(task, tuple):
        if not 2 <= len(task) <= 3 or not callable(task[0]):
            raise StanmixInputError(
                f"task {position} is a tuple of length {len(task)}; a task is a "
                "callable or a tuple (function, args) or (function, args, kwargs)"
            )
        args = task[1]
        kwargs = task[2] if len(task) == 3 else {}
        if not isinstance(args, (tuple, list)) or not isinstance(kwargs, Mapping):
            raise StanmixInputError(
                f"task {position}: args must be a tuple or list and kwargs a dict"
            )
        return _Call(task[0], tuple(args), dict(kwargs))
    if callable(task):
        return _Call(task)
    raise StanmixInputError(
        f"task {position} is a {type(task).__name__}; a task is a callable or a "
        "tuple (function, args) or (function, args, kwargs)"
    )


def _plan(n_tasks: int, n_jobs, backend: str, client) -> _Plan:
    """Check the parallel options together; decide where the tasks run."""
    if backend not in BACKENDS:
        raise StanmixInputError(
            f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}"
        )
    if n_jobs is not None and (
        isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer))
    ):
        raise StanmixInputError(
            f"n_jobs must be an integer (-1 for all cores) or None, got {n_jobs!r}"
        )
    if n_jobs == 0:
        raise StanmixInputError(
            "n_jobs=0 runs nothing; use a positive number of worker processes, "
            "-1 for all cores, or None for one"
        )
    processes = backend == "joblib"  # asked for by name: worker processes
    if backend == "auto":
        backend = "dask" if client is not None else "joblib"
    if backend == "dask":
        if n_jobs is not None:
            raise StanmixInputError(
                "n_jobs applies to backend='joblib'; on Dask the cluster's workers "
                "set the parallelism, so leave n_jobs=None and size the cluster"
            )
        return _Plan("dask", 0, _dask_client(client))
    if client is not None:
        raise StanmixInputError(
            f"client is a Dask client, but backend={backend!r}; use "
            "backend='dask' (or 'auto') to run on its cluster, or drop client"
        )
    if processes and n_jobs is None:
        raise StanmixInputError(
            "backend='joblib' runs the tasks in worker processes: say how many "
            "with n_jobs (e.g. n_jobs=2, or -1 for all cores), or use "
            "backend='serial' to run them here"
        )
    workers = _workers(n_jobs, n_tasks)
    if backend == "serial" and n_jobs not in (None, 1):
        raise StanmixInputError(
            f"backend='serial' runs one task at a time, but n_jobs={n_jobs}; "
            "use backend='joblib' for worker processes, or drop n_jobs"
        )
    return _Plan("serial" if workers == 1 else "joblib", workers)


def _workers(n_jobs: int | None, n_tasks: int) -> int:
    if n_jobs is None or n_jobs == 1:
        return 1
    import joblib

    return max(1, min(int(joblib.effective_n_jobs(int(n_jobs))), n_tasks))


def _dask_client(client):
    try:
        import distributed
    except ImportError as exc:
        raise StanmixInputError(
            "backend='dask' needs Dask distributed, which is not installed; "
            f"install it with: {DASK_INSTALL}"
        ) from exc
    if client is None:
        try:
            client = distributed.default_client()
        except ValueError as exc:
            raise StanmixInputError(
                "backend='dask' found no Dask cluster: pass client="
                "distributed.Client(...) (e.g. Client(LocalCluster()) or "
                "Client('tcp://scheduler:8786')), or create a client first so "
                "it becomes the default"
            ) from exc
    if not isinstance(client, distributed.Client):
        raise StanmixInputError(
            f"client must be a distributed.Client, got {type(client).__name__}"
        )
    if getattr(client, "asynchronous", False):
        raise StanmixInputError(
            "client is an asynchronous Dask client; pass a synchronous "
            "distributed.Client"
        )
    if client.status != "running":
        raise StanmixInputError(
            f"the Dask client is not connected to a cluster (status "
            f"{client.status!r}); connect it or pass a running client"
        )
    return client


def _refuse_shared_processes(client) -> None:
    """Refuse a Dask cluster whose workers would run fits side by side on
    threads of one process: workers with several threads, or workers in
    this process (whose threads would tie stanli to one of them)."""
    threads = client.nthreads()
    if not threads:
        return  # no workers yet: nothing to check (run_tasks logs it)
    here = _whereabouts()
    inside = sorted(
        address for address, where in client.run(_whereabouts).items() if where == here
    )
    if inside:
        raise StanmixInputError(
            f"the Dask worker{'s' if len(inside) > 1 else ''} {_listing(inside)} "
            f"{'run' if len(inside) > 1 else 'runs'} in this process (a "
            "LocalCluster(processes=False)): stanli runs "
            "only on the thread that loaded it, so fits on a worker thread here "
            "would fail, or tie stanli to that thread so that this process could "
            "fit no more; use LocalCluster(processes=True, threads_per_worker=1), "
            "or n_jobs= for joblib worker processes"
        )
    several = sorted(address for address, n in threads.items() if n > 1)
    if several:
        raise StanmixInputError(
            f"the Dask worker{'s' if len(several) > 1 else ''} {_listing(several)} "
            f"{'have' if len(several) > 1 else 'has'} several threads (up to "
            f"{max(threads[a] for a in several)}): stanli runs only on the thread "
            "that loaded it, so of two fits running at once in one worker, "
            "one would fail; start the workers with one thread each "
            "(LocalCluster(processes=True, threads_per_worker=1), or "
            "`dask worker --nthreads 1`)"
        )


def _whereabouts() -> tuple[str, int]:
    """The machine and process this runs in."""
    return socket.gethostname(), os.getpid()


def _bar(total: int, desc: str, show: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="fit", disable=not show)


# -- where tasks run ---------------------------------------------------------------


def _serial(calls: list[_Call], plan: _Plan) -> Iterator[_Outcome]:
    for position, call in enumerate(calls):
        yield _execute(position, call, False)


def _joblib(calls: list[_Call], plan: _Plan) -> Iterator[_Outcome]:
    from joblib import Parallel, delayed, parallel_config

    with parallel_config(backend="loky", inner_max_num_threads=1):
        run = Parallel(
            n_jobs=plan.workers, return_as="generator_unordered", max_nbytes=None
        )
        yield from run(
            delayed(_execute)(position, call, True)
            for position, call in enumerate(calls)
        )


def _dask(calls: list[_Call], plan: _Plan) -> Iterator[_Outcome]:
    import distributed

    client = plan.client
    if not client.scheduler_info().get("workers"):
        logger.warning("the Dask cluster has no workers yet; the tasks wait for some")
    run = uuid.uuid4().hex[:8]
    futures = {
        client.submit(
            _execute, position, call, True, key=f"stanmix-{run}-{position}"
        ): position
        for position, call in enumerate(calls)
    }
    try:
        for future in distributed.as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # the worker was lost, or the result unpicklable
                yield _Outcome(futures[future], None, exc, [])
            future.release()
    finally:
        client.cancel([f for f in futures if not f.done()])


_RUNNERS = {"serial": _serial, "joblib": _joblib, "dask": _dask}


# -- inside a task -------------------------------------------------------------------


def _execute(position: int, call: _Call, portable: bool) -> _Outcome:
    """Run one task where it lands: BLAS at one thread, warnings recorded,
    an error kept as the task's outcome (picklable when ``portable``)."""
    with _task_environment() as caught:
        try:
            value = call()
        except Exception as exc:
            error = _portable(exc) if portable else exc
            return _Outcome(position, None, error, list(caught))
    return _Outcome(position, value, None, list(caught))


def _portable(exc: Exception) -> Exception:
    """The error, with the worker's traceback as a note, as it will arrive
    (one that does not pickle: its type and message in an Exception, or a
    RuntimeError where it was one)."""
    note = "Traceback in the worker:\n" + "".join(traceback.format_exc())
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    try:
        return pickle.loads(pickle.dumps(exc))
    except Exception:
        # the nearest kind that pickles: a RuntimeError stays one (callers
        # tell an engine's failure by it), anything else is not made one
        kind = RuntimeError if isinstance(exc, RuntimeError) else Exception
        plain = kind(f"{type(exc).__name__}: {exc}")
        if hasattr(plain, "add_note"):
            plain.add_note(note)
        return plain


# The state below is per process. Several tasks can run at once in one
# process (a Dask worker with several threads): the first to start sets BLAS
# to one thread and installs the warning recorder, the last to finish
# restores both, and each thread records into its own list.
_state_lock = threading.Lock()
_running = 0  # tasks running in this process
_saved: dict[str, Any] = {}
_local = threading.local()
_modules: dict[str, str | None] = {}


@contextlib.contextmanager
def _task_environment() -> Iterator[list]:
    global _running
    records: list = []
    with _state_lock:
        if _running == 0:
            from threadpoolctl import threadpool_limits

            _saved["blas"] = threadpool_limits(limits=1, user_api="blas")
            _saved["show"] = warnings.showwarning  # the display in force before
            guard = warnings.catch_warnings()
            guard.__enter__()
            warnings.simplefilter("always")
            _saved["warnings"] = guard
            warnings.showwarning = _record_warning
        _running += 1
    outer = getattr(_local, "records", None)  # a task run inside a task
    _local.records = records
    try:
        yield records
    finally:
        _local.records = outer
        with _state_lock:
            _running -= 1
            if _running == 0:
                _saved.pop("warnings").__exit__(None, None, None)
                _saved.pop("blas").restore_original_limits()
                _saved.pop("show", None)


def _record_warning(message, category, filename, lineno, file=None, line=None):
    records = getattr(_local, "records", None)
    if records is None:  # not a task's thread: shown as it would have been
        show = _saved.get("show")
        if show is not None:
            show(message, category, filename, lineno, file, line)
        return
    caught = _Caught(str(message), category, filename, lineno, _module_of(filename))
    if caught not in records:  # once per task, as the default filter would
        records.append(caught)


def _module_of(filename: str) -> str | None:
    """The module name of a file, so warning filters by module still apply."""
    if filename not in _modules:
        _modules[filename] = next(
            (
                name
                for name, module in list(sys.modules.items())
                if getattr(module, "__file__", None) == filename
            ),
            None,
        )
    return _modules[filename]


def _task_name(label: str, key) -> str:
    """How messages name a task: ``data set 'b'``, or the key itself where it
    already says what it is (``K=2``, ``fold 1 of K=2``)."""
    if isinstance(key, str) and key.startswith(label):
        return key
    return f"{label} {key!r}"


def _ignored(text: str, category: type, module: str | None, lineno: int) -> bool:
    """Whether the warning filters in force here ignore this warning as it
    was raised (before the task's name is put in front of its message, which
    message filters would no longer match)."""
    for action, message, kind, where, line in warnings.filters:
        if (
            (message is None or message.match(text))
            and issubclass(category, kind)
            and (where is None or where.match(module or ""))
            and (line == 0 or line == lineno)
        ):
            return action == "ignore"
    return warnings.defaultaction == "ignore"


def ignored_here(text: str, category: type, filename: str, lineno: int) -> bool:
    """Whether the warning filters in force here ignore a warning of this
    message as raised at ``filename``:``lineno``, for warnings recorded in
    full and summarized later (their text as raised, before anything is put
    in front of it)."""
    return _ignored(text, category, _module_of(filename), lineno)


def _reraise_warnings(caught: list[_Caught], name: str) -> None:
    """Give the tasks' warnings again, named, at the line that called
    stanmix: where a task ran (a worker process, a thread, here) changes
    neither where they point nor which filters apply (those in force here
    are checked against each warning as it was raised)."""
    level = check.caller_level()
    for w in caught:
        if _ignored(w.text, w.category, w.module, w.lineno):
            continue
        text = f"{name}: {w.text}"
        try:
            warnings.warn(text, w.category, stacklevel=level)
        except TypeError:  # a category that cannot be built from a message
            warnings.warn(text, UserWarning, stacklevel=level)


# -- many data sets -------------------------------------------------------------------


def fit_many(
    datasets: Sequence | Mapping,
    estimator: Any,
    *,
    fit_kwargs: Mapping | Sequence | None = None,
    seeds: Sequence[int] | Mapping | None = None,
    n_jobs: int | None = None,
    backend: str = "auto",
    client: Any = None,
    progress: bool = False,
    errors: str = "raise",
) -> list | dict:
    """Fit one copy of ``estimator`` to each data set, in parallel if asked.

    Parameters
    ----------
    datasets : sequence or mapping
        The data sets (arrays or DataFrames, as ``estimator.fit`` takes
        them), or a mapping name -> data set; then the result is a dict
        with the same keys in the same order. One data set per group of a
        DataFrame: ``{g: d[["x", "y"]] for g, d in df.groupby("plate")}``.
    estimator : estimator
        A stanmix estimator, e.g. ``DiagonalMixture(3)``. It is not
        modified: each data set gets a fresh copy,
        ``type(estimator)(**estimator.get_params())``.
    fit_kwargs : dict, or sequence or mapping of dicts, optional
        Keyword arguments for ``fit``: one dict shared by every data set,
        or one dict (or None) per data set, e.g. detection limits that
        differ per plate. Per data set, it is a sequence aligned with a
        sequence of data sets, or a mapping with the same keys as a
        mapping of data sets (positions are not matched to names).
        A ``"seed"`` in the shared dict is the base seed (see ``seeds``).
    seeds : int, or sequence or mapping of int, optional
        One seed per data set, aligned like per-data-set ``fit_kwargs``;
        or one int, the base seed each data set's own seed is derived from
        (as a shared ``fit_kwargs["seed"]``, which per-data-set dicts
        cannot hold). By default each data set gets a distinct seed derived
        from the base (fresh entropy when there is none, logged at INFO
        level): a named data set's from its name (:func:`named_seed`), so
        dropping a data set or reordering the mapping leaves the others'
        fits as they were; a listed one's from its position
        (:func:`spawn_seeds`). So ``fit_kwargs={"seed": 1}`` does not fit
        every data set with seed 1; ``seeds=[1, 1]`` does. Each fit stores
        its seed in ``seed_``.
    n_jobs, backend, client, progress, errors
        Where and how the fits run, and what a failed fit does; see
        :func:`run_tasks`. By default one after another in this process,
        raising :class:`FitFailedError` after all have finished when any
        failed (``errors="return"`` puts the exception in its place).

    Returns
    -------
    list or dict
        The fitted estimators, in the order (or with the keys) of
        ``datasets``.

    Examples
    --------
    >>> import stanmix as sm
    >>> plates = {p: sm.datasets.two_components(60, seed=p).X for p in (1, 2)}
    >>> fits = sm.fit_many(
    ...     plates, sm.NormalMixture(2, engine="stanli"),
    ...     fit_kwargs={"method": "optimize", "seed": 7},
    ... )
    >>> list(fits), [fit.means_.shape for fit in fits.values()]
    ([1, 2], [(2,), (2,)])
    >>> [fit.seed_ for fit in fits.values()] == [named_seed(7, p) for p in (1, 2)]
    True
    """
    names, data = _datasets(datasets)
    if isinstance(estimator, type):
        raise StanmixInputError(
            f"estimator is the class {estimator.__name__}; give an instance with "
            f"its settings, e.g. {estimator.__name__}(3)"
        )
    if not callable(getattr(estimator, "fit", None)) or not callable(
        getattr(estimator, "get_params", None)
    ):
        raise StanmixInputError(
            f"estimator must be a stanmix estimator (with get_params and fit), "
            f"got {type(estimator).__name__}"
        )
    shared, per_fit = _fit_kwargs(fit_kwargs, names, len(data))
    seed_list = _seeds_of(seeds, shared.pop("seed", None), names, len(data))
    _check_fit_options(estimator, shared, per_fit, names)
    cls = type(estimator)
    params = copy.deepcopy(estimator.get_params())
    tasks = [
        (_fit_one, (cls, params, X, seed, {**shared, **own}))
        for X, seed, own in zip(data, seed_list, per_fit, strict=True)
    ]
    return _run_keyed(
        tasks,
        names,
        n_jobs=n_jobs,
        backend=backend,
        client=client,
        progress=progress,
        errors=errors,
    )


#: fit_many's own arguments, which fit_kwargs cannot hold.
FIT_MANY_ARGS = ("n_jobs", "backend", "client", "progress", "errors", "seeds")


def refuse_own_arguments(
    kwargs: Mapping, function: str, own: Sequence[str], what: str
) -> None:
    """Refuse a key of ``kwargs`` (keywords passed on to ``fit``) that is,
    or is a misspelling of, an argument of ``function`` itself; ``what``
    says where the key was given. fit's own keywords pass.

    Examples
    --------
    >>> try:
    ...     refuse_own_arguments({"n_job": 2}, "select_components", ["n_jobs"],
    ...                          "select_components got")
    ... except StanmixInputError as err:
    ...     print(err)  # doctest: +NORMALIZE_WHITESPACE
    select_components got 'n_job', not an option of fit: did you mean
    'n_jobs', an argument of select_components itself?
    """
    from stanmix.estimator import Mixture, fit_keywords

    fits = set(fit_keywords(Mixture))
    for key in kwargs:
        close = difflib.get_close_matches(str(key), own, n=1, cutoff=0.8)
        if close and key not in fits:
            said = (
                f"it is an argument of {function} itself: pass "
                f"{function}(..., {key}=...)"
                if close[0] == key
                else f"did you mean {close[0]!r}, an argument of {function} itself?"
            )
            raise StanmixInputError(f"{what} {key!r}, not an option of fit: {said}")


def _seeds_of(seeds, base: int | None, names: list | None, n: int) -> list[int]:
    """Each data set's seed: given one by one in ``seeds``, or derived from
    a base seed (``seeds`` as an int, or the shared ``fit_kwargs["seed"]``
    as ``base``; fresh entropy without either)."""
    if seeds is not None and base is not None:
        raise StanmixInputError(
            "both seeds and fit_kwargs['seed'] were given; pass the per-data-set "
            "seeds (or one base seed) in seeds, or one base seed in "
            "fit_kwargs['seed']"
        )
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        base, seeds = _check_seed(seeds, "seeds"), None
    elif (seeds is not None and not hasattr(seeds, "__len__")) or isinstance(
        seeds, (str, bytes)
    ):
        raise StanmixInputError(
            f"seeds must be one int (the base seed each data set's is derived "
            f"from) or one seed per data set, got {seeds!r}"
        )
    if seeds is None:
        if base is None:
            base = check.fresh_seed()
            logger.info("seeds derived from base seed %d", base)
        return _derived_seeds(base, names, n)
    return [
        _check_seed(s, f"seeds[{key!r}]")
        for key, s in zip(
            names or range(n), _aligned(seeds, names, n, "seeds"), strict=True
        )
    ]


def _derived_seeds(base: int, names: list | None, n: int) -> list[int]:
    """Each data set's seed from the base: by name for named data sets (so
    dropping or reordering others leaves it), by position otherwise."""
    if names is None:
        return spawn_seeds(base, n)
    texts = [_name_text(name) for name in names]
    twice = set(check.repeated(texts))
    if twice:
        alike = [name for name, text in zip(names, texts, strict=True) if text in twice]
        raise StanmixInputError(
            f"the data sets {_listing(alike)} have names that read the same, so "
            "they would get one seed; rename them, or give seeds= one per data set"
        )
    # two names share a seed by a chance of 2^-31 a pair: harmless, as
    # seeds=[1, 1] is
    return [named_seed(base, name) for name in names]


def _check_fit_options(estimator, shared: dict, per_fit: list[dict], names) -> None:
    """Refuse, before any fit starts, keywords a stanmix estimator's ``fit``
    refuses whatever the data (an unknown name, a setting its method does
    not use), instead of one failed fit per data set."""
    from stanmix.estimator import Mixture, check_fit_options

    if not isinstance(estimator, Mixture):
        return
    if not any(per_fit):
        check_fit_options(estimator, shared)
        return
    for key, own in zip(names or range(len(per_fit)), per_fit, strict=True):
        try:
            check_fit_options(estimator, {**shared, **own})
        except StanmixInputError as err:
            raise StanmixInputError(f"fit_kwargs[{key!r}]: {err}") from None


def _fit_one(cls, params: dict, X, seed: int, fit_kwargs: dict):
    return cls(**params).fit(X, seed=seed, **fit_kwargs)


def _run_keyed(tasks, names, **options):
    try:
        results = run_tasks(
            tasks, keys=names, label="data set", one_thread_workers=True, **options
        )
    except FitFailedError as err:
        if names is not None:
            err.results = dict(zip(names, err.results, strict=True))
        raise
    return results if names is None else dict(zip(names, results, strict=True))


def _datasets(datasets) -> tuple[list | None, list]:
    if isinstance(datasets, (np.ndarray, pd.DataFrame, pd.Series)):
        raise StanmixInputError(
            f"datasets is one data set (a {type(datasets).__name__}); pass a "
            "list of data sets, e.g. [X], or a dict name -> data set"
        )
    if isinstance(datasets, (pd.core.groupby.DataFrameGroupBy,)):
        raise StanmixInputError(
            "datasets is a pandas GroupBy; pass its groups as a dict name -> "
            "data set: dict(iter(frame.groupby(...))), with the grouping "
            "column dropped from each"
        )
    if isinstance(datasets, Mapping):
        names, data = list(datasets.keys()), list(datasets.values())
    elif isinstance(datasets, (str, bytes)) or not hasattr(datasets, "__iter__"):
        raise StanmixInputError(
            "datasets must be a list of data sets (arrays or DataFrames) or a "
            f"dict name -> data set, got {type(datasets).__name__}"
        )
    else:
        names, data = None, list(datasets)
    if not data:
        raise StanmixInputError("datasets is empty; give at least one data set")
    for key, X in zip(names or range(len(data)), data, strict=True):
        if X is None or isinstance(X, Mapping) or np.isscalar(X):
            raise StanmixInputError(
                f"datasets[{key!r}] is a {type(X).__name__}, not a data set; each "
                "data set is an array or a DataFrame (pass one data set as [X])"
            )
        if (
            isinstance(X, tuple)
            and len(X) == 2
            and np.ndim(X[0]) == 0  # a group's name, not data
            and isinstance(X[1], (pd.DataFrame, pd.Series))
        ):
            raise StanmixInputError(
                f"datasets[{key!r}] is a (name, DataFrame) pair, as "
                "list(frame.groupby(...)) gives; pass the groups as a dict name "
                "-> data set: dict(iter(frame.groupby(...))), with the grouping "
                "column dropped from each"
            )
        if isinstance(X, tuple):
            raise StanmixInputError(
                f"datasets[{key!r}] is a tuple; each data set is one array or "
                "DataFrame. For a RegressionMixture, put the response in the "
                "DataFrame and name it: fit_kwargs={'response': 'y'}"
            )
    return names, data


def _fit_kwargs(fit_kwargs, names, n: int) -> tuple[dict, list[dict]]:
    """Split into (shared dict, one dict per data set), both checked."""
    if fit_kwargs is None:
        return {}, [{} for _ in range(n)]
    # A mapping is per data set when its keys name data sets and its values
    # are dicts (or None); a shared dict's values are fit's arguments, even
    # where a data set happens to share a name with one of them.
    per_name = (
        names is not None
        and isinstance(fit_kwargs, Mapping)
        and not set(fit_kwargs).isdisjoint(names)
        and all(v is None or isinstance(v, Mapping) for v in fit_kwargs.values())
    )
    if (
        names is None
        and isinstance(fit_kwargs, Mapping)
        and any(not isinstance(key, str) for key in fit_kwargs)
        and all(v is None or isinstance(v, Mapping) for v in fit_kwargs.values())
    ):
        raise StanmixInputError(
            "fit_kwargs is a dict of dicts keyed by position, but datasets is a "
            "list: give a list with one dict (or None) per data set, in order"
        )
    if isinstance(fit_kwargs, Mapping) and not per_name:
        entries = [
            key
            for key, value in fit_kwargs.items()
            if key in (names or ()) and isinstance(value, Mapping)
        ]
        if entries:
            shared = [key for key in fit_kwargs if key not in entries]
            raise StanmixInputError(
                f"fit_kwargs mixes per-data-set entries ({_listing(entries)}) with "
                f"options for every data set ({_listing(shared)}); "
                "give either one dict of options, or one dict per data set "
                "(repeating the shared options in each, and the base seed "
                "as seeds=<int>)"
            )
        return _check_kwargs(fit_kwargs, "fit_kwargs", shared=True), [
            {} for _ in range(n)
        ]
    entries = _aligned(fit_kwargs, names, n, "fit_kwargs")
    per_fit = []
    for key, entry in zip(names or range(n), entries, strict=True):
        what = f"fit_kwargs[{key!r}]"
        if entry is not None and not isinstance(entry, Mapping):
            raise StanmixInputError(
                f"{what} is a {type(entry).__name__}; give a dict of fit keyword "
                "arguments (or None) per data set"
            )
        per_fit.append(_check_kwargs(entry or {}, what, shared=False))
    return {}, per_fit


def _listing(keys) -> str:
    return ", ".join(map(repr, keys))


def _check_kwargs(kwargs: Mapping, what: str, *, shared: bool) -> dict:
    kwargs = dict(kwargs)
    for key in kwargs:
        if not isinstance(key, str):
            raise StanmixInputError(f"{what} has a key {key!r}; keys are fit's names")
    refuse_own_arguments(kwargs, "fit_many", FIT_MANY_ARGS, f"{what} has")
    for key in ("X", "y"):
        if key in kwargs:
            raise StanmixInputError(
                f"{what} has {key!r}; the data go in datasets, not in fit_kwargs"
            )
    if "seed" in kwargs and kwargs["seed"] is None:
        del kwargs["seed"]  # as fit(seed=None): fresh entropy
    if "seed" in kwargs:
        if not shared:
            raise StanmixInputError(
                f"{what} has 'seed'; give per-data-set seeds in seeds=..., or "
                "one base seed as seeds=<int>"
            )
        kwargs["seed"] = _check_seed(kwargs["seed"], "fit_kwargs['seed']")
    return kwargs


def _aligned(values, names, n: int, what: str) -> list:
    """``values`` as a list aligned with the data sets, or a clear error."""
    if names is not None:
        if not isinstance(values, Mapping):
            raise StanmixInputError(
                f"datasets is a mapping, so {what} must be a mapping with the same "
                f"keys (positions are not matched to names), got "
                f"{type(values).__name__}"
            )
        missing = [k for k in names if k not in values]
        extra = [k for k in values if k not in set(names)]
        if missing or extra:
            raise StanmixInputError(
                f"{what} must have one entry per data set: "
                + "; ".join(
                    part
                    for part in (
                        f"missing {missing}" if missing else "",
                        f"unknown data sets {extra}" if extra else "",
                    )
                    if part
                )
            )
        return [values[k] for k in names]
    if isinstance(values, Mapping) or isinstance(values, (str, bytes)):
        raise StanmixInputError(
            f"datasets is a sequence, so {what} must be a sequence aligned with "
            f"it, got {type(values).__name__}"
        )
    if not hasattr(values, "__len__"):
        raise StanmixInputError(
            f"{what} must be a sequence aligned with datasets, got "
            f"{type(values).__name__}"
        )
    values = list(values)
    if len(values) != n:
        raise StanmixInputError(
            f"{what} has {len(values)} entries for {n} data sets; give one per data set"
        )
    return values


__all__ = [
    "BACKENDS",
    "FitFailedError",
    "fit_many",
    "named_seed",
    "run_tasks",
    "spawn_seeds",
]
