"""The cell table: observed, censored and missing cells of a data matrix.

Every dataset is held internally as a :class:`CellTable`, one entry per
(row, column) cell with a kind code. The Stan programs, the Python-side
likelihood (membership, log-likelihood) and standardization all read this
one representation, so a censored cell means the same thing everywhere.

Kinds
-----
OBSERVED  value known exactly
LEFT      true value <= upper (a detection limit)
RIGHT     true value >= lower
INTERVAL  lower <= true value <= upper
MISSING   nothing known

How each family turns a cell into a likelihood term is the family's own
business (:mod:`stanmix.families`).

Covariates
----------
A table may also carry complete covariates, one (N, P) array of exactly
known values per row (predictors of a regression, covariates of the mixing
weights). They are conditioned on, not modelled, so they have no kinds: a
family that uses them reads them from the table, and every operation on
rows (:meth:`CellTable.rows`), units (:class:`Standardization`) and Stan
data (:meth:`CellTable.to_stan`) carries them along with the cells. Tables
without covariates (``covariates=None``) are what every other family sees.

Detection limits
----------------
A censored cell's bound says where *that* cell was censored, but a
detection limit is in force for every cell it applies to, censored or not
(a value measured above the limit would have been censored had it fallen
below it). When the limits are known (given as ``lower_limit`` /
``upper_limit`` to :func:`stanmix.censoring.cell_table`), the table keeps
them per cell in :attr:`CellTable.lower_limit` and
:attr:`CellTable.upper_limit` (NaN where a cell has none), so replicated
data (:mod:`stanmix.checks`) are censored where the data would have been.
They do not enter the likelihood. Tables built otherwise (from values, from
a program's data) leave them None: unknown for the uncensored cells.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from stanmix.exceptions import StanmixInputError

OBSERVED, LEFT, RIGHT, INTERVAL, MISSING = 0, 1, 2, 3, 4
KIND_NAMES = ("observed", "left", "right", "interval", "missing")


@dataclass(frozen=True, eq=False)
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
    covariates : ndarray of float, shape (N, P), optional
        Complete covariates of each row (see the module's docs); None when
        the table has none.
    covariate_names : tuple of str
        Covariate names, length P.
    lower_limit, upper_limit : ndarray of float, shape (N, D), optional
        The detection limits in force for each cell, censored or not
        (see the module's docs): values at or below ``lower_limit`` are
        left-censored, at or above ``upper_limit`` right-censored; NaN where
        a cell has no such limit. None when the limits are not known.

    Examples
    --------
    >>> nan = np.nan
    >>> t = CellTable(np.array([[nan], [1.0]]), np.array([[LEFT], [OBSERVED]]),
    ...               np.full((2, 1), nan), np.array([[0.0], [nan]]),
    ...               lower_limit=np.array([[0.0], [-3.0]]))
    >>> t.rows([1]).lower_limit.tolist()
    [[-3.0]]
    """

    values: np.ndarray
    kind: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    columns: tuple[str, ...] = field(default=())
    covariates: np.ndarray | None = None
    covariate_names: tuple[str, ...] = field(default=())
    lower_limit: np.ndarray | None = None
    upper_limit: np.ndarray | None = None

    def __post_init__(self) -> None:
        shape = self.values.shape
        for name in ("kind", "lower", "upper"):
            if getattr(self, name).shape != shape:
                raise ValueError(f"CellTable.{name} must have shape {shape}")
        for name in ("lower_limit", "upper_limit"):
            limit = getattr(self, name)
            if limit is None:
                continue
            limit = np.asarray(limit, dtype=float)
            if limit.shape != shape:
                raise ValueError(f"CellTable.{name} must have shape {shape}")
            object.__setattr__(self, name, limit)
        if not self.columns:
            object.__setattr__(self, "columns", tuple(f"x{d}" for d in range(shape[1])))
        if self.covariates is not None:
            cov = np.asarray(self.covariates, dtype=float)
            if cov.ndim != 2 or cov.shape[0] != shape[0]:
                raise ValueError(
                    f"CellTable.covariates must have shape ({shape[0]}, P), got "
                    f"{cov.shape}"
                )
            object.__setattr__(self, "covariates", cov)
            if not self.covariate_names:
                names = tuple(f"x{p}" for p in range(cov.shape[1]))
                object.__setattr__(self, "covariate_names", names)
            if len(self.covariate_names) != cov.shape[1]:
                raise ValueError(
                    f"CellTable.covariate_names must name {cov.shape[1]} covariates"
                )

    @property
    def n_covariates(self) -> int:
        """Number of covariate columns P (0 when the table has none)."""
        return 0 if self.covariates is None else int(self.covariates.shape[1])

    def with_covariates(self, covariates, names=None) -> CellTable:
        """The same cells with complete covariates attached, one row each.

        Examples
        --------
        >>> t = CellTable.from_values([[1.0], [2.0]], ["y"])
        >>> t.with_covariates([[0.5], [1.5]], ["dose"]).covariate_names
        ('dose',)
        """
        cov = np.array(covariates, dtype=float, copy=True)
        if cov.ndim == 1:
            cov = cov[:, None]
        return replace(
            self, covariates=cov, covariate_names=tuple(names) if names else ()
        )

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

    def n_distinct_rows(self) -> int:
        """Rows that differ in some cell (its value, bounds or censoring) or
        covariate; missing cells are alike.

        Examples
        --------
        >>> table = CellTable.from_values([[1.0, 2.0], [1.0, 2.0], [1.0, np.nan]])
        >>> table.n_distinct_rows()
        2
        """
        parts = [self.kind, self.values, self.lower, self.upper]
        if self.covariates is not None:
            parts.append(self.covariates)
        key = np.nan_to_num(np.concatenate(parts, axis=1), nan=np.inf)
        return int(np.unique(key, axis=0).shape[0])

    def validate(self) -> CellTable:
        """Check the table's invariants; return it, or raise naming a cell."""
        kind = self.kind
        bad = ~np.isin(kind, (OBSERVED, LEFT, RIGHT, INTERVAL, MISSING))
        self._refuse(bad, "has an unknown kind code", "use the codes in stanmix.cells")
        self._refuse(
            (kind == OBSERVED) & ~np.isfinite(self.values),
            "is observed but its value is not finite",
            "mark it missing or give a finite value",
        )
        self._refuse(
            ((kind == LEFT) | (kind == INTERVAL)) & np.isnan(self.upper),
            "is left or interval censored but has no upper limit",
            "give its limit in `upper`",
        )
        self._refuse(
            ((kind == RIGHT) | (kind == INTERVAL)) & np.isnan(self.lower),
            "is right or interval censored but has no lower limit",
            "give its limit in `lower`",
        )
        with np.errstate(invalid="ignore"):
            inverted = (kind == INTERVAL) & ~(self.lower < self.upper)
        self._refuse(
            inverted, "is interval censored with lower >= upper", "give lower < upper"
        )
        if self.covariates is not None and not np.all(np.isfinite(self.covariates)):
            rows, cols = np.nonzero(~np.isfinite(self.covariates))
            raise StanmixInputError(
                f"cells: {rows.size} covariate value(s) are not finite; first at "
                f"row {rows[0]}, covariate {self.covariate_names[cols[0]]!r}; "
                "covariates must be complete: drop those rows or fill them in"
            )
        return self

    def _refuse(self, bad: np.ndarray, problem: str, fix: str) -> None:
        if not np.any(bad):
            return
        rows, cols = np.nonzero(bad)
        raise StanmixInputError(
            f"cells: {rows.size} cell(s) where the cell {problem}; first at row "
            f"{rows[0]}, column {self.columns[cols[0]]!r}; {fix}"
        )

    @property
    def censored(self) -> np.ndarray:
        """Boolean (N, D): left, right or interval censored cells."""
        return np.isin(self.kind, (LEFT, RIGHT, INTERVAL))

    @property
    def measured(self) -> np.ndarray:
        """Boolean (N, D): cells that place their value as a measurement
        does: observed, or known to a finite interval."""
        return np.isin(self.kind, (OBSERVED, INTERVAL))

    def affine(self, center, scale) -> CellTable:
        """The same table in units (x - center) / scale, per column (its
        detection limits too, when known)."""
        center = np.asarray(center, dtype=float)
        scale = np.asarray(scale, dtype=float)

        def move(limit):
            return None if limit is None else (limit - center) / scale

        return CellTable(
            (self.values - center) / scale,
            self.kind.copy(),
            (self.lower - center) / scale,
            (self.upper - center) / scale,
            self.columns,
            self.covariates,
            self.covariate_names,
            move(self.lower_limit),
            move(self.upper_limit),
        )

    def counted_rows(self) -> np.ndarray:
        """The positions of the rows that enter the likelihood: all but those
        whose every cell is missing (a regression's rows without a
        response).

        Examples
        --------
        >>> import numpy as np
        >>> CellTable.from_values(np.array([[1.0], [np.nan], [2.0]])).counted_rows()
        array([0, 2])
        """
        return np.flatnonzero(~np.all(self.kind == MISSING, axis=1))

    def rows(self, index) -> CellTable:
        """A table holding only the given rows (with their covariates and
        detection limits)."""

        def take(arr):
            return None if arr is None else arr[index]

        return CellTable(
            self.values[index],
            self.kind[index],
            self.lower[index],
            self.upper[index],
            self.columns,
            take(self.covariates),
            self.covariate_names,
            take(self.lower_limit),
            take(self.upper_limit),
        )

    def point_values(self) -> np.ndarray:
        """A best single value per cell, for initialisation (k-means).

        Observed cells keep their value; censored cells take their limit;
        interval cells the midpoint of the part of their interval within the
        column's observed range (the nearer bound when it lies outside), so
        a wide or one-sided bound such as (-50, 0.5) does not place the cell
        far from the data; missing cells take the column mean of the other
        point values.
        """
        out = self.values.copy()
        out = np.where(self.kind == LEFT, self.upper, out)
        out = np.where(self.kind == RIGHT, self.lower, out)
        if (self.kind == INTERVAL).any():
            seen = np.where(self.kind == OBSERVED, self.values, np.nan)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # none observed
                low = np.fmax(self.lower, np.nanmin(seen, axis=0))
                high = np.fmin(self.upper, np.nanmax(seen, axis=0))
            inside = 0.5 * (low + high)
            nearer = np.where(self.upper < low, self.upper, self.lower)
            value = np.where(low <= high, inside, nearer)
            out = np.where(self.kind == INTERVAL, value, out)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-missing column
            col_mean = np.nanmean(np.where(self.kind == MISSING, np.nan, out), axis=0)
        col_mean = np.where(np.isfinite(col_mean), col_mean, 0.0)
        return np.where(self.kind == MISSING, col_mean, out)

    def to_stan(self) -> dict:
        """The entries of ``stan/cell_table.standata``, the cell part of every
        program's data block, and, for a table with covariates, those of
        ``stan/covariates.standata`` (``P`` and ``X``).

        Examples
        --------
        >>> t = CellTable.from_values([[1.0, np.nan]])
        >>> d = t.to_stan()
        >>> d["N"], d["D"], d["observed"].tolist(), d["n_left"]
        (1, 2, [[1.0, 0.0]], 0)
        """
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
        if self.covariates is not None:
            data["P"] = self.n_covariates
            data["X"] = self.covariates.copy()
        return data

    @classmethod
    def from_stan(cls, data, columns=None, covariate_names=None) -> CellTable:
        """The table described by the cell entries of a program's data.

        The inverse of :meth:`to_stan`: the covariates ``P`` and ``X`` are
        read when the data has them.

        Examples
        --------
        >>> t = CellTable.from_values([[1.0, np.nan], [2.0, 3.0]], ["a", "b"])
        >>> back = CellTable.from_stan(t.to_stan(), ["a", "b"])
        >>> back.kind.tolist() == t.kind.tolist()
        True
        """
        try:
            n, d = int(data["N"]), int(data["D"])
        except KeyError as err:
            raise StanmixInputError(f"the data has no entry {err}") from None
        except (TypeError, ValueError):
            raise StanmixInputError(
                f"the data's N and D must be whole numbers, got N = "
                f"{data['N']!r}, D = {data['D']!r}"
            ) from None
        try:
            y = np.asarray(data["y"], dtype=float).reshape(n, d)
            observed = np.asarray(data["observed"], dtype=float).reshape(n, d) > 0.5
        except KeyError as err:
            raise StanmixInputError(f"the data has no entry {err}") from None
        except (TypeError, ValueError) as err:
            raise StanmixInputError(
                f"the data's y or observed entry does not hold N x D = {n} x {d} "
                f"numbers: {err}"
            ) from None
        kind = np.full(y.shape, MISSING, dtype=np.int8)
        kind[observed] = OBSERVED
        lower = np.full(y.shape, np.nan)
        upper = np.full(y.shape, np.nan)
        for label, code, bounds in (
            ("left", LEFT, (("left_limit", upper),)),
            ("right", RIGHT, (("right_limit", lower),)),
            (
                "interval",
                INTERVAL,
                (("interval_lower", lower), ("interval_upper", upper)),
            ),
        ):
            try:
                rows = (
                    np.asarray(data.get(f"{label}_row", []), dtype=int).reshape(-1) - 1
                )
                cols = (
                    np.asarray(data.get(f"{label}_col", []), dtype=int).reshape(-1) - 1
                )
                kind[rows, cols] = code
                for name, target in bounds:
                    target[rows, cols] = np.asarray(data[name], dtype=float).reshape(-1)
            except KeyError as err:
                raise StanmixInputError(f"the data has no entry {err}") from None
            except (IndexError, ValueError) as err:
                raise StanmixInputError(
                    f"the data's {label}-censored cells do not fit its N x D = "
                    f"{n} x {d} table: {err}"
                ) from None
        cols = tuple(columns) if columns is not None else ()
        if not cols and "X" in data and d == 1:
            cols = ("y",)  # a regression's response, apart from covariates x0, ...
        if cols and len(cols) != d:
            raise StanmixInputError(
                f"columns names {len(cols)} dimensions but the data has D = {d}"
            )
        values = np.where(kind == OBSERVED, y, np.nan)
        table = cls(values, kind, lower, upper, tuple(str(c) for c in cols))
        if "X" not in data:
            return table
        try:
            p = int(data.get("P", 0))
            covariates = np.asarray(data["X"], dtype=float).reshape(n, p)
        except (TypeError, ValueError) as err:
            raise StanmixInputError(
                f"the data's X entry does not hold N x P = {n} x "
                f"{data.get('P')} numbers: {err}"
            ) from None
        names = tuple(str(c) for c in covariate_names) if covariate_names else ()
        if names and len(names) != p:
            raise StanmixInputError(
                f"covariate_names names {len(names)} covariates but the data has "
                f"P = {p}"
            )
        return table.with_covariates(covariates, names)


