"""The scope of a registry run: the records a batch link could now cluster differently.

A batch link clusters along *kept* edges only: within a party every edge at its cut
(dedup), across parties the mutual best of the two rows
(:func:`hashmatch.link.solve.mutual_best`, equal scores told apart by the rows' tokens).
A run changes the edges around its new, changed and removed records (:class:`Changes`).
Starting from the *seeds*, :func:`scope_of` follows kept edges and current entities
until nothing new is reached; the records so reached are re-clustered
(:mod:`~hashmatch.registry.clustering`), everything else keeps its entity. The seeds are
the new and changed records, the records of entities that lost one, and each other end
of an edge added or dropped *if* that edge ranks among the row's
:data:`~hashmatch.link.solve.MUTUAL_BEST` best toward the other party (or lies within
a party): a row's mutual-best marks change only when its top edges do, and a namesake
edge far down a row's list, the common case, changes none.

Why that is enough: whether an edge is a mutual best depends only on the edges of its
two rows, and a row whose edges changed is a seed; so a kept-edge component with no seed
in it is the one the last run clustered, and re-clustering it would give the same
entities. An edge that stops being a mutual best without having been linked leaves the
other side's one-to-one choice as it was (removing a pair nobody chose keeps the choice
best, up to ties and to a component that falls to the exact solver's size,
:data:`~hashmatch.link.solve.EXACT_MAX_ROWS`); one that was linked joins its two rows
in a current entity, which the walk follows. The marks are computed from each row's
complete edge list, as the batch does: the walk reads every edge of the records it
visits and of their neighbours.

Following every stored edge instead (as runs did before) is correct too, but a
party pair linked on names and a birth year holds a namesake edge for almost every
record, and at a million records those chain most of the registry into one component,
so every monthly run re-clustered ~400,000 records (benchmarks/README.md, "Session 12").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hashmatch.link.solve import MUTUAL_BEST, TieKeys, mutual_best, tie_keys
from hashmatch.registry.arrays import distinct
from hashmatch.registry.store import Store

__all__ = ["Changes", "RecordTable", "scope_of"]

_Ints = npt.NDArray[np.int64]

_EDGES_OF = ("SELECT lo, hi, score FROM edges WHERE lo IN (SELECT id FROM tmp_ids) UNION "
             "SELECT lo, hi, score FROM edges WHERE hi IN (SELECT id FROM tmp_ids)")
#: Every record sharing a current entity with one of ``tmp_ids`` (new records, entity
#: -1 until the run assigns one, share none).
_ENTITY_MATES = ("SELECT rid FROM records WHERE entity IN (SELECT entity FROM records "
                 "WHERE rid IN (SELECT id FROM tmp_ids) AND entity <> -1)")
_MEMBERS = "SELECT rid FROM records WHERE entity IN (SELECT id FROM tmp_ids)"
_Edges = tuple[_Ints, _Ints, npt.NDArray[np.float32]]


@dataclass(frozen=True)
class RecordTable:
    """Per record number: its party id (-1: no such record) and its tie key."""

    party: _Ints
    key: TieKeys

    @classmethod
    def of(cls, parties: Mapping[int, tuple[_Ints, npt.NDArray[np.uint8]]]) -> RecordTable:
        """From each party's ``(record numbers, row tokens)``, keyed by party id."""
        size = max((int(r.max()) + 1 for r, _ in parties.values() if len(r)), default=0)
        party = np.full(size, -1, np.int64)
        key = np.zeros(size, np.uint64)
        for party_id, (rids, tokens) in parties.items():
            party[rids], key[rids] = party_id, tie_keys(tokens)
        return cls(party, key)

    def with_records(self, party_id: int, rids: _Ints, tokens: npt.NDArray[np.uint8]
                     ) -> RecordTable:
        """This table with records ``rids`` of party ``party_id`` (their row tokens)."""
        size = max(len(self.party), int(rids.max()) + 1 if len(rids) else 0)
        party = np.full(size, -1, np.int64)
        key = np.zeros(size, np.uint64)
        party[:len(self.party)], key[:len(self.key)] = self.party, self.key
        party[rids], key[rids] = party_id, tie_keys(tokens)
        return RecordTable(party, key)


