"""Fellegi-Sunter estimation: EM with u fixed recovers m; models survive JSON."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from hashmatch.link.comparison import comparison_levels, pattern_codes
from hashmatch.link.fellegi_sunter import (
    OTHER_DISAGREE_M,
    STABLE_DISAGREE_M,
    U_ANCHOR,
    PairModel,
    chance_agreement_u,
    estimate_m,
    estimate_m_u,
    estimate_u,
    lookalike_pairs,
    models_from_report,
)
from hashmatch.link.quality import estimate_quality

SPEC = comparison_levels(["first", "last", "dob"], {}, stable_segments=[0])


def _sample(rng: np.random.Generator, n: int, probs: list[float]) -> np.ndarray:
    return rng.choice(np.arange(1, 6), size=n, p=probs)


def _population(rng: np.random.Generator, matches: int, others: int) -> np.ndarray:
    m = [0.85, 0.07, 0.04, 0.02, 0.02]
    u = [0.002, 0.003, 0.01, 0.1, 0.885]
    true = np.stack([_sample(rng, matches, m) for _ in range(3)], axis=1)
    false = np.stack([_sample(rng, others, u) for _ in range(3)], axis=1)
    return np.concatenate([true, false]).astype(np.int8)


def test_em_with_fixed_u_recovers_m_and_the_prior() -> None:
    rng = np.random.default_rng(3)
    u = estimate_u(_population(rng, 0, 50_000), SPEC)
    candidates = _population(rng, 2_000, 8_000)
    codes, counts = np.unique(pattern_codes(candidates, SPEC.radix), return_counts=True)
    m, prior = estimate_m(codes, counts, SPEC, u, prior=None, prior_start=0.5)
    assert prior == pytest.approx(0.2, abs=0.02)
    assert m[1][1] == pytest.approx(0.85, abs=0.03)  # "last", exact level
    assert m[0][5] <= STABLE_DISAGREE_M * 1.01  # stable field: disagreement capped


def test_probabilities_separate_and_quality_estimate_is_close() -> None:
    rng = np.random.default_rng(4)
    u = estimate_u(_population(rng, 0, 50_000), SPEC)
    candidates = _population(rng, 2_000, 8_000)
    codes, counts = np.unique(pattern_codes(candidates, SPEC.radix), return_counts=True)
    m, prior = estimate_m(codes, counts, SPEC, u, prior=None, prior_start=0.5)
    model = PairModel(("a", "b"), SPEC, m, u, prior, "em")
    p = model.probability(candidates)
    truth = np.arange(len(candidates)) < 2_000
    linked = p >= 0.5
    precision = (linked & truth).sum() / linked.sum()
    recall = (linked & truth).sum() / truth.sum()
    assert precision > 0.97 and recall > 0.95
    est = estimate_quality([(p, np.ones(len(p), np.int64))], 0.5)
    assert est["precision"] == pytest.approx(precision, abs=0.02)
    assert est["recall"] == pytest.approx(recall, abs=0.02)


def test_model_round_trips_through_json_and_refuses_another_schema() -> None:
    u = tuple(tuple([0.0] + [0.1] * (len(labels) - 1)) for labels in SPEC.levels)
    m = tuple(tuple([0.0, 0.6] + [0.05] * (len(labels) - 2)) for labels in SPEC.levels)
    model = PairModel(("a", "b"), SPEC, m, u, 0.1)
    data = json.loads(json.dumps({"a~b": model.to_dict()}))
    again = models_from_report(data, SPEC, ["a", "b"])[(0, 1)]
    vectors = np.array([[1, 1, 5], [0, 2, 3]], np.int8)
    assert np.allclose(again.match_weight(vectors), model.match_weight(vectors))
    other = comparison_levels(["first", "dob"], {})
    with pytest.raises(ValueError, match="do not match"):
        PairModel.from_dict(data["a~b"], other)


def test_household_fields_count_as_one_piece_of_evidence() -> None:
    spec = comparison_levels(
        ["name", "address", "postcode"], {}, field_types=["name", "address", "postcode"]
    )
    u = tuple(tuple([0.0, 0.01, 0.01, 0.01, 0.01, 0.96]) for _ in spec.names)
    m = tuple(tuple([0.0, 0.9, 0.025, 0.025, 0.025, 0.025]) for _ in spec.names)
    model = PairModel(("a", "a"), spec, m, u, 0.5)
    w = model.weights()[0]
    both = model.match_weight(np.array([[1, 1, 1]], np.int8))[0]
    assert both == pytest.approx(2 * w[1])  # name + one of address/postcode
    mixed = model.match_weight(np.array([[1, 1, 5]], np.int8))[0]
    assert mixed == pytest.approx(2 * w[1])  # the group's strongest evidence only
    moved = model.match_weight(np.array([[1, 5, 5]], np.int8))[0]
    assert moved == pytest.approx(w[1] + w[5])  # moved: one disagreement, not two


def test_u_conditioned_on_the_candidates_rejects_household_look_alikes() -> None:
    """Random pairs rarely share a surname, but the non-matches blocking proposes often
    do (household members): with u fixed from random pairs they pass for matches; with u
    re-estimated on the candidates (estimate_m_u) they do not."""
    rng = np.random.default_rng(5)
    u_random = estimate_u(_population(rng, 0, 50_000), SPEC)
    matches = _population(rng, 1_000, 0)
    household = _population(rng, 0, 4_000)
    household[:, 1] = 1  # same surname
    household[:, 2] = rng.choice([1, 5], size=len(household), p=[0.3, 0.7])
    candidates = np.concatenate([matches, household])
    codes, counts = np.unique(pattern_codes(candidates, SPEC.radix), return_counts=True)
    truth = np.arange(len(candidates)) < len(matches)

    def precision(m, u, prior) -> float:
        linked = PairModel(("a", "a"), SPEC, m, u, prior, "em").probability(candidates) >= 0.5
        return float((linked & truth).sum() / max(linked.sum(), 1))

    m, prior = estimate_m(codes, counts, SPEC, u_random, prior=None, prior_start=0.5)
    fixed = precision(m, u_random, prior)
    m2, u2, prior2 = estimate_m_u(
        codes, counts, SPEC, u_random, prior=None, prior_start=0.5, u_anchor=U_ANCHOR
    )
    assert u2[1][1] > 0.5 > u_random[1][1]  # surname agreement is common among candidates
    assert precision(m2, u2, prior2) > max(fixed, 0.97)


def test_surname_disagreement_is_capped_household_disagreement_is_not() -> None:
    spec = comparison_levels(["first", "last", "address"], {}, stable_segments=[0],
                             field_types=["name", "name", "address"])
    rng = np.random.default_rng(6)
    u = estimate_u(_population(rng, 0, 20_000), spec)
    candidates = _population(rng, 2_000, 6_000)
    candidates[:600, 1] = 5  # a third of the matches: another surname
    candidates[:600, 2] = 5  # and another address
    codes, counts = np.unique(pattern_codes(candidates, spec.radix), return_counts=True)
    m, _ = estimate_m(codes, counts, spec, u, prior=0.25, prior_start=0.25)
    assert m[1][5] <= OTHER_DISAGREE_M * 1.01
    assert m[2][5] > OTHER_DISAGREE_M  # people move: EM decides


def _family_model() -> PairModel:
    """first (stable name), last, dob (stable), address (household), weights as random
    pairs give them: a shared surname and address outweigh a clear first-name clash."""
    spec = comparison_levels(
        ["first", "last", "dob", "address"], {}, stable_segments=[0, 2],
        field_types=["name", "name", "date", "address"],
    )

    def levels(exact: float, other: float, last: float) -> tuple[float, ...]:
        n = len(spec.levels[0])
        values = [0.0, exact] + [other] * (n - 2)
        values[5] = last  # "else"
        return tuple(values)

    m = tuple(levels(0.9, 0.01, STABLE_DISAGREE_M) for _ in spec.names)
    u = tuple(levels(1e-4, 1e-3, 0.99) for _ in spec.names)
    return PairModel(("a", "a"), spec, m, u, 1e-3, "em")


def test_look_alikes_share_a_family_not_an_identity() -> None:
    """Twins and couples (a clear first-name clash, surname and address or birth date
    shared) stay below 0.5 whatever their shared fields weigh; without the safeguard
    (a model of parties without families) the surname + address agreement outweighs
    the clash."""
    model = _family_model()
    twins = np.array([[5, 1, 1, 1], [5, 1, 5, 1], [5, 1, 1, 0]], np.int8)
    assert lookalike_pairs(twins, model.spec).all()
    assert (model.probability(twins) < 0.01).all()
    unguarded = dataclasses.replace(model, families=False)
    assert (unguarded.probability(twins[[0, 2]]) > 0.9).all()


def test_a_look_alike_keeps_a_personal_agreement() -> None:
    """The family's shared fields count once, but an exact e-mail is one person's: a
    first name the normaliser does not know as a nickname still links on it."""
    spec = comparison_levels(
        ["first", "last", "email"], {}, stable_segments=[0],
        field_types=["name", "name", "email"],
    )
    n = len(spec.levels[0])
    m = tuple(tuple([0.0, 0.9] + [0.01] * (n - 3) + [STABLE_DISAGREE_M]) for _ in spec.names)
    u = tuple(tuple([0.0, 1e-4] + [1e-3] * (n - 3) + [0.99]) for _ in spec.names)
    model = PairModel(("a", "b"), spec, tuple(x[:n] for x in m), tuple(x[:n] for x in u),
                      1e-3)
    w = model.weights()
    pairs = np.array([[5, 1, 1]], np.int8)  # first name clash, same surname and e-mail
    assert lookalike_pairs(pairs, spec).all()
    counted = model.field_weights(pairs)[0]
    assert counted[2] == pytest.approx(w[2][1])  # the e-mail counts in full
    assert counted[1] == pytest.approx(w[1][1])  # the surname: the family's one piece


def test_a_birth_date_typo_alone_is_no_look_alike() -> None:
    """Same first name, surname and address, birth date clearly different: a typo in a
    date is common (FEBRL 4), so only the date's own negative weight counts."""
    model = _family_model()
    typo = np.array([[1, 1, 5, 1]], np.int8)
    assert not lookalike_pairs(typo, model.spec).any()
    assert model.probability(typo)[0] > 0.5


