"""``hashmatch demo``: the whole story on synthetic data, in one command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hashmatch.cli._common import force_option, reporting_errors


def demo(
    entities: Annotated[int, typer.Option(help="People to synthesise.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
    keep: Annotated[
        Path | None,
        typer.Option(help="Keep all files in this folder instead of a temporary one."),
    ] = None,
    force: Annotated[
        bool, force_option("With --keep: replace the files of an earlier demo in the folder.")
    ] = False,
) -> None:
    """Synthesise three departments and a partner, encode each, link, and evaluate.

    Example: hashmatch demo --keep demo-run/
    """
    from hashmatch.demo import run_demo

    with reporting_errors():
        run_demo(entities=entities, seed=seed, keep=keep, say=typer.echo, force=force)


def register(app: typer.Typer) -> None:
    app.command()(demo)
