"""The embedded engine: stanli (stanc3 + Stan math + Stan's NUTS in-process)."""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from stanmix.engines._base import (
    FIXED_METRIC_MAX_WARMUP,
    MAX_TREEDEPTH,
    SAMPLE_OPTIONS,
    VARIATIONAL_OPTIONS,
    Engine,
    EngineResult,
    sampler_stats,
)
from stanmix.engines._columns import unflatten
from stanmix.exceptions import EngineUnavailableError
from stanmix.laplace import laplace_covariance

logger = logging.getLogger("stanmix")

MODELS_KEPT = 4  # built (program, data) pairs the engine keeps for reuse

# stanli runs only on the thread that loaded the library: from any other,
# its optimizer (and, for some programs, its gradient) crashes the process.
# So the engine remembers that thread and refuses calls from others (a Dask
# worker's second thread, a threading.Thread) with the way out, instead.
_loader: tuple[int, str] | None = None
_loader_lock = threading.Lock()


def _load_stanli():
    """The stanli module; the thread that loaded it is remembered (the main
    thread when it was loaded before stanmix asked for it)."""
    global _loader
    with _loader_lock:
        if _loader is None:
            if "stanli" in sys.modules:
                main = threading.main_thread()
                _loader = (main.ident or 0, main.name)
            else:
                here = threading.current_thread()
                _loader = (threading.get_ident(), here.name)
        import stanli

        return stanli


def _check_thread() -> None:
    """Refuse a stanli call from a thread other than the one that loaded it."""
    if _loader is None or threading.get_ident() == _loader[0]:
        return
    ended = not any(t.ident == _loader[0] for t in threading.enumerate())
    first = (
        f"stanli runs only on the thread that loaded it ({_loader[1]!r}), and "
        f"this fit runs on thread {threading.current_thread().name!r}"
    )
    if ended:
        raise EngineUnavailableError(
            f"{first}. That thread has ended, so no stanli fit can run in this "
            "process any more: restart Python, and make the first fit (or "
            "`import stanli`) on the main thread before any other thread fits; "
            "run parallel fits in processes (fit_many's n_jobs, joblib's "
            "default backend, or Dask workers with processes=True)"
        )
    raise EngineUnavailableError(
        f"{first}; run parallel fits in processes, one fit at a time in each: "
        "fit_many's n_jobs (joblib), or Dask workers with processes=True and "
        "threads_per_worker=1"
    )


