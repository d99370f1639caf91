"""The reference engine: CmdStan through cmdstanpy."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np

from stanmix.engines._base import (
    MAX_TREEDEPTH,
    SAMPLE_OPTIONS,
    VARIATIONAL_OPTIONS,
    Engine,
    EngineResult,
    sampler_stats,
)
from stanmix.engines._columns import unflatten

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


#: Significant digits CmdStan writes to its CSV files: enough to read every
#: double back exactly (its default of 6 leaves, e.g., a MAP simplex summing
#: to 1.000001, which no program accepts as a start).
SIG_FIGS = 17


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
        found = self._cmdstanpy.cmdstan_version()
        cmdstan = ".".join(map(str, found)) if found else "unknown"
        return f"CmdStan {cmdstan} (cmdstanpy {self._cmdstanpy.__version__})"

    def _model(self, stan_file: Path, threads: bool = False):
        """A compiled CmdStanModel, built once per source and CmdStan version
        (and, with ``threads``, built with STAN_THREADS for reduce_sum).

        The program and its include files are copied into a cache folder
        named by their content hash, and compiled there; cmdstanpy reuses the
        executable on later runs because it is newer than the source.
        """
        stan_file = Path(stan_file)
        includes = [p for p in stan_file.parent.iterdir() if p.suffix in INCLUDES]
        sources = [stan_file, *sorted(includes)]
        digest = hashlib.sha256()
        for src in sources:
            digest.update(src.name.encode())
            digest.update(src.read_bytes())
        version = "-".join(map(str, self._cmdstanpy.cmdstan_version() or ("x",)))
        target = (
            cache_dir()
            / f"cmdstan-{version}"
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
                target.parent.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(dir=target.parent))
                for src in sources:
                    shutil.copy2(src, staging / src.name)
                try:
                    staging.rename(target)
                except OSError:  # another process won the race
                    shutil.rmtree(staging, ignore_errors=True)
            model = self._cmdstanpy.CmdStanModel(
                stan_file=target / stan_file.name,
                stanc_options={"include-paths": [str(target)]},
                cpp_options={"STAN_THREADS": True} if threads else None,
            )
            self._models[key] = model
            return model

    def compile(self, stan_file: Path, threads: bool = False) -> None:
        self._model(stan_file, threads=threads)

    def optimize(self, stan_file, data, *, init, seed, jacobian=True, iter=2000):
        fit = self._model(stan_file).optimize(
            data=dict(data),
            seed=int(seed),
            inits=None if init is None else dict(init),
            algorithm="lbfgs",
            jacobian=bool(jacobian),
            iter=int(iter),
            sig_figs=SIG_FIGS,
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
        **options,
    ):
        # CmdStan's ADVI always starts from unit scale; laplace_start cannot
        # be honoured and is reported in info.
        options.pop("callback", None)
        fit = self._model(stan_file).variational(
            data=dict(data),
            seed=int(seed),
            inits=None if init is None else dict(init),
            algorithm=algorithm,
            draws=int(draws),
            require_converged=False,
            sig_figs=SIG_FIGS,
            **options,
        )
        names = list(fit.column_names)
        sample = np.asarray(fit.variational_sample, dtype=float)
        variables = unflatten(names, sample[None])
        stats = {"lp": variables.pop("lp__")}
        for extra in ("log_p__", "log_g__"):
            if extra in variables:
                stats[extra.rstrip("_")] = variables.pop(extra)
        return EngineResult(
            variables=variables,
            sample_stats=stats,
            method="variational",
            engine=self.name,
            engine_version=self.version,
            info={
                "algorithm": algorithm,
                "implementation": "CmdStan",
                "eta": fit.eta,
                "init_scale": "identity",
            },
        )

    def laplace_covariance(self, stan_file, data, point):
        # CmdStan evaluates gradients only one process call at a time; the
        # curvature of the same program comes from the embedded engine, whose
        # unconstrained parameters are in the same order.
        from stanmix.engines.registry import get_engine

        return get_engine("stanli").laplace_covariance(stan_file, data, point)

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
        if not adapt_metric:
            # No initial buffer and no metric window: Stan then never
            # replaces the given metric and tunes the step size throughout.
            options.update(
                adapt_init_phase=0, adapt_metric_window=0, adapt_step_size=int(warmup)
            )
        if pathfinder_init:
            pathfinder = model.pathfinder(
                data=dict(data), seed=int(seed), sig_figs=SIG_FIGS
            )
            inits = pathfinder.create_inits(seed=int(seed), chains=int(chains))
        elif isinstance(inits, Mapping):
            inits = dict(inits)
        elif inits is not None:
            inits = [dict(i) for i in inits]
        if options.get("inv_metric") is not None:
            options["inv_metric"] = np.asarray(options["inv_metric"])
        options.setdefault("parallel_chains", min(int(chains), os.cpu_count() or 1))
        fit = model.sample(
            data=dict(data),
            chains=int(chains),
            seed=int(seed),
            iter_warmup=int(warmup),
            iter_sampling=int(draws),
            adapt_delta=float(adapt_delta),
            metric=metric,
            inits=inits,
            show_progress=bool(show_progress),
            sig_figs=SIG_FIGS,
            **options,
        )
        names = list(fit.column_names)
        values = np.transpose(np.asarray(fit.draws(), dtype=float), (1, 0, 2))
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
                "step_size": fit.step_size,
                "inv_metric": fit.inv_metric,
                "warmup": int(warmup),
                "metric": fit.metric_type,
                "adapt_metric": bool(adapt_metric),
                "max_treedepth": int(options.get("max_treedepth", MAX_TREEDEPTH)),
            },
        )
