"""Errors raised by stanmix.

Every error about what the user passed is a :class:`StanmixInputError`, a
``ValueError`` subclass, raised before any Stan call; its message names the
offending column, row or option and says what to do instead.
"""

from __future__ import annotations


class StanmixInputError(ValueError):
    """Bad input: wrong shape, non-finite values, inconsistent censoring, ..."""


class EngineUnavailableError(StanmixInputError):
    """The requested engine is not installed or cannot run the request."""


class ConvergenceWarning(RuntimeWarning):
    """NUTS draws whose R-hat or bulk ESS miss the usual bars (the posterior
    may be weakly identified, or the chains too short), or whose sampler
    reports divergent transitions, trajectories cut at the maximum tree depth
    or a low E-BFMI. The figures are in the model's ``convergence_``."""


class InconsistentVersionWarning(UserWarning):
    """A pickled estimator is loaded by another stanmix version than the one
    that pickled it."""


class NotFittedError(ValueError, AttributeError, RuntimeError):
    """A method that needs a fitted model was called before ``fit``.

    Caught as ValueError and AttributeError, as scikit-learn's own
    ``NotFittedError`` is, and as RuntimeError. When scikit-learn is loaded,
    the error raised is also an instance of
    ``sklearn.exceptions.NotFittedError``, so ``except`` clauses written for
    scikit-learn estimators catch it (stanmix does not import scikit-learn
    itself: naming its class in an ``except`` clause has loaded it).

    Examples
    --------
    >>> import stanmix as sm
    >>> try:
    ...     sm.Mixture(2).membership()
    ... except sm.NotFittedError as error:
    ...     print(error)
    this Mixture is not fitted yet; call fit(X) first
    """

    def __reduce__(self):
        # made anew where it is unpickled (a worker's error crossing
        # processes), with scikit-learn's class there if it is loaded
        return (not_fitted, (str(self),))


def not_fitted(message: str) -> NotFittedError:
    """A :class:`NotFittedError` with ``message``, also an instance of
    scikit-learn's ``NotFittedError`` when scikit-learn is loaded."""
    import sys

    sklearn_exceptions = sys.modules.get("sklearn.exceptions")
    base = getattr(sklearn_exceptions, "NotFittedError", None)
    if base is None or not isinstance(base, type):
        return NotFittedError(message)
    cls = _WITH_SKLEARN.get(base)
    if cls is None:
        cls = type(
            "NotFittedError",
            (NotFittedError, base),
            {"__module__": __name__, "__doc__": NotFittedError.__doc__},
        )
        _WITH_SKLEARN[base] = cls
    return cls(message)


_WITH_SKLEARN: dict[type, type] = {}
