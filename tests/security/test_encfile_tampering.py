"""Damaged, tampered and foreign .hme files are refused, each with its own clear error.

Structural problems (foreign, newer format, truncated, trailing bytes, malformed header)
raise EncodingFileError; a content change the checksum catches raises TamperedFileError.
Every message names the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import struct
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hashmatch.encfile import EncodingFile, EncodingWriter, verify_file
from hashmatch.errors import EncodingFileError, TamperedFileError

ROWS = 50


@pytest.fixture(scope="module")
def good_bytes(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("good") / "crm.hme"
    with EncodingWriter(
        path,
        party="crm",
        schema_fingerprint="sha256:" + "cd" * 32,
        clk_bits=128,
        segments=[("name", 0, 128)],
        token_names=["email"],
        field_names=["name", "email"],
        created=datetime(2026, 1, 1, tzinfo=UTC),
    ) as w:
        w.append(
            rng.integers(0, 2**64, (ROWS, 2), dtype=np.uint64, endpoint=False),
            {"email": rng.integers(1, 256, (ROWS, 16), dtype=np.uint8)},
            np.ones((ROWS, 2), bool),
            rng.integers(0, 256, (ROWS, 16), dtype=np.uint8),
        )
    return path.read_bytes()


def header_of(data: bytes) -> dict[str, Any]:
    (hlen,) = struct.unpack_from("<Q", data, 16)
    return json.loads(data[24 : 24 + hlen])


def section(data: bytes, name: str) -> dict[str, Any]:
    return next(s for s in header_of(data)["sections"] if s["name"] == name)


def flip(data: bytes, offset: int) -> bytes:
    out = bytearray(data)
    out[offset] ^= 0x01
    return bytes(out)


def resealed(
    data: bytes, mutate: Callable[[dict[str, Any]], Any], *, raw: bytes | None = None
) -> bytes:
    """A crafted file: header changed, then checksum and trailer recomputed (as an
    attacker or a buggy writer would), so only the header's own checks can catch it."""
    doc = header_of(data)
    mutate(doc)
    new = (
        raw if raw is not None else json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    )
    body_start = header_of(data)["sections"][0]["offset"]
    assert 24 + len(new) <= body_start, "test header grew past the body"
    head = data[:8] + struct.pack("<IIQ", *struct.unpack_from("<II", data, 8), len(new)) + new
    content = head.ljust(body_start, b"\0") + data[body_start:-48]
    return content + struct.pack(
        "<32sQ8s", hashlib.sha256(content).digest(), len(content) + 48, data[-8:]
    )


def open_bytes(tmp_path: Path, data: bytes, name: str = "crm.hme", **kw: Any) -> EncodingFile:
    path = tmp_path / name
    path.write_bytes(data)
    return EncodingFile.open(path, **kw)


def refused(
    tmp_path: Path, data: bytes, error: type[Exception], match: str, *, name: str = "crm.hme"
) -> pytest.ExceptionInfo[Exception]:
    with pytest.raises(error, match=match) as info:
        open_bytes(tmp_path, data, name)
    assert type(info.value) is error  # its own class: structural != tampered
    assert str(tmp_path / name) in str(info.value)  # names the file
    return info


def test_the_untouched_file_opens(tmp_path: Path, good_bytes: bytes) -> None:
    with open_bytes(tmp_path, good_bytes) as f:
        assert f.header.rows == ROWS


# -- content changes: the checksum catches them ------------------------------------------


@pytest.mark.parametrize(
    "where",
    [
        "header_digit",
        "header_brace",
        "padding",
        "clk",
        "row_tokens",
        "token:email",
        "present",
        "trailer_digest",
    ],
)
def test_a_flipped_byte_anywhere_is_tampering(
    tmp_path: Path, good_bytes: bytes, where: str
) -> None:
    (hlen,) = struct.unpack_from("<Q", good_bytes, 16)
    raw = good_bytes[24 : 24 + hlen]
    offsets = {
        "header_digit": 24 + raw.index(b'"rows":') + len(b'"rows":'),
        "header_brace": 24,
        "padding": 24 + hlen,
        "trailer_digest": len(good_bytes) - 48 + 5,
    }
    offset = offsets.get(where) or section(good_bytes, where)["offset"] + 7
    refused(tmp_path, flip(good_bytes, offset), TamperedFileError, "checksum mismatch")


