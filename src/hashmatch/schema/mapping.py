"""A party's local column mapping: which of its columns feed which schema field, and how.

The schema is shared; the mapping is not. It says which columns hold each field (several
are joined with one space), which part of a full-name column to take, the name order, the
date formats and the default phone region. It comes from a small TOML/JSON file, CLI
options (:class:`MappingOverrides`, which win over the file) or both, and is bound to an
input file's header by :func:`resolve_columns` (the file itself is read by
:mod:`hashmatch.encode.sources`). Column *names* may appear in messages (they are not
PII); cell values never do. A file without a header row would make its first record
the "names", so the file's own header cells are printed only once the header is
evidently one: at least one column the mapping or the schema names is in it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from hashmatch.errors import MappingError
from hashmatch.schema.fingerprint import read_document
from hashmatch.schema.model import (
    ColumnSource,
    PartyMapping,
    ResolvedField,
    ResolvedMapping,
    Schema,
)
from hashmatch.schema.validate import Checker, closest, describe, join, one_of

MAPPING_KEYS = ("record_id", "phone_region", "date_formats", "fields")
SOURCE_KEYS = ("column", "part", "name_order", "date_formats", "phone_region")
NAME_PARTS = ("first", "middle", "last")
NAME_ORDERS = ("first_last", "last_first", "auto")

#: For messages only: the directives hashmatch.normalize.dates accepts (it decides).
SUPPORTED_DATE_DIRECTIVES = "%Y %y %m %d %b %B %H %I %M %S %f %p %%"
_MAX_LISTED_COLUMNS = 30


@dataclass(frozen=True)
class MappingOverrides:
    """Mapping settings given on the command line; each one wins over the mapping file."""

    columns: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # --map F=a+b
    parts: Mapping[str, str] = field(default_factory=dict)  # --part F=first
    name_orders: Mapping[str, str] = field(default_factory=dict)  # --name-order F=last_first
    date_formats: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # F=FMT
    default_date_formats: tuple[str, ...] = ()  # --date-format FMT
    phone_region: str | None = None  # --phone-region GB
    record_id: str | None = None  # --id-column COL


def mapping_options_from_cli(
    *,
    map_: Sequence[str] | None = None,
    part: Sequence[str] | None = None,
    name_order: Sequence[str] | None = None,
    date_format: Sequence[str] | None = None,
    phone_region: str | None = None,
    id_column: str | None = None,
) -> MappingOverrides:
    """Parse the shared mapping options of ``encode``/``profile`` into overrides.

    ``--map FIELD=COLUMN`` (``a+b+c`` joins columns), ``--part FIELD=first|middle|last``,
    ``--name-order FIELD=first_last|last_first|auto``, ``--date-format FIELD=FMT`` or a
    global ``--date-format FMT`` (both repeatable: formats are tried in order),
    ``--phone-region XX``, ``--id-column COL``. Values are checked by :func:`load_mapping`.

    Example
    -------
    >>> o = mapping_options_from_cli(map_=["address=street+city"], date_format=["%d.%m.%Y"])
    >>> o.columns["address"], o.default_date_formats
    (('street', 'city'), ('%d.%m.%Y',))
    """
    c = Checker()
    columns = {
        f: tuple(col.strip() for col in cols.split("+"))
        for f, cols in _pairs(c, "--map", map_ or (), "FIELD=COLUMN")
    }
    parts = dict(_pairs(c, "--part", part or (), "FIELD=first|middle|last"))
    orders = dict(_pairs(c, "--name-order", name_order or (), "FIELD=last_first"))
    per_field: dict[str, tuple[str, ...]] = {}
    default_formats: list[str] = []
    for value in date_format or ():
        fname, sep, fmt = value.partition("=")
        if sep and re.fullmatch(r"[a-z][a-z0-9_]*", fname.strip()):
            per_field[fname.strip()] = (*per_field.get(fname.strip(), ()), fmt)
        else:
            default_formats.append(value)
    c.raise_if_any("command line", MappingError)
    return MappingOverrides(
        columns=columns,
        parts=parts,
        name_orders=orders,
        date_formats=per_field,
        default_date_formats=tuple(default_formats),
        phone_region=phone_region,
        record_id=id_column,
    )


def _pairs(c: Checker, option: str, values: Iterable[str], form: str) -> list[tuple[str, str]]:
    out = []
    for value in values:
        key, sep, rest = value.partition("=")
        if sep and key.strip() and rest.strip():
            out.append((key.strip(), rest.strip()))
        else:
            c.add(option, f"expected {form}, got {value!r}")
    return out


def load_mapping(
    source: str | os.PathLike[str] | Mapping[str, Any] | None,
    schema: Schema,
    *,
    overrides: MappingOverrides | None = None,
) -> PartyMapping:
    """Load a party mapping (file, dict or nothing) for ``schema``, applying CLI overrides.

    Every schema field gets a :class:`ColumnSource`; a field that nothing maps defaults to
    the column of its own name (``implicit=True``: absent from the file -> missing field).

    Raises
    ------
    MappingError
        Listing every problem: unknown keys or fields, bad parts, orders, date formats,
        phone regions, options that do not fit the field's type.
    """
    if source is None:
        doc: Mapping[str, Any] = {}
        label = None
    elif isinstance(source, Mapping):
        doc, label = source, None
    else:
        doc = read_document(source, what="mapping", error=MappingError)
        label = str(source)
    o = overrides or MappingOverrides()
    c = Checker()
    c.unknown_keys(doc, MAPPING_KEYS, "")
    record_id = o.record_id or _column_name(c, doc.get("record_id"), "record_id")
    region = _phone_region(
        c,
        o.phone_region or doc.get("phone_region"),
        "--phone-region" if o.phone_region else "phone_region",
    )
    if o.default_date_formats:
        dates = _date_formats(c, list(o.default_date_formats), "--date-format")
    else:
        dates = _date_formats(c, doc.get("date_formats", []), "date_formats")

    entries = c.table(doc, "fields", "")
    names = [f.name for f in schema.fields]
    c.unknown_keys(entries, names, "fields")
    for option, given in (
        ("--map", o.columns),
        ("--part", o.parts),
        ("--name-order", o.name_orders),
        ("--date-format", o.date_formats),
    ):
        for fname in given:
            if fname not in names:
                guess = closest(fname, names)
                tip = f"did you mean {guess!r}?" if guess else f"expected one of {one_of(names)}"
                c.add(option, f"unknown field {fname!r}; {tip}")

    sources = {}
    for f in schema.fields:
        raw = entries.get(f.name)
        path = join("fields", f.name)
        table = dict(raw) if isinstance(raw, Mapping) else {}
        if isinstance(raw, str | list):
            table = {"column": raw}
        elif raw is not None and not isinstance(raw, Mapping):
            c.add(
                path, f"expected a column name, a list of columns or a table, got {describe(raw)}"
            )
        c.unknown_keys(table, SOURCE_KEYS, path)
        sources[f.name] = _source(c, f.name, f.type, table, path, o, region, dates)
    _check_shared_name_columns(c, schema, sources)
    c.raise_if_any(label, MappingError)
    return PartyMapping(fields=sources, record_id=record_id)


def _source(
    c: Checker,
    fname: str,
    ftype: str,
    table: Mapping[str, Any],
    path: str,
    o: MappingOverrides,
    region: str | None,
    dates: tuple[str, ...],
) -> ColumnSource:
    """One field's source: file entry, then CLI overrides, then party-wide defaults."""
    if fname in o.columns:
        columns: tuple[str, ...] = o.columns[fname]
        implicit = False
    elif "column" in table:
        columns = _columns(c, table["column"], join(path, "column"))
        implicit = False
    else:
        columns, implicit = (fname,), True

    def only_for(key: str, types: tuple[str, ...]) -> None:
        if key in table and ftype not in types:
            c.add(
                join(path, key),
                f"applies to {one_of(types)} fields only; {fname!r} has type {ftype!r}",
            )

    only_for("part", ("name",))
    only_for("name_order", ("name",))
    only_for("date_formats", ("date",))
    only_for("phone_region", ("phone",))
    for option, given, types in (
        ("--part", o.parts, ("name",)),
        ("--name-order", o.name_orders, ("name",)),
        ("--date-format", o.date_formats, ("date",)),
    ):
        if fname in given and ftype not in types:
            c.add(
                option,
                f"{fname!r} has type {ftype!r}; this option applies to {one_of(types)} fields only",
            )

    part = o.parts.get(fname, table.get("part"))
    ppath = f"--part {fname}" if fname in o.parts else join(path, "part")
    if part is not None:
        part = c.choice(part, NAME_PARTS, ppath)
    order = o.name_orders.get(fname, table.get("name_order", "auto"))
    opath = f"--name-order {fname}" if fname in o.name_orders else join(path, "name_order")
    order = c.choice(order, NAME_ORDERS, opath) or "auto"

    formats: tuple[str, ...] = ()
    if ftype == "date":
        if fname in o.date_formats:
            formats = _date_formats(c, list(o.date_formats[fname]), f"--date-format {fname}")
        elif "date_formats" in table:
            formats = _date_formats(c, table["date_formats"], join(path, "date_formats"))
        else:
            formats = dates
    phone_region = None
    if ftype == "phone":
        phone_region = region
        if "phone_region" in table:
            phone_region = _phone_region(c, table["phone_region"], join(path, "phone_region"))
    return ColumnSource(
        columns=columns,
        part=part,  # type: ignore[arg-type]
        name_order=order,  # type: ignore[arg-type]
        date_formats=formats,
        phone_region=phone_region,
        implicit=implicit,
    )


