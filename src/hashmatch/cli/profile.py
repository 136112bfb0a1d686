"""``hashmatch profile``: a local data-quality report before encoding (counts only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hashmatch.cli._common import reasons_line, reporting_errors
from hashmatch.cli.schema import (
    DATA_HELP,
    DateFormatOption,
    DelimiterOption,
    IdColumnOption,
    InputEncodingOption,
    MapOption,
    MappingFileOption,
    NameOrderOption,
    PartOption,
    PhoneRegionOption,
)
from hashmatch.encode.profiling import ProfileReport, profile_file
from hashmatch.schema import load_mapping, load_schema, mapping_options_from_cli


def profile(
    data: Annotated[Path, typer.Argument(help=DATA_HELP)],
    schema: Annotated[Path, typer.Option("--schema", help="Linkage schema (TOML/JSON).")],
    mapping: MappingFileOption = None,
    map_: MapOption = None,
    part: PartOption = None,
    name_order: NameOrderOption = None,
    date_format: DateFormatOption = None,
    phone_region: PhoneRegionOption = None,
    id_column: IdColumnOption = None,
    input_encoding: InputEncodingOption = None,
    delimiter: DelimiterOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Show per field how many rows are filled, valid, missing or invalid, and why.

    Runs the same mapping and normalisers as encode, writes nothing and
    sends nothing anywhere. Reasons are codes (date.impossible,
    placeholder:na, ...), never values, so the report can be shared. For
    every field valid in fewer than 90% of the rows it names the fix (a
    phone region, date formats, a column to map).

    Example:

        hashmatch profile crm.csv --schema schema.toml --mapping crm.mapping.toml
    """
    with reporting_errors():
        resolved_schema = load_schema(schema)
        overrides = mapping_options_from_cli(
            map_=map_,
            part=part,
            name_order=name_order,
            date_format=date_format,
            phone_region=phone_region,
            id_column=id_column,
        )
        party = load_mapping(mapping, resolved_schema, overrides=overrides)
        report = profile_file(
            data, resolved_schema, party, input_encoding=input_encoding, delimiter=delimiter
        )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        render(report, Console(highlight=False, soft_wrap=True))


def render(report: ProfileReport, console: Console) -> None:
    """Print the profile: a table of counts, then the reasons per field (codes only)."""
    usable = report.rows_usable
    console.print(f"[bold]{report.source}[/bold]: {report.rows_read:,} rows, {usable:,} usable")
    for reason, n in report.bad_rows.most_common():
        console.print(f"  unusable rows: {reason} {n:,}")
    table = Table(title="Fields", title_justify="left")
    table.add_column("field", no_wrap=True)
    for column in ("filled", "valid", "valid %", "missing", "invalid"):
        table.add_column(column, justify="right", no_wrap=True)
    reasons: list[str] = []
    for name, s in report.fields.items():
        label = name + (" *" if name in report.required else "")
        if s.absent:
            table.add_row(label, "-", "-", "-", "-", "-")
            reasons.append(f"  {name}: no column in this file")
            continue
        share = f"{100 * s.valid / usable:.1f}" if usable else "-"
        table.add_row(
            label,
            f"{s.filled:,}",
            f"{s.valid:,}",
            share,
            f"{sum(s.missing.values()):,}",
            f"{sum(s.invalid.values()):,}",
        )
        line = reasons_line(name, s.missing + s.invalid)
        if line:
            reasons.append(line)
    console.print(table)
    if reasons:
        console.print("Reasons (missing: empty, placeholder:<rule>; invalid: <code>):")
        for line in reasons:
            console.print(line)
    if report.fixes:
        console.print("Fixes (fields valid in fewer than 90% of the rows):")
        for name, fix in report.fixes.items():
            console.print(f"  {name}: {fix}", markup=False)
    if report.required:
        console.print("* required: rows where it is missing or invalid will be rejected")


def register(app: typer.Typer) -> None:
    app.command("profile")(profile)
