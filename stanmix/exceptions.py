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


class NotFittedError(AttributeError, ValueError, RuntimeError):
    """A method that needs a fitted model was called before ``fit``.

    Caught as AttributeError and ValueError, as scikit-learn's own
    ``NotFittedError`` is, and as RuntimeError."""
