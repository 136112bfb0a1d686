"""The input adapter reads an in-memory batch and the file written from it one way.

Both go through their header (a batch reports the header its file would carry), so the
coordinator sees the same layout, field types, stable fields, swap pairs and token kinds
whichever it was given, and the report differs only in where the input came from.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from hashmatch.encfile import EncodingFile, token_kinds
from hashmatch.encode import LinkageSecret, encode_records
from hashmatch.encode.pipeline import EncodedBatch
from hashmatch.link.inputs import as_encoding, info_of

SCHEMA = {
    "version": 1,
    "clk": {"bits": 512},
    "fields": [
        {
            "name": "first_name",
            "type": "name",
            "bloom": True,
            "stable": True,
            "swaps_with": "last_name",
        },
        {"name": "last_name", "type": "name", "bloom": True},
        {"name": "dob", "type": "date", "bloom": True, "exact": True, "stable": True},
        {"name": "email", "type": "email", "exact": True},
    ],
    "match_keys": [
        {"name": "blk_last", "parts": ["last_name:soundex"], "purpose": "block"},
        {"name": "name_dob", "parts": ["last_name", "dob:year"]},
    ],
}
ROWS = [
    {"first_name": "Ann", "last_name": "Lee", "dob": "1990-02-03", "email": "ann@x.org"},
    {"first_name": "Bo", "last_name": "Chan", "dob": "", "email": ""},
    {"first_name": "Cy", "last_name": "Diaz", "dob": "1971-12-30", "email": "cy@y.net"},
]


@pytest.fixture(scope="module")
def batch() -> EncodedBatch:
    return encode_records(ROWS, schema=SCHEMA, secret=LinkageSecret(bytes(32)), party="crm")


def test_a_batch_header_is_the_header_of_its_file(batch: EncodedBatch, tmp_path: Path) -> None:
    with EncodingFile.open(batch.write(tmp_path / "crm.hme")) as f:
        stored = f.header
    ignore = {"created": "", "sections": (), "file_length": 0}
    assert dataclasses.replace(batch.header, **ignore) == dataclasses.replace(stored, **ignore)
    assert batch.header.rows == len(ROWS)
    assert batch.header.token_kinds == {
        "dob": "identifier",
        "email": "identifier",
        "blk_last": "block",
        "name_dob": "match",
    }
    assert batch.header.stable_fields == {"first_name", "dob"}
    assert batch.header.swap_pairs == (("first_name", "last_name"),)
    assert batch.header.field_types["dob"] == "date"


def test_the_pipeline_sees_a_batch_and_its_file_alike(batch: EncodedBatch, tmp_path: Path) -> None:
    with EncodingFile.open(batch.write(tmp_path / "crm.hme")) as f:
        from_file, from_batch = as_encoding(f), as_encoding(batch)
        for name in ("segments", "swap_segments", "disagree_below", "nested"):
            assert getattr(from_file, name) == getattr(from_batch, name), name
        np.testing.assert_array_equal(from_file.present, from_batch.present)
        np.testing.assert_array_equal(from_file.clks, from_batch.clks)
        assert from_batch.swap_segments == [(0, 1)]
        assert set(from_batch.disagree_below) == {0, 2}  # first_name and dob segments

        file_info, batch_info = info_of(f), info_of(batch)
    assert file_info.source == str(tmp_path / "crm.hme") and len(file_info.digest) == 64
    assert batch_info.source == "<memory: crm>" and batch_info.digest == ""
    same = {"source": "", "digest": ""}
    assert dataclasses.replace(file_info, **same) == dataclasses.replace(batch_info, **same)


def test_files_without_recorded_kinds_fall_back_to_names() -> None:
    # Files written before the encoder recorded token kinds: the name decides.
    kinds = token_kinds(["email", "blk_dob", "name_dob"], ["email", "dob"], {})
    assert kinds == {"email": "identifier", "blk_dob": "block", "name_dob": "match"}
    declared = token_kinds(["blk_dob"], ["dob"], {"token_kinds": {"blk_dob": "match"}})
    assert declared == {"blk_dob": "match"}
