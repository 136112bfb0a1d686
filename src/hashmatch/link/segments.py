"""Field-aware similarity: compare two records only on the fields both of them have.

The CLK is the concatenation of one Bloom segment per field (see
:mod:`hashmatch.schema.model`), and a missing value leaves its segment empty. Plain Dice
over the whole CLK, ``2|a & b| / (|a| + |b|)``, then punishes a pair for a field that one
side simply does not hold: a partner file without addresses can never score well against
a CRM file with them, however well names and dates agree. That is the weakness of
whole-record CLK comparison in clkhash/anonlink.

Field-aware Dice restricts the denominator to the segments present in *both* records::

    dice_fa(a, b) = 2 |a & b| / ( sum_{s in S_a & S_b} |a_s| + sum_{s in S_a & S_b} |b_s| )

where ``S_x`` is the set of segments holding a value in record ``x``. The intersection
``|a & b|`` needs no change: a segment missing on either side contributes nothing to it.
The scorer reads it once per pair from the kernel (:func:`hashmatch.kernel.intersection_counts`,
with the per-segment counts the stable fields and swap pairs need in the same pass), and the
denominators come from the per-row, per-segment popcounts held here, so everything below
costs O(segments) per pair on small per-row arrays. A pair with no field in common scores 0.

*Nested* fields are compared by containment: a date is encoded as its components (year,
month, day), so a party that holds only the birth year encodes a subset of what a party
with the full date encodes, and a perfect agreement on everything the year-only record
says would otherwise look like a 40% disagreement. For a nested segment the denominator
is ``2 min(|a_s|, |b_s|)`` instead of ``|a_s| + |b_s|`` (the overlap coefficient); two full
dates have about equal popcounts, so for them this changes nothing. On the `hashmatch
demo` data, where the catalogue holds only birth years, this lifts pairwise recall from
0.87 to 0.91 (seed 7).

Presence comes from the ``present`` bitmap of the encoding file when available (and is
otherwise inferred as "segment not empty"): it is already visible to the coordinator as
empty segments, so nothing new is revealed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from hashmatch._types import Clks, Indices, Scores
from hashmatch.kernel import intersection_counts, popcount, segment_mask

#: Intersection counts per pair (int32 from the kernel, or int64 after adjustments).
Counts = npt.NDArray[np.int32] | npt.NDArray[np.int64]


@dataclass(frozen=True)
class SegmentView:
    """Per-row, per-segment popcounts and presence of one party's CLKs."""

    popcounts: npt.NDArray[np.uint16]  # [rows, segments]
    present: npt.NDArray[np.bool_]  # [rows, segments]
    nested: npt.NDArray[np.bool_] | None = None  # [segments]: compared by containment
    #: [rows]: popcount of each whole row (from_clks counts it; else the segments' sum)
    row_popcounts: npt.NDArray[np.int64] | None = None

    def __post_init__(self) -> None:
        if self.row_popcounts is None:
            totals = self.popcounts.sum(axis=1, dtype=np.int64)
            object.__setattr__(self, "row_popcounts", totals)

    @property
    def totals(self) -> npt.NDArray[np.int64]:
        """Popcount of each whole row, int64 (cached once per party)."""
        assert self.row_popcounts is not None  # set by __post_init__
        return self.row_popcounts

    @classmethod
    def from_clks(
        cls,
        clks: Clks,
        segments: Sequence[tuple[int, int]],
        present: npt.NDArray[np.bool_] | None = None,
        *,
        nested: Sequence[bool] | None = None,
        chunk_rows: int = 1 << 16,
    ) -> SegmentView:
        """Compute the view in row chunks (memory stays bounded for memory-mapped CLKs).

        ``segments`` are ``(start, bits)`` in CLK bit positions; ``present`` (optional)
        is ``bool[rows, len(segments)]`` aligned with ``segments``; ``nested`` flags the
        segments compared by containment (see :data:`NESTED_FIELD_TYPES`).
        """
        n = clks.shape[0]
        counts = np.zeros((n, len(segments)), dtype=np.uint16)
        totals = np.zeros(n, dtype=np.int64)
        masks = [segment_mask(start, bits, clks.shape[1]) for start, bits in segments]
        for lo in range(0, n, chunk_rows):
            block = np.asarray(clks[lo : lo + chunk_rows])
            totals[lo : lo + len(block)] = popcount(block)
            for s, mask in enumerate(masks):
                counts[lo : lo + len(block), s] = popcount(block & mask)
        seen = counts > 0 if present is None else np.asarray(present, dtype=np.bool_) | (counts > 0)
        flags = None if nested is None else np.asarray(nested, dtype=np.bool_)
        if flags is not None and flags.shape != (len(segments),):
            msg = f"nested: expected {len(segments)} flags, got shape {flags.shape}"
            raise ValueError(msg)
        return cls(counts, seen, flags if flags is not None and flags.any() else None, totals)


