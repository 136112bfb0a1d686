"""The registry's tables, their version, and the upgrade chain between versions.

``registry_meta`` (key, value) holds ``format`` = :data:`FORMAT` (a database without it
is not a registry, and is refused rather than written into), ``schema_version`` (the
layout below; :data:`SCHEMA_VERSION`), and the facts a run keeps (see
:mod:`hashmatch.registry.state`). :func:`upgrade` brings an older registry to the current
layout one step at a time (``MIGRATIONS[v]`` turns version ``v`` into ``v + 1``, inside
the run's transaction); a registry from a newer hashmatch is refused.

Layout, version 4 (``BLOB`` is ``BYTEA`` on PostgreSQL)::

    parties    (party_id, name)                         one row per party ever seen
    records    (rid, party_id, row_token, clk, tokens,  every current record: its encoding
                present, entity, added_run)             (see records.py), its entity
    index_segments (party_id, segment, part, data)      per party, what a run diffs and
                                                        joins against: each record's row
                                                        token, digest (records.py) and
                                                        blocking keys (candidates.py), as
                                                        appended packed arrays (index.py)
    edges      (lo, hi, score)                          candidate pairs at/above the cut
    lookalikes (lo, hi, shared, differ)                 record pairs that look alike
                                                        (twins, couples: link/lookalikes.py)
                                                        and the fields they share and not
    entities   (entity, eid, created_run, retired_run,  every entity ever made; eid is the
                size)                                   opaque id parties see
    runs       (run, started, finished, kind, summary)  one row per run
    journal    (seq, run, time, event, entity, other,   every change (journal.py)
                party, row_token)
    models     (party_a, party_b, version, run,         trained scoring models: opaque
                created, model)                         JSON per party pair (models.py)

Version 1 kept the blocking keys in a table ``block_keys (key, rid)`` (one row per key,
~18 per record) and a BLAKE2b digest in ``records``; version 2 keeps each record's keys
and digest (a vectorised fingerprint, records.py) in ``record_index``, so a run reads
them in one scan and joins keys in memory instead of probing and deleting key rows.
:func:`_v1_to_v2` computes both from the stored encodings. Version 3 keeps the same
facts as a few blobs per party (:mod:`~hashmatch.registry.index`) instead of a row per
record, so a run reads arrays, not a million rows; :func:`_v2_to_v3` packs them.
Version 4 adds ``lookalikes`` (:func:`_v3_to_v4`, empty: an upgraded registry lists the
look-alikes of the records each run scores from then on).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import numpy.typing as npt

from hashmatch.errors import RegistryError
from hashmatch.registry import candidates as cand
from hashmatch.registry import index as record_index
from hashmatch.registry.records import Layout, RecordSet, digests
from hashmatch.registry.store import Store

__all__ = ["FORMAT", "SCHEMA_VERSION", "get_meta", "set_meta", "stored_version", "upgrade"]

FORMAT = "hashmatch-registry"
SCHEMA_VERSION = 4


def _create_v1(store: Store) -> None:
    blob, norowid = store.blob, store.without_rowid
    for ddl in (
        "CREATE TABLE registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE parties (party_id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
        f"""CREATE TABLE records (
            rid BIGINT PRIMARY KEY, party_id BIGINT NOT NULL, row_token {blob} NOT NULL,
            digest {blob} NOT NULL, clk {blob} NOT NULL, tokens {blob} NOT NULL,
            present {blob} NOT NULL, entity BIGINT NOT NULL, added_run BIGINT NOT NULL,
            UNIQUE (party_id, row_token))""",
        "CREATE INDEX records_entity ON records (entity)",
        f"CREATE TABLE block_keys (key BIGINT NOT NULL, rid BIGINT NOT NULL, "
        f"PRIMARY KEY (key, rid)) {norowid}",
        f"CREATE TABLE edges (lo BIGINT NOT NULL, hi BIGINT NOT NULL, score REAL NOT NULL, "
        f"PRIMARY KEY (lo, hi)) {norowid}",
        "CREATE INDEX edges_hi ON edges (hi)",
        """CREATE TABLE entities (
            entity BIGINT PRIMARY KEY, eid TEXT NOT NULL UNIQUE, created_run BIGINT NOT NULL,
            retired_run BIGINT, size BIGINT NOT NULL)""",
        """CREATE TABLE runs (
            run BIGINT PRIMARY KEY, started TEXT NOT NULL, finished TEXT NOT NULL,
            kind TEXT NOT NULL, summary TEXT NOT NULL)""",
        f"""CREATE TABLE journal (
            seq BIGINT PRIMARY KEY, run BIGINT NOT NULL, time TEXT NOT NULL,
            event TEXT NOT NULL, entity TEXT NOT NULL, other TEXT, party TEXT,
            row_token {blob})""",
        "CREATE INDEX journal_entity ON journal (entity)",
        "CREATE INDEX journal_other ON journal (other)",
        "CREATE INDEX journal_run ON journal (run)",
        """CREATE TABLE models (
            party_a TEXT NOT NULL, party_b TEXT NOT NULL, version BIGINT NOT NULL,
            run BIGINT NOT NULL, created TEXT NOT NULL, model TEXT NOT NULL,
            PRIMARY KEY (party_a, party_b, version))""",
    ):
        store.execute(ddl)
    store.insert("registry_meta", ["key", "value"], [("format", FORMAT)])


def _v1_to_v2(store: Store, chunk: int = 65_536) -> None:
    """``record_index`` made (each record's keys and fingerprint digest, computed from
    its stored encoding a chunk of records at a time), ``block_keys`` and the BLAKE2b
    ``records.digest`` dropped."""
    blob = store.blob
    store.execute(f"""CREATE TABLE record_index (
        rid BIGINT PRIMARY KEY, party_id BIGINT NOT NULL, row_token {blob} NOT NULL,
        digest {blob} NOT NULL, keys {blob} NOT NULL) {store.without_rowid}""")
    store.execute("DROP TABLE block_keys")
    store.execute("ALTER TABLE records DROP COLUMN digest")
    layout, plan = get_meta(store, "layout"), get_meta(store, "lsh_plan")
    if layout is None or plan is None:  # never ran: no records
        return
    lay, lsh = Layout.from_json(layout), cand.plan_from_json(plan)
    last = -1
    while found := store.query("SELECT rid, row_token, clk, tokens, present, party_id "
                               "FROM records WHERE rid > ? ORDER BY rid LIMIT ?", [last, chunk]):
        cols = [[bytes(r[c]) for r in found] for c in (1, 2, 3, 4)]
        rids = [int(r[0]) for r in found]
        rows = RecordSet.from_blobs(lay, rids, *cols)
        key_rids, keys = cand.record_keys(rows, lsh)
        by_rid = np.argsort(key_rids, kind="stable")
        packed = cand.pack_keys(rows.rids, key_rids[by_rid], keys[by_rid])
        matrix = np.frombuffer(b"".join(c + t + p for c, t, p in zip(*cols[1:], strict=True)),
                               np.uint8).reshape(len(rids), -1)
        fresh = [bytes(d) for d in digests(matrix)]
        store.insert("record_index", ["rid", "party_id", "row_token", "digest", "keys"],
                     zip(rids, [int(r[5]) for r in found], cols[0], fresh, packed, strict=True))
        last = rids[-1]


def _v2_to_v3(store: Store, chunk: int = 65_536) -> None:
    """``record_index`` (a row per record) packed into one index segment per party
    (:mod:`~hashmatch.registry.index`), then dropped."""
    record_index.create_table(store)
    rows: dict[int, list[tuple[int, bytes, bytes, bytes]]] = {}
    cursor = store.execute("SELECT party_id, rid, row_token, digest, keys FROM record_index")
    while batch := cursor.fetchmany(chunk):
        for party_id, rid, token, digest, keys in batch:
            rows.setdefault(int(party_id), []).append(
                (int(rid), bytes(token), bytes(digest), bytes(keys)))
    index = record_index.RecordIndex({})
    for party_id, found in sorted(rows.items()):
        rids = np.fromiter((r[0] for r in found), np.int64, len(found))
        key_rids, keys = cand.unpack_keys(rids, [r[3] for r in found])
        index.append(store, party_id, record_index.Segment.build(
            rids, _rows16(r[1] for r in found), _rows16(r[2] for r in found), key_rids, keys))
    store.execute("DROP TABLE record_index")


def _v3_to_v4(store: Store) -> None:
    """``lookalikes`` made: pairs of records (``lo < hi``) that look alike, with the masks
    of the comparisons they agree on exactly and clearly disagree on."""
    store.execute(
        "CREATE TABLE lookalikes (lo BIGINT NOT NULL, hi BIGINT NOT NULL, shared BIGINT NOT "
        f"NULL, differ BIGINT NOT NULL, PRIMARY KEY (lo, hi)) {store.without_rowid}")
    store.execute("CREATE INDEX lookalikes_hi ON lookalikes (hi)")


def _rows16(blobs: Iterable[bytes]) -> npt.NDArray[np.uint8]:
    return np.frombuffer(b"".join(blobs), np.uint8).reshape(-1, 16)


#: ``MIGRATIONS[v]`` upgrades a registry of layout ``v`` to ``v + 1`` (0: empty database).
MIGRATIONS: dict[int, Callable[[Store], None]] = {
    0: _create_v1, 1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4,
}


def get_meta(store: Store, key: str) -> str | None:
    value = store.scalar("SELECT value FROM registry_meta WHERE key = ?", [key])
    return None if value is None else str(value)


def set_meta(store: Store, key: str, value: str) -> None:
    if get_meta(store, key) is None:
        store.insert("registry_meta", ["key", "value"], [(key, value)])
    else:
        store.execute("UPDATE registry_meta SET value = ? WHERE key = ?", [value, key])


def stored_version(store: Store) -> int:
    """The layout version of the registry (0 for an empty database).

    Raises
    ------
    RegistryError
        The database holds other tables but is not a registry, or was made by a newer
        hashmatch.
    """
    if not store.has_table("registry_meta"):
        if store.has_table("records") or store.has_table("entities"):
            raise RegistryError(f"{store.url}: this database is not a hashmatch registry")
        return 0
    if get_meta(store, "format") != FORMAT:
        raise RegistryError(f"{store.url}: this database is not a hashmatch registry")
    version = int(get_meta(store, "schema_version") or 0)
    if version > SCHEMA_VERSION:
        raise RegistryError(
            f"{store.url}: registry layout version {version} is newer than this hashmatch "
            f"reads ({SCHEMA_VERSION})",
            hint="upgrade hashmatch",
        )
    return version


def upgrade(store: Store) -> int:
    """Bring the registry to :data:`SCHEMA_VERSION` (inside the caller's transaction);
    returns the version it had."""
    found = version = stored_version(store)
    while version < SCHEMA_VERSION:
        MIGRATIONS[version](store)
        version += 1
        set_meta(store, "schema_version", str(version))
    return found
