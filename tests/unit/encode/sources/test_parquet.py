"""Parquet files read as the text a CSV export would hold, batch by batch."""

from __future__ import annotations

import datetime as dt
import io
import sys
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hashmatch.encode import LinkageSecret, encode_records
from hashmatch.encode.sources.parquet import ParquetSource
from hashmatch.encode.sources.rows import open_source, row_texts
from hashmatch.errors import InputDataError

SCHEMA = {
    "version": 1,
    "clk": {"bits": 256},
    "fields": [
        {"name": "first_name", "type": "name", "bloom": True},
        {"name": "dob", "type": "date", "bloom": True, "exact": True},
    ],
}


def _rows(source) -> tuple[list[list[str]], list[tuple[int, str, str]]]:
    rows, bad = [], []
    for chunk in source.chunks(2):
        rows += row_texts(chunk)
        bad += [(b.row, b.column, b.reason) for b in chunk.bad_rows]
    return rows, bad


def test_cells_are_the_text_of_a_csv_export(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"  # told by its magic bytes, not its name
    table = pa.table(
        {
            "id": pa.array([1, 2, None], pa.int64()),
            "first_name": pa.array(["Ann", None, "Zoë"]).dictionary_encode(),
            "score": [1.5, 12.0, None],
            "dob": [dt.date(1980, 11, 22), None, dt.date(1979, 1, 2)],
            "seen": [dt.datetime(2020, 1, 2), dt.datetime(2020, 1, 3), None],
            "at": [dt.datetime(2020, 1, 2, 7, 30), None, None],
            "ok": [True, False, None],
            "amount": [Decimal("1.50"), None, Decimal("2.00")],
            "tags": [["a", "b"], None, []],
        }
    )
    pq.write_table(table, path, row_group_size=2)
    source = open_source(path)
    assert isinstance(source, ParquetSource)
    assert source.header == list(table.column_names)
    rows, bad = _rows(source)
    assert bad == []
    assert rows == [
        ["1", "Ann", "1.5", "1980-11-22", "2020-01-02", "2020-01-02 07:30:00", "true", "1.50",
         "['a', 'b']"],
        ["2", "", "12", "", "2020-01-03", "", "false", "", ""],
        ["", "Zoë", "", "1979-01-02", "", "", "", "2.00", "[]"],
    ]  # fmt: skip
    assert source.progress() == (3, 3)


def test_binary_cells_that_are_not_utf8_cost_their_row(tmp_path: Path) -> None:
    path = tmp_path / "b.parquet"
    pq.write_table(pa.table({"id": ["1", "2", "3"], "name": [b"Ann", b"Gr\xfc\xdfe", b"Bo"]}), path)
    rows, bad = _rows(open_source(path))
    assert rows == [["1", "Ann"], ["3", "Bo"]]
    assert bad == [(2, "name", "row.undecodable")]


def test_encoding_parquet_gives_the_bits_of_the_same_csv(tmp_path: Path) -> None:
    frame = {"first_name": ["Ann", "Bob", "Zoë", ""], "dob": ["1980-11-22", "", "x", "2001-02-03"]}
    pq.write_table(pa.table(frame), tmp_path / "p.parquet")
    lines = ["first_name,dob", *(",".join(r) for r in zip(*frame.values(), strict=True))]
    (tmp_path / "p.csv").write_text("\n".join(lines) + "\n")
    secret = LinkageSecret(bytes(32))
    batches = [
        encode_records(tmp_path / name, schema=SCHEMA, secret=secret, party="p")
        for name in ("p.parquet", "p.csv")
    ]
    assert np.array_equal(batches[0].clks, batches[1].clks)
    assert np.array_equal(batches[0].tokens["dob"], batches[1].tokens["dob"])
    assert batches[0].summary.read == batches[1].summary.read == 4


def test_unreadable_parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"id": list(range(100))}), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputDataError, match="cannot be read as Parquet"):
        open_source(path)
    monkeypatch.setattr(sys, "stdin", SimpleNamespace(buffer=io.BytesIO(data)))
    with pytest.raises(InputDataError, match="standard input") as err:
        open_source("-")
    assert err.value.hint == "pass the Parquet file's path"


def test_a_parquet_header_is_checked_like_a_csv_one(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"C8937547": ["x"], "1980-11-22": ["y"]}), path)
    with pytest.raises(InputDataError, match="first row looks like data"):
        open_source(path)
