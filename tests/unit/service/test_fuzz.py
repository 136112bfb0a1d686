"""Random payloads never get a 5xx (a bounded fuzz run; schemathesis is not a dependency
yet, so hypothesis mutates valid requests and throws arbitrary JSON at every route)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .test_match import _auth, _body, _encode

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)  # what a JSON client can send
    | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=12,
)


def test_fuzzed_requests_get_no_5xx(served, client) -> None:
    good = _body(_encode(served, served.synth("crm.csv"), "crm"), slice(0, 1))
    record = good["records"][0]
    headers = _auth(served, "crm")

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(route=st.sampled_from(["/v1/match", "/v1/records", "/health", "/openapi.json"]),
           key=st.sampled_from([*record, "extra"]), value=_json,
           top=st.sampled_from([*good, "commit", None]), whole=_json)
    def run(route: str, key: str, value: Any, top: str | None, whole: Any) -> None:
        body: Any = {**good, "records": [{**record, key: value}]}
        if top is not None:
            body[top] = value
        if route == "/v1/records":
            body["commit"] = False  # the shared registry stays as the other tests expect
        for payload in (body, whole):
            r = (client.get(route) if route in ("/health", "/openapi.json")
                 else client.post(route, json=payload, headers=headers))
            assert r.status_code < 500, (route, r.status_code, r.text[:300])

    run()


def test_the_document_states_the_match_body(client) -> None:
    """/v1/match reads its body itself; the document still names its schema."""
    doc = client.get("/openapi.json").json()
    ref = doc["paths"]["/v1/match"]["post"]["requestBody"]["content"]["application/json"]
    name = ref["schema"]["$ref"].rsplit("/", 1)[1]
    schema = doc["components"]["schemas"][name]
    assert set(schema["required"]) >= {"schema_fingerprint", "secret_commitment", "records"}
    inner = schema["properties"]["records"]["items"]["$ref"].rsplit("/", 1)[1]
    assert "clk" in doc["components"]["schemas"][inner]["properties"]
