"""Reading the output of a direct CmdStan run of one of stanmix's programs.

A CmdStan user runs ``stan/diag_mixture.stan`` (or ``normal_mixture.stan``)
with a data JSON and gets one Stan CSV file per chain. :func:`from_cmdstan_csv`
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

from stanmix.cells import INTERVAL, LEFT, MISSING, OBSERVED, RIGHT, CellTable
from stanmix.engines._base import EngineResult, sampler_stats
from stanmix.engines._columns import unflatten
from stanmix.exceptions import StanmixInputError

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
    if not path.is_file():
        raise StanmixInputError(f"data file {str(path)!r} does not exist")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise StanmixInputError(f"{path.name} is not valid JSON: {err}") from None


def _index_cells(kind, lower, upper, data, label, code, bounds) -> None:
    rows = np.asarray(data.get(f"{label}_row", []), dtype=int).reshape(-1) - 1
    cols = np.asarray(data.get(f"{label}_col", []), dtype=int).reshape(-1) - 1
    kind[rows, cols] = code
    for name, target in bounds:
        target[rows, cols] = np.asarray(data[name], dtype=float).reshape(-1)


def cells_from_stan_data(
    data: Mapping, columns: Sequence[str] | None = None
) -> CellTable:
    """The cell table described by a ``diag_mixture.stan`` data dictionary."""
    try:
        y = np.asarray(data["y"], dtype=float).reshape(int(data["N"]), int(data["D"]))
        observed = np.asarray(data["observed"], dtype=float).reshape(y.shape) > 0.5
    except KeyError as err:
        raise StanmixInputError(f"the data has no entry {err}") from None
    kind = np.full(y.shape, MISSING, dtype=np.int8)
    kind[observed] = OBSERVED
    lower = np.full(y.shape, np.nan)
    upper = np.full(y.shape, np.nan)
    _index_cells(kind, lower, upper, data, "left", LEFT, [("left_limit", upper)])
    _index_cells(kind, lower, upper, data, "right", RIGHT, [("right_limit", lower)])
    _index_cells(
        kind,
        lower,
        upper,
        data,
        "interval",
        INTERVAL,
        [("interval_lower", lower), ("interval_upper", upper)],
    )
    values = np.where(kind == OBSERVED, y, np.nan)
    cols = tuple(columns) if columns is not None else ()
    if cols and len(cols) != y.shape[1]:
        raise StanmixInputError(
            f"columns names {len(cols)} dimensions but the data has D = {y.shape[1]}"
        )
    return CellTable(values, kind, lower, upper, cols)


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
        read from it: ``D`` present means ``diag_mixture.stan``.
    columns : sequence of str, optional
        Names of the D dimensions (the ``dim`` coordinate).
    relabel : {"auto", "stephens", "reference", "ecr", "order", None}
        How the draws are relabelled, as for the estimators.
    hdi_prob : float
        Probability mass of reported HDIs.

    Returns
    -------
    DiagonalMixture or NormalMixture
        Fitted, in the units of the data file (no standardization), with
        ``idata_`` (relabelled; raw draws in ``posterior_raw``),
        ``label_switching_``, ``relabel_report_``, ``summary()`` and
        ``membership()``.

    Examples
    --------
    After ``./diag_mixture sample num_chains=4 data file=diag_mixture.data.json
    output file=out.csv`` (CmdStan writes ``out_1.csv`` ... ``out_4.csv``)::

        model = stanmix.from_cmdstan_csv(sorted(Path().glob("out_*.csv")),
                                         "diag_mixture.data.json")
        model.summary()
    """
    from stanmix.mixture import DiagonalMixture, NormalMixture

    result = read_stan_csv(csv_files)
    data = _load_data(data)
    if "K" not in data:
        raise StanmixInputError("the data has no entry 'K' (number of components)")
    k = int(data["K"])
    if "D" in data:
        cells = cells_from_stan_data(data, columns)
        model = DiagonalMixture(
            k,
            anchor_dim=int(data.get("anchor", 1)) - 1,
            joint=not int(data.get("independent_dims", 0)),
            standardize=False,
            relabel=relabel,
            hdi_prob=hdi_prob,
        )
    else:
        y = np.asarray(data["y"], dtype=float).reshape(-1, 1)
        cells = CellTable.from_values(y, columns)
        model = NormalMixture(
            k,
            ordered=bool(int(data.get("ordered_means", 1))),
            standardize=False,
            relabel=relabel,
            hdi_prob=hdi_prob,
        )
    found = result.variables
    if not {"w", "mu", "sigma"} <= found.keys() or found["w"].shape[-1] != k:
        raise StanmixInputError(
            f"the CSV files do not hold a {model._program}.stan run with K = {k} "
            "components; give the data file the run used"
        )
    seed = result.info.get("seed")
    model._adopt(
        result,
        cells,
        pd.RangeIndex(cells.n_obs),
        seed=int(seed) if seed is not None and seed.lstrip("-").isdigit() else 0,
    )
    return model
