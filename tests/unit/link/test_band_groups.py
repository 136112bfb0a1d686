"""LSH bands joined a group at a time (when one table of every band would not fit the
memory allowed) give the chunks, pairs, statistics and whole links of the one-table join."""

from __future__ import annotations

import csv
from typing import Any

import numpy as np
import pytest

from hashmatch import kernel
from hashmatch.encode import LinkageSecret, encode_records
from hashmatch.link import blocking, memory
from hashmatch.link.blocking import BlockingConfig, candidate_pairs
from hashmatch.link.memory import TABLE_BYTES_PER_ENTRY, MemoryBudget, bands_per_group
from hashmatch.link.pipeline import link_encodings
from hashmatch.schema import load_mapping, load_schema
from hashmatch.synth import synthesize

WORDS = 8
SEGMENTS = [(s * 64, 64) for s in range(8)]
#: Loose bands (big blocks, some of them oversized) and a token column, so groups share
#: pairs with each other and with the tokens.
CONFIG = BlockingConfig(bands=7, lsh_pairs_per_row=40.0, max_block_pairs=60)


def _parties(seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray],
                                 dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    left = np.packbits(rng.random((300, WORDS * 64)) < 0.3, axis=1, bitorder="little")
    left = left.view("<u8").astype(np.uint64)
    right = left[rng.permutation(300)[:200]].copy()
    right[::3, :2] = rng.integers(0, 2**63, (len(right[::3]), 2), dtype=np.uint64)  # a field
    tokens = []
    for rows in (300, 200):
        t = np.zeros((rows, 16), np.uint8)
        t[:, 0] = rng.integers(0, 40, rows)  # 0: missing
        tokens.append({"blk": t})
    return left, right, tokens[0], tokens[1]


def _stream(dedup: bool, lsh_memory: int | None, rows: tuple[int, int] | None = None,
            config: BlockingConfig = CONFIG, segments: Any = SEGMENTS,
            ) -> tuple[list[tuple[np.ndarray, np.ndarray]], Any, Any]:
    """The chunks, stats and chunk bounds; ``lsh_memory=None``: one table of every band
    (even when bands are twins)."""
    left, right, ltok, rtok = _parties(3)
    with pytest.MonkeyPatch.context() as patch:
        if lsh_memory is None:
            patch.setattr(blocking, "_twins", lambda plan: [])
            lsh_memory = 1 << 60
        stream = candidate_pairs(left, ltok, None if dedup else right,
                                 None if dedup else rtok, config, segments=segments,
                                 chunk_pairs=150, rows=rows, lsh_memory=lsh_memory)
        assert (stream._held is None) == (lsh_memory == 1 << 60)
    bounds = list(stream.bounds)
    return [(i.copy(), j.copy()) for i, j in stream], stream.stats, bounds


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("dedup", [False, True])
@pytest.mark.parametrize("per_group", [1, 2, 3])
def test_band_groups_give_the_one_table_stream(compiled: bool, dedup: bool,
                                               per_group: int) -> None:
    rows = 300 if dedup else 500
    previous = None if compiled else kernel.set_kernel("numpy")
    try:
        want = _stream(dedup, None)
        got = _stream(dedup, per_group * rows * TABLE_BYTES_PER_ENTRY)
        part = _stream(dedup, per_group * rows * TABLE_BYTES_PER_ENTRY, rows=(40, 170))
        whole_part = _stream(dedup, None, rows=(40, 170))
    finally:
        if previous is not None:
            kernel.set_kernel(previous)
    assert bands_per_group(rows, CONFIG.bands, per_group * rows * TABLE_BYTES_PER_ENTRY) \
        == per_group
    for g, w in ((got, want), (part, whole_part)):
        assert len(g[0]) == len(w[0]) > 3
        for (gi, gj), (wi, wj) in zip(g[0], w[0], strict=True):
            np.testing.assert_array_equal(gi, wi)
            np.testing.assert_array_equal(gj, wj)
        assert g[1] == w[1]
        assert g[2] == w[2]
    stats = want[1]
    # the case is one where grouping has work to do: pairs both methods find, blocks
    # skipped as oversized
    assert stats.per_method["lsh"] + stats.per_method["tokens"] > stats.candidates
    assert stats.skipped_blocks > 0


