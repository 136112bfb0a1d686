"""Propose a starter schema and party mapping from a CSV header and a sample of its values.

Used by ``hashmatch schema new``. Each column is judged by its *name* (``fname``,
``Surname``, ``D.O.B.``, ``E-mail Address``...) and by the *shapes* of its sampled values
(email-like, phone-like, date-like under which strptime format, digits only, unique...).
Only counts and shapes leave this module, never a value: the proposal, the printed table
and the written files are safe to share. The result is a starting point for the parties
to agree on, not a finished schema.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from anyascii import anyascii

from hashmatch.encode.sources.header import check_header
from hashmatch.encode.sources.rows import read_head
from hashmatch.errors import HashmatchError, SchemaError
from hashmatch.schema import defaults as d

#: Date formats tried on date-like columns, most common first (ties go to the earlier one).
DATE_CANDIDATES = (
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%Y/%m/%d",
    "%Y%m%d",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d %b %Y",
    "%d %B %Y",
    "%b %d %Y",
    "%B %d, %Y",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m",
    "%Y",
)

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+?[\d\s().\-/]{7,20}")
_DIGITS = re.compile(r"\d+")
_LETTERS = re.compile(r"[^\W\d_][^\W\d_ .,'\-]*(?:[ .,'\-]+[^\W\d_]+)*\.?")
_SHORT_CODE = re.compile(r"(?=.*\d)[A-Za-z0-9 \-]{3,10}")
_CODE = re.compile(r"(?=.*\d)[A-Za-z0-9/\-]+")
_STREET = re.compile(r"(?=.*[^\W\d_])[\w .,'/#\-]+")
_PLACEHOLDERS = frozenset({"", "na", "n/a", "null", "none", "unknown", "-", "?", "0000-00-00"})
_GENDER_VALUES = frozenset({"m", "f", "male", "female", "x", "u", "w", "man", "woman"})

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

#: Column-name rules in priority order: (pattern for the folded name with separators
#: removed, e.g. "E-mail Address" -> "emailaddress"; field; type).
_NAME_RULES: tuple[tuple[str, str, str], ...] = (
    (r"e?mail|email(address)?|emailaddr", "email", "email"),
    (
        r"(home|work|mobile|cell)?(phone|tel|telephone|mobile|cell|fax)(no|number|num)?"
        r"|contactnumber|phonenumber",
        "phone",
        "phone",
    ),
    (
        r"dob|birth(date|day|year|yr|dt)?|(date|dt|year)ofbirth|born|yob|dobyear",
        "date_of_birth",
        "date",
    ),
    (
        r"ssn|socsec(id|no|number)?|socialsecurity(number|no)?|nino|nationalid|nin|"
        r"nationalinsurance(number|no)?|passport(no|number)?|taxid|tfn|nhs(no|number)?",
        "national_id",
        "id",
    ),
    (r"f?name1|fname|(name)?(first|given|fore)(name|nm)?", "first_name", "name"),
    (r"mname|(name)?middle(name|names|nm)?", "middle_name", "name"),
    (r"lname|name2|(name)?(last|family|sur)(name|nm)?", "last_name", "name"),
    (r"(full|person|customer|client|patient|member)?name|fullname", "full_name", "name"),
    (r"zip(code)?|zip5|postcode|postal(code)?|postcd|plz|pcode", "postcode", "postcode"),
    (
        r"(street|house)(number|no|num|nr)?|address\d*(line\d*)?|addr\d*(line)?\d*|"
        r"addressline\d*|line\d|streetaddress|housenumber",
        "address",
        "address",
    ),
    (r"suburb|city|town|locality|municipality", "city", "text"),
    (r"state|county|province|region", "state", "text"),
    (r"country", "country", "text"),
    (r"sex|gender", "gender", "gender"),
)
#: Last words that make a column name an identifier ("Household ID", "caller_ref").
_ID_WORDS = frozenset({"id", "ref", "reference", "no", "nr", "num", "number", "key", "code"})
#: Identifier names written as one word ("custid", "pid", "acct").
_ID_COMPACT = re.compile(
    r"(rec|record|row|cust|customer|client|patient|member|person|user|p|u|g)?(id|no|num|ref)"
    r"|acct|account|guid"
)


@dataclass(frozen=True)
class ColumnShape:
    """What a column's sampled values look like: counts and fractions only, never values."""

    filled: int  # non-empty, non-placeholder values in the sample
    email: float = 0.0
    phone: float = 0.0
    digits: float = 0.0
    gender: float = 0.0
    letters: float = 0.0  # letters, spaces, hyphens, apostrophes, dots and commas only
    short_code: float = 0.0  # 3-10 letters/digits/spaces/- with at least one digit (postcodes)
    code: float = 0.0  # one token of letters/digits/-/ with at least one digit (identifiers)
    street: float = 0.0  # words and numbers with at least one letter (address lines)
    comma: float = 0.0  # values containing a comma ("Last, First")
    international: float = 0.0  # phone-like values starting with "+" or "00"
    unique: float = 0.0  # distinct / filled
    date_formats: tuple[str, ...] = ()  # formats covering the date-like values, best first
    date_share: float = 0.0  # fraction of filled values parsed by date_formats
    day_month_ambiguous: bool = False


