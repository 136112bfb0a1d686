"""The packed per-party snapshot index, the row fingerprints it compares, and the
upgrade of a version 1 registry (BLAKE2b digests, no index) to them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from hashmatch.registry import record_map, update
from hashmatch.registry.migrations import SCHEMA_VERSION, get_meta
from hashmatch.registry.records import fingerprints
from hashmatch.registry.snapshot_index import BUCKETS, PartyIndex, load_index
from hashmatch.registry.store import open_store

if TYPE_CHECKING:
    from conftest import Months

V1 = Path(__file__).parents[2] / "data" / "registry"


def test_fingerprints_tell_every_single_byte_change() -> None:
    rng = np.random.default_rng(1)
    rows = rng.integers(0, 256, size=(64, 225), dtype=np.uint8)
    base = fingerprints(rows)
    assert base.shape == (64, 16)
    assert len({bytes(r) for r in base}) == 64
    for col in range(rows.shape[1]):
        changed = rows.copy()
        changed[7, col] ^= 1 << (col % 8)
        again = fingerprints(changed)
        assert bytes(again[7]) != bytes(base[7])
        assert (again[np.arange(64) != 7] == base[np.arange(64) != 7]).all()


def test_fingerprints_are_stable_across_releases() -> None:
    """Stored digests are compared with new ones: changing the function is a registry
    format change (a migration), never a silent edit."""
    row = np.arange(40, dtype=np.uint8).reshape(1, 40)
    assert bytes(fingerprints(row)[0]).hex() == GOLDEN


GOLDEN = "59a94905bf8250c2b9f3de6b7cd74e32"


def test_the_index_finds_held_tokens_and_only_those() -> None:
    tokens = np.array([bytes([b, 0] + [7] * 14) for b in (250, 3, 3 + 1, 0)], "S16")
    index = PartyIndex.build(tokens, tokens, np.array([1, 2, 3, 4]))
    found, pos = index.find(np.array([tokens[1], bytes(16), bytes([9] * 16)], "S16"))
    assert found.tolist() == [True, False, False]
    assert index.rids[pos[0]] == 2
    after = index.updated(np.array([bytes([9] * 16)], "S16"), np.array([b"d" * 16], "S16"),
                          np.array([5]), removed=np.array([1]))
    assert sorted(after.rids.tolist()) == [2, 3, 4, 5]


def test_a_stale_index_is_rebuilt_from_the_records(registry_url: str, months: Months) -> None:
    update(registry_url, months.month0)
    with open_store(registry_url) as store:
        before = load_index(store, 1)
        store.execute("DELETE FROM snapshot_index WHERE bucket < ?", [BUCKETS // 2])
        rebuilt = load_index(store, 1)
        assert rebuilt.tokens.tolist() == before.tokens.tolist()
        assert rebuilt.rids.tolist() == before.rids.tolist()
        held = store.scalar("SELECT count(*) FROM records WHERE party_id = 1")
        assert len(rebuilt) == held > 0


def test_the_index_follows_every_run(registry_url: str, months: Months) -> None:
    update(registry_url, months.month0)
    update(registry_url, months.month1)
    update(registry_url, months.month1[:1], delta=True,
           removed={Path(months.month1[0]).name.split(".")[0]: []})
    with open_store(registry_url) as store:
        for (party_id,) in store.query("SELECT party_id FROM parties"):
            index = load_index(store, int(party_id))
            rows = store.query("SELECT row_token, digest, rid FROM records WHERE party_id = ?",
                               [party_id])
            assert sorted((bytes(t), bytes(d), int(r)) for t, d, r in rows) == sorted(
                zip(_full(index.tokens), _full(index.digests), index.rids.tolist(), strict=True))


def test_a_version_1_registry_upgrades_without_a_change(tmp_path: Path) -> None:
    """tests/data/registry/v1.db was written by the release before the index (README)."""
    registry = tmp_path / "v1.db"
    shutil.copyfile(V1 / "v1.db", registry)
    before = record_map(str(registry))
    result = update(str(registry), [V1 / "crm.hme", V1 / "partner.hme"])
    assert all(c["added"] == c["changed"] == c["removed"] == 0
               for c in result.parties.values())
    assert not result.events
    assert record_map(str(registry)) == before
    with open_store(str(registry)) as store:
        assert get_meta(store, "schema_version") == str(SCHEMA_VERSION)


def test_an_upgraded_registry_sees_a_removal_and_nothing_else(tmp_path: Path) -> None:
    registry = tmp_path / "v1.db"
    shutil.copyfile(V1 / "v1.db", registry)
    before = record_map(str(registry))
    party, token = sorted(before)[0]
    result = update(str(registry), [], delta=True, removed={party: [token]})
    assert result.parties[party]["removed"] == 1
    after = record_map(str(registry))
    assert set(before) - set(after) == {(party, token)}


def _full(strings: np.ndarray) -> list[bytes]:
    """``S16`` values as 16-byte strings (numpy drops trailing NUL bytes on the way out)."""
    return [s.ljust(16, b"\0") for s in strings.tolist()]
