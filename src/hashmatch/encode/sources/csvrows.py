"""CSV rows from lines of text, with recovery: one bad row never costs the rest of the file.

Python's csv module is lenient: a quote that opens a field and is never closed (or is
closed only by a quote much later in the file) makes one "row" of everything up to that
quote, and a cell over the field size limit stops the reader. :class:`RowReader` keeps
the csv module's speed for the usual chunk and reads a chunk again line by line only
when one of its rows holds a line break inside a cell, or the reader stopped:

* a row whose cells hold a line break is a row only if its quotes are well-formed (as
  ``strict`` parsing checks) and it has the header's width. Otherwise the quote that
  opened the multi-line field is taken as unclosed: the row is set aside as
  ``row.unclosed_quote`` (naming the column where the field began) and reading goes on
  at the line after the one where the row began;
* a row with a cell over the limit is set aside as ``row.field_too_long`` and reading
  goes on at the next line.

The decision depends only on the row's own lines, so any reader that starts at a row
boundary and follows these rules gives the same rows: the columnar reader uses this class
for the blocks it cannot parse itself.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Iterator, Sequence
from itertools import islice, tee

import numpy as np

from hashmatch.encode.sources.chunk import BadRow, Chunk, joined, sort_rows

_BLOCK = 256  # records whose lengths are summed at once to find a line break's record


class RowReader:
    """Chunks of data rows from physical ``lines`` (each with its line terminator)."""

    def __init__(
        self, lines: Iterator[str], delimiter: str, header: Sequence[str], number: int = 0
    ) -> None:
        # ``_ahead`` feeds the csv reader; ``_behind`` keeps the lines it read until they
        # are known to be clean, so a chunk can be read again (both in C: no Python code
        # per line on the usual path).
        self._ahead, self._behind = tee(lines)
        self._reader = csv.reader(self._ahead, delimiter=delimiter)
        self._delimiter = delimiter
        self._header = header
        self.number = number  # data rows so far

    def skip_row(self) -> None:
        """Read past one row (the header, already read from the file's first bytes)."""
        before = self._reader.line_num
        next(self._reader, None)
        _drop(self._behind, self._reader.line_num - before)

    def chunk(self, chunk_rows: int) -> Chunk | None:
        """About ``chunk_rows`` data rows (more when a bad row is read again as several);
        None at the end of the lines."""
        while True:
            before = self._reader.line_num
            try:
                records = list(islice(self._reader, chunk_rows))
                stopped = False
            except csv.Error:  # a cell over the field size limit: read again, row by row
                records, stopped = [], True
            used = self._reader.line_num - before
            if not records and not stopped:
                return None
            text = None if stopped else joined(records)
            if text is not None and "\n" not in text and "\r" not in text:  # the usual case
                _drop(self._behind, used)
                rows, numbers = self._number(records)
                if rows:
                    return sort_rows(rows, numbers, self._header, text=text)
                continue
            lines = list(islice(self._behind, used))
            if text is None:
                rows, numbers, bad = self._reread(lines)
            else:
                rows, numbers, bad = self._check(records, text, lines)
                text = None if bad else text  # else the rows are those of ``records``
            if rows or bad:
                return sort_rows(rows, numbers, self._header, bad, text)

    def _number(self, records: list[list[str]]) -> tuple[list[list[str]], list[int]]:
        rows = list(filter(None, records))  # blank lines are not rows
        numbers = list(range(self.number + 1, self.number + len(rows) + 1))
        self.number += len(rows)
        return rows, numbers

    def _check(
        self, records: list[list[str]], text: str, lines: list[str]
    ) -> tuple[list[list[str]], list[int], list[BadRow]]:
        """The rows of ``records`` (read from ``lines``; ``text``: their cells joined),
        checking those that hold a line break; from the first bad one on, ``lines`` are
        read again.

        A record took one line plus one per line break in its cells (the last record of
        the chunk: the lines left, in case it ran to the end of the file). The records
        between two with a line break are taken in bulk, as in the usual case.
        """
        rows: list[list[str]] = []
        numbers: list[int] = []
        bad: list[BadRow] = []
        done = line = 0  # records and lines taken so far
        for index in _with_line_breaks(records, text):
            plain_rows, plain_numbers = self._number(records[done:index])
            rows += plain_rows
            numbers += plain_numbers
            line += index - done  # one line each
            cells = records[index]
            last = index == len(records) - 1
            span = lines[line:] if last else lines[line : line + 1 + _line_breaks(cells)]
            line += len(span)
            done = index + 1
            self.number += 1
            problem = self._problem(cells, span)
            if problem is None:
                rows.append(cells)
                numbers.append(self.number)
                continue
            bad.append(BadRow(self.number, *problem))
            more_rows, more_numbers, more_bad = self._reread(span[1:] + lines[line:])
            return rows + more_rows, numbers + more_numbers, bad + more_bad
        plain_rows, plain_numbers = self._number(records[done:])
        return rows + plain_rows, numbers + plain_numbers, bad

    def _reread(self, lines: list[str]) -> tuple[list[list[str]], list[int], list[BadRow]]:
        """The rows of ``lines`` (and, for a row running past them, of the lines after),
        read one by one under the rules of the module docstring."""
        source = _Lines(lines, self._ahead, self._behind)
        reader = csv.reader(source, delimiter=self._delimiter)
        rows: list[list[str]] = []
        numbers: list[int] = []
        bad: list[BadRow] = []
        while source.queue:
            source.record.clear()
            try:
                cells: list[str] | None = next(reader)
            except StopIteration:
                break
            except csv.Error:
                cells = None
            if cells == []:  # a blank line
                continue
            self.number += 1
            problem = self._problem(cells, source.record)
            if problem is None:
                assert cells is not None
                rows.append(cells)
                numbers.append(self.number)
                continue
            bad.append(BadRow(self.number, *problem))
            source.queue.extendleft(reversed(source.record[1:]))  # on at the next line
        return rows, numbers, bad

    def _problem(self, cells: list[str] | None, lines: list[str]) -> tuple[str, str] | None:
        """(column, reason) when the row read from ``lines`` must be set aside."""
        if cells is None:
            return "", "row.field_too_long"
        broken = _line_break_cell(cells)
        if broken is None:
            return None
        if len(cells) == len(self._header) and self._well_formed(lines):
            return None
        column = self._header[broken] if broken < len(self._header) else ""
        return column, "row.unclosed_quote"

    def _well_formed(self, lines: list[str]) -> bool:
        try:
            for _ in csv.reader(lines, delimiter=self._delimiter, strict=True):
                pass
        except csv.Error:
            return False
        return True


class _Lines:
    """Lines to read again (``queue``, which may grow), then the lines after them; keeps
    the lines of the row being read (``record``)."""

    def __init__(self, lines: list[str], ahead: Iterator[str], behind: Iterator[str]) -> None:
        self.queue = deque(lines)
        self.record: list[str] = []
        self._ahead, self._behind = ahead, behind

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.queue:
            line = self.queue.popleft()
        else:  # a row running past the chunk's lines
            line = next(self._ahead)
            _drop(self._behind, 1)
        self.record.append(line)
        return line


def _with_line_breaks(records: list[list[str]], text: str) -> list[int]:
    """Indices of the records with a line break in a cell, found from where the breaks are
    in ``text`` (the cells joined): the work is per break and per block of records, not
    per record."""
    breaks = sorted(_find_all(text, "\n") + _find_all(text, "\r"))
    ends = np.cumsum(
        [len(joined(records[at : at + _BLOCK])) for at in range(0, len(records), _BLOCK)]
    )
    found: list[int] = []
    for position in breaks:
        block = int(np.searchsorted(ends, position, side="right"))
        end = int(ends[block - 1]) if block else 0
        for index in range(block * _BLOCK, min((block + 1) * _BLOCK, len(records))):
            end += len(joined([records[index]]))
            if position < end:
                if not found or found[-1] != index:
                    found.append(index)
                break
    return found


def _find_all(text: str, char: str) -> list[int]:
    """Positions of ``char`` in ``text`` (a C-level search per hit)."""
    found = []
    at = text.find(char)
    while at != -1:
        found.append(at)
        at = text.find(char, at + 1)
    return found


def _line_breaks(cells: list[str]) -> int:
    """Line terminators (``\\r\\n``, ``\\r`` or ``\\n``) inside the cells of a record."""
    return sum(cell.count("\n") + cell.count("\r") - cell.count("\r\n") for cell in cells)


def _line_break_cell(cells: list[str]) -> int | None:
    for i, cell in enumerate(cells):
        if "\n" in cell or "\r" in cell:
            return i
    return None


def _drop(lines: Iterator[str], count: int) -> None:
    """Skip ``count`` lines (in C)."""
    deque(islice(lines, count), maxlen=0)
