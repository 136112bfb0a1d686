"""The pyarrow reader gives exactly the rows, row numbers and bad rows of the Python reader.

The Python reader (:class:`hashmatch.encode.sources.rows.CsvSource`) is the oracle:
whatever bytes the file holds (quotes anywhere, bare CRs, blank lines, bad UTF-8, short
rows), the columnar reader must yield the same data rows with the same numbers and set
aside the same rows with the same reasons, however the file is cut into chunks.
"""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.encode.columns import ArrowChunk
from hashmatch.encode.sources.columnar import ColumnarCsvReader, _nth_feed, columnar_reader
from hashmatch.encode.sources.rows import Chunk, CsvSource

_WHOLE = 1 << 30
Rows = list[tuple[int, tuple[str, ...]]]
Bad = list[tuple[int, str, str]]


def _python_rows(source: CsvSource, chunk_rows: int) -> tuple[Rows, Bad]:
    rows: Rows = []
    bad: Bad = []
    for chunk in source.chunks(chunk_rows):
        rows += [(n, tuple(r)) for n, r in zip(chunk.row_numbers, chunk.rows, strict=True)]
        bad += [(b.row, b.column, b.reason) for b in chunk.bad_rows]
    return rows, bad


def _columnar_rows(reader: ColumnarCsvReader, chunk_rows: int) -> tuple[Rows, Bad, int]:
    rows: Rows = []
    bad: Bad = []
    fast = 0
    for chunk in reader.chunks(chunk_rows):
        if isinstance(chunk, ArrowChunk):
            fast += 1
            width = chunk.table.num_columns
            factors = [chunk.factor(i) for i in range(width)]
            cells = [[f.values[c] for c in f.codes.tolist()] for f in factors]
            assert cells == [chunk.cells(i) for i in range(width)]
            texts = list(zip(*cells, strict=True)) if width else []
            rows += list(zip(chunk.row_numbers, texts, strict=True))
        else:
            assert isinstance(chunk, Chunk)
            rows += [(n, tuple(r)) for n, r in zip(chunk.row_numbers, chunk.rows, strict=True)]
        bad += [(b.row, b.column, b.reason) for b in chunk.bad_rows]
    return rows, bad, fast


def _compare(path: Path, chunk_rows: int, delimiter: str | None = None) -> int:
    """Assert both readers agree on ``path``; the number of chunks pyarrow parsed.

    The Python reader reads the file as one chunk: its chunks stop early after
    ``chunk_rows`` blank lines in a row (a known CsvSource bug), the columnar reader's
    do not.
    """
    expected = _python_rows(CsvSource(path, delimiter=delimiter), _WHOLE)
    reader = ColumnarCsvReader(CsvSource(path, delimiter=delimiter))
    rows, bad, fast = _columnar_rows(reader, chunk_rows)
    assert (rows, bad) == expected
    return fast


