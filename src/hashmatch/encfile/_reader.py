"""Reading .hme files: validate the structure, verify the checksum, memory-map the arrays.

Checks run from the cheapest to the dearest, and each failure has its own message naming
the file: magic (foreign file), format version and flags (newer hashmatch), header length
and trailer (truncated, trailing bytes), SHA-256 over the content (tampered or
corrupted), then the header's own consistency. The arrays are read-only views into one
memory map of the file, so opening a file of any size costs only the checksum pass.
"""

from __future__ import annotations

import functools
import hashlib
import mmap
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import MappingProxyType, TracebackType
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from hashmatch.errors import EncodingFileError, TamperedFileError

from ._layout import (
    END_MAGIC,
    KNOWN_FLAGS,
    MAGIC,
    MAX_HEADER_BYTES,
    PREAMBLE,
    PRESENT_SECTION,
    READABLE_VERSIONS,
    ROW_TOKENS_SECTION,
    TOKEN_SECTION_PREFIX,
    TRAILER,
    Header,
    HeaderProblem,
    align,
    header_from_json,
)

#: Bytes hashed per read while verifying: bounded memory whatever the file size.
_HASH_CHUNK = 4 << 20
_UPGRADE = "upgrade hashmatch (pip install -U hashmatch) to read it"


class EncodingFile:
    """An open, validated encoding file. Use :meth:`open`, ideally as a context manager.

    Example
    -------
    >>> import numpy as np, tempfile, pathlib
    >>> from hashmatch.encfile import EncodingWriter
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.hme"
    >>> with EncodingWriter(out, party="a", schema_fingerprint="sha256:00", clk_bits=64,
    ...                     segments=[], token_names=[], field_names=["name"]) as w:
    ...     w.append(np.full((3, 1), 5, np.uint64), {}, np.ones((3, 1), bool),
    ...              np.zeros((3, 16), np.uint8))
    >>> with EncodingFile.open(out) as f:
    ...     print(f.header.party, f.clks.shape, int(f.clks[0, 0]))
    a (3, 1) 5
    """

    def __init__(self, path: Path, fh: IO[bytes], header: Header, digest: bytes) -> None:
        # Private: EncodingFile.open() validates before constructing.
        self.path = path
        self.header = header
        self._fh: IO[bytes] | None = fh
        self._digest = digest

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, verify: bool = True) -> EncodingFile:
        """Open and validate ``path``; with ``verify`` (default) also check the SHA-256.

        ``verify=False`` skips only the checksum pass (fast header reads, e.g. to compare
        files before linking); structure and header are still validated.

        Raises
        ------
        EncodingFileError
            Missing, not an .hme file, written by a newer hashmatch, truncated, or with
            unexpected trailing bytes or a malformed header.
        TamperedFileError
            The content does not match its checksum (modified or corrupted on the way).
        """
        path = Path(path)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - kept open for the memory map
        except FileNotFoundError:
            raise EncodingFileError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise EncodingFileError(f"{path}: is a directory, not an encoding file") from None
        except OSError as exc:
            raise EncodingFileError(f"{path}: cannot be read ({exc.strerror})") from None
        try:
            header, digest = _validate(fh, path, verify)
        except BaseException:
            fh.close()
            raise
        return cls(path, fh, header, digest)

    # -- arrays ------------------------------------------------------------------------

    @property
    def clks(self) -> npt.NDArray[np.uint64]:
        """CLK bit matrix, read-only ``uint64[rows, clk_bits/64]`` (little-endian words)."""
        return self._section("clk")

    @property
    def row_tokens(self) -> npt.NDArray[np.uint8]:
        """Opaque row tokens, read-only ``uint8[rows, 16]``."""
        return self._section(ROW_TOKENS_SECTION)

    def token(self, name: str) -> npt.NDArray[np.uint8]:
        """Exact-token column ``name``, read-only ``uint8[rows, 16]`` (all-zero = missing)."""
        if name not in self.header.token_names:
            msg = f"{self.path}: no exact token {name!r} (has {list(self.header.token_names)})"
            raise KeyError(msg)
        return self._section(TOKEN_SECTION_PREFIX + name)

    @property
    def tokens(self) -> Mapping[str, npt.NDArray[np.uint8]]:
        """Every exact-token column by name, in file order."""
        return MappingProxyType({name: self.token(name) for name in self.header.token_names})

    @property
    def present_packed(self) -> npt.NDArray[np.uint8]:
        """Validity bits as stored: ``uint8[rows, ceil(n_fields/8)]``, field f = bit f%8 of
        byte f//8 (least significant first). See :func:`unpack_present`."""
        return self._section(PRESENT_SECTION)

    @functools.cached_property
    def present(self) -> npt.NDArray[np.bool_]:
        """Read-only ``bool[rows, n_fields]``: field f of a row had a valid value.

        Unpacked on first use (1 byte per field and row); for huge files prefer
        :func:`unpack_present` on slices of :attr:`present_packed`.
        """
        out = unpack_present(self.present_packed, len(self.header.field_names))
        out.flags.writeable = False
        return out

    def iter_chunks(self, rows: int = 1_000_000) -> Iterator[tuple[int, int]]:
        """Yield ``(start, stop)`` row ranges of at most ``rows`` rows covering the file.

        Slice the arrays with them (``f.clks[start:stop]``) to work in bounded memory:
        once the caller moves on, the chunk's pages are dropped from this process's memory
        map (they stay in the OS page cache, and views taken earlier stay valid), so the
        resident size stays near one chunk even for files larger than RAM.
        """
        if rows <= 0:
            msg = f"rows must be positive, got {rows}"
            raise ValueError(msg)
        for start in range(0, self.header.rows, rows):
            stop = min(start + rows, self.header.rows)
            yield start, stop
            self._release_rows(start, stop)

    def _release_rows(self, start: int, stop: int) -> None:
        """Tell the kernel this process is done with rows [start, stop) of every section."""
        mapping = getattr(self.__dict__.get("_map"), "_mmap", None)  # numpy's mmap object
        if mapping is None or mapping.closed or not hasattr(mmap, "MADV_DONTNEED"):
            return
        for sec in self.header.sections:
            row_bytes = sec.length // self.header.rows
            first = (sec.offset + start * row_bytes) // mmap.PAGESIZE * mmap.PAGESIZE
            end = sec.offset + stop * row_bytes
            if end > first:
                # Read-only file mapping: dropped pages simply fault back in if touched.
                mapping.madvise(mmap.MADV_DONTNEED, first, end - first)

    @property
    def digest(self) -> str:
        """Hex SHA-256 of the content (everything before the trailer), from the trailer.

        Verified when the file was opened with ``verify=True``; a stable content id for
        reports and signatures.
        """
        return self._digest.hex()

    def __len__(self) -> int:
        return self.header.rows

    def __repr__(self) -> str:
        h = self.header
        return f"<EncodingFile {self.path} party={h.party!r} rows={h.rows} clk_bits={h.clk_bits}>"

    # -- lifetime ----------------------------------------------------------------------

    def close(self) -> None:
        """Release the file. Arrays already handed out stay valid until dropped."""
        self.__dict__.pop("_map", None)
        self.__dict__.pop("present", None)
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> EncodingFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @functools.cached_property
    def _map(self) -> np.memmap[Any, np.dtype[np.uint8]]:
        if self._fh is None:
            msg = f"{self.path}: the encoding file is closed"
            raise ValueError(msg)
        # Mapped from the descriptor that was verified, not by name: a file replaced on
        # disk meanwhile cannot slip in.
        return np.memmap(self._fh, dtype=np.uint8, mode="r", shape=(self.header.file_length,))

    def _section(self, name: str) -> npt.NDArray[Any]:
        sec = self.header.section(name)
        raw = self._map[sec.offset : sec.offset + sec.length]
        return raw.view(np.dtype(sec.dtype)).reshape(sec.shape)


