"""``hashmatch keygen``: create the linkage secret shared by the parties of one linkage."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hashmatch.cli._common import reporting_errors
from hashmatch.encode import LinkageSecret


def keygen(
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Secret file to create (never overwritten).")
    ],
) -> None:
    """Write a new random 256-bit linkage secret to a file readable by you only (0600).

    Every party of one linkage encodes with the same secret; share it over a
    secure channel and never give it to the coordinator. Per-field keys are
    derived from it, so one secret is all a party needs.

    Example:

        hashmatch keygen -o linkage.secret
    """
    with reporting_errors():
        LinkageSecret.generate().write(output)
    typer.echo(f"wrote a new linkage secret to {output} (mode 0600; keep it private)")


def register(app: typer.Typer) -> None:
    app.command("keygen")(keygen)
