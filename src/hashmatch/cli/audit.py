"""``hashmatch audit``: a party checks its own encoding file before releasing it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hashmatch.audit.privacy import AuditReport, audit_file, audit_with_raw
from hashmatch.cli._common import EXIT_USER_ERROR, reporting_errors
from hashmatch.errors import HashmatchError

_STYLE = {"ok": "green", "warn": "yellow", "fail": "bold red"}


def audit(
    file: Annotated[Path, typer.Argument(help="Your encoding file (.hme) to check.")],
    raw: Annotated[
        Path | None,
        typer.Option("--raw", help="Your raw CSV the file was encoded from (stronger check)."),
    ] = None,
    schema: Annotated[
        Path | None, typer.Option("--schema", help="Linkage schema (with --raw).")
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="Your column mapping (with --raw).")
    ] = None,
    lookup: Annotated[
        Path | None,
        typer.Option("--lookup", help="Your lookup file \\[default: FILE with suffix .lookup]."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Also exit with status 3 when a risk is 'warn'.")
    ] = False,
) -> None:
    """Measure what your encoding file leaks, before it leaves your organisation.

    Reports, per field segment: how unequal the bit-position rates are
    (frequency attack surface), how many rows share an exact or near-identical
    pattern (frequent-name leakage), and the popcount spread (length
    leakage). With --raw (and --schema, --mapping, the lookup file written
    by encode) it also measures the length correlation and simulates a
    frequency attack: an attacker who knows the value distribution aligns
    the most frequent patterns to the most frequent values. Ends with ok /
    warn / fail per risk and the schema setting that fixes it. Prints only
    counts and rates, never a value. Exits with status 3 when a risk is
    'fail' (with --strict also when one is 'warn'), so a script can stop
    the file from leaving.

    Example:

        hashmatch audit crm.hme

        hashmatch audit crm.hme --raw crm.csv --schema schema.toml --mapping crm.mapping.toml
    """
    with reporting_errors():
        if raw is None:
            report = audit_file(file)
        else:
            if schema is None:
                msg = "--raw needs --schema (and --mapping unless the columns match)"
                raise HashmatchError(msg)
            report = audit_with_raw(
                file, raw, schema, mapping, lookup or file.with_suffix(".lookup")
            )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        render(report, Console(highlight=False))
    if report.verdict == "fail" or (strict and report.verdict == "warn"):
        raise typer.Exit(EXIT_USER_ERROR + 1)


def render(report: AuditReport, console: Console) -> None:
    """Print the per-segment statistics and the verdicts."""
    table = Table(title=f"{report.path}: {report.rows:,} rows", title_justify="left")
    columns = ["field", "rows", "fill", "bit-rate CV", "frequent", "near twins", "popcount"]
    if report.with_raw:
        columns += ["length r", "attack"]
    for c in columns:
        table.add_column(c, justify="left" if c == "field" else "right")
    for s in report.segments:
        cells = [
            s.field,
            f"{s.rows:,}",
            f"{s.mean_fill:.0%}",
            f"{s.bit_rate_cv:.2f}",
            f"{s.frequent_share:.1%}",
            f"{s.near_share:.1%}",
            f"{s.popcount_mean:.0f}±{s.popcount_std:.0f}",
        ]
        if report.with_raw:
            r = "-" if s.length_corr is None else f"{s.length_corr:.2f}"
            a = "-" if not s.attack_top else f"{s.attack_aligned:.1f}/{s.attack_top}"
            cells += [r, a]
        table.add_row(*cells)
    console.print(table)
    if report.tokens:
        tokens = Table(title="exact tokens (block keys repeat by design: not shown)",
                       title_justify="left")
        for c in ("token", "kind", "rows", "distinct", "top token", "frequent"):
            tokens.add_column(c, justify="left" if c in ("token", "kind") else "right")
        for t in report.tokens:
            tokens.add_row(t.name, t.kind, f"{t.rows:,}", f"{t.distinct:,}",
                           f"{t.top_share:.1%}", f"{t.frequent_share:.1%}")
        console.print(tokens)
    for f in report.findings:
        style = _STYLE[f.verdict]
        where = f" ({f.worst_field})" if f.worst_field and f.verdict != "ok" else ""
        console.print(f"[{style}]{f.verdict.upper():4s}[/{style}] {f.risk}{where}: {f.detail}")
        if f.fix:
            console.print(f"     fix: {f.fix}", markup=False)
    style = _STYLE[report.verdict]
    console.print(f"verdict: [{style}]{report.verdict}[/{style}]")


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
