"""Log probabilities of rectangles under multivariate normal and Student-t
distributions, batched: what censored cells of a full-covariance component
contribute once the observed cells are conditioned on.

One censored coordinate has a closed form (the normal or Student-t CDF).
For c >= 2 coordinates the probability is written, by the separation of
variables of Genz (1992), as an integral over the unit cube of dimension
c - 1 of a smooth function (Genz & Bretz, 2009, ch. 4): with the Cholesky
factor C of the covariance and w in (0, 1)^(c-1),

    f_1 = Phi(b_1 / C_11) - Phi(a_1 / C_11)
    y_i = Phi^-1(Phi(a_i') + w_i f_i'),   a_i' = (a_i - sum_{j<i} C_ij y_j) / C_ii
    P   = integral of prod_i f_i  over w,

with the coordinates taken in the order of Genz & Bretz (2009, sec.
4.1.3): at each step the one whose interval is least probable given the
expected values of those before it. That order matters far more than the
nodes: the integrand over the first coordinates is then largest where
their intervals end nearest the bulk (at an end of the unit interval),
while another order can put its peak e^-60 deep inside, beyond every node
(a correlation of 0.9 with limits of -20 and -25 SDs was 2.5 off in log
probability). It is
evaluated on a tensor grid of tanh-sinh (double exponential) nodes,
entirely in log space (``log_ndtr`` and ``ndtri_exp``), so that tail
probabilities keep their relative precision. Far in a tail the integrand
changes within a thin layer at an end of the unit interval; tanh-sinh nodes
crowd exponentially towards both ends and resolve it, where Gauss-Legendre
nodes of the same number lose three or four digits.

A multivariate t with nu degrees of freedom separates the same way (Genz &
Bretz, 2009, sec. 4.2): given the first i standardized coordinates, with
squared norm q, the next is a Student-t with nu + i degrees of freedom
scaled by sqrt((nu + q) / (nu + i)), so its y_i come from Student-t CDFs
and quantiles (incomplete beta functions, through their series in log space
where they would underflow). A t's rectangle in a tail takes its
probability from the tails of the earlier coordinates, so its integrand has
narrower features farther out: its grid is finer and reaches |t| <= 5.

Nodes per dimension: 65 for one integration dimension (step 0.1), 44 per
dimension for two, 27 for three and 17 beyond; for the t, 201, 101, 41 and
26. A grid of more than 2^17 nodes (a row's six or more censored cells,
five or more for the t) would take gigabytes at eight cells, and gives way
to 2^17 points of a scrambled Sobol' sequence (fixed seed) with equal
weights: against the tensor grid on 200 random rectangles of four
censored cells, median error 1e-7 and at most 7e-5 in log probability;
against the exact probability of equicorrelated rectangles (a
one-dimensional integral) 9e-4 and 1e-3 for seven and eight cells
correlated 0.5, each cell censored 3 SDs below its mean (one-off
checks). The tensor grid loses accuracy as
cells correlate: at 0.99, 1e-4 for four cells and 8e-3 for five (1.5e-8
for three).

With one dimension the result agrees with adaptive quadrature to about
1e-12 in log probability, far in the tails too, and to 1e-7 for t
rectangles whose features are narrowest (see the tests). As a correlation
nears +-1 the inner probability steps from 0 to 1 (or back) where the
second coordinate's conditional location crosses one of its bounds, and
a fixed rule does not resolve a step inside its interval: the first
coordinate's interval is cut there (:func:`_pieces`), so that each piece
has the step at an end, where the nodes crowd. Against Owen's T on
quadrants within 3 SDs the worst error in log probability is then 7e-10
at |rho| = 0.99, 9e-8 at 0.999 and 4e-6 at 0.9999 (the quadrant at the
origin, rho = -0.9999; without the cuts:
2.3e-7, 8e-3 and 5e-2). The order of the two matters as little: 50
random quadrants at rho = -0.999 taken both ways round differed by at
most 6e-7 (1.7e-2 without the cuts). The Stan programs share the rule
(full_cov.stan takes two one-sided cells beside observed ones in closed
form, with Owen's T function, where that is exact to rounding).
Rows of three or more censored cells (grids of two or more dimensions)
are not cut.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import betaincinv, log_ndtr, logsumexp, ndtri_exp

from stanmix.families.student_t import log_beta_tail, t_log_cdf

#: tanh-sinh step per number of integration dimensions (|t| <= 3.2).
_STEP = {1: 0.1, 2: 0.15, 3: 0.25}
_T_MAX = 3.2
#: The same for the multivariate t (see the module's docstring).
_T_STUDENT_STEP = {1: 0.05, 2: 0.1, 3: 0.25}
_T_STUDENT_MAX = 5.0
_MAX_BATCH_NODES = 2**22
#: The most nodes a rectangle's integral takes (per row): a tensor grid
#: beyond it (six or more censored cells in a row, five or more for the t)
#: gives way to quasi-Monte Carlo points.
MAX_GRID_NODES = 2**17


def _nodes(h: float, reach: float) -> tuple[np.ndarray, ...]:
    """tanh-sinh nodes on (0, 1) with step ``h`` for |t| <= ``reach``:
    log x, log(1 - x) and the log weights, each (G,)."""
    t = np.arange(-reach, reach + 0.5 * h, h)
    u = 0.5 * np.pi * np.sinh(t)
    log_x = -np.logaddexp(0.0, -2.0 * u)
    log_1mx = -np.logaddexp(0.0, 2.0 * u)
    log_w = (
        math.log(h)
        + math.log(2.0)
        + np.log(0.5 * np.pi * np.cosh(t))
        - 2.0 * np.logaddexp(u, -u)
    )
    return log_x, log_1mx, log_w


def _grid(
    m: int, steps: dict = _STEP, reach: float = _T_MAX
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tensor tanh-sinh nodes on (0, 1)^m, with the step ``steps[m]`` (0.4
    beyond) and |t| <= ``reach``: log x (M, m), log(1 - x) (M, m) and the
    log weights (M,); where they would be more than ``MAX_GRID_NODES``,
    that many points of a scrambled Sobol' sequence (fixed seed) with equal
    weights instead."""
    log_x, log_1mx, log_w = _nodes(steps.get(m, 0.4), reach)
    if log_x.size**m > MAX_GRID_NODES:
        return _sobol(m)
    mesh = lambda v: np.stack(  # noqa: E731
        np.meshgrid(*([v] * m), indexing="ij"), axis=-1
    ).reshape(-1, m)
    weights = sum(np.meshgrid(*([log_w] * m), indexing="ij")).reshape(-1)
    return mesh(log_x), mesh(log_1mx), weights


