"""A run is one transaction: a crash or a kill at any stage leaves the registry as it was;
a second run at once waits or is refused; foreign and newer registries are refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from hashmatch.errors import RegistryBusyError, RegistryError
from hashmatch.registry import update
from hashmatch.registry.migrations import SCHEMA_VERSION, set_meta
from hashmatch.registry.models import load_model, store_model
from hashmatch.registry.store import open_store

if TYPE_CHECKING:
    from conftest import Months

STAGES = ["diffed", "forgotten", "scored", "clustered", "written"]
SRC = Path(__file__).resolve().parents[3] / "src"


def _content(url: str) -> dict[str, list[tuple[object, ...]]]:
    """Everything a run may change, table by table (bytes as hex for comparing)."""
    with open_store(url) as store, store.read_transaction():
        out = {}
        for table, order in [("records", "rid"), ("entities", "entity"), ("journal", "seq"),
                             ("edges", "lo, hi"),
                             ("index_segments", "party_id, segment, part"),
                             ("registry_meta", "key"), ("runs", "run"), ("parties", "party_id")]:
            rows = store.query(f"SELECT * FROM {table} ORDER BY {order}")
            out[table] = [tuple(bytes(v).hex() if isinstance(v, bytes | memoryview) else v
                                for v in row) for row in rows]
        return out


class Crash(Exception):
    pass


@pytest.mark.parametrize("stage", STAGES)
def test_a_crash_at_any_stage_leaves_the_registry_as_it_was(
        registry_url: str, months: Months, stage: str) -> None:
    update(registry_url, months.month0)
    before = _content(registry_url)

    def fault(at: str) -> None:
        if at == stage:
            raise Crash(at)

    with pytest.raises(Crash):
        update(registry_url, months.month1, fault=fault)
    assert _content(registry_url) == before
    done = update(registry_url, months.month1)  # and the run then goes through
    assert done.events["record_added"] > 0


def test_a_crash_in_the_first_run_leaves_an_empty_registry(registry_url: str,
                                                           months: Months) -> None:
    def fault(at: str) -> None:
        if at == "written":
            raise Crash(at)

    with pytest.raises(Crash):
        update(registry_url, months.month0, fault=fault)
    with open_store(registry_url) as store, store.read_transaction():
        assert not store.has_table("records")


@pytest.mark.parametrize("stage", ["scored", "written"])
def test_a_killed_run_leaves_the_registry_as_it_was(registry_url: str, months: Months,
                                                    stage: str) -> None:
    update(registry_url, months.month0)
    before = _content(registry_url)
    script = textwrap.dedent(f"""
        import os, signal, sys
        from hashmatch.registry import update
        def fault(at):
            if at == {stage!r}:
                os.kill(os.getpid(), signal.SIGKILL)
        update(sys.argv[1], sys.argv[2:], fault=fault)
    """)
    proc = subprocess.run([sys.executable, "-c", script, registry_url,
                           *map(str, months.month1)], env={**os.environ, "PYTHONPATH": str(SRC)},
                          capture_output=True, timeout=300, check=False)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert _content(registry_url) == before


def test_a_second_run_at_once_waits_then_is_refused_clearly(registry_url: str,
                                                            months: Months) -> None:
    update(registry_url, months.month0[:1])
    holding, release = threading.Event(), threading.Event()

    def hold(at: str) -> None:
        if at == "diffed":
            holding.set()
            release.wait(60)

    first = threading.Thread(target=update, args=(registry_url, months.month0),
                             kwargs={"fault": hold})
    first.start()
    try:
        assert holding.wait(60)
        with pytest.raises(RegistryBusyError, match="another run is updating"):
            update(registry_url, months.month0, wait=0.5)
    finally:
        release.set()
        first.join(120)
    assert update(registry_url, months.month0).events == {}  # the first run did the work


def test_newer_and_foreign_registries_are_refused(registry_url: str, months: Months,
                                                  tmp_path: Path) -> None:
    update(registry_url, months.month0[:1])
    with open_store(registry_url) as store, store.run_transaction(5):
        set_meta(store, "schema_version", str(SCHEMA_VERSION + 1))
    with pytest.raises(RegistryError, match="newer than this hashmatch"):
        update(registry_url, months.month0[:1])
    foreign = tmp_path / "other.db"
    foreign.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(RegistryError, match="not a registry|cannot be opened"):
        update(str(foreign), months.month0[:1])


def test_the_scoring_model_slot_keeps_versions_per_party_pair(registry_url: str,
                                                              months: Months) -> None:
    update(registry_url, months.month0[:1])
    with open_store(registry_url) as store:
        with store.run_transaction(5):
            assert store_model(store, "crm", "partner", {"m": [0.9, 0.1]}) == 1
            assert store_model(store, "partner", "crm", {"m": [0.8, 0.2]}) == 2
        with store.read_transaction():
            assert load_model(store, "crm", "partner") == (2, {"m": [0.8, 0.2]})
            assert load_model(store, "partner", "crm", 1) == (1, {"m": [0.9, 0.1]})
            assert load_model(store, "crm", "crm") is None
