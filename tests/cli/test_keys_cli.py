"""`hashmatch keygen`: owner-only file, refuses to overwrite, never prints the secret."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hashmatch.cli import app
from hashmatch.encode import LinkageSecret

runner = CliRunner()


def test_keygen_writes_a_private_loadable_secret(tmp_path: Path) -> None:
    out = tmp_path / "linkage.secret"
    result = runner.invoke(app, ["keygen", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
    LinkageSecret.load(out)
    secret_hex = out.read_text().split()[-1]
    assert secret_hex not in result.output


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "linkage.secret"
    assert runner.invoke(app, ["keygen", "-o", str(out)]).exit_code == 0
    before = out.read_bytes()
    result = runner.invoke(app, ["keygen", "-o", str(out)])
    assert result.exit_code == 2
    assert "refusing to overwrite" in result.output
    assert out.read_bytes() == before


def test_keygen_help_has_an_example() -> None:
    result = runner.invoke(app, ["keygen", "--help"])
    assert result.exit_code == 0 and "hashmatch keygen -o" in result.output
