"""The compiled one-record route (``kernel/_one_record.pyx``) answers exactly as the numpy
route (:meth:`RegistryIndex.match_reference`, the link's scorer): same status, entity,
score, candidates and explanation, for stored records (with and without their row token),
new people, perturbed copies near the cut and random records, asked by every party.
(Indexes updated by commits are compared in ``test_index_updates.py``.)"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashmatch.encode import encode_records
from hashmatch.registry.store import open_store
from hashmatch.service.index import RegistryIndex
from hashmatch.synth import synthesize


@pytest.fixture(scope="module")
def index(served: Any) -> RegistryIndex:
    with open_store(served.registry) as store:
        loaded = RegistryIndex.load(store)
    assert loaded.matcher() is not None, "the compiled route is not built"
    return loaded


@pytest.fixture(scope="module")
def crm(served: Any) -> Any:
    return _encode(served, served.synth("crm.csv"), "crm")


def _encode(served: Any, source: Any, party: str) -> Any:
    return encode_records(source, schema=served.synth("schema.toml"), secret=served.secret,
                          party=party, mapping=served.synth(f"{party}.mapping.toml"),
                          row_key=served.rowkey(party))


def _rows(clks: Any, tokens: dict[str, Any], present: Any, row_tokens: Any = None) -> Any:
    n = len(clks)
    return SimpleNamespace(clks=np.ascontiguousarray(clks, np.uint64), tokens=tokens,
                           present=np.asarray(present, np.bool_),
                           row_tokens=np.zeros((n, 16), np.uint8) if row_tokens is None
                           else row_tokens)


def _same(index: RegistryIndex, batch: Any, party: str) -> None:
    compiled, reference = index.match(batch, party), index.match_reference(batch, party)
    for k, (a, b) in enumerate(zip(compiled, reference, strict=True)):
        assert a == b, f"record {k} asked by {party}"


@pytest.mark.parametrize("party", ["crm", "partner", "somebody-new"])
def test_stored_records_with_and_without_row_tokens(served, index, party: str) -> None:
    for name in ("crm", "partner"):
        batch = _encode(served, served.synth(f"{name}.csv"), name)
        _same(index, batch, party)
        _same(index, _rows(batch.clks, batch.tokens, batch.present), party)


def test_new_people(served, index, tmp_path) -> None:
    synthesize(tmp_path / "other", entities=60, seed=4711)
    for name in ("crm", "callcentre"):
        _same(index, _encode(served, tmp_path / "other" / f"{name}.csv", name), "crm")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), flip=st.floats(0.0, 0.3),
       drop=st.floats(0.0, 0.5), party=st.sampled_from(["crm", "partner", "x"]))
def test_perturbed_and_random_records(index, crm, seed: int, flip: float, drop: float,
                                      party: str) -> None:
    """Stored encodings with bits flipped, fields dropped and tokens swapped or wiped
    (scores spread around the cut, blocks shared and lost), and wholly random CLKs."""
    rng = np.random.default_rng(seed)
    n = 24
    pick = rng.choice(len(crm.clks), n)
    clks = crm.clks[pick].copy()
    bits = rng.random((n, clks.shape[1], 64)) < flip / 4
    clks ^= np.packbits(bits, axis=2, bitorder="little").view("<u8").reshape(clks.shape)
    clks[-4:] = rng.integers(0, 2**63, clks[-4:].shape, dtype=np.int64).astype(np.uint64)
    present = crm.present[pick] & (rng.random(crm.present[pick].shape) >= drop)
    tokens = {}
    for name, column in crm.tokens.items():
        t = column[pick].copy()
        wipe, other = rng.random(n) < drop, rng.random(n) < flip
        t[wipe] = 0
        t[other] = column[rng.choice(len(column), int(other.sum()))]
        tokens[name] = t
    _same(index, _rows(clks, tokens, present), party)
    _same(index, _rows(clks, tokens, present, crm.row_tokens[pick]), "crm")


def test_a_party_pair_with_its_own_cut(index, crm) -> None:
    """A registry whose first run linked one party pair at its own (lower) threshold:
    both routes apply that cut to that pair only, and records that scored just under the
    threshold against the other party's rows now pass."""
    rng = np.random.default_rng(5)
    pick = rng.choice(len(crm.clks), 40)
    clks = crm.clks[pick].copy()
    bits = rng.random((len(pick), clks.shape[1], 64)) < 0.06
    clks ^= np.packbits(bits, axis=2, bitorder="little").view("<u8").reshape(clks.shape)
    batch = _rows(clks, {k: v[pick] for k, v in crm.tokens.items()}, crm.present[pick])
    rules = index.rules
    before = index.match(batch, "crm")
    lowered = replace(rules, pair_cuts={("crm", "partner"): rules.threshold - 0.3})
    try:
        index.rules = lowered
        cuts = index.cuts("crm")
        by_name = dict(zip(index.party_names, cuts.tolist(), strict=True))
        assert by_name["partner"] == pytest.approx(rules.threshold - 0.3)
        assert by_name["crm"] == rules.within_cut
        assert {v for k, v in by_name.items() if k not in ("crm", "partner")} <= \
            {rules.threshold}
        _same(index, batch, "crm")
        after = index.match(batch, "crm")
    finally:
        index.rules = rules
    assert after != before  # some record passes against partner's rows that did not
