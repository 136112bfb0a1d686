"""One chunk of rows -> CLKs, exact tokens, match keys, validity bits, row tokens.

:class:`ChunkEncoder` holds everything fixed for a run: the field readers (mapping +
normalisers), the per-field Bloom encoders and token keys derived from the secret, and
the memo tables. :meth:`ChunkEncoder.encode` takes a chunk as factorised columns
(:mod:`hashmatch.encode.columns`, from the pyarrow or the Python reader alike) and does
its work only per *distinct* value of a field (filters: :mod:`~hashmatch.encode.bloom_table`;
match keys: per distinct combination of parts, :mod:`~hashmatch.encode.match_keys`);
per-row work is numpy (gather, scatter, pack).

Hardening (the schema's ``hardening`` table, see :mod:`hashmatch.encode.harden`): the
Bloom filters are built at their raw sizes (``harden.raw_layout``) and each chunk goes
through ``apply_hardening`` with per-field ``harden`` keys and the chunk's row tokens
(BLIP noise is keyed by both, so a re-run with the same row tokens gives the same bits).
Salting (``hardening.salt`` for every Bloom field, a field's ``salt`` for that one)
prefixes the field's features with the salt field's transformed value; a salted filter is
then memoised per distinct (salt, value) pair. Even fill scales each value's ``k`` with
its feature count (:mod:`hashmatch.encode.bloom`). Without hardening none of this runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hashmatch.encode._rows import or_fields
from hashmatch.encode.bloom import FieldBloom, even_features
from hashmatch.encode.bloom_table import BloomTable
from hashmatch.encode.columns import ColumnChunk, RowChunk, unique_rows
from hashmatch.encode.features import TokenFunction, feature_tokens
from hashmatch.encode.harden import apply_hardening, raw_layout, salt_features
from hashmatch.encode.keys import LinkageSecret, RowKey
from hashmatch.encode.match_keys import MatchKeyTokens, PartValues
from hashmatch.encode.prf import HmacSha256
from hashmatch.encode.record_ids import SeenIds
from hashmatch.encode.records import (
    FieldColumn,
    FieldReader,
    FieldStats,
    Reject,
    required_rejects,
)
from hashmatch.encode.sources.chunk import Chunk
from hashmatch.encode.tokens import MISSING_TOKEN, TOKEN_BYTES
from hashmatch.schema.model import MatchKey, ResolvedMapping, Schema

_MEMO_LIMIT = 1 << 16  # entries per memo (bounded memory; a memo is emptied when full)


@dataclass(frozen=True)
class EncodedChunk:
    """The encodings of a chunk's accepted rows, ready for ``EncodingWriter.append``."""

    clks: npt.NDArray[np.uint64]  # [n, clk_bits/64]
    tokens: dict[str, npt.NDArray[np.uint8]]  # name -> [n, 16]; all-zero = missing
    present: npt.NDArray[np.bool_]  # [n, n_fields] in schema field order
    row_tokens: npt.NDArray[np.uint8]  # [n, 16] keyed by the party's row key
    record_ids: list[str]  # the party's ids (lookup file only)
    rejects: list[Reject]  # rows of the chunk that were not encoded
    stats: dict[str, FieldStats]  # per present field, over the accepted rows

    @property
    def rows(self) -> int:
        return int(self.clks.shape[0])


class _Memo(dict[str | None, bytes]):
    """An exact field's tokens by canonical value; bounded: emptied when full."""

    def __init__(self) -> None:
        super().__init__({None: MISSING_TOKEN})

    def tokens(self, key: HmacSha256, canonicals: Sequence[str | None]) -> list[bytes]:
        """The token of each canonical value (the missing token for None), hashing the
        values not remembered in one batch."""
        found = list(map(self.get, canonicals))
        if None not in found:
            return found  # type: ignore[return-value]  # (no None left)
        at = [i for i, f in enumerate(found) if f is None]
        new: list[str] = [canonicals[i] for i in at]  # type: ignore[misc]  # (None is known)
        hashed = key.tokens(new)
        for j, i in enumerate(at):
            found[i] = hashed[j * TOKEN_BYTES : (j + 1) * TOKEN_BYTES]
        if len(self) + len(new) > _MEMO_LIMIT:
            self.clear()
            self[None] = MISSING_TOKEN
        self.update(zip(new, map(found.__getitem__, at), strict=True))  # type: ignore[arg-type]
        return found  # type: ignore[return-value]  # (no None left)


