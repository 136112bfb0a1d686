"""A party's data file as bytes: a path or ``-`` (standard input), plain or gzip-compressed.

:class:`InputFile` checks that the path can be read (missing, a directory, a device,
unreadable: each a clear error), reads its first bytes to tell what it holds
(:func:`hashmatch.encode.sources.detect.container`) and opens byte streams over its
content, decompressing gzip on the fly so memory stays bounded whatever the size.
Standard input and pipes can be read once: the first bytes read to detect the format
are replayed in front of the rest. Errors met while reading (a truncated or corrupt
gzip stream, an I/O error) become :class:`~hashmatch.errors.InputDataError` naming the
file, through :meth:`InputFile.reading`.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from hashmatch.encode.sources.detect import container
from hashmatch.errors import InputDataError

HEAD_BYTES = 64 << 10  # read first, to tell the format, encoding and delimiter
STDIN = "-"
_PATH_HINT = "pass the path of the party's CSV or Parquet file (or - for standard input)"
_COPY_HINT = "copy the file again (an interrupted copy or download?)"


class InputFile:
    """The bytes of a data file: its first bytes (``head``, decompressed), its ``kind``
    (``"text"``, ``"gzip"`` or ``"parquet"``) and fresh streams over its content."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.stdin = str(path) == STDIN
        self.path = Path(path)
        self.name = "<stdin>" if self.stdin else str(path)
        self.total_bytes: int | None = None
        self._replay: _Replay | None = None
        self._raw: IO[bytes] | None = None
        self._read = 0  # bytes the last stream read, once closed
        if self.stdin:
            self._replay = _Replay(sys.stdin.buffer)
        else:
            mode = self._stat()
            if stat.S_ISREG(mode):
                self.total_bytes = self.path.stat().st_size
            else:  # a pipe, e.g. <(zcat file): readable once, like standard input
                self._replay = _Replay(self._open_raw())
        raw = self._replay.head(HEAD_BYTES) if self._replay else self._read_raw_head()
        self.kind = container(raw, self.name)
        #: The first bytes of the (decompressed) content, and whether that is all of it.
        self.head, self.complete = raw, len(raw) < HEAD_BYTES
        if self.kind == "gzip":
            self.head, self.complete = self.read_head(HEAD_BYTES)

    def _stat(self) -> int:
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            raise InputDataError("file not found", file=self.name, hint=_PATH_HINT) from None
        except OSError as exc:
            raise self._unreadable(exc) from None
        if stat.S_ISDIR(mode):
            raise InputDataError(
                "is a directory, expected a CSV or Parquet file", file=self.name, hint=_PATH_HINT
            )
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            raise InputDataError(
                "is not a regular file (a device?)", file=self.name, hint=_PATH_HINT
            )
        return mode

    def _open_raw(self) -> IO[bytes]:
        try:
            return self.path.open("rb")
        except OSError as exc:
            raise self._unreadable(exc) from None

    def _unreadable(self, exc: OSError | zlib.error) -> InputDataError:
        reason = _reason(exc)
        hint = (
            "give this user read access to the file"
            if reason == "permission denied"
            else _COPY_HINT
        )
        return InputDataError(f"cannot be read ({reason})", file=self.name, hint=hint)

    def _read_raw_head(self) -> bytes:
        with self._open_raw() as fh, self.reading():
            return fh.read(HEAD_BYTES)

    def read_head(self, size: int) -> tuple[bytes, bool]:
        """The first ``size`` bytes of the (decompressed) content, and whether they are
        all of it. Standard input keeps what it read for the one pass of :meth:`open`."""
        if self._replay is None:
            with self.open() as stream, self.reading():
                data = stream.read(size + 1)
            return data[:size], len(data) <= size
        raw = self._replay.head(size + 1)
        if self.kind != "gzip":
            return raw[:size], len(raw) <= size
        try:
            data = zlib.decompressobj(wbits=31).decompress(raw, size + 1)
        except zlib.error:
            raise InputDataError(
                "not a readable gzip file (corrupt?)", file=self.name, hint=_COPY_HINT
            ) from None
        return data[:size], len(data) <= size and len(raw) <= size

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """A stream of the file's (decompressed) bytes from the start; standard input and
        pipes only once. :meth:`position` follows it."""
        if self._replay is not None:
            raw: IO[bytes] = self._replay.take(self.name)
        else:
            raw = self._open_raw()
        self._raw = raw
        with raw:
            try:
                if self.kind == "gzip":
                    with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                        yield unzipped  # type: ignore[misc]
                else:
                    yield raw
            finally:
                self._read = self.position()
                self._raw = None

    def position(self) -> int:
        """Bytes of the file (compressed, for gzip) read so far by the open stream."""
        if self._replay is not None:
            return self._replay.delivered
        raw = self._raw
        return raw.tell() if raw is not None and not raw.closed else self._read

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Turn a failed read (truncated gzip, I/O error) into an error naming the file."""
        try:
            yield
        except EOFError:
            raise InputDataError(
                "the gzip-compressed data ends early (a truncated file?)",
                file=self.name,
                hint=_COPY_HINT,
            ) from None
        except (OSError, zlib.error) as exc:
            raise self._unreadable(exc) from None


class _Replay(io.RawIOBase):
    """A one-pass byte stream whose first bytes can be peeked, then read again."""

    def __init__(self, stream: IO[bytes]) -> None:
        super().__init__()
        self._stream = stream
        self._head = b""
        self._offset = 0  # of the next byte of _head to deliver
        self._taken = False
        self.delivered = 0

    def head(self, size: int) -> bytes:
        """The first ``size`` bytes (fewer at the end), kept to be read again."""
        while len(self._head) < size:
            piece = self._stream.read(size - len(self._head))
            if not piece:
                break
            self._head += piece
        return self._head

    def take(self, name: str) -> IO[bytes]:
        if self._taken:
            msg = "standard input and pipes can be read only once"
            raise InputDataError(msg, file=name, hint="save the data to a file and pass its path")
        self._taken = True
        return io.BufferedReader(self)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._offset < len(self._head):
            piece = self._head[self._offset : self._offset + len(buffer)]
            self._offset += len(piece)
        else:
            piece = self._stream.read(len(buffer))
        buffer[: len(piece)] = piece
        self.delivered += len(piece)
        return len(piece)


def _reason(exc: OSError | zlib.error) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, gzip.BadGzipFile):
        return "corrupt gzip data"
    if isinstance(exc, zlib.error):
        return "corrupt compressed data"
    return exc.strerror or type(exc).__name__
