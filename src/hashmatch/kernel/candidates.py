"""The compiled candidate path: blocked pairs expanded, and scored, in C loops.

Two typed wrappers over the compiled variant in use (:mod:`hashmatch.kernel.dispatch`),
each splitting its work into units run on all cores with the GIL released:

* :func:`expand_candidates`: the distinct ``(i, j)`` pairs of a range of left rows from
  the sorted key tables of :mod:`hashmatch.link.blocking` (sorted by ``(i, j)``, with
  each table's own distinct count), as its numpy reference ``_expand`` + ``_sorted_unique``
  gives them.
* :func:`key_table`: a blocking method's key table (right entries sorted by key, their
  groups, oversized ones dropped, each left entry's group) from its mixed keys, by radix
  sorts in C, as its numpy reference in ``_build_table`` gives it.
* :func:`band_keys`: the LSH band keys mixed from a uint16 MinHash pool, as its numpy
  reference ``_band_keys`` gives them.
* :func:`minhash`: the MinHash pool of LSH blocking (rank of each row's first set bit
  in each seeded bit order), as its numpy reference ``_minhash`` gives it.
* :func:`combined_plan` and :func:`combined_scores`: the combined Dice score of
  :class:`hashmatch.link.scorer.PairScorer` from one read of each pair's two rows, equal
  to the bit to its numpy reference (which the scorer keeps, and uses when no compiled
  variant is active).

Both return None when the active kernel is the numpy reference (``HASHMATCH_KERNEL=numpy``
or no compiled module); callers then take their numpy path.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices, Scores
from hashmatch.kernel.dispatch import implementation
from hashmatch.kernel.similarity import _threads

__all__ = [
    "KeyTableArrays",
    "band_keys",
    "combined_plan",
    "combined_scores",
    "compiled",
    "expand_candidates",
    "key_table",
    "minhash",
    "raw_partners",
]

#: (width, left_group, group_start, group_size, right_order, rank or None) of a key table.
KeyTableArrays = tuple[int, Indices, Indices, Indices, Indices, Indices | None]

#: Raw (not yet de-duplicated) pairs per work unit of expand_candidates.
UNIT_PAIRS = 1 << 16
#: Most field segments the combined score handles (the C side's fixed-size scratch).
MAX_SEGMENTS = 64


def compiled() -> bool:
    """True when a compiled variant is active (the candidate path runs in C)."""
    return implementation() is not None


def expand_candidates(
    tables: Sequence[KeyTableArrays],
    dedup: bool,
    start: int,
    stop: int,
    raw_per_row: Indices,
    threads: int | None = None,
) -> tuple[Indices, Indices, Indices] | None:
    """Distinct candidate pairs of left rows ``start .. stop - 1``: ``(i, j, per_table)``.

    ``raw_per_row[r]`` is row ``start + r``'s partner count summed over the tables before
    de-duplication (it sizes the output and balances the work units). ``per_table[t]``
    counts the distinct pairs table ``t`` alone gives. None without a compiled kernel.
    """
    impl = implementation()
    if impl is None:
        return None
    raw = np.ascontiguousarray(raw_per_row, dtype=np.int64)
    if len(raw) != stop - start:
        msg = f"raw_per_row: expected {stop - start} counts, got {len(raw)}"
        raise ValueError(msg)
    cum = np.concatenate([[0], np.cumsum(raw)])
    # units of about UNIT_PAIRS raw pairs (whole rows), so the threads stay busy
    cuts = np.searchsorted(cum, np.arange(0, int(cum[-1]), UNIT_PAIRS), "right") - 1
    rows = np.unique(np.concatenate([cuts, [len(raw)]]).clip(0, len(raw)))
    if rows[0] != 0:
        rows = np.concatenate([[0], rows])
    bounds = (rows + start).astype(np.int64)
    offsets = cum[rows].astype(np.int64)
    i, j, per_table = impl.expand_candidates(list(tables), dedup, bounds, offsets,
                                             _threads(threads))
    return i, j, per_table


def raw_partners(tables: Sequence[KeyTableArrays], dedup: bool, rows: int,
                 threads: int | None = None) -> Indices | None:
    """Each of left rows ``0 .. rows - 1``'s partner count summed over the tables, before
    de-duplication (what :func:`expand_candidates` writes before sorting). None without a
    compiled kernel."""
    impl = implementation()
    if impl is None:
        return None
    counts: Indices = impl.raw_partners(list(tables), dedup, rows, _threads(threads))
    return counts


def key_table(
    lkeys: Any, lvalid: Any, rkeys: Any, rvalid: Any, dedup: bool, max_block_pairs: int,
    threads: int | None = None,
) -> tuple[Indices, Indices, Indices, Indices, Indices | None, tuple[int, int, int]] | None:
    """``(right_order, group_start, group_size, left_group, rank, (largest kept block,
    blocks skipped, pairs skipped))`` of a key table from its flat mixed keys and their
    validity (the right ones are the left ones when ``dedup``). None without a compiled
    kernel."""
    impl = implementation()
    if impl is None:
        return None
    lk = np.ascontiguousarray(lkeys, dtype=np.uint64)
    lv = np.ascontiguousarray(lvalid, dtype=np.bool_).view(np.uint8)
    rk, rv = (lk, lv) if dedup else (np.ascontiguousarray(rkeys, dtype=np.uint64),
                                     np.ascontiguousarray(rvalid, dtype=np.bool_).view(np.uint8))
    if len(lk) != len(lv) or len(rk) != len(rv) or (dedup and len(lk) != len(rk)):
        msg = "key table: expected keys and validity of equal lengths"
        raise ValueError(msg)
    order, start, size, group, rank, stats = impl.key_table(lk, lv, rk, rv, dedup,
                                                            int(max_block_pairs),
                                                            _threads(threads))
    largest, blocks, pairs = (int(x) for x in stats)
    return order, start, size, group, rank, (largest, blocks, pairs)


def combined_plan(**arrays: Any) -> Any | None:
    """The compiled inputs of the combined score of one party pair, or None without a
    compiled kernel or beyond :data:`MAX_SEGMENTS` segments. Keyword arguments: those of
    the C struct ``hm_combined`` (``_hm_combined.h``), built by
    :class:`hashmatch.link.scorer.PairScorer`; arrays are made contiguous here."""
    impl = implementation()
    if impl is None or len(arrays["seg_lo"]) > MAX_SEGMENTS:
        return None
    dtypes: dict[str, npt.DTypeLike] = {
        "a": np.uint64, "b": np.uint64, "tot_a": np.int64, "tot_b": np.int64,
        "pop_a": np.uint16, "pop_b": np.uint16, "pres_a": np.uint8, "pres_b": np.uint8,
        "nested": np.uint8, "seg_lo": np.int64, "seg_hi": np.int64, "seg_mask": np.uint64,
        "counted": np.uint8, "sw_s": np.int64, "sw_t": np.int64, "sw_words": np.int64,
        "tok_a": np.uint8, "tok_b": np.uint8,
        "st_seg": np.int64, "st_below": np.float32, "tok_bonus": np.float64,
        "tok_penalty": np.float64, "factor_pow": np.float64,
    }
    args = dict(arrays)
    for name, dtype in dtypes.items():
        value = args[name]
        if dtype in (np.uint8,) and np.asarray(value).dtype == np.bool_:
            value = np.asarray(value).view(np.uint8)
        args[name] = np.ascontiguousarray(value, dtype=dtype)
    args["swap_rows"] = [np.ascontiguousarray(x, dtype=np.uint64) for x in args["swap_rows"]]
    return impl.CombinedPlan(**args)


def combined_scores(plan: Any, i: Indices, j: Indices, threads: int | None = None) -> Scores:
    """Combined scores of pairs ``(i[k], j[k])`` under ``plan`` (rows already checked)."""
    impl = implementation()
    assert impl is not None  # a plan exists only with a compiled kernel
    ii = np.ascontiguousarray(i, dtype=np.int64)
    jj = np.ascontiguousarray(j, dtype=np.int64)
    scores: Scores = impl.combined_scores(plan, ii, jj, _threads(threads))
    return scores


def minhash(clks: Any, orders: Sequence[Indices], threads: int | None = None
            ) -> Indices | None:
    """MinHash values ``int64[len(orders), rows]``: the rank in each order (bit positions)
    of each row's first set bit, the order's length if none is. None without a compiled
    kernel."""
    impl = implementation()
    if impl is None:
        return None
    arr = np.ascontiguousarray(clks, dtype=np.uint64)
    pos = np.ascontiguousarray(np.concatenate(orders) if orders else np.zeros(0), np.int64)
    if len(pos) and (pos.min() < 0 or pos.max() >= arr.shape[1] * 64):
        msg = f"bit orders: expected positions inside {arr.shape[1] * 64} bits"
        raise ValueError(msg)
    off = np.concatenate([[0], np.cumsum([len(o) for o in orders])]).astype(np.int64)
    values: Indices = impl.minhash(arr, pos, off, _threads(threads))
    return values


def band_keys(pool: Any, plan: Sequence[Sequence[int]], empty: Indices,
              threads: int | None = None) -> tuple[Any, Any] | None:
    """Band keys ``uint64[bands, rows]`` and validity ``bool[bands, rows]`` of a MinHash
    pool held as uint16 (``plan[b]``: the pool rows band ``b`` mixes). None without a
    compiled kernel or for another pool dtype."""
    impl = implementation()
    if impl is None or pool.dtype != np.uint16 or not plan:
        return None
    cols = np.ascontiguousarray(np.concatenate([np.asarray(b, np.int64) for b in plan]),
                                np.int64)
    if len(cols) and (cols.min() < 0 or cols.max() >= pool.shape[0]):
        msg = f"band plan: expected pool rows inside {pool.shape[0]}"
        raise ValueError(msg)
    off = np.concatenate([[0], np.cumsum([len(b) for b in plan])]).astype(np.int64)
    keys, valid = impl.band_keys(np.ascontiguousarray(pool), cols, off,
                                 np.ascontiguousarray(empty, np.int64), _threads(threads))
    return keys, valid
