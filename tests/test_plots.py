"""Plots: the right objects, with artists that show what the model says."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import colorsys
import copy
import itertools
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse, StepPatch
from scipy.integrate import trapezoid

import stanmix as sm
from stanmix import plots
from stanmix.inference_data import az
from stanmix.plots import (
    UNCERTAIN_BELOW,
    component_colors,
    plot_clusters,
    plot_co_clustering,
    plot_membership,
    plot_ppc,
    plot_regression,
    plot_relabelling,
)
from stanmix.plots._common import switched_labels_note

pytest.importorskip("stanli")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _fit(model, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return model.fit(X, seed=1, **kwargs)


@pytest.fixture(scope="module")
def overlapping():
    """Five blobs wide enough to overlap: some points are uncertain."""
    data = sm.datasets.blobs(150, seed=2, scale=1.6)
    model = _fit(sm.DiagonalMixture(5, engine="stanli"), data.X, method="optimize")
    return data.X, model


@pytest.fixture(scope="module")
def censored():
    """Left-censored x and y, a few missing cells."""
    data = sm.datasets.blobs(150, seed=4)
    X, limits = sm.datasets.left_censor(data.X, 0.1)
    X.loc[[2, 5, 8], "y"] = np.nan
    X.loc[[11], "x"] = np.nan
    model = _fit(
        sm.DiagonalMixture(5, engine="stanli"),
        X,
        method="optimize",
        lower_limit=limits,
    )
    return X, limits, model


@pytest.fixture(scope="module")
def sampled():
    """Three 2-D clusters, NUTS 2 chains x 100 draws, relabelled."""
    data = sm.datasets.mixture_sample(
        [0.4, 0.3, 0.3],
        [[0.0, 0.0], [4.0, 1.0], [1.0, 5.0]],
        1.0,
        90,
        seed=3,
        columns=["a", "b"],
    )
    model = _fit(
        sm.DiagonalMixture(3, engine="stanli"),
        data.X,
        method="sample",
        chains=2,
        warmup=100,
        draws=100,
    )
    return data.X, model


@pytest.fixture(scope="module")
def switching():
    """An unordered univariate fit from random inits: its raw labels switch."""
    data = sm.datasets.two_components(100, seed=1)
    model = _fit(
        sm.NormalMixture(2, ordered=False, engine="stanli"),
        data.X,
        method="sample",
        chains=2,
        warmup=100,
        draws=100,
        init="random",
    )
    assert model.relabel_report_.fraction_permuted.min() > 0.1
    return data.X, model


def _collection(ax, gid):
    found = [c for c in ax.collections if c.get_gid() == gid]
    assert len(found) == 1, [c.get_gid() for c in ax.collections]
    return found[0]


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# --------------------------------------------------------------------------
# plot_clusters
# --------------------------------------------------------------------------


def test_component_colors_are_distinct_and_stable():
    for k in (1, 5, 10, 15, 25):
        colors = component_colors(k)
        assert len(colors) == k
        assert len({tuple(np.round(c, 6)) for c in colors}) == k
    assert component_colors(3) == component_colors(8)[:3]
    # past ten: the same ten first, then their light shades, so that
    # neighbouring components differ in hue
    assert component_colors(12)[:10] == component_colors(10)
    hues = [colorsys.rgb_to_hsv(*c[:3])[0] for c in component_colors(20)]
    for half in (hues[:10], hues[10:]):
        assert all(abs(a - b) > 0.02 for a, b in itertools.pairwise(half))


def test_component_numbers_are_black_on_white_and_membership_height_is_capped():
    """Numbers stay legible on light component colours; a membership plot
    of many rows keeps a figure that fits a screen and shrinks its labels."""
    X = sm.datasets.blobs(400, seed=6).X
    model = _fit(sm.DiagonalMixture(12, engine="stanli"), X, method="optimize")
    ax = plot_clusters(model)
    numbers = [t for t in ax.texts if t.get_text().isdigit()]
    assert len(numbers) == 12
    assert all(matplotlib.colors.to_hex(t.get_color()) == "#000000" for t in numbers)
    plt.close(ax.figure)
    ax = plot_membership(model, max_obs=300)
    assert ax.figure.get_size_inches()[1] <= 17.0
    assert len(ax.get_yticklabels()) == 300
    assert ax.get_yticklabels()[0].get_fontsize() == 3.0  # the smallest size


def test_clusters_ellipses_at_component_means_and_scales(overlapping):
    _, model = overlapping
    ax = plot_clusters(model)
    assert isinstance(ax, Axes)
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    k = model.n_components
    assert len(ellipses) == 2 * k
    colors = component_colors(k)
    for j in range(k):
        mine = [e for e in ellipses if np.allclose(e.get_edgecolor(), colors[j])]
        assert len(mine) == 2
        for e in mine:
            np.testing.assert_allclose(e.center, model.means_[j])
        widths = sorted(e.width for e in mine)
        heights = sorted(e.height for e in mine)
        np.testing.assert_allclose(
            widths, [2 * model.scales_[j, 0], 4 * model.scales_[j, 0]]
        )
        np.testing.assert_allclose(
            heights, [2 * model.scales_[j, 1], 4 * model.scales_[j, 1]]
        )
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "y"
    one = plot_clusters(model, ellipses=(1.5,))
    assert len([p for p in one.patches if isinstance(p, Ellipse)]) == k
    assert [p for p in plot_clusters(model, ellipses=()).patches] == []


def test_clusters_leave_out_the_ellipses_of_emptied_components():
    """A sparse mixture's surplus components follow their prior: their
    posterior mean ellipses were drawn, wide, over the clusters and
    stretched the axes far beyond the data."""
    from stanmix.selection import SPARSE_CONCENTRATION

    data = sm.datasets.mixture_sample(
        [0.3, 0.3, 0.4], [[-4.0, 0.0], [4.0, 0.0], [0.0, 5.0]], 1.0, 90, seed=3
    )
    model = _fit(
        sm.Mixture(4, prior_concentration=SPARSE_CONCENTRATION, ordered=False),
        data.X,
        method="sample",
        chains=2,
        warmup=150,
        draws=100,
    )
    empty = np.flatnonzero(model.weights_ * len(data.X) < 1)
    assert empty.size  # the case this test is about occurs here
    ax = plot_clusters(model)
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 2 * (model.n_components - empty.size)
    colors = component_colors(model.n_components)
    for j in empty:
        assert not [e for e in ellipses if np.allclose(e.get_edgecolor(), colors[j])]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert all("not drawn" in labels[j] for j in empty)
    # the axes span the data, not the emptied components' prior
    low, high = data.X.min().to_numpy(), data.X.max().to_numpy()
    for (lo, hi), a, b in zip((ax.get_xlim(), ax.get_ylim()), low, high, strict=True):
        assert lo > a - 0.5 * (b - a) and hi < b + 0.5 * (b - a)
    plt.close(ax.figure)


def test_clusters_draw_a_rare_component_that_holds_rows():
    """A real cluster of 3 rows in 700 has a weight under 1%, and its
    ellipses are drawn: only a component holding less than one row is left
    out."""
    rng = np.random.default_rng(4)
    X = np.r_[rng.normal(0.0, 1.0, (697, 2)), rng.normal(12.0, 0.3, (3, 2))]
    model = _fit(sm.Mixture(2, engine="stanli"), X, method="optimize")
    rare = int(np.argmin(model.weights_))
    assert model.weights_[rare] < 0.01 and model.weights_[rare] * len(X) > 1
    ax = plot_clusters(model)
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    assert len(ellipses) == 4
    colors = component_colors(2)
    assert [e for e in ellipses if np.allclose(e.get_edgecolor(), colors[rare])]
    plt.close(ax.figure)


def test_full_covariance_ellipses_are_rotated_to_the_covariance():
    """The 1-SD ellipse of a full covariance has the covariance's eigenvalues
    as its squared half-axes and its major eigenvector's angle."""
    X = sm.datasets.correlated(300, seed=2).X
    model = sm.Mixture(3, covariance="full").fit(X, method="optimize", seed=1)
    ax = plot_clusters(model, ellipses=(1.0,))
    ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
    colors = component_colors(3)
    for j in range(3):
        (e,) = [e for e in ellipses if np.allclose(e.get_edgecolor(), colors[j])]
        values, vectors = np.linalg.eigh(model.covariances_[j])
        np.testing.assert_allclose(
            [(e.width / 2) ** 2, (e.height / 2) ** 2], values[::-1], rtol=1e-10
        )
        angle = np.radians(e.angle)
        major = np.array([np.cos(angle), np.sin(angle)])
        assert abs(major @ vectors[:, 1]) == pytest.approx(1.0, abs=1e-10)
        # Tilted as the cluster is: the sign of the correlation.
        assert np.sign(np.tan(angle)) == np.sign(model.correlations_[j, 0, 1])


