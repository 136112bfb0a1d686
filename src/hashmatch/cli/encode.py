"""``hashmatch encode``: turn a party's CSV file into an encoding file, locally."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hashmatch._progress import terminal_progress
from hashmatch.cli._common import force_option, reasons_line, reporting_errors
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
from hashmatch.encode import EncodeSummary, encode_file
from hashmatch.errors import KeyFileError
from hashmatch.party_names import check_party_name
from hashmatch.schema import load_mapping, load_schema, mapping_options_from_cli
from hashmatch.seal.keyfiles import load_coordinator_public, load_party_key


def encode(
    data: Annotated[Path, typer.Argument(help=DATA_HELP)],
    schema: Annotated[Path, typer.Option("--schema", help="Linkage schema (TOML/JSON).")],
    secret: Annotated[Path, typer.Option("--secret", help="Linkage secret file (keygen).")],
    party: Annotated[str, typer.Option("--party", help="This party's name (in the file).")],
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="Encoding file to write (the sealed file with --seal-for)."
        ),
    ],
    lookup: Annotated[
        Path | None,
        typer.Option(help="Lookup file row_token -> your id (default: OUTPUT.lookup)."),
    ] = None,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Rejects report row,column,reason (default: OUTPUT.rejects.csv)."),
    ] = None,
    row_key: Annotated[
        Path | None,
        typer.Option(
            "--row-key",
            help="Your private row key file, created if missing (default: LOOKUP.rowkey). "
            "Reusing it gives each record id the same row token on every run.",
        ),
    ] = None,
    mapping: MappingFileOption = None,
    map_: MapOption = None,
    part: PartOption = None,
    name_order: NameOrderOption = None,
    date_format: DateFormatOption = None,
    phone_region: PhoneRegionOption = None,
    id_column: IdColumnOption = None,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Stop at the first bad row instead.")
    ] = False,
    max_rejects: Annotated[
        int | None, typer.Option(min=0, help="Stop when more rows than this are rejected.")
    ] = None,
    input_encoding: InputEncodingOption = None,
    delimiter: DelimiterOption = None,
    chunk_rows: Annotated[
        int, typer.Option(min=1, help="Rows per chunk (memory grows with it).")
    ] = 50_000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Processes encoding chunks at once (default: every CPU). The outputs are "
            "the same for any number.",
        ),
    ] = None,
    seal_for: Annotated[
        Path | None,
        typer.Option(
            "--seal-for",
            metavar="COORDINATOR.pub",
            help="Encrypt OUTPUT for this coordinator key (only it can open the file).",
        ),
    ] = None,
    sign: Annotated[
        Path | None,
        typer.Option(
            "--sign", metavar="PARTY.key", help="Sign the sealed file with this party's key."
        ),
    ] = None,
    keep_plain: Annotated[
        Path | None,
        typer.Option(
            "--keep-plain",
            metavar="PATH",
            help="With --seal-for: also keep the unsealed encoding file at PATH.",
        ),
    ] = None,
    force: Annotated[
        bool, force_option("Replace existing outputs (never DATA, the secret, schema or mapping).")
    ] = False,
) -> None:
    """Encode a CSV file into keyed Bloom filters and tokens (.hme), on this machine.

    Writes OUTPUT (hand it to the coordinator), a lookup file linking its
    opaque row tokens to your record ids (keep it: it never leaves you) and
    a rejects report (row number, column, reason; never a value). Bad rows
    are reported and skipped; the summary accounts for every row. The three
    files appear together or not at all; existing ones are replaced only
    with --force.

    Row tokens are your record ids under your private row key (--row-key,
    made by the first run beside the lookup file and reused by later ones),
    so a record keeps its row token from month to month: an entity registry
    (link --registry) recognises it. Keep the row key with the lookup.

    With --seal-for COORDINATOR.pub (and --sign PARTY.key, whose party must
    be --party), OUTPUT is the sealed file: encrypted for the coordinator and
    signed by you. The unsealed encodings stay in memory, never in a named
    file, unless --keep-plain PATH. The lookup and rejects files are named
    after OUTPUT without ".sealed" (crm.hme.sealed -> crm.lookup,
    crm.rejects.csv).

    Example:

        hashmatch encode crm.csv --schema schema.toml --secret linkage.secret
        --party crm -o crm.hme --map first_name=fname --date-format %d.%m.%Y

        hashmatch encode crm.csv --schema schema.toml --secret linkage.secret
        --party crm -o crm.hme.sealed --seal-for coordinator.pub --sign crm.key
    """
    if seal_for is None and (sign is not None or keep_plain is not None):
        option = "--sign" if sign is not None else "--keep-plain"
        raise typer.BadParameter("only applies to sealed output", param_hint=option)
    with reporting_errors():
        check_party_name(party)
        resolved_schema = load_schema(schema)
        overrides = mapping_options_from_cli(
            map_=map_,
            part=part,
            name_order=name_order,
            date_format=date_format,
            phone_region=phone_region,
            id_column=id_column,
        )
        party_mapping = load_mapping(mapping, resolved_schema, overrides=overrides)
        # Keys are loaded (and the signer's party checked) before the long encoding run.
        recipient = load_coordinator_public(seal_for) if seal_for is not None else None
        signer = load_party_key(sign) if sign is not None else None
        if signer is not None and signer.party != party:
            raise KeyFileError(
                f"{sign} is the signing key of party {signer.party!r}, not of {party!r}",
                hint="sign with the key made by `hashmatch keygen --party` for this party",
            )
        with terminal_progress(f"encoding {data.name}") as progress:
            summary = encode_file(
                data,
                schema=resolved_schema,
                secret=secret,
                party=party,
                out=output,
                lookup=lookup,
                rejects=rejects,
                mapping=party_mapping,
                chunk_rows=chunk_rows,
                workers=workers,
                input_encoding=input_encoding,
                delimiter=delimiter,
                fail_fast=fail_fast,
                max_rejects=max_rejects,
                progress=progress,
                row_key=row_key,
                force=force,
                seal_for=recipient,
                sign=signer,
                keep_plain=keep_plain,
                protected=[schema, mapping, seal_for, sign],
            )
    render(summary, Console(highlight=False, soft_wrap=True))
    if recipient is not None:
        signed = f", signed with key {signer.key_id}" if signer is not None else ", unsigned"
        typer.echo(f"sealed for coordinator key {recipient.key_id}{signed}")
        if keep_plain is not None:
            typer.echo(f"unsealed copy kept (do not send it): {keep_plain}")


def render(summary: EncodeSummary, console: Console) -> None:
    """Print the run's accounting and the per-field outcome counts (no values)."""
    console.print(
        f"[bold]{summary.party}[/bold]: read {summary.read:,} rows, encoded "
        f"{summary.encoded:,}, rejected {summary.rejected:,} in {summary.seconds:.1f} s"
    )
    fields = Table(title="Fields (encoded rows)", title_justify="left")
    fields.add_column("field", no_wrap=True)
    for column in ("valid", "missing", "invalid"):
        fields.add_column(column, justify="right", no_wrap=True)
    reasons: list[str] = []
    for name, stats in summary.fields.items():
        fields.add_row(
            name,
            f"{stats.valid:,}",
            f"{sum(stats.missing.values()):,}",
            f"{sum(stats.invalid.values()):,}",
        )
        line = reasons_line(name, stats.missing + stats.invalid)
        if line:
            reasons.append(line)
    console.print(fields)
    if reasons:
        console.print("missing/invalid by reason:")
        for line in reasons:
            console.print(line)
    if summary.reject_reasons:
        rejected = ", ".join(f"{r} {n:,}" for r, n in summary.reject_reasons.most_common())
        console.print(f"rejected rows by reason: {rejected}")
    console.print(f"encoding file: {summary.output}")
    console.print(f"lookup (keep private): {summary.lookup}")
    console.print(f"rejects report: {summary.rejects}")
    if summary.row_key is not None:
        made = "created; keep it to reuse" if summary.row_key_created else "reused"
        console.print(f"row key (keep private): {summary.row_key} ({made})")


def register(app: typer.Typer) -> None:
    app.command("encode")(encode)
