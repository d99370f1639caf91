"""The posterior mode from several starts, with a warning when they disagree."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stanmix import _validation as check
from stanmix.engines import Engine, EngineResult
from stanmix.parallel import spawn_seeds

#: A restart from an optimizer's end point that raises the log density by
#: more than this says the first run stopped before the mode...
CONFIRM_GAIN = 0.01
#: ... or by more than this fraction of the log density's size, where that
#: is larger: L-BFGS stops on relative changes (Stan's tol_rel_obj and
#: tol_rel_grad), so on a large table (a log density of 3e5, say) a restart
#: may gain a few hundredths without the first run having stopped short.
CONFIRM_RELATIVE_GAIN = 1e-7


def best_mode(
    engine: Engine,
    stan_file: Path,
    data: dict,
    inits: Sequence[dict],
    seed: int,
    jacobian: bool = True,
    confirm: bool = False,
    show_progress: bool = False,
    template: dict | None = None,
    **options,
) -> tuple[EngineResult, np.ndarray]:
    """Optimize from every init; the result with the highest log density and
    the log densities of all starts that succeeded.

    Warns when starts end at modes with clearly different log densities
    (more starts make finding the best one more likely); raises
    ``RuntimeError`` with the first engine error when every start fails.
    ``options`` go to the engine's optimizer (e.g. ``iter``).

    Start ``i`` runs with the ``i``-th seed that
    :func:`~stanmix.parallel.spawn_seeds` derives from ``seed`` (the
    confirming restart with the next one): different seeds give independent
    starts, and one seed gives the same starts every time.

    With ``confirm``, the optimizer is started once more where the best
    start stopped: at a mode it stays (its log density rises by less than
    ``CONFIRM_GAIN``, or ``CONFIRM_RELATIVE_GAIN`` of its size where that
    is more); otherwise the first run stopped short (at ``iter``,
    say), which is a warning, and the higher of the two points is kept.
    A start of None (Stan's random inits) restarts from ``template``
    (program values naming every parameter, empty ones too) filled in
    from where it stopped. A start whose end point the engine refuses as a
    start (the program's constraints fail there: it ran off to the edge of
    the parameter space) is passed over for the next highest, with a
    warning, and its log density left out of those returned; a restart
    that fails otherwise, or from every start, is a warning that the
    highest point is unchecked.

    ``show_progress`` shows a bar that advances as each start (and the
    restart) ends: on a large table each can take minutes.
    """
    from tqdm.auto import tqdm

    seeds = spawn_seeds(seed, len(inits) + 1)
    results, errors, started = [], [], []
    with tqdm(
        total=len(inits) + int(confirm),
        desc="posterior mode",
        unit="start",
        disable=not show_progress,
    ) as bar:
        for init, start_seed in zip(inits, seeds, strict=False):
            try:
                results.append(
                    engine.optimize(
                        stan_file,
                        data,
                        seed=start_seed,
                        jacobian=jacobian,
                        init=init,
                        **options,
                    )
                )
            except RuntimeError as err:
                errors.append(check.one_line(str(err)))
            else:
                started.append(init)
            finally:
                bar.update()
        if not results:
            raise RuntimeError(
                f"every optimizer start failed; first error: {errors[0]}"
            )
        lps = np.array([r.lp for r in results])
        best = results[int(np.argmax(lps))]
        if confirm:
            best, stranded = _confirmed_best(
                engine, stan_file, data, results, started, template, seeds[-1],
                jacobian, options,
            )  # fmt: skip
            # a start stranded off the parameter space is no mode: its log
            # density neither ranks the others nor is reported
            lps = np.delete(lps, stranded)
            bar.update()
    worse = lps < lps.max() - 0.01 * max(1.0, abs(lps.max()) * 1e-3)
    if worse.any():
        given = options.get("iter")
        warnings.warn(
            f"{int(worse.sum())} of {lps.size} optimizer starts reached a "
            f"different mode (log density lower by up to "
            f"{lps.max() - lps.min():.3g}); the best is kept. Mixtures often "
            "have several modes: more starts (n_starts) make finding the "
            "best one more likely."
            + (
                f" With iter={given} a start may also have stopped before its "
                "mode: raise iter."
                if given is not None
                else ""
            ),
            RuntimeWarning,
            stacklevel=check.caller_level(),
        )
    return best, lps


#: What an engine's error says when the end point it was restarted from
#: breaks the program's constraints (stanli: "stanli init: ... (starting
#: value for ...)"; CmdStan: "Rejecting initial value").
_STRANDED = re.compile(r"init|starting value", re.IGNORECASE)


def _confirmed_best(
    engine: Engine,
    stan_file: Path,
    data: dict,
    results: list[EngineResult],
    started: list[dict | None],
    template: dict | None,
    seed: int,
    jacobian: bool,
    options: dict,
) -> tuple[EngineResult, list[int]]:
    """The highest start confirmed by a restart (:func:`_confirmed`), and
    the positions of the starts passed over. A start whose end point the
    engine refuses as a start lies where the program's constraints fail
    (equal ordered means, a scale of 0: an optimizer run off to the edge of
    the parameter space, from a far init, say), so the next highest is
    tried. A restart that fails otherwise (a line search, say), or when
    every start is so stranded, keeps the highest with a warning that it
    is unchecked."""
    order = [int(i) for i in np.argsort([-r.lp for r in results], kind="stable")]
    stranded: list[int] = []
    first_error = None
    for i in order:
        init = template if started[i] is None else started[i]
        confirmed, error = _confirmed(
            engine, stan_file, data, results[i], init, seed, jacobian, options
        )
        if error is not None and _STRANDED.search(error):
            stranded.append(i)
            first_error = first_error or error
            continue
        if stranded:
            warnings.warn(
                f"{len(stranded)} optimizer start(s) with a higher log density "
                "ended where the optimizer could not be restarted from "
                f"({first_error}): off at the edge of the parameter space, "
                "where there is no mode, so the highest start that could be "
                "restarted is kept",
                RuntimeWarning,
                stacklevel=check.caller_level(),
            )
        if error is not None:  # a failure of another kind: kept unchecked
            _warn_unchecked(error)
        return confirmed, stranded
    _warn_unchecked(first_error)  # every start stranded: the highest, unchecked
    return results[order[0]], []


def _warn_unchecked(error: str) -> None:
    warnings.warn(
        "the optimizer could not be restarted where it stopped to check "
        f"that it reached a mode ({error}); the point is kept unchecked: "
        "it may lie on the edge of the parameter space, where there is no "
        "mode (from an init far from the data, or a component collapsing "
        "onto a few rows)",
        RuntimeWarning,
        stacklevel=check.caller_level(),
    )


def end_point(
    result: EngineResult, init: dict | None, keep_init: tuple[str, ...] = ()
) -> dict:
    """An optimizer's end point as program values for a start: ``init``'s
    parameters with the result's values, except those the result has no
    columns for (empty ones) and those whose names end in ``keep_init``,
    which keep ``init``'s; without ``init``, every variable of the result.

    Examples
    --------
    >>> import numpy as np
    >>> from stanmix.engines import EngineResult
    >>> result = EngineResult({"mu": np.array([[[1.5]]])}, {}, "optimize", "x", "")
    >>> end_point(result, {"mu": [0.0], "tau": np.empty(0)})
    {'mu': array([1.5]), 'tau': array([], dtype=float64)}
    """
    if init is None:
        return {name: arr[0, 0] for name, arr in result.variables.items()}
    return {
        name: result.variables[name][0, 0]
        if name in result.variables and not name.endswith(keep_init)
        else value
        for name, value in init.items()
    }


def _confirmed(
    engine: Engine,
    stan_file: Path,
    data: dict,
    best: EngineResult,
    init: dict | None,
    seed: int,
    jacobian: bool,
    options: dict,
) -> tuple[EngineResult, str | None]:
    """``best``, or a restart from it that went higher, warning then; and
    the restart's error, if it failed (then ``best`` unchecked)."""
    point = end_point(best, init)
    try:
        again = engine.optimize(
            stan_file, data, seed=seed, jacobian=jacobian, init=point, **options
        )
    except (RuntimeError, ValueError) as err:
        return best, check.one_line(str(err))
    gain = again.lp - best.lp
    if gain <= max(CONFIRM_GAIN, CONFIRM_RELATIVE_GAIN * abs(best.lp)):
        return best, None
    given = options.get("iter")
    warnings.warn(
        "the optimizer stopped before it reached a mode: restarted where it "
        f"stopped, it raised the log density by {gain:.3g}"
        + (f" (iter={given})" if given is not None else "")
        + "; the higher point is kept, but it may not be a mode either: raise "
        "iter, or look for a poorly determined parameter",
        RuntimeWarning,
        stacklevel=check.caller_level(),
    )
    return again, None
