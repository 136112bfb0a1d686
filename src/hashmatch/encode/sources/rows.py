"""Reading a party's records in chunks: CSV files, pandas DataFrames, iterables of dicts.

Every source yields the same thing: a header (column names) and chunks of rows of cell
text, each row with its 1-based *data row number* (the header is not counted, blank lines
are skipped and not counted; a quoted field spanning lines is one row). Rows that cannot
be used as rows are set aside as rejects with a reason code, never with their content:

* ``row.column_count``: the row has a different number of cells than the header;
* ``row.undecodable``: a cell has bytes that are not valid in the input encoding (the file
  is decoded with ``surrogateescape``, so one bad byte costs one row, not the run).

CSV specifics: a UTF-8 byte-order mark is dropped; the delimiter is sniffed from the first
64 KiB among ``, ; TAB |`` unless given; the file is read as a stream, so memory is bounded
by one chunk whatever the file's size.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Protocol

from hashmatch.errors import InputDataError

#: Reason codes of malformed rows (see the module docstring).
ROW_REASONS: dict[str, str] = {
    "row.column_count": "the row has a different number of cells than the header",
    "row.undecodable": "a cell has bytes that are not valid in the input encoding",
}
_SNIFF_BYTES = 64 << 10
_SNIFF_SAMPLE = 16 << 10  # bytes the delimiter is guessed from
_DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class BadRow:
    """A row that could not be read as a row: data row number, column name, reason code."""

    row: int
    column: str
    reason: str


@dataclass
class Chunk:
    """Up to ``chunk_rows`` consecutive data rows."""

    rows: list[list[str]]  # the usable rows
    row_numbers: list[int]  # their 1-based data row numbers
    bad_rows: list[BadRow] = field(default_factory=list)

    @property
    def read(self) -> int:
        """Data rows read in this chunk, usable or not."""
        return len(self.rows) + len(self.bad_rows)


class RowSource(Protocol):
    """What the encoder and the profiler read from."""

    name: str  # for messages: a file path or "<DataFrame>"
    header: list[str]

    def chunks(self, chunk_rows: int) -> Iterator[Chunk]: ...

    def progress(self) -> tuple[int, int | None]:
        """(units done, units total or None): bytes for files, rows for frames."""
        ...


class CsvSource:
    """A CSV file read as a stream of chunks.

    Raises :class:`InputDataError` (naming the file, never content) for a missing or empty
    file, an undecodable header, a UTF-16/32 file read as something else, or a CSV syntax
    error (with the row number).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        encoding: str = "utf-8",
        delimiter: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        try:
            codec = codecs.lookup(encoding).name
        except LookupError:
            msg = f"unknown input encoding {encoding!r}"
            raise InputDataError(
                msg, hint="use a Python codec name such as utf-8, latin-1, cp1252"
            ) from None
        # utf-8-sig reads plain UTF-8 too and drops a byte-order mark.
        self.encoding = "utf-8-sig" if codec == "utf-8" else codec
        try:
            self.total_bytes = self.path.stat().st_size
            with self.path.open("rb") as fh:
                head = fh.read(_SNIFF_BYTES)
        except FileNotFoundError:
            raise InputDataError("file not found", file=self.name) from None
        except IsADirectoryError:
            raise InputDataError("is a directory, expected a CSV file", file=self.name) from None
        if not head.strip():
            raise InputDataError("the file is empty", file=self.name)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and "16" not in codec:
            raise InputDataError(
                f"the file looks UTF-16 encoded, not {encoding}",
                file=self.name,
                hint="pass --input-encoding utf-16",
            )
        self.delimiter = delimiter or _sniff(head, self.encoding)
        if len(self.delimiter) != 1:
            msg = f"the delimiter must be one character, got {len(self.delimiter)}"
            raise InputDataError(msg, file=self.name)
        self._raw: io.BufferedReader | None = None
        self.header = self._read_header()

    def _open(self) -> tuple[io.BufferedReader, Iterator[list[str]]]:
        raw = self.path.open("rb")
        text = io.TextIOWrapper(raw, encoding=self.encoding, errors="surrogateescape", newline="")
        return raw, csv.reader(text, delimiter=self.delimiter)

    def _read_header(self) -> list[str]:
        raw, reader = self._open()
        with raw:
            header = self._header_row(reader)
        if not header or not any(h.strip() for h in header):
            raise InputDataError("the file is empty or has no header row", file=self.name)
        if any(_undecodable(h) for h in header):
            raise InputDataError(
                f"the header is not valid {self.encoding}",
                file=self.name,
                hint="pass --input-encoding, e.g. latin-1 or cp1252",
            )
        return [h.strip() for h in header]

    def _header_row(self, reader: Iterator[list[str]]) -> list[str] | None:
        try:
            return next(reader, None)
        except csv.Error as exc:  # csv messages describe the problem, not the content
            msg = f"not a readable CSV file at line 1 ({exc})"
            raise InputDataError(msg, file=self.name) from None

    def chunks(self, chunk_rows: int) -> Iterator[Chunk]:
        """Chunks of up to ``chunk_rows`` data rows, in file order.

        The common case (every row the header's width, all text decodable) costs no
        Python code per row: rows are sliced off the C csv reader, blank lines filtered,
        widths and decodability checked for the whole chunk at once.
        """
        raw, reader = self._open()
        self._raw = raw
        width = len(self.header)
        with raw:
            next(reader)  # the header, read before
            number = 0  # data rows so far; blank lines are not rows
            while True:
                try:
                    lines = list(islice(reader, chunk_rows))
                except csv.Error as exc:  # csv messages describe the problem, not content
                    msg = f"not a readable CSV file at line {reader.line_num} ({exc})"  # type: ignore[attr-defined]
                    raise InputDataError(msg, file=self.name) from None
                if not lines:
                    return
                rows = list(filter(None, lines))
                if not rows:  # a stretch of blank lines, not the end of the file
                    continue
                numbers = list(range(number + 1, number + len(rows) + 1))
                number += len(rows)
                if set(map(len, rows)) == {width} and not _has_surrogate(rows):
                    yield Chunk(rows, numbers)
                else:
                    yield self._sorted_chunk(rows, numbers, width)

    def _sorted_chunk(self, rows: list[list[str]], numbers: list[int], width: int) -> Chunk:
        """The slow path: set aside rows of the wrong width or with undecodable bytes."""
        chunk = Chunk([], [])
        for row, number in zip(rows, numbers, strict=True):
            if len(row) != width:
                chunk.bad_rows.append(BadRow(number, "", "row.column_count"))
                continue
            column = _undecodable_column(row, self.header)
            if column is not None:
                chunk.bad_rows.append(BadRow(number, column, "row.undecodable"))
                continue
            chunk.rows.append(row)
            chunk.row_numbers.append(number)
        return chunk

    def progress(self) -> tuple[int, int | None]:
        done = self._raw.tell() if self._raw is not None and not self._raw.closed else 0
        return min(done, self.total_bytes), self.total_bytes


