"""One-to-one assignment of accepted pairs between two parties.

Input: the pairs of one party pair whose score reached the threshold, as three arrays
``(i, j, score)`` (``i`` rows of the left party, ``j`` rows of the right one). Output: a
boolean mask selecting the pairs kept, such that no row is used twice.

The rule, in order:

1. **Uncontested pairs are kept as they are.** A pair whose two rows appear in no other
   accepted pair (the vast majority in practice) is selected without further work, so the
   cost is proportional to the contested part only.
2. **Contested groups are solved exactly when small.** The contested pairs split into
   connected components (rows linked through shared candidates). A component with at
   most :data:`EXACT_MAX_ROWS` rows on each side is solved as a maximum-weight bipartite
   matching with weight ``score - threshold + EPS`` per pair (a hand-written Hungarian
   algorithm on the small dense matrix), i.e. the set of disjoint pairs with the largest
   total evidence above the threshold. This fixes greedy's classic mistake: A1-B1 0.91,
   A1-B2 0.90, A2-B1 0.90 -> greedy keeps only A1-B1, the exact solution keeps A1-B2 and
   A2-B1. If the exact solution does not beat greedy's total weight (ties included), the
   greedy choice is kept, so the exact pass only ever changes a component to gain weight.
3. **Larger components fall back to greedy best-first** (as anonlink does): pairs in
   decreasing score, a pair is kept when neither of its rows is already used.

Ties are broken by ``(score desc, i asc, j asc)`` everywhere, so the result depends only on
the *set* of input pairs, never on their order.

Before solving, a link keeps of a party pair's accepted pairs only the *mutual best*
(:func:`mutual_best`): a pair that fewer than :data:`MUTUAL_BEST` pairs of each of its
rows outscore. A one-to-one solve rarely wants more: a party pair that shares only names
and a birth year accepts several namesakes per row, and the cut leaves them out before
they can be chosen. Against the truth it costs nothing and gains a little where
namesakes crowd (969,205 records: F1 0.9050 -> 0.9069; benchmarks/README.md, "Fewer
edges"). Equal scores are told apart by the partner rows' *tie keys*
(:func:`tie_keys`, from their row tokens), never by row numbers: namesakes with
identical fields score exactly alike, and counted alike they would all stay "best" and
chain the graph; ordered by row number, a registry (which numbers rows its own way)
would mark other pairs than a batch link. So the mutual best depend only on the set of
pairs and their rows' tokens, and an entity registry re-clusters from the mutual-best
graph alone (:mod:`hashmatch.registry.scope`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices, RowTokens, Scores
from hashmatch.link.graph import lone_pairs, pair_components

__all__ = ["EXACT_MAX_ROWS", "MUTUAL_BEST", "SolveStats", "greedy_assign", "mutual_best",
           "solve_one_to_one", "solve_party_pair", "tie_keys"]

#: A pair is solved only when it is among the best this many of each of its rows.
MUTUAL_BEST = 2

#: Largest component (rows per side) solved exactly; O(n^3) on an n x n matrix.
EXACT_MAX_ROWS = 64
#: Added to every weight so a pair exactly at the threshold still counts as a match.
EPS = 1e-6
#: The exact solution must beat greedy by more than this to replace it (float noise).
_GAIN_TOL = 1e-9


@dataclass(frozen=True)
class SolveStats:
    """What the solver did: pairs in and kept, and how the contested part was handled."""

    pairs_in: int
    pairs_kept: int
    uncontested: int  # pairs kept without contest
    components_exact: int  # contested components solved exactly
    components_changed: int  # ... of which the exact solution differed from greedy
    components_greedy: int  # contested components too large for the exact pass


#: A row's tie key: the first bytes of its row token, as an unsigned integer.
TieKeys = npt.NDArray[np.uint64]


def tie_keys(row_tokens: RowTokens) -> TieKeys:
    """Each row's tie key: the first 8 bytes of its row token, big-endian (row tokens are
    keyed hashes, so the order is as good as random and the same in every run that sees
    the row; two rows share a key with odds of 2**-64 a pair, and then tie)."""
    head = np.ascontiguousarray(np.asarray(row_tokens, np.uint8).reshape(-1, 16)[:, :8])
    return head.view(">u8").reshape(-1).astype(np.uint64)


def mutual_best(
    i: Indices, j: Indices, score: Scores, best: int = MUTUAL_BEST,
    *, key_i: TieKeys | None = None, key_j: TieKeys | None = None,
) -> npt.NDArray[np.bool_]:
    """The pairs that fewer than ``best`` other pairs of row ``i`` *and* of row ``j``
    outscore. ``key_i``, ``key_j`` (per pair: the tie keys of its rows) break equal
    scores: of a row's pairs of equal score, the one whose partner has the smaller key
    comes first. Without keys, ties count alike. Either way the mask depends only on the
    set of pairs (and their rows' keys), not on their order or the rows' numbers.

    >>> import numpy as np
    >>> i, j = np.array([0, 0, 0, 1]), np.array([0, 1, 2, 2])
    >>> s = np.array([0.9, 0.8, 0.7, 0.95], np.float32)
    >>> mutual_best(i, j, s, best=2).tolist()
    [True, True, False, True]
    >>> same = np.full(3, 0.9, np.float32)  # one row, three namesakes scored alike
    >>> mutual_best(np.zeros(3, np.int64), np.arange(3), same, best=1).tolist()
    [True, True, True]
    >>> mutual_best(np.zeros(3, np.int64), np.arange(3), same, best=1,
    ...             key_i=np.full(3, 7, np.uint64),
    ...             key_j=np.array([30, 10, 20], np.uint64)).tolist()
    [False, True, False]
    """
    i, j, score = _check(i, j, score)
    if (key_i is None) != (key_j is None):
        raise ValueError("give both key_i and key_j, or neither")
    return (_outscored(i, score, key_j) < best) & (_outscored(j, score, key_i) < best)


def solve_party_pair(
    i: Indices, j: Indices, score: Scores, *, threshold: float,
    key_i: TieKeys | None = None, key_j: TieKeys | None = None,
) -> tuple[npt.NDArray[np.bool_], SolveStats]:
    """The pairs a link keeps of one party pair's accepted pairs: the :func:`mutual_best`
    of their rows (ties broken by the tie keys ``key_i``, ``key_j`` of each pair's rows),
    solved one-to-one (:func:`solve_one_to_one`); the mask over all of them, and the
    solver's statistics over the mutual best."""
    i, j, score = _check(i, j, score)
    best = np.flatnonzero(mutual_best(i, j, score, key_i=key_i, key_j=key_j))
    kept, stats = solve_one_to_one(i[best], j[best], score[best], threshold=threshold)
    keep = np.zeros(len(i), np.bool_)
    keep[best[kept]] = True
    return keep, stats


def _outscored(rows: Indices, score: Scores, partner: TieKeys | None
               ) -> npt.NDArray[np.int64]:
    """Per pair, how many pairs of its row come first: a higher score, or the same score
    and a partner of a smaller tie key (``partner``, per pair; ``None``: none do)."""
    out = np.zeros(len(rows), np.int64)
    if not len(rows):
        return out
    neg = -score.astype(np.float64)
    order = np.lexsort((neg, rows)) if partner is None else np.lexsort((partner, neg, rows))
    r, s = rows[order], score[order]
    index = np.arange(len(r))
    new_row = np.r_[True, r[1:] != r[:-1]]
    new_place = new_row | np.r_[True, s[1:] != s[:-1]]
    if partner is not None:
        k = np.asarray(partner)[order]
        new_place |= np.r_[True, k[1:] != k[:-1]]
    row_start = np.maximum.accumulate(np.where(new_row, index, 0))
    place_start = np.maximum.accumulate(np.where(new_place, index, 0))
    out[order] = place_start - row_start
    return out


def greedy_assign(i: Indices, j: Indices, score: Scores) -> npt.NDArray[np.bool_]:
    """Greedy best-first one-to-one selection; returns the mask of kept pairs.

    Example
    -------
    >>> import numpy as np
    >>> greedy_assign(np.array([0, 0, 1]), np.array([0, 1, 0]),
    ...               np.array([0.9, 0.8, 0.8], np.float32)).tolist()
    [True, False, False]
    """
    i, j, score = _check(i, j, score)
    keep = np.zeros(len(i), dtype=bool)
    used_i: set[int] = set()
    used_j: set[int] = set()
    for k in _best_first(i, j, score).tolist():
        a, b = int(i[k]), int(j[k])
        if a not in used_i and b not in used_j:
            used_i.add(a)
            used_j.add(b)
            keep[k] = True
    return keep


def solve_one_to_one(
    i: Indices,
    j: Indices,
    score: Scores,
    *,
    threshold: float | None = None,
    exact_max_rows: int = EXACT_MAX_ROWS,
) -> tuple[npt.NDArray[np.bool_], SolveStats]:
    """Select disjoint pairs: uncontested ones, exact on small contested groups, else greedy.

    Parameters
    ----------
    i, j, score:
        Accepted pairs (all at or above ``threshold``); duplicates of ``(i, j)`` are not
        allowed.
    threshold:
        The acceptance threshold; weights are ``score - threshold``. Defaults to the
        lowest score given.
    exact_max_rows:
        Components with more rows than this on either side use greedy; 0 = greedy only.

    Returns
    -------
    (mask of kept pairs, SolveStats)

    Example
    -------
    >>> import numpy as np
    >>> keep, _ = solve_one_to_one(np.array([0, 0, 1]), np.array([0, 1, 0]),
    ...                            np.array([0.91, 0.90, 0.90], np.float32), threshold=0.8)
    >>> keep.tolist()
    [False, True, True]
    """
    i, j, score = _check(i, j, score)
    n = len(i)
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep, SolveStats(0, 0, 0, 0, 0, 0)
    base = float(score.min()) if threshold is None else float(threshold)
    right = j + (int(i.max()) + 1)  # right rows numbered after the left ones
    lone = lone_pairs(i, right)
    keep[lone] = True
    contested = np.flatnonzero(~lone)
    exact = changed = greedy = 0
    for comp in pair_components(i[contested], right[contested]):
        idx = contested[comp]
        ci, cj, cs = i[idx], j[idx], score[idx]
        g = greedy_assign(ci, cj, cs)
        n_rows_i, n_rows_j = len(np.unique(ci)), len(np.unique(cj))
        if max(n_rows_i, n_rows_j) > exact_max_rows:
            greedy += 1
            keep[idx[g]] = True
            continue
        exact += 1
        if min(n_rows_i, n_rows_j) == 1:
            # a star (one row shared by every pair): any matching is a single pair, so
            # greedy's best pair is the exact solution, and greedy is what is kept
            keep[idx[g]] = True
            continue
        weight = cs.astype(np.float64) - base + EPS
        e = _max_weight_matching(ci, cj, weight)
        if weight[e].sum() > weight[g].sum() + _GAIN_TOL:
            changed += 1
            keep[idx[e]] = True
        else:
            keep[idx[g]] = True
    stats = SolveStats(n, int(keep.sum()), int(lone.sum()), exact, changed, greedy)
    return keep, stats


def _check(i: Indices, j: Indices, score: Scores) -> tuple[Indices, Indices, Scores]:
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    score = np.asarray(score)
    if not (i.shape == j.shape == score.shape) or i.ndim != 1:
        shapes = f"{i.shape}, {j.shape}, {score.shape}"
        msg = f"i, j and score must be 1-d and of equal length, got {shapes}"
        raise ValueError(msg)
    return i, j, score


def _best_first(i: Indices, j: Indices, score: Scores) -> Indices:
    """Order: score descending, then i, then j ascending (lexsort keys: last is primary)."""
    return np.lexsort((j, i, -score.astype(np.float64)))


def _max_weight_matching(
    i: Indices, j: Indices, weight: npt.NDArray[np.float64]
) -> npt.NDArray[np.bool_]:
    """Exact maximum-weight matching of a small bipartite graph (positive weights).

    Square cost matrix of size n = max(rows per side): ``-weight`` on edges, 0 elsewhere
    (assigning a row to a non-edge means leaving it unmatched), solved by the Hungarian
    algorithm with potentials (shortest augmenting paths, O(n^3)). Rows are taken in
    ascending index order, so equal-weight alternatives resolve the same way every run.
    """
    ui, ii = np.unique(i, return_inverse=True)
    uj, jj = np.unique(j, return_inverse=True)
    n = max(len(ui), len(uj))
    cost = np.zeros((n, n))
    cost[ii, jj] = -weight
    match_col = _hungarian(cost)  # match_col[row] = column
    chosen: npt.NDArray[np.bool_] = match_col[ii] == jj
    return chosen


def _hungarian(cost: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Minimum-cost perfect assignment of a square matrix; returns the column per row."""
    n = cost.shape[0]
    inf = float("inf")
    u = np.zeros(n + 1)
    v = np.zeros(n + 1)
    p = np.zeros(n + 1, dtype=np.int64)  # p[col] = row assigned to col (1-based, 0 = none)
    way = np.zeros(n + 1, dtype=np.int64)
    for row in range(1, n + 1):
        p[0] = row
        col0 = 0
        minv = np.full(n + 1, inf)
        used = np.zeros(n + 1, dtype=bool)
        while True:
            used[col0] = True
            row0 = p[col0]
            free = ~used[1:]
            reduced = cost[row0 - 1] - u[row0] - v[1:]
            better = free & (reduced < minv[1:])
            minv[1:][better] = reduced[better]
            way[1:][better] = col0
            candidates = np.where(free, minv[1:], inf)
            col1 = int(np.argmin(candidates)) + 1  # first minimum: deterministic
            delta = candidates[col1 - 1]
            u[p[used]] += delta
            v[used] -= delta
            minv[1:][free] -= delta
            col0 = col1
            if p[col0] == 0:
                break
        while col0:
            col1 = int(way[col0])
            p[col0] = p[col1]
            col0 = col1
    match_col = np.empty(n, dtype=np.int64)
    match_col[p[1:] - 1] = np.arange(n)
    return match_col