def test_the_prior_refers_to_all_pairs_of_the_parties() -> None:
    """With u from random pairs, the prior EM estimates is the match rate among all pairs
    (``population``), not among the candidates: candidates are ten times enriched here."""
    rng = np.random.default_rng(11)
    u = estimate_u(_population(rng, 0, 50_000), SPEC)
    candidates = _population(rng, 1_000, 9_000)
    codes, counts = np.unique(pattern_codes(candidates, SPEC.radix), return_counts=True)
    _, _, among_candidates = estimate_m_u(codes, counts, SPEC, u, prior=None, prior_start=0.1)
    _, _, among_all = estimate_m_u(
        codes, counts, SPEC, u, prior=None, prior_start=0.001, population=1_000_000
    )
    assert among_candidates == pytest.approx(0.1, rel=0.15)
    assert among_all == pytest.approx(1e-3, rel=0.15)


def test_an_identifier_agreement_is_not_counted_as_chance() -> None:
    """Exact agreement counted over all pairs includes the matches: for an identifier
    nearly every agreeing pair is one. Taking out the matches EM finds leaves about one
    chance pair in the population, a far stronger weight than the raw share gives."""
    shares = np.array([0.0, 2e-4, 0.1, 0.8998])  # missing, exact, dice>=0.9, else
    matches = np.array([0.0, 4_000.0, 300.0, 200.0])  # expected matches per level
    levels = np.array([False, True, False, False])
    u = chance_agreement_u(shares, matches, levels, population=25e6)
    assert u[1] == pytest.approx(2e-4 - 4_000 / 25e6)
    assert (u[2:] == shares[2:]).all()
    only_matches = chance_agreement_u(np.array([0.0, 1e-4]), np.array([0.0, 100.0]),
                                      np.array([False, True]), population=1e6)
    assert only_matches[1] == pytest.approx(1e-6)  # one pair in the population


