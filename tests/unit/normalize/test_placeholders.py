"""Shared placeholder rules."""

from __future__ import annotations

import pytest

from hashmatch.normalize import ColumnSource, MissingValue, make_normalizer
from hashmatch.normalize.placeholders import check, placeholder_rule


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("n/a", "na"),
        ("na", "na"),
        ("n.a.", "na"),
        ("#n/a", "na"),
        ("none", "none"),
        ("null", "none"),
        ("nil", "none"),
        ("(null)", "none"),
        ("unknown", "unknown"),
        ("unk", "unknown"),
        ("not known", "unknown"),
        ("-", "punctuation"),
        ("--", "punctuation"),
        ("?", "punctuation"),
        ("tbd", "tbd"),
        ("not provided", "not_provided"),
        ("refused", "not_provided"),
        ("xxx", "xxx"),
        ("xxxxxx", "xxx"),
        ("0", "zeros"),
        ("000-000", "zeros"),
    ],
)
def test_rules(value: str, rule: str) -> None:
    assert placeholder_rule(value) == rule


@pytest.mark.parametrize("value", ["smith", "x", "xx", "nathan", "0800", "a" * 200, "-" * 200])
def test_not_placeholders(value: str) -> None:
    assert placeholder_rule(value) is None


def test_empty_is_not_a_placeholder() -> None:
    for value in ("", "   ", "\t\n"):
        with pytest.raises(MissingValue) as info:
            check(value)
        assert (info.value.reason, info.value.pattern) == ("empty", None)


@pytest.mark.parametrize(
    "field_type", ["name", "email", "phone", "date", "postcode", "address", "gender", "text", "id"]
)
@pytest.mark.parametrize(
    ("raw", "pattern"), [(" N/A ", "na"), ("NULL", "none"), ("?", "punctuation")]
)
def test_every_type_shares_the_rules(field_type: str, raw: str, pattern: str) -> None:
    norm = make_normalizer(field_type, {}, ColumnSource(("c",), phone_region="GB"))
    with pytest.raises(MissingValue) as info:
        norm(raw)
    assert (info.value.reason, info.value.pattern) == ("placeholder", pattern)
    with pytest.raises(MissingValue) as info:
        norm("  \u00a0 ")
    assert info.value.reason == "empty"
