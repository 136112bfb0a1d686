"""The per-record index a run diffs and joins against, kept as appended, versioned blobs.

Every run needs, for every stored record, its row token and encoding digest (the diff:
:mod:`~hashmatch.registry.records`) and its blocking keys (the join:
:mod:`~hashmatch.registry.candidates`). Layout 2 kept them as one database row per
record, and reading a million rows through the driver cost more than the rest of a 1%
increment. Layout 3 keeps them per party as a few **segments**: packed arrays, read as a
handful of blobs and used in place.

A party's segments are applied in order: a segment first *drops* (tombstones) the
records of earlier segments it lists, then adds its own entries. A run appends one
segment per party it changed: its added and changed records, with its changed and
removed records as tombstones (a changed record is dropped from the segment that held
it and entered again). When the entries so shadowed pass :data:`COMPACT_FRACTION` of
the live ones, or the party has more than :data:`MAX_SEGMENTS`, the run rewrites the
party's index as one segment. The keys of a segment are sorted with their records, so
the join searches the few keys the run's new records hold instead of scanning every
stored key.

Table (layout 3; ``BLOB`` is ``BYTEA`` on PostgreSQL)::

    index_segments (party_id, segment, part, data)   segment numbers grow per party; a
                                                     segment's bytes are split in parts
                                                     of at most PART_BYTES

Bytes of a segment (little-endian)::

    magic    8 bytes  b"HMRIX" + b"\\0" + uint16 SEGMENT_VERSION
    n, m, t  3 x uint64: entries, keys, tombstones
    rids     int64[n]      record numbers, ascending
    tokens   uint8[n, 16]  row tokens
    digests  uint8[n, 16]  encoding digests (records.digests)
    keys     int64[m]      blocking keys, ascending (ties: by record)
    holders  uint32[m]     the record holding each key (one of ``rids``; record numbers
                           stay below 2**32, as candidates.py packs pairs)
    dropped  int64[t]      records of earlier segments of the party this one replaces
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from hashmatch.errors import RegistryError
from hashmatch.registry.arrays import distinct, ids_among
from hashmatch.registry.store import Store

__all__ = ["COMPACT_FRACTION", "MAX_SEGMENTS", "PART_BYTES", "RecordIndex", "Segment",
           "create_table"]

_Ints = npt.NDArray[np.int64]
_Bytes = npt.NDArray[np.uint8]

SEGMENT_VERSION = 1
_MAGIC = b"HMRIX\0" + struct.pack("<H", SEGMENT_VERSION)
_HEADER = struct.Struct("<8sQQQ")
#: A segment's bytes are stored in rows of at most this many (both backends take far
#: larger values; smaller rows keep one statement's buffers modest).
PART_BYTES = 1 << 26
#: Compact a party when its shadowed entries pass this fraction of its live ones ...
COMPACT_FRACTION = 0.25
#: ... or when it has more segments than this.
MAX_SEGMENTS = 24


def create_table(store: Store) -> None:
    store.execute(f"""CREATE TABLE index_segments (
        party_id BIGINT NOT NULL, segment BIGINT NOT NULL, part BIGINT NOT NULL,
        data {store.blob} NOT NULL, PRIMARY KEY (party_id, segment, part))""")


def _empty() -> _Ints:
    return np.zeros(0, np.int64)


@dataclass(frozen=True)
class Segment:
    """One segment's arrays (see the module docstring)."""

    rids: _Ints
    tokens: _Bytes
    digests: _Bytes
    keys: _Ints
    holders: npt.NDArray[np.uint32]
    dropped: _Ints = field(default_factory=_empty)

    @classmethod
    def build(cls, rids: _Ints, tokens: _Bytes, digests: _Bytes, key_rids: _Ints,
              keys: _Ints, dropped: _Ints | None = None) -> Segment:
        """A segment of records ``rids`` (any order) holding keys ``(key_rids, keys)``."""
        order = np.argsort(rids, kind="stable")
        by_key = np.lexsort((key_rids, keys))
        if len(rids) and not 0 <= int(rids.min()) <= int(rids.max()) < 1 << 32:
            raise RegistryError("record numbers of the registry passed 2**32")
        return cls(np.ascontiguousarray(rids[order], np.int64),
                   np.ascontiguousarray(tokens[order], np.uint8).reshape(-1, 16),
                   np.ascontiguousarray(digests[order], np.uint8).reshape(-1, 16),
                   np.ascontiguousarray(keys[by_key], np.int64),
                   np.ascontiguousarray(key_rids[by_key], np.uint32),
                   distinct(np.asarray(dropped if dropped is not None else _empty(), np.int64)))

    def to_bytes(self) -> bytes:
        n, m, t = len(self.rids), len(self.keys), len(self.dropped)
        return b"".join([_HEADER.pack(_MAGIC, n, m, t),
                         self.rids.astype("<i8").tobytes(), self.tokens.tobytes(),
                         self.digests.tobytes(), self.keys.astype("<i8").tobytes(),
                         self.holders.astype("<u4").tobytes(),
                         self.dropped.astype("<i8").tobytes()])

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> Segment:
        if len(data) < _HEADER.size:
            raise RegistryError(f"{where}: truncated index segment")
        magic, n, m, t = _HEADER.unpack_from(data)
        if magic[:6] != _MAGIC[:6]:
            raise RegistryError(f"{where}: not an index segment")
        if magic != _MAGIC:
            raise RegistryError(f"{where}: index segment version "
                                f"{struct.unpack('<H', magic[6:])[0]} is not one this "
                                f"hashmatch reads ({SEGMENT_VERSION})", hint="upgrade hashmatch")
        if len(data) != _HEADER.size + 8 * n + 32 * n + 12 * m + 8 * t:
            raise RegistryError(f"{where}: index segment of the wrong size (truncated?)")
        buf, at = memoryview(data), _HEADER.size

        def take(count: int, dtype: str, width: int) -> npt.NDArray[np.generic]:
            nonlocal at
            out = np.frombuffer(buf[at:at + count * width], dtype)
            at += count * width
            return out

        rids = take(n, "<i8", 8).astype(np.int64, copy=False)
        tokens = take(n * 16, "u1", 1).reshape(n, 16)
        digests = take(n * 16, "u1", 1).reshape(n, 16)
        keys = take(m, "<i8", 8).astype(np.int64, copy=False)
        holders = take(m, "<u4", 4).astype(np.uint32, copy=False)
        dropped = take(t, "<i8", 8).astype(np.int64, copy=False)
        return cls(rids, tokens, digests, keys, holders, dropped)  # type: ignore[arg-type]


