"""Independent fits in parallel (stanmix.parallel): the same seeds give
bit-identical fits serially, with joblib and on Dask; results keep the order
(or names) of the data sets; bad options fail before any fit; a failed fit is
reported by name without losing the others."""

from __future__ import annotations

import os
import pickle
import sys
import threading
import warnings

import numpy as np
import pandas as pd
import pytest

import stanmix as sm
from stanmix.exceptions import StanmixInputError
from stanmix.parallel import (
    FitFailedError,
    named_seed,
    run_tasks,
    spawn_seeds,
)

pytest.importorskip("stanli")
# Small data sets have several modes; the estimator says so, and that is not
# what these tests are about.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*optimizer starts reached a different mode:RuntimeWarning"
)

K = 3
MAP = {"method": "optimize"}
NOTES = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="exception notes are Python 3.11's"
)
NUTS = {
    "method": "sample",
    "chains": 2,
    "warmup": 100,
    "draws": 100,
    "show_progress": False,
}
# Sizes differ so that a fit matched to the wrong data set cannot pass.
DATA = [sm.datasets.blobs(n, seed=n).X for n in (60, 80, 100)]
PER_FIT = [MAP, NUTS, MAP]  # one tiny NUTS case among MAP fits
SEEDS = [11, 12, 13]


def estimator() -> sm.DiagonalMixture:
    return sm.DiagonalMixture(K, engine="stanli")


def posterior(fit) -> dict[str, np.ndarray]:
    return {name: var.values for name, var in fit.idata_.posterior.data_vars.items()}


def assert_identical(fits, reference) -> None:
    assert len(fits) == len(reference)
    for fit, ref in zip(fits, reference, strict=True):
        assert fit.seed_ == ref.seed_
        assert fit.method_ == ref.method_
        got, want = posterior(fit), posterior(ref)
        assert got.keys() == want.keys()
        for name in want:
            assert got[name].shape == want[name].shape, name
            assert np.array_equal(got[name], want[name]), name


@pytest.fixture(scope="module")
def serial_fits():
    return sm.fit_many(DATA, estimator(), fit_kwargs=PER_FIT, seeds=SEEDS)


def test_serial_fits_equal_plain_fits_in_data_set_order(serial_fits):
    plain = [
        estimator().fit(X, seed=seed, **kwargs)
        for X, seed, kwargs in zip(DATA, SEEDS, PER_FIT, strict=True)
    ]
    assert_identical(serial_fits, plain)
    assert [f.method_ for f in serial_fits] == ["optimize", "sample", "optimize"]


def test_joblib_processes_give_bit_identical_fits(serial_fits):
    fits = sm.fit_many(
        DATA, estimator(), fit_kwargs=PER_FIT, seeds=SEEDS, n_jobs=2, progress=True
    )
    assert_identical(fits, serial_fits)


def test_dask_cluster_gives_bit_identical_fits(serial_fits):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        # an engine object first: unpickled on a worker's communication
        # thread, it must not tie stanli to that thread for this or later fits
        with_object = sm.DiagonalMixture(K, engine=sm.get_engine("stanli"))
        fits = sm.fit_many(
            DATA, with_object, fit_kwargs=PER_FIT, seeds=SEEDS, client=client
        )
        assert_identical(fits, serial_fits)
        fits = sm.fit_many(
            DATA, estimator(), fit_kwargs=PER_FIT, seeds=SEEDS, client=client
        )
        assert_identical(fits, serial_fits)
        # backend="dask" alone uses the default client (the one just made).
        fits = sm.fit_many(
            DATA[:1], estimator(), fit_kwargs=MAP, seeds=SEEDS[:1], backend="dask"
        )
        assert_identical(fits, serial_fits[:1])
    with pytest.raises(StanmixInputError, match="not connected"):
        sm.fit_many(DATA, estimator(), fit_kwargs=MAP, client=client)


