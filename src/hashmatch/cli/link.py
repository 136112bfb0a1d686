"""``hashmatch link``: the coordinator links the parties' encoding files into entities."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hashmatch._progress import terminal_progress
from hashmatch.cli._common import force_option, reporting_errors
from hashmatch.link import LinkResult, link_files
from hashmatch.link.engines import ENGINES, engine_named
from hashmatch.link.memory import parse_memory
from hashmatch.link.outputs import HTML_FILE, RELATIONSHIPS_FILE, check_results_folder
from hashmatch.seal.intake import opened_inputs
from hashmatch.seal.keyfiles import load_coordinator_key, load_trusted_parties


def link(
    files: Annotated[
        list[Path], typer.Argument(help="Encoding files (.hme or sealed), one per party.")
    ],
    out_dir: Annotated[Path, typer.Option("-o", "--out", help="Results folder to write.")],
    threshold: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Match threshold \\[default: chosen from the data]."),
    ] = None,
    dedup: Annotated[
        bool, typer.Option("--dedup", help="Also find duplicates within each party.")
    ] = False,
    no_blocking: Annotated[
        bool,
        typer.Option(
            "--no-blocking",
            help="Compare every pair (refused beyond 25 million pairs without --force).",
        ),
    ] = False,
    pairs: Annotated[
        bool, typer.Option("--pairs", help="Also write pairs.csv with scores (leaks more).")
    ] = False,
    share_party_names: Annotated[
        bool,
        typer.Option(
            "--share-party-names",
            help="Tell each party which other parties share its entities (not their rows).",
        ),
    ] = False,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key", metavar="COORDINATOR.key", help="Coordinator key to open sealed files."
        ),
    ] = None,
    trust: Annotated[
        Path | None,
        typer.Option(
            "--trust",
            metavar="FOLDER",
            help="Folder of trusted party keys (*.pub); every file must be signed by one.",
        ),
    ] = None,
    allow_unsigned: Annotated[
        bool,
        typer.Option(
            "--allow-unsigned",
            help="Accept unsigned sealed and plain files; signed ones are still checked "
            "against --trust when it is given.",
        ),
    ] = False,
    registry: Annotated[
        str | None,
        typer.Option(
            "--registry",
            metavar="REG",
            help="Link into this entity registry (SQLite file, created on first use, or "
            "postgresql:// URL): persistent ids, each file the party's full snapshot.",
        ),
    ] = None,
    delta: Annotated[
        bool,
        typer.Option("--delta", help="With --registry: the files hold only added and "
                     "changed records (removals via --removed)."),
    ] = False,
    removed: Annotated[
        Path | None,
        typer.Option("--removed", metavar="CSV", help="With --delta: CSV party,row_token "
                     "of records to remove."),
    ] = None,
    scoring: Annotated[
        str,
        typer.Option(
            "--scoring",
            help="dice: CLK Dice + token evidence, threshold at the histogram's valley; fs: "
            "match probabilities of field-level Fellegi-Sunter models fitted per party "
            "pair without labels (threshold: probability 0.5; report.json gets the model "
            "and estimated precision/recall).",
        ),
    ] = "dice",
    model: Annotated[
        Path | None,
        typer.Option("--model", metavar="JSON", help="With --scoring fs: reuse the models "
                     "of an earlier run (its report.json, or a file holding its \"model\")."),
    ] = None,
    wait: Annotated[
        float,
        typer.Option("--wait", min=0.0, metavar="SECONDS",
                     help="With --registry: how long to wait for another run to finish."),
    ] = 60.0,
    force: Annotated[
        bool,
        force_option(
            "Replace OUT as a whole if it is not empty (only if it holds nothing but "
            "results files), and allow --no-blocking beyond its pair limit."
        ),
    ] = False,
    memory: Annotated[
        str | None,
        typer.Option("--memory", metavar="SIZE",
                     help="Memory budget, e.g. 4GB: candidate chunks are sized to it, LSH "
                     "bands are joined a group at a time when all would not fit (same "
                     "results), and a party pair whose blocking tables would not fit even "
                     "then is refused before any work \\[default: no budget; bands grouped "
                     "beyond a fifth of this machine's memory]."),
    ] = None,
    engine: Annotated[
        str,
        typer.Option("--engine", help="local: compare in this process; dask: as tasks of a "
                     "Dask cluster (--scheduler, or a local cluster of one worker per core), "
                     "same results. Needs pip install 'hashmatch[dask]'."),
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", metavar="tcp://HOST:8786",
                     help="With --engine dask: the address of a running Dask scheduler."),
    ] = None,
    encode_report: Annotated[
        list[Path] | None,
        typer.Option("--encode-report", metavar="[PARTY=]FILE.json",
                     help="A party's data-quality counts (hashmatch profile --json) for "
                     "report.html; the party is PARTY= or the file name before its first "
                     "dot. Repeatable."),
    ] = None,
) -> None:
    """Link the parties' encoding files into entities (coordinator side).

    Checks that the files were made with the same schema, encoder and secret,
    compares candidate pairs found by privacy-preserving blocking, picks the
    threshold at the valley of the score histogram (or uses --threshold),
    keeps pairs one-to-one per party pair and merges them into entities that
    never hold two rows of one party (unless --dedup). Writes entities.csv,
    one PARTY.csv per party, report.json, the score histogram and
    report.html (the report to read in a browser) into OUT, all marked with
    a new run id. OUT appears whole or not at all; a folder that is not
    empty is refused (before any work) unless --force.

    Sealed files (encode --seal-for) are opened with --key, their signature
    checked against the party keys in --trust (required for sealed files
    unless --allow-unsigned), and decrypted in memory (never to a named
    file). With --trust, plain .hme files are refused (unless
    --allow-unsigned).

    Example:

        hashmatch link crm.hme shop.hme partner.hme -o RESULTS/

        hashmatch link crm.hme.sealed shop.hme.sealed -o RESULTS/
        --key coordinator.key --trust parties/

    With --registry REG, ids persist from run to run: each file is the
    party's current snapshot (new records are linked, changed ones re-linked,
    missing ones removed), REG keeps every record, entity and change, and
    OUT also gets PARTY.changes.csv (the rows whose id changed).

        hashmatch link crm.hme shop.hme -o RESULTS/ --registry registry.db
    """
    if (delta or removed is not None) and registry is None:
        raise typer.BadParameter("needs --registry", param_hint="--delta/--removed")
    if removed is not None and not delta:
        raise typer.BadParameter("needs --delta", param_hint="--removed")
    if engine not in ENGINES:
        raise typer.BadParameter(f"expected one of {', '.join(ENGINES)}", param_hint="--engine")
    if scheduler is not None and engine != "dask":
        raise typer.BadParameter("needs --engine dask", param_hint="--scheduler")
    if registry is not None and engine != "local":
        raise typer.BadParameter("links into a registry run on the local engine",
                                 param_hint="--engine")
    console = Console(highlight=False)
    with reporting_errors():
        check_results_folder(out_dir, force=force, reads=[*files, key, trust, registry])
    with reporting_errors(), terminal_progress("linking") as progress:
        inputs = opened_inputs(
            files,
            key=load_coordinator_key(key) if key is not None else None,
            trusted=load_trusted_parties(trust) if trust is not None else None,
            require_signature=not allow_unsigned,
        )
        with inputs as plain_files, _engine_client(engine, scheduler, console) as client:
            if registry is not None:
                from hashmatch.cli.registry import link_into_registry

                link_into_registry(list(plain_files), out_dir, registry, delta=delta,
                                   removed=removed, wait=wait, threshold=threshold,
                                   dedup=dedup, console=console, force=force)
                return
            result = link_files(
                plain_files,
                out_dir,
                threshold=threshold,
                dedup=dedup,
                blocking=not no_blocking,
                write_pairs=pairs,
                reveal_parties=share_party_names,
                progress=progress,
                sources=[str(f) for f in files],
                force=force,
                allow_costly=force,
                scoring=scoring,
                model=_load_model(model),
                report_extra=_quality_extra(encode_report),
                memory=_memory(memory),
                engine=engine_named(engine, client),
            )
    render(result, out_dir, console)


def _memory(size: str | None) -> int | None:
    """The --memory budget in bytes (a size such as 4GB or 512MB)."""
    if size is None:
        return None
    try:
        return parse_memory(size)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--memory") from exc


@contextmanager
def _engine_client(engine: str, scheduler: str | None, console: Console) -> Iterator[Any]:
    """The Dask client of ``--engine dask`` (its dashboard link printed), else None."""
    if engine == "local":
        yield None
        return
    from hashmatch.link.engines.dask import dask_client
    with dask_client(scheduler) as client:
        console.print(f"Dask dashboard: {client.dashboard_link}", markup=False)
        yield client


def _load_model(path: Path | None) -> dict[str, Any] | None:
    """The ``"model"`` section of a report.json (or a file that is only that section)."""
    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"{path}: not a readable JSON file", param_hint="--model") from exc
    section = data.get("model", data) if isinstance(data, dict) else None
    if not isinstance(section, dict):
        raise typer.BadParameter(f"{path}: no model section", param_hint="--model")
    return section


def render(result: LinkResult, out_dir: Path, console: Console) -> None:
    """Threshold choice with the text histogram, then the summary table."""
    from hashmatch.link.threshold import render_histogram_text

    console.print(render_histogram_text(result.score_sample, result.threshold), markup=False)
    choice = result.threshold
    console.print(
        f"threshold {choice.value:.3f} ({choice.method}): {choice.explanation}", markup=False
    )
    if result.estimated is not None:
        est = result.estimated
        console.print(
            f"estimated without labels (the pairs of records linked; recall among the "
            f"matches blocking proposed): precision {est['precision']:.3f}, recall "
            f"{est['recall']:.3f}, F1 {est['f1']:.3f}",
            markup=False,
        )
        console.print("  against the threshold (the candidates, before one-to-one solving):",
                      markup=False)
        console.print(
            "  threshold  " + "  ".join(f"{p['threshold']:>5.2f}" for p in est["curve"]),
            markup=False,
        )
        for key in ("precision", "recall"):
            console.print(
                f"  {key:<9}  " + "  ".join(f"{p[key]:>5.3f}" for p in est["curve"]),
                markup=False,
            )
    table = Table(title="Party pairs", title_justify="left")
    for column in ("parties", "candidates", "reduction", "above threshold", "linked"):
        table.add_column(column, justify="left" if column == "parties" else "right")
    for s in result.pair_stats:
        ratio = getattr(s.blocking, "reduction_ratio", None)
        table.add_row(
            f"{s.party_a} ~ {s.party_b}",
            f"{s.candidates:,}",
            "-" if ratio is None else f"{ratio:.6f}",
            f"{s.accepted:,}",
            f"{s.kept:,}",
        )
    console.print(table)
    st = result.entity_stats
    rows = sum(p.rows for p in result.parties)
    console.print(
        f"{rows:,} rows of {len(result.parties)} parties -> {st.entities:,} entities "
        f"({st.multi_row_entities:,} with more than one row); merges refused: "
        f"{st.refused_same_party:,} same party, {st.refused_conflict:,} conflicting"
    )
    if result.relationships is not None:
        console.print(
            f"{len(result.relationships):,} pairs of entities kept apart look alike (twins, "
            f"couples, parents and children: same surname and home or birth date, another "
            f"first name or birth date): {RELATIONSHIPS_FILE}",
            markup=False,
        )
    within = sorted({s.threshold for s in result.pair_stats if s.party_a == s.party_b})
    if within and within != [choice.value]:
        console.print(
            "within one party (dedup), pairs must reach "
            + ", ".join(f"{t:.3f}" for t in within),
            markup=False,
        )
    for note in result.notes:
        console.print(f"[cyan]note:[/] {escape(note)}")
    total = result.timings.get("total")
    console.print(f"results in {out_dir}" + (f" ({total:.2f} s)" if total is not None else ""))
    console.print(f"report: {out_dir / HTML_FILE} (open it in a browser)", markup=False)


def _quality_extra(files: list[Path] | None) -> dict[str, object] | None:
    """``{"data_quality": {party: profile}}`` from ``--encode-report`` values."""
    if not files:
        return None
    from hashmatch.report.quality import read_quality

    return {"data_quality": read_quality([str(f) for f in files])}


def register(app: typer.Typer) -> None:
    app.command("link")(link)
