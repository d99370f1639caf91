"""What the plots share: component colours, axes and legends, point
colours from membership, and the warning for unrelabelled switched draws."""

from __future__ import annotations

import contextlib
import textwrap
import warnings
from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from stanmix import likelihood
from stanmix.cells import INTERVAL, LEFT, RIGHT, CellTable
from stanmix.estimator import check_model
from stanmix.exceptions import StanmixInputError

#: Points whose largest membership probability is below this are outlined.
UNCERTAIN_BELOW = 0.9


NEGLIGIBLE = 0.01


#: Characters a line of a cluster plot's title may hold.
TITLE_WIDTH = 48


def component_colors(n_components: int) -> list[tuple[float, float, float, float]]:
    """One RGBA colour per component, the same in every stanmix plot.

    Matplotlib's ``tab10`` palette (its default colour cycle) for up to ten
    components; up to twenty, those ten and then their light shades
    (``tab20``), so that neighbouring components never share a hue; evenly
    spaced ``turbo`` colours beyond.

    Examples
    --------
    >>> component_colors(2)[0] == component_colors(5)[0] == component_colors(12)[0]
    True
    >>> len(component_colors(12))
    12
    """
    k = int(n_components)
    if k <= 10:
        cmap = plt.get_cmap("tab10")
        return [tuple(cmap(i)) for i in range(k)]
    if k <= 20:
        cmap = plt.get_cmap("tab20")  # dark shades at even positions
        return [tuple(cmap(i)) for i in [*range(0, 20, 2), *range(1, 20, 2)][:k]]
    cmap = plt.get_cmap("turbo")
    return [tuple(cmap(x)) for x in np.linspace(0.05, 0.95, k)]


def percent(prob: float) -> str:
    """A probability as the percentage a label shows, without rounding it
    to a whole number (a 97.5% interval is not a 98% one).

    Examples
    --------
    >>> [percent(p) for p in (0.94, 0.975, 0.9995, 0.5)]
    ['94%', '97.5%', '99.95%', '50%']
    """
    return f"{round(100 * float(prob), 6):g}%"


def check_fitted_model(model, what: str) -> None:
    check_model(model, what)
    model.param_draws()  # raises NotFittedError before fit


def new_axes(
    ax: Axes | None,
    default: tuple[float, float],
    figsize: tuple[float, float] | None = None,
) -> Axes:
    if ax is not None:
        if not isinstance(ax, Axes):
            raise TypeError(f"ax must be a matplotlib Axes, got {type(ax).__name__}")
        return ax
    _, ax = plt.subplots(figsize=figsize or default, layout="constrained")
    return ax


LEGENDS = ("auto", "outside", "inside", "none")


def check_legend(legend) -> str:
    if legend not in LEGENDS:
        raise StanmixInputError(
            f"legend must be one of {', '.join(map(repr, LEGENDS))}, got {legend!r}"
        )
    return legend


def place_legend(ax: Axes, legend: str, made: bool) -> Axes:
    """Move the legend a plot drew beside its axes: kept there on the plot's
    own figure (``"auto"``) or on request (``"outside"``); inside the axes,
    where it covers least, on the caller's axes (``"auto"``: a legend
    beside them would overlap the next panel of a grid) or on request
    (``"inside"``); removed for ``"none"``."""
    drawn = ax.get_legend()
    if drawn is None or legend == "outside" or (legend == "auto" and made):
        return ax
    handles = list(drawn.legend_handles)
    labels = [text.get_text() for text in drawn.get_texts()]
    drawn.remove()
    if legend != "none":
        ax.legend(handles, labels, loc="best", fontsize=8, framealpha=0.85)
    return ax


@contextlib.contextmanager
def closed_on_error(fig: Figure | None) -> Iterator[None]:
    """Close ``fig`` if drawing on it fails, so that a plot that raises
    leaves no open figure behind.

    Parameters
    ----------
    fig : matplotlib Figure or None
        The figure the plot made; ``None`` when it draws on the caller's
        axes, whose figure stays open.
    """
    try:
        yield
    except BaseException:
        if fig is not None:
            plt.close(fig)
        raise


def switched_labels_note(model) -> str | None:
    """What a plot of posterior means hides when the draws switch labels (or
    chains sit in different modes) and were not relabelled; None otherwise.

    Each component's posterior mean then averages over several clusters,
    and the memberships mix them: the plots of components and memberships
    warn with this, and the report shows it beside them.
    """
    switching = getattr(model, "label_switching_", None)
    if (
        switching is None
        or not switching.label_switching
        or getattr(model, "relabel_report_", None) is not None
    ):
        return None
    return (
        "the draws switch labels between chains or within them (label_switching_) "
        "and were not relabelled, so each component drawn here averages over "
        "several clusters and the membership probabilities mix them; "
        + (
            "fit with relabel='auto' (the default) or ordered means"
            if model.family_.exchangeable(model.fitted_components_)
            else "start the chains from one mode (init='map') or fit ordered means"
        )
    )


