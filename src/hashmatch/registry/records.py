"""Records as the registry stores them, and back as rows the link scorer reads.

A record is one row of a party's ``.hme`` snapshot. The registry keeps, per record, its
party and row token, and its encoding in three blobs laid out exactly as in the file: the
CLK words (little-endian ``uint64``), the exact tokens (16 bytes each, in the layout's
``token_names`` order) and the packed validity bits (``present_packed``). Its ``digest``
(kept in the index segments, :mod:`~hashmatch.registry.index`) is a 128-bit fingerprint
of the three concatenated (:func:`digests`): equal digests mean the encoding did not change
between two snapshots, so it needs no new work.

:class:`Layout` is what every file linked into one registry shares (fields, segments,
token names, the coordinator-readable ``extra`` of the header, fingerprint, commitment);
it is stored once per registry and is the ``header`` of a :class:`RecordSet`, which is
how :class:`hashmatch.link.scorer.PairScorer` reads rows that come from the database.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch.encfile import EncodingFile, Segment, unpack_present

__all__ = ["Layout", "Locator", "RecordSet", "SnapshotRows", "TokenIndex", "digests"]

_CHUNK_ROWS = 65_536


@dataclass(frozen=True)
class Layout:
    """The encoding layout shared by every file of one registry (no row data)."""

    schema_fingerprint: str
    secret_commitment: str
    encoder_version: int
    clk_bits: int
    segments: tuple[Segment, ...]
    token_names: tuple[str, ...]
    field_names: tuple[str, ...]
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of_file(cls, f: EncodingFile) -> Layout:
        h = f.header
        extra = json.loads(json.dumps(h.to_dict()["extra"]))  # plain, mutable-free copy
        return cls(h.schema_fingerprint, h.secret_commitment, h.encoder_version, h.clk_bits,
                   tuple(h.segments), tuple(h.token_names), tuple(h.field_names), extra)

    def to_json(self) -> str:
        return json.dumps({
            "schema_fingerprint": self.schema_fingerprint,
            "secret_commitment": self.secret_commitment,
            "encoder_version": self.encoder_version,
            "clk_bits": self.clk_bits,
            "segments": [[s.field, s.start, s.bits] for s in self.segments],
            "token_names": list(self.token_names),
            "field_names": list(self.field_names),
            "extra": dict(self.extra),
        }, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Layout:
        doc = json.loads(text)
        return cls(doc["schema_fingerprint"], doc["secret_commitment"],
                   int(doc["encoder_version"]), int(doc["clk_bits"]),
                   tuple(Segment(f, int(a), int(b)) for f, a, b in doc["segments"]),
                   tuple(doc["token_names"]), tuple(doc["field_names"]), doc["extra"])

    @property
    def words(self) -> int:
        return self.clk_bits // 64

    @property
    def present_bytes(self) -> int:
        return (len(self.field_names) + 7) // 8


@dataclass
class RecordSet:
    """Rows of one party, in memory, readable by the link scorer (``header`` is the
    layout); ``rids`` are the registry's record numbers of the rows."""

    header: Layout
    rids: npt.NDArray[np.int64]
    row_tokens: npt.NDArray[np.uint8]
    clks: npt.NDArray[np.uint64]
    tokens: dict[str, npt.NDArray[np.uint8]]
    present: npt.NDArray[np.bool_]

    @classmethod
    def from_blobs(cls, layout: Layout, rids: Sequence[int], row_tokens: Sequence[bytes],
                   clks: Sequence[bytes], tokens: Sequence[bytes], present: Sequence[bytes]
                   ) -> RecordSet:
        n = len(rids)
        tok = np.frombuffer(b"".join(tokens), np.uint8).reshape(n, len(layout.token_names), 16)
        packed = np.frombuffer(b"".join(present), np.uint8).reshape(n, layout.present_bytes)
        return cls(
            layout,
            np.asarray(rids, np.int64),
            np.frombuffer(b"".join(row_tokens), np.uint8).reshape(n, 16).copy(),
            np.frombuffer(b"".join(clks), "<u8").reshape(n, layout.words).astype(np.uint64),
            {name: np.ascontiguousarray(tok[:, k]) for k, name in enumerate(layout.token_names)},
            unpack_present(packed, len(layout.field_names)),
        )

    def take(self, rows: npt.NDArray[np.int64]) -> RecordSet:
        return RecordSet(self.header, self.rids[rows], self.row_tokens[rows], self.clks[rows],
                         {k: v[rows] for k, v in self.tokens.items()}, self.present[rows])

    @classmethod
    def concat(cls, layout: Layout, parts: Sequence[RecordSet]) -> RecordSet:
        if not parts:
            return cls.from_blobs(layout, [], [], [], [], [])
        return cls(layout, np.concatenate([p.rids for p in parts]),
                   np.concatenate([p.row_tokens for p in parts]),
                   np.concatenate([p.clks for p in parts]),
                   {k: np.concatenate([p.tokens[k] for p in parts]) for k in layout.token_names},
                   np.concatenate([p.present for p in parts]))