@pytest.mark.parametrize(
    ("cluster", "match"),
    [
        pytest.param(
            {"processes": False, "threads_per_worker": 1},
            r"runs in this process \(a LocalCluster\(processes=False\)\)",
            id="in-process",
        ),
        pytest.param(
            {"processes": True, "threads_per_worker": 2},
            r"has several threads \(up to 2\).*threads_per_worker=1",
            id="two-threads",
        ),
    ],
)
def test_dask_workers_that_share_a_process_are_refused_before_any_fit(
    no_fit, cluster, match
):
    """On threads of one process stanli fits fail, or (in this process) tie
    stanli to a worker thread, after which this process can fit no more."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=1, dashboard_address=None, **cluster) as c,
        distributed.Client(c) as client,
    ):
        with pytest.raises(StanmixInputError, match=match):
            sm.fit_many(DATA, estimator(), fit_kwargs=MAP, seeds=SEEDS, client=client)
        with pytest.raises(StanmixInputError, match=match):
            sm.select_components(
                DATA[0], [1, 2], estimator=estimator(), method="optimize", client=client
            )
        # any task may still run there
        assert run_tasks([(pow, (2, 3))], client=client) == [8]


def test_mapping_keeps_names_order_per_data_set_kwargs_and_input_estimator():
    plates = {}
    for name, seed in (("plate-b", 1), ("plate-a", 2)):  # not in sorted order
        X, limits = sm.datasets.left_censor(sm.datasets.blobs(70, seed=seed).X, 0.1)
        plates[name] = (X, limits)
    model = estimator()
    before = model.get_params()
    fits = sm.fit_many(
        {name: X for name, (X, _) in plates.items()},
        model,
        fit_kwargs={
            name: {**MAP, "lower_limit": limits} for name, (_, limits) in plates.items()
        },
    )
    assert list(fits) == ["plate-b", "plate-a"]
    assert model.get_params() == before
    assert not hasattr(model, "idata_")
    assert all(fit is not model for fit in fits.values())
    seeds = [fit.seed_ for fit in fits.values()]
    assert len(set(seeds)) == len(seeds)
    for name, fit in fits.items():  # each fit got its own limits and seed
        X, limits = plates[name]
        plain = estimator().fit(X, seed=fit.seed_, lower_limit=limits, **MAP)
        assert_identical([fit], [plain])


def test_base_seed_in_fit_kwargs_derives_one_seed_per_data_set():
    first = sm.fit_many(DATA[::2], estimator(), fit_kwargs={**MAP, "seed": 5})
    again = sm.fit_many(DATA[::2], estimator(), fit_kwargs={**MAP, "seed": 5})
    assert [f.seed_ for f in first] == spawn_seeds(5, 2)
    assert_identical(again, first)


def test_a_shared_dict_stays_shared_when_a_data_set_shares_a_keyword_name():
    """Data sets named like fit keywords: {"method": "optimize"} is still one
    dict for all (its value is not a dict of keywords)."""
    datasets = {"method": DATA[0], "b": DATA[1]}
    fits = sm.fit_many(datasets, estimator(), fit_kwargs={**MAP, "seed": 3})
    assert list(fits) == ["method", "b"]
    assert [f.seed_ for f in fits.values()] == [named_seed(3, n) for n in fits]
    assert all(f.method_ == "optimize" for f in fits.values())


def test_a_named_data_sets_fit_does_not_depend_on_the_others():
    """Seeds of named data sets come from their names: dropping one (the
    failed plate, say) or reordering the mapping leaves the others' fits."""
    run = {**MAP, "seed": 5}
    every = sm.fit_many(
        dict(zip("abc", DATA, strict=True)), estimator(), fit_kwargs=run
    )
    fewer = sm.fit_many({"c": DATA[2], "a": DATA[0]}, estimator(), fit_kwargs=run)
    assert len({f.seed_ for f in every.values()}) == 3
    assert_identical([fewer["a"], fewer["c"]], [every["a"], every["c"]])
    # a numpy integer name reads as the integer (groupby keys are such)
    assert named_seed(5, np.int64(2)) == named_seed(5, 2) != named_seed(5, "2")


