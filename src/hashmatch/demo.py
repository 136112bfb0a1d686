"""The end-to-end demo behind ``hashmatch demo``: three departments and a partner, two months.

It plays every role in one folder, in the order a real deployment would:

1. ``synth`` makes four parties' customer files (each with its own columns and formats,
   realistic errors, twins who must not match) and the ground truth; ``split_months``
   turns them into two monthly snapshots (month 2: new customers, changed records,
   removed ones);
2. month 1: each party encodes its own file with its own mapping and row key; only the
   ``.hme`` files go to the coordinator, which links them without the secret into a new
   entity registry (``link --registry``, embedded SQLite): every entity gets an id;
3. month 2: the parties encode their new snapshots and the registry applies only the
   differences; the demo counts the ids that survived, were created or retired, and checks
   the survivors against the truth;
4. a caller is recognised on the spot: one record, encoded party-side, matched against the
   registry by the lookup service's own matching code
   (:class:`~hashmatch.service.index.RegistryIndex`, in this process: starting
   ``hashmatch serve`` costs more than the whole lookup, see :data:`CALLER_PATH`);
5. the truth scores month 2 (twins included, and which of them ``relationships.csv`` lists
   as look-alikes) and ``report.html`` is written to be opened.

The folder is ``keep`` or a new temporary folder that is *kept* (its path is printed, so
the report can be opened). The story is told through ``say`` so the CLI can print it and
tests can capture it.
"""

from __future__ import annotations

import csv
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

from hashmatch.encode import LinkageSecret, encode_file, encode_records
from hashmatch.errors import OutputError
from hashmatch.evaluate import EvaluationReport, evaluate
from hashmatch.lookup import read_lookup
from hashmatch.registry import RunResult, update_and_write
from hashmatch.registry.store import open_store
from hashmatch.synth import synthesize
from hashmatch.synth.corrupt import typo
from hashmatch.synth.months import split_months

Say = Callable[[str], None]

#: How the caller's record reaches the registry, as the demo says it. The lookup service
#: (FastAPI on uvicorn) takes seconds to import and start on a small machine, more than
#: the whole lookup story, so the demo calls the code ``POST /v1/match`` runs.
CALLER_PATH = "in this process"
#: The party a caller rings, and the party whose record of them the agent types again.
CALLER_PARTY, CALLER_SOURCE = "callcentre", "crm"
MONTHS = ("month1", "month2")


@dataclass
class DemoResult:
    """Figures from one demo run (for tests and notebooks)."""

    folder: Path
    rows: dict[str, int]  # party -> rows of its month-2 file
    rejected: dict[str, int]
    entities: int  # month 2
    evaluation: EvaluationReport  # month 2 against the truth
    twin_pairs: int
    twins_kept_apart: int
    twins_listed: int  # of the twins kept apart, the pairs relationships.csv lists
    lookalike_pairs: int  # rows of relationships.csv (twins, couples, parents, children)
    ids: dict[str, int]  # survived / new / retired entity ids, month 1 -> month 2
    unchanged_records: int  # present and unchanged in both months
    kept_id: int  # of them, records whose entity id is the same in month 2
    survivors_same_person: int  # surviving ids still naming the same true person
    caller_entity: str | None
    caller_expected: str
    caller_status: str
    report: Path
    timings: dict[str, float] = field(default_factory=dict)


