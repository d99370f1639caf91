"""The reference engine: CmdStan through cmdstanpy."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import re
import shutil
import tempfile
import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from stanmix._validation import caller_level
from stanmix.engines._base import (
    MAX_TREEDEPTH,
    SAMPLE_OPTIONS,
    VARIATIONAL_OPTIONS,
    Engine,
    EngineResult,
    LaplaceUnavailableError,
    sampler_stats,
)
from stanmix.engines._columns import unflatten
from stanmix.exceptions import EngineUnavailableError, StanmixInputError

#: Suffixes of the files the programs include.
INCLUDES = (".stanfunctions", ".standata")


def cache_dir() -> Path:
    """Where compiled CmdStan executables are kept between processes.

    ``$STANMIX_CACHE`` if set, else ``$XDG_CACHE_HOME/stanmix`` or
    ``~/.cache/stanmix``.
    """
    root = os.environ.get("STANMIX_CACHE")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stanmix"


def _first_lines(text: str, lines: int = 6) -> str:
    """The first ``lines`` non-empty lines of ``text``, joined by " | "."""
    kept = [line.strip() for line in text.splitlines() if line.strip()]
    more = " | ..." if len(kept) > lines else ""
    return " | ".join(kept[:lines]) + more


def _cache_error(folder: Path, exc: OSError) -> StanmixInputError:
    """The error for a cache folder that cannot be created or written to."""
    root = os.environ.get("STANMIX_CACHE")
    if root:
        where = f"STANMIX_CACHE={root!r}"
        fix = (
            "set STANMIX_CACHE to a folder you can write to (for example "
            "~/.cache/stanmix), or unset it to use the default"
        )
    else:
        where = f"the default cache folder {str(cache_dir())!r}"
        fix = "set STANMIX_CACHE to a folder you can write to"
    reason = exc.strerror or str(exc)
    return StanmixInputError(
        f"cannot keep compiled CmdStan programs in {where}: creating "
        f"{str(folder)!r} failed ({type(exc).__name__}: {reason}); {fix}"
    )


@dataclass(frozen=True, eq=False)
class ADVITranscript:
    """What CmdStan's ADVI reports in its console transcript.

    Attributes
    ----------
    converged : bool
        False when CmdStan says "The algorithm may not have converged" (it
        stopped at the maximum number of iterations).
    iterations : int
        Stochastic-gradient iterations run (eta adaptation excluded): the
        iteration of the last ELBO evaluation when the run converged, else
        ``max_iter``.
    elbo : ndarray, shape (n_evals,)
        The ELBO estimate at each evaluation in the transcript's table.
    elbo_iterations : ndarray of int, shape (n_evals,)
        The iteration of each ELBO estimate.
    max_iter : int or None
        The run's ``iter`` setting; None when the transcript has no header.
    tol_rel_obj : float or None
        The run's ``tol_rel_obj`` setting; None when the transcript has no
        header.
    """

    converged: bool
    iterations: int
    elbo: np.ndarray
    elbo_iterations: np.ndarray
    max_iter: int | None
    tol_rel_obj: float | None


_NOT_CONVERGED = "The algorithm may not have converged"
_ELBO_HEADER = re.compile(r"^\s*iter\s+ELBO\s+delta_ELBO_mean\b.*$", re.M)
_ELBO_ROW = re.compile(r"^\s*(\d+)\s+(\S+)\s+\S+\s+\S+")
_SETTING = re.compile(r"^(\s+)(iter|tol_rel_obj) = (\S+)")
_ETA = re.compile(r"^#\s+eta = (\S+)")


def read_variational_csv(text: str) -> tuple[list[str], np.ndarray, float]:
    """Column names, draws and eta from a CmdStan ADVI output CSV.

    Parameters
    ----------
    text : str
        The Stan CSV written by CmdStan's ``method=variational``.

    Returns
    -------
    names : list of str
        The column names (``lp__``, ``log_p__``, ``log_g__``, then the
        program's variables, flattened as Stan writes them).
    draws : ndarray, shape (draws, n_columns)
        The approximate draws; the approximation's mean, which CmdStan
        writes as the first row, is left out.
    eta : float
        The step-size scale used: the adapted one when the eta search ran,
        else the ``eta`` setting.

    Examples
    --------
    >>> names, draws, eta = read_variational_csv(
    ...     "# method = variational\\n#     eta = 0.05\\n"
    ...     "lp__,log_p__,log_g__,mu\\n0,0,0,1.5\\n0,-3.2,-0.9,1.25\\n"
    ... )
    >>> names, draws.tolist(), eta
    (['lp__', 'log_p__', 'log_g__', 'mu'], [[0.0, -3.2, -0.9, 1.25]], 0.05)
    """
    lines = text.splitlines()
    comments = [line for line in lines if line.startswith("#")]
    rows = [line for line in lines if line.strip() and not line.startswith("#")]
    if not rows:
        raise ValueError("the CmdStan ADVI output has no header line")
    names = rows[0].strip().split(",")
    values = np.loadtxt(rows[1:], delimiter=",", dtype=float, ndmin=2).reshape(
        -1, len(names)
    )
    eta = math.nan
    for i, line in enumerate(comments):
        found = _ETA.match(line)
        if found is not None:
            eta = float(found[1])
        if line.startswith("# Stepsize adaptation complete") and i + 1 < len(comments):
            adapted = _ETA.match(comments[i + 1])
            if adapted is not None:
                return names, values[1:], float(adapted[1])
    return names, values[1:], eta


def parse_advi_transcript(text: str) -> ADVITranscript:
    """Read convergence and the ELBO trace from a CmdStan ADVI transcript.

    Parameters
    ----------
    text : str
        The console output of CmdStan's ``method=variational`` (cmdstanpy
        keeps it in ``fit.runset.stdout_files[0]``).

    Returns
    -------
    ADVITranscript
        Convergence flag, iterations run, the ELBO table, and the run's
        ``iter`` and ``tol_rel_obj`` settings.

    Examples
    --------
    >>> text = "\\n".join([
    ...     "method = variational",
    ...     "  variational",
    ...     "    iter = 200",
    ...     "    adapt",
    ...     "      iter = 50 (Default)",
    ...     "    tol_rel_obj = 0.01 (Default)",
    ...     "  iter     ELBO   delta_ELBO_mean   delta_ELBO_med   notes",
    ...     "   100   -904.3             1.000            1.000",
    ...     "   200   -676.2             0.669            1.000",
    ...     "The algorithm may not have converged.",
    ... ])
    >>> run = parse_advi_transcript(text)
    >>> run.converged, run.iterations, run.elbo.tolist(), run.max_iter
    (False, 200, [-904.3, -676.2], 200)
    """
    max_iter: int | None = None
    tol_rel_obj: float | None = None
    header = _ELBO_HEADER.search(text)
    settings = text if header is None else text[: header.start()]
    for line in settings.splitlines():
        if line.startswith("id =") or line.startswith("Begin"):
            break
        match = _SETTING.match(line)
        if match is None:
            continue
        # ADVI's own iter comes first; adapt's iter follows, indented deeper.
        if match[2] == "iter" and max_iter is None:
            max_iter = int(match[3])
        elif match[2] == "tol_rel_obj":
            tol_rel_obj = float(match[3])
    iterations: list[int] = []
    elbo: list[float] = []
    if header is not None:
        for line in text[header.end() :].splitlines()[1:]:
            row = _ELBO_ROW.match(line)
            if row is None:
                break
            try:
                value = float(row[2])
            except ValueError:
                break
            iterations.append(int(row[1]))
            elbo.append(value)
    converged = _NOT_CONVERGED not in text
    if not converged and max_iter is not None:
        ran = max_iter
    else:
        ran = iterations[-1] if iterations else 0
    return ADVITranscript(
        converged=converged,
        iterations=ran,
        elbo=np.asarray(elbo, dtype=float),
        elbo_iterations=np.asarray(iterations, dtype=int),
        max_iter=max_iter,
        tol_rel_obj=tol_rel_obj,
    )


#: Significant digits CmdStan writes to its CSV files: enough to read every
#: double back exactly (its default of 6 leaves, e.g., a MAP simplex summing
#: to 1.000001, which no program accepts as a start).
SIG_FIGS = 17


def adaptation_settings(
    *, adapt_delta: float, adapt_metric: bool, warmup: int, adapt_engaged: bool
) -> dict[str, float | int]:
    """The NUTS adaptation arguments for cmdstanpy's ``sample``.

    Parameters
    ----------
    adapt_delta : float
        Target acceptance statistic of the step-size adaptation.
    adapt_metric : bool
        False holds the given metric fixed: no initial buffer and no metric
        window, so Stan tunes only the step size, throughout the warmup.
    warmup : int
        Warmup iterations.
    adapt_engaged : bool
        False turns adaptation off; CmdStan then refuses every adaptation
        setting, so none is passed.

    Returns
    -------
    dict
        Keyword arguments (``adapt_delta``, ``adapt_init_phase``, ...).

    Examples
    --------
    >>> adaptation_settings(
    ...     adapt_delta=0.9, adapt_metric=True, warmup=200, adapt_engaged=False
    ... )
    {}
    """
    if not adapt_engaged:
        return {}
    settings: dict[str, float | int] = {"adapt_delta": float(adapt_delta)}
    if not adapt_metric:
        settings.update(
            adapt_init_phase=0, adapt_metric_window=0, adapt_step_size=int(warmup)
        )
    return settings


#: cmdstanpy's INFO lines that mark a run's or a chain's start and end.
_PROGRESS_LINE = re.compile(r"(Chain \[\d+\]|CmdStan) (start|done) processing\.?")


class _CmdStanPyChatter(logging.Filter):
    """Drops, while any stanmix call runs (:func:`_in_stanmix_terms`), what
    cmdstanpy logs about a run that stanmix says in its own terms: the start
    and done lines of the run and of each chain, its sampler-diagnostics
    summary (stanmix warns of divergences and tree depth itself, with
    ``convergence_``), and
    its advice to pass ``show_console`` or call ``diagnose()``, neither of
    which is stanmix's. Everything else passes: compilation notes, CmdStan's
    own messages, and the DEBUG records (the console transcripts)."""

    def __init__(self) -> None:
        super().__init__()
        self.active = 0
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.active:
            return True
        text = record.getMessage()
        if record.levelno == logging.INFO:
            return not _PROGRESS_LINE.fullmatch(text)
        if record.levelno < logging.WARNING:
            return True
        if '"diagnose()"' in text:
            return False
        advice = text.find("\nConsider re-running with show_console=True")
        if advice >= 0:
            record.msg, record.args = text[:advice], ()
        return True


_CHATTER = _CmdStanPyChatter()


@contextlib.contextmanager
def _in_stanmix_terms():
    """A cmdstanpy call, speaking stanmix's terms: its log without the
    chatter :class:`_CmdStanPyChatter` drops, and its errors with CmdStan's
    own text but without cmdstanpy's listing of the run's files (removed with
    their temporary folder by then) and its advice to pass ``show_console``.

    >>> with _in_stanmix_terms():  # doctest: +ELLIPSIS
    ...     raise RuntimeError("Error during sampling:\\nbad init\\n"
    ...                        "Command and output files:\\nRunSet: ...")
    Traceback (most recent call last):
    ...
    RuntimeError: Error during sampling:
    bad init
    """
    logger = logging.getLogger("cmdstanpy")
    with _CHATTER.lock:
        if _CHATTER not in logger.filters:
            logger.addFilter(_CHATTER)
        _CHATTER.active += 1
    try:
        yield
    except RuntimeError as err:
        text = str(err)
        cut = text.find("\nCommand and output files:")
        if cut < 0:
            raise
        raise RuntimeError(text[:cut]) from err
    finally:
        with _CHATTER.lock:
            _CHATTER.active -= 1


def simplex_parameters(program: str) -> list[str]:
    """The names of the simplexes declared in a program's parameters block.

    >>> simplex_parameters(
    ...     "data { simplex[3] d; }\\nparameters {\\n  simplex[K] w;\\n"
    ...     "  real mu;\\n}\\ntransformed parameters { simplex[K] v = w; }")
    ['w']
    """
    block = re.search(r"(?<!transformed )\bparameters\s*\{(.*?)\n\}", program, re.S)
    if block is None:
        return []
    return re.findall(r"^\s*simplex\[[^\]]*\]\s+(\w+)\s*;", block[1], re.M)


def stick_breaking(y: np.ndarray) -> np.ndarray:
    """The simplex of unconstrained values ``y`` (K - 1) under CmdStan
    2.35's stick-breaking transform: z_k = logistic(y_k - log(K - k)),
    w_k = z_k (1 - w_1 - ... - w_{k-1}), w_K the rest (so y = 0 is the
    uniform simplex).

    >>> np.round(stick_breaking(np.array([-np.log(2), np.log(0.6)])), 6).tolist()
    [0.2, 0.3, 0.5]
    """
    k = y.size + 1
    z = 1 / (1 + np.exp(-(y - np.log(k - np.arange(1, k)))))
    w = np.empty(k)
    left = 1.0
    for i, share in enumerate(z):
        w[i] = share * left
        left -= w[i]
    w[-1] = left
    return w


def stick_breaking_inverse(w: np.ndarray) -> np.ndarray:
    """CmdStan 2.35's unconstrained values of the simplex ``w`` (the inverse
    of :func:`stick_breaking`).

    >>> np.round(stick_breaking_inverse(np.array([0.2, 0.3, 0.5])), 4).tolist()
    [-0.6931, -0.5108]
    """
    k = w.size
    left = 1 - np.concatenate([[0.0], np.cumsum(w[:-2])])
    z = w[:-1] / left
    return np.log(z / (1 - z)) + np.log(k - np.arange(1, k))


#: Step of the central differences between the two charts of a simplex.
CHART_STEP = 1e-5


def simplex_chart_change(unconstrain, point, simplexes, size) -> np.ndarray:
    """The Jacobian (size x size) from another engine's unconstrained values
    to CmdStan 2.35's at ``point``, where the two differ only in the charts
    of the ``simplexes`` (the embedded engine's isometric log-ratio against
    CmdStan's stick-breaking); ``unconstrain`` gives the other engine's
    values of a point. A covariance on the other engine's scale maps to
    CmdStan's as J C J^T. Identity where there is no simplex of two or more.
    """
    chart = np.eye(size)
    for name in simplexes:
        w = np.asarray(point[name], dtype=float).ravel()
        if w.size < 2:
            continue
        with np.errstate(divide="ignore"):
            y = stick_breaking_inverse(w)
        if not np.isfinite(y).all():
            continue  # a weight of 0 exactly: no chart there; left as it is
        columns = []
        for j in range(y.size):
            step = np.zeros(y.size)
            step[j] = CHART_STEP
            ends = [
                unconstrain({**point, name: stick_breaking(y + sign * step)})
                for sign in (1, -1)
            ]
            columns.append((ends[0] - ends[1]) / (2 * CHART_STEP))
        other_by_ours = np.stack(columns, axis=1)  # d(other) / d(CmdStan's)
        rows = np.flatnonzero(np.abs(other_by_ours).max(axis=1) > 0)
        if rows.size != y.size:
            raise RuntimeError(f"cannot place simplex {name!r} in the metric")
        chart[np.ix_(rows, rows)] = np.linalg.inv(other_by_ours[rows])
    return chart


def init_file_values(init):
    """Inits as CmdStan reads them: each init's zero-size entries left out.
    JSON writes an empty array as ``[]``, one dim, which CmdStan refuses
    for a parameter declared with more (a matrix with no rows), and there
    is nothing in it to start.

    >>> init_file_values({"mu": np.zeros(2), "gamma_rest": np.empty((0, 0))})
    {'mu': array([0., 0.])}
    >>> init_file_values(None) is None
    True
    """
    if init is None:
        return None
    if isinstance(init, Mapping):
        return {name: value for name, value in init.items() if np.size(value)}
    return [init_file_values(one) for one in init]


class CmdStanEngine(Engine):
    """Runs the programs with CmdStan: L-BFGS, ADVI, Pathfinder, NUTS."""

    name = "cmdstan"
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {"penalized_mle", "pathfinder", "threads"}
    )
    options: ClassVar[dict[str, frozenset[str]]] = {
        "optimize": frozenset({"iter"}),
        "variational": VARIATIONAL_OPTIONS,
        "sample": SAMPLE_OPTIONS,
    }

    def __init__(self) -> None:
        import cmdstanpy

        self._cmdstanpy = cmdstanpy
        self._models: dict[str, object] = {}
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        """CmdStan's full version (``2.35.0``), as the ``stan_version_*``
        lines of its CSV files give it to :func:`~stanmix.from_cmdstan_csv`:
        from the installation's makefile, else cmdstanpy's major.minor."""
        with contextlib.suppress(ValueError, OSError):
            makefile = Path(self._cmdstanpy.cmdstan_path()) / "makefile"
            found = re.search(
                r"^CMDSTAN_VERSION\s*:?=\s*(\S+)",
                makefile.read_text(encoding="utf-8", errors="replace"),
                re.MULTILINE,
            )
            if found:
                return found.group(1)
        short = self._cmdstanpy.cmdstan_version()
        return ".".join(map(str, short)) if short else "unknown"

    def _installation_folder(self) -> str:
        """The cache folder's name for this CmdStan installation: its version
        and a hash of its resolved path. An executable links to its own
        installation's libraries (TBB), so one built against another
        installation of the same version is not reused: it would fail to start
        once that installation moves or goes."""
        version = "-".join(map(str, self._cmdstanpy.cmdstan_version() or ("x",)))
        try:
            where = str(Path(self._cmdstanpy.cmdstan_path()).resolve())
        except (ValueError, OSError):
            where = ""
        return f"cmdstan-{version}-{hashlib.sha256(where.encode()).hexdigest()[:8]}"

    def _model(self, stan_file: Path, threads: bool = False):
        """A compiled CmdStanModel, built once per source and CmdStan
        installation (and, with ``threads``, built with STAN_THREADS for
        reduce_sum).

        The program and its include files are copied into a cache folder
        named by their content hash, under one folder per installation
        (:meth:`_installation_folder`), and compiled there; cmdstanpy reuses
        the executable on later runs because it is newer than the source.
        """
        stan_file = Path(stan_file)
        includes = [p for p in stan_file.parent.iterdir() if p.suffix in INCLUDES]
        sources = [stan_file, *sorted(includes)]
        digest = hashlib.sha256()
        for src in sources:
            digest.update(src.name.encode())
            digest.update(src.read_bytes())
        target = (
            cache_dir()
            / self._installation_folder()
            / (
                f"{stan_file.stem}-{digest.hexdigest()[:16]}"
                + ("-threads" if threads else "")
            )
        )
        key = str(target)
        with self._lock:
            if key in self._models:
                return self._models[key]
            if not (target / stan_file.name).is_file():
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    staging = Path(tempfile.mkdtemp(dir=target.parent))
                except OSError as exc:
                    raise _cache_error(target.parent, exc) from exc
                for src in sources:
                    shutil.copy2(src, staging / src.name)
                try:
                    staging.rename(target)
                except OSError:  # another process won the race
                    shutil.rmtree(staging, ignore_errors=True)
            try:
                model = self._cmdstanpy.CmdStanModel(
                    stan_file=target / stan_file.name,
                    stanc_options={"include-paths": [str(target)]},
                    cpp_options={"STAN_THREADS": True} if threads else None,
                )
            except ValueError as exc:
                raise EngineUnavailableError(
                    f"CmdStan at {self._cmdstanpy.cmdstan_path()} could not build "
                    f"{stan_file.name}: {_first_lines(str(exc))}. Check that "
                    "installation (in its folder, `make build` must succeed), "
                    "point CMDSTAN at a working one, or use engine='stanli'"
                ) from exc
            self._models[key] = model
            return model

    def compile(self, stan_file: Path, threads: bool = False) -> None:
        self._model(stan_file, threads=threads)

    def optimize(self, stan_file, data, *, init, seed, jacobian=True, iter=2000):
        with (
            _in_stanmix_terms(),
            tempfile.TemporaryDirectory(prefix="stanmix-optimize-") as out,
        ):
            fit = self._model(stan_file).optimize(
                data=dict(data),
                seed=int(seed),
                inits=init_file_values(init),
                algorithm="lbfgs",
                jacobian=bool(jacobian),
                iter=int(iter),
                sig_figs=SIG_FIGS,
                output_dir=out,
            )
            names = list(fit.column_names)
            values = np.asarray(fit.optimized_params_np, dtype=float)
        variables = unflatten(names, values[None, None, :])
        lp = float(variables.pop("lp__").ravel()[0])
        return EngineResult(
            variables=variables,
            sample_stats={"lp": np.array([[lp]])},
            method="optimize",
            engine=self.name,
            engine_version=self.version,
            lp=lp,
            info={"jacobian": bool(jacobian)},
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
        from stanmix.advi import no_elbo_message, not_converged_message

        # CmdStan's ADVI always starts from unit scale; laplace_start cannot
        # be honoured and is reported in info.
        options.pop("callback", None)
        if options.get("eta") is not None:
            # A given eta is used as is (as on stanli), not as a hint that
            # CmdStan's eta search may override.
            options["adapt_engaged"] = False
        model = self._model(stan_file)
        with (
            _in_stanmix_terms(),
            tempfile.TemporaryDirectory(prefix="stanmix-advi-") as out,
        ):
            try:
                model.variational(
                    data=dict(data),
                    seed=int(seed),
                    inits=init_file_values(init),
                    algorithm=algorithm,
                    draws=int(draws),
                    require_converged=False,
                    sig_figs=SIG_FIGS,
                    output_dir=out,
                    **options,
                )
            except ValueError:
                # cmdstanpy 1.3 fails to read the output of a completed run
                # without eta adaptation (it looks for the adapted eta); the
                # output is read below. Anything that stopped the run before
                # it wrote its output is raised as it is.
                if not list(Path(out).glob("*.csv")):
                    raise
            csv_file = next(Path(out).glob("*.csv"))
            stdout_file = next(Path(out).glob("*-stdout.txt"))
            names, sample, eta = read_variational_csv(
                csv_file.read_text(encoding="utf-8")
            )
            run = parse_advi_transcript(stdout_file.read_text(encoding="utf-8"))
        if not run.converged:
            # cmdstanpy only logs this; say it the way stanmix.advi does.
            max_iter = run.max_iter or options.get("iter", 10_000)
            tol = run.tol_rel_obj
            if tol is None:
                tol = options.get("tol_rel_obj", 0.01)
            message = (
                not_converged_message(max_iter, tol)
                if run.elbo.size
                else no_elbo_message(max_iter, options.get("eval_elbo", 100))
            )
            warnings.warn(message, RuntimeWarning, stacklevel=caller_level())
        variables = unflatten(names, sample[None])
        # CmdStan writes lp__ = 0 for ADVI draws; the log density of each
        # draw is log_p__ (log_g__ is that of the approximation).
        variables.pop("lp__", None)
        stats = {"lp": variables.pop("log_p__")}
        if "log_g__" in variables:
            stats["log_g"] = variables.pop("log_g__")
        return EngineResult(
            variables=variables,
            sample_stats=stats,
            method="variational",
            engine=self.name,
            engine_version=self.version,
            info={
                "algorithm": algorithm,
                "implementation": "CmdStan",
                "eta": eta,
                "init_scale": "identity",
                "converged": run.converged,
                "iterations": run.iterations,
                "elbo": run.elbo,
            },
        )

    def laplace_covariance(self, stan_file, data, point):
        # CmdStan evaluates gradients only one process call at a time; the
        # curvature of the same program comes from the embedded engine, whose
        # unconstrained parameters are in the same order, on the same charts
        # but the simplexes', which are carried over to CmdStan's.
        from stanmix.engines.registry import get_engine

        stanli = get_engine("stanli")
        try:
            covariance = stanli.laplace_covariance(stan_file, data, point)
            if covariance is None:
                return None
            chart = simplex_chart_change(
                lambda values: stanli.unconstrain(stan_file, data, values),
                point,
                simplex_parameters(Path(stan_file).read_text(encoding="utf-8")),
                covariance.shape[0],
            )
        except EngineUnavailableError as err:
            raise LaplaceUnavailableError(
                "the Laplace metric of a CmdStan fit takes its curvature from "
                f"the embedded engine, which cannot run here ({err})"
            ) from err
        return chart @ covariance @ chart.T

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
        model = self._model(
            stan_file, threads=int(options.get("threads_per_chain", 1)) > 1
        )
        adapt_engaged = options.get("adapt_engaged", True) is not False
        adaptation = adaptation_settings(
            adapt_delta=adapt_delta,
            adapt_metric=adapt_metric,
            warmup=warmup,
            adapt_engaged=adapt_engaged,
        )
        inits = init_file_values(inits)
        if options.get("inv_metric") is not None:
            options["inv_metric"] = np.asarray(options["inv_metric"])
        options.setdefault("parallel_chains", min(int(chains), os.cpu_count() or 1))
        with (
            _in_stanmix_terms(),
            tempfile.TemporaryDirectory(prefix="stanmix-sample-") as out,
        ):
            if pathfinder_init:
                pathfinder = model.pathfinder(
                    data=dict(data), seed=int(seed), sig_figs=SIG_FIGS, output_dir=out
                )
                inits = pathfinder.create_inits(seed=int(seed), chains=int(chains))
            fit = model.sample(
                data=dict(data),
                chains=int(chains),
                seed=int(seed),
                iter_warmup=int(warmup),
                iter_sampling=int(draws),
                metric=metric,
                inits=inits,
                show_progress=bool(show_progress),
                sig_figs=SIG_FIGS,
                output_dir=out,
                **adaptation,
                **options,
            )
            # everything read from the files before they go
            names = list(fit.column_names)
            values = np.transpose(np.asarray(fit.draws(), dtype=float), (1, 0, 2))
            step_size, inv_metric = fit.step_size, fit.inv_metric
            metric_type = fit.metric_type
        variables = unflatten(names, values)
        stats = sampler_stats(
            {col: variables.pop(col) for col in list(variables) if col.endswith("__")}
        )
        return EngineResult(
            variables=variables,
            sample_stats=stats,
            method="sample",
            engine=self.name,
            engine_version=self.version,
            info={
                "pathfinder_init": bool(pathfinder_init),
                "step_size": step_size,
                "inv_metric": inv_metric,
                "warmup": int(warmup),
                "metric": metric_type,
                "adapt_metric": bool(adapt_metric),
                "adapt_engaged": adapt_engaged,
                "max_treedepth": int(options.get("max_treedepth", MAX_TREEDEPTH)),
            },
        )
