"""Field-aware Dice agrees with a direct computation on the common segments."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.kernel import intersection_counts
from hashmatch.link.segments import (
    SegmentView,
    aligned_segment,
    field_aware_dice,
    field_dice,
    swapped_names,
)

SEGMENTS = [(0, 100), (100, 60), (160, 96)]  # 256-bit CLK, uneven segments


def _bits_to_clks(bits: np.ndarray) -> np.ndarray:
    return np.packbits(bits, axis=1, bitorder="little").view("<u8").astype(np.uint64)


def _inter(a: np.ndarray, b: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """|a & b| per pair, counted directly on the bit arrays."""
    return np.array([(a[x] & b[y]).sum() for x, y in zip(i, j, strict=True)], np.int64)


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
    left, right = SegmentView.from_clks(ca, SEGMENTS), SegmentView.from_clks(cb, SEGMENTS)
    got = field_aware_dice(_inter(a, b, i, j), left, right, i, j)
    want = np.array([_reference(a[x], b[y]) for x, y in zip(i, j, strict=True)], dtype=np.float32)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_a_missing_field_no_longer_costs_similarity() -> None:
    a = np.zeros((1, 256), bool)
    b = np.zeros((1, 256), bool)
    a[0, 0:30] = b[0, 0:30] = True  # first field identical
    a[0, 160:200] = True  # third field only on the left
    ca, cb = _bits_to_clks(a), _bits_to_clks(b)
    assert _plain_dice(a[0], b[0]) < 0.65
    idx = np.array([0])
    fa = field_aware_dice(
        _inter(a, b, idx, idx), SegmentView.from_clks(ca, SEGMENTS),
        SegmentView.from_clks(cb, SEGMENTS), idx, idx,
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
    assert field_aware_dice(np.array([0]), left, right, idx, idx)[0] == 0.0
    # A field flagged present with an empty segment still counts as present.
    flagged = SegmentView.from_clks(cb, SEGMENTS, present=np.array([[True, True, False]]))
    assert flagged.present[0].tolist() == [True, True, False]


def test_blend_lies_between_plain_and_field_aware_dice() -> None:
    from hashmatch.link.segments import blended_dice

    a = np.zeros((1, 256), bool)
    b = np.zeros((1, 256), bool)
    a[0, 0:30] = b[0, 0:30] = True
    a[0, 160:200] = True
    ca, cb = _bits_to_clks(a), _bits_to_clks(b)
    left, right = SegmentView.from_clks(ca, SEGMENTS), SegmentView.from_clks(cb, SEGMENTS)
    idx = np.array([0])
    plain = np.array([_plain_dice(a[0], b[0])], np.float32)
    inter = intersection_counts(ca, cb, idx, idx)[:, 0]
    assert blended_dice(plain, inter, left, right, idx, idx, weight=0.0)[0] == plain[0]
    assert blended_dice(plain, inter, left, right, idx, idx, weight=1.0)[0] == 1.0
    half = blended_dice(plain, inter, left, right, idx, idx)[0]
    assert abs(half - (plain[0] + 1.0) / 2) < 1e-6


def _nested_reference(a: np.ndarray, b: np.ndarray, nested: int) -> float:
    """Direct computation: common segments, with the nested one's share 2 min(|a_s|, |b_s|)."""
    inter = denom = 0
    for k, (start, bits) in enumerate(SEGMENTS):
        sa, sb = a[start : start + bits], b[start : start + bits]
        if not (sa.any() and sb.any()):
            continue
        inter += (sa & sb).sum()
        denom += 2 * min(sa.sum(), sb.sum()) if k == nested else sa.sum() + sb.sum()
    return 0.0 if denom == 0 else min(2 * inter / denom, 1.0)


