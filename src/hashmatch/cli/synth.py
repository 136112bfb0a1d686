"""``hashmatch synth``: write synthetic parties, their mappings and the ground truth."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hashmatch.cli._common import force_option, reporting_errors
from hashmatch.synth import DEFAULT_PARTIES, synthesize


def synth(
    out_dir: Annotated[Path, typer.Option("-o", "--out", help="Folder to write into.")],
    entities: Annotated[int, typer.Option("--entities", help="People to generate.")] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same files.")] = 0,
    parties: Annotated[
        str, typer.Option("--parties", help="Comma-separated party names to write.")
    ] = ",".join(DEFAULT_PARTIES),
    force: Annotated[
        bool, force_option("Replace files of an earlier synth in the folder.")
    ] = False,
) -> None:
    """Generate synthetic customer files for several parties, with ground truth.

    Each party holds an overlapping subset of the same people in its own
    columns and formats, with realistic errors: typos, nicknames, swapped
    and married names, new e-mails, moved addresses, missing values, date
    mix-ups, duplicates, and twins who must not be linked. Writes
    schema.toml, PARTY.csv, PARTY.mapping.toml, truth.csv, twins.csv and
    README.txt into the folder. All of it is fictitious.

    Example:

        hashmatch synth -o data/ --entities 5000 --seed 7 --parties crm,callcentre
    """
    with reporting_errors():
        result = synthesize(
            out_dir,
            entities=entities,
            seed=seed,
            parties=[p.strip() for p in parties.split(",") if p.strip()],
            force=force,
        )
    for files in result.parties.values():
        typer.echo(f"{files.name:<11} {files.rows:>8} rows  {files.csv}")
    typer.echo(
        f"{result.entities} people across {len(result.parties)} parties "
        f"({len(result.twins)} twin pairs); truth in {result.truth}"
    )


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
