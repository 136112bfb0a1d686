"""Comparison vectors: levels from intersection counts, token agreement, swaps, dates."""

from __future__ import annotations

import numpy as np

from hashmatch.link.comparison import (
    comparison_levels,
    comparison_vectors,
    decode_patterns,
    pattern_codes,
)
from hashmatch.link.segments import SegmentView


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
