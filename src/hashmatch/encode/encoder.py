"""One chunk of rows -> CLKs, exact tokens, match keys, validity bits, row tokens.

:class:`ChunkEncoder` holds everything fixed for a run: the field readers (mapping +
normalisers), the per-field Bloom encoders and token keys derived from the secret, and
the memo tables. :meth:`ChunkEncoder.encode` does the per-chunk work with Python code
only per *distinct* value of a field; per-row work is numpy (gather, scatter, pack).

Hardening (the schema's ``hardening`` table, see :mod:`hashmatch.encode.harden`): the
Bloom filters are built at their raw sizes (``harden.raw_layout``) and each chunk goes
through ``apply_hardening`` with per-field ``harden`` keys and the chunk's row tokens
(BLIP noise is keyed by both, so a re-run with the same row tokens gives the same bits).
Salting prefixes every feature with the salt field's transformed value; a salted filter
is then memoised per distinct (salt, value) pair. Without hardening none of this runs.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hashmatch.encode.bloom import FieldBloom
from hashmatch.encode.features import TokenFunction, feature_tokens
from hashmatch.encode.harden import apply_hardening, raw_layout, salt_features
from hashmatch.encode.keys import LinkageSecret
from hashmatch.encode.records import (
    FieldColumn,
    FieldReader,
    FieldStats,
    Reject,
    required_rejects,
)
from hashmatch.encode.tokens import (
    MISSING_TOKEN,
    TOKEN_BYTES,
    exact_token,
    match_key_token,
    transform,
)
from hashmatch.readers import Chunk
from hashmatch.schema.model import MatchKey, ResolvedMapping, Schema

_MEMO_LIMIT = 1 << 16  # entries per memo (bounded memory; a memo is emptied when full)


@dataclass(frozen=True)
class EncodedChunk:
    """The encodings of a chunk's accepted rows, ready for ``EncodingWriter.append``."""

    clks: npt.NDArray[np.uint64]  # [n, clk_bits/64]
    tokens: dict[str, npt.NDArray[np.uint8]]  # name -> [n, 16]; all-zero = missing
    present: npt.NDArray[np.bool_]  # [n, n_fields] in schema field order
    row_tokens: npt.NDArray[np.uint8]  # [n, 16] random
    record_ids: list[str]  # the party's ids (lookup file only)
    rejects: list[Reject]  # rows of the chunk that were not encoded
    stats: dict[str, FieldStats]  # per present field, over the accepted rows

    @property
    def rows(self) -> int:
        return int(self.clks.shape[0])


class _Memo(dict[object, bytes]):
    """A bounded memo: emptied when full, so memory stays bounded on any input."""

    def remember(self, key: object, value: bytes) -> bytes:
        if len(self) >= _MEMO_LIMIT:
            self.clear()
        self[key] = value
        return value


