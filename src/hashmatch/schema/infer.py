"""Propose a starter schema and party mapping from a CSV header and a sample of its values.

Used by ``hashmatch schema new``. The columns are judged by
:mod:`hashmatch.schema.column_guess` (names and value shapes); this module turns the
judgement into a schema every party can agree on and into this party's mapping. Only
counts and shapes leave it, never a value: the proposal, the printed table and the
written files are safe to share. The result is a starting point, not a finished schema,
but one chosen to be accurate and to pass its own audit:

* first names fold nicknames; postcodes fold ZIP+4 to ZIP5 when the sample holds any (or
  ``country`` is US);
* the phone region of national-format numbers is told from the numbers themselves
  (:mod:`hashmatch.schema.regions`; ``country`` is tried first), and so is an ambiguous
  day/month order when ``country`` says which one the country writes;
* fields with few distinct values (state, gender, country, a city column where one city
  holds 5% of the rows) are left out: a Bloom segment of such a field *is* the value to
  anyone who knows the distribution, and an exact token of it is shared by too many rows
  (``hashmatch audit`` fails both), for little linkage evidence;
* ``"recommended"`` hardening (permute, even fill) plus noise on the name and date
  fields whose values repeat (``blip = { flip = p, fields = [...] }``): without it a
  common first name or a birth year is one frequent pattern, which ``hashmatch audit``
  fails. The flip is the smallest that the audit's repeated-patterns check passes with
  a margin on the proposer's own file, its size included (:mod:`hashmatch.schema.noise`):
  noise costs linkage quality (docs/guides/hardening.md), so no more than needed, and
  none on the other fields; first and last name in a swap pair;
* match keys: surname + initial + birth date (evidence), and three blocking keys
  (surname or first-name soundex + birth year, surname soundex + postcode), so a
  record with a changed or mistyped surname is still proposed through its first name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hashmatch.encode.sources.rows import read_head
from hashmatch.errors import HashmatchError, SchemaError
from hashmatch.schema import defaults as d
from hashmatch.schema import noise, regions
from hashmatch.schema.column_guess import (
    DATE_CANDIDATES,
    ColumnGuess,
    ColumnShape,
    JudgedColumns,
    guess_column,
    guess_from_name,
    judge_columns,
    profile_values,
    snake,
)

__all__ = [
    "DATE_CANDIDATES",
    "ENCODING_BY_TYPE",
    "ColumnGuess",
    "ColumnShape",
    "Proposal",
    "guess_column",
    "guess_from_name",
    "mapping_sources",
    "profile_values",
    "propose",
    "propose_from_csv",
    "write_proposal",
]

#: Field encodings proposed per type: bloom weight (None = no bloom) and exact token.
ENCODING_BY_TYPE: dict[str, tuple[float | None, bool]] = {
    "name": (2.0, False),
    "date": (1.5, False),
    "address": (2.0, False),
    "postcode": (1.0, False),
    "text": (0.5, False),
    "email": (1.0, True),
    "phone": (1.0, True),
    "id": (0.5, True),
    "gender": (None, True),
}

@dataclass(frozen=True)
class Proposal:
    """A starter schema document, a mapping document and the per-column reasoning."""

    schema: dict[str, Any]
    mapping: dict[str, Any]
    columns: tuple[ColumnGuess, ...]
    sample_rows: int
    notes: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Sources:
    """Where each recognised field comes from in one party's file (the mapping entries,
    every field the columns hold, the left-out ones included), its type, and why."""

    fields: dict[str, dict[str, Any]]  # field -> mapping entry, in column order
    types: dict[str, str]  # field -> type
    columns: tuple[ColumnGuess, ...]  # per column, as printed
    omitted: dict[str, str]  # field -> why it is not proposed as a linkage field
    notes: tuple[str, ...]
    exact_only: dict[str, str] = field(default_factory=dict)  # field -> why no Bloom segment


#: Fields left out whatever the sample says: they hold a handful of values anywhere.
FEW_VALUES_FIELDS = frozenset({"state", "country", "gender"})
#: Field types (and the city field) left out when the sample shows few distinct values.
LOW_CARDINALITY_TYPES = frozenset({"text", "postcode", "id"})
#: Filled sample rows needed before value counts say anything about cardinality.
LOW_CARDINALITY_SAMPLE = 100
#: A text field (a city, a county) whose values repeat within the sample this often is
#: left out: in the whole file most rows then share their value with many others, which
#: is what the audit's repeated-patterns check fails (25% of rows in groups of 10).
TEXT_REPEATED_SHARE = 0.5
#: Share of the sampled rows the most frequent value may hold before a field counts as
#: low-cardinality: the audit fails an exact token whose top value holds 5% of rows.
LOW_CARDINALITY_TOP_SHARE = 0.05
#: Fewer distinct values than this in a well-filled sample: low-cardinality.
LOW_CARDINALITY_DISTINCT = 50


def propose(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    name: str = "",
    country: str | None = None,
    source: str | None = None,
    file_rows: int | None = None,
) -> Proposal:
    """Propose a schema and a mapping for a file with ``header`` from sampled ``rows``
    (``source`` names the file in messages).

    ``country`` (ISO 3166, e.g. ``"US"``) is where the data comes from: the first phone
    region tried, the day/month order of ambiguous dates, and the postcode format check.
    ``file_rows`` is how many rows the whole file holds (the noise is sized for it); None:
    the sample is the whole file when it holds fewer than :data:`SAMPLE_ROWS` rows, else
    the file is taken to hold :data:`UNKNOWN_FILE_ROWS` rows.

    Raises
    ------
    InputDataError
        The header looks like a row of data: its cells would be printed and written as
        column names, so nothing is proposed.
    ValueError
        ``country`` is not an ISO 3166 code.
    """
    country = regions.normalise_country(country)
    sample = [list(r) for r in rows]
    judged = judge_columns(header, sample, source)
    sources = mapping_sources(judged, country=country)
    if file_rows is None:
        file_rows = len(sample) if len(sample) < SAMPLE_ROWS else UNKNOWN_FILE_ROWS
    return _assemble(judged, sources, name, country, (sample, max(file_rows, len(sample))))


#: Rows ``schema new`` samples by default.
SAMPLE_ROWS = 1000
#: Rows a file is taken to hold when its size cannot be known (standard input): the
#: noise is then sized for a large file.
UNKNOWN_FILE_ROWS = 1_000_000


def mapping_sources(judged: JudgedColumns, *, country: str | None = None) -> Sources:
    """Turn judged columns into mapping entries per field (``schema new`` and ``mapping
    new`` alike): full names split, address lines joined, date formats, phone regions."""
    fields: dict[str, dict[str, Any]] = {}
    types: dict[str, str] = {}
    final: list[ColumnGuess] = []
    notes: list[str] = []
    guesses, shapes = judged.guesses, judged.shapes
    split_full_name = not any(g.field in ("first_name", "last_name") for g in guesses)
    for i, g in enumerate(guesses):
        if g.field is None or g.type is None:
            final.append(g)
            continue
        shape, values = shapes[i], judged.values[i]
        if g.field == "full_name":
            if not split_full_name:
                final.append(
                    ColumnGuess(
                        g.column, None, None, "-", "full name, but first/last columns exist"
                    )
                )
                continue
            order = _name_order(shape)
            for part in ("first", "last"):
                fname = f"{part}_name"
                types[fname] = "name"
                fields[fname] = {"column": g.column, "part": part, "name_order": order}
            final.append(
                ColumnGuess(
                    g.column,
                    "first_name+last_name",
                    "name",
                    g.confidence,
                    f"{g.evidence}; full name split ({order})",
                )
            )
            continue
        fname = g.field
        if g.type == "address" and fname in fields:  # several address lines: join them
            fields[fname]["column"] = [*_as_list(fields[fname]["column"]), g.column]
            final.append(g)
            continue
        if fname in fields:  # a second column of the same kind keeps its own name
            fname = snake(g.column)
            if fname in fields:
                final.append(ColumnGuess(g.column, None, None, "-", "duplicate column name"))
                continue
            g = ColumnGuess(g.column, fname, g.type, g.confidence, g.evidence)
        ftype: str = g.type or ""  # never None here: guesses without a type were passed on
        types[fname] = ftype
        source: dict[str, Any] = {"column": g.column}
        if ftype == "date":
            source["date_formats"] = _date_formats(g.column, shape, country, notes)
        if ftype == "phone":
            region = _phone_region(g.column, values, shape, country, notes)
            if region:
                source["phone_region"] = region
        fields[fname] = source
        final.append(g)
    omitted: dict[str, str] = {}
    exact_only: dict[str, str] = {}
    for f, t in types.items():
        judgement = _low_cardinality(f, t, _shape_of(judged, fields[f]))
        if judgement is not None:
            how, why = judgement
            (omitted if how == "omit" else exact_only)[f] = why
    return Sources(fields, types, tuple(final), omitted, tuple(notes), exact_only)


def _shape_of(judged: JudgedColumns, source: dict[str, Any]) -> ColumnShape:
    column = source["column"]
    first = column[0] if isinstance(column, list) else column
    return judged.shapes[judged.header.index(first)]


def _low_cardinality(
    fname: str, ftype: str, shape: ColumnShape
) -> tuple[str, str] | None:
    """``("omit" | "exact", why)`` for a field with few distinct values, None to keep it.

    A field whose values repeat but none holds 5% of the rows (a city) keeps a keyed
    exact token (it passes the audit's repeated-token check, and agreeing on it is
    evidence); one with a dominant value is left out (its token would fail that check)."""
    if fname in FEW_VALUES_FIELDS or ftype == "gender":
        return "omit", f"few distinct values ({fname}): leaks whatever the encoding"
    if fname != "city" and ftype not in LOW_CARDINALITY_TYPES:
        return None
    if shape.filled < LOW_CARDINALITY_SAMPLE:
        return None
    if shape.top_share >= LOW_CARDINALITY_TOP_SHARE:
        return "omit", (
            f"few distinct values (the most frequent one holds {shape.top_share:.0%} of the "
            "sample): leaks whatever the encoding"
        )
    if shape.filled >= 4 * LOW_CARDINALITY_DISTINCT and shape.distinct < LOW_CARDINALITY_DISTINCT:
        return "omit", (
            f"few distinct values ({shape.distinct} in the sample): leaks whatever the encoding"
        )
    if (fname == "city" or ftype == "text") and shape.repeated_share >= TEXT_REPEATED_SHARE:
        return "exact", (
            f"values repeat ({shape.repeated_share:.0%} of the sample's values occur more "
            "than once): a Bloom segment would repeat with them; a keyed exact token only"
        )
    return None


def _date_formats(
    column: str, shape: ColumnShape, country: str | None, notes: list[str]
) -> list[str]:
    formats = list(shape.date_formats) or ["%Y-%m-%d"]
    if not shape.day_month_ambiguous:
        return formats
    if country is None:
        notes.append(
            f"column {column!r}: day/month order cannot be told from the sample; check "
            f"date_formats ({formats[0]}), or pass --country"
        )
        return formats
    first_month = regions.month_first(country)
    ordered = [_day_month_order(f, month_first=first_month) for f in formats]
    notes.append(
        f"column {column!r}: day/month order cannot be told from the sample; "
        f"{'month' if first_month else 'day'} first, as {country} writes dates "
        f"({ordered[0]})"
    )
    return ordered


def _day_month_order(fmt: str, *, month_first: bool) -> str:
    """``fmt`` with day and month in the country's order (other formats unchanged)."""
    if "%d" not in fmt or "%m" not in fmt:
        return fmt
    if (fmt.index("%m") < fmt.index("%d")) == month_first:
        return fmt
    return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")


