"""A registry written by hashmatch with layout 1 (``block_keys`` table, BLAKE2b digests)
opens, upgrades to layout 2 in its next run, and links that run as layout 1 did.

``tests/data/registry_v1/`` holds a 4-party registry built from month 0 by the layout-1
code (main before layout 2), the month-0 and month-1 snapshots, and the record -> entity
map and events that code's month-1 run gave (``make_fixture.py`` made them)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from hashmatch.registry import record_map, update
from hashmatch.registry.migrations import SCHEMA_VERSION, stored_version
from hashmatch.registry.store import open_store

FIXTURE = Path(__file__).resolve().parents[2] / "data" / "registry_v1"


def _months() -> tuple[list[Path], list[Path]]:
    return (sorted(FIXTURE.glob("*.month0.hme")), sorted(FIXTURE.glob("*.month1.hme")))


def _partition(url: str) -> set[frozenset[tuple[str, bytes]]]:
    groups: dict[str, set[tuple[str, bytes]]] = {}
    for record, entity in record_map(url).items():
        groups.setdefault(entity, set()).add(record)
    return {frozenset(g) for g in groups.values()}


def test_a_layout_1_registry_upgrades_and_its_run_gives_layout_1s_ids(tmp_path: Path) -> None:
    url = str(tmp_path / "registry.db")
    shutil.copyfile(FIXTURE / "registry_v1.db", url)
    with open_store(url) as store:
        assert stored_version(store) == 1
        assert store.has_table("block_keys")
    _, month1 = _months()
    result = update(url, month1)
    with open_store(url) as store:
        assert stored_version(store) == SCHEMA_VERSION == 2
        assert not store.has_table("block_keys")
        assert store.scalar("SELECT count(*) FROM record_index") == store.scalar(
            "SELECT count(*) FROM records") > 0
    expected = json.loads((FIXTURE / "month1_by_v1.json").read_text())
    got = sorted([party, token.hex(), entity] for (party, token), entity
                 in record_map(url).items())
    assert got == expected["records"]
    assert dict(sorted(result.events.items())) == expected["events"]
    assert result.events["record_moved"] > 0  # the run did more than add and remove
    assert update(url, month1).events == {}  # and the upgraded registry is settled


def test_an_upgraded_registry_clusters_as_a_new_layout_2_registry(tmp_path: Path) -> None:
    month0, month1 = _months()
    upgraded = str(tmp_path / "upgraded.db")
    shutil.copyfile(FIXTURE / "registry_v1.db", upgraded)
    update(upgraded, month1)
    fresh = str(tmp_path / "fresh.db")
    update(fresh, month0)
    update(fresh, month1)
    assert _partition(fresh) == _partition(upgraded)
