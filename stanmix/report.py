"""A self-contained HTML report of a fitted mixture.

:func:`write_report` writes one HTML file that needs nothing else: the
plots are embedded as base64 PNG images, the style sheet is inline, and the
page holds no script, link or external address. It can be mailed, archived
or opened offline.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from stanmix import _validation as check
from stanmix import plots
from stanmix._files import write_text_atomic
from stanmix._validation import MAX_SEED
from stanmix.advi import PARETO_K_MAX
from stanmix.cells import INTERVAL, LEFT, MISSING, RIGHT
from stanmix.censoring import censoring_given
from stanmix.csv_input import column_listing
from stanmix.diagnostics import BFMI_LIMIT, ESS_LIMIT, RHAT_LIMIT
from stanmix.exceptions import StanmixInputError
from stanmix.plots._common import (
    check_fitted_model,
    emptied_components,
    percent,
    switched_labels_note,
)
from stanmix.plots.clusters import separating_pair
from stanmix.plots.membership import least_certain, membership_arrays
from stanmix.selection import ComponentSelection

__all__ = ["render_report", "write_report"]

#: How many of the least certain observations the membership table lists.
N_UNCERTAIN_ROWS = 15

_CSS = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d8dee4; --band: #f6f8fa;
        --warn-bg: #fff4e5; --warn: #9a4b00; --ok: #1a7f37; }
* { box-sizing: border-box; }
body { margin: 0; padding: 2rem 1.5rem 4rem; color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1100px; margin: 0 auto; }
h1 { font-size: 1.7rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 .6rem; padding-bottom: .3rem;
     border-bottom: 1px solid var(--line); }
p.lead { color: var(--muted); margin: 0 0 1rem; }
p.note { color: var(--muted); font-size: .9rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .88rem; }
th, td { padding: .28rem .7rem; border-bottom: 1px solid var(--line);
         text-align: right; font-variant-numeric: tabular-nums; }
th { background: var(--band); font-weight: 600; }
tbody tr:nth-child(even) { background: #fbfcfd; }
table.kv th { text-align: left; width: 14rem; }
table.kv td { text-align: left; }
td.warn { background: var(--warn-bg); color: var(--warn); font-weight: 600; }
td.good { color: var(--ok); }
.scroll { overflow-x: auto; }
figure { margin: 1rem 0 1.5rem; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line);
             border-radius: 6px; }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .3rem; }
pre { background: var(--band); border: 1px solid var(--line); border-radius: 6px;
      padding: .8rem 1rem; overflow-x: auto; font-size: .85rem; }
footer { margin-top: 3rem; color: var(--muted); font-size: .85rem; }
"""


