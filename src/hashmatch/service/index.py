"""The registry in memory, for answering one record in milliseconds.

Loaded once when the service starts (and again after each commit): every stored record's
encoding as one :class:`~hashmatch.registry.records.RecordSet` (the scorer's prepared
view of it, popcounts included, is built once and kept), its party and entity id, and the
registry's blocking keys as a sorted array (key -> rows by binary search). A query record
gets its keys from the registry's own LSH plan and token columns
(:func:`hashmatch.registry.candidates.record_keys`), is scored against the stored records
sharing a key with the link's own scorer, and is answered by the registry's cut: the
cross-party threshold against other parties' records, the within-party cut against the
asking party's own.

Status: ``new`` when no stored record reaches its cut; ``matched`` when one entity holds
the best score, ahead of any other entity's best by at least :data:`AMBIGUOUS_MARGIN`;
``ambiguous`` otherwise (the candidates' entity ids are listed, best first). A record
the asking party already stored, unchanged (same row token, same encoding), is
``matched`` to the entity the registry gave it, as the batch link decided.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from hashmatch.kernel import intersection_counts
from hashmatch.link.inputs import as_encoding, token_kinds
from hashmatch.link.scorer import PairScorer
from hashmatch.link.scoring import ScoringConfig
from hashmatch.link.segments import field_dice
from hashmatch.registry import candidates as cand
from hashmatch.registry.records import Layout, RecordSet
from hashmatch.registry.state import RegistryState
from hashmatch.registry.store import Store
from hashmatch.service.payload import Batch

__all__ = ["AMBIGUOUS_MARGIN", "Answer", "RegistryIndex"]

#: Two entities whose best scores are closer than this make an answer ``ambiguous``.
AMBIGUOUS_MARGIN = 0.05


@dataclass
class Answer:
    """One query record's answer (entity ids only: never another party's rows)."""

    entity_id: str | None
    status: str
    score: float | None
    candidates: list[str] = field(default_factory=list)
    fields: list[tuple[str, float | None]] = field(default_factory=list)
    tokens: list[tuple[str, str]] = field(default_factory=list)


class RegistryIndex:
    """Every stored record of a registry, its entity and blocking keys, in memory."""

    def __init__(self, state: RegistryState, rows: RecordSet, parties: npt.NDArray[np.int64],
                 party_names: list[str], entities: list[str],
                 keys: npt.NDArray[np.int64], key_rows: npt.NDArray[np.int64]) -> None:
        if state.layout is None or state.plan is None or state.threshold is None:
            raise ValueError("the registry has no run yet: link files into it first")
        self.state = state
        self.layout: Layout = state.layout
        self.rows = rows
        self.party_of = parties
        self.party_names = party_names
        self.entities = entities
        self.keys = keys
        self.key_rows = key_rows
        # (party, row token) -> row: a record the registry already holds and placed
        self.by_token = {(int(p), bytes(t)): k for k, (p, t) in
                         enumerate(zip(parties, rows.row_tokens, strict=True))}
        self.encoding = as_encoding(rows)
        self.encoding.view  # noqa: B018 - prepare the CLK view (popcounts) now, not per query
        kinds = token_kinds(self.layout.token_names, self.layout.field_names, self.layout.extra)
        self.config = ScoringConfig.for_tokens(kinds)

    @classmethod
    def load(cls, store: Store) -> RegistryIndex:
        with store.read_transaction():
            state = RegistryState.load(store)
            found = store.query(
                "SELECT p.name, r.rid, r.row_token, r.clk, r.tokens, r.present, e.eid "
                "FROM records r JOIN parties p ON p.party_id = r.party_id "
                "JOIN entities e ON e.entity = r.entity ORDER BY r.rid")
            pairs = store.query("SELECT key, rid FROM block_keys")
        if state.layout is None:
            raise ValueError("the registry has no run yet: link files into it first")
        cols = list(zip(*found, strict=True)) if found else [[]] * 7
        rows = RecordSet.from_blobs(state.layout, [int(r) for r in cols[1]],
                                    [bytes(x) for x in cols[2]], [bytes(x) for x in cols[3]],
                                    [bytes(x) for x in cols[4]], [bytes(x) for x in cols[5]])
        names = sorted(set(cols[0]))
        parties = np.array([names.index(p) for p in cols[0]], np.int64)
        kr = np.array(pairs, np.int64).reshape(-1, 2)
        order = np.argsort(kr[:, 0], kind="stable")
        keys = kr[order, 0]
        key_rows = np.searchsorted(rows.rids, kr[order, 1])
        return cls(state, rows, parties, names, [str(e) for e in cols[6]], keys, key_rows)

    @property
    def size(self) -> int:
        return len(self.rows.rids)

    def match(self, batch: Batch, party: str) -> list[Answer]:
        """Answer each record of ``batch`` (sent by ``party``)."""
        n = len(batch.clks)
        query = RecordSet(self.layout, np.arange(n, dtype=np.int64), batch.row_tokens,
                          batch.clks, batch.tokens, batch.present)
        q_rids, q_keys = cand.record_keys(query, self.state.plan)  # type: ignore[arg-type]
        scorer = PairScorer([as_encoding(query), self.encoding], self.config)
        own = self.party_names.index(party) if party in self.party_names else -1
        answers = []
        for r in range(n):
            rows = self._candidates(q_keys[q_rids == r])
            stored = self.by_token.get((own, bytes(batch.row_tokens[r])))
            if stored is not None and not self._same_encoding(query, r, stored):
                stored = None
            answers.append(self._answer(scorer, r, rows, own, stored))
        return answers

    def _candidates(self, keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        lo = np.searchsorted(self.keys, keys, "left")
        hi = np.searchsorted(self.keys, keys, "right")
        parts = [self.key_rows[a:b] for a, b in zip(lo, hi, strict=True)
                 if 0 < b - a <= cand.MAX_BLOCK_ROWS]
        return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)

    def _same_encoding(self, query: RecordSet, r: int, row: int) -> bool:
        stored = self.rows
        return bool(np.array_equal(query.clks[r], stored.clks[row])
                    and np.array_equal(query.present[r], stored.present[row])
                    and all(np.array_equal(query.tokens[k][r], stored.tokens[k][row])
                            for k in self.layout.token_names))

    def _answer(self, scorer: PairScorer, r: int, rows: npt.NDArray[np.int64],
                own: int, stored: int | None = None) -> Answer:
        if stored is not None:
            # The asking party's own record, unchanged: the registry already placed it
            # (a batch link's decision, ties and twins included); its entity is the answer.
            rows = np.union1d(rows, [stored])
        if not len(rows):
            return Answer(None, "new", None)
        score = scorer(0, np.full(len(rows), r, np.int64), 1, rows)
        assert self.state.threshold is not None and self.state.within_cut is not None
        cut = np.where(self.party_of[rows] == own, self.state.within_cut, self.state.threshold)
        best: dict[str, tuple[float, int]] = {}
        for k in np.flatnonzero(score >= cut):
            eid, s = self.entities[int(rows[k])], float(score[k])
            if eid not in best or s > best[eid][0]:
                best[eid] = (s, int(rows[k]))
        if not best and stored is None:
            top = int(np.argmax(score))
            return Answer(None, "new", round(float(score[top]), 4))
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))
        eid, (s, row) = ranked[0]
        if stored is not None:
            eid = self.entities[stored]
            s, row = best.get(eid, (float(score[np.searchsorted(rows, stored)]), stored))
            ranked = [(eid, (s, row))] + [kv for kv in ranked if kv[0] != eid]
            fields, tokens = self._explain(scorer, r, row)
            return Answer(eid, "matched", round(s, 4), [e for e, _ in ranked], fields, tokens)
        fields, tokens = self._explain(scorer, r, row)
        if len(ranked) > 1 and s - ranked[1][1][0] < AMBIGUOUS_MARGIN:
            return Answer(None, "ambiguous", round(s, 4), [e for e, _ in ranked], fields, tokens)
        return Answer(eid, "matched", round(s, 4), [e for e, _ in ranked], fields, tokens)

    def _explain(self, scorer: PairScorer, r: int, row: int
                 ) -> tuple[list[tuple[str, float | None]], list[tuple[str, str]]]:
        """Per field, the CLK similarity of the query and its best stored record; per
        token column, agree / disagree / missing (no values: similarities only)."""
        left, right = scorer.parties
        i, j = np.array([r]), np.array([row])
        fields = []
        counts = intersection_counts(left.clks, right.clks, i, j, segments=left.segments)
        for s, seg in enumerate(self.layout.segments):
            d = field_dice(counts[:, 1 + s], left.view, right.view, i, j, s)[0]
            fields.append((seg.field, None if np.isnan(d) else round(float(d), 4)))
        tokens = []
        for name in self.layout.token_names:
            a, b = left.tokens[name][r], right.tokens[name][row]
            evidence = "missing" if not (a.any() and b.any()) else \
                "agree" if np.array_equal(a, b) else "disagree"
            tokens.append((name, evidence))
        return fields, tokens
