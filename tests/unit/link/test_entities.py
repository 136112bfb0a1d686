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