def _phone_region(
    column: str,
    values: Sequence[str],
    shape: ColumnShape,
    country: str | None,
    notes: list[str],
) -> str | None:
    if not shape.filled or shape.international >= 0.9:
        return None  # written with +: no region needed
    guess = regions.phone_region(values, hint=country)
    if guess.region is not None:
        notes.append(
            f"column {column!r}: national-format phone numbers read as {guess.region} "
            f"numbers ({guess.share:.0%} of {guess.national} sampled are valid there); "
            "phone_region set in the mapping"
        )
        return guess.region
    notes.append(
        f"column {column!r}: national-format phone numbers of no single region "
        f"(best fit {guess.share:.0%} valid); set phone_region in the mapping "
        '(e.g. phone_region = "US"), or pass --country'
    )
    return None


def _assemble(
    judged: JudgedColumns,
    sources: Sources,
    name: str,
    country: str | None,
    sample: tuple[list[list[str]], int],
) -> Proposal:
    notes = list(sources.notes)
    kept = [f for f in sources.fields if f not in sources.omitted]
    schema_fields = [
        _with_encoding(f, sources.types[f], sources, judged, country) for f in kept
    ]
    rows, file_rows = sample
    plan = noise.noise_plan(schema_fields, {f: sources.fields[f] for f in kept},
                            judged.header, rows, file_rows)
    hardening = proposed_hardening(plan)
    notes += _noise_notes(plan)
    _mark_identity_fields(schema_fields, hardening, notes)
    columns = []
    for g in sources.columns:
        why = sources.omitted.get(g.field or "")
        if why is not None:
            g = ColumnGuess(g.column, None, g.type, g.confidence, f"{g.evidence}; left out: {why}")
        columns.append(g)
    for f, why in sources.omitted.items():
        notes.append(f"{f} is not a linkage field: {why}")
    for f, why in sources.exact_only.items():
        notes.append(f"{f}: {why}")
    mapping: dict[str, Any] = {}
    if judged.record_index is not None:
        mapping["record_id"] = judged.header[judged.record_index].strip()
    mapping["fields"] = {f: _tidy_source(f, sources.fields[f]) for f in kept}
    schema: dict[str, Any] = {
        "version": 1,
        "name": name,
        "hardening": hardening,
        "clk": {"bits": d.DEFAULT_CLK_BITS},
        "fields": schema_fields,
    }
    keys = _match_keys(set(kept))
    if keys:
        schema["match_keys"] = keys
    if not schema_fields:
        notes.append("no column was recognised: write the schema's fields by hand")
    return Proposal(schema, mapping, tuple(columns), judged.rows, tuple(notes))


