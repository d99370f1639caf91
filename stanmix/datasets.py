"""Synthetic datasets with known truth, for examples, tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stanmix import _validation as check
from stanmix.exceptions import StanmixInputError

# Five well-separated 2-D centres (a pentagon of radius 6), unit scales.
BLOB_CENTERS = 6.0 * np.column_stack(
    [np.cos(2 * np.pi * np.arange(5) / 5), np.sin(2 * np.pi * np.arange(5) / 5)]
)


def _per_component(sizes: dict[str, int], what: str) -> int:
    """The number of components K when every argument in ``sizes`` (name ->
    its number of components) agrees; else a :class:`StanmixInputError`
    naming the arguments and their lengths."""
    if len(set(sizes.values())) > 1:
        listing = ", ".join(f"{name} has {size}" for name, size in sizes.items())
        raise StanmixInputError(
            f"the component arguments disagree on the number of components "
            f"({listing}); give {what} for each component"
        )
    return next(iter(sizes.values()))


def _array(name: str, value) -> np.ndarray:
    """``value`` as a new float array (never a view of the caller's), or an
    error naming ``name``."""
    return check.float_array(name, value).copy()


def _finite(name: str, values: np.ndarray, *, positive: bool = False) -> np.ndarray:
    """``values`` if every entry is finite (and above zero with ``positive``),
    else a :class:`StanmixInputError` naming the first offending entry."""
    bad = ~np.isfinite(values)
    if positive:
        bad |= ~(values > 0)
    if np.any(bad):
        first = check.first_index(bad)
        entry = f"{name}[{', '.join(map(str, first))}]" if first else name
        need = "positive and finite (standard deviations)" if positive else "finite"
        raise StanmixInputError(
            f"{name} must be {need}, but {entry} is {float(values[first])}; give "
            f"{'numbers above zero' if positive else 'finite numbers'}"
        )
    return values


def _normalised(weights: np.ndarray) -> np.ndarray:
    """``weights`` divided by their sum, after checking they are weights."""
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
        raise StanmixInputError(
            f"weights must be finite, non-negative and not all zero, got "
            f"{weights.tolist()}; give one weight per component (they are "
            "normalised to sum to one)"
        )
    return weights / weights.sum()


def _draw_labels(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` component labels drawn with the normalised ``weights``."""
    return rng.choice(weights.size, size=n, p=weights)


def _column_names(columns, d: int) -> list:
    """``columns`` as a list of ``d`` names, or an error naming the mismatch."""
    columns = list(columns)
    if len(columns) != d:
        raise StanmixInputError(
            f"columns has {len(columns)} names for {d} columns of means; give one "
            "name per column"
        )
    return columns


@dataclass(frozen=True, eq=False)
class Synthetic:
    """Data drawn from a known mixture.

    ``X`` holds the observations (a DataFrame; univariate data from
    :func:`mixture_sample` has one column ``y``, while :func:`gaussian_sample`
    names its columns ``x0``, ``x1``, ... for any D), ``labels`` the true
    component of each row (-1 for outliers), and ``weights`` (normalised),
    ``means`` (K, D), ``scales`` (K, D) the true parameters;
    ``covariances`` (K, D, D) the true covariance matrices.
    """

    X: pd.DataFrame
    labels: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    covariances: np.ndarray | None = None

    @property
    def correlations(self) -> np.ndarray:
        """True correlation matrices (K, D, D)."""
        cov = (
            self.covariances
            if self.covariances is not None
            else self.scales[:, :, None] ** 2 * np.eye(self.scales.shape[1])
        )
        sd = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        return cov / (sd[:, :, None] * sd[:, None, :])


def mixture_sample(
    weights,
    means,
    scales,
    n: int,
    seed: int | None,
    columns: list[str] | None = None,
) -> Synthetic:
    """``n`` draws from a diagonal normal mixture with the given parameters.

    Parameters
    ----------
    weights : array-like, shape (K,)
        Component weights, non-negative and not all zero; normalised to sum
        to one (the returned ``weights`` are the normalised ones).
    means : array-like, shape (K, D)
        Component means, one row per component, finite.
    scales : float or array-like broadcastable to (K, D)
        Component standard deviations, each finite and above zero.
    n : int
        Number of draws (zero or more).
    seed : int or None
        Seed of the random generator (0 to 2**31 - 1); None draws fresh
        entropy from the operating system.
    columns : list of str, optional
        Column names; by default ``y`` for D = 1, else ``x0``, ``x1``, ...

    Returns
    -------
    Synthetic
        The data and the true parameters (new arrays, not views of the
        arguments).

    Raises
    ------
    StanmixInputError
        If ``means`` is not (K, D), or ``weights`` and ``means`` (or
        ``scales``) disagree on the number of components K, or a weight is
        negative or not finite (or all are zero), a mean is not finite, a
        scale is not above zero and finite, or ``n`` or ``seed`` is not a
        non-negative integer.

    Examples
    --------
    >>> data = mixture_sample([0.5, 0.5], [[-1.0], [1.0]], [[1.0], [1.0]], 10, seed=0)
    >>> data.X.shape, data.labels.shape
    ((10, 1), (10,))
    >>> mixture_sample([1, 3], [[0.0], [5.0]], 1.0, 10, seed=0).weights.tolist()
    [0.25, 0.75]
    """
    n = check.integer("n", n, low=0)
    seed = check.seed(seed)
    weights, means, scales, columns = _diagonal_parameters(
        weights, means, scales, columns
    )
    return _draw_diagonal(
        weights, means, scales, n, np.random.default_rng(seed), columns
    )


def _diagonal_parameters(
    weights, means, scales, columns, scales_name: str = "scales"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """The checked ``weights`` (normalised), ``means`` (K, D), ``scales``
    (K, D) and ``columns`` of :func:`mixture_sample`, as new arrays."""
    weights = _array("weights", weights).reshape(-1)
    means = _array("means", means)
    if means.ndim != 2:
        raise StanmixInputError(
            f"means must be a (K, D) array, one row per component, got shape "
            f"{means.shape}; for one-dimensional data give [[m1], [m2], ...]"
        )
    scales = _array(scales_name, scales)
    sizes = {"weights": weights.size, "means": means.shape[0]}
    if scales.ndim == 2:
        sizes[scales_name] = scales.shape[0]
    _per_component(sizes, f"one weight, one row of means and one row of {scales_name}")
    try:
        scales = np.broadcast_to(scales, means.shape).copy()
    except ValueError:
        raise StanmixInputError(
            f"{scales_name} has shape {scales.shape} but means has shape "
            f"{means.shape}; give one number, one per column (D,) or one row per "
            "component (K, D)"
        ) from None
    weights = _normalised(weights)
    _finite("means", means)
    _finite(scales_name, scales, positive=True)
    if columns is None:
        columns = (
            ["y"] if means.shape[1] == 1 else [f"x{d}" for d in range(means.shape[1])]
        )
    return weights, means, scales, _column_names(columns, means.shape[1])


def _draw_diagonal(
    weights: np.ndarray,
    means: np.ndarray,
    scales: np.ndarray,
    n: int,
    rng: np.random.Generator,
    columns: list,
) -> Synthetic:
    """``n`` draws with ``rng`` from the checked parameters of
    :func:`mixture_sample`."""
    labels = _draw_labels(weights, n, rng)
    values = means[labels] + scales[labels] * rng.standard_normal((n, means.shape[1]))
    return Synthetic(
        pd.DataFrame(values, columns=columns),
        labels,
        weights,
        means,
        scales,
        scales[:, :, None] ** 2 * np.eye(means.shape[1]),
    )


def two_components(n: int = 100, seed: int | None = 1) -> Synthetic:
    """The classic case: 0.5 N(-1, 1) + 0.5 N(1, 1) (column ``y``), ``n``
    points drawn with ``seed`` (None: a fresh draw each call)."""
    return mixture_sample([0.5, 0.5], [[-1.0], [1.0]], [[1.0], [1.0]], n, seed)


def blobs(n: int = 1000, seed: int | None = 1, scale: float = 1.0) -> Synthetic:
    """Five well-separated 2-D blobs with equal weights (columns ``x``, ``y``).

    ``n`` points are drawn with ``seed`` (None: a fresh draw each call).
    ``scale`` is the blobs' standard deviation: a number above zero, or one
    per column or per blob and column (broadcastable to (5, 2)).
    """
    n = check.integer("n", n, low=0)
    seed = check.seed(seed)
    weights, means, scales, columns = _diagonal_parameters(
        np.full(5, 0.2), BLOB_CENTERS, scale, ["x", "y"], scales_name="scale"
    )
    return _draw_diagonal(
        weights, means, scales, n, np.random.default_rng(seed), columns
    )


def left_censor(
    X: pd.DataFrame, fraction: float
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Censor each column at its ``fraction`` quantile (a detection limit).

    Each column's limit is the ``fraction`` quantile of its non-missing
    values (linear interpolation, as :func:`numpy.quantile`), and exactly the
    cells at or below the limit are censored: they are set to the limit, as
    a lab reports them (the estimators read a cell at its limit as
    censored). With ``fraction=0`` nothing is censored: the limit is then
    the largest number below the column's minimum (in the column's
    precision). Missing (NaN) cells stay missing.

    Parameters
    ----------
    X : pandas.DataFrame
        The data: numeric columns (integer columns are returned as floats),
        NaN for missing cells. Its column labels may be strings or not (e.g.
        the integer labels of ``pd.DataFrame(array)``), but distinct as
        strings.
    fraction : float
        Share of each column to censor, in [0, 1).

    Returns
    -------
    censored : pandas.DataFrame
        A copy of ``X`` with censored cells set to the limit.
    limits : dict of str to float
        The limit of each column, keyed by ``str(column)`` (the form the
        estimators' ``limits`` arguments accept).

    Raises
    ------
    StanmixInputError
        If ``X`` is not a DataFrame, repeats a column label, or has a column
        that is not numeric, holds an infinite value or has no values; or
        ``fraction`` is not a number in [0, 1).

    Examples
    --------
    >>> X = pd.DataFrame({"a": [4.0, 1.0, 3.0, 2.0, np.nan]})
    >>> censored, limits = left_censor(X, 0.5)
    >>> censored["a"].tolist(), limits
    ([4.0, 2.5, 3.0, 2.5, nan], {'a': 2.5})
    >>> left_censor(X, 0.0)[0].equals(X)
    True
    """
    if not isinstance(X, pd.DataFrame):
        raise StanmixInputError(
            f"X must be a pandas DataFrame, got {type(X).__name__}; wrap a numpy "
            "array as pd.DataFrame(array) or a Series as series.to_frame()"
        )
    fraction = check.number("fraction", fraction)
    if not 0 <= fraction < 1:
        raise StanmixInputError(
            f"fraction must be at least 0 and below 1 (the share of each column "
            f"to censor), got {fraction!r}"
        )
    twice = check.repeated(str(col) for col in X.columns)
    if twice:
        raise StanmixInputError(
            f"X repeats the column label(s) {', '.join(map(repr, twice))} (as "
            "strings, the keys of the limits); give each column its own label"
        )
    limits = {}
    out = X.copy()
    for j, col in enumerate(X.columns):
        dtype = X.dtypes.iloc[j]
        if (
            pd.api.types.is_bool_dtype(dtype)
            or pd.api.types.is_complex_dtype(dtype)
            or not pd.api.types.is_numeric_dtype(dtype)
        ):
            raise StanmixInputError(
                f"column {col!r} of X holds {dtype} values; left_censor censors "
                "real-valued columns: convert it to numbers or leave it out"
            )
        if not (isinstance(dtype, np.dtype) and dtype.kind == "f"):
            out.isetitem(j, X.iloc[:, j].astype("float64"))
        values = out.iloc[:, j].to_numpy()
        present = values[~np.isnan(values)]
        if present.size == 0:
            raise StanmixInputError(
                f"column {col!r} of X has no values (every cell is missing); "
                "leave it out"
            )
        if np.isinf(present).any():
            raise StanmixInputError(
                f"column {col!r} of X holds infinite values; give finite numbers "
                "(NaN for missing cells)"
            )
        if fraction == 0:
            limit = float(np.nextafter(present.min(), -np.inf))
        else:
            limit = float(np.quantile(present, fraction))
        out.iloc[values <= limit, j] = limit
        limits[str(col)] = limit
    return out, limits


def gaussian_sample(
    weights,
    means,
    covariances,
    n: int,
    seed: int | None,
    columns: list[str] | None = None,
) -> Synthetic:
    """``n`` draws from a normal mixture with full covariance matrices.

    Parameters
    ----------
    weights : array-like, shape (K,)
        Component weights, non-negative and not all zero; normalised to sum
        to one (the returned ``weights`` are the normalised ones).
    means : array-like, shape (K, D)
        Component means, one row per component, finite.
    covariances : array-like, shape (K, D, D)
        Component covariance matrices, each symmetric positive definite.
    n : int
        Number of draws (zero or more).
    seed : int or None
        Seed of the random generator (0 to 2**31 - 1); None draws fresh
        entropy from the operating system.
    columns : list of str, optional
        Column names; by default ``x0``, ``x1``, ... (also for D = 1).

    Returns
    -------
    Synthetic
        The data and the true parameters (new arrays, not views of the
        arguments).

    Raises
    ------
    StanmixInputError
        If the shapes disagree, a covariance matrix is not symmetric
        positive definite, a weight is negative or not finite (or all are
        zero), a mean is not finite, or ``n`` or ``seed`` is not a
        non-negative integer.

    Examples
    --------
    >>> data = gaussian_sample([1.0], [[0.0, 0.0]], [[[1.0, 0.5], [0.5, 1.0]]], 5, 0)
    >>> data.X.shape, data.correlations[0, 0, 1]
    ((5, 2), np.float64(0.5))
    """
    n = check.integer("n", n, low=0)
    seed = check.seed(seed)
    weights = _array("weights", weights).reshape(-1)
    means = _array("means", means)
    cov = _array("covariances", covariances)
    if means.ndim != 2:
        raise StanmixInputError(
            f"means must be a (K, D) array, one row per component, got shape "
            f"{means.shape}"
        )
    d = means.shape[1]
    if cov.ndim != 3 or cov.shape[1:] != (d, d):
        raise StanmixInputError(
            f"covariances must be a (K, D, D) array, one D x D matrix per "
            f"component with D = {d} (the columns of means), got shape {cov.shape}"
        )
    _per_component(
        {"weights": weights.size, "means": means.shape[0], "covariances": cov.shape[0]},
        "one weight, one row of means and one covariance matrix",
    )
    for k, matrix in enumerate(cov):
        if (
            not np.all(np.isfinite(matrix))
            or not np.allclose(matrix, matrix.T)
            or np.any(np.linalg.eigvalsh(matrix) <= 0)
        ):
            raise StanmixInputError(
                f"covariances[{k}] is not symmetric positive definite; give a "
                "covariance matrix (symmetric, every eigenvalue above zero)"
            )
    weights = _normalised(weights)
    _finite("means", means)
    columns = [f"x{j}" for j in range(d)] if columns is None else columns
    columns = _column_names(columns, d)
    rng = np.random.default_rng(seed)
    labels = _draw_labels(weights, n, rng)
    chol = np.linalg.cholesky(cov)
    z = rng.standard_normal((n, means.shape[1]))
    values = means[labels] + np.einsum("nij,nj->ni", chol[labels], z)
    scales = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    return Synthetic(
        pd.DataFrame(values, columns=columns), labels, weights, means, scales, cov
    )


def correlated(n: int = 600, seed: int | None = 1, dims: int = 2) -> Synthetic:
    """Three equally weighted clusters with correlations of +0.8, -0.8 and
    +0.8 in different orientations (columns ``x``, ``y`` and, for
    ``dims=3``, ``z``): the case diagonal covariances get wrong. ``n``
    points are drawn with ``seed`` (None: a fresh draw each call).

    Examples
    --------
    >>> data = correlated(300, seed=1)
    >>> np.round(data.correlations[:, 0, 1], 1).tolist()
    [0.8, -0.8, 0.8]
    """
    dims = check.integer("dims", dims)
    if dims not in (2, 3):
        raise StanmixInputError(
            f"dims must be 2 or 3 (columns x, y and, for 3, z), got {dims}"
        )
    r = 0.8
    sd = np.array([[1.0, 1.0, 1.0], [1.2, 0.8, 1.0], [0.7, 1.4, 1.0]])
    corr = np.array(
        [
            [[1, r, 0.3], [r, 1, 0.3], [0.3, 0.3, 1]],
            [[1, -r, 0.0], [-r, 1, -0.4], [0.0, -0.4, 1]],
            [[1, r, -r], [r, 1, -0.5], [-r, -0.5, 1]],
        ]
    )
    means = np.array([[-3.0, 0.0, 0.0], [0.0, 3.0, 2.25], [3.0, -0.75, -2.25]])
    cov = sd[:, :, None] * corr * sd[:, None, :]
    d = dims
    return gaussian_sample(
        np.full(3, 1 / 3),
        means[:, :d],
        cov[:, :d, :d],
        n,
        seed,
        columns=["x", "y", "z"][:d],
    )


def with_outliers(
    n: int = 600, seed: int | None = 1, fraction: float = 0.05
) -> Synthetic:
    """Three unit-scale 2-D clusters plus a ``fraction`` of points uniform
    over a box four times as wide as the clusters' span (label -1).

    The clusters are the first ``n - round(fraction * n)`` rows, drawn as
    :func:`mixture_sample` draws them with the same ``seed``; the outliers
    come from a generator spawned from ``seed``, which no seed's clusters
    use, so data sets of different seeds are independent.

    Parameters
    ----------
    n : int
        Number of rows, clusters and outliers together (zero or more).
    seed : int or None
        Seed of the random generators (0 to 2**31 - 1); None draws fresh
        entropy from the operating system.
    fraction : float
        Share of outliers, in [0, 1].

    Returns
    -------
    Synthetic
        The data (columns ``x``, ``y``) and the clusters' true parameters.

    Raises
    ------
    StanmixInputError
        If ``n`` or ``seed`` is not a non-negative integer, or ``fraction``
        is not a number in [0, 1].

    Examples
    --------
    >>> data = with_outliers(200, seed=1)
    >>> int((data.labels == -1).sum())
    10
    """
    n = check.integer("n", n, low=0)
    seed = check.seed(seed)
    fraction = check.number("fraction", fraction)
    if not 0 <= fraction <= 1:
        raise StanmixInputError(
            f"fraction must be between 0 and 1 (the share of outliers), got "
            f"{fraction!r}"
        )
    means = np.array([[-4.0, -2.0], [0.0, 3.0], [4.0, -1.0]])
    n_out = round(fraction * n)
    root = np.random.SeedSequence(seed)
    weights, means, scales, columns = _diagonal_parameters(
        np.full(3, 1 / 3), means, 1.0, ["x", "y"]
    )
    clean = _draw_diagonal(
        weights, means, scales, n - n_out, np.random.default_rng(root), columns
    )
    rng = np.random.default_rng(root.spawn(1)[0])
    low, high = means.min(axis=0) - 3.0, means.max(axis=0) + 3.0
    centre, half = 0.5 * (low + high), 2.0 * (high - low)
    outliers = rng.uniform(centre - half, centre + half, (n_out, 2))
    X = pd.concat([clean.X, pd.DataFrame(outliers, columns=columns)], ignore_index=True)
    labels = np.r_[clean.labels, np.full(n_out, -1)]
    return Synthetic(X, labels, clean.weights, means, clean.scales, clean.covariances)


@dataclass(frozen=True, eq=False)
class SyntheticRegression:
    """Responses drawn from a known mixture of linear regressions.

    ``X`` holds the predictors (columns ``x``, or ``x1``, ``x2``, ...) and
    any covariates of the weights (``z``, ...), ``y`` the response (a Series
    named ``y``), ``labels`` the true component of each row, and the true
    parameters: ``intercepts`` (K,), ``slopes`` (K, P), ``scales`` (K,),
    and either constant ``weights`` (K,) or the weights' log-odds
    ``gate_intercepts`` (K,) and ``gate_coefs`` (K, Q) against component 0
    (whose row is 0).
    """

    X: pd.DataFrame
    y: pd.Series
    labels: np.ndarray
    intercepts: np.ndarray
    slopes: np.ndarray
    scales: np.ndarray
    weights: np.ndarray | None = None
    gate_intercepts: np.ndarray | None = None
    gate_coefs: np.ndarray | None = None


def regressions(
    n: int = 400,
    seed: int | None = 1,
    *,
    intercepts=(2.0, 0.5),
    slopes=((0.2,), (1.0,)),
    scales=(0.5, 0.6),
    weights=(0.5, 0.5),
    gate_intercepts=None,
    gate_coefs=None,
    x_range: tuple[float, float] = (0.0, 10.0),
) -> SyntheticRegression:
    """``n`` draws from a mixture of linear regressions with normal errors.

    Predictors are uniform on ``x_range``; with ``gate_coefs`` (K x Q, row 0
    zero) the component of each row is drawn with multinomial-logit weights
    of Q standard normal covariates ``z``, ``z1``, ... instead of the
    constant ``weights``. By default: two populations whose lines cross,
    slopes 0.2 and 1.0.

    Parameters
    ----------
    n : int
        Number of rows (zero or more).
    seed : int or None
        Seed of the random generator (0 to 2**31 - 1); None draws fresh
        entropy from the operating system.
    intercepts : array-like, shape (K,)
        Intercept of each component's line, finite.
    slopes : array-like, shape (K, P), or (K,) for one predictor
        Slopes of each component against the P predictors, finite.
    scales : array-like, shape (K,)
        Standard deviation of each component's errors, each finite and above
        zero.
    weights : array-like, shape (K,)
        Constant component weights, non-negative and not all zero;
        normalised to sum to one (the returned ``weights`` are the
        normalised ones). Ignored when ``gate_coefs`` is given.
    gate_intercepts : array-like, shape (K,), optional
        Intercepts of the weights' log-odds against component 0 (so the
        first is 0), finite; only with ``gate_coefs``, and zeros (equal
        weights at z = 0) when not given.
    gate_coefs : array-like, shape (K, Q), or (K,) for one covariate, optional
        Coefficients of the weights' log-odds on the covariates ``z``, ...,
        finite; row 0 (component 0's) is zero.
    x_range : tuple of float
        Range ``(low, high)`` of the uniform predictors, finite, with
        ``low < high``.

    Returns
    -------
    SyntheticRegression
        The data and the true parameters (new arrays, not views of the
        arguments).

    Raises
    ------
    StanmixInputError
        If the per-component arguments disagree on K or have the wrong
        number of dimensions, hold a value that is not finite, a scale is
        not above zero, a weight is negative (or all are zero),
        ``gate_intercepts`` is given without ``gate_coefs``, the row of
        component 0 in ``gate_coefs`` or ``gate_intercepts`` is not zero,
        ``x_range`` is not a pair ``(low, high)`` with ``low < high``, or
        ``n`` or ``seed`` is not a non-negative integer.

    Examples
    --------
    >>> data = regressions(100, seed=0)
    >>> list(data.X.columns), data.y.shape, data.slopes.shape
    (['x'], (100,), (2, 1))
    """
    n = check.integer("n", n, low=0)
    seed = check.seed(seed)
    low, high = _x_range(x_range)
    intercepts = _finite("intercepts", _array("intercepts", intercepts).reshape(-1))
    slopes = _finite("slopes", _matrix("slopes", slopes, "(K, P)", "predictor"))
    scales = _finite("scales", _array("scales", scales).reshape(-1), positive=True)
    sizes = {
        "intercepts": intercepts.size,
        "slopes": slopes.shape[0],
        "scales": scales.size,
    }
    if gate_coefs is not None:
        gate_coefs = _finite(
            "gate_coefs", _matrix("gate_coefs", gate_coefs, "(K, Q)", "covariate")
        )
        sizes["gate_coefs"] = gate_coefs.shape[0]
        if gate_intercepts is None:
            gate_intercepts = np.zeros(gate_coefs.shape[0])
        gate_intercepts = _finite(
            "gate_intercepts", _array("gate_intercepts", gate_intercepts).reshape(-1)
        )
        sizes["gate_intercepts"] = gate_intercepts.size
        what = "one intercept, slope row, scale, gate intercept and gate_coefs row"
    elif gate_intercepts is not None:
        raise StanmixInputError(
            "gate_intercepts was given without gate_coefs; give gate_coefs "
            "(K x Q) for covariate-dependent weights, or constant weights instead"
        )
    else:
        weights = _normalised(_array("weights", weights).reshape(-1))
        sizes["weights"] = weights.size
        what = "one intercept, slope row, scale and weight"
    k = _per_component(sizes, what)
    if k == 0:
        raise StanmixInputError(
            f"intercepts, slopes and scales are empty; give {what} for each of "
            "at least one component"
        )
    if gate_coefs is not None:
        for name, row in (
            ("gate_coefs", gate_coefs[0]),
            ("gate_intercepts", gate_intercepts[:1]),
        ):
            if np.any(row != 0):
                raise StanmixInputError(
                    f"{name}[0] (component 0's) must be zero, got {row.tolist()}: "
                    "the weights' log-odds are against component 0; subtract "
                    f"row 0 from every row of {name}"
                )
    rng = np.random.default_rng(seed)
    p = slopes.shape[1]
    x = rng.uniform(low, high, size=(n, p))
    names = ["x"] if p == 1 else [f"x{j + 1}" for j in range(p)]
    frame = pd.DataFrame(x, columns=names)
    if gate_coefs is not None:
        q = gate_coefs.shape[1]
        z = rng.standard_normal((n, q))
        for j in range(q):
            frame["z" if j == 0 else f"z{j}"] = z[:, j]
        eta = gate_intercepts + z @ gate_coefs.T
        prob = np.exp(eta - eta.max(axis=1, keepdims=True))
        prob /= prob.sum(axis=1, keepdims=True)
        labels = (rng.random(n)[:, None] > np.cumsum(prob, axis=1)).sum(axis=1)
        labels = np.minimum(labels, k - 1)
        weights = None
    else:
        labels = _draw_labels(weights, n, rng)
    y = (
        intercepts[labels]
        + (x * slopes[labels]).sum(axis=1)
        + scales[labels] * rng.standard_normal(n)
    )
    return SyntheticRegression(
        frame,
        pd.Series(y, name="y"),
        labels,
        intercepts,
        slopes,
        scales,
        weights,
        gate_intercepts,
        gate_coefs,
    )


def _matrix(name: str, value, shape: str, what: str) -> np.ndarray:
    """``value`` as a new (K, M) float array (a 1-D ``value`` as one column:
    one ``what`` per component), or an error naming ``name``."""
    matrix = _array(name, value)
    if matrix.ndim > 2:
        raise StanmixInputError(
            f"{name} must be a {shape} array, one row per component, got shape "
            f"{matrix.shape}; for one {what} give one number per component"
        )
    return matrix.reshape(-1, 1) if matrix.ndim < 2 else matrix


def _x_range(x_range) -> tuple[float, float]:
    """``x_range`` as finite ``(low, high)`` with ``low < high``."""
    try:
        low, high = x_range
    except (TypeError, ValueError):
        raise StanmixInputError(
            f"x_range must be a pair (low, high), got {x_range!r}"
        ) from None
    low = check.number("x_range[0]", low)
    high = check.number("x_range[1]", high)
    if not low < high:
        hint = f"; did you mean ({high:g}, {low:g})?" if low > high else ""
        raise StanmixInputError(
            f"x_range must be (low, high) with low below high, got {x_range!r}{hint}"
        )
    return low, high
