"""``hashmatch reveal``: a party rejoins its own record ids to the coordinator's entity ids."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hashmatch.cli._common import reporting_errors
from hashmatch.reveal import reveal as reveal_ids


def reveal(
    results: Annotated[
        Path, typer.Argument(help="Your file from the coordinator: RESULTS/NAME.csv.")
    ],
    lookup: Annotated[
        list[Path],
        typer.Option("--lookup", help="Your lookup file (from encode); repeat it to add "
                     "last month's, for records removed since."),
    ],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="CSV to write: record_id,entity_id.")
    ],
) -> None:
    """Attach the entity ids of a link to your own record ids, on your machine.

    Joins RESULTS/NAME.csv (row_token,entity_id), or a registry run's
    RESULTS/NAME.changes.csv, with the lookup file that
    `hashmatch encode` wrote for you (row_token,record_id). Records of yours that
    share an entity id are the same person; so are records of other parties with
    that id. The output is readable by you only.

    Example:

        hashmatch reveal RESULTS/crm.csv --lookup crm.lookup -o crm-entities.csv
    """
    with reporting_errors():
        summary = reveal_ids(results, lookup, output)
    typer.echo(
        f"wrote {summary.rows:,} records in {summary.entities:,} entities to {summary.out}"
        + (f" ({summary.shared:,} shared with other parties)" if summary.shared else "")
    )
    if summary.lookup_rows_unused:
        typer.echo(f"note: {summary.lookup_rows_unused:,} lookup rows are not in the results")


def register(app: typer.Typer) -> None:
    app.command("reveal")(reveal)
