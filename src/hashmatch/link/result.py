"""What a link produced, as plain data: the inputs, each row's entity, the statistics.

:mod:`hashmatch.link.outputs` turns a :class:`LinkResult` into the results folder;
:meth:`LinkResult.to_pandas` into one table, and its reprs into a notebook summary. The
coordinator's pipeline knows rows only by their party's row tokens. Record ids appear
only in :class:`HeldRecords`, which ``hashmatch.link()`` (the facade) fills from the
``EncodedBatch`` objects its caller passed: the party's own data, shown back to the
party in :meth:`~LinkResult.to_pandas` and never written by the outputs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from hashmatch._types import Indices, RowTokens, Scores
from hashmatch.link.blocking import BlockingStats
from hashmatch.link.entities import EntityStats
from hashmatch.link.scoring import TokenKind
from hashmatch.link.solve import SolveStats
from hashmatch.link.threshold import ThresholdChoice, own_valley

if TYPE_CHECKING:
    from hashmatch.link.explain import PairExplanations
    from hashmatch.link.outputs import ResultFiles
    from hashmatch.link.relationships import Relationships

__all__ = ["HeldRecords", "LinkResult", "PairLinkStats", "PartyInfo"]


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
    #: The header's hardening record (``{"profile", "options"}``), None when unhardened.
    hardening: Mapping[str, Any] | None = None


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
    #: Histogram of every candidate score of the pair, equal bins over [0, 1] (the
    #: report draws each pair's distribution with its threshold); empty when not known.
    score_counts: tuple[int, ...] = ()


@dataclass(frozen=True)
class HeldRecords:
    """What the caller holds about one party's rows because it passed the party's batch:
    set by ``hashmatch.link()``, never by the coordinator's pipeline, never written out."""

    record_ids: Sequence[str]  # per encoded row, in encoding order
    row_numbers: npt.NDArray[np.int64]  # per encoded row: 1-based data row of the input
    rejected_rows: npt.NDArray[np.int64]  # data rows not encoded, ascending
    reject_reasons: Sequence[str]  # per rejected row: reason codes (and columns), no value


@dataclass
class LinkResult:
    """Everything a link produced; :mod:`hashmatch.link.outputs` turns it into files.

    In a notebook: ``res.to_pandas()`` gives one row per input row with its entity id,
    ``res.write("results/")`` the coordinator's results folder, ``res`` alone a summary.
    """

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
    #: Per party, the caller's own view of its rows (None for a party given as a file).
    held: tuple[HeldRecords | None, ...] = ()
    #: Probabilistic scoring: per party pair ("A~B") the fitted model (fields -> levels ->
    #: m, u, weight), and the label-free quality estimate (:mod:`hashmatch.link.quality`).
    model: dict[str, Any] | None = None
    estimated: dict[str, Any] | None = None
    #: Probabilistic scoring: each linked pair's prior and per-field levels and weights
    #: (aligned with ``pairs``; pairs.csv shows them).
    explanations: PairExplanations | None = None
    #: Look-alike entities kept apart (twins, couples, parents and children;
    #: :mod:`hashmatch.link.relationships`); relationships.csv lists them.
    relationships: Relationships | None = None

    @property
    def party_names(self) -> tuple[str, ...]:
        return tuple(p.party for p in self.parties)

    @property
    def notes(self) -> tuple[str, ...]:
        """What the user should know about how the result was reached: today, the party
        pairs linked at their own threshold because the pooled one would have cut their
        matches off (:func:`~hashmatch.link.threshold.own_valley`)."""
        out = []
        for s in self.pair_stats:
            own = own_valley(self.threshold, s.score_counts) if s.party_a != s.party_b \
                else None
            if own is not None:
                out.append(own.describe(f"{s.party_a} ~ {s.party_b}"))
        return tuple(out)

    def to_pandas(self, *, rejected: bool = True) -> Any:
        """One row per input row: ``party, row, record_id, row_token, entity_id, status,
        reason`` (a pandas DataFrame; needs pandas).

        ``entity_id`` is the id the results files give the row (``E000042``). ``status``
        is ``matched`` (its entity holds other rows), ``unmatched`` or ``rejected``.
        ``row`` (the 1-based data row of the party's input: row k of a DataFrame is
        ``df.iloc[k - 1]``), ``record_id`` and the rejected rows come from the batches
        the caller passed to ``hashmatch.link()``; for a party given as a ``.hme`` file
        they are unknown here (``<NA>``, no rejected rows: those are in the party's
        rejects report) and its lookup file maps ``row_token`` to record ids. Rejected
        rows have no row token or entity and carry their ``reason`` codes; pass
        ``rejected=False`` to leave them out.
        """
        from hashmatch.link.views import link_table

        return link_table(self, rejected=rejected)

    def write(self, out_dir: str | os.PathLike[str], **options: Any) -> ResultFiles:
        """Write the coordinator's results folder, as ``hashmatch link -o`` does (see
        :func:`hashmatch.link.outputs.write_results` for the ``options``). Files know rows
        by row token only: record ids are never written."""
        from hashmatch.link.outputs import write_results

        return write_results(self, out_dir, **options)

    def __repr__(self) -> str:
        parties = ", ".join(f"{p.party}: {p.rows}" for p in self.parties)
        linked = sum(s.kept for s in self.pair_stats)
        return (
            f"LinkResult(parties=[{parties}], entities={self.n_entities}, "
            f"multi_row_entities={self.entity_stats.multi_row_entities}, "
            f"linked_pairs={linked}, threshold={self.threshold.value:.3f} "
            f"({self.threshold.method}), dedup={self.dedup})"
        )

    def _repr_html_(self) -> str:
        from hashmatch.link.views import link_html

        return link_html(self)
