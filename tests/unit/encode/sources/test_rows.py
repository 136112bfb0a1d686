"""Reading rows: BOM, delimiters, blank lines, quoted newlines, row numbers, in-memory sources."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from hashmatch.encode.sources.rows import CsvSource, RecordsSource
from hashmatch.errors import InputDataError


def _all(source, n: int = 2):
    chunks = list(source.chunks(n))
    rows = [r for c in chunks for r in c.rows]
    numbers = [x for c in chunks for x in c.row_numbers]
    bad = [b for c in chunks for b in c.bad_rows]
    return rows, numbers, bad


def test_bom_delimiter_blank_lines_and_quoted_newlines(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b'\xef\xbb\xbf a ;b\n1;"two\nlines"\n\n3;4\n5;6\n')
    src = CsvSource(path)
    assert src.header == ["a", "b"] and src.delimiter == ";"
    rows, numbers, bad = _all(src)
    assert rows == [["1", "two\nlines"], ["3", "4"], ["5", "6"]]
    assert numbers == [1, 2, 3] and not bad
    done, total = src.progress()
    assert total == path.stat().st_size


def test_explicit_delimiter_and_unknown_encoding(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a|b\n1|2\n")
    assert _all(CsvSource(path, delimiter="|"))[0] == [["1", "2"]]
    with pytest.raises(InputDataError, match="unknown input encoding"):
        CsvSource(path, encoding="nope-8")
    with pytest.raises(InputDataError, match="one character"):
        CsvSource(path, delimiter="||")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="not found"):
        CsvSource(tmp_path / "nope.csv")
    with pytest.raises(InputDataError, match="directory"):
        CsvSource(tmp_path)


def test_a_cell_over_the_field_limit_costs_its_row_only(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"a,b\n1,2\n3," + b"x" * 200_000 + b"\n5,6\n")
    rows, numbers, bad = _all(CsvSource(path))
    assert rows == [["1", "2"], ["5", "6"]] and numbers == [1, 3]
    assert [(b.row, b.reason) for b in bad] == [(2, "row.field_too_long")]


def test_records_from_dicts_and_dataframe() -> None:
    rows, numbers, _ = _all(RecordsSource([{"a": "x", "b": None}, {"a": 3}, {"b": float("nan")}]))
    assert rows == [["x", ""], ["3", ""], ["", ""]] and numbers == [1, 2, 3]
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": ["x", None], "b": [1.5, float("nan")]})
    src = RecordsSource(frame)
    assert src.header == ["a", "b"]
    assert _all(src)[0] == [["x", "1.5"], ["", ""]]


def test_bad_records() -> None:
    with pytest.raises(InputDataError, match="no records"):
        RecordsSource([])
    with pytest.raises(InputDataError, match="expected mappings"):
        RecordsSource([["a", "b"]])


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 50])
def test_a_run_of_blank_lines_longer_than_a_chunk_does_not_end_the_file(
    tmp_path: Path, chunk_rows: int
) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n" + "\n" * 7 + "3,4\n\n\n5,6\n")
    rows, numbers, bad = _all(CsvSource(path), chunk_rows)
    assert rows == [["1", "2"], ["3", "4"], ["5", "6"]]
    assert numbers == [1, 2, 3] and not bad


@pytest.mark.parametrize("stdin", [False, True])
def test_a_header_longer_than_the_first_bytes_read(tmp_path: Path, monkeypatch, stdin) -> None:
    header = [f"column_with_a_rather_long_name_{i}" for i in range(3000)]  # ~110 KB
    data = (",".join(header) + "\n" + ",".join("x" * 3000) + "\n").encode()
    path = tmp_path / "wide.csv"
    path.write_bytes(data)
    if stdin:
        monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(data)))
    src = CsvSource("-" if stdin else path)
    assert src.header == header
    assert _all(src)[0] == [["x"] * 3000]
