"""encode_file gives byte-identical outputs on the pyarrow path and on the Python csv path.

The same file, schema, mapping, secret and row tokens must give the same ``.hme``, lookup
and rejects bytes whichever reader ran, however the file is chunked, including files whose
bad rows send some blocks to the Python reader, joined columns, a split full name and
party date formats.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from itertools import count
from pathlib import Path
from typing import Any

import pytest

from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.encode.columns import ArrowChunk
from hashmatch.encode.sources.columnar import ColumnarCsvReader
from hashmatch.encode.sources.rows import CsvSource

SCHEMA: dict[str, Any] = {
    "version": 1,
    "name": "columnar",
    "clk": {"bits": 512},
    "fields": [
        {"name": "first_name", "type": "name", "bloom": True},
        {"name": "last_name", "type": "name", "bloom": {"weight": 2}, "required": True},
        {"name": "dob", "type": "date", "bloom": True},
        {"name": "address", "type": "address", "bloom": {"weight": 2, "q": 3}},
        {"name": "email", "type": "email", "bloom": True, "exact": True},
    ],
    "match_keys": [
        {"name": "ln_yob", "parts": ["last_name", "dob:year"]},
        {"name": "blk", "parts": ["last_name:soundex", "first_name:initial"], "purpose": "block"},
    ],
}
HARDENED = {**SCHEMA, "hardening": {"salt": "dob:year", "balance": True, "rule90": True}}
MAPPING: dict[str, Any] = {
    "record_id": "id",
    "date_formats": ["%d.%m.%Y", "%Y"],
    "fields": {
        "first_name": {"column": "full_name", "part": "first", "name_order": "last_first"},
        "last_name": {"column": "full_name", "part": "last", "name_order": "last_first"},
        "address": {"column": ["no", "street", "town"]},
        "email": {"column": "mail"},
    },
}
_PEOPLE = [
    b'"Smith, Ann",04.11.1951,12,high st,"Leeds, West",ann@acme.co.uk',
    b'"Jones, Bob",1962,3,"the ""old"" mill",York,',
    b"Brown Di,31.02.1980,,,Hull,di@acme.co.uk",
    b'"Green, Ed",N/A,7,"long\nlane",Bath,ed@acme.co.uk',
    b'",Cy",05.05.1970,1,a rd,Leeds,cy@acme.co.uk',  # no last name: required -> reject
]


def _csv(path: Path, copies: int, *, bad: bool) -> Path:
    lines = [b"id,full_name,dob,no,street,town,mail"]
    for i in range(copies):
        for j, person in enumerate(_PEOPLE):
            lines.append(b"r%d-%d," % (i, j) + person)
    if bad:
        lines[7] = b"x7,\"Sm\xffith, Ann\",1951,1,a,b,c"  # undecodable byte
        lines[12] = b"x12,too,few"  # wrong cell count
        lines[20] = b' ,"Smith, Ann",1951,1,a,b,c'  # empty record id
        lines[23] = b'x23,Sm"ith,1951,1,a,b,c'  # a stray quote
        lines.insert(30, b"")  # a blank line: not a row
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    return path


def _counting_token_bytes() -> Callable[[int], bytes]:
    """Random bytes 0, 1, 2, ... across calls (the row key, so row tokens are reproducible)."""
    counter = count()
    return lambda n: bytes(next(counter) % 251 for _ in range(n))


def _run(
    data: Path, out: Path, schema: dict[str, Any], chunk_rows: int, reader: str, monkeypatch
) -> dict[str, bytes]:
    monkeypatch.setenv("HASHMATCH_CSV_READER", reader)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    monkeypatch.setattr(secrets, "token_bytes", _counting_token_bytes())
    out.mkdir()
    summary = encode_file(
        data,
        schema=schema,
        mapping=MAPPING,
        secret=LinkageSecret(bytes(range(32))),
        party="p",
        out=out / "p.hme",
        chunk_rows=chunk_rows,
    )
    assert summary.read == summary.encoded + summary.rejected
    assert summary.output and summary.lookup and summary.rejects
    return {
        "hme": summary.output.read_bytes(),
        "lookup": summary.lookup.read_bytes(),
        "rejects": summary.rejects.read_bytes(),
        "summary": repr((summary.read, summary.encoded, summary.reject_reasons, summary.fields))
        .encode(),
    }


def _arrow_chunks(data: Path, chunk_rows: int) -> int:
    reader = ColumnarCsvReader(CsvSource(data))
    return sum(isinstance(c, ArrowChunk) for c in reader.chunks(chunk_rows))


@pytest.mark.parametrize("schema", [SCHEMA, HARDENED], ids=["plain", "hardened"])
@pytest.mark.parametrize("bad", [False, True], ids=["clean", "bad-rows"])
@pytest.mark.parametrize("chunk_rows", [4, 7, 1000])
def test_fast_and_python_paths_write_identical_files(
    tmp_path: Path, monkeypatch, schema: dict[str, Any], bad: bool, chunk_rows: int
) -> None:
    data = _csv(tmp_path / "in.csv", 8, bad=bad)
    fast = _run(data, tmp_path / "fast", schema, chunk_rows, "auto", monkeypatch)
    slow = _run(data, tmp_path / "slow", schema, chunk_rows, "python", monkeypatch)
    for name in ("hme", "lookup", "rejects", "summary"):
        assert fast[name] == slow[name], name
    # The fast path did run (a bad file read as one block is all Python's).
    assert _arrow_chunks(data, chunk_rows) > 0 or (bad and chunk_rows == 1000)
    if bad:
        rejects = fast["rejects"].decode().splitlines()
        assert "7,full_name,row.undecodable" in rejects
        assert "12,,row.column_count" in rejects
        assert "20,id,record_id.empty" in rejects
        assert "Sm" not in fast["rejects"].decode()  # never a value


def test_whole_file_chunk_is_one_arrow_table(tmp_path: Path) -> None:
    data = _csv(tmp_path / "in.csv", 8, bad=False)
    assert _arrow_chunks(data, 1000) == 1


def test_the_fast_path_does_not_import_pandas(tmp_path: Path) -> None:
    """pyarrow imports pandas behind some calls (Array.to_numpy): ~0.5 s per CLI run."""
    data = _csv(tmp_path / "in.csv", 2, bad=False)
    code = (
        "import sys\n"
        "from hashmatch.encode import LinkageSecret, encode_file\n"
        f"encode_file({str(data)!r}, schema={SCHEMA!r}, mapping={MAPPING!r}, party='p',\n"
        f"            secret=LinkageSecret(bytes(32)), out={str(tmp_path / 'p.hme')!r})\n"
        "assert 'pyarrow' in sys.modules and 'pandas' not in sys.modules\n"
        # the pieces a pooled run cuts from a chunk's table at the end (in each worker)
        "from hashmatch.encode.sources.columnar import ColumnarCsvReader\n"
        "from hashmatch.encode.sources.rows import CsvSource\n"
        f"chunk = next(ColumnarCsvReader(CsvSource({str(data)!r})).chunks(1000))\n"
        "for piece in chunk.cut(2):\n"
        "    piece.factor(0)\n"
        "assert 'pandas' not in sys.modules\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "HASHMATCH_CSV_READER"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
