"""A data file for one of the package's Stan programs, checked against the
program's own ``data`` block (its includes resolved): each entry's shape,
whole numbers where it declares ``int``, and its bounds, as CmdStan checks
them when it reads the data, with messages that name the entry, its
position (counted from 1, as Stan does) and the range allowed.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from stanmix import _validation as check
from stanmix.exceptions import StanmixInputError
from stanmix.programs import program_path, stan_dir

__all__ = ["check_stan_data", "missing_scalars"]


def missing_scalars(program: str, data: Mapping) -> list[str]:
    """The single-number entries of the program's data block that ``data``
    lacks: CmdStan refuses such data, so draws read with it are not the
    program's run on it (arrays may be left out where they have no entries).

    Examples
    --------
    >>> import json
    >>> from stanmix.programs import example_data_path
    >>> data = json.loads(example_data_path("normal_diag").read_text())
    >>> missing_scalars("full_cov", data)[:3]
    ['tied', 'student_t', 'lkj_eta']
    """
    return [
        d.name for d in _declarations(program) if not d.sizes and d.name not in data
    ]


@dataclass(frozen=True)
class _Declaration:
    """One entry of a program's data block, as declared."""

    name: str
    text: str
    integer: bool
    sizes: tuple[str, ...]
    lower: str | None
    upper: str | None


_DECLARATION = re.compile(
    r"(?:array\[(?P<array>[^\]]+)\]\s*)?(?P<type>int|real|vector|row_vector|matrix)"
    r"(?:<(?P<bounds>[^>]*)>)?(?:\[(?P<dims>[^\]]+)\])?\s+(?P<name>\w+)"
)


@functools.cache
def _declarations(program: str) -> tuple[_Declaration, ...]:
    """The data block of ``stan/<program>.stan``, its includes resolved.

    Examples
    --------
    >>> [d.name for d in _declarations("normal_diag")][:4]
    ['N', 'D', 'y', 'observed']
    """
    source = program_path(program).read_text()
    block = re.search(r"^data\s*\{(.*?)^\}", source, re.MULTILINE | re.DOTALL)
    assert block is not None, f"{program}.stan has no data block"
    text = re.sub(
        r"^\s*#include\s+(\S+)",
        lambda m: (stan_dir() / m.group(1)).read_text(),
        block.group(1),
        flags=re.MULTILINE,
    )
    text = re.sub(r"//[^\n]*", "", text)
    out = []
    for statement in filter(None, (part.strip() for part in text.split(";"))):
        match = _DECLARATION.fullmatch(statement)
        if match is None:
            raise ValueError(
                f"{program}.stan: cannot read the data entry {statement!r}"
            )
        bounds = dict(
            part.strip().split("=", 1)
            for part in (match.group("bounds") or "").split(",")
            if "=" in part
        )
        sizes = [match.group("array"), match.group("dims")]
        out.append(
            _Declaration(
                name=match.group("name"),
                text=" ".join(statement.split()),
                integer=match.group("type") == "int",
                sizes=tuple(
                    size.strip()
                    for group in sizes
                    if group
                    for size in group.split(",")
                ),
                lower=bounds.get("lower"),
                upper=bounds.get("upper"),
            )
        )
    return tuple(out)


def _value_of(expr: str, known: Mapping[str, np.ndarray]) -> np.ndarray | None:
    """A size or bound expression of a data block (integers, earlier
    entries, ``+``, ``-`` and ``a ? b : c``), or None when it names an entry
    the data lacks.

    Examples
    --------
    >>> known = {"spherical": np.array(0), "D": np.array(3)}
    >>> int(_value_of("spherical ? 1 : D", known)), int(_value_of("D - 1", known))
    (3, 2)
    """
    choice = re.fullmatch(r"(.+?)\?(.+?):(.+)", expr)
    if choice:
        condition = _value_of(choice.group(1), known)
        if condition is None:
            return None
        return _value_of(choice.group(2 if condition else 3), known)
    tokens = re.findall(r"[+-]|\w+", expr)
    total: np.ndarray | None = None
    sign = 1
    for token in tokens:
        if token in "+-":
            sign = 1 if token == "+" else -1
            continue
        value = np.asarray(int(token)) if token.isdigit() else known.get(token)
        if value is None:
            return None
        total = sign * value if total is None else total + sign * value
    if total is None:
        raise ValueError(f"cannot evaluate {expr!r}")
    return total