@dataclass(frozen=True)
class ColumnGuess:
    """The proposal for one input column (printed by ``schema new``)."""

    column: str
    field: str | None  # proposed schema field (None: not used for linkage)
    type: str | None
    confidence: str  # high | medium | low | -
    evidence: str  # how it was decided, in words (no values)


@dataclass(frozen=True)
class Proposal:
    """A starter schema document, a mapping document and the per-column reasoning."""

    schema: dict[str, Any]
    mapping: dict[str, Any]
    columns: tuple[ColumnGuess, ...]
    sample_rows: int
    notes: tuple[str, ...] = field(default_factory=tuple)


def _name_key(column: str) -> str:
    """``"E-mail Address "`` -> ``"emailaddress"``; camelCase and separators vanish."""
    return re.sub(r"[^a-z0-9]", "", anyascii(column.replace("\ufeff", "")).casefold())


def _looks_like_id(column: str) -> bool:
    words = _snake(column).split("_")
    return words[-1] in _ID_WORDS or bool(_ID_COMPACT.fullmatch(_name_key(column)))


def _snake(column: str) -> str:
    """A valid field name from a column name (``"Cust ID"`` -> ``"cust_id"``)."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", anyascii(column.replace("\ufeff", "")).strip())
    s = re.sub(r"[^a-z0-9]+", "_", s.casefold()).strip("_")
    if not s or not s[0].isalpha():
        s = f"col_{s}" if s else "col"
    return s


def guess_from_name(column: str) -> tuple[str, str] | None:
    """``(field, type)`` suggested by a column name alone, or None."""
    key = _name_key(column)
    for pattern, fname, ftype in _NAME_RULES:
        if re.fullmatch(pattern, key):
            return fname, ftype
    if "date" in key:
        return _snake(column), "date"
    return None


def is_placeholder(value: str) -> bool:
    return value.strip().casefold() in _PLACEHOLDERS


def profile_values(values: Iterable[str]) -> ColumnShape:
    """Shape statistics of a column's sampled values (nothing of the values is kept)."""
    filled = [v.strip() for v in values if not is_placeholder(v)]
    n = len(filled)
    if not n:
        return ColumnShape(filled=0)

    def share(pred: Any) -> float:
        return sum(1 for v in filled if pred(v)) / n

    phone_like = [v for v in filled if _PHONE.fullmatch(v) and sum(ch.isdigit() for ch in v) >= 7]
    formats, covered, ambiguous = _date_formats(filled)
    return ColumnShape(
        filled=n,
        email=share(_EMAIL.fullmatch),
        phone=len(phone_like) / n,
        digits=share(_DIGITS.fullmatch),
        gender=share(lambda v: v.casefold() in _GENDER_VALUES),
        letters=share(_LETTERS.fullmatch),
        short_code=share(_SHORT_CODE.fullmatch),
        code=share(_CODE.fullmatch),
        street=share(_STREET.fullmatch),
        comma=share(lambda v: "," in v),
        international=(
            sum(1 for v in phone_like if v.startswith(("+", "00"))) / len(phone_like)
            if phone_like
            else 0.0
        ),
        unique=len(set(filled)) / n,
        date_formats=formats,
        date_share=covered / n,
        day_month_ambiguous=ambiguous,
    )


