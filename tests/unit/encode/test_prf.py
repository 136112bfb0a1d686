"""The prepared keyed hashes equal their reference definitions, output for output."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.encode import prf
from hashmatch.encode.bloom import FieldBloom, feature_positions
from hashmatch.encode.libcrypto import _loaded_libcrypto
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


_MESSAGES = st.lists(st.binary(max_size=150) | _TEXT, max_size=12)


@given(key=st.binary(min_size=0, max_size=100), messages=_MESSAGES)
def test_batched_tokens_equal_one_token_at_a_time(key: bytes, messages: list[bytes | str]) -> None:
    """Compiled or not, ``tokens`` is the concatenated ``token`` of each message (text as
    UTF-8), for keys shorter and longer than a block and messages across block edges."""
    one_by_one = b"".join(
        HmacSha256(key).token(m.encode("utf-8") if isinstance(m, str) else m) for m in messages
    )
    assert HmacSha256(key).tokens(messages) == one_by_one  # type: ignore[arg-type]
    assert HmacSha256(key, compiled=False).tokens(messages) == one_by_one  # type: ignore[arg-type]


def test_openssl_is_found_where_python_links_it_shared() -> None:
    """On Linux with a shared libcrypto behind hashlib (this project's CI), the compiled
    path is in use: a silent fall-back to Python would only show as a slower encode."""
    if not sys.platform.startswith("linux") or _loaded_libcrypto() is None:
        pytest.skip("hashlib's OpenSSL is not a shared library here")  # not on CI's Linux
    assert HmacSha256(b"key")._compiled is not None


def test_without_openssl_functions_tokens_come_from_hashlib(monkeypatch) -> None:
    monkeypatch.setattr(prf, "sha256_functions", lambda: None)
    prf._checked_sha256.cache_clear()
    try:
        fallback = HmacSha256(b"key")
        assert fallback._compiled is None
        assert fallback.tokens([b"a", "b"]) == exact_token(b"key", "a") + exact_token(b"key", "b")
    finally:
        prf._checked_sha256.cache_clear()


def test_compiled_tokens_refuse_what_is_not_a_message() -> None:
    with pytest.raises(TypeError, match="bytes or str"):
        HmacSha256(b"key").tokens([b"a", 7])  # type: ignore[list-item]


def test_without_the_extension_tokens_come_from_hashlib(monkeypatch) -> None:
    """A source tree never built (no ``_hmac``): hashlib, same tokens."""
    monkeypatch.setattr(prf, "CompiledHmac", None)
    prf._checked_sha256.cache_clear()
    try:
        fallback = HmacSha256(b"key")
        assert fallback._compiled is None
        assert fallback.tokens(["a"]) == exact_token(b"key", "a")
    finally:
        prf._checked_sha256.cache_clear()