#: Field types whose encodings nest: a coarser value encodes a subset of the features of
#: a finer one (a year-only date against a full date).
NESTED_FIELD_TYPES = frozenset({"date"})


def clk_dice(
    inter: Counts, left: SegmentView, right: SegmentView, i: Indices, j: Indices
) -> Scores:
    """Whole-CLK Dice ``2 |a & b| / (|a| + |b|)`` per pair from intersection counts
    ``inter``; 0 where both rows are empty. The same float64 expression as the kernel's, so
    the float32 result is the kernel's to the bit."""
    total = left.totals[i] + right.totals[j]
    with np.errstate(invalid="ignore", divide="ignore"):
        dice = np.where(total > 0, np.minimum(2.0 * inter / total, 1.0), 0.0)
    return dice.astype(np.float32)


def field_aware_dice(
    inter: Counts,
    left: SegmentView,
    right: SegmentView,
    i: Indices,
    j: Indices,
) -> Scores:
    """Field-aware Dice of pairs ``(i, j)`` (the module docstring's ``dice_fa``) from their
    whole-CLK intersection counts ``inter``: the denominator counts only the segments both
    rows hold."""
    pl = left.popcounts[i].astype(np.int32)
    pr = right.popcounts[j].astype(np.int32)
    common = left.present[i] & right.present[j]
    per_segment = pl + pr
    nested = _nested(left, right)
    if nested is not None:
        per_segment[:, nested] = 2 * np.minimum(pl[:, nested], pr[:, nested])
    denom = (per_segment * common).sum(axis=1)
    out = np.zeros(len(inter), dtype=np.float32)
    ok = denom > 0
    out[ok] = np.minimum(2.0 * np.asarray(inter)[ok] / denom[ok], 1.0)
    return out


def is_nested(left: SegmentView, right: SegmentView, segment: int) -> bool:
    """Whether segment ``segment`` is compared by containment (see :func:`field_dice`)."""
    nested = _nested(left, right)
    return bool(nested is not None and nested[segment])


def _nested(left: SegmentView, right: SegmentView) -> npt.NDArray[np.bool_] | None:
    """Segments compared by containment. Both sides share one schema, so a flag known on
    either side holds for both (a file written before types were recorded has none)."""
    if left.nested is None:
        return right.nested
    if right.nested is None:
        return left.nested
    return left.nested | right.nested


#: Field Dice below which two values of a ``stable`` field clearly disagree, by field type
#: (default :data:`DISAGREE_BELOW_DEFAULT`). A date's features are its year, month, day and
#: the unordered day/month pair, so below 0.6 at most two of the four agree: another day
#: or another month, not just a mistyped year. Two different names share some bits by
#: chance (random pairs of first names: median Dice about 0.35), hence 0.5 for names.
DISAGREE_BELOW: Mapping[str, float] = MappingProxyType({"date": 0.6})
DISAGREE_BELOW_DEFAULT = 0.5


