"""`hashmatch schema new|check`: propose a starter schema from a CSV file; validate one.

Also home of the party-mapping options shared by ``encode`` and ``profile``: declare them
with the ``*Option`` aliases below (imported at module level: Typer resolves annotations in
the module's globals) and turn them into overrides with
:func:`hashmatch.schema.mapping_options_from_cli`::

    def encode(..., map_: MapOption = None, part: PartOption = None,
               name_order: NameOrderOption = None, date_format: DateFormatOption = None,
               phone_region: PhoneRegionOption = None, id_column: IdColumnOption = None,
               mapping: MappingFileOption = None):
        overrides = mapping_options_from_cli(map_=map_, part=part, name_order=name_order,
                                             date_format=date_format,
                                             phone_region=phone_region, id_column=id_column)
        party = load_mapping(mapping, schema, overrides=overrides)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from hashmatch.cli._common import force_option, reporting_errors
from hashmatch.encode.sources.rows import read_head
from hashmatch.schema import ResolvedMapping, load_mapping, load_schema, resolve_columns
from hashmatch.schema.infer import write_proposal

_MAPPING = "Party mapping"

MappingFileOption = Annotated[
    Path | None,
    typer.Option("--mapping", help="Party mapping file (TOML/JSON).", rich_help_panel=_MAPPING),
]
MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        metavar="FIELD=COLUMN",
        rich_help_panel=_MAPPING,
        help="Column(s) feeding a field; 'a+b' joins columns. Repeatable.",
    ),
]
PartOption = Annotated[
    list[str] | None,
    typer.Option(
        "--part",
        metavar="FIELD=first|middle|last",
        rich_help_panel=_MAPPING,
        help="Take one part of a full-name column. Repeatable.",
    ),
]
NameOrderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--name-order",
        metavar="FIELD=ORDER",
        rich_help_panel=_MAPPING,
        help="first_last, last_first ('Last, First') or auto. Repeatable.",
    ),
]
DateFormatOption = Annotated[
    list[str] | None,
    typer.Option(
        "--date-format",
        metavar="[FIELD=]FMT",
        rich_help_panel=_MAPPING,
        help="strptime format, e.g. %d.%m.%Y ('%Y' = year only); tried in order. Repeatable.",
    ),
]
PhoneRegionOption = Annotated[
    str | None,
    typer.Option(
        "--phone-region",
        metavar="XX",
        rich_help_panel=_MAPPING,
        help="Region of national-format phone numbers, e.g. GB, US.",
    ),
]
IdColumnOption = Annotated[
    str | None,
    typer.Option(
        "--id-column",
        metavar="COL",
        rich_help_panel=_MAPPING,
        help="Column with your internal record id (kept in the local lookup).",
    ),
]

#: How the data file is read: shared by schema new/check, profile and encode.
InputEncodingOption = Annotated[
    str | None,
    typer.Option(
        "--input-encoding",
        help="Text encoding of DATA, e.g. latin-1, cp1252 \\[default: UTF-8, or UTF-16/32 "
        "when the bytes say so].",
    ),
]
DelimiterOption = Annotated[
    str | None,
    typer.Option(
        "--delimiter", help="Field delimiter: , ; | or tab \\[default: sniffed from the file]."
    ),
]
#: Help of a DATA argument read through hashmatch.encode.sources.
DATA_HELP = (
    "The party's data: a CSV file (header row first; may be gzip-compressed), a Parquet "
    "file, or - for standard input."
)

CountryOption = Annotated[
    str | None,
    typer.Option(
        "--country",
        metavar="XX",
        help="Country the data comes from (ISO 3166, e.g. US, GB): tried first for phone "
        "numbers, decides an ambiguous day/month order, folds US ZIP+4.",
    ),
]

schema_app = typer.Typer(
    name="schema",
    help=(
        "Propose or check a linkage schema.\n\n"
        "Example: hashmatch schema new crm.csv -o schema.toml"
    ),
    no_args_is_help=True,
)


@schema_app.command("new")
def new(
    data: Annotated[Path, typer.Argument(help=DATA_HELP)],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Schema file to write (.toml or .json).")
    ],
    mapping_out: Annotated[
        Path | None,
        typer.Option(
            "--mapping-out",
            help="Mapping file to write \\[default: DATA.mapping.EXT next to the schema].",
        ),
    ] = None,
    sample: Annotated[int, typer.Option(min=1, help="Rows to sample for value shapes.")] = 1000,
    name: Annotated[str, typer.Option(help="Label stored in the schema.")] = "",
    country: CountryOption = None,
    input_encoding: InputEncodingOption = None,
    delimiter: DelimiterOption = None,
    force: Annotated[bool, force_option("Replace existing outputs (never DATA).")] = False,
) -> None:
    """Propose a starter schema and party mapping from DATA's header and sample values.

    The proposal folds nicknames and ZIP+4, reads the phone region off the
    numbers, leaves out fields with a handful of values (state, gender), and
    turns hardening on. Only column names and value shapes are printed or
    written, never a value.

    Example: hashmatch schema new crm.csv -o schema.toml --mapping-out crm.mapping.toml
    """
    with reporting_errors():
        proposal, mapping_path = write_proposal(
            data,
            output,
            mapping_out,
            sample=sample,
            force=force,
            encoding=input_encoding,
            delimiter=delimiter,
            name=name,
            country=country,
        )
        rows = [
            (g.column, g.field or "-", g.type or "-", g.confidence, g.evidence)
            for g in proposal.columns
        ]
        typer.echo(f"Sampled {proposal.sample_rows} rows of {_label(data)}.")
        table(("column", "field", "type", "confidence", "evidence"), rows)
        for note in proposal.notes:
            typer.echo(f"note: {note}")
        typer.echo(
            f"Wrote {output} ({len(proposal.schema['fields'])} fields) and "
            f"{mapping_path}. Review both, then: hashmatch schema check {output}"
        )


@schema_app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="Schema file (.toml or .json).")],
    mapping: MappingFileOption = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", help="Also find the mapped columns in this data file's header (- : stdin)."
        ),
    ] = None,
    input_encoding: InputEncodingOption = None,
    delimiter: DelimiterOption = None,
) -> None:
    """Validate a schema file and show its CLK layout and fingerprint.

    With --mapping and/or --data, also check a party's mapping and where each field comes
    from in its file (only the header is read).

    Example: hashmatch schema check schema.toml --mapping crm.mapping.toml --data crm.csv
    """
    with reporting_errors():
        schema = load_schema(file)
        party = load_mapping(mapping, schema) if mapping or data else None
        resolved, label = None, ""
        if party is not None and data is not None:
            header, _ = read_head(data, encoding=input_encoding, delimiter=delimiter)
            label = _label(data)
            resolved = resolve_columns(party, schema, header, label)
        typer.echo(
            f"OK: {len(schema.fields)} fields, CLK {schema.clk_bits} bits, "
            f"fingerprint {schema.fingerprint}"
        )
        blooms = {f.name: f.bloom for f in schema.fields if f.bloom is not None}
        if schema.segments:
            table(
                ("segment", "start", "bits", "k", "q"),
                [
                    (s.field, s.start, s.bits, blooms[s.field].k, blooms[s.field].q)
                    for s in schema.segments
                ],
            )
        purposes = {k.name: k.purpose for k in schema.match_keys}
        tokens = [
            f"{t} ({purposes[t]} key)" if t in purposes else t for t in schema.exact_token_names
        ]
        typer.echo(f"exact tokens: {', '.join(tokens) if tokens else '(none)'}")
        if mapping is not None:
            typer.echo(f"mapping {mapping}: OK")
        if resolved is not None:
            _show_binding(resolved, label, len(schema.fields))


def _show_binding(resolved: ResolvedMapping, data: str, n_fields: int) -> None:
    rows = []
    for name, rf in resolved.fields.items():
        src = rf.source
        how: list[str] = [p for p in (src.part, src.name_order if src.part else None) if p]
        how += [*src.date_formats, *([src.phone_region] if src.phone_region else [])]
        rows.append((name, " + ".join(src.columns), ", ".join(how)))
    typer.echo(f"{data}: {len(resolved.fields)} of {n_fields} fields found")
    table(("field", "columns", "parse"), rows)
    typer.echo(f"absent: {', '.join(resolved.absent_fields) or '(none)'}")


def _label(data: Path) -> str:
    """How messages name a data file (``-`` is standard input)."""
    return "<stdin>" if str(data) == "-" else str(data)


def table(headers: tuple[str, ...], rows: Sequence[tuple[object, ...]]) -> None:
    """Plain aligned columns: stable in logs and tests, unlike a terminal-width table."""
    cells = [tuple(str(c) for c in headers)] + [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for r in cells:
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def register(app: typer.Typer) -> None:
    app.add_typer(schema_app)