def test_clusters_points_coloured_by_predicted_label_with_uncertainty(overlapping):
    X, model = overlapping
    ax = plot_clusters(model)
    points = _collection(ax, "points:observed")
    np.testing.assert_allclose(points.get_offsets(), X.to_numpy())
    proba = model.predict_proba(X)
    labels = proba.argmax(axis=1)
    p_max = proba.max(axis=1)
    face = points.get_facecolors()
    palette = np.array(component_colors(model.n_components))
    np.testing.assert_allclose(face[:, :3], palette[labels, :3])
    # Opacity follows the largest membership probability.
    assert face[np.argmin(p_max), 3] < face[np.argmax(p_max), 3]
    assert np.all(np.diff(face[np.argsort(p_max), 3]) >= -1e-12)
    # Uncertain points, and only those, are outlined in black.
    uncertain = p_max < UNCERTAIN_BELOW
    assert 0 < uncertain.sum() < len(X)
    edge = points.get_edgecolors()
    black = np.all(np.isclose(edge[:, :3], 0.0), axis=1)
    np.testing.assert_array_equal(black, uncertain)
    assert any(str(UNCERTAIN_BELOW) in t for t in _legend_texts(ax))


def test_many_points_are_shuffled_thin_and_rasterized(overlapping):
    """Past MANY_POINTS, points are drawn in a shuffled order (data sorted by
    group would hide the first groups under the last), with thin outlines,
    and as an image inside vector files; fewer stay vector markers."""
    from stanmix.plots.clusters import MANY_POINTS

    _, model = overlapping
    small = _collection(plot_clusters(model), "points:observed")
    assert not small.get_rasterized()
    assert small.get_linewidths()[0] == pytest.approx(0.7)
    big = sm.datasets.blobs(5500, seed=5, scale=1.6).X.sort_values("x")
    assert len(big) > MANY_POINTS
    points = _collection(plot_clusters(model, big), "points:observed")
    assert points.get_rasterized()
    assert points.get_linewidths()[0] == pytest.approx(0.3)
    drawn = np.asarray(points.get_offsets())
    given = big[["x", "y"]].to_numpy()
    assert not np.array_equal(drawn, given)  # not in the rows' order
    order = np.lexsort(drawn.T[::-1])
    np.testing.assert_array_equal(drawn[order], given[np.lexsort(given.T[::-1])])


def test_clusters_dims_by_name_and_new_data(overlapping):
    X, model = overlapping
    ax = plot_clusters(model, dims=("y", "x"))
    np.testing.assert_allclose(
        _collection(ax, "points:observed").get_offsets(), X[["y", "x"]].to_numpy()
    )
    assert ax.get_xlabel() == "y"
    ellipse = next(p for p in ax.patches if isinstance(p, Ellipse))
    assert any(np.allclose(ellipse.center, m[::-1]) for m in model.means_)

    new = pd.DataFrame({"x": [6.0, -5.0, 0.5], "y": [0.0, 3.5, -1.0]})
    ax = plot_clusters(model, new)
    points = _collection(ax, "points:observed")
    np.testing.assert_allclose(points.get_offsets(), new.to_numpy())
    palette = np.array(component_colors(model.n_components))
    np.testing.assert_allclose(
        points.get_facecolors()[:, :3], palette[model.predict(new), :3]
    )


def test_clusters_new_array_takes_the_model_columns(overlapping):
    X, model = overlapping
    new = X.iloc[:25]
    ax = plot_clusters(model, new.to_numpy())
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("x", "y")
    ax = plot_clusters(model, new.to_numpy(), dims=("y", "x"))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("y", "x")
    points = _collection(ax, "points:observed")
    np.testing.assert_allclose(points.get_offsets(), new[["y", "x"]].to_numpy())
    palette = np.array(component_colors(model.n_components))
    np.testing.assert_allclose(
        points.get_facecolors()[:, :3], palette[model.predict(new), :3]
    )
    # The wrong number of columns is still refused.
    with pytest.raises(sm.StanmixInputError, match="X has 3 features, but Diag"):
        plot_clusters(model, np.zeros((4, 3)))


def test_clusters_new_data_with_their_censoring(censored):
    X, limits, model = censored
    new = X.iloc[:40]
    at_limit = new["x"].to_numpy() <= limits["x"]
    assert at_limit.any()
    for data in (new, new.to_numpy()):
        ax = plot_clusters(model, data, lower_limit=limits)
        drawn = np.vstack(
            [
                c.get_offsets()
                for c in ax.collections
                if c.get_gid() == "points:censored"
            ]
        )
        assert np.sum(drawn[:, 0] == limits["x"]) == np.sum(
            at_limit & new["y"].notna().to_numpy()
        )
    # Without the censoring the same rows are exact values.
    ax = plot_clusters(model, new)
    assert not [c for c in ax.collections if c.get_gid() == "points:censored"]
    with pytest.raises(sm.StanmixInputError, match="censoring of new data X"):
        plot_clusters(model, lower_limit=limits)


