"""The Laplace approximation at a posterior mode, on the unconstrained scale.

The curvature of the log density at its mode gives a Gaussian approximation
whose covariance is ``inv(-H)``. NUTS uses it as a ready-made inverse metric
(:mod:`stanmix.inference.metric`), ADVI as its starting scale
(:func:`stanmix.advi.laplace_scale`). The Hessian is taken by central
differences of the gradient: ``2 * dim`` gradient calls, no second
derivatives needed from the engine.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: ``log_prob_grad(q) -> (log density, gradient)`` on the unconstrained scale.
LogProbGrad = Callable[[np.ndarray], tuple[float, np.ndarray]]

#: Relative step of the central differences.
STEP = 1e-5


def negative_hessian(log_prob_grad: LogProbGrad, point: np.ndarray) -> np.ndarray:
    """``-H`` of the log density at ``point``, symmetrised.

    Examples
    --------
    >>> import numpy as np
    >>> precision = np.array([[4.0, 1.0], [1.0, 2.0]])
    >>> def log_prob_grad(q):
    ...     return -0.5 * float(q @ precision @ q), -precision @ q
    >>> np.round(negative_hessian(log_prob_grad, np.zeros(2)), 6).tolist()
    [[4.0, 1.0], [1.0, 2.0]]
    """
    point = np.asarray(point, dtype=float)
    dim = point.size
    hessian = np.empty((dim, dim))
    steps = STEP * np.maximum(1.0, np.abs(point))
    for i in range(dim):
        shift = np.zeros(dim)
        shift[i] = steps[i]
        upper = np.asarray(log_prob_grad(point + shift)[1], dtype=float)
        lower = np.asarray(log_prob_grad(point - shift)[1], dtype=float)
        hessian[:, i] = (upper - lower) / (2.0 * steps[i])
    return -0.5 * (hessian + hessian.T)


def laplace_covariance(
    log_prob_grad: LogProbGrad, mode: np.ndarray
) -> np.ndarray | None:
    """``inv(-H)`` at ``mode``, or None where ``-H`` is not positive definite
    (``mode`` is not a mode, or the curvature is not finite).

    Examples
    --------
    >>> import numpy as np
    >>> def log_prob_grad(q):
    ...     return -0.5 * float(q @ q) / 4.0, -q / 4.0
    >>> laplace_covariance(log_prob_grad, np.zeros(2)).round(6).tolist()
    [[4.0, 0.0], [0.0, 4.0]]
    >>> laplace_covariance(lambda q: (0.5 * float(q @ q), q), np.zeros(2)) is None
    True
    """
    precision = negative_hessian(log_prob_grad, mode)
    if not np.isfinite(precision).all():
        return None
    try:
        factor = np.linalg.cholesky(precision)
    except np.linalg.LinAlgError:
        return None
    inverse = np.linalg.inv(factor)
    return inverse.T @ inverse
