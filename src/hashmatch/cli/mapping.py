"""``hashmatch mapping new``: propose a party's mapping against an agreed schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hashmatch.cli._common import force_option, reporting_errors
from hashmatch.cli.schema import (
    DATA_HELP,
    CountryOption,
    DelimiterOption,
    InputEncodingOption,
    table,
)
from hashmatch.schema.party_mapping import write_mapping_proposal

mapping_app = typer.Typer(
    name="mapping",
    help=(
        "Propose a party's column mapping for an agreed schema.\n\n"
        "Example: hashmatch mapping new shop.csv --schema schema.toml -o shop.mapping.toml"
    ),
    no_args_is_help=True,
)


@mapping_app.command("new")
def new(
    data: Annotated[Path, typer.Argument(help=DATA_HELP)],
    schema: Annotated[Path, typer.Option("--schema", help="The agreed schema (TOML/JSON).")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Mapping file to write (.toml or .json).")
    ],
    sample: Annotated[int, typer.Option(min=1, help="Rows to sample for value shapes.")] = 1000,
    country: CountryOption = None,
    input_encoding: InputEncodingOption = None,
    delimiter: DelimiterOption = None,
    force: Annotated[bool, force_option("Replace an existing output (never DATA).")] = False,
) -> None:
    """Map DATA's columns onto the fields of an agreed schema.

    Columns are judged as schema new judges them (names and value shapes:
    full names split, address lines joined, date formats, the phone region
    read off the numbers) and matched to the schema's fields by meaning
    (given_name and fname are both a first name). Only column names and
    formats are printed or written, never a value.

    Example: hashmatch mapping new shop.csv --schema schema.toml -o shop.mapping.toml
    """
    with reporting_errors():
        proposal = write_mapping_proposal(
            data, schema, output, sample=sample, force=force, encoding=input_encoding,
            delimiter=delimiter, country=country,
        )
    typer.echo(f"Sampled {proposal.sample_rows} rows of {data}.")
    table(("field", "columns", "matched by"), proposal.found)
    for note in proposal.notes:
        typer.echo(f"note: {note}")
    typer.echo(
        f"Wrote {output} ({len(proposal.found)} of {len(proposal.found) + len(proposal.absent)} "
        f"fields). Review it, then: hashmatch profile {data} --schema {schema} "
        f"--mapping {output}"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(mapping_app)
