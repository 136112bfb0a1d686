"""Phone normalisation: E.164 with a per-party region, never guessed."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.normalize import ColumnSource, InvalidValue, MissingValue, make_normalizer


def phone(region: str | None):
    return make_normalizer("phone", {}, ColumnSource(("tel",), phone_region=region))


GB, US, NONE = phone("GB"), phone("US"), phone(None)


@pytest.mark.parametrize(
    ("norm", "raw", "canonical"),
    [
        (GB, "020 7946 0018", "+442079460018"),
        (GB, "+44 (0)20 7946 0018", "+442079460018"),
        (GB, "0044 20 7946 0018", "+442079460018"),
        (US, "(650) 253-0000", "+16502530000"),
        (US, "650.253.0000 ext. 12", "+16502530000"),
        (US, "+49 30 901820", "+4930901820"),  # an explicit country beats the region
        (NONE, "+1 650 253 0000", "+16502530000"),
        (GB, "０２０ ７９４６ ００１８", "+442079460018"),  # full-width digits
    ],
)
def test_canonical_phones(norm, raw: str, canonical: str) -> None:
    assert norm(raw) == canonical


@pytest.mark.parametrize(
    ("norm", "raw", "reason"),
    [
        (NONE, "020 7946 0018", "phone.no_region"),
        (GB, "020 7946 001", "phone.invalid"),
        (US, "12", "phone.invalid"),
        (GB, "call me", "phone.unparseable"),
        (GB, "+999 1234 5678", "phone.unparseable"),
    ],
)
def test_invalid_phones(norm, raw: str, reason: str) -> None:
    with pytest.raises(InvalidValue) as info:
        norm(raw)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("raw", "pattern"),
    [
        ("000-000-0000", "zeros"),
        ("(555) 555-5555", "repeated_digit"),
        ("1234567890", "sequence"),
        ("+1 987 654 3210", "sequence"),
        ("n/a", "na"),
        ("-", "punctuation"),
    ],
)
def test_placeholders(raw: str, pattern: str) -> None:
    with pytest.raises(MissingValue) as info:
        US(raw)
    assert info.value.pattern == pattern


def test_unknown_region_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="phone_region"):
        phone("XX")


@given(st.text(alphabet="+0123456789 ()-.extabc", max_size=25))
def test_only_outcome_exceptions_and_e164(raw: str) -> None:
    for norm in (GB, NONE):
        try:
            out = norm(raw)
        except (MissingValue, InvalidValue):
            continue
        assert out.startswith("+") and out[1:].isdigit() and norm(out) == out
