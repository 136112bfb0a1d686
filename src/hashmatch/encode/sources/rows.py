"""Reading a party's records in chunks: CSV files, pandas DataFrames, iterables of dicts.

Every source yields the same thing (see :mod:`hashmatch.encode.sources.chunk`): a header
(column names) and chunks of rows of cell text, each row with its 1-based *data row
number*; rows that cannot be used as rows are set aside with a reason code, never with
their content. :func:`open_source` is the one entry point: it tells a Parquet file from a
CSV file (plain or gzip-compressed, or ``-`` for standard input) by its first bytes and
returns the fastest reader that gives exactly the rows of :class:`CsvSource`.

CSV specifics: the text encoding is UTF-8 unless the bytes say UTF-16/32 or another one
is given (:mod:`~hashmatch.encode.sources.detect`), a byte-order mark is dropped, the
delimiter is sniffed among ``, ; TAB |`` unless given; a first row that looks like data is
refused (:mod:`~hashmatch.encode.sources.header`); bad quoting or an oversized cell costs
one row (:mod:`~hashmatch.encode.sources.csvrows`). The file is read as a stream, so
memory is bounded by one chunk whatever the file's size.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any

from hashmatch.encode.columns import ArrowChunk
from hashmatch.encode.sources.chunk import (
    ROW_REASONS,
    BadRow,
    Chunk,
    RowSource,
    undecodable,
)
from hashmatch.encode.sources.columnar import ColumnarCsvReader, columnar_reader
from hashmatch.encode.sources.csvrows import RowReader
from hashmatch.encode.sources.detect import (
    UNDECODABLE,
    parse_delimiter,
    sniff_delimiter,
    text_codec,
)
from hashmatch.encode.sources.files import HEAD_BYTES, InputFile
from hashmatch.encode.sources.header import check_header
from hashmatch.encode.sources.parquet import ParquetSource
from hashmatch.errors import InputDataError

__all__ = [
    "ROW_REASONS",
    "BadRow",
    "Chunk",
    "CsvSource",
    "RecordsSource",
    "RowSource",
    "open_source",
    "no_data_rows",
    "read_head",
    "row_texts",
]

#: Names of Parquet files: one that does not start like one is refused, not read as text.
PARQUET_SUFFIXES = (".parquet", ".pq")
_MAX_HEADER_BYTES = 16 << 20  # a first row longer than this is no header
_HEADER_HINT = "the first line must name the columns, e.g. id,first_name,last_name,..."


class CsvSource:
    """A CSV file (plain or gzip-compressed; ``-`` is standard input) read as a stream of
    chunks.

    Raises :class:`InputDataError` (naming the file, never content) for a missing, empty,
    unreadable or binary file, a directory, an encoding that contradicts the bytes, an
    undecodable header or a first row that looks like data.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | InputFile,
        *,
        encoding: str | None = None,
        delimiter: str | None = None,
    ) -> None:
        self.file = path if isinstance(path, InputFile) else InputFile(path)
        self.path = self.file.path
        self.name = self.file.name
        self.total_bytes = self.file.total_bytes
        if self.file.kind == "parquet":
            raise InputDataError(
                "is a Parquet file, not a CSV file", file=self.name, hint="read it with open_source"
            )
        self.encoding = text_codec(self.file.head, encoding, self.name)
        self.delimiter = (
            parse_delimiter(delimiter, self.name)
            if delimiter is not None
            else sniff_delimiter(self.file.head, self.encoding, self.file.complete)
        )
        self.header = self._read_header()

    def _read_header(self) -> list[str]:
        head, complete, size = self.file.head, self.file.complete, HEAD_BYTES
        while True:
            header, whole = self._first_row(head, complete)
            if whole:
                break
            if size >= _MAX_HEADER_BYTES:
                msg = f"the first row is longer than {_MAX_HEADER_BYTES >> 20} MiB: no header row"
                raise InputDataError(msg, file=self.name, hint=_HEADER_HINT)
            size *= 4
            head, complete = self.file.read_head(size)
        if not header or not any(h.strip() for h in header):
            raise InputDataError(
                "the file is empty or has no header row", file=self.name, hint=_HEADER_HINT
            )
        if any(undecodable(h) for h in header):
            raise InputDataError(
                f"the header is not valid {self.encoding.removesuffix('-sig')}",
                file=self.name,
                hint="pass --input-encoding, e.g. latin-1 or cp1252",
            )
        if any("\n" in h or "\r" in h for h in header):
            raise InputDataError(
                "the header row has a quoted name running over a line end (a quote not "
                "closed?)",
                file=self.name,
                row=0,
                hint="check the quotes of the first line",
            )
        check_header(header, self.name)
        return [h.replace("\ufeff", "").strip() for h in header]

    def _first_row(self, head: bytes, complete: bool) -> tuple[list[str] | None, bool]:
        """The first row parsed from ``head``, and whether it ended before the bytes did."""
        text = io.TextIOWrapper(
            io.BytesIO(head), encoding=self.encoding, errors=UNDECODABLE, newline=""
        )
        reader = csv.reader(text, delimiter=self.delimiter)
        try:
            header = next(reader, None)
        except csv.Error:  # a cell over the field size limit
            msg = "the first row has a cell longer than 128 KiB: not a header row"
            raise InputDataError(msg, file=self.name, hint=_HEADER_HINT) from None
        return header, complete or next(text, None) is not None

    def chunks(self, chunk_rows: int) -> Iterator[Chunk]:
        """Chunks of about ``chunk_rows`` data rows, in file order."""
        with self.file.open() as stream:
            text = io.TextIOWrapper(
                stream, encoding=self.encoding, errors=UNDECODABLE, newline=""
            )
            try:
                rows = RowReader(text, self.delimiter, self.header)
                with self.file.reading():
                    rows.skip_row()
                while True:
                    with self.file.reading():
                        chunk = rows.chunk(chunk_rows)
                    if chunk is None:
                        return
                    yield chunk
            finally:
                text.detach()  # the stream is closed by its owner

    def progress(self) -> tuple[int, int | None]:
        return self.file.position(), self.total_bytes


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
    encoding: str | None = None,
    delimiter: str | None = None,
) -> CsvSource | ColumnarCsvReader | ParquetSource | RecordsSource:
    """The reader of ``data``: a file path (``-``: standard input) or in-memory records.

    A Parquet file gets a :class:`~hashmatch.encode.sources.parquet.ParquetSource`; a CSV
    file (gzip-compressed or not) the columnar reader where it can be used, else a
    :class:`CsvSource`; a DataFrame or an iterable of dicts a :class:`RecordsSource`.

    Raises
    ------
    InputDataError
        The file cannot be read as a party's data (see :class:`CsvSource`); messages name
        the file and the fix, never a value.
    """
    if not isinstance(data, str | os.PathLike):
        return RecordsSource(data)
    file = InputFile(data)
    if file.kind == "parquet":
        return ParquetSource(file)
    if file.path.suffix.lower() in PARQUET_SUFFIXES:  # named Parquet, and it is not
        raise InputDataError(
            "cannot be read as Parquet (it does not start with PAR1: truncated, or no Parquet?)",
            file=file.name,
            hint="copy the file again, or rename it if it is a CSV file",
        )
    source = CsvSource(file, encoding=encoding, delimiter=delimiter)
    return columnar_reader(source) or source