@dataclass
class _Party:
    segments: list[tuple[int, Segment]]  # (segment number, segment), in order
    #: per segment, which of its entries no later segment drops
    live: list[npt.NDArray[np.bool_]] = field(default_factory=list)


class RecordIndex:
    """Every party's index segments, as read at the start of a run (see the module
    docstring): the live records' tokens and digests per party, and the holders of keys."""

    def __init__(self, parties: Mapping[int, list[tuple[int, Segment]]]) -> None:
        self._parties = {p: _Party(list(s)) for p, s in parties.items()}
        top = max((int(a.max()) for segs in parties.values() for _, s in segs
                   for a in (s.rids, s.dropped) if len(a)), default=-1)
        #: per record number, the last segment (of its party) that drops it (-1: none)
        self._dropped_at = np.full(top + 1, -1, np.int32)
        for party in self._parties.values():
            for k, (_, seg) in enumerate(party.segments):
                self._dropped_at[seg.dropped] = k
            self._mark_live(party)

    @classmethod
    def load(cls, store: Store) -> RecordIndex:
        """Read every segment (a few blobs per party)."""
        parties: dict[int, list[tuple[int, Segment]]] = {}
        parts: list[bytes] = []
        current: tuple[int, int] | None = None

        def flush() -> None:
            if current is not None:
                where = f"{store.url}: index segment {current[1]} of party {current[0]}"
                parties.setdefault(current[0], []).append(
                    (current[1], Segment.from_bytes(b"".join(parts), where)))

        cursor = store.execute("SELECT party_id, segment, part, data FROM index_segments "
                               "ORDER BY party_id, segment, part")
        while batch := cursor.fetchmany(16):
            for party_id, segment, part, data in batch:
                key = (int(party_id), int(segment))
                if key != current:
                    flush()
                    current, parts = key, []
                if int(part) != len(parts):
                    raise RegistryError(f"{store.url}: index segment {key[1]} of party "
                                        f"{key[0]} misses a part")
                parts.append(bytes(data))
        flush()
        return cls(parties)

    # -- reading --------------------------------------------------------------------

    def records(self, party_id: int) -> tuple[_Ints, _Bytes, _Bytes]:
        """A party's stored records: rids, row tokens and digests (``uint8[n, 16]``)."""
        party = self._parties.get(party_id)
        if party is None or not party.segments:
            return _empty(), np.zeros((0, 16), np.uint8), np.zeros((0, 16), np.uint8)
        if len(party.segments) == 1 and party.live[0].all():
            seg = party.segments[0][1]
            return seg.rids, seg.tokens, seg.digests
        return self._live_records(party)

    def holders(self, wanted: _Ints, gone: _Ints, most: int) -> tuple[_Ints, _Ints, int]:
        """``(rid, key)`` of every live stored record holding one of the keys ``wanted``
        (ascending, distinct), records ``gone`` left out, and keys held by more than
        ``most`` such records left out too (their number is returned third): a search of
        each segment's sorted keys, no scan."""
        found: list[tuple[_Ints, _Ints, _Ints]] = []  # (wanted index, rid, key position)
        held = np.zeros(len(wanted), np.int64)
        for party in self._parties.values():
            for k, (_, seg) in enumerate(party.segments):
                if not len(seg.keys) or not len(wanted):
                    continue
                left = np.searchsorted(seg.keys, wanted, "left")
                count = np.searchsorted(seg.keys, wanted, "right") - left
                hit = np.flatnonzero(count)
                count, first = count[hit], left[hit]
                at = np.repeat(first - (np.cumsum(count) - count), count) + \
                    np.arange(int(count.sum()), dtype=np.int64)
                which = np.repeat(hit, count)
                rids = seg.holders[at].astype(np.int64)
                ok = self._dropped_at[rids] <= k
                if len(gone):
                    ok &= ~ids_among(rids, gone)
                which, rids, at = which[ok], rids[ok], at[ok]
                held += np.bincount(which, minlength=len(wanted))
                found.append((which, rids, seg.keys[at]))
        if not found:
            return _empty(), _empty(), 0
        which = np.concatenate([f[0] for f in found])
        keep = held[which] <= most
        return (np.concatenate([f[1] for f in found])[keep],
                np.concatenate([f[2] for f in found])[keep], int((held > most).sum()))

    def key_table(self) -> npt.NDArray[np.int64]:
        """Every live record's keys as ``int64[rows, 2]`` (key, rid), sorted."""
        pairs = [np.zeros((0, 2), np.int64)]
        for party in self._parties.values():
            keys, holders = self._live_keys(party)
            pairs.append(np.stack([keys, holders.astype(np.int64)], axis=1))
        table = np.concatenate(pairs)
        return table[np.lexsort((table[:, 1], table[:, 0]))]

    # -- writing --------------------------------------------------------------------

    def append(self, store: Store, party_id: int, segment: Segment) -> bool:
        """Add a run's segment for a party (inside the run's transaction); rewrites the
        party's index as one segment instead when it is due. Returns whether it did."""
        party = self._parties.setdefault(party_id, _Party([]))
        number = party.segments[-1][0] + 1 if party.segments else 1
        extent = max(int(segment.rids.max()) + 1 if len(segment.rids) else 0,
                     int(segment.dropped.max()) + 1 if len(segment.dropped) else 0)
        if extent > len(self._dropped_at):
            grown = np.full(extent, -1, np.int32)
            grown[:len(self._dropped_at)] = self._dropped_at
            self._dropped_at = grown
        k = len(party.segments)
        self._dropped_at[segment.dropped] = k
        party.segments.append((number, segment))
        self._mark_live(party)
        live = sum(int(ok.sum()) for ok in party.live)
        shadowed = sum(len(ok) for ok in party.live) - live
        if shadowed > COMPACT_FRACTION * live or len(party.segments) > MAX_SEGMENTS:
            whole = self._compacted(party)
            store.execute("DELETE FROM index_segments WHERE party_id = ?", [party_id])
            party.segments = [(number, whole)]
            self._dropped_at[whole.rids] = -1  # its tombstones are spent
            party.live = [np.ones(len(whole.rids), np.bool_)]
            _write(store, party_id, number, whole)
            return True
        _write(store, party_id, number, segment)
        return False

    def _compacted(self, party: _Party) -> Segment:
        keys, holders = self._live_keys(party)
        return Segment.build(*self._live_records(party), holders.astype(np.int64), keys)

    # -- what no later segment drops ------------------------------------------------

    def _mark_live(self, party: _Party) -> None:
        party.live = [self._dropped_at[seg.rids] <= k
                      for k, (_, seg) in enumerate(party.segments)]

    @staticmethod
    def _live_records(party: _Party) -> tuple[_Ints, _Bytes, _Bytes]:
        pick = list(zip((s for _, s in party.segments), party.live, strict=True))
        return (np.concatenate([s.rids[ok] for s, ok in pick]),
                np.concatenate([s.tokens[ok] for s, ok in pick]),
                np.concatenate([s.digests[ok] for s, ok in pick]))

    def _live_keys(self, party: _Party) -> tuple[_Ints, npt.NDArray[np.uint32]]:
        """The party's live keys and their holders, segment by segment."""
        keys, holders = [_empty()], [np.zeros(0, np.uint32)]
        for k, (_, seg) in enumerate(party.segments):
            ok = self._dropped_at[seg.holders] <= k
            keys.append(seg.keys[ok])
            holders.append(seg.holders[ok])
        return np.concatenate(keys), np.concatenate(holders)

    def segment_count(self, party_id: int) -> int:
        party = self._parties.get(party_id)
        return len(party.segments) if party else 0


def _write(store: Store, party_id: int, number: int, segment: Segment) -> None:
    data = segment.to_bytes()
    store.insert("index_segments", ["party_id", "segment", "part", "data"],
                 _parts(party_id, number, data))


def _parts(party_id: int, number: int, data: bytes) -> Iterable[tuple[int, int, int, bytes]]:
    view = memoryview(data)
    for part, start in enumerate(range(0, max(len(data), 1), PART_BYTES)):
        yield party_id, number, part, bytes(view[start:start + PART_BYTES])
