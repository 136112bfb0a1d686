"""Phone normalisation: parse with ``phonenumbers`` in the party's region, output E.164.

A number written without ``+`` needs the party's default region (``phone_region`` in its
mapping); without one it is ``phone.no_region``, never guessed. A number that parses but
is not valid for its country (wrong length, unassigned range) is ``phone.invalid``.
Placeholders (all one digit, ``1234567890``...) are missing. Extensions are dropped:
E.164 has none. North American numbers in the usual shapes take a fast path that gives
the same result without parsing (:mod:`hashmatch.normalize.phone_nanp`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import suppress
from typing import Any

import phonenumbers

from hashmatch.normalize import placeholders
from hashmatch.normalize._base import (
    ColumnSource,
    InvalidValue,
    MissingValue,
    fold,
    with_batch_path,
)
from hashmatch.normalize.phone_nanp import NanpNumbers

_SEQUENCES = placeholders.table("phone")
_DIGITS = str.maketrans("", "", "".join(chr(c) for c in range(128) if not chr(c).isdigit()))
_E164 = phonenumbers.PhoneNumberFormat.E164
_SEQUENCE_BYTES = tuple(seq.encode("ascii") for seq in _SEQUENCES)
#: The batch fast path assumes no general placeholder is all digits (it checks only the
#: phone rules on a number's digits); a table that breaks this turns it off.
_BATCH_SAFE = not any(key.isdigit() for key in placeholders.table("any"))


def _placeholder_rule(text: str) -> str | None:
    digits = text.translate(_DIGITS)
    if len(digits) >= 5 and digits.count(digits[0]) == len(digits):
        return "repeated_digit"
    for seq in _SEQUENCES:
        if digits.endswith(seq):
            return "sequence"
    return None


def make_phone_normalizer(options: Mapping[str, Any], source: ColumnSource) -> Callable[[str], str]:
    """The normaliser of a ``phone`` field."""
    region = source.phone_region.upper() if source.phone_region else None
    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        msg = f"phone_region must be an ISO 3166 region known to phonenumbers, got {region!r}"
        raise ValueError(msg)
    parse, is_valid, format_number = (
        phonenumbers.parse,
        phonenumbers.is_valid_number,
        phonenumbers.format_number,
    )
    check = placeholders.check
    nanp = NanpNumbers(region)
    fast = nanp.e164

    def normalize_phone(raw: str) -> str:
        text = fold(raw.strip())  # also turns non-ASCII digits into ASCII ones
        check(text)
        rule = _placeholder_rule(text)
        if rule is not None:
            raise MissingValue("placeholder", rule)
        if region is None and not text.startswith("+"):
            raise InvalidValue("phone.no_region")
        found = fast(text)  # raises phone.invalid as the slow path would
        if found is not None:
            return found
        number = None
        # InvalidValue is raised after the handler, so it never chains to the parse error
        with suppress(phonenumbers.NumberParseException):
            number = parse(text, region)
        if number is None:
            raise InvalidValue("phone.unparseable")
        if not is_valid(number):
            raise InvalidValue("phone.invalid")
        return format_number(number, _E164)

    if not _BATCH_SAFE:  # pragma: no cover - the shipped table has no such key
        return normalize_phone
    return with_batch_path(
        normalize_phone, lambda values: nanp.settled(values, _SEQUENCE_BYTES)
    )
