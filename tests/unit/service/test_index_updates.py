"""A commit updates the service's index in place, and the index then answers exactly as
one loaded afresh from the registry would: new records, re-encoded ones (their earlier
encoding dead), entity ids moved by the run, the merge of the two parts, and another
writer's run in between (then the index is loaded afresh)."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from hashmatch.encode import encode_records
from hashmatch.registry import update
from hashmatch.registry.store import open_store
from hashmatch.service import index as index_module
from hashmatch.service.index import RegistryIndex
from hashmatch.service.payload import encode_rows
from hashmatch.synth import synthesize


def _copy(served: Any, tmp_path: Path) -> str:
    """A private copy of the session's registry (commits here touch no other test)."""
    target = tmp_path / "registry.db"
    with sqlite3.connect(served.registry) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return str(target)


def _encode(served: Any, source: Path, party: str) -> Any:
    return encode_records(source, schema=served.synth("schema.toml"), secret=served.secret,
                          party=party, mapping=served.synth(f"{party}.mapping.toml"),
                          row_key=served.rowkey(party))


def _body(batch: Any, rows: slice) -> dict[str, Any]:
    h = batch.header
    return {"schema_fingerprint": h.schema_fingerprint, "secret_commitment": h.secret_commitment,
            "records": encode_rows(batch.clks[rows], {k: v[rows] for k, v in batch.tokens.items()},
                                   batch.present[rows], batch.row_tokens[rows], h.field_names)}


def _without_tokens(batch: Any) -> Any:
    return SimpleNamespace(clks=batch.clks, tokens=batch.tokens, present=batch.present,
                           row_tokens=np.zeros_like(batch.row_tokens))


def _same_as_a_fresh_load(index: RegistryIndex, registry: str, queries: list[tuple[Any, str]]
                          ) -> None:
    with open_store(registry) as store:
        fresh = RegistryIndex.load(store)
    assert index.size == fresh.size
    for batch, party in queries:
        assert index.match(batch, party) == fresh.match(batch, party)
        # the compiled route over the updated parts answers as the numpy route does
        assert index.match(batch, party) == index.match_reference(batch, party)


def _changed_copy(served: Any, tmp_path: Path, rows: int) -> Path:
    """The first ``rows`` records of the crm's file with a new e-mail (same record ids)."""
    with served.synth("crm.csv").open(newline="") as fh:
        table = list(csv.DictReader(fh))[:rows]
    for row in table:
        row["email"] = "moved." + row["email"]
    out = tmp_path / "crm-changed.csv"
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    return out


def test_commits_update_the_index_as_a_fresh_load_would(served, tmp_path, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    from hashmatch.service.app import create_app

    registry = _copy(served, tmp_path)
    synthesize(tmp_path / "new", entities=30, seed=8080)
    known = _encode(served, served.synth("crm.csv"), "crm")
    new_crm = _encode(served, tmp_path / "new" / "crm.csv", "crm")
    new_partner = _encode(served, tmp_path / "new" / "partner.csv", "partner")
    changed = _encode(served, _changed_copy(served, tmp_path, 6), "crm")
    queries = [(known, "crm"), (_without_tokens(known), "crm"), (new_crm, "crm"),
               (_without_tokens(new_partner), "partner"), (changed, "crm")]
    auth = {p: {"Authorization": f"Bearer {t}"} for p, t in served.tokens.items()}
    with TestClient(create_app(registry)) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        loaded = service.index

        def commit(batch: Any, rows: slice, party: str) -> None:
            r = client.post("/v1/records", json=_body(batch, rows), headers=auth[party])
            assert r.status_code == 200, r.text

        commit(new_crm, slice(0, 8), "crm")  # new records
        assert service.index is loaded and len(loaded.parts) == 2  # updated, not reloaded
        _same_as_a_fresh_load(service.index, registry, queries)
        commit(new_partner, slice(0, 8), "partner")  # the same people seen by another party
        commit(changed, slice(0, 6), "crm")  # re-encoded records: the old encodings go
        assert service.index is loaded and not service.index.live.all()
        _same_as_a_fresh_load(service.index, registry, queries)

        monkeypatch.setattr(index_module, "MERGE_AT", 1)
        commit(new_crm, slice(8, 12), "crm")  # the parts are merged
        assert service.index is loaded and len(service.index.parts) == 1
        assert service.index.live.all()
        _same_as_a_fresh_load(service.index, registry, queries)

        # another writer's run in between: the next commit loads the index afresh
        path = tmp_path / "partner-more.hme"
        _write(new_partner, slice(8, 12), path)
        update(registry, [path], delta=True)
        commit(new_crm, slice(12, 14), "crm")
        assert service.index is not loaded
        _same_as_a_fresh_load(service.index, registry, queries)


def _write(batch: Any, rows: slice, path: Path) -> None:
    from hashmatch.encfile import EncodingWriter

    h = batch.header
    with EncodingWriter(path, party=h.party, schema_fingerprint=h.schema_fingerprint,
                        clk_bits=h.clk_bits, segments=h.segments, token_names=h.token_names,
                        field_names=h.field_names, secret_commitment=h.secret_commitment,
                        encoder_version=h.encoder_version,
                        extra=json.loads(json.dumps(h.to_dict()["extra"]))) as w:
        w.append(batch.clks[rows], {k: v[rows] for k, v in batch.tokens.items()},
                 batch.present[rows], batch.row_tokens[rows])


@pytest.mark.parametrize("rows", [0, 1])
def test_an_empty_or_unchanged_commit_keeps_the_index(served, tmp_path, rows: int) -> None:
    from fastapi.testclient import TestClient

    from hashmatch.service.app import create_app

    registry = _copy(served, tmp_path)
    known = _encode(served, served.synth("crm.csv"), "crm")
    with TestClient(create_app(registry)) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        loaded = service.index
        if rows:
            r = client.post("/v1/records", json=_body(known, slice(0, 3)),
                            headers={"Authorization": f"Bearer {served.tokens['crm']}"})
            assert r.status_code == 200 and r.json()["unchanged"] == 3
        assert service.index is loaded and len(loaded.parts) == 1
        _same_as_a_fresh_load(service.index, registry, [(known, "crm")])


@pytest.mark.parametrize("gap", [1, 10_000_000])
def test_rows_of_finds_each_record_number_dense_or_sparse(gap: int) -> None:
    """Key rows by record number: the table route (dense numbers) and the binary search
    (sparse ones) give the same positions."""
    rng = np.random.default_rng(gap)
    rids = np.sort(rng.choice(50_000, size=5_000, replace=False)).astype(np.int64) * gap + 1
    wanted_at = rng.integers(0, len(rids), size=20_000)
    assert np.array_equal(index_module._rows_of(rids, rids[wanted_at]), wanted_at)
