"""The rule every party name obeys, wherever it enters (``encode --party``, ``keygen
--party``, ``synth --parties``, an ``.hme`` header read by ``link``).

A party name ends up in file names (``RESULTS/<party>.csv``), in CSV cells that parties
open in spreadsheets, in key files and in terminal output. So it must be non-empty, at most
:data:`MAX_LENGTH` characters, printable (no newline, tab or other control, no bidi
override such as U+202E, no zero-width character: :meth:`str.isprintable` rules these out),
without leading or trailing spaces, without ``/`` or ``\\``, not ``.`` or ``..``, and must not
start with ``=``, ``+``, ``-`` or ``@`` (a spreadsheet would run such a cell as a formula).
Messages say which rule failed, never the name itself (it may be malformed or hostile).
"""

from __future__ import annotations

from hashmatch.errors import PartyNameError

__all__ = ["MAX_LENGTH", "check_party_name", "party_name_problem"]

#: Longest party name accepted (it becomes a file name, limited to 255 bytes on most systems).
MAX_LENGTH = 100
_FORMULA_START = "=+-@"


def party_name_problem(name: object) -> str | None:
    """Why ``name`` is not a valid party name, or None when it is.

    Example
    -------
    >>> party_name_problem("crm") is None
    True
    >>> party_name_problem("=HYPERLINK(1)")
    'must not start with = + - @ (a spreadsheet would run it as a formula)'
    """
    if not isinstance(name, str) or not name:
        return "must not be empty"
    if len(name) > MAX_LENGTH:
        return f"must be at most {MAX_LENGTH} characters, got {len(name)}"
    if not name.isprintable():
        return "must be printable text (no newline, tab, control or bidi character)"
    if name != name.strip():
        return "must not start or end with a space"
    if "/" in name or "\\" in name or name in (".", ".."):
        return "must not contain a path separator or be . or .."
    if name[0] in _FORMULA_START:
        return "must not start with = + - @ (a spreadsheet would run it as a formula)"
    return None


def check_party_name(name: object, *, where: str = "--party") -> str:
    """Return ``name`` if it is a valid party name; else raise :class:`PartyNameError`.

    ``where`` names the source in the message (an option, or a file whose header holds it).
    """
    problem = party_name_problem(name)
    if problem is not None:
        raise PartyNameError(
            f"{where}: the party name {problem}",
            hint="use a short plain name such as crm, call-centre or partner_2",
        )
    assert isinstance(name, str)
    return name
