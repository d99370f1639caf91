"""Input checks of the public relabelling functions, and small exact results.

Every bad input is the smallest one that trips one check; the expected message
fragment names the argument at fault. Cases already in ``test_relabel.py``
are not repeated here.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from stanmix.exceptions import StanmixInputError
from stanmix.inference_data import az
from stanmix.relabel import (
    apply_permutations,
    order_permutations,
    reference_permutations,
    relabel_idata,
    stephens_permutations,
)

C, S = 2, 5  # chains, draws (5 draws keep arviz's R-hat free of warnings)

# Means near (-1, 1), the same labelling in every draw: (C, S, 2).
MU = np.array([-1.0, 1.0]) + 0.01 * np.arange(S)[:, None] + np.zeros((C, 1, 1))
W = np.array([0.3, 0.7]) + 0.001 * np.arange(S)[:, None] + np.zeros((C, 1, 1))
# Membership of N = 4 observations, rows sum to 1: (C, S, 4, 2).
P_ROWS = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
P = np.broadcast_to(P_ROWS, (C, S, 4, 2)).copy()
IDENTITY = np.broadcast_to(np.arange(2), (C, S, 2))
# Chain 0 as sampled, chain 1 wholly in the swapped labelling.
SWAP_CHAIN1 = np.stack([np.tile([0, 1], (S, 1)), np.tile([1, 0], (S, 1))])


def small_idata(drop: tuple[str, ...] = (), **extra) -> az.InferenceData:
    """mu, w and membership (C chains x S draws, K = 2) plus `extra` variables.

    Known extra dims: ``loc`` (component, xy) with xy = ("x", "y"),
    ``cube`` (component, a, b) and ``tau`` (no component dim).
    """
    posterior = {"mu": MU, "w": W, "membership": P, **extra}
    for name in drop:
        del posterior[name]
    dims = {
        "mu": ["component"],
        "w": ["component"],
        "membership": ["obs", "component"],
        "loc": ["component", "xy"],
        "cube": ["component", "a", "b"],
    }
    return az.from_dict(posterior=posterior, dims=dims, coords={"xy": ["x", "y"]})


LOC = np.stack([MU, -MU], axis=-1)  # (C, S, 2, 2)
CUBE = np.zeros((C, S, 2, 2, 3))
NO_MEMBERSHIP = ("membership",)


def bad(call, match, id):
    return pytest.param(call, match, id=id)


# Each case: a call that must raise StanmixInputError, and a regex fragment of
# the message.
CASES = [
    # ---------------------------------------------------------------- order
    bad(
        lambda: order_permutations(np.zeros((0, S, 2))),
        r"values has no draws \(shape \(0, 5, 2\)\)",
        "order-no-chains",
    ),
    bad(
        lambda: order_permutations(np.zeros((C, 0, 2))),
        r"values has no draws",
        "order-no-draws",
    ),
    bad(
        lambda: order_permutations([[["a", "b"]]]),
        r"values must be a numeric array",
        "order-not-numeric",
    ),
    bad(
        lambda: order_permutations(np.zeros((C, S, 2, 3)), coordinate=3),
        r"coordinate must be an integer from -3 to 2 \(negative counts from the "
        r"last\); got 3\.",
        "order-coordinate-too-large",
    ),
    bad(
        lambda: order_permutations(np.zeros((C, S, 2, 3)), coordinate=-4),
        r"coordinate must be an integer .* got -4\.",
        "order-coordinate-too-negative",
    ),
    bad(
        lambda: order_permutations(np.zeros((C, S, 2, 3)), coordinate=1.0),
        r"coordinate must be an integer .* got 1\.0\.",
        "order-coordinate-float",
    ),
    bad(
        lambda: order_permutations(np.zeros((C, S, 2, 3)), coordinate="x"),
        r"coordinate must be an integer .* got 'x'\.",
        "order-coordinate-str",
    ),
    bad(
        lambda: order_permutations(MU, coordinate=0),
        r"coordinate is only meaningful .* values has shape \(2, 5, 2\)",
        "order-coordinate-for-3d",
    ),
    # ---------------------------------------------------------------- apply
    bad(
        lambda: apply_permutations(np.zeros((C, S)), IDENTITY),
        r"array must have leading \(chain, draw\) axes .* got shape \(2, 5\)",
        "apply-array-2d",
    ),
    bad(
        lambda: apply_permutations(MU, IDENTITY, axis=0),
        r"axis=0 is not a component axis",
        "apply-axis-chain",
    ),
    bad(
        lambda: apply_permutations(MU, IDENTITY, axis=1),
        r"axis=1 is not a component axis of an array of shape \(2, 5, 2\)",
        "apply-axis-draw",
    ),
    bad(
        lambda: apply_permutations(MU, IDENTITY, axis=3),
        r"axis=3 is not a component axis",
        "apply-axis-past-end",
    ),
    bad(
        lambda: apply_permutations(MU, IDENTITY, axis=-3),
        r"axis=-3 is not a component axis",
        "apply-axis-negative-draw",
    ),
    bad(
        lambda: apply_permutations(MU, IDENTITY + 0.5),
        r"perm must hold integer component labels",
        "apply-perm-fractional",
    ),
    # ------------------------------------------------------------ reference
    bad(
        lambda: reference_permutations({}),
        r"params must be a non-empty mapping",
        "reference-params-empty",
    ),
    bad(
        lambda: reference_permutations([MU]),
        r"params must be a non-empty mapping",
        "reference-params-not-mapping",
    ),
    bad(
        lambda: reference_permutations({"mu": np.zeros((C, 0, 2))}),
        r"params\['mu'\] has no draws",
        "reference-params-no-draws",
    ),
    bad(
        lambda: reference_permutations({"mu": [[["a", "b"]]]}),
        r"params\['mu'\] must be a numeric array",
        "reference-params-not-numeric",
    ),
    bad(
        lambda: reference_permutations({"mu": MU}, scale=1.0),
        r"scale must be a mapping of parameter name",
        "reference-scale-not-mapping",
    ),
    bad(
        lambda: reference_permutations({"mu": MU}, scale={"sigma": 1.0}),
        r"scale names \['sigma'\], which are not in params \(\['mu'\]\)",
        "reference-scale-unknown-name",
    ),
    bad(
        lambda: reference_permutations(
            {"loc": np.zeros((C, S, 2, 3))}, scale={"loc": [1.0, 2.0]}
        ),
        r"scale\['loc'\] must be a scalar or have 3 entries",
        "reference-scale-wrong-size",
    ),
    bad(
        lambda: reference_permutations({"mu": MU}, scale={"mu": "big"}),
        r"scale\['mu'\] must be a numeric array",
        "reference-scale-not-numeric",
    ),
    *[
        bad(
            lambda value=value: reference_permutations({"mu": MU}, scale={"mu": value}),
            r"scale\['mu'\] must be finite and positive",
            f"reference-scale-{value}",
        )
        for value in (0.0, -1.0, np.inf, np.nan)
    ],
    bad(
        lambda: reference_permutations(
            {"loc": np.zeros((C, S, 2, 2))}, scale={"loc": [1.0, 0.0]}
        ),
        r"scale\['loc'\] must be finite and positive",
        "reference-scale-one-element-zero",
    ),
    bad(
        lambda: reference_permutations({"mu": MU}, [-1.0, 1.0]),
        r"reference must be a mapping of parameter name",
        "reference-not-mapping",
    ),
    bad(
        lambda: reference_permutations({"mu": np.zeros((C, S, 2, 0))}),
        r"params\['mu'\] has shape \(2, 5, 2, 0\): no values per component",
        "reference-empty-parameter",
    ),
    bad(
        lambda: reference_permutations({"mu": MU}, {"mu": [-1.0, np.nan]}),
        r"reference\[.mu.\] has 1 non-finite value\(s\).* index \(1,\); give finite "
        r"reference values",
        "reference-non-finite",
    ),
    bad(
        lambda: reference_permutations({"mu": MU}, {"mu": ["a", "b"]}),
        r"reference\['mu'\] must be a numeric array",
        "reference-not-numeric",
    ),
    bad(
        lambda: reference_permutations({"mu": MU}, log_density=np.zeros(C * S)),
        r"log_density must have shape \(chain, draw\) = \(2, 5\); got \(10,\)",
        "reference-log-density-shape",
    ),
    bad(
        lambda: reference_permutations(
            {"mu": MU}, log_density=np.where(np.eye(C, S) == 1, np.nan, 0.0)
        ),
        r"log_density has 2 non-finite value\(s\), the first at chain 0, draw 0; give",
        "reference-log-density-nan",
    ),
    bad(
        lambda: reference_permutations({"mu": MU}, log_density="high"),
        r"log_density must be a numeric array",
        "reference-log-density-not-numeric",
    ),
    # ------------------------------------------- reference, cost="allocations"
    bad(
        lambda: reference_permutations({"mu": MU}, cost="allocations"),
        r"cost='allocations' needs membership probabilities",
        "ecr-no-membership",
    ),
    bad(
        lambda: reference_permutations(
            {"mu": MU[:1]}, cost="allocations", membership=P
        ),
        r"membership has shape \(2, 5, 4, 2\) but params have .* \(1, 5, 2\)",
        "ecr-membership-other-chains",
    ),
    bad(
        lambda: reference_permutations(
            {"mu": np.zeros((C, S, 3))}, cost="allocations", membership=P
        ),
        r"membership has shape .* = \(2, 5, 3\); they must come from the same",
        "ecr-membership-other-k",
    ),
    bad(
        lambda: reference_permutations(
            {}, {"mu": [-1.0, 1.0]}, cost="allocations", membership=P
        ),
        r"for cost='allocations' reference must be \{'allocations'",
        "ecr-reference-wrong-key",
    ),
    bad(
        lambda: reference_permutations(
            {}, [0, 0, 1, 1], cost="allocations", membership=P
        ),
        r"for cost='allocations' reference must be",
        "ecr-reference-not-mapping",
    ),
    *[
        bad(
            lambda labels=labels: reference_permutations(
                {}, {"allocations": labels}, cost="allocations", membership=P
            ),
            r"reference\['allocations'\] must hold integer labels in \[0, 2\)",
            f"ecr-allocations-{name}",
        )
        for name, labels in [
            ("too-large", np.array([0, 2, 1, 0])),
            ("negative", np.array([0, -1, 1, 0])),
            ("float", np.array([0.0, 1.0, 1.0, 0.0])),
        ]
    ],
    bad(
        lambda: reference_permutations(
            {}, {"membership": np.full((4, 3), 1 / 3)}, cost="allocations", membership=P
        ),
        r"reference\['membership'\] must have shape \(N, K\) = \(4, 2\); got \(4, 3\)",
        "ecr-reference-membership-shape",
    ),
    bad(
        lambda: reference_permutations(
            {},
            {"membership": np.full((4, 2), np.nan)},
            cost="allocations",
            membership=P,
        ),
        r"reference\['membership'\] has 8 non-finite value\(s\).*; give finite "
        r"membership values",
        "ecr-reference-membership-nan",
    ),
    bad(
        lambda: reference_permutations(
            {}, cost="allocations", membership=np.zeros((C, S, 0, 2))
        ),
        r"membership is empty \(shape \(2, 5, 0, 2\)\)",
        "ecr-membership-no-observations",
    ),
    # ------------------------------------------------------------- stephens
    bad(
        lambda: stephens_permutations(np.zeros((1, 0, 4, 2))),
        r"membership is empty \(shape \(1, 0, 4, 2\)\)",
        "stephens-no-draws",
    ),
    bad(
        lambda: stephens_permutations([[[["a", "b"]]]]),
        r"membership must be a numeric array",
        "stephens-not-numeric",
    ),
    bad(
        lambda: stephens_permutations(np.where(P == 0.3, np.inf, P)),
        r"membership has non-finite values \(NaN or \+inf\), the first at "
        r"index \(0, 0, 2, 0\)",
        "stephens-posinf",
    ),
    bad(
        lambda: stephens_permutations(np.where(P == 0.9, -0.1, P)),
        r"membership mixes negative and positive values",
        "stephens-mixed-signs",
    ),
    bad(
        lambda: stephens_permutations(np.log(P) - 1.0),
        r"membership rows must sum to 1 .* row \(0, 0, 0\) sums to 0\.367879",
        "stephens-log-probabilities-not-normalised",
    ),
    *[
        bad(
            lambda max_iter=max_iter: stephens_permutations(P, max_iter=max_iter),
            rf"max_iter must be a positive integer; got {max_iter!r}",
            f"stephens-max-iter-{max_iter!r}",
        )
        for max_iter in (0, -1, 2.0, "10", True)
    ],
    bad(
        lambda: stephens_permutations(P, init_perm=np.zeros((C, S, 3), dtype=int)),
        r"init_perm must have shape \(chain, draw, component\) = \(2, 5, 2\); got "
        r"\(2, 5, 3\)",
        "stephens-init-perm-shape",
    ),
    bad(
        lambda: stephens_permutations(P, init_perm=IDENTITY + 0.5),
        r"init_perm must hold integer component labels",
        "stephens-init-perm-fractional",
    ),
    bad(
        lambda: stephens_permutations(P, init_perm=np.zeros((C, S, 2), dtype=int)),
        r"init_perm must hold a permutation of 0\.\.1 for every draw",
        "stephens-init-perm-not-permutation",
    ),
    # -------------------------------------------------------- relabel_idata
    bad(
        lambda: relabel_idata({"posterior": {"mu": MU}}),
        r"idata must be an arviz\.InferenceData with a posterior",
        "idata-dict",
    ),
    bad(
        lambda: relabel_idata(az.from_dict(observed_data={"y": np.zeros(4)})),
        r"idata must be an arviz\.InferenceData with a posterior",
        "idata-no-posterior",
    ),
    bad(
        lambda: relabel_idata(
            az.InferenceData(
                posterior=xr.Dataset({"mu": (("component",), [-1.0, 1.0])})
            )
        ),
        r"idata\.posterior must have 'chain' and 'draw' dims",
        "idata-no-chain-draw",
    ),
    bad(
        lambda: relabel_idata(
            az.from_dict(posterior={"mu": MU[..., :1]}, dims={"mu": ["component"]})
        ),
        r"component dim 'component' has 1 entry; relabelling needs at least 2 "
        r"components \(pass component_dim=",
        "idata-one-component",
    ),
    bad(
        lambda: relabel_idata(small_idata(), membership="nope"),
        r"membership='nope' is not a posterior variable with the 'component' dim",
        "idata-membership-unknown-name",
    ),
    bad(
        lambda: relabel_idata(small_idata(tau=MU.sum(axis=2)), membership="tau"),
        r"membership='tau' is not a posterior variable with the 'component' dim",
        "idata-membership-without-component",
    ),
    bad(
        lambda: relabel_idata(small_idata(), membership="mu"),
        r"membership variable 'mu' must have dims \(chain, draw, observation, "
        r"component\); it has \('chain', 'draw', 'component'\)",
        "idata-membership-no-observation-dim",
    ),
    bad(
        lambda: relabel_idata(small_idata(cube=CUBE), membership="cube"),
        r"membership variable 'cube' must have dims",
        "idata-membership-two-extra-dims",
    ),
    bad(
        lambda: relabel_idata(small_idata(NO_MEMBERSHIP), membership=P[0]),
        r"membership must have shape \(chain, draw, observation, component\)",
        "idata-membership-array-3d",
    ),
    bad(
        lambda: relabel_idata(small_idata(NO_MEMBERSHIP), membership=P[:1]),
        r"membership has shape \(1, 5, 4, 2\); expected .* chain = 2, draw = 5",
        "idata-membership-array-other-chains",
    ),
    bad(
        lambda: relabel_idata(
            small_idata(NO_MEMBERSHIP), membership=np.full((C, S, 4, 3), 1 / 3)
        ),
        r"membership has shape \(2, 5, 4, 3\); expected .* component = 2",
        "idata-membership-array-other-k",
    ),
    bad(
        lambda: relabel_idata(small_idata(), var_names=["nope"]),
        r"var_names \['nope'\] are not posterior variables with the 'component'",
        "idata-var-names-unknown",
    ),
    bad(
        lambda: relabel_idata(small_idata(tau=MU.sum(axis=2)), var_names=["tau"]),
        r"var_names \['tau'\] are not posterior variables",
        "idata-var-names-without-component",
    ),
    *[
        bad(
            lambda method=method: relabel_idata(
                small_idata(NO_MEMBERSHIP), method, var_names=[]
            ),
            r"no component parameters to match on \(var_names is empty .*\); pass "
            r"var_names= naming some",
            f"idata-nothing-to-match-{method}",
        )
        for method in ("auto", "reference")
    ],
    bad(
        lambda: relabel_idata(small_idata(NO_MEMBERSHIP), "ecr"),
        r"method='ecr' needs membership probabilities: pass membership=",
        "idata-ecr-without-membership",
    ),
    bad(
        lambda: relabel_idata(small_idata(), "reference", reference=[-1.0, 1.0]),
        r"reference must be a mapping of variable name to values",
        "idata-reference-not-mapping",
    ),
    bad(
        lambda: relabel_idata(
            small_idata(),
            "reference",
            reference={"mu": xr.DataArray([-1.0, 1.0], dims=["cluster"])},
        ),
        r"reference\['mu'\] has dims \('cluster',\); expected \('component',\)",
        "idata-reference-dataarray-dims",
    ),
    bad(
        lambda: relabel_idata(
            small_idata(), "ecr", reference={"allocations": [0, 0, 2, 1]}
        ),
        r"reference\['allocations'\] must hold integer labels in \[0, 2\)",
        "idata-ecr-reference-allocations",
    ),
    bad(
        lambda: relabel_idata(small_idata(("mu",)), "order"),
        r"order_by variable 'mu' is not a posterior variable with the 'component' "
        r"dim; pass order_by= one of \['w', 'membership'\]",
        "idata-order-default-mu-missing",
    ),
    bad(
        lambda: relabel_idata(small_idata(), "order", order_by="nope"),
        r"order_by variable 'nope' is not a posterior variable",
        "idata-order-by-unknown",
    ),
    bad(
        lambda: relabel_idata(small_idata(cube=CUBE), "order", order_by="cube"),
        r"order_by variable 'cube' has dims .*; order by a variable with at most "
        r"one dim besides chain, draw and component",
        "idata-order-by-two-extra-dims",
    ),
    *[
        bad(
            lambda coord=coord: relabel_idata(
                small_idata(loc=LOC), "order", order_by=("loc", coord)
            ),
            rf"coordinate {coord} is out of range for dim 'xy' of size 2",
            f"idata-order-by-position-{coord}",
        )
        for coord in (2, -3)
    ],
    bad(
        lambda: relabel_idata(small_idata(loc=LOC), "order", order_by=("loc", "z")),
        r"coordinate 'z' is not a label of dim 'xy'",
        "idata-order-by-unknown-label",
    ),
    bad(
        lambda: relabel_idata(small_idata(), "order", order_by=("mu", 0)),
        r"order_by variable 'mu' has no dim besides chain, draw and component; "
        r"pass only its name",
        "idata-order-by-coordinate-for-plain-variable",
    ),
    bad(
        lambda: relabel_idata(small_idata(), "reference", order_by="mu"),
        r"order_by applies to method='order' only, not 'reference'",
        "idata-order-by-without-order",
    ),
    bad(
        lambda: relabel_idata(small_idata(), "order", reference={"mu": [0, 1]}),
        r"reference is not used by method='order'",
        "idata-reference-with-order",
    ),
]


@pytest.mark.parametrize(("call", "match"), CASES)
def test_bad_input_is_rejected(call, match):
    with pytest.raises(StanmixInputError, match=match):
        call()


# --------------------------------------------------------------------------
# Small valid calls with exact results
# --------------------------------------------------------------------------


def test_order_permutations_reverses_descending_means():
    values = np.array([3.0, 2.0, 1.0]) + np.zeros((C, S, 1))
    perm = order_permutations(values)
    assert perm.dtype == np.intp
    assert np.array_equal(perm, np.broadcast_to([2, 1, 0], (C, S, 3)))
    assert np.array_equal(apply_permutations(values, perm)[0, 0], [1.0, 2.0, 3.0])
    # Ties keep their original order.
    assert order_permutations(np.array([[[1.0, 0.0, 1.0]]])).tolist() == [[[1, 0, 2]]]


def test_order_permutations_negative_coordinate():
    # Coordinate 0 ascending, coordinate 1 descending over the components.
    loc = np.stack([[0.0, 1.0, 2.0], [5.0, 4.0, 3.0]], axis=-1)[None, None]
    assert order_permutations(loc, coordinate=0).tolist() == [[[0, 1, 2]]]
    assert order_permutations(loc, coordinate=1).tolist() == [[[2, 1, 0]]]
    assert order_permutations(loc, coordinate=-1).tolist() == [[[2, 1, 0]]]
    assert order_permutations(loc, coordinate=-2).tolist() == [[[0, 1, 2]]]
    assert order_permutations(loc, coordinate=np.int64(1)).tolist() == [[[2, 1, 0]]]


def test_apply_permutations_last_axis_and_integral_floats():
    p = np.array([[[[0.9, 0.1]], [[0.2, 0.8]]]])  # (1, 2, N = 1, K = 2)
    perm = np.array([[[0, 1], [1, 0]]])
    out = apply_permutations(p, perm, axis=-1)
    assert out.tolist() == [[[[0.9, 0.1]], [[0.8, 0.2]]]]
    # Float labels with integral values are accepted.
    assert np.array_equal(apply_permutations(p, perm.astype(float), axis=3), out)


def test_reference_permutations_to_given_reference():
    mu = np.array([[[0.0, 5.0, 10.0], [10.0, 5.0, 0.0], [5.0, 10.0, 0.0]]])
    w = np.array([[[0.2, 0.3, 0.5], [0.5, 0.3, 0.2], [0.3, 0.5, 0.2]]])
    expected = [[[0, 1, 2], [2, 1, 0], [2, 0, 1]]]
    ref = {"mu": [0.0, 5.0, 10.0], "w": [0.2, 0.3, 0.5]}
    assert reference_permutations({"mu": mu}, {"mu": ref["mu"]}).tolist() == expected
    perm = reference_permutations(
        {"mu": mu, "w": w}, ref, scale={"mu": 1.0, "w": np.array([0.1])}
    )
    assert perm.tolist() == expected
    assert np.array_equal(apply_permutations(mu, perm), np.tile(ref["mu"], (1, 3, 1)))


def test_reference_permutations_pivot_keeps_chain0_labels():
    mu = apply_permutations(MU, SWAP_CHAIN1)
    lp = -np.arange(C * S, dtype=float).reshape(C, S)
    lp[1, 3] = 10.0  # the pivot draw lies in chain 1, in the swapped labelling
    for kwargs in ({}, {"log_density": lp}):
        perm = reference_permutations({"mu": mu}, **kwargs)
        assert np.array_equal(perm, SWAP_CHAIN1)
    # A per-element scale for a (C, S, K, 2) parameter.
    loc = np.stack([mu, 2 * mu], axis=-1)
    perm = reference_permutations({"loc": loc}, scale={"loc": [1.0, 2.0]})
    assert np.array_equal(perm, SWAP_CHAIN1)


def test_reference_permutations_allocations():
    p = apply_permutations(P, SWAP_CHAIN1, axis=-1)
    for ref in (
        {"allocations": np.array([0, 0, 1, 1], dtype=np.int8)},
        {"membership": P_ROWS},
    ):
        perm = reference_permutations({}, ref, cost="allocations", membership=p)
        assert np.array_equal(perm, SWAP_CHAIN1)
    # Reference given the other way round: chain 0 is then the swapped one.
    perm = reference_permutations(
        {"mu": apply_permutations(MU, SWAP_CHAIN1)},
        {"allocations": [1, 1, 0, 0]},
        cost="allocations",
        membership=p,
    )
    assert np.array_equal(perm, 1 - SWAP_CHAIN1)


def test_stephens_permutations_undoes_swapped_chain():
    p = apply_permutations(P, SWAP_CHAIN1, axis=-1)
    res = stephens_permutations(p)
    assert np.array_equal(res.perm, SWAP_CHAIN1)
    assert res.converged
    assert res.n_iter == len(res.objective) >= 1
    # Log-probabilities and a given start give the same labelling.
    assert np.array_equal(stephens_permutations(np.log(p)).perm, SWAP_CHAIN1)
    start = SWAP_CHAIN1.copy()
    start[1, 2] = [0, 1]  # one draw of chain 1 left in the wrong labelling
    res = stephens_permutations(p, init_perm=start)
    assert np.array_equal(res.perm, SWAP_CHAIN1)
    assert res.converged and res.n_iter == 2  # one fix, then no change


def test_relabel_idata_ecr_with_membership_array():
    idata = small_idata(
        NO_MEMBERSHIP,
        mu=apply_permutations(MU, SWAP_CHAIN1),
        w=apply_permutations(W, SWAP_CHAIN1),
    )
    p = apply_permutations(P, SWAP_CHAIN1, axis=-1)
    new, report = relabel_idata(
        idata, "ecr", membership=p, reference={"allocations": [0, 0, 1, 1]}
    )
    assert report.method == "ecr"
    assert np.array_equal(report.permutations, SWAP_CHAIN1)
    assert report.fraction_permuted.tolist() == [0.0, 1.0]
    assert np.array_equal(new.posterior["mu"].values, MU)
    assert np.array_equal(new.posterior["w"].values, W)
    assert np.array_equal(new.posterior_raw["mu"].values, idata.posterior["mu"].values)
    assert "posterior_raw" not in idata.groups()


def test_relabel_idata_order_by_negative_position():
    loc = apply_permutations(LOC, SWAP_CHAIN1)  # coordinate y is -mu
    idata = small_idata(loc=loc)
    for order_by in (("loc", -1), ("loc", "y"), ("loc", 1)):
        new, report = relabel_idata(idata, "order", order_by=order_by)
        # Ascending in y means descending in mu: chain 0 swapped, not chain 1.
        assert np.array_equal(report.permutations, 1 - SWAP_CHAIN1)
        assert np.array_equal(new.posterior["loc"].values, LOC[:, :, ::-1])
        memb = new.posterior["membership"].values
        assert np.array_equal(memb[0], P[0][..., ::-1])
        assert np.array_equal(memb[1], P[1])
