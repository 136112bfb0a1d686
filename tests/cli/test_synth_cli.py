"""`hashmatch synth` through the command line."""

from __future__ import annotations

import csv
from pathlib import Path

from typer.testing import CliRunner

from hashmatch.cli import app


def test_synth_writes_the_parties_and_the_truth(tmp_path: Path) -> None:
    out = tmp_path / "data"
    result = CliRunner().invoke(
        app,
        [
            "synth",
            "-o",
            str(out),
            "--entities",
            "150",
            "--seed",
            "3",
            "--parties",
            "crm,callcentre",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "README.txt",
        "callcentre.csv",
        "callcentre.mapping.toml",
        "crm.csv",
        "crm.mapping.toml",
        "schema.toml",
        "truth.csv",
        "twins.csv",
    ]
    with (out / "truth.csv").open(newline="") as fh:
        truth = list(csv.DictReader(fh))
    assert {t["party"] for t in truth} == {"crm", "callcentre"}
    assert "crm" in result.output and "truth" in result.output


def test_synth_is_reproducible_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    for name in ("a", "b"):
        args = ["synth", "-o", str(tmp_path / name), "--entities", "80", "--seed", "9"]
        assert runner.invoke(app, args).exit_code == 0
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes(), path.name


def test_synth_refuses_an_unknown_party(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["synth", "-o", str(tmp_path), "--parties", "crm,hr"])
    assert result.exit_code == 2
    assert "parties must be distinct names among" in result.output
    assert not any(tmp_path.iterdir())


def test_synth_help_has_an_example() -> None:
    result = CliRunner().invoke(app, ["synth", "--help"])
    assert result.exit_code == 0
    assert "hashmatch synth -o" in result.output


def test_synth_reports_an_unusable_output_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(app, ["synth", "-o", str(blocker / "out")])
    assert result.exit_code == 2
    assert "cannot create the output folder" in result.output
