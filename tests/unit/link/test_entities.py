"""Merging accepted pairs into entities: union-find with refusals and keyed ids."""

from __future__ import annotations

import numpy as np
import pytest

from hashmatch.link.entities import entity_id_key, merge_entities, number_entities


def merge(sizes, pairs, **kwargs):  # type: ignore[no-untyped-def]
    cols = list(zip(*pairs, strict=True)) if pairs else [(), (), (), (), ()]
    pa, ra, pb, rb, s = (np.array(c) for c in cols)
    return merge_entities(sizes, pa, ra, pb, rb, s.astype(np.float32), **kwargs)


def same(labels, a, b) -> bool:  # type: ignore[no-untyped-def]
    return bool(labels[a[0]][a[1]] == labels[b[0]][b[1]])


def test_three_parties_chain_into_one_entity() -> None:
    labels, st = merge([2, 2, 2], [(0, 0, 1, 1, 0.9), (1, 1, 2, 0, 0.85)])
    assert same(labels, (0, 0), (2, 0))
    assert st.entities == 4  # {A0,B1,C0}, A1, B0, C1
    assert st.multi_row_entities == 1


def test_same_party_merge_is_refused_and_the_stronger_link_wins() -> None:
    # A0~B0 and A1~C0 ... then B0~C0 would put A0 and A1 together.
    labels, st = merge([2, 1, 1], [(0, 0, 1, 0, 0.95), (0, 1, 2, 0, 0.9), (1, 0, 2, 0, 0.85)])
    assert st.refused_same_party == 1
    assert same(labels, (0, 0), (1, 0))
    assert same(labels, (0, 1), (2, 0))
    assert not same(labels, (0, 0), (0, 1))


def test_dedup_allows_two_rows_of_one_party() -> None:
    labels, st = merge([2, 1], [(0, 0, 0, 1, 0.9), (0, 0, 1, 0, 0.9)], dedup=True)
    assert st.entities == 1


def test_within_party_pairs_need_dedup() -> None:
    with pytest.raises(ValueError, match="dedup"):
        merge([2], [(0, 0, 0, 1, 0.9)])


def test_explicit_non_match_blocks_a_transitive_merge() -> None:
    # A0~B0 (0.9), B0~C0 (0.88), but A0 vs C0 scores 0.3: keep A0-B0, refuse C0.
    def compare(p, rows_p, q, rows_q):  # type: ignore[no-untyped-def]
        return np.full(len(rows_p), 0.3 if (p, q) == (0, 2) else 0.9, np.float32)

    labels, st = merge(
        [1, 1, 1], [(0, 0, 1, 0, 0.9), (1, 0, 2, 0, 0.88)], compare=compare, reject_below=0.65
    )
    assert st.refused_conflict == 1
    assert same(labels, (0, 0), (1, 0))
    assert not same(labels, (1, 0), (2, 0))


def test_weak_cross_evidence_does_not_block() -> None:
    def compare(p, rows_p, q, rows_q):  # type: ignore[no-untyped-def]
        return np.full(len(rows_p), 0.7, np.float32)

    labels, st = merge(
        [1, 1, 1], [(0, 0, 1, 0, 0.9), (1, 0, 2, 0, 0.88)], compare=compare, reject_below=0.65
    )
    assert st.refused_conflict == 0
    assert st.entities == 1


def test_compare_and_reject_below_go_together() -> None:
    with pytest.raises(ValueError, match="together"):
        merge([1, 1], [], reject_below=0.5)


def test_out_of_range_rows_are_refused() -> None:
    with pytest.raises(ValueError, match="row index"):
        merge([1, 1], [(0, 0, 1, 1, 0.9)])


def test_entity_numbers_are_deterministic_and_independent_of_party_order() -> None:
    rng = np.random.default_rng(3)
    tokens = [rng.integers(0, 256, (5, 16), dtype=np.uint8) for _ in range(2)]
    labels = [np.array([0, 1, 2, 3, 4]), np.array([0, 5, 6, 7, 8])]
    key = entity_id_key([("a", "d1"), ("b", "d2")])
    assert key == entity_id_key([("b", "d2"), ("a", "d1")])
    first = number_entities(labels, tokens, ["a", "b"], key)
    swapped = number_entities(labels[::-1], tokens[::-1], ["b", "a"], key)
    assert first[0].tolist() == swapped[1].tolist()
    assert first[1].tolist() == swapped[0].tolist()
    assert sorted(set(np.concatenate(first).tolist())) == list(range(9))
    assert first[0][0] == first[1][0]  # the shared entity keeps one number


def test_entity_numbers_depend_on_the_key() -> None:
    rng = np.random.default_rng(4)
    tokens = [rng.integers(0, 256, (50, 16), dtype=np.uint8)]
    labels = [np.arange(50)]
    one = number_entities(labels, tokens, ["a"], entity_id_key([("a", "x")]))
    two = number_entities(labels, tokens, ["a"], entity_id_key([("a", "y")]))
    assert one[0].tolist() != two[0].tolist()
    assert one[0].tolist() != list(range(50))  # not the row order


