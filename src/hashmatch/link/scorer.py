"""The combined score of row pairs of two parties: field-aware CLK Dice, names read
crosswise where a swap pair allows it, stable-field disagreements, and the exact-token
evidence (:mod:`hashmatch.link.scoring` holds the formula).

One pass over the data: the kernel reads the two CLK rows of each pair once and returns
their intersection counts, over the whole CLK and within each segment the scorer needs
(stable fields, swap pairs). Every score is then derived from those counts and the
per-row popcounts each party's :class:`~hashmatch.link.segments.SegmentView` holds (counted
once per party): the whole-CLK Dice, its swapped reading, the field-aware Dice and the
field Dice of each stable field.

With a compiled kernel active the whole formula runs in one C loop over the pairs
(:func:`hashmatch.kernel.candidates.combined_scores`, all cores, GIL released), equal to
the bit to the numpy reference kept here as :meth:`PairScorer.reference`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices, Scores
from hashmatch.kernel import intersection_counts, segment_mask
from hashmatch.kernel.candidates import combined_plan, combined_scores
from hashmatch.link.inputs import Encoding
from hashmatch.link.scoring import ScoringConfig, combine_scores, token_agreement
from hashmatch.link.segments import (
    FIELD_AWARE_WEIGHT,
    SWAP_MIN_DICE,
    _nested,
    blended_dice,
    clk_dice,
    field_dice,
    swapped_names,
)

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
        self._plans: dict[tuple[int, int], Any] = {}
        self._token_rows: dict[tuple[int, tuple[str, ...]], npt.NDArray[np.uint8]] = {}

    def __call__(self, a: int, i: Indices, b: int, j: Indices) -> Scores:
        """Scores of row pairs ``(parties[a][i[k]], parties[b][j[k]])``."""
        plan = self._plan(a, b)
        if plan is None:
            return self.reference(a, i, b, j)
        i = np.asarray(i, dtype=np.int64)
        j = np.asarray(j, dtype=np.int64)
        if len(i) != len(j):
            msg = f"i and j must have equal lengths, got {len(i)} and {len(j)}"
            raise ValueError(msg)
        rows = (len(self.parties[a].clks), len(self.parties[b].clks))
        if len(i) and not (i.min() >= 0 and i.max() < rows[0] and j.min() >= 0
                           and j.max() < rows[1]):
            msg = f"row indices out of range for {rows[0]} x {rows[1]} rows"
            raise IndexError(msg)
        return combined_scores(plan, i, j)

    def _plan(self, a: int, b: int) -> Any:
        """The compiled inputs of parties a and b (None: numpy reference), built once."""
        if (a, b) not in self._plans:
            self._plans[(a, b)] = self._build_plan(a, b)
        return self._plans[(a, b)]

    def _build_plan(self, a: int, b: int) -> Any:
        left, right = self.parties[a], self.parties[b]
        if SWAP_MIN_DICE != 0.5:  # the C loop has the constant built in
            return None
        nseg = len(left.segments)
        words = left.clks.shape[1]
        nested = _nested(left.view, right.view)
        names = [n for n in left.tokens if n in right.tokens]
        evidence = [(n, ev) for n, ev in self.config.evidence.items() if n in names]
        dpb = self.config.dice_per_bit
        stable = list(left.disagree_below.items())
        swaps = list(left.swap_segments)
        return combined_plan(
            a=left.clks, b=right.clks, tot_a=left.view.totals, tot_b=right.view.totals,
            pop_a=left.view.popcounts, pop_b=right.view.popcounts,
            pres_a=left.view.present, pres_b=right.view.present,
            nested=np.zeros(nseg, np.uint8) if nested is None else nested,
            seg_lo=[start >> 6 for start, _ in left.segments],
            seg_hi=[(start + bits + 63) >> 6 for start, bits in left.segments],
            seg_mask=np.array([segment_mask(start, bits, words) for start, bits in
                               left.segments], np.uint64).reshape(nseg, words),
            counted=[s in self._column for s in range(nseg)],
            sw_s=[s for s, _ in swaps], sw_t=[t for _, t in swaps],
            sw_words=[left.aligned[s].shape[1] for s, _ in swaps],
            swap_rows=[*(left.aligned[s] for s, _ in swaps), *(left.aligned[t] for _, t in swaps),
                       *(right.aligned[s] for s, _ in swaps),
                       *(right.aligned[t] for _, t in swaps)],
            st_seg=[s for s, _ in stable],
            # numpy compares the float32 field Dice with the cut in float32
            st_below=np.array([below for _, below in stable], np.float32),
            tok_a=self._tokens(a, [n for n, _ in evidence]),
            tok_b=self._tokens(b, [n for n, _ in evidence]),
            tok_bonus=[max(ev.agree_bits, 0.0) * dpb for _, ev in evidence],
            tok_penalty=[max(-ev.disagree_bits, 0.0) * dpb for _, ev in evidence],
            max_bonus=self.config.max_bonus, max_penalty=self.config.max_penalty,
            factor_pow=self.config.disagreement_factor ** np.arange(len(stable) + 1),
            blend=FIELD_AWARE_WEIGHT,
        )

    def _tokens(self, p: int, names: list[str]) -> npt.NDArray[np.uint8]:
        """Party p's token columns ``names`` side by side, ``uint8[rows, columns, 16]``:
        a pair then reads a row's tokens from one or two cache lines, not one per column
        (built once per party and columns, shared by its party pairs)."""
        key = (p, tuple(names))
        if key not in self._token_rows:
            tokens, rows = self.parties[p].tokens, len(self.parties[p].clks)
            out = np.empty((rows, len(names), 16), np.uint8)
            for k, name in enumerate(names):
                out[:, k] = tokens[name]
            self._token_rows[key] = out
        return self._token_rows[key]

    def reference(self, a: int, i: Indices, b: int, j: Indices) -> Scores:
        """The numpy reference of :meth:`__call__` (the test oracle and the fallback)."""
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