class StanliEngine(Engine):
    """Runs the programs with stanli; ADVI is provided by :mod:`stanmix.advi`."""

    name = "stanli"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"variational_init_scale", "pathfinder", "threads"}
    )
    options: ClassVar[dict[str, frozenset[str]]] = {
        "optimize": frozenset({"iter"}),
        "variational": VARIATIONAL_OPTIONS | {"init_scale", "callback"},
        "sample": SAMPLE_OPTIONS,
    }

    def __init__(self) -> None:
        # stanli is loaded by the first call that uses it, not here: an
        # engine unpickled on a Dask worker's communication thread would
        # otherwise tie stanli to that thread, not to the one its tasks run on
        self._mir: dict[tuple[str, float], str] = {}
        self._models: dict[tuple, object] = {}
        # Free the kept builds while stanli is still loaded: at interpreter
        # exit its module globals go, and a model freed after that errs.
        atexit.register(self._models.clear)
        self._lock = threading.Lock()

    @property
    def _stanli(self):
        return _load_stanli()

    @property
    def version(self) -> str:
        return self._stanli.__version__

    # -- building ---------------------------------------------------------
    @staticmethod
    def _program_key(stan_file: Path) -> tuple[str, float]:
        stan_file = Path(stan_file)
        return (str(stan_file.resolve()), stan_file.stat().st_mtime)

    def _program(self, stan_file: Path) -> str:
        stan_file = Path(stan_file)
        key = self._program_key(stan_file)
        with self._lock:
            if key not in self._mir:
                self._mir[key] = self._stanli.stan_to_mir(
                    stan_file.read_text(), include_paths=[str(stan_file.parent)]
                )
            return self._mir[key]

    def compile(self, stan_file: Path, threads: bool = False) -> None:
        self._program(stan_file)  # one program serves any thread count

    def _model(self, stan_file: Path, data: Mapping):
        """The program built for this data, shared by the calls of a fit.

        stanli compiles a model for its data, which takes seconds where the
        data are large (a Student-t program with a thousand distinct
        detection limits: about 7 s), so the last few (program, data) pairs
        are kept: a fit's MAP starts, metric and sampler reuse one build.
        The programs draw nothing in transformed data, so the construction
        seed changes nothing (stanli rebuilds under a run's seed when
        transformed data draw).
        """
        _check_thread()
        key = (self._program_key(stan_file), _digest(data))
        with self._lock:
            model = self._models.pop(key, None)
        if model is None:
            model = self._stanli.Model(
                mir=self._program(stan_file), data=_jsonable(data)
            )
        with self._lock:
            self._models[key] = model  # most recently used last
            while len(self._models) > MODELS_KEPT:
                self._models.pop(next(iter(self._models)))
        return model

    # -- algorithms -------------------------------------------------------
    def n_unconstrained(self, stan_file: Path, data: Mapping) -> int:
        """Unconstrained parameters of the program with this data."""
        return int(self._model(stan_file, data).n_unconstrained)

    def optimize(self, stan_file, data, *, init, seed, jacobian=True, iter=2000):
        if not jacobian:
            raise EngineUnavailableError(
                "engine 'stanli' computes only the posterior mode "
                "(jacobian=True); the penalized maximum likelihood "
                "(jacobian=False) needs engine='cmdstan'"
            )
        model = self._model(stan_file, data)
        start = None if init is None else model.unconstrain(_jsonable(init))
        result = model.optimize(seed=int(seed), iter=int(iter), init=start)
        names = list(result.keys())
        values = np.array([result[n] for n in names])[None, None, :]
        return EngineResult(
            variables=unflatten(names, values),
            sample_stats={"lp": np.array([[result.lp]])},
            method="optimize",
            engine=self.name,
            engine_version=self.version,
            lp=float(result.lp),
            info={"jacobian": True},
        )

    def variational(
        self,
        stan_file,
        data,
        *,
        init,
        seed,
        algorithm="meanfield",
        draws=1000,
        laplace_start=False,
        show_progress=False,
        **options,
    ):
        from stanmix.advi import advi, laplace_scale

        program = self._program(stan_file)
        model = self._model(stan_file, data)
        bridge = self._stanli.bridgestan_model(
            mir=program, data=_jsonable(data), name=Path(stan_file).stem
        )
        if init is None:
            rng = np.random.default_rng(seed)
            start = rng.uniform(-2, 2, model.n_unconstrained)
        else:
            start = model.unconstrain(_jsonable(init))
        if "init_scale" in options:
            scale_kind = "given"
        else:
            scale = None
            if laplace_start:
                scale = laplace_scale(model.log_prob_grad, start, algorithm)
                if scale is None:
                    logger.info("ADVI: init is not a mode; starting from unit scale")
            options["init_scale"] = scale
            scale_kind = "identity" if scale is None else "laplace"
        with _advi_progress(options, show_progress):
            fit = advi(
                model.log_prob_grad,
                start,
                algorithm=algorithm,
                seed=int(seed),
                output_draws=int(draws),
                **options,
            )
        names = bridge.param_names(include_tp=True)
        constrained = np.array(
            [bridge.param_constrain(q, include_tp=True) for q in fit.draws]
        )
        lp = np.array([_log_density(model, q) for q in fit.draws])
        return EngineResult(
            variables=unflatten(names, constrained[None]),
            # log_g: the approximation's log density, as CmdStan's log_g__
            sample_stats={"lp": lp[None], "log_g": fit.log_density(fit.draws)[None]},
            method="variational",
            engine=self.name,
            engine_version=self.version,
            info={
                "algorithm": algorithm,
                "implementation": "stanmix.advi",
                "init_scale": scale_kind,
                "eta": fit.eta,
                "converged": fit.converged,
                "iterations": fit.iterations,
                "elbo": fit.elbo,
            },
        )

    def laplace_covariance(self, stan_file, data, point):
        mode = self.unconstrain(stan_file, data, point)
        return laplace_covariance(self._model(stan_file, data).log_prob_grad, mode)

    def unconstrain(self, stan_file, data, point) -> np.ndarray:
        """``point``'s constrained parameter values on this engine's
        unconstrained scale, in the program's parameter order."""
        model = self._model(stan_file, data)
        return np.asarray(model.unconstrain(_jsonable(point)), dtype=float)

    def sample(
        self,
        stan_file,
        data,
        *,
        chains,
        warmup,
        draws,
        seed,
        adapt_delta=0.95,
        metric="diag_e",
        inits=None,
        pathfinder_init=False,
        show_progress=False,
        adapt_metric=True,
        **options,
    ):
        # Stan's windowed adaptation replaces a given metric from 150 warmup
        # iterations on; below that stanli keeps it and tunes the step size.
        if not adapt_metric and int(warmup) > FIXED_METRIC_MAX_WARMUP:
            raise ValueError(
                f"adapt_metric=False needs warmup <= {FIXED_METRIC_MAX_WARMUP} "
                f"on stanli, got {warmup}"
            )
        model = self._model(stan_file, data)
        if "max_treedepth" in options:
            options["max_depth"] = options.pop("max_treedepth")
        kwargs = dict(
            chains=int(chains),
            seed=int(seed),
            delta=float(adapt_delta),
            metric=str(metric),
            warmup=int(warmup),
            samples=int(draws),
            **options,
        )
        if pathfinder_init:
            kwargs["pathfinder_init"] = {}
        elif inits is not None:
            kwargs["inits"] = np.array(
                [model.unconstrain(_jsonable(i)) for i in _per_chain(inits, chains)]
            )
        with _progress(self._stanli, chains, warmup + draws, show_progress) as refresh:
            fit = model.sample(refresh=refresh, **kwargs)
        columns = list(fit.names)
        variables = unflatten(columns, fit.draws())
        stats = sampler_stats(
            {
                col: fit.sampler_stats[:, :, i]
                for i, col in enumerate(self._stanli.SAMPLER_COLUMNS)
            }
        )
        return EngineResult(
            variables=variables,
            sample_stats=stats,
            method="sample",
            engine=self.name,
            engine_version=self.version,
            info={
                "pathfinder_init": bool(pathfinder_init),
                "step_size": np.asarray(fit.step_size),
                "inv_metric": fit.inv_metric,
                "warmup": int(warmup),
                "metric": str(metric),
                "adapt_metric": bool(adapt_metric),
                "max_treedepth": int(kwargs.get("max_depth", MAX_TREEDEPTH)),
            },
        )


