"""Judge a CSV file's columns: what each one holds, from its name and its values' shapes.

The column judgement shared by ``schema new`` (:mod:`hashmatch.schema.infer`), ``mapping
new`` (:mod:`hashmatch.schema.party_mapping`) and ``profile``'s fixes. Each column is judged
by its *name* (``fname``, ``Surname``, ``D.O.B.``, ``E-mail Address``...) and by the
*shapes* of its sampled values (email-like, phone-like, date-like under which strptime
format, digits only, unique...). Only counts and shapes leave this module, never a value.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from anyascii import anyascii

from hashmatch.encode.sources.header import check_header

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
    distinct: int = 0  # distinct filled values
    top_share: float = 0.0  # share of filled values holding the most frequent value
    repeated_share: float = 0.0  # share of filled values that occur more than once
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


def _name_key(column: str) -> str:
    """``"E-mail Address "`` -> ``"emailaddress"``; camelCase and separators vanish."""
    return re.sub(r"[^a-z0-9]", "", anyascii(column.replace("\ufeff", "")).casefold())


def _looks_like_id(column: str) -> bool:
    words = snake(column).split("_")
    return words[-1] in _ID_WORDS or bool(_ID_COMPACT.fullmatch(_name_key(column)))


def snake(column: str) -> str:
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
        return snake(column), "date"
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
    counts = Counter(v.casefold() for v in filled)
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
        distinct=len(counts),
        top_share=max(counts.values()) / n,
        repeated_share=sum(c for c in counts.values() if c > 1) / n,
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
        return ColumnGuess(column, snake(column), shape_type, "medium", f"values ({shape_word})")
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


def _id_fallback(guess: ColumnGuess, shape: ColumnShape) -> ColumnGuess:
    """Unrecognised ``*id*``/``*number*`` columns become exact-matched id fields."""
    if guess.field is None and _looks_like_id(guess.column):
        return ColumnGuess(
            guess.column, snake(guess.column), "id", "low", "name looks like an identifier"
        )
    return guess


@dataclass(frozen=True)
class JudgedColumns:
    """Every column of a file judged: its guess, its shape, its sampled values (in
    memory only, for the region and ZIP checks), and which one is the record id."""

    header: tuple[str, ...]
    guesses: tuple[ColumnGuess, ...]
    shapes: tuple[ColumnShape, ...]
    values: tuple[tuple[str, ...], ...]
    record_index: int | None
    rows: int


def judge_columns(
    header: Sequence[str], rows: Iterable[Sequence[str]], source: str | None = None
) -> JudgedColumns:
    """Judge every column of ``header`` from the sampled ``rows`` (``source`` names the
    file in messages).

    Raises
    ------
    InputDataError
        The header looks like a row of data: its cells would be printed and written as
        column names.
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
    return JudgedColumns(
        tuple(header),
        tuple(guesses),
        tuple(shapes),
        tuple(tuple(v) for v in columns),
        record_idx,
        n_rows,
    )