class RecordsSource:
    """Rows given in memory: a pandas DataFrame or an iterable of mappings.

    Cells are turned into text: ``None`` and NaN/NaT become ``""`` (missing), numbers
    their ``str``. For mappings, the header is the first record's keys; a later record's
    missing key is an empty cell and its extra keys are ignored.
    """

    def __init__(self, records: Any) -> None:
        if _is_dataframe(records):
            self.name = "<DataFrame>"
            self.header = [str(c).strip() for c in records.columns]
            self._total: int | None = len(records)
            self._rows = _frame_rows(records)
        else:
            self.name = "<records>"
            iterator = iter(records)
            first = next(iterator, None)
            if first is None:
                raise InputDataError("no records given", file=self.name)
            if not isinstance(first, Mapping):
                msg = f"expected mappings (dicts) or a DataFrame, got {type(first).__name__}"
                raise InputDataError(msg, file=self.name)
            keys = list(first)
            self.header = [str(k).strip() for k in keys]
            self._total = len(records) if isinstance(records, Sequence) else None
            self._rows = _dict_rows(first, iterator, keys)
        if not self.header:
            raise InputDataError("the records have no columns", file=self.name)
        self._done = 0

    def chunks(self, chunk_rows: int) -> Iterator[Chunk]:
        number = 0
        while True:
            rows = list(islice(self._rows, chunk_rows))
            if not rows:
                return
            numbers = list(range(number + 1, number + len(rows) + 1))
            number += len(rows)
            self._done = number
            yield Chunk(rows, numbers)

    def progress(self) -> tuple[int, int | None]:
        return self._done, self._total


def open_source(
    data: str | os.PathLike[str] | Any,
    *,
    encoding: str = "utf-8",
    delimiter: str | None = None,
) -> CsvSource | RecordsSource:
    """A :class:`CsvSource` for a path, else a :class:`RecordsSource`."""
    if isinstance(data, str | os.PathLike):
        return CsvSource(data, encoding=encoding, delimiter=delimiter)
    return RecordsSource(data)


def _sniff(head: bytes, encoding: str) -> str:
    # csv.Sniffer's cost grows with the sample, and a few hundred lines decide it
    cut = head[:_SNIFF_SAMPLE]
    sample = cut.decode(encoding, errors="replace")
    lines = sample.splitlines()
    if len(cut) < len(head) and len(lines) > 1:
        sample = "\n".join(lines[:-1])  # the last line may be cut
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return ","


_SURROGATE_RE = re.compile("[\udc80-\udcff]")


def _has_surrogate(rows: list[list[str]]) -> bool:
    """Whether any cell holds a byte the input encoding could not decode (surrogateescape)."""
    text = "".join(map("".join, rows))
    return not text.isascii() and _SURROGATE_RE.search(text) is not None


def _undecodable(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates from surrogateescape
        return True
    return False


def _undecodable_column(row: list[str], header: list[str]) -> str | None:
    if not _undecodable("".join(row)):
        return None
    for name, cell in zip(header, row, strict=True):
        if _undecodable(cell):
            return name
    return None  # pragma: no cover - the joined text had a surrogate, so a cell has one


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns") and hasattr(obj, "iloc")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return ""
    text = str(value)
    return "" if text in ("NaT", "nan", "<NA>") else text


def _frame_rows(frame: Any) -> Iterator[list[str]]:
    step = 10_000
    for start in range(0, len(frame), step):
        block = frame.iloc[start : start + step].to_numpy(dtype=object)
        for values in block:
            yield [_cell(v) for v in values]


def _dict_rows(
    first: Mapping[Any, Any], rest: Iterable[Mapping[Any, Any]], keys: list[Any]
) -> Iterator[list[str]]:
    yield [_cell(first.get(k)) for k in keys]
    for record in rest:
        if not isinstance(record, Mapping):
            msg = f"expected mappings (dicts), got {type(record).__name__}"
            raise InputDataError(msg, file="<records>")
        yield [_cell(record.get(k)) for k in keys]
