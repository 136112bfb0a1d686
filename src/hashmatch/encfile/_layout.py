"""Byte layout of the .hme container: constants, the Header dataclass, header (de)coding.

Shared by the writer and the reader so the two can never disagree. The layout itself is
documented in :mod:`hashmatch.encfile` and docs/explanation/file-format.md. The header's
``extra`` is read here too (:func:`token_kinds`, :func:`field_types`, :func:`stable_fields`,
:func:`swap_pairs`, also as :class:`Header` properties), so the party side (audit) and the
coordinator interpret a header one way.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np

from hashmatch._types import Segment, TokenKind
from hashmatch._version import FORMAT_VERSION

#: First 8 bytes. PNG-style: the 0x89 high-bit byte catches 7-bit transfers and marks the
#: file as binary, CR LF catches newline conversion, 0x1A stops a DOS ``type``.
MAGIC = b"\x89HME\r\n\x1a\n"
#: Last 8 bytes: the writer finished (a truncated file lacks them).
END_MAGIC = b"\x1aHMEEND\n"
#: magic, uint32 format version, uint32 flags, uint64 header length (little-endian).
PREAMBLE = struct.Struct("<8sIIQ")
#: SHA-256 of every byte before the trailer, uint64 total file length, end magic.
TRAILER = struct.Struct("<32sQ8s")
#: Every section starts at a multiple of this (cache line; AVX-512 friendly; >= 8 for uint64).
ALIGN = 64
#: No flag is defined in format version 1; a reader refuses bits it does not know.
KNOWN_FLAGS = 0
#: Format versions this release reads.
READABLE_VERSIONS = range(1, FORMAT_VERSION + 1)
#: Upper bound on the JSON header, so a corrupt length cannot make a reader allocate GiBs.
MAX_HEADER_BYTES = 16 << 20
#: Bytes per exact token and per row token.
TOKEN_BYTES = 16

CLK_SECTION = "clk"
ROW_TOKENS_SECTION = "row_tokens"
PRESENT_SECTION = "present"
TOKEN_SECTION_PREFIX = "token:"

CLK_DTYPE = np.dtype("<u8")  # explicit little-endian: big-endian hosts read it correctly
BYTE_DTYPE = np.dtype("u1")

_NAME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
_HEX_RE = re.compile(r"(?:[0-9a-f]{2})*\Z")


def align(offset: int) -> int:
    """Round ``offset`` up to the next multiple of :data:`ALIGN`."""
    return -(-offset // ALIGN) * ALIGN


def present_bytes(n_fields: int) -> int:
    """Bytes per row of the packed ``present`` bit matrix."""
    return math.ceil(n_fields / 8)


@dataclass(frozen=True)
class Section:
    """Where one array lives in the file: ``length`` bytes at ``offset``, C order."""

    name: str
    offset: int
    length: int
    dtype: str  # numpy dtype string: "<u8" or "|u1"
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Header:
    """Everything an .hme file says about itself (read-only).

    ``segments`` locate each field's Bloom filter inside the CLK; ``token_names`` are the
    exact-token columns in file order; ``field_names`` index the columns of ``present``.
    ``extra`` is the extension point for later features (read-only mapping).
    """

    format_version: int
    encoder_version: int
    hashmatch_version: str
    schema_fingerprint: str
    party: str
    rows: int
    clk_bits: int
    segments: tuple[Segment, ...]
    token_names: tuple[str, ...]
    field_names: tuple[str, ...]
    created: str
    secret_commitment: str
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    sections: tuple[Section, ...] = ()
    file_length: int = 0

    @property
    def clk_words(self) -> int:
        """uint64 words per CLK row."""
        return self.clk_bits // 64

    @property
    def token_kinds(self) -> dict[str, TokenKind]:
        """What each exact-token column is, for scoring (see :func:`token_kinds`)."""
        return token_kinds(self.token_names, self.field_names, self.extra)

    @property
    def field_types(self) -> dict[str, str]:
        """Field name -> schema type (see :func:`field_types`)."""
        return field_types(self.extra)

    @property
    def stable_fields(self) -> frozenset[str]:
        """Fields whose clear disagreement lowers a pair's score (schema ``stable``)."""
        return stable_fields(self.extra)

    @property
    def swap_pairs(self) -> tuple[tuple[str, str], ...]:
        """``(field, other)`` pairs sharing one Bloom key (schema ``swaps_with``)."""
        return swap_pairs(self.extra)

    def section(self, name: str) -> Section:
        for s in self.sections:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        """The header as plain JSON-ready data (what is stored in the file)."""
        return {
            "format_version": self.format_version,
            "encoder_version": self.encoder_version,
            "hashmatch_version": self.hashmatch_version,
            "schema_fingerprint": self.schema_fingerprint,
            "party": self.party,
            "rows": self.rows,
            "clk_bits": self.clk_bits,
            "segments": [
                {"field": s.field, "start": s.start, "bits": s.bits} for s in self.segments
            ],
            "token_names": list(self.token_names),
            "field_names": list(self.field_names),
            "created": self.created,
            "secret_commitment": self.secret_commitment,
            "extra": _thaw(self.extra),
            "sections": [
                {
                    "name": s.name,
                    "offset": s.offset,
                    "length": s.length,
                    "dtype": s.dtype,
                    "shape": list(s.shape),
                }
                for s in self.sections
            ],
            "file_length": self.file_length,
        }