@dataclass(frozen=True)
class Changes:
    """What a run changed: its new and changed records, the entities that lost a record,
    the edges it added (now stored) and those it dropped (no longer stored: edges of
    changed and removed records, ``gone``)."""

    records: _Ints
    entities: _Ints
    added: _Edges
    dropped: _Edges
    gone: _Ints


def scope_of(store: Store, table: RecordTable, changes: Changes) -> tuple[_Edges, _Ints]:
    """The records reached from the seeds of ``changes`` over kept edges and current
    entities, and the kept edges among them ``(lo, hi, score)``: within-party edges and
    cross-party edges that are the mutual best of their rows. ``table`` knows every
    record the edges of ``changes`` name, removed ones included."""
    walk = _Walk(store, table)
    added, dropped = changes.added, changes.dropped
    # each end of an added or dropped edge that stays: (that row, the other row, score)
    at_lo = ~np.isin(dropped[0], changes.gone)
    at_hi = ~np.isin(dropped[1], changes.gone)
    owner = np.concatenate([added[0], added[1], dropped[0][at_lo], dropped[1][at_hi]])
    other = np.concatenate([added[1], added[0], dropped[1][at_lo], dropped[0][at_hi]])
    score = np.concatenate([added[2], added[2], dropped[2][at_lo], dropped[2][at_hi]])
    fresh = ~np.isin(owner, changes.records)
    owner, other, score = owner[fresh], other[fresh], score[fresh]
    seeds = np.concatenate([changes.records, walk.members(changes.entities),
                            walk.top_ranked(owner, other, score.astype(np.float32))])
    return walk.run(distinct(seeds))