def _fits(value: str, fmt: str) -> bool:
    """Does ``value`` parse under ``fmt`` as a plausible date (years 1800-2100)?

    Digit-only values of other lengths (ids, phone numbers, postcodes) are not dates even
    if a candidate happens to parse them, so ``%Y`` only takes 4 digits and ``%Y%m%d`` 8.
    """
    if value.isdigit() and len(value) != {"%Y": 4, "%Y%m%d": 8}.get(fmt, -1):
        return False
    try:
        parsed = datetime.strptime(value, fmt)
    except ValueError:
        return False
    return 1800 <= parsed.year <= 2100


def _date_formats(values: Sequence[str]) -> tuple[tuple[str, ...], int, bool]:
    """Greedy cover of the values by candidate formats: (formats, values covered, ambiguous).

    Columns where most values hold no digit (names, text) are not tried at all, which
    keeps ``schema new`` fast on wide files.
    """
    counts = Counter(v for v in values if any(ch.isdigit() for ch in v))
    if sum(counts.values()) < 0.5 * len(values):
        return (), 0, False
    left = set(counts)
    chosen: list[str] = []
    covered = 0
    ambiguous = False
    while left and len(chosen) < 3:
        hits = {
            fmt: {v for v in left if _fits(v, fmt)} for fmt in DATE_CANDIDATES if fmt not in chosen
        }
        weight = {fmt: sum(counts[v] for v in vs) for fmt, vs in hits.items()}
        best = max(weight, key=weight.__getitem__)  # max keeps the first of equals
        if not weight[best] or weight[best] < 0.05 * len(values):
            break
        swapped = _swap_day_month(best)
        if swapped is not None and weight.get(swapped) == weight[best]:
            ambiguous = True  # every value has day <= 12: the order cannot be told
        chosen.append(best)
        covered += weight[best]
        left -= hits[best]
    return tuple(chosen), covered, ambiguous


def _swap_day_month(fmt: str) -> str | None:
    if "%d" in fmt and "%m" in fmt:
        return fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
    return None


def guess_column(column: str, shape: ColumnShape) -> ColumnGuess:
    """Combine the name rule and the value shapes into one guess for a column."""
    by_name = guess_from_name(column)
    shape_type, shape_word = _type_from_shape(shape)
    if by_name is not None:
        fname, ftype = by_name
        if shape.filled == 0:
            return ColumnGuess(column, fname, ftype, "medium", "name (no values in sample)")
        if shape_type == ftype or (ftype == "id" and shape.digits > 0.9):
            return ColumnGuess(column, fname, ftype, "high", f"name + values ({shape_word})")
        support = _supports(ftype, shape)
        if support:
            return ColumnGuess(column, fname, ftype, "high", f"name + values ({support})")
        if shape_type is None or ftype in ("name", "address", "text", "postcode"):
            return ColumnGuess(column, fname, ftype, "medium", "name")
        return ColumnGuess(column, fname, ftype, "low", f"name, but values look {shape_word}")
    if shape_type is not None and shape_type != "id":
        return ColumnGuess(column, _snake(column), shape_type, "medium", f"values ({shape_word})")
    return ColumnGuess(column, None, None, "-", "not recognised; add it by hand if useful")


def _type_from_shape(s: ColumnShape) -> tuple[str | None, str]:
    if not s.filled:
        return None, "empty"
    if s.email >= 0.8:
        return "email", f"{s.email:.0%} email-like"
    if s.date_share >= 0.8 and s.date_formats:
        return "date", f"{s.date_share:.0%} date-like {' | '.join(s.date_formats)}"
    if s.gender >= 0.9:
        return "gender", f"{s.gender:.0%} gender codes"
    if s.phone >= 0.8 and s.digits < 0.9:
        return "phone", f"{s.phone:.0%} phone-like"
    if s.digits >= 0.9:  # phones are told by their names: bare digits are too ambiguous
        return "id", f"{s.digits:.0%} digits only"
    return None, "free text"