def _as_list(value: Any) -> list[str]:
    return list(value) if isinstance(value, list) else [value]


def _tidy_source(fname: str, source: dict[str, Any]) -> Any:
    """Write ``field = "column"`` when that is all there is to say."""
    if set(source) == {"column"} and isinstance(source["column"], str):
        return source["column"]
    return source


def _name_order(shape: ColumnShape) -> str:
    if shape.comma >= 0.8:
        return "last_first"
    if shape.comma <= 0.05:
        return "first_last"
    return "auto"


def _with_encoding(
    fname: str, ftype: str, sources: Sources, judged: JudgedColumns, country: str | None
) -> dict[str, Any]:
    """The schema entry of one field: its encodings and normaliser options."""
    weight, exact = ENCODING_BY_TYPE[ftype]
    if fname in sources.exact_only:
        weight, exact = None, True
    out: dict[str, Any] = {"name": fname, "type": ftype}
    options: dict[str, Any] = {}
    if fname in ("first_name", "middle_name"):
        options["nicknames"] = True  # Bill and William agree
    if ftype == "postcode":
        column = sources.fields[fname]["column"]
        values = judged.values[judged.header.index(_as_list(column)[0])]
        if regions.zip4_share(values) > 0 or (country == "US" and regions.looks_like_zip(values)):
            options["zip5"] = True  # ZIP+4 and ZIP agree
    if options:
        out["normalize"] = options
    if weight is not None:
        out["bloom"] = {"weight": weight}
    if exact:
        out["exact"] = True
    return out


