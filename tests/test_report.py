"""The HTML report: one standalone file, complete, and written atomically."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import base64
import copy
import html
import io
import os
import re
import warnings
from html.parser import HTMLParser

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import stanmix as sm
from stanmix import checks, plots, report
from stanmix._files import write_text_atomic
from stanmix.report import render_report, write_report
from stanmix.selection import ComponentSelection

pytest.importorskip("stanli")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """Every tag with its attributes, and the tables as lists of cell texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None
        self._row: list[str] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data):
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def _parse(text: str) -> _Page:
    page = _Page()
    page.feed(text)
    page.close()
    return page


def _diagnostics(text: str) -> dict[str, str]:
    """The Fit table of a report page, key to value."""
    table = next(t for t in _parse(text).tables if t and t[0][0] == "Model")
    return {row[0]: row[1] for row in table}


def _fit(model, X, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return model.fit(X, seed=1, **kwargs)


@pytest.fixture(scope="module")
def sampled():
    data = sm.datasets.mixture_sample(
        [0.5, 0.5], [[0.0, 0.0], [3.0, 2.0]], 1.0, 80, seed=5, columns=["u", "v"]
    )
    return _fit(
        sm.DiagonalMixture(2, engine="stanli"),
        data.X,
        method="sample",
        chains=2,
        warmup=100,
        draws=100,
    )


@pytest.fixture(scope="module")
def optimized():
    data = sm.datasets.blobs(100, seed=1)
    X, limits = sm.datasets.left_censor(data.X, 0.1)
    return _fit(
        sm.DiagonalMixture(5, engine="stanli"),
        X,
        method="optimize",
        lower_limit=limits,
    )


@pytest.fixture(scope="module")
def sampled_report(sampled, tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    path = write_report(sampled, folder / "fit.html", title="Two <clusters> & more")
    return folder, path, path.read_text(encoding="utf-8")


def test_report_is_one_file_with_embedded_pngs(sampled_report):
    folder, path, text = sampled_report
    assert path == folder / "fit.html"
    assert sorted(os.listdir(folder)) == ["fit.html"]
    page = _parse(text)
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    # clusters, relabelling, membership, predictive check, co-clustering
    # (no LOO-PIT: two columns)
    assert len(images) == 5
    assert "Leave-one-out PIT" not in text
    for attrs in images:
        src = attrs["src"]
        assert src.startswith("data:image/png;base64,")
        raw = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert raw.startswith(PNG_SIGNATURE)
        pixels = mpimg.imread(io.BytesIO(raw), format="png")
        assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 300
        # Not a blank canvas.
        assert pixels[..., :3].std() > 0.05
        assert attrs.get("alt")


def test_report_has_no_external_references(sampled_report):
    _, _, text = sampled_report
    page = _parse(text)
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"script", "link", "iframe", "object", "embed", "base"}
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            if name in ("src", "href", "action", "poster", "data"):
                assert value.startswith("data:"), (tag, name)
    lowered = text.lower()
    for needle in ("http://", "https://", "url(", "@import", "//cdn", "<script"):
        assert needle not in lowered


def test_report_tables_summary_and_diagnostics(sampled, sampled_report):
    _, _, text = sampled_report
    page = _parse(text)
    summary = sampled.summary()
    table = next(t for t in page.tables if t and "r_hat" in t[0])
    assert table[0][1:] == list(summary.columns)
    rows = {row[0]: row[1:] for row in table[1:]}
    assert list(rows) == list(summary.index)
    assert rows["mu[1, u]"][0] == f"{summary.loc['mu[1, u]', 'mean']:.3f}"
    ess_col = list(summary.columns).index("ess_bulk")
    assert rows["w[0]"][ess_col] == f"{summary.loc['w[0]', 'ess_bulk']:.0f}"

    diag = next(t for t in page.tables if t and t[0][0] == "Model")
    info = dict((row[0], row[1]) for row in diag)
    assert info["Engine"] == f"stanli {sampled.engine_version_}"
    assert info["Method"].startswith("sample")
    assert info["Chains x draws"] == "2 x 100"
    n_div = int(sampled.idata_.sample_stats["diverging"].sum())
    assert info["Divergent transitions"].startswith(f"{n_div} (")
    check = sampled.convergence_
    assert info["Largest R-hat"] == f"{check.max_rhat:.3f} ({check.rhat_parameter})"
    assert info["Smallest bulk ESS"] == (
        f"{check.min_ess_bulk:.0f} ({check.ess_parameter})"
    )
    depth = sampled.idata_.sample_stats["tree_depth"].to_numpy()
    assert info["Transitions at the maximum tree depth"] == (
        f"{int((depth >= 10).sum())} (depth 10)"
    )
    bfmi = sm.diagnostics.e_bfmi(sampled.idata_.sample_stats["energy"].to_numpy())
    assert info["Lowest E-BFMI of a chain"] == f"{bfmi.min():.2f}"
    # The summary shows the same figures, rounded.
    assert abs(check.max_rhat - summary["r_hat"].max()) <= 0.005
    assert abs(check.min_ess_bulk - summary["ess_bulk"].min()) <= 0.5
    anchor = sampled.cells_.columns[sampled.anchor_]
    assert info["Components ordered by"] == f"the means of {anchor} (anchor column)"
    # Two chains of 100 draws: short of the bars, and the page says so.
    assert not check.converged
    assert info["Convergence"] == f"not reached: {check.figures()}"
    assert html.escape(check.advice()) in text


def test_report_label_switching_relabelling_and_membership(sampled, sampled_report):
    _, _, text = sampled_report
    assert html.escape(str(sampled.label_switching_)) in text
    assert html.escape(str(sampled.relabel_report_)) in text

    page = _parse(text)
    table = next(t for t in page.tables if t and "most probable" in t[0])
    membership = sampled.membership()
    mean = membership.pivot(index="observation", columns="component", values="mean")
    p_max = mean.max(axis=1)
    expected = list(mean.index[np.argsort(p_max.to_numpy(), kind="stable")])
    listed = [row[0] for row in table[1:]]
    assert listed == [str(o) for o in expected[: report.N_UNCERTAIN_ROWS]]
    row = membership[
        (membership["observation"] == expected[0]) & (membership["component"] == 1)
    ]
    assert table[1][4] == (
        f"{row['mean'].item():.3f} [{row['hdi_lower'].item():.3f}, "
        f"{row['hdi_upper'].item():.3f}]"
    )
    n_uncertain = int((p_max < plots.UNCERTAIN_BELOW).sum())
    assert f"{n_uncertain} of {len(mean)} observations" in text


def test_report_title_is_escaped(sampled_report):
    _, _, text = sampled_report
    assert "<title>Two &lt;clusters&gt; &amp; more</title>" in text
    assert "<clusters>" not in text


def test_report_for_a_point_estimate(optimized, tmp_path):
    path = write_report(optimized, tmp_path / "r.html")
    text = path.read_text(encoding="utf-8")
    page = _parse(text)
    # clusters, membership, the plug-in predictive check and co-clustering
    assert sum(tag == "img" for tag, _ in page.tags) == 4
    # the checks are the plug-in predictive's, said so; no separation
    # (HDIs need draws)
    assert "drawn at the mode (a plug-in predictive)" in text
    assert "Replicated data sets drawn at the point estimate" in text
    # membership at the mode: a point, without an interval
    assert "Membership probabilities at the posterior mode." in text
    assert "% HDI" not in text
    assert "Separation of the components" not in text
    expected = checks.ppc_pvalues(optimized, draws=200, seed=optimized.seed_)
    table = next(t for t in page.tables if len(t) > 1 and t[1][0] == "statistic")
    column = table[0].index("p")
    shown = {row[0]: row[column] for row in table[2:]}
    assert shown == {name: f"{p:.3f}" for name, p in expected["p"].items()}
    info = dict(
        (row[0], row[1])
        for row in next(t for t in page.tables if t and t[0][0] == "Model")
    )
    assert "posterior mode" in info["Method"]
    assert "R-hat" not in " ".join(info) and "Convergence" not in info
    n_left = int(np.sum(optimized.cells_.kind == 1))
    assert f"{n_left} left-censored" in text
    assert "Not applicable" in text
    assert text.startswith("<!DOCTYPE html>")
    assert "<title>DiagonalMixture with 5 components</title>" in text


def _spy(monkeypatch, name: str) -> list[tuple]:
    """The (X, keyword arguments) of each call of ``plots.<name>`` from now
    on, which still draws."""
    seen = []
    original = getattr(plots, name)

    def spy(model, X=None, **kwargs):
        seen.append((X, kwargs))
        return original(model, X, **kwargs)

    monkeypatch.setattr(plots, name, spy)
    return seen


def test_report_passes_new_data_to_the_cluster_plot(optimized, tmp_path, monkeypatch):
    seen = _spy(monkeypatch, "plot_clusters")
    new = sm.datasets.blobs(20, seed=9).X
    write_report(optimized, tmp_path / "r.html", X=new)
    assert len(seen) == 1 and seen[0][0] is new


def test_report_shows_the_two_columns_that_separate_the_clusters(monkeypatch):
    """Four columns, the clusters apart in the last two only: the report's
    cluster plot shows those two (plot_clusters' default), and its caption
    says which of the four."""
    rng = np.random.default_rng(0)
    blobs = sm.datasets.blobs(200, seed=1).X
    X = pd.DataFrame({"a": rng.normal(size=200), "b": rng.normal(size=200), **blobs})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model = sm.DiagonalMixture(5, engine="stanli").fit(X, method="optimize", seed=1)
    seen = []
    original = plots.plot_clusters

    def spy(model, X=None, **kwargs):
        ax = original(model, X, **kwargs)
        seen.append((ax.get_xlabel(), ax.get_ylabel()))
        return ax

    monkeypatch.setattr(plots, "plot_clusters", spy)
    text = render_report(model)
    assert seen == [("x", "y")]
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", text)
    assert html.unescape(captions[0]).startswith(
        "Columns x and y of the 4: those whose component means lie furthest "
        "apart for the components' spread"
    )
    # any other pair on request
    ax = original(model, dims=("a", "y"))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("a", "y")
    plt.close(ax.figure)


def test_report_takes_the_censoring_of_new_data(optimized, tmp_path, monkeypatch):
    seen = _spy(monkeypatch, "plot_clusters")
    new, limits = sm.datasets.left_censor(sm.datasets.blobs(30, seed=9).X, 0.2)
    kept = new.copy()
    text = write_report(
        optimized, tmp_path / "r.html", X=new, lower_limit=limits
    ).read_text()
    assert text.count("data:image/png;base64,") >= 2
    assert len(seen) == 1 and seen[0][1] == {"lower_limit": limits}
    np.testing.assert_array_equal(new, kept)


def test_report_censoring_without_new_data_is_refused(optimized, tmp_path):
    with pytest.raises(
        sm.StanmixInputError,
        match="lower_limit describes the cells of new data; pass the data as X",
    ):
        write_report(optimized, tmp_path / "r.html", lower_limit=0.0)
    assert not (tmp_path / "r.html").exists()


def test_a_regressions_report_takes_the_censoring_of_its_new_response(
    tmp_path, monkeypatch
):
    """A regression fitted with a detection limit, and new pairs recorded at
    it: without the limit the report warns, advising to pass it; passed,
    it reaches plot_regression (which draws such pairs as censored) and
    nothing is said."""
    data = sm.datasets.regressions(150, seed=1)
    limit = float(np.quantile(data.y, 0.1))
    model = sm.RegressionMixture(2, engine="stanli").fit(
        data.X, np.maximum(data.y, limit), lower_limit=limit, method="optimize", seed=1
    )
    seen = _spy(monkeypatch, "plot_regression")
    new = sm.datasets.regressions(60, seed=3)
    X = new.X.assign(**{model.design_.response: np.maximum(new.y, limit)})
    with pytest.warns(UserWarning, match="pass lower_limit= as to fit"):
        write_report(model, tmp_path / "r.html", X=X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        write_report(model, tmp_path / "s.html", X=X, lower_limit=limit)
    assert [kwargs for _, kwargs in seen] == [{}, {"lower_limit": limit}]


def test_failure_while_rendering_leaves_no_file(optimized, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise sm.StanmixInputError("bad new data")

    monkeypatch.setattr(plots, "plot_membership", broken)
    with pytest.raises(sm.StanmixInputError, match="bad new data"):
        write_report(optimized, tmp_path / "r.html")
    assert os.listdir(tmp_path) == []

    existing = tmp_path / "old.html"
    existing.write_text("previous report")
    with pytest.raises(sm.StanmixInputError, match="bad new data"):
        write_report(optimized, existing)
    assert os.listdir(tmp_path) == ["old.html"]
    assert existing.read_text() == "previous report"


def test_failure_while_writing_leaves_no_temporary_file(
    optimized, tmp_path, monkeypatch
):
    existing = tmp_path / "r.html"
    existing.write_text("previous report")

    def refuse(src, dst):
        raise OSError("disk full")

    from stanmix import _files

    monkeypatch.setattr(_files.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_report(optimized, existing)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["r.html"]
    assert existing.read_text() == "previous report"


def test_report_rejects_bad_paths_and_models(optimized, tmp_path):
    with pytest.raises(sm.StanmixInputError, match="is a folder"):
        write_report(optimized, tmp_path)
    with pytest.raises(sm.StanmixInputError, match="does not exist"):
        write_report(optimized, tmp_path / "no" / "r.html")
    with pytest.raises(sm.NotFittedError):
        write_report(sm.DiagonalMixture(2), tmp_path / "r.html")
    assert os.listdir(tmp_path) == []


def test_report_path_may_start_at_the_home_folder(optimized, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert write_report(optimized, "~/r.html") == tmp_path / "r.html"
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")


def test_report_for_a_univariate_model(tmp_path):
    data = sm.datasets.two_components(80, seed=2)
    model = _fit(sm.NormalMixture(2, engine="stanli"), data.X, method="optimize")
    text = write_report(model, tmp_path / "u.html").read_text(encoding="utf-8")
    page = _parse(text)
    # clusters, membership, the plug-in predictive check and co-clustering
    assert sum(tag == "img" for tag, _ in page.tags) == 4
    assert "80 observations of 1 column (y); every cell observed." in text
    table = next(t for t in page.tables if t and t[0][1:] == ["mode"])
    assert [row[0] for row in table[1:]] == list(model.summary().index)
    # one column: a histogram and a rug, whose ticks have no outline
    caption = re.search(r"<h2>Clusters</h2>\s*<figure>.*?<figcaption>(.*?)<", text)
    assert caption.group(1).startswith("A histogram of the observed values")
    assert "outlined" not in caption.group(1)


@pytest.mark.parametrize("method", ["sample", "variational"])
def test_report_for_one_component_says_there_is_no_pair(method, tmp_path):
    X = sm.datasets.mixture_sample([1.0], [[0.0, 0.0]], 1.0, 100, seed=4).X
    kwargs = {"chains": 2, "warmup": 100} if method == "sample" else {}
    model = _fit(sm.Mixture(1, engine="stanli"), X, method=method, draws=100, **kwargs)
    text = write_report(model, tmp_path / "k1.html").read_text(encoding="utf-8")
    assert "<title>Mixture with 1 component</title>" in text
    assert "One component: there is no pair of components to tell apart." in text
    page = _parse(text)
    assert not [t for t in page.tables if t and "separated" in t[0]]
    # The predictive check is there; images: clusters, membership,
    # predictive check, co-clustering (nothing to relabel).
    assert any(t and "replicated mean" in t[0] for t in page.tables)
    assert sum(tag == "img" for tag, _ in page.tags) == 4
    # One component: nothing is ordered, and nothing needs relabelling.
    assert "Components ordered by" not in _diagnostics(text)
    section = text[text.index("<h2>Label switching") : text.index("<h2>Membership")]
    if method == "sample":
        assert model.relabel == "auto" and model.relabel_report_ is None
        assert section == (
            "<h2>Label switching and relabelling</h2>\n"
            '<p class="note">One component: nothing can switch, and one '
            "component needs no relabelling; the tables show the draws as "
            "sampled.</p>\n"
        )
    else:
        assert "Not applicable" in section
        k = model.pareto_k_
        assert _diagnostics(text)["Pareto k-hat"].startswith(f"{k:.2f}: ")


def test_report_flags_an_approximation_far_from_the_posterior(tmp_path):
    """A meanfield approximation whose Pareto k-hat is above 0.7 is flagged
    in the Fit table, with what it means; the NUTS note is left out."""
    X = sm.datasets.blobs(500, seed=1).X
    model = _fit(sm.Mixture(5, engine="stanli"), X, method="variational")
    assert model.pareto_k_ > 0.7
    text = write_report(model, tmp_path / "vi.html").read_text(encoding="utf-8")
    assert _diagnostics(text)["Pareto k-hat"] == (
        f"{model.pareto_k_:.2f}: above 0.7: the approximation is far from the "
        "posterior; its means may be off and its intervals too narrow (use NUTS)"
    )
    assert '<td class="warn">' in text and "E-BFMI" not in text


def test_report_separation_table_for_two_components(sampled, sampled_report):
    _, _, text = sampled_report
    page = _parse(text)
    table = next(t for t in page.tables if t and "separated" in t[0])
    assert table[0] == ["", "", "gap [u]", "gap [v]", "separated"]
    sep = sm.checks.separation(sampled)
    assert [row[:2] for row in table[2:]] == [["0", "1"]]
    assert table[2][2] == f"{sep.iloc[0, 0]:.3f}"


def test_report_separation_sentence_leaves_out_emptied_components():
    """A sparse mixture's emptied component has its mean on the prior, whose
    HDI overlaps every other: the sentence leaves its pairs out and says so,
    the table keeps them."""
    from stanmix.selection import SPARSE_CONCENTRATION

    data = sm.datasets.mixture_sample(
        [0.5, 0.5], [[-4.0, 0.0], [4.0, 0.0]], 1.0, 100, seed=3
    )
    model = sm.Mixture(3, prior_concentration=SPARSE_CONCENTRATION, ordered=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _fit(model, data.X, chains=2, warmup=150, draws=150, show_progress=False)
    empty = np.flatnonzero(model.weights_ * 100 < 1).tolist()
    assert len(empty) == 1  # the fit emptied the surplus component
    sep = sm.checks.separation(model)
    # the table is whole: the emptied component's pairs overlap everywhere
    assert (
        len(sep) == 3
        and not sep.loc[[p for p in sep.index if empty[0] in p], "separated"].any()
    )
    page = _parse(render_report(model))
    text = next(p for p in page.text if "HDIs of their means" in p)
    assert "Not separated" not in text
    assert "Every pair of filled components is separated" in text
    assert f"Component {empty[0]} holds under one row on average" in text
    table = next(t for t in page.tables if t and "separated" in t[0])
    assert len(table) - 2 == 3
    # with one component left filled there is no pair to judge
    alone = copy.copy(model)
    alone.weights_ = np.where(np.arange(3) == 1, 1.0, 0.0)
    text = next(
        p for p in _parse(render_report(alone)).text if "HDIs of their means" in p
    )
    assert "No two components are filled, so there is no pair to tell apart." in text
    assert "Every pair" not in text and "Components 0, 2 hold under one row" in text


@pytest.fixture(scope="module")
def regression():
    data = sm.datasets.regressions(150, seed=1)
    return _fit(
        sm.RegressionMixture(2, engine="stanli"), data.X, y=data.y, method="optimize"
    )


def test_a_regressions_parameters_are_described_as_lines(regression, optimized):
    """mu is a line's value at the predictors' centre for a regression, and
    a component mean for clusters."""
    lines = render_report(regression)
    assert (
        "<code>mu</code>: each line&#x27;s value at the predictors&#x27; centre"
        in lines
    )
    assert "<code>mu</code>: component means (locations)" in render_report(optimized)


def test_report_of_a_regression_shows_new_data(regression, tmp_path, monkeypatch):
    seen = []
    original = plots.plot_regression

    def spy(model, X=None, *args, **kwargs):
        ax = original(model, X, *args, **kwargs)
        points = [c for c in ax.collections if c.get_gid() == "points:observed"]
        seen.append((X, points[0].get_offsets().copy()))
        return ax

    monkeypatch.setattr(plots, "plot_regression", spy)
    new = sm.datasets.regressions(60, seed=2)
    X = new.X.assign(**{regression.design_.response: new.y})
    text = write_report(regression, tmp_path / "r.html", X=X).read_text()
    assert len(seen) == 1 and seen[0][0] is X
    np.testing.assert_allclose(
        seen[0][1], np.column_stack([new.X.iloc[:, 0], np.asarray(new.y)])
    )
    # lines, membership, the plug-in predictive check and co-clustering
    assert text.count("data:image/png;base64,") == 4
    assert "Separation of the components" not in text
    assert "150 observations of the response (y) given 1 covariate (x);" in text
    with pytest.raises(sm.StanmixInputError, match="need their response"):
        write_report(regression, tmp_path / "s.html", X=new.X)
    assert os.listdir(tmp_path) == ["r.html"]


def _with_umask(mask, action):
    old = os.umask(mask)
    try:
        return action()
    finally:
        os.umask(old)


def test_a_link_at_the_reports_path_is_written_through(optimized, tmp_path):
    """As open(path, "w") would: the link stays a link, the file it points
    to (in another folder) holds the report and keeps its permissions, and
    that folder is left without temporary files. A dangling link makes its
    target."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    target = elsewhere / "target.html"
    target.write_text("old")
    os.chmod(target, 0o640)
    link = tmp_path / "link.html"
    link.symlink_to(target)
    assert write_report(optimized, link) == link
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text().startswith("<!DOCTYPE html>")
    assert os.stat(target).st_mode & 0o777 == 0o640
    assert sorted(p.name for p in elsewhere.iterdir()) == ["target.html"]
    dangling = tmp_path / "dangling.html"
    dangling.symlink_to(elsewhere / "new.html")
    write_report(optimized, dangling)
    assert dangling.is_symlink()
    assert (elsewhere / "new.html").read_text().startswith("<!DOCTYPE html>")
    nowhere = tmp_path / "nowhere.html"
    nowhere.symlink_to(tmp_path / "no-such-folder" / "r.html")
    with pytest.raises(sm.StanmixInputError, match="no-such-folder' does not exist"):
        write_report(optimized, nowhere)


def test_a_written_file_mode_follows_the_umask_or_the_replaced_file(tmp_path):
    """write_text_atomic, which writes the report (below) and the command's
    text outputs: a new file takes the umask's mode, a replaced one keeps
    its own, and no staging file is left beside them."""

    def mode(path):
        return os.stat(path).st_mode & 0o777

    fresh = tmp_path / "new.html"
    for umask, expected in ((0o077, 0o600), (0o022, 0o644), (0o002, 0o664)):
        _with_umask(umask, lambda: write_text_atomic(fresh, "page"))
        assert mode(fresh) == expected, oct(umask)
        fresh.unlink()
    kept = tmp_path / "kept.html"
    kept.write_text("old")
    for file_mode, umask in ((0o600, 0o022), (0o640, 0o077)):
        os.chmod(kept, file_mode)
        _with_umask(umask, lambda: write_text_atomic(kept, "new"))
        assert mode(kept) == file_mode and kept.read_text() == "new"
    assert os.listdir(tmp_path) == ["kept.html"]


def test_report_file_mode_follows_the_umask_or_the_replaced_file(optimized, tmp_path):
    def mode(path):
        return os.stat(path).st_mode & 0o777

    fresh = tmp_path / "new.html"
    _with_umask(0o077, lambda: write_report(optimized, fresh))
    assert mode(fresh) == 0o600
    # A private report stays private when rewritten, whatever the umask.
    kept = tmp_path / "kept.html"
    kept.write_text("old")
    os.chmod(kept, 0o600)
    _with_umask(0o022, lambda: write_report(optimized, kept))
    assert mode(kept) == 0o600 and kept.read_text().startswith("<!DOCTYPE html>")
    assert sorted(os.listdir(tmp_path)) == ["kept.html", "new.html"]


def test_report_does_not_need_unique_labels(sampled, tmp_path):
    """Membership rows are matched by position: an index that repeats
    labels (which fit refuses, but a model may carry) is reported as is."""
    twin = copy.copy(sampled)
    n = len(sampled.obs_index_)
    twin.obs_index_ = pd.Index(np.arange(n) % (n // 2))
    text = write_report(twin, tmp_path / "r.html").read_text(encoding="utf-8")
    table = next(t for t in _parse(text).tables if t and "most probable" in t[0])
    p_max = sampled.predict_proba_fitted().max(axis=1)
    order = np.argsort(p_max, kind="stable")[: report.N_UNCERTAIN_ROWS]
    assert [row[0] for row in table[1:]] == [str(i % (n // 2)) for i in order]
    assert [row[2] for row in table[1:]] == [f"{p_max[i]:.3f}" for i in order]


def test_report_of_a_sampled_regression_leaves_out_the_separation(tmp_path):
    """Separation compares the components' means, which for lines is their
    value at one point: the report of a mixture of regressions leaves it
    out and still shows the predictive check."""
    data = sm.datasets.regressions(100, seed=1)
    model = _fit(
        sm.RegressionMixture(2, engine="stanli"),
        data.X,
        y=data.y,
        chains=2,
        warmup=100,
        draws=100,
        show_progress=False,
    )
    text = write_report(model, tmp_path / "r.html").read_text(encoding="utf-8")
    page = _parse(text)
    assert "Separation of the components" not in text
    assert not [t for t in page.tables if t and "separated" in t[0]]
    assert any(t and "replicated mean" in t[0] for t in page.tables)
    assert "Does the model fit?" in text


# --------------------------------------------------------------------------
# Models whose report leaves parts out, and what the report says of them
# --------------------------------------------------------------------------


def test_report_of_the_per_dimension_model_leaves_out_membership(
    per_dimension, tmp_path
):
    """A row of the per-dimension model has no single component: no cluster
    plot, membership or co-clustering, said so; the rest is there."""
    opened = plt.get_fignums()
    text = write_report(per_dimension, tmp_path / "p.html").read_text()
    assert plt.get_fignums() == opened
    assert re.findall(r"<h2>([^<]*)</h2>", text) == [
        "Fit",
        "Clusters",
        "Parameters",
        "Label switching and relabelling",
        "Does the model fit?",
    ]
    clusters = text[text.index("<h2>Clusters</h2>") : text.index("<h2>Parameters")]
    assert clusters == (
        "<h2>Clusters</h2>\n"
        '<p class="note">No cluster plot, membership table or co-clustering '
        "matrix: the per-dimension model (<code>joint=False</code>) draws each "
        "cell of a row from its own component, so a row has no single component "
        "to be coloured by, to belong to or to share. The predictive check below "
        "compares each column with its replicates; "
        "<code>DiagonalMixture(joint=True)</code> fits joint components, which "
        "have all three.</p>\n"
    )
    page = _parse(text)
    # the predictive check is the one figure
    assert [attrs["alt"] for tag, attrs in page.tags if tag == "img"] == [
        "The data (black) against replicated data sets."
    ]
    assert any(t and "replicated mean" in t[0] for t in page.tables)
    assert not [t for t in page.tables if t and "most probable" in t[0]]
    summary = next(t for t in page.tables if t and t[0][1:] == ["mode"])
    assert [row[0] for row in summary[1:]] == list(per_dimension.summary().index)
    info = _diagnostics(text)
    assert info["Components"] == per_dimension.family_.description
    assert info["Components ordered by"] == (
        f"the means of {per_dimension.cells_.columns[per_dimension.anchor_]} "
        "(anchor column)"
    )


def test_report_of_the_per_dimension_model_refuses_new_data(per_dimension, tmp_path):
    with pytest.raises(sm.StanmixInputError) as info:
        write_report(
            per_dimension, tmp_path / "p.html", X=sm.datasets.blobs(20, seed=2).X
        )
    assert str(info.value) == (
        "X: the report of the per-dimension model (joint=False) has no cluster "
        "plot to show new data in, since its rows have no single component; "
        "leave X out"
    )
    assert os.listdir(tmp_path) == []


def test_a_plot_failing_in_the_report_is_said_and_leaves_no_open_figure(
    optimized, tmp_path, monkeypatch
):
    def half_drawn(*args, **kwargs):
        plt.subplots()
        raise RuntimeError("plot failed")

    monkeypatch.setattr(plots, "plot_membership", half_drawn)
    opened = plt.get_fignums()
    with pytest.warns(RuntimeWarning, match=r"could not be drawn \(RuntimeError"):
        write_report(optimized, tmp_path / "r.html")
    assert plt.get_fignums() == opened
    # The report is written, and says in the figure's place what failed.
    text = (tmp_path / "r.html").read_text()
    assert '<p class="note">This figure could not be drawn (RuntimeError: plot ' in text
    assert text.count("<img ") >= 3  # the other figures are drawn


def test_report_says_what_orders_the_components(regression):
    """The row names what the program declares ordered, and is left out
    when nothing is."""
    X = sm.datasets.correlated(150, seed=1).X
    free = _fit(sm.Mixture(2, ordered=False, engine="stanli"), X, method="optimize")
    data = sm.datasets.regressions(150, seed=1)
    by_slope, free_lines = (
        _fit(
            sm.RegressionMixture(2, engine="stanli", **options),
            data.X,
            y=data.y,
            method="optimize",
        )
        for options in ({"order_by": "x"}, {"ordered": False})
    )
    rows = {
        name: _diagnostics(render_report(model)).get("Components ordered by")
        for name, model in (
            ("free", free),
            ("by_slope", by_slope),
            ("free_lines", free_lines),
            ("lines", regression),
        )
    }
    assert rows == {
        "free": None,
        "by_slope": "the slopes of x",
        "free_lines": None,
        "lines": "the lines' values at the predictors' means (mu)",
    }


def test_report_of_components_told_apart_by_known_scales(tmp_path):
    """Known scales that differ make the components not exchangeable: the
    draws are not relabelled, and the report gives that reason, not
    relabel=None."""
    rng = np.random.default_rng(5)
    y = np.r_[rng.normal(-2, 1.0, 90), rng.normal(2, 0.5, 60)]
    model = _fit(
        sm.NormalMixture(2, sigma=[1.0, 0.5], engine="stanli"),
        y,
        chains=2,
        warmup=100,
        draws=100,
        show_progress=False,
    )
    assert model.relabel == "auto" and model.relabel_report_ is None
    text = render_report(model)
    # one column with pointwise log-likelihood: the LOO-PIT figure is shown
    captions = [
        html.unescape(c) for c in re.findall(r"<figcaption>([^<]*)</figcaption>", text)
    ]
    assert sum(c.startswith("Leave-one-out PIT: the empirical CDF") for c in captions)
    assert (
        '<p class="note">The draws were not relabelled: a setting of the model '
        "(such as known scales that differ) tells the components apart, so "
        "permuting their labels would change the model; the tables show the "
        "draws as sampled.</p>"
    ) in text
    assert "relabel=None" not in text


@pytest.mark.parametrize("bad", ["K=2", "a model", {"best": 2}])
def test_report_refuses_a_selection_not_from_select_components(
    optimized, tmp_path, bad
):
    given = optimized if bad == "a model" else bad
    with pytest.raises(sm.StanmixInputError) as info:
        write_report(optimized, tmp_path / "r.html", selection=given)
    assert str(info.value) == (
        "selection must be the result of stanmix.select_components (a "
        f"ComponentSelection), got {type(given).__name__}: pass the object "
        "select_components returned, or leave selection out"
    )
    assert os.listdir(tmp_path) == []


def test_report_selection_caption_of_an_optimize_sweep():
    X = sm.datasets.correlated(100, seed=1).X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        selection = sm.select_components(
            X,
            range(1, 3),
            estimator=sm.Mixture(engine="stanli"),
            method="optimize",
            seed=1,
        )
    text = render_report(selection.models_[selection.best_], selection=selection)
    captions = re.findall(r"<figcaption>([^<]*)</figcaption>", text)
    assert html.unescape(captions[0]) == (
        "BIC and ICL per K at the posterior mode (smaller is better); no "
        "expected log predictive density: method='optimize' gives point "
        f"estimates only. The dashed line marks the chosen K = {selection.best_}."
    )
    assert "one-SE bars" not in text
    assert "not the K the rule chose" not in text
    assert "<ul>" not in text.split("How many components")[1].split("<figure")[0]
    # A K's note (why its estimate is unreliable, say) is shown below the
    # table, and whether it collapsed is a column of it.
    selection.table_["note"] = ["", "K-fold cross-validation was not run: <why>"]
    part = render_report(selection.models_[selection.best_], selection=selection)
    part = part.split("How many components")[1].split("<figure")[0]
    assert "<th>collapsed</th>" in part
    assert "<li>K = 2: K-fold cross-validation was not run: &lt;why&gt;</li>" in part
    assert "<li>K = 1" not in part
    # Another K of the sweep: the page says it is not the one chosen.
    other = 3 - selection.best_
    text = render_report(selection.models_[other], selection=selection)
    assert (
        f"<strong>The rest of this report is of the fit with K = {other}, not "
        "the K the rule chose.</strong>"
    ) in text
    # A model fitted apart from the sweep is refused.
    apart = sm.Mixture(selection.best_, engine="stanli").fit(
        X, method="optimize", seed=1
    )
    with pytest.raises(sm.StanmixInputError, match="not one of the selection's"):
        render_report(apart, selection=selection)


def test_report_selection_table_shows_rhat_to_four_decimals():
    """A K whose largest R-hat is 1.0104 did not converge (the bar is 1.01):
    three decimals would print 1.010 beside converged False."""
    X = sm.datasets.correlated(100, seed=1).X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        selection = sm.select_components(
            X, [1, 2], estimator=sm.Mixture(engine="stanli"), method="optimize", seed=1
        )
    selection.table_["max_rhat"] = [1.0104, np.nan]
    text = render_report(selection.models_[selection.best_], selection=selection)
    table = next(
        t for t in _parse(text).tables if t and "max_rhat" in t[0] and "bic" in t[0]
    )
    column = table[0].index("max_rhat")
    assert [row[column] for row in table[2:]] == ["1.0104", ""]


def test_report_of_a_sweep_gives_the_fits_own_seed_and_the_sweeps():
    """A sweep derives each K's seed from its own; the report's seed is the
    fit's, said to be derived, and fitting that K alone with it gives the
    same fit again."""
    X = sm.datasets.correlated(100, seed=1).X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        selection = sm.select_components(
            X, [1, 2], estimator=sm.Mixture(engine="stanli"), method="optimize", seed=5
        )
        swept = selection.models_[2]
        alone = sm.Mixture(2, engine="stanli").fit(
            X, method="optimize", seed=swept.seed_
        )
    assert swept.seed_ != 5
    np.testing.assert_array_equal(alone.means_, swept.means_)
    seed_row = re.search(r"<th>Seed</th><td[^>]*>([^<]*)</td>", render_report(swept))
    assert seed_row.group(1) == str(swept.seed_)
    text = render_report(swept, selection=selection)
    seed_row = re.search(r"<th>Seed</th><td[^>]*>([^<]*)</td>", text)
    assert html.unescape(seed_row.group(1)) == (
        f"{swept.seed_} (this fit's own, derived from the sweep's seed 5; "
        "fitting this K alone with it gives this fit again)"
    )


_RIGHT = "Right: BIC and ICL at the posterior mode (smaller is better)."


@pytest.mark.parametrize(
    ("estimate", "converged", "bic", "expected"),
    [
        (
            ["loo", "loo"],
            [True, True],
            [300.0, 290.0],
            "Left: expected log predictive density per K (PSIS-LOO) with one-SE "
            f"bars. {_RIGHT}",
        ),
        (
            ["loo", "kfold"],
            [True, False],
            [300.0, 290.0],
            "Left: expected log predictive density per K (PSIS-LOO, or K-fold "
            "cross-validation where LOO was unreliable) with one-SE bars; red "
            f"circles mark fits that did not converge. {_RIGHT}",
        ),
        (  # kfold=None: the unreliable LOO stays, and no K-fold was run
            ["loo", "loo (unreliable)"],
            [True, True],
            [300.0, 290.0],
            "Left: expected log predictive density per K (PSIS-LOO, marked "
            "unreliable where its Pareto k were high) with one-SE bars. "
            f"{_RIGHT}",
        ),
        (  # one K's K-fold could not be made: it keeps its unreliable LOO
            ["kfold", "loo (unreliable)"],
            [True, True],
            [300.0, 290.0],
            "Left: expected log predictive density per K (PSIS-LOO, or K-fold "
            "cross-validation where LOO was unreliable; PSIS-LOO marked "
            "unreliable where K-fold could not be made) with one-SE bars. "
            f"{_RIGHT}",
        ),
        (
            ["kfold", "kfold"],
            [True, True],
            [np.nan, np.nan],
            "Left: expected log predictive density per K (K-fold "
            "cross-validation) with one-SE bars. Right: no BIC or ICL (no fit "
            "has a posterior mode).",
        ),
    ],
)
def test_report_selection_caption_names_what_the_sweep_shows(
    estimate, converged, bic, expected
):
    table = pd.DataFrame(
        {
            "elpd": [-310.0, -300.0],
            "se": [5.0, 5.0],
            "estimate": estimate,
            "converged": converged,
            "bic": bic,
            "icl": bic,
        },
        index=[1, 2],
    )
    selection = ComponentSelection(table, 2, "Chose K = 2.", {})
    assert report._selection_caption(selection) == (
        f"{expected} The dashed line marks the chosen K = 2."
    )


def test_the_data_line_quotes_a_column_name_holding_a_comma():
    """'Pb, ppb' and 'Cd' are two columns, as the command line lists them."""
    from stanmix.censoring import cell_table
    from stanmix.report import _data_line

    cells, _ = cell_table(pd.DataFrame({"Pb, ppb": [1.0, 2.0], "Cd": [3.0, 4.0]}))
    assert _data_line(cells) == (
        '2 observations of 2 columns ("Pb, ppb", Cd); every cell observed.'
    )


def test_rows_without_a_response_are_not_listed_as_uncertain(monkeypatch):
    """A regression's row with no response has the weights for its
    membership: neither counted nor listed among the least certain, in the
    table or in the figure beneath it, which shows the table's rows."""
    data = sm.datasets.regressions(120, seed=1)
    index = pd.Index([f"r{i}" for i in range(120)])
    X, y = data.X.set_axis(index), data.y.set_axis(index)
    y.iloc[:5] = np.nan
    model = sm.RegressionMixture(2, engine="stanli")
    model.fit(X, y, method="optimize", seed=1)
    drawn = []
    plot = report.plots.plot_membership

    def spied(*args, **kwargs):
        ax = plot(*args, **kwargs)
        drawn.append([t.get_text() for t in ax.get_yticklabels()])
        return ax

    monkeypatch.setattr(report.plots, "plot_membership", spied)
    part = render_report(model).split("least certain observations")[1]
    part = part.split("<figure")[0]
    listed = re.findall(r"<td>(r\d+)</td>", part)
    assert len(listed) == report.N_UNCERTAIN_ROWS
    assert not {"r0", "r1", "r2", "r3", "r4"} & set(listed)
    assert drawn == [listed]
    assert "of 115 observations (5 with no value, whose membership is" in part


def test_parameters_of_data_in_small_units_keep_three_significant_digits():
    """Means of a few thousandths were shown to three decimals, one or two
    significant digits (0.008 for 0.00781): the page's numbers must match
    the summary's to three significant digits whatever the data's units."""
    data = sm.datasets.mixture_sample(
        [0.5, 0.5], [[0.0, 0.0], [3.0, 2.0]], 1.0, 80, seed=5, columns=["u", "v"]
    )
    model = _fit(
        sm.DiagonalMixture(2, engine="stanli"),
        data.X * 1e-3 + 0.004,
        method="optimize",
    )
    summary = model.summary()
    table = next(t for t in _parse(render_report(model)).tables if t and "mode" in t[0])
    shown = {row[0]: float(row[1]) for row in table[1:]}
    assert list(shown) == list(summary.index)
    for name, value in summary["mode"].items():
        digit = 10.0 ** (np.floor(np.log10(abs(value))) - 2)  # the third one
        assert abs(shown[name] - value) <= 0.5 * digit * (1 + 1e-9), name


def test_report_names_an_hdi_probability_that_is_not_a_whole_percent(sampled):
    """hdi_prob=0.975 was called a 98% HDI (rounded to a whole percent) in
    the membership and separation sections."""
    page = render_report(copy.copy(sampled).set_params(hdi_prob=0.975))
    assert "97.5% HDI" in page and "the 97.5% HDIs of their means" in page
    assert "98%" not in page
