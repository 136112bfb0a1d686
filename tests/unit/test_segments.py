"""Field-aware Dice agrees with a direct computation on the common segments."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.segments import SegmentView, field_aware_dice

SEGMENTS = [(0, 100), (100, 60), (160, 96)]  # 256-bit CLK, uneven segments


def _bits_to_clks(bits: np.ndarray) -> np.ndarray:
    return np.packbits(bits, axis=1, bitorder="little").view("<u8").astype(np.uint64)


def _plain_dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 0.0 if total == 0 else 2 * (a & b).sum() / total


def _reference(a: np.ndarray, b: np.ndarray) -> float:
    keep = np.zeros(a.shape, bool)
    for start, bits in SEGMENTS:
        if a[start : start + bits].any() and b[start : start + bits].any():
            keep[start : start + bits] = True
    return _plain_dice(a & keep, b & keep)


@given(st.integers(0, 2**32 - 1))
def test_matches_dice_restricted_to_common_fields(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.random((7, 256)) < 0.3
    b = rng.random((5, 256)) < 0.3
    for bits in (a, b):  # blank some fields at random: missing values
        for start, width in SEGMENTS:
            bits[rng.random(len(bits)) < 0.3, start : start + width] = False
    ca, cb = _bits_to_clks(a), _bits_to_clks(b)
    i, j = np.meshgrid(np.arange(7), np.arange(5), indexing="ij")
    i, j = i.ravel(), j.ravel()
    plain = np.array([_plain_dice(a[x], b[y]) for x, y in zip(i, j, strict=True)], dtype=np.float32)
    got = field_aware_dice(
        plain, SegmentView.from_clks(ca, SEGMENTS), SegmentView.from_clks(cb, SEGMENTS), i, j
    )
    want = np.array([_reference(a[x], b[y]) for x, y in zip(i, j, strict=True)], dtype=np.float32)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_a_missing_field_no_longer_costs_similarity() -> None:
    a = np.zeros((1, 256), bool)
    b = np.zeros((1, 256), bool)
    a[0, 0:30] = b[0, 0:30] = True  # first field identical
    a[0, 160:200] = True  # third field only on the left
    ca, cb = _bits_to_clks(a), _bits_to_clks(b)
    plain = np.array([_plain_dice(a[0], b[0])], np.float32)
    assert plain[0] < 0.65
    idx = np.array([0])
    fa = field_aware_dice(
        plain, SegmentView.from_clks(ca, SEGMENTS), SegmentView.from_clks(cb, SEGMENTS), idx, idx
    )
    assert fa[0] == 1.0


def test_no_common_field_scores_zero_and_present_flags_are_honoured() -> None:
    a = np.zeros((1, 256), bool)
    b = np.zeros((1, 256), bool)
    a[0, 0:10] = True
    b[0, 100:110] = True
    ca, cb = _bits_to_clks(a), _bits_to_clks(b)
    idx = np.array([0])
    left, right = SegmentView.from_clks(ca, SEGMENTS), SegmentView.from_clks(cb, SEGMENTS)
    assert field_aware_dice(np.array([0.0], np.float32), left, right, idx, idx)[0] == 0.0
    # A field flagged present with an empty segment still counts as present.
    flagged = SegmentView.from_clks(cb, SEGMENTS, present=np.array([[True, True, False]]))
    assert flagged.present[0].tolist() == [True, True, False]


def test_blend_lies_between_plain_and_field_aware_dice() -> None:
    from hashmatch.segments import blended_dice

    a = np.zeros((1, 256), bool)
    b = np.zeros((1, 256), bool)
    a[0, 0:30] = b[0, 0:30] = True
    a[0, 160:200] = True
    ca, cb = _bits_to_clks(a), _bits_to_clks(b)
    left, right = SegmentView.from_clks(ca, SEGMENTS), SegmentView.from_clks(cb, SEGMENTS)
    idx = np.array([0])
    plain = np.array([_plain_dice(a[0], b[0])], np.float32)
    assert blended_dice(plain, left, right, idx, idx, weight=0.0)[0] == plain[0]
    assert blended_dice(plain, left, right, idx, idx, weight=1.0)[0] == 1.0
    half = blended_dice(plain, left, right, idx, idx)[0]
    assert abs(half - (plain[0] + 1.0) / 2) < 1e-6
