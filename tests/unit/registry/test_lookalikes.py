"""A registry lists look-alike entities (twins, couples, parents and children) as a batch
link does, keeps them across runs and forgets those of records that change or go; on
SQLite and on PostgreSQL alike."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hashmatch.encfile import EncodingFile
from hashmatch.link.pipeline import link_files
from hashmatch.registry import record_map
from hashmatch.registry.outputs import update_and_write
from hashmatch.registry.store import open_store

if TYPE_CHECKING:
    from conftest import Months

Record = tuple[str, bytes]


def _related(folder: Path, groups: dict[str, set[Record]]) -> set[frozenset[Record]]:
    """relationships.csv as sets of the records of the two entities of each row."""
    with open(folder / "relationships.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert all(r["entity_a"] < r["entity_b"] and r["relation"] == "look-alike" for r in rows)
    return {frozenset(groups[r["entity_a"]] | groups[r["entity_b"]]) for r in rows}


def _groups(entity_of: dict[Record, str]) -> dict[str, set[Record]]:
    out: dict[str, set[Record]] = {}
    for record, entity in entity_of.items():
        out.setdefault(entity, set()).add(record)
    return out


def _batch_groups(folder: Path, files: list[Path]) -> dict[str, set[Record]]:
    tokens = {}
    for path in files:
        with EncodingFile.open(path) as f:
            tokens[f.header.party] = {bytes(t).hex(): bytes(t) for t in np.asarray(f.row_tokens)}
    with open(folder / "entities.csv", newline="", encoding="utf-8") as fh:
        found = {(r["party"], tokens[r["party"]][r["row_token"]]): r["entity_id"]
                 for r in csv.DictReader(fh)}
    return _groups(found)


def test_a_first_run_lists_what_a_batch_link_lists(registry_url: str, months: Months,
                                                    tmp_path: Path) -> None:
    """At one threshold (the floor of the candidates looked at): the registry's candidates
    and entities are the batch link's up to ties, so its list is too."""
    run = update_and_write(registry_url, months.month0, tmp_path / "reg", dedup=True,
                           threshold=0.5)
    batch = tmp_path / "batch"
    link_files(months.month0, batch, dedup=True, threshold=0.5)
    in_registry = _related(tmp_path / "reg", _groups(record_map(registry_url)))
    in_batch = _related(batch, _batch_groups(batch, months.month0))
    assert in_registry, "synthetic households and twins give look-alikes"
    assert len(in_registry & in_batch) >= 0.9 * max(len(in_registry), len(in_batch))
    assert run.lookalikes >= len(in_registry)  # record pairs: an entity pair may have more


def test_look_alikes_persist_and_go_with_their_records(registry_url: str, months: Months,
                                                       tmp_path: Path) -> None:
    update_and_write(registry_url, months.month0, tmp_path / "m0", dedup=True)
    month0 = _related(tmp_path / "m0", _groups(record_map(registry_url)))
    again = update_and_write(registry_url, months.month0, tmp_path / "again", dedup=True)
    assert not again.events and again.lookalikes == 0  # nothing scored, nothing lost
    assert _related(tmp_path / "again", _groups(record_map(registry_url))) == month0
    update_and_write(registry_url, months.month1, tmp_path / "m1", dedup=True)
    now = record_map(registry_url)
    month1 = _related(tmp_path / "m1", _groups(now))
    with open_store(registry_url) as store:
        stored = store.query("SELECT l.lo, l.hi FROM lookalikes l")
        live = {int(r) for (r,) in store.query("SELECT rid FROM records")}
    assert all(lo in live and hi in live for lo, hi in stored)  # removed records' pairs go
    assert month1 and month0 & month1  # pairs of unchanged records are still listed
    for group in month1:
        assert group <= set(now)  # every listed record is current
