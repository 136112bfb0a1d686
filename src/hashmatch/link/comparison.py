"""Comparison vectors: for each candidate pair, one agreement *level* per field.

Field-level Fellegi-Sunter scoring (:mod:`hashmatch.link.fellegi_sunter`) does not look at
one similarity number per pair but at how well each field agrees. This module turns the
intersection counts the kernel returns for a pair (whole CLK and every field segment, one
pass, :func:`hashmatch.kernel.intersection_counts`) and the per-row popcounts each party
holds (:class:`~hashmatch.link.segments.SegmentView`) into a small integer per field:

====================  =======================================================================
level                 meaning
====================  =======================================================================
``missing``           either record lacks the field: no evidence either way (always level 0)
``exact``             the field's exact token agrees, or its field Dice is 1
``dice>=0.9`` ...     the field Dice binned at :data:`DICE_BINS` (0.9, 0.75, 0.5)
``else``              field Dice below the last bin: the values clearly differ
``swapped``           (swap pairs only) the two name fields agree crosswise
``contained``         (dates only) one side is coarser (year only) and agrees on all it says
``exact:common``      ``exact`` on a value that many rows hold (term frequency, below)
``exact:frequent``    ``exact`` on a value held by at least 1 row in 100
====================  =======================================================================

**Term frequency.** Agreeing on a rare surname is stronger evidence than agreeing on
"Smith", and a keyed e-mail shared by 40 rows is a family address or a placeholder, not a
person. The coordinator cannot read values, but it sees how many rows of a party carry the
same field bits (equal values give equal bits): :func:`value_counts`. An ``exact``
agreement whose value's share ``sqrt(share_left * share_right)`` reaches
:data:`COMMON_SHARE` or :data:`FREQUENT_SHARE` moves to its own level
(:func:`split_by_frequency`), so the model learns a weight per frequency class (u from
random pairs gives each class its own, larger u), and EM and the quality estimate still run
over distinct patterns.

A field with an exact token (an e-mail, an id) reaches ``exact`` only when the token
agrees; when both tokens are present and differ it is capped below ``exact``. An
exact-token column without a Bloom segment is a comparison of its own with the levels
``missing`` / ``agree`` / ``disagree``. Schema match keys (surname + birth date) are not
compared here: they repeat fields already compared, and counting them again would count
that evidence twice. They set the prior match rate instead (see the model).

Everything is vectorised over the pairs of a chunk (numpy over ``int32[pairs, 1 +
segments]`` counts): no Python loop runs per pair. :class:`ComparisonLevels` describes the
comparisons of a party pair; :func:`pattern_codes` packs a vector into one integer so that
EM can run over distinct patterns instead of pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices, Tokens
from hashmatch.link.levels import dice_levels, token_agreement
from hashmatch.link.segments import Counts, SegmentView

__all__ = [
    "DICE_BINS",
    "ComparisonLevels",
    "comparison_levels",
    "comparison_vectors",
    "exact_levels",
    "exact_agreement_rates",
    "pattern_codes",
    "split_by_frequency",
    "value_counts",
]

#: Lower edges of the Dice levels below ``exact`` (a field Dice of 1 is ``exact``).
DICE_BINS = (0.9, 0.75, 0.5)
_DICE_LABELS = ("exact", "dice>=0.9", "dice>=0.75", "dice>=0.5", "else")
TOKEN_LEVELS = ("missing", "agree", "disagree")
FREQUENCY_LABELS = ("exact:common", "exact:frequent")
#: Share of a party's rows holding a value from which an exact agreement is "common" ...
COMMON_SHARE = 0.001
#: ... and "frequent" (first names such as John, a birth year, a shared family e-mail).
FREQUENT_SHARE = 0.01

Levels = npt.NDArray[np.int8]

#: Field types that people of one household share (see ComparisonLevels.household).
HOUSEHOLD_FIELD_TYPES = frozenset({"address", "postcode", "phone", "email"})
#: Field types whose exact agreement points at one person, not at a family: an e-mail
#: address (a shared family one is rare and, being shared, a "common" value) or an id.
PERSONAL_FIELD_TYPES = frozenset({"email", "id"})


@dataclass(frozen=True)
class ComparisonLevels:
    """The comparisons of a party pair and the levels each takes (level 0 is ``missing``).

    ``segments[c]`` is the CLK segment compared by comparison ``c`` (``None`` for a token
    only comparison); ``tokens[c]`` its exact-token column (``None`` if it has none).
    ``stable[c]``: the schema marks the field stable (a disagreement is strong evidence).
    """

    names: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...]
    segments: tuple[int | None, ...]
    tokens: tuple[str | None, ...]
    stable: tuple[bool, ...]
    #: Comparisons of one household (address, postcode, phone, e-mail, ...): people who
    #: live together agree on all of them at once, so their positive evidence is not
    #: independent; the model counts only the strongest of them (see fellegi_sunter).
    household: tuple[bool, ...] = ()
    #: Stable name comparisons (a first name): a clear disagreement there with a shared
    #: household or birth date marks a look-alike (twins, couples; see fellegi_sunter).
    stable_name: tuple[bool, ...] = ()
    #: Comparisons whose exact agreement points at one person (PERSONAL_FIELD_TYPES and
    #: identifier tokens): it still counts for a look-alike.
    personal: tuple[bool, ...] = ()
    #: Comparisons of name fields (first name, surname).
    name: tuple[bool, ...] = ()

    @property
    def radix(self) -> tuple[int, ...]:
        return tuple(len(labels) for labels in self.levels)

    def to_dict(self) -> dict[str, list[str]]:
        return {name: list(labels) for name, labels in zip(self.names, self.levels, strict=True)}


def comparison_levels(
    field_names: Sequence[str],
    token_kinds: Mapping[str, str],
    *,
    swap_segments: Sequence[tuple[int, int]] = (),
    nested: Sequence[bool] = (),
    stable_segments: Sequence[int] = (),
    field_types: Sequence[str] = (),
    term_frequency: bool = True,
) -> ComparisonLevels:
    """The comparisons of two parties of one schema: one per field segment (``field_names``
    in segment order), then one per ``identifier`` token column without a segment. With
    ``term_frequency`` each segment comparison also has the levels of
    :data:`FREQUENCY_LABELS` (see :func:`split_by_frequency`)."""
    swapped = {s for pair in swap_segments for s in pair}
    names: list[str] = []
    levels: list[tuple[str, ...]] = []
    segments: list[int | None] = []
    tokens: list[str | None] = []
    stable: list[bool] = []
    household: list[bool] = []
    stable_name: list[bool] = []
    personal: list[bool] = []
    is_name: list[bool] = []
    for s, name in enumerate(field_names):
        is_name.append(s < len(field_types) and field_types[s] == "name")
        personal.append(s < len(field_types) and field_types[s] in PERSONAL_FIELD_TYPES)
        household.append(s < len(field_types) and field_types[s] in HOUSEHOLD_FIELD_TYPES)
        stable_name.append(
            s in set(stable_segments) and s < len(field_types) and field_types[s] == "name"
        )
        labels: tuple[str, ...] = ("missing", *_DICE_LABELS)
        if s in swapped:
            labels += ("swapped",)
        if s < len(nested) and nested[s]:
            labels += ("contained",)
        if term_frequency:
            labels += FREQUENCY_LABELS
        names.append(name)
        levels.append(labels)
        segments.append(s)
        tokens.append(name if token_kinds.get(name) == "identifier" else None)
        stable.append(s in set(stable_segments))
    for name, kind in token_kinds.items():
        if kind == "identifier" and name not in field_names:
            names.append(name)
            levels.append(TOKEN_LEVELS)
            segments.append(None)
            tokens.append(name)
            stable.append(False)
            household.append(False)
            stable_name.append(False)
            personal.append(True)
            is_name.append(False)
    return ComparisonLevels(
        tuple(names), tuple(levels), tuple(segments), tuple(tokens), tuple(stable),
        tuple(household), tuple(stable_name), tuple(personal), tuple(is_name),
    )


def exact_levels(labels: Sequence[str]) -> npt.NDArray[np.bool_]:
    """``bool[levels]``: the levels of a comparison that are an exact agreement (``exact``
    and its frequency classes, or ``agree`` for a token-only comparison)."""
    return np.asarray([x in ("exact", "agree") or x.startswith("exact:") for x in labels],
                      np.bool_)


def comparison_vectors(
    spec: ComparisonLevels,
    counts: Counts,
    left: SegmentView,
    right: SegmentView,
    left_tokens: Mapping[str, Tokens],
    right_tokens: Mapping[str, Tokens],
    i: Indices,
    j: Indices,
    *,
    swapped: Mapping[int, npt.NDArray[np.bool_]] | None = None,
) -> Levels:
    """``int8[pairs, comparisons]``: the level of each comparison of pairs ``(i, j)``.

    ``counts`` are the kernel's intersection counts with column ``1 + s`` for segment
    ``s`` (every segment of the layout); ``swapped[s]`` marks the pairs read crosswise on
    the swap-pair segment ``s`` (:func:`hashmatch.link.segments.swapped_names`).
    """
    out = np.zeros((len(i), len(spec.names)), np.int8)
    for c, (segment, token, labels) in enumerate(
        zip(spec.segments, spec.tokens, spec.levels, strict=True)
    ):
        agree = both = None
        if token is not None and token in left_tokens and token in right_tokens:
            agree, both = token_agreement(left_tokens[token], right_tokens[token], i, j)
        if segment is None:
            if agree is not None and both is not None:
                out[both, c] = np.where(agree[both], 1, 2)
            continue
        level, missing = dice_levels(counts, left, right, i, j, segment, DICE_BINS)
        if agree is not None and both is not None:
            level[agree] = 1
            level[both & ~agree & (level == 1)] = 2  # token differs: not exact
        if "contained" in labels:
            pl = left.popcounts[i, segment].astype(np.int32)
            pr = right.popcounts[j, segment].astype(np.int32)
            coarser = 4 * np.minimum(pl, pr) < 3 * np.maximum(pl, pr)  # year only vs full
            level[(level == 1) & coarser] = labels.index("contained")
        if swapped is not None and segment in swapped and "swapped" in labels:
            level[swapped[segment]] = labels.index("swapped")
        level[missing] = 0
        if agree is not None:
            level[agree] = 1  # an agreeing exact token is exact even without Bloom bits
        out[:, c] = level
    return out


def value_counts(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.int32]:
    """For each row, how many rows of its party hold the same value fingerprint (from
    :func:`hashmatch.link.segments.segment_fingerprints`; a fingerprint 0, no value,
    counts 0)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    out = counts[inverse.reshape(-1)].astype(np.int32)
    out[values == 0] = 0
    return out


