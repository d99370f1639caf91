"""Reading the output of a direct CmdStan run of one of stanmix's programs.

A CmdStan user runs one of the programs in ``stan/`` (``normal_diag.stan``,
``student_t_diag.stan``, ``full_cov.stan``, ``regression.stan``) with a data
JSON and gets one Stan CSV file per chain. :func:`from_cmdstan_csv`
turns those files and that data into a fitted stanmix estimator, so the draws
are relabelled, checked for label switching and summarised exactly as after
``fit``; ``model.idata_`` is the InferenceData.

The Stan CSV format: comment lines (``#``) with the run's configuration, one
header row of column names (``mu.2.1`` is ``mu[2, 1]``), one row per draw,
and comment lines between and after the rows (adaptation and timing).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from stanmix.cells import CellTable
from stanmix.engines import EngineResult, sampler_stats, unflatten
from stanmix.exceptions import StanmixInputError
from stanmix.families import family_from_stan_data
from stanmix.families.full import latent_cells
from stanmix.programs import PROGRAMS

__all__ = ["from_cmdstan_csv", "read_stan_csv"]

_SETTING = re.compile(r"^#\s*([A-Za-z_]+)\s*=\s*(\S+)")
_WANTED = (
    "stan_version_major",
    "stan_version_minor",
    "stan_version_patch",
    "model",
    "method",
    "num_samples",
    "num_warmup",
    "save_warmup",
    "thin",
    "seed",
    "id",
)


def _config(path: Path) -> dict[str, str]:
    """The first value of each wanted setting in the leading comment block."""
    config: dict[str, str] = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            match = _SETTING.match(line)
            if match and match.group(1) in _WANTED:
                config.setdefault(match.group(1), match.group(2))
    return config


def _truthy(value: str | None) -> bool:
    return str(value).lower() in ("1", "true")


def read_stan_csv(csv_files: str | Path | Sequence[str | Path]) -> EngineResult:
    """Read the Stan CSV files of a CmdStan ``sample`` run, one per chain.

    Parameters
    ----------
    csv_files : path or sequence of paths
        The per-chain output files (``output file=...`` of each chain).

    Returns
    -------
    EngineResult
        Variables shaped ``(chain, draw, *declared_shape)`` and the sampler
        statistics under ArviZ's names. Warmup rows, when saved, are dropped.

    Raises
    ------
    StanmixInputError
        A missing or unreadable file, a run that is not ``method=sample``,
        or chains with different columns.
    """
    paths = (
        [Path(csv_files)]
        if isinstance(csv_files, (str, Path))
        else [Path(p) for p in csv_files]
    )
    if not paths:
        raise StanmixInputError("no CmdStan CSV files given")
    chains, names, configs = [], None, []
    for path in paths:
        if not path.is_file():
            raise StanmixInputError(f"CmdStan output file {str(path)!r} does not exist")
        config = _config(path)
        method = config.get("method")
        if method != "sample":
            raise StanmixInputError(
                f"{path.name}: stanmix reads the output of CmdStan's 'sample' "
                f"method, but this file's method is {method!r}"
            )
        try:
            frame = pd.read_csv(path, comment="#")
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
            raise StanmixInputError(
                f"cannot read {path.name} as Stan CSV: {err}"
            ) from None
        if names is None:
            names = list(frame.columns)
        elif list(frame.columns) != names:
            raise StanmixInputError(
                f"{path.name} has other columns than {paths[0].name}; give the "
                "files of one run"
            )
        values = frame.to_numpy(dtype=float)
        if _truthy(config.get("save_warmup")):
            thin = int(config.get("thin", 1))
            kept = math.ceil(int(config.get("num_samples", 1000)) / thin)
            values = values[-kept:]
        chains.append(values)
        configs.append(config)
    lengths = {c.shape[0] for c in chains}
    if len(lengths) != 1 or 0 in lengths:
        raise StanmixInputError(
            f"the chains hold different or zero numbers of draws ({sorted(lengths)}); "
            "give the files of one finished run"
        )
    variables = unflatten(names, np.stack(chains))
    stats = sampler_stats(
        {col: variables.pop(col) for col in list(variables) if col.endswith("__")}
    )
    first = configs[0]
    version = ".".join(
        first.get(f"stan_version_{part}", "?") for part in ("major", "minor", "patch")
    )
    return EngineResult(
        variables=variables,
        sample_stats=stats,
        method="sample",
        engine="cmdstan",
        engine_version=version,
        info={
            "csv_files": [str(p) for p in paths],
            "model": first.get("model", ""),
            "seed": first.get("seed"),
            "warmup": int(first.get("num_warmup", 0)),
        },
    )


def _load_data(data: Mapping | str | Path) -> dict:
    if isinstance(data, Mapping):
        return dict(data)
    path = Path(data)
    if path.is_dir():
        raise StanmixInputError(f"data {str(path)!r} is a folder, not a JSON file")
    if not path.is_file():
        raise StanmixInputError(f"data file {str(path)!r} does not exist")
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise StanmixInputError(f"{path.name} is not valid JSON: {err}") from None
    if not isinstance(loaded, dict):
        raise StanmixInputError(f"{path.name} does not hold a JSON object of data")
    return loaded


def _program_of(result: EngineResult) -> str:
    """The program a run used, from the model name in its CSV header."""
    model = str(result.info.get("model", ""))
    name = model[: -len("_model")] if model.endswith("_model") else model
    if name not in PROGRAMS:
        raise StanmixInputError(
            f"the CSV files come from a model named {model!r}, not one of "
            f"stanmix's programs ({', '.join(PROGRAMS)}); build the program "
            "under its own name (e.g. normal_diag.stan -> normal_diag)"
        )
    return name


def _check_sizes(result: EngineResult, data: Mapping, cells: CellTable, k: int):
    """The draws must be of this data: K, D, and N or the censored cells
    wherever the run's variables show them."""
    found = result.variables
    if "w" not in found or "mu" not in found:
        raise StanmixInputError(
            "the CSV files hold no draws of w and mu; give the output of a run "
            "of one of stanmix's programs"
        )
    shape = found["mu"].shape[2:]
    if found["w"].shape[-1] != k or shape != (k, cells.n_dims):
        raise StanmixInputError(
            f"the CSV files hold draws with {found['w'].shape[-1]} components "
            f"and means of shape {shape}, but the data file says K = {k} and "
            f"D = {cells.n_dims}; give the data file the run used"
        )
    for name in ("log_lik", "membership_log_prob"):
        if name in found and found[name].shape[2] != cells.n_obs:
            raise StanmixInputError(
                f"the run's {name} has {found[name].shape[2]} rows but the data "
                f"file has N = {cells.n_obs}; give the data file the run used"
            )
    if "y_latent" in found:
        expected = latent_cells(cells)[0].size
        if found["y_latent"].shape[2:] != (expected,):
            raise StanmixInputError(
                f"the run has {found['y_latent'].shape[2]} latent values y_latent "
                f"but the data file's censored cells give {expected} (one per "
                "censored cell in rows with two or more); give the data file "
                "the run used"
            )


