"""One party's encodings as the pipeline sees them, whether an open ``.hme`` file or an
in-memory ``EncodedBatch``: CLKs, tokens, row tokens, the segment layout, which fields each
row holds, and the per-input facts recorded in the report (:class:`PartyInfo`)."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from hashmatch._types import Clks, RowTokens, Tokens
from hashmatch.encfile import EncodingFile
from hashmatch.link.result import PartyInfo
from hashmatch.link.scoring import TokenKind
from hashmatch.link.segments import (
    DISAGREE_BELOW,
    DISAGREE_BELOW_DEFAULT,
    NESTED_FIELD_TYPES,
    SegmentView,
    aligned_segment,
)

__all__ = ["Encoding", "as_encoding", "info_of", "token_kinds", "tokens_digest"]


class Encoding(Protocol):
    """What the pipeline needs from one party's encodings (see :class:`_Party`)."""

    @property
    def clks(self) -> Clks: ...

    @property
    def row_tokens(self) -> RowTokens: ...

    @property
    def tokens(self) -> Mapping[str, Tokens]: ...

    @property
    def segments(self) -> list[tuple[int, int]]: ...

    @property
    def present(self) -> npt.NDArray[np.bool_]: ...

    @property
    def view(self) -> SegmentView: ...

    @property
    def disagree_below(self) -> Mapping[int, float]: ...

    @property
    def swap_segments(self) -> list[tuple[int, int]]: ...

    @property
    def aligned(self) -> Mapping[int, npt.NDArray[np.uint64]]: ...


def token_kinds(
    token_names: Sequence[str], field_names: Sequence[str], extra: Mapping[str, Any]
) -> dict[str, TokenKind]:
    """What each exact-token column of a file is, for scoring.

    The file header records token names, not their purpose, so: a token named like a
    schema field is that field's exact token (``identifier``); a match key whose name
    starts with ``blk`` is a blocking key (``block``, no score); any other match key is
    scoring evidence (``match``). ``extra["token_kinds"]`` in the header, when an encoder
    writes it, takes precedence.
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


def file_info(f: EncodingFile, source: str | None = None) -> PartyInfo:
    h = f.header
    return PartyInfo(
        party=h.party,
        source=source or str(f.path),
        rows=h.rows,
        digest=f.digest,
        schema_fingerprint=h.schema_fingerprint,
        encoder_version=h.encoder_version,
        clk_bits=h.clk_bits,
        secret_commitment=h.secret_commitment,
        token_kinds=token_kinds(h.token_names, h.field_names, h.extra),
    )


def info_of(encoding: Any) -> PartyInfo:
    if isinstance(encoding, EncodingFile):
        return file_info(encoding)
    from hashmatch._version import ENCODER_VERSION

    return PartyInfo(
        party=encoding.party,
        source=f"<memory: {encoding.party}>",
        rows=len(encoding.row_tokens),
        digest="",
        schema_fingerprint=encoding.schema.fingerprint,
        encoder_version=ENCODER_VERSION,
        clk_bits=encoding.schema.clk_bits,
        secret_commitment=encoding.secret_commitment,
        token_kinds={
            **{name: "identifier" for name in encoding.tokens},
            **{key.name: key.purpose for key in encoding.schema.match_keys},
        },
    )


class _Party:
    """One party's encodings (an open EncodingFile, an in-memory EncodedBatch, or any rows
    with an EncodingFile-like ``header``, such as a registry's) as the
    pipeline sees them: CLKs, tokens, row tokens, the segment layout and, per row, which
    fields (segments) hold a value."""

    def __init__(self, encoding: Any) -> None:
        self.clks: Clks = encoding.clks
        self.row_tokens: RowTokens = encoding.row_tokens
        self.tokens: Mapping[str, Tokens] = encoding.tokens
        header = getattr(encoding, "header", None)  # a file, or rows a registry holds
        if header is not None:
            fields = list(header.field_names)
            layout = header.segments
            # Files written before field types were recorded compare every field by Dice.
            types = dict(header.extra.get("field_types", {}))
            stable = set(header.extra.get("stable_fields", ()))
            swaps = [tuple(p) for p in header.extra.get("swap_pairs", ())]
        else:
            fields = [f.name for f in encoding.schema.fields]
            layout = encoding.schema.segments
            types = {f.name: f.type for f in encoding.schema.fields}
            stable = {f.name for f in encoding.schema.fields if f.stable}
            swaps = list(encoding.schema.swap_pairs)
        self.segments = [(seg.start, seg.bits) for seg in layout]
        where = {seg.field: s for s, seg in enumerate(layout)}
        self.swap_segments = [(where[a], where[b]) for a, b in swaps if a in where and b in where]
        self.nested = [types.get(seg.field) in NESTED_FIELD_TYPES for seg in layout]
        # segment -> field Dice below which a stable field's two values clearly disagree
        self.disagree_below = {
            s: DISAGREE_BELOW.get(types.get(seg.field, ""), DISAGREE_BELOW_DEFAULT)
            for s, seg in enumerate(layout)
            if seg.field in stable
        }
        self._field_columns = [fields.index(seg.field) for seg in layout]
        self._encoding = encoding

    @functools.cached_property
    def present(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self._encoding.present)[:, self._field_columns]

    @functools.cached_property
    def aligned(self) -> dict[int, npt.NDArray[np.uint64]]:
        """Each swap-pair segment of every row at bit 0, for crosswise comparisons."""
        return {
            s: aligned_segment(self.clks, self.segments[s])
            for pair in self.swap_segments
            for s in pair
        }

    @functools.cached_property
    def view(self) -> SegmentView:
        return SegmentView.from_clks(self.clks, self.segments, self.present, nested=self.nested)


def as_encoding(encoding: Any) -> Encoding:
    return _Party(encoding)


def tokens_digest(tokens: RowTokens) -> str:
    """SHA-256 of a party's row tokens: stands in for a file digest for in-memory inputs."""
    return hashlib.sha256(np.ascontiguousarray(tokens).tobytes()).hexdigest()
