"""The compiled comparison levels equal the numpy routes they replace, pair for pair."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hashmatch.link import levels
from hashmatch.link.comparison import DICE_BINS
from hashmatch.link.levels import dice_levels, numpy_dice_levels, token_agreement
from hashmatch.link.segments import SegmentView


def test_the_extension_is_built() -> None:
    """From an installed package the compiled routes answer (the numpy ones are for a
    source tree that was never built)."""
    assert levels._levels is not None


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    nested=st.booleans(),
    rows=st.integers(1, 12),
    pairs=st.integers(0, 60),
)
def test_compiled_levels_equal_the_numpy_route(seed: int, nested: bool, rows: int,
                                                pairs: int) -> None:
    rng = np.random.default_rng(seed)
    segments = 3
    # small popcounts, so that exact bin edges (1/2, 3/4, 9/10) and zeros come up often
    pop_l = rng.integers(0, 21, (rows, segments)).astype(np.uint16)
    pop_r = rng.integers(0, 21, (rows, segments)).astype(np.uint16)
    present_l = rng.random((rows, segments)) < 0.85
    present_r = rng.random((rows, segments)) < 0.85
    flags = np.array([nested, False, True])
    left = SegmentView(pop_l, present_l, flags)
    right = SegmentView(pop_r, present_r, flags)
    i = rng.integers(0, rows, pairs).astype(np.int64)
    j = rng.integers(0, rows, pairs).astype(np.int64)
    # intersections up to the larger popcount and a little past it (the cap at 1)
    high = np.maximum(pop_l[i], pop_r[j]).astype(np.int64) + 2
    counts = np.zeros((pairs, 1 + segments), np.int32)
    counts[:, 1:] = (rng.random((pairs, segments)) * high).astype(np.int32)
    for segment in range(segments):
        expected, missing = numpy_dice_levels(counts, left, right, i, j, segment, DICE_BINS)
        level, got_missing = dice_levels(counts, left, right, i, j, segment, DICE_BINS)
        np.testing.assert_array_equal(got_missing, missing)
        np.testing.assert_array_equal(level, expected)


def test_bin_edges_fall_in_the_bin_they_open() -> None:
    """Exactly 0.9, 0.75 and 0.5 reach their bins (float32 as before), 1 is exact."""
    view = SegmentView(np.full((1, 1), 20, np.uint16), np.ones((1, 1), np.bool_))
    counts = np.array([[0, 18], [0, 15], [0, 10], [0, 9], [0, 20], [0, 25]], np.int32)
    i = j = np.zeros(len(counts), np.int64)
    for route in (dice_levels, numpy_dice_levels):
        level, missing = route(counts, view, view, i, j, 0, DICE_BINS)
        assert level.tolist() == [2, 3, 4, 5, 1, 1] and not missing.any()


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 10), pairs=st.integers(0, 50),
       width=st.sampled_from([16, 8, 5]))
def test_token_agreement_equals_comparing_bytes(seed: int, rows: int, pairs: int,
                                                width: int) -> None:
    """Held on both sides and equal, as byte comparisons say: tokens drawn from a few
    values so that equal ones come up, all-zero (missing) ones too, and widths that are
    not whole words."""
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (3, width), dtype=np.uint8)
    palette[0] = 0  # the missing token
    palette[2, : width // 2] = palette[1, : width // 2]  # shares a first word with another
    left = palette[rng.integers(0, 3, rows)]
    right = palette[rng.integers(0, 3, rows)]
    i = rng.integers(0, rows, pairs).astype(np.int64)
    j = rng.integers(0, rows, pairs).astype(np.int64)
    agree, both = token_agreement(left, right, i, j)
    fallback = levels.numpy_token_agreement(left, right, i, j)
    np.testing.assert_array_equal(fallback[0], agree)
    np.testing.assert_array_equal(fallback[1], both)
    a, b = left[i], right[j]
    expected_both = a.any(axis=1) & b.any(axis=1)
    np.testing.assert_array_equal(both, expected_both)
    np.testing.assert_array_equal(agree, expected_both & (a == b).all(axis=1))


def test_without_the_extension_the_numpy_routes_answer(monkeypatch) -> None:
    monkeypatch.setattr(levels, "_levels", None)
    view = SegmentView(np.full((1, 1), 20, np.uint16), np.ones((1, 1), np.bool_))
    counts = np.array([[0, 18], [0, 9]], np.int32)
    i = j = np.zeros(2, np.int64)
    level, missing = dice_levels(counts, view, view, i, j, 0, DICE_BINS)
    assert level.tolist() == [2, 5] and not missing.any()
    tokens = np.array([[1] * 16], np.uint8)
    assert token_agreement(tokens, tokens, np.zeros(1, np.int64), np.zeros(1, np.int64))[0][0]
