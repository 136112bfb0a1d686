"""Similarity kernel: compare every candidate pair of CLKs (public API of the link stage).

Inputs are packed bit matrices: ``uint64[rows, words]`` (the :data:`hashmatch._types.Clks`
layout), or ``uint8[rows, bytes]`` / ``bool[rows, bits]`` of any length, which are padded
with zero bits to whole 64-bit words (padding changes no score). This module validates
and prepares (popcounts, B sorted by popcount, the exact threshold table and the feasible
popcount range of every row), then runs a compiled variant:

========  =============================================  ===============================
variant   module                                         chosen when
========  =============================================  ===============================
avx512    ``_core_avx512`` (-mavx512f -mavx512vpopcntdq)  CPUID has AVX-512F + VPOPCNTDQ
avx2      ``_core_avx2`` (-mavx2 -mpopcnt)                CPUID has AVX2 + POPCNT
scalar    ``_core`` (baseline ISA, portable)              always built
numpy     :mod:`hashmatch.kernel.reference`                   no compiled module (warns)
========  =============================================  ===============================

``HASHMATCH_KERNEL=auto|avx512|avx2|scalar|numpy`` forces a variant (an unavailable one is
an error, never a silent fallback). Every variant returns identical hits and float32
scores, for any thread count. Design notes: docs/explanation/kernel.md.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import import_module
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch._types import Clks, Indices, Scores
from hashmatch.kernel import reference

__all__ = [
    "METRICS",
    "Pairs",
    "active_kernel",
    "available_kernels",
    "dice_candidates",
    "dice_pairs",
    "dice_topk",
    "iter_dice_pairs",
    "iter_similarity_pairs",
    "popcount",
    "set_kernel",
    "similarity_candidates",
    "similarity_pairs",
    "similarity_topk",
]

METRICS = reference.METRICS
_METRIC_CODE = {"dice": 0, "jaccard": 1, "hamming": 2}

#: (i, j, score): int64 row of A, int64 row of B, float32 score.
Pairs = tuple[Indices, Indices, Scores]

_VARIANTS = ("avx512", "avx2", "scalar", "numpy")
_MODULES = {"avx512": "_core_avx512", "avx2": "_core_avx2", "scalar": "_core"}
_NEEDS = {"avx512": ("avx512f", "avx512vpopcntdq"), "avx2": ("avx2", "popcnt"), "scalar": ()}

#: Rows of A per work unit handed to a thread (upper bound); B tiles are reused across them.
_MAX_CHUNK_ROWS = 256


# ----------------------------------------------------------------- variant selection


def _cpu_features() -> dict[str, bool]:
    try:
        base = import_module("hashmatch.kernel._core")
    except ImportError:
        return {}
    features: dict[str, bool] = base.cpu_features()
    return features


def available_kernels() -> list[str]:
    """Variants usable on this machine and build, fastest first ("numpy" is always there)."""
    features = _cpu_features()
    usable = []
    for name, module in _MODULES.items():
        if not features or not all(features.get(f, False) for f in _NEEDS[name]):
            continue
        try:
            import_module(f"hashmatch.kernel.{module}")
        except ImportError:
            continue
        usable.append(name)
    return [*usable, "numpy"]


def _load(name: str) -> ModuleType | None:
    if name not in _VARIANTS:
        msg = f"HASHMATCH_KERNEL must be one of auto, {', '.join(_VARIANTS)}; got {name!r}"
        raise ValueError(msg)
    if name == "numpy":
        return None
    if name not in available_kernels():
        msg = f"kernel variant {name!r} is not available on this CPU or build"
        raise RuntimeError(msg)
    return import_module(f"hashmatch.kernel.{_MODULES[name]}")


def _auto() -> tuple[str, ModuleType | None]:
    usable = available_kernels()
    if usable[0] == "numpy":
        warnings.warn(
            "hashmatch's compiled kernel is missing; using the slow numpy fallback",
            RuntimeWarning,
            stacklevel=3,
        )
    return usable[0], _load(usable[0])


def set_kernel(name: str) -> str:
    """Switch the variant for this process ("auto" or a name); returns the previous name.

    Meant for tests and benchmarks; the environment variable HASHMATCH_KERNEL does the
    same at import time.
    """
    global _ACTIVE, _IMPL
    previous = _ACTIVE
    _ACTIVE, _IMPL = _auto() if name == "auto" else (name, _load(name))
    return previous


def active_kernel() -> str:
    """Name of the variant in use: "avx512", "avx2", "scalar" or "numpy"."""
    return _ACTIVE


_ACTIVE: str = "numpy"
_IMPL: ModuleType | None = None
set_kernel(os.environ.get("HASHMATCH_KERNEL", "auto").strip().lower() or "auto")


# ----------------------------------------------------------------- validation


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
    if metric not in _METRIC_CODE:
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


def _empty_pairs() -> Pairs:
    return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)


# ----------------------------------------------------------------- preparation


def _threshold_table(
    threshold: float, metric: str, words: int, nbits: float
) -> npt.NDArray[np.int32]:
    """cmin[s]: the least intersection c with score(c, s) >= threshold, s = |a| + |b|.

    Scores rise with c for fixed s (also in float64), so `c >= cmin[s]` is exactly the
    test `score >= threshold` that :mod:`reference` makes. Found by a vectorised binary
    search over c in [0, s // 2] (c never exceeds min(|a|, |b|) <= s / 2); "never" is
    words * 64 + 1, more than any count.
    """
    top = words * 64
    s = np.arange(2 * top + 1, dtype=np.int64)
    cmax = np.minimum(s // 2, top)
    lo, hi = np.zeros_like(s), cmax + 1  # answer in [lo, hi]; hi = cmax + 1 means none
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        ok = reference.scores(mid, np.maximum(s, 1), metric, nbits) >= threshold
        hi = np.where(active & ok, mid, hi)
        lo = np.where(active & ~ok, mid + 1, lo)
    cmin = np.where(lo > cmax, top + 1, lo)
    cmin[0] = top + 1  # two empty filters never match
    return cmin.astype(np.int32)


def _popcount_ranges(
    cmin: npt.NDArray[np.int32], top: int, present: npt.NDArray[np.int32]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per popcount p in `present`: the feasible [lo, hi] popcounts of B (lo > hi: none).

    A pair can only hit if its best possible count min(|a|, |b|) reaches cmin; this is
    the exact form of the bound t/(2-t) <= |b|/|a| <= (2-t)/t for Dice.
    """
    lo = np.full(top + 1, top + 1, np.int64)
    hi = np.full(top + 1, -1, np.int64)
    pb = np.arange(1, top + 1, dtype=np.int64)
    values = np.unique(present[present > 0]).astype(np.int64)  # only popcounts A has
    step = max(1, (1 << 22) // max(1, top))
    for p0 in range(0, values.size, step):
        p = values[p0 : p0 + step, None]
        ok = np.minimum(p, pb[None, :]) >= cmin[p + pb[None, :]]
        has = ok.any(axis=1)
        first = np.argmax(ok, axis=1) + 1
        last = top - np.argmax(ok[:, ::-1], axis=1)
        lo[p[:, 0]] = np.where(has, first, top + 1)
        hi[p[:, 0]] = np.where(has, last, -1)
    return lo, hi


@dataclass(frozen=True)
class _SortedB:
    """B rows sorted by popcount, with what the compiled kernel needs to walk them."""

    rows: Clks
    pop: npt.NDArray[np.int32]
    order: npt.NDArray[np.int64]
    run_end: npt.NDArray[np.int64]

    #: first[p]: first sorted position with popcount >= p, for p in 0..bits + 1.
    first: npt.NDArray[np.int64]

    @classmethod
    def of(cls, b: Clks, impl: ModuleType) -> _SortedB:
        # This runs on one thread before the parallel kernel, so it is kept to O(rows)
        # numpy calls: popcounts fit in 16 bits for any CLK up to 65535 bits, which lets
        # numpy use its radix sort (10x faster than the int32 merge sort).
        pb = impl.popcount_rows(b)
        keys = pb.astype(np.uint16) if b.shape[1] * 64 < 1 << 16 else pb
        order = np.argsort(keys, kind="stable").astype(np.int64)
        pop = np.ascontiguousarray(pb[order])
        first = np.searchsorted(pop, np.arange(b.shape[1] * 64 + 2), side="left").astype(np.int64)
        run_end = first[pop + 1]
        return cls(np.take(b, order, axis=0), pop, order, run_end, first)


@dataclass(frozen=True)
class _Plan:
    """Everything fixed for one comparison of A slices against a prepared B."""

    b: _SortedB
    cmin: npt.NDArray[np.int32]
    lo: npt.NDArray[np.int64]
    hi: npt.NDArray[np.int64]
    metric: str
    nbits: float
    self_mode: bool
    prune: bool

    def ranges(
        self, pa: npt.NDArray[np.int32]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        first = self.b.first  # lo in 1..bits + 1 and hi in -1..bits index it directly
        if self.prune:
            start = first[self.lo[pa]]
            end = np.maximum(first[self.hi[pa] + 1], start)
        else:
            start = np.full(pa.shape, first[1], np.int64)
            end = np.full(pa.shape, self.b.pop.size, np.int64)
        live = pa > 0
        return np.where(live, start, 0), np.where(live, end, 0)


def _plan(
    a: Clks, b: Clks | None, threshold: float, metric: str, nbits: int, prune: bool,
    impl: ModuleType,
) -> _Plan:
    words = a.shape[1]
    cmin = _threshold_table(threshold, metric, words, float(nbits))
    lo, hi = _popcount_ranges(cmin, words * 64, impl.popcount_rows(a))
    sorted_b = _SortedB.of(a if b is None else b, impl)
    return _Plan(sorted_b, cmin, lo, hi, metric, float(nbits), b is None, prune)


def _chunk_rows(rows: int, threads: int) -> int:
    """Rows of A per work unit: at most _MAX_CHUNK_ROWS, and 16 units per thread or more.

    Units are handed out dynamically, so the last one finishing alone bounds the idle
    time of the other threads: with 16 per thread that is a few percent at most. Smaller
    units cost little (each re-reads B from L2/L3 once).
    """
    return max(1, min(_MAX_CHUNK_ROWS, math.ceil(rows / (16 * threads))))


def _run(
    impl: ModuleType, plan: _Plan, a: Clks, i_offset: int, topk: int, threads: int
) -> Pairs:
    pa = impl.popcount_rows(a)
    start, end = plan.ranges(pa)
    b = plan.b
    result: Pairs = impl.grid_pairs(
        a, pa, start, end, i_offset, b.rows, b.pop, b.order, b.run_end, plan.cmin,
        _METRIC_CODE[plan.metric], plan.nbits, plan.self_mode, topk, threads,
        _chunk_rows(a.shape[0], threads),
    )
    return result


def _run_triangle(impl: ModuleType, plan: _Plan, a: Clks, topk: int, threads: int) -> Pairs:
    """A against itself (plan from ``b=None``), each unordered pair compared once.

    Row i walks only the sorted positions after its own, so pair {i, j} is compared by
    whichever of the two comes first in popcount order; the compiled side hands the hit
    to row min(i, j). Used when the whole result is wanted at once (a streamed slice of
    rows needs pairs found by rows outside it, so iter_similarity_pairs walks in full).
    """
    pa = impl.popcount_rows(a)
    start, end = plan.ranges(pa)
    b = plan.b
    position = np.empty(a.shape[0], np.int64)
    position[b.order] = np.arange(a.shape[0], dtype=np.int64)
    start = np.maximum(start, position + 1)
    end = np.maximum(end, start)
    result: Pairs = impl.triangle_pairs(
        a, pa, start, end, b.rows, b.pop, b.order, b.run_end, plan.cmin,
        _METRIC_CODE[plan.metric], plan.nbits, topk, threads,
        _chunk_rows(a.shape[0], threads),
    )
    return result


# ----------------------------------------------------------------- public API


def popcount(a: Any) -> npt.NDArray[np.int32]:
    """Number of set bits in each row of a packed bit matrix.

    Example:
        >>> import numpy as np
        >>> popcount(np.array([[0, 1], [2**64 - 1, 3]], dtype=np.uint64)).tolist()
        [1, 66]
    """
    a64, _ = _as_clks(a, "a")
    if _IMPL is None or a64.shape[1] == 0:
        return reference.popcount(a64)
    out: npt.NDArray[np.int32] = _IMPL.popcount_rows(a64)
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
    if _IMPL is None:
        return reference.similarity_pairs(a64, b64, t, metric=metric, nbits=nbits)
    if a64.shape[0] == 0 or a64.shape[1] == 0 or (b64 is not None and b64.shape[0] == 0):
        return _empty_pairs()
    plan = _plan(a64, b64, t, metric, nbits, prune, _IMPL)
    if b64 is None:
        return _run_triangle(_IMPL, plan, a64, 0, nthreads)
    return _run(_IMPL, plan, a64, 0, 0, nthreads)


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
    plan = None if _IMPL is None else _plan(a64, b64, t, metric, nbits, prune, _IMPL)
    for r0 in range(0, a64.shape[0], int(row_chunk)):
        part = a64[r0 : r0 + int(row_chunk)]
        if plan is None or _IMPL is None:
            i, j, s = reference.similarity_pairs(
                part, a64 if b64 is None else b64, t, metric=metric, nbits=nbits
            )
            if b64 is None:
                keep = j > i + r0
                i, j, s = i[keep], j[keep], s[keep]
            yield i + r0, j, s
        else:
            yield _run(_IMPL, plan, part, r0, 0, nthreads)


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
    if _IMPL is None:
        return reference.similarity_topk(a64, b64, int(k), t, metric=metric, nbits=nbits)
    if a64.shape[0] == 0 or a64.shape[1] == 0 or (b64 is not None and b64.shape[0] == 0):
        return _empty_pairs()
    plan = _plan(a64, b64, t, metric, nbits, True, _IMPL)
    if b64 is None:
        return _run_triangle(_IMPL, plan, a64, int(k), nthreads)
    return _run(_IMPL, plan, a64, 0, int(k), nthreads)


def similarity_candidates(
    a: Any, b: Any | None, i: Any, j: Any, *, metric: str = "dice", threads: int | None = None
) -> Scores:
    """Scores (float32) of listed pairs (a[i[p]], b[j[p]]), e.g. from blocking.

    Pairs involving an empty filter score 0. ``b=None`` means ``a`` against itself.
    """
    metric = _check_metric(metric)
    a64, b64, nbits = _pair_inputs(a, b)
    bb = a64 if b64 is None else b64
    ii = np.ascontiguousarray(i, dtype=np.int64)
    jj = np.ascontiguousarray(j, dtype=np.int64)
    if ii.ndim != 1 or ii.shape != jj.shape:
        msg = f"i and j must be 1-dimensional and of equal length, got {ii.shape} and {jj.shape}"
        raise ValueError(msg)
    for idx, rows, name in ((ii, a64.shape[0], "i"), (jj, bb.shape[0], "j")):
        if idx.size and (idx.min() < 0 or idx.max() >= rows):
            msg = f"{name} holds row indices outside 0..{rows - 1}"
            raise IndexError(msg)
    nthreads = _threads(threads)
    if _IMPL is None or a64.shape[1] == 0:
        return reference.similarity_candidates(a64, bb, ii, jj, metric=metric, nbits=nbits)
    scores: Scores = _IMPL.pair_scores(
        a64, _IMPL.popcount_rows(a64), bb, _IMPL.popcount_rows(bb), ii, jj,
        _METRIC_CODE[metric], float(nbits), nthreads,
    )
    return scores


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
    a: Any, b: Any | None, i: Any, j: Any, *, threads: int | None = None
) -> Scores:
    """Dice scores of listed pairs: :func:`similarity_candidates` with metric="dice"."""
    return similarity_candidates(a, b, i, j, metric="dice", threads=threads)
