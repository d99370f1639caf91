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

import io
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stanmix import _validation as check
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
    "max_depth",
    "seed",
    "id",
)


def _text(path: Path, what: str) -> str:
    """The text of a file the user named, or an error saying why not."""
    if path.is_dir():
        raise StanmixInputError(
            f"{what} {str(path)!r} is a folder, not a file; give the files in it, "
            f"e.g. sorted(Path({str(path)!r}).glob('*.csv'))"
        )
    if not path.is_file():
        raise StanmixInputError(f"{what} {str(path)!r} does not exist")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise StanmixInputError(
            f"cannot read {what} {str(path)!r}: {err.strerror}"
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise StanmixInputError(
            f"{path.name} is not a text file: line {line} holds bytes that are not "
            "UTF-8 text; give the file CmdStan wrote"
        ) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise StanmixInputError(
            f"{path.name} is not a text file: line {line} holds a NUL byte; give "
            "the file CmdStan wrote"
        )
    return text


def _truthy(value: str | None) -> bool:
    return str(value).lower() in ("1", "true")


def _count(config: Mapping[str, str], key: str) -> int | None:
    """A count setting of the run, or None when absent or not a number."""
    value = config.get(key)
    return int(value) if value is not None and value.isdigit() else None


def _expected_rows(config: Mapping[str, str]) -> int | None:
    """Rows a finished chain writes, by its settings (None if not known)."""
    samples, thin = _count(config, "num_samples"), _count(config, "thin") or 1
    if samples is None:
        return None
    rows = math.ceil(samples / thin)
    if _truthy(config.get("save_warmup")):
        warmup = _count(config, "num_warmup")
        if warmup is None:
            return None
        rows += math.ceil(warmup / thin)
    return rows


@dataclass(frozen=True, eq=False)
class _Chain:
    """One chain's Stan CSV file, read."""

    names: list[str]
    values: np.ndarray
    config: dict[str, str]
    header_line: int


def _read_chain(path: Path) -> _Chain:
    """Read one Stan CSV file, naming its line for anything amiss."""
    lines = _text(path, "CmdStan output file").splitlines()
    config: dict[str, str] = {}
    header = None
    for number, line in enumerate(lines, start=1):
        if line.startswith("#"):
            match = _SETTING.match(line)
            if match and match.group(1) in _WANTED:
                config.setdefault(match.group(1), match.group(2))
        elif line.strip():
            header = number
            break
    method = config.get("method")
    if method is None:
        raise StanmixInputError(
            f"{path.name} is not a Stan CSV file: its opening comment lines "
            "('# ...') do not name the run's method; give the per-chain output "
            "files of a CmdStan 'sample' run"
        )
    if method != "sample":
        raise StanmixInputError(
            f"{path.name}: stanmix reads the output of CmdStan's 'sample' "
            f"method, but this file's method is {method!r}"
        )
    if header is None:
        raise StanmixInputError(
            f"{path.name} ends at line {len(lines)} before its header row of "
            "column names: the file is cut short; give the files of a finished run"
        )
    names = [name.strip() for name in lines[header - 1].split(",")]
    if "lp__" not in names:
        raise StanmixInputError(
            f"{path.name} line {header}: the header row has no lp__ column, so the "
            "file is not the output of a Stan sample run"
        )
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise StanmixInputError(
            f"{path.name} line {header}: the header names column(s) "
            f"{', '.join(map(repr, twice))} twice"
        )
    rows: list[tuple[int, str]] = []
    for number in range(header + 1, len(lines) + 1):
        line = lines[number - 1]
        if line.startswith("#") or not line.strip():
            continue
        fields = line.count(",") + 1
        if fields != len(names):
            raise StanmixInputError(
                f"{path.name} line {number} has {fields} values but the header "
                f"(line {header}) names {len(names)} columns: the file is cut "
                "short or damaged; give the files of a finished run"
            )
        rows.append((number, line))
    if not rows:
        raise StanmixInputError(
            f"{path.name} holds no draws after its header (line {header}): the "
            "run was cut short; give the files of a finished run"
        )
    values = _numbers(path, rows, names)
    expected = _expected_rows(config)
    if expected is not None and len(rows) != expected:
        raise StanmixInputError(
            f"{path.name} holds {len(rows)} rows of draws but its run was set for "
            f"{expected} (num_samples = {config.get('num_samples')}, thin = "
            f"{config.get('thin', 1)}, save_warmup = "
            f"{config.get('save_warmup', 'false')}; the last row is line "
            f"{rows[-1][0]}): "
            + (
                "the file is cut short; give the files of a finished run"
                if len(rows) < expected
                else "the file holds more than one run's draws"
            )
        )
    return _Chain(names, values, config, header)


def _numbers(path: Path, rows: list[tuple[int, str]], names: list[str]) -> np.ndarray:
    """The draws as floats (``nan``, ``inf`` and ``-inf`` as Stan writes
    them), or an error naming the first line and column that is not a number."""
    try:
        return pd.read_csv(
            io.StringIO("\n".join(line for _, line in rows)),
            header=None,
            dtype=float,
            keep_default_na=False,
            na_values=["nan", "-nan", "NaN"],
        ).to_numpy()
    except (ValueError, pd.errors.ParserError) as err:
        for number, line in rows:
            for name, field in zip(names, line.split(","), strict=True):
                try:
                    float(field)
                except ValueError:
                    raise StanmixInputError(
                        f"{path.name} line {number}, column {name!r}: {field!r} is "
                        "not a number; the file is damaged, give the file CmdStan "
                        "wrote"
                    ) from None
        raise StanmixInputError(
            f"cannot read the draws of {path.name} as numbers: {err}"
        ) from None


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
        A missing, unreadable or damaged file (naming the file and line), a
        file cut short (fewer draws than its run was set for), a run that is
        not ``method=sample``, or chains with different columns.
    """
    given = [csv_files] if isinstance(csv_files, (str, Path)) else csv_files
    given = list(given) if isinstance(given, Iterable) else [given]
    if not all(isinstance(p, (str, Path)) for p in given):
        raise StanmixInputError(
            "csv_files must be the path of a Stan CSV file or a list of them, "
            f"got {csv_files!r}"
        )
    paths = [Path(p) for p in given]
    if not paths:
        raise StanmixInputError("no CmdStan CSV files given")
    resolved = [p.resolve() for p in paths]
    twice = [p.name for i, p in enumerate(paths) if resolved[i] in resolved[:i]]
    if twice:
        raise StanmixInputError(
            f"{twice[0]} is given twice: each file is one chain, and a chain "
            "counted twice would make R-hat and ESS look better than they are; "
            "give each chain's file once"
        )
    chains: list[np.ndarray] = []
    first: _Chain | None = None
    for path in paths:
        chain = _read_chain(path)
        if first is None:
            first = chain
        elif chain.names != first.names:
            raise StanmixInputError(
                f"{path.name} has other columns than {paths[0].name}; give the "
                "files of one run"
            )
        values = chain.values
        if _truthy(chain.config.get("save_warmup")):
            thin = _count(chain.config, "thin") or 1
            kept = math.ceil((_count(chain.config, "num_samples") or 1000) / thin)
            values = values[-kept:]
        chains.append(values)
    lengths = {path.name: c.shape[0] for path, c in zip(paths, chains, strict=True)}
    if len(set(lengths.values())) != 1:
        listed = ", ".join(f"{name} {n}" for name, n in lengths.items())
        raise StanmixInputError(
            f"the chains hold different numbers of draws ({listed}); give the "
            "files of one finished run"
        )
    assert first is not None
    try:
        variables = unflatten(first.names, np.stack(chains))
    except ValueError as err:
        raise StanmixInputError(
            f"{paths[0].name} line {first.header_line}: {err}"
        ) from None
    stats = sampler_stats(
        {col: variables.pop(col) for col in list(variables) if col.endswith("__")}
    )
    config = first.config
    version = ".".join(
        config.get(f"stan_version_{part}", "?") for part in ("major", "minor", "patch")
    )
    return EngineResult(
        variables=variables,
        sample_stats=stats,
        method="sample",
        engine="cmdstan",
        engine_version=version,
        info={
            "csv_files": [str(p) for p in paths],
            "header_line": first.header_line,
            "model": config.get("model", ""),
            "seed": config.get("seed"),
            "warmup": _count(config, "num_warmup") or 0,
            "max_treedepth": _count(config, "max_depth"),
        },
    )


def _load_data(data: Mapping | str | Path) -> dict:
    if isinstance(data, Mapping):
        return dict(data)
    if not isinstance(data, (str, Path)):
        raise StanmixInputError(
            "data must be the data's dictionary or the path of its JSON file, got "
            f"{type(data).__name__}"
        )
    path = Path(data)
    text = _text(path, "data file")
    try:
        loaded = json.loads(text)
    except json.JSONDecodeError as err:
        raise StanmixInputError(
            f"{path.name} is not valid JSON: {err.msg} at line {err.lineno}, "
            f"column {err.colno}"
        ) from None
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


def _check_scale_prior(data: Mapping, d: int) -> None:
    """A diagonal program's scale prior has one entry when spherical, else D:
    a data file whose ``spherical`` flag disagrees is not the run's."""
    if "spherical" not in data or "sigma_loc" not in data:
        return
    spherical = check.integer("the data's spherical", data["spherical"])
    size = np.atleast_1d(np.asarray(data["sigma_loc"], dtype=float)).size
    if size != (1 if spherical else d):
        raise StanmixInputError(
            f"the data's spherical = {spherical} but its sigma_loc has {size} "
            f"entries (a spherical run has 1, a diagonal one D = {d}); give the "
            "data file the run used"
        )


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


def _check_columns(result: EngineResult, family, k: int, d: int, program: str):
    """Every variable the family reads must be in the files, whole: a
    column cut from the files would otherwise shrink a variable (a
    K x D matrix read as K x 1) and give wrong numbers."""
    found = result.variables
    first = Path(result.info["csv_files"][0]).name
    where = f"{first} line {result.info.get('header_line', '?')}"
    for name, shape in family.stan_shapes(k, d).items():
        if name not in found:
            raise StanmixInputError(
                f"{where}: the header has no column of {name!r}, which "
                f"{program}.stan writes for this data (shape {shape}); give the "
                "run's files as CmdStan wrote them"
            )
        if found[name].shape[2:] != shape:
            raise StanmixInputError(
                f"{where}: the columns of {name!r} make an array of shape "
                f"{found[name].shape[2:]}, but {program}.stan writes {shape} for "
                f"this data (K = {k}, D = {d}); columns are missing or the data "
                "file is not the run's"
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
    source = Path(data).name if isinstance(data, (str, Path)) else None
    data = _load_data(data)
    program = _program_of(result)
    try:
        if "K" not in data:
            raise StanmixInputError("the data has no entry 'K' (number of components)")
        k = check.integer("the data's K", data["K"], low=1)
        if columns is not None:
            names = [str(c) for c in columns]
            twice = check.repeated(names)
            if twice:
                raise StanmixInputError(
                    f"columns names {', '.join(map(repr, twice))} twice; give each "
                    "dimension its own name"
                )
        cells = CellTable.from_stan(data, columns).validate()
        ordered = check.integer(
            "the data's ordered_means", data.get("ordered_means", 1)
        )
        if ordered not in (0, 1):
            raise StanmixInputError(
                f"the data's ordered_means must be 0 or 1, got {ordered}"
            )
        anchor = check.integer("the data's anchor", data.get("anchor", 1), low=1)
        if anchor > cells.n_dims:
            raise StanmixInputError(
                f"the data's anchor is {anchor} but D = {cells.n_dims} (the anchor "
                "is a column number from 1 to D)"
            )
        _check_scale_prior(data, cells.n_dims)
        family = family_from_stan_data(program, data)
        _check_sizes(result, data, cells, k)
    except StanmixInputError as err:
        if source is None:
            raise
        raise StanmixInputError(f"{source}: {err}") from None
    except (KeyError, TypeError, ValueError) as err:
        raise StanmixInputError(
            f"{source or 'the data'} cannot be read as the data of "
            f"{program}.stan: {type(err).__name__}: {err}"
        ) from None
    _check_columns(result, family, k, cells.n_dims, program)
    model = Mixture(
        k,
        family=family.family,
        covariance=family.covariance,
        family_options=family.settings_from_stan_data(data),
        ordered=bool(ordered),
        anchor_dim=anchor - 1,
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
