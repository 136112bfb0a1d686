"""The similarity kernel's public functions: validate and convert, then run a variant.

Inputs are packed bit matrices: ``uint64[rows, words]`` (the :data:`hashmatch._types.Clks`
layout), or ``uint8[rows, bytes]`` / ``bool[rows, bits]`` of any length, which are padded
with zero bits to whole 64-bit words (padding changes no score). Every function gives the
same result on every variant (:mod:`hashmatch.kernel.dispatch`) and thread count; the
numpy reference (:mod:`hashmatch.kernel.reference`) is the oracle the tests hold them to.

Two kinds of question are answered:

* **the grid** (:func:`similarity_pairs`, :func:`similarity_topk` and the streamed
  :func:`iter_similarity_pairs`): which pairs of A x B reach a threshold, prepared and
  pruned by :mod:`hashmatch.kernel.grid`;
* **listed pairs** (e.g. from blocking): :func:`similarity_candidates` scores them, and
  :func:`intersection_counts` returns the raw counts ``|a & b|``, over the whole rows and
  within bit ranges (segments), so a caller that holds the popcounts already (the link
  scorer) derives every score it needs from one pass over the rows.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch._types import Clks, Indices, Pairs, Scores
from hashmatch.kernel import reference
from hashmatch.kernel.dispatch import implementation
from hashmatch.kernel.grid import METRIC_CODE, plan, run, run_triangle

__all__ = [
    "METRICS",
    "dice_candidates",
    "dice_pairs",
    "dice_topk",
    "intersection_counts",
    "iter_dice_pairs",
    "iter_similarity_pairs",
    "popcount",
    "segment_mask",
    "similarity_candidates",
    "similarity_pairs",
    "similarity_topk",
]

METRICS = reference.METRICS


def _as_clks(x: Any, name: str) -> tuple[Clks, int]:
    """C-contiguous uint64[rows, words] and the bit length before padding."""
    if not isinstance(x, np.ndarray):
        msg = f"{name} must be a numpy array, got {type(x).__name__}"
        raise TypeError(msg)
    if x.ndim != 2:
        msg = f"{name} must be 2-dimensional (rows, words), got {x.ndim} dimension(s)"
        raise ValueError(msg)
    if x.dtype == np.uint64:
        return np.ascontiguousarray(x), x.shape[1] * 64
    if x.dtype == np.bool_:
        nbits = x.shape[1]
        x = np.packbits(x, axis=1)
    elif x.dtype == np.uint8:
        nbits = x.shape[1] * 8
    else:
        msg = f"{name} must have dtype uint64 (packed words), uint8 or bool, got {x.dtype}"
        raise TypeError(msg)
    pad = -x.shape[1] % 8
    if pad:
        x = np.concatenate([x, np.zeros((x.shape[0], pad), np.uint8)], axis=1)
    return np.ascontiguousarray(x).view(np.uint64), nbits


def _pair_inputs(a: Any, b: Any) -> tuple[Clks, Clks | None, int]:
    a64, nbits = _as_clks(a, "a")
    if b is None:
        return a64, None, nbits
    b64, bbits = _as_clks(b, "b")
    if bbits != nbits or b64.shape[1] != a64.shape[1]:
        msg = f"a and b must have the same bit length, got {nbits} and {bbits}"
        raise ValueError(msg)
    return a64, b64, nbits


def _check_threshold(threshold: float) -> float:
    t = float(threshold)
    if not 0.0 <= t <= 1.0:
        msg = f"threshold must be between 0 and 1, got {threshold!r}"
        raise ValueError(msg)
    return t


def _check_metric(metric: str) -> str:
    if metric not in METRIC_CODE:
        msg = f"metric must be one of {', '.join(METRICS)}, got {metric!r}"
        raise ValueError(msg)
    return metric


def _threads(threads: int | None) -> int:
    if threads is None:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1
        )
    if int(threads) < 1:
        msg = f"threads must be >= 1, got {threads!r}"
        raise ValueError(msg)
    return int(threads)


def _pair_indices(i: Any, j: Any, rows_a: int, rows_b: int) -> tuple[Indices, Indices]:
    ii = np.ascontiguousarray(i, dtype=np.int64)
    jj = np.ascontiguousarray(j, dtype=np.int64)
    if ii.ndim != 1 or ii.shape != jj.shape:
        msg = f"i and j must be 1-dimensional and of equal length, got {ii.shape} and {jj.shape}"
        raise ValueError(msg)
    for idx, rows, name in ((ii, rows_a, "i"), (jj, rows_b, "j")):
        if idx.size and (idx.min() < 0 or idx.max() >= rows):
            msg = f"{name} holds row indices outside 0..{rows - 1}"
            raise IndexError(msg)
    return ii, jj


def _as_popcounts(x: Any, rows: int, name: str) -> npt.NDArray[np.int32]:
    out = np.ascontiguousarray(x, dtype=np.int32)
    if out.shape != (rows,):
        msg = f"{name} must hold one popcount per row ({rows}), got shape {out.shape}"
        raise ValueError(msg)
    return out


def _empty_pairs() -> Pairs:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)


def popcount(a: Any) -> npt.NDArray[np.int32]:
    """Number of set bits in each row of a packed bit matrix.

    Example:
        >>> import numpy as np
        >>> popcount(np.array([[0, 1], [2**64 - 1, 3]], dtype=np.uint64)).tolist()
        [1, 66]
    """
    a64, _ = _as_clks(a, "a")
    impl = implementation()
    if impl is None or a64.shape[1] == 0:
        return reference.popcount(a64)
    out: npt.NDArray[np.int32] = impl.popcount_rows(a64)
    return out


def similarity_pairs(
    a: Any, b: Any | None, threshold: float, *, metric: str = "dice",
    threads: int | None = None, prune: bool = True,
) -> Pairs:
    """All pairs (i, j) with score(a[i], b[j]) >= threshold.

    Parameters:
        a, b: packed bit matrices with the same bit length; ``b=None`` compares ``a`` with
            itself and returns each pair once (i < j).
        threshold: 0..1, inclusive. Pairs involving an empty filter never match.
        metric: "dice" (2|a&b| / (|a|+|b|)), "jaccard" (|a&b| / |a|b|) or "hamming"
            (1 - differing bits / bit length).
        threads: worker threads (default: all usable cores); results do not depend on it.
        prune: skip pairs whose popcounts alone rule them out (False only to measure).

    Returns:
        (i, j, score): int64, int64, float32 arrays sorted by i then j.

    Example:
        >>> import numpy as np
        >>> a = np.array([[0b1111], [0b0011]], dtype=np.uint64)
        >>> i, j, s = similarity_pairs(a, None, 0.5)
        >>> i.tolist(), j.tolist(), s.tolist()
        ([0], [1], [0.6666666865348816])
    """
    metric = _check_metric(metric)
    t = _check_threshold(threshold)
    a64, b64, nbits = _pair_inputs(a, b)
    nthreads = _threads(threads)
    impl = implementation()
    if impl is None:
        return reference.similarity_pairs(a64, b64, t, metric=metric, nbits=nbits)
    if a64.shape[0] == 0 or a64.shape[1] == 0 or (b64 is not None and b64.shape[0] == 0):
        return _empty_pairs()
    prepared = plan(a64, b64, t, metric, nbits, prune, impl)
    if b64 is None:
        return run_triangle(impl, prepared, a64, 0, nthreads)
    return run(impl, prepared, a64, 0, 0, nthreads)


def iter_similarity_pairs(
    a: Any, b: Any | None, threshold: float, *, metric: str = "dice", row_chunk: int = 4096,
    threads: int | None = None, prune: bool = True,
) -> Iterator[Pairs]:
    """:func:`similarity_pairs` in chunks of ``row_chunk`` rows of A, for huge grids.

    Memory grows with the hits of one chunk, never with rows(a) * rows(b). Concatenating
    the chunks gives exactly :func:`similarity_pairs`' result.
    """
    metric = _check_metric(metric)
    t = _check_threshold(threshold)
    if int(row_chunk) < 1:
        msg = f"row_chunk must be >= 1, got {row_chunk!r}"
        raise ValueError(msg)
    a64, b64, nbits = _pair_inputs(a, b)
    nthreads = _threads(threads)
    if a64.shape[0] == 0 or a64.shape[1] == 0 or (b64 is not None and b64.shape[0] == 0):
        return
    impl = implementation()
    prepared = None if impl is None else plan(a64, b64, t, metric, nbits, prune, impl)
    for r0 in range(0, a64.shape[0], int(row_chunk)):
        part = a64[r0 : r0 + int(row_chunk)]
        if prepared is None or impl is None:
            i, j, s = reference.similarity_pairs(
                part, a64 if b64 is None else b64, t, metric=metric, nbits=nbits
            )
            if b64 is None:
                keep = j > i + r0
                i, j, s = i[keep], j[keep], s[keep]
            yield i + r0, j, s
        else:
            yield run(impl, prepared, part, r0, 0, nthreads)


def similarity_topk(
    a: Any, b: Any | None, k: int, threshold: float, *, metric: str = "dice",
    threads: int | None = None,
) -> Pairs:
    """The ``k`` best pairs per row of A with score >= threshold.

    Returns (i, j, score) sorted by i, then score descending, then j (a tie keeps the
    lower j). ``b=None`` compares ``a`` with itself, pairs i < j only.
    """
    metric = _check_metric(metric)
    t = _check_threshold(threshold)
    if int(k) < 1:
        msg = f"k must be >= 1, got {k!r}"
        raise ValueError(msg)
    a64, b64, nbits = _pair_inputs(a, b)
    nthreads = _threads(threads)
    impl = implementation()
    if impl is None:
        return reference.similarity_topk(a64, b64, int(k), t, metric=metric, nbits=nbits)
    if a64.shape[0] == 0 or a64.shape[1] == 0 or (b64 is not None and b64.shape[0] == 0):
        return _empty_pairs()
    prepared = plan(a64, b64, t, metric, nbits, True, impl)
    if b64 is None:
        return run_triangle(impl, prepared, a64, int(k), nthreads)
    return run(impl, prepared, a64, 0, int(k), nthreads)


def similarity_candidates(
    a: Any, b: Any | None, i: Any, j: Any, *, metric: str = "dice", threads: int | None = None,
    popcounts: tuple[Any, Any] | None = None,
) -> Scores:
    """Scores (float32) of listed pairs (a[i[p]], b[j[p]]), e.g. from blocking.

    Pairs involving an empty filter score 0. ``b=None`` means ``a`` against itself.
    ``popcounts`` may pass ``(popcount(a), popcount(b))`` prepared once by the caller, so
    repeated calls on the same matrices skip counting every row again (they must be
    exactly those counts: they are not checked beyond their shape).
    """
    metric = _check_metric(metric)
    a64, b64, nbits = _pair_inputs(a, b)
    bb = a64 if b64 is None else b64
    ii, jj = _pair_indices(i, j, a64.shape[0], bb.shape[0])
    nthreads = _threads(threads)
    impl = implementation()
    if impl is None or a64.shape[1] == 0:
        return reference.similarity_candidates(a64, bb, ii, jj, metric=metric, nbits=nbits)
    if popcounts is None:
        pa, pb = impl.popcount_rows(a64), impl.popcount_rows(bb)
    else:
        pa, pb = (_as_popcounts(p, rows, name) for p, rows, name in zip(
            popcounts, (a64.shape[0], bb.shape[0]), ("popcounts[0]", "popcounts[1]"),
            strict=True))
    scores: Scores = impl.pair_scores(
        a64, pa, bb, pb, ii, jj, METRIC_CODE[metric], float(nbits), nthreads
    )
    return scores


def intersection_counts(
    a: Any, b: Any | None, i: Any, j: Any, *, segments: Sequence[tuple[int, int]] = (),
    threads: int | None = None,
) -> npt.NDArray[np.int32]:
    """Intersection counts ``|a[i[p]] & b[j[p]]|`` of listed pairs, whole and per segment.

    One pass over the two rows of each pair gives every count a scorer needs; with the
    popcounts it already holds it derives Dice, field-level Dice or any other score
    without asking the kernel again.

    Parameters:
        a, b: packed bit matrices with the same bit length (``b=None``: ``a`` again).
        i, j: row indices into ``a`` and ``b``, one pair per position.
        segments: ``(start, bits)`` bit ranges (e.g. the CLK's field segments).
        threads: worker threads (default: all usable cores); results do not depend on it.

    Returns:
        int32[len(i), 1 + len(segments)]: column 0 counts over the whole rows, column
        ``1 + s`` within segment ``s`` only.

    Example:
        >>> import numpy as np
        >>> a = np.array([[0b1111_0000_1111]], dtype=np.uint64)
        >>> b = np.array([[0b0011_0000_0111]], dtype=np.uint64)
        >>> intersection_counts(a, b, [0], [0], segments=[(0, 4), (8, 4)]).tolist()
        [[5, 3, 2]]
    """
    a64, b64, nbits = _pair_inputs(a, b)
    bb = a64 if b64 is None else b64
    ii, jj = _pair_indices(i, j, a64.shape[0], bb.shape[0])
    layout = [(int(start), int(bits)) for start, bits in segments]
    for start, bits in layout:
        if start < 0 or bits < 1 or start + bits > a64.shape[1] * 64:
            msg = f"segments must be (start, bits) ranges inside {nbits} bits, got {(start, bits)}"
            raise ValueError(msg)
    words = a64.shape[1]
    masks = np.zeros((len(layout), words), np.uint64)
    for s, (start, bits) in enumerate(layout):
        masks[s] = segment_mask(start, bits, words)
    impl = implementation()
    if impl is None or words == 0:
        return reference.intersection_counts(a64, bb, ii, jj, masks)
    lo = np.array([start >> 6 for start, _ in layout], np.int64)
    hi = np.array([(start + bits + 63) >> 6 for start, bits in layout], np.int64)
    counts: npt.NDArray[np.int32] = impl.pair_counts(
        a64, bb, ii, jj, lo, hi, masks, _threads(threads)
    )
    return counts


@functools.lru_cache(maxsize=256)
def _mask(start: int, bits: int, words: int) -> npt.NDArray[np.uint64]:
    flags = np.zeros(words * 64, np.bool_)
    flags[start : start + bits] = True
    mask = np.packbits(flags, bitorder="little").view("<u8").astype(np.uint64)
    mask.flags.writeable = False
    return mask


def segment_mask(start: int, bits: int, words: int) -> npt.NDArray[np.uint64]:
    """``uint64[words]`` with CLK bits ``start .. start + bits - 1`` set (the Clks layout:
    bit b is bit ``b % 64`` of word ``b // 64``). Read-only; cached per layout.

    Example:
        >>> segment_mask(62, 4, 2).tolist()
        [13835058055282163712, 3]
    """
    if start < 0 or bits < 0 or start + bits > words * 64:
        msg = f"segment ({start}, {bits}) does not fit in {words} words"
        raise ValueError(msg)
    return _mask(int(start), int(bits), int(words))


def dice_pairs(
    a: Any, b: Any | None, threshold: float, *, threads: int | None = None, prune: bool = True
) -> Pairs:
    """All pairs with Dice >= threshold: :func:`similarity_pairs` with metric="dice"."""
    return similarity_pairs(a, b, threshold, metric="dice", threads=threads, prune=prune)


def iter_dice_pairs(
    a: Any, b: Any | None, threshold: float, *, row_chunk: int = 4096,
    threads: int | None = None,
) -> Iterator[Pairs]:
    """Chunked :func:`dice_pairs`: see :func:`iter_similarity_pairs`."""
    return iter_similarity_pairs(
        a, b, threshold, metric="dice", row_chunk=row_chunk, threads=threads
    )


def dice_topk(
    a: Any, b: Any | None, k: int, threshold: float, *, threads: int | None = None
) -> Pairs:
    """Best ``k`` Dice matches per row: :func:`similarity_topk` with metric="dice"."""
    return similarity_topk(a, b, k, threshold, metric="dice", threads=threads)


def dice_candidates(
    a: Any, b: Any | None, i: Any, j: Any, *, threads: int | None = None,
    popcounts: tuple[Any, Any] | None = None,
) -> Scores:
    """Dice scores of listed pairs: :func:`similarity_candidates` with metric="dice"."""
    return similarity_candidates(
        a, b, i, j, metric="dice", threads=threads, popcounts=popcounts
    )
