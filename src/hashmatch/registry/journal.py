"""The change journal: every change a run makes to the registry, as events.

Each event has a sequence number, the run, the time (UTC, ISO 8601), its kind, the entity
id it concerns and, depending on the kind, another entity id, a party and a row token:

==================  ===========================  =====================================
event               entity / other               party, row_token
==================  ===========================  =====================================
``created``         the new id                   -
``record_added``    its entity                   the record (new to the registry)
``record_moved``    new entity / previous one    the record
``record_removed``  its last entity              the record (gone from its snapshot)
``merged``          survivor / absorbed id       -
``split``           origin / id of the part      -
``retired``         the id                       -
==================  ===========================  =====================================

Record events come first within a run, so replaying ``record_added``, ``record_moved``
and ``record_removed`` in sequence rebuilds the record -> entity map exactly
(:func:`replay`); the entity events say why. A run that changes nothing writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from hashmatch.registry.store import Store

__all__ = ["EVENTS", "Event", "read_events", "replay", "write_events"]

EVENTS = ("created", "record_added", "record_moved", "record_removed", "merged", "split",
          "retired")
_COLUMNS = ["seq", "run", "time", "event", "entity", "other", "party", "row_token"]


@dataclass(frozen=True)
class Event:
    """One journal entry (``row_token`` as raw bytes; hex in outputs)."""

    seq: int
    run: int
    time: str
    event: str
    entity: str
    other: str | None = None
    party: str | None = None
    row_token: bytes | None = None

    def to_dict(self) -> dict[str, object]:
        return {"seq": self.seq, "run": self.run, "time": self.time, "event": self.event,
                "entity": self.entity, "other": self.other, "party": self.party,
                "row_token": self.row_token.hex() if self.row_token is not None else None}


def write_events(store: Store, events: Iterable[Event]) -> None:
    store.insert("journal", _COLUMNS, (
        (e.seq, e.run, e.time, e.event, e.entity, e.other, e.party, e.row_token)
        for e in events))


def read_events(store: Store, *, entity: str | None = None, since_run: int | None = None,
                run: int | None = None) -> Iterator[Event]:
    """Events in sequence order, optionally about one entity id (as ``entity`` or
    ``other``), from run ``since_run`` on, or of one ``run``."""
    where: list[str] = []
    params: list[str | int] = []
    if entity is not None:
        where.append("(entity = ? OR other = ?)")
        params += [entity, entity]
    if since_run is not None:
        where.append("run >= ?")
        params.append(since_run)
    if run is not None:
        where.append("run = ?")
        params.append(run)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    for row in store.query(f"SELECT {','.join(_COLUMNS)} FROM journal{clause} ORDER BY seq",
                           params):
        seq, run_, time, event, ent, other, party, token = row
        yield Event(int(seq), int(run_), str(time), str(event), str(ent),
                    other, party, None if token is None else bytes(token))


def replay(events: Iterable[Event]) -> dict[tuple[str, bytes], str]:
    """The record -> entity id map the events lead to: ``{(party, row_token): eid}``."""
    where: dict[tuple[str, bytes], str] = {}
    for e in events:
        if e.party is None or e.row_token is None:
            continue
        key = (e.party, e.row_token)
        if e.event in ("record_added", "record_moved"):
            where[key] = e.entity
        elif e.event == "record_removed":
            where.pop(key, None)
    return where