def write_report(
    model,
    path,
    *,
    title: str | None = None,
    X=None,
    selection=None,
    lower_limit=None,
    upper_limit=None,
    censored=None,
    interval=None,
    advice_wording: Callable[[str], str] | None = None,
) -> Path:
    """Write a standalone HTML report of a fitted model to ``path``.

    The report holds the fit diagnostics (engine and version, method,
    chains and draws, divergences, largest R-hat and smallest bulk ESS when
    sampled, and whether they meet the bars of ``model.convergence_``, with
    what to do when not), the cluster plot, the parameter summary, the label-switching
    check and what relabelling did (with before/after trace plots when the
    draws were relabelled), and the membership of the least certain
    observations with its plot. Everything is embedded: images are base64
    PNG, the style is inline, and there are no scripts, links or external
    addresses.

    The per-dimension model (``DiagonalMixture(joint=False)``) draws each
    cell of a row from its own component, so a row has no single component:
    its report leaves out the cluster plot, the membership and the
    co-clustering matrix (and says why), and keeps the rest.

    The page is built in memory and written to a temporary file in the
    target folder, which then replaces ``path`` in one step: a failure
    leaves no file (and an existing ``path`` untouched). The file gets the
    permissions of the file it replaces, or, when ``path`` is new, those a
    plain ``open(path, "w")`` would give it (``0o666`` less the umask). A
    symbolic link at ``path`` stays, and the file it points to is replaced.

    Parameters
    ----------
    model : Mixture
        A fitted model.
    path : str or Path
        The HTML file to write (``~`` is the home folder); its folder must
        exist.
    title : str, optional
        Page title; by default the model class and number of components.
    X : array-like or DataFrame, optional
        Data to show in the cluster plot instead of the fitted data (as
        ``plots.plot_clusters`` takes them). For a mixture of regressions,
        a DataFrame of the fitted covariate columns and the response, in a
        column named like the fitted response (as
        ``plots.plot_regression`` takes them). Not for the per-dimension
        model, whose report has no cluster plot.
    selection : ComponentSelection, optional
        The choice of the number of components that led to ``model``
        (:func:`stanmix.select_components`): its table and plot open the
        report.
    lower_limit, upper_limit, censored, interval : optional
        The censoring of ``X``'s cells, as ``fit`` and
        ``plots.plot_clusters`` take them (for a mixture of regressions,
        the response's, as ``plots.plot_regression`` takes them); only with
        ``X``.
    advice_wording : callable, optional
        Rewrites the advice for draws that have not converged, which names
        ``fit``'s keywords (``draws=``), for readers who set them some other
        way: the command line passes one that names its flags.

    Returns
    -------
    Path
        ``path`` (with ``~`` expanded).

    Raises
    ------
    StanmixInputError
        If ``path`` is a folder or its folder does not exist, ``selection``
        is not the result of :func:`stanmix.select_components`, or ``X`` or
        its censoring do not apply to the model; nothing is written.

    Examples
    --------
    >>> import tempfile, pathlib, stanmix as sm
    >>> from stanmix.report import write_report
    >>> data = sm.datasets.blobs(100, seed=1)
    >>> model = sm.DiagonalMixture(5, engine="stanli").fit(
    ...     data.X, method="optimize", seed=1)
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> out = write_report(model, folder / "report.html", title="Five blobs")
    >>> # clusters, membership, predictive check and co-clustering
    >>> out.read_text().count("data:image/png;base64,")
    4
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise StanmixInputError(f"{str(path)!r} is a folder; give a file name")
    # a link is written through: its target's folder must exist
    folder = Path(os.path.realpath(path)).parent if path.is_symlink() else path.parent
    if not folder.is_dir():
        raise StanmixInputError(
            f"folder {str(folder)!r} does not exist; create it first"
        )
    page = render_report(
        model,
        title=title,
        X=X,
        selection=selection,
        lower_limit=lower_limit,
        upper_limit=upper_limit,
        censored=censored,
        interval=interval,
        advice_wording=advice_wording,
    )
    write_text_atomic(path, page)
    return path


def render_report(
    model,
    *,
    title: str | None = None,
    X=None,
    selection=None,
    lower_limit=None,
    upper_limit=None,
    censored=None,
    interval=None,
    advice_wording: Callable[[str], str] | None = None,
) -> str:
    """The report of :func:`write_report` as an HTML string.

    Takes the arguments of :func:`write_report` except ``path``.
    """
    check_fitted_model(model, "write_report")
    if selection is not None and not isinstance(selection, ComponentSelection):
        raise StanmixInputError(
            "selection must be the result of stanmix.select_components (a "
            f"ComponentSelection), got {type(selection).__name__}: pass the "
            "object select_components returned, or leave selection out"
        )
    if selection is not None and not any(
        model is fitted for fitted in selection.models_.values()
    ):
        raise StanmixInputError(
            "model is not one of the selection's fits, so the report would show "
            "one model beside another's selection: pass selection.models_["
            f"selection.best_] (K = {selection.best_}) or another of "
            "selection.models_, or leave selection out"
        )
    censoring = censoring_given(
        lower_limit=lower_limit,
        upper_limit=upper_limit,
        censored=censored,
        interval=interval,
    )
    if censoring and X is None:
        raise StanmixInputError(
            f"{', '.join(censoring)} describe{'s' if len(censoring) == 1 else ''} "
            "the cells of new data; pass the data as X too (the fitted data's "
            "censoring is already in the model)"
        )
    joint = model.family_.joint
    if X is not None and not joint:
        raise StanmixInputError(
            "X: the report of the per-dimension model (joint=False) has no "
            "cluster plot to show new data in, since its rows have no single "
            "component; leave X out"
        )
    k = model.fitted_components_
    name = type(model).__name__
    title = title or f"{name} with {k} component{'s' if k != 1 else ''}"
    summary = model.summary()
    cells = model.cells_
    now = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    version = model.idata_.posterior.attrs.get("stanmix_version", "")

    with plt.ioff(), warnings.catch_warnings():
        # the captions say it
        warnings.filterwarnings("ignore", r"plot_\w+: the draws switch labels")
        clusters_part: list[str] = [_PER_DIMENSION_NOTE]
        membership_part: list[str] = []
        if joint:
            draw = getattr(plots, model.family_.cluster_plot)
            caption = _CLUSTERS_CAPTION
            if draw is plots.plot_clusters and cells.n_dims == 1:
                caption = _CLUSTERS_CAPTION_1D
            if draw is plots.plot_clusters and cells.n_dims > 2:
                names = [cells.columns[d] for d in separating_pair(model)]
                caption = (
                    f"Columns {names[0]} and {names[1]} of the {cells.n_dims}: "
                    "those whose component means lie furthest apart for the "
                    "components' spread (in Python, plots.plot_clusters(model, "
                    f"dims=...) draws any pair). {caption}"
                )
            clusters_png = _render(
                lambda: (
                    (draw(model) if X is None else draw(model, X, **censoring)).figure
                ),
            )
            switched = switched_labels_note(model)
            if switched is not None:
                caption = f"Read with care: {switched}. {caption}"
            clusters_part = [_figure(clusters_png, caption)]
            membership_png = _render(
                lambda: plots.plot_membership(model, max_obs=N_UNCERTAIN_ROWS).figure
            )
            membership_part = [
                "<h2>Membership of the least certain observations</h2>",
                *_membership_section(model, membership_png),
            ]
        relabel_png = None
        if model.method_ == "sample" and "posterior_raw" in model.idata_.groups():
            names = ["mu", "w"]
            relabel_png = _render(lambda: plots.plot_relabelling(model, names))
        checks_part = _checks_section(model)
        selection_part = (
            []
            if selection is None
            else _selection_section(
                selection, advice_wording or str, model.fitted_components_
            )
        )

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body><main>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="lead">{_e(_data_line(cells))}</p>',
        *selection_part,
        "<h2>Fit</h2>",
        _diagnostics_table(model, summary, advice_wording or str, selection),
        "<h2>Clusters</h2>",
        *clusters_part,
        "<h2>Parameters</h2>",
        '<p class="note">'
        + "; ".join(
            f"<code>{_e(name)}</code>: {_e(model.family_.param_doc(name))}"
            for name in model.family_.param_dims()
        )
        + ". In the data's units"
        + (", after relabelling." if model.relabel_report_ is not None else ".")
        + "</p>",
        '<div class="scroll">',
        _frame_html(summary),
        "</div>",
        "<h2>Label switching and relabelling</h2>",
        *_relabelling_section(model, relabel_png),
        *membership_part,
        *checks_part,
        f"<footer>Written by stanmix {_e(version)} on {_e(now)}.</footer>",
        "</main></body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


# --------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------

_CLUSTERS_CAPTION = (
    "Points coloured by their most probable component; fainter points are "
    "less certain and points outlined in black have a largest membership "
    f"probability below {plots.UNCERTAIN_BELOW:g}."
)


#: One column: a histogram and a rug, whose ticks have no outline.
_CLUSTERS_CAPTION_1D = (
    "A histogram of the observed values with each component's weighted "
    "density and their sum; under it a rug of the observations coloured by "
    "their most probable component, fainter where less certain, censored "
    "values marked at their limits."
)


_PER_DIMENSION_NOTE = (
    '<p class="note">No cluster plot, membership table or co-clustering '
    "matrix: the per-dimension model (<code>joint=False</code>) draws each "
    "cell of a row from its own component, so a row has no single component "
    "to be coloured by, to belong to or to share. The predictive check below "
    "compares each column with its replicates; "
    "<code>DiagonalMixture(joint=True)</code> fits joint components, which "
    "have all three.</p>"
)


def _e(text) -> str:
    return html.escape(str(text), quote=True)


class _NotDrawn(str):
    """In place of a figure's data URI: why it could not be drawn."""