def proposed_hardening(plan: noise.NoisePlan) -> dict[str, Any] | str:
    """``"recommended"`` plus the noise ``plan`` puts on the fields that need it."""
    if not plan.fields:
        return "recommended"
    return {"permute": True, "even": True,
            "blip": {"flip": plan.flip, "fields": list(plan.fields)}}


def _noise_notes(plan: noise.NoisePlan) -> list[str]:
    """What the noise was sized for, in shares and counts only."""
    if not plan.predicted:
        return []
    if not plan.fields:
        return [f"no noise: no name or date value repeats enough in {plan.rows:,} rows for "
                "hashmatch audit to fail it"]
    fields = ", ".join(plan.fields)
    if plan.enough:
        return [
            f"noise (hardening.blip) flip {plan.flip:g} on {fields}: the smallest that "
            "hashmatch audit's repeated-patterns check passes with a margin in a file of "
            f"{plan.rows:,} rows like this one (a party with a larger or more repetitive "
            "file: audit it, and raise flip if it fails)"
        ]
    return [
        f"noise (hardening.blip) flip {plan.flip:g} on {fields}, the most proposed: in a "
        f"file of {plan.rows:,} rows like this one frequent patterns remain and hashmatch "
        "audit may fail; a field salt (docs/guides/hardening.md) splits them further"
    ]


