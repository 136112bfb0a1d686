"""The linkage schema and the per-party mapping, as frozen dataclasses.

The *schema* is shared by every party: which logical fields exist, how each is
normalised, and how it is encoded. Its canonical fingerprint is stored in every encoding
file, so files made under different schemas are never compared.

The *mapping* is local to one party: which of its columns feed which schema field, and
how to parse its formats (date formats, phone region, name order). It never leaves the
party and is not part of the fingerprint.

CLK layout: the record-level CLK is the concatenation of one Bloom-filter *segment* per
field that has a ``bloom`` encoding, in schema order. Segment ``s`` occupies bits
``[s.start, s.start + s.bits)`` of the CLK, so field-level filters stay retrievable from
the CLK alone (for field-level, Fellegi-Sunter style scoring) and a missing field simply
leaves its segment empty. Bit ``b`` of a row is bit ``b % 64`` of uint64 word ``b // 64``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from hashmatch._types import Segment
from hashmatch.normalize._base import ColumnSource
from hashmatch.schema.hardening import Hardening
from hashmatch.schema.vocabulary import FIELD_TYPES, PART_TRANSFORMS, FieldType, PartTransform

# Segment, ColumnSource and the vocabulary live where every user of them can import them
# without a cycle; they are re-exported here, where schema users look for them.
__all__ = [
    "FIELD_TYPES",
    "PART_TRANSFORMS",
    "BloomEncoding",
    "ColumnSource",
    "Field",
    "FieldType",
    "MatchKey",
    "MatchKeyPart",
    "PartTransform",
    "PartyMapping",
    "ResolvedField",
    "ResolvedMapping",
    "Schema",
    "Segment",
]


@dataclass(frozen=True)
class BloomEncoding:
    """Keyed q-gram Bloom-filter encoding of one field into its CLK segment."""

    bits: int  # length of the field's segment in the CLK (resolved from weight if not given)
    k: int  # bit positions per feature (keyed PRF, independent positions)
    q: int = 2  # q-gram length for string features
    padding: bool = True  # pad with start/end markers so first/last letters count


@dataclass(frozen=True)
class Field:
    """A logical field of the linkage schema."""

    name: str
    type: str  # one of FIELD_TYPES
    normalize: Mapping[str, Any] = field(default_factory=dict)  # normaliser options
    bloom: BloomEncoding | None = None
    exact: bool = False  # emit a keyed exact token of the canonical value
    required: bool = False  # a row whose value is missing/invalid goes to the rejects
    #: The value rarely changes or is mistyped (first name, birth date): a clear
    #: disagreement on it lowers a pair's score (hashmatch.link.scoring, "field disagreement").
    stable: bool = False
    #: Another field whose value a record may hold instead of this one's (first and last
    #: name swapped). Both get one Bloom key, so the coordinator can compare across them.
    swaps_with: str | None = None
    #: ``"field"`` or ``"field:transform"`` (as ``hardening.salt``): that field's value,
    #: through the transform, prefixes this field's features before keyed hashing, so
    #: equal values under different salts give unrelated segments (per-field salting).
    salt: str | None = None


@dataclass(frozen=True)
class MatchKeyPart:
    field: str
    transform: str | None = None  # one of PART_TRANSFORMS


@dataclass(frozen=True)
class MatchKey:
    """A keyed token over several fields (e.g. last_name + date_of_birth).

    ``purpose="match"`` keys are evidence for scoring; ``purpose="block"`` keys only
    propose candidate pairs (they may be coarse, e.g. soundex(surname) + birth year).
    The token is missing when any part is missing.
    """

    name: str
    parts: tuple[MatchKeyPart, ...]
    purpose: Literal["match", "block"] = "match"


@dataclass(frozen=True)
class Schema:
    """A validated, defaults-filled linkage schema (use ``hashmatch.schema.load_schema``)."""

    version: int
    clk_bits: int  # total CLK length, a multiple of 64
    fields: tuple[Field, ...]
    match_keys: tuple[MatchKey, ...] = ()
    name: str = ""  # free-text label, part of the fingerprint
    #: Keyed transforms of the CLK segments (schema/hardening.py); default: none.
    hardening: Hardening = field(default_factory=Hardening)

    @property
    def segments(self) -> tuple[Segment, ...]:
        out, start = [], 0
        for f in self.fields:
            if f.bloom is not None:
                out.append(Segment(f.name, start, f.bloom.bits))
                start += f.bloom.bits
        return tuple(out)

    @property
    def swap_pairs(self) -> tuple[tuple[str, str], ...]:
        """``(field, other)`` for every field declaring ``swaps_with = other``."""
        return tuple((f.name, f.swaps_with) for f in self.fields if f.swaps_with)

    def bloom_key_label(self, name: str) -> str:
        """What the field's Bloom key is derived from: its own name, or ``"a+b"`` for the
        two fields of a swap pair, which share one key (their filters are comparable)."""
        for a, b in self.swap_pairs:
            if name in (a, b):
                return f"{a}+{b}"
        return name

    @property
    def exact_token_names(self) -> tuple[str, ...]:
        """Names of the exact-token columns an encoding file carries, in file order."""
        return tuple(f.name for f in self.fields if f.exact) + tuple(
            k.name for k in self.match_keys
        )

    @cached_property
    def fingerprint(self) -> str:
        """``"sha256:" + hex`` of the canonical resolved schema (see schema.fingerprint)."""
        from hashmatch.schema.fingerprint import schema_fingerprint

        return schema_fingerprint(self)

    def field_named(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


@dataclass(frozen=True)
class PartyMapping:
    """A party's local mapping from its columns to schema fields. Never leaves the party."""

    fields: Mapping[str, ColumnSource]  # schema field name -> source (every schema field)
    record_id: str | None = None  # column with the party's internal id (lookup file only)


@dataclass(frozen=True)
class ResolvedField:
    """A schema field bound to column positions of one input file's header."""

    name: str
    source: ColumnSource
    indices: tuple[int, ...]  # header positions of ``source.columns``, in that order


@dataclass(frozen=True)
class ResolvedMapping:
    """A party mapping bound to one file's header (see ``schema.resolve_columns``)."""

    fields: Mapping[str, ResolvedField]  # present fields only, in schema order
    absent_fields: tuple[str, ...]  # schema fields this party's file does not have
    record_id_index: int | None = None  # header position of the record-id column
