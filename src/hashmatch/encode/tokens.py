"""Keyed exact tokens and match keys.

An *exact token* is ``HMAC-SHA256(key("exact", field), canonical)[:16]``: deterministic
for parties sharing the secret, useless to anyone else (no dictionary attack without the
key). 128 bits keep accidental collisions out of reach for any realistic file size.

A *match key* combines several fields, each optionally transformed (``year`` of a date,
``initial`` or ``soundex`` of a name, ...), into one token: ``HMAC-SHA256(key("matchkey",
name), len(p1) || p1 || len(p2) || p2 ...)[:16]`` with 4-byte big-endian lengths, so
part boundaries are unambiguous ("ab"+"c" and "a"+"bc" differ). A key whose part is
missing is missing.

The all-zero token means *missing* (the chance that a real HMAC output is all zero is
2**-128).
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence

from hashmatch.normalize import date_components, soundex

TOKEN_BYTES = 16
MISSING_TOKEN = bytes(TOKEN_BYTES)
_DATE_PARTS = {"year": 0, "month": 1, "day": 2}  # transform -> index in date_components
_DATE_SLICES = ((0, 4), (5, 2), (8, 2))  # (start, width) of each in YYYY-MM-DD
_CANONICAL_DATE = re.compile(r"[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?")


def exact_token(key: bytes, canonical: str) -> bytes:
    """The 16-byte keyed token of one canonical value.

    >>> exact_token(bytes(32), "jane@example.org").hex()[:8]
    '072a423c'
    """
    return hmac.digest(key, canonical.encode("utf-8"), "sha256")[:TOKEN_BYTES]


def frame(part: str) -> bytes:
    """A match-key part as hashed: 4-byte big-endian length, then the UTF-8 bytes."""
    data = part.encode("utf-8")
    return len(data).to_bytes(4, "big") + data


def match_key_token(key: bytes, parts: Sequence[str]) -> bytes:
    """The 16-byte keyed token over length-prefixed ``parts`` (all present)."""
    return hmac.digest(key, b"".join(map(frame, parts)), "sha256")[:TOKEN_BYTES]


def transform(canonical: str, how: str | None) -> str | None:
    """A match-key part: the canonical value after ``how``; None when it is not known.

    ``year``/``month``/``day`` need a canonical date (a year-only date has no month);
    ``initial`` and ``prefix3`` take leading characters (spaces removed); ``soundex`` the
    phonetic code of a name.

    >>> transform("1951-11", "year"), transform("1951", "month"), transform("van dyke", "prefix3")
    ('1951', None, 'van')
    """
    if how is None:
        return canonical
    component = _DATE_PARTS.get(how)
    if component is not None:
        if _CANONICAL_DATE.fullmatch(canonical):  # the usual case: read the digits in place
            start, width = _DATE_SLICES[component]
            if start + width > len(canonical):
                return None  # the month or day of a shorter date
            text = canonical[start : start + width]
            return text if component or text[0] != "0" else f"{int(text):02d}"
        try:
            value = date_components(canonical)[component]
        except ValueError:
            return None
        return None if value is None else f"{value:02d}"
    if how == "soundex":
        try:
            return soundex(canonical)
        except ValueError:
            return None
    compact = canonical.replace(" ", "")
    if not compact:
        return None
    if how == "initial":
        return compact[0]
    if how == "prefix3":
        return compact[:3]
    msg = f"unknown match-key transform {how!r}"
    raise ValueError(msg)