def exact_agreement_rates(
    left: npt.NDArray[np.uint64], right: npt.NDArray[np.uint64] | None
) -> tuple[float, float, float]:
    """The share of all pairs of two parties (of one party with itself when ``right`` is
    None) that agree exactly on a field, among the pairs where both hold a value, split
    as :func:`split_by_frequency` splits ``exact``: (rare, common, frequent).

    ``left``/``right`` are the value fingerprints of every row (0: no value). Counted
    from the value frequencies, so exactly, where random pairs could only bound it (a
    strong identifier's u is about 1/rows, far below what 200,000 random pairs see).
    """
    values_a, count_a = np.unique(left[left != 0], return_counts=True)
    rows_a = len(left)
    if right is None:
        held = float(count_a.sum())
        pairs = count_a * (count_a - 1) / 2.0
        total = held * (held - 1) / 2.0
        share = count_a / max(rows_a, 1)
    else:
        values_b, count_b = np.unique(right[right != 0], return_counts=True)
        _, ia, ib = np.intersect1d(values_a, values_b, assume_unique=True, return_indices=True)
        pairs = count_a[ia].astype(np.float64) * count_b[ib]
        total = float(count_a.sum()) * float(count_b.sum())
        share = np.sqrt(count_a[ia] / max(rows_a, 1) * count_b[ib] / max(len(right), 1))
    if total <= 0:
        return 0.0, 0.0, 0.0
    common = share >= COMMON_SHARE
    frequent = share >= FREQUENT_SHARE
    return (
        float(pairs[~common].sum() / total),
        float(pairs[common & ~frequent].sum() / total),
        float(pairs[frequent].sum() / total),
    )


