"""PII normalisation: raw cell text -> canonical string, or *missing*, or *invalid*.

The first stage on the party side: every cell of every mapped column goes through the
normaliser of its field's type before anything is encoded, so two parties that write the
same fact differently ("  DR. José O'Brien-Smith Jr. " and "jose obrien smith") produce the
same canonical value. Canonical forms: names/text/address lower-case ASCII ``[a-z0-9 ]``
with single spaces; email ``local@domain``; phone E.164; date ``YYYY-MM-DD``, ``YYYY-MM``
or ``YYYY``; postcode upper-case alphanumerics; gender ``f|m|x``; id ``[a-z0-9]+``.

A normaliser raises :class:`MissingValue` (empty or placeholder: becomes *missing*, never
encoded) or :class:`InvalidValue` (a reason code from :data:`REASONS`). Neither carries
the raw value. Build one normaliser per field and chunk with :func:`make_normalizer`:
tables and regular expressions are prepared once, the returned callable is cheap.

>>> from hashmatch.normalize import ColumnSource
>>> norm = make_normalizer("name", {}, ColumnSource(columns=("full_name",), part="last"))
>>> norm("  DR. José  O'Brien-Smith Jr. ")
'obrien smith'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hashmatch.normalize._base import (
    REASONS,
    ColumnSource,
    InvalidValue,
    MissingValue,
    OptionSpec,
    fold,
    memoised,
)
from hashmatch.normalize.address import make_address_normalizer
from hashmatch.normalize.dates import date_components, make_date_normalizer
from hashmatch.normalize.email import make_email_normalizer
from hashmatch.normalize.names import FullName, make_name_normalizer, split_full_name
from hashmatch.normalize.phone import make_phone_normalizer
from hashmatch.normalize.phonetic import soundex
from hashmatch.normalize.postcode import make_postcode_normalizer
from hashmatch.normalize.text import (
    make_gender_normalizer,
    make_id_normalizer,
    make_text_normalizer,
)

__all__ = [
    "OPTION_SPECS",
    "REASONS",
    "ColumnSource",
    "FullName",
    "InvalidValue",
    "MissingValue",
    "OptionSpec",
    "date_components",
    "fold",
    "make_normalizer",
    "soundex",
    "split_full_name",
]

Normalizer = Callable[[str], str]

#: Field type -> option name -> spec. The schema loader validates ``normalize = {...}``.
OPTION_SPECS: dict[str, dict[str, OptionSpec]] = {
    "name": {
        "nicknames": OptionSpec(False, bool, "canonicalise given-name nicknames (bill -> william)"),
    },
    "email": {
        "provider_rules": OptionSpec(
            True, bool, "gmail/googlemail: drop dots and +tag (UID2 normalisation rules)"
        ),
    },
    "phone": {},
    "date": {
        "earliest": OptionSpec("1900-01-01", str, "earliest valid date, YYYY-MM-DD"),
        "latest": OptionSpec("today", str, "latest valid date, YYYY-MM-DD or 'today'"),
    },
    "postcode": {
        "zip5": OptionSpec(False, bool, "cut US ZIP+4 to the five-digit ZIP"),
        "country": OptionSpec("", str, "ISO 3166 alpha-2 country whose format to check"),
    },
    "address": {
        "abbreviations": OptionSpec(
            True, bool, "expand St/Ave/Rd/N... to full words (St before a name -> saint)"
        ),
    },
    "gender": {},
    "text": {},
    "id": {},
}

_FACTORIES: dict[str, Callable[[Mapping[str, Any], ColumnSource], Normalizer]] = {
    "name": make_name_normalizer,
    "email": make_email_normalizer,
    "phone": make_phone_normalizer,
    "date": make_date_normalizer,
    "postcode": make_postcode_normalizer,
    "address": make_address_normalizer,
    "gender": make_gender_normalizer,
    "text": make_text_normalizer,
    "id": make_id_normalizer,
}


def make_normalizer(
    field_type: str, options: Mapping[str, Any], source: ColumnSource, *, memo: bool = True
) -> Normalizer:
    """Build the normaliser of one field for one party.

    Parameters: ``field_type`` (one of the schema's field types), ``options`` (the field's
    ``normalize`` table; missing options take their defaults), ``source`` (the party's
    column source: name part/order, date formats, phone region).

    Returns a callable ``raw cell text -> canonical string`` that raises
    :class:`MissingValue` or :class:`InvalidValue`. It remembers the canonical forms of
    recent values (bounded), since names, dates and postcodes repeat across rows; pass
    ``memo=False`` when the caller keeps its own memo of outcomes (one layer is enough).

    Raises ``ValueError`` for an unknown field type, unknown option, option of the wrong
    type, or an unusable party setting (bad date format, unknown phone region).
    """
    specs = OPTION_SPECS.get(field_type)
    if specs is None:
        msg = f"unknown field type {field_type!r}; expected one of {', '.join(_FACTORIES)}"
        raise ValueError(msg)
    resolved: dict[str, Any] = {name: spec.default for name, spec in specs.items()}
    for name, value in options.items():
        spec = specs.get(name)
        if spec is None:
            known = ", ".join(specs) or "none"
            msg = f"unknown option {name!r} for field type {field_type!r} (known: {known})"
            raise ValueError(msg)
        if type(value) is not spec.kind:  # bool is an int subclass: compare exactly
            msg = (
                f"option {name!r} of field type {field_type!r} must be "
                f"{spec.kind.__name__}, got {type(value).__name__}"
            )
            raise ValueError(msg)
        resolved[name] = value
    normalize = _FACTORIES[field_type](resolved, source)
    return memoised(normalize) if memo else normalize
