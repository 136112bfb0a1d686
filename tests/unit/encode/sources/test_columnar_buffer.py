"""The columnar reader's reused read buffer: tiny reads move, grow and refill it in every
way, and the rows stay exactly the Python reader's (the oracle)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.encode.columns import ArrowChunk
from hashmatch.encode.sources import columnar
from hashmatch.encode.sources.rows import CsvSource

_WHOLE = 1 << 30
_CELL = st.text(alphabet='ab,"\r\né', max_size=5)


def rows_of(chunks: object) -> list[tuple[int, tuple[str, ...]]]:
    rows = []
    for chunk in chunks:  # type: ignore[attr-defined]
        if isinstance(chunk, ArrowChunk):
            width = chunk.table.num_columns
            cells = list(zip(*(chunk.cells(i) for i in range(width)), strict=True))
            rows += list(zip(chunk.row_numbers, cells, strict=True))
        else:
            rows += [(n, tuple(r)) for n, r in zip(chunk.row_numbers, chunk.rows, strict=True)]
            rows += [(b.row, (b.column, b.reason)) for b in chunk.bad_rows]
    return sorted(rows)


@given(
    lines=st.lists(st.lists(_CELL, min_size=2, max_size=2), max_size=30),
    terminator=st.sampled_from(["\n", "\r\n", "\r"]),
    read_bytes=st.integers(1, 40),
    max_block=st.integers(8, 200),
    chunk_rows=st.integers(1, 7),
    bom=st.booleans(),
)
def test_tiny_reads_give_the_python_readers_rows(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[list[str]],
    terminator: str,
    read_bytes: int,
    max_block: int,
    chunk_rows: int,
    bom: bool,
) -> None:
    path = tmp_path_factory.mktemp("csv") / "f.csv"
    text = terminator.join(["x,y"] + [",".join(cells) for cells in lines]) + terminator
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    try:
        expected = rows_of(CsvSource(path).chunks(_WHOLE))
    except Exception:  # noqa: BLE001 - compare the failure, not the rows
        expected = None
    with pytest.MonkeyPatch.context() as m:
        m.setattr(columnar, "_READ_BYTES", read_bytes)
        m.setattr(columnar, "_MAX_BLOCK", max_block)
        reader = columnar.ColumnarCsvReader(CsvSource(path))
        if expected is None:
            with pytest.raises(Exception):  # noqa: B017, PT011
                rows_of(reader.chunks(chunk_rows))
        else:
            assert rows_of(reader.chunks(chunk_rows)) == expected


def test_a_long_file_is_read_in_blocks_of_whole_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(columnar, "_READ_BYTES", 100)  # many reads, each block many refills
    path = tmp_path / "f.csv"
    path.write_text("id,name\n" + "".join(f"{i},{'n' * (i % 13)}\n" for i in range(3000)))
    reader = columnar.ColumnarCsvReader(CsvSource(path))
    chunks = list(reader.chunks(251))
    assert all(isinstance(c, ArrowChunk) for c in chunks)
    assert rows_of(chunks) == rows_of(CsvSource(path).chunks(_WHOLE))
    assert reader.progress()[0] == path.stat().st_size


@given(data=st.binary(max_size=20_000).map(lambda b: b.replace(b"\x00", b"\n")), seed=st.data())
def test_nth_feed_finds_the_nth_line_feed_before_an_end(data: bytes, seed: st.DataObject) -> None:
    start = seed.draw(st.integers(0, len(data)))
    end = seed.draw(st.integers(start, len(data)))
    feeds = [i for i in range(start, end) if data[i] == ord("\n")]
    if feeds:
        n = seed.draw(st.integers(1, len(feeds)))
        assert columnar._nth_feed(data, start, n, end) == feeds[n - 1]


@pytest.mark.parametrize("read_bytes", [1, 3, 8, 16])
def test_python_rows_ending_in_a_carriage_return_at_the_end_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_bytes: int
) -> None:
    # No line feed within _MAX_BLOCK: the Python reader reads to the end, and must look
    # past the last "\r" for a "\n" (moving the buffer) and find the end instead.
    monkeypatch.setattr(columnar, "_READ_BYTES", read_bytes)
    monkeypatch.setattr(columnar, "_MAX_BLOCK", 20)
    path = tmp_path / "f.csv"
    path.write_bytes(b"x,y\r" + b"".join(b"%d,ab\r" % i for i in range(10)))
    rows = rows_of(columnar.ColumnarCsvReader(CsvSource(path)).chunks(100))
    assert rows == [(i + 1, (str(i), "ab")) for i in range(10)]
