"""The record ids of a run seen so far, so that a later row with an earlier row's id is
rejected (``record_id.duplicate``).

The lookup file maps each row token to the party's record id; two rows with one id would
make ``reveal`` map that id to two entities. Memory stays near 8 bytes per row whatever
the file's size: ids are kept as 64-bit keyed digests (Python's ``hash`` of a string,
SipHash under a random per-process key, computed in C), in sorted runs merged like a
binary counter (about log2 of the rows in runs). Two different ids share a digest with
probability about n**2 / 2**65 (3e-6 for ten million rows); the later row would then be
rejected as a duplicate, never two rows kept under one id.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt


class SeenIds:
    """Digests of the ids seen so far, in sorted runs of decreasing size."""

    def __init__(self) -> None:
        self._runs: list[npt.NDArray[np.int64]] = []

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs)

    def repeated(self, ids: Sequence[str]) -> npt.NDArray[np.bool_]:
        """Per id, whether an earlier id (of this call or an earlier one) is the same;
        remembers the new ones. Empty ids are never repeated.

        >>> seen = SeenIds()
        >>> seen.repeated(["a", "b", "a", ""]).tolist(), seen.repeated(["", "b", "c"]).tolist()
        ([False, False, True, False], [False, True, False])
        """
        digests = np.fromiter(map(hash, ids), dtype=np.int64, count=len(ids))
        named = np.ones(len(ids), dtype=np.bool_)
        if "" in ids:  # the usual case has none (checked in C)
            named[[i for i, rid in enumerate(ids) if not rid]] = False
        # One stable sort: equal digests stay in row order, so the first one is new;
        # sorted queries also make the binary searches below walk memory in order.
        order = np.argsort(digests, kind="stable")
        ordered = digests[order]
        seen = np.zeros(len(ids), dtype=np.bool_)  # in sorted order
        seen[1:] = ordered[1:] == ordered[:-1]
        for run in self._runs:
            at = np.minimum(np.searchsorted(run, ordered), len(run) - 1)
            seen |= run[at] == ordered
        seen &= named[order]
        self._add(ordered[~seen & named[order]])  # sorted, and distinct: each is new
        repeated = np.empty(len(ids), dtype=np.bool_)
        repeated[order] = seen
        return repeated

    def _add(self, run: npt.NDArray[np.int64]) -> None:
        """Keep ``run`` (sorted, new digests), merging runs no larger than it."""
        if not len(run):
            return
        while self._runs and len(self._runs[-1]) <= len(run):
            run = np.sort(np.concatenate([self._runs.pop(), run]), kind="stable")
        self._runs.append(run)
