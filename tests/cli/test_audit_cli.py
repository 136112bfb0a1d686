"""`hashmatch audit`: verdicts and fixes on a leaky file, the raw-data attack, no values out."""

from __future__ import annotations

import csv
import hashlib
import json
import string
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from typer.testing import CliRunner

from hashmatch.cli import app
from hashmatch.encfile import EncodingWriter
from hashmatch.encode.harden import pack_bits
from hashmatch.schema import load_schema

SCHEMA = {
    "version": 1,
    "name": "audit-test",
    "clk": {"bits": 128},
    "fields": [{"name": "given_name", "type": "name", "bloom": {"bits": 128}}],
}


def _names(seed: int = 3) -> list[str]:
    """Eight very frequent names (distinct counts) and 400 rare ones, shuffled."""
    rng = np.random.default_rng(seed)

    def word() -> str:
        return "".join(rng.choice(list(string.ascii_lowercase), rng.integers(4, 11)))

    names = [n for i, n in enumerate(word() for _ in range(8)) for _ in range(90 - 8 * i)]
    names += [word() for _ in range(400)]
    return [names[i] for i in rng.permutation(len(names))]


def _clks(names: list[str]) -> np.ndarray:
    bits = np.zeros((len(names), 128), np.uint8)
    for row, name in enumerate(names):
        padded = f"_{name}_"
        for i in range(len(padded) - 1):
            d = hashlib.blake2b(padded[i : i + 2].encode(), key=b"k", digest_size=40).digest()
            bits[row, np.frombuffer(d, "<u8") % np.uint64(128)] = 1
    return pack_bits(bits)


@pytest.fixture(scope="module")
def party(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | list[str]]:
    d = tmp_path_factory.mktemp("audit")
    names = _names()
    schema = load_schema(SCHEMA)
    n = len(names)
    tokens = np.random.default_rng(1).integers(0, 256, (n, 16), dtype=np.uint8)
    hme = d / "party.hme"
    with EncodingWriter(
        hme,
        party="a",
        schema_fingerprint=schema.fingerprint,
        clk_bits=128,
        segments=schema.segments,
        token_names=[],
        field_names=["given_name"],
    ) as w:
        w.append(_clks(names), {}, np.ones((n, 1), bool), tokens)
    raw = d / "party.csv"
    with raw.open("w", newline="") as fh:
        csv.writer(fh).writerows([["given_name"], *([x] for x in names)])
    lookup = d / "party.lookup"  # as encode writes it: record id = 1-based data row number
    with lookup.open("w", newline="") as fh:
        w2 = csv.writer(fh)
        w2.writerow(["row_token", "record_id"])
        w2.writerows([bytes(t).hex(), str(i + 1)] for i, t in enumerate(tokens))
    schema_path = d / "schema.toml"
    schema_path.write_bytes(tomli_w.dumps(SCHEMA).encode())
    return {"hme": hme, "raw": raw, "schema": schema_path, "names": names}


def _no_values(text: str, names: list[str]) -> None:
    assert not [v for v in set(names) if v in text]


def test_flags_a_leaky_file_with_the_fix(party: dict) -> None:
    result = CliRunner().invoke(app, ["audit", str(party["hme"])])
    assert result.exit_code == 3, result.output  # a fail stops a script
    assert "FAIL repeated_patterns (given_name)" in result.output
    assert "fix: hardening.blip" in result.output
    assert "verdict: fail" in result.output
    _no_values(result.output, party["names"])


def test_json_and_strict(party: dict) -> None:
    result = CliRunner().invoke(app, ["audit", str(party["hme"]), "--json"])
    doc = json.loads(result.output)
    assert doc["verdict"] == "fail" and doc["rows"] == len(party["names"])
    assert {f["risk"] for f in doc["findings"]} == {"bit_frequency", "repeated_patterns", "length"}
    assert result.exit_code == 3  # the JSON is printed, and the fail still shows
    strict = CliRunner().invoke(app, ["audit", str(party["hme"]), "--strict"])
    assert strict.exit_code == 3


def test_raw_data_runs_the_simulated_attack(party: dict) -> None:
    args = [
        "audit",
        str(party["hme"]),
        "--raw",
        str(party["raw"]),
        "--schema",
        str(party["schema"]),
        "--json",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 3, result.output
    doc = json.loads(result.output)
    findings = {f["risk"]: f for f in doc["findings"]}
    assert findings["frequency_attack"]["verdict"] == "fail"
    seg = doc["segments"][0]
    assert seg["attack_aligned"] >= 8 and seg["attack_top"] == 20
    assert seg["length_corr"] > 0.5
    _no_values(result.output, party["names"])
    text = CliRunner().invoke(app, args[:-1])
    assert "FAIL frequency_attack" in text.output
    _no_values(text.output, party["names"])


def test_clear_errors(party: dict, tmp_path: Path) -> None:
    missing = CliRunner().invoke(app, ["audit", str(tmp_path / "nope.hme")])
    assert missing.exit_code == 2 and "error:" in missing.output
    no_schema = CliRunner().invoke(app, ["audit", str(party["hme"]), "--raw", str(party["raw"])])
    assert no_schema.exit_code == 2 and "--schema" in no_schema.output
    bad_lookup = tmp_path / "x.lookup"
    bad_lookup.write_text("a,b\n")
    result = CliRunner().invoke(
        app,
        [
            "audit",
            str(party["hme"]),
            "--raw",
            str(party["raw"]),
            "--schema",
            str(party["schema"]),
            "--lookup",
            str(bad_lookup),
        ],
    )
    assert result.exit_code == 2 and "not a lookup file" in result.output


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(app, ["audit", "--help"])
    assert result.exit_code == 0 and "hashmatch audit crm.hme" in result.output
