"""The lookup file's bytes are exactly what the csv module writes for spreadsheet-safe
cells (hashmatch.csv_cells), on both of the writer's paths (ids needing no quotes or
escape joined at once; others through the csv module)."""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.csv_cells import safe_cell
from hashmatch.encode import pipeline
from hashmatch.lookup import read_lookup


def csv_module_bytes(chunks: list[tuple[np.ndarray, list[str]]]) -> bytes:
    """The reference: the csv module's rows (minimal quoting, CRLF), UTF-8."""
    out = io.StringIO(newline="")
    rows = csv.writer(out)
    rows.writerow(("row_token", "record_id"))
    for tokens, ids in chunks:
        rows.writerows(
            (t.tobytes().hex(), safe_cell(rid)) for t, rid in zip(tokens, ids, strict=True)
        )
    return out.getvalue().encode("utf-8")


def lookup_bytes(path: Path, chunks: list[tuple[np.ndarray, list[str]]]) -> bytes:
    with pipeline._lookup_writer(path) as lookup:
        for tokens, ids in chunks:
            lookup.write(tokens, ids)
    return path.read_bytes()


def tokens(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, (n, 16), dtype=np.uint8)


PLAIN = st.text(st.characters(blacklist_characters=',"\r\n', blacklist_categories=["Cs"]))
ANY = st.text(st.characters(blacklist_categories=["Cs"]))


@given(ids=st.lists(st.lists(st.one_of(PLAIN, ANY), max_size=12), max_size=4))
def test_lookup_bytes_are_the_csv_modules(
    tmp_path_factory: pytest.TempPathFactory, ids: list[list[str]]
) -> None:
    rng = np.random.default_rng(len(ids))
    chunks = [(tokens(rng, len(chunk)), chunk) for chunk in ids]
    path = tmp_path_factory.mktemp("lookup") / "a.lookup"
    assert lookup_bytes(path, chunks) == csv_module_bytes(chunks)


@pytest.mark.parametrize(
    "ids",
    [
        ["rec-1", "a,b", "x"],  # comma
        ['say "hi"', "y"],  # quote
        ["two\nlines", "z"],  # line feed
        ["cr\rhere"],  # carriage return
        ["é", "日本", "", "plain"],  # not ASCII; empty
        [f"id{i:06d}" for i in range(10_000)],
    ],
)
def test_quoted_and_unquoted_chunks(tmp_path: Path, ids: list[str]) -> None:
    rng = np.random.default_rng(1)
    chunks = [(tokens(rng, len(ids)), ids), (tokens(rng, 2), ["p", "q"]), (tokens(rng, 0), [])]
    assert lookup_bytes(tmp_path / "a.lookup", chunks) == csv_module_bytes(chunks)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_lookup_is_owner_only(tmp_path: Path) -> None:
    lookup_bytes(tmp_path / "a.lookup", [])
    assert stat.S_IMODE((tmp_path / "a.lookup").stat().st_mode) & 0o077 == 0


@pytest.mark.parametrize(
    "ids",
    [["=HYPERLINK(1)", "+cmd", "-x", "@a", "'q", "\tTAB"], ["-5", "+44123", "1e-3", "plain"]],
)
def test_risky_ids_are_escaped_and_read_back_exactly(tmp_path: Path, ids: list[str]) -> None:
    rng = np.random.default_rng(3)
    chunk = (tokens(rng, len(ids)), ids)
    raw = lookup_bytes(tmp_path / "a.lookup", [chunk])
    cells = [line.split(b",", 1)[1] for line in raw.split(b"\r\n")[1:] if line]
    # no cell a spreadsheet would run as a formula; plain numbers stay numbers
    assert all(not c.startswith((b"=", b"+", b"-", b"@", b"\t")) or c in (b"-5", b"+44123")
               for c in cells)
    back = read_lookup(tmp_path / "a.lookup")
    assert list(back.values()) == ids
