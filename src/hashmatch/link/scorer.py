"""The combined score of row pairs of two parties: field-aware CLK Dice, names read
crosswise where a swap pair allows it, stable-field disagreements, and the exact-token
evidence (:mod:`hashmatch.link.scoring` holds the formula).

One pass over the data: the kernel reads the two CLK rows of each pair once and returns
their intersection counts, over the whole CLK and within each segment the scorer needs
(stable fields, swap pairs). Every score is then derived from those counts and the
per-row popcounts each party's :class:`~hashmatch.link.segments.SegmentView` holds (counted
once per party): the whole-CLK Dice, its swapped reading, the field-aware Dice and the
field Dice of each stable field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices, Scores
from hashmatch.kernel import intersection_counts
from hashmatch.link.inputs import Encoding
from hashmatch.link.scoring import ScoringConfig, combine_scores, token_agreement
from hashmatch.link.segments import blended_dice, clk_dice, field_dice, swapped_names

__all__ = ["PairScorer"]


class PairScorer:
    """Combined score of row pairs of two parties: field-aware CLK Dice (on the fields
    both rows hold, see :mod:`hashmatch.link.segments`) adjusted by token evidence."""

    def __init__(self, parties: Sequence[Encoding], config: ScoringConfig) -> None:
        self.parties = parties
        self.config = config
        # Parties share one schema, so the segments whose own counts are needed are the
        # same for every party pair: stable fields and both fields of each swap pair.
        first = parties[0] if parties else None
        needed = set() if first is None else set(first.disagree_below)
        needed |= {s for pair in (first.swap_segments if first else ()) for s in pair}
        self._segments = sorted(needed)
        self._column = {s: 1 + k for k, s in enumerate(self._segments)}

    def __call__(self, a: int, i: Indices, b: int, j: Indices) -> Scores:
        left, right = self.parties[a], self.parties[b]
        layout = [left.segments[s] for s in self._segments]
        counts = intersection_counts(left.clks, right.clks, i, j, segments=layout)
        inter = counts[:, 0].astype(np.int64)
        swapped: dict[int, npt.NDArray[np.bool_]] = {}
        for s, t in left.swap_segments:
            # Read the pair crosswise (first and last name the wrong way round in one
            # record) where that agrees better: the intersection gains what it adds.
            found = swapped_names(
                (left.aligned[s], left.aligned[t]),
                (right.aligned[s], right.aligned[t]),
                left.view,
                right.view,
                (s, t),
                i,
                j,
                straight=counts[:, self._column[s]] + counts[:, self._column[t]],
            )
            inter += found.gain
            swapped[s] = swapped[t] = found.swapped
        dice = clk_dice(inter, left.view, right.view, i, j)
        dice = blended_dice(dice, inter, left.view, right.view, i, j)
        agree, both = token_agreement(left.tokens, right.tokens, i, j)
        disagree = self._disagreements(counts, a, i, b, j, swapped)
        return combine_scores(dice, agree, both, self.config, disagree)

    def _disagreements(
        self,
        counts: npt.NDArray[np.int32],
        a: int,
        i: Indices,
        b: int,
        j: Indices,
        swapped: Mapping[int, npt.NDArray[np.bool_]],
    ) -> list[npt.NDArray[np.bool_]]:
        """Per stable field: do the two rows hold clearly different values? (A field read
        swapped agreed crosswise, so it does not disagree.)"""
        left, right = self.parties[a], self.parties[b]
        out = []
        for s, below in left.disagree_below.items():
            d = field_dice(counts[:, self._column[s]], left.view, right.view, i, j, s)
            disagree = d < below  # NaN (a side lacks the field) compares False
            if s in swapped:
                disagree &= ~swapped[s]
            out.append(disagree)
        return out