#: Entries of a Stan data file that record the units its values are in
#: (centre and scale of each column, and of the covariates), written by
#: :meth:`stanmix.Mixture.stan_input` for a standardizing estimator.
UNIT_ENTRIES = (
    "stanmix_center",
    "stanmix_scale",
    "stanmix_covariate_center",
    "stanmix_covariate_scale",
)


@dataclass(frozen=True, eq=False)
class Standardization:
    """Per-column centre and scale: a fit runs on (x - center) / scale.

    Attributes
    ----------
    center, scale : ndarray, shape (D,)
    covariate_center, covariate_scale : ndarray, shape (P,), optional
        The same for the table's covariates; None when it has none (or
        when they are left in their units).
    """

    center: np.ndarray
    scale: np.ndarray
    covariate_center: np.ndarray | None = None
    covariate_scale: np.ndarray | None = None

    @classmethod
    def fit(
        cls,
        cells: CellTable,
        *,
        enabled: bool = True,
        shared: bool = False,
        censored_fit: bool = True,
    ):
        """Centre on the column means and scale by the column sds of the cells'
        point values (:meth:`CellTable.point_values`), and a column with
        censored cells by the mean and sd of one normal fitted to it with its
        censoring (:func:`censored_normal_moments`): its censored cells' point
        values pile at the limit, whose spread can be a fraction of the
        column's, and priors set in such units would pull every mean to the
        limit and every scale to that fraction (``censored_fit=False``: the
        point values' mean and sd there too, the geometry the k-means starts
        see, in which clusters observed apart stay apart); ``shared=True`` uses one
        scale (the root mean column variance) for every column, as spherical
        covariances need; ``enabled=False`` is the identity.

        Examples
        --------
        >>> t = CellTable.from_values([[0.0, 0.0], [2.0, 4.0]])
        >>> s = Standardization.fit(t)
        >>> s.center.tolist(), s.scale.tolist()
        ([1.0, 2.0], [1.0, 2.0])
        >>> Standardization.fit(t, shared=True).scale.round(3).tolist()
        [1.581, 1.581]
        """
        d = cells.n_dims
        if not enabled:
            return cls(np.zeros(d), np.ones(d))
        points = cells.point_values()
        center = points.mean(axis=0)
        scale = column_spread(points)
        censored = cells.censored.any(axis=0) if censored_fit else np.zeros(d, bool)
        for j in np.flatnonzero(censored):
            column = (cells.values, cells.kind, cells.lower, cells.upper)
            moments = censored_normal_moments(*(a[:, j] for a in column))
            if moments is not None:
                center[j], scale[j] = moments
        if shared:
            scale = np.full(d, float(np.sqrt(np.mean(scale**2))))
        cov_center = cov_scale = None
        if cells.covariates is not None:
            cov_center = cells.covariates.mean(axis=0)
            spread = column_spread(cells.covariates)
            cov_scale = np.where(spread > 0, spread, 1.0)
        return cls(center, np.where(scale > 0, scale, 1.0), cov_center, cov_scale)

    def apply(self, cells: CellTable) -> CellTable:
        """The table in standardized units (covariates too, when scaled).

        Examples
        --------
        >>> t = CellTable.from_values([[0.0], [2.0]]).with_covariates([1.0, 3.0])
        >>> Standardization.fit(t).apply(t).covariates.ravel().tolist()
        [-1.0, 1.0]
        """
        out = cells.affine(self.center, self.scale)
        if cells.covariates is not None and self.covariate_center is not None:
            out = replace(
                out,
                covariates=(cells.covariates - self.covariate_center)
                / self.covariate_scale,
            )
        return out

    def restore(self, cells: CellTable) -> CellTable:
        """The table in the data's units from standardized ones (the inverse
        of :meth:`apply`, to rounding).

        Examples
        --------
        >>> t = CellTable.from_values([[0.0], [2.0]]).with_covariates([1.0, 3.0])
        >>> s = Standardization.fit(t)
        >>> back = s.restore(s.apply(t))
        >>> back.values.ravel().tolist(), back.covariates.ravel().tolist()
        ([0.0, 2.0], [1.0, 3.0])
        """
        out = cells.affine(-self.center / self.scale, 1.0 / self.scale)
        if cells.covariates is not None and self.covariate_center is not None:
            out = replace(
                out,
                covariates=cells.covariates * self.covariate_scale
                + self.covariate_center,
            )
        return out

    @property
    def is_identity(self) -> bool:
        """Whether the units are the data's own (nothing is moved)."""
        return (
            not np.any(self.center)
            and bool(np.all(self.scale == 1))
            and self.covariate_center is None
        )

    def stan_entries(self) -> dict[str, list[float]]:
        """The units as entries of a Stan data file (:data:`UNIT_ENTRIES`;
        none for the identity), which the programs do not read and
        :func:`stanmix.from_cmdstan_csv` reads back with
        :meth:`from_stan_entries`."""
        if self.is_identity:
            return {}
        fields = (self.center, self.scale, self.covariate_center, self.covariate_scale)
        return {
            name: np.asarray(value, dtype=float).tolist()
            for name, value in zip(UNIT_ENTRIES, fields, strict=True)
            if value is not None
        }

    @classmethod
    def from_stan_entries(cls, data: Mapping) -> Standardization | None:
        """The units a Stan data file records (None when it records none).

        Examples
        --------
        >>> s = Standardization(np.array([1.0]), np.array([2.0]))
        >>> Standardization.from_stan_entries(s.stan_entries()).scale.tolist()
        [2.0]
        """
        if not any(name in data for name in UNIT_ENTRIES):
            return None
        fields = [
            None if data.get(name) is None else np.asarray(data[name], dtype=float)
            for name in UNIT_ENTRIES
        ]
        return cls(*fields)


