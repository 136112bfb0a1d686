"""The reserve of pairs below the keep floor: whatever cut it answers, it answers with
every added pair at or above that cut, in the order they came; it never holds more than
its cap, and says so (None) when a cut asks for pairs it dropped."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hashmatch.link.below_floor import BelowFloor


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), cap=st.integers(2, 60), chunks=st.integers(1, 8),
       cut=st.floats(0.0, 0.5))
def test_the_reserve_answers_as_keeping_everything(seed: int, cap: int, chunks: int,
                                                   cut: float) -> None:
    rng = np.random.default_rng(seed)
    every: dict[int, list[tuple[int, int, float]]] = {0: [], 1: []}
    held = BelowFloor(cap)
    start = 0
    for _ in range(chunks):
        n = int(rng.integers(0, 20))
        i = np.sort(rng.integers(start, start + 5, n))
        start += 5
        j = rng.integers(0, 100, n)
        # coarse scores: ties are common, as with float32 Dice of short segments
        s = (rng.integers(0, 16, n) / 32).astype(np.float32)
        job = int(rng.integers(0, 2))
        held.add(job, i, j, s)
        every[job] += list(zip(i.tolist(), j.tolist(), s.tolist(), strict=True))
        assert held.size <= cap
    for job, pairs in every.items():
        got = held.pairs(job, cut)
        if cut < held.lowest:
            assert got is None
            continue
        assert got is not None
        # float32 scores against the cut as a float32, as numpy compares them anywhere
        want = [p for p in pairs if np.float32(p[2]) >= np.float32(cut)]
        assert list(zip(*(x.tolist() for x in got), strict=True)) == want


def test_a_cap_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="cap of 2"):
        BelowFloor(1)
