"""The one set of argument checks: each returns the cleaned value or raises
:class:`~stanmix.exceptions.StanmixInputError` naming the argument."""

from __future__ import annotations

import difflib
import numbers
import sys
from collections.abc import Iterable, Mapping
from typing import Any, NoReturn

import numpy as np

from stanmix.exceptions import StanmixInputError

#: Largest seed stanmix accepts: Stan's seeds are unsigned 32-bit, and the
#: output files store the seed as a signed 32-bit integer.
MAX_SEED = 2**31 - 1


def _refuse(message: str, hint: str) -> NoReturn:
    raise StanmixInputError(f"{message}; {hint}" if hint else message)


def integer(name: str, value: Any, *, low: int | None = None, hint: str = "") -> int:
    """``value`` as an int (numpy integers too; not bool, float or str).

    ``hint``, when given, ends the message: what to pass instead.

    Examples
    --------
    >>> integer("chains", np.int64(4), low=1)
    4
    >>> try:
    ...     integer("iter", 0, low=1, hint="pass the number of iterations")
    ... except StanmixInputError as err:
    ...     print(err)
    iter must be at least 1, got 0; pass the number of iterations
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        _refuse(f"{name} must be an integer, got {value!r}", hint)
    value = int(value)
    if low is not None and value < low:
        _refuse(f"{name} must be at least {low}, got {value}", hint)
    return value


def first_index(mask: np.ndarray) -> tuple[int, ...]:
    """The index of ``mask``'s first True entry (in C order), as ints.

    Examples
    --------
    >>> first_index(np.array([[False, False], [False, True]]))
    (1, 1)
    """
    return tuple(int(i) for i in np.argwhere(mask)[0])


def float_array(name: str, value: Any) -> np.ndarray:
    """``value`` as an array of floats, or an error naming ``name``.

    Examples
    --------
    >>> float_array("inv_metric", [1, 2]).tolist()
    [1.0, 2.0]
    """
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise StanmixInputError(
            f"{name} must be a numeric array; could not convert it ({exc})."
        ) from None


def number(
    name: str,
    value: Any,
    *,
    positive: bool = False,
    low: float | None = None,
    high: float | None = None,
    hint: str = "",
) -> float:
    """``value`` as a finite float (numpy floats too; not bool or str).

    ``low`` and ``high`` are exclusive bounds; ``hint``, when given, ends
    the message.

    Examples
    --------
    >>> number("adapt_delta", np.float32(0.5), low=0, high=1)
    0.5
    """
    if isinstance(value, (bool, np.bool_, str, bytes)) or not isinstance(
        value, numbers.Real
    ):
        _refuse(f"{name} must be {_number_range(low, high)}, got {value!r}", hint)
    value = float(value)
    if not np.isfinite(value):
        _refuse(f"{name} must be finite, got {value}", hint)
    if positive and value <= 0:
        _refuse(f"{name} must be a positive number, got {value!r}", hint)
    if (low is not None and value <= low) or (high is not None and value >= high):
        _refuse(f"{name} must be {_number_range(low, high)}, got {value!r}", hint)
    return value


def _number_range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"a number between {low:g} and {high:g} (exclusive)"
    if low is not None:
        return f"a number above {low:g}"
    return "a number" if high is None else f"a number below {high:g}"


def flag(name: str, value, none: str = "") -> None:
    """Refuse a ``value`` of the switch ``name`` that is not True or False
    (or None, where ``none`` says what None means).

    Examples
    --------
    >>> try:
    ...     flag("log_likelihood", "no", none="store it when it is small")
    ... except StanmixInputError as err:
    ...     print(err)  # doctest: +NORMALIZE_WHITESPACE
    log_likelihood must be True, False or None (store it when it is small),
    got 'no'
    """
    if isinstance(value, (bool, np.bool_)) or (none and value is None):
        return
    allowed = f"True, False or None ({none})" if none else "True or False"
    raise StanmixInputError(f"{name} must be {allowed}, got {value!r}")


def one_of(name: str, value: Any, choices: Iterable[str], what: str = "") -> str:
    """``value`` if it is one of ``choices``.

    Examples
    --------
    >>> one_of("method", "sample", ("optimize", "sample"))
    'sample'
    """
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise StanmixInputError(
            f"unknown {name} {value!r}; choose one of {', '.join(choices)}{what}"
        )
    return value


def seed(value: Any, name: str = "seed") -> int | None:
    """A seed in 0 .. 2**31 - 1, or None."""
    if value is None:
        return None
    value = integer(name, value, low=0)
    if value > MAX_SEED:
        raise StanmixInputError(
            f"{name} must be at most {MAX_SEED} (2**31 - 1), got {value}"
        )
    return value


def fresh_seed() -> int:
    """A seed in 0 .. 2**31 - 1 from the operating system's entropy, for a
    fit given none (recorded so that it can be repeated)."""
    return int(np.random.SeedSequence().entropy % MAX_SEED)


def known_keys(
    name: str,
    given: Mapping,
    valid: Iterable[str],
    hint: str = "",
    *,
    near: Iterable[str] | Mapping[str, str] = (),
    aliases: Mapping[str, str] | None = None,
) -> None:
    """Refuse keys of ``given`` outside ``valid``, naming the valid ones and,
    for a misspelt key, the nearest of ``valid`` and ``near`` (names valid
    elsewhere; a mapping gives each a note of where), or, for a key in
    ``aliases`` (other libraries' names), what it is here.

    Examples
    --------
    >>> try:
    ...     known_keys("option(s):", {"chians": 2}, ["thin"], near=["chains"])
    ... except StanmixInputError as err:
    ...     print(err)
    unknown option(s): 'chians' (did you mean 'chains'?); valid: thin
    >>> try:
    ...     known_keys("option(s):", {"chians": 2}, ["iter"],
    ...                near={"chains": ", which method='sample' takes"})
    ... except StanmixInputError as err:
    ...     print(err)  # doctest: +NORMALIZE_WHITESPACE
    unknown option(s): 'chians' (did you mean 'chains', which method='sample'
    takes?); valid: iter
    >>> try:
    ...     known_keys("option(s):", {"tune": 5}, ["thin"], aliases={"tune": "warmup="})
    ... except StanmixInputError as err:
    ...     print(err)
    unknown option(s): 'tune' (here: warmup=); valid: thin
    >>> try:
    ...     known_keys("option(s):", {"chains": 2}, ["iter"],
    ...                near={"chains": ", which method='sample' takes"})
    ... except StanmixInputError as err:
    ...     print(err)  # doctest: +NORMALIZE_WHITESPACE
    unknown option(s): 'chains' (an option that method='sample' takes, not
    this one); valid: iter
    """
    valid = tuple(valid)
    unknown = [str(k) for k in given if k not in valid]
    if unknown:
        listed = ", ".join(valid) if valid else "none"
        notes = dict(near) if isinstance(near, Mapping) else dict.fromkeys(near, "")
        notes.update(dict.fromkeys(valid, ""))
        named = []
        for key in unknown:
            close = difflib.get_close_matches(key, list(notes), n=1, cutoff=0.75)
            if aliases and key in aliases:
                named.append(f"{key!r} (here: {aliases[key]})")
            elif notes.get(key):  # spelt right, for another use
                taken = notes[key].replace(", which", " that", 1)
                named.append(f"{key!r} (an option{taken}, not this one)")
            elif close:
                named.append(f"{key!r} (did you mean {close[0]!r}{notes[close[0]]}?)")
            else:
                named.append(repr(key))
        raise StanmixInputError(
            f"unknown {name} {', '.join(named)}; valid: {listed}{hint}"
        )


def column_position(
    name: str, value: Any, columns: tuple[str, ...], what: str = "column"
) -> int:
    """The position among ``columns`` (the model's column names, as text;
    or its other named things, ``what`` they are) of the column that
    ``value`` of the argument ``name`` picks: a name, or a position. An
    integer that is also a column's name (X's columns were labelled by
    integers) picks that column where it is the same one as at that
    position, or where no column is at that position; where it picks two
    different columns, it is refused.

    Examples
    --------
    >>> column_position("dims", "b", ("a", "b")), column_position("dims", 1, ("a", "b"))
    (1, 1)
    >>> column_position("anchor_dim", 20, ("10", "20"))
    1
    >>> column_position("anchor_dim", 20, ("10.0", "20.0"))
    1
    >>> try:
    ...     column_position("anchor_dim", 0, ("1", "0"))
    ... except StanmixInputError as err:
    ...     print(err)  # doctest: +NORMALIZE_WHITESPACE
    anchor_dim=0 picks two columns: the one named 0 (at position 1) and the
    one at position 0 (named '1'); give the one you mean by its name as
    text: '0' or '1'
    """
    if isinstance(value, str):
        if value not in columns:
            raise StanmixInputError(
                f"{name}={value!r} is not a {what} of the model "
                f"({what}s: {', '.join(columns)})"
            )
        return columns.index(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise StanmixInputError(
            f"{name} must be a {what}'s name or position, got {value!r}"
        )
    value = int(value)
    inside = 0 <= value < len(columns)
    # the name X's label had as an integer or a float (1 or 1.0)
    names = [c for c in (str(value), str(float(value))) if c in columns]
    if names:
        at = columns.index(names[0])
        if inside and at != value:
            raise StanmixInputError(
                f"{name}={value} picks two {what}s: the one named {names[0]} (at "
                f"position {at}) and the one at position {value} (named "
                f"{columns[value]!r}); give the one you mean by its name as "
                f"text: {names[0]!r} or {columns[value]!r}"
            )
        return at
    if not inside:
        raise StanmixInputError(
            f"{name}={value} is neither a position (0..{len(columns) - 1}) nor a "
            f"{what}'s name ({what}s: {', '.join(columns)})"
        )
    return value


def repeated(names: Iterable[str]) -> list[str]:
    """The names that occur more than once, sorted.

    Examples
    --------
    >>> repeated(["x", "y", "x"])
    ['x']
    """
    seen, twice = set(), set()
    for name in names:
        (twice if name in seen else seen).add(name)
    return sorted(twice)


def figsize(figsize, ax=None) -> tuple[float, float] | None:
    """A plot's ``figsize`` checked: a pair of positive numbers of inches,
    and only for a figure the plot makes (not with the caller's ``ax``).

    Examples
    --------
    >>> figsize([4, 3])
    (4.0, 3.0)
    """
    if figsize is None:
        return None
    if ax is not None:
        raise StanmixInputError(
            "figsize sizes the figure a plot makes; with ax= the plot draws on "
            "your figure: size that one (plt.subplots(figsize=...))"
        )
    try:
        width, height = (float(v) for v in figsize)
    except (TypeError, ValueError):
        raise StanmixInputError(
            f"figsize must be (width, height) in inches, got {figsize!r}"
        ) from None
    if not (np.isfinite(width) and np.isfinite(height) and width > 0 and height > 0):
        raise StanmixInputError(
            f"figsize must be positive (width, height) in inches, got {figsize!r}"
        )
    return width, height


def caller_level() -> int:
    """The ``stacklevel`` of a warning issued by the caller of this function
    that names the first frame outside stanmix (``fit``, ``predict``, ...)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith(
        "stanmix."
    ):
        frame, level = frame.f_back, level + 1
    return level


def one_line(message: str) -> str:
    r"""An engine's error text as one line: its lines in order, without
    those said already (a line within an earlier one), and without the
    final full stop (a hint may follow).

    Examples
    --------
    >>> one_line("optimize failed: Non-finite gradient.\nNon-finite gradient.\n")
    'optimize failed: Non-finite gradient'
    >>> one_line("Rejecting initial value:\n  sigma is 0.\n")
    'Rejecting initial value: sigma is 0'
    """
    kept: list[str] = []
    for line in message.splitlines():
        line = line.strip()
        if line and not any(line in earlier for earlier in kept):
            kept.append(line)
    return " ".join(kept).rstrip(" .")
