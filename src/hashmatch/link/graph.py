"""Pairs as a graph: the one union-find and the one lone-pair test of the link stage.

Solving (one-to-one per party pair) and entity merging both see accepted pairs as edges
between rows. Both start with the same fast path: a pair whose two rows appear in no other
pair (a *lone* pair, the vast majority in practice) needs no further thought. Both then
group rows that are linked through shared pairs with a union-find (path halving; the
caller decides which root survives a union, so it can keep the larger cluster).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices

__all__ = ["UnionFind", "lone_pairs", "pair_components"]


class UnionFind:
    """Disjoint sets over ``0 .. n - 1`` (a Python list: fast for one element at a time)."""

    def __init__(self, parent: int | npt.NDArray[np.int64]) -> None:
        self.parent: list[int] = (
            list(range(parent)) if isinstance(parent, int) else np.asarray(parent).tolist()
        )

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def attach(self, root: int, under: int) -> None:
        """Make the root ``root`` a child of the root ``under``."""
        self.parent[root] = under

    def union_lower(self, a: int, b: int) -> None:
        """Join the sets of ``a`` and ``b``; the lower root survives (deterministic)."""
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def copy(self) -> UnionFind:
        twin = UnionFind(0)
        twin.parent = list(self.parent)
        return twin

    def roots(self) -> npt.NDArray[np.int64]:
        """The root of every element, by pointer jumping (depth halves each round)."""
        parent = np.array(self.parent, dtype=np.int64)
        while True:
            grand = parent[parent]
            if np.array_equal(grand, parent):
                return parent
            parent = grand


def lone_pairs(a: Indices, b: Indices) -> npt.NDArray[np.bool_]:
    """Pairs ``(a[k], b[k])`` whose two ends appear in no other pair.

    ``a`` and ``b`` number their rows in one space (a row may appear on either side); to
    test two separate spaces (left rows, right rows), offset one of them first.

    Example:
        >>> import numpy as np
        >>> lone_pairs(np.array([0, 2, 2]), np.array([1, 3, 4])).tolist()
        [True, False, False]
    """
    ends = np.concatenate([a, b])
    if len(ends) == 0:
        return np.zeros(0, np.bool_)
    _, inverse, counts = np.unique(ends, return_inverse=True, return_counts=True)
    degree = counts[inverse]
    lone: npt.NDArray[np.bool_] = (degree[: len(a)] == 1) & (degree[len(a) :] == 1)
    return lone


def pair_components(a: Indices, b: Indices) -> list[Indices]:
    """Connected components of the pairs ``(a[k], b[k])`` (ends in one numbering, as for
    :func:`lone_pairs`), each as the ascending positions ``k`` of its pairs, ordered by
    their smallest row."""
    if len(a) == 0:
        return []
    rows, ends = np.unique(np.concatenate([a, b]), return_inverse=True)
    uf = UnionFind(len(rows))
    for x, y in zip(ends[: len(a)].tolist(), ends[len(a) :].tolist(), strict=True):
        uf.union_lower(x, y)
    roots = np.array([uf.find(x) for x in ends[: len(a)].tolist()], dtype=np.int64)
    order = np.argsort(roots, kind="stable")
    bounds = np.flatnonzero(np.diff(roots[order])) + 1
    return list(np.split(order, bounds))
