"""Look-alike entities a link lists (``relationships.csv``) against the truth.

Synthesises 4 parties (``hashmatch synth``: households, twins, duplicates), encodes them
with a fixed secret, links them (``--dedup``) and reads the results folder: how many
pairs of entities it lists as look-alikes, how many of the twin pairs it kept apart are
among them, how many listed pairs are one true person (a missed match, not a family),
and what the look-alike stage cost beside the whole link (report.json's timings).
``--source DIR`` takes a folder ``hashmatch synth`` wrote, with its parties encoded in
``DIR/enc`` (``PARTY.hme`` and ``PARTY.lookup``; any secret), instead.

    python benchmarks/lookalikes.py --entities 10000
    python benchmarks/lookalikes.py --source /work/data/s500k    # encoded in s500k/enc
    python benchmarks/lookalikes.py --quick                      # smoke test (seconds)

Figures of issue 12, item 4, are in benchmarks/README.md ("Look-alikes kept apart").
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from hashmatch.demo import twins_kept_apart
from hashmatch.encode import LinkageSecret, encode_file
from hashmatch.link import link_files
from hashmatch.synth import synthesize

PARTIES = ("crm", "callcentre", "catalogue", "partner")


def encoded(folder: Path, entities: int, seed: int) -> Path:
    """A synth folder with its parties encoded into ``enc/`` (fixed secret)."""
    data = synthesize(folder, entities=entities, seed=seed)
    (folder / "enc").mkdir()
    secret = folder / "linkage.secret"
    LinkageSecret(bytes(range(32))).write(secret)
    for name, files in data.parties.items():
        encode_file(files.csv, schema=data.schema, secret=secret, party=name,
                    mapping=files.mapping, out=folder / "enc" / f"{name}.hme",
                    lookup=folder / "enc" / f"{name}.lookup", workers=1)
    return folder


def measure(source: Path, out: Path) -> dict[str, Any]:
    parties = [p for p in PARTIES if (source / "enc" / f"{p}.hme").is_file()]
    started = time.perf_counter()
    link_files([source / "enc" / f"{p}.hme" for p in parties], out, dedup=True, force=True)
    seconds = time.perf_counter() - started
    lookups = [source / "enc" / f"{p}.lookup" for p in parties]
    twins = twins_kept_apart(out, source / "truth.csv", source / "twins.csv", lookups)
    people = _people_of_entities(out, source / "truth.csv", lookups)
    with open(out / "relationships.csv", newline="", encoding="utf-8") as fh:
        listed = [(r["entity_a"], r["entity_b"]) for r in csv.DictReader(fh)]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    return {
        "records": sum(p["rows"] for p in report["inputs"]),
        "pairs": len(listed),
        "twin_pairs": twins.pairs,
        "twins_kept_apart": twins.kept,
        "twins_listed": twins.listed,
        "one_person": sum(bool(people[a] & people[b]) for a, b in listed),
        "stage_s": report["timings_seconds"].get("relationships"),
        "link_s": round(seconds, 2),
    }


def _people_of_entities(out: Path, truth: Path, lookups: list[Path]) -> dict[str, set[str]]:
    """Each linked entity's true people."""
    record_of: dict[tuple[str, str], str] = {}
    for lookup in lookups:
        with open(lookup, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                record_of[lookup.stem, row["row_token"]] = row["record_id"]
    with open(truth, newline="", encoding="utf-8") as fh:
        person = {(r["party"], r["record_id"]): r["entity_id"] for r in csv.DictReader(fh)}
    people: dict[str, set[str]] = {}
    with open(out / "entities.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            record = record_of[row["party"], row["row_token"]]
            people.setdefault(row["entity_id"], set()).add(person[row["party"], record])
    return people


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=10_000, help="synth people")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--source", type=Path, help="a synth folder with enc/ (see above)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = opts.source or encoded(work / "synth", 600 if opts.quick else opts.entities,
                                        opts.seed)
        row = measure(source, work / "results")
    print(f"{row['records']:,} records: {row['pairs']:,} look-alike pairs of entities; "
          f"twin pairs kept apart {row['twins_kept_apart']} of {row['twin_pairs']}, listed "
          f"{row['twins_listed']}; pairs of one true person {row['one_person']}; "
          f"stage {row['stage_s']} s of a {row['link_s']} s link")
    if opts.json:
        opts.json.write_text(json.dumps(row) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