def unpack_present(packed: npt.NDArray[np.uint8], n_fields: int) -> npt.NDArray[np.bool_]:
    """Unpack ``present`` bits (``uint8[rows, ceil(n_fields/8)]``) to ``bool[rows, n_fields]``."""
    bits = np.unpackbits(packed, axis=1, count=n_fields, bitorder="little")
    return bits.view(np.bool_)


def verify_file(path: str | os.PathLike[str]) -> Header:
    """Fully validate ``path`` (structure, header, SHA-256) and return its header.

    Raises :class:`EncodingFileError` or :class:`TamperedFileError`; never returns a
    falsy "invalid" result that a caller could ignore.
    """
    with EncodingFile.open(path, verify=True) as f:
        return f.header


def _validate(fh: IO[bytes], path: Path, verify: bool) -> tuple[Header, bytes]:
    size = os.fstat(fh.fileno()).st_size
    pre = fh.read(PREAMBLE.size)
    _check_magic(path, pre)
    if len(pre) < PREAMBLE.size:
        raise EncodingFileError(f"{path}: truncated ({size} bytes, not even a full preamble)")
    _, version, flags, header_len = PREAMBLE.unpack(pre)
    if version not in READABLE_VERSIONS:
        if version > READABLE_VERSIONS[-1]:
            raise EncodingFileError(
                f"{path}: written in encoding-file format version {version}; this hashmatch "
                f"reads versions up to {READABLE_VERSIONS[-1]}",
                hint=_UPGRADE + " (if it was written by this release, the file is damaged)",
            )
        raise EncodingFileError(f"{path}: invalid format version {version} (damaged file)")
    if flags & ~KNOWN_FLAGS:
        raise EncodingFileError(
            f"{path}: uses features unknown to this hashmatch (flags {flags:#x})", hint=_UPGRADE
        )
    if header_len > MAX_HEADER_BYTES:
        raise EncodingFileError(f"{path}: damaged (header length out of range)")
    raw = fh.read(header_len)
    if len(raw) < header_len:
        raise EncodingFileError(f"{path}: truncated ({size} bytes; the header is incomplete)")
    digest = _check_trailer(fh, path, size, raw)
    if verify:
        _check_digest(fh, path, size - TRAILER.size, digest)
    try:
        header = header_from_json(raw)
    except HeaderProblem as exc:
        raise EncodingFileError(f"{path}: malformed header ({exc})") from None
    if header.format_version != version:
        raise EncodingFileError(f"{path}: malformed header (format_version disagrees)")
    if header.file_length != size:
        raise EncodingFileError(f"{path}: malformed header (file_length disagrees)")
    if header.sections[0].offset < align(PREAMBLE.size + header_len):
        raise EncodingFileError(f"{path}: malformed header (sections overlap the header)")
    return header, digest