def _check_shared_name_columns(
    c: Checker, schema: Schema, sources: Mapping[str, ColumnSource]
) -> None:
    """Two name fields read from one column must take different parts of it."""
    seen: dict[tuple[tuple[str, ...], str | None], str] = {}
    for f in schema.fields:
        src = sources[f.name]
        if f.type != "name" or src.implicit:
            continue
        key = (tuple(col.casefold() for col in src.columns), src.part)
        if key in seen:
            c.add(
                join("fields", f.name),
                f"reads the same column(s) as {seen[key]!r} with the same part; expected "
                "part = 'first', 'middle' or 'last' to split a full-name column",
            )
        else:
            seen[key] = f.name


def _column_name(c: Checker, value: Any, path: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip():
        return value.strip()
    c.add(path, f"expected a column name, got {describe(value)}")
    return None


def _columns(c: Checker, value: Any, path: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    names = [
        _column_name(c, v, f"{path}[{i}]" if isinstance(value, list) else path)
        for i, v in enumerate(items)
    ]
    if not items:
        c.add(path, "expected a column name or a non-empty list of column names, got []")
    return tuple(n for n in names if n is not None)


def _date_formats(c: Checker, value: Any, path: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        c.add(
            path, f"expected a list of strptime formats such as ['%d.%m.%Y'], got {describe(value)}"
        )
        return ()
    out = []
    for i, fmt in enumerate(items):
        where = f"{path}[{i}]" if isinstance(value, list) else path
        problem = date_format_problem(fmt)
        if problem:
            c.add(where, problem)
        else:
            out.append(fmt)
    return tuple(out)


def date_format_problem(fmt: Any) -> str | None:
    """Why ``fmt`` is not a date format the date normaliser can use, or None."""
    if not isinstance(fmt, str) or not fmt:
        return f"expected a strptime format such as '%d.%m.%Y', got {describe(fmt)}"
    from hashmatch.normalize.dates import compile_format  # normalize imports schema.model

    try:
        compile_format(fmt)
    except ValueError as exc:
        return f"{exc}; supported directives: {SUPPORTED_DATE_DIRECTIVES}"
    return None


def _phone_region(c: Checker, value: Any, path: str) -> str | None:
    if value is None:
        return None
    code = value.strip().upper() if isinstance(value, str) else None
    if code in phonenumbers.SUPPORTED_REGIONS:
        return code
    tip = " (did you mean 'GB'?)" if code == "UK" else ""
    c.add(
        path,
        "expected a region code known to phonenumbers such as GB, US, DE, FR, AU, "
        f"got {describe(value)}{tip}",
    )
    return None


def _strip_bom(name: str) -> str:
    return name.replace("\ufeff", "")


def _header_key(name: str) -> str:
    return _strip_bom(name).strip().casefold()


def resolve_columns(
    mapping: PartyMapping, schema: Schema, header: Sequence[str], file: str
) -> ResolvedMapping:
    """Bind ``mapping`` to an input file's ``header`` (case-insensitive, trimmed names).

    Fields mapped implicitly whose column is absent are reported in ``absent_fields``;
    explicitly mapped columns must exist.

    Raises
    ------
    MappingError
        A mapped or record-id column is missing or ambiguous, a required field is absent,
        or no schema field is found at all. The hint lists the file's columns when the
        header is evidently one (see the module docstring).
    """
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        positions.setdefault(_header_key(name), []).append(i)
    sources = {
        f.name: mapping.fields.get(f.name) or ColumnSource((f.name,), implicit=True)
        for f in schema.fields
    }
    named = [col for source in sources.values() for col in source.columns]
    named += [mapping.record_id] if mapping.record_id is not None else []
    evident = any(_header_key(col) in positions for col in named)  # a header, not data
    c = Checker()

    def find(column: str, path: str, missing_ok: bool) -> int | None:
        found = positions.get(_header_key(column), [])
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            c.add(
                path,
                f"column {column!r} appears {len(found)} times in the header of "
                f"{file}; expected it once",
            )
        elif not missing_ok:
            guess = closest(_header_key(column), positions) if evident else None
            tip = f"; did you mean {header[positions[guess][0]]!r}?" if guess else ""
            c.add(path, f"column {column!r} not found in {file}{tip}")
        return None

    present: dict[str, ResolvedField] = {}
    absent: list[str] = []
    for f in schema.fields:
        source = sources[f.name]
        path = join("fields", f.name)
        idx = [find(col, path, source.implicit) for col in source.columns]
        if all(i is not None for i in idx) and idx:
            present[f.name] = ResolvedField(f.name, source, tuple(i for i in idx if i is not None))
            continue
        absent.append(f.name)
        if f.required and source.implicit:
            c.add(
                path,
                f"required field {f.name!r} has no column in {file}; "
                f"map one with --map {f.name}=COLUMN",
            )
    record_idx = None
    if mapping.record_id is not None:
        record_idx = find(mapping.record_id, "record_id", False)
    if not present and not c.problems:
        c.add(
            "fields",
            f"none of the schema's fields ({one_of(f.name for f in schema.fields)})"
            f" is a column of {file}; map them with --map FIELD=COLUMN",
        )
    if c.problems:
        err = MappingError(c.problems, source=file)
        err.hint = _columns_hint(header, file) if evident else (
            f"no column named by the mapping or the schema is in the header of {file} "
            f"({len(header)} columns), so its names are not shown (were the first line no "
            "header, they would be a record's values): compare the mapping with that line"
        )
        raise err
    return ResolvedMapping(fields=present, absent_fields=tuple(absent), record_id_index=record_idx)


def _columns_hint(header: Sequence[str], file: str) -> str:
    listed = ", ".join(repr(h.strip()) for h in header[:_MAX_LISTED_COLUMNS])
    extra = len(header) - _MAX_LISTED_COLUMNS
    more = f" and {extra} more" if extra > 0 else ""
    return f"columns of {file}: {listed}{more}"


__all__ = [
    "MappingOverrides",
    "load_mapping",
    "mapping_options_from_cli",
    "resolve_columns",
]
