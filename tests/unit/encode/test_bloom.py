"""Keyed Bloom positions: independent, in range, uniform, memoised; packing into CLK words."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from hashmatch.encode.bloom import FieldBloom, feature_positions
from hashmatch.encode.features import feature_function, feature_tokens

KEY = bytes(range(32))


def test_positions_are_the_keyed_blake2b_words_mod_bits() -> None:
    digest = hashlib.blake2b(b"q:an", key=KEY, digest_size=64, salt=bytes(16)).digest()
    words = [int.from_bytes(digest[8 * i : 8 * i + 8], "little") for i in range(8)]
    assert feature_positions(KEY, "q:an", 8, 1000) == [w % 1000 for w in words]


def test_more_than_eight_positions_use_further_digests() -> None:
    p = feature_positions(KEY, "q:an", 20, 1 << 16)
    assert len(p) == 20
    assert p[:8] == feature_positions(KEY, "q:an", 8, 1 << 16)
    assert len(set(p)) == 20  # 20 draws from 65536: distinct with near certainty


def test_positions_depend_on_the_key() -> None:
    a = feature_positions(KEY, "q:an", 8, 1 << 20)
    b = feature_positions(bytes(32), "q:an", 8, 1 << 20)
    assert not set(a) & set(b)


def test_positions_are_in_range_and_roughly_uniform() -> None:
    bits = 97
    counts = np.zeros(bits)
    for i in range(3000):
        p = feature_positions(KEY, f"q:{i}", 4, bits)
        assert min(p) >= 0 and max(p) < bits
        np.add.at(counts, p, 1)
    expected = 3000 * 4 / bits
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 200  # 96 degrees of freedom: mean 96, sd ~14


def test_not_double_hashing() -> None:
    """With double hashing, position gaps are constant mod bits; ours are not."""
    p = feature_positions(KEY, "q:xy", 8, 1021)
    gaps = {(b - a) % 1021 for a, b in zip(p, p[1:], strict=False)}
    assert len(gaps) > 1


@pytest.fixture
def bloom() -> FieldBloom:
    prefix, tokens = feature_tokens("name", 2, True)
    return FieldBloom(KEY, start=100, bits=60, k=5, prefix=prefix, tokens=tokens)


def test_packed_value_matches_its_positions(bloom: FieldBloom) -> None:
    packed = bloom.packed("anna")
    assert (bloom.first_word, bloom.end_word) == (1, 3) and len(packed) == 16
    bits = np.unpackbits(np.frombuffer(packed, np.uint8), bitorder="little")
    positions = bloom.positions("anna")
    assert [64 + int(i) for i in np.flatnonzero(bits)] == positions
    assert all(100 <= p < 160 for p in positions)
    features = feature_function("name", 2, True)("anna")
    expected = {100 + p for f in features for p in feature_positions(KEY, f, 5, 60)}
    assert set(positions) == expected
    assert bloom.packed("anna") is packed  # memoised
    assert bloom.packed(None) == bytes(16)


def test_or_into_sets_each_rows_value(bloom: FieldBloom) -> None:
    clks = np.zeros((3, 4), dtype=np.uint64)
    clks[:, 0] = 7  # other fields' bits stay
    bloom.or_into(clks, np.array([1, 0, 1]), ["anna", None])
    assert not clks[0, 1:].any() and not clks[2, 1:].any()  # code 1: None
    assert clks[1, 1:3].astype("<u8").tobytes() == bloom.packed("anna")
    assert (clks[:, 0] == 7).all() and not clks[:, 3].any()
