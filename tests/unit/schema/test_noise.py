"""schema new sizes its noise from the proposer's data: only on the fields whose values
repeat, only as much as the audit's repeated-patterns check needs for the file's size."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import numpy as np
import pytest

from hashmatch.audit.privacy import audit_file, segment_repeats
from hashmatch.encfile import EncodingFile
from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.encode.keys import RowKey
from hashmatch.schema.fingerprint import write_document
from hashmatch.schema.infer import propose, write_proposal
from hashmatch.schema.noise import FLIP_LADDER, count_rows


def _people(
    n: int, *, first_names: int = 16, seed: int = 1
) -> tuple[list[str], list[list[str]]]:
    """``n`` people: first names drawn from ``first_names`` (0: all distinct), distinct
    surnames, birth dates spread over 40 years (full dates rarely shared)."""
    rng = random.Random(seed)
    pool = [_word(rng) for _ in range(first_names)]
    rows = []
    for i in range(n):
        given = rng.choice(pool) if pool else _word(rng)
        year, day = 1950 + rng.randrange(40), rng.randrange(1, 28)
        rows.append([f"C{i}", given, _word(rng) + _word(rng),
                     f"{year}-{rng.randrange(1, 13):02d}-{day:02d}"])
    return ["customer_id", "first_name", "last_name", "dob"], rows


def _word(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6)).title()


def _blip(p: object) -> dict[str, object]:
    hardening = p.schema["hardening"]  # type: ignore[attr-defined]
    return {} if hardening == "recommended" else hardening["blip"]


def test_only_the_repeating_fields_get_noise_and_more_rows_need_more() -> None:
    header, rows = _people(1000)
    small = _blip(propose(header, rows, file_rows=1000))
    large = _blip(propose(header, rows, file_rows=200_000))
    # 16 first names in 1,000 rows: ~60 rows each, far above the audit's groups of 10;
    # surnames never repeat. Birth *years* do (25 rows a year): a party holding only the
    # year (as the synth catalogue does) would repeat them, so the date gets noise too.
    assert small["fields"] == ["first_name", "date_of_birth"]
    assert large["fields"] == ["first_name", "date_of_birth"]
    assert small["flip"] in FLIP_LADDER and large["flip"] in FLIP_LADDER
    assert small["flip"] < large["flip"]  # groups grow with the file
    assert propose(header, rows, file_rows=1000).schema == propose(
        header, rows, file_rows=1000).schema  # deterministic


def test_nothing_repeats_nothing_gets_noise() -> None:
    header, rows = _people(30, first_names=0)  # 30 rows: no group of 10 is possible
    p = propose(header, rows)
    assert p.schema["hardening"] == "recommended"
    assert any(n.startswith("no noise: ") for n in p.notes)


def test_a_file_of_unknown_size_is_taken_for_a_large_one() -> None:
    header, rows = _people(1000)
    unknown = _blip(propose(header, rows))  # 1,000 sampled rows, the file may hold more
    assert unknown["flip"] == FLIP_LADDER[-1]
    note = next(n for n in propose(header, rows).notes if n.startswith("noise "))
    assert "1,000,000 rows" in note and "audit may fail" in note  # 0.045 is not enough
    sized = next(n for n in propose(header, rows, file_rows=1000).notes
                 if n.startswith("noise "))
    assert "the smallest" in sized and "may fail" not in sized


def _encode_and_audit(tmp_path: Path, csv: Path, schema: Path, mapping: Path,
                      name: str) -> dict[str, str]:
    out = tmp_path / f"{name}.hme"
    encode_file(csv, schema=schema, secret=LinkageSecret(bytes(32)), party="p",
                mapping=mapping, out=out, row_key=RowKey(bytes(range(32))))
    report = audit_file(out)
    return {f.risk: f.verdict for f in report.findings}


def test_the_proposed_noise_passes_the_audit_and_none_fails_it(tmp_path: Path) -> None:
    header, rows = _people(3000, first_names=100, seed=2)  # ~30 rows per first name
    csv = tmp_path / "crm.csv"
    csv.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    proposal, mapping = write_proposal(csv, tmp_path / "schema.toml")
    blip = _blip(proposal)
    assert blip and 0 < blip["flip"] < FLIP_LADDER[-1]  # sized for 3,000 rows, not more
    verdicts = _encode_and_audit(tmp_path, csv, tmp_path / "schema.toml", mapping, "noisy")
    assert verdicts["repeated_patterns"] != "fail"
    bare = dict(proposal.schema, hardening="recommended")
    write_document(bare, tmp_path / "bare.toml", what="schema")
    verdicts = _encode_and_audit(tmp_path, csv, tmp_path / "bare.toml", mapping, "bare")
    assert verdicts["repeated_patterns"] == "fail"  # the noise is needed


def test_segment_repeats_is_the_audits_measure(tmp_path: Path) -> None:
    """On a file small enough for the audit to sample every row, the estimate from all
    rows is what the audit reports."""
    header, rows = _people(1500, seed=3)
    csv = tmp_path / "crm.csv"
    csv.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    _, mapping = write_proposal(csv, tmp_path / "schema.toml")
    out = tmp_path / "crm.hme"
    encode_file(csv, schema=tmp_path / "schema.toml", secret=LinkageSecret(bytes(32)),
                party="p", mapping=mapping, out=out, row_key=RowKey(bytes(range(32))))

    report = audit_file(out)
    with EncodingFile.open(out) as f:
        clks = np.asarray(f.clks)
        segments = f.header.segments
    bits = np.unpackbits(clks.astype("<u8").view(np.uint8), axis=1, bitorder="little")
    checked = 0
    for audit in report.segments:
        seg = next(s for s in segments if s.field == audit.field)
        live = bits[:, seg.start : seg.start + seg.bits]
        live = live[live.any(axis=1)]
        exact, near = segment_repeats(live, len(live))
        assert exact == pytest.approx(audit.frequent_share)
        assert near == pytest.approx(audit.near_share)
        checked += 1
    assert checked >= 3


def test_count_rows(tmp_path: Path) -> None:
    plain = tmp_path / "a.csv"
    plain.write_text("id,name\n1,a\n2,b\n3,c\n")
    assert count_rows(plain) == 3
    plain.write_text("id,name\n1,a\n2,b\n3,c")  # no line end after the last row
    assert count_rows(plain) == 3
    packed = tmp_path / "a.csv.gz"
    packed.write_bytes(gzip.compress(b"id,name\n" + b"1,a\n" * 5000))
    assert count_rows(packed) == 5000
    assert count_rows("-") is None
