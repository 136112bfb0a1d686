"""`hashmatch link --registry`, `registry log|show|stats` and `reveal` of the changes."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING

from typer.testing import CliRunner

from hashmatch.cli import app

if TYPE_CHECKING:
    from conftest import Months

runner = CliRunner()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_two_months_through_the_command_line(months: Months, tmp_path: Path) -> None:
    reg = str(tmp_path / "registry.db")
    out0, out1 = tmp_path / "m0", tmp_path / "m1"
    _ok("link", *map(str, months.month0), "-o", str(out0), "--registry", reg)
    text = _ok("link", *map(str, months.month1), "-o", str(out1), "--registry", reg)
    assert "run 2:" in text and "id changes" in text
    party = months.month1[0].name.split(".")[0]
    changes = list(csv.DictReader((out1 / f"{party}.changes.csv").open()))
    assert changes and list(changes[0]) == ["row_token", "previous_id", "new_id", "event",
                                            "run_id"]  # fmt: skip
    run_id = json.loads((out1 / "report.json").read_text())["run_id"]
    assert {c["run_id"] for c in changes} == {run_id}
    ids1 = {r["row_token"]: r["entity_id"] for r in csv.DictReader((out1 / f"{party}.csv").open())}
    ids0 = {r["row_token"]: r["entity_id"] for r in csv.DictReader((out0 / f"{party}.csv").open())}
    moved = {t for t in ids0.keys() & ids1.keys() if ids0[t] != ids1[t]}
    assert moved == {c["row_token"] for c in changes if c["previous_id"] and c["new_id"]}
    # reveal: record ids for the changes, with last month's lookup for removed records
    lookups = [m for m in (months.lookups1 + months.lookups0) if m.name.startswith(party)]
    _ok("reveal", str(out1 / f"{party}.changes.csv"), *sum((["--lookup", str(x)]
                                                            for x in lookups), []),
        "-o", str(tmp_path / "changes.csv"))
    revealed = list(csv.DictReader((tmp_path / "changes.csv").open()))
    assert len(revealed) == len(changes) and all(r["record_id"] for r in revealed)
    # the journal and an entity
    log = _ok("registry", "log", reg, "--since", "2", "--json")
    events = [json.loads(line) for line in log.splitlines()]
    assert events and all(e["run"] == 2 for e in events)
    eid = next(iter(ids1.values()))
    assert eid in _ok("registry", "show", reg, eid)
    assert eid in _ok("registry", "log", reg, "--entity", eid)
    stats = json.loads(_ok("registry", "stats", reg))
    assert [r["run"] for r in stats["runs"]] == [1, 2] and stats["rules"]["threshold"]
    with open(out1 / "relationships.csv", newline="") as fh:
        listed = list(csv.DictReader(fh))
    assert 0 < len(listed) <= stats["lookalike_record_pairs"]  # entity pairs, record pairs
    # a registry's errors are one line, exit 2
    bad = runner.invoke(app, ["registry", "show", reg, "Enot-an-id"])
    assert bad.exit_code == 2 and "no entity" in bad.output
    missing = runner.invoke(app, ["registry", "stats", str(tmp_path / "none.db")])
    assert missing.exit_code == 2 and "no registry" in missing.output
    # a results folder that is not empty is refused before the registry is touched
    again = runner.invoke(app, ["link", *map(str, months.month1), "-o", str(out1),
                                "--registry", reg])  # fmt: skip
    assert again.exit_code == 2 and "is not empty" in again.output
    assert [r["run"] for r in json.loads(_ok("registry", "stats", reg))["runs"]] == [1, 2]
