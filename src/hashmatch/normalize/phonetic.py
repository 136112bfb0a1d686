"""American Soundex, for coarse blocking keys such as soundex(surname) + birth year.

Soundex is a deliberately lossy code ("Robert" and "Rupert" are both R163); it is used
only to *propose* candidate pairs, never as evidence that two records match.
"""

from __future__ import annotations

from hashmatch.normalize._base import fold

_CODES = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}


def soundex(name: str) -> str:
    """The 4-character American Soundex code of a name (letters only; others ignored).

    Follows the US National Archives rules: the first letter is kept, vowels separate
    repeated codes, ``h`` and ``w`` do not.

    >>> soundex("Robert"), soundex("Rupert"), soundex("Ashcraft"), soundex("Tymczak")
    ('R163', 'R163', 'A261', 'T522')
    >>> soundex("van der Berg") == soundex("vanderberg")
    True
    """
    letters = [ch for ch in fold(name) if "a" <= ch <= "z"]
    if not letters:
        msg = "soundex needs a name with at least one letter"
        raise ValueError(msg)
    first = letters[0]
    out = [first.upper()]
    last = _CODES.get(first, "")
    for ch in letters[1:]:
        code = _CODES.get(ch, "")
        if code and code != last:
            out.append(code)
            if len(out) == 4:
                break
        if ch not in "hw":  # h and w do not separate equal codes; vowels do
            last = code
    return "".join(out).ljust(4, "0")
