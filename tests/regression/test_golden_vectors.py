"""Golden vectors: fixed secret + schema + records -> exactly these bits and tokens.

Any change to normalisation, features, key derivation, the Bloom PRF or token hashing
changes these bytes, and encodings made before the change would silently stop matching
ones made after. If the change is intended, bump ``hashmatch._version.ENCODER_VERSION``
and regenerate with ``python tests/regression/test_golden_vectors.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from hashmatch._version import ENCODER_VERSION
from hashmatch.encfile import EncodingFile
from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.encode.bloom import feature_positions
from hashmatch.encode.features import feature_function

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
FEATURES = [("name", "q:an"), ("date", "y:1951"), ("phone", "cc:44")]


def compute(tmp: Path) -> dict[str, Any]:
    """Encode the golden records and describe the result as JSON-ready hex strings."""
    secret = LinkageSecret(bytes.fromhex((GOLDEN / "secret.hex").read_text().strip()))
    summary = encode_file(
        GOLDEN / "records.csv",
        schema=GOLDEN / "schema.toml",
        mapping=GOLDEN / "mapping.toml",
        secret=secret,
        party="golden",
        out=tmp / "golden.hme",
    )
    f = EncodingFile.open(summary.output)
    clks = np.asarray(f.clks).astype("<u8")
    present = np.asarray(f.present)
    return {
        "encoder_version": ENCODER_VERSION,
        "schema_fingerprint": f.header.schema_fingerprint,
        "secret_commitment": secret.commitment(),
        "keys": {
            "bloom/first_name": secret.derive("bloom", "first_name").hex(),
            "exact/email": secret.derive("exact", "email").hex(),
        },
        "feature_positions_k12_bits1000": {
            feature: feature_positions(secret.derive("bloom", "x"), feature, 12, 1000)
            for _, feature in FEATURES
        },
        "features": {
            f"{ftype}:{value}": list(feature_function(ftype, 2, True)(value))
            for ftype, value in [
                ("name", "bill"),
                ("date", "1951-11-04"),
                ("phone", "+442079460018"),
            ]
        },
        "rows": [
            {
                "clk": clks[r].tobytes().hex(),
                "present": present[r].astype(int).tolist(),
                "tokens": {
                    name: np.asarray(f.token(name))[r].tobytes().hex()
                    for name in f.header.token_names
                },
            }
            for r in range(f.header.rows)
        ],
    }


def test_golden_vectors_are_bit_exact(tmp_path: Path) -> None:
    want = json.loads((GOLDEN / "expected.json").read_text())
    got = compute(tmp_path)
    assert got["encoder_version"] == want["encoder_version"]
    for key in (
        "schema_fingerprint",
        "secret_commitment",
        "keys",
        "features",
        "feature_positions_k12_bits1000",
    ):
        assert got[key] == want[key], key
    assert len(got["rows"]) == len(want["rows"])
    for r, (g, w) in enumerate(zip(got["rows"], want["rows"], strict=True)):
        assert g == w, f"row {r}"


def test_golden_schema_pins_every_field_type_and_match_key_purpose() -> None:
    from hashmatch.schema import load_schema
    from hashmatch.schema.model import FIELD_TYPES

    schema = load_schema(GOLDEN / "schema.toml")
    assert {f.type for f in schema.fields} == set(FIELD_TYPES)
    assert {k.purpose for k in schema.match_keys} == {"match", "block"}


def test_swap_pair_fields_share_one_pinned_bloom_key() -> None:
    """``swaps_with`` derives both fields' Bloom key from ``"first_name+last_name"``: the
    two segments of one name are bit-identical, and these bits are pinned."""
    from hashmatch.encode import encode_records
    from hashmatch.link.segments import aligned_segment

    secret = LinkageSecret(bytes.fromhex((GOLDEN / "secret.hex").read_text().strip()))
    schema = {
        "version": 1,
        "clk": {"bits": 256},
        "fields": [
            {"name": "first_name", "type": "name", "bloom": {"bits": 128},
             "swaps_with": "last_name"},
            {"name": "last_name", "type": "name", "bloom": {"bits": 128}},
        ],
    }
    rows = [{"first_name": "Anna", "last_name": "Smith"},
            {"first_name": "Smith", "last_name": "Anna"}]
    clks = np.asarray(encode_records(rows, schema=schema, secret=secret, party="g").clks)
    first, last = (aligned_segment(clks, layout)[:, :2].tobytes() for layout in
                   ((0, 128), (128, 128)))
    anna, smith = "186000871009586000000c4518181864", "8cc24061208c000025506c0d02073002"
    assert first.hex() == anna + smith
    assert last.hex() == smith + anna
    key = secret.derive("bloom", "first_name+last_name").hex()
    assert key == "135ab6a4696505591eb2b28301ddd821940c84fbec82ec1f6afbfa4ce6fd2605"


def test_golden_rows_cover_present_and_missing_values() -> None:
    want = json.loads((GOLDEN / "expected.json").read_text())
    present = np.array([row["present"] for row in want["rows"]])
    assert present.any(axis=0).all() and (~present.astype(bool)).any(axis=0).all()
    tokens = [t for row in want["rows"] for t in row["tokens"].values()]
    assert "0" * 32 in tokens and any(t != "0" * 32 for t in tokens)


if __name__ == "__main__":  # regenerate after an intended, versioned encoding change
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        doc = compute(Path(d))
    (GOLDEN / "expected.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    sys.stdout.write(f"wrote {GOLDEN / 'expected.json'}\n")
