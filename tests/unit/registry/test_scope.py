"""The scope of a run (registry/scope.py): re-clustering only the records it reaches, and
keeping everything else as it was, gives what clustering the whole graph gives.

Graphs here are random edges among three parties with namesake ties (equal scores), an
old graph clustered from scratch as the registry's current entities, then random
changes: records removed, changed (their edges replaced) and added."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hashmatch.link.solve import solve_one_to_one, solve_party_pair
from hashmatch.registry.scope import Changes, RecordTable, scope_of
from hashmatch.registry.store import SqliteStore

PARTIES = 3
NONE = np.zeros(0, np.int64)
Edges = tuple[np.ndarray, np.ndarray, np.ndarray]


def _labels(n: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Connected components of records ``0..n-1`` over the edges, as smallest members."""
    parent = np.arange(n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = int(parent[x])
        return x

    for a, b in zip(lo.tolist(), hi.tolist(), strict=True):
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)
    return np.array([find(x) for x in range(n)])


def _kept(table: RecordTable, edges: Edges, best_only: bool) -> np.ndarray:
    """Which edges a batch link keeps: within a party all, across parties the one-to-one
    solve of each party pair's mutual best (or of the edges given, if ``best_only``)."""
    lo, hi, score = edges
    party = table.party
    keep = party[lo] == party[hi]
    for a in range(PARTIES):
        for b in range(a + 1, PARTIES):
            flip = party[lo] == b
            i, j = np.where(flip, hi, lo), np.where(flip, lo, hi)
            sel = np.flatnonzero((party[i] == a) & (party[j] == b))
            if best_only:
                kept, _ = solve_one_to_one(i[sel], j[sel], score[sel], threshold=0.5)
            else:
                kept, _ = solve_party_pair(i[sel], j[sel], score[sel], threshold=0.5,
                                           key_i=table.key[i[sel]], key_j=table.key[j[sel]])
            keep[sel[kept]] = True
    return keep


def _partition(labels: dict[int, int]) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for rid, label in labels.items():
        groups.setdefault(label, set()).add(rid)
    return {frozenset(g) for g in groups.values()}


def _edges(rng: np.random.Generator, table: RecordTable, person: np.ndarray,
           rids: np.ndarray, others: np.ndarray, namesakes: int) -> Edges:
    """Edges from ``rids`` to ``others``: 0.9-0.95 between records of one person, and
    ``namesakes`` random ones at 0.6-0.7 (often equal, as identical namesakes score)."""
    lo, hi = np.meshgrid(rids, others, indexing="ij")
    lo, hi = lo.ravel(), hi.ravel()
    same = (person[lo] == person[hi]) & (lo != hi)
    lo, hi = lo[same], hi[same]
    strong = rng.choice(np.array([0.9, 0.95], np.float32), len(lo))
    a, b = rng.choice(rids, namesakes), rng.choice(others, namesakes)
    ok = (a != b) & ((table.party[a] != table.party[b]) | (rng.random(namesakes) < 0.1))
    weak = rng.choice(np.array([0.6, 0.7, 0.7], np.float32), int(ok.sum()))
    lo, hi = np.concatenate([lo, a[ok]]), np.concatenate([hi, b[ok]])
    return np.minimum(lo, hi), np.maximum(lo, hi), np.concatenate([strong, weak])


def _dedup(edges: Edges) -> Edges:
    lo, hi, score = edges
    _, first = np.unique(lo * 10**6 + hi, return_index=True)
    return lo[first], hi[first], score[first]


def _scope_matches_everything(tmp_path: Path, table: RecordTable, old: Edges,
                              removed: np.ndarray, changed: np.ndarray,
                              added_records: np.ndarray, added: Edges) -> np.ndarray:
    """Cluster ``old`` from scratch (the current entities); remove, change (drop their
    edges) and add records, with the edges ``added``; walk the scope and re-cluster it.
    Asserts that this equals clustering the new graph from scratch; returns the scope."""
    n = len(table.party)
    entities = _labels(n, *(e[_kept(table, old, False)] for e in old[:2]))
    gone = np.concatenate([removed, changed])
    touches = np.isin(old[0], gone) | np.isin(old[1], gone)
    dropped = tuple(e[touches] for e in old)
    live = np.setdiff1d(np.arange(n), removed)
    new = _dedup(tuple(np.concatenate([e[~touches], a]) for e, a in zip(old, added,
                                                                        strict=True)))
    store = SqliteStore(tmp_path / "scope.db", create=True)
    store.execute("CREATE TABLE edges (lo BIGINT, hi BIGINT, score REAL, PRIMARY KEY (lo, hi))")
    store.execute("CREATE TABLE records (rid BIGINT PRIMARY KEY, entity BIGINT)")
    store.insert("edges", ["lo", "hi", "score"], zip(*(e.tolist() for e in new), strict=True))
    current = {int(r): int(entities[r]) for r in live}
    current.update({int(r): -1 for r in added_records})  # new: no entity yet
    store.insert("records", ["rid", "entity"], current.items())

    dirty = np.concatenate([changed, added_records])
    (lo, hi, score), scope = scope_of(store, table, Changes(
        dirty, np.unique(entities[removed]), added, dropped, gone))

    assert set(scope.tolist()) <= set(live.tolist())
    # re-cluster the scope from the edges the walk kept; everyone else keeps its entity
    inside = _labels(n, *(e[_kept(table, (lo, hi, score), True)] for e in (lo, hi)))
    held = set(scope.tolist())
    incremental = {int(r): (int(inside[r]) if r in held else int(entities[r]) + n)
                   for r in live}
    everything = _labels(n, *(e[_kept(table, new, False)] for e in new[:2]))
    assert _partition(incremental) == _partition({int(r): int(everything[r]) for r in live})
    return scope