@pytest.mark.parametrize("dedup", [False, True])
@pytest.mark.parametrize("per_group", [1, 4])
def test_twin_bands_are_joined_once_and_counted_as_often(dedup: bool, per_group: int) -> None:
    # one segment, a pool of 6 values: bands draw 3 of them, so many draw the same set
    config = BlockingConfig(bands=12, hashes_per_segment=6, values_per_segment=3,
                            lsh_pairs_per_row=40.0, max_block_pairs=60)
    left = _parties(3)[0]
    plan = [list(b) for b in blocking.plan_lsh(left, None, config).bands]
    twins = blocking._twins(plan)
    assert twins and max(twins) > 1
    groups = list(blocking._band_groups(plan, per_group))
    assert sorted(b for bands, _ in groups for b in bands) == [
        b for b, n in enumerate(twins) if n]
    assert all(times == 1 or len(bands) == 1 for bands, times in groups)
    rows = 300 if dedup else 500
    want = _stream(dedup, None, config=config, segments=None)
    got = _stream(dedup, per_group * rows * TABLE_BYTES_PER_ENTRY, config=config,
                  segments=None)
    for (gi, gj), (wi, wj) in zip(got[0], want[0], strict=True):
        np.testing.assert_array_equal(gi, wi)
        np.testing.assert_array_equal(gj, wj)
    assert got[1:] == want[1:]
    assert want[1].skipped_blocks > 0


def test_without_tokens_grouped_lsh_stands_alone() -> None:
    left, right, _, _ = _parties(5)
    config = BlockingConfig(methods=("lsh",), bands=5, lsh_pairs_per_row=20.0)
    one = candidate_pairs(left, {}, right, {}, config, segments=SEGMENTS, chunk_pairs=100)
    grouped = candidate_pairs(left, {}, right, {}, config, segments=SEGMENTS, chunk_pairs=100,
                              lsh_memory=1)
    assert grouped.methods == one.methods == ("lsh",)
    for (gi, gj), (wi, wj) in zip(grouped, one, strict=True):
        np.testing.assert_array_equal(gi, wi)
        np.testing.assert_array_equal(gj, wj)
    assert grouped.stats == one.stats


def test_a_budget_sizes_the_groups_and_refuses_only_what_one_band_cannot_fit() -> None:
    rows, tokens = 1_000_000, 2
    fixed = rows * (memory.POOL_BYTES_PER_ROW + tokens * TABLE_BYTES_PER_ENTRY)
    budget = MemoryBudget(fixed + 4 * rows * TABLE_BYTES_PER_ENTRY
                          + MemoryBudget(None).chunk_pairs * memory.BYTES_PER_CANDIDATE)
    allowed = budget.lsh_memory(rows // 2, rows // 2, tokens)
    assert bands_per_group(rows, 24, allowed) == 4
    budget.check_tables("a ~ b", rows // 2, rows // 2, tokens, lsh=True)
    assert MemoryBudget(None).lsh_memory(rows, None, tokens) is None
    assert bands_per_group(rows, 24, None) == min(
        24, memory.default_lsh_memory() // (rows * TABLE_BYTES_PER_ENTRY))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> list[Any]:
    """Three synthetic parties with within-party duplicates."""
    folder = tmp_path_factory.mktemp("bandgroups")
    synthesize(folder, entities=200, seed=5)
    schema = load_schema(folder / "schema.toml")
    out = []
    for party in ("crm", "callcentre", "catalogue"):
        with (folder / f"{party}.csv").open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        mapping = load_mapping(folder / f"{party}.mapping.toml", schema)
        out.append(encode_records(rows, schema=schema, secret=LinkageSecret(bytes(range(32))),
                                  party=party, mapping=mapping))
    return out


@pytest.mark.parametrize("dedup", [True, False])
def test_a_link_with_one_band_per_group_is_the_same_link(
    synthetic: list[Any], dedup: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    want = link_encodings(synthetic, dedup=dedup)
    seen: list[int] = []

    def spy(rows: int, bands: int, lsh_memory: int | None) -> int:
        seen.append(bands_per_group(rows, bands, lsh_memory))
        return seen[-1]

    monkeypatch.setattr(memory, "DEFAULT_LSH_SHARE", 0.0)
    monkeypatch.setattr("hashmatch.link.blocking.bands_per_group", spy)
    got = link_encodings(synthetic, dedup=dedup)
    assert seen and set(seen) == {1}
    for g, w in zip(got.pairs, want.pairs, strict=True):
        np.testing.assert_array_equal(g, w)
    assert got.threshold.value == want.threshold.value
    for g, w in zip(got.entities, want.entities, strict=True):
        np.testing.assert_array_equal(g, w)
    assert got.pair_stats == want.pair_stats