class ChunkEncoder:
    """Encodes chunks of one party's rows under one schema and secret."""

    def __init__(
        self,
        schema: Schema,
        secret: LinkageSecret,
        resolved: ResolvedMapping,
        header: Sequence[str],
        row_key: RowKey | None = None,
    ) -> None:
        self.schema = schema
        #: Row tokens are the record ids under the party's row key (stable across runs);
        #: without one, a fresh key makes them random per run.
        self._row_key = row_key if row_key is not None else RowKey.generate()
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
        #: Bloom field -> (salt field, transform): ``hardening.salt`` salts every Bloom
        #: field, a field's own ``salt`` only that one.
        self._salt: dict[str, tuple[str, str | None]] = {}
        for f in schema.fields:
            how = f.salt or hardening.salt
            if f.bloom is not None and how is not None:
                salt_field, _, salt_transform = how.partition(":")
                self._salt[f.name] = (salt_field, salt_transform or None)
        self._blooms: dict[str, FieldBloom] = {}
        self._tables: dict[str, BloomTable] = {}  # unsalted fields: vectorised filters
        self._bloom_k: dict[str, int] = {}
        for seg in raw_segments:
            spec = schema.field_named(seg.field)
            if spec.bloom is None:
                continue
            self._bloom_k[seg.field] = spec.bloom.k
            if seg.field in resolved.fields:
                prefix, tokens = feature_tokens(spec.type, spec.bloom.q, spec.bloom.padding)
                if seg.field in self._salt:
                    prefix, tokens = "", _salted(prefix, tokens)
                self._blooms[seg.field] = FieldBloom(
                    secret.derive("bloom", schema.bloom_key_label(seg.field)),
                    start=seg.start,
                    bits=seg.bits,
                    k=spec.bloom.k,
                    prefix=prefix,
                    tokens=tokens,
                    even=even_features(spec.type) if hardening.even else None,
                )
                if seg.field not in self._salt:
                    self._tables[seg.field] = BloomTable(
                        self._blooms[seg.field], spec.type, spec.bloom.q, spec.bloom.padding
                    )
        self._harden_keys = (
            {seg.field: secret.derive("harden", seg.field) for seg in schema.segments}
            if self._harden
            else {}
        )
        #: A swap pair's permutation and padding follow the pair's key (see harden.py).
        self._layout_keys = {
            name: secret.derive("harden", schema.bloom_key_label(name))
            for pair in (schema.swap_pairs if self._harden else ())
            for name in pair
        }
        self._exact = {
            f.name: (HmacSha256(secret.derive("exact", f.name)), _Memo())
            for f in schema.fields
            if f.exact
        }
        #: (field, transform) -> that match-key part's values (also the salt's)
        self._parts: dict[tuple[str, str | None], PartValues] = {}
        self._match_keys = [
            (
                mk,
                MatchKeyTokens(
                    secret.derive("matchkey", mk.name),
                    [self._part(p.field, p.transform) for p in mk.parts],
                ),
            )
            for mk in schema.match_keys
        ]
        self._record_id = resolved.record_id_index
        self._record_id_column = "" if self._record_id is None else header[self._record_id]
        self._seen_ids = SeenIds()  # of the whole run: the first row with an id keeps it

    def repeated_ids(self, chunk: Chunk | ColumnChunk) -> npt.NDArray[np.bool_] | None:
        """Per usable row of ``chunk``, whether an earlier row of the run (this chunk's or
        an earlier one's) has its record id; remembers the chunk's ids. None when ids are
        row numbers. Chunks must come in reading order: this is the encoder's only state
        that changes its output (see :mod:`hashmatch.encode.parallel`)."""
        table: ColumnChunk = RowChunk(chunk) if isinstance(chunk, Chunk) else chunk
        ids = self._stripped_ids(table)
        return None if ids is None else self._seen_ids.repeated(ids)

    def encode(
        self, chunk: Chunk | ColumnChunk, *, repeated: npt.NDArray[np.bool_] | None = None
    ) -> EncodedChunk:
        """Encode the usable rows of ``chunk``; rows failing a required field are rejected.

        ``repeated``: the chunk's :meth:`repeated_ids`, when another encoder (the one that
        sees every chunk in order) computed it; by default this encoder does.
        """
        table: ColumnChunk = RowChunk(chunk) if isinstance(chunk, Chunk) else chunk
        numbers = table.row_numbers
        columns = [
            reader.read_factors([table.factor(i) for i in reader.indices])
            for reader in self.readers
        ]
        keep, rejects = required_rejects(self.readers, columns, numbers)
        ids = self._stripped_ids(table)
        if ids is not None:
            if repeated is None:
                repeated = self._seen_ids.repeated(ids)
            self._reject_bad_ids(ids, repeated, numbers, keep, rejects)
        kept = np.flatnonzero(keep)
        record_ids = self._record_ids(ids, numbers, kept)
        n = len(kept)
        every = n == len(numbers)  # the usual case: no gathers needed
        by_name = {c.name: c.codes if every else c.codes[kept] for c in columns}

        present = np.zeros((n, len(self.schema.fields)), dtype=np.bool_)
        for col in columns:
            present[:, self._field_pos[col.name]] = col.valid if every else col.valid[kept]

        col_by_name = {c.name: c for c in columns}
        row_tokens = self._row_key.tokens(record_ids)
        clks = self._clks(col_by_name, by_name, n)
        if self._harden:
            clks = apply_hardening(
                clks,
                self.schema.segments,
                self.schema.hardening,
                keys=self._harden_keys,
                layout_keys=self._layout_keys,
                row_tokens=row_tokens,
                bloom_k=self._bloom_k,
            )

        tokens = self._exact_tokens(col_by_name, by_name, n)
        for mk, key_tokens in self._match_keys:
            tokens[mk.name] = self._match_key(mk, key_tokens, col_by_name, by_name, n)

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

    def _clks(
        self, columns: dict[str, FieldColumn], codes: dict[str, npt.NDArray[np.intp]], n: int
    ) -> npt.NDArray[np.uint64]:
        """The raw CLKs: each field's filter per distinct value, OR-ed into its words."""
        clks = np.zeros((n, self._raw_words), dtype=np.uint64)
        for name, col in columns.items():
            bloom = self._blooms.get(name)
            if name in self._salt and bloom is not None and n:
                salts = self._salts(self._salt[name], columns, codes, n)
                salted_codes, salted = _salt_values(codes[name], col.canonicals, *salts)
                bloom.or_into(clks, salted_codes, salted)
        firsts, tables, indices = [], [], []
        for name, col in columns.items():
            table = self._tables.get(name)
            if table is not None:
                rows, index = table.per_row(col.canonicals, codes[name])
                firsts.append(table.bloom.first_word)
                tables.append(rows)
                indices.append(index)
        if tables:
            or_fields(clks, firsts, tables, np.stack(indices))
        return clks

    def _salts(
        self,
        salt: tuple[str, str | None],
        columns: dict[str, FieldColumn],
        codes: dict[str, npt.NDArray[np.intp]],
        n: int,
    ) -> tuple[npt.NDArray[np.intp], list[str]]:
        """Each row's ``salt`` (field, transform) as an index into the distinct salt
        strings of the chunk.

        The salt is the salt field's canonical value through its transform (as a
        match-key part), ``""`` when the value or the whole field is missing.
        """
        name, how = salt
        col = columns.get(name)
        if col is None:
            return np.zeros(n, dtype=np.intp), [""]
        part = self._part(name, how)
        ids = part.ids(col.canonicals)
        ids[ids < 0] = len(part.values)  # missing: the salt ""
        return ids[codes[name]], [*part.values, ""]

    def _part(self, name: str, how: str | None) -> PartValues:
        """The values of field ``name`` through transform ``how`` (shared by every match
        key, and the salt, that use that part)."""
        return self._parts.setdefault((name, how), PartValues(how))

    def _exact_tokens(
        self,
        columns: dict[str, FieldColumn],
        codes: dict[str, npt.NDArray[np.intp]],
        n: int,
    ) -> dict[str, npt.NDArray[np.uint8]]:
        """Per exact field: HMAC per distinct canonical value (memoised), gathered per row."""
        tokens = {}
        for name, (key, memo) in self._exact.items():
            col = columns.get(name)
            if col is None:  # the party lacks this field
                tokens[name] = np.zeros((n, TOKEN_BYTES), dtype=np.uint8)
                continue
            tokens[name] = np.take(
                _token_table(memo.tokens(key, col.canonicals)), codes[name], axis=0
            )
        return tokens

    def _stripped_ids(self, table: ColumnChunk) -> list[str] | None:
        """The record-id column's cells, stripped; None when ids are row numbers."""
        if self._record_id is None:
            return None
        return list(map(str.strip, table.cells(self._record_id)))

    def _reject_bad_ids(
        self,
        ids: list[str],
        repeated: npt.NDArray[np.bool_],
        numbers: Sequence[int],
        keep: npt.NDArray[np.bool_],
        rejects: list[Reject],
    ) -> None:
        """A row without an internal id could never be rejoined, and one whose id an
        earlier row has (which keeps it) would be rejoined ambiguously: reject them."""
        empty = "" in ids  # the usual case has neither, checked in C
        if not empty and not repeated.any():
            return
        found = [
            (i, "record_id.empty" if not ids[i] else "record_id.duplicate")
            for i in np.flatnonzero(keep).tolist()
            if not ids[i] or repeated[i]
        ]
        if found:
            keep[[i for i, _ in found]] = False
            rejects.extend(Reject(numbers[i], self._record_id_column, why) for i, why in found)
            rejects.sort(key=lambda r: r.row)

    def _record_ids(
        self, ids: list[str] | None, numbers: Sequence[int], kept: npt.NDArray[np.intp]
    ) -> list[str]:
        """Internal ids of the kept rows: the record-id column, else the data row number."""
        everything = len(kept) == len(numbers)
        if ids is None:
            return (
                list(map(str, numbers)) if everything else [str(numbers[i]) for i in kept.tolist()]
            )
        return ids if everything else [ids[i] for i in kept.tolist()]

    def _match_key(
        self,
        mk: MatchKey,
        key_tokens: MatchKeyTokens,
        columns: dict[str, FieldColumn],
        codes: dict[str, npt.NDArray[np.intp]],
        n: int,
    ) -> npt.NDArray[np.uint8]:
        """Tokens of one match key (missing where a part is, everywhere if a field is)."""
        ids = np.empty((n, len(mk.parts)), dtype=np.intp)
        for j, (part, values) in enumerate(zip(mk.parts, key_tokens.parts, strict=True)):
            col = columns.get(part.field)
            if col is None:  # the party lacks this field: the key is missing everywhere
                return np.zeros((n, TOKEN_BYTES), dtype=np.uint8)
            ids[:, j] = values.ids(col.canonicals)[codes[part.field]]
        return key_tokens.tokens(ids)


