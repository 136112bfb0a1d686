"""Look-alike entities a link kept apart: twins, couples, parents and children.

Two records of one family agree on much of what identifies a person: a surname, an
address, a phone, an e-mail, even a birth date (twins). Scoring keeps most of them apart,
but a data steward wants to see them: a household view, a second look at a pair that
could also be one person with a badly mistyped first name. This module lists them from
the candidates the link scored anyway, as pairs of *entities*, never merging them.

A pair of records in two different entities is a **look-alike** when (field types and
``stable`` flags from the schema; levels from :mod:`hashmatch.link.comparison`, computed
from the encodings only):

* it agrees exactly on a surname: a ``name`` field not marked ``stable`` (a schema
  without one has no look-alikes);
* it agrees exactly on a household field (address, phone, e-mail), or on a full birth
  date that, with the surname, strangers are unlikely to share (:data:`CHANCE`: fewer
  than 0.01 rows of a party expected to hold both by chance; a year-only date never
  counts); and
* it clearly disagrees (level ``else``) on a stable field: a first name, a birth date.

Cost: the surname and household agreements are read from per-row fingerprints of the
field bits (equal values, equal bits) for every kept candidate pair in different
entities, a few array compares; only the pairs passing both get comparison vectors.

With ``--scoring fs`` the candidates kept are those at or above the probability cut, so
fewer look-alikes are seen than with the Dice score (which keeps every candidate above
its keep floor).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices
from hashmatch.link.comparison import ComparisonLevels, exact_levels, value_counts
from hashmatch.link.fs_scorer import FAMILY_FIELD_TYPES, ProbabilisticScorer
from hashmatch.link.inputs import Encoding
from hashmatch.link.relationships import Relationships
from hashmatch.link.segments import segment_fingerprints

__all__ = [
    "LookalikeFilter", "by_entity_pair", "classify", "find_lookalikes", "joined_pairs",
    "lookalikes_among",
]

#: A shared surname and full birth date count as family evidence when fewer rows than
#: this are expected to share both by chance: a per-record rate, below the share of
#: people who are twins (synth: 1.4%). Measured on synth, 4 parties, such pairs without a
#: shared home: any chance, 10,000 people 37 pairs (25 twins), 500,000 people 31,519
#: (1,522 twins); below 0.05, 5,484 (841) at 500,000; below 0.01, 18 (17) and 268 (60).
CHANCE = 0.01
#: Candidate pairs given comparison vectors at once (bounded memory).
_PAIRS_AT_ONCE = 1 << 20


@dataclass(frozen=True)
class LookalikeFilter:
    """What a pair must share to be looked at: per party, the field fingerprints of its
    surname and anchor comparisons (see the module doc) and the rows whose date anchors
    are coarse. Plain arrays: the Dask engine ships it to the workers that hold the
    candidates, which send back only the pairs that pass."""

    comparisons: tuple[int, ...]  # the scorer's comparisons held, surnames first ...
    surnames: tuple[int, ...]  # ... and where surnames and anchors are among them
    anchors: tuple[int, ...]
    fingerprints: tuple[npt.NDArray[np.uint64], ...]  # per party: [rows, columns]
    coarse: tuple[npt.NDArray[np.bool_], ...]  # per party: [rows, columns]
    #: per party: [rows, columns], rows of the party holding the row's value (surnames
    #: and dates only: how likely strangers share them)
    counts: tuple[npt.NDArray[np.int32], ...]
    dates: tuple[int, ...]  # where the date anchors (stable, not household) are
    held: tuple[npt.NDArray[np.bool_], ...]  # per party and column: any row holds a value

    @staticmethod
    def of(scorer: ProbabilisticScorer) -> LookalikeFilter | None:
        """The filter of the scorer's parties; None when the schema has no surname, no
        household or stable field to share, no stable field to clash on, or more
        comparisons than a field mask holds."""
        spec, parties = scorer.spec, scorer.parties
        types = [_field_type(parties[0], spec, c) for c in range(len(spec.names))]
        surnames = [c for c, t in enumerate(types)
                    if t == "name" and not spec.stable[c] and spec.segments[c] is not None]
        anchors = [c for c, t in enumerate(types) if spec.segments[c] is not None
                   and (t in FAMILY_FIELD_TYPES or (spec.stable[c] and t != "name"))]
        if not surnames or not anchors or not any(spec.stable) or len(spec.names) > 62:
            return None  # (the field masks are 64-bit integers, in the registry too)
        columns = surnames + anchors
        coarse = _coarse_dates(parties, spec, columns)
        fingerprints = tuple(_fingerprints(p, spec, columns) for p in parties)
        dates = [k for k, c in enumerate(columns) if c in anchors and spec.stable[c]]
        counts = tuple(_value_counts(f, list(range(len(surnames))) + dates)
                       for f in fingerprints)
        return LookalikeFilter(
            tuple(columns),
            tuple(range(len(surnames))),
            tuple(range(len(surnames), len(columns))),
            fingerprints,
            tuple(coarse),
            counts,
            tuple(dates),
            tuple(np.asarray(c.any(axis=0), np.bool_) for c in counts),
        )

    def chance(self, a: int, i: Indices, b: int, j: Indices) -> npt.NDArray[np.float64]:
        """Per pair, the rows of either party expected to share a row's surname and birth
        date by chance (its surname's rows times its date's rows over the party's rows,
        the larger side): what makes a shared surname and date family evidence or not."""
        dates = [k for k in self.dates if self.held[a][k] or self.held[b][k]]
        out = np.full(len(i), np.inf)
        for s in self.surnames:
            for d in dates:
                side_a = self.counts[a][i, s] * self.counts[a][i, d] / max(len(self.counts[a]), 1)
                side_b = self.counts[b][j, s] * self.counts[b][j, d] / max(len(self.counts[b]), 1)
                out = np.minimum(out, np.maximum(side_a, side_b))
        return out

    def select(
        self, a: int, i: Indices, b: int, j: Indices, entities: Sequence[npt.NDArray[np.int64]]
    ) -> tuple[Indices, Indices]:
        """The pairs of ``(i, j)`` in two different entities that agree on a surname and
        on an anchor."""
        keep = entities[a][i] != entities[b][j]
        keep &= self._agree(a, i, b, j, self.surnames)
        keep[keep] &= self._agree(a, i[keep], b, j[keep], self.anchors)
        return i[keep], j[keep]

    def _agree(self, a: int, i: Indices, b: int, j: Indices,
               columns: tuple[int, ...]) -> npt.NDArray[np.bool_]:
        """Equal field bits on one of ``columns`` at least (fingerprint 0: the field is
        missing), not counting a coarse date (strangers share a surname and a year)."""
        left, right = self.fingerprints[a], self.fingerprints[b]
        out = np.zeros(len(i), np.bool_)
        for c in columns:
            x = left[i, c]
            out |= (x == right[j, c]) & (x != 0) & ~self.coarse[a][i, c] & ~self.coarse[b][j, c]
        return out


def find_lookalikes(
    parties: Sequence[Encoding],
    token_kinds: Mapping[str, str],
    jobs: Sequence[tuple[int, int]],
    candidates: Sequence[tuple[Indices, Indices]],
    entities: Sequence[npt.NDArray[np.int64]],
) -> Relationships:
    """The look-alike entity pairs among ``candidates`` (per job, the row pairs the link
    kept), given each party's row entities (see the module doc)."""
    scorer = ProbabilisticScorer(parties, token_kinds)
    pick = LookalikeFilter.of(scorer)
    if pick is None:
        return Relationships.none(scorer.spec.names)
    selected = []
    for (a, b), (i, j) in zip(jobs, candidates, strict=True):
        parts = [pick.select(a, i[k : k + _PAIRS_AT_ONCE], b, j[k : k + _PAIRS_AT_ONCE],
                             entities) for k in range(0, len(i), _PAIRS_AT_ONCE)]
        selected.append(joined_pairs(parts))
    return lookalikes_among(scorer, pick, jobs, selected, entities)