def _supports(ftype: str, s: ColumnShape) -> str | None:
    """Words for value shapes consistent with a name-based type that shapes alone miss."""
    if ftype in ("name", "text") and s.letters >= 0.9:
        return f"{s.letters:.0%} letters only"
    if ftype == "postcode" and s.short_code >= 0.9:
        return f"{s.short_code:.0%} short codes"
    if ftype == "address" and s.street >= 0.9:
        return f"{s.street:.0%} words and numbers"
    if ftype == "address" and s.digits >= 0.9:
        return f"{s.digits:.0%} house numbers"
    if ftype == "id" and s.code >= 0.9 and s.unique >= 0.9:
        return f"{s.code:.0%} unique codes"
    return None


def _record_id_column(header: Sequence[str], shapes: Sequence[ColumnShape]) -> int | None:
    """The first id-like column with unique sampled values: the party's internal id."""
    for i, column in enumerate(header):
        unique = shapes[i].filled == 0 or shapes[i].unique >= 0.99
        if _looks_like_id(column) and guess_from_name(column) is None and unique:
            return i
    return None


def propose(
    header: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    name: str = "",
    source: str | None = None,
) -> Proposal:
    """Propose a schema and a mapping for a file with ``header`` from sampled ``rows``
    (``source`` names the file in messages).

    Raises
    ------
    InputDataError
        The header looks like a row of data: its cells would be printed and written as
        column names, so nothing is proposed.
    """
    check_header(header, source)
    columns: list[list[str]] = [[] for _ in header]
    n_rows = 0
    for row in rows:
        n_rows += 1
        for i, value in enumerate(row[: len(header)]):
            columns[i].append(value)
    shapes = [profile_values(values) for values in columns]
    record_idx = _record_id_column(header, shapes)
    guesses = []
    for i, column in enumerate(header):
        if i == record_idx:
            guesses.append(
                ColumnGuess(
                    column, None, None, "high", "record id (mapping record_id; not linked on)"
                )
            )
        elif not column.strip():
            guesses.append(ColumnGuess(column, None, None, "-", "unnamed column"))
        else:
            guesses.append(_id_fallback(guess_column(column, shapes[i]), shapes[i]))
    return _assemble(header, guesses, shapes, record_idx, n_rows, name)


def _id_fallback(guess: ColumnGuess, shape: ColumnShape) -> ColumnGuess:
    """Unrecognised ``*id*``/``*number*`` columns become exact-matched id fields."""
    if guess.field is None and _looks_like_id(guess.column):
        return ColumnGuess(
            guess.column, _snake(guess.column), "id", "low", "name looks like an identifier"
        )
    return guess


