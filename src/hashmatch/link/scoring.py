"""One score per candidate pair: CLK similarity adjusted by exact-token evidence.

The CLK Dice coefficient measures fuzzy similarity over all fields; keyed exact tokens
(an email, a phone number, an id, a match key such as surname+birth date) say whether one
identifier is *identical*. This module combines both into one score in [0, 1] that the
threshold and the one-to-one solver then use.

The rule (documented in docs/guides/scoring-and-thresholds.md) treats each token as
Fellegi-Sunter evidence. For a token with agreement probability ``m`` among true matches
and ``u`` among non-matches, agreement carries ``log2(m / u)`` bits of evidence and
disagreement (both present, different) ``log2((1 - m) / (1 - u))`` bits (negative).
Bits are converted to Dice units by ``dice_per_bit`` and added to the Dice score::

    score = clip(dice + min(sum(agree bonuses), max_bonus)
                      - min(sum(disagree penalties), max_penalty), 0, 1)

so that

* a CLK score near the threshold plus an agreeing identifier beats a CLK score alone
  (0.70 + 0.15 > 0.80), but an agreeing identifier cannot rescue a dissimilar pair
  (shared family email: 0.40 + 0.15 stays far below any sensible threshold);
* a disagreeing identifier when both are present is weak counter-evidence (people change
  emails and phones; ids get mistyped), worth a third of an agreement;
* a missing token (either side all-zero) is no evidence either way;
* ``block`` tokens are coarse by design (soundex + birth year) and only block.

**Field disagreement.** Fields the schema marks ``stable`` (a first name, a birth date:
values that rarely change and are rarely mistyped) add counter-evidence the Dice average
cannot express: households and twins share surname, address, phone and e-mail, so they
reach a high Dice while their first names or birth dates clearly differ. Each stable
field on which both records hold clearly different values (field Dice below
``segments.DISAGREE_BELOW``) multiplies the score by ``disagreement_factor`` (0.8)::

    score = clip(...as above...) * disagreement_factor ** (stable fields that disagree)

A factor rather than a subtraction: subtracting piles clear non-matches up at 0, a
spurious mode that the valley finder took for the non-match mode (threshold 0.03 on one
demo run); a factor keeps every score positive and weighs in proportion to the evidence
already there.

Interface (plain arrays, one entry per candidate pair)::

    agree, both = token_agreement(left_tokens, right_tokens, i, j)
    score = combine_scores(dice, agree, both, ScoringConfig.for_tokens(kinds))

Example
-------
>>> import numpy as np
>>> config = ScoringConfig.for_tokens({"email": "identifier"})
>>> dice = np.array([0.70, 0.80, 0.40, 0.90], np.float32)
>>> agree = {"email": np.array([True, False, True, False])}
>>> both = {"email": np.array([True, False, True, True])}
>>> [round(float(s), 3) for s in combine_scores(dice, agree, both, config)]
[0.847, 0.8, 0.547, 0.85]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices, Scores, TokenKind, Tokens

__all__ = [
    "DEFAULT_EVIDENCE",
    "TokenEvidence",
    "ScoringConfig",
    "TokenKind",
    "combine_scores",
    "token_agreement",
]

_Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class TokenEvidence:
    """Agreement probabilities of one token: ``m`` among matches, ``u`` among non-matches."""

    m: float
    u: float

    def __post_init__(self) -> None:
        if not (0.0 < self.u < 1.0 and 0.0 < self.m < 1.0):
            msg = f"token evidence: expected 0 < m, u < 1, got m={self.m}, u={self.u}"
            raise ValueError(msg)

    @property
    def agree_bits(self) -> float:
        """Evidence of an agreement, in bits (positive when m > u)."""
        return math.log2(self.m / self.u)

    @property
    def disagree_bits(self) -> float:
        """Evidence of a disagreement with both present, in bits (negative when m > u)."""
        return math.log2((1.0 - self.m) / (1.0 - self.u))


#: Defaults per kind. Identifiers (email, phone, national id): 9 in 10 true matches still
#: share it (changed emails, typos) and about 1 in 1,000 similar-looking non-matches do
#: (family emails, shared landlines): +9.8 bits / -3.3 bits. Match keys (surname + birth
#: date): kept by 8 in 10 matches, shared by 1 in 100 similar non-matches (siblings,
#: twins): +6.3 / -2.3 bits. Block keys carry no score.
DEFAULT_EVIDENCE: Mapping[str, TokenEvidence | None] = MappingProxyType({
    "identifier": TokenEvidence(m=0.9, u=0.001),
    "match": TokenEvidence(m=0.8, u=0.01),
    "block": None,
})


@dataclass(frozen=True)
class ScoringConfig:
    """How token evidence adjusts the Dice score.

    Attributes
    ----------
    evidence:
        Token column name -> :class:`TokenEvidence`; columns not listed are ignored.
    dice_per_bit:
        Dice units per bit of evidence (0.015: an agreeing identifier adds ~0.15).
    max_bonus, max_penalty:
        Caps on the total adjustment either way, so several correlated tokens (an id and
        a match key built from the same fields) cannot outvote the CLK.
    disagreement_factor:
        Score multiplier per stable field that clearly disagrees (1.0: ignore them).
    """

    evidence: Mapping[str, TokenEvidence] = field(default_factory=lambda: MappingProxyType({}))
    dice_per_bit: float = 0.015
    max_bonus: float = 0.2
    max_penalty: float = 0.1
    disagreement_factor: float = 0.8

    def __post_init__(self) -> None:
        if self.dice_per_bit < 0 or self.max_bonus < 0 or self.max_penalty < 0:
            msg = "dice_per_bit, max_bonus and max_penalty must be >= 0"
            raise ValueError(msg)
        if not 0.0 <= self.disagreement_factor <= 1.0:
            msg = f"disagreement_factor must lie in [0, 1], got {self.disagreement_factor}"
            raise ValueError(msg)
        object.__setattr__(self, "evidence", MappingProxyType(dict(self.evidence)))

    @classmethod
    def for_tokens(cls, kinds: Mapping[str, TokenKind], **options: float) -> ScoringConfig:
        """A config with :data:`DEFAULT_EVIDENCE` for each token column of a known kind."""
        evidence = {}
        for name, kind in kinds.items():
            if kind not in DEFAULT_EVIDENCE:
                msg = f"token {name!r}: kind must be one of {list(DEFAULT_EVIDENCE)}, got {kind!r}"
                raise ValueError(msg)
            weight = DEFAULT_EVIDENCE[kind]
            if weight is not None:
                evidence[name] = weight
        return cls(evidence=evidence, **options)


def token_agreement(
    left_tokens: Mapping[str, Tokens],
    right_tokens: Mapping[str, Tokens],
    i: Indices,
    j: Indices,
    names: list[str] | None = None,
) -> tuple[dict[str, _Bools], dict[str, _Bools]]:
    """Per token column: does pair k agree, and are both tokens present?

    ``names`` defaults to every column both sides have. A missing token (all-zero row)
    is never an agreement.
    """
    names = names if names is not None else [n for n in left_tokens if n in right_tokens]
    agree: dict[str, _Bools] = {}
    both: dict[str, _Bools] = {}
    for name in names:
        a = np.asarray(left_tokens[name])[i]
        b = np.asarray(right_tokens[name])[j]
        present = np.asarray(a.any(axis=1) & b.any(axis=1), np.bool_)
        both[name] = present
        agree[name] = present & (a == b).all(axis=1)
    return agree, both


def combine_scores(
    dice: Scores,
    agreements: Mapping[str, _Bools],
    both_present: Mapping[str, _Bools],
    config: ScoringConfig,
    disagreements: Sequence[_Bools] = (),
) -> Scores:
    """Combine Dice scores with token agreements into one float32 score in [0, 1].

    Parameters
    ----------
    dice:
        CLK Dice coefficient per candidate pair.
    agreements, both_present:
        Per token column, bool arrays aligned with ``dice`` (see :func:`token_agreement`).
        Columns without evidence in ``config`` are ignored.
    config:
        :class:`ScoringConfig`.
    disagreements:
        Per stable field, a bool array aligned with ``dice``: both records hold the field
        and its values clearly differ (see :func:`hashmatch.link.segments.field_dice`).

    Returns
    -------
    float32 array, same length as ``dice``.
    """
    dice = np.asarray(dice, dtype=np.float32)
    bonus = np.zeros(len(dice), np.float64)
    penalty = np.zeros(len(dice), np.float64)
    for name, ev in config.evidence.items():
        if name not in agreements:
            continue
        agree = np.asarray(agreements[name], np.bool_)
        both = np.asarray(both_present[name], np.bool_)
        if agree.shape != dice.shape or both.shape != dice.shape:
            msg = f"token {name!r}: agreement arrays must have the shape of dice {dice.shape}"
            raise ValueError(msg)
        bonus += agree * max(ev.agree_bits, 0.0) * config.dice_per_bit
        penalty += (both & ~agree) * max(-ev.disagree_bits, 0.0) * config.dice_per_bit
    score = dice + np.minimum(bonus, config.max_bonus) - np.minimum(penalty, config.max_penalty)
    score = np.clip(score, 0.0, 1.0)
    if len(disagreements):
        count = np.zeros(len(dice), np.int64)
        for disagree in disagreements:
            if np.shape(disagree) != dice.shape:
                msg = f"disagreement arrays must have the shape of dice {dice.shape}"
                raise ValueError(msg)
            count += np.asarray(disagree, np.bool_)
        score *= config.disagreement_factor**count
    return score.astype(np.float32)