def _check_magic(path: Path, pre: bytes) -> None:
    head = pre[: len(MAGIC)]
    if head == MAGIC:
        return
    if not pre:
        raise EncodingFileError(f"{path}: empty file, not an encoding file (.hme)")
    if len(head) < len(MAGIC) and MAGIC.startswith(head):
        raise EncodingFileError(f"{path}: truncated ({len(pre)} bytes)")
    from hashmatch.seal.envelope import MAGIC as SEALED_MAGIC  # lazy: only this error path needs it

    if head == SEALED_MAGIC:
        raise EncodingFileError(
            f"{path}: is a sealed (encrypted) encoding file",
            hint="the coordinator opens it with its key (hashmatch link --key coord.key)",
        )
    hint = "encoding files are written by `hashmatch encode`"
    if _looks_like_text(pre):
        hint = "this looks like a text file (a CSV?); run `hashmatch encode` on it first"
    raise EncodingFileError(
        f"{path}: not a hashmatch encoding file (.hme): wrong magic bytes", hint=hint
    )


def _looks_like_text(data: bytes) -> bool:
    for cut in range(4):  # the sample may end inside a multi-byte character
        try:
            text = data[: len(data) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        return all(ch.isprintable() or ch in "\t\r\n" for ch in text)
    return False


def _check_trailer(fh: IO[bytes], path: Path, size: int, raw_header: bytes) -> bytes:
    """Return the stored digest; on a broken trailer, say whether bytes are missing or extra."""
    if size >= PREAMBLE.size + len(raw_header) + TRAILER.size:
        fh.seek(size - TRAILER.size)
        digest, length, end = TRAILER.unpack(fh.read(TRAILER.size))
        if end == END_MAGIC and length == size:
            return bytes(digest)
    try:  # the header (not yet verified) tells how long the file should be
        expected = header_from_json(raw_header).file_length
    except HeaderProblem:
        raise EncodingFileError(
            f"{path}: truncated or damaged (no valid end marker)",
            hint="copy the file again from its source",
        ) from None
    if size < expected:
        raise EncodingFileError(
            f"{path}: truncated ({size} of {expected} bytes)",
            hint="the copy or the write was interrupted; copy or encode it again",
        )
    if size > expected:
        raise EncodingFileError(
            f"{path}: {size - expected} unexpected bytes after the end of the encoding data",
            hint="the file was appended to or concatenated with another; use the original",
        )
    raise TamperedFileError(f"{path}: the trailer was modified (end marker or length)")


def _check_digest(fh: IO[bytes], path: Path, content_len: int, expected: bytes) -> None:
    sha = hashlib.sha256()
    buf = bytearray(_HASH_CHUNK)
    view = memoryview(buf)
    fh.seek(0)
    remaining = content_len
    while remaining:
        n = fh.readinto(view[: min(remaining, _HASH_CHUNK)])  # type: ignore[attr-defined]
        if not n:
            raise EncodingFileError(f"{path}: truncated while being read")
        sha.update(view[:n])
        remaining -= n
    if sha.digest() != expected:
        raise TamperedFileError(
            f"{path}: checksum mismatch: the file was modified or corrupted after it was written",
            hint="do not use it; ask the party for a fresh copy",
        )
