"""What a link produced, as plain data: the inputs, each row's entity, the statistics.

:mod:`hashmatch.link.outputs` turns a :class:`LinkResult` into the results folder. Nothing
here holds a record id or a value: rows are known by their party's row tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices, RowTokens, Scores
from hashmatch.link.blocking import BlockingStats
from hashmatch.link.entities import EntityStats
from hashmatch.link.scoring import TokenKind
from hashmatch.link.solve import SolveStats
from hashmatch.link.threshold import ThresholdChoice

__all__ = ["LinkResult", "PairLinkStats", "PartyInfo"]


@dataclass(frozen=True)
class PartyInfo:
    """One input, as recorded in the report (no row-level data)."""

    party: str
    source: str  # file path, or "<memory>"
    rows: int
    digest: str  # SHA-256 of the file content ("" in memory)
    schema_fingerprint: str
    encoder_version: int
    clk_bits: int
    secret_commitment: str
    token_kinds: Mapping[str, TokenKind] = field(default_factory=dict)  # see token_kinds()
    envelope: Mapping[str, Any] | None = None  # a sealed input's envelope (intake.Input)


@dataclass(frozen=True)
class PairLinkStats:
    """Per party pair: candidates scored, pairs at/above threshold, pairs kept by solving."""

    party_a: str
    party_b: str
    candidates: int
    accepted: int
    kept: int
    blocking: BlockingStats | None
    solve: SolveStats | None  # None for a within-party (dedup) comparison
    threshold: float = float("nan")  # the cut applied to this pair's scores


@dataclass
class LinkResult:
    """Everything a link produced; :mod:`hashmatch.link.outputs` turns it into files."""

    parties: tuple[PartyInfo, ...]
    row_tokens: tuple[RowTokens, ...]
    entities: tuple[npt.NDArray[np.int64], ...]  # per party: entity number of each row
    n_entities: int
    threshold: ThresholdChoice
    pair_stats: tuple[PairLinkStats, ...]
    entity_stats: EntityStats
    dedup: bool
    # The pairs that were merged into entities: party index, row, party index, row, score.
    pairs: tuple[Indices, Indices, Indices, Indices, Scores]
    score_sample: Scores  # the pooled candidate scores the threshold was chosen from
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def party_names(self) -> tuple[str, ...]:
        return tuple(p.party for p in self.parties)
