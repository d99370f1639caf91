"""Synthetic datasets with known truth, for examples, tests and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

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


def _draw_labels(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` component labels drawn with probabilities ``weights`` (normalised),
    after checking they are weights."""
    if not np.all(np.isfinite(weights)) or np.any(weights < 0) or weights.sum() <= 0:
        raise StanmixInputError(
            f"weights must be finite, non-negative and not all zero, got "
            f"{weights.tolist()}"
        )
    return rng.choice(weights.size, size=n, p=weights / weights.sum())


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

    ``X`` holds the observations (a DataFrame; univariate data has one column
    ``y``), ``labels`` the true component of each row (-1 for outliers), and
    ``weights``, ``means`` (K, D), ``scales`` (K, D) the true parameters;
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
    weights, means, scales, n: int, seed: int, columns=None
) -> Synthetic:
    """``n`` draws from a diagonal normal mixture with the given parameters.

    Parameters
    ----------
    weights : array-like, shape (K,)
        Component weights (normalised to sum to one).
    means : array-like, shape (K, D)
        Component means, one row per component.
    scales : float or array-like broadcastable to (K, D)
        Component standard deviations.
    n : int
        Number of draws.
    seed : int
        Seed of the random generator.
    columns : list of str, optional
        Column names; by default ``y`` for D = 1, else ``x0``, ``x1``, ...

    Raises
    ------
    StanmixInputError
        If ``means`` is not (K, D), or ``weights`` and ``means`` (or
        ``scales``) disagree on the number of components K.

    Examples
    --------
    >>> data = mixture_sample([0.5, 0.5], [[-1.0], [1.0]], [[1.0], [1.0]], 10, seed=0)
    >>> data.X.shape, data.labels.shape
    ((10, 1), (10,))
    """
    weights = np.asarray(weights, dtype=float).reshape(-1)
    means = np.asarray(means, dtype=float)
    if means.ndim != 2:
        raise StanmixInputError(
            f"means must be a (K, D) array, one row per component, got shape "
            f"{means.shape}; for one-dimensional data give [[m1], [m2], ...]"
        )
    scales = np.asarray(scales, dtype=float)
    sizes = {"weights": weights.size, "means": means.shape[0]}
    if scales.ndim == 2:
        sizes["scales"] = scales.shape[0]
    _per_component(sizes, "one weight, one row of means and one row of scales")
    try:
        scales = np.broadcast_to(scales, means.shape)
    except ValueError:
        raise StanmixInputError(
            f"scales has shape {scales.shape} but means has shape {means.shape}; "
            "give one number, one per column (D,) or one row per component (K, D)"
        ) from None
    rng = np.random.default_rng(seed)
    labels = _draw_labels(weights, n, rng)
    values = means[labels] + scales[labels] * rng.standard_normal((n, means.shape[1]))
    if columns is None:
        columns = (
            ["y"] if means.shape[1] == 1 else [f"x{d}" for d in range(means.shape[1])]
        )
    columns = _column_names(columns, means.shape[1])
    return Synthetic(
        pd.DataFrame(values, columns=columns),
        labels,
        weights,
        means,
        scales.copy(),
        scales[:, :, None] ** 2 * np.eye(means.shape[1]),
    )


def two_components(n: int = 100, seed: int = 1) -> Synthetic:
    """The classic case: 0.5 N(-1, 1) + 0.5 N(1, 1)."""
    return mixture_sample([0.5, 0.5], [[-1.0], [1.0]], [[1.0], [1.0]], n, seed)


def blobs(n: int = 1000, seed: int = 1, scale: float = 1.0) -> Synthetic:
    """Five well-separated 2-D blobs with equal weights (columns ``x``, ``y``)."""
    return mixture_sample(
        np.full(5, 0.2), BLOB_CENTERS, scale, n, seed, columns=["x", "y"]
    )


