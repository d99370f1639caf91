"""Turning flat Stan output columns into named, shaped arrays."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

import numpy as np

_COLUMN = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)(?:[\[.](.*?)\]?)?$")


def _split(name: str) -> tuple[str, tuple[int, ...]]:
    match = _COLUMN.match(name)
    if match is None:
        raise ValueError(f"unrecognised Stan column name {name!r}")
    base, index = match.groups()
    if not index:
        return base, ()
    parts = re.split(r"[,.]", index)
    return base, tuple(int(p) for p in parts)


def unflatten(names: Sequence[str], values: np.ndarray) -> dict[str, np.ndarray]:
    """Group Stan columns into variables with their declared shapes.

    ``values`` has the columns on its last axis; Stan writes containers in
    column-major order (first index fastest), as CmdStan's CSV does. Both
    ``mu[2,1]`` and ``mu.2.1`` spellings are accepted. Sampler columns
    (ending in ``__``) are returned under their own names.

    Examples
    --------
    >>> import numpy as np
    >>> names = ["a[1,1]", "a[2,1]", "a[1,2]", "a[2,2]", "b"]
    >>> out = unflatten(names, np.array([11.0, 21.0, 12.0, 22.0, 5.0]))
    >>> out["a"].tolist(), float(out["b"])
    ([[11.0, 12.0], [21.0, 22.0]], 5.0)
    """
    values = np.asarray(values)
    groups: dict[str, list[tuple[int, tuple[int, ...]]]] = {}
    for col, name in enumerate(names):
        base, index = _split(name)
        groups.setdefault(base, []).append((col, index))
    lead = values.shape[:-1]
    out: dict[str, np.ndarray] = {}
    for base, entries in groups.items():
        indices = [ix for _, ix in entries]
        if indices == [()]:
            out[base] = values[..., entries[0][0]]
            continue
        depth = {len(ix) for ix in indices}
        shape = tuple(max(ix[i] for ix in indices) for i in range(min(depth)))
        if (
            len(depth) != 1
            or min(min(ix, default=0) for ix in indices) < 1
            or len(set(indices)) != len(indices)
            or len(indices) != math.prod(shape)
        ):
            raise ValueError(
                f"the columns of {base!r} do not name each element of one array "
                f"once (indices from 1): {_flaw(base, indices, shape)}"
            )
        arr = np.empty((*lead, *shape), dtype=values.dtype)
        cols = np.array([c for c, _ in entries])
        idx = np.array([ix for _, ix in entries]) - 1
        arr[(Ellipsis, *idx.T)] = values[..., cols]
        out[base] = arr
    return out


def _flaw(base: str, indices: list[tuple[int, ...]], shape: tuple[int, ...]) -> str:
    """What is wrong with a variable's column indices, for the error."""

    def name(ix: tuple[int, ...]) -> str:
        return f"{base}[{','.join(map(str, ix))}]"

    if len({len(ix) for ix in indices}) != 1:
        return "its columns have different numbers of indices"
    low = next((ix for ix in indices if min(ix, default=0) < 1), None)
    if low is not None:
        return f"{name(low)} has an index below 1"
    seen: set[tuple[int, ...]] = set()
    for ix in indices:
        if ix in seen:
            return f"{name(ix)} appears twice"
        seen.add(ix)
    missing = [ix for ix in np.ndindex(*shape) if tuple(i + 1 for i in ix) not in seen]
    first = name(tuple(i + 1 for i in missing[0]))
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    return f"{first}{more} missing (a column was dropped?)"
