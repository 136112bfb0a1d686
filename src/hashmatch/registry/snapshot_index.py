"""Each party's row tokens, digests and record numbers, packed for a fast snapshot diff.

Every run with a party's full snapshot asks, for each of its rows: is the row token
stored, and if so, under which record and with which digest? Reading that from the
``records`` table costs a few microseconds a row, which at a million rows is most of a
1% increment. So the registry also keeps it packed: table ``snapshot_index (party_id,
bucket, tokens, digests, rids)``, the party's records split into :data:`BUCKETS`
buckets by the first byte of the row token (tokens are keyed hashes, so buckets are
even), each bucket three blobs sorted by token. Loading a party is one query; a run
rewrites only the buckets its added, changed and removed records fall in, so a delta
of one record (the lookup service's commit) writes 1/256 of the party.

The ``records`` table stays the truth. The index is checked against it on every load
(the party's record count) and rebuilt from it when they disagree, which also builds
it for registries made before it existed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch.registry.store import Store

__all__ = ["BUCKETS", "PartyIndex", "load_index", "save_index"]

BUCKETS = 256
_TOKEN = "S16"  # fixed 16-byte strings: numpy sorts and searches them bytewise

_Tokens = npt.NDArray[np.bytes_]
_Ids = npt.NDArray[np.int64]


@dataclass(frozen=True)
class PartyIndex:
    """One party's records: ``tokens`` (``S16``, ascending), their ``digests`` (``S16``)
    and ``rids``."""

    tokens: _Tokens
    digests: _Tokens
    rids: _Ids

    @classmethod
    def build(cls, tokens: _Tokens, digests: _Tokens, rids: _Ids) -> PartyIndex:
        order = np.argsort(tokens, kind="stable")
        return cls(tokens[order], digests[order], np.asarray(rids, np.int64)[order])

    def __len__(self) -> int:
        return len(self.rids)

    def find(self, tokens: _Tokens) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.intp]]:
        """Per token: whether the party holds it, and at which position of the index."""
        pos = np.searchsorted(self.tokens, tokens)
        found = pos < len(self.tokens)
        found[found] = self.tokens[pos[found]] == tokens[found]
        return found, pos

    def updated(self, tokens: _Tokens, digests: _Tokens, rids: _Ids, removed: _Ids
                ) -> PartyIndex:
        """The index after upserting ``(tokens, digests, rids)`` (a held token gets the new
        digest) and dropping the records ``removed``."""
        keep = ~np.isin(self.rids, removed) & ~np.isin(self.tokens, tokens)
        return PartyIndex.build(np.concatenate([self.tokens[keep], tokens]),
                                np.concatenate([self.digests[keep], digests]),
                                np.concatenate([self.rids[keep], rids]))


def load_index(store: Store, party_id: int) -> PartyIndex:
    """The party's index, rebuilt from ``records`` (and saved) if missing or stale."""
    parts = store.query("SELECT tokens, digests, rids FROM snapshot_index WHERE party_id = ? "
                        "ORDER BY bucket", [party_id])
    index = PartyIndex(
        _join([p[0] for p in parts], _TOKEN), _join([p[1] for p in parts], _TOKEN),
        _join([p[2] for p in parts], "<i8").astype(np.int64))
    held = int(store.scalar("SELECT count(*) FROM records WHERE party_id = ?", [party_id]))
    if len(index) == held:
        return index
    rows = store.query("SELECT row_token, digest, rid FROM records WHERE party_id = ?",
                       [party_id])
    fresh = PartyIndex.build(
        np.array([bytes(r[0]) for r in rows], _TOKEN), np.array([bytes(r[1]) for r in rows],
                                                                _TOKEN),
        np.array([int(r[2]) for r in rows], np.int64))
    save_index(store, party_id, fresh, range(BUCKETS))
    return fresh


def touched_buckets(*token_sets: _Tokens) -> set[int]:
    """The buckets the given tokens fall in."""
    out: set[int] = set()
    for tokens in token_sets:
        if len(tokens):
            out.update(np.unique(_first_byte(tokens)).tolist())
    return out


def save_index(store: Store, party_id: int, index: PartyIndex, buckets: object) -> None:
    """Write the ``buckets`` (an iterable of bucket numbers) of the party's index."""
    wanted = sorted(set(buckets))  # type: ignore[call-overload]
    if not wanted:
        return
    first = _first_byte(index.tokens)
    bounds = np.searchsorted(first, np.arange(BUCKETS + 1))
    store.load_ids(wanted, "tmp_buckets")
    store.execute("DELETE FROM snapshot_index WHERE party_id = ? AND bucket IN "
                  "(SELECT id FROM tmp_buckets)", [party_id])
    store.insert("snapshot_index", ["party_id", "bucket", "tokens", "digests", "rids"], (
        (party_id, b, index.tokens[bounds[b]:bounds[b + 1]].tobytes(),
         index.digests[bounds[b]:bounds[b + 1]].tobytes(),
         index.rids[bounds[b]:bounds[b + 1]].astype("<i8").tobytes())
        for b in wanted))


def _first_byte(tokens: _Tokens) -> npt.NDArray[np.uint8]:
    return np.frombuffer(np.ascontiguousarray(tokens).tobytes(), np.uint8)[::16] \
        if len(tokens) else np.zeros(0, np.uint8)


def _join(blobs: list[bytes], dtype: str) -> npt.NDArray[Any]:
    return np.frombuffer(b"".join(bytes(b) for b in blobs), dtype)
