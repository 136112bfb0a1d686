"""The link stage's one union-find and one lone-pair test."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.link.graph import UnionFind, lone_pairs, pair_components


def test_union_find_joins_and_reports_roots() -> None:
    sets = UnionFind(6)
    sets.union_lower(4, 2)
    sets.union_lower(2, 5)
    sets.attach(sets.find(1), sets.find(0))
    assert sets.roots().tolist() == [0, 0, 2, 3, 2, 2]
    twin = sets.copy()
    twin.union_lower(3, 5)
    assert sets.find(3) == 3 and twin.find(3) == 2


def test_lone_pairs_share_no_end_with_another_pair() -> None:
    a = np.array([0, 2, 4, 7])
    b = np.array([1, 3, 2, 8])
    assert lone_pairs(a, b).tolist() == [True, False, False, True]
    assert lone_pairs(np.zeros(0, np.int64), np.zeros(0, np.int64)).tolist() == []


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=60))
def test_components_partition_the_pairs_by_connectivity(edges: list[tuple[int, int]]) -> None:
    a = np.array([x for x, _ in edges], np.int64)
    b = np.array([y for _, y in edges], np.int64)
    parts = pair_components(a, b)
    assert sorted(np.concatenate(parts).tolist() if parts else []) == list(range(len(edges)))
    label = {}
    for c, part in enumerate(parts):
        assert part.tolist() == sorted(part.tolist())
        for k in part.tolist():
            label[k] = c
    # two pairs sharing an end are in one component; lone pairs are components of one
    for k in range(len(edges)):
        for m in range(len(edges)):
            if {a[k], b[k]} & {a[m], b[m]}:
                assert label[k] == label[m]
    lone = lone_pairs(a, b)
    for k in np.flatnonzero(lone).tolist():
        assert len(parts[label[k]]) == 1
