"""Several service processes over one registry (``hashmatch serve --workers N``): what
one commits, the others answer from at their next request (in place, from the workers'
commit log and the journal), a token issued or revoked elsewhere counts at once, and
another writer's run loads the index afresh."""

from __future__ import annotations

import os
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from hashmatch.registry import update
from hashmatch.service.app import create_app
from hashmatch.service.prefork import can_fork
from hashmatch.service.process import serving
from hashmatch.service.tokens import issue_token, revoke_token
from hashmatch.synth import synthesize

from .test_index_updates import _write
from .test_match import _body, _encode


def _copy(served: Any, tmp_path: Path) -> str:
    target = tmp_path / "registry.db"
    with sqlite3.connect(served.registry) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return str(target)


@contextmanager
def _workers(registry: str, shared: Path, n: int = 2) -> Iterator[list[TestClient]]:
    """``n`` apps as the workers of one service would run (one folder between them)."""
    shared.mkdir(mode=0o700)
    with ExitStack() as stack:
        yield [stack.enter_context(TestClient(create_app(registry, shared=str(shared))))
               for _ in range(n)]


def _ids(client: TestClient, body: dict[str, Any], token: str) -> list[str | None]:
    r = client.post("/v1/match", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return [a["entity_id"] for a in r.json()["results"]]


def test_a_commit_through_one_worker_is_answered_by_the_other(served, tmp_path) -> None:
    registry = _copy(served, tmp_path)
    synthesize(tmp_path / "new", entities=12, seed=5151)
    crm = _encode(served, tmp_path / "new" / "crm.csv", "crm")
    partner = _encode(served, tmp_path / "new" / "partner.csv", "partner")
    token = served.tokens["crm"]
    auth = {"Authorization": f"Bearer {token}"}
    with _workers(registry, tmp_path / "shared") as (a, b):
        index_b = b.app.state.service.index  # type: ignore[attr-defined]
        before = _ids(b, _body(crm, slice(0, 6)), token)
        assert before == [None] * 6  # new people
        r = a.post("/v1/records", json=_body(crm, slice(0, 6)), headers=auth)
        assert r.status_code == 200, r.text
        committed = [x["entity_id"] for x in r.json()["results"]]
        assert all(committed)
        # b learns of a's commit at its next request, in place (no reload)
        assert _ids(b, _body(crm, slice(0, 6)), token) == committed
        assert b.app.state.service.index is index_b  # type: ignore[attr-defined]
        assert index_b.run == a.app.state.service.index.run  # type: ignore[attr-defined]
        # and commits through both, interleaved, leave both answering alike
        r = b.post("/v1/records", json=_body(partner, slice(0, 6)),
                   headers={"Authorization": f"Bearer {served.tokens['partner']}"})
        assert r.status_code == 200, r.text
        r = a.post("/v1/records", json=_body(crm, slice(6, 9)), headers=auth)
        assert r.status_code == 200, r.text
        body = _body(crm, slice(0, 12))
        assert _ids(a, body, token) == _ids(b, body, token)
        ia, ib = (c.app.state.service.index for c in (a, b))  # type: ignore[attr-defined]
        assert ia.match(crm, "crm") == ib.match(crm, "crm")

        # another writer's run (a batch run): the index is loaded afresh
        path = tmp_path / "partner-more.hme"
        _write(partner, slice(6, 12), path)
        update(registry, [path], delta=True)
        _ids(b, body, token)
        assert b.app.state.service.index is not index_b  # type: ignore[attr-defined]
        assert b.app.state.service.index.run == ia.run + 1  # type: ignore[attr-defined]


def test_a_token_issued_or_revoked_elsewhere_counts_at_the_next_request(served,
                                                                         tmp_path) -> None:
    registry = _copy(served, tmp_path)
    crm = _encode(served, served.synth("crm.csv"), "crm")
    body = _body(crm, slice(0, 1))
    with _workers(registry, tmp_path / "shared", n=1) as (a,):
        token = issue_token(registry, "catalogue")
        headers = {"Authorization": f"Bearer {token}"}
        assert a.post("/v1/match", json=body, headers=headers).status_code == 200
        assert revoke_token(registry, "catalogue")
        assert a.post("/v1/match", json=body, headers=headers).status_code == 401


def test_serve_with_two_workers_answers_what_either_committed(served, tmp_path) -> None:
    registry = _copy(served, tmp_path)
    synthesize(tmp_path / "new", entities=6, seed=6262)
    crm = _encode(served, tmp_path / "new" / "crm.csv", "crm")
    auth = {"Authorization": f"Bearer {served.tokens['crm']}"}
    with serving(registry, workers=2) as url:
        r = httpx.post(url + "/v1/records", json=_body(crm, slice(0, 3)), headers=auth)
        assert r.status_code == 200, r.text
        ids = [x["entity_id"] for x in r.json()["results"]]
        # fresh connections land on either worker: every one answers with the ids
        for _ in range(8):
            with httpx.Client(base_url=url, headers=auth) as c:
                got = c.post("/v1/match", json=_body(crm, slice(0, 3)))
                assert got.status_code == 200, got.text
                assert [x["entity_id"] for x in got.json()["results"]] == ids


def test_an_index_loaded_before_a_run_is_not_served(served, tmp_path) -> None:
    """A worker forked with the index of the registry as it was (``create_app(index=)``)
    loads it afresh when a run came in between, and serves it as is otherwise."""
    from hashmatch.registry.store import open_store
    from hashmatch.service.index import RegistryIndex

    registry = _copy(served, tmp_path)
    with open_store(registry) as store:
        before = RegistryIndex.load(store)
    with TestClient(create_app(registry, index=before)) as c:
        assert c.app.state.service.index is before  # type: ignore[attr-defined]
    synthesize(tmp_path / "new", entities=6, seed=7373)
    crm = _encode(served, tmp_path / "new" / "crm.csv", "crm")
    auth = {"Authorization": f"Bearer {served.tokens['crm']}"}
    with TestClient(create_app(registry)) as c:
        r = c.post("/v1/records", json=_body(crm, slice(0, 3)), headers=auth)
        assert r.status_code == 200, r.text
        ids = [x["entity_id"] for x in r.json()["results"]]
    with TestClient(create_app(registry, index=before)) as c:
        index = c.app.state.service.index  # type: ignore[attr-defined]
        assert index is not before and index.run == before.run + 1
        assert _ids(c, _body(crm, slice(0, 3)), served.tokens["crm"]) == ids


@pytest.mark.skipif(not can_fork(), reason="workers are forked on Linux only")
def test_a_worker_that_dies_stops_the_service(served, tmp_path) -> None:
    """Forked workers share one load; one ending on its own ends the service (status 1),
    for the process manager to restart it whole."""
    registry = _copy(served, tmp_path)
    with serving(registry, workers=2) as url:
        port = url.rsplit(":", 1)[1]
        parent = next(int(p) for p in os.listdir("/proc") if p.isdigit() and _serves(p, port))
        children = [int(c) for c in Path(f"/proc/{parent}/task/{parent}/children")
                    .read_text().split()]
        assert len(children) == 2
        os.kill(children[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while Path(f"/proc/{parent}").exists() and time.monotonic() < deadline:
            status = Path(f"/proc/{parent}/stat").read_text().rsplit(")", 1)[1].split()[0]
            if status == "Z":  # ended, not yet reaped by serving()
                break
            time.sleep(0.1)
        else:
            pytest.fail("the service outlived its worker")
        assert not Path(f"/proc/{children[1]}").exists()  # the other stopped, and reaped


def _serves(pid: str, port: str) -> bool:
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"serve" in cmd and port.encode() in cmd
