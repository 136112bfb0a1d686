"""One party's encodings as the pipeline sees them, whether an open ``.hme`` file or an
in-memory ``EncodedBatch``: CLKs, tokens, row tokens, the segment layout, which fields each
row holds, and the per-input facts recorded in the report (:class:`PartyInfo`).

Both kinds of input are read one way, through their :class:`~hashmatch.encfile.Header`
(a batch reports the header its file would have), so this module never sees a schema.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from hashmatch._types import Clks, RowTokens, Segment, Tokens
from hashmatch.encfile import Header, field_types, stable_fields, swap_pairs, token_kinds
from hashmatch.link.result import PartyInfo
from hashmatch.link.segments import (
    DISAGREE_BELOW,
    DISAGREE_BELOW_DEFAULT,
    NESTED_FIELD_TYPES,
    SegmentView,
    aligned_segment,
)

__all__ = [
    "Described",
    "Encoded",
    "Encoding",
    "HeaderLike",
    "as_encoding",
    "info_of",
    "token_kinds",
    "tokens_digest",
]


class _Rows(Protocol):
    """One party's rows: CLKs, exact tokens, row tokens and which fields each row holds."""

    @property
    def clks(self) -> Clks: ...

    @property
    def row_tokens(self) -> RowTokens: ...

    @property
    def tokens(self) -> Mapping[str, Tokens]: ...

    @property
    def present(self) -> npt.NDArray[np.bool_]: ...


class HeaderLike(Protocol):
    """What the pipeline reads of a header: the CLK layout, the columns and ``extra``
    (an :class:`~hashmatch.encfile.Header`, or a registry's stored layout)."""

    @property
    def segments(self) -> Sequence[Segment]: ...

    @property
    def field_names(self) -> Sequence[str]: ...

    @property
    def token_names(self) -> Sequence[str]: ...

    @property
    def extra(self) -> Mapping[str, Any]: ...


class Encoded(_Rows, Protocol):
    """Rows the pipeline can score: an open ``EncodingFile``, an ``EncodedBatch``, or any
    rows with a header-like layout."""

    @property
    def header(self) -> HeaderLike: ...


class Described(_Rows, Protocol):
    """An input the report can describe: an open ``EncodingFile`` or an ``EncodedBatch``."""

    @property
    def header(self) -> Header: ...


class Encoding(_Rows, Protocol):
    """What the pipeline needs from one party's encodings (see :class:`_Party`)."""

    @property
    def segments(self) -> list[tuple[int, int]]: ...

    @property
    def field_names(self) -> list[str]: ...

    @property
    def nested(self) -> list[bool]: ...

    @property
    def field_types(self) -> list[str]: ...

    @property
    def view(self) -> SegmentView: ...

    @property
    def disagree_below(self) -> Mapping[int, float]: ...

    @property
    def swap_segments(self) -> list[tuple[int, int]]: ...

    @property
    def aligned(self) -> Mapping[int, npt.NDArray[np.uint64]]: ...


def info_of(encoding: Described, source: str | None = None) -> PartyInfo:
    """The report's facts about one input; a file is named by its path and digest."""
    h = encoding.header
    path = getattr(encoding, "path", None)
    return PartyInfo(
        party=h.party,
        source=source or (f"<memory: {h.party}>" if path is None else str(path)),
        rows=h.rows,
        digest=getattr(encoding, "digest", ""),
        schema_fingerprint=h.schema_fingerprint,
        encoder_version=h.encoder_version,
        clk_bits=h.clk_bits,
        secret_commitment=h.secret_commitment,
        token_kinds=token_kinds(h.token_names, h.field_names, h.extra),
        hardening=_thaw(h.extra.get("hardening")),
    )


def _thaw(value: Any) -> Any:
    """Plain dicts and lists for a header's read-only record (it goes into report.json)."""
    if isinstance(value, Mapping):
        return {str(k): _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(v) for v in value]
    return value


file_info = info_of


class _Party:
    """One party's encodings (an open EncodingFile, an in-memory EncodedBatch, or any rows
    with an EncodingFile-like ``header``, such as a registry's) as the pipeline sees them:
    CLKs, tokens, row tokens, the segment layout and, per row, which fields (segments)
    hold a value."""

    def __init__(self, encoding: Encoded) -> None:
        self.clks: Clks = encoding.clks
        self.row_tokens: RowTokens = encoding.row_tokens
        self.tokens: Mapping[str, Tokens] = encoding.tokens
        header = encoding.header  # read through encfile's functions: any header-like works
        fields, layout = list(header.field_names), header.segments
        types, stable = field_types(header.extra), stable_fields(header.extra)
        swaps = swap_pairs(header.extra)
        self.segments = [(seg.start, seg.bits) for seg in layout]
        self.field_names = [seg.field for seg in layout]
        self.field_types = [str(types.get(seg.field, "")) for seg in layout]
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


def as_encoding(encoding: Encoded) -> Encoding:
    return _Party(encoding)


def tokens_digest(tokens: RowTokens) -> str:
    """SHA-256 of a party's row tokens: stands in for a file digest for in-memory inputs."""
    return hashlib.sha256(np.ascontiguousarray(tokens).tobytes()).hexdigest()