class _Walk:
    """One breadth-first walk; edges are read from the store as the walk reaches them."""

    def __init__(self, store: Store, table: RecordTable) -> None:
        self.store, self.table = store, table
        size = len(table.party)
        self.loaded = np.zeros(size, np.bool_)  # every edge of the record is held
        self.seen = np.zeros(size, np.bool_)
        self.lo: _Ints = np.zeros(0, np.int64)
        self.hi: _Ints = np.zeros(0, np.int64)
        self.score = np.zeros(0, np.float32)
        self.kept = np.zeros(0, np.int8)  # 1 kept, 0 not, -1 not known yet

    def members(self, entities: _Ints) -> _Ints:
        """The records of the current entities ``entities``."""
        if not len(entities):
            return np.zeros(0, np.int64)
        self.store.load_ids(entities.tolist())
        return np.array([r for (r,) in self.store.query(_MEMBERS)], np.int64)

    def top_ranked(self, owner: _Ints, other: _Ints, score: npt.NDArray[np.float32]
                   ) -> _Ints:
        """The rows ``owner`` for which the edge to ``other`` (stored or not) of ``score``
        lies within their party, or among their :data:`MUTUAL_BEST` best toward
        ``other``'s party (fewer of their stored edges come first)."""
        if not len(owner):
            return np.zeros(0, np.int64)
        party, key = self.table.party, self.table.key
        self._load(distinct(owner))
        mine = np.zeros(len(self.loaded), np.bool_)
        mine[owner] = True
        lo, hi = self.lo, self.hi
        held_lo, held_hi = np.flatnonzero(mine[lo]), np.flatnonzero(mine[hi])
        # the rows' stored edges (is_held 1) and the edges asked about (0), grouped by
        # row and the other row's party, best first; an asked edge is preceded by the
        # stored edges that outrank it (an equal one, such as itself, comes after it)
        parties = int(party.max()) + 1
        rows = np.concatenate([lo[held_lo], hi[held_hi], owner])
        others = np.concatenate([hi[held_lo], lo[held_hi], other])
        scores = np.concatenate([self.score[held_lo], self.score[held_hi], score])
        is_held = np.r_[np.ones(len(held_lo) + len(held_hi), np.int64),
                        np.zeros(len(owner), np.int64)]
        group = rows * parties + party[others]
        order = np.lexsort((is_held, key[others], -scores.astype(np.float64), group))
        g, held = group[order], is_held[order]
        before = np.cumsum(held) - held  # stored edges ahead, from the first group on
        start = np.maximum.accumulate(np.where(np.r_[True, g[1:] != g[:-1]],
                                               np.arange(len(g)), 0))
        rank = np.empty(len(g), np.int64)
        rank[order] = before - before[start]
        asked = rank[len(rows) - len(owner):]
        within = party[owner] == party[other]
        return distinct(owner[within | (asked < MUTUAL_BEST)])

    def run(self, seeds: _Ints) -> tuple[_Edges, _Ints]:
        frontier = seeds
        self.seen[frontier] = True
        while len(frontier):
            self._load(frontier)
            self._load(self._neighbours(frontier))
            self._mark()
            incident = self._kept_edges_of(frontier)
            reached = np.concatenate([self.lo[incident], self.hi[incident],
                                      self._entity_mates(frontier)])
            frontier = distinct(reached[~self.seen[reached]])
            self.seen[frontier] = True
        # (edges between neighbours the walk never entered are marked, not reached)
        kept = (self.kept == 1) & self.seen[self.lo] & self.seen[self.hi]
        rids = np.flatnonzero(self.seen).astype(np.int64)
        return (self.lo[kept], self.hi[kept], self.score[kept]), rids

    def _kept_edges_of(self, rids: _Ints) -> npt.NDArray[np.bool_]:
        """Which held edges are kept edges of the records ``rids``."""
        at = np.zeros(len(self.seen), np.bool_)
        at[rids] = True
        return (self.kept == 1) & (at[self.lo] | at[self.hi])

    def _neighbours(self, rids: _Ints) -> _Ints:
        at = np.zeros(len(self.seen), np.bool_)
        at[rids] = True
        ends = np.concatenate([self.hi[at[self.lo]], self.lo[at[self.hi]]])
        return distinct(ends)

    def _entity_mates(self, rids: _Ints) -> _Ints:
        """The records of the current entities of ``rids``."""
        self.store.load_ids(rids.tolist())
        return np.array([r for (r,) in self.store.query(_ENTITY_MATES)], np.int64)

    def _load(self, rids: _Ints) -> None:
        """Read every edge of the records ``rids`` not read before."""
        rids = rids[~self.loaded[rids]]
        if not len(rids):
            return
        self.store.load_ids(rids.tolist())
        rows = self.store.query(_EDGES_OF)
        found = np.array(rows, np.float64).reshape(-1, 3)
        lo, hi = found[:, 0].astype(np.int64), found[:, 1].astype(np.int64)
        new = ~(self.loaded[lo] | self.loaded[hi])  # else read with the loaded end
        self.loaded[rids] = True
        self.lo = np.concatenate([self.lo, lo[new]])
        self.hi = np.concatenate([self.hi, hi[new]])
        self.score = np.concatenate([self.score, found[new, 2].astype(np.float32)])
        self.kept = np.concatenate([self.kept, np.full(int(new.sum()), -1, np.int8)])

    def _mark(self) -> None:
        """Mark the edges whose two rows' edges are all held: kept within a party, across
        parties if they are the mutual best of their rows."""
        loaded = self.loaded
        todo = np.flatnonzero((self.kept == -1) & loaded[self.lo] & loaded[self.hi])
        if not len(todo):
            return
        party, key = self.table.party, self.table.key
        within = party[self.lo[todo]] == party[self.hi[todo]]
        self.kept[todo[within]] = 1
        todo = todo[~within]
        if not len(todo):
            return
        # every cross-party edge of the rows of the edges to mark
        ends = np.zeros(len(loaded), np.bool_)
        ends[self.lo[todo]] = True
        ends[self.hi[todo]] = True
        lo, hi = self.lo, self.hi
        pool = np.flatnonzero((ends[lo] | ends[hi]) & (party[lo] != party[hi]))
        # the row of the smaller party on the left, as a batch link's jobs have it (so a
        # row is on one side of all its edges toward a party); ranked per partner party
        flip = party[lo[pool]] > party[hi[pool]]
        i = np.where(flip, hi[pool], lo[pool])
        j = np.where(flip, lo[pool], hi[pool])
        parties = int(party.max()) + 1
        best = mutual_best(i * parties + party[j], j * parties + party[i], self.score[pool],
                           key_i=key[i], key_j=key[j])
        mark = np.zeros(len(lo), np.int8)
        mark[pool[best]] = 1
        self.kept[todo] = mark[todo]
