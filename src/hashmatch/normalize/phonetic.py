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
#: fold() gives ASCII: delete every ASCII character but a-z
_LETTERS_ONLY = {i: None for i in range(128) if not "a" <= chr(i) <= "z"}
_DIGITS = str.maketrans({**dict.fromkeys("aeiouy", "0"), **_CODES, "h": None, "w": None})


def soundex(name: str) -> str:
    """The 4-character American Soundex code of a name (letters only; others ignored).

    Follows the US National Archives rules: the first letter is kept, vowels separate
    repeated codes, ``h`` and ``w`` do not.

    >>> soundex("Robert"), soundex("Rupert"), soundex("Ashcraft"), soundex("Tymczak")
    ('R163', 'R163', 'A261', 'T522')
    >>> soundex("van der Berg") == soundex("vanderberg")
    True
    """
    letters = fold(name).translate(_LETTERS_ONLY)
    if not letters.isascii():  # fold() gives ASCII; should that change, stay correct
        letters = "".join(ch for ch in letters if "a" <= ch <= "z")
    if not letters:
        msg = "soundex needs a name with at least one letter"
        raise ValueError(msg)
    first = letters[0]
    out = first.upper()
    last = _CODES.get(first, "0")
    # After the first letter: each letter's digit, "0" for a vowel (it separates equal
    # codes), nothing for h and w (they do not); a digit is kept when it differs from the
    # one before it and is not "0".
    for digit in letters[1:].translate(_DIGITS):
        if digit != last:
            last = digit
            if digit != "0":
                out += digit
                if len(out) == 4:
                    return out
    return out.ljust(4, "0")