def token_kinds(
    token_names: Sequence[str], field_names: Sequence[str], extra: Mapping[str, Any]
) -> dict[str, TokenKind]:
    """What each exact-token column of a file is, for scoring.

    ``extra["token_kinds"]``, which the encoder writes, is taken as given. Files written
    before it existed record token names, not their purpose, so for them: a token named
    like a schema field is that field's exact token (``identifier``); a match key whose
    name starts with ``blk`` is a blocking key (``block``, no score); any other match key
    is scoring evidence (``match``).

    >>> token_kinds(["email", "blk_dob", "name_dob"], ["email", "dob"], {})
    {'email': 'identifier', 'blk_dob': 'block', 'name_dob': 'match'}
    """
    declared = dict(extra.get("token_kinds", {}))
    kinds: dict[str, TokenKind] = {}
    for name in token_names:
        if name in declared:
            kinds[name] = declared[name]
        elif name in field_names:
            kinds[name] = "identifier"
        else:
            kinds[name] = "block" if name.startswith("blk") else "match"
    return kinds


def field_types(extra: Mapping[str, Any]) -> dict[str, str]:
    """Field name -> schema type from a header's ``extra``; empty for files written before
    types were recorded (the coordinator then compares every field by Dice)."""
    return {str(name): str(kind) for name, kind in extra.get("field_types", {}).items()}


def stable_fields(extra: Mapping[str, Any]) -> frozenset[str]:
    """The fields a header's ``extra`` marks stable (none for older files)."""
    return frozenset(str(name) for name in extra.get("stable_fields", ()))


