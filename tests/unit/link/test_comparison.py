"""Comparison vectors: levels from intersection counts, token agreement, swaps, dates."""

from __future__ import annotations

import numpy as np
import pytest

from hashmatch.link.comparison import (
    comparison_levels,
    comparison_vectors,
    decode_patterns,
    exact_agreement_rates,
    pattern_codes,
    split_by_frequency,
    value_counts,
)
from hashmatch.link.segments import SegmentView, segment_fingerprints


def _view(popcounts: list[list[int]], nested: list[bool] | None = None) -> SegmentView:
    pc = np.asarray(popcounts, np.uint16)
    flags = None if nested is None else np.asarray(nested, np.bool_)
    return SegmentView(pc, pc > 0, flags)


def test_dice_bins_missing_and_exact_token() -> None:
    spec = comparison_levels(["name", "email"], {"email": "identifier", "phone": "identifier"})
    assert spec.names == ("name", "email", "phone")
    assert spec.levels[2] == ("missing", "agree", "disagree")
    left = _view([[20, 10]] * 5)
    right = _view([[20, 10], [20, 10], [20, 10], [20, 0], [20, 10]])
    i = np.arange(5)
    # name field Dice: 1.0, 0.9, 0.6, 0.3, 0.8; e-mail Bloom Dice 1.0 everywhere present
    counts = np.array([[0, 20, 10], [0, 18, 10], [0, 12, 10], [0, 6, 0], [0, 16, 10]])
    tok = np.array([[1], [1], [1], [1], [1]], np.uint8)
    other = np.array([[1], [2], [1], [0], [0]], np.uint8)
    vectors = comparison_vectors(
        spec, counts, left, right, {"email": tok, "phone": tok},
        {"email": other, "phone": other}, i, i,
    )
    assert vectors[:, 0].tolist() == [1, 2, 4, 5, 3]
    # e-mail: token agrees -> exact; differs -> capped below exact; missing segment -> 0
    assert vectors[:, 1].tolist()[:4] == [1, 2, 1, 0]
    assert vectors[:, 2].tolist() == [1, 2, 1, 0, 0]


def test_date_containment_and_swaps() -> None:
    spec = comparison_levels(
        ["first", "last", "dob"], {}, swap_segments=[(0, 1)], nested=[False, False, True]
    )
    assert "swapped" in spec.levels[0] and "contained" in spec.levels[2]
    left = _view([[10, 10, 30], [10, 10, 30]], [False, False, True])
    right = _view([[10, 10, 10], [10, 10, 30]], [False, False, True])
    counts = np.array([[0, 10, 10, 10], [0, 2, 2, 30]])
    swapped = {0: np.array([False, True]), 1: np.array([False, True])}
    i = np.arange(2)
    vectors = comparison_vectors(spec, counts, left, right, {}, {}, i, i, swapped=swapped)
    assert spec.levels[2][vectors[0, 2]] == "contained"  # year only inside a full date
    assert spec.levels[2][vectors[1, 2]] == "exact"
    assert spec.levels[0][vectors[1, 0]] == "swapped"


def test_pattern_codes_round_trip() -> None:
    radix = (6, 3, 8)
    rng = np.random.default_rng(1)
    vectors = np.stack([rng.integers(0, r, 100) for r in radix], axis=1).astype(np.int8)
    codes = pattern_codes(vectors, radix)
    assert np.array_equal(decode_patterns(codes, radix), vectors)
    assert len(np.unique(codes)) == len(np.unique(vectors, axis=0))


def test_exact_agreement_on_a_common_value_gets_its_own_level() -> None:
    """Term frequency: the same ``exact`` agreement moves to exact:common / exact:frequent
    when the value's share of the two parties reaches COMMON_SHARE / FREQUENT_SHARE."""
    spec = comparison_levels(["first"], {})
    labels = spec.levels[0]
    levels = np.array([[1], [1], [1], [2]], np.int8)  # three exact, one dice>=0.9
    rows = 10_000
    count = np.array([[1], [20], [500], [500]], np.int32)  # share 0.0001, 0.002, 0.05
    pairs = np.arange(len(levels))  # pair k: row k of each party
    split_by_frequency(levels, spec, count, count, rows, rows, pairs, pairs)
    assert [labels[k] for k in levels[:, 0]] == [
        "exact", "exact:common", "exact:frequent", "dice>=0.9"
    ]


def test_value_counts_come_from_equal_segment_bits() -> None:
    """Rows with the same bits in a segment hold the same value: fingerprints agree there,
    whatever the other segments hold, and an empty segment counts 0."""
    rng = np.random.default_rng(2)
    clks = rng.integers(0, 2**63, (6, 4), dtype=np.int64).astype(np.uint64)
    layout = (70, 100)  # across word boundaries
    same = clks[0].copy()
    clks[3, 1:3] = same[1:3]  # rows 0 and 3 share words 1-2 (bits 64-191)
    clks[5, 1:3] = 0
    counts = value_counts(segment_fingerprints(clks, layout))
    assert counts[0] == counts[3] == 2
    assert counts[5] == 0
    assert (counts[[1, 2, 4]] == 1).all()


def test_exact_agreement_rates_count_all_pairs_by_frequency_class() -> None:
    """Share of all pairs agreeing exactly, among pairs where both hold a value, split by
    the value's share: a rare value, one held by 1 row in 100 or more."""
    left = np.array([1, 2, 3, 0] + [9] * 500 + [5] * 20 + [8] * 9476, np.uint64)
    right = np.array([1, 1, 4, 5] + [9] * 100 + [7] * 896, np.uint64)
    rare, common, frequent = exact_agreement_rates(left, right)
    total = 9999 * 1000
    assert rare == pytest.approx(1 * 2 / total)  # share sqrt(1e-4 * 2e-3) < 0.001
    assert common == pytest.approx(20 * 1 / total)  # sqrt(2e-3 * 1e-3) = 0.0014
    assert frequent == pytest.approx(500 * 100 / total)  # sqrt(0.05 * 0.1)
    within = exact_agreement_rates(np.array([5, 5, 6, 0], np.uint64), None)
    assert sum(within) == pytest.approx(1 / 3)  # one agreeing pair of three
