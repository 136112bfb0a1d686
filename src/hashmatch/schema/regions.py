"""Which country's conventions a column follows, told from its values' shapes.

``schema new``, ``mapping new`` and ``profile`` ask this module what a party should put in
its mapping or schema for values written the national way: the phone region of numbers
without ``+`` (``phone_region``), whether postcodes are US ZIP+4 (``zip5``), and which
day/month order an ambiguous date column most likely uses (``--country``). The answers
are region codes and format strings, never a value, so they can be printed and written.

Phone numbers are parsed with ``phonenumbers`` (the library the phone normaliser uses)
under candidate regions: the one the user gave (``--country``), the regions of the
column's own international numbers, then a list of common ones. Each valid parse counts
for the region the number *belongs to* (a Canadian area code parsed under ``US`` counts
for ``CA``), so neighbours that share a numbering plan are told apart.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import phonenumbers

#: Regions tried for national-format numbers after the hint and the column's own.
COMMON_REGIONS = (
    "US", "GB", "CA", "AU", "NZ", "IE", "DE", "FR", "NL", "BE", "ES", "IT", "PT", "CH",
    "AT", "SE", "NO", "DK", "FI", "PL", "IN", "ZA", "BR", "MX", "JP",
)  # fmt: skip
#: National-format numbers looked at (parsing is ~0.2 ms per number and region).
PHONE_SAMPLE = 200
#: Share of the national-format numbers that must parse as valid to propose a region.
MIN_PHONE_SHARE = 0.8
#: Countries writing dates month first (an ambiguous ``01/02/1990`` is 2 January there).
MONTH_FIRST = frozenset({"US", "PH", "FM", "PW", "MH"})

_ZIP4 = re.compile(r"[0-9]{5}[- ]?[0-9]{4}")
_ZIP5 = re.compile(r"[0-9]{5}")


@dataclass(frozen=True)
class RegionGuess:
    """The region national-format numbers fit best, and how well (0..1); None: no fit."""

    region: str | None
    share: float  # of the national-format numbers looked at, valid under ``region``
    national: int  # national-format numbers looked at


def normalise_country(country: str | None) -> str | None:
    """``"us"`` -> ``"US"``; None or empty stays None.

    Raises
    ------
    ValueError
        Not a region ``phonenumbers`` knows (ISO 3166 alpha-2).
    """
    if not country:
        return None
    code = country.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        msg = f"expected an ISO 3166 country code such as US or GB, got {country!r}"
        raise ValueError(msg)
    return code


def phone_region(values: Iterable[str], hint: str | None = None) -> RegionGuess:
    """The phone region that makes the most national-format ``values`` valid numbers.

    >>> phone_region(["(651) 555-0189", "614.555.0162", "+1 608 555 0197"]).region
    'US'
    >>> phone_region(["020 7946 0958", "0161 496 0000"]).region
    'GB'
    >>> phone_region(["+44 20 7946 0958"]).region is None   # nothing national to place
    True
    """
    national: list[str] = []
    own: Counter[str] = Counter()
    for value in values:
        text = value.strip()
        if not text or sum(ch.isdigit() for ch in text) < 6:
            continue
        if text.startswith(("+", "00")):
            region = _region_of(text.replace("00", "+", 1) if text.startswith("00") else text)
            if region:
                own[region] += 1
        elif len(national) < PHONE_SAMPLE:
            national.append(text)
    if not national:
        return RegionGuess(None, 0.0, 0)
    candidates = list(dict.fromkeys([*([hint] if hint else []), *own, *COMMON_REGIONS]))
    valid: Counter[str] = Counter()
    placed: set[int] = set()
    for region in candidates:
        for k, text in enumerate(national):
            if k in placed:
                continue
            found = _region_of(text, region)
            if found:
                valid[found] += 1
                placed.add(k)
        if len(placed) == len(national):
            break
    if not valid:
        return RegionGuess(None, 0.0, len(national))
    order = {r: i for i, r in enumerate(candidates)}
    best = max(valid, key=lambda r: (valid[r], -order.get(r, len(order))))
    share = valid[best] / len(national)
    return RegionGuess(best if share >= MIN_PHONE_SHARE else None, share, len(national))


def _region_of(text: str, region: str | None = None) -> str | None:
    """The region of ``text`` parsed under ``region`` if it is a valid number, else None."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.region_code_for_number(number)


def zip4_share(values: Sequence[str]) -> float:
    """Share of the filled values shaped like a US ZIP+4 (``12345-6789``, ``123456789``).

    >>> zip4_share(["55179", "10025-1234", "", "N/A"])
    0.3333333333333333
    """
    filled = [v.strip() for v in values if v.strip()]
    if not filled:
        return 0.0
    return sum(1 for v in filled if _ZIP4.fullmatch(v)) / len(filled)


def looks_like_zip(values: Sequence[str]) -> bool:
    """Are (nearly) all filled values five-digit ZIPs or ZIP+4s?"""
    filled = [v.strip() for v in values if any(ch.isdigit() for ch in v)]
    if not filled:
        return False
    fits = sum(1 for v in filled if _ZIP5.fullmatch(v) or _ZIP4.fullmatch(v))
    return fits >= 0.95 * len(filled)


def month_first(country: str | None) -> bool:
    """Does ``country`` write dates month first (decides an ambiguous day/month order)?"""
    return country is not None and country.upper() in MONTH_FIRST
