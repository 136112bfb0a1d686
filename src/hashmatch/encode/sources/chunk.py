"""What every source yields: chunks of rows of cell text, and the rows set aside.

A row is identified by its 1-based *data row number* (the header is not counted, blank
lines are skipped and not counted; a quoted field spanning lines is one row). Rows that
cannot be used as rows are set aside as :class:`BadRow` with a reason code
(:data:`ROW_REASONS`), never with their content.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hashmatch.encode.columns import ArrowChunk

#: Reason codes of rows set aside by the readers.
ROW_REASONS: dict[str, str] = {
    "row.column_count": "the row has a different number of cells than the header",
    "row.undecodable": "a cell has bytes that are not valid in the input encoding",
    "row.unclosed_quote": (
        "a quoted field starting in this row is not closed where a field may end: the row "
        "is set aside and reading goes on at the next line"
    ),
    "row.field_too_long": "a cell is longer than the CSV reader's limit (128 KiB)",
}


@dataclass(frozen=True)
class BadRow:
    """A row that could not be read as a row: data row number, column name, reason code."""

    row: int
    column: str
    reason: str


@dataclass
class Chunk:
    """Up to about ``chunk_rows`` consecutive data rows."""

    rows: list[list[str]]  # the usable rows
    row_numbers: list[int]  # their 1-based data row numbers
    bad_rows: list[BadRow] = field(default_factory=list)

    @property
    def read(self) -> int:
        """Data rows read in this chunk, usable or not."""
        return len(self.rows) + len(self.bad_rows)

    def cut(self, parts: int) -> list[Chunk]:
        """This chunk as up to ``parts`` consecutive chunks of about equal rows (each row
        and set-aside row in exactly one, in order); ``[self]`` when it cannot be cut."""
        bounds = cut_bounds(len(self.rows), parts)
        if len(bounds) <= 2:
            return [self]
        bad = split_bad_rows(self.bad_rows, self.row_numbers, bounds)
        return [
            Chunk(self.rows[a:b], self.row_numbers[a:b], aside)
            for a, b, aside in zip(bounds, bounds[1:], bad, strict=False)
        ]


def cut_bounds(rows: int, parts: int) -> list[int]:
    """Offsets cutting ``rows`` rows into ``parts`` runs of about equal length (fewer when
    there are fewer rows): ``[0, ..., rows]``."""
    parts = max(1, min(parts, rows))
    return [rows * i // parts for i in range(parts + 1)]


def split_bad_rows(
    bad_rows: Sequence[BadRow], row_numbers: Sequence[int], bounds: Sequence[int]
) -> list[list[BadRow]]:
    """The set-aside rows of each run of usable rows ``bounds`` cuts ``row_numbers`` into:
    a run takes those numbered before its successor's first row (the last run the rest),
    so every run's rows and set-aside rows stay in file order one after the other."""
    starts = [row_numbers[b] for b in bounds[1:-1]]
    runs: list[list[BadRow]] = [[] for _ in range(len(bounds) - 1)]
    for bad in bad_rows:
        runs[sum(bad.row > start for start in starts)].append(bad)
    return runs


class RowSource(Protocol):
    """What the encoder and the profiler read from."""

    name: str  # for messages: a file path, "<stdin>" or "<DataFrame>"
    header: list[str]

    def chunks(self, chunk_rows: int) -> Iterator[Chunk | ArrowChunk]: ...

    def progress(self) -> tuple[int, int | None]:
        """(units done, units total or None): bytes for files, rows for frames."""
        ...


def sort_rows(
    rows: list[list[str]],
    numbers: list[int],
    header: Sequence[str],
    bad_rows: Sequence[BadRow] = (),
    text: str | None = None,
) -> Chunk:
    """A chunk of ``rows``, setting aside those of the wrong width or with undecodable
    bytes; ``bad_rows`` (set aside before) join them, in row order. ``text``: the rows'
    cells joined, if the caller has it.

    The common case (every row the header's width, all text decodable) is checked for the
    whole chunk at once, with no Python code per row.
    """
    width = len(header)
    text = joined(rows) if text is None else text
    if not bad_rows and set(map(len, rows)) <= {width} and not undecodable(text):
        return Chunk(rows, numbers)
    chunk = Chunk([], [], list(bad_rows))
    for row, number in zip(rows, numbers, strict=True):
        if len(row) != width:
            chunk.bad_rows.append(BadRow(number, "", "row.column_count"))
            continue
        column = undecodable_column(row, header)
        if column is not None:
            chunk.bad_rows.append(BadRow(number, column, "row.undecodable"))
            continue
        chunk.rows.append(row)
        chunk.row_numbers.append(number)
    chunk.bad_rows.sort(key=lambda bad: bad.row)
    return chunk


# Each undecodable byte is read as the lone surrogate U+DC00 + byte (see detect.py).
_SURROGATE_RE = re.compile("[\udc00-\udcff]")


def joined(rows: list[list[str]]) -> str:
    """Every cell of ``rows`` in one string (one C-level pass)."""
    return "".join(map("".join, rows))


def undecodable(text: str) -> bool:
    """Whether ``text`` holds a byte the input encoding could not decode."""
    return not text.isascii() and _SURROGATE_RE.search(text) is not None


def undecodable_column(row: Sequence[str], header: Sequence[str]) -> str | None:
    """The name of the first column of ``row`` with an undecodable byte, or None."""
    if not undecodable("".join(row)):
        return None
    for name, cell in zip(header, row, strict=True):
        if undecodable(cell):
            return name
    return None  # pragma: no cover - the joined text had a surrogate, so a cell has one
