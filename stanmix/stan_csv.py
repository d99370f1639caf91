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
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from stanmix import _validation as check
from stanmix import likelihood
from stanmix.cells import UNIT_ENTRIES, CellTable, Standardization
from stanmix.engines import EngineResult, sampler_stats, unflatten
from stanmix.exceptions import StanmixInputError
from stanmix.families import family_from_stan_data
from stanmix.families.full import latent_cells
from stanmix.inference.settings import MIN_NUTS_DRAWS
from stanmix.programs import PROGRAMS
from stanmix.stan_data import check_stan_data, missing_scalars

__all__ = ["from_cmdstan_csv", "read_stan_csv"]

logger = logging.getLogger("stanmix")

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
    "engaged",
    "seed",
    "id",
    "algorithm",
    "sig_figs",
)
_DATA_FILE = re.compile(r"^#\s*file\s*=\s*(.*?)\s*(?:\(Default\))?\s*$")


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
    data_file: str | None = None


def _opening(lines: list[str]) -> tuple[dict[str, str], str | None, int | None]:
    """The run's settings, its data file (``# data`` / ``#   file = ...``,
    None when not recorded) and the line of the header row (None if none)."""
    config: dict[str, str] = {}
    data_file = None
    previous = ""
    for number, line in enumerate(lines, start=1):
        if not line.startswith("#"):
            if line.strip():
                return config, data_file, number
            continue
        match = _SETTING.match(line)
        if match and match.group(1) in _WANTED:
            config.setdefault(match.group(1), match.group(2))
        found = _DATA_FILE.match(line)
        if found and previous.strip("# ") == "data" and found.group(1):
            data_file = found.group(1)
        previous = line
    return config, data_file, None


def _file_name(path: str) -> str:
    """The last part of a path as a CSV header records it: the same data
    file run as ``data.json`` and as ``/runs/a/data.json`` (or with
    Windows separators) is one file.

    Examples
    --------
    >>> _file_name("/runs/a/data.json"), _file_name(r"C:\\runs\\data.json")
    ('data.json', 'data.json')
    """
    return re.split(r"[\\/]", path.strip())[-1]


def _check_ending(path: Path, text: str) -> None:
    """A file CmdStan finished ends with a newline: a last row of values
    without one was cut short, possibly inside a number (a comment line
    without one, e.g. after an edit, loses nothing)."""
    last = text[text.rfind("\n") + 1 :]
    if last.strip() and not last.startswith("#"):
        line = text.count("\n") + 1
        raise StanmixInputError(
            f"{path.name} line {line} is cut short: the file ends inside it, "
            "without a newline (a run still writing or a file cut while "
            "copied); give the files of a finished run"
        )


def _check_algorithm(path: Path, config: Mapping[str, str]) -> None:
    """Only NUTS (``algorithm = hmc``) draws are draws of the posterior."""
    algorithm = config.get("algorithm", "hmc")
    if algorithm != "hmc":
        raise StanmixInputError(
            f"{path.name}: the run's algorithm is {algorithm!r}, not 'hmc': "
            "its draws are not an MCMC run of the posterior (fixed_param "
            "repeats the initial values); run 'sample' with its default "
            "algorithm (hmc)"
        )


