"""Data-quality profile of a party's file before it encodes: counts only, never values.

``profile_file`` runs the same mapping and normalisers as ``encode`` (so what it reports
is exactly what encoding would see) and counts, per schema field, how many rows are
filled, valid, missing (empty, or a placeholder, named by the rule that matched: ``na``,
``zeros``, ``sentinel_date``...) and invalid by reason code. Nothing is written and
nothing leaves the machine; the report holds no value, so it can be shared to discuss
data quality. For every field valid in fewer than 90% of the rows, the report names the
fix (:mod:`hashmatch.encode.profile_fixes`), judged from a sample of the column's values
kept in memory only.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hashmatch.encode.columns import RowChunk
from hashmatch.encode.profile_fixes import suggest_fix
from hashmatch.encode.records import FieldReader, FieldStats
from hashmatch.encode.sources.chunk import Chunk
from hashmatch.encode.sources.rows import no_data_rows, open_source
from hashmatch.schema import load_mapping, load_schema, resolve_columns
from hashmatch.schema.model import PartyMapping, Schema


@dataclass
class ProfileReport:
    """Per-field outcome counts over the usable rows of one file."""

    source: str
    rows_read: int = 0
    bad_rows: Counter[str] = field(default_factory=Counter)  # reason -> rows
    fields: dict[str, FieldStats] = field(default_factory=dict)  # schema order
    required: tuple[str, ...] = ()
    absent_fields: tuple[str, ...] = ()
    fixes: dict[str, str] = field(default_factory=dict)  # field -> the fix (under 90% valid)

    @property
    def rows_usable(self) -> int:
        return self.rows_read - sum(self.bad_rows.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (counts and reason codes only)."""
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_usable": self.rows_usable,
            "bad_rows": dict(self.bad_rows),
            "fields": {
                name: {
                    "absent": s.absent,
                    "required": name in self.required,
                    "filled": s.filled,
                    "valid": s.valid,
                    "missing": dict(s.missing),
                    "invalid": dict(s.invalid),
                }
                for name, s in self.fields.items()
            },
            "fixes": dict(self.fixes),
        }


def profile_file(
    path: str | os.PathLike[str] | Any,
    schema: Schema | str | os.PathLike[str] | Mapping[str, Any],
    mapping: PartyMapping | str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    input_encoding: str | None = None,
    delimiter: str | None = None,
    chunk_rows: int = 50_000,
) -> ProfileReport:
    """Profile a CSV or Parquet file (or a DataFrame / iterable of dicts) under a schema
    and mapping, read as ``encode_file`` reads it (``-``: standard input).

    Raises the same errors as ``encode_file`` for a missing column, an empty, binary or
    header-only file, a first row that looks like data or a bad encoding; bad rows are
    counted, not raised.

    Example
    -------
    >>> report = profile_file([{"dob": "1980-02-31"}, {"dob": "N/A"}, {"dob": "1980-02-03"}],
    ...     {"version": 1, "fields": [{"name": "dob", "type": "date", "bloom": True}]})
    >>> s = report.fields["dob"]
    >>> s.valid, dict(s.invalid), dict(s.missing)
    (1, {'date.impossible': 1}, {'placeholder:na': 1})
    """
    resolved_schema = schema if isinstance(schema, Schema) else load_schema(schema)
    party = mapping if isinstance(mapping, PartyMapping) else load_mapping(mapping, resolved_schema)
    source = open_source(path, encoding=input_encoding, delimiter=delimiter)
    resolved = resolve_columns(party, resolved_schema, source.header, source.name)
    readers = [
        FieldReader(f, resolved.fields[f.name])
        for f in resolved_schema.fields
        if f.name in resolved.fields
    ]
    report = ProfileReport(
        source=source.name,
        required=tuple(f.name for f in resolved_schema.fields if f.required),
        absent_fields=resolved.absent_fields,
    )
    totals = {r.name: FieldStats() for r in readers}
    samples: dict[str, list[str]] = {r.name: [] for r in readers}  # for the fixes only
    for chunk in source.chunks(chunk_rows):
        report.rows_read += chunk.read
        report.bad_rows.update(b.reason for b in chunk.bad_rows)
        table = RowChunk(chunk) if isinstance(chunk, Chunk) else chunk
        if not table.rows:  # every row of the chunk was unusable
            continue
        for reader in readers:
            factors = [table.factor(i) for i in reader.indices]
            totals[reader.name].add(reader.read_factors(factors).stats())
            kept = samples[reader.name]
            if len(kept) < _SAMPLE:
                kept += list(table.cells(reader.indices[0]))[: _SAMPLE - len(kept)]
    if report.rows_read == 0:
        raise no_data_rows(source.name)
    for f in resolved_schema.fields:
        report.fields[f.name] = totals.get(f.name) or FieldStats.for_absent(report.rows_usable)
        found = resolved.fields.get(f.name)
        fix = suggest_fix(
            f.name,
            f.type,
            report.fields[f.name],
            report.rows_usable,
            samples.get(f.name, []),
            found.source if found is not None else None,
            source.header,
        )
        if fix is not None:
            report.fixes[f.name] = fix
    return report


#: Raw cells per field kept (in memory) to judge the fixes from.
_SAMPLE = 1000
