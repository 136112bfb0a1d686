"""The registry in memory, for answering one record in milliseconds.

Loaded once when the service starts: every stored record's encoding as one
:class:`~hashmatch.registry.records.RecordSet` (the scorer's prepared view of it,
popcounts included, is built once and kept), its party and entity id, and the registry's
blocking keys as a sorted array (key -> rows by binary search). The per-query work is
prepared at load too: the registry's LSH plan as rank tables
(:class:`~hashmatch.service.query_keys.QueryKeys`: a record's keys in a fraction of a
millisecond, the same keys :func:`hashmatch.registry.candidates.record_keys` stored) and
the layout facts the scorer reads (:class:`_QueryParty`: no header parsing per request).
A query record is scored against the stored records sharing a key with the link's own
scorer, and is answered by the registry's cut: the cross-party threshold against other
parties' records, the within-party cut against the asking party's own. That per-record work
runs in one compiled call (:mod:`hashmatch.service.compiled`: keys, blocks, scores by the
link's own C score); :meth:`RegistryIndex.match_reference` keeps the numpy route, its oracle.

A commit through the service updates the index in place (:meth:`RegistryIndex.committed`):
the committed records go to a small second part (their old encodings are marked dead),
the entity ids the run changed are applied, and the parts are merged in memory once the
second outgrows :data:`MERGE_AT`. When another writer ran on the registry in between (a
batch run, another service), the index is loaded afresh instead. Either way it answers
exactly as an index loaded from the registry would (candidates are taken in record-number
order, as a load orders them).

Status: ``new`` when no stored record reaches its cut; ``matched`` when one entity holds
the best score, ahead of any other entity's best by at least :data:`AMBIGUOUS_MARGIN`;
``ambiguous`` otherwise (the candidates' entity ids are listed, best first). A record
the asking party already stored, unchanged (same row token, same encoding), is
``matched`` to the entity the registry gave it, as the batch link decided.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from hashmatch.kernel import intersection_counts, popcount
from hashmatch.link.inputs import Encoding, as_encoding, token_kinds
from hashmatch.link.scorer import PairScorer
from hashmatch.link.scoring import ScoringConfig
from hashmatch.link.segments import SegmentView, aligned_segment, field_dice
from hashmatch.registry import candidates as cand
from hashmatch.registry.index import RecordIndex
from hashmatch.registry.records import Layout, RecordSet
from hashmatch.registry.state import RegistryState
from hashmatch.registry.store import Store
from hashmatch.service import compiled
from hashmatch.service.query_keys import QueryKeys

if TYPE_CHECKING:
    from hashmatch.registry.update import RunResult

__all__ = ["AMBIGUOUS_MARGIN", "MERGE_AT", "Answer", "QueryRows", "RegistryIndex"]

#: Two entities whose best scores are closer than this make an answer ``ambiguous``.
AMBIGUOUS_MARGIN = 0.05
#: Committed records held in the second part before the parts are merged (at least this
#: many, or 2% of the index: merging costs a pass over every record).
MERGE_AT = 20_000

_Ints = npt.NDArray[np.int64]
_EVIDENCE = ("missing", "agree", "disagree")  # the compiled route's token evidence codes
_SELECT = ("SELECT p.name, r.rid, r.row_token, r.clk, r.tokens, r.present, e.eid "
           "FROM records r JOIN parties p ON p.party_id = r.party_id "
           "JOIN entities e ON e.entity = r.entity")


class QueryRows(Protocol):
    """Encoded records to answer: a decoded request (:class:`~hashmatch.service.payload.Batch`)
    or an :class:`~hashmatch.encode.EncodedBatch` (the demo matches without the wire
    format and its pydantic models)."""

    @property
    def clks(self) -> npt.NDArray[np.uint64]: ...

    @property
    def tokens(self) -> Mapping[str, npt.NDArray[np.uint8]]: ...

    @property
    def present(self) -> npt.NDArray[np.bool_]: ...

    @property
    def row_tokens(self) -> npt.NDArray[np.uint8]: ...


@dataclass
class Answer:
    """One query record's answer (entity ids only: never another party's rows)."""

    entity_id: str | None
    status: str
    score: float | None
    candidates: list[str] = field(default_factory=list)
    fields: list[tuple[str, float | None]] = field(default_factory=list)
    tokens: list[tuple[str, str]] = field(default_factory=list)


class _Part:
    """Stored rows as the scorer sees them (view prepared once), and their keys."""

    def __init__(self, rows: RecordSet, first: int, keys: _Ints, key_rows: _Ints) -> None:
        self.rows = rows
        self.first = first  # index-wide number of local row 0
        order = np.argsort(keys, kind="stable")
        self.keys, self.key_rows = keys[order], key_rows[order]
        self.encoding = as_encoding(rows)
        self.encoding.view  # noqa: B018 - prepare the CLK view (popcounts) now, not per query
        self.encoding.aligned  # noqa: B018 - and the swap pairs' aligned segments
        self._compiled: dict[str, Any] | None = None

    def compiled_arrays(self, shared: dict[str, Any]) -> dict[str, Any]:
        """This part's arrays for the compiled route (laid out once per part)."""
        if self._compiled is None:
            self._compiled = compiled.part_arrays(self, shared)
        return self._compiled

    def __len__(self) -> int:
        return len(self.rows.rids)

    def blocks(self, keys: _Ints) -> tuple[_Ints, _Ints]:
        return (np.searchsorted(self.keys, keys, "left"),
                np.searchsorted(self.keys, keys, "right"))


