"""The .hme container: round trips, header, byte layout as documented, writer validation."""

from __future__ import annotations

import doctest
import hashlib
import importlib
import json
import re
import struct
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashmatch import FORMAT_VERSION, __version__
from hashmatch.encfile import (
    END_MAGIC,
    MAGIC,
    EncodingFile,
    EncodingWriter,
    Segment,
    unpack_present,
    verify_file,
)

FIELDS = ("first_name", "last_name", "dob", "email")
TOKENS = ("email", "surname_dob")
SEGMENTS = (("first_name", 0, 60), ("last_name", 60, 100), ("dob", 160, 32))
CLK_BITS = 192
FIXED_TIME = datetime(2026, 1, 2, 3, 4, 5, 999, tzinfo=UTC)


def writer(path: Path, **overrides: Any) -> EncodingWriter:
    kwargs: dict[str, Any] = {
        "party": "crm",
        "schema_fingerprint": "sha256:" + "ab" * 32,
        "encoder_version": 1,
        "clk_bits": CLK_BITS,
        "segments": SEGMENTS,
        "token_names": TOKENS,
        "field_names": FIELDS,
        "secret_commitment": "0f" * 32,
        "extra": {"note": {"nested": [1, 2]}},
        "created": FIXED_TIME,
    }
    kwargs.update(overrides)
    return EncodingWriter(path, **kwargs)


