"""The prepared keyed hashes equal their reference definitions, output for output."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.encode.bloom import FieldBloom, feature_positions
from hashmatch.encode.prf import BloomPositions, HmacSha256
from hashmatch.encode.tokens import exact_token, frame, match_key_token

_TEXT = st.text(max_size=40)


@given(key=st.binary(min_size=0, max_size=100), values=st.lists(_TEXT, max_size=5))
def test_exact_tokens_equal_the_reference(key: bytes, values: list[str]) -> None:
    prf = HmacSha256(key)
    for value in values:
        assert prf.token(value.encode("utf-8")) == exact_token(key, value)


@given(key=st.binary(min_size=32, max_size=32), parts=st.lists(_TEXT, min_size=1, max_size=4))
def test_match_key_tokens_equal_the_reference(key: bytes, parts: list[str]) -> None:
    message = b"".join(map(frame, parts))
    assert HmacSha256(key).token(message) == match_key_token(key, parts)


@given(
    features=st.lists(_TEXT.filter(bool), max_size=6),
    k=st.integers(1, 30),
    bits=st.integers(1, 300),
    start=st.integers(0, 200),
)
def test_bloom_positions_equal_the_reference(
    features: list[str], k: int, bits: int, start: int
) -> None:
    key = bytes(range(32))
    reference = FieldBloom(key, start=start, bits=bits, k=k, prefix="", tokens=lambda v: (v,))
    words = reference.end_word - reference.first_word
    rows = BloomPositions(key, k=k, bits=bits, offset=start % 64, words=words).rows(features)
    for feature, row in zip(features, rows, strict=True):
        expected = np.frombuffer(reference.packed(feature), dtype="<u8")
        np.testing.assert_array_equal(row, expected)
        assert len(set(feature_positions(key, feature, k, bits))) == sum(
            bin(int(w)).count("1") for w in row
        )
