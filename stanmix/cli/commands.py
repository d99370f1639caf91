"""The subcommands: demo, fit, select, fit-regression, select-regression
and membership, from the checked flags and data to the written results.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time

from stanmix.cli.checks import (
    _at_limit,
    _check_censored_covariates,
    _check_censored_text,
    _check_columns,
    _check_components,
    _check_covariates,
    _check_limits,
    _check_rows,
    _refuse_covariate_limits,
    _warn_row_numbers,
)
from stanmix.cli.console import _as_flags
from stanmix.cli.flags import (
    DEMO_COMPONENTS,
    _column_list,
    _expand,
    _family_options,
    _largest,
    _sampling,
)
from stanmix.cli.limits import (
    _check_sources,
    _given_limits,
    _limit_sources,
    _limits_of,
    _limits_per_cell,
)
from stanmix.exceptions import StanmixInputError
from stanmix.output import (
    MEMBERSHIP_FLOAT_FORMAT,
    InterruptGuard,
    check_output_folder,
)

TYPE_CHECKING = False  # typing is slow to import; this module loads before main
if TYPE_CHECKING:
    from stanmix.csv_input import CsvTable


def _make_model(
    args: argparse.Namespace,
    n_components: int | None = None,
    n_columns: int | None = None,
):
    """The estimator the command fits (the one place that chooses it), its
    family and options checked, and with ``n_columns`` its size (full
    covariance's column limit, say) before the plan is said;
    ``n_components`` by default --components."""
    import stanmix as sm

    model = sm.Mixture(
        args.components if n_components is None else n_components,
        family=getattr(args, "family", "normal"),
        covariance=getattr(args, "covariance", "diag"),
        family_options=_family_options(args)
        if hasattr(args, "family_option")
        else None,
        anchor_dim=(getattr(args, "anchor", None) or "").strip() or None,
        engine=args.engine,
    )
    family = model._make_family()
    if n_columns is not None:
        family.validate(model.n_components, n_columns)
    return model


def _check_engine(name: str) -> None:
    import stanmix as sm

    sm.get_engine(name)


def _progress(args: argparse.Namespace) -> bool | None:
    """None lets the fit decide (a bar on a terminal); False switches bars off."""
    return False if args.no_progress else None


def _bars(args: argparse.Namespace) -> bool:
    """Whether to show the command's own progress bars: on a terminal,
    unless --no-progress."""
    return not args.no_progress and bool(getattr(sys.stderr, "isatty", lambda: False)())


def _plan(
    table: CsvTable,
    args,
    options: dict,
    lower: dict,
    upper: dict,
    fitting: str | None = None,
) -> str:
    """One line saying what is about to be fitted (``fitting``: what, by
    default the number of components)."""
    from stanmix.csv_input import column_listing

    frame = table.frame
    columns = column_listing(list(map(str, frame.columns)))
    censored = sum(
        int(_at_limit(frame[c].to_numpy(dtype=float), c, lower, upper).sum())
        for c in frame.columns
    )
    missing = int(frame.isna().to_numpy().sum())
    cells = [
        f"{n} {word}" for n, word in ((censored, "censored"), (missing, "missing"))
    ]
    cells = [c for c in cells if not c.startswith("0 ")]
    extra = f"; {' and '.join(cells)} cells" if cells else ""
    if args.method == "sample":
        warmup = "auto" if options["warmup"] is None else options["warmup"]
        how = (
            f"NUTS ({_count(options['chains'], 'chain')}, {warmup} "
            f"warmup + {options['draws']} draws each)"
        )
    elif args.method == "variational":
        how = f"ADVI ({options['algorithm']}, {options['draws']} draws)"
    else:
        how = "the posterior mode"
    if fitting is None:
        fitting = _count(args.components, "component")
    return (
        f"Fitting {fitting} to {len(frame)} rows of "
        f"{table.name} (columns {columns}{extra}) by "
        f"{how}, seed {args.seed}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _say(*parts: object) -> None:
    """Print to standard output, surviving a closed pipe (``| head``).

    The run's product is the files in --out; a reader that stops reading
    ends the printing, not the run.
    """
    try:
        print(*parts, flush=True)
    except BrokenPipeError:
        import os

        # Further writes, and the flush at exit, go nowhere instead of failing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _significant(v: float) -> str:
    """Four significant digits, and one decimal from 1000 up.

    >>> [_significant(v) for v in (1.74123, 0.000104873, 5587.31, -123456.78)]
    ['1.741', '0.0001049', '5587.3', '-123456.8']
    """
    return f"{v:.1f}" if abs(v) >= 1000 else f"{v:.4g}"


def _summary_text(summary) -> str:
    """The summary table as the console shows it: effective sample sizes
    whole, everything else by :func:`_significant`."""
    whole = {c: "{:.0f}".format for c in summary.columns if str(c).startswith("ess")}
    return summary.to_string(formatters=whole, float_format=_significant)


def _print_fit(model) -> None:
    import pandas as pd

    if model.adaptation_ is not None:
        warmup = model.engine_result_info_["warmup"]
        _say(
            f"NUTS metric {model.metric_}, "
            + {
                "laplace": "from the Laplace approximation at the MAP, held "
                f"fixed through {warmup} warmup iterations that tune the step size",
                "none": "not adapted: the chains ran on the metric they started with",
            }.get(model.adaptation_, f"adapted over {warmup} warmup iterations")
        )
    with pd.option_context("display.width", 120, "display.precision", 3):
        _say(_summary_text(model.summary().iloc[:, :9]))
    if model.convergence_ is not None:
        _say(f"\n{model.convergence_}")
    if model.label_switching_ is not None:
        _say("\nLabel switching check (raw draws):", model.label_switching_)
    if model.relabel_report_ is not None:
        _say("\n" + str(model.relabel_report_))
    _say("\nMembership probabilities, first 5 observations:")
    _say(_first_memberships(model.membership()))


def _first_memberships(membership) -> str:
    """The mean memberships of a membership table's first five observations,
    one row each, in the file's order."""
    wide = membership.pivot(index="observation", columns="component", values="mean")
    wide = wide.loc[membership["observation"].unique()]  # the file's order
    return wide.head().round(3).to_string()


def _write(model, args, title: str, guard: InterruptGuard, selection=None) -> None:
    """Write the results to --out and say which files it now holds, and
    which result files of an earlier run were removed."""
    from stanmix.output import RESULT_FILES, write_results

    _say(f"\nWriting the results and the report to {args.out}/")
    before = [
        name
        for name in RESULT_FILES
        if (args.out / name).is_file() or (args.out / name).is_symlink()
    ]
    files = write_results(
        model,
        args.out,
        title=title,
        progress=_bars(args),
        interrupts=guard,
        selection=selection,
        advice_wording=_as_flags,
        save_model=getattr(args, "save_model", False),
    )
    written = {path.name for path in files}
    tables = [n for n in RESULT_FILES if n in written and n != "report.html"]
    _say(f"\nResults written to {args.out}/ ({', '.join(tables)})")
    _say(f"Report: {args.out / 'report.html'}")
    removed = [name for name in before if name not in written]
    if removed:
        _say(
            f"Removed the earlier run's {', '.join(removed)}, which this run does "
            "not write"
        )


def _demo(args: argparse.Namespace, guard: InterruptGuard) -> int:
    options = _sampling(args)
    check_output_folder(args.out, name="--out")
    _check_engine(args.engine)
    import numpy as np

    from stanmix import datasets

    data = datasets.blobs(args.n, seed=args.seed)
    _say(
        f"stanmix demo: {args.n} points from {DEMO_COMPONENTS} two-dimensional clusters"
    )
    model = _make_model(args)
    start = time.perf_counter()
    guard.check()
    model.fit(
        data.X,
        method="sample",
        seed=args.seed,
        show_progress=_progress(args),
        **options,
    )
    elapsed = time.perf_counter() - start
    guard.check()
    _say(
        f"engine {model.engine_} {model.engine_version_}; {options['chains']} "
        f"chains x {options['draws']} draws in {elapsed:.1f} s; anchor dimension "
        f"{model.cells_.columns[model.anchor_]!r}\n"
    )
    _print_fit(model)
    from scipy.optimize import linear_sum_assignment

    labels = model.predict(data.X)
    table = np.zeros((DEMO_COMPONENTS, DEMO_COMPONENTS))
    np.add.at(table, (labels, data.labels), 1)
    rows, cols = linear_sum_assignment(-table)
    accuracy = table[rows, cols].sum() / labels.size
    _say(f"\nAgreement of predicted clusters with the truth: {accuracy:.1%}")
    title = f"stanmix demo: {args.n} points, {DEMO_COMPONENTS} clusters"
    _write(model, args, title, guard)
    return 0


def _read(args: argparse.Namespace):
    """The checked CSV table and its limits (before any fitting)."""
    check_output_folder(args.out, name="--out", inputs=[args.data])
    given, given_upper = _given_limits(args)
    wanted = _column_list(args.columns, "--columns")
    sources = _limit_sources(("--lower-limit", given), ("--upper-limit", given_upper))
    _check_sources(sources, {"--columns": wanted}, _id_column(args))
    _check_engine(args.engine)
    from stanmix.csv_input import column_listing, read_csv

    table = read_csv(
        args.data,
        wanted,
        id_column=_id_column(args),
        limit_columns=sources,
        censored_text=args.censored_text,
    )
    _check_censored_text(table, args.censored_text)
    lower = _limits_of(table, "--lower-limit", given)
    upper = _limits_of(table, "--upper-limit", given_upper)
    fitted = list(map(str, table.frame.columns))
    if args.anchor is not None and args.anchor.strip() not in fitted:
        raise StanmixInputError(
            f"--anchor {args.anchor.strip()!r} is not a fitted column of "
            f"{table.name} (fitted: {column_listing(fitted)})"
        )
    if table.skipped:
        _say(
            "Using the numeric columns "
            f"{column_listing(list(map(str, table.frame.columns)))} "
            f"(skipping {', '.join(table.skipped)}; choose with --columns"
            f"{_id_hint(args, table)})"
        )
    _check_limits(table, lower, upper)
    _check_columns(table, lower, upper)
    _check_rows(table)
    if wanted is None:
        _warn_row_numbers(table, list(table.frame.columns))
    return table, lower, upper


def _id_column(args: argparse.Namespace) -> str | None:
    """The --id column's name, stripped as the header's are."""
    if args.id is None:
        return None
    name = args.id.strip()
    if not name:
        raise StanmixInputError("--id is empty; name the column that names the rows")
    return name


def _id_hint(args: argparse.Namespace, table) -> str:
    """Advice to name rows by a skipped text column, when none names them."""
    if args.id is not None:
        return ""
    return f", or name the rows by one with --id {shlex.quote(table.skipped[0])}"


def _select(args: argparse.Namespace, guard: InterruptGuard) -> int:

    options = _sampling(args)
    table, lower, upper = _read(args)
    _check_components(table, _largest(args.components), lower, upper, several=True)
    template = _make_model(args, n_components=1, n_columns=table.frame.shape[1])
    ks = ", ".join(map(str, _expand(args.components)))
    fitting = f"K = {ks} components ({args.family}, {args.covariance})"
    from stanmix.selection import _refuse_sweep

    _refuse_sweep(
        template,
        table.frame,
        _expand(args.components),
        args.kfold,
        **_limits_per_cell(table.frame, lower, upper),
    )
    _say(_plan(table, args, options, lower, upper, fitting))
    guard.check()
    title = args.title or f"{table.name}: choosing the number of components"
    return _sweep(args, guard, table.frame, template, (lower, upper), options, title)


def _sweep(
    args: argparse.Namespace,
    guard: InterruptGuard,
    frame,
    template,
    limits: tuple[dict, dict],
    options: dict,
    title: str,
    **data,
) -> int:
    """select and select-regression: fit every K of --components, print the
    table and the choice, and write the chosen fit with selection.csv."""
    import stanmix as sm

    lower, upper = limits
    selection = sm.select_components(
        frame,
        _expand(args.components),
        estimator=template,
        method=args.method,
        seed=args.seed,
        n_jobs=args.jobs if args.jobs > 1 else None,
        progress=_progress(args) is not False,
        **_limits_per_cell(frame, lower, upper),
        show_progress=False,
        **data,
        **({} if args.kfold is None else {"kfold": args.kfold}),
        **options,
    )
    guard.check()
    _say("")
    _say(_as_flags(str(selection)))
    model = selection.models_[selection.best_]
    _say(f"\nChosen: K = {selection.best_}\n")
    _print_fit(model)
    _write(model, args, title, guard, selection=selection)
    return 0


def _fit(args: argparse.Namespace, guard: InterruptGuard) -> int:
    options = _sampling(args)
    table, lower, upper = _read(args)
    _check_components(table, args.components, lower, upper)
    model = _make_model(args, n_columns=table.frame.shape[1])
    limits = _limits_per_cell(table.frame, lower, upper)
    model._refuse_data(table.frame, **limits)
    _warn_one_component(
        args, {"--anchor": "orders the components" if args.anchor else ""}
    )
    _say(_plan(table, args, options, lower, upper))
    guard.check()
    model.fit(
        table.frame,
        method=args.method,
        seed=args.seed,
        **limits,
        show_progress=_progress(args),
        **options,
    )
    guard.check()
    _print_fit(model)
    title = args.title or f"{args.data.name}: {args.components}-component mixture"
    _write(model, args, title, guard)
    return 0


def _warn_one_component(args: argparse.Namespace, given: dict[str, str]) -> None:
    """Say that a flag that tells components apart (``given``: flag -> what
    it does, empty where the flag is not given) changes nothing in a fit of
    one component: no option is silently ignored."""
    import warnings

    if args.components != 1:
        return
    for flag, does in given.items():
        if does:
            warnings.warn(
                f"{flag} {does}, and with --components/-k 1 there is one "
                "component (its weight is 1), so the flag changes nothing; leave "
                "it out",
                UserWarning,
                stacklevel=2,
            )


#: The options of fit-regression that choose its columns, for messages.
_REGRESSION_CHOOSE = "--predictors (and --weights-from)"


def _regression_leave_out(
    response: str, predictors: list[str], weights: list[str], named: bool
) -> dict[str, str]:
    """How to do without each column of a regression, for
    :func:`_check_columns`: fit-regression has no --columns; its columns are
    the response, the predictors (all other numeric columns unless
    ``named`` with --predictors) and the covariates of --weights-from."""
    advice = {response: f"give another column as --response (now {response!r})"}
    for col in dict.fromkeys([*predictors, *weights]):
        flags = [
            flag
            for flag, cols in (
                ("--predictors", predictors),
                ("--weights-from", weights),
            )
            if col in cols
        ]
        if flags == ["--predictors"] and not named:
            advice[col] = "leave it out by naming the predictors with --predictors"
        else:
            advice[col] = f"leave it out of {' and '.join(flags)}"
    return advice


def _fit_regression(args: argparse.Namespace, guard: InterruptGuard) -> int:
    return _regression(args, guard, select=False)


def _select_regression(args: argparse.Namespace, guard: InterruptGuard) -> int:
    return _regression(args, guard, select=True)


def _regression(args: argparse.Namespace, guard: InterruptGuard, select: bool) -> int:
    """fit-regression, or with ``select`` select-regression."""
    options = _sampling(args)
    check_output_folder(args.out, name="--out", inputs=[args.data])
    given, given_upper = _given_limits(args)
    response = args.response.strip()
    _refuse_covariate_limits((given, given_upper), response, f"(--response {response})")
    predictors = _column_list(args.predictors, "--predictors")
    weights = _column_list(args.weights_from, "--weights-from") or []
    if predictors is not None and response in predictors:
        raise StanmixInputError(
            f"--predictors names the response {response!r}; leave it out"
        )
    if response in weights:
        raise StanmixInputError(
            f"--weights-from names the response {response!r}; leave it out"
        )
    sources = _limit_sources(("--lower-limit", given), ("--upper-limit", given_upper))
    _check_sources(
        sources,
        {"--predictors": predictors, "--weights-from": weights},
        _id_column(args),
    )
    _check_engine(args.engine)
    from stanmix.csv_input import column_listing, read_csv

    named = predictors is not None
    wanted = None
    if named:
        wanted = list(dict.fromkeys([response, *predictors, *weights]))
    exact = (
        "covariates are exact numbers: give the measured value, code a category "
        "as 0/1 columns (one per level but one), or leave the column out of "
        f"{_REGRESSION_CHOOSE}"
    )
    table = read_csv(
        args.data,
        wanted,
        choose=_REGRESSION_CHOOSE,
        id_column=_id_column(args),
        limit_columns=sources,
        censored_text=args.censored_text,
        keep=[response],
        exact=exact,
    )
    _check_censored_text(table, args.censored_text)
    columns = [str(c) for c in table.frame.columns]
    if response not in columns:
        skipped = (
            f" (skipped as text: {', '.join(table.skipped)})" if table.skipped else ""
        )
        raise StanmixInputError(
            f"--response {response!r} is not a numeric column of {table.name} "
            f"(numeric columns: {', '.join(columns)}){skipped}"
        )
    unknown = [c for c in weights if c not in columns]
    if unknown:
        raise StanmixInputError(
            f"--weights-from names {', '.join(map(repr, unknown))}, not numeric "
            f"columns of {table.name} (numeric columns: {', '.join(columns)})"
        )
    if predictors is None:
        predictors = [c for c in columns if c != response and c not in weights]
        if not predictors:
            raise StanmixInputError(
                f"{table.name} has no predictor column besides --response "
                f"{response} and --weights-from; name them with --predictors"
            )
        if table.skipped:
            _say(
                f"Predictors: {', '.join(predictors)} (skipping "
                f"{', '.join(table.skipped)}; choose with --predictors"
                f"{_id_hint(args, table)})"
            )
    order_by = args.order_by.strip()
    if order_by != "intercept" and order_by not in predictors:
        raise StanmixInputError(
            f"--order-by {order_by!r} is neither 'intercept' nor a predictor "
            f"({column_listing(predictors)})"
        )
    covariates = list(dict.fromkeys([*predictors, *weights]))
    leave_out = _regression_leave_out(response, predictors, weights, named)
    _check_censored_covariates(table, response, f"(--response {response})", leave_out)
    lower = _limits_of(table, "--lower-limit", given)
    upper = _limits_of(table, "--upper-limit", given_upper)
    frame = table.frame[[response, *covariates]]
    from stanmix.csv_input import CsvTable

    used = CsvTable(frame, table.lines, table.name, table.header_line)
    _check_limits(used, lower, upper)
    _check_covariates(used, covariates)
    _check_columns(used, lower, upper, leave_out)
    if not named:
        _warn_row_numbers(used, predictors, "--predictors")
    largest = _largest(args.components) if select else args.components
    answered = int(used.frame[response].notna().sum())
    if largest > answered and answered < len(used.frame):
        head = f"goes up to {largest}, which is" if select else f"{largest} is"
        raise StanmixInputError(
            f"--components/-k {head} more than the {_count(answered, 'row')} of "
            f"{used.name} with a value of {response} (a row without one says "
            f"nothing about the lines): use at most {answered}"
        )
    _check_components(
        used, largest, lower, upper, several=select, hint_columns=[response]
    )
    import stanmix as sm

    model = sm.RegressionMixture(
        1 if select else args.components,
        predictors=predictors,
        weights_from=weights or None,
        errors=args.errors,
        order_by=order_by,
        family_options=_family_options(args),
        engine=args.engine,
    )
    model._check_settings_of_design()
    gates = f", weights from {', '.join(weights)}," if weights else ""
    lines = (
        f"K = {', '.join(map(str, _expand(args.components)))} regression lines"
        if select
        else _count(args.components, "regression line")
    )
    fitting = f"{lines} of {response} on {', '.join(predictors)}{gates}"
    limits = _limits_per_cell(frame, lower, upper)
    if select:
        from stanmix.selection import _refuse_sweep

        ks = _expand(args.components)
        _refuse_sweep(model, frame, ks, args.kfold, response=response, **limits)
    else:
        model._refuse_data(frame, response=response, **limits)
    if not select:
        _warn_one_component(
            args,
            {
                "--weights-from": "makes the components' weights depend on covariates"
                if weights
                else "",
                "--order-by": "orders the components"
                if order_by != "intercept"
                else "",
            },
        )
    _say(_plan(used, args, options, lower, upper, fitting))
    guard.check()
    if select:
        title = args.title or (
            f"{args.data.name}: choosing the number of regression lines of {response}"
        )
        limits = (lower, upper)
        return _sweep(
            args, guard, frame, model, limits, options, title, response=response
        )
    model.fit(
        frame,
        response=response,
        method=args.method,
        seed=args.seed,
        **limits,
        show_progress=_progress(args),
        **options,
    )
    guard.check()
    _print_fit(model)
    title = args.title or (
        f"{args.data.name}: {args.components}-component mixture of regressions "
        f"of {response}"
    )
    _write(model, args, title, guard)
    return 0


def _load_model(path):
    """The fitted model a --save-model run wrote: ``path`` or, for a folder,
    its ``stanmix-model.pkl``."""
    import pickle

    from stanmix.estimator import Mixture
    from stanmix.regression import RegressionMixture

    if path.is_dir():
        path = path / "stanmix-model.pkl"
    if not path.is_file():
        raise StanmixInputError(
            f"{str(path)!r} is not a file; give the stanmix-model.pkl that fit, "
            "select, fit-regression or select-regression wrote with --save-model "
            "(or its folder)"
        )
    try:
        with path.open("rb") as fh:
            model = pickle.load(fh)
    except (
        OSError,
        pickle.UnpicklingError,
        EOFError,
        AttributeError,
        ImportError,
        IndexError,
        TypeError,
        ValueError,
    ) as err:
        raise StanmixInputError(
            f"{path.name} cannot be read as a saved stanmix model "
            f"({type(err).__name__}: {err}); give the stanmix-model.pkl written with "
            "--save-model"
        ) from None
    if not isinstance(model, Mixture) or not hasattr(model, "idata_"):
        raise StanmixInputError(
            f"{path.name} holds a {type(model).__name__}, not a fitted stanmix "
            "model; give the stanmix-model.pkl written with --save-model"
        )
    state = _FITTED_STATE
    if isinstance(model, RegressionMixture):
        state = (*state, "design_")
    lacking = [name for name in state if not hasattr(model, name)]
    if lacking:
        raise StanmixInputError(
            f"{path.name} lacks the fitted state this stanmix reads "
            f"({', '.join(lacking)}): it was saved by another version; refit and "
            "save it again with --save-model"
        )
    return model, path


#: What :func:`_membership` reads of a saved model.
_FITTED_STATE = ("family_", "cells_", "method_", "fitted_components_", "units_")


def _model_columns(model) -> list[str]:
    """The columns new data must hold: the fitted ones, for a mixture of
    regressions its response and covariates."""
    design = _design_of(model)
    if design is not None:
        return [design.response, *design.covariates]
    return [str(c) for c in model.cells_.columns]


def _design_of(model):
    """A mixture of regressions' column design; None for a clustering model."""
    from stanmix.regression import RegressionMixture

    return model.design_ if isinstance(model, RegressionMixture) else None


def _membership_out(args: argparse.Namespace, model_path) -> None:
    """Refuse an --out that is not a new or regular file in a writable
    folder, or that would replace the data, the model or one of the fit's
    result files beside the model."""
    import os
    import tempfile

    from stanmix.output import RESULT_FILES

    out = args.out
    if str(out) == "-":
        raise StanmixInputError(
            "--out - would be a file named '-'; give the CSV file to write, such "
            "as --out new-membership.csv"
        )
    if out.is_dir():
        raise StanmixInputError(
            f"--out {str(out)!r} is a folder; give the CSV file to write, such as "
            f"--out {out / 'new-membership.csv'}"
        )
    if out.is_symlink() or (out.exists() and not out.is_file()):
        raise StanmixInputError(
            f"--out {str(out)!r} is {'a link' if out.is_symlink() else 'not a file'}"
            ", which the results would replace with a file; give a file's own path"
        )
    # A missing folder is created when the file is written, as fit's --out is.
    existing = next(p for p in out.parents if p.exists())
    if not existing.is_dir():
        raise StanmixInputError(
            f"--out {str(out)!r}: {str(existing)!r} is a file, not a folder; give "
            "a file in a folder"
        )
    if out.exists():
        from_stdin = getattr(args, "from_stdin", False) and not sys.stdin.closed
        stdin = os.fstat(0) if from_stdin else None
        for given, what in ((args.data, "the data file"), (model_path, "the model")):
            if out.resolve() == given.resolve():
                raise StanmixInputError(
                    f"--out {str(out)!r} is {what}, which it would overwrite; give "
                    "another file"
                )
        if stdin is not None and os.path.samestat(os.stat(out), stdin):
            raise StanmixInputError(
                f"--out {str(out)!r} is the data read from standard input, which "
                "it would overwrite; give another file"
            )
    beside = out.resolve().parent == model_path.resolve().parent
    fit_folder = (
        model_path.name == "stanmix-model.pkl"
        or (model_path.parent / "posterior.nc").exists()
    )
    if beside and fit_folder and out.name in RESULT_FILES:
        raise StanmixInputError(
            f"--out {str(out)!r} is one of the fit's result files beside the "
            "model, which it would replace with other rows' memberships; give "
            "another file, such as --out "
            f"{out.parent / 'new-membership.csv'}"
        )
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise StanmixInputError(
            f"--out {str(out)!r}: cannot write in folder {str(existing)!r} "
            f"({err.strerror or err}); give a file in a writable folder"
        ) from None


def _membership_columns(args: argparse.Namespace, model) -> list[str]:
    """The model's columns, checked against the data file's header and the
    flags that name columns, before the file is read."""
    from stanmix.csv_input import column_listing, read_header

    columns = _model_columns(model)
    header = read_header(args.data)
    absent = [c for c in columns if c not in header]
    if header and absent:
        design = _design_of(model)
        by_position = (
            design.array_columns is not None
            if design is not None
            else not hasattr(model, "feature_names_in_")
        )
        hint = (
            " (the model was fitted on an array, whose columns are named x0, x1, "
            "... by position: name the file's columns so)"
            if by_position
            else ""
        )
        raise StanmixInputError(
            f"{args.data.name} has no column {', '.join(map(repr, absent))} "
            f"(its columns: {column_listing(header)}); the model was fitted on "
            f"{column_listing(columns)}, which new data must hold under the same "
            f"names{hint}"
        )
    name = _id_column(args)
    if name is not None and name in columns:
        raise StanmixInputError(
            f"--id {name!r} is one of the model's columns, which are read as "
            "data; name the rows by another column"
        )
    return columns


def _warn_uninformative(table: CsvTable, regression) -> None:
    """Warn of new rows with no value to place them by (every model column
    empty; a regression's response empty), whose memberships are the
    mixing weights, and of a model column empty in every row."""
    import warnings

    frame = table.frame
    told = [regression.response] if regression is not None else list(frame.columns)
    blank = frame[told].isna().all(axis=1).to_numpy()
    if blank.any():
        where = "the response" if regression is not None else "the model's columns"
        weights = "at their covariates" if regression is not None else "alone"
        verb = "has" if blank.sum() == 1 else "have"
        warnings.warn(
            f"{table.where(blank.nonzero()[0])} of {table.name} {verb} no value in "
            f"{where}: their memberships are the mixing weights {weights}",
            UserWarning,
            stacklevel=2,
        )
    if regression is None and not blank.all():
        empty = [str(c) for c in frame.columns if frame[c].isna().all()]
        if empty:
            warnings.warn(
                f"column(s) {', '.join(map(repr, empty))} of {table.name} have no "
                "value in any row: the memberships rest on the other columns alone",
                UserWarning,
                stacklevel=2,
            )


def _membership(args: argparse.Namespace, guard: InterruptGuard) -> int:
    """stanmix membership: a saved model's memberships of a new file's rows,
    with their HDIs, written to the --out file."""
    from stanmix._files import write_text_atomic
    from stanmix.csv_input import read_csv

    model, model_path = _load_model(args.model)
    _membership_out(args, model_path)
    if args.hdi_prob is not None and model.method_ == "optimize":
        raise StanmixInputError(
            "--hdi-prob does not apply to a model fitted with --method optimize "
            "(a posterior mode): its interval is the point itself; leave it out"
        )
    columns = _membership_columns(args, model)
    regression = _design_of(model)
    given, given_upper = _given_limits(args)
    if regression is not None:
        _refuse_covariate_limits(
            (given, given_upper), regression.response, repr(regression.response)
        )
    sources = _limit_sources(("--lower-limit", given), ("--upper-limit", given_upper))
    for source, uses in sources.items():
        if source in columns:
            raise StanmixInputError(
                f"column {source!r} is one of the model's columns, so it cannot "
                f"hold the per-row limits of {uses}; give them in a column of "
                "their own, or as a number"
            )
    _check_sources(sources, {}, _id_column(args))
    table = read_csv(
        args.data,
        columns,
        choose=None,
        id_column=_id_column(args),
        limit_columns=sources,
        censored_text=args.censored_text,
        keep=[regression.response] if regression is not None else columns,
        exact=(
            "covariates are exact numbers: give the measured value"
            if regression is not None
            else None
        ),
    )
    _check_censored_text(table, args.censored_text)
    if regression is not None:
        _check_censored_covariates(
            table, regression.response, repr(regression.response)
        )
        _check_covariates(table, list(regression.covariates))
    lower = _limits_of(table, "--lower-limit", given)
    upper = _limits_of(table, "--upper-limit", given_upper)
    _check_limits(table, lower, upper, unmet=False)
    frame = table.frame
    _warn_uninformative(table, regression)
    guard.check()
    membership = model.membership(
        frame,
        hdi_prob=args.hdi_prob,
        show_progress=_bars(args),
        **_limits_per_cell(frame, lower, upper),
    )
    guard.check()
    text = membership.to_csv(index=False, float_format=MEMBERSHIP_FLOAT_FORMAT)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out, text)
    _say(
        f"Membership probabilities of {_count(len(frame), 'row')} of "
        f"{args.data.name} under the {model.fitted_components_}-component model "
        f"{model_path}, first 5:"
    )
    _say(_first_memberships(membership))
    _say(f"\nWritten to {args.out}")
    return 0
