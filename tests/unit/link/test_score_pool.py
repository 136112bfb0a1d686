"""The threshold's score pool: capped by deterministic subsampling, and always finite."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from hashmatch.link.pipeline import _ScorePool, pool_stride


def _fill(cap: int, lengths: list[int]) -> _ScorePool:
    pool = _ScorePool(cap)
    for k, n in enumerate(lengths):
        pool.add(np.arange(n, dtype=np.float32) + 1000 * k)
    return pool


@pytest.mark.parametrize(("cap", "lengths"), [
    (3, [10] * 5),          # more arrays than the cap: the old loop never ended
    (0, [4, 1, 7]),         # no room at all
    (2, [0, 5, 0, 5, 5]),   # empty arrays among them
    (1, [1, 1]),
])
def test_a_cap_below_the_number_of_arrays_ends_with_one_score_of_each(
    cap: int, lengths: list[int]
) -> None:
    done: list[_ScorePool] = []
    worker = threading.Thread(target=lambda: done.append(_fill(cap, lengths)), daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert done, "adding scores did not end"
    pool = done[0]
    nonempty = sum(n > 0 for n in lengths)
    assert pool.size == len(pool.scores()) == nonempty
    # the first score of every non-empty array, in order
    want = [1000.0 * k for k, n in enumerate(lengths) if n]
    assert pool.scores().tolist() == want
    assert pool.stride == pool_stride(lengths, cap)


def test_within_the_cap_the_pool_holds_every_stride_th_score() -> None:
    lengths = [100, 37, 250]
    pool = _fill(64, lengths)
    assert pool.size <= 64 < sum(lengths)
    stride = pool.stride
    assert stride == pool_stride(lengths, 64) > 1
    want = np.concatenate([(np.arange(n, dtype=np.float32) + 1000 * k)[::stride]
                           for k, n in enumerate(lengths)])
    np.testing.assert_array_equal(pool.scores(), want)