def _read_chain(path: Path) -> _Chain:
    """Read one Stan CSV file, naming its line for anything amiss."""
    text = _text(path, "CmdStan output file")
    _check_ending(path, text)
    lines = text.splitlines()
    config, data_file, header = _opening(lines)
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
    _check_algorithm(path, config)
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
        if "lp__" in line and "lp__" in (f.strip() for f in line.split(",")):
            raise StanmixInputError(
                f"{path.name} line {number} is a second header row (the first is "
                f"line {header}): the file holds more than one run's draws; "
                "give each run's files separately"
            )
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
    return _Chain(names, values, config, header, data_file)


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
        file cut short (fewer draws than its run was set for, or a last row
        without its newline) or holding a second run, a run that is not
        ``method=sample`` with NUTS (``algorithm=hmc``), or chains with
        different columns or run on different data files.
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
    # a name shared by files of several folders: the files by their paths
    names = [path.name for path in paths]
    if len(set(names)) < len(names):
        names = [str(path) for path in paths]
    shown = dict(zip(paths, names, strict=True))
    chains: list[np.ndarray] = []
    first: _Chain | None = None
    named: tuple[Path, str] | None = None
    for path in paths:
        chain = _read_chain(path)
        if first is None:
            first = chain
        if chain.data_file and named is None:
            named = (path, chain.data_file)
        elif (
            chain.data_file
            and named
            and _file_name(chain.data_file) != (_file_name(named[1]))
        ):
            raise StanmixInputError(
                f"{shown[path]} was run on the data file {chain.data_file!r} but "
                f"{shown[named[0]]} on {named[1]!r}: chains on other data are not "
                "draws of one posterior; give the files of one run"
            )
        if chain.names != first.names:
            raise StanmixInputError(
                f"{shown[path]} has other columns than {shown[paths[0]]}; give the "
                "files of one run"
            )
        values = chain.values
        if _truthy(chain.config.get("save_warmup")):
            thin = _count(chain.config, "thin") or 1
            kept = math.ceil((_count(chain.config, "num_samples") or 1000) / thin)
            values = values[-kept:]
        chains.append(values)
    lengths = [c.shape[0] for c in chains]
    if len(set(lengths)) != 1:
        listed = ", ".join(
            f"{name} {n}" for name, n in zip(names, lengths, strict=True)
        )
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
            "adapt_engaged": config.get("engaged") is None
            or _truthy(config.get("engaged")),
            "sig_figs": _count(config, "sig_figs"),
            "data_file": first.data_file,
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