def _brute_force_merge(sizes, pairs, compare, reject_below, dedup):  # type: ignore[no-untyped-def]
    """The rule of the module, checking every cross pair of every merge (no fast path,
    no prefetch, no sampling): the oracle for small clusters."""
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    node = {(p, r): int(offsets[p]) + r for p in range(len(sizes)) for r in range(sizes[p])}
    party = {v: k[0] for k, v in node.items()}
    cluster = {v: {v} for v in node.values()}
    ranked = sorted(pairs, key=lambda q: (-float(np.float32(q[4])),
                                          min(node[q[0], q[1]], node[q[2], q[3]]),
                                          max(node[q[0], q[1]], node[q[2], q[3]])))
    for pa, ra, pb, rb, _ in ranked:
        a, b = sorted((node[pa, ra], node[pb, rb]))
        xa, xb = cluster[a], cluster[b]
        if xa is xb:
            continue
        if not dedup and {party[x] for x in xa} & {party[y] for y in xb}:
            continue
        vetoed = False
        for x in xa:
            for y in xb:
                s, t = sorted((x, y))
                if (s, t) == (a, b):
                    continue
                got = compare(party[s], np.array([s - offsets[party[s]]]), party[t],
                              np.array([t - offsets[party[t]]]))
                vetoed |= bool(got[0] < reject_below)
        if not vetoed:
            joined = xa | xb
            for v in joined:
                cluster[v] = joined
    return {frozenset(c) for c in cluster.values()}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("dedup", [False, True])
def test_small_clusters_follow_the_rule_exactly(seed: int, dedup: bool) -> None:
    rng = np.random.default_rng(seed)
    sizes = [6, 5, 6, 4]
    pairs = []
    for _ in range(40):
        pa, pb = sorted(rng.choice(4, 2, replace=dedup))
        ra, rb = int(rng.integers(sizes[pa])), int(rng.integers(sizes[pb]))
        if (pa, ra) != (pb, rb):
            pairs.append((int(pa), ra, int(pb), rb, float(rng.choice([0.8, 0.85, 0.9, 0.95]))))
    unique = {tuple(sorted([(p[0], p[1]), (p[2], p[3])])): p for p in pairs}
    pairs = list(unique.values())
    table = rng.random((sum(sizes), sum(sizes)))
    offsets = np.concatenate([[0], np.cumsum(sizes)])

    def compare(p, rows_p, q, rows_q):  # type: ignore[no-untyped-def]
        return table[offsets[p] + rows_p, offsets[q] + rows_q].astype(np.float32)

    labels, _ = merge(sizes, pairs, dedup=dedup, compare=compare, reject_below=0.3)
    got = {}
    for p, lab in enumerate(labels):
        for r, e in enumerate(lab.tolist()):
            got.setdefault(e, set()).add(int(offsets[p]) + r)
    want = _brute_force_merge(sizes, pairs, compare, 0.3, dedup)
    assert {frozenset(c) for c in got.values()} == want


def test_large_clusters_cost_a_bounded_number_of_comparisons_per_merge() -> None:
    # dedup at a low threshold: a chain of 3,000 rows of one party, each pair weakly linked
    from hashmatch.link.entities import EXACT_CROSS_PAIRS

    n = 3000
    asked = []

    def compare(p, rows_p, q, rows_q):  # type: ignore[no-untyped-def]
        asked.append(len(rows_p))
        return np.full(len(rows_p), 0.5, np.float32)  # no veto: everything merges

    pairs = [(0, r, 0, r + 1, 0.9 - r * 1e-5) for r in range(n - 1)]
    done = []
    labels, st = merge([n], pairs, dedup=True, compare=compare, reject_below=0.2,
                       progress=lambda d, t: done.append((d, t)))
    assert st.entities == 1 and st.merged == n - 1
    assert sum(asked) <= EXACT_CROSS_PAIRS * (n - 1)
    assert len(asked) < n // 100  # scored in batches, not one call per merge
    assert done[-1] == (n - 1, n - 1)
    assert [d for d, _ in done] == sorted(d for d, _ in done)


def test_a_large_cluster_still_refuses_a_row_clearly_unlike_its_core() -> None:
    n = 200
    pairs = [(0, r, 0, r + 1, 0.95) for r in range(n - 2)]  # rows 0..n-2: one cluster
    pairs.append((0, n - 2, 0, n - 1, 0.9))  # row n-1 joins last, through row n-2

    def compare(p, rows_p, q, rows_q):  # type: ignore[no-untyped-def]
        out = np.full(len(rows_p), 0.6, np.float32)
        out[(rows_q == n - 1) & (rows_p < 3)] = 0.1  # unlike the cluster's oldest rows
        return out

    labels, st = merge([n], pairs, dedup=True, compare=compare, reject_below=0.4)
    assert st.refused_conflict == 1
    assert labels[0][n - 1] != labels[0][0]