def swap_pairs(extra: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The ``(field, other)`` pairs a header's ``extra`` says share one Bloom key."""
    return tuple((str(a), str(b)) for a, b in extra.get("swap_pairs", ()))


def canonical_json(doc: Mapping[str, Any]) -> bytes:
    """Sorted keys, no whitespace, UTF-8: one byte string per header, so edits show."""
    return json.dumps(
        doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def expected_sections(
    rows: int, clk_bits: int, token_names: Sequence[str], n_fields: int
) -> list[tuple[str, np.dtype[Any], tuple[int, ...]]]:
    """(name, dtype, shape) of every section, in file order."""
    out: list[tuple[str, np.dtype[Any], tuple[int, ...]]] = [
        (CLK_SECTION, CLK_DTYPE, (rows, clk_bits // 64)),
        (ROW_TOKENS_SECTION, BYTE_DTYPE, (rows, TOKEN_BYTES)),
    ]
    out += [(TOKEN_SECTION_PREFIX + t, BYTE_DTYPE, (rows, TOKEN_BYTES)) for t in token_names]
    out.append((PRESENT_SECTION, BYTE_DTYPE, (rows, present_bytes(n_fields))))
    return out


def check_metadata(
    *,
    party: str,
    schema_fingerprint: str,
    encoder_version: int,
    clk_bits: int,
    segments: Sequence[Segment],
    token_names: Sequence[str],
    field_names: Sequence[str],
    secret_commitment: str,
) -> list[str]:
    """Problems with header metadata, as ``key: expected ..., got ...`` strings.

    Used by the writer (arguments) and the reader (a parsed header), so a file that one
    accepts the other accepts too. Messages never quote free-text values.
    """
    problems: list[str] = []
    if not isinstance(party, str) or not party or not party.isprintable():
        problems.append("party: expected a non-empty printable string")
    if not isinstance(schema_fingerprint, str) or not schema_fingerprint:
        problems.append("schema_fingerprint: expected a non-empty string")
    if not _is_int(encoder_version) or encoder_version < 1:
        problems.append("encoder_version: expected an integer >= 1")
    if not _is_int(clk_bits) or clk_bits <= 0 or clk_bits % 64:
        problems.append(f"clk_bits: expected a positive multiple of 64, got {clk_bits!r}")
    problems += _check_names("field_names", field_names)
    problems += _check_names("token_names", token_names)
    if not isinstance(secret_commitment, str) or not _HEX_RE.match(secret_commitment):
        problems.append("secret_commitment: expected lower-case hex or an empty string")
    end = 0
    for i, seg in enumerate(segments):
        where = f"segments[{i}]"
        if not (_is_int(seg.start) and _is_int(seg.bits)) or seg.bits <= 0:
            problems.append(f"{where}: expected integer start and positive bits")
            continue
        if seg.start < end or (_is_int(clk_bits) and seg.start + seg.bits > clk_bits):
            problems.append(f"{where}: overlaps another segment or runs past clk_bits")
        end = seg.start + seg.bits
        if isinstance(field_names, Sequence) and seg.field not in field_names:
            problems.append(f"{where}.field: not one of field_names")
    return problems


def _check_names(key: str, names: Sequence[str]) -> list[str]:
    if isinstance(names, str) or not isinstance(names, Sequence):
        return [f"{key}: expected a list of names"]
    bad = [i for i, n in enumerate(names) if not isinstance(n, str) or not _NAME_RE.match(n)]
    if bad:
        return [f"{key}[{bad[0]}]: expected a name matching [a-z][a-z0-9_]*"]
    if len(set(names)) != len(names):
        return [f"{key}: names must be unique"]
    return []


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def freeze(value: Any) -> Any:
    """Deep read-only copy of JSON data (dicts -> MappingProxyType, lists -> tuples)."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_thaw(v) for v in value]
    return value


_HEADER_KEYS = frozenset(Header(0, 0, "", "", "", 0, 0, (), (), (), "", "").to_dict())


class HeaderProblem(ValueError):
    """The JSON header is malformed; the message is a key path and what was expected."""


def header_from_json(raw: bytes) -> Header:
    """Parse and validate a stored header; raise :class:`HeaderProblem` if it is malformed.

    Checks types, names, segment and section geometry, and that ``raw`` is exactly the
    canonical serialisation (so no byte of the header can change without notice, even
    with ``verify=False``).
    """
    try:
        return _header_from_json(raw)
    except RecursionError:  # absurdly nested JSON: refuse, do not crash
        raise HeaderProblem("header: nested too deeply") from None


def _header_from_json(raw: bytes) -> Header:
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError):
        raise HeaderProblem("header: not valid UTF-8 JSON") from None
    if not isinstance(doc, dict):
        raise HeaderProblem("header: expected a JSON object")
    missing = sorted(_HEADER_KEYS - doc.keys())
    unknown = sorted(doc.keys() - _HEADER_KEYS)
    if missing:
        raise HeaderProblem(f"header: missing key(s) {', '.join(missing)}")
    if unknown:  # a new top-level key needs a new FORMAT_VERSION; `extra` is for the rest
        raise HeaderProblem(f"header: unknown key(s) {', '.join(unknown)}")
    ints = ("format_version", "encoder_version", "rows", "clk_bits", "file_length")
    for key in ints:
        if not _is_int(doc[key]) or doc[key] < 0:
            raise HeaderProblem(f"{key}: expected a non-negative integer")
    for key in ("hashmatch_version", "created"):
        if not isinstance(doc[key], str):
            raise HeaderProblem(f"{key}: expected a string")
    if not isinstance(doc["extra"], dict):
        raise HeaderProblem("extra: expected a JSON object")
    for key in ("segments", "sections", "token_names", "field_names"):
        if not isinstance(doc[key], list):
            raise HeaderProblem(f"{key}: expected a list")
    try:
        segments = tuple(Segment(str(s["field"]), s["start"], s["bits"]) for s in doc["segments"])
        sections = tuple(
            Section(str(s["name"]), s["offset"], s["length"], str(s["dtype"]), tuple(s["shape"]))
            for s in doc["sections"]
        )
    except (TypeError, KeyError):
        raise HeaderProblem("segments/sections: malformed entry") from None
    header = Header(
        format_version=doc["format_version"],
        encoder_version=doc["encoder_version"],
        hashmatch_version=doc["hashmatch_version"],
        schema_fingerprint=doc["schema_fingerprint"],
        party=doc["party"],
        rows=doc["rows"],
        clk_bits=doc["clk_bits"],
        segments=segments,
        token_names=tuple(doc["token_names"]),
        field_names=tuple(doc["field_names"]),
        created=doc["created"],
        secret_commitment=doc["secret_commitment"],
        extra=freeze(doc["extra"]),
        sections=sections,
        file_length=doc["file_length"],
    )
    problems = check_metadata(
        party=header.party,
        schema_fingerprint=header.schema_fingerprint,
        encoder_version=header.encoder_version,
        clk_bits=header.clk_bits,
        segments=header.segments,
        token_names=header.token_names,
        field_names=header.field_names,
        secret_commitment=header.secret_commitment,
    )
    if problems:
        raise HeaderProblem(problems[0])
    _check_sections(header)
    if canonical_json(header.to_dict()) != raw:
        raise HeaderProblem("header: not in canonical form")
    return header


def _reject_constant(name: str) -> Any:
    raise ValueError(name)  # NaN / Infinity are not JSON, and not canonical


def _check_sections(header: Header) -> None:
    """Sections are the expected ones, in order, aligned, sized, and inside the body."""
    expected = expected_sections(
        header.rows, header.clk_bits, header.token_names, len(header.field_names)
    )
    if [s.name for s in header.sections] != [name for name, _, _ in expected]:
        raise HeaderProblem("sections: not the sections the header's fields call for")
    end = 0
    for i, (sec, (_, dtype, shape)) in enumerate(zip(header.sections, expected, strict=True)):
        where = f"sections[{i}]"
        if sec.dtype != dtype.str or sec.shape != shape:
            raise HeaderProblem(f"{where}: expected dtype {dtype.str} and shape {list(shape)}")
        if not (_is_int(sec.offset) and _is_int(sec.length)):
            raise HeaderProblem(f"{where}: expected integer offset and length")
        if sec.length != math.prod(shape) * dtype.itemsize:
            raise HeaderProblem(f"{where}.length: does not match its shape")
        if sec.offset % ALIGN or sec.offset < end:
            raise HeaderProblem(f"{where}.offset: misaligned or overlapping")
        end = sec.offset + sec.length
    if header.file_length != end + TRAILER.size:
        raise HeaderProblem("file_length: does not match the end of the last section")
