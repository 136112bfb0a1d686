"""Golden vectors of a hardened schema: fixed secret, schema, records and row tokens ->
exactly these bits.

Hardening is part of what makes encodings comparable: a change to the raw layout, the
``harden`` keys, the permutation, Rule 90, balancing, BLIP's keyed noise or salting would
make files made before it stop matching files made after, without any error. BLIP noise
depends on the row tokens, so they are fixed here by a fixed row key (row tokens are the
record ids under the party's row key). If a change is intended, bump ``ENCODER_VERSION``
and regenerate with ``python tests/regression/test_golden_hardened.py``. (Regenerated
without a version bump when row tokens became keyed record ids instead of random bytes:
the bits given a row token did not change, so old and new files still compare.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hashmatch._version import ENCODER_VERSION
from hashmatch.encfile import EncodingFile
from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.encode.keys import RowKey

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
EXPECTED = GOLDEN / "expected_hardened.json"
#: Schema -> its pinned bits. ``schema_even.toml`` (added with even fill, the flip
#: probability and swap pairs under hardening) pins those without touching the first.
CASES = {
    "schema_hardened.toml": EXPECTED,
    "schema_even.toml": GOLDEN / "expected_even.json",
}


#: The party's row key (row tokens are the record ids under it): reproducible everywhere.
ROW_KEY = RowKey(bytes(range(32)))


def compute(tmp: Path, schema: str = "schema_hardened.toml") -> dict[str, Any]:
    secret = LinkageSecret(bytes.fromhex((GOLDEN / "secret.hex").read_text().strip()))
    summary = encode_file(
        GOLDEN / "records.csv",
        schema=GOLDEN / schema,
        mapping=GOLDEN / "mapping.toml",
        secret=secret,
        party="golden",
        out=tmp / "golden.hme",
        row_key=ROW_KEY,
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


@pytest.mark.parametrize("schema", CASES)
def test_hardened_golden_vectors_are_bit_exact(tmp_path: Path, schema: str) -> None:
    want = json.loads(CASES[schema].read_text())
    got = compute(tmp_path, schema)
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

    for name in sys.argv[1:] or list(CASES):  # a schema file name regenerates only its case
        with tempfile.TemporaryDirectory() as d:
            doc = compute(Path(d), name)
        CASES[name].write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
        sys.stdout.write(f"wrote {CASES[name]}\n")
