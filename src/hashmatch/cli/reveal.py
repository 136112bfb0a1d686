"""``hashmatch reveal``: a party rejoins its own record ids to the coordinator's entity ids."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hashmatch.cli._common import force_option, reporting_errors
from hashmatch.output_policy import is_stdout
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
        Path,
        typer.Option(
            "-o", "--output", help="CSV to write: record_id,entity_id ('-': standard output)."
        ),
    ],
    force: Annotated[
        bool, force_option("Replace OUTPUT if it exists (never RESULTS or the lookup).")
    ] = False,
) -> None:
    """Attach the entity ids of a link to your own record ids, on your machine.

    Joins RESULTS/NAME.csv (row_token,entity_id), or a registry run's
    RESULTS/NAME.changes.csv, with the lookup file that
    `hashmatch encode` wrote for you (row_token,record_id). Records of yours that
    share an entity id are the same person; so are records of other parties with
    that id. The output is readable by you only.

    Refuses a results file from another link run than the report.json beside
    it, a lookup from another encoding run, and a record id that would get two
    entity ids.

    Example:

        hashmatch reveal RESULTS/crm.csv --lookup crm.lookup -o crm-entities.csv
    """
    with reporting_errors():
        summary = reveal_ids(results, lookup, output, force=force)
    to_stderr = is_stdout(output)  # the CSV goes to standard output: keep it clean
    where = "standard output" if to_stderr else str(summary.out)
    run = f"link run {summary.run_id}" if summary.run_id else "a link run without a run id"
    typer.echo(
        f"wrote {summary.rows:,} records in {summary.entities:,} entities to {where} "
        f"(from {run})"
        + (f"; {summary.shared:,} shared with other parties" if summary.shared else ""),
        err=to_stderr,
    )
    if summary.lookup_rows_unused:
        typer.echo(
            f"note: {summary.lookup_rows_unused:,} lookup rows are not in the results",
            err=to_stderr,
        )


def register(app: typer.Typer) -> None:
    app.command("reveal")(reveal)
