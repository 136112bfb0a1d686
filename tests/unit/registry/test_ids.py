"""The id rules, one at a time (hashmatch.registry.ids)."""

from __future__ import annotations

from hashmatch.registry.ids import EntityInfo, assign_ids


def _info(*entities: tuple[int, str, int, int]) -> dict[int, EntityInfo]:
    return {e: EntityInfo(e, eid, run, size) for e, eid, run, size in entities}


def test_an_unchanged_entity_keeps_its_id() -> None:
    d = assign_ids([[1, 2]], {1: 7, 2: 7}, _info((7, "Ea", 1, 2)))
    assert d.owner == [7] and not d.merged and not d.split and not d.retired


def test_merge_keeps_the_oldest_entity_then_the_larger_then_the_smaller_id() -> None:
    older = _info((1, "Ez", 1, 1), (2, "Ea", 2, 5))
    assert assign_ids([[10, 20]], {10: 1, 20: 2}, older).owner == [1]
    larger = _info((1, "Ez", 1, 3), (2, "Ea", 1, 1))
    d = assign_ids([[10, 11, 12, 20]], {10: 1, 11: 1, 12: 1, 20: 2}, larger)
    assert d.owner == [1] and d.merged == [(1, 2)] and d.retired == [2]
    tie = _info((1, "Ez", 1, 1), (2, "Ea", 1, 1))
    assert assign_ids([[10, 20]], {10: 1, 20: 2}, tie).owner == [2]  # "Ea" < "Ez"


def test_split_keeps_the_id_with_the_part_holding_most_earlier_records() -> None:
    d = assign_ids([[1], [2, 3]], {1: 5, 2: 5, 3: 5}, _info((5, "Ea", 1, 3)))
    assert d.owner == [None, 5] and d.split == [(5, 0)]
    # equal parts: the part holding the entity's oldest record (smallest number)
    d = assign_ids([[4], [2]], {2: 5, 4: 5}, _info((5, "Ea", 1, 2)))
    assert d.owner == [None, 5] and d.split == [(5, 0)]
    # new records do not count: only earlier records decide
    d = assign_ids([[1, 90, 91], [2, 3]], {1: 5, 2: 5, 3: 5}, _info((5, "Ea", 1, 3)))
    assert d.owner == [None, 5]


def test_an_entity_whose_last_record_is_removed_is_retired_and_new_records_get_new_ids() -> None:
    d = assign_ids([[30]], {}, _info((5, "Ea", 1, 1)))
    assert d.owner == [None] and d.retired == [5]
