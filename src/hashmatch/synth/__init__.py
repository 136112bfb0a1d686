"""Synthetic multi-party data with ground truth, for demos, tests and benchmarks.

``synthesize`` makes a population of people (``people.py``), gives each party its own
overlapping subset of them, lets every party's copy drift from the truth
(``corrupt.py``), writes each party's rows in its own columns and formats
(``parties.py``, ``formats.py``) and records which rows are the same person. The output
folder is what a real deployment has: one CSV and one mapping file per party, a shared
``schema.toml``, plus ``truth.csv`` (``party,record_id,entity_id``) and ``twins.csv``
(pairs of entity ids that look alike but must never be linked) for evaluation.
Everything is a pure function of the seed: no clock, no global random state.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

from hashmatch.errors import HashmatchError
from hashmatch.output_set import OutputSet
from hashmatch.synth.corrupt import CorruptionRates, CorruptionStats, Corruptor, Observed
from hashmatch.synth.parties import DEFAULT_PARTIES, PARTIES, SCHEMA_TOML, PartySpec
from hashmatch.synth.people import Person, make_population, name_bank

__all__ = [
    "DEFAULT_PARTIES",
    "PARTIES",
    "CorruptionRates",
    "CorruptionStats",
    "PartyFiles",
    "PlantedValue",
    "SynthResult",
    "synthesize",
]


@dataclass(frozen=True)
class PartyFiles:
    name: str
    csv: Path
    mapping: Path
    rows: int
    duplicates: int  # rows that repeat a person already in this party's file


@dataclass(frozen=True)
class PlantedValue:
    """A cell made missing or invalid on purpose (to check the normalisers' paths)."""

    party: str
    record_id: str
    column: str
    kind: str  # "missing" (blank or placeholder) | "invalid"


@dataclass(frozen=True)
class SynthResult:
    out_dir: Path
    schema: Path
    truth: Path
    twins_file: Path
    readme: Path
    parties: Mapping[str, PartyFiles]
    people: int  # people generated
    entities: int  # people on the books of at least one party
    twins: tuple[tuple[str, str], ...]  # twin pairs (entity ids) who both appear somewhere
    stats: CorruptionStats
    planted: tuple[PlantedValue, ...]


def synthesize(
    out_dir: str | os.PathLike[str],
    *,
    entities: int = 2000,
    seed: int = 0,
    parties: Sequence[str] = DEFAULT_PARTIES,
    rates: CorruptionRates | None = None,
    force: bool = False,
) -> SynthResult:
    """Generate a population, the parties' files and the ground truth into ``out_dir``.

    The files are written as one unit; existing ones are replaced only with ``force``.

    Parameters
    ----------
    out_dir
        Created if needed; files of the same names are overwritten.
    entities
        How many people to generate (those on no party's books do not appear).
    seed
        Same seed, same bytes. Streams are split per purpose and per party, so the
        people and a party's rows do not change when other parties are left out.
    parties
        Names from ``PARTIES`` (default: crm, callcentre, catalogue, partner).
    rates
        Corruption probabilities; ``CorruptionRates()`` by default.

    Raises
    ------
    HashmatchError
        ``entities`` below 1, an unknown or repeated party name, or an output folder
        that cannot be created.

    Example
    -------
    >>> import tempfile
    >>> r = synthesize(tempfile.mkdtemp(), entities=50, seed=1, parties=["crm", "partner"])
    >>> sorted(r.parties), r.truth.name
    (['crm', 'partner'], 'truth.csv')
    """
    specs = _check_arguments(entities, parties)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        msg = f"cannot create the output folder {out}: {exc.strerror}"
        raise HashmatchError(msg, hint="pass -o a folder path you can write to") from None
    names = [n for spec in specs for n in (f"{spec.name}.csv", f"{spec.name}.mapping.toml")]
    names += ["schema.toml", "truth.csv", "twins.csv", "README.txt"]
    # one unit: existing files are replaced only with force, and all at once
    with OutputSet([out / n for n in names], force=force) as stage:
        return _synthesize(out, stage.path, specs, entities, seed, rates)


def _synthesize(
    out: Path,
    at: Callable[[Path], Path],
    specs: list[PartySpec],
    entities: int,
    seed: int,
    rates: CorruptionRates | None,
) -> SynthResult:
    """Write every file to ``at(final path)``; the result names the final paths."""
    population = make_population(entities, Random(f"hashmatch-synth/{seed}/people"))
    corruptor = Corruptor(rates or CorruptionRates(), seed, name_bank(), population.people)
    files: dict[str, PartyFiles] = {}
    truth: list[tuple[str, str, str]] = []
    planted: list[PlantedValue] = []
    for spec in specs:
        rng = Random(f"hashmatch-synth/{seed}/party/{spec.name}")
        observed = _observe_party(spec, population.people, corruptor, rng)
        ids = spec.make_ids(len(observed), rng)
        rows = []
        for (person, obs), record_id in zip(observed, ids, strict=True):
            cells = spec.render(obs, rng)
            blanked = corruptor.noise_cells(cells, rng)
            planted += _planted(spec, record_id, obs, blanked)
            rows.append({spec.id_column: record_id, **cells})
            truth.append((spec.name, record_id, person.entity_id))
        csv_path, mapping_path = out / f"{spec.name}.csv", out / f"{spec.name}.mapping.toml"
        _write_csv(at(csv_path), spec.columns, ([row[c] for c in spec.columns] for row in rows))
        at(mapping_path).write_text(_mapping_toml(spec), encoding="utf-8")
        files[spec.name] = PartyFiles(
            spec.name,
            csv_path,
            mapping_path,
            len(rows),
            len(rows) - len({p.entity_id for p, _ in observed}),
        )
    seen = {entity for _, _, entity in truth}
    twins = tuple(pair for pair in population.twins if pair[0] in seen and pair[1] in seen)
    result = SynthResult(
        out_dir=out,
        schema=out / "schema.toml",
        truth=out / "truth.csv",
        twins_file=out / "twins.csv",
        readme=out / "README.txt",
        parties=files,
        people=len(population.people),
        entities=len(seen),
        twins=twins,
        stats=corruptor.stats,
        planted=tuple(planted),
    )
    at(result.schema).write_text(
        "# Linkage schema shared by the synthetic parties. Written by `hashmatch synth`.\n\n"
        + SCHEMA_TOML,
        encoding="utf-8",
    )
    _write_csv(at(result.truth), ("party", "record_id", "entity_id"), truth)
    _write_csv(at(result.twins_file), ("entity_id_a", "entity_id_b"), twins)
    at(result.readme).write_text(_readme(result, seed, specs, corruptor), encoding="utf-8")
    return result


def _check_arguments(entities: int, parties: Sequence[str]) -> list[PartySpec]:
    if entities < 1:
        msg = f"entities must be at least 1, got {entities}"
        raise HashmatchError(msg)
    unknown = [p for p in parties if p not in PARTIES]
    if unknown or not parties or len(set(parties)) != len(parties):
        msg = "parties must be distinct names among: " + ", ".join(PARTIES)
        raise HashmatchError(msg, hint="e.g. --parties crm,callcentre")
    return [PARTIES[p] for p in parties]


def _observe_party(
    spec: PartySpec, people: Iterable[Person], corruptor: Corruptor, rng: Random
) -> list[tuple[Person, Observed]]:
    """The party's members (and within-party duplicates), observed, in file order."""
    rates, fields = corruptor.rates, spec.fields
    out = []
    for person in people:
        if rng.random() >= spec.share:
            continue
        out.append((person, corruptor.observe(person, fields, rng, year_only=spec.year_only)))
        if corruptor.chance("duplicate", rates.duplicate, rng):
            out.append(
                (
                    person,
                    corruptor.observe(
                        person, fields, rng, year_only=spec.year_only, force_change=True
                    ),
                )
            )
    rng.shuffle(out)
    return out


def _planted(
    spec: PartySpec, record_id: str, obs: Observed, blanked: list[str]
) -> list[PlantedValue]:
    invalid = {spec.sources[f] for f in obs.invalid} - set(blanked)
    return [PlantedValue(spec.name, record_id, c, "missing") for c in blanked] + [
        PlantedValue(spec.name, record_id, c, "invalid") for c in sorted(invalid)
    ]


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _mapping_toml(spec: PartySpec) -> str:
    """The party's mapping file: top-level settings, then one inline table per field."""

    def value(v: Any) -> str:  # the mapping holds only strings and lists of strings
        return json.dumps(v) if isinstance(v, str) else "[" + ", ".join(map(json.dumps, v)) + "]"

    doc = spec.mapping
    lines = [
        f"# How party '{spec.name}' maps its columns onto schema.toml (synthetic data).",
        "# Written by `hashmatch synth`. Stays with the party: never sent to anyone.",
        "",
    ]
    lines += [f"{k} = {value(v)}" for k, v in doc.items() if k != "fields"]
    lines += ["", "[fields]"]
    for field_name, source in doc["fields"].items():
        inner = ", ".join(f"{k} = {value(v)}" for k, v in source.items())
        lines.append(f"{field_name} = {{ {inner} }}")
    return "\n".join(lines) + "\n"


def _readme(
    result: SynthResult, seed: int, specs: Sequence[PartySpec], corruptor: Corruptor
) -> str:
    lines = [
        "SYNTHETIC DATA made by `hashmatch synth` (seed "
        f"{seed}, {result.people} people generated, {result.entities} on some party's "
        "books).",
        "No row describes a real person. Phone numbers use the fictional 555-01XX range "
        "while it lasts;",
        "e-mail addresses are generated at common providers and any match with a real "
        "mailbox is coincidence.",
        "",
        "Files",
        "  schema.toml            the linkage schema all parties share",
        "  <party>.csv            each party's records, in its own columns and formats",
        "  <party>.mapping.toml   how that party's columns map onto the schema",
        "  truth.csv              party,record_id,entity_id: which records are the same person",
        f"  twins.csv              {len(result.twins)} pairs of twins (same surname, date "
        "of birth and address):",
        "                         different people, who must NOT be linked",
        "",
        "Parties",
    ]
    for spec in specs:
        f = result.parties[spec.name]
        lines += [
            f"  {spec.name}: {f.rows} rows ({f.duplicates} within-party duplicates), "
            f"~{spec.share:.0%} of the people",
            f"    columns: {', '.join(spec.columns)}",
            f"    {spec.description}",
        ]
    stats = corruptor.stats
    lines += ["", "Corruptions (applied / eligible; records, or cells for missing/case/whitespace)"]
    for kind in sorted(stats.eligible):
        lines.append(
            f"  {kind:<13} {stats.applied[kind]:>7} / {stats.eligible[kind]:<7} "
            f"({stats.rate(kind):.1%})"
        )
    return "\n".join(lines) + "\n"
