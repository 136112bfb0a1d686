"""Look-alike records of a registry: found where a run scores, listed by current entity.

A batch link lists look-alike entities kept apart (twins, couples, parents and children:
:mod:`hashmatch.link.lookalikes`) from the candidates it scored. A registry run scores
only the candidates of its new and changed records, so it keeps what it finds as pairs
of *records* in the ``lookalikes`` table (record numbers and the masks of the fields
shared and differing), forgets the pairs of records that change or go (with their
edges), and lists them by the entities the records belong to when it writes its results
(:func:`related_entities`): a pair whose records were merged since is not listed, one
whose entities split apart again is. The same rule, the same keep floor and the same
candidates as the batch link on a registry's first run; later runs judge a shared birth
date by the surname frequencies of the records they load.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from hashmatch.encfile._layout import token_kinds
from hashmatch.link.comparison import comparison_levels
from hashmatch.link.fs_scorer import ProbabilisticScorer
from hashmatch.link.inputs import Encoding, as_encoding
from hashmatch.link.lookalikes import LookalikeFilter, classify
from hashmatch.link.relationships import Relationships
from hashmatch.registry.records import Layout, Locator, RecordSet
from hashmatch.registry.store import Store

__all__ = ["forget_lookalikes", "related_entities", "store_lookalikes"]

Rids = npt.NDArray[np.int64]


def store_lookalikes(store: Store, layout: Layout, pool: Mapping[str, RecordSet], lo: Rids,
                     hi: Rids, parties: Sequence[Encoding] | None = None) -> int:
    """Store the look-alike pairs among candidate pairs ``(lo, hi)`` (record numbers of
    records in ``pool``, kept above the floor); returns how many. ``parties``: the
    pool's sets (in name order) as the run's scorer read them, whose per-row views it
    computed already."""
    names = sorted(pool)
    sets = [pool[n] for n in names]
    if parties is None:
        parties = [as_encoding(s) for s in sets]
    scorer = ProbabilisticScorer(parties, _kinds(layout))
    pick = LookalikeFilter.of(scorer)
    if pick is None or not len(lo):
        return 0
    where = Locator(sets)
    (pa, ra), (pb, rb) = where(lo), where(hi)
    rids = [s.rids for s in sets]  # as entities: every record is its own
    rows: list[tuple[int, int, int, int]] = []
    for a in range(len(sets)):
        for b in range(len(sets)):
            sel = (pa == a) & (pb == b)
            if not sel.any():
                continue
            i, j = pick.select(a, ra[sel], b, rb[sel], rids)
            related, shared, differ = classify(scorer, pick, a, i, b, j)
            x, y = rids[a][i[related]], rids[b][j[related]]
            rows += zip(np.minimum(x, y).tolist(), np.maximum(x, y).tolist(),
                        shared[related].tolist(), differ[related].tolist(), strict=True)
    store.insert("lookalikes", ["lo", "hi", "shared", "differ"], rows)
    return len(rows)


def forget_lookalikes(store: Store) -> None:
    """Drop the pairs of the records in ``tmp_ids`` (see ``Store.load_ids``)."""
    store.execute("DELETE FROM lookalikes WHERE lo IN (SELECT id FROM tmp_ids)")
    store.execute("DELETE FROM lookalikes WHERE hi IN (SELECT id FROM tmp_ids)")


def related_entities(store: Store, layout: Layout) -> list[tuple[str, str, str, str]]:
    """``(entity_a, entity_b, shared, differing)`` per pair of entities whose records look
    alike (ids in order, each pair once, field names ``;``-separated), sorted."""
    found: dict[tuple[str, str], tuple[int, int]] = {}
    for eid_a, eid_b, shared, differ in store.query(
            "SELECT ea.eid, eb.eid, l.shared, l.differ FROM lookalikes l "
            "JOIN records ra ON ra.rid = l.lo JOIN records rb ON rb.rid = l.hi "
            "JOIN entities ea ON ea.entity = ra.entity "
            "JOIN entities eb ON eb.entity = rb.entity WHERE ra.entity <> rb.entity"):
        key = (min(str(eid_a), str(eid_b)), max(str(eid_a), str(eid_b)))
        before = found.get(key, (0, 0))
        found[key] = (before[0] | int(shared), before[1] | int(differ))
    fields = Relationships.none(_fields(layout))
    return [(a, b, ";".join(fields.field_names(s)), ";".join(fields.field_names(d)))
            for (a, b), (s, d) in sorted(found.items())]


def _kinds(layout: Layout) -> dict[str, str]:
    return dict(token_kinds(layout.token_names, layout.field_names, layout.extra))


def _fields(layout: Layout) -> tuple[str, ...]:
    """The comparisons the masks' bits name (as :class:`ProbabilisticScorer` makes them)."""
    return comparison_levels(layout.field_names, _kinds(layout)).names
