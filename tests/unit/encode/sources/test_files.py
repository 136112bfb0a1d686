"""A data file as bytes: paths, standard input, pipes, gzip, and the errors of each."""

from __future__ import annotations

import gzip
import io
import os
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from hashmatch.encode.sources.files import HEAD_BYTES, InputFile
from hashmatch.errors import InputDataError

CONTENT = b"id,name\n" + b"".join(b"%d,Ann %d\n" % (i, i) for i in range(20_000))


def _read(file: InputFile) -> bytes:
    with file.open() as stream, file.reading():
        return stream.read()


def test_plain_and_gzip_files_give_their_content(tmp_path: Path) -> None:
    plain, packed = tmp_path / "a.csv", tmp_path / "a.csv.gz"
    plain.write_bytes(CONTENT)
    packed.write_bytes(gzip.compress(CONTENT))
    for path, kind in ((plain, "text"), (packed, "gzip")):
        file = InputFile(path)
        assert file.kind == kind and file.head == CONTENT[:HEAD_BYTES] and not file.complete
        assert _read(file) == _read(file) == CONTENT  # any number of passes
        assert file.position() == path.stat().st_size == file.total_bytes


def test_a_small_file_is_complete_in_its_head(tmp_path: Path) -> None:
    path = tmp_path / "a.csv.gz"
    path.write_bytes(gzip.compress(b"id\n1\n"))
    file = InputFile(path)
    assert file.head == b"id\n1\n" and file.complete


def test_standard_input_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(CONTENT)))
    file = InputFile("-")
    assert file.name == "<stdin>" and file.total_bytes is None
    assert file.read_head(10) == (CONTENT[:10], False)
    assert _read(file) == CONTENT and file.position() == len(CONTENT)
    with pytest.raises(InputDataError, match="read only once"):
        _read(file)


def test_gzip_on_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(gzip.compress(CONTENT))))
    file = InputFile("-")
    assert file.kind == "gzip" and file.head == CONTENT[:HEAD_BYTES]
    assert _read(file) == CONTENT


def test_a_pipe_is_read_like_standard_input(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)

    def feed() -> None:
        with fifo.open("wb") as fh:
            fh.write(CONTENT)

    writer = threading.Thread(target=feed)
    writer.start()
    file = InputFile(fifo)
    assert file.total_bytes is None and _read(file) == CONTENT
    writer.join()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "file not found"),
        (lambda p: p.parent, "is a directory"),
        (lambda p: Path(os.devnull), "not a regular file"),
    ],
)
def test_paths_that_are_no_data_file(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(InputDataError, match=message):
        InputFile(make(tmp_path / "none.csv"))


def test_an_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(CONTENT)

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "open", denied)  # as for a file of mode 000 (root reads all)
    with pytest.raises(InputDataError, match="cannot be read \\(permission denied\\)"):
        InputFile(path)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[: len(data) // 2], "ends early"),
        (lambda data: data[:2000] + bytes(1000) + data[3000:], "corrupt"),
    ],
)
def test_a_damaged_gzip_file_is_named_not_a_traceback(tmp_path: Path, damage, message) -> None:
    path = tmp_path / "a.csv.gz"
    path.write_bytes(damage(gzip.compress(CONTENT)))
    file = InputFile(path)  # the head decompresses
    with pytest.raises(InputDataError, match=message) as err:
        _read(file)
    assert str(path) in str(err.value)
