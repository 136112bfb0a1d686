"""Propose one party's mapping against an agreed schema (``hashmatch mapping new``).

The parties agree on one schema (often ``schema new`` run on one of their files); every
other party needs only its *mapping*: which of its columns feed which schema field, and
how to read them (full-name parts, date formats, phone region). This module judges the
party's columns exactly as ``schema new`` does (:mod:`hashmatch.schema.column_guess` and
:func:`hashmatch.schema.infer.mapping_sources`) and matches what it found to the schema's
fields: by name (``given_name`` and ``fname`` both mean a first name), then, for a field
left over, by type when exactly one unused column has it. Only column names, formats and
region codes are written, never a value.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hashmatch.encode.sources.rows import read_head
from hashmatch.errors import HashmatchError
from hashmatch.schema import regions
from hashmatch.schema.column_guess import guess_from_name, judge_columns
from hashmatch.schema.infer import mapping_sources
from hashmatch.schema.model import Schema

__all__ = ["MappingProposal", "propose_mapping", "write_mapping_proposal"]


@dataclass(frozen=True)
class MappingProposal:
    """The mapping document, how each schema field was found, and what was not."""

    mapping: dict[str, Any]
    found: tuple[tuple[str, str, str], ...]  # (schema field, columns, how it was matched)
    absent: tuple[str, ...]  # schema fields this file has no column for
    notes: tuple[str, ...]
    sample_rows: int


#: Mapping keys that only apply to one field type.
_PARSE_KEYS = {"date_formats": "date", "phone_region": "phone", "part": "name",
               "name_order": "name"}


def _role(name: str) -> str:
    """What a field name means (``given_name`` -> ``first_name``), or the name itself."""
    guess = guess_from_name(name)
    return guess[0] if guess is not None else name


def propose_mapping(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    schema: Schema,
    *,
    country: str | None = None,
    source: str | None = None,
) -> MappingProposal:
    """Map the columns of a file with ``header`` (sampled ``rows``) onto ``schema``.

    Raises
    ------
    InputDataError
        The header looks like a row of data.
    ValueError
        ``country`` is not an ISO 3166 code.
    """
    country = regions.normalise_country(country)
    judged = judge_columns(header, rows, source)
    sources = mapping_sources(judged, country=country)
    by_role = {_role(name): name for name in sources.fields}
    fields: dict[str, Any] = {}
    found: list[tuple[str, str, str]] = []
    used: set[str] = set()
    notes = [n for n in sources.notes if "is not a linkage field" not in n]
    for f in schema.fields:
        candidate = sources.fields.get(f.name) and f.name
        how = "name"
        if not candidate:
            candidate = by_role.get(_role(f.name))
            how = f"name ({_role(f.name)})"
        if candidate and candidate in used:
            candidate = None
        if not candidate:
            same_type = [n for n, t in sources.types.items() if t == f.type and n not in used]
            if len(same_type) == 1:
                candidate, how = same_type[0], f"type ({f.type})"
        if not candidate:
            continue
        used.add(candidate)
        entry = dict(sources.fields[candidate])
        if sources.types[candidate] != f.type:
            notes.append(
                f"{f.name}: the schema says {f.type}, the column looks like "
                f"{sources.types[candidate]}; check it"
            )
            entry = {k: v for k, v in entry.items() if _PARSE_KEYS.get(k, f.type) == f.type}
        fields[f.name] = entry
        columns = entry["column"]
        shown = " + ".join(columns) if isinstance(columns, list) else columns
        found.append((f.name, shown, how))
    mapping: dict[str, Any] = {}
    if judged.record_index is not None:
        mapping["record_id"] = judged.header[judged.record_index].strip()
    mapping["fields"] = {
        name: (src["column"] if set(src) == {"column"} and isinstance(src["column"], str)
               else src)
        for name, src in fields.items()
    }
    absent = tuple(f.name for f in schema.fields if f.name not in fields)
    if absent:
        notes.append(
            f"no column found for {', '.join(absent)}: those fields are simply missing for "
            "this party (map a column by hand if one holds them)"
        )
    return MappingProposal(mapping, tuple(found), absent, tuple(notes), judged.rows)


def write_mapping_proposal(
    data: str | os.PathLike[str],
    schema: str | os.PathLike[str] | Schema,
    out: str | os.PathLike[str],
    *,
    sample: int = 1000,
    force: bool = False,
    encoding: str | None = None,
    delimiter: str | None = None,
    country: str | None = None,
) -> MappingProposal:
    """Propose ``data``'s mapping against ``schema`` and write it to ``out`` (TOML/JSON).

    Raises
    ------
    HashmatchError
        ``out`` has another suffix, ``country`` is not a country code, or no column
        matches any schema field (nothing is written).
    OutputError
        ``out`` exists and ``force`` is false, or it is ``data`` or the schema.
    SchemaError
        ``schema`` is not a valid schema.
    InputDataError
        ``data`` cannot be read.
    """
    from hashmatch.output_set import OutputSet
    from hashmatch.schema import load_mapping, load_schema
    from hashmatch.schema.fingerprint import write_document

    path = Path(out)
    if path.suffix.lower() not in (".toml", ".json"):
        raise HashmatchError(f"{path}: expected a .toml or .json output file")
    reads = [data, None if isinstance(schema, Schema) else schema]
    outputs = OutputSet([path], force=force, reads=reads)
    resolved = schema if isinstance(schema, Schema) else load_schema(schema)
    try:
        country = regions.normalise_country(country)
    except ValueError as exc:
        raise HashmatchError(f"--country: {exc}") from None
    header, rows = read_head(data, rows=sample, encoding=encoding, delimiter=delimiter)
    label = "<stdin>" if str(data) == "-" else str(data)
    proposal = propose_mapping(header, rows, resolved, country=country, source=label)
    if not proposal.found:
        raise HashmatchError(
            f"no column of {label} matches a field of the schema",
            hint="write the mapping by hand (see docs/guides/schema.md)",
        )
    load_mapping(proposal.mapping, resolved)  # the proposal must always load
    with outputs:
        write_document(proposal.mapping, outputs.path(path), what="mapping")
    return proposal