def _named(expr: str, value: np.ndarray | None, index: tuple[int, ...]) -> str:
    """A bound as a message shows it: ``N = 200``, or the number itself."""
    if value is None:
        return expr
    shown = value[index] if value.ndim else value
    number = f"{shown.item():g}"
    if expr.strip().isdigit():
        return number
    where = "[" + ", ".join(str(i + 1) for i in index) + "]" if value.ndim else ""
    return f"{expr.strip()}{where} = {number}"


def _allowed(decl: _Declaration, lower, upper, index) -> str:
    """The range a declaration allows, in words."""
    lo = _named(decl.lower, lower, index) if decl.lower else None
    hi = _named(decl.upper, upper, index) if decl.upper else None
    if decl.integer and lo == "0" and hi == "1":
        return "0 or 1"
    if lo and hi:
        return f"from {lo} to {hi}"
    return f"at least {lo}" if lo else f"at most {hi}"


def _shape_words(shape: tuple[int, ...]) -> str:
    if not shape:
        return "one value"
    if len(shape) == 1:
        return f"{shape[0]} entr{'y' if shape[0] == 1 else 'ies'}"
    return " x ".join(map(str, shape))


def _checked_entry(
    decl: _Declaration, value, known: Mapping[str, np.ndarray], program: str
) -> np.ndarray:
    """One data entry against its declaration: its shape (where the sizes
    are known), integers where declared int, and its bounds."""
    kind = "integer" if decl.integer else "number"
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        if not decl.sizes:
            raise StanmixInputError(
                f"the data's {decl.name} must be an {kind}, got {value!r}"
                if decl.integer
                else f"the data's {decl.name} must be a {kind}, got {value!r}"
            ) from None
        raise StanmixInputError(
            f"the data's {decl.name} does not hold {kind}s in the layout "
            f"{program}.stan declares ({decl.text})"
        ) from None
    sizes = [_value_of(size, known) for size in decl.sizes]
    if all(size is not None for size in sizes):
        shape = tuple(int(size) for size in sizes)
        empty = array.size == 0 and math.prod(shape) == 0
        if array.shape != shape and not empty:
            names = dict.fromkeys(re.findall(r"[A-Za-z_]\w*", " ".join(decl.sizes)))
            given = ", ".join(
                f"{name} = {int(known[name])}" for name in names if name in known
            )
            raise StanmixInputError(
                f"the data's {decl.name} has {_shape_words(array.shape)}, but "
                f"{program}.stan declares {decl.text}: {_shape_words(shape)} "
                f"with {given}; give the data file the run used"
            )
    whole = np.isfinite(array) & (array == np.round(array))
    if decl.integer and not whole.all():
        raise StanmixInputError(
            f"the data's {decl.name}{_position(~whole)} must be an integer, got "
            f"{_first_value(value, ~whole)!r}"
        )
    lower = _value_of(decl.lower, known) if decl.lower else None
    upper = _value_of(decl.upper, known) if decl.upper else None
    outside = np.zeros(array.shape, dtype=bool)
    if lower is not None:
        outside |= array < lower
    if upper is not None:
        outside |= array > upper
    if outside.any():
        index = check.first_index(outside)
        raise StanmixInputError(
            f"the data's {decl.name}{_position(outside)} must be "
            f"{_allowed(decl, lower, upper, index)}, got {array[index]:g}; "
            f"{program}.stan declares {decl.text}, and CmdStan refuses data "
            "outside it: give the data file the run used"
        )
    return array


def _position(mask: np.ndarray) -> str:
    """``[i, j]`` (1-based, as Stan counts) of the first True, or ''."""
    if mask.ndim == 0:
        return ""
    return "[" + ", ".join(str(int(i) + 1) for i in np.argwhere(mask)[0]) + "]"


def _first_value(value, mask: np.ndarray):
    """The entry of ``value`` at the first True of ``mask``."""
    if mask.ndim == 0:
        return value
    return np.asarray(value, dtype=object)[tuple(np.argwhere(mask)[0])]


def check_stan_data(program: str, data: Mapping) -> None:
    """The data's entries against the program's data block, in its order:
    shapes, integers and bounds, as CmdStan checks them when it reads the
    data. Entries the data lacks are left to the checks that read them.

    Examples
    --------
    >>> import json
    >>> from stanmix.programs import example_data_path
    >>> data = json.loads(example_data_path("normal_diag").read_text())
    >>> check_stan_data("normal_diag", data)  # the example file: no error
    >>> data["left_row"][0] = 0
    >>> try:
    ...     check_stan_data("normal_diag", data)
    ... except StanmixInputError as err:
    ...     print(str(err)[:55])
    the data's left_row[1] must be from 1 to N = 200, got 0
    """
    known: dict[str, np.ndarray] = {}
    for decl in _declarations(program):
        if decl.name in data:
            known[decl.name] = _checked_entry(decl, data[decl.name], known, program)
    _check_cells(known)
    _check_positive(known)


