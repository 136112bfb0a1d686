"""Reading a party's Parquet file, one record batch at a time, as text cells.

A Parquet file is told from a CSV file by its magic bytes (``PAR1``), whatever its name.
Rows come out as :class:`~hashmatch.encode.columns.ArrowChunk` (the encoder and the
profiler factorise each column once), with every cell as the text a CSV export would
hold: strings as they are, nulls empty, numbers, booleans and decimals in pyarrow's text
form (``12``, ``1.5``, ``true``), dates as ``1980-11-22``, timestamps as ``1980-11-22``
when every one of a batch is at midnight, else ``1980-11-22 07:30:00``, and nested values
(lists, structs) as Python's ``str`` of them. A batch holding binary cells that are not
UTF-8 is read row by row instead, so those rows are set aside as ``row.undecodable``
like the CSV reader's. Memory is bounded by one record batch (and pyarrow's row group).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hashmatch.encode.columns import ArrowChunk
from hashmatch.encode.sources.chunk import Chunk, sort_rows
from hashmatch.encode.sources.detect import UNDECODABLE
from hashmatch.encode.sources.files import InputFile
from hashmatch.encode.sources.header import check_header
from hashmatch.errors import InputDataError


class ParquetSource:
    """A Parquet file read as chunks of text cells (see the module docstring)."""

    def __init__(self, file: InputFile) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.file = file
        self.name = file.name
        if file.total_bytes is None:
            raise InputDataError(
                "a Parquet file cannot be read from standard input or a pipe",
                file=self.name,
                hint="pass the Parquet file's path",
            )
        try:
            self._parquet = pq.ParquetFile(file.path)
        except (OSError, pa.ArrowException, ValueError) as exc:
            raise _unreadable(exc, self.name) from None
        self.header = [str(name).strip() for name in self._parquet.schema_arrow.names]
        if not self.header:
            msg = "the Parquet file has no columns"
            raise InputDataError(msg, file=self.name, hint="write the data with its columns")
        check_header(self.header, self.name)
        self._total = int(self._parquet.metadata.num_rows)
        self._done = 0

    def chunks(self, chunk_rows: int) -> Iterator[ArrowChunk | Chunk]:
        """Chunks of up to ``chunk_rows`` rows, in file order."""
        import pyarrow as pa

        number = 0
        batches = self._parquet.iter_batches(batch_size=chunk_rows, use_threads=False)
        while True:
            try:
                batch = next(batches, None)
            except (OSError, pa.ArrowException, ValueError) as exc:
                raise _unreadable(exc, self.name) from None
            if batch is None:
                return
            rows = batch.num_rows
            if not rows:
                continue
            numbers = range(number + 1, number + rows + 1)
            number += rows
            self._done = number
            table = _as_text(batch)
            if table is not None:
                yield ArrowChunk(table, numbers)
            else:
                yield sort_rows(_python_rows(batch), list(numbers), self.header)

    def progress(self) -> tuple[int, int | None]:
        return self._done, self._total


def _unreadable(exc: Exception, name: str) -> InputDataError:
    msg = f"cannot be read as Parquet ({type(exc).__name__}; truncated or corrupt?)"
    return InputDataError(
        msg, file=name, hint="copy the file again (an interrupted copy or download?)"
    )


def _as_text(batch: Any) -> Any:
    """The batch as a table of non-null string columns, or None when a binary column is
    not UTF-8."""
    import pyarrow as pa

    columns = [_text_column(batch.column(i)) for i in range(batch.num_columns)]
    if any(column is None for column in columns):
        return None
    return pa.table(columns, names=[f"c{i}" for i in range(batch.num_columns)])


def _text_column(array: Any) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind):
        array, kind = array.dictionary_decode(), kind.value_type
    if pa.types.is_timestamp(kind):
        seconds = pc.cast(array, pa.timestamp("s", tz=kind.tz), safe=False)
        midnight = pc.all(pc.equal(pc.cast(array, pa.date32()).cast(kind), array)).as_py()
        layout = "%Y-%m-%d" if midnight in (True, None) else "%Y-%m-%d %H:%M:%S"
        array = pc.strftime(seconds, layout)
    elif pa.types.is_nested(kind):
        array = pa.array([_nested_text(value) for value in array.to_pylist()], pa.string())
    elif not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        try:
            array = array.cast(pa.string())
        except pa.ArrowInvalid:  # binary that is not UTF-8
            return None
    return array.fill_null("")


def _nested_text(value: Any) -> str:
    return "" if value is None else str(value)


def _python_rows(batch: Any) -> list[list[str]]:
    """The batch's rows as text, the bytes of non-UTF-8 binary cells marked as
    undecodable (see ``detect.UNDECODABLE``)."""
    columns = []
    for i in range(batch.num_columns):
        text = _text_column(batch.column(i))
        if text is None:
            values = batch.column(i).to_pylist()
            columns.append(["" if v is None else v.decode("utf-8", UNDECODABLE) for v in values])
        else:
            columns.append(text.to_pylist())
    return [list(row) for row in zip(*columns, strict=True)]
