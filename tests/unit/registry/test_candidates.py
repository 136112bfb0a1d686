"""The in-memory key join of a registry run against a brute-force search."""

from __future__ import annotations

import numpy as np
import pytest

from hashmatch.registry import candidates as cand
from hashmatch.registry.arrays import distinct, ids_among, ids_outside
from hashmatch.registry.index import RecordIndex, Segment


def _brute(new: dict[int, set[int]], old: dict[int, set[int]]) -> set[tuple[int, int]]:
    everyone = {**old, **new}
    return {(min(a, b), max(a, b)) for a, keys in new.items() for b, others in everyone.items()
            if a != b and keys & others}


def _stored(old: dict[int, set[int]], dropped: np.ndarray | None = None,
            gone: np.ndarray | None = None) -> cand.Holders:
    """The keys of ``old`` in a record index of two segments: the second enters some
    records again (replacing their first entry) and drops ``dropped``; ``gone`` are left
    out by the run."""
    none = np.zeros(0, np.int64)

    def segment(rids: list[int], drop: np.ndarray) -> Segment:
        key_rids, keys = _flat({r: old[r] for r in rids})
        return Segment.build(np.array(rids, np.int64), np.zeros((len(rids), 16), np.uint8),
                             np.zeros((len(rids), 16), np.uint8), key_rids, keys, drop)

    again = sorted(old)[::7]
    index = RecordIndex({1: [(1, segment(sorted(old), none)),
                             (2, segment(again, np.r_[np.array(again, np.int64),
                                                      none if dropped is None else dropped]))]})
    return lambda wanted, most: index.holders(wanted, none if gone is None else gone, most)


def _flat(records: dict[int, set[int]]) -> tuple[np.ndarray, np.ndarray]:
    pairs = [(r, k) for r, keys in sorted(records.items()) for k in sorted(keys)]
    return (np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64))


@pytest.mark.parametrize("unit", [None, 64])  # one unit, or many merged on two threads
def test_partner_pairs_match_a_brute_force_join(unit: int | None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    if unit is not None:
        monkeypatch.setattr(cand, "_UNIT_PAIRS", unit)
        monkeypatch.setattr(cand, "_THREADS", 2)
    rng = np.random.default_rng(7)
    old = {r: set(rng.integers(-40, 40, rng.integers(0, 4)).tolist()) for r in range(300)}
    new = {r: set(rng.integers(-40, 40, rng.integers(1, 4)).tolist()) for r in range(300, 330)}
    dropped = np.array([3, 17, 99, 250], np.int64)  # removed in an earlier run
    gone = np.array([5, 14, 200], np.int64)  # changed or removed in this one
    kept = {r: k for r, k in old.items() if r not in set(dropped.tolist() + gone.tolist())}
    lo, hi, skipped = cand.partner_pairs(*_flat(new), _stored(old, dropped, gone))
    assert skipped == 0
    assert set(zip(lo.tolist(), hi.tolist(), strict=True)) == _brute(new, kept)
    assert (np.diff(lo * 1000 + hi) > 0).all()  # sorted, each pair once
    # each live record's keys are found once, however many segments held it
    assert set(_brute(new, kept)) != set(_brute(new, old))


def test_a_key_held_by_too_many_old_records_brings_no_old_partner() -> None:
    crowd = cand.MAX_BLOCK_ROWS + 1
    old = {r: {5} for r in range(crowd)} | {crowd: {6}}
    new = {crowd + 1: {5, 6}, crowd + 2: {5}}
    lo, hi, skipped = cand.partner_pairs(*_flat(new), _stored(old))
    assert skipped == 1
    assert set(zip(lo.tolist(), hi.tolist(), strict=True)) == {
        (crowd, crowd + 1), (crowd + 1, crowd + 2)}


def test_set_helpers_agree_with_numpy() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 1000, 5000)
    dropped = rng.integers(0, 1000, 300)
    assert np.array_equal(distinct(values), np.unique(values))
    assert np.array_equal(ids_outside(values, dropped), np.setdiff1d(values, dropped))
    assert len(distinct(np.zeros(0, np.int64))) == 0


@pytest.mark.parametrize(("top", "tested", "wanted"), [
    (1000, 5000, 300),          # dense record numbers: a table
    (10**12, 2000, 500),        # sparse ones: a sort
    (50, 400, 1),               # most tested numbers above every wanted one
])
def test_membership_agrees_with_numpy(top: int, tested: int, wanted: int) -> None:
    rng = np.random.default_rng(top % 97)
    ids = rng.integers(0, top, tested)
    chosen = np.r_[rng.integers(0, top, wanted - 1), ids[:1]]  # at least one hit
    found = ids_among(ids, chosen)
    assert found.dtype == np.bool_
    assert np.array_equal(found, np.isin(ids, chosen)) and found.any()
    assert not ids_among(ids, np.zeros(0, np.int64)).any()
    assert len(ids_among(np.zeros(0, np.int64), chosen)) == 0