class ChunkEncoder:
    """Encodes chunks of one party's rows under one schema and secret."""

    def __init__(
        self,
        schema: Schema,
        secret: LinkageSecret,
        resolved: ResolvedMapping,
        header: Sequence[str],
    ) -> None:
        self.schema = schema
        self.resolved = resolved
        self.readers = [
            FieldReader(f, resolved.fields[f.name])
            for f in schema.fields
            if f.name in resolved.fields
        ]
        self._field_pos = {f.name: i for i, f in enumerate(schema.fields)}
        hardening = schema.hardening
        #: True when the bits need ``apply_hardening`` (salting alone does not).
        self._harden = not hardening.is_identity
        raw_segments, raw_bits = (
            raw_layout(schema.segments, hardening)
            if self._harden
            else (schema.segments, schema.clk_bits)
        )
        self._raw_words = raw_bits // 64
        self._salt: tuple[str, str | None] | None = None
        if hardening.salt is not None:
            salt_field, _, salt_transform = hardening.salt.partition(":")
            self._salt = (salt_field, salt_transform or None)
        self._blooms: dict[str, FieldBloom] = {}
        self._bloom_k: dict[str, int] = {}
        for seg in raw_segments:
            spec = schema.field_named(seg.field)
            if spec.bloom is None:
                continue
            self._bloom_k[seg.field] = spec.bloom.k
            if seg.field in resolved.fields:
                prefix, tokens = feature_tokens(spec.type, spec.bloom.q, spec.bloom.padding)
                if self._salt is not None:
                    prefix, tokens = "", _salted(prefix, tokens)
                self._blooms[seg.field] = FieldBloom(
                    secret.derive("bloom", schema.bloom_key_label(seg.field)),
                    start=seg.start,
                    bits=seg.bits,
                    k=spec.bloom.k,
                    prefix=prefix,
                    tokens=tokens,
                )
        self._harden_keys = (
            {seg.field: secret.derive("harden", seg.field) for seg in schema.segments}
            if self._harden
            else {}
        )
        self._exact = {
            f.name: (secret.derive("exact", f.name), _Memo()) for f in schema.fields if f.exact
        }
        self._match_keys = [
            (mk, secret.derive("matchkey", mk.name), _Memo()) for mk in schema.match_keys
        ]
        #: (field, transform) -> canonical -> transformed part (soundex etc. are not free)
        self._transformed: dict[tuple[str, str | None], dict[str, str | None]] = {}
        self._record_id = resolved.record_id_index
        self._width = len(header)
        self._record_id_column = "" if self._record_id is None else header[self._record_id]

    def encode(self, chunk: Chunk) -> EncodedChunk:
        """Encode the usable rows of ``chunk``; rows failing a required field are rejected."""
        rows, numbers = chunk.rows, chunk.row_numbers
        by_column = list(zip(*rows, strict=True)) if rows else [() for _ in range(self._width)]
        columns = [reader.read(by_column) for reader in self.readers]
        keep, rejects = required_rejects(self.readers, columns, numbers)
        if self._record_id is not None:
            self._reject_empty_ids(by_column, numbers, keep, rejects)
        kept = np.flatnonzero(keep)
        record_ids = self._record_ids(by_column, numbers, kept)
        by_name = {c.name: c.codes[kept] for c in columns}
        n = len(kept)

        present = np.zeros((n, len(self.schema.fields)), dtype=np.bool_)
        for col in columns:
            present[:, self._field_pos[col.name]] = col.valid[kept]

        col_by_name = {c.name: c for c in columns}
        row_tokens = np.frombuffer(secrets.token_bytes(TOKEN_BYTES * n), dtype=np.uint8)
        row_tokens = row_tokens.reshape(n, TOKEN_BYTES).copy()
        clks = np.zeros((n, self._raw_words), dtype=np.uint64)
        salts = self._salts(col_by_name, by_name, n) if self._salt is not None else None
        for col in columns:
            bloom = self._blooms.get(col.name)
            if bloom is None:
                continue
            canonicals = [o.canonical for o in col.outcomes]
            if salts is None:
                bloom.or_into(clks, by_name[col.name], canonicals)
            elif n:
                codes, salted = _salt_values(by_name[col.name], canonicals, *salts)
                bloom.or_into(clks, codes, salted)
        if self._harden:
            clks = apply_hardening(
                clks,
                self.schema.segments,
                self.schema.hardening,
                keys=self._harden_keys,
                row_tokens=row_tokens,
                bloom_k=self._bloom_k,
            )

        tokens = self._exact_tokens(col_by_name, by_name, n)
        for mk, key, memo in self._match_keys:
            tokens[mk.name] = self._match_key(mk, key, memo, col_by_name, by_name, n)

        stats = {c.name: c.stats(keep) for c in columns}
        return EncodedChunk(
            clks=clks,
            tokens=tokens,
            present=present,
            row_tokens=row_tokens,
            record_ids=record_ids,
            rejects=rejects,
            stats=stats,
        )

    def _salts(
        self, columns: dict[str, FieldColumn], codes: dict[str, npt.NDArray[np.int64]], n: int
    ) -> tuple[npt.NDArray[np.int64], list[str]]:
        """Each row's salt as an index into the distinct salt strings of the chunk.

        The salt is the salt field's canonical value through its transform (as a
        match-key part), ``""`` when the value or the whole field is missing.
        """
        assert self._salt is not None
        name, how = self._salt
        col = columns.get(name)
        if col is None:
            return np.zeros(n, dtype=np.int64), [""]
        memo_t = self._transformed.setdefault((name, how), {})
        if len(memo_t) >= _MEMO_LIMIT:
            memo_t.clear()
        interned: dict[str, int] = {}
        ids = np.empty(len(col.outcomes), dtype=np.int64)
        for u, o in enumerate(col.outcomes):
            value = None
            if o.canonical is not None:
                if o.canonical not in memo_t:
                    memo_t[o.canonical] = transform(o.canonical, how)
                value = memo_t[o.canonical]
            ids[u] = interned.setdefault(value or "", len(interned))
        return ids[codes[name]], list(interned)

    def _exact_tokens(
        self,
        columns: dict[str, FieldColumn],
        codes: dict[str, npt.NDArray[np.int64]],
        n: int,
    ) -> dict[str, npt.NDArray[np.uint8]]:
        """Per exact field: HMAC per distinct canonical value (memoised), gathered per row."""
        tokens = {}
        for name, (key, memo) in self._exact.items():
            col = columns.get(name)
            if col is None:  # the party lacks this field
                tokens[name] = np.zeros((n, TOKEN_BYTES), dtype=np.uint8)
                continue
            table = [
                MISSING_TOKEN
                if o.canonical is None
                else memo.get(o.canonical)
                or memo.remember(o.canonical, exact_token(key, o.canonical))
                for o in col.outcomes
            ]
            tokens[name] = _token_table(table)[codes[name]]
        return tokens

    def _reject_empty_ids(
        self,
        columns: Sequence[Sequence[str]],
        numbers: Sequence[int],
        keep: npt.NDArray[np.bool_],
        rejects: list[Reject],
    ) -> None:
        """A row without an internal id could never be rejoined: reject it."""
        ids = columns[self._record_id]  # type: ignore[index]
        empty = [i for i in np.flatnonzero(keep).tolist() if not ids[i].strip()]
        if empty:
            keep[empty] = False
            rejects.extend(
                Reject(numbers[i], self._record_id_column, "record_id.empty") for i in empty
            )
            rejects.sort(key=lambda r: r.row)

    def _record_ids(
        self, columns: Sequence[Sequence[str]], numbers: Sequence[int], kept: npt.NDArray[np.intp]
    ) -> list[str]:
        """Internal ids of the kept rows: the record-id column, else the data row number."""
        everything = len(kept) == len(numbers)
        if self._record_id is None:
            return (
                list(map(str, numbers)) if everything else [str(numbers[i]) for i in kept.tolist()]
            )
        ids = columns[self._record_id]
        if everything:
            return list(map(str.strip, ids))
        return [ids[i].strip() for i in kept.tolist()]

    def _match_key(
        self,
        mk: MatchKey,
        key: bytes,
        memo: _Memo,
        columns: dict[str, FieldColumn],
        codes: dict[str, npt.NDArray[np.int64]],
        n: int,
    ) -> npt.NDArray[np.uint8]:
        """Tokens of one match key: HMAC per distinct combination of transformed parts."""
        interned: dict[str, int] = {}
        values: list[str] = []
        per_part = np.full((n, len(mk.parts)), -1, dtype=np.int64)
        for j, part in enumerate(mk.parts):
            col = columns.get(part.field)
            if col is None:  # the party lacks this field: the key is missing everywhere
                return np.zeros((n, TOKEN_BYTES), dtype=np.uint8)
            ids = np.full(len(col.outcomes), -1, dtype=np.int64)
            memo_t = self._transformed.setdefault((part.field, part.transform), {})
            if len(memo_t) >= _MEMO_LIMIT:
                memo_t.clear()
            for u, o in enumerate(col.outcomes):
                if o.canonical is None:
                    continue
                if o.canonical in memo_t:
                    v = memo_t[o.canonical]
                else:
                    v = memo_t[o.canonical] = transform(o.canonical, part.transform)
                if v is None:
                    continue
                if v not in interned:
                    interned[v] = len(values)
                    values.append(v)
                ids[u] = interned[v]
            per_part[:, j] = ids[codes[part.field]]
        out = np.zeros((n, TOKEN_BYTES), dtype=np.uint8)
        complete = np.flatnonzero((per_part >= 0).all(axis=1))
        if not len(complete):
            return out
        combos, inverse = _unique_rows(per_part[complete], len(values))
        table = []
        for combo in combos.tolist():
            parts = tuple(values[i] for i in combo)
            table.append(memo.get(parts) or memo.remember(parts, match_key_token(key, parts)))
        out[complete] = _token_table(table)[inverse]
        return out