def test_within_one_party_a_partial_first_name_is_a_family_clash() -> None:
    """Within a party the close non-matches are the family itself: a sibling's first
    name that shares some letters (dice >= 0.5) with a shared address is a look-alike
    there, while across parties (a typo, a nickname) it is not."""
    model = _family_model()  # parties ("a", "a"): one party
    sibling = np.array([[4, 1, 4, 1]], np.int8)  # first dice>=0.5, same surname, address
    assert lookalike_pairs(sibling, model.spec, within=True).all()
    assert not lookalike_pairs(sibling, model.spec).any()
    across = dataclasses.replace(model, parties=("a", "b"))
    assert model.probability(sibling)[0] < across.probability(sibling)[0]


def _flat_model(spec) -> PairModel:
    """Every level of every comparison weighs the same (exact +10 bits, else -5 bits)."""
    m, u = [], []
    for labels in spec.levels:
        m.append(tuple(0.0 if k == 0 else (0.9 if lab.startswith("exact") or lab == "swapped"
                                           else 0.02) for k, lab in enumerate(labels)))
        u.append(tuple(0.0 if k == 0 else (0.9 / 1024 if lab.startswith("exact")
                                           or lab == "swapped" else 0.64) for k, lab in
                       enumerate(labels)))
    return PairModel(("a", "b"), spec, tuple(m), tuple(u), 0.5)


