"""The ``.hme`` encoding file: what a party hands to the coordinator.

One self-describing, versioned, checksummed binary file per party holding the CLK bit
matrix, the exact-token columns, the opaque row tokens and per-field validity bits, laid
out so each array can be memory-mapped in place (tens of millions of rows cost no RAM to
open). :class:`EncodingWriter` streams rows in and publishes the file atomically;
:meth:`EncodingFile.open` refuses foreign, newer-format, truncated and tampered files,
each with its own message naming the file. Sealing/signing (``hashmatch.seal.envelope``) wraps a
whole ``.hme`` file in an outer envelope and leaves this format unchanged.

Byte layout, format version 1 (all integers little-endian; ``ALIGN`` = 64)::

    offset        size  content
    0             8     magic  b"\\x89HME\\r\\n\\x1a\\n"
    8             4     uint32 format version (hashmatch._version.FORMAT_VERSION)
    12            4     uint32 flags: none defined in v1; a reader refuses unknown bits
    16            8     uint64 header length H
    24            H     header: UTF-8 JSON, canonical (sorted keys, no whitespace)
    24+H          ...   zero padding up to the first section (a multiple of 64)
    sections      ...   each at the offset its header entry gives (multiple of 64),
                        zero padding between them, in this order:
                          clk            <u8  [rows, clk_bits/64]
                          row_tokens     |u1  [rows, 16]
                          token:<name>   |u1  [rows, 16]   one per token_names entry
                          present        |u1  [rows, ceil(n_fields/8)]
    L-48          32    SHA-256 of bytes [0, L-48)
    L-16          8     uint64 total file length L
    L-8           8     end magic b"\\x1aHMEEND\\n"

Arrays are C-ordered. CLK bit ``b`` of a row is bit ``b % 64`` of word ``b // 64``; the
``present`` bit of field ``f`` is bit ``f % 8`` (least significant first) of byte
``f // 8``; an all-zero exact token means "missing".

Header keys (all required; unknown keys are refused, so a new key means a new format
version; ``extra`` is the free extension point): ``format_version``, ``encoder_version``,
``hashmatch_version``, ``schema_fingerprint``, ``party``, ``rows``, ``clk_bits``,
``segments`` ([{field, start, bits}]), ``token_names``, ``field_names``, ``created``
(ISO 8601 UTC, seconds, ``Z``), ``secret_commitment`` (lower-case hex, may be empty),
``extra`` (object), ``sections`` ([{name, offset, length, dtype, shape}]),
``file_length`` (L). Offsets are absolute. The full specification, with the reasons for
each choice, is docs/explanation/file-format.md.
"""

from hashmatch._types import Segment, TokenKind

from ._layout import (
    ALIGN,
    END_MAGIC,
    MAGIC,
    Header,
    Section,
    field_types,
    stable_fields,
    swap_pairs,
    token_kinds,
)
from ._reader import EncodingFile, unpack_present, verify_file
from ._writer import EncodingWriter, new_header

__all__ = [
    "ALIGN",
    "END_MAGIC",
    "MAGIC",
    "EncodingFile",
    "EncodingWriter",
    "Header",
    "Section",
    "Segment",
    "TokenKind",
    "field_types",
    "new_header",
    "stable_fields",
    "swap_pairs",
    "token_kinds",
    "unpack_present",
    "verify_file",
]
