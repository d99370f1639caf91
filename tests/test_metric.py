"""The NUTS mass matrix: what metric="auto" chooses and that it reaches Stan."""

import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import RecordingEngine, Stop

import stanmix as sm
from stanmix.censoring import cell_table
from stanmix.inference.metric import DENSE_METRIC_MAX_PARAMS, plan_nuts

# Tests stop fits at the engine call and read the choices made before it.
pytestmark = pytest.mark.usefixtures("state_at_the_stop")


def _chosen_metric(model, X, **kwargs):
    """Run fit up to the sampler call and return the metric it was given."""
    engine = RecordingEngine(stop=("sample",))
    model.set_params(engine=engine)
    with pytest.raises(Stop):
        model.fit(X, seed=1, show_progress=False, **kwargs)
    assert model.metric_ == engine.calls["sample"]["metric"]
    return engine.calls["sample"]["metric"]


def _separated(k, d, n=200, gap=8.0, seed=0):
    """K clusters with unit scales whose means are ``gap`` apart in every column."""
    means = gap * np.arange(k)[:, None] + np.zeros((k, d))
    return sm.datasets.mixture_sample(np.full(k, 1 / k), means, 1.0, n, seed=seed).X


def test_auto_is_dense_for_small_separated_fits():
    # K means + K scales + K - 1 weights per dimension d: 2 K d + K - 1.
    model = sm.DiagonalMixture(3)  # 14 parameters
    assert _chosen_metric(model, _separated(3, 2)) == "dense_e"
    k, d = 5, 9  # 2*5*9 + 4 = 94 parameters, at the limit
    edge = sm.DiagonalMixture(k)
    assert _chosen_metric(edge, _separated(k, d)) == "dense_e"


def test_auto_is_diagonal_above_the_parameter_limit():
    k, d = 5, 10  # 2*5*10 + 4 = 104 > 100
    assert 2 * k * d + k - 1 > DENSE_METRIC_MAX_PARAMS
    big = sm.DiagonalMixture(k)
    assert _chosen_metric(big, _separated(k, d)) == "diag_e"


def test_auto_counts_latent_censored_cells_of_full_covariance():
    """Full covariance with censoring: with Student-t components the latent
    values of rows with two censored cells join the parameter count (3 * 2
    + 3 * 2 + 3 + 2 + 3 = 20, plus two per such row); normal components
    integrate a row's two censored cells, as any row's only one, which add
    nothing."""
    X = _separated(3, 2, n=400)
    # The lowest fifth in each column: about 60% of the lowest cluster, so
    # no cluster is mostly censored (which alone would choose diag_e).
    limits = {col: float(np.sort(X[col])[79]) for col in X}
    both = X.clip(lower=pd.Series(limits), axis=1)
    cells, _ = cell_table(both, lower_limit=limits)
    assert 20 + 2 * (cells.censored.sum(axis=1) == 2).sum() > DENSE_METRIC_MAX_PARAMS
    assert 17 <= DENSE_METRIC_MAX_PARAMS
    model = sm.Mixture(3, family="student_t", covariance="full")
    assert _chosen_metric(model, both, lower_limit=limits) == "diag_e"
    model = sm.Mixture(3, covariance="full")
    assert _chosen_metric(model, both, lower_limit=limits) == "dense_e"
    one = X.assign(x0=X["x0"].clip(lower=limits["x0"]))
    model = sm.Mixture(3, covariance="full")
    assert _chosen_metric(model, one, lower_limit={"x0": limits["x0"]}) == "dense_e"
    assert _chosen_metric(sm.Mixture(3, covariance="full"), _separated(3, 2)) == (
        "dense_e"
    )


def test_auto_is_diagonal_for_overlapping_components():
    # Means -1 and 1 with unit scales: at the MAP the average point is held
    # by its top component with probability about 0.8 (< 0.9).
    X = sm.datasets.two_components(100, seed=1).X
    assert _chosen_metric(sm.NormalMixture(2), X) == "diag_e"
    assert _chosen_metric(sm.NormalMixture(2), _separated(2, 1)) == "dense_e"


@pytest.mark.parametrize("init", ["kmeans", "pathfinder"])
def test_auto_is_diagonal_without_a_map(init):
    model = sm.DiagonalMixture(3)
    assert _chosen_metric(model, _separated(3, 2), init=init) == "diag_e"


def test_auto_is_diagonal_for_the_per_dimension_model():
    model = sm.DiagonalMixture(3, joint=False)
    assert _chosen_metric(model, _separated(3, 2)) == "diag_e"


