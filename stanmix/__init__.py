"""stanmix: Bayesian clustering with finite mixture models on Stan."""

from stanmix._version import __version__
from stanmix.exceptions import (
    EngineUnavailableError,
    NotFittedError,
    StanmixInputError,
)

__all__ = [
    "EngineUnavailableError",
    "NotFittedError",
    "StanmixInputError",
    "__version__",
]