def _assemble(
    header: Sequence[str],
    guesses: list[ColumnGuess],
    shapes: Sequence[ColumnShape],
    record_idx: int | None,
    n_rows: int,
    name: str,
) -> Proposal:
    fields: dict[str, dict[str, Any]] = {}  # field -> schema entry, in column order
    sources: dict[str, dict[str, Any]] = {}  # field -> mapping entry
    final: list[ColumnGuess] = []
    notes: list[str] = []
    split_full_name = not any(g.field in ("first_name", "last_name") for g in guesses)
    for i, g in enumerate(guesses):
        if g.field is None or g.type is None:
            final.append(g)
            continue
        shape = shapes[i]
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
                fields[fname] = {"name": fname, "type": "name"}
                sources[fname] = {"column": g.column, "part": part, "name_order": order}
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
            sources[fname]["column"] = [*_as_list(sources[fname]["column"]), g.column]
            final.append(g)
            continue
        if fname in fields:  # a second column of the same kind keeps its own name
            fname = _snake(g.column)
            if fname in fields:
                final.append(ColumnGuess(g.column, None, None, "-", "duplicate column name"))
                continue
            g = ColumnGuess(g.column, fname, g.type, g.confidence, g.evidence)
        fields[fname] = {"name": fname, "type": g.type}
        source: dict[str, Any] = {"column": g.column}
        if g.type == "date":
            formats = list(shape.date_formats) or ["%Y-%m-%d"]
            source["date_formats"] = formats
            if shape.day_month_ambiguous:
                notes.append(
                    f"column {g.column!r}: day/month order cannot be told from the "
                    f"sample; check date_formats ({formats[0]})"
                )
        if g.type == "phone" and shape.filled and shape.international < 0.9:
            notes.append(
                f"column {g.column!r}: national-format phone numbers; set "
                'phone_region in the mapping (e.g. phone_region = "GB")'
            )
        sources[fname] = source
        final.append(g)

    schema_fields = [_with_encoding(entry) for entry in fields.values()]
    _mark_identity_fields(schema_fields, notes)
    mapping: dict[str, Any] = {}
    if record_idx is not None:
        mapping["record_id"] = header[record_idx].strip()
    mapping["fields"] = {f: _tidy_source(f, s) for f, s in sources.items()}
    schema: dict[str, Any] = {
        "version": 1,
        "name": name,
        "clk": {"bits": d.DEFAULT_CLK_BITS},
        "fields": schema_fields,
    }
    keys = _match_keys(fields)
    if keys:
        schema["match_keys"] = keys
    if not schema_fields:
        notes.append("no column was recognised: write the schema's fields by hand")
    return Proposal(schema, mapping, tuple(final), n_rows, tuple(notes))


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


def _with_encoding(entry: dict[str, Any]) -> dict[str, Any]:
    weight, exact = ENCODING_BY_TYPE[entry["type"]]
    out = dict(entry)
    if weight is not None:
        out["bloom"] = {"weight": weight}
    if exact:
        out["exact"] = True
    return out


def _mark_identity_fields(schema_fields: list[dict[str, Any]], notes: list[str]) -> None:
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

    def resolve() -> Any:
        doc = {"version": 1, "clk": {"bits": d.DEFAULT_CLK_BITS}, "fields": schema_fields}
        return build_schema(doc)

    # Equal weights may still split into unequal bits (the remainder goes to the first
    # fields); a swap pair needs filters built alike, so both get the smaller size.
    try:
        sizes = {seg.field: seg.bits for seg in resolve().segments}
    except SchemaError:  # not a valid schema yet for other reasons: leave it as it is
        return
    bits = min(sizes["first_name"], sizes["last_name"])
    if sizes["first_name"] != sizes["last_name"]:
        first["bloom"] = {"bits": bits}
        last["bloom"] = {"bits": bits}
    first["swaps_with"] = "last_name"
    try:
        resolve()
    except SchemaError:
        del first["swaps_with"]
        notes.append("first_name and last_name cannot share a Bloom key here; see "
                     "swaps_with in docs/guides/schema.md")


def _match_keys(fields: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
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
    if "last_name" in fields and "postcode" in fields:
        keys.append(
            {"name": "blk_sx_pc", "parts": ["last_name:soundex", "postcode"], "purpose": "block"}
        )
    return keys


def propose_from_csv(
    path: str | os.PathLike[str],
    *,
    sample: int = 1000,
    encoding: str | None = None,
    delimiter: str | None = None,
    name: str = "",
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
    return propose(header, rows, name=name, source=_label(path))


def _label(path: str | os.PathLike[str]) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def write_proposal(
    data: str | os.PathLike[str],
    schema_out: str | os.PathLike[str],
    mapping_out: str | os.PathLike[str] | None = None,
    *,
    sample: int = 1000,
    force: bool = False,
    encoding: str | None = None,
    delimiter: str | None = None,
    name: str = "",
) -> tuple[Proposal, Path]:
    """Propose from ``data`` and write the schema and the mapping (``schema new``).

    The mapping goes to ``mapping_out``, by default ``<data stem>.mapping.<ext>`` next to
    the schema (``stdin.mapping.<ext>`` for ``-``, standard input). Returns the proposal
    and the mapping path.

    Raises
    ------
    HashmatchError
        The proposal is not a valid schema (nothing recognised).
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
    proposal = propose_from_csv(
        data, sample=sample, encoding=encoding, delimiter=delimiter, name=name
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
