"""The privacy audit flags a leaky encoding and passes the recommended hardening profile.

CLKs are built here with a tiny keyed bigram Bloom filter (not the real encoder), so the
test depends only on the hardening transforms, the .hme writer and the audit.
"""

from __future__ import annotations

import hashlib
import string
from pathlib import Path

import numpy as np
import pytest

from hashmatch.audit.privacy import (
    AuditReport,
    audit_clks,
    audit_file,
    frequency_attack,
    length_leakage,
)
from hashmatch.encfile import EncodingWriter
from hashmatch.encode.harden import (
    RECOMMENDED_V1,
    Hardening,
    apply_hardening,
    pack_bits,
    raw_layout,
)
from hashmatch.schema.model import Segment

SEGMENTS = (Segment("given_name", 0, 128), Segment("surname", 128, 128))
K = 5


def _bloom(values: list[str], bits: int, key: bytes) -> np.ndarray:
    out = np.zeros((len(values), bits), dtype=np.uint8)
    for row, value in enumerate(values):
        padded = f"_{value}_"
        for i in range(len(padded) - 1):
            digest = hashlib.blake2b(padded[i : i + 2].encode(), key=key, digest_size=8 * K)
            out[row, np.frombuffer(digest.digest(), "<u8") % np.uint64(bits)] = 1
    return out


def _people(n_rare: int = 1400, seed: int = 0) -> dict[str, list[str]]:
    """12 very frequent given names (distinct counts 200, 185, ...) and many rare ones."""
    rng = np.random.default_rng(seed)

    def word() -> str:
        return "".join(rng.choice(list(string.ascii_lowercase), rng.integers(3, 11)))

    frequent = [word() for _ in range(12)]
    given = [name for i, name in enumerate(frequent) for _ in range(200 - 15 * i)]
    given += [word() for _ in range(n_rare)]
    surname = [word() for _ in given]
    order = rng.permutation(len(given))
    return {"given_name": [given[i] for i in order], "surname": [surname[i] for i in order]}


def _encode(people: dict[str, list[str]], hardening: Hardening) -> np.ndarray:
    raw_segs, _ = raw_layout(SEGMENTS, hardening)
    bits = np.concatenate(
        [_bloom(people[s.field], s.bits, s.field.encode()) for s in raw_segs], axis=1
    )
    pad = (-bits.shape[1]) % 64
    raw = pack_bits(np.pad(bits, ((0, 0), (0, pad))))
    n = len(people["given_name"])
    tokens = np.random.default_rng(7).integers(0, 256, (n, 16), dtype=np.uint8)
    return apply_hardening(
        raw,
        SEGMENTS,
        hardening,
        keys={s.field: hashlib.sha256(s.field.encode()).digest() for s in SEGMENTS},
        row_tokens=tokens,
        bloom_k={s.field: K for s in SEGMENTS},
    )


def _verdicts(report: AuditReport) -> dict[str, str]:
    return {f.risk: f.verdict for f in report.findings}


@pytest.fixture(scope="module")
def people() -> dict[str, list[str]]:
    return _people()


def test_unhardened_file_with_frequent_names_fails(people: dict[str, list[str]]) -> None:
    report = audit_clks(_encode(people, Hardening()), SEGMENTS, truth=people)
    verdicts = _verdicts(report)
    assert verdicts["repeated_patterns"] == "fail"
    assert verdicts["frequency_attack"] == "fail"
    assert verdicts["length"] == "fail"
    assert report.verdict == "fail"
    given = report.segments[0]
    assert (given.attack_aligned or 0) >= 12  # every frequent name found
    assert given.frequent_share > 0.5
    fixes = {f.risk: f.fix for f in report.findings}
    assert "hardening.blip" in (fixes["frequency_attack"] or "")
    assert "hardening.even" in (fixes["length"] or "")
    # the noise is proposed for the fields that repeat, not for every field
    flagged = [s.field for s in report.segments if s.frequent_share >= 0.05]
    assert flagged and f'fields = [{", ".join(map(repr, flagged))}]'.replace("'", '"') in (
        fixes["repeated_patterns"] or "")


def test_noise_on_the_listed_fields_clears_them(people: dict[str, list[str]]) -> None:
    listed = Hardening(permute=True, blip_flip=0.045, blip_fields=("given_name",))
    report = audit_clks(_encode(people, listed), SEGMENTS)
    given = next(s for s in report.segments if s.field == "given_name")
    assert given.frequent_share < 0.05  # noisy copies of a name no longer repeat exactly


def test_near_groups_count_frequent_values_under_weak_noise_not_shared_pairs(
    people: dict[str, list[str]],
) -> None:
    # weak noise breaks exact repeats but leaves a frequent name's copies near-identical
    weak = audit_clks(_encode(people, Hardening(blip_flip=0.02)), SEGMENTS)
    given = next(s for s in weak.segments if s.field == "given_name")
    assert given.frequent_share < 0.05 <= given.near_share
    assert _verdicts(weak)["repeated_patterns"] != "ok"
    # every value held by two rows (a household's phone): near twins, but no group of ten
    rng = np.random.default_rng(5)
    words = ["".join(rng.choice(list(string.ascii_lowercase), 10)) for _ in range(1500)]
    pairs = {"given_name": words + words, "surname": words[::-1] + words[::-1]}
    shared = audit_clks(_encode(pairs, Hardening()), SEGMENTS)
    assert all(s.near_share == 0.0 and s.frequent_share == 0.0 for s in shared.segments)


