"""Name normalisation: folding, affixes, particles, splitting, nicknames."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.normalize import (
    ColumnSource,
    FullName,
    InvalidValue,
    MissingValue,
    make_normalizer,
    split_full_name,
)
from hashmatch.normalize.names import nickname_table

PLAIN = make_normalizer("name", {}, ColumnSource(columns=("name",)))
NICK = make_normalizer("name", {"nicknames": True}, ColumnSource(columns=("name",)))


def part(which: str, order: str = "auto"):
    return make_normalizer("name", {}, ColumnSource(("n",), part=which, name_order=order))


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("  DR. José  O'Brien-Smith Jr. ", "jose obrien smith"),
        ("Müller", "muller"),
        ("Æsa", "aesa"),
        ("\ufb01ona", "fiona"),  # the "fi" ligature
        ("ＪＯＨＮ", "john"),  # full-width
        ("O’Brien", "obrien"),  # curly apostrophe
        ("Smith, John A.", "john a smith"),  # "Last, First" put in first-last order
        ("van der Berg", "vanderberg"),
        ("Van Der Berg", "vanderberg"),
        ("Vanderberg", "vanderberg"),
        ("MacDonald", "macdonald"),
        ("Mac Donald", "macdonald"),
        ("St. John", "saintjohn"),
        ("Saint John", "saintjohn"),
        ("Mary-Jane", "mary jane"),
        ("Mary   Jane", "mary jane"),
        ("Prof. Dr. Hans Meier III", "hans meier"),
        ("John Smith, PhD", "john smith"),
        ("John Smith 3rd", "john smith"),
        ("Lord", "lord"),  # a lone title-word is a surname, not removed
        ("Jr", "jr"),
        ("Drew", "drew"),  # titles only as whole tokens
        ("Esquivel", "esquivel"),
        ("李小龙", "lixiaolong"),
        ("José 😀", "jose"),  # symbols are dropped, not spelt out
    ],
)
def test_canonical_names(raw: str, canonical: str) -> None:
    assert PLAIN(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "reason", "pattern"),
    [
        ("", "empty", None),
        ("   \t ", "empty", None),
        ("N/A", "placeholder", "na"),
        ("unknown", "placeholder", "unknown"),
        ("Mr. Unknown", "placeholder", "unknown"),  # revealed once the title is gone
        ("FNU", "placeholder", "name_unknown"),
        ("xxx", "placeholder", "xxx"),
        ("--", "placeholder", "punctuation"),
    ],
)
def test_missing_names(raw: str, reason: str, pattern: str | None) -> None:
    with pytest.raises(MissingValue) as info:
        PLAIN(raw)
    assert (info.value.reason, info.value.pattern) == (reason, pattern)


def test_name_without_letters_is_invalid() -> None:
    with pytest.raises(InvalidValue) as info:
        PLAIN("12345")
    assert info.value.reason == "name.no_letters"


@pytest.mark.parametrize(
    ("raw", "order", "expected"),
    [
        ("  DR. José  O'Brien-Smith Jr. ", "auto", FullName("jose", None, "obrien smith")),
        ("Smith, John A.", "auto", FullName("john", "a", "smith")),
        ("Smith, John, Jr.", "auto", FullName("john", None, "smith")),
        ("John Smith, Jr.", "auto", FullName("john", None, "smith")),
        ("van der Berg, Jan Pieter", "auto", FullName("jan", "pieter", "vanderberg")),
        ("Berg, Jan van der", "auto", FullName("jan", None, "vanderberg")),
        ("Ludwig van Beethoven", "first_last", FullName("ludwig", None, "vanbeethoven")),
        ("Maria del Carmen Garcia", "auto", FullName("maria", "delcarmen", "garcia")),
        ("Smith John Andrew", "last_first", FullName("john", "andrew", "smith")),
        ("van der Berg Jan", "last_first", FullName("jan", None, "vanderberg")),
        ("Madonna", "first_last", FullName("madonna", None, None)),
        ("Madonna", "last_first", FullName(None, None, "madonna")),
    ],
)
def test_split_full_name(raw: str, order: str, expected: FullName) -> None:
    assert split_full_name(raw, order) == expected  # type: ignore[arg-type]


def test_part_normalizer_takes_one_part_and_reports_a_missing_part() -> None:
    assert part("first")("Smith, John A.") == "john"
    assert part("middle")("Smith, John A.") == "a"
    assert part("last")("Smith, John A.") == "smith"
    assert part("last", "first_last")("John A. Smith") == "smith"
    with pytest.raises(MissingValue) as info:
        part("middle")("John Smith")
    assert info.value.reason == "empty"


def test_both_orders_of_a_full_name_agree() -> None:
    assert PLAIN("Smith, John") == PLAIN("John Smith")
    assert PLAIN("Berg, Jan van der") == PLAIN("Jan van der Berg")


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Bill", "william"),
        ("Billy", "william"),
        ("Peggy", "margaret"),
        ("Bob", "robert"),
        ("Jim", "james"),
        ("Jack", "john"),
        ("Liz", "elizabeth"),
        ("William", "william"),
        ("John", "john"),  # a canonical name is never mapped
        ("Mary", "mary"),
        ("Zebedee", "zebedee"),  # unknown names pass through
    ],
)
def test_nicknames(raw: str, canonical: str) -> None:
    assert NICK(raw) == canonical


def test_nicknames_are_off_by_default() -> None:
    assert PLAIN("Bill") == "bill"


def test_nickname_table_maps_to_fixed_points() -> None:
    table = nickname_table()
    assert len(table) > 500
    assert all(target not in table for target in table.values())
    assert all(name.isalpha() and target.isalpha() for name, target in table.items())


names_text = st.text(
    alphabet=st.sampled_from(list("abcdeéøßÆ ',.-_MrDJvandel0123😀\ufb01")), max_size=30
)


def _outcome(norm, raw):
    try:
        return norm(raw)
    except (MissingValue, InvalidValue) as exc:
        return type(exc), exc.args


@given(names_text)
def test_idempotent(raw: str) -> None:
    for norm in (PLAIN, NICK):
        first = _outcome(norm, raw)
        if isinstance(first, str):
            assert norm(first) == first


@given(st.text(max_size=40))
def test_only_outcome_exceptions_on_any_text(raw: str) -> None:
    for norm in (PLAIN, NICK, part("first"), part("middle"), part("last", "last_first")):
        result = _outcome(norm, raw)
        assert isinstance(result, str | tuple)
        if isinstance(result, str):
            assert result == " ".join(result.split())
            assert all("a" <= ch <= "z" or ch == " " for ch in result)