def test_names_that_read_the_same_are_refused_rather_than_given_one_seed(no_fit):
    class Plate:
        def __str__(self) -> str:
            return "plate"

    first, second = Plate(), Plate()
    with pytest.raises(StanmixInputError, match="have names that read the same"):
        sm.fit_many({first: DATA[0], second: DATA[1]}, estimator(), seeds=1)
    # one seed each, given: accepted (the fits run, and fail under no_fit)
    out = sm.fit_many(
        {first: DATA[0], second: DATA[1]},
        estimator(),
        seeds={first: 1, second: 2},
        errors="return",
    )
    assert all(isinstance(err, AssertionError) for err in out.values())


def test_a_base_seed_beside_per_data_set_options_goes_in_seeds():
    names = ["a", "b"]
    per_plate = {n: {**MAP, "n_starts": 2} for n in names}
    plates = dict(zip(names, DATA[:2], strict=True))
    first = sm.fit_many(plates, estimator(), fit_kwargs=per_plate, seeds=5)
    again = sm.fit_many(plates, estimator(), fit_kwargs=per_plate, seeds=5)
    assert [f.seed_ for f in first.values()] == [named_seed(5, n) for n in names]
    assert_identical(list(again.values()), list(first.values()))
    listed = sm.fit_many(DATA[:2], estimator(), fit_kwargs=[MAP, MAP], seeds=5)
    assert [f.seed_ for f in listed] == spawn_seeds(5, 2)


@NOTES
def test_a_failure_report_crosses_processes_whole():
    err = FitFailedError("1 of 2 data sets failed", {"b": ValueError("x")}, [1, None])
    err.add_note("a note")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is FitFailedError and str(back) == str(err)
    assert back.results == [1, None] and list(back.failures) == ["b"]
    assert back.__notes__ == ["a note"]
    # a run nested in a worker process sends its report back as it is
    nested = run_tasks([(run_tasks, ([(int, ("x",))],))] * 2, n_jobs=2, errors="return")
    for report in nested:
        assert type(report) is FitFailedError
        assert isinstance(report.failures[0], ValueError)
        assert report.results == [None]


@NOTES
def test_a_warning_made_an_error_does_not_hide_the_failures():
    def warn_then(value):
        warnings.warn("careful", RuntimeWarning, stacklevel=2)
        return value

    tasks = [(int, ("x",)), (warn_then, (1,))]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(FitFailedError, match="1 of 2 tasks failed") as info:
            run_tasks(tasks)
        with pytest.raises(RuntimeWarning, match="task 0: careful"):
            run_tasks(tasks[1:])  # nothing failed: the warning is the error
    assert info.value.results == [None, 1]
    assert info.value.__notes__ == [
        "A warning was also raised as an error: RuntimeWarning: task 1: careful"
    ]


def test_the_joblib_backend_runs_in_worker_processes_only():
    with pytest.raises(StanmixInputError, match="say how many with n_jobs"):
        run_tasks([os.getpid], backend="joblib")
    assert run_tasks([os.getpid] * 2, backend="joblib", n_jobs=2)[0] != os.getpid()
    assert run_tasks([os.getpid]) == [os.getpid()]  # auto, one job: here


def test_spawn_seeds_takes_a_whole_count():
    with pytest.raises(StanmixInputError, match=r"n must be an integer, got 2\.7"):
        spawn_seeds(1, 2.7)


def test_a_seed_of_none_in_fit_kwargs_is_fresh_entropy_as_in_fit():
    fits = sm.fit_many(DATA[:2], estimator(), fit_kwargs={**MAP, "seed": None})
    seeds = [f.seed_ for f in fits]
    assert len(set(seeds)) == 2 and all(isinstance(s, int) for s in seeds)


