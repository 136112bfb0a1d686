"""One registry run: parties' snapshots (or deltas) in, persistent entities and a journal out.

:func:`update` is the only writer. In one transaction (so a crash or kill at any point
leaves the registry as it was, and a second run waits for the first):

1. **diff** each input against the party's stored records by row token and encoding
   digest, as arrays (the registry's index segments, :mod:`~hashmatch.registry.index`,
   read as a few blobs; a sorted token index, no per-row Python): *added* (token not
   stored), *changed* (digest differs), *removed* (stored but missing from a full
   snapshot, or listed in a delta's removals), *unchanged*. Parties not given keep their
   records. Nothing changed: the run ends here, writing no event.
2. **forget** what removed and changed records contributed: their edges (kept, as
   the scope's walk asks which neighbours they were among the best of), deleted in bulk.
3. **block and score** only the added and changed records: their keys
   (:mod:`~hashmatch.registry.candidates`) searched for in the stored keys of every
   other record (sorted in the index segments read in step 1), then the link scorer on those
   candidates. Partners are read from the snapshots given (memory-mapped: an unchanged
   record's encoding is the stored one) and, for parties not given, from the database.
   Pairs at or above the cut become edges. The first run of a registry takes the same
   path with every record new; it fixes the LSH plan and, unless given, picks the
   threshold from these scores.
4. **re-cluster the scope**: the records the run's changes can reach over the edges a
   batch link can keep and current entities (:mod:`~hashmatch.registry.scope`), as a
   batch link would (:mod:`~hashmatch.registry.clustering`).
5. **ids**: the scope's clusters carry on earlier entities by the id rules
   (:mod:`~hashmatch.registry.ids`); records, entities and the journal are written,
   and one index segment per changed party is appended (written with step 3).

Work is proportional to the changed records, their candidates and their scope, plus a
few vectorised passes over every record's token and digest (reading the index blobs,
the snapshots' digests, the diff). ``fault(stage)`` is called
between stages (``diffed``, ``forgotten``, ``scored``, ``clustered``, ``written``) for
tests that crash a run on purpose.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch.encfile import EncodingFile
from hashmatch.errors import RegistryError
from hashmatch.link.blocking import BlockingConfig
from hashmatch.link.compat import check_compatible
from hashmatch.link.inputs import file_info
from hashmatch.link.pipeline import (
    SCORE_POOL_CAP,
    keep_floor,
    score_histogram,
    within_party_threshold,
)
from hashmatch.link.result import PartyInfo
from hashmatch.link.threshold import ThresholdChoice, choose_threshold, own_valley
from hashmatch.registry import candidates as cand
from hashmatch.registry.arrays import distinct, ids_among, ids_outside
from hashmatch.registry.clustering import cluster_scope, scorer_for
from hashmatch.registry.ids import EntityInfo, assign_ids
from hashmatch.registry.index import RecordIndex, Segment
from hashmatch.registry.journal import Event, write_events
from hashmatch.registry.lookalikes import forget_lookalikes, store_lookalikes
from hashmatch.registry.migrations import upgrade
from hashmatch.registry.records import Layout, Locator, RecordSet, SnapshotRows, TokenIndex
from hashmatch.registry.scope import Changes, RecordTable, scope_of
from hashmatch.registry.state import RegistryState
from hashmatch.registry.store import Store, open_store

__all__ = ["DEFAULT_WAIT", "Change", "RunResult", "update"]

PathLike = str | os.PathLike[str]
#: Seconds a run waits for another run on the same registry before giving up.
DEFAULT_WAIT = 60.0
Fault = Callable[[str], None]


@dataclass(frozen=True)
class Change:
    """A record whose entity id changed in a run (``previous``/``new`` None: none)."""

    party: str
    row_token: bytes
    previous: str | None
    new: str | None
    event: str  # record_added | record_removed | record_moved | merged | split


@dataclass
class RunResult:
    """What a run did (counts, never a value); ``changes`` lists the id changes."""

    run: int
    registry: str
    parties: dict[str, dict[str, int]]  # party -> added/changed/removed/unchanged
    events: Counter[str] = field(default_factory=Counter)
    changes: list[Change] = field(default_factory=list)
    candidates: int = 0
    edges_added: int = 0
    lookalikes: int = 0  # look-alike record pairs found this run (registry/lookalikes.py)
    scope: int = 0
    skipped_keys: int = 0
    threshold: float | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def changes_of(self, party: str) -> list[Change]:
        return [c for c in self.changes if c.party == party]

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run, "registry": self.registry, "parties": self.parties,
                "events": dict(sorted(self.events.items())), "id_changes": len(self.changes),
                "candidates": self.candidates, "edges_added": self.edges_added,
                "lookalikes_found": self.lookalikes,
                "scope_records": self.scope, "skipped_keys": self.skipped_keys,
                "threshold": self.threshold,
                "timings_seconds": {k: round(v, 4) for k, v in self.timings.items()}}


def update(
    registry: PathLike | Store,
    files: Sequence[PathLike | EncodingFile],
    *,
    delta: bool = False,
    removed: Mapping[str, Sequence[bytes]] | None = None,
    threshold: float | None = None,
    dedup: bool = False,
    blocking: BlockingConfig | None = None,
    wait: float = DEFAULT_WAIT,
    fault: Fault | None = None,
) -> RunResult:
    """Bring the registry up to date with the parties' encoding files; one transaction.

    Parameters
    ----------
    registry:
        A SQLite file (created on first use) or a ``postgresql://`` URL, or an open
        :class:`~hashmatch.registry.store.Store`.
    files:
        One ``.hme`` file per party (paths or open files): each is that party's *full
        current snapshot*, unless ``delta``.
    delta:
        The files hold only added and changed records; ``removed`` lists, per party, the
        row tokens (16 bytes each) of records to remove.
    threshold, dedup, blocking:
        Linkage rules of a new registry (threshold chosen from the first run's scores when
        None); a later run must not ask for others (they are fixed).
    wait:
        Seconds to wait for another run on the same registry before
        :class:`~hashmatch.errors.RegistryBusyError`.
    fault:
        Called with each stage's name between stages (tests).

    Raises
    ------
    RegistryError
        A foreign or newer registry, files of another schema or secret than the
        registry's, rules that differ from the registry's, a snapshot with a repeated row
        token, or a snapshot sharing no row token with the party's stored records.
    """
    with ExitStack() as stack:
        store = registry if isinstance(registry, Store) else stack.enter_context(
            open_store(registry, create=True))
        opened = [f if isinstance(f, EncodingFile) else stack.enter_context(EncodingFile.open(f))
                  for f in files]
        with store.run_transaction(wait):
            run = _Run(store, opened, fault or (lambda stage: None))
            return run.execute(delta=delta, removed=removed or {}, threshold=threshold,
                               dedup=dedup, blocking=blocking)
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class _PartyDiff:
    party: str
    party_id: int
    snapshot: SnapshotRows | None
    digests: npt.NDArray[np.uint8]  # uint8[rows, 16]: of every snapshot row
    added: npt.NDArray[np.int64]  # snapshot rows
    changed: npt.NDArray[np.int64]  # snapshot rows
    changed_rids: npt.NDArray[np.int64]
    removed_rids: npt.NDArray[np.int64]
    unchanged: int
    #: unchanged stored records found in the snapshot: rids (ascending), snapshot rows
    kept_rids: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    kept_rows: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))


class _Run:
    def __init__(self, store: Store, files: Sequence[EncodingFile], fault: Fault) -> None:
        self.store = store
        self.files = files
        self.fault = fault
        self.now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.timings: dict[str, float] = {}
        self._t = time.perf_counter()

    def _lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = now - self._t
        self._t = now
        self.fault(name)

    # -- the run --------------------------------------------------------------------

    def execute(self, *, delta: bool, removed: Mapping[str, Sequence[bytes]],
                threshold: float | None, dedup: bool, blocking: BlockingConfig | None
                ) -> RunResult:
        store = self.store
        upgrade(store)
        state = RegistryState.load(store)
        fresh = state.layout is None
        self._check_inputs(state, threshold, dedup)
        if fresh:
            state.layout = Layout.of_file(self.files[0])
            state.dedup = dedup
        assert state.layout is not None
        layout = state.layout
        self.state, self.layout = state, layout
        self.run = state.take("next_run")
        party_ids = self._party_ids()
        self._stored_index()  # read once, before the parties' diffs share it
        # one party per core: the diff's digests, sorts and searches release the GIL
        with ThreadPoolExecutor(min(len(self.files), os.cpu_count() or 1) or 1) as workers:
            diffs = list(workers.map(lambda f: self._diff(f, party_ids[f.header.party], delta),
                                  self.files))
        self._removals(diffs, removed, party_ids, delta)
        self.diffs = diffs
        result = RunResult(self.run, store.url, {
            d.party: {"added": len(d.added), "changed": len(d.changed),
                      "removed": len(d.removed_rids), "unchanged": d.unchanged}
            for d in diffs})
        self._lap("diffed")
        if not any(len(d.added) or len(d.changed) or len(d.removed_rids) for d in diffs):
            self._finish(state, result, "unchanged")
            return result

        gone = np.concatenate([d.removed_rids for d in diffs] + [d.changed_rids for d in diffs])
        index = self._stored_index()  # as read: the removed records still in it
        table = RecordTable.of({pid: index.records(pid)[:2] for pid in party_ids.values()})
        dropped = self._forget(gone)
        removed_entities = self._remove_records(np.concatenate([d.removed_rids for d in diffs]))
        self._lap("forgotten")

        dirty = self._dirty_sets(diffs, state)
        if state.plan is None:
            state.plan = cand.make_plan(list(dirty.values()), layout, blocking)
        pool, lo, hi, cut, score, skipped = self._score(dirty, state, threshold)
        result.candidates, result.skipped_keys = len(score), skipped
        given = state.threshold if state.threshold_method == "explicit" else None
        kept = score >= keep_floor(given)  # the candidates a batch link keeps
        result.lookalikes = store_lookalikes(store, layout, pool, lo[kept], hi[kept],
                                             self.scored_parties)
        rules = state.rules()
        edge = score >= cut
        lo, hi, score = lo[edge], hi[edge], score[edge]
        result.edges_added, result.threshold = len(score), state.threshold
        self._store_dirty(diffs, dirty, lo, hi, score)
        self._lap("scored")

        if fresh:
            scope_edges = (lo, hi, score)
            scope_sets = {p: s for p, s in dirty.items()}
        else:
            dirty_rids = np.concatenate([s.rids for s in dirty.values()]) if dirty else \
                np.zeros(0, np.int64)
            for party, rids in self.added_rids.items():
                table = table.with_records(party_ids[party], rids, dirty[party].row_tokens[
                    np.searchsorted(dirty[party].rids, rids)])
            changes = Changes(dirty_rids, np.array(sorted(removed_entities), np.int64),
                              (lo, hi, score), dropped, gone)
            scope_edges, scope_rids = scope_of(store, table, changes)
            scope_sets = self._load_sets(scope_rids, pool)
        parties = sorted(scope_sets)
        sets = [scope_sets[p] for p in parties]
        clusters = cluster_scope(parties, sets, *scope_edges, rules, best_only=not fresh)
        result.scope = sum(len(s.rids) for s in sets)
        self._lap("clustered")

        self._apply_ids(clusters, removed_entities, result)
        self._lap("written")
        self._finish(state, result, "update")
        return result

    # -- inputs and diff --------------------------------------------------------------

    def _check_inputs(self, state: RegistryState, threshold: float | None, dedup: bool) -> None:
        infos = [file_info(f) for f in self.files]
        if state.layout is not None:
            ref = state.layout
            infos.insert(0, PartyInfo(
                party="\0registry", source=f"the registry {self.store.url}", rows=0,
                digest="", schema_fingerprint=ref.schema_fingerprint,
                encoder_version=ref.encoder_version, clk_bits=ref.clk_bits,
                secret_commitment=ref.secret_commitment))
            if dedup != state.dedup:
                raise RegistryError(
                    f"{self.store.url} links {'with' if state.dedup else 'without'} dedup; "
                    "a registry's rules are fixed at its first run",
                    hint="drop --dedup or add it, as the first run did")
            if threshold is not None and threshold != state.threshold:
                raise RegistryError(
                    f"{self.store.url} links at threshold {state.threshold:.4f}; a registry's "
                    "rules are fixed at its first run",
                    hint="drop --threshold (or link into a new registry)")
        if infos:
            check_compatible(infos)
        if state.layout is not None:
            for f in self.files:
                h = f.header
                if (tuple(h.token_names), tuple(h.field_names)) != (
                        state.layout.token_names, state.layout.field_names):
                    raise RegistryError(f"{f.path}: its token or field layout differs from "
                                        f"the registry's")

    def _party_ids(self) -> dict[str, int]:
        known = {str(n): int(i) for i, n in self.store.query("SELECT party_id, name FROM parties")}
        for f in self.files:
            if f.header.party not in known:
                known[f.header.party] = len(known) + 1
                self.store.insert("parties", ["party_id", "name"],
                                  [(known[f.header.party], f.header.party)])
        return known

    def _diff(self, f: EncodingFile, party_id: int, delta: bool) -> _PartyDiff:
        snap = SnapshotRows(f, self.layout)
        tokens = np.asarray(f.row_tokens)
        index = TokenIndex(tokens)
        if repeated := index.repeats():
            raise RegistryError(
                f"{f.path}: {repeated} rows repeat another row's token "
                "(the party's record ids are not unique)",
                hint="give every record its own id in the record-id column before encoding")
        digests = snap.digests()
        rids, stored_tokens, stored_digests = self._stored(party_id)
        where = TokenIndex(stored_tokens).find(tokens)  # stored row of each snapshot row
        if len(rids) and len(tokens) and not delta and not (where >= 0).any():
            raise RegistryError(
                f"{f.path}: none of its {len(tokens):,} row tokens is among the "
                f"{len(rids):,} the registry holds for party {f.header.party!r}",
                hint="encode with the party's previous row key (encode --row-key), or this "
                "would replace every record of the party")
        known = np.flatnonzero(where >= 0)
        same = (stored_digests[where[known]].view("<u8") == digests[known].view("<u8")).all(1)
        changed = known[~same]
        kept = known[same]
        order = np.argsort(rids[where[kept]])
        present = np.zeros(len(rids), bool)
        present[where[known]] = True
        removed = np.zeros(0, np.int64) if delta else np.sort(rids[~present])
        return _PartyDiff(f.header.party, party_id, snap, digests,
                          np.flatnonzero(where < 0).astype(np.int64), changed.astype(np.int64),
                          rids[where[changed]], removed, len(kept),
                          rids[where[kept]][order], kept[order].astype(np.int64))

    def _stored(self, party_id: int
                ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8], npt.NDArray[np.uint8]]:
        """A party's stored records: rids, row tokens and digests (``uint8[n, 16]``)."""
        return self._stored_index().records(party_id)

    def _stored_index(self) -> RecordIndex:
        """Every party's index segments, read at the first call."""
        if getattr(self, "_index", None) is None:
            self._index = RecordIndex.load(self.store)
        return self._index

    def _removals(self, diffs: list[_PartyDiff], removed: Mapping[str, Sequence[bytes]],
                  party_ids: Mapping[str, int], delta: bool) -> None:
        """Add a delta's explicit removals to the parties' diffs (tokens the registry does
        not hold are ignored, so a delta can be applied twice)."""
        if removed and not delta:
            raise RegistryError("removed row tokens are for delta runs (--delta) only")
        by_party = {d.party: d for d in diffs}
        for party, tokens in removed.items():
            if party not in party_ids:
                raise RegistryError(f"no party {party!r} in the registry to remove records of")
            pid = party_ids[party]
            rids = set()
            for t in tokens:
                found = self.store.scalar(
                    "SELECT rid FROM records WHERE party_id = ? AND row_token = ?",
                    [pid, bytes(t)])
                if found is not None:
                    rids.add(int(found))
            d = by_party.get(party)
            if d is None:
                none = np.zeros(0, np.int64)
                d = by_party[party] = _PartyDiff(party, pid, None, np.zeros((0, 16), np.uint8),
                                                 none, none, none, none,
                                                 len(self._stored(pid)[0]))
                diffs.append(d)
            rids -= set(d.changed_rids.tolist())  # changed and removed at once: removed
            keep = ~np.isin(d.changed_rids, list(rids))
            d.changed, d.changed_rids = d.changed[keep], d.changed_rids[keep]
            d.removed_rids = np.array(sorted(rids | set(d.removed_rids.tolist())), np.int64)

    # -- forgetting -------------------------------------------------------------------

    def _forget(self, rids: npt.NDArray[np.int64]
                ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        """Drop the edges and look-alike pairs of ``rids`` (removed, or changed: their old
        encodings; their keys go with the record row); returns the edges dropped."""
        none = np.zeros(0, np.int64)
        if not len(rids):
            return none, none, np.zeros(0, np.float32)
        store = self.store
        store.load_ids(rids.tolist())
        edges = np.array(store.query(_EDGES_OF.format(columns="lo, hi, score")),
                         np.float64).reshape(-1, 3)
        store.execute("DELETE FROM edges WHERE lo IN (SELECT id FROM tmp_ids)")
        store.execute("DELETE FROM edges WHERE hi IN (SELECT id FROM tmp_ids)")
        forget_lookalikes(store)
        return (edges[:, 0].astype(np.int64), edges[:, 1].astype(np.int64),
                edges[:, 2].astype(np.float32))

    def _remove_records(self, rids: npt.NDArray[np.int64]) -> dict[int, list[tuple[str, bytes]]]:
        """Delete removed records; returns, per earlier entity, the records it lost."""
        lost: dict[int, list[tuple[str, bytes]]] = {}
        if not len(rids):
            return lost
        store = self.store
        store.load_ids(rids.tolist())
        for entity, party, token in store.query(
                "SELECT r.entity, p.name, r.row_token FROM records r JOIN parties p "
                "ON p.party_id = r.party_id WHERE r.rid IN (SELECT id FROM tmp_ids) "
                "ORDER BY r.rid"):
            lost.setdefault(int(entity), []).append((str(party), bytes(token)))
        store.execute("DELETE FROM records WHERE rid IN (SELECT id FROM tmp_ids)")
        return lost

    # -- new and changed records --------------------------------------------------------

    def _dirty_sets(self, diffs: Sequence[_PartyDiff], state: RegistryState
                    ) -> dict[str, RecordSet]:
        """Added and changed rows of each party as record sets (new record numbers for
        added rows), in record-number order."""
        out: dict[str, RecordSet] = {}
        self.added_rids: dict[str, npt.NDArray[np.int64]] = {}
        for d in diffs:
            if d.snapshot is None or not (len(d.added) or len(d.changed)):
                continue
            first = state.take("next_record", len(d.added))
            new_rids = np.arange(first, first + len(d.added), dtype=np.int64)
            self.added_rids[d.party] = new_rids
            rows = np.concatenate([d.added, d.changed])
            rids = np.concatenate([new_rids, d.changed_rids])
            order = np.argsort(rids)
            out[d.party] = d.snapshot.record_set(rows[order], rids[order])
        return out

    def _score(self, dirty: Mapping[str, RecordSet], state: RegistryState,
               threshold: float | None
               ) -> tuple[dict[str, RecordSet], npt.NDArray[np.int64], npt.NDArray[np.int64],
                          npt.NDArray[np.float64], npt.NDArray[np.float32], int]:
        """Candidates ``(lo, hi)`` of the dirty records, the cut of each pair, their
        scores, and keys skipped; on a registry's first run, its threshold and cuts.
        Returns the rows loaded (dirty + partners) per party first."""
        assert state.plan is not None
        keyed = [cand.record_keys(s, state.plan) for s in dirty.values()]
        new_rids = np.concatenate([k[0] for k in keyed]) if keyed else np.zeros(0, np.int64)
        new_keys = np.concatenate([k[1] for k in keyed]) if keyed else np.zeros(0, np.int64)
        self.new_keys = (new_rids, new_keys)  # for the index segments
        gone = np.concatenate([np.concatenate([d.changed_rids, d.removed_rids])
                               for d in self.diffs] + [np.zeros(0, np.int64)])
        lo, hi, skipped = cand.partner_pairs(
            new_rids, new_keys,
            lambda wanted, most: self._stored_index().holders(wanted, gone, most))
        partners = ids_outside(np.concatenate([lo, hi]), new_rids)
        pool = dict(dirty)
        for party, rows in self._load_sets(partners, {}).items():
            pool[party] = RecordSet.concat(self.layout, [pool[party], rows]) \
                if party in pool else rows
        names = sorted(pool)
        where = Locator([pool[n] for n in names])
        (pa, ra), (pb, rb) = where(lo), where(hi)
        same = pa == pb
        if not state.dedup:
            cross = ~same
            lo, hi, same = lo[cross], hi[cross], same[cross]
            pa, ra, pb, rb = pa[cross], ra[cross], pb[cross], rb[cross]
        score = self._pair_scores([pool[n] for n in names], pa, ra, pb, rb)
        if state.threshold is None:
            self._choose(state, names, pa, pb, score, threshold)
        return pool, lo, hi, state.rules().cut_table(names)[pa, pb], score, skipped

    def _choose(self, state: RegistryState, names: Sequence[str],
                pa: npt.NDArray[np.int64], pb: npt.NDArray[np.int64],
                score: npt.NDArray[np.float32], threshold: float | None) -> None:
        """The registry's threshold and cuts, as a batch link of these records would
        choose them from the scores of its candidate pairs (sets ``pa`` x ``pb``)."""
        cross = len(names) > 1
        sample = score[pa != pb] if cross else score
        stride = max(1, -(-len(sample) // SCORE_POOL_CAP))
        if threshold is not None:
            choice = ThresholdChoice.explicit(float(threshold))
        else:
            choice = choose_threshold(np.ascontiguousarray(sample[::stride]),
                                      within_party=not cross)
        state.threshold, state.threshold_method = choice.value, choice.method
        state.within_cut = within_party_threshold(choice.value) \
            if threshold is None and cross else choice.value
        # a pair's scores in either order (pa, pb follow record numbers)
        first, second = np.minimum(pa, pb), np.maximum(pa, pb)
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                own = own_valley(choice, score_histogram(score[(first == a) & (second == b)]))
                if own is not None:
                    state.pair_cuts[(names[a], names[b])] = own.value

    def _pair_scores(self, sets: Sequence[RecordSet], pa: npt.NDArray[np.int64],
                     ra: npt.NDArray[np.int64], pb: npt.NDArray[np.int64],
                     rb: npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
        """Scores of the pairs (set ``pa``, row ``ra``) x (set ``pb``, row ``rb``)."""
        scorer = scorer_for(self.layout, sets)
        self.scored_parties = scorer.parties  # their views, kept for the look-alikes
        score = np.zeros(len(pa), np.float32)
        if not len(pa):
            return score
        pair = pa * len(sets) + pb
        order = np.argsort(pair, kind="stable")
        bounds = np.flatnonzero(np.r_[True, pair[order][1:] != pair[order][:-1], True])
        for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            sel = order[start:stop]
            a, b = divmod(int(pair[sel[0]]), len(sets))
            score[sel] = scorer(a, ra[sel], b, rb[sel])
        return score

    def _store_dirty(self, diffs: Sequence[_PartyDiff], dirty: Mapping[str, RecordSet],
                     lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64],
                     score: npt.NDArray[np.float32]) -> None:
        """Write the added records (entity -1 until assigned), the changed encodings, the
        index segment of each party's added, changed and removed records, and the new
        edges."""
        store = self.store
        rids, keys = self.new_keys
        for d in diffs:
            if len(d.added) or len(d.changed) or len(d.removed_rids):
                self._append_segment(d, rids, keys)
            if d.snapshot is None:
                continue
            if len(d.added):
                clk, tok, pres = d.snapshot.blobs(d.added)
                added = self.added_rids[d.party]
                row_tokens = d.snapshot.row_tokens(d.added)
                store.insert("records", ["rid", "party_id", "row_token", "clk", "tokens",
                                         "present", "entity", "added_run"],
                             zip(added.tolist(), [d.party_id] * len(d.added), row_tokens,
                                 clk, tok, pres, [-1] * len(d.added),
                                 [self.run] * len(d.added), strict=True))
            if len(d.changed):
                clk, tok, pres = d.snapshot.blobs(d.changed)
                store.conn.cursor().executemany(store.sql(
                    "UPDATE records SET clk = ?, tokens = ?, present = ? WHERE rid = ?"),
                    zip(clk, tok, pres, d.changed_rids.tolist(), strict=True))
        store.insert("edges", ["lo", "hi", "score"],
                     zip(lo.tolist(), hi.tolist(), score.astype(float).tolist(), strict=True))

    def _append_segment(self, d: _PartyDiff, key_rids: npt.NDArray[np.int64],
                        keys: npt.NDArray[np.int64]) -> None:
        """The party's index segment of this run: its added and changed records (with
        their keys), its changed and removed records dropped from earlier segments."""
        if d.snapshot is None:
            rows, rids = np.zeros(0, np.int64), np.zeros(0, np.int64)
        else:
            rows = np.concatenate([d.added, d.changed])
            rids = np.concatenate([self.added_rids.get(d.party, np.zeros(0, np.int64)),
                                   d.changed_rids])
        tokens = np.asarray(d.snapshot.file.row_tokens)[rows] if d.snapshot is not None \
            else np.zeros((0, 16), np.uint8)
        mine = ids_among(key_rids, rids)
        self._stored_index().append(self.store, d.party_id, Segment.build(
            rids, tokens, d.digests[rows], key_rids[mine], keys[mine],
            np.concatenate([d.changed_rids, d.removed_rids])))

    # -- the scope's records -----------------------------------------------------------

    def _load_sets(self, rids: npt.NDArray[np.int64], have: Mapping[str, RecordSet]
                   ) -> dict[str, RecordSet]:
        """Records ``rids`` per party (taken from ``have`` where there), in rid order."""
        out: dict[str, list[RecordSet]] = {}
        missing = distinct(np.asarray(rids, np.int64))
        for party, rows in have.items():
            take = np.flatnonzero(ids_among(rows.rids, missing))
            if len(take):
                out.setdefault(party, []).append(rows.take(take))
                missing = missing[~ids_among(missing, rows.rids[take])]
        for d in getattr(self, "diffs", ()):  # unchanged records of a snapshot: read there
            if d.snapshot is None or not len(missing) or not len(d.kept_rids):
                continue
            found = np.flatnonzero(ids_among(d.kept_rids, missing))
            if len(found):
                out.setdefault(d.party, []).append(
                    d.snapshot.record_set(d.kept_rows[found], d.kept_rids[found]))
                missing = missing[~ids_among(missing, d.kept_rids[found])]
        if len(missing):
            self.store.load_ids(missing.tolist())
            by_party: dict[str, list[tuple[Any, ...]]] = {}
            for row in self.store.query(
                    "SELECT p.name, r.rid, r.row_token, r.clk, r.tokens, r.present FROM records r "
                    "JOIN parties p ON p.party_id = r.party_id "
                    "WHERE r.rid IN (SELECT id FROM tmp_ids)"):
                by_party.setdefault(str(row[0]), []).append(row[1:])
            for party, rows_ in by_party.items():
                cols = list(zip(*rows_, strict=True))
                out.setdefault(party, []).append(RecordSet.from_blobs(
                    self.layout, [int(r) for r in cols[0]], [bytes(x) for x in cols[1]],
                    [bytes(x) for x in cols[2]], [bytes(x) for x in cols[3]],
                    [bytes(x) for x in cols[4]]))
        result = {}
        for party, parts in out.items():
            merged = RecordSet.concat(self.layout, parts)
            result[party] = merged.take(np.argsort(merged.rids, kind="stable"))
        return result

    # -- ids, records, journal ------------------------------------------------------------

    def _apply_ids(self, clusters: list[list[int]],
                   removed: Mapping[int, list[tuple[str, bytes]]], result: RunResult) -> None:
        store, state = self.store, self.state
        scope = [rid for c in clusters for rid in c]
        store.load_ids(scope)
        info_rows = store.query(
            "SELECT r.rid, r.entity, p.name, r.row_token FROM records r JOIN parties p "
            "ON p.party_id = r.party_id WHERE r.rid IN (SELECT id FROM tmp_ids)")
        previous = {int(r): int(e) for r, e, _, _ in info_rows if int(e) >= 0}
        record = {int(r): (str(p), bytes(t)) for r, _, p, t in info_rows}
        concerned = set(previous.values()) | set(removed)
        store.load_ids(concerned, "tmp_keys")
        entities = {int(e): EntityInfo(int(e), str(eid), int(cr), int(size)) for e, eid, cr, size
                    in store.query("SELECT entity, eid, created_run, size FROM entities "
                                   "WHERE entity IN (SELECT id FROM tmp_keys)")}
        decision = assign_ids(clusters, previous, entities)
        owner: list[int] = []
        events: list[tuple[str, str, str | None, str | None, bytes | None]] = []
        created = self._new_entities(sum(kept is None for kept in decision.owner))
        fresh = iter(created)
        for kept in decision.owner:
            if kept is None:
                number, eid = next(fresh)
                events.append(("created", eid, None, None, None))
                owner.append(number)
            else:
                owner.append(kept)
        eid_of = {e: info.eid for e, info in entities.items()} | dict(created)
        moves: list[tuple[int, int]] = []  # (rid, entity)
        reason: dict[tuple[int, int], str] = {}  # (old, new entity) -> merged | split
        for survivor, absorbed in decision.merged:
            reason[(absorbed, survivor)] = "merged"
        for origin, c in decision.split:
            reason[(origin, owner[c])] = "split"
        for c, members in enumerate(clusters):
            for rid in members:
                before = previous.get(rid)
                if before == owner[c]:
                    continue
                moves.append((rid, owner[c]))
                party, token = record[rid]
                new = eid_of[owner[c]]
                if before is None:
                    events.append(("record_added", new, None, party, token))
                    result.changes.append(Change(party, token, None, new, "record_added"))
                else:
                    old = eid_of[before]
                    events.append(("record_moved", new, old, party, token))
                    result.changes.append(Change(party, token, old, new,
                                                 reason.get((before, owner[c]), "record_moved")))
        for entity, lost in sorted(removed.items()):
            for party, token in lost:
                events.append(("record_removed", eid_of[entity], None, party, token))
                result.changes.append(Change(party, token, eid_of[entity], None,
                                             "record_removed"))
        for survivor, absorbed in decision.merged:
            events.append(("merged", eid_of[survivor], eid_of[absorbed], None, None))
        for origin, c in decision.split:
            events.append(("split", eid_of[origin], eid_of[owner[c]], None, None))
        for entity in decision.retired:
            events.append(("retired", eid_of[entity], None, None, None))

        store.insert("entities", ["entity", "eid", "created_run", "retired_run", "size"],
                     [(n, eid, self.run, None, 0) for n, eid in created])
        store.conn.cursor().executemany(store.sql("UPDATE records SET entity = ? WHERE rid = ?"),
                                        [(e, r) for r, e in moves])
        # sizes change only where records came, went or moved
        touched = {e for _, e in moves} | {previous[r] for r, _ in moves if r in previous} \
            | set(removed) | {n for n, _ in created}
        store.load_ids(touched)
        sizes = dict(store.query("SELECT entity, count(*) FROM records "
                                 "WHERE entity IN (SELECT id FROM tmp_ids) GROUP BY entity"))
        store.conn.cursor().executemany(store.sql("UPDATE entities SET size = ? WHERE entity = ?"),
                                        [(int(sizes.get(e, 0)), e) for e in sorted(touched)])
        store.conn.cursor().executemany(
            store.sql("UPDATE entities SET retired_run = ? WHERE entity = ?"),
            [(self.run, e) for e in decision.retired])
        first = state.take("next_seq", len(events))
        order = sorted(range(len(events)), key=lambda k: _EVENT_ORDER[events[k][0]])
        write_events(store, (Event(first + n, self.run, self.now, *events[k])
                             for n, k in enumerate(order)))
        result.events.update(e[0] for e in events)

    def _new_entities(self, count: int) -> list[tuple[int, str]]:
        """``count`` new entity numbers and their ids; a number whose id an earlier entity
        holds (a 64-bit collision) is skipped."""
        out: list[tuple[int, str]] = []
        while len(out) < count:
            first = self.state.take("next_entity", count - len(out))
            batch = [(n, self.state.entity_id(n)) for n in range(first, first + count - len(out))]
            taken: set[str] = set()
            for k in range(0, len(batch), 500):
                eids = [e for _, e in batch[k:k + 500]]
                taken.update(str(e) for (e,) in self.store.query(
                    f"SELECT eid FROM entities WHERE eid IN ({','.join('?' * len(eids))})", eids))
            out += [(n, e) for n, e in batch if e not in taken]
        return out

    def _finish(self, state: RegistryState, result: RunResult, kind: str) -> None:
        import json

        result.timings = dict(self.timings)
        result.threshold = state.threshold
        state.save(self.store)
        self.store.insert("runs", ["run", "started", "finished", "kind", "summary"], [(
            self.run, self.now, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            kind, json.dumps(result.to_dict(), sort_keys=True))])


#: The edges with an end among ``tmp_ids``. ``IN (SELECT ...)`` rather than a join, so the
#: edges' indexes are searched for each id instead of the whole table scanned (SQLite has
#: no statistics on a temporary table and would scan the large one).
_EDGES_OF = ("SELECT {columns} FROM edges WHERE lo IN (SELECT id FROM tmp_ids) UNION "
             "SELECT {columns} FROM edges WHERE hi IN (SELECT id FROM tmp_ids)")


#: Record events first, so a replay of the journal in order rebuilds the record map.
_EVENT_ORDER = {"created": 0, "record_added": 1, "record_moved": 1, "record_removed": 1,
                "merged": 2, "split": 2, "retired": 3}
