"""`hashmatch inspect`: statistics of a file written here, clear refusals, nothing per row."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner, Result

import hashmatch.audit.inspection
from hashmatch.audit.inspection import inspect_file
from hashmatch.cli import app
from hashmatch.encfile import EncodingWriter

ROWS = 400


def _bits(n_rows: int, bits: np.ndarray) -> np.ndarray:
    """uint64[n, 1] words with the given bit positions set in every row."""
    word = np.uint64(0)
    for b in bits:
        word |= np.uint64(1) << np.uint64(b)
    return np.full(n_rows, word, np.uint64)


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(42)
    clks = np.zeros((ROWS, 4), np.uint64)
    clks[:, 0] = rng.integers(0, 2**64, ROWS, dtype=np.uint64, endpoint=False)  # ~50% fill
    clks[:, 1] = rng.integers(0, 2**64, ROWS, dtype=np.uint64, endpoint=False)
    clks[:, 2] = _bits(ROWS, np.array([3]))  # 1 of 64 bits: nearly empty
    clks[:, 3] = _bits(ROWS, np.arange(56))  # 56 of 64 bits: saturated
    clks[:20] = 0  # 20 empty CLKs
    clks[20:40] = clks[40]  # 20 repeats of row 40's CLK
    present = np.ones((ROWS, 4), bool)
    present[:20] = False
    present[:100, 0] = False  # first_name missing in 25% of rows
    present[:, 3] = False  # phone never present
    email = rng.integers(1, 256, (ROWS, 16), dtype=np.uint8)
    email[::4] = 0  # 25% missing
    return {
        "clks": clks,
        "present": present,
        "email": email,
        "row_tokens": rng.integers(0, 256, (ROWS, 16), dtype=np.uint8),
    }


@pytest.fixture(scope="module")
def hme(tmp_path_factory: pytest.TempPathFactory, arrays: dict[str, np.ndarray]) -> Path:
    path = tmp_path_factory.mktemp("inspect") / "crm.hme"
    with EncodingWriter(
        path,
        party="crm",
        schema_fingerprint="sha256:" + "12" * 32,
        clk_bits=256,
        segments=[("first_name", 0, 128), ("dob", 128, 64), ("email", 192, 64)],
        token_names=["email"],
        field_names=["first_name", "dob", "email", "phone"],
        secret_commitment="ef" * 32,
    ) as w:
        half = ROWS // 2  # two appends, to exercise chunk accumulation
        for sl in (slice(0, half), slice(half, ROWS)):
            w.append(
                arrays["clks"][sl],
                {"email": arrays["email"][sl]},
                arrays["present"][sl],
                arrays["row_tokens"][sl],
            )
    return path


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["inspect", *map(str, args)])


def test_report_statistics(hme: Path) -> None:
    full = inspect_file(hme)
    chunked = inspect_file(hme, chunk_rows=7)  # the same, however the rows are chunked
    assert full == chunked
    r = full
    assert r.rows == ROWS
    missing = {f.name: f.missing_rate for f in r.fields}
    assert missing == {"first_name": 0.25, "dob": 0.05, "email": 0.05, "phone": 1.0}
    assert [t.missing_rate for t in r.tokens] == [0.25]
    seg = {s.field: s for s in r.segments}
    assert seg["dob"].mean_fill == pytest.approx(1 / 64)
    assert seg["dob"].status == "nearly empty"
    assert seg["email"].mean_fill == pytest.approx(56 / 64)
    assert seg["email"].status == "saturated"
    assert 0.4 < seg["first_name"].mean_fill < 0.6 and seg["first_name"].status == "ok"
    assert r.empty_clk_rows == 20
    assert r.duplicate_clk_rows == 20
    assert r.popcount is not None
    assert sum(b.rows for b in r.popcount.histogram) == ROWS - 20
    assert r.popcount.min <= r.popcount.p05 <= r.popcount.median <= r.popcount.p95 <= r.popcount.max
    joined = "\n".join(r.warnings)
    for needle in ("'dob' is nearly empty", "'email' is saturated", "'phone' is missing", "20 row"):
        assert needle in joined
    assert "repeat" not in joined  # 5% duplicates is not above the warning rate


def test_cli_prints_tables_histogram_and_warnings(hme: Path) -> None:
    result = run(hme)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for needle in ("crm", "400", "first_name", "25.0%", "nearly empty", "saturated", "█"):
        assert needle in out
    assert "warning:" in out and "(verified)" in out


def test_cli_json(hme: Path) -> None:
    result = run(hme, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["rows"] == ROWS
    assert doc["header"]["party"] == "crm"
    assert doc["header"]["secret_commitment"] == "ef" * 32
    assert {f["name"]: f["missing_rate"] for f in doc["fields"]}["phone"] == 1.0
    assert doc["duplicate_clk_rows"] == 20
    assert len(doc["warnings"]) == 4


def test_nothing_per_row_is_printed(hme: Path, arrays: dict[str, np.ndarray]) -> None:
    text = run(hme).stdout + run(hme, "--json").stdout
    for name in ("email", "row_tokens"):
        for row in arrays[name][40:60]:
            token_hex = row.tobytes().hex()
            assert token_hex[:8] not in text and token_hex not in text
    for word in arrays["clks"][40:60, :2].ravel():
        assert str(int(word)) not in text and f"{int(word):016x}" not in text


def test_empty_file_reports_no_rates(tmp_path: Path) -> None:
    path = tmp_path / "empty.hme"
    with EncodingWriter(
        path,
        party="p",
        schema_fingerprint="sha256:00",
        clk_bits=64,
        segments=[("name", 0, 64)],
        token_names=[],
        field_names=["name"],
    ):
        pass
    report = inspect_file(path)
    assert report.popcount is None and report.fields[0].missing_rate is None
    assert report.segments[0].status == "no data" and report.warnings == ()
    result = run(path)
    assert result.exit_code == 0, result.output
    assert "popcount" not in result.stdout


def test_tampered_file_exits_2_with_one_line_naming_the_file(tmp_path: Path, hme: Path) -> None:
    data = bytearray(hme.read_bytes())
    data[2000] ^= 0xFF
    bad = tmp_path / "bad.hme"
    bad.write_bytes(bytes(data))
    result = run(bad)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and str(bad) in lines[0] and "checksum" in lines[0]
    assert result.stdout == ""


def test_csv_given_to_inspect_gets_a_hint(tmp_path: Path) -> None:
    csv = tmp_path / "people.hme"
    csv.write_text("name,dob\nAlice Example,1990-02-03\n")
    result = run(csv)
    assert result.exit_code == 2
    assert "not a hashmatch encoding file" in result.stderr
    assert "hint: " in result.stderr and "hashmatch encode" in result.stderr
    assert "Alice" not in result.stderr


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(app, ["inspect", "--help"])
    assert result.exit_code == 0
    assert "hashmatch inspect crm.hme" in result.stdout


def test_docstring_examples_run() -> None:
    result = doctest.testmod(hashmatch.audit.inspection)
    assert result.attempted > 0 and result.failed == 0


def test_inspection_needs_no_numpy_bitwise_count(
    hme: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """numpy 1.26 (allowed by pyproject) has no np.bitwise_count: the report must not use it."""
    want = inspect_file(hme)
    if hasattr(np, "bitwise_count"):
        monkeypatch.delattr(np, "bitwise_count")
    got = inspect_file(hme)
    assert got.popcount == want.popcount
    assert got.segments == want.segments
