"""Exact tokens and match keys: keyed HMAC, unambiguous parts, transforms, missing."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.encode.tokens import MISSING_TOKEN, exact_token, match_key_token, transform
from hashmatch.normalize import date_components

KEY = bytes(range(32))


def test_exact_token_is_truncated_hmac_sha256() -> None:
    want = hmac.new(KEY, b"jane@example.org", hashlib.sha256).digest()[:16]
    assert exact_token(KEY, "jane@example.org") == want
    assert len(want) == 16 and want != MISSING_TOKEN


def test_exact_token_depends_on_key_and_value() -> None:
    assert exact_token(KEY, "a") != exact_token(bytes(32), "a")
    assert exact_token(KEY, "a") != exact_token(KEY, "b")


def test_match_key_parts_are_length_prefixed() -> None:
    assert match_key_token(KEY, ["ab", "c"]) != match_key_token(KEY, ["a", "bc"])
    assert match_key_token(KEY, ["ab", ""]) != match_key_token(KEY, ["", "ab"])
    msg = b"\0\0\0\x05smith\0\0\0\x0a1951-11-04"
    assert (
        match_key_token(KEY, ["smith", "1951-11-04"])
        == hmac.new(KEY, msg, hashlib.sha256).digest()[:16]
    )


@pytest.mark.parametrize(
    ("value", "how", "want"),
    [
        ("1951-11-04", "year", "1951"),
        ("1951-11-04", "month", "11"),
        ("1951-11-04", "day", "04"),
        ("1951", "month", None),
        ("1951-11", "day", None),
        ("not a date", "year", None),
        ("van dyke", "initial", "v"),
        ("van dyke", "prefix3", "van"),
        ("jo", "prefix3", "jo"),
        ("robert", "soundex", "R163"),
        ("rupert", "soundex", "R163"),
        ("1234", "soundex", None),
        ("smith", None, "smith"),
    ],
)
def test_transforms(value: str, how: str | None, want: str | None) -> None:
    assert transform(value, how) == want


def test_unknown_transform_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown match-key transform"):
        transform("x", "reverse")


@given(
    year=st.integers(0, 9999),
    month=st.integers(0, 99),
    day=st.integers(0, 99),
    length=st.sampled_from([4, 7, 10]),
    how=st.sampled_from(["year", "month", "day"]),
)
def test_date_parts_read_in_place_equal_date_components(
    year: int, month: int, day: int, length: int, how: str
) -> None:
    canonical = f"{year:04d}-{month:02d}-{day:02d}"[:length]
    parts = dict(zip(("year", "month", "day"), date_components(canonical), strict=True))
    value = parts[how]
    assert transform(canonical, how) == (None if value is None else f"{value:02d}")
