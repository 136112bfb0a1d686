"""Which entity keeps which id when a run changes the clustering: the id rules.

A run re-clusters a *scope*: every record whose entity may have changed (new and changed
records, and everything connected to them or to removed records). Each new cluster of the
scope either carries on an existing entity (keeps its id) or is a new entity (a new id).
The rules, applied by :func:`assign_ids`:

1. **Heir.** Each earlier entity with records left in the scope has one *heir* cluster:
   the one holding most of its earlier records (ties: the one holding its oldest record,
   i.e. the smallest record number). Its other clusters *split* from it.
2. **Merge.** A cluster that is the heir of several earlier entities takes the id of the
   *oldest* of them (smallest creation run; ties: the larger entity before the run, then
   the smaller id as text); the others are *merged* into it and retired.
3. **New.** A cluster that is nobody's heir (new records only, or parts split off) gets a
   new id.
4. **Retired.** An earlier entity with no record left (its last records were removed) is
   retired. Ids are never reused.

So a split keeps the id with the part that holds most of the entity's earlier records,
and a merge keeps the oldest entity's id, as the Tilores rules do; an unchanged entity
keeps its id trivially (its cluster is its only heir claim).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["EntityInfo", "IdDecision", "assign_ids"]


@dataclass(frozen=True)
class EntityInfo:
    """An earlier entity as the rules see it."""

    entity: int
    eid: str
    created_run: int
    size: int  # records before this run


@dataclass
class IdDecision:
    """What :func:`assign_ids` decided, as entity numbers (None: a new entity)."""

    owner: list[int | None]  # per cluster: the earlier entity whose id it keeps, or None
    merged: list[tuple[int, int]] = field(default_factory=list)  # (survivor, absorbed)
    split: list[tuple[int, int]] = field(default_factory=list)  # (origin, cluster index)
    retired: list[int] = field(default_factory=list)


def assign_ids(
    clusters: Sequence[Sequence[int]],
    previous: Mapping[int, int],
    entities: Mapping[int, EntityInfo],
) -> IdDecision:
    """Apply the id rules of the module docstring.

    Parameters
    ----------
    clusters:
        The scope's new clusters, as record numbers.
    previous:
        Earlier entity of each scope record that had one (new records are absent).
    entities:
        Every earlier entity concerned: those in ``previous`` and those that lost records
        this run (even all of them).

    Example
    -------
    >>> old = {1: EntityInfo(1, "Ea", 1, 2), 2: EntityInfo(2, "Eb", 2, 1)}
    >>> d = assign_ids([[10, 11, 12]], {10: 1, 11: 1, 12: 2}, old)  # a merge
    >>> d.owner, d.merged, d.retired
    ([1], [(1, 2)], [2])
    """
    parts: dict[int, Counter[int]] = {}  # earlier entity -> cluster -> records
    oldest: dict[int, dict[int, int]] = {}  # earlier entity -> cluster -> smallest record
    for c, members in enumerate(clusters):
        for rid in members:
            e = previous.get(rid)
            if e is None:
                continue
            parts.setdefault(e, Counter())[c] += 1
            first = oldest.setdefault(e, {})
            first[c] = min(first.get(c, rid), rid)
    claims: dict[int, list[int]] = {}  # cluster -> entities whose heir it is
    decision = IdDecision(owner=[None] * len(clusters))
    for e, counts in sorted(parts.items()):
        heir = min(counts, key=lambda c: (-counts[c], oldest[e][c]))
        claims.setdefault(heir, []).append(e)
        decision.split += [(e, c) for c in sorted(counts) if c != heir]
    for c, claimants in sorted(claims.items()):
        info = [entities[e] for e in claimants]
        survivor = min(info, key=lambda x: (x.created_run, -x.size, x.eid))
        decision.owner[c] = survivor.entity
        for other in sorted(info, key=lambda x: x.eid):
            if other.entity != survivor.entity:
                decision.merged.append((survivor.entity, other.entity))
                decision.retired.append(other.entity)
    decision.retired += sorted(e for e in entities if e not in parts)
    return decision