def test_clusters_censored_and_missing_cells(censored):
    _, limits, model = censored
    ax = plot_clusters(model)
    kind = model.cells_.kind
    both_observed = np.all(kind == 0, axis=1)
    observed = _collection(ax, "points:observed")
    assert len(observed.get_offsets()) == both_observed.sum()

    # Censored cells sit at their limit, with their own markers and legend.
    censored_sets = [c for c in ax.collections if c.get_gid() == "points:censored"]
    assert censored_sets
    drawn = np.vstack([c.get_offsets() for c in censored_sets])
    any_censored = np.any(np.isin(kind, (1, 2, 3)), axis=1) & np.all(kind != 4, axis=1)
    assert len(drawn) == any_censored.sum()
    left_x = (kind[:, 0] == 1) & (kind[:, 1] != 4)
    assert np.sum(np.isclose(drawn[:, 0], limits["x"])) >= left_x.sum()
    # The legend counts each kind: cells at one limit coincide on the plot.
    texts = _legend_texts(ax)
    only_x = int(np.sum((kind[:, 0] == 1) & (kind[:, 1] == 0)))
    only_y = int(np.sum((kind[:, 1] == 1) & (kind[:, 0] == 0)))
    assert only_x > 1 and only_y > 1
    assert f"censored: x ≤ limit ({only_x} rows)" in texts
    assert f"censored: y ≤ limit ({only_y} rows)" in texts
    # Rows missing one plotted cell are ticks on the edge of the other axis.
    missing = [c for c in ax.collections if c.get_gid() == "points:missing"]
    assert sorted(len(c.get_offsets()) for c in missing) == [1, 3]
    y_missing = int(np.sum((kind[:, 1] == 4) & (kind[:, 0] != 4)))
    ticks = [t for t in texts if t.startswith("y missing: ")]
    assert ticks[0].startswith(f"y missing: {y_missing},\nticks on the bottom edge")
    assert any(t.startswith("x missing: ") for t in texts)
    # A tick whose row is censored in the shown column is counted as such.
    censored_ticks = int(np.sum((kind[:, 1] == 4) & np.isin(kind[:, 0], (1, 2, 3))))
    if censored_ticks:
        assert ticks[0].endswith(f"\n({censored_ticks} of them censored in x)")
    else:
        assert ticks[0].endswith("bottom edge")
    new = pd.DataFrame({"x": [limits["x"], 1.0], "y": [np.nan, np.nan]})
    texts = _legend_texts(plot_clusters(model, new, lower_limit={"x": limits["x"]}))
    assert "y missing: 2,\nticks on the bottom edge\n(1 of them censored in x)" in texts


def test_clusters_censored_in_both_columns_are_counted_and_drawn_on_top():
    """Rows below both limits pile up at one corner: the legend counts them
    and they are drawn over the other points."""
    X, limits = sm.datasets.left_censor(sm.datasets.blobs(150, seed=4).X, 0.3)
    in_both = int(np.sum((X["x"] <= limits["x"]) & (X["y"] <= limits["y"])))
    assert in_both == 7
    model = _fit(
        sm.DiagonalMixture(5, engine="stanli"), X, method="optimize", lower_limit=limits
    )
    ax = plot_clusters(model)
    assert f"censored in both columns ({in_both} rows)" in _legend_texts(ax)
    censored_sets = [c for c in ax.collections if c.get_gid() == "points:censored"]
    corner = next(c for c in censored_sets if len(c.get_offsets()) == in_both)
    np.testing.assert_allclose(corner.get_offsets(), [[limits["x"], limits["y"]]] * 7)
    points = [
        c
        for c in ax.collections
        if c.get_gid() in ("points:observed", "points:censored")
    ]
    assert corner.get_zorder() > max(c.get_zorder() for c in points if c is not corner)
    plt.close(ax.figure)


def test_a_row_interval_censored_in_one_column_and_censored_in_the_other():
    """Such a row is censored in both columns: counted and marked so, not
    as an interval alone (which left it out of the other column's count),
    so the legend's counts add up to the rows with a censored cell."""
    rng = np.random.default_rng(3)
    z = rng.random(150) < 0.5
    X = pd.DataFrame(
        np.where(z[:, None], [-2.0, 0.0], [2.0, 3.0]) + rng.normal(size=(150, 2)),
        columns=["u", "v"],
    )
    X.loc[X["v"] > 4, "v"] = 4.0
    lo, hi = np.full((150, 2), np.nan), np.full((150, 2), np.nan)
    rows = rng.choice(150, 30, replace=False)
    lo[rows, 0] = np.floor(X["u"].to_numpy()[rows])
    hi[rows, 0] = lo[rows, 0] + 1
    X.loc[rows, "u"] = np.nan
    model = _fit(
        sm.Mixture(2, engine="stanli"),
        X,
        method="optimize",
        upper_limit={"v": 4.0},
        interval=(lo, hi),
    )
    kind = model.cells_.kind  # 2 right-censored, 3 interval
    right, interval = kind[:, 1] == 2, kind[:, 0] == 3
    assert (right & interval).sum() == 3
    texts = _legend_texts(plot_clusters(model))
    assert f"censored: v ≥ limit ({(right & ~interval).sum()} rows)" in texts
    assert "censored in both columns (3 rows)" in texts
    assert (
        f"interval-censored (drawn at midpoint) ({(interval & ~right).sum()} rows)"
        in texts
    )
    plt.close("all")


def test_long_legend_entries_leave_the_plot_most_of_the_figure():
    """The legend sits beside the axes and takes its width from them: the
    entry for ticks of missing cells is on lines of its own, so long column
    names keep the plot at more than half the figure's width and its title
    inside the figure."""
    data = sm.datasets.blobs(120, seed=1).X.iloc[:, :2]
    X = data.set_axis(["lead in soil (mg/kg)", "zinc in soil (mg/kg)"], axis=1)
    X.iloc[[3, 50, 70], 1] = np.nan
    model = _fit(sm.Mixture(2, engine="stanli"), X, method="optimize")
    ax = plot_clusters(model)
    fig = ax.figure
    fig.canvas.draw()
    box, title = ax.get_window_extent(), ax.title.get_window_extent()
    assert box.width > 0.5 * fig.bbox.width
    assert title.x0 >= 0 and title.x1 <= fig.bbox.width
    plt.close(fig)


def test_legend_tells_apart_long_column_names_that_share_a_start():
    """Legend entries cut a long column name to its first characters, so
    two names sharing their start named one column twice."""
    data = sm.datasets.blobs(120, seed=1).X.iloc[:, :2]
    names = ["concentration_of_lead_in_water_ppb", "concentration_of_lead_in_soil_ppb"]
    X = data.set_axis(names, axis=1)
    limits = dict(zip(names, X.quantile(0.1), strict=True))
    X = X.clip(lower=pd.Series(limits), axis=1)
    model = _fit(
        sm.Mixture(2, engine="stanli"), X, method="optimize", lower_limit=limits
    )
    ax = plot_clusters(model)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    censored = [t for t in texts if t.startswith("censored: ")]
    assert len(censored) == 2
    assert "water" in censored[0] or "water" in censored[1]
    assert "soil" in censored[0] or "soil" in censored[1]
    plt.close(ax.figure)