@pytest.mark.parametrize("dense", [False, True])
def test_auto_takes_the_kind_of_a_given_inv_metric(dense):
    model = sm.DiagonalMixture(3)  # 14 parameters: auto would be dense
    given = np.eye(14) if dense else np.ones(14)
    chosen = _chosen_metric(model, _separated(3, 2), inv_metric=given)
    assert chosen == ("dense_e" if dense else "diag_e")


@pytest.mark.parametrize("metric", ["dense_e", "diag_e"])
def test_metric_reaches_the_sampler(metric):
    X = sm.datasets.two_components(100, seed=1).X
    model = sm.NormalMixture(2, engine="stanli")
    model.fit(X, seed=3, warmup=200, draws=100, metric=metric, show_progress=False)
    assert model.metric_ == metric
    assert model.idata_.posterior.attrs["metric"] == metric
    n = 2 + 2 + 1
    shape = (n, n) if metric == "dense_e" else (n,)
    inv_metrics = model.engine_result_info_["inv_metric"]
    assert len(inv_metrics) == 4
    for inv in inv_metrics:
        inv = np.asarray(inv)
        assert inv.shape == shape
        # Adapted, not left at the identity the warmup starts from.
        assert not np.allclose(inv, np.eye(n) if metric == "dense_e" else np.ones(n))
    # A later fit without NUTS leaves no metric behind.
    model.fit(X, seed=3, method="optimize")
    assert model.metric_ is None


def test_auto_is_diagonal_when_a_component_is_nearly_all_censored():
    """At a 30% detection limit the lowest of five blobs lies almost wholly
    below the limit in y (the case of test_diag_mixture's censoring warning):
    its y mean and scale rest on the prior, a wedge a dense metric follows
    badly. At a 5% limit no blob is mostly censored and dense stays."""
    data = sm.datasets.blobs(1000, seed=1)
    metrics = {}
    for share in (0.3, 0.05):
        X, limits = sm.datasets.left_censor(data.X, share)
        model = sm.DiagonalMixture(5)
        metrics[share] = _chosen_metric(model, X, lower_limit=limits)
    assert metrics == {0.3: "diag_e", 0.05: "dense_e"}


# -- how the metric is found: the Laplace approximation or windowed warmup ----


def _sampler_call(model, X, **kwargs):
    engine = RecordingEngine(stop=("sample",))
    model.set_params(engine=engine)
    with pytest.raises(Stop):
        model.fit(X, seed=1, show_progress=False, **kwargs)
    return model, engine.calls["sample"]


def _second_difference_precision(model_lp, q, step=1e-4):
    """-H by second differences of log density values (no gradients)."""
    n = q.size
    out = np.empty((n, n))
    eye = np.eye(n) * step
    for i in range(n):
        for j in range(n):
            out[i, j] = -(
                model_lp(q + eye[i] + eye[j])
                - model_lp(q + eye[i] - eye[j])
                - model_lp(q - eye[i] + eye[j])
                + model_lp(q - eye[i] - eye[j])
            ) / (4 * step**2)
    return out


class _LaplaceRecorder(RecordingEngine):
    """Also keeps where the Laplace covariance was taken, and the program."""

    def laplace_covariance(self, stan_file, data, point):
        self.calls["laplace"] = {"stan_file": stan_file, "data": data, "point": point}
        return super().laplace_covariance(stan_file, data, point)


