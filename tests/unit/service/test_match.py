"""The service answers like the registry: stored records come back with their entity id,
new people come back ``new``, and the answers explain themselves without values."""

from __future__ import annotations

from typing import Any

from hashmatch.encode import encode_records
from hashmatch.registry import record_map
from hashmatch.service.payload import encode_rows
from hashmatch.synth import synthesize


def _body(batch: Any, rows: slice) -> dict[str, Any]:
    h = batch.header
    return {"schema_fingerprint": h.schema_fingerprint,
            "secret_commitment": h.secret_commitment,
            "records": encode_rows(batch.clks[rows], {k: v[rows] for k, v in batch.tokens.items()},
                                   batch.present[rows], batch.row_tokens[rows], h.field_names)}


def _encode(served: Any, csv_path: Any, party: str) -> Any:
    return encode_records(csv_path, schema=served.synth("schema.toml"), secret=served.secret,
                          party=party, mapping=served.synth(f"{party}.mapping.toml"),
                          row_key=served.rowkey(party))


def _auth(served: Any, party: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {served.tokens[party]}"}


def test_stored_records_come_back_with_their_registry_entity(served, client) -> None:
    batch = _encode(served, served.synth("crm.csv"), "crm")
    stored = {tok: eid for (party, tok), eid in record_map(served.registry).items()
              if party == "crm"}
    answers = []
    for start in range(0, batch.rows, 100):
        r = client.post("/v1/match", json=_body(batch, slice(start, start + 100)),
                        headers=_auth(served, "crm"))
        assert r.status_code == 200, r.text
        answers += r.json()["results"]
    assert len(answers) == batch.rows
    same = sum(a["entity_id"] == stored[bytes(t)]
               for a, t in zip(answers, batch.row_tokens, strict=True))
    wrong = sum(a["status"] == "matched" and a["entity_id"] != stored[bytes(t)]
                for a, t in zip(answers, batch.row_tokens, strict=True))
    bad = [(a["status"], a["candidates"]) for a, t in
           zip(answers, batch.row_tokens, strict=True) if a["entity_id"] != stored[bytes(t)]]
    assert same >= 0.995 * batch.rows, bad
    assert wrong <= 0.005 * batch.rows
    first = answers[0]
    assert first["status"] == "matched" and 0 < first["score"] <= 1.5
    assert {f["field"] for f in first["fields"]}  # per-field similarities, no values
    assert all(t["evidence"] in ("agree", "disagree", "missing") for t in first["tokens"])


def test_a_new_person_comes_back_new(served, client, tmp_path) -> None:
    synthesize(tmp_path / "other", entities=40, seed=991)
    batch = _encode(served, tmp_path / "other" / "crm.csv", "crm")
    r = client.post("/v1/match", json=_body(batch, slice(0, 30)), headers=_auth(served, "crm"))
    assert r.status_code == 200, r.text
    statuses = [a["status"] for a in r.json()["results"]]
    assert statuses.count("new") == len(statuses), statuses
    assert all(a["entity_id"] is None for a in r.json()["results"])


def test_a_committed_record_is_journalled_and_then_recognised(served, client,
                                                              tmp_path) -> None:
    from hashmatch.registry import journal

    synthesize(tmp_path / "more", entities=10, seed=4242)
    batch = _encode(served, tmp_path / "more" / "crm.csv", "crm")
    body = _body(batch, slice(0, 2))
    before = len(journal(served.registry))
    dry = client.post("/v1/records", json={**body, "commit": False},
                      headers=_auth(served, "crm"))
    assert dry.status_code == 200 and dry.json()["committed"] is False
    assert [a["status"] for a in dry.json()["results"]] == ["new", "new"]
    assert len(journal(served.registry)) == before
    r = client.post("/v1/records", json=body, headers=_auth(served, "crm"))
    assert r.status_code == 200, r.text
    assert r.json()["added"] == 2
    ids = [a["entity_id"] for a in r.json()["results"]]
    assert all(ids) and [a["status"] for a in r.json()["results"]] == ["matched"] * 2
    events = journal(served.registry)[before:]
    assert {e.event for e in events} >= {"created", "record_added"}
    assert set(ids) <= {e.entity for e in events}
    # the index was refreshed: a plain match now finds them, and committing again is a no-op
    again = client.post("/v1/match", json=body, headers=_auth(served, "crm")).json()["results"]
    assert [a["entity_id"] for a in again] == ids
    r = client.post("/v1/records", json=body, headers=_auth(served, "crm"))
    assert r.json()["unchanged"] == 2 and len(journal(served.registry)) == len(events) + before


def test_without_row_tokens_no_answer_is_wrong(served, client) -> None:
    """From the encoding alone (no row token): never a wrong entity; an ``ambiguous``
    answer lists the registry's entity among its candidates."""
    batch = _encode(served, served.synth("partner.csv"), "partner")
    stored = {tok: eid for (party, tok), eid in record_map(served.registry).items()
              if party == "partner"}
    answers = []
    for start in range(0, batch.rows, 100):
        body = _body(batch, slice(start, start + 100))
        for rec in body["records"]:
            del rec["row_token"]
        r = client.post("/v1/match", json=body, headers=_auth(served, "partner"))
        assert r.status_code == 200, r.text
        answers += r.json()["results"]
    matched = 0
    for a, t in zip(answers, batch.row_tokens, strict=True):
        want = stored.get(bytes(t))
        if want is None:  # a row another test committed under this party
            continue
        assert a["status"] != "new"
        if a["status"] == "matched":
            assert a["entity_id"] == want
            matched += 1
        else:
            assert want in a["candidates"]
    assert matched >= 0.9 * len(answers)