def _table(party: list[int]) -> RecordTable:
    """Records ``0..len(party)-1`` of the parties given, tie keys in record order."""
    parties = np.array(party)
    tokens = np.zeros((len(party), 16), np.uint8)
    tokens[:, 7] = np.arange(len(party))
    return RecordTable.of({p: (np.flatnonzero(parties == p), tokens[parties == p])
                           for p in range(PARTIES)})


def _given(*edges: tuple[int, int, float]) -> Edges:
    lo, hi, score = zip(*edges, strict=True)
    return (np.minimum(lo, hi).astype(np.int64), np.maximum(lo, hi).astype(np.int64),
            np.array(score, np.float32))


@pytest.mark.parametrize("seed", range(12))
def test_the_scope_reclustered_equals_clustering_everything(tmp_path: Path, seed: int
                                                           ) -> None:
    rng = np.random.default_rng(seed)
    n_old, n_new = 300, 12
    n = n_old + n_new
    party = rng.integers(0, PARTIES, n)
    person = rng.integers(0, 150, n)  # a person's records link to each other
    namesakes = (40, 150, 500)[seed % 3]  # from a few to a crowd
    tokens = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    table = RecordTable.of({p: (np.flatnonzero(party == p), tokens[party == p])
                            for p in range(PARTIES)})
    old_rids = np.arange(n_old)
    old = _dedup(_edges(rng, table, person, old_rids, old_rids, namesakes))
    removed = rng.choice(old_rids, 8, replace=False)
    changed = rng.choice(np.setdiff1d(old_rids, removed), 8, replace=False)
    person[changed] = rng.integers(0, 150, len(changed))  # moved, married, ...
    added_records = np.arange(n_old, n)
    live = np.setdiff1d(np.arange(n), removed)
    added = _dedup(_edges(rng, table, person, np.concatenate([changed, added_records]),
                          live, namesakes // 15))
    scope = _scope_matches_everything(tmp_path, table, old, removed, changed,
                                      added_records, added)
    if namesakes == 40:  # few namesakes: the walk stops well short of everything
        assert len(scope) < len(live) / 2


def test_a_new_edge_that_demotes_a_linked_pair_brings_its_row_in(tmp_path: Path) -> None:
    # p (party 0) is linked to q2, its second best of party 1: its best, q1, went to y.
    # A new record d of party 1 scores third among d's own edges but second at p, so
    # p-q2 is no longer a mutual best and p is left alone. Only p's rank says so: the
    # new edge is not a mutual best itself, and nothing else changed near p.
    p, q1, q2, y, x1, x2, d = range(7)
    table = _table([0, 1, 1, 0, 0, 0, 1])
    old = _given((p, q1, 0.95), (p, q2, 0.9), (q1, y, 0.99))
    added = _given((d, x1, 0.99), (d, x2, 0.98), (d, p, 0.93))
    scope = _scope_matches_everything(tmp_path, table, old, NONE, NONE,
                                      np.array([d]), added)
    assert p in scope and q2 in scope


def test_a_far_namesake_brings_nothing_in(tmp_path: Path) -> None:
    # a new record's only edge is third at its partner a1: no row's best two change
    a1, b1, a2, b2, d = range(5)
    table = _table([0, 1, 0, 1, 1])
    old = _given((a1, b1, 0.95), (a2, b2, 0.95), (a1, b2, 0.8))
    scope = _scope_matches_everything(tmp_path, table, old, NONE, NONE, np.array([d]),
                                      _given((d, a1, 0.7)))
    assert scope.tolist() == [d]


def test_namesakes_of_equal_scores_are_told_apart_by_their_tokens(tmp_path: Path) -> None:
    # five identical namesakes all scoring 0.7 with each other: ties broken by tie keys
    # keep two edges per row, not twenty-five, and a new one joins only where it ranks
    table = _table([0] * 5 + [1] * 5 + [1])
    old = _given(*[(a, b, 0.7) for a in range(5) for b in range(5, 10)])
    added = _given(*[(10, a, 0.7) for a in range(5)])
    _scope_matches_everything(tmp_path, table, old, NONE, NONE, np.array([10]), added)


def test_a_removed_record_splits_its_entity(tmp_path: Path) -> None:
    # a - r - b: r linked both; removing r leaves a and b apart unless linked themselves
    a, r, b, c = range(4)
    table = _table([0, 1, 2, 0])
    old = _given((a, r, 0.95), (r, b, 0.95), (c, r, 0.6))
    scope = _scope_matches_everything(tmp_path, table, old, np.array([r]), NONE, NONE,
                                      (NONE, NONE, np.zeros(0, np.float32)))
    assert {a, b} <= set(scope.tolist())
