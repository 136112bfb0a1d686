"""EncodingWriter's I/O paths: the mapped copy, its read fallback, row packing of present."""

from __future__ import annotations

import hashlib
import io
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hashmatch.encfile import EncodingFile, EncodingWriter, _writer, verify_file

FIELDS = tuple(f"f{i}" for i in range(11))  # 11 fields: the packed rows need padding
TOKENS = ("email", "dob")


def chunks(seed: int, sizes: tuple[int, ...]) -> list[tuple[Any, ...]]:
    rng = np.random.default_rng(seed)
    return [
        (
            rng.integers(0, 2**63, (n, 2), dtype=np.uint64),
            {t: rng.integers(0, 256, (n, 16), dtype=np.uint8) for t in TOKENS},
            rng.random((n, len(FIELDS))) < 0.6,
            rng.integers(0, 256, (n, 16), dtype=np.uint8),
        )
        for n in sizes
    ]


def write(path: Path, seed: int = 3, sizes: tuple[int, ...] = (70, 0, 1, 300)) -> bytes:
    with EncodingWriter(
        path,
        party="a",
        schema_fingerprint="sha256:00",
        clk_bits=128,
        segments=[("f0", 0, 128)],
        token_names=TOKENS,
        field_names=FIELDS,
        created=datetime(2026, 1, 1, tzinfo=UTC),
    ) as w:
        for chunk in chunks(seed, sizes):
            w.append(*chunk)
    return path.read_bytes()


def refuse_mmap(*args: Any, **kwargs: Any) -> Any:
    raise OSError("no mmap on this file system")


def test_unmappable_spills_are_copied_through_a_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mapped = write(tmp_path / "mapped.hme")
    with monkeypatch.context() as m:
        m.setattr(_writer.mmap, "mmap", refuse_mmap)
        read = write(tmp_path / "read.hme")
    assert read == mapped
    verify_file(tmp_path / "read.hme")


def test_sections_longer_than_a_copy_piece_are_copied_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = write(tmp_path / "whole.hme")
    # not a multiple of any row size; mapped pieces round it up to whole pages (4096)
    monkeypatch.setattr(_writer, "_COPY_CHUNK", 1000)
    assert write(tmp_path / "pieces.hme") == whole
    with monkeypatch.context() as m:
        m.setattr(_writer.mmap, "mmap", refuse_mmap)
        read = write(tmp_path / "read.hme")
    assert read == whole


@pytest.mark.parametrize("mappable", [True, False])
def test_a_short_spill_is_an_error_not_a_short_file(
    monkeypatch: pytest.MonkeyPatch, mappable: bool
) -> None:
    if not mappable:
        monkeypatch.setattr(_writer.mmap, "mmap", refuse_mmap)
    digest = _writer._Digest()
    with tempfile.TemporaryFile() as spill:
        spill.write(b"x" * 100)
        spill.flush()
        with pytest.raises(OSError, match="shorter"):
            _writer._copy(spill, io.BytesIO(), digest, 101)
    digest.close()


@pytest.mark.parametrize("mappable", [True, False])
def test_copy_hashes_exactly_the_bytes_it_writes(
    monkeypatch: pytest.MonkeyPatch, mappable: bool
) -> None:
    """Pieces are hashed on the digest's thread while they are written: the digest is
    still that of the bytes written, in order, over many pieces (small ones here)."""
    if not mappable:
        monkeypatch.setattr(_writer.mmap, "mmap", refuse_mmap)
    monkeypatch.setattr(_writer, "_COPY_CHUNK", 2 * _writer.mmap.ALLOCATIONGRANULARITY)
    data = bytes(range(256)) * 1000
    for length in (0, 1, 5000, 3 * _writer.mmap.ALLOCATIONGRANULARITY + 7, len(data)):
        digest, out = _writer._Digest(), io.BytesIO()
        with tempfile.TemporaryFile() as spill:
            spill.write(data)
            spill.flush()
            _writer._copy(spill, out, digest, length)
        assert out.getvalue() == data[:length]
        assert digest.digest() == hashlib.sha256(data[:length]).digest()
        digest.close()


class _FailingSink(io.BytesIO):
    def write(self, data: object) -> int:
        raise OSError("disk full")


def test_a_failed_write_waits_for_the_hash_before_the_piece_is_unmapped() -> None:
    """The write fails while the digest's thread reads the same mapped piece: the error
    comes back only once the thread is done with it (unmapping under it would crash)."""
    digest = _writer._Digest()
    with tempfile.TemporaryFile() as spill:
        spill.write(b"y" * (1 << 20))
        spill.flush()
        with pytest.raises(OSError, match="disk full"):
            _writer._copy(spill, _FailingSink(), digest, 1 << 20)
    assert digest._pending is None  # waited for
    digest.close()


@pytest.mark.parametrize("fields", [0, 1, 7, 8, 9, 16, 17])
def test_rows_pack_as_numpy_packs_each_row(fields: int) -> None:
    rng = np.random.default_rng(fields)
    present = rng.random((37, fields)) < 0.5
    expected = np.packbits(present, axis=1, bitorder="little")
    assert np.array_equal(_writer._pack_rows(present), expected.reshape(37, -1))
    strided = np.repeat(present, 2, axis=1)[:, ::2]  # not contiguous
    assert np.array_equal(_writer._pack_rows(strided), expected.reshape(37, -1))


def test_present_reads_back_after_packing(tmp_path: Path) -> None:
    write(tmp_path / "a.hme", seed=9, sizes=(5, 3))
    expected = np.concatenate([chunk[2] for chunk in chunks(9, (5, 3))])
    with EncodingFile.open(tmp_path / "a.hme") as f:
        assert np.array_equal(f.present, expected)
