"""Atomic writes: complete file or none, never a stray temporary file."""

from __future__ import annotations

import doctest
import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

import hashmatch.atomic
from hashmatch.atomic import atomic_write, atomic_write_bytes, atomic_write_text
from hashmatch.errors import OutputError


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_text_and_bytes_land_under_the_final_name(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "a.txt", "héllo\n")
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    assert (tmp_path / "a.txt").read_bytes() == "héllo\n".encode()
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_text_mode_honours_newline(tmp_path: Path) -> None:
    with atomic_write(tmp_path / "a.csv", "w", newline="") as fh:
        fh.write("a,b\r\n")
    assert (tmp_path / "a.csv").read_bytes() == b"a,b\r\n"


def test_content_is_invisible_until_the_block_ends(tmp_path: Path) -> None:
    dest = tmp_path / "out.bin"
    with atomic_write(dest) as fh:
        fh.write(b"partial")
        assert not dest.exists()
        (tmp,) = tmp_path.iterdir()
        assert tmp.name.startswith(".hashmatch-tmp-") and tmp.name.endswith(".out.bin")
        assert f"-{os.getpid()}-" in tmp.name  # a later run can tell whether we still run
    assert dest.read_bytes() == b"partial"


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_an_exception_keeps_the_old_file_and_removes_the_temp(
    tmp_path: Path, exc: type[BaseException]
) -> None:
    dest = tmp_path / "out.txt"
    dest.write_text("old")
    with pytest.raises(exc), atomic_write(dest, "w") as fh:
        fh.write("new")
        raise exc
    assert dest.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_replaces_an_existing_file(tmp_path: Path) -> None:
    dest = tmp_path / "out.txt"
    dest.write_text("old")
    atomic_write_text(dest, "new")
    assert dest.read_text() == "new"


def test_overwrite_false_refuses_an_existing_file(tmp_path: Path) -> None:
    dest = tmp_path / "secret"
    dest.write_text("keep me")
    with pytest.raises(FileExistsError):
        atomic_write_text(dest, "other", overwrite=False)
    assert dest.read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]


def test_overwrite_false_loses_a_race_safely(tmp_path: Path) -> None:
    dest = tmp_path / "secret"
    with pytest.raises(FileExistsError), atomic_write(dest, overwrite=False) as fh:
        fh.write(b"mine")
        dest.write_bytes(b"theirs")  # another process wins while we write
    assert dest.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["secret"]


def test_permissions_are_set_at_creation(tmp_path: Path, umask_022: None) -> None:
    with atomic_write(tmp_path / "secret", permissions=0o600) as fh:
        assert stat.S_IMODE(os.fstat(fh.fileno()).st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "secret").stat().st_mode) == 0o600
    atomic_write_text(tmp_path / "public.txt", "x")
    assert stat.S_IMODE((tmp_path / "public.txt").stat().st_mode) == 0o644


def test_missing_directory_raises_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="nope/a.txt: No such file") as info:
        atomic_write_text(tmp_path / "nope" / "a.txt", "x")
    assert info.value.hint == "check the path: its folder must exist"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("target", ["folder", "fifo"])
def test_a_folder_or_fifo_is_never_replaced(tmp_path: Path, target: str) -> None:
    dest = tmp_path / "out"
    if target == "folder":
        dest.mkdir()
    else:
        os.mkfifo(dest)
    with pytest.raises(OutputError, match="out: it is a"):
        atomic_write_text(dest, "x")
    assert dest.is_dir() if target == "folder" else stat.S_ISFIFO(dest.stat().st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_full_disk_names_the_file_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "out.bin"
    dest.write_bytes(b"old")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError, match="out.bin: No space left on device") as info:
        atomic_write_bytes(dest, b"new")
    assert "free some space" in (info.value.hint or "")
    assert dest.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_a_write_error_inside_the_block_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="out.bin: No space left"), atomic_write(
        tmp_path / "out.bin"
    ):
        raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(PermissionError), atomic_write(tmp_path / "out.bin"):
        raise PermissionError(errno.EACCES, "Permission denied", "some-input.csv")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("mode", "kwargs", "message"),
    [("a", {}, "mode must be"), ("r+", {}, "mode must be"), ("wb", {"encoding": "utf-8"}, "text")],
)
def test_rejects_modes_that_are_not_fresh_writes(
    tmp_path: Path, mode: str, kwargs: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message), atomic_write(tmp_path / "a", mode, **kwargs):  # type: ignore[arg-type]
        pass
    assert list(tmp_path.iterdir()) == []


def test_docstring_examples_run() -> None:
    result = doctest.testmod(hashmatch.atomic)
    assert result.attempted > 0 and result.failed == 0