def _check_sizes(result: EngineResult, data: Mapping, cells: CellTable, k: int):
    """The draws must be of this data: K, D, and the censored cells
    wherever the run's variables show them (K and N first: :func:`_check_counts`)."""
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
    if "y_latent" in found:
        expected = latent_cells(
            cells,
            bool(data.get("student_t", 0)),
            bool(data.get("integrate_pairs", 0)),
        )[0].size
        if found["y_latent"].shape[2:] != (expected,):
            raise StanmixInputError(
                f"the run has {found['y_latent'].shape[2]} latent values y_latent "
                f"but the data file's censored cells give {expected} (one per "
                "censored cell of the rows the program samples as latent "
                "values); give the data file the run used"
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


def _check_counts(result: EngineResult, data: Mapping) -> None:
    """The data's K and N against the draws, before anything is read by
    them: the components of ``w`` and the rows of the per-row quantities."""
    counts = {
        key: data.get(key)
        for key in ("K", "N")
        if isinstance(data.get(key), (int, np.integer))
        and not isinstance(data.get(key), bool)
    }
    w = result.variables.get("w")
    if "K" in counts and w is not None and w.shape[-1] != counts["K"]:
        raise StanmixInputError(
            f"the CSV files hold draws with {w.shape[-1]} components but the "
            f"data file says K = {counts['K']}; give the data file the run used"
        )
    for name in ("log_lik", "membership_log_prob"):
        found = result.variables.get(name)
        if (
            "N" in counts
            and found is not None
            and found.shape[2] not in (0, counts["N"])
        ):
            raise StanmixInputError(
                f"the run's {name} has {found.shape[2]} rows but the data file "
                f"has N = {counts['N']}: the data's N does not match the run's "
                "draws; give the data file the run used"
            )


def _check_flags(result: EngineResult, data: Mapping, program: str) -> None:
    """Flags the draws show: degrees of freedom ``nu`` only where the data
    ask for Student-t components (``student_t = 1`` of full_cov.stan); the
    per-dimension model (``independent_dims = 1``) writes no memberships,
    and the program refuses to."""
    nu = result.variables.get("nu")
    if (
        program == "full_cov"
        and nu is not None
        and nu.size
        and not int(data.get("student_t", 0))
    ):
        raise StanmixInputError(
            "the CSV files hold nu, which full_cov.stan writes only for "
            "Student-t components (student_t = 1), but the data's student_t = 0: "
            "the draws would be read as normal components; give the data file "
            "the run used"
        )
    if int(data.get("independent_dims", 0)) != 1:
        return
    found = result.variables.get("membership_log_prob")
    if found is not None and found.size:
        raise StanmixInputError(
            "the data's independent_dims = 1 but the CSV files hold "
            f"membership_log_prob, which {program}.stan writes only for joint "
            "components (independent_dims = 0; it refuses compute_membership = 1 "
            "otherwise); give the data file the run used"
        )
    if int(data.get("compute_membership", 0)):
        raise StanmixInputError(
            "the data's independent_dims = 1 and compute_membership = 1, which "
            f"{program}.stan refuses (per-dimension mixtures have no single "
            "component per row); give the data file the run used"
        )


def _check_anchor(result: EngineResult, anchor: int, ordered: int) -> None:
    """The means' ordering the draws show: ``mu_anchor_ordered`` (from the
    pivot up) or ``mu_anchor_free`` is the anchor column of ``mu``, and
    which of them the run wrote says whether the means were ordered."""
    found = result.variables
    mu = np.asarray(found["mu"])
    written = {
        name: np.asarray(found[name])
        for name in ("mu_anchor_ordered", "mu_anchor_free")
        if name in found and np.asarray(found[name]).size
    }
    if not written:
        return
    name, values = next(iter(written.items()))
    if (name == "mu_anchor_ordered") != bool(ordered):
        raise StanmixInputError(
            f"the data's ordered_means = {ordered} but the run wrote {name} "
            f"(ordered_means = {1 - ordered}); give the data file the run used"
        )
    m = values.shape[-1]
    tail = mu[..., mu.shape[-2] - m :, :]

    def matches(column: int) -> bool:
        return bool(np.allclose(tail[..., column], values, rtol=1e-6, atol=0.0))

    if matches(anchor - 1):
        return
    runs = [d + 1 for d in range(mu.shape[-1]) if matches(d)]
    shows = (
        f"are the means of column {runs[0]} (a run with anchor = {runs[0]})"
        if runs
        else "are the means of no column of mu"
    )
    raise StanmixInputError(
        f"the data's anchor = {anchor} but the run's {name} {shows}: "
        "relabelling would order the components on the wrong column; give the "
        "data file the run used"
    )


#: Rows and draws a chain on which a run's generated quantities are
#: recomputed and compared with the data's.
_COMPARE_ROWS = 100
_COMPARE_DRAWS = 10
_GENERATED = ("log_lik", "membership_log_prob", "y_latent")


def _half_step(values: np.ndarray, digits: int) -> np.ndarray:
    """Half a unit of the last digit of ``values`` printed to ``digits``
    significant digits: how far the printed value may lie from the run's.

    Examples
    --------
    >>> _half_step(np.array([10000.0, -0.03, 0.0]), 6).tolist()
    [0.05, 5e-08, 0.0]
    """
    size = np.abs(np.asarray(values, dtype=float))
    with np.errstate(divide="ignore"):
        exponent = np.floor(np.log10(np.where(size > 0, size, 1.0)))
    return np.where(size > 0, 0.5 * 10.0 ** (exponent - digits + 1), 0.0)


def _renormalised_weights(variables: dict, digits: int) -> None:
    """Weights printed to few digits sum to 1 only within their rounding:
    divided by their sum where it is off by no more than that."""
    w = variables.get("w")
    if w is None or not np.size(w):
        return
    w = np.asarray(w, dtype=float)
    total = w.sum(axis=-1, keepdims=True)
    within = np.abs(total - 1.0) <= 1.01 * _half_step(w, digits).sum(
        axis=-1, keepdims=True
    )
    variables["w"] = np.where(within, w / np.where(total > 0, total, 1.0), w)


def _recomputed(family, cells: CellTable, variables: Mapping, want: set[str]):
    """``log_lik`` (chain, draw, N) and membership probabilities (chain,
    draw, N, K) from the draws, as stanmix computes them."""
    d = cells.n_dims
    units = Standardization(np.zeros(d), np.ones(d))
    params = family.to_original_units(family.from_stan(variables), units)
    c, s = params["w"].shape[:2]
    flat = {name: a.reshape(c * s, *a.shape[2:]) for name, a in params.items()}
    out = {}
    if "log_lik" in want:
        out["log_lik"] = likelihood.log_likelihood(family, cells, flat).reshape(
            c, s, -1
        )
    if "membership_log_prob" in want:
        out["membership_log_prob"] = likelihood.membership_draws(
            family, cells, flat
        ).reshape(c, s, cells.n_obs, -1)
    return out


def _rounding_bound(family, cells, params: dict, want, digits: int, base) -> dict:
    """How far the recomputed quantities can move when each parameter
    moves by the rounding of its printed value: the sum over the
    parameters' entries of the larger change that a half-step up or down
    makes, which holds the first-order term and the curvature along the
    entry (|g| h + |H| h^2 / 2, where g vanishes near a row's mode)."""
    bound = {name: np.zeros_like(value) for name, value in base.items()}
    for name, values in params.items():
        flat = np.asarray(values, dtype=float).reshape(*values.shape[:2], -1)
        steps = _half_step(flat, digits)
        for j in np.flatnonzero(steps.any(axis=(0, 1))):
            largest = {key: np.zeros_like(value) for key, value in base.items()}
            for sign in (1.0, -1.0):
                moved = flat.copy()
                moved[..., j] += sign * steps[..., j]
                trial = {**params, name: moved.reshape(values.shape)}
                if name == "w":
                    _renormalised_weights(trial, digits)
                for key, value in _recomputed(family, cells, trial, want).items():
                    change = np.abs(value - base[key])
                    largest[key] = np.maximum(largest[key], change)
            for key in bound:
                bound[key] += largest[key]
    return bound


def _check_generated(
    result: EngineResult, family, cells: CellTable, source: str
) -> None:
    """The run's own ``log_lik`` and ``membership_log_prob`` against those
    stanmix recomputes from the data, on up to ten draws of each chain and
    a hundred rows (evenly spaced).

    They agree up to the printed precision of the CSV files (6 significant
    digits unless ``sig_figs`` says otherwise): the tolerance is half a
    unit of the printed quantity's last digit, plus twice the change that
    moving every parameter by half a unit of its own last digit can make
    (:func:`_rounding_bound`), plus 1e-8 relative (float summation). Rows
    whose censored cells ``full_cov.stan`` samples as latent values are
    skipped (the program completes them with the draw's values). Where the
    draws cannot be moved so (a rounded correlation matrix no longer
    valid), the comparison is skipped.
    """
    found = result.variables
    want = {n for n in ("log_lik", "membership_log_prob") if np.size(found.get(n, []))}
    if not want:
        return
    s = np.asarray(found["w"]).shape[1]
    draws = np.unique(np.linspace(0, s - 1, min(s, _COMPARE_DRAWS)).round().astype(int))
    rows = np.arange(cells.n_obs)
    if getattr(family, "censoring", None) == "latent":
        latent = latent_cells(cells, family.student_t, family.integrate_pairs)
        rows = np.setdiff1d(rows, latent[0])
    if rows.size > _COMPARE_ROWS:
        rows = rows[np.linspace(0, rows.size - 1, _COMPARE_ROWS).round().astype(int)]
    if rows.size == 0:
        return
    subset = {n: np.asarray(a)[:, draws] for n, a in found.items()}
    params = {n: a for n, a in subset.items() if n not in _GENERATED}
    digits = result.info.get("sig_figs") or 6  # weights renormalised on reading
    part = cells.rows(rows)
    try:
        with np.errstate(all="ignore"):
            ours = _recomputed(family, part, params, want)
            bound = _rounding_bound(family, part, params, want, digits, ours)
    except (StanmixInputError, np.linalg.LinAlgError, ValueError):
        logger.info("the run's generated quantities were not compared with its data")
        return
    for name in sorted(want):
        theirs = subset[name][:, :, rows]
        printed = _half_step(theirs, digits)
        if name == "membership_log_prob":
            printed = np.exp(theirs) * np.expm1(printed)
            theirs = np.exp(theirs)
        mine = ours[name]
        allowed = printed + 2 * bound[name] + 1e-8 * (1 + np.abs(theirs))
        off = np.abs(mine - theirs)
        off[(mine == theirs) | (np.isnan(mine) & np.isnan(theirs))] = 0
        bad = ~(off <= allowed)
        if bad.any():
            _refuse_generated(result, name, bad, draws, rows, mine, theirs, source)


def _refuse_generated(result, name, bad, draws, rows, mine, theirs, source) -> None:
    """The message for a run's generated quantity that its data do not give."""
    files = [Path(f).name for f in result.info["csv_files"]]
    where = check.first_index(bad)
    chain, draw, row = where[:3]
    label = f"{name}[{rows[row] + 1}" + (
        f", {where[3] + 1}]" if len(where) > 3 else "]"
    )
    what = "log-likelihood" if name == "log_lik" else "membership probability"
    shown = "" if name == "log_lik" else " as a probability"
    detail = (
        f"its {what} of row {rows[row] + 1} recomputed from the data is "
        f"{mine[where]:.6g}, but {files[chain]} holds {label} = {theirs[where]:.6g}"
        f"{shown} (draw {draws[draw] + 1})"
    )
    agree = [files[c] for c in range(bad.shape[0]) if not bad[c].any()]
    if agree:
        raise StanmixInputError(
            f"{files[chain]} does not match {source}, though {agree[0]} does "
            f"({detail}): the chains were run on different data; give the files "
            "of one run and its data file"
        )
    raise StanmixInputError(
        f"{source} does not match the run that wrote the draws: {detail}; give "
        "the data file the run used"
    )


def _check_draw_count(result: EngineResult) -> None:
    """Enough draws a chain for R-hat, ESS and the label-switching check."""
    draws = np.asarray(result.variables["w"]).shape[1] if "w" in result.variables else 0
    if 0 < draws < MIN_NUTS_DRAWS:
        files = [Path(f).name for f in result.info["csv_files"]]
        raise StanmixInputError(
            f"{files[0]}{' and the other chains' if len(files) > 1 else ''} "
            f"hold{'s' if len(files) == 1 else ''} {draws} draw"
            f"{'s' if draws > 1 else ''} after warmup: stanmix needs at least "
            f"{MIN_NUTS_DRAWS} a chain (R-hat, ESS and the check for label "
            "switching compare draws); run more draws (num_samples)"
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
        Names of the D dimensions (the ``dim`` coordinate), such as the
        columns of the DataFrame given to ``stan_input`` (the data file
        holds numbers only); by default ``x0``, ``x1``, .... For
        ``regression.stan``: the response's name (by default ``y``), then
        optionally each covariate's, in the data's order (by default
        ``x0``, ``x1``, ..., read by position in new data). Named, they are
        ``feature_names_in_``, matched against the columns of new data.
    relabel : {"auto", "stephens", "reference", "ecr", "order", None}
        How the draws are relabelled, as for the estimators.
    hdi_prob : float
        Probability mass of reported HDIs.

    Returns
    -------
    Mixture
        Fitted (a :class:`~stanmix.RegressionMixture` for a run of
        ``regression.stan``, with its ``predict_response``), in the data's own units:
        a data file from ``stan_input`` of a standardized fit records its
        units (``stanmix_center``, ``stanmix_scale``), and the draws are
        moved back to the data's units (the model then has
        ``standardize=True``); without them, in the data file's units, with
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
    _check_draw_count(result)
    _renormalised_weights(result.variables, result.info.get("sig_figs") or 6)
    source = Path(data).name if isinstance(data, (str, Path)) else None
    data = _load_data(data)
    program = _program_of(result)
    try:
        if "K" not in data:
            raise StanmixInputError("the data has no entry 'K' (number of components)")
        _check_counts(result, data)
        check_stan_data(program, data)
        lacking = missing_scalars(program, data)
        if lacking:
            raise StanmixInputError(
                f"the data has no entry {', '.join(map(repr, lacking))}, which "
                f"{program}.stan reads (CmdStan refuses such data): these are not "
                "the data of the run; give the data file the run used"
            )
        k = check.integer("the data's K", data["K"], low=1)
        cells, named = _cells_of_run(program, data, columns)
        units = Standardization.from_stan_entries(data)
        if units is not None:
            _check_units(units, cells)
        ordered = int(data.get("ordered_means", 1))
        anchor = int(data.get("anchor", 1))
        _check_flags(result, data, program)
        family = family_from_stan_data(program, data)
        _check_sizes(result, data, cells, k)
        _check_anchor(result, anchor, ordered)
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
    _check_generated(result, family, cells, source or "the data")
    if program == "regression":
        model = _regression_of_run(
            k,
            family,
            data,
            cells,
            named=named,
            ordered=bool(ordered),
            standardize=units is not None,
            relabel=relabel,
            hdi_prob=hdi_prob,
        )
    else:
        model = Mixture(
            k,
            family=family.family,
            covariance=family.covariance,
            family_options=family.settings_from_stan_data(data) or None,
            ordered=bool(ordered),
            # by name where the columns are named: an integer may be the
            # name of another column ("1", "2", ...)
            anchor_dim=str(cells.columns[anchor - 1]) if named else anchor - 1,
            standardize=units is not None,
            relabel=relabel,
            hdi_prob=hdi_prob,
            **_priors_of_run(data),
        )
    seed = result.info.get("seed")
    return model.fit_result(
        result,
        cells if units is None else units.restore(cells),
        seed=int(seed) if seed is not None and str(seed).isdigit() else 0,
        units=units,
        feature_names=named,
    )


def _cells_of_run(program: str, data: Mapping, columns) -> tuple[CellTable, bool]:
    """The run's data as a cell table, its columns named by ``columns``
    (for ``regression.stan`` the response alone, or the response and then
    each covariate), and whether they name what new data is matched by (the
    columns; a regression's covariates)."""
    if isinstance(columns, (str, bytes)):
        raise StanmixInputError(
            f"columns must be a sequence of names, one per column, got the "
            f"string {columns!r}; for one column give [{columns!r}]"
        )
    names = None if columns is None else [str(c) for c in columns]
    twice = check.repeated(names or [])
    if twice:
        raise StanmixInputError(
            f"columns names {', '.join(map(repr, twice))} twice; give each "
            "dimension its own name"
        )
    covariates = None
    if program == "regression" and names is not None and len(names) > 1:
        p = int(data.get("P", 0))
        if len(names) != 1 + p:
            raise StanmixInputError(
                f"columns names {len(names)} columns, but a run of "
                f"regression.stan has the response and P = {p} covariate(s): "
                f"give {1 + p} names (the response, then the covariates in the "
                "data's order) or the response's alone"
            )
        names, covariates = names[:1], names[1:]
    cells = CellTable.from_stan(data, names, covariates).validate()
    named = names is not None and (program != "regression" or covariates is not None)
    return cells, named


def _regression_of_run(
    k, family, data, cells, *, named, ordered, standardize, relabel, hdi_prob
):
    """An unfitted :class:`~stanmix.RegressionMixture` with the settings
    and the column design of a run of ``regression.stan``: its predictors and
    the weights' covariates by their names in ``cells`` (``named``: given by
    the user, so new data is matched by name; else ``x0``, ``x1``, ... read
    by position)."""
    from stanmix.regression import RegressionDesign, RegressionMixture

    settings = family.settings_from_stan_data(data)
    covariates = tuple(cells.covariate_names)
    predictors = tuple(covariates[j] for j in settings.pop("predictors"))
    weights_from = tuple(covariates[j] for j in settings.pop("weights_from"))
    order = settings.pop("order_by")
    priors = _priors_of_run(data)
    priors.pop("guided_prior_scale", None)  # not a regression's setting
    for name in ("slope_scale", "gate_scale"):
        if name in settings:
            priors[f"prior_{name}"] = settings.pop(name)
    model = RegressionMixture(
        k,
        predictors=list(predictors),
        weights_from=list(weights_from) or None,
        errors="student_t" if family.student_t else "normal",
        # an unordered run's order_by entry is not read by the program
        order_by="intercept" if order is None or not ordered else predictors[order],
        ordered=ordered,
        standardize=standardize,
        relabel=relabel,
        family_options=settings or None,  # what is left: nu_shape, nu_rate
        hdi_prob=hdi_prob,
        **priors,
    )
    model._design = RegressionDesign(
        response=str(cells.columns[0]),
        predictors=predictors,
        weights_from=weights_from,
        covariates=covariates,
        array_columns=None if named else len(covariates),
    )
    model._named_covariates = named
    return model


def _priors_of_run(data: Mapping) -> dict:
    """The estimator's prior settings as the run's data entries hold them,
    each where it is one value throughout (as stanmix writes them): the
    means' prior sd (``prior_mean_scale``, or ``guided_prior_scale`` where
    the means' prior is centred on given values), the scales' prior
    (``prior_scale_median``, ``prior_scale_log_sd``) and the weights'
    (``prior_concentration``).

    >>> _priors_of_run({"mu_loc": [[0.0], [0.0]], "mu_scale": [[2.0], [2.0]],
    ...                 "sigma_loc": 0.3, "alpha": [5.0, 5.0]})
    {'prior_mean_scale': 2.0, 'prior_scale_median': 0.3, 'prior_concentration': 5.0}
    """

    def one_value(entry: str) -> float | None:
        if entry not in data:
            return None
        values = np.ravel(np.asarray(data[entry], dtype=float))
        if values.size and np.isfinite(values[0]) and np.all(values == values[0]):
            return float(values[0])
        return None

    out = {}
    scale = one_value("mu_scale")
    if scale is not None:
        centred = not np.any(np.asarray(data.get("mu_loc", 0.0), dtype=float))
        out["prior_mean_scale" if centred else "guided_prior_scale"] = scale
    for setting, entry in (
        ("prior_scale_median", "sigma_loc"),
        ("prior_scale_log_sd", "sigma_scale"),
        ("prior_concentration", "alpha"),
    ):
        value = one_value(entry)
        if value is not None:
            out[setting] = value
    return out


def _check_units(units: Standardization, cells: CellTable) -> None:
    """The recorded units (:data:`~stanmix.cells.UNIT_ENTRIES`) must give
    each column (and each covariate, where recorded) a finite centre and a
    finite, positive scale."""
    fields = (units.center, units.scale, units.covariate_center, units.covariate_scale)
    pairs = [(UNIT_ENTRIES[:2], fields[:2], cells.n_dims)]
    if fields[2] is not None or fields[3] is not None:
        pairs.append((UNIT_ENTRIES[2:], fields[2:], cells.n_covariates))
    for (center_name, scale_name), (center, scale), n in pairs:
        for name, value in ((center_name, center), (scale_name, scale)):
            if value is None or value.shape != (n,):
                got = "no entry" if value is None else f"shape {value.shape}"
                raise StanmixInputError(
                    f"the data's {name} must hold {n} value(s), one per column, "
                    f"got {got}; write the data again with Mixture.stan_input"
                )
        if not (np.isfinite(center).all() and (np.isfinite(scale) & (scale > 0)).all()):
            raise StanmixInputError(
                f"the data's {center_name} must be finite and {scale_name} finite "
                "and positive; write the data again with Mixture.stan_input"
            )
