"""Soundex codes for blocking keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.normalize import soundex


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Robert", "R163"),
        ("Rupert", "R163"),
        ("Rubin", "R150"),
        ("Ashcraft", "A261"),
        ("Ashcroft", "A261"),
        ("Tymczak", "T522"),
        ("Pfister", "P236"),
        ("Honeyman", "H555"),
        ("Lee", "L000"),
        ("Müller", "M460"),
        ("O'Brien", "O165"),
        ("van der Berg", "V536"),
    ],
)
def test_known_codes(name: str, code: str) -> None:
    assert soundex(name) == code


def test_no_letters() -> None:
    with pytest.raises(ValueError, match="letter"):
        soundex("123")


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=20))
def test_shape(name: str) -> None:
    code = soundex(name)
    assert len(code) == 4 and code[0] == name[0].upper() and code[1:].isdigit()