def test_a_component_nearly_all_censored_is_named_so_in_the_legend():
    """A cluster wholly below y's limit: its place in y rests on the prior
    (censored_components_), and the legend says so beside it, in 2-D and
    in 1-D; the other component's entry stays plain."""
    data = sm.datasets.mixture_sample(
        [0.5, 0.5], [[0.0, 0.0], [5.0, 5.0]], 1.0, 200, seed=1, columns=["x", "y"]
    )
    X = data.X.assign(y=np.maximum(data.X["y"], 2.5))
    for columns, model in (
        (["x", "y"], sm.DiagonalMixture(2, engine="stanli")),
        (["y"], sm.NormalMixture(2, engine="stanli")),
    ):
        _fit(model, X[columns], method="optimize", lower_limit={"y": 2.5})
        assert [(j, col) for j, col, _ in model.censored_components_] == [(0, "y")]
        texts = _legend_texts(plot_clusters(model))
        entries = [t for t in texts if t.startswith("component")]
        assert entries[0].endswith("\n  nearly all censored in y")
        assert "censored" not in entries[1]


def test_clusters_univariate_histogram_densities_and_rug():
    data = sm.datasets.two_components(120, seed=3)
    model = _fit(sm.NormalMixture(2, engine="stanli"), data.X, method="optimize")
    ax = plot_clusters(model)
    assert isinstance(ax, Axes)
    hist = [p for p in ax.patches if isinstance(p, StepPatch)]
    assert len(hist) == 1
    stairs = hist[0].get_data()
    values, edges = stairs.values, stairs.edges
    assert np.sum(values * np.diff(edges)) == pytest.approx(1.0)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert {"component 0  (w = ", "component 1  (w = "} <= {
        label[:18] for label in lines
    }
    mix = lines["mixture"]
    grid, density = mix.get_xdata(), mix.get_ydata()
    assert trapezoid(density, grid) == pytest.approx(1.0, abs=0.01)
    comp = [line for label, line in lines.items() if label.startswith("component")]
    np.testing.assert_allclose(sum(c.get_ydata() for c in comp), density)
    rug = _collection(ax, "rug:observed")
    np.testing.assert_allclose(rug.get_offsets()[:, 0], data.X["y"].to_numpy())
    palette = np.array(component_colors(2))
    np.testing.assert_allclose(
        rug.get_facecolors()[:, :3], palette[model.predict(data.X), :3]
    )


def test_clusters_univariate_bins_resolve_the_narrowest_component():
    """Six narrow clusters (SD 0.35) two units apart: numpy's automatic bins
    are about as wide as a cluster and flatten every peak; the plot's are at
    most half the narrowest component's SD, so the histogram's peaks reach
    the fitted density's."""
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.normal(m, 0.35, 60) for m in range(0, 12, 2)])
    model = _fit(
        sm.NormalMixture(6, engine="stanli"), pd.DataFrame({"a": x}), method="optimize"
    )
    ax = plot_clusters(model)
    stairs = next(p for p in ax.patches if isinstance(p, StepPatch)).get_data()
    sd = np.sqrt(model.family_.covariances(model.param_draws()).mean(axis=0)[:, 0, 0])
    assert np.diff(stairs.edges).max() <= 0.5 * sd.min() + 1e-12
    assert np.diff(np.histogram_bin_edges(x, bins="auto")).max() > sd.min()
    mixture = next(line for line in ax.get_lines() if line.get_label() == "mixture")
    # numpy's bins put the tallest bar at 0.62 of the tallest peak
    assert stairs.values.max() >= 0.9 * mixture.get_ydata().max()
    plt.close(ax.figure)


@pytest.fixture(scope="module")
def censored_1d():
    """A NUTS fit of one column censored at both ends (the lowest and
    highest 10 % at their limits): some draws of the scales are wide."""
    y = sm.datasets.two_components(150, seed=2).X["y"]
    lo, hi = float(np.quantile(y, 0.1)), float(np.quantile(y, 0.9))
    model = _fit(
        sm.NormalMixture(2, engine="stanli"),
        y.clip(lower=lo, upper=hi).to_frame(),
        lower_limit=lo,
        upper_limit=hi,
        method="sample",
        chains=2,
        warmup=150,
        draws=150,
        show_progress=False,
    )
    return model, lo, hi


def _expected_span(lo, hi, params, kept):
    """The 1-D plot's x limits: the data's range widened to the kept
    components' posterior mean ± 3 posterior mean standard deviations."""
    centre = params["mu"][..., 0].mean(axis=0)[kept]
    sd = np.sqrt((params["sigma"][..., 0] ** 2).mean(axis=0))[kept]
    lo, hi = min(lo, np.min(centre - 3 * sd)), max(hi, np.max(centre + 3 * sd))
    pad = 0.02 * (hi - lo)
    return lo - pad, hi + pad


def test_clusters_univariate_range_is_set_by_the_data_and_mean_components(
    censored_1d,
):
    model, lo, hi = censored_1d
    params = model.param_draws()
    ax = plot_clusters(model)
    assert ax.get_xlim() == pytest.approx(
        _expected_span(lo, hi, params, [True, True]), rel=1e-9
    )
    # The censored cells sit at the limits, inside the span.
    rugs = [c for c in ax.collections if c.get_gid() == "rug:censored"]
    at = np.concatenate([c.get_offsets()[:, 0] for c in rugs])
    np.testing.assert_allclose(np.unique(at), [lo, hi])


def test_clusters_univariate_range_leaves_out_negligible_components(censored_1d):
    """A component of weight below 1 % (an emptied component, following its
    prior) is drawn but does not stretch the axis."""
    model, lo, hi = censored_1d
    params = {name: arr.copy() for name, arr in model.param_draws().items()}
    params["w"][:, 0] *= 0.999 / params["w"][:, 0]
    params["w"][:, 1] = 0.001
    params["sigma"][:, 1] = 50.0
    twin = copy.copy(model)
    twin.param_draws = lambda *args, **kwargs: params
    ax = plot_clusters(twin)
    assert ax.get_xlim() == pytest.approx(
        _expected_span(lo, hi, params, [True, False]), rel=1e-9
    )


def test_clusters_draws_on_given_axes(overlapping):
    _, model = overlapping
    _, ax = plt.subplots()
    assert plot_clusters(model, ax=ax) is ax


def _legend_inside(ax) -> bool:
    ax.figure.canvas.draw()
    box = ax.get_legend().get_window_extent()
    frame = ax.get_window_extent()
    return frame.x0 <= box.x0 and box.x1 <= frame.x1