def test_a_swap_counts_once_not_once_per_name() -> None:
    """Both names read crosswise is one event: the swap's weight counts for one field."""
    spec = comparison_levels(
        ["first", "last"], {}, swap_segments=[(0, 1)], field_types=["name", "name"]
    )
    model = _flat_model(spec)
    swapped = [spec.levels[c].index("swapped") for c in (0, 1)]
    counted = model.field_weights(np.array([swapped], np.int8))[0]
    assert counted.max() == pytest.approx(10.0)
    assert sorted(counted.tolist()) == pytest.approx([0.0, 10.0])
    straight = model.field_weights(np.array([[1, 1]], np.int8))[0]  # both exact: two facts
    assert straight.tolist() == pytest.approx([10.0, 10.0])


def test_a_partly_alike_email_is_no_evidence_for_and_hides_no_disagreement() -> None:
    """Namesakes' e-mail addresses are alike because their names are: a partial e-mail
    agreement counts at most 0, and the household disagreements still count (as one)."""
    spec = comparison_levels(
        ["email", "address", "phone"], {}, field_types=["email", "address", "phone"]
    )
    model = _flat_model(spec)
    partial = spec.levels[0].index("dice>=0.75")
    else_ = spec.levels[1].index("else")
    raw = model.weights()[0][partial]
    namesakes = np.array([[partial, else_, else_]], np.int8)
    counted = model.field_weights(namesakes)[0]
    assert raw < 0 or counted[0] <= 0.0
    assert counted[0] == pytest.approx(min(raw, 0.0))
    assert counted[1:].sum() == pytest.approx(-5.0)  # moved or another person: once
    exact = model.field_weights(np.array([[1, else_, else_]], np.int8))[0]
    assert exact[0] == pytest.approx(10.0) and exact[1:].sum() == pytest.approx(0.0)

