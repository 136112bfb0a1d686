"""Postcode / ZIP normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.normalize import ColumnSource, InvalidValue, MissingValue, make_normalizer

SRC = ColumnSource(("postcode",))
PLAIN = make_normalizer("postcode", {}, SRC)
ZIP5 = make_normalizer("postcode", {"zip5": True}, SRC)
GB = make_normalizer("postcode", {"country": "GB"}, SRC)


@pytest.mark.parametrize(
    ("norm", "raw", "canonical"),
    [
        (PLAIN, " sw1a 1aa ", "SW1A1AA"),
        (PLAIN, "12345-6789", "123456789"),
        (ZIP5, "12345-6789", "12345"),
        (ZIP5, "12345 6789", "12345"),
        (ZIP5, "123456789", "12345"),
        (ZIP5, "02134", "02134"),
        (PLAIN, "1012 AB", "1012AB"),
        (PLAIN, "k1a 0b1", "K1A0B1"),
        (GB, "EC1A 1BB", "EC1A1BB"),
        (PLAIN, "７５００１", "75001"),  # full-width digits
    ],
)
def test_canonical_postcodes(norm, raw: str, canonical: str) -> None:
    assert norm(raw) == canonical


@pytest.mark.parametrize(
    ("norm", "raw", "reason"),
    [
        (PLAIN, "London", "postcode.syntax"),
        (PLAIN, "12", "postcode.syntax"),
        (PLAIN, "SW1A#1AA", "postcode.syntax"),
        (PLAIN, "12345678901", "postcode.syntax"),
        (GB, "12345", "postcode.country"),
    ],
)
def test_invalid_postcodes(norm, raw: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as info:
        norm(raw)
    assert info.value.reason == reason


def test_placeholders() -> None:
    for raw, pattern in (("00000", "zeros"), ("N/A", "na"), ("", None)):
        with pytest.raises(MissingValue) as info:
            PLAIN(raw)
        assert info.value.pattern == pattern


def test_unknown_country_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="country"):
        make_normalizer("postcode", {"country": "XX"}, SRC)


@given(st.text(max_size=15))
def test_idempotent_and_only_outcome_exceptions(raw: str) -> None:
    for norm in (PLAIN, ZIP5, GB):
        try:
            out = norm(raw)
        except (MissingValue, InvalidValue):
            continue
        assert out.isalnum() and out == out.upper() and norm(out) == out
