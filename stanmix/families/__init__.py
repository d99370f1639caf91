"""Component families: the unit of extension.

Each family is one Stan program in ``stan/`` and one module here that
declares everything specific to it (see :class:`Family`). The registry maps
``(family, covariance)`` to the class; adding a family is a module and a
line below.

===============  ============  =================  ===============================
family           covariance    program            censored cells
===============  ============  =================  ===============================
normal           diag          normal_diag        exact, normal CDF
normal           spherical     normal_diag        exact, normal CDF
normal           full, tied    full_cov           exact, cond. CDF / rectangle / latent
student_t        diag          student_t_diag     exact, Student-t CDF
student_t        spherical     student_t_diag     exact, Student-t CDF
student_t        full, tied    full_cov           exact, conditional CDF / latent
normal_regr.     diag          regression         exact, normal CDF
student_t_regr.  diag          regression         exact, Student-t CDF
===============  ============  =================  ===============================

Missing cells are integrated out exactly by every family. The regression
families (``normal_regression``, ``student_t_regression``) model one
response column given complete covariates carried by the cell table; they
are fitted with :class:`stanmix.RegressionMixture`.
"""

from __future__ import annotations

from collections.abc import Mapping

from stanmix._validation import one_of
from stanmix.exceptions import StanmixInputError
from stanmix.families.base import Family, Layout, Option, Params, Priors
from stanmix.families.full import NormalFull, NormalTied, StudentTFull, StudentTTied
from stanmix.families.normal import NormalDiag, NormalSpherical
from stanmix.families.per_dimension import NormalPerDimension
from stanmix.families.regression import NormalRegression, StudentTRegression
from stanmix.families.student_t import StudentTDiag, StudentTSpherical

__all__ = [
    "FAMILIES",
    "Family",
    "Layout",
    "Option",
    "Params",
    "Priors",
    "family_from_stan_data",
    "get_family",
]

FAMILIES: dict[tuple[str, str], type[Family]] = {
    (cls.family, cls.covariance): cls
    for cls in (
        NormalDiag,
        NormalSpherical,
        NormalFull,
        NormalTied,
        StudentTDiag,
        StudentTSpherical,
        StudentTFull,
        StudentTTied,
        NormalPerDimension,
        NormalRegression,
        StudentTRegression,
    )
}

COVARIANCES = ("diag", "spherical", "full", "tied")


def get_family(
    family: str = "normal",
    covariance: str = "diag",
    family_options: Mapping | None = None,
) -> Family:
    """The family ``(family, covariance)`` with its options validated.

    Examples
    --------
    >>> get_family("student_t", "diag").program
    'student_t_diag'
    >>> get_family("normal", "tied").param_dims()["sigma"]
    ('dim',)
    """
    names = sorted({f for f, _ in FAMILIES})
    if family not in names:
        one_of(
            "family",
            family,
            [name for name in names if not name.endswith("_regression")],
            " (a mixture of regressions: RegressionMixture)",
        )
    one_of("covariance", covariance, COVARIANCES)
    cls = FAMILIES.get((family, covariance))
    if cls is None:
        offered = ", ".join(c for f, c in FAMILIES if f == family)
        raise StanmixInputError(
            f"family={family!r} has no covariance={covariance!r}; it offers {offered}"
        )
    if family_options is not None and not isinstance(family_options, Mapping):
        raise StanmixInputError(
            "family_options must be a dict of the family's settings, got "
            f"{type(family_options).__name__}"
        )
    return cls(family_options)


def family_from_stan_data(program: str, data: Mapping) -> Family:
    """The family a program's data describes (for reading direct CmdStan runs).

    Examples
    --------
    >>> family_from_stan_data("full_cov", {"tied": 1, "student_t": 0}).covariance
    'tied'
    """
    found = [
        cls
        for cls in FAMILIES.values()
        if cls.program == program
        and all(int(data.get(flag, 0)) == v for flag, v in cls.stan_flags.items())
    ]
    if len(found) != 1:
        programs = sorted({cls.program for cls in FAMILIES.values()})
        if program not in programs:
            raise StanmixInputError(
                f"unknown program {program!r}; stanmix's programs are "
                f"{', '.join(programs)}"
            )
        raise StanmixInputError(
            f"the data's flags do not select one family of {program}.stan; "
            "check its spherical, independent_dims, tied and student_t entries"
        )
    cls = found[0]
    family = cls(cls.settings_from_stan_data(data))
    # how the run computed (full_cov.stan integrates a row's two censored
    # cells beside observed ones for optimize and ADVI), not the model
    pairs = int(data.get("integrate_pairs", 0))
    return family.for_method("optimize" if pairs else "sample")
