"""One comparison of A rows against B on the grid: prepare, then run a compiled variant.

Preparation is exact and cheap (O(rows) numpy calls, one thread): the popcounts of both
sides, B sorted by popcount, the threshold table ``cmin`` (the least intersection that
reaches the threshold, per popcount sum) and the feasible B popcount range of every A row.
The compiled ``grid_pairs`` / ``triangle_pairs`` then walk only those ranges. Inputs are
already validated by :mod:`hashmatch.kernel.similarity`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import numpy.typing as npt

from hashmatch._types import Clks, Pairs
from hashmatch.kernel import reference

__all__ = ["METRIC_CODE", "Plan", "plan", "run", "run_triangle"]

#: Metric names as the compiled side numbers them (enum in _hm_score.h).
METRIC_CODE = {"dice": 0, "jaccard": 1, "hamming": 2}

#: Rows of A per work unit handed to a thread (upper bound); B tiles are reused across them.
_MAX_CHUNK_ROWS = 256


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
class Plan:
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


def plan(
    a: Clks, b: Clks | None, threshold: float, metric: str, nbits: int, prune: bool,
    impl: ModuleType,
) -> Plan:
    words = a.shape[1]
    cmin = _threshold_table(threshold, metric, words, float(nbits))
    lo, hi = _popcount_ranges(cmin, words * 64, impl.popcount_rows(a))
    sorted_b = _SortedB.of(a if b is None else b, impl)
    return Plan(sorted_b, cmin, lo, hi, metric, float(nbits), b is None, prune)


def _chunk_rows(rows: int, threads: int) -> int:
    """Rows of A per work unit: at most _MAX_CHUNK_ROWS, and 16 units per thread or more.

    Units are handed out dynamically, so the last one finishing alone bounds the idle
    time of the other threads: with 16 per thread that is a few percent at most. Smaller
    units cost little (each re-reads B from L2/L3 once).
    """
    return max(1, min(_MAX_CHUNK_ROWS, math.ceil(rows / (16 * threads))))


def run(
    impl: ModuleType, plan: Plan, a: Clks, i_offset: int, topk: int, threads: int
) -> Pairs:
    pa = impl.popcount_rows(a)
    start, end = plan.ranges(pa)
    b = plan.b
    result: Pairs = impl.grid_pairs(
        a, pa, start, end, i_offset, b.rows, b.pop, b.order, b.run_end, plan.cmin,
        METRIC_CODE[plan.metric], plan.nbits, plan.self_mode, topk, threads,
        _chunk_rows(a.shape[0], threads),
    )
    return result


def run_triangle(impl: ModuleType, plan: Plan, a: Clks, topk: int, threads: int) -> Pairs:
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
        METRIC_CODE[plan.metric], plan.nbits, topk, threads,
        _chunk_rows(a.shape[0], threads),
    )
    return result