def warn_switched(model, what: str) -> None:
    note = switched_labels_note(model)
    if note is not None:
        warnings.warn(f"{what}: {note}", RuntimeWarning, stacklevel=3)


def membership_mean(model, cells: CellTable) -> np.ndarray:
    model._check_membership()
    return likelihood.membership_mean(model.family_, cells, model.param_draws())


def emptied_components(model) -> np.ndarray:
    """Which components hold less than one of the fitted rows on average
    (posterior mean weight times the rows that enter the likelihood), (K,)
    booleans: a sparse mixture's emptied ones, whose parameters rest on
    their prior, so that their ellipses or intervals span it."""
    rows = model.cells_.counted_rows().size
    return np.asarray(model.weights_, dtype=float) * rows < 1.0


def point_alpha(p_max: np.ndarray, k: int) -> np.ndarray:
    """Opacity from the largest membership probability: 1/K -> 0.25, 1 -> 1."""
    if k == 1:
        return np.ones_like(p_max)
    certainty = np.clip((p_max - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)
    return 0.25 + 0.75 * certainty


def face_colors(labels, p_max, k) -> np.ndarray:
    colors = np.array(component_colors(k))[labels]
    colors[:, 3] = point_alpha(p_max, k)
    return colors


def edge_colors(face: np.ndarray, p_max: np.ndarray) -> np.ndarray:
    edge = face.copy()
    edge[:, 3] = np.maximum(edge[:, 3], 0.6)
    edge[p_max < UNCERTAIN_BELOW] = to_rgba("black")
    return edge


def cell_positions(cells: CellTable, d: int) -> np.ndarray:
    """Where each cell of column d is drawn: its value, limit or midpoint."""
    kind = cells.kind[:, d]
    pos = cells.values[:, d].copy()
    pos[kind == LEFT] = cells.upper[kind == LEFT, d]
    pos[kind == RIGHT] = cells.lower[kind == RIGHT, d]
    mid = 0.5 * (cells.lower[:, d] + cells.upper[:, d])
    pos[kind == INTERVAL] = mid[kind == INTERVAL]
    return pos


def draw_indices(n_total: int, n_max: int) -> np.ndarray:
    if n_total <= n_max:
        return np.arange(n_total)
    return np.unique(np.linspace(0, n_total - 1, n_max).round().astype(int))


def literal(text: str) -> str:
    """``text`` as matplotlib shows it literally: it reads text between two
    ``$`` as mathematics, which data's names ("dose $ (mg)") are not."""
    return str(text).replace("$", r"\$")


def wrapped(text: str, ax: Axes, fontsize: float = 10.0, *, side: str = "x") -> str:
    """``text`` (a data's name) as :func:`literal` shows it, in lines no
    longer than the axes are wide (tall for ``side="y"``), so that long
    column names neither run into the next panel nor stretch the figure.

    Examples
    --------
    >>> fig, ax = plt.subplots(figsize=(3, 3))
    >>> print(wrapped("dissolved_organic_carbon_in_filtered_sample_mg_per_L", ax))
    dissolved_organic_carbon_in
    _filtered_sample_mg_per_L
    >>> print(wrapped("Pb $ (ppb)", ax))
    Pb \\$ (ppb)
    >>> plt.close(fig)
    """
    box = ax.get_position()
    inches = box.width * ax.figure.get_figwidth()
    if side == "y":
        inches = box.height * ax.figure.get_figheight()
    # an average character is about 0.6 em wide
    chars = max(12, int(inches * 72 / (0.6 * fontsize)))
    lines = textwrap.wrap(str(text), chars, break_on_hyphens=False) or [""]
    return literal("\n".join(lines))


def title_for(model, cells: CellTable) -> str:
    method = {
        "sample": "posterior mean (NUTS)",
        "optimize": "posterior mode",
        "variational": "variational mean",
    }.get(model.method_, model.method_)
    family = model.family_
    name = family.label or family.family.replace("_", " ")
    if family.needs_covariates:
        kind = f"{name} errors"
    elif cells.n_dims == 1:
        kind = name
    else:
        kind = f"{name}, {family.covariance} covariance"
    parts = [
        f"{type(model).__name__} ({kind})",
        f"K = {model.fitted_components_}, {cells.n_obs} observations",
        f"components at the {method}",
    ]
    # short lines, so that the title fits over an axes narrowed by its legend
    lines = [parts[0]]
    for part in parts[1:]:
        if len(lines[-1]) + 2 + len(part) <= TITLE_WIDTH:
            lines[-1] += f", {part}"
        else:
            lines.append(part)
    return "\n".join(lines)
