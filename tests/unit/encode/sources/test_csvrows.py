"""CSV rows with recovery: an unclosed quote or an oversized cell costs one row, not the rest."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hashmatch.encode.sources.csvrows import RowReader
from hashmatch.encode.sources.rows import CsvSource

HEADER = ["id", "name", "city"]
GOOD = [f"{i},Ann {i},Oslo" for i in range(1, 201)]


def _read(text: str, chunk_rows: int = 1000) -> tuple[list[tuple[int, list[str]]], list]:
    reader = RowReader(io.StringIO(text, newline=""), ",", HEADER)
    reader.skip_row()
    rows, bad = [], []
    while (chunk := reader.chunk(chunk_rows)) is not None:
        rows += list(zip(chunk.row_numbers, chunk.rows, strict=True))
        bad += [(b.row, b.column, b.reason) for b in chunk.bad_rows]
    return rows, bad


def _file(lines: list[str]) -> str:
    return "\n".join(["id,name,city", *lines]) + "\n"


@pytest.mark.parametrize("chunk_rows", [1, 7, 50, 1000])
def test_an_unclosed_quote_costs_its_row_only(chunk_rows: int) -> None:
    lines = list(GOOD)
    lines[50] = '51,"Ann 51,Oslo'  # the quote runs to the end of the file
    rows, bad = _read(_file(lines), chunk_rows)
    assert bad == [(51, "name", "row.unclosed_quote")]
    assert [n for n, _ in rows] == [n for n in range(1, 201) if n != 51]
    assert rows[50] == (52, ["52", "Ann 52", "Oslo"])


def test_a_quote_closed_by_a_later_field_is_unclosed_too() -> None:
    lines = list(GOOD)
    lines[50] = '51,"Ann 51,Oslo'
    lines[60] = '61,"Smith, Ann",Oslo'  # its opening quote would close the runaway field
    rows, bad = _read(_file(lines))
    assert bad == [(51, "name", "row.unclosed_quote")]
    assert len(rows) == 199 and rows[59] == (61, ["61", "Smith, Ann", "Oslo"])


def test_well_formed_quoted_line_breaks_are_one_row() -> None:
    lines = list(GOOD[:3])
    lines[1] = '2,"Ann\r\nMarie",Oslo'
    rows, bad = _read(_file(lines), 1)
    assert rows == [
        (1, ["1", "Ann 1", "Oslo"]),
        (2, ["2", "Ann\r\nMarie", "Oslo"]),
        (3, ["3", "Ann 3", "Oslo"]),
    ]
    assert bad == []


def test_a_multi_line_row_of_the_wrong_width_is_an_unclosed_quote() -> None:
    lines = ['1,"Ann', 'Marie",Oslo,extra', "2,Bob,Oslo"]
    rows, bad = _read(_file(lines))
    assert bad == [(1, "name", "row.unclosed_quote")]
    # Reading goes on at the next line, which is a row of its own: here one of the
    # header's width (a runaway quote's lines are records, so they must be read).
    assert rows == [(2, ['Marie"', "Oslo", "extra"]), (3, ["2", "Bob", "Oslo"])]


def test_an_unclosed_quote_on_the_last_line() -> None:
    rows, bad = _read(_file(["1,Ann,Oslo", '2,"Bob,Oslo']))
    assert rows == [(1, ["1", "Ann", "Oslo"])] and bad == [(2, "name", "row.unclosed_quote")]


def test_an_oversized_cell_costs_its_row_only() -> None:
    lines = list(GOOD[:5])
    lines[2] = "3," + "x" * 300_000 + ",Oslo"
    rows, bad = _read(_file(lines), 2)
    assert bad == [(3, "", "row.field_too_long")]
    assert [n for n, _ in rows] == [1, 2, 4, 5]


def test_blank_lines_and_bad_rows_keep_the_numbering() -> None:
    rows, bad = _read("id,name,city\n\n1,a,b\n\n\n2,b\n3,c,d\n", 1)
    assert rows == [(1, ["1", "a", "b"]), (3, ["3", "c", "d"])]
    assert bad == [(2, "", "row.column_count")]


def _reference(text: str) -> tuple[list[tuple[int, list[str]]], list]:
    """The rules of csvrows read naively: one record at a time from a line index, the
    csv module told where to start each time (the oracle for RowReader's fast paths)."""
    lines = io.StringIO(text, newline="").readlines()
    i, number, rows, bad = 1, 0, [], []  # line 0: the header
    while i < len(lines):
        reader = csv.reader(iter(lines[i:]))
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error:
            cells = None
        used = reader.line_num
        if cells == []:
            i += used
            continue
        number += 1
        if cells is None:
            bad.append((number, "", "row.field_too_long"))
            i += 1
            continue
        broken = [j for j, cell in enumerate(cells) if "\n" in cell or "\r" in cell]
        if broken and (len(cells) != len(HEADER) or not _strict(lines[i : i + used])):
            column = HEADER[broken[0]] if broken[0] < len(HEADER) else ""
            bad.append((number, column, "row.unclosed_quote"))
            i += 1
            continue
        if len(cells) != len(HEADER):
            bad.append((number, "", "row.column_count"))
        else:
            rows.append((number, cells))
        i += used
    return rows, bad


def _strict(lines: list[str]) -> bool:
    try:
        list(csv.reader(lines, strict=True))
    except csv.Error:
        return False
    return True


@contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


_TEXT = st.text(alphabet='ab ,"\n\r', max_size=8)
_CELL = st.one_of(
    _TEXT,  # anything, stray quotes included
    _TEXT.map(lambda t: '"' + t.replace('"', '""') + '"'),  # well-formed, maybe multi-line
    _TEXT.map(lambda t: '"' + t.replace('"', "")),  # a quote that is never closed
)


@settings(max_examples=150)
@example(lines=['1,"a\nb\r\nc",Oslo', "2,b,c", '3,"x,Oslo', "4,d,e"], chunk_rows=5)
@given(
    lines=st.lists(st.lists(_CELL, min_size=1, max_size=4).map(",".join), max_size=15),
    chunk_rows=st.integers(1, 6),
)
def test_rows_are_those_of_the_naive_reading(lines: list[str], chunk_rows: int) -> None:
    """Whatever the chunk size: chunks start at row boundaries, and a row's fate depends
    on its own lines only. A 6-character field limit makes the generated rows hit it."""
    text = _file(lines)
    with _field_limit(6):
        assert _read(text, chunk_rows) == _reference(text)


def test_the_csv_source_reads_through_it(tmp_path: Path) -> None:
    lines = list(GOOD)
    lines[50] = '51,"Ann 51,Oslo'
    path = tmp_path / "q.csv"
    path.write_text(_file(lines))
    chunks = list(CsvSource(path).chunks(30))
    assert sum(c.read for c in chunks) == 200
    assert [(b.row, b.reason) for c in chunks for b in c.bad_rows] == [(51, "row.unclosed_quote")]
