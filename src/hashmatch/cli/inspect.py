"""``hashmatch inspect``: verify an encoding file and print its header and statistics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hashmatch.audit.inspection import InspectReport, inspect_file, iter_histogram_lines
from hashmatch.cli._common import reporting_errors


def inspect(
    file: Annotated[Path, typer.Argument(help="Encoding file (.hme) to check.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Verify an encoding file and show its header and aggregate statistics.

    Refuses truncated, tampered or foreign files. Shows the row count,
    the missing rate of each field and exact token, how full each field's
    Bloom-filter segment is, the CLK popcount histogram and duplicate
    CLKs, and warns about nearly empty or saturated filters. Only
    aggregates are shown: never a token, a row token or CLK bits.

    Example:

        hashmatch inspect crm.hme

        hashmatch inspect crm.hme --json > crm.inspect.json
    """
    with reporting_errors():
        report = inspect_file(file)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        render(report, Console(highlight=False))


def render(report: InspectReport, console: Console) -> None:
    """Print ``report`` as rich tables and a text histogram."""
    h = report.header
    about = Table(title=f"{report.path}", show_header=False, title_justify="left")
    about.add_column(style="bold", no_wrap=True)
    about.add_column(overflow="fold")
    for key, value in (
        ("party", h.party),
        ("rows", f"{h.rows:,}"),
        ("created", h.created),
        ("schema fingerprint", h.schema_fingerprint),
        ("secret commitment", h.secret_commitment or "(none)"),
        ("CLK bits", str(h.clk_bits)),
        ("exact tokens", ", ".join(h.token_names) or "(none)"),
        ("hardening", report.hardening or "none"),
        ("format / encoder", f"v{h.format_version} / v{h.encoder_version}"),
        ("written by", f"hashmatch {h.hashmatch_version}"),
        ("size", f"{report.file_bytes:,} bytes"),
        ("SHA-256", f"{report.sha256} (verified)"),
    ):
        about.add_row(key, value)
    console.print(about)

    segments = {s.field: s for s in report.segments}
    fields = Table(title="Fields", title_justify="left")
    for column in ("field", "missing", "CLK bits", "mean fill", "filter"):
        fields.add_column(column, justify="left" if column in ("field", "filter") else "right")
    for f in report.fields:
        seg = segments.get(f.name)
        fields.add_row(
            f.name,
            _pct(f.missing_rate),
            f"{seg.start}-{seg.start + seg.bits - 1}" if seg else "-",
            _pct(seg.mean_fill) if seg else "-",
            _status(seg.status) if seg else "-",
        )
    console.print(fields)

    if report.tokens:
        tokens = Table(title="Exact tokens", title_justify="left")
        tokens.add_column("token")
        tokens.add_column("missing", justify="right")
        for t in report.tokens:
            tokens.add_row(t.name, _pct(t.missing_rate))
        console.print(tokens)

    if report.popcount is not None:
        p = report.popcount
        console.print(
            f"[bold]CLK popcount[/bold] (non-empty CLKs)  min {p.min}  5% {p.p05}  "
            f"median {p.median}  95% {p.p95}  max {p.max}  mean {p.mean:.1f}"
        )
        for line in iter_histogram_lines(p):
            console.print(line, markup=False)
    console.print(
        f"empty CLKs: {report.empty_clk_rows:,}   duplicate CLKs: {report.duplicate_clk_rows:,}"
    )
    for warning in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", markup=True)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _status(status: str) -> str:
    return status if status in ("ok", "no data") else f"[yellow]{status}[/yellow]"


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect)