def left_censor(
    X: pd.DataFrame, fraction: float
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Censor each column at its ``fraction`` quantile (a detection limit).

    Parameters
    ----------
    X : pandas.DataFrame
        The data; its column labels may be strings or not (e.g. the integer
        labels of ``pd.DataFrame(array)``).
    fraction : float
        Share of each column to censor, in [0, 1].

    Returns
    -------
    censored : pandas.DataFrame
        A copy of ``X`` with censored cells set to the limit, as a lab
        reports them.
    limits : dict of str to float
        The limit of each column, keyed by ``str(column)`` (the form the
        estimators' ``limits`` arguments accept).
    """
    limits = {}
    out = X.copy()
    for col in X.columns:
        limit = float(np.quantile(X[col], fraction))
        out.loc[out[col] <= limit, col] = limit
        limits[str(col)] = limit
    return out, limits


def gaussian_sample(weights, means, covariances, n: int, seed: int, columns=None):
    """``n`` draws from a normal mixture with full covariance matrices.

    Parameters
    ----------
    weights : array-like, shape (K,)
        Component weights (normalised to sum to one).
    means : array-like, shape (K, D)
        Component means, one row per component.
    covariances : array-like, shape (K, D, D)
        Component covariance matrices, each symmetric positive definite.
    n : int
        Number of draws.
    seed : int
        Seed of the random generator.
    columns : list of str, optional
        Column names; by default ``x0``, ``x1``, ...

    Raises
    ------
    StanmixInputError
        If the shapes disagree, or a covariance matrix is not symmetric
        positive definite.

    Examples
    --------
    >>> data = gaussian_sample([1.0], [[0.0, 0.0]], [[[1.0, 0.5], [0.5, 1.0]]], 5, 0)
    >>> data.X.shape, data.correlations[0, 0, 1]
    ((5, 2), np.float64(0.5))
    """
    weights = np.asarray(weights, dtype=float).reshape(-1)
    means = np.asarray(means, dtype=float)
    cov = np.asarray(covariances, dtype=float)
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


def correlated(n: int = 600, seed: int = 1, dims: int = 2) -> Synthetic:
    """Three equally weighted clusters with correlations of +0.8, -0.8 and
    +0.8 in different orientations (columns ``x``, ``y`` and, for
    ``dims=3``, ``z``): the case diagonal covariances get wrong.

    Examples
    --------
    >>> data = correlated(300, seed=1)
    >>> np.round(data.correlations[:, 0, 1], 1).tolist()
    [0.8, -0.8, 0.8]
    """
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims}")
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


def with_outliers(n: int = 600, seed: int = 1, fraction: float = 0.05) -> Synthetic:
    """Three unit-scale 2-D clusters plus a ``fraction`` of points uniform
    over a box four times as wide as the clusters' span (label -1).

    Examples
    --------
    >>> data = with_outliers(200, seed=1)
    >>> int((data.labels == -1).sum())
    10
    """
    means = np.array([[-4.0, -2.0], [0.0, 3.0], [4.0, -1.0]])
    n_out = round(fraction * n)
    clean = mixture_sample(
        np.full(3, 1 / 3), means, 1.0, n - n_out, seed, columns=["x", "y"]
    )
    rng = np.random.default_rng(seed + 1)
    low, high = means.min(axis=0) - 3.0, means.max(axis=0) + 3.0
    centre, half = 0.5 * (low + high), 2.0 * (high - low)
    outliers = rng.uniform(centre - half, centre + half, (n_out, 2))
    X = pd.concat(
        [clean.X, pd.DataFrame(outliers, columns=["x", "y"])], ignore_index=True
    )
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
    seed: int = 1,
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
        Number of rows.
    seed : int
        Seed of the random generator.
    intercepts : array-like, shape (K,)
        Intercept of each component's line.
    slopes : array-like, shape (K, P)
        Slopes of each component against the P predictors.
    scales : array-like, shape (K,)
        Standard deviation of each component's errors.
    weights : array-like, shape (K,)
        Constant component weights; ignored when ``gate_coefs`` is given.
    gate_intercepts : array-like, shape (K,), optional
        Intercepts of the weights' log-odds against component 0; only with
        ``gate_coefs``, and zeros (equal weights at z = 0) when not given.
    gate_coefs : array-like, shape (K, Q), optional
        Coefficients of the weights' log-odds on the covariates ``z``, ...
    x_range : tuple of float
        Range of the uniform predictors.

    Raises
    ------
    StanmixInputError
        If the per-component arguments disagree on K, or
        ``gate_intercepts`` is given without ``gate_coefs``.

    Examples
    --------
    >>> data = regressions(100, seed=0)
    >>> list(data.X.columns), data.y.shape, data.slopes.shape
    (['x'], (100,), (2, 1))
    """
    rng = np.random.default_rng(seed)
    intercepts = np.asarray(intercepts, dtype=float).reshape(-1)
    slopes = np.asarray(slopes, dtype=float)
    if slopes.ndim < 2:
        slopes = slopes.reshape(-1, 1)  # one predictor: a slope per component
    scales = np.asarray(scales, dtype=float).reshape(-1)
    sizes = {
        "intercepts": intercepts.size,
        "slopes": slopes.shape[0],
        "scales": scales.size,
    }
    if gate_coefs is not None:
        gate_coefs = np.asarray(gate_coefs, dtype=float)
        if gate_coefs.ndim < 2:
            gate_coefs = gate_coefs.reshape(-1, 1)  # one covariate z
        sizes["gate_coefs"] = gate_coefs.shape[0]
        if gate_intercepts is None:
            gate_intercepts = np.zeros(gate_coefs.shape[0])
        gate_intercepts = np.asarray(gate_intercepts, dtype=float).reshape(-1)
        sizes["gate_intercepts"] = gate_intercepts.size
        what = "one intercept, slope row, scale, gate intercept and gate_coefs row"
    elif gate_intercepts is not None:
        raise StanmixInputError(
            "gate_intercepts was given without gate_coefs; give gate_coefs "
            "(K x Q) for covariate-dependent weights, or constant weights instead"
        )
    else:
        weights = np.asarray(weights, dtype=float).reshape(-1)
        sizes["weights"] = weights.size
        what = "one intercept, slope row, scale and weight"
    k = _per_component(sizes, what)
    slopes = slopes.reshape(k, -1)
    p = slopes.shape[1]
    x = rng.uniform(*x_range, size=(n, p))
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