@pytest.mark.parametrize(("offset", "label"), [(-16, "length"), (-1, "end magic")])
def test_a_modified_trailer_is_tampering(
    tmp_path: Path, good_bytes: bytes, offset: int, label: str
) -> None:
    refused(tmp_path, flip(good_bytes, len(good_bytes) + offset), TamperedFileError, "trailer")


def test_verify_false_skips_only_the_checksum(tmp_path: Path, good_bytes: bytes) -> None:
    data = flip(good_bytes, section(good_bytes, "clk")["offset"])
    with open_bytes(tmp_path, data, verify=False) as f:
        assert f.header.rows == ROWS
    with pytest.raises(TamperedFileError):
        verify_file(tmp_path / "crm.hme")


# -- truncation and trailing bytes -------------------------------------------------------


@pytest.mark.parametrize(
    "keep",
    [3, 8, 20, 24, 60, "header_end", "clk_mid", "before_trailer", "minus_1"],
)
def test_truncation_is_refused_as_truncated(tmp_path: Path, good_bytes: bytes, keep: Any) -> None:
    (hlen,) = struct.unpack_from("<Q", good_bytes, 16)
    cut = {
        "header_end": 24 + hlen,
        "clk_mid": section(good_bytes, "clk")["offset"] + 100,
        "before_trailer": len(good_bytes) - 48,
        "minus_1": len(good_bytes) - 1,
    }.get(keep, keep)
    info = refused(tmp_path, good_bytes[:cut], EncodingFileError, "truncated")
    if cut >= 24 + hlen:  # the header is readable, so the message says how much is missing
        assert f"{cut} of {len(good_bytes)} bytes" in str(info.value)


def test_empty_file(tmp_path: Path) -> None:
    refused(tmp_path, b"", EncodingFileError, "empty file")


@pytest.mark.parametrize("extra", [b"\0", b"garbage" * 100])
def test_appended_bytes_are_refused(tmp_path: Path, good_bytes: bytes, extra: bytes) -> None:
    refused(tmp_path, good_bytes + extra, EncodingFileError, f"{len(extra)} unexpected bytes")


def test_two_files_concatenated_are_refused(tmp_path: Path, good_bytes: bytes) -> None:
    refused(tmp_path, good_bytes + good_bytes, EncodingFileError, "unexpected bytes after")


# -- foreign files and newer formats -----------------------------------------------------


def test_a_csv_renamed_hme_is_not_an_encoding_file(tmp_path: Path) -> None:
    csv = b"first_name,last_name,dob\nJohn,Smith,1980-01-01\n"
    info = refused(tmp_path, csv, EncodingFileError, "not a hashmatch encoding file")
    assert "text file" in (info.value.hint or "")
    assert b"John" not in str(info.value).encode() and "Smith" not in (info.value.hint or "")


def test_random_binary_is_not_an_encoding_file(tmp_path: Path) -> None:
    info = refused(tmp_path, bytes(range(256)) * 4, EncodingFileError, "wrong magic")
    assert "hashmatch encode" in (info.value.hint or "")


def test_a_sealed_file_is_recognised(tmp_path: Path) -> None:
    from hashmatch.seal.envelope import MAGIC as SEALED

    info = refused(tmp_path, SEALED + b"\0" * 200, EncodingFileError, "sealed")
    assert "--key" in (info.value.hint or "")


@pytest.mark.parametrize("version", [2, 255, 2**32 - 1])
def test_a_newer_format_version_asks_for_an_upgrade(
    tmp_path: Path, good_bytes: bytes, version: int
) -> None:
    data = good_bytes[:8] + struct.pack("<I", version) + good_bytes[12:]
    info = refused(tmp_path, data, EncodingFileError, f"format version {version}")
    assert "upgrade hashmatch" in (info.value.hint or "")


def test_format_version_zero_is_damage(tmp_path: Path, good_bytes: bytes) -> None:
    data = good_bytes[:8] + struct.pack("<I", 0) + good_bytes[12:]
    refused(tmp_path, data, EncodingFileError, "invalid format version 0")


def test_unknown_flags_ask_for_an_upgrade(tmp_path: Path, good_bytes: bytes) -> None:
    data = good_bytes[:12] + struct.pack("<I", 1) + good_bytes[16:]
    info = refused(tmp_path, data, EncodingFileError, "features unknown")
    assert "upgrade hashmatch" in (info.value.hint or "")


