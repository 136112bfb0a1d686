"""Rebuild this folder's layout-2 registry fixture, or that of a later layout (the
layout-3 one in ``tests/data/registry_v3``); run with a hashmatch that writes that layout
on the path (e.g. ``PYTHONPATH=/path/to/old/src``):

    python tests/data/registry_v2/make_fixture.py tests/data/registry_v2
    python tests/data/registry_v2/make_fixture.py tests/data/registry_v3 3

Takes the month-0 and month-1 snapshots of ``tests/data/registry_v1`` (300 people, 4
parties), builds ``registry_vN.db`` from month 0 and records in ``month1_by_vN.json`` the
record -> entity map and events of month 1 linked into a copy.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

from hashmatch.registry import record_map, update

SNAPSHOTS = Path(__file__).resolve().parent.parent / "registry_v1"


def main(out: Path, layout: int = 2) -> None:
    out.mkdir(parents=True, exist_ok=True)
    registry = out / f"registry_v{layout}.db"
    registry.unlink(missing_ok=True)
    update(str(registry), sorted(SNAPSHOTS.glob("*.month0.hme")))
    conn = sqlite3.connect(registry)
    conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
    conn.execute("VACUUM")
    conn.close()
    with tempfile.TemporaryDirectory() as tmp:
        after = Path(tmp) / "after.db"
        shutil.copyfile(registry, after)
        result = update(str(after), sorted(SNAPSHOTS.glob("*.month1.hme")))
        records = sorted([p, t.hex(), e] for (p, t), e in record_map(str(after)).items())
    doc = {"events": dict(sorted(result.events.items())), "records": records}
    (out / f"month1_by_v{layout}.json").write_text(json.dumps(doc, indent=0) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 2)
