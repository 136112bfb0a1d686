"""Reading a registry without changing it: its journal, one entity, its statistics.

What ``hashmatch registry log | show | stats`` print. Row tokens appear as hex (they are
the parties' opaque tokens, as in every results file); nothing here holds a value.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from hashmatch.errors import RegistryError
from hashmatch.registry.journal import Event, read_events
from hashmatch.registry.migrations import stored_version
from hashmatch.registry.state import RegistryState
from hashmatch.registry.store import Store, open_store

__all__ = ["EntityView", "entity_view", "journal", "record_map", "stats"]

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class EntityView:
    """One entity: its records per party (row tokens, hex) and its history."""

    eid: str
    created_run: int
    retired_run: int | None
    records: dict[str, list[str]]
    history: list[Event]


def _open(registry: PathLike | Store) -> Store:
    store = registry if isinstance(registry, Store) else open_store(registry)
    with store.read_transaction():
        if stored_version(store) == 0:
            raise RegistryError(f"{store.url}: an empty registry (no run yet)")
    return store


def journal(registry: PathLike | Store, *, entity: str | None = None,
            since_run: int | None = None) -> list[Event]:
    """The journal's events, optionally those naming ``entity``, from run ``since_run``."""
    store = _open(registry)
    with store.read_transaction():
        return list(read_events(store, entity=entity, since_run=since_run))


def entity_view(registry: PathLike | Store, eid: str) -> EntityView:
    """One entity by its id; raises :class:`RegistryError` when there is none."""
    store = _open(registry)
    with store.read_transaction():
        found = store.query("SELECT entity, created_run, retired_run FROM entities WHERE eid = ?",
                            [eid])
        if not found:
            raise RegistryError(f"{store.url}: no entity {eid}")
        entity, created, retired = found[0]
        records: dict[str, list[str]] = {}
        for party, token in store.query(
                "SELECT p.name, r.row_token FROM records r JOIN parties p "
                "ON p.party_id = r.party_id WHERE r.entity = ? ORDER BY p.name, r.rid",
                [entity]):
            records.setdefault(str(party), []).append(bytes(token).hex())
        history = list(read_events(store, entity=eid))
    return EntityView(eid, int(created), None if retired is None else int(retired), records,
                      history)


def stats(registry: PathLike | Store) -> dict[str, Any]:
    """Counts of the registry (records per party, entities, runs, events) and its rules."""
    store = _open(registry)
    with store.read_transaction():
        state = RegistryState.load(store)
        per_party = {str(n): int(c) for n, c in store.query(
            "SELECT p.name, count(r.rid) FROM parties p LEFT JOIN records r "
            "ON r.party_id = p.party_id GROUP BY p.name ORDER BY p.name")}
        live = store.scalar("SELECT count(*) FROM entities WHERE retired_run IS NULL")
        retired = store.scalar("SELECT count(*) FROM entities WHERE retired_run IS NOT NULL")
        multi = store.scalar("SELECT count(*) FROM entities WHERE size > 1")
        runs = store.query("SELECT run, finished, kind FROM runs ORDER BY run")
        events = {str(e): int(c) for e, c in store.query(
            "SELECT event, count(*) FROM journal GROUP BY event ORDER BY event")}
        # (a registry of layout 3 or older, not yet upgraded by a run, has no such table)
        lookalikes = int(store.scalar("SELECT count(*) FROM lookalikes")) \
            if store.has_table("lookalikes") else None
        return {
            "registry": store.url,
            "schema_version": stored_version(store),
            "records": per_party,
            "entities": {"live": int(live), "retired": int(retired),
                         "with_several_records": int(multi)},
            "runs": [{"run": int(r), "finished": str(f), "kind": str(k)} for r, f, k in runs],
            "events": events,
            "lookalike_record_pairs": lookalikes,
            "rules": state.describe(),
        }


def record_map(registry: PathLike | Store) -> dict[tuple[str, bytes], str]:
    """``{(party, row_token): entity id}`` of every current record (tests, audits)."""
    store = _open(registry)
    with store.read_transaction():
        return {(str(p), bytes(t)): str(e) for p, t, e in store.query(
            "SELECT p.name, r.row_token, e.eid FROM records r JOIN parties p "
            "ON p.party_id = r.party_id JOIN entities e ON e.entity = r.entity")}