def test_auto_holds_the_laplace_metric_fixed_for_separated_fits():
    """Well-separated components: the metric is inv(-H) at the MAP, held
    fixed, with 100 warmup iterations for the step size. Checked here with
    values of the log density only: the point is a maximum (no direction
    raises it) and -H agrees with second differences of the log density."""
    import stanli

    from stanmix.engines._stanli import _jsonable

    engine = _LaplaceRecorder(stop=("sample",))
    model = sm.DiagonalMixture(3, engine=engine)
    with pytest.raises(Stop):
        model.fit(_separated(3, 2), seed=1, show_progress=False)
    call, laplace = engine.calls["sample"], engine.calls["laplace"]
    assert model.adaptation_ == "laplace"
    assert call["adapt_metric"] is False and call["warmup"] == 100
    inv_metric = call["inv_metric"]
    assert inv_metric.shape == (14, 14)

    stan_model = stanli.Model(
        mir=engine._program(laplace["stan_file"]), data=_jsonable(laplace["data"])
    )
    q = np.asarray(stan_model.unconstrain(_jsonable(laplace["point"])), dtype=float)

    def lp(x):
        return float(stan_model.log_prob_grad(x)[0])

    rng = np.random.default_rng(0)
    for direction in rng.normal(size=(20, q.size)):
        step = 1e-3 * direction / np.linalg.norm(direction)
        assert lp(q + step) <= lp(q) and lp(q - step) <= lp(q)
    precision = _second_difference_precision(lp, q)
    np.testing.assert_allclose(inv_metric @ precision, np.eye(14), atol=2e-3)


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("warmup given", {"warmup": 300}),
        ("start not at the MAP", {"init": "kmeans"}),
        ("metric given", {"inv_metric": np.ones(14)}),
        ("unit metric", {"metric": "unit_e"}),
        ("asked for", {"adaptation": "windowed"}),
    ],
)
def test_auto_keeps_the_windowed_adaptation(case, kwargs):
    model, call = _sampler_call(sm.DiagonalMixture(3), _separated(3, 2), **kwargs)
    assert model.adaptation_ == "windowed", case
    assert call["adapt_metric"] is True
    assert call["warmup"] == kwargs.get("warmup", 1000)
    assert ("inv_metric" in call) == ("inv_metric" in kwargs)


def test_auto_keeps_the_windowed_adaptation_where_the_components_overlap():
    # Mean top membership about 0.8 at the MAP.
    X = sm.datasets.two_components(100, seed=1).X
    model, call = _sampler_call(sm.NormalMixture(2), X)
    assert (model.adaptation_, call["warmup"]) == ("windowed", 1000)
    # Asked for, the Laplace metric is used there too.
    model, call = _sampler_call(sm.NormalMixture(2), X, adaptation="laplace")
    assert (model.adaptation_, call["warmup"], call["adapt_metric"]) == (
        "laplace",
        100,
        False,
    )


def test_a_blob_nearly_all_censored_gets_the_diagonal_laplace_metric():
    """The pivot chart leaves such a posterior a diagonal metric can follow
    (docs/benchmarks.md, scenario (d)); the dense one is still not chosen."""
    data = sm.datasets.blobs(1000, seed=1)
    X, limits = sm.datasets.left_censor(data.X, 0.3)
    below = (X["y"] <= limits["y"]).to_numpy()
    assert max(below[data.labels == j].mean() for j in range(5)) > 0.95
    model, call = _sampler_call(sm.DiagonalMixture(5), X, lower_limit=limits)
    assert model.metric_ == "diag_e"
    assert (model.adaptation_, call["warmup"], call["adapt_metric"]) == (
        "laplace",
        100,
        False,
    )
    assert call["inv_metric"].shape == (24,)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"init": "kmeans"}, "needs init='map'"),
        ({"metric": "unit_e"}, "metric='unit_e' fixes"),
        ({"warmup": 150}, "at most 149 warmup iterations"),
        ({"inv_metric": np.ones(14)}, "pass one or the other"),
        ({"adaptation": "fixed"}, "adaptation"),
    ],
)
def test_laplace_adaptation_refuses_what_it_cannot_honour(kwargs, message):
    kwargs = {"adaptation": "laplace", **kwargs}
    engine = RecordingEngine(stop=("optimize", "sample"))
    with pytest.raises(sm.StanmixInputError, match=message):
        sm.DiagonalMixture(3, engine=engine).fit(_separated(3, 2), seed=1, **kwargs)
    assert engine.calls == {}


def test_laplace_metric_stays_fixed_and_samples_the_same_posterior():
    """The Laplace metric, held through a 100-iteration warmup, reaches every
    chain unchanged, and the draws agree with Stan's windowed adaptation:
    every posterior mean within 4 combined Monte Carlo standard errors."""
    import arviz as az

    X = _separated(3, 2, n=300, gap=5.0, seed=2)
    fits = {
        how: sm.DiagonalMixture(3, engine="stanli").fit(
            X, seed=5, draws=500, adaptation=how, show_progress=False
        )
        for how in ("laplace", "windowed")
    }
    laplace = fits["laplace"]
    assert laplace.idata_.posterior.attrs["adaptation"] == "laplace"
    assert laplace.engine_result_info_["warmup"] == 100
    metrics = [np.asarray(m) for m in laplace.engine_result_info_["inv_metric"]]
    for m in metrics[1:]:
        np.testing.assert_array_equal(m, metrics[0])
    assert not np.allclose(metrics[0], np.eye(14))
    assert fits["windowed"].engine_result_info_["warmup"] == 1000
    for name in ("w", "mu", "sigma"):
        draws = [f.idata_.posterior[name] for f in fits.values()]
        means = [d.mean(("chain", "draw")) for d in draws]
        mcse = [az.mcse(d.to_dataset(), method="mean")[name] for d in draws]
        z = np.abs(means[0] - means[1]) / np.sqrt(mcse[0] ** 2 + mcse[1] ** 2)
        assert float(z.max()) < 4.0, name
    assert int(laplace.idata_.sample_stats["diverging"].sum()) == 0


