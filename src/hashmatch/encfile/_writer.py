"""Streaming, atomic writer of .hme files.

Rows arrive in chunks (``append``) but the file stores each array as one contiguous
section, so every section is spilled to its own anonymous temporary file in the
destination directory while rows arrive (memory stays bounded by one chunk), and
``close`` assembles preamble, header, sections and trailer into the destination through
:func:`hashmatch.atomic.atomic_write`, hashing as it copies. Nothing appears under the
destination name unless ``close`` succeeds; the spill files vanish with the writer.

``close`` maps each spill and hands the mapping, piece by piece, to SHA-256 and to
``write``: no copy through a Python buffer (a spill that cannot be mapped is read through
one). Both release the GIL, so a piece is hashed on a second thread while it is written:
``close`` takes the longer of the two instead of their sum (86 MB: ~0.08 s of hashing
beside ~0.15 s of writing). Kernel-side copies (``os.copy_file_range``, ``os.sendfile``)
measured slower than ``write`` from the mapping on Linux/ext4, and the bytes must be read
for the hash anyway.
"""

from __future__ import annotations

import dataclasses
import hashlib
import mmap
import os
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from hashmatch._types import Segment
from hashmatch._version import ENCODER_VERSION, FORMAT_VERSION, __version__
from hashmatch.atomic import atomic_write

from ._layout import (
    END_MAGIC,
    MAGIC,
    PREAMBLE,
    TOKEN_BYTES,
    TRAILER,
    Header,
    Section,
    align,
    canonical_json,
    check_metadata,
    expected_sections,
    freeze,
    present_bytes,
)

_COPY_CHUNK = 4 << 20


