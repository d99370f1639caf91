"""How many clusters: a sweep over the number of components, judged by the
expected log predictive density, with exact K-fold cross-validation where
LOO's diagnostics say its estimate is unreliable; and the count of filled
components of a sparse overfitted mixture.

Mixtures often give LOO high Pareto k values (an observation between two
components, or one alone in a small component, changes the posterior when
left out). A LOO estimate whose Pareto k diagnostics exceed their limit
(:func:`pareto_k_limit`: 0.7 from about 2,200 draws, lower with fewer) is
not presented as reliable: the sweep refits that K on folds of the data and
uses the exact K-fold estimate instead, and the table says which estimate
each row holds.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stanmix import _validation as check
from stanmix import likelihood
from stanmix.advice import collapsed_components, tied_columns_hint
from stanmix.cells import CellTable
from stanmix.diagnostics import NEAR_RHAT
from stanmix.estimator import (
    CENSORING_ARGS,
    Mixture,
    check_fit_options,
    check_model,
)
from stanmix.exceptions import ConvergenceWarning, StanmixInputError
from stanmix.parallel import (
    FitFailedError,
    ignored_here,
    keyed_seed,
    refuse_own_arguments,
    run_tasks,
)

__all__ = [
    "SPARSE_CONCENTRATION",
    "ComponentSelection",
    "FilledComponents",
    "filled_components",
    "select_components",
]

logger = logging.getLogger("stanmix")

#: Pareto k above which a LOO term is unreliable, however many draws
#: (Vehtari et al. 2017); fewer draws lower it (:func:`pareto_k_limit`).
PARETO_K_LIMIT = 0.7


def pareto_k_limit(n_draws: int) -> float:
    """The Pareto k above which a PSIS-LOO term from ``n_draws`` draws in all
    is unreliable: min(1 - 1 / log10(S), 0.7), the bound of Vehtari et al.
    (2024), which ArviZ reports as ``good_k``; 0.7 from about 2,200 draws.

    Examples
    --------
    >>> round(pareto_k_limit(400), 3), pareto_k_limit(4000)
    (0.616, 0.7)
    """
    return float(min(1.0 - 1.0 / np.log10(n_draws), PARETO_K_LIMIT))


#: Folds of the cross-validation of a K whose LOO is unreliable.
KFOLD = 5
#: An elpd difference below this is small whatever its standard error ...
SMALL_DIFFERENCE = 4.0
#: ... and one above this many standard errors of the difference is clear.
CLEAR_DIFFERENCE_SE = 2.0
#: A K that did not converge but predicts clearly better than the converged
#: choice is let back into the rule (provisionally) when its largest R-hat is
#: at most NEAR_RHAT: chains a little short of the bar of 1.01, not chains
#: in different modes, whose elpd is no evidence.
#: Dirichlet concentration of a sparse overfitted mixture (Malsiner-Walli,
#: Fruhwirth-Schnatter and Grun, 2016, recommend 0.01 for several dozen
#: observations per component; smaller empties surplus components faster).
#: Any concentration below 1 switches the programs to gamma-variable weights.
SPARSE_CONCENTRATION = 0.01


@dataclass(eq=False)
class ComponentSelection:
    """The result of :func:`select_components`.

    Attributes
    ----------
    table_ : pandas.DataFrame
        One row per number of components K: ``elpd`` (the estimate used) with
        its ``se``, ``estimate`` ("loo" or "kfold"), ``elpd_diff`` to the best K
        among those the rule compares (those that converged; when the choice
        is provisional, as ``rule_`` says, the other usable K it lets in too)
        and the ``se_diff`` of that difference,
        ``elpd_loo``, ``se_loo``, ``p_loo``, ``n_high_pareto_k`` (k above
        :func:`pareto_k_limit`), ``elpd_kfold`` and ``se_kfold`` where computed,
        ``waic`` (on the deviance scale of ``bic``, -2 times ArviZ's
        ``elpd_waic``: smaller is better) with ``waic_warning`` (ArviZ's flag
        that some row's log predictive density varies by more than 0.4 over the
        draws, where WAIC is unreliable: prefer the LOO figures), ``bic`` and
        ``icl`` at the posterior mode (smaller is better), ``n_parameters``,
        ``max_rhat``, ``min_ess_bulk``, ``divergences``, ``converged`` (the
        fit's own verdict, :attr:`Mixture.convergence_`, from more than one
        chain), ``collapsed`` (a component sits on one value that a column
        repeats or on as few rows as it has location parameters,
        :func:`~stanmix.advice.collapsed_components`: its density there has no
        useful maximum, so its BIC and elpd do not measure fit, and the K is not
        chosen unless every K is so) and ``fit_seconds``.
        A K whose fit the engine could not complete (an optimizer that
        found no mode, a sampler error) has ``estimate`` "failed", its
        ``error`` and no figures; it is never chosen. A K whose K-fold
        estimate could not be made (a fold's training rows fail the data
        checks, a fold's fit failed) keeps "loo (unreliable)" and says why
        in ``note``; one whose fold fits did not all converge says how many
        did not there. A sweep of posterior modes (``method="optimize"``)
        has no predictive density: its table holds ``n_parameters``,
        ``collapsed``, ``fit_seconds``, ``bic``, ``icl``, ``estimate``
        ("bic") and ``converged`` (the optimizer reached a mode).
    best_ : int
        The number of components the rule chose.
    rule_ : str
        The rule, and why it chose ``best_``.
    models_ : dict of int to Mixture
        The fitted models, by K (not the failed ones).
    seed_ : int
        The base seed every fit's seed was derived from.
    """

    table_: pd.DataFrame
    best_: int
    rule_: str
    models_: dict[int, Mixture] = field(repr=False)
    seed_: int = 0

    def __str__(self) -> str:
        cols = [
            "elpd",
            "se",
            "estimate",
            "elpd_diff",
            "se_diff",
            "n_high_pareto_k",
            "bic",
            "max_rhat",
            "min_ess_bulk",
            "converged",
            "collapsed",
        ]
        if "max_rhat" not in self.table_:  # posterior modes: no elpd, no R-hat
            cols = ["n_parameters", "bic", "icl", "collapsed"]
        shown = self.table_[cols].copy()
        if "max_rhat" in shown:  # 1.0101 is above the bar, 1.010 would not say so
            shown["max_rhat"] = shown["max_rhat"].map("{:.4f}".format)
        with pd.option_context("display.width", 120, "display.precision", 2):
            table = shown.to_string()
        errors = self.table_.get("error", pd.Series(dtype=object)).dropna()
        failed = "".join(f"\nK = {k} failed: {err}" for k, err in errors.items())
        notes = self.table_.get("note", pd.Series(dtype=object)).dropna()
        failed += "".join(f"\nK = {k}: {note}" for k, note in notes.items())
        return f"{table}{failed}\n\n{self.rule_}"

    def plot(self, ax=None, *, figsize=None):
        """The elpd per K with one-SE bars (its estimate marked: PSIS-LOO,
        PSIS-LOO whose diagnostics call it unreliable, or K-fold
        cross-validation), and BIC and ICL beside it; the chosen K marked
        on both, and a K whose fit failed by a red cross at the bottom. A
        sweep of posterior modes has no elpd: one panel, BIC and ICL
        (``ax`` may then be one Axes). ``figsize`` (width, height in inches)
        sizes the figure it makes, without ``ax``. Returns the matplotlib
        Figure."""
        import matplotlib.pyplot as plt

        figsize = check.figsize(figsize, ax)
        t = self.table_
        k = t.index.to_numpy()
        has_elpd = bool(t["elpd"].notna().any()) if "elpd" in t else False
        one = not has_elpd and ax is not None and np.shape(ax) == ()
        if ax is None:
            fig, ax = plt.subplots(
                1,
                2 if has_elpd else 1,
                figsize=figsize or ((10, 3.8) if has_elpd else (5.5, 3.8)),
                layout="constrained",
                squeeze=False,
            )
            ax = ax[0] if has_elpd else [None, ax[0, 0]]
        elif one:
            ax = [None, ax]
        elif np.shape(ax) != (2,):
            raise StanmixInputError(
                "ax must be two matplotlib Axes (the elpd, then BIC and ICL), "
                "such as plt.subplots(1, 2)[1], or one Axes for a sweep of "
                "posterior modes; leave it out for a new figure"
            )
        elif not has_elpd:
            ax[0].set_axis_off()  # no predictive density to draw
        fig = ax[1].figure
        provisional = " (provisional)" if "provisional" in self.rule_ else ""
        title = f"chosen: K = {self.best_}{provisional}"
        if has_elpd:
            self._draw_elpd(ax[0], k, title)
        for name in ("bic", "icl"):
            if t[name].notna().any():
                ax[1].plot(k, t[name], marker="o", label=name.upper())
        self._mark_failed(ax[1], k)
        ax[1].axvline(self.best_, color="0.6", ls="--", lw=1)
        ax[1].set_xlabel("number of components K")
        ax[1].set_ylabel("at the posterior mode (smaller is better)")
        ax[1].set_xticks(k)
        ax[1].legend(fontsize=8)
        if not has_elpd:
            ax[1].set_title(f"{title}, by BIC")
        return fig

    def _mark_failed(self, ax, k: np.ndarray) -> None:
        """A red cross along the bottom of ``ax`` at each K whose fit
        failed, which has no value to draw."""
        failed = (self.table_["estimate"] == "failed").to_numpy()
        if failed.any():
            ax.scatter(
                k[failed],
                np.full(failed.sum(), 0.04),
                transform=ax.get_xaxis_transform(),
                marker="x",
                color="red",
                label="fit failed",
            )
            # the crosses do not count toward the data limits
            ax.set_xlim(k.min() - 0.4, k.max() + 0.4)

    def _draw_elpd(self, ax, k: np.ndarray, title: str) -> None:
        t = self.table_
        for estimate, marker, name in (
            ("loo", "o", "PSIS-LOO"),
            ("loo (unreliable)", "^", "PSIS-LOO, unreliable"),
            ("kfold", "s", "K-fold CV"),
        ):
            rows = (t["estimate"] == estimate).to_numpy()
            if rows.any():
                ax.errorbar(
                    k[rows],
                    t["elpd"][rows],
                    yerr=t["se"][rows],
                    fmt=marker,
                    capsize=3,
                    label=f"elpd ({name})",
                )
        bad = ~t["converged"].to_numpy(dtype=bool)
        if bad.any():
            ax.scatter(
                k[bad],
                t["elpd"][bad],
                s=160,
                facecolors="none",
                edgecolors="red",
                label="not converged",
            )
        self._mark_failed(ax, k)
        ax.axvline(self.best_, color="0.6", ls="--", lw=1)
        ax.set_xlabel("number of components K")
        ax.set_ylabel("expected log predictive density")
        ax.set_xticks(k)
        ax.legend(fontsize=8)
        ax.set_title(title)


def select_components(
    X,
    n_components: Iterable[int] = range(1, 9),
    *,
    y=None,
    response: str | int | None = None,
    estimator: Mixture | None = None,
    method: str = "sample",
    seed: int | None = None,
    kfold: int | str | None = "auto",
    n_jobs: int | None = None,
    backend: str = "auto",
    client: Any = None,
    progress: bool = False,
    lower_limit=None,
    upper_limit=None,
    censored=None,
    interval=None,
    **fit_kwargs,
) -> ComponentSelection:
    """Fit every number of components and choose one.

    Each K is fitted with a copy of ``estimator`` (default ``Mixture()``:
    normal, diagonal; any family and covariance works, and a
    :class:`~stanmix.RegressionMixture` with its response) and judged by its
    expected log predictive density (elpd): PSIS-LOO from the pointwise
    log-likelihood, or, for a K whose LOO has Pareto k above its limit
    (0.7 from about 2,200 draws; :func:`pareto_k_limit`), exact
    K-fold cross-validation (``kfold`` refits on folds of the rows, each
    with its own fixed seed, every held-out row's log predictive density
    averaged over the fold fit's draws). The rule: **the smallest K whose
    elpd is not clearly below the best: its difference from the best is
    under 4, or under two standard errors of the difference** (and its
    elpd no lower than that of a K clearly below the best: a difference
    merely noisier than a clearly worse K's is passed over), among the
    fits that converged (as the fit itself judges it,
    :attr:`Mixture.convergence_`: max R-hat <= 1.01, min bulk ESS >= 400,
    at most 0.1% divergent draws, more than one chain);
    a K that did not converge is kept in the table, flagged, and set aside,
    unless it predicts clearly better (by the rule's own measure) than the
    K the rule chooses among those that converged while its chains come
    near the bar (max R-hat at most ``NEAR_RHAT``, 1.05); then, and when
    none converged, the rule runs over them all and the choice is
    provisional (a caution says so). A K whose chains disagree more (in
    different modes, as fits with more components than the data support
    often are) is no evidence whatever its elpd: a caution names it and
    the choice stands. A K with a
    component collapsed (``collapsed`` in the table: a scale near zero on
    one repeated value or on as few rows as the component has location
    parameters) is not chosen unless every K is so. A K whose elpd is not
    finite is set aside and named in ``rule_``.

    Parameters
    ----------
    X : array-like or DataFrame
        The data, as for :meth:`Mixture.fit` (NaN cells are missing); for a
        mixture of regressions the predictors (and the response when
        ``response`` names it), as for :meth:`RegressionMixture.fit`.
    n_components : iterable of int
        The K to try, each at least 1 and at most the number of rows (for
        a mixture of regressions, of rows with a response).
    y, response
        A mixture of regressions' response, as for
        :meth:`RegressionMixture.fit` (one of them); refused for other
        estimators. Rows whose response is missing add nothing to a
        regression's likelihood and nothing to its elpd.
    estimator : Mixture, optional
        The model (family, covariance, priors, engine) to fit for each K;
        its ``n_components`` is replaced. It is not modified.
    method : {"sample", "optimize"}
        ``"sample"`` (NUTS) gives LOO, WAIC, K-fold and BIC/ICL at the
        mode it starts from; ``"optimize"`` gives BIC and ICL only, and the
        rule then takes the K with the smallest BIC.
    seed : int, optional
        Base seed: each K, and each fold, gets its own seed derived from it
        and from what it is for (:func:`stanmix.parallel.keyed_seed`): the
        same seed gives the same table serially, with joblib and on Dask,
        and a K's row does not depend on which other K are swept.
    kfold : int, None or "auto"
        Folds for the K with unreliable LOO (NUTS only; at most the number
        of rows; ``"auto"``: 5 with NUTS, or one per row with fewer rows,
        each K taking more where its fold fits need them to keep K training
        rows, whatever other K are swept; none with ``method="optimize"``);
        an integer must suit the largest K. ``None`` keeps the LOO estimate
        and marks it ``"loo (unreliable)"``.
    n_jobs, backend, client, progress
        Where the fits run: see :func:`stanmix.parallel.run_tasks`
        (default: one after another in this process).
    lower_limit, upper_limit, censored, interval
        Censoring, as for :meth:`Mixture.fit`.
    **fit_kwargs
        Passed to every fit (``chains``, ``warmup``, ``draws``, engine
        options, ...); not ``log_likelihood``, which the sweep sets (stored
        for NUTS, where LOO needs it).

    Returns
    -------
    ComponentSelection

    Warns
    -----
    stanmix.ConvergenceWarning
        When a K that did not converge predicts clearly better (by the
        rule's own measure) than the K the rule chooses among those that
        did: with R-hat near the bar the chains were most likely too short,
        and the choice, made over every K, should not be trusted before
        longer ones; with R-hat far above it the choice stands, and the
        caution names that K; and when no K converged (the choice is
        provisional).
        ``rule_`` says the same.

    Examples
    --------
    >>> import numpy as np, stanmix as sm
    >>> data = sm.datasets.mixture_sample(
    ...     [0.5, 0.5], [[-3.0, 0.0], [3.0, 0.0]], 1.0, 200, seed=1)
    >>> sel = sm.select_components(data.X, range(1, 4), method="optimize", seed=1)
    >>> sel.best_
    2

    A mixture of regressions, its response named:

    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(0, 10, 300)
    >>> y = np.where(rng.random(300) < 0.5, 1 + 2 * x, 15 - x) + rng.normal(0, 1, 300)
    >>> df = pd.DataFrame({"dose": x, "response": y})
    >>> sel = sm.select_components(df, range(1, 4), response="response",
    ...     estimator=sm.RegressionMixture(), method="optimize", seed=1)
    >>> sel.best_
    2
    """
    ks = _check_ks(n_components)
    check.one_of("method", method, ("sample", "optimize"))
    auto_kfold = isinstance(kfold, str) and kfold == "auto"
    if auto_kfold:
        kfold = KFOLD if method == "sample" else None
    elif kfold is not None:
        check.integer("kfold", kfold, low=2)
    if method == "optimize" and kfold is not None:
        raise StanmixInputError(
            f"kfold={kfold!r} does not apply to method='optimize' (it refits the "
            "NUTS fits whose LOO is unreliable); leave it out"
        )
    base = check.seed(seed)
    if base is None:
        base = check.fresh_seed()
    template = Mixture() if estimator is None else estimator
    if isinstance(template, type):
        raise StanmixInputError(
            f"estimator is the class {template.__name__}; give an instance with "
            f"its settings, e.g. {template.__name__}()"
        )
    if not isinstance(template, Mixture):
        raise StanmixInputError(
            f"estimator must be a stanmix Mixture, got {type(template).__name__}"
        )
    regression = template._family_from_data
    given = [name for name, v in (("y", y), ("response", response)) if v is not None]
    if given and not regression:
        raise StanmixInputError(
            f"{' and '.join(given)} {'give' if len(given) > 1 else 'gives'} a "
            "mixture of regressions' response; a "
            f"{type(template).__name__} clusters the columns of X: leave "
            f"{' and '.join(given)} out, or pass estimator=sm.RegressionMixture(...)"
        )
    _check_fit_kwargs(template, method, fit_kwargs, ks)
    censoring = {
        name: value
        for name, value in zip(
            CENSORING_ARGS, (lower_limit, upper_limit, censored, interval), strict=True
        )
        if value is not None
    }
    params = template.get_params()
    data = dict(censoring)
    if regression:
        data.update(y=y, response=response)
    reader, cells, about_data = _read_data(template, X, y, response, censoring)
    for said in about_data:  # once here, not again from every K's fit
        warnings.warn(said.message, stacklevel=2)
    rows_text = "rows with a response" if regression else "rows"
    folds_of = _folds_per_k(ks, cells, kfold, auto_kfold, rows_text)
    n_rows = cells.counted_rows().size
    # Seeds by what they are for, not by position: K's fit, the folds'
    # assignment (key 0) and K's fold f (key (K, f + 1)), so that a K's row
    # is the same whichever other K are swept.
    seeds = {k: keyed_seed(base, k) for k in ks}
    fit = {"method": method, "log_likelihood": method == "sample", **fit_kwargs}
    tasks = [(_fit_k, (type(template), params, k, X, data, seeds[k], fit)) for k in ks]
    with warnings.catch_warnings():
        for said in about_data:
            warnings.filterwarnings(
                "ignore", re.escape(str(said.message)) + r"\Z", said.category
            )
        outcomes = run_tasks(
            tasks,
            n_jobs=n_jobs,
            backend=backend,
            client=client,
            progress=progress,
            keys=[f"K={k}" for k in ks],
            label="K",
            errors="return",
            one_thread_workers=True,
        )
    failed = _failed_ks(ks, outcomes)
    models = {
        k: outcome[0]
        for k, outcome in zip(ks, outcomes, strict=True)
        if k not in failed
    }
    rows = {
        k: _failed_row(failed[k])
        if k in failed
        else _row(outcome[0], outcome[1], method)
        for k, outcome in zip(ks, outcomes, strict=True)
    }
    pointwise = {k: rows[k].pop("_pointwise") for k in ks}
    if method == "sample" and folds_of:
        redo = [k for k in models if rows[k]["n_high_pareto_k"] > 0]
        kfold_elpd, unavailable, said, fold_notes = _kfold_where_loo_fails(
            redo,
            folds_of,
            (type(template), params, cells, reader._check_fit_data),
            base,
            fit,
            f"leaves each fold's fit K {rows_text} (of {n_rows})",
            run={
                "n_jobs": n_jobs,
                "backend": backend,
                "client": client,
                "progress": progress,
            },
        )
        for message, category in said:
            warnings.warn(message, category, stacklevel=2)
        for k, elpd_i in kfold_elpd.items():
            pointwise[k] = elpd_i
            rows[k]["elpd_kfold"] = float(elpd_i.sum())
            rows[k]["se_kfold"] = float(np.sqrt(elpd_i.size * elpd_i.var()))
            rows[k]["estimate"] = "kfold"
        for k, note in fold_notes.items():
            rows[k]["note"] = note
        by_reason: dict[str, list[int]] = {}
        for k, reason in unavailable.items():
            rows[k]["note"] = reason
            by_reason.setdefault(reason, []).append(int(k))
        for reason, some in by_reason.items():
            listed = ", ".join(map(str, some))
            warnings.warn(f"K = {listed}: {reason}", UserWarning, stacklevel=2)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "K"
    # whole numbers stay whole beside a failed K's missing ones
    table["n_parameters"] = table["n_parameters"].astype("Int64")
    best, rule, caution = _choose(table, pointwise, method)
    if caution:
        warnings.warn(caution, ConvergenceWarning, stacklevel=2)
    return ComponentSelection(
        table_=table, best_=best, rule_=rule, models_=models, seed_=base
    )


def _refuse_sweep(
    template: Mixture,
    X,
    n_components,
    kfold: int | None = None,
    *,
    y=None,
    response=None,
    **censoring,
) -> None:
    """Raise what :func:`select_components` would raise on the data, its K
    and a given ``kfold`` before any fit, so that a caller (the command
    line) can refuse them before it says what it is about to fit.

    Examples
    --------
    >>> import numpy as np, stanmix as sm
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> _refuse_sweep(sm.Mixture(), X, range(1, 3), kfold=8)
    Traceback (most recent call last):
    ...
    stanmix.exceptions.StanmixInputError: kfold must be at most the number of rows ...
    """
    ks = _check_ks(n_components)
    given = {name: value for name, value in censoring.items() if value is not None}
    _, cells, _ = _read_data(template, X, y, response, given)
    rows_text = "rows with a response" if template._family_from_data else "rows"
    _folds_per_k(ks, cells, kfold, False, rows_text)


def _read_data(
    template: Mixture, X, y, response, censoring: Mapping
) -> tuple[Mixture, CellTable, list]:
    """The data read and checked as a fit of ``template`` would read them: a
    copy of it with K = 1 (so that the checks are of the data alone; the
    sweep's K are checked by :func:`_folds_per_k`) that holds the design of
    a regression, the cell table, and what reading warned of."""
    reader = type(template)(**{**template.get_params(), "n_components": 1})
    with warnings.catch_warnings(record=True) as about_data:
        warnings.simplefilter("always")
        if template._family_from_data:
            reader._check_settings_of_design()
            prepared = reader._prepare(X, y, response, fitting=True)
            cells, _ = reader._read(prepared, censoring)
        else:
            cells, _ = reader._read(X, censoring)
        reader._check_fit_data(cells)
    return reader, cells, list(about_data)


def _folds_per_k(
    ks: Sequence[int],
    cells: CellTable,
    kfold: int | None,
    auto: bool,
    rows_text: str,
) -> dict[int, int | None]:
    """Refuse K beyond the counted rows (or the distinct ones) and a
    ``kfold`` beyond the rows; return each K's folds (none when ``kfold``
    is None): under ``"auto"`` each K's own, so that its row does not
    depend on the other K swept (None for a K no split can fit)."""
    counted = cells.counted_rows()
    n_rows = counted.size
    if kfold is not None and kfold > n_rows:
        if auto:
            kfold = n_rows if n_rows >= 2 else None
        else:
            raise StanmixInputError(
                f"kfold must be at most the number of {rows_text} ({n_rows}), got "
                f"kfold={kfold}: each fold holds out at least one row; use "
                f"kfold={n_rows} or fewer"
            )
    if ks[-1] > n_rows:
        raise StanmixInputError(
            f"n_components goes up to {ks[-1]} but the data has {n_rows} "
            f"{rows_text}; a mixture cannot have more components than observations"
        )
    distinct = cells.rows(counted).n_distinct_rows()
    if ks[-1] > distinct:
        raise StanmixInputError(
            f"n_components goes up to {ks[-1]} but the data has {distinct} distinct "
            f"{rows_text} (of {n_rows}); use K up to {distinct}"
            f"{tied_columns_hint(cells)}"
        )
    if kfold is None:
        return {}
    if auto:
        return {k: _folds_for(kfold, k, n_rows, auto=True) for k in ks}
    return dict.fromkeys(ks, _folds_for(kfold, ks[-1], n_rows, auto=False))


#: select_components' own arguments, which its fit keywords cannot hold.
SELECT_ARGS = (
    "response",
    "estimator",
    "kfold",
    "n_jobs",
    "backend",
    "client",
    "progress",
    "n_components",
)


def _check_fit_kwargs(
    template: Mixture, method: str, fit_kwargs: Mapping, ks: Sequence[int]
) -> None:
    """Refuse, before any fit, keywords that no fit of ``template`` takes,
    and settings that fit some K of the sweep but not others."""
    init = fit_kwargs.get("init")
    if len(ks) > 1 and init is not None and not isinstance(init, str):
        raise StanmixInputError(
            "init gives starting values for one number of components, and the "
            f"sweep fits K = {_ks(ks)}; leave it out (each K starts from its "
            "posterior mode) or give a named start such as init='kmeans'"
        )
    if len(ks) > 1 and fit_kwargs.get("inv_metric") is not None:
        raise StanmixInputError(
            "inv_metric gives a mass matrix for one number of components (one "
            "entry per unconstrained parameter), and the sweep fits K = "
            f"{_ks(ks)}; leave it out (each K finds its own metric)"
        )
    if "log_likelihood" in fit_kwargs:
        raise StanmixInputError(
            "log_likelihood is set by the sweep itself (stored for NUTS, where "
            "LOO needs it) and cannot be given; leave it out"
        )
    for name in ("seed", "method", *CENSORING_ARGS):
        if name in fit_kwargs:
            raise StanmixInputError(f"give {name} to select_components itself")
    refuse_own_arguments(
        fit_kwargs, "select_components", SELECT_ARGS, "select_components got"
    )
    params = template.get_params()
    refused: dict[int, StanmixInputError] = {}
    for k in ks:
        try:
            check_fit_options(
                type(template)(**{**params, "n_components": k}),
                {**fit_kwargs, "method": method},
            )
        except StanmixInputError as err:
            refused[k] = err
    if not refused:
        return
    k, err = next(iter(refused.items()))
    if len(refused) == len(ks) and len({str(e) for e in refused.values()}) == 1:
        raise err  # the same for every K: not a matter of K
    raise StanmixInputError(f"for K = {k} of the sweep: {err}") from None


def _folds_for(kfold: int, k: int, n: int, auto: bool) -> int | None:
    """``kfold``, when each fold's training rows (all but the largest
    fold, ``n - ceil(n / kfold)``) can hold ``k`` components; under
    ``"auto"`` the fewest folds that can (None when none can), else an
    error naming the folds that can."""

    def rows(folds: int) -> int:
        return n - -(-n // folds)

    def fits(folds: int) -> bool:
        return rows(folds) >= k

    if fits(kfold):
        return kfold
    enough = next((f for f in range(kfold + 1, n + 1) if fits(f)), None)
    if auto:
        return enough
    fix = (
        f"use kfold={enough} or more"
        if enough is not None
        else "no number of folds leaves that many"
    )
    raise StanmixInputError(
        f"kfold={kfold} fits K = {k} to {rows(kfold)} rows in some folds "
        f"(the {n} rows less the largest fold): fewer rows than components; "
        f"{fix}, or kfold=None to keep the LOO estimate"
    )


def _check_ks(n_components) -> list[int]:
    if isinstance(n_components, str):
        raise StanmixInputError(
            f"n_components must be integers such as range(1, 9) or [2, 3, 5], "
            f"got the string {n_components!r}"
        )
    try:
        ks = list(n_components)
    except TypeError:
        raise StanmixInputError(
            f"n_components must be an iterable of integers such as range(1, 9), "
            f"got {n_components!r}"
        ) from None
    if not ks:
        raise StanmixInputError("n_components is empty; give the K to try")
    ks = [check.integer("each n_components", k, low=1) for k in ks]
    if len(set(ks)) != len(ks):
        raise StanmixInputError(f"n_components repeats a value: {ks}")
    return sorted(ks)


def _failed_ks(ks: Sequence[int], outcomes: Sequence) -> dict[int, BaseException]:
    """The K whose fit the engine could not complete (kept in the table and
    never chosen); any other error, or every K failing, is raised."""
    failed = {
        k: out
        for k, out in zip(ks, outcomes, strict=True)
        if isinstance(out, BaseException)
    }
    fatal = [k for k, err in failed.items() if not isinstance(err, RuntimeError)]
    if fatal or (failed and len(failed) == len(ks)):
        first = failed[(fatal or list(failed))[0]]
        listed = "\n".join(
            f"  K={k}: {type(err).__name__}: {err}" for k, err in failed.items()
        )
        raise FitFailedError(
            f"{len(failed)} of {len(ks)} Ks failed:\n{listed}",
            {f"K={k}": err for k, err in failed.items()},
            [None if isinstance(out, BaseException) else out for out in outcomes],
        ) from first
    return failed


def _failed_row(error: BaseException) -> dict:
    """A table row for a K whose fit failed: no figures, the error."""
    return {
        "converged": False,
        "collapsed": False,
        "estimate": "failed",
        "error": f"{type(error).__name__}: {check.one_line(str(error))}",
        "_pointwise": None,
    }


def _fit_k(cls, params, k, X, data, seed, fit):
    """K's fit to ``X`` with ``data``'s keywords (censoring, and a
    regression's response), and its seconds."""
    start = time.perf_counter()
    model = cls(**{**params, "n_components": k}).fit(X, seed=seed, **data, **fit)
    return model, time.perf_counter() - start


def _row(model: Mixture, seconds: float, method: str) -> dict:
    from stanmix.inference_data import az

    row: dict[str, Any] = {
        "n_parameters": model.n_parameters_,
        "collapsed": bool(collapsed_components(model)),
        "fit_seconds": seconds,
        "bic": np.nan,
        "icl": np.nan,
    }
    if model.map_ is not None:
        row["bic"] = model.bic()
        row["icl"] = model.icl() if model.family_.joint else np.nan
    if method != "sample":
        # a posterior mode: no predictive density, so no elpd columns
        row.update(estimate="bic", converged=True, _pointwise=None)
        return row
    row.update(elpd_kfold=np.nan, se_kfold=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ's Pareto k warning: reported below
        loo = az.loo(model.idata_, pointwise=True)
        waic = az.waic(model.idata_)
    k_hat = np.asarray(loo["pareto_k"])
    summary = model.summary()
    # the fit's own verdict: R-hat, bulk ESS, divergences, chains that moved
    sampler = model.convergence_
    divergences = sampler.divergences
    rhat = summary["r_hat"].to_numpy(dtype=float) if "r_hat" in summary else []
    max_rhat = float(np.nanmax(rhat)) if np.isfinite(rhat).any() else np.nan
    converged = bool(not sampler.one_chain and sampler.converged)
    high = int((k_hat > pareto_k_limit(loo["n_samples"])).sum())
    row.update(
        elpd_loo=float(loo["elpd_loo"]),
        se_loo=float(loo["se"]),
        p_loo=float(loo["p_loo"]),
        n_high_pareto_k=high,
        waic=-2.0 * float(waic["elpd_waic"]),
        # ArviZ's flag: some row's log predictive density varies by more
        # than 0.4 over the draws, where WAIC is unreliable
        waic_warning=bool(waic["warning"]),
        max_rhat=max_rhat,
        min_ess_bulk=float(sampler.min_ess_bulk),
        divergences=divergences,
        converged=converged,
        estimate="loo" if high == 0 else "loo (unreliable)",
    )
    row["_pointwise"] = np.asarray(loo["loo_i"], dtype=float)
    return row


def _kfold_where_loo_fails(
    redo: Sequence[int],
    folds_of: Mapping[int, int | None],
    model: tuple,
    base: int,
    fit: Mapping,
    split: str,
    run: Mapping,
) -> tuple[
    dict[int, np.ndarray], dict[int, str], list[tuple[str, type]], dict[int, str]
]:
    """K-fold cross-validation of the K in ``redo`` (those whose PSIS-LOO is
    unreliable), grouped by their number of folds (``folds_of``; None where
    no split ``split``): each K's pointwise held-out elpd, the reason for
    each K left without one, the fold fits' warnings to give, and a note
    for each K some of whose fold fits did not converge. ``model`` is
    (estimator class, its parameters, the cell table, the data check)."""
    groups: dict[int | None, list[int]] = {}
    for k in redo:
        groups.setdefault(folds_of[k], []).append(k)
    cls, params, cells, check_data = model
    elpd: dict[int, np.ndarray] = {}
    unavailable: dict[int, str] = {}
    said: list[tuple[str, type]] = []
    notes: dict[int, str] = {}
    for folds, some in groups.items():
        if folds is None:
            reason = (
                f"K-fold cross-validation was not run: no number of folds {split}; "
                "the estimate stays PSIS-LOO, unreliable"
            )
            unavailable.update(dict.fromkeys(some, reason))
            continue
        done, not_done, warned, unconverged = _kfold(
            cls, params, some, cells, check_data, folds, base, fit, **run
        )
        elpd.update(done)
        unavailable.update(not_done)
        said.extend(warned)
        for k, n in unconverged.items():
            if k in done:
                notes[k] = (
                    f"{n} of {folds} K-fold fits did not converge (see the "
                    "warnings): the K-fold elpd is less certain than its se says"
                )
    return elpd, unavailable, said, notes


def _kfold(
    cls, params, ks, cells: CellTable, check_data, folds, base, fit, **run
) -> tuple[dict, dict, list, dict]:
    """Exact K-fold elpd per counted row (:meth:`CellTable.counted_rows`) for each K
    in ``ks``, the folds' assignment and their fits seeded from ``base``
    (see ``select_components``); and, for the K it could not estimate, why:
    a fold whose training rows fail ``check_data`` (the split can leave a
    column's few measured values all in one fold), or a fold fit refused or
    not completed. Rows that are not counted train every fold. Third and
    fourth, the fold fits' warnings, one per K and kind, and per K the
    number of fold fits that did not converge (:func:`_fold_warnings`)."""
    rng = np.random.default_rng(keyed_seed(base, 0))
    counted = cells.counted_rows()
    fold_of = rng.permutation(np.arange(counted.size) % folds)
    others = np.setdiff1d(np.arange(cells.n_obs), counted)

    def train_rows(f: int) -> np.ndarray:
        return np.sort(np.concatenate([counted[fold_of != f], others]))

    for f in range(folds):
        try:
            check_data(cells.rows(train_rows(f)))
        except StanmixInputError as err:
            reason = (
                f"K-fold cross-validation was not run: the training rows of fold "
                f"{f} (every row outside it) fail a data check: "
                f"{str(err).split('; ')[0]}; the estimate stays PSIS-LOO, unreliable"
            )
            return {}, dict.fromkeys(ks, reason), [], {}
    tasks, keys = [], []
    for k in ks:
        for f in range(folds):
            seed = keyed_seed(base, k, f + 1)
            test = counted[fold_of == f]
            task = (cls, params, k, cells, train_rows(f), test, seed, fit)
            tasks.append((_heldout, task))
            keys.append(f"fold {f} of K={k}")
    logger.info("K-fold cross-validation for K in %s (%d fits)", ks, len(tasks))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcomes = run_tasks(
            tasks,
            keys=keys,
            label="fold",
            errors="return",
            one_thread_workers=True,
            **run,
        )
    out, unavailable, unconverged = {}, {}, {}
    for i, k in enumerate(ks):
        mine = outcomes[i * folds : (i + 1) * folds]
        failed = [(f, o) for f, o in enumerate(mine) if isinstance(o, BaseException)]
        if failed:
            f, err = failed[0]
            if not isinstance(err, (StanmixInputError, RuntimeError)):
                name = f"fold {f} of K={k}"
                raise FitFailedError(
                    f"the K-fold fit of {name} failed: {type(err).__name__}: {err}",
                    {name: err},
                    [None if isinstance(o, BaseException) else o for o in mine],
                ) from err
            unavailable[k] = (
                f"K-fold cross-validation failed in fold {f} "
                f"({type(err).__name__}: {err}); the estimate stays PSIS-LOO, "
                "unreliable"
            )
            continue
        elpd = np.empty(counted.size)
        for f, (values, _) in enumerate(mine):
            elpd[fold_of == f] = values
        out[k] = elpd
        missed = sum(not converged for _, converged in mine)
        if missed:
            unconverged[k] = missed
    return out, unavailable, _fold_warnings(caught, folds), unconverged


#: How the fits run through run_tasks prefix their warnings.
_FOLD_WARNING = re.compile(r"fold (\d+) of K=(\d+): (.*)", re.DOTALL)
#: A warning's pointer to the fitted model's attributes, which a fold fit,
#: not kept, does not have.
_FOLD_POINTER = re.compile(r" The figures of every parameter are in \w+\.\w+\.$")


def _fold_warnings(caught: Sequence, folds: int) -> list[tuple[str, type]]:
    """The fold fits' warnings, one per K and category: how many of the
    folds warned, and the first fold's message (a K-fold sweep of short
    chains would otherwise repeat each warning for every fold), less any
    pointer to the fold fit's attributes (it is not kept); other warnings
    as they were. A fold's warning that the filters in force ignore, as the
    fit raised it, is left out."""
    first: dict[tuple[int, type], tuple[int, str]] = {}
    warned: dict[tuple[int, type], set[int]] = {}
    others = []
    for w in caught:
        match = _FOLD_WARNING.match(str(w.message))
        if match is None:
            others.append((str(w.message), w.category))
            continue
        if ignored_here(match[3], w.category, w.filename, w.lineno):
            continue  # the caller's filters ignore the fit's own warning
        key = (int(match[2]), w.category)
        first.setdefault(key, (int(match[1]), _FOLD_POINTER.sub("", match[3])))
        warned.setdefault(key, set()).add(int(match[1]))
    summary = [
        (
            f"K = {k}: {len(warned[(k, category)])} of {folds} K-fold fits warned; "
            f"fold {fold}: {message}",
            category,
        )
        for (k, category), (fold, message) in sorted(
            first.items(), key=lambda item: item[0][0]
        )
    ]
    return summary + others


def _heldout(cls, params, k, cells, train, test, seed, fit):
    """Log predictive density of the held-out rows under a fit to the rest,
    and whether that fit converged (its own verdict, from more than one
    chain, as a K's row has it)."""
    kwargs = {**fit, "log_likelihood": False}
    model = cls(**{**params, "n_components": k}).fit(
        cells.rows(train), seed=seed, **kwargs
    )
    found = model.convergence_
    converged = found is None or (not found.one_chain and found.converged)
    return model._log_predictive(cells.rows(test)), converged


def _clearly_better(ks: Sequence[int], best: int, pointwise: Mapping) -> list[int]:
    """The K among ``ks`` whose elpd is clearly above ``best``'s, by the
    rule's own measure (a difference over SMALL_DIFFERENCE and over
    CLEAR_DIFFERENCE_SE standard errors)."""
    out = []
    for k in ks:
        d = pointwise[k] - pointwise[best]
        gain, se = float(d.sum()), float(np.sqrt(d.size * d.var()))
        if gain > SMALL_DIFFERENCE and gain > CLEAR_DIFFERENCE_SE * se:
            out.append(int(k))
    return out


def _finite_index(table: pd.DataFrame, column: str) -> pd.Index:
    """The K whose ``column`` is finite; an error when none is (every fit's
    log-likelihood was not finite)."""
    finite = table.index[np.isfinite(table[column].to_numpy(dtype=float))]
    if len(finite) == 0:
        raise RuntimeError(
            f"no K has a finite {column}: the fits' log-likelihoods are not "
            "finite (look for cells at extreme values or limits) or the fits "
            "failed (the table's error column)"
        )
    return finite


def _elpd_rule(table: pd.DataFrame, pointwise: Mapping, considered, finite):
    """The best elpd among ``considered`` (top), each finite K's difference
    from it and its standard error, the smallest considered K not clearly
    below it (best), and the considered K passed over although not clearly
    below it, as each lies below a K that is (a K whose difference is only
    noisier than a clearly worse K's is no better than it), each with the
    clearly worse K it lies below."""
    top = int(table.loc[considered, "elpd"].idxmax())
    diffs, ses = {}, {}
    for k in finite:
        d = pointwise[top] - pointwise[k]
        diffs[k] = float(d.sum())
        ses[k] = float(np.sqrt(d.size * d.var()))
    close = [
        k
        for k in considered
        if diffs[k] < SMALL_DIFFERENCE or diffs[k] < CLEAR_DIFFERENCE_SE * ses[k]
    ]
    clear = [k for k in considered if k not in close]
    bar = min(clear, key=diffs.__getitem__) if clear else None
    passed = {
        int(k): int(bar) for k in close if bar is not None and diffs[k] > diffs[bar]
    }
    best = int(min(k for k in close if k not in passed))
    return top, diffs, ses, best, passed


def _ks(ks) -> str:
    """Numbers of components as a sentence lists them: ``2, 3``."""
    return ", ".join(str(k) for k in ks)


def _choose(
    table: pd.DataFrame, pointwise: Mapping, method: str
) -> tuple[int, str, str]:
    """The chosen K, the rule's reason, and a caution ("" if none)."""
    failed = [int(k) for k in table.index if table.loc[k, "estimate"] == "failed"]
    failed_text = (
        f" Not considered (the fit failed, see the error column): K = {_ks(failed)}."
        if failed
        else ""
    )
    score = "bic" if method != "sample" else "elpd"
    if method == "sample":
        kfold = table["estimate"] == "kfold"
        table["elpd"] = np.where(kfold, table["elpd_kfold"], table["elpd_loo"])
        table["se"] = np.where(kfold, table["se_kfold"], table["se_loo"])
    finite = _finite_index(table, score)
    flags = table.get("collapsed", pd.Series(False, index=table.index))
    collapsed = [int(k) for k in finite if flags.loc[k]]
    usable = finite.difference(collapsed)
    collapsed_text = ""
    if collapsed:
        collapsed_text = (
            f" Not considered (a component collapsed onto one value that a "
            f"column repeats, or onto as few rows as it has location "
            f"parameters, where the density has no useful maximum, so its "
            f"{score} does not measure fit; see the collapsed column): "
            f"K = {_ks(collapsed)}."
        )
    all_collapsed = len(usable) == 0
    if all_collapsed:
        usable = finite
        collapsed_text = ""
    caution = ""
    if all_collapsed:
        caution = (
            "Caution: every K has a collapsed component (a scale near zero on "
            "one repeated value or on as few rows as it has location "
            "parameters), so the choice compares degenerate fits: try fewer "
            "components or standardize=True; data that repeat a few values "
            "(counts, scores) want a model for discrete values."
        )
    if method != "sample":
        best = int(table.loc[usable, "bic"].idxmin())
        rule = (
            f"Chose K = {best}: the smallest BIC at the posterior mode "
            "(method='optimize' gives no predictive density)."
            + collapsed_text
            + failed_text
        )
        if caution:
            rule += " " + caution
        return best, rule, caution
    ok = usable.intersection(table.index[table["converged"].astype(bool)])
    provisional = len(ok) == 0
    if provisional:
        # no K met the bars: the rule runs over every usable K, and the
        # choice says it is provisional (the sweep is kept)
        ok = usable
    skipped = [int(k) for k in usable if k not in ok]
    top, diffs, ses, best, passed = _elpd_rule(table, pointwise, ok, finite)
    rhat = table.get("max_rhat", pd.Series(0.0, index=table.index))
    clearly = _clearly_better(skipped, best, pointwise)
    # chains in different modes (R-hat far above 1): their elpd is no evidence
    better = [k for k in clearly if rhat.loc[k] <= NEAR_RHAT]
    astray = [k for k in clearly if k not in better]
    converged_best = best
    apart = []  # set aside for chains in different modes, even so
    if better:
        # A K set aside as not converged predicts clearly better than every
        # converged one: its chains were most likely too short for the
        # bars, not wrong, so the rule runs over every usable K but those
        # whose chains disagree (their elpd is no evidence), and the
        # choice is provisional.
        apart = [k for k in skipped if rhat.loc[k] > NEAR_RHAT]
        ok, skipped, provisional = usable.difference(apart), [], True
        top, diffs, ses, best, passed = _elpd_rule(table, pointwise, ok, finite)
    table["elpd_diff"] = 0.0 - pd.Series(diffs, dtype=float).reindex(table.index)
    table["se_diff"] = pd.Series(ses, dtype=float).reindex(table.index)
    rule = (
        "Rule: the smallest K whose elpd is not clearly below the best (a "
        f"difference under {SMALL_DIFFERENCE:g}, or under "
        f"{CLEAR_DIFFERENCE_SE:g} standard errors of the difference), nor below "
        "a K that is. The best "
        f"elpd{' among the converged K' if skipped else ''} is at K = {top} "
        f"({table.loc[top, 'elpd']:.1f}, "
        f"{table.loc[top, 'estimate']}); "
    )
    if best == top and best == min(ok):
        rule += f"no K considered is smaller, so K = {best}."
    elif best == top:
        lower = ", or below one that is" if passed else ""
        rule += f"every smaller K is clearly below it{lower}, so K = {best}."
    else:
        rule += (
            f"K = {best} is {diffs[best]:.1f} below it with a standard error "
            f"of {ses[best]:.1f}, so K = {best}."
        )
    if passed:
        worst_clear = next(iter(passed.values()))
        one = len(passed) == 1
        rule += (
            f" K = {_ks(passed)} {'is' if one else 'are'} not clearly below the "
            f"best by {'its' if one else 'their'} own standard error "
            f"({', '.join(f'{ses[k]:.1f}' for k in passed)}), but below K = "
            f"{worst_clear}, which is: a noisier difference is no better than "
            f"a clear one, so {'it is' if one else 'they are'} passed over."
        )
    if skipped:
        rule += f" Not considered (did not converge): K = {_ks(skipped)}."
    if apart:
        figures = ", ".join(f"{rhat.loc[k]:.2f}" for k in apart)
        rule += (
            f" Not considered (did not converge, R-hat {figures}: chains most "
            f"likely in different modes): K = {_ks(apart)}."
        )
    rule += collapsed_text
    not_finite = [int(k) for k in table.index if k not in finite and k not in failed]
    if not_finite:
        rule += f" Not considered ({score} not finite): K = {_ks(not_finite)}."
    rule += failed_text
    if better:
        caution = (
            f"Caution: K = {_ks(better)} did not converge but predicts clearly better "
            f"than K = {converged_best}, the choice among the K that converged; "
            f"so every K{f' but K = {_ks(apart)}' if apart else ''} was "
            f"considered, and K = {best} is provisional: run "
            "longer chains (4 chains, more warmup and draws) before trusting it."
        )
    elif astray:
        figures = ", ".join(f"{rhat.loc[k]:.2f}" for k in astray)
        caution = (
            f"Caution: K = {_ks(astray)} did not converge (R-hat {figures}: its "
            "chains disagree, most likely in different modes) and its elpd is "
            f"above K = {best}'s; such an elpd is no evidence, and K = {best} "
            "stands, but run longer chains (4 chains, more warmup and draws) to "
            f"see whether K = {_ks(astray)} predicts better."
        )
    elif provisional and rhat.loc[finite].isna().all():
        caution = (
            "Caution: no K could be checked for convergence (R-hat compares "
            f"chains, and each fit ran one), so K = {best} is provisional: run "
            "4 chains before trusting it."
        )
    elif provisional and not all_collapsed:
        caution = (
            "Caution: no K converged (R-hat <= 1.01, bulk ESS >= 400 and at most "
            f"0.1% divergent draws), so K = {best} is provisional: run longer "
            "chains (4 chains, more warmup and draws) before trusting it."
        )
    if caution:
        rule += " " + caution
    kfold = [int(k) for k in table.index if table.loc[k, "estimate"] == "kfold"]
    if kfold:
        rule += (
            f" K = {_ks(kfold)} had Pareto k above its limit in LOO and were "
            "judged by exact K-fold cross-validation."
        )
    return best, rule, caution


@dataclass(eq=False)
class FilledComponents:
    """Filled components of a (sparse overfitted) mixture, per posterior draw.

    Attributes
    ----------
    counts : ndarray of int, shape (S,)
        The number of components with at least one allocated observation,
        per draw (allocations drawn from the memberships of that draw).
    distribution : pandas.Series
        The posterior probability of each number of filled components.
    mode : int
        Its most probable value.
    occupancy : pandas.DataFrame
        Per component: the share of draws in which it is filled, its mean
        weight, and its mean number of allocated observations.
    """

    counts: np.ndarray
    distribution: pd.Series
    mode: int
    occupancy: pd.DataFrame


def filled_components(
    model: Mixture, *, draws: int | None = 1000, seed: int | None = None
) -> FilledComponents:
    """How many components the data fill, draw by draw.

    For a sparse overfitted mixture (Rousseau and Mengersen 2011;
    Malsiner-Walli, Fruhwirth-Schnatter and Grun 2016): fit more components
    than you expect with a small Dirichlet concentration, e.g.
    ``Mixture(8, prior_concentration=SPARSE_CONCENTRATION, ordered=False)``,
    and the surplus components are emptied; the posterior of the number of
    non-empty components estimates the number of clusters. For each draw,
    every observation is allocated to a component drawn from its membership
    probabilities under that draw, and the filled components are counted.
    Rows that add nothing to the likelihood (a regression's rows without a
    response) are not observations, and fill nothing.

    The emptying needs posterior draws (ADVI's mean-field approximation
    keeps every component filled). With a concentration below 1 the programs
    give the weights the same Dirichlet prior through gamma variables,
    ``w = softmax(log g)``, so NUTS moves an empty component's weight freely
    over many orders of magnitude; unordered means (relabelled after
    sampling) let an empty component pass the filled ones, where ordered
    means trap it between two of them. An empty component's own parameters
    rest on their prior and mix slowly, so ``model.convergence_`` usually
    names them: judge the filled components and the count. On any fitted
    model, the count is also a plain check that no component is empty.

    Parameters
    ----------
    model : Mixture
        A fitted model with joint components (NUTS or ADVI draws).
    draws : int or None
        Draws used (evenly thinned; default 1000, None for all).
    seed : int, optional
        Seed of the allocations.

    Examples
    --------
    >>> import numpy as np, stanmix as sm
    >>> data = sm.datasets.mixture_sample(
    ...     [0.5, 0.5], [[-4.0, 0.0], [4.0, 0.0]], 1.0, 100, seed=1)
    >>> model = sm.Mixture(2).fit(data.X, method="variational", seed=1, draws=200)
    >>> filled_components(model, seed=1).mode
    2
    """
    check_model(model, "filled_components")
    if model.method_ == "optimize":
        raise StanmixInputError(
            "filled_components counts the filled components draw by draw, and "
            "a point estimate (method='optimize') is one draw, whose count "
            "would look certain; fit with method='sample' (or 'variational')"
        )
    model._check_membership()
    params = model.param_draws()
    n_total = params["w"].shape[0]
    keep = np.arange(n_total)
    if draws is not None:
        check.integer("draws", draws, low=1)
        if draws < n_total:
            keep = np.unique(np.linspace(0, n_total - 1, draws).round().astype(int))
    rng = np.random.default_rng(check.seed(seed))
    k = params["w"].shape[1]
    # a row without a response (a regression's) is no observation: it would
    # fill components from the weights alone
    cells = model.cells_.rows(model.cells_.counted_rows())
    n = cells.n_obs
    counts = np.empty(keep.size, dtype=int)
    sizes = np.zeros((keep.size, k))
    step = max(1, 2**22 // max(1, n * k))
    for start in range(0, keep.size, step):
        part = keep[start : start + step]
        sub = {name: arr[part] for name, arr in params.items()}
        prob = likelihood.membership_draws(model.family_, cells, sub)
        u = rng.random(prob.shape[:2])[..., None]
        z = np.minimum((np.cumsum(prob, axis=-1) < u).sum(axis=-1), k - 1)
        block = np.stack([np.bincount(row, minlength=k) for row in z])
        sizes[start : start + part.size] = block
        counts[start : start + part.size] = (block > 0).sum(axis=1)
    values, freq = np.unique(counts, return_counts=True)
    distribution = pd.Series(freq / counts.size, index=values, name="probability")
    distribution.index.name = "filled components"
    occupancy = pd.DataFrame(
        {
            "filled share": (sizes > 0).mean(axis=0),
            "mean weight": params["w"][keep].mean(axis=0),
            "mean size": sizes.mean(axis=0),
        },
        index=pd.RangeIndex(k, name="component"),
    )
    return FilledComponents(
        counts=counts,
        distribution=distribution,
        mode=int(values[np.argmax(freq)]),
        occupancy=occupancy,
    )
