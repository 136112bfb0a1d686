"""Blocking for a registry: keys computed once per record, joined in memory for new records.

A batch link measures its LSH band layout on the two files of each party pair; a registry
fixes one layout (an :class:`~hashmatch.link.blocking.LshPlan`) on its first run, measured
on all records with the selectivity a single party pair would get (``lsh_pairs_per_row``
per row of a party of average size), and keeps it, so every record's keys stay valid.
Each record has one key per exact-token column (the token's first 8 bytes, as in a batch
link) and one per LSH band, mixed with the column number so equal values of different
columns never meet. The stored keys live in the registry's index segments, sorted
(:mod:`~hashmatch.registry.index`): a run computes the keys of its new and changed
records and searches those segments for them (:func:`partner_pairs`: no per-key
database probe, no scan of every stored key), pairing each new record with every record
sharing a key. (Layout 2 kept a record's keys as one blob, :func:`pack_keys`; the
upgrades still read and write that form.)

A key shared by more than :data:`MAX_BLOCK_ROWS` records (a placeholder e-mail, a band
where everything collides) is not used, as a batch link skips blocks of more than
``max_block_pairs`` pairs; such keys are counted in the run's statistics.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict

import numpy as np
import numpy.typing as npt

from hashmatch.link.blocking import BlockingConfig, LshPlan, plan_lsh, token_keys
from hashmatch.registry.arrays import distinct
from hashmatch.registry.records import Layout, RecordSet

__all__ = [
    "MAX_BLOCK_ROWS",
    "Holders",
    "candidate_pairs",
    "make_plan",
    "pack_keys",
    "partner_pairs",
    "plan_from_json",
    "plan_to_json",
    "record_keys",
    "unpack_keys",
]

#: Keys shared by more records than this are skipped (sqrt of a batch link's default
#: ``max_block_pairs``, 250,000: the same block size for two equal parties).
MAX_BLOCK_ROWS = 500

_U64 = npt.NDArray[np.uint64]


def make_plan(records: Sequence[RecordSet], layout: Layout,
              config: BlockingConfig | None = None) -> LshPlan:
    """The LSH layout for a new registry, measured on its first records (all parties)."""
    config = config or BlockingConfig()
    everything = RecordSet.concat(layout, records)
    mean_party = max(len(everything.rids) // max(len(records), 1), 1)
    return plan_lsh(everything.clks, None, config,
                    segments=[(s.start, s.bits) for s in layout.segments],
                    present=(_segment_present(everything, layout), None),
                    right_rows=mean_party)


def plan_to_json(plan: LshPlan) -> str:
    return json.dumps(asdict(plan))


def plan_from_json(text: str) -> LshPlan:
    doc = json.loads(text)
    return LshPlan(tuple(tuple(s) for s in doc["segments"]), int(doc["hashes_per_segment"]),
                   int(doc["seed"]), tuple(tuple(b) for b in doc["bands"]))


def record_keys(rows: RecordSet, plan: LshPlan) -> tuple[npt.NDArray[np.int64],
                                                         npt.NDArray[np.int64]]:
    """``(rid, key)`` of every valid key of ``rows`` (keys as signed 64-bit for SQL)."""
    layout = rows.header
    n = len(rows.rids)
    columns: list[tuple[_U64, npt.NDArray[np.bool_]]] = [
        token_keys(rows.tokens[name], n, name) for name in layout.token_names
    ]
    if plan.bands:
        keys, valid = plan.keys(rows.clks, _segment_present(rows, layout))
        columns += [(keys[:, b], valid[:, b]) for b in range(keys.shape[1])]
    rid_parts, key_parts = [], []
    with np.errstate(over="ignore"):
        for c, (keys, valid) in enumerate(columns):
            salt = np.uint64(c + 1) * np.uint64(0x9E37_79B9_7F4A_7C15)
            mixed = (keys[valid] ^ salt) * np.uint64(0xBF58_476D_1CE4_E5B9)
            rid_parts.append(rows.rids[valid])
            key_parts.append(mixed.view(np.int64))
    if not rid_parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rid_parts), np.concatenate(key_parts)


def pack_keys(rids: npt.NDArray[np.int64], key_rids: npt.NDArray[np.int64],
              keys: npt.NDArray[np.int64]) -> list[bytes]:
    """Per record of ``rids``, its keys as one blob of little-endian 64-bit integers (the
    ``keys`` column of a record), from ``(key_rids, keys)`` sorted by ``key_rids`` (a
    stable sort of :func:`record_keys`' output)."""
    data = np.ascontiguousarray(keys, "<i8").tobytes()
    starts = np.searchsorted(key_rids, rids, "left") * 8
    ends = np.searchsorted(key_rids, rids, "right") * 8
    return [data[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


def unpack_keys(rids: npt.NDArray[np.int64], blobs: Sequence[bytes]
                ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(rid, key)`` of records ``rids`` from their ``keys`` blobs (:func:`pack_keys`)."""
    sizes = np.fromiter(map(len, blobs), np.int64, len(blobs)) // 8
    keys = np.frombuffer(b"".join(blobs), "<i8").astype(np.int64)
    return np.repeat(np.asarray(rids, np.int64), sizes), keys


#: ``holders(wanted, most)``: ``(rid, key)`` of every stored record (that stays as it is
#: in the run) holding one of the keys ``wanted`` (ascending, distinct), keys held by more
#: than ``most`` of them left out, and how many were.
Holders = Callable[[npt.NDArray[np.int64], int],
                   tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]]


def partner_pairs(new_rids: npt.NDArray[np.int64], new_keys: npt.NDArray[np.int64],
                  holders: Holders) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """The candidate pairs of new records (``(lo, hi)``, as :func:`candidate_pairs`) among
    themselves and with the old (unchanged) records, the old records found by
    ``holders`` (a search of the stored index's sorted keys:
    :meth:`~hashmatch.registry.index.RecordIndex.holders`); a key held by more than
    :data:`MAX_BLOCK_ROWS` old records brings no old partner. Returns the pairs and how
    many keys were left out."""
    old_rids, old_keys, big = holders(distinct(new_keys), MAX_BLOCK_ROWS)
    lo, hi, skipped = candidate_pairs(new_rids, new_keys, old_rids, old_keys)
    return lo, hi, skipped + big


def candidate_pairs(new_rids: npt.NDArray[np.int64], new_keys: npt.NDArray[np.int64],
                    old_rids: npt.NDArray[np.int64], old_keys: npt.NDArray[np.int64]
                    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """Every pair ``(lo, hi)`` (``lo < hi``, each once, sorted) of a new record with a new
    or old record sharing a key; keys held by more than :data:`MAX_BLOCK_ROWS` records in
    all are skipped (their number is returned too)."""
    rids = np.concatenate([new_rids, old_rids])
    keys = np.concatenate([new_keys, old_keys])
    is_new = np.r_[np.ones(len(new_rids), bool), np.zeros(len(old_rids), bool)]
    order = np.argsort(keys, kind="stable")  # order within a key: pairs are sorted after
    rids, keys, is_new = rids[order], keys[order], is_new[order]
    if not len(keys):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    group = np.repeat(np.arange(len(starts)), sizes)
    big = sizes > MAX_BLOCK_ROWS
    skipped = int((big & (sizes > 1)).sum())
    probe = np.flatnonzero(is_new & ~big[group] & (sizes[group] > 1))
    if not len(probe):  # no new record shares a usable key with another record
        return np.zeros(0, np.int64), np.zeros(0, np.int64), skipped
    # a bounded number of raw pairs at a time (a first run pairs every record), the units
    # on every core (numpy's sorts and gathers release the GIL)
    cum = np.cumsum(sizes[group[probe]])
    cuts = np.searchsorted(cum, np.arange(0, int(cum[-1]) if len(cum) else 0, _UNIT_PAIRS))
    units = list(zip(cuts.tolist(), [*cuts[1:].tolist(), len(probe)], strict=True))

    def unit(bounds: tuple[int, int]) -> npt.NDArray[np.uint64]:
        take = probe[bounds[0]:bounds[1]]
        return _expand(rids, take, sizes[group[take]], starts[group[take]])

    with ThreadPoolExecutor(_THREADS) as pool:
        pairs = _merged(list(pool.map(unit, units)), pool)
    return ((pairs >> np.uint64(32)).astype(np.int64),
            (pairs & np.uint64(0xFFFF_FFFF)).astype(np.int64),
            skipped)


#: Raw pairs expanded at once by :func:`candidate_pairs` (small enough to stay in cache).
_UNIT_PAIRS = 1 << 21
_THREADS = os.cpu_count() or 1


def _merged(parts: Sequence[npt.NDArray[np.uint64]], pool: ThreadPoolExecutor
            ) -> npt.NDArray[np.uint64]:
    """The distinct values of sorted ``parts``, sorted: cut at common value bounds into a
    slice per thread, each slice made distinct on its own."""
    total = sum(len(p) for p in parts)
    if total < _UNIT_PAIRS or _THREADS == 1:
        return distinct(np.concatenate([np.zeros(0, np.uint64), *parts]))
    sample = np.sort(np.concatenate([p[::997] for p in parts]))
    bounds = [None, *sample[len(sample) * np.arange(1, _THREADS) // _THREADS].tolist(), None]

    def piece(k: int) -> npt.NDArray[np.uint64]:
        lo, hi = bounds[k], bounds[k + 1]
        return distinct(np.concatenate([np.zeros(0, np.uint64)] + [
            p[(0 if lo is None else np.searchsorted(p, np.uint64(lo))):
              (len(p) if hi is None else np.searchsorted(p, np.uint64(hi)))] for p in parts]))

    return np.concatenate(list(pool.map(piece, range(_THREADS))))


def _expand(rids: npt.NDArray[np.int64], probe: npt.NDArray[np.int64],
            count: npt.NDArray[np.int64], first: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """Distinct pairs of each probe row with every row of its key group, packed as
    ``lo << 32 | hi`` (record numbers stay below 2**32)."""
    total = int(count.sum())
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    a = np.repeat(rids[probe], count)
    b = rids[np.repeat(first, count) + offsets]
    keep = a != b
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    return distinct((lo.astype(np.uint64) << np.uint64(32)) | hi.astype(np.uint64))


def _segment_present(rows: RecordSet, layout: Layout) -> npt.NDArray[np.bool_]:
    """Validity per CLK segment (the field each segment encodes), as blocking wants it."""
    where = [layout.field_names.index(s.field) for s in layout.segments]
    return np.asarray(rows.present)[:, where]