def _salted(prefix: str, tokens: TokenFunction) -> TokenFunction:
    """Feature tokens of a salted value ``salt + "\\x1f" + canonical`` (see _salt_values)."""

    def salted(value: str) -> tuple[str, ...]:
        salt, _, canonical = value.partition("\x1f")
        return salt_features([prefix + t for t in tokens(canonical)], salt)

    return salted


def _salt_values(
    codes: npt.NDArray[np.int64],
    canonicals: list[str | None],
    salt_ids: npt.NDArray[np.int64],
    salt_values: list[str],
) -> tuple[npt.NDArray[np.int64], list[str | None]]:
    """Per row, an index into the distinct ``salt + "\\x1f" + canonical`` strings.

    The unit separator cannot occur in a canonical value or a salt, so the salt is the
    part before the first one; a missing value stays missing whatever its salt.
    """
    base = max(len(canonicals), len(salt_values))
    combos, inverse = _unique_rows(np.stack([codes, salt_ids], axis=1), base)
    values = [
        None if canonicals[c] is None else salt_values[s] + "\x1f" + str(canonicals[c])
        for c, s in combos.tolist()
    ]
    return inverse, values


def _unique_rows(
    ids: npt.NDArray[np.int64], base: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Distinct rows of ``ids`` (entries in ``[0, base)``) and each row's index among them.

    Rows are packed into one int64 each when ``base ** width`` fits (a 1-D unique is
    far faster than ``np.unique(axis=0)``), else compared as rows.
    """
    width = ids.shape[1]
    if base**width < 2**63:
        packed = np.zeros(len(ids), dtype=np.int64)
        for j in range(width):
            packed = packed * base + ids[:, j]
        uniq, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
        return ids[first], inverse.reshape(-1)
    combos, inverse = np.unique(ids, axis=0, return_inverse=True)
    return combos, inverse.reshape(-1)


def _token_table(tokens: list[bytes]) -> npt.NDArray[np.uint8]:
    if not tokens:
        return np.zeros((0, TOKEN_BYTES), dtype=np.uint8)
    return np.frombuffer(b"".join(tokens), dtype=np.uint8).reshape(len(tokens), TOKEN_BYTES)
