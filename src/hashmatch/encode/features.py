"""Canonical value -> the set of feature strings a Bloom filter encodes, per field type.

A Bloom filter compares *sets*: two values are similar when their feature sets overlap.
The features are chosen per type so that the errors real data has (typos, transposed
digits, a missing day, a different phone prefix) remove few features:

* ``name``, ``text``, ``address``, ``email``, ``id``, ``postcode``: q-grams of the canonical
  string (``q`` and ``padding`` from the schema). Padding with ``_`` (absent from the
  canonical forms of names/text/address/postcode/id) makes the first and last characters
  count twice, which is where spelling agrees most. Spaces stay in the string, so a
  multi-word value keeps its word boundaries as features. For an e-mail a typo anywhere
  only costs the q-grams around it.
* ``date``: components, not characters, because a typo in a date is a wrong component
  and because a party may only know part of the date: ``y:YYYY``, plus ``m:MM``,
  ``d:DD`` and the unordered ``dm:`` pair (a day/month swap, 03/04 vs 04/03, still
  shares it) when known. A year-only party therefore still shares the year feature with
  a full date. (Four features, near the three the schema's default ``k`` assumes; a
  decade feature was left out: it adds fill for little evidence.)
* ``phone`` (E.164): ``cc:`` the country calling code, plus q-grams of the digits of the
  national significant number; a mistyped digit costs ``q`` grams of ~11, a different
  country prefix or trunk "0" costs nothing on the national digits.
* ``gender``: the single code ``g:f``; it has no near-misses.

Namespacing: every feature carries a prefix naming its kind (``q:`` q-gram, ``y:`` year,
...), so a year ``1951`` never collides with a q-gram ``1951``. Fields cannot collide with
each other at all: each field hashes under its own key into its own segment.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable

import phonenumbers

from hashmatch.normalize import date_components

FeatureFunction = Callable[[str], tuple[str, ...]]
#: ``canonical -> tokens``; a value's features are ``prefix + token`` (duplicates allowed).
TokenFunction = Callable[[str], Iterable[str]]


def qgrams(text: str, q: int, padding: bool) -> tuple[str, ...]:
    """Distinct ``q``-grams of ``text`` (padded with ``_``), prefixed ``q:``, in first-seen order.

    >>> qgrams("ann", 2, True)
    ('q:_a', 'q:an', 'q:nn', 'q:n_')
    >>> qgrams("a", 3, False)
    ('q:a',)
    """
    if padding:
        text = "_" * (q - 1) + text + "_" * (q - 1)
    if len(text) <= q:
        return ("q:" + text,)
    return tuple(dict.fromkeys("q:" + text[i : i + q] for i in range(len(text) - q + 1)))


def date_features(canonical: str) -> tuple[str, ...]:
    """Component features of a canonical date (``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``).

    >>> date_features("1951-11-04")
    ('y:1951', 'm:11', 'd:04', 'dm:04/11')
    >>> date_features("1951")
    ('y:1951',)
    """
    year, month, day = date_components(canonical)
    out = [f"y:{year:04d}"]
    if month is not None:
        out.append(f"m:{month:02d}")
    if day is not None:
        out.append(f"d:{day:02d}")
        if month is not None:
            lo, hi = sorted((month, day))
            out.append(f"dm:{lo:02d}/{hi:02d}")
    return tuple(out)


#: E.164 of a North American number whose national number phonenumbers reads as the ten
#: digits after "+1" (no trunk prefix to strip: it starts 2-9; see normalize.phone_nanp).
NANP_E164 = re.compile(r"\+1[2-9][0-9]{9}")


def phone_features(canonical: str, q: int, padding: bool) -> tuple[str, ...]:
    """Country code plus digit q-grams of the national number of an E.164 number."""
    if NANP_E164.fullmatch(canonical) is not None:  # what parsing would find, faster
        return ("cc:1", *qgrams(canonical[2:], q, padding))
    try:
        number = phonenumbers.parse(canonical, None)
    except phonenumbers.NumberParseException:
        digits = "".join(ch for ch in canonical if ch.isdigit())
        return qgrams(digits, q, padding)
    national = phonenumbers.national_significant_number(number)
    return (f"cc:{number.country_code}", *qgrams(national, q, padding))


def gram_tokens(q: int, padding: bool) -> TokenFunction:
    """``text -> its q-grams`` (padded, with repeats, unprefixed), sliced in C: the hot
    path of Bloom encoding, where building prefixed, de-duplicated tuples would cost more
    than the hashing they feed (which is memoised)."""
    pad = "_" * (q - 1) if padding else ""

    def grams(text: str) -> Iterable[str]:
        text = pad + text + pad
        if len(text) <= q:
            return (text,)
        if q == 2:
            return map(operator.add, text, text[1:])
        return map("".join, zip(*(text[i:] for i in range(q)), strict=False))

    return grams


def feature_tokens(field_type: str, q: int, padding: bool) -> tuple[str, TokenFunction]:
    """``(prefix, tokens)`` of one field: its features are ``prefix + token``.

    Same features as :func:`feature_function`, in the form the Bloom encoder consumes.
    """
    if field_type == "date":
        return "", date_features
    if field_type == "phone":
        return "", lambda value: phone_features(value, q, padding)
    if field_type == "gender":
        return "g:", lambda value: (value,)
    return "q:", gram_tokens(q, padding)


def feature_function(field_type: str, q: int, padding: bool) -> FeatureFunction:
    """The feature extractor of one field: ``canonical -> tuple of distinct feature strings``."""
    prefix, tokens = feature_tokens(field_type, q, padding)
    return lambda value: tuple(dict.fromkeys(prefix + t for t in tokens(value)))
