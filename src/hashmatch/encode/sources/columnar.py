"""Reading a UTF-8 CSV file with pyarrow's parser, chunk by chunk, with an exact fallback.

Python's csv module costs about 2 microseconds a row before any encoding starts; pyarrow
parses the columns (and checks their UTF-8) in C++ at a fraction of that. The encoder wants
each column as its distinct texts and per-row codes: it dictionary-encodes the text columns
itself (:meth:`~hashmatch.encode.columns.ArrowChunk.factor`), where it encodes the chunk,
so a pooled run's reading process only parses (the CSV reader's own dictionary conversion
took four times as long as the parse and ``dictionary_encode`` together).

The reader must still give exactly the rows (and data row numbers, and rejects) of
:class:`hashmatch.encode.sources.rows.CsvSource`, so it cuts the file itself, into *blocks* of
``chunk_rows`` lines, and lets pyarrow parse a block only when both parsers are known to
agree on it:

* a block ends just after a line feed, and every quote in it belongs to a well-formed
  quoted field (starting and ending at a field boundary, inner quotes doubled). Then no
  line feed ending a block can be inside a quoted field, so the block is a whole number
  of rows, and quoting means the same to both parsers;
* pyarrow accepts the block: valid UTF-8, every row the header's width, fields within
  Python's field size limit.

Any other block (a bad byte, a short row, a stray quote, a field too long...) is read by
the Python reader's own :class:`~hashmatch.encode.sources.csvrows.RowReader` instead,
from the same byte offset, for about ``chunk_rows`` rows; the line iterator it reads from
counts the bytes it hands over, so the next block starts at the exact end of those rows.
Rows and rejects are therefore those of the Python reader whatever the mix of blocks,
and the fast path only ever changes the speed. The bytes come from
:meth:`hashmatch.encode.sources.files.InputFile.open`: a gzip file or standard input is
read the same way.

``HASHMATCH_CSV_READER=python`` turns the fast path off (tests use it to compare both).
"""

from __future__ import annotations

import codecs
import csv
import os
import re
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from hashmatch.encode.columns import ArrowChunk
from hashmatch.encode.sources.chunk import Chunk
from hashmatch.encode.sources.csvrows import RowReader
from hashmatch.encode.sources.detect import UNDECODABLE

if TYPE_CHECKING:
    from hashmatch.encode.sources.rows import CsvSource

_READ_BYTES = 1 << 20  # file reads grow the buffer by at least this much
_MAX_BLOCK = 64 << 20  # no chunk_rows line feeds within this (bare-CR files...): Python reads
_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)")
_ENV = "HASHMATCH_CSV_READER"


def columnar_reader(source: CsvSource) -> ColumnarCsvReader | None:
    """A fast reader for ``source``, or None when it cannot be used (not UTF-8, no
    pyarrow, or ``HASHMATCH_CSV_READER=python``)."""
    if os.environ.get(_ENV, "auto") == "python" or source.encoding != "utf-8-sig":
        return None
    try:
        import pyarrow.csv  # noqa: F401  (an optional speed-up: checked, not required)
    except ImportError:
        return None
    return ColumnarCsvReader(source)


