"""The listed-pair entries of hashmatch.kernel.similarity: counts, segment masks, and the
popcounts a caller prepares once (variant equality over random inputs lives in
tests/property/test_kernel_vs_numpy.py)."""

from __future__ import annotations

import numpy as np
import pytest

from hashmatch import kernel


def rows(*bit_lists: list[int], words: int = 2) -> np.ndarray:
    out = np.zeros((len(bit_lists), words), dtype=np.uint64)
    for r, bits in enumerate(bit_lists):
        for bit in bits:
            out[r, bit // 64] |= np.uint64(1) << np.uint64(bit % 64)
    return out


def test_counts_whole_rows_and_segments_across_word_boundaries(variant: str) -> None:
    a = rows([0, 1, 63, 64, 65, 100], [])
    b = rows([1, 63, 64, 100, 127], [5])
    got = kernel.intersection_counts(
        a, b, [0, 0, 1], [0, 1, 0], segments=[(60, 8), (0, 2), (100, 28)]
    )
    assert got.dtype == np.int32
    assert got.tolist() == [[4, 2, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]]


def test_counts_of_a_matrix_with_itself_and_no_segments(variant: str) -> None:
    a = rows([0, 1, 2], [1, 2, 3, 70])
    got = kernel.intersection_counts(a, None, [0, 1, 1], [1, 0, 1])
    assert got.shape == (3, 1)
    assert got[:, 0].tolist() == [2, 2, 4]


def test_counts_with_many_pairs_and_threads_agree(variant: str) -> None:
    rng = np.random.default_rng(5)
    a = np.packbits(rng.random((300, 256)) < 0.4, axis=1).view(np.uint64)
    i = rng.integers(0, 300, 20_000)
    j = rng.integers(0, 300, 20_000)
    one = kernel.intersection_counts(a, a, i, j, segments=[(10, 100)], threads=1)
    three = kernel.intersection_counts(a, a, i, j, segments=[(10, 100)], threads=3)
    np.testing.assert_array_equal(one, three)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda a: kernel.intersection_counts(a, None, [0], [2]), IndexError),
        (lambda a: kernel.intersection_counts(a, None, [0, 1], [0]), ValueError),
        (lambda a: kernel.intersection_counts(a, None, [0], [0], segments=[(100, 29)]), ValueError),
        (lambda a: kernel.intersection_counts(a, None, [0], [0], segments=[(-1, 2)]), ValueError),
        (lambda a: kernel.intersection_counts(a, None, [0], [0], segments=[(3, 0)]), ValueError),
        (lambda a: kernel.dice_candidates(a, None, [0], [0], popcounts=([1], [1, 2])),
         ValueError),
    ],
)
def test_invalid_arguments_are_refused(call, error: type[Exception]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error):
        call(rows([1], [2]))


def test_segment_mask_sets_exactly_the_range() -> None:
    mask = kernel.segment_mask(60, 10, 2)
    bits = np.unpackbits(mask.view(np.uint8), bitorder="little")
    assert np.flatnonzero(bits).tolist() == list(range(60, 70))
    assert not mask.flags.writeable
    with pytest.raises(ValueError, match="does not fit"):
        kernel.segment_mask(120, 10, 2)


def test_prepared_popcounts_give_the_same_dice(variant: str) -> None:
    a = rows([0, 1, 2, 3], [0, 1], [])
    b = rows([0, 1], [0, 1, 2, 3, 90])
    i, j = np.array([0, 0, 1, 2]), np.array([0, 1, 1, 0])
    want = kernel.dice_candidates(a, b, i, j)
    got = kernel.dice_candidates(a, b, i, j, popcounts=(kernel.popcount(a), kernel.popcount(b)))
    np.testing.assert_array_equal(got, want)
    assert want.tolist() == pytest.approx([2 * 2 / 6, 2 * 4 / 9, 2 * 2 / 7, 0.0])
