"""The lookup service's wire format: encoded records as JSON, validated into arrays.

A record is one ``.hme`` row: ``clk`` (base64 of the CLK's little-endian 64-bit words),
``tokens`` (per exact-token column, 16 bytes as 32 hex digits; absent = missing),
``present`` (the names of the fields the record holds), and ``row_token`` (32 hex digits,
the party's stable row token: needed to add a record, optional to match one). ``ref`` is
an opaque label the caller may attach; it is echoed back and never stored or logged. A
request carries the schema fingerprint and secret commitment of its encodings, which must
be the registry's. Messages name the record and the field, never a value.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from hashmatch.registry.records import Layout

__all__ = [
    "MAX_RECORDS",
    "Batch",
    "CommitRequest",
    "EncodedRecord",
    "MatchRequest",
    "PayloadError",
    "decode_records",
    "encode_rows",
]

#: Records per request: the service answers people waiting, not batch runs.
MAX_RECORDS = 100


class PayloadError(ValueError):
    """A request the service cannot use; the message is safe to return (no values)."""


class EncodedRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: str | None = Field(default=None, max_length=128)
    row_token: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{32}$")
    clk: str = Field(max_length=8192)
    tokens: dict[str, str] = Field(default_factory=dict, max_length=64)
    present: list[str] = Field(default_factory=list, max_length=256)


class MatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_fingerprint: str = Field(max_length=200)
    secret_commitment: str = Field(max_length=200)
    records: list[EncodedRecord] = Field(min_length=1, max_length=MAX_RECORDS)


class CommitRequest(MatchRequest):
    commit: bool = True


class FieldExplanation(BaseModel):
    field: str
    similarity: float | None


class TokenExplanation(BaseModel):
    token: str
    evidence: Literal["agree", "disagree", "missing"]


class MatchAnswer(BaseModel):
    ref: str | None
    entity_id: str | None
    status: Literal["matched", "new", "ambiguous"]
    score: float | None
    candidates: list[str]
    fields: list[FieldExplanation]
    tokens: list[TokenExplanation]


class MatchResponse(BaseModel):
    results: list[MatchAnswer]


class CommitResponse(BaseModel):
    committed: bool
    added: int
    changed: int
    unchanged: int
    results: list[MatchAnswer]


@dataclass
class Batch:
    """Decoded records: arrays laid out as an ``.hme`` file's rows."""

    clks: npt.NDArray[np.uint64]
    tokens: dict[str, npt.NDArray[np.uint8]]
    present: npt.NDArray[np.bool_]
    row_tokens: npt.NDArray[np.uint8]
    refs: list[str | None]


def decode_records(request: MatchRequest, layout: Layout, *, need_row_token: bool = False
                   ) -> Batch:
    """The request's records as arrays, checked against the registry's layout."""
    if request.schema_fingerprint != layout.schema_fingerprint:
        raise PayloadError("schema_fingerprint differs from the registry's: encode with the "
                           "registry's schema")
    if request.secret_commitment != layout.secret_commitment:
        raise PayloadError("secret_commitment differs from the registry's: encode with the "
                           "registry's linkage secret")
    n, words = len(request.records), layout.words
    clks = np.zeros((n, words), np.uint64)
    tokens = {name: np.zeros((n, 16), np.uint8) for name in layout.token_names}
    present = np.zeros((n, len(layout.field_names)), bool)
    row_tokens = np.zeros((n, 16), np.uint8)
    fields = {name: k for k, name in enumerate(layout.field_names)}
    for r, rec in enumerate(request.records):
        where = f"records[{r}]"
        clks[r] = np.frombuffer(_b64(rec.clk, f"{where}.clk", words * 8), "<u8")
        for name, text in rec.tokens.items():
            if name not in tokens:
                raise PayloadError(f"{where}.tokens: no token column {name!r} in the registry")
            tokens[name][r] = np.frombuffer(_hex(text, f"{where}.tokens.{name}"), np.uint8)
        for name in rec.present:
            if name not in fields:
                raise PayloadError(f"{where}.present: no field {name!r} in the registry")
            present[r, fields[name]] = True
        if rec.row_token is not None:
            row_tokens[r] = np.frombuffer(bytes.fromhex(rec.row_token), np.uint8)
        elif need_row_token:
            raise PayloadError(f"{where}.row_token: required to add a record")
    return Batch(clks, tokens, present, row_tokens, [rec.ref for rec in request.records])


def encode_rows(clks: npt.NDArray[np.uint64], tokens: dict[str, npt.NDArray[np.uint8]],
                present: npt.NDArray[np.bool_], row_tokens: npt.NDArray[np.uint8] | None,
                field_names: Sequence[str], refs: Sequence[str | None] | None = None
                ) -> list[dict[str, Any]]:
    """Rows as the JSON records of a request (the inverse of :func:`decode_records`)."""
    out = []
    for r in range(len(clks)):
        rec: dict[str, Any] = {
            "clk": base64.b64encode(np.ascontiguousarray(clks[r], "<u8").tobytes()).decode(),
            "tokens": {k: bytes(v[r]).hex() for k, v in tokens.items() if v[r].any()},
            "present": [f for f, p in zip(field_names, present[r], strict=True) if p],
        }
        if row_tokens is not None:
            rec["row_token"] = bytes(row_tokens[r]).hex()
        if refs is not None and refs[r] is not None:
            rec["ref"] = refs[r]
        out.append(rec)
    return out


def _b64(text: str, where: str, size: int) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise PayloadError(f"{where}: not base64") from None
    if len(raw) != size:
        raise PayloadError(f"{where}: expected {size} bytes, got {len(raw)}")
    return raw


def _hex(text: str, where: str) -> bytes:
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise PayloadError(f"{where}: not hex") from None
    if len(raw) != 16:
        raise PayloadError(f"{where}: expected 16 bytes, got {len(raw)}")
    return raw
