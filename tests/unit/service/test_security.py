"""Authentication, isolation between parties, revocation, and bad payloads get 4xx."""

from __future__ import annotations

from hashmatch.registry import record_map
from hashmatch.service.tokens import issue_token, revoke_token

from .test_match import _auth, _body, _encode


def test_every_endpoint_but_health_needs_a_live_token(served, client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    batch = _encode(served, served.synth("crm.csv"), "crm")
    body = _body(batch, slice(0, 2))
    for route in ("/v1/match", "/v1/records"):
        assert client.post(route, json=body).status_code == 401
        bad = {"Authorization": "Bearer hm_crm_" + "0" * 64}
        assert client.post(route, json=body, headers=bad).status_code == 401


def test_tokens_are_revocable(served, client) -> None:
    token = issue_token(served.registry, "callcentre")
    batch = _encode(served, served.synth("callcentre.csv"), "callcentre")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.post("/v1/match", json=_body(batch, slice(0, 1)),
                       headers=headers).status_code == 200
    assert revoke_token(served.registry, "callcentre")
    assert client.post("/v1/match", json=_body(batch, slice(0, 1)),
                       headers=headers).status_code == 401
    assert not revoke_token(served.registry, "callcentre")


def test_a_party_cannot_change_another_partys_records(served, client) -> None:
    before = record_map(served.registry)
    crm = _encode(served, served.synth("crm.csv"), "crm")
    body = _body(crm, slice(0, 3))
    body["commit"] = True
    r = client.post("/v1/records", json=body, headers=_auth(served, "partner"))
    assert r.status_code == 200, r.text
    after = record_map(served.registry)
    # crm's rows are untouched: the records went in as the partner's (its own tokens)
    assert {k: v for k, v in after.items() if k[0] == "crm"} == \
        {k: v for k, v in before.items() if k[0] == "crm"}
    added = set(after) - set(before)
    assert {party for party, _ in added} <= {"partner"}
    # answers hold entity ids only, never another party's row tokens
    for a in r.json()["results"]:
        assert set(a) == {"ref", "entity_id", "status", "score", "candidates", "fields",
                          "tokens"}


def test_bad_payloads_get_4xx_without_values(served, client) -> None:
    batch = _encode(served, served.synth("crm.csv"), "crm")
    h = _auth(served, "crm")
    good = _body(batch, slice(0, 1))
    cases = [
        {**good, "schema_fingerprint": "sha256:00"},
        {**good, "secret_commitment": "nope"},
        {**good, "records": []},
        {**good, "records": [{**good["records"][0], "clk": "!!notbase64!!"}]},
        {**good, "records": [{**good["records"][0], "clk": "AAAA"}]},
        {**good, "records": [{**good["records"][0], "tokens": {"nosuch": "00" * 16}}]},
        {**good, "records": [{**good["records"][0], "present": ["nosuch"]}]},
        {**good, "records": [{**good["records"][0], "surname": "x"}]},
        {**good, "records": [good["records"][0]] * 101},
        {"records": "x"},
    ]
    for body in cases:
        r = client.post("/v1/match", json=body, headers=h)
        assert 400 <= r.status_code < 500, (r.status_code, r.text)
        assert "Traceback" not in r.text and good["records"][0]["clk"] not in r.text
    r = client.post("/v1/match", content=b"{not json", headers={**h, "content-type":
                                                                  "application/json"})
    assert 400 <= r.status_code < 500
    r = client.post("/v1/match", content=b"x" * (2 << 20), headers=h)
    assert r.status_code == 413
    no_token = dict(good, records=[{k: v for k, v in good["records"][0].items()
                                    if k != "row_token"}])
    r = client.post("/v1/records", json=no_token, headers=h)
    assert r.status_code == 422 and "row_token" in r.text
