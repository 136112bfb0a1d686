"""A committed format-v1 ``.hme`` file keeps opening, and reads back exactly as written.

``tests/data/golden/v1/golden.hme`` was written once by the v1 writer and is never
regenerated (see its README). If a change to the reader or the layout makes it unreadable,
or changes the bytes any array reads back, every ``.hme`` file that parties already hold
would break silently; this test fails first. A deliberate layout change bumps
``FORMAT_VERSION`` and adds a new golden folder next to this one, keeping v1 readable.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pytest

from hashmatch._version import ENCODER_VERSION
from hashmatch.encfile import EncodingFile, verify_file
from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.schema.model import Segment

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
V1 = GOLDEN / "v1"
HME = V1 / "golden.hme"

# Recorded from the file when it was made (2026-11-29, hashmatch 0.1.0).
FILE_SHA256 = "a874052324d9d184b9482241df70ebbd7d5c689dc3ae7f70878ddfa42eb8264e"
HEADER = {
    "format_version": 1,
    "encoder_version": 1,
    "hashmatch_version": "0.1.0",
    "schema_fingerprint": "sha256:028a0845f05ef5d460d81be84773ff5a3206a9a4b1ee49366b1d35ce37283c48",
    "party": "golden",
    "rows": 20,
    "clk_bits": 512,
    "created": "2026-11-29T04:21:25Z",
    "secret_commitment": "5f227d583fa17a526be0f8f9c02af5939d5f4ca7895c6979fff82dfeca50a6a9",
    "file_length": 5336,
}
SEGMENTS = (
    Segment("first_name", 0, 122),
    Segment("last_name", 122, 96),
    Segment("dob", 218, 61),
    Segment("email", 279, 61),
    Segment("phone", 340, 31),
    Segment("postcode", 371, 31),
    Segment("address", 402, 61),
    Segment("gender", 463, 18),
    Segment("city", 481, 31),
)
TOKEN_NAMES = ("email", "phone", "national_id", "ln_dob", "blk", "mk_parts")
FIELD_NAMES = (
    "first_name",
    "last_name",
    "dob",
    "email",
    "phone",
    "postcode",
    "address",
    "gender",
    "city",
    "national_id",
)
CLK_SHA256 = "f421a6c11ad4a47a8d7ca4ce62b4305409eb5b69290c000a185f88aadc68f610"
TOKEN_SHA256 = {
    "email": "cf5c2f8747095bfcee0d5471765aec65d0ff773dc7d5f8510ad7965a3aadd530",
    "phone": "c62e3a551c779a9cbd58d8f8e1ed0d0c17e020b8e1d3da130ae7c5a62d87eb50",
    "national_id": "d5a5544104f247a9b68de552be5f13bfd705c1f620a8174ca0b1f41f8399c2fb",
    "ln_dob": "107eaa6cd9b79922ccb87ffaeff775fa3d08ddaf83baa42bbeb59eb17a6399c6",
    "blk": "74948451d95547715f7c2ffeda185af67f1cd097cdda0b40c9657c60b7cf3c45",
    "mk_parts": "06a4c84ca444742bce06bc96422c26b51a4ceb0fcc661a2aa0df80b85d3ce1d2",
}
ROW_TOKENS_SHA256 = "debf092aa0b12dc117f9c1033650386f9245b832d0d30ab19ea7adce02600929"
PRESENT_SHA256 = "2c266b522b50ce9448e0f607c435f606b9d3d98d79988c2c9c66f754fcdf2688"


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def golden() -> EncodingFile:
    # Guard against an accidental regeneration: the bytes on disk are the ones recorded.
    assert hashlib.sha256(HME.read_bytes()).hexdigest() == FILE_SHA256, (
        f"{HME} changed: it must never be regenerated (see its README)"
    )
    return EncodingFile.open(HME, verify=True)


def test_opens_with_verification(golden: EncodingFile) -> None:
    assert verify_file(HME) == golden.header
    assert len(golden) == 20


def test_header_fields_are_as_recorded(golden: EncodingFile) -> None:
    header = golden.header
    assert {key: getattr(header, key) for key in HEADER} == HEADER
    assert header.segments == SEGMENTS
    assert header.token_names == TOKEN_NAMES
    assert header.field_names == FIELD_NAMES
    assert dict(header.extra) == {}


def test_arrays_read_back_byte_for_byte(golden: EncodingFile) -> None:
    # CLK words are little-endian on disk; hash that byte order whatever the host's is.
    assert golden.clks.shape == (20, 8)
    assert _sha(golden.clks.astype("<u8")) == CLK_SHA256
    assert {name: _sha(golden.token(name)) for name in TOKEN_NAMES} == TOKEN_SHA256
    assert _sha(golden.row_tokens) == ROW_TOKENS_SHA256
    assert _sha(golden.present_packed) == PRESENT_SHA256
    # The unpacked view agrees with the packed bits (record 4 is the all-empty row).
    assert golden.present.shape == (20, len(FIELD_NAMES))
    assert not golden.present[3].any() and golden.present[0].all()


def test_lookup_maps_every_row_token(golden: EncodingFile) -> None:
    with (V1 / "golden.lookup").open(encoding="utf-8", newline="") as fh:
        lookup = {row["row_token"]: row["record_id"] for row in csv.DictReader(fh)}
    tokens = [bytes(t).hex() for t in golden.row_tokens]
    assert [lookup[t] for t in tokens] == [str(i) for i in range(1, 21)]


def test_current_encoder_still_writes_the_same_bits(tmp_path: Path) -> None:
    """Files of the current encoder version must still link with this old one."""
    header = verify_file(HME)
    if header.encoder_version != ENCODER_VERSION:
        pytest.skip("encoder version bumped: old files are refused by `link`, by design")
    secret = LinkageSecret(bytes.fromhex((GOLDEN / "secret.hex").read_text().strip()))
    out = tmp_path / "now.hme"
    encode_file(
        V1 / "records.csv",
        schema=GOLDEN / "schema.toml",
        mapping=GOLDEN / "mapping.toml",
        secret=secret,
        party="golden",
        out=out,
    )
    with EncodingFile.open(out) as now:
        # `link` refuses files whose fingerprints differ: a silent change here would stop
        # new encodings from linking with old ones although the encoder version is equal.
        assert now.header.schema_fingerprint == header.schema_fingerprint, (
            "the golden schema's fingerprint changed without an ENCODER_VERSION bump"
        )
        assert _sha(now.clks.astype("<u8")) == CLK_SHA256
        assert {name: _sha(now.token(name)) for name in TOKEN_NAMES} == TOKEN_SHA256
        assert _sha(now.present_packed) == PRESENT_SHA256
