"""stanmix: Bayesian clustering with finite mixture models on Stan.

The public names below are imported on first use (PEP 562), so that
``import stanmix`` and the start of the ``stanmix`` command stay fast (and
a Ctrl-C while the numerical libraries load is handled by the command, not
by the interpreter). ``import stanmix as sm; sm.DiagonalMixture`` and
``from stanmix import DiagonalMixture`` work as for eager imports.
"""

from __future__ import annotations

import importlib

from stanmix._version import __version__
from stanmix.exceptions import (
    ConvergenceWarning,
    EngineUnavailableError,
    InconsistentVersionWarning,
    NotFittedError,
    StanmixInputError,
)

TYPE_CHECKING = False  # typing itself is slow to import
if TYPE_CHECKING:
    from stanmix import censoring, datasets, families
    from stanmix.engines import cmdstan_available, get_engine
    from stanmix.estimator import Mixture
    from stanmix.models import DiagonalMixture, NormalMixture
    from stanmix.parallel import fit_many
    from stanmix.regression import RegressionMixture
    from stanmix.selection import filled_components, select_components
    from stanmix.stan_csv import from_cmdstan_csv
del TYPE_CHECKING

#: Public name -> the module that defines it (a submodule maps to itself).
_LAZY = {
    "DiagonalMixture": "stanmix.models",
    "Mixture": "stanmix.estimator",
    "NormalMixture": "stanmix.models",
    "RegressionMixture": "stanmix.regression",
    "censoring": "stanmix.censoring",
    "cmdstan_available": "stanmix.engines",
    "datasets": "stanmix.datasets",
    "families": "stanmix.families",
    "filled_components": "stanmix.selection",
    "fit_many": "stanmix.parallel",
    "from_cmdstan_csv": "stanmix.stan_csv",
    "get_engine": "stanmix.engines",
    "select_components": "stanmix.selection",
}

__all__ = [
    "ConvergenceWarning",
    "DiagonalMixture",
    "EngineUnavailableError",
    "InconsistentVersionWarning",
    "Mixture",
    "NormalMixture",
    "NotFittedError",
    "RegressionMixture",
    "StanmixInputError",
    "__version__",
    "censoring",
    "cmdstan_available",
    "datasets",
    "families",
    "filled_components",
    "fit_many",
    "from_cmdstan_csv",
    "get_engine",
    "select_components",
]


def __getattr__(name: str):
    """Import a public name's module on first use and cache the name.

    Any submodule (``stanmix.plots``, ``stanmix.inference_data``, ...) is
    reachable as an attribute too, as when the package imported them all.
    """
    module_name = _LAZY.get(name, f"stanmix.{name}")
    if name.startswith("_"):
        raise AttributeError(f"module 'stanmix' has no attribute {name!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        raise AttributeError(f"module 'stanmix' has no attribute {name!r}") from None
    value = module if module_name == f"stanmix.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
