"""``hashmatch evaluate``: precision, recall and F1 of a link against a ground truth."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hashmatch.cli._common import reporting_errors
from hashmatch.evaluate import EvaluationReport
from hashmatch.evaluate import evaluate as evaluate_link


def evaluate(
    results: Annotated[Path, typer.Argument(help="Results folder of `link`, or its entities.csv.")],
    truth: Annotated[Path, typer.Option("--truth", help="Truth CSV: party,record_id,entity_id.")],
    lookup: Annotated[
        list[Path], typer.Option("--lookup", help="A party's lookup file; repeat for each party.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            metavar="PATH",
            help="Also render RESULTS' report.html at PATH with the true precision and "
            "recall (and the true curve above the threshold when link kept pairs.csv).",
        ),
    ] = None,
) -> None:
    """Score a link against a ground truth (pairwise and cluster measures).

    Maps every row token of RESULTS back to a record id through the parties'
    lookup files, then compares the entities with the truth over all record
    pairs (within and across parties), per party pair, and per cluster
    (B-cubed, exact clusters). Counts pairs combinatorially, so a million
    records take seconds.

    Example:

        hashmatch evaluate RESULTS/ --truth truth.csv --lookup crm.lookup --lookup shop.lookup

    With --html RESULTS/report.html the browser report shows the true
    measures beside the link's own (with link --pairs, the true curve too).
    """
    with reporting_errors():
        report = evaluate_link(results, truth, lookup)
        if html is not None:
            from hashmatch.evaluation_curve import evaluation_for_report
            from hashmatch.report import write_report

            evaluation = evaluation_for_report(
                results, report.precision, report.recall, report.f1, truth, lookup
            )
            folder = results if results.is_dir() else results.parent
            written = write_report(folder, html, evaluation=evaluation)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
        return
    render(report, Console(highlight=False))
    if html is not None:
        typer.echo(f"report: {written} (open it in a browser)")


def render(report: EvaluationReport, console: Console) -> None:
    """Headline precision/recall/F1 one per line, then per party pair and cluster measures.

    When some parties could not be scored (no lookup given), that comes first: the
    figures then describe only the parties scored."""
    if report.unscored_parties:
        console.print(
            f"only part of the results was scored: no lookup was given for "
            f"{', '.join(report.unscored_parties)}, so {report.rows_without_lookup:,} of "
            f"their rows were skipped; the figures below cover the other parties only "
            "(pass --lookup for every party to score them all)",
            markup=False,
        )
    console.print(f"precision {_fmt(report.precision)}")
    console.print(f"recall    {_fmt(report.recall)}")
    console.print(f"F1        {_fmt(report.f1)}")
    console.print(
        f"{report.records:,} records, {report.true_entities:,} true entities, "
        f"{report.predicted_entities:,} predicted; pairs: {report.pairwise.true_positives:,} "
        f"correct of {report.pairwise.predicted_pairs:,} predicted, "
        f"{report.pairwise.true_pairs:,} true"
    )
    table = Table(title="Per party pair", title_justify="left")
    for column in ("parties", "true pairs", "predicted", "prec.", "recall", "F1"):
        table.add_column(column, justify="left" if column == "parties" else "right", no_wrap=True)
    for (a, b), s in sorted(report.per_party_pair.items()):
        if s.true_pairs == 0 and s.predicted_pairs == 0:
            continue
        table.add_row(
            f"{a} ~ {b}",
            f"{s.true_pairs:,}",
            f"{s.predicted_pairs:,}",
            _fmt(s.precision),
            _fmt(s.recall),
            _fmt(s.f1),
        )
    console.print(table)
    console.print(
        f"B-cubed precision {_fmt(report.bcubed_precision)}, recall "
        f"{_fmt(report.bcubed_recall)}, F1 {_fmt(report.bcubed_f1)}; exact clusters "
        f"{_fmt(report.exact_cluster_accuracy)}"
    )
    skipped = {
        "truth records not in the results": report.truth_records_missing,
        "result rows without a lookup entry": report.rows_without_lookup,
        "result rows not in the truth": report.rows_without_truth,
    }
    for what, count in skipped.items():
        if count:
            console.print(f"not scored: {count:,} {what}")


def _fmt(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.4f}"


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