def _render(make) -> str:
    """Draw a figure, return it as a data URI, and close it.

    Every figure opened while drawing is closed, also when ``make`` fails
    before returning its figure. A figure that fails (an edge case of the
    data in a plotting library, say) is a warning, and the report says so
    in its place (:class:`_NotDrawn`): the rest of the report, and the fit,
    are kept. Bad input (``StanmixInputError``) is raised.
    """
    opened_before = set(plt.get_fignums())
    fig = None
    try:
        fig = make()
        buf = io.BytesIO()
        fig.savefig(
            buf,
            format="png",
            dpi=96,
            bbox_inches="tight",
            facecolor="white",
            metadata={"Software": None},
        )
    except StanmixInputError:
        raise  # the caller's input (new data, say), not the drawing
    except Exception as err:  # any plotting failure: said below
        why = f"{type(err).__name__}: {check.one_line(str(err))}"
        warnings.warn(
            f"a figure of the report could not be drawn ({why}); the report "
            "says so in its place",
            RuntimeWarning,
            stacklevel=2,
        )
        return _NotDrawn(why)
    finally:
        if fig is not None:
            plt.close(fig)
        for number in set(plt.get_fignums()) - opened_before:
            plt.close(number)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _class(name: str) -> str:
    return f' class="{name}"' if name else ""


