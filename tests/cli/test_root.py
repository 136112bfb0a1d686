import ast
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from hashmatch import __version__
from hashmatch.cli import app


def test_version_flag_prints_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"hashmatch {__version__}"


def test_compiled_core_is_importable() -> None:
    import numpy as np

    from hashmatch.kernel import _core as _core

    rows = np.array([[0, 1], [2**64 - 1, 3]], dtype=np.uint64)
    assert list(_core.popcount_rows(rows)) == [1, 66]


def test_every_command_is_mapped_to_its_module() -> None:
    """The map a run of one command reads is the full CLI's list of commands."""
    from hashmatch import cli

    def commands(of: typer.Typer) -> set[str]:
        group: Any = typer.main.get_command(of)  # a group: the CLI has a callback
        return set(group.commands)

    assert commands(app) == set(cli._COMMANDS)
    for command in cli._COMMANDS:
        assert command in commands(cli.build_app(command))


def test_a_command_run_imports_only_its_module() -> None:
    """``hashmatch encode`` does not load the coordinator's, registry's or service's CLI."""
    code = (
        "import sys; from hashmatch.cli import build_app; build_app('encode'); "
        "print(sorted(m for m in sys.modules if m.startswith('hashmatch.cli.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=_env()
    )
    loaded = set(ast.literal_eval(done.stdout.strip()))
    assert "hashmatch.cli.encode" in loaded
    assert not loaded & {"hashmatch.cli.link", "hashmatch.cli.registry", "hashmatch.cli.serve"}


def test_an_unknown_command_still_gets_the_whole_cli() -> None:
    result = CliRunner().invoke(app, ["encdoe"])
    assert result.exit_code == 2
    assert "encode" in result.output  # the suggestion needs every command


def _env() -> dict[str, str]:
    import hashmatch

    return {**os.environ, "PYTHONPATH": str(Path(hashmatch.__file__).resolve().parents[1])}


def _bug_in_keygen(monkeypatch) -> None:
    """``keygen`` meets a bug whose message quotes a data value."""
    from hashmatch.cli import keys

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("ann.smith@example.com")

    monkeypatch.setattr(keys.LinkageSecret, "generate", broken)
    monkeypatch.setattr(sys, "argv", ["hashmatch", "keygen", "-o", "never.secret"])


def test_a_bug_is_reported_without_its_message(monkeypatch, capsys, tmp_path) -> None:
    """The console script names the bug's type and code locations, exit 1, and never the
    message, which may quote data (here an e-mail address)."""
    from hashmatch.cli import DEBUG_VARIABLE, main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DEBUG_VARIABLE, raising=False)
    _bug_in_keygen(monkeypatch)
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 1
    err = capsys.readouterr().err
    assert "internal error: KeyError" in err
    assert "hashmatch/cli/keys.py:" in err  # where: the command that called the bug
    assert "ann.smith" not in err and "example.com" not in err
    assert str(tmp_path) not in err  # the user's folders are not named either


def test_the_debug_variable_shows_the_whole_bug(monkeypatch, tmp_path) -> None:
    from hashmatch.cli import DEBUG_VARIABLE, main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(DEBUG_VARIABLE, "1")
    _bug_in_keygen(monkeypatch)
    with pytest.raises(KeyError, match="ann.smith@example.com"):
        main()