class ColumnarCsvReader:
    """Chunks of a :class:`CsvSource`'s data rows: pyarrow tables where safe, else rows."""

    def __init__(self, source: CsvSource) -> None:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pcsv

        self._pa, self._pc, self._pcsv = pa, pc, pcsv
        self.source = source
        self.name = source.name
        self.header = source.header
        delimiter = source.delimiter
        boundary = re.escape(delimiter.encode()) + rb"\r\n"
        # A well-formed quoted field: opens and closes at a field boundary, "" inside.
        self._quoted_field = re.compile(
            rb"(?<![^" + boundary + rb'])"(?:[^"]|"")*"(?![^' + boundary + rb"])"
        )
        self._names = [f"c{i}" for i in range(len(self.header))]  # names may repeat
        # Text, not nullable, UTF-8 checked: an undecodable cell fails the block, which
        # the Python reader then reads (and rejects the row, as it would).
        self._convert = pcsv.ConvertOptions(
            column_types=dict.fromkeys(self._names, pa.string()),
            check_utf8=True,
            null_values=[],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        self._parse_plain = pcsv.ParseOptions(delimiter=delimiter, ignore_empty_lines=True)
        self._parse_quoted = pcsv.ParseOptions(
            delimiter=delimiter, ignore_empty_lines=True, newlines_in_values=True
        )
        self._field_limit = csv.field_size_limit()
        self._fh: IO[bytes] | None = None
        self._buf = bytearray()
        self._pos = 0
        self._end = 0
        self._eof = False

    # -- the RowSource interface -------------------------------------------------------

    def chunks(self, chunk_rows: int) -> Iterator[Chunk | ArrowChunk]:
        """Chunks of up to ``chunk_rows`` data rows, in file order (see the module doc)."""
        with self.source.file.open() as fh:
            self._fh, self._pos, self._end, self._eof = fh, 0, 0, False
            self._skip_header()
            number = 0  # data rows so far
            while self._more():
                block = self._block(chunk_rows)
                if block is not None and b'"' in block:
                    block = self._whole_quoted_rows(block)
                table = None if block is None else self._parse(block)
                if table is not None and block is not None:
                    self._consume(len(block))
                    rows = int(table.num_rows)
                    if rows:
                        yield ArrowChunk(table, range(number + 1, number + rows + 1))
                    number += rows
                else:
                    chunk = self._python_chunk(chunk_rows, number)
                    number += chunk.read
                    if chunk.read:
                        yield chunk
            self._fh = None

    def progress(self) -> tuple[int, int | None]:
        return self.source.progress()

    # -- the byte buffer ---------------------------------------------------------------
    # ``_buf[_pos:_end]`` holds the bytes read and not yet consumed; consuming moves
    # ``_pos`` (no copy). The buffer is reused: reading more moves the pending bytes to its
    # start and reads into it in place, so the file's bytes are copied once on the way in
    # and memory is not allocated (and faulted in, zeroed, by the kernel) again per read.

    def _read_more(self, at_least: int = _READ_BYTES) -> bool:
        """Append at least ``at_least`` bytes (fewer at the end); False at end of file."""
        assert self._fh is not None
        size = max(at_least, _READ_BYTES)
        pending = self._end - self._pos
        if pending + size > len(self._buf):  # grow (a new buffer: never resized in place)
            grown = bytearray(max(pending + size, 2 * len(self._buf)))
            grown[:pending] = memoryview(self._buf)[self._pos : self._end]
            self._buf = grown
        elif pending > self._pos:  # overlapping move: through a copy
            self._buf[:pending] = self._buf[self._pos : self._end]
        elif pending:
            self._buf[:pending] = memoryview(self._buf)[self._pos : self._end]
        self._pos, self._end = 0, pending
        with memoryview(self._buf)[pending : pending + size] as free, self.source.file.reading():
            read = self._fh.readinto(free)  # type: ignore[attr-defined]
        if not read:
            self._eof = True
            return False
        self._end += read
        return True

    def _pending(self) -> int:
        return self._end - self._pos

    def _more(self) -> bool:
        return self._pending() > 0 or (not self._eof and self._read_more())

    def _consume(self, size: int) -> None:
        self._pos += size

    def _skip_header(self) -> None:
        """Consume the header row (read before by the source, BOM included)."""
        self._read_more()
        if self._buf.startswith(codecs.BOM_UTF8, self._pos, self._end):
            self._consume(len(codecs.BOM_UTF8))
        next(csv.reader(self._lines(), delimiter=self.source.delimiter), None)

    def _block(self, chunk_rows: int) -> bytes | None:
        """The next ``chunk_rows`` lines (through their line feeds), or the rest of the
        file; None when the lines run longer than _MAX_BLOCK (no line feeds).

        Bytes already searched are not searched again after a read, and reads are sized
        from the line length seen so far: a block costs about two counting passes and one
        copy.
        """
        need = chunk_rows  # line feeds still to find
        scanned = 0  # pending bytes searched so far
        while True:
            buf, pos, stop = self._buf, self._pos, self._end
            found = _count_feeds(buf, pos + scanned, stop)
            if found >= need:
                return self._pending_bytes(_nth_feed(buf, pos + scanned, need, stop) + 1)
            need -= found
            scanned = stop - pos
            if scanned > _MAX_BLOCK:
                return None
            # Enough for the lines still needed at the length seen so far (+10%); with
            # no line seen yet, double.
            wanted = need * scanned / (chunk_rows - need) * 1.1 if need < chunk_rows else scanned
            if not self._read_more(min(int(wanted), _MAX_BLOCK)):
                return self._pending_bytes(self._end)

    def _pending_bytes(self, end: int) -> bytes:
        """A copy of the pending bytes up to buffer offset ``end``: the buffer is reused."""
        with memoryview(self._buf)[self._pos : end] as view:
            return bytes(view)

    def _lines(self) -> Iterator[str]:
        """Physical lines as the Python reader sees them (``\\r\\n``, ``\\r`` or ``\\n``
        ends one), consumed from the buffer one by one as the csv module asks."""
        while self._more():
            match = _LINE.match(self._buf, self._pos, self._end)
            end = match.end() if match is not None else self._pos
            # A line is complete at its terminator, unless a "\r" ends the buffer (its
            # "\n" may follow); at the end of the file the rest is the last line.
            cut_cr = end == self._end and self._buf[end - 1] == ord("\r")
            if (end == self._pos or cut_cr) and not self._eof:
                self._read_more()  # moves the pending bytes: match again, even at the end
                continue
            end = end if end > self._pos else self._end
            line = self._buf[self._pos : end].decode("utf-8", errors=UNDECODABLE)
            self._consume(end - self._pos)
            yield line

    # -- parsing -------------------------------------------------------------------------

    def _regular_quotes(self, block: bytes) -> bool:
        """Whether every quote of ``block`` belongs to a well-formed quoted field."""
        return b'"' not in self._quoted_field.sub(b"", block)

    def _whole_quoted_rows(self, block: bytes) -> bytes | None:
        """``block``, or its longest prefix of whole rows when its last line feed is inside
        a quoted field (a value spanning lines); None when quotes are not well-formed.

        The cut candidates are the line feeds after an even number of quotes; the regular
        quotes check on the result is what makes the cut exact.
        """
        if self._regular_quotes(block):
            return block
        data = np.frombuffer(block, dtype=np.uint8)
        quotes = np.cumsum(data == ord('"'))
        feeds = np.flatnonzero(data == ord("\n"))
        outside = feeds[quotes[feeds] % 2 == 0]
        if not len(outside):
            return None
        prefix = block[: int(outside[-1]) + 1]
        return prefix if self._regular_quotes(prefix) else None

    def _parse(self, block: bytes) -> Any:
        """The block as a pyarrow table, or None if the Python reader must read it."""
        quoted = b'"' in block
        pa, pcsv = self._pa, self._pcsv
        try:
            table = pcsv.read_csv(
                pa.py_buffer(block),
                read_options=pcsv.ReadOptions(
                    column_names=self._names,
                    use_threads=False,
                    block_size=max(len(block) + 1, _READ_BYTES),
                ),
                parse_options=self._parse_quoted if quoted else self._parse_plain,
                convert_options=self._convert,
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None  # a row of another width, a cell that is not UTF-8...
        return table if self._within_field_limit(table) else None

    def _within_field_limit(self, table: Any) -> bool:
        """Whether no cell of ``table`` may exceed the csv module's field size limit
        (bytes, at least its characters): a longer field is the Python reader's to handle."""
        compute = self._pc
        for column in table.columns:
            longest = compute.max(compute.binary_length(column)).as_py()
            if longest is not None and longest > self._field_limit:
                return False
        return True

    def _python_chunk(self, chunk_rows: int, number: int) -> Chunk:
        """About ``chunk_rows`` rows read as :class:`CsvSource` reads them."""
        reader = RowReader(self._lines(), self.source.delimiter, self.header, number)
        return reader.chunk(chunk_rows) or Chunk([], [])


def _count_feeds(data: bytes | bytearray, start: int, end: int) -> int:
    """Line feeds in ``data[start:end]`` (numpy: several times faster than bytes.count)."""
    view = np.frombuffer(data, dtype=np.uint8, count=end - start, offset=start)
    return int(np.count_nonzero(view == ord("\n")))


def _nth_feed(data: bytes | bytearray, start: int, n: int, end: int | None = None) -> int:
    """Index of the ``n``-th line feed in ``data[start:end]`` (there are at least ``n``).

    Halves the range by counting its first half, so each byte is counted about once, then
    walks the last few thousand bytes.
    """
    low, high = start, len(data) if end is None else end
    while high - low > 4096:
        middle = (low + high) // 2
        count = _count_feeds(data, low, middle)
        if count >= n:
            high = middle
        else:
            n -= count
            low = middle
    for _ in range(n):
        low = data.index(b"\n", low, high) + 1
    return low - 1
