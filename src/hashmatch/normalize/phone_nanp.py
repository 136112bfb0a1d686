"""A fast path for North American numbers that gives exactly what ``phonenumbers`` gives.

Parsing and validating a number with ``phonenumbers`` costs about 100 microseconds, and
phone numbers rarely repeat, so on a file of unique rows it was most of the encoding time.
Most numbers of a North American party come in one of a few shapes: ``(206) 555-0123``,
``206-555-0123``, ``206.555.0123``, ``2065550123``, ``+1 206 555 0123``, ``+12065550123``.
For those (after the normaliser's folding, placeholder checks and strip):

* **Parsing** is settled: a shape holds exactly ten digits after an optional ``+1``, the
  first of them 2-9 (neither a trunk prefix ``1`` nor an international prefix ``011``
  can start it), and nothing else but ``( ) - . `` and spaces, which ``phonenumbers``
  ignores. So ``parse`` gives country code 1 and the ten digits as national number,
  whether it is given a ``+1`` or a default region of the North American plan whose
  national prefix is ``1`` (the Caribbean regions that also read 7-digit local numbers
  are left to ``phonenumbers``). The E.164 form is then ``+1`` and the ten digits.
* **Validity** is a function of the ten digits through the patterns of the plan's
  regions' metadata (general, per type and leading digits: everything
  ``is_valid_number`` consults). Where every one of those patterns is already decided
  by a prefix of the digits (:class:`~hashmatch.normalize._digit_patterns.DigitPattern`
  proves it by following every completion), all numbers with that prefix are valid or
  none is: ``phonenumbers`` is asked once for the first such number and the answer is
  remembered for the prefix. Where no prefix decides, ``phonenumbers`` is asked for
  every number.

Anything else, or a ``phonenumbers`` whose metadata does not fit these assumptions, goes
through ``phonenumbers`` itself. Tests compare both paths over generated numbers.
"""

from __future__ import annotations

import re
from functools import cache

import phonenumbers
from phonenumbers.phonemetadata import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from hashmatch.normalize._base import InvalidValue
from hashmatch.normalize._digit_patterns import (
    DigitPattern,
    PatternSet,
    UnsupportedPattern,
)
from hashmatch.normalize._shapes import nanp_e164

_DESCS = (
    "general_desc",
    "premium_rate",
    "toll_free",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "fixed_line",
    "mobile",
)
_LENGTH = 10  # digits of a national number in the plan
_SHORTEST_PREFIX = 3  # the shortest deciding prefix (area code at least) is remembered
_MEMO_LIMIT = 1 << 16
#: The shapes (on folded text); the digits are everything but ``+1`` and separators.
_SEP = r"[-. ]?"
_AREA = r"(?:\([2-9][0-9]{2}\)|[2-9][0-9]{2})"
_LOCAL = rf"{_AREA}{_SEP}[0-9]{{3}}{_SEP}[0-9]{{4}}"
_NATIONAL_RE = re.compile(_LOCAL)
_INTERNATIONAL_RE = re.compile(rf"\+1{_SEP}{_LOCAL}")
_NOT_DIGITS = str.maketrans("", "", "()-. +")


class NanpNumbers:
    """E.164 of numbers in the shapes above (see the module doc), for one default region."""

    def __init__(self, region: str | None) -> None:
        self._national = region is not None and _national_prefix_is_one(region)
        self._valid_by_prefix: dict[str, bool] = {}
        self._lengths: list[int] = []  # prefix lengths remembered so far, shortest first

    def e164(self, text: str) -> str | None:
        """The E.164 form of ``text``, or None when ``text`` is not in a shape of the fast
        path (then ask ``phonenumbers``). Raises ``InvalidValue("phone.invalid")`` for a
        number ``phonenumbers`` parses but does not find valid."""
        if text[:2] == "+1":
            if _INTERNATIONAL_RE.fullmatch(text) is None:
                return None
            digits = text[2:].translate(_NOT_DIGITS)
        elif self._national and _NATIONAL_RE.fullmatch(text) is not None:
            digits = text.translate(_NOT_DIGITS)
        else:
            return None
        plan = _plan()
        if plan is None:
            return None
        if not self._valid(digits, plan):
            raise InvalidValue("phone.invalid")
        return "+1" + digits

    def settled(self, values: list[str], sequences: tuple[bytes, ...]) -> list[str | None]:
        """Per value, what the phone normaliser returns for it when that is a valid number
        whose validity is remembered here, else None (see ``_shapes.nanp_e164``, which also
        checks the phone placeholder rules: ``sequences`` are the digit sequences)."""
        if _plan() is None or not self._lengths:
            return [None] * len(values)
        return nanp_e164(values, self._national, sequences, self._valid_by_prefix, self._lengths)

    def _valid(self, digits: str, plan: PatternSet) -> bool:
        memo = self._valid_by_prefix
        for length in self._lengths:
            found = memo.get(digits[:length])
            if found is not None:
                return found
        valid = phonenumbers.is_valid_number(
            phonenumbers.PhoneNumber(country_code=1, national_number=int(digits))
        )
        length = plan.deciding_length(digits)
        if length < _LENGTH:  # (a whole number: nothing to share)
            if len(memo) >= _MEMO_LIMIT:
                memo.clear()
            memo[digits[:length]] = valid
            if length not in self._lengths:
                self._lengths = sorted([*self._lengths, length])
        return valid


def _national_prefix_is_one(region: str) -> bool:
    """Whether national numbers of ``region`` parse as described in the module doc."""
    metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
    return (
        metadata is not None
        and metadata.country_code == 1
        and metadata.national_prefix_for_parsing == "1"
        and metadata.national_prefix_transform_rule is None
    )


@cache
def _plan() -> PatternSet | None:
    """Every pattern ``is_valid_number`` consults for country code 1, as automata; None
    when one cannot be modelled (a future metadata change): then no fast path."""
    patterns: list[DigitPattern] = []
    try:
        for region in COUNTRY_CODE_TO_REGION_CODE[1]:
            metadata = PhoneMetadata.metadata_for_region(region, None)
            if metadata is None:
                continue
            if metadata.leading_digits:
                patterns.append(DigitPattern(metadata.leading_digits, prefix_match=True))
            for name in _DESCS:
                desc = getattr(metadata, name)
                if desc is not None and desc.national_number_pattern:
                    patterns.append(DigitPattern(desc.national_number_pattern))
    except UnsupportedPattern:
        return None
    return PatternSet(patterns, _SHORTEST_PREFIX)
