"""The best-scoring candidate pairs below the keep floor, held in a bounded reserve.

With an automatic threshold the pipeline keeps, between chunks, only the pairs scoring at
or above a floor (:data:`hashmatch.link.pipeline.AUTO_KEEP_FLOOR`): the threshold is not
known until every candidate has been scored, and keeping them all would cost gigabytes.
When the chosen threshold (or a party pair's own cut) lands below the floor, the pairs
between the two are needed after all. Scoring every candidate again finds them, at the
price of a second blocking and scoring pass (40% of a two-party link of 2 x 1M records
whose non-match mode sits low).

This reserve holds the highest-scoring pairs below the floor, up to ``cap`` pairs over
every party pair: while it holds ``lowest`` or above, every scored pair of that score is in
it, so a cut at or above ``lowest`` is served from memory. When it overflows it drops its
lower half and raises ``lowest``; a cut below ``lowest`` falls back to scoring again. The
pairs it returns are those a second pass at that cut would keep, in the same order.

Example
-------
>>> import numpy as np
>>> held = BelowFloor(cap=4)
>>> held.add(0, np.array([0, 1, 2]), np.array([5, 6, 7]), np.array([.25, .125, .5], np.float32))
>>> held.add(0, np.array([3, 4]), np.array([8, 9]), np.array([.375, .3125], np.float32))
>>> held.lowest  # five pairs overflowed the cap of four: the lower half went
0.375
>>> held.pairs(0, 0.375)[0].tolist(), held.pairs(0, 0.25) is None
([2, 3], True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices, Scores

__all__ = ["BelowFloor"]


class BelowFloor:
    """Pairs ``(i, j, score)`` per job below the keep floor, at most ``cap`` in all."""

    def __init__(self, cap: int) -> None:
        if cap < 2:
            msg = f"below-floor reserve: expected a cap of 2 pairs or more, got {cap}"
            raise ValueError(msg)
        self.cap = cap
        self.lowest = 0.0  # every scored pair at or above this (and below the floor) is held
        self.size = 0
        self._parts: dict[int, list[tuple[npt.NDArray[np.int32], npt.NDArray[np.int32],
                                          Scores]]] = {}

    def add(self, job: int, i: Indices, j: Indices, score: Scores) -> None:
        """Hold the pairs of one chunk of ``job`` (ascending ``(i, j)``, all below the
        floor) that reach :attr:`lowest`."""
        keep = score >= self.lowest
        if not keep.any():
            self._parts.setdefault(job, [])
            return
        # row numbers fit 32 bits (a party of 2**31 rows is refused long before)
        part = (i[keep].astype(np.int32), j[keep].astype(np.int32),
                np.ascontiguousarray(score[keep], np.float32))
        self._parts.setdefault(job, []).append(part)
        self.size += len(part[2])
        if self.size > self.cap:
            self._halve()

    def pairs(self, job: int, cut: float) -> tuple[Indices, Indices, Scores] | None:
        """The held pairs of ``job`` scoring at or above ``cut``, in chunk order; None
        when ``cut`` is below :attr:`lowest` (some of those pairs were dropped)."""
        return None if cut < self.lowest else self._held(job, cut)

    def pairs_at(self, cuts: Sequence[float]) -> list[tuple[Indices, Indices, Scores]] | None:
        """:meth:`pairs` of every job ``k`` at ``cuts[k]``; None when any of them asks for
        pairs that were dropped (then only scoring again finds them all)."""
        if min(cuts, default=1.0) < self.lowest:
            return None
        return [self._held(k, cut) for k, cut in enumerate(cuts)]

    def _held(self, job: int, cut: float) -> tuple[Indices, Indices, Scores]:
        parts = self._parts.get(job, [])
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
        i, j, s = (np.concatenate([p[k] for p in parts]) for k in range(3))
        keep = s >= cut
        return i[keep].astype(np.int64), j[keep].astype(np.int64), s[keep]

    def _halve(self) -> None:
        """Keep the top half of the cap: ``lowest`` becomes the smallest of those scores
        (or just above it, when ties at it would keep more than the cap)."""
        scores = np.concatenate([p[2] for parts in self._parts.values() for p in parts])
        k = len(scores) - self.cap // 2
        lowest = np.partition(scores, k)[k]
        if int((scores >= lowest).sum()) > self.cap:
            lowest = np.nextafter(lowest, np.float32(np.inf))
        self.lowest = float(lowest)
        self.size = 0
        for job, parts in self._parts.items():
            kept = []
            for i, j, s in parts:
                keep = s >= self.lowest
                if keep.any():
                    kept.append((i[keep], j[keep], s[keep]))
                    self.size += int(keep.sum())
            self._parts[job] = kept