def run_demo(
    *,
    entities: int = 3000,
    seed: int = 7,
    keep: Path | None = None,
    secret: LinkageSecret | None = None,
    say: Say = print,
    force: bool = False,
) -> DemoResult:
    """Run the whole story; files go to ``keep`` or to a new temporary folder (kept).

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
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        root = keep
    else:
        root = Path(tempfile.mkdtemp(prefix="hashmatch-demo-"))
    return _Story(root, seed=seed, say=say, force=force).run(entities, secret)


class _Story:
    def __init__(self, root: Path, *, seed: int, say: Say, force: bool) -> None:
        self.root, self.seed, self.say, self.force = root, seed, say, force
        self.timings: dict[str, float] = {}
        self.registry = root / "registry.db"

    def run(self, entities: int, secret: LinkageSecret | None) -> DemoResult:
        root, say = self.root, self.say
        clock = time.perf_counter()
        say(f"1. Four parties hold customer files (synthetic, {entities:,} people, seed "
            f"{self.seed}), a new snapshot each month.")
        data = synthesize(root / "parties", entities=entities, seed=self.seed, force=self.force)
        months = {c.party: c for c in split_months(root / "parties", root, seed=self.seed,
                                                   names=MONTHS)}
        for name in data.parties:
            c = months[name]
            say(f"   {name:<11} {c.month0:>6,} rows in month 1; month 2: {c.held_back:>3} new, "
                f"{c.changed:>2} changed, {c.removed:>2} gone")
        self.timings["synthesize"] = time.perf_counter() - clock
        secret_path = root / "linkage.secret"
        (secret or LinkageSecret.generate()).write(secret_path, force=self.force)
        for old in root.glob("registry.db*"):  # only reached with force: start afresh
            old.unlink()

        say("2. Month 1: each party encodes its file at home (one schema, one secret, its own "
            "row key).")
        size = self._encode("month1", data.parties, secret_path)
        say(f"   Only {len(data.parties)} encoding files ({size / 1e6:.1f} MB, no names, no ids) "
            "reach the coordinator, which links them")
        say(f"   into a new registry ({self.registry.name}, SQLite) without the secret:")
        first = self._link("month1")
        assert first.threshold is not None
        say(f"   {sum(p['added'] for p in first.parties.values()):,} records -> "
            f"{first.events['created']:,} entities, each with a persistent id "
            f"(threshold {first.threshold:.2f}, kept for later runs)")

        say("3. Month 2: the parties encode their new snapshots; the registry applies only "
            "the differences.")
        self._encode("month2", data.parties, secret_path)
        second = self._link("month2")
        did = Counter[str]()
        for counts in second.parties.values():
            did.update(counts)
        say(f"   {did['added']:,} added, {did['changed']:,} changed, {did['removed']:,} removed, "
            f"{did['unchanged']:,} untouched; {len(second.changes):,} id changes, each a "
            "journal event")
        survival = self._survival(data.truth)
        ids = survival.ids
        say(f"   entity ids: {ids['survived']:,} survived, {ids['new']:,} new, "
            f"{ids['retired']:,} retired")
        share = survival.kept / max(survival.unchanged, 1)
        say(f"   ids kept by {share:.2%} of the {survival.unchanged:,} records unchanged in "
            f"both months; {survival.same_person:,} of the")
        say(f"   {ids['survived']:,} surviving ids still name the same person (checked against "
            "the truth)")

        caller = self._caller(data.truth, secret_path)
        say(f"4. A caller rings the {CALLER_PARTY}, which has no file on them; the agent types "
            "their details")
        say(f"   (with a slip in the street), the {CALLER_PARTY} encodes them at home and asks "
            "the registry")
        say(f"   ({CALLER_PATH}: the code `hashmatch serve` runs for POST /v1/match):")
        verdict = "the id that the records of " + " and ".join(caller.known_to) + " carry" \
            if caller.entity == caller.expected else f"expected {caller.expected}"
        score = f", score {caller.score:.2f}" if caller.score is not None else ""
        address = f" (address similarity {caller.address:.2f})" \
            if caller.address is not None else ""
        say(f"   {caller.status} {caller.entity or '-'} in {caller.ms:.1f} ms{score}{address}:")
        say(f"   {verdict}")

        lookups = [root / "month2" / f"{name}.lookup" for name in data.parties]
        report = evaluate(root / "results-month2", data.truth, lookups)
        twins = twins_kept_apart(root / "results-month2", data.truth, data.twins_file,
                                  lookups)
        page = self._report(report, data.truth, lookups)
        say("5. Month 2 against the ground truth (which no party or coordinator had):")
        say(f"   precision {report.precision:.4f}, recall {report.recall:.4f}, "
            f"F1 {report.f1:.4f}; twins who must not match: {twins.kept} of {twins.pairs} "
            "pairs kept apart")
        say(f"   look-alikes kept apart (twins, couples, parents and children), listed never "
            f"merged: {twins.lookalikes:,} pairs")
        say(f"   in relationships.csv, {twins.listed} of the {twins.kept} twin pairs kept apart "
            "among them")
        t = self.timings
        say(f"   time: encode {t['encode month1'] + t['encode month2']:.1f} s (both months), "
            f"registry month 1 {t['link month1']:.1f} s, month 2 {t['link month2']:.1f} s")
        say(f"Open the report: {page}")
        say(f"(all files in {root})")
        rows = {c.party: c.month1 for c in months.values()}
        return DemoResult(
            folder=root, rows=rows, rejected=self.rejected, entities=survival.entities,
            evaluation=report,
            twin_pairs=twins.pairs, twins_kept_apart=twins.kept, twins_listed=twins.listed,
            lookalike_pairs=twins.lookalikes, ids=ids,
            unchanged_records=survival.unchanged, kept_id=survival.kept,
            survivors_same_person=survival.same_person, caller_entity=caller.entity,
            caller_expected=caller.expected, caller_status=caller.status, report=page,
            timings=self.timings)

    def _encode(self, month: str, parties: Mapping[str, object], secret: Path) -> int:
        """Each party encodes its file of ``month``; the bytes sent to the coordinator."""
        clock = time.perf_counter()
        folder = self.root / month
        outbox = folder / "to-coordinator"
        outbox.mkdir(exist_ok=True)
        self.rejected: dict[str, int] = {}
        for name in parties:
            summary = encode_file(
                folder / f"{name}.csv", schema=folder / "schema.toml", secret=secret,
                party=name, mapping=folder / f"{name}.mapping.toml", out=outbox / f"{name}.hme",
                lookup=folder / f"{name}.lookup", rejects=folder / f"{name}.rejects.csv",
                row_key=self.root / f"{name}.rowkey",  # the party's: same record, same token
                force=self.force)
            self.rejected[name] = summary.rejected
        self.timings[f"encode {month}"] = time.perf_counter() - clock
        return sum(p.stat().st_size for p in outbox.iterdir())

    def _link(self, month: str) -> RunResult:
        clock = time.perf_counter()
        files = sorted((self.root / month / "to-coordinator").glob("*.hme"))
        # dedup: each party's file also holds duplicates of its own customers
        result = update_and_write(self.registry, files, self.root / f"results-{month}",
                                  dedup=True, force=self.force)
        self.timings[f"link {month}"] = time.perf_counter() - clock
        return result

    def _survival(self, truth: Path) -> _Survival:
        """Entity ids month 1 -> month 2, and how the unchanged records fared."""
        person = _truth(truth)
        months = []
        for month in MONTHS:
            ids: dict[tuple[str, str], str] = {}  # (party, record id) -> entity id
            rows: dict[tuple[str, str], dict[str, str]] = {}
            for lookup in sorted((self.root / month).glob("*.lookup")):
                party = lookup.stem
                record_of = read_lookup(lookup)
                for token, eid in _entity_ids(self.root / f"results-{month}" / f"{party}.csv"):
                    if token in record_of:
                        ids[party, record_of[token]] = eid
                rows.update(_rows_by_id(self.root / month, party))
            months.append((ids, rows))
        (ids1, rows1), (ids2, rows2) = months
        unchanged = [k for k in ids1 if k in ids2 and rows1.get(k) == rows2.get(k)]
        kept = sum(ids1[k] == ids2[k] for k in unchanged)
        names1, names2 = _majority(ids1, person), _majority(ids2, person)
        survived = names1.keys() & names2.keys()
        same = sum(names1[e] == names2[e] for e in survived)
        return _Survival({"survived": len(survived), "new": len(names2.keys() - names1.keys()),
                          "retired": len(names1.keys() - names2.keys())},
                         len(unchanged), kept, same, len(set(ids2.values())))

    def _caller(self, truth: Path, secret: Path) -> _Caller:
        """A person the registry knows from other parties calls ``CALLER_PARTY``."""
        from hashmatch.service.index import RegistryIndex

        folder = self.root / "month2"
        person = _truth(truth)
        where: dict[str, list[tuple[str, str]]] = {}  # person -> [(party, entity id)]
        for lookup in sorted(folder.glob("*.lookup")):
            record_of = read_lookup(lookup)
            for token, eid in _entity_ids(self.root / "results-month2" / f"{lookup.stem}.csv"):
                who = person.get((lookup.stem, record_of.get(token, "")))
                if who is not None:
                    where.setdefault(who, []).append((lookup.stem, eid))
        source = _rows_by_id(folder, CALLER_SOURCE)
        chosen = None
        for (party, rid), row in sorted(source.items()):
            held = where.get(person.get((party, rid), ""), [])
            parties = sorted({p for p, _ in held})
            if (len({e for _, e in held}) == 1 and CALLER_PARTY not in parties
                    and len(parties) >= 2):
                chosen, expected, known_to = row, held[0][1], parties
                break
        if chosen is None:  # pragma: no cover - synth always has such people
            msg = "the demo found no caller to recognise"
            raise AssertionError(msg)
        mapping_path = folder / f"{CALLER_SOURCE}.mapping.toml"
        mapping = tomllib.loads(mapping_path.read_text())
        street = (mapping["fields"].get("address") or {}).get("column")
        said = dict(chosen)
        if street and said.get(street):
            said[street] = typo(said[street], Random(self.seed))
        # the caller's own details, typed by the agent: a one-row batch with a fresh row key
        batch = encode_records([said], schema=folder / "schema.toml", secret=secret,
                               party=CALLER_PARTY, mapping=mapping_path)
        with open_store(self.registry) as store:
            index = RegistryIndex.load(store)
        index.match(batch, CALLER_PARTY)  # warm up (first-call set-up), as a running service is
        clock = time.perf_counter()
        answer = index.match(batch, CALLER_PARTY)[0]
        ms = 1000 * (time.perf_counter() - clock)
        address = dict(answer.fields).get("address")
        return _Caller(answer.entity_id, expected, answer.status, answer.score, address, ms,
                       known_to)

    def _report(self, report: EvaluationReport, truth: Path, lookups: list[Path]) -> Path:
        from hashmatch.evaluation_curve import evaluation_for_report
        from hashmatch.report import write_report

        results = self.root / "results-month2"
        evaluation = evaluation_for_report(results, report.precision, report.recall, report.f1,
                                           truth, lookups)
        return write_report(results, evaluation=evaluation)


@dataclass(frozen=True)
class _Survival:
    ids: dict[str, int]
    unchanged: int
    kept: int
    same_person: int
    entities: int  # in month 2


@dataclass(frozen=True)
class _Caller:
    entity: str | None
    expected: str
    status: str
    score: float | None
    address: float | None  # the address field's similarity to the registry's record
    ms: float
    known_to: list[str]


def _truth(path: Path) -> dict[tuple[str, str], str]:
    """(party, record id) -> true person."""
    with path.open(newline="") as fh:
        return {(r["party"], r["record_id"]): r["entity_id"] for r in csv.DictReader(fh)}


def _entity_ids(path: Path) -> list[tuple[str, str]]:
    """(row token, entity id) of a party's results file."""
    with path.open(newline="") as fh:
        return [(r["row_token"], r["entity_id"]) for r in csv.DictReader(fh)]