def _sobol(m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``MAX_GRID_NODES`` points of a scrambled Sobol' sequence on (0, 1)^m
    (seed fixed, so that results repeat), as :func:`_grid` gives nodes."""
    from scipy.stats import qmc

    points = qmc.Sobol(m, scramble=True, seed=20240601).random(MAX_GRID_NODES)
    points = np.clip(points, 1e-300, None)  # a coordinate of exactly 0
    return (
        np.log(points),
        np.log1p(-points),
        np.full(MAX_GRID_NODES, -math.log(MAX_GRID_NODES)),
    )


def quadrature_nodes(c: int, student_t: bool = False) -> int:
    """Nodes of the grid for a rectangle of ``c`` censored coordinates (1
    for one: a CDF).

    Examples
    --------
    >>> quadrature_nodes(1), quadrature_nodes(2), quadrature_nodes(3)
    (1, 65, 1936)
    """
    if c < 2:
        return 1
    steps, reach = (_T_STUDENT_STEP, _T_STUDENT_MAX) if student_t else (_STEP, _T_MAX)
    return min(_nodes(steps.get(c - 1, 0.4), reach)[0].size ** (c - 1), MAX_GRID_NODES)


def _log_interval(
    lo: np.ndarray, hi: np.ndarray, log_cdf=log_ndtr, lower: bool = True
) -> tuple[np.ndarray | None, np.ndarray]:
    """(log F(lo), log(F(hi) - F(lo))) for lo < hi, infinities allowed, of
    a distribution symmetric about 0 with log CDF ``log_cdf`` (the normal's
    unless given); None for the first with ``lower=False``.

    The width is computed from lower tails only (an interval above 0 is
    mirrored below it), so it keeps its relative precision far out in
    either tail.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        a = log_cdf(lo) if lower else None
        mirror = (lo + hi) > 0
        top = log_cdf(np.where(mirror, -lo, hi))
        diff = log_cdf(np.where(mirror, -hi, lo)) - top
        width = top + np.where(
            diff > -math.log(2.0), np.log(-np.expm1(diff)), np.log1p(-np.exp(diff))
        )
    return a, width


def _prioritized(
    lo: np.ndarray, hi: np.ndarray, chol: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bounds (B, c) and Cholesky factors (B, c, c) with each row's
    coordinates reordered: at step i, of those left, the one whose interval
    has the smallest probability given the earlier ones at their truncated
    means (Genz & Bretz, 2009, sec. 4.1.3); the factor is that of the
    reordered covariance. The order only guides the quadrature: any order
    gives the same probability in exact arithmetic.

    Examples
    --------
    >>> chol = np.linalg.cholesky([[1.0, 0.9], [0.9, 1.0]])[None]
    >>> below = np.array([[-1.0, -3.0]])
    >>> lo, hi, _ = _prioritized(np.full((1, 2), -np.inf), below, chol)
    >>> hi
    array([[-3., -1.]])
    """
    b_size, c = lo.shape
    rows = np.arange(b_size)
    cov = chol @ np.swapaxes(chol, 1, 2)
    factor = np.zeros((b_size, c, c))  # by original coordinate, then step
    y = np.zeros((b_size, c))
    order = np.zeros((b_size, c), dtype=int)
    left = np.ones((b_size, c), dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for i in range(c):
            shift = np.einsum("bjm,bm->bj", factor[:, :, :i], y[:, :i])
            rest = np.einsum("bjj->bj", cov) - (factor[:, :, :i] ** 2).sum(2)
            sd = np.sqrt(np.maximum(rest, 0.0))
            a, b = (lo - shift) / sd, (hi - shift) / sd
            width = _log_interval(a, b, lower=False)[1]
            width = np.where(left, np.nan_to_num(width, nan=np.inf), np.inf)
            pick = np.argmin(width, axis=1)
            order[:, i] = pick
            left[rows, pick] = False
            scale = sd[rows, pick]
            factor[:, :, i] = (
                cov[rows, :, pick]
                - np.einsum("bjm,bm->bj", factor[:, :, :i], factor[rows, pick, :i])
            ) / scale[:, None]
            # the mean of a standard normal truncated to (a, b) of the pick
            a_k, b_k, w_k = a[rows, pick], b[rows, pick], width[rows, pick]
            mean = np.exp(-0.5 * a_k**2 - w_k) - np.exp(-0.5 * b_k**2 - w_k)
            y[:, i] = np.nan_to_num(mean / math.sqrt(2 * math.pi), nan=0.0)
    ordered = np.take_along_axis(factor, order[:, :, None], axis=1)
    return (
        np.take_along_axis(lo, order, axis=1),
        np.take_along_axis(hi, order, axis=1),
        np.tril(ordered),
    )


def _sov(lo, hi, chol, log_x, log_1mx, logw, nu=None):
    """log P for a batch (B, c) of bounds and factors (B, c, c), c >= 2, on
    nodes with log coordinates ``log_x`` (M, c - 1), their ``log(1 - x)``
    and log weights (M,): of the normal, or of the multivariate t with
    ``nu`` (B,) degrees of freedom.

    Each y_i is the quantile of its node in the interval, taken from the
    nearer tail: the quantile of the probability below it in the lower
    half, and minus that of the probability above it, (1 - w) f_i + F(-b_i'),
    in the upper half, so that a node near the top of an interval open above
    stays finite. A node where an earlier interval has probability zero adds
    nothing (its NaN products are dropped, not the whole sum)."""
    c = lo.shape[1]
    b_size, m = lo.shape[0], log_x.shape[0]
    shift = np.zeros((b_size, m))
    y = np.empty((c - 1, b_size, m))
    total = np.zeros((b_size, m))
    norm = np.zeros((b_size, m))  # sum of the y_j^2 so far (the t's)
    for i in range(c):
        scale = chol[:, i, i][:, None]
        if i > 0:
            shift = np.einsum("bj,jbm->bm", chol[:, i, :i], y[:i])
        if nu is None:
            spread, log_cdf, quantile = 1.0, log_ndtr, ndtri_exp
        else:
            df = nu[:, None] + i
            spread = np.sqrt((nu[:, None] + norm) / df)
            log_cdf = lambda z, df=df: t_log_cdf(z, df)  # noqa: E731
            quantile = lambda p, df=df: _t_lower_quantile(p, df)  # noqa: E731
        upper = (hi[:, i, None] - shift) / scale / spread
        a, width = _log_interval(
            (lo[:, i, None] - shift) / scale / spread, upper, log_cdf, i < c - 1
        )
        total += width
        if i < c - 1:
            with np.errstate(invalid="ignore", divide="ignore"):
                below = np.logaddexp(a, log_x[None, :, i] + width)
                above = np.logaddexp(log_cdf(-upper), log_1mx[None, :, i] + width)
                y[i] = spread * np.where(
                    below < -math.log(2.0),
                    quantile(np.minimum(below, -math.log(2.0))),
                    -quantile(np.minimum(above, -math.log(2.0))),
                )
                if nu is not None:
                    norm = norm + y[i] ** 2
    with np.errstate(invalid="ignore"):
        total = np.where(np.isnan(total), -np.inf, total)
        out = logsumexp(total + logw[None, :], axis=1)
    return np.where(np.isnan(out), -np.inf, out)


def _t_lower_quantile(log_p: np.ndarray, df: np.ndarray) -> np.ndarray:
    """The Student-t(``df``) quantile at probability p = e^log_p <= 1/2.

    P(|T| > |t|) = I_x(df/2, 1/2) = 2p with x = df / (df + t^2): x comes from
    the inverse incomplete beta function of whichever of 2p and 1 - 2p is
    the smaller (so that neither a far tail nor the centre loses digits),
    and, where p is too small for that (below e^-650), from the function's
    series in log space, solved for log x by fixed-point iteration.

    Examples
    --------
    >>> from scipy.stats import t
    >>> q = _t_lower_quantile(np.log([1e-40, 0.3, 0.5]), np.array([4.0]))
    >>> bool(np.allclose(q, t.ppf([1e-40, 0.3, 0.5], 4.0), rtol=1e-13))
    True
    >>> from stanmix.families.student_t import t_log_cdf
    >>> q = _t_lower_quantile(np.array([-900.0]), np.array([30.0]))
    >>> round(float(t_log_cdf(q, np.array([30.0]))[0]), 9)
    -900.0
    >>> _t_lower_quantile(np.array([np.nan]), np.array([30.0]))  # its node drops
    array([nan])
    """
    log_p, df = np.broadcast_arrays(np.asarray(log_p, dtype=float), df)
    p = np.exp(log_p)
    out = np.full(p.shape, np.nan)  # NaN stays NaN: its node is dropped
    tiny = log_p < _LOG_P_SERIES
    tail = (p <= 0.25) & ~tiny
    centre = p > 0.25
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        d, x = df[tail], betaincinv(0.5 * df[tail], 0.5, 2.0 * p[tail])
        out[tail] = -np.sqrt(d * (1.0 - x) / x)
        d, y = df[centre], betaincinv(0.5, 0.5 * df[centre], 1.0 - 2.0 * p[centre])
        out[centre] = -np.sqrt(d * y / (1.0 - y))
        if tiny.any():
            d, a = df[tiny], 0.5 * df[tiny]
            target = log_p[tiny] + math.log(2.0)
            log_x = np.full(a.shape, math.log(0.5))
            for _ in range(8):  # contracts by about x / a per step
                log_x = log_x + (target - log_beta_tail(log_x, a)) / a
                log_x = np.minimum(log_x, math.log(0.99))
            out[tiny] = -np.sqrt(d * -np.expm1(log_x)) * np.exp(-0.5 * log_x)
    return out


#: Below this log probability a t quantile comes from the series.
_LOG_P_SERIES = -650.0


def mvn_log_prob(lo: np.ndarray, hi: np.ndarray, chol: np.ndarray) -> np.ndarray:
    """log P(lo <= X <= hi) for X ~ N(0, chol chol'), batched.

    Parameters
    ----------
    lo, hi : ndarray, shape (B, c)
        Bounds, lo < hi, with -inf / inf for one-sided coordinates.
    chol : ndarray, shape (B, c, c)
        Lower-triangular Cholesky factors with a positive diagonal.

    Returns
    -------
    ndarray, shape (B,)

    Examples
    --------
    >>> chol = np.linalg.cholesky([[1.0, 0.5], [0.5, 1.0]])[None]
    >>> p = np.exp(mvn_log_prob(np.full((1, 2), -np.inf), np.zeros((1, 2)), chol))
    >>> round(float(p[0]), 10)  # 1/4 + arcsin(0.5) / (2 pi) = 1/3
    0.3333333333
    """
    lo, hi, chol = (np.asarray(a, dtype=float) for a in (lo, hi, chol))
    c = lo.shape[1]
    if c == 1:
        return _log_interval(lo[:, 0] / chol[:, 0, 0], hi[:, 0] / chol[:, 0, 0])[1]
    lo, hi, chol = _prioritized(lo, hi, chol)
    return _integrated(lo, hi, chol, _grid(c - 1))


def mvt_log_prob(
    lo: np.ndarray, hi: np.ndarray, chol: np.ndarray, nu: np.ndarray
) -> np.ndarray:
    """log P(lo <= X <= hi) for X multivariate t with ``nu`` (B,) degrees of
    freedom and scale matrix chol chol', batched as :func:`mvn_log_prob`.

    Examples
    --------
    >>> from scipy.stats import t
    >>> lp = mvt_log_prob(np.array([[-np.inf]]), np.array([[1.5]]), np.eye(1)[None],
    ...                   np.array([4.0]))
    >>> bool(np.isclose(lp[0], t.logcdf(1.5, 4.0)))
    True
    """
    lo, hi, chol, nu = (np.asarray(a, dtype=float) for a in (lo, hi, chol, nu))
    c = lo.shape[1]
    if c == 1:
        scale = chol[:, 0, 0]
        return _log_interval(
            lo[:, 0] / scale, hi[:, 0] / scale, lambda z: t_log_cdf(z, nu), False
        )[1]
    lo, hi, chol = _prioritized(lo, hi, chol)
    return _integrated(lo, hi, chol, _grid(c - 1, _T_STUDENT_STEP, _T_STUDENT_MAX), nu)


def _integrated(lo, hi, chol, grid, nu=None) -> np.ndarray:
    """log P for bounds (B, c) and factors (B, c, c) in the order of
    :func:`_prioritized`, on the nodes ``grid`` of :func:`_grid`: with two
    coordinates, the sum over the pieces of :func:`_pieces`."""
    log_x, log_1mx, logw = grid
    if lo.shape[1] > 2:
        return _batched(
            lambda s: _sov(lo[s], hi[s], chol[s], log_x, log_1mx, logw, _at(nu, s)),
            lo,
            logw,
        )
    out = np.full((3, lo.shape[0]), -np.inf)
    for j, (piece_lo, piece_hi) in enumerate(_pieces(lo, hi, chol)):
        (held,) = np.nonzero(piece_lo[:, 0] < piece_hi[:, 0])
        a, b, f, v = piece_lo[held], piece_hi[held], chol[held], _at(nu, held)
        out[j, held] = _batched(
            lambda s, a=a, b=b, f=f, v=v: _sov(
                a[s], b[s], f[s], log_x, log_1mx, logw, _at(v, s)
            ),
            held,
            logw,
        )
    return np.logaddexp.reduce(out, axis=0)


def _at(nu: np.ndarray | None, s) -> np.ndarray | None:
    return None if nu is None else nu[s]


#: Pairs are cut (see :func:`_pieces`) where their correlation's magnitude
#: is above this; full_cov.stan's pair_log_prob has the same rule.
CUT_ABOVE = 0.9


def _pieces(lo: np.ndarray, hi: np.ndarray, chol: np.ndarray) -> list:
    """The first coordinate's interval of each pair (B, 2) cut where the
    second's conditional probability steps: three (lo, hi) pairs of (B, 2)
    bounds, of which some have an empty first interval.

    Given the first coordinate x, the second's conditional location is
    chol[1, 0] x / chol[0, 0], and its probability changes from near 0 to
    near 1 across a width proportional to chol[1, 1]: a step, as the
    correlation nears +-1, where the location crosses one of the second's
    bounds. A fixed rule does not resolve a step inside its interval;
    cut there, each piece has it at an end, where the tanh-sinh nodes
    crowd; not within 1e-9 (1 + |z|) SDs of an end, where the step is at
    the end already (and a piece a few ulps wide would have a NaN
    gradient in Stan). Only where |rho| > ``CUT_ABOVE``: below, the step is wide and
    the whole interval's rule is as accurate (within 6e-13 of adaptive
    quadrature on 1,200 random rectangles with |rho| <= 0.95) on one
    piece instead of two or three.

    Examples
    --------
    >>> chol = np.linalg.cholesky([[1.0, -0.999], [-0.999, 1.0]])[None]
    >>> pieces = _pieces(np.array([[-np.inf, -np.inf]]), np.array([[1.0, 0.5]]), chol)
    >>> [(float(a[0, 0]), float(b[0, 0])) for a, b in pieces]  # cut at 0.5 / -0.999
    [(-inf, -0.5005005005005005), (-0.5005005005005005, 1.0), (1.0, 1.0)]
    """
    scale = chol[:, :1, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        steps = np.sort(np.c_[lo[:, 1], hi[:, 1]] / chol[:, 1:, 0], 1)  # in SDs
        gap = 1e-9 * (1 + np.abs(steps))
        inside = (steps - lo[:, :1] / scale > gap) & (hi[:, :1] / scale - steps > gap)
    rho = chol[:, 1, 0] / np.hypot(chol[:, 1, 0], chol[:, 1, 1])
    inside &= (np.abs(rho) > CUT_ABOVE)[:, None]
    # a cut not made goes to the end: an empty last piece
    cuts = np.sort(np.where(inside, scale * steps, hi[:, :1]), axis=1)
    ends = np.c_[lo[:, 0], cuts, hi[:, 0]]
    return [
        (np.c_[ends[:, j], lo[:, 1]], np.c_[ends[:, j + 1], hi[:, 1]]) for j in range(3)
    ]


def _batched(fn, lo: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Apply ``fn`` to slices of the batch so that batch x nodes stays bounded."""
    b_size = lo.shape[0]
    step = max(1, _MAX_BATCH_NODES // max(1, nodes.size))
    out = np.empty(b_size)
    for start in range(0, b_size, step):
        s = slice(start, min(start + step, b_size))
        out[s] = fn(s)
    return out
