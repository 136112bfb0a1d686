"""Generic text, identifiers and gender codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.normalize import ColumnSource, InvalidValue, MissingValue, make_normalizer

SRC = ColumnSource(("c",))
TEXT = make_normalizer("text", {}, SRC)
ID = make_normalizer("id", {}, SRC)
GENDER = make_normalizer("gender", {}, SRC)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("  Hello,   World! ", "hello world"),
        ("Crème Brûlée Ltd.", "creme brulee ltd"),
        ("O'Reilly & Sons", "oreilly sons"),
        ("Line\none\ttab", "line one tab"),
    ],
)
def test_text(raw: str, canonical: str) -> None:
    assert TEXT(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [("AB-123 456", "ab123456"), (" 0012/34 ", "001234"), ("ÄB.12", "ab12")],
)
def test_id(raw: str, canonical: str) -> None:
    assert ID(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("F", "f"),
        ("female", "f"),
        ("Woman", "f"),
        ("w", "f"),
        ("girl", "f"),
        ("M", "m"),
        ("Male", "m"),
        ("man", "m"),
        ("boy", "m"),
        ("X", "x"),
        ("other", "x"),
        ("Non-Binary", "x"),
        ("diverse", "x"),
    ],
)
def test_gender(raw: str, code: str) -> None:
    assert GENDER(raw) == code


@pytest.mark.parametrize("raw", ["unknown", "Not stated", "U", "prefer not to say", ""])
def test_gender_missing(raw: str) -> None:
    with pytest.raises(MissingValue):
        GENDER(raw)


@pytest.mark.parametrize("raw", ["q", "1", "mf", "femal"])
def test_gender_unknown_codes_are_invalid_not_guessed(raw: str) -> None:
    with pytest.raises(InvalidValue) as info:
        GENDER(raw)
    assert info.value.reason == "gender.unknown_code"


@given(st.text(max_size=30))
def test_idempotent_and_only_outcome_exceptions(raw: str) -> None:
    for norm in (TEXT, ID, GENDER):
        try:
            out = norm(raw)
        except (MissingValue, InvalidValue):
            continue
        assert norm(out) == out
        assert out.isascii() and out == " ".join(out.split())
