"""Plots of a fitted mixture: clusters, membership uncertainty, relabelling,
predictive checks and regression lines.

Every function draws with matplotlib and returns the Axes or Figure it drew
on; none calls ``plt.show()``, so they work under any backend (including
the non-interactive Agg backend used for reports). ArviZ draws the trace and
rank plots.

Components are coloured the same way everywhere (:func:`component_colors`),
so component 2 has one colour in the cluster plot, the membership plot and
the trace plots.
"""

from stanmix.plots._common import (
    UNCERTAIN_BELOW,
    component_colors,
)
from stanmix.plots.checks import plot_co_clustering, plot_loo_pit, plot_ppc
from stanmix.plots.clusters import plot_clusters
from stanmix.plots.membership import plot_membership
from stanmix.plots.regression import plot_regression
from stanmix.plots.relabelling import plot_relabelling

__all__ = [
    "UNCERTAIN_BELOW",
    "component_colors",
    "plot_clusters",
    "plot_co_clustering",
    "plot_loo_pit",
    "plot_membership",
    "plot_ppc",
    "plot_regression",
    "plot_relabelling",
]
