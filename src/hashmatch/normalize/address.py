"""Address normalisation: folding, punctuation, house numbers, abbreviations in context.

Canonical form: lower-case ASCII letters, digits and single spaces, house and unit
numbers kept as written (``12b`` stays ``12b``). With ``abbreviations`` (the default),
abbreviations from ``data/address_abbreviations.csv`` become full words (``st`` ->
``street``, ``ave`` -> ``avenue``, ``n`` -> ``north``, ``apt`` -> ``apartment``), with two
context rules:

* ``st`` / ``dr`` that *open* a street name (first word, after a number, or after a
  street-type word as in "Rue St Denis") and are followed by a name word are ``saint`` /
  ``doctor``: "12 St Kilda Rd" -> "12 saint kilda road", "Main St" -> "main street";
* a single-letter direction right after a unit word is a unit letter: "Apt E" stays "e".

Every output word maps to itself, so normalising a canonical address changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from hashmatch.normalize import placeholders
from hashmatch.normalize._base import (
    APOSTROPHES_RE,
    ColumnSource,
    fold,
    read_data,
    with_batch_path,
)
from hashmatch.normalize._shapes import address_canonicals

_ROWS = list(read_data("address_abbreviations.csv"))
_EXPANSIONS: Mapping[str, str] = {abbr: full for abbr, full, _ in _ROWS}
_KIND: Mapping[str, str] = {full: kind for _, full, kind in _ROWS}
_STREET_WORDS = frozenset(
    {full for _, full, kind in _ROWS if kind == "street"}
    | {"rue", "via", "calle", "avenida", "chemin", "strasse", "weg", "straat"}
)
_UNIT_WORDS = frozenset(full for _, full, kind in _ROWS if kind == "unit")
#: Abbreviations that mean a title when they open a street name.
_NAME_OPENERS = {"st": "saint", "dr": "doctor"}
_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")
#: Tokens that ``_expand`` may rewrite; an address with none of them is left as it is.
_REWRITTEN = frozenset(abbr for abbr, full in _EXPANSIONS.items() if abbr != full)


def _opens_name(tokens: list[str], i: int) -> bool:
    """Whether tokens[i] starts a street *name* (so "St" there is Saint, not Street)."""
    if i + 1 >= len(tokens):
        return False
    nxt = tokens[i + 1]
    if not nxt.isalpha() or nxt in _EXPANSIONS or nxt in _KIND:
        return False
    if i == 0:
        return True
    prev = tokens[i - 1]
    return not prev.isalpha() or _EXPANSIONS.get(prev, prev) in _STREET_WORDS


def _expand(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for i, tok in enumerate(tokens):
        full = _EXPANSIONS.get(tok)
        if full is None:
            out.append(tok)
        elif tok in _NAME_OPENERS and _opens_name(tokens, i):
            out.append(_NAME_OPENERS[tok])
        elif _KIND[full] == "dir" and len(tok) == 1 and out and out[-1] in _UNIT_WORDS:
            out.append(tok)
        else:
            out.append(full)
    return out


def make_address_normalizer(
    options: Mapping[str, Any], source: ColumnSource
) -> Callable[[str], str]:
    """The normaliser of an ``address`` field."""
    abbreviations = bool(options.get("abbreviations", True))
    check = placeholders.check
    safe = placeholders.safe_starts()
    nothing_to_rewrite = _REWRITTEN.isdisjoint
    sub_apostrophes, sub_non_alnum = APOSTROPHES_RE.sub, _NON_ALNUM_RE.sub

    def normalize_address(raw: str) -> str:
        folded = raw.strip()
        folded = folded.lower() if folded.isascii() else fold(folded)
        tokens = folded.split()
        key = "".join(tokens)
        # Only letters, digits and whitespace (the usual case): the tokens are final (the
        # substitutions would split the same way: ASCII whitespace is non-alphanumeric),
        # and ``key`` is the key placeholders.check() looks up, so an inline pre-check on
        # it skips the call even for "12 high st", whose own first two characters cannot.
        plain = key.isalnum()
        if (key if plain else folded)[:2] not in safe:
            check(folded)
        if not plain:
            tokens = sub_non_alnum(" ", sub_apostrophes("", folded)).split()
        if abbreviations and not nothing_to_rewrite(tokens):
            tokens = _expand(tokens)
            plain = False
        canonical = " ".join(tokens)
        if (key if plain else canonical)[:2] not in safe:  # plain: the same key as above
            check(canonical)  # (still called: a long value's check skips its key)
        return canonical

    safe_table, rules = placeholders.safe_start_table(), dict(placeholders.table("any"))
    rewritten = _REWRITTEN if abbreviations else frozenset()

    def batch(values: list[str]) -> list[str | None]:
        return address_canonicals(values, safe_table, rules, rewritten)

    return with_batch_path(normalize_address, batch)
