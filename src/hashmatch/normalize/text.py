"""Generic normalisers: free ``text``, identifiers (``id``) and ``gender`` codes.

* text: folded, lower-case ASCII letters and digits, single spaces (apostrophes join,
  other punctuation separates), the canonical alphabet every string field shares.
* id: folded, lower-case, letters and digits only ("AB-123 456" -> "ab123456"), since
  identifiers are copied with whatever separators a system likes.
* gender: ``f``, ``m`` or ``x`` from the codes in ``data/gender_codes.csv``; codes meaning
  "not stated" are missing; anything else is ``gender.unknown_code`` (never guessed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from hashmatch.normalize import placeholders
from hashmatch.normalize._base import (
    APOSTROPHES_RE,
    ColumnSource,
    InvalidValue,
    MissingValue,
    fold,
    read_data,
)

_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")
_GENDER_CODES: Mapping[str, str] = dict(read_data("gender_codes.csv"))


def make_text_normalizer(options: Mapping[str, Any], source: ColumnSource) -> Callable[[str], str]:
    """The normaliser of a ``text`` field."""
    check = placeholders.check
    safe = placeholders.safe_starts()
    sub_apostrophes, sub_non_alnum = APOSTROPHES_RE.sub, _NON_ALNUM_RE.sub

    def normalize_text(raw: str) -> str:
        folded = raw.strip()
        folded = folded.lower() if folded.isascii() else fold(folded)
        tokens = folded.split()
        key = "".join(tokens)
        # Only letters, digits and whitespace (the usual case): the tokens are final and
        # ``key`` is what placeholders.check() would look up (see address.py).
        if key.isalnum():
            canonical = " ".join(tokens)
            if key[:2] not in safe:  # both checks, as below: a long value's skips its key
                check(folded)
                check(canonical)
            return canonical
        if folded[:2] not in safe:
            check(folded)
        canonical = " ".join(sub_non_alnum(" ", sub_apostrophes("", folded)).split())
        if canonical[:2] not in safe:
            check(canonical)
        return canonical

    return normalize_text


def make_id_normalizer(options: Mapping[str, Any], source: ColumnSource) -> Callable[[str], str]:
    """The normaliser of an ``id`` field."""
    check = placeholders.check
    safe = placeholders.safe_starts()
    sub_non_alnum = _NON_ALNUM_RE.sub

    def normalize_id(raw: str) -> str:
        folded = raw.strip()
        folded = folded.lower() if folded.isascii() else fold(folded)
        if folded[:2] not in safe:
            check(folded)
        if folded.isalnum():  # ASCII after folding: already [a-z0-9]+
            return folded
        return sub_non_alnum("", folded)  # non-empty: check() refuses values without alnum

    return normalize_id


def make_gender_normalizer(
    options: Mapping[str, Any], source: ColumnSource
) -> Callable[[str], str]:
    """The normaliser of a ``gender`` field."""
    check = placeholders.check
    sub_non_alnum = _NON_ALNUM_RE.sub

    def normalize_gender(raw: str) -> str:
        folded = fold(raw.strip())
        check(folded)
        code = _GENDER_CODES.get(sub_non_alnum("", folded))
        if code is None:
            raise InvalidValue("gender.unknown_code")
        if code == "missing":
            raise MissingValue("placeholder", "unknown")
        return code

    return normalize_gender
