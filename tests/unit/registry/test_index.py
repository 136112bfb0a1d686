"""The registry's index segments: bytes that read back as written, refusal of damaged
ones, and a party's live records through appends, tombstones and compaction, against a
plain dict model, on both backends."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from hashmatch.errors import RegistryError
from hashmatch.registry import index as idx
from hashmatch.registry.index import RecordIndex, Segment
from hashmatch.registry.store import Store, open_store

Model = dict[int, tuple[bytes, bytes, frozenset[int]]]  # rid -> token, digest, keys


def _segment(model: Model, rids: list[int], dropped: list[int]) -> Segment:
    key_pairs = [(r, k) for r in rids for k in sorted(model[r][2])]
    return Segment.build(
        np.array(rids, np.int64),
        np.frombuffer(b"".join(model[r][0] for r in rids), np.uint8).reshape(-1, 16),
        np.frombuffer(b"".join(model[r][1] for r in rids), np.uint8).reshape(-1, 16),
        np.array([p[0] for p in key_pairs], np.int64), np.array([p[1] for p in key_pairs],
                                                                 np.int64),
        np.array(dropped, np.int64))


def _record(rng: np.random.Generator) -> tuple[bytes, bytes, frozenset[int]]:
    return (rng.bytes(16), rng.bytes(16),
            frozenset(rng.integers(-50, 50, rng.integers(0, 5)).tolist()))


def _live(index: RecordIndex, party: int) -> Model:
    rids, tokens, digests = index.records(party)
    keys: dict[int, set[int]] = {int(r): set() for r in rids.tolist()}
    table = index.key_table()
    for key, rid in table.tolist():
        if rid in keys:
            keys[rid].add(key)
    return {int(r): (bytes(t), bytes(d), frozenset(keys[int(r)]))
            for r, t, d in zip(rids.tolist(), tokens, digests, strict=True)}


@pytest.fixture
def store(registry_url: str) -> Iterator[Store]:
    """An empty index table on each backend (autocommit is not needed: one connection)."""
    s = open_store(registry_url, create=True)
    idx.create_table(s)
    yield s
    s.close()


def test_a_segment_reads_back_as_written() -> None:
    rng = np.random.default_rng(1)
    model = {r: _record(rng) for r in range(40)}
    seg = _segment(model, list(range(40))[::-1], [100, 7, 100])
    back = Segment.from_bytes(seg.to_bytes(), "test")
    for name in ("rids", "tokens", "digests", "keys", "holders", "dropped"):
        assert np.array_equal(getattr(back, name), getattr(seg, name)), name
    assert back.rids.tolist() == list(range(40))  # ascending
    assert back.dropped.tolist() == [7, 100]
    assert (np.diff(back.keys) >= 0).all()


@pytest.mark.parametrize("damage", ["truncated", "magic", "version", "short"])
def test_a_damaged_segment_is_refused(damage: str) -> None:
    rng = np.random.default_rng(2)
    model = {r: _record(rng) for r in range(5)}
    data = bytearray(_segment(model, list(range(5)), []).to_bytes())
    if damage == "truncated":
        data = data[:-3]
    elif damage == "magic":
        data[0] ^= 0xFF
    elif damage == "version":
        data[6] += 1
    else:
        data = data[:10]
    with pytest.raises(RegistryError, match="index segment|hashmatch reads"):
        Segment.from_bytes(bytes(data), "test")


def test_appends_tombstones_and_compaction_keep_the_live_records(store: Store) -> None:
    rng = np.random.default_rng(3)
    model = {r: _record(rng) for r in range(200)}
    other = {r: _record(rng) for r in range(200, 260)}  # another party, never touched
    index = RecordIndex({})
    assert not index.append(store, 1, _segment(model, list(model), []))
    index.append(store, 2, _segment(other, list(other), []))
    next_rid, compacted = 260, 0
    for _ in range(30):
        changed = rng.choice(sorted(model), 4, replace=False).tolist()
        removed = [r for r in rng.choice(sorted(model), 3, replace=False).tolist()
                   if r not in changed]
        for r in removed:
            del model[r]
        added = list(range(next_rid, next_rid + 5))
        next_rid += 5
        for r in changed + added:
            model[r] = _record(rng)
        compacted += index.append(store, 1, _segment(model, changed + added, changed + removed))
        assert _live(index, 1) == model
        reread = RecordIndex.load(store)
        assert _live(reread, 1) == model
        assert _live(reread, 2) == other
        assert reread.segment_count(1) == index.segment_count(1) <= idx.MAX_SEGMENTS
    assert compacted >= 1  # the tombstones passed the fraction on the way


def test_holders_find_live_keys_only(store: Store) -> None:
    rng = np.random.default_rng(4)
    model = {r: _record(rng) for r in range(100)}
    index = RecordIndex({})
    index.append(store, 1, _segment(model, list(model), []))
    model[5] = (rng.bytes(16), rng.bytes(16), frozenset({1000}))
    index.append(store, 1, _segment(model, [5], [5, 6]))
    del model[6]
    wanted = np.arange(-60, 1001, dtype=np.int64)
    rids, keys, big = index.holders(wanted, np.array([7], np.int64), 1000)
    got = sorted(zip(rids.tolist(), keys.tolist(), strict=True))
    want = sorted((r, k) for r, (_, _, ks) in model.items() if r != 7 for k in ks)
    assert (got, big) == (want, 0)
    held = {k: sum(k in ks for r, (_, _, ks) in model.items() if r != 7) for k in range(-60, 1001)}
    most = sorted(held.values())[-5]  # keys held by more are left out
    rids, keys, big = index.holders(wanted, np.array([7], np.int64), most)
    got = sorted(zip(rids.tolist(), keys.tolist(), strict=True))
    assert got == [(r, k) for r, k in want if held[k] <= most]
    assert big == sum(h > most for h in held.values()) > 0


def test_a_segment_larger_than_a_part_is_split_and_joined(store: Store,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idx, "PART_BYTES", 256)
    rng = np.random.default_rng(5)
    model = {r: _record(rng) for r in range(50)}
    RecordIndex({}).append(store, 1, _segment(model, list(model), []))
    assert store.scalar("SELECT count(*) FROM index_segments") > 3
    assert _live(RecordIndex.load(store), 1) == model
    store.execute("DELETE FROM index_segments WHERE part = 1")
    with pytest.raises(RegistryError, match="misses a part"):
        RecordIndex.load(store)
