"""`hashmatch mapping new` through the CLI."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hashmatch.cli import app

MESSY = Path(__file__).parents[1] / "data" / "schema_messy.csv"


def test_mapping_new_against_a_proposed_schema(tmp_path: Path) -> None:
    runner = CliRunner()
    schema = tmp_path / "schema.toml"
    made = runner.invoke(app, ["schema", "new", str(MESSY), "-o", str(schema),
                               "--mapping-out", str(tmp_path / "first.mapping.toml")])
    assert made.exit_code == 0, made.output
    out = tmp_path / "other.mapping.toml"
    result = runner.invoke(app, ["mapping", "new", str(MESSY), "--schema", str(schema),
                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text() == (tmp_path / "first.mapping.toml").read_text()
    assert "Quixley" not in result.output and "pukeko" not in result.output
    again = runner.invoke(app, ["mapping", "new", str(MESSY), "--schema", str(schema),
                                "-o", str(out)])
    assert again.exit_code == 2 and "refusing to overwrite" in again.output
    profile = runner.invoke(app, ["profile", str(MESSY), "--schema", str(schema),
                                  "--mapping", str(out)])
    assert profile.exit_code == 0, profile.output
