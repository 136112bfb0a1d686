"""What one service process must learn of the registry's writes by others.

Several processes may serve one registry (``hashmatch serve --workers N``, or separate
services): each holds its own in-memory index and its own cached table of live API tokens.
Before every authenticated request a process asks the registry whether anyone else wrote
to it (:func:`data_version`: SQLite's ``PRAGMA data_version``, a counter read without
touching a table; on PostgreSQL every request reads again). When so, it reads the token
table again (an issued or revoked token counts from that request on) and, when runs
newer than its index exist, catches up:

* a run committed by a sibling worker is applied in place, as the sibling applied it
  (:meth:`RegistryIndex.committed
  <hashmatch.service.index.RegistryIndex.committed>`): the records and row tokens the
  sibling committed come from the workers' :class:`CommitLog`, the entity ids the run
  changed from the registry's journal;
* any other run (a batch run, another service) loads the index afresh, as a commit after
  such a run always did.

The log lives in a private folder the supervisor makes for its workers (mode 0700); it
holds row tokens, which the registry stores anyway, and nothing else of a record.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

from hashmatch.registry.store import SqliteStore, Store
from hashmatch.registry.update import Change, RunResult

__all__ = ["CommitLog", "data_version", "journalled_run"]

_FILE = "commits.jsonl"


def data_version(store: Store) -> int | None:
    """A number that changes when another connection commits to the registry (SQLite);
    None where no such counter exists (read everything again)."""
    if isinstance(store, SqliteStore):
        return int(store.scalar("PRAGMA data_version"))
    return None


def journalled_run(store: Store, run: int) -> RunResult:
    """Run ``run``'s changes of entity id per record, as its :class:`RunResult` listed
    them (the journal holds one event per such change, with party and row token)."""
    changes = []
    for event, entity, other, party, token in store.query(
            "SELECT event, entity, other, party, row_token FROM journal "
            "WHERE run = ? AND row_token IS NOT NULL ORDER BY seq", [run]):
        if event == "record_removed":
            changes.append(Change(str(party), bytes(token), str(entity), None, event))
        else:  # record_added (no earlier entity) or record_moved (from `other`)
            changes.append(Change(str(party), bytes(token), None if other is None
                                  else str(other), str(entity), event))
    return RunResult(run=run, registry=store.url, parties={}, changes=changes)


class CommitLog:
    """The commits of the workers of one service, for their siblings: one JSON line a
    commit, ``{"run", "party", "row_tokens"}`` (hex), appended under a file lock."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.path = Path(folder) / _FILE
        self._offset = 0
        self._runs: dict[int, tuple[str, list[bytes]]] = {}

    def record(self, run: int, party: str, row_tokens: list[bytes]) -> None:
        line = json.dumps({"run": run, "party": party,
                           "row_tokens": [t.hex() for t in row_tokens]}) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line.encode())
        finally:
            os.close(fd)  # closing releases the lock

    def committed(self, run: int, wait: float = 2.0) -> tuple[str, list[bytes]] | None:
        """``(party, row_tokens)`` of a sibling's commit ``run``, or None when no worker
        committed it. A sibling writes its line just after its run ends, so a run not yet
        logged is waited for a moment before it is taken for another writer's."""
        deadline = time.monotonic() + wait
        while True:
            self._read()
            if run in self._runs or time.monotonic() > deadline:
                for done in [r for r in self._runs if r < run]:  # held by the index already
                    del self._runs[done]
                return self._runs.pop(run, None)
            time.sleep(0.01)

    def _read(self) -> None:
        try:
            with self.path.open("rb") as fh:
                fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return
        self._offset += len(data)
        for line in data.splitlines():
            entry: dict[str, Any] = json.loads(line)
            self._runs[int(entry["run"])] = (str(entry["party"]),
                                             [bytes.fromhex(t) for t in entry["row_tokens"]])