@contextlib.contextmanager
def _advi_progress(options: dict, show: bool) -> Iterator[None]:
    """A tqdm bar over ADVI's iterations (at most ``options["iter"]``, full
    when ADVI stops at convergence) with the latest ELBO estimate, fed by
    the callback that ``options`` passes to :func:`stanmix.advi.advi`,
    which still calls the caller's own callback. Until the first iteration
    it says that eta is being chosen (when it is not given)."""
    if not show:
        yield
        return
    from tqdm.auto import tqdm

    from stanmix.advi import DEFAULT_ITER, check_callback

    given = options.get("callback")
    check_callback(given)  # before it is wrapped, where advi would check it
    # without eta, ADVI first tries several (adapt_iter iterations each)
    searching = options.get("eta") is None
    bar = tqdm(
        total=options.get("iter", DEFAULT_ITER),
        desc="ADVI: choosing eta" if searching else "ADVI",
        unit="it",
    )

    def advance(iteration: int, elbo: float | None) -> None:
        if iteration == 1 and searching:
            bar.set_description("ADVI", refresh=False)
        bar.update(iteration - bar.n)
        if elbo is not None:
            bar.set_postfix(elbo=f"{elbo:.6g}", refresh=False)
        if given is not None:
            given(iteration, elbo)

    options["callback"] = advance
    try:
        yield
        bar.total = bar.n  # ADVI converged, or reached iter: the bar is full
        bar.refresh()
    finally:
        bar.close()


