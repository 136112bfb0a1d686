"""Label-free quality estimates on a link's output (hashmatch.link.quality)."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from hashmatch.link.quality import estimate_quality, linked_pairs


def _brute(entities: list[np.ndarray]) -> set[tuple[int, int, int, int]]:
    records = [(int(e), p, r) for p, rows in enumerate(entities) for r, e in enumerate(rows)]
    return {(p, r, q, s) if (p, r) < (q, s) else (q, s, p, r)
            for (e, p, r), (f, q, s) in combinations(records, 2) if e == f}


@pytest.mark.parametrize("seed", range(5))
def test_linked_pairs_are_every_pair_sharing_an_entity(seed: int) -> None:
    rng = np.random.default_rng(seed)
    entities = [rng.integers(0, 40, n) for n in (60, 25, 0, 35)]
    (a, i, b, j), total = linked_pairs(entities)
    found = set(zip(a.tolist(), i.tolist(), b.tolist(), j.tolist(), strict=True))
    assert found == _brute(entities) and total == len(found) == len(a)
    assert (a <= b).all()


def test_past_the_cap_an_even_sample_stands_for_all_pairs() -> None:
    entities = [np.zeros(300, np.int64)]  # one entity: 44,850 pairs
    (a, i, b, j), total = linked_pairs(entities, cap=1000)
    assert total == 300 * 299 // 2
    assert 900 <= len(a) <= 1000
    assert len(set(zip(i.tolist(), j.tolist(), strict=True))) == len(a)
    assert (i < j).all()


def test_the_output_gives_the_headline_figures_and_the_candidates_the_curve() -> None:
    p = np.array([0.99, 0.9, 0.6, 0.2, 0.01], np.float32)
    counts = np.array([100, 10, 10, 20, 1000])
    # one-to-one solving left 100 of the 120 candidates above 0.5: 95 sure, 5 doubtful
    output = np.r_[np.full(95, 0.99), np.full(5, 0.6)].astype(np.float32)
    est = estimate_quality([(p, counts)], 0.5, (output, len(output)))
    expected = (p * counts).sum()
    assert est["basis"] == "output"
    assert est["precision"] == pytest.approx(output.mean())
    assert est["recall"] == pytest.approx(output.sum() / expected)
    before = estimate_quality([(p, counts)], 0.5)
    assert before["basis"] == "candidates" and before["recall"] > est["recall"]
    assert est["curve"] == before["curve"]
    # a sample of the output's pairs stands for all of them
    sampled = estimate_quality([(p, counts)], 0.5, (output[::10], len(output)))
    assert sampled["recall"] == pytest.approx(output[::10].mean() * 100 / expected)
