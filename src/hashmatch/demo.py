"""The end-to-end demo behind ``hashmatch demo``: three departments and a partner.

It plays every role in one temporary folder, in the order a real deployment would:

1. ``synth`` makes four parties' customer files (each with its own columns and formats,
   realistic errors, twins who must not match) and the ground truth;
2. the parties agree on one schema and one secret (``keygen``), and each one encodes its
   own file with its own mapping; only the ``.hme`` files go to the coordinator;
3. the coordinator links the four files without the secret (``link --dedup``: the
   synthetic files hold within-party duplicates, and the truth counts them);
4. one party rejoins its own ids (``reveal``), and the truth scores the result
   (``evaluate``), including whether the twins were kept apart.

The story is told through ``say`` so the CLI can print it and tests can capture it.
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.errors import OutputError
from hashmatch.evaluate import EvaluationReport, evaluate
from hashmatch.link import link_files, within_party_threshold
from hashmatch.reveal import reveal
from hashmatch.synth import synthesize

Say = Callable[[str], None]


@dataclass
class DemoResult:
    """Figures from one demo run (for tests and notebooks)."""

    folder: Path
    rows: dict[str, int]
    rejected: dict[str, int]
    entities: int
    evaluation: EvaluationReport
    twin_pairs: int
    twins_kept_apart: int
    timings: dict[str, float] = field(default_factory=dict)


@contextmanager
def _folder(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
    else:
        with tempfile.TemporaryDirectory(prefix="hashmatch-demo-") as tmp:
            yield Path(tmp)


def run_demo(
    *,
    entities: int = 3000,
    seed: int = 7,
    keep: Path | None = None,
    secret: LinkageSecret | None = None,
    say: Say = print,
    force: bool = False,
) -> DemoResult:
    """Run the whole story; files go to ``keep`` or to a temporary folder removed after.

    The linkage secret is fresh unless ``secret`` is given (tests pin one: the scores, and
    so the figures, depend slightly on which bits the keyed hashes choose). Files of an
    earlier demo in ``keep`` are replaced only with ``force``: without it, a ``keep``
    folder that is not empty is refused before anything is printed or written.
    """
    if keep is not None and not force and keep.is_dir() and any(keep.iterdir()):
        raise OutputError(
            f"{keep} is not empty (an earlier demo?); nothing was written",
            hint="pass --force to replace the demo's files in it, or choose another folder",
        )
    with _folder(keep) as root:
        return _run(root, entities=entities, seed=seed, secret=secret, say=say, force=force)


def _run(
    root: Path,
    *,
    entities: int,
    seed: int,
    secret: LinkageSecret | None,
    say: Say,
    force: bool,
) -> DemoResult:
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    say(f"1. Four parties hold customer files (synthetic, {entities:,} people, seed {seed}).")
    data = synthesize(root / "parties", entities=entities, seed=seed, force=force)
    for name, files in data.parties.items():
        say(f"   {name:<11} {files.rows:>6,} rows  ({files.csv.name}, its own columns)")
    timings["synthesize"] = time.perf_counter() - clock

    say("2. They agree on one schema and one secret; each encodes its own file locally.")
    secret_path = root / "linkage.secret"
    (secret or LinkageSecret.generate()).write(secret_path, force=force)
    outbox = root / "to-coordinator"
    outbox.mkdir(exist_ok=force)
    rows: dict[str, int] = {}
    rejected: dict[str, int] = {}
    lookups: list[Path] = []
    clock = time.perf_counter()
    for name, files in data.parties.items():
        summary = encode_file(
            files.csv,
            schema=data.schema,
            secret=secret_path,
            party=name,
            mapping=files.mapping,
            out=outbox / f"{name}.hme",
            lookup=root / f"{name}.lookup",
            rejects=root / f"{name}.rejects.csv",
            force=force,
        )
        rows[name], rejected[name] = summary.read, summary.rejected
        lookups.append(root / f"{name}.lookup")
        say(
            f"   {name:<11} encoded {summary.encoded:>6,}, rejected {summary.rejected:>3} "
            f"(reasons in its private rejects report)"
        )
    timings["encode"] = time.perf_counter() - clock
    size = sum(p.stat().st_size for p in outbox.iterdir())
    say(
        f"   Only {len(lookups)} encoding files ({size / 1e6:.1f} MB, no names, no ids) "
        "leave the silos; the secret and the lookups stay home."
    )

    say(
        "3. The coordinator links the files without the secret, with dedup: each party's "
        "file also holds duplicates of its own customers."
    )
    clock = time.perf_counter()
    result = link_files(sorted(outbox.glob("*.hme")), root / "results", dedup=True, force=force)
    timings["link"] = time.perf_counter() - clock
    candidates = sum(s.candidates for s in result.pair_stats)
    grid = sum(s.blocking.full_grid for s in result.pair_stats if s.blocking is not None)
    if grid:
        say(
            f"   blocking kept {candidates:,} of {grid:,} possible pairs "
            f"(reduction {1 - candidates / grid:.4%})"
        )
    say(f"   threshold {result.threshold.value:.3f}: {result.threshold.explanation}")
    within = within_party_threshold(result.threshold.value)
    say(
        f"   within one party, pairs must reach {within:.3f} (households and namesakes are "
        "closer there, and nothing keeps it one-to-one)"
    )
    stats = result.entity_stats
    say(
        f"   {sum(rows.values()) - sum(rejected.values()):,} records -> {result.n_entities:,} "
        f"entities; merges refused: {stats.refused_same_party} (same party), "
        f"{stats.refused_conflict} (conflicting evidence)"
    )

    say("4. Each party learns only its own records' entity ids.")
    first = next(iter(data.parties))
    revealed = reveal(
        root / "results" / f"{first}.csv",
        root / f"{first}.lookup",
        root / f"{first}-entities.csv",  # the party's own ids with their entity ids
        force=force,
    )
    say(
        f"   {first} rejoined {revealed.rows:,} of its own ids; the coordinator found "
        f"{_linked_elsewhere(result.entities, 0):,} of them in another party's files "
        "(the party itself learns which only with --share-party-names)"
    )

    report = evaluate(root / "results", data.truth, lookups)
    kept_apart, twin_pairs = _twins_kept_apart(root, data.truth, data.twins_file, lookups)
    say("5. Against the ground truth (which no party or coordinator had):")
    say(f"   precision {report.precision:.4f}")
    say(f"   recall    {report.recall:.4f}")
    say(f"   F1        {report.f1:.4f}")
    say(f"   twins who must not match: {kept_apart} of {twin_pairs} pairs kept apart")
    say(f"   time: encode {timings['encode']:.1f} s for all parties, link {timings['link']:.1f} s")
    return DemoResult(
        folder=root,
        rows=rows,
        rejected=rejected,
        entities=result.n_entities,
        evaluation=report,
        twin_pairs=twin_pairs,
        twins_kept_apart=kept_apart,
        timings=timings,
    )


def _linked_elsewhere(entities: Sequence[npt.NDArray[np.int64]], party: int) -> int:
    """Rows of ``party`` whose entity also holds a row of another party."""
    others = [e for p, e in enumerate(entities) if p != party]
    if not others:
        return 0
    return int(np.isin(entities[party], np.concatenate(others)).sum())


def _twins_kept_apart(root: Path, truth: Path, twins: Path, lookups: list[Path]) -> tuple[int, int]:
    """Count twin pairs whose records ended in disjoint predicted entities."""
    record_entity: dict[str, str] = {}  # row token -> predicted entity
    with open(root / "results" / "entities.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            record_entity[row["row_token"]] = row["entity_id"]
    predicted: dict[tuple[str, str], str] = {}  # (party, record id) -> predicted entity
    for lookup in lookups:
        party = lookup.stem
        with open(lookup, newline="") as fh:
            for row in csv.DictReader(fh):
                if row["row_token"] in record_entity:
                    predicted[party, row["record_id"]] = record_entity[row["row_token"]]
    by_truth: dict[str, set[str]] = {}
    with open(truth, newline="") as fh:
        for row in csv.DictReader(fh):
            entity = predicted.get((row["party"], row["record_id"]))
            if entity is not None:
                by_truth.setdefault(row["entity_id"], set()).add(entity)
    kept = total = 0
    with open(twins, newline="") as fh:
        for row in csv.DictReader(fh):
            a, b = by_truth.get(row["entity_id_a"]), by_truth.get(row["entity_id_b"])
            if a and b:
                total += 1
                kept += not (a & b)
    return kept, total