def read_head(
    data: str | os.PathLike[str],
    *,
    rows: int = 0,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> tuple[list[str], list[list[str]]]:
    """The header (names stripped) and the first ``rows`` usable data rows of a file,
    read as :func:`open_source` reads it.

    Raises
    ------
    InputDataError
        As :func:`open_source`; also when a sampled row has bytes the encoding cannot
        decode (the hint names ``--input-encoding``).
    """
    source = open_source(data, encoding=encoding, delimiter=delimiter)
    sample: list[list[str]] = []
    if rows > 0:
        for chunk in source.chunks(rows):
            for bad in chunk.bad_rows:
                if bad.reason == "row.undecodable":
                    raise InputDataError(
                        f"not decodable as {getattr(source, 'encoding', 'utf-8')}",
                        file=source.name,
                        row=bad.row,
                        column=bad.column,
                        hint="pass --input-encoding, e.g. latin-1 or cp1252",
                    )
            sample += row_texts(chunk)
            if len(sample) >= rows:
                break
    return source.header, sample[:rows]


def row_texts(chunk: Chunk | ArrowChunk) -> list[list[str]]:
    """The usable rows of a chunk as lists of cell text, whichever reader made it."""
    if isinstance(chunk, Chunk):
        return chunk.rows
    columns = [chunk.cells(i) for i in range(chunk.table.num_columns)]
    return [list(row) for row in zip(*columns, strict=True)]


def no_data_rows(name: str) -> InputDataError:
    """The error for a source that has a header and not one data row."""
    return InputDataError(
        "the file has a header but no data rows",
        file=name,
        hint="check that this is the right file: it holds only its header row",
    )


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