def from_cmdstan_csv(
    csv_files: str | Path | Sequence[str | Path],
    data: Mapping | str | Path,
    *,
    columns: Sequence[str] | None = None,
    relabel: str | None = "auto",
    hdi_prob: float = 0.94,
):
    """A fitted estimator from a direct CmdStan run of a stanmix program.

    Parameters
    ----------
    csv_files : path or sequence of paths
        The run's per-chain Stan CSV files.
    data : mapping or path
        The data JSON (or its dictionary) the run used. Which program ran is
        read from the CSV header; which family, from the data's flags.
    columns : sequence of str, optional
        Names of the D dimensions (the ``dim`` coordinate).
    relabel : {"auto", "stephens", "reference", "ecr", "order", None}
        How the draws are relabelled, as for the estimators.
    hdi_prob : float
        Probability mass of reported HDIs.

    Returns
    -------
    Mixture
        Fitted, in the units of the data file (no standardization), with
        ``idata_`` (relabelled; raw draws in ``posterior_raw``),
        ``label_switching_``, ``relabel_report_``, ``summary()`` and
        ``membership()``. Censored cells of the full-covariance program are
        integrated out in the log-likelihood and memberships; its latent
        values are not kept.

    Examples
    --------
    After ``./normal_diag sample num_chains=4 data file=normal_diag.data.json
    init=normal_diag.init.json output file=out.csv`` (CmdStan writes
    ``out_1.csv`` ... ``out_4.csv``)::

        model = stanmix.from_cmdstan_csv(sorted(Path().glob("out_*.csv")),
                                         "normal_diag.data.json")
        model.summary()
    """
    from stanmix.estimator import Mixture

    result = read_stan_csv(csv_files)
    data = _load_data(data)
    program = _program_of(result)
    if "K" not in data:
        raise StanmixInputError("the data has no entry 'K' (number of components)")
    k = int(data["K"])
    cells = CellTable.from_stan(data, columns).validate()
    family = family_from_stan_data(program, data)
    _check_sizes(result, data, cells, k)
    model = Mixture(
        k,
        family=family.family,
        covariance=family.covariance,
        family_options=family.settings_from_stan_data(data),
        ordered=bool(int(data.get("ordered_means", 1))),
        anchor_dim=int(data.get("anchor", 1)) - 1,
        standardize=False,
        relabel=relabel,
        hdi_prob=hdi_prob,
    )
    seed = result.info.get("seed")
    return model.fit_result(
        result,
        cells,
        seed=int(seed) if seed is not None and str(seed).isdigit() else 0,
    )
