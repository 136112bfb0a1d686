"""The linkage schema (shared by all parties) and the per-party column mapping.

``load_schema`` reads a TOML/JSON schema document (or a dict), upgrades it to the current
format version, validates it (every problem at once) and resolves it into the frozen
:class:`Schema` whose ``fingerprint`` every encoding file records. ``load_mapping`` and
``resolve_columns`` tell the encoder which of a party's columns feed which field.
See docs/guides/schema.md for every key of both files.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from hashmatch.schema.fingerprint import (
    read_document,
    schema_fingerprint,
    schema_to_dict,
    write_document,
)
from hashmatch.schema.hardening import PROFILES, Hardening
from hashmatch.schema.mapping import (
    MappingOverrides,
    load_mapping,
    mapping_options_from_cli,
    resolve_columns,
)
from hashmatch.schema.migrate import upgrade
from hashmatch.schema.model import (
    FIELD_TYPES,
    PART_TRANSFORMS,
    BloomEncoding,
    ColumnSource,
    Field,
    MatchKey,
    MatchKeyPart,
    PartyMapping,
    ResolvedField,
    ResolvedMapping,
    Schema,
    Segment,
)
from hashmatch.schema.validate import build_schema


def load_schema(source: str | os.PathLike[str] | Mapping[str, Any]) -> Schema:
    """Read, upgrade, validate and resolve a linkage schema.

    Parameters
    ----------
    source
        A ``.toml`` or ``.json`` file, or the document as a dict.

    Returns
    -------
    Schema
        Frozen, every default filled, segment bits and ``k`` resolved.

    Raises
    ------
    SchemaError
        Listing every problem with its key path (``fields[2].bloom.q: expected ...``).

    Example
    -------
    >>> s = load_schema({"version": 1, "clk": {"bits": 512}, "fields": [
    ...     {"name": "first_name", "type": "name", "bloom": True},
    ...     {"name": "last_name", "type": "name", "bloom": {"weight": 3}}]})
    >>> [(seg.field, seg.start, seg.bits) for seg in s.segments]
    [('first_name', 0, 128), ('last_name', 128, 384)]
    """
    if isinstance(source, Mapping):
        doc, label = dict(source), None
    else:
        doc, label = read_document(source, what="schema"), str(source)
    return build_schema(upgrade(doc, source=label), source=label)


def dump_schema(schema: Schema | Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a schema (resolved: its canonical form; a dict: as is) as TOML or JSON."""
    data = schema_to_dict(schema) if isinstance(schema, Schema) else schema
    write_document(data, path, what="schema")


__all__ = [
    "FIELD_TYPES",
    "PART_TRANSFORMS",
    "PROFILES",
    "BloomEncoding",
    "ColumnSource",
    "Field",
    "Hardening",
    "MappingOverrides",
    "MatchKey",
    "MatchKeyPart",
    "PartyMapping",
    "ResolvedField",
    "ResolvedMapping",
    "Schema",
    "Segment",
    "dump_schema",
    "load_mapping",
    "load_schema",
    "mapping_options_from_cli",
    "read_document",
    "resolve_columns",
    "schema_fingerprint",
    "schema_to_dict",
]