def test_an_absurd_header_length_is_refused(tmp_path: Path, good_bytes: bytes) -> None:
    data = good_bytes[:16] + struct.pack("<Q", 2**62) + good_bytes[24:]
    refused(tmp_path, data, EncodingFileError, "header length out of range")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(EncodingFileError, match="no such file"):
        EncodingFile.open(tmp_path / "nope.hme")
    with pytest.raises(EncodingFileError, match="is a directory"):
        EncodingFile.open(tmp_path)


# -- crafted files whose checksum matches: the header's own checks ------------------------


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc.__setitem__(key, value)


def _shift_section(doc: dict[str, Any]) -> None:
    doc["sections"][1]["offset"] += 8


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (_set("surprise", 1), "unknown key"),
        (lambda doc: doc.pop("party"), "missing key"),
        (_set("rows", ROWS + 1), "sections"),
        (_set("format_version", 2), "format_version disagrees"),
        (_set("file_length", 10), "file_length"),
        (_set("clk_bits", 100), "clk_bits"),
        (_set("token_names", ["Email"]), r"token_names\[0\]"),
        (_set("segments", [{"field": "zip", "start": 0, "bits": 8}]), r"segments\[0\].field"),
        (_set("extra", []), "extra"),
        (_shift_section, "misaligned"),
    ],
)
def test_a_malformed_header_is_refused_even_with_a_valid_checksum(
    tmp_path: Path, good_bytes: bytes, mutate: Callable[[dict[str, Any]], Any], match: str
) -> None:
    refused(tmp_path, resealed(good_bytes, mutate), EncodingFileError, f"malformed header.*{match}")


def test_a_non_canonical_header_is_refused(tmp_path: Path, good_bytes: bytes) -> None:
    canonical = json.dumps(header_of(good_bytes), sort_keys=True, separators=(",", ":"))
    raw = canonical.replace('"rows":', '"rows": ').encode()  # same data, one extra space
    data = resealed(good_bytes, lambda doc: None, raw=raw)
    refused(tmp_path, data, EncodingFileError, "not in canonical form")


def test_a_header_that_is_not_json_is_refused(tmp_path: Path, good_bytes: bytes) -> None:
    data = resealed(good_bytes, lambda doc: None, raw=b"\xff not json")
    refused(tmp_path, data, EncodingFileError, "not valid UTF-8 JSON")


# -- fuzzing: whatever the damage, only EncodingFileError comes out -----------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@given(data=st.data())
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_changed_byte_is_refused(
    tmp_path: Path, good_bytes: bytes, data: st.DataObject
) -> None:
    offset = data.draw(st.integers(0, len(good_bytes) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda v: v != good_bytes[offset]))
    damaged = good_bytes[:offset] + bytes([value]) + good_bytes[offset + 1 :]
    with pytest.raises(EncodingFileError) as info:
        open_bytes(tmp_path, damaged)
    assert str(tmp_path / "crm.hme") in str(info.value)
    # Without the checksum: refused or opened, but never another exception.
    with contextlib.suppress(EncodingFileError):
        open_bytes(tmp_path, damaged, verify=False).close()


@given(data=st.data())
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_truncation_is_refused(tmp_path: Path, good_bytes: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(good_bytes) - 1))
    with pytest.raises(EncodingFileError, match="truncated|empty") as info:
        open_bytes(tmp_path, good_bytes[:cut])
    assert type(info.value) is EncodingFileError


HEADER_KEYS = (
    "clk_bits", "created", "encoder_version", "extra", "field_names", "file_length",
    "format_version", "hashmatch_version", "party", "rows", "schema_fingerprint",
    "secret_commitment", "sections", "segments", "token_names",
)  # fmt: skip


def test_header_keys_are_the_documented_ones(good_bytes: bytes) -> None:
    assert tuple(sorted(header_of(good_bytes))) == HEADER_KEYS


@given(key=st.sampled_from(HEADER_KEYS), value=json_values)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_crafted_header_value_is_refused_or_valid(
    tmp_path: Path, good_bytes: bytes, key: str, value: Any
) -> None:
    """Checksum recomputed, so only the header checks stand between this and a crash."""
    try:
        data = resealed(good_bytes, _set(key, value))
    except AssertionError:  # the crafted header no longer fits before the body
        return
    try:
        open_bytes(tmp_path, data).close()
    except EncodingFileError as exc:
        assert type(exc) is EncodingFileError
        assert "malformed header" in str(exc)
