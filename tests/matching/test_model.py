"""Fellegi-Sunter model: EM recovers known parameters, labels refine them, weights and probabilities."""

import numpy as np
import pytest

from matching.compare import MISSING, Comparison
from matching.errors import MatchingError
from matching.model import EMStage, Model, probability

COMPS = (
    Comparison("name", ("disagree", "fuzzy", "exact")),
    Comparison("date", ("disagree", "agree")),
    Comparison("place", ("disagree", "agree")),
)
TRUE_M = [np.array([0.05, 0.25, 0.70]), np.array([0.1, 0.9]), np.array([0.3, 0.7])]
TRUE_U = [np.array([0.90, 0.08, 0.02]), np.array([0.8, 0.2]), np.array([0.9, 0.1])]


def simulate(n: int, prior: float, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    match = rng.random(n) < prior
    levels = np.empty((n, len(COMPS)), dtype=np.int8)
    for c in range(len(COMPS)):
        levels[match, c] = rng.choice(len(TRUE_M[c]), size=match.sum(), p=TRUE_M[c])
        levels[~match, c] = rng.choice(len(TRUE_U[c]), size=(~match).sum(), p=TRUE_U[c])
    return levels, match


def test_em_recovers_m_and_prior_of_a_known_mixture() -> None:
    # Given pairs drawn from a known model and u known from random pairs
    levels, _match = simulate(40_000, 0.2)
    model = Model(comparisons=COMPS, u=[u.copy() for u in TRUE_U])
    # When EM fits m and the prior
    result = model.fit_em(levels, prior=0.05)
    # Then it converges to the truth
    assert result.converged
    assert result.prior == pytest.approx(0.2, abs=0.02)
    for got, want in zip(model.m, TRUE_M, strict=True):
        assert np.allclose(got, want, atol=0.04)


def test_population_rescales_the_prior_to_all_pairs() -> None:
    levels, _ = simulate(10_000, 0.2)
    model = Model(comparisons=COMPS, u=[u.copy() for u in TRUE_U])
    model.fit_em(levels, prior=0.1, population=1_000_000)
    assert model.prior == pytest.approx(0.2 * 10_000 / 1_000_000, rel=0.15)


def test_a_stage_leaves_inactive_comparisons_alone() -> None:
    levels, _ = simulate(10_000, 0.2)
    model = Model(comparisons=COMPS, u=[u.copy() for u in TRUE_U])
    before = model.m[1].copy()
    model.fit_em(levels, stages=[EMStage(np.ones(len(levels), dtype=bool), [0, 2])], prior=0.1)
    assert np.array_equal(model.m[1], before)
    assert not np.allclose(model.m[0], Model(comparisons=COMPS).m[0])


def test_estimate_u_from_random_pairs() -> None:
    levels, _ = simulate(50_000, 0.0)
    model = Model(comparisons=COMPS)
    model.estimate_u(levels)
    for got, want in zip(model.u, TRUE_U, strict=True):
        assert np.allclose(got, want, atol=0.01)


def test_missing_levels_weigh_nothing() -> None:
    model = Model(comparisons=COMPS, m=[m.copy() for m in TRUE_M], u=[u.copy() for u in TRUE_U])
    w = model.field_weights(np.array([[MISSING, 1, MISSING]], dtype=np.int8))
    assert w[0, 0] == 0
    assert w[0, 2] == 0
    assert w[0, 1] == pytest.approx(np.log2(0.9 / 0.2))


def test_refine_moves_m_towards_confirmed_pairs() -> None:
    model = Model(comparisons=COMPS, m=[m.copy() for m in TRUE_M], u=[u.copy() for u in TRUE_U])
    # officers confirm 200 matches that all disagree on place
    confirmed = np.tile(np.array([[2, 1, 0]], dtype=np.int8), (200, 1))
    model.refine(confirmed, np.ones(200, dtype=bool))
    assert model.m[2][0] > 0.7
    with pytest.raises(MatchingError):
        model.refine(confirmed, np.ones(3, dtype=bool))


def test_probability_from_weight_and_prior() -> None:
    assert probability(np.array([0.0]), 0.5)[0] == pytest.approx(0.5)
    assert probability(np.array([10.0]), 1 / 1025)[0] == pytest.approx(0.5, abs=1e-3)


def test_fitting_on_nothing_is_an_error() -> None:
    with pytest.raises(MatchingError):
        Model(comparisons=COMPS).fit_em(np.zeros((0, 3), dtype=np.int8))


def test_u_leaves_out_the_matches_random_pairs_hold() -> None:
    # 1,000 random pairs, 50 of them duplicates that agree on everything
    rng = np.random.default_rng(3)
    levels = np.stack([rng.choice(len(u), size=1000, p=u) for u in TRUE_U], axis=1).astype(np.int8)
    levels[:50] = [2, 1, 1]
    plain, weighted = Model(comparisons=COMPS), Model(comparisons=COMPS)
    plain.estimate_u(levels)
    non_match = np.ones(1000)
    non_match[:50] = 0.0
    weighted.estimate_u(levels, non_match=non_match)
    assert weighted.u[0][2] < plain.u[0][2]
    assert weighted.u[0][2] == pytest.approx(TRUE_U[0][2], abs=0.015)


def test_a_closer_agreement_of_a_graded_comparison_never_weighs_less() -> None:
    graded = Comparison("address", ("disagree", "fuzzy", "exact"), graded=True)
    plain = Comparison("date", ("far", "near", "same"))
    # u of "exact" estimated high from a few pairs, u of "fuzzy" never seen among random pairs
    model = Model(
        comparisons=(graded, plain),
        m=[np.array([0.2, 0.4, 0.4]), np.array([0.2, 0.4, 0.4])],
        u=[np.array([0.98, 0.0001, 0.0199]), np.array([0.98, 0.0001, 0.0199])],
    )
    address, date = model.level_weights()
    assert address[2] == address[1] > 10  # exact weighs as much as fuzzy
    assert date[2] < date[1]  # levels that are not graded keep their own weights
    assert list(address) == sorted(address)