class EncodingWriter:
    """Write an encoding file chunk by chunk; it appears atomically on :meth:`close`.

    Parameters
    ----------
    path:
        Destination ``.hme`` file (its directory must exist; an existing file is replaced),
        or an open binary file that receives the bytes on :meth:`close` (an anonymous
        file, see :mod:`hashmatch.anonymous_file`; spills then go to anonymous files too).
    party, schema_fingerprint, encoder_version, clk_bits, segments, token_names,
    field_names, secret_commitment:
        Header fields (see :class:`~hashmatch.encfile.Header`). ``segments`` accepts
        :class:`~hashmatch.encfile.Segment` objects or ``(field, start, bits)`` tuples.
    extra:
        JSON-serialisable mapping stored as the header's ``extra`` (extension point).
    created:
        Creation time to record; default now, or ``SOURCE_DATE_EPOCH`` when set
        (reproducible files).

    Raises
    ------
    ValueError
        A header field is invalid (the message names it), or a chunk passed to
        :meth:`append` has the wrong shape or dtype. These are programming errors.

    Example
    -------
    >>> import numpy as np, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.hme"
    >>> with EncodingWriter(out, party="a", schema_fingerprint="sha256:00", clk_bits=64,
    ...                     segments=[("name", 0, 64)], token_names=["email"],
    ...                     field_names=["name", "email"]) as w:
    ...     w.append(np.zeros((2, 1), np.uint64), {"email": np.zeros((2, 16), np.uint8)},
    ...              np.ones((2, 2), bool), np.ones((2, 16), np.uint8))
    >>> w.header.rows
    2
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | IO[bytes],
        *,
        party: str,
        schema_fingerprint: str,
        clk_bits: int,
        segments: Sequence[Segment | tuple[str, int, int]],
        token_names: Sequence[str],
        field_names: Sequence[str],
        secret_commitment: str = "",
        encoder_version: int = ENCODER_VERSION,
        extra: Mapping[str, Any] | None = None,
        created: datetime | None = None,
    ) -> None:
        self._sink = None if isinstance(path, (str, os.PathLike)) else path
        self.path = Path("<stream>") if self._sink is not None else Path(path)  # type: ignore[arg-type]
        self._base = new_header(
            party=party,
            schema_fingerprint=schema_fingerprint,
            clk_bits=clk_bits,
            segments=segments,
            token_names=token_names,
            field_names=field_names,
            secret_commitment=secret_commitment,
            encoder_version=encoder_version,
            extra=extra,
            created=created,
        )
        if self._sink is None and not self.path.parent.is_dir():
            msg = f"cannot write {self.path}: directory {self.path.parent} does not exist"
            raise FileNotFoundError(msg)
        if self._sink is None and self.path.is_dir():  # fail now, not after all rows spilled
            msg = f"cannot write {self.path}: it is a directory"
            raise IsADirectoryError(msg)
        self._rows = 0
        self._spills: dict[str, IO[bytes]] = {}
        for name, _, _ in expected_sections(0, clk_bits, token_names, len(field_names)):
            # Anonymous (O_TMPFILE on Linux): never visible, gone even after a crash.
            spill_dir = self.path.parent if self._sink is None else None
            self._spills[name] = tempfile.TemporaryFile(dir=spill_dir)  # noqa: SIM115
        self._header: Header | None = None

    # -- streaming ---------------------------------------------------------------------

    def append(
        self,
        clks: npt.NDArray[np.uint64],
        tokens: Mapping[str, npt.NDArray[np.uint8]],
        present: npt.NDArray[np.bool_],
        row_tokens: npt.NDArray[np.uint8],
    ) -> None:
        """Add ``n`` rows: CLKs ``uint64[n, clk_bits/64]``, one ``uint8[n, 16]`` array per
        token name (all-zero = missing), ``bool[n, n_fields]`` validity, ``uint8[n, 16]``
        row tokens. All arrays are validated before anything is written."""
        if self._header is not None or not self._spills:
            msg = "append() after close() or after a failure"
            raise ValueError(msg)
        b = self._base
        n = _rows_of(clks, "clks")
        _check_array("clks", clks, np.uint64, (n, b.clk_words))
        _check_array("row_tokens", row_tokens, np.uint8, (n, TOKEN_BYTES))
        _check_array("present", present, np.bool_, (n, len(b.field_names)))
        if not isinstance(tokens, Mapping) or set(tokens) != set(b.token_names):
            got = sorted(tokens) if isinstance(tokens, Mapping) else type(tokens).__name__
            msg = f"tokens: expected keys {sorted(b.token_names)}, got {got}"
            raise ValueError(msg)
        for name in b.token_names:
            _check_array(f"tokens[{name!r}]", tokens[name], np.uint8, (n, TOKEN_BYTES))
        self._write("clk", np.asarray(clks, dtype="<u8"))
        self._write("row_tokens", row_tokens)
        for name in b.token_names:
            self._write("token:" + name, tokens[name])
        self._write("present", _pack_rows(present))
        self._rows += n

    def _write(self, section: str, array: npt.NDArray[Any]) -> None:
        flat = np.ascontiguousarray(array).reshape(-1).view(np.uint8)  # no copy if contiguous
        self._spills[section].write(flat.data)

    # -- finishing ---------------------------------------------------------------------

    @property
    def rows(self) -> int:
        """Rows appended so far."""
        return self._rows

    @property
    def header(self) -> Header:
        """The header written by :meth:`close` (only after it succeeded)."""
        if self._header is None:
            msg = "the header is known only after close()"
            raise ValueError(msg)
        return self._header

    def close(self) -> Header:
        """Assemble the file, fsync it and move it into place; return its header."""
        if self._header is not None:
            return self._header
        if not self._spills:
            msg = "close() after a failed write"
            raise ValueError(msg)
        header, raw, body_start = _layout(dataclasses.replace(self._base, rows=self._rows))
        digest = _Digest()
        try:
            sink = self._sink
            with atomic_write(self.path, "wb") if sink is None else nullcontext(sink) as out:
                head = PREAMBLE.pack(MAGIC, FORMAT_VERSION, 0, len(raw)) + raw
                _emit(out, digest, head.ljust(body_start, b"\0"))
                pos = body_start
                for section in header.sections:
                    _emit(out, digest, bytes(section.offset - pos))
                    spill = self._spills[section.name]
                    spill.flush()
                    _copy(spill, out, digest, section.length)
                    pos = section.offset + section.length
                out.write(TRAILER.pack(digest.digest(), header.file_length, END_MAGIC))
                out.flush()
        finally:
            digest.close()
            self.discard()
        self._header = header
        return header

    def discard(self) -> None:
        """Drop the spilled rows without writing anything (idempotent)."""
        for spill in self._spills.values():
            spill.close()
        self._spills = {}

    def __enter__(self) -> EncodingWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()


def _layout(base: Header) -> tuple[Header, bytes, int]:
    """Place the sections after the header; return the header, its bytes, the body start.

    Offsets are absolute, so the header's length depends on them and vice versa: start
    from the smallest body start and grow it until the header fits (2-3 rounds at most,
    as the body start only grows).
    """
    body_start = align(PREAMBLE.size)
    while True:
        sections, offset = [], body_start
        for name, dtype, shape in expected_sections(
            base.rows, base.clk_bits, base.token_names, len(base.field_names)
        ):
            length = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            sections.append(Section(name, offset, length, dtype.str, shape))
            end = offset + length
            offset = align(end)
        header = dataclasses.replace(base, sections=tuple(sections), file_length=end + TRAILER.size)
        raw = canonical_json(header.to_dict())
        needed = align(PREAMBLE.size + len(raw))
        if needed <= body_start:
            return header, raw, body_start
        body_start = needed


class _Digest:
    """SHA-256 of the bytes written, hashed on a thread of its own while they are written.

    :meth:`update` returns at once; the bytes it was given must stay unchanged (and
    mapped) until :meth:`wait` returns (:func:`_emit` sees to it). Updates under a page
    are hashed on the spot: a thread hop costs more than they do.
    """

    def __init__(self) -> None:
        self._sha = hashlib.sha256()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hme-sha256")
        self._pending: Future[None] | None = None

    def update(self, data: bytes | memoryview) -> None:
        self.wait()
        if len(data) < mmap.PAGESIZE:
            self._sha.update(data)
        else:
            self._pending = self._thread.submit(self._sha.update, data)

    def wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def digest(self) -> bytes:
        self.wait()
        return self._sha.digest()

    def close(self) -> None:
        self._thread.shutdown(wait=True)  # after an error too: no thread left reading a map


def _emit(out: IO[bytes], digest: _Digest, data: bytes | memoryview) -> None:
    """Write ``data`` while the digest's thread hashes it; return once both are done (on
    an error too: the caller may then unmap or reuse the bytes)."""
    digest.update(data)
    try:
        out.write(data)
    finally:
        digest.wait()


def _copy(src: IO[bytes], out: IO[bytes], digest: _Digest, length: int) -> None:
    """Copy and hash the first ``length`` bytes of ``src`` (flushed) into ``out``."""
    if not length:
        return
    # One mapping per piece, unmapped before the next: mapped pages count as the
    # process's resident memory, which must stay bounded whatever the file's size.
    granule = mmap.ALLOCATIONGRANULARITY  # a mapping's offset must be a multiple of it
    step = max(granule, _COPY_CHUNK - _COPY_CHUNK % granule)
    for start in range(0, length, step):
        size = min(step, length - start)
        try:
            mapped = mmap.mmap(src.fileno(), size, access=mmap.ACCESS_READ, offset=start)
        except (OSError, ValueError):  # a file system without mmap, or a short spill
            if start:  # mapped before, so the spill is short: a disk fault
                raise OSError("spill file shorter than the rows appended") from None
            _copy_read(src, out, digest, length)
            return
        with mapped, memoryview(mapped) as piece:
            _emit(out, digest, piece)


def _copy_read(src: IO[bytes], out: IO[bytes], digest: _Digest, length: int) -> None:
    """:func:`_copy` through a buffer, for files that cannot be mapped."""
    src.seek(0)
    buf = bytearray(min(length, _COPY_CHUNK))
    view = memoryview(buf)
    remaining = length
    while remaining:
        n = src.readinto(view[: min(remaining, len(buf))])  # type: ignore[attr-defined]
        if not n:
            msg = "spill file shorter than the rows appended"
            raise OSError(msg)
        _emit(out, digest, view[:n])
        remaining -= n


def _pack_rows(present: npt.NDArray[np.bool_]) -> npt.NDArray[np.uint8]:
    """``present`` packed to bits row by row (little bit order, rows padded to bytes).

    Pads the columns to whole bytes and packs the flat array: ``packbits(axis=1)`` loops
    per row in numpy and costs about 50 times more at a few fields a row.
    """
    n, fields = present.shape
    width = present_bytes(fields) * 8
    if width != fields:
        padded = np.zeros((n, width), dtype=np.bool_)
        padded[:, :fields] = present
        present = padded
    packed = np.packbits(present.reshape(-1), bitorder="little")
    return packed.reshape(n, width // 8)


def _rows_of(array: object, name: str) -> int:
    if not isinstance(array, np.ndarray) or array.ndim != 2:
        msg = f"{name}: expected a 2-D numpy array"
        raise ValueError(msg)
    return int(array.shape[0])


def _check_array(name: str, array: object, dtype: type, shape: tuple[int, int]) -> None:
    if not isinstance(array, np.ndarray):
        msg = f"{name}: expected a numpy array, got {type(array).__name__}"
        raise ValueError(msg)
    if array.dtype.type is not dtype:
        msg = f"{name}: expected dtype {np.dtype(dtype).name}, got {array.dtype.name}"
        raise ValueError(msg)
    if array.shape != shape:
        msg = f"{name}: expected shape {list(shape)}, got {list(array.shape)}"
        raise ValueError(msg)


def new_header(
    *,
    party: str,
    schema_fingerprint: str,
    clk_bits: int,
    segments: Sequence[Segment | tuple[str, int, int]],
    token_names: Sequence[str],
    field_names: Sequence[str],
    secret_commitment: str = "",
    encoder_version: int = ENCODER_VERSION,
    extra: Mapping[str, Any] | None = None,
    created: datetime | None = None,
    rows: int = 0,
) -> Header:
    """The header of encodings with this metadata, before any section is laid out.

    What :class:`EncodingWriter` starts from, and what an in-memory batch reports as its
    ``header``, so a file and the batch it was written from describe themselves alike.

    Raises
    ------
    ValueError
        Listing every invalid field (the message names the field, never a value).
    """
    segs = tuple(s if isinstance(s, Segment) else Segment(*s) for s in segments)
    problems = check_metadata(
        party=party,
        schema_fingerprint=schema_fingerprint,
        encoder_version=encoder_version,
        clk_bits=clk_bits,
        segments=segs,
        token_names=tuple(token_names),
        field_names=tuple(field_names),
        secret_commitment=secret_commitment,
    )
    extra_doc = dict(extra or {})
    try:
        canonical_json(extra_doc)
    except (TypeError, ValueError):
        problems.append("extra: expected JSON-serialisable data (no NaN/inf)")
    if problems:
        raise ValueError("invalid encoding-file header: " + "; ".join(problems))
    return Header(
        format_version=FORMAT_VERSION,
        encoder_version=encoder_version,
        hashmatch_version=__version__,
        schema_fingerprint=schema_fingerprint,
        party=party,
        rows=rows,
        clk_bits=clk_bits,
        segments=segs,
        token_names=tuple(token_names),
        field_names=tuple(field_names),
        created=_timestamp(created),
        secret_commitment=secret_commitment,
        extra=freeze(extra_doc),
    )


def _timestamp(created: datetime | None) -> str:
    if created is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        created = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    if created.tzinfo is None:
        msg = "created: expected a timezone-aware datetime"
        raise ValueError(msg)
    return created.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = ["EncodingWriter"]
