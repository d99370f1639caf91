"""stanmix: Bayesian clustering with finite mixture models on Stan."""

from stanmix import censoring, datasets, families
from stanmix._version import __version__
from stanmix.engines import cmdstan_available, get_engine
from stanmix.estimator import Mixture
from stanmix.exceptions import (
    EngineUnavailableError,
    NotFittedError,
    StanmixInputError,
)
from stanmix.models import DiagonalMixture, NormalMixture
from stanmix.parallel import fit_many
from stanmix.stan_csv import from_cmdstan_csv

__all__ = [
    "DiagonalMixture",
    "EngineUnavailableError",
    "Mixture",
    "NormalMixture",
    "NotFittedError",
    "StanmixInputError",
    "__version__",
    "censoring",
    "cmdstan_available",
    "datasets",
    "families",
    "fit_many",
    "from_cmdstan_csv",
    "get_engine",
]