def _rows_by_id(folder: Path, party: str) -> dict[tuple[str, str], dict[str, str]]:
    """A party's month file by (party, record id), each row as a dict."""
    column = tomllib.loads((folder / f"{party}.mapping.toml").read_text())["record_id"]
    with (folder / f"{party}.csv").open(newline="") as fh:
        return {(party, r[column]): r for r in csv.DictReader(fh)}


def _majority(ids: dict[tuple[str, str], str], person: dict[tuple[str, str], str]
              ) -> dict[str, str]:
    """Entity id -> the true person most of its records belong to (ties: smallest)."""
    votes: dict[str, Counter[str]] = {}
    for key, eid in ids.items():
        if key in person:
            votes.setdefault(eid, Counter())[person[key]] += 1
    return {e: min(c, key=lambda p: (-c[p], p)) for e, c in votes.items()}


@dataclass(frozen=True)
class TwinCount:
    pairs: int  # twin pairs both of whom some party holds
    kept: int  # of them, pairs whose records ended in disjoint predicted entities
    listed: int  # of those, pairs relationships.csv lists (an entity of each twin)
    lookalikes: int  # rows of relationships.csv


def twins_kept_apart(results: Path, truth: Path, twins: Path, lookups: list[Path]
                      ) -> TwinCount:
    """Count twin pairs kept apart, and those of them a link's relationships.csv lists
    as look-alikes (none when the folder has no such file)."""
    record_entity: dict[str, str] = {}  # row token -> predicted entity
    with open(results / "entities.csv", newline="") as fh:
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
    related: set[frozenset[str]] = set()
    if (results / "relationships.csv").is_file():
        with open(results / "relationships.csv", newline="") as fh:
            related = {frozenset((r["entity_a"], r["entity_b"])) for r in csv.DictReader(fh)}
    kept = total = listed = 0
    with open(twins, newline="") as fh:
        for row in csv.DictReader(fh):
            a, b = by_truth.get(row["entity_id_a"]), by_truth.get(row["entity_id_b"])
            if a and b:
                total += 1
                if not a & b:
                    kept += 1
                    listed += any(frozenset((x, y)) in related for x in a for y in b)
    return TwinCount(total, kept, listed, len(related))
