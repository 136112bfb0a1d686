"""Golden vectors of a hardened schema: fixed secret, schema, records and row tokens ->
exactly these bits.

Hardening is part of what makes encodings comparable: a change to the raw layout, the
``harden`` keys, the permutation, Rule 90, balancing, BLIP's keyed noise or salting would
make files made before it stop matching files made after, without any error. BLIP noise
depends on the row tokens, so they are fixed here (the encoder draws them from
``secrets.token_bytes``). If a change is intended, bump ``ENCODER_VERSION`` and
regenerate with ``python tests/regression/test_golden_hardened.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import hashmatch.encode.encoder as encoder_module
from hashmatch._version import ENCODER_VERSION
from hashmatch.encfile import EncodingFile
from hashmatch.encode import LinkageSecret, encode_file

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
EXPECTED = GOLDEN / "expected_hardened.json"


def fixed_row_tokens(n: int) -> bytes:
    """Row-token bytes 0, 1, 2, ... (mod 251): reproducible everywhere."""
    return bytes(i % 251 for i in range(n))


def compute(tmp: Path) -> dict[str, Any]:
    secret = LinkageSecret(bytes.fromhex((GOLDEN / "secret.hex").read_text().strip()))
    summary = encode_file(
        GOLDEN / "records.csv",
        schema=GOLDEN / "schema_hardened.toml",
        mapping=GOLDEN / "mapping.toml",
        secret=secret,
        party="golden",
        out=tmp / "golden.hme",
    )
    f = EncodingFile.open(summary.output)
    clks = np.asarray(f.clks).astype("<u8")
    return {
        "encoder_version": ENCODER_VERSION,
        "schema_fingerprint": f.header.schema_fingerprint,
        "segments": [[s.field, s.start, s.bits] for s in f.header.segments],
        "harden_key/first_name": secret.derive("harden", "first_name").hex(),
        "rows": [
            {
                "row_token": np.asarray(f.row_tokens)[r].tobytes().hex(),
                "clk": clks[r].tobytes().hex(),
            }
            for r in range(f.header.rows)
        ],
    }


def test_hardened_golden_vectors_are_bit_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encoder_module.secrets, "token_bytes", fixed_row_tokens)
    want = json.loads(EXPECTED.read_text())
    got = compute(tmp_path)
    assert got["encoder_version"] == want["encoder_version"]
    for key in ("schema_fingerprint", "segments", "harden_key/first_name"):
        assert got[key] == want[key], key
    assert len(got["rows"]) == len(want["rows"])
    for r, (g, w) in enumerate(zip(got["rows"], want["rows"], strict=True)):
        assert g == w, f"row {r}"


def test_hardened_golden_rows_cover_noise_and_missing() -> None:
    want = json.loads(EXPECTED.read_text())
    popcounts = [
        int(np.unpackbits(np.frombuffer(bytes.fromhex(row["clk"]), np.uint8)).sum())
        for row in want["rows"]
    ]
    assert popcounts[-1] == 0  # the empty record stays empty through every transform
    assert all(0 < p < 512 for p in popcounts[:-1])
    # Balanced segments are half full before BLIP; the noise moves rows off exactly half.
    assert popcounts[0] != popcounts[1]


if __name__ == "__main__":  # regenerate after an intended, versioned encoding change
    import tempfile

    encoder_module.secrets.token_bytes = fixed_row_tokens  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as d:
        doc = compute(Path(d))
    EXPECTED.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    sys.stdout.write(f"wrote {EXPECTED}\n")