class SnapshotRows:
    """One party's ``.hme`` snapshot as records: digests of every row, blobs on demand."""

    def __init__(self, f: EncodingFile, layout: Layout) -> None:
        self.file = f
        self.layout = layout
        self.party = f.header.party
        self.rows = f.header.rows

    def digests(self) -> npt.NDArray[np.uint8]:
        """Per row, the digest of its encoding (see the module docstring): ``uint8[rows, 16]``."""
        out = np.empty((self.rows, 16), np.uint8)
        for start in range(0, self.rows, _CHUNK_ROWS):
            stop = min(start + _CHUNK_ROWS, self.rows)
            out[start:stop] = digests(self._matrix(slice(start, stop)))
        return out

    def blobs(self, rows: npt.NDArray[np.int64]) -> tuple[list[bytes], list[bytes], list[bytes]]:
        """(clk, tokens, present) blobs of ``rows``."""
        mat = self._matrix(rows)
        cb = self.layout.words * 8
        tb = cb + 16 * len(self.layout.token_names)
        return ([bytes(r[:cb]) for r in mat], [bytes(r[cb:tb]) for r in mat],
                [bytes(r[tb:]) for r in mat])

    def row_tokens(self, rows: npt.NDArray[np.int64]) -> list[bytes]:
        tokens = np.asarray(self.file.row_tokens)[rows]
        return [bytes(t) for t in tokens]

    def record_set(self, rows: npt.NDArray[np.int64], rids: npt.NDArray[np.int64]) -> RecordSet:
        f = self.file
        return RecordSet(self.layout, np.asarray(rids, np.int64),
                         np.asarray(f.row_tokens)[rows], np.asarray(f.clks)[rows],
                         {k: np.asarray(f.token(k))[rows] for k in self.layout.token_names},
                         unpack_present(np.asarray(f.present_packed)[rows],
                                        len(self.layout.field_names)))

    def _matrix(self, rows: npt.NDArray[np.int64] | slice) -> npt.NDArray[np.uint8]:
        f = self.file
        parts = [np.asarray(f.clks)[rows].astype("<u8").view(np.uint8)]
        parts += [np.asarray(f.token(k))[rows] for k in self.layout.token_names]
        parts.append(np.asarray(f.present_packed)[rows])
        return np.ascontiguousarray(np.concatenate(parts, axis=1))