def test_laplace_metric_is_taken_in_the_draws_chart():
    """The largest component on top: the draws step from it (pivot 3), while
    the MAP ran in the plain ordered chart (pivot 1). The Laplace metric is
    computed at the mode in the draws' chart, and NUTS starts from it."""
    means = 8.0 * np.arange(3)[:, None] + np.zeros((3, 2))
    X = sm.datasets.mixture_sample([0.2, 0.3, 0.5], means, 1.0, 300, seed=0).X

    class Spy(RecordingEngine):
        def laplace_covariance(self, stan_file, data, point):
            self.calls["laplace"] = {"pivot": data["pivot"], "point": point}
            return super().laplace_covariance(stan_file, data, point)

    engine = Spy(stop=())
    model = sm.DiagonalMixture(3, engine=engine).fit(
        X, seed=1, draws=100, show_progress=False
    )
    seen = engine.calls["laplace"]
    assert model.adaptation_ == "laplace" and seen["pivot"] == 3
    point = seen["point"]
    assert len(point["mu_anchor_ordered"]) == 1
    m = np.sort(np.asarray(model.map_["mu"])[:, model.anchor_])
    np.testing.assert_allclose(
        np.asarray(point["mu_anchor_below"]) * model.scale_[model.anchor_],
        [m[2] - m[1], m[2] - m[0]],
        rtol=1e-6,
    )


def test_laplace_metric_is_dense_whatever_the_warmup():
    """The per-parameter warmup floor is for a metric estimated from warmup
    draws; the Laplace metric comes from the curvature at the MAP, so a
    short warmup asked for with it keeps the dense metric (the windowed
    adaptation with a warmup below the floor does not)."""
    X = _separated(3, 4)  # 26 parameters: a dense metric needs 260 warmup
    model, call = _sampler_call(
        sm.DiagonalMixture(3), X, adaptation="laplace", warmup=149
    )
    assert (model.metric_, call["warmup"]) == ("dense_e", 149)
    assert call["inv_metric"].shape == (26, 26)
    model, call = _sampler_call(
        sm.DiagonalMixture(3), X, adaptation="windowed", warmup=200
    )
    assert (model.metric_, call["warmup"]) == ("diag_e", 200)
    assert "inv_metric" not in call


# -- a warmup too short for the windowed adaptation ---------------------------


def _short_warmup_warnings(caught) -> list[str]:
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, RuntimeWarning)
        and "warmup iterations (warmup=" in str(w.message)
    ]


