"""One-to-one solving: greedy best-first, exact on small contested groups."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hashmatch.link.solve import (
    _hungarian,
    greedy_assign,
    mutual_best,
    solve_one_to_one,
    solve_party_pair,
)


def arrays(pairs: list[tuple[int, int, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    i, j, s = zip(*pairs, strict=True) if pairs else ((), (), ())
    return np.array(i, np.int64), np.array(j, np.int64), np.array(s, np.float32)


def test_greedy_takes_best_first_and_never_reuses_a_row() -> None:
    i, j, s = arrays([(0, 0, 0.9), (0, 1, 0.95), (1, 1, 0.8), (1, 0, 0.85)])
    keep = greedy_assign(i, j, s)
    assert keep.tolist() == [False, True, False, True]


def test_greedy_ties_break_by_row_then_column() -> None:
    i, j, s = arrays([(1, 0, 0.9), (0, 0, 0.9), (0, 1, 0.9)])
    assert greedy_assign(i, j, s).tolist() == [False, True, False]


def test_exact_pass_beats_greedy_on_the_classic_triangle() -> None:
    # Greedy keeps A0-B0 (0.91) alone; two pairs at 0.90 hold more evidence.
    i, j, s = arrays([(0, 0, 0.91), (0, 1, 0.90), (1, 0, 0.90)])
    keep, stats = solve_one_to_one(i, j, s, threshold=0.8)
    assert keep.tolist() == [False, True, True]
    assert stats.components_exact == 1
    assert stats.components_changed == 1


def test_exact_pass_keeps_greedy_when_weights_favour_it() -> None:
    # Near the threshold the two weaker pairs add little: one strong pair wins.
    i, j, s = arrays([(0, 0, 0.99), (0, 1, 0.81), (1, 0, 0.81)])
    keep, stats = solve_one_to_one(i, j, s, threshold=0.8)
    assert keep.tolist() == [True, False, False]
    assert stats.components_changed == 0


def test_uncontested_pairs_are_kept_and_counted() -> None:
    i, j, s = arrays([(0, 0, 0.9), (1, 1, 0.8), (2, 3, 0.85)])
    keep, stats = solve_one_to_one(i, j, s)
    assert keep.all()
    assert stats.uncontested == 3
    assert stats.pairs_kept == 3


def test_greedy_only_when_exact_is_disabled() -> None:
    i, j, s = arrays([(0, 0, 0.91), (0, 1, 0.90), (1, 0, 0.90)])
    keep, stats = solve_one_to_one(i, j, s, threshold=0.8, exact_max_rows=0)
    assert keep.tolist() == [True, False, False]
    assert stats.components_greedy == 1


def test_empty_input() -> None:
    keep, stats = solve_one_to_one(*arrays([]))
    assert keep.shape == (0,)
    assert stats.pairs_in == 0


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="equal length"):
        solve_one_to_one(np.array([0, 1]), np.array([0]), np.array([0.9], np.float32))


def test_exact_matches_brute_force_on_random_components() -> None:
    rng = np.random.default_rng(7)
    for _ in range(60):
        n_i, n_j = rng.integers(1, 5, size=2)
        cells = [(a, b) for a in range(n_i) for b in range(n_j) if rng.random() < 0.6]
        if not cells:
            continue
        s = np.round(rng.uniform(0.8, 1.0, len(cells)), 2).astype(np.float32)
        i = np.array([c[0] for c in cells])
        j = np.array([c[1] for c in cells])
        keep, _ = solve_one_to_one(i, j, s, threshold=0.8)
        weight = s.astype(np.float64) - 0.8 + 1e-6
        best = 0.0
        for r in range(1, len(cells) + 1):
            for subset in itertools.combinations(range(len(cells)), r):
                if len({i[k] for k in subset}) == r and len({j[k] for k in subset}) == r:
                    best = max(best, weight[list(subset)].sum())
        assert weight[keep].sum() == pytest.approx(best, abs=1e-6)


def test_hungarian_is_a_minimum_cost_assignment() -> None:
    cost = np.array([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]])
    cols = _hungarian(cost)
    assert sorted(cols.tolist()) == [0, 1, 2]
    assert cost[np.arange(3), cols].sum() == 5.0


def test_mutual_best_keeps_a_pair_among_the_best_of_both_its_rows() -> None:
    """Row 0 of the left party has three candidates; its third-best pair is out even
    though it is the best of its right row. Ties count alike (two pairs scoring the same
    are both the best), and the mask does not depend on the order of the pairs."""
    i = np.array([0, 0, 0, 1, 2, 2])
    j = np.array([0, 1, 2, 3, 4, 5])
    s = np.array([0.9, 0.8, 0.7, 0.6, 0.75, 0.75], np.float32)
    assert mutual_best(i, j, s, best=2).tolist() == [True, True, False, True, True, True]
    assert mutual_best(i, j, s, best=1).tolist() == [True, False, False, True, True, True]
    order = np.array([5, 2, 0, 4, 1, 3])
    assert mutual_best(i[order], j[order], s[order], best=2).tolist() == \
        mutual_best(i, j, s, best=2)[order].tolist()
    # the right row's side counts too: row 0 of the right party is row 0's and row 3's best
    i2, j2 = np.array([0, 3, 4]), np.array([0, 0, 0])
    s2 = np.array([0.9, 0.8, 0.7], np.float32)
    assert mutual_best(i2, j2, s2, best=2).tolist() == [True, True, False]


def test_a_party_pairs_kept_pairs_are_its_mutual_best_solved() -> None:
    """solve_party_pair keeps what solve_one_to_one keeps of the mutual best, and
    nothing outside them: row 0's third candidate (the best of its right row, 2) is out,
    so row 1 gets right row 2."""
    i = np.array([0, 0, 0, 1])
    j = np.array([0, 1, 2, 2])
    s = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    keep, stats = solve_party_pair(i, j, s, threshold=0.5)
    assert keep.tolist() == [True, False, False, True]
    assert stats.pairs_in == 3  # the solver saw the mutual best only
