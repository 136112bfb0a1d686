"""The `hashmatch` command line: a thin layer over the library API.

Each command group lives in its own module exposing ``register(app)``. Commands parse
options, call one library function, and map :class:`~hashmatch.errors.HashmatchError`
to a one-line message on stderr with exit status 2. Anything else is a bug (exit 1).
"""

from __future__ import annotations

import importlib

import typer

from hashmatch._version import __version__
from hashmatch.cli._help import hide_flag_types

hide_flag_types()

app = typer.Typer(
    name="hashmatch",
    help=(
        "Privacy-preserving identity matching: encode PII locally, link encodings centrally."
        "\n\nExample: hashmatch demo"
    ),
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold PII or the secret
    add_completion=False,
)

#: Command modules, in the order their commands appear in --help.
_COMMAND_MODULES: list[str] = [
    # e.g. "keys", "schema", "profile", "encode", "inspect", "link", ...
    "demo",
    "keys",
    "schema",
    "mapping",
    "profile",
    "encode",
    "inspect",
    "audit",
    "synth",
    "reveal",
    "evaluate",
    "link",
    "explain",
    "registry",
    "serve",
]

for _name in _COMMAND_MODULES:
    importlib.import_module(f"hashmatch.cli.{_name}").register(app)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"hashmatch {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Show the version."
    ),
) -> None:
    """Privacy-preserving identity matching."""


def main() -> None:
    """Console-script entry point."""
    app()