def split_by_frequency(
    levels: Levels,
    spec: ComparisonLevels,
    count_left: npt.NDArray[np.int32],
    count_right: npt.NDArray[np.int32],
    rows_left: int,
    rows_right: int,
    i: Indices,
    j: Indices,
) -> Levels:
    """Move ``exact`` agreements on common values to the ``exact:common`` and
    ``exact:frequent`` levels, in place; returns ``levels``.

    ``count_left[r, c]`` is how many rows of the left party hold the value of its row
    ``r`` in comparison ``c`` (:func:`value_counts`), likewise ``count_right``; pair
    ``k`` is rows ``(i[k], j[k])``. At the ``exact`` level both rows hold one value,
    whose share of the two parties is ``sqrt(count_left / rows_left * count_right /
    rows_right)``; only the exact pairs' counts are gathered. An array function over the
    pairs of a chunk (no per-pair Python).
    """
    for c, labels in enumerate(spec.levels):
        if FREQUENCY_LABELS[1] not in labels:
            continue
        exact = np.flatnonzero(levels[:, c] == 1)
        if not len(exact):
            continue
        share = np.sqrt(
            count_left[i[exact], c].astype(np.float64) / max(rows_left, 1)
            * count_right[j[exact], c].astype(np.float64) / max(rows_right, 1)
        )
        column = levels[exact, c]
        column[share >= COMMON_SHARE] = labels.index(FREQUENCY_LABELS[0])
        column[share >= FREQUENT_SHARE] = labels.index(FREQUENCY_LABELS[1])
        levels[exact, c] = column
    return levels


def pattern_codes(vectors: Levels, radix: Sequence[int]) -> npt.NDArray[np.int64]:
    """Each vector as one integer (mixed radix ``radix``): equal vectors, equal codes."""
    code = np.zeros(len(vectors), np.int64)
    for c, base in enumerate(radix):
        code = code * int(base) + vectors[:, c].astype(np.int64)
    return code


def decode_patterns(codes: npt.NDArray[np.int64], radix: Sequence[int]) -> Levels:
    """The vectors of :func:`pattern_codes` back from their codes."""
    out = np.zeros((len(codes), len(radix)), np.int8)
    rest = np.asarray(codes, np.int64).copy()
    for c in range(len(radix) - 1, -1, -1):
        out[:, c] = rest % int(radix[c])
        rest //= int(radix[c])
    return out
