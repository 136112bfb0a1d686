"""``hashmatch registry log | show | stats``, and the ``link --registry`` run.

Thin: each command calls one function of :mod:`hashmatch.registry` and prints its
answer. Row tokens are printed as hex; no value is ever printed.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hashmatch.cli._common import reporting_errors
from hashmatch.errors import ResultsError
from hashmatch.registry import RunResult, entity_view, journal, stats, update_and_write

app = typer.Typer(
    help="Inspect an entity registry (made by `hashmatch link ... --registry REG`)."
    "\n\nExample: hashmatch registry stats registry.db",
    no_args_is_help=True,
)

RegistryArg = Annotated[str, typer.Argument(help="The registry: a SQLite file or a "
                                            "postgresql:// URL.")]


@app.command("log")
def log(
    registry: RegistryArg,
    entity: Annotated[str | None, typer.Option("--entity", help="Only events naming this "
                                               "entity id.")] = None,
    since: Annotated[int | None, typer.Option("--since", min=1, metavar="RUN",
                                              help="Only events of run RUN and later.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print the registry's change journal, oldest first.

    Example:

        hashmatch registry log registry.db --entity E3f2a0c1b2d4e5f60
    """
    with reporting_errors():
        events = journal(registry, entity=entity, since_run=since)
    for e in events:
        if as_json:
            typer.echo(json.dumps(e.to_dict(), sort_keys=True))
            continue
        parts = [f"{e.seq:>6}", f"run {e.run}", e.time, e.event, e.entity]
        if e.other:
            parts.append(("from " if e.event == "record_moved" else "") + e.other)
        if e.party is not None and e.row_token is not None:
            parts.append(f"{e.party}:{e.row_token.hex()}")
        typer.echo("  ".join(parts))


@app.command("show")
def show(
    registry: RegistryArg,
    entity: Annotated[str, typer.Argument(help="An entity id (as in RESULTS/PARTY.csv).")],
) -> None:
    """Show one entity: its records per party (row tokens) and its history.

    Example:

        hashmatch registry show registry.db E3f2a0c1b2d4e5f60
    """
    with reporting_errors():
        view = entity_view(registry, entity)
    state = f"retired in run {view.retired_run}" if view.retired_run else "live"
    typer.echo(f"{view.eid}: created in run {view.created_run}, {state}")
    for party, tokens in view.records.items():
        typer.echo(f"  {party}: {len(tokens)} record(s)")
        for token in tokens:
            typer.echo(f"    {token}")
    typer.echo("history:")
    for e in view.history:
        other = f" ({e.other})" if e.other else ""
        who = f" {e.party}:{e.row_token.hex()}" if e.row_token is not None else ""
        typer.echo(f"  run {e.run} {e.time} {e.event} {e.entity}{other}{who}")


@app.command("stats")
def show_stats(registry: RegistryArg) -> None:
    """Counts of a registry: records per party, entities, runs, journal events, rules.

    Example:

        hashmatch registry stats registry.db
    """
    with reporting_errors():
        found = stats(registry)
    typer.echo(json.dumps(found, indent=2, sort_keys=True))


def read_removed(path: Path) -> dict[str, list[bytes]]:
    """A ``--removed`` file: CSV ``party,row_token`` (hex), one removed record a line."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            table = list(csv.reader(fh))
    except OSError as exc:
        raise ResultsError(f"{path}: cannot be read ({exc.strerror})") from None
    if not table or [c.strip().lower() for c in table[0][:2]] != ["party", "row_token"]:
        raise ResultsError(f"{path}: expected the header party,row_token")
    out: dict[str, list[bytes]] = {}
    for line, row in enumerate(table[1:], start=2):
        try:
            token = bytes.fromhex(row[1].strip())
        except (IndexError, ValueError):
            token = b""
        if len(token) != 16:
            raise ResultsError(f"{path}, line {line}: expected party,row_token (32 hex digits)")
        out.setdefault(row[0].strip(), []).append(token)
    return out


def link_into_registry(files: Sequence[str | os.PathLike[str]], out_dir: Path, registry: str,
                       *, delta: bool, removed: Path | None, wait: float,
                       threshold: float | None, dedup: bool, console: Console,
                       force: bool = False) -> RunResult:
    """What ``hashmatch link --registry`` runs: update the registry, write RESULTS/."""
    removals = read_removed(removed) if removed is not None else None
    result = update_and_write(registry, files, out_dir, delta=delta, removed=removals,
                              wait=wait, threshold=threshold, dedup=dedup, force=force)
    for party, counts in result.parties.items():
        console.print(f"{party}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()),
                      markup=False)
    events = ", ".join(f"{k} {v:,}" for k, v in sorted(result.events.items())) or "none"
    console.print(f"run {result.run}: {len(result.changes):,} id changes; events: {events}",
                  markup=False)
    console.print(f"results in {out_dir} (registry {result.registry})", markup=False)
    return result


@app.command("token")
def token(
    party: Annotated[str, typer.Argument(help="The party the token is for.")],
    registry: Annotated[str, typer.Option("--registry", help="The registry: a SQLite file "
                                          "or a postgresql:// URL.")],
    revoke: Annotated[bool, typer.Option("--revoke", help="Revoke the party's token "
                                         "instead.")] = False,
) -> None:
    """Issue a party's API token for `hashmatch serve` (printed once; only its hash is
    kept; a new one replaces the old), or revoke it.

    Example:

        hashmatch registry token crm --registry registry.db > crm.token
    """
    from hashmatch.service.tokens import issue_token, revoke_token

    with reporting_errors():
        if revoke:
            had = revoke_token(registry, party)
            typer.echo(f"revoked {party}'s token" if had else f"{party} had no token",
                       err=True)
            return
        typer.echo(issue_token(registry, party))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="registry")
