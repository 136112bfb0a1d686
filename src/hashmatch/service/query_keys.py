"""Blocking keys of a few query records, computed the way the registry keyed its own.

The registry keys a record (:func:`hashmatch.registry.candidates.record_keys`) with its
LSH plan's MinHash pool: for each of the pool's seeded bit orders, the rank of the first
set bit of a CLK segment. That code is built for whole files (a pass per order over
every row); for the one record a lookup holds it would spend milliseconds in set-up.
:class:`QueryKeys` turns the same plan, once when the index loads, into arrays a query
reads directly:

* ``rank_t[bit, h]``: the rank of ``bit`` in order ``h`` (the segment's width for bits
  outside the segment), so a record's MinHash value of order ``h`` is the smallest rank
  among its set bits, and an empty segment gets the width, the pool's "empty" value;
* each band's pool positions, padded to one length, for an FNV mix of all bands at once;
* the column salts that keep equal keys of different columns apart.

The keys are the registry's, bit for bit (``tests/unit/service/test_query_keys.py``
compares them with ``record_keys`` over random rows); the registry's code stays the
oracle. Cost per record: one gather of ``hashes x set bits`` ranks and a few vector ops.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from hashmatch.link.blocking import LshPlan
from hashmatch.registry.records import Layout

__all__ = ["QueryKeys"]

# The registry's mixing constants (hashmatch.registry.candidates, hashmatch.link.blocking).
_FNV_OFFSET = np.uint64(0xCBF2_9CE4_8422_2325)
_FNV_PRIME = np.uint64(0x0000_0100_0000_01B3)
_SALT = np.uint64(0x9E37_79B9_7F4A_7C15)
_MIX = np.uint64(0xBF58_476D_1CE4_E5B9)
#: Pool positions enter a band's key shifted by this, so equal values of different
#: hashes give different keys.
_POSITION_SHIFT = 65536


class QueryKeys:
    """The registry's blocking keys for query rows, from its LSH plan and layout."""

    def __init__(self, plan: LshPlan, layout: Layout) -> None:
        self.token_names = tuple(layout.token_names)
        segs, per_seg = plan.segments, plan.hashes_per_segment
        clk_bits = layout.clk_bits
        rng = np.random.default_rng(plan.seed)  # the pool's bit orders, as the plan draws them
        orders = [a + rng.permutation(b) for a, b in segs for _ in range(per_seg)]
        self.empty = np.repeat([b for _, b in segs], per_seg).astype(np.int64)
        rank = np.repeat(self.empty[:, None], clk_bits, axis=1)
        for h, order in enumerate(orders):
            rank[h, order] = np.arange(len(order))
        self.rank_t = np.ascontiguousarray(rank.T.astype(np.int32))  # [bits, hashes]
        # segment (pool row // per_seg) -> the field column saying whether it is present
        where = [layout.field_names.index(s.field) for s in layout.segments]
        self.pool_field = np.repeat(np.asarray(where, np.intp), per_seg)
        if len(where) != len(segs):
            msg = "the LSH plan's segments do not match the registry's layout"
            raise ValueError(msg)
        width = max((len(b) for b in plan.bands), default=0)
        self.band_cols = np.zeros((len(plan.bands), width), np.intp)
        self.band_used = np.zeros((len(plan.bands), width), np.bool_)
        for b, cols in enumerate(plan.bands):
            self.band_cols[b, :len(cols)] = cols
            self.band_used[b, :len(cols)] = True
        self.band_offset = (self.band_cols * _POSITION_SHIFT).astype(np.uint64)
        n_columns = len(self.token_names) + len(plan.bands)
        with np.errstate(over="ignore"):
            self.salts = (np.arange(1, n_columns + 1, dtype=np.uint64) * _SALT)

    def keys(self, clks: npt.NDArray[np.uint64], tokens: Mapping[str, npt.NDArray[np.uint8]],
             present: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.int64],
                                                      npt.NDArray[np.int64]]:
        """``(row, key)`` of every valid key of the rows, as ``record_keys`` gives them
        (its ``rid`` is the row's number here; the same keys, in another order)."""
        n = len(clks)
        if self.token_names:  # [rows, columns, 16] -> the first 8 bytes of each token
            stacked = np.stack([np.ascontiguousarray(tokens[name], np.uint8).reshape(n, 16)
                                for name in self.token_names], axis=1)
            words = stacked.view("<u8")  # [rows, columns, 2]
            token_key, token_valid = words[:, :, 0].astype(np.uint64), (words != 0).any(axis=2)
        else:
            token_key, token_valid = np.zeros((n, 0), np.uint64), np.zeros((n, 0), np.bool_)
        band_key, band_valid = self._bands(clks, present)
        key = np.concatenate([token_key, band_key], axis=1)
        valid = np.concatenate([token_valid, band_valid], axis=1)
        with np.errstate(over="ignore"):
            mixed = ((key ^ self.salts[None, :]) * _MIX).view(np.int64)
        rows, column = np.nonzero(valid)
        return rows.astype(np.int64), mixed[rows, column]

    def _bands(self, clks: npt.NDArray[np.uint64], present: npt.NDArray[np.bool_]
               ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
        """Band keys and validity ``[rows, bands]``."""
        n = len(clks)
        pool = np.empty((n, len(self.empty)), np.int64)
        bits = np.unpackbits(np.ascontiguousarray(clks, "<u8").view(np.uint8), axis=1,
                             bitorder="little")
        for r in range(n):
            set_bits = np.flatnonzero(bits[r])
            # rank_t[bit] is a contiguous row: gathering rows beats gathering columns
            pool[r] = self.rank_t[set_bits].min(axis=0) if len(set_bits) else self.empty
        absent = ~np.asarray(present, np.bool_)[:, self.pool_field]
        pool[absent] = np.broadcast_to(self.empty, pool.shape)[absent]
        values = pool[:, self.band_cols]  # [rows, bands, width]
        valid = ((values != self.empty[self.band_cols]) | ~self.band_used).all(axis=2)
        key = np.full(values.shape[:2], _FNV_OFFSET, np.uint64)
        mixed_in = values.astype(np.uint64) + self.band_offset
        with np.errstate(over="ignore"):
            for j in range(values.shape[2]):
                step = (key ^ mixed_in[:, :, j]) * _FNV_PRIME
                key = np.where(self.band_used[:, j], step, key)
        return key, valid