class _QueryParty:
    """Query rows as the scorer reads them: the layout facts copied from the stored
    party (same registry, same layout), only the per-row arrays computed."""

    def __init__(self, like: Encoding, rows: RecordSet) -> None:
        self.segments, self.field_names = like.segments, like.field_names
        self.field_types, self.nested = like.field_types, like.nested
        self.swap_segments, self.disagree_below = like.swap_segments, like.disagree_below
        self.clks, self.row_tokens, self.tokens = rows.clks, rows.row_tokens, rows.tokens
        columns = [list(rows.header.field_names).index(f) for f in self.field_names]
        self.present = np.asarray(rows.present)[:, columns]
        self.aligned = {s: aligned_segment(self.clks, self.segments[s])
                        for pair in self.swap_segments for s in pair}
        self.view = _view(self.clks, self.segments, self.present, self.nested)


def _view(clks: npt.NDArray[np.uint64], segments: Sequence[tuple[int, int]],
          present: npt.NDArray[np.bool_], nested: Sequence[bool]) -> SegmentView:
    """:meth:`SegmentView.from_clks` for a few rows: popcounts from one bit expansion."""
    bits = np.unpackbits(np.ascontiguousarray(clks, "<u8").view(np.uint8), axis=1,
                         bitorder="little")
    running = np.zeros((len(clks), bits.shape[1] + 1), np.int64)
    np.cumsum(bits, axis=1, out=running[:, 1:])
    starts = np.array([a for a, _ in segments], np.intp)
    ends = starts + np.array([b for _, b in segments], np.intp)
    counts = (running[:, ends] - running[:, starts]).astype(np.uint16)
    flags = np.asarray(nested, np.bool_)
    return SegmentView(counts, present | (counts > 0), flags if flags.any() else None,
                       popcount(clks).astype(np.int64))