def digests(matrix: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """A 128-bit fingerprint of each row of a ``uint8[rows, bytes]`` matrix, ``uint8[rows, 16]``.

    Two independent 64-bit lanes (multiply-xorshift steps over the row's 64-bit words, then
    a SplitMix64 finaliser each), computed a word column at a time for all rows: a digest
    of a million records costs a fraction of a second, where a per-row BLAKE2b call in
    Python cost microseconds a row. It detects change, not tampering: the encodings are
    already keyed, pseudo-random values, and a party that forged a collision would only
    keep the registry from seeing its own record change.
    """
    rows, width = matrix.shape
    padded = np.zeros((rows, -(-width // 8) * 8), np.uint8)
    padded[:, :width] = matrix
    words = np.ascontiguousarray(padded.view("<u8").T)  # one contiguous row per word column
    a = np.full(rows, 0x243F_6A88_85A3_08D3 ^ width, np.uint64)
    b = np.full(rows, 0x1319_8A2E_0370_7344 ^ width, np.uint64)
    with np.errstate(over="ignore"):
        for column in words:
            a ^= column
            a *= _M1
            a ^= a >> np.uint64(29)
            b += column
            b *= _M2
            b ^= b >> np.uint64(31)
        out = np.empty((rows, 2), "<u8")
        out[:, 0] = _finalise(a ^ (b >> np.uint64(17)))
        out[:, 1] = _finalise(b ^ (a << np.uint64(13)))
    return out.view(np.uint8).reshape(rows, 16)


_M1 = np.uint64(0xBF58_476D_1CE4_E5B9)
_M2 = np.uint64(0x94D0_49BB_1331_11EB)


def _finalise(x: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """SplitMix64's output mix (every input bit affects every output bit)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


class TokenIndex:
    """Row tokens (``uint8[rows, 16]``) indexed for vectorised lookup: sorted by their
    first 8 bytes (tokens are HMAC outputs, so those almost never repeat; when they do,
    the full 16 bytes decide)."""

    def __init__(self, tokens: npt.NDArray[np.uint8]) -> None:
        words = np.ascontiguousarray(tokens, np.uint8).view("<u8").reshape(-1, 2)
        self.words = words
        self.order = np.argsort(words[:, 0], kind="stable")
        self.head = words[self.order, 0]
        if (self.head[1:] == self.head[:-1]).any():  # order equal halves by the other half
            self.order = np.lexsort((words[:, 1], words[:, 0]))
            self.head = words[self.order, 0]

    def __len__(self) -> int:
        return len(self.order)

    def find(self, tokens: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
        """Row of each of ``tokens`` in the indexed tokens, -1 where absent."""
        query = np.ascontiguousarray(tokens, np.uint8).view("<u8").reshape(-1, 2)
        left = np.searchsorted(self.head, query[:, 0], "left")
        right = np.searchsorted(self.head, query[:, 0], "right")
        out = np.full(len(query), -1, np.int64)
        one = np.flatnonzero(right - left == 1)
        rows = self.order[left[one]]
        hit = self.words[rows, 1] == query[one, 1]
        out[one[hit]] = rows[hit]
        for q in np.flatnonzero(right - left > 1).tolist():  # a shared first half: rare
            rows = self.order[left[q]:right[q]]
            match = rows[self.words[rows, 1] == query[q, 1]]
            if len(match):
                out[q] = match[0]
        return out

    def repeats(self) -> int:
        """How many tokens repeat an earlier one."""
        w = self.words[self.order]
        same = (w[1:, 0] == w[:-1, 0]) & (w[1:, 1] == w[:-1, 1])
        return int(same.sum())


class Locator:
    """Set index and row of record numbers within record sets: tables indexed by record
    number (record numbers are dense, so this is a lookup, not a search)."""

    def __init__(self, sets: Sequence[RecordSet]) -> None:
        size = max((int(s.rids.max()) + 1 for s in sets if len(s.rids)), default=0)
        self.party = np.full(size, -1, np.int64)
        self.row = np.full(size, -1, np.int64)
        for k, s in enumerate(sets):
            self.party[s.rids] = k
            self.row[s.rids] = np.arange(len(s.rids))

    def __call__(self, rids: npt.NDArray[np.int64]
                 ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        return self.party[rids], self.row[rids]
