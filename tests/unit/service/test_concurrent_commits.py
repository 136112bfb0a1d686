"""Commits at the same moment, through two services over one registry (as two processes
would run), serialise on the registry's run lock: no update is lost and no person gets a
second entity, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from hashmatch.encode import encode_records
from hashmatch.registry import journal, record_map, update
from hashmatch.registry.journal import replay
from hashmatch.service.payload import encode_rows
from hashmatch.service.tokens import issue_token
from hashmatch.synth import synthesize

ROUNDS = 3


def _body(batch: Any, row: int) -> dict[str, Any]:
    h, rows = batch.header, slice(row, row + 1)
    return {"schema_fingerprint": h.schema_fingerprint, "secret_commitment": h.secret_commitment,
            "records": encode_rows(batch.clks[rows], {k: v[rows] for k, v in batch.tokens.items()},
                                   batch.present[rows], batch.row_tokens[rows], h.field_names)}


def test_concurrent_commits_lose_nothing_and_duplicate_no_entity(served, registry_url: str,
                                                                 tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from hashmatch.service.app import create_app

    update(registry_url, [served.root / f"{p}.hme" for p in ("callcentre", "catalogue", "crm",
                                                             "partner")])
    tokens = {p: issue_token(registry_url, p) for p in ("crm", "partner")}
    synthesize(tmp_path / "new", entities=20, seed=5150)
    # the same new people reach the crm and the partner at once: each party commits its
    # own record of them (the same details, each under its own row key)
    batches = {party: encode_records(tmp_path / "new" / "crm.csv",
                                     schema=served.synth("schema.toml"), secret=served.secret,
                                     party=party, mapping=served.synth("crm.mapping.toml"),
                                     row_key=served.rowkey(party))
               for party in ("crm", "partner")}
    before = record_map(registry_url)
    barrier = threading.Barrier(2)
    answers: dict[str, list[str | None]] = {}
    errors: list[BaseException] = []

    def party_service(party: str) -> None:
        try:
            with TestClient(create_app(registry_url)) as client:
                mine = []
                for k in range(ROUNDS):
                    barrier.wait(timeout=120)
                    r = client.post("/v1/records", json=_body(batches[party], k),
                                    headers={"Authorization": f"Bearer {tokens[party]}"})
                    assert r.status_code == 200, r.text
                    assert r.json()["added"] == 1
                    mine.append(r.json()["results"][0]["entity_id"])
                answers[party] = mine
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=party_service, args=(p,)) for p in ("crm", "partner")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors

    after = record_map(registry_url)
    assert len(after) == len(before) + 2 * ROUNDS  # no lost update
    for k in range(ROUNDS):
        ids = {after[party, bytes(batches[party].row_tokens[k])] for party in ("crm", "partner")}
        assert len(ids) == 1, f"person {k} has {len(ids)} entities"  # no duplicate entity
        (eid,) = ids
        assert answers["crm"][k] == answers["partner"][k] == eid
    assert len({after[p, bytes(batches[p].row_tokens[k])] for p in ("crm", "partner")
                for k in range(ROUNDS)}) == ROUNDS
    events = journal(registry_url)
    assert replay(events) == after  # the journal tells every commit, in order
    runs = {e.run for e in events if e.row_token is not None and
            any(e.row_token == bytes(batches[p].row_tokens[k]) for p in ("crm", "partner")
                for k in range(ROUNDS))}
    assert len(runs) == 2 * ROUNDS  # each commit its own run, none merged into another
