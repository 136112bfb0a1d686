"""Re-cluster a scope of records from its stored edges, exactly as a batch link would.

A batch link keeps, per party pair, the candidate pairs at or above the cut, cuts them
to the mutual best of their rows (:func:`hashmatch.link.solve.mutual_best`), solves
those one-to-one (:func:`hashmatch.link.solve.solve_one_to_one`) and merges the kept
pairs into entities with the conflict rules (:func:`hashmatch.link.entities.merge_entities`).
The solve and the merge only ever look at pairs connected to each other, so on a *scope*
closed under the mutual-best and within-party edges (:mod:`hashmatch.registry.scope`)
they give the same clusters as a batch link of everything would give for those records,
up to ties. The registry calls this on the scope of each run; everything outside keeps
its entities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from hashmatch.link.entities import merge_entities
from hashmatch.link.inputs import as_encoding, token_kinds
from hashmatch.link.pipeline import (
    DEDUP_CONFLICT_MARGIN,
    DEFAULT_CONFLICT_MARGIN,
    conflict_bars,
)
from hashmatch.link.scorer import PairScorer
from hashmatch.link.scoring import ScoringConfig
from hashmatch.link.solve import solve_one_to_one, solve_party_pair, tie_keys
from hashmatch.registry.records import Layout, Locator, RecordSet

__all__ = ["Rules", "cluster_scope", "scorer_for"]


@dataclass(frozen=True)
class Rules:
    """The registry's linkage rules (fixed at its first run): the cross-party threshold,
    the within-party cut, dedup, and the cross-party pairs linked at their own threshold
    (``pair_cuts``, keyed by the two party names in sorted order; see
    :func:`hashmatch.link.threshold.own_valley`)."""

    threshold: float
    within_cut: float
    dedup: bool
    pair_cuts: Mapping[tuple[str, str], float] = field(default_factory=dict)

    def cut(self, a: str, b: str) -> float:
        """The cut of a pair of records of parties ``a`` and ``b``."""
        if a == b:
            return self.within_cut
        return self.pair_cuts.get((min(a, b), max(a, b)), self.threshold)

    def cut_table(self, parties: Sequence[str]) -> npt.NDArray[np.float64]:
        """``cut_table(names)[x, y]``: the cut of parties ``names[x]`` and ``names[y]``."""
        return np.array([[self.cut(a, b) for b in parties] for a in parties], np.float64) \
            .reshape(len(parties), len(parties))

    def conflict_bars(self, parties: Sequence[str]) -> npt.NDArray[np.float64]:
        """The merge veto's bar per party pair, as a batch link sets it."""
        margin = DEDUP_CONFLICT_MARGIN if self.dedup else DEFAULT_CONFLICT_MARGIN
        jobs = [(x, y) for x in range(len(parties)) for y in range(x + 1, len(parties))]
        cuts = [self.cut(parties[x], parties[y]) for x, y in jobs]
        return conflict_bars(len(parties), jobs, cuts, self.threshold, margin)


def scorer_for(layout: Layout, parties: Sequence[RecordSet]) -> PairScorer:
    """The batch link's scorer over rows the registry holds."""
    kinds = token_kinds(layout.token_names, layout.field_names, layout.extra)
    return PairScorer([as_encoding(p) for p in parties], ScoringConfig.for_tokens(kinds))


def cluster_scope(
    names: Sequence[str],
    parties: Sequence[RecordSet],
    lo: npt.NDArray[np.int64],
    hi: npt.NDArray[np.int64],
    score: npt.NDArray[np.float32],
    rules: Rules,
    *,
    best_only: bool = False,
) -> list[list[int]]:
    """Clusters (lists of record numbers) of the scope records in ``parties`` (one
    :class:`RecordSet` per party, named ``names``, rows in record-number order), from the
    edges ``(lo, hi, score)`` among them (record numbers, each edge at or above its cut).
    The edges are every edge of these records, or with ``best_only`` their within-party
    edges and the cross-party edges already cut to the mutual best (marked over every
    edge of their rows: :func:`hashmatch.registry.scope.scope_of`)."""
    rids = np.concatenate([p.rids for p in parties]) if parties else np.zeros(0, np.int64)
    where = Locator(parties)
    (pa, ra), (pb, rb) = where(lo), where(hi)
    swap = pa > pb  # the smaller party index on the left, as a batch link orders jobs
    pa, pb = np.where(swap, pb, pa), np.where(swap, pa, pb)
    ra, rb = np.where(swap, rb, ra), np.where(swap, ra, rb)
    keys = [] if best_only else [tie_keys(p.row_tokens) for p in parties]
    keep = np.ones(len(score), bool)
    for a, b in {(int(x), int(y)) for x, y in zip(pa, pb, strict=True) if x != y}:
        sel = np.flatnonzero((pa == a) & (pb == b))
        cut = rules.cut(names[a], names[b])
        # as a batch link does (hashmatch.link.pipeline.solve_job)
        if best_only:
            kept, _ = solve_one_to_one(ra[sel], rb[sel], score[sel], threshold=cut)
        else:
            kept, _ = solve_party_pair(ra[sel], rb[sel], score[sel], threshold=cut,
                                       key_i=keys[a][ra[sel]], key_j=keys[b][rb[sel]])
        keep[sel[~kept]] = False
    scorer = scorer_for(parties[0].header, parties) if parties else None
    labels, _ = merge_entities(
        [len(p.rids) for p in parties], pa[keep], ra[keep], pb[keep], rb[keep], score[keep],
        dedup=rules.dedup, compare=scorer,
        reject_below=rules.conflict_bars(names) if scorer else None,
    )
    flat = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    groups: dict[int, list[int]] = {}
    for label, rid in zip(flat.tolist(), rids.tolist(), strict=True):
        groups.setdefault(label, []).append(rid)
    return sorted(groups.values(), key=min)