def _figure(src: str, caption: str) -> str:
    if isinstance(src, _NotDrawn):
        return (
            f'<p class="note">This figure could not be drawn ({_e(src)}): '
            f"{_e(caption)}</p>"
        )
    return (
        f'<figure><img src="{src}" alt="{_e(caption)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _number(v: float) -> str:
    """A table's number with three decimals, and at least three significant
    digits below 0.1 (data in small units: 0.00781, not 0.008).

    Examples
    --------
    >>> [_number(v) for v in (1234.5678, 0.5, 0.0123456, 0.00781234, 0.000123)]
    ['1234.568', '0.500', '0.0123', '0.00781', '1.23e-04']
    """
    if not np.isfinite(v):
        return ""
    if v != 0 and abs(v) < 1e-3:
        return f"{v:.2e}"
    decimals = 3 if v == 0 else max(3, 2 - int(np.floor(np.log10(abs(v)))))
    return f"{v:.{decimals}f}"


def _frame_html(df: pd.DataFrame, index: bool = True) -> str:
    shown = df.copy()
    for col in shown.columns:
        if not pd.api.types.is_float_dtype(shown[col]):
            continue
        if str(col).startswith("ess"):
            shown[col] = shown[col].map(lambda v: f"{v:.0f}" if np.isfinite(v) else "")
        else:
            shown[col] = shown[col].map(_number)
    return shown.to_html(index=index, border=0, escape=True)


def _data_line(cells) -> str:
    n, d = cells.shape
    cols = column_listing(list(map(str, cells.columns)))
    kinds = [
        (int(np.sum(cells.kind == code)), label)
        for code, label in (
            (LEFT, "left-censored"),
            (RIGHT, "right-censored"),
            (INTERVAL, "interval-censored"),
            (MISSING, "missing"),
        )
    ]
    extra = ", ".join(f"{count} {label}" for count, label in kinds if count)
    line = f"{n} observations of {d} column{'s' if d != 1 else ''} ({cols})"
    if cells.covariates is not None:  # a regression: the response, given these
        names = list(map(str, cells.covariate_names))
        line = (
            f"{n} observations of the response ({cols}) given "
            f"{len(names)} covariate{'s' if len(names) != 1 else ''} "
            f"({column_listing(names)})"
        )
    return line + (f"; cells: {extra}." if extra else "; every cell observed.")


def _method_text(model) -> str:
    attrs = model.idata_.posterior.attrs
    if model.method_ == "optimize":
        starts = getattr(model, "optimize_lps_", None)
        text = attrs.get("point_estimate", "posterior mode")
        if starts is not None:
            text += f", best of {len(starts)} L-BFGS starts"
        return f"optimize: {text}"
    if model.method_ == "variational":
        algorithm = attrs.get("algorithm", "")
        implementation = attrs.get("implementation", "")
        extra = ", ".join(x for x in (algorithm, implementation) if x)
        return f"variational: ADVI ({extra})" if extra else "variational: ADVI"
    return "sample: NUTS"


def _diagnostics_table(
    model, summary: pd.DataFrame, wording: Callable, selection=None
) -> str:
    post = model.idata_.posterior
    seed = str(getattr(model, "seed_", ""))
    if selection is not None:
        # a sweep's fit has its own seed, derived from the one the sweep took
        seed += (
            f" (this fit's own, derived from the sweep's seed {selection.seed_}; "
            "fitting this K alone with it gives this fit again)"
        )
    rows: list[tuple[str, str, str]] = [
        ("Model", getattr(model, "_fitted_repr", None) or repr(model), ""),
        ("Components", model.family_.description, ""),
        (
            "Engine",
            f"{model.engine_} {model.engine_version_}",
            "",
        ),
        ("Method", _method_text(model), ""),
        ("Seed", seed, ""),
    ]
    ordered_by = _ordered_by(model)
    if ordered_by is not None:
        rows.append(("Components ordered by", ordered_by, ""))
    n_chains, n_draws = post.sizes["chain"], post.sizes["draw"]
    if model.method_ == "sample":
        rows.append(("Chains x draws", f"{n_chains} x {n_draws}", ""))
        stats = getattr(model.idata_, "sample_stats", None)
        if stats is not None and "diverging" in stats:
            n_div = int(stats["diverging"].sum())
            share = n_div / (n_chains * n_draws)
            rows.append(
                (
                    "Divergent transitions",
                    f"{n_div} ({share:.1%})",
                    "warn" if n_div else "good",
                )
            )
        check = getattr(model, "convergence_", None)
        if check is not None and check.computable:
            # Unrounded, and naming the parameter (the summary rounds).
            rows += [
                (
                    "Largest R-hat",
                    f"{check.max_rhat:.3f} ({check.rhat_parameter})",
                    "good" if check.rhat_ok else "warn",
                ),
                (
                    "Smallest bulk ESS",
                    f"{check.min_ess_bulk:.0f} ({check.ess_parameter})",
                    "good" if check.ess_ok else "warn",
                ),
            ]
        elif check is None:
            if "r_hat" in summary:
                rhat = float(np.nanmax(summary["r_hat"].to_numpy(dtype=float)))
                cls = "warn" if rhat > RHAT_LIMIT else "good"
                rows.append(("Largest R-hat", f"{rhat:.3f}", cls))
            if "ess_bulk" in summary:
                ess = float(np.nanmin(summary["ess_bulk"].to_numpy(dtype=float)))
                cls = "warn" if ess < ESS_LIMIT else "good"
                rows.append(("Smallest bulk ESS", f"{ess:.0f}", cls))
        if check is not None and check.max_treedepth is not None:
            rows.append(
                (
                    "Transitions at the maximum tree depth",
                    f"{check.treedepth_hits} (depth {check.max_treedepth})",
                    "warn" if check.treedepth_hits else "good",
                )
            )
        if check is not None and check.bfmi:
            rows.append(
                (
                    "Lowest E-BFMI of a chain",
                    f"{min(check.bfmi):.2f}",
                    "good" if check.bfmi_ok else "warn",
                )
            )
        if check is not None:
            verdict = (
                f"reached: R-hat <= {check.rhat_limit:g} and bulk ESS >= "
                f"{check.ess_limit:g} for every parameter, at most "
                f"{check.divergence_limit:.1%} of the draws divergent"
                if check.converged
                else f"not {'reached' if check.computable else 'checked'}: "
                f"{check.figures()}"
            )
            rows.append(("Convergence", verdict, "good" if check.converged else "warn"))
    elif model.method_ == "variational":
        rows.append(("Approximate draws", str(n_chains * n_draws), ""))
        k = getattr(model, "pareto_k_", None)
        if k is not None and not np.isnan(k):
            close = k <= PARETO_K_MAX
            rows.append(
                (
                    "Pareto k-hat",
                    f"{k:.2f}: "
                    + (
                        "the approximation is close to the posterior"
                        if k <= 0.5
                        else f"usable for means (at most {PARETO_K_MAX})"
                        if close
                        else f"above {PARETO_K_MAX}: the approximation is far from "
                        "the posterior; its means may be off and its intervals too "
                        "narrow (use NUTS)"
                    ),
                    "" if close else "warn",
                )
            )
    else:
        rows.append(("Draws", "one point estimate (no uncertainty in the table)", ""))
    beyond = getattr(model, "censored_components_", None)
    if beyond:
        listed = "; ".join(
            f"component {j} in {column!r} ({share:.0%} of its rows)"
            for j, column, share in beyond
        )
        rows.append(
            (
                "Nearly all censored",
                f"{listed}: there the data say only that the values lie beyond "
                "the limit, so that mean and scale rest on the prior",
                "warn",
            )
        )
    body = "".join(
        f"<tr><th>{_e(key)}</th><td{_class(cls)}>{_e(value)}</td></tr>"
        for key, value, cls in rows
    )
    table = f'<table class="kv" id="diagnostics"><tbody>{body}</tbody></table>'
    notes = []
    if model.method_ == "sample" and any(cls == "warn" for *_, cls in rows):
        notes.append(
            '<p class="note">Highlighted values call for care: divergences '
            "mean parts of the posterior were not explored reliably; R-hat "
            f"above {RHAT_LIMIT:g} or a bulk ESS below {ESS_LIMIT:g} mean the "
            "intervals cannot be trusted yet; trajectories cut at the maximum "
            "tree depth cost efficiency; an E-BFMI below "
            f"{BFMI_LIMIT:g} means the energy was explored poorly.</p>"
        )
    check = getattr(model, "convergence_", None)
    if check is not None and not (check.converged and check.sampler_ok):
        notes.append(f'<p class="note">{_e(wording(check.advice()))}</p>')
    return table + "".join(notes)


def _ordered_by(model) -> str | None:
    """What the program declares ordered to identify the components, or
    ``None`` when nothing is (``ordered=False``, or one component).

    Examples
    --------
    >>> import stanmix as sm
    >>> data = sm.datasets.regressions(100, seed=1)
    >>> model = sm.RegressionMixture(2, order_by="x", engine="stanli").fit(
    ...     data.X, data.y, method="optimize", seed=1)
    >>> _ordered_by(model)
    'the slopes of x'
    """
    if model.fitted_components_ < 2 or not model._layout_spec()[0]:
        return None
    name, coord = model.family_.order_key(model.anchor_)
    if name == "beta":
        predictors = model.idata_.posterior["beta"].coords["predictor"].values
        return f"the slopes of {predictors[coord]}"
    if coord is None:
        return "the lines' values at the predictors' means (mu)"
    return f"the means of {model.cells_.columns[coord]} (anchor column)"


def _relabelling_section(model, relabel_png: str | None) -> list[str]:
    if model.method_ != "sample":
        return [
            '<p class="note">Not applicable: method '
            f"<code>{_e(model.method_)}</code> gives no chains of draws whose "
            "labels could switch.</p>"
        ]
    k = model.fitted_components_
    if k == 1:
        return [
            '<p class="note">One component: nothing can switch, and one '
            "component needs no relabelling; the tables show the draws as "
            "sampled.</p>"
        ]
    out = []
    if model.label_switching_ is not None:
        found = model.label_switching_.label_switching
        out.append(
            f"<p><strong>{'Label switching found' if found else 'No label switching'}"
            f" in the raw draws.</strong> {_e(model.label_switching_)}</p>"
        )
    if model.relabel_report_ is not None:
        out.append(f"<pre>{_e(model.relabel_report_)}</pre>")
    elif not model.family_.exchangeable(k):
        out.append(
            '<p class="note">The draws were not relabelled: a setting of the '
            "model (such as known scales that differ) tells the components "
            "apart, so permuting their labels would change the model; the "
            "tables show the draws as sampled.</p>"
        )
    else:
        out.append(
            '<p class="note">The draws were not relabelled '
            "(<code>relabel=None</code>); the tables show the raw labels.</p>"
        )
    if relabel_png is not None:
        out.append(
            _figure(
                relabel_png,
                "Component means and weights, raw draws (left) and relabelled "
                "draws (right); each colour is one component, each line style "
                "one chain.",
            )
        )
    return out


def _membership_section(model, png: str) -> list[str]:
    # By row position: the data's index may repeat a label.
    labels, mean, lower, upper = membership_arrays(model)
    p_max = mean.max(axis=1)
    # a row with every fitted cell missing (a regression's row without a
    # response) has the weights for its membership: nothing to be unsure of
    informed = (model.cells_.kind != MISSING).any(axis=1)
    n_uncertain = int((informed & (p_max < plots.UNCERTAIN_BELOW)).sum())
    order = least_certain(model, mean, N_UNCERTAIN_ROWS)  # the figure's rows
    table = pd.DataFrame(
        {
            "observation": list(labels[order]),
            "most probable": mean[order].argmax(axis=1),
            "probability": [f"{v:.3f}" for v in p_max[order]],
        }
    )
    point = model.method_ == "optimize"
    for j in range(mean.shape[1]):
        table[f"component {j}"] = [
            f"{mean[i, j]:.3f}"
            if point
            else f"{mean[i, j]:.3f} [{lower[i, j]:.3f}, {upper[i, j]:.3f}]"
            for i in order
        ]
    hdi = percent(model.hdi_prob)
    each, caption = (
        (
            "the probability of each component at the posterior mode (a point "
            "estimate, without an interval)",
            "Membership probabilities at the posterior mode.",
        )
        if point
        else (
            f"the mean probability of each component and its {hdi} HDI",
            f"Membership probabilities with {hdi} HDIs.",
        )
    )
    blank = len(mean) - int(informed.sum())
    left_out = (
        f" ({blank} with no value, whose membership is the weights, left out)"
        if blank
        else ""
    )
    return [
        f"<p>{n_uncertain} of {int(informed.sum())} observations{left_out} have a "
        f"largest membership probability below {plots.UNCERTAIN_BELOW:g}. The "
        f"{len(order)} least certain, with {each}:</p>",
        '<div class="scroll">',
        _frame_html(table, index=False),
        "</div>",
        _figure(png, caption),
    ]


#: Replicated data sets drawn in the report's predictive check plot.
PPC_PLOT_DRAWS = 50

#: The co-clustering matrix is drawn for at most this many observations.
CO_CLUSTERING_MAX_OBS = 2000


def _checks_section(model) -> list[str]:
    """Predictive checks (plug-in for a point estimate), separation of the
    components (where :func:`stanmix.checks.separation` applies: fits with
    posterior draws, and not a mixture of regressions, whose components are
    lines, not centres) and the co-clustering matrix (for joint components:
    the per-dimension model's rows have no single component to share)."""
    from stanmix import checks

    out = ["<h2>Does the model fit?</h2>"]
    # a CmdStan run's own seed (from_cmdstan_csv) may be any unsigned 32-bit
    # value, beyond the seeds stanmix takes; replicates need only a fixed one
    seed = int(model.seed_) % (MAX_SEED + 1)
    pvalues = checks.ppc_pvalues(
        model, draws=checks.affordable_draws(model, 200), seed=seed
    )
    flagged = pvalues.index[(pvalues["p"] < 0.01) | (pvalues["p"] > 0.99)]
    table = pvalues.copy()
    table["p"] = table["p"].map(lambda v: f"{v:.3f}")
    ppc_png = _render(
        lambda: plots.plot_ppc(
            model, draws=checks.affordable_draws(model, PPC_PLOT_DRAWS), seed=seed
        )
    )
    point = model.method_ == "optimize"
    if point:
        out.append(
            '<p class="note">This fit is a point estimate, so the replicates '
            "are drawn at the mode (a plug-in predictive): without the "
            "parameters' uncertainty they vary less than a posterior "
            "predictive's would, and the <em>p</em> values are further from "
            "0.5. Treat them as a rough check; a NUTS fit gives the posterior "
            "predictive.</p>"
        )
    source = "at the point estimate" if point else "from the posterior"
    out += [
        f"<p>Replicated data sets drawn {source}, recorded as the data "
        "were (censored at each cell's detection limit, missing where the "
        "data are missing; interval-censored cells reported as intervals). "
        "For each "
        "statistic, <em>p</em> is the share of replicates whose value is above "
        "the data's, ties counting half; values near 0 or 1 flag a "
        "misfit (NaN: the statistic is undefined). The nearest-neighbour "
        "distance between rows is small for clustered data: too few "
        "components spread the replicates out and give <em>p</em> near 1.</p>",
        '<div class="scroll">',
        _frame_html(table),
        "</div>",
    ]
    if len(flagged):
        out.append(
            f'<p class="note"><strong>Flagged:</strong> {_e(", ".join(flagged))}.</p>'
        )
    out.append(_figure(ppc_png, "The data (black) against replicated data sets."))
    if checks.loo_pit_refusal(model) is None:
        pit_png = _render(lambda: plots.plot_loo_pit(model, seed=seed).figure)
        out.append(
            _figure(
                pit_png,
                "Leave-one-out PIT: the empirical CDF of each observation's "
                "predictive probability of a value below it, given the other "
                "observations, minus the uniform CDF; a correct model keeps "
                "the curve inside the band (95%, simultaneous). Censored "
                "values are spread over the probability beyond their limit.",
            )
        )
    if not point and checks._separation_refusal(model) is None:
        out += _separation_section(model)
    if model.family_.joint and model.cells_.n_obs <= CO_CLUSTERING_MAX_OBS:
        png = _render(lambda: plots.plot_co_clustering(model).figure)
        out.append(
            _figure(
                png,
                "Co-clustering: the probability that two observations share a "
                "component, rows sorted by their most probable component.",
            )
        )
    return out


def _separation_section(model) -> list[str]:
    """The HDI gaps between every pair of components' means, or, with one
    component, a sentence saying there is no pair."""
    from stanmix import checks

    head = "<h3>Separation of the components</h3>"
    if model.fitted_components_ == 1:
        return [
            head,
            '<p class="note">One component: there is no pair of components '
            "to tell apart.</p>",
        ]
    sep = checks.separation(model)
    # an emptied component (a sparse mixture's surplus one: under one row on
    # average) has a mean on its prior, whose wide HDI overlaps every other:
    # "not separated" would read as a cluster split in two
    n_rows = model.cells_.counted_rows().size
    empty = [int(k) for k in np.flatnonzero(emptied_components(model))]
    lonely = [
        f"{a} and {b}"
        for (a, b), ok in sep["separated"].items()
        if not ok and a not in empty and b not in empty
    ]
    emptied = ""
    if empty:
        one = len(empty) == 1
        its, it, mean = (
            ("its", "it", "mean rests") if one else ("their", "them", "means rest")
        )
        emptied = (
            f" Component{'' if one else 's'} {', '.join(map(str, empty))} "
            f"{'holds' if one else 'hold'} under one row on average (posterior "
            f"mean weight times the {n_rows} rows): emptied, {its} {mean} "
            f"on {its} prior, and the pairs with {it} are left out of this "
            "sentence (not of the table)."
        )
    return [
        head,
        "<p>For each pair of components, the gap between the "
        f"{percent(model.hdi_prob)} HDIs of their means in each column "
        "(negative: they overlap). "
        + (
            f"Not separated in any column: components {_e('; '.join(lonely))}."
            if lonely
            else "No two components are filled, so there is no pair to tell apart."
            if len(empty) >= model.fitted_components_ - 1
            else "Every pair of filled components is separated in at least one column."
            if empty
            else "Every pair is separated in at least one column."
        )
        + _e(emptied)
        + "</p>",
        '<div class="scroll">',
        _frame_html(sep),
        "</div>",
    ]


def _selection_section(selection, wording: Callable, shown: int) -> list[str]:
    """The selection's rule, table (with each K's note or error below it) and
    plot; ``shown`` is the K of the model the rest of the report is about,
    said when it is not the K chosen."""
    png = _render(selection.plot)
    cols = [
        "elpd",
        "se",
        "estimate",
        "elpd_diff",
        "se_diff",
        "n_high_pareto_k",
        "bic",
        "icl",
        "max_rhat",
        "min_ess_bulk",
        "divergences",
        "converged",
        "collapsed",
        "fit_seconds",
    ]
    table = selection.table_[[c for c in cols if c in selection.table_]]
    table = table.dropna(axis=1, how="all")  # posterior modes: no elpd
    if "max_rhat" in table:  # 1.0104 is above the bar, 1.010 would not say so
        table = table.assign(
            max_rhat=table["max_rhat"].map(
                lambda v: f"{v:.4f}" if np.isfinite(v) else ""
            )
        )
    # why a K keeps an unreliable estimate, or failed: too long for a cell
    said = [
        f"<li>K = {k}: {_e(wording(str(text)))}</li>"
        for column in ("error", "note")
        if column in selection.table_
        for k, text in selection.table_[column].items()
        if isinstance(text, str) and text
    ]
    return [
        "<h2>How many components</h2>",
        f"<p>{_e(wording(selection.rule_))}</p>",
        *(
            []
            if shown == selection.best_
            else [
                f"<p><strong>The rest of this report is of the fit with K = "
                f"{shown}, not the K the rule chose.</strong></p>"
            ]
        ),
        '<div class="scroll">',
        _frame_html(table),
        "</div>",
        *(["<ul>", *said, "</ul>"] if said else []),
        _figure(png, _selection_caption(selection)),
    ]


def _estimates_text(estimates: set[str]) -> str:
    """The estimates of the elpd the selection plot draws, as its caption
    names them: PSIS-LOO, K-fold cross-validation where LOO was unreliable,
    and PSIS-LOO kept although unreliable (no K-fold was run, or it failed).

    Examples
    --------
    >>> _estimates_text({"loo", "kfold"})
    'PSIS-LOO, or K-fold cross-validation where LOO was unreliable'
    >>> _estimates_text({"loo", "loo (unreliable)"})
    'PSIS-LOO, marked unreliable where its Pareto k were high'
    """
    if estimates == {"kfold"}:
        return "K-fold cross-validation"
    unreliable = "loo (unreliable)" in estimates
    if "kfold" not in estimates:
        return (
            "PSIS-LOO, marked unreliable where its Pareto k were high"
            if unreliable
            else "PSIS-LOO"
        )
    text = "PSIS-LOO, or K-fold cross-validation where LOO was unreliable"
    if unreliable:
        text += "; PSIS-LOO marked unreliable where K-fold could not be made"
    return text


def _selection_caption(selection: ComponentSelection) -> str:
    """The caption of ``selection.plot()``: what its panels show for
    this sweep (predictive densities only from NUTS fits; BIC and ICL only
    where the fits have a posterior mode).

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame(
    ...     {"estimate": ["bic", "bic"], "elpd": [float("nan")] * 2,
    ...      "converged": [True, True], "bic": [310.0, 290.0],
    ...      "icl": [310.0, 301.0]}, index=[1, 2])
    >>> selection = ComponentSelection(table, 2, "", {})
    >>> print(_selection_caption(selection))  # doctest: +NORMALIZE_WHITESPACE
    BIC and ICL per K at the posterior mode (smaller is better); no expected
    log predictive density: method='optimize' gives point estimates only.
    The dashed line marks the chosen K = 2.
    """
    table = selection.table_

    def column(name: str) -> pd.Series:
        return table[name] if name in table else pd.Series(np.nan, table.index)

    elpd = column("elpd")
    criteria = [name.upper() for name in ("bic", "icl") if column(name).notna().any()]
    marked = f"The dashed line marks the chosen K = {selection.best_}."
    if not elpd.notna().any():
        why = (
            "method='optimize' gives point estimates only"
            if (column("estimate") == "bic").any()
            else "no fit gave one"
        )
        shown = (
            f"{' and '.join(criteria)} per K at the posterior mode (smaller is better)"
            if criteria
            else "No BIC or ICL (no fit has a posterior mode)"
        )
        return f"{shown}; no expected log predictive density: {why}. {marked}"
    how = _estimates_text(set(column("estimate")[elpd.notna()]))
    left = f"Left: expected log predictive density per K ({how}) with one-SE bars"
    if not column("converged").fillna(True).astype(bool).all():
        left += "; red circles mark fits that did not converge"
    left += "."
    if criteria:
        right = (
            f"Right: {' and '.join(criteria)} at the posterior mode (smaller is "
            "better)."
        )
    else:
        right = "Right: no BIC or ICL (no fit has a posterior mode)."
    return f"{left} {right} {marked}"
