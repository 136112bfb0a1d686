"""The canonical form of a resolved schema, its fingerprint, and schema/mapping documents.

The canonical form is the resolved schema as plain data: every default filled, weights
already turned into segment bits, fields and match keys in schema order. Its SHA-256 over
compact, key-sorted JSON is the schema fingerprint stored in every encoding file, so two
parties' files are only compared when every setting that shapes the bits is identical,
however their schema documents were spelt (TOML or JSON, key order, defaults written out).

Documents are read and written here too: TOML or JSON, chosen by the file extension.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from hashmatch.atomic import atomic_write_text
from hashmatch.errors import Problem, SchemaError
from hashmatch.schema.hardening import Hardening

if TYPE_CHECKING:  # the model asks this module for its fingerprint
    from hashmatch.schema.model import Field, MatchKey, Schema

FINGERPRINT_PREFIX = "sha256:"


def schema_to_dict(schema: Schema) -> dict[str, Any]:
    """The canonical resolved form of ``schema``; ``load_schema`` of it gives it back.

    A field without a Bloom encoding has ``bloom = false`` (TOML has no null). The
    ``hardening`` table appears only when some option is set (salting included), so a
    schema without hardening keeps the fingerprint it had before hardening existed.
    """
    out: dict[str, Any] = {
        "version": schema.version,
        "name": schema.name,
        "clk": {"bits": schema.clk_bits},
        "fields": [_field_to_dict(f) for f in schema.fields],
        "match_keys": [_key_to_dict(k) for k in schema.match_keys],
    }
    if schema.hardening != Hardening():
        out["hardening"] = schema.hardening.to_dict()
    return out


def _field_to_dict(f: Field) -> dict[str, Any]:
    bloom: dict[str, Any] | bool = False
    if f.bloom is not None:
        b = f.bloom
        bloom = {"bits": b.bits, "k": b.k, "q": b.q, "padding": b.padding}
    out = {
        "name": f.name,
        "type": f.type,
        "normalize": dict(f.normalize),
        "bloom": bloom,
        "exact": f.exact,
        "required": f.required,
    }
    # only when set, so schemas written before these options keep their fingerprint
    if f.stable:
        out["stable"] = True
    if f.swaps_with:
        out["swaps_with"] = f.swaps_with
    if f.salt:
        out["salt"] = f.salt
    return out


def _key_to_dict(k: MatchKey) -> dict[str, Any]:
    parts = [p.field if p.transform is None else f"{p.field}:{p.transform}" for p in k.parts]
    return {"name": k.name, "parts": parts, "purpose": k.purpose}


def canonical_json(data: Any) -> bytes:
    """Compact, key-sorted, ASCII-only JSON: one byte string per value."""
    text = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )
    return text.encode("ascii")


def schema_fingerprint(schema: Schema) -> str:
    """``"sha256:" + hex`` of the canonical JSON of the resolved schema.

    Example
    -------
    >>> from hashmatch.schema import load_schema
    >>> s = load_schema({"version": 1, "fields": [{"name": "email", "type": "email",
    ...                                            "exact": True}]})
    >>> schema_fingerprint(s).startswith("sha256:") and len(schema_fingerprint(s)) == 71
    True
    """
    digest = hashlib.sha256(canonical_json(schema_to_dict(schema))).hexdigest()
    return FINGERPRINT_PREFIX + digest


def read_document(
    path: str | os.PathLike[str], *, what: str, error: type[SchemaError] = SchemaError
) -> dict[str, Any]:
    """Read a TOML or JSON document (by extension) as a dict; parse errors -> ``error``.

    ``what`` names the document in messages ("schema", "mapping").
    """
    p = Path(path)
    kind = _kind(p, what, error)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise error(
            [Problem("", f"cannot read the {what} file: {exc.strerror or type(exc).__name__}")],
            source=str(p),
        ) from None
    try:
        text = raw.decode("utf-8-sig")
        doc = tomllib.loads(text) if kind == "toml" else json.loads(text)
    except UnicodeDecodeError:
        raise error([Problem("", f"the {what} file is not UTF-8 text")], source=str(p)) from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise error([Problem("", f"not valid {kind.upper()}: {exc}")], source=str(p)) from None
    if not isinstance(doc, dict):
        raise error(
            [Problem("", f"expected a JSON object at the top of the {what} file")], source=str(p)
        )
    return doc


def write_document(data: Mapping[str, Any], path: str | os.PathLike[str], *, what: str) -> None:
    """Write ``data`` as TOML or JSON (by extension), replacing the file atomically."""
    p = Path(path)
    kind = _kind(p, what, SchemaError)
    if kind == "toml":
        text = tomli_w.dumps(_without_none(data))
    else:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    atomic_write_text(p, text)


def _kind(p: Path, what: str, error: type[SchemaError]) -> str:
    suffix = p.suffix.lower()
    if suffix in (".toml", ".json"):
        return suffix[1:]
    problem = Problem("", f"expected a .toml or .json {what} file, got {suffix or 'no suffix'!r}")
    raise error([problem], source=str(p))


def _without_none(value: Any) -> Any:
    """TOML has no null: keys whose value is None are left out."""
    if isinstance(value, Mapping):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_without_none(v) for v in value]
    return value