# Cells built from the characters that make CSV hard; lines joined with every terminator.
_CELL = st.text(alphabet='ab ,"\r\né;\t|', max_size=6)
_QUOTED = _CELL.map(lambda text: '"' + text.replace('"', '""') + '"')
_BYTES_CELL = st.one_of(
    _CELL.map(str.encode),
    _QUOTED.map(str.encode),
    # bad bytes, a truncated sequence, NUL, an encoded surrogate, overlong, beyond U+10FFFF
    st.sampled_from(
        [b"\xff", b"a\xc3", b"\x00", b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80"]
    ),
)


@given(
    lines=st.lists(
        st.one_of(  # mostly rows of the header's width, which pyarrow may take
            st.lists(_BYTES_CELL, min_size=3, max_size=3),
            st.lists(_BYTES_CELL, min_size=0, max_size=4),
        ),
        min_size=0,
        max_size=12,
    ),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    terminator=st.sampled_from([b"\n", b"\r\n", b"\r"]),
    final=st.booleans(),
    chunk_rows=st.integers(1, 5),
)
def test_any_bytes_read_like_the_python_reader(
    tmp_path_factory: pytest.TempPathFactory,
    lines: list[list[bytes]],
    delimiter: str,
    terminator: bytes,
    final: bool,
    chunk_rows: int,
) -> None:
    path = tmp_path_factory.mktemp("csv") / "f.csv"
    sep = delimiter.encode()
    body = terminator.join(map(sep.join, lines)) + (terminator if final and lines else b"")
    path.write_bytes(sep.join([b"x", b"y", b"z"]) + terminator + body)
    try:
        _python_rows(CsvSource(path, delimiter=delimiter), _WHOLE)
    except Exception:  # noqa: BLE001 - compare the failure, not the rows
        with pytest.raises(Exception):  # noqa: B017, PT011
            _columnar_rows(ColumnarCsvReader(CsvSource(path, delimiter=delimiter)), chunk_rows)
        return
    _compare(path, chunk_rows, delimiter)


def test_clean_and_quoted_files_take_the_fast_path(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    rows = [f'{i},"Smith, ""Jo""\nJr",x' if i % 3 == 0 else f"{i},ann,y" for i in range(20)]
    path.write_text("\ufeffid,name,z\r\n" + "\r\n".join(rows) + "\r\n", encoding="utf-8")
    assert _compare(path, 4) == 7  # 27 lines in blocks of 4 lines, each of whole rows
    # Blocks of 3 lines often end inside a quoted value: cut back to whole rows, they stay
    # on the fast path.
    assert _compare(path, 3) == 10


def test_a_bad_block_goes_to_python_and_the_next_ones_do_not(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    lines = [b"id,name"] + [b"%d,ann" % i for i in range(12)]
    lines[3] = b"2,a\xffn"  # undecodable: its block is read by the csv module
    lines[7] = b"6,ann,extra"  # one cell too many
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert _compare(path, 4) == 1  # rows 1-4 and 5-8 hold a bad row; rows 9-12 do not
    _, bad = _python_rows(CsvSource(path), 4)
    assert bad == [(3, "name", "row.undecodable"), (7, "", "row.column_count")]


def test_stray_quotes_and_long_fields_go_to_python(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    long_row = "3," + "x" * 200_000
    path.write_text(f'id,name\r\n1,a"b\r2,"c" \n\n{long_row}\n4,d\n', encoding="utf-8")
    assert _compare(path, 2) == 1  # only the last block (row 4) is clean
    _, bad = _python_rows(CsvSource(path), _WHOLE)
    assert bad == [(3, "", "row.field_too_long")]
    path.write_text('id,name\n1,a"b\n2,"c" \n', encoding="utf-8")
    assert _compare(path, 10) == 0


def test_progress_reaches_the_file_size(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("id,name\n" + "".join(f"{i},ann\n" for i in range(10)), encoding="utf-8")
    reader = ColumnarCsvReader(CsvSource(path))
    done = []
    for _ in reader.chunks(3):
        done.append(reader.progress()[0])
    assert done == sorted(done) and done[-1] == path.stat().st_size


def test_python_only_when_asked_or_not_utf8(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "f.csv"
    path.write_text("id,name\n1,ann\n", encoding="utf-8")
    assert columnar_reader(CsvSource(path)) is not None
    assert columnar_reader(CsvSource(path, encoding="latin-1")) is None
    monkeypatch.setenv("HASHMATCH_CSV_READER", "python")
    assert columnar_reader(CsvSource(path)) is None


@given(data=st.binary(max_size=20_000).map(lambda b: b.replace(b"\x00", b"\n")), seed=st.data())
def test_nth_feed_finds_the_nth_line_feed(data: bytes, seed: st.DataObject) -> None:
    start = seed.draw(st.integers(0, len(data)))
    feeds = [i for i in range(start, len(data)) if data[i] == ord("\n")]
    if feeds:
        n = seed.draw(st.integers(1, len(feeds)))
        assert _nth_feed(data, start, n) == feeds[n - 1]


def test_no_pyarrow_means_the_python_reader(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "f.csv"
    path.write_text("id,name\n1,ann\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "pyarrow.csv", None)  # import fails
    assert columnar_reader(CsvSource(path)) is None


def test_arrow_chunk_factors_several_blocks_and_text_columns() -> None:
    import pyarrow as pa

    names = pa.chunked_array(
        [pa.array(["x", "y", "x"]).dictionary_encode(), pa.array(["z", "x"]).dictionary_encode()]
    )
    ids = pa.chunked_array([pa.array(["1", "2", "3"]), pa.array(["4", "5"])])
    chunk = ArrowChunk(pa.table({"c0": names, "c1": ids}), range(1, 6))
    for index, expected in ((0, ["x", "y", "x", "z", "x"]), (1, ["1", "2", "3", "4", "5"])):
        factor = chunk.factor(index)
        assert [factor.values[c] for c in factor.codes.tolist()] == expected
        assert len(set(factor.values)) == len(factor.values)
        assert chunk.cells(index) == expected


def test_lines_without_line_feeds_beyond_the_block_limit_go_to_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashmatch.encode.sources.columnar as columnar

    monkeypatch.setattr(columnar, "_READ_BYTES", 64)
    monkeypatch.setattr(columnar, "_MAX_BLOCK", 200)
    path = tmp_path / "f.csv"
    path.write_bytes(b"id,name\r" + b"".join(b"%d,ann\r" % i for i in range(200)))
    assert _compare(path, 50) == 0  # old Mac line ends, no feed: all read by Python
    path.write_bytes(b"id,name\n" + b"".join(b"%d,ann\n" % i for i in range(200)))
    assert _compare(path, 50) == 4  # small reads, but line feeds: all read by pyarrow


@pytest.mark.parametrize("chunk_rows", [1, 7, 64, 500])
def test_an_unclosed_quote_costs_one_row_in_both_readers(tmp_path: Path, chunk_rows: int) -> None:
    lines = [f"C{i},Ann {i},Smith,1980-01-02" for i in range(1, 201)]
    lines[50] = 'C51,"Ann 51,Smith,1980-01-02'  # never closed
    lines[120] = 'C121,"Smith, Ann",Smith,1980-01-02'  # well-formed: its block may be fast
    path = tmp_path / "f.csv"
    path.write_text("id,name,surname,dob\n" + "\n".join(lines) + "\n")
    _compare(path, chunk_rows)
    rows, bad = _python_rows(CsvSource(path), _WHOLE)
    assert bad == [(51, "name", "row.unclosed_quote")]
    assert len(rows) == 199 and rows[119] == (121, ("C121", "Smith, Ann", "Smith", "1980-01-02"))


def test_gzip_and_standard_input_take_the_fast_path_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "id,name\r\n" + "".join(f'{i},"Smith, J{i}"\r\n' for i in range(500))
    plain, packed = tmp_path / "f.csv", tmp_path / "f.csv.gz"
    plain.write_text(text, encoding="utf-8")
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    expected = _python_rows(CsvSource(plain), _WHOLE)
    assert _compare(packed, 100) == 5
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(plain.read_bytes())))
    reader = columnar_reader(CsvSource("-"))
    assert reader is not None
    rows, bad, fast = _columnar_rows(reader, 100)
    assert (rows, bad) == expected and fast == 5