def _recorded_call(model, X, **kwargs):
    """Like _sampler_call, with the warnings the fit gave before the sampler."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, call = _sampler_call(model, X, **kwargs)
    return model, call, _short_warmup_warnings(caught)


@pytest.mark.parametrize("warmup", [0, 100, 149])
def test_auto_takes_the_laplace_metric_for_a_warmup_below_150(warmup):
    """stanli's windowed adaptation estimates no metric from fewer than 150
    warmup iterations, so a shorter warmup takes the Laplace metric, held
    fixed through that warmup, even where the components overlap (where a
    longer warmup would be windowed)."""
    overlapping = sm.datasets.two_components(100, seed=1).X
    for X, model in (
        (_separated(3, 2), sm.DiagonalMixture(3)),
        (overlapping, sm.NormalMixture(2)),
    ):
        model, call, said = _recorded_call(model, X, warmup=warmup)
        assert (model.adaptation_, call["warmup"], call["adapt_metric"]) == (
            "laplace",
            warmup,
            False,
        )
        assert model.metric_ == call["metric"]
        assert call["inv_metric"].ndim == (2 if model.metric_ == "dense_e" else 1)
        assert said == []
    model, call, said = _recorded_call(sm.NormalMixture(2), overlapping, warmup=150)
    assert (model.adaptation_, call["adapt_metric"]) == ("windowed", True)
    assert said == []


def test_a_windowed_warmup_below_150_warns_and_says_the_metric_is_the_identity():
    model, call, said = _recorded_call(
        sm.DiagonalMixture(3), _separated(3, 2), adaptation="windowed", warmup=100
    )
    assert said == [
        "the metric cannot adapt with fewer than 150 warmup iterations "
        "(warmup=100): Stan's windowed adaptation on engine 'stanli' estimates "
        "none from fewer, so the chains run on the identity metric "
        "(metric_='unit_e', adaptation_='none') and only the step size is "
        "tuned; set warmup=150 or more, or use adaptation='laplace' (the metric "
        "from the curvature at the MAP, which needs only a short warmup)"
    ]
    assert (model.adaptation_, model.metric_) == ("none", "unit_e")
    assert (call["metric"], call["warmup"], call["adapt_metric"]) == (
        "unit_e",
        100,
        True,
    )
    assert "inv_metric" not in call


def test_a_short_warmup_without_a_map_warns_and_names_the_way_to_one():
    model, call, said = _recorded_call(
        sm.DiagonalMixture(3), _separated(3, 2), init="kmeans", warmup=120
    )
    assert len(said) == 1
    assert said[0].endswith(
        "set warmup=150 or more, or use init='map' with adaptation='laplace' "
        "(the metric from the curvature at the MAP, which needs only a short "
        "warmup)"
    )
    assert (model.adaptation_, model.metric_, call["metric"]) == (
        "none",
        "unit_e",
        "unit_e",
    )


def test_a_short_warmup_keeps_a_given_inv_metric_and_says_so():
    given = np.full(14, 0.5)
    model, call, said = _recorded_call(
        sm.DiagonalMixture(3), _separated(3, 2), inv_metric=given, warmup=100
    )
    assert len(said) == 1
    assert (
        "so the chains run on the given inv_metric, unchanged (adaptation_='none') "
        "and only the step size is tuned; set warmup=150 or more" in said[0]
    )
    assert "adaptation='laplace'" not in said[0]
    assert (model.adaptation_, model.metric_, call["metric"]) == (
        "none",
        "diag_e",
        "diag_e",
    )
    np.testing.assert_array_equal(call["inv_metric"], given)


def test_the_unit_metric_asked_for_with_a_short_warmup_is_not_a_warning():
    model, call, said = _recorded_call(
        sm.DiagonalMixture(3), _separated(3, 2), metric="unit_e", warmup=100
    )
    assert said == []
    assert (model.adaptation_, model.metric_, call["metric"]) == (
        "windowed",
        "unit_e",
        "unit_e",
    )


def test_adaptation_turned_off_is_reported_as_no_adaptation_without_a_warning():
    model, call, said = _recorded_call(
        sm.DiagonalMixture(3),
        _separated(3, 2),
        adaptation="windowed",
        warmup=300,
        adapt_engaged=False,
    )
    assert said == []
    assert (model.adaptation_, model.metric_, call["metric"]) == (
        "none",
        "unit_e",
        "unit_e",
    )


class _CmdStanNamed(RecordingEngine):
    """A recording engine under CmdStan's name, whose windowed adaptation
    shrinks its windows to fit warmups from 20 iterations on."""

    name = "cmdstan"


def test_cmdstan_keeps_the_windowed_adaptation_down_to_20_warmup_iterations():
    def call(**kwargs):
        engine = _CmdStanNamed(stop=("sample",))
        model = sm.DiagonalMixture(3, engine=engine)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(Stop):
                model.fit(_separated(3, 2), seed=1, show_progress=False, **kwargs)
        sampled = engine.calls["sample"]
        return model, sampled, _short_warmup_warnings(caught)

    model, sampled, said = call(warmup=100)
    assert (model.adaptation_, sampled["adapt_metric"], said) == (
        "windowed",
        True,
        [],
    )
    model, sampled, said = call(warmup=19)
    assert (model.adaptation_, sampled["adapt_metric"], said) == (
        "laplace",
        False,
        [],
    )
    model, sampled, said = call(adaptation="windowed", warmup=19)
    assert (model.adaptation_, model.metric_, sampled["metric"]) == (
        "none",
        "unit_e",
        "unit_e",
    )
    assert len(said) == 1
    assert said[0].startswith(
        "the metric cannot adapt with fewer than 20 warmup iterations "
        "(warmup=19): Stan's windowed adaptation on engine 'cmdstan'"
    )


def test_a_short_warmup_samples_on_the_metric_it_reports():
    """On stanli, 100 warmup iterations: by default the Laplace metric
    reaches every chain unchanged; the windowed adaptation asked for leaves
    the chains on the identity, and the fit's records say so."""
    X = sm.datasets.blobs(150, seed=1).X
    run = dict(seed=1, chains=2, warmup=100, draws=100, show_progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        auto = sm.DiagonalMixture(3, engine="stanli").fit(X, **run)
        windowed = sm.DiagonalMixture(3, engine="stanli").fit(
            X, adaptation="windowed", **run
        )
    assert (auto.adaptation_, auto.metric_) == ("laplace", "dense_e")
    assert auto.idata_.posterior.attrs["adaptation"] == "laplace"
    metrics = [np.asarray(m) for m in auto.engine_result_info_["inv_metric"]]
    assert metrics[0].shape == (14, 14) and not np.allclose(metrics[0], np.eye(14))
    np.testing.assert_array_equal(metrics[1], metrics[0])
    assert (windowed.adaptation_, windowed.metric_) == ("none", "unit_e")
    assert windowed.idata_.posterior.attrs["adaptation"] == "none"
    assert windowed.idata_.posterior.attrs["metric"] == "unit_e"
    assert windowed.engine_result_info_["metric"] == "unit_e"
    # The identity metric needs far smaller steps than the Laplace one.
    steps = [f.engine_result_info_["step_size"] for f in (auto, windowed)]
    assert np.min(steps[0]) > 5 * np.max(steps[1])


class _NoCurvature(RecordingEngine):
    """An engine whose Laplace approximation finds no positive-definite
    curvature at the MAP."""

    def laplace_covariance(self, stan_file, data, point):
        return None


@pytest.mark.parametrize("asked", [True, False])
def test_without_a_laplace_metric_the_windowed_adaptation_takes_over(asked):
    engine = _NoCurvature(stop=("sample",))
    model = sm.DiagonalMixture(3, engine=engine)
    kwargs = {"adaptation": "laplace"} if asked else {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(Stop):
            model.fit(_separated(3, 2), seed=1, show_progress=False, **kwargs)
    call = engine.calls["sample"]
    assert model.adaptation_ == "windowed"
    assert (call["warmup"], call["adapt_metric"]) == (1000, True)
    assert "inv_metric" not in call
    said = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    # Asked for, the fall-back is a warning; chosen by "auto", a log line.
    assert len(said) == int(asked)
    if asked:
        assert said[0].startswith(
            "the log density's curvature at the MAP is not positive definite, so "
            "the Laplace approximation gives no metric"
        )


_PLAN = dict(
    metric="auto",
    warmup=None,
    inv_metric=None,
    adapt_engaged=True,
    engine="stanli",
    n_unconstrained=3,
    separation=0.99,
    mostly_censored=False,
    at_map=True,
)


def test_the_plan_computes_the_laplace_covariance_only_where_it_is_taken():
    calls = []
    covariance = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.0], [0.0, 0.0, 3.0]])

    def laplace():
        calls.append(1)
        return covariance

    windowed = plan_nuts(adaptation="windowed", laplace=laplace, **_PLAN)
    assert calls == [] and windowed.inv_metric is None and windowed.adapt_metric
    diagonal = plan_nuts(
        adaptation="auto", laplace=laplace, **dict(_PLAN, metric="diag_e")
    )
    assert calls == [1]
    assert (diagonal.adaptation, diagonal.warmup) == ("laplace", 100)
    np.testing.assert_array_equal(diagonal.inv_metric, [2.0, 1.0, 3.0])
    assert not diagonal.adapt_metric and diagonal.warnings == ()


def test_a_laplace_metric_asked_for_and_not_had_is_not_offered_again():
    # The curvature is not positive definite and the warmup is too short for
    # the windowed adaptation that replaces it: both are said, and the short
    # warmup's advice does not send the user back to the Laplace metric.
    plan = plan_nuts(
        adaptation="laplace", laplace=lambda: None, **dict(_PLAN, warmup=100)
    )
    assert (plan.adaptation, plan.metric, plan.inv_metric) == ("none", "unit_e", None)
    assert len(plan.warnings) == 2 and plan.notes == plan.warnings[:1]
    assert "not positive definite" in plan.warnings[0]
    assert plan.warnings[1].endswith("set warmup=150 or more")
    # Without a mode, the advice is to start from one.
    plan = plan_nuts(
        adaptation="windowed", laplace=None, **dict(_PLAN, warmup=100, at_map=False)
    )
    assert "init='map' with adaptation='laplace'" in plan.warnings[0]
