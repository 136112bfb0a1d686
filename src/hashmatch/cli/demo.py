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
        typer.Option(help="Write all files into this folder \\[default: a new temporary "
                     "folder, kept so the report can be opened]."),
    ] = None,
    force: Annotated[
        bool, force_option("With --keep: replace the files of an earlier demo in the folder.")
    ] = False,
) -> None:
    """Two months of three departments and a partner, linked into a registry.

    Each party encodes its month-1 file; the coordinator links the four
    files into a new SQLite registry (persistent entity ids). Month 2 (new,
    changed, removed records) is applied incrementally: ids that survived,
    new, retired. A caller is recognised on the spot, the truth scores the
    result, and the last lines name report.html to open.

    Example: hashmatch demo --keep demo-run/
    """
    from hashmatch.demo import run_demo

    with reporting_errors():
        run_demo(entities=entities, seed=seed, keep=keep, say=typer.echo, force=force)


def register(app: typer.Typer) -> None:
    app.command()(demo)