def _mark_identity_fields(schema_fields: list[dict[str, Any]], hardening: dict[str, Any] | str,
                          notes: list[str]) -> None:
    """A birth date and a first name are ``stable`` (a clear disagreement counts against
    a match); first and last name may be swapped in a record (``swaps_with``) when their
    filters come out alike. See docs/guides/schema.md."""
    by_name = {f["name"]: f for f in schema_fields}
    for name in ("date_of_birth", "first_name"):
        if name in by_name and "bloom" in by_name[name]:
            by_name[name]["stable"] = True
    first, last = by_name.get("first_name"), by_name.get("last_name")
    if not (first and last and "bloom" in first and "bloom" in last):
        return
    from hashmatch.schema.validate import build_schema

    first["swaps_with"] = "last_name"  # equal weights: the loader sizes them alike
    doc = {"version": 1, "hardening": hardening, "clk": {"bits": d.DEFAULT_CLK_BITS},
           "fields": schema_fields}
    try:
        build_schema(doc)
    except SchemaError:
        del first["swaps_with"]
        notes.append("first_name and last_name cannot share a Bloom key here; see "
                     "swaps_with in docs/guides/schema.md")


def _match_keys(fields: set[str]) -> list[dict[str, Any]]:
    keys = []
    if "last_name" in fields and "date_of_birth" in fields:
        parts = ["last_name", "date_of_birth"]
        if "first_name" in fields:
            parts.insert(0, "first_name:initial")
        keys.append({"name": "name_dob", "parts": parts, "purpose": "match"})
        keys.append(
            {
                "name": "blk_sx_yob",
                "parts": ["last_name:soundex", "date_of_birth:year"],
                "purpose": "block",
            }
        )
    if "first_name" in fields and "date_of_birth" in fields:
        # a changed (married) or mistyped surname is still proposed through the first name
        keys.append(
            {
                "name": "blk_fsx_yob",
                "parts": ["first_name:soundex", "date_of_birth:year"],
                "purpose": "block",
            }
        )
    if "last_name" in fields and "postcode" in fields:
        keys.append(
            {"name": "blk_sx_pc", "parts": ["last_name:soundex", "postcode"], "purpose": "block"}
        )
    return keys


