"""The service's one-record blocking keys are the registry's own, bit for bit: the
registry's ``record_keys`` (built for whole files) is the oracle."""

from __future__ import annotations

import numpy as np
import pytest

from hashmatch.registry import candidates as cand
from hashmatch.registry.index import RecordIndex
from hashmatch.registry.records import RecordSet
from hashmatch.registry.state import RegistryState
from hashmatch.registry.store import open_store
from hashmatch.service.query_keys import QueryKeys


def _pairs(rows: np.ndarray, keys: np.ndarray) -> list[tuple[int, int]]:
    return sorted(zip(rows.tolist(), keys.tolist(), strict=True))


@pytest.fixture(scope="module")
def registry_state(served) -> RegistryState:
    with open_store(served.registry) as store:
        return RegistryState.load(store)


@pytest.mark.parametrize("seed", range(4))
def test_keys_of_random_rows_are_the_registrys(registry_state, seed: int) -> None:
    layout, plan = registry_state.layout, registry_state.plan
    assert layout is not None and plan is not None
    rng = np.random.default_rng(seed)
    n = 40
    # sparse and dense CLKs, empty rows, missing fields and missing tokens
    density = rng.choice([0.0, 0.02, 0.2, 0.6], size=(n, 1))
    bits = rng.random((n, layout.clk_bits)) < density
    clks = np.packbits(bits, axis=1, bitorder="little").view("<u8").astype(np.uint64)
    tokens = {name: rng.integers(0, 256, (n, 16), dtype=np.uint8) * (rng.random((n, 1)) < 0.7)
              for name in layout.token_names}
    tokens = {k: v.astype(np.uint8) for k, v in tokens.items()}
    present = rng.random((n, len(layout.field_names))) < 0.8
    rows = RecordSet(layout, np.arange(n, dtype=np.int64), np.zeros((n, 16), np.uint8), clks,
                     tokens, present)
    want = _pairs(*cand.record_keys(rows, plan))
    got = _pairs(*QueryKeys(plan, layout).keys(clks, tokens, present))
    assert got == want
    assert want  # the rows had keys to compare


def test_keys_of_stored_records_are_the_stored_keys(served, registry_state) -> None:
    layout = registry_state.layout
    assert layout is not None and registry_state.plan is not None
    with open_store(served.registry) as store:
        found = store.query("SELECT rid, row_token, clk, tokens, present FROM records "
                            "ORDER BY rid LIMIT 50")
        rids = [int(r[0]) for r in found]
        table = RecordIndex.load(store).key_table()
    stored = [(rid, key) for key, rid in table.tolist() if rid in set(rids)]
    rows = RecordSet.from_blobs(layout, rids, *[[bytes(r[c]) for r in found] for c in (1, 2, 3, 4)])
    got_rows, got_keys = QueryKeys(registry_state.plan, layout).keys(rows.clks, rows.tokens,
                                                                     rows.present)
    got = sorted(zip(rows.rids[got_rows].tolist(), got_keys.tolist(), strict=True))
    assert got == sorted((int(r), int(k)) for r, k in stored)