class RegistryIndex:
    """Every stored record of a registry, its entity and blocking keys, in memory."""

    def __init__(self, state: RegistryState, rows: RecordSet, parties: _Ints,
                 party_names: list[str], entities: list[str],
                 keys: _Ints, key_rows: _Ints) -> None:
        if state.layout is None or state.plan is None or state.threshold is None:
            raise ValueError("the registry has no run yet: link files into it first")
        self.state = state
        self.layout: Layout = state.layout
        self.run = state.next_run - 1  # the last run this index holds
        self.party_names = party_names
        self.parts = [_Part(rows, 0, keys, key_rows)]
        # index-wide row numbers: part k's local row i is row parts[k].first + i
        self.party_of = parties
        self.entities = entities
        self.rid_of = rows.rids.copy()
        self.live = np.ones(len(rows.rids), np.bool_)  # False: removed or re-encoded since
        # (party, row token) -> row: a record the registry already holds and placed
        self.by_token = {(int(p), bytes(t)): k for k, (p, t) in
                         enumerate(zip(parties, rows.row_tokens, strict=True))}
        kinds = token_kinds(self.layout.token_names, self.layout.field_names, self.layout.extra)
        self.config = ScoringConfig.for_tokens(kinds)
        self.query_keys = QueryKeys(state.plan, self.layout)
        self.rules = state.rules()
        #: answer through the compiled route when it is built (False: the numpy route)
        self.use_compiled = True
        self._matcher: Any = None  # the compiled route over the index as it is now
        self._matcher_ready = False

    @classmethod
    def load(cls, store: Store) -> RegistryIndex:
        with store.read_transaction():
            state = RegistryState.load(store)
            found = store.query(_SELECT + " ORDER BY r.rid")
            kr = _key_table(store)
        if state.layout is None:
            raise ValueError("the registry has no run yet: link files into it first")
        cols: list[tuple[Any, ...]] = list(zip(*found, strict=True)) if found else [()] * 7
        rows = _record_set(state.layout, found)
        names = sorted(set(cols[0]))
        parties = np.array([names.index(p) for p in cols[0]], np.int64)
        key_rows = _rows_of(rows.rids, kr[:, 1])
        return cls(state, rows, parties, names, [str(e) for e in cols[6]], kr[:, 0], key_rows)

    @property
    def size(self) -> int:
        """Records in the registry."""
        return int(self.live.sum())

    @property
    def encoding(self) -> Encoding:
        """The first part's prepared encodings (every record, until a commit)."""
        return self.parts[0].encoding

    # -- commits ----------------------------------------------------------------------

    def committed(self, store: Store, result: RunResult, party: str,
                  row_tokens: Iterable[bytes]) -> RegistryIndex:
        """The index after ``party``'s commit of ``row_tokens`` (run ``result``): this
        one, updated, when the run directly follows what it holds; else loaded afresh."""
        if result.run != self.run + 1:
            return RegistryIndex.load(store)
        self.run = result.run
        self._matcher, self._matcher_ready = None, False
        if party not in self.party_names:
            self.party_names.append(party)
        own = self.party_names.index(party)
        wanted = sorted({bytes(t) for t in row_tokens})
        found = []
        with store.read_transaction():
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                marks = ", ".join("?" * len(chunk))
                found += store.query(
                    _SELECT + f" WHERE p.name = ? AND r.row_token IN ({marks}) ORDER BY r.rid",
                    [party, *chunk])
        fresh = [f for f in found if not self._holds(own, f)]
        for change in result.changes:  # entity ids the run changed (records of any party)
            who = self.party_names.index(change.party) if change.party in self.party_names \
                else -1
            row = self.by_token.get((who, change.row_token))
            if row is None:
                continue
            if change.new is None:
                self.live[row] = False
                del self.by_token[who, change.row_token]
            else:
                self.entities[row] = change.new
        if fresh:
            self._append(own, fresh)
        return self

    def _holds(self, own: int, found: Sequence[Any]) -> bool:
        """Whether the index holds this stored record as it is (same record, encoding)."""
        row = self.by_token.get((own, bytes(found[2])))
        if row is None or self.rid_of[row] != int(found[1]):
            return False
        part, local = self._locate(row)
        stored = _record_set(self.layout, [found])
        same = _same_encoding(stored, 0, part.rows, local, self.layout.token_names)
        if same:
            self.entities[row] = str(found[6])
        return same

    def _append(self, own: int, found: list[Any]) -> None:
        new = _record_set(self.layout, found)
        for token in new.row_tokens:  # a re-encoded record: its earlier row is dead
            old = self.by_token.get((own, bytes(token)))
            if old is not None:
                self.live[old] = False
        first = len(self.live)
        self.party_of = np.r_[self.party_of, np.full(len(found), own, np.int64)]
        self.entities += [str(f[6]) for f in found]
        self.rid_of = np.r_[self.rid_of, new.rids]
        self.live = np.r_[self.live, np.ones(len(found), np.bool_)]
        for k, token in enumerate(new.row_tokens):
            self.by_token[own, bytes(token)] = first + k
        q_rows, q_keys = self.query_keys.keys(new.clks, new.tokens, new.present)
        if len(self.parts) == 1:
            self.parts.append(_Part(new, first, q_keys, q_rows))
        else:
            extra = self.parts[1]
            rows = RecordSet.concat(self.layout, [extra.rows, new])
            self.parts[1] = _Part(rows, extra.first, np.r_[extra.keys, q_keys],
                                  np.r_[extra.key_rows, q_rows + len(extra)])
        if len(self.parts[1]) >= max(MERGE_AT, len(self.parts[0]) // 50):
            self._merge()

    def _merge(self) -> None:
        """One part again: the live rows of both, in record-number order."""
        keep = np.flatnonzero(self.live)
        keep = keep[np.argsort(self.rid_of[keep], kind="stable")]
        renumber = np.full(len(self.live), -1, np.int64)
        renumber[keep] = np.arange(len(keep))
        sets, keys, key_rows = [], [], []
        for part in self.parts:
            sets.append(part.rows)
            keys.append(part.keys)
            key_rows.append(renumber[part.first + part.key_rows])
        every = RecordSet.concat(self.layout, sets).take(keep)
        k, r = np.concatenate(keys), np.concatenate(key_rows)
        self.parts = [_Part(every, 0, k[r >= 0], r[r >= 0])]
        self.party_of = self.party_of[keep]
        self.entities = [self.entities[int(k)] for k in keep]
        self.rid_of = self.rid_of[keep]
        self.live = np.ones(len(keep), np.bool_)
        self.by_token = {(int(p), bytes(t)): k for k, (p, t) in
                         enumerate(zip(self.party_of, every.row_tokens, strict=True))}

    # -- matching ---------------------------------------------------------------------

    def match(self, batch: QueryRows, party: str) -> list[Answer]:
        """Answer each record of ``batch`` (sent by ``party``): through the compiled route
        when it is built, else :meth:`match_reference` (the same answers)."""
        matcher = self.matcher() if self.use_compiled else None
        if matcher is None:
            return self.match_reference(batch, party)
        cuts = self.cuts(party)
        own = self.party_names.index(party) if party in self.party_names else -1
        clks = np.ascontiguousarray(batch.clks, np.uint64)
        present = np.ascontiguousarray(batch.present, np.bool_).view(np.uint8)
        names = self.layout.token_names
        tokens = np.zeros((len(clks), len(names), 16), np.uint8)
        for k, name in enumerate(names):
            tokens[:, k] = batch.tokens[name]
        answers = []
        for r in range(len(clks)):
            stored = self._stored(batch, r, own)
            rows, score, passing, top = matcher.match(
                clks[r], present[r], tokens[r], cuts, -1 if stored is None else stored)

            def explain(row: int) -> tuple[list[tuple[str, float | None]],
                                           list[tuple[str, str]]]:
                dice, evidence = matcher.explain(row)
                return ([(seg.field, None if np.isnan(d) else round(d, 4))
                         for seg, d in zip(self.layout.segments, dice, strict=True)],
                        [(name, _EVIDENCE[e]) for name, e in zip(names, evidence,
                                                                  strict=True)])

            answers.append(self._decide(rows, score, passing, top, stored, explain))
        return answers

    def cuts(self, party: str) -> npt.NDArray[np.float64]:
        """The cut of ``party``'s records against the stored records of each party (by
        index in ``party_names``), as the registry's runs apply it."""
        rules = self.rules
        return np.array([rules.cut(party, other) for other in self.party_names], np.float64)

    def matcher(self) -> Any:
        """The compiled route over the index as it is now (None: not built), made on first
        use after a load or a commit."""
        if not self._matcher_ready:
            self._matcher, self._matcher_ready = compiled.matcher_for(self), True
        return self._matcher

    def match_reference(self, batch: QueryRows, party: str) -> list[Answer]:
        """:meth:`match` through numpy and the link's scorer (the compiled route's oracle)."""
        n = len(batch.clks)
        query = RecordSet(self.layout, np.arange(n, dtype=np.int64), batch.row_tokens,
                          batch.clks, dict(batch.tokens), batch.present)
        q_rows, q_keys = self.query_keys.keys(query.clks, query.tokens, query.present)
        asking = _QueryParty(self.parts[0].encoding, query)
        scorers = [PairScorer([asking, part.encoding], self.config)  # type: ignore[list-item]
                   for part in self.parts]
        own = self.party_names.index(party) if party in self.party_names else -1
        cuts = self.cuts(party)
        answers = []
        for r in range(n):
            rows = self._candidates(q_keys[q_rows == r])
            stored = self._stored(batch, r, own)
            if stored is not None and stored not in rows:
                rows = np.r_[rows, stored]
                rows = rows[np.argsort(self.rid_of[rows], kind="stable")]
            if not len(rows):
                answers.append(Answer(None, "new", None))
                continue
            score = self._scores(scorers, r, rows)
            passing = np.flatnonzero(score >= cuts[self.party_of[rows]])
            answers.append(self._decide(rows, score, passing, int(np.argmax(score)), stored,
                                        partial(self._explain, scorers, r)))
        return answers

    def _stored(self, batch: QueryRows, r: int, own: int) -> int | None:
        """The row of record ``r`` when the asking party stored it as it is, else None."""
        stored = self.by_token.get((own, bytes(batch.row_tokens[r])))
        if stored is not None:
            part, local = self._locate(stored)
            if not _same_encoding(batch, r, part.rows, local, self.layout.token_names):
                return None
        return stored

    def _locate(self, row: int) -> tuple[_Part, int]:
        part = self.parts[-1] if row >= self.parts[-1].first else self.parts[0]
        return part, row - part.first

    def _candidates(self, keys: _Ints) -> _Ints:
        """Live rows sharing a key, in record-number order; keys held by more than
        :data:`~hashmatch.registry.candidates.MAX_BLOCK_ROWS` live records are skipped."""
        spans = [(part, *part.blocks(keys)) for part in self.parts]
        whole = len(self.parts) == 1 and bool(self.live.all())
        found = []
        for k in range(len(keys)):
            rows = [part.first + part.key_rows[lo[k]:hi[k]] for part, lo, hi in spans]
            if not whole:
                rows = [r[self.live[r]] for r in rows]
            size = sum(len(r) for r in rows)
            if 0 < size <= cand.MAX_BLOCK_ROWS:
                found += rows
        if not found:
            return np.zeros(0, np.int64)
        unique = np.unique(np.concatenate(found))
        return unique if whole else unique[np.argsort(self.rid_of[unique], kind="stable")]

    def _scores(self, scorers: list[PairScorer], r: int, rows: _Ints) -> npt.NDArray[Any]:
        """The scores of query row ``r`` against index rows ``rows``, part by part."""
        if len(self.parts) == 1:
            return scorers[0](0, np.full(len(rows), r, np.int64), 1, rows)
        score = np.empty(len(rows), np.float32)  # the scorer's own type (Scores)
        for part, scorer in zip(self.parts, scorers, strict=True):
            mine = (rows >= part.first) & (rows < part.first + len(part))
            if mine.any():
                local = rows[mine] - part.first
                score[mine] = scorer(0, np.full(len(local), r, np.int64), 1, local)
        return score

    def _decide(self, rows: _Ints, score: npt.NDArray[Any], passing: Iterable[int], top: int,
                stored: int | None, explain: Callable[[int], tuple[
                    list[tuple[str, float | None]], list[tuple[str, str]]]]) -> Answer:
        """The answer from the candidates ``rows`` (record-number order, ``stored`` among
        them), their ``score``, the positions ``passing`` their cut and the first
        position ``top`` of the highest score; ``explain(row)`` gives the explanation."""
        if not len(rows):
            return Answer(None, "new", None)
        best: dict[str, tuple[float, int]] = {}
        for k in passing:
            eid, s = self.entities[int(rows[k])], float(score[k])
            if eid not in best or s > best[eid][0]:
                best[eid] = (s, int(rows[k]))
        if not best and stored is None:
            return Answer(None, "new", round(float(score[top]), 4))
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))
        if stored is not None:
            # The asking party's own record, unchanged: the registry already placed it
            # (a batch link's decision, ties and twins included); its entity is the answer.
            eid = self.entities[stored]
            s, row = best.get(eid, (float(score[np.flatnonzero(rows == stored)[0]]), stored))
            ranked = [(eid, (s, row))] + [kv for kv in ranked if kv[0] != eid]
            fields, tokens = explain(row)
            return Answer(eid, "matched", round(s, 4), [e for e, _ in ranked], fields, tokens)
        eid, (s, row) = ranked[0]
        fields, tokens = explain(row)
        if len(ranked) > 1 and s - ranked[1][1][0] < AMBIGUOUS_MARGIN:
            return Answer(None, "ambiguous", round(s, 4), [e for e, _ in ranked], fields, tokens)
        return Answer(eid, "matched", round(s, 4), [e for e, _ in ranked], fields, tokens)

    def _explain(self, scorers: list[PairScorer], r: int, row: int
                 ) -> tuple[list[tuple[str, float | None]], list[tuple[str, str]]]:
        """Per field, the CLK similarity of the query and its best stored record; per
        token column, agree / disagree / missing (no values: similarities only)."""
        part, local = self._locate(row)
        left, right = scorers[self.parts.index(part)].parties
        i, j = np.array([r]), np.array([local])
        fields = []
        counts = intersection_counts(left.clks, right.clks, i, j, segments=left.segments)
        for s, seg in enumerate(self.layout.segments):
            d = field_dice(counts[:, 1 + s], left.view, right.view, i, j, s)[0]
            fields.append((seg.field, None if np.isnan(d) else round(float(d), 4)))
        tokens = []
        for name in self.layout.token_names:
            a, b = left.tokens[name][r], right.tokens[name][local]
            evidence = "missing" if not (a.any() and b.any()) else \
                "agree" if np.array_equal(a, b) else "disagree"
            tokens.append((name, evidence))
        return fields, tokens