def propose_from_csv(
    path: str | os.PathLike[str],
    *,
    sample: int = SAMPLE_ROWS,
    encoding: str | None = None,
    delimiter: str | None = None,
    name: str = "",
    country: str | None = None,
) -> Proposal:
    """Read the header and the first ``sample`` rows of a CSV (or Parquet) file as
    ``encode`` reads it (delimiter and encoding detected unless given) and :func:`propose`.

    Raises
    ------
    InputDataError
        The file is missing, empty, binary, not decodable with ``encoding`` or has no
        header row.
    """
    header, rows = read_head(path, rows=sample, encoding=encoding, delimiter=delimiter)
    file_rows = len(rows) if len(rows) < sample else noise.count_rows(path)
    return propose(header, rows, name=name, country=country, source=_label(path),
                   file_rows=UNKNOWN_FILE_ROWS if file_rows is None else file_rows)


def _label(path: str | os.PathLike[str]) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def write_proposal(
    data: str | os.PathLike[str],
    schema_out: str | os.PathLike[str],
    mapping_out: str | os.PathLike[str] | None = None,
    *,
    sample: int = SAMPLE_ROWS,
    force: bool = False,
    encoding: str | None = None,
    delimiter: str | None = None,
    name: str = "",
    country: str | None = None,
) -> tuple[Proposal, Path]:
    """Propose from ``data`` and write the schema and the mapping (``schema new``).

    The mapping goes to ``mapping_out``, by default ``<data stem>.mapping.<ext>`` next to
    the schema (``stdin.mapping.<ext>`` for ``-``, standard input). Returns the proposal
    and the mapping path.

    Raises
    ------
    HashmatchError
        The proposal is not a valid schema (nothing recognised), or ``country`` is not a
        country code.
    OutputError
        An output exists and ``force`` is false, or it is ``data`` (nothing is written).
    InputDataError
        ``data`` cannot be read.
    """
    from hashmatch.output_set import OutputSet
    from hashmatch.schema import load_mapping, load_schema
    from hashmatch.schema.fingerprint import write_document

    schema_path = Path(schema_out)
    mapping_path = (
        Path(mapping_out)
        if mapping_out is not None
        else schema_path.with_name(f"{_stem(data)}.mapping{schema_path.suffix}")
    )
    for p in (schema_path, mapping_path):
        if p.suffix.lower() not in (".toml", ".json"):
            raise HashmatchError(f"{p}: expected a .toml or .json output file")
    outputs = OutputSet([schema_path, mapping_path], force=force, reads=[data])
    try:
        country = regions.normalise_country(country)
    except ValueError as exc:
        raise HashmatchError(f"--country: {exc}") from None
    proposal = propose_from_csv(
        data, sample=sample, encoding=encoding, delimiter=delimiter, name=name, country=country
    )
    if not proposal.schema["fields"]:
        raise HashmatchError(
            f"no column of {_label(data)} was recognised as a linkage field",
            hint="write the schema by hand (see docs/guides/schema.md)",
        )
    schema = load_schema(proposal.schema)  # the proposal must always be a valid schema
    load_mapping(proposal.mapping, schema)
    with outputs:
        write_document(proposal.schema, outputs.path(schema_path), what="schema")
        write_document(proposal.mapping, outputs.path(mapping_path), what="mapping")
    return proposal, mapping_path


def _stem(data: str | os.PathLike[str]) -> str:
    """``crm`` for ``crm.csv`` and ``crm.csv.gz``; ``stdin`` for ``-``."""
    if str(data) == "-":
        return "stdin"
    path = Path(data)
    return Path(path.stem).stem if path.suffix.lower() == ".gz" else path.stem