def test_every_plot_takes_a_figsize_for_the_figure_it_makes(sampled, switching):
    """As ArviZ's plots: ``figsize`` sizes the figure a plot makes, and is
    refused, before any drawing, with the caller's ``ax`` or as anything but
    two positive numbers."""
    _, model = sampled
    _, switched = switching
    made = {
        "clusters": plot_clusters(model, figsize=(4, 3)).figure,
        "membership": plot_membership(model, figsize=(4, 3)).figure,
        "co_clustering": plots.plot_co_clustering(model, figsize=(4, 3)).figure,
        "ppc": plot_ppc(model, draws=3, seed=1, figsize=(4, 3)),
        "relabelling": plot_relabelling(switched, figsize=(4, 3)),
        "loo_pit": plots.plot_loo_pit(switched, seed=1, figsize=(4, 3)).figure,
    }
    for name, fig in made.items():
        assert fig.get_size_inches().tolist() == [4.0, 3.0], name
    plt.close("all")
    _, ax = plt.subplots()
    before = plt.get_fignums()
    with pytest.raises(sm.StanmixInputError, match="figsize sizes the figure a plot"):
        plot_clusters(model, ax=ax, figsize=(4, 3))
    for bad in ((4, 0), (4,), "wide", (4, np.nan)):
        with pytest.raises(sm.StanmixInputError, match="figsize must be"):
            plot_membership(model, figsize=bad)
    assert plt.get_fignums() == before


def test_legends_go_inside_the_callers_axes_of_a_grid(overlapping):
    """Beside the axes on the plot's own figure; inside them, with the same
    entries, on the caller's axes (beside them a legend overlaps the next
    panel of a grid), unless told otherwise."""
    _, model = overlapping
    own = plot_clusters(model)
    assert not _legend_inside(own)
    _, axes = plt.subplots(1, 3, figsize=(15, 4))
    plot_clusters(model, ax=axes[0])
    plot_membership(model, ax=axes[1], max_obs=4)
    plot_clusters(model, ax=axes[2], legend="outside")
    assert _legend_inside(axes[0]) and _legend_inside(axes[1])
    assert not _legend_inside(axes[2])
    assert _legend_texts(axes[0]) == _legend_texts(own)
    assert plot_clusters(model, legend="none").get_legend() is None
    assert _legend_inside(plot_clusters(model, legend="inside"))
    with pytest.raises(sm.StanmixInputError, match="legend must be one of"):
        plot_membership(model, legend=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dims": ("x", "x")}, "two different columns"),
        ({"dims": ("x", "z")}, "'z' is not a column"),
        (
            {"dims": (0, 5)},
            r"dims=5 is neither a position \(0..1\) nor a column's name "
            r"\(columns: x, y\)",
        ),
        ({"dims": (0, 1.0)}, "dims must be a column's name or position, got 1.0"),
        ({"dims": ("x",)}, "must name two columns"),
        ({"dims": "x"}, "must name two columns"),
        ({"ellipses": (1.0, -2.0)}, "positive numbers"),
        ({"ellipses": ("wide",)}, "sequence of positive numbers"),
        ({"ellipses": "12"}, "got the text '12'"),
        ({"ellipses": (1, 2, 3, 4, 5)}, "has 5 radii; at most 4 can be told apart"),
    ],
)
def test_clusters_rejects_bad_arguments(overlapping, kwargs, message):
    _, model = overlapping
    with pytest.raises(sm.StanmixInputError, match=message):
        plot_clusters(model, **kwargs)


def test_clusters_rejects_misuse(overlapping):
    X, model = overlapping
    with pytest.raises(sm.NotFittedError):
        plot_clusters(sm.DiagonalMixture(2))
    with pytest.raises(TypeError, match="expects a fitted stanmix model"):
        plot_clusters(object())
    with pytest.raises(sm.StanmixInputError, match="columns"):
        plot_clusters(model, X[["y", "x"]])
    uni = _fit(
        sm.NormalMixture(2, engine="stanli"),
        sm.datasets.two_components(50, seed=1).X,
        method="optimize",
    )
    with pytest.raises(sm.StanmixInputError, match="one column"):
        plot_clusters(uni, dims=(0, 1))
    # a one-column plot has no ellipses: their radii were ignored
    for radii in ((1.0, 3.0), ()):
        with pytest.raises(sm.StanmixInputError, match="leave ellipses out"):
            plot_clusters(uni, ellipses=radii)
    assert plt.get_fignums() == []
    plot_clusters(uni, ellipses=(1, 2))  # the default, spelled out
    plt.close("all")


def test_clusters_refuses_regressions_and_per_dimension_models_without_a_figure(
    regression, per_dimension
):
    assert plt.get_fignums() == []
    with pytest.raises(sm.StanmixInputError) as info:
        plot_clusters(regression)
    assert str(info.value) == (
        "plot_clusters draws components that have a density over the data's "
        "columns; this RegressionMixture's components "
        f"({regression.family_.description}) depend on predictors: use "
        "stanmix.plots.plot_regression(model)"
    )
    assert plt.get_fignums() == []
    with pytest.raises(sm.StanmixInputError) as info:
        plot_clusters(per_dimension)
    assert str(info.value) == (
        "plot_clusters colours each row by its most probable component, and the "
        "per-dimension model (joint=False) has none: each cell of a row comes "
        "from its own component. Fit DiagonalMixture(joint=True) to see "
        "clusters, or use stanmix.plots.plot_ppc(model) to see each column's fit"
    )
    assert plt.get_fignums() == []


def _boom(*args, **kwargs):
    raise RuntimeError("drawing failed")


@pytest.mark.parametrize(
    ("target", "plot"),
    [
        (
            (plots.clusters, "membership_mean"),
            lambda f: plot_clusters(f["overlapping"][1]),
        ),
        (
            (plots.regression, "membership_mean"),
            lambda f: plot_regression(f["regression"]),
        ),
        ((Axes, "errorbar"), lambda f: plot_membership(f["sampled"][1])),
        ((Figure, "colorbar"), lambda f: plot_co_clustering(f["sampled"][1])),
        ((az, "plot_ppc"), lambda f: plot_ppc(f["sampled"][1], draws=5, seed=1)),
        ((az, "plot_trace"), lambda f: plot_relabelling(f["sampled"][1])),
    ],
    ids=["clusters", "regression", "membership", "co_clustering", "ppc", "relabel"],
)
def test_a_plot_that_fails_while_drawing_closes_its_figure(
    target, plot, overlapping, regression, sampled, monkeypatch
):
    fits = {"overlapping": overlapping, "regression": regression, "sampled": sampled}
    assert plt.get_fignums() == []
    monkeypatch.setattr(*target, _boom)
    with pytest.raises(RuntimeError, match="drawing failed"):
        plot(fits)
    assert plt.get_fignums() == []


def test_a_plot_that_fails_on_given_axes_leaves_their_figure_open(
    overlapping, monkeypatch
):
    fig, ax = plt.subplots()
    monkeypatch.setattr(plots.clusters, "membership_mean", _boom)
    with pytest.raises(RuntimeError, match="drawing failed"):
        plot_clusters(overlapping[1], ax=ax)
    assert plt.get_fignums() == [fig.number]


