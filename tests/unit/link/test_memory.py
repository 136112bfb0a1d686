"""The memory budget of link: sizes parsed, chunks bounded by it, results unchanged by it
while the score pool is not subsampled, and party pairs that cannot fit refused early."""

from __future__ import annotations

import numpy as np
import pytest

import hashmatch as hm
from hashmatch.errors import CostLimitError
from hashmatch.link import blocking
from hashmatch.link.memory import (
    BYTES_PER_CANDIDATE,
    DEFAULT_CHUNK_PAIRS,
    MIN_CHUNK_PAIRS,
    MemoryBudget,
    parse_memory,
)


@pytest.mark.parametrize(("text", "size"), [("4GB", 4 << 30), ("512 MB", 512 << 20),
                                            ("1.5g", 3 << 29), ("2048", 2048), (77, 77)])
def test_sizes_parse(text: str | int, size: int) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize("text", ["", "lots", "4 GiB", "-1GB", "0"])
def test_bad_sizes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="memory"):
        parse_memory(text)


def test_chunks_follow_the_budget() -> None:
    assert MemoryBudget(None).chunk_pairs == DEFAULT_CHUNK_PAIRS
    assert MemoryBudget("4GB").chunk_pairs == DEFAULT_CHUNK_PAIRS  # the default run
    assert MemoryBudget("64MB").chunk_pairs == (64 << 20) // 4 // BYTES_PER_CANDIDATE
    assert MemoryBudget("1KB").chunk_pairs == MIN_CHUNK_PAIRS


def test_a_small_budget_gives_small_chunks_and_the_same_entities(
    crm_batch: hm.EncodedBatch, calls_batch: hm.EncodedBatch,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []
    chunk_bounds = blocking._chunk_bounds

    def spy(counts: np.ndarray, chunk_pairs: int):  # type: ignore[no-untyped-def]
        seen.append(chunk_pairs)
        for start, stop in chunk_bounds(counts, chunk_pairs):
            assert stop == start + 1 or counts[start:stop].sum() <= chunk_pairs
            yield start, stop

    monkeypatch.setattr(blocking, "_chunk_bounds", spy)
    monkeypatch.setattr("hashmatch.link.memory.MIN_CHUNK_PAIRS", 20)
    budget = 20 * 4 * BYTES_PER_CANDIDATE  # chunks of 20 raw pairs
    monkeypatch.setattr("hashmatch.link.memory.POOL_BYTES_PER_ROW", 0)
    monkeypatch.setattr("hashmatch.link.memory.TABLE_BYTES_PER_ENTRY", 0)
    small = hm.link([crm_batch, calls_batch], dedup=True, memory=budget)
    assert set(seen) == {20}
    seen.clear()
    default = hm.link([crm_batch, calls_batch], dedup=True)
    assert set(seen) == {DEFAULT_CHUNK_PAIRS}
    for g, w in zip(small.entities, default.entities, strict=True):
        np.testing.assert_array_equal(g, w)
    for g, w in zip(small.pairs, default.pairs, strict=True):
        np.testing.assert_array_equal(g, w)


def test_blocking_that_cannot_fit_is_refused_before_work(
    crm_batch: hm.EncodedBatch, calls_batch: hm.EncodedBatch
) -> None:
    with pytest.raises(CostLimitError, match="over the memory budget") as info:
        hm.link([crm_batch, calls_batch], memory="100KB")
    assert "--memory" in (info.value.hint or "")