def _key_table(store: Store, chunk: int = 1 << 16) -> _Ints:
    """Every record's blocking keys as ``int64[rows, 2]`` (key, rid), sorted: from the
    registry's index segments (layout 3: the keys the registry computed for each record
    with its LSH plan, :mod:`hashmatch.registry.index`). A registry of an older layout
    not yet upgraded by a run still has its ``record_index`` rows (layout 2) or its
    ``block_keys`` table (layout 1): read from there."""
    parts = [np.zeros((0, 2), np.int64)]
    if store.has_table("block_keys"):
        cursor = store.execute("SELECT key, rid FROM block_keys ORDER BY key, rid")
        while batch := cursor.fetchmany(chunk):
            parts.append(np.array(batch, np.int64).reshape(-1, 2))
        return np.concatenate(parts)
    if not store.has_table("record_index"):
        return RecordIndex.load(store).key_table()
    cursor = store.execute("SELECT rid, keys FROM record_index")
    while batch := cursor.fetchmany(chunk):
        rids, keys = cand.unpack_keys(np.fromiter((r[0] for r in batch), np.int64, len(batch)),
                                 [bytes(r[1]) for r in batch])
        parts.append(np.stack([keys, rids], axis=1))
    table = np.concatenate(parts)
    return table[np.lexsort((table[:, 1], table[:, 0]))]


