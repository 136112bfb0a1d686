"""Postcode / ZIP normalisation: upper-case letters and digits, no spaces or hyphens.

``zip5`` cuts a US ZIP+4 (``12345-6789``, ``123456789``) to its five-digit ZIP.
``country`` (ISO 3166 alpha-2) adds that country's format check; without it a value is
accepted when it has 3-10 letters/digits and at least one digit (every national postcode
system in use has digits; a value without any is a town name or a typo).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from hashmatch.normalize import placeholders
from hashmatch.normalize._base import ColumnSource, InvalidValue, fold

_SEPARATORS_RE = re.compile(r"[\s\-.]+")
_GENERIC_RE = re.compile(r"(?=[A-Z]*\d)[A-Z0-9]{3,10}")
_ZIP4_RE = re.compile(r"(\d{5})[\s-]?\d{4}")

#: Canonical (separator-free, upper-case) postcode formats of some countries.
COUNTRY_PATTERNS: Mapping[str, re.Pattern[str]] = {
    country: re.compile(pattern)
    for country, pattern in {
        "US": r"\d{5}(?:\d{4})?",
        "GB": r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}|GIR0AA",
        "CA": r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\d[ABCEGHJ-NPRSTV-Z]\d",
        "IE": r"(?:[AC-FHKNPRTV-Y]\d{2}|D6W)(?:[0-9AC-FHKNPRTV-Y]{4})?",
        "NL": r"[1-9]\d{3}[A-Z]{2}",
        "DE": r"\d{5}",
        "FR": r"\d{5}",
        "ES": r"\d{5}",
        "IT": r"\d{5}",
        "SE": r"\d{5}",
        "FI": r"\d{5}",
        "AU": r"\d{4}",
        "NZ": r"\d{4}",
        "AT": r"\d{4}",
        "BE": r"\d{4}",
        "CH": r"\d{4}",
        "DK": r"\d{4}",
        "NO": r"\d{4}",
        "PT": r"\d{7}",
        "PL": r"\d{5}",
        "IN": r"\d{6}",
        "JP": r"\d{7}",
        "BR": r"\d{8}",
    }.items()
}


def make_postcode_normalizer(
    options: Mapping[str, Any], source: ColumnSource
) -> Callable[[str], str]:
    """The normaliser of a ``postcode`` field."""
    zip5 = bool(options.get("zip5", False))
    country = str(options.get("country", "")).upper()
    if country and country not in COUNTRY_PATTERNS:
        known = ", ".join(sorted(COUNTRY_PATTERNS))
        msg = f"postcode option 'country' must be one of {known} or empty, got {country!r}"
        raise ValueError(msg)
    country_re = COUNTRY_PATTERNS.get(country)
    check = placeholders.check
    zip4 = _ZIP4_RE.fullmatch

    safe = placeholders.safe_starts()
    sub_separators = _SEPARATORS_RE.sub

    def normalize_postcode(raw: str) -> str:
        folded = raw.strip()
        folded = folded.lower() if folded.isascii() else fold(folded)
        if folded[:2] not in safe:  # inline pre-check: most values need no check() call
            check(folded)
        if zip5:
            m = zip4(folded)
            if m is not None:
                return m[1]
        # ASCII letters and digits only (the usual case): no separator to remove
        canonical = (folded if folded.isalnum() else sub_separators("", folded)).upper()
        if not _GENERIC_RE.fullmatch(canonical):
            raise InvalidValue("postcode.syntax")
        if country_re is not None and not country_re.fullmatch(canonical):
            raise InvalidValue("postcode.country")
        return canonical

    return normalize_postcode
