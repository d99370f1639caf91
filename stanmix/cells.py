"""The cell table: observed, censored and missing cells of a data matrix.

Every multivariate dataset is held internally as a :class:`CellTable`, one
entry per (row, column) cell with a kind code. The Stan programs, the
Python-side likelihood (membership, log-likelihood) and standardization all
read this one representation, so a censored cell means the same thing
everywhere.

Kinds
-----
OBSERVED  value known exactly                     term: log N(y | mu, sigma)
LEFT      true value <= upper (detection limit)   term: log Phi((upper-mu)/sigma)
RIGHT     true value >= lower                     term: log (1-Phi((lower-mu)/sigma))
INTERVAL  lower <= true value <= upper            term: log (Phi(u) - Phi(l))
MISSING   nothing known                           term: 0 (exact, diagonal covariance)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

OBSERVED, LEFT, RIGHT, INTERVAL, MISSING = 0, 1, 2, 3, 4
KIND_NAMES = ("observed", "left", "right", "interval", "missing")


@dataclass(frozen=True)
class CellTable:
    """An (N, D) table of cells with their censoring kind.

    Attributes
    ----------
    values : ndarray of float, shape (N, D)
        The value of each OBSERVED cell; NaN in every other cell.
    kind : ndarray of int8, shape (N, D)
        One of OBSERVED, LEFT, RIGHT, INTERVAL, MISSING per cell.
    lower : ndarray of float, shape (N, D)
        Lower bound of RIGHT and INTERVAL cells; NaN elsewhere.
    upper : ndarray of float, shape (N, D)
        Upper bound of LEFT and INTERVAL cells; NaN elsewhere.
    columns : tuple of str
        Column names, length D.
    """

    values: np.ndarray
    kind: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    columns: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        shape = self.values.shape
        for name in ("kind", "lower", "upper"):
            if getattr(self, name).shape != shape:
                raise ValueError(f"CellTable.{name} must have shape {shape}")
        if not self.columns:
            object.__setattr__(self, "columns", tuple(f"x{d}" for d in range(shape[1])))

    @classmethod
    def from_values(cls, values, columns=None) -> CellTable:
        """A table where finite values are observed and NaN cells are missing.

        Examples
        --------
        >>> import numpy as np
        >>> t = CellTable.from_values(np.array([[1.0, np.nan], [2.0, 3.0]]))
        >>> t.kind.tolist()
        [[0, 4], [0, 0]]
        """
        values = np.array(values, dtype=float, copy=True)
        if values.ndim == 1:
            values = values[:, None]
        kind = np.where(np.isnan(values), MISSING, OBSERVED).astype(np.int8)
        nan = np.full(values.shape, np.nan)
        cols = tuple(columns) if columns is not None else ()
        return cls(values, kind, nan, nan.copy(), cols)

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape  # type: ignore[return-value]

    @property
    def n_obs(self) -> int:
        return self.values.shape[0]

    @property
    def n_dims(self) -> int:
        return self.values.shape[1]

    @property
    def is_fully_observed(self) -> bool:
        return bool(np.all(self.kind == OBSERVED))

    def affine(self, center, scale) -> CellTable:
        """The same table in units (x - center) / scale, per column."""
        center = np.asarray(center, dtype=float)
        scale = np.asarray(scale, dtype=float)
        return CellTable(
            (self.values - center) / scale,
            self.kind.copy(),
            (self.lower - center) / scale,
            (self.upper - center) / scale,
            self.columns,
        )

    def rows(self, index) -> CellTable:
        """A table holding only the given rows."""
        return CellTable(
            self.values[index],
            self.kind[index],
            self.lower[index],
            self.upper[index],
            self.columns,
        )

    def point_values(self) -> np.ndarray:
        """A best single value per cell, for initialisation (k-means).

        Observed cells keep their value; censored cells take their limit (the
        midpoint for intervals); missing cells take the column mean of the
        other point values.
        """
        out = self.values.copy()
        out = np.where(self.kind == LEFT, self.upper, out)
        out = np.where(self.kind == RIGHT, self.lower, out)
        out = np.where(self.kind == INTERVAL, 0.5 * (self.lower + self.upper), out)
        col_mean = np.nanmean(np.where(self.kind == MISSING, np.nan, out), axis=0)
        col_mean = np.where(np.isfinite(col_mean), col_mean, 0.0)
        return np.where(self.kind == MISSING, col_mean, out)

    def to_stan(self) -> dict:
        """The cell-related entries of ``diag_mixture.stan``'s data block."""
        observed = self.kind == OBSERVED
        data: dict = {
            "N": self.n_obs,
            "D": self.n_dims,
            "y": np.where(observed, self.values, 0.0),
            "observed": observed.astype(float),
        }
        for label, code, bounds in (
            ("left", LEFT, ("upper",)),
            ("right", RIGHT, ("lower",)),
            ("interval", INTERVAL, ("lower", "upper")),
        ):
            rows, cols = np.nonzero(self.kind == code)
            data[f"n_{label}"] = int(rows.size)
            data[f"{label}_row"] = (rows + 1).astype(int)
            data[f"{label}_col"] = (cols + 1).astype(int)
            if label == "interval":
                data["interval_lower"] = self.lower[rows, cols]
                data["interval_upper"] = self.upper[rows, cols]
            else:
                data[f"{label}_limit"] = getattr(self, bounds[0])[rows, cols]
        return data