def _log_density(model, q: np.ndarray) -> float:
    """The program's log density at the unconstrained point ``q``, or -inf
    where it cannot be evaluated there (a domain error): an approximation's
    draw outside the posterior's support, which has no weight.

    Examples
    --------
    >>> class Program:
    ...     def log_prob_grad(self, q):
    ...         if q[0] < 0:
    ...             raise RuntimeError("domain error")
    ...         return -0.5 * float(q[0]) ** 2, -q
    >>> [_log_density(Program(), np.array([x])) for x in (2.0, -1.0)]
    [-2.0, -inf]
    """
    try:
        return float(model.log_prob_grad(q)[0])
    except RuntimeError:
        return -np.inf


def _per_chain(inits, chains: int) -> Sequence[Mapping]:
    if isinstance(inits, Mapping):
        return [inits] * chains
    inits = list(inits)
    if len(inits) != chains:
        raise ValueError(f"got {len(inits)} inits for {chains} chains")
    return inits


def _digest(data: Mapping) -> bytes:
    """A hash of a program's data: names, types, shapes and values."""
    h = hashlib.blake2b(digest_size=20)
    for key in sorted(data):
        try:
            value = np.asarray(data[key])
        except ValueError:  # ragged nested lists
            value = None
        if value is None or value.dtype == object:
            text = json.dumps(data[key], default=lambda v: np.asarray(v).tolist())
            value = np.frombuffer(text.encode(), dtype=np.uint8)
        h.update(f"{key}:{value.dtype.str}:{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    return h.digest()


def _jsonable(data: Mapping) -> dict:
    """Arrays as nested lists so stanli's JSON encoder accepts every entry."""
    out = {}
    for key, value in data.items():
        if isinstance(value, np.ndarray):
            out[key] = value.tolist()
        elif isinstance(value, np.generic):
            out[key] = value.item()
        else:
            out[key] = value
    return out


@contextlib.contextmanager
def _progress(stanli, chains: int, iterations: int, show: bool) -> Iterator[int]:
    """A tqdm bar fed by stanli's per-chain progress reports.

    stanli reports progress through a module-level printer; while the bar is
    shown that printer is replaced by one that advances the bar, and the
    end-of-run report (the bar has shown it) is not printed.
    """
    printer = getattr(stanli, "_print_sample_progress", None)
    reporter = getattr(stanli, "_print_sample_reports", None)
    if not show or printer is None or reporter is None:
        yield 0
        return
    from tqdm.auto import tqdm

    refresh = max(1, iterations // 50)
    bar = tqdm(total=chains * iterations, desc="NUTS", unit="it")
    seen: dict[int, int] = {}
    lock = threading.Lock()

    def advance(chain_id, iteration, total, warmup):
        with lock:
            step = iteration - seen.get(chain_id, 0)
            seen[chain_id] = iteration
            bar.update(step)

    def quiet_report(reports, first_chain, samples, max_depth):
        return None

    stanli._print_sample_progress = advance
    stanli._print_sample_reports = quiet_report
    try:
        yield refresh
    finally:
        stanli._print_sample_progress = printer
        stanli._print_sample_reports = reporter
        bar.close()