def test_the_near_sample_is_uniform_whatever_the_row_order(
    people: dict[str, list[str]],
) -> None:
    weak = Hardening(blip_flip=0.02)
    order = np.argsort(people["given_name"], kind="stable")  # a file sorted by name
    ordered = {k: [v[i] for i in order] for k, v in people.items()}
    shares = [
        next(s.near_share for s in audit_clks(_encode(p, weak), SEGMENTS).segments
             if s.field == "given_name")
        for p in (people, ordered)
    ]
    assert abs(shares[0] - shares[1]) < 0.1, shares


def test_balance_and_noise_pass(people: dict[str, list[str]]) -> None:
    """hashmatch 0.1's "recommended" (balance + BLIP epsilon 25): every check passes.
    (Today's even fill is a way of building filters, tested end to end in
    tests/security/test_hardening_end_to_end.py.)"""
    report = audit_clks(_encode(people, RECOMMENDED_V1), SEGMENTS, truth=people)
    assert report.verdict != "fail", [f for f in report.findings if f.verdict == "fail"]
    verdicts = _verdicts(report)
    assert verdicts["length"] == "ok"
    assert verdicts["frequency_attack"] == "ok"
    for s in report.segments:
        assert s.frequent_share < 0.05 and s.near_share < 0.5
        assert abs(s.length_corr or 0) < 0.2


def test_balance_alone_hides_length_but_not_frequency(people: dict[str, list[str]]) -> None:
    report = audit_clks(_encode(people, Hardening(balance=True)), SEGMENTS, truth=people)
    verdicts = _verdicts(report)
    assert verdicts["length"] == "ok"
    assert verdicts["frequency_attack"] == "fail"  # a bijection of patterns hides nothing


def test_audit_file_reads_the_hme_and_never_prints_values(
    people: dict[str, list[str]], tmp_path: Path
) -> None:
    clks = _encode(people, Hardening())
    out = tmp_path / "party.hme"
    n = len(clks)
    with EncodingWriter(
        out,
        party="a",
        schema_fingerprint="sha256:00",
        clk_bits=256,
        segments=SEGMENTS,
        token_names=[],
        field_names=["given_name", "surname"],
    ) as w:
        w.append(clks, {}, np.ones((n, 2), bool), np.zeros((n, 16), np.uint8))
    report = audit_file(out, chunk_rows=1000)  # several chunks
    assert report.rows == n
    assert report.segments == audit_clks(clks, SEGMENTS).segments
    text = repr(report.to_dict())
    leaked = [v for v in set(people["given_name"]) if len(v) >= 4 and v in text]
    assert not leaked


def test_length_leakage_and_attack_primitives() -> None:
    lengths = np.arange(1000) % 10
    r, mi = length_leakage(lengths, lengths * 3 + 1)
    assert r == pytest.approx(1.0) and mi > 2.5
    assert length_leakage(lengths, np.full(1000, 7)) == (0.0, 0.0)
    hashes = np.array([1, 1, 1, 2, 2, 3], dtype=np.uint64)
    assert frequency_attack(hashes, ["a", "a", "a", "b", "b", "c"], top=2) == (2.0, 2)
    swapped = np.array([1, 1, 2, 2, 2], dtype=np.uint64)  # the big pattern is mostly "b"
    assert frequency_attack(swapped, ["a", "a", "a", "b", "b"], top=2) == (0.0, 2)
    assert frequency_attack(hashes, [None] * 6) == (0.0, 0)


def test_a_repeated_identifier_token_is_flagged_and_block_keys_are_not(tmp_path: Path) -> None:
    n = 2000
    rng = np.random.default_rng(3)
    unique = rng.integers(1, 256, (n, 16), dtype=np.uint8)  # every row its own e-mail
    placeholder = unique.copy()
    placeholder[:60] = placeholder[0]  # 3% of rows: one e-mail (a placeholder)
    placeholder[60:100] = 0  # missing: no token
    coarse = np.repeat(rng.integers(1, 256, (20, 16), dtype=np.uint8), n // 20, axis=0)
    out = tmp_path / "party.hme"
    with EncodingWriter(
        out,
        party="a",
        schema_fingerprint="sha256:00",
        clk_bits=256,
        segments=SEGMENTS,
        token_names=["email", "phone", "blk_sx_yob"],
        field_names=["given_name", "surname", "email", "phone"],
        extra={"token_kinds": {"email": "identifier", "phone": "identifier",
                               "blk_sx_yob": "block"}},
    ) as w:
        tokens = {"email": placeholder, "phone": unique, "blk_sx_yob": coarse}
        clks = np.zeros((n, 4), np.uint64)
        w.append(clks, tokens, np.ones((n, 4), bool), np.zeros((n, 16), np.uint8))
    report = audit_file(out, chunk_rows=700)
    by_name = {t.name: t for t in report.tokens}
    assert set(by_name) == {"email", "phone"}  # block keys repeat by design
    assert by_name["email"].rows == n - 40
    assert by_name["email"].top_share == pytest.approx(60 / (n - 40))
    assert by_name["email"].frequent_share == pytest.approx(60 / (n - 40))
    assert by_name["phone"].distinct == n and by_name["phone"].top_share == 1 / n
    finding = next(f for f in report.findings if f.risk == "repeated_tokens")
    assert (finding.verdict, finding.worst_field) == ("warn", "email")
    assert finding.fix is not None and "placeholder" in finding.fix
