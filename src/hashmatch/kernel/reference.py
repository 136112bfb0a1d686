"""Plain numpy reference for the similarity kernel: the test oracle and the slow fallback.

It computes every pair directly (no pruning, no sorting), so it is easy to trust. The
compiled kernel (``hashmatch.kernel._core*``) must return exactly what this returns: the same
hits and float32 scores bit for bit, which holds because both evaluate the score with
the same float64 operations (:func:`scores`). Inputs are already-validated
C-contiguous ``uint64[rows, words]`` matrices; :mod:`hashmatch.kernel.similarity` does the
checks.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from hashmatch._types import Clks, Indices, Pairs, Scores

METRICS = ("dice", "jaccard", "hamming")

#: Elements of the (rows, cols, words) AND-cube evaluated at once; bounds oracle memory.
_CUBE_ELEMENTS = 1 << 22


def _bitcount(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint8]:
    """Set bits per uint64 element (np.bitwise_count needs numpy >= 2; 1.26 is supported)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    as_bytes = np.ascontiguousarray(x).view(np.uint8).reshape(*x.shape, 8)
    return np.unpackbits(as_bytes, axis=-1).sum(axis=-1, dtype=np.uint8)


def popcount(a: Clks) -> npt.NDArray[np.int32]:
    """Number of set bits in each row."""
    return _bitcount(a).sum(axis=1, dtype=np.int64).astype(np.int32)


def scores(
    c: npt.NDArray[np.int64], s: npt.NDArray[np.int64], metric: str, nbits: float
) -> npt.NDArray[np.float64]:
    """Similarity from the intersection count ``c`` and popcount sum ``s = |a| + |b|``.

    dice = 2c / s, jaccard = c / (s - c), hamming = 1 - (s - 2c) / nbits. Callers mask
    pairs with an empty filter (their score is meaningless: they never match).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "dice":
            return 2.0 * c / s
        if metric == "jaccard":
            return c / (s - c)
        return 1.0 - (s - 2 * c) / nbits


def _row_blocks(n: int, m: int, words: int) -> Iterator[tuple[int, int]]:
    step = max(1, _CUBE_ELEMENTS // max(1, m * words))
    for r0 in range(0, n, step):
        yield r0, min(n, r0 + step)


def _block(
    a: Clks, b: Clks, r0: int, r1: int, pa: npt.NDArray[np.int32], pb: npt.NDArray[np.int32],
    metric: str, nbits: float,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Scores of rows r0..r1 of A against all of B, and which pairs are non-empty."""
    c = _bitcount(a[r0:r1, None, :] & b[None, :, :]).sum(axis=2, dtype=np.int64)
    s = pa[r0:r1, None].astype(np.int64) + pb[None, :]
    valid = (pa[r0:r1, None] > 0) & (pb[None, :] > 0)
    return scores(c, s, metric, nbits), valid


def similarity_pairs(
    a: Clks, b: Clks | None, threshold: float, *, metric: str = "dice", nbits: float | None = None
) -> Pairs:
    """All pairs scoring >= threshold, sorted by i then j (b=None: a with itself, i < j)."""
    self_mode = b is None
    b = a if b is None else b
    nbits = float(a.shape[1] * 64) if nbits is None else float(nbits)
    pa, pb = popcount(a), popcount(b)
    out_i, out_j, out_s = [], [], []
    for r0, r1 in _row_blocks(a.shape[0], b.shape[0], a.shape[1]):
        sc, valid = _block(a, b, r0, r1, pa, pb, metric, nbits)
        hit = valid & (sc >= threshold)
        if self_mode:
            hit &= np.arange(r0, r1)[:, None] < np.arange(b.shape[0])[None, :]
        ii, jj = np.nonzero(hit)
        out_i.append(ii.astype(np.int64) + r0)
        out_j.append(jj.astype(np.int64))
        out_s.append(sc[ii, jj].astype(np.float32))
    if not out_i:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
    return np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_s)


def similarity_topk(
    a: Clks, b: Clks | None, k: int, threshold: float, *, metric: str = "dice",
    nbits: float | None = None,
) -> Pairs:
    """The k best pairs per row of A scoring >= threshold.

    Sorted by i, then score descending, then j ascending (ties broken by the lower j).
    """
    i, j, s = similarity_pairs(a, b, threshold, metric=metric, nbits=nbits)
    order = np.lexsort((j, -s.astype(np.float64), i))
    i, j, s = i[order], j[order], s[order]
    if i.size:
        starts = np.flatnonzero(np.r_[True, i[1:] != i[:-1]])
        rank = np.arange(i.size) - np.repeat(starts, np.diff(np.r_[starts, i.size]))
        keep = rank < k
        i, j, s = i[keep], j[keep], s[keep]
    return i, j, s


def similarity_candidates(
    a: Clks, b: Clks | None, i: Indices, j: Indices, *, metric: str = "dice",
    nbits: float | None = None,
) -> Scores:
    """Scores of the listed pairs (a[i[p]], b[j[p]]); 0 where either filter is empty."""
    b = a if b is None else b
    nbits = float(a.shape[1] * 64) if nbits is None else float(nbits)
    pa, pb = popcount(a)[i].astype(np.int64), popcount(b)[j].astype(np.int64)
    c = _bitcount(a[i] & b[j]).sum(axis=1, dtype=np.int64)
    sc = scores(c, pa + pb, metric, nbits)
    return np.where((pa > 0) & (pb > 0), sc, 0.0).astype(np.float32)


def intersection_counts(
    a: Clks, b: Clks, i: Indices, j: Indices, masks: npt.NDArray[np.uint64]
) -> npt.NDArray[np.int32]:
    """``|a[i] & b[j]|`` per listed pair (column 0), then within each mask (``uint64[k,
    words]``, one per segment): ``int32[pairs, 1 + k]``."""
    out = np.zeros((len(i), 1 + len(masks)), np.int32)
    for p0 in range(0, len(i), 1 << 14):
        both = a[i[p0 : p0 + (1 << 14)]] & b[j[p0 : p0 + (1 << 14)]]
        out[p0 : p0 + len(both), 0] = _bitcount(both).sum(axis=1, dtype=np.int64)
        for s, mask in enumerate(masks):
            out[p0 : p0 + len(both), 1 + s] = _bitcount(both & mask).sum(axis=1, dtype=np.int64)
    return out