#: Prior settings the programs refuse unless positive (their data blocks
#: allow 0; each program's transformed data rejects it), and the Student-t
#: ones, which count where the program's components are Student-t.
_POSITIVE = (
    "mu_scale",
    "alpha",
    "sigma_value",
    "sigma_loc",
    "sigma_scale",
    "lkj_eta",
    "beta_scale",
    "gamma_scale",
)
_POSITIVE_T = ("nu_shape", "nu_rate")


def _check_positive(known: Mapping[str, np.ndarray]) -> None:
    student_t = bool(known.get("student_t", 1))
    for name in _POSITIVE + (_POSITIVE_T if student_t else ()):
        value = known.get(name)
        if value is None or value.size == 0:
            continue
        bad = ~(value > 0)
        if bad.any():
            raise StanmixInputError(
                f"the data's {name}{_position(bad)} must be positive, got "
                f"{value[bad][0] if value.ndim else value.item():g}; give the "
                "data file the run used"
            )


#: The censored cells' lists in a program's data: (kind, row, column).
_CENSORED_LISTS = (
    ("left", "left_row", "left_col"),
    ("right", "right_row", "right_col"),
    ("interval", "interval_row", "interval_col"),
)


def _check_cells(known: Mapping[str, np.ndarray]) -> None:
    """The cell table's own rules, as the programs check them
    (``checked_values`` in ``stan/mixture.stanfunctions``): observed is 0
    or 1, an observed value is finite, each censored cell is listed once and
    is not observed, each interval is wider than a point."""
    observed = known.get("observed")
    if observed is None or observed.ndim != 2:
        return
    fraction = (observed != 0) & (observed != 1)
    if fraction.any():
        raise StanmixInputError(
            f"the data's observed{_position(fraction)} must be 0 or 1, got "
            f"{observed[fraction][0]:g}; give the data file the run used"
        )
    y = known.get("y")
    if y is not None and y.shape == observed.shape:
        bad = (observed == 1) & ~np.isfinite(y)
        if bad.any():
            raise StanmixInputError(
                f"the data's y{_position(bad)} is observed (observed = 1) but "
                f"not finite: {y[bad][0]}; give the data file the run used"
            )
    lists = [
        (kind, known[rows].astype(int), known[cols].astype(int))
        for kind, rows, cols in _CENSORED_LISTS
        if rows in known and cols in known
    ]
    if lists:
        kinds = np.concatenate([np.full(r.size, k) for k, r, _ in lists])
        rows = np.concatenate([r for _, r, _ in lists])
        cols = np.concatenate([c for _, _, c in lists])
        key = rows * (observed.shape[1] + 1) + cols
        order = np.argsort(key, kind="stable")
        twice = np.flatnonzero(np.diff(key[order]) == 0)
        if twice.size:
            first, second = order[twice[0]], order[twice[0] + 1]
            raise StanmixInputError(
                f"the data lists cell [{rows[first]}, {cols[first]}] among the "
                f"censored cells twice ({kinds[first]} and {kinds[second]}); a "
                "censored cell has one kind: give the data file the run used"
            )
        inside = (rows >= 1) & (rows <= observed.shape[0]) & (cols >= 1)
        inside &= cols <= observed.shape[1]
        seen = np.zeros(rows.size, dtype=bool)
        seen[inside] = observed[rows[inside] - 1, cols[inside] - 1] == 1
        if seen.any():
            i = int(np.argmax(seen))
            raise StanmixInputError(
                f"the data's cell [{rows[i]}, {cols[i]}] is {kinds[i]}-censored "
                "and also observed (observed = 1): give the data file the run used"
            )
    lower, upper = known.get("interval_lower"), known.get("interval_upper")
    if lower is not None and upper is not None and lower.shape == upper.shape:
        point = ~(upper > lower)
        if point.any():
            i = int(np.argmax(point))
            raise StanmixInputError(
                f"the data's interval_upper[{i + 1}] must be above "
                f"interval_lower[{i + 1}], got {upper[i]:g} and {lower[i]:g}; "
                "give the data file the run used"
            )
