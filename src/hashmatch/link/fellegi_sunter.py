"""Fellegi-Sunter weights per party pair, estimated without labels, and match probabilities.

For a comparison ``c`` at level ``l`` (see :mod:`hashmatch.link.comparison`), ``m[c][l]``
is the share of true matches at that level and ``u[c][l]`` the share of non-matches. A
pair's match weight is ``logit2(prior) + sum_c log2(m[c][l_c] / u[c][l_c])`` (a missing
field adds 0), and its match probability ``1 / (1 + 2**-weight)``.

Estimation, per party pair (a party with itself for dedup), following the anchors of
Brown et al. 2017 and Splink's training recipe:

* **u from random pairs** of the two parties (:func:`estimate_u`), kept fixed, with its
  exact levels counted from value frequencies instead (the share of *all* pairs agreeing
  exactly, from the fingerprints of the field bits; see
  :func:`~hashmatch.link.comparison.exact_agreement_rates`), less the matches' own share
  each EM iteration (:func:`chance_agreement_u`): an identifier's chance agreement is
  about one pair in the population, far below what random pairs can resolve.
* **the prior** is the match rate among *all* pairs of the two parties, the population u
  describes, so a candidate's posterior does not depend on how blocking chose it. From the
  deterministic keys where there are some (candidates agreeing on a schema match key,
  divided by :data:`KEY_RECALL` and by the number of pairs); without match keys, and
  within one party (where keys agree for twins and siblings too), EM estimates it.
  (Mixing a prior among candidates with random-pair u overstated every probability;
  re-estimating u on the candidates instead, as before, let EM converge on the blocking
  key, first name + birth year: synth 10,000 catalogue~partner recall 0.67.)
* **m by EM** over the candidates blocking proposed, run on distinct comparison patterns
  with their counts (:func:`estimate_m`), so its cost does not grow with the data.
  Safeguards: on a field the schema marks ``stable`` (first name, birth date) the
  ``else`` level keeps ``m <= STABLE_DISAGREE_M``, so a clear disagreement there is
  strongly negative whatever EM finds; on the other fields that are not household ones
  (surname) ``m <= OTHER_DISAGREE_M`` (names change, but rarely).
* **look-alikes** (:func:`lookalike_pairs`): a clear disagreement on a stable field with a
  shared household field or birth date (twins, couples, siblings, parents and children)
  counts the family's shared agreements once (:func:`lookalike_weights`), in EM and in
  scoring alike; counted as independent evidence they outweighed the clash (synth
  10,000: twins kept apart 80 of 130 without the rule, 124 with it). Only where the
  parties hold families (``PairModel.families``): FEBRL 4 has one record per address,
  and there a clash is a typo.

:class:`PairModel` is a frozen, JSON-ready artefact: ``report.json`` holds one per party
pair and ``link --model`` reuses them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch.link.comparison import (
    ComparisonLevels,
    decode_patterns,
    exact_levels,
    pattern_codes,
)

__all__ = [
    "KEY_RECALL",
    "OTHER_DISAGREE_M",
    "STABLE_DISAGREE_M",
    "U_ANCHOR",
    "PairModel",
    "chance_agreement_u",
    "estimate_m",
    "estimate_m_u",
    "estimate_u",
    "lookalike_pairs",
]

#: Fewer vectors than this are weighed one by one (finding the distinct ones costs more).
_PATTERNS_FROM = 4096
#: Share of true matches assumed to agree on a schema match key (surname + birth date):
#: turns "candidates agreeing on a key" into a prior match rate.
KEY_RECALL = 0.8
#: Ceiling of m for the ``else`` level of a stable field (-> at least ~log2(u/0.001) bits
#: against a match when first names or birth dates clearly differ).
STABLE_DISAGREE_M = 0.001
#: Ceiling of m for the ``else`` level of the other fields that are neither stable nor
#: household (surname): without it EM absorbs namesakes (same first name and birth year,
#: another surname) into the matches (demo, callcentre~catalogue: m 0.28). Measured (demo
#: seed 7 / synth 2,000 seed 5, --dedup): none -> F1 0.959 / 0.970, 0.15 -> 0.965 /
#: 0.969, 0.1 -> 0.966 / 0.969, 0.05 -> 0.959 / 0.967. With u from random pairs and the
#: look-alike rule (benchmarks/scoring.py, FEBRL 4 / demo / synth 10,000): 0.1 -> 0.9995 /
#: 0.959 / 0.947, 0.15 -> 0.9996 / 0.959 / 0.947 (FEBRL swaps given and surname).
OTHER_DISAGREE_M = 0.15
#: Weight, in pairs, of the random-pair u when EM re-estimates u on the candidates.
#: Measured (demo seed 7, synth 2,000 seed 5, --dedup): 100 -> F1 0.953 / 0.964,
#: 1,000 -> 0.959 / 0.970, 10,000 -> 0.925 / 0.950.
U_ANCHOR = 1_000.0
#: Floor of any m or u, so no level is impossible (a weight stays finite).
_FLOOR = 1e-5
#: Floor of u: exact agreement rates counted from value frequencies go far below what
#: random pairs can see (an identifier's u is about 1/rows).
_U_FLOOR = 1e-12
_EM_ITERATIONS = 40
#: Floor of the prior: one match in 10^12 pairs (a prior over all pairs of two million-row
#: parties is about 10^-6).
_MIN_PRIOR = 1e-12


def _initial_m(labels: Sequence[str]) -> npt.NDArray[np.float64]:
    guess = {"exact": 0.8, "agree": 0.85, "dice>=0.9": 0.08, "dice>=0.75": 0.04,
             "dice>=0.5": 0.02, "else": 0.02, "disagree": 0.15, "swapped": 0.03,
             "contained": 0.3, "exact:common": 0.2, "exact:frequent": 0.1}
    m = np.array([0.0] + [guess[label] for label in labels[1:]])
    return m / m.sum()


@dataclass(frozen=True)
class PairModel:
    """m, u and the prior of one party pair; ``m[c][0]``/``u[c][0]`` (missing) are unused."""

    parties: tuple[str, str]
    spec: ComparisonLevels
    m: tuple[tuple[float, ...], ...]
    u: tuple[tuple[float, ...], ...]
    prior: float
    prior_source: str = "keys"  # "keys", "em" or "given"
    #: The parties hold families (people sharing an address, phone or e-mail): the
    #: look-alike rule applies (see :func:`lookalike_pairs`).
    families: bool = True

    def weights(self) -> list[npt.NDArray[np.float64]]:
        """Per comparison, log2(m/u) per level (0 for ``missing``)."""
        out = []
        for m, u in zip(self.m, self.u, strict=True):
            w = np.log2(np.maximum(m, _FLOOR) / np.maximum(u, _U_FLOOR))
            w[0] = 0.0
            out.append(w)
        return out

    @property
    def prior_weight(self) -> float:
        p = min(max(self.prior, _MIN_PRIOR), 1 - 1e-9)
        return math.log2(p / (1 - p))

    def field_weights(self, vectors: npt.NDArray[np.int8]) -> npt.NDArray[np.float64]:
        """``float64[pairs, comparisons]``: each comparison's log2(m/u) at its level, as
        counted (a household comparison's positive weight only if it is the group's
        largest; see :func:`combined_weights`)."""
        return combined_weights(
            self.weights(), vectors, self.spec, families=self.families,
            within=self.parties[0] == self.parties[1],
        )

    def match_weight(self, vectors: npt.NDArray[np.int8]) -> npt.NDArray[np.float64]:
        """The log2 odds of a match of each comparison vector."""
        return self.prior_weight + self.field_weights(vectors).sum(axis=1)

    def probability(self, vectors: npt.NDArray[np.int8]) -> npt.NDArray[np.float32]:
        """The match probability of each comparison vector, computed once per distinct
        vector: a chunk of a million candidates holds some thousands of patterns, and
        the weights of a row depend on that row alone (at a million records: 74 s of
        weighing every candidate's vector, against ~10 s for the patterns)."""
        if len(vectors) < _PATTERNS_FROM:
            return _probability(self.match_weight(vectors))
        codes = pattern_codes(vectors, self.spec.radix)
        distinct, inverse = np.unique(codes, return_inverse=True)
        patterns = decode_patterns(distinct, self.spec.radix)
        return np.take(_probability(self.match_weight(patterns)), inverse.reshape(-1))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per comparison, per level, m, u and weight (bits)."""
        fields: dict[str, Any] = {}
        for c, name in enumerate(self.spec.names):
            w = self.weights()[c]
            fields[name] = {
                label: {"m": self.m[c][k], "u": self.u[c][k], "weight": float(w[k])}
                for k, label in enumerate(self.spec.levels[c])
                if k > 0
            }
        return {
            "parties": list(self.parties),
            "prior": self.prior,
            "prior_source": self.prior_source,
            "prior_weight": self.prior_weight,
            "families": self.families,
            "fields": fields,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], spec: ComparisonLevels) -> PairModel:
        """A model saved by :meth:`to_dict`, for comparisons ``spec`` (refused if the saved
        fields or levels differ: a model belongs to one schema)."""
        fields = data["fields"]
        if set(fields) != set(spec.names) or any(
            set(fields[n]) != set(spec.levels[c][1:]) for c, n in enumerate(spec.names)
        ):  # (report.json sorts keys: compare as sets, read by name)
            msg = "model: its fields and levels do not match these encodings' schema"
            raise ValueError(msg)
        m = tuple((0.0, *(fields[n][lab]["m"] for lab in spec.levels[c][1:]))
                  for c, n in enumerate(spec.names))
        u = tuple((0.0, *(fields[n][lab]["u"] for lab in spec.levels[c][1:]))
                  for c, n in enumerate(spec.names))
        parties = data.get("parties", ["", ""])
        return cls((str(parties[0]), str(parties[1])), spec, m, u, float(data["prior"]),
                   "given", bool(data.get("families", True)))


def combined_weights(
    weights: Sequence[npt.NDArray[np.float64]],
    vectors: npt.NDArray[np.int8],
    spec: ComparisonLevels,
    *,
    families: bool = True,
    within: bool = False,
) -> npt.NDArray[np.float64]:
    """Per pair and comparison, the weight counted: log2(m/u) at the pair's level, with
    the evidence that is one fact counted once:

    * of the household comparisons only the largest weight counts. People who live
      together agree on address, postcode and phone at once, and someone who moved
      disagrees on all of them at once: either way it is one piece of evidence ("same
      household or not"), not three. (Counting every household disagreement lost the
      movers: demo, catalogue~crm, 46 true matches agreeing on name and birth year at
      p 0.0.)
    * a personal field (an e-mail) that agrees only in part counts at most 0, and apart
      from the household group: addresses built from a name (``kevin.morales@aol.com``,
      ``kevin.morales@gmail.com``) are alike because the names are, which the names
      already counted; as the group's largest weight it also hid every disagreement of
      namesakes on address, phone and postcode.
    * a swap (:func:`_count_swap_once`) counts once, not once per name;
    * look-alikes (:func:`lookalike_weights`) count their family's agreements once.
    """
    out = np.zeros(vectors.shape, np.float64)
    for c, w in enumerate(weights):
        out[:, c] = w[vectors[:, c]]
    _count_swap_once(out, vectors, spec)
    partial = _partial_personal(vectors, spec)
    out[partial] = np.minimum(out[partial], 0.0)
    group = np.flatnonzero(np.asarray(spec.household or [False] * len(weights), np.bool_))
    if len(group) > 1:  # a partial personal level is counted as it is, not in the group
        out[:, group] = _largest_only(out[:, group], ~partial[:, group])
    alike = (
        lookalike_pairs(vectors, spec, within=within) if families else np.zeros(0, np.bool_)
    )
    if alike.any():
        out[alike] = lookalike_weights(out[alike], vectors[alike], spec)
    return out


def _partial_personal(
    vectors: npt.NDArray[np.int8], spec: ComparisonLevels
) -> npt.NDArray[np.bool_]:
    """``bool[pairs, comparisons]``: a personal field compared on its CLK segment at a
    level short of exact agreement (not missing)."""
    out = np.zeros(vectors.shape, np.bool_)
    personal = spec.personal or (False,) * len(spec.names)
    for c, labels in enumerate(spec.levels):
        if personal[c] and spec.segments[c] is not None:
            out[:, c] = ~exact_levels(labels)[vectors[:, c]] & (vectors[:, c] > 0)
    return out


def _count_swap_once(
    out: npt.NDArray[np.float64], vectors: npt.NDArray[np.int8], spec: ComparisonLevels
) -> None:
    """A swap (first name and surname agreeing crosswise) is one event that puts both
    fields at ``swapped`` at once, and each field's m/u describes that same event: of the
    two, only the larger weight counts (summed, a swap weighed twice the evidence it is)."""
    swapping = np.asarray(
        [c for c, labels in enumerate(spec.levels) if "swapped" in labels], np.intp
    )
    if len(swapping) < 2:
        return
    both = np.ones(len(vectors), np.bool_)
    for c in swapping.tolist():
        both &= vectors[:, c] == spec.levels[c].index("swapped")
    if not both.any():
        return
    rows = np.ix_(np.flatnonzero(both), swapping)
    swapped = out[rows]
    out[rows] = _largest_only(swapped, np.ones(swapped.shape, np.bool_))


def _largest_only(
    weights: npt.NDArray[np.float64], members: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """``weights`` with, in each row, every member but the largest set to 0 (evidence
    that is one fact counts once); the weights of non-members stay as they are."""
    best = np.where(members, weights, -np.inf).argmax(axis=1)
    keep = ~members
    keep[np.arange(len(weights)), best] = True
    return np.where(keep, weights, 0.0)


def lookalike_weights(
    weights: npt.NDArray[np.float64], vectors: npt.NDArray[np.int8], spec: ComparisonLevels
) -> npt.NDArray[np.float64]:
    """The weights counted for look-alike pairs (:func:`lookalike_pairs`): what a family
    shares (surname, birth date, address, phone...) is one piece of evidence, so of those
    comparisons only the largest positive weight counts; an exact agreement on a personal
    field (an e-mail, an id) still counts in full, and every negative weight does.

    Twins sharing a surname, birth date and phone then weigh ``first-name clash + one
    family agreement``, below the prior; a record whose first name is a nickname the
    normaliser does not know, with the same e-mail, still links."""
    personal = np.asarray(spec.personal or [False] * len(spec.names), np.bool_)
    exact = np.zeros(vectors.shape, np.bool_)
    for c, labels in enumerate(spec.levels):
        if personal[c]:
            exact[:, c] = exact_levels(labels)[vectors[:, c]]
    family = (weights > 0) & ~exact
    return _largest_only(weights, family) if family.any() else weights.copy()


#: Levels of a stable field that count as a clear disagreement for look-alikes ...
CLASH_LEVELS = ("else",)
#: ... and within one party, where the close non-matches are the family itself (a
#: sibling's first name, a parent's birth date) and no one-to-one solving guards the
#: pairs. Measured (benchmarks/scoring.py, fs): with these levels for all party pairs,
#: single-party dedup (5,000 people, 5% duplicates, 3 secrets) F1 0.878 -> 0.946, but
#: cross-party recall fell (synth 10,000 F1 0.951 -> 0.943).
CLASH_LEVELS_WITHIN = ("else", "dice>=0.5")


def lookalike_pairs(
    vectors: npt.NDArray[np.int8], spec: ComparisonLevels, *, within: bool = False
) -> npt.NDArray[np.bool_]:
    """``bool[pairs]``: look-alikes, pairs that clearly disagree (level ``else``) on a
    stable field (first name, birth date) yet agree exactly on a household field
    (address, phone, e-mail) or on another stable field: twins, couples, siblings,
    parents and children. Their shared agreements are family evidence, not independent
    evidence of one person: :func:`lookalike_weights` counts them once. A pair whose
    names all agree exactly is no look-alike (two members of one family do not share a
    first name and a surname): its clash is a typo (FEBRL 4's birth dates)."""
    n = len(vectors)
    clash = np.zeros((n, len(spec.names)), np.bool_)
    for c, labels in enumerate(spec.levels):
        if spec.stable[c] and "else" in labels:
            levels = CLASH_LEVELS_WITHIN if within else CLASH_LEVELS
            clash[:, c] = np.isin(vectors[:, c], [labels.index(x) for x in levels])
    if not clash.any():
        return np.zeros(n, np.bool_)
    shared = np.zeros(n, np.bool_)
    household = spec.household or (False,) * len(spec.names)
    for c, labels in enumerate(spec.levels):
        agrees = exact_levels(labels)[vectors[:, c]]
        if household[c]:
            shared |= agrees & clash.any(axis=1)
        elif spec.stable[c]:  # agreeing on this stable field, clashing on another
            shared |= agrees & np.delete(clash, c, axis=1).any(axis=1)
    names = [c for c in range(len(spec.names)) if spec.name and spec.name[c]]
    if names:
        same_name = np.ones(n, np.bool_)
        for c in names:
            same_name &= exact_levels(spec.levels[c])[vectors[:, c]]
        shared &= ~same_name
    return shared


def _probability(weight: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    return (1.0 / (1.0 + np.exp2(-np.clip(weight, -60, 60)))).astype(np.float32)


def estimate_u(
    vectors: npt.NDArray[np.int8], spec: ComparisonLevels
) -> tuple[tuple[float, ...], ...]:
    """u per comparison and level from the comparison vectors of random pairs (shares
    among the pairs where the comparison is not missing, with one pseudo-count a level)."""
    out = []
    for c, labels in enumerate(spec.levels):
        counts = np.bincount(vectors[:, c], minlength=len(labels)).astype(np.float64)
        counts[0] = 0.0
        counts[1:] += 1.0
        out.append(tuple((counts / counts.sum()).tolist()))
    return tuple(out)


def estimate_m(
    codes: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int64],
    spec: ComparisonLevels,
    u: tuple[tuple[float, ...], ...],
    *,
    prior: float | None,
    prior_start: float,
    iterations: int = _EM_ITERATIONS,
) -> tuple[tuple[tuple[float, ...], ...], float]:
    """EM for m (and the prior when ``prior`` is None) over distinct candidate patterns
    ``codes`` (from :func:`~hashmatch.link.comparison.pattern_codes`) seen ``counts`` times,
    with u fixed. Returns ``(m, prior)``."""
    m, _, lam = estimate_m_u(
        codes, counts, spec, u, prior=prior, prior_start=prior_start, u_anchor=None,
        iterations=iterations,
    )
    return m, lam


def estimate_m_u(
    codes: npt.NDArray[np.int64],
    counts: npt.NDArray[np.int64],
    spec: ComparisonLevels,
    u: tuple[tuple[float, ...], ...],
    *,
    prior: float | None,
    prior_start: float,
    u_anchor: float | None = None,
    iterations: int = _EM_ITERATIONS,
    population: float | None = None,
    agreement: Sequence[npt.NDArray[np.bool_]] | None = None,
    families: bool = True,
    within: bool = False,
) -> tuple[tuple[tuple[float, ...], ...], tuple[tuple[float, ...], ...], float]:
    """EM as :func:`estimate_m`; with ``u_anchor`` also u, from the candidates' non-match
    posterior mass plus ``u_anchor`` pseudo-pairs distributed as the random-pair ``u``
    (u conditional on blocking). Returns ``(m, u, prior)``.

    ``population``: the number of pairs the prior refers to (default: the candidates).
    ``agreement[c]`` marks the levels of comparison ``c`` whose ``u`` is the share of
    *all* pairs at that level, matches included (exact agreement counted from value
    frequencies): each iteration takes out the matches EM finds at those levels among
    the candidates (:func:`chance_agreement_u`), at least one pair in ``population``.
    Without it an identifier's agreement, which is almost only matches, would count its
    matches as chance agreement. ``families``: apply the look-alike rule (``within``: as
    within one party)."""
    vectors = decode_patterns(codes, spec.radix)
    weight = counts.astype(np.float64)
    m = [_initial_m(labels) for labels in spec.levels]
    uu = [np.maximum(np.asarray(x, np.float64), _U_FLOOR) for x in u]
    shares = [np.asarray(x, np.float64) for x in u]
    lam = prior if prior is not None else prior_start
    lam = min(max(lam, _MIN_PRIOR), 0.999)
    for _ in range(iterations):
        ws = []
        for c in range(len(m)):
            w = np.log2(np.maximum(m[c], _FLOOR) / uu[c])
            w[0] = 0.0
            ws.append(w)
        logit = math.log2(lam / (1 - lam)) + combined_weights(
            ws, vectors, spec, families=families, within=within
        ).sum(axis=1)
        p = _probability(logit).astype(np.float64)
        pw = p * weight
        for c, labels in enumerate(spec.levels):
            level_mass = np.bincount(vectors[:, c], weights=pw, minlength=len(labels))
            level_mass[0] = 0.0
            total = level_mass.sum()
            if total <= 0:
                continue
            new = np.maximum(level_mass / total, _FLOOR)
            new[0] = 0.0
            new /= new.sum()
            cap = _disagree_cap(spec, c)
            if cap is not None and "else" in labels:
                k = labels.index("else")
                if new[k] > cap:  # the rest share what the cap frees
                    rest = 1.0 - new[k]
                    new *= (1.0 - cap) / rest
                    new[k] = cap
            m[c] = new
        if agreement is not None:
            uu = [
                chance_agreement_u(
                    shares[c], np.bincount(vectors[:, c], weights=pw, minlength=len(labels)),
                    agreement[c], population or weight.sum(),
                )
                for c, labels in enumerate(spec.levels)
            ]
        if u_anchor is not None:
            uu = _candidate_u(vectors, (1.0 - p) * weight, spec, u, u_anchor)
        if prior is None and weight.sum() > 0:
            lam = min(max(float(pw.sum() / (population or weight.sum())), _MIN_PRIOR), 0.999)
    return tuple(tuple(x.tolist()) for x in m), tuple(tuple(x.tolist()) for x in uu), lam


def chance_agreement_u(
    shares: npt.NDArray[np.float64],
    matches: npt.NDArray[Any],
    levels: npt.NDArray[np.bool_],
    population: float,
) -> npt.NDArray[np.float64]:
    """One comparison's u: at ``levels``, the share of pairs agreeing by chance, the share
    of all pairs at the level (``shares``) less the matches EM finds there among the
    candidates (``matches``, expected counts per level), at least one pair in
    ``population``; the other levels keep ``shares``."""
    u = np.asarray(shares, np.float64).copy()
    chance = u - np.asarray(matches, np.float64) / max(population, 1.0)
    u[levels] = np.maximum(chance[levels], 1.0 / max(population, 1.0))
    return np.maximum(u, _U_FLOOR)


def _disagree_cap(spec: ComparisonLevels, c: int) -> float | None:
    """The ceiling of m at comparison ``c``'s ``else`` level (None: EM decides)."""
    if spec.stable[c]:
        return STABLE_DISAGREE_M
    if spec.household and spec.household[c]:
        return None  # people move: EM learns how often
    return OTHER_DISAGREE_M


def _candidate_u(
    vectors: npt.NDArray[np.int8],
    mass: npt.NDArray[np.float64],
    spec: ComparisonLevels,
    random_u: tuple[tuple[float, ...], ...],
    anchor: float,
) -> list[npt.NDArray[np.float64]]:
    """u per comparison from the non-match ``mass`` of each pattern, plus ``anchor``
    pseudo-pairs distributed as ``random_u`` (level 0, missing, stays 0)."""
    out = []
    for c, labels in enumerate(spec.levels):
        seen = np.bincount(vectors[:, c], weights=mass, minlength=len(labels))
        mix = seen + anchor * np.asarray(random_u[c], np.float64)
        mix[0] = 0.0
        total = mix.sum()
        share = mix / total if total > 0 else np.asarray(random_u[c], np.float64)
        out.append(np.maximum(share, _FLOOR))
    return out


def models_from_report(
    section: Mapping[str, Any], spec: ComparisonLevels, names: Sequence[str]
) -> dict[tuple[int, int], PairModel]:
    """The models of a report.json ``"model"`` section (``"A~B"`` -> model) for parties
    ``names``, keyed by party index pairs; pairs whose parties are absent are skipped."""
    index = {name: k for k, name in enumerate(names)}
    out: dict[tuple[int, int], PairModel] = {}
    for key, data in section.items():
        first, _, second = key.partition("~")
        if first in index and second in index:
            a, b = sorted((index[first], index[second]))
            out[(a, b)] = PairModel.from_dict(data, spec)
    return out