@given(st.integers(0, 2**32 - 1))
def test_nested_segment_is_compared_by_containment(seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.random((6, 256)) < 0.3
    b = rng.random((4, 256)) < 0.3
    flags = [False, True, False]
    ca, cb = _bits_to_clks(a), _bits_to_clks(b)
    i, j = (x.ravel() for x in np.meshgrid(np.arange(6), np.arange(4), indexing="ij"))
    left = SegmentView.from_clks(ca, SEGMENTS, nested=flags)
    right = SegmentView.from_clks(cb, SEGMENTS, nested=flags)
    got = field_aware_dice(_inter(a, b, i, j), left, right, i, j)
    want = [_nested_reference(a[x], b[y], nested=1) for x, y in zip(i, j, strict=True)]
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_a_year_only_date_fully_agrees_with_the_full_date_it_is_part_of() -> None:
    # Segment 1 plays the date: the year's bits are a subset of the full date's bits.
    full = np.zeros((1, 256), bool)
    full[0, 100:130] = True  # year + month + day features
    year_only = np.zeros((1, 256), bool)
    year_only[0, 100:108] = True  # the year's features alone
    ca, cb = _bits_to_clks(full), _bits_to_clks(year_only)
    idx = np.array([0])
    inter = _inter(full, year_only, idx, idx)
    as_dice = field_aware_dice(
        inter, SegmentView.from_clks(ca, SEGMENTS), SegmentView.from_clks(cb, SEGMENTS), idx, idx
    )
    nested = [False, True, False]
    as_nested = field_aware_dice(
        inter,
        SegmentView.from_clks(ca, SEGMENTS, nested=nested),
        SegmentView.from_clks(cb, SEGMENTS, nested=nested),
        idx,
        idx,
    )
    assert as_dice[0] < 0.5
    assert as_nested[0] == 1.0


@given(st.integers(0, 2**32 - 1), st.booleans())
def test_field_dice_of_one_segment_matches_a_direct_computation(seed: int, nested: bool) -> None:
    rng = np.random.default_rng(seed)
    a = rng.random((5, 256)) < 0.3
    b = rng.random((4, 256)) < 0.3
    a[rng.random(5) < 0.3, 100:160] = False  # segment 1 missing in some rows
    flags = [False, nested, False]
    ca, cb = _bits_to_clks(a), _bits_to_clks(b)
    left = SegmentView.from_clks(ca, SEGMENTS, nested=flags)
    right = SegmentView.from_clks(cb, SEGMENTS, nested=flags)
    i, j = (x.ravel() for x in np.meshgrid(np.arange(5), np.arange(4), indexing="ij"))
    counts = intersection_counts(ca, cb, i, j, segments=[SEGMENTS[1]])
    got = field_dice(counts[:, 1], left, right, i, j, 1)
    for k, (x, y) in enumerate(zip(i, j, strict=True)):
        sa, sb = a[x, 100:160], b[y, 100:160]
        if not (sa.any() and sb.any()):
            assert np.isnan(got[k])
            continue
        half = min(sa.sum(), sb.sum()) if nested else (sa.sum() + sb.sum()) / 2
        assert got[k] == np.float32((sa & sb).sum() / half)


@given(st.integers(0, 2**32 - 1))
def test_aligned_segment_moves_the_bits_to_bit_zero(seed: int) -> None:
    rng = np.random.default_rng(seed)
    bits = rng.random((9, 256)) < 0.3
    clks = _bits_to_clks(bits)
    # the schema's segments, and word-aligned, word-wide and ragged ones to the CLK's end
    for start, width in [*SEGMENTS, (64, 64), (1, 128), (37, 219), (192, 64), (255, 1)]:
        got = aligned_segment(clks, (start, width), chunk_rows=4)
        unpacked = np.unpackbits(got.view(np.uint8), axis=1, bitorder="little")
        assert got.shape == (9, (width + 63) // 64)
        assert (unpacked[:, :width] == bits[:, start : start + width]).all()
        assert not unpacked[:, width:].any()


def test_a_pair_with_both_fields_swapped_reads_as_swapped() -> None:
    # two 60-bit "name" segments built alike: segment 0 at bits 0-59, segment 1 at 100-159
    layout = [(0, 60), (100, 60), (160, 96)]
    rng = np.random.default_rng(1)
    anna, smith, other = (rng.random(60) < 0.3 for _ in range(3))

    def record(first: np.ndarray, last: np.ndarray) -> np.ndarray:
        row = np.zeros(256, bool)
        row[0:60], row[100:160] = first, last
        return row

    left = np.array([record(anna, smith), record(anna, smith)])
    right = np.array([record(smith, anna), record(anna, other)])  # swapped; a namesake
    cl, cr = _bits_to_clks(left), _bits_to_clks(right)
    lv, rv = SegmentView.from_clks(cl, layout), SegmentView.from_clks(cr, layout)
    aligned = [tuple(aligned_segment(c, layout[s]) for s in (0, 1)) for c in (cl, cr)]
    idx = np.array([0, 1])
    found = swapped_names(aligned[0], aligned[1], lv, rv, (0, 1), idx, idx)  # type: ignore[arg-type]
    assert found.swapped.tolist() == [True, False]
    # the straight counts the scorer already holds give the same reading
    straight = intersection_counts(cl, cr, idx, idx, segments=layout[:2])[:, 1:].sum(axis=1)
    again = swapped_names(aligned[0], aligned[1], lv, rv, (0, 1), idx, idx, straight=straight)  # type: ignore[arg-type]
    np.testing.assert_array_equal(again.gain, found.gain)
    # crosswise, both names agree in full; straight, nothing but chance overlaps
    assert found.gain[0] == anna.sum() + smith.sum() - (anna & smith).sum() * 2
    assert found.gain[1] == 0
