"""Shared pieces of the normalisers: their input (:class:`ColumnSource`), outcome
exceptions, reason codes, option specs, folding.

Every normaliser turns one raw cell into a canonical string or raises one of two
exceptions. Neither ever carries the raw value (not in ``args``, not in an attribute, not
in ``__context__``): they are counted in reject reports and profiles that may leave the
party's machine. Normalisers therefore raise them *outside* ``except`` blocks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Literal, NamedTuple

from anyascii import anyascii


@dataclass(frozen=True)
class ColumnSource:
    """Where one schema field comes from in a party's file, and how to parse it.

    Part of a party's mapping (:class:`hashmatch.schema.model.PartyMapping`); defined here
    because every normaliser is built from one.
    """

    columns: tuple[str, ...]  # several columns are joined with a single space
    part: Literal["first", "middle", "last"] | None = None  # take one part of a full name
    name_order: Literal["first_last", "last_first", "auto"] = "auto"
    date_formats: tuple[str, ...] = ()  # strptime formats tried in order; see normalize.dates
    phone_region: str | None = None  # ISO 3166 region for national-format numbers
    #: True when nothing mapped the field and ``columns`` defaulted to its own name: then a
    #: party whose file lacks that column simply lacks the field (no error).
    implicit: bool = False


class MissingValue(Exception):  # noqa: N818 - an outcome, not an error
    """The cell holds no value: ``reason`` is ``"empty"`` or ``"placeholder"``.

    For placeholders, ``pattern`` names the rule that matched (``"na"``, ``"zeros"``,
    ``"sentinel_date"``...), never the value itself.
    """

    def __init__(self, reason: str, pattern: str | None = None) -> None:
        super().__init__(reason if pattern is None else f"{reason}:{pattern}")
        self.reason = reason
        self.pattern = pattern


class InvalidValue(Exception):  # noqa: N818 - an outcome, not an error
    """The cell holds a value that cannot be canonicalised; ``reason`` is a dotted code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


#: Every reason code a normaliser can raise -> a human explanation (reject reports, profile).
REASONS: dict[str, str] = {
    "empty": "the cell is empty or only whitespace",
    "placeholder": "a placeholder such as N/A, unknown, 0000-00-00 or noemail@...",
    "name.no_letters": "a name with no letters after folding and clean-up",
    "email.syntax": "not a syntactically valid e-mail address",
    "phone.invalid": "parsed, but not a valid number for its country",
    "phone.unparseable": "not recognisable as a phone number",
    "phone.no_region": "a national-format number and no default phone region for this party",
    "date.format": "does not match any of the party's date formats",
    "date.impossible": "matches a date format but is not a calendar date (e.g. 31 February)",
    "date.out_of_range": "a calendar date outside the field's validity window",
    "postcode.syntax": "not a plausible postcode (letters/digits only, with at least one digit)",
    "postcode.country": "does not match the postcode format of the configured country",
    "gender.unknown_code": "not a recognised gender code",
}


class OptionSpec(NamedTuple):
    """One normaliser option: its default, its Python type and a one-line help text."""

    default: Any
    kind: type
    help: str


def read_data(name: str) -> Iterator[list[str]]:
    """Rows of a comma-separated table in ``normalize/data``, skipping comments and blanks.

    Each data file opens with a ``# SOURCE: ... LICENCE: ...`` line.
    """
    text = files("hashmatch.normalize").joinpath("data", name).read_text(encoding="utf-8")
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            yield [cell.strip() for cell in line.split(",")]


def _drop_symbols(text: str) -> str:
    # anyascii spells symbols out (an emoji becomes ":grinning:", (c) for a copyright
    # sign), which would put words into a name that the person never wrote.
    return "".join(
        ch for ch in text if ch < "\x80" or unicodedata.category(ch) not in ("So", "Sk", "Cs")
    )


def fold(text: str) -> str:
    """Lower-case ASCII transliteration: accents, ligatures, full-width forms, other scripts.

    >>> fold("ﬁona MÜLLER Æsa")
    'fiona muller aesa'
    """
    if not text.isascii():
        text = anyascii(_drop_symbols(text))
    return text.lower()


#: Apostrophes join (o'brien -> obrien); anyascii has already mapped the curly ones to "'".
APOSTROPHES_RE = re.compile(r"['`]+")


#: A normaliser's batch fast path: per raw value, exactly the canonical form the normaliser
#: returns, or None where the fast path does not settle the value (then call the
#: normaliser, which also gives every missing or invalid outcome). See ``_shapes.pyx``.
BatchPath = Callable[[list[str]], list["str | None"]]
_BATCH_PATH = "batch_path"


def with_batch_path(normalize: Callable[[str], str], batch: BatchPath) -> Callable[[str], str]:
    """``normalize``, carrying ``batch`` as its batch fast path (see :func:`batch_path`)."""
    setattr(normalize, _BATCH_PATH, batch)
    return normalize


def batch_path(normalize: Callable[[str], str]) -> BatchPath | None:
    """The batch fast path of a normaliser, or None when it has none (or is memoised)."""
    return getattr(normalize, _BATCH_PATH, None)


def memoised(normalize: Callable[[str], str], maxsize: int = 1 << 16) -> Callable[[str], str]:
    """Remember the canonical forms of recent raw values (outcomes are not remembered).

    For types whose values repeat a lot (given names, birth dates, postcodes, gender) most
    cells are then one dict look-up. The cache lives only in this process's memory, holds
    what the caller already holds, and is emptied when full (bounded memory, no LRU cost).
    """
    cache: dict[str, str] = {}
    get = cache.get

    def lookup(raw: str) -> str:
        canonical = get(raw)
        if canonical is None:
            canonical = normalize(raw)  # raises MissingValue/InvalidValue: nothing stored
            if len(cache) >= maxsize:
                cache.clear()
            cache[raw] = canonical
        return canonical

    lookup.__doc__ = normalize.__doc__
    return lookup
