"""The combined score of row pairs of two parties: field-aware CLK Dice from the kernel,
names read crosswise where a swap pair allows it, stable-field disagreements, and the
exact-token evidence (:mod:`hashmatch.link.scoring` holds the formula)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices, Scores
from hashmatch.kernel import dice_candidates
from hashmatch.link.inputs import Encoding
from hashmatch.link.scoring import ScoringConfig, combine_scores, token_agreement
from hashmatch.link.segments import blended_dice, clk_intersections, field_dice, swapped_names

__all__ = ["PairScorer"]

#: Score requests up to this many pairs gather their rows before calling the kernel.
_GATHER_MAX = 4096


class PairScorer:
    """Combined score of row pairs of two parties: field-aware CLK Dice (on the fields
    both rows hold, see :mod:`hashmatch.link.segments`) adjusted by token evidence."""

    def __init__(self, parties: Sequence[Encoding], config: ScoringConfig) -> None:
        self.parties = parties
        self.config = config

    def __call__(self, a: int, i: Indices, b: int, j: Indices) -> Scores:
        left, right = self.parties[a], self.parties[b]
        if len(i) <= _GATHER_MAX:
            # The kernel prepares whole matrices per call (popcounts) and starts its
            # threads; for the handful of pairs of a conflict check, one thread on the
            # gathered rows is ~100x cheaper.
            rows = np.arange(len(i), dtype=np.int64)
            dice = dice_candidates(left.clks[i], right.clks[j], rows, rows, threads=1)
        else:
            dice = dice_candidates(left.clks, right.clks, i, j)
        swapped: dict[int, npt.NDArray[np.bool_]] = {}
        if left.swap_segments:
            dice, swapped = self._read_swaps(dice, a, i, b, j)
        dice = blended_dice(dice, left.view, right.view, i, j)
        agree, both = token_agreement(left.tokens, right.tokens, i, j)
        disagree = self._disagreements(a, i, b, j, swapped)
        return combine_scores(dice, agree, both, self.config, disagree)

    def _read_swaps(
        self, dice: Scores, a: int, i: Indices, b: int, j: Indices
    ) -> tuple[Scores, dict[int, npt.NDArray[np.bool_]]]:
        """Rescore the pairs whose swap-pair fields agree crosswise (first and last name
        the wrong way round in one record) as if the record had them the right way: the
        whole-CLK intersection gains what the crosswise reading adds. Returns the new
        Dice and, per segment of a swap pair, which pairs were read swapped."""
        left, right = self.parties[a], self.parties[b]
        inter, total = clk_intersections(dice, left.view, right.view, i, j)
        swapped: dict[int, npt.NDArray[np.bool_]] = {}
        for s, t in left.swap_segments:
            found = swapped_names(
                (left.aligned[s], left.aligned[t]),
                (right.aligned[s], right.aligned[t]),
                left.view,
                right.view,
                (s, t),
                i,
                j,
            )
            inter += found.gain
            swapped[s] = swapped[t] = found.swapped
        with np.errstate(invalid="ignore", divide="ignore"):
            new = np.where(total > 0, np.minimum(2.0 * inter / total, 1.0), 0.0)
        return new.astype(np.float32), swapped

    def _disagreements(
        self,
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
            d = field_dice(left.clks, right.clks, left.view, right.view, i, j, s, left.segments[s])
            disagree = d < below  # NaN (a side lacks the field) compares False
            if s in swapped:
                disagree &= ~swapped[s]
            out.append(disagree)
        return out
