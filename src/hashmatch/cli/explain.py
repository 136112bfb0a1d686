"""``hashmatch explain``: why a pair was linked, field by field (probabilistic scoring)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hashmatch.cli._common import reporting_errors
from hashmatch.link.explain import read_explanation


def explain(
    results: Annotated[
        Path, typer.Argument(help="Results folder of `link --scoring fs --pairs`.")
    ],
    pair: Annotated[
        tuple[str, str],
        typer.Option("--pair", metavar="ROW_TOKEN_A ROW_TOKEN_B",
                     help="The two row tokens of a linked pair (either order)."),
    ],
) -> None:
    """Show a linked pair's match weight as a waterfall: the party pair's prior plus
    each field's log2(m/u) at the level the encodings agree, summing to the total
    whose probability is the pair's score.

    Reads RESULTS/pairs.csv: levels come from the keyed encodings, no value is
    needed or shown.

    Example:

        hashmatch explain RESULTS/ --pair 37f2c6dd2095e446... 29d37efb179eeeb0...
    """
    with reporting_errors():
        why = read_explanation(results, *pair)
    typer.echo(f"{why.parties[0]} ~ {why.parties[1]}: match probability {why.score:.4f}")
    typer.echo(f"  {'prior (party pair)':<28} {why.prior:+8.2f} bits")
    running = why.prior
    for field, level, weight in why.terms:
        running += weight
        typer.echo(f"  {field + ' ' + level:<28} {weight:+8.2f}   (= {running:+.2f})")
    typer.echo(f"  {'total':<28} {why.total:+8.2f} bits")


def register(app: typer.Typer) -> None:
    app.command("explain")(explain)
