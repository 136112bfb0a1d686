"""Invariants of solving and merging over generated pair sets."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from hashmatch.link.entities import merge_entities
from hashmatch.link.solve import greedy_assign, solve_one_to_one

scores = st.sampled_from([0.8, 0.85, 0.9, 0.95, 1.0])  # coarse: plenty of ties
bipartite = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 7), scores), max_size=40, unique_by=lambda t: t[:2]
)


def as_arrays(pairs):  # type: ignore[no-untyped-def]
    if not pairs:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    i, j, s = zip(*pairs, strict=True)
    return np.array(i, np.int64), np.array(j, np.int64), np.array(s, np.float32)


def kept(pairs, keep):  # type: ignore[no-untyped-def]
    return sorted(p for p, k in zip(pairs, keep.tolist(), strict=True) if k)


@given(bipartite)
def test_greedy_and_solver_never_use_a_row_twice(pairs) -> None:  # type: ignore[no-untyped-def]
    i, j, s = as_arrays(pairs)
    for keep in (greedy_assign(i, j, s), solve_one_to_one(i, j, s, threshold=0.8)[0]):
        assert len(set(i[keep].tolist())) == keep.sum()
        assert len(set(j[keep].tolist())) == keep.sum()


@given(bipartite)
def test_solver_is_maximal_and_at_least_as_good_as_greedy(pairs) -> None:  # type: ignore[no-untyped-def]
    i, j, s = as_arrays(pairs)
    keep, _ = solve_one_to_one(i, j, s, threshold=0.8)
    g = greedy_assign(i, j, s)
    w = s.astype(np.float64) - 0.8 + 1e-6
    assert w[keep].sum() >= w[g].sum() - 1e-9


@given(bipartite, st.randoms(use_true_random=False))
def test_solving_ignores_input_order(pairs, rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(pairs)
    rnd.shuffle(shuffled)
    for solver in (greedy_assign, lambda i, j, s: solve_one_to_one(i, j, s, threshold=0.8)[0]):
        assert kept(pairs, solver(*as_arrays(pairs))) == kept(
            shuffled, solver(*as_arrays(shuffled))
        )


multi = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 4), st.integers(0, 3), st.integers(0, 4), scores),
    max_size=40,
)


def entity_sets(labels):  # type: ignore[no-untyped-def]
    groups: dict[int, set[tuple[int, int]]] = {}
    for p, lab in enumerate(labels):
        for r, e in enumerate(lab.tolist()):
            groups.setdefault(e, set()).add((p, r))
    return sorted(sorted(g) for g in groups.values())


def fake_compare(p, rows_p, q, rows_q):  # type: ignore[no-untyped-def]
    # A deterministic, order-free score for any two rows (some clearly low).
    a = (p * 5 + rows_p) * 7919
    b = (q * 5 + rows_q) * 7919
    return ((a * b) % 10 / 10).astype(np.float32)


def run_merge(pairs, dedup, compare=None):  # type: ignore[no-untyped-def]
    pairs = [p for p in pairs if (p[0], p[1]) != (p[2], p[3]) and (dedup or p[0] != p[2])]
    cols = list(zip(*pairs, strict=True)) if pairs else [()] * 5
    pa, ra, pb, rb, s = (np.array(c) for c in cols)
    return merge_entities(
        [5, 5, 5, 5],
        pa.astype(np.int64),
        ra.astype(np.int64),
        pb.astype(np.int64),
        rb.astype(np.int64),
        s.astype(np.float32),
        dedup=dedup,
        compare=compare,
        reject_below=None if compare is None else 0.3,
    )[0]


@given(multi)
def test_entities_never_hold_two_rows_of_one_party(pairs) -> None:  # type: ignore[no-untyped-def]
    for compare in (None, fake_compare):
        for group in entity_sets(run_merge(pairs, dedup=False, compare=compare)):
            parties = [p for p, _ in group]
            assert len(parties) == len(set(parties))


@given(multi)
def test_no_entity_holds_an_explicit_non_match_it_was_checked_for(pairs) -> None:  # type: ignore[no-untyped-def]
    # Every multi-row entity was built by accepted merges only: with compare, no two of
    # its rows from different merges score below reject_below (checked at each merge).
    for group in entity_sets(run_merge(pairs, dedup=False, compare=fake_compare)):
        edges = {(a, b) for a, b, *_ in [((p[0], p[1]), (p[2], p[3])) for p in pairs]}
        for k, x in enumerate(group):
            for y in group[k + 1 :]:
                if (x, y) in edges or (y, x) in edges:
                    continue
                score = fake_compare(x[0], np.array([x[1]]), y[0], np.array([y[1]]))[0]
                assert score >= 0.3


@given(multi, st.randoms(use_true_random=False))
def test_merging_ignores_input_order(pairs, rnd) -> None:  # type: ignore[no-untyped-def]
    shuffled = list(pairs)
    rnd.shuffle(shuffled)
    flipped = [(c, d, a, b, s) for a, b, c, d, s in shuffled]  # ends swapped too
    for dedup in (False, True):
        for compare in (None, fake_compare):
            expected = entity_sets(run_merge(pairs, dedup, compare))
            assert entity_sets(run_merge(shuffled, dedup, compare)) == expected
            assert entity_sets(run_merge(flipped, dedup, compare)) == expected


@given(bipartite, st.booleans())
def test_a_star_component_is_solved_as_the_exact_matching_would(pairs, flip) -> None:  # type: ignore[no-untyped-def]
    """Components whose pairs all share one row skip the Hungarian pass: the result is
    the one the exact matching gives (a single best pair, greedy's tie-break)."""
    from hashmatch.link import solve

    star = [(0, j, sc) if not flip else (j, 0, sc) for _, j, sc in pairs]
    star = list({p[:2]: p for p in star}.values())
    i, j, s = as_arrays(star)
    keep, stats = solve_one_to_one(i, j, s, threshold=0.8)
    assert keep.sum() == (1 if len(star) else 0)
    if len(star) > 1:
        assert stats.components_exact == 1 and stats.components_changed == 0
        weight = s.astype(np.float64) - 0.8 + solve.EPS
        exact = solve._max_weight_matching(i, j, weight)
        assert weight[keep].sum() == weight[exact].sum()
        np.testing.assert_array_equal(keep, greedy_assign(i, j, s))
