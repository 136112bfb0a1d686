"""True precision and recall against the threshold, from a link's ``pairs.csv`` and a truth.

A link is made at one threshold. ``link --pairs`` keeps the score of every pair it merged
into entities, so the entities a *higher* threshold would have given are, to a close
approximation, the connected components of the pairs scoring at or above it (one-to-one
solving and the conflict rule ran at the lower threshold, so a real re-link may differ
a little). This module walks the pairs from the highest score down, merging components
as they come (union by size, each component's count of true entities kept), and records
pairwise precision and recall over the scored records at every step of the threshold
grid at or above the one used: what ``hashmatch evaluate ... --html`` draws beside the
link's own estimates. Counts only, in memory; nothing is written but the curve.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from hashmatch.errors import ResultsError
from hashmatch.link.outputs import ENTITIES_FILE, PAIRS_FILE

__all__ = ["CurvePoint", "true_curve"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class CurvePoint:
    threshold: float
    precision: float
    recall: float


def true_curve(
    results: PathLike,
    truth: Mapping[tuple[str, str], str],
    token_to_record: Mapping[str, str],
    *,
    start: float,
    step: float = 0.01,
) -> list[CurvePoint]:
    """Pairwise precision/recall at thresholds ``start, start + step, ..., 1``.

    ``truth`` maps ``(party, record_id)`` to the true entity, ``token_to_record`` a row
    token (lower-case hex) to its record id (the parties' lookups). The records scored
    are those of ``entities.csv`` that both know (as ``hashmatch evaluate`` scores them);
    their true pairs are the recall's denominator.

    Raises
    ------
    ResultsError
        ``results`` has no ``pairs.csv`` (link without ``--pairs``) or it is malformed.
    """
    path = Path(results)
    path = path / PAIRS_FILE if path.is_dir() else path.with_name(PAIRS_FILE)
    scored: dict[tuple[str, str], str] = {}
    try:
        with path.with_name(ENTITIES_FILE).open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                key = _record(row["party"], row["row_token"], truth, token_to_record)
                if key is not None:
                    scored[key] = truth[key]
    except (OSError, KeyError, csv.Error, UnicodeDecodeError):
        raise ResultsError(f"{path.with_name(ENTITIES_FILE)}: cannot be read") from None
    edges = []
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            for row in reader:
                a = _record(row["party_a"], row["row_token_a"], truth, token_to_record)
                b = _record(row["party_b"], row["row_token_b"], truth, token_to_record)
                if a in scored and b in scored:
                    edges.append((float(row["score"]), a, b))
    except FileNotFoundError:
        raise ResultsError(
            f"{path}: no pairs.csv, so no curve can be drawn",
            hint="link with --pairs to keep the scores of the linked pairs",
        ) from None
    except (KeyError, ValueError, csv.Error, UnicodeDecodeError):
        raise ResultsError(f"{path}: not a pairs.csv written by hashmatch link") from None
    true_pairs = sum(n * (n - 1) // 2 for n in Counter(scored.values()).values())
    return _walk(sorted(edges, reverse=True), scored, true_pairs, start, step)


def _record(
    party: str, token: str, truth: Mapping[tuple[str, str], str], lookup: Mapping[str, str]
) -> tuple[str, str] | None:
    record = lookup.get(token.lower())
    if record is None or (party, record) not in truth:
        return None
    return party, record


def _walk(
    edges: Sequence[tuple[float, tuple[str, str], tuple[str, str]]],
    truth: Mapping[tuple[str, str], str],
    true_pairs: int,
    start: float,
    step: float,
) -> list[CurvePoint]:
    parent: dict[tuple[str, str], tuple[str, str]] = {}
    members: dict[tuple[str, str], Counter[str]] = {}
    size: dict[tuple[str, str], int] = {}

    def root(x: tuple[str, str]) -> tuple[str, str]:
        if x not in parent:
            parent[x], members[x], size[x] = x, Counter({truth[x]: 1}), 1
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    thresholds = []
    t = 1.0
    while t >= start - 1e-9:
        thresholds.append(round(t, 6))
        t -= step
    points: list[CurvePoint] = []
    predicted = correct = 0
    k = 0
    for t in thresholds:  # from 1 down: add the edges scoring at or above t
        while k < len(edges) and edges[k][0] >= t - 1e-9:
            _, a, b = edges[k]
            k += 1
            ra, rb = root(a), root(b)
            if ra == rb:
                continue
            if size[ra] < size[rb]:
                ra, rb = rb, ra
            predicted += size[ra] * size[rb]
            correct += sum(n * members[ra].get(e, 0) for e, n in members[rb].items())
            parent[rb] = ra
            size[ra] += size[rb]
            members[ra].update(members.pop(rb))
        precision = correct / predicted if predicted else 1.0
        recall = correct / true_pairs if true_pairs else 0.0
        points.append(CurvePoint(t, precision, recall))
    return points[::-1]


def evaluation_for_report(
    results: PathLike,
    precision: float,
    recall: float,
    f1: float,
    truth_csv: PathLike,
    lookups: Sequence[PathLike],
) -> dict[str, object]:
    """What ``hashmatch.report`` draws of an evaluation: the measures at the threshold
    used and, when the link kept ``pairs.csv``, the true curve above it (see
    :func:`true_curve`). Reads the truth and the lookups again (counts only come out)."""
    import json

    from hashmatch.lookup import read_lookup

    folder = Path(results)
    folder = folder if folder.is_dir() else folder.parent
    out: dict[str, object] = {"precision": precision, "recall": recall, "f1": f1,
                              "source": Path(truth_csv).name}
    if not (folder / PAIRS_FILE).is_file():
        return out
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    start = float((report.get("threshold") or {}).get("value") or 0.0)
    with Path(truth_csv).open(newline="", encoding="utf-8") as fh:
        truth = {
            (r["party"].strip(), r["record_id"].strip()): r["entity_id"].strip()
            for r in csv.DictReader(fh)
        }
    tokens: dict[str, str] = {}
    for lookup in lookups:
        tokens.update(read_lookup(lookup))
    curve = true_curve(folder, truth, tokens, start=start)
    out["curve"] = [p.__dict__ for p in curve]
    out["source"] = f"{Path(truth_csv).name}, pairs.csv"
    return out
