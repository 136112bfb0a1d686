"""`hashmatch profile`: counts by outcome and reason code, JSON form, no values."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hashmatch.cli import app

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "febrl4"
runner = CliRunner()


def test_profile_febrl_json(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "profile",
            str(ROOT / "tests/data/febrl4/dataset4b.csv"),
            "--schema",
            str(EXAMPLE / "schema.toml"),
            "--mapping",
            str(EXAMPLE / "mapping.toml"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["rows_read"] == 5000 and doc["rows_usable"] == 5000
    dob = doc["fields"]["date_of_birth"]
    assert dob["valid"] + sum(dob["missing"].values()) + sum(dob["invalid"].values()) == 5000
    assert dob["invalid"].get("date.impossible", 0) > 0


def test_profile_table_counts_reasons_not_values(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    data.write_text(
        "surname,date_of_birth,extra\n"
        "Zebulonsky,19510231,x\n"
        "N/A,,y\n"
        "Quixotica,19800101,z\n"
        "bad,row\n"
    )
    result = runner.invoke(
        app,
        ["profile", str(data), "--schema", str(EXAMPLE / "schema.toml"), "--date-format", "%Y%m%d"],
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "4 rows, 3 usable" in out and "row.column_count" in out
    assert "date.impossible" in out and "placeholder" in out
    assert "no column in this file" in out  # given_name etc. are absent
    for value in ("Zebulonsky", "Quixotica", "19510231", "19800101"):
        assert value not in out


def test_profile_help_has_an_example() -> None:
    result = runner.invoke(app, ["profile", "--help"])
    assert result.exit_code == 0 and "hashmatch profile crm.csv" in result.output
