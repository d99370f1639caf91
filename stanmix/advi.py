"""Automatic Differentiation Variational Inference over a log-density gradient.

The embedded engine has no variational algorithm, so this module provides
Stan's ADVI (Kucukelbir, Tran, Ranganath, Gelman and Blei, 2017, "Automatic
Differentiation Variational Inference", JMLR 18(14)) on top of any callable
that returns the log density and its gradient on the unconstrained scale.

The algorithm follows Stan's reference manual:

* a Gaussian approximation on the unconstrained space, either ``"meanfield"``
  (mean ``mu`` and log standard deviations ``omega``) or ``"fullrank"`` (mean
  ``mu`` and a lower-triangular factor ``L`` whose diagonal is left
  unconstrained, so the covariance is ``L @ L.T``);
* the ELBO gradient estimated by the reparameterisation trick with
  ``grad_samples`` draws, plus the exact gradient of the Gaussian entropy;
* the adaptive step-size sequence
  ``rho_k = eta * k**(-1/2 + 1e-16) / (1 + sqrt(s_k))`` with
  ``s_k = 0.1 * g_k**2 + 0.9 * s_{k-1}`` and ``s_1 = g_1**2``;
* an optional search over ``eta`` in 100, 10, 1, 0.1, 0.01 (``adapt_iter``
  iterations each, from the initial approximation);
* convergence when the mean or the median of a circular buffer of relative
  ELBO changes (one per ``eval_elbo`` iterations, buffer length
  ``max(0.1 * iter / eval_elbo, 2)``) falls below ``tol_rel_obj``.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from stanmix import _validation as check
from stanmix._validation import caller_level
from stanmix.exceptions import StanmixInputError
from stanmix.laplace import LogProbGrad, negative_hessian

__all__ = [
    "ETA_SEQUENCE",
    "ADVIResult",
    "advi",
    "laplace_scale",
    "not_converged_message",
]

logger = logging.getLogger("stanmix.advi")

#: Step-size scales tried, in order, by the eta search.
ETA_SEQUENCE: tuple[float, ...] = (100.0, 10.0, 1.0, 0.1, 0.01)

_TAU = 1.0
_ALPHA = 0.1
_EPSILON = 1e-16
#: Failed draws tolerated per requested draw in one gradient estimate.
_GRAD_RETRIES_PER_DRAW = 10
#: Standard errors by which a final ELBO below the initial one triggers a warning.
_WORSE_THAN_INIT_SE = 4.0
_ALGORITHMS = ("meanfield", "fullrank")
#: The most stochastic-gradient iterations by default.
DEFAULT_ITER = 10_000
_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True, eq=False)
class ADVIResult:
    """The fitted Gaussian approximation and draws from it.

    Attributes
    ----------
    algorithm : str
        ``"meanfield"`` or ``"fullrank"``.
    mean : ndarray, shape (dim,)
        Mean of the approximation on the unconstrained scale.
    scale_tril : ndarray, shape (dim, dim)
        Lower-triangular Cholesky factor (positive diagonal) of the
        approximation's covariance; diagonal for ``"meanfield"``.
    draws : ndarray, shape (output_draws, dim)
        Independent draws from the approximation, unconstrained scale.
    elbo : ndarray, shape (n_evals,)
        Monte Carlo ELBO estimate at each evaluation.
    elbo_iterations : ndarray of int, shape (n_evals,)
        Iteration at which each ELBO estimate was taken.
    eta : float
        Step-size scale used by the optimisation.
    converged : bool
        Whether the relative ELBO change fell below ``tol_rel_obj``.
    iterations : int
        Number of stochastic-gradient iterations run (eta search excluded).
    """

    algorithm: str
    mean: np.ndarray
    scale_tril: np.ndarray
    draws: np.ndarray
    elbo: np.ndarray
    elbo_iterations: np.ndarray
    eta: float
    converged: bool
    iterations: int

    @property
    def covariance(self) -> np.ndarray:
        """Covariance matrix of the approximation, ``scale_tril @ scale_tril.T``."""
        return self.scale_tril @ self.scale_tril.T

    def log_density(self, points: np.ndarray) -> np.ndarray:
        """Log density of the approximation at unconstrained ``points``,
        shape (n, dim) -> (n,).

        Examples
        --------
        >>> fit = ADVIResult("meanfield", np.zeros(2), np.diag([1.0, 2.0]),
        ...                  np.zeros((0, 2)), np.array([]), np.array([]), 1.0,
        ...                  True, 0)
        >>> round(float(fit.log_density(np.array([[0.0, 0.0]]))[0]), 6)
        -2.531024
        """
        from scipy.linalg import solve_triangular

        centred = np.atleast_2d(np.asarray(points, dtype=float)) - self.mean
        z = solve_triangular(self.scale_tril, centred.T, lower=True)
        dim = self.mean.size
        return (
            -0.5 * np.sum(z**2, axis=0)
            - np.sum(np.log(np.diag(self.scale_tril)))
            - 0.5 * dim * _LOG_2PI
        )


class _DrawFailure(RuntimeError):
    """Too many Monte Carlo draws landed where the log density is undefined."""


class _MeanField:
    """Parameters ``theta = [mu, omega]``; draws ``mu + exp(omega) * z``."""

    name = "meanfield"

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.n_params = 2 * dim

    def initial(self, init: np.ndarray, scale_tril: np.ndarray) -> np.ndarray:
        return np.concatenate([init, np.log(np.diag(scale_tril))])

    def transform(self, theta: np.ndarray, z: np.ndarray) -> np.ndarray:
        d = self.dim
        return theta[:d] + np.exp(theta[d:]) * z

    def gradient(self, theta: np.ndarray, z: np.ndarray, g: np.ndarray) -> np.ndarray:
        d = self.dim
        out = np.empty(self.n_params)
        out[:d] = g.mean(axis=0)
        out[d:] = (g * z).mean(axis=0) * np.exp(theta[d:]) + 1.0
        return out

    def entropy(self, theta: np.ndarray) -> float:
        return 0.5 * self.dim * (1.0 + _LOG_2PI) + float(np.sum(theta[self.dim :]))

    def scale_tril(self, theta: np.ndarray) -> np.ndarray:
        return np.diag(np.exp(theta[self.dim :]))


class _FullRank:
    """Parameters ``theta = [mu, vech(L)]``; draws ``mu + L @ z``."""

    name = "fullrank"

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.rows, self.cols = np.tril_indices(dim)
        self.diag = dim + np.flatnonzero(self.rows == self.cols)
        self.n_params = dim + self.rows.size

    def initial(self, init: np.ndarray, scale_tril: np.ndarray) -> np.ndarray:
        return np.concatenate([init, scale_tril[self.rows, self.cols]])

    def _factor(self, theta: np.ndarray) -> np.ndarray:
        factor = np.zeros((self.dim, self.dim))
        factor[self.rows, self.cols] = theta[self.dim :]
        return factor

    def transform(self, theta: np.ndarray, z: np.ndarray) -> np.ndarray:
        return theta[: self.dim] + z @ self._factor(theta).T

    def gradient(self, theta: np.ndarray, z: np.ndarray, g: np.ndarray) -> np.ndarray:
        d = self.dim
        out = np.empty(self.n_params)
        out[:d] = g.mean(axis=0)
        out[d:] = (g.T @ z)[self.rows, self.cols] / g.shape[0]
        out[self.diag] += 1.0 / theta[self.diag]
        return out

    def entropy(self, theta: np.ndarray) -> float:
        log_det = float(np.sum(np.log(np.abs(theta[self.diag]))))
        return 0.5 * self.dim * (1.0 + _LOG_2PI) + log_det

    def scale_tril(self, theta: np.ndarray) -> np.ndarray:
        factor = self._factor(theta)
        # Flipping the sign of a column leaves L @ L.T unchanged.
        return factor * np.where(np.diag(factor) < 0.0, -1.0, 1.0)


class _Objective:
    """Monte Carlo ELBO and ELBO-gradient estimates for one family."""

    def __init__(
        self,
        log_prob_grad: LogProbGrad,
        family: _MeanField | _FullRank,
        rng: np.random.Generator,
        grad_samples: int,
        elbo_samples: int,
    ) -> None:
        self.log_prob_grad = log_prob_grad
        self.family = family
        self.rng = rng
        self.grad_samples = grad_samples
        self.elbo_samples = elbo_samples

    def _evaluate(self, q: np.ndarray) -> tuple[float, np.ndarray] | None:
        """Log density and gradient at ``q``, or None where undefined."""
        try:
            lp, grad = self.log_prob_grad(q)
        except (RuntimeError, ArithmeticError):
            return None
        lp = float(lp)
        grad = np.asarray(grad, dtype=float)
        if not (math.isfinite(lp) and np.isfinite(grad).all()):
            return None
        return lp, grad

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        """Reparameterisation estimate of the ELBO gradient at ``theta``.

        A draw at which the log density fails is replaced by a fresh one; more
        than ``_GRAD_RETRIES_PER_DRAW * grad_samples`` replacements raise.
        """
        family = self.family
        n, d = self.grad_samples, family.dim
        z = self.rng.standard_normal((n, d))
        q = family.transform(theta, z)
        g = np.empty((n, d))
        budget = _GRAD_RETRIES_PER_DRAW * n
        dropped = 0
        for i in range(n):
            result = self._evaluate(q[i])
            while result is None:
                dropped += 1
                if dropped > budget:
                    raise _DrawFailure(
                        f"the log density or its gradient failed at {dropped} "
                        f"draws from the approximation while estimating the "
                        f"ELBO gradient from {n} draw(s)"
                    )
                z[i] = self.rng.standard_normal(d)
                q[i] = family.transform(theta, z[i])
                result = self._evaluate(q[i])
            g[i] = result[1]
        return family.gradient(theta, z, g)

    def elbo(self, theta: np.ndarray) -> float:
        """Monte Carlo ELBO estimate at ``theta`` from ``elbo_samples`` draws."""
        return self.elbo_with_se(theta)[0]

    def elbo_with_se(self, theta: np.ndarray) -> tuple[float, float]:
        """ELBO estimate at ``theta`` and its Monte Carlo standard error.

        Failed draws are replaced; as many failures as requested draws raise.
        """
        family = self.family
        n = self.elbo_samples
        lps = np.empty(n)
        accepted = 0
        dropped = 0
        while accepted < n:
            q = family.transform(
                theta, self.rng.standard_normal((n - accepted, family.dim))
            )
            for point in q:
                result = self._evaluate(point)
                if result is None:
                    dropped += 1
                    if dropped >= n:
                        raise _DrawFailure(
                            f"the log density failed at {dropped} of the draws "
                            f"used to estimate the ELBO (elbo_samples={n})"
                        )
                    continue
                lps[accepted] = result[0]
                accepted += 1
        value = float(np.mean(lps)) + family.entropy(theta)
        if not math.isfinite(value):
            raise _DrawFailure("the ELBO estimate is not finite")
        se = float(np.std(lps, ddof=1)) / math.sqrt(n) if n > 1 else 0.0
        return value, se


def _step(
    theta: np.ndarray, grad: np.ndarray, history: np.ndarray, k: int, eta: float
) -> None:
    """One adaptive stochastic-gradient step, updating ``theta`` and ``history``."""
    if k == 1:
        np.square(grad, out=history)
    else:
        history *= 1.0 - _ALPHA
        history += _ALPHA * grad * grad
    theta += (eta * k ** (-0.5 + _EPSILON)) * grad / (_TAU + np.sqrt(history))


def _search_eta(
    objective: _Objective,
    theta0: np.ndarray,
    adapt_iter: int,
    elbo_init: float,
    informed: bool = False,
) -> float:
    """Pick eta from ``ETA_SEQUENCE`` the way Stan's adaptation does.

    Each candidate runs ``adapt_iter`` iterations from ``theta0`` and its ELBO
    is estimated; the search stops at the first candidate whose ELBO is worse
    than the previous candidate's once that one beat the initial ELBO
    ``elbo_init``, and returns the previous candidate. When no candidate
    beats it and the start was ``informed`` (a given ``init_scale``), the
    start is already as good as any step size can make it in that many
    iterations, so the smallest candidate is used; otherwise that is an error.
    """
    elbo_best = -math.inf
    eta_best = math.nan
    last = len(ETA_SEQUENCE) - 1
    for index, eta in enumerate(ETA_SEQUENCE):
        theta = theta0.copy()
        history = np.zeros_like(theta)
        elbo = -math.inf
        for k in range(1, adapt_iter + 1):
            try:
                grad = objective.gradient(theta)
            except _DrawFailure:
                grad = np.zeros_like(theta)
            _step(theta, grad, history, k, eta)
            if not np.isfinite(theta).all():
                break
        else:
            try:
                elbo = objective.elbo(theta)
            except _DrawFailure:
                elbo = -math.inf
        logger.info("eta search: eta = %g, ELBO %.6g", eta, elbo)
        if elbo < elbo_best and elbo_best > elbo_init:
            logger.info("eta search: using eta = %g", eta_best)
            return eta_best
        if index < last:
            elbo_best = elbo
            eta_best = eta
        elif elbo > elbo_init:
            logger.info("eta search: using eta = %g", eta)
            return eta
    if informed:
        logger.info(
            "eta search: no eta improved on the initial approximation; using eta = %g",
            ETA_SEQUENCE[-1],
        )
        return ETA_SEQUENCE[-1]
    raise RuntimeError(
        "ADVI eta search failed: no step-size scale in "
        f"{', '.join(f'{e:g}' for e in ETA_SEQUENCE)} improved on the initial "
        f"ELBO ({elbo_init:.6g}) after adapt_iter={adapt_iter} iterations. The "
        "model may be severely ill-conditioned or misspecified; try another "
        "init, a larger adapt_iter, or pass eta explicitly."
    )


def _check_init(init: object) -> np.ndarray:
    try:
        array = np.array(init, dtype=float, copy=True)
    except (TypeError, ValueError) as exc:
        raise StanmixInputError(
            "init must be a 1-D array of floats (one per unconstrained "
            f"parameter); could not convert it: {exc}"
        ) from exc
    if array.ndim != 1:
        raise StanmixInputError(
            f"init must be a 1-D array (one entry per unconstrained parameter), "
            f"got ndim={array.ndim} with shape {array.shape}; flatten it first"
        )
    if array.size == 0:
        raise StanmixInputError(
            "init is empty; pass one value per unconstrained parameter"
        )
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise StanmixInputError(
            f"init has non-finite values (NaN or inf) at positions "
            f"{bad.tolist()}; pass finite starting values"
        )
    return array


def advi(
    log_prob_grad: LogProbGrad,
    init: np.ndarray,
    *,
    algorithm: str = "meanfield",
    seed: int = 0,
    iter: int = DEFAULT_ITER,
    grad_samples: int = 1,
    elbo_samples: int = 100,
    eta: float | None = None,
    adapt_iter: int = 50,
    init_scale: np.ndarray | None = None,
    tol_rel_obj: float = 0.01,
    eval_elbo: int = 100,
    output_draws: int = 1000,
    callback: Callable[[int, float | None], object] | None = None,
) -> ADVIResult:
    """Fit a Gaussian approximation to a posterior with Stan's ADVI.

    Parameters
    ----------
    log_prob_grad : callable
        ``log_prob_grad(q) -> (lp, grad)``: log density (Jacobian included)
        and its gradient at an unconstrained point ``q`` of shape (dim,).
        It may raise ``RuntimeError`` (or an ``ArithmeticError``) where the
        density is undefined; such draws, and draws returning a non-finite
        value or gradient, are discarded and replaced (see Notes).
    init : array_like, shape (dim,)
        Initial mean of the approximation, unconstrained scale.
    algorithm : {"meanfield", "fullrank"}
        Diagonal or full-covariance Gaussian family.
    seed : int
        Seed of the ``numpy.random.Generator`` behind every draw; the same
        seed gives bitwise-identical results.
    iter : int
        Maximum number of stochastic-gradient iterations.
    grad_samples : int
        Monte Carlo draws per ELBO-gradient estimate.
    elbo_samples : int
        Monte Carlo draws per ELBO estimate.
    eta : float, optional
        Step-size scale. When None (default) it is chosen by a search over
        100, 10, 1, 0.1 and 0.01, each run for ``adapt_iter`` iterations.
    adapt_iter : int
        Iterations per candidate in the eta search.
    init_scale : array_like, optional
        Initial scale of the approximation: standard deviations, shape
        (dim,), or (``"fullrank"`` only) a lower-triangular Cholesky factor
        with positive diagonal, shape (dim, dim). None (default) starts from
        the identity, as Stan does. :func:`laplace_scale` gives the Laplace
        approximation's at a posterior mode. With a given scale, an eta
        search in which no candidate beats the initial ELBO uses the
        smallest candidate instead of failing.
    tol_rel_obj : float
        Convergence tolerance on the relative ELBO change.
    eval_elbo : int
        Estimate the ELBO (and test convergence) every ``eval_elbo``
        iterations.
    output_draws : int
        Number of draws returned from the approximation.
    callback : callable, optional
        Called as ``callback(iteration, elbo)`` after every iteration of the
        main optimisation, with the ELBO estimate on evaluation iterations and
        None otherwise.

    Returns
    -------
    ADVIResult
        Mean, Cholesky factor, draws, ELBO trace, eta and convergence flag.

    Raises
    ------
    StanmixInputError
        An argument is invalid, or the log density fails (or returns a
        gradient of the wrong shape) at ``init``.
    RuntimeError
        The eta search finds no workable step size, the optimisation
        diverges, or too many draws land where the log density is undefined.

    Warns
    -----
    RuntimeWarning
        The relative ELBO change did not fall below ``tol_rel_obj`` within
        ``iter`` iterations; or the last ELBO estimate is more than four
        Monte Carlo standard errors below that of the initial approximation,
        the signature of a step size so large that the scale collapsed (the
        stopping rule can still fire then, since a collapsed ELBO stops
        changing).

    Notes
    -----
    A failed draw is replaced by a fresh one. An ELBO estimate fails once as
    many draws have failed as ``elbo_samples``; a gradient estimate fails once
    more than ``10 * grad_samples`` draws have failed. During the eta search
    a failed gradient counts as zero and a failed ELBO as minus infinity, so
    the search moves on to a smaller eta; in the main optimisation either
    failure raises ``RuntimeError``.

    The eta search compares single Monte Carlo ELBO estimates, so, as in
    Stan, it occasionally keeps a too large eta; the warning above flags the
    resulting collapse. Passing ``eta`` explicitly avoids the search.

    Examples
    --------
    >>> import numpy as np
    >>> from stanmix.advi import advi
    >>> center = np.array([1.0, -2.0])
    >>> def log_prob_grad(q):
    ...     diff = q - center
    ...     return -0.5 * float(diff @ diff) - 10.0, -diff
    >>> fit = advi(log_prob_grad, np.zeros(2), seed=1, output_draws=500)
    >>> fit.algorithm, fit.draws.shape, fit.converged
    ('meanfield', (500, 2), True)
    >>> bool(np.all(np.abs(fit.mean - center) < 0.5))
    True
    """
    if not callable(log_prob_grad):
        raise StanmixInputError(
            "log_prob_grad must be callable as log_prob_grad(q) -> (lp, grad), "
            f"got {type(log_prob_grad).__name__}"
        )
    if algorithm not in _ALGORITHMS:
        raise StanmixInputError(
            f"algorithm must be 'meanfield' or 'fullrank', got {algorithm!r}"
        )
    init = _check_init(init)
    seed = check.integer("seed", seed, low=0)
    iter = check.integer(
        "iter", iter, low=1, hint="pass the maximum number of iterations"
    )
    grad_samples = check.integer(
        "grad_samples", grad_samples, low=1, hint="pass at least 1 draw per gradient"
    )
    elbo_samples = check.integer(
        "elbo_samples",
        elbo_samples,
        low=1,
        hint="pass at least 1 draw per ELBO estimate",
    )
    adapt_iter = check.integer(
        "adapt_iter",
        adapt_iter,
        low=1,
        hint="pass at least 1 iteration per eta candidate",
    )
    eval_elbo = check.integer(
        "eval_elbo",
        eval_elbo,
        low=1,
        hint="pass how many iterations between ELBO estimates",
    )
    output_draws = check.integer(
        "output_draws", output_draws, low=1, hint="pass how many draws to return"
    )
    tol_rel_obj = check.number(
        "tol_rel_obj",
        tol_rel_obj,
        positive=True,
        hint="pass a relative tolerance such as 0.01",
    )
    if eta is not None:
        eta = check.number(
            "eta",
            eta,
            positive=True,
            hint="pass a positive step-size scale, or None to search",
        )
    check_callback(callback)

    dim = init.size
    start_tril = check_init_scale(init_scale, dim, algorithm)
    family = _MeanField(dim) if algorithm == "meanfield" else _FullRank(dim)
    rng = np.random.default_rng(int(seed))
    objective = _Objective(log_prob_grad, family, rng, grad_samples, elbo_samples)

    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        _check_at_init(log_prob_grad, init)
        theta0 = family.initial(init, start_tril)
        try:
            elbo_init, se_init = objective.elbo_with_se(theta0)
        except _DrawFailure as exc:
            if eta is None:
                raise RuntimeError(
                    "ADVI cannot compute the ELBO of the initial approximation "
                    f"(mean = init): {exc}. The model may be "
                    "severely ill-conditioned or misspecified; try another init."
                ) from exc
            elbo_init = se_init = None
        else:
            logger.info("initial ELBO %.6g", elbo_init)
        if eta is None:
            eta = _search_eta(
                objective, theta0, adapt_iter, elbo_init, init_scale is not None
            )
        else:
            logger.info("using eta = %g (no search)", eta)
        theta, elbos, elbo_iters, converged, iterations, se_last = _optimise(
            objective, theta0, eta, iter, eval_elbo, tol_rel_obj, callback
        )
        mean = theta[:dim].copy()
        scale_tril = family.scale_tril(theta)
        draws = mean + rng.standard_normal((output_draws, dim)) @ scale_tril.T

    if (
        elbo_init is not None
        and elbos
        and elbos[-1] + _WORSE_THAN_INIT_SE * math.hypot(se_init, se_last) < elbo_init
    ):
        message = (
            f"ADVI ended with an ELBO ({elbos[-1]:.6g}) below that of its "
            f"initial approximation ({elbo_init:.6g}): the optimisation with "
            f"eta={eta:g} most likely collapsed or diverged. Do not use this "
            "approximation; pass a smaller eta or another seed or init."
        )
        warnings.warn(message, RuntimeWarning, stacklevel=caller_level())
    if not converged and not elbos:
        warnings.warn(
            no_elbo_message(iter, eval_elbo),
            RuntimeWarning,
            stacklevel=caller_level(),
        )
    elif not converged:
        warnings.warn(
            not_converged_message(iter, tol_rel_obj),
            RuntimeWarning,
            stacklevel=caller_level(),
        )
    return ADVIResult(
        algorithm=algorithm,
        mean=mean,
        scale_tril=scale_tril,
        draws=draws,
        elbo=np.asarray(elbos, dtype=float),
        elbo_iterations=np.asarray(elbo_iters, dtype=int),
        eta=float(eta),
        converged=converged,
        iterations=iterations,
    )


#: Pareto k-hat above which an approximation is not close enough to the
#: posterior for its draws to be trusted (Yao, Vehtari, Simpson and Gelman,
#: 2018, "Yes, but did it work?: Evaluating variational inference").
PARETO_K_MAX = 0.7

#: Fewest draws (with a finite ratio) k-hat is estimated from: ArviZ fits
#: the Pareto tail to min(S / 5, 3 sqrt(S)) of S draws, which below about
#: 25 draws cannot be fitted (k-hat comes back infinite) and below 100 is a
#: score of draws or fewer, too few for the figure to mean much.
PARETO_K_DRAWS = 100


def pareto_k(log_p: np.ndarray, log_q: np.ndarray) -> float:
    """Pareto k-hat of the importance ratios ``p / q`` of an approximation's
    draws: how far the approximation ``q`` is from the posterior ``p``.

    Below 0.5 the approximation is close; from 0.5 to
    :data:`PARETO_K_MAX` (0.7) usable for means; above it, its means can be
    off and its spreads are usually too narrow (Yao et al. 2018). Additive
    constants of either log density do not change it.

    Parameters
    ----------
    log_p, log_q : ndarray
        Log densities of the posterior (Jacobian included) and of the
        approximation at the same draws, on the unconstrained scale. Draws
        where the posterior's is not finite have no weight and are left
        out.

    Returns
    -------
    float
        -inf when every ratio is equal (the approximation is the posterior);
        NaN when fewer than :data:`PARETO_K_DRAWS` draws have a finite ratio.

    Examples
    --------
    Draws from ``q``, a standard normal, against a normal ``p`` as wide
    (every ratio equal), 1.25 times and 3 times as wide:

    >>> import numpy as np
    >>> x = np.random.default_rng(1).normal(size=2000)
    >>> [round(pareto_k(-(x / s) ** 2 / 2, -(x**2) / 2), 2) for s in (1.0, 1.25, 3.0)]
    [-inf, 0.36, 0.8]
    """
    import arviz as az

    ratio = np.ravel(np.asarray(log_p, dtype=float) - np.asarray(log_q, dtype=float))
    ratio = ratio[np.isfinite(ratio)]
    if ratio.size < PARETO_K_DRAWS:
        return math.nan
    if np.ptp(ratio) <= 1e-12 * max(1.0, float(np.abs(ratio).max())):
        return -math.inf  # q is p up to a constant: every weight is equal
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ's own note on a large k-hat
        _, k = az.psislw(ratio - ratio.max())
    return float(k)


def pareto_k_message(k: float, algorithm: str) -> str:
    """The warning for an approximation whose Pareto k-hat is above
    :data:`PARETO_K_MAX`."""
    other = (
        "; algorithm='fullrank', which keeps the correlations meanfield drops, "
        "may fit better"
        if algorithm == "meanfield"
        else ""
    )
    return (
        f"the ADVI approximation is far from the posterior: the Pareto k-hat of "
        f"its draws' importance ratios is {k:.2f}, above {PARETO_K_MAX} (Yao et "
        "al. 2018), so its means may be off and its sds and intervals too narrow "
        "(pareto_k_ keeps the figure). Use method='sample' for a posterior "
        f"you can report{other}"
    )


def not_converged_message(iter: int, tol_rel_obj: float) -> str:
    """The warning for an ADVI run that stopped at ``iter`` without converging.

    Shared by every ADVI implementation stanmix runs (:func:`advi` and
    CmdStan's), so the same failure reads the same on every engine.

    Parameters
    ----------
    iter : int
        The maximum number of iterations the run was allowed.
    tol_rel_obj : float
        The convergence tolerance on the relative ELBO change.

    Returns
    -------
    str
        The message of the ``RuntimeWarning``.

    Examples
    --------
    >>> not_converged_message(20, 0.01)[:47]
    'ADVI did not converge within iter=20 iterations'
    """
    return (
        f"ADVI did not converge within iter={iter} iterations: the "
        f"relative ELBO change stayed above tol_rel_obj={tol_rel_obj:g}. "
        "Increase iter (or eval_elbo / elbo_samples for a less noisy "
        "ELBO), and check the approximation before relying on it."
    )


def check_callback(callback) -> None:
    """Refuse a ``callback`` that is neither None nor callable.

    Examples
    --------
    >>> check_callback(print)
    >>> try:
    ...     check_callback(5)
    ... except StanmixInputError as err:
    ...     print(str(err)[:23])
    callback must be callab
    """
    if callback is not None and not callable(callback):
        raise StanmixInputError(
            "callback must be callable as callback(iteration, elbo) or None, "
            f"got {type(callback).__name__}"
        )


def no_elbo_message(iter: int, eval_elbo: int) -> str:
    """The warning of an ADVI run that stopped before its first ELBO
    estimate (``iter`` below ``eval_elbo``), on either engine.

    Examples
    --------
    >>> no_elbo_message(50, 100)[:58]
    'ADVI stopped at iter=50, before its first ELBO estimate (e'
    """
    return (
        f"ADVI stopped at iter={iter}, before its first ELBO estimate "
        f"(every eval_elbo={eval_elbo} iterations), so it never tested "
        "convergence; pass a larger iter or a smaller eval_elbo, and check "
        "the approximation before relying on it."
    )


def check_init_scale(init_scale, dim: int, algorithm: str) -> np.ndarray:
    """The initial Cholesky factor: identity, diag(init_scale), or as given.

    Examples
    --------
    >>> check_init_scale([0.5, 2.0], 2, "meanfield")
    array([[0.5, 0. ],
           [0. , 2. ]])
    >>> try:
    ...     check_init_scale([0.5, 2.0, 1.0], 2, "meanfield")
    ... except StanmixInputError as err:
    ...     print(err)
    init_scale has shape (3,); meanfield needs (2,)
    """
    if init_scale is None:
        return np.eye(dim)
    try:
        scale = np.array(init_scale, dtype=float)
    except (TypeError, ValueError) as exc:
        raise StanmixInputError(
            f"init_scale must be an array of floats; could not convert it: {exc}"
        ) from exc
    if scale.shape == (dim,):
        if not (np.isfinite(scale).all() and (scale > 0).all()):
            raise StanmixInputError(
                "init_scale must hold positive, finite standard deviations"
            )
        return np.diag(scale)
    if scale.shape == (dim, dim) and algorithm == "fullrank":
        diagonal = np.diag(scale)
        if not (
            np.isfinite(scale).all()
            and np.allclose(scale, np.tril(scale))
            and (diagonal > 0).all()
        ):
            raise StanmixInputError(
                "init_scale as a matrix must be lower triangular with a "
                "positive diagonal and finite entries (a Cholesky factor)"
            )
        return np.tril(scale)
    shapes = f"({dim},)" + (f" or ({dim}, {dim})" if algorithm == "fullrank" else "")
    raise StanmixInputError(
        f"init_scale has shape {scale.shape}; {algorithm} needs {shapes}"
    )


def laplace_scale(
    log_prob_grad: LogProbGrad, mode: np.ndarray, algorithm: str = "meanfield"
) -> np.ndarray | None:
    """The Laplace approximation's scale at a posterior mode, for ``init_scale``.

    The Hessian of the log density is taken by central differences of its
    gradient (2 * dim gradient calls). For ``"meanfield"`` the standard
    deviations are ``1 / sqrt(-H_ii)``: for a Gaussian posterior that is
    exactly the mean-field approximation ADVI converges to (the one that
    minimises KL(q || p) has the conditional, not the marginal, variances).
    For ``"fullrank"``, the Cholesky factor of ``inv(-H)``. Returns None where
    ``mode`` is not a mode (a diagonal entry, or for fullrank the matrix, not
    negative definite), so the caller can fall back to the identity.

    Examples
    --------
    >>> import numpy as np
    >>> precision = np.array([[4.0, 1.0], [1.0, 2.0]])
    >>> def log_prob_grad(q):
    ...     return -0.5 * float(q @ precision @ q), -precision @ q
    >>> np.round(laplace_scale(log_prob_grad, np.zeros(2)), 6).tolist()
    [0.5, 0.707107]
    """
    precision = negative_hessian(log_prob_grad, mode)
    if not np.isfinite(precision).all():
        return None
    if algorithm == "meanfield":
        diagonal = np.diag(precision)
        return 1.0 / np.sqrt(diagonal) if (diagonal > 0).all() else None
    try:  # the inverse is positive definite exactly when the precision is
        covariance = np.linalg.inv(precision)
        return np.linalg.cholesky(0.5 * (covariance + covariance.T))
    except np.linalg.LinAlgError:
        return None


def _check_at_init(log_prob_grad: LogProbGrad, init: np.ndarray) -> None:
    """Raise StanmixInputError unless the log density works at ``init``."""
    try:
        lp, grad = log_prob_grad(init.copy())
    except (RuntimeError, ArithmeticError) as exc:
        raise StanmixInputError(
            f"init: the log density cannot be evaluated at init ({exc}); "
            "choose an init inside the support of the model"
        ) from exc
    except ValueError as exc:
        raise StanmixInputError(
            f"init: log_prob_grad rejected init of length {init.size} ({exc}); "
            "pass one init value per unconstrained parameter"
        ) from exc
    grad = np.asarray(grad, dtype=float)
    if grad.shape != init.shape:
        raise StanmixInputError(
            f"init has {init.size} entries but log_prob_grad returned a "
            f"gradient of shape {grad.shape}; pass one init value per "
            "unconstrained parameter"
        )
    if not (math.isfinite(float(lp)) and np.isfinite(grad).all()):
        raise StanmixInputError(
            "init: the log density or its gradient is not finite at init; "
            "choose an init inside the support of the model"
        )


def _optimise(
    objective: _Objective,
    theta0: np.ndarray,
    eta: float,
    max_iter: int,
    eval_elbo: int,
    tol_rel_obj: float,
    callback: Callable[[int, float | None], object] | None,
) -> tuple[np.ndarray, list[float], list[int], bool, int, float]:
    """Stochastic gradient ascent on the ELBO with Stan's stopping rule.

    Returns the final parameters, the ELBO trace and its iterations, whether
    the stopping rule fired, the number of iterations, and the Monte Carlo
    standard error of the last ELBO estimate.
    """
    theta = theta0.copy()
    history = np.zeros_like(theta)
    window = deque(maxlen=int(max(0.1 * max_iter / eval_elbo, 2.0)))
    elbos: list[float] = []
    elbo_iters: list[int] = []
    elbo = 0.0
    se_last = 0.0
    converged = False
    diverging = False
    k = 0
    for k in range(1, max_iter + 1):
        try:
            grad = objective.gradient(theta)
        except _DrawFailure as exc:
            raise RuntimeError(
                f"ADVI failed at iteration {k}: {exc}. The approximation has "
                "moved where the model cannot be evaluated; try a smaller eta "
                "or another init."
            ) from exc
        _step(theta, grad, history, k, eta)
        if not np.isfinite(theta).all():
            raise RuntimeError(
                f"ADVI diverged at iteration {k} (non-finite variational "
                f"parameters with eta={eta:g}); try a smaller eta."
            )
        current = None
        if k % eval_elbo == 0:
            previous = elbo
            try:
                elbo, se_last = objective.elbo_with_se(theta)
            except _DrawFailure as exc:
                raise RuntimeError(
                    f"ADVI failed at iteration {k}: {exc}. Try a smaller eta "
                    "or another init."
                ) from exc
            current = elbo
            elbos.append(elbo)
            elbo_iters.append(k)
            window.append(abs((previous - elbo) / elbo) if elbo != 0 else math.inf)
            rel_mean = sum(window) / len(window)
            rel_median = sorted(window)[len(window) // 2]
            converged = rel_mean < tol_rel_obj or rel_median < tol_rel_obj
            logger.info(
                "iteration %d: ELBO %.6g, relative change mean %.4g median %.4g%s",
                k,
                elbo,
                rel_mean,
                rel_median,
                " (converged)" if converged else "",
            )
            if (
                not diverging
                and k > 10 * eval_elbo
                and (rel_mean > 0.5 or rel_median > 0.5)
            ):
                diverging = True
                logger.warning(
                    "iteration %d: relative ELBO change above 0.5; ADVI may be "
                    "diverging, inspect the ELBO trace",
                    k,
                )
        if callback is not None:
            callback(k, current)
        if converged:
            break
    return theta, elbos, elbo_iters, converged, k, se_last