def lookalikes_among(
    scorer: ProbabilisticScorer,
    pick: LookalikeFilter,
    jobs: Sequence[tuple[int, int]],
    selected: Sequence[tuple[Indices, Indices]],
    entities: Sequence[npt.NDArray[np.int64]],
) -> Relationships:
    """The look-alike entity pairs among pairs ``pick`` selected (per job)."""
    found: list[tuple[npt.NDArray[np.int64], ...]] = []
    for (a, b), (i, j) in zip(jobs, selected, strict=True):
        for k in range(0, len(i), _PAIRS_AT_ONCE):
            part_i, part_j = i[k : k + _PAIRS_AT_ONCE], j[k : k + _PAIRS_AT_ONCE]
            related, shared, differ = classify(scorer, pick, a, part_i, b, part_j)
            if related.any():
                found.append((entities[a][part_i[related]], entities[b][part_j[related]],
                              shared[related], differ[related]))
    if not found:
        return Relationships.none(scorer.spec.names)
    ea, eb, shared, differ = (np.concatenate(col) for col in zip(*found, strict=True))
    return by_entity_pair(np.minimum(ea, eb), np.maximum(ea, eb), shared, differ,
                          scorer.spec.names)


def classify(
    scorer: ProbabilisticScorer, pick: LookalikeFilter, a: int, i: Indices, b: int, j: Indices
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(related, shared, differ)`` of row pairs ``pick`` selected: the rule of the
    module doc on their comparison vectors, and the masks of the comparisons agreeing
    exactly and clearly disagreeing (bit ``c``: ``scorer.spec.names[c]``)."""
    surnames = [pick.comparisons[k] for k in pick.surnames]
    anchors = [pick.comparisons[k] for k in pick.anchors]
    kin = pick.chance(a, i, b, j) < CHANCE
    vectors = scorer.vectors(a, i, b, j, frequency=False)  # the frequencies are in ``kin``
    return _lookalike(vectors, scorer.spec, surnames, anchors, kin)


def joined_pairs(parts: list[tuple[Indices, Indices]]) -> tuple[Indices, Indices]:
    """Chunks of pairs ``(i, j)`` as one."""
    if not parts:
        empty = np.zeros(0, np.int64)
        return empty, empty
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _fingerprints(party: Encoding, spec: ComparisonLevels,
                  columns: list[int]) -> npt.NDArray[np.uint64]:
    """``uint64[rows, len(columns)]``: the party's field fingerprints of ``columns``
    (segment comparisons; equal values, equal fingerprints; 0: the field is missing)."""
    out = np.zeros((len(party.clks), len(columns)), np.uint64)
    for k, c in enumerate(columns):
        segment = spec.segments[c]
        assert segment is not None, "look-alike columns are segment comparisons"
        out[:, k] = segment_fingerprints(party.clks, party.segments[segment])
    return out


def _value_counts(fingerprints: npt.NDArray[np.uint64],
                  columns: list[int]) -> npt.NDArray[np.int32]:
    out = np.zeros(fingerprints.shape, np.int32)
    for k in columns:
        out[:, k] = value_counts(fingerprints[:, k])
    return out


def _field_type(party: Encoding, spec: ComparisonLevels, c: int) -> str:
    segment = spec.segments[c]
    if segment is None:
        return "id"  # an identifier token without Bloom bits
    return party.field_types[segment] if segment < len(party.field_types) else ""


def _coarse_dates(
    parties: Sequence[Encoding], spec: ComparisonLevels, columns: list[int]
) -> list[npt.NDArray[np.bool_]]:
    """Per party, ``bool[rows, len(columns)]``: the rows whose date (a comparison with a
    ``contained`` level) is coarser than a full one, fewer than 3/4 of the bits of the
    most detailed party's typical date (the rule of the ``contained`` level)."""
    out = [np.zeros((len(p.clks), len(columns)), np.bool_) for p in parties]
    for k, c in enumerate(columns):
        segment = spec.segments[c]
        if segment is None or "contained" not in spec.levels[c]:
            continue
        bits = [p.view.popcounts[:, segment].astype(np.int64) for p in parties]
        full = max((float(np.median(x[x > 0])) for x in bits if (x > 0).any()), default=0.0)
        for a, x in enumerate(bits):
            out[a][:, k] = 4 * x < 3 * full
    return out


def _lookalike(
    vectors: npt.NDArray[np.int8], spec: ComparisonLevels, surnames: list[int],
    anchors: list[int], kin: npt.NDArray[np.bool_],
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(related, shared, differ)`` per pair: the rule of the module doc on comparison
    vectors, and the masks of the fields agreeing exactly and clearly disagreeing."""
    n, width = vectors.shape
    exact = np.zeros((n, width), np.bool_)
    clash = np.zeros((n, width), np.bool_)
    for c, labels in enumerate(spec.levels):
        exact[:, c] = exact_levels(labels)[vectors[:, c]]
        if spec.stable[c] and "else" in labels:
            clash[:, c] = vectors[:, c] == labels.index("else")
    household = [c for c in anchors if not spec.stable[c]]
    dates = [c for c in anchors if spec.stable[c]]
    shared = exact[:, household].any(axis=1) | (exact[:, dates].any(axis=1) & kin)
    related = np.asarray(exact[:, surnames].any(axis=1) & shared & clash.any(axis=1), np.bool_)
    bits = np.left_shift(np.int64(1), np.arange(width, dtype=np.int64))
    return related, exact.astype(np.int64) @ bits, clash.astype(np.int64) @ bits


def by_entity_pair(
    ea: npt.NDArray[np.int64],
    eb: npt.NDArray[np.int64],
    shared: npt.NDArray[np.int64],
    differ: npt.NDArray[np.int64],
    fields: tuple[str, ...],
) -> Relationships:
    """One row per entity pair, in entity order, its masks OR-ed over its record pairs
    (``ea < eb`` for every pair given)."""
    order = np.lexsort((eb, ea))
    ea, eb, shared, differ = ea[order], eb[order], shared[order], differ[order]
    first = np.ones(len(ea), np.bool_)
    first[1:] = (ea[1:] != ea[:-1]) | (eb[1:] != eb[:-1])
    starts = np.flatnonzero(first)
    return Relationships(
        ea[starts], eb[starts],
        np.bitwise_or.reduceat(shared, starts), np.bitwise_or.reduceat(differ, starts),
        fields,
    )