def _salted(prefix: str, tokens: TokenFunction) -> TokenFunction:
    """Feature tokens of a salted value ``salt + "\\x1f" + canonical`` (see _salt_values)."""

    def salted(value: str) -> tuple[str, ...]:
        salt, _, canonical = value.partition("\x1f")
        return salt_features([prefix + t for t in tokens(canonical)], salt)

    return salted


def _salt_values(
    codes: npt.NDArray[np.intp],
    canonicals: list[str | None],
    salt_ids: npt.NDArray[np.intp],
    salt_values: list[str],
) -> tuple[npt.NDArray[np.intp], list[str | None]]:
    """Per row, an index into the distinct ``salt + "\\x1f" + canonical`` strings.

    The unit separator cannot occur in a canonical value or a salt, so the salt is the
    part before the first one; a missing value stays missing whatever its salt.
    """
    base = max(len(canonicals), len(salt_values))
    combos, inverse = unique_rows(np.stack([codes, salt_ids], axis=1), base)
    values = [
        None if canonicals[c] is None else salt_values[s] + "\x1f" + str(canonicals[c])
        for c, s in combos.tolist()
    ]
    return inverse, values


def _token_table(tokens: list[bytes]) -> npt.NDArray[np.uint8]:
    if not tokens:
        return np.zeros((0, TOKEN_BYTES), dtype=np.uint8)
    return np.frombuffer(b"".join(tokens), dtype=np.uint8).reshape(len(tokens), TOKEN_BYTES)
