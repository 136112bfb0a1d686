"""End to end over a real socket: `hashmatch serve` on uvicorn, `hashmatch lookup` and
``hm.Client`` against it, `registry token` on the command line."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import hashmatch as hm
from hashmatch.cli import app
from hashmatch.registry import record_map
from hashmatch.service.process import serving

from .test_match import _encode


@pytest.fixture(scope="module")
def server(served) -> Iterator[str]:
    with serving(served.registry) as url:
        yield url


def test_cli_token_lookup_and_python_client(served, server, tmp_path: Path) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["registry", "token", "catalogue", "--registry", served.registry])
    assert r.exit_code == 0, r.output
    token_file = tmp_path / "catalogue.token"
    token_file.write_text(r.stdout.strip() + "\n")
    out = tmp_path / "matches.csv"
    r = runner.invoke(app, [
        "lookup", str(served.synth("catalogue.csv")), "--server", server,
        "--token-file", str(token_file), "--schema", str(served.synth("schema.toml")),
        "--secret", str(served.secret), "--party", "catalogue",
        "--mapping", str(served.synth("catalogue.mapping.toml")),
        "--row-key", str(served.rowkey("catalogue")), "-o", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open()))
    assert rows and set(rows[0]) == {"record_id", "entity_id", "score", "status"}
    batch = _encode(served, served.synth("catalogue.csv"), "catalogue")
    stored = {tok: eid for (party, tok), eid in record_map(served.registry).items()
              if party == "catalogue"}
    by_id = {rid: stored[bytes(t)] for rid, t in zip(batch.record_ids, batch.row_tokens,
                                                     strict=True)}
    same = sum(row["entity_id"] == by_id.get(row["record_id"]) for row in rows)
    assert same >= 0.995 * len(rows)

    with hm.Client(server, token_file.read_text()) as client:
        answers = client.match(batch)
        assert [a["entity_id"] for a in answers] == [row["entity_id"] or None for row in rows]
    with hm.Client(server, "hm_catalogue_" + "0" * 64) as client, pytest.raises(
            hm.HashmatchError, match="401"):
        client.match(batch)


def test_a_port_taken_between_the_choice_and_the_bind_is_chosen_again(
    served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``free_port`` can only say a port was free a moment ago: when another process
    binds it first (a parallel test), the service starts again on another one."""
    import socket

    from hashmatch.service import process

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = iter([busy, process.free_port()])
        monkeypatch.setattr(process, "free_port", lambda: next(ports))
        with serving(served.registry) as url:
            assert not url.endswith(f":{busy}")
            assert httpx.get(url + "/health", timeout=5).status_code == 200
