"""The `hashmatch` command line: a thin layer over the library API.

Each command group lives in its own module exposing ``register(app)``. Commands parse
options, call one library function, and map :class:`~hashmatch.errors.HashmatchError`
to a one-line message on stderr with exit status 2. Anything else is a bug (exit 1),
reported by :mod:`hashmatch.cli._bugs` without its message, which may quote data.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING

import typer

from hashmatch._version import __version__
from hashmatch.cli._bugs import DEBUG_VARIABLE, report_bug
from hashmatch.cli._help import hide_flag_types

hide_flag_types()

#: Command name -> the module registering it, in the order of --help. A run of one
#: command imports only its module (:func:`build_app`): ``encode`` need not load the
#: coordinator, the registry or the service first.
_COMMANDS: dict[str, str] = {
    "demo": "demo",
    "keygen": "keys",
    "schema": "schema",
    "mapping": "mapping",
    "profile": "profile",
    "encode": "encode",
    "inspect": "inspect",
    "audit": "audit",
    "synth": "synth",
    "reveal": "reveal",
    "evaluate": "evaluate",
    "link": "link",
    "explain": "explain",
    "registry": "registry",
    "serve": "serve",
    "lookup": "serve",
}

if TYPE_CHECKING:
    app: typer.Typer  # every command; built on first use (see __getattr__)


def build_app(command: str | None = None) -> typer.Typer:
    """The CLI with every command, or only the module of ``command`` when it names one
    (all a run of that command needs; anything else, ``--help`` included, gets all)."""
    modules = [_COMMANDS[command]] if command in _COMMANDS else dict.fromkeys(_COMMANDS.values())
    root = typer.Typer(
        name="hashmatch",
        help=(
            "Privacy-preserving identity matching: encode PII locally, link encodings"
            " centrally.\n\nExample: hashmatch demo"
        ),
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,  # locals may hold PII or the secret
        add_completion=False,
    )
    root.callback()(_root)
    for name in modules:
        importlib.import_module(f"hashmatch.cli.{name}").register(root)
    return root


def __getattr__(name: str) -> typer.Typer:
    """``app``: the CLI with every command (tests, documentation), built once."""
    if name != "app":
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    full = globals()["app"] = build_app()
    return full


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"hashmatch {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version."
    ),
) -> None:
    """Privacy-preserving identity matching."""


def main() -> None:
    """Console-script entry point: builds only the command asked for."""
    try:
        build_app(sys.argv[1] if len(sys.argv) > 1 else None)()
    except Exception as exc:  # a bug (expected errors exit inside the command)
        if os.environ.get(DEBUG_VARIABLE):
            raise
        report_bug(exc)
        sys.exit(1)
