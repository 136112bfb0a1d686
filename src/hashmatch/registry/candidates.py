"""Blocking for a registry: keys computed once per record, looked up for new records only.

A batch link measures its LSH band layout on the two files of each party pair; a registry
fixes one layout (an :class:`~hashmatch.link.blocking.LshPlan`) on its first run, measured
on all records with the selectivity a single party pair would get (``lsh_pairs_per_row``
per row of a party of average size), and keeps it, so every record's keys stay valid.
Each record has one key per exact-token column (the token's first 8 bytes, as in a batch
link) and one per LSH band, mixed with the column number so equal values of different
columns never meet; the table ``block_keys (key, rid)`` holds them. A run computes the
keys of its new and changed records, fetches the stored records sharing any of them
(through the key index: work proportional to the new records and their partners), and
pairs each new record with every record sharing a key.

A key shared by more than :data:`MAX_BLOCK_ROWS` records (a placeholder e-mail, a band
where everything collides) is not used, as a batch link skips blocks of more than
``max_block_pairs`` pairs; such keys are counted in the run's statistics.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np
import numpy.typing as npt

from hashmatch.link.blocking import BlockingConfig, LshPlan, plan_lsh, token_keys
from hashmatch.registry.records import Layout, RecordSet
from hashmatch.registry.store import Store

__all__ = [
    "MAX_BLOCK_ROWS",
    "candidate_pairs",
    "make_plan",
    "plan_from_json",
    "plan_to_json",
    "record_keys",
    "stored_partners",
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


def stored_partners(store: Store, keys: npt.NDArray[np.int64]
                    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """``(rid, key)`` of the stored records holding any of ``keys``, leaving out keys
    stored for more than :data:`MAX_BLOCK_ROWS` records; and how many keys were left out."""
    store.load_ids(np.unique(keys).tolist(), "tmp_keys")
    big = [k for k, count in store.query(
        "SELECT b.key, count(*) FROM tmp_keys t JOIN block_keys b ON b.key = t.id "
        "GROUP BY b.key") if count > MAX_BLOCK_ROWS]
    for k in big:
        store.execute("DELETE FROM tmp_keys WHERE id = ?", [k])
    found = store.query("SELECT b.rid, b.key FROM tmp_keys t JOIN block_keys b ON b.key = t.id")
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), len(big)
    arr = np.array(found, np.int64)
    return arr[:, 0], arr[:, 1], len(big)


def candidate_pairs(new_rids: npt.NDArray[np.int64], new_keys: npt.NDArray[np.int64],
                    old_rids: npt.NDArray[np.int64], old_keys: npt.NDArray[np.int64]
                    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], int]:
    """Every pair ``(lo, hi)`` (``lo < hi``, each once) of a new record with a new or old
    record sharing a key; keys held by more than :data:`MAX_BLOCK_ROWS` records in all
    are skipped (their number is returned too)."""
    rids = np.concatenate([new_rids, old_rids])
    keys = np.concatenate([new_keys, old_keys])
    is_new = np.r_[np.ones(len(new_rids), bool), np.zeros(len(old_rids), bool)]
    order = np.lexsort((rids, keys))
    rids, keys, is_new = rids[order], keys[order], is_new[order]
    if not len(keys):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), 0
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes = np.diff(np.r_[starts, len(keys)])
    group = np.repeat(np.arange(len(starts)), sizes)
    big = sizes > MAX_BLOCK_ROWS
    probe = np.flatnonzero(is_new & ~big[group] & (sizes[group] > 1))
    count = sizes[group[probe]]
    total = int(count.sum())
    first = starts[group[probe]]
    offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(count) - count, count)
    a = np.repeat(rids[probe], count)
    b = rids[np.repeat(first, count) + offsets]
    keep = a != b
    lo, hi = np.minimum(a[keep], b[keep]), np.maximum(a[keep], b[keep])
    packed = np.unique(np.stack([lo, hi], axis=1), axis=0) if len(lo) else np.zeros((0, 2),
                                                                                   np.int64)
    return packed[:, 0], packed[:, 1], int((big & (sizes > 1)).sum())


def _segment_present(rows: RecordSet, layout: Layout) -> npt.NDArray[np.bool_]:
    """Validity per CLK segment (the field each segment encodes), as blocking wants it."""
    where = [layout.field_names.index(s.field) for s in layout.segments]
    return np.asarray(rows.present)[:, where]
