"""``hashmatch serve`` (the coordinator's lookup service) and ``hashmatch lookup`` (a
party asking it about its records).

Thin: ``serve`` runs :func:`hashmatch.service.app.create_app` on uvicorn; ``lookup``
encodes locally with :func:`hashmatch.encode.encode_records` and asks through
:class:`hashmatch.service.client.Client`. No value or encoding is printed.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer

from hashmatch.cli._common import reporting_errors


def serve(
    registry: Annotated[str, typer.Option("--registry", help="The registry: a SQLite file or "
                                          "a postgresql:// URL.")],
    host: Annotated[str, typer.Option("--host", help="Address to listen on (put a TLS "
                                      "reverse proxy in front for anything but loopback).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535)] = 8000,
    ssl_certfile: Annotated[Path | None, typer.Option("--ssl-certfile",
                                                      help="Serve TLS with this cert.")] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option("--ssl-keyfile")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Processes "
                                         "answering requests, forked after one load of the "
                                         "index (its memory shared, copy-on-write); a commit "
                                         "through one is seen by the others at their next "
                                         "request.")]
    = 1,
) -> None:
    """Answer parties' encoded records with persistent entity ids over HTTP.

    Example:

        hashmatch registry token crm --registry registry.db > crm.token
        hashmatch serve --registry registry.db --port 8000 --workers 2
    """
    import uvicorn

    from hashmatch.service.app import SHARED_ENV, create_app, worker_environment

    # Bounded: slow clients are cut off, and excess connections get 503, not a queue.
    options = dict(host=host, port=port, log_level="info", access_log=False,
                   timeout_keep_alive=5, limit_concurrency=256,
                   ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
                   ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None)
    if workers == 1:
        with reporting_errors():
            app = create_app(registry)
        uvicorn.run(app, **options)  # type: ignore[arg-type]
        return
    # Several processes on one socket, sharing a private folder where each tells the
    # others of its commits: forked after one load of the index on Linux, else each
    # imports the app from the environment and loads its own.
    from hashmatch.service.prefork import can_fork, run_forked

    with worker_environment(registry) as env:
        if can_fork():
            with reporting_errors():
                status = run_forked(registry, workers, env[SHARED_ENV], options)
            raise typer.Exit(status)
        uvicorn.run("hashmatch.service.app:app_from_environment", factory=True,
                    workers=workers, **options)  # type: ignore[arg-type]


def lookup(
    records: Annotated[Path, typer.Argument(help="The party's CSV file of records to ask "
                                            "about.", exists=True, dir_okay=False)],
    server: Annotated[str, typer.Option("--server", help="The service's URL.")],
    token_file: Annotated[Path, typer.Option("--token-file", exists=True, dir_okay=False,
                                             help="File holding the party's API token.")],
    schema: Annotated[Path, typer.Option("--schema", exists=True, dir_okay=False)],
    secret: Annotated[Path, typer.Option("--secret", exists=True, dir_okay=False)],
    party: Annotated[str, typer.Option("--party")],
    out: Annotated[Path, typer.Option("-o", "--out", help="CSV: record_id, entity_id, "
                                      "score, status.")],
    mapping: Annotated[Path | None, typer.Option("--mapping", exists=True,
                                                 dir_okay=False)] = None,
    row_key: Annotated[Path | None, typer.Option("--row-key", exists=True, dir_okay=False,
                                                 help="The party's row key (needed with "
                                                 "--add, and to recognise stored records).")]
    = None,
    add: Annotated[bool, typer.Option("--add", help="Also add/update these records in the "
                                      "registry (one journalled run).")] = False,
) -> None:
    """Encode records locally and ask the service which entity each belongs to.

    Example:

        hashmatch lookup caller.csv --server http://127.0.0.1:8000 --token-file crm.token \\
            --schema schema.toml --secret linkage.secret --party crm --row-key crm.rowkey \\
            -o matches.csv
    """
    from hashmatch.atomic import atomic_write
    from hashmatch.encode import encode_records
    from hashmatch.service.client import Client

    with reporting_errors():
        batch = encode_records(records, schema=schema, secret=secret, party=party,
                               mapping=mapping, row_key=row_key)
        with Client(server, token_file.read_text()) as client:
            answers = client.add(batch) if add else client.match(batch)
        with atomic_write(out, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["record_id", "entity_id", "score", "status"])
            for rid, a in zip(batch.record_ids, answers, strict=True):
                w.writerow([rid, a["entity_id"] or "", "" if a["score"] is None else a["score"],
                            a["status"]])
    counts = {s: sum(a["status"] == s for a in answers) for s in ("matched", "new", "ambiguous")}
    typer.echo(f"{len(answers):,} records: " + ", ".join(f"{k} {v:,}" for k, v in
                                                          counts.items()) + f" -> {out}")


def register(root: typer.Typer) -> None:
    root.command("serve")(serve)
    root.command("lookup")(lookup)
