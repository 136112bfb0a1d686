"""The probabilistic scorer: match probabilities of row pairs from field-level
Fellegi-Sunter models, one per party pair (:mod:`hashmatch.link.fellegi_sunter`).

Like :class:`hashmatch.link.scorer.PairScorer` it reads each pair's two CLK rows once
(:func:`hashmatch.kernel.intersection_counts`, whole and per segment) and derives
everything from those counts and the cached per-row popcounts: here the comparison vector
(:mod:`hashmatch.link.comparison`), then the probability by table lookup of the weights.

:meth:`ProbabilisticScorer.fit` estimates a party pair's model from its candidates (one
pass that keeps only the counts of distinct comparison patterns) and random pairs; the
same pattern counts give the label-free quality estimate (:mod:`hashmatch.link.quality`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices, Scores
from hashmatch.kernel import intersection_counts
from hashmatch.link.comparison import (
    FREQUENCY_LABELS,
    ComparisonLevels,
    comparison_levels,
    comparison_vectors,
    decode_patterns,
    exact_agreement_rates,
    pattern_codes,
    split_by_frequency,
    value_counts,
)
from hashmatch.link.fellegi_sunter import KEY_RECALL, PairModel, estimate_m_u, estimate_u
from hashmatch.link.inputs import Encoding
from hashmatch.link.levels import token_agreement
from hashmatch.link.segments import segment_fingerprints, swapped_names

__all__ = ["PatternCounts", "ProbabilisticScorer"]

#: Share of a party's rows that share an address, phone or e-mail with another row from
#: which the party holds families, and the look-alike rule applies (synth: 5-54% per
#: party; FEBRL 4, one record per address: 0.1%).
FAMILY_SHARE = 0.05
#: Field types whose shared values mark a household (a postcode is an area, not one).
FAMILY_FIELD_TYPES = frozenset({"address", "phone", "email"})

#: Random pairs per party pair for u (fixed seed: the same inputs give the same model).
U_SAMPLE = 200_000

#: What the fit pass keeps of a chunk: its fingerprint, its distinct pattern codes and
#: each candidate's index among them.
_KeptChunk = tuple[tuple[int, int, int], npt.NDArray[np.int64], npt.NDArray[np.int32]]


@dataclass(frozen=True)
class PatternCounts:
    """Distinct comparison patterns of a party pair's candidates and how often each
    occurred: all EM and the quality estimate need."""

    codes: npt.NDArray[np.int64]
    counts: npt.NDArray[np.int64]
    keyed: int  # candidates agreeing on a schema match key
    candidates: int

    @staticmethod
    def combine(parts: Iterable[PatternCounts]) -> PatternCounts:
        """The counts of consecutive runs of chunks as one pass over all of them would
        give them (patterns in order of first occurrence, so EM sums in the same order)."""
        found: dict[int, int] = {}
        keyed = candidates = 0
        for part in parts:
            for code, n in zip(part.codes.tolist(), part.counts.tolist(), strict=True):
                found[code] = found.get(code, 0) + n
            keyed += part.keyed
            candidates += part.candidates
        return PatternCounts(
            np.fromiter(found, np.int64, len(found)),
            np.fromiter(found.values(), np.int64, len(found)),
            keyed,
            candidates,
        )


class ProbabilisticScorer:
    """Match probability of row pairs of two parties under the party pair's model."""

    def __init__(
        self,
        parties: Sequence[Encoding],
        token_kinds: Mapping[str, str],
        names: Sequence[str] = (),
        models: Mapping[tuple[int, int], PairModel] | None = None,
    ) -> None:
        self.parties = parties
        self.names = list(names) or [str(k) for k in range(len(parties))]
        first = parties[0]
        self.spec: ComparisonLevels = comparison_levels(
            first.field_names,
            token_kinds,
            swap_segments=first.swap_segments,
            nested=first.nested,
            stable_segments=list(first.disagree_below),
            field_types=first.field_types,
        )
        self.match_keys = [n for n, kind in token_kinds.items() if kind == "match"]
        self.models: dict[tuple[int, int], PairModel] = dict(models or {})
        self.patterns: dict[tuple[int, int], PatternCounts] = {}
        self._value_counts: dict[int, npt.NDArray[np.int32]] = {}
        #: per party pair, the chunks' patterns the fit pass kept (see :meth:`fit`)
        self._kept: dict[tuple[int, int], deque[_KeptChunk]] = {}
        self._fingerprints: dict[int, npt.NDArray[np.uint64]] = {}

    def fingerprints(self, a: int) -> npt.NDArray[np.uint64]:
        """``uint64[rows, comparisons]``: per row of party ``a`` and segment comparison, the
        fingerprint of the field's bits (equal values, equal fingerprints; 0: none)."""
        if a not in self._fingerprints:
            party = self.parties[a]
            out = np.zeros((len(party.clks), len(self.spec.names)), np.uint64)
            for c, segment in enumerate(self.spec.segments):
                if segment is not None:
                    out[:, c] = segment_fingerprints(party.clks, party.segments[segment])
            self._fingerprints[a] = out
        return self._fingerprints[a]

    def value_counts(self, a: int) -> npt.NDArray[np.int32]:
        """``int32[rows, comparisons]``: per row of party ``a`` and segment comparison, how
        many of the party's rows hold the same value (0 for token-only comparisons)."""
        if a not in self._value_counts:
            values = self.fingerprints(a)
            out = np.zeros(values.shape, np.int32)
            for c, segment in enumerate(self.spec.segments):
                if segment is not None:
                    out[:, c] = value_counts(values[:, c])
            self._value_counts[a] = out
        return self._value_counts[a]

    def has_families(self, a: int) -> bool:
        """Whether party ``a`` holds families: at least :data:`FAMILY_SHARE` of its rows
        with an address (phone, e-mail) share it with another row."""
        counts = self.value_counts(a)
        types = self.parties[a].field_types
        for c, segment in enumerate(self.spec.segments):
            if segment is not None and types[segment] in FAMILY_FIELD_TYPES:
                held = counts[:, c] > 0
                if held.any() and (counts[held, c] >= 2).mean() >= FAMILY_SHARE:
                    return True
        return False

    def agreement_levels(self) -> list[npt.NDArray[np.bool_]]:
        """Per comparison, the levels whose u :meth:`exact_u` counts over all pairs."""
        out = []
        for c, labels in enumerate(self.spec.levels):
            counted = self.spec.segments[c] is not None and FREQUENCY_LABELS[1] in labels
            out.append(np.asarray(
                [counted and (x == "exact" or x in FREQUENCY_LABELS) for x in labels]
            ))
        return out

    def exact_u(
        self, a: int, b: int, u: tuple[tuple[float, ...], ...]
    ) -> tuple[tuple[float, ...], ...]:
        """``u`` with its exact levels (``exact``, ``exact:common``, ``exact:frequent``)
        counted from the value frequencies of parties a and b
        (:func:`~hashmatch.link.comparison.exact_agreement_rates`), the other levels
        rescaled to the rest."""
        out = []
        for c, labels in enumerate(self.spec.levels):
            row = np.asarray(u[c], np.float64)
            if self.spec.segments[c] is None or FREQUENCY_LABELS[1] not in labels:
                out.append(tuple(row.tolist()))
                continue
            rates = exact_agreement_rates(
                self.fingerprints(a)[:, c], None if a == b else self.fingerprints(b)[:, c]
            )
            exact = [labels.index(x) for x in ("exact", *FREQUENCY_LABELS)]
            others = [k for k in range(1, len(labels)) if k not in exact]
            rest = row[others].sum()
            if rest > 0 and sum(rates) < 1:
                row[others] *= (1.0 - sum(rates)) / rest
                row[exact] = rates
            out.append(tuple(row.tolist()))
        return tuple(out)

    # -- comparison vectors -----------------------------------------------------------

    def vectors(self, a: int, i: Indices, b: int, j: Indices, *,
                frequency: bool = True) -> npt.NDArray[np.int8]:
        """``int8[pairs, comparisons]`` of row pairs ``(left[i], right[j])``; without
        ``frequency``, an exact agreement stays ``exact`` whatever its value's frequency
        (and the parties' value counts are not needed)."""
        left, right = self.parties[a], self.parties[b]
        counts = intersection_counts(left.clks, right.clks, i, j, segments=left.segments)
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
                straight=counts[:, 1 + s] + counts[:, 1 + t],
            )
            swapped[s] = swapped[t] = found.swapped
        levels = comparison_vectors(
            self.spec, counts, left.view, right.view, left.tokens, right.tokens, i, j,
            swapped=swapped,
        )
        if not frequency:
            return levels
        return split_by_frequency(
            levels, self.spec, self.value_counts(a), self.value_counts(b),
            len(left.clks), len(right.clks), i, j,
        )

    def __call__(self, a: int, i: Indices, b: int, j: Indices) -> Scores:
        """The match probabilities of pairs ``(i, j)``: from the patterns the fit pass
        kept for this very chunk (:meth:`fit` with ``keep``), else computed."""
        kept = self._kept.get((a, b))
        if kept and len(i):  # (the fit pass skips empty chunks)
            fingerprint, patterns, inverse = kept[0]
            if fingerprint == _chunk_fingerprint(i, j):
                kept.popleft()
                vectors = decode_patterns(patterns, self.spec.radix)
                return np.take(self.model(a, b).probability(vectors), inverse)
            kept.clear()  # another chunk than the fit pass saw: compute from here on
        return self.model(a, b).probability(self.vectors(a, i, b, j))

    def release(self, a: int, b: int) -> None:
        """Drop what the fit pass kept for parties a and b (their job is scored)."""
        self._kept.pop((a, b), None)

    def model(self, a: int, b: int) -> PairModel:
        key = (min(a, b), max(a, b))
        if key not in self.models:
            msg = f"no model for parties {self.names[a]} ~ {self.names[b]}: fit it first"
            raise KeyError(msg)
        return self.models[key]

    # -- estimation -------------------------------------------------------------------

    def _keyed(self, a: int, i: Indices, b: int, j: Indices) -> int:
        left, right = self.parties[a], self.parties[b]
        hit = np.zeros(len(i), np.bool_)
        for name in self.match_keys:
            if name in left.tokens and name in right.tokens:
                hit |= token_agreement(left.tokens[name], right.tokens[name], i, j)[0]
        return int(hit.sum())

    def count_patterns(
        self,
        a: int,
        b: int,
        chunks: Iterable[tuple[Indices, Indices]],
        *,
        kept: deque[_KeptChunk] | None = None,
    ) -> PatternCounts:
        """One pass over candidate chunks of parties a and b: pattern counts (and, into
        ``kept``, each chunk's fingerprint, distinct patterns and inverse)."""
        radix = self.spec.radix
        found: dict[int, int] = {}
        keyed = candidates = 0
        for i, j in chunks:
            if not len(i):
                continue
            every = pattern_codes(self.vectors(a, i, b, j), radix)
            if kept is None:
                codes, counts = np.unique(every, return_counts=True)
            else:
                codes, inverse, counts = np.unique(every, return_inverse=True, return_counts=True)
                kept.append((_chunk_fingerprint(i, j), codes, inverse.reshape(-1).astype(np.int32)))
            for code, n in zip(codes.tolist(), counts.tolist(), strict=True):
                found[code] = found.get(code, 0) + n
            keyed += self._keyed(a, i, b, j)
            candidates += len(i)
        codes = np.fromiter(found, np.int64, len(found))
        counts = np.fromiter(found.values(), np.int64, len(found))
        return PatternCounts(codes, counts, keyed, candidates)

    def random_pairs(self, a: int, b: int, n: int = U_SAMPLE) -> tuple[Indices, Indices]:
        rows_a, rows_b = len(self.parties[a].clks), len(self.parties[b].clks)
        rng = np.random.default_rng(12_345 + 7 * a + b)
        i = rng.integers(0, rows_a, n)
        j = rng.integers(0, rows_b, n)
        if a == b:
            keep = i != j
            i, j = i[keep], j[keep]
        order = np.argsort(i, kind="stable")
        return i[order].astype(np.int64), j[order].astype(np.int64)

    def fit(
        self, a: int, b: int, chunks: Iterable[tuple[Indices, Indices]], *, keep: bool = False
    ) -> PairModel:
        """Estimate (or, when a model was given, keep) the model of parties a and b from
        their candidate chunks; the pattern counts are kept for the quality estimate.

        With ``keep`` each chunk's comparison patterns are kept too (its distinct
        patterns and each candidate's among them: 4 bytes a candidate), so that scoring
        the same chunks next takes them instead of comparing every pair again (a chunk
        is recognised by its size and index sums; any other chunk is compared afresh).
        Computing the comparison vectors twice was 45% of an fs link at a million
        records.
        """
        kept: deque[_KeptChunk] | None = deque() if keep else None
        model = self.fit_patterns(a, b, self.count_patterns(a, b, chunks, kept=kept))
        if kept is not None:
            self._kept[(a, b)] = kept
        return model

    def fit_patterns(self, a: int, b: int, patterns: PatternCounts) -> PairModel:
        """:meth:`fit` from the pattern counts of the candidates, counted elsewhere."""
        key = (min(a, b), max(a, b))
        self.patterns[key] = patterns
        if key in self.models:
            return self.models[key]
        rows_a, rows_b = len(self.parties[a].clks), len(self.parties[b].clks)
        i, j = self.random_pairs(a, b, min(U_SAMPLE, max(rows_a * rows_b, 1)))
        u = self.exact_u(a, b, estimate_u(self.vectors(a, i, b, j), self.spec))
        # The prior is the match rate among *all* pairs of the two parties, the population
        # the random-pair u describes (a candidate's posterior is then the same whether or
        # not blocking proposed it). Within a party, keys (surname + birth date or year)
        # also agree for twins and siblings of one household: there EM estimates it
        # (syn10k catalogue~catalogue: keys gave 0.23 of candidates for a true 0.011).
        population = rows_a * (rows_a - 1) / 2 if a == b else rows_a * rows_b
        population = max(population, 1.0)
        if self.match_keys and patterns.keyed and a != b:
            prior: float | None = min(patterns.keyed / KEY_RECALL / population, 0.5)
            source = "keys"
        else:
            prior, source = None, "em"
        start = min(0.5 * min(rows_a, rows_b) / population, 0.5)
        families = self.has_families(a) or self.has_families(b)
        m, u, lam = estimate_m_u(
            patterns.codes, patterns.counts, self.spec, u, prior=prior, prior_start=start,
            population=population, agreement=self.agreement_levels(), families=families,
            within=a == b,
        )
        model = PairModel(
            (self.names[a], self.names[b]), self.spec, m, u, lam, source, families
        )
        self.models[key] = model
        return model


def _chunk_fingerprint(i: Indices, j: Indices) -> tuple[int, int, int]:
    """What tells a chunk of candidate pairs from another: its size and index sums."""
    return len(i), int(np.sum(i, dtype=np.int64)), int(np.sum(j, dtype=np.int64))
