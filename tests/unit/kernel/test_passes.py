"""The compiled kernel's multi-pass driver: chunking, self-comparison and top-k paths.

The kernel finds hits per chunk of A rows, then writes them at prefix-sum offsets; with
``b=None`` each unordered pair is compared once and handed to row min(i, j). None of
that may show in the result: it must equal the numpy oracle (and the streamed full walk)
for every variant, thread count and chunk size, on both the sorted (sparse) and bitmap
(dense) ordering paths.
"""

from __future__ import annotations

import numpy as np
import pytest

from hashmatch import kernel
from hashmatch.kernel import grid as kernel_grid
from hashmatch.kernel import reference as kernel_numpy


def clks(rows: int, bits: int, density: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.packbits(rng.random((rows, bits)) < density, axis=1).view(np.uint64).copy()
    out[3] = out[8]  # duplicates: equal scores, so ties are ordered by j
    out[5] = 0  # an empty filter never matches
    out[6] = np.uint64(2**64 - 1)  # all-one: dense row among sparse ones
    return out


def assert_same(got: tuple[np.ndarray, ...], want: tuple[np.ndarray, ...]) -> None:
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


# 600 rows of 256 bits at 40% density: at Dice 0.45 nearly every row is dense (more than
# m/256 hits: bitmap ordering), at 0.52 most hitting rows are sparse (sorted ordering).
A = clks(600, 256, 0.4, 1)
B = clks(500, 256, 0.4, 2)


@pytest.mark.parametrize("threshold", [0.45, 0.52])
def test_self_comparison_compares_each_pair_once_with_the_same_result(
    variant: str, threshold: float
) -> None:
    want = kernel_numpy.similarity_pairs(A, None, threshold)
    assert want[0].size > 100
    for threads in (1, 2, 3):
        assert_same(kernel.similarity_pairs(A, None, threshold, threads=threads), want)
    # the streamed path walks every pair from both sides and must agree
    streamed = list(kernel.iter_similarity_pairs(A, None, threshold, row_chunk=97, threads=2))
    assert_same(tuple(np.concatenate(part) for part in zip(*streamed, strict=True)), want)


@pytest.mark.parametrize("b", [None, B], ids=["self", "a-b"])
@pytest.mark.parametrize("k", [1, 4, 10_000])
def test_topk_matches_oracle_including_ties_and_short_rows(
    variant: str, b: np.ndarray | None, k: int
) -> None:
    want = kernel_numpy.similarity_topk(A, b, k, 0.5)
    for threads in (1, 2):
        assert_same(kernel.similarity_topk(A, b, k, 0.5, threads=threads), want)


@pytest.mark.parametrize("chunk", [1, 7, 256])
@pytest.mark.parametrize("b", [None, B], ids=["self", "a-b"])
def test_result_does_not_depend_on_chunk_size(
    variant: str, b: np.ndarray | None, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = kernel_numpy.similarity_pairs(A[:200], b, 0.45, metric="jaccard")
    monkeypatch.setattr(kernel_grid, "_MAX_CHUNK_ROWS", chunk)
    assert_same(kernel.similarity_pairs(A[:200], b, 0.45, metric="jaccard", threads=2), want)


def test_row_whose_hits_come_late_in_its_range(variant: str) -> None:
    # B sorted by popcount puts the near-copies of the query (high popcount) last, after
    # a long run of misses: the row's hit list is sized from an early, wrong estimate
    # and must grow correctly.
    rng = np.random.default_rng(3)
    query = np.packbits(rng.random((1, 1024)) < 0.5, axis=1).view(np.uint64)
    misses = np.packbits(rng.random((3000, 1024)) < 0.3, axis=1).view(np.uint64)
    near = np.repeat(query, 2000, axis=0)
    near[np.arange(2000), rng.integers(0, 16, 2000)] ^= np.uint64(1) << np.uint64(7)
    b = np.concatenate([misses, near])
    want = kernel_numpy.similarity_pairs(query, b, 0.7)
    assert want[0].size == 2000
    assert_same(kernel.similarity_pairs(query, b, 0.7, threads=2), want)
