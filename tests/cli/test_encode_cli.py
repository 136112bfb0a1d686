"""`hashmatch encode` through CliRunner on FEBRL 4: outputs, summary, exit codes, errors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hashmatch.cli import app
from hashmatch.encfile import EncodingFile
from hashmatch.encode import LinkageSecret

ROOT = Path(__file__).parents[2]
FEBRL = ROOT / "tests" / "data" / "febrl4"
EXAMPLE = ROOT / "examples" / "febrl4"
runner = CliRunner()


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "k.secret"
    LinkageSecret(bytes(range(32))).write(path)
    return path


@pytest.fixture
def small_febrl(tmp_path: Path) -> Path:
    lines = (FEBRL / "dataset4b.csv").read_text().splitlines()[:301]
    path = tmp_path / "b.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _encode(data: Path, secret: Path, out: Path, *extra: str, mapping: bool = True):
    args = ["--mapping", str(EXAMPLE / "mapping.toml")] if mapping else ["--id-column", "rec_id"]
    return runner.invoke(
        app,
        [
            "encode",
            str(data),
            "--schema",
            str(EXAMPLE / "schema.toml"),
            "--secret",
            str(secret),
            "--party",
            "b",
            "-o",
            str(out),
            *args,
            *extra,
        ],
    )


def test_encode_writes_file_lookup_rejects_and_summary(small_febrl, secret, tmp_path) -> None:
    out = tmp_path / "b.hme"
    result = _encode(small_febrl, secret, out)
    assert result.exit_code == 0, result.output
    assert "read 300 rows, encoded 300, rejected 0" in result.output
    f = EncodingFile.open(out)
    assert f.header.rows == 300 and f.header.party == "b"
    assert (tmp_path / "b.lookup").read_text().startswith("row_token,record_id\n")
    assert (tmp_path / "b.rejects.csv").read_text() == "row,column,reason\n"
    assert np.asarray(f.present).mean() > 0.9


def test_cli_mapping_options_give_the_same_bits(small_febrl, secret, tmp_path) -> None:
    a, b = tmp_path / "a.hme", tmp_path / "b2.hme"
    assert _encode(small_febrl, secret, a).exit_code == 0
    result = runner.invoke(
        app,
        [
            "encode",
            str(small_febrl),
            "--schema",
            str(EXAMPLE / "schema.toml"),
            "--secret",
            str(secret),
            "--party",
            "b",
            "-o",
            str(b),
            "--map",
            "address=street_number+address_1+address_2",
            "--date-format",
            "%Y%m%d",
            "--id-column",
            "rec_id",
            "--lookup",
            str(tmp_path / "x.lookup"),
            "--rejects",
            str(tmp_path / "x.rejects.csv"),
            "--chunk-rows",
            "7",
        ],
    )
    assert result.exit_code == 0, result.output
    assert np.array_equal(
        np.asarray(EncodingFile.open(a).clks), np.asarray(EncodingFile.open(b).clks)
    )
    assert (tmp_path / "x.lookup").exists() and (tmp_path / "x.rejects.csv").exists()


def test_missing_column_is_a_one_line_error(small_febrl, secret, tmp_path) -> None:
    result = _encode(small_febrl, secret, tmp_path / "o.hme", "--map", "surname=family_name")
    assert result.exit_code == 2
    assert "family_name" in result.output and "not found" in result.output
    assert not (tmp_path / "o.hme").exists()


def test_fail_fast_and_bad_rows(secret, tmp_path) -> None:
    data = tmp_path / "bad.csv"
    data.write_text("rec_id,surname,date_of_birth\nr1,smith,19510101\nr2,jones\n")
    result = _encode(data, secret, tmp_path / "o.hme", mapping=False)
    assert result.exit_code == 0, result.output
    assert "read 2 rows, encoded 1, rejected 1" in result.output
    assert "row.column_count" in result.output
    result = _encode(data, secret, tmp_path / "o2.hme", "--fail-fast", mapping=False)
    assert result.exit_code == 2 and "row 2" in result.output
    assert not (tmp_path / "o2.hme").exists()


def test_wrong_encoding_suggests_the_option(secret, tmp_path) -> None:
    data = tmp_path / "latin.csv"
    data.write_bytes("rec_id,surname\nr1,M\u00fcller\n".encode("latin-1"))
    result = _encode(data, secret, tmp_path / "o.hme", mapping=False)
    assert result.exit_code == 2, result.output  # its only row rejected: nothing encoded
    assert "no row was encoded: all 1 rows were rejected (row.undecodable 1)" in result.output
    assert "--input-encoding" in result.output and not (tmp_path / "o.hme").exists()
    result = _encode(data, secret, tmp_path / "o.hme", "--input-encoding", "latin-1", mapping=False)
    assert result.exit_code == 0 and "encoded 1, rejected 0" in result.output


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "empty"), ("rec_id,surname\n", "no data rows")],
)
def test_empty_inputs(secret, tmp_path, content: str, message: str) -> None:
    data = tmp_path / "in.csv"
    data.write_text(content)
    result = _encode(data, secret, tmp_path / "o.hme", mapping=False)
    assert result.exit_code == 2 and message in result.output


def test_bad_secret_and_schema_version(small_febrl, secret, tmp_path) -> None:
    os.chmod(secret, 0o644)
    result = _encode(small_febrl, secret, tmp_path / "o.hme")
    assert result.exit_code == 2 and "0600" in result.output
    os.chmod(secret, 0o600)
    schema = tmp_path / "s.toml"
    schema.write_text((EXAMPLE / "schema.toml").read_text().replace("version = 1", "version = 99"))
    result = runner.invoke(
        app,
        [
            "encode",
            str(small_febrl),
            "--schema",
            str(schema),
            "--secret",
            str(secret),
            "--party",
            "b",
            "-o",
            str(tmp_path / "o.hme"),
        ],
    )
    assert result.exit_code == 2 and "version" in result.output


def test_help_has_an_example() -> None:
    result = runner.invoke(app, ["encode", "--help"])
    assert result.exit_code == 0 and "hashmatch encode crm.csv" in result.output