# --------------------------------------------------------------------------
# plot_membership
# --------------------------------------------------------------------------


def _wide(model, value):
    table = model.membership()
    return table.pivot(index="observation", columns="component", values=value)


def test_membership_default_shows_least_certain_with_hdis(sampled):
    _, model = sampled
    ax = plot_membership(model, max_obs=8)
    assert isinstance(ax, Axes)
    mean, lower, upper = (_wide(model, v) for v in ("mean", "hdi_lower", "hdi_upper"))
    expected = list(mean.index[np.argsort(mean.max(axis=1).to_numpy())[:8]])
    shown = [t.get_text() for t in ax.get_yticklabels()]
    assert shown == [str(o) for o in expected]
    bars = {c.get_label(): c for c in ax.containers}
    means = {line.get_label(): line for line in ax.lines if line.get_marker() == "o"}
    assert means and len(bars) == len(means)
    checked = 0
    for label, line in means.items():
        j = int(label.split()[-1])
        xs = line.get_xdata()
        rows = np.round(line.get_ydata()).astype(int)
        obs = [expected[r] for r in rows]
        np.testing.assert_allclose(xs, mean.loc[obs, j].to_numpy())
        segments = bars[f"_HDI of {label}"].lines[2][0].get_segments()
        lo = np.array([s[:, 0].min() for s in segments])
        hi = np.array([s[:, 0].max() for s in segments])
        np.testing.assert_allclose(lo, lower.loc[obs, j].to_numpy(), atol=1e-12)
        np.testing.assert_allclose(hi, upper.loc[obs, j].to_numpy(), atol=1e-12)
        checked += len(obs)
    # Every most probable component is drawn for every row.
    assert checked >= 8
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        f"component {j}" for j in range(3)
    ]


def test_membership_bars_are_the_hdis_where_the_mean_lies_outside(sampled):
    """A skewed membership posterior's mean may lie outside its HDI (often at
    50%): the bar is the HDI as the membership table gives it, not stretched
    to the dot."""
    _, model = sampled
    narrow = copy.copy(model).set_params(hdi_prob=0.5)
    ax = plot_membership(narrow, max_obs=10)
    table = narrow.membership()
    mean, lower, upper = (
        table.pivot(index="observation", columns="component", values=v)
        for v in ("mean", "hdi_lower", "hdi_upper")
    )
    shown = [int(t.get_text()) for t in ax.get_yticklabels()]
    bars = {c.get_label(): c for c in ax.containers}
    outside = 0
    for label, container in bars.items():
        j = int(label.split()[-1])
        segments = container.lines[2][0].get_segments()
        obs = [shown[round(s[0, 1])] for s in segments]
        lo, hi = lower.loc[obs, j].to_numpy(), upper.loc[obs, j].to_numpy()
        np.testing.assert_allclose([s[:, 0].min() for s in segments], lo, atol=1e-12)
        np.testing.assert_allclose([s[:, 0].max() for s in segments], hi, atol=1e-12)
        m = mean.loc[obs, j].to_numpy()
        outside += int(((m < lo) | (m > hi)).sum())
    assert outside > 0  # the case this test is about occurs here
    plt.close(ax.figure)


def test_membership_names_an_hdi_probability_that_is_not_a_whole_percent(sampled):
    """hdi_prob=0.975 was labelled a 98% HDI (rounded to a whole percent)."""
    _, model = sampled
    wide = copy.copy(model).set_params(hdi_prob=0.975)
    ax = plot_membership(wide, max_obs=3)
    assert ax.get_xlabel().startswith(
        "membership probability: mean and 97.5% HDI over draws\n"
    )
    plt.close(ax.figure)


def test_membership_of_a_posterior_mode_claims_no_interval():
    data = sm.datasets.two_components(60, seed=2)
    model = _fit(sm.NormalMixture(2, engine="stanli"), data.X, method="optimize")
    ax = plot_membership(model, max_obs=5)
    assert ax.get_xlabel().startswith(
        "membership probability: at the posterior mode (a point estimate: no interval)"
    )
    assert "HDI" not in ax.get_xlabel()
    assert ax.get_title() == "Membership of the 5 least certain observations"
    assert not ax.containers and not ax.collections  # no bars, no caps
    plt.close(ax.figure)
    ax = plot_membership(model, max_obs=1)
    assert ax.get_title() == "Membership of the least certain observation"
    assert plot_membership(model, observations=[3]).get_title() == (
        "Membership of 1 observation"
    )


def test_membership_selected_observations(sampled):
    _, model = sampled
    _, ax = plt.subplots()
    out = plot_membership(model, [5, 0, 17], ax=ax)
    assert out is ax
    assert [t.get_text() for t in ax.get_yticklabels()] == ["5", "0", "17"]
    assert [t.get_text() for t in plot_membership(model, 3).get_yticklabels()] == ["3"]


