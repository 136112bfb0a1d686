"""Every compiled kernel variant agrees with the numpy oracle, for any thread count.

Hits, their order and the float32 scores must be identical (bit for bit), over random
matrices of varied size, density, bit length, threshold and metric, plus edge rows.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch import kernel
from hashmatch.kernel import reference as kernel_numpy


@st.composite
def clk_matrix(draw: st.DrawFn, words: int, max_rows: int = 40) -> np.ndarray:
    rows = draw(st.integers(0, max_rows))
    density = draw(st.sampled_from([0.0, 0.02, 0.2, 0.4, 0.5, 0.8, 1.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    bits = rng.random((rows, words * 64)) < density
    out = np.packbits(bits, axis=1).view(np.uint64).reshape(rows, words).copy()
    # sprinkle edge rows: all-zero, all-one, duplicates
    if rows:
        for kind in draw(st.lists(st.sampled_from(["zero", "one", "dup"]), max_size=3)):
            r = int(rng.integers(rows))
            if kind == "zero":
                out[r] = 0
            elif kind == "one":
                out[r] = np.uint64(2**64 - 1)
            else:
                out[r] = out[int(rng.integers(rows))]
    return out


@st.composite
def grid_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray | None, float, str, int]:
    words = draw(st.sampled_from([1, 2, 3, 8, 9, 16, 17]))
    a = draw(clk_matrix(words))
    b = None if draw(st.booleans()) else draw(clk_matrix(words))
    threshold = draw(
        st.one_of(st.sampled_from([0.0, 0.5, 0.8, 0.9, 1.0]), st.floats(0.0, 1.0))
    )
    metric = draw(st.sampled_from(kernel.METRICS))
    threads = draw(st.sampled_from([1, 2, 3]))
    return a, b, threshold, metric, threads


def assert_same(got: tuple[np.ndarray, ...], want: tuple[np.ndarray, ...]) -> None:
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


@given(case=grid_case())
def test_pairs_match_oracle(variant: str, case: tuple) -> None:
    a, b, threshold, metric, threads = case
    want = kernel_numpy.similarity_pairs(a, b, threshold, metric=metric)
    got = kernel.similarity_pairs(a, b, threshold, metric=metric, threads=threads)
    assert_same(got, want)
    unpruned = kernel.similarity_pairs(a, b, threshold, metric=metric, threads=1, prune=False)
    assert_same(unpruned, want)


@given(case=grid_case(), k=st.integers(1, 5))
def test_topk_matches_oracle(variant: str, case: tuple, k: int) -> None:
    a, b, threshold, metric, threads = case
    want = kernel_numpy.similarity_topk(a, b, k, threshold, metric=metric)
    got = kernel.similarity_topk(a, b, k, threshold, metric=metric, threads=threads)
    assert_same(got, want)


@given(case=grid_case(), chunk=st.integers(1, 50))
def test_chunks_concatenate_to_the_full_result(variant: str, case: tuple, chunk: int) -> None:
    a, b, threshold, metric, threads = case
    parts = list(
        kernel.iter_similarity_pairs(
            a, b, threshold, metric=metric, row_chunk=chunk, threads=threads
        )
    )
    want = kernel_numpy.similarity_pairs(a, b, threshold, metric=metric)
    got = tuple(np.concatenate([p[n] for p in parts]) if parts else w[:0]
                for n, w in enumerate(want))
    assert_same(got, want)


@given(case=grid_case(), seed=st.integers(0, 2**32 - 1))
def test_candidates_match_oracle(variant: str, case: tuple, seed: int) -> None:
    a, b, _, metric, threads = case
    bb = a if b is None else b
    rng = np.random.default_rng(seed)
    n = 0 if len(a) == 0 or len(bb) == 0 else 50
    i = rng.integers(0, max(1, len(a)), n)
    j = rng.integers(0, max(1, len(bb)), n)
    want = kernel_numpy.similarity_candidates(a, bb, i, j, metric=metric)
    got = kernel.similarity_candidates(a, b, i, j, metric=metric, threads=threads)
    assert_same((got,), (want,))

    # popcounts prepared by the caller give the same scores
    prepared = (kernel.popcount(a), kernel.popcount(bb))
    got = kernel.similarity_candidates(
        a, b, i, j, metric=metric, threads=threads, popcounts=prepared
    )
    assert_same((got,), (want,))


@st.composite
def segment_layout(draw: st.DrawFn, bits: int) -> list[tuple[int, int]]:
    """Up to four (start, bits) ranges inside ``bits``: word-aligned or not, overlapping."""
    out = []
    for _ in range(draw(st.integers(0, 4))):
        start = draw(st.integers(0, bits - 1))
        out.append((start, draw(st.integers(1, bits - start))))
    return out


@given(case=grid_case(), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_intersection_counts_match_oracle(
    variant: str, case: tuple, seed: int, data: st.DataObject
) -> None:
    a, b, _, _, threads = case
    bb = a if b is None else b
    rng = np.random.default_rng(seed)
    n = 0 if len(a) == 0 or len(bb) == 0 else int(rng.integers(1, 9000))
    i = rng.integers(0, max(1, len(a)), n)
    j = rng.integers(0, max(1, len(bb)), n)
    segments = data.draw(segment_layout(a.shape[1] * 64))
    masks = np.array([kernel.segment_mask(s, w, a.shape[1]) for s, w in segments],
                     np.uint64).reshape(len(segments), a.shape[1])
    want = kernel_numpy.intersection_counts(a, bb, i, j, masks)
    got = kernel.intersection_counts(a, b, i, j, segments=segments, threads=threads)
    assert_same((got,), (want,))
    # the counts are the scores' numerators: Dice from them equals the kernel's Dice
    pa, pb = kernel.popcount(a)[i].astype(np.int64), kernel.popcount(bb)[j].astype(np.int64)
    total = pa + pb
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = np.where((pa > 0) & (pb > 0), 2.0 * got[:, 0] / total, 0.0).astype(np.float32)
    assert_same((dice,), (kernel.dice_candidates(a, b, i, j, threads=threads),))


@pytest.mark.parametrize("threshold", [0.45, 0.5, 0.6])
@pytest.mark.parametrize("self_mode", [False, True])
def test_wide_b_with_sparse_and_dense_rows_matches_oracle(
    variant: str, threshold: float, self_mode: bool
) -> None:
    # A wide B makes most rows "sparse" (sorted hit lists) while near-duplicate rows of A
    # stay dense (bitmap path); both must agree with the oracle.
    rng = np.random.default_rng(11)
    b = np.packbits(rng.random((2500, 256)) < 0.4, axis=1).view(np.uint64)
    a = b[:30].copy() if self_mode else np.packbits(rng.random((30, 256)) < 0.4, axis=1).view(
        np.uint64
    )
    a[:3] = np.uint64(2**64 - 1)  # all-one rows hit a large share of B
    bb = None if self_mode else b
    aa = np.concatenate([a, b[30:]]) if self_mode else a
    want = kernel_numpy.similarity_pairs(aa, bb, threshold)
    got = kernel.similarity_pairs(aa, bb, threshold, threads=2)
    assert_same(got, want)
