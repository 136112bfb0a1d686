"""Placeholder detection shared by every field type ("N/A", "unknown", "0000", "xxx"...).

A placeholder is a value someone typed to say "no value": it must become *missing*, not
be encoded (thousands of "unknown" surnames would otherwise match each other). Rules are
matched on a *key*: the folded, lower-case cell with every non-alphanumeric character
removed, so "N/A", "n.a." and "N A" all hit the rule ``na``. The table lives in
``data/placeholders.csv``; type-specific tables (e-mail parts, sentinel dates, phone
sequences) are loaded from the same file by their modules through :func:`table`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache

from hashmatch.normalize._base import MissingValue, read_data

_NON_ALNUM_RE = re.compile(r"[^a-z0-9]+")
#: Keys longer than this are never placeholders; skips the work for ordinary long values.
_MAX_KEY = 24


@cache
def table(scope: str) -> Mapping[str, str]:
    """Placeholder value -> rule name for one scope of ``data/placeholders.csv``."""
    return {
        value: rule
        for row_scope, rule, value in read_data("placeholders.csv")
        if row_scope == scope
    }


def placeholder_rule(folded: str, extra: Mapping[str, str] | None = None) -> str | None:
    """The rule a folded, lower-case value matches, or None.

    Rules beyond the table: ``punctuation`` (no letter or digit at all), ``zeros``
    ("0", "000-000"), ``xxx`` (three or more x).

    >>> placeholder_rule("n/a"), placeholder_rule("00/00/0000"), placeholder_rule("smith")
    ('na', 'zeros', None)
    """
    heads = _heads_cache.get(id(extra))
    if heads is None or heads[0] is not extra:
        heads = _safe_heads(extra)
    if folded[:2] in heads[1]:  # most values are decided here, without building the key
        return None
    if len(folded) > 3 * _MAX_KEY:
        return None
    key = folded if folded.isalnum() and folded.isascii() else _NON_ALNUM_RE.sub("", folded)
    if not key:
        return "punctuation"
    if len(key) > _MAX_KEY:
        return None
    rule = _ANY.get(key)
    if rule is None and extra is not None:
        rule = extra.get(key)
    if rule is not None:
        return rule
    if not key.strip("0"):
        return "zeros"
    if len(key) >= 3 and not key.strip("x"):
        return "xxx"
    return None


_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
#: Two-character starts that no table key, "00..." (zeros) or "xx..." (xxx) has.
_HEADS = frozenset(a + b for a in _ALNUM for b in _ALNUM)
_heads_cache: dict[int, tuple[Mapping[str, str] | None, frozenset[str]]] = {}


def _safe_heads(
    extra: Mapping[str, str] | None,
) -> tuple[Mapping[str, str] | None, frozenset[str]]:
    """``(extra, starts of a value that rule it out as a placeholder)``, now cached.

    When a value's first two characters are in ``[a-z0-9]`` they are also its key's first
    two, and the key is at least two long; if no rule's key starts with them, no rule can
    match. Cached per ``extra`` table by id (tables are module constants; the entry keeps
    its table referenced, and is checked by identity, so an id is never misattributed).
    """
    keys = [*_ANY, *(extra or ())]
    unsafe = {k[:2] for k in keys} | {"00", "xx"}
    found = (extra, _HEADS - unsafe)
    if len(_heads_cache) >= 64:  # callers passing ad-hoc tables: stay bounded
        _heads_cache.clear()
    _heads_cache[id(extra)] = found
    return found


def safe_starts(extra: Mapping[str, str] | None = None) -> frozenset[str]:
    """Two-character starts that prove a value is neither empty nor a placeholder.

    ``check(folded, extra)`` does nothing when ``folded[:2]`` is in this set, so a hot
    normaliser can test that inline and skip the call for most values.
    """
    heads = _heads_cache.get(id(extra))
    if heads is None or heads[0] is not extra:
        heads = _safe_heads(extra)
    return heads[1]


def safe_start_table(extra: Mapping[str, str] | None = None) -> bytes:
    """:func:`safe_starts` as a table for compiled code: byte ``128 * ord(a) + ord(b)`` is 1
    when a value starting with ``ab`` (ASCII) is neither empty nor a placeholder."""
    table = bytearray(128 * 128)
    for start in safe_starts(extra):
        table[128 * ord(start[0]) + ord(start[1])] = 1
    return bytes(table)


def check(folded: str, extra: Mapping[str, str] | None = None) -> None:
    """Raise ``MissingValue`` when a folded, lower-case value is empty or a placeholder."""
    if not folded or folded.isspace():
        raise MissingValue("empty")
    rule = placeholder_rule(folded, extra)
    if rule is not None:
        raise MissingValue("placeholder", rule)


_ANY = table("any")
