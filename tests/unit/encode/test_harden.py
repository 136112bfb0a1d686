"""Hardening transforms: each against a naive row-by-row reference, plus their invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.encode.harden import (
    RECOMMENDED,
    Hardening,
    apply_hardening,
    blip_flip_probability,
    blip_sensitivity,
    hardening_problems,
    keyed_permutation,
    pack_bits,
    raw_layout,
    raw_segment_bits,
    salt_features,
    unpack_bits,
)
from hashmatch.errors import SchemaError
from hashmatch.schema.model import Segment

SEGS = (Segment("first", 0, 72), Segment("last", 72, 56))  # 128 bits, not word-aligned
KEYS = {"first": b"f" * 32, "last": b"l" * 32}


def _raw(h: Hardening, n: int = 300, seed: int = 0, fill: float = 0.3) -> np.ndarray:
    _, bits = raw_layout(SEGS, h)
    rng = np.random.default_rng(seed)
    b = (rng.random((n, bits)) < fill).astype(np.uint8)
    b[:5] = 0  # a few rows with every field missing
    return pack_bits(b)


def _seg(clks: np.ndarray, s: Segment) -> np.ndarray:
    return unpack_bits(clks)[:, s.start : s.start + s.bits]


def _tokens(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 16), dtype=np.uint8)


def test_sizes() -> None:
    assert raw_segment_bits(256, Hardening()) == 256
    assert raw_segment_bits(256, Hardening(balance=True)) == 128
    assert raw_segment_bits(256, Hardening(xor_fold=True)) == 512
    assert raw_segment_bits(256, Hardening(xor_fold=True, balance=True)) == 256
    segs, bits = raw_layout(SEGS, Hardening(balance=True))
    assert [(s.start, s.bits) for s in segs] == [(0, 36), (36, 28)] and bits == 64
    with pytest.raises(ValueError, match="even"):
        raw_segment_bits(255, Hardening(balance=True))


def test_identity_returns_the_input() -> None:
    raw = _raw(Hardening())
    assert np.array_equal(apply_hardening(raw, SEGS, Hardening(), keys=KEYS), raw)


def test_permute_is_a_keyed_isometry_within_each_segment() -> None:
    raw = _raw(Hardening())
    out = apply_hardening(raw, SEGS, Hardening(permute=True), keys=KEYS)
    again = apply_hardening(raw, SEGS, Hardening(permute=True), keys=KEYS)
    other = apply_hardening(raw, SEGS, Hardening(permute=True), keys={**KEYS, "last": b"x" * 32})
    assert np.array_equal(out, again)
    for s in SEGS:
        a, b = _seg(raw, s), _seg(out, s)
        perm = keyed_permutation(_subkey_for(s.field), s.bits)
        assert np.array_equal(b, a[:, perm])  # exactly the keyed permutation, per segment
        assert not np.array_equal(a, b)
    assert np.array_equal(_seg(other, SEGS[0]), _seg(out, SEGS[0]))
    assert not np.array_equal(_seg(other, SEGS[1]), _seg(out, SEGS[1]))


def _subkey_for(field: str) -> bytes:
    from hashmatch.encode.harden import _subkey

    return _subkey(KEYS[field], b"permute")


@given(st.binary(min_size=16, max_size=32), st.integers(1, 600))
def test_keyed_permutation_is_a_permutation(key: bytes, size: int) -> None:
    perm = keyed_permutation(key, size)
    assert sorted(perm.tolist()) == list(range(size))


def test_balance_has_constant_popcount_and_keeps_missing_empty() -> None:
    h = Hardening(balance=True)
    raw = _raw(h)
    raw_segs, _ = raw_layout(SEGS, h)
    out = apply_hardening(raw, SEGS, h, keys=KEYS)
    for s, r in zip(SEGS, raw_segs, strict=True):
        present = _seg(raw, r).any(axis=1)
        pop = _seg(out, s).sum(axis=1)
        assert set(pop[present].tolist()) == {s.bits // 2}
        assert not pop[~present].any()


def test_xor_fold_and_rule90_match_the_definitions() -> None:
    h = Hardening(xor_fold=True)
    raw = _raw(h)
    raw_segs, _ = raw_layout(SEGS, h)
    out = apply_hardening(raw, SEGS, h, keys=KEYS)
    for s, r in zip(SEGS, raw_segs, strict=True):
        b = _seg(raw, r)
        assert np.array_equal(_seg(out, s), b[:, : s.bits] ^ b[:, s.bits :])

    raw = _raw(Hardening())
    out = apply_hardening(raw, SEGS, Hardening(rule90=True), keys=KEYS)
    for s in SEGS:
        b = _seg(raw, s).astype(int).tolist()
        want = [[row[(i - 1) % s.bits] ^ row[(i + 1) % s.bits] for i in range(s.bits)] for row in b]
        assert _seg(out, s).tolist() == want


def test_blip_is_reproducible_per_row_token_and_flips_at_rate_p() -> None:
    h = Hardening(blip_epsilon=20.0)
    n = 2000
    raw = _raw(h, n=n)
    tokens = _tokens(n)
    kwargs = {"keys": KEYS, "bloom_k": {"first": 5, "last": 5}}
    out = apply_hardening(raw, SEGS, h, row_tokens=tokens, **kwargs)
    assert np.array_equal(out, apply_hardening(raw, SEGS, h, row_tokens=tokens, **kwargs))
    other = apply_hardening(raw, SEGS, h, row_tokens=_tokens(n, seed=9), **kwargs)
    assert not np.array_equal(out, other)
    p, eps = blip_flip_probability(20.0, 5)
    s = SEGS[0]
    present = _seg(raw, s).any(axis=1)
    flips = (_seg(raw, s) ^ _seg(out, s))[present]
    assert abs(flips.mean() - p) < 4 * math.sqrt(p * (1 - p) / flips.size)
    assert not _seg(out, s)[~present].any()  # missing stays missing
    with pytest.raises(ValueError, match="row tokens"):
        apply_hardening(raw, SEGS, h, keys=KEYS, bloom_k={"first": 5, "last": 5})


def test_blip_on_listed_fields_leaves_the_others_as_they_were() -> None:
    h = Hardening(permute=True, blip_flip=0.045, blip_fields=("first",))
    n = 2000
    raw = _raw(h, n=n)
    tokens = _tokens(n)
    out = apply_hardening(raw, SEGS, h, keys=KEYS, row_tokens=tokens, bloom_k={"first": 5})
    quiet = apply_hardening(raw, SEGS, Hardening(permute=True), keys=KEYS)
    first, last = SEGS
    assert np.array_equal(_seg(out, last), _seg(quiet, last))  # no noise, no bloom k needed
    present = _seg(raw, first).any(axis=1)
    flips = (_seg(out, first) ^ _seg(quiet, first))[present]
    assert abs(flips.mean() - 0.045) < 4 * math.sqrt(0.045 * 0.955 / flips.size)
    everywhere = Hardening(permute=True, blip_flip=0.045)
    both = apply_hardening(raw, SEGS, everywhere, keys=KEYS, row_tokens=tokens,
                           bloom_k={"first": 5, "last": 5})
    assert np.array_equal(_seg(both, first), _seg(out, first))  # the same keyed noise
    assert not np.array_equal(_seg(both, last), _seg(quiet, last))
    with pytest.raises(ValueError, match="bloom_k"):
        apply_hardening(raw, SEGS, h, keys=KEYS, row_tokens=tokens, bloom_k={"last": 5})


def test_blip_probability_and_sensitivity() -> None:
    p, eps = blip_flip_probability(10.0, 10)
    assert p == pytest.approx(1 / (1 + math.e), abs=2**-9)  # 8-bit resolution
    assert eps == pytest.approx(10.0, rel=0.01)
    assert eps == pytest.approx(10 * math.log((1 - p) / p))  # the epsilon actually achieved
    small, eps_small = blip_flip_probability(100.0, 10)  # p ~ 4.5e-5: 16-bit resolution
    assert small == pytest.approx(1 / (1 + math.exp(10)), rel=0.1) and eps_small < 100.5
    assert blip_sensitivity(10, Hardening(balance=True, rule90=True)) == 40
    assert blip_sensitivity(10, Hardening(xor_fold=True, permute=True)) == 10


def test_pad_reaches_the_target_deterministically() -> None:
    h = Hardening(pad_fill=0.4)
    raw = _raw(h, fill=0.15)
    out = apply_hardening(raw, SEGS, h, keys=KEYS)
    for s in SEGS:
        before, after = _seg(raw, s), _seg(out, s)
        present = before.any(axis=1)
        target = round(0.4 * s.bits)
        assert (after.sum(axis=1)[present] == np.maximum(before.sum(axis=1), target)[present]).all()
        assert ((after | before) == after).all()  # only adds bits
        assert not after[~present].any()
    dup = np.repeat(raw[5:6], 2, axis=0)  # equal filters get equal padding
    padded = apply_hardening(dup, SEGS, h, keys=KEYS)
    assert np.array_equal(padded[0], padded[1])


def test_salt_features_prefixes_every_feature() -> None:
    assert salt_features(("q:ab", "q:b_"), "1970") == ("1970\x1fq:ab", "1970\x1fq:b_")
    assert set(salt_features(("q:ab",), "1970")).isdisjoint(salt_features(("q:ab",), "1971"))


def test_problems_name_the_key_path() -> None:
    problems = hardening_problems(
        {
            "blip": {"epsilon": -1},
            "balance": "yes",
            "pad": {"fill": 0.9},
            "colour": 1,
            "salt": "dob:decade",
        },
        field_names=["first", "last"],
    )
    paths = {p.path for p in problems}
    assert paths == {
        "hardening.blip.epsilon",
        "hardening.balance",
        "hardening.colour",
        "hardening.salt",
        "hardening.pad.fill",
        "hardening.pad",  # pad with blip would void the stated epsilon
    }
    clash = hardening_problems({"balance": True, "pad": {"fill": 0.3}, "blip": {"epsilon": 9}})
    assert sorted(p.path for p in clash) == ["hardening.pad", "hardening.pad"]
    odd = hardening_problems({"balance": True}, segments=[Segment("x", 0, 61)])
    assert [p.path for p in odd] == ["hardening.balance"]
    assert hardening_problems("recommended") == []
    with pytest.raises(SchemaError, match=r"hardening\.blip\.epsilon"):
        Hardening.from_dict({"blip": {"epsilon": 0}})
    listed = {"blip": {"flip": 0.045, "fields": ["first", "dob", "first"]}}
    assert [(p.path, p.message) for p in hardening_problems(listed, field_names=["first"])] == [
        ("hardening.blip.fields", "lists a field more than once"),
        ("hardening.blip.fields", "no field named 'dob' in the schema"),
    ]
    for bad in ([], "first", [1]):
        found = hardening_problems({"blip": {"flip": 0.045, "fields": bad}})
        assert [p.path for p in found] == ["hardening.blip.fields"]


def test_from_dict_round_trips_and_profiles() -> None:
    h = Hardening.from_dict({"permute": True, "blip": {"epsilon": 8}, "salt": "dob:year"})
    assert h == Hardening(permute=True, blip_epsilon=8.0, salt="dob:year")
    assert Hardening.from_dict(h.to_dict()) == h
    listed = Hardening.from_dict({"blip": {"flip": 0.045, "fields": ["first"]}})
    assert listed.blip_fields == ("first",) and listed.blip_on("first")
    assert not listed.blip_on("last") and not Hardening(permute=True).blip_on("first")
    assert Hardening.from_dict(listed.to_dict()) == listed
    # without fields the canonical form is what it was (schema fingerprints hold)
    assert "fields" not in Hardening(blip_flip=0.045).to_dict()["blip"]
    assert Hardening.from_dict("recommended") == RECOMMENDED
    assert Hardening.from_dict("none").is_identity


def test_layout_keys_share_the_permutation_but_not_the_noise() -> None:
    """A swap pair: equal raw filters in both segments stay equal after permute/balance
    under one layout key, and BLIP still draws each segment's noise from its own key."""
    segs = (Segment("first", 0, 64), Segment("last", 64, 64))
    keys = {"first": b"f" * 32, "last": b"l" * 32}
    pair = {"first": b"p" * 32, "last": b"p" * 32}
    h = Hardening(balance=True)
    _, raw_bits = raw_layout(segs, h)
    rng = np.random.default_rng(3)
    half = (rng.random((50, raw_bits // 2)) < 0.3).astype(np.uint8)
    raw = pack_bits(np.concatenate([half, half], axis=1))  # the same filter in both
    own = apply_hardening(raw, segs, h, keys=keys)
    shared = apply_hardening(raw, segs, h, keys=keys, layout_keys=pair)
    assert not np.array_equal(_seg(own, segs[0]), _seg(own, segs[1]))
    assert np.array_equal(_seg(shared, segs[0]), _seg(shared, segs[1]))
    noisy = Hardening(balance=True, blip_epsilon=10.0)
    out = apply_hardening(raw, segs, noisy, keys=keys, layout_keys=pair,
                          row_tokens=_tokens(50), bloom_k={"first": 3, "last": 3})
    flips = _seg(out, segs[0]) ^ _seg(shared, segs[0]), _seg(out, segs[1]) ^ _seg(shared, segs[1])
    assert flips[0].any() and not np.array_equal(*flips)  # independent noise per field
    with pytest.raises(ValueError, match="layout_keys"):
        apply_hardening(raw, segs, h, keys=keys, layout_keys={"first": b"short"})