def test_membership_does_not_need_unique_labels(sampled):
    """Rows are matched by position: an index that repeats labels (which
    fit refuses, but a model may carry) draws every row."""
    _, model = sampled
    twin = copy.copy(model)
    n = len(model.obs_index_)
    twin.obs_index_ = pd.Index(np.arange(n) % (n // 2))
    ax = plot_membership(twin, max_obs=6)
    mean = model.predict_proba_fitted()
    order = np.argsort(mean.max(axis=1), kind="stable")[:6]
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        str(i % (n // 2)) for i in order
    ]
    # A repeated label shows each row that carries it.
    ax = plot_membership(twin, [3])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["3", "3"]
    xs = sorted(
        float(x)
        for line in ax.lines
        if line.get_marker() == "o"
        for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)
        if round(y) == 1
    )
    expected = mean[3 + n // 2]
    shown = expected[(expected >= 0.01) | (expected == expected.max())]
    np.testing.assert_allclose(xs, np.sort(shown), atol=0.02)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((["nope", 1000],), {}, "'nope', 1000 are not in the fitted data"),
        (([],), {}, "empty"),
        ((), {"max_obs": 0}, "max_obs must be a positive integer"),
        ((), {"max_obs": 2.5}, "max_obs must be a positive integer"),
    ],
)
def test_membership_rejects_bad_arguments(sampled, args, kwargs, message):
    _, model = sampled
    with pytest.raises(sm.StanmixInputError, match=message):
        plot_membership(model, *args, **kwargs)


# --------------------------------------------------------------------------
# plot_relabelling
# --------------------------------------------------------------------------


def test_plots_of_switched_draws_left_unrelabelled_say_so(tmp_path, switching):
    """Draws whose labels switch, kept as sampled (relabel="none"): the
    posterior means average over clusters, so the cluster and membership
    plots warn, and the report says so in the cluster plot's caption
    (without the warnings). Relabelled, the same draws plot silently."""
    from stanmix.report import write_report

    data = sm.datasets.two_components(100, seed=1)
    kept = sm.NormalMixture(2, ordered=False, relabel="none", engine="stanli")
    _fit(kept, data.X, method="sample", chains=2, warmup=100, draws=100, init="random")
    assert kept.label_switching_.label_switching and kept.relabel_report_ is None
    for plot in (plot_clusters, plot_membership):
        with pytest.warns(
            RuntimeWarning,
            match=rf"{plot.__name__}: the draws switch labels .* were not "
            r"relabelled, .* fit with relabel='auto'",
        ):
            plot(kept)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        text = write_report(kept, tmp_path / "kept.html").read_text(encoding="utf-8")
    assert "Read with care: the draws switch labels" in text
    _, relabelled = switching  # the same fit, relabelled
    assert relabelled.label_switching_.label_switching
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plot_clusters(relabelled)
        plot_membership(relabelled)
    assert switched_labels_note(relabelled) is None


def test_relabelling_trace_shows_raw_left_and_relabelled_right(switching):
    _, model = switching
    fig = plot_relabelling(model, var_names=["mu", "w"])
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 8
    before, after = fig.subfigs
    assert before._suptitle.get_text() == "Before relabelling (raw draws)"
    assert after._suptitle.get_text() == "After relabelling (stephens)"

    def trace_lines(sub, row):
        ax = sub.axes[2 * row + 1]
        return [np.asarray(line.get_ydata()) for line in ax.get_lines()]

    raw = model.idata_.posterior_raw["mu"].to_numpy()
    new = model.idata_.posterior["mu"].to_numpy()
    for sub, draws, other in ((before, raw, new), (after, new, raw)):
        lines = trace_lines(sub, 0)
        assert len(lines) == 4  # 2 chains x 2 components
        for line in lines:
            assert any(
                np.allclose(line, draws[c, :, j]) for c in range(2) for j in range(2)
            )
        # The raw and relabelled traces are not the same picture.
        assert not all(
            any(np.allclose(line, other[c, :, j]) for c in range(2) for j in range(2))
            for line in lines
        )


def test_relabelling_rank_one_panel_per_parameter(sampled):
    _, model = sampled
    fig = plot_relabelling(model, "mu", kind="rank")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 2 * 3 * 2  # (before, after) x K x D
    titles = [ax.get_title(loc="left") for ax in fig.subfigs[0].axes]
    assert titles[0] == "mu[a], component 0"
    assert titles[-1] == "mu[b], component 2"
    # chains in greys, not in the components' colours
    bars = [p for ax in fig.axes for p in ax.patches]
    assert bars
    assert all(np.ptp(to_rgba(p.get_facecolor())[:3]) < 1e-9 for p in bars)
    trace = plot_relabelling(model)
    assert len(trace.axes) == 2 * 2 * 2  # (before, after) x D x (density, trace)


def test_relabelling_errors(sampled, overlapping):
    _, model = sampled
    with pytest.raises(sm.StanmixInputError, match="'trace' or 'rank'"):
        plot_relabelling(model, kind="pair")
    with pytest.raises(sm.StanmixInputError, match=r"unknown variable.*'theta'"):
        plot_relabelling(model, var_names=["mu", "theta"])
    with pytest.raises(sm.StanmixInputError, match="empty"):
        plot_relabelling(model, var_names=[])
    _, optimized = overlapping
    with pytest.raises(sm.StanmixInputError, match="method='optimize'"):
        plot_relabelling(optimized)
    raw_only = _fit(
        sm.NormalMixture(2, engine="stanli", relabel=None),
        sm.datasets.two_components(60, seed=2).X,
        method="sample",
        chains=2,
        warmup=50,
        draws=50,
    )
    with pytest.raises(
        sm.StanmixInputError,
        match=r"no raw draws to compare: its draws were not relabelled "
        r"\(relabel=None\). Fit with relabel='auto'",
    ):
        plot_relabelling(raw_only)
    one = _fit(
        sm.NormalMixture(1, engine="stanli"),
        sm.datasets.two_components(60, seed=2).X,
        method="sample",
        chains=2,
        warmup=50,
        draws=50,
    )
    with pytest.raises(sm.StanmixInputError, match="this model has one component"):
        plot_relabelling(one)
    with pytest.raises(sm.NotFittedError):
        plot_relabelling(sm.NormalMixture(2))


def test_relabelling_colours_each_component_across_its_pairs():
    """corr of a three-column full covariance has a ``pair`` axis besides
    the components: one row per pair, each line in its component's colour."""
    X = sm.datasets.correlated(150, seed=1, dims=3).X
    model = _fit(
        sm.Mixture(2, covariance="full", engine="stanli"),
        X,
        method="sample",
        chains=2,
        warmup=100,
        draws=100,
    )
    fig = plot_relabelling(model, var_names=["corr"])
    pairs = model.idata_.posterior.sizes["pair"]
    assert pairs == 3
    assert len(fig.axes) == 2 * pairs * 2  # (before, after) x pair x 2 panels
    palette = component_colors(2)
    for sub, group in zip(fig.subfigs, ("posterior_raw", "posterior"), strict=True):
        draws = model.idata_[group]["corr"].transpose(
            "chain", "draw", "component", "pair"
        )
        draws = draws.to_numpy()
        for p in range(pairs):
            lines = sub.axes[2 * p + 1].get_lines()
            assert len(lines) == 2 * 2  # chains x components
            for line in lines:
                (who,) = [
                    j
                    for c in range(2)
                    for j in range(2)
                    if np.allclose(line.get_ydata(), draws[c, :, j, p])
                ]
                np.testing.assert_allclose(
                    to_rgba(line.get_color())[:3], palette[who][:3]
                )


# --------------------------------------------------------------------------
# plot_regression with new data
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def regression():
    data = sm.datasets.regressions(150, seed=1)
    model = _fit(
        sm.RegressionMixture(2, engine="stanli"), data.X, y=data.y, method="optimize"
    )
    return model


def test_regression_leaves_out_the_line_of_an_emptied_component():
    """A sparse mixture's surplus line follows its prior: its band was drawn
    over the data and stretched the axes to several times their range."""
    from stanmix.selection import SPARSE_CONCENTRATION

    data = sm.datasets.regressions(100, seed=1)
    model = _fit(
        sm.RegressionMixture(3, prior_concentration=SPARSE_CONCENTRATION),
        data.X,
        y=data.y,
        method="sample",
        chains=2,
        warmup=150,
        draws=100,
    )
    held = model.membership().groupby("component")["mean"].sum().to_numpy()
    empty = np.flatnonzero(held < 1)
    assert empty.size  # the case this test is about occurs here
    ax = plot_regression(model)
    drawn = sorted(line.get_gid() for line in ax.lines)
    assert drawn == [f"line:{c}" for c in range(3) if c not in empty]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert all("not drawn" in labels[c] for c in empty)
    lo, hi = float(np.min(data.y)), float(np.max(data.y))
    assert ax.get_ylim()[0] > lo - 0.5 * (hi - lo)
    assert ax.get_ylim()[1] < hi + 0.5 * (hi - lo)
    plt.close(ax.figure)


def test_regression_title_with_many_predictors_stays_in_the_figure():
    rng = np.random.default_rng(3)
    names = [f"concentration_of_compound_{i}" for i in range(8)]
    X = pd.DataFrame(rng.normal(size=(120, 8)), columns=names)
    y = X.to_numpy() @ np.linspace(0.5, 1.0, 8) + rng.normal(scale=0.5, size=120)
    model = _fit(sm.RegressionMixture(1, engine="stanli"), X, y=y, method="optimize")
    ax = plot_regression(model, predictor=names[0])
    fig = ax.figure
    fig.canvas.draw()
    box = ax.title.get_window_extent(fig.canvas.get_renderer())
    assert 0 <= box.x0 and box.x1 <= fig.bbox.x1 and box.y1 <= fig.bbox.y1
    lines = ax.get_title().split("\n")
    method = next(i for i, line in enumerate(lines) if "components at the" in line)
    held = lines[method + 1 :]  # below the model and the method
    assert len(held) > 1 and max(map(len, held)) <= 64
    assert " ".join(held) == ", ".join(names[1:]) + " held at their means"
    plt.close(fig)


def test_regression_plot_of_new_data(regression):
    model = regression
    new = sm.datasets.regressions(60, seed=2)
    response = model.design_.response
    for args, kwargs in (
        ((new.X, new.y), {}),
        ((new.X.assign(**{response: new.y}),), {}),
        ((new.X.assign(r=new.y),), {"response": "r"}),
    ):
        ax = plot_regression(model, *args, **kwargs)
        points = _collection(ax, "points:observed")
        np.testing.assert_allclose(
            points.get_offsets(),
            np.column_stack([new.X.iloc[:, 0], np.asarray(new.y)]),
        )
        proba = model.predict_proba(new.X, new.y)
        palette = np.array(component_colors(2))
        np.testing.assert_allclose(
            points.get_facecolors()[:, :3], palette[proba.argmax(axis=1), :3]
        )
        line = ax.get_lines()[0].get_xdata()
        assert line.min() == pytest.approx(new.X.iloc[:, 0].min())
        assert line.max() == pytest.approx(new.X.iloc[:, 0].max())
    with pytest.raises(sm.StanmixInputError, match="need their response"):
        plot_regression(model, new.X)
    with pytest.raises(sm.StanmixInputError, match="pass X too"):
        plot_regression(model, y=new.y)
    with pytest.raises(sm.StanmixInputError, match=r"^lower_limit describe"):
        plot_regression(model, lower_limit=0.0)

    # New responses with a detection limit, given as to fit: censored.
    limit = float(np.quantile(new.y, 0.25))
    y = np.maximum(np.asarray(new.y), limit)
    ax = plot_regression(model, new.X, y, lower_limit=limit)
    censored = _collection(ax, "points:censored").get_offsets()
    assert len(censored) == np.sum(y == limit) == 15
    np.testing.assert_allclose(censored[:, 1], limit)


@pytest.mark.parametrize(
    ("model", "named"),
    [
        (sm.Mixture(2, family="student_t", engine="stanli"), "Student-t, diag"),
        (sm.DiagonalMixture(2, joint=False, engine="stanli"), "normal, per column"),
    ],
)
def test_plot_titles_name_the_family_in_words(model, named):
    from stanmix.plots._common import title_for

    fitted = _fit(model, sm.datasets.blobs(80, seed=3).X, method="optimize")
    assert f"({named}" in title_for(fitted, fitted.cells_).replace("\n", " ")


# --------------------------------------------------------------------------
# names that matplotlib would read as mathematics
# --------------------------------------------------------------------------


def test_names_with_dollar_signs_are_shown_as_they_are(tmp_path):
    """matplotlib reads text between two $ as mathematics: a column or row
    name with them would be set in italics, or fail every plot and the
    report ("$\\alpha_{max$" does not parse). They are shown literally."""
    import io

    from matplotlib.text import Text

    from stanmix.report import write_report

    names = [r"ratio $\alpha_{max$ (a.u.)", "dose $x$ (mg)"]
    values = sm.datasets.blobs(120, seed=1).X.to_numpy()[:, :2]
    X = pd.DataFrame(values, columns=names, index=[f"s${i}$" for i in range(120)])
    limit = float(np.quantile(X[names[1]], 0.1))
    X[names[1]] = X[names[1]].clip(lower=limit)
    model = _fit(
        sm.DiagonalMixture(2, engine="stanli"),
        X,
        chains=2,
        warmup=100,
        draws=100,
        show_progress=False,
        lower_limit={names[1]: limit},
    )
    figures = {
        "clusters": plot_clusters(model).figure,
        "membership": plot_membership(model, max_obs=4).figure,
        "ppc": plot_ppc(model, draws=5, seed=1),
        "trace": plot_relabelling(model),
        "rank": plot_relabelling(model, kind="rank"),
    }
    for what, fig in figures.items():
        fig.savefig(io.BytesIO(), format="png")
        texts = [t.get_text() for t in fig.findobj(Text)]
        assert any(r"\$" in t for t in texts), what  # a name is shown
        unescaped = [t for t in texts if t.replace(r"\$", "").count("$")]
        assert unescaped == [], what
        plt.close(fig)
    write_report(model, tmp_path / "report.html")
    assert "dose $x$ (mg)" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_long_column_names_stay_over_their_own_panels():
    """Long names are wrapped to their axes: plot_ppc's panel titles and
    labels do not run into the next panel, and a cluster plot's y label
    stays within the figure's height."""
    rng = np.random.default_rng(5)
    z = rng.integers(0, 2, 150)
    first = "concentration_of_dissolved_organic_carbon_in_filtered_sample_mg_per_L"
    second = "total suspended solids after drying at 105 C in mg per L, averaged"
    X = pd.DataFrame(
        {
            first: rng.normal(np.where(z, 3, -1), 1),
            second: rng.normal(np.where(z, 2, 0), 0.7),
        }
    )
    model = _fit(sm.Mixture(2, engine="stanli"), X, method="optimize")
    fig = plots.plot_ppc(model, draws=10, seed=1)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    left, right = fig.axes[:2]
    for ax in (left, right):
        width = ax.get_window_extent(renderer).width
        assert ax.title.get_window_extent(renderer).width <= width
        assert ax.xaxis.label.get_window_extent(renderer).width <= width
    assert (
        left.title.get_window_extent(renderer).x1
        < right.title.get_window_extent(renderer).x0
    )
    plt.close(fig)
    ax = plot_clusters(model)
    fig = ax.figure
    fig.canvas.draw()
    label = ax.yaxis.label.get_window_extent(fig.canvas.get_renderer())
    assert label.height <= ax.get_window_extent().height
    assert ax.get_ylabel().replace("\n", " ") == second
    plt.close(fig)
