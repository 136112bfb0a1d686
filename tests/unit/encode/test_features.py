"""Feature extraction per field type: q-grams, date components, phone digits, namespaces."""

from __future__ import annotations

from hashmatch.encode.features import (
    date_features,
    feature_function,
    feature_tokens,
    phone_features,
    qgrams,
)


def test_padded_qgrams() -> None:
    assert qgrams("ann", 2, True) == ("q:_a", "q:an", "q:nn", "q:n_")
    assert qgrams("anna", 2, False) == ("q:an", "q:nn", "q:na")
    assert qgrams("ab", 3, True) == ("q:__a", "q:_ab", "q:ab_", "q:b__")
    assert qgrams("a", 3, False) == ("q:a",)


def test_qgrams_are_distinct() -> None:
    assert qgrams("aaaa", 2, False) == ("q:aa",)


def test_year_only_date_shares_the_year_with_a_full_date() -> None:
    full, year = set(date_features("1951-11-04")), set(date_features("1951"))
    assert year <= full and year == {"y:1951"}
    assert set(date_features("1951-11")) == {"y:1951", "m:11"}


def test_day_month_swap_keeps_the_unordered_pair() -> None:
    a, b = set(date_features("1980-03-04")), set(date_features("1980-04-03"))
    assert a & b == {"y:1980", "dm:03/04"}


def test_phone_features_use_national_digits_and_country_code() -> None:
    au = phone_features("+61412345678", 2, True)
    assert au[0] == "cc:61"
    assert "q:41" in au and "q:_4" in au
    gb = phone_features("+44412345678", 2, True)
    assert set(au[1:]) == set(gb[1:]) and au[0] != gb[0]


def test_features_are_namespaced_by_kind() -> None:
    assert not set(date_features("1951")) & set(qgrams("1951", 4, False))
    assert feature_function("gender", 2, True)("f") == ("g:f",)
    assert feature_function("name", 2, True)("jo") == ("q:_j", "q:jo", "q:o_")
    assert feature_function("date", 2, True)("1951") == ("y:1951",)


def test_token_form_gives_the_same_features() -> None:
    for ftype, value in [
        ("name", "anna maria"),
        ("email", "a.b@c.io"),
        ("date", "1951-11-04"),
        ("phone", "+61412345678"),
        ("gender", "f"),
        ("id", "ab"),
    ]:
        for q, padding in [(2, True), (3, False), (4, True)]:
            prefix, tokens = feature_tokens(ftype, q, padding)
            assert {prefix + t for t in tokens(value)} == set(
                feature_function(ftype, q, padding)(value)
            )