def field_dice(
    inter: Counts,
    left: SegmentView,
    right: SegmentView,
    i: Indices,
    j: Indices,
    segment: int,
) -> Scores:
    """Dice of one field per pair ``(i, j)`` from the intersection counts ``inter`` within
    segment ``segment`` (see :func:`hashmatch.kernel.intersection_counts`), by containment
    if the segment is nested; NaN where either row lacks the field."""
    shared = np.asarray(inter).astype(np.float64)
    pl = left.popcounts[i, segment].astype(np.float64)
    pr = right.popcounts[j, segment].astype(np.float64)
    nested = _nested(left, right)
    half = np.minimum(pl, pr) if nested is not None and nested[segment] else (pl + pr) / 2
    both = left.present[i, segment] & right.present[j, segment] & (half > 0)
    out = np.full(len(shared), np.nan, dtype=np.float32)
    out[both] = np.minimum(shared[both] / half[both], 1.0)
    return out


def segment_fingerprints(clks: Clks, layout: tuple[int, int]) -> npt.NDArray[np.uint64]:
    """A 64-bit fingerprint of one segment's bits per row (0 when they are all 0): rows
    with equal field values have equal fingerprints, so their counts are the values'
    frequencies (term frequency without reading a value)."""
    start, bits = layout
    first, last = start >> 6, (start + bits - 1) >> 6
    words = np.asarray(clks[:, first : last + 1], dtype=np.uint64)
    mask = np.full(last - first + 1, np.iinfo(np.uint64).max, dtype=np.uint64)
    if start & 63:
        mask[0] &= np.uint64(np.iinfo(np.uint64).max) << np.uint64(start & 63)
    end = (start + bits) & 63
    if end:
        mask[-1] &= (np.uint64(1) << np.uint64(end)) - np.uint64(1)
    out = np.zeros(len(words), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(words.shape[1]):  # a multiply-xor fold of the masked words
            out = (out ^ (words[:, k] & mask[k])) * np.uint64(0x9E3779B97F4A7C15)
            out ^= out >> np.uint64(29)
    out[~(words & mask).any(axis=1)] = 0
    return out


def aligned_segment(
    clks: Clks, layout: tuple[int, int], *, chunk_rows: int = 1 << 16
) -> npt.NDArray[np.uint64]:
    """One segment of every row moved to bit 0 of its own words: ``[rows, ceil(bits/64)]``.

    Two segments of equal width built with one key (a swap pair, see
    :func:`swapped_names`) then compare word by word, whatever their offsets in the CLK.
    Each output word is two shifted input words (a few vector operations a word, not
    unpacked bits: 300,000 rows of a 215-bit segment in 0.035 s instead of 0.1-0.2 s).
    """
    start, bits = layout
    width = (bits + 63) >> 6
    first, shift = start >> 6, start & 63
    last = (start + bits - 1) >> 6  # the segment's last word
    out = np.zeros((clks.shape[0], width), dtype=np.uint64)
    for lo in range(0, clks.shape[0], chunk_rows):
        block = np.asarray(clks[lo : lo + chunk_rows], dtype=np.uint64)
        for k in range(width):
            word = block[:, first + k] >> np.uint64(shift)
            if shift and first + k + 1 <= last:  # the rest from the next word
                word |= block[:, first + k + 1] << np.uint64(64 - shift)
            out[lo : lo + len(block), k] = word
    if bits & 63:  # bits past the segment's end
        out[:, -1] &= np.uint64((1 << (bits & 63)) - 1)
    return out


def swap_segments(
    clks: Clks, first: tuple[int, int], second: tuple[int, int], *, chunk_rows: int = 1 << 14
) -> Clks:
    """A copy of ``clks`` with the bits of two equally wide segments exchanged (``(start,
    bits)`` each): every row read the other way round, as :func:`swapped_names` reads it.
    """
    (s0, width), (t0, other) = first, second
    if width != other:
        msg = f"segments to swap must be equally wide, got {width} and {other} bits"
        raise ValueError(msg)
    out = np.empty(clks.shape, dtype=np.uint64)
    for lo in range(0, clks.shape[0], chunk_rows):
        block = np.ascontiguousarray(clks[lo : lo + chunk_rows]).view(np.uint8)
        bits = np.unpackbits(block, axis=1, bitorder="little")
        a = bits[:, s0 : s0 + width].copy()
        bits[:, s0 : s0 + width] = bits[:, t0 : t0 + width]
        bits[:, t0 : t0 + width] = a
        out[lo : lo + len(bits)] = np.packbits(bits, axis=1, bitorder="little").view("<u8")
    return out


#: Both names must agree crosswise at least this well (field Dice) for a pair to be read
#: as swapped: one shared name in another position (Lee John ~ John Smith) is not a swap.
SWAP_MIN_DICE = 0.5


@dataclass(frozen=True)
class SwapEvidence:
    """Per pair: is it better read with the two fields swapped, and by how many bits of
    intersection the swapped reading beats the straight one (0 where not swapped)."""

    swapped: npt.NDArray[np.bool_]
    gain: npt.NDArray[np.int64]


def swapped_names(
    left: tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]],
    right: tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]],
    left_view: SegmentView,
    right_view: SegmentView,
    segments: tuple[int, int],
    i: Indices,
    j: Indices,
    straight: Counts | None = None,
) -> SwapEvidence:
    """Compare the two fields of a swap pair straight and crosswise for pairs ``(i, j)``.

    ``left``/``right`` hold each side's two segments from :func:`aligned_segment`;
    ``segments`` their indices in the views; ``straight`` (if the caller has it from its
    pass over the CLKs) the pairs' intersection counts within the two segments, summed. A
    pair reads as swapped when all four values are present, both crosswise field Dice
    reach :data:`SWAP_MIN_DICE` and the crosswise intersection is larger than the straight
    one.
    """
    s, t = segments
    (la, lb), (ra, rb) = left, right
    cross_ab = intersection_counts(la, rb, i, j)[:, 0]  # left's first field, right's second
    cross_ba = intersection_counts(lb, ra, i, j)[:, 0]
    if straight is None:
        straight = intersection_counts(la, ra, i, j)[:, 0] + intersection_counts(lb, rb, i, j)[
            :, 0
        ]
    pl, pr = left_view.popcounts, right_view.popcounts
    present = (
        left_view.present[i, s] & left_view.present[i, t]
        & right_view.present[j, s] & right_view.present[j, t]
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        dice_ab = 2.0 * cross_ab / (pl[i, s].astype(np.float64) + pr[j, t])
        dice_ba = 2.0 * cross_ba / (pl[i, t].astype(np.float64) + pr[j, s])
    gain = cross_ab + cross_ba - straight
    swapped = present & (dice_ab >= SWAP_MIN_DICE) & (dice_ba >= SWAP_MIN_DICE) & (gain > 0)
    return SwapEvidence(swapped, np.where(swapped, gain, 0))


#: How far a pair's score moves from whole-record Dice toward field-aware Dice (0: plain
#: Dice, 1: fully field-aware). Fully field-aware over-trusts pairs that share only one or
#: two fields (household members whose other fields are missing look like duplicates);
#: halfway keeps most of the recall gain (benchmarks/README.md, "field-aware Dice weight").
FIELD_AWARE_WEIGHT = 0.5


def blended_dice(
    dice: Scores,
    inter: Counts,
    left: SegmentView,
    right: SegmentView,
    i: Indices,
    j: Indices,
    *,
    weight: float = FIELD_AWARE_WEIGHT,
) -> Scores:
    """``(1 - weight) * dice + weight * field_aware_dice(inter, ...)``: see
    FIELD_AWARE_WEIGHT (``dice`` and ``inter`` describe the same pairs)."""
    aware = field_aware_dice(inter, left, right, i, j)
    return ((1.0 - weight) * np.asarray(dice, np.float32) + weight * aware).astype(np.float32)
