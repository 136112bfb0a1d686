"""Spreadsheet-safe CSV cells: the one rule every CSV file hashmatch writes follows.

A cell starting with ``=``, ``+``, ``-``, ``@``, TAB or CR is run as a formula by common
spreadsheets (CSV injection). Such a cell is written with a leading apostrophe, which
spreadsheets show as text; a cell already starting with an apostrophe gets one more, so
the rule is reversible and :func:`unescape_cell` recovers the exact text. Plain numbers
(``-5``, ``+44123``, ``1e-3``) are no formula and stay as they are.

Hex tokens, entity ids (``E000001``) and run ids never need it; record ids (the party's
own ids, in the lookup and the reveal output) and column names (in the rejects report) may.
Readers of hashmatch's own CSV files (:mod:`hashmatch.lookup`, :mod:`hashmatch.reveal`) call
:func:`unescape_cell` on those cells.
"""

from __future__ import annotations

import re

__all__ = ["csv_field", "needs_escape", "safe_cell", "unescape_cell"]

_RISKY_START = ("=", "+", "-", "@", "\t", "\r", "'")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def needs_escape(text: str) -> bool:
    """True when :func:`safe_cell` would change ``text``."""
    return text.startswith(_RISKY_START) and _NUMBER.fullmatch(text) is None


def safe_cell(text: str) -> str:
    """``text`` made safe to open in a spreadsheet (see the module docstring).

    Example
    -------
    >>> safe_cell("=HYPERLINK(1)"), safe_cell("-5"), safe_cell("'x"), safe_cell("crm")
    ("'=HYPERLINK(1)", '-5', "''x", 'crm')
    """
    return "'" + text if needs_escape(text) else text


def unescape_cell(text: str) -> str:
    """Undo :func:`safe_cell`: ``unescape_cell(safe_cell(t)) == t`` for every ``t``.

    Example
    -------
    >>> unescape_cell("'=HYPERLINK(1)"), unescape_cell("''x"), unescape_cell("-5")
    ('=HYPERLINK(1)', "'x", '-5')
    """
    return text[1:] if text.startswith("'") else text


def csv_field(text: str) -> str:
    """``text`` as one spreadsheet-safe CSV field, quoted when CSV requires it.

    Example
    -------
    >>> print(csv_field('say "hi", Bob'), csv_field("@x"))
    "say ""hi"", Bob" '@x
    """
    text = safe_cell(text)
    if any(c in text for c in ',"\r\n') or text != text.strip():
        return '"' + text.replace('"', '""') + '"'
    return text
