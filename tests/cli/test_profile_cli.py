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


def test_profile_names_the_fix_for_each_field_under_90_percent(tmp_path: Path) -> None:
    data = tmp_path / "d.csv"
    areas = [212, 415, 617, 312]
    rows = [
        f"P{i},Ann,({areas[i % 4]}) 555-01{i % 100:02d},"
        f"{1 + i % 12:02d}/{13 + i % 15}/19{50 + i % 40}"
        for i in range(60)
    ]
    data.write_text("pid,fname,phone,dob\n" + "\n".join(rows) + "\n")
    schema = tmp_path / "s.toml"
    schema.write_text(
        'version = 1\n[[fields]]\nname = "first_name"\ntype = "name"\nbloom = true\n'
        '[[fields]]\nname = "phone"\ntype = "phone"\nexact = true\n'
        '[[fields]]\nname = "dob"\ntype = "date"\nbloom = true\n'
        '[[fields]]\nname = "email"\ntype = "email"\nexact = true\n'
    )
    mapping = tmp_path / "m.toml"  # no phone region, the wrong date order, fname unmapped
    mapping.write_text('record_id = "pid"\ndate_formats = ["%d/%m/%Y"]\n')
    result = runner.invoke(app, ["profile", str(data), "--schema", str(schema),
                                 "--mapping", str(mapping), "--json"])
    assert result.exit_code == 0, result.output
    fixes = json.loads(result.output)["fixes"]
    assert fixes["phone"].startswith('set phone_region = "US" in the mapping')
    assert fixes["dob"].startswith('set date_formats = ["%m/%d/%Y"] for dob')
    assert "column 'fname' looks like one" in fixes["first_name"]
    assert fixes["email"].startswith("no column is mapped to email")
    text = runner.invoke(app, ["profile", str(data), "--schema", str(schema),
                               "--mapping", str(mapping)]).output
    assert "Fixes (fields valid in fewer than 90% of the rows):" in text
    assert "555" not in text and "Ann" not in text  # region codes and formats, no value