def _rows_of(rids: _Ints, wanted: _Ints) -> _Ints:
    """The positions in ``rids`` (ascending) of ``wanted`` (each among them): a table
    lookup when the record numbers are dense enough (at 1M records ~50x a binary search
    of ~15 million keys), else that search."""
    if not len(rids) or int(rids[-1]) > 4 * len(rids) + (1 << 20):
        return np.searchsorted(rids, wanted)
    table = np.zeros(int(rids[-1]) + 1, np.int64)
    table[rids] = np.arange(len(rids))
    return table[wanted]


def _record_set(layout: Layout, found: Sequence[Sequence[Any]]) -> RecordSet:
    """Rows of :data:`_SELECT` as a record set."""
    cols: list[tuple[Any, ...]] = list(zip(*found, strict=True)) if found else [()] * 7
    return RecordSet.from_blobs(layout, [int(r) for r in cols[1]],
                                [bytes(x) for x in cols[2]], [bytes(x) for x in cols[3]],
                                [bytes(x) for x in cols[4]], [bytes(x) for x in cols[5]])


def _same_encoding(a: QueryRows, i: int, b: RecordSet, j: int,
                   token_names: Sequence[str]) -> bool:
    return bool(np.array_equal(a.clks[i], b.clks[j])
                and np.array_equal(a.present[i], b.present[j])
                and all(np.array_equal(a.tokens[k][i], b.tokens[k][j]) for k in token_names))
