"""BloomTable's vectorised filters equal FieldBloom's value-by-value definition, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import hashmatch.encode.bloom_table as bloom_table
from hashmatch.encode.bloom import FieldBloom
from hashmatch.encode.bloom_table import BloomTable
from hashmatch.encode.features import feature_tokens

_TEXT = st.text(alphabet="ab z0_@.é", min_size=0, max_size=8)
_DATE = st.builds(
    lambda y, m, d, parts: "-".join([f"{y:04d}", f"{m:02d}", f"{d:02d}"][:parts]),
    st.integers(1900, 2030),
    st.integers(1, 12),
    st.integers(1, 31),
    st.integers(1, 3),
)


def _pair(
    field_type: str, q: int, padding: bool, start: int, bits: int, k: int, even: int | None = None
):
    prefix, tokens = feature_tokens(field_type, q, padding)
    bloom = FieldBloom(bytes(range(32)), start=start, bits=bits, k=k, prefix=prefix,
                       tokens=tokens, even=even)
    reference = FieldBloom(
        bytes(range(32)), start=start, bits=bits, k=k, prefix=prefix, tokens=tokens, even=even
    )
    return BloomTable(bloom, field_type, q, padding), reference


def _expected(reference: FieldBloom, values: list[str | None]) -> np.ndarray:
    packed = b"".join(reference.packed(v) for v in values)
    words = reference.end_word - reference.first_word
    return np.frombuffer(packed, dtype="<u8").reshape(len(values), words)


@given(
    calls=st.lists(st.lists(st.one_of(st.none(), _TEXT), max_size=12), min_size=1, max_size=3),
    field_type=st.sampled_from(["name", "email", "postcode", "gender"]),
    q=st.integers(1, 5),
    padding=st.booleans(),
    start=st.integers(0, 100),
    bits=st.integers(8, 200),
    k=st.integers(1, 20),
)
def test_text_filters_match_field_bloom(calls, field_type, q, padding, start, bits, k) -> None:
    table, reference = _pair(field_type, q, padding, start, bits, k)
    for values in calls:  # several calls: remembered values and grams are reused
        np.testing.assert_array_equal(table.rows(values), _expected(reference, values))


@given(
    calls=st.lists(st.lists(st.one_of(st.none(), _TEXT), max_size=12), min_size=1, max_size=3),
    field_type=st.sampled_from(["name", "email", "address"]),
    q=st.integers(1, 4),
    padding=st.booleans(),
    k=st.integers(1, 12),
    even=st.integers(3, 20),
)
def test_even_fill_filters_match_field_bloom(calls, field_type, q, padding, k, even) -> None:
    """Even fill: each value's k follows its distinct grams, in the vectorised path too."""
    table, reference = _pair(field_type, q, padding, 5, 120, k, even)
    for values in calls:
        np.testing.assert_array_equal(table.rows(values), _expected(reference, values))


def test_even_fill_sets_about_the_same_bits_whatever_the_length() -> None:
    names = ["al", "bob", "eve", "jo", "annabelle", "christopher", "maximilian", "alexandra"]
    counts = {}
    for even in (None, 7):
        table, _ = _pair("name", 2, True, 0, 256, 11, even)
        bits = np.unpackbits(table.rows(names).view(np.uint8), axis=1)
        counts[even] = bits.sum(axis=1)
    plain, evened = counts[None], counts[7]
    assert plain.std() / plain.mean() > 0.3  # one k: popcount grows with length
    assert evened.std() / evened.mean() < 0.1  # k scaled by the gram count: about even


@given(calls=st.lists(st.lists(st.one_of(st.none(), _DATE), max_size=12), min_size=1, max_size=3))
def test_date_filters_match_field_bloom(calls) -> None:
    table, reference = _pair("date", 2, True, 37, 150, 9)
    for values in calls:
        np.testing.assert_array_equal(table.rows(values), _expected(reference, values))


_PHONE = st.one_of(
    st.text(alphabet="0123456789", min_size=10, max_size=10).map(lambda d: "+1" + d),
    st.sampled_from(["+442079460958", "+33142685300", "+1206555012"]),  # others: one by one
)


@given(
    calls=st.lists(st.lists(st.one_of(st.none(), _PHONE), max_size=12), min_size=1, max_size=3),
    q=st.integers(1, 4),
    padding=st.booleans(),
    even=st.sampled_from([None, 11]),
)
def test_phone_filters_match_field_bloom(calls, q, padding, even) -> None:
    """North American numbers take the q-gram path (cc:1 + grams of the ten digits)."""
    table, reference = _pair("phone", q, padding, 21, 140, 6, even)
    for values in calls:
        np.testing.assert_array_equal(table.rows(values), _expected(reference, values))


def test_memo_limits_keep_results_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bloom_table, "_MEMO_LIMIT", 5)
    table, reference = _pair("name", 2, True, 0, 128, 10)
    for values in (["ann", "bob", None], ["cy", "di", "ed", "flo", "gus"], ["ann", "zed"]):
        np.testing.assert_array_equal(table.rows(values), _expected(reference, values))
    table, reference = _pair("date", 2, True, 0, 128, 10)
    # the third call needs a remembered year and a new one while the memo is full
    for values in (["1951-11-04"], ["1951", "1952"], ["1951-02", "1953-02"]):
        np.testing.assert_array_equal(table.rows(values), _expected(reference, values))
