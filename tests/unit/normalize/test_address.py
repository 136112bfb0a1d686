"""Address normalisation: abbreviations in context, house numbers, punctuation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.normalize import ColumnSource, InvalidValue, MissingValue, make_normalizer

SRC = ColumnSource(("address",))
ADDR = make_normalizer("address", {}, SRC)
KEEP = make_normalizer("address", {"abbreviations": False}, SRC)


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("123 Main St.", "123 main street"),
        ("123 MAIN STREET", "123 main street"),
        ("12 St Kilda Rd", "12 saint kilda road"),
        ("St Kilda Rd", "saint kilda road"),
        ("1 Rue St Denis", "1 rue saint denis"),
        ("Main St Springfield", "main street springfield"),
        ("Flat 2, St John's Wood Rd", "flat 2 saint johns wood road"),
        ("12B Oak Dr", "12b oak drive"),
        ("Dr Martin Luther King Jr Blvd", "doctor martin luther king jr boulevard"),
        ("Apt. 4, 55 N. Elm Ave", "apartment 4 55 north elm avenue"),
        ("Apt E, 3 High St", "apartment e 3 high street"),  # a unit letter, not East
        ("Unit 3/45 Smith Cres", "unit 3 45 smith crescent"),
        ("7 Ocean Hwy, Ste 200", "7 ocean highway suite 200"),
        ("4 The Tce", "4 the terrace"),
        ("PO Box 12", "post office box 12"),
        ("Straße des 17. Juni 1", "strasse des 17 juni 1"),
    ],
)
def test_canonical_addresses(raw: str, canonical: str) -> None:
    assert ADDR(raw) == canonical


def test_abbreviations_can_be_switched_off() -> None:
    assert KEEP("123 Main St.") == "123 main st"


def test_placeholders() -> None:
    for raw, pattern in (("N/A", "na"), ("--", "punctuation"), ("unknown", "unknown")):
        with pytest.raises(MissingValue) as info:
            ADDR(raw)
        assert info.value.pattern == pattern


addresses = st.lists(
    st.sampled_from(
        [
            "12",
            "3b",
            "st",
            "St.",
            "dr",
            "n",
            "e",
            "apt",
            "flat",
            "u",
            "main",
            "kilda",
            "rd",
            "rue",
            "po",
            "box",
            "#",
            ",",
            "ste",
            "saint",
            "street",
            "O'Neil",
            "é",
        ]
    ),
    max_size=8,
).map(" ".join)


@given(st.one_of(addresses, st.text(max_size=30)))
def test_idempotent_and_only_outcome_exceptions(raw: str) -> None:
    for norm in (ADDR, KEEP):
        try:
            out = norm(raw)
        except (MissingValue, InvalidValue):
            continue
        assert norm(out) == out
        assert all(ch.isascii() and (ch.isalnum() or ch == " ") for ch in out)