def column_spread(values: np.ndarray) -> np.ndarray:
    """Each column's standard deviation, as numpy's ``std``; a column whose
    ``std`` falls outside 1e-100..1e100 (where squares of its deviations
    underflow or overflow) is computed again in units of its largest
    deviation from the mean.

    >>> column_spread(np.array([[1e-200, 1.0], [3e-200, 3.0]])).tolist()
    [1e-200, 1.0]
    """
    with np.errstate(over="ignore", invalid="ignore"):
        plain = values.std(axis=0)
    redo = ~((plain > 1e-100) & (plain < 1e100))
    if not redo.any():
        return plain
    deviation = values[:, redo] - values[:, redo].mean(axis=0)
    largest = np.max(np.abs(deviation), axis=0)
    unit = np.where(largest > 0, largest, 1.0)
    out = plain.copy()
    out[redo] = unit * (deviation / unit).std(axis=0)
    return out


def censored_normal_moments(
    values: np.ndarray, kind: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> tuple[float, float] | None:
    """Mean and sd of one normal fitted to a column by maximum likelihood,
    censored cells through their probabilities (a Tobit fit) and missing
    cells left out; None when the likelihood may have no finite maximum:
    when the measured values and the intervals of interval-censored cells
    share a point (one value, or intervals that all overlap it), whose
    density or probabilities grow as the sd shrinks, or when there are none
    (every cell censored on one side, where the normal can slide away).

    The arguments are one column of a :class:`CellTable`'s arrays. Cells are
    grouped by value or bound, so the cost does not grow with the rows.

    Examples
    --------
    >>> x = np.random.default_rng(1).normal(0.0, 1.0, 2000)
    >>> lod = 0.8  # about 79% of the values lie below it
    >>> kind = np.where(x <= lod, LEFT, OBSERVED)
    >>> values = np.where(kind == OBSERVED, x, np.nan)
    >>> upper = np.where(kind == LEFT, lod, np.nan)
    >>> m, s = censored_normal_moments(values, kind, np.full(x.size, np.nan), upper)
    >>> round(m, 2), round(s, 2)  # the 2000 values' own: -0.01, 1.01
    (-0.06, 1.04)
    """
    from scipy import optimize, special

    seen = values[kind == OBSERVED]
    bounds = (upper[kind == LEFT], lower[kind == RIGHT])
    inside = np.stack([lower[kind == INTERVAL], upper[kind == INTERVAL]], axis=1)
    # Measured values and finite intervals without a common point bound the
    # likelihood away from a zero sd, and from an infinite one.
    finite = np.isfinite(inside).all(axis=1)
    lows = np.concatenate([seen, inside[finite, 0]])
    highs = np.concatenate([seen, inside[finite, 1]])
    if lows.size == 0 or lows.max() <= highs.min():
        return None
    known = np.concatenate([seen, *bounds, inside.ravel()])
    known = known[np.isfinite(known)]
    # Work in units of the values and bounds themselves: centred, unit spread.
    origin = float(known.mean())
    unit = float(column_spread(known[:, None])[0]) or 1.0
    z = (seen - origin) / unit
    n_seen, z_sum, z_sq = z.size, float(z.sum()), float((z**2).sum())
    left, n_left = np.unique((bounds[0] - origin) / unit, return_counts=True)
    right, n_right = np.unique((bounds[1] - origin) / unit, return_counts=True)
    pairs, n_pairs = np.unique((inside - origin) / unit, axis=0, return_counts=True)

    def log_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """log(Phi(b) - Phi(a)) for a < b, in whichever tail is more exact."""
        upper_tail = a > 0
        hi = np.where(upper_tail, special.log_ndtr(-a), special.log_ndtr(b))
        lo = np.where(upper_tail, special.log_ndtr(-b), special.log_ndtr(a))
        return hi + np.log1p(-np.exp(lo - hi))

    def negative_log_lik(theta: np.ndarray) -> float:
        m, log_s = theta
        s = np.exp(log_s)
        total = 0.5 * (z_sq - 2 * m * z_sum + n_seen * m * m) / s**2 + n_seen * log_s
        total -= n_left @ special.log_ndtr((left - m) / s)
        total -= n_right @ special.log_ndtr((m - right) / s)
        if n_pairs.size:
            total -= n_pairs @ log_between((pairs[:, 0] - m) / s, (pairs[:, 1] - m) / s)
        return float(total)

    with np.errstate(all="ignore"):
        found = optimize.minimize(negative_log_lik, np.zeros(2), method="Nelder-Mead")
    if not (found.success and np.isfinite(found.fun)):
        return None
    m, log_s = found.x
    return origin + unit * float(m), unit * float(np.exp(log_s))


def mostly_censored(
    cells: CellTable, labels: np.ndarray, n_components: int, threshold: float = 0.9
) -> list[tuple[int, str, float]]:
    """(component, column, fraction) where a component's rows are mostly censored.

    ``labels`` gives each row's component; components with fewer than five
    rows are skipped. Censored means beyond a limit: an interval (both
    bounds finite) places its value as a measurement does.

    Examples
    --------
    >>> t = CellTable(np.array([[np.nan]] * 5 + [[1.0]] * 5), np.array(
    ...     [[LEFT]] * 5 + [[OBSERVED]] * 5, dtype=np.int8), np.full((10, 1), np.nan),
    ...     np.array([[0.0]] * 5 + [[np.nan]] * 5), ("y",))
    >>> mostly_censored(t, np.array([0] * 5 + [1] * 5), 2)
    [(0, 'y', 1.0)]
    """
    censored = cells.censored & ~cells.measured  # beyond a limit
    found = []
    for k in range(int(n_components)):
        members = labels == k
        if members.sum() < 5:
            continue
        fraction = censored[members].mean(axis=0)
        for d in np.flatnonzero(fraction >= threshold):
            found.append((k, cells.columns[d], float(fraction[d])))
    return found


def best_determined(cells: CellTable, probs: np.ndarray, column: int) -> int:
    """The component with the most observed values in ``column``, counting
    each row by its membership probabilities ``probs`` (N, K): the one whose
    mean there the data pin down best (the ordered means' pivot).

    Examples
    --------
    >>> t = CellTable(np.array([[np.nan]] * 4 + [[1.0]] * 2), np.array(
    ...     [[LEFT]] * 4 + [[OBSERVED]] * 2, dtype=np.int8), np.full((6, 1), np.nan),
    ...     np.array([[0.0]] * 4 + [[np.nan]] * 2), ("y",))
    >>> best_determined(t, np.array([[1.0, 0.0]] * 4 + [[0.0, 1.0]] * 2), 0)
    1
    """
    observed = cells.kind[:, column] == OBSERVED
    return int(np.argmax(observed @ np.asarray(probs, dtype=float)))