def test_failed_fit_is_named_after_the_others_finish():
    datasets = {"good": DATA[0], "tiny": DATA[0].iloc[:2]}  # 2 rows, 3 components
    with pytest.raises(FitFailedError, match="data set 'tiny'") as info:
        sm.fit_many(datasets, estimator(), fit_kwargs=MAP)
    err = info.value
    assert "1 of 2 data sets failed" in str(err)
    assert "larger than the number of observations" in str(err)
    assert list(err.failures) == ["tiny"]
    assert isinstance(err.failures["tiny"], StanmixInputError)
    assert err.__cause__ is err.failures["tiny"]
    assert err.results["tiny"] is None
    assert err.results["good"].means_.shape == (K, 2)

    fits = sm.fit_many(datasets, estimator(), fit_kwargs=MAP, errors="return")
    assert isinstance(fits["tiny"], StanmixInputError)
    assert fits["good"].means_.shape == (K, 2)


def test_run_tasks_in_processes_keeps_order_errors_and_warnings():
    tasks = [(pow, (i, 2)) for i in range(6)]
    tasks += [(int, ("x",)), (warnings.warn, ("careful",)), (os.getpid, ())]
    with pytest.warns(UserWarning, match="task 7: careful") as seen:
        out = run_tasks(tasks, n_jobs=2, errors="return")
    # shown at the caller's line, not at the worker's frame in joblib
    assert {w.filename for w in seen} == {__file__}
    assert out[:6] == [i * i for i in range(6)]
    assert isinstance(out[6], ValueError)
    assert "Traceback in the worker" in "".join(getattr(out[6], "__notes__", []))
    assert out[7] is None
    assert out[8] != os.getpid()


def test_an_error_that_does_not_pickle_keeps_its_kind_of_failure():
    """An error a worker cannot send back arrives as its type and message;
    an engine's kind (RuntimeError, which select_components keeps as a
    failed K) only where it was one, so a bug still stops a sweep."""

    class Odd(Exception):
        def __init__(self, a, b):  # two arguments: does not unpickle
            super().__init__(f"{a} and {b}")

    class OddRuntime(RuntimeError):
        def __init__(self, a, b):
            super().__init__(f"{a} and {b}")

    def fail(kind):
        raise kind("this", "that")

    out = run_tasks([(fail, (Odd,)), (fail, (OddRuntime,))], n_jobs=2, errors="return")
    assert type(out[0]) is Exception and str(out[0]) == "Odd: this and that"
    assert type(out[1]) is RuntimeError
    assert str(out[1]) == "OddRuntime: this and that"


def test_each_task_shows_a_repeated_warning_once_under_its_name():
    def noisy():
        for _ in range(50):
            warnings.warn("same again", RuntimeWarning, stacklevel=1)

    with pytest.warns(RuntimeWarning) as seen:
        run_tasks([noisy, noisy], keys=["a", "b"])
    assert [str(w.message) for w in seen] == [
        "task 'a': same again",
        "task 'b': same again",
    ]


def test_filters_on_a_warnings_own_message_still_apply():
    """A filter written for the warning as the fit raises it (its message
    from the start) silences it in run_tasks too, though the task's name is
    put in front of what is shown."""

    def two():
        warnings.warn("3 of 4 optimizer starts reached a different mode", stacklevel=1)
        warnings.warn("something else", stacklevel=1)

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", message=r"\d+ of \d+ optimizer starts")
        run_tasks([two], keys=["a"])
    assert [str(w.message) for w in seen] == ["task 'a': something else"]


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_warnings_from_code_of_no_module_file_are_shown(n_jobs):
    """A notebook cell's function (its file is no module's) or one sent to a
    worker by value has no module name: its warnings are shown all the same."""
    space = {"warnings": warnings}
    code = "def cell(i):\n    warnings.warn(f'careful {i}')\n    return i\n"
    exec(compile(code, "/tmp/ipykernel_1/123.py", "exec"), space)

    def local(i):
        warnings.warn(f"careful {i}", stacklevel=1)
        return i

    task = space["cell"] if n_jobs is None else local
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert run_tasks([(task, (0,)), (task, (1,))], n_jobs=n_jobs) == [0, 1]
    assert sorted(str(w.message) for w in seen) == [
        "task 0: careful 0",
        "task 1: careful 1",
    ]


