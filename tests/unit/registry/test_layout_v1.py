"""Registries written by older hashmatch layouts open, upgrade to the current layout in
their next run, and link that run as the old code did: layout 1 (``block_keys`` table,
BLAKE2b digests; upgraded through layout 2), layout 2 (a ``record_index`` row per
record) and layout 3 (no ``lookalikes`` table).

``tests/data/registry_v1/`` holds a 4-party registry built from month 0 by the layout-1
code (main before layout 2), the month-0 and month-1 snapshots, and the record -> entity
map and events that code's month-1 run gave; ``tests/data/registry_v2/`` the same of the
layout-2 code, ``tests/data/registry_v3/`` of the layout-3 code, from the same snapshots
(each folder's ``make_fixture.py`` made them)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from hashmatch.registry import record_map, update
from hashmatch.registry.index import RecordIndex
from hashmatch.registry.migrations import SCHEMA_VERSION, stored_version
from hashmatch.registry.store import Store, open_store

DATA = Path(__file__).resolve().parents[2] / "data"
SNAPSHOTS = DATA / "registry_v1"
#: layout -> the table only that layout has
OLD_TABLE = {1: "block_keys", 2: "record_index", 3: None}


def _months() -> tuple[list[Path], list[Path]]:
    return (sorted(SNAPSHOTS.glob("*.month0.hme")), sorted(SNAPSHOTS.glob("*.month1.hme")))


def _indexed(store: Store) -> list[tuple[int]]:
    """The record numbers the index segments hold live, ascending."""
    index = RecordIndex.load(store)
    rids = np.concatenate([index.records(int(p))[0]
                           for (p,) in store.query("SELECT party_id FROM parties")])
    return [(int(r),) for r in np.sort(rids)]


def _partition(url: str) -> set[frozenset[tuple[str, bytes]]]:
    groups: dict[str, set[tuple[str, bytes]]] = {}
    for record, entity in record_map(url).items():
        groups.setdefault(entity, set()).add(record)
    return {frozenset(g) for g in groups.values()}


def _copy(layout: int, tmp_path: Path) -> str:
    url = str(tmp_path / "registry.db")
    shutil.copyfile(DATA / f"registry_v{layout}" / f"registry_v{layout}.db", url)
    return url


@pytest.mark.parametrize("layout", [1, 2, 3])
def test_an_old_registry_upgrades_and_its_run_gives_the_old_codes_ids(
        tmp_path: Path, layout: int) -> None:
    url = _copy(layout, tmp_path)
    with open_store(url) as store:
        assert stored_version(store) == layout
        old = OLD_TABLE[layout]
        assert old is None or store.has_table(old)
        assert not store.has_table("lookalikes")
    _, month1 = _months()
    result = update(url, month1)
    with open_store(url) as store:
        assert stored_version(store) == SCHEMA_VERSION == 4
        assert store.has_table("lookalikes")
        assert not store.has_table("block_keys")
        assert not store.has_table("record_index")
        assert _indexed(store) == store.query("SELECT rid FROM records ORDER BY rid")
    expected = json.loads((DATA / f"registry_v{layout}" / f"month1_by_v{layout}.json")
                          .read_text())
    got = sorted([party, token.hex(), entity] for (party, token), entity
                 in record_map(url).items())
    assert got == expected["records"]
    assert dict(sorted(result.events.items())) == expected["events"]
    assert result.events["record_moved"] > 0  # the run did more than add and remove
    assert update(url, month1).events == {}  # and the upgraded registry is settled


@pytest.mark.parametrize("layout", [1, 2, 3])
def test_an_upgraded_registry_clusters_as_a_new_registry(tmp_path: Path, layout: int) -> None:
    month0, month1 = _months()
    upgraded = _copy(layout, tmp_path)
    update(upgraded, month1)
    fresh = str(tmp_path / "fresh.db")
    update(fresh, month0)
    update(fresh, month1)
    assert _partition(fresh) == _partition(upgraded)