def random_chunk(rng: np.random.Generator, n: int, words: int = CLK_BITS // 64) -> dict[str, Any]:
    return {
        "clks": rng.integers(0, 2**64, (n, words), dtype=np.uint64, endpoint=False),
        "tokens": {t: rng.integers(0, 256, (n, 16), dtype=np.uint8) for t in TOKENS},
        "present": rng.random((n, len(FIELDS))) < 0.7,
        "row_tokens": rng.integers(0, 256, (n, 16), dtype=np.uint8),
    }


def write_file(path: Path, chunks: list[dict[str, Any]], **overrides: Any) -> None:
    with writer(path, **overrides) as w:
        for c in chunks:
            w.append(c["clks"], c["tokens"], c["present"], c["row_tokens"])


def concat(chunks: list[dict[str, Any]], key: str) -> Any:
    if key == "tokens":
        return {t: np.concatenate([c["tokens"][t] for c in chunks]) for t in TOKENS}
    return np.concatenate([c[key] for c in chunks])


@pytest.mark.parametrize("sizes", [[0], [1], [5, 0, 17, 3], [1000, 2500]])
def test_round_trip_over_several_appends(tmp_path: Path, sizes: list[int]) -> None:
    rng = np.random.default_rng(sum(sizes))
    chunks = [random_chunk(rng, n) for n in sizes]
    out = tmp_path / "crm.hme"
    write_file(out, chunks)
    with EncodingFile.open(out) as f:
        assert len(f) == f.header.rows == sum(sizes)
        np.testing.assert_array_equal(f.clks, concat(chunks, "clks"))
        np.testing.assert_array_equal(f.row_tokens, concat(chunks, "row_tokens"))
        np.testing.assert_array_equal(f.present, concat(chunks, "present"))
        for name, expected in concat(chunks, "tokens").items():
            np.testing.assert_array_equal(f.token(name), expected)
            np.testing.assert_array_equal(f.tokens[name], expected)


def test_arrays_are_read_only_little_endian_views_of_the_right_shape(tmp_path: Path) -> None:
    out = tmp_path / "a.hme"
    write_file(out, [random_chunk(np.random.default_rng(1), 40)])
    with EncodingFile.open(out) as f:
        assert isinstance(f.clks, np.memmap)
        assert f.clks.dtype == np.dtype("<u8")
        assert f.clks.shape == (40, CLK_BITS // 64)
        assert f.row_tokens.shape == f.token("email").shape == (40, 16)
        assert f.present.shape == (40, len(FIELDS))
        assert f.present.dtype == np.bool_
        assert f.present_packed.shape == (40, 1)
        for array in (f.clks, f.row_tokens, f.token("email"), f.present):
            with pytest.raises(ValueError, match="read-only"):
                array[0, 0] = 1


def test_header_records_every_field(tmp_path: Path) -> None:
    out = tmp_path / "a.hme"
    write_file(out, [random_chunk(np.random.default_rng(2), 7)])
    h = verify_file(out)
    assert h.format_version == FORMAT_VERSION
    assert h.encoder_version == 1
    assert h.hashmatch_version == __version__
    assert h.schema_fingerprint == "sha256:" + "ab" * 32
    assert h.party == "crm"
    assert h.rows == 7
    assert h.clk_bits == CLK_BITS and h.clk_words == 3
    assert h.segments == tuple(Segment(*s) for s in SEGMENTS)
    assert h.token_names == TOKENS
    assert h.field_names == FIELDS
    assert h.created == "2026-01-02T03:04:05Z"
    assert h.secret_commitment == "0f" * 32
    assert h.extra == {"note": {"nested": (1, 2)}}
    with pytest.raises(TypeError):
        h.extra["new"] = 1  # type: ignore[index]
    assert h.file_length == out.stat().st_size


def test_created_defaults_to_now_or_source_date_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    write_file(tmp_path / "now.hme", [], created=None)
    created = verify_file(tmp_path / "now.hme").created
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created)
    assert abs(datetime.strptime(created, "%Y-%m-%dT%H:%M:%S%z") - datetime.now(UTC)).seconds < 60
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    write_file(tmp_path / "epoch.hme", [], created=None)
    assert verify_file(tmp_path / "epoch.hme").created == "1970-01-01T00:00:00Z"


def test_same_content_gives_identical_bytes(tmp_path: Path) -> None:
    chunks = [random_chunk(np.random.default_rng(3), 50)]
    write_file(tmp_path / "a.hme", chunks)
    write_file(tmp_path / "b.hme", chunks[:1])
    assert (tmp_path / "a.hme").read_bytes() == (tmp_path / "b.hme").read_bytes()


def test_byte_layout_matches_the_documented_spec(tmp_path: Path) -> None:
    """An independent reader written from the spec alone, with struct and json."""
    chunk = random_chunk(np.random.default_rng(4), 9)
    out = tmp_path / "a.hme"
    write_file(out, [chunk])
    data = out.read_bytes()
    magic, version, flags, hlen = struct.unpack_from("<8sIIQ", data, 0)
    assert (
        (magic, version, flags)
        == (b"\x89HME\r\n\x1a\n", FORMAT_VERSION, 0)
        == (
            MAGIC,
            FORMAT_VERSION,
            0,
        )
    )
    raw = data[24 : 24 + hlen]
    header = json.loads(raw)
    assert raw == json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    names = [s["name"] for s in header["sections"]]
    assert names == ["clk", "row_tokens", "token:email", "token:surname_dob", "present"]
    for s in header["sections"]:
        assert s["offset"] % 64 == 0 and s["offset"] >= 24 + hlen
    clk = header["sections"][0]
    words = np.frombuffer(data, "<u8", count=9 * 3, offset=clk["offset"]).reshape(9, 3)
    np.testing.assert_array_equal(words, chunk["clks"])
    digest, length, end = struct.unpack_from("<32sQ8s", data, len(data) - 48)
    assert end == END_MAGIC == b"\x1aHMEEND\n"
    assert length == len(data) == header["file_length"]
    assert digest == hashlib.sha256(data[:-48]).digest()
    assert all(b == 0 for b in data[24 + hlen : header["sections"][0]["offset"]])


def test_present_bits_are_least_significant_first(tmp_path: Path) -> None:
    fields = tuple(f"f{i}" for i in range(10))
    present = np.zeros((2, 10), bool)
    present[0, 0] = present[0, 8] = present[1, 9] = True
    out = tmp_path / "a.hme"
    with writer(out, field_names=fields, segments=[], token_names=[]) as w:
        w.append(np.zeros((2, 3), np.uint64), {}, present, np.zeros((2, 16), np.uint8))
    with EncodingFile.open(out) as f:
        assert f.present_packed.tolist() == [[0b1, 0b01], [0, 0b10]]
        np.testing.assert_array_equal(f.present, present)
        np.testing.assert_array_equal(unpack_present(f.present_packed[1:], 10), present[1:])


def test_no_fields_and_no_tokens(tmp_path: Path) -> None:
    out = tmp_path / "a.hme"
    with writer(out, field_names=[], segments=[], token_names=[]) as w:
        w.append(np.ones((4, 3), np.uint64), {}, np.zeros((4, 0), bool), np.ones((4, 16), np.uint8))
    with EncodingFile.open(out) as f:
        assert f.present.shape == (4, 0)
        assert f.tokens == {}


def test_inputs_in_any_byte_order_or_layout_are_stored_as_little_endian(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    c = random_chunk(rng, 20)
    big = c["clks"].astype(">u8")
    strided = np.asfortranarray(c["row_tokens"])
    out = tmp_path / "a.hme"
    with writer(out) as w:
        w.append(big, c["tokens"], c["present"], strided)
    with EncodingFile.open(out) as f:
        np.testing.assert_array_equal(f.clks, c["clks"])
        np.testing.assert_array_equal(f.row_tokens, c["row_tokens"])


def test_iter_chunks_covers_every_row_once(tmp_path: Path) -> None:
    out = tmp_path / "a.hme"
    write_file(out, [random_chunk(np.random.default_rng(6), 25)])
    with EncodingFile.open(out) as f:
        assert list(f.iter_chunks(10)) == [(0, 10), (10, 20), (20, 25)]
        with pytest.raises(ValueError, match="positive"):
            next(f.iter_chunks(0))


def test_views_stay_valid_after_iter_chunks_releases_their_pages(tmp_path: Path) -> None:
    chunk = random_chunk(np.random.default_rng(13), 3000, words=16)
    out = tmp_path / "a.hme"
    write_file(out, [chunk], clk_bits=1024)
    with EncodingFile.open(out) as f:
        views = [(f.clks[a:b], f.token("email")[a:b]) for a, b in f.iter_chunks(1000)]
        for (clks, email), (a, b) in zip(
            views, [(0, 1000), (1000, 2000), (2000, 3000)], strict=True
        ):
            np.testing.assert_array_equal(clks, chunk["clks"][a:b])
            np.testing.assert_array_equal(email, chunk["tokens"]["email"][a:b])


def test_closed_file_refuses_new_views_but_old_views_survive(tmp_path: Path) -> None:
    chunk = random_chunk(np.random.default_rng(7), 5)
    out = tmp_path / "a.hme"
    write_file(out, [chunk])
    f = EncodingFile.open(out)
    clks = f.clks
    f.close()
    np.testing.assert_array_equal(clks, chunk["clks"])
    with pytest.raises(ValueError, match="closed"):
        _ = f.row_tokens


def test_unknown_token_name_is_a_key_error(tmp_path: Path) -> None:
    out = tmp_path / "a.hme"
    write_file(out, [])
    with EncodingFile.open(out) as f, pytest.raises(KeyError, match="phone"):
        f.token("phone")


def test_exception_inside_with_leaves_nothing_behind(tmp_path: Path) -> None:
    out = tmp_path / "a.hme"
    with pytest.raises(RuntimeError, match="boom"), writer(out) as w:
        c = random_chunk(np.random.default_rng(8), 10)
        w.append(c["clks"], c["tokens"], c["present"], c["row_tokens"])
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_failed_rewrite_keeps_the_previous_file(tmp_path: Path) -> None:
    out = tmp_path / "a.hme"
    write_file(out, [random_chunk(np.random.default_rng(9), 3)])
    before = out.read_bytes()
    with pytest.raises(KeyboardInterrupt), writer(out):
        raise KeyboardInterrupt
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.hme"]


def test_close_is_idempotent_and_append_after_close_fails(tmp_path: Path) -> None:
    w = writer(tmp_path / "a.hme")
    first = w.close()
    assert w.close() is first is w.header
    c = random_chunk(np.random.default_rng(10), 1)
    with pytest.raises(ValueError, match="after close"):
        w.append(c["clks"], c["tokens"], c["present"], c["row_tokens"])


def _bad_chunk(kind: str) -> tuple[Any, Mapping[str, Any], Any, Any]:
    c = random_chunk(np.random.default_rng(11), 4)
    clks, tokens, present, rows = c["clks"], dict(c["tokens"]), c["present"], c["row_tokens"]
    if kind == "clk_dtype":
        clks = clks.astype(np.int64)
    elif kind == "clk_words":
        clks = clks[:, :2]
    elif kind == "clk_1d":
        clks = clks[:, 0]
    elif kind == "token_missing":
        del tokens["email"]
    elif kind == "token_extra":
        tokens["phone"] = tokens["email"]
    elif kind == "token_rows":
        tokens["email"] = tokens["email"][:3]
    elif kind == "present_dtype":
        present = present.astype(np.uint8)
    elif kind == "present_fields":
        present = present[:, :3]
    elif kind == "row_tokens_width":
        rows = np.zeros((4, 8), np.uint8)
    elif kind == "not_array":
        rows = rows.tolist()
    return clks, tokens, present, rows


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("clk_dtype", "clks: expected dtype uint64, got int64"),
        ("clk_words", r"clks: expected shape \[4, 3\], got \[4, 2\]"),
        ("clk_1d", "clks: expected a 2-D numpy array"),
        ("token_missing", "tokens: expected keys"),
        ("token_extra", "tokens: expected keys"),
        ("token_rows", r"tokens\['email'\]: expected shape \[4, 16\]"),
        ("present_dtype", "present: expected dtype bool"),
        ("present_fields", r"present: expected shape \[4, 4\]"),
        ("row_tokens_width", r"row_tokens: expected shape \[4, 16\]"),
        ("not_array", "row_tokens: expected a numpy array"),
    ],
)
def test_append_validates_before_writing(tmp_path: Path, kind: str, message: str) -> None:
    out = tmp_path / "a.hme"
    with writer(out) as w:
        with pytest.raises(ValueError, match=message):
            w.append(*_bad_chunk(kind))
        assert w.rows == 0
    assert verify_file(out).rows == 0  # a rejected chunk left no partial rows


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"clk_bits": 100}, "clk_bits: expected a positive multiple of 64"),
        ({"party": ""}, "party: expected a non-empty printable string"),
        ({"party": "a\nb"}, "party: expected a non-empty printable string"),
        ({"field_names": ["First Name"]}, r"field_names\[0\]: expected a name"),
        ({"token_names": ["email", "email"]}, "token_names: names must be unique"),
        ({"segments": [("first_name", 0, 100), ("dob", 50, 10)]}, r"segments\[1\]: overlaps"),
        ({"segments": [("first_name", 150, 100)]}, r"segments\[0\]: overlaps .* past clk_bits"),
        ({"segments": [("phone", 0, 64)]}, r"segments\[0\].field: not one of field_names"),
        ({"secret_commitment": "XYZ"}, "secret_commitment: expected lower-case hex"),
        ({"encoder_version": 0}, "encoder_version: expected an integer >= 1"),
        ({"extra": {"x": float("nan")}}, "extra: expected JSON-serialisable"),
        ({"extra": {"x": object()}}, "extra: expected JSON-serialisable"),
        ({"created": datetime(2026, 1, 1)}, "created: expected a timezone-aware datetime"),  # noqa: DTZ001
    ],
)
def test_writer_rejects_invalid_header_fields(
    tmp_path: Path, override: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        writer(tmp_path / "a.hme", **override)
    assert list(tmp_path.iterdir()) == []


def test_writer_needs_an_existing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        writer(tmp_path / "missing" / "a.hme")


def test_a_larger_file_round_trips_in_chunks(tmp_path: Path) -> None:
    rng = np.random.default_rng(12)
    chunks = [random_chunk(rng, 50_000, words=16) for _ in range(4)]
    out = tmp_path / "big.hme"
    write_file(out, chunks, clk_bits=1024)
    with EncodingFile.open(out) as f:
        for start, stop in f.iter_chunks(60_000):
            np.testing.assert_array_equal(f.clks[start:stop], concat(chunks, "clks")[start:stop])
        np.testing.assert_array_equal(f.present, concat(chunks, "present"))


def test_a_large_header_still_lays_out(tmp_path: Path) -> None:
    fields = tuple(f"field_{i:03d}" for i in range(300))
    tokens = tuple(f"token_{i:03d}" for i in range(100))
    out = tmp_path / "wide.hme"
    with writer(out, field_names=fields, token_names=tokens, segments=[]) as w:
        w.append(
            np.ones((3, 3), np.uint64),
            {t: np.full((3, 16), i % 256, np.uint8) for i, t in enumerate(tokens)},
            np.eye(3, 300, dtype=bool),
            np.zeros((3, 16), np.uint8),
        )
    with EncodingFile.open(out) as f:
        assert f.header.sections[0].offset > 4096  # the header alone is several KiB
        assert int(f.token("token_099")[2, 0]) == 99
        assert f.present[:, :3].tolist() == np.eye(3, dtype=bool).tolist()


@given(
    rows=st.lists(st.integers(0, 40), min_size=1, max_size=4),
    words=st.integers(1, 5),
    n_tokens=st.integers(0, 3),
    n_fields=st.integers(0, 17),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=40, deadline=None)
def test_round_trip_property(
    rows: list[int], words: int, n_tokens: int, n_fields: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    fields = [f"f{i}" for i in range(n_fields)]
    tokens = [f"t{i}" for i in range(n_tokens)]
    chunks = [
        (
            rng.integers(0, 2**64, (n, words), dtype=np.uint64, endpoint=False),
            {t: rng.integers(0, 256, (n, 16), dtype=np.uint8) for t in tokens},
            rng.random((n, n_fields)) < 0.5,
            rng.integers(0, 256, (n, 16), dtype=np.uint8),
        )
        for n in rows
    ]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "p.hme"
        with EncodingWriter(
            out,
            party="p",
            schema_fingerprint="fp",
            clk_bits=64 * words,
            segments=[],
            token_names=tokens,
            field_names=fields,
        ) as w:
            for chunk in chunks:
                w.append(*chunk)
        with EncodingFile.open(out) as f:
            assert f.header.rows == sum(rows)
            np.testing.assert_array_equal(f.clks, np.concatenate([c[0] for c in chunks]))
            np.testing.assert_array_equal(f.present, np.concatenate([c[2] for c in chunks]))
            np.testing.assert_array_equal(f.row_tokens, np.concatenate([c[3] for c in chunks]))
            for t in tokens:
                np.testing.assert_array_equal(f.token(t), np.concatenate([c[1][t] for c in chunks]))
            assert all(s.offset % 64 == 0 for s in f.header.sections)


@pytest.mark.parametrize("module", ["_writer", "_reader", "_layout"])
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"hashmatch.encfile.{module}"))
    assert result.attempted > 0 and result.failed == 0