def test_calls_from_two_threads_at_once_keep_their_own_warnings():
    both_running = threading.Barrier(2)

    def task(name):
        both_running.wait(timeout=30)
        warnings.warn(f"from {name}", stacklevel=1)
        both_running.wait(timeout=30)
        return name

    shown_before = warnings.showwarning
    out = {}

    def call(name):
        out[name] = run_tasks([(task, (name,))], keys=[name])

    with pytest.warns(UserWarning) as seen:
        threads = [threading.Thread(target=call, args=(n,)) for n in "xy"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert out == {"x": ["x"], "y": ["y"]}
    assert sorted(str(w.message) for w in seen) == [
        "task 'x': from x",
        "task 'y': from y",
    ]
    assert warnings.showwarning is shown_before


@pytest.fixture
def no_fit(monkeypatch):
    """Any fit fails the test: bad options must be refused before fitting."""

    def fit(self, *args, **kwargs):
        raise AssertionError("a fit ran")

    monkeypatch.setattr(sm.DiagonalMixture, "fit", fit)


def bad(match: str, datasets=DATA, model=None, **options):
    return pytest.param(datasets, model, options, match, id=match[:30])


@pytest.mark.parametrize(
    ("datasets", "model", "options", "match"),
    [
        bad("datasets is empty", datasets=[]),
        bad("datasets is one data set", datasets=DATA[0]),
        bad(
            r"datasets is a pandas GroupBy; pass its groups as a dict",
            datasets=pd.DataFrame({"g": [0, 0, 1, 1], "x": [1.0, 2, 3, 4]}).groupby(
                "g"
            ),
        ),
        bad(r"datasets\[1\] is a NoneType", datasets=[DATA[0], None]),
        bad("estimator must be", model=object()),
        bad(
            r"estimator is the class Mixture; give an instance with its settings, "
            r"e.g. Mixture\(3\)",
            model=sm.Mixture,
        ),
        bad("progress must be True or False, got 'no'", progress="no"),
        bad(
            r"seeds\[1\] must be at most 2147483647 \(2\*\*31 - 1\), got 2147483648",
            seeds=[1, 2**31, 3],
        ),
        bad(
            r"fit_kwargs mixes per-data-set entries \('a'\) with options for every "
            r"data set \('method'\); give either one dict",
            datasets={"a": DATA[0], "b": DATA[1]},
            fit_kwargs={"method": "optimize", "a": {"n_starts": 2}},
        ),
        bad("fit_kwargs has 2 entries for 3", fit_kwargs=[MAP, MAP]),
        bad(r"fit_kwargs\[1\] is a str", fit_kwargs=[MAP, "optimize", MAP]),
        bad(r"fit_kwargs\[0\] has 'seed'", fit_kwargs=[{"seed": 1}, {}, {}]),
        bad("the data go in datasets", fit_kwargs={"X": DATA[0]}),
        bad("seeds has 2 entries for 3", seeds=[1, 2]),
        bad(r"seeds\[2\] must be at least 0, got -3", seeds=[1, 2, -3]),
        bad("both seeds and fit_kwargs", seeds=[1, 2, 3], fit_kwargs={"seed": 1}),
        bad(
            "fit_kwargs must be a mapping",
            datasets={"a": DATA[0], "b": DATA[1]},
            fit_kwargs=[MAP, MAP],
        ),
        bad(
            r"missing \['b'\]",
            datasets={"a": DATA[0], "b": DATA[1]},
            fit_kwargs={"a": MAP},
        ),
        bad(
            r"chains=2 does not apply to method='optimize'",
            fit_kwargs={**MAP, "chains": 2},
        ),
        bad(
            r"'drawz' \(did you mean 'draws'\?\)",
            fit_kwargs={"drawz": 100},
        ),
        bad(
            r"fit_kwargs\['b'\]: algorithm='fullrank' does not apply",
            datasets={"a": DATA[0], "b": DATA[1]},
            fit_kwargs={"a": MAP, "b": {"algorithm": "fullrank"}},
        ),
        bad("n_jobs=0 runs nothing", n_jobs=0),
        bad("n_jobs must be an integer", n_jobs=1.5),
        bad("unknown backend 'threads'", backend="threads"),
        bad("backend='serial' runs one task", backend="serial", n_jobs=2),
        bad("n_jobs applies to backend='joblib'", backend="dask", n_jobs=2),
        bad("client is a Dask client", backend="joblib", client=object()),
        bad("unknown errors='ignore'", errors="ignore"),
        bad(
            r"fit_kwargs has 'n_jobs', not an option of fit: it is an argument "
            r"of fit_many itself: pass fit_many\(\.\.\., n_jobs=\.\.\.\)",
            fit_kwargs={**MAP, "n_jobs": 2},
        ),
        bad(
            r"fit_kwargs\['a'\] has 'progres', not an option of fit: did you mean "
            r"'progress', an argument of fit_many itself\?",
            datasets={"a": DATA[0], "b": DATA[1]},
            fit_kwargs={"a": {"progres": True}, "b": MAP},
        ),
        bad(
            r"datasets\[0\] is a \(name, DataFrame\) pair, as "
            r"list\(frame.groupby\(...\)\) gives",
            datasets=list(
                pd.DataFrame({"g": [0, 0, 1, 1], "x": [1.0, 2, 3, 4]}).groupby("g")
            ),
        ),
        bad(
            "fit_kwargs is a dict of dicts keyed by position, but datasets is a list",
            fit_kwargs={0: MAP, 1: MAP, 2: MAP},
        ),
        bad("both seeds and fit_kwargs", seeds=1, fit_kwargs={"seed": 1}),
        bad(r"seeds must be one int \(the base seed", seeds=True),
        bad(r"seeds must be one int \(the base seed", seeds=2.5),
        bad(
            r"fit_kwargs\[0\] has 'seed'.*one base seed as seeds=<int>",
            fit_kwargs=[{"seed": 1}, {}, {}],
        ),
    ],
)
def test_bad_options_are_refused_before_any_fit(
    no_fit, datasets, model, options, match
):
    with pytest.raises(StanmixInputError, match=match):
        sm.fit_many(datasets, estimator() if model is None else model, **options)


def test_dask_without_a_cluster_is_refused(no_fit):
    distributed = pytest.importorskip("distributed")
    with pytest.raises(ValueError):
        distributed.default_client()  # no client is left over from other tests
    with pytest.raises(StanmixInputError, match="found no Dask cluster"):
        sm.fit_many(DATA, estimator(), backend="dask")


def test_dask_not_installed_names_the_extra(no_fit, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import fails
    with pytest.raises(StanmixInputError, match=r'pip install "stanmix\[dask\]"'):
        sm.fit_many(DATA, estimator(), backend="dask")


def test_fit_many_fits_a_regression_mixture_per_data_set():
    """Its family is made from the data, so only the checks that need no
    family run before the fits."""
    sets = [sm.datasets.regressions(80, seed=s) for s in (1, 2)]
    frames = [d.X.assign(y=d.y) for d in sets]
    model = sm.RegressionMixture(2, engine="stanli")
    fits = sm.fit_many(frames, model, fit_kwargs={**MAP, "response": "y"}, seeds=[1, 2])
    for fit, frame, seed in zip(fits, frames, (1, 2), strict=True):
        alone = sm.RegressionMixture(2, engine="stanli").fit(
            frame, response="y", method="optimize", seed=seed
        )
        np.testing.assert_array_equal(fit.coef_, alone.coef_)
    with pytest.raises(StanmixInputError, match="chains=2 does not apply"):
        sm.fit_many(frames, model, fit_kwargs={**MAP, "response": "y", "chains": 2})
